/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The approval document: one valid document, then one change at a time
 * that must be refused with the right kind and JSON path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "approval.h"

static const char valid_doc[] =
        "{\n"
        "  \"approval_no\": \"临政信审〔2026〕12号\",\n"
        "  \"project_id\": \"lf-edu-cloud-2026\",\n"
        "  \"project_name\": \"临汾市教育资源公共服务平台迁移上云项目\",\n"
        "  \"department\": \"edu\",\n"
        "  \"revision\": 2,\n"
        "  \"valid_from\": \"2026-01-01\",\n"
        "  \"valid_until\": \"2026-12-31\",\n"
        "  \"budget\": {\"construction_fen\": 120000000, \"om_fen\": 36000000},\n"
        "  \"systems\": [\"edu-resource-platform\", \"edu-exam\"],\n"
        "  \"items\": [\n"
        "    {\"service_id\": \"ecs-general\", \"plan_id\": \"c4m8\", \"quantity\": 6},\n"
        "    {\"service_id\": \"ecs-general\", \"plan_id\": \"c8m16\", \"quantity\": 2},\n"
        "    {\"service_id\": \"rds-mysql\", \"plan_id\": \"ha-8c16g\", \"quantity\": 1}\n"
        "  ],\n"
        "  \"requires_secure_controllable\": true,\n"
        "  \"dedicated_network_consent\": false\n"
        "}\n";

static json_t *valid(void) {
        json_error_t e;
        json_t *j = json_loads(valid_doc, 0, &e);
        if (!j)
                fail_msg("valid_doc: %d:%d: %s", e.line, e.column, e.text);
        return j;
}

static json_t *item(json_t *doc, size_t i) {
        json_t *it = json_array_get(json_object_get(doc, "items"), i);
        assert_non_null(it);
        return it;
}

static json_t *budget(json_t *doc) {
        return json_object_get(doc, "budget");
}

static Approval *parse_ok(json_t *doc) {
        CbError err = CB_ERROR_INIT;
        Approval *a = NULL;
        char *s = json_dumps(doc, 0);
        assert_non_null(s);
        int r = approval_parse(s, strlen(s), &a, &err);
        if (r < 0)
                fail_msg("refused: %s (field %s)", err.message, err.field);
        free(s);
        json_decref(doc);
        return a;
}

/* Consumes doc. Checks the kind, the field, that the message names the
 * field, and that nothing was handed out. */
static void refused(json_t *doc, const char *field) {
        CbError err = CB_ERROR_INIT;
        Approval *a = (Approval *)0x1;
        char *s = json_dumps(doc, JSON_ENCODE_ANY);
        assert_non_null(s);
        int r = approval_parse(s, strlen(s), &a, &err);
        if (r >= 0)
                fail_msg("accepted, expected refusal at %s: %s", field, s);
        assert_int_equal(r, -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        if (!streq(err.field, field))
                fail_msg("refused at \"%s\" (%s), expected \"%s\"", err.field, err.message, field);
        if (*field)
                assert_non_null(strstr(err.message, field));
        assert_ptr_equal(a, (Approval *)0x1);
        free(s);
        json_decref(doc);
}

static void refused_set(const char *name, json_t *value, const char *field) {
        json_t *d = valid();
        json_object_set_new(d, name, value);
        refused(d, field);
}

static void malformed(const char *text, size_t len, const char *where) {
        CbError err = CB_ERROR_INIT;
        Approval *a = NULL;
        assert_int_equal(approval_parse(text, len, &a, &err), -EBADMSG);
        assert_int_equal(err.kind, CB_ERR_MALFORMED_JSON);
        assert_string_equal(err.field, "");
        if (!strstr(err.message, where))
                fail_msg("\"%s\" lacks \"%s\"", err.message, where);
        assert_null(a);
}

static void test_valid(void **state) {
        (void)state;
        _cleanup_(approval_freep) Approval *a = NULL;
        CbError err = CB_ERROR_INIT;

        assert_int_equal(approval_parse(valid_doc, strlen(valid_doc), &a, &err), 0);
        assert_string_equal(a->approval_no, "临政信审〔2026〕12号");
        assert_string_equal(a->project_id, "lf-edu-cloud-2026");
        assert_string_equal(a->project_name, "临汾市教育资源公共服务平台迁移上云项目");
        assert_string_equal(a->department, "edu");
        assert_int_equal(a->revision, 2);
        assert_string_equal(a->valid_from, "2026-01-01");
        assert_string_equal(a->valid_until, "2026-12-31");
        assert_int_equal(a->construction_fen, 120000000);
        assert_int_equal(a->om_fen, 36000000);
        assert_int_equal(a->n_systems, 2);
        assert_string_equal(a->systems[1], "edu-exam");
        assert_int_equal(a->n_items, 3);
        assert_string_equal(a->items[2].service_id, "rds-mysql");
        assert_string_equal(a->items[2].plan_id, "ha-8c16g");
        assert_int_equal(a->items[2].quantity, 1);
        assert_true(a->requires_secure_controllable);
        assert_false(a->dedicated_network_consent);

        assert_int_equal(approval_find_item(a, "ecs-general", "c8m16")->quantity, 2);
        assert_null(approval_find_item(a, "ecs-general", "ha-8c16g"));
        assert_null(approval_find_item(a, "rds-mysql", "c4m8"));
        assert_true(approval_lists_system(a, "edu-exam"));
        assert_false(approval_lists_system(a, "edu"));

        /* the dump is the document */
        json_t *orig = valid(), *back = approval_to_json(a);
        assert_non_null(back);
        assert_true(json_equal(orig, back));
        _cleanup_(approval_freep) Approval *again = parse_ok(back);
        assert_string_equal(again->project_name, a->project_name);
        json_decref(orig);

        assert_null(approval_free(NULL));
}

static void test_valid_edges(void **state) {
        (void)state;
        char s64[65], s63[64];
        memset(s64, 'x', 64);
        s64[64] = 0;
        memset(s63, '9', 63);
        s63[63] = 0;

        json_t *d = valid();
        json_object_set_new(d, "approval_no", json_string(s64));
        json_object_set_new(d, "project_id", json_string(s63));
        json_object_set_new(d, "valid_from", json_string("2024-02-29"));
        json_object_set_new(d, "valid_until", json_string("2024-02-29")); /* a one-day approval */
        json_object_set_new(d, "systems", json_array());                  /* infrastructure only */
        json_object_set_new(budget(d), "construction_fen", json_integer(0));
        json_object_set_new(budget(d), "om_fen", json_integer(APPROVAL_FEN_MAX));
        json_object_set_new(item(d, 0), "quantity", json_integer(APPROVAL_QUANTITY_MAX));
        Approval *a = parse_ok(d);
        assert_int_equal(a->n_systems, 0);
        assert_int_equal(a->construction_fen, 0);
        assert_int_equal(a->om_fen, APPROVAL_FEN_MAX);
        json_t *back = approval_to_json(a);
        assert_int_equal(json_array_size(json_object_get(back, "systems")), 0);
        json_decref(back);
        approval_free(a);
}

static void test_malformed_json(void **state) {
        (void)state;
        malformed("{\"approval_no\": }", 17, "1:17:");
        malformed("{\n  \"revision\": 1,\n  \"items\": [\n}", 33, "4:1:");
        malformed(valid_doc, strlen(valid_doc) - 3, "malformed JSON at");
        malformed("{} {}", 5, "malformed JSON at 1:");
        malformed("", 0, "malformed JSON at");
        /* one key twice: which one did the authority sign? */
        malformed("{\"revision\": 1, \"revision\": 3}", 30, "duplicate");
        /* not UTF-8 */
        malformed("{\"project_name\": \"\xff\xfe\"}", 22, "malformed JSON at");
        /* a NUL byte inside the input */
        malformed("{\"a\": 1}\0{}", 11, "malformed JSON at");
}

static void test_not_an_object(void **state) {
        (void)state;
        refused(json_array(), "");
        refused(json_string("approval"), "");
}

static void test_unknown_and_missing_fields(void **state) {
        (void)state;
        static const char *const fields[] = {
                "approval_no",
                "project_id",
                "project_name",
                "department",
                "revision",
                "valid_from",
                "valid_until",
                "budget",
                "systems",
                "items",
                "requires_secure_controllable",
                "dedicated_network_consent",
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                json_t *d = valid();
                assert_int_equal(json_object_del(d, fields[i]), 0);
                refused(d, fields[i]);
        }

        refused_set("comment", json_string("urgent"), "comment");
        /* a misspelling is reported as the unknown field, not the missing one */
        json_t *d = valid();
        json_object_set(d, "requires_secure_controlable", json_object_get(d, "requires_secure_controllable"));
        json_object_del(d, "requires_secure_controllable");
        refused(d, "requires_secure_controlable");
}

static void test_strings(void **state) {
        (void)state;
        char s65[66];
        memset(s65, 'x', 65);
        s65[65] = 0;

        refused_set("approval_no", json_string(""), "approval_no");
        refused_set("approval_no", json_string(s65), "approval_no");
        refused_set("approval_no", json_string("LF\n2026"), "approval_no");
        refused_set("approval_no", json_integer(12), "approval_no");
        refused_set("project_name", json_string(""), "project_name");
        refused_set("project_name", json_null(), "project_name");
        refused_set("project_name", json_string("tab\there"), "project_name");
}

static void test_ids(void **state) {
        (void)state;
        char s64[65];
        memset(s64, 'a', 64);
        s64[64] = 0;

        refused_set("project_id", json_string("Edu-Cloud"), "project_id");
        refused_set("project_id", json_string("edu_cloud"), "project_id");
        refused_set("project_id", json_string(s64), "project_id");
        refused_set("project_id", json_string(""), "project_id");
        refused_set("department", json_string("教育局"), "department");
        refused_set("department", json_string("edu "), "department");
        refused_set("department", json_true(), "department");

        assert_true(approval_id_valid("a-1"));
        assert_true(approval_id_valid("-"));
        assert_false(approval_id_valid(""));
        assert_false(approval_id_valid(NULL));
        assert_false(approval_id_valid("a.b"));
        assert_false(approval_id_valid("a/b"));
}

static void test_revision(void **state) {
        (void)state;
        refused_set("revision", json_integer(0), "revision");
        refused_set("revision", json_integer(-1), "revision");
        refused_set("revision", json_real(1.0), "revision");
        refused_set("revision", json_string("1"), "revision");
        refused_set("revision", json_integer(APPROVAL_REVISION_MAX + 1), "revision");
}

static void test_dates(void **state) {
        (void)state;
        static const char *const bad[] = {
                "2026-02-30", "2026-02-29",          "2100-02-29", "2026-04-31",     "2026-13-01",
                "2026-00-10", "2026-01-00",          "2026-1-01",  "2026-01-1",      "26-01-01",
                "2026/01/01", "2026-01-01T00:00:00", "0000-01-01", "２０２６-01-01", "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                refused_set("valid_from", json_string(bad[i]), "valid_from");

        static const char *const good[] = { "2000-02-29", "2024-02-29", "2026-04-30", "2026-12-31" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                json_t *d = valid();
                json_object_set_new(d, "valid_from", json_string(good[i]));
                json_object_set_new(d, "valid_until", json_string("2099-01-01"));
                Approval *a = parse_ok(d);
                assert_string_equal(a->valid_from, good[i]);
                approval_free(a);
        }

        refused_set("valid_until", json_string("2026-02-30"), "valid_until");
        refused_set("valid_until", json_integer(20261231), "valid_until");
        /* the window must not end before it starts */
        refused_set("valid_until", json_string("2025-12-31"), "valid_until");
}

static void test_budget(void **state) {
        (void)state;
        refused_set("budget", json_integer(100), "budget");
        refused_set("budget", json_array(), "budget");

        json_t *d = valid();
        json_object_del(budget(d), "om_fen");
        refused(d, "budget.om_fen");

        d = valid();
        json_object_set_new(budget(d), "tax_fen", json_integer(1));
        refused(d, "budget.tax_fen");

        d = valid();
        json_object_set_new(budget(d), "construction_fen", json_integer(-1));
        refused(d, "budget.construction_fen");

        d = valid();
        json_object_set_new(budget(d), "om_fen", json_real(100.5));
        refused(d, "budget.om_fen");

        d = valid();
        json_object_set_new(budget(d), "om_fen", json_integer(APPROVAL_FEN_MAX + 1));
        refused(d, "budget.om_fen");
}

static void test_systems(void **state) {
        (void)state;
        refused_set("systems", json_string("edu-exam"), "systems");
        refused_set("systems", json_pack("[s, s]", "edu-exam", "Edu Exam"), "systems[1]");
        refused_set("systems", json_pack("[s, i]", "edu-exam", 7), "systems[1]");
        refused_set("systems", json_pack("[s, s, s]", "a", "b", "a"), "systems[2]");
}

static void test_items(void **state) {
        (void)state;
        json_t *d;

        refused_set("items", json_array(), "items");
        refused_set("items", json_object(), "items");

        d = valid();
        json_array_set_new(json_object_get(d, "items"), 1, json_string("ecs-general"));
        refused(d, "items[1]");

        d = valid();
        json_object_set_new(item(d, 2), "quantity", json_integer(0));
        refused(d, "items[2].quantity");

        d = valid();
        json_object_set_new(item(d, 2), "quantity", json_integer(APPROVAL_QUANTITY_MAX + 1));
        refused(d, "items[2].quantity");

        d = valid();
        json_object_set_new(item(d, 1), "quantity", json_string("2"));
        refused(d, "items[1].quantity");

        d = valid();
        json_object_del(item(d, 0), "service_id");
        refused(d, "items[0].service_id");

        d = valid();
        json_object_set_new(item(d, 0), "price_fen", json_integer(100));
        refused(d, "items[0].price_fen");

        d = valid();
        json_object_set_new(item(d, 1), "plan_id", json_string("C8M16"));
        refused(d, "items[1].plan_id");

        /* the same service and plan twice: which quantity holds? */
        d = valid();
        json_object_set_new(item(d, 1), "plan_id", json_string("c4m8"));
        refused(d, "items[1]");
}

static void test_booleans(void **state) {
        (void)state;
        refused_set("requires_secure_controllable", json_string("yes"), "requires_secure_controllable");
        refused_set("requires_secure_controllable", json_integer(1), "requires_secure_controllable");
        refused_set("dedicated_network_consent", json_integer(0), "dedicated_network_consent");
        refused_set("dedicated_network_consent", json_null(), "dedicated_network_consent");
}

static void test_from_json(void **state) {
        (void)state;
        CbError err = CB_ERROR_INIT;
        Approval *a = NULL;
        json_t *d = valid();

        assert_int_equal(approval_from_json(d, &a, &err), 0);
        assert_int_equal(a->n_items, 3);
        approval_free(a);

        /* strings built in memory may hold a NUL that parsing never lets through */
        a = NULL;
        json_object_set_new(d, "department", json_stringn("edu\0x", 5));
        assert_int_equal(approval_from_json(d, &a, &err), -EINVAL);
        assert_string_equal(err.field, "department");
        json_object_set_new(d, "department", json_string("edu"));
        json_object_set_new(d, "project_name", json_stringn("a\0b", 3));
        assert_int_equal(approval_from_json(d, &a, &err), -EINVAL);
        assert_string_equal(err.field, "project_name");
        assert_null(a);
        json_decref(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_valid_edges),
                cmocka_unit_test(test_malformed_json),
                cmocka_unit_test(test_not_an_object),
                cmocka_unit_test(test_unknown_and_missing_fields),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_ids),
                cmocka_unit_test(test_revision),
                cmocka_unit_test(test_dates),
                cmocka_unit_test(test_budget),
                cmocka_unit_test(test_systems),
                cmocka_unit_test(test_items),
                cmocka_unit_test(test_booleans),
                cmocka_unit_test(test_from_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
