/* SPDX-License-Identifier: Apache-2.0 */
#include "capacity-ledger.h"

#include <stdlib.h>

static void add(CapacityLedger *l, unsigned vcpus, uint64_t memory_mib) {
        l->vcpus += vcpus;
        l->memory_mib += memory_mib;
}

static void sub(CapacityLedger *l, const CapacityShare *s) {
        l->vcpus -= s->vcpus < l->vcpus ? s->vcpus : l->vcpus;
        l->memory_mib -= s->memory_mib < l->memory_mib ? s->memory_mib : l->memory_mib;
}

void capacity_ledger_ran(CapacityLedger *l, unsigned vcpus, uint64_t memory_mib, uint64_t ran_by_ns) {
        if (l->read_from_ns && ran_by_ns < l->read_from_ns)
                return; /* the applied reading shows it */
        if (l->n == l->size) {
                size_t size = l->size ? l->size * 2 : 64;
                CapacityShare *v = size > l->size ? realloc(l->v, size * sizeof(*v)) : NULL;
                if (!v) {
                        /* Out of memory: still counted, dropped later rather than earlier. */
                        l->spill.vcpus += vcpus;
                        l->spill.memory_mib += memory_mib;
                        if (ran_by_ns > l->spill.ran_by_ns)
                                l->spill.ran_by_ns = ran_by_ns;
                        add(l, vcpus, memory_mib);
                        return;
                }
                l->v = v;
                l->size = size;
        }
        l->v[l->n++] = (CapacityShare){ vcpus, memory_mib, ran_by_ns };
        add(l, vcpus, memory_mib);
}

void capacity_ledger_read(CapacityLedger *l, uint64_t read_from_ns) {
        size_t kept = 0;

        if (read_from_ns <= l->read_from_ns)
                return;
        l->read_from_ns = read_from_ns;
        for (size_t i = 0; i < l->n; i++) {
                if (l->v[i].ran_by_ns < read_from_ns)
                        sub(l, &l->v[i]);
                else
                        l->v[kept++] = l->v[i];
        }
        l->n = kept;
        if ((l->spill.vcpus || l->spill.memory_mib) && l->spill.ran_by_ns < read_from_ns) {
                sub(l, &l->spill);
                l->spill = (CapacityShare){ 0 };
        }
}

void capacity_ledger_done(CapacityLedger *l) {
        free(l->v);
        *l = (CapacityLedger){ 0 };
}
