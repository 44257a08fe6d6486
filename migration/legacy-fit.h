/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * A migration plan's arithmetic and its pre-flight (regulation Art. 35;
 * Forklift's "concerns"), pure: facts in, a suggestion and concerns out.
 *
 * Fit: the smallest catalogue plan that holds the VM's vCPUs, memory and
 * the sum of its disks' capacities, "smallest" in that order (vCPUs, then
 * memory, then disk, then price; the plan id breaks a tie).
 *
 * Pre-flight: every check the facts allow, each a concern with a level
 * (critical, warning, info), a code and a reason naming the values. A
 * critical concern blocks the run. The checks, in the order reported:
 * CLASSIFIED_SYSTEM (critical, Art. 3), SOURCE_UNREACHABLE (critical),
 * ALREADY_PLANNED (critical: the VM is in another system's plan),
 * NO_FITTING_PLAN (critical), DISK_LARGER_THAN_PLAN (critical),
 * PLAN_SMALLER_THAN_VM (warning: an overriding plan with fewer vCPUs or
 * less memory than the source), NO_DISK (critical: a VM with no disk;
 * of several, the first is held against the plan's disk and each other
 * one becomes a block volume), UNSUPPORTED_DEVICE (critical for host
 * pass-through, warning otherwise), DISK_CONVERSION (info for qcow2,
 * warning for another hypervisor's format: the move converts either to
 * raw), DISK_FORMAT_UNKNOWN (critical: a format the move cannot convert),
 * DISK_SIZE_UNKNOWN (warning), FIRMWARE_EFI
 * (info), SOURCE_RUNNING (info: a cold migration shuts it down), then every violation of the policy engine
 * for the target order with its own code and article (NO_APPROVAL, QUANTITY_EXCEEDED, BUDGET_EXCEEDED, ...;
 * POLICY_NOT_EVALUATED when the project is unknown), then for each disk after the first (a block volume of
 * its own at the target) NO_FITTING_PLAN (critical: no block-volume plan holds it), DISK_LARGER_THAN_PLAN
 * (critical: an overriding volume plan smaller than the disk) and every violation of the policy engine for
 * its volume order, each naming the disk (LegacyConcern.disk), then TARGET_UNAVAILABLE (critical), NO_ROOM
 * (critical: the target provider lacks vCPUs or memory for the plan), TARGET_POOL_MISSING (critical: the
 * provider has no such storage pool).
 *
 * The target orders of a plan are judged together (LegacyBatch): the n-th VM or volume of a catalogue
 * plan is an order of quantity n, and the budget counts what the plan's orders of other catalogue plans
 * commit, so an approval must cover the whole system, not each resource alone.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "legacy-vm.h"
#include "policy.h"

typedef enum LegacyConcernLevel {
        LEGACY_CONCERN_CRITICAL,
        LEGACY_CONCERN_WARNING,
        LEGACY_CONCERN_INFO,
        _LEGACY_CONCERN_LEVEL_MAX,
} LegacyConcernLevel;

const char *legacy_concern_level_to_string(LegacyConcernLevel l);

#define LEGACY_CONCERN_MESSAGE_MAX 256
/* The VM's own, one per device, and per disk its format, its size and its volume order's. */
#define LEGACY_CONCERNS_MAX (24 + LEGACY_VM_DEVICES_MAX + 8 * LEGACY_VM_DISKS_MAX)

typedef struct LegacyConcern {
        LegacyConcernLevel level;
        const char *code; /* static */
        unsigned article; /* 0 when the concern rests on no article */
        char disk[32];    /* the disk it is about (its target dev, "vdb"); "" the VM as a whole */
        char message[LEGACY_CONCERN_MESSAGE_MAX];
} LegacyConcern;

/* A VM plan of the published catalogue; strings borrowed. */
typedef struct LegacyPlanOption {
        const char *service_id;
        const char *plan_id;
        unsigned vcpus;
        uint64_t memory_mib;
        uint64_t disk_gib;
        int64_t price_fen;
} LegacyPlanOption;

/* A block-volume plan of the published catalogue (spec kind "volume"); strings borrowed. */
typedef struct LegacyVolumeOption {
        const char *service_id;
        const char *plan_id;
        uint64_t size_gib;
        int64_t price_fen;
} LegacyVolumeOption;

/* Whether the move can make a raw target disk of a disk in format f: raw
 * (or NULL / "": libvirt reads such a disk as raw) as it is; qcow2 and the
 * other formats qemu-img reads (qcow, vmdk, vdi, vhdx, vpc, qed) converted. */
bool legacy_disk_format_movable(const char *f);

/* The index of the smallest plan that holds vm; -ENOENT when none does. */
int legacy_fit(const LegacyVm *vm, const LegacyPlanOption *plans, size_t n_plans, size_t *ret_index);

/* The index of the smallest volume plan that holds capacity bytes (size,
 * then price, then plan id); -ENOENT when none does. The plan's pre-flight
 * suggests it for a VM's disk after the first, and the move uses it for a
 * plan stored without one. */
int legacy_volume_fit(uint64_t capacity_bytes, const LegacyVolumeOption *plans, size_t n_plans,
                      size_t *ret_index);

/* The policy engine's decision on one target order: every violation is
 * critical, so quantities, budget and the approval count as for any order. */
typedef struct LegacyPolicyVerdict {
        bool evaluated;
        const char *error; /* why not evaluated (unknown project) */
        size_t n;
        const PolicyViolation *violations;
} LegacyPolicyVerdict;

/* A disk of the VM after its first: a block volume of its own at the target. */
typedef struct LegacyDiskFacts {
        const char *dev; /* the source's name for it ("vdb"), as the concerns name it */
        uint64_t capacity_bytes;
        const LegacyVolumeOption
                *plan; /* the volume plan chosen (suggested or overriding); NULL: none fits */
        bool plan_overridden;
        LegacyPolicyVerdict policy; /* its volume order (not evaluated without a plan) */
} LegacyDiskFacts;

typedef struct LegacyPreflightFacts {
        const LegacyVm *vm;
        bool classified;
        bool source_reachable;
        const char *source_error;      /* why not, when !source_reachable */
        const char *other_plan_system; /* the system whose plan already holds the VM, NULL: none */
        const LegacyPlanOption *plan;  /* the plan chosen (suggested or overriding); NULL: none fits */
        bool plan_overridden;
        /* The policy engine's decision on the VM's target order (judged
         * with the plan's other orders, LegacyBatch). */
        LegacyPolicyVerdict policy;
        /* The VM's disks after the first, in the source's order. */
        const LegacyDiskFacts *disks;
        size_t n_disks;
        struct {
                bool connected;
                bool capacity_known;
                unsigned free_vcpus;
                uint64_t free_memory_mib;
                const char *name;
                const char *pool;  /* the target pool the plan names */
                bool pools_known;  /* the provider's pool list is complete */
                bool pool_present; /* pool is among them */
        } target;
} LegacyPreflightFacts;

/* Writes the concerns into ret (LEGACY_CONCERNS_MAX of room), their count
 * in *ret_n; returns whether any is critical. */
bool legacy_preflight(const LegacyPreflightFacts *f, LegacyConcern *ret, size_t *ret_n);

/* [{"level", "code", "message"[, "article"][, "disk"]}, ...] */
json_t *legacy_concerns_to_json(const LegacyConcern *c, size_t n);

/* ---- a plan's target orders, judged together ---- */

#define LEGACY_BATCH_PLANS_MAX 256

typedef struct LegacyBatchItem {
        const char *service_id, *plan_id; /* borrowed */
        uint32_t quantity;                /* orders of this catalogue plan so far */
        int64_t committed_fen;            /* what they commit together, as last priced */
} LegacyBatchItem;

typedef struct LegacyBatch {
        size_t n;
        LegacyBatchItem items[LEGACY_BATCH_PLANS_MAX];
} LegacyBatch;

/* One more target order of (service_id, plan_id): *ret_quantity is the
 * quantity to judge it at (this one and the batch's earlier ones of the
 * same plan), *ret_others_fen what the batch's orders of other plans
 * commit (to count as used in the budget). -E2BIG when the batch holds
 * LEGACY_BATCH_PLANS_MAX plans already, -EINVAL without ids. */
int legacy_batch_next(LegacyBatch *b, const char *service_id, const char *plan_id, uint32_t *ret_quantity,
                      int64_t *ret_others_fen);
/* What the policy engine projected for the plan's quantity so far (after
 * legacy_batch_next); returns what this last order adds to it, the one
 * resource's own commitment. */
int64_t legacy_batch_priced(LegacyBatch *b, const char *service_id, const char *plan_id,
                            int64_t committed_fen);
