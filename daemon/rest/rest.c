/* SPDX-License-Identifier: Apache-2.0 */
#include "rest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "log.h"

/* Limits checked here, below what libmicrohttpd's 32 KiB connection pool
 * holds, so that the daemon answers them in JSON (docs/rest-limits.md). */
#define REST_POOL_BYTES        (32 * 1024)
#define REST_MAX_URI           8192
#define REST_MAX_HEAD          (16 * 1024)
#define REST_MAX_HEADER_FIELDS 100
/* File descriptors kept free of connections: database, bus, libvirt, logs. */
#define REST_FD_RESERVE 256

typedef struct Conn Conn;

/* The phases of a request that have an absolute deadline. */
typedef enum ConnPhase {
        PHASE_HEAD, /* ready (accepted, or previous reply sent) -> end of headers */
        PHASE_BODY, /* end of headers -> end of body */
        _PHASE_TIMED,
        PHASE_REPLY = _PHASE_TIMED, /* ours to answer: no deadline (MHD's idle timeout while sending) */
} ConnPhase;

struct RestServer {
        Manager *manager;
        struct MHD_Daemon *mhd;
        sd_event_source *io;
        sd_event_source *timer;
        sd_event_source *kick;  /* runs MHD again for resumed connections */
        sd_event_source *sweep; /* closes connections past their deadline */
        unsigned port;
        bool scan_headers; /* the library keeps header lines as scan_headers_for_nul() expects */
        uint64_t timeout_usec[_PHASE_TIMED];
        uint64_t sweep_at; /* when the sweep is armed for; UINT64_MAX when off */
        /* Connections in PHASE_HEAD / PHASE_BODY, oldest first: each phase has one
         * timeout, so appending keeps every queue sorted by deadline. */
        Conn *queue_head[_PHASE_TIMED], *queue_tail[_PHASE_TIMED];
        struct MHD_Response *too_large;
        struct {
                uint64_t generation;
                struct MHD_Response *resp;
        } cache[REST_CACHE_SLOTS];
};

struct MHD_Response *rest_cache_get(RestServer *s, unsigned slot, uint64_t generation) {
        if (slot >= REST_CACHE_SLOTS || !s->cache[slot].resp || s->cache[slot].generation != generation)
                return NULL;
        return s->cache[slot].resp;
}

/* Takes the caller's reference. */
void rest_cache_put(RestServer *s, unsigned slot, uint64_t generation, struct MHD_Response *resp) {
        if (slot >= REST_CACHE_SLOTS) {
                MHD_destroy_response(resp);
                return;
        }
        if (s->cache[slot].resp)
                MHD_destroy_response(s->cache[slot].resp);
        s->cache[slot].resp = resp;
        s->cache[slot].generation = generation;
}

/* Per-request state, kept in MHD's con_cls between calls. */
typedef struct Pending {
        bool started; /* the headers were seen (first call of the access handler) */
        char *buf;
        size_t len, cap;
        bool too_large;
        /* An answer that comes later (rest_suspend / rest_async_complete). */
        struct MHD_Connection *connection;
        RestServer *server;
        bool suspended, async_done;
        unsigned async_status;
        json_t *async_body;
        json_t *async_held; /* a reply waiting for the batch to commit */
        char async_location[256];
} Pending;

/* One per open connection (MHD's socket context), reused by every request
 * of a keep-alive connection, so a request costs no allocation of its own. */
struct Conn {
        RestServer *server;
        struct MHD_Connection *mhd;
        int fd;
        ConnPhase phase;
        uint64_t deadline; /* CLOCK_MONOTONIC usec, in PHASE_HEAD and PHASE_BODY */
        Conn *prev, *next; /* in server->queue_*[phase] */
        /* The current request, from its request line on. */
        bool line_seen;
        bool nul;        /* a %00 was decoded in the path or the query */
        bool query;      /* the target has a query */
        const char *uri; /* the raw request target, in MHD's read buffer */
        size_t uri_len;  /* up to its first NUL */
        Pending pend;
};

static void on_batch_committed(void *userdata, int result);

struct RestAsync {
        Pending pend; /* never used: RestAsync is a view of a Pending */
};

const RestRoute *const rest_route_tables[] = {
        rest_core_routes,
        rest_catalog_routes,
        rest_systems_routes,
        rest_incidents_routes,
        rest_projects_routes,
        rest_resources_routes,
        rest_billing_routes,
        rest_legacy_routes,
        rest_images_routes,
        osb_routes,
        osb_instance_routes,
        osb_binding_routes,
        NULL,
};

void rest_print_routes(FILE *f) {
        for (size_t t = 0; rest_route_tables[t]; t++)
                for (const RestRoute *r = rest_route_tables[t]; r->method; r++)
                        fprintf(f, "%s %s\n", r->method, r->pattern);
}

bool rest_route_match(const char *pattern, const char *path, char *buf, size_t bufsz, const char **params,
                      size_t *n_params) {
        size_t n = 0, off = 0;
        const char *p = pattern, *u = path;

        while (*p && *u) {
                if (*p != '/' || *u != '/')
                        return false;
                p++;
                u++;
                const char *pe = strchrnul(p, '/'), *ue = strchrnul(u, '/');
                if (*p == '{') {
                        size_t len = (size_t)(ue - u);
                        if (len == 0 || n >= REST_MAX_PARAMS || off + len + 1 > bufsz)
                                return false;
                        memcpy(buf + off, u, len);
                        buf[off + len] = 0;
                        params[n++] = buf + off;
                        off += len + 1;
                } else if (pe - p != ue - u || memcmp(p, u, (size_t)(pe - p)) != 0)
                        return false;
                p = pe;
                u = ue;
        }
        if (*p || (*u && !streq(u, "/")))
                return false;
        *n_params = n;
        return true;
}

int rest_reply_json(RestReply *reply, unsigned status, json_t *body) {
        reply->status = status;
        json_decref(reply->body);
        reply->body = body;
        return 0;
}

int rest_reply_text(RestReply *reply, unsigned status, char *text, size_t len) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return -ENOMEM;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (reply->response && reply->response_owned)
                MHD_destroy_response(reply->response);
        reply->response = resp;
        reply->response_owned = true;
        reply->status = status;
        return 0;
}

const char *rest_header(RestRequest *req, const char *name) {
        return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

static const char *skip_ws(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

/* preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] ) */
unsigned rest_parse_prefer_wait(const char *value) {
        for (const char *p = value; p && *p;) {
                const char *end = p + strcspn(p, ","), *t = skip_ws(p, end);
                p = *end ? end + 1 : end;
                if (end - t < 4 || strncasecmp(t, "wait", 4) != 0 ||
                    (t + 4 < end && !strchr(" \t=;", t[4]))) /* another preference, "waitress" */
                        continue;
                t = skip_ws(t + 4, end);
                if (t == end || *t != '=')
                        return 0;
                t = skip_ws(t + 1, end);
                size_t digits = strspn(t, "0123456789");
                const char *after = skip_ws(t + digits, end);
                if (digits == 0 || t + digits > end || (after < end && *after != ';'))
                        return 0;
                if (digits > 4)
                        return REST_PREFER_WAIT_MAX_S;
                unsigned n = (unsigned)strtoul(t, NULL, 10);
                return n > REST_PREFER_WAIT_MAX_S ? REST_PREFER_WAIT_MAX_S : n;
        }
        return 0;
}

unsigned rest_prefer_wait(RestRequest *req) {
        return rest_parse_prefer_wait(rest_header(req, "Prefer"));
}

int rest_page(RestRequest *req, Page *ret, CbError *err) {
        return page_parse(rest_query(req, "limit"), rest_query(req, "page_token"), ret, err);
}

int rest_reply_page(RestReply *reply, const char *member, json_t *items, const char *next) {
        json_t *o = json_pack("{s:o}", member, items);
        if (o && next && next[0])
                json_object_set_new(o, "next_page_token", json_string(next));
        return rest_reply_json(reply, 200, o);
}

const char *rest_query(RestRequest *req, const char *name) {
        return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}

int rest_body_json(RestRequest *req, json_t **ret, CbError *err) {
        json_error_t jerr;
        json_t *j;

        if (!req->body || req->body_len == 0)
                return cb_error_set(err, CB_ERR_INVALID, "a JSON request body is required");
        j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return cb_error_set(err, CB_ERR_MALFORMED_JSON, "malformed JSON at line %d, column %d: %s",
                                    jerr.line, jerr.column, jerr.text);
        *ret = j;
        return 0;
}

static enum MHD_Result queue_json(struct MHD_Connection *conn, unsigned status, json_t *body,
                                  const char *location) {
        char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        struct MHD_Response *resp;
        enum MHD_Result ret;

        if (text)
                resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        else
                resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(text);
                return MHD_NO;
        }
        if (text)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (location && *location)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
        if (status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                        "Bearer realm=\"cloudbroker\"");
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* Copies what a client sent into a message: printable ASCII only, so that the
 * JSON body can always be encoded, and at most max bytes of it. */
static void client_text(char *dst, size_t size, const char *src, size_t max) {
        size_t n = 0;
        for (; src && *src && n + 4 < size && n < max; src++)
                dst[n++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
        if (src && *src && n + 4 < size) {
                memcpy(dst + n, "...", 3);
                n += 3;
        }
        dst[n] = 0;
}

/* A refusal of the request as HTTP (before any route runs): JSON like every
 * other answer, and the connection closes, since a body may still be on
 * its way. */
static enum MHD_Result queue_refusal(struct MHD_Connection *conn, unsigned status, const char *code,
                                     const char *fmt, ...) _printf_(4, 5);
static enum MHD_Result queue_refusal(struct MHD_Connection *conn, unsigned status, const char *code,
                                     const char *fmt, ...) {
        char msg[512], *text;
        struct MHD_Response *resp;
        enum MHD_Result ret;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_t *body = json_pack("{s:s, s:s}", "error", code, "message", msg);
        text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!text)
                return MHD_NO;
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* cb_error_to_json() fails on a message that is not UTF-8 (one that quotes
 * bytes a client sent): such a message loses those bytes, not the body. */
static json_t *error_json(const CbError *err) {
        json_t *body = cb_error_to_json(err);
        if (!body) {
                CbError copy = *err; /* shallow: violations stay err's */
                client_text(copy.message, sizeof(copy.message), err->message, sizeof(copy.message));
                body = cb_error_to_json(&copy);
        }
        return body;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, const CbError *err, const RestRoute *route) {
        json_t *body = error_json(err);
        unsigned status = cb_error_http_status(err->kind);
        enum MHD_Result r;

        if (!body)
                return MHD_NO;

        /* OSB platforms expect Basic challenges and their own description field. */
        if (route && route->auth == REST_AUTH_OSB) {
                json_object_set_new(body, "description", json_string(err->message));
                if (status == MHD_HTTP_UNAUTHORIZED) {
                        char *text = json_dumps(body, JSON_COMPACT);
                        struct MHD_Response *resp = MHD_create_response_from_buffer(
                                text ? strlen(text) : 0, text ? text : (void *)"", MHD_RESPMEM_MUST_FREE);
                        json_decref(body);
                        if (!resp)
                                return MHD_NO;
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                                "Basic realm=\"cloudbroker-osb\"");
                        r = MHD_queue_response(conn, status, resp);
                        MHD_destroy_response(resp);
                        return r;
                }
        }
        r = queue_json(conn, status, body, NULL);
        json_decref(body);
        return r;
}

static int authenticate(RestServer *s, struct MHD_Connection *conn, const RestRoute *route, CbCaller *caller,
                        CbError *err) {
        const Config *cfg = s->manager->config;

        switch (route->auth) {
        case REST_AUTH_NONE:
                *caller = (CbCaller){ .principal = NULL, .face = "rest" };
                return 0;
        case REST_AUTH_BEARER: {
                const char *h =
                        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
                const Principal *p;
                if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                        return cb_error_set(err, CB_ERR_UNAUTHENTICATED,
                                            "missing 'Authorization: Bearer TOKEN' header");
                p = config_principal_by_token(cfg, h + 7);
                if (!p)
                        return cb_error_set(err, CB_ERR_UNAUTHENTICATED, "the bearer token is not valid");
                *caller = (CbCaller){ .principal = p, .face = "rest" };
                return 0;
        }
        case REST_AUTH_OSB: {
                char *pass = NULL;
                char *user = MHD_basic_auth_get_username_password(conn, &pass);
                const ConfigPlatform *pf = config_platform_by_basic(cfg, user, pass);
                MHD_free(user);
                MHD_free(pass);
                if (!pf)
                        return cb_error_set(err, CB_ERR_UNAUTHENTICATED,
                                            "valid OSB platform basic auth required");
                *caller = (CbCaller){ .principal = &pf->principal, .face = "osb" };
                return 0;
        }
        }
        return cb_error_set(err, CB_ERR_INTERNAL, "route without authentication mode");
}

static void allow_add(char *allow, size_t size, const char *method) {
        size_t n = strlen(allow);
        if (n + strlen(method) + 3 < size)
                snprintf(allow + n, size - n, "%s%s", n ? ", " : "", method);
}

const RestRoute *rest_route_find(const char *method, const char *path, char *buf, size_t bufsz,
                                 const char **params, size_t *n_params, bool *ret_path_known, char *allow,
                                 size_t allow_size) {
        bool is_head = streq(method, "HEAD");

        *ret_path_known = false;
        if (allow_size > 0)
                allow[0] = 0;
        for (size_t t = 0; rest_route_tables[t]; t++)
                for (const RestRoute *rt = rest_route_tables[t]; rt->method; rt++) {
                        if (!rest_route_match(rt->pattern, path, buf, bufsz, params, n_params))
                                continue;
                        *ret_path_known = true;
                        /* HEAD is GET without the body: libmicrohttpd leaves the body out. */
                        if (streq(rt->method, method) || (is_head && streq(rt->method, "GET")))
                                return rt;
                        allow_add(allow, allow_size, rt->method);
                        if (streq(rt->method, "GET"))
                                allow_add(allow, allow_size, "HEAD");
                }
        return NULL;
}

static enum MHD_Result dispatch(RestServer *s, struct MHD_Connection *conn, const char *url,
                                const char *method, Pending *pend) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        const RestRoute *route = NULL;
        bool path_known = false;
        char allow[128] = "";
        char parambuf[512];
        RestRequest req = {
                .manager = s->manager,
                .connection = conn,
                .method = method,
                .path = url,
        };
        RestReply reply = { .status = 200 };
        enum MHD_Result ret;
        int r;

        route = rest_route_find(method, url, parambuf, sizeof(parambuf), req.params, &req.n_params,
                                &path_known, allow, sizeof(allow));

        if (!route) {
                if (path_known) {
                        struct MHD_Response *resp;
                        json_t *body = json_pack("{s:s, s:s}", "error", "method_not_allowed", "message",
                                                 "method not allowed on this path");
                        char *text = json_dumps(body, JSON_COMPACT);
                        json_decref(body);
                        resp = MHD_create_response_from_buffer(
                                text ? strlen(text) : 0, text ? text : (void *)"", MHD_RESPMEM_MUST_FREE);
                        if (!resp)
                                return MHD_NO;
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
                        ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
                        MHD_destroy_response(resp);
                        return ret;
                }
                cb_error_set(&err, CB_ERR_NOT_FOUND, "no such endpoint: %s %s", method, url);
                return queue_error(conn, &err, NULL);
        }

        r = authenticate(s, conn, route, &req.caller, &err);
        if (r < 0)
                return queue_error(conn, &err, route);
        if (pend->too_large) {
                cb_error_set(&err, CB_ERR_TOO_LARGE, "request body larger than %zu bytes",
                             s->manager->config->rest_max_body);
                return queue_error(conn, &err, route);
        }
        req.route = route;
        req.pending = pend;
        req.body = pend->buf;
        req.body_len = pend->len;

        r = route->handler(&req, &reply, &err);
        if (r == REST_ASYNC)
                return MHD_YES; /* suspended: rest_async_complete() answers */
        if (r < 0) {
                json_decref(reply.body);
                if (err.kind == CB_ERR_NONE)
                        cb_error_set(&err, CB_ERR_INTERNAL, "internal error: %s", strerror(-r));
                return queue_error(conn, &err, route);
        }
        if (reply.response) {
                ret = MHD_queue_response(conn, reply.status, reply.response);
                if (reply.response_owned)
                        MHD_destroy_response(reply.response);
                json_decref(reply.body);
                return ret;
        }
        if (!streq(method, "GET") && !streq(method, "HEAD") && store_in_batch(s->manager->store)) {
                /* A change is acknowledged only once it is on disk: hold the
                 * reply until the batch this request joined has committed. */
                snprintf(pend->async_location, sizeof(pend->async_location), "%s", reply.location);
                pend->async_status = reply.status;
                pend->async_held = reply.body;
                rest_suspend(&req);
                if (store_defer(s->manager->store, on_batch_committed, pend) < 0)
                        on_batch_committed(pend, -ENOMEM);
                return MHD_YES;
        }
        ret = queue_json(conn, reply.status, reply.body, reply.location);
        json_decref(reply.body);
        return ret;
}

/* --- connections: deadlines that do not restart with every byte ---------------------------- */

static Conn *conn_of(struct MHD_Connection *mhd) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

static Conn *conn_of_pending(Pending *pend) {
        return (Conn *)((char *)pend - offsetof(Conn, pend));
}

static void sweep_set(RestServer *s, uint64_t at) {
        if (!s->sweep)
                return;
        s->sweep_at = at;
        if (at == UINT64_MAX) {
                sd_event_source_set_enabled(s->sweep, SD_EVENT_OFF);
                return;
        }
        sd_event_source_set_time(s->sweep, at);
        sd_event_source_set_enabled(s->sweep, SD_EVENT_ONESHOT);
}

/* Arms the sweep at the earliest deadline of the queue heads. */
static void sweep_arm(RestServer *s) {
        uint64_t next = UINT64_MAX;
        for (unsigned p = 0; p < _PHASE_TIMED; p++)
                if (s->queue_head[p] && s->queue_head[p]->deadline < next)
                        next = s->queue_head[p]->deadline;
        sweep_set(s, next);
}

static void conn_unlink(Conn *c) {
        RestServer *s = c->server;
        if (c->phase >= _PHASE_TIMED)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->queue_head[c->phase] = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                s->queue_tail[c->phase] = c->prev;
        c->prev = c->next = NULL;
        c->phase = PHASE_REPLY;
}

/* Enters a phase; PHASE_HEAD and PHASE_BODY start their clock now. */
static void conn_enter(Conn *c, ConnPhase phase) {
        RestServer *s = c->server;
        uint64_t now;

        conn_unlink(c);
        if (phase >= _PHASE_TIMED)
                return;
        sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now);
        c->phase = phase;
        c->deadline = now + s->timeout_usec[phase];
        c->prev = s->queue_tail[phase];
        if (c->prev)
                c->prev->next = c;
        else
                s->queue_head[phase] = c;
        s->queue_tail[phase] = c;
        /* Re-arming on every request would reset the timerfd each loop
         * iteration: the sweep moves only to an earlier time, and a
         * connection that leaves its queue leaves the timer as it is (the
         * sweep then finds nothing due and re-arms at the next head). */
        if (c->deadline < s->sweep_at)
                sweep_set(s, c->deadline);
}

/* A connection past its deadline: a request that began gets a 408 written
 * here (libmicrohttpd has written nothing for it yet), then the socket is
 * shut down; libmicrohttpd reads the end and closes it. */
static void conn_expire(Conn *c) {
        RestServer *s = c->server;
        ConnPhase phase = c->phase;
        char body[192], head[256];
        int n, h;

        conn_unlink(c);
        if (c->line_seen || phase == PHASE_BODY) {
                n = snprintf(body, sizeof(body),
                             "{\"error\":\"request_timeout\",\"message\":\"the request's %s did not arrive "
                             "within %u s\"}",
                             phase == PHASE_BODY ? "body" : "headers",
                             (unsigned)(s->timeout_usec[phase] / 1000000ULL));
                h = snprintf(head, sizeof(head),
                             "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                             "Connection: close\r\nContent-Length: %d\r\n\r\n",
                             n);
                /* Best effort: a client that reads nothing loses only the answer. */
                if (send(c->fd, head, (size_t)h, MSG_NOSIGNAL | MSG_DONTWAIT | MSG_MORE) == h)
                        (void)send(c->fd, body, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        shutdown(c->fd, SHUT_RDWR);
}

static int on_sweep(sd_event_source *src, uint64_t usec, void *userdata) {
        RestServer *s = userdata;
        uint64_t now;
        bool expired = false;
        (void)src;
        (void)usec;

        sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now);
        for (unsigned p = 0; p < _PHASE_TIMED; p++)
                while (s->queue_head[p] && s->queue_head[p]->deadline <= now) {
                        conn_expire(s->queue_head[p]);
                        expired = true;
                }
        sweep_arm(s);
        if (expired)
                sd_event_source_set_enabled(s->kick, SD_EVENT_ONESHOT);
        return 0;
}

static void on_connection(void *cls, struct MHD_Connection *mhd, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        RestServer *s = cls;
        Conn *c = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
                c = calloc(1, sizeof(*c));
                if (!c || !ci) {
                        /* No deadline could be kept: do not serve it. */
                        free(c);
                        if (ci)
                                shutdown(ci->connect_fd, SHUT_RDWR);
                        return;
                }
                c->server = s;
                c->mhd = mhd;
                c->fd = ci->connect_fd;
                c->phase = PHASE_REPLY;
                *socket_context = c;
                conn_enter(c, PHASE_HEAD);
        } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && c) {
                conn_unlink(c);
                free(c);
                *socket_context = NULL;
        }
}

/* Sees the request line, before libmicrohttpd cuts the query off and decodes
 * the path; what it returns becomes the request's con_cls. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *mhd) {
        Conn *c = conn_of(mhd);
        (void)cls;
        if (!c)
                return NULL; /* on_access refuses such a request */
        c->line_seen = true;
        c->nul = false;
        c->uri = uri;
        c->uri_len = uri ? strlen(uri) : 0;
        c->query = uri && memchr(uri, '?', c->uri_len);
        return &c->pend;
}

size_t rest_percent_decode(char *str, bool *ret_nul) {
        char *w = str;
        bool nul = false;

        for (const char *r = str; *r; r++) {
                int hi, lo;
                if (*r == '%' && (hi = unhexchar(r[1])) >= 0 && (lo = unhexchar(r[2])) >= 0) {
                        *w = (char)(hi << 4 | lo);
                        nul |= *w == 0;
                        w++;
                        r += 2;
                } else
                        *w++ = *r;
        }
        *w = 0;
        *ret_nul = nul;
        return (size_t)(w - str);
}

/* libmicrohttpd hands the path on as a C string: a decoded NUL would cut it
 * short, so it is noted and the request refused. */
static size_t on_unescape(void *cls, struct MHD_Connection *mhd, char *str) {
        bool nul;
        size_t n = rest_percent_decode(str, &nul);
        (void)cls;

        if (nul) {
                Conn *c = conn_of(mhd);
                if (c)
                        c->nul = true;
        }
        return n;
}

typedef struct HeaderScan {
        const char *line_end; /* where the previous line's text ended */
        size_t n;
        unsigned n_content_type;
        bool nul;
} HeaderScan;

/* libmicrohttpd 0.9 keeps each header line in its read buffer, its CR and LF
 * overwritten with NULs, and takes the value up to its first NUL. So a
 * value with a NUL inside is followed by something other than those one or
 * two NULs before the next line's name. Also refuses folded lines (obs-fold,
 * RFC 9112 5.2), which the library moves elsewhere. */
static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size) {
        HeaderScan *hs = cls;
        (void)kind;
        (void)key_size;

        hs->n++;
        if (key_size == 12 && strncasecmp(key, "Content-Type", 12) == 0)
                hs->n_content_type++;
        if (hs->line_end) {
                if (key <= hs->line_end || key - hs->line_end > 2)
                        hs->nul = true;
                else
                        for (const char *p = hs->line_end; p < key; p++)
                                hs->nul |= *p != 0;
        }
        hs->line_end = value ? value + value_size : key + key_size;
        return MHD_YES;
}

static bool is_utf8(const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char ch = s[i];
                size_t len;
                uint32_t cp;
                if (ch < 0x80) {
                        i++;
                        continue;
                }
                if ((ch & 0xe0) == 0xc0)
                        len = 2, cp = ch & 0x1f;
                else if ((ch & 0xf0) == 0xe0)
                        len = 3, cp = ch & 0x0f;
                else if ((ch & 0xf8) == 0xf0)
                        len = 4, cp = ch & 0x07;
                else
                        return false;
                if (i + len > n)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                /* No overlong forms, no surrogates, nothing past U+10FFFF. */
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                i += len;
        }
        return true;
}

static enum MHD_Result scan_query(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                  const char *value, size_t value_size) {
        bool *bad = cls;
        (void)kind;
        if (!is_utf8((const unsigned char *)key, key_size) ||
            (value && !is_utf8((const unsigned char *)value, value_size))) {
                *bad = true;
                return MHD_NO;
        }
        return MHD_YES;
}

/* application/json, any case, with parameters; a charset other than UTF-8
 * would be read wrongly, so it is refused too. */
static bool content_type_is_json(const char *ct) {
        static const char type[] = "application/json";
        const char *p = ct;

        p += strspn(p, " \t");
        if (strncasecmp(p, type, sizeof(type) - 1) != 0)
                return false;
        p += sizeof(type) - 1;
        p += strspn(p, " \t");
        while (*p == ';') {
                const char *name = p + 1 + strspn(p + 1, " \t");
                const char *eq = strchr(name, '=');
                if (eq && eq - name == 7 && strncasecmp(name, "charset", 7) == 0) {
                        const char *v = eq + 1;
                        bool quoted = *v == '"';
                        v += quoted;
                        if (strncasecmp(v, "utf-8", 5) != 0 || (quoted && v[5] != '"'))
                                return false;
                }
                p = strchrnul(p + 1, ';');
        }
        return *p == 0;
}

/* The checks on a request's line and headers, on the first call of the
 * access handler, before a byte of its body is read. Returns MHD_YES with
 * *refused false when the request goes on. */
static enum MHD_Result check_head(RestServer *s, Conn *c, struct MHD_Connection *conn, const char *url,
                                  const char *version, bool *refused, bool *has_body) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *te =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        const char *ct;
        size_t max = s->manager->config->rest_max_body;
        HeaderScan hs = { 0 };
        const union MHD_ConnectionInfo *ci;
        char shown[80];

        *refused = true;
        /* The request line: a raw NUL in the target ends uri early, before the
         * space that precedes the version. */
        if (c->nul || (c->uri && c->uri + c->uri_len + 1 != version))
                return queue_refusal(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                     "the request path or query contains a NUL byte");
        if (s->scan_headers) {
                hs.line_end = version + strlen(version);
                MHD_get_connection_values_n(conn, MHD_HEADER_KIND, scan_header, &hs);
                /* The last line: its own end, then the empty line's. */
                if (hs.line_end && (hs.line_end[0] || hs.line_end[1]))
                        hs.nul = true;
                if (hs.nul)
                        return queue_refusal(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                             "a request header contains a NUL byte or is folded "
                                             "over lines");
        } else
                hs.n = (size_t)MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);
        /* Which of two would the body be read as? */
        if (hs.n_content_type > 1)
                return queue_refusal(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                     "the request has more than one Content-Type header");
        if (c->uri_len > REST_MAX_URI)
                return queue_refusal(conn, MHD_HTTP_URI_TOO_LONG, "uri_too_long",
                                     "the request target has %zu bytes; at most %u are read", c->uri_len,
                                     REST_MAX_URI);
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (hs.n > REST_MAX_HEADER_FIELDS || (ci && ci->header_size > REST_MAX_HEAD))
                return queue_refusal(conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                                     "request_header_fields_too_large",
                                     "the request has %zu header fields in %zu bytes; at most %u fields "
                                     "in %u bytes are read",
                                     hs.n, ci ? ci->header_size : 0, REST_MAX_HEADER_FIELDS, REST_MAX_HEAD);
        if (!is_utf8((const unsigned char *)url, strlen(url)))
                return queue_refusal(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                     "the request path is not valid UTF-8");
        if (c->query) {
                bool bad = false;
                MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, scan_query, &bad);
                if (bad)
                        return queue_refusal(conn, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                             "the request query is not valid UTF-8");
        }
        /* A chunked body's length is known only at its end, and its framing
         * errors would be answered by the library: only Content-Length. */
        if (te)
                return queue_refusal(conn, MHD_HTTP_LENGTH_REQUIRED, "length_required",
                                     "send the request body with Content-Length, not Transfer-Encoding");
        if (cl && strtoull(cl, NULL, 10) > max) {
                /* Refuse before reading megabytes we will not use. */
                c->pend.too_large = true;
                return MHD_queue_response(conn, MHD_HTTP_CONTENT_TOO_LARGE, s->too_large);
        }
        *has_body = cl && strtoull(cl, NULL, 10) > 0;
        if (*has_body) {
                ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
                if (!ct)
                        return queue_refusal(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                                             "a request body needs 'Content-Type: application/json'");
                if (!content_type_is_json(ct)) {
                        client_text(shown, sizeof(shown), ct, 64);
                        return queue_refusal(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                                             "Content-Type '%s' is not accepted: the body must be "
                                             "'application/json'",
                                             shown);
                }
        }
        *refused = false;
        return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
        RestServer *s = cls;
        Pending *pend = *con_cls;
        size_t max = s->manager->config->rest_max_body;

        if (!pend)
                return MHD_NO; /* no connection state: nothing would bound it */

        if (!pend->started) {
                /* First call: headers only. Answering here would cost the keep-alive. */
                Conn *c = conn_of_pending(pend);
                bool refused, has_body = false;
                enum MHD_Result ret;

                pend->started = true;
                ret = check_head(s, c, conn, url, version, &refused, &has_body);
                if (refused) {
                        conn_enter(c, PHASE_REPLY);
                        return ret;
                }
                conn_enter(c, has_body ? PHASE_BODY : PHASE_REPLY);
                return MHD_YES;
        }

        if (pend->async_done) {
                /* Resumed after rest_async_complete(): send what it left. */
                enum MHD_Result ret =
                        queue_json(conn, pend->async_status, pend->async_body, pend->async_location);
                json_decref(pend->async_body);
                pend->async_body = NULL;
                pend->async_done = false;
                return ret;
        }
        if (pend->suspended)
                return MHD_YES;

        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                if (pend->too_large)
                        return MHD_YES;
                if (pend->len + n > max) {
                        pend->too_large = true;
                        free(pend->buf);
                        pend->buf = NULL;
                        pend->len = pend->cap = 0;
                        return MHD_YES;
                }
                if (pend->len + n + 1 > pend->cap) {
                        size_t cap = pend->cap ? pend->cap : 4096;
                        while (cap < pend->len + n + 1)
                                cap *= 2;
                        char *nb = realloc(pend->buf, cap);
                        if (!nb)
                                return MHD_NO;
                        pend->buf = nb;
                        pend->cap = cap;
                }
                memcpy(pend->buf + pend->len, upload_data, n);
                pend->len += n;
                pend->buf[pend->len] = 0;
                return MHD_YES;
        }

        conn_enter(conn_of_pending(pend), PHASE_REPLY);
        return dispatch(s, conn, url, method, pend);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        Pending *pend = *con_cls;
        Conn *c = conn_of(conn);
        (void)cls;
        (void)toe;
        if (pend) {
                json_decref(pend->async_body);
                json_decref(pend->async_held);
                free(pend->buf);
                *pend = (Pending){ 0 };
                *con_cls = NULL;
        }
        if (c) {
                /* The next request's clock starts now: idle keep-alive time counts. */
                c->line_seen = false;
                c->uri = NULL;
                c->uri_len = 0;
                conn_enter(c, PHASE_HEAD);
        }
}

static int rearm_timer(RestServer *s) {
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t now;

        if (MHD_get_timeout(s->mhd, &ms) != MHD_YES)
                return sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        /* "Run again now" (a buffer read, a reply queued: several times a
         * request) is the kick, which costs no system call; a timer at
         * "now" reprogrammed the timerfd every time. The timer keeps its
         * deadline: firing early only runs MHD once more. */
        if (ms == 0)
                return sd_event_source_set_enabled(s->kick, SD_EVENT_ONESHOT);
        sd_event_now(sd_event_source_get_event(s->timer), CLOCK_MONOTONIC, &now);
        sd_event_source_set_time(s->timer, now + ms * 1000ULL);
        return sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

/* Every request served by one MHD_run joins one batch: one fsync for all
 * the changes they made, then their replies go out. */
static void rest_run(RestServer *s) {
        store_batch_begin(s->manager->store);
        MHD_run(s->mhd);
        store_batch_end(s->manager->store);
        rearm_timer(s);
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        (void)src;
        (void)fd;
        (void)revents;
        rest_run(userdata);
        return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        (void)src;
        (void)usec;
        rest_run(userdata);
        return 0;
}

static int on_kick(sd_event_source *src, void *userdata) {
        (void)src;
        rest_run(userdata);
        return 0;
}

static int parse_listen(const char *listen, struct sockaddr_in *ret, CbError *err) {
        _cleanup_(freep) char *host = strdup(listen);
        char *colon, *end;
        unsigned long port;

        if (!host)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        colon = strrchr(host, ':');
        if (!colon)
                return cb_error_set(err, CB_ERR_VALIDATION, "REST listen address '%s' is not HOST:PORT",
                                    listen);
        *colon = 0;
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || port > 65535)
                return cb_error_set(err, CB_ERR_VALIDATION, "REST listen address '%s': bad port", listen);
        *ret = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        if (streq(host, "localhost"))
                ret->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &ret->sin_addr) != 1)
                return cb_error_set(err, CB_ERR_VALIDATION,
                                    "REST listen address '%s': '%s' is not an IPv4 address", listen, host);
        return 0;
}

/* The connection limit is kept below the file descriptors the process may
 * open, with room for its own: raises the soft limit as far as allowed. */
static unsigned connection_limit(unsigned want) {
        struct rlimit rl;
        rlim_t need = (rlim_t)want + REST_FD_RESERVE;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return want;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
                struct rlimit raised = rl;
                raised.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) ? need : rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
                        rl = raised;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
                unsigned got =
                        rl.rlim_cur > REST_FD_RESERVE + 16 ? (unsigned)(rl.rlim_cur - REST_FD_RESERVE) : 16;
                log_warning("REST: %u connections asked for, but only %llu file descriptors are allowed: "
                            "serving at most %u",
                            want, (unsigned long long)rl.rlim_cur, got);
                return got;
        }
        return want;
}

int rest_start(Manager *m, CbError *err) {
        static const char too_large_body[] =
                "{\"error\":\"payload_too_large\",\"message\":\"request body larger than the limit\"}";
        struct sockaddr_in sa;
        RestServer *s;
        const union MHD_DaemonInfo *info;
        unsigned limit;
        int r;

        if (isempty(m->config->rest_listen))
                return 0;
        r = parse_listen(m->config->rest_listen, &sa, err);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        s->manager = m;
        m->rest = s;

        s->too_large = MHD_create_response_from_buffer(sizeof(too_large_body) - 1, (void *)too_large_body,
                                                       MHD_RESPMEM_PERSISTENT);
        if (!s->too_large)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        MHD_add_response_header(s->too_large, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(s->too_large, MHD_HTTP_HEADER_CONNECTION, "close");

        s->timeout_usec[PHASE_HEAD] = m->config->rest_header_timeout_s * 1000000ULL;
        s->timeout_usec[PHASE_BODY] = m->config->rest_body_timeout_s * 1000000ULL;
        s->sweep_at = UINT64_MAX;
        /* The header scan reads the library's buffer layout, known for 0.9. */
        s->scan_headers = strncmp(MHD_get_version(), "0.9.", 4) == 0;
        if (!s->scan_headers)
                log_warning("libmicrohttpd %s: header values are not checked for NUL bytes here",
                            MHD_get_version());
        limit = connection_limit(m->config->rest_max_connections);

        s->mhd = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_access, s,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_URI_LOG_CALLBACK, on_request_line,
                s, MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                m->config->rest_max_connections_per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                (size_t)REST_POOL_BYTES, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
        if (!s->mhd)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "cannot listen on %s: %s",
                                    m->config->rest_listen, strerror(errno ? errno : EADDRINUSE));
        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : ntohs(sa.sin_port);
        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return cb_error_set(err, CB_ERR_INTERNAL, "libmicrohttpd has no epoll fd");
        r = sd_event_add_io(m->event, &s->io, info->epoll_fd, EPOLLIN, on_io, s);
        if (r >= 0)
                /* Accuracy 1 us: MHD reads one buffer per run and asks for a 0 ms timeout;
                 * sd-event's default slack (250 ms) would stall every upload. */
                r = sd_event_add_time(m->event, &s->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, s);
        if (r >= 0)
                r = sd_event_add_defer(m->event, &s->kick, on_kick, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->kick, SD_EVENT_OFF);
        if (r >= 0)
                /* A deadline may be kept 100 ms late: one wake-up for many connections. */
                r = sd_event_add_time(m->event, &s->sweep, CLOCK_MONOTONIC, UINT64_MAX, 100000, on_sweep, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->sweep, SD_EVENT_OFF);
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot attach REST to the event loop: %s",
                                    strerror(-r));
        rearm_timer(s);
        sweep_arm(s);
        log_info("REST listening on http://%s:%u (%u connections, %u per address; headers within %u s, "
                 "a body within %u s)",
                 inet_ntoa(sa.sin_addr), s->port, limit, m->config->rest_max_connections_per_ip,
                 m->config->rest_header_timeout_s, m->config->rest_body_timeout_s);
        return 0;
}

RestAsync *rest_async_handle(RestRequest *req) {
        return (RestAsync *)req->pending;
}

RestAsync *rest_suspend(RestRequest *req) {
        Pending *pend = req->pending;
        pend->connection = req->connection;
        pend->server = req->manager->rest;
        pend->suspended = true;
        MHD_suspend_connection(req->connection);
        return (RestAsync *)pend;
}

void rest_async_complete(RestAsync *a, unsigned status, json_t *body) {
        Pending *pend = (Pending *)a;
        json_decref(pend->async_body);
        pend->async_body = body;
        pend->async_status = status;
        pend->async_done = true;
        pend->suspended = false;
        MHD_resume_connection(pend->connection);
        /* The resumed connection is served by the next MHD_run, on the next loop iteration. */
        sd_event_source_set_enabled(pend->server->kick, SD_EVENT_ONESHOT);
}

void rest_async_set_location(RestAsync *a, const char *location) {
        Pending *pend = (Pending *)a;
        snprintf(pend->async_location, sizeof(pend->async_location), "%s", location ? location : "");
}

void rest_connection_resume(RestServer *s, struct MHD_Connection *connection) {
        MHD_resume_connection(connection);
        sd_event_source_set_enabled(s->kick, SD_EVENT_ONESHOT);
}

static void on_batch_committed(void *userdata, int result) {
        Pending *pend = userdata;
        json_t *body = pend->async_held;
        unsigned status = pend->async_status;

        pend->async_held = NULL;
        if (result < 0) {
                json_decref(body);
                body = json_pack("{s:s, s:s}", "error", "internal", "message",
                                 "the change could not be committed to the database");
                status = 500;
        }
        rest_async_complete((RestAsync *)pend, status, body);
}

void rest_async_fail(RestAsync *a, const CbError *err) {
        rest_async_complete(a, cb_error_http_status(err->kind), error_json(err));
}

unsigned rest_port(const RestServer *s) {
        return s ? s->port : 0;
}

RestServer *rest_free(RestServer *s) {
        if (!s)
                return NULL;
        /* NULL: stopping MHD below ends its connections, which calls back here. */
        s->io = sd_event_source_disable_unref(s->io);
        s->timer = sd_event_source_disable_unref(s->timer);
        s->kick = sd_event_source_disable_unref(s->kick);
        s->sweep = sd_event_source_disable_unref(s->sweep);
        if (s->mhd) {
                /* Resumed exports are ended by one more run. */
                rest_billing_stop();
                MHD_run(s->mhd);
                MHD_stop_daemon(s->mhd);
        }
        if (s->too_large)
                MHD_destroy_response(s->too_large);
        for (size_t i = 0; i < REST_CACHE_SLOTS; i++)
                if (s->cache[i].resp)
                        MHD_destroy_response(s->cache[i].resp);
        free(s);
        return NULL;
}
