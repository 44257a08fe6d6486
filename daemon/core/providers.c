/* SPDX-License-Identifier: Apache-2.0 */
#include "providers.h"

#include <stdio.h>
#include <sys/param.h> /* MIN */

#include "audit.h"
#include "catalog-validate.h"
#include "json-util.h"
#include "log.h"

#define PROVIDERS_MAX 256

struct Providers {
        Store *store;
        WorkerPool *pool;
        Provider *v[PROVIDERS_MAX];
        size_t n;
        ProviderReadyFn ready;
        void *ready_userdata;
};

const char *provider_status_to_string(ProviderStatus s) {
        switch (s) {
        case PROVIDER_CONNECTING:
                return "connecting";
        case PROVIDER_CONNECTED:
                return "connected";
        case PROVIDER_LOST:
                return "lost";
        }
        return "unknown";
}

int providers_new(Store *store, WorkerPool *pool, Providers **ret) {
        Providers *ps = calloc(1, sizeof(*ps));
        if (!ps)
                return -ENOMEM;
        ps->store = store;
        ps->pool = pool;
        *ret = ps;
        return 0;
}

static void provider_free(Provider *p) {
        if (!p)
                return;
        if (p->conn)
                driver_close(p->ops, p->conn);
        free(p->name);
        free(p->driver);
        free(p->uri);
        free(p->image_pool);
        free(p);
}

Providers *providers_free(Providers *ps) {
        if (!ps)
                return NULL;
        for (size_t i = 0; i < ps->n; i++)
                provider_free(ps->v[i]);
        free(ps);
        return NULL;
}

void providers_set_ready_callback(Providers *ps, ProviderReadyFn fn, void *userdata) {
        ps->ready = fn;
        ps->ready_userdata = userdata;
}

Provider *providers_find(Providers *ps, const char *name) {
        for (size_t i = 0; i < ps->n; i++)
                if (streq(ps->v[i]->name, name))
                        return ps->v[i];
        return NULL;
}

size_t providers_count(Providers *ps) {
        return ps->n;
}

Provider *providers_at(Providers *ps, size_t i) {
        return i < ps->n ? ps->v[i] : NULL;
}

/* ---- probing: open if needed, ping, read capacity; on a worker ---- */

typedef struct Probe {
        Providers *ps;
        Provider *p;
        /* Copied in, so the worker never reads the registry. */
        const DriverOps *ops;
        char *uri;
        DriverConn *conn; /* in: current; out: opened when it was NULL */
        bool opened;
        unsigned unread_vcpus; /* what the reading will show that the last one did not */
        uint64_t unread_memory_mib;
        DriverCapacity capacity;
        CbError err;
} Probe;

static int probe_job(void *userdata) {
        Probe *pr = userdata;
        int r;

        if (!pr->conn) {
                r = driver_open(pr->ops, pr->uri, &pr->conn, &pr->err);
                if (r < 0)
                        return r;
                pr->opened = true;
        } else {
                r = driver_ping(pr->ops, pr->conn, &pr->err);
                if (r < 0)
                        return r;
        }
        r = driver_capacity(pr->ops, pr->conn, &pr->capacity, &pr->err);
        /* A driver without capacity reporting is still usable (pinned plans). */
        return r == -EOPNOTSUPP ? 1 : r;
}

static void probe_done(int result, void *userdata) {
        Probe *pr = userdata;
        Provider *p = pr->p;
        bool was_connected = p->status == PROVIDER_CONNECTED;

        p->probing = false;
        if (pr->opened)
                p->conn = pr->conn;
        if (result >= 0) {
                p->status = PROVIDER_CONNECTED;
                p->last_error[0] = 0;
                if (result == 0) {
                        p->capacity = pr->capacity;
                        p->capacity_valid = true;
                        p->unread_vcpus -= MIN(p->unread_vcpus, pr->unread_vcpus);
                        p->unread_memory_mib -= MIN(p->unread_memory_mib, pr->unread_memory_mib);
                }
                /* A change during the reading is seen by the next one. */
                if (!was_connected)
                        log_info("provider %s connected (%s)", p->name, p->uri);
                if (!was_connected && pr->ps->ready)
                        pr->ps->ready(p, pr->ps->ready_userdata);
        } else {
                p->status = p->conn ? PROVIDER_LOST : PROVIDER_CONNECTING;
                snprintf(p->last_error, sizeof(p->last_error), "%s",
                         pr->err.message[0] ? pr->err.message : strerror(-result));
                if (was_connected)
                        log_warning("provider %s lost: %s", p->name, p->last_error);
                if (p->conn)
                        p->status = PROVIDER_LOST;
        }
        cb_error_clear(&pr->err);
        free(pr->uri);
        free(pr);
}

static void provider_probe(Providers *ps, Provider *p) {
        Probe *pr;

        if (p->probing)
                return;
        p->capacity_stale = false;
        pr = calloc(1, sizeof(*pr));
        if (!pr)
                return;
        *pr = (Probe){ .ps = ps,
                       .p = p,
                       .ops = p->ops,
                       .uri = strdup(p->uri),
                       .conn = p->conn,
                       .unread_vcpus = p->unread_vcpus,
                       .unread_memory_mib = p->unread_memory_mib };
        if (!pr->uri || worker_submit(ps->pool, probe_job, probe_done, pr) < 0) {
                free(pr->uri);
                free(pr);
                return;
        }
        p->probing = true;
}

void providers_probe_all(Providers *ps) {
        for (size_t i = 0; i < ps->n; i++)
                provider_probe(ps, ps->v[i]);
}

void providers_refresh_stale(Providers *ps) {
        for (size_t i = 0; i < ps->n; i++)
                if (ps->v[i]->capacity_stale && ps->v[i]->status == PROVIDER_CONNECTED)
                        provider_probe(ps, ps->v[i]);
}

bool providers_any_stale(Providers *ps) {
        for (size_t i = 0; i < ps->n; i++)
                if (ps->v[i]->capacity_stale && ps->v[i]->status == PROVIDER_CONNECTED)
                        return true;
        return false;
}

unsigned provider_free_vcpus(const Provider *p) {
        uint64_t held = (uint64_t)p->reserved_vcpus + p->unread_vcpus;
        return p->capacity.free_vcpus > held ? (unsigned)(p->capacity.free_vcpus - held) : 0;
}

uint64_t provider_free_memory_mib(const Provider *p) {
        uint64_t held = p->reserved_memory_mib + p->unread_memory_mib;
        return p->capacity.free_memory_mib > held ? p->capacity.free_memory_mib - held : 0;
}

void provider_reserve(Provider *p, unsigned vcpus, uint64_t memory_mib) {
        p->reserved_vcpus += vcpus;
        p->reserved_memory_mib += memory_mib;
}

void provider_release(Provider *p, unsigned vcpus, uint64_t memory_mib, bool ran) {
        p->reserved_vcpus -= MIN(p->reserved_vcpus, vcpus);
        p->reserved_memory_mib -= MIN(p->reserved_memory_mib, memory_mib);
        if (ran) {
                p->unread_vcpus += vcpus;
                p->unread_memory_mib += memory_mib;
                p->capacity_stale = true;
        }
}

void provider_capacity_changed(Provider *p) {
        p->capacity_stale = true;
}

static int provider_add(Providers *ps, const char *name, const char *driver, const char *uri,
                        DriverDomainType domain_type, const char *image_pool, bool from_config,
                        Provider **ret, CbError *err) {
        const DriverOps *ops = driver_find(driver);
        Provider *p;

        if (!ops)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "driver", "driver: unknown driver '%s'",
                                          driver);
        if (providers_find(ps, name))
                return cb_error_set_field(err, CB_ERR_CONFLICT, "name", "provider '%s' already exists", name);
        if (ps->n >= PROVIDERS_MAX)
                return cb_error_set(err, CB_ERR_CONFLICT, "at most %d providers", PROVIDERS_MAX);
        p = calloc(1, sizeof(*p));
        if (!p)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *p = (Provider){
                .name = strdup(name),
                .driver = strdup(driver),
                .uri = strdup(uri),
                .domain_type = domain_type,
                .image_pool = image_pool ? strdup(image_pool) : NULL,
                .from_config = from_config,
                .ops = ops,
                .status = PROVIDER_CONNECTING,
        };
        if (!p->name || !p->driver || !p->uri || (image_pool && !p->image_pool)) {
                provider_free(p);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        ps->v[ps->n++] = p;
        provider_probe(ps, p);
        if (ret)
                *ret = p;
        return 0;
}

int providers_add_config(Providers *ps, const char *name, const char *driver, const char *uri,
                         DriverDomainType domain_type, const char *image_pool, CbError *err) {
        return provider_add(ps, name, driver, uri, domain_type, image_pool, true, NULL, err);
}

int providers_load(Providers *ps, CbError *err) {
        static const char sql[] =
                "SELECT name, driver, uri, domain_type, image_pool FROM providers ORDER BY name";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r;

        r = store_query(ps->store, sql, NULL, &rows, "reading providers", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                CbError e = CB_ERROR_INIT;
                const char *name = store_rows_text(rows, 0);
                /* A config entry of the same name wins; the stored one is shadowed. */
                if (providers_find(ps, name))
                        continue;
                int t = driver_domain_type_from_string(store_rows_text(rows, 3));
                if (provider_add(ps, name, store_rows_text(rows, 1), store_rows_text(rows, 2),
                                 t < 0 ? DRIVER_DOMAIN_AUTO : (DriverDomainType)t, store_rows_text(rows, 4),
                                 false, NULL, &e) < 0)
                        log_warning("stored provider %s skipped: %s", name, e.message);
                cb_error_clear(&e);
        }
        return r < 0 ? r : 0;
}

json_t *provider_to_json(const Provider *p) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", p->name, "driver", p->driver, "uri",
                              p->uri, "status", provider_status_to_string(p->status), "source",
                              p->from_config ? "config" : "api");
        if (o && p->ops == driver_find("libvirt"))
                json_object_set_new(o, "domain_type",
                                    json_string(driver_domain_type_to_string(p->domain_type)));
        if (!o)
                return NULL;
        if (p->image_pool)
                json_object_set_new(o, "image_pool", json_string(p->image_pool));
        if (p->last_error[0])
                json_object_set_new(o, "error", json_string(p->last_error));
        /* free_*: what placement may still give (the reading less reservations). */
        if (p->capacity_valid)
                json_object_set_new(
                        o, "capacity",
                        json_pack("{s:i, s:i, s:I, s:I, s:i, s:i, s:I}", "total_vcpus",
                                  (int)p->capacity.total_vcpus, "free_vcpus", (int)provider_free_vcpus(p),
                                  "total_memory_mib", (json_int_t)p->capacity.total_memory_mib,
                                  "free_memory_mib", (json_int_t)provider_free_memory_mib(p), "running",
                                  (int)p->capacity.running, "reserved_vcpus",
                                  (int)(p->reserved_vcpus + p->unread_vcpus), "reserved_memory_mib",
                                  (json_int_t)(p->reserved_memory_mib + p->unread_memory_mib)));
        if (p->capacity_valid && p->capacity.pools_complete) {
                json_t *pools = json_array();
                for (unsigned i = 0; pools && i < p->capacity.n_pools; i++)
                        json_array_append_new(pools, json_string(p->capacity.pools[i]));
                json_object_set_new(json_object_get(o, "capacity"), "pools", pools);
        }
        return o;
}

#define PROVIDER_READERS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_AUDITOR)

int providers_list(Providers *ps, const CbCaller *caller, json_t **ret, CbError *err) {
        json_t *a;
        int r = caller_require_role(caller, PROVIDER_READERS, "list providers", err);
        if (r < 0)
                return r;
        a = json_array();
        for (size_t i = 0; a && i < ps->n; i++)
                json_array_append_new(a, provider_to_json(ps->v[i]));
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = a;
        return 0;
}

typedef struct ProviderRow {
        const char *name, *driver, *uri, *domain_type, *created_at, *created_by, *image_pool;
} ProviderRow;

static int provider_insert(Store *s, void *userdata, CbError *err) {
        static const char ins[] =
                "INSERT INTO providers (name, driver, uri, domain_type, created_at, created_by, image_pool) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
        const ProviderRow *p = userdata;
        int r = store_run(s, ins,
                          STORE_ARGS(SA_TEXT(p->name), SA_TEXT(p->driver), SA_TEXT(p->uri),
                                     SA_TEXT(p->domain_type), SA_TEXT(p->created_at), SA_TEXT(p->created_by),
                                     SA_TEXT(p->image_pool)),
                          "storing the provider", err);
        if (r == -EEXIST)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "name", "provider '%s' already exists",
                                          p->name);
        return r < 0 ? r : 0;
}

int providers_create(Providers *ps, const CbCaller *caller, const json_t *body, json_t **ret, CbError *err) {
        static const char *const fields[] = { "name", "driver", "uri", "domain_type", "image_pool", NULL };
        const char *name = NULL, *driver = NULL, *uri = NULL, *dt = NULL, *image_pool = NULL;
        int domain_type = DRIVER_DOMAIN_AUTO;
        char object[128], now[32];
        Provider *p = NULL;
        int r;

        r = caller_require_role(caller, CB_ROLE_OPERATOR, "add providers", err);
        if (r < 0)
                return r;
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_id(body, "name", true, &name, err);
        if (r >= 0)
                r = json_get_string(body, "driver", true, 32, &driver, err);
        if (r >= 0)
                r = json_get_string(body, "uri", true, 1024, &uri, err);
        if (r >= 0)
                r = json_get_string(body, "domain_type", false, 16, &dt, err);
        if (r >= 0)
                r = json_get_string(body, "image_pool", false, 128, &image_pool, err);
        if (r < 0)
                return r;
        if (image_pool && !image_volume_name_is_valid(image_pool))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "image_pool",
                                          "image_pool: must be a storage pool name ([A-Za-z0-9._-], not "
                                          "starting with '.' or '-')");
        if (image_pool && !streq(driver, "libvirt"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "image_pool",
                                          "image_pool: only libvirt providers have one");
        if (!driver_find(driver))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "driver", "driver: unknown driver '%s'",
                                          driver);
        if (dt && (domain_type = driver_domain_type_from_string(dt)) < 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "domain_type",
                                          "domain_type: must be \"auto\", \"kvm\" or \"qemu\"");
        if (dt && !streq(driver, "libvirt"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "domain_type",
                                          "domain_type: only libvirt providers have one");
        if (providers_find(ps, name))
                return cb_error_set_field(err, CB_ERR_CONFLICT, "name", "provider '%s' already exists", name);

        snprintf(object, sizeof(object), "provider:%s", name);
        store_now(now);
        ProviderRow row = { name,      driver,
                            uri,       driver_domain_type_to_string((DriverDomainType)domain_type),
                            now,       caller->principal->name,
                            image_pool };
        r = audit_change(ps->store, caller, &(AuditEntry){ "provider.create", object, "ok", NULL, NULL },
                         provider_insert, &row, err);
        if (r < 0)
                return r;
        r = provider_add(ps, name, driver, uri, (DriverDomainType)domain_type, image_pool, false, &p, err);
        if (r < 0)
                return r;
        *ret = provider_to_json(p);
        return 0;
}
