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
        if (b->secret_) {
                explicit_bzero(b->secret_, strlen(b->secret_));
                free(b->secret_);
        }
        *b = (VmBinding){ 0 };
}

void vm_access_set_secrets(Resources *r, const SecretBox *box) {
        r->secrets = box;
}

/* What a private half is sealed under: its table and row, so that it opens
 * nowhere else. */
static void private_key_ad(const char *binding_id, char ret[96]) {
        snprintf(ret, 96, "vm_bindings/%s/private_key", binding_id);
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
        if (b.private_key) {
                char ad[96];
                private_key_ad(b.id, ad);
                /* A clear one is sealed at start (vm_access_seal_stored). */
                if (!secretbox_is_sealed(b.private_key) || !r->secrets ||
                    secretbox_open(r->secrets, ad, b.private_key, &b.secret_, NULL) < 0) {
                        vm_binding_done(&b);
                        return cb_error_set(err, CB_ERR_INTERNAL,
                                            "the private key of binding '%s' does not open under the secrets "
                                            "key (secrets.key): another key, or the row was altered",
                                            key);
                }
                b.private_key = b.secret_;
        }
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
        _cleanup_(freep) char *sealed = NULL;
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

        if (!r->secrets)
                return cb_error_set(
                        err, CB_ERR_UNAVAILABLE,
                        "the broker has no secrets key (secrets.key or the secrets-key credential): "
                        "it cannot keep a binding's private key");
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        snprintf(id, sizeof(id), "b-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                 rnd[5], rnd[6], rnd[7]);
        q = sshkey_ed25519_new(id, &pub, &priv);
        if (q >= 0)
                q = sshkey_fingerprint(pub, fp);
        if (q >= 0) {
                char ad[96];
                private_key_ad(id, ad);
                q = secretbox_seal(r->secrets, ad, priv, strlen(priv), &sealed);
        }
        /* Only the sealed form outlives this call. */
        if (priv)
                explicit_bzero(priv, strlen(priv));
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot make and seal an SSH key pair");
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
                                        .priv = sealed,
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

typedef struct SealRow {
        char *id, *priv;
} SealRow;

/* All or none, in one transaction. */
static int seal_rows(Resources *r, const SealRow *rows, size_t n, CbError *err) {
        int q = 0;

        if (store_begin(r->store) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot begin a transaction");
        for (size_t i = 0; q >= 0 && i < n; i++) {
                _cleanup_(freep) char *sealed = NULL;
                char ad[96];
                private_key_ad(rows[i].id, ad);
                if (secretbox_seal(r->secrets, ad, rows[i].priv, strlen(rows[i].priv), &sealed) < 0)
                        q = cb_error_set(err, CB_ERR_INTERNAL, "cannot seal a binding's private key");
                else
                        q = store_run(r->store, "UPDATE vm_bindings SET private_key = ?1 WHERE id = ?2",
                                      STORE_ARGS(SA_TEXT(sealed), SA_TEXT(rows[i].id)),
                                      "sealing a private key", err);
        }
        if (q < 0) {
                store_rollback(r->store);
                return q;
        }
        if (store_commit(r->store) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot commit the sealed private keys");
        return 0;
}

int vm_access_seal_stored(Resources *r, unsigned *ret_sealed, CbError *err) {
        static const char sel[] = "SELECT id, private_key FROM vm_bindings WHERE private_key IS NOT NULL";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        SealRow *clear = NULL;
        size_t n = 0;
        int q;

        q = store_query(r->store, sel, NULL, &rows, "reading bindings", err);
        while (q >= 0 && (q = store_rows_next(rows, err)) > 0) {
                const char *priv = store_rows_text(rows, 1);
                SealRow *t;
                if (!priv || secretbox_is_sealed(priv))
                        continue;
                t = realloc(clear, (n + 1) * sizeof(*clear));
                if (!t) {
                        q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                clear = t;
                clear[n].id = strdup(store_rows_text(rows, 0));
                clear[n].priv = strdup(priv);
                n++;
                if (!clear[n - 1].id || !clear[n - 1].priv) {
                        q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
        }
        store_rows_done(rows);
        rows = NULL;
        if (q >= 0 && n > 0 && !r->secrets)
                q = cb_error_set(err, CB_ERR_VALIDATION,
                                 "%zu VM binding private key(s) are stored in clear and the broker has no "
                                 "secrets key to seal them: set secrets.key (or the secrets-key credential)",
                                 n);
        else if (q >= 0 && n > 0)
                q = seal_rows(r, clear, n, err);
        for (size_t i = 0; i < n; i++) {
                if (clear[i].priv)
                        explicit_bzero(clear[i].priv, strlen(clear[i].priv));
                free(clear[i].priv);
                free(clear[i].id);
        }
        free(clear);
        if (q < 0)
                return q;
        if (ret_sealed)
                *ret_sealed = (unsigned)n;
        return 0;
}
