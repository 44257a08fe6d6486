/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The progress of a legacy system's move (regulation Art. 35) as the
 * migration team reads it: one count of bytes over every disk of every VM
 * of the plan, in the order they move, that never goes back. Pure
 * arithmetic: the move reports where its copy is, this says how far the
 * whole is.
 *
 * Each disk weighs its allocation as assessed (the data a sparse copy
 * moves; holes cost nothing). A disk under copy counts the data bytes
 * that crossed so far, at most its weight; a disk whose copy ended counts
 * its whole weight (also when the copy moved a little more or less than
 * the assessment said, e.g. a running VM wrote since): so bytes_done
 * grows monotonically from 0 to exactly the total, once per VM and once
 * for the plan. A report for a disk before the current one (the order is
 * fixed) changes nothing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEGACY_PROGRESS_VMS_MAX   64
#define LEGACY_PROGRESS_DISKS_MAX 1024 /* over every VM */

typedef struct LegacyProgress {
        size_t n_vms, n_disks;
        size_t vm_first[LEGACY_PROGRESS_VMS_MAX + 1]; /* VM i's disks: [vm_first[i], vm_first[i + 1]) */
        uint64_t weight[LEGACY_PROGRESS_DISKS_MAX];
        bool started;      /* a report came: cur is meaningful */
        size_t cur;        /* the disk in flight (flat index) */
        uint64_t cur_done; /* its bytes so far, at most its weight */
} LegacyProgress;

/* Appends a VM of n_disks disks with their weights (bytes). -E2BIG beyond the limits. */
int legacy_progress_add_vm(LegacyProgress *p, const uint64_t *weights, size_t n_disks);

/* VM vm's disk (0 its first) has moved data_bytes so far; finished: its copy is complete. */
void legacy_progress_disk(LegacyProgress *p, size_t vm, size_t disk, uint64_t data_bytes, bool finished);
/* Every disk of VM vm is copied (it is defined, started or done). */
void legacy_progress_vm_copied(LegacyProgress *p, size_t vm);

uint64_t legacy_progress_vm_done(const LegacyProgress *p, size_t vm);
uint64_t legacy_progress_vm_total(const LegacyProgress *p, size_t vm);
uint64_t legacy_progress_done(const LegacyProgress *p);
uint64_t legacy_progress_total(const LegacyProgress *p);

/* bytes over elapsed_ms, in bytes per second; 0 before any time passed. */
uint64_t legacy_rate_bps(uint64_t bytes, uint64_t elapsed_ms);
/* Seconds left at rate_bps for total - done; -1 when unknown (no rate yet). */
int64_t legacy_eta_seconds(uint64_t done, uint64_t total, uint64_t rate_bps);
