/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What the modules behind resources.h share, and nothing else: the one
 * Resources object (each module owns its own fields, named below) and the
 * change notification. For daemon/core/resources.c, operations.c, vm-guest.c,
 * placement.c and reconcile.c only; faces include resources.h.
 */

#include "resources.h"
#include "secretbox.h"

/* Who may see every resource; departments see their own. */
#define RESOURCE_READERS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_FINANCE | CB_ROLE_AUDITOR)
/* Who may act on any resource (Art. 28: the authority; operators run the platform). */
#define RESOURCE_ACTORS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY)

struct Resources {
        Store *store;
        Projects *projects;
        Providers *providers;
        WorkerPool *pool;
        ResourceChangedFn changed;
        void *changed_userdata;
        unsigned stop_timeout_ms;
        const SecretBox *secrets; /* vm-access.c: seals bindings' private halves; not owned */
        /* operations.c: operation ids handed to the pool and not back yet:
         * never submitted twice. At most max_in_flight of them
         * (resources_set_max_in_flight); the array grows as needed, so a
         * high limit costs nothing until it is used. */
        char **inflight;
        size_t n_inflight, inflight_size;
        unsigned max_in_flight;
        /* operations.c: operations recorded while max_in_flight were in
         * flight, in order; each is handed over when one ends (they were
         * left pending for the next start before). */
        struct {
                char op_id[64], resource_id[64];
                OperationKind kind;
        } * waiting;
        size_t n_waiting, waiting_head, waiting_size;
        /* reconcile.c: the providers whose events are watched. */
        struct Watch *watches[256];
        size_t n_watches;
        bool stopping; /* resources_stop() */
        /* operations.c: plan specs by (service, revision, plan), parsed
         * once: a revision that has left draft is never edited (Art. 12), so
         * an entry never goes stale. Round robin over a few slots: a burst
         * orders few plans. */
        struct {
                char *service_id, *plan_id;
                unsigned revision;
                json_t *spec;
        } specs[16];
        size_t next_spec;
};

/* Tells the face (resources_set_change_callback) that resource id changed;
 * on the main thread, after the change committed. */
void resources_notify(Resources *r, const char *id, bool created);

static inline const char *jstr(const json_t *o, const char *k) {
        return json_string_value(json_object_get(o, k));
}

/* resources.c: load_visible() and random_id() for the other modules. */
int resources_load_visible(Resources *r, const CbCaller *caller, const char *id, unsigned roles,
                           Resource *ret, CbError *err, const char *what);
int resources_random_id(const char *prefix, char *buf, size_t n);

/* resources-wait.c: the waiters for id, once its record changed; and, at
 * the end, every waiter answered (not settled). */
void resources_settle_check(Resources *r, const char *id);
void resources_wait_cancel_all(void);

/* operations.c: a copy of the spec of the plan res was ordered with (its
 * pinned revision), or NULL when the catalogue no longer has it. */
json_t *resources_plan_spec(Resources *r, const Resource *res);

/* attachments.c: the VM volume_id is on (any state): 1 and its id (and
 * ret_state, may be NULL), 0 when on none, -EIO. */
int attachment_of_volume(Resources *r, const char *volume_id, char ret_vm[64], AttachmentState *ret_state);

/* What an attach or detach operation moves, for its job: read from the
 * operation's row, its attachment and the volume's plan. */
typedef struct AttachmentJob {
        char volume_id[64];
        char target[8];
        char *pool; /* the volume's pool; NULL = "default" */
} AttachmentJob;
int attachment_job(Resources *r, const char *op_id, AttachmentJob *ret, CbError *err);
void attachment_job_done(AttachmentJob *j);
/* The attachment's record once its operation ended, in the transaction that
 * records the operation (attach: attached, or gone on failure; detach: gone,
 * or attached again on failure). */
int attachment_finish(Store *s, OperationKind kind, const char *volume_id, bool ok, CbError *err);
/* A deleted VM's attachments: gone (the volumes are kept), or, when its
 * deletion said delete_volumes, each volume's deprovision recorded (its
 * op id appended to *ret_ops, n ids of 64 bytes). */
int attachments_vm_deleted(Store *s, const char *vm_id, bool delete_volumes, const char *now,
                           char (**ret_ops)[2][64], size_t *ret_n, CbError *err);

/* resize.c: whether the VM of resize operation op_id runs after it (it ran
 * before); and, in the transaction that records the operation's end, the
 * record's plan put back when it failed (nothing to do when it succeeded:
 * the record took the new plan with the request). */
int resize_job_runs(Resources *r, const char *op_id, bool *ret_run, CbError *err);
int resize_finish(Store *s, const char *op_id, const char *resource_id, bool ok, const char *now,
                  CbError *err);
