/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Adjustments of a closed billing month (its files never change): separate
 * lines, never rewrites. Like a catalogue price, an adjustment is in force
 * once finance and the authority both signed it, two different principals.
 * Every change is an audit record (billing.adjust, billing.adjust.approve).
 * The core answers with the records below; each face serializes them once
 * (rest_billing_adjustment_json).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "principal.h"
#include "states.h"
#include "store.h"

typedef struct AdjustmentSignoff {
        AdjustmentSigner role;
        char *principal;
        char signed_at[32];
} AdjustmentSignoff;

typedef struct BillingAdjustment {
        char *id, *period, *department, *project_id;
        char *approval_no;  /* NULL: the project had no approval then */
        int64_t amount_fen; /* may be negative */
        char *reason, *created_at, *created_by;
        AdjustmentSignoff signoffs[_ADJUSTMENT_SIGNER_MAX]; /* the proposer's first */
        size_t n_signoffs;
        bool in_force; /* both signed: "status": "signed", else "pending" */
} BillingAdjustment;
void billing_adjustment_done(BillingAdjustment *a);

/* A month's adjustments the caller may read, and the sum of those in force. */
typedef struct BillingAdjustmentList {
        char period[8];
        bool closed;
        BillingAdjustment *v;
        size_t n;
        int64_t signed_fen;
} BillingAdjustmentList;
void billing_adjustment_list_done(BillingAdjustmentList *l);

/* POST .../adjustments {"project_id", "amount_fen", "reason"}: finance or
 * the authority proposes it, signing for its role. 409 for a month not
 * closed; 422 naming the field for a bad body or an unknown project. */
int billing_adjust(Store *s, const CbCaller *caller, const char *period, const json_t *body,
                   BillingAdjustment *ret, CbError *err);
/* POST .../adjustments/{id}/approve: the other role countersigns (409 when
 * the caller's role signed already, it is the same principal, or it is in
 * force); 404 for an id not of that month. */
int billing_adjustment_approve(Store *s, const CbCaller *caller, const char *period, const char *id,
                               BillingAdjustment *ret, CbError *err);
/* GET .../adjustments: finance, the authority, auditors all; a department
 * its own projects'. */
int billing_adjustments_list(Store *s, const CbCaller *caller, const char *period, BillingAdjustmentList *ret,
                             CbError *err);
