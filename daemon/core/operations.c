/* SPDX-License-Identifier: Apache-2.0 */
#include "operations.h"

#include <stdio.h>

#include "adopt.h"
#include "attachments.h"
#include "bindings.h"
#include "audit.h"
#include "first-boot.h"
#include "images.h"
#include "log.h"
#include "operations-http.h"
#include "resources-internal.h"

static bool inflight_has(Resources *r, const char *op) {
        for (size_t i = 0; i < r->n_inflight; i++)
                if (streq(r->inflight[i], op))
                        return true;
        return false;
}

static int inflight_add(Resources *r, const char *op) {
        if (r->n_inflight >= r->max_in_flight)
                return -EBUSY;
        /* Grown on demand: the limit may be a million, a quiet broker has a handful. */
        if (r->n_inflight == r->inflight_size) {
                size_t ns = r->inflight_size ? r->inflight_size * 2 : 64;
                void *nv = realloc(r->inflight, ns * sizeof(*r->inflight));
                if (!nv)
                        return -ENOMEM;
                r->inflight = nv;
                r->inflight_size = ns;
        }
        r->inflight[r->n_inflight] = strdup(op);
        if (!r->inflight[r->n_inflight])
                return -ENOMEM;
        r->n_inflight++;
        return 0;
}

static void inflight_remove(Resources *r, const char *op) {
        for (size_t i = 0; i < r->n_inflight; i++)
                if (streq(r->inflight[i], op)) {
                        free(r->inflight[i]);
                        r->inflight[i] = r->inflight[--r->n_inflight];
                        return;
                }
}

/* Keeps an operation that found max_in_flight in flight until one ends
 * (operations_submit_waiting); once. -ENOMEM: it stays pending for the
 * next start, as it did before. */
static int waiting_add(Resources *r, const char *op_id, OperationKind kind, const char *resource_id) {
        for (size_t i = r->waiting_head; i < r->n_waiting; i++)
                if (streq(r->waiting[i].op_id, op_id))
                        return 0;
        if (r->n_waiting == r->waiting_size) {
                /* Drop what was handed over before growing. */
                if (r->waiting_head > 0) {
                        memmove(r->waiting, r->waiting + r->waiting_head,
                                (r->n_waiting - r->waiting_head) * sizeof(*r->waiting));
                        r->n_waiting -= r->waiting_head;
                        r->waiting_head = 0;
                }
                if (r->n_waiting == r->waiting_size) {
                        size_t ns = r->waiting_size ? r->waiting_size * 2 : 256;
                        void *nv = realloc(r->waiting, ns * sizeof(*r->waiting));
                        if (!nv)
                                return -ENOMEM;
                        r->waiting = nv;
                        r->waiting_size = ns;
                }
        }
        snprintf(r->waiting[r->n_waiting].op_id, 64, "%s", op_id);
        snprintf(r->waiting[r->n_waiting].resource_id, 64, "%s", resource_id);
        r->waiting[r->n_waiting].kind = kind;
        r->n_waiting++;
        return 0;
}

static int op_submit(Resources *r, const char *op_id, OperationKind kind, Resource *res, json_t *plan_spec,
                     Reservation held);
static int resource_with_spec(Resources *r, const char *id, Resource *ret, json_t **ret_spec);

int resources_set_max_in_flight(Resources *r, unsigned max) {
        if (max < 1 || max > RESOURCES_MAX_IN_FLIGHT_LIMIT)
                return -EINVAL;
        r->max_in_flight = max;
        return 0;
}

/* Whether operation op_id is still to be run (pending or running on
 * record). A waiting operation may have been run meanwhile (a provider's
 * reconnect resumes every open operation, waiting or not) or ended
 * otherwise; handing it over again would run it twice. A record that
 * cannot be read counts as ended here: the operation stays open and the
 * next resume (reconnect, start) runs it. */
static bool operation_open(Resources *r, const char *op_id) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q = store_query(r->store, "SELECT state FROM operations WHERE id = ?1",
                            STORE_ARGS(SA_TEXT(op_id)), &rows, "reading the operation", &err);
        if (q >= 0)
                q = store_rows_next(rows, &err);
        if (q < 0) {
                log_warning("operation %s: %s; left for the next resume", op_id, err.message);
                return false;
        }
        if (q == 0)
                return false;
        int state = operation_state_from_string(store_rows_text(rows, 0));
        return state == OPERATION_PENDING || state == OPERATION_RUNNING;
}

/* Hands the waiting operations over while there is room; one already in
 * flight or no longer open is dropped (it was run meanwhile). */
static void operations_submit_waiting(Resources *r) {
        while (r->waiting_head < r->n_waiting && r->n_inflight < r->max_in_flight) {
                char op_id[64], resource_id[64];
                OperationKind kind = r->waiting[r->waiting_head].kind;
                snprintf(op_id, sizeof(op_id), "%s", r->waiting[r->waiting_head].op_id);
                snprintf(resource_id, sizeof(resource_id), "%s", r->waiting[r->waiting_head].resource_id);
                r->waiting_head++;
                if (inflight_has(r, op_id) || !operation_open(r, op_id))
                        continue;
                _cleanup_(resource_done) Resource res = { 0 };
                json_t *spec = NULL;
                if (resource_with_spec(r, resource_id, &res, &spec) < 0)
                        continue;
                (void)op_submit(r, op_id, kind, &res, spec, (Reservation){ 0 });
        }
        if (r->waiting_head == r->n_waiting)
                r->waiting_head = r->n_waiting = 0;
}

void operations_state_free(Resources *r) {
        /* Their done callbacks still need the in-flight list. */
        http_operations_cancel_all();
        bindings_cancel_all();
        for (size_t i = 0; i < r->n_inflight; i++)
                free(r->inflight[i]);
        free(r->inflight);
        r->inflight = NULL;
        r->n_inflight = r->inflight_size = 0;
        free(r->waiting);
        r->waiting = NULL;
        r->n_waiting = r->waiting_head = r->waiting_size = 0;
        for (size_t i = 0; i < ELEMENTSOF(r->specs); i++) {
                free(r->specs[i].service_id);
                free(r->specs[i].plan_id);
                json_decref(r->specs[i].spec);
                r->specs[i].spec = NULL;
        }
}

/* The newest unfinished operation of a resource, if any. */
int operation_pending(Resources *r, const char *resource_id, char ret_id[64], char ret_kind[32]) {
        static const char sql[] = "SELECT id, kind FROM operations WHERE resource_id = ?1 "
                                  "AND state IN (?2, ?3) ORDER BY created_at DESC LIMIT 1";
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q;

        q = store_query(r->store, sql,
                        STORE_ARGS(SA_TEXT(resource_id),
                                   SA_TEXT(operation_state_to_string(OPERATION_PENDING)),
                                   SA_TEXT(operation_state_to_string(OPERATION_RUNNING))),
                        &rows, "reading operations", &err);
        if (q >= 0)
                q = store_rows_next(rows, &err);
        if (q < 0)
                return -EIO;
        if (q == 0)
                return 0;
        snprintf(ret_id, 64, "%s", store_rows_text(rows, 0));
        snprintf(ret_kind, 32, "%s", store_rows_text(rows, 1));
        return 1;
}

int operation_record(Store *s, const char *op_id, const char *resource_id, OperationKind kind,
                     const char *now, CbError *err) {
        static const char sql[] =
                "INSERT INTO operations (id, resource_id, kind, state, created_at, updated_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
        int q = store_run(s, sql,
                          STORE_ARGS(SA_TEXT(op_id), SA_TEXT(resource_id),
                                     SA_TEXT(operation_kind_to_string(kind)),
                                     SA_TEXT(operation_state_to_string(OPERATION_PENDING)), SA_TEXT(now)),
                          "recording the operation", err);
        return q < 0 ? q : 0;
}

/* ---- running operations on the pool ---- */

typedef struct OpJob {
        Resources *r;
        Reservation reservation;
        uint64_t ended_ns; /* when the worker's driver call returned (provider_clock_ns) */
        char op_id[64];
        OperationKind kind;
        char resource_id[64];
        char provider[64];
        const DriverOps *ops;
        DriverConn *conn;
        /* What the spec's strings point into, owned by the job: the worker
         * shares nothing with the loop. */
        Resource res;
        json_t *plan_spec;
        ProvisionSpec spec;
        ImageUse image;              /* the system disk's image (issue 9); spec points into it */
        char *seed_meta, *seed_user; /* its first-boot seed's documents, owned */
        char *provider_ref;          /* in: recorded ref; out: provision's answer */
        unsigned stop_timeout_ms;
        AttachmentJob attach;   /* attach, detach: the volume and its slot */
        bool delete_volumes;    /* a VM's deprovision: its attached volumes go too */
        bool resize_run;        /* a resize: the VM ran before it, and runs after */
        char adopt_domain[256]; /* adopt: the provider's domain taken over */
        bool adopt_stopped;     /* adopt: the domain was found shut off */
        CbError err;
} OpJob;

static void op_job_free(OpJob *j) {
        resource_done(&j->res);
        json_decref(j->plan_spec);
        free(j->provider_ref);
        cb_error_clear(&j->err);
        free(j->seed_meta);
        free(j->seed_user);
        attachment_job_done(&j->attach);
        free(j);
}

/* On a worker. The one place where an operation kind becomes a driver
 * call: a driver that runs operations asynchronously hooks in here. */
static int op_job_run(void *userdata) {
        OpJob *j = userdata;
        DriverRef ref = { .kind = j->spec.kind,
                          .resource_id = j->resource_id,
                          .provider_ref = j->provider_ref,
                          .pool = j->spec.pool };

        switch (j->kind) {
        case OPERATION_PROVISION: {
                char *out = NULL;
                if (j->err.kind != CB_ERR_NONE) /* the image was refused when the job was made */
                        return -cb_error_errno(j->err.kind);
                int q = driver_provision(j->ops, j->conn, &j->spec, &out, &j->err);
                /* The VM (if any) runs by now: what its share's release is dated. */
                j->ended_ns = provider_clock_ns();
                if (q >= 0) {
                        free(j->provider_ref);
                        j->provider_ref = out;
                }
                return q;
        }
        case OPERATION_START:
                return driver_start(j->ops, j->conn, &ref, &j->err);
        case OPERATION_STOP:
                return driver_stop(j->ops, j->conn, &ref, j->stop_timeout_ms, &j->err);
        case OPERATION_REBOOT:
                return driver_reboot(j->ops, j->conn, &ref, &j->err);
        case OPERATION_DEPROVISION:
                return driver_deprovision(j->ops, j->conn, &ref, &j->err);
        case OPERATION_ATTACH:
        case OPERATION_DETACH:
                if (j->err.kind != CB_ERR_NONE) /* its attachment was unreadable when the job was made */
                        return -cb_error_errno(j->err.kind);
                return driver_attach_volume(j->ops, j->conn, &ref, j->attach.pool, j->attach.volume_id,
                                            j->attach.target, j->kind == OPERATION_ATTACH, &j->err);
        case OPERATION_ADOPT: {
                /* Borrowed, read only: the stamp owns its strings only when read from a domain. */
                DriverStamp st = { .resource_id = (char *)j->res.id,
                                   .name = (char *)j->res.name,
                                   .project_id = (char *)j->res.project_id,
                                   .approval_no = (char *)j->res.approval_no,
                                   .service_id = (char *)j->res.service_id,
                                   .plan_id = (char *)j->res.plan_id,
                                   .catalog_revision = j->res.catalog_revision };
                DriverInstance found = { 0 };
                if (j->err.kind != CB_ERR_NONE) /* the operation's domain was unreadable */
                        return -cb_error_errno(j->err.kind);
                if (!j->ops->adopt_domain)
                        return cb_error_set(&j->err, CB_ERR_UNSUPPORTED, "provider %s cannot adopt VMs",
                                            j->provider);
                int q = j->ops->adopt_domain(j->conn, j->adopt_domain, &st, &found, &j->err);
                if (q >= 0) {
                        free(j->provider_ref);
                        j->provider_ref = found.provider_ref ? strdup(found.provider_ref) : NULL;
                        j->adopt_stopped = found.state == DRIVER_STATE_SHUTOFF;
                }
                driver_instance_done(&found);
                return q;
        }
        case OPERATION_RESIZE:
                if (j->err.kind != CB_ERR_NONE) /* its record was unreadable when the job was made */
                        return -cb_error_errno(j->err.kind);
                /* The synchronous drivers' resize; an asynchronous one (http)
                 * never gets here: op_submit hands its operations to
                 * operations-http.c, where a plan change is driver_update_async. */
                return driver_resize(j->ops, j->conn, &ref,
                                     &(ResizeSpec){ .vcpus = j->spec.vcpus,
                                                    .memory_mib = j->spec.memory_mib,
                                                    .disk_gib = j->spec.disk_gib,
                                                    .pool = j->spec.pool,
                                                    .run = j->resize_run,
                                                    .stop_timeout_ms = j->stop_timeout_ms },
                                     &j->err);
        default:
                return cb_error_set(&j->err, CB_ERR_INTERNAL, "unknown operation kind %d", (int)j->kind);
        }
}

/* The state a finished operation leaves the resource in; -1: unchanged. */
static int state_after(OperationKind kind, bool ok) {
        switch (kind) {
        case OPERATION_PROVISION:
                return ok ? RESOURCE_ACTIVE : RESOURCE_FAILED;
        case OPERATION_DEPROVISION:
                return ok ? RESOURCE_DELETED : RESOURCE_FAILED;
        case OPERATION_ADOPT:
                /* A failed adoption took nothing over: the record holds no quantity. */
                return ok ? RESOURCE_ACTIVE : RESOURCE_DELETED;
        case OPERATION_STOP:
                return ok ? RESOURCE_STOPPED : -1;
        case OPERATION_ATTACH:
        case OPERATION_DETACH:
        case OPERATION_RESIZE: /* the driver leaves it running or resting as it was, or puts it back */
                return -1;     /* the VM runs or rests as it did */
        default:               /* start, reboot; a failure leaves the state as it was */
                return ok ? RESOURCE_ACTIVE : -1;
        }
}

typedef struct DoneChange {
        const OpJob *job;
        bool ok;
        const char *now;
        char (*volume_ops)[2][64]; /* out: deprovisions of a deleted VM's volumes */
        size_t n_volume_ops;
} DoneChange;

static int done_change(Store *s, void *userdata, CbError *err) {
        static const char upd_op[] =
                "UPDATE operations SET state = ?1, error = ?2, updated_at = ?3 WHERE id = ?4";
        static const char upd_res[] =
                "UPDATE resources SET state = COALESCE(?1, state), "
                "provider_ref = COALESCE(?2, provider_ref), updated_at = ?3 WHERE id = ?4";
        DoneChange *c = userdata;
        const OpJob *j = c->job;
        int to = state_after(j->kind, c->ok);
        bool sets_ref = (j->kind == OPERATION_PROVISION || j->kind == OPERATION_ADOPT) && c->ok;
        int q;

        if (j->kind == OPERATION_ADOPT && c->ok && j->adopt_stopped)
                to = RESOURCE_STOPPED;
        q = store_run(
                s, upd_op,
                STORE_ARGS(SA_TEXT(operation_state_to_string(c->ok ? OPERATION_SUCCEEDED : OPERATION_FAILED)),
                           SA_TEXT(c->ok ? NULL : j->err.message), SA_TEXT(c->now), SA_TEXT(j->op_id)),
                "recording the operation", err);
        if (q >= 0)
                q = store_run(s, upd_res,
                              STORE_ARGS(SA_TEXT(to >= 0 ? resource_state_to_string(to) : NULL),
                                         SA_TEXT(sets_ref ? j->provider_ref : NULL), SA_TEXT(c->now),
                                         SA_TEXT(j->resource_id)),
                              "recording the resource", err);
        if (q >= 0 && (j->kind == OPERATION_ATTACH || j->kind == OPERATION_DETACH) && j->attach.volume_id[0])
                q = attachment_finish(s, j->kind, j->attach.volume_id, c->ok, err);
        if (q >= 0 && j->kind == OPERATION_RESIZE)
                q = resize_finish(s, j->op_id, j->resource_id, c->ok, c->now, err);
        if (q >= 0 && j->kind == OPERATION_DEPROVISION && c->ok && j->res.kind == RESOURCE_KIND_VM)
                q = attachments_vm_deleted(s, j->resource_id, j->delete_volumes, c->now, &c->volume_ops,
                                           &c->n_volume_ops, err);
        return q < 0 ? q : 0;
}

static void op_job_record(int result, OpJob *j);

/* An operation ended (a worker's result, or an http provider's on the
 * loop): recorded, then a waiting one takes its place in flight. */
static void op_job_done(int result, void *userdata) {
        OpJob *j = userdata;
        Resources *r = j->r;
        op_job_record(result, j);
        if (result != -ECANCELED && !r->stopping)
                operations_submit_waiting(r);
}

static void op_job_record(int result, OpJob *j) {
        Resources *r = j->r;
        char now[32], object[96], action[64];
        CbError err = CB_ERROR_INIT;
        bool ok = result >= 0;
        json_t *detail;
        int q;

        inflight_remove(r, j->op_id);
        if (result >= 0 && j->ended_ns)
                reservation_end_ran_by(&j->reservation, j->ended_ns);
        else
                reservation_end(&j->reservation, result >= 0);
        /* What runs on the provider changed (or may have: a failure half-way). */
        if (j->kind != OPERATION_REBOOT) {
                Provider *p = providers_find(r->providers, j->provider);
                if (p)
                        provider_capacity_changed(p);
        }
        if (result == -ECANCELED) {
                /* Shutting down: the operation stays pending and resumes on the next start. */
                op_job_free(j);
                return;
        }
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", j->resource_id);
        snprintf(action, sizeof(action), "resource.%s.%s", operation_kind_to_string(j->kind),
                 ok ? "done" : "failed");
        detail = json_pack("{s:s, s:s, s:s?, s:s?}", "operation", j->op_id, "provider", j->provider, "error",
                           ok ? NULL : j->err.message, "volume_id",
                           j->attach.volume_id[0] ? j->attach.volume_id : NULL);
        DoneChange change = { .job = j, .ok = ok, .now = now };
        q = audit_change(r->store, NULL, &(AuditEntry){ action, object, ok ? "ok" : "failed", NULL, detail },
                         done_change, &change, &err);
        json_decref(detail);
        if (q >= 0)
                for (size_t i = 0; i < change.n_volume_ops; i++) {
                        operation_submit_when_durable(r, change.volume_ops[i][0], OPERATION_DEPROVISION,
                                                      change.volume_ops[i][1], &(Reservation){ 0 });
                        resources_notify(r, change.volume_ops[i][1], false);
                }
        free(change.volume_ops);
        if (q < 0) {
                /* Not on record, not done: the operation stays open and runs again
                 * (idempotently) on the next start. */
                log_error("cannot record operation %s: %s", j->op_id, err.message);
                cb_error_clear(&err);
                op_job_free(j);
                return;
        }
        if (!ok)
                log_warning("operation %s (%s of %s) failed: %s", j->op_id, operation_kind_to_string(j->kind),
                            j->resource_id, j->err.message);
        resources_notify(r, j->resource_id, false);
        op_job_free(j);
}

/* An http provider's operation ended (on the loop): recorded exactly like a
 * worker's result. The instance id at the provider is the resource id. */
static void http_op_done(int result, const char *error, void *userdata) {
        OpJob *j = userdata;
        if (result < 0)
                cb_error_set(&j->err, CB_ERR_UNAVAILABLE, "%s", error);
        else if (j->kind == OPERATION_PROVISION) {
                free(j->provider_ref);
                j->provider_ref = strdup(j->resource_id);
        }
        /* A success is committed relaxed (store_relaxed_begin: written, not
         * yet fdatasync'd; the next durable commit, store_sync() at reconcile
         * or before an audit anchor makes it durable). Why that is safe: the
         * operation's record and its phase (SEND, or POLL with the provider's
         * operation) were durable before the provider was asked, so a power
         * loss that drops this commit leaves the operation open, and the
         * restart resumes it: the same PUT again answers 200 (the instance
         * exists), a DELETE again 410 Gone (then verified gone), and the
         * outcome and its audit record are written again. A kill -9 loses
         * nothing (the WAL frames are in the kernel's cache). A failure stays
         * durable: redoing it could create what the department was told had
         * failed. */
        if (result >= 0)
                store_relaxed_begin(j->r->store);
        Store *store = j->r->store; /* op_job_done frees j */
        op_job_done(result, j);
        if (result >= 0)
                store_relaxed_end(store);
}

/* The plan's os_image, from the image library of the provider the VM is
 * placed on, into the spec. A name the library has never held leaves the
 * disk empty (plans published before the library); one that is retired,
 * of another arch or not on this provider fails the provision, naming
 * os_image. */
static void op_job_image(Resources *r, Provider *p, OpJob *j) {
        CatalogImageFacts facts;

        if (j->spec.kind != DRIVER_OBJECT_VM || !j->spec.os_image || j->spec.disk_gib == 0)
                return;
        if (images_facts(r->store, j->spec.os_image, j->spec.arch ? j->spec.arch : "x86_64", &facts) == 0 &&
            !facts.registered) {
                log_warning("resource %s: os_image %s is not in the image library: empty system disk",
                            j->resource_id, j->spec.os_image);
                return;
        }
        if (images_lookup_use(r->store, p->name, j->spec.os_image, j->spec.arch, &j->image, &j->err) < 0)
                return;
        j->spec.image_pool = j->image.pool;
        j->spec.image_volume = j->image.volume;
        j->spec.image_format = j->image.format;
        j->spec.image_digest_alg = j->image.digest_alg;
        j->spec.image_digest = j->image.digest;
        /* A VM with an OS gets its first-boot seed (instance-id, hostname, keys). */
        if (first_boot_seed(r->store, j->resource_id, j->spec.name, &j->seed_meta, &j->seed_user, &j->err) <
            0)
                return;
        j->spec.seed_meta_data = j->seed_meta;
        j->spec.seed_user_data = j->seed_user;
}

/* Builds the job for a recorded operation and submits it; the provider
 * must be connected. Called for new operations and on recovery. Takes
 * over *res (zeroed) and the spec (a reference, may be NULL). held: the
 * reservation of a new provision, handed over (dropped on failure). A
 * provision resumed on recovery holds none: its domain may already run and be
 * in the host's reading, and counting it twice would refuse requests that fit
 * (the next reading shows it either way). */
static bool operation_deletes_volumes(Resources *r, const char *op_id);

static int op_submit(Resources *r, const char *op_id, OperationKind kind, Resource *res, json_t *plan_spec,
                     Reservation held) {
        Provider *p = providers_find(r->providers, res->provider ? res->provider : "");
        OpJob *j;
        int q;

        if (inflight_has(r, op_id)) {
                reservation_drop(&held);
                json_decref(plan_spec);
                return 0;
        }
        if (!p || p->status != PROVIDER_CONNECTED || !p->conn) {
                reservation_drop(&held);
                json_decref(plan_spec);
                return -EAGAIN; /* resumed when the provider connects */
        }
        if (r->n_inflight >= r->max_in_flight) {
                /* Handed over when one ends; a provision waiting holds no share
                 * of its host (as one resumed after a crash: the next reading
                 * counts it). */
                reservation_drop(&held);
                json_decref(plan_spec);
                /* Once per queue, not per operation: a burst of 100k would
                 * write as many lines. */
                if (r->waiting_head == r->n_waiting)
                        log_info("%zu operations in flight (operations.max_in_flight %u): more wait in order",
                                 r->n_inflight, r->max_in_flight);
                return waiting_add(r, op_id, kind, res->id) < 0 ? -ENOMEM : 0;
        }

        j = calloc(1, sizeof(*j));
        if (!j) {
                reservation_drop(&held);
                json_decref(plan_spec);
                return -ENOMEM;
        }
        j->r = r;
        j->reservation = held;
        snprintf(j->op_id, sizeof(j->op_id), "%s", op_id);
        j->kind = kind;
        snprintf(j->resource_id, sizeof(j->resource_id), "%s", res->id);
        snprintf(j->provider, sizeof(j->provider), "%s", p->name);
        j->ops = p->ops;
        j->conn = p->conn;
        j->stop_timeout_ms = r->stop_timeout_ms;
        j->res = *res;
        *res = (Resource){ 0 };
        j->plan_spec = plan_spec;
        j->provider_ref = j->res.provider_ref ? strdup(j->res.provider_ref) : NULL;
        {
                const json_t *spec = j->plan_spec;
                bool volume = j->res.kind == RESOURCE_KIND_VOLUME;
                j->spec = (ProvisionSpec){
                        .kind = volume ? DRIVER_OBJECT_VOLUME : DRIVER_OBJECT_VM,
                        .resource_id = j->res.id,
                        .name = j->res.name,
                        .project_id = j->res.project_id,
                        .approval_no = j->res.approval_no,
                        .catalog_service_id = j->res.service_id,
                        .catalog_plan_id = j->res.plan_id,
                        .catalog_revision = j->res.catalog_revision,
                        .vcpus = (unsigned)json_integer_value(json_object_get(spec, "vcpus")),
                        .memory_mib = (uint64_t)json_integer_value(json_object_get(spec, "memory_mib")),
                        .disk_gib = (uint64_t)json_integer_value(
                                json_object_get(spec, volume ? "size_gib" : "disk_gib")),
                        .arch = jstr(spec, "arch"),
                        .network = jstr(spec, "network"),
                        .pool = jstr(spec, "pool"),
                        .os_image = jstr(spec, "os_image"),
                        .domain_type = p->domain_type,
                };
                if (kind == OPERATION_PROVISION)
                        op_job_image(r, p, j);
                if (kind == OPERATION_ATTACH || kind == OPERATION_DETACH)
                        (void)attachment_job(r, op_id, &j->attach, &j->err);
                /* Only a VM's deprovision reads it (op_job_change), and only a VM's
                 * can have asked it (act() refuses delete_volumes otherwise): no
                 * read of the operation for the others. */
                if (kind == OPERATION_DEPROVISION && j->res.kind == RESOURCE_KIND_VM)
                        j->delete_volumes = operation_deletes_volumes(r, op_id);
                if (kind == OPERATION_ADOPT &&
                    adopt_operation_domain(r, op_id, j->adopt_domain, sizeof(j->adopt_domain)) < 0)
                        cb_error_set(&j->err, CB_ERR_INTERNAL, "operation %s names no domain to adopt",
                                     op_id);
                if (kind == OPERATION_RESIZE)
                        (void)resize_job_runs(r, op_id, &j->resize_run, &j->err);
        }
        q = inflight_add(r, op_id);
        if (q < 0) {
                reservation_drop(&j->reservation);
                op_job_free(j);
                return q;
        }
        /* An http provider's operations run on the loop, not on a worker. */
        if (driver_is_async(j->ops)) {
                CbError e = CB_ERROR_INIT;
                q = http_operation_start(r->store, r->providers, r->secrets, op_id, kind, &j->res,
                                         j->plan_spec, http_op_done, j, &e);
                if (q < 0)
                        log_warning("operation %s: %s", op_id, e.message);
                cb_error_clear(&e);
        } else
                q = worker_submit(r->pool, op_job_run, op_job_done, j);
        if (q < 0) {
                inflight_remove(r, op_id);
                reservation_drop(&j->reservation);
                op_job_free(j);
                return q;
        }
        /* A transaction of its own, so that in a batch it joins the group commit. Not for an
         * http provider's operation: a restart resumes pending and running alike, so this
         * commit bought nothing but an fsync per operation; the operation's own first save
         * (the provider accepted it and it is being polled) marks it running. */
        if (!driver_is_async(j->ops) && store_begin(r->store) == 0) {
                CbError err = CB_ERROR_INIT;
                if (store_run(r->store, "UPDATE operations SET state = ?1 WHERE id = ?2 AND state = ?3",
                              STORE_ARGS(SA_TEXT(operation_state_to_string(OPERATION_RUNNING)),
                                         SA_TEXT(op_id),
                                         SA_TEXT(operation_state_to_string(OPERATION_PENDING))),
                              "marking the operation running", &err) < 0)
                        store_rollback(r->store);
                else
                        store_commit(r->store);
                cb_error_clear(&err);
        }
        return 0;
}

/* The spec of a plan in a pinned revision (borrowed), or NULL. */
static json_t *plan_spec(Resources *r, const char *service_id, unsigned revision, const char *plan_id) {
        json_t *svc = NULL, *plan, *spec = NULL;
        size_t i;

        if (!service_id || !plan_id)
                return NULL;
        for (i = 0; i < ELEMENTSOF(r->specs); i++)
                if (r->specs[i].spec && r->specs[i].revision == revision &&
                    streq(r->specs[i].service_id, service_id) && streq(r->specs[i].plan_id, plan_id))
                        return r->specs[i].spec;
        if (catalog_get_revision(projects_catalog(r->projects), service_id, revision, &svc) < 0)
                return NULL;
        json_array_foreach(json_object_get(svc, "plans"), i, plan) if (streq_ptr(jstr(plan, "id"), plan_id))
                spec = json_object_get(plan, "spec");
        if (!spec) {
                json_decref(svc);
                return NULL;
        }
        char *s = strdup(service_id), *p = strdup(plan_id);
        if (!s || !p) {
                free(s);
                free(p);
                json_decref(svc);
                return NULL;
        }
        size_t k = r->next_spec++ % ELEMENTSOF(r->specs);
        free(r->specs[k].service_id);
        free(r->specs[k].plan_id);
        json_decref(r->specs[k].spec);
        r->specs[k].service_id = s;
        r->specs[k].plan_id = p;
        r->specs[k].revision = revision;
        r->specs[k].spec = json_incref(spec);
        json_decref(svc);
        return spec;
}

/* The record plus a copy of the plan spec it was ordered with (pinned
 * revision; NULL when the catalogue no longer has it): a copy, since the
 * job reads it on a worker while the cache may drop its entry. */
static int resource_with_spec(Resources *r, const char *id, Resource *ret, json_t **ret_spec) {
        json_t *spec;
        int q = resources_record(r, id, ret);
        if (q < 0)
                return q;
        spec = plan_spec(r, ret->service_id, ret->catalog_revision, ret->plan_id);
        *ret_spec = spec ? json_deep_copy(spec) : NULL;
        return 0;
}

json_t *resources_plan_spec(Resources *r, const Resource *res) {
        json_t *spec = plan_spec(r, res->service_id, res->catalog_revision, res->plan_id);
        return spec ? json_deep_copy(spec) : NULL;
}

/* The provider hears of an operation only once its record is durable. */
typedef struct DeferredOp {
        Resources *r;
        char op_id[64];
        OperationKind kind;
        char resource_id[64];
        Reservation held;
} DeferredOp;

static void submit_when_durable(void *userdata, int result) {
        DeferredOp *d = userdata;
        _cleanup_(resource_done) Resource res = { 0 };
        json_t *spec = NULL;

        if (result >= 0 && resource_with_spec(d->r, d->resource_id, &res, &spec) == 0) {
                char provider[64];
                snprintf(provider, sizeof(provider), "%s", res.provider ? res.provider : "(none)");
                if (op_submit(d->r, d->op_id, d->kind, &res, spec, d->held) == -EAGAIN)
                        log_info("operation %s waits for provider %s", d->op_id, provider);
        } else
                reservation_drop(&d->held);
        free(d);
}

/* Takes over *held (zeroed): it ends with the operation, or now on failure. */
void operation_submit_when_durable(Resources *r, const char *op_id, OperationKind kind,
                                   const char *resource_id, Reservation *held) {
        DeferredOp *d = calloc(1, sizeof(*d));
        Reservation h = *held;
        *held = (Reservation){ 0 };
        if (!d) {
                reservation_drop(&h);
                return; /* recovered by the next reconcile */
        }
        d->r = r;
        d->held = h;
        snprintf(d->op_id, sizeof(d->op_id), "%s", op_id);
        d->kind = kind;
        snprintf(d->resource_id, sizeof(d->resource_id), "%s", resource_id);
        if (store_defer(r->store, submit_when_durable, d) < 0) {
                reservation_drop(&d->held);
                free(d);
        }
}

/* Whether the deprovision op_id was asked with delete_volumes. */
static bool operation_deletes_volumes(Resources *r, const char *op_id) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q = store_query(r->store, "SELECT delete_volumes FROM operations WHERE id = ?1",
                            STORE_ARGS(SA_TEXT(op_id)), &rows, "reading operations", &err);
        if (q >= 0)
                q = store_rows_next(rows, &err);
        return q > 0 && store_rows_int(rows, 0) != 0;
}

int operation_first(Resources *r, const char *resource_id, char ret[64]) {
        static const char sql[] =
                "SELECT id FROM operations WHERE resource_id = ?1 ORDER BY created_at LIMIT 1";
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q;

        q = store_query(r->store, sql, STORE_ARGS(SA_TEXT(resource_id)), &rows, "reading operations", &err);
        if (q >= 0)
                q = store_rows_next(rows, &err);
        if (q <= 0)
                return -ENOENT;
        snprintf(ret, 64, "%s", store_rows_text(rows, 0));
        return 0;
}

void operation_done(Operation *o) {
        if (!o)
                return;
        free(o->mem_);
        *o = (Operation){ 0 };
}

#define OPERATION_COLUMNS                                                                           \
        "o.id, o.resource_id, o.kind, o.state, o.error, o.created_at, o.updated_at, r.department, " \
        "o.adopt_domain"

/* An operation from a row of OPERATION_COLUMNS. */
static int operation_from_row(StoreRows *rows, Operation *ret) {
        Operation o = { 0 };
        int kind = operation_kind_from_string(store_rows_text(rows, 2));
        int state = operation_state_from_string(store_rows_text(rows, 3));
        if (kind < 0 || state < 0)
                return -EBADMSG;
        if (store_rows_texts(rows,
                             (const StoreText[]){ { 0, &o.id },
                                                  { 1, &o.resource_id },
                                                  { 4, &o.error },
                                                  { 5, &o.created_at },
                                                  { 6, &o.updated_at },
                                                  { 8, &o.domain } },
                             6, &o.mem_) < 0)
                return -ENOMEM;
        o.kind = (OperationKind)kind;
        o.state = (OperationState)state;
        *ret = o;
        return 0;
}

void operation_list_done(OperationList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                operation_done(&l->items[i]);
        free(l->items);
        *l = (OperationList){ 0 };
}

int operations_list(Resources *r, const CbCaller *caller, const char *kind, const char *state,
                    const char *resource_id, const Page *page, OperationList *ret,
                    char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        static const char sql[] =
                "SELECT " OPERATION_COLUMNS " FROM operations o JOIN resources r ON r.id = o.resource_id "
                "WHERE (o.created_at, o.id) > (?1, ?2) AND (?4 IS NULL OR o.kind = ?4) "
                "AND (?5 IS NULL OR o.state = ?5) AND (?6 IS NULL OR o.resource_id = ?6) "
                "AND (?7 IS NULL OR r.department = ?7) ORDER BY o.created_at, o.id LIMIT ?3";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(operation_list_done) OperationList list = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
        const char *dept = NULL;
        int q;

        q = caller_require_role(caller, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read operations", err);
        if (q < 0)
                return q;
        if (!caller_has_role(caller, RESOURCE_READERS)) {
                dept = caller->principal->department;
                if (!dept)
                        return cb_error_set(err, CB_ERR_FORBIDDEN, "%s is bound to no department",
                                            caller->principal->name);
        }
        if (kind && operation_kind_from_string(kind) < 0) {
                char names[256];
                return cb_error_set_field(err, CB_ERR_VALIDATION, "kind", "kind: must be one of %s",
                                          string_table_join(operation_kind_table_get(),
                                                            operation_kind_table_size(), names,
                                                            sizeof(names)));
        }
        if (state && operation_state_from_string(state) < 0) {
                char names[256];
                return cb_error_set_field(err, CB_ERR_VALIDATION, "state", "state: must be one of %s",
                                          string_table_join(operation_state_table_get(),
                                                            operation_state_table_size(), names,
                                                            sizeof(names)));
        }
        if (resource_id && !id_is_valid(resource_id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource_id",
                                          "resource_id: not a valid id");
        /* The first page starts after ("", ""), before every record. */
        q = store_query(r->store, sql,
                        STORE_ARGS(SA_TEXT(page->has_after ? page->after[0] : ""),
                                   SA_TEXT(page->has_after ? page->after[1] : ""),
                                   SA_INT((int64_t)page->limit + 1), SA_TEXT(kind), SA_TEXT(state),
                                   SA_TEXT(resource_id), SA_TEXT(dept)),
                        &rows, "listing operations", err);
        if (q < 0)
                return q;
        list.items = calloc(page->limit + 1, sizeof(*list.items));
        if (!list.items)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        while ((q = store_rows_next(rows, err)) > 0) {
                if (list.n == page->limit) {
                        const Operation *last = &list.items[list.n - 1];
                        page_token_make(last->created_at, last->id, next);
                        break;
                }
                if (operation_from_row(rows, &list.items[list.n]) < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot read an operation of the list");
                list.n++;
        }
        if (q < 0)
                return q;
        *ret = list;
        list = (OperationList){ 0 };
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

/* The operation in rows' row (q: store_rows_next's answer, > 0), if the
 * caller may read its resource; what operations_get answers of it. */
static int visible_operation(const CbCaller *caller, StoreRows *rows, const char *id, Operation *ret,
                             CbError *err) {
        _cleanup_(operation_done) Operation o = { 0 };
        int q;

        /* An operation on a resource the caller may not read is an unknown one. */
        if (!caller_may_see(caller, store_rows_text(rows, 7), RESOURCE_READERS))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no operation '%s'", id);
        q = operation_from_row(rows, &o);
        if (q == -EBADMSG)
                return cb_error_set(err, CB_ERR_INTERNAL, "operation '%s' has kind '%s', state '%s'", id,
                                    store_rows_text(rows, 2), store_rows_text(rows, 3));
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = o;
        o = (Operation){ 0 };
        return 0;
}

int operations_get(Resources *r, const CbCaller *caller, const char *id, Operation *ret, CbError *err) {
        static const char sql[] =
                "SELECT " OPERATION_COLUMNS " FROM operations o JOIN resources r ON r.id = o.resource_id "
                "WHERE o.id = ?1";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q;

        q = caller_require_role(caller, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read operations", err);
        if (q < 0)
                return q;
        q = store_query(r->store, sql, STORE_ARGS(SA_TEXT(id)), &rows, "reading operations", err);
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q < 0)
                return q;
        if (q == 0)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no operation '%s'", id);
        return visible_operation(caller, rows, id, ret, err);
}

/* One statement where it was two (the latest's id, then operations_get of
 * it; the subquery is that first statement, so ties go the same way): the
 * same answers, in the same order of precedence (none, the role, the
 * resource's visibility). */
int operations_latest(Resources *r, const CbCaller *caller, const char *resource_id, Operation *ret,
                      CbError *err) {
        /* Timestamps have whole seconds: within one second a provision is
         * older than anything else, a deprovision newer. */
        static const char sql[] =
                "SELECT " OPERATION_COLUMNS " FROM operations o JOIN resources r ON r.id = o.resource_id "
                "WHERE o.id = (SELECT id FROM operations WHERE resource_id = ?1 ORDER BY created_at DESC, "
                "CASE kind WHEN ?2 THEN 0 WHEN ?3 THEN 2 ELSE 1 END LIMIT 1)";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        char id[64];
        int q;

        q = store_query(r->store, sql,
                        STORE_ARGS(SA_TEXT(resource_id),
                                   SA_TEXT(operation_kind_to_string(OPERATION_DEPROVISION)),
                                   SA_TEXT(operation_kind_to_string(OPERATION_PROVISION))),
                        &rows, "reading operations", err);
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q < 0)
                return q;
        if (q == 0)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "resource '%s' has no operation", resource_id);
        snprintf(id, sizeof(id), "%s", store_rows_text(rows, 0));
        q = caller_require_role(caller, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read operations", err);
        if (q < 0)
                return q;
        return visible_operation(caller, rows, id, ret, err);
}

/* Resubmits the unfinished operations on provider p. */
void operations_resume(Resources *r, Provider *p) {
        static const char sql[] = "SELECT o.id, o.kind, o.resource_id FROM operations o JOIN resources r "
                                  "ON r.id = o.resource_id WHERE o.state IN (?1, ?2) AND r.provider = ?3 "
                                  "ORDER BY o.created_at";
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        StoreRows *rows = NULL;
        char(*ops)[3][64] = NULL;
        size_t n = 0;

        if (store_query(r->store, sql,
                        STORE_ARGS(SA_TEXT(operation_state_to_string(OPERATION_PENDING)),
                                   SA_TEXT(operation_state_to_string(OPERATION_RUNNING)), SA_TEXT(p->name)),
                        &rows, "reading unfinished operations", &err) < 0) {
                log_error("cannot resume operations on provider %s: %s", p->name, err.message);
                return;
        }
        /* Read whole first: submitting writes. */
        while (store_rows_next(rows, &err) > 0) {
                void *nv = realloc(ops, (n + 1) * sizeof(*ops));
                if (!nv)
                        break;
                ops = nv;
                for (int i = 0; i < 3; i++)
                        snprintf(ops[n][i], 64, "%s", store_rows_text(rows, i));
                n++;
        }
        store_rows_done(rows);
        for (size_t i = 0; i < n; i++) {
                _cleanup_(resource_done) Resource res = { 0 };
                json_t *spec = NULL;
                if (inflight_has(r, ops[i][0]) || resource_with_spec(r, ops[i][2], &res, &spec) < 0)
                        continue;
                int kind = operation_kind_from_string(ops[i][1]);
                if (kind < 0) {
                        log_error("operation %s has unknown kind '%s': left as it is", ops[i][0], ops[i][1]);
                        json_decref(spec);
                        continue;
                }
                log_info("resuming operation %s (%s of %s)", ops[i][0], ops[i][1], ops[i][2]);
                op_submit(r, ops[i][0], (OperationKind)kind, &res, spec, (Reservation){ 0 });
        }
        free(ops);
}
