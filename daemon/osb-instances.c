/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OSB service instances (/v2/service_instances/{instance_id}): an instance
 * is a broker resource, ordered, read and deprovisioned through the same
 * core functions as POST/GET/DELETE /v1/resources (resources_request,
 * resources_get, resources_act, operations_get). The platform's instance id
 * is the idempotency key its principal orders under, so an identical
 * repeat answers the first resource and a different body conflicts, by the
 * core's own rule. organization_guid is the department, space_guid the
 * project, context.system_id the system. Every broker plan may provision
 * asynchronously (a VM takes the worker pool, an http provider may answer
 * 202), so provision and deprovision need accepts_incomplete=true. A new
 * http instance is answered after its provider's first answer: 201 when it
 * was ready at once, 202 while under way; an identical repeat is 200 once
 * ready, 202 before.
 */
#include "osb.h"

#include <stdio.h>

#include "resize.h"
#include "resources.h"

/* The instance's labels (2.16 metadata): how to find it on /v1. */
static void add_metadata(json_t *body, const Resource *res, int minor) {
        if (minor < 16 || !body)
                return;
        json_object_set_new(body, "metadata",
                            json_pack("{s:{s:s, s:s}}", "labels", "resource_id", res->id, "approval_no",
                                      res->approval_no ? res->approval_no : ""));
}

/* A string member of the body, or of body.context (the spec moves
 * organization_guid and space_guid into the context). */
static const char *member(const json_t *body, const char *name) {
        const char *v = json_string_value(json_object_get(body, name));
        if (!v)
                v = json_string_value(json_object_get(json_object_get(body, "context"), name));
        return v && v[0] ? v : NULL;
}

static int read_body(RestRequest *req, RestReply *reply, json_t **ret) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        json_t *body = NULL;

        if (rest_body_json(req, &body, &err) < 0) {
                osb_fail(reply, 400, "BadRequest", "%s", err.message);
                return -EINVAL;
        }
        if (!json_is_object(body)) {
                json_decref(body);
                osb_fail(reply, 400, "BadRequest", "the body must be a JSON object");
                return -EINVAL;
        }
        *ret = body;
        return 0;
}

/* A new http instance: answered once its provider first answered. */
typedef struct PutWait {
        RestAsync *async;
        Resources *rs;
        char operation_id[64];
        int minor;
} PutWait;

static void put_settled(const char *id, const Resource *settled, void *userdata) {
        _cleanup_(resource_done) Resource res = { 0 };
        PutWait *w = userdata;
        const Resource *at = settled;
        json_t *out;

        /* Ready at once is the spec's 201; anything else is followed on last_operation. */
        if (settled && settled->state == RESOURCE_ACTIVE) {
                out = json_object();
                add_metadata(out, settled, w->minor);
                rest_async_complete(w->async, 201, out);
        } else {
                if (!at && resources_record(w->rs, id, &res) >= 0)
                        at = &res;
                out = json_pack("{s:s}", "operation", w->operation_id);
                if (at)
                        add_metadata(out, at, w->minor);
                rest_async_complete(w->async, 202, out);
        }
        free(w);
}

/* How long a new http instance's PUT waits for its provider's first answer:
 * a provider that hangs is answered 202 and followed on last_operation. */
#define PUT_SETTLE_MS 3000

/* A deprovision of an http instance waits the same way: a provider that
 * deleted it at once is OSB's 200 {} (no last_operation to poll), one that
 * is still deleting (its 202, no answer within PUT_SETTLE_MS, a failure) is
 * 202 with the operation. */
static void delete_settled(const char *id, const Resource *settled, void *userdata) {
        PutWait *w = userdata;

        (void)id;
        if (settled && settled->state == RESOURCE_DELETED)
                rest_async_complete(w->async, 200, json_object());
        else
                rest_async_complete(w->async, 202, json_pack("{s:s}", "operation", w->operation_id));
        free(w);
}

static int on_instance_put(RestRequest *req, RestReply *reply, CbError *err) {
        static const char *const required[] = { "service_id", "plan_id", "organization_guid", "space_guid" };
        Resources *rs = req->manager->resources;
        const char *iid = req->params[0], *vals[4], *system_id, *instance_name;
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(json_decrefp) json_t *order = NULL;
        _cleanup_(resource_done) Resource res = { 0 };
        char id[64], name[RESOURCE_NAME_MAX + 1];
        bool existed;
        ResourceTicket t;
        OsbActor actor;
        int minor, q;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (!osb_id_ok(iid))
                return osb_fail(reply, 400, "BadRequest",
                                "instance_id: 1 to 200 of A-Z, a-z, 0-9 and '-', '.', '_', '~'");
        if (read_body(req, reply, &body) < 0)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(required); i++) {
                vals[i] = member(body, required[i]);
                if (!vals[i])
                        return osb_fail(reply, 400, "BadRequest", "%s is required", required[i]);
        }
        system_id = json_string_value(json_object_get(json_object_get(body, "context"), "system_id"));
        if (isempty(system_id))
                return osb_fail(reply, 400, "BadRequest",
                                "context.system_id is required: the information system the instance serves");
        instance_name = json_string_value(json_object_get(json_object_get(body, "context"), "instance_name"));
        snprintf(name, sizeof(name), "%s%s", isempty(instance_name) ? "osb-" : "",
                 isempty(instance_name) ? iid : instance_name);

        q = osb_instance_find(req, iid, id, &actor);
        if (q < 0 && q != -ENOENT)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read instance '%s'", iid);
        existed = q >= 0;
        if (existed && !streq(actor.department, vals[2]))
                return osb_fail(reply, 409, "Conflict", "instance '%s' exists with another organization_guid",
                                iid);
        if (!existed && !osb_accepts_incomplete(req))
                return osb_fail(reply, 422, "AsyncRequired",
                                "plan '%s' is provisioned asynchronously: send accepts_incomplete=true",
                                vals[1]);
        osb_actor_init(&actor, &req->caller, vals[2]);

        if (json_object_get(body, "parameters") && !json_is_object(json_object_get(body, "parameters")))
                return osb_fail(reply, 400, "BadRequest", "parameters: must be a JSON object");
        /* The platform's parameters go to the core as an order's: checked there, sealed, sent on. */
        order = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O*}", "name", name, "project_id", vals[3], "system_id",
                          system_id, "service_id", vals[0], "plan_id", vals[1], "parameters",
                          json_object_get(body, "parameters"));
        if (!order)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        q = resources_request(rs, &actor.caller, order, iid, &t, err);
        if (q < 0) {
                /* A changed repeat is the spec's 409 too: the core's idempotency conflict; parameters
                 * the plan's schema refuses are 400 (a validation error). */
                osb_fail_err(reply, err);
                cb_error_clear(err);
                return 0;
        }
        q = resources_get(rs, &actor.caller, t.id, &res, err);
        if (q < 0)
                return q;

        if (!existed || res.state == RESOURCE_PROVISIONING) {
                json_t *out;
                if (!osb_accepts_incomplete(req))
                        return osb_fail(reply, 422, "AsyncRequired",
                                        "instance '%s' is being provisioned: send accepts_incomplete=true",
                                        iid);
                if (!existed && res.kind == RESOURCE_KIND_SERVICE) {
                        PutWait *w = calloc(1, sizeof(*w));
                        if (w) {
                                w->async = rest_suspend(req);
                                w->rs = rs;
                                w->minor = minor;
                                snprintf(w->operation_id, sizeof(w->operation_id), "%s", t.operation_id);
                                if (resources_wait_settled(rs, res.id, PUT_SETTLE_MS, false, put_settled,
                                                           w) >= 0)
                                        return REST_ASYNC;
                                rest_async_complete(w->async, 202,
                                                    json_pack("{s:s}", "operation", t.operation_id));
                                free(w);
                                return REST_ASYNC;
                        }
                }
                out = json_pack("{s:s}", "operation", t.operation_id);
                add_metadata(out, &res, minor);
                return rest_reply_json(reply, 202, out);
        }
        if (res.state == RESOURCE_ACTIVE || res.state == RESOURCE_STOPPED) {
                json_t *out = json_object();
                add_metadata(out, &res, minor);
                return rest_reply_json(reply, 200, out);
        }
        return osb_fail(reply, 409, "Conflict", "instance '%s' exists and is %s", iid,
                        resource_state_to_string(res.state));
}

/* The instance for GET/PATCH/DELETE/last_operation: the platform's own,
 * read through resources_get. Answers the reply itself on -ENOENT/-EIO. */
static int load_instance(RestRequest *req, RestReply *reply, OsbActor *actor, Resource *ret, CbError *err) {
        const char *iid = req->params[0];
        int q;

        if (!osb_id_ok(iid)) {
                osb_fail(reply, 404, "NotFound", "no instance '%s'", iid);
                return -ENOENT;
        }
        q = osb_instance_load(req, iid, actor, ret, err);
        if (q == -ENOENT) {
                osb_fail(reply, 404, "NotFound", "no instance '%s'", iid);
                return q;
        }
        if (q < 0) {
                osb_fail(reply, 500, "InternalError", "cannot read instance '%s'", iid);
                return -EIO;
        }
        return 0;
}

static int on_instance_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        OsbActor actor;
        json_t *out;
        int minor;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (minor < 14)
                return osb_fail(reply, 412, "PreconditionFailed",
                                "fetching a service instance needs X-Broker-API-Version 2.14 or later");
        if (load_instance(req, reply, &actor, &res, err) < 0)
                return 0;
        /* The spec: an instance still being provisioned, or gone, is not found. */
        if (res.state == RESOURCE_PROVISIONING || res.state == RESOURCE_DELETED)
                return osb_fail(reply, 404, "NotFound", "instance '%s' is %s", req->params[0],
                                resource_state_to_string(res.state));
        out = json_pack("{s:s, s:s}", "service_id", res.service_id, "plan_id", res.plan_id);
        add_metadata(out, &res, minor);
        return rest_reply_json(reply, 200, out);
}

static int on_instance_patch(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(json_decrefp) json_t *body = NULL;
        const json_t *params;
        const char *service_id, *plan_id;
        OsbActor actor;
        json_t *out;
        int minor;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (read_body(req, reply, &body) < 0)
                return 0;
        service_id = json_string_value(json_object_get(body, "service_id"));
        plan_id = json_string_value(json_object_get(body, "plan_id"));
        if (isempty(service_id))
                return osb_fail(reply, 400, "BadRequest", "service_id is required");
        if (load_instance(req, reply, &actor, &res, err) < 0)
                return 0;
        if (res.state == RESOURCE_DELETED)
                return osb_fail(reply, 404, "NotFound", "instance '%s' is deleted", req->params[0]);
        if (!streq(service_id, res.service_id))
                return osb_fail(reply, 400, "BadRequest", "service_id: instance '%s' is of service '%s'",
                                req->params[0], res.service_id);
        params = json_object_get(body, "parameters");
        if (params && !json_is_object(params))
                return osb_fail(reply, 400, "BadRequest", "parameters: must be a JSON object");
        if (params && json_object_size(params) == 0)
                params = NULL; /* {} asks nothing */
        /* A plan change, new parameters or both: the core's update (resize.h), a plan
         * change checked by the policy engine like a new order, parameters against
         * the provider's update schema (a VM's plans take none: 400 naming them). */
        if ((plan_id && !streq(plan_id, res.plan_id)) || params) {
                ResourceTicket t;
                if (!osb_accepts_incomplete(req))
                        return osb_fail(reply, 422, "AsyncRequired",
                                        "an update is made asynchronously: send accepts_incomplete=true");
                if (resources_update(req->manager->resources, &actor.caller, res.id,
                                     plan_id && !streq(plan_id, res.plan_id) ? plan_id : NULL, params, &t,
                                     err) < 0) {
                        osb_fail_err(reply, err);
                        cb_error_clear(err);
                        return 0;
                }
                out = json_pack("{s:s}", "operation", t.operation_id);
                add_metadata(out, &res, minor);
                return rest_reply_json(reply, 202, out);
        }
        out = json_object();
        add_metadata(out, &res, minor);
        return rest_reply_json(reply, 200, out);
}

static int on_instance_delete(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(operation_done) Operation op = { 0 };
        const char *iid = req->params[0];
        ResourceTicket t;
        OsbActor actor;
        int minor, q;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (isempty(rest_query(req, "service_id")) || isempty(rest_query(req, "plan_id")))
                return osb_fail(reply, 400, "BadRequest", "%s is required in the query",
                                isempty(rest_query(req, "service_id")) ? "service_id" : "plan_id");
        q = osb_id_ok(iid) ? osb_instance_load(req, iid, &actor, &res, err) : -ENOENT;
        if (q == -ENOENT)
                return osb_fail(reply, 410, NULL, "no instance '%s'", iid);
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read instance '%s'", iid);
        if (res.state == RESOURCE_DELETED)
                return rest_reply_json(reply, 410, json_object());
        if (!osb_accepts_incomplete(req))
                return osb_fail(reply, 422, "AsyncRequired",
                                "instance '%s' is deprovisioned asynchronously: send accepts_incomplete=true",
                                iid);
        /* A repeat while the deprovision runs answers that operation. */
        if (res.state == RESOURCE_DEPROVISIONING &&
            operations_latest(req->manager->resources, &actor.caller, res.id, &op, err) >= 0 &&
            op.kind == OPERATION_DEPROVISION)
                return rest_reply_json(reply, 202, json_pack("{s:s}", "operation", op.id));
        cb_error_clear(err);
        q = resources_act_known(req->manager->resources, &actor.caller, &res, "delete", &t, err);
        if (q < 0) {
                /* Another operation under way: the spec's ConcurrencyError. */
                if (err->kind == CB_ERR_CONFLICT)
                        osb_fail(reply, 422, "ConcurrencyError", "%s", err->message);
                else
                        osb_fail_err(reply, err);
                cb_error_clear(err);
                return 0;
        }
        if (res.kind == RESOURCE_KIND_SERVICE) {
                PutWait *w = calloc(1, sizeof(*w));
                if (w) {
                        w->async = rest_suspend(req);
                        w->rs = req->manager->resources;
                        snprintf(w->operation_id, sizeof(w->operation_id), "%s", t.operation_id);
                        if (resources_wait_settled(w->rs, res.id, PUT_SETTLE_MS, false, delete_settled, w) >=
                            0)
                                return REST_ASYNC;
                        rest_async_complete(w->async, 202, json_pack("{s:s}", "operation", t.operation_id));
                        free(w);
                        return REST_ASYNC;
                }
        }
        return rest_reply_json(reply, 202, json_pack("{s:s}", "operation", t.operation_id));
}

static const char *osb_state(OperationState s) {
        switch (s) {
        case OPERATION_SUCCEEDED:
                return "succeeded";
        case OPERATION_FAILED:
                return "failed";
        default:
                return "in progress";
        }
}

static int on_instance_last_operation(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(operation_done) Operation op = { 0 };
        const char *want = rest_query(req, "operation");
        char description[600];
        OsbActor actor;
        json_t *out;
        int minor, q;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (load_instance(req, reply, &actor, &res, err) < 0)
                return 0;
        /* Operations stay on record: a finished deprovision still answers. */
        if (!isempty(want)) {
                q = operations_get(req->manager->resources, &actor.caller, want, &op, err);
                if (q >= 0 && !streq(op.resource_id, res.id))
                        q = cb_error_set(err, CB_ERR_NOT_FOUND, "no operation '%s'", want);
                if (q < 0) {
                        cb_error_clear(err);
                        return osb_fail(reply, 400, "BadRequest",
                                        "operation: '%s' is no operation of instance '%s'", want,
                                        req->params[0]);
                }
        } else if (operations_latest(req->manager->resources, &actor.caller, res.id, &op, err) < 0) {
                osb_fail_err(reply, err);
                cb_error_clear(err);
                return 0;
        }
        if (op.state == OPERATION_FAILED)
                snprintf(description, sizeof(description), "%s failed: %s", operation_kind_to_string(op.kind),
                         op.error ? op.error : "no reason recorded");
        else
                snprintf(description, sizeof(description), "%s %s", operation_kind_to_string(op.kind),
                         op.state == OPERATION_SUCCEEDED ? "succeeded" : "under way");
        out = json_pack("{s:s, s:s}", "state", osb_state(op.state), "description", description);
        /* 2.16: whether a failed deprovision left the instance usable. */
        if (out && minor >= 16 && op.state == OPERATION_FAILED && op.kind == OPERATION_DEPROVISION)
                json_object_set_new(out, "instance_usable", json_boolean(res.state != RESOURCE_DELETED));
        return rest_reply_json(reply, 200, out);
}

const RestRoute osb_instance_routes[] = {
        { "PUT", "/v2/service_instances/{instance_id}", REST_AUTH_OSB, on_instance_put, NULL },
        { "PATCH", "/v2/service_instances/{instance_id}", REST_AUTH_OSB, on_instance_patch, NULL },
        { "DELETE", "/v2/service_instances/{instance_id}", REST_AUTH_OSB, on_instance_delete, NULL },
        { "GET", "/v2/service_instances/{instance_id}", REST_AUTH_OSB, on_instance_get, NULL },
        { "GET", "/v2/service_instances/{instance_id}/last_operation", REST_AUTH_OSB,
          on_instance_last_operation, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
