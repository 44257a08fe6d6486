/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1: resources, operations and providers. Parse, call the core, reply. */
#include "rest.h"

#include <stdio.h>
#include <string.h>

#include "adopt.h"
#include "attachments.h"
#include "json-util.h"
#include "providers.h"
#include "resources.h"
#include "rest-records.h"

static int on_resource_request(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *body = NULL;
        ResourceTicket t;
        int r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        r = resources_request(req->manager->resources, &req->caller, body,
                              rest_header(req, "Idempotency-Key"), &t, err);
        json_decref(body);
        if (r < 0)
                return r;
        snprintf(reply->location, sizeof(reply->location), "/v1/resources/%s", t.id);
        return rest_reply_json(reply, 202, rest_ticket_json(&t));
}

static int on_resources_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_list_done) ResourceList list = { 0 };
        char next[PAGE_TOKEN_MAX];
        Page page;
        int r = rest_page(req, &page, err);
        if (r >= 0)
                r = resources_list(req->manager->resources, &req->caller, rest_query(req, "project_id"),
                                   &page, &list, next, err);
        if (r < 0)
                return r;
        char *text;
        size_t len;
        r = rest_resource_page_text(&list, next, &text, &len);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot write the page: %s", strerror(-r));
        return rest_reply_text(reply, 200, text, len);
}

static int on_resource_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        int r = resources_get(req->manager->resources, &req->caller, req->params[0], &res, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_resource_json(&res));
}

static int on_resource_action(RestRequest *req, RestReply *reply, CbError *err) {
        static const char *const fields[] = { "action", NULL };
        const char *action = NULL;
        json_t *body = NULL;
        ResourceTicket t;
        int r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_string(body, "action", true, 32, &action, err);
        if (r >= 0 && streq(action, "delete"))
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "action",
                                       "action: use DELETE /v1/resources/{id}");
        if (r >= 0)
                r = resources_act(req->manager->resources, &req->caller, req->params[0], action, &t, err);
        json_decref(body);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 202, rest_ticket_json(&t));
}

static int on_resource_delete(RestRequest *req, RestReply *reply, CbError *err) {
        const char *dv = rest_query(req, "delete_volumes");
        ResourceTicket t;
        int r;
        if (dv && !streq(dv, "true") && !streq(dv, "false"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "delete_volumes",
                                          "delete_volumes: '%s' is not true or false", dv);
        r = resources_delete(req->manager->resources, &req->caller, req->params[0], streq_ptr(dv, "true"), &t,
                             err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 202, rest_ticket_json(&t));
}

static int on_volume_attach(RestRequest *req, RestReply *reply, CbError *err) {
        static const char *const fields[] = { "volume_id", NULL };
        const char *volume_id = NULL;
        json_t *body = NULL;
        ResourceTicket t;
        int r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_string(body, "volume_id", true, 64, &volume_id, err);
        if (r >= 0)
                r = resources_attach_volume(req->manager->resources, &req->caller, req->params[0], volume_id,
                                            &t, err);
        json_decref(body);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 202, rest_ticket_json(&t));
}

static int on_volume_detach(RestRequest *req, RestReply *reply, CbError *err) {
        ResourceTicket t;
        int r = resources_detach_volume(req->manager->resources, &req->caller, req->params[0], req->params[1],
                                        &t, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 202, rest_ticket_json(&t));
}

static int on_volumes_list(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *list = NULL;
        int r = resources_volume_attachments(req->manager->resources, &req->caller, req->params[0], &list,
                                             err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, json_pack("{s:o}", "volumes", list));
}

static int on_operation_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(operation_done) Operation op = { 0 };
        int r = operations_get(req->manager->resources, &req->caller, req->params[0], &op, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_operation_json(&op));
}

static int on_providers_list(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *list = NULL;
        int r = providers_list(req->manager->providers, &req->caller, &list, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, json_pack("{s:o}", "providers", list));
}

static int on_provider_create(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *body = NULL, *out = NULL;
        int r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        r = providers_create(req->manager->providers, &req->caller, body, &out, err);
        json_decref(body);
        if (r < 0)
                return r;
        snprintf(reply->location, sizeof(reply->location), "/v1/providers/%s",
                 json_string_value(json_object_get(out, "name")));
        return rest_reply_json(reply, 201, out);
}

static void inventory_done(json_t *inventory, const CbError *err, void *userdata) {
        RestAsync *a = userdata;
        if (inventory)
                rest_async_complete(a, 200, inventory);
        else
                rest_async_fail(a, err);
}

/* Live: the provider is asked now, on a worker, and the request waits. */
static int on_provider_inventory(RestRequest *req, RestReply *reply, CbError *err) {
        RestAsync *a;
        int r;
        (void)reply;

        /* Checked before suspending, so refusals are answered at once. */
        r = resources_inventory_check(req->manager->resources, &req->caller, req->params[0], err);
        if (r < 0)
                return r;
        a = rest_suspend(req);
        r = resources_inventory(req->manager->resources, &req->caller, req->params[0], inventory_done, a,
                                err);
        if (r < 0) {
                rest_async_fail(a, err);
                cb_error_clear(err);
        }
        return REST_ASYNC;
}

static void adopt_done(json_t *resource, const CbError *err, void *userdata) {
        RestAsync *a = userdata;
        if (resource)
                rest_async_complete(a, 201, resource);
        else
                rest_async_fail(a, err);
}

/* The domain is stamped on a worker; the request waits. Refusals (role,
 * body, policy) are answered at once. */
static int on_provider_adopt(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        RestAsync *a;
        int r;
        (void)reply;

        r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        a = rest_suspend(req);
        r = resources_adopt(req->manager->resources, &req->caller, req->params[0], body, adopt_done, a, err);
        if (r < 0) {
                rest_async_fail(a, err);
                cb_error_clear(err);
        }
        return REST_ASYNC;
}

const RestRoute rest_resources_routes[] = {
        { "POST", "/v1/resources", REST_AUTH_BEARER, on_resource_request, NULL },
        { "GET", "/v1/resources", REST_AUTH_BEARER, on_resources_list, NULL },
        { "GET", "/v1/resources/{id}", REST_AUTH_BEARER, on_resource_get, NULL },
        { "DELETE", "/v1/resources/{id}", REST_AUTH_BEARER, on_resource_delete, NULL },
        { "POST", "/v1/resources/{id}/actions", REST_AUTH_BEARER, on_resource_action, NULL },
        { "GET", "/v1/resources/{id}/volumes", REST_AUTH_BEARER, on_volumes_list, NULL },
        { "POST", "/v1/resources/{id}/volumes", REST_AUTH_BEARER, on_volume_attach, NULL },
        { "DELETE", "/v1/resources/{id}/volumes/{volume_id}", REST_AUTH_BEARER, on_volume_detach, NULL },
        { "GET", "/v1/operations/{id}", REST_AUTH_BEARER, on_operation_get, NULL },
        { "GET", "/v1/providers", REST_AUTH_BEARER, on_providers_list, NULL },
        { "POST", "/v1/providers", REST_AUTH_BEARER, on_provider_create, NULL },
        { "GET", "/v1/providers/{name}/inventory", REST_AUTH_BEARER, on_provider_inventory, NULL },
        { "POST", "/v1/providers/{name}/adopt", REST_AUTH_BEARER, on_provider_adopt, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
