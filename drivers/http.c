/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The http driver: an Open Service Broker (v2.13-2.17) client. Every request
 * is an easy handle on one process-wide libcurl multi handle whose sockets
 * and timer are sd-event sources of the daemon's loop (attach_event), so no
 * call blocks and no thread is made. One request is one OSB round trip;
 * polling, retries and orphan mitigation are the caller's (the core knows
 * the plan, the record and the clock).
 *
 * What a provider sends is held to the protocol: an answer over max_body is
 * cut off, one that is not JSON, has a wrong type or misses a field is
 * DRIVER_FAILURE_MALFORMED with the field named, a provider that hangs or
 * drips runs into the request's time limit. Redirects are never followed;
 * https verifies the peer and its name (optionally against a CA file).
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/param.h> /* MIN */

#include "driver.h"
#include "log.h"

#define HTTP_DEFAULT_TIMEOUT_MS 30000U
#define HTTP_DEFAULT_MAX_BODY   (1024U * 1024U)
#define HTTP_RETRY_AFTER_MAX_S  3600U
#define HTTP_TOKEN_MAX          1024 /* an operation token longer than this is malformed */

typedef struct HttpCall HttpCall;

typedef struct HttpConn {
        DriverConn base; /* first: generic code finds the table here */
        char *url;       /* without a trailing '/' */
        char *username, *password, *api_version, *ca_file;
        unsigned timeout_ms;
        size_t max_body;
        HttpCall *calls; /* in flight, so close can cancel them */
} HttpConn;

typedef enum HttpKind {
        HTTP_CATALOG,
        HTTP_PROVISION,
        HTTP_UPDATE,
        HTTP_DEPROVISION,
        HTTP_LAST_OPERATION,
        HTTP_FETCH,
        HTTP_BIND,
        HTTP_UNBIND,
        HTTP_BINDING_FETCH,
} HttpKind;

struct HttpCall {
        HttpConn *conn;
        HttpCall *prev, *next;
        HttpKind kind;
        CURL *easy;
        struct curl_slist *headers;
        char *request_body;
        char *body;
        size_t len;
        bool too_large;
        unsigned retry_after_s;
        char error[CURL_ERROR_SIZE];
        DriverReplyFn done;
        void *userdata;
};

static struct {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        sd_event_source *kick; /* libcurl's "now": a defer source, see on_timer_change */
        bool curl_initialized;
} H;

static void http_check_done(void);

/* ---- libcurl's sockets and timer on sd-event ---- */

static int on_socket_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        int flags = 0, running = 0;
        (void)s;
        (void)userdata;
        if (revents & EPOLLIN)
                flags |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(H.multi, fd, flags, &running);
        http_check_done();
        return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        sd_event_source *src = socketp;
        uint32_t events = 0;
        (void)easy;
        (void)userp;

        if (what == CURL_POLL_REMOVE) {
                sd_event_source_disable_unref(src);
                curl_multi_assign(H.multi, fd, NULL);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;
        if (!src) {
                if (sd_event_add_io(H.event, &src, fd, events, on_socket_ready, NULL) < 0)
                        return -1;
                curl_multi_assign(H.multi, fd, src);
                return 0;
        }
        return sd_event_source_set_io_events(src, events) < 0 ? -1 : 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        int running = 0;
        (void)s;
        (void)usec;
        (void)userdata;
        curl_multi_socket_action(H.multi, CURL_SOCKET_TIMEOUT, 0, &running);
        http_check_done();
        return 0;
}

static int on_kick(sd_event_source *s, void *userdata) {
        return on_timer(s, 0, userdata);
}

/* libcurl asks for a wake-up in timeout_ms (-1: none); it must not be run
 * from here, so the timer only is armed. Each request to a provider starts
 * with 0 ms ("now"): that is the kick, a defer source run on the next
 * iteration as the timer at now was, without moving the timerfd to now and
 * back (two timerfd_settime, a read and a wake-up of epoll a request). One
 * of the two at most is on: the latest wish replaces the one before. */
static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
        uint64_t now;
        (void)multi;
        (void)userp;
        if (timeout_ms <= 0 && sd_event_source_set_enabled(H.timer, SD_EVENT_OFF) < 0)
                return -1;
        if (timeout_ms < 0)
                return sd_event_source_set_enabled(H.kick, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (timeout_ms == 0)
                return sd_event_source_set_enabled(H.kick, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
        if (sd_event_source_set_enabled(H.kick, SD_EVENT_OFF) < 0)
                return -1;
        sd_event_now(H.event, CLOCK_MONOTONIC, &now);
        if (sd_event_source_set_time(H.timer, now + (uint64_t)timeout_ms * 1000) < 0)
                return -1;
        return sd_event_source_set_enabled(H.timer, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

static int http_global_init(CbError *err) {
        if (H.curl_initialized)
                return 0;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot initialize libcurl");
        H.curl_initialized = true;
        return 0;
}

static void http_global_shutdown(void) {
        if (H.multi)
                curl_multi_cleanup(H.multi);
        H.multi = NULL;
        H.timer = sd_event_source_disable_unref(H.timer);
        H.kick = sd_event_source_disable_unref(H.kick);
        H.event = sd_event_unref(H.event);
        if (H.curl_initialized)
                curl_global_cleanup();
        H.curl_initialized = false;
}

static int http_attach_event(sd_event *e, CbError *err) {
        int r = http_global_init(err);
        if (r < 0)
                return r;
        if (H.event == e)
                return 0;
        if (H.event)
                return cb_error_set(err, CB_ERR_INVALID, "the http driver is attached to another event loop");
        H.multi = curl_multi_init();
        if (!H.multi)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot create a libcurl multi handle");
        /* Accuracy 1 us, not 1 ms: libcurl asks for "now" (0 ms) to start each
         * transfer, and sd-event may push a timer to the end of its accuracy
         * window to coalesce wake-ups; at 1 ms every request to a provider
         * waited ~0.9 ms on the loop before its first byte went out. */
        r = sd_event_add_time(e, &H.timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, NULL);
        if (r >= 0)
                r = sd_event_source_set_enabled(H.timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(e, &H.kick, on_kick, NULL);
        if (r >= 0)
                r = sd_event_source_set_enabled(H.kick, SD_EVENT_OFF);
        if (r < 0) {
                H.timer = sd_event_source_disable_unref(H.timer);
                H.kick = sd_event_source_disable_unref(H.kick);
                curl_multi_cleanup(H.multi);
                H.multi = NULL;
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot add the http timer: %s", strerror(-r));
        }
        H.event = sd_event_ref(e);
        curl_multi_setopt(H.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(H.multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
        return 0;
}

/* ---- connections ---- */

static bool url_is_http(const char *u) {
        return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

static void http_conn_free(HttpConn *c) {
        if (!c)
                return;
        free(c->url);
        free(c->username);
        if (c->password)
                explicit_bzero(c->password, strlen(c->password));
        free(c->password);
        free(c->api_version);
        free(c->ca_file);
        free(c);
}

static bool api_version_is_valid(const char *v) {
        unsigned minor;
        char tail;
        return v && sscanf(v, "2.%u%c", &minor, &tail) == 1 && minor >= 13 && minor <= 17;
}

static int http_open_with(const char *uri, const DriverOpenOptions *opts, DriverConn **ret, CbError *err) {
        static const DriverOpenOptions none = { 0 };
        HttpConn *c;
        bool ok = true;
        size_t n;

        if (!opts)
                opts = &none;
        if (!url_is_http(uri) || strlen(uri) > 1024 || strpbrk(uri, " \t\r\n?#"))
                return cb_error_set_field(
                        err, CB_ERR_VALIDATION, "url",
                        "url: must be http:// or https://, without spaces, query or fragment");
        if (opts->api_version && !api_version_is_valid(opts->api_version))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "api_version",
                                          "api_version: must be one of 2.13 to 2.17");
        if (!opts->username != !opts->password)
                return cb_error_set_field(err, CB_ERR_VALIDATION, opts->username ? "password" : "username",
                                          "username and password go together");
        c = calloc(1, sizeof(*c));
        if (!c)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        c->base.ops = &http_driver_ops;
        c->url = strdup_or_null(uri, &ok);
        c->username = strdup_or_null(opts->username, &ok);
        c->password = strdup_or_null(opts->password, &ok);
        c->api_version = strdup_or_null(opts->api_version ? opts->api_version : "2.17", &ok);
        c->ca_file = strdup_or_null(opts->ca_file, &ok);
        c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
        c->max_body = opts->max_body ? opts->max_body : HTTP_DEFAULT_MAX_BODY;
        if (!ok) {
                http_conn_free(c);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        n = strlen(c->url);
        while (n > 0 && c->url[n - 1] == '/')
                c->url[--n] = 0;
        *ret = &c->base;
        return 0;
}

static int http_open(const char *uri, DriverConn **ret, CbError *err) {
        return http_open_with(uri, NULL, ret, err);
}

static void call_free(HttpCall *call);
static void call_finish(HttpCall *call, CURLcode code);

static void http_close(DriverConn *base) {
        HttpConn *c = (HttpConn *)base;
        if (!c)
                return;
        /* Every call in flight ends now, each told so once. */
        while (c->calls) {
                HttpCall *call = c->calls;
                DriverReply reply = { .failure = DRIVER_FAILURE_CANCELLED };
                CbError e = CB_ERROR_INIT;
                int r = cb_error_set(&e, CB_ERR_UNAVAILABLE, "the connection to the provider was closed");
                DriverReplyFn done = call->done;
                void *userdata = call->userdata;
                call_free(call);
                done(-ECANCELED, &reply, &e, userdata);
                (void)r;
        }
        http_conn_free(c);
}

/* ---- one request ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        HttpCall *call = userdata;
        size_t n = size * nmemb;
        char *b;

        if (call->len + n > call->conn->max_body) {
                call->too_large = true;
                return 0; /* libcurl stops with CURLE_WRITE_ERROR */
        }
        b = realloc(call->body, call->len + n + 1);
        if (!b)
                return 0;
        memcpy(b + call->len, data, n);
        call->body = b;
        call->len += n;
        call->body[call->len] = 0;
        return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata) {
        HttpCall *call = userdata;
        size_t n = size * nmemb;
        static const char name[] = "retry-after:";

        if (n > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
                char v[32];
                size_t l = MIN(n - (sizeof(name) - 1), sizeof(v) - 1);
                char *end;
                unsigned long s;
                memcpy(v, data + sizeof(name) - 1, l);
                v[l] = 0;
                s = strtoul(v, &end, 10);
                /* Only delta-seconds; an HTTP date is ignored (the caller's own interval applies). */
                if (end != v && s > 0)
                        call->retry_after_s = (unsigned)MIN(s, HTTP_RETRY_AFTER_MAX_S);
        }
        return n;
}

static void call_free(HttpCall *call) {
        if (!call)
                return;
        if (call->easy) {
                curl_multi_remove_handle(H.multi, call->easy);
                curl_easy_cleanup(call->easy);
        }
        if (call->prev)
                call->prev->next = call->next;
        else if (call->conn && call->conn->calls == call)
                call->conn->calls = call->next;
        if (call->next)
                call->next->prev = call->prev;
        curl_slist_free_all(call->headers);
        free(call->request_body);
        free(call->body);
        free(call);
}

static char *request_identity(void) {
        unsigned char b[16];
        char *s;
        if (RAND_bytes(b, sizeof(b)) != 1)
                return NULL;
        b[6] = (b[6] & 0x0f) | 0x40; /* a version 4 UUID */
        b[8] = (b[8] & 0x3f) | 0x80;
        if (asprintf(&s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                     b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                     b[15]) < 0)
                return NULL;
        return s;
}

/* "cloudbroker <base64 of {"user_id": principal, "department": ...}>" (OSB:
 * the platform, a space, then base64-encoded JSON). */
static char *originating_identity(const DriverCallContext *ctx) {
        json_t *o = json_pack("{s:s?, s:s?}", "user_id", ctx ? ctx->principal : NULL, "department",
                              ctx ? ctx->department : NULL);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        char *out = NULL;
        json_decref(o);
        if (text) {
                size_t n = strlen(text);
                unsigned char *b64 = malloc(4 * ((n + 2) / 3) + 1);
                if (b64) {
                        EVP_EncodeBlock(b64, (unsigned char *)text, (int)n);
                        if (asprintf(&out, "X-Broker-API-Originating-Identity: cloudbroker %s", b64) < 0)
                                out = NULL;
                        free(b64);
                }
        }
        free(text);
        return out;
}

static int add_header(HttpCall *call, const char *line) {
        struct curl_slist *l = curl_slist_append(call->headers, line);
        if (!l)
                return -ENOMEM;
        call->headers = l;
        return 0;
}

static int add_header_fmt(HttpCall *call, const char *fmt, const char *value) {
        char *line;
        int r;
        if (asprintf(&line, fmt, value) < 0)
                return -ENOMEM;
        r = add_header(call, line);
        free(line);
        return r;
}

/* Starts method path (already escaped) with body (taken, may be NULL). */
static int call_start(HttpConn *c, HttpKind kind, const char *method, const char *path, char *body,
                      const DriverCallContext *ctx, DriverReplyFn done, void *userdata, CbError *err) {
        _cleanup_(freep) char *url = NULL, *rid = NULL, *orig = NULL;
        HttpCall *call;
        CURLMcode mc;
        int r = 0;

        if (!H.multi) {
                free(body);
                return cb_error_set(err, CB_ERR_INVALID, "the http driver is not attached to an event loop");
        }
        call = calloc(1, sizeof(*call));
        if (!call) {
                free(body);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        *call = (HttpCall){
                .conn = c, .kind = kind, .request_body = body, .done = done, .userdata = userdata
        };
        call->easy = curl_easy_init();
        rid = ctx && ctx->request_id ? strdup(ctx->request_id) : request_identity();
        orig = originating_identity(ctx);
        if (!call->easy || !rid || !orig || asprintf(&url, "%s%s", c->url, path) < 0) {
                url = NULL;
                call_free(call);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        r = add_header_fmt(call, "X-Broker-API-Version: %s", c->api_version);
        if (r >= 0)
                r = add_header_fmt(call, "X-Broker-API-Request-Identity: %s", rid);
        if (r >= 0)
                r = add_header(call, orig);
        if (r >= 0)
                r = add_header(call, "Accept: application/json");
        if (r >= 0 && body)
                r = add_header(call, "Content-Type: application/json");
        if (r < 0) {
                call_free(call);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }

        CURL *e = call->easy;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (streq(method, "GET"))
                curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (body) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)MIN(driver_connect_timeout_ms(), c->timeout_ms));
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->ca_file)
                curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
        if (c->username) {
                curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
                curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
        }
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->error);
        curl_easy_setopt(e, CURLOPT_PRIVATE, call);

        mc = curl_multi_add_handle(H.multi, e);
        if (mc != CURLM_OK) {
                call_free(call);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot start the request: %s",
                                    curl_multi_strerror(mc));
        }
        call->next = c->calls;
        if (c->calls)
                c->calls->prev = call;
        c->calls = call;
        return 0;
}

static void http_check_done(void) {
        CURLMsg *m;
        int left;
        /* One message at a time: a done callback may close a connection,
         * which removes its handles and their messages. */
        while ((m = curl_multi_info_read(H.multi, &left))) {
                HttpCall *call = NULL;
                if (m->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
                if (call)
                        call_finish(call, m->data.result);
        }
}

/* ---- answers ---- */

typedef struct Answer {
        DriverReply reply;
        json_t *json;
        CbError err;
        int r;
} Answer;

static int malformed(Answer *a, const char *field, const char *what) {
        a->reply.failure = DRIVER_FAILURE_MALFORMED;
        return a->r = cb_error_set_field(&a->err, CB_ERR_UNPROCESSABLE, field,
                                         "the provider's answer is malformed: %s %s", field, what);
}

/* An optional string field; absent or a string of at most max bytes. */
static int optional_string(Answer *a, const json_t *o, const char *field, size_t max, const char **ret) {
        const json_t *v = json_object_get(o, field);
        if (!v) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return malformed(a, field, "is not a string");
        if (json_string_length(v) > max)
                return malformed(a, field, "is too long");
        *ret = json_string_value(v);
        return 0;
}

/* GET /v2/catalog: services[] of {id, name, plans[] of {id, name}}. */
static int check_catalog(Answer *a) {
        const json_t *services = json_object_get(a->json, "services"), *s, *p;
        size_t i, j;
        char field[128];

        if (!json_is_array(services))
                return malformed(a, "services", "is missing or not an array");
        json_array_foreach(services, i, s) {
                const json_t *plans = json_object_get(s, "plans");
                snprintf(field, sizeof(field), "services[%zu]", i);
                if (!json_is_object(s))
                        return malformed(a, field, "is not an object");
                snprintf(field, sizeof(field), "services[%zu].id", i);
                if (!json_is_string(json_object_get(s, "id")))
                        return malformed(a, field, "is missing or not a string");
                snprintf(field, sizeof(field), "services[%zu].name", i);
                if (!json_is_string(json_object_get(s, "name")))
                        return malformed(a, field, "is missing or not a string");
                snprintf(field, sizeof(field), "services[%zu].plans", i);
                if (!json_is_array(plans))
                        return malformed(a, field, "is missing or not an array");
                json_array_foreach(plans, j, p) {
                        const json_t *mpd = json_object_get(p, "maximum_polling_duration");
                        snprintf(field, sizeof(field), "services[%zu].plans[%zu].id", i, j);
                        if (!json_is_string(json_object_get(p, "id")))
                                return malformed(a, field, "is missing or not a string");
                        snprintf(field, sizeof(field), "services[%zu].plans[%zu].name", i, j);
                        if (!json_is_string(json_object_get(p, "name")))
                                return malformed(a, field, "is missing or not a string");
                        snprintf(field, sizeof(field), "services[%zu].plans[%zu].maximum_polling_duration", i,
                                 j);
                        if (mpd && (!json_is_integer(mpd) || json_integer_value(mpd) < 0))
                                return malformed(a, field, "is not an integer >= 0");
                }
        }
        return 0;
}

static int parse_success(Answer *a, HttpKind kind, long status) {
        const char *state = NULL;

        if (!json_is_object(a->json))
                return malformed(a, "(body)", "is not a JSON object");
        switch (kind) {
        case HTTP_CATALOG:
                if (status != 200)
                        return malformed(a, "(status)", "is not 200 for a catalogue");
                return check_catalog(a);
        case HTTP_BIND:
        case HTTP_BINDING_FETCH: {
                const json_t *cred = json_object_get(a->json, "credentials");
                if (kind == HTTP_BINDING_FETCH && status != 200)
                        return malformed(a, "(status)", "is not 200 for a binding");
                if (cred && !json_is_object(cred))
                        return malformed(a, "credentials", "is not an object");
                if (kind == HTTP_BIND && status == 202) {
                        if (optional_string(a, a->json, "operation", HTTP_TOKEN_MAX, &a->reply.operation) < 0)
                                return a->r;
                        a->reply.state = DRIVER_OP_IN_PROGRESS;
                } else
                        a->reply.state = DRIVER_OP_SUCCEEDED;
                return 0;
        }
        case HTTP_PROVISION:
        case HTTP_UPDATE:
        case HTTP_UNBIND:
        case HTTP_DEPROVISION:
                if (optional_string(a, a->json, "operation", HTTP_TOKEN_MAX, &a->reply.operation) < 0)
                        return a->r;
                if (kind != HTTP_DEPROVISION && kind != HTTP_UNBIND) {
                        const char *dash;
                        if (optional_string(a, a->json, "dashboard_url", 4096, &dash) < 0)
                                return a->r;
                }
                a->reply.state = status == 202 ? DRIVER_OP_IN_PROGRESS : DRIVER_OP_SUCCEEDED;
                return 0;
        case HTTP_FETCH:
                if (status != 200)
                        return malformed(a, "(status)", "is not 200 for an instance");
                if (!json_is_string(json_object_get(a->json, "service_id")))
                        return malformed(a, "service_id", "is missing or not a string");
                if (json_object_get(a->json, "plan_id") &&
                    !json_is_string(json_object_get(a->json, "plan_id")))
                        return malformed(a, "plan_id", "is not a string");
                a->reply.state = DRIVER_OP_SUCCEEDED;
                return 0;
        case HTTP_LAST_OPERATION:
                if (status != 200)
                        return malformed(a, "(status)", "is not 200 for a last_operation");
                if (optional_string(a, a->json, "description", 4096, &a->reply.description) < 0)
                        return a->r;
                if (!json_is_string(json_object_get(a->json, "state")))
                        return malformed(a, "state", "is missing or not a string");
                state = json_string_value(json_object_get(a->json, "state"));
                if (streq(state, "in progress"))
                        a->reply.state = DRIVER_OP_IN_PROGRESS;
                else if (streq(state, "succeeded"))
                        a->reply.state = DRIVER_OP_SUCCEEDED;
                else if (streq(state, "failed"))
                        a->reply.state = DRIVER_OP_FAILED;
                else
                        return malformed(a, "state", "is not \"in progress\", \"succeeded\" or \"failed\"");
                return 0;
        }
        return 0;
}

static const char *kind_name(HttpKind k) {
        switch (k) {
        case HTTP_CATALOG:
                return "catalog";
        case HTTP_PROVISION:
                return "provision";
        case HTTP_UPDATE:
                return "update";
        case HTTP_DEPROVISION:
                return "deprovision";
        case HTTP_LAST_OPERATION:
                return "last_operation";
        case HTTP_FETCH:
                return "instance fetch";
        case HTTP_BIND:
                return "bind";
        case HTTP_UNBIND:
                return "unbind";
        case HTTP_BINDING_FETCH:
                return "binding fetch";
        }
        return "request";
}

static void call_finish(HttpCall *call, CURLcode code) {
        Answer a = { .err = CB_ERROR_INIT };
        long status = 0;
        const char *what = kind_name(call->kind);
        DriverReplyFn done = call->done;
        void *userdata = call->userdata;

        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
        a.reply.http_status = (unsigned)status;
        a.reply.retry_after_s = call->retry_after_s;

        if (call->too_large || code == CURLE_FILESIZE_EXCEEDED) {
                a.reply.failure = DRIVER_FAILURE_TOO_LARGE;
                a.r = cb_error_set(&a.err, CB_ERR_UNPROCESSABLE,
                                   "the provider's %s answer is over %zu bytes: cut off", what,
                                   call->conn->max_body);
        } else if (code != CURLE_OK) {
                a.reply.failure = DRIVER_FAILURE_TRANSPORT;
                a.reply.http_status = 0;
                a.r = cb_error_set(&a.err, CB_ERR_UNAVAILABLE, "provider unreachable (%s): %s", what,
                                   call->error[0] ? call->error : curl_easy_strerror(code));
        } else {
                json_error_t je;
                const json_t *desc, *ec;
                a.json = call->len ? json_loadb(call->body, call->len, 0, &je) : NULL;
                desc = json_object_get(a.json, "description");
                ec = json_object_get(a.json, "error");
                if (json_is_string(desc))
                        a.reply.description = json_string_value(desc);
                if ((status == 410 && (call->kind == HTTP_DEPROVISION || call->kind == HTTP_LAST_OPERATION ||
                                       call->kind == HTTP_FETCH || call->kind == HTTP_UNBIND ||
                                       call->kind == HTTP_BINDING_FETCH)) ||
                    (status == 404 && (call->kind == HTTP_FETCH || call->kind == HTTP_BINDING_FETCH))) {
                        a.reply.state = DRIVER_OP_GONE;
                } else if (status >= 500) {
                        a.reply.failure = DRIVER_FAILURE_SERVER;
                        a.r = cb_error_set(&a.err, CB_ERR_UNAVAILABLE,
                                           "the provider failed the %s (HTTP %ld)%s%s", what, status,
                                           a.reply.description ? ": " : "", a.reply.description ?: "");
                } else if (status >= 300 && status < 400) {
                        a.reply.failure = DRIVER_FAILURE_REFUSED;
                        a.r = cb_error_set(
                                &a.err, CB_ERR_UNPROCESSABLE,
                                "the provider answered the %s with a redirect (HTTP %ld), which is not "
                                "followed",
                                what, status);
                } else if (status >= 400 || status < 200) {
                        a.reply.failure = DRIVER_FAILURE_REFUSED;
                        a.r = cb_error_set(&a.err, status == 409 ? CB_ERR_CONFLICT : CB_ERR_UNPROCESSABLE,
                                           "the provider refused the %s (HTTP %ld%s%s)%s%s", what, status,
                                           json_is_string(ec) ? ", " : "",
                                           json_is_string(ec) ? json_string_value(ec) : "",
                                           a.reply.description ? ": " : "", a.reply.description ?: "");
                } else if (!a.json) {
                        a.reply.failure = DRIVER_FAILURE_MALFORMED;
                        if (call->len)
                                a.r = cb_error_set_field(
                                        &a.err, CB_ERR_UNPROCESSABLE, "(body)",
                                        "the provider's %s answer is not JSON: %s (line %d, column %d)", what,
                                        je.text, je.line, je.column);
                        else
                                a.r = cb_error_set_field(&a.err, CB_ERR_UNPROCESSABLE, "(body)",
                                                         "the provider's %s answer is empty", what);
                } else {
                        parse_success(&a, call->kind, status);
                }
        }
        if (a.r < 0)
                a.reply.body = NULL;
        else
                a.reply.body = a.json;
        call_free(call);
        done(a.r, &a.reply, &a.err, userdata);
        cb_error_clear(&a.err);
        json_decref(a.json);
}

/* ---- the operations ---- */

static char *escape(const char *s) {
        return curl_easy_escape(NULL, s ? s : "", 0);
}

static int http_catalog_async(DriverConn *base, DriverReplyFn done, void *userdata, CbError *err) {
        return call_start((HttpConn *)base, HTTP_CATALOG, "GET", "/v2/catalog", NULL, NULL, done, userdata,
                          err);
}

static int http_provision_async(DriverConn *base, const ProvisionSpec *spec, const DriverCallContext *ctx,
                                DriverReplyFn done, void *userdata, CbError *err) {
        _cleanup_(freep) char *path = NULL;
        char *id = escape(spec->resource_id), *body = NULL;
        json_t *o;

        o = json_pack("{s:s, s:s, s:s?, s:s?, s:{s:s, s:s?, s:s?, s:s?, s:s?, s:s?}, s:o}", "service_id",
                      ctx->remote_service_id, "plan_id", ctx->remote_plan_id, "organization_guid",
                      ctx->department, "space_guid", ctx->project_id, "context", "platform", "cloudbroker",
                      "department", ctx->department, "project_id", ctx->project_id, "approval_no",
                      ctx->approval_no, "system_id", ctx->system_id, "resource_id", spec->resource_id,
                      "parameters",
                      spec->parameters ? json_incref((json_t *)spec->parameters) : json_object());
        body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!id || !body || asprintf(&path, "/v2/service_instances/%s?accepts_incomplete=true", id) < 0) {
                if (body)
                        explicit_bzero(body, strlen(body)); /* the parameters may be secrets */
                path = NULL;
                curl_free(id);
                free(body);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        curl_free(id);
        return call_start((HttpConn *)base, HTTP_PROVISION, "PUT", path, body, ctx, done, userdata, err);
}

/* /v2/service_instances/<id>[/service_bindings/<bid>]<suffix>?service_id=..&plan_id=..<extra> */
static char *instance_path(const DriverRef *ref, const char *suffix, const DriverCallContext *ctx,
                           const char *operation, bool accepts_incomplete) {
        char *id = escape(ref->resource_id), *sid = escape(ctx->remote_service_id),
             *pid = escape(ctx->remote_plan_id);
        char *bid = ref->binding_id ? escape(ref->binding_id) : NULL;
        char *op = operation ? escape(operation) : NULL, *path = NULL;
        if (id && sid && pid && (!operation || op) && (!ref->binding_id || bid) &&
            asprintf(&path, "/v2/service_instances/%s%s%s%s?service_id=%s&plan_id=%s%s%s%s", id,
                     bid ? "/service_bindings/" : "", bid ?: "", suffix, sid, pid,
                     accepts_incomplete ? "&accepts_incomplete=true" : "", op ? "&operation=" : "",
                     op ?: "") < 0)
                path = NULL;
        curl_free(bid);
        curl_free(id);
        curl_free(sid);
        curl_free(pid);
        curl_free(op);
        return path;
}

static int http_update_async(DriverConn *base, const DriverRef *ref, const DriverCallContext *ctx,
                             const char *plan_id, const json_t *parameters, DriverReplyFn done,
                             void *userdata, CbError *err) {
        _cleanup_(freep) char *path = NULL;
        char *id = escape(ref->resource_id), *body = NULL;
        json_t *o;

        /* OSB: plan_id only when it changes, parameters only when there are some. */
        o = json_pack("{s:s, s:s*, s:O*, s:{s:s, s:s?, s:s?, s:s?, s:s?, s:s}, s:{s:s, s:s?}}", "service_id",
                      ctx->remote_service_id, "plan_id", plan_id, "parameters", parameters, "context",
                      "platform", "cloudbroker", "department", ctx->department, "project_id", ctx->project_id,
                      "approval_no", ctx->approval_no, "system_id", ctx->system_id, "resource_id",
                      ref->resource_id, "previous_values", "service_id", ctx->remote_service_id, "plan_id",
                      ctx->remote_plan_id);
        body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!id || !body || asprintf(&path, "/v2/service_instances/%s?accepts_incomplete=true", id) < 0) {
                if (body)
                        explicit_bzero(body, strlen(body)); /* the parameters may be secrets */
                path = NULL;
                curl_free(id);
                free(body);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        curl_free(id);
        return call_start((HttpConn *)base, HTTP_UPDATE, "PATCH", path, body, ctx, done, userdata, err);
}

static int http_deprovision_async(DriverConn *base, const DriverRef *ref, const DriverCallContext *ctx,
                                  DriverReplyFn done, void *userdata, CbError *err) {
        char *path = instance_path(&(DriverRef){ .resource_id = ref->resource_id }, "", ctx, NULL, true);
        int r;
        if (!path)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = call_start((HttpConn *)base, HTTP_DEPROVISION, "DELETE", path, NULL, ctx, done, userdata, err);
        free(path);
        return r;
}

static int http_last_operation_async(DriverConn *base, const DriverRef *ref, const DriverCallContext *ctx,
                                     const char *operation, DriverReplyFn done, void *userdata,
                                     CbError *err) {
        char *path = instance_path(ref, "/last_operation", ctx, operation, false);
        int r;
        if (!path)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = call_start((HttpConn *)base, HTTP_LAST_OPERATION, "GET", path, NULL, ctx, done, userdata, err);
        free(path);
        return r;
}

static int http_fetch_async(DriverConn *base, const DriverRef *ref, const DriverCallContext *ctx,
                            DriverReplyFn done, void *userdata, CbError *err) {
        char *id = escape(ref->resource_id), *bid = ref->binding_id ? escape(ref->binding_id) : NULL;
        char *path = NULL;
        int r;
        if (!id || (ref->binding_id && !bid) ||
            asprintf(&path, "/v2/service_instances/%s%s%s", id, bid ? "/service_bindings/" : "", bid ?: "") <
                    0) {
                curl_free(id);
                curl_free(bid);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        curl_free(id);
        curl_free(bid);
        r = call_start((HttpConn *)base, bid ? HTTP_BINDING_FETCH : HTTP_FETCH, "GET", path, NULL, ctx, done,
                       userdata, err);
        free(path);
        return r;
}

static int http_bind_async(DriverConn *base, const DriverRef *ref, const DriverCallContext *ctx,
                           const json_t *parameters, DriverReplyFn done, void *userdata, CbError *err) {
        _cleanup_(freep) char *path = NULL;
        char *id = escape(ref->resource_id), *bid = escape(ref->binding_id), *body = NULL;
        json_t *o;

        o = json_pack("{s:s, s:s, s:{s:s, s:s?, s:s?, s:s?, s:s?, s:s}, s:O?}", "service_id",
                      ctx->remote_service_id, "plan_id", ctx->remote_plan_id, "context", "platform",
                      "cloudbroker", "department", ctx->department, "project_id", ctx->project_id,
                      "approval_no", ctx->approval_no, "system_id", ctx->system_id, "resource_id",
                      ref->resource_id, "parameters", parameters);
        body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!id || !bid || !body ||
            asprintf(&path, "/v2/service_instances/%s/service_bindings/%s?accepts_incomplete=true", id, bid) <
                    0) {
                path = NULL;
                curl_free(id);
                curl_free(bid);
                free(body);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        curl_free(id);
        curl_free(bid);
        return call_start((HttpConn *)base, HTTP_BIND, "PUT", path, body, ctx, done, userdata, err);
}

static int http_unbind_async(DriverConn *base, const DriverRef *ref, const DriverCallContext *ctx,
                             DriverReplyFn done, void *userdata, CbError *err) {
        char *path = instance_path(ref, "", ctx, NULL, true);
        int r;
        if (!path)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = call_start((HttpConn *)base, HTTP_UNBIND, "DELETE", path, NULL, ctx, done, userdata, err);
        free(path);
        return r;
}

const DriverOps http_driver_ops = {
        .name = "http",
        .global_init = http_global_init,
        .global_shutdown = http_global_shutdown,
        .open = http_open,
        .close = http_close,
        .attach_event = http_attach_event,
        .open_with = http_open_with,
        .catalog_async = http_catalog_async,
        .provision_async = http_provision_async,
        .deprovision_async = http_deprovision_async,
        .last_operation_async = http_last_operation_async,
        .update_async = http_update_async,
        .fetch_async = http_fetch_async,
        .bind_async = http_bind_async,
        .unbind_async = http_unbind_async,
};
