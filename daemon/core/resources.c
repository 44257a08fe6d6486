/* SPDX-License-Identifier: Apache-2.0 */
#include "resources.h"

#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "audit.h"
#include "catalog-validate.h"
#include "digest.h"
#include "json-util.h"
#include "store-json.h"
#include "log.h"
#include "states.h"

/* Who may see every resource; departments see their own. */
#define RESOURCE_READERS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_FINANCE | CB_ROLE_AUDITOR)
/* Who may act on any resource (Art. 28: the authority; operators run the platform). */
#define RESOURCE_ACTORS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY)
/* A graceful stop gets this long before the VM is forced off, unless configured. */
#define STOP_TIMEOUT_MS 30000
#define INFLIGHT_MAX    4096

struct Resources {
        Store *store;
        Projects *projects;
        Providers *providers;
        WorkerPool *pool;
        ResourceChangedFn changed;
        void *changed_userdata;
        unsigned stop_timeout_ms;
        /* Operation ids handed to the pool and not back yet: never submitted twice. */
        char *inflight[INFLIGHT_MAX];
        size_t n_inflight;
        struct Watch *watches[256];
        size_t n_watches;
        /* Plan specs by (service, revision, plan), parsed once: a revision
         * that has left draft is never edited (Art. 12), so an entry never
         * goes stale. Round robin over a few slots: a burst orders few plans. */
        struct {
                char *service_id, *plan_id;
                unsigned revision;
                json_t *spec;
        } specs[16];
        size_t next_spec;
};

/* Which resources changed, and in what order, since this process opened
 * the store: every change to a resource's row takes the next number, in
 * the transaction of the change (a rolled-back change takes none). A
 * reconcile compares the record with an inventory read after it was
 * queued, so a resource that changed after the queueing is left to the
 * next one; timestamps (whole seconds) cannot tell "before" from "in the
 * same second", a counter can. Kept in the connection's TEMP schema, not
 * in the database: a change made before this process started is older
 * than any inventory this process queues, which is exactly what an
 * absent row says. Triggers, so that no code path can forget it. */
static const char resource_changes_sql[] =
        "CREATE TEMP TABLE IF NOT EXISTS resource_changes (id TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS temp.resource_changes_seq ON resource_changes(seq);"
        "CREATE TEMP TRIGGER IF NOT EXISTS resource_changed_insert AFTER INSERT ON main.resources BEGIN"
        "  INSERT INTO resource_changes (id, seq) VALUES (NEW.id,"
        "    (SELECT COALESCE(MAX(seq), 0) + 1 FROM resource_changes))"
        "  ON CONFLICT (id) DO UPDATE SET seq = excluded.seq;"
        "END;"
        "CREATE TEMP TRIGGER IF NOT EXISTS resource_changed_update AFTER UPDATE ON main.resources BEGIN"
        "  INSERT INTO resource_changes (id, seq) VALUES (NEW.id,"
        "    (SELECT COALESCE(MAX(seq), 0) + 1 FROM resource_changes))"
        "  ON CONFLICT (id) DO UPDATE SET seq = excluded.seq;"
        "END;";

/* The number of the newest change so far (0: none since the start); -1
 * when unreadable, which makes the reconcile compare nothing (the next one
 * will) rather than compare what may have changed. */
static int64_t resource_change_seq(Resources *r) {
        static const char sql[] = "SELECT COALESCE(MAX(seq), 0) FROM resource_changes";
        sqlite3_stmt *st;
        int64_t seq = -1;

        if (store_prepare(r->store, sql, &st) < 0)
                return -1;
        if (sqlite3_step(st) == SQLITE_ROW)
                seq = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return seq;
}

int resources_new(Store *store, Projects *projects, Providers *providers, WorkerPool *pool, Resources **ret) {
        CbError err = CB_ERROR_INIT;
        Resources *r;

        if (store_exec(store, resource_changes_sql, &err) < 0) {
                log_error("cannot set up the resource change counter: %s", err.message);
                cb_error_clear(&err);
                return -EIO;
        }
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        *r = (Resources){ .store = store,
                          .projects = projects,
                          .providers = providers,
                          .pool = pool,
                          .stop_timeout_ms = STOP_TIMEOUT_MS };
        *ret = r;
        return 0;
}

Resources *resources_free(Resources *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_inflight; i++)
                free(r->inflight[i]);
        for (size_t i = 0; i < r->n_watches; i++)
                free(r->watches[i]);
        for (size_t i = 0; i < ELEMENTSOF(r->specs); i++) {
                free(r->specs[i].service_id);
                free(r->specs[i].plan_id);
                json_decref(r->specs[i].spec);
        }
        free(r);
        return NULL;
}

void resources_set_stop_timeout(Resources *r, unsigned timeout_ms) {
        r->stop_timeout_ms = timeout_ms;
}

void resources_set_change_callback(Resources *r, ResourceChangedFn fn, void *userdata) {
        r->changed = fn;
        r->changed_userdata = userdata;
}

static void notify_full(Resources *r, const char *id, bool created) {
        if (r->changed)
                r->changed(id, created, r->changed_userdata);
}

static void notify(Resources *r, const char *id) {
        notify_full(r, id, false);
}

static bool inflight_has(Resources *r, const char *op) {
        for (size_t i = 0; i < r->n_inflight; i++)
                if (streq(r->inflight[i], op))
                        return true;
        return false;
}

static int inflight_add(Resources *r, const char *op) {
        if (r->n_inflight >= INFLIGHT_MAX)
                return -EBUSY;
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

static int random_id(const char *prefix, char *buf, size_t n) {
        uint8_t b[8];
        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                return -EIO;
        snprintf(buf, n, "%s%02x%02x%02x%02x%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3], b[4], b[5],
                 b[6], b[7]);
        return 0;
}

/* ---- the record ---- */

#define RESOURCE_COLUMNS                                                                                    \
        "id, name, project_id, system_id, department, service_id, plan_id, catalog_revision, approval_no, " \
        "cost_kind, committed_fen, provider, provider_ref, state, created_at, created_by, updated_at, kind"

static json_t *resource_row_json(sqlite3_stmt *st) {
        return store_json_row(st, true);
}

int resources_record(Resources *r, const char *id, json_t **ret) {
        static const char sql[] = "SELECT " RESOURCE_COLUMNS " FROM resources WHERE id = ?";
        sqlite3_stmt *st;
        int q;

        if (store_prepare(r->store, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        if (q == SQLITE_ROW)
                *ret = resource_row_json(st);
        sqlite3_reset(st);
        return q == SQLITE_ROW ? (*ret ? 0 : -ENOMEM) : q == SQLITE_DONE ? -ENOENT : -EIO;
}

static const char *jstr(const json_t *o, const char *k) {
        return json_string_value(json_object_get(o, k));
}

static int exec_bind(Resources *r, const char *sql, const char *const *args, size_t n) {
        sqlite3_stmt *st;
        int q;
        if (store_prepare(r->store, sql, &st) < 0)
                return -EIO;
        for (size_t i = 0; i < n; i++)
                if (args[i])
                        sqlite3_bind_text(st, (int)i + 1, args[i], -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, (int)i + 1);
        q = sqlite3_step(st);
        sqlite3_reset(st);
        return q == SQLITE_DONE ? 0 : -EIO;
}

/* The newest unfinished operation of a resource, if any. */
static int pending_operation(Resources *r, const char *resource_id, char ret_id[64], char ret_kind[32]) {
        static const char sql[] = "SELECT id, kind FROM operations WHERE resource_id = ? "
                                  "AND state IN ('pending','running') ORDER BY created_at DESC LIMIT 1";
        sqlite3_stmt *st;
        int q;
        if (store_prepare(r->store, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, resource_id, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        if (q == SQLITE_ROW) {
                snprintf(ret_id, 64, "%s", sqlite3_column_text(st, 0));
                snprintf(ret_kind, 32, "%s", sqlite3_column_text(st, 1));
        }
        sqlite3_reset(st);
        return q == SQLITE_ROW ? 1 : q == SQLITE_DONE ? 0 : -EIO;
}

/* ---- capacity held by provisions under way ---- */

/* A provision's share of its provider, from placement until the provision
 * ends; moved from the request to the deferred submit to the job. p NULL:
 * nothing held. */
typedef struct Reservation {
        Provider *p;
        unsigned vcpus;
        uint64_t memory_mib;
} Reservation;

static Reservation reservation_take(Provider *p, unsigned vcpus, uint64_t memory_mib) {
        provider_reserve(p, vcpus, memory_mib);
        return (Reservation){ .p = p, .vcpus = vcpus, .memory_mib = memory_mib };
}

/* ran: the provision ended with the VM running (its share stays held until
 * the provider's capacity is read again). */
static void reservation_end(Reservation *res, bool ran) {
        if (res->p)
                provider_release(res->p, res->vcpus, res->memory_mib, ran);
        *res = (Reservation){ 0 };
}

static void reservation_drop(Reservation *res) {
        reservation_end(res, false);
}

/* ---- running operations on the pool ---- */

typedef struct OpJob {
        Resources *r;
        Reservation reservation;
        char op_id[64];
        OperationKind kind;
        char resource_id[64];
        char provider[64];
        const DriverOps *ops;
        DriverConn *conn;
        /* provision: the spec's strings, owned */
        json_t *spec_src; /* the resource record + plan spec, owned */
        ProvisionSpec spec;
        char *provider_ref; /* in: recorded ref; out: provision's answer */
        unsigned stop_timeout_ms;
        CbError err;
} OpJob;

static void op_job_free(OpJob *j) {
        json_decref(j->spec_src);
        free(j->provider_ref);
        cb_error_clear(&j->err);
        free(j);
}

static int op_job_run(void *userdata) {
        OpJob *j = userdata;
        DriverRef ref = { .kind = j->spec.kind,
                          .resource_id = j->resource_id,
                          .provider_ref = j->provider_ref,
                          .pool = j->spec.pool };

        switch (j->kind) {
        case OPERATION_PROVISION: {
                char *out = NULL;
                int q = driver_provision(j->ops, j->conn, &j->spec, &out, &j->err);
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
        default:
                return cb_error_set(&j->err, CB_ERR_INTERNAL, "unknown operation kind %d", (int)j->kind);
        }
}

/* The state a finished operation leaves the resource in; NULL: unchanged. */
static const char *state_after(OperationKind kind, bool ok) {
        switch (kind) {
        case OPERATION_PROVISION:
                return resource_state_to_string(ok ? RESOURCE_ACTIVE : RESOURCE_FAILED);
        case OPERATION_DEPROVISION:
                return resource_state_to_string(ok ? RESOURCE_DELETED : RESOURCE_FAILED);
        case OPERATION_STOP:
                return ok ? resource_state_to_string(RESOURCE_STOPPED) : NULL;
        default: /* start, reboot; a failure leaves the state as it was */
                return ok ? resource_state_to_string(RESOURCE_ACTIVE) : NULL;
        }
}

static void op_job_done(int result, void *userdata) {
        OpJob *j = userdata;
        Resources *r = j->r;
        static const char upd_op[] =
                "UPDATE operations SET state = ?, error = ?, updated_at = ? WHERE id = ?";
        static const char upd_res[] = "UPDATE resources SET state = COALESCE(?, state), "
                                      "provider_ref = COALESCE(?, provider_ref), updated_at = ? WHERE id = ?";
        const char *new_state;
        char now[32], object[96];
        CbError err = CB_ERROR_INIT;
        bool ok = result >= 0;

        inflight_remove(r, j->op_id);
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
        new_state = state_after(j->kind, ok);
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", j->resource_id);
        if (store_begin(r->store) < 0) {
                log_error("cannot record operation %s: %s", j->op_id, sqlite3_errmsg(store_db(r->store)));
                op_job_free(j);
                return;
        }
        if (exec_bind(r, upd_op,
                      (const char *const[]){
                              operation_state_to_string(ok ? OPERATION_SUCCEEDED : OPERATION_FAILED),
                              ok ? NULL : j->err.message, now, j->op_id },
                      4) < 0 ||
            exec_bind(r, upd_res,
                      (const char *const[]){ new_state,
                                             j->kind == OPERATION_PROVISION && ok ? j->provider_ref : NULL,
                                             now, j->resource_id },
                      4) < 0) {
                store_rollback(r->store);
                log_error("cannot record operation %s", j->op_id);
                op_job_free(j);
                return;
        }
        {
                char action[64];
                json_t *detail = json_pack("{s:s, s:s, s:s?}", "operation", j->op_id, "provider", j->provider,
                                           "error", ok ? NULL : j->err.message);
                snprintf(action, sizeof(action), "resource.%s.%s", operation_kind_to_string(j->kind),
                         ok ? "done" : "failed");
                int q = audit_append(r->store, NULL,
                                     &(AuditEntry){ action, object, ok ? "ok" : "failed", NULL, detail },
                                     &err);
                json_decref(detail);
                if (q < 0) {
                        /* Not on record, not done: the operation stays open and runs again
                         * (idempotently) on the next start. */
                        store_rollback(r->store);
                        log_error("cannot record operation %s: %s", j->op_id, err.message);
                        cb_error_clear(&err);
                        op_job_free(j);
                        return;
                }
        }
        if (store_commit(r->store) < 0)
                log_error("cannot commit operation %s", j->op_id);
        if (!ok)
                log_warning("operation %s (%s of %s) failed: %s", j->op_id, operation_kind_to_string(j->kind),
                            j->resource_id, j->err.message);
        cb_error_clear(&err);
        notify(r, j->resource_id);
        op_job_free(j);
}

/* Builds the job for a recorded operation and submits it; the provider
 * must be connected. Called for new operations and on recovery. held: the
 * reservation of a new provision, handed over (dropped on failure). A
 * provision resumed on recovery holds none: its domain may already run and be
 * in the host's reading, and counting it twice would refuse requests that fit
 * (the next reading shows it either way). */
static int op_submit(Resources *r, const char *op_id, OperationKind kind, const json_t *res,
                     Reservation held) {
        Provider *p = providers_find(r->providers, jstr(res, "provider") ? jstr(res, "provider") : "");
        OpJob *j;
        int q;

        if (inflight_has(r, op_id)) {
                reservation_drop(&held);
                return 0;
        }
        if (!p || p->status != PROVIDER_CONNECTED || !p->conn) {
                reservation_drop(&held);
                return -EAGAIN; /* resumed when the provider connects */
        }

        j = calloc(1, sizeof(*j));
        if (!j) {
                reservation_drop(&held);
                return -ENOMEM;
        }
        j->r = r;
        j->reservation = held;
        snprintf(j->op_id, sizeof(j->op_id), "%s", op_id);
        j->kind = kind;
        snprintf(j->resource_id, sizeof(j->resource_id), "%s", jstr(res, "id"));
        snprintf(j->provider, sizeof(j->provider), "%s", p->name);
        j->ops = p->ops;
        j->conn = p->conn;
        j->stop_timeout_ms = r->stop_timeout_ms;
        j->provider_ref = jstr(res, "provider_ref") ? strdup(jstr(res, "provider_ref")) : NULL;
        j->spec_src = json_deep_copy(res);
        if (!j->spec_src) {
                op_job_free(j);
                return -ENOMEM;
        }
        {
                const json_t *spec = json_object_get(j->spec_src, "spec");
                bool volume = resource_kind_from_string(jstr(j->spec_src, "kind")) == RESOURCE_KIND_VOLUME;
                j->spec = (ProvisionSpec){
                        .kind = volume ? DRIVER_OBJECT_VOLUME : DRIVER_OBJECT_VM,
                        .resource_id = jstr(j->spec_src, "id"),
                        .name = jstr(j->spec_src, "name"),
                        .project_id = jstr(j->spec_src, "project_id"),
                        .approval_no = jstr(j->spec_src, "approval_no"),
                        .catalog_service_id = jstr(j->spec_src, "service_id"),
                        .catalog_plan_id = jstr(j->spec_src, "plan_id"),
                        .catalog_revision = (unsigned)json_integer_value(
                                json_object_get(j->spec_src, "catalog_revision")),
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
        }
        q = inflight_add(r, op_id);
        if (q < 0) {
                reservation_drop(&j->reservation);
                op_job_free(j);
                return q;
        }
        q = worker_submit(r->pool, op_job_run, op_job_done, j);
        if (q < 0) {
                inflight_remove(r, op_id);
                reservation_drop(&j->reservation);
                op_job_free(j);
                return q;
        }
        /* A transaction of its own, so that in a batch it joins the group commit. */
        if (store_begin(r->store) == 0) {
                if (exec_bind(r, "UPDATE operations SET state = 'running' WHERE id = ? AND state = 'pending'",
                              (const char *const[]){ op_id }, 1) < 0)
                        store_rollback(r->store);
                else
                        store_commit(r->store);
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

/* The record plus the plan spec it was ordered with (pinned revision). */
static int resource_with_spec(Resources *r, const char *id, json_t **ret) {
        json_t *res = NULL, *spec;
        int q = resources_record(r, id, &res);
        if (q < 0)
                return q;
        spec = plan_spec(r, jstr(res, "service_id"),
                         (unsigned)json_integer_value(json_object_get(res, "catalog_revision")),
                         jstr(res, "plan_id"));
        if (spec)
                json_object_set(res, "spec", spec);
        *ret = res;
        return 0;
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
        json_t *res = NULL;

        if (result >= 0 && resource_with_spec(d->r, d->resource_id, &res) == 0) {
                if (op_submit(d->r, d->op_id, d->kind, res, d->held) == -EAGAIN)
                        log_info("operation %s waits for provider %s", d->op_id, jstr(res, "provider"));
                json_decref(res);
        } else
                reservation_drop(&d->held);
        free(d);
}

/* Takes over *held (zeroed): it ends with the operation, or now on failure. */
static void defer_submit(Resources *r, const char *op_id, OperationKind kind, const char *resource_id,
                         Reservation *held) {
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

/* ---- requests ---- */

static json_t *op_reply(const char *id, const char *state, const char *op_id) {
        return json_pack("{s:s, s:s, s:s}", "id", id, "state", state, "operation_id", op_id);
}

/* Chooses a provider for the plan: the pinned one, or the connected libvirt
 * provider with the most free memory that fits the plan (vCPUs, memory, and
 * the storage pool of its disk or volume); and holds the plan's share of it
 * (a volume's is nothing). */
static Provider *place(Resources *r, const json_t *spec, Reservation *ret_held, CbError *err) {
        const char *pin = jstr(spec, "provider");
        unsigned vcpus = (unsigned)json_integer_value(json_object_get(spec, "vcpus"));
        uint64_t mem = (uint64_t)json_integer_value(json_object_get(spec, "memory_mib"));
        /* A disk or a volume lives in a pool that the host must have. */
        bool needs_pool = resource_kind_from_string(jstr(spec, "kind")) == RESOURCE_KIND_VOLUME ||
                          json_integer_value(json_object_get(spec, "disk_gib")) > 0;
        const char *pool = isempty(jstr(spec, "pool")) ? "default" : jstr(spec, "pool");
        Provider *best = NULL, *unreached = NULL;
        bool any = false, any_connected = false;

        for (size_t i = 0; i < providers_count(r->providers); i++) {
                Provider *p = providers_at(r->providers, i);
                if (!streq(p->driver, "libvirt") || (pin && !streq(p->name, pin)))
                        continue;
                any = true;
                if (p->status != PROVIDER_CONNECTED) {
                        if (!unreached)
                                unreached = p;
                        continue;
                }
                any_connected = true;
                if (p->capacity_valid &&
                    (provider_free_vcpus(p) < vcpus || provider_free_memory_mib(p) < mem ||
                     (needs_pool && !driver_capacity_has_pool(&p->capacity, pool))))
                        continue;
                if (!best ||
                    (p->capacity_valid &&
                     (!best->capacity_valid || provider_free_memory_mib(p) > provider_free_memory_mib(best))))
                        best = p;
        }
        if (!best) {
                if (pin && !any)
                        cb_error_set(err, CB_ERR_UNAVAILABLE,
                                     "the plan is pinned to provider '%s', which does not exist", pin);
                else if (!any_connected && unreached)
                        /* Not a matter of capacity: nothing can be placed on a host
                         * not reached yet (its first probe after a start is under
                         * way, or it fails); the client retries. Accepting and
                         * queueing instead would hold a request no reading has
                         * checked, for a host that may never answer. */
                        cb_error_set(err, CB_ERR_UNAVAILABLE, "%s: '%s' is %s%s%s; try again shortly",
                                     pin ? "the provider the plan is pinned to is not connected yet"
                                         : "no libvirt provider is connected yet",
                                     unreached->name, provider_status_to_string(unreached->status),
                                     unreached->last_error[0] ? ": " : "", unreached->last_error);
                else if (needs_pool)
                        cb_error_set(err, CB_ERR_UNAVAILABLE,
                                     "no connected libvirt provider has %u free vCPUs, %llu MiB free and "
                                     "storage pool '%s'",
                                     vcpus, (unsigned long long)mem, pool);
                else
                        cb_error_set(err, CB_ERR_UNAVAILABLE,
                                     "no connected libvirt provider has %u free vCPUs and %llu MiB free",
                                     vcpus, (unsigned long long)mem);
                return NULL;
        }
        /* Held at once, so that a burst spreads before any of it runs. */
        *ret_held = reservation_take(best, vcpus, mem);
        return best;
}

static int find_idempotent(Resources *r, const char *who, const char *key, char ret_id[64],
                           char ret_hash[72]) {
        static const char sql[] =
                "SELECT id, request_hash FROM resources WHERE created_by = ? AND idempotency_key = ?";
        sqlite3_stmt *st;
        int q;
        if (store_prepare(r->store, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, who, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        if (q == SQLITE_ROW) {
                snprintf(ret_id, 64, "%s", sqlite3_column_text(st, 0));
                snprintf(ret_hash, 72, "%s", sqlite3_column_text(st, 1));
        }
        sqlite3_reset(st);
        return q == SQLITE_ROW ? 1 : q == SQLITE_DONE ? 0 : -EIO;
}

static int first_operation(Resources *r, const char *resource_id, char ret[64]) {
        static const char sql[] =
                "SELECT id FROM operations WHERE resource_id = ? ORDER BY created_at LIMIT 1";
        sqlite3_stmt *st;
        int q;
        if (store_prepare(r->store, sql, &st) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, resource_id, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        if (q == SQLITE_ROW)
                snprintf(ret, 64, "%s", sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return q == SQLITE_ROW ? 0 : -ENOENT;
}

int resource_request_from_json(const json_t *body, EvalRequest *ret, const char **ret_name, CbError *err) {
        static const char *const extra[] = { "name", NULL };
        const char *name = NULL;
        EvalRequest req;
        int r;

        r = eval_request_from_json(body, extra, &req, err);
        if (r >= 0)
                r = json_get_string(body, "name", true, RESOURCE_NAME_MAX, &name, err);
        if (r < 0)
                return r;
        if (req.quantity != 1)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "quantity",
                                          "quantity: one resource per request (send one request each)");
        *ret = req;
        *ret_name = name;
        return 0;
}

int resources_request(Resources *r, const CbCaller *caller, const json_t *body, const char *idempotency_key,
                      json_t **ret, CbError *err) {
        static const char ins_res[] =
                "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, provider, state, idempotency_key, "
                "request_hash, created_at, created_by, updated_at, kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'provisioning', ?, ?, ?, ?, ?, ?)";
        static const char ins_op[] =
                "INSERT INTO operations (id, resource_id, kind, state, created_at, updated_at) "
                "VALUES (?, ?, 'provision', 'pending', ?, ?)";
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        _cleanup_(freep) char *canon = NULL;
        char id[64], op_id[64], hash[DIGEST_HEX_MAX], now[32], object[96];
        const char *name = NULL, *kind;
        const json_t *spec;
        _cleanup_(reservation_drop) Reservation held = { 0 };
        EvalRequest req;
        Provider *p;
        sqlite3_stmt *st;
        int q;

        q = caller_require_role(caller, CB_ROLE_DEPARTMENT, "request resources", err);
        if (q < 0)
                return q;
        q = resource_request_from_json(body, &req, &name, err);
        if (q < 0)
                return q;

        /* Same key, same body: the same resource; same key, other body: a conflict. */
        canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        if (!canon || digest_sha256_hex(canon, strlen(canon), hash) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (idempotency_key) {
                char old_id[64], old_hash[72];
                if (strlen(idempotency_key) == 0 || strlen(idempotency_key) > 200)
                        return cb_error_set_field(err, CB_ERR_INVALID, "Idempotency-Key",
                                                  "Idempotency-Key must be 1 to 200 bytes");
                q = find_idempotent(r, caller->principal->name, idempotency_key, old_id, old_hash);
                if (q < 0)
                        return store_error(r->store, err, "reading resources");
                if (q > 0) {
                        json_t *res = NULL;
                        if (!streq(old_hash, hash))
                                return cb_error_set(err, CB_ERR_CONFLICT,
                                                    "Idempotency-Key '%s' was used for a different request",
                                                    idempotency_key);
                        if (resources_record(r, old_id, &res) < 0 || first_operation(r, old_id, op_id) < 0) {
                                json_decref(res);
                                return store_error(r->store, err, "reading resources");
                        }
                        *ret = op_reply(old_id, jstr(res, "state"), op_id);
                        json_decref(res);
                        return 0;
                }
        }

        q = projects_evaluate(r->projects, caller, &req, 0, &ev, err);
        if (q < 0)
                return q;
        snprintf(object, sizeof(object), "project:%s", req.project_id);
        if (!ev.decision.allowed) {
                json_t *codes = json_array();
                for (size_t i = 0; i < ev.decision.n_violations; i++)
                        json_array_append_new(codes,
                                              json_string(policy_code_name(ev.decision.violations[i].code)));
                audit_refusal(r->store, caller, "resource.request", object, "denied", codes);
                json_decref(codes);
                return cb_error_set_violations(err, policy_violations_to_json(&ev.decision),
                                               "the request breaks %zu rule(s) of the regulation",
                                               ev.decision.n_violations);
        }
        if (!streq_ptr(jstr(ev.service, "driver"), "libvirt"))
                return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                    "service '%s' is provided through driver '%s', which this broker cannot "
                                    "provision yet",
                                    req.service_id, jstr(ev.service, "driver"));
        spec = json_object_get(ev.plan, "spec");
        kind = jstr(spec, "kind");
        if (resource_kind_from_string(kind) < 0)
                return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                    "plan '%s' is a %s, which this broker cannot provision", req.plan_id,
                                    kind ? kind : "(no kind)");
        p = place(r, spec, &held, err);
        if (!p)
                return -EAGAIN;

        if (random_id("r-", id, sizeof(id)) < 0 || random_id("op-", op_id, sizeof(op_id)) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        store_now(now);
        if (store_begin(r->store) < 0)
                return store_error(r->store, err, "starting a transaction");
        if (store_prepare(r->store, ins_res, &st) < 0)
                goto fail;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, req.project_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, req.system_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, ev.department, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, req.service_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, req.plan_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 8, (int)ev.catalog_revision);
        sqlite3_bind_text(st, 9, ev.approval_no, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, ev.cost_kind == POLICY_COST_OM ? "om" : "construction", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 11, ev.projected_cost_fen);
        sqlite3_bind_text(st, 12, p->name, -1, SQLITE_STATIC);
        if (idempotency_key)
                sqlite3_bind_text(st, 13, idempotency_key, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 13);
        sqlite3_bind_text(st, 14, hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 15, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 16, caller->principal->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 17, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 18, kind, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        sqlite3_reset(st);
        if (q != SQLITE_DONE)
                goto fail;
        if (exec_bind(r, ins_op, (const char *const[]){ op_id, id, now, now }, 4) < 0)
                goto fail;
        {
                json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:I}", "resource", id, "service",
                                           req.service_id, "plan", req.plan_id, "provider", p->name,
                                           "committed_fen", (json_int_t)ev.projected_cost_fen);
                q = audit_append(r->store, caller,
                                 &(AuditEntry){ "resource.request", object, "ok", NULL, detail }, err);
                json_decref(detail);
                if (q < 0) {
                        store_rollback(r->store);
                        return q;
                }
        }
        /* Durable before the provider hears of it: a crash from here on is recovered. */
        if (store_commit(r->store) < 0)
                return store_error(r->store, err, "committing the request");

        defer_submit(r, op_id, OPERATION_PROVISION, id, &held);
        notify_full(r, id, true);
        *ret = op_reply(id, "provisioning", op_id);
        return 0;
fail:
        q = store_error(r->store, err, "recording the request");
        store_rollback(r->store);
        return q;
}

/* The resource as the caller sees it. Who may do `what` to resources at
 * all (roles) is checked before anything is read, so that refusal is the
 * same whatever the id names; then a resource the caller may not read is
 * answered exactly as an unknown id, so that neither a read nor an action
 * tells another department which ids are in use. A reader that may not
 * act learns nothing new from its 403. */
static int load_visible(Resources *r, const CbCaller *caller, const char *id, unsigned roles, json_t **ret,
                        CbError *err, const char *what) {
        json_t *res = NULL;
        int q;

        q = caller_require_role(caller, roles, what, err);
        if (q < 0)
                return q;
        if (!id_is_valid(id))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no resource '%s'", id);
        q = resources_record(r, id, &res);
        if (q == -ENOENT)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no resource '%s'", id);
        if (q < 0)
                return store_error(r->store, err, "reading the resource");
        if (!caller_may_see(caller, jstr(res, "department"), RESOURCE_READERS)) {
                json_decref(res);
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no resource '%s'", id);
        }
        q = caller_require_department(caller, jstr(res, "department"), roles & ~CB_ROLE_DEPARTMENT, what,
                                      err);
        if (q < 0) {
                json_decref(res);
                return q;
        }
        *ret = res;
        return 0;
}

int resources_get(Resources *r, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        return load_visible(r, caller, id, RESOURCE_READERS | CB_ROLE_DEPARTMENT, ret, err, "read resources");
}

/* A deleted resource stays in the record and the audit trail (GET
 * /v1/resources/{id} answers it), but it is no object any more. */
int resources_object_exists(Resources *r, const CbCaller *caller, const char *id) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        json_t *res = NULL;
        int q;

        if (caller) {
                q = resources_get(r, caller, id, &res, &err);
                if (q < 0) /* unknown, hidden or refused: no object; a store error is one */
                        return err.kind == CB_ERR_INTERNAL ? -EIO : 0;
        } else {
                q = resources_record(r, id, &res);
                if (q < 0)
                        return q == -ENOENT ? 0 : -EIO;
        }
        q = resource_state_from_string(jstr(res, "state")) != RESOURCE_DELETED;
        json_decref(res);
        return q;
}

int resources_list(Resources *r, const CbCaller *caller, const char *project_id, const Page *page,
                   json_t **ret, char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        /* Keyset on (created_at, id), one statement per filter so that each
         * walks its index (migration 11) instead of sorting the table. */
#define LIST_SQL(where)                                                                          \
        "SELECT " RESOURCE_COLUMNS " FROM resources WHERE " where "(created_at, id) > (?1, ?2) " \
        "ORDER BY created_at, id LIMIT ?3"
        static const char all_sql[] = LIST_SQL("");
        static const char proj_sql[] = LIST_SQL("project_id = ?4 AND ");
        static const char dept_sql[] = LIST_SQL("department = ?4 AND ");
        static const char both_sql[] = LIST_SQL("project_id = ?4 AND department = ?5 AND ");
#undef LIST_SQL
        const char *dept = NULL;
        sqlite3_stmt *st;
        json_t *a;
        int q;

        if (!caller_has_role(caller, RESOURCE_READERS)) {
                q = caller_require_role(caller, CB_ROLE_DEPARTMENT, "list resources", err);
                if (q < 0)
                        return q;
                dept = caller->principal->department;
        }
        if (project_id && !id_is_valid(project_id))
                return cb_error_set_field(err, CB_ERR_INVALID, "project_id", "project_id: not a valid id");
        const char *sql = project_id && dept ? both_sql : project_id ? proj_sql : dept ? dept_sql : all_sql;
        if (store_prepare(r->store, sql, &st) < 0)
                return store_error(r->store, err, "listing resources");
        /* The first page starts after ("", ""), before every record. */
        sqlite3_bind_text(st, 1, page->has_after ? page->after[0] : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, page->has_after ? page->after[1] : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)page->limit + 1);
        if (project_id || dept)
                sqlite3_bind_text(st, 4, project_id ? project_id : dept, -1, SQLITE_STATIC);
        if (project_id && dept)
                sqlite3_bind_text(st, 5, dept, -1, SQLITE_STATIC);
        a = json_array();
        char next[PAGE_TOKEN_MAX] = "";
        while (a && (q = sqlite3_step(st)) == SQLITE_ROW) {
                if (json_array_size(a) == page->limit) {
                        const json_t *last = json_array_get(a, page->limit - 1);
                        page_token_make(jstr(last, "created_at"), jstr(last, "id"), next);
                        break;
                }
                json_array_append_new(a, resource_row_json(st));
        }
        sqlite3_reset(st);
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = a;
        memcpy(ret_next, next, sizeof(next));
        return 0;
}

typedef struct ActionRule {
        const char *action;
        OperationKind kind;
        unsigned from;    /* states it may start from: a set of 1 << ResourceState */
        int intermediate; /* ResourceState while it runs, -1: unchanged */
} ActionRule;

#define STATE_BIT(s) (1U << (s))
static const ActionRule action_rules[] = {
        { "start", OPERATION_START, STATE_BIT(RESOURCE_STOPPED), -1 },
        { "stop", OPERATION_STOP, STATE_BIT(RESOURCE_ACTIVE), -1 },
        { "reboot", OPERATION_REBOOT, STATE_BIT(RESOURCE_ACTIVE), -1 },
        { "delete", OPERATION_DEPROVISION,
          STATE_BIT(RESOURCE_ACTIVE) | STATE_BIT(RESOURCE_STOPPED) | STATE_BIT(RESOURCE_FAILED),
          RESOURCE_DEPROVISIONING },
};

int resources_act(Resources *r, const CbCaller *caller, const char *id, const char *action, json_t **ret,
                  CbError *err) {
        static const char ins_op[] =
                "INSERT INTO operations (id, resource_id, kind, state, created_at, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)";
        const ActionRule *rule = NULL;
        json_t *res = NULL;
        char op_id[64], pend_id[64], pend_kind[32], now[32], object[96], audit_action[64];
        const char *state;
        int q;

        for (size_t i = 0; i < ELEMENTSOF(action_rules); i++)
                if (streq(action_rules[i].action, action))
                        rule = &action_rules[i];
        if (!rule)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "action",
                                          "action: '%s' is not one of start, stop, reboot", action);
        q = load_visible(r, caller, id, RESOURCE_ACTORS | CB_ROLE_DEPARTMENT, &res, err, "act on resources");
        if (q < 0)
                return q;
        state = jstr(res, "state");
        if (resource_kind_from_string(jstr(res, "kind")) == RESOURCE_KIND_VOLUME &&
            rule->kind != OPERATION_DEPROVISION) {
                q = cb_error_set_field(err, CB_ERR_CONFLICT, "action",
                                       "resource '%s' is a block volume: it has no power state to %s; "
                                       "only delete applies",
                                       id, action);
                json_decref(res);
                return q;
        }
        q = pending_operation(r, id, pend_id, pend_kind);
        if (q != 0) {
                json_decref(res);
                return q < 0 ? store_error(r->store, err, "reading operations")
                             : cb_error_set(err, CB_ERR_CONFLICT,
                                            "resource '%s' has operation %s (%s) under way", id, pend_id,
                                            pend_kind);
        }
        int cur = resource_state_from_string(state);
        if (cur < 0 || !(rule->from & STATE_BIT(cur))) {
                q = cb_error_set(err, CB_ERR_CONFLICT, "cannot %s resource '%s': it is %s", action, id,
                                 state);
                json_decref(res);
                return q;
        }

        if (random_id("op-", op_id, sizeof(op_id)) < 0) {
                json_decref(res);
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        }
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", id);
        snprintf(audit_action, sizeof(audit_action), "resource.%s", action);
        if (store_begin(r->store) < 0) {
                json_decref(res);
                return store_error(r->store, err, "starting a transaction");
        }
        const char *during = rule->intermediate >= 0 ? resource_state_to_string(rule->intermediate) : NULL;
        if (exec_bind(r, ins_op,
                      (const char *const[]){ op_id, id, operation_kind_to_string(rule->kind), now, now },
                      5) < 0 ||
            (during && exec_bind(r, "UPDATE resources SET state = ?, updated_at = ? WHERE id = ?",
                                 (const char *const[]){ during, now, id }, 3) < 0)) {
                q = store_error(r->store, err, "recording the operation");
                store_rollback(r->store);
                json_decref(res);
                return q;
        }
        q = audit_append(r->store, caller, &(AuditEntry){ audit_action, object, "ok", NULL, NULL }, err);
        if (q < 0 || store_commit(r->store) < 0) {
                store_rollback(r->store);
                json_decref(res);
                return q < 0 ? q : store_error(r->store, err, "committing");
        }
        *ret = op_reply(id, during ? during : state, op_id);
        json_decref(res);
        defer_submit(r, op_id, rule->kind, id, &(Reservation){ 0 });
        notify(r, id);
        return 0;
}

int resources_retire_project(Resources *r, const char *project_id, const CbCaller *caller, CbError *err) {
        static const char sel[] = "SELECT id FROM resources WHERE project_id = ? "
                                  "AND state IN ('active','stopped','failed')";
        static const char ins_op[] =
                "INSERT INTO operations (id, resource_id, kind, state, created_at, updated_at) "
                "VALUES (?, ?, 'deprovision', 'pending', ?, ?)";
        sqlite3_stmt *st;
        char(*ids)[64] = NULL;
        size_t n = 0;
        char now[32];
        int q = 0;

        if (store_prepare(r->store, sel, &st) < 0)
                return store_error(r->store, err, "reading resources");
        sqlite3_bind_text(st, 1, project_id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                void *nv = realloc(ids, (n + 1) * sizeof(*ids));
                if (!nv)
                        break;
                ids = nv;
                snprintf(ids[n++], 64, "%s", sqlite3_column_text(st, 0));
        }
        sqlite3_reset(st);

        store_now(now);
        for (size_t i = 0; i < n && q >= 0; i++) {
                char op_id[64], pend_id[64], pend_kind[32], object[96];
                if (pending_operation(r, ids[i], pend_id, pend_kind) != 0)
                        continue; /* what is under way finishes first; the next reconcile is not needed */
                if (random_id("op-", op_id, sizeof(op_id)) < 0) {
                        q = cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
                        break;
                }
                snprintf(object, sizeof(object), "resource:%s", ids[i]);
                if (exec_bind(r, ins_op, (const char *const[]){ op_id, ids[i], now, now }, 4) < 0 ||
                    exec_bind(r, "UPDATE resources SET state = 'deprovisioning', updated_at = ? WHERE id = ?",
                              (const char *const[]){ now, ids[i] }, 2) < 0) {
                        q = store_error(r->store, err, "scheduling retirement");
                        break;
                }
                q = audit_append(r->store, caller,
                                 &(AuditEntry){ "resource.retire", object, "ok", NULL, NULL }, err);
                if (q >= 0)
                        defer_submit(r, op_id, OPERATION_DEPROVISION, ids[i], &(Reservation){ 0 });
        }
        free(ids);
        return q < 0 ? q : 0;
}

int operations_get(Resources *r, const CbCaller *caller, const char *id, json_t **ret, CbError *err) {
        static const char sql[] =
                "SELECT o.id, o.resource_id, o.kind, o.state, o.error, o.created_at, o.updated_at, "
                "r.department FROM operations o JOIN resources r ON r.id = o.resource_id "
                "WHERE o.id = ?";
        sqlite3_stmt *st;
        json_t *o = NULL;
        char dept[64] = "";
        int q;

        q = caller_require_role(caller, RESOURCE_READERS | CB_ROLE_DEPARTMENT, "read operations", err);
        if (q < 0)
                return q;
        if (store_prepare(r->store, sql, &st) < 0)
                return store_error(r->store, err, "reading operations");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        q = sqlite3_step(st);
        if (q == SQLITE_ROW) {
                o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s}", "id", sqlite3_column_text(st, 0),
                              "resource_id", sqlite3_column_text(st, 1), "kind", sqlite3_column_text(st, 2),
                              "state", sqlite3_column_text(st, 3), "error", sqlite3_column_text(st, 4),
                              "created_at", sqlite3_column_text(st, 5), "updated_at",
                              sqlite3_column_text(st, 6));
                snprintf(dept, sizeof(dept), "%s", sqlite3_column_text(st, 7));
        }
        sqlite3_reset(st);
        /* An operation on a resource the caller may not read is an unknown one. */
        if (q != SQLITE_ROW || !caller_may_see(caller, dept, RESOURCE_READERS)) {
                json_decref(o);
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no operation '%s'", id);
        }
        *ret = o;
        return 0;
}

int resources_object_ids(Resources *r, const CbCaller *caller, char ***ret, CbError *err) {
        json_t *list = json_array(), *res;
        Page page = { .limit = PAGE_LIMIT_MAX };
        char **v;
        size_t n = 0, i;
        int q;

        if (!list)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        /* What resources_list() answers the caller, every page (an object
         * tree has none; bounded by what a store can hold), less the
         * deleted: the same rule as resources_object_exists(). */
        for (unsigned pages = 0; pages < 100000; pages++) {
                json_t *chunk = NULL;
                char next[PAGE_TOKEN_MAX];

                q = resources_list(r, caller, NULL, &page, &chunk, next, err);
                if (q >= 0) {
                        json_array_extend(list, chunk);
                        json_decref(chunk);
                }
                if (q >= 0 && next[0])
                        q = page_parse(NULL, next, &page, err);
                if (q < 0) {
                        json_decref(list);
                        return q;
                }
                if (!next[0])
                        break;
                page.limit = PAGE_LIMIT_MAX;
        }
        v = calloc(json_array_size(list) + 1, sizeof(char *));
        if (!v) {
                json_decref(list);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        json_array_foreach(list, i, res) {
                if (resource_state_from_string(jstr(res, "state")) == RESOURCE_DELETED)
                        continue;
                v[n] = strdup(jstr(res, "id"));
                if (!v[n]) {
                        for (size_t k = 0; k < n; k++)
                                free(v[k]);
                        free(v);
                        json_decref(list);
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
                n++;
        }
        json_decref(list);
        *ret = v;
        return 0;
}

/* ---- recovery, reconcile, inventory ---- */

/* Resubmits the unfinished operations on provider p. */
static void resume_operations(Resources *r, Provider *p) {
        static const char sql[] =
                "SELECT o.id, o.kind, o.resource_id FROM operations o JOIN resources r "
                "ON r.id = o.resource_id WHERE o.state IN ('pending','running') AND r.provider = ? "
                "ORDER BY o.created_at";
        sqlite3_stmt *st;
        char(*ops)[3][64] = NULL;
        size_t n = 0;

        if (store_prepare(r->store, sql, &st) < 0)
                return;
        sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                void *nv = realloc(ops, (n + 1) * sizeof(*ops));
                if (!nv)
                        break;
                ops = nv;
                for (int i = 0; i < 3; i++)
                        snprintf(ops[n][i], 64, "%s", sqlite3_column_text(st, i));
                n++;
        }
        sqlite3_reset(st);
        for (size_t i = 0; i < n; i++) {
                json_t *res = NULL;
                if (inflight_has(r, ops[i][0]) || resource_with_spec(r, ops[i][2], &res) < 0)
                        continue;
                int kind = operation_kind_from_string(ops[i][1]);
                if (kind < 0) {
                        log_error("operation %s has unknown kind '%s': left as it is", ops[i][0], ops[i][1]);
                        json_decref(res);
                        continue;
                }
                log_info("resuming operation %s (%s of %s)", ops[i][0], ops[i][1], ops[i][2]);
                op_submit(r, ops[i][0], (OperationKind)kind, res, (Reservation){ 0 });
                json_decref(res);
        }
        free(ops);
}

typedef struct InvJob {
        Resources *r;
        char provider[64];
        const DriverOps *ops;
        DriverConn *conn;
        DriverInventory *inv;
        CbError err;
        InventoryDoneFn done; /* NULL: a reconcile */
        void *userdata;
        int64_t since; /* resource_change_seq() when queued; -1: unknown */
} InvJob;

static int inv_job_run(void *userdata) {
        InvJob *j = userdata;
        return driver_inventory(j->ops, j->conn, &j->inv, &j->err);
}

/* The record's state for what the provider shows; -1: nothing to say. */
static int state_from_driver(DriverState s) {
        switch (s) {
        case DRIVER_STATE_RUNNING:
        case DRIVER_STATE_PAUSED:
        case DRIVER_STATE_SHUTTING_DOWN:
        case DRIVER_STATE_PRESENT:
                return RESOURCE_ACTIVE;
        case DRIVER_STATE_SHUTOFF:
                return RESOURCE_STOPPED;
        case DRIVER_STATE_CRASHED:
                return RESOURCE_FAILED;
        default:
                return -1;
        }
}

/* Records an object no approval covers (Art. 10), once per object. */
static void report_unmanaged(Resources *r, const char *provider, const DriverInstance *in) {
        /* "First sighting" is whether the insert added a row: timestamps have
         * one-second resolution, so first_seen = last_seen proves nothing. */
        static const char ins[] =
                "INSERT INTO unmanaged_seen (provider, provider_ref, name, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider, provider_ref) DO NOTHING";
        static const char upd[] =
                "UPDATE unmanaged_seen SET last_seen = ? WHERE provider = ? AND provider_ref = ?";
        const char *ref = in->provider_ref ? in->provider_ref : in->name;
        char now[32], object[256];
        CbError err = CB_ERROR_INIT;
        bool first;

        store_now(now);
        if (store_begin(r->store) < 0)
                return;
        if (exec_bind(r, ins, (const char *const[]){ provider, ref, in->name, now, now }, 5) < 0) {
                store_rollback(r->store);
                return;
        }
        first = sqlite3_changes(store_db(r->store)) > 0;
        if (!first && exec_bind(r, upd, (const char *const[]){ now, provider, ref }, 3) < 0) {
                store_rollback(r->store);
                return;
        }
        if (first) {
                json_t *codes = json_pack("[s]", "UNMANAGED_RESOURCE");
                json_t *detail = json_pack("{s:s, s:s?, s:i}", "domain", in->name, "provider_ref",
                                           in->provider_ref, "article", 10);
                snprintf(object, sizeof(object), "provider:%s/%s", provider, in->name);
                audit_append(r->store, NULL,
                             &(AuditEntry){ "inventory.unmanaged", object, "reported", codes, detail }, &err);
                log_warning("UNMANAGED_RESOURCE (Art. 10): %s on provider %s is covered by no approval",
                            in->name, provider);
                json_decref(codes);
                json_decref(detail);
        }
        store_commit(r->store);
        cb_error_clear(&err);
}

static bool resource_known(Resources *r, const char *id) {
        json_t *res = NULL;
        bool known = resources_record(r, id, &res) == 0;
        json_decref(res);
        return known;
}

/* Brings the record in line with what the provider has. The inventory may
 * have been read before an operation that finished since (a provision it
 * does not show yet, a stop it shows running): a resource changed after the
 * inventory was queued (its change number is newer than `since`) is left
 * to the next reconcile; one unchanged since is compared, however soon
 * after its last change the inventory came. */
static int by_stamp(const void *a, const void *b) {
        const DriverInstance *x = *(const DriverInstance *const *)a, *y = *(const DriverInstance *const *)b;
        int d = strcmp(x->stamp.resource_id, y->stamp.resource_id);
        return d ? d : (int)x->kind - (int)y->kind;
}

/* The managed instance stamped with id, of kind; sorted[] is by_stamp order. */
static const DriverInstance *find_stamped(const DriverInstance *const *sorted, size_t n, const char *id,
                                          const char *kind) {
        int k = resource_kind_from_string(kind);
        DriverInstance key = { .kind = k == RESOURCE_KIND_VOLUME ? DRIVER_OBJECT_VOLUME : DRIVER_OBJECT_VM,
                               .stamp = { .resource_id = (char *)id } };
        const DriverInstance *pk = &key;
        const DriverInstance *const *hit = bsearch(&pk, sorted, n, sizeof(*sorted), by_stamp);
        return hit ? *hit : NULL;
}

static void reconcile(Resources *r, const char *provider, const DriverInventory *inv, int64_t since) {
        static const char sql[] = "SELECT r.id, r.state, r.provider_ref, r.kind FROM resources r "
                                  "LEFT JOIN resource_changes c ON c.id = r.id WHERE r.provider = ? "
                                  "AND r.state IN ('active','stopped','failed') AND COALESCE(c.seq, 0) <= ?";
        sqlite3_stmt *st;
        char(*rows)[4][64] = NULL;
        size_t n = 0, n_sorted = 0;
        /* A host of thousands: looked up by stamp, not scanned once per record. */
        _cleanup_(freep) const DriverInstance **sorted =
                calloc(inv->n_items ? inv->n_items : 1, sizeof(*sorted));

        if (!sorted)
                return;
        for (size_t i = 0; i < inv->n_items; i++) {
                const DriverInstance *in = &inv->items[i];
                if (!in->managed || !in->stamp.resource_id || !resource_known(r, in->stamp.resource_id))
                        report_unmanaged(r, provider, in);
                if (in->managed && in->stamp.resource_id)
                        sorted[n_sorted++] = in;
        }
        qsort(sorted, n_sorted, sizeof(*sorted), by_stamp);

        if (store_prepare(r->store, sql, &st) < 0)
                return;
        sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, since);
        while (sqlite3_step(st) == SQLITE_ROW) {
                void *nv = realloc(rows, (n + 1) * sizeof(*rows));
                if (!nv)
                        break;
                rows = nv;
                for (int c = 0; c < 4; c++)
                        snprintf(rows[n][c], 64, "%s",
                                 sqlite3_column_text(st, c) ? (const char *)sqlite3_column_text(st, c) : "");
                n++;
        }
        sqlite3_reset(st);

        for (size_t k = 0; k < n; k++) {
                const DriverInstance *found = NULL;
                const char *want;
                char pid[64], pkind[32], now[32];

                if (pending_operation(r, rows[k][0], pid, pkind) != 0)
                        continue; /* an operation will set the state itself */
                found = find_stamped(sorted, n_sorted, rows[k][0], rows[k][3]);
                /* A failed resource whose stamped VM exists after all (a provision
                 * that failed late, or ran after a crash) is taken back in. */
                int was = resource_state_from_string(rows[k][1]);
                if (was == RESOURCE_FAILED && !found)
                        continue;
                int to = found ? state_from_driver(found->state) : RESOURCE_FAILED;
                if (to < 0 || to == was)
                        continue;
                want = resource_state_to_string(to);
                /* Taken back in, or lost: on record with the change, in one transaction. */
                const char *action = !found                   ? "resource.lost"
                                     : was == RESOURCE_FAILED ? "resource.adopted"
                                                              : NULL;
                CbError err = CB_ERROR_INIT;
                char object[96];
                snprintf(object, sizeof(object), "resource:%s", rows[k][0]);
                store_now(now);
                if (store_begin(r->store) < 0)
                        continue;
                if (exec_bind(r,
                              "UPDATE resources SET state = ?, provider_ref = COALESCE(?, provider_ref), "
                              "updated_at = ? WHERE id = ?",
                              (const char *const[]){ want, found ? found->provider_ref : NULL, now,
                                                     rows[k][0] },
                              4) < 0 ||
                    (action &&
                     audit_append(r->store, NULL,
                                  &(AuditEntry){ action, object, found ? "ok" : "failed", NULL, NULL },
                                  &err) < 0)) {
                        store_rollback(r->store);
                        log_error("cannot record the reconcile of resource %s", rows[k][0]);
                        cb_error_clear(&err);
                        continue;
                }
                store_commit(r->store);
                cb_error_clear(&err);
                if (!found)
                        log_warning("resource %s is gone from provider %s", rows[k][0], provider);
                notify(r, rows[k][0]);
        }
        free(rows);
}

/* Domains and the broker-named volumes (a VM's disk, or a block volume of
 * its own) are listed apart: they are different things to look at. */
static json_t *inventory_json(Resources *r, const char *provider, const DriverInventory *inv) {
        json_t *items = json_array(), *volumes = json_array();
        for (size_t i = 0; items && volumes && i < inv->n_items; i++) {
                const DriverInstance *in = &inv->items[i];
                bool managed =
                        in->managed && in->stamp.resource_id && resource_known(r, in->stamp.resource_id);
                json_t *o;
                if (in->kind == DRIVER_OBJECT_VOLUME)
                        o = json_pack("{s:s, s:s?, s:I, s:b, s:s?}", "name", in->name, "provider_ref",
                                      in->provider_ref, "size_gib", (json_int_t)in->size_gib, "managed",
                                      managed, "resource_id", managed ? in->stamp.resource_id : NULL);
                else
                        o = json_pack("{s:s, s:s?, s:s, s:i, s:I, s:b, s:s?}", "name", in->name,
                                      "provider_ref", in->provider_ref, "state",
                                      driver_state_to_string(in->state), "vcpus", (int)in->vcpus,
                                      "memory_mib", (json_int_t)in->memory_mib, "managed", managed,
                                      "resource_id", managed ? in->stamp.resource_id : NULL);
                if (!managed) {
                        json_object_set_new(o, "violation",
                                            json_pack("{s:s, s:i, s:s}", "code", "UNMANAGED_RESOURCE",
                                                      "article", 10, "message",
                                                      "no approval covers this object"));
                }
                json_array_append_new(in->kind == DRIVER_OBJECT_VOLUME ? volumes : items, o);
        }
        return json_pack("{s:s, s:o, s:o}", "provider", provider, "domains", items, "volumes", volumes);
}

static void inv_job_done(int result, void *userdata) {
        InvJob *j = userdata;
        if (result >= 0 && j->inv) {
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                reconcile(j->r, j->provider, j->inv, j->since);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                /* What a big host costs the loop (bench/scale.sh reads it); small ones stay quiet. */
                if (j->inv->n_items >= 1000)
                        log_info("reconcile of provider %s: %zu objects in %.1f ms of loop time", j->provider,
                                 j->inv->n_items,
                                 (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                                         (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        }
        if (j->done) {
                if (result == -ECANCELED && !j->err.message[0])
                        cb_error_set(&j->err, CB_ERR_UNAVAILABLE, "the daemon is stopping");
                j->done(result >= 0 ? inventory_json(j->r, j->provider, j->inv) : NULL,
                        result >= 0 ? NULL : &j->err, j->userdata);
        }
        driver_inventory_free(j->inv);
        cb_error_clear(&j->err);
        free(j);
}

static int submit_inventory(Resources *r, Provider *p, InventoryDoneFn done, void *userdata, CbError *err) {
        InvJob *j;
        int q;

        if (driver_is_async(p->ops))
                return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                    "provider '%s' (http) keeps no inventory here yet", p->name);
        if (p->status != PROVIDER_CONNECTED || !p->conn)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "provider '%s' is %s%s%s", p->name,
                                    provider_status_to_string(p->status), p->last_error[0] ? ": " : "",
                                    p->last_error);
        j = calloc(1, sizeof(*j));
        if (!j)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *j = (InvJob){ .r = r, .ops = p->ops, .conn = p->conn, .done = done, .userdata = userdata };
        snprintf(j->provider, sizeof(j->provider), "%s", p->name);
        j->since = resource_change_seq(r);
        q = worker_submit(r->pool, inv_job_run, inv_job_done, j);
        if (q < 0) {
                free(j);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot queue the inventory: %s", strerror(-q));
        }
        return 0;
}

int resources_inventory_check(Resources *r, const CbCaller *caller, const char *provider, CbError *err) {
        int q = caller_require_role(caller, CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_AUDITOR,
                                    "read provider inventories", err);
        if (q < 0)
                return q;
        if (!providers_find(r->providers, provider))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no provider '%s'", provider);
        return 0;
}

int resources_inventory(Resources *r, const CbCaller *caller, const char *provider, InventoryDoneFn done,
                        void *userdata, CbError *err) {
        int q = resources_inventory_check(r, caller, provider, err);
        if (q < 0)
                return q;
        return submit_inventory(r, providers_find(r->providers, provider), done, userdata, err);
}

void resources_provider_ready(Resources *r, Provider *p) {
        CbError err = CB_ERROR_INIT;
        resources_watch(r, p);
        resume_operations(r, p);
        submit_inventory(r, p, NULL, NULL, &err);
        cb_error_clear(&err);
}

void resources_reconcile_all(Resources *r) {
        providers_probe_all(r->providers);
        for (size_t i = 0; i < providers_count(r->providers); i++) {
                Provider *p = providers_at(r->providers, i);
                CbError err = CB_ERROR_INIT;
                if (p->status == PROVIDER_CONNECTED) {
                        resume_operations(r, p);
                        submit_inventory(r, p, NULL, NULL, &err);
                }
                cb_error_clear(&err);
        }
}

/* ---- provider events (libvirt domain life-cycle) ---- */

typedef struct EventCopy {
        Resources *r;
        char provider[64];
        DriverEventKind kind;
        char resource_id[64];
} EventCopy;

typedef struct Watch {
        Resources *r;
        char provider[64];
} Watch;

static void event_done(int result, void *userdata);

/* The event thread: copy and hand over, nothing else. */
static void on_driver_event(const DriverEvent *ev, void *userdata) {
        Watch *w = userdata;
        EventCopy *c = calloc(1, sizeof(*c));
        if (!c)
                return;
        c->r = w->r;
        c->kind = ev->kind;
        snprintf(c->provider, sizeof(c->provider), "%s", w->provider);
        snprintf(c->resource_id, sizeof(c->resource_id), "%s", ev->resource_id ? ev->resource_id : "");
        if (worker_post(w->r->pool, event_done, 0, c) < 0)
                free(c);
}

static void event_done(int result, void *userdata) {
        EventCopy *c = userdata;
        Resources *r = c->r;
        json_t *res = NULL;
        const char *want = NULL;
        int state;
        char pid[64], pkind[32], now[32];
        (void)result;

        if (c->kind == DRIVER_EVENT_CONNECTION_LOST) {
                log_warning("provider %s: connection lost", c->provider);
                providers_probe_all(r->providers);
                goto out;
        }
        if (!c->resource_id[0] || resources_record(r, c->resource_id, &res) < 0)
                goto out; /* not ours: the reconcile reports it */
        if (pending_operation(r, c->resource_id, pid, pkind) != 0)
                goto out; /* the operation under way sets the state */
        state = resource_state_from_string(jstr(res, "state"));
        switch (c->kind) {
        case DRIVER_EVENT_STOPPED:
                want = state == RESOURCE_ACTIVE ? resource_state_to_string(RESOURCE_STOPPED) : NULL;
                break;
        case DRIVER_EVENT_STARTED:
        case DRIVER_EVENT_RESUMED:
                /* A failed provision has no VM of record: the reconcile adopts it if one exists. */
                want = state == RESOURCE_STOPPED || (state == RESOURCE_FAILED &&
                                                     json_is_string(json_object_get(res, "provider_ref")))
                               ? resource_state_to_string(RESOURCE_ACTIVE)
                               : NULL;
                break;
        case DRIVER_EVENT_CRASHED:
        case DRIVER_EVENT_UNDEFINED:
                want = state == RESOURCE_ACTIVE || state == RESOURCE_STOPPED
                               ? resource_state_to_string(RESOURCE_FAILED)
                               : NULL;
                break;
        default:
                break;
        }
        if (want) {
                CbError err = CB_ERROR_INIT;
                char object[96], action[64];
                store_now(now);
                snprintf(object, sizeof(object), "resource:%s", c->resource_id);
                snprintf(action, sizeof(action), "resource.event.%s", driver_event_kind_to_string(c->kind));
                if (store_begin(r->store) == 0) {
                        if (exec_bind(r, "UPDATE resources SET state = ?, updated_at = ? WHERE id = ?",
                                      (const char *const[]){ want, now, c->resource_id }, 3) < 0 ||
                            audit_append(r->store, NULL, &(AuditEntry){ action, object, "ok", NULL, NULL },
                                         &err) < 0) {
                                store_rollback(r->store);
                                log_error("cannot record event %s of resource %s", action, c->resource_id);
                        } else
                                store_commit(r->store);
                }
                cb_error_clear(&err);
                notify(r, c->resource_id);
        }
out:
        json_decref(res);
        free(c);
}

int resources_watch(Resources *r, Provider *p) {
        CbError err = CB_ERROR_INIT;
        Watch *w;
        int q;

        if (r->n_watches >= ELEMENTSOF(r->watches) || !p->conn)
                return -EBUSY;
        for (size_t i = 0; i < r->n_watches; i++)
                if (streq(r->watches[i]->provider, p->name))
                        return 0; /* watches survive reopen */
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->r = r;
        snprintf(w->provider, sizeof(w->provider), "%s", p->name);
        q = driver_watch_events(p->ops, p->conn, on_driver_event, w, &err);
        if (q < 0) {
                if (q != -EOPNOTSUPP)
                        log_warning("provider %s: no events (%s); the periodic reconcile covers it", p->name,
                                    err.message);
                cb_error_clear(&err);
                free(w);
                return q;
        }
        r->watches[r->n_watches++] = w;
        return 0;
}

void resources_unwatch_all(Resources *r) {
        for (size_t i = 0; i < r->n_watches; i++) {
                Provider *p = providers_find(r->providers, r->watches[i]->provider);
                CbError err = CB_ERROR_INIT;
                if (p && p->conn)
                        driver_watch_events(p->ops, p->conn, NULL, NULL, &err);
                cb_error_clear(&err);
        }
}
