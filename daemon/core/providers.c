/* SPDX-License-Identifier: Apache-2.0 */
#include "providers.h"

#include <errno.h>
#include <stdio.h>
#include <sys/param.h> /* MIN */
#include <unistd.h>

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
        const SecretBox *secrets;
};

void providers_set_secrets(Providers *ps, const SecretBox *box) {
        ps->secrets = box;
}

/* Frees a string holding a secret, wiping it first. */
static void erase_freep(char **p) {
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}

static void password_ad(const char *name, char ret[320]) {
        snprintf(ret, 320, "providers/%s/password", name);
}

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
        capacity_ledger_done(&p->unread);
        free(p->name);
        free(p->driver);
        free(p->uri);
        free(p->username);
        if (p->password)
                explicit_bzero(p->password, strlen(p->password));
        free(p->password);
        free(p->api_version);
        free(p->ca_file);
        json_decref(p->offered);
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
        uint64_t read_from_ns; /* when the reading began (provider_clock_ns) */
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
        /* Every VM running by now is in the reading. */
        pr->read_from_ns = provider_clock_ns();
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
                        capacity_ledger_read(&p->unread, pr->read_from_ns);
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

/* ---- http providers: the catalogue read, on the main loop ---- */

typedef struct CatalogRead {
        Providers *ps;
        Provider *p;
} CatalogRead;

static void provider_set_error(Provider *p, const char *msg) {
        snprintf(p->last_error, sizeof(p->last_error), "%s", msg);
}

static void catalog_read_done(int r, const DriverReply *reply, const CbError *err, void *userdata) {
        CatalogRead *cr = userdata;
        Provider *p = cr->p;
        Providers *cr_ps = cr->ps;
        bool was_connected;

        free(cr);
        if (r == -ECANCELED)
                return; /* the connection is being closed with the registry */
        was_connected = p->status == PROVIDER_CONNECTED;
        p->probing = false;
        if (r >= 0 && reply->body) {
                json_t *copy = json_deep_copy(reply->body);
                if (copy) {
                        json_decref(p->offered);
                        p->offered = copy;
                }
                store_now(p->catalog_read_at);
                p->status = PROVIDER_CONNECTED;
                p->last_error[0] = 0;
                if (!was_connected)
                        log_info("provider %s connected (%s): %zu services offered", p->name, p->uri,
                                 json_array_size(json_object_get(p->offered, "services")));
                if (!was_connected && cr_ps->ready)
                        cr_ps->ready(p, cr_ps->ready_userdata);
                return;
        }
        p->status = p->offered ? PROVIDER_LOST : PROVIDER_CONNECTING;
        provider_set_error(p, err->message[0] ? err->message : strerror(-r));
        if (was_connected)
                log_warning("provider %s lost: %s", p->name, p->last_error);
}

static void provider_probe_async(Providers *ps, Provider *p) {
        CbError err = CB_ERROR_INIT;
        CatalogRead *cr;
        int r;

        if (p->probing)
                return;
        if (!p->conn) {
                DriverOpenOptions o = { .username = p->username,
                                        .password = p->password,
                                        .api_version = p->api_version,
                                        .ca_file = p->ca_file,
                                        .timeout_ms = p->timeout_s * 1000 };
                r = driver_open_with(p->ops, p->uri, &o, &p->conn, &err);
                if (r < 0) {
                        provider_set_error(p, err.message);
                        cb_error_clear(&err);
                        return;
                }
        }
        cr = calloc(1, sizeof(*cr));
        if (!cr)
                return;
        *cr = (CatalogRead){ ps, p };
        r = driver_catalog_async(p->ops, p->conn, catalog_read_done, cr, &err);
        if (r < 0) {
                free(cr);
                provider_set_error(p, err.message);
                cb_error_clear(&err);
                return;
        }
        p->probing = true;
}

static void provider_probe(Providers *ps, Provider *p) {
        Probe *pr;

        if (driver_is_async(p->ops)) {
                provider_probe_async(ps, p);
                return;
        }
        if (p->probing)
                return;
        p->capacity_stale = false;
        pr = calloc(1, sizeof(*pr));
        if (!pr)
                return;
        *pr = (Probe){ .ps = ps, .p = p, .ops = p->ops, .uri = strdup(p->uri), .conn = p->conn };
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
        uint64_t held = (uint64_t)p->reserved_vcpus + p->unread.vcpus;
        return p->capacity.free_vcpus > held ? (unsigned)(p->capacity.free_vcpus - held) : 0;
}

uint64_t provider_free_memory_mib(const Provider *p) {
        uint64_t held = p->reserved_memory_mib + p->unread.memory_mib;
        return p->capacity.free_memory_mib > held ? p->capacity.free_memory_mib - held : 0;
}

void provider_reserve(Provider *p, unsigned vcpus, uint64_t memory_mib) {
        p->reserved_vcpus += vcpus;
        p->reserved_memory_mib += memory_mib;
}

uint64_t provider_clock_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void provider_release(Provider *p, unsigned vcpus, uint64_t memory_mib, bool ran, uint64_t ran_by_ns) {
        p->reserved_vcpus -= MIN(p->reserved_vcpus, vcpus);
        p->reserved_memory_mib -= MIN(p->reserved_memory_mib, memory_mib);
        if (ran) {
                capacity_ledger_ran(&p->unread, vcpus, memory_mib, ran_by_ns);
                p->capacity_stale = true;
        }
}

void provider_capacity_changed(Provider *p) {
        p->capacity_stale = true;
}

static int provider_add(Providers *ps, const ProviderSettings *set, bool from_config, Provider **ret,
                        CbError *err) {
        const char *name = set->name, *driver = set->driver, *uri = set->uri;
        const DriverOps *ops = driver_find(driver);
        bool oom = false;
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
                .domain_type = set->domain_type,
                .timeout_s = set->timeout_s,
                .image_pool = set->image_pool ? strdup(set->image_pool) : NULL,
                .from_config = from_config,
                .managed_only = set->managed_only,
                .ops = ops,
                .status = PROVIDER_CONNECTING,
        };
#define DUP_OPT(field)                                      \
        if (set->field && !(p->field = strdup(set->field))) \
                oom = true;
        DUP_OPT(username)
        DUP_OPT(password)
        DUP_OPT(api_version)
        DUP_OPT(ca_file)
#undef DUP_OPT
        if (!p->name || !p->driver || !p->uri || oom || (set->image_pool && !p->image_pool)) {
                provider_free(p);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        ps->v[ps->n++] = p;
        provider_probe(ps, p);
        if (ret)
                *ret = p;
        return 0;
}

int providers_add_config_settings(Providers *ps, const ProviderSettings *set, CbError *err) {
        return provider_add(ps, set, true, NULL, err);
}

int providers_add_config(Providers *ps, const char *name, const char *driver, const char *uri,
                         DriverDomainType domain_type, const char *image_pool, CbError *err) {
        ProviderSettings set = { .name = name,
                                 .driver = driver,
                                 .uri = uri,
                                 .domain_type = domain_type,
                                 .image_pool = image_pool };
        return providers_add_config_settings(ps, &set, err);
}

int providers_load(Providers *ps, CbError *err) {
        static const char sql[] =
                "SELECT name, driver, uri, domain_type, username, password, api_version, ca_file, "
                "timeout_seconds, image_pool, managed_only "
                "FROM providers ORDER BY name";
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
                const char *stored = store_rows_text(rows, 5);
                _cleanup_(erase_freep) char *password = NULL;
                char ad[320];
                password_ad(name, ad);
                /* Sealed at start (providers_seal_stored), so clear is never seen here. */
                if (stored &&
                    (!ps->secrets || secretbox_open(ps->secrets, ad, stored, &password, NULL) < 0)) {
                        log_warning(
                                "stored provider %s skipped: its password does not open under the secrets "
                                "key (secrets.key): another key, or the row was altered",
                                name);
                        continue;
                }
                ProviderSettings set = { .name = name,
                                         .driver = store_rows_text(rows, 1),
                                         .uri = store_rows_text(rows, 2),
                                         .domain_type = t < 0 ? DRIVER_DOMAIN_AUTO : (DriverDomainType)t,
                                         .username = store_rows_text(rows, 4),
                                         .password = password,
                                         .api_version = store_rows_text(rows, 6),
                                         .ca_file = store_rows_text(rows, 7),
                                         .timeout_s = (unsigned)store_rows_int(rows, 8),
                                         .image_pool = store_rows_text(rows, 9),
                                         .managed_only = store_rows_int(rows, 10) != 0 };
                if (provider_add(ps, &set, false, NULL, &e) < 0)
                        log_warning("stored provider %s skipped: %s", name, e.message);
                cb_error_clear(&e);
        }
        return r < 0 ? r : 0;
}

void provider_record_done(ProviderRecord *rec) {
        if (!rec)
                return;
        free(rec->name);
        free(rec->driver);
        free(rec->uri);
        free(rec->image_pool);
        free(rec->error);
        free(rec->api_version);
        free(rec->username);
        free(rec->ca_file);
        for (size_t i = 0; i < rec->n_offered; i++) {
                free(rec->offered[i].id);
                for (size_t j = 0; j < rec->offered[i].n_plans; j++)
                        free(rec->offered[i].plans[j]);
                free(rec->offered[i].plans);
        }
        free(rec->offered);
        *rec = (ProviderRecord){ 0 };
}

void provider_list_done(ProviderList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                provider_record_done(&l->v[i]);
        free(l->v);
        *l = (ProviderList){ 0 };
}

/* The services and plan ids of the last catalogue read (the driver checked
 * that each id is a string). */
static int offered_copy(const json_t *offered, ProviderRecord *rec) {
        const json_t *services = json_object_get(offered, "services"), *svc;
        size_t i;

        rec->offered = calloc(MAX(json_array_size(services), 1u), sizeof(*rec->offered));
        if (!rec->offered)
                return -ENOMEM;
        json_array_foreach(services, i, svc) {
                const json_t *plans = json_object_get(svc, "plans"), *pl;
                ProviderOffer *o = &rec->offered[rec->n_offered++];
                size_t j;

                o->id = strdup(json_string_value(json_object_get(svc, "id")) ?: "");
                o->plans = calloc(MAX(json_array_size(plans), 1u), sizeof(*o->plans));
                if (!o->id || !o->plans)
                        return -ENOMEM;
                json_array_foreach(plans, j, pl) {
                        o->plans[o->n_plans] = strdup(json_string_value(json_object_get(pl, "id")) ?: "");
                        if (!o->plans[o->n_plans])
                                return -ENOMEM;
                        o->n_plans++;
                }
        }
        return 0;
}

int provider_record(const Provider *p, ProviderRecord *ret) {
        ProviderRecord rec = { .status = p->status,
                               .from_config = p->from_config,
                               .has_domain_type = p->ops == driver_find("libvirt"),
                               .domain_type = p->domain_type,
                               .managed_only = p->managed_only,
                               .http = driver_is_async(p->ops) };
        bool ok = true;

        rec.name = strdup_or_null(p->name, &ok);
        rec.driver = strdup_or_null(p->driver, &ok);
        rec.uri = strdup_or_null(p->uri, &ok);
        rec.image_pool = strdup_or_null(p->image_pool, &ok);
        rec.error = strdup_or_null(p->last_error[0] ? p->last_error : NULL, &ok);
        if (rec.http) {
                /* never the password */
                rec.api_version = strdup_or_null(p->api_version ?: "2.17", &ok);
                rec.username = strdup_or_null(p->username, &ok);
                rec.ca_file = strdup_or_null(p->ca_file, &ok);
                rec.timeout_s = p->timeout_s ?: 30;
                if (p->offered) {
                        rec.has_offered = true;
                        snprintf(rec.catalog_read_at, sizeof(rec.catalog_read_at), "%s", p->catalog_read_at);
                        if (offered_copy(p->offered, &rec) < 0)
                                ok = false;
                }
        }
        if (p->capacity_valid) {
                rec.has_capacity = true;
                rec.total_vcpus = p->capacity.total_vcpus;
                rec.free_vcpus = provider_free_vcpus(p);
                rec.total_memory_mib = p->capacity.total_memory_mib;
                rec.free_memory_mib = provider_free_memory_mib(p);
                rec.running = p->capacity.running;
                rec.reserved_vcpus = p->reserved_vcpus + p->unread.vcpus;
                rec.reserved_memory_mib = p->reserved_memory_mib + p->unread.memory_mib;
                rec.has_pools = p->capacity.pools_complete;
                rec.n_pools = MIN(p->capacity.n_pools, (unsigned)DRIVER_POOLS_MAX);
                memcpy(rec.pools, p->capacity.pools, sizeof(rec.pools));
        }
        if (!ok) {
                provider_record_done(&rec);
                return -ENOMEM;
        }
        *ret = rec;
        return 0;
}

#define PROVIDER_READERS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_AUDITOR)

int providers_list(Providers *ps, const CbCaller *caller, ProviderList *ret, CbError *err) {
        ProviderList l = { 0 };
        int r = caller_require_role(caller, PROVIDER_READERS, "list providers", err);
        if (r < 0)
                return r;
        l.v = calloc(MAX(ps->n, 1u), sizeof(*l.v));
        if (!l.v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        for (; l.n < ps->n; l.n++)
                if (provider_record(ps->v[l.n], &l.v[l.n]) < 0) {
                        provider_list_done(&l);
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
        *ret = l;
        return 0;
}

typedef struct ProviderRow {
        const char *name, *driver, *uri, *domain_type, *created_at, *created_by;
        const char *username, *password, *api_version, *ca_file;
        unsigned timeout_s;
        const char *image_pool;
        bool managed_only;
} ProviderRow;

static int provider_insert(Store *s, void *userdata, CbError *err) {
        static const char ins[] =
                "INSERT INTO providers (name, driver, uri, domain_type, created_at, "
                "created_by, username, password, "
                "api_version, ca_file, timeout_seconds, image_pool, managed_only) VALUES (?1, ?2, ?3, ?4, "
                "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
        const ProviderRow *p = userdata;
        int r = store_run(s, ins,
                          STORE_ARGS(SA_TEXT(p->name), SA_TEXT(p->driver), SA_TEXT(p->uri),
                                     SA_TEXT(p->domain_type), SA_TEXT(p->created_at), SA_TEXT(p->created_by),
                                     SA_TEXT(p->username), SA_TEXT(p->password), SA_TEXT(p->api_version),
                                     SA_TEXT(p->ca_file), p->timeout_s ? SA_INT(p->timeout_s) : SA_NULL,
                                     SA_TEXT(p->image_pool), SA_INT(p->managed_only ? 1 : 0)),
                          "storing the provider", err);
        if (r == -EEXIST)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "name", "provider '%s' already exists",
                                          p->name);
        return r < 0 ? r : 0;
}

/* The http fields of POST /v1/providers, checked the way the driver will
 * (so that nothing is stored that cannot be opened). */
static int check_http_body(const json_t *body, ProviderSettings *set, CbError *err) {
        int r = json_get_string(body, "url", true, 1024, &set->uri, err);
        if (r >= 0)
                r = json_get_string(body, "username", true, 255, &set->username, err);
        if (r >= 0)
                r = json_get_string(body, "password", true, 1024, &set->password, err);
        if (r >= 0)
                r = json_get_string(body, "api_version", true, 8, &set->api_version, err);
        if (r >= 0)
                r = json_get_string(body, "ca_file", false, 4096, &set->ca_file, err);
        if (r < 0)
                return r;
        const json_t *ts = json_object_get(body, "timeout_seconds");
        if (ts && (!json_is_integer(ts) || json_integer_value(ts) < 1 || json_integer_value(ts) > 300))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "timeout_seconds",
                                          "timeout_seconds: an integer from 1 to 300");
        set->timeout_s = ts ? (unsigned)json_integer_value(ts) : 0;
        if (json_object_get(body, "uri"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "uri",
                                          "uri: an http provider has a \"url\"");
        if (set->ca_file && set->ca_file[0] != '/')
                return cb_error_set_field(err, CB_ERR_VALIDATION, "ca_file",
                                          "ca_file: must be an absolute path");
        if (set->ca_file && access(set->ca_file, R_OK) < 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "ca_file", "ca_file: cannot read %s: %s",
                                          set->ca_file, strerror(errno));
        /* open_with does no I/O: it is the check of url and api_version. */
        DriverConn *c = NULL;
        DriverOpenOptions o = { .username = set->username,
                                .password = set->password,
                                .api_version = set->api_version,
                                .ca_file = set->ca_file };
        r = driver_open_with(driver_find("http"), set->uri, &o, &c, err);
        driver_close(driver_find("http"), c);
        return r;
}

int providers_create(Providers *ps, const CbCaller *caller, const json_t *body, ProviderRecord *ret,
                     CbError *err) {
        static const char *const fields[] = { "name",        "driver",          "uri",        "domain_type",
                                              "url",         "username",        "password",   "ca_file",
                                              "api_version", "timeout_seconds", "image_pool", "managed_only",
                                              NULL };
        const char *name = NULL, *driver = NULL, *uri = NULL, *dt = NULL, *image_pool = NULL;
        int domain_type = DRIVER_DOMAIN_AUTO;
        bool managed_only = false;
        ProviderSettings set = { 0 };
        _cleanup_(freep) char *sealed = NULL;
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
                r = json_get_string(body, "image_pool", false, 128, &image_pool, err);
        if (r >= 0)
                r = json_get_bool(body, "managed_only", false, &managed_only, err);
        if (r < 0)
                return r;
        if (managed_only && image_pool)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "managed_only",
                                          "managed_only: a managed_only provider has no image_pool "
                                          "(nothing is provisioned there)");
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
        if (streq(driver, "http")) {
                r = check_http_body(body, &set, err);
                if (r < 0)
                        return r;
                if (json_object_get(body, "domain_type"))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "domain_type",
                                                  "domain_type: only libvirt providers have one");
                uri = set.uri;
        } else {
                static const char *const http_only[] = { "url",     "username",    "password",
                                                         "ca_file", "api_version", "timeout_seconds",
                                                         NULL };
                for (const char *const *k = http_only; *k; k++)
                        if (json_object_get(body, *k))
                                return cb_error_set_field(err, CB_ERR_VALIDATION, *k,
                                                          "%s: only http providers have one", *k);
                r = json_get_string(body, "uri", true, 1024, &uri, err);
                if (r >= 0)
                        r = json_get_string(body, "domain_type", false, 16, &dt, err);
                if (r < 0)
                        return r;
        }
        if (dt && (domain_type = driver_domain_type_from_string(dt)) < 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "domain_type",
                                          "domain_type: must be \"auto\", \"kvm\" or \"qemu\"");
        if (dt && !streq(driver, "libvirt"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "domain_type",
                                          "domain_type: only libvirt providers have one");
        if (providers_find(ps, name))
                return cb_error_set_field(err, CB_ERR_CONFLICT, "name", "provider '%s' already exists", name);

        if (set.password) {
                char ad[320];
                if (!ps->secrets)
                        return cb_error_set_field(
                                err, CB_ERR_UNAVAILABLE, "password",
                                "password: the broker has no secrets key (secrets.key or the "
                                "secrets-key credential) to store it with");
                password_ad(name, ad);
                if (secretbox_seal(ps->secrets, ad, set.password, strlen(set.password), &sealed) < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot seal the password");
        }
        snprintf(object, sizeof(object), "provider:%s", name);
        store_now(now);
        ProviderRow row = { name,
                            driver,
                            uri,
                            driver_domain_type_to_string((DriverDomainType)domain_type),
                            now,
                            caller->principal->name,
                            set.username,
                            sealed,
                            set.api_version,
                            set.ca_file,
                            set.timeout_s,
                            image_pool,
                            managed_only };
        /* The audit record names the provider and its URL, never the password. */
        r = audit_change(ps->store, caller, &(AuditEntry){ "provider.create", object, "ok", NULL, NULL },
                         provider_insert, &row, err);
        if (r < 0)
                return r;
        set.name = name;
        set.driver = driver;
        set.uri = uri;
        set.domain_type = (DriverDomainType)domain_type;
        set.image_pool = image_pool;
        set.managed_only = managed_only;
        r = provider_add(ps, &set, false, &p, err);
        if (r < 0)
                return r;
        /* Stored and registered: only the answer is short of memory then. */
        if (provider_record(p, ret) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return 0;
}

/* ---- the sign-off check of http plans ---- */

static const json_t *find_id(const json_t *array, const char *id) {
        const json_t *v;
        size_t i;
        json_array_foreach(array, i,
                           v) if (streq(json_string_value(json_object_get(v, "id")) ?: "", id)) return v;
        return NULL;
}

int providers_check_service(Providers *ps, const json_t *doc, CbError *err) {
        const json_t *plan;
        size_t i;
        char field[96];

        if (!streq(json_string_value(json_object_get(doc, "driver")) ?: "", "http"))
                return 0;
        json_array_foreach(json_object_get(doc, "plans"), i, plan) {
                const json_t *spec = json_object_get(plan, "spec"), *svc;
                const char *prov = json_string_value(json_object_get(spec, "provider"));
                const char *rs = json_string_value(json_object_get(spec, "remote_service_id"));
                const char *rp = json_string_value(json_object_get(spec, "remote_plan_id"));
                Provider *p;

                /* A plan that names no provider is one nothing can provision
                 * (the resource request says so); it is not a mapping to check. */
                if (!prov)
                        continue;
                p = providers_find(ps, prov);
                snprintf(field, sizeof(field), "plans[%zu].spec.provider", i);
                if (!p || !driver_is_async(p->ops))
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, field,
                                                  "%s: no http provider '%s' is registered", field, prov);
                if (!p->offered)
                        return cb_error_set_field(
                                err, CB_ERR_UNPROCESSABLE, field,
                                "%s: the catalogue of provider '%s' has not been read yet (%s%s%s)", field,
                                prov, provider_status_to_string(p->status), p->last_error[0] ? ": " : "",
                                p->last_error);
                snprintf(field, sizeof(field), "plans[%zu].spec.remote_service_id", i);
                if (!rs)
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, field,
                                                  "%s: a plan served by provider '%s' must name its service",
                                                  field, prov);
                svc = find_id(json_object_get(p->offered, "services"), rs);
                if (!svc)
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, field,
                                                  "%s: provider '%s' offers no service '%s'", field, prov,
                                                  rs);
                snprintf(field, sizeof(field), "plans[%zu].spec.remote_plan_id", i);
                if (!rp)
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, field,
                                                  "%s: a plan served by provider '%s' must name its plan",
                                                  field, prov);
                if (!find_id(json_object_get(svc, "plans"), rp))
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, field,
                                                  "%s: provider '%s' offers no plan '%s' in service '%s'",
                                                  field, prov, rp, rs);
        }
        return 0;
}

typedef struct ClearPassword {
        char *name, *password;
} ClearPassword;

static void clear_passwords_free(ClearPassword *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (v[i].password)
                        explicit_bzero(v[i].password, strlen(v[i].password));
                free(v[i].password);
                free(v[i].name);
        }
        free(v);
}

static int seal_passwords(Providers *ps, const ClearPassword *v, size_t n, CbError *err) {
        int r = 0;

        if (store_begin(ps->store) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot begin a transaction");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_(freep) char *sealed = NULL;
                char ad[320];
                password_ad(v[i].name, ad);
                if (secretbox_seal(ps->secrets, ad, v[i].password, strlen(v[i].password), &sealed) < 0)
                        r = cb_error_set(err, CB_ERR_INTERNAL, "cannot seal a provider's password");
                else
                        r = store_run(ps->store, "UPDATE providers SET password = ?1 WHERE name = ?2",
                                      STORE_ARGS(SA_TEXT(sealed), SA_TEXT(v[i].name)), "sealing a password",
                                      err);
        }
        if (r < 0) {
                store_rollback(ps->store);
                return r;
        }
        if (store_commit(ps->store) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot commit the sealed passwords");
        return 0;
}

int providers_seal_stored(Providers *ps, unsigned *ret_sealed, CbError *err) {
        static const char sel[] = "SELECT name, password FROM providers WHERE password IS NOT NULL";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        ClearPassword *v = NULL;
        size_t n = 0;
        int r;

        r = store_query(ps->store, sel, NULL, &rows, "reading providers", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                const char *pw = store_rows_text(rows, 1);
                ClearPassword *t;
                if (!pw || secretbox_is_sealed(pw))
                        continue;
                t = realloc(v, (n + 1) * sizeof(*v));
                if (!t) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                v = t;
                v[n].name = strdup(store_rows_text(rows, 0));
                v[n].password = strdup(pw);
                n++;
                if (!v[n - 1].name || !v[n - 1].password) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
        }
        store_rows_done(rows);
        rows = NULL;
        if (r >= 0 && n > 0 && !ps->secrets)
                r = cb_error_set(
                        err, CB_ERR_VALIDATION,
                        "%zu http provider password(s) are stored in clear and the broker has no secrets "
                        "key to seal them: set secrets.key (or the secrets-key credential)",
                        n);
        else if (r >= 0 && n > 0)
                r = seal_passwords(ps, v, n, err);
        clear_passwords_free(v, n);
        if (r < 0)
                return r;
        if (ret_sealed)
                *ret_sealed = (unsigned)n;
        return 0;
}
