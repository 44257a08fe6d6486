/* SPDX-License-Identifier: Apache-2.0 */
/* The legacy register's Art. 35 facts as other modules read them (billing's
 * "migration overdue" per system, the policy engine's hold on orders, the
 * summary), against a real store: legacy_system_overdue(),
 * legacy_orders_held(). Rows are written as the
 * register writes them; dates are fixed, so nothing here depends on today.
 * And the records the faces get (legacy_get, legacy_list, legacy_summary):
 * typed fields, and the one serializer's shape (rest_legacy_json); their
 * due and overdue are those of legacy_system_overdue on the same day. */
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

#include "date.h"
#include "legacy.h"
#include "rest-records.h"

static char tmpdir[] = "/tmp/cblegacy.XXXXXX";

static Principal migration_p = { .name = (char *)"t-migration", .roles = CB_ROLE_MIGRATION };
static Principal edu_p = { .name = (char *)"t-edu",
                           .department = (char *)"edu",
                           .roles = CB_ROLE_DEPARTMENT };
static Principal health_p = { .name = (char *)"t-health",
                              .department = (char *)"health",
                              .roles = CB_ROLE_DEPARTMENT };
static const CbCaller migration_c = { .principal = &migration_p, .face = "cli" };
static const CbCaller edu_c = { .principal = &edu_p, .face = "cli" };
static const CbCaller health_c = { .principal = &health_p, .face = "cli" };

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

/* The member names of o, in order, comma separated. */
static void keys_of(const json_t *o, char *buf, size_t size) {
        const char *k;
        json_t *v;
        buf[0] = 0;
        json_object_foreach((json_t *)o, k, v) {
                (void)v;
                if (buf[0])
                        strncat(buf, ",", size - strlen(buf) - 1);
                strncat(buf, k, size - strlen(buf) - 1);
        }
}

static void test_get_is_typed(void **state) {
        Fixture *f = *state;
        CbError err = CB_ERROR_INIT;
        LegacyRecord rec = { 0 };
        LegacyOverdueFacts facts;
        char today[DATE_LEN + 1], keys[512];

        assert_int_equal(legacy_get(f->lg, &migration_c, "edu-db", &rec, &err), 0);
        date_today_cst(today);
        assert_int_equal(legacy_system_overdue(f->lg, "edu-db", today, &facts), 0);
        assert_string_equal(rec.system_id, "edu-db");
        assert_string_equal(rec.department, "edu");
        assert_int_equal(rec.hosting, LEGACY_HOSTING_SERVER_ROOM);
        assert_string_equal(rec.location, "x");
        assert_int_equal(rec.state, LEGACY_PLANNED);
        assert_string_equal(rec.deadline, "2026-09-30");
        assert_null(rec.wave);
        assert_null(rec.state_reason);
        assert_null(rec.exemption);
        assert_null(rec.assessment);
        assert_true(json_is_object(rec.source));
        assert_string_equal(json_string_value(json_object_get(rec.plan, "project_id")), "edu-move");
        assert_string_equal(rec.due, facts.overdue.due);
        assert_int_equal(rec.overdue, facts.overdue.overdue);
        assert_int_equal(rec.days_overdue, facts.overdue.days_overdue);
        assert_false(rec.assessing);

        json_t *v = rest_legacy_json(&rec);
        assert_non_null(v);
        keys_of(v, keys, sizeof(keys));
        assert_string_equal(keys, "system_id,department,hosting,source,deadline,wave,state,state_reason,"
                                  "exemption,assessment,plan,due,overdue,days_overdue,created_at,created_by,"
                                  "updated_at");
        assert_string_equal(json_string_value(json_object_get(json_object_get(v, "hosting"), "kind")),
                            "server-room");
        assert_string_equal(json_string_value(json_object_get(v, "state")), "planned");
        assert_true(json_is_null(json_object_get(v, "wave")));
        assert_true(json_is_null(json_object_get(v, "assessment")));
        assert_string_equal(json_string_value(json_object_get(v, "due")), facts.overdue.due);
        json_decref(v);
        /* An assessment under way shows as a member of its own. */
        rec.assessing = true;
        v = rest_legacy_json(&rec);
        assert_true(json_is_true(json_object_get(v, "assessing")));
        json_decref(v);
        legacy_record_done(&rec);
        legacy_record_done(&rec); /* done leaves it empty: a second call is harmless */

        /* Another department's system is unknown to a department, its own is not. */
        assert_true(legacy_get(f->lg, &health_c, "edu-db", &rec, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_null(rec.system_id);
        cb_error_clear(&err);
        assert_int_equal(legacy_get(f->lg, &edu_c, "edu-db", &rec, &err), 0);
        legacy_record_done(&rec);
        assert_true(legacy_get(f->lg, &migration_c, "no-such", &rec, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        cb_error_clear(&err);
}

static void test_list_pages(void **state) {
        Fixture *f = *state;
        CbError err = CB_ERROR_INIT;
        LegacyList l = { 0 };
        char next[PAGE_TOKEN_MAX];
        const char *want[] = { "edu-db", "edu-oa", "edu-old", "edu-web", "health-his" };
        size_t seen = 0;
        Page page;

        assert_int_equal(page_parse("2", NULL, &page, &err), 0);
        for (int round = 0; round < 5; round++) {
                assert_int_equal(legacy_list(f->lg, &migration_c, NULL, NULL, &page, &l, next, &err), 0);
                assert_true(l.n <= 2);
                for (size_t i = 0; i < l.n; i++)
                        assert_string_equal(l.v[i].system_id, want[seen++]);
                json_t *a = rest_legacy_list_json(&l);
                assert_int_equal(json_array_size(a), l.n);
                json_decref(a);
                legacy_list_done(&l);
                if (!next[0])
                        break;
                assert_int_equal(page_parse("2", next, &page, &err), 0);
        }
        assert_int_equal(seen, 5);

        /* A department lists its own, whatever it asks for without a filter. */
        assert_int_equal(page_parse(NULL, NULL, &page, &err), 0);
        assert_int_equal(legacy_list(f->lg, &health_c, NULL, NULL, &page, &l, next, &err), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.v[0].system_id, "health-his");
        assert_int_equal(l.v[0].state, LEGACY_CUT_OVER);
        legacy_list_done(&l);
        assert_true(legacy_list(f->lg, &health_c, "edu", NULL, &page, &l, next, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        assert_int_equal(l.n, 0);
        cb_error_clear(&err);
}

static void test_summary_typed(void **state) {
        Fixture *f = *state;
        CbError err = CB_ERROR_INIT;
        LegacySummary sum = { 0 };
        char keys[512];

        assert_int_equal(legacy_summary(f->lg, &migration_c, NULL, &sum, &err), 0);
        assert_int_equal(sum.n_groups, 2);
        const LegacySummaryGroup *edu = &sum.groups[0], *health = &sum.groups[1];
        assert_string_equal(edu->department, "edu");
        assert_null(edu->wave);
        assert_int_equal(edu->total, 4);
        assert_int_equal(edu->done, 1); /* verified; exempt is not done */
        assert_int_equal(edu->counts[LEGACY_PLANNED], 2);
        assert_int_equal(edu->counts[LEGACY_VERIFIED], 1);
        assert_int_equal(edu->counts[LEGACY_EXEMPT], 1);
        assert_int_equal(edu->counts[LEGACY_REGISTERED], 0);
        assert_string_equal(health->department, "health");
        assert_int_equal(health->total, 1);
        assert_int_equal(health->counts[LEGACY_CUT_OVER], 1);

        json_t *v = rest_legacy_summary_json(&sum);
        assert_non_null(v);
        keys_of(v, keys, sizeof(keys));
        assert_string_equal(keys, "today,groups");
        const json_t *g = json_array_get(json_object_get(v, "groups"), 0);
        keys_of(g, keys, sizeof(keys));
        assert_string_equal(keys, "department,wave,total,done,counts,overdue");
        assert_true(json_is_null(json_object_get(g, "wave")));
        keys_of(json_object_get(g, "counts"), keys, sizeof(keys));
        assert_string_equal(
                keys, "registered,assessed,planned,migrating,cut-over,verified,decommissioned,failed,exempt");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(g, "counts"), "planned")), 2);
        assert_int_equal(json_array_size(json_object_get(g, "overdue")), edu->n_overdue);
        for (size_t i = 0; i < edu->n_overdue; i++) {
                const json_t *o = json_array_get(json_object_get(g, "overdue"), i);
                keys_of(o, keys, sizeof(keys));
                assert_string_equal(keys, "system_id,state,due,days_overdue");
                assert_string_equal(json_string_value(json_object_get(o, "system_id")),
                                    edu->overdue[i].system_id);
                assert_true(edu->overdue[i].days_overdue > 0);
        }
        json_decref(v);
        legacy_summary_done(&sum);

        assert_int_equal(legacy_summary(f->lg, &edu_c, NULL, &sum, &err), 0);
        assert_int_equal(sum.n_groups, 1);
        assert_string_equal(sum.groups[0].department, "edu");
        legacy_summary_done(&sum);
        assert_true(legacy_summary(f->lg, &edu_c, "health", &sum, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        assert_int_equal(sum.n_groups, 0);
        cb_error_clear(&err);
}

/* Retrying from failed returns to what assess and plan produced, and only
 * when they did: a stored document that is absent is no document. */
static void test_retry_from_failed(void **state) {
        Fixture *f = *state;
        CbError err = CB_ERROR_INIT;
        LegacyRecord rec = { 0 };
        json_t *to_assessed = json_pack("{s:s}", "state", "assessed");
        json_t *to_planned = json_pack("{s:s}", "state", "planned");

        assert_int_equal(store_exec(f->store,
                                    ROW("edu-bare", "edu", "failed", "2026-12-31", "NULL")
                                            ROW("edu-kept", "edu", "failed", "2026-12-31",
                                                "'{\"project_id\": \"edu-move\"}'"),
                                    &err),
                         0);
        assert_true(legacy_transition(f->lg, &migration_c, "edu-bare", to_assessed, &rec, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_null(rec.system_id);
        cb_error_clear(&err);
        assert_true(legacy_transition(f->lg, &migration_c, "edu-bare", to_planned, &rec, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        cb_error_clear(&err);
        assert_int_equal(legacy_get(f->lg, &migration_c, "edu-bare", &rec, &err), 0);
        assert_int_equal(rec.state, LEGACY_FAILED);
        legacy_record_done(&rec);

        assert_int_equal(legacy_transition(f->lg, &migration_c, "edu-kept", to_planned, &rec, &err), 0);
        assert_string_equal(rec.system_id, "edu-kept");
        assert_int_equal(rec.state, LEGACY_PLANNED);
        assert_string_equal(json_string_value(json_object_get(rec.plan, "project_id")), "edu-move");
        legacy_record_done(&rec);
        json_decref(to_assessed);
        json_decref(to_planned);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_system_overdue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_orders_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_get_is_typed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_summary_typed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_from_failed, setup, teardown),
        };
        if (!mkdtemp(tmpdir))
                return 1;
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        rmdir(tmpdir);
        return r;
}
