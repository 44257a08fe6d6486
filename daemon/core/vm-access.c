/* SPDX-License-Identifier: Apache-2.0 */
#include "vm-access.h"

#include <stdio.h>
#include <sys/random.h>

#include "audit.h"
#include "resources-internal.h"
#include "sshkey.h"

#define BINDING_COLUMNS "id, binding_key, resource_id, public_key, private_key, created_at, deleted_at"

void vm_binding_done(VmBinding *b) {
        if (!b)
                return;
        free(b->mem_);
        *b = (VmBinding){ 0 };
}

/* The binding of (principal, key): 1 with it and its request hash, 0 for none. */
static int binding_load(Resources *r, const char *who, const char *key, VmBinding *ret, char ret_hash[72],
                        CbError *err) {
        static const char sql[] = "SELECT " BINDING_COLUMNS ", request_hash FROM vm_bindings "
                                  "WHERE created_by = ?1 AND binding_key = ?2";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        VmBinding b = { 0 };
        int q;

        q = store_query(r->store, sql, STORE_ARGS(SA_TEXT(who), SA_TEXT(key)), &rows, "reading bindings",
                        err);
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q <= 0)
                return q;
        snprintf(ret_hash, 72, "%s", store_rows_text(rows, 7) ? store_rows_text(rows, 7) : "");
        q = store_rows_texts(rows,
                             (const StoreText[]){ { 0, &b.id },
                                                  { 1, &b.binding_key },
                                                  { 2, &b.resource_id },
                                                  { 3, &b.public_key },
                                                  { 4, &b.private_key },
                                                  { 5, &b.created_at },
                                                  { 6, &b.deleted_at } },
                             7, &b.mem_);
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = b;
        return 1;
}

typedef struct BindChange {
        const char *id, *resource_id, *key, *who, *hash, *pub, *priv, *now;
} BindChange;

static int bind_change(Store *s, void *userdata, CbError *err) {
        static const char sql[] = "INSERT INTO vm_bindings (id, resource_id, binding_key, created_by, "
                                  "request_hash, public_key, private_key, created_at) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
        const BindChange *c = userdata;
        return store_run(s, sql,
                         STORE_ARGS(SA_TEXT(c->id), SA_TEXT(c->resource_id), SA_TEXT(c->key), SA_TEXT(c->who),
                                    SA_TEXT(c->hash), SA_TEXT(c->pub), SA_TEXT(c->priv), SA_TEXT(c->now)),
                         "recording the binding", err);
}

int vm_bind(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
            const char *request_hash, VmBinding *ret, bool *ret_created, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(vm_binding_done) VmBinding old = { 0 };
        _cleanup_(freep) char *pub = NULL;
        _cleanup_(freep) char *priv = NULL;
        char hash[72], id[64], now[32], object[96], fp[SSHKEY_FINGERPRINT_MAX];
        uint8_t rnd[8];
        json_t *detail;
        int q;

        if (isempty(binding_key) || strlen(binding_key) > 200)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "binding_id", "binding_id: 1 to 200 bytes");
        q = resources_get(r, caller, resource_id, &res, err);
        if (q < 0)
                return q;
        q = binding_load(r, caller->principal->name, binding_key, &old, hash, err);
        if (q < 0)
                return q;
        if (q > 0) {
                if (old.deleted_at)
                        return cb_error_set(err, CB_ERR_CONFLICT,
                                            "binding '%s' was unbound: its id is not reused", binding_key);
                if (!streq(old.resource_id, resource_id) || !streq(hash, request_hash))
                        return cb_error_set(err, CB_ERR_CONFLICT, "binding '%s' exists with other attributes",
                                            binding_key);
                *ret = old;
                old = (VmBinding){ 0 };
                *ret_created = false;
                return 0;
        }
        if (res.kind != RESOURCE_KIND_VM)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource",
                                          "resource '%s' is a %s: only VMs have access to bind", resource_id,
                                          resource_kind_to_string(res.kind));
        if (res.state != RESOURCE_ACTIVE && res.state != RESOURCE_STOPPED)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource '%s' is %s: it can be bound once active",
                                    resource_id, resource_state_to_string(res.state));

        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        snprintf(id, sizeof(id), "b-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                 rnd[5], rnd[6], rnd[7]);
        q = sshkey_ed25519_new(id, &pub, &priv);
        if (q >= 0)
                q = sshkey_fingerprint(pub, fp);
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot make an SSH key pair");
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", resource_id);
        /* The record names the key by its fingerprint: the private half is never in it. */
        detail = json_pack("{s:s, s:s, s:s}", "binding", id, "binding_key", binding_key, "public_key_sha256",
                           fp);
        q = audit_change(r->store, caller, &(AuditEntry){ "resource.bind", object, "ok", NULL, detail },
                         bind_change,
                         &(BindChange){ .id = id,
                                        .resource_id = resource_id,
                                        .key = binding_key,
                                        .who = caller->principal->name,
                                        .hash = request_hash,
                                        .pub = pub,
                                        .priv = priv,
                                        .now = now },
                         err);
        json_decref(detail);
        if (q < 0)
                return q;
        q = binding_load(r, caller->principal->name, binding_key, ret, hash, err);
        if (q <= 0)
                return q < 0 ? q : cb_error_set(err, CB_ERR_INTERNAL, "binding '%s' vanished", binding_key);
        *ret_created = true;
        return 0;
}

int vm_binding_get(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
                   VmBinding *ret, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(vm_binding_done) VmBinding b = { 0 };
        char hash[72];
        int q;

        q = resources_get(r, caller, resource_id, &res, err);
        if (q < 0)
                return q;
        q = binding_load(r, caller->principal->name, binding_key, &b, hash, err);
        if (q < 0)
                return q;
        if (q == 0 || !streq(b.resource_id, resource_id))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no binding '%s'", binding_key);
        *ret = b;
        b = (VmBinding){ 0 };
        return 0;
}

typedef struct UnbindChange {
        const char *id, *now;
} UnbindChange;

static int unbind_change(Store *s, void *userdata, CbError *err) {
        const UnbindChange *c = userdata;
        return store_run(s, "UPDATE vm_bindings SET deleted_at = ?1, private_key = NULL WHERE id = ?2",
                         STORE_ARGS(SA_TEXT(c->now), SA_TEXT(c->id)), "recording the unbinding", err);
}

int vm_unbind(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
              CbError *err) {
        _cleanup_(vm_binding_done) VmBinding b = { 0 };
        char now[32], object[96];
        json_t *detail;
        int q;

        q = vm_binding_get(r, caller, resource_id, binding_key, &b, err);
        if (q < 0)
                return q;
        if (b.deleted_at)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "binding '%s' is unbound already", binding_key);
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", resource_id);
        detail = json_pack("{s:s, s:s}", "binding", b.id, "binding_key", binding_key);
        q = audit_change(r->store, caller, &(AuditEntry){ "resource.unbind", object, "ok", NULL, detail },
                         unbind_change, &(UnbindChange){ .id = b.id, .now = now }, err);
        json_decref(detail);
        return q < 0 ? q : 0;
}
