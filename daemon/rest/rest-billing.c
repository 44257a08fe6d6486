/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1: billing statements for finance (docs/billing.md). Parse, call
 * the core, send its bytes as they are. */
#include "rest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing.h"

static int on_statement(RestRequest *req, RestReply *reply, CbError *err) {
        const char *excel = rest_query(req, "excel");
        BillingRequest br = {
                .period = req->params[0],
                .format = rest_query(req, "format"),
                .department = rest_query(req, "department"),
        };
        _cleanup_(billing_export_done) BillingExport e = { 0 };
        int r;

        if (excel && !streq(excel, "0") && !streq(excel, "1"))
                return cb_error_set_field(err, CB_ERR_INVALID, "excel", "excel must be 0 or 1");
        br.excel = excel && streq(excel, "1");
        if (br.department && !*br.department)
                br.department = NULL;
        r = billing_statement(req->manager->store, req->manager->calendar, req->manager->legacy, &req->caller,
                              &br, (int64_t)time(NULL), &e, err);
        if (r < 0)
                return r;
        reply->response = MHD_create_response_from_buffer(e.len, e.text, MHD_RESPMEM_MUST_FREE);
        if (!reply->response)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        e.text = NULL; /* the response frees it */
        reply->response_owned = true;
        reply->status = 200;
        MHD_add_response_header(reply->response, MHD_HTTP_HEADER_CONTENT_TYPE, e.content_type);
        if (e.signature) {
                /* A closed month: finance checks a file it got by mail against these. */
                MHD_add_response_header(reply->response, "X-Content-SM3", e.sm3);
                MHD_add_response_header(reply->response, "X-Content-Signature", e.signature);
                MHD_add_response_header(reply->response, "X-Signature-Alg", e.alg);
                MHD_add_response_header(reply->response, "X-Signature-Key-Id", e.key_id);
        }
        return 0;
}

static int on_close(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *v = NULL;
        int r = billing_close(req->manager->store, req->manager->calendar, req->manager->legacy, &req->caller,
                              req->params[0], (int64_t)time(NULL), &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, v);
}

static int on_adjustments(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *v = NULL;
        int r = billing_adjustments_list(req->manager->store, &req->caller, req->params[0], &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, v);
}

static int on_adjust(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *doc = NULL, *v = NULL;
        int r;

        r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = billing_adjust(req->manager->store, &req->caller, req->params[0], doc, &v, err);
        json_decref(doc);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 201, v);
}

static int on_adjustment_approve(RestRequest *req, RestReply *reply, CbError *err) {
        json_t *v = NULL;
        int r = billing_adjustment_approve(req->manager->store, &req->caller, req->params[0], req->params[1],
                                           &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, v);
}

const RestRoute rest_billing_routes[] = {
        { "GET", "/v1/billing/statements/{period}", REST_AUTH_BEARER, on_statement, NULL },
        { "POST", "/v1/billing/statements/{period}/close", REST_AUTH_BEARER, on_close, NULL },
        { "GET", "/v1/billing/statements/{period}/adjustments", REST_AUTH_BEARER, on_adjustments, NULL },
        { "POST", "/v1/billing/statements/{period}/adjustments", REST_AUTH_BEARER, on_adjust, NULL },
        { "POST", "/v1/billing/statements/{period}/adjustments/{id}/approve", REST_AUTH_BEARER,
          on_adjustment_approve, NULL },
        { NULL, NULL, 0, NULL, NULL },
};
