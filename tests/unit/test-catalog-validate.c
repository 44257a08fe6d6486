/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "catalog-validate.h"

/*
 * Every bad input is its own named case in the table below: a valid base
 * document, one edit (set a JSON value at a path, or delete it), and the
 * field the refusal must name. The suite is built from the table at run
 * time, so each refusal shows up as a separate test.
 */

static const char base_libvirt[] =
        "{"
        " \"id\": \"ecs-test\", \"name\": \"test-vm\","
        " \"display_name\": \"通用型云服务器\", \"category\": \"IaaS\","
        " \"driver\": \"libvirt\", \"description\": \"测试用\","
        " \"secure_controllable\": false, \"max_protection_level\": 3,"
        " \"bindable\": false,"
        " \"plans\": ["
        "  {\"id\": \"small\", \"name\": \"s-2c4g\", \"display_name\": \"2核4GB\","
        "   \"description\": \"小\","
        "   \"spec\": {\"vcpus\": 2, \"memory_mib\": 4096, \"disk_gib\": 40},"
        "   \"price\": {\"amount_fen\": 35, \"unit\": \"hour\"}},"
        "  {\"id\": \"large\", \"name\": \"l-8c16g\", \"display_name\": \"8核16GB\","
        "   \"description\": \"大\","
        "   \"spec\": {\"kind\": \"vm\", \"vcpus\": 8, \"memory_mib\": 16384,"
        "            \"disk_gib\": 100, \"arch\": \"aarch64\", \"provider\": \"kp-1\","
        "            \"network\": \"gov\", \"os_image\": \"kylin-v10\"},"
        "   \"price\": {\"amount_fen\": 140, \"unit\": \"hour\"}}"
        " ]"
        "}";

static const char base_http[] = "{"
                                " \"id\": \"rds-test\", \"name\": \"db\","
                                " \"display_name\": \"数据库\", \"category\": \"PaaS\","
                                " \"driver\": \"http\", \"description\": \"\","
                                " \"secure_controllable\": true, \"max_protection_level\": 2,"
                                " \"bindable\": true, \"tags\": [\"数据库\", \"db\"],"
                                " \"plans\": ["
                                "  {\"id\": \"basic\", \"name\": \"basic\", \"display_name\": \"基础版\","
                                "   \"description\": \"\","
                                "   \"spec\": {\"provider\": \"paas-1\", \"remote_service_id\": \"x\","
                                "            \"remote_plan_id\": \"y\", \"quotas\": {\"users\": 10}},"
                                "   \"price\": {\"amount_fen\": 100000, \"unit\": \"month\"}}"
                                " ]"
                                "}";

typedef struct BadCase {
        const char *name;
        const char *base;  /* NULL: the document is `value` itself */
        const char *path;  /* where to edit, e.g. "plans[1].price.unit" */
        const char *value; /* JSON text to put there; NULL deletes */
        const char *field; /* what err->field must be */
        const char *msg;   /* a substring the message must contain, or NULL */
} BadCase;

#define L base_libvirt
#define H base_http

static const BadCase bad_cases[] = {
        /* every required field missing */
        { "missing id", L, "id", NULL, "id", "is required" },
        { "missing name", L, "name", NULL, "name", "is required" },
        { "missing display_name", L, "display_name", NULL, "display_name", "is required" },
        { "missing category", L, "category", NULL, "category", "is required" },
        { "missing driver", L, "driver", NULL, "driver", "is required" },
        { "missing description", L, "description", NULL, "description", "is required" },
        { "missing secure_controllable", L, "secure_controllable", NULL, "secure_controllable",
          "is required" },
        { "missing max_protection_level", L, "max_protection_level", NULL, "max_protection_level", NULL },
        { "missing bindable", L, "bindable", NULL, "bindable", "is required" },
        { "missing plans", L, "plans", NULL, "plans", "is required" },
        { "missing plan id", L, "plans[0].id", NULL, "plans[0].id", "is required" },
        { "missing plan name", L, "plans[1].name", NULL, "plans[1].name", "is required" },
        { "missing plan display_name", L, "plans[0].display_name", NULL, "plans[0].display_name", NULL },
        { "missing plan description", L, "plans[0].description", NULL, "plans[0].description", NULL },
        { "missing plan spec", L, "plans[0].spec", NULL, "plans[0].spec", "is required" },
        { "missing plan price", L, "plans[1].price", NULL, "plans[1].price", "is required" },
        { "missing price amount", L, "plans[0].price.amount_fen", NULL, "plans[0].price.amount_fen", NULL },
        { "missing price unit", L, "plans[0].price.unit", NULL, "plans[0].price.unit", "is required" },
        { "libvirt spec missing vcpus", L, "plans[0].spec.vcpus", NULL, "plans[0].spec.vcpus",
          "is required" },
        { "libvirt spec missing memory", L, "plans[1].spec.memory_mib", NULL, "plans[1].spec.memory_mib",
          NULL },
        { "libvirt spec missing disk", L, "plans[0].spec.disk_gib", NULL, "plans[0].spec.disk_gib", NULL },
        { "volume missing size", L, "plans[0].spec", "{\"kind\": \"volume\"}", "plans[0].spec.size_gib",
          "is required" },

        /* wrong JSON types */
        { "id is a number", L, "id", "42", "id", "must be a string" },
        { "display_name is an array", L, "display_name", "[\"x\"]", "display_name", "must be a string" },
        { "description is null", L, "description", "null", "description", "must be a string" },
        { "category is a number", L, "category", "1", "category", "must be a string" },
        { "secure_controllable is a string", L, "secure_controllable", "\"yes\"", "secure_controllable",
          "must be true or false" },
        { "bindable is 1", L, "bindable", "1", "bindable", "must be true or false" },
        { "protection level is true", L, "max_protection_level", "true", "max_protection_level",
          "must be an integer" },
        { "protection level is 2.0", L, "max_protection_level", "2.0", "max_protection_level",
          "must be an integer" },
        { "protection level is a string", L, "max_protection_level", "\"3\"", "max_protection_level",
          "must be an integer" },
        { "tags is a string", L, "tags", "\"vm\"", "tags", "must be an array" },
        { "tags is null", L, "tags", "null", "tags", "must be an array" },
        { "tag is a number", H, "tags[1]", "7", "tags[1]", "must be a string" },
        { "plans is an object", L, "plans", "{}", "plans", "must be an array" },
        { "plan is a string", L, "plans[1]", "\"large\"", "plans[1]", "must be an object" },
        { "spec is an array", L, "plans[0].spec", "[]", "plans[0].spec", "must be an object" },
        { "http spec is a string", H, "plans[0].spec", "\"x\"", "plans[0].spec", "must be an object" },
        { "price is a number", L, "plans[0].price", "35", "plans[0].price", "must be an object" },
        { "vcpus is true", L, "plans[0].spec.vcpus", "true", "plans[0].spec.vcpus", "must be an integer" },
        { "vcpus is a string", L, "plans[0].spec.vcpus", "\"2\"", "plans[0].spec.vcpus",
          "must be an integer" },
        { "memory is a real", L, "plans[1].spec.memory_mib", "4096.0", "plans[1].spec.memory_mib",
          "must be an integer" },
        { "float price", L, "plans[0].price.amount_fen", "35.5", "plans[0].price.amount_fen",
          "must be an integer" },
        { "integral float price", L, "plans[1].price.amount_fen", "140.0", "plans[1].price.amount_fen",
          "must be an integer" },
        { "price amount is a string", L, "plans[0].price.amount_fen", "\"35\"", "plans[0].price.amount_fen",
          "must be an integer" },
        { "quota is a string", H, "plans[0].spec.quotas.users", "\"10\"", "plans[0].spec.quotas.users",
          "must be an integer" },
        { "quotas is an array", H, "plans[0].spec.quotas", "[1]", "plans[0].spec.quotas",
          "must be an object" },
        { "remote_plan_id is a number", H, "plans[0].spec.remote_plan_id", "5",
          "plans[0].spec.remote_plan_id", "must be a string" },
        { "os_image is a number", L, "plans[1].spec.os_image", "1", "plans[1].spec.os_image",
          "must be a string" },

        /* unknown fields at every level */
        { "unknown top-level field", L, "owner", "\"me\"", "owner", "is an unknown field in a service" },
        { "unknown plan field", L, "plans[1].sku", "\"x\"", "plans[1].sku", "is an unknown field in a plan" },
        { "unknown libvirt spec field", L, "plans[0].spec.gpu", "1", "plans[0].spec.gpu", "unknown field" },
        { "misspelt vcpu", L, "plans[0].spec", "{\"vcpu\": 2, \"memory_mib\": 4096, \"disk_gib\": 40}",
          "plans[0].spec.vcpu", "unknown field" },
        { "unknown price field", L, "plans[0].price.currency", "\"CNY\"", "plans[0].price.currency",
          "is an unknown field in a price" },
        { "unknown http spec field", H, "plans[0].spec.vcpus", "2", "plans[0].spec.vcpus",
          "is an unknown field in a http spec" },
        { "vm field in a volume", L, "plans[0].spec",
          "{\"kind\": \"volume\", \"size_gib\": 10, \"vcpus\": 2}", "plans[0].spec.vcpus",
          "is an unknown field in a libvirt volume spec" },
        { "volume field in a vm", L, "plans[0].spec.size_gib", "10", "plans[0].spec.size_gib",
          "is an unknown field in a libvirt vm spec" },

        /* ids and names */
        { "id with capitals", L, "id", "\"ECS-test\"", "id", "must match ^[a-z0-9-]+$" },
        { "id with underscore", L, "id", "\"ecs_test\"", "id", "must match ^[a-z0-9-]+$" },
        { "id with space", L, "id", "\"ecs test\"", "id", "must match" },
        { "empty id", L, "id", "\"\"", "id", "must match" },
        { "too long id", L, "id", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
          "id", "at most 63" },
        { "bad service name", L, "name", "\"测试\"", "name", "must match" },
        { "bad plan id", L, "plans[0].id", "\"Small\"", "plans[0].id", "must match" },
        { "bad plan name", L, "plans[1].name", "\"l.8c16g\"", "plans[1].name", "must match" },
        { "bad provider", L, "plans[1].spec.provider", "\"Kunpeng_1\"", "plans[1].spec.provider",
          "must match" },
        { "bad http provider", H, "plans[0].spec.provider", "\"\"", "plans[0].spec.provider", "must match" },
        { "duplicate plan id", L, "plans[1].id", "\"small\"", "plans[1].id", "duplicates plans[0].id" },
        { "duplicate plan name", L, "plans[1].name", "\"s-2c4g\"", "plans[1].name",
          "duplicates plans[0].name" },

        /* enumerations */
        { "bad category", L, "category", "\"Iaas\"", "category",
          "must be one of \"IaaS\", \"PaaS\", \"SaaS\"" },
        { "bad driver", L, "driver", "\"vmware\"", "driver", "must be one of" },
        { "bad unit", L, "plans[0].price.unit", "\"day\"", "plans[0].price.unit", "must be one of" },
        { "bad kind", L, "plans[1].spec.kind", "\"container\"", "plans[1].spec.kind", "must be one of" },
        { "kind is a number", L, "plans[1].spec.kind", "1", "plans[1].spec.kind", "must be a string" },
        { "bad arch", L, "plans[1].spec.arch", "\"i386\"", "plans[1].spec.arch", "must be one of" },

        /* ranges */
        { "protection level 0", L, "max_protection_level", "0", "max_protection_level", "between 1 and 4" },
        { "protection level 5", L, "max_protection_level", "5", "max_protection_level", "between 1 and 4" },
        { "empty plans", L, "plans", "[]", "plans", "must not be empty" },
        { "negative price", L, "plans[1].price.amount_fen", "-1", "plans[1].price.amount_fen",
          "between 0 and" },
        { "absurd price", L, "plans[0].price.amount_fen", "10000000001", "plans[0].price.amount_fen", NULL },
        { "vcpus 0", L, "plans[0].spec.vcpus", "0", "plans[0].spec.vcpus", "between 1 and 256" },
        { "vcpus 257", L, "plans[0].spec.vcpus", "257", "plans[0].spec.vcpus", "between 1 and 256" },
        { "memory too small", L, "plans[0].spec.memory_mib", "63", "plans[0].spec.memory_mib",
          "between 64 and 4194304" },
        { "memory too large", L, "plans[0].spec.memory_mib", "4194305", "plans[0].spec.memory_mib", NULL },
        { "negative disk", L, "plans[0].spec.disk_gib", "-1", "plans[0].spec.disk_gib",
          "between 0 and 65536" },
        { "volume size 0", L, "plans[0].spec", "{\"kind\": \"volume\", \"size_gib\": 0}",
          "plans[0].spec.size_gib", "between 1 and 65536" },
        { "negative quota", H, "plans[0].spec.quotas.users", "-1", "plans[0].spec.quotas.users", ">= 0" },
        { "bad quota name", H, "plans[0].spec.quotas.Users", "1", "plans[0].spec.quotas.Users",
          "not a valid quota name" },

        /* strings */
        { "empty display_name", L, "display_name", "\"\"", "display_name", "must not be empty" },
        { "empty plan display_name", L, "plans[1].display_name", "\"\"", "plans[1].display_name",
          "must not be empty" },
        { "display_name with newline", L, "display_name", "\"a\\nb\"", "display_name", "control characters" },
        { "empty remote_plan_id", H, "plans[0].spec.remote_plan_id", "\"\"", "plans[0].spec.remote_plan_id",
          "must not be empty" },
        { "empty network", L, "plans[1].spec.network", "\"\"", "plans[1].spec.network", "must not be empty" },
        { "empty tag", H, "tags[0]", "\"\"", "tags[0]", "must not be empty" },
        { "duplicate tag", H, "tags[1]", "\"数据库\"", "tags[1]", "duplicates" },

        /* cross-field */
        { "libvirt service in PaaS", L, "category", "\"PaaS\"", "category", "must be \"IaaS\"" },
        { "libvirt service in SaaS", L, "category", "\"SaaS\"", "category", "must be \"IaaS\"" },

        /* the document itself */
        { "document is an array", NULL, "", "[1, 2]", "", "must be a JSON object" },
        { "document is a string", NULL, "", "\"service\"", "", "must be a JSON object" },
        { "document is null", NULL, "", "null", "", "must be a JSON object" },
};

#undef L
#undef H

static json_t *load(const char *text) {
        json_error_t e;
        json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

        if (!j)
                fail_msg("bad test JSON: %s: %s", text, e.text);
        return j;
}

/* Sets (value != NULL) or deletes the member at path, e.g. "plans[1].spec.vcpus". */
static void edit(json_t *root, const char *path, json_t *value) {
        json_t *cur = root;
        const char *p = path;

        for (;;) {
                char key[64];
                size_t n = strcspn(p, ".[");
                bool is_index = n == 0 && *p == '[';
                size_t index = 0;
                json_t *next;

                if (is_index) {
                        char *end;

                        index = strtoul(p + 1, &end, 10);
                        assert_int_equal(*end, ']');
                        p = end + 1;
                } else {
                        assert_true(n > 0 && n < sizeof(key));
                        memcpy(key, p, n);
                        key[n] = '\0';
                        p += n;
                }
                if (*p == '.')
                        p++;

                if (*p == '\0') {
                        if (is_index) {
                                assert_non_null(value);
                                assert_int_equal(json_array_set_new(cur, index, value), 0);
                        } else if (value)
                                assert_int_equal(json_object_set_new(cur, key, value), 0);
                        else
                                assert_int_equal(json_object_del(cur, key), 0);
                        return;
                }
                next = is_index ? json_array_get(cur, index) : json_object_get(cur, key);
                assert_non_null(next);
                cur = next;
        }
}

static void test_bad_case(void **state) {
        const BadCase *bc = *state;
        CbError err = CB_ERROR_INIT;
        json_t *doc, *out = (json_t *)0x1;
        int r;

        if (bc->base) {
                doc = load(bc->base);
                edit(doc, bc->path, bc->value ? load(bc->value) : NULL);
        } else
                doc = load(bc->value);

        r = catalog_validate_service(doc, &out, &err);
        if (r >= 0 || err.kind != CB_ERR_VALIDATION || strcmp(err.field, bc->field) != 0)
                print_error("case \"%s\": r=%d kind=%d field=\"%s\" message=\"%s\"\n", bc->name, r, err.kind,
                            err.field, err.message);
        assert_int_equal(r, -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, bc->field);
        /* the message names the field, so a log line alone says what is wrong */
        if (bc->field[0])
                assert_non_null(strstr(err.message, bc->field));
        if (bc->msg && !strstr(err.message, bc->msg))
                fail_msg("case \"%s\": message \"%s\" lacks \"%s\"", bc->name, err.message, bc->msg);
        /* out-parameters are written only on success */
        assert_ptr_equal(out, (json_t *)0x1);

        json_decref(doc);
        cb_error_clear(&err);
}

static void test_valid_libvirt_defaults(void **state) {
        (void)state;
        json_t *doc = load(base_libvirt), *before = json_deep_copy(doc), *out = NULL, *spec0, *spec1;
        CbError err = CB_ERROR_INIT;

        assert_int_equal(catalog_validate_service(doc, &out, &err), 0);
        assert_int_equal(err.kind, CB_ERR_NONE);
        assert_non_null(out);
        assert_true(out != doc);
        /* the input is left alone */
        assert_true(json_equal(doc, before));

        assert_true(json_is_array(json_object_get(out, "tags")));
        assert_int_equal(json_array_size(json_object_get(out, "tags")), 0);
        assert_string_equal(json_string_value(json_object_get(out, "display_name")), "通用型云服务器");

        spec0 = json_object_get(json_array_get(json_object_get(out, "plans"), 0), "spec");
        assert_string_equal(json_string_value(json_object_get(spec0, "kind")), "vm");
        assert_string_equal(json_string_value(json_object_get(spec0, "arch")), "x86_64");
        assert_string_equal(json_string_value(json_object_get(spec0, "network")), "default");
        assert_int_equal(json_integer_value(json_object_get(spec0, "vcpus")), 2);
        /* optional fields without a default stay absent */
        assert_null(json_object_get(spec0, "provider"));
        assert_null(json_object_get(spec0, "os_image"));

        /* given values win over defaults */
        spec1 = json_object_get(json_array_get(json_object_get(out, "plans"), 1), "spec");
        assert_string_equal(json_string_value(json_object_get(spec1, "arch")), "aarch64");
        assert_string_equal(json_string_value(json_object_get(spec1, "network")), "gov");
        assert_string_equal(json_string_value(json_object_get(spec1, "provider")), "kp-1");

        /* a deep copy: changing the result does not touch the input */
        json_object_set_new(spec1, "vcpus", json_integer(99));
        assert_true(json_equal(doc, before));

        json_decref(out);
        json_decref(before);
        json_decref(doc);
}

static void test_valid_http(void **state) {
        (void)state;
        json_t *doc = load(base_http), *out = NULL, *spec;
        CbError err = CB_ERROR_INIT;

        assert_int_equal(catalog_validate_service(doc, &out, &err), 0);
        assert_int_equal(json_array_size(json_object_get(out, "tags")), 2);
        spec = json_object_get(json_array_get(json_object_get(out, "plans"), 0), "spec");
        /* no libvirt defaults leak into an http spec */
        assert_null(json_object_get(spec, "kind"));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "quotas"), "users")), 10);
        json_decref(out);

        /* an http spec may be empty; an http service may be IaaS */
        edit(doc, "plans[0].spec", json_object());
        edit(doc, "category", json_string("IaaS"));
        assert_int_equal(catalog_validate_service(doc, &out, &err), 0);
        assert_int_equal(
                json_object_size(json_object_get(json_array_get(json_object_get(out, "plans"), 0), "spec")),
                0);
        json_decref(out);
        json_decref(doc);
}

static void test_valid_volume(void **state) {
        (void)state;
        json_t *doc = load(base_libvirt), *out = NULL, *spec;
        CbError err = CB_ERROR_INIT;

        edit(doc, "plans[0].spec", load("{\"kind\": \"volume\", \"size_gib\": 100, \"pool\": \"ssd\"}"));
        assert_int_equal(catalog_validate_service(doc, &out, &err), 0);
        spec = json_object_get(json_array_get(json_object_get(out, "plans"), 0), "spec");
        assert_string_equal(json_string_value(json_object_get(spec, "kind")), "volume");
        /* vm defaults do not apply to a volume */
        assert_null(json_object_get(spec, "arch"));
        assert_null(json_object_get(spec, "network"));
        json_decref(out);
        json_decref(doc);
}

/* The inclusive ends of every range are accepted. */
static void test_boundaries_accepted(void **state) {
        (void)state;
        static const struct {
                const char *path, *value;
        } ok[] = {
                { "max_protection_level", "1" },
                { "max_protection_level", "4" },
                { "plans[0].spec.vcpus", "1" },
                { "plans[0].spec.vcpus", "256" },
                { "plans[0].spec.memory_mib", "64" },
                { "plans[0].spec.memory_mib", "4194304" },
                { "plans[0].spec.disk_gib", "0" },
                { "plans[0].spec.disk_gib", "65536" },
                { "plans[0].price.amount_fen", "0" },
                { "plans[0].price.amount_fen", "10000000000" },
                { "plans[0].price.unit", "\"month\"" },
                { "plans[1].spec.arch", "\"loongarch64\"" },
                { "id", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" },
                { "id", "\"0\"" },
                { "description", "\"第一行\\n第二行\\t缩进\"" },
                { "category", "\"IaaS\"" },
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                json_t *doc = load(base_libvirt), *out = NULL;
                CbError err = CB_ERROR_INIT;

                edit(doc, ok[i].path, load(ok[i].value));
                if (catalog_validate_service(doc, &out, &err) < 0)
                        fail_msg("%s = %s refused: %s", ok[i].path, ok[i].value, err.message);
                json_decref(out);
                json_decref(doc);
        }
}

static void check_text_limit(const char *path, const char *unit, size_t max) {
        size_t ulen = strlen(unit), n = max / ulen;
        char *s = calloc(1, max + ulen + 1);
        json_t *doc, *out = NULL;
        CbError err = CB_ERROR_INIT;

        assert_non_null(s);
        assert_int_equal(max % ulen, 0);
        for (size_t i = 0; i < n; i++)
                memcpy(s + i * ulen, unit, ulen);

        doc = load(base_libvirt);
        edit(doc, path, json_string(s));
        assert_int_equal(catalog_validate_service(doc, &out, &err), 0);
        json_decref(out);

        /* one more character (several bytes for Chinese) is too long */
        memcpy(s + n * ulen, unit, ulen);
        out = (json_t *)0x1;
        edit(doc, path, json_string(s));
        assert_int_equal(catalog_validate_service(doc, &out, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, path);
        assert_non_null(strstr(err.message, "at most"));
        assert_ptr_equal(out, (json_t *)0x1);

        json_decref(doc);
        free(s);
}

static void test_display_name_limit(void **state) {
        (void)state;
        /* limits count bytes: 66 three-byte characters = 198, 67 = 201 */
        check_text_limit("display_name", "a", 200);
        check_text_limit("plans[1].display_name", "ab", 200);
        check_text_limit("display_name", "政", 198);
}

static void test_description_limit(void **state) {
        (void)state;
        check_text_limit("description", "a", 4000);
        check_text_limit("plans[0].description", "ab", 4000);
}

static void test_not_utf8(void **state) {
        (void)state;
        json_t *doc = load(base_libvirt), *out = NULL;
        CbError err = CB_ERROR_INIT;

        /* a caller can build such a string with the _nocheck API; parsers cannot */
        edit(doc, "display_name", json_string_nocheck("\xc3\x28"));
        assert_int_equal(catalog_validate_service(doc, &out, &err), -EINVAL);
        assert_string_equal(err.field, "display_name");
        assert_non_null(strstr(err.message, "UTF-8"));

        edit(doc, "display_name", json_stringn("a\0b", 3));
        assert_int_equal(catalog_validate_service(doc, &out, &err), -EINVAL);
        assert_string_equal(err.field, "display_name");
        json_decref(doc);
}

static void test_null_document(void **state) {
        (void)state;
        json_t *out = NULL;
        CbError err = CB_ERROR_INIT;

        assert_int_equal(catalog_validate_service(NULL, &out, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, "");
        assert_null(out);
        /* err is optional */
        assert_int_equal(catalog_validate_service(NULL, &out, NULL), -EINVAL);
}

static void test_validate_id(void **state) {
        (void)state;
        assert_int_equal(id_is_valid("ecs-general"), 1);
        assert_int_equal(id_is_valid("a"), 1);
        assert_int_equal(id_is_valid("0-9"), 1);
        assert_int_equal(id_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 1);
        assert_int_equal(id_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 0);
        assert_int_equal(id_is_valid(""), 0);
        assert_int_equal(id_is_valid(NULL), 0);
        assert_int_equal(id_is_valid("ECS"), 0);
        assert_int_equal(id_is_valid("a_b"), 0);
        assert_int_equal(id_is_valid("a/b"), 0);
        assert_int_equal(id_is_valid("../etc"), 0);
        assert_int_equal(id_is_valid("a b"), 0);
        assert_int_equal(id_is_valid("政务"), 0);
}

/* The shipped first edition: every file validates, is named after its id,
 * and the edition covers what the catalogue promises. */
static void test_shipped_catalog(void **state) {
        (void)state;
        DIR *d = opendir("etc/catalog");
        struct dirent *de;
        unsigned files = 0, iaas = 0, paas = 0, saas = 0, xinchuang_arm = 0, volumes = 0;

        if (!d)
                fail_msg("cannot open etc/catalog (run from the repository root): %s", strerror(errno));
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                char path[512], id[256];
                json_error_t je;
                json_t *doc, *out = NULL;
                CbError err = CB_ERROR_INIT;
                const char *category, *driver;

                if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
                        continue;
                snprintf(path, sizeof(path), "etc/catalog/%s", de->d_name);
                doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
                if (!doc)
                        fail_msg("%s:%d: %s", path, je.line, je.text);
                if (catalog_validate_service(doc, &out, &err) < 0)
                        fail_msg("%s: %s (field \"%s\")", path, err.message, err.field);

                snprintf(id, sizeof(id), "%.*s", (int)(len - 5), de->d_name);
                assert_string_equal(json_string_value(json_object_get(out, "id")), id);

                category = json_string_value(json_object_get(out, "category"));
                driver = json_string_value(json_object_get(out, "driver"));
                iaas += streq(category, "IaaS");
                paas += streq(category, "PaaS");
                saas += streq(category, "SaaS");
                if (!streq(category, "IaaS"))
                        assert_string_equal(driver, "http");

                json_t *plan;
                size_t i;
                json_array_foreach(json_object_get(out, "plans"), i, plan) {
                        json_t *spec = json_object_get(plan, "spec");

                        if (streq_ptr(json_string_value(json_object_get(spec, "kind")), "volume"))
                                volumes++;
                        if (streq_ptr(json_string_value(json_object_get(spec, "arch")), "aarch64") &&
                            json_is_true(json_object_get(out, "secure_controllable")) &&
                            json_integer_value(json_object_get(out, "max_protection_level")) == 3)
                                xinchuang_arm++;
                }

                files++;
                json_decref(out);
                json_decref(doc);
        }
        closedir(d);

        assert_true(files >= 9);
        assert_true(iaas >= 4);
        assert_true(paas >= 3);
        assert_true(saas >= 2);
        assert_true(xinchuang_arm >= 1);
        assert_true(volumes >= 1);
}

static void test_image_names(void **state) {
        (void)state;
        assert_true(image_name_is_valid("openeuler-22.03-lts-x86_64"));
        assert_true(image_name_is_valid("a"));
        assert_false(image_name_is_valid(""));
        assert_false(image_name_is_valid(NULL));
        assert_false(image_name_is_valid(".hidden"));
        assert_false(image_name_is_valid("-x"));
        assert_false(image_name_is_valid("Upper"));
        assert_false(image_name_is_valid("a/b"));
        assert_false(image_name_is_valid("0123456789012345678901234567890123456789012345678901234567890123"));
        assert_true(image_volume_name_is_valid("Debian-12.qcow2"));
        assert_false(image_volume_name_is_valid("../etc/passwd"));
        assert_false(image_volume_name_is_valid("a b"));
        assert_false(image_volume_name_is_valid("<x>"));
}

static void test_image_secure_os(void **state) {
        (void)state;
        assert_true(image_os_is_secure_controllable("openEuler"));
        assert_true(image_os_is_secure_controllable("Kylin"));
        assert_true(image_os_is_secure_controllable("UOS"));
        assert_false(image_os_is_secure_controllable("Debian"));
        assert_false(image_os_is_secure_controllable("openEuler2"));
        assert_false(image_os_is_secure_controllable(NULL));
}

static void test_image_digest_parse(void **state) {
        char alg[8], hex[IMAGE_DIGEST_HEX];
        const char *h = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        char buf[80];
        (void)state;
        snprintf(buf, sizeof(buf), "sha256:%s", h);
        assert_int_equal(image_digest_parse(buf, alg, hex), 0);
        assert_string_equal(alg, "sha256");
        assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        snprintf(buf, sizeof(buf), "sm3:%s", h);
        assert_int_equal(image_digest_parse(buf, alg, hex), 0);
        assert_string_equal(alg, "sm3");
        assert_int_equal(image_digest_parse(h, alg, hex), -EINVAL);
        assert_int_equal(image_digest_parse("md5:d41d8cd98f00b204e9800998ecf8427e", alg, hex), -EINVAL);
        snprintf(buf, sizeof(buf), "sha256:%.63s", h);
        assert_int_equal(image_digest_parse(buf, alg, hex), -EINVAL);
        snprintf(buf, sizeof(buf), "sha256:%.63sg", h);
        assert_int_equal(image_digest_parse(buf, alg, hex), -EINVAL);
        snprintf(buf, sizeof(buf), "sha256:%s0", h);
        assert_int_equal(image_digest_parse(buf, alg, hex), -EINVAL);
        assert_int_equal(image_digest_parse(NULL, alg, hex), -EINVAL);
}

static void test_plan_image(void **state) {
        const char *f = "plans[0].spec.os_image";
        CatalogImageFacts none = { 0 };
        CatalogImageFacts retired = { .registered = true };
        CatalogImageFacts arm = { .registered = true, .active = true, .arch = "aarch64" };
        CatalogImageFacts debian = {
                .registered = true, .active = true, .arch_matches = true, .arch = "x86_64"
        };
        CatalogImageFacts euler = {
                .registered = true, .active = true, .arch_matches = true, .secure = true, .arch = "x86_64"
        };
        CbError err = CB_ERROR_INIT;
        (void)state;

        assert_int_equal(catalog_check_plan_image(f, "x", "x86_64", false, &none, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, f);
        assert_non_null(strstr(err.message, "not a registered image"));
        cb_error_clear(&err);
        assert_int_equal(catalog_check_plan_image(f, "x", "x86_64", false, &retired, &err), -EINVAL);
        assert_non_null(strstr(err.message, "retired"));
        cb_error_clear(&err);
        assert_int_equal(catalog_check_plan_image(f, "x", "x86_64", false, &arm, &err), -EINVAL);
        assert_non_null(strstr(err.message, "is for aarch64, the plan's arch is x86_64"));
        cb_error_clear(&err);
        assert_int_equal(catalog_check_plan_image(f, "x", "x86_64", false, &debian, &err), 0);
        assert_int_equal(catalog_check_plan_image(f, "x", "x86_64", true, &debian, &err), -EINVAL);
        assert_string_equal(err.field, f);
        assert_non_null(strstr(err.message, "Art. 24"));
        cb_error_clear(&err);
        assert_int_equal(catalog_check_plan_image(f, "x", "x86_64", true, &euler, &err), 0);
}

int main(void) {
        static const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_valid_libvirt_defaults),
                cmocka_unit_test(test_valid_http),
                cmocka_unit_test(test_valid_volume),
                cmocka_unit_test(test_boundaries_accepted),
                cmocka_unit_test(test_display_name_limit),
                cmocka_unit_test(test_description_limit),
                cmocka_unit_test(test_not_utf8),
                cmocka_unit_test(test_null_document),
                cmocka_unit_test(test_validate_id),
                cmocka_unit_test(test_shipped_catalog),
                cmocka_unit_test(test_image_names),
                cmocka_unit_test(test_image_secure_os),
                cmocka_unit_test(test_image_digest_parse),
                cmocka_unit_test(test_plan_image),
        };
        struct CMUnitTest tests[ELEMENTSOF(fixed) + ELEMENTSOF(bad_cases)];
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                tests[n++] = fixed[i];
        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++)
                tests[n++] = (struct CMUnitTest){
                        .name = bad_cases[i].name,
                        .test_func = test_bad_case,
                        .initial_state = (void *)&bad_cases[i],
                };

        return _cmocka_run_group_tests("catalog-validate", tests, n, NULL, NULL);
}
