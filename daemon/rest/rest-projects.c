/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1: approvals, projects, milestones, the policy engine and the audit trail. */
#include "rest.h"

#include <stdio.h>

#include "audit.h"
#include "projects.h"
#include "rest-records.h"

static int body_or_fail(RestRequest *req, json_t **ret, CbError *err) {
        return rest_body_json(req, ret, err);
}

static int on_approval_submit(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(approval_record_freep) ApprovalRecord *rec = NULL;
        json_t *env = NULL, *out;
        int r = body_or_fail(req, &env, err);
        if (r < 0)
                return r;
        r = approvals_import(req->manager->projects, &req->caller, env, &rec, err);
        json_decref(env);
        if (r < 0)
                return r;
        out = rest_approval_receipt_json(rec);
        if (!out)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        snprintf(reply->location, sizeof(reply->location), "/v1/projects/%s", rec->project_id);
        return rest_reply_json(reply, 201, out);
}

static int on_approvals_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(approval_list_done) ApprovalList list = { 0 };
        char next[PAGE_TOKEN_MAX];
        json_t *v;
        Page page;
        int r = rest_page(req, &page, err);
        if (r >= 0)
                r = approvals_list(req->manager->projects, &req->caller, rest_query(req, "department"), &page,
                                   &list, next, err);
        if (r < 0)
                return r;
        v = rest_approval_list_json(&list);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_page(reply, "approvals", v, next);
}

static int on_approval_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(approval_record_freep) ApprovalRecord *rec = NULL;
        json_t *v;
        int r = approvals_get(req->manager->projects, &req->caller, req->params[0], &rec, err);
        if (r < 0)
                return r;
        v = rest_approval_json(rec);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_json(reply, 200, v);
}

static int on_projects_list(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(project_list_done) ProjectList list = { 0 };
        char next[PAGE_TOKEN_MAX];
        json_t *v;
        Page page;
        int r = rest_page(req, &page, err);
        if (r >= 0)
                r = projects_list(req->manager->projects, &req->caller, rest_query(req, "department"), &page,
                                  &list, next, err);
        if (r < 0)
                return r;
        v = rest_project_list_json(&list);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_page(reply, "projects", v, next);
}

static int reply_project(RestReply *reply, unsigned status, const Project *pr, CbError *err) {
        json_t *v = rest_project_json(pr);
        if (!v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_json(reply, status, v);
}

static int on_project_get(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(project_freep) Project *pr = NULL;
        int r = projects_get(req->manager->projects, &req->caller, req->params[0], &pr, err);
        if (r < 0)
                return r;
        return reply_project(reply, 200, pr, err);
}

static int on_milestone(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(project_freep) Project *pr = NULL;
        json_t *body = NULL;
        int r = body_or_fail(req, &body, err);
        if (r < 0)
                return r;
        r = projects_add_milestone(req->manager->projects, &req->caller, req->params[0], body, &pr, err);
        json_decref(body);
        if (r < 0)
                return r;
        return reply_project(reply, 201, pr, err);
}

static int on_project_status(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(project_freep) Project *pr = NULL;
        json_t *body = NULL;
        int r = body_or_fail(req, &body, err);
        if (r < 0)
                return r;
        r = projects_set_status(req->manager->projects, &req->caller, req->params[0], req->route->data, body,
                                &pr, err);
        json_decref(body);
        if (r < 0)
                return r;
        return reply_project(reply, 200, pr, err);
}

static int on_policy_evaluate(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        json_t *body = NULL, *out;
        EvalRequest er;
        int r = body_or_fail(req, &body, err);
        if (r < 0)
                return r;
        r = eval_request_from_json(body, NULL, &er, err);
        if (r >= 0)
                r = projects_evaluate(req->manager->projects, &req->caller, &er, 0, &ev, err);
        json_decref(body);
        if (r < 0)
                return r;
        out = rest_evaluation_json(&ev);
        if (!out)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return rest_reply_json(reply, 200, out);
}

/* Query strings become numbers here; who may read, and the ranges, are
 * the core's (audit_list, audit_trail_verify), shared with the bus. */
static int on_audit_list(RestRequest *req, RestReply *reply, CbError *err) {
        const char *after_s = rest_query(req, "after"), *limit_s = rest_query(req, "limit");
        long long after = 0, limit = 1000;
        _cleanup_(audit_list_done) AuditList list = { 0 };
        char *end;
        int r;

        if (after_s) {
                errno = 0;
                after = strtoll(after_s, &end, 10);
                if (errno || *end || end == after_s || after < 0)
                        return cb_error_set_field(err, CB_ERR_INVALID, "after",
                                                  "after: '%s' is not a sequence number", after_s);
        }
        if (limit_s) {
                errno = 0;
                limit = strtoll(limit_s, &end, 10);
                if (errno || *end || end == limit_s || limit < 1 || limit > AUDIT_LIST_MAX)
                        return cb_error_set_field(err, CB_ERR_INVALID, "limit", "limit: must be 1..%u",
                                                  AUDIT_LIST_MAX);
        }
        r = audit_list(req->manager->store, &req->caller, after, (unsigned)limit, &list, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, json_pack("{s:o}", "records", rest_audit_list_json(&list)));
}

static int on_audit_verify(RestRequest *req, RestReply *reply, CbError *err) {
        const char *anchor_s = rest_query(req, "anchor");
        AuditAnchor anchor;
        AuditVerifyResult v;
        int r;

        if (anchor_s && audit_anchor_parse(anchor_s, &anchor) < 0)
                return cb_error_set_field(
                        err, CB_ERR_INVALID, "anchor",
                        "anchor: '%s' is not SEQ:HASH (a record number and its 64 hex digits)", anchor_s);
        r = audit_trail_verify(req->manager->audit, req->manager->store, &req->caller,
                               anchor_s ? &anchor : NULL, &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, audit_verify_result_to_json(&v));
}

const RestRoute rest_projects_routes[] = {
        { "POST", "/v1/approvals", REST_AUTH_BEARER, on_approval_submit, NULL },
        { "GET", "/v1/approvals", REST_AUTH_BEARER, on_approvals_list, NULL },
        { "GET", "/v1/approvals/{no}", REST_AUTH_BEARER, on_approval_get, NULL },
        { "GET", "/v1/projects", REST_AUTH_BEARER, on_projects_list, NULL },
        { "GET", "/v1/projects/{id}", REST_AUTH_BEARER, on_project_get, NULL },
        { "POST", "/v1/projects/{id}/milestones", REST_AUTH_BEARER, on_milestone, NULL },
        { "POST", "/v1/projects/{id}/suspend", REST_AUTH_BEARER, on_project_status, "suspend" },
        { "POST", "/v1/projects/{id}/resume", REST_AUTH_BEARER, on_project_status, "resume" },
        { "POST", "/v1/projects/{id}/terminate", REST_AUTH_BEARER, on_project_status, "terminate" },
        { "POST", "/v1/policy/evaluate", REST_AUTH_BEARER, on_policy_evaluate, NULL },
        { "GET", "/v1/audit", REST_AUTH_BEARER, on_audit_list, NULL },
        { "GET", "/v1/audit/verify", REST_AUTH_BEARER, on_audit_verify, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
