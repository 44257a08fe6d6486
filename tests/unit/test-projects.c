/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Projects on a temporary store, through the core's own entry points as the
 * faces call them: a project made by its first signed approval, milestones
 * and the deadlines they open, suspension, resumption and termination, and
 * every refusal on the way (who may, in which state), with the audit trail
 * showing changes and refused changes alike.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "approvals.h"
#include "catalog.h"
#include "date.h"
#include "projects.h"
#include "rest-records.h"
#include "signature.h"
#include "store.h"

#define DEV_SM2_PUB "etc/dev-keys/dev-authority.pub.pem"
#define DEV_SM2_KEY "etc/dev-keys/dev-authority.key.pem"

static char tmpdir[] = "/tmp/cbprojects.XXXXXX";
static int n_db;

static Principal edu_p = { .name = (char *)"t-edu",
                           .department = (char *)"edu",
                           .roles = CB_ROLE_DEPARTMENT };
static Principal health_p = { .name = (char *)"t-health",
                              .department = (char *)"health",
                              .roles = CB_ROLE_DEPARTMENT };
static Principal authority_p = { .name = (char *)"t-authority", .roles = CB_ROLE_AUTHORITY };
static Principal operator_p = { .name = (char *)"t-operator", .roles = CB_ROLE_OPERATOR };
static Principal finance_p = { .name = (char *)"t-finance", .roles = CB_ROLE_FINANCE };
static Principal migration_p = { .name = (char *)"t-migration", .roles = CB_ROLE_MIGRATION };
static const CbCaller edu_c = { .principal = &edu_p, .face = "cli" };
static const CbCaller health_c = { .principal = &health_p, .face = "cli" };
static const CbCaller authority_c = { .principal = &authority_p, .face = "cli" };
static const CbCaller operator_c = { .principal = &operator_p, .face = "cli" };
static const CbCaller finance_c = { .principal = &finance_p, .face = "cli" };
static const CbCaller migration_c = { .principal = &migration_p, .face = "cli" };

typedef struct World {
        Store *store;
        Catalog *catalog;
        TrustedKeys *keys;
        Projects *projects;
        char terminated[64]; /* the project the termination callback was told of */
        int n_terminated;
} World;

static int on_terminated(const char *project_id, const CbCaller *caller, void *userdata) {
        World *w = userdata;
        (void)caller;
        snprintf(w->terminated, sizeof(w->terminated), "%s", project_id);
        w->n_terminated++;
        return 0;
}

/* A fresh store for every test, with the dev authority's key trusted. */
static int setup_world(void **state) {
        CbError err = CB_ERROR_INIT;
        World *w = calloc(1, sizeof(*w));
        char *path = NULL;

        if (!w || asprintf(&path, "%s/projects-%d.db", tmpdir, n_db++) < 0)
                return -1;
        if (store_open(path, &w->store, &err) < 0 || catalog_new(w->store, &w->catalog) < 0 ||
            trusted_keys_new(&w->keys) < 0 ||
            trusted_keys_add_pem_file(w->keys, "dev-authority", "sm2-sm3", DEV_SM2_PUB, &err) < 0 ||
            projects_new(w->store, w->catalog, w->keys, NULL, &w->projects) < 0) {
                fprintf(stderr, "set-up: %s\n", err.message);
                free(path);
                return -1;
        }
        free(path);
        projects_set_terminated_callback(w->projects, on_terminated, w);
        *state = w;
        return 0;
}

static int teardown_world(void **state) {
        World *w = *state;
        projects_free(w->projects);
        trusted_keys_free(w->keys);
        catalog_free(w->catalog);
        store_free(w->store);
        free(w);
        return 0;
}

static void day(int offset_days, char ret[11]) {
        date_of_cst(time(NULL) + (time_t)offset_days * 86400, ret);
}

/* A signed envelope of a valid approval document. */
static json_t *envelope(const char *project, const char *department, int revision, const char *no,
                        int quantity) {
        CbError err = CB_ERROR_INIT;
        char from[11], until[11];
        json_t *doc, *env = NULL;
        char *text;

        day(-60, from);
        day(300, until);
        doc = json_pack(
                "{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:{s:I, s:I}, s:[s], s:[{s:s, s:s, s:i}], s:b, s:b}",
                "approval_no", no, "project_id", project, "project_name", "单元测试项目", "department",
                department, "revision", revision, "valid_from", from, "valid_until", until, "budget",
                "construction_fen", (json_int_t)120000000, "om_fen", (json_int_t)36000000, "systems",
                "edu-portal", "items", "service_id", "ecs-general", "plan_id", "ecs-general-2c4g", "quantity",
                quantity, "requires_secure_controllable", 0, "dedicated_network_consent", 0);
        assert_non_null(doc);
        text = json_dumps(doc, JSON_INDENT(2));
        assert_non_null(text);
        assert_int_equal(
                envelope_sign("sm2-sm3", "dev-authority", DEV_SM2_KEY, text, strlen(text), &env, &err), 0);
        free(text);
        json_decref(doc);
        return env;
}

static int64_t count(World *w, const char *sql, const char *param) {
        CbError err = CB_ERROR_INIT;
        int64_t n = -1;
        assert_int_equal(store_query_int(w->store, sql, STORE_ARGS(SA_TEXT(param)), &n, "counting", &err), 0);
        return n;
}

static int64_t audit_count(World *w, const char *action_outcome) {
        return count(w, "SELECT COUNT(*) FROM audit WHERE action || ' ' || outcome = ?1", action_outcome);
}

/* Imports as caller and expects r (0: success). */
static void import(World *w, const CbCaller *caller, json_t *env, int want, CbErrorKind want_kind) {
        CbError err = CB_ERROR_INIT;
        ApprovalRecord *rec = NULL;
        int r = approvals_import(w->projects, caller, env, &rec, &err);
        if (want == 0 && r < 0)
                fail_msg("import refused: %s", err.message);
        assert_int_equal(r, want);
        if (r < 0) {
                assert_int_equal(err.kind, want_kind);
                assert_null(rec);
                return;
        }
        /* The revision as stored: in force, with the document it carries. */
        assert_true(rec->in_force);
        assert_non_null(rec->document);
        assert_string_equal(rec->project_id, rec->document->project_id);
        assert_string_equal(rec->department, rec->document->department);
        assert_int_equal(rec->revision, rec->document->revision);
        assert_string_equal(rec->received_by, caller->principal->name);
        approval_record_free(rec);
}

/* The record through its serializer, as every face answers it. */
static char *approval_text(json_t *v) {
        char *text;
        assert_non_null(v);
        text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(v);
        assert_non_null(text);
        return text;
}

/* The keys of a JSON object, in order, comma-separated. */
static void assert_keys(json_t *v, const char *want) {
        char got[512] = "";
        const char *key;
        json_t *value;
        size_t n = 0;
        assert_non_null(v);
        json_object_foreach(v, key, value) {
                (void)value;
                n += snprintf(got + n, sizeof(got) - n, "%s%s", n ? "," : "", key);
        }
        assert_string_equal(got, want);
        json_decref(v);
}

static void expect_get(World *w, const CbCaller *caller, const char *id, CbErrorKind want) {
        CbError err = CB_ERROR_INIT;
        Project *v = NULL;
        int r = projects_get(w->projects, caller, id, &v, &err);
        if (want == CB_ERR_NONE)
                assert_int_equal(r, 0);
        else {
                assert_true(r < 0);
                assert_int_equal(err.kind, want);
                assert_null(v);
        }
        project_free(v);
}

/* The project as the authority reads it, in the shape every face answers
 * (the record through its serializer). */
static json_t *get(World *w, const char *id) {
        CbError err = CB_ERROR_INIT;
        Project *pr = NULL;
        json_t *v;
        assert_int_equal(projects_get(w->projects, &authority_c, id, &pr, &err), 0);
        assert_true(pr->full);
        assert_string_equal(pr->id, id);
        v = rest_project_json(pr);
        assert_non_null(v);
        assert_int_equal(json_array_size(json_object_get(v, "milestones")), pr->n_milestones);
        assert_int_equal(json_array_size(json_object_get(v, "deadlines")), pr->n_deadlines);
        assert_int_equal(json_is_true(json_object_get(v, "blocked")), pr->blocked);
        project_free(pr);
        return v;
}

static void test_create_from_approval(void **state) {
        World *w = *state;
        json_t *env = envelope("p-unit", "edu", 1, "临政信审〔2026〕7号", 6), *v;
        CbError err = CB_ERROR_INIT;
        char next[PAGE_TOKEN_MAX], *text;
        ApprovalList list = { 0 };
        ApprovalRecord *rec = NULL;
        Approval *doc = NULL;
        Page page;

        import(w, &edu_c, env, 0, 0);
        v = get(w, "p-unit");
        assert_string_equal(json_string_value(json_object_get(v, "status")), "active");
        assert_string_equal(json_string_value(json_object_get(v, "department")), "edu");
        assert_int_equal(json_integer_value(json_object_get(v, "revision")), 1);
        assert_int_equal(json_array_size(json_object_get(v, "approval_history")), 1);
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(v, "budget"), "construction_fen")),
                120000000);
        assert_int_equal(json_array_size(json_object_get(v, "deadlines")), 0);
        assert_false(json_is_true(json_object_get(v, "blocked")));
        json_decref(v);
        assert_int_equal(audit_count(w, "approval.accept ok"), 1);

        /* Who reads it: the department, every reader role; another
         * department finds no such project; a role that reads none is refused. */
        expect_get(w, &edu_c, "p-unit", CB_ERR_NONE);
        expect_get(w, &operator_c, "p-unit", CB_ERR_NONE);
        expect_get(w, &finance_c, "p-unit", CB_ERR_NONE);
        expect_get(w, &health_c, "p-unit", CB_ERR_NOT_FOUND);
        expect_get(w, &health_c, "p-nobody", CB_ERR_NOT_FOUND);
        expect_get(w, &migration_c, "p-unit", CB_ERR_FORBIDDEN);
        expect_get(w, &authority_c, "Not An Id", CB_ERR_NOT_FOUND);

        /* Refusals store nothing: the same revision again, another
         * department's approval, a role that may not hand approvals in. */
        import(w, &edu_c, env, -cb_error_errno(CB_ERR_UNPROCESSABLE), CB_ERR_UNPROCESSABLE);
        import(w, &health_c, env, -cb_error_errno(CB_ERR_UNPROCESSABLE), CB_ERR_UNPROCESSABLE);
        import(w, &finance_c, env, -cb_error_errno(CB_ERR_FORBIDDEN), CB_ERR_FORBIDDEN);
        json_decref(env);
        /* A revision 2 under another department's name cannot move it. */
        env = envelope("p-unit", "health", 2, "临政信审〔2026〕8号", 6);
        import(w, &authority_c, env, -cb_error_errno(CB_ERR_UNPROCESSABLE), CB_ERR_UNPROCESSABLE);
        json_decref(env);
        assert_int_equal(count(w, "SELECT COUNT(*) FROM approvals WHERE project_id = ?1", "p-unit"), 1);
        assert_int_equal(audit_count(w, "approval.submit rejected"), 3);
        assert_int_equal(audit_count(w, "approval.submit forbidden"), 1);

        /* An adjustment (revision 2) is in force; both stay on record. */
        env = envelope("p-unit", "edu", 2, "临政信审〔2026〕8号", 10);
        import(w, &authority_c, env, 0, 0);
        json_decref(env);
        v = get(w, "p-unit");
        assert_int_equal(json_integer_value(json_object_get(v, "revision")), 2);
        assert_int_equal(json_array_size(json_object_get(v, "approval_history")), 2);
        json_decref(v);

        /* The approvals as each caller may read them. */
        assert_int_equal(page_parse(NULL, NULL, &page, &err), 0);
        assert_int_equal(approvals_list(w->projects, &edu_c, NULL, &page, &list, next, &err), 0);
        assert_int_equal(list.n, 2);
        assert_true(list.v[1].in_force);
        assert_false(list.v[0].in_force);
        assert_int_equal(list.v[0].revision, 1);
        assert_string_equal(list.v[0].approval_no, "临政信审〔2026〕7号");
        assert_string_equal(list.v[1].department, "edu");
        assert_null(list.v[0].document); /* a list carries no documents */
        assert_string_equal(next, "");
        /* The list entry's shape, members in this order. */
        assert_keys(rest_approval_json(&list.v[0]),
                    "project_id,department,revision,approval_no,key_id,received_at,received_by,in_force");
        text = approval_text(rest_approval_list_json(&list));
        assert_non_null(strstr(text, "\"revision\":1,\"approval_no\":\"临政信审〔2026〕7号\",\"key_id\":"));
        assert_non_null(strstr(text, "\"received_by\":\"t-edu\",\"in_force\":false}"));
        free(text);
        approval_list_done(&list);
        assert_int_equal(approvals_list(w->projects, &health_c, NULL, &page, &list, next, &err), 0);
        assert_int_equal(list.n, 0);
        approval_list_done(&list);
        assert_true(approvals_list(w->projects, &health_c, "edu", &page, &list, next, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        assert_int_equal(list.n, 0);
        /* Pages of one: the token continues after (project, revision). */
        page.limit = 1;
        assert_int_equal(approvals_list(w->projects, &authority_c, NULL, &page, &list, next, &err), 0);
        assert_int_equal(list.n, 1);
        assert_int_equal(list.v[0].revision, 1);
        assert_string_not_equal(next, "");
        approval_list_done(&list);
        assert_int_equal(page_parse("1", next, &page, &err), 0);
        assert_int_equal(approvals_list(w->projects, &authority_c, NULL, &page, &list, next, &err), 0);
        assert_int_equal(list.n, 1);
        assert_int_equal(list.v[0].revision, 2);
        approval_list_done(&list);

        assert_true(approvals_get(w->projects, &health_c, "临政信审〔2026〕8号", &rec, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_null(rec);
        assert_int_equal(approvals_get(w->projects, &edu_c, "临政信审〔2026〕8号", &rec, &err), 0);
        assert_int_equal(rec->revision, 2);
        assert_true(rec->in_force);
        assert_non_null(rec->document);
        assert_int_equal(rec->document->n_items, 1);
        assert_int_equal(rec->document->items[0].quantity, 10);
        assert_int_equal(rec->document->construction_fen, 120000000);
        v = rest_approval_json(rec);
        assert_int_equal(json_integer_value(json_object_get(v, "revision")), 2);
        assert_int_equal(json_integer_value(json_object_get(
                                 json_array_get(json_object_get(json_object_get(v, "document"), "items"), 0),
                                 "quantity")),
                         10);
        assert_keys(v, "project_id,department,revision,approval_no,key_id,received_at,received_by,in_force,"
                       "document");
        /* The receipt POST /v1/approvals answers. */
        assert_keys(rest_approval_receipt_json(rec), "project_id,approval_no,revision");
        approval_record_free(rec);
        rec = NULL;

        /* A project's revisions, oldest first, and one revision's document. */
        assert_int_equal(approvals_list_project(w->projects, &edu_c, "p-unit", &list, &err), 0);
        assert_int_equal(list.n, 2);
        assert_int_equal(list.v[0].revision, 1);
        assert_int_equal(list.v[1].revision, 2);
        assert_keys(rest_approval_revision_json(&list.v[1]),
                    "revision,approval_no,key_id,received_at,received_by");
        assert_int_equal(json_array_size(v = rest_approval_history_json(&list)), 2);
        json_decref(v);
        approval_list_done(&list);
        assert_true(approvals_list_project(w->projects, &health_c, "p-unit", &list, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_int_equal(approvals_get_revision(w->projects, &edu_c, "p-unit", 1, &doc, &err), 0);
        assert_string_equal(doc->approval_no, "临政信审〔2026〕7号");
        assert_int_equal(doc->items[0].quantity, 6);
        approval_free(doc);
        assert_int_equal(approvals_get_revision(w->projects, &edu_c, "p-unit", 0, &doc, &err), 0);
        assert_int_equal(doc->revision, 2);
        approval_free(doc);
        doc = NULL;
        assert_true(approvals_get_revision(w->projects, &edu_c, "p-unit", 9, &doc, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_null(doc);
        assert_true(approvals_get_revision(w->projects, &health_c, "p-unit", 1, &doc, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);

        /* An evaluation through its serializer (an empty catalogue: the
         * service is not published), what both faces answer. */
        Evaluation ev = { 0 };
        EvalRequest er = { .project_id = "p-unit",
                           .system_id = "s-none",
                           .service_id = "ecs-general",
                           .plan_id = "ecs-general-2c4g",
                           .quantity = 1 };
        assert_int_equal(projects_evaluate(w->projects, &edu_c, &er, 0, &ev, &err), 0);
        assert_false(ev.decision.allowed);
        v = rest_evaluation_json(&ev);
        assert_false(json_is_true(json_object_get(v, "allowed")));
        assert_int_equal(json_array_size(json_object_get(v, "violations")), ev.decision.n_violations);
        assert_string_equal(json_string_value(json_object_get(v, "cost_kind")), "construction");
        assert_keys(v, "allowed,violations,projected_cost_fen,cost_kind");
        assert_string_equal(ev.approval_no, "临政信审〔2026〕8号");
        evaluation_done(&ev);
        /* Another department's project weighs as one without an approval. */
        ev = (Evaluation){ 0 };
        assert_int_equal(projects_evaluate(w->projects, &health_c, &er, 0, &ev, &err), 0);
        assert_false(ev.decision.allowed);
        assert_string_equal(ev.approval_no, "");
        text = approval_text(rest_evaluation_json(&ev));
        assert_non_null(strstr(text, "\"code\":\"NO_APPROVAL\""));
        free(text);
        evaluation_done(&ev);
}

static int add_milestone(World *w, const CbCaller *caller, const char *id, const char *kind, const char *date,
                         int budget_year, CbError *err) {
        json_t *body = json_pack("{s:s, s:s}", "kind", kind, "date", date);
        Project *v = NULL;
        int r;
        if (budget_year)
                json_object_set_new(body, "budget_year", json_integer(budget_year));
        r = projects_add_milestone(w->projects, caller, id, body, &v, err);
        if (r < 0)
                assert_null(v);
        json_decref(body);
        project_free(v);
        return r;
}

/* The status of the one deadline of kind. */
static const char *deadline_status(json_t *project, const char *kind) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(project, "deadlines"), i,
                           d) if (streq(json_string_value(json_object_get(d, "kind")),
                                        kind)) return json_string_value(json_object_get(d, "status"));
        return NULL;
}

static void test_milestones(void **state) {
        World *w = *state;
        json_t *env = envelope("p-ms", "edu", 1, "临政信审〔2026〕9号", 6), *v;
        CbError err = CB_ERROR_INIT;
        char month_ago[11], today[11], tomorrow[11];

        day(-30, month_ago);
        day(0, today);
        day(1, tomorrow);
        import(w, &edu_c, env, 0, 0);
        json_decref(env);

        /* A filing needs the event it answers. */
        assert_true(add_milestone(w, &edu_c, "p-ms", "contract_filed", today, 0, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        /* Bad milestones are refused naming the field. */
        assert_true(add_milestone(w, &edu_c, "p-ms", "contract_lost", today, 0, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, "kind");
        assert_true(add_milestone(w, &edu_c, "p-ms", "contract_signed", tomorrow, 0, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.field, "date");
        assert_true(add_milestone(w, &edu_c, "p-ms", "contract_signed", "2026-02-30", 0, &err) < 0);
        assert_string_equal(err.field, "date");
        assert_true(add_milestone(w, &edu_c, "p-ms", "contract_signed", today, 2025, &err) < 0);
        assert_string_equal(err.field, "budget_year");
        /* Only the project's own department records its milestones. */
        assert_true(add_milestone(w, &health_c, "p-ms", "contract_signed", today, 0, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_true(add_milestone(w, &operator_c, "p-ms", "contract_signed", today, 0, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        assert_true(add_milestone(w, &authority_c, "p-ms", "contract_signed", today, 0, &err) < 0);
        assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        assert_int_equal(count(w, "SELECT COUNT(*) FROM milestones WHERE project_id = ?1", "p-ms"), 0);
        /* The two roles are on record; health asked about an unknown project. */
        assert_int_equal(audit_count(w, "project.milestone forbidden"), 2);

        /* Signed a month ago and not filed: Art. 18's five working days
         * are over, the project is blocked. */
        assert_int_equal(add_milestone(w, &edu_c, "p-ms", "contract_signed", month_ago, 0, &err), 0);
        v = get(w, "p-ms");
        assert_string_equal(deadline_status(v, "contract_filing"), "overdue");
        assert_true(json_is_true(json_object_get(v, "blocked")));
        json_decref(v);
        /* Filed today: late, but no longer blocking. */
        assert_int_equal(add_milestone(w, &edu_c, "p-ms", "contract_filed", today, 0, &err), 0);
        v = get(w, "p-ms");
        assert_string_equal(deadline_status(v, "contract_filing"), "late");
        assert_false(json_is_true(json_object_get(v, "blocked")));
        assert_int_equal(json_array_size(json_object_get(v, "milestones")), 2);
        json_decref(v);
        /* Completed today: 30 working days to file the acceptance. */
        assert_int_equal(add_milestone(w, &edu_c, "p-ms", "completed", today, 0, &err), 0);
        v = get(w, "p-ms");
        assert_string_equal(deadline_status(v, "acceptance_filing"), "pending");
        json_decref(v);
        assert_int_equal(audit_count(w, "project.milestone ok"), 3);
}

static int set_status(World *w, const CbCaller *caller, const char *id, const char *action, CbError *err) {
        json_t *body = json_pack("{s:s}", "reason", "单元测试");
        Project *v = NULL;
        int r = projects_set_status(w->projects, caller, id, action, body, &v, err);
        if (r >= 0)
                assert_string_equal(v->id, id);
        json_decref(body);
        project_free(v);
        return r;
}

static const char *status_of(World *w, const char *id) {
        static char buf[32];
        json_t *v = get(w, id);
        snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(v, "status")));
        json_decref(v);
        return buf;
}

static void test_suspend_resume_terminate(void **state) {
        World *w = *state;
        json_t *env = envelope("p-st", "edu", 1, "临政信审〔2026〕10号", 6);
        CbError err = CB_ERROR_INIT;

        import(w, &edu_c, env, 0, 0);
        json_decref(env);

        /* Only the authority changes a project's status (Art. 28). */
        for (const CbCaller *const *c = (const CbCaller *const[]){ &edu_c, &operator_c, &finance_c, NULL };
             *c; c++) {
                assert_true(set_status(w, *c, "p-st", "suspend", &err) < 0);
                assert_int_equal(err.kind, CB_ERR_FORBIDDEN);
        }
        assert_int_equal(audit_count(w, "project.suspend forbidden"), 3);
        assert_string_equal(status_of(w, "p-st"), "active");
        /* Not from an active project: resume. Nor for a project nobody has. */
        assert_true(set_status(w, &authority_c, "p-st", "resume", &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_true(set_status(w, &authority_c, "p-none", "suspend", &err) < 0);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_true(set_status(w, &authority_c, "p-st", "archive", &err) < 0);
        assert_int_equal(err.kind, CB_ERR_INVALID);
        /* A reason is required. */
        {
                json_t *body = json_object();
                Project *v = NULL;
                assert_true(projects_set_status(w->projects, &authority_c, "p-st", "suspend", body, &v,
                                                &err) < 0);
                assert_string_equal(err.field, "reason");
                assert_null(v);
                json_decref(body);
        }

        assert_int_equal(set_status(w, &authority_c, "p-st", "suspend", &err), 0);
        assert_string_equal(status_of(w, "p-st"), "suspended");
        assert_true(set_status(w, &authority_c, "p-st", "suspend", &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_int_equal(set_status(w, &authority_c, "p-st", "resume", &err), 0);
        assert_string_equal(status_of(w, "p-st"), "active");
        assert_int_equal(w->n_terminated, 0);
        assert_int_equal(set_status(w, &authority_c, "p-st", "terminate", &err), 0);
        assert_string_equal(status_of(w, "p-st"), "terminated");
        /* The resources core is told, once, inside the change. */
        assert_int_equal(w->n_terminated, 1);
        assert_string_equal(w->terminated, "p-st");
        /* Terminated is for good. */
        assert_true(set_status(w, &authority_c, "p-st", "resume", &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_true(set_status(w, &authority_c, "p-st", "terminate", &err) < 0);
        assert_int_equal(err.kind, CB_ERR_CONFLICT);
        assert_int_equal(w->n_terminated, 1);

        assert_int_equal(count(w, "SELECT COUNT(*) FROM project_events WHERE project_id = ?1", "p-st"), 3);
        assert_int_equal(audit_count(w, "project.suspend ok"), 1);
        assert_int_equal(audit_count(w, "project.resume ok"), 1);
        assert_int_equal(audit_count(w, "project.terminate ok"), 1);
}

static int refuse_termination(const char *project_id, const CbCaller *caller, void *userdata) {
        (void)project_id;
        (void)caller;
        (void)userdata;
        return -EIO;
}

/* A termination whose retirements fail leaves the project as it was, and
 * no record of a termination. */
static void test_termination_all_or_nothing(void **state) {
        World *w = *state;
        json_t *env = envelope("p-tx", "edu", 1, "临政信审〔2026〕11号", 6);
        CbError err = CB_ERROR_INIT;

        import(w, &edu_c, env, 0, 0);
        json_decref(env);
        projects_set_terminated_callback(w->projects, refuse_termination, NULL);
        assert_true(set_status(w, &authority_c, "p-tx", "terminate", &err) < 0);
        assert_string_equal(status_of(w, "p-tx"), "active");
        assert_int_equal(count(w, "SELECT COUNT(*) FROM project_events WHERE project_id = ?1", "p-tx"), 0);
        assert_int_equal(audit_count(w, "project.terminate ok"), 0);
}

static int setup(void **state) {
        (void)state;
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_from_approval, setup_world, teardown_world),
                cmocka_unit_test_setup_teardown(test_milestones, setup_world, teardown_world),
                cmocka_unit_test_setup_teardown(test_suspend_resume_terminate, setup_world, teardown_world),
                cmocka_unit_test_setup_teardown(test_termination_all_or_nothing, setup_world, teardown_world),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
