/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The HTTP faces (REST /v1 and OSB /v2) on libmicrohttpd, driven by the
 * daemon's sd-event loop: no thread of its own. Routes are data: each face
 * file exports a table of {method, pattern, auth, handler}; rest.c matches,
 * authenticates, reads the body (bounded), and turns the handler's answer or
 * CbError into JSON. Handlers only parse and call the core.
 */

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

#include "manager.h"
#include "page.h"

typedef enum RestAuth {
        REST_AUTH_NONE,
        REST_AUTH_BEARER, /* Authorization: Bearer TOKEN -> a config principal */
        REST_AUTH_OSB,    /* Authorization: Basic, the OSB platform credential */
} RestAuth;

#define REST_MAX_PARAMS 4

typedef struct RestRequest {
        Manager *manager;
        struct MHD_Connection *connection;
        const char *method;
        const char *path;
        const char *params[REST_MAX_PARAMS]; /* the {} segments of the pattern, in order */
        size_t n_params;
        const char *body; /* NUL-terminated; NULL when empty */
        size_t body_len;
        CbCaller caller;
        const struct RestRoute *route;
        void *pending; /* rest.c's per-request state */
} RestRequest;

/* A handler that answers later returns REST_ASYNC after rest_suspend(). */
#define REST_ASYNC 1
typedef struct RestAsync RestAsync;
RestAsync *rest_suspend(RestRequest *req);
/* The handle rest_suspend() will return, before suspending: for a callback
 * that is known to run on a later loop iteration. */
RestAsync *rest_async_handle(RestRequest *req);
/* Answers a suspended request (steals body). Call exactly once, from the loop. */
void rest_async_complete(RestAsync *a, unsigned status, json_t *body);
/* The Location header of the answer a suspended request will get. */
void rest_async_set_location(RestAsync *a, const char *location);
void rest_async_fail(RestAsync *a, const CbError *err);
/* Resumes a connection a streaming response's reader suspended (it had no
 * bytes yet) and serves it on the next loop iteration. From the loop. */
void rest_connection_resume(RestServer *s, struct MHD_Connection *connection);
/* Ends the streamed exports whose connections wait (rest-billing.c), before
 * libmicrohttpd stops (it refuses to with a suspended connection). */
void rest_billing_stop(void);

typedef struct RestReply {
        unsigned status;
        json_t *body;                  /* owned; serialized by rest.c */
        struct MHD_Response *response; /* or a ready response, borrowed (e.g. from the cache) */
        bool response_owned;           /* ...or made for this reply: rest.c destroys it once queued */
        char location[256];
} RestReply;

typedef int (*RestHandler)(RestRequest *req, RestReply *reply, CbError *err);

typedef struct RestRoute {
        const char *method;
        const char *pattern; /* "/v1/catalog/services/{id}" */
        RestAuth auth;
        RestHandler handler;
        const void *data; /* handed to the handler as req->route->data */
} RestRoute;

/* Route tables of the faces (rest-*.c, osb.c), each ended by {NULL}. */
extern const RestRoute rest_core_routes[];
extern const RestRoute rest_catalog_routes[];
extern const RestRoute rest_systems_routes[];
extern const RestRoute rest_incidents_routes[];
extern const RestRoute rest_projects_routes[];
extern const RestRoute rest_resources_routes[];
extern const RestRoute rest_billing_routes[];
extern const RestRoute rest_legacy_routes[];
extern const RestRoute rest_images_routes[];
extern const RestRoute osb_routes[];
extern const RestRoute osb_instance_routes[];
extern const RestRoute osb_binding_routes[];
/* All of the above in the order dispatch tries them (the first match of
 * path and method wins), ended by NULL. */
extern const RestRoute *const rest_route_tables[];

int rest_start(Manager *m, CbError *err);
RestServer *rest_free(RestServer *s);
/* The bound port (for listen ports of 0). */
unsigned rest_port(const RestServer *s);

/* Matches a decoded path against a route pattern, segment by segment:
 * literal segments must be equal, "{...}" captures one non-empty segment,
 * and the path may end in one extra "/". On a match the captures are copied
 * NUL-terminated into buf (bufsz bytes), *n_params of them (at most
 * REST_MAX_PARAMS) pointed to from params, in order; a capture never
 * contains '/'. No match, too many captures or a full buf: false. Pure, so
 * tests/fuzz can drive it without a server. */
bool rest_route_match(const char *pattern, const char *path, char *buf, size_t bufsz, const char **params,
                      size_t *n_params);

/* The route of rest_route_tables that serves method on a decoded path (HEAD
 * is served by GET), its captures as rest_route_match() makes them; NULL
 * when none does. Then *ret_path_known tells 405 (some route serves the
 * path with another method, listed in allow, "GET, HEAD, POST") from 404.
 * The first matching route wins, in table order. Pure, like the match. */
const RestRoute *rest_route_find(const char *method, const char *path, char *buf, size_t bufsz,
                                 const char **params, size_t *n_params, bool *ret_path_known, char *allow,
                                 size_t allow_size);

/* Prints "METHOD PATTERN" for every route, one a line (for the OpenAPI test). */
void rest_print_routes(FILE *f);

/* Parses the body as JSON; a malformed body fills err (CB_ERR_MALFORMED_JSON
 * with line and column) and an empty one CB_ERR_INVALID. */
int rest_body_json(RestRequest *req, json_t **ret, CbError *err);
const char *rest_header(RestRequest *req, const char *name);
/* RFC 7240 "Prefer: wait=N" (among other preferences, comma-separated):
 * how long, in seconds, the client would rather wait for an outcome than
 * poll for it, at most REST_PREFER_WAIT_MAX_S. 0 when absent or not
 * understood: a preference the server cannot read is ignored, never an
 * error (the answer is then what it is without one). */
#define REST_PREFER_WAIT_MAX_S 60
unsigned rest_parse_prefer_wait(const char *value);
unsigned rest_prefer_wait(RestRequest *req);
const char *rest_query(RestRequest *req, const char *name);

/* A response kept by the server across requests (e.g. the serialized
 * catalogue), valid while the generation it was made for is current. */
struct MHD_Response *rest_cache_get(RestServer *s, unsigned slot, uint64_t generation);
void rest_cache_put(RestServer *s, unsigned slot, uint64_t generation, struct MHD_Response *resp);
#define REST_CACHE_SLOTS 4
enum { REST_CACHE_CATALOG = 0, REST_CACHE_CATALOG_NOT_MODIFIED = 1 };

/* Sets the reply to status with a body (steals the reference). Returns 0. */
int rest_reply_json(RestReply *reply, unsigned status, json_t *body);

/* Sets the reply to status with a ready JSON text of len bytes (steals
 * text, which must come from malloc). 0, or -ENOMEM (text freed). */
int rest_reply_text(RestReply *reply, unsigned status, char *text, size_t len);

/* ?limit= and ?page_token= of a list route (page.h; 422 naming the field). */
/* Percent-decoding, in place, of the path and of each query key and value
 * (what libmicrohttpd's unescape callback gets): "%hh" with two hex digits
 * becomes that byte, anything else stays as it is. Returns the decoded
 * length, which may count NULs that %00 made; *ret_nul says whether there
 * were any (the daemon refuses such a request, 400). */
size_t rest_percent_decode(char *str, bool *ret_nul);

int rest_page(RestRequest *req, Page *ret, CbError *err);
/* 200 {member: items, "next_page_token": next} (no token on the last page);
 * steals items. */
int rest_reply_page(RestReply *reply, const char *member, json_t *items, const char *next);
