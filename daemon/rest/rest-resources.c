/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1: resources, operations and providers. Parse, call the core, reply. */
#include "rest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "adopt.h"
#include "attachments.h"
#include "bindings.h"
#include "resize.h"
#include "json-util.h"
#include "providers.h"
#include "resources.h"
#include "rest-records.h"
#include "vm-guest.h"

/* A ticket's answer once its operation has had its chance to end: 201 for a
 * resource that is ready, 200 for one deleted, 202 (under way, or failed:
 * the ticket's state and the operation say which) otherwise. */
static unsigned ticket_status(const ResourceTicket *t, bool deleting) {
        if (!deleting && t->state == RESOURCE_ACTIVE)
                return 201;
        if (deleting && t->state == RESOURCE_DELETED)
                return 200;
        return 202;
}

typedef struct TicketWait {
        RestAsync *async;
        Resources *rs;
        ResourceTicket t;
        bool deleting;
} TicketWait;

static void ticket_settled(const char *id, const Resource *settled, void *userdata) {
        _cleanup_(resource_done) Resource res = { 0 };
        TicketWait *w = userdata;

        /* The record says what the client gets, also after the wait ran out.
         * A held answer skips the batch's hold (rest.c): a change whose
         * commit failed leaves no record, and must not be answered 202. */
        if (settled) {
                w->t.state = settled->state;
        } else if (resources_record(w->rs, id, &res) < 0) {
                CbError err = CB_ERROR_INIT;
                cb_error_set(&err, CB_ERR_INTERNAL, "the change to resource '%s' could not be read back", id);
                rest_async_fail(w->async, &err);
                cb_error_clear(&err);
                free(w);
                return;
        } else {
                w->t.state = res.state;
        }
        rest_async_complete(w->async, ticket_status(&w->t, w->deleting), rest_ticket_json(&w->t));
        free(w);
}

/* The answer to an order or a deletion: 202 and its ticket at once, as
 * always; or, when the client sent "Prefer: wait=N" (RFC 7240), held until
 * the operation ended or N seconds passed, then as ticket_status() says, so
 * that a client needs no GET to learn that its database is ready. */
static int reply_ticket(RestRequest *req, RestReply *reply, ResourceTicket *t, bool deleting) {
        Resources *rs = req->manager->resources;
        unsigned wait_s = rest_prefer_wait(req);
        TicketWait *w;

        if (wait_s == 0)
                return rest_reply_json(reply, 202, rest_ticket_json(t));
        if (t->state != RESOURCE_PROVISIONING && t->state != RESOURCE_DEPROVISIONING)
                return rest_reply_json(reply, ticket_status(t, deleting), rest_ticket_json(t));
        w = calloc(1, sizeof(*w));
        if (!w)
                return rest_reply_json(reply, 202, rest_ticket_json(t));
        *w = (TicketWait){ .async = rest_async_handle(req), .rs = rs, .t = *t, .deleting = deleting };
        if (resources_wait_settled(rs, t->id, wait_s * 1000, true, ticket_settled, w) < 0) {
                free(w);
                return rest_reply_json(reply, 202, rest_ticket_json(t));
        }
        rest_async_set_location(w->async, reply->location);
        rest_suspend(req);
        return REST_ASYNC;
}

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
        return reply_ticket(req, reply, &t, false);
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
        json_t *o = rest_resource_json(&res);
        /* A VM's addresses as last read (GET .../addresses reads them now). */
        if (o && res.kind == RESOURCE_KIND_VM) {
                _cleanup_(vm_address_list_freep) VmAddressList *l = NULL;
                json_t *a;
                r = vm_addresses_stored(req->manager->store, res.id, &l, err);
                if (r < 0 || !(a = rest_vm_address_list_json(l))) {
                        json_decref(o);
                        return r < 0 ? r : cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                }
                json_object_set_new(o, "addresses", a);
        }
        return rest_reply_json(reply, 200, o);
}

/* An unsigned query parameter: absent is def; else 1..max or a refusal naming it. */
static int query_uint(RestRequest *req, const char *name, unsigned def, unsigned max, unsigned *ret,
                      CbError *err) {
        const char *v = rest_query(req, name);
        char *end;
        unsigned long n;
        if (!v) {
                *ret = def;
                return 0;
        }
        errno = 0;
        n = strtoul(v, &end, 10);
        if (!*v || *end || errno || v[0] == '-' || v[0] == '+' || n < 1 || n > max)
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: must be a number 1..%u", name,
                                          max);
        *ret = (unsigned)n;
        return 0;
}

/* A guest read's answer: v, the serialized record (NULL: no memory while
 * there was one), or the core's refusal when there was none. */
static void guest_answer(RestAsync *a, json_t *v, bool had_answer, const CbError *err) {
        _cleanup_(cb_error_clear) CbError oom = CB_ERROR_INIT;
        if (v) {
                rest_async_complete(a, 200, v);
                return;
        }
        if (had_answer)
                cb_error_set(&oom, CB_ERR_INTERNAL, "out of memory");
        rest_async_fail(a, had_answer ? &oom : err);
}

/* The tail of the serial console, read on a worker while the request waits. */
static void guest_done(const VmConsole *answer, const CbError *err, void *userdata) {
        guest_answer(userdata, answer ? rest_vm_console_json(answer) : NULL, answer, err);
}

static void addresses_done(const VmAddressRead *answer, const CbError *err, void *userdata) {
        guest_answer(userdata, answer ? rest_vm_address_read_json(answer) : NULL, answer, err);
}

static int on_resource_console(RestRequest *req, RestReply *reply, CbError *err) {
        unsigned kib, lines;
        RestAsync *a;
        int r;
        (void)reply;

        r = query_uint(req, "kib", VM_CONSOLE_DEFAULT_KIB, VM_CONSOLE_MAX_KIB, &kib, err);
        if (r >= 0)
                r = query_uint(req, "lines", 0, VM_CONSOLE_MAX_LINES, &lines, err);
        if (r >= 0) /* refusals are answered at once, before suspending */
                r = vm_console_check(req->manager->resources, &req->caller, req->params[0], kib, lines, err);
        if (r < 0)
                return r;
        a = rest_suspend(req);
        r = vm_console(req->manager->resources, &req->caller, req->params[0], kib, lines, guest_done, a, err);
        if (r < 0) {
                rest_async_fail(a, err);
                cb_error_clear(err);
        }
        return REST_ASYNC;
}

/* The addresses, read now from the provider (and kept for the record). */
static int on_resource_addresses(RestRequest *req, RestReply *reply, CbError *err) {
        RestAsync *a;
        int r;
        (void)reply;

        r = vm_addresses_check(req->manager->resources, &req->caller, req->params[0], err);
        if (r < 0)
                return r;
        a = rest_suspend(req);
        r = vm_addresses_refresh(req->manager->resources, &req->caller, req->params[0], addresses_done, a,
                                 err);
        if (r < 0) {
                rest_async_fail(a, err);
                cb_error_clear(err);
        }
        return REST_ASYNC;
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
        return reply_ticket(req, reply, &t, true);
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

/* {"plan_id"?, "parameters"?}: at least one (resources_update(), resize.h). */
static int on_resource_resize(RestRequest *req, RestReply *reply, CbError *err) {
        static const char *const fields[] = { "plan_id", "parameters", NULL };
        const char *plan_id = NULL;
        const json_t *params;
        json_t *body = NULL;
        ResourceTicket t;
        int r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_string(body, "plan_id", false, 64, &plan_id, err);
        params = json_object_get(body, "parameters");
        if (r >= 0 && params && !json_is_object(params))
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "parameters",
                                       "parameters: must be a JSON object");
        if (r >= 0)
                r = resources_update(req->manager->resources, &req->caller, req->params[0], plan_id, params,
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
        _cleanup_(volume_attachment_list_done) VolumeAttachmentList list = { 0 };
        int r = resources_volume_attachments(req->manager->resources, &req->caller, req->params[0], &list,
                                             err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200,
                               json_pack("{s:o}", "volumes", rest_volume_attachment_list_json(&list)));
}

static int on_operations_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(operation_list_done) OperationList list = { 0 };
        char next[PAGE_TOKEN_MAX];
        Page page;
        int r = rest_page(req, &page, err);
        if (r >= 0)
                r = operations_list(req->manager->resources, &req->caller, rest_query(req, "kind"),
                                    rest_query(req, "state"), rest_query(req, "resource_id"), &page, &list,
                                    next, err);
        if (r < 0)
                return r;
        json_t *a = rest_operations_json(&list);
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_page(reply, "operations", a, next);
}

static int on_operation_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(operation_done) Operation op = { 0 };
        int r = operations_get(req->manager->resources, &req->caller, req->params[0], &op, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_operation_json(&op));
}

static int on_providers_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(provider_list_done) ProviderList list = { 0 };
        int r = providers_list(req->manager->providers, &req->caller, &list, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, json_pack("{s:o}", "providers", rest_provider_list_json(&list)));
}

static int on_provider_create(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(provider_record_done) ProviderRecord rec = { 0 };
        json_t *body = NULL;
        int r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        r = providers_create(req->manager->providers, &req->caller, body, &rec, err);
        json_decref(body);
        if (r < 0)
                return r;
        snprintf(reply->location, sizeof(reply->location), "/v1/providers/%s", rec.name);
        return rest_reply_json(reply, 201, rest_provider_json(&rec));
}

static void inventory_done(Inventory *inventory, const CbError *err, void *userdata) {
        _cleanup_(inventory_freep) Inventory *inv = inventory;
        RestAsync *a = userdata;
        json_t *body;

        if (!inv) {
                rest_async_fail(a, err);
                return;
        }
        body = rest_inventory_json(inv);
        if (body) {
                rest_async_complete(a, 200, body);
                return;
        }
        _cleanup_(cb_error_clear) CbError oom = CB_ERROR_INIT;
        cb_error_set(&oom, CB_ERR_INTERNAL, "out of memory");
        rest_async_fail(a, &oom);
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

/* 202 at once, like an order: the adopt operation stamps the domain on a
 * worker (follow it at /v1/operations/{operation_id}). */
static int on_provider_adopt(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        ResourceTicket t;
        int r;

        r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        r = resources_adopt(req->manager->resources, &req->caller, req->params[0], body, &t, err);
        if (r < 0)
                return r;
        snprintf(reply->location, sizeof(reply->location), "/v1/resources/%s", t.id);
        return rest_reply_json(reply, 202, rest_ticket_json(&t));
}

/* ---- bindings of service resources (bindings.h) ---- */

static void binding_answered(const ServiceBinding *b, const CbError *err, void *userdata) {
        RestAsync *a = userdata;
        if (!b) {
                rest_async_fail(a, err);
                return;
        }
        if (b->state == BINDING_FAILED && err) {
                rest_async_fail(a, err);
                return;
        }
        /* 201 bound (or unbound) at once, 202 while the provider is at it. */
        rest_async_complete(a,
                            b->state == BINDING_CREATING || b->state == BINDING_UNBINDING ? 202
                            : b->state == BINDING_UNBOUND                                 ? 200
                                                                                          : 201,
                            rest_service_binding_json(b));
}

static int on_binding_create(RestRequest *req, RestReply *reply, CbError *err) {
        static const char *const fields[] = { "binding_id", "parameters", NULL };
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        const char *key = NULL;
        bool pending = false;
        RestAsync *a;
        int r;

        r = rest_body_json(req, &body, err);
        if (r < 0)
                return r;
        r = json_check_object(body, fields, err);
        if (r >= 0)
                r = json_get_string(body, "binding_id", false, 200, &key, err);
        if (r < 0)
                return r;
        a = rest_suspend(req);
        r = resource_bind(req->manager->resources, &req->caller, req->params[0], key,
                          json_object_get(body, "parameters"), NULL, binding_answered, a, &b, &pending, err);
        if (r < 0) {
                rest_async_fail(a, err);
                cb_error_clear(err);
        } else if (!pending)
                rest_async_complete(a, b.state == BINDING_CREATING ? 202 : 200,
                                    rest_service_binding_json(&b));
        (void)reply;
        return REST_ASYNC;
}

static int on_bindings_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(service_binding_list_freep) ServiceBindingList *list = NULL;
        int r = resource_bindings_list(req->manager->resources, &req->caller, req->params[0], &list, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200,
                               json_pack("{s:o}", "bindings", rest_service_binding_list_json(list)));
}

static int on_binding_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        int r = resource_binding_get(req->manager->resources, &req->caller, req->params[0], req->params[1],
                                     false, &b, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_service_binding_json(&b));
}

static int on_binding_delete(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        bool pending = false;
        RestAsync *a;
        int r;
        (void)reply;

        a = rest_suspend(req);
        r = resource_unbind(req->manager->resources, &req->caller, req->params[0], req->params[1], false,
                            binding_answered, a, &b, &pending, err);
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
        { "POST", "/v1/resources/{id}/resize", REST_AUTH_BEARER, on_resource_resize, NULL },
        { "DELETE", "/v1/resources/{id}/volumes/{volume_id}", REST_AUTH_BEARER, on_volume_detach, NULL },
        { "GET", "/v1/resources/{id}/console", REST_AUTH_BEARER, on_resource_console, NULL },
        { "POST", "/v1/resources/{id}/bindings", REST_AUTH_BEARER, on_binding_create, NULL },
        { "GET", "/v1/resources/{id}/bindings", REST_AUTH_BEARER, on_bindings_list, NULL },
        { "GET", "/v1/resources/{id}/bindings/{binding_id}", REST_AUTH_BEARER, on_binding_get, NULL },
        { "DELETE", "/v1/resources/{id}/bindings/{binding_id}", REST_AUTH_BEARER, on_binding_delete, NULL },
        { "GET", "/v1/resources/{id}/addresses", REST_AUTH_BEARER, on_resource_addresses, NULL },
        { "GET", "/v1/operations", REST_AUTH_BEARER, on_operations_list, NULL },
        { "GET", "/v1/operations/{id}", REST_AUTH_BEARER, on_operation_get, NULL },
        { "GET", "/v1/providers", REST_AUTH_BEARER, on_providers_list, NULL },
        { "POST", "/v1/providers", REST_AUTH_BEARER, on_provider_create, NULL },
        { "GET", "/v1/providers/{name}/inventory", REST_AUTH_BEARER, on_provider_inventory, NULL },
        { "POST", "/v1/providers/{name}/adopt", REST_AUTH_BEARER, on_provider_adopt, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
