/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Block volumes on VMs (issue 9). An attachment is a row of
 * volume_attachments (the volume's id is its key: a volume is on one VM at
 * most) written with the attach operation that carries it out, in one
 * transaction with its audit record; the operation runner (operations.c)
 * runs it like any other, and recovery resumes it. Volume and VM must be of
 * one project, and a volume of another project is answered exactly as an
 * unknown id.
 */
#include "attachments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "operations.h"
#include "resources-internal.h"

#define TARGET_FIRST 'c' /* vda: the system disk, vdb: the first-boot seed */
#define TARGET_LAST  'z'

int attachment_of_volume(Resources *r, const char *volume_id, char ret_vm[64], AttachmentState *ret_state) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q = store_query(r->store, "SELECT vm_id, state FROM volume_attachments WHERE volume_id = ?1",
                            STORE_ARGS(SA_TEXT(volume_id)), &rows, "reading attachments", &err);
        if (q >= 0)
                q = store_rows_next(rows, &err);
        if (q < 0)
                return -EIO;
        if (q == 0)
                return 0;
        snprintf(ret_vm, 64, "%s", store_rows_text(rows, 0));
        if (ret_state) {
                int st = attachment_state_from_string(store_rows_text(rows, 1));
                if (st < 0)
                        return -EIO;
                *ret_state = (AttachmentState)st;
        }
        return 1;
}

/* The first free target of the VM, or 0 when vdc..vdz are all taken. */
static int free_target(Resources *r, const char *vm_id, char ret[8]) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        bool used[TARGET_LAST - TARGET_FIRST + 1] = { false };
        int q = store_query(r->store, "SELECT target FROM volume_attachments WHERE vm_id = ?1",
                            STORE_ARGS(SA_TEXT(vm_id)), &rows, "reading attachments", &err);
        if (q < 0)
                return -EIO;
        while ((q = store_rows_next(rows, &err)) > 0) {
                const char *t = store_rows_text(rows, 0);
                if (t && strlen(t) == 3 && t[2] >= TARGET_FIRST && t[2] <= TARGET_LAST)
                        used[t[2] - TARGET_FIRST] = true;
        }
        if (q < 0)
                return -EIO;
        for (int c = TARGET_FIRST; c <= TARGET_LAST; c++)
                if (!used[c - TARGET_FIRST]) {
                        snprintf(ret, 8, "vd%c", c);
                        return 1;
                }
        return 0;
}

/* Both ends of an attach or detach, checked alike: the VM the caller may
 * act on, and the volume of its project (else "no resource", as unknown). */
static int load_pair(Resources *r, const CbCaller *caller, const char *vm_id, const char *volume_id,
                     const char *what, Resource *ret_vm, Resource *ret_vol, CbError *err) {
        char pend_id[64], pend_kind[32];
        int q;

        q = resources_load_visible(r, caller, vm_id, RESOURCE_ACTORS | CB_ROLE_DEPARTMENT, ret_vm, err, what);
        if (q < 0)
                return q;
        if (ret_vm->kind != RESOURCE_KIND_VM)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource '%s' is not a VM: volumes attach to VMs",
                                    vm_id);
        if (isempty(volume_id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "volume_id", "volume_id: required");
        q = resources_load_visible(r, caller, volume_id, RESOURCE_ACTORS | CB_ROLE_DEPARTMENT, ret_vol, err,
                                   what);
        if (q < 0)
                return q;
        if (!streq_ptr(ret_vol->project_id, ret_vm->project_id))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no resource '%s'", volume_id);
        if (ret_vol->kind != RESOURCE_KIND_VOLUME)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "volume_id",
                                          "volume_id: resource '%s' is not a block volume", volume_id);
        for (int i = 0; i < 2; i++) {
                const char *id = i == 0 ? vm_id : volume_id;
                q = operation_pending(r, id, pend_id, pend_kind);
                if (q < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the operations of '%s'", id);
                if (q > 0)
                        return cb_error_set(err, CB_ERR_CONFLICT,
                                            "resource '%s' has operation %s (%s) under way", id, pend_id,
                                            pend_kind);
        }
        if (ret_vm->state != RESOURCE_ACTIVE && ret_vm->state != RESOURCE_STOPPED)
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot %s VM '%s': it is %s", what, vm_id,
                                    resource_state_to_string(ret_vm->state));
        return 0;
}

typedef struct AttachChange {
        const char *op_id, *vm_id, *volume_id, *target, *now;
        OperationKind kind;
} AttachChange;

static int attach_change(Store *s, void *userdata, CbError *err) {
        const AttachChange *c = userdata;
        int q = operation_record(s, c->op_id, c->vm_id, c->kind, c->now, err);
        if (q >= 0)
                q = store_run(s, "UPDATE operations SET volume_id = ?1 WHERE id = ?2",
                              STORE_ARGS(SA_TEXT(c->volume_id), SA_TEXT(c->op_id)), "recording the operation",
                              err);
        if (q >= 0 && c->kind == OPERATION_ATTACH)
                q = store_run(s,
                              "INSERT INTO volume_attachments (volume_id, vm_id, target, state, created_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5)",
                              STORE_ARGS(SA_TEXT(c->volume_id), SA_TEXT(c->vm_id), SA_TEXT(c->target),
                                         SA_TEXT(attachment_state_to_string(ATTACHMENT_ATTACHING)),
                                         SA_TEXT(c->now)),
                              "recording the attachment", err);
        else if (q >= 0)
                q = store_run(s, "UPDATE volume_attachments SET state = ?1 WHERE volume_id = ?2",
                              STORE_ARGS(SA_TEXT(attachment_state_to_string(ATTACHMENT_DETACHING)),
                                         SA_TEXT(c->volume_id)),
                              "recording the attachment", err);
        return q < 0 ? q : 0;
}

static int record_and_submit(Resources *r, const CbCaller *caller, OperationKind kind, const Resource *vm,
                             const char *volume_id, const char *target, ResourceTicket *ret, CbError *err) {
        char op_id[64], now[32], object[96], action[64];
        json_t *detail;
        int q;

        if (resources_random_id("op-", op_id, sizeof(op_id)) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", vm->id);
        snprintf(action, sizeof(action), "resource.%s", operation_kind_to_string(kind));
        detail = json_pack("{s:s, s:s, s:s}", "operation", op_id, "volume_id", volume_id, "target", target);
        q = audit_change(r->store, caller, &(AuditEntry){ action, object, "ok", NULL, detail }, attach_change,
                         &(AttachChange){ .op_id = op_id,
                                          .vm_id = vm->id,
                                          .volume_id = volume_id,
                                          .target = target,
                                          .now = now,
                                          .kind = kind },
                         err);
        json_decref(detail);
        if (q < 0)
                return q;
        snprintf(ret->id, sizeof(ret->id), "%s", vm->id);
        ret->state = vm->state;
        snprintf(ret->operation_id, sizeof(ret->operation_id), "%s", op_id);
        operation_submit_when_durable(r, op_id, kind, vm->id, &(Reservation){ 0 });
        resources_notify(r, vm->id, false);
        return 0;
}

int resources_attach_volume(Resources *r, const CbCaller *caller, const char *vm_id, const char *volume_id,
                            ResourceTicket *ret, CbError *err) {
        _cleanup_(resource_done) Resource vm = { 0 }, vol = { 0 };
        char on[64], target[8];
        int q;

        q = load_pair(r, caller, vm_id, volume_id, "attach a volume to", &vm, &vol, err);
        if (q < 0)
                return q;
        if (vol.state != RESOURCE_ACTIVE)
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot attach volume '%s': it is %s", volume_id,
                                    resource_state_to_string(vol.state));
        q = attachment_of_volume(r, volume_id, on, NULL);
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the attachments of '%s'", volume_id);
        if (q > 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "volume '%s' is attached to VM '%s' already",
                                    volume_id, on);
        if (!streq_ptr(vm.provider, vol.provider))
                return cb_error_set_field(err, CB_ERR_CONFLICT, "volume_id",
                                          "volume '%s' is on provider %s, VM '%s' on %s: a volume attaches "
                                          "only to a VM of its own provider",
                                          volume_id, vol.provider ? vol.provider : "(none)", vm_id,
                                          vm.provider ? vm.provider : "(none)");
        q = free_target(r, vm_id, target);
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the attachments of '%s'", vm_id);
        if (q == 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "VM '%s' has every disk slot (vdc..vdz) taken",
                                    vm_id);
        return record_and_submit(r, caller, OPERATION_ATTACH, &vm, volume_id, target, ret, err);
}

int resources_detach_volume(Resources *r, const CbCaller *caller, const char *vm_id, const char *volume_id,
                            ResourceTicket *ret, CbError *err) {
        _cleanup_(resource_done) Resource vm = { 0 }, vol = { 0 };
        _cleanup_(cb_error_clear) CbError e = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        char target[8];
        int q;

        q = load_pair(r, caller, vm_id, volume_id, "detach a volume from", &vm, &vol, err);
        if (q < 0)
                return q;
        q = store_query(r->store,
                        "SELECT target, state FROM volume_attachments WHERE volume_id = ?1 AND vm_id = ?2",
                        STORE_ARGS(SA_TEXT(volume_id), SA_TEXT(vm_id)), &rows, "reading attachments", &e);
        if (q >= 0)
                q = store_rows_next(rows, &e);
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the attachments of '%s'", vm_id);
        if (q == 0)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "volume '%s' is not attached to VM '%s'",
                                    volume_id, vm_id);
        snprintf(target, sizeof(target), "%s", store_rows_text(rows, 0));
        return record_and_submit(r, caller, OPERATION_DETACH, &vm, volume_id, target, ret, err);
}

void volume_attachment_list_done(VolumeAttachmentList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].volume_id);
                free(l->v[i].target);
                free(l->v[i].attached_at);
        }
        free(l->v);
        *l = (VolumeAttachmentList){ 0 };
}

int resources_volume_attachments(Resources *r, const CbCaller *caller, const char *vm_id,
                                 VolumeAttachmentList *ret, CbError *err) {
        _cleanup_(resource_done) Resource vm = { 0 };
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(volume_attachment_list_done) VolumeAttachmentList l = { 0 };
        int q;

        q = resources_load_visible(r, caller, vm_id, RESOURCE_READERS | CB_ROLE_DEPARTMENT, &vm, err,
                                   "read resources");
        if (q < 0)
                return q;
        q = store_query(
                r->store,
                "SELECT volume_id, target, state, created_at FROM volume_attachments WHERE vm_id = ?1 "
                "ORDER BY target",
                STORE_ARGS(SA_TEXT(vm_id)), &rows, "reading attachments", err);
        if (q < 0)
                return q;
        while ((q = store_rows_next(rows, err)) > 0) {
                VolumeAttachment *v = reallocarray(l.v, l.n + 1, sizeof(*l.v));
                int st = attachment_state_from_string(store_rows_text(rows, 2));
                if (!v)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                l.v = v;
                v = &l.v[l.n++];
                /* The schema CHECKs the state against the same names. */
                *v = (VolumeAttachment){ .volume_id = strdup(store_rows_text(rows, 0) ?: ""),
                                         .target = strdup(store_rows_text(rows, 1) ?: ""),
                                         .state = st < 0 ? ATTACHMENT_ATTACHING : (AttachmentState)st,
                                         .attached_at = strdup(store_rows_text(rows, 3) ?: "") };
                if (!v->volume_id || !v->target || !v->attached_at)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        if (q < 0)
                return q;
        *ret = l;
        l = (VolumeAttachmentList){ 0 };
        return 0;
}

int attachment_job(Resources *r, const char *op_id, AttachmentJob *ret, CbError *err) {
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(resource_done) Resource vol = { 0 };
        json_t *svc = NULL;
        AttachmentJob j = { 0 };
        json_t *plan;
        size_t i;
        int q;

        q = store_query(r->store,
                        "SELECT o.volume_id, a.target FROM operations o JOIN volume_attachments a "
                        "ON a.volume_id = o.volume_id WHERE o.id = ?1",
                        STORE_ARGS(SA_TEXT(op_id)), &rows, "reading the attachment", err);
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q < 0)
                return q;
        if (q == 0)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "operation %s has no attachment", op_id);
        snprintf(j.volume_id, sizeof(j.volume_id), "%s", store_rows_text(rows, 0));
        snprintf(j.target, sizeof(j.target), "%s", store_rows_text(rows, 1));
        if (resources_record(r, j.volume_id, &vol) < 0)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no volume '%s'", j.volume_id);
        /* The pool the volume was made in: its plan at the pinned revision. */
        if (catalog_get_revision(projects_catalog(r->projects), vol.service_id, vol.catalog_revision, &svc) ==
            0)
                json_array_foreach(json_object_get(svc, "plans"), i,
                                   plan) if (streq_ptr(jstr(plan, "id"), vol.plan_id)) {
                        const char *pool = jstr(json_object_get(plan, "spec"), "pool");
                        if (pool && !j.pool && !(j.pool = strdup(pool))) {
                                json_decref(svc);
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        }
                }
        json_decref(svc);
        *ret = j;
        return 0;
}

void attachment_job_done(AttachmentJob *j) {
        if (!j)
                return;
        free(j->pool);
        j->pool = NULL;
}

int attachment_finish(Store *s, OperationKind kind, const char *volume_id, bool ok, CbError *err) {
        int q;
        if ((kind == OPERATION_ATTACH && !ok) || (kind == OPERATION_DETACH && ok))
                q = store_run(s, "DELETE FROM volume_attachments WHERE volume_id = ?1",
                              STORE_ARGS(SA_TEXT(volume_id)), "recording the attachment", err);
        else
                q = store_run(s, "UPDATE volume_attachments SET state = ?1 WHERE volume_id = ?2",
                              STORE_ARGS(SA_TEXT(attachment_state_to_string(ATTACHMENT_ATTACHED)),
                                         SA_TEXT(volume_id)),
                              "recording the attachment", err);
        return q < 0 ? q : 0;
}

int attachments_vm_deleted(Store *s, const char *vm_id, bool delete_volumes, const char *now,
                           char (**ret_ops)[2][64], size_t *ret_n, CbError *err) {
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        char(*ops)[2][64] = NULL;
        size_t n = 0;
        int q;

        if (delete_volumes) {
                q = store_query(s, "SELECT volume_id FROM volume_attachments WHERE vm_id = ?1",
                                STORE_ARGS(SA_TEXT(vm_id)), &rows, "reading attachments", err);
                if (q < 0)
                        return q;
                /* Read whole first: recording writes. */
                while ((q = store_rows_next(rows, err)) > 0) {
                        void *nv = realloc(ops, (n + 1) * sizeof(*ops));
                        if (!nv) {
                                free(ops);
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        }
                        ops = nv;
                        snprintf(ops[n][1], 64, "%s", store_rows_text(rows, 0));
                        n++;
                }
                store_rows_done(rows);
                rows = NULL;
                if (q < 0) {
                        free(ops);
                        return q;
                }
        }
        q = store_run(s, "DELETE FROM volume_attachments WHERE vm_id = ?1", STORE_ARGS(SA_TEXT(vm_id)),
                      "recording the attachments", err);
        for (size_t i = 0; q >= 0 && i < n; i++) {
                if (resources_random_id("op-", ops[i][0], 64) < 0)
                        q = cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
                if (q >= 0)
                        q = operation_record(s, ops[i][0], ops[i][1], OPERATION_DEPROVISION, now, err);
                if (q >= 0)
                        q = store_run(s,
                                      "UPDATE resources SET state = ?1, updated_at = ?2 WHERE id = ?3 "
                                      "AND state <> ?4",
                                      STORE_ARGS(SA_TEXT(resource_state_to_string(RESOURCE_DEPROVISIONING)),
                                                 SA_TEXT(now), SA_TEXT(ops[i][1]),
                                                 SA_TEXT(resource_state_to_string(RESOURCE_DELETED))),
                                      "recording the volume", err);
        }
        if (q < 0) {
                free(ops);
                return q;
        }
        *ret_ops = ops;
        *ret_n = n;
        return 0;
}
