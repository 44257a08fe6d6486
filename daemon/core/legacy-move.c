/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The move of a planned legacy system (Art. 35): each VM of the plan moved
 * cold by the driver (migrate_vm: shut down, sparse-stream copy, digests,
 * define with the source's MAC, start; every disk of the VM, in order:
 * the first is the VM's system disk, each other one a block volume of the
 * migration project attached to it), one system's VMs one after the
 * other on a worker, at most max_copies_per_host systems at once per source
 * provider. A failure rolls back every VM of the system moved so far, so
 * the system is either all on the target or all back on its source.
 *
 * The run document lives in the record's plan, as plan.run, written before
 * the first byte moves: a daemon killed mid-move finds it on restart
 * (legacy_recover_moves) and knows which target objects to remove.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h> /* MIN */
#include <sys/random.h>
#include <time.h>

#include "audit.h"
#include "catalog.h"
#include "driver.h"
#include "json-util.h"
#include "legacy-fit.h"
#include "legacy-internal.h"
#include "legacy-progress.h"
#include "legacy-vm.h"
#include "log.h"
#include "resources-moved.h"

typedef struct MoveVm {
        MigrateSpec spec;                         /* strings borrowed from the move's documents */
        MigrateDisk extra[MIGRATE_DISKS_MAX - 1]; /* spec.extra: the disks after the first */
        MigrateResult result;
        bool moved;
        char error[sizeof(((CbError *)0)->message)];
} MoveVm;

struct LegacyMove {
        Legacy *lg;
        CbCaller caller;
        char *id;
        char *host; /* the source provider: the throttle counts per host */
        bool running, recovery;
        const DriverOps *ops;
        DriverConn *src, *dst;
        /* Of the record as loaded: the specs' strings point into them. */
        json_t *assessment, *record_plan;
        char *department;
        json_t *plan; /* the plan with its run document (main loop only) */
        size_t n;
        MoveVm *vms;
        int result;
        /* Written by the worker's progress callback, read by the tick. */
        pthread_mutex_t lock;
        size_t cur;  /* the VM being moved */
        size_t disk; /* its disk the step is at (0: the system disk) */
        MigrateStep step;
        LegacyProgress progress; /* bytes over every disk of every VM */
        uint64_t vm_started_ms,
                run_started_ms; /* when the VM's, and the run's, first copy began; 0 not yet */
        bool tick_posted;
};

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void legacy_set_move_options(Legacy *lg, unsigned max_copies_per_host, uint64_t rate_limit_bps,
                             uint64_t fail_after_bytes, unsigned stop_timeout_ms) {
        lg->max_copies_per_host = max_copies_per_host ? max_copies_per_host : 1;
        lg->rate_limit_bps = rate_limit_bps;
        lg->fail_after_bytes = fail_after_bytes;
        lg->stop_timeout_ms = stop_timeout_ms;
}

void legacy_set_progress_callback(Legacy *lg, LegacyProgressFn fn, void *userdata) {
        lg->progress_fn = fn;
        lg->progress_userdata = userdata;
}

static void move_free(LegacyMove *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n; i++)
                migrate_result_done(&m->vms[i].result);
        free(m->vms);
        free(m->id);
        free(m->host);
        json_decref(m->assessment);
        json_decref(m->record_plan);
        free(m->department);
        json_decref(m->plan);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

void legacy_moves_free(Legacy *lg) {
        /* Running moves ended with the worker pool; what is left waited for a slot. */
        for (size_t i = 0; i < LEGACY_MOVES_MAX; i++) {
                move_free(lg->moves[i]);
                lg->moves[i] = NULL;
        }
}

static LegacyMove *move_find(Legacy *lg, const char *id) {
        for (size_t i = 0; i < LEGACY_MOVES_MAX; i++)
                if (lg->moves[i] && streq(lg->moves[i]->id, id))
                        return lg->moves[i];
        return NULL;
}

static unsigned copies_on(Legacy *lg, const char *host) {
        unsigned n = 0;
        for (size_t i = 0; i < LEGACY_MOVES_MAX; i++)
                if (lg->moves[i] && lg->moves[i]->running && streq(lg->moves[i]->host, host))
                        n++;
        return n;
}

static json_t *run_vm(LegacyMove *m, size_t i) {
        return json_array_get(json_object_get(json_object_get(m->plan, "run"), "vms"), i);
}

/* The plan with its run document, as the record keeps it (no audit: progress is no change). */
static void store_progress(LegacyMove *m) {
        static const char sql[] = "UPDATE legacy_systems SET plan = ?2 WHERE system_id = ?1 AND state = ?3";
        _cleanup_(freep) char *text = json_dumps(m->plan, JSON_COMPACT);
        CbError err = CB_ERROR_INIT;
        if (text && store_run(m->lg->store, sql,
                              STORE_ARGS(SA_TEXT(m->id), SA_TEXT(text),
                                         SA_TEXT(legacy_state_to_string(LEGACY_MIGRATING))),
                              "recording the move's progress", &err) < 0)
                log_warning("legacy system %s: %s", m->id, err.message);
        cb_error_clear(&err);
        if (m->lg->progress_fn)
                m->lg->progress_fn(m->id, json_object_get(m->plan, "run"), m->lg->progress_userdata);
}

static const json_t *assessed_vm(const json_t *assessment, const char *name);

/* The run document's account of the disk at hand: its place, its source name and volume. */
static json_t *disk_json(LegacyMove *m, size_t vm, size_t disk) {
        const json_t *avm =
                assessed_vm(m->assessment, json_string_value(json_object_get(run_vm(m, vm), "name")));
        const json_t *d, *found = NULL;
        size_t i, k = 0;
        json_array_foreach(json_object_get(avm, "disks"), i, d) {
                if (!streq(json_string_value(json_object_get(d, "device")) ?: "", "disk"))
                        continue;
                if (k++ == disk)
                        found = d;
        }
        return json_pack("{s:I, s:I, s:s?, s:s?}", "index", (json_int_t)disk + 1, "count", (json_int_t)k,
                         "dev", json_string_value(json_object_get(found, "target")), "source",
                         json_string_value(json_object_get(found, "source")));
}

/* The run's figures: per VM and for the whole plan, bytes over every disk,
 * never back, 0 to the total once (legacy-progress.h); the rate is the
 * average since the copy began (verify reads included), so that what is
 * left over it is an honest time left. */
static void set_figures(json_t *o, uint64_t done, uint64_t total, uint64_t rate) {
        json_object_set_new(o, "bytes_done", json_integer((json_int_t)done));
        json_object_set_new(o, "bytes_total", json_integer((json_int_t)total));
        json_object_set_new(o, "rate_bps", json_integer((json_int_t)rate));
        json_object_set_new(o, "eta_seconds", json_integer(legacy_eta_seconds(done, total, rate)));
}

/* On the main loop: what the worker reported, into the run document. */
static void tick_done(int result, void *userdata) {
        LegacyMove *m = userdata;
        (void)result;
        pthread_mutex_lock(&m->lock);
        size_t cur = m->cur, disk = m->disk;
        MigrateStep step = m->step;
        uint64_t now = mono_ms();
        uint64_t vm_done = legacy_progress_vm_done(&m->progress, cur);
        uint64_t vm_total = legacy_progress_vm_total(&m->progress, cur);
        uint64_t done = legacy_progress_done(&m->progress), total = legacy_progress_total(&m->progress);
        uint64_t vm_rate = m->vm_started_ms ? legacy_rate_bps(vm_done, now - m->vm_started_ms) : 0;
        uint64_t rate = m->run_started_ms ? legacy_rate_bps(done, now - m->run_started_ms) : 0;
        m->tick_posted = false;
        pthread_mutex_unlock(&m->lock);

        json_t *v = run_vm(m, cur), *run = json_object_get(m->plan, "run");
        if (!v || !run)
                return;
        const char *step_s = migrate_step_to_string(step);
        json_object_set_new(v, "step", json_string(step_s));
        set_figures(v, vm_done, vm_total, vm_rate);
        json_object_set_new(v, "current_disk", disk_json(m, cur, disk));
        set_figures(run, done, total, rate);
        json_object_set_new(run, "current",
                            json_pack("{s:s?, s:I, s:I, s:s, s:o}", "vm",
                                      json_string_value(json_object_get(v, "name")), "vm_index",
                                      (json_int_t)cur + 1, "vm_count", (json_int_t)m->n, "step", step_s,
                                      "disk", disk_json(m, cur, disk)));
        store_progress(m);
}

/* On the worker: at most a few times a second (the driver limits it). */
static void on_progress(const MigrateProgress *p, void *userdata) {
        LegacyMove *m = userdata;
        bool post;
        pthread_mutex_lock(&m->lock);
        m->step = p->step;
        m->disk = p->disk;
        switch (p->step) {
        case MIGRATE_STEP_COPY:
                if (!m->vm_started_ms)
                        m->vm_started_ms = mono_ms();
                if (!m->run_started_ms)
                        m->run_started_ms = m->vm_started_ms;
                legacy_progress_disk(&m->progress, m->cur, p->disk, p->disk_data, false);
                break;
        case MIGRATE_STEP_VERIFY_COPY:
        case MIGRATE_STEP_CONVERT: /* the disk's data has crossed */
                legacy_progress_disk(&m->progress, m->cur, p->disk, p->disk_data, true);
                break;
        case MIGRATE_STEP_DEFINE:
        case MIGRATE_STEP_START:
        case MIGRATE_STEP_DONE:
                legacy_progress_vm_copied(&m->progress, m->cur);
                break;
        default: /* queued, shutdown, rollback: the bytes stand where they are */
                break;
        }
        post = !m->tick_posted;
        m->tick_posted = true;
        pthread_mutex_unlock(&m->lock);
        /* Results come back in order: the tick is dispatched before the move's end. */
        if (post && worker_post(m->lg->pool, tick_done, 0, m) < 0) {
                pthread_mutex_lock(&m->lock);
                m->tick_posted = false;
                pthread_mutex_unlock(&m->lock);
        }
}

static int move_job(void *userdata) {
        LegacyMove *m = userdata;
        CbError err = CB_ERROR_INIT;
        int r = 0;

        for (size_t i = 0; i < m->n; i++) {
                MoveVm *v = &m->vms[i];
                pthread_mutex_lock(&m->lock);
                m->cur = i;
                m->disk = 0;
                m->step = MIGRATE_STEP_QUEUED;
                m->vm_started_ms = 0;
                pthread_mutex_unlock(&m->lock);
                if (m->recovery)
                        r = driver_migrate_rollback(m->ops, m->src, m->dst, &v->spec, &err);
                else {
                        r = driver_migrate_vm(m->ops, m->src, m->dst, &v->spec, &v->result, &err);
                        v->moved = r >= 0;
                }
                if (r < 0) {
                        snprintf(v->error, sizeof(v->error), "%s",
                                 err.message[0] ? err.message : strerror(-r));
                        cb_error_clear(&err);
                        if (!m->recovery)
                                break;
                }
        }
        if (r < 0 && !m->recovery) {
                /* All or nothing: the VMs moved before this one go back too. */
                for (size_t i = 0; i < m->n; i++) {
                        if (!m->vms[i].moved)
                                continue;
                        if (driver_migrate_rollback(m->ops, m->src, m->dst, &m->vms[i].spec, &err) < 0)
                                snprintf(m->vms[i].error, sizeof(m->vms[i].error), "rollback: %.400s",
                                         err.message);
                        cb_error_clear(&err);
                        m->vms[i].moved = false;
                }
        }
        return r;
}

static void start_waiting(Legacy *lg);
static int move_submit(LegacyMove *m);

/* At cut-over, in its transaction: each target becomes a resource of the
 * migration project, active, metered from now on. */
static int record_targets(Store *s, void *userdata, CbError *err) {
        LegacyMove *m = userdata;
        const json_t *plan = m->record_plan;
        char now[32];
        store_now(now);
        for (size_t i = 0; i < m->n; i++) {
                const json_t *rv = run_vm(m, i);
                const MigrateSpec *sp = &m->vms[i].spec;
                MovedResource mr = {
                        .id = sp->target.resource_id,
                        .name = sp->target.name,
                        .project_id = sp->target.project_id,
                        .system_id = m->id,
                        .department = m->department,
                        .service_id = sp->target.catalog_service_id,
                        .plan_id = sp->target.catalog_plan_id,
                        .approval_no = sp->target.approval_no,
                        .catalog_revision = sp->target.catalog_revision,
                        .cost_kind = json_string_value(json_object_get(rv, "cost_kind")) ?: "construction",
                        .committed_fen = json_integer_value(json_object_get(rv, "committed_fen")),
                        .provider = json_string_value(
                                json_object_get(json_object_get(plan, "target"), "provider")),
                        .provider_ref = m->vms[i].result.provider_ref,
                        .created_by = m->caller.principal ? m->caller.principal->name : "system",
                        .now = now,
                };
                int r = resources_record_moved(s, &mr, err);
                if (r < 0)
                        return r;
                /* The other disks: block volumes of the same project, attached to the VM. */
                size_t k;
                const json_t *d;
                json_array_foreach(json_object_get(rv, "disks"), k, d) {
                        MovedResource dr = mr;
                        dr.id = json_string_value(json_object_get(d, "resource_id"));
                        dr.name = json_string_value(json_object_get(d, "name"));
                        dr.service_id = json_string_value(json_object_get(d, "service_id"));
                        dr.plan_id = json_string_value(json_object_get(d, "plan_id"));
                        dr.approval_no = json_string_value(json_object_get(d, "approval_no"));
                        dr.catalog_revision =
                                (unsigned)json_integer_value(json_object_get(d, "catalog_revision"));
                        dr.cost_kind = json_string_value(json_object_get(d, "cost_kind")) ?: "construction";
                        dr.committed_fen = json_integer_value(json_object_get(d, "committed_fen"));
                        dr.provider_ref = NULL;
                        dr.attached_to = sp->target.resource_id;
                        dr.dev = json_string_value(json_object_get(d, "dev"));
                        if ((r = resources_record_moved(s, &dr, err)) < 0)
                                return r;
                }
        }
        return 0;
}

static void move_done(int result, void *userdata) {
        LegacyMove *m = userdata;
        Legacy *lg = m->lg;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *text = NULL;
        char now[32];
        bool ok = result >= 0 && !m->recovery;
        const char *first_error = NULL;

        store_now(now);
        json_t *run = json_object_get(m->plan, "run");
        for (size_t i = 0; i < m->n; i++) {
                MoveVm *v = &m->vms[i];
                json_t *o = run_vm(m, i);
                if (!o)
                        continue;
                if (v->error[0]) {
                        json_object_set_new(o, "error", json_string(v->error));
                        first_error = first_error ? first_error : v->error;
                }
                if (ok) {
                        legacy_progress_vm_copied(&m->progress, i);
                        json_object_set_new(o, "step", json_string("done"));
                        uint64_t total = legacy_progress_vm_total(&m->progress, i);
                        json_object_set_new(o, "bytes_done", json_integer((json_int_t)total));
                        json_object_set_new(o, "bytes_total", json_integer((json_int_t)total));
                        json_object_set_new(o, "eta_seconds", json_integer(0));
                        uint64_t cap = v->result.capacity_bytes;
                        for (size_t k = 0; k < v->spec.n_extra; k++)
                                cap += v->result.extra[k].capacity_bytes;
                        json_object_set_new(o, "capacity_bytes", json_integer((json_int_t)cap));
                        json_object_set_new(o, "data_bytes", json_integer((json_int_t)v->result.data_bytes));
                        json_object_set_new(o, "source_sha256", json_string(v->result.source_sha256));
                        json_object_set_new(o, "target_sha256", json_string(v->result.target_sha256));
                        json_object_set_new(o, "target_ref", json_string(v->result.provider_ref));
                        for (size_t k = 0; k < v->spec.n_extra; k++) {
                                json_t *d = json_array_get(json_object_get(o, "disks"), k);
                                const MigrateDiskResult *dr = &v->result.extra[k];
                                json_object_set_new(d, "capacity_bytes",
                                                    json_integer((json_int_t)dr->capacity_bytes));
                                json_object_set_new(d, "data_bytes",
                                                    json_integer((json_int_t)dr->data_bytes));
                                json_object_set_new(d, "source_sha256", json_string(dr->source_sha256));
                                json_object_set_new(d, "target_sha256", json_string(dr->target_sha256));
                        }
                        /* Left defined and shut off until an operator confirms the decommission. */
                        json_object_set_new(o, "source_state", json_string("awaiting-decommission"));
                } else {
                        json_object_set_new(o, "step", json_string("rolled-back"));
                        json_object_set_new(o, "source_state",
                                            json_string(v->spec.source_was_running ? "running" : "shutoff"));
                }
        }
        json_object_set_new(run, "state", json_string(ok ? "done" : "rolled-back"));
        json_object_set_new(run, "finished_at", json_string(now));
        if (ok) {
                uint64_t total = legacy_progress_total(&m->progress);
                json_object_set_new(run, "bytes_done", json_integer((json_int_t)total));
                json_object_set_new(run, "eta_seconds", json_integer(0));
        }
        json_object_set_new(run, "step", json_string(ok ? "done" : "rolled-back"));
        text = json_dumps(m->plan, JSON_COMPACT);

        char reason[600];
        snprintf(reason, sizeof(reason), "%s%s",
                 m->recovery ? "the daemon stopped mid-move; rolled back on restart"
                             : "the move failed, rolled back: ",
                 m->recovery   ? ""
                 : first_error ? first_error
                               : strerror(-result));
        StateWrite w = { .id = m->id,
                         .from = legacy_state_to_string(LEGACY_MIGRATING),
                         .to = legacy_state_to_string(ok ? LEGACY_CUT_OVER : LEGACY_FAILED),
                         .reason = ok ? NULL : reason,
                         .plan = text,
                         .also = ok ? record_targets : NULL,
                         .also_userdata = m };
        json_t *detail = json_pack("{s:s, s:I}", "run", ok ? "done" : "rolled-back", "vms", (json_int_t)m->n);
        int q = text ? legacy_change_state(lg, &m->caller, m->recovery ? "legacy.recover" : "legacy.migrate",
                                           &w, detail, &err)
                     : -ENOMEM;
        json_decref(detail);
        if (q < 0 && ok) {
                /* Moved but not on record: an unrecorded target must not stay. Undo
                 * it (the recovery path), which records failed. */
                log_warning("recording the cut-over of legacy system %s failed (%s): rolling back", m->id,
                            err.message);
                m->recovery = true;
                m->running = false;
                if (move_submit(m) == 0)
                        return;
        } else if (q < 0)
                log_warning("recording the end of the move of legacy system %s failed: %s", m->id,
                            err.message);
        if (lg->progress_fn)
                lg->progress_fn(m->id, run, lg->progress_userdata);

        for (size_t i = 0; i < LEGACY_MOVES_MAX; i++)
                if (lg->moves[i] == m)
                        lg->moves[i] = NULL;
        move_free(m);
        start_waiting(lg);
}

static int move_submit(LegacyMove *m) {
        m->running = true;
        int r = worker_submit(m->lg->pool, move_job, move_done, m);
        if (r < 0)
                m->running = false;
        return r;
}

/* Moves waiting for a copy slot, in arrival order of the table. */
static void start_waiting(Legacy *lg) {
        for (size_t i = 0; i < LEGACY_MOVES_MAX; i++) {
                LegacyMove *m = lg->moves[i];
                if (m && !m->running && copies_on(lg, m->host) < lg->max_copies_per_host &&
                    move_submit(m) < 0)
                        log_warning("legacy system %s: the worker pool is not taking the move", m->id);
        }
}

static bool move_add(Legacy *lg, LegacyMove *m) {
        for (size_t i = 0; i < LEGACY_MOVES_MAX; i++)
                if (!lg->moves[i]) {
                        lg->moves[i] = m;
                        return true;
                }
        return false;
}

static const json_t *assessed_vm(const json_t *assessment, const char *name) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(assessment, "vms"), i,
                           v) if (streq(json_string_value(json_object_get(v, "name")) ?: "", name)) return v;
        return NULL;
}

static int new_target_id(char ret[32]) {
        unsigned char b[6];
        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                return -EIO;
        snprintf(ret, 32, "mig-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
        return 0;
}

static Provider *connected(Legacy *lg, const char *name) {
        Provider *p = name ? providers_find(lg->providers, name) : NULL;
        return p && p->status == PROVIDER_CONNECTED && p->conn ? p : NULL;
}

static LegacyMove *move_new(Legacy *lg, const CbCaller *caller, const char *id, const LegacyRecord *record,
                            Provider *sp, Provider *tp) {
        LegacyMove *m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        pthread_mutex_init(&m->lock, NULL);
        m->lg = lg;
        m->caller = *caller;
        m->id = strdup(id);
        m->host = strdup(sp->name);
        m->ops = sp->ops;
        m->src = sp->conn;
        m->dst = tp->conn;
        m->assessment = json_incref(record->assessment);
        m->record_plan = json_incref(record->plan);
        m->department = strdup(record->department);
        /* No plan reads as JSON null, as the record showed it: a recovery still ends the move. */
        m->plan = record->plan ? json_deep_copy(record->plan) : json_null();
        m->n = json_array_size(json_object_get(m->plan, "vms"));
        m->vms = calloc(m->n ? m->n : 1, sizeof(MoveVm));
        if (!m->id || !m->host || !m->department || !m->plan || !m->vms) {
                move_free(m);
                return NULL;
        }
        return m;
}

/* Fills the spec of VM i from the record (the strings stay in it). */
static void fill_spec(Legacy *lg, LegacyMove *m, size_t i, const json_t *avm, const json_t *rv,
                      Provider *tp) {
        const json_t *plan = m->record_plan, *target = json_object_get(plan, "target");
        const json_t *disk = NULL, *nic = json_array_get(json_object_get(avm, "nics"), 0);
        size_t k;
        json_t *d;
        json_array_foreach(json_object_get(avm, "disks"), k,
                           d) if (streq(json_string_value(json_object_get(d, "device")) ?: "", "disk")) {
                disk = d;
                break;
        }
        const char *power = json_string_value(json_object_get(avm, "power")) ?: "";
        const char *mac = json_string_value(json_object_get(nic, "mac"));
        /* An image source is a disk and no domain: nothing to shut down or start again. */
        bool image = streq_ptr(json_string_value(json_object_get(m->assessment, "kind")), "images");
        m->vms[i].spec = (MigrateSpec){
                .source_domain = image ? NULL : json_string_value(json_object_get(avm, "name")),
                .source_volume = json_string_value(json_object_get(disk, "source")),
                .source_format = json_string_value(json_object_get(disk, "format")),
                .source_was_running = streq(power, "running") || streq(power, "paused"),
                .stop_timeout_ms = lg->stop_timeout_ms,
                .rate_limit_bps = lg->rate_limit_bps,
                .fail_after_bytes = lg->fail_after_bytes,
                .progress = on_progress,
                .userdata = m,
                .target = {
                        .kind = DRIVER_OBJECT_VM,
                        .resource_id = json_string_value(json_object_get(rv, "resource_id")),
                        .name = json_string_value(json_object_get(avm, "name")),
                        .project_id = json_string_value(json_object_get(plan, "project_id")),
                        .approval_no = json_string_value(json_object_get(rv, "approval_no")),
                        .catalog_service_id = json_string_value(json_object_get(rv, "service_id")),
                        .catalog_plan_id = json_string_value(json_object_get(rv, "plan_id")),
                        .catalog_revision = (unsigned)json_integer_value(json_object_get(rv, "catalog_revision")),
                        .vcpus = (unsigned)json_integer_value(json_object_get(rv, "vcpus")),
                        .memory_mib = (uint64_t)json_integer_value(json_object_get(rv, "memory_mib")),
                        .disk_gib = (uint64_t)json_integer_value(json_object_get(rv, "disk_gib")),
                        .arch = json_string_value(json_object_get(avm, "arch")),
                        .network = json_string_value(json_object_get(target, "network")),
                        .pool = json_string_value(json_object_get(target, "pool")),
                        .domain_type = tp->domain_type,
                        .mac = mac && driver_mac_is_valid(mac) ? mac : NULL,
                },
        };
        if (m->vms[i].spec.target.arch && !*m->vms[i].spec.target.arch)
                m->vms[i].spec.target.arch = NULL;
        /* The other disks as the run document fixed them before the move. */
        size_t n = 0;
        json_array_foreach(json_object_get(rv, "disks"), k, d) {
                if (n >= ELEMENTSOF(m->vms[i].extra))
                        break;
                m->vms[i].extra[n++] = (MigrateDisk){
                        .source_volume = json_string_value(json_object_get(d, "source_volume")),
                        .source_format = json_string_value(json_object_get(d, "format")),
                        .resource_id = json_string_value(json_object_get(d, "resource_id")),
                        .dev = json_string_value(json_object_get(d, "dev")),
                };
        }
        m->vms[i].spec.extra = m->vms[i].extra;
        m->vms[i].spec.n_extra = n;
}

/* The target's name for a disk: the source's when it is vdb..vdz, else by its place. */
static void disk_dev(const char *source_dev, size_t index, char ret[4]) {
        if (source_dev && strlen(source_dev) == 3 && source_dev[0] == 'v' && source_dev[1] == 'd' &&
            source_dev[2] >= 'b' && source_dev[2] <= 'z')
                memcpy(ret, source_dev, 4);
        else
                snprintf(ret, 4, "vd%c", (char)('a' + MIN(index, (size_t)25)));
}

/* The weights of a run entry's disks (legacy-progress.h): the system
 * disk's allocation, then each other disk's; their sum. */
static uint64_t run_vm_weights(const json_t *rv, uint64_t ret[MIGRATE_DISKS_MAX], size_t *ret_n) {
        size_t n = 0, k;
        const json_t *d;
        ret[n++] = (uint64_t)MAX(json_integer_value(json_object_get(rv, "allocation_bytes")), 0);
        json_array_foreach(json_object_get(rv, "disks"), k, d) {
                if (n >= MIGRATE_DISKS_MAX)
                        break;
                ret[n++] = (uint64_t)MAX(json_integer_value(json_object_get(d, "allocation_bytes")), 0);
        }
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += ret[i];
        if (ret_n)
                *ret_n = n;
        return sum;
}

/* The published block-volume plans, read once as a move starts. */
typedef struct VolumeChoice {
        json_t *catalog;
        LegacyVolumeOption v[LEGACY_VOLUME_OPTIONS_MAX];
        size_t n;
} VolumeChoice;

/* One target order judged as the plan's pre-flight judged it (legacy_judge_target,
 * with the plan's others in b); a refusal carries the violations and names what. */
static int judge(Legacy *lg, const CbCaller *caller, const char *id, const char *project_id, LegacyBatch *b,
                 const char *service_id, const char *plan_id, const char *what, Evaluation *ret,
                 int64_t *ret_own_fen, CbError *err) {
        Evaluation ev = { 0 };
        int r = legacy_judge_target(lg, caller, id, project_id, b, service_id, plan_id, &ev, ret_own_fen,
                                    err);
        if (r < 0)
                return r;
        if (!ev.decision.allowed) {
                json_t *j = policy_decision_to_json(&ev.decision);
                r = cb_error_set_violations(err, json_incref(json_object_get(j, "violations")),
                                            "the target order for %s is refused", what);
                json_decref(j);
                evaluation_done(&ev);
                return r;
        }
        *ret = ev;
        return 0;
}

/* The volume plan the stored plan chose for the disk called dev of pvm;
 * a plan stored before plans named one gets the smallest fit, by the
 * same rule as the pre-flight. 0 and *ret, or a conflict (plan again). */
static int disk_plan(const VolumeChoice *vc, const json_t *pvm, const char *name, const char *dev,
                     uint64_t capacity, const LegacyVolumeOption **ret, CbError *err) {
        const json_t *pdisks = json_object_get(pvm, "disks"), *pd;
        const LegacyVolumeOption *o = NULL;
        size_t i, best;

        if (!pdisks) {
                if (legacy_volume_fit(capacity, vc->v, vc->n, &best) < 0)
                        return cb_error_set(
                                err, CB_ERR_CONFLICT,
                                "VM '%s': no block-volume plan of the catalogue holds its disk %s "
                                "(%" PRIu64 " bytes)",
                                name, dev, capacity);
                *ret = &vc->v[best];
                return 0;
        }
        json_array_foreach(pdisks, i, pd) {
                if (!streq(json_string_value(json_object_get(pd, "dev")) ?: "", dev))
                        continue;
                const json_t *p = json_object_get(pd, "plan");
                o = legacy_volume_option_find(vc->v, vc->n,
                                              json_string_value(json_object_get(p, "service_id")),
                                              json_string_value(json_object_get(p, "plan_id")));
                break;
        }
        if (!o)
                return cb_error_set(
                        err, CB_ERR_CONFLICT,
                        "VM '%s': the plan names no published block-volume plan for its disk %s: plan again",
                        name, dev);
        if (o->size_gib < (UINT64_MAX >> 30) && (o->size_gib << 30) < capacity)
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "VM '%s': its disk %s (%" PRIu64
                                    " bytes) is larger than volume plan %s: plan again",
                                    name, dev, capacity, o->plan_id);
        *ret = o;
        return 0;
}

/* One VM of the plan checked for the move, and its run entry: the
 * target's resource id, the approval and the published plan's size; each
 * disk after the first a block volume with its plan. The policy engine
 * judges every order again, together with the plan's others (b), as the
 * pre-flight did: the approval may have changed since planning. */
static int prepare_vm(Legacy *lg, const CbCaller *caller, const char *id, const LegacyRecord *record,
                      const json_t *pvm, const VolumeChoice *vc, LegacyBatch *b, json_t **ret, CbError *err) {
        const char *name = json_string_value(json_object_get(pvm, "name")) ?: "";
        const json_t *avm = assessed_vm(record->assessment, name), *chosen = json_object_get(pvm, "plan");
        const json_t *plan = record->plan;
        const char *project_id = json_string_value(json_object_get(plan, "project_id"));
        const json_t *vdisks[MIGRATE_DISKS_MAX];
        size_t k, n_disks = 0;
        json_t *d;
        char rid[32];
        _cleanup_(json_decrefp) json_t *disks = json_array();
        int r;

        if (!disks)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (!avm || json_object_get(avm, "error"))
                return cb_error_set(err, CB_ERR_CONFLICT, "VM '%s' has no readable assessment: assess again",
                                    name);
        /* What can move at all, before any order is judged. */
        json_array_foreach(json_object_get(avm, "disks"), k, d) {
                if (!streq(json_string_value(json_object_get(d, "device")) ?: "", "disk"))
                        continue;
                const char *src = json_string_value(json_object_get(d, "source"));
                const char *fmt = json_string_value(json_object_get(d, "format"));
                const char *dev = json_string_value(json_object_get(d, "target"));
                if (isempty(src))
                        return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                            "VM '%s': its disk %s is not in a storage pool", name, dev ?: "");
                if (!legacy_disk_format_movable(fmt))
                        return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                            "VM '%s': its disk %s is '%s', a format the move cannot convert",
                                            name, dev ?: "", fmt);
                if (n_disks >= MIGRATE_DISKS_MAX)
                        return cb_error_set(err, CB_ERR_UNSUPPORTED, "VM '%s' has more than %d disks", name,
                                            MIGRATE_DISKS_MAX);
                vdisks[n_disks++] = d;
        }
        if (n_disks == 0)
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "VM '%s' has no disk to move", name);

        /* The VM's order first, then its disks', in the pre-flight's order. */
        Evaluation ev = { 0 };
        int64_t own = 0;
        char what[128];
        const char *service_id = json_string_value(json_object_get(chosen, "service_id"));
        const char *plan_id = json_string_value(json_object_get(chosen, "plan_id"));
        if (!service_id || !plan_id)
                return cb_error_set(err, CB_ERR_CONFLICT, "VM '%s' has no catalogue plan: plan again", name);
        snprintf(what, sizeof(what), "VM '%s'", name);
        if ((r = judge(lg, caller, id, project_id, b, service_id, plan_id, what, &ev, &own, err)) < 0)
                return r;
        const json_t *spec = json_object_get(ev.plan, "spec");
        if (new_target_id(rid) < 0) {
                evaluation_done(&ev);
                return cb_error_set(err, CB_ERR_INTERNAL, "no random bytes for the target's id");
        }
        _cleanup_(json_decrefp) json_t *out = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I}", "name", name,
                "resource_id", rid, "approval_no", ev.approval_no, "service_id", service_id, "plan_id",
                plan_id, "source_volume", json_string_value(json_object_get(vdisks[0], "source")),
                "catalog_revision", (json_int_t)ev.catalog_revision, "vcpus",
                json_integer_value(json_object_get(spec, "vcpus")), "memory_mib",
                json_integer_value(json_object_get(spec, "memory_mib")), "disk_gib",
                json_integer_value(json_object_get(spec, "disk_gib")), "step", "queued", "bytes_done",
                (json_int_t)0, "bytes_total", (json_int_t)0, "rate_bps", (json_int_t)0);
        if (out) {
                char dom[48];
                snprintf(dom, sizeof(dom), "cb-%s", rid);
                json_object_set_new(out, "target_domain", json_string(dom));
                /* What the target's resource record will say it costs: this one VM's share. */
                json_object_set_new(out, "cost_kind",
                                    json_string(ev.cost_kind == POLICY_COST_OM ? "om" : "construction"));
                json_object_set_new(out, "committed_fen", json_integer(own));
                /* What the copy moves of the system disk: its data, as assessed (legacy-progress.h). */
                json_object_set_new(
                        out, "allocation_bytes",
                        json_integer(json_integer_value(json_object_get(vdisks[0], "allocation_bytes"))));
        }
        evaluation_done(&ev);
        if (!out)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");

        for (size_t i = 1; i < n_disks; i++) {
                d = (json_t *)vdisks[i];
                const char *src = json_string_value(json_object_get(d, "source"));
                const char *fmt = json_string_value(json_object_get(d, "format"));
                const char *dev = json_string_value(json_object_get(d, "target")) ?: "";
                uint64_t cap = (uint64_t)json_integer_value(json_object_get(d, "capacity_bytes"));
                const LegacyVolumeOption *vp = NULL;
                if ((r = disk_plan(vc, pvm, name, dev, cap, &vp, err)) < 0)
                        return r;
                char vrid[32], vdev[4], vname[160];
                Evaluation vev = { 0 };
                snprintf(what, sizeof(what), "disk %s of VM '%s'", dev, name);
                if ((r = judge(lg, caller, id, project_id, b, vp->service_id, vp->plan_id, what, &vev, &own,
                               err)) < 0)
                        return r;
                disk_dev(dev, i, vdev);
                if (new_target_id(vrid) < 0) {
                        evaluation_done(&vev);
                        return cb_error_set(err, CB_ERR_INTERNAL, "no random bytes for the target's id");
                }
                snprintf(vname, sizeof(vname), "%s-%s", name, vdev);
                json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I}",
                                      "resource_id", vrid, "name", vname, "source_volume", src, "format", fmt,
                                      "dev", vdev, "source_dev", dev, "service_id", vp->service_id, "plan_id",
                                      vp->plan_id, "approval_no", vev.approval_no, "catalog_revision",
                                      (json_int_t)vev.catalog_revision, "cost_kind",
                                      vev.cost_kind == POLICY_COST_OM ? "om" : "construction",
                                      "committed_fen", (json_int_t)own);
                evaluation_done(&vev);
                if (o)
                        json_object_set_new(
                                o, "allocation_bytes",
                                json_integer(json_integer_value(json_object_get(d, "allocation_bytes"))));
                if (!o || json_array_append_new(disks, o) < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        json_object_set_new(out, "disks", json_incref(disks));
        uint64_t weights[MIGRATE_DISKS_MAX];
        json_object_set_new(out, "bytes_total", json_integer((json_int_t)run_vm_weights(out, weights, NULL)));
        *ret = TAKE_PTR(out);
        return 0;
}

int legacy_migrate(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret, CbError *err) {
        _cleanup_(legacy_record_done) LegacyRecord record = { 0 };
        _cleanup_(json_decrefp) json_t *run_vms = NULL;
        _cleanup_(freep) char *text = NULL;
        const json_t *plan, *pvm;
        Provider *sp, *tp;
        LegacyMove *m;
        size_t i;
        int r;

        r = caller_require_role(caller, CB_ROLE_MIGRATION, "move legacy systems", err);
        if (r < 0) {
                if (err && err->kind == CB_ERR_FORBIDDEN)
                        legacy_refused(lg, caller, "legacy.migrate", id, "forbidden", NULL);
                return r;
        }
        if ((r = legacy_load_visible(lg, caller, id, &record, err)) < 0)
                return r;
        const char *state = legacy_state_to_string(record.state);
        plan = record.plan;
        if (record.state != LEGACY_PLANNED || !json_is_object(plan))
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "legacy system '%s' is %s: only a planned system is moved", id, state);
        if (json_is_true(json_object_get(plan, "critical")))
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "legacy system '%s': its plan has a critical concern; plan again", id);
        if (move_find(lg, id))
                return cb_error_set(err, CB_ERR_CONFLICT, "legacy system '%s' is being moved already", id);
        const char *sname = json_string_value(json_object_get(record.source, "provider"));
        const char *tname = json_string_value(json_object_get(json_object_get(plan, "target"), "provider"));
        if (!(sp = connected(lg, sname)))
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "source provider '%s' is not connected",
                                    sname ?: "");
        if (!(tp = connected(lg, tname)))
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "target provider '%s' is not connected",
                                    tname ?: "");
        if (sp->ops != tp->ops)
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "source and target use different drivers");

        run_vms = json_array();
        _cleanup_(freep) LegacyBatch *batch = calloc(1, sizeof(LegacyBatch));
        _cleanup_(freep) VolumeChoice *vc = calloc(1, sizeof(VolumeChoice));
        if (!run_vms || !batch || !vc)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (catalog_list_published(lg->catalog, &vc->catalog) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the catalogue");
        vc->n = legacy_volume_options(vc->catalog, vc->v, LEGACY_VOLUME_OPTIONS_MAX);
        /* Every VM and volume of the plan judged together, as the pre-flight did. */
        r = 0;
        json_array_foreach(json_object_get(plan, "vms"), i, pvm) {
                json_t *rv = NULL;
                if ((r = prepare_vm(lg, caller, id, &record, pvm, vc, batch, &rv, err)) < 0)
                        break;
                json_array_append_new(run_vms, rv);
        }
        json_decref(vc->catalog);
        if (r < 0)
                return r;
        if (json_array_size(run_vms) == 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "legacy system '%s' has no VM in its plan", id);

        char now[32];
        store_now(now);
        /* The whole run's bytes, known before the first one moves: the bar runs once for the plan. */
        uint64_t run_total = 0;
        const json_t *rv0;
        json_array_foreach(run_vms, i, rv0) run_total +=
                (uint64_t)json_integer_value(json_object_get(rv0, "bytes_total"));
        json_t *new_plan = json_deep_copy(plan);
        json_object_set_new(new_plan, "run",
                            json_pack("{s:s, s:s, s:s, s:O, s:s, s:I, s:I, s:I, s:I}", "state", "running",
                                      "started_at", now, "started_by", caller->principal->name, "vms",
                                      run_vms, "step", "queued", "bytes_done", (json_int_t)0, "bytes_total",
                                      (json_int_t)run_total, "rate_bps", (json_int_t)0, "eta_seconds",
                                      (json_int_t)-1));
        text = json_dumps(new_plan, JSON_COMPACT);
        json_decref(new_plan);
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        /* Durable before anything moves: a crash finds what to undo. */
        StateWrite w = {
                .id = id, .from = state, .to = legacy_state_to_string(LEGACY_MIGRATING), .plan = text
        };
        json_t *detail = json_pack("{s:s, s:s, s:I}", "source", sname, "target", tname, "vms",
                                   (json_int_t)json_array_size(run_vms));
        r = legacy_change_state(lg, caller, "legacy.migrate", &w, detail, err);
        json_decref(detail);
        if (r < 0)
                return r;
        legacy_record_done(&record);
        if ((r = legacy_load(lg, id, &record, err)) < 0)
                return r;
        if (!(m = move_new(lg, caller, id, &record, sp, tp)))
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        json_t *rv;
        json_array_foreach(json_object_get(json_object_get(m->record_plan, "run"), "vms"), i, rv) {
                if (i >= m->n)
                        continue;
                fill_spec(lg, m, i,
                          assessed_vm(m->assessment, json_string_value(json_object_get(rv, "name"))), rv, tp);
                uint64_t weights[MIGRATE_DISKS_MAX];
                size_t nw = 0;
                run_vm_weights(rv, weights, &nw);
                /* Within the limits by construction (64 VMs of 16 disks); the move does not hang on it. */
                if (legacy_progress_add_vm(&m->progress, weights, nw) < 0)
                        log_warning("legacy system %s: VM %zu's progress is not followed", id, i + 1);
        }
        if (!move_add(lg, m)) {
                move_free(m);
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "too many moves under way");
        }
        start_waiting(lg);
        return ret ? legacy_load(lg, id, ret, err) : 0;
}

void legacy_recover_moves(Legacy *lg, const char *provider) {
        static const char sql[] = "SELECT system_id FROM legacy_systems WHERE state = ?1 ORDER BY system_id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        CbError err = CB_ERROR_INIT;
        char ids[LEGACY_MOVES_MAX][128];
        size_t n = 0;

        if (store_query(lg->store, sql, STORE_ARGS(SA_TEXT(legacy_state_to_string(LEGACY_MIGRATING))), &rows,
                        "reading the legacy register", &err) < 0) {
                cb_error_clear(&err);
                return;
        }
        while (n < LEGACY_MOVES_MAX && store_rows_next(rows, &err) > 0)
                snprintf(ids[n++], sizeof(ids[0]), "%s", store_rows_text(rows, 0));
        cb_error_clear(&err);
        for (size_t k = 0; k < n; k++) {
                _cleanup_(legacy_record_done) LegacyRecord record = { 0 };
                if (move_find(lg, ids[k]) || legacy_load(lg, ids[k], &record, &err) < 0) {
                        cb_error_clear(&err);
                        continue;
                }
                const json_t *plan = record.plan;
                const char *sname = json_string_value(json_object_get(record.source, "provider"));
                const char *tname =
                        json_string_value(json_object_get(json_object_get(plan, "target"), "provider"));
                Provider *sp = connected(lg, sname), *tp = connected(lg, tname);
                /* Both ends are needed: the target is cleared before the source starts. */
                if (!sp || !tp || (provider && !streq(provider, sname) && !streq(provider, tname)))
                        continue;
                /* The daemon's own act: audited as "system". */
                LegacyMove *m = move_new(lg, &(CbCaller){ .face = "system" }, ids[k], &record, sp, tp);
                if (!m)
                        continue;
                m->recovery = true;
                const json_t *run_vms = json_object_get(json_object_get(plan, "run"), "vms");
                json_decref(m->plan);
                m->plan = plan ? json_deep_copy(plan) : json_null();
                m->n = MIN(m->n, json_array_size(run_vms));
                for (size_t i = 0; i < m->n; i++) {
                        json_t *rv = json_array_get(run_vms, i);
                        fill_spec(lg, m, i,
                                  assessed_vm(record.assessment,
                                              json_string_value(json_object_get(rv, "name"))),
                                  rv, tp);
                }
                log_info("legacy system %s was left mid-move: rolling back", ids[k]);
                if (!move_add(lg, m)) {
                        move_free(m);
                        continue;
                }
                if (move_submit(m) < 0)
                        log_warning("legacy system %s: the worker pool is not taking the rollback", ids[k]);
        }
}
