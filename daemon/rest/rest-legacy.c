/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1: the legacy register (Art. 35). Parse, call the core, reply. */
#include "rest.h"

#include <stdio.h>

#include "legacy.h"
#include "rest-records.h"

static int on_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(legacy_list_done) LegacyList list = { 0 };
        char next[PAGE_TOKEN_MAX];
        Page page;
        int r = rest_page(req, &page, err);
        if (r >= 0)
                r = legacy_list(req->manager->legacy, &req->caller, rest_query(req, "department"),
                                rest_query(req, "wave"), &page, &list, next, err);
        if (r < 0)
                return r;
        return rest_reply_page(reply, "legacy_systems", rest_legacy_list_json(&list), next);
}

static int on_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(legacy_record_done) LegacyRecord v = { 0 };
        int r = legacy_get(req->manager->legacy, &req->caller, req->params[0], &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_legacy_json(&v));
}

static int on_create(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(legacy_record_done) LegacyRecord v = { 0 };
        json_t *doc = NULL;
        int r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = legacy_create(req->manager->legacy, &req->caller, doc, &v, err);
        json_decref(doc);
        if (r < 0)
                return r;
        snprintf(reply->location, sizeof(reply->location), "/v1/legacy-systems/%s", v.system_id);
        return rest_reply_json(reply, 201, rest_legacy_json(&v));
}

typedef int (*LegacyBodyFn)(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body,
                            LegacyRecord *ret, CbError *err);

/* A route whose handler takes the id and a body: route->data is the core function. */
static int on_with_body(RestRequest *req, RestReply *reply, CbError *err) {
        LegacyBodyFn fn = (LegacyBodyFn)req->route->data;
        _cleanup_(legacy_record_done) LegacyRecord v = { 0 };
        json_t *doc = NULL;
        int r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = fn(req->manager->legacy, &req->caller, req->params[0], doc, &v, err);
        json_decref(doc);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_legacy_json(&v));
}

static int on_assess(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(legacy_record_done) LegacyRecord v = { 0 };
        int r = legacy_assess(req->manager->legacy, &req->caller, req->params[0], &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 202, rest_legacy_json(&v));
}

static int on_migrate(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(legacy_record_done) LegacyRecord v = { 0 };
        int r = legacy_migrate(req->manager->legacy, &req->caller, req->params[0], &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 202, rest_legacy_json(&v));
}

/* 202: the source domains are undefined on a worker; the state follows. */
static int on_decommission(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(legacy_record_done) LegacyRecord v = { 0 };
        int r = 0;
        if (req->body_len > 0)
                r = rest_body_json(req, &body, err);
        if (r >= 0)
                r = legacy_decommission(req->manager->legacy, &req->caller, req->params[0], body, &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 202, rest_legacy_json(&v));
}

static int on_summary(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(legacy_summary_done) LegacySummary v = { 0 };
        int r = legacy_summary(req->manager->legacy, &req->caller, rest_query(req, "department"), &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_legacy_summary_json(&v));
}

const RestRoute rest_legacy_routes[] = {
        { "GET", "/v1/migrations/summary", REST_AUTH_BEARER, on_summary, NULL },
        { "GET", "/v1/legacy-systems", REST_AUTH_BEARER, on_list, NULL },
        { "POST", "/v1/legacy-systems", REST_AUTH_BEARER, on_create, NULL },
        { "GET", "/v1/legacy-systems/{id}", REST_AUTH_BEARER, on_get, NULL },
        { "PUT", "/v1/legacy-systems/{id}", REST_AUTH_BEARER, on_with_body, (const void *)legacy_update },
        { "POST", "/v1/legacy-systems/{id}/transition", REST_AUTH_BEARER, on_with_body,
          (const void *)legacy_transition },
        { "POST", "/v1/legacy-systems/{id}/assess", REST_AUTH_BEARER, on_assess, NULL },
        { "POST", "/v1/legacy-systems/{id}/migrate", REST_AUTH_BEARER, on_migrate, NULL },
        { "POST", "/v1/legacy-systems/{id}/decommission", REST_AUTH_BEARER, on_decommission, NULL },
        { "POST", "/v1/legacy-systems/{id}/plan", REST_AUTH_BEARER, on_with_body, (const void *)legacy_plan },
        { NULL, NULL, 0, NULL, NULL },
};
