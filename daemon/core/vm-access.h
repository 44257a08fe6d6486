/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Access bindings of VMs: who binds a VM (an OSB platform binding an
 * instance) gets its access details, an SSH key pair made for that binding
 * (sshkey.h), whose public half is recorded for injection into the guest.
 * The resource is read through resources_get(), so a binder may bind only
 * what it may read; the binding itself belongs to the principal that made
 * it (its name), under the binder's own id (binding_key), which makes a
 * repeat idempotent: the same request answers the same binding, another
 * request under the same key conflicts. The private half is answered only
 * to that principal, is never logged nor audited (the audit record carries
 * the public key's fingerprint), and is dropped at unbind; the binding stays
 * on record (deleted_at). At rest the private half is sealed (secretbox.h)
 * under the binding's id: without a secrets key no binding is made.
 */

#include "resources.h"
#include "secretbox.h"

typedef struct VmBinding {
        const char *id; /* the broker's "b-..." */
        const char *binding_key;
        const char *resource_id;
        const char *public_key;  /* "ssh-ed25519 ..." */
        const char *private_key; /* PEM; NULL once unbound */
        const char *created_at;
        const char *deleted_at; /* NULL while bound */
        char *mem_;
        char *secret_; /* the opened private half, wiped at done */
} VmBinding;
void vm_binding_done(VmBinding *b);

/* Binds resource_id (a VM the caller may read, active or stopped) under
 * binding_key. request_hash says what was asked (a repeat must match).
 * *ret_created: true when this call made it. CB_ERR_CONFLICT for another
 * request under the key, a key of an unbound binding, or a VM not ready;
 * CB_ERR_VALIDATION for a resource that is no VM. */
int vm_bind(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
            const char *request_hash, VmBinding *ret, bool *ret_created, CbError *err);
/* The caller's binding under binding_key on resource_id, unbound ones too
 * (deleted_at set). CB_ERR_NOT_FOUND for none or another principal's. */
int vm_binding_get(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
                   VmBinding *ret, CbError *err);
/* Unbinds (drops the private half). CB_ERR_NOT_FOUND when there is no
 * such bound binding of the caller's. */
int vm_unbind(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
              CbError *err);

/* The key bindings' private halves are sealed with; NULL (no secrets key):
 * vm_bind() is refused with CB_ERR_UNAVAILABLE. Not owned. */
void vm_access_set_secrets(Resources *r, const SecretBox *box);
/* At start: seals the private halves still stored in clear (made before
 * secrets at rest). *ret_sealed: how many. With clear rows and no key:
 * CB_ERR_VALIDATION saying so, and the daemon does not start. */
int vm_access_seal_stored(Resources *r, unsigned *ret_sealed, CbError *err);
