/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1: health, identity and the catalogue. Parse, call the core, reply. */
#include "rest.h"

#include <stdio.h>
#include <time.h>

#include "audit.h"

/* Cheap on purpose (no query): load balancers and watchdogs call it often.
 * An open store is always migrated to this build's latest schema. */
static int on_health(RestRequest *req, RestReply *reply, CbError *err) {
        Manager *m = req->manager;
        AuditState as = audit_trail_state(m->audit);
        char audit[600];
        uint64_t now;
        (void)err;

        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        /* "failed: ..." tells a monitor why every change gets 503. */
        if (as == AUDIT_STATE_FAILED)
                snprintf(audit, sizeof(audit), "failed: %s", audit_trail_failure(m->audit));
        else
                snprintf(audit, sizeof(audit), "%s", audit_state_to_string(as));
        return rest_reply_json(reply, 200,
                               json_pack("{s:s, s:s, s:I, s:i, s:s, s:s, s:s?}", "status",
                                         as == AUDIT_STATE_FAILED ? "degraded" : "ok", "version", CB_VERSION,
                                         "uptime_s", (json_int_t)((now - m->started_usec) / 1000000ULL),
                                         "schema_version", store_latest_version(), "bus",
                                         m->bus ? "connected" : "none", "audit", audit, "audit_incident",
                                         m->audit_incident[0] ? m->audit_incident : NULL));
}

static int on_whoami(RestRequest *req, RestReply *reply, CbError *err) {
        (void)err;
        return rest_reply_json(reply, 200, principal_to_json(req->caller.principal));
}

const RestRoute rest_core_routes[] = {
        { "GET", "/v1/health", REST_AUTH_NONE, on_health, NULL },
        { "GET", "/v1/whoami", REST_AUTH_BEARER, on_whoami, NULL },
        { NULL, NULL, 0, NULL, NULL },
};

/* The published catalogue is the hottest path: serve one prepared response,
 * rebuilt only when the catalogue changes. */
static int on_catalog(RestRequest *req, RestReply *reply, CbError *err) {
        Catalog *cat = req->manager->catalog;
        RestServer *srv = req->manager->rest;
        uint64_t gen = catalog_generation(cat);
        const char *json, *etag, *inm;
        size_t len;
        struct MHD_Response *resp;
        int r;

        r = catalog_published(cat, &json, &len, &etag);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the catalogue: %s", strerror(-r));

        inm = rest_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
        if (inm && streq(inm, etag)) {
                resp = rest_cache_get(srv, REST_CACHE_CATALOG_NOT_MODIFIED, gen);
                if (!resp) {
                        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
                        if (!resp)
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
                        rest_cache_put(srv, REST_CACHE_CATALOG_NOT_MODIFIED, gen, resp);
                }
                reply->status = MHD_HTTP_NOT_MODIFIED;
                reply->response = resp;
                return 0;
        }

        resp = rest_cache_get(srv, REST_CACHE_CATALOG, gen);
        if (!resp) {
                resp = MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
                if (!resp)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
                rest_cache_put(srv, REST_CACHE_CATALOG, gen, resp);
        }
        reply->status = 200;
        reply->response = resp;
        return 0;
}

static int on_services_list(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *list = NULL;
        int r = catalog_list_all(req->manager->catalog, &req->caller, &list, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, json_pack("{s:o}", "services", list));
}

static int parse_revision(RestRequest *req, unsigned *ret, CbError *err) {
        const char *s = rest_query(req, "revision");
        char *end;
        unsigned long v;

        *ret = 0;
        if (!s)
                return 0;
        errno = 0;
        v = strtoul(s, &end, 10);
        /* Digits only: strtoul would also take a sign or leading blanks ("?revision=+1" is " 1"). */
        if (errno || *end || end == s || v == 0 || v > 1000000 || s[0] < '0' || s[0] > '9')
                return cb_error_set_field(err, CB_ERR_INVALID, "revision",
                                          "revision: '%s' is not a positive integer", s);
        *ret = (unsigned)v;
        return 0;
}

static int on_service_get(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *svc = NULL;
        unsigned revision;
        int r;

        r = parse_revision(req, &revision, err);
        if (r < 0)
                return r;
        r = catalog_get(req->manager->catalog, &req->caller, req->params[0], revision, &svc, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, svc);
}

static int on_service_create(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *doc = NULL, *svc = NULL;
        int r;

        r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = catalog_create(req->manager->catalog, &req->caller, doc, &svc, err);
        json_decref(doc);
        if (r < 0)
                return r;
        snprintf(reply->location, sizeof(reply->location), "/v1/catalog/services/%s",
                 json_string_value(json_object_get(svc, "id")));
        return rest_reply_json(reply, 201, svc);
}

static int on_service_update(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *doc = NULL, *svc = NULL;
        int r;

        r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = catalog_update(req->manager->catalog, &req->caller, req->params[0], doc, &svc, err);
        json_decref(doc);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, svc);
}

typedef int (*CatalogAction)(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err);

typedef struct ActionRoute {
        CatalogAction fn;
} ActionRoute;

static const ActionRoute act_submit = { catalog_submit };
static const ActionRoute act_approve = { catalog_approve };
static const ActionRoute act_deprecate = { catalog_deprecate };
static const ActionRoute act_retire = { catalog_retire };

/* The life-cycle verbs take no body; one sent anyway must at least be JSON. */
static int on_service_action(RestRequest *req, RestReply *reply, CbError *err) {
        const ActionRoute *a = req->route->data;
        json_t *svc = NULL;
        int r;

        if (req->body_len > 0) {
                json_t *ignored = NULL;
                r = rest_body_json(req, &ignored, err);
                if (r < 0)
                        return r;
                json_decref(ignored);
        }
        r = a->fn(req->manager->catalog, &req->caller, req->params[0], &svc, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, svc);
}

const RestRoute rest_catalog_routes[] = {
        { "GET", "/v1/catalog", REST_AUTH_BEARER, on_catalog, NULL },
        { "GET", "/v1/catalog/services", REST_AUTH_BEARER, on_services_list, NULL },
        { "POST", "/v1/catalog/services", REST_AUTH_BEARER, on_service_create, NULL },
        { "GET", "/v1/catalog/services/{id}", REST_AUTH_BEARER, on_service_get, NULL },
        { "PUT", "/v1/catalog/services/{id}", REST_AUTH_BEARER, on_service_update, NULL },
        { "POST", "/v1/catalog/services/{id}/submit", REST_AUTH_BEARER, on_service_action, &act_submit },
        { "POST", "/v1/catalog/services/{id}/approve", REST_AUTH_BEARER, on_service_action, &act_approve },
        { "POST", "/v1/catalog/services/{id}/deprecate", REST_AUTH_BEARER, on_service_action,
          &act_deprecate },
        { "POST", "/v1/catalog/services/{id}/retire", REST_AUTH_BEARER, on_service_action, &act_retire },
        { NULL, NULL, 0, NULL, NULL },
};
