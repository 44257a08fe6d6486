/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Budget alerts (Art. 13, docs/billing.md): a project whose money reaches
 * 80 % and then 100 % of its approval's budget, construction and O&M
 * apart, gets one alert per threshold and cost kind: an audit record
 * (billing.budget_alert) and a call of the caller's notifier, which the
 * D-Bus face turns into a signal for the project's department and finance
 * and the authority only. The money counted is what the policy engine
 * counts (policy_budget_used()): what is committed from today on and
 * what was charged before today (billing_project_spend(): each resource once).
 *
 * The promise: each (project, cost kind, threshold) is raised at most once,
 * ever; it is remembered in the store (budget_alerts) in the same
 * transaction as its audit record, so a restart, a second check or a
 * crash between the two never raises it again. A project that jumps past
 * both thresholds gets both, 80 first. Nothing is raised for a project
 * without an approval in force.
 */

#include <stdint.h>

#include "error.h"
#include "store.h"

typedef struct BudgetAlert {
        const char *project_id, *department, *approval_no;
        const char *cost_kind; /* "construction" or "om" */
        unsigned threshold;    /* 80 or 100 */
        int64_t budget_fen, committed_fen, metered_fen, used_fen;
} BudgetAlert;

/* Called after the alert's record committed; a is borrowed. */
typedef void (*BudgetAlertFn)(const BudgetAlert *a, void *userdata);

/* Checks every project with an approval as of `now` (UTC seconds); raises
 * what is due. Returns the number of alerts raised, or -errno (those
 * raised before the failure stay raised). fn may be NULL. */
int billing_budget_check(Store *s, int64_t now, BudgetAlertFn fn, void *userdata, CbError *err);
