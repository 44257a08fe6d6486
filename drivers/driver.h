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
 *  - Operations block (network round trips, timeouts): run them on a worker
 *    thread (worker.h), never on the main loop. A connection may be used by
 *    several workers at once.
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

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct DriverOps DriverOps;

/* Every driver's connection begins with this header (the driver embeds it as
 * its first member), so generic code can always find the table. */
typedef struct DriverConn {
        const DriverOps *ops;
} DriverConn;

/* What a provisioned object is. A volume is a block-storage disk of its own
 * (the catalogue's "volume" plans): it has a size and a pool, no power state. */
typedef enum DriverObjectKind {
        DRIVER_OBJECT_VM = 0,
        DRIVER_OBJECT_VOLUME,
} DriverObjectKind;

/* "vm", "volume". */
const char *driver_object_kind_to_string(DriverObjectKind k);

/* Which libvirt domain type a provider's VMs get. AUTO takes the best the
 * host offers (kvm, then qemu); KVM or QEMU insist on that one, so a host
 * whose /dev/kvm QEMU cannot open can still run VMs under TCG. */
typedef enum DriverDomainType {
        DRIVER_DOMAIN_AUTO = 0,
        DRIVER_DOMAIN_KVM,
        DRIVER_DOMAIN_QEMU,
        _DRIVER_DOMAIN_MAX,
} DriverDomainType;

/* "auto", "kvm", "qemu"; from_string: -EINVAL for anything else (NULL too). */
const char *driver_domain_type_to_string(DriverDomainType t);
int driver_domain_type_from_string(const char *s);

/* What to build. Strings are borrowed for the duration of the call. */
typedef struct ProvisionSpec {
        DriverObjectKind kind;          /* VM unless set */
        const char *resource_id;        /* required, [A-Za-z0-9._-]{1,64}: names provider objects */
        const char *name;               /* required, human name: UTF-8, no control characters */
        const char *project_id;         /* required */
        const char *approval_no;        /* required */
        const char *catalog_service_id; /* required */
        const char *catalog_plan_id;    /* required */
        unsigned catalog_revision;
        unsigned vcpus;               /* 1..1024; ignored for a volume */
        uint64_t memory_mib;          /* 1..16 TiB; ignored for a volume */
        uint64_t disk_gib;            /* 0 = no disk volume; a volume's size, 1.. */
        const char *arch;             /* NULL = "x86_64" */
        const char *network;          /* NULL or "" = no NIC */
        const char *pool;             /* NULL = "default" */
        const char *os_image;         /* reserved: accepted and ignored for now */
        DriverDomainType domain_type; /* AUTO unless the provider says otherwise */
} ProvisionSpec;

/* Names one provisioned object for start/stop/reboot/deprovision/lookup. */
typedef struct DriverRef {
        DriverObjectKind kind;    /* what provision built */
        const char *resource_id;  /* required: the stamp the object must carry */
        const char *provider_ref; /* what provision returned, or NULL if it was never recorded */
        const char *pool;         /* NULL = "default": where the disk volume lives */
} DriverRef;

typedef enum DriverState {
        DRIVER_STATE_UNKNOWN = 0,
        DRIVER_STATE_RUNNING,
        DRIVER_STATE_PAUSED,
        DRIVER_STATE_SHUTTING_DOWN,
        DRIVER_STATE_SHUTOFF,
        DRIVER_STATE_CRASHED,
        DRIVER_STATE_PRESENT, /* a volume: it exists, it has no power state */
        _DRIVER_STATE_MAX,
} DriverState;

/* "running", "paused", "shutting-down", "shutoff", "crashed", "present", "unknown". */
const char *driver_state_to_string(DriverState s);

/* The broker's stamp as read back from a provider object. */
typedef struct DriverStamp {
        char *resource_id; /* never NULL in a valid stamp */
        char *name;
        char *project_id;
        char *approval_no;
        char *service_id;
        char *plan_id;
        unsigned catalog_revision;
} DriverStamp;

/* Frees the strings and zeroes the struct; safe on a zeroed struct. */
void driver_stamp_done(DriverStamp *s);

/* Volumes are listed only when their name is the broker's ("cb-<resource
 * id>.img"): a volume carries no metadata, so its name is its stamp, and the
 * stamp holds only resource_id. That includes the disk of a VM resource. */
typedef struct DriverInstance {
        DriverObjectKind kind;
        char *name;         /* provider's name for it */
        char *provider_ref; /* libvirt: domain UUID, or the volume's key */
        DriverState state;
        unsigned vcpus;
        uint64_t memory_mib;
        uint64_t size_gib; /* a volume's capacity */
        bool managed;      /* carries a broker stamp */
        DriverStamp stamp; /* valid only when managed */
} DriverInstance;

void driver_instance_done(DriverInstance *i);

typedef struct DriverInventory {
        DriverInstance *items;
        size_t n_items;
} DriverInventory;

DriverInventory *driver_inventory_free(DriverInventory *inv);
DEFINE_TRIVIAL_CLEANUP_FUNC(DriverInventory *, driver_inventory_free);

/* Free = total - what running instances are given (no overcommit model); clamped at 0. */
typedef struct DriverCapacity {
        unsigned total_vcpus;
        unsigned used_vcpus;
        unsigned free_vcpus;
        uint64_t total_memory_mib;
        uint64_t used_memory_mib;
        uint64_t free_memory_mib;
        unsigned running; /* running instances, managed or not */
        /* The active storage pools, for placing disks and volumes; a host
         * with more than DRIVER_POOLS_MAX leaves pools_complete false, and
         * then any pool counts as present. */
#define DRIVER_POOLS_MAX 16
        char pools[DRIVER_POOLS_MAX][64];
        unsigned n_pools;
        bool pools_complete;
} DriverCapacity;

/* Whether the reading shows pool (NULL or "" = "default"); true when the
 * list is incomplete. */
bool driver_capacity_has_pool(const DriverCapacity *c, const char *pool);

typedef enum DriverEventKind {
        DRIVER_EVENT_DEFINED,
        DRIVER_EVENT_UNDEFINED,
        DRIVER_EVENT_STARTED,
        DRIVER_EVENT_SUSPENDED,
        DRIVER_EVENT_RESUMED,
        DRIVER_EVENT_SHUTDOWN, /* the guest is shutting down; STOPPED follows */
        DRIVER_EVENT_STOPPED,
        DRIVER_EVENT_CRASHED,
        DRIVER_EVENT_OTHER,
        DRIVER_EVENT_CONNECTION_LOST, /* no instance: the provider went away */
        _DRIVER_EVENT_MAX,
} DriverEventKind;

const char *driver_event_kind_to_string(DriverEventKind k);

/* Borrowed for the duration of the callback only. */
typedef struct DriverEvent {
        DriverEventKind kind;
        DriverState state;        /* state the event implies */
        const char *name;         /* NULL for CONNECTION_LOST */
        const char *provider_ref; /* NULL for CONNECTION_LOST */
        const char *resource_id;  /* from the stamp when it could be read, else NULL */
        int detail;               /* provider-specific detail code */
} DriverEvent;

/* Runs on the driver's event thread, NOT the main loop: copy what you need
 * and hand it over (worker_post() in worker.h does exactly that). Keep it short. */
typedef void (*DriverEventFn)(const DriverEvent *ev, void *userdata);

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
        /* One watcher per connection; cb NULL stops watching. Survives reopen. */
        int (*watch_events)(DriverConn *conn, DriverEventFn cb, void *userdata, CbError *err);
};

extern const DriverOps libvirt_driver_ops;

/* The known drivers by name ("libvirt"); NULL if unknown. */
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

/* Checks a spec field by field (CB_ERR_VALIDATION naming the field). */
int provision_spec_validate(const ProvisionSpec *spec, CbError *err);
/* [A-Za-z0-9._-]{1,64}, not starting with '.' or '-'. */
bool driver_resource_id_is_valid(const char *id);

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
int driver_capacity(const DriverOps *ops, DriverConn *conn, DriverCapacity *ret, CbError *err);
int driver_watch_events(const DriverOps *ops, DriverConn *conn, DriverEventFn cb, void *userdata,
                        CbError *err);
