/* SPDX-License-Identifier: Apache-2.0 */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/param.h> /* MAX */
#include <string.h>
#include <time.h>

#include "audit.h"
#include "bindings.h"
#include "log.h"
#include "operations-http.h"
#include "operations.h"
#include "resources-internal.h"
#include "states.h"
#include "vm-guest.h"

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
#define BUMP(id)                                                        \
        "  INSERT INTO resource_changes (id, seq) VALUES (" id ","      \
        "    (SELECT COALESCE(MAX(seq), 0) + 1 FROM resource_changes))" \
        "  ON CONFLICT (id) DO UPDATE SET seq = excluded.seq;"
#define ATTACHMENT_TRIGGER(name, event, row)                                         \
        "CREATE TEMP TRIGGER IF NOT EXISTS attachment_changed_" name " AFTER " event \
        " ON main.volume_attachments BEGIN" BUMP(row ".volume_id") BUMP(row ".vm_id") "END;"
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
        "END;"
        /* An attachment's change counts as a change of its volume and its
         * VM: an attach that ended after the inventory was queued is not
         * drift. */
        ATTACHMENT_TRIGGER("insert", "INSERT", "NEW") ATTACHMENT_TRIGGER("update", "UPDATE", "NEW")
                ATTACHMENT_TRIGGER("delete", "DELETE", "OLD");

int reconcile_init(Store *s, CbError *err) {
        return store_exec(s, resource_changes_sql, err);
}

/* The number of the newest change so far (0: none since the start); -1
 * when unreadable, which makes the reconcile compare nothing (the next one
 * will) rather than compare what may have changed. */
static int64_t resource_change_seq(Resources *r) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        int64_t seq = -1;

        if (store_query_int(r->store, "SELECT COALESCE(MAX(seq), 0) FROM resource_changes", NULL, &seq,
                            "reading the change counter", &err) < 0)
                return -1;
        return seq;
}

/* How many VMs a reconcile reads the addresses of, per provider: the ones
 * read longest ago first, so that every VM's come round within
 * (VMs / RECONCILE_ADDRESSES) reconciles, and a host of thousands costs a
 * reconcile no more than this many lease look-ups. */
#define RECONCILE_ADDRESSES 16

typedef struct InvJob {
        Resources *r;
        char provider[64];
        const DriverOps *ops;
        DriverConn *conn;
        DriverInventory *inv;
        CbError err;
        InventoryDoneFn done; /* NULL: a reconcile */
        void *userdata;
        int64_t since;            /* resource_change_seq() when queued; -1: unknown */
        struct ReconcileRun *run; /* a reconcile's state between passes; NULL before the first */
        unsigned passes;          /* of the reconcile so far (inv_reconcile_pass) */
        uint64_t loop_ns;         /* the loop time they took */
        uint64_t longest_ns;      /* and the longest of them: how long the loop waited at most */
        /* A reconcile's address reads: ids and provider refs in, addresses out (NULL: not read). */
        size_t n_addr;
        char addr_ids[RECONCILE_ADDRESSES][2][64];
        VmAddressList *addr[RECONCILE_ADDRESSES];
} InvJob;

static int inv_job_run(void *userdata) {
        InvJob *j = userdata;
        int q = driver_inventory(j->ops, j->conn, &j->inv, &j->err);
        for (size_t i = 0; q >= 0 && i < j->n_addr; i++) {
                CbError e = CB_ERROR_INIT;
                DriverRef ref = { .resource_id = j->addr_ids[i][0],
                                  .provider_ref = j->addr_ids[i][1][0] ? j->addr_ids[i][1] : NULL };
                json_auto_t *a = NULL;
                /* On failure left as last read; the next reconcile tries again. */
                if (driver_addresses(j->ops, j->conn, &ref, &a, &e) < 0 ||
                    vm_address_list_from_json(a, &j->addr[i]) < 0)
                        j->addr[i] = NULL;
                cb_error_clear(&e);
        }
        return q;
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
                "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (provider, provider_ref) DO NOTHING";
        static const char upd[] =
                "UPDATE unmanaged_seen SET last_seen = ?1 WHERE provider = ?2 AND provider_ref = ?3";
        const char *ref = in->provider_ref ? in->provider_ref : in->name;
        char now[32], object[256];
        CbError err = CB_ERROR_INIT;
        bool first;
        int q;

        store_now(now);
        if (store_begin(r->store) < 0)
                return;
        /* The record only on the first sighting: no audit_change() here. */
        q = store_run(r->store, ins,
                      STORE_ARGS(SA_TEXT(provider), SA_TEXT(ref), SA_TEXT(in->name), SA_TEXT(now)),
                      "recording an unmanaged object", &err);
        first = q > 0;
        if (q == 0)
                q = store_run(r->store, upd, STORE_ARGS(SA_TEXT(now), SA_TEXT(provider), SA_TEXT(ref)),
                              "recording an unmanaged object", &err);
        if (q < 0) {
                store_rollback(r->store);
                cb_error_clear(&err);
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

/* A sorted set of ids read in one query: a reconcile looks up thousands of
 * objects, and one query per object was most of its loop time. */
typedef struct IdSet {
        char (*v)[64];
        size_t n;
        bool ok; /* false: the query failed, callers ask per id */
} IdSet;

static void id_set_done(IdSet *set) {
        free(set->v);
        *set = (IdSet){ 0 };
}

static int by_id(const void *a, const void *b) {
        return strcmp(a, b);
}

/* Column 0 of every row of sql. */
static void id_set_load(Store *s, const char *sql, const StoreArg *args, IdSet *ret) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        IdSet set = { 0 };
        size_t size = 0;
        int q;

        *ret = (IdSet){ 0 };
        if (store_query(s, sql, args, &rows, "reading ids", &err) < 0)
                return;
        while ((q = store_rows_next(rows, &err)) > 0) {
                const char *id = store_rows_text(rows, 0);
                if (!id)
                        continue;
                if (set.n == size) {
                        size_t ns = size ? size * 2 : 256;
                        void *nv = realloc(set.v, ns * sizeof(*set.v));
                        if (!nv) {
                                id_set_done(&set);
                                return;
                        }
                        set.v = nv;
                        size = ns;
                }
                snprintf(set.v[set.n++], sizeof(set.v[0]), "%s", id);
        }
        if (q < 0) {
                id_set_done(&set);
                return;
        }
        if (set.n)
                qsort(set.v, set.n, sizeof(set.v[0]), by_id);
        set.ok = true;
        *ret = set;
}

static bool id_set_has(const IdSet *set, const char *id) {
        return set->n && strlen(id) < sizeof(set->v[0]) &&
               bsearch(id, set->v, set->n, sizeof(set->v[0]), by_id);
}

/* The resources on provider: the ones an inventory's stamps name, but for
 * the odd stamp of a resource placed elsewhere (resource_known asks). */
static void provider_resources(Resources *r, const char *provider, IdSet *ret) {
        id_set_load(r->store, "SELECT id FROM resources WHERE provider = ?1", STORE_ARGS(SA_TEXT(provider)),
                    ret);
}

static bool resource_known(Resources *r, const char *id) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        int64_t n = 0;
        return store_query_int(r->store, "SELECT COUNT(*) FROM resources WHERE id = ?1",
                               STORE_ARGS(SA_TEXT(id)), &n, "reading resources", &err) == 0 &&
               n > 0;
}

static bool resource_known_in(Resources *r, const IdSet *on_provider, const char *id) {
        return id_set_has(on_provider, id) || resource_known(r, id);
}

/* A state the reconcile or an event found, with the provider_ref it saw
 * (NULL: unchanged). */
typedef struct StateChange {
        const char *id, *state, *provider_ref, *now;
} StateChange;

static int state_change(Store *s, void *userdata, CbError *err) {
        const StateChange *c = userdata;
        int q = store_run(
                s,
                "UPDATE resources SET state = ?1, provider_ref = COALESCE(?2, provider_ref), "
                "updated_at = ?3 WHERE id = ?4",
                STORE_ARGS(SA_TEXT(c->state), SA_TEXT(c->provider_ref), SA_TEXT(c->now), SA_TEXT(c->id)),
                "recording the resource's state", err);
        return q < 0 ? q : 0;
}

/* The change with its audit record (action NULL: none), in one transaction. */
static int record_state(Resources *r, const char *action, const char *outcome, const StateChange *c,
                        CbError *err) {
        char object[96];
        int q;

        if (action) {
                snprintf(object, sizeof(object), "resource:%s", c->id);
                return audit_change(r->store, NULL, &(AuditEntry){ action, object, outcome, NULL, NULL },
                                    state_change, (void *)c, err);
        }
        if (store_begin(r->store) < 0)
                return store_error(r->store, err, "starting a transaction");
        q = state_change(r->store, (void *)c, err);
        if (q < 0) {
                store_rollback(r->store);
                return q;
        }
        if (store_commit(r->store) < 0) {
                q = store_error(r->store, err, "committing");
                store_rollback(r->store);
                return q;
        }
        return 0;
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

static void reconcile_attachments(Resources *r, const char *provider, const DriverInventory *inv,
                                  const DriverInstance *const *sorted, size_t n_sorted, int64_t since,
                                  const IdSet *on_provider, const IdSet *pending);

/* How many records one pass of a reconcile changes before it hands the
 * loop back: a restart after a host lost thousands of domains marks them
 * lost in passes of this many (each its own commit), and SIGTERM, REST
 * and D-Bus wait for one pass at most, not for all of them (over a second
 * at 2,000 per provider). */
#define RECONCILE_CHANGES_PER_PASS 200

/* The change number of resource id (0: none since this process started);
 * -1 when unreadable. */
static int64_t resource_seq_of(Resources *r, const char *id) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        int64_t seq = -1;
        if (store_query_int(r->store, "SELECT COALESCE(MAX(seq), 0) FROM resource_changes WHERE id = ?1",
                            STORE_ARGS(SA_TEXT(id)), &seq, "reading the resource's change number", &err) < 0)
                return -1;
        return seq;
}

/* A reconcile in passes: what its first pass read, for the next ones. */
typedef struct ReconcileRun {
        bool started;
        char (*rows)[4][64];           /* the records to compare: id, state, provider_ref, kind */
        size_t n, next;                /* next: the first row the next pass looks at */
        const DriverInstance **sorted; /* the managed instances, by_stamp order */
        size_t n_sorted;
        IdSet on_provider;
} ReconcileRun;

static void reconcile_run_free(ReconcileRun *run) {
        if (!run)
                return;
        free(run->rows);
        free(run->sorted);
        id_set_done(&run->on_provider);
        free(run);
}

/* The first pass's reading: the inventory by stamp (unmanaged objects
 * reported), and the records unchanged since `since`, whole (the
 * comparison writes). false: nothing to compare with (no memory, or the
 * store did not answer; the next reconcile tries again). */
static bool reconcile_start(Resources *r, const char *provider, const DriverInventory *inv, int64_t since,
                            ReconcileRun *run) {
        static const char sql[] = "SELECT r.id, r.state, r.provider_ref, r.kind FROM resources r "
                                  "LEFT JOIN resource_changes c ON c.id = r.id WHERE r.provider = ?1 "
                                  "AND r.state IN (?3, ?4, ?5) AND COALESCE(c.seq, 0) <= ?2";
        _cleanup_(cb_error_clear) CbError qerr = CB_ERROR_INIT;
        StoreRows *st = NULL;
        size_t size = 0;

        run->started = true;
        /* A host of thousands: looked up by stamp, not scanned once per record. */
        run->sorted = calloc(inv->n_items ? inv->n_items : 1, sizeof(*run->sorted));
        if (!run->sorted)
                return false;
        provider_resources(r, provider, &run->on_provider);
        for (size_t i = 0; i < inv->n_items; i++) {
                const DriverInstance *in = &inv->items[i];
                if (!in->managed || !in->stamp.resource_id ||
                    !resource_known_in(r, &run->on_provider, in->stamp.resource_id))
                        report_unmanaged(r, provider, in);
                if (in->managed && in->stamp.resource_id)
                        run->sorted[run->n_sorted++] = in;
        }
        qsort(run->sorted, run->n_sorted, sizeof(*run->sorted), by_stamp);

        if (store_query(r->store, sql,
                        STORE_ARGS(SA_TEXT(provider), SA_INT(since),
                                   SA_TEXT(resource_state_to_string(RESOURCE_ACTIVE)),
                                   SA_TEXT(resource_state_to_string(RESOURCE_STOPPED)),
                                   SA_TEXT(resource_state_to_string(RESOURCE_FAILED))),
                        &st, "reading resources to reconcile", &qerr) < 0)
                return false;
        while (store_rows_next(st, &qerr) > 0) {
                if (run->n == size) {
                        size_t ns = size ? size * 2 : 256;
                        void *nv = realloc(run->rows, ns * sizeof(*run->rows));
                        if (!nv)
                                break;
                        run->rows = nv;
                        size = ns;
                }
                for (int c = 0; c < 4; c++)
                        snprintf(run->rows[run->n][c], 64, "%s",
                                 store_rows_text(st, c) ? store_rows_text(st, c) : "");
                run->n++;
        }
        store_rows_done(st);
        return true;
}

/* One pass over run's records; false when it stopped at
 * RECONCILE_CHANGES_PER_PASS changes and the next pass goes on from there.
 * A record that changed between passes (its change number is newer than
 * since: an operation, an event, or this reconcile) is left to the next
 * reconcile, as one changed before the first pass was. */
static bool reconcile(Resources *r, const char *provider, const DriverInventory *inv, int64_t since,
                      ReconcileRun *run) {
        _cleanup_(id_set_done) IdSet pending = { 0 };
        unsigned changes = 0;
        bool fresh = !run->started; /* rows read in this pass: unchanged since by the query */

        if (fresh && !reconcile_start(r, provider, inv, since, run))
                return true;
        char(*rows)[4][64] = run->rows;
        const DriverInstance **sorted = run->sorted;
        size_t n = run->n, n_sorted = run->n_sorted;

        /* The resources of this provider an operation is under way on, in one
         * query (what operation_pending() asks of one resource). */
        id_set_load(r->store,
                    "SELECT o.resource_id FROM operations o JOIN resources r ON r.id = o.resource_id "
                    "WHERE r.provider = ?1 AND o.state IN (?2, ?3)",
                    STORE_ARGS(SA_TEXT(provider), SA_TEXT(operation_state_to_string(OPERATION_PENDING)),
                               SA_TEXT(operation_state_to_string(OPERATION_RUNNING))),
                    &pending);

        for (size_t k = run->next; k < n; k++) {
                const DriverInstance *found = NULL;
                const char *want;
                char pid[64], pkind[32], now[32];

                /* An operation will set the state itself. */
                if (pending.ok ? id_set_has(&pending, rows[k][0])
                               : operation_pending(r, rows[k][0], pid, pkind) != 0)
                        continue;
                if (!fresh) {
                        int64_t seq = resource_seq_of(r, rows[k][0]);
                        if (seq < 0 || seq > since)
                                continue;
                }
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
                store_now(now);
                if (record_state(r, action, found ? "ok" : "failed",
                                 &(StateChange){ .id = rows[k][0],
                                                 .state = want,
                                                 .provider_ref = found ? found->provider_ref : NULL,
                                                 .now = now },
                                 &err) < 0) {
                        log_error("cannot record the reconcile of resource %s: %s", rows[k][0], err.message);
                        cb_error_clear(&err);
                        continue;
                }
                if (!found)
                        log_warning("resource %s is gone from provider %s", rows[k][0], provider);
                resources_notify(r, rows[k][0], false);
                if (++changes >= RECONCILE_CHANGES_PER_PASS) {
                        run->next = k + 1;
                        return false;
                }
        }
        run->next = n;
        reconcile_attachments(r, provider, inv, sorted, n_sorted, since, &run->on_provider, &pending);
        return true;
}

/* --- Which volume is on which VM ------------------------------------------- */

/* A broker volume the provider shows as a disk of a domain: not the
 * domain's own system disk or seed, which are the VM's and never drift. */
typedef struct SeenDisk {
        const char *volume_id;
        const DriverInstance *dom;
        const DriverDisk *disk;
        const char *owner; /* the domain's resource on this provider; NULL: not the broker's */
} SeenDisk;

static int by_seen_volume(const void *a, const void *b) {
        return strcmp(((const SeenDisk *)a)->volume_id, ((const SeenDisk *)b)->volume_id);
}

/* Every such disk of inv, sorted by volume id; NULL (and 0) when there is
 * none or no memory. */
static SeenDisk *seen_disks(const DriverInventory *inv, const IdSet *on_provider, size_t *ret_n) {
        SeenDisk *v = NULL;
        size_t n = 0, size = 0;
        for (size_t i = 0; i < inv->n_items; i++) {
                const DriverInstance *in = &inv->items[i];
                const char *own = in->managed ? in->stamp.resource_id : NULL;
                for (size_t k = 0; k < in->n_disks; k++) {
                        const DriverDisk *d = &in->disks[k];
                        if (!d->volume_id || d->seed || (own && streq(own, d->volume_id)))
                                continue;
                        if (n == size) {
                                size_t ns = size ? size * 2 : 64;
                                SeenDisk *nv = realloc(v, ns * sizeof(*nv));
                                if (!nv) {
                                        free(v);
                                        *ret_n = 0;
                                        return NULL;
                                }
                                v = nv;
                                size = ns;
                        }
                        v[n++] = (SeenDisk){ d->volume_id, in, d,
                                             own && id_set_has(on_provider, own) ? own : NULL };
                }
        }
        if (n)
                qsort(v, n, sizeof(*v), by_seen_volume);
        *ret_n = n;
        return v;
}

/* The first of seen[] for volume_id (the others follow it), or NULL. */
static const SeenDisk *seen_first(const SeenDisk *seen, size_t n, const char *volume_id) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(seen[mid].volume_id, volume_id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < n && streq(seen[lo].volume_id, volume_id) ? &seen[lo] : NULL;
}

/* One drift: on record in attachment_drift, or found by this reconcile. */
typedef struct Drift {
        char volume_id[64], domain[128], kind[16], vm_id[64], target[16];
        bool matched;
} Drift;

static int by_drift(const void *a, const void *b) {
        const Drift *x = a, *y = b;
        int d = strcmp(x->volume_id, y->volume_id);
        if (!d)
                d = strcmp(x->domain, y->domain);
        return d ? d : strcmp(x->kind, y->kind);
}

static int drift_add(Drift **v, size_t *n, size_t *size, const char *volume_id, const char *domain,
                     AttachmentDrift kind, const char *vm_id, const char *target) {
        if (*n == *size) {
                size_t ns = *size ? *size * 2 : 16;
                Drift *nv = realloc(*v, ns * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                *v = nv;
                *size = ns;
        }
        Drift *d = &(*v)[(*n)++];
        *d = (Drift){ 0 };
        snprintf(d->volume_id, sizeof(d->volume_id), "%s", volume_id ? volume_id : "");
        snprintf(d->domain, sizeof(d->domain), "%s", domain ? domain : "");
        snprintf(d->kind, sizeof(d->kind), "%s", attachment_drift_to_string(kind));
        snprintf(d->vm_id, sizeof(d->vm_id), "%s", vm_id ? vm_id : "");
        snprintf(d->target, sizeof(d->target), "%s", target ? target : "");
        return 0;
}

/* A drift found or ended: its row and its audit record, in the caller's
 * transaction. */
static int drift_record(Resources *r, const char *provider, const Drift *d, bool found, const char *now,
                        CbError *err) {
        char object[96];
        int q;
        if (found)
                q = store_run(
                        r->store,
                        "INSERT INTO attachment_drift (provider, volume_id, domain, kind, vm_id, target, "
                        "first_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        STORE_ARGS(SA_TEXT(provider), SA_TEXT(d->volume_id), SA_TEXT(d->domain),
                                   SA_TEXT(d->kind), SA_TEXT(d->vm_id[0] ? d->vm_id : NULL),
                                   SA_TEXT(d->target[0] ? d->target : NULL), SA_TEXT(now)),
                        "recording an attachment's drift", err);
        else
                q = store_run(r->store,
                              "DELETE FROM attachment_drift WHERE provider = ?1 AND volume_id = ?2 AND "
                              "domain = ?3 AND kind = ?4",
                              STORE_ARGS(SA_TEXT(provider), SA_TEXT(d->volume_id), SA_TEXT(d->domain),
                                         SA_TEXT(d->kind)),
                              "clearing an attachment's drift", err);
        if (q < 0)
                return q;
        json_t *codes = json_pack("[s]", "ATTACHMENT_DRIFT");
        json_t *detail = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "provider", provider, "domain", d->domain,
                                   "kind", d->kind, "vm_id", d->vm_id[0] ? d->vm_id : NULL, "target",
                                   d->target[0] ? d->target : NULL);
        snprintf(object, sizeof(object), "resource:%s", d->volume_id);
        q = audit_append(
                r->store, NULL,
                &(AuditEntry){ "attachment.drift", object, found ? "reported" : "resolved", codes, detail },
                err);
        json_decref(codes);
        json_decref(detail);
        if (q >= 0) {
                if (found)
                        log_warning("ATTACHMENT_DRIFT: volume %s %s domain %s of provider %s", d->volume_id,
                                    streq(d->kind, "missing") ? "is recorded on, but not a disk of,"
                                                              : "is a disk of, but not recorded on,",
                                    d->domain, provider);
                else
                        log_info("volume %s and domain %s of provider %s agree with the record again",
                                 d->volume_id, d->domain, provider);
        }
        return q < 0 ? q : 0;
}

/* Whether the reconcile compares id: no operation under way on it, and no
 * change to it since the inventory was queued. */
static bool settled(const IdSet *pending, const IdSet *changed, const char *id) {
        return !id_set_has(pending, id) && !id_set_has(changed, id);
}

/* Whether a recorded drift was compared this time, so that its absence
 * means it ended. */
static bool drift_compared(const Drift *d, const IdSet *on_provider, const IdSet *pending,
                           const IdSet *changed) {
        if (!id_set_has(on_provider, d->volume_id))
                return true; /* the volume is gone: nothing left to drift */
        return settled(pending, changed, d->volume_id) &&
               (!d->vm_id[0] || settled(pending, changed, d->vm_id));
}

/* What the record says of volume_id: its row of rec[] (sorted), or NULL. */
static char (*record_of(char (*rec)[4][64], size_t n_rec, const char *volume_id))[64] {
        size_t lo = 0, hi = n_rec;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int d = strcmp(rec[mid][0], volume_id);
                if (d == 0)
                        return rec[mid];
                if (d < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Compares the disks the provider shows with volume_attachments, for the
 * broker volumes and VMs of provider: each drift is recorded (with its
 * audit record) when first found, and cleared when it ends. A volume or VM
 * that an operation is under way on, or that changed after the inventory
 * was queued, is left as it stands to the next reconcile. A few queries and
 * sorted look-ups, whatever the number of domains; only drift rows change. */
static void reconcile_attachments(Resources *r, const char *provider, const DriverInventory *inv,
                                  const DriverInstance *const *sorted, size_t n_sorted, int64_t since,
                                  const IdSet *on_provider, const IdSet *pending) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(id_set_done) IdSet changed = { 0 };
        _cleanup_(freep) SeenDisk *seen = NULL;
        _cleanup_(freep) Drift *cur = NULL, *old = NULL;
        char(*rec)[4][64] = NULL;
        size_t n_seen = 0, n_rec = 0, n_cur = 0, s_cur = 0, n_old = 0, s_old = 0;
        StoreRows *st = NULL;
        const char *attached = attachment_state_to_string(ATTACHMENT_ATTACHED);
        char now[32];
        bool changes = false;
        int q = 0;

        if (since < 0 || !on_provider->ok || !pending->ok)
                return;
        id_set_load(r->store, "SELECT id FROM resource_changes WHERE seq > ?1", STORE_ARGS(SA_INT(since)),
                    &changed);
        if (!changed.ok)
                return;
        seen = seen_disks(inv, on_provider, &n_seen);

        /* ORDER BY is not strcmp() order for every collation: sorted here. */
        if (store_query(r->store,
                        "SELECT a.volume_id, a.vm_id, a.target, a.state FROM volume_attachments a "
                        "JOIN resources v ON v.id = a.volume_id WHERE v.provider = ?1",
                        STORE_ARGS(SA_TEXT(provider)), &st, "reading attachments", &err) < 0)
                return;
        while (store_rows_next(st, &err) > 0) {
                void *nv = realloc(rec, (n_rec + 1) * sizeof(*rec));
                if (!nv)
                        break;
                rec = nv;
                for (int c = 0; c < 4; c++)
                        snprintf(rec[n_rec][c], 64, "%s",
                                 store_rows_text(st, c) ? store_rows_text(st, c) : "");
                n_rec++;
        }
        store_rows_done(st);
        if (n_rec)
                qsort(rec, n_rec, sizeof(*rec), by_id);
        if (store_query(
                    r->store,
                    "SELECT volume_id, domain, kind, vm_id, target FROM attachment_drift WHERE provider = ?1",
                    STORE_ARGS(SA_TEXT(provider)), &st, "reading attachment drift", &err) < 0)
                goto out;
        while (store_rows_next(st, &err) > 0) {
                int k = attachment_drift_from_string(store_rows_text(st, 2));
                if (k >= 0 &&
                    drift_add(&old, &n_old, &s_old, store_rows_text(st, 0), store_rows_text(st, 1),
                              (AttachmentDrift)k, store_rows_text(st, 3), store_rows_text(st, 4)) < 0)
                        break;
        }
        store_rows_done(st);

        /* (b) A broker volume on a domain it is not recorded on, the broker's or not. */
        for (size_t i = 0; i < n_seen; i++) {
                const SeenDisk *s = &seen[i];
                char(*a)[64] = record_of(rec, n_rec, s->volume_id);
                if (!id_set_has(on_provider, s->volume_id) || !settled(pending, &changed, s->volume_id) ||
                    (s->owner && !settled(pending, &changed, s->owner)))
                        continue;
                if (a && !streq(a[3], attached))
                        continue; /* an attach or detach under way or cut short: recovery's */
                if (a && s->owner && streq(a[1], s->owner))
                        continue;
                if (drift_add(&cur, &n_cur, &s_cur, s->volume_id, s->dom->name, ATTACHMENT_DRIFT_UNRECORDED,
                              s->owner, s->disk->target) < 0)
                        goto out;
        }
        /* (a) An attachment on record whose disk its VM's domain lacks. */
        for (size_t k = 0; k < n_rec; k++) {
                if (!streq(rec[k][3], attached) || !settled(pending, &changed, rec[k][0]) ||
                    !settled(pending, &changed, rec[k][1]))
                        continue;
                const DriverInstance *dom = find_stamped(sorted, n_sorted, rec[k][1], "vm");
                if (!dom)
                        continue; /* no domain at all: the VM is lost, reported as such */
                bool on = false;
                for (const SeenDisk *s = seen_first(seen, n_seen, rec[k][0]);
                     !on && s && s < seen + n_seen && streq(s->volume_id, rec[k][0]); s++)
                        on = s->dom == dom;
                if (!on && drift_add(&cur, &n_cur, &s_cur, rec[k][0], dom->name, ATTACHMENT_DRIFT_MISSING,
                                     rec[k][1], rec[k][2]) < 0)
                        goto out;
        }

        if (n_old)
                qsort(old, n_old, sizeof(*old), by_drift);
        for (size_t i = 0; i < n_cur; i++) {
                Drift *o = n_old ? bsearch(&cur[i], old, n_old, sizeof(*old), by_drift) : NULL;
                if (o)
                        o->matched = cur[i].matched = true;
        }
        for (size_t i = 0; i < n_old && !changes; i++)
                changes = !old[i].matched && drift_compared(&old[i], on_provider, pending, &changed);
        for (size_t i = 0; i < n_cur && !changes; i++)
                changes = !cur[i].matched;
        if (!changes)
                goto out;

        store_now(now);
        if (store_begin(r->store) < 0)
                goto out;
        for (size_t i = 0; q >= 0 && i < n_cur; i++)
                if (!cur[i].matched)
                        q = drift_record(r, provider, &cur[i], true, now, &err);
        for (size_t i = 0; q >= 0 && i < n_old; i++)
                if (!old[i].matched && drift_compared(&old[i], on_provider, pending, &changed))
                        q = drift_record(r, provider, &old[i], false, now, &err);
        if (q < 0 || store_commit(r->store) < 0) {
                log_error("cannot record the attachments' drift on provider %s: %s", provider,
                          err.message[0] ? err.message : "commit failed");
                store_rollback(r->store);
                goto out;
        }
        for (size_t i = 0; i < n_cur; i++)
                if (!cur[i].matched)
                        resources_notify(r, cur[i].volume_id, false);
        for (size_t i = 0; i < n_old; i++)
                if (!old[i].matched && drift_compared(&old[i], on_provider, pending, &changed))
                        resources_notify(r, old[i].volume_id, false);
out:
        free(rec);
}

Inventory *inventory_free(Inventory *inv) {
        if (!inv)
                return NULL;
        for (size_t i = 0; i < inv->n; i++) {
                free(inv->v[i].name);
                free(inv->v[i].provider_ref);
                free(inv->v[i].resource_id);
                free(inv->v[i].attached_to);
                for (size_t k = 0; k < inv->v[i].n_on; k++) {
                        free(inv->v[i].on[k].domain);
                        free(inv->v[i].on[k].resource_id);
                        free(inv->v[i].on[k].target);
                }
                free(inv->v[i].on);
                for (size_t k = 0; k < inv->v[i].n_drift; k++) {
                        free(inv->v[i].drift[k].domain);
                        free(inv->v[i].drift[k].vm_id);
                        free(inv->v[i].drift[k].target);
                        free(inv->v[i].drift[k].first_seen);
                }
                free(inv->v[i].drift);
        }
        free(inv->v);
        free(inv->provider);
        free(inv);
        return NULL;
}

/* The volume's drift on record into it->drift: 0, or -ENOMEM/-EIO. */
static int drift_of_volume(Resources *r, const char *provider, const char *volume_id, InventoryItem *it) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        bool ok = true;
        int q = store_query(r->store,
                            "SELECT kind, domain, vm_id, target, first_seen FROM attachment_drift "
                            "WHERE provider = ?1 AND volume_id = ?2 ORDER BY domain",
                            STORE_ARGS(SA_TEXT(provider), SA_TEXT(volume_id)), &rows,
                            "reading attachment drift", &err);
        if (q < 0)
                return -EIO;
        while (ok && (q = store_rows_next(rows, &err)) > 0) {
                int k = attachment_drift_from_string(store_rows_text(rows, 0));
                if (k < 0)
                        continue;
                InventoryDrift *nv = realloc(it->drift, (it->n_drift + 1) * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                it->drift = nv;
                InventoryDrift *d = &nv[it->n_drift++];
                *d = (InventoryDrift){ .kind = (AttachmentDrift)k };
                d->domain = strdup_or_null(store_rows_text(rows, 1) ?: "", &ok);
                d->vm_id = strdup_or_null(store_rows_text(rows, 2), &ok);
                d->target = strdup_or_null(store_rows_text(rows, 3), &ok);
                d->first_seen = strdup_or_null(store_rows_text(rows, 4) ?: "", &ok);
        }
        return !ok ? -ENOMEM : q < 0 ? -EIO : 0;
}

/* The answer of a live inventory: what the provider has, each object
 * weighed against the record. NULL: out of memory. */
static Inventory *inventory_make(Resources *r, const char *provider, const DriverInventory *inv) {
        _cleanup_(id_set_done) IdSet on_provider = { 0 };
        _cleanup_(inventory_freep) Inventory *out = calloc(1, sizeof(*out));
        bool ok = true;

        if (!out || !(out->provider = strdup(provider)) ||
            !(out->v = calloc(MAX(inv->n_items, 1u), sizeof(*out->v))))
                return NULL;
        _cleanup_(freep) SeenDisk *seen = NULL;
        size_t n_seen = 0;
        provider_resources(r, provider, &on_provider);
        seen = seen_disks(inv, &on_provider, &n_seen);
        for (size_t i = 0; ok && i < inv->n_items; i++) {
                const DriverInstance *in = &inv->items[i];
                InventoryItem *it = &out->v[out->n++];

                it->kind = in->kind == DRIVER_OBJECT_VOLUME ? DRIVER_OBJECT_VOLUME : DRIVER_OBJECT_VM;
                it->name = strdup_or_null(in->name ?: "", &ok);
                it->provider_ref = strdup_or_null(in->provider_ref, &ok);
                it->state = in->state;
                it->vcpus = in->vcpus;
                it->memory_mib = in->memory_mib;
                it->size_gib = in->size_gib;
                it->managed = in->managed && in->stamp.resource_id &&
                              resource_known_in(r, &on_provider, in->stamp.resource_id);
                if (!it->managed)
                        continue;
                it->resource_id = strdup_or_null(in->stamp.resource_id, &ok);
                /* The record's view of which VM the block volume is on (attachments.c). */
                if (it->kind == DRIVER_OBJECT_VOLUME) {
                        char vm[64];
                        AttachmentState st;
                        if (attachment_of_volume(r, in->stamp.resource_id, vm, &st) > 0) {
                                it->attached_to = strdup_or_null(vm, &ok);
                                it->attachment_state = st;
                        }
                }
                /* The provider's view: the domains it is a disk of, whoever put it there. */
                if (it->kind == DRIVER_OBJECT_VOLUME) {
                        const SeenDisk *first = seen_first(seen, n_seen, in->stamp.resource_id), *sd;
                        size_t n = 0;
                        for (sd = first;
                             sd && sd < seen + n_seen && streq(sd->volume_id, in->stamp.resource_id); sd++)
                                n++;
                        if (n && !(it->on = calloc(n, sizeof(*it->on))))
                                ok = false;
                        for (sd = first; ok && it->n_on < n; sd++) {
                                InventoryDisk *o = &it->on[it->n_on++];
                                o->domain = strdup_or_null(sd->dom->name ?: "", &ok);
                                o->resource_id = strdup_or_null(sd->owner, &ok);
                                o->target = strdup_or_null(sd->disk->target, &ok);
                                o->persistent = sd->disk->persistent;
                                o->live = sd->disk->live;
                        }
                        if (ok && drift_of_volume(r, provider, in->stamp.resource_id, it) < 0)
                                ok = false;
                }
        }
        if (!ok)
                return NULL;
        return TAKE_PTR(out);
}

/* The reconcile's address reads kept, each one that changed announced. */
static void keep_addresses(InvJob *j) {
        for (size_t i = 0; i < j->n_addr; i++) {
                CbError err = CB_ERROR_INIT;
                if (!j->addr[i])
                        continue;
                _cleanup_(vm_address_list_freep) VmAddressList *old = NULL;
                bool changed = vm_addresses_stored(j->r->store, j->addr_ids[i][0], &old, &err) < 0 ||
                               !vm_address_list_equal(old, j->addr[i]);
                cb_error_clear(&err);
                if (vm_addresses_keep(j->r->store, j->addr_ids[i][0], j->addr[i], &err) < 0)
                        log_warning("cannot keep the addresses of %s: %s", j->addr_ids[i][0], err.message);
                else if (changed)
                        resources_notify(j->r, j->addr_ids[i][0], false);
                cb_error_clear(&err);
        }
}

static void inv_job_free(InvJob *j) {
        for (size_t i = 0; i < j->n_addr; i++)
                vm_address_list_free(j->addr[i]);
        reconcile_run_free(j->run);
        driver_inventory_free(j->inv);
        cb_error_clear(&j->err);
        free(j);
}

/* The active VMs of provider p whose addresses were read longest ago (never first). */
static void pick_addresses(Resources *r, const char *provider, InvJob *j) {
        static const char sql[] =
                "SELECT r.id, COALESCE(r.provider_ref, '') FROM resources r LEFT JOIN resource_addresses a "
                "ON a.resource_id = r.id WHERE r.provider = ?1 AND r.kind = ?2 AND r.state = ?3 "
                "ORDER BY COALESCE(a.read_at, ''), r.id LIMIT ?4";
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        if (store_query(r->store, sql,
                        STORE_ARGS(SA_TEXT(provider), SA_TEXT(resource_kind_to_string(RESOURCE_KIND_VM)),
                                   SA_TEXT(resource_state_to_string(RESOURCE_ACTIVE)),
                                   SA_INT(RECONCILE_ADDRESSES)),
                        &rows, "reading resources", &err) < 0)
                return;
        while (j->n_addr < RECONCILE_ADDRESSES && store_rows_next(rows, &err) > 0) {
                snprintf(j->addr_ids[j->n_addr][0], 64, "%s", store_rows_text(rows, 0));
                snprintf(j->addr_ids[j->n_addr][1], 64, "%s", store_rows_text(rows, 1));
                j->n_addr++;
        }
}

static void inv_job_finish(InvJob *j, int result);
static void inv_job_more(int result, void *userdata);

/* One pass of j's reconcile; false when it handed the loop back and the
 * next pass is posted (j lives on). */
static bool inv_reconcile_pass(InvJob *j) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!j->run && !(j->run = calloc(1, sizeof(*j->run))))
                return true; /* no memory: the next reconcile */
        bool finished = reconcile(j->r, j->provider, j->inv, j->since, j->run);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
        j->loop_ns += ns;
        j->longest_ns = MAX(j->longest_ns, ns);
        j->passes++;
        if (!finished && worker_post(j->r->pool, inv_job_more, 0, j) >= 0)
                return false;
        /* What a big host costs the loop (bench/scale.sh reads it); small ones stay quiet. */
        if (j->inv->n_items >= 1000 || j->passes > 1 || j->loop_ns > 100000000)
                log_info("reconcile of provider %s: %zu objects in %.1f ms of loop time "
                         "(%u passes, the longest %.1f ms)",
                         j->provider, j->inv->n_items, (double)j->loop_ns / 1e6, j->passes,
                         (double)j->longest_ns / 1e6);
        return true;
}

static void inv_job_more(int result, void *userdata) {
        InvJob *j = userdata;
        (void)result;
        if (j->r->stopping) {
                inv_job_finish(j, -ECANCELED);
                return;
        }
        if (inv_reconcile_pass(j))
                inv_job_finish(j, 0);
}

static void inv_job_done(int result, void *userdata) {
        InvJob *j = userdata;
        if (j->r->stopping && result >= 0) {
                result = -ECANCELED;
                cb_error_clear(&j->err);
        }
        if (result >= 0)
                keep_addresses(j);
        if (result >= 0 && j->inv && !inv_reconcile_pass(j))
                return;
        inv_job_finish(j, result);
}

static void inv_job_finish(InvJob *j, int result) {
        if (j->done) {
                if (result == -ECANCELED && !j->err.message[0])
                        cb_error_set(&j->err, CB_ERR_UNAVAILABLE, "the daemon is stopping");
                Inventory *out = NULL;
                if (result >= 0 && !(out = inventory_make(j->r, j->provider, j->inv)))
                        cb_error_set(&j->err, CB_ERR_INTERNAL, "out of memory");
                j->done(out, out ? NULL : &j->err, j->userdata);
        }
        inv_job_free(j);
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
        if (!done && p->ops->addresses) /* a reconcile, not an operator's inventory read */
                pick_addresses(r, p->name, j);
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
        if (driver_is_async(p->ops)) {
                /* No events and no inventory: resume what a stop left open. */
                operations_resume(r, p);
                bindings_resume(r, p);
                return;
        }
        resources_watch(r, p);
        operations_resume(r, p);
        submit_inventory(r, p, NULL, NULL, &err);
        cb_error_clear(&err);
}

static void http_resource_changed(const char *id, void *userdata) {
        resources_notify(userdata, id, false);
}

void resources_reconcile_all(Resources *r) {
        providers_probe_all(r->providers);
        for (size_t i = 0; i < providers_count(r->providers); i++) {
                Provider *p = providers_at(r->providers, i);
                CbError err = CB_ERROR_INIT;
                if (p->status == PROVIDER_CONNECTED && driver_is_async(p->ops)) {
                        /* No inventory to list: each record is asked about instead. */
                        operations_resume(r, p);
                        bindings_resume(r, p);
                        http_reconcile_provider(r->store, r->providers, p, http_resource_changed, r);
                } else if (p->status == PROVIDER_CONNECTED) {
                        operations_resume(r, p);
                        submit_inventory(r, p, NULL, NULL, &err);
                }
                cb_error_clear(&err);
        }
}

/* ---- provider events (libvirt domain life-cycle) ---- */

/* An event is a hint that a domain changed, not the change: libvirt
 * delivers it from its own thread some time after the fact, so the
 * stop and start of the broker's own resize can arrive after the resize's
 * end was recorded, and recording "stopped" then would be a lie (and an
 * audit record of a stop nobody made). So an event makes the broker read
 * the domain as it is now, on a worker, and the reading is recorded only
 * if nothing changed the resource in between: no operation under way,
 * and its change number (resource_changes) no newer than when the reading
 * was queued, the reconcile's rule. A reading overtaken by a change is
 * read again, a bounded number of times; the reconcile catches the rest. */
#define EVENT_READ_TRIES 3

typedef struct EventCopy {
        Resources *r;
        char provider[64];
        DriverEventKind kind;
        char resource_id[64];
        char provider_ref[64];
        const DriverOps *ops;
        DriverConn *conn;
        int64_t since; /* resource_change_seq() when the reading was queued */
        unsigned tries;
        DriverInstance found; /* the reading; valid when event_read_run() succeeded */
} EventCopy;

typedef struct Watch {
        Resources *r;
        char provider[64];
} Watch;

static void event_done(int result, void *userdata);

/* Whether an event of this kind can change a record: a domain that
 * stopped, started, crashed or went away (each makes the broker read the
 * domain), and a lost connection. The others (a domain defined, a
 * guest suspending or shutting down, whatever else libvirt reports) change
 * no record; each provision brings a DEFINED one, and looking its resource
 * and operation up on the loop only to do nothing cost about 1 % of the
 * daemon's CPU under bench/provision.sh. */
static bool event_may_change_state(DriverEventKind kind) {
        switch (kind) {
        case DRIVER_EVENT_CONNECTION_LOST:
        case DRIVER_EVENT_STOPPED:
        case DRIVER_EVENT_STARTED:
        case DRIVER_EVENT_RESUMED:
        case DRIVER_EVENT_CRASHED:
        case DRIVER_EVENT_UNDEFINED:
                return true;
        default:
                return false;
        }
}

static void event_copy_free(EventCopy *c) {
        if (c) {
                driver_instance_done(&c->found);
                free(c);
        }
}

static int event_read_run(void *userdata) {
        EventCopy *c = userdata;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        DriverRef ref = { .resource_id = c->resource_id,
                          .provider_ref = c->provider_ref[0] ? c->provider_ref : NULL };
        driver_instance_done(&c->found);
        return driver_lookup(c->ops, c->conn, &ref, &c->found, &err);
}

static void event_read_done(int result, void *userdata);

/* Whether an event of this kind could move a record in res's state: a stop
 * of what is active, a start of what is stopped (or failed with a VM of
 * record), a crash or removal of either. Any other event is not read: the
 * reading could only say what the record says already, or something a
 * later event of its own reports (each provision's start comes while the
 * record says provisioning or active, and reading it back cost a worker
 * job per VM: bench/scale.sh fell behind its orders). */
static bool event_may_tell(DriverEventKind kind, const Resource *res) {
        switch (kind) {
        case DRIVER_EVENT_STOPPED:
                return res->state == RESOURCE_ACTIVE;
        case DRIVER_EVENT_STARTED:
        case DRIVER_EVENT_RESUMED:
                return res->state == RESOURCE_STOPPED || (res->state == RESOURCE_FAILED && res->provider_ref);
        case DRIVER_EVENT_CRASHED:
        case DRIVER_EVENT_UNDEFINED:
                return res->state == RESOURCE_ACTIVE || res->state == RESOURCE_STOPPED;
        default:
                return false;
        }
}

/* Queues a reading of c's domain (taking c over); false when there is
 * nothing to read it with, or no reason: an operation under way sets the
 * state itself, and a resource not of record is the reconcile's to report. */
static bool event_read_submit(EventCopy *c) {
        Resources *r = c->r;
        _cleanup_(resource_done) Resource res = { 0 };
        char pid[64], pkind[32];
        Provider *p = providers_find(r->providers, c->provider);

        if (!p || p->status != PROVIDER_CONNECTED || !p->conn || !p->ops->lookup ||
            resources_record(r, c->resource_id, &res) < 0 || !event_may_tell(c->kind, &res) ||
            operation_pending(r, c->resource_id, pid, pkind) != 0)
                return false;
        c->since = resource_change_seq(r);
        if (c->since < 0)
                return false;
        c->ops = p->ops;
        c->conn = p->conn;
        snprintf(c->provider_ref, sizeof(c->provider_ref), "%s", res.provider_ref ? res.provider_ref : "");
        c->tries++;
        return worker_submit(r->pool, event_read_run, event_read_done, c) >= 0;
}

/* The event thread: copy and hand over, nothing else. */
static void on_driver_event(const DriverEvent *ev, void *userdata) {
        Watch *w = userdata;
        if (!event_may_change_state(ev->kind))
                return;
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
        (void)result;

        if (c->r->stopping)
                ; /* the next start reads the hosts again */
        else if (c->kind == DRIVER_EVENT_CONNECTION_LOST) {
                log_warning("provider %s: connection lost", c->provider);
                providers_probe_all(c->r->providers);
        } else if (c->resource_id[0] && event_read_submit(c))
                return;
        event_copy_free(c);
}

/* The audit action of a change the host made behind the broker's back. */
static const char *event_action(ResourceState to, bool found) {
        switch (to) {
        case RESOURCE_STOPPED:
                return "resource.event.stopped";
        case RESOURCE_ACTIVE:
                return "resource.event.started";
        default:
                return found ? "resource.event.crashed" : "resource.event.undefined";
        }
}

static void event_read_done(int result, void *userdata) {
        EventCopy *c = userdata;
        Resources *r = c->r;
        _cleanup_(resource_done) Resource res = { 0 };
        char pid[64], pkind[32], now[32];
        bool found = result >= 0;

        if (r->stopping || (result < 0 && result != -ENOENT) ||
            resources_record(r, c->resource_id, &res) < 0 ||
            operation_pending(r, c->resource_id, pid, pkind) != 0)
                goto out; /* the daemon stops, the host did not answer, or an operation sets the state */
        int64_t seq = resource_seq_of(r, c->resource_id);
        if (seq < 0 || seq > c->since) {
                /* Changed since the reading was queued: read again. */
                if (seq >= 0 && c->tries < EVENT_READ_TRIES && event_read_submit(c))
                        return;
                goto out;
        }
        ResourceState was = res.state;
        int to = found ? state_from_driver(c->found.state) : RESOURCE_FAILED;
        /* Only what runs or rests can stop, start or fail; a failed provision
         * has no VM of record (the reconcile adopts it if one exists). */
        if (to < 0 || (int)was == to ||
            !(was == RESOURCE_ACTIVE || was == RESOURCE_STOPPED ||
              (was == RESOURCE_FAILED && res.provider_ref)))
                goto out;
        if (was == RESOURCE_FAILED && !found)
                goto out;
        CbError err = CB_ERROR_INIT;
        const char *action = event_action(to, found);
        store_now(now);
        if (record_state(
                    r, action, found ? "ok" : "failed",
                    &(StateChange){ .id = c->resource_id, .state = resource_state_to_string(to), .now = now },
                    &err) < 0)
                log_error("cannot record event %s of resource %s: %s", action, c->resource_id, err.message);
        cb_error_clear(&err);
        resources_notify(r, c->resource_id, false);
out:
        event_copy_free(c);
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

void resources_stop(Resources *r) {
        r->stopping = true;
        for (size_t i = 0; i < r->n_watches; i++) {
                Provider *p = providers_find(r->providers, r->watches[i]->provider);
                CbError err = CB_ERROR_INIT;
                if (p && p->conn)
                        driver_watch_events(p->ops, p->conn, NULL, NULL, &err);
                cb_error_clear(&err);
        }
}
