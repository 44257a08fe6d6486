/* SPDX-License-Identifier: Apache-2.0 */
#include "driver.h"

#include <stdatomic.h>

#include <stdio.h>

/* "http" joins here when it exists; the order is the global_init order. */
static const DriverOps *const driver_table[] = {
        &libvirt_driver_ops,
};

static const char *const state_names[_DRIVER_STATE_MAX] = {
        [DRIVER_STATE_UNKNOWN] = "unknown", [DRIVER_STATE_RUNNING] = "running",
        [DRIVER_STATE_PAUSED] = "paused",   [DRIVER_STATE_SHUTTING_DOWN] = "shutting-down",
        [DRIVER_STATE_SHUTOFF] = "shutoff", [DRIVER_STATE_CRASHED] = "crashed",
        [DRIVER_STATE_PRESENT] = "present",
};

static const char *const event_names[_DRIVER_EVENT_MAX] = {
        [DRIVER_EVENT_DEFINED] = "defined", [DRIVER_EVENT_UNDEFINED] = "undefined",
        [DRIVER_EVENT_STARTED] = "started", [DRIVER_EVENT_SUSPENDED] = "suspended",
        [DRIVER_EVENT_RESUMED] = "resumed", [DRIVER_EVENT_SHUTDOWN] = "shutdown",
        [DRIVER_EVENT_STOPPED] = "stopped", [DRIVER_EVENT_CRASHED] = "crashed",
        [DRIVER_EVENT_OTHER] = "other",     [DRIVER_EVENT_CONNECTION_LOST] = "connection-lost",
};

const char *driver_state_to_string(DriverState s) {
        return (unsigned)s < _DRIVER_STATE_MAX ? state_names[s] : "unknown";
}

bool driver_capacity_has_pool(const DriverCapacity *c, const char *pool) {
        const char *want = isempty(pool) ? "default" : pool;
        if (!c->pools_complete)
                return true;
        for (unsigned i = 0; i < c->n_pools && i < DRIVER_POOLS_MAX; i++)
                if (streq(c->pools[i], want))
                        return true;
        return false;
}

const char *driver_object_kind_to_string(DriverObjectKind k) {
        return k == DRIVER_OBJECT_VOLUME ? "volume" : "vm";
}

static const char *const domain_type_names[_DRIVER_DOMAIN_MAX] = {
        [DRIVER_DOMAIN_AUTO] = "auto",
        [DRIVER_DOMAIN_KVM] = "kvm",
        [DRIVER_DOMAIN_QEMU] = "qemu",
};

const char *driver_domain_type_to_string(DriverDomainType t) {
        return (unsigned)t < _DRIVER_DOMAIN_MAX ? domain_type_names[t] : NULL;
}

int driver_domain_type_from_string(const char *s) {
        for (int i = 0; s && i < _DRIVER_DOMAIN_MAX; i++)
                if (strcmp(s, domain_type_names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *driver_event_kind_to_string(DriverEventKind k) {
        return (unsigned)k < _DRIVER_EVENT_MAX ? event_names[k] : "other";
}

void driver_stamp_done(DriverStamp *s) {
        if (!s)
                return;
        free(s->resource_id);
        free(s->name);
        free(s->project_id);
        free(s->approval_no);
        free(s->service_id);
        free(s->plan_id);
        *s = (DriverStamp){ 0 };
}

void driver_instance_done(DriverInstance *i) {
        if (!i)
                return;
        free(i->name);
        free(i->provider_ref);
        driver_stamp_done(&i->stamp);
        *i = (DriverInstance){ 0 };
}

DriverInventory *driver_inventory_free(DriverInventory *inv) {
        if (!inv)
                return NULL;
        for (size_t i = 0; i < inv->n_items; i++)
                driver_instance_done(&inv->items[i]);
        free(inv->items);
        free(inv);
        return NULL;
}

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

bool driver_resource_id_is_valid(const char *id) {
        if (isempty(id) || id[0] == '.' || id[0] == '-')
                return false;
        size_t n = 0;
        for (const char *p = id; *p; p++, n++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          c == '.' || c == '_' || c == '-';
                if (!ok || n >= 64)
                        return false;
        }
        return true;
}

/* Valid UTF-8 without control characters: everything we stamp must survive a
 * trip through XML 1.0, which forbids most C0 characters outright. */
static bool text_is_valid(const char *s, size_t max) {
        const unsigned char *p = (const unsigned char *)s;
        size_t n = 0;
        while (*p) {
                unsigned c = *p;
                unsigned len, cp;
                if (c < 0x20 || c == 0x7f)
                        return false;
                if (c < 0x80) {
                        len = 1;
                        cp = c;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return false;
                for (unsigned k = 1; k < len; k++) {
                        if ((p[k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[k] & 0x3f);
                }
                /* overlong forms, surrogates, beyond Unicode, C1 controls */
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || (cp >= 0x80 && cp < 0xa0) ||
                    cp == 0xfffe || cp == 0xffff)
                        return false;
                p += len;
                n += len;
                if (n > max)
                        return false;
        }
        return true;
}

static int check_text(const char *value, const char *field, size_t max, bool required, CbError *err) {
        if (isempty(value)) {
                if (required)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s is required", field);
                return 0;
        }
        if (!text_is_valid(value, max))
                return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                          "%s must be valid UTF-8 of at most %zu bytes without control "
                                          "characters",
                                          field, max);
        return 0;
}

/* Names that end up as XML attribute values and libvirt object names. */
static int check_token(const char *value, const char *field, CbError *err) {
        if (isempty(value))
                return 0;
        if (!driver_resource_id_is_valid(value))
                return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                          "%s must be 1-64 characters of A-Z a-z 0-9 . _ -", field);
        return 0;
}

int provision_spec_validate(const ProvisionSpec *spec, CbError *err) {
        int r;

        if (!spec)
                return cb_error_set(err, CB_ERR_INVALID, "no provision spec");
        if (!driver_resource_id_is_valid(spec->resource_id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource_id",
                                          "resource_id must be 1-64 characters of A-Z a-z 0-9 . _ - "
                                          "not starting with . or -");
        if ((r = check_text(spec->name, "name", 255, true, err)) < 0 ||
            (r = check_text(spec->project_id, "project_id", 128, true, err)) < 0 ||
            (r = check_text(spec->approval_no, "approval_no", 128, true, err)) < 0 ||
            (r = check_text(spec->catalog_service_id, "catalog_service_id", 128, true, err)) < 0 ||
            (r = check_text(spec->catalog_plan_id, "catalog_plan_id", 128, true, err)) < 0 ||
            (r = check_text(spec->os_image, "os_image", 1024, false, err)) < 0)
                return r;
        if (spec->kind != DRIVER_OBJECT_VM && spec->kind != DRIVER_OBJECT_VOLUME)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "kind", "kind must be a VM or a volume");
        if (spec->kind == DRIVER_OBJECT_VOLUME && spec->disk_gib == 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "disk_gib", "a volume needs a size");
        if (spec->kind == DRIVER_OBJECT_VM && (spec->vcpus < 1 || spec->vcpus > 1024))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "vcpus", "vcpus must be 1-1024");
        if (spec->kind == DRIVER_OBJECT_VM &&
            (spec->memory_mib < 1 || spec->memory_mib > (UINT64_C(16) << 20)))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "memory_mib",
                                          "memory_mib must be 1-16777216");
        if (spec->disk_gib > (UINT64_C(1) << 20))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "disk_gib", "disk_gib must be 0-1048576");
        if ((r = check_token(spec->network, "network", err)) < 0 ||
            (r = check_token(spec->pool, "pool", err)) < 0)
                return r;
        if (spec->arch) {
                bool ok = !isempty(spec->arch) && strlen(spec->arch) <= 32;
                for (const char *p = spec->arch; ok && *p; p++)
                        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
                if (!ok)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "arch",
                                                  "arch must be 1-32 characters of a-z 0-9 _");
        }
        return 0;
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
