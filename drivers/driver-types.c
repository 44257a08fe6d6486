/* SPDX-License-Identifier: Apache-2.0 */
#include "driver-types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void driver_disk_done(DriverDisk *d) {
        if (!d)
                return;
        free(d->source);
        free(d->volume_id);
        free(d->target);
        *d = (DriverDisk){ 0 };
}

void driver_instance_done(DriverInstance *i) {
        if (!i)
                return;
        for (size_t k = 0; k < i->n_disks; k++)
                driver_disk_done(&i->disks[k]);
        free(i->disks);
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
        if (spec->image_volume) {
                size_t n = strlen(spec->image_volume),
                       hex = spec->image_digest ? strlen(spec->image_digest) : 0;
                bool ok = n >= 1 && n <= 128 && spec->image_volume[0] != '.' && spec->image_volume[0] != '-';
                for (const char *p = spec->image_volume; ok && *p; p++)
                        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                             (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-';
                if (!ok)
                        return cb_error_set_field(
                                err, CB_ERR_VALIDATION, "image_volume",
                                "image_volume must be 1-128 characters of A-Z a-z 0-9 . _ -");
                if ((r = check_token(spec->image_pool, "image_pool", err)) < 0)
                        return r;
                if (isempty(spec->image_pool))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "image_pool",
                                                  "an image needs its pool");
                if (!spec->image_format ||
                    (!streq(spec->image_format, "qcow2") && !streq(spec->image_format, "raw")))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "image_format",
                                                  "image_format must be qcow2 or raw");
                if (!spec->image_digest_alg ||
                    (!streq(spec->image_digest_alg, "sha256") && !streq(spec->image_digest_alg, "sm3")))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "image_digest_alg",
                                                  "image_digest_alg must be sha256 or sm3");
                ok = hex == 64;
                for (size_t i = 0; ok && i < hex; i++)
                        ok = (spec->image_digest[i] >= '0' && spec->image_digest[i] <= '9') ||
                             (spec->image_digest[i] >= 'a' && spec->image_digest[i] <= 'f');
                if (!ok)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "image_digest",
                                                  "image_digest must be 64 lowercase hex digits");
                if (spec->kind != DRIVER_OBJECT_VM || spec->disk_gib == 0)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "disk_gib",
                                                  "an image needs a VM with a system disk");
        }
        if (!spec->seed_meta_data != !spec->seed_user_data)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "seed",
                                          "a seed needs meta-data and user-data");
        if (spec->seed_meta_data && spec->kind != DRIVER_OBJECT_VM)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "seed", "only a VM has a first-boot seed");
        if (spec->disk_format && !streq(spec->disk_format, "qcow2") && !streq(spec->disk_format, "raw"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "disk_format",
                                          "disk_format must be qcow2 or raw");
        if (spec->arch) {
                bool ok = !isempty(spec->arch) && strlen(spec->arch) <= 32;
                for (const char *p = spec->arch; ok && *p; p++)
                        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
                if (!ok)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "arch",
                                                  "arch must be 1-32 characters of a-z 0-9 _");
        }
        if (spec->mac && !driver_mac_is_valid(spec->mac))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "mac",
                                          "mac must be six hex pairs separated by ':'");
        return 0;
}

bool driver_mac_is_valid(const char *mac) {
        if (!mac || strlen(mac) != 17)
                return false;
        for (size_t i = 0; i < 17; i++) {
                char c = mac[i];
                if (i % 3 == 2) {
                        if (c != ':')
                                return false;
                } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                        return false;
        }
        return true;
}

static const char *const migrate_step_table[_MIGRATE_STEP_MAX] = {
        [MIGRATE_STEP_QUEUED] = "queued",     [MIGRATE_STEP_SHUTDOWN] = "shutdown",
        [MIGRATE_STEP_COPY] = "copy",         [MIGRATE_STEP_VERIFY_COPY] = "verify-copy",
        [MIGRATE_STEP_CONVERT] = "convert",   [MIGRATE_STEP_DEFINE] = "define",
        [MIGRATE_STEP_START] = "start",       [MIGRATE_STEP_DONE] = "done",
        [MIGRATE_STEP_ROLLBACK] = "rollback",
};

const char *migrate_step_to_string(MigrateStep s) {
        return (unsigned)s < _MIGRATE_STEP_MAX ? migrate_step_table[s] : NULL;
}

void migrate_result_done(MigrateResult *r) {
        if (!r)
                return;
        free(r->provider_ref);
        *r = (MigrateResult){ 0 };
}
