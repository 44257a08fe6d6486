/* SPDX-License-Identifier: Apache-2.0 */
#include "legacy-progress.h"

#include <errno.h>

int legacy_progress_add_vm(LegacyProgress *p, const uint64_t *weights, size_t n_disks) {
        if (!p || (!weights && n_disks))
                return -EINVAL;
        if (p->n_vms >= LEGACY_PROGRESS_VMS_MAX || n_disks > LEGACY_PROGRESS_DISKS_MAX - p->n_disks)
                return -E2BIG;
        p->vm_first[p->n_vms] = p->n_disks;
        for (size_t i = 0; i < n_disks; i++)
                p->weight[p->n_disks++] = weights[i];
        p->vm_first[++p->n_vms] = p->n_disks;
        return 0;
}

static void at(LegacyProgress *p, size_t flat, uint64_t bytes) {
        if (flat >= p->n_disks)
                return;
        if (bytes > p->weight[flat])
                bytes = p->weight[flat];
        if (!p->started || flat > p->cur) {
                p->started = true;
                p->cur = flat;
                p->cur_done = bytes;
        } else if (flat == p->cur && bytes > p->cur_done)
                p->cur_done = bytes;
        /* flat < cur: that disk is counted whole already. */
}

void legacy_progress_disk(LegacyProgress *p, size_t vm, size_t disk, uint64_t data_bytes, bool finished) {
        if (!p || vm >= p->n_vms || disk >= p->vm_first[vm + 1] - p->vm_first[vm])
                return;
        size_t flat = p->vm_first[vm] + disk;
        at(p, flat, finished ? UINT64_MAX : data_bytes);
}

void legacy_progress_vm_copied(LegacyProgress *p, size_t vm) {
        if (!p || vm >= p->n_vms || p->vm_first[vm + 1] == p->vm_first[vm])
                return;
        at(p, p->vm_first[vm + 1] - 1, UINT64_MAX);
}

/* Done over the flat disks [from, to). */
static uint64_t done_in(const LegacyProgress *p, size_t from, size_t to) {
        uint64_t sum = 0;
        if (!p->started)
                return 0;
        for (size_t i = from; i < to && i < p->cur; i++)
                sum += p->weight[i];
        if (p->cur >= from && p->cur < to)
                sum += p->cur_done;
        return sum;
}

static uint64_t total_in(const LegacyProgress *p, size_t from, size_t to) {
        uint64_t sum = 0;
        for (size_t i = from; i < to; i++)
                sum += p->weight[i];
        return sum;
}

uint64_t legacy_progress_vm_done(const LegacyProgress *p, size_t vm) {
        return p && vm < p->n_vms ? done_in(p, p->vm_first[vm], p->vm_first[vm + 1]) : 0;
}

uint64_t legacy_progress_vm_total(const LegacyProgress *p, size_t vm) {
        return p && vm < p->n_vms ? total_in(p, p->vm_first[vm], p->vm_first[vm + 1]) : 0;
}

uint64_t legacy_progress_done(const LegacyProgress *p) {
        return p ? done_in(p, 0, p->n_disks) : 0;
}

uint64_t legacy_progress_total(const LegacyProgress *p) {
        return p ? total_in(p, 0, p->n_disks) : 0;
}

uint64_t legacy_rate_bps(uint64_t bytes, uint64_t elapsed_ms) {
        if (elapsed_ms == 0)
                return 0;
        /* bytes * 1000 overflows past 18 PB: divide first then. */
        if (bytes > UINT64_MAX / 1000)
                return bytes / elapsed_ms * 1000;
        return bytes * 1000 / elapsed_ms;
}

int64_t legacy_eta_seconds(uint64_t done, uint64_t total, uint64_t rate_bps) {
        if (done >= total)
                return 0;
        if (rate_bps == 0)
                return -1;
        uint64_t left = total - done;
        return (int64_t)(left / rate_bps + (left % rate_bps != 0));
}
