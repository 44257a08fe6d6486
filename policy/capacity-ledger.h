/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What a provider's last capacity reading does not show yet: the shares of
 * provisions that ended with their VM running, each with the moment its VM
 * was running by. A reading lists the host's running domains; one that
 * began after that moment shows the VM, so applying the reading takes
 * exactly those shares out, and a share whose VM was running before the
 * last applied reading began is not added at all. What stays is what no
 * applied reading can have seen, so a VM is never counted both in the
 * reading and here, and never in neither (placement near a full host,
 * bench/provision.sh's 4,000 VMs on 4,096 CPUs).
 *
 * Moments are a monotonic clock's nanoseconds, taken on any thread (a
 * worker's end of a provision, a worker's start of a reading) and handed to
 * the loop, which alone changes the ledger.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct CapacityShare {
        unsigned vcpus;
        uint64_t memory_mib;
        uint64_t ran_by_ns;
} CapacityShare;

typedef struct CapacityLedger {
        CapacityShare *v;
        size_t n, size;
        /* Shares that found no room in v: one, held until a reading began
         * after the latest of them (later than needed, never earlier). */
        CapacityShare spill;
        /* The sums of v and spill: what free capacity is short of the reading. */
        unsigned vcpus;
        uint64_t memory_mib;
        uint64_t read_from_ns; /* where the last applied reading began; 0: none */
} CapacityLedger;

/* A provision's VM was running by ran_by_ns: unless the last applied
 * reading began after that, its share is not in the reading yet. */
void capacity_ledger_ran(CapacityLedger *l, unsigned vcpus, uint64_t memory_mib, uint64_t ran_by_ns);
/* A reading that began at read_from_ns was applied: every share whose VM
 * was running before is in it. A reading older than the last applied one
 * changes nothing. */
void capacity_ledger_read(CapacityLedger *l, uint64_t read_from_ns);
void capacity_ledger_done(CapacityLedger *l);
