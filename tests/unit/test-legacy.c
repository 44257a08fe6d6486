/* SPDX-License-Identifier: Apache-2.0 */
/* The legacy register's Art. 35 facts as other modules read them (billing's
 * "migration overdue" per system, the policy engine's hold on orders, the
 * overdue list), against a real store: legacy_system_overdue(),
 * legacy_orders_held(), legacy_overdue_list(). Rows are written as the
 * register writes them; dates are fixed, so nothing here depends on today. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include <cmocka.h>

#include "legacy.h"

static char tmpdir[] = "/tmp/cblegacy.XXXXXX";

typedef struct Fixture {
        Store *store;
        Calendar *calendar;
        Legacy *lg;
        char *path;
} Fixture;

#define ROW(id, dept, state, deadline, plan)                                                          \
        "INSERT INTO legacy_systems (system_id, department, hosting_kind, hosting_location, source, " \
        "deadline, "                                                                                  \
        "state, plan, created_at, created_by, updated_at) VALUES ('" id "', '" dept                   \
        "', 'server-room', 'x', "                                                                     \
        "'{}', '" deadline "', '" state "', " plan ", '2026-01-01T00:00:00Z', 't', '2026-01-01T00:00:00Z');"

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        CbError err = CB_ERROR_INIT;

        assert_non_null(f);
        assert_int_equal(asprintf(&f->path, "%s/legacy.db", tmpdir) > 0, 1);
        assert_int_equal(store_open(f->path, &f->store, &err), 0);
        assert_int_equal(calendar_new(&f->calendar), 0);
        assert_int_equal(calendar_load_file(f->calendar, "etc/calendar/2026.txt", &err), 0);
        assert_int_equal(legacy_new(f->store, NULL, NULL, NULL, NULL, f->calendar, &f->lg), 0);
        assert_int_equal(
                store_exec(f->store,
                           /* due Tuesday 2026-02-24 (Spring Festival carries it) */
                           ROW("edu-oa", "edu", "planned", "2026-02-16", "NULL")
                           /* done, and exempt: never overdue */
                           ROW("edu-web", "edu", "verified", "2026-01-05", "NULL")
                                   ROW("edu-old", "edu", "exempt", "2026-01-05", "NULL")
                           /* moves in project edu-move */
                           ROW("edu-db", "edu", "planned", "2026-09-30", "'{\"project_id\": \"edu-move\"}'")
                                   ROW("health-his", "health", "cut-over", "2026-03-31", "NULL"),
                           &err),
                0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        legacy_free(f->lg);
        calendar_free(f->calendar);
        store_free(f->store);
        for (const char *suffix = ""; suffix; suffix = !*suffix                ? "-wal"
                                                       : streq(suffix, "-wal") ? "-shm"
                                                                               : NULL) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s%s", f->path, suffix);
                unlink(p);
        }
        free(f->path);
        free(f);
        return 0;
}

static void test_system_overdue(void **state) {
        Fixture *f = *state;
        LegacyOverdueFacts o;

        assert_int_equal(legacy_system_overdue(f->lg, "edu-oa", "2026-02-24", &o), 0);
        assert_true(o.registered);
        assert_false(o.overdue.overdue);
        assert_string_equal(o.overdue.due, "2026-02-24");
        assert_int_equal(legacy_system_overdue(f->lg, "edu-oa", "2026-03-03", &o), 0);
        assert_true(o.overdue.overdue);
        assert_int_equal(o.overdue.days_overdue, 7);
        assert_int_equal(o.state, LEGACY_PLANNED);
        assert_string_equal(o.deadline, "2026-02-16");
        assert_int_equal(legacy_system_overdue(f->lg, "edu-web", "2027-01-01", &o), 0);
        assert_false(o.overdue.overdue);
        assert_int_equal(legacy_system_overdue(f->lg, "edu-old", "2027-01-01", &o), 0);
        assert_false(o.overdue.overdue);
        /* A cut-over system is not verified yet: still overdue. */
        assert_int_equal(legacy_system_overdue(f->lg, "health-his", "2026-04-01", &o), 0);
        assert_true(o.overdue.overdue);
        assert_int_equal(legacy_system_overdue(f->lg, "no-such", "2026-04-01", &o), -ENOENT);
}

static void test_orders_held(void **state) {
        Fixture *f = *state;
        char due[11] = "", system[64] = "";
        bool held = true;

        /* Nothing overdue yet. */
        assert_int_equal(legacy_orders_held("edu", "edu-app", "2026-02-24", &held, due, system, f->lg), 0);
        assert_false(held);
        /* edu-oa overdue: edu's orders are held, naming it; health's are not. */
        assert_int_equal(legacy_orders_held("edu", "edu-app", "2026-02-25", &held, due, system, f->lg), 0);
        assert_true(held);
        assert_string_equal(system, "edu-oa");
        assert_string_equal(due, "2026-02-24");
        assert_int_equal(legacy_orders_held("health", "his-app", "2026-02-25", &held, due, system, f->lg), 0);
        assert_false(held);
        /* The migration project's orders are what moves the systems. */
        assert_int_equal(legacy_orders_held("edu", "edu-move", "2026-02-25", &held, due, system, f->lg), 0);
        assert_false(held);
        assert_int_equal(legacy_orders_held("edu", "edu-app", "2026-13-01", &held, due, system, f->lg),
                         -EINVAL);
}

static void test_overdue_list(void **state) {
        Fixture *f = *state;
        CbError err = CB_ERROR_INIT;
        json_t *a = NULL;

        assert_int_equal(legacy_overdue_list(f->lg, NULL, "2026-04-01", &a, &err), 0);
        assert_int_equal(json_array_size(a), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "system_id")), "edu-oa");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "days_overdue")), 36);
        assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "system_id")),
                            "health-his");
        json_decref(a);
        assert_int_equal(legacy_overdue_list(f->lg, "health", "2026-04-01", &a, &err), 0);
        assert_int_equal(json_array_size(a), 1);
        json_decref(a);
        /* The due day itself is on time. */
        assert_int_equal(legacy_overdue_list(f->lg, "edu", "2026-02-24", &a, &err), 0);
        assert_int_equal(json_array_size(a), 0);
        json_decref(a);
        assert_int_equal(legacy_overdue_list(f->lg, NULL, "soon", &a, &err), -EINVAL);
        assert_string_equal(err.field, "today");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_system_overdue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_orders_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_overdue_list, setup, teardown),
        };
        if (!mkdtemp(tmpdir))
                return 1;
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        rmdir(tmpdir);
        return r;
}
