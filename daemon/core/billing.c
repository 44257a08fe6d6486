/* SPDX-License-Identifier: Apache-2.0 */
#include "billing.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "date.h"
#include "digest.h"
#include "id.h"
#include "legacy.h"
#include "log.h"
#include "policy.h"
#include "rating.h"
#include "states.h"
#include "worker.h"

#define ACCEPTANCE_FILING_DAYS 30 /* Art. 25, as in projects.c */
#define MONTHS_BACK_MAX        1200

enum { KIND_CONSTRUCTION, KIND_OM, _KIND_MAX };

typedef struct Money {
        int64_t amount, pay, withhold;
        size_t lines;
} Money;

typedef struct ProjectAcc {
        char *id, *department, *approval_no, *valid_until;
        bool suspended, terminated, acceptance_overdue;
        bool have_budget;
        int64_t budget[_KIND_MAX], period[_KIND_MAX], to_date[_KIND_MAX];
        Money money;
} ProjectAcc;

typedef struct Resource {
        char *id, *department, *project_id, *approval_no, *system_id, *service_id, *plan_id;
        int64_t revision;
        int kind;
        RatingSegment *segs;
        size_t n_segs, cap_segs;
} Resource;

typedef struct PriceEntry {
        char *service_id;
        int64_t revision;
        json_t *doc; /* NULL: no such revision */
} PriceEntry;

/* A project's money before and in the period, from the whole history
 * (JSON statements only: the CSV has no budgets). */
typedef struct ToDate {
        char *project_id;
        int64_t fen[_KIND_MAX];
        int64_t committed[_KIND_MAX]; /* spend_today only */
} ToDate;

typedef struct SystemEntry {
        char *id;
        bool noncompliant;      /* Art. 11 */
        bool migration_overdue; /* Art. 35, as of the statement's last day */
} SystemEntry;

/* ---- CSV: RFC 4180, CRLF, a field quoted when it holds , " CR or LF ---- */

typedef struct Buf {
        char *p;
        size_t n, cap;
        bool failed;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
        if (b->failed)
                return;
        if (b->n + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->n + n + 1)
                        cap *= 2;
                char *nv = realloc(b->p, cap);
                if (!nv) {
                        b->failed = true;
                        return;
                }
                b->p = nv;
                b->cap = cap;
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = 0;
}

static void csv_field(Buf *b, const char *s, bool first) {
        if (!first)
                buf_add(b, ",", 1);
        if (!s)
                return;
        if (!strpbrk(s, ",\"\r\n")) {
                buf_add(b, s, strlen(s));
                return;
        }
        buf_add(b, "\"", 1);
        for (const char *c = s; *c; c++) {
                buf_add(b, c, 1);
                if (*c == '"')
                        buf_add(b, "\"", 1);
        }
        buf_add(b, "\"", 1);
}

static const char *const csv_columns[] = {
        "period",           "department",     "project_id", "approval_no",      "system_id",
        "resource_id",      "service_id",     "plan_id",    "catalog_revision", "unit",
        "quantity_seconds", "unit_price_fen", "amount_fen", "funding",          "withhold_articles",
};

/* Where a statement's bytes go: a REST response, a D-Bus client's pipe,
 * memory (closing a month). */
#define OUT_FLUSH (64 * 1024)

typedef struct Stmt {
        Store *s;
        const Calendar *cal;
        Legacy *lg; /* NULL: no register, nothing overdue */
        RatingPeriod period;
        int64_t as_of;
        char as_of_date[DATE_LEN + 1];
        json_t *projects, *departments, *budgets, *unrated;
        /* Output: the lines are written as they are made, OUT_FLUSH bytes at a time. */
        bool csv;
        BillingWriteFn out_fn;
        void *out_ud;
        Buf out;
        size_t n_out_lines;
        const SystemEntry *pre; /* facts gathered on the loop (worker: no Legacy) */
        size_t n_pre;
        Money total, dept;
        char *cur_dept;
        ProjectAcc proj;
        bool have_proj;
        struct {
                size_t lines;
                int64_t amount;
        } withheld[_POLICY_CODE_MAX];
        PriceEntry *prices;
        size_t n_prices;
        SystemEntry *systems;
        size_t n_systems;
        ToDate *to_date;
        size_t n_to_date;
        bool to_date_pass;        /* rate() is summing histories, not making lines */
        const char *only_project; /* to_date_pass: that project's resources only */
        /* to_date_pass for the budget (Art. 13): charged before today,
         * committed from today to the approval's last day. */
        const char *spend_today, *spend_until;
        CbError *err;
} Stmt;

static void resource_done(Resource *r) {
        free(r->id);
        free(r->department);
        free(r->project_id);
        free(r->approval_no);
        free(r->system_id);
        free(r->service_id);
        free(r->plan_id);
        free(r->segs);
        *r = (Resource){ 0 };
}

static void project_done(ProjectAcc *p) {
        free(p->id);
        free(p->department);
        free(p->approval_no);
        free(p->valid_until);
        *p = (ProjectAcc){ 0 };
}

static void stmt_done(Stmt *st) {
        free(st->out.p);
        json_decref(st->projects);
        json_decref(st->departments);
        json_decref(st->budgets);
        json_decref(st->unrated);
        free(st->cur_dept);
        project_done(&st->proj);
        for (size_t i = 0; i < st->n_prices; i++) {
                free(st->prices[i].service_id);
                json_decref(st->prices[i].doc);
        }
        free(st->prices);
        for (size_t i = 0; i < st->n_systems; i++)
                free(st->systems[i].id);
        free(st->systems);
        for (size_t i = 0; i < st->n_to_date; i++)
                free(st->to_date[i].project_id);
        free(st->to_date);
}

static ToDate *to_date_find(Stmt *st, const char *project_id) {
        for (size_t i = 0; i < st->n_to_date; i++)
                if (streq(st->to_date[i].project_id, project_id))
                        return &st->to_date[i];
        return NULL;
}

/* UTC seconds as the store writes them, or as CST wall time with its offset. */
static void format_utc(int64_t t, char buf[32]) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void format_cst(int64_t t, char buf[32]) {
        time_t tt = (time_t)(t + 8 * 3600);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static int oom(Stmt *st) {
        return cb_error_set(st->err, CB_ERR_INTERNAL, "out of memory while rating");
}

/* The catalogue revision a resource was ordered under (cached per statement). */
static int price_doc(Stmt *st, const char *service_id, int64_t revision, const json_t **ret) {
        static const char sql[] = "SELECT document FROM services WHERE id = ?1 AND revision = ?2";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        PriceEntry *e, *nv;
        int r;

        for (size_t i = 0; i < st->n_prices; i++)
                if (st->prices[i].revision == revision && streq(st->prices[i].service_id, service_id)) {
                        *ret = st->prices[i].doc;
                        return 0;
                }
        nv = realloc(st->prices, (st->n_prices + 1) * sizeof(*nv));
        if (!nv)
                return oom(st);
        st->prices = nv;
        e = &st->prices[st->n_prices];
        *e = (PriceEntry){ .service_id = strdup(service_id), .revision = revision };
        if (!e->service_id)
                return oom(st);
        st->n_prices++;
        r = store_query(st->s, sql, STORE_ARGS(SA_TEXT(service_id), SA_INT(revision)), &rows,
                        "reading a catalogue revision", st->err);
        if (r < 0)
                return r;
        r = store_rows_next(rows, st->err);
        if (r < 0)
                return r;
        if (r > 0)
                e->doc = json_loads(store_rows_text(rows, 0), 0, NULL);
        *ret = e->doc;
        return 0;
}

static int system_facts(Stmt *st, const char *id, bool *ret_noncompliant, bool *ret_migration_overdue) {
        static const char sql[] = "SELECT data_sharing FROM systems WHERE id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        SystemEntry *nv;
        LegacyOverdueFacts lf;
        bool nc = false, mo = false;
        int r;

        for (size_t i = 0; i < st->n_pre; i++)
                if (streq(st->pre[i].id, id)) {
                        *ret_noncompliant = st->pre[i].noncompliant;
                        *ret_migration_overdue = st->pre[i].migration_overdue;
                        return 0;
                }
        for (size_t i = 0; i < st->n_systems; i++)
                if (streq(st->systems[i].id, id)) {
                        *ret_noncompliant = st->systems[i].noncompliant;
                        *ret_migration_overdue = st->systems[i].migration_overdue;
                        return 0;
                }
        r = store_query(st->s, sql, STORE_ARGS(SA_TEXT(id)), &rows, "reading a system", st->err);
        if (r < 0)
                return r;
        r = store_rows_next(rows, st->err);
        if (r < 0)
                return r;
        if (r > 0)
                nc = streq(store_rows_text(rows, 0), "noncompliant");
        if (st->lg) {
                r = legacy_system_overdue(st->lg, id, st->as_of_date, &lf);
                if (r < 0 && r != -ENOENT)
                        return cb_error_set(st->err, CB_ERR_INTERNAL, "cannot read the legacy register");
                mo = r >= 0 && lf.overdue.overdue;
        }
        nv = realloc(st->systems, (st->n_systems + 1) * sizeof(*nv));
        if (!nv)
                return oom(st);
        st->systems = nv;
        st->systems[st->n_systems] =
                (SystemEntry){ .id = strdup(id), .noncompliant = nc, .migration_overdue = mo };
        if (!st->systems[st->n_systems].id)
                return oom(st);
        st->n_systems++;
        *ret_noncompliant = nc;
        *ret_migration_overdue = mo;
        return 0;
}

/* Art. 25: a completion whose acceptance report was not filed within 30
 * working days, as of the statement's last day. */
static int acceptance_overdue(Stmt *st, const char *project_id, bool *ret) {
        static const char sql[] =
                "SELECT kind, date FROM milestones WHERE project_id = ?1 AND date <= ?2 AND "
                "kind IN ('completed', 'acceptance_filed') ORDER BY date, id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        size_t n = 0, cap = 0;
        struct {
                bool completed, used;
                char date[DATE_LEN + 1];
        } *ms = NULL;
        bool overdue = false;
        int r;

        r = store_query(st->s, sql, STORE_ARGS(SA_TEXT(project_id), SA_TEXT(st->as_of_date)), &rows,
                        "reading milestones", st->err);
        if (r < 0)
                return r;
        while ((r = store_rows_next(rows, st->err)) > 0) {
                if (n == cap) {
                        void *nv = realloc(ms, (cap = cap ? cap * 2 : 8) * sizeof(*ms));
                        if (!nv) {
                                free(ms);
                                return oom(st);
                        }
                        ms = nv;
                }
                ms[n].completed = streq(store_rows_text(rows, 0), "completed");
                ms[n].used = false;
                snprintf(ms[n].date, sizeof(ms[n].date), "%s", store_rows_text(rows, 1));
                n++;
        }
        if (r < 0) {
                free(ms);
                return r;
        }
        for (size_t i = 0; i < n && !overdue; i++) {
                bool filed = false, late = false, provisional = false;
                if (!ms[i].completed)
                        continue;
                /* Rows are in date order: the first unused filing on or after the completion. */
                for (size_t j = i + 1; j < n && !filed; j++)
                        if (!ms[j].completed && !ms[j].used)
                                filed = ms[j].used = true;
                if (!filed && calendar_is_overdue(st->cal, ms[i].date, ACCEPTANCE_FILING_DAYS, st->as_of_date,
                                                  &late, &provisional) >= 0)
                        overdue = late;
        }
        free(ms);
        *ret = overdue;
        return 0;
}

static int project_begin(Stmt *st, const char *project_id) {
        static const char sql[] =
                "SELECT p.department, p.status, a.approval_no, a.document FROM projects p "
                "LEFT JOIN approvals a ON a.project_id = p.id AND a.revision = p.current_revision "
                "WHERE p.id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        ProjectAcc *p = &st->proj;
        int r;

        *p = (ProjectAcc){ .id = strdup(project_id) };
        st->have_proj = true;
        if (!p->id)
                return oom(st);
        r = store_query(st->s, sql, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading a project", st->err);
        if (r < 0)
                return r;
        r = store_rows_next(rows, st->err);
        if (r < 0)
                return r;
        if (r > 0) {
                const char *status = store_rows_text(rows, 1);
                json_auto_t *doc = NULL;
                p->department = store_rows_dup(rows, 0);
                p->approval_no = store_rows_dup(rows, 2);
                p->suspended = streq(status, "suspended");
                p->terminated = streq(status, "terminated");
                if (!store_rows_is_null(rows, 3))
                        doc = json_loads(store_rows_text(rows, 3), 0, NULL);
                if (doc) {
                        json_t *b = json_object_get(doc, "budget");
                        const char *until = json_string_value(json_object_get(doc, "valid_until"));
                        p->have_budget = true;
                        if (until && !(p->valid_until = strdup(until)))
                                return oom(st);
                        p->budget[KIND_CONSTRUCTION] =
                                json_integer_value(json_object_get(b, "construction_fen"));
                        p->budget[KIND_OM] = json_integer_value(json_object_get(b, "om_fen"));
                }
        }
        store_rows_done(TAKE_PTR(rows));
        {
                const ToDate *td = to_date_find(st, project_id);
                if (td)
                        memcpy(p->to_date, td->fen, sizeof(p->to_date));
        }
        return acceptance_overdue(st, project_id, &p->acceptance_overdue);
}

static json_t *money_json(const Money *m, json_t *o) {
        if (!o)
                return NULL;
        if (json_object_set_new(o, "lines", json_integer((json_int_t)m->lines)) < 0 ||
            json_object_set_new(o, "amount_fen", json_integer(m->amount)) < 0 ||
            json_object_set_new(o, "pay_fen", json_integer(m->pay)) < 0 ||
            json_object_set_new(o, "withhold_fen", json_integer(m->withhold)) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *budget_kind_json(const ProjectAcc *p, int k, int64_t committed) {
        json_t *o = json_pack("{s:o, s:I, s:I, s:I}", "budget_fen",
                              p->have_budget ? json_integer(p->budget[k]) : json_null(), "billed_fen",
                              (json_int_t)p->period[k], "billed_to_date_fen", (json_int_t)p->to_date[k],
                              "committed_fen", (json_int_t)committed);
        if (o && p->have_budget)
                json_object_set_new(o, "remaining_fen", json_integer(p->budget[k] - p->to_date[k]));
        return o;
}

static int project_end(Stmt *st) {
        ProjectAcc *p = &st->proj;
        int64_t committed[_KIND_MAX] = { 0 };
        json_t *b;
        int r;

        if (!st->have_proj)
                return 0;
        if (!st->csv) {
                /* The budget rule (Art. 13) of the evaluation and the alerts:
                 * what the project's resources commit from today to the
                 * approval's end. Re-rated, not the kept row of
                 * billing_project_spend(): a statement is read in one read
                 * transaction, and keeping the row writes. */
                BillingSpend sp;
                char today[DATE_LEN + 1];
                date_today_cst(today);
                r = billing_project_spend_uncached(st->s, p->id, today, p->valid_until, (int64_t)time(NULL),
                                                   &sp, st->err);
                if (r < 0)
                        return r;
                for (int k = 0; k < _KIND_MAX; k++)
                        committed[k] = sp.committed_fen[k];
        }
        if (p->money.lines > 0) {
                json_t *o = money_json(&p->money, json_pack("{s:s, s:s?}", "project_id", p->id, "department",
                                                            p->department));
                if (!o || json_array_append_new(st->projects, o) < 0)
                        return oom(st);
        }
        b = json_pack("{s:s, s:s?, s:s?, s:o, s:o}", "project_id", p->id, "department", p->department,
                      "approval_no", p->approval_no, "construction",
                      budget_kind_json(p, KIND_CONSTRUCTION, committed[KIND_CONSTRUCTION]), "om",
                      budget_kind_json(p, KIND_OM, committed[KIND_OM]));
        if (!b || json_array_append_new(st->budgets, b) < 0)
                return oom(st);
        project_done(p);
        st->have_proj = false;
        return 0;
}

static int department_end(Stmt *st) {
        json_t *o;
        if (!st->cur_dept)
                return 0;
        if (st->dept.lines > 0) {
                o = money_json(&st->dept, json_pack("{s:s}", "department", st->cur_dept));
                if (!o || json_array_append_new(st->departments, o) < 0)
                        return oom(st);
        }
        free(st->cur_dept);
        st->cur_dept = NULL;
        st->dept = (Money){ 0 };
        return 0;
}

static void money_add(Money *m, int64_t amount, bool withheld) {
        m->lines++;
        m->amount += amount;
        if (withheld)
                m->withhold += amount;
        else
                m->pay += amount;
}

static int out_flush(Stmt *st) {
        int r;
        if (st->out.failed)
                return oom(st);
        if (st->out.n == 0)
                return 0;
        r = st->out_fn(st->out_ud, st->out.p, st->out.n);
        st->out.n = 0;
        if (r < 0)
                return cb_error_set(st->err, CB_ERR_INTERNAL, "the statement's reader went away (%s)",
                                    strerror(-r));
        return 0;
}

static int out_add(Stmt *st, const char *p, size_t n) {
        buf_add(&st->out, p, n);
        return st->out.n >= OUT_FLUSH || st->out.failed ? out_flush(st) : 0;
}

/* A JSON value, compact and in its members' order, as json_dumps of the
 * whole document would write it there. */
static int out_json(Stmt *st, const json_t *v) {
        char *text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
        int r;
        if (!text)
                return oom(st);
        r = out_add(st, text, strlen(text));
        free(text);
        return r;
}

static void csv_line(Buf *b, const json_t *line) {
        for (size_t c = 0; c < ELEMENTSOF(csv_columns); c++) {
                const json_t *v = json_object_get(line, csv_columns[c]);
                char num[32];
                if (json_is_integer(v)) {
                        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                        csv_field(b, num, c == 0);
                } else if (json_is_array(v)) {
                        char arts[64] = "";
                        size_t j, n = 0;
                        const json_t *a;
                        json_array_foreach(v, j, a) n +=
                                (size_t)snprintf(arts + n, sizeof(arts) - n, "%s%" JSON_INTEGER_FORMAT,
                                                 j ? ";" : "", json_integer_value(a));
                        csv_field(b, arts, c == 0);
                } else
                        csv_field(b, json_string_value(v), c == 0);
        }
        buf_add(b, "\r\n", 2);
}

static int emit_line(Stmt *st, const json_t *line) {
        int r = 0;
        if (st->csv) {
                csv_line(&st->out, line);
                if (st->out.n >= OUT_FLUSH || st->out.failed)
                        r = out_flush(st);
        } else {
                if (st->n_out_lines > 0)
                        r = out_add(st, ",", 1);
                if (r >= 0)
                        r = out_json(st, line);
        }
        st->n_out_lines++;
        return r;
}

/* The month before p. */
static int period_prev(const RatingPeriod *p, RatingPeriod *ret) {
        char name[32];
        snprintf(name, sizeof(name), "%04d-%02d", (p->month == 1 ? p->year - 1 : p->year) % 10000,
                 (p->month == 1 ? 12 : p->month - 1) % 100);
        return rating_period_parse(name, ret);
}

/* The money of one resource: its line of this period (if it was charged in
 * it) and what it cost since it began, month by month as those months'
 * statements say. */
static int resource_end(Stmt *st, Resource *res) {
        const json_t *doc = NULL;
        RatingUnit unit;
        int64_t price, seconds, amount;
        RatingPeriod m;
        Withhold w;
        char articles[32];
        json_t *line, *arts;
        bool noncompliant = false, migration_overdue = false;
        int r;

        if (!res->id)
                return 0;
        r = price_doc(st, res->service_id, res->revision, &doc);
        if (r < 0)
                return r;
        r = doc ? rating_plan_price(doc, res->plan_id, &unit, &price) : -ENOENT;
        if (r < 0) {
                /* Never a failed statement for one missing rate: the line is
                 * listed apart, for the catalogue's keepers to answer. */
                json_t *u = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "resource_id", res->id, "project_id",
                                      res->project_id, "service_id", res->service_id, "plan_id", res->plan_id,
                                      "catalog_revision", (json_int_t)res->revision, "reason",
                                      r == -ENOENT ? "the plan is not in that catalogue revision"
                                                   : "the plan's price in that revision is malformed");
                if (!u || json_array_append_new(st->unrated, u) < 0)
                        return oom(st);
                return 0;
        }

        if (st->to_date_pass) {
                ToDate *td = to_date_find(st, res->project_id);
                if (!td) {
                        ToDate *nv = realloc(st->to_date, (st->n_to_date + 1) * sizeof(*nv));
                        if (!nv)
                                return oom(st);
                        st->to_date = nv;
                        td = &st->to_date[st->n_to_date];
                        *td = (ToDate){ .project_id = strdup(res->project_id) };
                        if (!td->project_id)
                                return oom(st);
                        st->n_to_date++;
                }
                if (st->spend_today) {
                        int64_t charged, committed;
                        if (rating_budget_spend(unit, price, res->segs, res->n_segs, st->spend_today,
                                                st->spend_until, &charged, &committed) < 0)
                                return cb_error_set(st->err, CB_ERR_INTERNAL, "cannot rate resource %s",
                                                    res->id);
                        td->fen[res->kind] += charged;
                        td->committed[res->kind] += committed;
                        return 0;
                }
                m = st->period;
                for (int i = 0; i < MONTHS_BACK_MAX && res->n_segs > 0 && m.end > res->segs[0].start; i++) {
                        int64_t s = rating_charged_seconds(unit, res->segs, res->n_segs, &m, st->as_of), a;
                        if (rating_amount_fen(unit, price, s, &m, &a) >= 0)
                                td->fen[res->kind] += a;
                        if (period_prev(&m, &m) < 0)
                                break;
                }
                return 0;
        }

        seconds = rating_charged_seconds(unit, res->segs, res->n_segs, &st->period, st->as_of);
        if (seconds == 0)
                return 0;
        r = rating_amount_fen(unit, price, seconds, &st->period, &amount);
        if (r < 0)
                return cb_error_set(st->err, CB_ERR_INTERNAL, "cannot rate resource %s", res->id);

        r = system_facts(st, res->system_id, &noncompliant, &migration_overdue);
        if (r < 0)
                return r;
        rating_withhold(
                &(WithholdFacts){
                        .om = res->kind == KIND_OM,
                        .project_suspended = st->proj.suspended,
                        .project_terminated = st->proj.terminated,
                        .data_sharing_noncompliant = noncompliant,
                        .acceptance_filing_overdue = st->proj.acceptance_overdue,
                        /* Art. 35 holds back O&M funds only: the
                         * construction that moves the system is paid. */
                        .migration_overdue = res->kind == KIND_OM && migration_overdue,
                },
                &w);
        rating_withhold_articles(&w, articles, sizeof(articles));
        arts = json_array();
        for (size_t i = 0; arts && i < w.n; i++) {
                json_array_append_new(arts, json_integer(policy_code_article(w.codes[i])));
                st->withheld[w.codes[i]].lines++;
                st->withheld[w.codes[i]].amount += amount;
        }
        line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:s, s:o?}",
                         "period", st->period.name, "department", res->department, "project_id",
                         res->project_id, "approval_no", res->approval_no, "system_id", res->system_id,
                         "resource_id", res->id, "service_id", res->service_id, "plan_id", res->plan_id,
                         "catalog_revision", (json_int_t)res->revision, "unit", rating_unit_to_string(unit),
                         "quantity_seconds", (json_int_t)seconds, "unit_price_fen", (json_int_t)price,
                         "amount_fen", (json_int_t)amount, "funding", w.n ? "withhold" : "pay",
                         "withhold_articles", arts);
        if (!line)
                return oom(st);
        r = emit_line(st, line);
        json_decref(line);
        if (r < 0)
                return r;
        st->proj.period[res->kind] += amount;
        money_add(&st->proj.money, amount, w.n > 0);
        money_add(&st->dept, amount, w.n > 0);
        money_add(&st->total, amount, w.n > 0);
        return 0;
}

#define USAGE_COLUMNS                                                                                     \
        "SELECT r.id, r.department, r.project_id, r.approval_no, r.system_id, r.service_id, "             \
        "COALESCE(s.plan_id, r.plan_id), COALESCE(s.catalog_revision, r.catalog_revision), r.cost_kind, " \
        "s.state, s.start_at "
/* The lines: each resource that existed before the period ended, with the
 * segment in force when it began (the last one starting before, with any
 * of the same second) and those starting in it; by department and project.
 * An index on (resource_id, start_at) makes both a seek. */
#define USAGE_WINDOW                                                                                       \
        "FROM resources r JOIN usage_segments s ON s.resource_id = r.id AND s.start_at < ?1 AND "          \
        "s.start_at >= COALESCE((SELECT MAX(x.start_at) FROM usage_segments x WHERE x.resource_id = r.id " \
        "AND x.start_at < ?2), '') WHERE r.created_at < ?1 "
#define USAGE_ORDER "ORDER BY r.department, r.project_id, r.id, s.seq"
/* The money to date: every segment, in the table's own order. */
#define USAGE_ALL "FROM usage_segments s JOIN resources r ON r.id = s.resource_id WHERE r.created_at < ?1 "

static int rate(Stmt *st, const char *department) {
        static const char sql_all[] = USAGE_COLUMNS USAGE_WINDOW USAGE_ORDER;
        static const char sql_dept[] = USAGE_COLUMNS USAGE_WINDOW "AND r.department = ?3 " USAGE_ORDER;
        static const char sql_hist_all[] = USAGE_COLUMNS USAGE_ALL "ORDER BY s.resource_id, s.seq";
        static const char sql_hist_dept[] =
                USAGE_COLUMNS USAGE_ALL "AND r.department = ?2 ORDER BY s.resource_id, s.seq";
        static const char sql_hist_project[] =
                USAGE_COLUMNS USAGE_ALL "AND r.project_id = ?2 ORDER BY s.resource_id, s.seq";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        Resource res = { 0 };
        char start[32], end[32];
        int r;

        format_utc(st->period.start, start);
        format_utc(st->period.end, end);
        if (st->to_date_pass && st->only_project)
                r = store_query(st->s, sql_hist_project, STORE_ARGS(SA_TEXT(end), SA_TEXT(st->only_project)),
                                &rows, "reading usage", st->err);
        else if (st->to_date_pass)
                r = department
                            ? store_query(st->s, sql_hist_dept, STORE_ARGS(SA_TEXT(end), SA_TEXT(department)),
                                          &rows, "reading usage", st->err)
                            : store_query(st->s, sql_hist_all, STORE_ARGS(SA_TEXT(end)), &rows,
                                          "reading usage", st->err);
        else
                r = department ? store_query(st->s, sql_dept,
                                             STORE_ARGS(SA_TEXT(end), SA_TEXT(start), SA_TEXT(department)),
                                             &rows, "reading usage", st->err)
                               : store_query(st->s, sql_all, STORE_ARGS(SA_TEXT(end), SA_TEXT(start)), &rows,
                                             "reading usage", st->err);
        if (r < 0)
                return r;
        while ((r = store_rows_next(rows, st->err)) > 0) {
                const char *id = store_rows_text(rows, 0), *dept = store_rows_text(rows, 1),
                           *project = store_rows_text(rows, 2);
                RatingSegment seg = { 0 };
                /* A resized resource (daemon/core/resize.c): each plan it was on
                 * is a line of its own at that plan's price, and the part at the
                 * old plan ends where the new one starts. */
                bool replanned =
                        streq_ptr(id, res.id) && (!streq_ptr(store_rows_text(rows, 6), res.plan_id) ||
                                                  store_rows_int(rows, 7) != res.revision);

                if (replanned) {
                        /* The old plan ends: nothing of it runs on (a month
                         * price would charge a stopped one). */
                        RatingSegment end = { .deleted = true };
                        if (rating_parse_time(store_rows_text(rows, 10), &end.start) < 0) {
                                r = cb_error_set(st->err, CB_ERR_INTERNAL,
                                                 "resource %s has a usage segment at '%s'", id,
                                                 store_rows_text(rows, 10));
                                break;
                        }
                        if (res.n_segs == res.cap_segs) {
                                RatingSegment *nv = realloc(res.segs, (res.cap_segs + 1) * sizeof(*nv));
                                if (!nv) {
                                        r = oom(st);
                                        break;
                                }
                                res.segs = nv;
                                res.cap_segs++;
                        }
                        res.segs[res.n_segs++] = end;
                        r = resource_end(st, &res);
                        free(res.plan_id);
                        res.plan_id = store_rows_dup(rows, 6);
                        res.revision = store_rows_int(rows, 7);
                        res.n_segs = 0;
                        if (r < 0)
                                break;
                        if (!res.plan_id) {
                                r = oom(st);
                                break;
                        }
                } else if (!streq_ptr(id, res.id)) {
                        r = resource_end(st, &res);
                        resource_done(&res);
                        if (r < 0)
                                break;
                        if (!st->to_date_pass && (!st->have_proj || !streq_ptr(project, st->proj.id))) {
                                if ((r = project_end(st)) < 0)
                                        break;
                                if (!streq_ptr(dept, st->cur_dept)) {
                                        if ((r = department_end(st)) < 0)
                                                break;
                                        if (!(st->cur_dept = strdup(dept))) {
                                                r = oom(st);
                                                break;
                                        }
                                }
                                if ((r = project_begin(st, project)) < 0)
                                        break;
                        }
                        res = (Resource){
                                .id = strdup(id),
                                .department = strdup(dept),
                                .project_id = strdup(project),
                                .approval_no = store_rows_dup(rows, 3),
                                .system_id = store_rows_dup(rows, 4),
                                .service_id = store_rows_dup(rows, 5),
                                .plan_id = store_rows_dup(rows, 6),
                                .revision = store_rows_int(rows, 7),
                                .kind = streq(store_rows_text(rows, 8), "om") ? KIND_OM : KIND_CONSTRUCTION,
                        };
                        if (!res.id || !res.department || !res.project_id || !res.approval_no ||
                            !res.system_id || !res.service_id || !res.plan_id) {
                                r = oom(st);
                                break;
                        }
                }
                if (rating_parse_time(store_rows_text(rows, 10), &seg.start) < 0) {
                        r = cb_error_set(st->err, CB_ERR_INTERNAL, "resource %s has a usage segment at '%s'",
                                         id, store_rows_text(rows, 10));
                        break;
                }
                seg.active = streq(store_rows_text(rows, 9), "active");
                seg.deleted = streq(store_rows_text(rows, 9), "deleted");
                if (res.n_segs == res.cap_segs) {
                        size_t cap = res.cap_segs ? res.cap_segs * 2 : 8;
                        RatingSegment *nv = realloc(res.segs, cap * sizeof(*nv));
                        if (!nv) {
                                r = oom(st);
                                break;
                        }
                        res.segs = nv;
                        res.cap_segs = cap;
                }
                res.segs[res.n_segs++] = seg;
        }
        if (r >= 0)
                r = resource_end(st, &res);
        resource_done(&res);
        if (r >= 0 && !st->to_date_pass)
                r = project_end(st);
        if (r >= 0 && !st->to_date_pass)
                r = department_end(st);
        return r;
}

static json_t *withheld_json(const Stmt *st) {
        /* By article: the codes of one article (28: suspended, terminated) stay apart. */
        json_t *out = json_array();
        for (unsigned art = 1; out && art <= 41; art++)
                for (unsigned c = 0; c < _POLICY_CODE_MAX; c++) {
                        json_t *o;
                        if (policy_code_article(c) != art || st->withheld[c].lines == 0)
                                continue;
                        o = json_pack("{s:i, s:s, s:s, s:I, s:I}", "article", (int)art, "code",
                                      policy_code_name(c), "summary", policy_code_summary(c), "lines",
                                      (json_int_t)st->withheld[c].lines, "amount_fen",
                                      (json_int_t)st->withheld[c].amount);
                        if (!o || json_array_append_new(out, o) < 0) {
                                json_decref(out);
                                return NULL;
                        }
                }
        return out;
}

static int authorize(const CbCaller *caller, const BillingRequest *req, const char **ret_department,
                     CbError *err) {
        const Principal *p = caller ? caller->principal : NULL;

        if (caller_has_role(caller, CB_ROLE_FINANCE | CB_ROLE_AUTHORITY | CB_ROLE_AUDITOR)) {
                *ret_department = req->department;
                return 0;
        }
        if (caller_has_role(caller, CB_ROLE_DEPARTMENT) && p->department) {
                if (req->department && !streq(req->department, p->department))
                        return cb_error_set_field(err, CB_ERR_FORBIDDEN, "department",
                                                  "a department reads only its own statement lines (Art. 5): "
                                                  "%s may not read department '%s'",
                                                  p->name, req->department);
                *ret_department = p->department;
                return 0;
        }
        /* Operators, migration teams, platforms; and a department role bound to no department. */
        return cb_error_set(err, CB_ERR_FORBIDDEN,
                            "reading billing statements needs the role finance, authority or auditor, "
                            "or a department's own lines");
}

/* What a statement is made of: the period as of now, for one department
 * (NULL: all), in one format. closed: the "closed" member (borrowed; NULL
 * for an open statement). empty: no lines at all (a closed month's view of
 * a department that had nothing when it was closed). lg NULL with pre: the
 * systems' facts gathered beforehand (a worker must not read the loop's
 * register). No authorization. */
typedef struct RenderArgs {
        Store *s;
        const Calendar *cal;
        Legacy *lg;
        const SystemEntry *pre;
        size_t n_pre;
        RatingPeriod period;
        const char *department;
        bool csv, excel, empty;
        int64_t now;
        const json_t *closed;
} RenderArgs;

static void as_of_of(const RatingPeriod *p, int64_t now, int64_t *ret, char date[DATE_LEN + 1]) {
        char cst[32];
        int64_t as_of = now < p->end ? now : p->end;
        /* The statement's last day in CST, for the deadlines of Art. 25 and 35. */
        format_cst(as_of > p->start ? as_of - 1 : p->start, cst);
        memcpy(date, cst, DATE_LEN);
        date[DATE_LEN] = 0;
        *ret = as_of;
}

/* Writes the statement through fn as it is made: the lines as they are
 * rated (OUT_FLUSH bytes at a time), then what is summed over them. The
 * bytes are those json_dumps() of the whole document would give. */
static int render(const RenderArgs *a, BillingWriteFn fn, void *ud, CbError *err) {
        Stmt st = { .s = a->s,
                    .cal = a->cal,
                    .lg = a->lg,
                    .pre = a->pre,
                    .n_pre = a->n_pre,
                    .err = err,
                    .period = a->period,
                    .csv = a->csv,
                    .out_fn = fn,
                    .out_ud = ud };
        int r = 0, opened = 0;

        as_of_of(&st.period, a->now, &st.as_of, st.as_of_date);
        st.projects = json_array();
        st.departments = json_array();
        st.budgets = json_array();
        st.unrated = json_array();
        if (!st.projects || !st.departments || !st.budgets || !st.unrated) {
                stmt_done(&st);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }

        if (a->csv) {
                if (a->excel)
                        buf_add(&st.out, "\xEF\xBB\xBF", 3);
                for (size_t c = 0; c < ELEMENTSOF(csv_columns); c++)
                        csv_field(&st.out, csv_columns[c], c == 0);
                buf_add(&st.out, "\r\n", 2);
        } else {
                char from[32], to[32], asof[32];
                json_t *head;
                char *text;
                format_cst(st.period.start, from);
                format_cst(st.period.end, to);
                format_cst(st.as_of, asof);
                head = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b, s:O?}", "period", st.period.name, "from",
                                 from, "to", to, "as_of", asof, "department", a->department, "complete",
                                 a->now >= st.period.end, "closed", a->closed);
                text = head ? json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                json_decref(head);
                if (!text) {
                        stmt_done(&st);
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
                /* The head's members, then the lines' array left open. */
                buf_add(&st.out, text, strlen(text) - 1);
                buf_add(&st.out, ",\"lines\":[", 10);
                free(text);
        }

        if (!a->empty) {
                opened = store_read_begin(a->s);
                /* The budgets (JSON only) need every month so far; the lines
                 * only this one. */
                if (!a->csv) {
                        st.to_date_pass = true;
                        r = rate(&st, a->department);
                        st.to_date_pass = false;
                }
                if (r >= 0)
                        r = rate(&st, a->department);
                store_read_end(a->s, opened);
        }

        if (r >= 0 && !a->csv) {
                json_t *totals = money_json(&st.total, json_pack("{s:O, s:O}", "projects", st.projects,
                                                                 "departments", st.departments));
                json_t *withheld = withheld_json(&st);
                r = out_add(&st, "],\"totals\":", 11);
                if (r >= 0)
                        r = out_json(&st, totals);
                if (r >= 0)
                        r = out_add(&st, ",\"budgets\":", 11);
                if (r >= 0)
                        r = out_json(&st, st.budgets);
                if (r >= 0)
                        r = out_add(&st, ",\"withheld\":", 12);
                if (r >= 0)
                        r = out_json(&st, withheld);
                if (r >= 0)
                        r = out_add(&st, ",\"unrated\":", 11);
                if (r >= 0)
                        r = out_json(&st, st.unrated);
                if (r >= 0)
                        r = out_add(&st, "}", 1);
                json_decref(totals);
                json_decref(withheld);
        }
        if (r >= 0)
                r = out_flush(&st);
        stmt_done(&st);
        return r;
}

/* A sink that keeps everything: for closing a month (it signs the whole
 * file) and the in-memory billing_statement(). */
static int mem_write(void *userdata, const void *p, size_t n) {
        Buf *b = userdata;
        buf_add(b, p, n);
        return b->failed ? -ENOMEM : 0;
}

static int render_mem(const RenderArgs *a, char **ret_text, size_t *ret_len, CbError *err) {
        Buf b = { 0 };
        int r = render(a, mem_write, &b, err);
        if (r < 0) {
                free(b.p);
                return r;
        }
        if (!b.p) {
                b.p = strdup("");
                if (!b.p)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        *ret_text = b.p;
        *ret_len = b.n;
        return 0;
}

/* The full re-rating of billing_project_spend(): every segment of the project. */
static int spend_rate(Store *s, const char *project_id, const char *today, const char *valid_until,
                      int64_t now, BillingSpend *ret, CbError *err) {
        Stmt st = { .s = s,
                    .err = err,
                    .to_date_pass = true,
                    .only_project = project_id,
                    .as_of = now,
                    .spend_today = today,
                    .spend_until = valid_until };
        char cst[32];
        int r, opened;

        format_cst(now, cst);
        cst[RATING_PERIOD_LEN] = 0;
        if (rating_period_parse(cst, &st.period) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot tell the billing period of now");
        st.unrated = json_array();
        if (!st.unrated)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        opened = store_read_begin(s);
        r = rate(&st, NULL);
        store_read_end(s, opened);
        if (r >= 0) {
                const ToDate *td = to_date_find(&st, project_id);
                *ret = (BillingSpend){ 0 };
                for (int k = 0; td && k < _KIND_MAX; k++) {
                        ret->charged_fen[k] = td->fen[k];
                        ret->committed_fen[k] = td->committed[k];
                }
        }
        stmt_done(&st);
        return r < 0 ? r : 0;
}

int billing_project_spend_uncached(Store *s, const char *project_id, const char *today,
                                   const char *valid_until, int64_t now, BillingSpend *ret, CbError *err) {
        return spend_rate(s, project_id, today, valid_until, now, ret, err);
}

/* A plan's price as its catalogue revision's document says, remembered
 * per thread (no lock). A revision that is neither a draft nor submitted
 * never changes again (catalog.c: a published revision's change becomes
 * the next revision; no revision is ever deleted), so a price read from
 * such a revision, outside a write transaction that could still roll its
 * status back, is answered from the memo without reading the row again; a
 * draft or submitted one can be edited in place, so its document is read
 * and compared with the remembered bytes every time. Keyed by the store's
 * serial too: two stores may hold other documents under the same ids.
 * Beside the price, what one resource of it commits for the last day and
 * approval end asked (rating_budget_committed() with a count of 1). */
#define PRICE_MEMO_SLOTS 16

typedef struct PriceMemo {
        uint64_t store;
        char *service_id, *plan_id, *doc;
        int64_t revision;
        size_t doc_len;
        bool fixed; /* read from a revision that can no longer change */
        int r;      /* 0, or why the price is not there (-ENOENT, -EINVAL) */
        RatingUnit unit;
        int64_t price;
        bool has_one;
        char one_today[DATE_LEN + 1], one_until[DATE_LEN + 1]; /* "": no approval end */
        int64_t one;
} PriceMemo;

static _Thread_local PriceMemo price_memo[PRICE_MEMO_SLOTS];
static _Thread_local unsigned price_memo_next;

static bool status_fixed(const char *status) {
        int st = status ? catalog_status_from_string(status) : -1;
        return st >= 0 && st != CATALOG_DRAFT && st != CATALOG_SUBMITTED;
}

static PriceMemo *price_memo_find(uint64_t store, const char *service_id, int64_t revision,
                                  const char *plan_id) {
        for (size_t i = 0; i < PRICE_MEMO_SLOTS; i++) {
                PriceMemo *m = &price_memo[i];
                if (m->doc && m->store == store && m->revision == revision &&
                    streq(m->service_id, service_id) && streq(m->plan_id, plan_id))
                        return m;
        }
        return NULL;
}

/* The slot of the plan's price, read from the document when the memo
 * cannot answer alone; NULL with *ret 0 when the revision is not there. */
static PriceMemo *plan_price_memo(Store *s, const char *service_id, int64_t revision, const char *plan_id,
                                  int *ret, CbError *err) {
        static const char sql[] = "SELECT document, status FROM services WHERE id = ?1 AND revision = ?2";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        uint64_t serial = store_serial(s);
        const char *doc;
        size_t len;
        PriceMemo *m = price_memo_find(serial, service_id, revision, plan_id);
        json_t *j;
        int r;

        *ret = 0;
        if (m && m->fixed)
                return m;
        r = store_query(s, sql, STORE_ARGS(SA_TEXT(service_id), SA_INT(revision)), &rows,
                        "reading a catalogue revision", err);
        if (r >= 0)
                r = store_rows_next(rows, err);
        if (r < 0) {
                *ret = r;
                return NULL;
        }
        if (r == 0 || !(doc = store_rows_text(rows, 0)))
                return NULL;
        len = store_rows_len(rows, 0);
        bool fixed = status_fixed(store_rows_text(rows, 1)) && !store_sees_uncommitted(s);
        if (m && m->doc_len == len && memcmp(m->doc, doc, len) == 0) {
                m->fixed = fixed;
                return m;
        }
        /* New, or the same plan of an edited draft: the price is read again. */
        if (!m)
                m = &price_memo[price_memo_next++ % PRICE_MEMO_SLOTS];
        free(m->service_id);
        free(m->plan_id);
        free(m->doc);
        *m = (PriceMemo){ .store = serial, .revision = revision, .doc_len = len, .fixed = fixed };
        j = json_loadb(doc, len, 0, NULL);
        m->r = j ? rating_plan_price(j, plan_id, &m->unit, &m->price) : -EINVAL;
        json_decref(j);
        m->service_id = strdup(service_id);
        m->plan_id = strdup(plan_id);
        m->doc = malloc(len + 1);
        if (!m->service_id || !m->plan_id || !m->doc) {
                free(m->service_id);
                free(m->plan_id);
                free(m->doc);
                *m = (PriceMemo){ 0 };
                *ret = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                return NULL;
        }
        memcpy(m->doc, doc, len);
        m->doc[len] = 0;
        return m;
}

/* What one resource of the memo's price commits from today to valid_until,
 * rated once per day and approval end (both dates, or no end at all). */
static int price_memo_one(PriceMemo *m, const char *today, const char *valid_until, int64_t *ret) {
        const char *until = valid_until ? valid_until : "";
        int64_t one;

        if (strlen(today) != DATE_LEN || (valid_until && strlen(valid_until) != DATE_LEN))
                return rating_budget_committed(m->unit, m->price, 1, today, valid_until, ret);
        if (m->has_one && streq(m->one_today, today) && streq(m->one_until, until)) {
                *ret = m->one;
                return 0;
        }
        if (rating_budget_committed(m->unit, m->price, 1, today, valid_until, &one) < 0)
                return -EINVAL;
        memcpy(m->one_today, today, DATE_LEN + 1);
        snprintf(m->one_until, sizeof(m->one_until), "%s", until);
        m->one = one;
        m->has_one = true;
        *ret = one;
        return 0;
}

/* What the project's existing resources commit from today on: per price
 * (service, plan, revision, cost kind), how many exist times what one
 * commits. The counts are kept by triggers (project_priced_holdings), so
 * this reads one row per distinct price, not one per resource. */
static int spend_committed(Store *s, const char *project_id, const char *today, const char *valid_until,
                           int64_t ret[_KIND_MAX], CbError *err) {
        static const char sql[] = "SELECT service_id, plan_id, catalog_revision, cost_kind, quantity FROM "
                                  "project_priced_holdings "
                                  "WHERE project_id = ?1 AND quantity > 0";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int64_t sum[_KIND_MAX] = { 0 };
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading the project's holdings",
                        err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                const char *service_id = store_rows_text(rows, 0), *plan_id = store_rows_text(rows, 1);
                int kind = streq(store_rows_text(rows, 3), "om") ? KIND_OM : KIND_CONSTRUCTION;
                int64_t one, c;
                PriceMemo *m;

                m = plan_price_memo(s, service_id, store_rows_int(rows, 2), plan_id, &r, err);
                if (r < 0)
                        break;
                /* Unrated (no such revision, plan or price) commits nothing,
                 * as in the full rating, which lists it apart. */
                if (!m || m->r < 0)
                        continue;
                if (price_memo_one(m, today, valid_until, &one) < 0 ||
                    rating_budget_times(one, store_rows_int(rows, 4), &c) < 0) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "cannot rate plan %s of service %s", plan_id,
                                         service_id);
                        break;
                }
                sum[kind] += c;
        }
        if (r < 0)
                return r;
        memcpy(ret, sum, sizeof(sum));
        return 0;
}

/* Where `today` starts, as a second and as the text the kept row stores:
 * the same for every evaluation of a day, so remembered per thread. */
static int day_start_of(const char *today, int64_t *ret, char ret_at[32]) {
        static _Thread_local char memo_today[DATE_LEN + 1], memo_at[32];
        static _Thread_local int64_t memo_start;
        static _Thread_local bool memo_set;

        if (!today || strlen(today) != DATE_LEN)
                return -EINVAL;
        if (!memo_set || !streq(memo_today, today)) {
                int64_t t;
                if (rating_day_start(today, &t) < 0)
                        return -EINVAL;
                memcpy(memo_today, today, DATE_LEN + 1);
                memo_start = t;
                format_utc(t, memo_at);
                memo_set = true;
        }
        *ret = memo_start;
        memcpy(ret_at, memo_at, 32);
        return 0;
}

int billing_project_spend(Store *s, const char *project_id, const char *today, const char *valid_until,
                          int64_t now, BillingSpend *ret, CbError *err) {
        static const char sql_get[] = "SELECT charged_construction_fen, charged_om_fen "
                                      "FROM billing_spend_cache WHERE project_id = ?1 AND today = ?2";
        static const char sql_put[] =
                "INSERT INTO billing_spend_cache (project_id, today, day_start_at, charged_construction_fen, "
                "charged_om_fen) VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (project_id) DO UPDATE SET today = excluded.today, day_start_at = "
                "excluded.day_start_at, charged_construction_fen = excluded.charged_construction_fen, "
                "charged_om_fen = excluded.charged_om_fen";
        BillingSpend sp = { 0 };
        int64_t day_start;
        bool kept = false;
        char day_start_at[32];
        int r, opened;

        if (day_start_of(today, &day_start, day_start_at) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot tell where day '%s' starts",
                                    today ? today : "");
        /* One read transaction: the kept charge and the counts agree. */
        opened = store_read_begin(s);
        {
                _cleanup_(store_rows_donep) StoreRows *rows = NULL;
                r = store_query(s, sql_get, STORE_ARGS(SA_TEXT(project_id), SA_TEXT(today)), &rows,
                                "reading the budget's money", err);
                if (r >= 0)
                        r = store_rows_next(rows, err);
                if (r > 0) {
                        /* Nothing before today changed since it was rated today. */
                        sp.charged_fen[0] = store_rows_int(rows, 0);
                        sp.charged_fen[1] = store_rows_int(rows, 1);
                        kept = true;
                }
        }
        if (r >= 0)
                r = spend_committed(s, project_id, today, valid_until, sp.committed_fen, err);
        store_read_end(s, opened);
        if (r < 0)
                return r;
        if (!kept) {
                BillingSpend full;
                r = spend_rate(s, project_id, today, valid_until, now, &full, err);
                if (r < 0)
                        return r;
                memcpy(sp.charged_fen, full.charged_fen, sizeof(sp.charged_fen));
                /* Only a cache: failing to keep it costs the next evaluation a
                 * re-rating. A memo: an evaluation's read snapshot stays a read
                 * (no durable commit at its end), and it is never fdatasync'd
                 * for its own sake. */
                (void)store_memo(s, sql_put,
                                 STORE_ARGS(SA_TEXT(project_id), SA_TEXT(today), SA_TEXT(day_start_at),
                                            SA_INT(sp.charged_fen[0]), SA_INT(sp.charged_fen[1])),
                                 "keeping the budget's money");
        }
        *ret = sp;
        return 0;
}

void billing_export_done(BillingExport *e) {
        free(e->text);
        free(e->signature);
        *e = (BillingExport){ 0 };
}

static int parse_period(const char *period, RatingPeriod *ret, CbError *err) {
        if (rating_period_parse(period, ret) < 0)
                return cb_error_set_field(err, CB_ERR_INVALID, "period",
                                          "period '%s' is not a month: expected YYYY-MM with month 01-12",
                                          period ? period : "");
        return 0;
}

typedef struct Closed {
        bool closed;
        char *at, *by, *alg, *key_id;
} Closed;

static void closed_done(Closed *c) {
        free(c->at);
        free(c->by);
        free(c->alg);
        free(c->key_id);
        *c = (Closed){ 0 };
}

static int closed_get(Store *s, const char *period, Closed *ret, CbError *err) {
        static const char sql[] =
                "SELECT closed_at, closed_by, alg, key_id FROM billing_closed WHERE period = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r;

        *ret = (Closed){ 0 };
        r = store_query(s, sql, STORE_ARGS(SA_TEXT(period)), &rows, "reading a closed statement", err);
        if (r < 0)
                return r;
        r = store_rows_next(rows, err);
        if (r <= 0)
                return r;
        *ret = (Closed){ true, store_rows_dup(rows, 0), store_rows_dup(rows, 1), store_rows_dup(rows, 2),
                         store_rows_dup(rows, 3) };
        if (!ret->at || !ret->by || !ret->alg || !ret->key_id) {
                closed_done(ret);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        return 0;
}

static json_t *closed_json(const Closed *c, const char *csv_sm3, const char *csv_signature) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "at", c->at, "by", c->by, "alg", c->alg, "key_id",
                              c->key_id);
        if (o && csv_sm3 &&
            (json_object_set_new(o, "csv_sm3", json_string(csv_sm3)) < 0 ||
             json_object_set_new(o, "csv_signature", json_string(csv_signature)) < 0)) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* ---- exports: made on the loop, written by anyone ---- */

#define STREAMS_MAX 2 /* detached at once: the worker pool also runs libvirt calls */
/* The bytes of a closed file per stored slice (billing_closed_slices): what
 * a close holds of a file, and an export of a closed month at a time. A
 * reader takes slices of any size (migration 33 cut older files with the
 * same constant, spelt there). */
#define CLOSED_SLICE    (256 * 1024)
#define STALL_POLL_MS   200
#define STALL_POLLS_MAX 600 /* a reader that takes nothing for 2 minutes is dropped */

typedef enum StreamMode {
        STREAM_RENDER,      /* an open month: rated as it is written */
        STREAM_CLOSED_FILE, /* a closed month's stored bytes */
        STREAM_TEXT,        /* a small text made beforehand */
} StreamMode;

struct BillingStream {
        Store *s;  /* the loop's store; NULL once detached */
        Store *rd; /* detached: a read-only connection of its own */
        const Calendar *cal;
        Legacy *lg; /* NULL once detached: its facts are in pre */
        SystemEntry *pre;
        size_t n_pre;
        RatingPeriod period;
        char *department;
        bool csv, excel, detached;
        int64_t now;
        StreamMode mode;
        char *text;
        size_t len;
        BillingExport hdr; /* content_type and a closed month's digest and signature; no text */
        int64_t lines_hint;
        int64_t closed_size; /* STREAM_CLOSED_FILE: the file's length, to hold its slices against */
};

static unsigned streams_running;     /* detached streams (loop thread) */
static atomic_bool streams_stopping; /* the daemon is going down: writers give up */

void billing_streams_stop(void) {
        atomic_store(&streams_stopping, true);
}

BillingStream *billing_stream_free(BillingStream *bs) {
        if (!bs)
                return NULL;
        if (bs->detached && streams_running > 0)
                streams_running--;
        store_free(bs->rd);
        for (size_t i = 0; i < bs->n_pre; i++)
                free(bs->pre[i].id);
        free(bs->pre);
        free(bs->department);
        free(bs->text);
        billing_export_done(&bs->hdr);
        free(bs);
        return NULL;
}

const BillingExport *billing_stream_headers(const BillingStream *bs) {
        return &bs->hdr;
}

int64_t billing_stream_lines_hint(const BillingStream *bs) {
        return bs->lines_hint;
}

/* A closed month's file as stored at its closing, without its bytes: 1
 * found (its length in *ret_size), 0 not. */
static int closed_file_head(Store *s, const char *period, const char *department, bool csv, BillingExport *e,
                            int64_t *ret_size, CbError *err) {
        static const char sql[] = "SELECT sm3, signature, size FROM billing_closed_files "
                                  "WHERE period = ?1 AND department = ?2 AND format = ?3";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r;

        r = store_query(s, sql,
                        STORE_ARGS(SA_TEXT(period), SA_TEXT(department ? department : ""),
                                   SA_TEXT(csv ? "csv" : "json")),
                        &rows, "reading a closed statement", err);
        if (r < 0)
                return r;
        r = store_rows_next(rows, err);
        if (r <= 0)
                return r;
        e->signature = store_rows_dup(rows, 1);
        snprintf(e->sm3, sizeof(e->sm3), "%s", store_rows_text(rows, 0));
        if (!e->signature)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret_size = store_rows_int(rows, 2);
        return 1;
}

static int lines_hint(Store *s, const RatingPeriod *p, const char *department, int64_t *ret, CbError *err) {
        static const char sql[] = "SELECT COUNT(*) FROM resources WHERE created_at < ?1 AND "
                                  "(?2 IS NULL OR department = ?2)";
        char end[32];
        format_utc(p->end, end);
        return store_query_int(s, sql, STORE_ARGS(SA_TEXT(end), SA_TEXT(department)), ret,
                               "counting resources", err);
}

int billing_stream_new(Store *s, const Calendar *cal, Legacy *lg, const CbCaller *caller,
                       const BillingRequest *req, int64_t now, BillingStream **ret, CbError *err) {
        _cleanup_(closed_done) Closed c = { 0 };
        _cleanup_(billing_stream_freep) BillingStream *bs = NULL;
        const char *department = NULL;
        RatingPeriod p;
        bool csv;
        int r;

        if (req->department && !id_is_valid(req->department))
                return cb_error_set_field(err, CB_ERR_INVALID, "department", "department '%s' is not an id",
                                          req->department);
        r = authorize(caller, req, &department, err);
        if (r < 0)
                return r;
        r = parse_period(req->period, &p, err);
        if (r < 0)
                return r;
        if (req->format && !streq(req->format, "json") && !streq(req->format, "csv"))
                return cb_error_set_field(err, CB_ERR_INVALID, "format",
                                          "format '%s' is not known: expected json or csv", req->format);
        csv = req->format && streq(req->format, "csv");
        if (req->excel && !csv)
                return cb_error_set_field(err, CB_ERR_INVALID, "excel", "excel applies to format csv only");

        bs = calloc(1, sizeof(*bs));
        if (!bs || (department && !(bs->department = strdup(department))))
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *bs = (BillingStream){ .s = s,
                               .cal = cal,
                               .lg = lg,
                               .period = p,
                               .department = bs->department,
                               .csv = csv,
                               .excel = req->excel,
                               .now = now,
                               .mode = STREAM_RENDER };
        bs->hdr.content_type = csv ? "text/csv; charset=utf-8" : "application/json";

        r = closed_get(s, p.name, &c, err);
        if (r < 0)
                return r;
        if (c.closed) {
                snprintf(bs->hdr.alg, sizeof(bs->hdr.alg), "%s", c.alg);
                snprintf(bs->hdr.key_id, sizeof(bs->hdr.key_id), "%s", c.key_id);
                r = closed_file_head(s, p.name, department, csv, &bs->hdr, &bs->closed_size, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        bs->mode = STREAM_CLOSED_FILE;
                else {
                        /* A department that had nothing when the month was closed:
                         * small, made now. */
                        json_auto_t *cj = closed_json(&c, NULL, NULL);
                        if (!cj)
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        r = render_mem(&(RenderArgs){ .s = s,
                                                      .cal = cal,
                                                      .lg = lg,
                                                      .period = p,
                                                      .department = department,
                                                      .csv = csv,
                                                      .empty = true,
                                                      .now = p.end,
                                                      .closed = cj },
                                       &bs->text, &bs->len, err);
                        if (r < 0)
                                return r;
                        if (digest_sm3_hex(bs->text, bs->len, bs->hdr.sm3) < 0)
                                return cb_error_set(err, CB_ERR_INTERNAL, "cannot compute SM3");
                        bs->mode = STREAM_TEXT;
                }
        } else {
                r = lines_hint(s, &p, department, &bs->lines_hint, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(bs);
        return 0;
}

/* The facts of Art. 11 and 35 of every system, read on the loop (the
 * legacy register is the loop's), for a writer on another thread. */
static int systems_gather(Store *s, Legacy *lg, const RatingPeriod *p, int64_t now, SystemEntry **pre,
                          size_t *n_pre, CbError *err) {
        static const char sql[] = "SELECT id, data_sharing FROM systems ORDER BY id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        char date[DATE_LEN + 1];
        int64_t as_of;
        size_t cap = 0;
        int r;

        as_of_of(p, now, &as_of, date);
        r = store_query(s, sql, NULL, &rows, "reading systems", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                SystemEntry *e;
                LegacyOverdueFacts lf;
                if (*n_pre == cap) {
                        SystemEntry *nv = realloc(*pre, (cap = cap ? cap * 2 : 16) * sizeof(*nv));
                        if (!nv)
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        *pre = nv;
                }
                e = &(*pre)[*n_pre];
                *e = (SystemEntry){ .id = store_rows_dup(rows, 0),
                                    .noncompliant = streq_ptr(store_rows_text(rows, 1), "noncompliant") };
                if (!e->id)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                (*n_pre)++;
                if (lg) {
                        int k = legacy_system_overdue(lg, e->id, date, &lf);
                        if (k < 0 && k != -ENOENT)
                                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the legacy register");
                        e->migration_overdue = k >= 0 && lf.overdue.overdue;
                }
        }
        return r < 0 ? r : 0;
}

static int systems_preload(BillingStream *bs, CbError *err) {
        return systems_gather(bs->s, bs->lg, &bs->period, bs->now, &bs->pre, &bs->n_pre, err);
}

int billing_stream_detach(BillingStream *bs, CbError *err) {
        int r;

        if (bs->detached)
                return 0;
        if (streams_running >= STREAMS_MAX)
                return cb_error_set(err, CB_ERR_UNAVAILABLE,
                                    "%u statement exports are running: try again when one has finished",
                                    streams_running);
        if (bs->mode == STREAM_RENDER) {
                r = systems_preload(bs, err);
                if (r < 0)
                        return r;
        }
        r = store_open_reader(bs->s, &bs->rd, err);
        if (r < 0)
                return r;
        bs->s = NULL;
        bs->lg = NULL;
        bs->detached = true;
        streams_running++;
        return 0;
}

/* A closed month's file, slice by slice from one cursor: only the slice in
 * hand is held. The slices must run 0, 1, ... and add up to the length
 * stored with the file: a gap is a damaged store, never a shorter file. */
static int write_closed_file(BillingStream *bs, Store *s, BillingWriteFn fn, void *ud, CbError *err) {
        static const char sql[] = "SELECT seq, data FROM billing_closed_slices "
                                  "WHERE period = ?1 AND department = ?2 AND format = ?3 ORDER BY seq";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        const char *format = bs->csv ? "csv" : "json", *dept = bs->department ? bs->department : "";
        int64_t next = 0, total = 0;
        int r, opened = store_read_begin(s);

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(bs->period.name), SA_TEXT(dept), SA_TEXT(format)), &rows,
                        "reading a closed statement", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                const void *p = store_rows_blob(rows, 1);
                size_t n = store_rows_len(rows, 1);
                int k;
                if (store_rows_int(rows, 0) != next || !p) {
                        r = cb_error_set(err, CB_ERR_INTERNAL,
                                         "closed statement %s (%s, department '%s') misses slice %" PRIi64,
                                         bs->period.name, format, dept, next);
                        break;
                }
                k = fn(ud, p, n);
                if (k < 0) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "the statement's reader went away (%s)",
                                         strerror(-k));
                        break;
                }
                next++;
                total += (int64_t)n;
        }
        if (r >= 0 && total != bs->closed_size)
                r = cb_error_set(err, CB_ERR_INTERNAL,
                                 "closed statement %s (%s, department '%s') has %" PRIi64
                                 " bytes stored of %" PRIi64,
                                 bs->period.name, format, dept, total, bs->closed_size);
        store_rows_done(TAKE_PTR(rows));
        store_read_end(s, opened);
        return r < 0 ? r : 0;
}

int billing_stream_write(BillingStream *bs, BillingWriteFn fn, void *ud, CbError *err) {
        Store *s = bs->rd ? bs->rd : bs->s;
        int r;

        if (bs->csv && bs->excel && bs->mode != STREAM_RENDER) {
                /* The byte order mark goes before the signed bytes. */
                r = fn(ud, "\xEF\xBB\xBF", 3);
                if (r < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "the statement's reader went away");
        }
        switch (bs->mode) {
        case STREAM_TEXT:
                r = fn(ud, bs->text, bs->len);
                return r < 0 ? cb_error_set(err, CB_ERR_INTERNAL, "the statement's reader went away") : 0;
        case STREAM_CLOSED_FILE:
                return write_closed_file(bs, s, fn, ud, err);
        case STREAM_RENDER:
        default:
                return render(&(RenderArgs){ .s = s,
                                             .cal = bs->cal,
                                             .lg = bs->lg,
                                             .pre = bs->pre,
                                             .n_pre = bs->n_pre,
                                             .period = bs->period,
                                             .department = bs->department,
                                             .csv = bs->csv,
                                             .excel = bs->excel,
                                             .now = bs->now },
                              fn, ud, err);
        }
}

/* Writes all of p to a non-blocking fd, waiting while it is full (the
 * reader's pace: at most a pipe's buffer is in flight). */
static int fd_write(void *userdata, const void *p, size_t n) {
        const int fd = *(const int *)userdata;
        const char *c = p;
        unsigned idle = 0;

        while (n > 0) {
                ssize_t k = write(fd, c, n);
                if (k > 0) {
                        c += k;
                        n -= (size_t)k;
                        idle = 0;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno != EAGAIN)
                        return -errno;
                if (atomic_load(&streams_stopping))
                        return -ECANCELED;
                if (++idle > STALL_POLLS_MAX)
                        return -ETIMEDOUT;
                poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, STALL_POLL_MS);
        }
        return 0;
}

int billing_stream_write_fd(BillingStream *bs, int fd, CbError *err) {
        return billing_stream_write(bs, fd_write, &fd, err);
}

/* A sink that keeps at most max bytes: billing_statement()'s bound. */
typedef struct CappedBuf {
        Buf b;
        size_t max;
        bool over;
} CappedBuf;

static int capped_write(void *userdata, const void *p, size_t n) {
        CappedBuf *c = userdata;
        if (c->max > 0 && c->b.n + n > c->max) {
                c->over = true;
                return -EFBIG;
        }
        return mem_write(&c->b, p, n);
}

int billing_statement(Store *s, const Calendar *cal, Legacy *lg, const CbCaller *caller,
                      const BillingRequest *req, int64_t now, size_t max_bytes, BillingExport *ret,
                      CbError *err) {
        _cleanup_(billing_stream_freep) BillingStream *bs = NULL;
        CappedBuf c = { .max = max_bytes };
        int r;

        r = billing_stream_new(s, cal, lg, caller, req, now, &bs, err);
        if (r < 0)
                return r;
        r = billing_stream_write(bs, capped_write, &c, err);
        if (r < 0 && c.over) {
                cb_error_clear(err);
                r = cb_error_set(err, CB_ERR_TOO_LARGE, "statement %s is larger than %zu bytes", req->period,
                                 max_bytes);
        }
        if (r >= 0 && !c.b.p && !(c.b.p = strdup("")))
                r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (r < 0) {
                free(c.b.p);
                return r;
        }
        *ret = bs->hdr;
        bs->hdr = (BillingExport){ 0 };
        ret->text = c.b.p;
        ret->len = c.b.n;
        return 0;
}

/* ---- closing ---- */

/* One file of a closed month: rendered on a worker straight into slices of
 * billing_closed_slices (SM3 fed as it is written); the loop stores its
 * row, which makes the slices count. */
typedef struct CloseFile {
        char *department; /* "" for the whole city */
        bool csv;
        int64_t len;
        char sm3[DIGEST_HEX_MAX];
        char *signature;
} CloseFile;

typedef struct BillingClose {
        Store *s;  /* the loop's: the last transaction, with the audit record */
        Store *rd; /* the worker's snapshot */
        Store *wr; /* the worker's connection for the slices (NULL: s, closing on the loop) */
        const Calendar *cal;
        const SigKey *key;
        SystemEntry *pre;
        size_t n_pre;
        RatingPeriod period;
        Closed c;
        CloseFile *files;
        size_t n_files;
        Principal who;
        char face[16];
        BillingCloseDoneFn done;
        void *userdata;
        CbError err; /* the worker's */
} BillingClose;

/* The month a worker is closing, "" for none (loop thread): one close at a
 * time, a second is 409 while it runs. */
static char closing_period[8];

typedef struct CloseJob {
        const char *period, *at, *by, *alg, *key_id;
        CloseFile *files;
        size_t n_files;
} CloseJob;

/* The slices of a month that is not closed: what a close that failed or
 * crashed left (only billing_closed makes them count). */
static int slices_drop(Store *s, const char *period, CbError *err) {
        static const char sql[] = "DELETE FROM billing_closed_slices WHERE period = ?1 AND "
                                  "NOT EXISTS (SELECT 1 FROM billing_closed WHERE period = ?1)";
        return store_run(s, sql, STORE_ARGS(SA_TEXT(period)), "dropping the slices of an unfinished close",
                         err);
}

int billing_recover(Store *s, CbError *err) {
        static const char sql[] =
                "DELETE FROM billing_closed_slices WHERE NOT EXISTS "
                "(SELECT 1 FROM billing_closed c WHERE c.period = billing_closed_slices.period)";
        int r = store_run(s, sql, NULL, "dropping the slices of unfinished closes", err);
        if (r > 0)
                log_info("dropped %d slice(s) of statements whose closing did not finish", r);
        return r < 0 ? r : 0;
}

/* The file's slices, as the worker stored them, against what it rendered:
 * the closing names no file that is not whole. */
static int close_check_slices(Store *s, const char *period, const CloseFile *f, CbError *err) {
        static const char sql[] =
                "SELECT COUNT(*), COALESCE(SUM(length(data)), 0), COALESCE(MAX(seq), -1) "
                "FROM billing_closed_slices WHERE period = ?1 AND department = ?2 AND format = ?3";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r;

        r = store_query(s, sql,
                        STORE_ARGS(SA_TEXT(period), SA_TEXT(f->department), SA_TEXT(f->csv ? "csv" : "json")),
                        &rows, "checking a closed statement's slices", err);
        if (r >= 0)
                r = store_rows_next(rows, err);
        if (r < 0)
                return r;
        if (r == 0 || store_rows_int(rows, 1) != f->len ||
            store_rows_int(rows, 2) + 1 != store_rows_int(rows, 0))
                return cb_error_set(err, CB_ERR_INTERNAL,
                                    "closing %s: the %s file of department '%s' is not stored whole", period,
                                    f->csv ? "csv" : "json", f->department);
        return 0;
}

static int close_insert(Store *s, void *userdata, CbError *err) {
        static const char ins[] = "INSERT INTO billing_closed (period, closed_at, closed_by, alg, key_id) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5)";
        static const char ins_file[] =
                "INSERT INTO billing_closed_files (period, department, format, size, sm3, signature) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        const CloseJob *j = userdata;
        int r;

        r = store_run(s, ins,
                      STORE_ARGS(SA_TEXT(j->period), SA_TEXT(j->at), SA_TEXT(j->by), SA_TEXT(j->alg),
                                 SA_TEXT(j->key_id)),
                      "closing the statement", err);
        if (r == -EEXIST)
                return cb_error_set(err, CB_ERR_CONFLICT, "statement %s was closed meanwhile", j->period);
        for (size_t i = 0; r >= 0 && i < j->n_files; i++) {
                r = close_check_slices(s, j->period, &j->files[i], err);
                if (r >= 0)
                        r = store_run(s, ins_file,
                                      STORE_ARGS(SA_TEXT(j->period), SA_TEXT(j->files[i].department),
                                                 SA_TEXT(j->files[i].csv ? "csv" : "json"),
                                                 SA_INT(j->files[i].len), SA_TEXT(j->files[i].sm3),
                                                 SA_TEXT(j->files[i].signature)),
                                      "storing a closed statement", err);
        }
        return r < 0 ? r : 0;
}

BillingClosing *billing_closing_free(BillingClosing *c) {
        if (!c)
                return NULL;
        free(c->period);
        free(c->closed_at);
        free(c->closed_by);
        free(c->alg);
        free(c->key_id);
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i].department);
        free(c->files);
        free(c);
        return NULL;
}

static int close_record(const Closed *c, const char *period, const CloseFile *files, size_t n,
                        BillingClosing **ret) {
        _cleanup_(billing_closing_freep) BillingClosing *rec = calloc(1, sizeof(*rec));
        if (!rec)
                return -ENOMEM;
        *rec = (BillingClosing){ .period = strdup(period),
                                 .closed_at = strdup(c->at),
                                 .closed_by = strdup(c->by),
                                 .alg = strdup(c->alg),
                                 .key_id = strdup(c->key_id) };
        if (!rec->period || !rec->closed_at || !rec->closed_by || !rec->alg || !rec->key_id)
                return -ENOMEM;
        if (n > 0 && !(rec->files = calloc(n, sizeof(*rec->files))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++, rec->n_files++) {
                BillingClosedFile *f = &rec->files[i];
                f->department = strdup(files[i].department);
                if (!f->department)
                        return -ENOMEM;
                f->csv = files[i].csv;
                snprintf(f->sm3, sizeof(f->sm3), "%s", files[i].sm3);
        }
        *ret = TAKE_PTR(rec);
        return 0;
}

static void close_files_free(CloseFile *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].department);
                free(v[i].signature);
        }
        free(v);
}

static int close_files_add(CloseFile **files, size_t *n, const char *department) {
        CloseFile *nv = realloc(*files, (*n + 2) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        *files = nv;
        nv[*n] = (CloseFile){ .department = strdup(department), .csv = true };
        nv[*n + 1] = (CloseFile){ .department = strdup(department), .csv = false };
        *n += 2;
        return nv[*n - 2].department && nv[*n - 1].department ? 0 : -ENOMEM;
}

static int closed_files_load(Store *s, const char *period, CloseFile **ret, size_t *ret_n, CbError *err) {
        static const char sql[] =
                "SELECT department, format, sm3 FROM billing_closed_files WHERE period = ?1 "
                "ORDER BY department, format";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        CloseFile *v = NULL;
        size_t n = 0;
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(period)), &rows, "reading a closed statement", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                CloseFile *nv = realloc(v, (n + 1) * sizeof(*nv));
                if (!nv) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                v = nv;
                v[n] = (CloseFile){ .department = store_rows_dup(rows, 0),
                                    .csv = streq(store_rows_text(rows, 1), "csv") };
                snprintf(v[n].sm3, sizeof(v[n].sm3), "%s", store_rows_text(rows, 2));
                n++;
        }
        if (r < 0) {
                close_files_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static BillingClose *billing_close_free(BillingClose *bc) {
        if (!bc)
                return NULL;
        if (streq(closing_period, bc->period.name))
                closing_period[0] = 0;
        store_free(bc->rd);
        store_free(bc->wr);
        for (size_t i = 0; i < bc->n_pre; i++)
                free(bc->pre[i].id);
        free(bc->pre);
        closed_done(&bc->c);
        close_files_free(bc->files, bc->n_files);
        free(bc->who.name);
        free(bc->who.department);
        free(bc->who.department_name);
        cb_error_clear(&bc->err);
        free(bc);
        return NULL;
}

/* Where a closed file's bytes go as they are rendered: slices of
 * CLOSED_SLICE bytes into the store, each its own short transaction (the
 * loop's writes wait for each: SQLite has one writer), SM3 fed as they
 * come. */
typedef struct SliceSink {
        Store *wr;
        const char *period, *department, *format;
        DigestCtx *sm3;
        char *buf;
        size_t n;
        int64_t seq, len;
        CbError why; /* the store's error, which render() would only call "reader went away" */
} SliceSink;

static int slice_flush(SliceSink *k) {
        static const char sql[] = "INSERT INTO billing_closed_slices (period, department, format, seq, data) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5)";
        int r;

        if (k->n == 0)
                return 0;
        r = store_run(k->wr, sql,
                      STORE_ARGS(SA_TEXT(k->period), SA_TEXT(k->department), SA_TEXT(k->format),
                                 SA_INT(k->seq), SA_BLOB(k->buf, k->n)),
                      "storing a slice of a closed statement", &k->why);
        if (r < 0)
                return r;
        k->seq++;
        k->len += (int64_t)k->n;
        k->n = 0;
        return 0;
}

static int slice_write(void *userdata, const void *p, size_t n) {
        SliceSink *k = userdata;
        const char *c = p;

        if (atomic_load(&streams_stopping))
                return -ECANCELED;
        if (digest_update(k->sm3, p, n) < 0)
                return -ENOMEM;
        while (n > 0) {
                size_t room = (size_t)CLOSED_SLICE - k->n, m = n < room ? n : room;
                memcpy(k->buf + k->n, c, m);
                k->n += m;
                c += m;
                n -= m;
                if (k->n == CLOSED_SLICE) {
                        int r = slice_flush(k);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Renders one file as of the month's end into its slices, its SM3 computed
 * as it is written, and signs that digest (its lowercase hex). */
static int close_render(BillingClose *bc, CloseFile *f, const json_t *closed) {
        SliceSink sink = { .wr = bc->wr ? bc->wr : bc->s,
                           .period = bc->period.name,
                           .department = f->department,
                           .format = f->csv ? "csv" : "json",
                           .why = CB_ERROR_INIT };
        int r;

        sink.buf = malloc(CLOSED_SLICE);
        sink.sm3 = digest_begin("sm3");
        if (!sink.buf || !sink.sm3) {
                free(sink.buf);
                digest_free(sink.sm3);
                return cb_error_set(&bc->err, CB_ERR_INTERNAL, "out of memory");
        }
        r = render(&(RenderArgs){ .s = bc->rd,
                                  .cal = bc->cal,
                                  .pre = bc->pre,
                                  .n_pre = bc->n_pre,
                                  .period = bc->period,
                                  .department = *f->department ? f->department : NULL,
                                  .csv = f->csv,
                                  .now = bc->period.end,
                                  .closed = closed },
                   slice_write, &sink, &bc->err);
        if (r >= 0 && (r = slice_flush(&sink)) < 0)
                cb_error_set(&bc->err, CB_ERR_INTERNAL, "%s", sink.why.message);
        else if (r < 0 && sink.why.kind != CB_ERR_NONE)
                cb_error_set(&bc->err, CB_ERR_INTERNAL, "%s", sink.why.message);
        free(sink.buf);
        cb_error_clear(&sink.why);
        if (r < 0) {
                digest_free(sink.sm3);
                return r;
        }
        f->len = sink.len;
        if (digest_end_hex(sink.sm3, f->sm3) < 0)
                return cb_error_set(&bc->err, CB_ERR_INTERNAL, "cannot compute SM3");
        if (sig_key_sign(bc->key, f->sm3, strlen(f->sm3), &f->signature) < 0)
                return cb_error_set(&bc->err, CB_ERR_INTERNAL, "cannot sign the statement");
        return 0;
}

/* On a worker: the whole city's view and each department's, CSV first
 * (each JSON names its CSV's digest and signature). */
static int close_job(void *userdata) {
        BillingClose *bc = userdata;
        Store *wr = bc->wr ? bc->wr : bc->s;
        int r, opened;

        /* What an earlier close of the month that crashed left, if its
         * slices were not dropped at the start. */
        r = slices_drop(wr, bc->period.name, &bc->err);
        if (r < 0)
                return r;
        /* One snapshot for every file of the month. */
        opened = store_read_begin(bc->rd);
        for (size_t i = 0; r >= 0 && i < bc->n_files; i += 2) {
                json_t *cj;
                r = close_render(bc, &bc->files[i], NULL);
                if (r < 0)
                        break;
                cj = closed_json(&bc->c, bc->files[i].sm3, bc->files[i].signature);
                r = cj ? close_render(bc, &bc->files[i + 1], cj)
                       : cb_error_set(&bc->err, CB_ERR_INTERNAL, "out of memory");
                json_decref(cj);
        }
        store_read_end(bc->rd, opened);
        if (r < 0)
                (void)slices_drop(wr, bc->period.name, NULL);
        /* The WAL holds every slice (the snapshot kept them there): copied
         * into the database here, not by the loop's next commit. */
        if (bc->wr)
                (void)store_checkpoint(bc->wr);
        return r;
}

/* On the loop, after the job: the files, digests and signatures and the
 * closing itself with its audit record, in one transaction, or nothing. */
static int close_store(BillingClose *bc, int result, BillingClosing **ret, CbError *err) {
        char object[64];
        int r = result;

        if (r < 0) {
                *err = bc->err;
                bc->err = (CbError)CB_ERROR_INIT;
                if (err->kind == CB_ERR_NONE)
                        cb_error_set(err, CB_ERR_INTERNAL, "closing %s stopped: %s", bc->period.name,
                                     strerror(-r));
                return r;
        }
        if (atomic_load(&streams_stopping)) {
                (void)slices_drop(bc->s, bc->period.name, NULL);
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "the daemon is stopping: %s stays open",
                                    bc->period.name);
        }
        {
                CloseJob job = { bc->period.name, bc->c.at,  bc->c.by,   bc->c.alg,
                                 bc->c.key_id,    bc->files, bc->n_files };
                json_auto_t *detail =
                        json_pack("{s:s, s:s}", "csv_sm3", bc->files[0].sm3, "json_sm3", bc->files[1].sm3);
                snprintf(object, sizeof(object), "statement:%s", bc->period.name);
                r = audit_change(bc->s, &(CbCaller){ &bc->who, bc->face },
                                 &(AuditEntry){ "billing.close", object, "ok", NULL, detail }, close_insert,
                                 &job, err);
        }
        if (r < 0) {
                /* The month stays open: its slices count for nothing. */
                (void)slices_drop(bc->s, bc->period.name, NULL);
                return r;
        }
        /* Closed: memory running out now fails the answer, not the closing
         * (a repeat answers it). */
        r = close_record(&bc->c, bc->period.name, bc->files, bc->n_files, ret);
        return r < 0 ? cb_error_set(err, CB_ERR_INTERNAL, "out of memory") : 0;
}

static void close_done(int result, void *userdata) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        BillingClose *bc = userdata;
        _cleanup_(billing_closing_freep) BillingClosing *rec = NULL;
        int r = close_store(bc, result, &rec, &err);

        if (r < 0)
                log_warning("closing statement %s failed: %s", bc->period.name, err.message);
        bc->done(r, rec, &err, bc->userdata);
        billing_close_free(bc);
}

int billing_close(Store *s, WorkerPool *pool, const Calendar *cal, Legacy *lg, const CbCaller *caller,
                  const char *period, int64_t now, BillingClosing **ret, BillingCloseDoneFn done,
                  void *userdata, CbError *err) {
        static const char sql_depts[] =
                "SELECT department FROM projects UNION SELECT department FROM resources "
                "ORDER BY 1";
        _cleanup_(closed_done) Closed c = { 0 };
        BillingClose *bc;
        const SigKey *key;
        RatingPeriod p;
        char at[32], end[32];
        int r;

        r = caller_require_role(caller, CB_ROLE_FINANCE, "close billing statements", err);
        if (r < 0) {
                audit_refusal(s, caller, "billing.close", "statement:-", "forbidden", NULL);
                return r;
        }
        r = parse_period(period, &p, err);
        if (r < 0)
                return r;
        r = closed_get(s, p.name, &c, err);
        if (r < 0)
                return r;
        if (c.closed) {
                /* Closing twice is harmless: the first closing stands. */
                CloseFile *files = NULL;
                size_t n = 0;
                r = closed_files_load(s, p.name, &files, &n, err);
                if (r < 0)
                        return r;
                r = close_record(&c, p.name, files, n, ret);
                close_files_free(files, n);
                if (r < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                return 1;
        }
        if (now < p.end) {
                format_cst(p.end, end);
                return cb_error_set_field(err, CB_ERR_CONFLICT, "period",
                                          "period %s has not ended: it can be closed from %s on", p.name,
                                          end);
        }
        if (closing_period[0])
                return cb_error_set_field(err, CB_ERR_CONFLICT, "period",
                                          "statement %s is being closed: try again when that has finished",
                                          closing_period);
        key = audit_trail_key(store_audit(s));
        if (!key)
                return cb_error_set(
                        err, CB_ERR_UNAVAILABLE,
                        "the daemon has no checkpoint key (audit.checkpoint_key): a closed statement "
                        "must be signed");

        bc = calloc(1, sizeof(*bc));
        if (!bc)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *bc = (BillingClose){ .s = s,
                              .cal = cal,
                              .key = key,
                              .period = p,
                              .done = done,
                              .userdata = userdata,
                              .err = CB_ERROR_INIT };
        store_now(at);
        bc->c = (Closed){ true, strdup(at), strdup(caller->principal->name), strdup(sig_key_alg(key)),
                          strdup(sig_key_id(key)) };
        bc->who = (Principal){ .name = strdup(caller->principal->name),
                               .department = caller->principal->department
                                                     ? strdup(caller->principal->department)
                                                     : NULL,
                               .roles = caller->principal->roles };
        snprintf(bc->face, sizeof(bc->face), "%s", caller->face ? caller->face : "");
        if (!bc->c.at || !bc->c.by || !bc->c.alg || !bc->c.key_id || !bc->who.name ||
            close_files_add(&bc->files, &bc->n_files, "") < 0) {
                billing_close_free(bc);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        {
                _cleanup_(store_rows_donep) StoreRows *rows = NULL;
                r = store_query(s, sql_depts, NULL, &rows, "listing departments", err);
                while (r >= 0 && (r = store_rows_next(rows, err)) > 0)
                        if (close_files_add(&bc->files, &bc->n_files, store_rows_text(rows, 0)) < 0)
                                r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        /* The systems' facts as of the month's end (the register is the
         * loop's), and a snapshot of the store for the worker. */
        if (r >= 0)
                r = systems_gather(s, lg, &p, p.end, &bc->pre, &bc->n_pre, err);
        if (r >= 0)
                r = store_open_reader(s, &bc->rd, err);
        /* On the loop the slices go through its own connection: a second
         * writer would wait for the loop's open batch forever. */
        if (r >= 0 && pool)
                r = store_open_writer(s, &bc->wr, err);
        if (r < 0) {
                billing_close_free(bc);
                return r;
        }
        snprintf(closing_period, sizeof(closing_period), "%s", p.name);
        if (!pool) {
                close_done(close_job(bc), bc);
                return 0;
        }
        r = worker_submit(pool, close_job, close_done, bc);
        if (r < 0) {
                billing_close_free(bc);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot start closing: %s", strerror(-r));
        }
        return 0;
}
