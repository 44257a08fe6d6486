/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Open Service Broker face (/v2) for platforms that consume the
 * catalogue. Versions 2.13 to 2.17; a field a version does not define is
 * left out for that version (the table below), prices travel in
 * plan.metadata.costs as the OSB profile describes.
 */
#include "osb.h"

#include <stdarg.h>
#include <stdio.h>

#include "resources.h"

/* Which minor version introduced a field (2.x). */
typedef struct OsbField {
        const char *name;
        int since;
} OsbField;

static const OsbField service_fields[] = {
        { "instances_retrievable", 14 },
        { "bindings_retrievable", 14 },
        { "allow_context_updates", 16 },
};

static const OsbField plan_fields[] = {
        { "plan_updateable", 15 },
        { "maximum_polling_duration", 15 },
        { "maintenance_info", 15 },
        { "binding_rotatable", 17 },
};

static int osb_version(RestRequest *req, int *ret_minor, CbError *err) {
        const char *v = rest_header(req, "X-Broker-API-Version");
        int major, minor, n = 0;

        if (!v)
                return cb_error_set(err, CB_ERR_INVALID,
                                    "X-Broker-API-Version header is required (2.%d to 2.%d)", OSB_MIN_MINOR,
                                    OSB_MAX_MINOR);
        if (sscanf(v, "%d.%d%n", &major, &minor, &n) != 2 || v[n] || major != 2 || minor < OSB_MIN_MINOR ||
            minor > OSB_MAX_MINOR)
                return cb_error_set(err, CB_ERR_INVALID,
                                    "X-Broker-API-Version %s is not supported (2.%d to 2.%d)", v,
                                    OSB_MIN_MINOR, OSB_MAX_MINOR);
        *ret_minor = minor;
        return 0;
}

bool osb_version_ok(RestRequest *req, RestReply *reply, int *ret_minor) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;

        if (osb_version(req, ret_minor, &err) >= 0)
                return true;
        /* OSB answers a version it cannot serve with 412, not 400. */
        osb_fail(reply, 412, "PreconditionFailed", "%s", err.message);
        return false;
}

int osb_fail(RestReply *reply, unsigned status, const char *error, const char *fmt, ...) {
        char text[1024];
        va_list ap;
        json_t *body;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        body = json_pack("{s:s}", "description", text);
        if (body && error)
                json_object_set_new(body, "error", json_string(error));
        return rest_reply_json(reply, status, body);
}

int osb_fail_err(RestReply *reply, const CbError *err) {
        switch (err->kind) {
        case CB_ERR_POLICY_DENIED: {
                char text[1024] = "";
                size_t n = 0, i;
                json_t *v;
                json_array_foreach(err->violations, i, v) {
                        n += (size_t)snprintf(text + n, n < sizeof(text) ? sizeof(text) - n : 0,
                                              "%s%s (Art. %lld)", i ? "; " : "",
                                              json_string_value(json_object_get(v, "message")),
                                              (long long)json_integer_value(json_object_get(v, "article")));
                        if (n >= sizeof(text))
                                break;
                }
                return osb_fail(reply, 403, "PolicyDenied", "%s", text[0] ? text : err->message);
        }
        case CB_ERR_INVALID:
        case CB_ERR_MALFORMED_JSON:
        case CB_ERR_VALIDATION:
                return osb_fail(reply, 400, "BadRequest", "%s", err->message);
        case CB_ERR_FORBIDDEN:
                return osb_fail(reply, 403, "Forbidden", "%s", err->message);
        case CB_ERR_NOT_FOUND:
                return osb_fail(reply, 404, "NotFound", "%s", err->message);
        case CB_ERR_CONFLICT:
                return osb_fail(reply, 409, "Conflict", "%s", err->message);
        default:
                return osb_fail(reply, cb_error_http_status(err->kind), cb_error_code(err->kind), "%s",
                                err->message);
        }
}

bool osb_id_ok(const char *id) {
        size_t n = id ? strlen(id) : 0;
        if (n < 1 || n > 200)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
                      (id[i] >= '0' && id[i] <= '9') || strchr("-._~", id[i])))
                        return false;
        return true;
}

bool osb_accepts_incomplete(RestRequest *req) {
        return streq_ptr(rest_query(req, "accepts_incomplete"), "true");
}

void osb_actor_init(OsbActor *a, const CbCaller *platform, const char *department) {
        snprintf(a->department, sizeof(a->department), "%s", department);
        a->principal = (Principal){ .name = platform->principal->name,
                                    .department = a->department,
                                    .roles = CB_ROLE_DEPARTMENT | CB_ROLE_PLATFORM };
        a->caller = (CbCaller){ .principal = &a->principal, .face = "osb" };
}

int osb_instance_find(RestRequest *req, const char *iid, char ret_id[64], OsbActor *ret_actor) {
        char id[64], dep[RESOURCE_DEPARTMENT_MAX];
        int q = resources_find_by_key(req->manager->resources, &req->caller, iid, id, dep);
        if (q < 0)
                return q;
        memcpy(ret_id, id, 64);
        osb_actor_init(ret_actor, &req->caller, dep);
        return 0;
}

int osb_instance_load(RestRequest *req, const char *iid, OsbActor *ret_actor, Resource *ret, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        OsbActor actor = { 0 }; /* (cppcheck takes the init for a read of it) */
        int q = resources_record_by_key(req->manager->resources, &req->caller, iid, &res);
        if (q < 0)
                return q == -ENOENT ? q : -EIO;
        osb_actor_init(&actor, &req->caller, res.department);
        /* Refused: -EIO as before (a 500 with resources_get's error in err),
         * never -ENOENT, which the callers answer 404. */
        q = resources_may_read(&actor.caller, &res, err);
        if (q < 0)
                return -EIO;
        /* The actor points into itself: built again where it is kept. */
        osb_actor_init(ret_actor, &req->caller, res.department);
        *ret = res;
        res = (Resource){ 0 };
        return 0;
}

static bool field_in(const OsbField *fields, size_t n, const char *name, int minor) {
        for (size_t i = 0; i < n; i++)
                if (streq(fields[i].name, name))
                        return minor >= fields[i].since;
        return true;
}

/* fen -> yuan as a JSON real, exact for prices below 2^53 fen. */
static json_t *osb_costs(const json_t *price) {
        json_int_t fen = json_integer_value(json_object_get(price, "amount_fen"));
        const char *unit = json_string_value(json_object_get(price, "unit"));
        return json_pack("[{s:{s:f}, s:s}]", "amount", "cny", (double)fen / 100.0, "unit",
                         unit && streq(unit, "month") ? "MONTHLY" : "HOURLY");
}

static json_t *osb_plan(const json_t *svc, const json_t *plan, int minor) {
        const char *kind = json_string_value(json_object_get(json_object_get(plan, "spec"), "kind"));
        const json_t *price = json_object_get(plan, "price");
        json_t *p = json_pack("{s:O, s:O, s:O, s:b, s:{s:O, s:o, s:O}}", "id", json_object_get(plan, "id"),
                              "name", json_object_get(plan, "name"), "description",
                              json_object_get(plan, "description"), "free",
                              json_integer_value(json_object_get(price, "amount_fen")) == 0, "metadata",
                              "displayName", json_object_get(plan, "display_name"), "costs", osb_costs(price),
                              "spec", json_object_get(plan, "spec"));
        if (!p)
                return NULL;
        /* The broker binds VMs (access details: an SSH key pair), whatever
         * the service says of its other plans. */
        if (streq_ptr(json_string_value(json_object_get(svc, "driver")), "libvirt") &&
            (!kind || streq(kind, "vm")))
                json_object_set_new(p, "bindable", json_true());
        /* A plan change is a resize (resize.h): policy-checked like a new order. */
        if (field_in(plan_fields, ELEMENTSOF(plan_fields), "plan_updateable", minor))
                json_object_set_new(p, "plan_updateable", json_true());
        if (field_in(plan_fields, ELEMENTSOF(plan_fields), "maximum_polling_duration", minor))
                json_object_set_new(p, "maximum_polling_duration", json_integer(3600));
        return p;
}

static json_t *osb_service(const json_t *svc, int minor) {
        json_t *plans = json_array(), *s;
        size_t i;
        json_t *plan;

        json_array_foreach(json_object_get(svc, "plans"), i, plan)
                json_array_append_new(plans, osb_plan(svc, plan, minor));
        s = json_pack("{s:O, s:O, s:O, s:O, s:O, s:b, s:{s:O, s:O, s:O, s:O, s:O, s:I}, s:o}", "id",
                      json_object_get(svc, "id"), "name", json_object_get(svc, "name"), "description",
                      json_object_get(svc, "description"), "tags", json_object_get(svc, "tags"), "bindable",
                      json_object_get(svc, "bindable"), "plan_updateable", 1, "metadata", "displayName",
                      json_object_get(svc, "display_name"), "longDescription",
                      json_object_get(svc, "description"), "category", json_object_get(svc, "category"),
                      "secureControllable", json_object_get(svc, "secure_controllable"), "maxProtectionLevel",
                      json_object_get(svc, "max_protection_level"), "catalogRevision",
                      json_integer_value(json_object_get(svc, "revision")), "plans", plans);
        if (!s)
                return NULL;
        if (field_in(service_fields, ELEMENTSOF(service_fields), "instances_retrievable", minor)) {
                /* GET of instances and bindings is served from 2.14. */
                json_object_set_new(s, "instances_retrievable", json_true());
                json_object_set_new(s, "bindings_retrievable", json_true());
        }
        if (field_in(service_fields, ELEMENTSOF(service_fields), "allow_context_updates", minor))
                json_object_set_new(s, "allow_context_updates", json_false());
        return s;
}

static int on_osb_catalog(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *list = NULL, *out, *svc;
        size_t i;
        int minor = 0, r;

        if (!osb_version_ok(req, reply, &minor))
                return 0;
        r = catalog_list_published(req->manager->catalog, &list);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the catalogue");
        out = json_array();
        json_array_foreach(list, i, svc) json_array_append_new(out, osb_service(svc, minor));
        json_decref(list);
        return rest_reply_json(reply, 200, json_pack("{s:o}", "services", out));
}

const RestRoute osb_routes[] = {
        { "GET", "/v2/catalog", REST_AUTH_OSB, on_osb_catalog, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
