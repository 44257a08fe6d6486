/* SPDX-License-Identifier: Apache-2.0 */
#include "rest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"

struct RestServer {
        Manager *manager;
        struct MHD_Daemon *mhd;
        sd_event_source *io;
        sd_event_source *timer;
        sd_event_source *kick; /* runs MHD again for resumed connections */
        unsigned port;
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

static void on_batch_committed(void *userdata, int result);

struct RestAsync {
        Pending pend; /* never used: RestAsync is a view of a Pending */
};

static const RestRoute *const route_tables[] = {
        rest_core_routes,     rest_catalog_routes,   rest_systems_routes, rest_incidents_routes,
        rest_projects_routes, rest_resources_routes, osb_routes,
};

void rest_print_routes(FILE *f) {
        for (size_t t = 0; t < ELEMENTSOF(route_tables); t++)
                for (const RestRoute *r = route_tables[t]; r->method; r++)
                        fprintf(f, "%s %s\n", r->method, r->pattern);
}

/* Matches path against pattern segment by segment; "{...}" captures one
 * non-empty segment. Writes captures into buf (NUL-separated). */
static bool route_match(const char *pattern, const char *path, char *buf, size_t bufsz, const char **params,
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

const char *rest_header(RestRequest *req, const char *name) {
        return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
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

static enum MHD_Result queue_error(struct MHD_Connection *conn, const CbError *err, const RestRoute *route) {
        json_t *body = cb_error_to_json(err);
        unsigned status = cb_error_http_status(err->kind);
        enum MHD_Result r;

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

static const Principal osb_platform = {
        .name = (char *)"osb-platform",
        .roles = CB_ROLE_PLATFORM,
};

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
                bool ok = config_check_osb(cfg, user, pass);
                MHD_free(user);
                MHD_free(pass);
                if (!ok)
                        return cb_error_set(err, CB_ERR_UNAUTHENTICATED,
                                            "valid OSB platform basic auth required");
                *caller = (CbCaller){ .principal = &osb_platform, .face = "osb" };
                return 0;
        }
        }
        return cb_error_set(err, CB_ERR_INTERNAL, "route without authentication mode");
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

        for (size_t t = 0; t < ELEMENTSOF(route_tables) && !route; t++)
                for (const RestRoute *rt = route_tables[t]; rt->method; rt++) {
                        if (!route_match(rt->pattern, url, parambuf, sizeof(parambuf), req.params,
                                         &req.n_params))
                                continue;
                        path_known = true;
                        if (streq(rt->method, method)) {
                                route = rt;
                                break;
                        }
                        if (strlen(allow) + strlen(rt->method) + 3 < sizeof(allow))
                                snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                                         allow[0] ? ", " : "", rt->method);
                }

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

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
        RestServer *s = cls;
        Pending *pend = *con_cls;
        size_t max = s->manager->config->rest_max_body;
        (void)version;

        if (!pend) {
                /* First call: headers only. Answering here would cost the keep-alive. */
                const char *cl =
                        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                pend = calloc(1, sizeof(*pend));
                if (!pend)
                        return MHD_NO;
                *con_cls = pend;
                if (cl && strtoull(cl, NULL, 10) > max) {
                        /* Refuse before reading megabytes we will not use. */
                        pend->too_large = true;
                        return MHD_queue_response(conn, MHD_HTTP_CONTENT_TOO_LARGE, s->too_large);
                }
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

        return dispatch(s, conn, url, method, pend);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        Pending *pend = *con_cls;
        (void)cls;
        (void)conn;
        (void)toe;
        if (pend) {
                json_decref(pend->async_body);
                json_decref(pend->async_held);
                free(pend->buf);
                free(pend);
                *con_cls = NULL;
        }
}

static int rearm_timer(RestServer *s) {
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t now;

        if (MHD_get_timeout(s->mhd, &ms) != MHD_YES)
                return sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
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

int rest_start(Manager *m, CbError *err) {
        static const char too_large_body[] =
                "{\"error\":\"payload_too_large\",\"message\":\"request body larger than the limit\"}";
        struct sockaddr_in sa;
        RestServer *s;
        const union MHD_DaemonInfo *info;
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

        s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
                                  on_access, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
                                  MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
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
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot attach REST to the event loop: %s",
                                    strerror(-r));
        rearm_timer(s);
        log_info("REST listening on http://%s:%u", inet_ntoa(sa.sin_addr), s->port);
        return 0;
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
        rest_async_complete(a, cb_error_http_status(err->kind), cb_error_to_json(err));
}

unsigned rest_port(const RestServer *s) {
        return s ? s->port : 0;
}

RestServer *rest_free(RestServer *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        sd_event_source_disable_unref(s->kick);
        if (s->mhd)
                MHD_stop_daemon(s->mhd);
        if (s->too_large)
                MHD_destroy_response(s->too_large);
        for (size_t i = 0; i < REST_CACHE_SLOTS; i++)
                if (s->cache[i].resp)
                        MHD_destroy_response(s->cache[i].resp);
        free(s);
        return NULL;
}
