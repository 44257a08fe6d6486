/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The deadlines a project's milestones open, and what a request is
 * projected to cost: arithmetic on dates, working days and prices, with no
 * store and no clock (today is an argument).
 *
 * Deadlines (docs/policy.md):
 *   - Art. 18: the contract is filed within 5 working days of its signing;
 *   - Art. 25: the acceptance report within 30 working days of completion;
 *   - Art. 26 names no number: the self-evaluation of budget year Y is due
 *     60 working days after Y ends, for every year the approval spans that
 *     has ended (a project decision).
 * Each event is answered by the first filing of the matching kind, on or
 * after it, that no earlier event took (events and filings in date order);
 * a self-evaluation answers the budget year it names. A deadline is met
 * (filed on or before the due day), late (filed after), overdue (unfiled,
 * today past the due day) or pending.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "string-table.h"

#define DEADLINE_CONTRACT_FILING_DAYS   5
#define DEADLINE_ACCEPTANCE_FILING_DAYS 30
#define DEADLINE_SELF_EVALUATION_DAYS   60
/* Budget years looked at, at most: a longer approval is a typing error. */
#define DEADLINE_BUDGET_YEARS_MAX 50

/* What a milestone is to the deadlines (the core maps its milestone kinds). */
typedef enum DeadlineEvent {
        DEADLINE_EVENT_CONTRACT_SIGNED,
        DEADLINE_EVENT_CONTRACT_FILED,
        DEADLINE_EVENT_COMPLETED,
        DEADLINE_EVENT_ACCEPTANCE_FILED,
        DEADLINE_EVENT_SELF_EVALUATION_FILED,
        _DEADLINE_EVENT_MAX,
} DeadlineEvent;

typedef struct DeadlineMilestone {
        DeadlineEvent event;
        const char *date; /* "YYYY-MM-DD" */
        int budget_year;  /* self-evaluations: the year it evaluates */
} DeadlineMilestone;

typedef enum DeadlineKind {
        DEADLINE_CONTRACT_FILING,
        DEADLINE_ACCEPTANCE_FILING,
        DEADLINE_SELF_EVALUATION,
        _DEADLINE_KIND_MAX,
} DeadlineKind;
DECLARE_STRING_TABLE(deadline_kind, DeadlineKind);

typedef enum DeadlineStatus {
        DEADLINE_PENDING,
        DEADLINE_MET,
        DEADLINE_LATE,
        DEADLINE_OVERDUE,
        _DEADLINE_STATUS_MAX,
} DeadlineStatus;
DECLARE_STRING_TABLE(deadline_status, DeadlineStatus);

/* The milestone that opened a deadline, or none: the end of a budget year. */
#define DEADLINE_NO_MILESTONE SIZE_MAX

typedef struct Deadline {
        DeadlineKind kind;
        unsigned article;
        size_t event_milestone;        /* index into the milestones, or DEADLINE_NO_MILESTONE */
        char event_date[DATE_LEN + 1]; /* the event's date (a budget year's 12-31) */
        char due[DATE_LEN + 1];
        bool provisional;       /* the calendar lacked a year on the way */
        size_t filed_milestone; /* the filing that answered it, or DEADLINE_NO_MILESTONE */
        DeadlineStatus status;
        int budget_year; /* self-evaluations only, else 0 */
} Deadline;

typedef struct Deadlines {
        Deadline *v;
        size_t n;
} Deadlines;

void deadlines_done(Deadlines *d);

/* Every deadline of a project, contract filings first, then acceptance
 * filings, then self-evaluations by year. valid_from/valid_until: the
 * approval in force (NULL: none, so no self-evaluation is due). A milestone
 * whose date the calendar cannot count from is skipped. -ENOMEM only. */
int deadlines_compute(const Calendar *cal, const DeadlineMilestone *ms, size_t n_ms, const char *valid_from,
                      const char *valid_until, const char *today, Deadlines *ret);

/* The due day of the first overdue deadline of kind, or NULL when none is. */
const char *deadlines_first_overdue(const Deadlines *d, DeadlineKind kind);

/* A plan's price: per hour, or per started month of 30 days. */
typedef enum PriceUnit {
        PRICE_PER_HOUR,
        PRICE_PER_MONTH,
} PriceUnit;

/* Price x quantity over what is left of the approval, today to valid_until
 * inclusive: the most the resource can cost under it. 0 when the approval
 * has ended or a date is not one. */
int64_t deadlines_projected_cost_fen(int64_t amount_fen, PriceUnit unit, uint32_t quantity, const char *today,
                                     const char *valid_until);
