/* SPDX-License-Identifier: Apache-2.0 */
/* The directory's facts as the policy engine reads them (systems_get_facts), and the
 * pure helpers of incidents: RFC 3339 parsing and the reporting deadlines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "incidents.h"
#include "rest-records.h"
#include "systems.h"

static char tmpdir[] = "/tmp/cbsystems.XXXXXX";
static int n_db;

static Principal operator_p = { .name = (char *)"t-operator", .roles = CB_ROLE_OPERATOR };
static Principal edu_p = { .name = (char *)"t-edu",
                           .department = (char *)"edu",
                           .roles = CB_ROLE_DEPARTMENT };
static Principal health_p = { .name = (char *)"t-health",
                              .department = (char *)"health",
                              .roles = CB_ROLE_DEPARTMENT };
static const CbCaller operator_c = { .principal = &operator_p, .face = "cli" };
static const CbCaller edu_c = { .principal = &edu_p, .face = "cli" };
static const CbCaller health_c = { .principal = &health_p, .face = "cli" };

/* A fresh database for every test, so that no test sees another's systems. */
static int setup_store(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = NULL;
        char *path;

        if (asprintf(&path, "%s/systems-%d.db", tmpdir, n_db++) < 0)
                return -1;
        if (store_open(path, &s, &err) < 0) {
                fprintf(stderr, "store_open %s: %s\n", path, err.message);
                free(path);
                return -1;
        }
        free(path);
        *state = s;
        return 0;
}

static int teardown_store(void **state) {
        store_free(*state);
        return 0;
}

static json_t *system_doc(const char *id, const char *department, int level, bool classified,
                          const char *sharing) {
        json_t *doc = json_pack("{s:s, s:s, s:s, s:i, s:b, s:s}", "id", id, "name", "门户网站", "department",
                                department, "protection_level", level, "classified", classified,
                                "data_sharing", sharing);
        assert_non_null(doc);
        return doc;
}

/* Creates a system through the directory's own entry point, as the REST face does. */
static void create(Store *s, const CbCaller *caller, const char *id, const char *department, int level,
                   bool classified, const char *sharing) {
        CbError err = CB_ERROR_INIT;
        json_t *doc = system_doc(id, department, level, classified, sharing);
        System *v = NULL;

        assert_int_equal(systems_create(s, caller, doc, &v, &err), 0);
        assert_string_equal(v->id, id);
        system_free(v);
        json_decref(doc);
}

static void update(Store *s, const CbCaller *caller, const char *id, const char *department, int level,
                   bool classified, const char *sharing, int want, CbErrorKind want_kind) {
        CbError err = CB_ERROR_INIT;
        json_t *doc = system_doc(id, department, level, classified, sharing);
        System *v = NULL;

        assert_int_equal(systems_update(s, caller, id, doc, &v, &err) < 0 ? -1 : 0, want);
        if (want < 0) {
                assert_int_equal(err.kind, want_kind);
                assert_null(v);
        }
        system_free(v);
        json_decref(doc);
}

/* ---- the records the core hands out ---- */

static void test_typed_records(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = *state;
        System *v = NULL;
        SystemList l = { 0 };
        char next[PAGE_TOKEN_MAX];
        json_t *j;
        Page page;

        create(s, &operator_c, "edu-portal", "edu", 3, false, "compliant");
        create(s, &operator_c, "edu-oa", "edu", 2, true, "noncompliant");
        create(s, &health_c, "health-his", "health", 1, false, "compliant");

        assert_int_equal(systems_get(s, &edu_c, "edu-oa", &v, &err), 0);
        assert_string_equal(v->id, "edu-oa");
        assert_string_equal(v->department, "edu");
        assert_int_equal(v->protection_level, 2);
        assert_true(v->classified);
        assert_false(v->data_sharing_compliant);
        assert_string_equal(v->created_at, v->updated_at);
        /* The REST shape, which the D-Bus face answers too. */
        j = rest_system_json(v);
        assert_string_equal(json_string_value(json_object_get(j, "data_sharing")), "noncompliant");
        assert_int_equal(json_integer_value(json_object_get(j, "protection_level")), 2);
        assert_true(json_is_true(json_object_get(j, "classified")));
        assert_int_equal(json_object_size(j), 8);
        json_decref(j);
        system_free(v);
        v = NULL;
        /* Another department's system is not there; on failure *ret is untouched. */
        assert_true(systems_get(s, &edu_c, "health-his", &v, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_null(v);

        /* A department's list holds its own, by id, in pages. */
        assert_int_equal(page_parse("1", NULL, &page, &err), 0);
        assert_int_equal(systems_list(s, &edu_c, NULL, &page, &l, next, &err), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.v[0]->id, "edu-oa");
        assert_string_not_equal(next, "");
        system_list_done(&l);
        assert_int_equal(page_parse("1", next, &page, &err), 0);
        assert_int_equal(systems_list(s, &edu_c, NULL, &page, &l, next, &err), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.v[0]->id, "edu-portal");
        assert_string_equal(next, "");
        j = rest_system_list_json(&l);
        assert_int_equal(json_array_size(j), 1);
        json_decref(j);
        system_list_done(&l);
        system_list_done(NULL);
        assert_int_equal(page_parse(NULL, NULL, &page, &err), 0);
        assert_int_equal(systems_list(s, &operator_c, NULL, &page, &l, next, &err), 0);
        assert_int_equal(l.n, 3);
        system_list_done(&l);
        assert_true(systems_list(s, &edu_c, "health", &page, &l, next, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        assert_int_equal(l.n, 0);
}

static void test_incident_records(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = *state;
        Incident *inc = NULL;
        IncidentList l = { 0 };
        char next[PAGE_TOKEN_MAX], id[32];
        json_t *doc, *j;
        Page page;

        create(s, &operator_c, "edu-portal", "edu", 3, false, "compliant");
        doc = json_pack("{s:s, s:[s], s:s}", "severity", "critical", "systems", "edu-portal", "description",
                        "泄露");
        assert_int_equal(incidents_report(s, &edu_c, doc, &inc, &err), 0);
        json_decref(doc);
        assert_int_equal(inc->status, INCIDENT_OPEN);
        assert_string_equal(inc->department, "edu");
        assert_int_equal(inc->n_systems, 1);
        assert_string_equal(inc->systems[0], "edu-portal");
        assert_int_equal(inc->n_resources, 0);
        assert_false(inc->report_overdue); /* an hour to report a critical one */
        assert_null(inc->report_made_at);
        assert_null(inc->occurred_at);
        assert_true(inc->has_records);
        assert_int_equal(inc->n_records, 0);
        snprintf(id, sizeof(id), "%s", inc->id);
        incident_free(inc);
        inc = NULL;

        doc = json_pack("{s:s, s:s}", "note", "已上报", "status", "reported");
        assert_int_equal(incidents_add_record(s, &edu_c, id, doc, &inc, &err), 0);
        json_decref(doc);
        assert_int_equal(inc->status, INCIDENT_REPORTED);
        assert_int_equal(inc->n_records, 1);
        assert_int_equal(inc->records[0].status, INCIDENT_REPORTED);
        assert_string_equal(inc->records[0].by, "t-edu");
        assert_non_null(inc->report_made_at);
        j = rest_incident_json(inc);
        assert_string_equal(json_string_value(json_object_get(j, "status")), "reported");
        assert_int_equal(json_array_size(json_object_get(j, "records")), 1);
        assert_string_equal(json_string_value(json_array_get(json_object_get(j, "systems"), 0)),
                            "edu-portal");
        assert_false(json_object_get(j, "occurred_at") != NULL);
        json_decref(j);
        incident_free(inc);
        inc = NULL;

        /* The operator's report that names nothing belongs to no department. */
        doc = json_pack("{s:s, s:s, s:s}", "severity", "general", "description", "全市", "occurred_at",
                        "2025-03-01T08:30:00+08:00");
        assert_int_equal(incidents_report(s, &operator_c, doc, &inc, &err), 0);
        json_decref(doc);
        assert_null(inc->department);
        assert_string_equal(inc->occurred_at, "2025-03-01T00:30:00Z");
        j = rest_incident_json(inc);
        assert_true(json_is_null(json_object_get(j, "department")));
        assert_string_equal(json_string_value(json_object_get(j, "occurred_at")), "2025-03-01T00:30:00Z");
        json_decref(j);
        incident_free(inc);
        inc = NULL;

        /* Lists carry no records; a department sees its own only. */
        assert_int_equal(page_parse(NULL, NULL, &page, &err), 0);
        assert_int_equal(incidents_list(s, &operator_c, &page, &l, next, &err), 0);
        assert_int_equal(l.n, 2);
        assert_false(l.v[0]->has_records);
        j = rest_incident_list_json(&l);
        assert_null(json_object_get(json_array_get(j, 0), "records"));
        json_decref(j);
        incident_list_done(&l);
        assert_int_equal(incidents_list(s, &health_c, &page, &l, next, &err), 0);
        assert_int_equal(l.n, 0);
        incident_list_done(&l);
        assert_true(incidents_get(s, &health_c, id, &inc, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_null(inc);
}

/* ---- systems_get_facts ---- */

static void test_facts_absent(void **state) {
        Store *s = *state;
        SystemFacts f;

        memset(&f, 0x5a, sizeof(f));
        assert_int_equal(systems_get_facts(s, "edu-portal", &f), -ENOENT);
        /* Written only on success: the policy engine must not read stale facts. */
        for (size_t i = 0; i < sizeof(f); i++)
                assert_int_equal(((unsigned char *)&f)[i], 0x5a);

        create(s, &operator_c, "edu-portal", "edu", 2, false, "compliant");
        /* Ids are exact: no case folding, no prefix match. */
        assert_int_equal(systems_get_facts(s, "EDU-PORTAL", &f), -ENOENT);
        assert_int_equal(systems_get_facts(s, "edu-portal2", &f), -ENOENT);
        assert_int_equal(systems_get_facts(s, "edu", &f), -ENOENT);
        assert_int_equal(systems_get_facts(s, "", &f), -ENOENT);
}

static void test_facts_present(void **state) {
        Store *s = *state;
        SystemFacts f;

        create(s, &operator_c, "edu-portal", "edu", 3, false, "compliant");
        create(s, &health_c, "health-his", "health", 1, true, "noncompliant");

        memset(&f, 0, sizeof(f));
        assert_int_equal(systems_get_facts(s, "edu-portal", &f), 0);
        assert_true(f.listed);
        assert_false(f.classified);
        assert_int_equal(f.protection_level, 3);
        assert_true(f.data_sharing_compliant);
        assert_string_equal(f.department, "edu");

        memset(&f, 0, sizeof(f));
        assert_int_equal(systems_get_facts(s, "health-his", &f), 0);
        assert_true(f.listed);
        assert_true(f.classified);
        assert_int_equal(f.protection_level, 1);
        assert_false(f.data_sharing_compliant);
        assert_string_equal(f.department, "health");
}

static void test_facts_refused_create_leaves_nothing(void **state) {
        CbError err = CB_ERROR_INIT;
        Store *s = *state;
        System *v = NULL;
        json_t *doc;
        SystemFacts f;

        /* A department registering for another department is refused, and
         * the system does not appear in the facts. */
        doc = system_doc("health-his", "health", 2, false, "compliant");
        assert_int_equal(systems_create(s, &edu_c, doc, &v, &err), -EPERM);
        assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        assert_null(v);
        json_decref(doc);
        assert_int_equal(systems_get_facts(s, "health-his", &f), -ENOENT);

        /* An invalid level is refused before anything is stored. */
        cb_error_clear(&err);
        doc = system_doc("edu-bad", "edu", 5, false, "compliant");
        assert_true(systems_create(s, &operator_c, doc, &v, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, "protection_level");
        json_decref(doc);
        assert_int_equal(systems_get_facts(s, "edu-bad", &f), -ENOENT);
}

static void test_facts_after_update(void **state) {
        Store *s = *state;
        SystemFacts f;

        create(s, &edu_c, "edu-portal", "edu", 2, false, "compliant");

        /* The owning department changes the facts the policy engine sees. */
        update(s, &edu_c, "edu-portal", "edu", 4, true, "noncompliant", 0, CB_ERR_NONE);
        assert_int_equal(systems_get_facts(s, "edu-portal", &f), 0);
        assert_true(f.listed);
        assert_true(f.classified);
        assert_int_equal(f.protection_level, 4);
        assert_false(f.data_sharing_compliant);
        assert_string_equal(f.department, "edu");

        /* Refused updates change nothing: another department (not found to
         * it), a department moving its system away (forbidden). */
        update(s, &health_c, "edu-portal", "health", 1, false, "compliant", -1, CB_ERR_NOT_FOUND);
        update(s, &edu_c, "edu-portal", "health", 1, false, "compliant", -1, CB_ERR_FORBIDDEN);
        assert_int_equal(systems_get_facts(s, "edu-portal", &f), 0);
        assert_true(f.classified);
        assert_int_equal(f.protection_level, 4);
        assert_false(f.data_sharing_compliant);
        assert_string_equal(f.department, "edu");

        /* The operator moves it to another department and back to compliant. */
        update(s, &operator_c, "edu-portal", "health", 1, false, "compliant", 0, CB_ERR_NONE);
        assert_int_equal(systems_get_facts(s, "edu-portal", &f), 0);
        assert_false(f.classified);
        assert_int_equal(f.protection_level, 1);
        assert_true(f.data_sharing_compliant);
        assert_string_equal(f.department, "health");

        /* Updating a system that is not there does not create it. */
        update(s, &operator_c, "edu-new", "edu", 1, false, "compliant", -1, CB_ERR_NOT_FOUND);
        assert_int_equal(systems_get_facts(s, "edu-new", &f), -ENOENT);
}

/* ---- incident_time_parse ---- */

/* 2025-03-01T08:30:00Z, computed independently (date -u -d ... +%s). */
#define T_2025_03_01_0830Z ((time_t)1740817800)

static void assert_time(const char *s, time_t want) {
        time_t t = (time_t)-12345;
        int r = incident_time_parse(s, &t);
        if (r != 0)
                fail_msg("'%s' was refused (%d)", s, r);
        if (t != want)
                fail_msg("'%s' parsed to %lld, want %lld", s, (long long)t, (long long)want);
}

static void test_time_parse_valid(void **state) {
        (void)state;

        assert_time("2025-03-01T08:30:00Z", T_2025_03_01_0830Z);
        assert_time("2025-03-01t08:30:00z", T_2025_03_01_0830Z);
        assert_time("2025-03-01T08:30:00+00:00", T_2025_03_01_0830Z);
        assert_time("2025-03-01T08:30:00-00:00", T_2025_03_01_0830Z);
        assert_time("2025-03-01T16:30:00+08:00", T_2025_03_01_0830Z);
        assert_time("2025-03-01T03:00:00-05:30", T_2025_03_01_0830Z);
        assert_time("2025-03-01T08:30:00.250Z", T_2025_03_01_0830Z);
        assert_time("2025-03-01T16:30:00.999999+08:00", T_2025_03_01_0830Z);
        /* An offset moves the instant across midnight and the month. */
        assert_time("2025-03-01T00:30:00+08:00", T_2025_03_01_0830Z - 16 * 3600);
        assert_time("2025-02-28T23:59:59-23:59", T_2025_03_01_0830Z + 15 * 3600 + 28 * 60 + 59);
        assert_time("2024-02-29T12:00:00Z", (time_t)1709208000);
        assert_time("1970-01-01T00:00:00Z", 0);
        assert_time("2025-03-01T23:59:59Z", T_2025_03_01_0830Z + 15 * 3600 + 29 * 60 + 59);
}

static void assert_refused(const char *s) {
        time_t t = (time_t)-12345;
        int r = incident_time_parse(s, &t);
        if (r != -EINVAL)
                fail_msg("'%s' was not refused with -EINVAL (%d)", s ? s : "(null)", r);
        if (t != (time_t)-12345)
                fail_msg("'%s' wrote the out-parameter on failure", s ? s : "(null)");
}

static void test_time_parse_invalid(void **state) {
        (void)state;

        assert_refused(NULL);
        assert_refused("");
        assert_refused("2025-03-01");
        assert_refused("2025-03-01T08:30Z");
        assert_refused("2025-03-01T08:30:00");  /* no zone */
        assert_refused("2025-03-01 08:30:00Z"); /* space for T */
        assert_refused("2025-03-01X08:30:00Z");
        assert_refused("2025-3-01T08:30:00Z");
        assert_refused("2025-03-01T8:30:00Z");
        assert_refused("2025-03-01T08:30:0Z");
        assert_refused("2025/03/01T08:30:00Z");
        assert_refused("2025-13-01T08:30:00Z");
        assert_refused("2025-02-29T08:30:00Z"); /* not a leap year */
        assert_refused("2025-04-31T08:30:00Z");
        assert_refused("2025-03-00T08:30:00Z");
        assert_refused("2025-03-01T24:00:00Z");
        assert_refused("2025-03-01T08:60:00Z");
        assert_refused("2025-03-01T08:30:60Z");  /* no leap seconds */
        assert_refused("2025-03-01T08:30:00.Z"); /* a fraction needs a digit */
        assert_refused("2025-03-01T08:30:00.5");
        assert_refused("2025-03-01T08:30:00ZZ");
        assert_refused("2025-03-01T08:30:00Z ");
        assert_refused("2025-03-01T08:30:00+0800");
        assert_refused("2025-03-01T08:30:00+08");
        assert_refused("2025-03-01T08:30:00+08:00:00");
        assert_refused("2025-03-01T08:30:00+24:00");
        assert_refused("2025-03-01T08:30:00+08:60");
        assert_refused("2025-03-01T08:30:00 +08:00");
        assert_refused("2025-03-01T08:30:00UTC");
        assert_refused("not a date at all, no");
}

/* ---- incident_report_hours ---- */

static void test_report_hours(void **state) {
        (void)state;

        assert_int_equal(incident_report_hours("critical"), 1);
        assert_int_equal(incident_report_hours("major"), 2);
        assert_int_equal(incident_report_hours("significant"), 24);
        assert_int_equal(incident_report_hours("general"), 72);

        assert_int_equal(incident_report_hours("minor"), -EINVAL);
        assert_int_equal(incident_report_hours("Critical"), -EINVAL);
        assert_int_equal(incident_report_hours("critical "), -EINVAL);
        assert_int_equal(incident_report_hours("crit"), -EINVAL);
        assert_int_equal(incident_report_hours(""), -EINVAL);
        assert_int_equal(incident_report_hours(NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_typed_records, setup_store, teardown_store),
                cmocka_unit_test_setup_teardown(test_incident_records, setup_store, teardown_store),
                cmocka_unit_test_setup_teardown(test_facts_absent, setup_store, teardown_store),
                cmocka_unit_test_setup_teardown(test_facts_present, setup_store, teardown_store),
                cmocka_unit_test_setup_teardown(test_facts_refused_create_leaves_nothing, setup_store,
                                                teardown_store),
                cmocka_unit_test_setup_teardown(test_facts_after_update, setup_store, teardown_store),
                cmocka_unit_test(test_time_parse_valid),
                cmocka_unit_test(test_time_parse_invalid),
                cmocka_unit_test(test_report_hours),
        };
        char cmd[64];
        int r;

        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", tmpdir);
        return r;
}
