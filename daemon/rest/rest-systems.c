/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1: the system directory (Art. 10) and security incidents (Art. 38).
 * Parse, call the core, reply. */
#include "rest.h"

#include <stdio.h>

#include "incidents.h"
#include "rest-records.h"
#include "systems.h"

static int on_systems_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(system_list_done) SystemList list = { 0 };
        char next[PAGE_TOKEN_MAX];
        json_t *v;
        Page page;
        int r = rest_page(req, &page, err);
        if (r >= 0)
                r = systems_list(req->manager->store, &req->caller, rest_query(req, "department"), &page,
                                 &list, next, err);
        if (r < 0)
                return r;
        v = rest_system_list_json(&list);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_page(reply, "systems", v, next);
}

/* 200 or 201 with the system, as the REST face shows it. */
static int reply_system(RestReply *reply, unsigned status, const System *sys, CbError *err) {
        json_t *v = rest_system_json(sys);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_json(reply, status, v);
}

static int on_system_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(system_freep) System *sys = NULL;
        int r = systems_get(req->manager->store, &req->caller, req->params[0], &sys, err);
        if (r < 0)
                return r;
        return reply_system(reply, 200, sys, err);
}

static int on_system_create(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(system_freep) System *sys = NULL;
        json_t *doc = NULL;
        int r;

        r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = systems_create(req->manager->store, &req->caller, doc, &sys, err);
        json_decref(doc);
        if (r < 0)
                return r;
        snprintf(reply->location, sizeof(reply->location), "/v1/systems/%s", sys->id);
        return reply_system(reply, 201, sys, err);
}

static int on_system_update(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(system_freep) System *sys = NULL;
        json_t *doc = NULL;
        int r;

        r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = systems_update(req->manager->store, &req->caller, req->params[0], doc, &sys, err);
        json_decref(doc);
        if (r < 0)
                return r;
        return reply_system(reply, 200, sys, err);
}

const RestRoute rest_systems_routes[] = {
        { "GET", "/v1/systems", REST_AUTH_BEARER, on_systems_list, NULL },
        { "POST", "/v1/systems", REST_AUTH_BEARER, on_system_create, NULL },
        { "GET", "/v1/systems/{id}", REST_AUTH_BEARER, on_system_get, NULL },
        { "PUT", "/v1/systems/{id}", REST_AUTH_BEARER, on_system_update, NULL },
        { NULL, NULL, 0, NULL, NULL },
};

static int on_incidents_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(incident_list_done) IncidentList list = { 0 };
        char next[PAGE_TOKEN_MAX];
        json_t *v;
        Page page;
        int r = rest_page(req, &page, err);
        if (r >= 0)
                r = incidents_list(req->manager->store, &req->caller, &page, &list, next, err);
        if (r < 0)
                return r;
        v = rest_incident_list_json(&list);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_page(reply, "incidents", v, next);
}

static int reply_incident(RestReply *reply, unsigned status, const Incident *inc, CbError *err) {
        json_t *v = rest_incident_json(inc);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_json(reply, status, v);
}

static int on_incident_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(incident_freep) Incident *inc = NULL;
        int r = incidents_get(req->manager->store, &req->caller, req->params[0], &inc, err);
        if (r < 0)
                return r;
        return reply_incident(reply, 200, inc, err);
}

static int on_incident_report(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(incident_freep) Incident *inc = NULL;
        json_t *doc = NULL;
        int r;

        r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = incidents_report(req->manager->store, &req->caller, doc, &inc, err);
        json_decref(doc);
        if (r < 0)
                return r;
        snprintf(reply->location, sizeof(reply->location), "/v1/incidents/%s", inc->id);
        return reply_incident(reply, 201, inc, err);
}

static int on_incident_record(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(incident_freep) Incident *inc = NULL;
        json_t *doc = NULL;
        int r;

        r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = incidents_add_record(req->manager->store, &req->caller, req->params[0], doc, &inc, err);
        json_decref(doc);
        if (r < 0)
                return r;
        return reply_incident(reply, 201, inc, err);
}

const RestRoute rest_incidents_routes[] = {
        { "GET", "/v1/incidents", REST_AUTH_BEARER, on_incidents_list, NULL },
        { "POST", "/v1/incidents", REST_AUTH_BEARER, on_incident_report, NULL },
        { "GET", "/v1/incidents/{id}", REST_AUTH_BEARER, on_incident_get, NULL },
        { "POST", "/v1/incidents/{id}/records", REST_AUTH_BEARER, on_incident_record, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
