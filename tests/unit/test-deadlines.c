/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deadline and price arithmetic of policy/deadlines.h, on a calendar
 * without year files (Monday to Friday, every answer provisional). The
 * expected due days were counted on a wall calendar, not by the code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "deadlines.h"

static Calendar *cal;

static int setup(void **state) {
        (void)state;
        return calendar_new(&cal);
}

static int teardown(void **state) {
        (void)state;
        calendar_free(cal);
        return 0;
}

static void test_contract_filing(void **state) {
        /* Signed Friday 2026-03-06: five working days end Friday 2026-03-13. */
        const DeadlineMilestone ms[] = {
                { DEADLINE_EVENT_CONTRACT_SIGNED, "2026-03-06", 0 },
        };
        Deadlines d = { 0 };
        (void)state;

        assert_int_equal(deadlines_compute(cal, ms, 1, NULL, NULL, "2026-03-13", &d), 0);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.v[0].kind, DEADLINE_CONTRACT_FILING);
        assert_int_equal(d.v[0].article, 18);
        assert_int_equal(d.v[0].event_milestone, 0);
        assert_string_equal(d.v[0].due, "2026-03-13");
        assert_true(d.v[0].provisional);
        /* The due day itself is still on time. */
        assert_int_equal(d.v[0].status, DEADLINE_PENDING);
        assert_null(deadlines_first_overdue(&d, DEADLINE_CONTRACT_FILING));
        deadlines_done(&d);

        assert_int_equal(deadlines_compute(cal, ms, 1, NULL, NULL, "2026-03-14", &d), 0);
        assert_int_equal(d.v[0].status, DEADLINE_OVERDUE);
        assert_string_equal(deadlines_first_overdue(&d, DEADLINE_CONTRACT_FILING), "2026-03-13");
        assert_null(deadlines_first_overdue(&d, DEADLINE_ACCEPTANCE_FILING));
        assert_string_equal(deadline_status_to_string(d.v[0].status), "overdue");
        assert_string_equal(deadline_kind_to_string(d.v[0].kind), "contract_filing");
        deadlines_done(&d);
}

static void test_filings_pair_in_order(void **state) {
        /* Two signings, one filing: the first signing takes it; a filing
         * dated before a signing answers no signing. */
        const DeadlineMilestone ms[] = {
                { DEADLINE_EVENT_CONTRACT_FILED, "2026-03-01", 0 },
                { DEADLINE_EVENT_CONTRACT_SIGNED, "2026-03-02", 0 },
                { DEADLINE_EVENT_CONTRACT_FILED, "2026-03-20", 0 },
                { DEADLINE_EVENT_CONTRACT_SIGNED, "2026-03-06", 0 },
        };
        Deadlines d = { 0 };
        (void)state;

        assert_int_equal(deadlines_compute(cal, ms, 4, NULL, NULL, "2026-04-01", &d), 0);
        assert_int_equal(d.n, 2);
        /* 2026-03-02 (Monday) + 5 working days = 2026-03-09; filed 03-20: late. */
        assert_int_equal(d.v[0].event_milestone, 1);
        assert_string_equal(d.v[0].due, "2026-03-09");
        assert_int_equal(d.v[0].filed_milestone, 2);
        assert_int_equal(d.v[0].status, DEADLINE_LATE);
        /* The second signing finds no filing left. */
        assert_int_equal(d.v[1].event_milestone, 3);
        assert_int_equal(d.v[1].filed_milestone, DEADLINE_NO_MILESTONE);
        assert_int_equal(d.v[1].status, DEADLINE_OVERDUE);
        deadlines_done(&d);
}

static void test_acceptance_met(void **state) {
        /* Completed Monday 2026-03-02: 30 working days end 2026-04-13. */
        const DeadlineMilestone ms[] = {
                { DEADLINE_EVENT_COMPLETED, "2026-03-02", 0 },
                { DEADLINE_EVENT_ACCEPTANCE_FILED, "2026-04-13", 0 },
        };
        Deadlines d = { 0 };
        (void)state;

        assert_int_equal(deadlines_compute(cal, ms, 2, NULL, NULL, "2026-12-01", &d), 0);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.v[0].kind, DEADLINE_ACCEPTANCE_FILING);
        assert_int_equal(d.v[0].article, 25);
        assert_string_equal(d.v[0].due, "2026-04-13");
        assert_int_equal(d.v[0].status, DEADLINE_MET);
        deadlines_done(&d);
}

static void test_self_evaluation_per_budget_year(void **state) {
        /* An approval over 2024-2026 seen in mid-2026: 2024 and 2025 have
         * ended, 2026 has not. 2025's is filed; 2024's is not. */
        const DeadlineMilestone ms[] = {
                { DEADLINE_EVENT_SELF_EVALUATION_FILED, "2026-03-01", 2025 },
        };
        Deadlines d = { 0 };
        (void)state;

        assert_int_equal(deadlines_compute(cal, ms, 1, "2024-01-01", "2026-12-31", "2026-06-01", &d), 0);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.v[0].kind, DEADLINE_SELF_EVALUATION);
        assert_int_equal(d.v[0].budget_year, 2024);
        assert_int_equal(d.v[0].event_milestone, DEADLINE_NO_MILESTONE);
        assert_string_equal(d.v[0].event_date, "2024-12-31");
        /* Tuesday 2024-12-31 + 60 working days = 2025-03-25. */
        assert_string_equal(d.v[0].due, "2025-03-25");
        assert_int_equal(d.v[0].status, DEADLINE_OVERDUE);
        assert_int_equal(d.v[1].budget_year, 2025);
        assert_string_equal(d.v[1].due, "2026-03-25");
        assert_int_equal(d.v[1].filed_milestone, 0);
        assert_int_equal(d.v[1].status, DEADLINE_MET);
        assert_string_equal(deadlines_first_overdue(&d, DEADLINE_SELF_EVALUATION), "2025-03-25");
        deadlines_done(&d);

        /* No approval in force: no budget year to evaluate. */
        assert_int_equal(deadlines_compute(cal, ms, 1, NULL, NULL, "2026-06-01", &d), 0);
        assert_int_equal(d.n, 0);
        deadlines_done(&d);
        /* Nothing at all is no deadline, and no error. */
        assert_int_equal(deadlines_compute(cal, NULL, 0, NULL, NULL, "2026-06-01", &d), 0);
        assert_int_equal(d.n, 0);
        deadlines_done(&d);
        deadlines_done(NULL);
}

static void test_projected_cost(void **state) {
        (void)state;
        /* The last day of the approval is one day: 24 hours. */
        assert_int_equal(deadlines_projected_cost_fen(100, PRICE_PER_HOUR, 2, "2026-12-31", "2026-12-31"),
                         4800);
        /* 2026-12-01..2026-12-31 is 31 days: two started months. */
        assert_int_equal(deadlines_projected_cost_fen(5000, PRICE_PER_MONTH, 3, "2026-12-01", "2026-12-31"),
                         30000);
        /* 30 days exactly: one month. */
        assert_int_equal(deadlines_projected_cost_fen(5000, PRICE_PER_MONTH, 1, "2026-12-02", "2026-12-31"),
                         5000);
        /* Across February of a leap year: 2028-02-01..2028-03-01 is 30 days. */
        assert_int_equal(deadlines_projected_cost_fen(5000, PRICE_PER_MONTH, 1, "2028-02-01", "2028-03-01"),
                         5000);
        /* An ended approval, none, or a bad date costs nothing more. */
        assert_int_equal(deadlines_projected_cost_fen(100, PRICE_PER_HOUR, 1, "2027-01-01", "2026-12-31"), 0);
        assert_int_equal(deadlines_projected_cost_fen(100, PRICE_PER_HOUR, 1, "2026-01-01", NULL), 0);
        assert_int_equal(deadlines_projected_cost_fen(100, PRICE_PER_HOUR, 1, "2026-02-30", "2026-12-31"), 0);
}

static void test_days_between(void **state) {
        int64_t n = 0;
        (void)state;
        assert_int_equal(calendar_days_between("2024-02-28", "2024-03-01", &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(calendar_days_between("2025-02-28", "2025-03-01", &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(calendar_days_between("2026-01-01", "2025-01-01", &n), 0);
        assert_int_equal(n, -365);
        assert_int_equal(calendar_days_between("2026-13-01", "2025-01-01", &n), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_contract_filing),
                cmocka_unit_test(test_filings_pair_in_order),
                cmocka_unit_test(test_acceptance_met),
                cmocka_unit_test(test_self_evaluation_per_budget_year),
                cmocka_unit_test(test_projected_cost),
                cmocka_unit_test(test_days_between),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
