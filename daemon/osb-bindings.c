/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OSB service bindings (/v2/service_instances/{instance_id}/service_bindings/
 * {binding_id}) of VM instances: the core's vm-access.h binds, reads and
 * unbinds; the platform's binding id is its key there, so a repeat is
 * idempotent and only the platform that bound reads the credentials.
 * Bindings are made at once (201/200), never asynchronously, and stay on
 * record after unbinding, so last_operation answers for both.
 */
#include "osb.h"

#include <stdio.h>

#include "digest.h"
#include "resources.h"
#include "vm-access.h"

/* The instance a binding route names, for its platform; NULL after
 * answering 404 (or 410 for gone_status) itself. */
static int load_instance(RestRequest *req, RestReply *reply, unsigned missing_status, OsbActor *actor,
                         Resource *ret, CbError *err) {
        const char *iid = req->params[0];
        char id[64];
        int q = osb_id_ok(iid) ? osb_instance_find(req, iid, id, actor) : -ENOENT;

        if (q == -ENOENT) {
                if (missing_status == 410)
                        rest_reply_json(reply, 410, json_object());
                else
                        osb_fail(reply, missing_status, "NotFound", "no instance '%s'", iid);
                return -ENOENT;
        }
        if (q >= 0)
                q = resources_get(req->manager->resources, &actor->caller, id, ret, err);
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
        if (params && (!json_is_object(params) || json_object_size(params) > 0))
                return osb_fail(reply, 400, "BadRequest", "parameters: this broker's bindings take none");
        if (load_instance(req, reply, 404, &actor, &res, err) < 0)
                return 0;
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
