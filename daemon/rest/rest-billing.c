/* SPDX-License-Identifier: Apache-2.0 */
/* REST /v1: billing statements for finance (docs/billing.md). Parse, call
 * the core, send its bytes as they are. */
#include "rest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "billing.h"
#include "rest-records.h"
#include "log.h"
#include "worker.h"

/*
 * A statement is streamed: a worker writes it into a pipe as it is rated
 * (billing_stream_write_fd), and the response reads the pipe as the client
 * takes it. The pipe's buffer is all that is in flight: a slow client slows
 * the worker, never the loop. When the pipe is empty the reader suspends
 * the connection and an event source on the pipe resumes it.
 */
typedef struct Export {
        unsigned refs; /* the response and the job; both let go on the loop */
        BillingStream *bs;
        int rfd, wfd;
        _Atomic int result; /* the job's, before it closes wfd */
        struct MHD_Connection *connection;
        RestServer *server;
        sd_event_source *readable;
        bool suspended, stopping;
        struct Export *next_suspended, *prev_suspended;
} Export;

/* Exports whose connection waits for the pipe (loop thread): libmicrohttpd
 * refuses to stop with a suspended connection, so rest_free() ends them. */
static Export *suspended_head;

static void suspended_unlink(Export *x) {
        if (!x->suspended)
                return;
        if (x->prev_suspended)
                x->prev_suspended->next_suspended = x->next_suspended;
        else
                suspended_head = x->next_suspended;
        if (x->next_suspended)
                x->next_suspended->prev_suspended = x->prev_suspended;
        x->next_suspended = x->prev_suspended = NULL;
        x->suspended = false;
}

void rest_billing_stop(void) {
        while (suspended_head) {
                Export *x = suspended_head;
                suspended_unlink(x);
                x->stopping = true;
                MHD_resume_connection(x->connection);
        }
}

static void export_unref(Export *x) {
        if (!x || --x->refs > 0)
                return;
        x->readable = sd_event_source_disable_unref(x->readable);
        if (x->rfd >= 0)
                close(x->rfd);
        if (x->wfd >= 0)
                close(x->wfd);
        billing_stream_free(x->bs);
        free(x);
}

static int export_job(void *userdata) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Export *x = userdata;
        int r = billing_stream_write_fd(x->bs, x->wfd, &err);

        if (r < 0)
                log_warning("billing export stopped: %s", err.message);
        atomic_store(&x->result, r);
        /* The reader sees the end once the write end is closed. */
        close(x->wfd);
        x->wfd = -1;
        return r;
}

static void export_done(int result, void *userdata) {
        (void)result;
        export_unref(userdata);
}

static int on_readable(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Export *x = userdata;
        (void)src, (void)fd, (void)revents;
        sd_event_source_set_enabled(x->readable, SD_EVENT_OFF);
        if (x->suspended) {
                suspended_unlink(x);
                rest_connection_resume(x->server, x->connection);
        }
        return 0;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max) {
        Export *x = cls;
        ssize_t n;
        (void)pos;

        if (x->stopping)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        n = read(x->rfd, buf, max);
        if (n > 0)
                return n;
        if (n == 0)
                return atomic_load(&x->result) < 0 ? MHD_CONTENT_READER_END_WITH_ERROR
                                                   : MHD_CONTENT_READER_END_OF_STREAM;
        if (errno != EAGAIN && errno != EINTR)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        /* Nothing yet: wait for the worker without spinning the loop. */
        if (sd_event_source_set_enabled(x->readable, SD_EVENT_ONESHOT) < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        x->suspended = true;
        x->next_suspended = suspended_head;
        if (suspended_head)
                suspended_head->prev_suspended = x;
        suspended_head = x;
        MHD_suspend_connection(x->connection);
        return 0;
}

static void export_response_free(void *cls) {
        Export *x = cls;
        suspended_unlink(x);
        /* The client went away or got everything: a worker still writing
         * gets EPIPE and stops. */
        x->readable = sd_event_source_disable_unref(x->readable);
        if (x->rfd >= 0)
                close(x->rfd);
        x->rfd = -1;
        export_unref(x);
}

static int on_statement(RestRequest *req, RestReply *reply, CbError *err) {
        const char *excel = rest_query(req, "excel");
        BillingRequest br = {
                .period = req->params[0],
                .format = rest_query(req, "format"),
                .department = rest_query(req, "department"),
        };
        Manager *m = req->manager;
        const BillingExport *h;
        Export *x;
        int fds[2], r;

        if (excel && !streq(excel, "0") && !streq(excel, "1"))
                return cb_error_set_field(err, CB_ERR_INVALID, "excel", "excel must be 0 or 1");
        br.excel = excel && streq(excel, "1");
        if (br.department && !*br.department)
                br.department = NULL;
        x = calloc(1, sizeof(*x));
        if (!x)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *x = (Export){ .refs = 1, .rfd = -1, .wfd = -1, .connection = req->connection, .server = m->rest };
        r = billing_stream_new(m->store, m->calendar, m->legacy, &req->caller, &br, (int64_t)time(NULL),
                               &x->bs, err);
        if (r >= 0)
                r = billing_stream_detach(x->bs, err);
        if (r >= 0 && pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
                r = cb_error_set(err, CB_ERR_INTERNAL, "cannot make a pipe: %s", strerror(errno));
        if (r < 0) {
                export_unref(x);
                return r;
        }
        x->rfd = fds[0];
        x->wfd = fds[1];
        if (sd_event_add_io(m->event, &x->readable, x->rfd, EPOLLIN, on_readable, x) < 0 ||
            sd_event_source_set_enabled(x->readable, SD_EVENT_OFF) < 0) {
                export_unref(x);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot watch the export's pipe");
        }
        reply->response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, export_read, x,
                                                            export_response_free);
        if (!reply->response) {
                export_unref(x);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        /* From here the response holds the first reference. */
        x->refs++;
        r = worker_submit(m->pool, export_job, export_done, x);
        if (r < 0) {
                x->refs--;
                close(x->wfd);
                x->wfd = -1;
                atomic_store(&x->result, r);
        }
        reply->response_owned = true;
        reply->status = 200;
        h = billing_stream_headers(x->bs);
        MHD_add_response_header(reply->response, MHD_HTTP_HEADER_CONTENT_TYPE, h->content_type);
        if (h->signature) {
                /* A closed month: finance checks a file it got by mail against these. */
                MHD_add_response_header(reply->response, "X-Content-SM3", h->sm3);
                MHD_add_response_header(reply->response, "X-Content-Signature", h->signature);
                MHD_add_response_header(reply->response, "X-Signature-Alg", h->alg);
                MHD_add_response_header(reply->response, "X-Signature-Key-Id", h->key_id);
        }
        return 0;
}

/* Closing renders the month on a worker: the connection waits (the loop
 * keeps serving) and gets the answer when the files are stored. */
static void close_answered(int r, const BillingClosing *closing, const CbError *err, void *userdata) {
        _cleanup_(cb_error_clear) CbError oom = CB_ERROR_INIT;
        RestAsync *a = userdata;
        json_t *v = r >= 0 ? rest_billing_closing_json(closing) : NULL;
        if (v)
                rest_async_complete(a, 200, v);
        else {
                if (r >= 0)
                        cb_error_set(&oom, CB_ERR_INTERNAL, "out of memory");
                rest_async_fail(a, r >= 0 ? &oom : err);
        }
}

static int on_close(RestRequest *req, RestReply *reply, CbError *err) {
        Manager *m = req->manager;
        _cleanup_(billing_closing_freep) BillingClosing *v = NULL;
        RestAsync *a;
        int r;

        /* A refusal or a month closed already answers right away; a close
         * on the worker answers through a (its done runs on a later loop
         * iteration, once the connection is suspended). */
        a = rest_async_handle(req);
        r = billing_close(m->store, m->pool, m->calendar, m->legacy, &req->caller, req->params[0],
                          (int64_t)time(NULL), &v, close_answered, a, err);
        if (r == 0) {
                rest_suspend(req);
                return REST_ASYNC;
        }
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_billing_closing_json(v));
}

static int on_adjustments(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(billing_adjustment_list_done) BillingAdjustmentList v = { 0 };
        int r = billing_adjustments_list(req->manager->store, &req->caller, req->params[0], &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_billing_adjustment_list_json(&v));
}

static int on_adjust(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(billing_adjustment_done) BillingAdjustment v = { 0 };
        json_t *doc = NULL;
        int r;

        r = rest_body_json(req, &doc, err);
        if (r < 0)
                return r;
        r = billing_adjust(req->manager->store, &req->caller, req->params[0], doc, &v, err);
        json_decref(doc);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 201, rest_billing_adjustment_json(&v));
}

static int on_adjustment_approve(RestRequest *req, RestReply *reply, CbError *err) {
        _cleanup_(billing_adjustment_done) BillingAdjustment v = { 0 };
        int r = billing_adjustment_approve(req->manager->store, &req->caller, req->params[0], req->params[1],
                                           &v, err);
        if (r < 0)
                return r;
        return rest_reply_json(reply, 200, rest_billing_adjustment_json(&v));
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
