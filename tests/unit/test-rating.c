/* SPDX-License-Identifier: Apache-2.0 */
/* Rating (policy/rating.c): periods in CST, seconds per state, fen half-up
 * once per line, the price of the ordered revision, and what is withheld. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rating.h"

static int64_t T(const char *s) {
        int64_t t;
        assert_int_equal(rating_parse_time(s, &t), 0);
        return t;
}

static RatingPeriod P(const char *s) {
        RatingPeriod p;
        assert_int_equal(rating_period_parse(s, &p), 0);
        return p;
}

static RatingSegment active(const char *at) {
        return (RatingSegment){ .start = T(at), .active = true };
}
static RatingSegment stopped(const char *at) {
        return (RatingSegment){ .start = T(at) };
}
static RatingSegment deleted(const char *at) {
        return (RatingSegment){ .start = T(at), .deleted = true };
}

static int64_t amount(RatingUnit u, int64_t price, int64_t secs, const RatingPeriod *p) {
        int64_t a = -1;
        assert_int_equal(rating_amount_fen(u, price, secs, p, &a), 0);
        return a;
}

static void test_periods_are_cst_months(void **state) {
        RatingPeriod p;
        (void)state;

        p = P("2026-03");
        assert_int_equal(p.start, T("2026-02-28T16:00:00Z"));
        assert_int_equal(p.end, T("2026-03-31T16:00:00Z"));
        assert_string_equal(p.name, "2026-03");
        p = P("2026-12");
        assert_int_equal(p.end, T("2026-12-31T16:00:00Z"));
        assert_int_equal(rating_unit_seconds(RATING_UNIT_MONTH, &p), 31 * 86400);
        assert_int_equal(rating_unit_seconds(RATING_UNIT_HOUR, &p), 3600);
        /* Leap February has 29 days, a common one 28, a century one (2100) 28. */
        p = P("2028-02");
        assert_int_equal(rating_unit_seconds(RATING_UNIT_MONTH, &p), 29 * 86400);
        p = P("2026-02");
        assert_int_equal(rating_unit_seconds(RATING_UNIT_MONTH, &p), 28 * 86400);
        p = P("2100-02");
        assert_int_equal(rating_unit_seconds(RATING_UNIT_MONTH, &p), 28 * 86400);
        p = P("2000-02");
        assert_int_equal(rating_unit_seconds(RATING_UNIT_MONTH, &p), 29 * 86400);

        /* The malformed periods of the issue, and their neighbours. */
        static const char *const bad[] = { "2026-13", "2026-1",  "abc",     "2026-00", "2026-01x",   "",
                                           "26-01",   "2026/01", "1969-12", "2026-1 ", "９９９９-01" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                p.year = 7;
                assert_int_equal(rating_period_parse(bad[i], &p), -EINVAL);
                assert_int_equal(p.year, 7); /* untouched */
        }
        assert_int_equal(rating_period_parse(NULL, &p), -EINVAL);
}

static void test_times(void **state) {
        int64_t t;
        (void)state;
        assert_int_equal(T("1970-01-01T00:00:00Z"), 0);
        assert_int_equal(T("2026-01-01T00:00:00Z"), INT64_C(1767225600));
        assert_int_equal(T("2028-02-29T23:59:59Z"), T("2028-03-01T00:00:00Z") - 1);
        assert_int_equal(rating_parse_time("2026-02-29T00:00:00Z", &t), -EINVAL);
        assert_int_equal(rating_parse_time("2026-01-01T24:00:00Z", &t), -EINVAL);
        assert_int_equal(rating_parse_time("2026-01-01 00:00:00Z", &t), -EINVAL);
        assert_int_equal(rating_parse_time("2026-01-01T00:00:00", &t), -EINVAL);
}

/* An hour price charges active seconds only; the segment across midnight
 * CST at the turn of the month is split between the two periods. */
static void test_month_boundary(void **state) {
        RatingPeriod jan = P("2026-01"), feb = P("2026-02");
        /* 23:00 CST on 31 January to 01:00 CST on 1 February. */
        RatingSegment h[] = { active("2026-01-31T15:00:00Z"), stopped("2026-01-31T17:00:00Z") };
        int64_t now = T("2026-03-05T00:00:00Z");
        (void)state;

        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, h, 2, &jan, now), 3600);
        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, h, 2, &feb, now), 3600);
        assert_int_equal(amount(RATING_UNIT_HOUR, 35, 3600, &jan), 35);
        /* A month price charges stopped seconds too, until deleted: the
         * resource above exists from 23:00 on 31 January to now. */
        assert_int_equal(rating_charged_seconds(RATING_UNIT_MONTH, h, 2, &jan, now), 3600);
        assert_int_equal(rating_charged_seconds(RATING_UNIT_MONTH, h, 2, &feb, now), 28 * 86400);
        assert_int_equal(amount(RATING_UNIT_MONTH, 150000, 28 * 86400, &feb), 150000);
        /* The same UTC instant, 16:00Z on 31 January, is already February in CST. */
        RatingSegment late[] = { active("2026-01-31T16:00:00Z"), deleted("2026-01-31T16:00:01Z") };
        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, late, 2, &jan, now), 0);
        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, late, 2, &feb, now), 1);
}

/* A month price is prorated over the seconds of that month: half of a leap
 * February is half its price, which is not half of a common February's. */
static void test_leap_february(void **state) {
        RatingPeriod feb28 = P("2028-02"), feb26 = P("2026-02");
        /* Exists from 1 February 00:00 CST to 15 February 12:00 CST: 14.5 days. */
        RatingSegment h28[] = { active("2028-01-31T16:00:00Z"), deleted("2028-02-15T04:00:00Z") };
        RatingSegment h26[] = { active("2026-01-31T16:00:00Z"), deleted("2026-02-15T04:00:00Z") };
        (void)state;

        int64_t s28 = rating_charged_seconds(RATING_UNIT_MONTH, h28, 2, &feb28, T("2030-01-01T00:00:00Z"));
        int64_t s26 = rating_charged_seconds(RATING_UNIT_MONTH, h26, 2, &feb26, T("2030-01-01T00:00:00Z"));
        assert_int_equal(s28, 14 * 86400 + 43200);
        assert_int_equal(s26, s28);
        assert_int_equal(amount(RATING_UNIT_MONTH, 150000, s28, &feb28), 75000);
        /* 150000 * 14.5 / 28 = 77678.57... */
        assert_int_equal(amount(RATING_UNIT_MONTH, 150000, s26, &feb26), 77679);
        /* The 29th of February is charged like any other day. */
        RatingSegment d29[] = { active("2028-02-28T16:00:00Z"), deleted("2028-02-29T16:00:00Z") };
        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, d29, 2, &feb28, T("2030-01-01T00:00:00Z")),
                         86400);
}

/* Zero-length segments (several changes within one second) charge nothing
 * and take nothing away from their neighbours. */
static void test_zero_length(void **state) {
        RatingPeriod p = P("2026-05");
        RatingSegment h[] = {
                stopped("2026-05-10T00:00:00Z"), active("2026-05-10T00:00:00Z"),
                stopped("2026-05-10T00:00:00Z"), active("2026-05-10T00:00:00Z"),
                stopped("2026-05-10T01:00:00Z"),
        };
        int64_t now = T("2026-06-10T00:00:00Z");
        (void)state;

        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, h, 5, &p, now), 3600);
        /* Only zero-length active: nothing. */
        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, h, 3, &p, T("2026-05-10T00:00:00Z")), 0);
        assert_int_equal(amount(RATING_UNIT_HOUR, 35, 0, &p), 0);
        /* No history at all. */
        assert_int_equal(rating_charged_seconds(RATING_UNIT_MONTH, h, 0, &p, now), 0);
        /* A clock set back makes a negative segment: it counts nothing. */
        RatingSegment back[] = { active("2026-05-10T02:00:00Z"), stopped("2026-05-10T01:00:00Z"),
                                 active("2026-05-10T01:30:00Z"), stopped("2026-05-10T02:00:00Z") };
        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, back, 4, &p, now), 1800);
}

/* Whole seconds: a resource that lived less than one second shows 0 or 1
 * second, as its timestamps fall; either way its line rounds half-up once. */
static void test_under_a_second(void **state) {
        RatingPeriod p = P("2026-05");
        RatingSegment same[] = { active("2026-05-10T00:00:00Z"), deleted("2026-05-10T00:00:00Z") };
        RatingSegment tick[] = { active("2026-05-10T00:00:00Z"), deleted("2026-05-10T00:00:01Z") };
        int64_t now = T("2026-06-01T00:00:00Z");
        (void)state;

        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, same, 2, &p, now), 0);
        assert_int_equal(rating_charged_seconds(RATING_UNIT_HOUR, tick, 2, &p, now), 1);
        assert_int_equal(rating_charged_seconds(RATING_UNIT_MONTH, tick, 2, &p, now), 1);
        /* 1800 fen an hour for one second is exactly half a fen: up. */
        assert_int_equal(amount(RATING_UNIT_HOUR, 1800, 1, &p), 1);
        assert_int_equal(amount(RATING_UNIT_HOUR, 1799, 1, &p), 0);
        assert_int_equal(amount(RATING_UNIT_HOUR, 35, 1, &p), 0);
        /* Once per line, not per segment: 3 x 1 s of 1799/h is 1 fen (1.49925),
         * where rounding each second would give 0. */
        assert_int_equal(amount(RATING_UNIT_HOUR, 1799, 3, &p), 1);
        /* The largest price for a whole month stays exact. */
        assert_int_equal(amount(RATING_UNIT_MONTH, INT64_C(10000000000), 31 * 86400, &p),
                         INT64_C(10000000000));
        int64_t a = 42;
        assert_int_equal(rating_amount_fen(RATING_UNIT_HOUR, INT64_C(10000000001), 1, &p, &a), -EINVAL);
        assert_int_equal(rating_amount_fen(RATING_UNIT_HOUR, -1, 1, &p, &a), -EINVAL);
        assert_int_equal(rating_amount_fen(RATING_UNIT_HOUR, 1, 31 * 86400 + 1, &p, &a), -EINVAL);
        assert_int_equal(a, 42);
}

/* The price is the one of the revision the resource was ordered under: a
 * new revision with a new price changes new orders only. */
static void test_price_of_revision(void **state) {
        json_t *rev1 =
                json_loads("{\"plans\": [{\"id\": \"small\", \"price\": {\"amount_fen\": 35, \"unit\": "
                           "\"hour\"}}, {\"id\": \"big\", \"price\": {\"amount_fen\": 150000, \"unit\": "
                           "\"month\"}}]}",
                           0, NULL);
        json_t *rev2 =
                json_loads("{\"plans\": [{\"id\": \"small\", \"price\": {\"amount_fen\": 40, \"unit\": "
                           "\"hour\"}}]}",
                           0, NULL);
        json_t *bad =
                json_loads("{\"plans\": [{\"id\": \"small\", \"price\": {\"amount_fen\": 1.5, \"unit\": "
                           "\"hour\"}}, {\"id\": \"x\", \"price\": {\"amount_fen\": 1, \"unit\": \"day\"}}]}",
                           0, NULL);
        RatingPeriod p = P("2026-05");
        RatingUnit u;
        int64_t fen, old_line, new_line;
        (void)state;

        assert_non_null(rev1);
        assert_non_null(rev2);
        assert_int_equal(rating_plan_price(rev1, "small", &u, &fen), 0);
        assert_int_equal(u, RATING_UNIT_HOUR);
        assert_int_equal(fen, 35);
        old_line = amount(u, fen, 10 * 3600, &p);
        assert_int_equal(rating_plan_price(rev2, "small", &u, &fen), 0);
        new_line = amount(u, fen, 10 * 3600, &p);
        assert_int_equal(old_line, 350);
        assert_int_equal(new_line, 400);
        assert_int_equal(rating_plan_price(rev1, "big", &u, &fen), 0);
        assert_int_equal(u, RATING_UNIT_MONTH);
        assert_int_equal(rating_plan_price(rev2, "big", &u, &fen), -ENOENT);
        assert_int_equal(rating_plan_price(bad, "small", &u, &fen), -EINVAL);
        assert_int_equal(rating_plan_price(bad, "x", &u, &fen), -EINVAL);
        json_decref(rev1);
        json_decref(rev2);
        json_decref(bad);
}

static const char *articles(WithholdFacts f) {
        static char buf[64];
        Withhold w;
        rating_withhold(&f, &w);
        rating_withhold_articles(&w, buf, sizeof(buf));
        return buf;
}

static void test_withhold(void **state) {
        Withhold w;
        (void)state;

        assert_string_equal(articles((WithholdFacts){ .om = true }), "");
        assert_string_equal(articles((WithholdFacts){ .project_suspended = true }), "28");
        assert_string_equal(
                articles((WithholdFacts){ .project_terminated = true, .project_suspended = true }), "28");
        /* Art. 11 withholds O&M funds only. */
        assert_string_equal(articles((WithholdFacts){ .data_sharing_noncompliant = true }), "");
        assert_string_equal(articles((WithholdFacts){ .om = true, .data_sharing_noncompliant = true }), "11");
        assert_string_equal(articles((WithholdFacts){ .acceptance_filing_overdue = true }), "25");
        /* Art. 35 (its facts: the legacy register's overdue systems). */
        assert_string_equal(articles((WithholdFacts){ .migration_overdue = true }), "35");
        assert_string_equal(articles((WithholdFacts){ .om = true,
                                                      .data_sharing_noncompliant = true,
                                                      .acceptance_filing_overdue = true,
                                                      .project_suspended = true,
                                                      .migration_overdue = true }),
                            "11;25;28;35");
        rating_withhold(&(WithholdFacts){ .project_suspended = true, .migration_overdue = true }, &w);
        assert_int_equal(w.n, 2);
        assert_int_equal(w.codes[0], POLICY_PROJECT_SUSPENDED);
        assert_int_equal(w.codes[1], POLICY_MIGRATION_OVERDUE);
}

/* Property: for random histories over three months, the seconds each month
 * charges are what a plain walk over the history finds (10-minute grid),
 * and their sum is the history's total. */
static void test_random_histories(void **state) {
        RatingPeriod m[3] = { P("2026-01"), P("2026-02"), P("2026-03") };
        int64_t t0 = m[0].start - 86400, t1 = m[2].end + 86400;
        unsigned seed = 20261202;
        (void)state;

        for (int round = 0; round < 200; round++) {
                RatingSegment h[40];
                size_t n = 1 + (size_t)(rand_r(&seed) % 40);
                int64_t t = t0 + (int64_t)(rand_r(&seed) % 1000) * 600;
                int64_t now = t1 - (int64_t)(rand_r(&seed) % 100) * 600;
                for (size_t i = 0; i < n; i++) {
                        unsigned st = (unsigned)rand_r(&seed) % 3;
                        h[i] = (RatingSegment){ .start = t, .active = st == 0, .deleted = st == 2 };
                        t += (int64_t)(rand_r(&seed) % 1500) * 600; /* 0 .. ~10 days */
                }
                for (int unit = 0; unit < 2; unit++) {
                        int64_t want[3] = { 0 }, total = 0, sum = 0;
                        for (int64_t s = t0; s < t1; s += 600) {
                                bool charged = false;
                                for (size_t i = 0; i < n; i++) {
                                        int64_t end = i + 1 < n ? h[i + 1].start : now;
                                        if (s >= h[i].start && s < end)
                                                charged = unit == RATING_UNIT_HOUR ? h[i].active
                                                                                   : !h[i].deleted;
                                }
                                for (int k = 0; k < 3; k++)
                                        if (charged && s >= m[k].start && s < m[k].end)
                                                want[k] += 600;
                        }
                        for (int k = 0; k < 3; k++) {
                                int64_t got = rating_charged_seconds(unit, h, n, &m[k], now);
                                assert_int_equal(got, want[k]);
                                sum += got;
                                total += want[k];
                        }
                        assert_int_equal(sum, total);
                }
        }
}

static void test_period_of(void **state) {
        RatingPeriod p;
        (void)state;
        /* 2026-03 begins at 2026-02-28T16:00:00Z (CST midnight). */
        assert_int_equal(rating_period_of(T("2026-02-28T15:59:59Z"), &p), 0);
        assert_string_equal(p.name, "2026-02");
        assert_int_equal(rating_period_of(T("2026-02-28T16:00:00Z"), &p), 0);
        assert_string_equal(p.name, "2026-03");
        assert_int_equal(rating_next_period(&p, &p), 0);
        assert_string_equal(p.name, "2026-04");
        assert_int_equal(rating_period_of(T("2024-12-31T16:00:00Z"), &p), 0);
        assert_string_equal(p.name, "2025-01");
        assert_int_equal(rating_period_of(T("2024-02-29T12:00:00Z"), &p), 0);
        assert_string_equal(p.name, "2024-02");
}

/* Art. 13, each second once: the past as charged, today on as committed. */
static void test_budget_spend_counts_once(void **state) {
        /* Ordered 2026-03-01 10:00 CST, active since, 35 fen/hour; the
         * approval runs to 2026-06-30. */
        RatingSegment h[] = { active("2026-03-01T02:00:00Z") };
        int64_t charged, committed, at_order_charged, at_order;
        (void)state;

        assert_int_equal(rating_budget_spend(RATING_UNIT_HOUR, 35, h, 1, "2026-03-01", "2026-06-30",
                                             &at_order_charged, &at_order),
                         0);
        /* The day it was ordered: nothing charged yet, committed what an order commits. */
        assert_int_equal(at_order_charged, 0);
        assert_int_equal(at_order, 35 * 24 * 122); /* 1 March .. 30 June: 122 days */
        /* Ten days on: 230 hours charged (10 days less the first 10 hours),
         * the rest of the approval committed from the 11th on. */
        assert_int_equal(rating_budget_spend(RATING_UNIT_HOUR, 35, h, 1, "2026-03-11", "2026-06-30", &charged,
                                             &committed),
                         0);
        assert_int_equal(charged, 35 * 230);
        assert_int_equal(committed, 35 * 24 * 112);
        /* Never more than the order committed (the old rule said at_order + charged). */
        assert_true(charged + committed <= at_order);
        assert_int_equal(at_order - (charged + committed), 35 * 10);
}

static void test_budget_spend_edges(void **state) {
        int64_t charged, committed;
        (void)state;

        /* Across a month boundary each month is its own line: 1 s of January
         * and 1 s of February at 1800 fen/hour are half a fen each, 1 + 1. */
        RatingSegment across[] = { active("2026-01-31T15:59:59Z"), stopped("2026-01-31T16:00:01Z") };
        assert_int_equal(rating_budget_spend(RATING_UNIT_HOUR, 1800, across, 2, "2026-02-05", "2026-12-31",
                                             &charged, &committed),
                         0);
        assert_int_equal(charged, 2);
        assert_int_equal(committed, 1800 * 24 * 330); /* stopped, but it exists: 5 Feb .. 31 Dec */

        /* Deleted: what it was charged, nothing committed. */
        RatingSegment gone[] = { active("2026-02-01T00:00:00Z"), deleted("2026-02-01T01:00:00Z") };
        assert_int_equal(rating_budget_spend(RATING_UNIT_HOUR, 35, gone, 2, "2026-02-05", "2026-12-31",
                                             &charged, &committed),
                         0);
        assert_int_equal(charged, 35);
        assert_int_equal(committed, 0);

        /* The approval has ended: nothing more is committed. */
        RatingSegment on[] = { active("2026-01-01T00:00:00Z") };
        assert_int_equal(rating_budget_spend(RATING_UNIT_HOUR, 10, on, 1, "2026-02-01", "2026-01-31",
                                             &charged, &committed),
                         0);
        assert_int_equal(committed, 0);
        /* ... without valid_until neither. */
        assert_int_equal(
                rating_budget_spend(RATING_UNIT_HOUR, 10, on, 1, "2026-02-01", NULL, &charged, &committed),
                0);
        assert_int_equal(committed, 0);

        /* What happens today is not charged yet: it is committed. */
        RatingSegment today[] = { active("2026-02-04T17:00:00Z") }; /* 5 Feb 01:00 CST */
        assert_int_equal(rating_budget_spend(RATING_UNIT_HOUR, 10, today, 1, "2026-02-05", "2026-02-05",
                                             &charged, &committed),
                         0);
        assert_int_equal(charged, 0);
        assert_int_equal(committed, 10 * 24);

        /* A month price over a whole leap February is the price. */
        RatingSegment feb[] = { stopped("2024-01-31T16:00:00Z"), deleted("2024-02-29T16:00:00Z") };
        assert_int_equal(rating_budget_spend(RATING_UNIT_MONTH, 3500, feb, 2, "2024-03-10", "2024-12-31",
                                             &charged, &committed),
                         0);
        assert_int_equal(charged, 3500);
        assert_int_equal(committed, 0);

        /* Refusals. */
        assert_int_equal(
                rating_budget_spend(RATING_UNIT_HOUR, 10, on, 1, "2026-2-1", NULL, &charged, &committed),
                -EINVAL);
        assert_int_equal(
                rating_budget_spend(RATING_UNIT_HOUR, -1, on, 1, "2026-02-01", NULL, &charged, &committed),
                -EINVAL);
}

/* Property: on the first day of a month, what is charged is the sum of the
 * lines of every month before it, each rated as its statement rates it. */
static void test_budget_spend_random(void **state) {
        RatingPeriod m[4] = { P("2025-12"), P("2026-01"), P("2026-02"), P("2026-03") };
        unsigned seed = 1311;
        (void)state;

        for (int round = 0; round < 300; round++) {
                RatingSegment h[30];
                size_t n = 1 + (size_t)(rand_r(&seed) % 30);
                int64_t t = m[0].start + (int64_t)(rand_r(&seed) % 500) * 997;
                int64_t price = 1 + rand_r(&seed) % 5000, charged, committed, want = 0;
                int unit = rand_r(&seed) % 2;
                for (size_t i = 0; i < n; i++) {
                        unsigned st = (unsigned)rand_r(&seed) % 3;
                        h[i] = (RatingSegment){ .start = t, .active = st == 0, .deleted = st == 2 };
                        t += (int64_t)(rand_r(&seed) % 4000) * 613;
                }
                for (int k = 0; k < 3; k++) {
                        int64_t a;
                        assert_int_equal(
                                rating_amount_fen(unit, price,
                                                  rating_charged_seconds(unit, h, n, &m[k], m[3].start),
                                                  &m[k], &a),
                                0);
                        want += a;
                }
                assert_int_equal(rating_budget_spend(unit, price, h, n, "2026-03-01", "2026-03-31", &charged,
                                                     &committed),
                                 0);
                assert_int_equal(charged, want);
                assert_int_equal(committed, h[n - 1].deleted           ? 0
                                            : unit == RATING_UNIT_HOUR ? price * 24 * 31
                                                                       : price * 2);
        }
}

/* The budget's two parts as the store keeps them: where today starts, and
 * what n resources of one price commit, which is n times what one does. */
static void test_budget_day_start_and_committed(void **state) {
        RatingSegment seg = { .active = true };
        int64_t t, c, one, charged;
        (void)state;

        /* 15 June CST starts at 14 June 16:00 UTC. */
        assert_int_equal(rating_day_start("2026-06-15", &t), 0);
        assert_int_equal(t, 1781452800);
        assert_int_equal(rating_day_start("2026-02-30", &t), -EINVAL);
        assert_int_equal(rating_day_start("2026-6-15", &t), -EINVAL);
        assert_int_equal(rating_day_start(NULL, &t), -EINVAL);

        seg.start = 1781452800 - 86400;
        assert_int_equal(rating_budget_spend(RATING_UNIT_HOUR, 35, &seg, 1, "2026-06-15", "2026-12-31",
                                             &charged, &one),
                         0);
        assert_int_equal(charged, 35 * 24);
        for (int64_t n = 0; n < 40; n += 7) {
                assert_int_equal(
                        rating_budget_committed(RATING_UNIT_HOUR, 35, n, "2026-06-15", "2026-12-31", &c), 0);
                assert_int_equal(c, n * one);
        }
        /* A month price: the same per resource, whatever the count. */
        seg.start = 1781452800 - 86400 * 40;
        assert_int_equal(rating_budget_spend(RATING_UNIT_MONTH, 3500, &seg, 1, "2026-06-15", "2026-08-31",
                                             &charged, &one),
                         0);
        assert_int_equal(
                rating_budget_committed(RATING_UNIT_MONTH, 3500, 1001, "2026-06-15", "2026-08-31", &c), 0);
        assert_int_equal(c, 1001 * one);
        assert_true(one > 0);
        /* Ended approval or none: nothing committed. */
        assert_int_equal(rating_budget_committed(RATING_UNIT_HOUR, 35, 5, "2026-06-15", "2026-06-14", &c), 0);
        assert_int_equal(c, 0);
        assert_int_equal(rating_budget_committed(RATING_UNIT_HOUR, 35, 5, "2026-06-15", NULL, &c), 0);
        assert_int_equal(c, 0);
        /* Bad input is refused, never a wrong figure. */
        c = 42;
        assert_int_equal(rating_budget_committed(RATING_UNIT_HOUR, -1, 5, "2026-06-15", "2026-12-31", &c),
                         -EINVAL);
        assert_int_equal(rating_budget_committed(RATING_UNIT_HOUR, 35, -1, "2026-06-15", "2026-12-31", &c),
                         -EINVAL);
        assert_int_equal(rating_budget_committed(_RATING_UNIT_MAX, 35, 1, "2026-06-15", "2026-12-31", &c),
                         -EINVAL);
        assert_int_equal(rating_budget_committed(RATING_UNIT_HOUR, 35, 1, "yesterday", "2026-12-31", &c),
                         -EINVAL);
        assert_int_equal(c, 42);
        /* count x one, as kept per price and day: the same figure, the same refusals. */
        assert_int_equal(rating_budget_times(one, 1001, &c), 0);
        assert_int_equal(c, 1001 * one);
        assert_int_equal(rating_budget_times(0, 5, &c), 0);
        assert_int_equal(c, 0);
        c = 42;
        assert_int_equal(rating_budget_times(one, -1, &c), -EINVAL);
        assert_int_equal(rating_budget_times(one, 100000001, &c), -EINVAL);
        assert_int_equal(rating_budget_times(INT64_MAX / 2, 3, &c), -EINVAL);
        assert_int_equal(c, 42);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_periods_are_cst_months),
                cmocka_unit_test(test_times),
                cmocka_unit_test(test_month_boundary),
                cmocka_unit_test(test_leap_february),
                cmocka_unit_test(test_zero_length),
                cmocka_unit_test(test_under_a_second),
                cmocka_unit_test(test_price_of_revision),
                cmocka_unit_test(test_withhold),
                cmocka_unit_test(test_random_histories),
                cmocka_unit_test(test_period_of),
                cmocka_unit_test(test_budget_spend_counts_once),
                cmocka_unit_test(test_budget_spend_edges),
                cmocka_unit_test(test_budget_spend_random),
                cmocka_unit_test(test_budget_day_start_and_committed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
