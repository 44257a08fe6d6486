/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Resources: what departments hold on the providers (VMs now, OSB service
 * instances later), from request to retirement. A request passes the
 * policy engine (projects_evaluate) or nothing is created anywhere. Every
 * operation is recorded in the store BEFORE the provider is called, and the
 * provider call runs on the worker pool; its result comes back to the main
 * loop. A daemon killed at any moment finds the unfinished operations on
 * restart and runs them again: the driver operations are idempotent by the
 * resource id stamped on every provider object, so nothing is duplicated
 * or orphaned. Reconcile (at start, when a provider connects, and
 * periodically) compares the record with the providers.
 *
 * The public face of four modules: resources.c (the record: request,
 * get, list, act, retirement), operations.c (the operation runner,
 * operations.h), placement.c (choosing a provider, placement.h) and
 * reconcile.c (driver events, reconcile, inventory, reconcile.h).
 */

#include <jansson.h>

#include "catalog.h"
#include "error.h"
#include "page.h"
#include "principal.h"
#include "projects.h"
#include "providers.h"
#include "states.h"
#include "store.h"
#include "worker.h"

typedef struct Resources Resources;

/* A resource as the record holds it. The strings live as long as the
 * struct (resource_done() frees them all). */
typedef struct Resource {
        const char *id;
        const char *name;
        const char *project_id;
        const char *system_id;
        const char *department;
        const char *service_id;
        const char *plan_id;
        unsigned catalog_revision; /* the catalogue revision it was ordered from (pinned) */
        const char *approval_no;
        const char *cost_kind; /* "construction" or "om" */
        int64_t committed_fen;
        const char *provider;     /* NULL: none chosen */
        const char *provider_ref; /* NULL: nothing made on the provider yet */
        ResourceState state;
        const char *created_at;
        const char *created_by;
        const char *updated_at;
        ResourceKind kind;
        char *mem_; /* owns every string above */
} Resource;
void resource_done(Resource *r);

/* An operation on a resource (operations.c runs them). */
typedef struct Operation {
        const char *id;
        const char *resource_id;
        OperationKind kind;
        OperationState state;
        const char *error; /* NULL unless it failed */
        const char *created_at;
        const char *updated_at;
        const char *domain; /* adopt: the provider's domain it takes over; NULL otherwise */
        char *mem_;
} Operation;
void operation_done(Operation *o);

/* One page of operations (operations_list). */
typedef struct OperationList {
        Operation *items;
        size_t n;
} OperationList;
void operation_list_done(OperationList *l);

/* What a request or an action answers: the resource, the state it is in
 * now, and the operation queued for it (follow it with operations_get). */
typedef struct ResourceTicket {
        char id[64];
        ResourceState state;
        char operation_id[64];
} ResourceTicket;

/* One page of resources (resources_list). */
typedef struct ResourceList {
        Resource *items;
        size_t n;
} ResourceList;
void resource_list_done(ResourceList *l);

/* Called on the main thread after a resource's state or fields changed;
 * created is true once, right after the request that made it committed. */
typedef void (*ResourceChangedFn)(const char *resource_id, bool created, void *userdata);

int resources_new(Store *store, Projects *projects, Providers *providers, WorkerPool *pool, Resources **ret);
Resources *resources_free(Resources *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Resources *, resources_free);

/* How long a stop waits for the guest before forcing it off (0: at once). */
void resources_set_stop_timeout(Resources *r, unsigned timeout_ms);
/* How many operations may be in flight (handed to the pool or an http
 * provider) at once; more wait, in order, and are handed over as others
 * end. 1..RESOURCES_MAX_IN_FLIGHT_LIMIT, else -EINVAL. Lowering it below
 * what is in flight stops nothing: new ones wait until enough ended. */
#define RESOURCES_MAX_IN_FLIGHT_DEFAULT 4096
#define RESOURCES_MAX_IN_FLIGHT_LIMIT   1000000
int resources_set_max_in_flight(Resources *r, unsigned max);
void resources_set_change_callback(Resources *r, ResourceChangedFn fn, void *userdata);

#define RESOURCE_NAME_MAX 200

/* The pure first step of resources_request(): the body's shape. Reads what
 * eval_request_from_json() reads plus "name" (required, 1..RESOURCE_NAME_MAX
 * bytes); "quantity", when given, must be 1. Strings are borrowed from body.
 * A refusal is CB_ERR_VALIDATION naming the field. */
int resource_request_from_json(const json_t *body, EvalRequest *ret, const char **ret_name, CbError *err);

/* POST /v1/resources. idempotency_key may be NULL; an idempotent replay
 * answers the first request's resource and provision. */
int resources_request(Resources *r, const CbCaller *caller, const json_t *body, const char *idempotency_key,
                      ResourceTicket *ret, CbError *err);
/* The resource, for a caller that may read it; NotFound alike for an
 * unknown id and another department's resource. A deleted one is answered
 * (state deleted): the record stays. */
int resources_get(Resources *r, const CbCaller *caller, const char *id, Resource *ret, CbError *err);
/* project_id NULL: everything the caller may see. */
/* One page (page.h) in creation order; ret_next is "" on the last page. */
/* Deleted resources are listed too (state deleted), as the record holds them. */
int resources_list(Resources *r, const CbCaller *caller, const char *project_id, const Page *page,
                   ResourceList *ret, char ret_next[PAGE_TOKEN_MAX], CbError *err);
/* action: "start", "stop", "reboot", "delete". */
int resources_act(Resources *r, const CbCaller *caller, const char *id, const char *action,
                  ResourceTicket *ret, CbError *err);
/* resources_act on res, the record the caller read with resources_get in
 * this same turn of the loop (a face that had to read it first): the same
 * checks, without reading it again. */
int resources_act_known(Resources *r, const CbCaller *caller, const Resource *res, const char *action,
                        ResourceTicket *ret, CbError *err);
/* An operation on a resource the caller may read (NotFound otherwise). */
int operations_get(Resources *r, const CbCaller *caller, const char *id, Operation *ret, CbError *err);
/* GET /v1/operations: one page (page.h) in creation order of the operations
 * on the resources the caller may read (a department: its own), filtered
 * by kind, state and resource_id (each may be NULL). A kind or state that
 * is none of the names is CB_ERR_VALIDATION naming it. */
int operations_list(Resources *r, const CbCaller *caller, const char *kind, const char *state,
                    const char *resource_id, const Page *page, OperationList *ret,
                    char ret_next[PAGE_TOKEN_MAX], CbError *err);

/* Art. 28: a terminated project's resources are scheduled for retirement:
 * a deprovision operation each, in the caller's transaction. */
int resources_retire_project(Resources *r, const char *project_id, const CbCaller *caller, CbError *err);

/* Resources as objects (D-Bus object paths): a resource is an object for a
 * caller when the caller may read it (resources_get) and it is not
 * deleted. An unknown id, another department's resource, a deleted one and
 * any id for a caller that is no principal all answer alike: no object.
 * resources_object_exists: 1 or 0 (-EIO on a store error); caller NULL is
 * the daemon itself (its own signals), for whom every live resource exists. */
int resources_object_exists(Resources *r, const CbCaller *caller, const char *id);
/* The ids of the caller's objects, NULL-terminated (free each and the array). */
int resources_object_ids(Resources *r, const CbCaller *caller, char ***ret, CbError *err);
/* The record itself, without authorization: 0, -ENOENT, -EIO or -ENOMEM. */
int resources_record(Resources *r, const char *id, Resource *ret);

/* The department holding resource id, without authorization, for core
 * modules that hold only the store (incidents name resources): 0, -ENOENT
 * when there is no such resource, -EIO. */
#define RESOURCE_DEPARTMENT_MAX 64
int resources_department(Store *s, const char *id, char ret[RESOURCE_DEPARTMENT_MAX]);

/* The resource the caller's principal ordered under idempotency key `key`
 * (an OSB platform's instance id): 0, its id and (ret_department, may be
 * NULL) its department, -ENOENT, -EIO. Only the
 * principal that ordered it finds it. */
int resources_find_by_key(Resources *r, const CbCaller *caller, const char *key, char ret_id[64],
                          char ret_department[RESOURCE_DEPARTMENT_MAX]);
/* The same resource's whole record, in the one statement (the faces that
 * find an instance by key then read it): 0, -ENOENT, -EIO. No check of
 * who may read it: resources_may_read() is resources_get's. */
int resources_record_by_key(Resources *r, const CbCaller *caller, const char *key, Resource *ret);
/* resources_get's checks (the role, the department) of caller over res, a
 * record read by other means: 0, or the error resources_get would give. */
int resources_may_read(const CbCaller *caller, const Resource *res, CbError *err);
/* The newest operation of a resource, for a caller that may read it
 * (operations_get's rules); CB_ERR_NOT_FOUND when it has none. */
int operations_latest(Resources *r, const CbCaller *caller, const char *resource_id, Operation *ret,
                      CbError *err);

/* Who may read an inventory, and whether the provider exists: the refusal
 * resources_inventory() would give, without starting anything, for a face
 * that must decide whether to wait (REST suspends only on success). */
int resources_inventory_check(Resources *r, const CbCaller *caller, const char *provider, CbError *err);
/* What a provider holds, as read now: its domains and the broker-named
 * volumes, in the provider's order. managed: the broker's own object (a
 * stamp naming a resource the record places on this provider); anything
 * else is unmanaged (Art. 10). A managed volume carries the record's view
 * of the VM it is on (attached_to NULL: none). */
/* A domain the provider shows a volume on, as a disk. */
typedef struct InventoryDisk {
        char *domain;
        char *resource_id; /* the broker VM the domain is; NULL: not the broker's */
        char *target;      /* NULL: none */
        bool persistent, live;
} InventoryDisk;

/* Where the reconcile found the provider and the record to differ
 * (attachment_drift), while it lasts. */
typedef struct InventoryDrift {
        AttachmentDrift kind;
        char *domain;
        char *vm_id;  /* missing: the VM on record; unrecorded: the domain's VM, NULL if not the broker's */
        char *target; /* NULL: none */
        char *first_seen;
} InventoryDrift;

typedef struct InventoryItem {
        DriverObjectKind kind; /* a domain (DRIVER_OBJECT_VM) or a volume */
        char *name;
        char *provider_ref;  /* NULL: none */
        DriverState state;   /* domains */
        unsigned vcpus;      /* domains */
        uint64_t memory_mib; /* domains */
        uint64_t size_gib;   /* volumes */
        bool managed;
        char *resource_id; /* managed ones; else NULL */
        char *attached_to; /* managed volumes on a VM; else NULL */
        AttachmentState attachment_state;
        InventoryDisk *on; /* managed volumes: the domains the provider shows it on */
        size_t n_on;
        InventoryDrift *drift; /* managed volumes: the drift on record */
        size_t n_drift;
} InventoryItem;

typedef struct Inventory {
        char *provider;
        InventoryItem *v;
        size_t n;
} Inventory;
Inventory *inventory_free(Inventory *inv);
DEFINE_TRIVIAL_CLEANUP_FUNC(Inventory *, inventory_free);

/* Live inventory of a provider; the answer comes later through done (on
 * the main thread): the inventory, which done then owns, or an error. */
typedef void (*InventoryDoneFn)(Inventory *inventory, const CbError *err, void *userdata);
int resources_inventory(Resources *r, const CbCaller *caller, const char *provider, InventoryDoneFn done,
                        void *userdata, CbError *err);

/* Resumes unfinished operations and reconciles; called at start-up and
 * whenever a provider (re)connects. */
void resources_provider_ready(Resources *r, Provider *p);
/* Subscribes to a provider's life-cycle events (a VM shut down from inside
 * becomes "stopped"). */
int resources_watch(Resources *r, Provider *p);
/* The daemon is going down; called before the worker pool is freed. Stops
 * the events, and from then on drops what only brings records in line with
 * a host reading (a reconcile's inventory, an event's reading) instead of
 * recording it while the pool drains: the next start reads the hosts
 * again, and marking thousands of records lost on the way out kept
 * SIGTERM waiting for seconds (bench/scale.sh). Finished operations are
 * still recorded. */
void resources_stop(Resources *r);

/* Periodic: probe providers and reconcile the connected ones. */
void resources_reconcile_all(Resources *r);

/* Calls fn once, later on the loop, when resource id's provision or
 * deprovision has settled: settled true once it left state provisioning or
 * deprovisioning (active, deleted, failed), false when the provider said it
 * is under way (an http provider's 202; not with until_done, which waits
 * for the end) or after timeout_ms. For a face that answers "done at once"
 * apart from "under way" (OSB's 201/200 and 202, REST's Prefer: wait).
 * settled is the record as it settled (valid for the call only, so that the
 * face answers from it without reading it again), NULL when it did not.
 * -errno when it cannot wait. */
typedef void (*ResourceSettledFn)(const char *id, const Resource *settled, void *userdata);
int resources_wait_settled(Resources *r, const char *id, unsigned timeout_ms, bool until_done,
                           ResourceSettledFn fn, void *userdata);
