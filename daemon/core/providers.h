/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Named provider connections (libvirt hosts, later OSB brokers): those in
 * the config and those operators add at run time (stored). Connections are
 * opened, probed and reopened on the worker pool, never on the main loop;
 * the registry itself is touched only by the main thread. Each provider
 * keeps the last capacity it read from its host, which placement uses, less
 * what provisions placed on it and not yet finished have reserved: a reading
 * taken mid-burst does not see those VMs yet. Operations that change what
 * runs mark the reading stale; providers_refresh_stale() re-reads it.
 *
 * http (OSB) providers are driven on the main loop (the driver's
 * asynchronous operations): a probe reads their /v2/catalog, on
 * registration and at every providers_probe_all() (the reconcile timer),
 * and keeps it as what the provider offers. providers_check_service()
 * holds a catalogue service's http plans against it before they may be
 * submitted for sign-off. Their passwords are never shown. The ready
 * callback runs for them too, when a catalogue read first succeeds.
 */

#include <jansson.h>

#include "capacity-ledger.h"
#include "driver.h"
#include "error.h"
#include "principal.h"
#include "secretbox.h"
#include "store.h"
#include "worker.h"

typedef enum ProviderStatus {
        PROVIDER_CONNECTING,
        PROVIDER_CONNECTED,
        PROVIDER_LOST,
} ProviderStatus;

typedef struct Provider {
        char *name;
        char *driver;
        char *uri;
        DriverDomainType domain_type; /* what its VMs are defined as */
        char *image_pool;             /* the pool of its OS image library; NULL: none */
        bool from_config;
        bool managed_only; /* an industry cloud (Art. 35): inventoried, nothing provisioned there */
        const DriverOps *ops;
        DriverConn *conn; /* NULL until the first open succeeded */
        ProviderStatus status;
        char last_error[512];
        DriverCapacity capacity;
        bool capacity_valid;
        bool capacity_stale; /* changed since the reading; refresh_stale reads it again */
        unsigned reserved_vcpus;
        uint64_t reserved_memory_mib;
        /* Provisions whose VM ran after the last reading began: it does not show them yet. */
        CapacityLedger unread;
        bool probing; /* a probe job is under way */
        /* http (OSB) providers; NULL otherwise */
        char *username, *password, *api_version, *ca_file;
        unsigned timeout_s; /* a whole request; 0: the driver's default */
        json_t *offered;    /* the last /v2/catalog read (checked), NULL until one was */
        char catalog_read_at[32];
        unsigned reconcile_fetches; /* reconcile's instance fetches under way (operations-http.c) */
} Provider;

/* What a provider is configured with; strings borrowed. */
typedef struct ProviderSettings {
        const char *name, *driver, *uri;
        DriverDomainType domain_type;
        const char *username, *password, *api_version, *ca_file; /* http only */
        unsigned timeout_s;                                      /* http only; 0: default */
        const char *image_pool; /* libvirt only: the pool of its OS image library; NULL: none */
        bool managed_only;      /* an industry cloud: never provisioned on */
} ProviderSettings;

/* What the faces show of a provider: a snapshot taken on the main thread,
 * owned by the caller. It holds no secret (the http password is never
 * copied), so no serializer can show one. Optional parts come with a flag
 * or as NULL; the defaults the driver applies (api_version "2.17", 30 s)
 * are filled in. */
typedef struct ProviderOffer {
        char *id; /* a service the provider's catalogue offers */
        char **plans;
        size_t n_plans;
} ProviderOffer;

typedef struct ProviderRecord {
        char *name, *driver, *uri;
        ProviderStatus status;
        bool from_config;     /* "source": config or api */
        bool has_domain_type; /* libvirt providers */
        DriverDomainType domain_type;
        char *image_pool; /* NULL: none */
        bool managed_only;
        char *error;                            /* the last failure; NULL: none */
        bool http;                              /* the fields below up to the capacity are http's */
        char *api_version, *username, *ca_file; /* username, ca_file: NULL when not set */
        unsigned timeout_s;
        bool has_offered; /* a catalogue read succeeded */
        ProviderOffer *offered;
        size_t n_offered;
        char catalog_read_at[32];
        bool has_capacity; /* free_* and reserved_*: the reading less (plus) the reservations */
        unsigned total_vcpus, free_vcpus, running, reserved_vcpus;
        uint64_t total_memory_mib, free_memory_mib, reserved_memory_mib;
        bool has_pools; /* the reading listed every pool */
        char pools[DRIVER_POOLS_MAX][64];
        unsigned n_pools;
} ProviderRecord;

void provider_record_done(ProviderRecord *rec);

typedef struct ProviderList {
        ProviderRecord *v;
        size_t n;
} ProviderList;
void provider_list_done(ProviderList *l);

/* The snapshot of p; -ENOMEM. */
int provider_record(const Provider *p, ProviderRecord *ret);

/* What placement may still give: the reading less the reservations, at 0. */
unsigned provider_free_vcpus(const Provider *p);
uint64_t provider_free_memory_mib(const Provider *p);
/* A provision placed on p holds its share from placement until it ends;
 * one that ended with a running VM (ran = true: running by ran_by_ns, the
 * monotonic clock, at the latest) holds it until a reading that began
 * afterwards shows that VM (policy/capacity-ledger.h). */
void provider_reserve(Provider *p, unsigned vcpus, uint64_t memory_mib);
void provider_release(Provider *p, unsigned vcpus, uint64_t memory_mib, bool ran, uint64_t ran_by_ns);
/* The monotonic clock of ran_by_ns and of the readings' start. */
uint64_t provider_clock_ns(void);
/* What runs on p changed: its capacity reading is out of date. */
void provider_capacity_changed(Provider *p);

typedef struct Providers Providers;

/* Called on the main thread whenever a provider becomes connected (e.g. to
 * resume operations that wait for it). */
typedef void (*ProviderReadyFn)(Provider *p, void *userdata);

int providers_new(Store *store, WorkerPool *pool, Providers **ret);
/* Closes connections; the worker pool must already be drained. */
Providers *providers_free(Providers *ps);
DEFINE_TRIVIAL_CLEANUP_FUNC(Providers *, providers_free);

void providers_set_ready_callback(Providers *ps, ProviderReadyFn fn, void *userdata);

/* The key stored passwords are sealed with (secretbox.h, under
 * "providers/NAME/password"); not owned. NULL: an http provider with a
 * password is refused by providers_create() (CB_ERR_UNAVAILABLE). */
void providers_set_secrets(Providers *ps, const SecretBox *box);
/* At start, before providers_load(): seals the passwords still stored in
 * clear, in one transaction. *ret_sealed (may be NULL): how many. Clear
 * rows and no key: CB_ERR_VALIDATION saying so (the daemon does not start). */
int providers_seal_stored(Providers *ps, unsigned *ret_sealed, CbError *err);

/* Registers a configured provider (not stored) and starts connecting. */
int providers_add_config(Providers *ps, const char *name, const char *driver, const char *uri,
                         DriverDomainType domain_type, const char *image_pool, CbError *err);
/* The same with every setting (http providers: credentials, version, CA, time limit). */
int providers_add_config_settings(Providers *ps, const ProviderSettings *set, CbError *err);
/* Loads the stored ones and starts connecting. */
int providers_load(Providers *ps, CbError *err);
/* POST /v1/providers: an operator adds one; stored, audited, connecting.
 * libvirt: {"name", "driver", "uri", ["domain_type"]}; http: {"name",
 * "driver": "http", "url", "username", "password", "api_version",
 * ["ca_file"]}; either may add "managed_only": true (an industry cloud
 * under management, Art. 35: inventoried, never provisioned on). */
int providers_create(Providers *ps, const CbCaller *caller, const json_t *body, ProviderRecord *ret,
                     CbError *err);

Provider *providers_find(Providers *ps, const char *name);
size_t providers_count(Providers *ps);
Provider *providers_at(Providers *ps, size_t i);

/* Re-probes every provider (reconnects lost ones, refreshes capacity). */
void providers_probe_all(Providers *ps);
/* Re-probes the connected providers whose capacity is stale (a timer calls it). */
void providers_refresh_stale(Providers *ps);
bool providers_any_stale(Providers *ps);

/* Whether a catalogue service document may be submitted for sign-off as
 * far as its providers go: each plan of an http service that names a
 * provider must name a registered http provider whose last catalogue read
 * offers spec.remote_service_id with spec.remote_plan_id. A refusal names
 * the field (plans[N].spec.remote_plan_id). Other drivers: 0. */
int providers_check_service(Providers *ps, const json_t *doc, CbError *err);
/* GET /v1/providers: operators, authority, auditors. */
int providers_list(Providers *ps, const CbCaller *caller, ProviderList *ret, CbError *err);

const char *provider_status_to_string(ProviderStatus s);
