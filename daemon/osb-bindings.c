/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OSB service bindings (/v2/service_instances/{instance_id}/service_bindings/
 * {binding_id}). Of VM instances: the core's vm-access.h binds, reads and
 * unbinds, at once (201/200). Of http (service) instances: the core's
 * bindings.h, the same functions as /v1/resources/{id}/bindings; the
 * provider may bind asynchronously, so those need accepts_incomplete=true
 * (else 422 AsyncRequired) and answer 201 when the provider bound at once,
 * 202 {"operation"} while it is at it. Either way the platform's binding id
 * is the key, so a repeat is idempotent and only the platform that bound
 * reads the credentials; bindings stay on record after unbinding, so
 * last_operation answers for both.
 */
#include "osb.h"

#include <stdio.h>

#include "digest.h"
#include "bindings.h"
#include "resources.h"
#include "vm-access.h"

/* The instance a binding route names, for its platform; NULL after
 * answering 404 (or 410 for gone_status) itself. */
static int load_instance(RestRequest *req, RestReply *reply, unsigned missing_status, OsbActor *actor,
                         Resource *ret, CbError *err) {
        const char *iid = req->params[0];
        int q = osb_id_ok(iid) ? osb_instance_load(req, iid, actor, ret, err) : -ENOENT;

        if (q == -ENOENT) {
                if (missing_status == 410)
                        rest_reply_json(reply, 410, json_object());
                else
                        osb_fail(reply, missing_status, "NotFound", "no instance '%s'", iid);
                return -ENOENT;
        }
        if (q < 0) {
                osb_fail(reply, 500, "InternalError", "cannot read instance '%s'", iid);
                cb_error_clear(err);
                return -EIO;
        }
        return 0;
}

/* The access details: never logged, answered only here. */
static json_t *credentials(const Resource *res, const VmBinding *b) {
        return json_pack("{s:{s:s, s:s, s:s, s:s?}}", "credentials", "resource_id", res->id, "key_type",
                         "ssh-ed25519", "ssh_public_key", b->public_key, "ssh_private_key", b->private_key);
}

/* ---- bindings of service (http) instances ---- */

static json_t *service_credentials(const ServiceBinding *b) {
        return json_pack("{s:O}", "credentials", b->credentials ? b->credentials : json_object());
}

static void service_bind_answered(const ServiceBinding *b, const CbError *err, void *userdata) {
        RestAsync *a = userdata;
        if (!b || (b->state == BINDING_FAILED && err)) {
                /* The provider refused or failed: the reason, in OSB's body. */
                unsigned status = !err                                ? 500
                                  : err->kind == CB_ERR_UNPROCESSABLE ? 422
                                                                      : cb_error_http_status(err->kind);
                rest_async_complete(a, status,
                                    json_pack("{s:s, s:s}", "error", "BindingFailed", "description",
                                              err ? err->message : "the binding failed"));
                return;
        }
        if (b->state == BINDING_BOUND)
                rest_async_complete(a, 201, service_credentials(b));
        else
                rest_async_complete(a, 202, json_pack("{s:s}", "operation", "bind"));
}

static int service_binding_put(RestRequest *req, RestReply *reply, OsbActor *actor, const Resource *res,
                               const char *bid, const json_t *params, const char *hash, CbError *err) {
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        bool pending = false;
        RestAsync *a;
        int q;

        if (!osb_accepts_incomplete(req))
                return osb_fail(reply, 422, "AsyncRequired",
                                "instance '%s' is bound at its provider, which may do it asynchronously: "
                                "accepts_incomplete=true is required",
                                req->params[0]);
        a = rest_suspend(req);
        /* res is load_instance's resources_get for this caller, just now: not read again. */
        q = resource_bind_known(req->manager->resources, &actor->caller, res, bid, params, hash,
                                service_bind_answered, a, &b, &pending, err);
        if (q < 0) {
                /* OSB: parameters the plan's schema refuses are a bad request (400). */
                rest_async_complete(a,
                                    err->kind == CB_ERR_CONFLICT     ? 409
                                    : err->kind == CB_ERR_VALIDATION ? 400
                                                                     : cb_error_http_status(err->kind),
                                    json_pack("{s:s, s:s}", "error",
                                              err->kind == CB_ERR_CONFLICT     ? "Conflict"
                                              : err->kind == CB_ERR_VALIDATION ? "BadRequest"
                                                                               : "BindingFailed",
                                              "description", err->message));
                cb_error_clear(err);
        } else if (!pending) {
                if (b.state == BINDING_BOUND)
                        rest_async_complete(a, 200, service_credentials(&b));
                else
                        rest_async_complete(a, 202, json_pack("{s:s}", "operation", "bind"));
        }
        return REST_ASYNC;
}

static void service_unbind_answered(const ServiceBinding *b, const CbError *err, void *userdata) {
        RestAsync *a = userdata;
        if (!b)
                rest_async_complete(
                        a, cb_error_http_status(err->kind),
                        json_pack("{s:s, s:s}", "error", "UnbindingFailed", "description", err->message));
        else if (b->state == BINDING_UNBOUND)
                rest_async_complete(a, 200, json_object());
        else if (b->state == BINDING_UNBINDING)
                rest_async_complete(a, 202, json_pack("{s:s}", "operation", "unbind"));
        else
                /* Still bound: the provider would not (the error says why). */
                rest_async_complete(
                        a, 502,
                        json_pack("{s:s, s:s}", "error", "UnbindingFailed", "description",
                                  b->error ? b->error : (err ? err->message : "the unbinding failed")));
}

static int on_binding_put(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(vm_binding_done) VmBinding b = { 0 };
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(json_decrefp) json_t *asked = NULL;
        _cleanup_(freep) char *canon = NULL;
        const char *bid = req->params[1], *service_id, *plan_id;
        const json_t *params;
        char hash[DIGEST_HEX_MAX];
        bool created = false;
        OsbActor actor;
        int minor, q;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (!osb_id_ok(bid))
                return osb_fail(reply, 400, "BadRequest",
                                "binding_id: 1 to 200 of A-Z, a-z, 0-9 and '-', '.', '_', '~'");
        q = rest_body_json(req, &body, err);
        if (q < 0 || !json_is_object(body)) {
                osb_fail(reply, 400, "BadRequest", "%s",
                         q < 0 ? err->message : "the body must be a JSON object");
                cb_error_clear(err);
                return 0;
        }
        service_id = json_string_value(json_object_get(body, "service_id"));
        plan_id = json_string_value(json_object_get(body, "plan_id"));
        if (isempty(service_id) || isempty(plan_id))
                return osb_fail(reply, 400, "BadRequest", "%s is required",
                                isempty(service_id) ? "service_id" : "plan_id");
        params = json_object_get(body, "parameters");
        if (params && !json_is_object(params))
                return osb_fail(reply, 400, "BadRequest", "parameters: must be a JSON object");
        if (load_instance(req, reply, 404, &actor, &res, err) < 0)
                return 0;
        /* An http instance's provider takes parameters (the core checks them); a VM's binding none. */
        if (res.kind != RESOURCE_KIND_SERVICE && params && json_object_size(params) > 0)
                return osb_fail(reply, 400, "BadRequest", "parameters: a VM's binding takes none");
        if (!streq(service_id, res.service_id) || !streq(plan_id, res.plan_id))
                return osb_fail(reply, 400, "BadRequest", "%s: instance '%s' is of service '%s', plan '%s'",
                                streq(service_id, res.service_id) ? "plan_id" : "service_id", req->params[0],
                                res.service_id, res.plan_id);
        if (res.state == RESOURCE_DELETED)
                return osb_fail(reply, 404, "NotFound", "instance '%s' is deprovisioned", req->params[0]);
        if (res.state != RESOURCE_ACTIVE && res.state != RESOURCE_STOPPED)
                return osb_fail(reply, 422, "ConcurrencyError",
                                "instance '%s' is %s: bind it once it is active", req->params[0],
                                resource_state_to_string(res.state));

        /* What was asked, so that a repeat can be told from another request. */
        asked = json_pack("{s:s, s:s, s:O?}", "service_id", service_id, "plan_id", plan_id, "bind_resource",
                          json_object_get(body, "bind_resource"));
        canon = asked ? json_dumps(asked, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!canon || digest_sha256_hex(canon, strlen(canon), hash) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (res.kind == RESOURCE_KIND_SERVICE)
                return service_binding_put(req, reply, &actor, &res, bid, params, hash, err);
        q = vm_bind(req->manager->resources, &actor.caller, res.id, bid, hash, &b, &created, err);
        if (q < 0) {
                osb_fail_err(reply, err);
                cb_error_clear(err);
                return 0;
        }
        return rest_reply_json(reply, created ? 201 : 200, credentials(&res, &b));
}

static int on_binding_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(vm_binding_done) VmBinding b = { 0 };
        OsbActor actor;
        int minor;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (minor < 14)
                return osb_fail(reply, 412, "PreconditionFailed",
                                "fetching a service binding needs X-Broker-API-Version 2.14 or later");
        if (load_instance(req, reply, 404, &actor, &res, err) < 0)
                return 0;
        if (res.kind == RESOURCE_KIND_SERVICE) {
                _cleanup_(service_binding_done) ServiceBinding sb = { 0 };
                if (resource_binding_get(req->manager->resources, &actor.caller, res.id, req->params[1], true,
                                         &sb, err) < 0 ||
                    sb.state != BINDING_BOUND) {
                        cb_error_clear(err);
                        return osb_fail(reply, 404, "NotFound", "no binding '%s'", req->params[1]);
                }
                return rest_reply_json(reply, 200, service_credentials(&sb));
        }
        if (vm_binding_get(req->manager->resources, &actor.caller, res.id, req->params[1], &b, err) < 0 ||
            b.deleted_at) {
                cb_error_clear(err);
                return osb_fail(reply, 404, "NotFound", "no binding '%s'", req->params[1]);
        }
        return rest_reply_json(reply, 200, credentials(&res, &b));
}

static int on_binding_delete(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        OsbActor actor;
        int minor;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (isempty(rest_query(req, "service_id")) || isempty(rest_query(req, "plan_id")))
                return osb_fail(reply, 400, "BadRequest", "%s is required in the query",
                                isempty(rest_query(req, "service_id")) ? "service_id" : "plan_id");
        if (load_instance(req, reply, 410, &actor, &res, err) < 0)
                return 0;
        if (res.kind == RESOURCE_KIND_SERVICE) {
                _cleanup_(service_binding_done) ServiceBinding sb = { 0 };
                bool pending = false;
                RestAsync *a;
                if (!osb_accepts_incomplete(req))
                        return osb_fail(reply, 422, "AsyncRequired",
                                        "instance '%s' is unbound at its provider, which may do it "
                                        "asynchronously: accepts_incomplete=true is required",
                                        req->params[0]);
                a = rest_suspend(req);
                if (resource_unbind_known(req->manager->resources, &actor.caller, &res, req->params[1], true,
                                          service_unbind_answered, a, &sb, &pending, err) < 0) {
                        unsigned status = err->kind == CB_ERR_NOT_FOUND  ? 410
                                          : err->kind == CB_ERR_CONFLICT ? 422
                                                                         : cb_error_http_status(err->kind);
                        rest_async_complete(a, status,
                                            status == 410 ? json_object()
                                                          : json_pack("{s:s, s:s}", "error",
                                                                      status == 422 ? "ConcurrencyError"
                                                                                    : "UnbindingFailed",
                                                                      "description", err->message));
                        cb_error_clear(err);
                }
                return REST_ASYNC;
        }
        if (vm_unbind(req->manager->resources, &actor.caller, res.id, req->params[1], err) < 0) {
                bool gone = err->kind == CB_ERR_NOT_FOUND;
                if (!gone)
                        osb_fail_err(reply, err);
                cb_error_clear(err);
                return gone ? rest_reply_json(reply, 410, json_object()) : 0;
        }
        return rest_reply_json(reply, 200, json_object());
}

static int on_binding_last_operation(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(vm_binding_done) VmBinding b = { 0 };
        OsbActor actor;
        int minor;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        if (minor < 14)
                return osb_fail(reply, 412, "PreconditionFailed",
                                "binding last_operation needs X-Broker-API-Version 2.14 or later");
        if (load_instance(req, reply, 404, &actor, &res, err) < 0)
                return 0;
        if (res.kind == RESOURCE_KIND_SERVICE) {
                _cleanup_(service_binding_done) ServiceBinding sb = { 0 };
                const char *state;
                if (resource_binding_get(req->manager->resources, &actor.caller, res.id, req->params[1], true,
                                         &sb, err) < 0) {
                        cb_error_clear(err);
                        return osb_fail(reply, 404, "NotFound", "no binding '%s'", req->params[1]);
                }
                state = sb.state == BINDING_CREATING || sb.state == BINDING_UNBINDING ? "in progress"
                        : sb.state == BINDING_FAILED                                  ? "failed"
                                                                                      : "succeeded";
                /* A failed unbind leaves it bound, with its error: that operation failed. */
                if (sb.state == BINDING_BOUND && sb.error)
                        state = "failed";
                return rest_reply_json(reply, 200,
                                       json_pack("{s:s, s:s}", "state", state, "description",
                                                 sb.error                        ? sb.error
                                                 : sb.state == BINDING_UNBOUND   ? "unbind succeeded"
                                                 : sb.state == BINDING_UNBINDING ? "unbinding at the provider"
                                                 : sb.state == BINDING_CREATING  ? "binding at the provider"
                                                                                 : "bind succeeded"));
        }
        if (vm_binding_get(req->manager->resources, &actor.caller, res.id, req->params[1], &b, err) < 0) {
                cb_error_clear(err);
                return osb_fail(reply, 404, "NotFound", "no binding '%s'", req->params[1]);
        }
        /* Bindings are made and removed at once: the last one succeeded. */
        return rest_reply_json(reply, 200,
                               json_pack("{s:s, s:s}", "state", "succeeded", "description",
                                         b.deleted_at ? "unbind succeeded" : "bind succeeded"));
}

const RestRoute osb_binding_routes[] = {
        { "PUT", "/v2/service_instances/{instance_id}/service_bindings/{binding_id}", REST_AUTH_OSB,
          on_binding_put, NULL },
        { "DELETE", "/v2/service_instances/{instance_id}/service_bindings/{binding_id}", REST_AUTH_OSB,
          on_binding_delete, NULL },
        { "GET", "/v2/service_instances/{instance_id}/service_bindings/{binding_id}", REST_AUTH_OSB,
          on_binding_get, NULL },
        { "GET", "/v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation",
          REST_AUTH_OSB, on_binding_last_operation, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
