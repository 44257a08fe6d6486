/* SPDX-License-Identifier: Apache-2.0 */
#include "legacy-fit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"

#define GIB ((uint64_t)1024 * 1024 * 1024)

const char *legacy_concern_level_to_string(LegacyConcernLevel l) {
        static const char *const names[_LEGACY_CONCERN_LEVEL_MAX] = {
                [LEGACY_CONCERN_CRITICAL] = "critical",
                [LEGACY_CONCERN_WARNING] = "warning",
                [LEGACY_CONCERN_INFO] = "info",
        };
        return (unsigned)l < _LEGACY_CONCERN_LEVEL_MAX ? names[l] : NULL;
}

static bool holds(const LegacyPlanOption *p, const LegacyVm *vm) {
        return p->vcpus >= vm->vcpus && p->memory_mib >= vm->memory_mib &&
               p->disk_gib * GIB >= legacy_vm_system_disk_bytes(vm);
}

/* <0 when a is the smaller plan. */
static int compare(const LegacyPlanOption *a, const LegacyPlanOption *b) {
        if (a->vcpus != b->vcpus)
                return a->vcpus < b->vcpus ? -1 : 1;
        if (a->memory_mib != b->memory_mib)
                return a->memory_mib < b->memory_mib ? -1 : 1;
        if (a->disk_gib != b->disk_gib)
                return a->disk_gib < b->disk_gib ? -1 : 1;
        if (a->price_fen != b->price_fen)
                return a->price_fen < b->price_fen ? -1 : 1;
        return strcmp(a->plan_id ? a->plan_id : "", b->plan_id ? b->plan_id : "");
}

int legacy_fit(const LegacyVm *vm, const LegacyPlanOption *plans, size_t n_plans, size_t *ret_index) {
        size_t best = SIZE_MAX;
        if (!vm || (!plans && n_plans))
                return -EINVAL;
        for (size_t i = 0; i < n_plans; i++)
                if (holds(&plans[i], vm) && (best == SIZE_MAX || compare(&plans[i], &plans[best]) < 0))
                        best = i;
        if (best == SIZE_MAX)
                return -ENOENT;
        *ret_index = best;
        return 0;
}

typedef struct Out {
        LegacyConcern *v;
        size_t n;
        bool critical;
} Out;

static void addv(Out *o, const char *disk, LegacyConcernLevel level, const char *code, unsigned article,
                 const char *fmt, va_list ap) {
        /* The verdict counts even when there is no room left to say it. */
        if (level == LEGACY_CONCERN_CRITICAL)
                o->critical = true;
        if (o->n >= LEGACY_CONCERNS_MAX)
                return;
        LegacyConcern *c = &o->v[o->n++];
        c->level = level;
        c->code = code;
        c->article = article;
        snprintf(c->disk, sizeof(c->disk), "%s", disk ? disk : "");
        vsnprintf(c->message, sizeof(c->message), fmt, ap);
}

_printf_(5, 6) static void add(Out *o, LegacyConcernLevel level, const char *code, unsigned article,
                               const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        addv(o, NULL, level, code, article, fmt, ap);
        va_end(ap);
}

/* A concern about one disk: it names the disk in the message and in .disk. */
_printf_(6, 7) static void add_disk(Out *o, const char *disk, LegacyConcernLevel level, const char *code,
                                    unsigned article, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        addv(o, disk, level, code, article, fmt, ap);
        va_end(ap);
}

/* <0 when a is the smaller volume plan. */
static int compare_volume(const LegacyVolumeOption *a, const LegacyVolumeOption *b) {
        if (a->size_gib != b->size_gib)
                return a->size_gib < b->size_gib ? -1 : 1;
        if (a->price_fen != b->price_fen)
                return a->price_fen < b->price_fen ? -1 : 1;
        return strcmp(a->plan_id ? a->plan_id : "", b->plan_id ? b->plan_id : "");
}

int legacy_volume_fit(uint64_t capacity_bytes, const LegacyVolumeOption *plans, size_t n_plans,
                      size_t *ret_index) {
        size_t best = SIZE_MAX;
        if (!plans && n_plans)
                return -EINVAL;
        for (size_t i = 0; i < n_plans; i++) {
                /* size_gib beyond 2^34 GiB would overflow: no such plan holds more than any disk. */
                bool fits = plans[i].size_gib > 0 && (plans[i].size_gib >= (UINT64_MAX / GIB) ||
                                                      plans[i].size_gib * GIB >= capacity_bytes);
                if (fits && (best == SIZE_MAX || compare_volume(&plans[i], &plans[best]) < 0))
                        best = i;
        }
        if (best == SIZE_MAX)
                return -ENOENT;
        *ret_index = best;
        return 0;
}

static uint64_t gib_up(uint64_t bytes) {
        return bytes / GIB + (bytes % GIB != 0);
}

static void policy_concerns(Out *o, const char *disk, const char *what, const LegacyPolicyVerdict *v) {
        if (!v->evaluated) {
                add_disk(o, disk, LEGACY_CONCERN_CRITICAL, "POLICY_NOT_EVALUATED", 0,
                         "the target order%s%s cannot be judged: %s", what ? " for " : "", what ? what : "",
                         v->error ? v->error : "no project");
                return;
        }
        for (size_t i = 0; i < v->n; i++)
                add_disk(o, disk, LEGACY_CONCERN_CRITICAL, policy_code_name(v->violations[i].code),
                         v->violations[i].article, "%s%sArt. %u: %s", what ? what : "", what ? ": " : "",
                         v->violations[i].article, v->violations[i].message);
}

/* Each disk after the first: the block-volume plan it gets, and its order. */
static void disk_concerns(Out *o, const LegacyDiskFacts *d, const char *name) {
        char what[LEGACY_CONCERN_MESSAGE_MAX];
        const char *dev = d->dev ? d->dev : "?";
        snprintf(what, sizeof(what), "disk %s of %s", dev, name);
        if (!d->plan) {
                add_disk(o, dev, LEGACY_CONCERN_CRITICAL, "NO_FITTING_PLAN", 12,
                         "no published block-volume plan holds %s (%" PRIu64 " GiB)", what,
                         gib_up(d->capacity_bytes));
                return;
        }
        if (d->plan->size_gib < (UINT64_MAX / GIB) && d->plan->size_gib * GIB < d->capacity_bytes)
                add_disk(o, dev, LEGACY_CONCERN_CRITICAL, "DISK_LARGER_THAN_PLAN", 0,
                         "%s has %" PRIu64 " bytes, volume plan %s only %" PRIu64 " GiB", what,
                         d->capacity_bytes, d->plan->plan_id, d->plan->size_gib);
        policy_concerns(o, dev, what, &d->policy);
}

/* The target's disks are raw. qcow2 is converted as a matter of course;
 * the other formats qemu-img reads are converted too, but come from other
 * hypervisors (the guest may lack drivers for the target's virtio disk);
 * a format none of these is nothing the move can turn into a disk. */
static bool format_is_raw(const char *f) {
        return !f[0] || !strcmp(f, "raw"); /* libvirt reads a disk that names none as raw */
}

static bool format_is_foreign(const char *f) {
        static const char *const foreign[] = { "qcow", "vmdk", "vdi", "vhdx", "vpc", "qed" };
        for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
                if (!strcmp(f, foreign[i]))
                        return true;
        return false;
}

bool legacy_disk_format_movable(const char *f) {
        return !f || format_is_raw(f) || !strcmp(f, "qcow2") || format_is_foreign(f);
}

/* Devices a VM on the municipal cloud cannot keep: host pass-through
 * cannot move at all; the others have no counterpart in a catalogue plan. */
static LegacyConcernLevel device_concern(const LegacyDevice *d, bool *ret_concern) {
        static const char *const unsupported[] = { "redirdev", "smartcard", "parallel", "filesystem", "shmem",
                                                   "tpm",      "sound",     "hub",      "vsock" };
        *ret_concern = true;
        if (!strcmp(d->kind, "hostdev"))
                return LEGACY_CONCERN_CRITICAL;
        for (size_t i = 0; i < ELEMENTSOF(unsupported); i++)
                if (!strcmp(d->kind, unsupported[i]))
                        return LEGACY_CONCERN_WARNING;
        *ret_concern = false;
        return LEGACY_CONCERN_INFO;
}

bool legacy_preflight(const LegacyPreflightFacts *f, LegacyConcern *ret, size_t *ret_n) {
        Out o = { .v = ret };
        const LegacyVm *vm = f->vm;
        const LegacyPlanOption *p = f->plan;
        const char *name = vm ? vm->name : "?";

        if (f->classified)
                add(&o, LEGACY_CONCERN_CRITICAL, "CLASSIFIED_SYSTEM", 3,
                    "Art. 3: the system is classified and stays outside the municipal cloud");
        if (!f->source_reachable)
                add(&o, LEGACY_CONCERN_CRITICAL, "SOURCE_UNREACHABLE", 0,
                    "the source of %s is unreachable: %s", name,
                    f->source_error ? f->source_error : "no answer");
        if (f->other_plan_system)
                add(&o, LEGACY_CONCERN_CRITICAL, "ALREADY_PLANNED", 0,
                    "%s is already in the plan of legacy system %s", name, f->other_plan_system);
        if (!vm) {
                *ret_n = o.n;
                return o.critical;
        }

        uint64_t disk = legacy_vm_system_disk_bytes(vm);
        if (!p)
                add(&o, LEGACY_CONCERN_CRITICAL, "NO_FITTING_PLAN", 12,
                    "no published VM plan holds %s (%u vCPUs, %" PRIu64 " MiB, %" PRIu64 " GiB of disk)",
                    name, vm->vcpus, vm->memory_mib, (uint64_t)((disk + GIB - 1) / GIB));
        else {
                if (p->disk_gib * GIB < disk)
                        add(&o, LEGACY_CONCERN_CRITICAL, "DISK_LARGER_THAN_PLAN", 0,
                            "%s has %" PRIu64 " bytes of system disk, plan %s only %" PRIu64 " GiB", name,
                            disk, p->plan_id, p->disk_gib);
                if (p->vcpus < vm->vcpus || p->memory_mib < vm->memory_mib)
                        add(&o, LEGACY_CONCERN_WARNING, "PLAN_SMALLER_THAN_VM", 0,
                            "plan %s (%u vCPUs, %" PRIu64 " MiB) is smaller than %s (%u vCPUs, %" PRIu64
                            " MiB)",
                            p->plan_id, p->vcpus, p->memory_mib, name, vm->vcpus, vm->memory_mib);
        }
        /* The move takes every disk (legacy-move.c: the first as the system
         * disk, the others as block volumes); a VM without one has nothing. */
        size_t n_disks = 0;
        for (size_t i = 0; i < vm->n_disks; i++)
                n_disks += !strcmp(vm->disks[i].device, "disk");
        if (n_disks == 0)
                add(&o, LEGACY_CONCERN_CRITICAL, "NO_DISK", 0, "%s has no disk to move", name);
        for (size_t i = 0; i < vm->n_devices; i++) {
                bool concern;
                LegacyConcernLevel l = device_concern(&vm->devices[i], &concern);
                if (concern)
                        add(&o, l, "UNSUPPORTED_DEVICE", 0,
                            "%s has a %s%s%s device the target cannot provide", name, vm->devices[i].kind,
                            vm->devices[i].type[0] ? " " : "", vm->devices[i].type);
        }
        for (size_t i = 0; i < vm->n_disks; i++) {
                const LegacyDisk *d = &vm->disks[i];
                if (strcmp(d->device, "disk"))
                        continue;
                if (!strcmp(d->format, "qcow2"))
                        add_disk(&o, d->target, LEGACY_CONCERN_INFO, "DISK_CONVERSION", 0,
                                 "disk %s of %s is qcow2: the move converts it to raw on the target",
                                 d->target, name);
                else if (format_is_foreign(d->format))
                        add_disk(&o, d->target, LEGACY_CONCERN_WARNING, "DISK_CONVERSION", 0,
                                 "disk %s of %s is %s, another hypervisor's format: the move converts it to "
                                 "raw on the target; check that the guest boots from a virtio disk",
                                 d->target, name, d->format);
                else if (!format_is_raw(d->format))
                        add_disk(&o, d->target, LEGACY_CONCERN_CRITICAL, "DISK_FORMAT_UNKNOWN", 0,
                                 "disk %s of %s has the format '%s', which the move cannot convert (raw, "
                                 "qcow2, vmdk, vdi, vhdx, vpc, qed or qcow)",
                                 d->target, name, d->format);
                if (!d->sized)
                        add_disk(&o, d->target, LEGACY_CONCERN_WARNING, "DISK_SIZE_UNKNOWN", 0,
                                 "disk %s of %s (%s) is in no storage pool: its size is unknown", d->target,
                                 name, d->source[0] ? d->source : "no source");
        }
        if (!strcmp(vm->firmware, "efi"))
                add(&o, LEGACY_CONCERN_INFO, "FIRMWARE_EFI", 0, "%s boots with UEFI firmware", name);
        if (!strcmp(vm->power, "running") || !strcmp(vm->power, "paused"))
                add(&o, LEGACY_CONCERN_INFO, "SOURCE_RUNNING", 0,
                    "%s is %s: a cold migration shuts it down for the copy", name, vm->power);

        if (p)
                policy_concerns(&o, NULL, NULL, &f->policy);
        for (size_t i = 0; i < f->n_disks; i++)
                disk_concerns(&o, &f->disks[i], name);
        if (p) {
                if (!f->target.connected)
                        add(&o, LEGACY_CONCERN_CRITICAL, "TARGET_UNAVAILABLE", 0,
                            "target provider %s is not connected", f->target.name ? f->target.name : "?");
                else if (f->target.capacity_known &&
                         (f->target.free_vcpus < p->vcpus || f->target.free_memory_mib < p->memory_mib))
                        add(&o, LEGACY_CONCERN_CRITICAL, "NO_ROOM", 0,
                            "target provider %s has %u vCPUs and %" PRIu64
                            " MiB free, plan %s needs %u and %" PRIu64,
                            f->target.name ? f->target.name : "?", f->target.free_vcpus,
                            f->target.free_memory_mib, p->plan_id, p->vcpus, p->memory_mib);
                if (f->target.connected && f->target.pools_known && !f->target.pool_present)
                        add(&o, LEGACY_CONCERN_CRITICAL, "TARGET_POOL_MISSING", 0,
                            "target provider %s has no storage pool '%s'",
                            f->target.name ? f->target.name : "?", f->target.pool ? f->target.pool : "");
        }
        *ret_n = o.n;
        return o.critical;
}

json_t *legacy_concerns_to_json(const LegacyConcern *c, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
                json_t *o = json_pack("{s:s, s:s, s:s}", "level", legacy_concern_level_to_string(c[i].level),
                                      "code", c[i].code, "message", c[i].message);
                if (o && c[i].article)
                        json_object_set_new(o, "article", json_integer(c[i].article));
                if (o && c[i].disk[0])
                        json_object_set_new(o, "disk", json_string(c[i].disk));
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

/* ---- a plan's target orders, judged together ---- */

static LegacyBatchItem *batch_find(LegacyBatch *b, const char *service_id, const char *plan_id) {
        for (size_t i = 0; i < b->n; i++)
                if (!strcmp(b->items[i].service_id, service_id) && !strcmp(b->items[i].plan_id, plan_id))
                        return &b->items[i];
        return NULL;
}

int legacy_batch_next(LegacyBatch *b, const char *service_id, const char *plan_id, uint32_t *ret_quantity,
                      int64_t *ret_others_fen) {
        if (!b || !service_id || !plan_id)
                return -EINVAL;
        LegacyBatchItem *it = batch_find(b, service_id, plan_id);
        if (!it) {
                if (b->n >= LEGACY_BATCH_PLANS_MAX)
                        return -E2BIG;
                it = &b->items[b->n++];
                *it = (LegacyBatchItem){ .service_id = service_id, .plan_id = plan_id };
        }
        if (it->quantity == UINT32_MAX)
                return -E2BIG;
        it->quantity++;
        int64_t others = 0;
        for (size_t i = 0; i < b->n; i++)
                if (&b->items[i] != it && b->items[i].committed_fen > 0)
                        others = b->items[i].committed_fen > INT64_MAX - others
                                         ? INT64_MAX
                                         : others + b->items[i].committed_fen;
        *ret_quantity = it->quantity;
        *ret_others_fen = others;
        return 0;
}

int64_t legacy_batch_priced(LegacyBatch *b, const char *service_id, const char *plan_id,
                            int64_t committed_fen) {
        LegacyBatchItem *it = b && service_id && plan_id ? batch_find(b, service_id, plan_id) : NULL;
        if (!it)
                return committed_fen;
        int64_t added = committed_fen - it->committed_fen;
        it->committed_fen = committed_fen;
        return added > 0 ? added : 0;
}
