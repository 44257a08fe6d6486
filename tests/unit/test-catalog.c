/* SPDX-License-Identifier: Apache-2.0 */
/* The catalogue's life cycle on a temporary store: draft, submit, the two
 * sign-offs (two principals; the same one twice counts once), publication,
 * a new revision beside the one in force, deprecation and retirement; and
 * the refusals of each step, which change nothing but the audit trail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "store.h"

static char tmpdir[] = "/tmp/cbcatalog.XXXXXX";
static Store *store;
static Catalog *cat;

static Principal p_operator = { .name = "op", .roles = CB_ROLE_OPERATOR };
static Principal p_authority = { .name = "auth", .roles = CB_ROLE_AUTHORITY };
static Principal p_both = { .name = "auth-fin", .roles = CB_ROLE_AUTHORITY | CB_ROLE_FINANCE };
static Principal p_finance = { .name = "fin", .roles = CB_ROLE_FINANCE };
static Principal p_edu = { .name = "edu", .department = "edu", .roles = CB_ROLE_DEPARTMENT };
#define CALLER(p) (&(CbCaller){ .principal = &(p), .face = "test" })

static int setup(void **state) {
        CbError err = CB_ERROR_INIT;
        char *path;
        (void)state;
        if (!mkdtemp(tmpdir) || asprintf(&path, "%s/catalog.db", tmpdir) < 0)
                return -1;
        int r = store_open(path, &store, &err);
        free(path);
        if (r < 0 || catalog_new(store, &cat) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        catalog_free(cat);
        store_free(store);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* A shipped service under another id (the tests run from the top folder). */
static json_t *doc(void) {
        json_t *d = json_load_file("etc/catalog/dcs-redis.json", 0, NULL);
        assert_non_null(d);
        json_object_set_new(d, "id", json_string("rds-test"));
        json_object_set_new(d, "description", json_string("a database for the unit test"));
        return d;
}

static const char *status_of(const json_t *v) {
        return json_string_value(json_object_get(v, "status"));
}

static int audit_count(const char *action, const char *outcome) {
        sqlite3_stmt *st;
        int n = -1;
        assert_int_equal(sqlite3_prepare_v2(store_db(store),
                                            "SELECT COUNT(*) FROM audit WHERE action = ?1 AND outcome = ?2",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return n;
}

static void test_life_cycle(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *d = doc(), *v = NULL;
        uint64_t gen;
        (void)state;

        /* A department may not draft; the refusal is on record, nothing else. */
        assert_int_equal(catalog_create(cat, CALLER(p_edu), d, &v, &err), -cb_error_errno(CB_ERR_FORBIDDEN));
        assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        cb_error_clear(&err);
        assert_false(catalog_exists(cat, CALLER(p_operator), "rds-test"));
        assert_int_equal(audit_count("catalog.create", "forbidden"), 1);

        assert_int_equal(catalog_create(cat, CALLER(p_operator), d, &v, &err), 0);
        assert_string_equal(status_of(v), "draft");
        /* A draft exists for the insiders only: to a department it is an unknown id. */
        assert_true(catalog_exists(cat, CALLER(p_operator), "rds-test"));
        assert_false(catalog_exists(cat, CALLER(p_edu), "rds-test"));
        json_decref(v);
        /* The same id again is a conflict. */
        assert_int_equal(catalog_create(cat, CALLER(p_operator), d, &v, &err),
                         -cb_error_errno(CB_ERR_CONFLICT));
        cb_error_clear(&err);

        /* A draft is not published: the published list and the public read do not show it. */
        assert_int_equal(catalog_get_published(cat, "rds-test", &v), -ENOENT);
        assert_int_equal(catalog_get(cat, CALLER(p_edu), "rds-test", 0, &v, &err),
                         -cb_error_errno(CB_ERR_NOT_FOUND));
        cb_error_clear(&err);

        /* Sign-off needs a submitted revision. */
        assert_int_equal(catalog_approve(cat, CALLER(p_authority), "rds-test", &v, &err),
                         -cb_error_errno(CB_ERR_CONFLICT));
        cb_error_clear(&err);
        assert_int_equal(catalog_submit(cat, CALLER(p_operator), "rds-test", &v, &err), 0);
        assert_string_equal(status_of(v), "submitted");
        json_decref(v);

        /* One principal holding both roles counts once: still submitted. */
        assert_int_equal(catalog_approve(cat, CALLER(p_both), "rds-test", &v, &err), 0);
        json_decref(v);
        assert_int_equal(catalog_approve(cat, CALLER(p_both), "rds-test", &v, &err), 0);
        assert_string_equal(status_of(v), "submitted");
        assert_int_equal(json_array_size(json_object_get(v, "signoffs")), 1);
        json_decref(v);

        /* A second principal of the other role publishes it. */
        gen = catalog_generation(cat);
        assert_int_equal(catalog_approve(cat, CALLER(p_finance), "rds-test", &v, &err), 0);
        assert_string_equal(status_of(v), "published");
        json_decref(v);
        assert_true(catalog_generation(cat) > gen);
        assert_int_equal(catalog_get_published(cat, "rds-test", &v), 0);
        assert_int_equal(json_integer_value(json_object_get(v, "revision")), 1);
        json_decref(v);

        /* A change to what is published is revision 2; revision 1 stays in force. */
        json_object_set_new(d, "description", json_string("a better database"));
        assert_int_equal(catalog_update(cat, CALLER(p_operator), "rds-test", d, &v, &err), 0);
        json_decref(v);
        assert_int_equal(catalog_get_published(cat, "rds-test", &v), 0);
        assert_int_equal(json_integer_value(json_object_get(v, "revision")), 1);
        assert_string_equal(json_string_value(json_object_get(v, "description")),
                            "a database for the unit test");
        json_decref(v);
        /* Read (and kept in memory) while published: the view kept must not
         * outlive the change that supersedes it (below). */
        assert_int_equal(catalog_get_revision(cat, "rds-test", 1, &v), 0);
        assert_string_equal(status_of(v), "published");
        json_decref(v);
        assert_int_equal(catalog_get_revision(cat, "rds-test", 1, &v), 0);
        assert_string_equal(status_of(v), "published");
        json_decref(v);
        assert_int_equal(catalog_submit(cat, CALLER(p_operator), "rds-test", &v, &err), 0);
        json_decref(v);
        assert_int_equal(catalog_approve(cat, CALLER(p_authority), "rds-test", &v, &err), 0);
        json_decref(v);
        assert_int_equal(catalog_approve(cat, CALLER(p_finance), "rds-test", &v, &err), 0);
        json_decref(v);
        assert_int_equal(catalog_get_published(cat, "rds-test", &v), 0);
        assert_int_equal(json_integer_value(json_object_get(v, "revision")), 2);
        assert_string_equal(json_string_value(json_object_get(v, "description")), "a better database");
        json_decref(v);
        assert_int_equal(catalog_get_revision(cat, "rds-test", 1, &v), 0);
        assert_string_equal(status_of(v), "superseded");
        json_decref(v);

        /* Retire needs deprecated first; each is the operator's. */
        assert_int_equal(catalog_retire(cat, CALLER(p_operator), "rds-test", &v, &err),
                         -cb_error_errno(CB_ERR_CONFLICT));
        cb_error_clear(&err);
        assert_int_equal(catalog_deprecate(cat, CALLER(p_finance), "rds-test", &v, &err),
                         -cb_error_errno(CB_ERR_FORBIDDEN));
        cb_error_clear(&err);
        assert_int_equal(catalog_deprecate(cat, CALLER(p_operator), "rds-test", &v, &err), 0);
        assert_string_equal(status_of(v), "deprecated");
        json_decref(v);
        assert_int_equal(catalog_retire(cat, CALLER(p_operator), "rds-test", &v, &err), 0);
        assert_string_equal(status_of(v), "retired");
        json_decref(v);
        /* Retired is the end: no further change. */
        assert_int_equal(catalog_update(cat, CALLER(p_operator), "rds-test", d, &v, &err),
                         -cb_error_errno(CB_ERR_CONFLICT));
        cb_error_clear(&err);

        /* Every change is on record once, refusals apart. */
        assert_int_equal(audit_count("catalog.create", "ok"), 1);
        assert_int_equal(audit_count("catalog.approve", "ok"), 5);
        assert_int_equal(audit_count("catalog.retire", "ok"), 1);
        json_decref(d);
}

static void test_invalid_documents(void **state) {
        CbError err = CB_ERROR_INIT;
        json_t *d = doc(), *v = NULL;
        (void)state;

        json_object_set_new(d, "id", json_string("Bad Id"));
        assert_int_equal(catalog_create(cat, CALLER(p_operator), d, &v, &err),
                         -cb_error_errno(CB_ERR_VALIDATION));
        assert_string_equal(err.field, "id");
        cb_error_clear(&err);
        json_object_set_new(d, "id", json_string("other-id"));
        json_object_set_new(d, "colour", json_string("blue"));
        assert_int_equal(catalog_create(cat, CALLER(p_operator), d, &v, &err),
                         -cb_error_errno(CB_ERR_VALIDATION));
        assert_string_equal(err.field, "colour");
        cb_error_clear(&err);
        assert_false(catalog_exists(cat, CALLER(p_operator), "other-id"));
        /* An update whose document names another service. */
        json_object_del(d, "colour");
        assert_int_equal(catalog_update(cat, CALLER(p_operator), "rds-test", d, &v, &err),
                         -cb_error_errno(CB_ERR_VALIDATION));
        assert_string_equal(err.field, "id");
        cb_error_clear(&err);
        json_decref(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_life_cycle),
                cmocka_unit_test(test_invalid_documents),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
