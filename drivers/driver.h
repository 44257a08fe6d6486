/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The provider driver table. Each provider kind (libvirt for VMs, later HTTP
 * for OSB services) is one DriverOps: a name and a set of function pointers,
 * any of which may be NULL. Callers never call through the table directly:
 * the driver_*() helpers below validate their arguments once and turn an
 * absent operation into -EOPNOTSUPP with CB_ERR_UNSUPPORTED ("driver X does
 * not support Y"), never a crash.
 *
 * Promises every driver keeps (docs/drivers.md says more):
 *  - The blocking operations (open ... watch_events) block (network round
 *    trips, timeouts): run them on a worker thread (worker.h), never on the
 *    main loop. A connection may be used by several workers at once.
 *  - The asynchronous operations (*_async, below; the http driver has only
 *    these) are the opposite: they are called on the main loop, return at
 *    once, and call their DriverReplyFn later on the main loop, exactly once.
 *  - Everything a driver creates is stamped with the broker's resource id, so
 *    that crash recovery and reconcile can match provider objects to records.
 *  - provision is idempotent by resource id; deprovision is idempotent (absent
 *    means success); start/stop on an object already in that state succeed.
 *  - No operation ever touches an object whose stamp names another resource,
 *    or that has no stamp: it refuses with CB_ERR_CONFLICT.
 *  - On failure: a negative errno, and err (may be NULL) says why. A provider
 *    that cannot be reached is CB_ERR_UNAVAILABLE; a lost connection is
 *    reopened on the next call.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "driver-types.h"
#include "legacy-vm.h"
#include "error.h"

typedef struct DriverOps DriverOps;

/* What a resize (DriverOps.resize) sets: the plan's size, and whether the VM
 * runs afterwards. Borrowed. */
typedef struct ResizeSpec {
        unsigned vcpus;
        uint64_t memory_mib;
        uint64_t disk_gib; /* the system disk grows to this; 0 or less than it has: left as it is */
        const char *pool;  /* the system disk's pool; NULL = "default" */
        bool run;          /* start it afterwards (it ran before the resize) */
        unsigned stop_timeout_ms;
} ResizeSpec;

/* Every driver's connection begins with this header (the driver embeds it as
 * its first member), so generic code can always find the table. */
typedef struct DriverConn {
        const DriverOps *ops;
} DriverConn;

/* Runs on the driver's event thread, NOT the main loop: copy what you need
 * and hand it over (worker_post() in worker.h does exactly that). Keep it short. */
typedef void (*DriverEventFn)(const DriverEvent *ev, void *userdata);

/* What opening a connection may need beyond its URI (http: credentials and
 * TLS). Borrowed for the duration of open_with. */
typedef struct DriverOpenOptions {
        const char *username, *password; /* basic auth; NULL = none */
        const char *api_version;         /* OSB: X-Broker-API-Version, e.g. "2.17" */
        const char *ca_file;             /* https: trust this CA file instead of the system's */
        unsigned timeout_ms;             /* a whole request, answer included; 0 = 30 s */
        size_t max_body;                 /* a longer answer is cut off; 0 = 1 MiB */
} DriverOpenOptions;

/* Who asks and for what: every asynchronous request carries it (the OSB
 * context, originating identity and request identity). Borrowed. */
typedef struct DriverCallContext {
        const char *principal;  /* the department's principal: originating identity */
        const char *department; /* context.department, organization_guid */
        const char *project_id; /* context.project_id, space_guid */
        const char *approval_no;
        const char *system_id;
        const char *request_id;        /* X-Broker-API-Request-Identity; NULL: one is made */
        const char *remote_service_id; /* the provider's service and plan */
        const char *remote_plan_id;
} DriverCallContext;

/* Where an asynchronous operation stands. */
typedef enum DriverOpState {
        DRIVER_OP_SUCCEEDED = 0, /* done (deprovision: the instance is gone) */
        DRIVER_OP_IN_PROGRESS,   /* accepted (202): poll last_operation */
        DRIVER_OP_FAILED,        /* last_operation said "failed" */
        DRIVER_OP_GONE,          /* 410: the provider has no such instance (or binding) */
} DriverOpState;

/* Why a request did not get a usable answer: what the caller should do next. */
typedef enum DriverFailure {
        DRIVER_FAILURE_NONE = 0,
        DRIVER_FAILURE_TRANSPORT, /* no answer: connection refused, time-out, TLS; retry with backoff */
        DRIVER_FAILURE_SERVER,    /* 5xx: retry with backoff */
        DRIVER_FAILURE_REFUSED,   /* 4xx (3xx too: redirects are not followed): final */
        DRIVER_FAILURE_MALFORMED, /* an answer that is not what the protocol says (field named) */
        DRIVER_FAILURE_TOO_LARGE, /* an answer over max_body */
        DRIVER_FAILURE_CANCELLED, /* the connection was closed first */
} DriverFailure;

/* Borrowed for the duration of the callback. r is 0 or a negative errno,
 * and err (never NULL) says why; reply is never NULL. */
typedef struct DriverReply {
        unsigned http_status; /* 0 when there was no answer */
        DriverFailure failure;
        DriverOpState state;
        const char *operation;   /* the provider's operation token, or NULL */
        const char *description; /* the provider's words (also on 4xx/5xx), or NULL */
        unsigned retry_after_s;  /* Retry-After, 0 when absent */
        const json_t *body;      /* the parsed answer (catalog: checked), or NULL */
} DriverReply;

typedef void (*DriverReplyFn)(int r, const DriverReply *reply, const CbError *err, void *userdata);

struct DriverOps {
        const char *name;

        /* Process-wide set-up and tear-down (libvirt: the event loop thread).
         * global_init is idempotent; open calls it itself if needed. */
        int (*global_init)(CbError *err);
        void (*global_shutdown)(void);

        int (*open)(const char *uri, DriverConn **ret_conn, CbError *err);
        /* Stops event delivery before it returns; accepts NULL. */
        void (*close)(DriverConn *conn);
        /* 0 if the provider answers (reopening a lost connection), else -EAGAIN. */
        int (*ping)(DriverConn *conn, CbError *err);

        int (*inventory)(DriverConn *conn, DriverInventory **ret, CbError *err);
        /* The object stamped with ref->resource_id: -ENOENT (CB_ERR_NOT_FOUND) when absent. */
        int (*lookup)(DriverConn *conn, const DriverRef *ref, DriverInstance *ret, CbError *err);
        /* Create the volume, define, start; idempotent by resource id: an existing
         * object stamped with it is started if needed and returned. A failure
         * rolls back what this call created. *ret_provider_ref: malloc'd. */
        int (*provision)(DriverConn *conn, const ProvisionSpec *spec, char **ret_provider_ref, CbError *err);
        int (*start)(DriverConn *conn, const DriverRef *ref, CbError *err);
        /* Graceful shutdown, forced off after timeout_ms (0 = force at once). */
        int (*stop)(DriverConn *conn, const DriverRef *ref, unsigned timeout_ms, CbError *err);
        int (*reboot)(DriverConn *conn, const DriverRef *ref, CbError *err);
        /* Force off, undefine, delete the volume; absent = success. */
        int (*deprovision)(DriverConn *conn, const DriverRef *ref, CbError *err);
        int (*capacity)(DriverConn *conn, DriverCapacity *ret, CbError *err);
        /* Attach (attach true) or detach the block volume volume_id (its
         * volume in pool) to the VM of ref as target, in the persistent
         * definition and, when the domain runs, live. Idempotent: a disk
         * already there (by its serial, the volume's id) attaches, an absent
         * one detaches, as success. NULL: the driver has no volumes. */
        int (*attach_volume)(DriverConn *conn, const DriverRef *ref, const char *pool, const char *volume_id,
                             const char *target, bool attach, CbError *err);
        /* A cold resize: stops the VM (gracefully, forced after
         * spec->stop_timeout_ms), sets vCPUs and memory in its persistent
         * definition, grows the system disk, and starts it when spec->run.
         * Idempotent: a definition and disk that have the size already are
         * left as they are, so a resize interrupted by a crash runs again.
         * On any failure it puts back the vCPUs and memory it found and
         * starts the VM again when spec->run (a grown disk is not shrunk:
         * that would cut a file system); the error says what failed.
         * NULL: the driver cannot resize. */
        int (*resize)(DriverConn *conn, const DriverRef *ref, const ResizeSpec *spec, CbError *err);
        /* Reads a domain the broker did not create (a legacy VM to migrate,
         * Art. 35) by its name: its XML and the storage volume of each disk
         * that lies in a pool. Changes nothing. -ENOENT (CB_ERR_NOT_FOUND)
         * when there is no such domain. */
        int (*assess_domain)(DriverConn *conn, const char *name, LegacyVm *ret, CbError *err);
        /* Reads a disk image that is no domain's (an image source from a
         * server room, "pool/volume") as a VM of one disk: its name the
         * volume's, the disk's format, capacity and allocation from the
         * volume; vCPUs, memory and NICs unknown (0, none). Changes
         * nothing. CB_ERR_NOT_FOUND when there is no such volume. */
        int (*assess_image)(DriverConn *conn, const char *pool_volume, LegacyVm *ret, CbError *err);
        /* Adoption (Art. 35): stamps the domain named `domain` (a name or a
         * UUID) that the broker did not create with *stamp and returns it as
         * an instance. NOT_FOUND naming "domain" when there is none; CONFLICT
         * when it already carries a stamp (the broker's, or an adoption's)
         * of another resource; one of stamp->resource_id itself (the same
         * adoption run again after a restart) is success. */
        int (*adopt_domain)(DriverConn *conn, const char *domain, const DriverStamp *stamp,
                            DriverInstance *ret, CbError *err);
        /* Decommission (Art. 35): undefines the shut-off source domain `name`
         * that a move left behind; its disk volumes are deleted only when
         * remove_disks. Absent is success. CONFLICT when it runs or carries
         * a stamp (it is then the broker's, not a source). */
        int (*undefine_source)(DriverConn *conn, const char *name, bool remove_disks, CbError *err);
        /* A cold move (Art. 35; MigrateSpec in driver-types.h): shut the
         * source domain down, copy its disk into the target pool through
         * sparse volume streams, compare SHA-256 digests of both sides,
         * define the target stamped with target.resource_id and start it.
         * On failure it rolls back itself (migrate_rollback). src and dst may
         * be one connection. */
        int (*migrate_vm)(DriverConn *src, DriverConn *dst, const MigrateSpec *spec, MigrateResult *ret,
                          CbError *err);
        /* Removes the target domain and volume of spec->target.resource_id,
         * then starts the source again if spec->source_was_running; absent
         * is success, so it may run again after a crash. */
        int (*migrate_rollback)(DriverConn *src, DriverConn *dst, const MigrateSpec *spec, CbError *err);
        /* Reads volume `volume` of pool `pool` whole and digests it with alg
         * ("sha256" or "sm3"); NOT_FOUND names "pool" or "volume". Never writes. */
        int (*image_inspect)(DriverConn *conn, const char *pool, const char *volume, const char *alg,
                             DriverImageInfo *ret, CbError *err);
        /* Makes volume `volume` (a new one: CONFLICT naming "volume" when it
         * exists) of format in pool from exactly size bytes read from fd,
         * digesting them with alg; keeps it only when the digest is
         * `expected` (else VALIDATION naming "digest"), deletes it on any
         * failure. fd stays the caller's. */
        int (*image_upload)(DriverConn *conn, const char *pool, const char *volume, const char *format,
                            int fd, uint64_t size, const char *alg, const char *expected,
                            DriverImageInfo *ret, CbError *err);
        /* The last max_bytes (1..1 MiB) of the serial console log of the VM
         * stamped with ref->resource_id: *ret malloc'd (not NUL-terminated
         * data, *ret_len bytes), *ret_truncated when older output was left
         * off. An empty log (the VM never ran) is 0 bytes. Never writes. */
        int (*console_tail)(DriverConn *conn, const DriverRef *ref, size_t max_bytes, char **ret,
                            size_t *ret_len, bool *ret_truncated, CbError *err);
        /* The VM's interfaces and their addresses, from the network's DHCP
         * leases: a JSON array of {"name", "mac", "addresses": [{"type":
         * "ipv4"|"ipv6", "address", "prefix"}]} (a new reference). */
        int (*addresses)(DriverConn *conn, const DriverRef *ref, json_t **ret, CbError *err);
        /* One watcher per connection; cb NULL stops watching. Survives reopen. */
        int (*watch_events)(DriverConn *conn, DriverEventFn cb, void *userdata, CbError *err);

        /* ---- asynchronous operations: on the main loop, never blocking ---- */

        /* Process-wide: the loop whose sockets and timers the driver uses
         * (http: libcurl's multi interface). Before any *_async call. */
        int (*attach_event)(sd_event *e, CbError *err);
        /* Like open, with options; for an asynchronous driver it does no I/O
         * (the provider is first reached by catalog_async). */
        int (*open_with)(const char *uri, const DriverOpenOptions *opts, DriverConn **ret_conn, CbError *err);
        /* GET /v2/catalog; reply->body is the checked catalogue. */
        int (*catalog_async)(DriverConn *conn, DriverReplyFn done, void *userdata, CbError *err);
        /* PUT /v2/service_instances/<resource id>?accepts_incomplete=true.
         * Idempotent by resource id at the provider (200 for the same). */
        int (*provision_async)(DriverConn *conn, const ProvisionSpec *spec, const DriverCallContext *ctx,
                               DriverReplyFn done, void *userdata, CbError *err);
        /* DELETE ...; 410 (already gone) is state GONE, a success. */
        int (*deprovision_async)(DriverConn *conn, const DriverRef *ref, const DriverCallContext *ctx,
                                 DriverReplyFn done, void *userdata, CbError *err);
        /* GET .../last_operation[?operation=]; reply->state is the provider's,
         * and GONE (410) ends a deprovision. */
        int (*last_operation_async)(DriverConn *conn, const DriverRef *ref, const DriverCallContext *ctx,
                                    const char *operation, DriverReplyFn done, void *userdata, CbError *err);
        /* PATCH /v2/service_instances/<resource id>?accepts_incomplete=true to
         * plan_id (a remote plan id of ctx->remote_service_id; NULL: the plan
         * stays and none is sent) with parameters (NULL: none sent; at least
         * one of the two); ctx->remote_plan_id is the current plan, sent as
         * previous_values. SUCCEEDED (200) or IN_PROGRESS (202, reply->operation
         * to poll) like a provision. */
        int (*update_async)(DriverConn *conn, const DriverRef *ref, const DriverCallContext *ctx,
                            const char *plan_id, const json_t *parameters, DriverReplyFn done, void *userdata,
                            CbError *err);
        /* GET /v2/service_instances/<resource id>: SUCCEEDED with the body
         * ({service_id, plan_id}, checked) when it exists, GONE on 404/410.
         * With ref->binding_id: GET .../service_bindings/<binding id>, its
         * body ({credentials}, an object when present) likewise; and
         * last_operation_async asks the binding's last_operation. */
        int (*fetch_async)(DriverConn *conn, const DriverRef *ref, const DriverCallContext *ctx,
                           DriverReplyFn done, void *userdata, CbError *err);
        /* PUT .../service_bindings/<ref->binding_id>?accepts_incomplete=true,
         * with the context and parameters (may be NULL). SUCCEEDED (200/201,
         * reply->body holds "credentials", an object when present) or
         * IN_PROGRESS (202, reply->operation to poll). */
        int (*bind_async)(DriverConn *conn, const DriverRef *ref, const DriverCallContext *ctx,
                          const json_t *parameters, DriverReplyFn done, void *userdata, CbError *err);
        /* DELETE .../service_bindings/<ref->binding_id>?...&accepts_incomplete=true;
         * 410 (already gone) is state GONE, a success. */
        int (*unbind_async)(DriverConn *conn, const DriverRef *ref, const DriverCallContext *ctx,
                            DriverReplyFn done, void *userdata, CbError *err);
};

extern const DriverOps libvirt_driver_ops;
extern const DriverOps http_driver_ops;

/* The known drivers by name ("libvirt", "http"); NULL if unknown. */
const DriverOps *driver_find(const char *name);

/* Makes bounded waits inside driver operations (a graceful stop's grace
 * period) end at once with -ECANCELED, so the daemon can stop within its
 * deadline; the operation stays unfinished and is run again on restart. */
void driver_cancel_waits(void);
bool driver_waits_cancelled(void);

/* How long opening a connection may take before it is given up as
 * unavailable (default 10 s): a host that accepts the TCP connection and
 * never answers must not hold a worker, or the daemon's stop, forever.
 * Process-wide, like driver_cancel_waits(). */
void driver_set_connect_timeout_ms(unsigned ms);
unsigned driver_connect_timeout_ms(void);

/* Runs global_init of every known driver / global_shutdown in reverse order. */
int driver_global_init(CbError *err);
void driver_global_shutdown(void);

/* Dispatch helpers: the only way the core calls a driver. Each returns
 * -EOPNOTSUPP (CB_ERR_UNSUPPORTED) when the operation is absent from the
 * table, -EINVAL (CB_ERR_INVALID or CB_ERR_VALIDATION) on bad arguments. */
int driver_open(const DriverOps *ops, const char *uri, DriverConn **ret_conn, CbError *err);
DriverConn *driver_close(const DriverOps *ops, DriverConn *conn);
int driver_ping(const DriverOps *ops, DriverConn *conn, CbError *err);
int driver_inventory(const DriverOps *ops, DriverConn *conn, DriverInventory **ret, CbError *err);
int driver_lookup(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, DriverInstance *ret,
                  CbError *err);
int driver_provision(const DriverOps *ops, DriverConn *conn, const ProvisionSpec *spec,
                     char **ret_provider_ref, CbError *err);
int driver_start(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, CbError *err);
int driver_stop(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, unsigned timeout_ms,
                CbError *err);
int driver_reboot(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, CbError *err);
int driver_deprovision(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, CbError *err);
int driver_attach_volume(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, const char *pool,
                         const char *volume_id, const char *target, bool attach, CbError *err);
int driver_resize(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, const ResizeSpec *spec,
                  CbError *err);
int driver_capacity(const DriverOps *ops, DriverConn *conn, DriverCapacity *ret, CbError *err);
int driver_image_upload(const DriverOps *ops, DriverConn *conn, const char *pool, const char *volume,
                        const char *format, int fd, uint64_t size, const char *alg, const char *expected,
                        DriverImageInfo *ret, CbError *err);
int driver_assess_domain(const DriverOps *ops, DriverConn *conn, const char *name, LegacyVm *ret,
                         CbError *err);
int driver_assess_image(const DriverOps *ops, DriverConn *conn, const char *pool_volume, LegacyVm *ret,
                        CbError *err);
int driver_migrate_vm(const DriverOps *ops, DriverConn *src, DriverConn *dst, const MigrateSpec *spec,
                      MigrateResult *ret, CbError *err);
int driver_migrate_rollback(const DriverOps *ops, DriverConn *src, DriverConn *dst, const MigrateSpec *spec,
                            CbError *err);
int driver_image_inspect(const DriverOps *ops, DriverConn *conn, const char *pool, const char *volume,
                         const char *alg, DriverImageInfo *ret, CbError *err);
int driver_watch_events(const DriverOps *ops, DriverConn *conn, DriverEventFn cb, void *userdata,
                        CbError *err);
/* The console tail: max_bytes is 1..DRIVER_CONSOLE_MAX. */
#define DRIVER_CONSOLE_MAX (1024u * 1024u)
int driver_console_tail(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, size_t max_bytes,
                        char **ret, size_t *ret_len, bool *ret_truncated, CbError *err);
int driver_addresses(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, json_t **ret,
                     CbError *err);

/* Whether the driver's operations are the asynchronous ones. */
bool driver_is_async(const DriverOps *ops);
/* attach_event of every driver that has one. */
int driver_attach_event(sd_event *e, CbError *err);
/* open_with when the driver has it, else open (opts ignored). */
int driver_open_with(const DriverOps *ops, const char *uri, const DriverOpenOptions *opts,
                     DriverConn **ret_conn, CbError *err);
/* The asynchronous dispatch helpers: on a refusal (bad arguments, absent
 * operation) they return it and done is never called; on 0, done is called
 * exactly once, later, never from within the helper. */
int driver_catalog_async(const DriverOps *ops, DriverConn *conn, DriverReplyFn done, void *userdata,
                         CbError *err);
int driver_provision_async(const DriverOps *ops, DriverConn *conn, const ProvisionSpec *spec,
                           const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err);
int driver_deprovision_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                             const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err);
int driver_last_operation_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                                const DriverCallContext *ctx, const char *operation, DriverReplyFn done,
                                void *userdata, CbError *err);
int driver_update_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                        const DriverCallContext *ctx, const char *plan_id, const json_t *parameters,
                        DriverReplyFn done, void *userdata, CbError *err);
int driver_fetch_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                       const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err);
/* ref->binding_id is required. */
int driver_bind_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                      const DriverCallContext *ctx, const json_t *parameters, DriverReplyFn done,
                      void *userdata, CbError *err);
int driver_unbind_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                        const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err);
