/* SPDX-License-Identifier: Apache-2.0 */
#include "driver.h"

#include <stdatomic.h>

#include <stdio.h>

/* The order is the global_init order. */
static const DriverOps *const driver_table[] = {
        &libvirt_driver_ops,
        &http_driver_ops,
};

const DriverOps *driver_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(driver_table); i++)
                if (streq(driver_table[i]->name, name))
                        return driver_table[i];
        return NULL;
}

int driver_global_init(CbError *err) {
        for (size_t i = 0; i < ELEMENTSOF(driver_table); i++) {
                if (!driver_table[i]->global_init)
                        continue;
                int r = driver_table[i]->global_init(err);
                if (r < 0) {
                        while (i-- > 0)
                                if (driver_table[i]->global_shutdown)
                                        driver_table[i]->global_shutdown();
                        return r;
                }
        }
        return 0;
}

void driver_global_shutdown(void) {
        for (size_t i = ELEMENTSOF(driver_table); i-- > 0;)
                if (driver_table[i]->global_shutdown)
                        driver_table[i]->global_shutdown();
}

static int check_ref(const DriverRef *ref, CbError *err) {
        if (!ref || !driver_resource_id_is_valid(ref->resource_id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource_id",
                                          "an operation needs a valid resource_id");
        if (ref->pool && !driver_resource_id_is_valid(ref->pool))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "pool",
                                          "pool must be 1-64 characters of A-Z a-z 0-9 . _ -");
        return 0;
}

static int unsupported(const DriverOps *ops, const char *what, CbError *err) {
        return cb_error_set(err, CB_ERR_UNSUPPORTED, "driver %s does not support %s",
                            ops && ops->name ? ops->name : "(none)", what);
}

/* Resolves the table and the operation, or returns from the caller. */
#define DISPATCH_CHECK(ops, conn, op, err)                                                               \
        do {                                                                                             \
                if (!(ops))                                                                              \
                        return cb_error_set(err, CB_ERR_INVALID, "no driver");                           \
                if (!(conn))                                                                             \
                        return cb_error_set(err, CB_ERR_INVALID, "no connection");                       \
                if ((conn)->ops != (ops))                                                                \
                        return cb_error_set(err, CB_ERR_INVALID, "connection of driver %s used with %s", \
                                            (conn)->ops ? (conn)->ops->name : "(none)", (ops)->name);    \
                if (!(ops)->op)                                                                          \
                        return unsupported(ops, #op, err);                                               \
        } while (0)

int driver_open(const DriverOps *ops, const char *uri, DriverConn **ret_conn, CbError *err) {
        if (!ops)
                return cb_error_set(err, CB_ERR_INVALID, "no driver");
        if (!ret_conn)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the connection");
        if (!ops->open)
                return unsupported(ops, "open", err);
        if (isempty(uri))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "uri", "a provider needs a URI");
        DriverConn *c = NULL;
        int r = ops->open(uri, &c, err);
        if (r < 0)
                return r;
        *ret_conn = c;
        return 0;
}

DriverConn *driver_close(const DriverOps *ops, DriverConn *conn) {
        if (ops && conn && ops->close)
                ops->close(conn);
        return NULL;
}

int driver_ping(const DriverOps *ops, DriverConn *conn, CbError *err) {
        DISPATCH_CHECK(ops, conn, ping, err);
        return ops->ping(conn, err);
}

int driver_inventory(const DriverOps *ops, DriverConn *conn, DriverInventory **ret, CbError *err) {
        DISPATCH_CHECK(ops, conn, inventory, err);
        if (!ret)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the inventory");
        return ops->inventory(conn, ret, err);
}

int driver_lookup(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, DriverInstance *ret,
                  CbError *err) {
        DISPATCH_CHECK(ops, conn, lookup, err);
        int r = check_ref(ref, err);
        if (r < 0)
                return r;
        if (!ret)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the instance");
        return ops->lookup(conn, ref, ret, err);
}

int driver_provision(const DriverOps *ops, DriverConn *conn, const ProvisionSpec *spec,
                     char **ret_provider_ref, CbError *err) {
        DISPATCH_CHECK(ops, conn, provision, err);
        int r = provision_spec_validate(spec, err);
        if (r < 0)
                return r;
        if (!ret_provider_ref)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the provider reference");
        return ops->provision(conn, spec, ret_provider_ref, err);
}

/* Power operations apply to VMs only, whatever the driver. */
static int check_power_ref(const DriverRef *ref, const char *what, CbError *err) {
        int r = check_ref(ref, err);
        if (r < 0)
                return r;
        if (ref->kind != DRIVER_OBJECT_VM)
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "%s is a volume: it has no power state to %s",
                                    ref->resource_id, what);
        return 0;
}

int driver_start(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, CbError *err) {
        DISPATCH_CHECK(ops, conn, start, err);
        int r = check_power_ref(ref, "start", err);
        return r < 0 ? r : ops->start(conn, ref, err);
}

int driver_stop(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, unsigned timeout_ms,
                CbError *err) {
        DISPATCH_CHECK(ops, conn, stop, err);
        int r = check_power_ref(ref, "stop", err);
        return r < 0 ? r : ops->stop(conn, ref, timeout_ms, err);
}

int driver_reboot(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, CbError *err) {
        DISPATCH_CHECK(ops, conn, reboot, err);
        int r = check_power_ref(ref, "reboot", err);
        return r < 0 ? r : ops->reboot(conn, ref, err);
}

int driver_attach_volume(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, const char *pool,
                         const char *volume_id, const char *target, bool attach, CbError *err) {
        DISPATCH_CHECK(ops, conn, attach_volume, err);
        int r = check_ref(ref, err);
        if (r >= 0 && ref->kind != DRIVER_OBJECT_VM)
                r = cb_error_set(err, CB_ERR_UNSUPPORTED, "%s is a volume: volumes attach to VMs only",
                                 ref->resource_id);
        if (r >= 0 && !driver_resource_id_is_valid(volume_id))
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "volume_id", "volume_id: not a resource id");
        return r < 0 ? r : ops->attach_volume(conn, ref, pool, volume_id, target, attach, err);
}

int driver_resize(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, const ResizeSpec *spec,
                  CbError *err) {
        DISPATCH_CHECK(ops, conn, resize, err);
        int r = check_ref(ref, err);
        if (r >= 0 && ref->kind != DRIVER_OBJECT_VM)
                r = cb_error_set(err, CB_ERR_UNSUPPORTED, "%s is a volume: only VMs are resized",
                                 ref->resource_id);
        if (r >= 0 && !spec)
                r = cb_error_set(err, CB_ERR_INVALID, "no resize spec");
        if (r >= 0 && spec->vcpus == 0)
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "vcpus", "vcpus: must be at least 1");
        if (r >= 0 && spec->memory_mib == 0)
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "memory_mib",
                                       "memory_mib: must be at least 1");
        return r < 0 ? r : ops->resize(conn, ref, spec, err);
}

int driver_deprovision(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, CbError *err) {
        DISPATCH_CHECK(ops, conn, deprovision, err);
        int r = check_ref(ref, err);
        return r < 0 ? r : ops->deprovision(conn, ref, err);
}

int driver_capacity(const DriverOps *ops, DriverConn *conn, DriverCapacity *ret, CbError *err) {
        DISPATCH_CHECK(ops, conn, capacity, err);
        if (!ret)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the capacity");
        return ops->capacity(conn, ret, err);
}

int driver_image_inspect(const DriverOps *ops, DriverConn *conn, const char *pool, const char *volume,
                         const char *alg, DriverImageInfo *ret, CbError *err) {
        DISPATCH_CHECK(ops, conn, image_inspect, err);
        if (isempty(pool))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "pool", "pool: required");
        if (isempty(volume))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "volume", "volume: required");
        if (!alg || (!streq(alg, "sha256") && !streq(alg, "sm3")))
                return cb_error_set(err, CB_ERR_INVALID, "digest algorithm must be sha256 or sm3");
        if (!ret)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the image information");
        return ops->image_inspect(conn, pool, volume, alg, ret, err);
}

int driver_image_upload(const DriverOps *ops, DriverConn *conn, const char *pool, const char *volume,
                        const char *format, int fd, uint64_t size, const char *alg, const char *expected,
                        DriverImageInfo *ret, CbError *err) {
        DISPATCH_CHECK(ops, conn, image_upload, err);
        if (isempty(pool) || isempty(volume) || fd < 0 || size == 0 || !expected || !ret)
                return cb_error_set(err, CB_ERR_INVALID,
                                    "an upload needs a pool, a volume, data and a digest");
        if (!format || (!streq(format, "qcow2") && !streq(format, "raw")))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "format", "format: must be qcow2 or raw");
        if (!alg || (!streq(alg, "sha256") && !streq(alg, "sm3")))
                return cb_error_set(err, CB_ERR_INVALID, "digest algorithm must be sha256 or sm3");
        return ops->image_upload(conn, pool, volume, format, fd, size, alg, expected, ret, err);
}

int driver_assess_domain(const DriverOps *ops, DriverConn *conn, const char *name, LegacyVm *ret,
                         CbError *err) {
        DISPATCH_CHECK(ops, conn, assess_domain, err);
        if (!name || !*name || !ret)
                return cb_error_set(err, CB_ERR_INVALID, "no domain name or no place for what it is");
        return ops->assess_domain(conn, name, ret, err);
}

int driver_assess_image(const DriverOps *ops, DriverConn *conn, const char *pool_volume, LegacyVm *ret,
                        CbError *err) {
        DISPATCH_CHECK(ops, conn, assess_image, err);
        if (!pool_volume || !strchr(pool_volume, '/') || !ret)
                return cb_error_set(err, CB_ERR_INVALID, "no \"pool/volume\" or no place for what it is");
        return ops->assess_image(conn, pool_volume, ret, err);
}

int driver_migrate_vm(const DriverOps *ops, DriverConn *src, DriverConn *dst, const MigrateSpec *spec,
                      MigrateResult *ret, CbError *err) {
        DISPATCH_CHECK(ops, src, migrate_vm, err);
        /* No source domain: an image source, a disk alone. */
        if (!dst || !spec || !spec->source_volume || !ret)
                return cb_error_set(err, CB_ERR_INVALID, "a move needs a target and a source disk");
        return ops->migrate_vm(src, dst, spec, ret, err);
}

int driver_migrate_rollback(const DriverOps *ops, DriverConn *src, DriverConn *dst, const MigrateSpec *spec,
                            CbError *err) {
        DISPATCH_CHECK(ops, src, migrate_rollback, err);
        if (!dst || !spec)
                return cb_error_set(err, CB_ERR_INVALID, "a rollback needs a target and the move's spec");
        return ops->migrate_rollback(src, dst, spec, err);
}

int driver_watch_events(const DriverOps *ops, DriverConn *conn, DriverEventFn cb, void *userdata,
                        CbError *err) {
        DISPATCH_CHECK(ops, conn, watch_events, err);
        return ops->watch_events(conn, cb, userdata, err);
}

static atomic_bool waits_cancelled;

void driver_cancel_waits(void) {
        atomic_store(&waits_cancelled, true);
}

bool driver_waits_cancelled(void) {
        return atomic_load(&waits_cancelled);
}

static atomic_uint connect_timeout_ms = 10000;

void driver_set_connect_timeout_ms(unsigned ms) {
        atomic_store(&connect_timeout_ms, ms > 0 ? ms : 1);
}

unsigned driver_connect_timeout_ms(void) {
        return atomic_load(&connect_timeout_ms);
}

bool driver_is_async(const DriverOps *ops) {
        return ops && ops->attach_event;
}

int driver_attach_event(sd_event *e, CbError *err) {
        if (!e)
                return cb_error_set(err, CB_ERR_INVALID, "no event loop");
        for (size_t i = 0; i < ELEMENTSOF(driver_table); i++) {
                if (!driver_table[i]->attach_event)
                        continue;
                int r = driver_table[i]->attach_event(e, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int driver_open_with(const DriverOps *ops, const char *uri, const DriverOpenOptions *opts,
                     DriverConn **ret_conn, CbError *err) {
        if (!ops || !ops->open_with)
                return driver_open(ops, uri, ret_conn, err);
        if (!ret_conn)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the connection");
        if (isempty(uri))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "uri", "a provider needs a URI");
        DriverConn *c = NULL;
        int r = ops->open_with(uri, opts, &c, err);
        if (r < 0)
                return r;
        *ret_conn = c;
        return 0;
}

static int check_call(const DriverCallContext *ctx, DriverReplyFn done, CbError *err) {
        if (!done)
                return cb_error_set(err, CB_ERR_INVALID, "no completion callback");
        if (!ctx || isempty(ctx->remote_service_id) || isempty(ctx->remote_plan_id))
                return cb_error_set_field(
                        err, CB_ERR_VALIDATION, "spec.remote_plan_id",
                        "an http operation needs the plan's remote_service_id and remote_plan_id");
        return 0;
}

int driver_catalog_async(const DriverOps *ops, DriverConn *conn, DriverReplyFn done, void *userdata,
                         CbError *err) {
        DISPATCH_CHECK(ops, conn, catalog_async, err);
        if (!done)
                return cb_error_set(err, CB_ERR_INVALID, "no completion callback");
        return ops->catalog_async(conn, done, userdata, err);
}

int driver_provision_async(const DriverOps *ops, DriverConn *conn, const ProvisionSpec *spec,
                           const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err) {
        DISPATCH_CHECK(ops, conn, provision_async, err);
        int r = check_call(ctx, done, err);
        if (r < 0)
                return r;
        if (!spec || !driver_resource_id_is_valid(spec->resource_id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource_id",
                                          "an operation needs a valid resource_id");
        return ops->provision_async(conn, spec, ctx, done, userdata, err);
}

int driver_deprovision_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                             const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err) {
        DISPATCH_CHECK(ops, conn, deprovision_async, err);
        int r = check_call(ctx, done, err);
        if (r >= 0)
                r = check_ref(ref, err);
        return r < 0 ? r : ops->deprovision_async(conn, ref, ctx, done, userdata, err);
}

int driver_update_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                        const DriverCallContext *ctx, const char *plan_id, const json_t *parameters,
                        DriverReplyFn done, void *userdata, CbError *err) {
        DISPATCH_CHECK(ops, conn, update_async, err);
        int r = check_call(ctx, done, err);
        if (r >= 0)
                r = check_ref(ref, err);
        if (r >= 0 && ((plan_id && !*plan_id) || (!plan_id && !parameters)))
                r = cb_error_set_field(err, CB_ERR_INVALID, "plan_id",
                                       "the plan to change to is missing (and no parameters are)");
        if (r >= 0 && parameters && !json_is_object(parameters))
                r = cb_error_set_field(err, CB_ERR_INVALID, "parameters", "parameters: not an object");
        return r < 0 ? r : ops->update_async(conn, ref, ctx, plan_id, parameters, done, userdata, err);
}

int driver_last_operation_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                                const DriverCallContext *ctx, const char *operation, DriverReplyFn done,
                                void *userdata, CbError *err) {
        DISPATCH_CHECK(ops, conn, last_operation_async, err);
        int r = check_call(ctx, done, err);
        if (r >= 0)
                r = check_ref(ref, err);
        return r < 0 ? r : ops->last_operation_async(conn, ref, ctx, operation, done, userdata, err);
}

int driver_fetch_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                       const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err) {
        DISPATCH_CHECK(ops, conn, fetch_async, err);
        /* A fetch names the instance only: no remote ids needed. */
        int r = done ? check_ref(ref, err) : cb_error_set(err, CB_ERR_INVALID, "no completion callback");
        return r < 0 ? r : ops->fetch_async(conn, ref, ctx, done, userdata, err);
}

static int check_binding(const DriverRef *ref, CbError *err) {
        const char *b = ref ? ref->binding_id : NULL;
        if (!b || !*b || strlen(b) > 200)
                return cb_error_set_field(err, CB_ERR_INVALID, "binding_id", "binding_id: 1 to 200 bytes");
        return 0;
}

int driver_bind_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                      const DriverCallContext *ctx, const json_t *parameters, DriverReplyFn done,
                      void *userdata, CbError *err) {
        DISPATCH_CHECK(ops, conn, bind_async, err);
        int r = check_call(ctx, done, err);
        if (r >= 0)
                r = check_ref(ref, err);
        if (r >= 0)
                r = check_binding(ref, err);
        if (r >= 0 && parameters && !json_is_object(parameters))
                r = cb_error_set_field(err, CB_ERR_INVALID, "parameters", "parameters: must be an object");
        return r < 0 ? r : ops->bind_async(conn, ref, ctx, parameters, done, userdata, err);
}

int driver_unbind_async(const DriverOps *ops, DriverConn *conn, const DriverRef *ref,
                        const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err) {
        DISPATCH_CHECK(ops, conn, unbind_async, err);
        int r = check_call(ctx, done, err);
        if (r >= 0)
                r = check_ref(ref, err);
        if (r >= 0)
                r = check_binding(ref, err);
        return r < 0 ? r : ops->unbind_async(conn, ref, ctx, done, userdata, err);
}

int driver_console_tail(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, size_t max_bytes,
                        char **ret, size_t *ret_len, bool *ret_truncated, CbError *err) {
        DISPATCH_CHECK(ops, conn, console_tail, err);
        if (!ref || !driver_resource_id_is_valid(ref->resource_id))
                return cb_error_set(err, CB_ERR_INVALID, "invalid resource id");
        if (max_bytes < 1 || max_bytes > DRIVER_CONSOLE_MAX)
                return cb_error_set(err, CB_ERR_INVALID, "console tail must be 1..%u bytes",
                                    DRIVER_CONSOLE_MAX);
        if (!ret || !ret_len || !ret_truncated)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the console output");
        return ops->console_tail(conn, ref, max_bytes, ret, ret_len, ret_truncated, err);
}

int driver_addresses(const DriverOps *ops, DriverConn *conn, const DriverRef *ref, json_t **ret,
                     CbError *err) {
        DISPATCH_CHECK(ops, conn, addresses, err);
        if (!ref || !driver_resource_id_is_valid(ref->resource_id))
                return cb_error_set(err, CB_ERR_INVALID, "invalid resource id");
        if (!ret)
                return cb_error_set(err, CB_ERR_INVALID, "no place for the addresses");
        return ops->addresses(conn, ref, ret, err);
}
