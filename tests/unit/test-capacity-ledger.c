/* SPDX-License-Identifier: Apache-2.0 */
/* What a provider's capacity reading does not show yet (policy/capacity-ledger.h):
 * a VM is counted once, in the reading or in the ledger, whatever the order in
 * which provisions end, readings begin and readings are applied. The case
 * that refused order 3,995 of 4,000 on a 4,096-CPU host: provisions ending
 * while a reading waited for a worker were counted in the reading and again
 * here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "capacity-ledger.h"

static void test_reading_takes_what_it_shows(void **state) {
        CapacityLedger l = { 0 };
        (void)state;

        /* Two VMs ran, then a reading began at 100, then one more ran. */
        capacity_ledger_ran(&l, 1, 2048, 40);
        capacity_ledger_ran(&l, 2, 4096, 90);
        capacity_ledger_ran(&l, 4, 8192, 150);
        assert_int_equal(l.vcpus, 7);
        assert_int_equal(l.memory_mib, 14336);
        capacity_ledger_read(&l, 100);
        /* The reading shows the first two: only the third is still unread. */
        assert_int_equal(l.vcpus, 4);
        assert_int_equal(l.memory_mib, 8192);
        /* A provision whose VM ran at 80 but whose end reached the loop only
         * now: the applied reading already shows it. */
        capacity_ledger_ran(&l, 8, 1, 80);
        assert_int_equal(l.vcpus, 4);
        /* One that ran after the reading began is not in it. */
        capacity_ledger_ran(&l, 16, 1, 120);
        assert_int_equal(l.vcpus, 20);
        /* An older reading applied late changes nothing. */
        capacity_ledger_read(&l, 90);
        assert_int_equal(l.vcpus, 20);
        capacity_ledger_read(&l, 200);
        assert_int_equal(l.vcpus, 0);
        assert_int_equal(l.memory_mib, 0);
        assert_int_equal(l.n, 0);
        capacity_ledger_done(&l);
        capacity_ledger_done(&l); /* twice is fine */
}

/* Property: random interleavings of VMs starting (their run moment),
 * their ends reaching the loop (in any order, late), readings beginning and
 * being applied later. After every step the ledger holds exactly the
 * released VMs that the last applied reading cannot show (ran at or after
 * its start): never one counted twice, never one left out. */
static void test_counted_once_in_any_order(void **state) {
        enum { VMS = 3000 };
        static uint64_t ran[VMS];
        static unsigned vcpus[VMS];
        static int released[VMS];
        CapacityLedger l = { 0 };
        unsigned seed = 4096;
        uint64_t clock = 1, reading_began = 0, applied = 0;
        size_t started = 0, checks = 0;
        (void)state;

        for (int step = 0; step < 20000; step++) {
                int what = rand_r(&seed) % 10;
                clock += 1 + (uint64_t)(rand_r(&seed) % 5);
                if (what < 4 && started < VMS) {
                        ran[started] = clock; /* its VM runs; the end is on its way to the loop */
                        vcpus[started] = 1 + (unsigned)(rand_r(&seed) % 4);
                        started++;
                } else if (what < 7 && started > 0) {
                        size_t i = (size_t)rand_r(&seed) % started;
                        if (!released[i]) {
                                released[i] = 1;
                                capacity_ledger_ran(&l, vcpus[i], vcpus[i] * 1024ULL, ran[i]);
                        }
                } else if (what == 7 && !reading_began)
                        reading_began = clock;
                else if (what == 8 && reading_began) {
                        capacity_ledger_read(&l, reading_began);
                        applied = reading_began;
                        reading_began = 0;
                }
                uint64_t want = 0;
                for (size_t i = 0; i < started; i++)
                        if (released[i] && !(applied && ran[i] < applied))
                                want += vcpus[i];
                assert_int_equal(l.vcpus, want);
                assert_int_equal(l.memory_mib, want * 1024);
                checks++;
        }
        assert_true(started > 1000 && checks == 20000);
        capacity_ledger_done(&l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reading_takes_what_it_shows),
                cmocka_unit_test(test_counted_once_in_any_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
