/* SPDX-License-Identifier: Apache-2.0 */
/* Adjustments of closed billing months (billing-adjustments.h): proposed by
 * finance or the authority, in force once both signed. */
#include "billing-adjustments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "audit.h"
#include "billing.h"
#include "json-util.h"
#include "rating.h"

#define ADJUSTMENT_REASON_MAX 512
#define ADJUSTMENT_FEN_MAX    INT64_C(1000000000000000) /* 10^15, the approvals' budget bound */
#define SIGNERS               (CB_ROLE_FINANCE | CB_ROLE_AUTHORITY)
#define READERS               (CB_ROLE_FINANCE | CB_ROLE_AUTHORITY | CB_ROLE_AUDITOR)

static int period_of(Store *s, const char *period, RatingPeriod *p, bool *ret_closed, CbError *err) {
        int64_t n = 0;
        int r;

        if (rating_period_parse(period, p) < 0)
                return cb_error_set_field(err, CB_ERR_INVALID, "period",
                                          "period '%s' is not a month: expected YYYY-MM with month 01-12",
                                          period ? period : "");
        r = store_query_int(s, "SELECT COUNT(*) FROM billing_closed WHERE period = ?1",
                            STORE_ARGS(SA_TEXT(p->name)), &n, "reading a closed statement", err);
        if (r < 0)
                return r;
        *ret_closed = n > 0;
        return 0;
}

void billing_adjustment_done(BillingAdjustment *a) {
        if (!a)
                return;
        free(a->id);
        free(a->period);
        free(a->department);
        free(a->project_id);
        free(a->approval_no);
        free(a->reason);
        free(a->created_at);
        free(a->created_by);
        for (size_t i = 0; i < a->n_signoffs; i++)
                free(a->signoffs[i].principal);
        *a = (BillingAdjustment){ 0 };
}

void billing_adjustment_list_done(BillingAdjustmentList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                billing_adjustment_done(&l->v[i]);
        free(l->v);
        *l = (BillingAdjustmentList){ 0 };
}

/* The adjustments of a period (department NULL: all; id NULL: every one),
 * each with its signatures, the proposer's first. */
static int load(Store *s, const char *period, const char *department, const char *id,
                BillingAdjustmentList *ret, CbError *err) {
        static const char sql[] =
                "SELECT a.id, a.period, a.department, a.project_id, a.approval_no, a.amount_fen, a.reason, "
                "a.created_at, a.created_by, g.role, g.principal, g.signed_at FROM billing_adjustments a "
                "LEFT JOIN billing_adjustment_signoffs g ON g.adjustment_id = a.id WHERE a.period = ?1 "
                "AND (?2 IS NULL OR a.department = ?2) AND (?3 IS NULL OR a.id = ?3) "
                "ORDER BY a.created_at, a.id, CASE WHEN g.principal = a.created_by THEN 0 ELSE 1 END, "
                "g.signed_at";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(billing_adjustment_list_done) BillingAdjustmentList l = { 0 };
        size_t cap = 0;
        bool ok = true;
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(period), SA_TEXT(department), SA_TEXT(id)), &rows,
                        "reading adjustments", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                BillingAdjustment *cur = l.n ? &l.v[l.n - 1] : NULL;
                if (!cur || !streq(cur->id, store_rows_text(rows, 0))) {
                        if (l.n == cap) {
                                size_t ncap = cap ? 2 * cap : 8;
                                BillingAdjustment *v = reallocarray(l.v, ncap, sizeof(*v));
                                if (!v)
                                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                                l.v = v;
                                cap = ncap;
                        }
                        cur = &l.v[l.n++];
                        *cur = (BillingAdjustment){
                                .id = strdup_or_null(store_rows_text(rows, 0), &ok),
                                .period = strdup_or_null(store_rows_text(rows, 1), &ok),
                                .department = strdup_or_null(store_rows_text(rows, 2), &ok),
                                .project_id = strdup_or_null(store_rows_text(rows, 3), &ok),
                                .approval_no = strdup_or_null(store_rows_text(rows, 4), &ok),
                                .amount_fen = store_rows_int(rows, 5),
                                .reason = strdup_or_null(store_rows_text(rows, 6), &ok),
                                .created_at = strdup_or_null(store_rows_text(rows, 7), &ok),
                                .created_by = strdup_or_null(store_rows_text(rows, 8), &ok),
                        };
                }
                if (!store_rows_is_null(rows, 9) && cur->n_signoffs < ELEMENTSOF(cur->signoffs)) {
                        int role = adjustment_signer_from_string(store_rows_text(rows, 9));
                        AdjustmentSignoff *so = &cur->signoffs[cur->n_signoffs];
                        if (role < 0)
                                return cb_error_set(err, CB_ERR_INTERNAL,
                                                    "adjustment %s has a signature of no known role",
                                                    cur->id);
                        so->role = role;
                        so->principal = strdup_or_null(store_rows_text(rows, 10), &ok);
                        snprintf(so->signed_at, sizeof(so->signed_at), "%s", store_rows_text(rows, 11));
                        cur->n_signoffs++;
                        if (cur->n_signoffs == ELEMENTSOF(cur->signoffs)) {
                                cur->in_force = true;
                                l.signed_fen += cur->amount_fen;
                        }
                }
                if (!ok)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        if (r < 0)
                return r;
        snprintf(l.period, sizeof(l.period), "%s", period);
        *ret = l;
        l = (BillingAdjustmentList){ 0 };
        return 0;
}

/* The one adjustment id of period into *ret: 0, or CB_ERR_NOT_FOUND. */
static int load_one(Store *s, const char *period, const char *id, BillingAdjustment *ret, CbError *err) {
        _cleanup_(billing_adjustment_list_done) BillingAdjustmentList l = { 0 };
        int r = load(s, period, NULL, id, &l, err);
        if (r < 0)
                return r;
        if (l.n == 0)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no adjustment '%s' in %s", id, period);
        *ret = l.v[0];
        l.v[0] = (BillingAdjustment){ 0 };
        return 0;
}

static AdjustmentSigner signing_role(const CbCaller *caller) {
        return caller_has_role(caller, CB_ROLE_FINANCE) ? ADJUSTMENT_SIGNER_FINANCE
                                                        : ADJUSTMENT_SIGNER_AUTHORITY;
}

typedef struct AdjustRow {
        const char *id, *period, *project_id, *department, *approval_no, *reason, *at, *by, *role;
        int64_t amount_fen;
} AdjustRow;

static int adjust_insert(Store *s, void *userdata, CbError *err) {
        static const char ins[] = "INSERT INTO billing_adjustments (id, period, project_id, department, "
                                  "approval_no, amount_fen, reason, created_at, created_by) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        static const char sign[] = "INSERT INTO billing_adjustment_signoffs (adjustment_id, role, principal, "
                                   "signed_at) VALUES (?1, ?2, ?3, ?4)";
        const AdjustRow *a = userdata;
        int r;

        r = store_run(s, ins,
                      STORE_ARGS(SA_TEXT(a->id), SA_TEXT(a->period), SA_TEXT(a->project_id),
                                 SA_TEXT(a->department), SA_TEXT(a->approval_no), SA_INT(a->amount_fen),
                                 SA_TEXT(a->reason), SA_TEXT(a->at), SA_TEXT(a->by)),
                      "storing the adjustment", err);
        if (r >= 0)
                r = store_run(s, sign,
                              STORE_ARGS(SA_TEXT(a->id), SA_TEXT(a->role), SA_TEXT(a->by), SA_TEXT(a->at)),
                              "signing the adjustment", err);
        return r < 0 ? r : 0;
}

int billing_adjust(Store *s, const CbCaller *caller, const char *period, const json_t *body,
                   BillingAdjustment *ret, CbError *err) {
        static const char *const fields[] = { "project_id", "amount_fen", "reason", NULL };
        static const char sql_project[] =
                "SELECT p.department, a.approval_no FROM projects p LEFT JOIN approvals a "
                "ON a.project_id = p.id AND a.revision = p.current_revision WHERE p.id = ?1";
        const char *project_id = NULL, *reason = NULL;
        _cleanup_(freep) char *department = NULL, *approval_no = NULL;
        int64_t amount = 0;
        RatingPeriod p;
        bool closed;
        char id[32], object[64], now[32];
        uint8_t b[8];
        int r;

        r = caller_require_role(caller, SIGNERS, "adjust billing statements", err);
        if (r < 0) {
                audit_refusal(s, caller, "billing.adjust", "statement:-", "forbidden", NULL);
                return r;
        }
        r = period_of(s, period, &p, &closed, err);
        if (r < 0)
                return r;
        if (!closed)
                return cb_error_set_field(
                        err, CB_ERR_CONFLICT, "period",
                        "period %s is not closed: adjustments are for closed months (an open "
                        "month is rated again on every export)",
                        p.name);
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_id(body, "project_id", true, &project_id, err);
        if (r >= 0)
                r = json_get_int(body, "amount_fen", true, -ADJUSTMENT_FEN_MAX, ADJUSTMENT_FEN_MAX, &amount,
                                 err);
        if (r >= 0)
                r = json_get_string(body, "reason", true, ADJUSTMENT_REASON_MAX, &reason, err);
        if (r < 0)
                return r;
        if (amount == 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "amount_fen",
                                          "amount_fen must not be 0: an adjustment moves money");
        if (!*reason)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "reason", "reason must not be empty");
        {
                _cleanup_(store_rows_donep) StoreRows *rows = NULL;
                r = store_query(s, sql_project, STORE_ARGS(SA_TEXT(project_id)), &rows, "reading the project",
                                err);
                if (r >= 0)
                        r = store_rows_next(rows, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "project_id", "no project '%s'",
                                                  project_id);
                department = store_rows_dup(rows, 0);
                approval_no = store_rows_dup(rows, 1);
                if (!department)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }

        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness for an id");
        snprintf(id, sizeof(id), "adj-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
                 b[6], b[7]);
        snprintf(object, sizeof(object), "adjustment:%s", id);
        store_now(now);
        AdjustRow row = { id,
                          p.name,
                          project_id,
                          department,
                          approval_no,
                          reason,
                          now,
                          caller->principal->name,
                          adjustment_signer_to_string(signing_role(caller)),
                          amount };
        json_auto_t *detail = json_pack("{s:s, s:s, s:I}", "period", p.name, "project_id", project_id,
                                        "amount_fen", (json_int_t)amount);
        r = audit_change(s, caller, &(AuditEntry){ "billing.adjust", object, "ok", NULL, detail },
                         adjust_insert, &row, err);
        if (r < 0)
                return r;
        return load_one(s, p.name, id, ret, err);
}

typedef struct SignRow {
        const char *id, *role, *by, *at;
} SignRow;

static int sign_insert(Store *s, void *userdata, CbError *err) {
        static const char sign[] = "INSERT INTO billing_adjustment_signoffs (adjustment_id, role, principal, "
                                   "signed_at) VALUES (?1, ?2, ?3, ?4)";
        const SignRow *a = userdata;
        int r = store_run(s, sign,
                          STORE_ARGS(SA_TEXT(a->id), SA_TEXT(a->role), SA_TEXT(a->by), SA_TEXT(a->at)),
                          "signing the adjustment", err);
        if (r == -EEXIST)
                return cb_error_set(err, CB_ERR_CONFLICT, "adjustment %s was signed meanwhile", a->id);
        return r < 0 ? r : 0;
}

int billing_adjustment_approve(Store *s, const CbCaller *caller, const char *period, const char *id,
                               BillingAdjustment *ret, CbError *err) {
        _cleanup_(billing_adjustment_done) BillingAdjustment adj = { 0 };
        bool closed, signed_by[_ADJUSTMENT_SIGNER_MAX] = { false };
        AdjustmentSigner role = _ADJUSTMENT_SIGNER_MAX;
        RatingPeriod p;
        char object[64], now[32];
        int r;

        r = caller_require_role(caller, SIGNERS, "sign billing adjustments", err);
        if (r < 0) {
                audit_refusal(s, caller, "billing.adjust.approve", "adjustment:-", "forbidden", NULL);
                return r;
        }
        r = period_of(s, period, &p, &closed, err);
        if (r < 0)
                return r;
        r = load_one(s, p.name, id, &adj, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < adj.n_signoffs; i++) {
                if (streq(adj.signoffs[i].principal, caller->principal->name))
                        return cb_error_set(err, CB_ERR_CONFLICT,
                                            "adjustment %s needs a second signature by another principal; %s "
                                            "signed it already",
                                            id, caller->principal->name);
                signed_by[adj.signoffs[i].role] = true;
        }
        if (adj.in_force)
                return cb_error_set(err, CB_ERR_CONFLICT, "adjustment %s is signed and in force already", id);
        if (!signed_by[ADJUSTMENT_SIGNER_FINANCE] && caller_has_role(caller, CB_ROLE_FINANCE))
                role = ADJUSTMENT_SIGNER_FINANCE;
        else if (!signed_by[ADJUSTMENT_SIGNER_AUTHORITY] && caller_has_role(caller, CB_ROLE_AUTHORITY))
                role = ADJUSTMENT_SIGNER_AUTHORITY;
        if (role == _ADJUSTMENT_SIGNER_MAX)
                return cb_error_set(err, CB_ERR_CONFLICT, "adjustment %s needs the signature of the %s", id,
                                    signed_by[ADJUSTMENT_SIGNER_FINANCE] ? "authority" : "finance bureau");

        snprintf(object, sizeof(object), "adjustment:%s", id);
        store_now(now);
        SignRow row = { id, adjustment_signer_to_string(role), caller->principal->name, now };
        r = audit_change(s, caller, &(AuditEntry){ "billing.adjust.approve", object, "ok", NULL, NULL },
                         sign_insert, &row, err);
        if (r < 0)
                return r;
        return load_one(s, p.name, id, ret, err);
}

int billing_adjustments_list(Store *s, const CbCaller *caller, const char *period, BillingAdjustmentList *ret,
                             CbError *err) {
        const char *department = NULL;
        RatingPeriod p;
        bool closed;
        int r;

        if (!caller_has_role(caller, READERS)) {
                if (!caller_has_role(caller, CB_ROLE_DEPARTMENT) || !caller->principal->department)
                        return cb_error_set(
                                err, CB_ERR_FORBIDDEN,
                                "reading billing adjustments needs the role finance, authority or "
                                "auditor, or a department's own");
                department = caller->principal->department;
        }
        r = period_of(s, period, &p, &closed, err);
        if (r < 0)
                return r;
        r = load(s, p.name, department, NULL, ret, err);
        if (r < 0)
                return r;
        ret->closed = closed;
        return 0;
}
