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

#include "driver-types.h"
#include "legacy-vm.h"
#include "error.h"

typedef struct DriverOps DriverOps;

/* Every driver's connection begins with this header (the driver embeds it as
 * its first member), so generic code can always find the table. */
typedef struct DriverConn {
        const DriverOps *ops;
} DriverConn;

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
        /* Reads a domain the broker did not create (a legacy VM to migrate,
         * Art. 35) by its name: its XML and the storage volume of each disk
         * that lies in a pool. Changes nothing. -ENOENT (CB_ERR_NOT_FOUND)
         * when there is no such domain. */
        int (*assess_domain)(DriverConn *conn, const char *name, LegacyVm *ret, CbError *err);
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
int driver_assess_domain(const DriverOps *ops, DriverConn *conn, const char *name, LegacyVm *ret,
                         CbError *err);
int driver_migrate_vm(const DriverOps *ops, DriverConn *src, DriverConn *dst, const MigrateSpec *spec,
                      MigrateResult *ret, CbError *err);
int driver_migrate_rollback(const DriverOps *ops, DriverConn *src, DriverConn *dst, const MigrateSpec *spec,
                            CbError *err);
int driver_watch_events(const DriverOps *ops, DriverConn *conn, DriverEventFn cb, void *userdata,
                        CbError *err);
