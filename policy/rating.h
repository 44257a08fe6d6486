/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Rating (docs/billing.md): turns a resource's usage segments into integer
 * fen for one billing period. Pure: no I/O, no clock (the caller passes
 * "now"), integer arithmetic only.
 *
 * The promise:
 * - A billing period is a calendar month in China Standard Time (UTC+8):
 *   "2026-03" is [2026-03-01T00:00:00+08:00, 2026-04-01T00:00:00+08:00).
 * - A resource's history is its segments in order; each lasts from its
 *   start to the next one's start (the last one to "now"). Only the part
 *   inside the period counts; a segment whose end is before its start (a
 *   clock set back) counts 0 s.
 * - An "hour" price is charged per second in state active; a "month"
 *   price per second in any state but deleted, over the seconds of that
 *   calendar month (28, 29, 30 or 31 days).
 * - amount_fen = price * seconds / unit_seconds, rounded half-up once, on
 *   the line (one line per resource and period): never per segment.
 * - What is withheld and why (Art. 11, 25, 28, 35) is decided from facts
 *   the caller gathers (rating_withhold()).
 */

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "string-table.h"

#define RATING_PERIOD_LEN 7 /* "YYYY-MM" */

typedef enum RatingUnit {
        RATING_UNIT_HOUR,
        RATING_UNIT_MONTH,
        _RATING_UNIT_MAX,
        _RATING_UNIT_INVALID = -EINVAL,
} RatingUnit;

/* "hour", "month" (the catalogue's price units). */
DECLARE_STRING_TABLE(rating_unit, RatingUnit);

typedef struct RatingPeriod {
        int year, month;
        int64_t start, end; /* UTC seconds since the epoch, [start, end) */
        char name[RATING_PERIOD_LEN + 1];
} RatingPeriod;

/* "YYYY-MM", exactly: four digits, a dash, two digits, month 01-12, year
 * 1970-9998. -EINVAL otherwise (ret untouched). */
int rating_period_parse(const char *s, RatingPeriod *ret);

/* "YYYY-MM-DDTHH:MM:SSZ" (the store's timestamps) as UTC seconds since the
 * epoch; a real date and time, else -EINVAL. */
int rating_parse_time(const char *s, int64_t *ret);

/* One segment of a resource's history: its state and start. */
typedef struct RatingSegment {
        int64_t start;
        bool active;  /* state active: what an hour price charges */
        bool deleted; /* state deleted: what a month price stops at */
} RatingSegment;

/* The seconds of the period that `unit` charges for the history segs[0..n)
 * (in order), the last segment running until `now`. */
int64_t rating_charged_seconds(RatingUnit unit, const RatingSegment *segs, size_t n, const RatingPeriod *p,
                               int64_t now);

/* The seconds `unit` is priced per in period p: 3600 or the month's. */
int64_t rating_unit_seconds(RatingUnit unit, const RatingPeriod *p);

/* price_fen * seconds / unit_seconds, half-up. -EINVAL for a negative price
 * or seconds, or values past the catalogue's bounds (price above 10^10 fen,
 * seconds above the period's length). */
int rating_amount_fen(RatingUnit unit, int64_t price_fen, int64_t seconds, const RatingPeriod *p,
                      int64_t *ret);

/* The CST month that second t falls in; the month after p. */
int rating_period_of(int64_t t, RatingPeriod *ret);
int rating_next_period(const RatingPeriod *p, RatingPeriod *ret);

/* Art. 13: one resource's money against its approval's budget, each second
 * counted once (docs/billing.md, "Budget"):
 * - charged: what the statements charge it before today (the CST start of
 *   `today`, "YYYY-MM-DD"), month by month, each month rounded on its line;
 * - committed: when it still exists (its last segment is not deleted),
 *   what its price commits from today to valid_until inclusive, as the
 *   policy engine commits a new order (deadlines_projected_cost_fen); 0
 *   once the approval has ended or without valid_until.
 * segs: its history (in order), the last one running. -EINVAL for a bad
 * price, unit or today. */
int rating_budget_spend(RatingUnit unit, int64_t price_fen, const RatingSegment *segs, size_t n,
                        const char *today, const char *valid_until, int64_t *ret_charged,
                        int64_t *ret_committed);

/* The UTC second at which the CST day `today` ("YYYY-MM-DD") starts: where
 * rating_budget_spend()'s charged part stops. -EINVAL for a bad date. */
int rating_day_start(const char *today, int64_t *ret);

/* The committed part of rating_budget_spend() for `count` existing
 * resources of one price: count times what one commits (each resource is
 * rounded on its own, so this is their sum to the fen). -EINVAL for a bad
 * price, unit, count or today. */
int rating_budget_committed(RatingUnit unit, int64_t price_fen, int64_t count, const char *today,
                            const char *valid_until, int64_t *ret);

/* count times `one`, what one resource commits (rating_budget_committed()
 * with count 1): the same answer, for callers that keep `one` per price and
 * day. -EINVAL for a count out of range or a product that does not fit. */
int rating_budget_times(int64_t one, int64_t count, int64_t *ret);

/* Why a line's money is withheld, from the facts of its project and
 * system. Each reason is a policy code (its article from the policy table). */
typedef struct WithholdFacts {
        bool om;                        /* the line is O&M money (else construction) */
        bool project_suspended;         /* Art. 28 */
        bool project_terminated;        /* Art. 28 */
        bool data_sharing_noncompliant; /* Art. 11: no O&M funds */
        bool acceptance_filing_overdue; /* Art. 25: no construction or O&M funds */
        bool migration_overdue;         /* Art. 35: the legacy system missed its deadline */
} WithholdFacts;

#define WITHHOLD_MAX 4

typedef struct Withhold {
        size_t n;                       /* 0: the line is paid */
        PolicyCode codes[WITHHOLD_MAX]; /* in ascending article order */
} Withhold;

void rating_withhold(const WithholdFacts *f, Withhold *ret);
/* The articles as "11;25;28" (ascending, each once); "" when paid. */
void rating_withhold_articles(const Withhold *w, char *buf, size_t size);

/* The price of plan_id in a catalogue service document (the revision the
 * resource was ordered under): plans[].price {amount_fen, unit}. -ENOENT
 * when the plan is not in it, -EINVAL when its price is malformed. */
int rating_plan_price(const json_t *service, const char *plan_id, RatingUnit *ret_unit, int64_t *ret_fen);
