/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "osb-params.h"

/* A binding schema as a provider's catalogue plan carries it. */
static const char plan_text[] =
        "{\"id\": \"p\", \"schemas\": {\"service_binding\": {\"create\": {\"parameters\": {"
        " \"$schema\": \"http://json-schema.org/draft-04/schema#\", \"type\": \"object\","
        " \"required\": [\"app_name\"], \"additionalProperties\": false,"
        " \"properties\": {"
        "  \"app_name\": {\"type\": \"string\"},"
        "  \"read_only\": {\"type\": \"boolean\"},"
        "  \"max_connections\": {\"type\": \"integer\"},"
        "  \"weight\": {\"type\": \"number\"},"
        "  \"note\": {\"type\": [\"string\", \"null\"]},"
        "  \"role\": {\"type\": \"string\", \"enum\": [\"rw\", \"ro\"]},"
        "  \"free\": {}"
        " }}}}}}";

static json_t *plan(void) {
        json_t *p = json_loads(plan_text, 0, NULL);
        assert_non_null(p);
        return p;
}

/* check(params JSON): the result, the field in *field. */
static int check(const char *params_text, const json_t *schema, CbError *err) {
        json_t *params = json_loads(params_text, JSON_DECODE_ANY, NULL);
        int r;
        assert_non_null(params);
        *err = (CbError)CB_ERROR_INIT;
        r = osb_params_check(params, schema, err);
        json_decref(params);
        return r;
}

static void test_schema_lookup(void **state) {
        json_t *p = plan();
        (void)state;
        assert_non_null(osb_plan_params_schema(p, "service_binding"));
        assert_null(osb_plan_params_schema(p, "service_instance"));
        assert_null(osb_plan_params_schema(NULL, "service_binding"));
        json_decref(p);
}

static void test_accepts(void **state) {
        json_t *p = plan();
        const json_t *s = osb_plan_params_schema(p, "service_binding");
        CbError err;
        (void)state;
        assert_int_equal(check("{\"app_name\": \"oa\"}", s, &err), 0);
        assert_int_equal(check("{\"app_name\": \"oa\", \"read_only\": true, \"max_connections\": 5, "
                               "\"weight\": 0.5, \"note\": null, \"role\": \"ro\", \"free\": [1]}",
                               s, &err),
                         0);
        /* 3.0 is an integer to JSON Schema, 5 a number. */
        assert_int_equal(check("{\"app_name\": \"oa\", \"max_connections\": 3.0, \"weight\": 5}", s, &err),
                         0);
        /* Without a schema: any object. */
        assert_int_equal(check("{\"anything\": {\"deep\": 1}}", NULL, &err), 0);
        assert_int_equal(check("{}", NULL, &err), 0);
        json_decref(p);
}

typedef struct Bad {
        const char *params, *field, *in_message;
} Bad;

static void test_refuses_naming_the_field(void **state) {
        static const Bad bad[] = {
                { "{}", "parameters.app_name", "required" },
                { "{\"app_name\": 7}", "parameters.app_name", "string" },
                { "{\"app_name\": \"oa\", \"read_only\": \"yes\"}", "parameters.read_only", "boolean" },
                { "{\"app_name\": \"oa\", \"max_connections\": 2.5}", "parameters.max_connections",
                  "integer" },
                { "{\"app_name\": \"oa\", \"weight\": \"1\"}", "parameters.weight", "number" },
                { "{\"app_name\": \"oa\", \"note\": 1}", "parameters.note", "string or null" },
                { "{\"app_name\": \"oa\", \"role\": \"admin\"}", "parameters.role", "enum" },
                { "{\"app_name\": \"oa\", \"admin_password\": \"hunter2\"}", "parameters.admin_password",
                  "not a parameter" },
                { "[1]", "parameters", "object" },
                { "\"x\"", "parameters", "object" },
        };
        json_t *p = plan();
        const json_t *s = osb_plan_params_schema(p, "service_binding");
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                CbError err;
                int r = check(bad[i].params, s, &err);
                if (r >= 0 || err.kind != CB_ERR_VALIDATION || strcmp(err.field, bad[i].field) != 0 ||
                    !strstr(err.message, bad[i].in_message) || !strstr(err.message, bad[i].field))
                        fail_msg("%s: r=%d field=%s message=%s", bad[i].params, r, err.field, err.message);
                /* A value may be a secret: it never shows in the message. */
                assert_null(strstr(err.message, "hunter2"));
                assert_null(strstr(err.message, "admin\""));
        }
        json_decref(p);
}

static void test_additional_allowed(void **state) {
        json_t *s = json_loads("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}}}", 0,
                               NULL);
        CbError err;
        (void)state;
        assert_int_equal(check("{\"a\": \"x\", \"b\": 1}", s, &err), 0);
        assert_true(check("{\"a\": 1, \"b\": 1}", s, &err) < 0);
        assert_string_equal(err.field, "parameters.a");
        json_decref(s);
}

static void test_size_bound(void **state) {
        json_t *params = json_object();
        char *big = malloc(OSB_PARAMS_MAX_BYTES + 1);
        CbError err = CB_ERROR_INIT;
        (void)state;
        memset(big, 'a', OSB_PARAMS_MAX_BYTES);
        big[OSB_PARAMS_MAX_BYTES] = 0;
        json_object_set_new(params, "blob", json_string(big));
        assert_true(osb_params_check(params, NULL, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, "parameters");
        assert_non_null(strstr(err.message, "at most"));
        /* Just under the bound passes: {"blob":"..."} is 11 bytes more than the string. */
        big[OSB_PARAMS_MAX_BYTES - 11] = 0;
        json_object_set_new(params, "blob", json_string(big));
        err = (CbError)CB_ERROR_INIT;
        assert_int_equal(osb_params_check(params, NULL, &err), 0);
        json_decref(params);
        free(big);
}

/* A nested schema: objects in objects, arrays of objects, bounds. */
static const char nested_text[] =
        "{\"type\": \"object\", \"properties\": {"
        " \"db\": {\"type\": \"object\", \"required\": [\"engine\"], \"additionalProperties\": false,"
        "  \"properties\": {"
        "   \"engine\": {\"type\": \"string\", \"enum\": [\"mysql\", \"pg\"]},"
        "   \"size_gib\": {\"type\": \"integer\", \"minimum\": 10, \"maximum\": 100},"
        "   \"name\": {\"type\": \"string\", \"minLength\": 2, \"maxLength\": 4},"
        "   \"users\": {\"type\": \"array\", \"maxItems\": 3, \"items\": {"
        "     \"type\": \"object\", \"required\": [\"name\"],"
        "     \"properties\": {\"name\": {\"type\": \"string\"}, \"ro\": {\"type\": [\"boolean\", "
        "\"null\"]}}}},"
        "   \"tags\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"}}"
        "  }}}}";

static void test_nested(void **state) {
        static const Bad bad[] = {
                { "{\"db\": {}}", "parameters.db.engine", "required" },
                { "{\"db\": 3}", "parameters.db", "object" },
                { "{\"db\": {\"engine\": \"oracle\"}}", "parameters.db.engine", "enum" },
                { "{\"db\": {\"engine\": \"pg\", \"hunter2\": 1}}", "parameters.db.hunter2",
                  "not a parameter" },
                { "{\"db\": {\"engine\": \"pg\", \"size_gib\": 9}}", "parameters.db.size_gib", "minimum" },
                { "{\"db\": {\"engine\": \"pg\", \"size_gib\": 101}}", "parameters.db.size_gib", "maximum" },
                { "{\"db\": {\"engine\": \"pg\", \"size_gib\": 10.5}}", "parameters.db.size_gib", "integer" },
                { "{\"db\": {\"engine\": \"pg\", \"name\": \"a\"}}", "parameters.db.name", "minLength" },
                { "{\"db\": {\"engine\": \"pg\", \"name\": \"hunter2\"}}", "parameters.db.name",
                  "maxLength" },
                { "{\"db\": {\"engine\": \"pg\", \"users\": [{\"name\": \"a\"}, {\"name\": \"b\"}, "
                  "{\"ro\": true}]}}",
                  "parameters.db.users[2].name", "required" },
                { "{\"db\": {\"engine\": \"pg\", \"users\": [{\"name\": \"a\", \"ro\": \"hunter2\"}]}}",
                  "parameters.db.users[0].ro", "boolean or null" },
                { "{\"db\": {\"engine\": \"pg\", \"users\": [{\"name\": \"a\"}, {\"name\": \"a\"}, "
                  "{\"name\": \"a\"}, {\"name\": \"a\"}]}}",
                  "parameters.db.users", "maxItems" },
                { "{\"db\": {\"engine\": \"pg\", \"tags\": {\"team\": 7}}}", "parameters.db.tags.team",
                  "string" },
        };
        json_t *s = json_loads(nested_text, 0, NULL);
        CbError err;
        (void)state;
        assert_non_null(s);
        assert_int_equal(check("{\"db\": {\"engine\": \"pg\", \"size_gib\": 10, \"name\": "
                               "\"\u00e9\u00e9\u00e9\u00e9\", "
                               "\"users\": [{\"name\": \"a\", \"ro\": null}], \"tags\": {\"t\": \"x\"}}, "
                               "\"other\": 1}",
                               s, &err),
                         0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = check(bad[i].params, s, &err);
                if (r >= 0 || err.kind != CB_ERR_VALIDATION || strcmp(err.field, bad[i].field) != 0 ||
                    !strstr(err.message, bad[i].in_message) || !strstr(err.message, bad[i].field))
                        fail_msg("%s: r=%d field=%s message=%s", bad[i].params, r, err.field, err.message);
                assert_null(strstr(err.message, "hunter2\""));
        }
        json_decref(s);
}

/* A schema nested 40 deep under a document as deep: refused at the bound, not walked to the end. */
static void test_depth_bound(void **state) {
        json_t *schema = json_pack("{s:s}", "type", "string"), *doc = json_string("x");
        CbError err = CB_ERROR_INIT;
        (void)state;
        for (int i = 0; i < 40; i++) {
                schema = json_pack("{s:s, s:{s:o}}", "type", "object", "properties", "a", schema);
                doc = json_pack("{s:o}", "a", doc);
        }
        assert_true(osb_params_check(doc, schema, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_non_null(strstr(err.message, "deeper than"));
        assert_non_null(strstr(err.field, "parameters.a.a.a"));
        json_decref(schema);
        json_decref(doc);
        /* 16 deep is fine. */
        schema = json_pack("{s:s}", "type", "string");
        doc = json_string("x");
        for (int i = 0; i < OSB_PARAMS_MAX_DEPTH; i++) {
                schema = json_pack("{s:s, s:{s:o}}", "type", "object", "properties", "a", schema);
                doc = json_pack("{s:o}", "a", doc);
        }
        err = (CbError)CB_ERROR_INIT;
        assert_int_equal(osb_params_check(doc, schema, &err), 0);
        json_decref(schema);
        json_decref(doc);
}

/* A huge enum against many values: the step budget refuses. */
static void test_step_budget(void **state) {
        json_t *values = json_array(), *doc = json_object(), *list = json_array(), *schema;
        CbError err = CB_ERROR_INIT;
        (void)state;
        for (int i = 0; i < 5000; i++)
                json_array_append_new(values, json_integer(i));
        for (int i = 0; i < 100; i++)
                json_array_append_new(list, json_integer(4999));
        json_object_set_new(doc, "l", list);
        schema = json_pack("{s:{s:{s:{s:o}}}}", "properties", "l", "items", "enum", values);
        assert_true(osb_params_check(doc, schema, &err) < 0);
        assert_string_equal(err.field, "parameters");
        assert_non_null(strstr(err.message, "steps at most"));
        json_decref(schema);
        json_decref(doc);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_schema_lookup),
                cmocka_unit_test(test_accepts),
                cmocka_unit_test(test_refuses_naming_the_field),
                cmocka_unit_test(test_additional_allowed),
                cmocka_unit_test(test_size_bound),
                cmocka_unit_test(test_nested),
                cmocka_unit_test(test_depth_bound),
                cmocka_unit_test(test_step_budget),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
