/* SPDX-License-Identifier: Apache-2.0 */
#include "billing-budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "date.h"
#include "billing.h"
#include "macro.h"
#include "policy.h"

typedef struct Candidate {
        char *project_id, *department, *approval_no, *document;
} Candidate;

typedef struct AlertJob {
        const BudgetAlert *a;
        const char *at;
} AlertJob;

static void candidates_free(Candidate *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].project_id);
                free(v[i].department);
                free(v[i].approval_no);
                free(v[i].document);
        }
        free(v);
}

/* Read first, all of it: the alerts are written afterwards, never while a
 * cursor of the same connection is open. */
static int load_candidates(Store *s, Candidate **ret, size_t *ret_n, CbError *err) {
        static const char sql[] =
                "SELECT p.id, p.department, a.approval_no, a.document FROM projects p "
                "JOIN approvals a ON a.project_id = p.id AND a.revision = p.current_revision "
                "ORDER BY p.id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        Candidate *v = NULL;
        size_t n = 0;
        int r;

        r = store_query(s, sql, NULL, &rows, "reading projects", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                Candidate *nv = realloc(v, (n + 1) * sizeof(*nv));
                if (!nv) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                v = nv;
                v[n] = (Candidate){ store_rows_dup(rows, 0), store_rows_dup(rows, 1), store_rows_dup(rows, 2),
                                    store_rows_dup(rows, 3) };
                n++;
                if (!v[n - 1].project_id || !v[n - 1].department || !v[n - 1].approval_no ||
                    !v[n - 1].document) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
        }
        if (r < 0) {
                candidates_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int alert_insert(Store *s, void *userdata, CbError *err) {
        static const char sql[] =
                "INSERT INTO budget_alerts (project_id, cost_kind, threshold, approval_no, budget_fen, "
                "used_fen, raised_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
        const AlertJob *j = userdata;
        return store_run(s, sql,
                         STORE_ARGS(SA_TEXT(j->a->project_id), SA_TEXT(j->a->cost_kind),
                                    SA_INT(j->a->threshold), SA_TEXT(j->a->approval_no),
                                    SA_INT(j->a->budget_fen), SA_INT(j->a->used_fen), SA_TEXT(j->at)),
                         "recording a budget alert", err);
}

/* 1: raised now; 0: raised before. */
static int raise_once(Store *s, const BudgetAlert *a, const char *at, CbError *err) {
        static const char seen[] = "SELECT COUNT(*) FROM budget_alerts WHERE project_id = ?1 AND cost_kind = "
                                   "?2 AND threshold = ?3";
        char object[160];
        int64_t n = 0;
        int r;

        r = store_query_int(s, seen,
                            STORE_ARGS(SA_TEXT(a->project_id), SA_TEXT(a->cost_kind), SA_INT(a->threshold)),
                            &n, "reading budget alerts", err);
        if (r < 0)
                return r;
        if (n > 0)
                return 0;
        json_auto_t *detail = json_pack(
                "{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:i}", "project_id", a->project_id,
                "department", a->department, "approval_no", a->approval_no, "cost_kind", a->cost_kind,
                "threshold", (int)a->threshold, "budget_fen", (json_int_t)a->budget_fen, "committed_fen",
                (json_int_t)a->committed_fen, "metered_fen", (json_int_t)a->metered_fen, "used_fen",
                (json_int_t)a->used_fen, "article", 13);
        if (!detail)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        snprintf(object, sizeof(object), "project:%s", a->project_id);
        r = audit_change(s, NULL, &(AuditEntry){ "billing.budget_alert", object, "ok", NULL, detail },
                         alert_insert, &(AlertJob){ a, at }, err);
        return r < 0 ? r : 1;
}

int billing_budget_check(Store *s, int64_t now, BudgetAlertFn fn, void *userdata, CbError *err) {
        static const char *const kinds[2] = { "construction", "om" };
        static const char *const fields[2] = { "construction_fen", "om_fen" };
        static const unsigned thresholds[] = { POLICY_BUDGET_ALERT_PERCENT, 100 };
        Candidate *v = NULL;
        size_t n = 0;
        char at[32], today[DATE_LEN + 1];
        struct tm tm;
        time_t t = (time_t)now;
        int r, raised = 0;

        gmtime_r(&t, &tm);
        /* The day the policy engine counts from (evaluation.c). */
        date_today_cst(today);
        strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);

        int opened = store_read_begin(s);
        r = load_candidates(s, &v, &n, err);
        store_read_end(s, opened);
        if (r < 0)
                return r;

        for (size_t i = 0; r >= 0 && i < n; i++) {
                json_auto_t *doc = json_loads(v[i].document, 0, NULL);
                BillingSpend spend;

                if (!doc)
                        continue;
                /* Each resource once (Art. 13): charged before today, committed from today on. */
                r = billing_project_spend(s, v[i].project_id, today,
                                          json_string_value(json_object_get(doc, "valid_until")), now, &spend,
                                          err);
                for (int k = 0; r >= 0 && k < 2; k++) {
                        json_t *b = json_object_get(json_object_get(doc, "budget"), fields[k]);
                        if (!json_is_integer(b))
                                continue;
                        BudgetAlert a = {
                                .project_id = v[i].project_id,
                                .department = v[i].department,
                                .approval_no = v[i].approval_no,
                                .cost_kind = kinds[k],
                                .budget_fen = json_integer_value(b),
                                .committed_fen = spend.committed_fen[k],
                                .metered_fen = spend.charged_fen[k],
                                .used_fen = policy_budget_used(spend.committed_fen[k], spend.charged_fen[k]),
                        };
                        unsigned reached = policy_budget_threshold(a.budget_fen, a.used_fen);
                        for (size_t t_i = 0; r >= 0 && t_i < ELEMENTSOF(thresholds); t_i++) {
                                if (reached < thresholds[t_i])
                                        break;
                                a.threshold = thresholds[t_i];
                                r = raise_once(s, &a, at, err);
                                if (r > 0) {
                                        raised++;
                                        if (fn)
                                                fn(&a, userdata);
                                }
                        }
                }
        }
        candidates_free(v, n);
        return r < 0 ? r : raised;
}
