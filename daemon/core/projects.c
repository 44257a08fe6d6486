/* SPDX-License-Identifier: Apache-2.0 */
#include "projects.h"
#include "projects-internal.h"
#include "states.h"

#include <stdio.h>

#include "audit.h"
#include "catalog-validate.h"
#include "json-util.h"

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
        /* A few projects are evaluated over and over (each order is one). */
        p->approvals = approval_memo_new(64);
        if (!p->approvals) {
                free(p);
                return -ENOMEM;
        }
        if (!calendar) {
                int r = calendar_new(&p->empty_calendar);
                if (r < 0) {
                        approval_memo_free(p->approvals);
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
        approval_memo_free(p->approvals);
        free(p);
        return NULL;
}

Catalog *projects_catalog(Projects *p) {
        return p->catalog;
}

void project_row_done(ProjectRow *r) {
        free(r->id);
        free(r->name);
        free(r->department);
        free(r->status);
        free(r->created_at);
        free(r->updated_at);
        *r = (ProjectRow){ 0 };
}

int project_load(Projects *p, const char *id, ProjectRow *ret) {
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

int project_approval_load(Projects *p, const char *project_id, unsigned revision, Approval **ret) {
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

int project_approval_current(Projects *p, const char *project_id, const Approval **ret) {
        static const char cur[] = "SELECT a.document FROM approvals a JOIN projects p ON p.id = a.project_id "
                                  "AND p.current_revision = a.revision WHERE a.project_id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        CbError ignored = CB_ERROR_INIT;
        const char *doc;
        int r;

        r = store_query(p->store, cur, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading an approval", NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r == 0)
                return -ENOENT;
        doc = store_rows_text(rows, 0);
        if (!doc)
                return -EIO;
        return approval_memo_parse(p->approvals, doc, strlen(doc), ret, &ignored) < 0 ? -EIO : 0;
}

/* ---- deadlines ---- */

typedef struct Milestones {
        ProjectMilestone *v;
        size_t n;
} Milestones;

static void milestones_free(ProjectMilestone *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].recorded_at);
                free(v[i].recorded_by);
        }
        free(v);
}

static void milestones_done(Milestones *m) {
        milestones_free(m->v, m->n);
        *m = (Milestones){ 0 };
}

static int milestones_load(Projects *p, const char *project_id, Milestones *ret) {
        static const char sql[] =
                "SELECT kind, date, budget_year, id, recorded_at, recorded_by FROM milestones "
                "WHERE project_id = ?1 ORDER BY date, id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        Milestones ms = { 0 };
        int r;

        r = store_query(p->store, sql, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading milestones", NULL);
        while (r >= 0 && (r = store_rows_next(rows, NULL)) > 0) {
                ProjectMilestone *v = realloc(ms.v, (ms.n + 1) * sizeof(*v));
                int kind = milestone_kind_from_string(store_rows_text(rows, 0));
                if (!v) {
                        milestones_done(&ms);
                        return -ENOMEM;
                }
                ms.v = v;
                v[ms.n] = (ProjectMilestone){
                        .id = store_rows_int(rows, 3),
                        .kind = kind < 0 ? MILESTONE_CONTRACT_SIGNED : (MilestoneKind)kind,
                        .budget_year = (int)store_rows_int(rows, 2),
                        .recorded_at = store_rows_dup(rows, 4),
                        .recorded_by = store_rows_dup(rows, 5),
                };
                snprintf(v[ms.n].date, sizeof(v[ms.n].date), "%s", store_rows_text(rows, 1) ?: "");
                ms.n++;
                /* The schema admits no other kind. */
                if (kind < 0 || !v[ms.n - 1].recorded_at || !v[ms.n - 1].recorded_by) {
                        milestones_done(&ms);
                        return -EIO;
                }
        }
        if (r < 0) {
                milestones_done(&ms);
                return -EIO;
        }
        *ret = ms;
        return 0;
}

static DeadlineEvent deadline_event(MilestoneKind kind) {
        switch (kind) {
        case MILESTONE_CONTRACT_SIGNED:
                return DEADLINE_EVENT_CONTRACT_SIGNED;
        case MILESTONE_CONTRACT_FILED:
                return DEADLINE_EVENT_CONTRACT_FILED;
        case MILESTONE_COMPLETED:
                return DEADLINE_EVENT_COMPLETED;
        case MILESTONE_ACCEPTANCE_FILED:
                return DEADLINE_EVENT_ACCEPTANCE_FILED;
        case MILESTONE_SELF_EVALUATION_FILED:
        default:
                return DEADLINE_EVENT_SELF_EVALUATION_FILED;
        }
}

static int deadlines_of(Projects *p, const Milestones *ms, const Approval *a, const char *today,
                        Deadlines *ret) {
        _cleanup_(freep) DeadlineMilestone *dm = calloc(ms->n ? ms->n : 1, sizeof(*dm));
        if (!dm)
                return -ENOMEM;
        for (size_t i = 0; i < ms->n; i++) {
                dm[i] = (DeadlineMilestone){ .event = deadline_event(ms->v[i].kind),
                                             .date = ms->v[i].date,
                                             .budget_year = ms->v[i].budget_year };
        }
        return deadlines_compute(p->calendar, dm, ms->n, a ? a->valid_from : NULL, a ? a->valid_until : NULL,
                                 today, ret);
}

int project_deadlines(Projects *p, const char *project_id, const Approval *a, const char *today,
                      Deadlines *ret) {
        _cleanup_(milestones_done) Milestones ms = { 0 };
        int r = milestones_load(p, project_id, &ms);
        if (r < 0)
                return r;
        return deadlines_of(p, &ms, a, today, ret);
}

/* The project's deadlines with what opened and answered each, into p->. */
static int project_fill_deadlines(Projects *p, Project *pr, const char *today) {
        _cleanup_(milestones_done) Milestones ms = { 0 };
        _cleanup_(deadlines_done) Deadlines d = { 0 };
        int r;

        r = milestones_load(p, pr->id, &ms);
        if (r >= 0)
                r = deadlines_of(p, &ms, pr->approval, today, &d);
        if (r < 0)
                return r;
        pr->deadlines = calloc(d.n ? d.n : 1, sizeof(ProjectDeadline));
        if (!pr->deadlines)
                return -ENOMEM;
        for (size_t i = 0; i < d.n; i++) {
                ProjectDeadline *pd = &pr->deadlines[i];
                pd->deadline = d.v[i];
                snprintf(pd->event, sizeof(pd->event), "%s",
                         d.v[i].event_milestone == DEADLINE_NO_MILESTONE
                                 ? "budget_year_end"
                                 : milestone_kind_to_string(ms.v[d.v[i].event_milestone].kind));
                if (d.v[i].filed_milestone != DEADLINE_NO_MILESTONE)
                        snprintf(pd->filed_on, sizeof(pd->filed_on), "%s", ms.v[d.v[i].filed_milestone].date);
                if (d.v[i].status == DEADLINE_OVERDUE)
                        pr->blocked = true;
        }
        pr->n_deadlines = d.n;
        return 0;
}

/* ---- reading projects ---- */

int project_usage(Projects *p, const char *project_id, ProjectUsage *ret) {
        static const char sql[] = "SELECT cost_kind, SUM(committed_fen) FROM project_holdings "
                                  "WHERE project_id = ?1 GROUP BY cost_kind";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        ProjectUsage use = { 0 };
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

static int project_fill_events(Projects *p, Project *pr) {
        static const char sql[] =
                "SELECT action, reason, principal, at FROM project_events WHERE project_id = ?1 "
                "ORDER BY id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r = store_query(p->store, sql, STORE_ARGS(SA_TEXT(pr->id)), &rows, "reading project events",
                            NULL);

        while (r >= 0 && (r = store_rows_next(rows, NULL)) > 0) {
                ProjectEvent *v = realloc(pr->events, (pr->n_events + 1) * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                pr->events = v;
                v += pr->n_events++;
                *v = (ProjectEvent){ .action = store_rows_dup(rows, 0),
                                     .reason = store_rows_dup(rows, 1),
                                     .principal = store_rows_dup(rows, 2),
                                     .at = store_rows_dup(rows, 3) };
                if (!v->action || !v->reason || !v->principal || !v->at)
                        return -ENOMEM;
        }
        return r < 0 ? -EIO : 0;
}

Project *project_free(Project *pr) {
        if (!pr)
                return NULL;
        free(pr->id);
        free(pr->name);
        free(pr->department);
        free(pr->created_at);
        free(pr->updated_at);
        approval_free(pr->approval);
        free(pr->deadlines);
        approval_list_done(&pr->history);
        milestones_free(pr->milestones, pr->n_milestones);
        for (size_t i = 0; i < pr->n_events; i++) {
                free(pr->events[i].action);
                free(pr->events[i].reason);
                free(pr->events[i].principal);
                free(pr->events[i].at);
        }
        free(pr->events);
        free(pr);
        return NULL;
}

void project_list_done(ProjectList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                project_free(l->v[i]);
        free(l->v);
        *l = (ProjectList){ 0 };
}

/* The record of row as the faces show it; full adds the history, the
 * milestones and the events (projects_get). */
static int project_build(Projects *p, ProjectRow *row, bool full, Project **ret) {
        _cleanup_(project_freep) Project *pr = calloc(1, sizeof(*pr));
        ProjectUsage use;
        char today[11];
        int r, status;

        if (!pr)
                return -ENOMEM;
        status = project_status_from_string(row->status);
        if (status < 0)
                return -EIO;
        /* The row's strings move into the record. */
        pr->id = TAKE_PTR(row->id);
        pr->name = TAKE_PTR(row->name);
        pr->department = TAKE_PTR(row->department);
        pr->created_at = TAKE_PTR(row->created_at);
        pr->updated_at = TAKE_PTR(row->updated_at);
        pr->status = (ProjectStatus)status;
        pr->revision = row->revision;

        date_today_cst(today);
        r = project_approval_load(p, pr->id, 0, &pr->approval);
        if (r < 0)
                return r;
        r = project_usage(p, pr->id, &use);
        if (r < 0)
                return r;
        pr->used_construction_fen = use.construction_fen;
        pr->used_om_fen = use.om_fen;
        r = project_fill_deadlines(p, pr, today);
        if (r < 0)
                return r;
        if (full) {
                Milestones ms = { 0 };
                pr->full = true;
                r = project_approval_records(p, pr->id, &pr->history);
                if (r >= 0)
                        r = milestones_load(p, pr->id, &ms);
                if (r < 0)
                        return r;
                pr->milestones = ms.v;
                pr->n_milestones = ms.n;
                r = project_fill_events(p, pr);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(pr);
        return 0;
}

int project_not_found(CbError *err, const char *id) {
        return cb_error_set(err, CB_ERR_NOT_FOUND, "no project '%s'", id);
}

int project_load_visible(Projects *p, const CbCaller *caller, const char *id, ProjectRow *ret, CbError *err) {
        ProjectRow row = { 0 };
        int r;

        if (!id_is_valid(id))
                return project_not_found(err, id);
        r = project_load(p, id, &row);
        if (r == -ENOENT)
                return project_not_found(err, id);
        if (r < 0)
                return store_error(p->store, err, "reading the project");
        if (!caller_may_see(caller, row.department, PROJECT_READERS)) {
                project_row_done(&row);
                return project_not_found(err, id);
        }
        *ret = row;
        return 0;
}

int projects_get(Projects *p, const CbCaller *caller, const char *id, Project **ret, CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        int r;

        /* Before anything is read: the same refusal whatever the id names. */
        r = caller_require_role(caller, PROJECT_READERS | CB_ROLE_DEPARTMENT, "read projects", err);
        if (r < 0)
                return r;
        r = project_load_visible(p, caller, id, &row, err);
        if (r < 0)
                return r;
        r = project_build(p, &row, true, ret);
        if (r < 0)
                return store_error(p->store, err, "reading the project");
        return 0;
}

int projects_list(Projects *p, const CbCaller *caller, const char *department, const Page *page,
                  ProjectList *ret, char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] = "SELECT id FROM projects WHERE (?1 IS NULL OR department = ?1) "
                                  "AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(project_list_done) ProjectList l = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
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

        l.v = calloc(n ? n : 1, sizeof(Project *));
        for (size_t i = 0; i < n; i++) {
                ProjectRow row = { 0 };
                if (l.v && r >= 0) {
                        r = project_load(p, ids[i], &row);
                        if (r >= 0)
                                r = project_build(p, &row, false, &l.v[l.n]);
                        if (r >= 0)
                                l.n++;
                }
                project_row_done(&row);
                free(ids[i]);
        }
        free(ids);
        if (!l.v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (r < 0)
                return store_error(p->store, err, "reading the projects");
        *ret = l;
        l = (ProjectList){ 0 };
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

/* ---- milestones and status ---- */

static int year_of(const char *date) {
        int y = 0, m, d;
        date_parse(date, &y, &m, &d);
        return y;
}

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
                           Project **ret, CbError *err) {
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
        date_today_cst(today);
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
                        const json_t *body, Project **ret, CbError *err) {
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
                return project_not_found(err, id);
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_string(body, "reason", true, 2000, &reason, err);
        if (r < 0)
                return r;
        r = project_load(p, id, &row);
        if (r == -ENOENT)
                return project_not_found(err, id);
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
