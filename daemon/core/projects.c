/* SPDX-License-Identifier: Apache-2.0 */
#include "projects.h"
#include "states.h"

#include <stdio.h>
#include <time.h>

#include "approval.h"
#include "audit.h"
#include "catalog-validate.h"
#include "json-util.h"
#include "store-json.h"
#include "systems.h"

/* Art. 18 and 25, in working days. */
#define CONTRACT_FILING_DAYS   5
#define ACCEPTANCE_FILING_DAYS 30
/* Art. 26 names no number: the self-evaluation of budget year Y is due 60
 * working days after Y ends (about the end of March), a project decision
 * recorded in docs/policy.md. */
#define SELF_EVALUATION_DAYS 60

/* Who may read any project. */
#define PROJECT_READERS (CB_ROLE_AUTHORITY | CB_ROLE_OPERATOR | CB_ROLE_FINANCE | CB_ROLE_AUDITOR)

struct Projects {
        Store *store;
        Catalog *catalog;
        const TrustedKeys *keys;
        const Calendar *calendar;
        Calendar *empty_calendar; /* when the daemon has none: Monday-Friday, provisional */
        ProjectTerminatedFn terminated;
        void *terminated_userdata;
        ProjectMigrationFn migration;
        void *migration_userdata;
};

void projects_set_migration_callback(Projects *p, ProjectMigrationFn fn, void *userdata) {
        p->migration = fn;
        p->migration_userdata = userdata;
}

void projects_set_terminated_callback(Projects *p, ProjectTerminatedFn fn, void *userdata) {
        p->terminated = fn;
        p->terminated_userdata = userdata;
}

int projects_new(Store *store, Catalog *catalog, const TrustedKeys *keys, const Calendar *calendar,
                 Projects **ret) {
        Projects *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->store = store;
        p->catalog = catalog;
        p->keys = keys;
        p->calendar = calendar;
        if (!calendar) {
                int r = calendar_new(&p->empty_calendar);
                if (r < 0) {
                        free(p);
                        return r;
                }
                p->calendar = p->empty_calendar;
        }
        *ret = p;
        return 0;
}

Projects *projects_free(Projects *p) {
        if (!p)
                return NULL;
        calendar_free(p->empty_calendar);
        free(p);
        return NULL;
}

Catalog *projects_catalog(Projects *p) {
        return p->catalog;
}

void evaluation_done(Evaluation *e) {
        if (!e)
                return;
        json_decref(e->plan);
        json_decref(e->service);
        e->plan = e->service = NULL;
}

json_t *evaluation_to_json(const Evaluation *e) {
        json_t *out = policy_decision_to_json(&e->decision);
        if (!out)
                return NULL;
        json_object_set_new(out, "projected_cost_fen", json_integer(e->projected_cost_fen));
        json_object_set_new(out, "cost_kind",
                            json_string(e->cost_kind == POLICY_COST_OM ? "om" : "construction"));
        return out;
}

typedef struct ProjectRow {
        char *id, *name, *department, *status;
        unsigned revision;
        char *created_at, *updated_at;
} ProjectRow;

static void project_row_done(ProjectRow *r) {
        free(r->id);
        free(r->name);
        free(r->department);
        free(r->status);
        free(r->created_at);
        free(r->updated_at);
        *r = (ProjectRow){ 0 };
}

/* 0 and the row; -ENOENT when absent; -EIO on a store error. */
static int project_load(Projects *p, const char *id, ProjectRow *ret) {
        static const char sql[] =
                "SELECT id, name, department, status, current_revision, created_at, updated_at "
                "FROM projects WHERE id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r;

        r = store_query(p->store, sql, STORE_ARGS(SA_TEXT(id)), &rows, "reading a project", NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r == 0)
                return -ENOENT;
        *ret = (ProjectRow){
                .id = store_rows_dup(rows, 0),
                .name = store_rows_dup(rows, 1),
                .department = store_rows_dup(rows, 2),
                .status = store_rows_dup(rows, 3),
                .revision = (unsigned)store_rows_int(rows, 4),
                .created_at = store_rows_dup(rows, 5),
                .updated_at = store_rows_dup(rows, 6),
        };
        if (!ret->id || !ret->name || !ret->department || !ret->status || !ret->created_at ||
            !ret->updated_at) {
                project_row_done(ret);
                return -ENOMEM;
        }
        return 0;
}

/* The document of an approval revision (0: the current one), parsed. */
static int approval_load(Projects *p, const char *project_id, unsigned revision, Approval **ret) {
        static const char sql[] = "SELECT document FROM approvals WHERE project_id = ?1 AND revision = ?2";
        static const char cur[] = "SELECT a.document FROM approvals a JOIN projects p ON p.id = a.project_id "
                                  "AND p.current_revision = a.revision WHERE a.project_id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        CbError ignored = CB_ERROR_INIT;
        const char *doc;
        int r;

        if (revision)
                r = store_query(p->store, sql, STORE_ARGS(SA_TEXT(project_id), SA_INT(revision)), &rows,
                                "reading an approval", NULL);
        else
                r = store_query(p->store, cur, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading an approval",
                                NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r == 0)
                return -ENOENT;
        doc = store_rows_text(rows, 0);
        if (!doc)
                return -EIO;
        return approval_parse(doc, strlen(doc), ret, &ignored) < 0 ? -EIO : 0;
}

/* ---- approvals ---- */

typedef struct ApprovalIntake {
        const Approval *a;
        bool exists;
        const char *doc; /* the signed bytes, doc_len of them */
        size_t doc_len;
        const char *env_text, *key_id, *received_by, *now;
} ApprovalIntake;

/* The project (created on revision 1, renamed and moved on after) and the
 * approval revision with the exact signed bytes, so that the signature can
 * be checked again later. */
static int approval_store(Store *s, void *userdata, CbError *err) {
        static const char ins_project[] =
                "INSERT INTO projects (id, name, department, status, current_revision, "
                "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";
        static const char upd_project[] =
                "UPDATE projects SET name = ?2, current_revision = ?3, updated_at = ?4 WHERE id = ?1";
        static const char ins_approval[] =
                "INSERT INTO approvals (project_id, revision, approval_no, document, "
                "envelope, key_id, received_at, received_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
        const ApprovalIntake *in = userdata;
        const Approval *a = in->a;
        int r;

        if (in->exists)
                r = store_run(s, upd_project,
                              STORE_ARGS(SA_TEXT(a->project_id), SA_TEXT(a->project_name),
                                         SA_INT(a->revision), SA_TEXT(in->now)),
                              "storing the approval", err);
        else
                r = store_run(s, ins_project,
                              STORE_ARGS(SA_TEXT(a->project_id), SA_TEXT(a->project_name),
                                         SA_TEXT(a->department),
                                         SA_TEXT(project_status_to_string(PROJECT_ACTIVE)),
                                         SA_INT(a->revision), SA_TEXT(in->now)),
                              "storing the approval", err);
        if (r >= 0)
                r = store_run(s, ins_approval,
                              STORE_ARGS(SA_TEXT(a->project_id), SA_INT(a->revision), SA_TEXT(a->approval_no),
                                         SA_TEXT_LEN(in->doc, in->doc_len), SA_TEXT(in->env_text),
                                         SA_TEXT(in->key_id), SA_TEXT(in->now), SA_TEXT(in->received_by)),
                              "storing the approval", err);
        return r < 0 ? r : 0;
}

int projects_submit_approval(Projects *p, const CbCaller *caller, const json_t *envelope, json_t **ret,
                             CbError *err) {
        _cleanup_(freep) char *doc = NULL, *key_id = NULL, *env_text = NULL;
        _cleanup_(approval_freep) Approval *a = NULL;
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        char object[128], now[32];
        json_t *detail;
        size_t len = 0;
        bool exists;
        int r;

        r = caller_require_role(caller, CB_ROLE_AUTHORITY | CB_ROLE_DEPARTMENT, "submit approvals", err);
        if (r < 0) {
                audit_refusal(p->store, caller, "approval.submit", "approval:?", "forbidden", NULL);
                return r;
        }
        if (!p->keys || trusted_keys_count(p->keys) == 0)
                return cb_error_set(err, CB_ERR_UNPROCESSABLE, "no trusted authority key is configured");

        r = envelope_verify(p->keys, envelope, &doc, &len, &key_id, err);
        if (r < 0) {
                audit_refusal(p->store, caller, "approval.submit", "approval:?", "rejected", NULL);
                return r;
        }
        r = approval_parse(doc, len, &a, err);
        if (r < 0) {
                /* The signature was good, so the document is the authority's: still refuse it whole. */
                char msg[sizeof(err->message)], field[sizeof(err->field)];
                /* Copies: err->field and err->message are overwritten by the call below. */
                snprintf(msg, sizeof(msg), "%s", err->message);
                snprintf(field, sizeof(field), "%s", err->field);
                cb_error_set_field(err, CB_ERR_UNPROCESSABLE, field, "signed document: %s", msg);
                audit_refusal(p->store, caller, "approval.submit", "approval:?", "rejected", NULL);
                return r;
        }
        snprintf(object, sizeof(object), "project:%s", a->project_id);

        if (!caller_has_role(caller, CB_ROLE_AUTHORITY) &&
            !streq_ptr(caller->principal->department, a->department)) {
                audit_refusal(p->store, caller, "approval.submit", object, "rejected", NULL);
                return cb_error_set_field(
                        err, CB_ERR_UNPROCESSABLE, "department",
                        "the approval is for department '%s', not the caller's ('%s')", a->department,
                        caller->principal->department ? caller->principal->department : "none");
        }

        r = project_load(p, a->project_id, &row);
        if (r < 0 && r != -ENOENT)
                return store_error(p->store, err, "reading the project");
        exists = r == 0;
        /* The department first: another department's revision is none of its business. */
        if (exists && !streq(row.department, a->department)) {
                audit_refusal(p->store, caller, "approval.submit", object, "rejected", NULL);
                /* The holder is named only to whom may read the project. */
                if (!caller_may_see(caller, row.department, PROJECT_READERS | CB_ROLE_AUTHORITY))
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "project_id",
                                                  "project id '%s' is not available to department '%s'",
                                                  a->project_id, a->department);
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "department",
                                          "project '%s' belongs to department '%s', not '%s'", a->project_id,
                                          row.department, a->department);
        }

        if (exists && (int64_t)row.revision >= a->revision) {
                audit_refusal(p->store, caller, "approval.submit", object, "rejected", NULL);
                return cb_error_set_field(
                        err, CB_ERR_UNPROCESSABLE, "revision",
                        "revision %lld is not newer than revision %u already held for project '%s'",
                        (long long)a->revision, row.revision, a->project_id);
        }
        env_text = json_dumps(envelope, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!env_text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        ApprovalIntake in = { .a = a,
                              .exists = exists,
                              .doc = doc,
                              .doc_len = len,
                              .env_text = env_text,
                              .key_id = key_id,
                              .received_by = caller->principal->name,
                              .now = now };
        detail = json_pack("{s:s, s:I, s:s}", "approval_no", a->approval_no, "revision",
                           (json_int_t)a->revision, "key_id", key_id);
        r = audit_change(p->store, caller, &(AuditEntry){ "approval.accept", object, "ok", NULL, detail },
                         approval_store, &in, err);
        json_decref(detail);
        if (r < 0)
                return r;

        *ret = json_pack("{s:s, s:s, s:I}", "project_id", a->project_id, "approval_no", a->approval_no,
                         "revision", (json_int_t)a->revision);
        return 0;
}

/* ---- deadlines ---- */

typedef struct Milestone {
        char kind[32];
        char date[11];
        int budget_year;
} Milestone;

typedef struct Milestones {
        Milestone *v;
        size_t n;
} Milestones;

static void milestones_done(Milestones *m) {
        free(m->v);
        *m = (Milestones){ 0 };
}

static int milestones_load(Projects *p, const char *project_id, Milestones *ret) {
        static const char sql[] = "SELECT kind, date, budget_year FROM milestones WHERE project_id = ?1 "
                                  "ORDER BY date, id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        Milestones ms = { 0 };
        int r;

        r = store_query(p->store, sql, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading milestones", NULL);
        while (r >= 0 && (r = store_rows_next(rows, NULL)) > 0) {
                Milestone *v = realloc(ms.v, (ms.n + 1) * sizeof(Milestone));
                if (!v) {
                        milestones_done(&ms);
                        return -ENOMEM;
                }
                ms.v = v;
                snprintf(ms.v[ms.n].kind, sizeof(ms.v[ms.n].kind), "%s", store_rows_text(rows, 0) ?: "");
                snprintf(ms.v[ms.n].date, sizeof(ms.v[ms.n].date), "%s", store_rows_text(rows, 1) ?: "");
                ms.v[ms.n].budget_year = (int)store_rows_int(rows, 2);
                ms.n++;
        }
        if (r < 0) {
                milestones_done(&ms);
                return -EIO;
        }
        *ret = ms;
        return 0;
}

/* What the deadlines add up to, for the policy engine. */
typedef struct DeadlineFacts {
        PolicyDeadline contract, acceptance, self_evaluation;
        char due[3][11];
} DeadlineFacts;

/* One deadline: an event, its due date, and the filing that answers it. */
static json_t *deadline_json(const char *kind, unsigned article, const char *event_kind,
                             const char *event_date, const char *due, bool provisional, const char *filed_on,
                             const char *today, bool *ret_overdue) {
        const char *status;
        if (filed_on)
                status = date_compare(filed_on, due) <= 0 ? "met" : "late";
        else
                status = date_compare(today, due) > 0 ? "overdue" : "pending";
        if (ret_overdue)
                *ret_overdue = streq(status, "overdue");
        return json_pack("{s:s, s:i, s:s, s:s, s:s, s:b, s:s?, s:s}", "kind", kind, "article", (int)article,
                         "event", event_kind, "event_date", event_date, "due", due, "provisional",
                         provisional, "filed_on", filed_on, "status", status);
}

/* Pairs each event with the first unused filing on or after it, in date order. */
static int pair_deadlines(Projects *p, const Milestones *ms, const char *event, const char *filing,
                          unsigned days, const char *kind, unsigned article, const char *today, json_t *out,
                          PolicyDeadline *fact, char due_buf[11]) {
        bool *used = calloc(ms->n ? ms->n : 1, sizeof(bool));
        if (!used)
                return -ENOMEM;
        for (size_t i = 0; i < ms->n; i++) {
                char due[11];
                bool provisional = false, overdue = false;
                const char *filed = NULL;

                if (!streq(ms->v[i].kind, event))
                        continue;
                if (calendar_add_working_days(p->calendar, ms->v[i].date, days, due, &provisional) < 0)
                        continue;
                for (size_t j = 0; j < ms->n && !filed; j++)
                        if (!used[j] && streq(ms->v[j].kind, filing) &&
                            date_compare(ms->v[j].date, ms->v[i].date) >= 0) {
                                used[j] = true;
                                filed = ms->v[j].date;
                        }
                json_array_append_new(out, deadline_json(kind, article, event, ms->v[i].date, due,
                                                         provisional, filed, today, &overdue));
                if (overdue && fact && !fact->overdue) {
                        fact->overdue = true;
                        snprintf(due_buf, 11, "%s", due);
                        fact->due = due_buf;
                }
        }
        free(used);
        return 0;
}

static int year_of(const char *date) {
        int y = 0, m, d;
        date_parse(date, &y, &m, &d);
        return y;
}

/* Every deadline of a project as JSON, and the overdue facts. */
static int project_deadlines(Projects *p, const char *project_id, const Approval *a, const char *today,
                             json_t **ret, DeadlineFacts *facts) {
        _cleanup_(milestones_done) Milestones ms = { 0 };
        json_t *out;
        int r;

        r = milestones_load(p, project_id, &ms);
        if (r < 0)
                return r;
        out = json_array();
        if (!out)
                return -ENOMEM;
        *facts = (DeadlineFacts){ 0 };
        pair_deadlines(p, &ms, "contract_signed", "contract_filed", CONTRACT_FILING_DAYS, "contract_filing",
                       18, today, out, &facts->contract, facts->due[0]);
        pair_deadlines(p, &ms, "completed", "acceptance_filed", ACCEPTANCE_FILING_DAYS, "acceptance_filing",
                       25, today, out, &facts->acceptance, facts->due[1]);

        /* Art. 26: each budget year the approval spans that has ended. */
        if (a) {
                int first = year_of(a->valid_from), last = year_of(a->valid_until), now = year_of(today);
                for (int y = first; y <= last && y < now && y - first < 50; y++) {
                        char year_end[16], due[11];
                        bool provisional = false, overdue = false;
                        const char *filed = NULL;

                        snprintf(year_end, sizeof(year_end), "%04d-12-31", y % 10000);
                        if (calendar_add_working_days(p->calendar, year_end, SELF_EVALUATION_DAYS, due,
                                                      &provisional) < 0)
                                continue;
                        for (size_t j = 0; j < ms.n && !filed; j++)
                                if (streq(ms.v[j].kind, "self_evaluation_filed") && ms.v[j].budget_year == y)
                                        filed = ms.v[j].date;
                        json_t *d = deadline_json("self_evaluation", 26, "budget_year_end", year_end, due,
                                                  provisional, filed, today, &overdue);
                        json_object_set_new(d, "budget_year", json_integer(y));
                        json_array_append_new(out, d);
                        if (overdue && !facts->self_evaluation.overdue) {
                                facts->self_evaluation.overdue = true;
                                snprintf(facts->due[2], 11, "%s", due);
                                facts->self_evaluation.due = facts->due[2];
                        }
                }
        }
        *ret = out;
        return 0;
}

/* ---- reading projects ---- */

typedef struct Usage {
        int64_t construction_fen, om_fen;
} Usage;

static int project_usage(Projects *p, const char *project_id, Usage *ret) {
        static const char sql[] = "SELECT cost_kind, SUM(committed_fen) FROM project_holdings "
                                  "WHERE project_id = ?1 GROUP BY cost_kind";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        Usage use = { 0 };
        int r;

        r = store_query(p->store, sql, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading project holdings",
                        NULL);
        while (r >= 0 && (r = store_rows_next(rows, NULL)) > 0) {
                if (streq_ptr(store_rows_text(rows, 0), "om"))
                        use.om_fen = store_rows_int(rows, 1);
                else
                        use.construction_fen = store_rows_int(rows, 1);
        }
        if (r < 0)
                return -EIO;
        *ret = use;
        return 0;
}

static json_t *project_history(Projects *p, const char *project_id) {
        return store_json_rows(
                p->store,
                "SELECT revision, approval_no, key_id, received_at, received_by FROM approvals "
                "WHERE project_id = ? ORDER BY revision",
                project_id, false);
}

/* budget_year only for the self-evaluations, which are per budget year. */
static json_t *project_milestones_json(Projects *p, const char *project_id) {
        return store_json_rows(p->store,
                               "SELECT id, kind, date, budget_year, recorded_at, recorded_by FROM milestones "
                               "WHERE project_id = ? ORDER BY date, id",
                               project_id, false);
}

static json_t *project_events_json(Projects *p, const char *project_id) {
        return store_json_rows(
                p->store,
                "SELECT action, reason, principal, at FROM project_events WHERE project_id = ? "
                "ORDER BY id",
                project_id, false);
}

static int project_view(Projects *p, const ProjectRow *row, bool full, json_t **ret) {
        _cleanup_(approval_freep) Approval *a = NULL;
        json_t *v, *deadlines = NULL;
        DeadlineFacts df;
        Usage use;
        char today[11];
        int r;

        date_today_local(today);
        r = approval_load(p, row->id, 0, &a);
        if (r < 0)
                return r;
        r = project_usage(p, row->id, &use);
        if (r < 0)
                return r;
        r = project_deadlines(p, row->id, a, today, &deadlines, &df);
        if (r < 0)
                return r;

        v = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:b, s:s, s:s}",
                      "id", row->id, "name", row->name, "department", row->department, "status", row->status,
                      "revision", (int)row->revision, "approval", approval_to_json(a), "budget",
                      "construction_fen", (json_int_t)a->construction_fen, "om_fen", (json_int_t)a->om_fen,
                      "used_construction_fen", (json_int_t)use.construction_fen, "used_om_fen",
                      (json_int_t)use.om_fen, "remaining_construction_fen",
                      (json_int_t)(a->construction_fen - use.construction_fen), "remaining_om_fen",
                      (json_int_t)(a->om_fen - use.om_fen), "deadlines", deadlines, "blocked",
                      df.contract.overdue || df.acceptance.overdue || df.self_evaluation.overdue,
                      "created_at", row->created_at, "updated_at", row->updated_at);
        if (!v)
                return -ENOMEM;
        if (full) {
                json_object_set_new(v, "approval_history", project_history(p, row->id));
                json_object_set_new(v, "milestones", project_milestones_json(p, row->id));
                json_object_set_new(v, "events", project_events_json(p, row->id));
        }
        *ret = v;
        return 0;
}

static int not_found(CbError *err, const char *id) {
        return cb_error_set(err, CB_ERR_NOT_FOUND, "no project '%s'", id);
}

/* The project as the caller sees it: -ENOENT (and not_found) for an
 * unknown id and for a project the caller may not read alike, so that a
 * refusal does not tell another department that the id is in use. */
static int project_load_visible(Projects *p, const CbCaller *caller, const char *id, ProjectRow *ret,
                                CbError *err) {
        ProjectRow row = { 0 };
        int r;

        if (!id_is_valid(id))
                return not_found(err, id);
        r = project_load(p, id, &row);
        if (r == -ENOENT)
                return not_found(err, id);
        if (r < 0)
                return store_error(p->store, err, "reading the project");
        if (!caller_may_see(caller, row.department, PROJECT_READERS)) {
                project_row_done(&row);
                return not_found(err, id);
        }
        *ret = row;
        return 0;
}

int projects_get(Projects *p, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        int r;

        /* Before anything is read: the same refusal whatever the id names. */
        r = caller_require_role(caller, PROJECT_READERS | CB_ROLE_DEPARTMENT, "read projects", err);
        if (r < 0)
                return r;
        r = project_load_visible(p, caller, id, &row, err);
        if (r < 0)
                return r;
        r = project_view(p, &row, true, ret);
        if (r < 0)
                return store_error(p->store, err, "reading the project");
        return 0;
}

int projects_list_approvals(Projects *p, const CbCaller *caller, const char *project_id, json_t **ret,
                            CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        json_t *list;
        int r;

        /* projects_get's rule: readers, and a department its own projects. */
        r = caller_require_role(caller, PROJECT_READERS | CB_ROLE_DEPARTMENT, "read approvals", err);
        if (r < 0)
                return r;
        r = project_load_visible(p, caller, project_id, &row, err);
        if (r < 0)
                return r;
        list = project_history(p, row.id);
        if (!list)
                return store_error(p->store, err, "reading the approvals");
        *ret = list;
        return 0;
}

int projects_get_approval(Projects *p, const CbCaller *caller, const char *project_id, unsigned revision,
                          json_t **ret, CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        _cleanup_(approval_freep) Approval *a = NULL;
        json_t *v;
        int r;

        r = caller_require_role(caller, PROJECT_READERS | CB_ROLE_DEPARTMENT, "read approvals", err);
        if (r < 0)
                return r;
        r = project_load_visible(p, caller, project_id, &row, err);
        if (r < 0)
                return r;
        r = approval_load(p, row.id, revision, &a);
        if (r == -ENOENT)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "project '%s' has no approval revision %u", row.id,
                                    revision);
        if (r < 0)
                return store_error(p->store, err, "reading the approval");
        v = approval_to_json(a);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = v;
        return 0;
}

int projects_list(Projects *p, const CbCaller *caller, const char *department, const Page *page, json_t **ret,
                  char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] = "SELECT id FROM projects WHERE (?1 IS NULL OR department = ?1) "
                                  "AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        char next[PAGE_TOKEN_MAX] = "";
        json_t *out;
        char **ids = NULL;
        size_t n = 0;
        int r;

        if (!caller_has_role(caller, PROJECT_READERS)) {
                /* A department sees its own projects, and asks for no other. */
                r = caller_require_role(caller, CB_ROLE_DEPARTMENT, "list projects", err);
                if (r < 0)
                        return r;
                if (department && !streq(department, caller->principal->department))
                        return cb_error_set(err, CB_ERR_FORBIDDEN,
                                            "%s may not list the projects of department %s",
                                            caller->principal->name, department);
                department = caller->principal->department;
        }
        r = store_query(p->store, sql,
                        STORE_ARGS(SA_TEXT(department), SA_TEXT(page->has_after ? page->after[0] : NULL),
                                   SA_INT((int64_t)page->limit + 1)),
                        &rows, "listing projects", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                char **v;
                if (n == page->limit) {
                        page_token_make(ids[n - 1], NULL, next);
                        break;
                }
                v = realloc(ids, (n + 1) * sizeof(char *));
                if (!v) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                ids = v;
                ids[n] = store_rows_dup(rows, 0);
                if (!ids[n]) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                n++;
        }
        store_rows_done(TAKE_PTR(rows));
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(ids[i]);
                free(ids);
                return r;
        }

        out = json_array();
        for (size_t i = 0; i < n; i++) {
                ProjectRow row = { 0 };
                json_t *v = NULL;
                if (out && project_load(p, ids[i], &row) == 0 && project_view(p, &row, false, &v) == 0)
                        json_array_append_new(out, v);
                project_row_done(&row);
                free(ids[i]);
        }
        free(ids);
        if (!out)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = out;
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

/* ---- milestones and status ---- */

typedef struct MilestoneRow {
        const char *project_id, *kind, *date;
        int64_t budget_year; /* 0: none */
        const char *recorded_at, *recorded_by;
} MilestoneRow;

static int milestone_insert(Store *s, void *userdata, CbError *err) {
        static const char ins[] = "INSERT INTO milestones (project_id, kind, date, budget_year, recorded_at, "
                                  "recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        const MilestoneRow *m = userdata;
        int r = store_run(s, ins,
                          STORE_ARGS(SA_TEXT(m->project_id), SA_TEXT(m->kind), SA_TEXT(m->date),
                                     m->budget_year ? SA_INT(m->budget_year) : SA_NULL,
                                     SA_TEXT(m->recorded_at), SA_TEXT(m->recorded_by)),
                          "storing the milestone", err);
        return r < 0 ? r : 0;
}

int projects_add_milestone(Projects *p, const CbCaller *caller, const char *id, const json_t *body,
                           json_t **ret, CbError *err) {
        static const char *const fields[] = { "kind", "date", "budget_year", NULL };
        static const char has_event[] = "SELECT COUNT(*) FROM milestones WHERE project_id = ?1 AND kind = ?2 "
                                        "AND date <= ?3";
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        const char *kind = NULL, *date = NULL, *needs = NULL;
        int64_t budget_year = 0;
        char object[128], now[32], today[11];
        int r, mk;

        snprintf(object, sizeof(object), "project:%s", id);
        /* Milestones are the implementing department's own statements.
         * Every other role is refused before anything is read (the same
         * answer whatever the id names); another department's project is
         * then an unknown one. */
        r = caller_require_role(caller, CB_ROLE_DEPARTMENT, "record milestones", err);
        if (r >= 0) {
                r = project_load_visible(p, caller, id, &row, err);
                if (r < 0)
                        return r;
                r = caller_require_department(caller, row.department, 0, "record milestones of this project",
                                              err);
        }
        if (r < 0) {
                audit_refusal(p->store, caller, "project.milestone", object, "forbidden", NULL);
                return r;
        }

        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_string(body, "kind", true, 64, &kind, err);
        if (r >= 0)
                r = json_get_date(body, "date", true, &date, err);
        if (r >= 0)
                r = json_get_int(body, "budget_year", false, 1, 9999, &budget_year, err);
        if (r < 0)
                return r;
        mk = milestone_kind_from_string(kind);
        if (mk < 0) {
                size_t n = milestone_kind_table_size();
                const char *const *t = milestone_kind_table_get();
                char names[256];
                return cb_error_set_field(err, CB_ERR_VALIDATION, "kind", "kind: '%s' is not one of %s", kind,
                                          string_table_join(t, n, names, sizeof(names)));
        }
        date_today_local(today);
        if (date_compare(date, today) > 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "date", "date: %s is in the future", date);
        if (budget_year && mk != MILESTONE_SELF_EVALUATION_FILED)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "budget_year",
                                          "budget_year: only for self_evaluation_filed");
        if (mk == MILESTONE_SELF_EVALUATION_FILED && !budget_year)
                budget_year = year_of(date) - 1;
        if (mk == MILESTONE_CONTRACT_FILED)
                needs = milestone_kind_to_string(MILESTONE_CONTRACT_SIGNED);
        else if (mk == MILESTONE_ACCEPTANCE_FILED)
                needs = milestone_kind_to_string(MILESTONE_COMPLETED);
        if (needs) {
                int64_t count = 0;
                r = store_query_int(p->store, has_event,
                                    STORE_ARGS(SA_TEXT(id), SA_TEXT(needs), SA_TEXT(date)), &count,
                                    "reading milestones", err);
                if (r < 0)
                        return r;
                if (count == 0)
                        return cb_error_set(err, CB_ERR_CONFLICT, "%s needs a %s milestone on or before %s",
                                            kind, needs, date);
        }

        store_now(now);
        MilestoneRow mr = { id, kind, date, budget_year, now, caller->principal->name };
        json_t *detail = json_pack("{s:s, s:s}", "kind", kind, "date", date);
        r = audit_change(p->store, caller, &(AuditEntry){ "project.milestone", object, "ok", NULL, detail },
                         milestone_insert, &mr, err);
        json_decref(detail);
        if (r < 0)
                return r;
        return projects_get(p, caller, id, ret, err);
}

typedef struct StatusAction {
        const char *action;
        unsigned from; /* a set of 1 << ProjectStatus */
        ProjectStatus to;
} StatusAction;

static const StatusAction status_actions[] = {
        { "suspend", 1U << PROJECT_ACTIVE, PROJECT_SUSPENDED },
        { "resume", 1U << PROJECT_SUSPENDED, PROJECT_ACTIVE },
        { "terminate", (1U << PROJECT_ACTIVE) | (1U << PROJECT_SUSPENDED), PROJECT_TERMINATED },
};

typedef struct StatusChange {
        Projects *p;
        const CbCaller *caller;
        const char *id, *action, *reason;
        ProjectStatus to;
        const char *at;
} StatusChange;

/* The status, its event, and what terminating brings (the project's
 * resources retired), all in the one transaction audit_change opens. */
static int status_change(Store *s, void *userdata, CbError *err) {
        static const char upd[] = "UPDATE projects SET status = ?1, updated_at = ?2 WHERE id = ?3";
        static const char ins[] = "INSERT INTO project_events (project_id, action, reason, principal, at) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5)";
        const StatusChange *c = userdata;
        int r = store_run(
                s, upd, STORE_ARGS(SA_TEXT(project_status_to_string(c->to)), SA_TEXT(c->at), SA_TEXT(c->id)),
                "changing the project status", err);
        if (r >= 0)
                r = store_run(s, ins,
                              STORE_ARGS(SA_TEXT(c->id), SA_TEXT(c->action), SA_TEXT(c->reason),
                                         SA_TEXT(c->caller->principal->name), SA_TEXT(c->at)),
                              "changing the project status", err);
        if (r >= 0 && c->to == PROJECT_TERMINATED && c->p->terminated)
                r = c->p->terminated(c->id, c->caller, c->p->terminated_userdata);
        return r < 0 ? r : 0;
}

int projects_set_status(Projects *p, const CbCaller *caller, const char *id, const char *action,
                        const json_t *body, json_t **ret, CbError *err) {
        static const char *const fields[] = { "reason", NULL };
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        const StatusAction *sa = NULL;
        const char *reason = NULL;
        char object[128], audit_action[64], now[32];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(status_actions); i++)
                if (streq(status_actions[i].action, action))
                        sa = &status_actions[i];
        if (!sa)
                return cb_error_set(err, CB_ERR_INVALID, "unknown project action '%s'", action);
        snprintf(object, sizeof(object), "project:%s", id);
        snprintf(audit_action, sizeof(audit_action), "project.%s", action);

        r = caller_require_role(caller, CB_ROLE_AUTHORITY, "suspend, resume or terminate projects", err);
        if (r < 0) {
                audit_refusal(p->store, caller, audit_action, object, "forbidden", NULL);
                return r;
        }
        if (!id_is_valid(id))
                return not_found(err, id);
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_string(body, "reason", true, 2000, &reason, err);
        if (r < 0)
                return r;
        r = project_load(p, id, &row);
        if (r == -ENOENT)
                return not_found(err, id);
        if (r < 0)
                return store_error(p->store, err, "reading the project");
        int cur = project_status_from_string(row.status);
        if (cur < 0 || !(sa->from & (1U << cur)))
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot %s project '%s': it is %s", action, id,
                                    row.status);

        store_now(now);
        StatusChange sc = { p, caller, id, action, reason, sa->to, now };
        json_t *detail =
                json_pack("{s:s, s:s}", "reason", reason, "status", project_status_to_string(sa->to));
        r = audit_change(p->store, caller, &(AuditEntry){ audit_action, object, "ok", NULL, detail },
                         status_change, &sc, err);
        json_decref(detail);
        if (r < 0)
                return r;
        return projects_get(p, caller, id, ret, err);
}

/* ---- evaluation ---- */

int eval_request_from_json(const json_t *j, const char *const *extra, EvalRequest *ret, CbError *err) {
        static const char *const base[] = { "project_id", "system_id", "service_id",
                                            "plan_id",    "quantity",  "dedicated_network" };
        const char *fields[32];
        size_t n = 0;
        EvalRequest req = { .quantity = 1 };
        int64_t quantity = 1;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(base); i++)
                fields[n++] = base[i];
        for (const char *const *e = extra; e && *e && n < ELEMENTSOF(fields) - 1; e++)
                fields[n++] = *e;
        fields[n] = NULL;

        r = json_check_object(j, fields, err);
        if (r >= 0)
                r = json_get_id(j, "project_id", true, &req.project_id, err);
        if (r >= 0)
                r = json_get_id(j, "system_id", true, &req.system_id, err);
        if (r >= 0)
                r = json_get_id(j, "service_id", true, &req.service_id, err);
        if (r >= 0)
                r = json_get_id(j, "plan_id", true, &req.plan_id, err);
        if (r >= 0)
                r = json_get_int(j, "quantity", false, 1, 10000, &quantity, err);
        if (r >= 0)
                r = json_get_bool(j, "dedicated_network", false, &req.dedicated_network, err);
        if (r < 0)
                return r;
        req.quantity = (uint32_t)quantity;
        *ret = req;
        return 0;
}

static bool project_completed(Projects *p, const char *project_id) {
        static const char sql[] = "SELECT COUNT(*) FROM milestones WHERE project_id = ?1 AND kind = ?2";
        int64_t n = 0;
        return store_query_int(p->store, sql,
                               STORE_ARGS(SA_TEXT(project_id),
                                          SA_TEXT(milestone_kind_to_string(MILESTONE_COMPLETED))),
                               &n, "reading milestones", NULL) >= 0 &&
               n > 0;
}

static uint32_t held_quantity(Projects *p, const char *project_id, const char *service_id,
                              const char *plan_id) {
        static const char sql[] = "SELECT COALESCE(SUM(quantity), 0) FROM project_holdings "
                                  "WHERE project_id = ?1 AND service_id = ?2 AND plan_id = ?3";
        int64_t n = 0;
        if (store_query_int(p->store, sql,
                            STORE_ARGS(SA_TEXT(project_id), SA_TEXT(service_id), SA_TEXT(plan_id)), &n,
                            "reading project holdings", NULL) < 0 ||
            n < 0)
                return 0;
        return (uint32_t)n;
}

static int64_t days_between(const char *from, const char *to) {
        int y1, m1, d1, y2, m2, d2;
        struct tm a = { 0 }, b = { 0 };
        if (date_parse(from, &y1, &m1, &d1) < 0 || date_parse(to, &y2, &m2, &d2) < 0)
                return 0;
        a = (struct tm){ .tm_year = y1 - 1900, .tm_mon = m1 - 1, .tm_mday = d1, .tm_hour = 12 };
        b = (struct tm){ .tm_year = y2 - 1900, .tm_mon = m2 - 1, .tm_mday = d2, .tm_hour = 12 };
        return (int64_t)((timegm(&b) - timegm(&a)) / 86400);
}

/* Price x quantity over what is left of the approval (today to valid_until,
 * inclusive): the most the resource can cost under this approval. */
static int64_t projected_cost(const json_t *plan, uint32_t quantity, const Approval *a, const char *today) {
        const json_t *price = json_object_get(plan, "price");
        int64_t fen = json_integer_value(json_object_get(price, "amount_fen"));
        const char *unit = json_string_value(json_object_get(price, "unit"));
        int64_t days = a ? days_between(today, a->valid_until) + 1 : 0;
        int64_t periods;

        if (days <= 0)
                return 0;
        if (unit && streq(unit, "month"))
                periods = (days + 29) / 30;
        else
                periods = days * 24;
        return fen * periods * (int64_t)quantity;
}

static const json_t *find_plan(const json_t *service, const char *plan_id) {
        size_t i;
        json_t *plan;
        json_array_foreach(
                json_object_get(service, "plans"), i,
                plan) if (streq_ptr(json_string_value(json_object_get(plan, "id")), plan_id)) return plan;
        return NULL;
}

static int evaluate(Projects *p, const CbCaller *caller, const EvalRequest *req, unsigned also,
                    Evaluation *ret, CbError *err);

/* Every fact from one snapshot, read under one lock. */
int projects_evaluate(Projects *p, const CbCaller *caller, const EvalRequest *req, unsigned also,
                      Evaluation *ret, CbError *err) {
        int opened = store_read_begin(p->store);
        int r = evaluate(p, caller, req, also, ret, err);
        store_read_end(p->store, opened);
        return r;
}

static int evaluate(Projects *p, const CbCaller *caller, const EvalRequest *req, unsigned also,
                    Evaluation *ret, CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        _cleanup_(approval_freep) Approval *a = NULL;
        _cleanup_(freep) PolicyItem *items = NULL;
        json_t *service = NULL;
        const json_t *plan = NULL;
        SystemFacts sys = { 0 };
        DeadlineFacts df = { 0 };
        json_t *ignored_deadlines = NULL;
        PolicyRequest preq;
        PolicyFacts facts = { 0 };
        Evaluation ev = { 0 };
        Usage use = { 0 };
        const unsigned evaluators = CB_ROLE_AUTHORITY | CB_ROLE_AUDITOR | also;
        char today[11];
        int r;

        date_today_local(today);
        /* Who may ask at all is decided before anything is read, so that
         * the refusal is the same whatever the ids name. */
        r = caller_require_role(caller, CB_ROLE_DEPARTMENT | evaluators, "evaluate requests", err);
        if (r < 0)
                return r;
        r = project_load(p, req->project_id, &row);
        if (r < 0 && r != -ENOENT)
                return store_error(p->store, err, "reading the project");
        /* Another department's project is evaluated as an unknown one
         * (NO_APPROVAL): its department, status and approval stay unsaid. */
        if (r == 0 && !caller_may_see(caller, row.department, evaluators))
                project_row_done(&row);

        /* Only the project's own department asks (and the authority, auditors, and whom `also` names). */
        r = caller_require_department(caller, row.id ? row.department : caller->principal->department,
                                      evaluators, "evaluate requests for this project", err);
        if (r < 0)
                return r;

        if (row.id) {
                r = approval_load(p, row.id, 0, &a);
                if (r < 0 && r != -ENOENT)
                        return store_error(p->store, err, "reading the approval");
                if (project_usage(p, row.id, &use) < 0 ||
                    project_deadlines(p, row.id, a, today, &ignored_deadlines, &df) < 0)
                        return store_error(p->store, err, "reading the project");
                json_decref(ignored_deadlines);
        }

        preq = (PolicyRequest){
                .department =
                        caller_has_role(caller, CB_ROLE_DEPARTMENT) ? caller->principal->department : NULL,
                .project_id = req->project_id,
                .system_id = req->system_id,
                .service_id = req->service_id,
                .plan_id = req->plan_id,
                .quantity = req->quantity,
                .today = today,
                .dedicated_network = req->dedicated_network,
                .cost_kind =
                        row.id && project_completed(p, row.id) ? POLICY_COST_OM : POLICY_COST_CONSTRUCTION,
        };

        facts.project.department = row.id ? row.department : (preq.department ? preq.department : "");
        int status = row.id ? project_status_from_string(row.status) : PROJECT_ACTIVE;
        facts.project.status = status == PROJECT_SUSPENDED    ? POLICY_STATUS_SUSPENDED
                               : status == PROJECT_TERMINATED ? POLICY_STATUS_TERMINATED
                                                              : POLICY_STATUS_ACTIVE;
        if (a) {
                items = calloc(a->n_items ? a->n_items : 1, sizeof(PolicyItem));
                if (!items)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                for (size_t i = 0; i < a->n_items; i++)
                        items[i] = (PolicyItem){
                                .service_id = a->items[i].service_id,
                                .plan_id = a->items[i].plan_id,
                                .approved = (uint32_t)a->items[i].quantity,
                                .held = held_quantity(p, row.id, a->items[i].service_id, a->items[i].plan_id),
                        };
                facts.approval.present = true;
                facts.approval.valid_from = a->valid_from;
                facts.approval.valid_until = a->valid_until;
                facts.approval.items = items;
                facts.approval.n_items = a->n_items;
                facts.approval.systems = (const char *const *)a->systems;
                facts.approval.n_systems = a->n_systems;
                facts.approval.budget_construction_fen = a->construction_fen;
                facts.approval.budget_om_fen = a->om_fen;
                facts.approval.used_construction_fen = use.construction_fen;
                facts.approval.used_om_fen = use.om_fen;
                facts.approval.requires_secure_controllable = a->requires_secure_controllable;
                facts.approval.dedicated_network_consent = a->dedicated_network_consent;
                snprintf(ev.approval_no, sizeof(ev.approval_no), "%s", a->approval_no);
        }

        if (catalog_get_published(p->catalog, req->service_id, &service) == 0) {
                plan = find_plan(service, req->plan_id);
                facts.service.exists = true;
                /* A plan outside the published revision is not in the catalogue either (Art. 12). */
                facts.service.published = plan != NULL;
                facts.service.secure_controllable =
                        json_is_true(json_object_get(service, "secure_controllable"));
                facts.service.max_protection_level =
                        (uint8_t)json_integer_value(json_object_get(service, "max_protection_level"));
                ev.catalog_revision = (unsigned)json_integer_value(json_object_get(service, "revision"));
        } else
                /* A draft or retired service exists but is not orderable: the
                 * message says which, to whom may see the draft. */
                facts.service.exists = catalog_exists(p->catalog, caller, req->service_id);

        /* A system the caller may not read is not in the directory for it
         * (SYSTEM_NOT_LISTED, and nothing of its classification or level).
         * A role the evaluation is for (`also`: the migration team planning
         * a department's move) reads the system it acts on. */
        if ((caller_has_role(caller, also)
                     ? systems_get_facts(p->store, req->system_id, &sys)
                     : systems_get_visible_facts(p->store, caller, req->system_id, &sys)) == 0) {
                facts.system.listed = true;
                facts.system.classified = sys.classified;
                facts.system.protection_level = sys.protection_level;
                facts.system.data_sharing_compliant = sys.data_sharing_compliant;
        }

        facts.projected_cost_fen = plan ? projected_cost(plan, req->quantity, a, today) : 0;
        facts.deadlines.contract_filing = df.contract;
        facts.deadlines.acceptance_filing = df.acceptance;
        facts.deadlines.self_evaluation = df.self_evaluation;
        /* Art. 35: a department whose legacy system missed its deadline
         * gets nothing new but what moves its systems (the legacy register
         * answers; without it, nothing is overdue). */
        char migration_due[11] = "", migration_system[64] = "";
        bool migration_overdue = false;
        if (p->migration && facts.project.department[0] &&
            p->migration(facts.project.department, req->project_id, today, &migration_overdue, migration_due,
                         migration_system, p->migration_userdata) == 0 &&
            migration_overdue) {
                facts.deadlines.migration = (PolicyDeadline){ .overdue = true, .due = migration_due };
                facts.deadlines.migration_system = migration_system;
        }

        r = policy_evaluate(&preq, &facts, &ev.decision);
        if (r < 0) {
                json_decref(service);
                return cb_error_set(err, CB_ERR_INVALID, "the request cannot be evaluated: %s", strerror(-r));
        }
        ev.cost_kind = preq.cost_kind;
        ev.projected_cost_fen = facts.projected_cost_fen;
        snprintf(ev.department, sizeof(ev.department), "%s", facts.project.department);
        ev.service = service;
        ev.plan = plan ? json_incref((json_t *)plan) : NULL;
        *ret = ev;
        return 0;
}
