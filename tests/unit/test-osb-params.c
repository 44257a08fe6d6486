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

/* One case of a keyword: the schema, the parameters, and either pass
 * (field NULL) or the refusal's field and a word of its message. */
typedef struct Case {
        const char *schema, *params, *field, *in_message;
} Case;

static void run_cases(const Case *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                json_t *schema = json_loads(cases[i].schema, 0, NULL);
                CbError err;
                int r;
                if (!schema)
                        fail_msg("case %zu: schema does not parse: %s", i, cases[i].schema);
                r = check(cases[i].params, schema, &err);
                if (!cases[i].field) {
                        if (r < 0)
                                fail_msg("case %zu: %s against %s: refused: %s", i, cases[i].params,
                                         cases[i].schema, err.message);
                } else if (r >= 0 || err.kind != CB_ERR_VALIDATION ||
                           strcmp(err.field, cases[i].field) != 0 ||
                           !strstr(err.message, cases[i].in_message) || !strstr(err.message, err.field))
                        fail_msg("case %zu: %s against %s: r=%d field=%s message=%s", i, cases[i].params,
                                 cases[i].schema, r, err.field, err.message);
                /* No value in a message: every secret in these cases is spelled hunter2. */
                if (r < 0)
                        assert_null(strstr(err.message, "hunter2"));
                json_decref(schema);
        }
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_combinators(void **state) {
        static const Case cases[] = {
                /* allOf: every one. */
                { "{\"properties\": {\"n\": {\"allOf\": [{\"type\": \"integer\"}, {\"minimum\": 3}]}}}",
                  "{\"n\": 4}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"allOf\": [{\"type\": \"integer\"}, {\"minimum\": 3}]}}}",
                  "{\"n\": 2}", "parameters.n", "minimum" },
                { "{\"properties\": {\"n\": {\"allOf\": [{\"type\": \"integer\"}, {\"minimum\": 3}]}}}",
                  "{\"n\": 2}", "parameters.n", "allOf" },
                /* anyOf: at least one; the message says how many there were. */
                { "{\"properties\": {\"n\": {\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}}}",
                  "{\"n\": 4}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}}}",
                  "{\"n\": true}", "parameters.n", "none of the 2 alternatives (anyOf)" },
                /* oneOf: exactly one; 0 and 2 are refused and counted. */
                { "{\"properties\": {\"n\": {\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 10}]}}}",
                  "{\"n\": 4}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 10}]}}}",
                  "{\"n\": 4.5}", "parameters.n", "matches 0 of the 2 alternatives" },
                { "{\"properties\": {\"n\": {\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 10}]}}}",
                  "{\"n\": 12}", "parameters.n",
                  "matches 2 of the 2 alternatives, exactly one wanted (oneOf)" },
                /* oneOf of shapes, as OSB plans write them: the failing branch's deeper path
                 * does not leak into the answer. */
                { "{\"oneOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}", "{\"a\": 1}", NULL,
                  NULL },
                { "{\"oneOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}", "{\"a\": 1, \"b\": 2}",
                  "parameters", "matches 2 of the 2" },
                { "{\"oneOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}", "{\"c\": \"hunter2\"}",
                  "parameters", "matches 0 of the 2" },
                /* not. */
                { "{\"properties\": {\"n\": {\"not\": {\"type\": \"string\"}}}}", "{\"n\": 1}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"not\": {\"type\": \"string\"}}}}", "{\"n\": \"hunter2\"}",
                  "parameters.n", "(not)" },
                /* Nested: not of anyOf. */
                { "{\"properties\": {\"n\": {\"not\": {\"anyOf\": [{\"enum\": [1]}, {\"enum\": [2]}]}}}}",
                  "{\"n\": 3}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"not\": {\"anyOf\": [{\"enum\": [1]}, {\"enum\": [2]}]}}}}",
                  "{\"n\": 2}", "parameters.n", "(not)" },
        };
        (void)state;
        RUN(cases);
}

/* A tree of nodes: each a name and children that are nodes again. */
static const char tree_schema[] =
        "{\"$ref\": \"#/definitions/node\", \"definitions\": {\"node\": {\"type\": \"object\","
        " \"required\": [\"name\"], \"additionalProperties\": false,"
        " \"properties\": {\"name\": {\"type\": \"string\"},"
        "  \"children\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/definitions/node\"}}}}}}";

static void test_ref(void **state) {
        static const Case cases[] = {
                { tree_schema,
                  "{\"name\": \"a\", \"children\": [{\"name\": \"b\", \"children\": [{\"name\": "
                  "\"c\"}, {\"name\": \"d\", \"children\": []}]}]}",
                  NULL, NULL },
                { tree_schema,
                  "{\"name\": \"a\", \"children\": [{\"name\": \"b\", \"children\": [{\"name\": "
                  "\"c\"}, {\"name\": \"d\", \"children\": [{\"name\": 7}]}]}]}",
                  "parameters.children[0].children[1].children[0].name", "string" },
                { tree_schema, "{\"name\": \"a\", \"children\": [{\"name\": \"b\", \"children\": [{}]}]}",
                  "parameters.children[0].children[0].name", "required" },
                /* $defs, "#" and the escapes of a JSON pointer, percent-encoding of a fragment. */
                { "{\"properties\": {\"n\": {\"$ref\": \"#/$defs/small\"}}, \"$defs\": {\"small\": "
                  "{\"maximum\": 3}}}",
                  "{\"n\": 4}", "parameters.n", "maximum" },
                { "{\"properties\": {\"n\": {\"$ref\": \"#/$defs/small\"}}, \"$defs\": {\"small\": "
                  "{\"maximum\": 3}}}",
                  "{\"n\": 3}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"$ref\": \"#/d/a~1b~0c\"}}, \"d\": {\"a/b~c\": {\"type\": "
                  "\"string\"}}}",
                  "{\"n\": 4}", "parameters.n", "string" },
                { "{\"properties\": {\"n\": {\"$ref\": \"#/d/a%20b\"}}, \"d\": {\"a b\": {\"type\": "
                  "\"string\"}}}",
                  "{\"n\": 4}", "parameters.n", "string" },
                { "{\"properties\": {\"n\": {\"$ref\": \"#/d/1\"}}, \"d\": [{}, {\"type\": \"string\"}]}",
                  "{\"n\": 4}", "parameters.n", "string" },
                { "{\"type\": \"object\", \"properties\": {\"n\": {\"$ref\": \"#\"}}}", "{\"n\": {\"n\": 1}}",
                  "parameters.n.n", "object" },
                /* Draft 4: what stands beside "$ref" is ignored. */
                { "{\"properties\": {\"n\": {\"$ref\": \"#/d/s\", \"type\": \"integer\"}}, \"d\": {\"s\": "
                  "{\"type\": "
                  "\"string\"}}}",
                  "{\"n\": \"x\"}", NULL, NULL },
                /* Not resolvable here: dangling, remote, an id: the provider checks. */
                { "{\"properties\": {\"n\": {\"$ref\": \"#/definitions/none\"}}}", "{\"n\": 4}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"$ref\": \"#/d/a~2\"}}, \"d\": {\"a~2\": {\"type\": "
                  "\"string\"}}}",
                  "{\"n\": 4}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"$ref\": \"http://example.com/s.json#/x\"}}}", "{\"n\": 4}",
                  NULL, NULL },
                { "{\"properties\": {\"n\": {\"$ref\": \"#me\"}}}", "{\"n\": 4}", NULL, NULL },
                /* A reference to itself ends, at the bound, with a refusal that says so. */
                { "{\"$ref\": \"#\"}", "{}", "parameters", "more than 16 references or combinators" },
                { "{\"properties\": {\"n\": {\"$ref\": \"#/properties/n\"}}}", "{\"n\": 1}", "parameters.n",
                  "references" },
                /* ... and under not or anyOf, the bound is not turned into a pass. */
                { "{\"not\": {\"$ref\": \"#\"}}", "{}", "parameters", "references" },
                { "{\"anyOf\": [{\"$ref\": \"#\"}, {}]}", "{}", "parameters", "references" },
                /* Two ways back to the root: the step budget ends it. */
                { "{\"allOf\": [{\"$ref\": \"#/allOf/1\"}, {\"allOf\": [{\"$ref\": \"#\"}, {\"$ref\": "
                  "\"#\"}]}]}",
                  "{}", "parameters", "" },
        };
        (void)state;
        RUN(cases);
}

/* A tree deeper than the walk goes: refused at the bound, a field on the way. */
static void test_ref_depth(void **state) {
        json_t *schema = json_loads(tree_schema, 0, NULL), *doc = json_pack("{s:s}", "name", "leaf");
        CbError err = CB_ERROR_INIT;
        (void)state;
        assert_non_null(schema);
        for (int i = 0; i < 12; i++)
                doc = json_pack("{s:s, s:[o]}", "name", "n", "children", doc);
        assert_true(osb_params_check(doc, schema, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_non_null(strstr(err.message, "deeper than"));
        assert_non_null(strstr(err.field, "parameters.children[0].children[0]"));
        json_decref(doc);
        /* Seven levels of nodes under the top are fifteen values, the leaf's name
         * the sixteenth: fine. */
        doc = json_pack("{s:s}", "name", "leaf");
        for (int i = 0; i < 7; i++)
                doc = json_pack("{s:s, s:[o]}", "name", "n", "children", doc);
        err = (CbError)CB_ERROR_INIT;
        assert_int_equal(osb_params_check(doc, schema, &err), 0);
        json_decref(doc);
        json_decref(schema);
}

/* References in a row at one value: 16 are followed, the 17th is refused. */
static void test_ref_chain_bound(void **state) {
        (void)state;
        for (int n = OSB_PARAMS_MAX_DEPTH; n <= OSB_PARAMS_MAX_DEPTH + 1; n++) {
                json_t *defs = json_object(), *schema;
                CbError err = CB_ERROR_INIT;
                char name[16], ref[48];
                /* The root's reference and n - 1 more, to a schema that takes {}. */
                for (int i = 0; i < n - 1; i++) {
                        snprintf(name, sizeof(name), "d%d", i);
                        snprintf(ref, sizeof(ref), "#/definitions/d%d", i + 1);
                        json_object_set_new(defs, name, json_pack("{s:s}", "$ref", ref));
                }
                snprintf(name, sizeof(name), "d%d", n - 1);
                json_object_set_new(defs, name, json_pack("{s:s}", "type", "object"));
                schema = json_pack("{s:s, s:o}", "$ref", "#/definitions/d0", "definitions", defs);
                if (n == OSB_PARAMS_MAX_DEPTH) {
                        assert_int_equal(check("{}", schema, &err), 0);
                } else {
                        assert_true(check("{}", schema, &err) < 0);
                        assert_string_equal(err.field, "parameters");
                        assert_non_null(strstr(err.message, "references or combinators"));
                }
                json_decref(schema);
        }
}

static void test_values(void **state) {
        static const Case cases[] = {
                { "{\"properties\": {\"c\": {\"const\": {\"a\": [1, \"x\"]}}}}",
                  "{\"c\": {\"a\": [1, \"x\"]}}", NULL, NULL },
                { "{\"properties\": {\"c\": {\"const\": {\"a\": [1, \"x\"]}}}}",
                  "{\"c\": {\"a\": [1, \"hunter2\"]}}", "parameters.c", "const" },
                { "{\"properties\": {\"c\": {\"const\": null}}}", "{\"c\": false}", "parameters.c", "const" },
                { "{\"properties\": {\"c\": {\"const\": null}}}", "{\"c\": null}", NULL, NULL },
                /* Numbers by value: 1 and 1.0 are one number to JSON Schema. */
                { "{\"properties\": {\"c\": {\"const\": 1}}}", "{\"c\": 1.0}", NULL, NULL },
                { "{\"properties\": {\"c\": {\"enum\": [2.0, \"b\"]}}}", "{\"c\": 2}", NULL, NULL },
                /* uniqueItems. */
                { "{\"properties\": {\"l\": {\"uniqueItems\": true}}}",
                  "{\"l\": [1, \"1\", [1], {\"a\": 1}]}", NULL, NULL },
                { "{\"properties\": {\"l\": {\"uniqueItems\": true}}}",
                  "{\"l\": [{\"a\": 1, \"b\": \"hunter2\"}, 2, {\"b\": \"hunter2\", \"a\": 1.0}]}",
                  "parameters.l", "items 0 and 2 are equal (uniqueItems)" },
                { "{\"properties\": {\"l\": {\"uniqueItems\": false}}}", "{\"l\": [1, 1]}", NULL, NULL },
                /* multipleOf: integers exactly, reals within rounding. */
                { "{\"properties\": {\"n\": {\"multipleOf\": 5}}}", "{\"n\": 35}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"multipleOf\": 5}}}", "{\"n\": -35}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"multipleOf\": 5}}}", "{\"n\": 36}", "parameters.n",
                  "multiple of 5 (multipleOf)" },
                { "{\"properties\": {\"n\": {\"multipleOf\": 0.1}}}", "{\"n\": 0.3}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"multipleOf\": 0.01}}}", "{\"n\": 19.99}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"multipleOf\": 0.1}}}", "{\"n\": 0.35}", "parameters.n",
                  "multipleOf" },
                { "{\"properties\": {\"n\": {\"multipleOf\": 0.5}}}", "{\"n\": 7}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"multipleOf\": 2}}}", "{\"n\": 7.0}", "parameters.n",
                  "multipleOf" },
                { "{\"properties\": {\"n\": {\"multipleOf\": 0}}}", "{\"n\": 7}", NULL, NULL },
                { "{\"properties\": {\"n\": {\"multipleOf\": 5}}}", "{\"n\": \"x\"}", NULL, NULL },
                /* Draft 4's boolean exclusive bounds. */
                { "{\"properties\": {\"n\": {\"minimum\": 1, \"exclusiveMinimum\": true}}}", "{\"n\": 1}",
                  "parameters.n", "exclusiveMinimum" },
                { "{\"properties\": {\"n\": {\"minimum\": 1, \"exclusiveMinimum\": true}}}", "{\"n\": 1.5}",
                  NULL, NULL },
                { "{\"properties\": {\"n\": {\"minimum\": 1, \"exclusiveMinimum\": false}}}", "{\"n\": 1}",
                  NULL, NULL },
                { "{\"properties\": {\"n\": {\"maximum\": 9, \"exclusiveMaximum\": true}}}", "{\"n\": 9}",
                  "parameters.n", "exclusiveMaximum" },
                { "{\"properties\": {\"n\": {\"maximum\": 9, \"exclusiveMaximum\": true}}}", "{\"n\": 8}",
                  NULL, NULL },
                { "{\"properties\": {\"n\": {\"maximum\": 9, \"exclusiveMaximum\": false}}}", "{\"n\": 9}",
                  NULL, NULL },
                /* The numeric form stays. */
                { "{\"properties\": {\"n\": {\"exclusiveMaximum\": 9}}}", "{\"n\": 9}", "parameters.n",
                  "exclusive maximum" },
        };
        (void)state;
        RUN(cases);
}

/* uniqueItems costs O(n log n): 2,400 distinct items within the size bound
 * (the pairwise walk's 2.9 million comparisons ran out of steps at about
 * 450) pass, and a
 * duplicate pair among them is named by its positions, 1 and 1.0 alike. */
static void test_unique_long(void **state) {
        json_t *schema = json_pack("{s:{s:{s:b}}}", "properties", "l", "uniqueItems", 1);
        json_t *doc = json_object(), *list = json_array();
        CbError err = CB_ERROR_INIT;
        (void)state;
        for (int i = 0; i < 2400; i++)
                json_array_append_new(list, i % 8 ? json_integer(i) : json_pack("{s:i}", "n", i));
        json_object_set_new(doc, "l", list);
        if (osb_params_check(doc, schema, &err) < 0)
                fail_msg("2,400 distinct items refused: %s", err.message);
        json_array_append_new(list, json_real(2399.0));
        assert_true(osb_params_check(doc, schema, &err) < 0);
        assert_string_equal(err.field, "parameters.l");
        assert_non_null(strstr(err.message, "items 2399 and 2400 are equal (uniqueItems)"));
        cb_error_clear(&err);
        /* Equal texts that are not equal values are not a duplicate: beyond
         * 2^53 an integer and a real differ although their text may not. */
        json_array_clear(list);
        json_array_append_new(list, json_integer(9007199254740993LL));
        json_array_append_new(list, json_integer(9007199254740992LL));
        assert_int_equal(osb_params_check(doc, schema, &err), 0);
        json_decref(schema);
        json_decref(doc);
}

static void test_pattern(void **state) {
        static const Case cases[] = {
                /* Unanchored: a search. */
                { "{\"properties\": {\"s\": {\"pattern\": \"\\\\d\"}}}", "{\"s\": \"ab3c\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"\\\\d\"}}}", "{\"s\": \"hunter\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\\\d+$\"}}}", "{\"s\": \"9051\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\\\d+$\"}}}", "{\"s\": \"90x\"}",
                  "parameters.s", "pattern" },
                /* Anchors. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\\\d{3}-\\\\d{2}$\"}}}", "{\"s\": \"123-45\"}",
                  NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\\\d{3}-\\\\d{2}$\"}}}", "{\"s\": \"x123-45\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\\\d{3}-\\\\d{2}$\"}}}", "{\"s\": \"123-456\"}",
                  "parameters.s", "pattern" },
                /* \D \s \S \w \W, outside and inside brackets. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\\\w+\\\\s\\\\S\\\\W\\\\D$\"}}}",
                  "{\"s\": \"a_1 x-y\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\\\w+$\"}}}", "{\"s\": \"a-b\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\w.-]+$\"}}}", "{\"s\": \"my-db.v2_x\"}",
                  NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\w.-]+$\"}}}", "{\"s\": \"my db\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[^\\\\d\\\\s]+$\"}}}", "{\"s\": \"abc\"}", NULL,
                  NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[^\\\\d\\\\s]+$\"}}}", "{\"s\": \"a c\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\D]+$\"}}}", "{\"s\": \"a1\"}",
                  "parameters.s", "pattern" },
                /* Characters special in POSIX brackets, in any place. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\]\\\\[^-]+$\"}}}", "{\"s\": \"][^-\"}",
                  NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\]\\\\[^-]+$\"}}}", "{\"s\": \"]a\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\\\\\/]$\"}}}", "{\"s\": \"\\\\\"}", NULL,
                  NULL },
                /* Escaped punctuation, \x and \u, the dot that takes no newline. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^a\\\\.b\\\\/c\\\\x41\\\\u0042$\"}}}",
                  "{\"s\": \"a.b/cAB\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^a\\\\.b$\"}}}", "{\"s\": \"axb\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^a.b$\"}}}", "{\"s\": \"a\\nb\"}", "parameters.s",
                  "pattern" },
                /* Groups, alternatives, lazy quantifiers (which match the same). */
                { "{\"properties\": {\"s\": {\"pattern\": \"^(?:ab|cd)+?e$\"}}}", "{\"s\": \"abcde\"}", NULL,
                  NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^(?:ab|cd)+?e$\"}}}", "{\"s\": \"e\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^a{2}?$\"}}}", "{\"s\": \"\"}", "parameters.s",
                  "pattern" },
                /* A brace that is no quantifier is a literal. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^a{b}$\"}}}", "{\"s\": \"a{b}\"}", NULL, NULL },
                /* Not translated: left to the provider. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^(?!x)\"}}}", "{\"s\": \"xyz\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"(a)\\\\1\"}}}", "{\"s\": \"ab\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"\\\\bx\"}}}", "{\"s\": \"ab\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"\\\\p{L}\"}}}", "{\"s\": \"1\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"((a{1000}){1000}){1000}\"}}}", "{\"s\": \"a\"}",
                  NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"([a-z\"}}}", "{\"s\": \"1\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"*a\"}}}", "{\"s\": \"1\"}", NULL, NULL },
                /* Text beyond ASCII is judged a character at a time, as ECMA-262 does. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^[a-z]+$\"}}}", "{\"s\": \"\\u00e9t\\u00e9\"}",
                  "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\u00e9$\"}}}", "{\"s\": \"e\"}", "parameters.s",
                  "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^\\u00e9$\"}}}", "{\"s\": \"\u00e9\"}", NULL,
                  NULL },
                /* The name pattern Chinese schemas use most. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\u4e00-\\\\u9fa5]{2,8}$\"}}}",
                  "{\"s\": \"临汾市教育局\"}", NULL, NULL },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\u4e00-\\\\u9fa5]{2,8}$\"}}}",
                  "{\"s\": \"临汾 教育局\"}", "parameters.s", "pattern" },
                { "{\"properties\": {\"s\": {\"pattern\": \"^[\\\\u4e00-\\\\u9fa5]{2,8}$\"}}}",
                  "{\"s\": \"临\"}", "parameters.s", "pattern" },
                /* Beyond U+FFFF the readings of ECMA-262 differ: the provider's to match. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^[a-z]+$\"}}}", "{\"s\": \"\\ud83d\\ude00\"}",
                  NULL, NULL },
                /* Only strings. */
                { "{\"properties\": {\"s\": {\"pattern\": \"^[a-z]+$\"}}}", "{\"s\": 5}", NULL, NULL },
        };
        (void)state;
        RUN(cases);
}

static void test_pattern_properties(void **state) {
        static const char schema[] = "{\"properties\": {\"name\": {\"type\": \"string\"}},"
                                     " \"patternProperties\": {\"^x-\": {\"type\": \"string\"}, \"_id$\": "
                                     "{\"type\": \"integer\"}},"
                                     " \"additionalProperties\": false}";
        static const char open_schema[] = "{\"patternProperties\": {\"^x-\": {\"type\": \"string\"}},"
                                          " \"additionalProperties\": {\"type\": \"boolean\"}}";
        static const char untranslated[] = "{\"patternProperties\": {\"^(?=x)\": {\"type\": \"string\"}}, "
                                           "\"additionalProperties\": false}";
        static const Case cases[] = {
                { schema, "{\"name\": \"a\", \"x-team\": \"b\", \"owner_id\": 3}", NULL, NULL },
                { schema, "{\"x-team\": 3}", "parameters.x-team", "string" },
                { schema, "{\"owner_id\": \"hunter2\"}", "parameters.owner_id", "integer" },
                /* Both patterns: both apply. */
                { schema, "{\"x-a_id\": 3}", "parameters.x-a_id", "string" },
                { schema, "{\"other\": 1}", "parameters.other", "not a parameter" },
                /* Patterns search: "x-" in the middle is not at the start. */
                { schema, "{\"a-x-b\": \"s\"}", "parameters.a-x-b", "not a parameter" },
                { open_schema, "{\"x-a\": \"s\", \"other\": true}", NULL, NULL },
                { open_schema, "{\"other\": 1}", "parameters.other", "boolean" },
                /* A name matched by a pattern is not an additional one. */
                { open_schema, "{\"x-a\": \"s\"}", NULL, NULL },
                /* A pattern not run here might name the member: not refused as additional. */
                { untranslated, "{\"x\": 1, \"y\": 2}", NULL, NULL },
        };
        (void)state;
        RUN(cases);
}

/* More patterns than the walk keeps compiled: the others are compiled for each use, same answers. */
static void test_many_patterns(void **state) {
        json_t *pp = json_object(), *schema;
        char key[16];
        CbError err;
        (void)state;
        for (int i = 0; i < 40; i++) {
                snprintf(key, sizeof(key), "^k%d$", i);
                json_object_set_new(pp, key, json_pack("{s:s}", "type", "integer"));
        }
        schema = json_pack("{s:o, s:b}", "patternProperties", pp, "additionalProperties", 0);
        assert_int_equal(check("{\"k0\": 1, \"k39\": 2, \"k17\": 3}", schema, &err), 0);
        assert_true(check("{\"k0\": 1, \"k39\": \"hunter2\"}", schema, &err) < 0);
        assert_string_equal(err.field, "parameters.k39");
        assert_true(check("{\"k40\": 1}", schema, &err) < 0);
        assert_string_equal(err.field, "parameters.k40");
        assert_non_null(strstr(err.message, "not a parameter"));
        json_decref(schema);
}

/* A pattern costs steps by the length of the text and the size of the
 * pattern: the same long pattern run again and again over long strings
 * runs out of budget rather than time. */
static void test_pattern_budget(void **state) {
        json_t *schema, *doc = json_object(), *one;
        char name[16], text[1500];
        CbError err = CB_ERROR_INIT;
        (void)state;
        one = json_pack("{s:s}", "pattern", "(a|b){0,700}c");
        schema = json_pack("{s:{s:[O,O,O,O,O]}}", "additionalProperties", "allOf", one, one, one, one, one);
        json_decref(one);
        memset(text, 'a', sizeof(text) - 2);
        text[sizeof(text) - 2] = 'c';
        text[sizeof(text) - 1] = 0;
        for (int i = 0; i < 10; i++) {
                snprintf(name, sizeof(name), "k%d", i);
                json_object_set_new(doc, name, json_string(text));
        }
        assert_true(osb_params_check(doc, schema, &err) < 0);
        assert_non_null(strstr(err.message, "steps at most"));
        json_decref(schema);
        json_decref(doc);
}

/* Tuples: the positions the list does not name, under additionalItems. */
static void test_additional_items(void **state) {
        static const char closed[] =
                "{\"properties\": {\"t\": {\"items\": [{\"type\": \"string\"}, {\"type\": "
                "\"integer\"}], \"additionalItems\": false}}}";
        static const char typed[] = "{\"properties\": {\"t\": {\"items\": [{\"type\": \"string\"}], "
                                    "\"additionalItems\": {\"type\": \"boolean\"}}}}";
        static const char one_schema[] = "{\"properties\": {\"t\": {\"items\": {\"type\": \"string\"}, "
                                         "\"additionalItems\": false}}}";
        static const Case cases[] = {
                { closed, "{\"t\": [\"a\", 1]}", NULL, NULL },
                { closed, "{\"t\": [\"a\"]}", NULL, NULL },
                { closed, "{\"t\": [\"a\", 1, 2]}", "parameters.t[2]", "additionalItems" },
                { typed, "{\"t\": [\"a\", true, false]}", NULL, NULL },
                { typed, "{\"t\": [\"a\", true, 3]}", "parameters.t[2]", "boolean" },
                /* With one schema for every item, additionalItems means nothing (draft 4). */
                { one_schema, "{\"t\": [\"a\", \"b\", \"c\"]}", NULL, NULL },
        };
        (void)state;
        RUN(cases);
}

/* A member that brings others with it, or a schema for the whole object. */
static void test_dependencies(void **state) {
        static const char names[] = "{\"dependencies\": {\"backup\": [\"window\", \"retention_days\"]}}";
        static const char schema_dep[] = "{\"dependencies\": {\"replicas\": {\"properties\": {\"mode\": "
                                         "{\"enum\": [\"sync\", \"async\"]}}, \"required\": [\"mode\"]}}}";
        static const char later[] = "{\"dependentRequired\": {\"ssl\": [\"ca\"]}, \"dependentSchemas\": "
                                    "{\"ssl\": {\"properties\": {\"ca\": {\"type\": \"string\"}}}}}";
        static const char nested[] =
                "{\"properties\": {\"net\": {\"dependencies\": {\"vip\": [\"subnet\"]}}}}";
        static const Case cases[] = {
                { names, "{\"backup\": true, \"window\": \"02:00\", \"retention_days\": 7}", NULL, NULL },
                { names, "{\"window\": \"02:00\"}", NULL, NULL }, /* no backup: nothing brought */
                { names, "{\"backup\": true, \"window\": \"02:00\"}", "parameters.retention_days",
                  "required with member 'backup' (dependencies)" },
                { schema_dep, "{\"replicas\": 2, \"mode\": \"sync\"}", NULL, NULL },
                { schema_dep, "{\"mode\": \"other\"}", NULL,
                  NULL }, /* no replicas: the schema does not apply */
                { schema_dep, "{\"replicas\": 2}", "parameters.mode", "dependencies of member 'replicas'" },
                { schema_dep, "{\"replicas\": 2, \"mode\": \"other\"}", "parameters.mode", "enum" },
                { later, "{\"ssl\": true, \"ca\": \"pem\"}", NULL, NULL },
                { later, "{\"ssl\": true}", "parameters.ca", "dependentRequired" },
                { later, "{\"ssl\": true, \"ca\": 5}", "parameters.ca", "dependentSchemas" },
                { nested, "{\"net\": {\"vip\": \"10.0.0.9\"}}", "parameters.net.subnet", "dependencies" },
        };
        (void)state;
        RUN(cases);
}

/* format: the ones json-format.h reads are checked, the rest are the provider's. */
static void test_format(void **state) {
        static const char net[] =
                "{\"properties\": {\"ip\": {\"format\": \"ipv4\"}, \"at\": {\"format\": \"date-time\"}, "
                "\"mail\": {\"format\": \"email\"}, \"re\": {\"format\": \"regex\"}, \"n\": {\"format\": "
                "\"ipv4\"}}}";
        static const Case cases[] = {
                { net,
                  "{\"ip\": \"10.0.0.9\", \"at\": \"2026-12-05T08:30:00+08:00\", \"mail\": "
                  "\"ops@linfen.gov.cn\"}",
                  NULL, NULL },
                { net, "{\"ip\": \"10.0.0.256\"}", "parameters.ip",
                  "not an IPv4 address (dotted decimal) (format)" },
                { net, "{\"at\": \"2026-02-30T08:30:00Z\"}", "parameters.at", "RFC 3339 date-time" },
                { net, "{\"mail\": \"hunter2\"}", "parameters.mail", "e-mail address" },
                /* Not read here: the provider's to judge. */
                { net, "{\"re\": \"(unclosed\"}", NULL, NULL },
                /* format applies to strings alone. */
                { net, "{\"n\": 5}", NULL, NULL },
        };
        (void)state;
        RUN(cases);
}

/* contains, and the counts 2019-09 adds to it. */
static void test_contains(void **state) {
        static const char one[] = "{\"properties\": {\"zones\": {\"contains\": {\"const\": \"primary\"}}}}";
        static const char counted[] =
                "{\"properties\": {\"nodes\": {\"contains\": {\"properties\": {\"role\": "
                "{\"const\": \"master\"}}, \"required\": [\"role\"]}, \"minContains\": 1, "
                "\"maxContains\": 1}}}";
        static const char two[] = "{\"properties\": {\"l\": {\"contains\": {\"type\": \"integer\"}, "
                                  "\"minContains\": 2}}}";
        static const char none[] = "{\"properties\": {\"l\": {\"contains\": {\"type\": \"integer\"}, "
                                   "\"minContains\": 0}}}";
        static const Case cases[] = {
                { one, "{\"zones\": [\"backup\", \"primary\"]}", NULL, NULL },
                { one, "{\"zones\": [\"backup\"]}", "parameters.zones", "no item that meets" },
                { one, "{\"zones\": []}", "parameters.zones", "(contains)" },
                { counted, "{\"nodes\": [{\"role\": \"master\"}, {\"role\": \"replica\"}]}", NULL, NULL },
                { counted, "{\"nodes\": [{\"role\": \"master\"}, {\"role\": \"master\"}]}",
                  "parameters.nodes",
                  "has 2 items that meet the schema's contains, at most 1 wanted (maxContains)" },
                { two, "{\"l\": [1, \"a\", 2]}", NULL, NULL },
                { two, "{\"l\": [1, \"a\"]}", "parameters.l",
                  "has 1 items that meet the schema's contains, at least 2" },
                { none, "{\"l\": [\"a\"]}", NULL, NULL },
        };
        (void)state;
        RUN(cases);
}

/* if/then/else: the branch the value's fit to "if" picks. */
static void test_conditional(void **state) {
        static const char ha[] =
                "{\"if\": {\"properties\": {\"ha\": {\"const\": true}}, \"required\": [\"ha\"]}, "
                "\"then\": {\"required\": [\"replicas\"], \"properties\": {\"replicas\": "
                "{\"minimum\": 2}}}, \"else\": {\"properties\": {\"replicas\": {\"maximum\": 1}}}}";
        static const char only_if[] = "{\"if\": {\"required\": [\"a\"]}}";
        static const Case cases[] = {
                { ha, "{\"ha\": true, \"replicas\": 3}", NULL, NULL },
                { ha, "{\"ha\": true}", "parameters.replicas", "(then: the value meets the schema's if)" },
                { ha, "{\"ha\": true, \"replicas\": 1}", "parameters.replicas", "less than the minimum 2" },
                { ha, "{\"replicas\": 1}", NULL, NULL },
                { ha, "{\"ha\": false, \"replicas\": 2}", "parameters.replicas",
                  "(else: the value does not meet the schema's if)" },
                { only_if, "{}", NULL, NULL },
        };
        (void)state;
        RUN(cases);
}

/* propertyNames, and draft 6's true and false as schemas. */
static void test_names_and_booleans(void **state) {
        static const char names[] = "{\"properties\": {\"labels\": {\"propertyNames\": {\"pattern\": "
                                    "\"^[a-z][a-z0-9_]{0,15}$\"}}}}";
        static const char booleans[] =
                "{\"properties\": {\"legacy\": false, \"any\": true, \"t\": {\"items\": "
                "[{\"type\": \"string\"}, false]}}}";
        static const Case cases[] = {
                { names, "{\"labels\": {\"owner\": \"oa\", \"tier_2\": \"x\"}}", NULL, NULL },
                { names, "{\"labels\": {\"Owner\": \"oa\"}}", "parameters.labels.Owner",
                  "pattern) (the provider's schema) (the member's name, propertyNames)" },
                { booleans, "{\"any\": [1, {\"x\": null}], \"t\": [\"a\"]}", NULL, NULL },
                { booleans, "{\"legacy\": 1}", "parameters.legacy", "allowed by no schema here (false)" },
                { booleans, "{\"t\": [\"a\", 2]}", "parameters.t[1]", "(false)" },
        };
        (void)state;
        RUN(cases);
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
                cmocka_unit_test(test_combinators),
                cmocka_unit_test(test_ref),
                cmocka_unit_test(test_ref_depth),
                cmocka_unit_test(test_ref_chain_bound),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_unique_long),
                cmocka_unit_test(test_pattern),
                cmocka_unit_test(test_pattern_properties),
                cmocka_unit_test(test_many_patterns),
                cmocka_unit_test(test_pattern_budget),
                cmocka_unit_test(test_additional_items),
                cmocka_unit_test(test_dependencies),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_contains),
                cmocka_unit_test(test_conditional),
                cmocka_unit_test(test_names_and_booleans),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
