/* SPDX-License-Identifier: Apache-2.0 */
#include "bindings.h"

#include <stdio.h>
#include <sys/param.h> /* MIN */
#include <sys/random.h>
#include <systemd/sd-event.h>

#include "audit.h"
#include "catalog.h"
#include "log.h"
#include "operations-http.h"
#include "osb-poll.h"
#include "osb-params.h"
#include "resources-internal.h"

#define KEY_MAX 200

#define BINDING_COLUMNS                                                                                \
        "id, binding_key, resource_id, created_by, error, created_at, updated_at, deleted_at, state, " \
        "request_hash, credentials, phase, remote_operation, parameters"

void service_binding_done(ServiceBinding *b) {
        if (!b)
                return;
        free(b->mem_);
        json_decref(b->credentials);
        json_decref(b->parameters);
        *b = (ServiceBinding){ 0 };
}

ServiceBindingList *service_binding_list_free(ServiceBindingList *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                service_binding_done(&l->items[i]);
        free(l->items);
        free(l);
        return NULL;
}

/* What credentials are sealed under: their table and row, so they open nowhere else. */
static void credentials_ad(const char *id, char ret[96]) {
        snprintf(ret, 96, "service_bindings/%s/credentials", id);
}

/* The same for the parameters the department sent: a sealed value of one
 * column does not open as the other. */
static void parameters_ad(const char *id, char ret[96]) {
        snprintf(ret, 96, "service_bindings/%s/parameters", id);
}

/* Seals v (a JSON object) under ad into *ret; the plain text is wiped. */
static int seal_json(Resources *r, const char *ad, const json_t *v, char **ret) {
        char *plain = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        int q;
        if (!plain)
                return -ENOMEM;
        q = r->secrets ? secretbox_seal(r->secrets, ad, plain, strlen(plain), ret) : -ENOKEY;
        explicit_bzero(plain, strlen(plain));
        free(plain);
        return q < 0 ? q : 0;
}

/* Opens a value seal_json() made into *ret (a new reference). */
static int open_json(Resources *r, const char *ad, const char *sealed, json_t **ret) {
        _cleanup_(freep) char *plain = NULL;
        size_t len = 0;
        json_t *v;
        if (!r->secrets || !secretbox_is_sealed(sealed) ||
            secretbox_open(r->secrets, ad, sealed, &plain, &len) < 0)
                return -EBADMSG;
        v = json_loadb(plain, len, 0, NULL);
        explicit_bzero(plain, len);
        if (!v)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* The parameters sealed on a binding's row (NULL for none) into *ret. */
static int open_parameters(Resources *r, const char *id, const char *sealed, json_t **ret, CbError *err) {
        char ad[96];
        *ret = NULL;
        if (!sealed)
                return 0;
        parameters_ad(id, ad);
        if (open_json(r, ad, sealed, ret) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL,
                                    "the parameters of binding '%s' do not open under the secrets key "
                                    "(secrets.key): another key, or the row was altered",
                                    id);
        return 0;
}

/* The row where `where` (one of two) matches, with its hash, sealed
 * credentials, phase and token when asked for: 1, or 0 for none. */
typedef struct Row {
        char hash[72];
        char *sealed, *phase, *remote_operation, *sealed_parameters; /* malloc'd, or NULL */
} Row;

static void row_done(Row *w) {
        free(w->sealed);
        free(w->sealed_parameters);
        free(w->phase);
        free(w->remote_operation);
        *w = (Row){ 0 };
}

static int binding_query(Resources *r, const char *sql, const char *a, const char *b, ServiceBinding *ret,
                         Row *ret_row, CbError *err) {
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        ServiceBinding out = { 0 };
        Row w = { 0 };
        int q;

        q = b ? store_query(r->store, sql, STORE_ARGS(SA_TEXT(a), SA_TEXT(b)), &rows, "reading bindings", err)
              : store_query(r->store, sql, STORE_ARGS(SA_TEXT(a)), &rows, "reading bindings", err);
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q <= 0)
                return q;
        out.state = binding_state_from_string(store_rows_text(rows, 8));
        snprintf(w.hash, sizeof(w.hash), "%s", store_rows_text(rows, 9) ?: "");
        if ((store_rows_text(rows, 10) && !(w.sealed = strdup(store_rows_text(rows, 10)))) ||
            (store_rows_text(rows, 11) && !(w.phase = strdup(store_rows_text(rows, 11)))) ||
            (store_rows_text(rows, 12) && !(w.remote_operation = strdup(store_rows_text(rows, 12)))) ||
            (store_rows_text(rows, 13) && !(w.sealed_parameters = strdup(store_rows_text(rows, 13))))) {
                row_done(&w);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        q = store_rows_texts(rows,
                             (const StoreText[]){ { 0, &out.id },
                                                  { 1, &out.binding_key },
                                                  { 2, &out.resource_id },
                                                  { 3, &out.created_by },
                                                  { 4, &out.error },
                                                  { 5, &out.created_at },
                                                  { 6, &out.updated_at },
                                                  { 7, &out.deleted_at } },
                             8, &out.mem_);
        if (q < 0 || (int)out.state < 0) {
                row_done(&w);
                free(out.mem_);
                return q < 0 ? cb_error_set(err, CB_ERR_INTERNAL, "out of memory")
                             : cb_error_set(err, CB_ERR_INTERNAL, "a binding has an unknown state");
        }
        *ret = out;
        if (ret_row)
                *ret_row = w;
        else
                row_done(&w);
        return 1;
}

static int load_by_id(Resources *r, const char *id, ServiceBinding *ret, Row *ret_row, CbError *err) {
        static const char sql[] = "SELECT " BINDING_COLUMNS " FROM service_bindings WHERE id = ?1";
        return binding_query(r, sql, id, NULL, ret, ret_row, err);
}

static int load_by_key(Resources *r, const char *who, const char *key, ServiceBinding *ret, Row *ret_row,
                       CbError *err) {
        static const char sql[] =
                "SELECT " BINDING_COLUMNS " FROM service_bindings WHERE created_by = ?1 AND binding_key = ?2";
        return binding_query(r, sql, who, key, ret, ret_row, err);
}

/* Opens the sealed credentials into b (bound ones only), and the parameters
 * it was asked with (while they are kept: until it is unbound or failed). */
static int open_credentials(Resources *r, ServiceBinding *b, const Row *w, CbError *err) {
        _cleanup_(freep) char *plain = NULL;
        const char *sealed = w->sealed;
        char ad[96];
        size_t len = 0;

        if (open_parameters(r, b->id, w->sealed_parameters, &b->parameters, err) < 0)
                return -EBADMSG;
        if (b->state != BINDING_BOUND || !sealed)
                return 0;
        credentials_ad(b->id, ad);
        if (!r->secrets || !secretbox_is_sealed(sealed) ||
            secretbox_open(r->secrets, ad, sealed, &plain, &len) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL,
                                    "the credentials of binding '%s' do not open under the secrets key "
                                    "(secrets.key): another key, or the row was altered",
                                    b->id);
        b->credentials = json_loadb(plain, len, 0, NULL);
        explicit_bzero(plain, len);
        if (!b->credentials)
                return cb_error_set(err, CB_ERR_INTERNAL, "the credentials of binding '%s' are not JSON",
                                    b->id);
        return 0;
}

/* ---- the state machine: the shared poll (osb-poll.h) and a binding's own ---- */

typedef struct BindOp {
        OsbPoll poll; /* first: the OsbPoll * of a callback is the BindOp * */
        Resources *r;
        bool unbind;
        json_t *parameters;
        BindingAnswerFn answer; /* NULL once answered */
        void *userdata;
} BindOp;

static const OsbPollOps bind_poll_ops;

static void op_free(BindOp *op) {
        if (!op)
                return;
        osb_poll_done(&op->poll);
        json_decref(op->parameters);
        free(op);
}

/* Tells the caller that started it how the binding stands now (once). */
static void op_answer(BindOp *op, const CbError *failure) {
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        BindingAnswerFn answer = op->answer;
        CbError e = CB_ERROR_INIT;
        Row w = { 0 };
        int q;

        if (!answer)
                return;
        op->answer = NULL;
        q = load_by_id(op->r, op->poll.id, &b, &w, &e);
        if (q > 0 && !op->unbind && open_credentials(op->r, &b, &w, &e) < 0)
                q = -EIO;
        row_done(&w);
        if (q == 0)
                cb_error_set(&e, CB_ERR_INTERNAL, "binding '%s' vanished", op->poll.id);
        if (q <= 0 || e.kind != CB_ERR_NONE)
                answer(NULL, &e, op->userdata);
        else
                answer(&b, failure, op->userdata);
        cb_error_clear(&e);
}

typedef struct EndChange {
        const char *id, *now, *sealed, *error;
        BindingState state;
        bool deleted;
} EndChange;

static int end_change(Store *s, void *userdata, CbError *err) {
        const EndChange *c = userdata;
        return store_run(
                s,
                "UPDATE service_bindings SET state = ?1, credentials = ?2, error = ?3, updated_at = ?4, "
                "deleted_at = CASE WHEN ?5 = 1 THEN ?4 ELSE deleted_at END, phase = NULL, "
                "remote_operation = NULL, parameters = CASE WHEN ?7 = 1 THEN NULL ELSE parameters END "
                "WHERE id = ?6",
                STORE_ARGS(SA_TEXT(binding_state_to_string(c->state)), SA_TEXT(c->sealed), SA_TEXT(c->error),
                           SA_TEXT(c->now), SA_INT(c->deleted ? 1 : 0), SA_TEXT(c->id),
                           /* Kept only while the binding lives: an unbound or failed one is never resent. */
                           SA_INT(c->state == BINDING_UNBOUND || c->state == BINDING_FAILED ? 1 : 0)),
                "recording the binding", err);
}

/* The end of a bind or an unbind: the row and its audit record in one
 * transaction, then the caller's answer. */
static void op_end(BindOp *op, BindingState state, const json_t *credentials, const char *why) {
        _cleanup_(freep) char *sealed = NULL;
        CbError e = CB_ERROR_INIT, failure = CB_ERROR_INIT;
        char now[32], object[96];
        json_t *detail, *fields = json_array();
        const char *k;
        json_t *v;
        int q = 0;

        if (credentials) {
                /* Sealed before anything else sees them; only their names go further. */
                char *plain = json_dumps(credentials, JSON_COMPACT);
                char ad[96];
                credentials_ad(op->poll.id, ad);
                if (!plain || !op->r->secrets ||
                    secretbox_seal(op->r->secrets, ad, plain, strlen(plain), &sealed) < 0)
                        q = -EIO;
                if (plain) {
                        explicit_bzero(plain, strlen(plain));
                        free(plain);
                }
                if (q < 0) {
                        /* Credentials the broker cannot keep must not stay live at the provider. */
                        json_decref(fields);
                        osb_poll_mitigate(&op->poll, "the credentials could not be sealed (secrets key)");
                        return;
                }
                json_object_foreach((json_t *)credentials, k, v)
                        json_array_append_new(fields, json_string(k));
        }
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", op->poll.resource_id);
        detail = json_pack("{s:s, s:s, s:o, s:s*}", "binding", op->poll.id, "provider", op->poll.provider,
                           "credential_fields", fields, "error", why);
        /* A success is committed relaxed (store_relaxed_begin: written, not
         * yet fdatasync'd; the next durable commit, store_sync() at reconcile
         * or before an audit anchor makes it durable). Why that is safe: the
         * request record (state creating/unbinding, phase SEND) and the POLL
         * phase were durable before the provider was asked, so a power loss
         * that drops this commit leaves a binding that bindings_resume() asks
         * again on restart. OSB makes the repeat idempotent: the same binding
         * id PUT again answers 200 with the same credentials, a DELETE again
         * 410 Gone, which ends unbound; the outcome and its audit record are
         * then written again. A kill -9 loses nothing (the WAL frames are in
         * the kernel's cache). A failure stays durable: redoing it could turn
         * a refusal the department was shown into a binding. */
        if (!why)
                store_relaxed_begin(op->r->store);
        q = audit_change(op->r->store, NULL,
                         &(AuditEntry){ op->unbind ? "resource.unbind" : "resource.bind", object,
                                        why ? "failed" : "ok", NULL, detail },
                         end_change,
                         &(EndChange){ .id = op->poll.id,
                                       .now = now,
                                       .sealed = state == BINDING_BOUND ? sealed : NULL,
                                       .error = why,
                                       .state = state,
                                       .deleted = state == BINDING_UNBOUND },
                         &e);
        if (!why)
                store_relaxed_end(op->r->store);
        if (q < 0)
                log_error("binding %s: cannot record its end: %s", op->poll.id, e.message);
        json_decref(detail);
        cb_error_clear(&e);
        if (why) {
                log_warning("binding %s of %s: %s", op->poll.id, op->poll.resource_id, why);
                cb_error_set(&failure, CB_ERR_UNPROCESSABLE, "%s", why);
        }
        op_answer(op, why ? &failure : NULL);
        cb_error_clear(&failure);
        op_free(op);
}

/* Phases a restart must resume are saved; SEND and FETCH are simply repeated. */
static void op_save(OsbPoll *p) {
        CbError e = CB_ERROR_INIT;
        char now[32];
        if (p->phase == OSB_PHASE_FETCH)
                return;
        store_now(now);
        if (store_run(((BindOp *)p)->r->store,
                      "UPDATE service_bindings SET phase = ?1, remote_operation = ?2, updated_at = ?3 WHERE "
                      "id = ?4",
                      STORE_ARGS(SA_TEXT(osb_phase_to_string(p->phase)), SA_TEXT(p->remote_operation),
                                 SA_TEXT(now), SA_TEXT(p->id)),
                      "recording the provider's binding operation", &e) < 0)
                log_warning("binding %s: %s", p->id, e.message);
        cb_error_clear(&e);
}

static void end_with_credentials(BindOp *op, const DriverReply *reply) {
        json_t *none = json_object();
        const json_t *c = json_object_get(reply->body, "credentials");
        op_end(op, BINDING_BOUND, c ? c : none, NULL);
        json_decref(none);
}

static void on_bind_reply(BindOp *op, int r, const DriverReply *reply, const char *why) {
        char msg[600];
        switch (op->poll.phase) {
        case OSB_PHASE_SEND:
                if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        osb_poll_set_phase(&op->poll, OSB_PHASE_POLL, reply->operation);
                        op_answer(op, NULL);
                        osb_poll_again(&op->poll, reply);
                } else if (r >= 0)
                        end_with_credentials(op, reply);
                else if (osb_poll_retry(&op->poll, reply)) {
                        log_info("binding %s: %s; retrying", op->poll.id, why);
                        op_answer(op, NULL);
                } else if (reply->failure == DRIVER_FAILURE_REFUSED)
                        op_end(op, BINDING_FAILED, NULL, why);
                else /* unanswered, malformed, oversized: the PUT may have landed */
                        osb_poll_mitigate(&op->poll, why);
                return;
        case OSB_PHASE_POLL:
                switch (osb_poll_on_poll(&op->poll, r, reply)) {
                case OSB_POLL_WAITING:
                        return;
                case OSB_POLL_TIMED_OUT:
                        snprintf(msg, sizeof(msg),
                                 "the provider did not finish the binding within %u s "
                                 "(maximum_polling_duration)",
                                 op->poll.max_polling_s);
                        osb_poll_mitigate(&op->poll, msg);
                        return;
                case OSB_POLL_SUCCEEDED:
                        osb_poll_set_phase(&op->poll, OSB_PHASE_FETCH, NULL);
                        osb_poll_step(&op->poll);
                        return;
                case OSB_POLL_GONE:
                        op_end(op, BINDING_FAILED, NULL,
                               "the provider no longer knows the binding it was making");
                        return;
                case OSB_POLL_FAILED:
                        snprintf(msg, sizeof(msg), "the provider could not bind the instance%s%s",
                                 reply->description ? ": " : "", reply->description ?: "");
                        osb_poll_mitigate(&op->poll, msg);
                        return;
                case OSB_POLL_ERROR:
                        osb_poll_mitigate(&op->poll, why);
                        return;
                }
                return;
        case OSB_PHASE_FETCH:
                if (r >= 0 && reply->state == DRIVER_OP_SUCCEEDED)
                        end_with_credentials(op, reply);
                else if (r < 0 && osb_poll_retry(&op->poll, reply))
                        return;
                else
                        osb_poll_mitigate(&op->poll,
                                          r < 0 ? why
                                                : "the provider says bound but does not show the binding");
                return;
        default:
                return;
        }
}

static void on_unbind_reply(BindOp *op, int r, const DriverReply *reply, const char *why) {
        char msg[600];
        if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                if (op->poll.phase == OSB_PHASE_SEND)
                        osb_poll_set_phase(&op->poll, OSB_PHASE_POLL, reply->operation);
                else if (osb_poll_past_deadline(&op->poll)) {
                        snprintf(msg, sizeof(msg),
                                 "the provider did not finish the unbinding within %u s "
                                 "(maximum_polling_duration)",
                                 op->poll.max_polling_s);
                        op_end(op, BINDING_BOUND, NULL, msg);
                        return;
                }
                op->poll.tries = 0;
                op_answer(op, NULL);
                osb_poll_again(&op->poll, reply);
        } else if (r >= 0 && (reply->state == DRIVER_OP_SUCCEEDED || reply->state == DRIVER_OP_GONE))
                op_end(op, BINDING_UNBOUND, NULL, NULL);
        else if (r >= 0) {
                snprintf(msg, sizeof(msg), "the provider could not unbind%s%s",
                         reply->description ? ": " : "", reply->description ?: "");
                op_end(op, BINDING_BOUND, NULL, msg);
        } else if (osb_poll_retry(&op->poll, reply))
                op_answer(op, NULL);
        else
                /* Still bound: the department may try again. */
                op_end(op, BINDING_BOUND, NULL, why);
}

static void op_reply(OsbPoll *p, int r, const DriverReply *reply, const char *why) {
        BindOp *op = (BindOp *)p;
        if (op->unbind)
                on_unbind_reply(op, r, reply, why);
        else
                on_bind_reply(op, r, reply, why);
}

static int op_send(OsbPoll *p, Provider *prov, const DriverCallContext *ctx, CbError *err) {
        BindOp *op = (BindOp *)p;
        DriverRef ref = { .kind = DRIVER_OBJECT_VM, .resource_id = p->resource_id, .binding_id = p->id };
        switch (p->phase) {
        case OSB_PHASE_SEND:
                return op->unbind ? driver_unbind_async(prov->ops, prov->conn, &ref, ctx, osb_poll_on_reply,
                                                        p, err)
                                  : driver_bind_async(prov->ops, prov->conn, &ref, ctx, op->parameters,
                                                      osb_poll_on_reply, p, err);
        case OSB_PHASE_MITIGATE:
                return driver_unbind_async(prov->ops, prov->conn, &ref, ctx, osb_poll_on_reply, p, err);
        case OSB_PHASE_FETCH:
                return driver_fetch_async(prov->ops, prov->conn, &ref, ctx, osb_poll_on_reply, p, err);
        default:
                return driver_last_operation_async(prov->ops, prov->conn, &ref, ctx, p->remote_operation,
                                                   osb_poll_on_reply, p, err);
        }
}

static void op_send_failed(OsbPoll *p, int r, const char *msg) {
        BindOp *op = (BindOp *)p;
        (void)r;
        op_end(op, op->unbind ? BINDING_BOUND : BINDING_FAILED, NULL, msg);
}

static void op_cancelled(OsbPoll *p) {
        /* The daemon is stopping: the row stays where it was, for the next start. */
        op_free((BindOp *)p);
}

static void op_schedule_failed(OsbPoll *p, int r) {
        /* The row keeps its phase: the next reconcile resumes it. */
        log_error("binding %s: cannot schedule the next request: %s", p->id, strerror(-r));
}

static void op_mitigating(OsbPoll *p) {
        op_answer((BindOp *)p, NULL);
}

static void op_mitigated(OsbPoll *p) {
        char msg[sizeof(p->error) + 80];
        snprintf(msg, sizeof(msg), "%s (the binding was deleted at the provider)", p->error);
        op_end((BindOp *)p, BINDING_FAILED, NULL, msg);
}

static void op_stopping(OsbPoll *p) {
        BindOp *op = (BindOp *)p;
        if (op->answer) {
                CbError e = CB_ERROR_INIT;
                cb_error_set(&e, CB_ERR_UNAVAILABLE, "the daemon is stopping");
                op->answer(NULL, &e, op->userdata);
                op->answer = NULL;
                cb_error_clear(&e);
        }
}

static void op_free_poll(OsbPoll *p) {
        op_free((BindOp *)p);
}

static const OsbPollOps bind_poll_ops = {
        .what = "binding",
        .object = "it",
        .send = op_send,
        .send_failed = op_send_failed,
        .reply = op_reply,
        .cancelled = op_cancelled,
        .schedule_failed = op_schedule_failed,
        .save = op_save,
        .mitigating = op_mitigating,
        .mitigated = op_mitigated,
        .stopping = op_stopping,
        .free = op_free_poll,
};

/* Starts the state machine of binding id on res (its provider and plan). */
static int op_start(Resources *r, const Resource *res, const char *id, const char *principal, bool unbind,
                    const json_t *parameters, const Row *row, BindingAnswerFn answer, void *userdata,
                    CbError *err) {
        _cleanup_(json_decrefp) json_t *spec = resources_plan_spec(r, res);
        Provider *p = res->provider ? providers_find(r->providers, res->provider) : NULL;
        BindOp *op;

        if (!p)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "no provider '%s'", res->provider ?: "");
        if (!spec)
                return cb_error_set(err, CB_ERR_UNAVAILABLE,
                                    "the plan '%s' of resource '%s' is not in the catalogue", res->plan_id,
                                    res->id);
        op = calloc(1, sizeof(*op));
        if (!op)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        op->r = r;
        op->unbind = unbind;
        op->answer = answer;
        op->userdata = userdata;
        op->parameters = parameters ? json_deep_copy(parameters) : NULL;
        if ((parameters && !op->parameters) ||
            osb_poll_init(&op->poll, &bind_poll_ops, r->providers, id, res, principal,
                          jstr(spec, "remote_service_id"), jstr(spec, "remote_plan_id"),
                          row ? row->phase : NULL, row ? row->remote_operation : NULL) < 0) {
                op_free(op);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        if (op->poll.phase == OSB_PHASE_MITIGATE || op->poll.phase == OSB_PHASE_MITIGATE_POLL)
                snprintf(op->poll.error, sizeof(op->poll.error),
                         "the binding failed before the daemon restarted");
        osb_poll_start(&op->poll);
        return 0;
}

/* ---- the core functions ---- */

static int require_service(const Resource *res, CbError *err) {
        if (res->kind != RESOURCE_KIND_SERVICE)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource",
                                          "resource '%s' is not a service of an http provider: "
                                          "only those have bindings here",
                                          res->id);
        return 0;
}

/* The resource as the caller may see it, a service one. */
static int load_service(Resources *r, const CbCaller *caller, const char *resource_id, Resource *ret,
                        CbError *err) {
        int q = resources_get(r, caller, resource_id, ret, err);
        if (q < 0)
                return q;
        q = require_service(ret, err);
        if (q < 0) {
                resource_done(ret);
                return q;
        }
        return 0;
}

/* known (the record a face read with resources_get for the same caller in
 * this turn of the loop, so the same one) or, NULL, resource_id read into
 * *own; *ret points at whichever. Saves a face that has the record a
 * second read of it. */
static int known_or_load_service(Resources *r, const CbCaller *caller, const char *resource_id,
                                 const Resource *known, Resource *own, const Resource **ret, CbError *err) {
        int q;
        if (known) {
                q = require_service(known, err);
                if (q < 0)
                        return q;
                *ret = known;
                return 0;
        }
        q = load_service(r, caller, resource_id, own, err);
        if (q < 0)
                return q;
        *ret = own;
        return 0;
}

static bool service_bindable(Resources *r, const Resource *res) {
        json_t *svc = NULL;
        bool b;
        if (catalog_get_revision(projects_catalog(r->projects), res->service_id, res->catalog_revision,
                                 &svc) < 0)
                return false;
        b = json_is_true(json_object_get(svc, "bindable"));
        json_decref(svc);
        return b;
}

typedef struct NewBinding {
        const char *id, *resource_id, *key, *who, *hash, *now, *sealed_parameters;
} NewBinding;

static int new_binding_change(Store *s, void *userdata, CbError *err) {
        const NewBinding *c = userdata;
        return store_run(
                s,
                "INSERT INTO service_bindings (id, resource_id, binding_key, created_by, request_hash, "
                "state, phase, created_at, updated_at, parameters) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                "?8, "
                "?9)",
                STORE_ARGS(SA_TEXT(c->id), SA_TEXT(c->resource_id), SA_TEXT(c->key), SA_TEXT(c->who),
                           SA_TEXT(c->hash), SA_TEXT(binding_state_to_string(BINDING_CREATING)),
                           SA_TEXT(osb_phase_to_string(OSB_PHASE_SEND)), SA_TEXT(c->now),
                           SA_TEXT(c->sealed_parameters)),
                "recording the binding", err);
}

/* What the provider's catalogue says of binding res's plan: refused when its
 * service or plan is not bindable (a plan's word overrides its service's, as
 * in OSB), else parameters (NULL: none) held against its schema. */
static int provider_takes_binding(Resources *r, const Resource *res, const json_t *parameters, CbError *err) {
        _cleanup_(json_decrefp) json_t *spec = resources_plan_spec(r, res);
        _cleanup_(json_decrefp) json_t *none = NULL;
        Provider *p = providers_find(r->providers, res->provider);
        const json_t *svc = NULL, *plan, *bindable;

        plan = p && spec ? http_offered_plan(p, jstr(spec, "remote_service_id"), jstr(spec, "remote_plan_id"),
                                             &svc)
                         : NULL;
        if (!plan)
                return 0; /* not read yet, or gone: the provider itself answers the PUT */
        bindable = json_object_get(plan, "bindable");
        if (!json_is_boolean(bindable))
                bindable = json_object_get(svc, "bindable");
        if (json_is_false(bindable))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource",
                                          "plan '%s' of resource '%s' is not bindable (provider '%s' says "
                                          "bindable: false for its plan '%s')",
                                          res->plan_id, res->id, res->provider, jstr(spec, "remote_plan_id"));
        if (!osb_plan_params_schema(plan, "service_binding"))
                return 0;
        if (!parameters && !(parameters = none = json_object()))
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return osb_params_check(parameters, osb_plan_params_schema(plan, "service_binding"), err);
}

/* The names of parameters' members (what the audit record shows of them), or NULL. */
static json_t *parameter_names(const json_t *parameters) {
        json_t *names, *v;
        const char *k;
        if (!parameters)
                return NULL;
        names = json_array();
        json_object_foreach((json_t *)parameters, k, v) json_array_append_new(names, json_string(k));
        return names;
}

static int bind_on(Resources *r, const CbCaller *caller, const char *resource_id, const Resource *known,
                   const char *binding_key, const json_t *parameters, const char *request_hash,
                   BindingAnswerFn answer, void *userdata, ServiceBinding *ret, bool *ret_pending,
                   CbError *err) {
        _cleanup_(resource_done) Resource own = { 0 };
        const Resource *res = NULL;
        _cleanup_(service_binding_done) ServiceBinding old = { 0 };
        _cleanup_(row_done) Row w = { 0 };
        _cleanup_(freep) char *sealed_parameters = NULL;
        char id[64], now[32], object[96];
        json_t *detail;
        int q;

        q = resources_random_id("sb-", id, sizeof(id));
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        if (!binding_key)
                binding_key = id; /* without a key of its own, each request is a new binding */
        if (!request_hash)
                request_hash = "-"; /* nothing asked but the binding itself */
        if (isempty(binding_key) || strlen(binding_key) > KEY_MAX)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "binding_id", "binding_id: 1 to %d bytes",
                                          KEY_MAX);
        if (parameters) {
                q = osb_params_check(parameters, NULL, err);
                if (q < 0)
                        return q;
        }
        if (parameters && json_object_size(parameters) == 0)
                parameters = NULL; /* {} asks nothing: the same as none */
        q = known_or_load_service(r, caller, resource_id, known, &own, &res, err);
        if (q < 0)
                return q;
        if (!caller_in_department(caller, res->department))
                return cb_error_set(
                        err, CB_ERR_FORBIDDEN,
                        "only department %s binds its resource '%s' (its credentials are its own)",
                        res->department, resource_id);
        q = load_by_key(r, caller->principal->name, binding_key, &old, &w, err);
        if (q < 0)
                return q;
        if (q > 0) {
                _cleanup_(json_decrefp) json_t *old_params = NULL;
                if (open_parameters(r, old.id, w.sealed_parameters, &old_params, err) < 0)
                        return -EBADMSG;
                if (!streq(old.resource_id, resource_id) || !streq(w.hash, request_hash) ||
                    (old_params || parameters) != (old_params && parameters) ||
                    (old_params && !json_equal(old_params, (json_t *)parameters)))
                        return cb_error_set(err, CB_ERR_CONFLICT, "binding '%s' exists with other attributes",
                                            binding_key);
                if (old.state == BINDING_FAILED || old.state == BINDING_UNBOUND ||
                    old.state == BINDING_UNBINDING)
                        return cb_error_set(err, CB_ERR_CONFLICT, "binding '%s' is %s: its id is not reused",
                                            binding_key, binding_state_to_string(old.state));
                q = open_credentials(r, &old, &w, err);
                if (q < 0)
                        return q;
                *ret = old;
                old = (ServiceBinding){ 0 };
                *ret_pending = false;
                return 0;
        }
        if (res->state != RESOURCE_ACTIVE)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource '%s' is %s: it can be bound once active",
                                    resource_id, resource_state_to_string(res->state));
        if (!service_bindable(r, res))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource",
                                          "service '%s' is not bindable (the catalogue says bindable: false)",
                                          res->service_id);
        if (!r->secrets)
                return cb_error_set(
                        err, CB_ERR_UNAVAILABLE,
                        "the broker has no secrets key (secrets.key or the secrets-key credential): "
                        "it cannot keep a binding's credentials");
        if (!res->provider || !providers_find(r->providers, res->provider))
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "resource '%s' has no provider to bind it at",
                                    resource_id);
        q = provider_takes_binding(r, res, parameters, err);
        if (q < 0)
                return q;
        if (parameters) {
                char ad[96];
                parameters_ad(id, ad);
                if (seal_json(r, ad, parameters, &sealed_parameters) < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL,
                                            "the parameters could not be sealed (secrets key)");
        }
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", resource_id);
        /* The parameters may hold secrets: the record names them, no more. */
        detail = json_pack("{s:s, s:s, s:s, s:o*}", "binding", id, "binding_key", binding_key, "state",
                           binding_state_to_string(BINDING_CREATING), "parameter_names",
                           parameter_names(parameters));
        q = audit_change(r->store, caller,
                         &(AuditEntry){ "resource.bind_request", object, "ok", NULL, detail },
                         new_binding_change,
                         &(NewBinding){ .id = id,
                                        .resource_id = resource_id,
                                        .key = binding_key,
                                        .who = caller->principal->name,
                                        .hash = request_hash,
                                        .now = now,
                                        .sealed_parameters = sealed_parameters },
                         err);
        json_decref(detail);
        if (q < 0)
                return q;
        q = op_start(r, res, id, caller->principal->name, false, parameters, NULL, answer, userdata, err);
        if (q < 0) {
                /* Nothing was asked of the provider: the binding did not happen. */
                CbError e = CB_ERROR_INIT;
                store_run(r->store,
                          "UPDATE service_bindings SET state = ?1, error = ?2, phase = NULL WHERE id = ?3",
                          STORE_ARGS(SA_TEXT(binding_state_to_string(BINDING_FAILED)), SA_TEXT(err->message),
                                     SA_TEXT(id)),
                          "recording the binding", &e);
                cb_error_clear(&e);
                return q;
        }
        *ret_pending = true;
        return 0;
}

int resource_bind(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
                  const json_t *parameters, const char *request_hash, BindingAnswerFn answer, void *userdata,
                  ServiceBinding *ret, bool *ret_pending, CbError *err) {
        return bind_on(r, caller, resource_id, NULL, binding_key, parameters, request_hash, answer, userdata,
                       ret, ret_pending, err);
}

int resource_bind_known(Resources *r, const CbCaller *caller, const Resource *res, const char *binding_key,
                        const json_t *parameters, const char *request_hash, BindingAnswerFn answer,
                        void *userdata, ServiceBinding *ret, bool *ret_pending, CbError *err) {
        return bind_on(r, caller, res->id, res, binding_key, parameters, request_hash, answer, userdata, ret,
                       ret_pending, err);
}

/* The binding of resource_id the caller names, and the resource. */
static int find_binding_of(Resources *r, const CbCaller *caller, const char *resource_id, const char *id,
                           bool by_key, ServiceBinding *ret, Row *ret_row, CbError *err) {
        int q = by_key ? load_by_key(r, caller->principal->name, id, ret, ret_row, err)
                       : load_by_id(r, id, ret, ret_row, err);
        if (q < 0)
                return q;
        if (q == 0 || !streq(ret->resource_id, resource_id)) {
                if (q > 0) {
                        service_binding_done(ret);
                        row_done(ret_row);
                }
                return cb_error_set(err, CB_ERR_NOT_FOUND, "resource '%s' has no binding '%s'", resource_id,
                                    id);
        }
        return 0;
}

static int find_binding(Resources *r, const CbCaller *caller, const char *resource_id, const char *id,
                        bool by_key, Resource *ret_res, ServiceBinding *ret, Row *ret_row, CbError *err) {
        int q = load_service(r, caller, resource_id, ret_res, err);
        if (q < 0)
                return q;
        q = find_binding_of(r, caller, resource_id, id, by_key, ret, ret_row, err);
        if (q < 0) {
                resource_done(ret_res);
                return q;
        }
        return 0;
}

int resource_binding_get(Resources *r, const CbCaller *caller, const char *resource_id, const char *id,
                         bool by_key, ServiceBinding *ret, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        _cleanup_(row_done) Row w = { 0 };
        int q = find_binding(r, caller, resource_id, id, by_key, &res, &b, &w, err);
        if (q < 0)
                return q;
        if (caller_in_department(caller, res.department)) {
                q = open_credentials(r, &b, &w, err);
                if (q < 0)
                        return q;
        }
        *ret = b;
        b = (ServiceBinding){ 0 };
        return 0;
}

int resource_bindings_list(Resources *r, const CbCaller *caller, const char *resource_id,
                           ServiceBindingList **ret, CbError *err) {
        static const char sql[] =
                "SELECT " BINDING_COLUMNS
                " FROM service_bindings WHERE resource_id = ?1 ORDER BY created_at DESC, id";
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(service_binding_list_freep) ServiceBindingList *l = NULL;
        size_t cap = 0;
        int q = load_service(r, caller, resource_id, &res, err);

        if (q < 0)
                return q;
        l = calloc(1, sizeof(*l));
        if (!l)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        q = store_query(r->store, sql, STORE_ARGS(SA_TEXT(resource_id)), &rows, "reading bindings", err);
        while (q >= 0 && (q = store_rows_next(rows, err)) > 0) {
                ServiceBinding *b;
                if (l->n == cap) {
                        size_t c = cap ? cap * 2 : 8;
                        ServiceBinding *v = reallocarray(l->items, c, sizeof(*v));
                        if (!v)
                                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        l->items = v;
                        cap = c;
                }
                b = &l->items[l->n];
                *b = (ServiceBinding){ .state = binding_state_from_string(store_rows_text(rows, 8)) };
                /* The listing never holds credentials nor parameters: their
                 * columns are not read, whoever asks. */
                q = store_rows_texts(rows,
                                     (const StoreText[]){ { 0, &b->id },
                                                          { 1, &b->binding_key },
                                                          { 2, &b->resource_id },
                                                          { 3, &b->created_by },
                                                          { 4, &b->error },
                                                          { 5, &b->created_at },
                                                          { 6, &b->updated_at },
                                                          { 7, &b->deleted_at } },
                                     8, &b->mem_);
                if (q < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                l->n++;
                /* As binding_query() judges it (the schema's CHECK allows no such row). */
                if ((int)b->state < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "a binding has an unknown state");
        }
        if (q < 0)
                return q;
        *ret = TAKE_PTR(l);
        return 0;
}

typedef struct UnbindChange {
        const char *id, *now;
} UnbindChange;

static int unbind_change(Store *s, void *userdata, CbError *err) {
        const UnbindChange *c = userdata;
        return store_run(
                s,
                "UPDATE service_bindings SET state = ?1, phase = ?2, remote_operation = NULL, error = NULL, "
                "updated_at = ?3 WHERE id = ?4 AND state = ?5",
                STORE_ARGS(SA_TEXT(binding_state_to_string(BINDING_UNBINDING)),
                           SA_TEXT(osb_phase_to_string(OSB_PHASE_SEND)), SA_TEXT(c->now), SA_TEXT(c->id),
                           SA_TEXT(binding_state_to_string(BINDING_BOUND))),
                "recording the unbinding", err);
}

static int unbind_on(Resources *r, const CbCaller *caller, const char *resource_id, const Resource *known,
                     const char *id, bool by_key, BindingAnswerFn answer, void *userdata, ServiceBinding *ret,
                     bool *ret_pending, CbError *err) {
        _cleanup_(resource_done) Resource own = { 0 };
        const Resource *res = NULL;
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        _cleanup_(row_done) Row w = { 0 };
        char now[32], object[96];
        json_t *detail;
        int q;

        q = known_or_load_service(r, caller, resource_id, known, &own, &res, err);
        if (q < 0)
                return q;
        q = find_binding_of(r, caller, resource_id, id, by_key, &b, &w, err);
        if (q < 0)
                return q;
        q = caller_require_department(caller, res->department, RESOURCE_ACTORS, "unbind a resource", err);
        if (q < 0)
                return q;
        if (b.state == BINDING_UNBOUND || b.state == BINDING_FAILED)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "binding '%s' is %s already", id,
                                    binding_state_to_string(b.state));
        if (b.state != BINDING_BOUND)
                return cb_error_set(err, CB_ERR_CONFLICT, "binding '%s' is %s: unbind it once that is done",
                                    id, binding_state_to_string(b.state));
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", resource_id);
        detail = json_pack("{s:s, s:s}", "binding", b.id, "binding_key", b.binding_key);
        q = audit_change(r->store, caller,
                         &(AuditEntry){ "resource.unbind_request", object, "ok", NULL, detail },
                         unbind_change, &(UnbindChange){ .id = b.id, .now = now }, err);
        json_decref(detail);
        if (q < 0)
                return q;
        q = op_start(r, res, b.id, b.created_by, true, NULL, NULL, answer, userdata, err);
        if (q < 0) {
                CbError e = CB_ERROR_INIT;
                store_run(r->store,
                          "UPDATE service_bindings SET state = ?1, error = ?2, phase = NULL WHERE id = ?3",
                          STORE_ARGS(SA_TEXT(binding_state_to_string(BINDING_BOUND)), SA_TEXT(err->message),
                                     SA_TEXT(b.id)),
                          "recording the unbinding", &e);
                cb_error_clear(&e);
                return q;
        }
        (void)ret;
        *ret_pending = true;
        return 0;
}

int resource_unbind(Resources *r, const CbCaller *caller, const char *resource_id, const char *id,
                    bool by_key, BindingAnswerFn answer, void *userdata, ServiceBinding *ret,
                    bool *ret_pending, CbError *err) {
        return unbind_on(r, caller, resource_id, NULL, id, by_key, answer, userdata, ret, ret_pending, err);
}

int resource_unbind_known(Resources *r, const CbCaller *caller, const Resource *res, const char *id,
                          bool by_key, BindingAnswerFn answer, void *userdata, ServiceBinding *ret,
                          bool *ret_pending, CbError *err) {
        return unbind_on(r, caller, res->id, res, id, by_key, answer, userdata, ret, ret_pending, err);
}

void bindings_resume(Resources *r, Provider *p) {
        static const char sql[] = "SELECT b.id, b.resource_id, b.created_by, b.state, b.phase, "
                                  "b.remote_operation, b.parameters "
                                  "FROM service_bindings b JOIN resources res ON res.id = b.resource_id "
                                  "WHERE res.provider = ?1 AND b.state IN (?2, ?3) ORDER BY b.id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        CbError err = CB_ERROR_INIT;
        struct Open {
                char id[64], resource_id[64], who[256], phase[16], token[1100];
                char *sealed_parameters; /* malloc'd, or NULL */
                bool unbind;
        } *open = NULL;
        size_t n = 0;
        int q;

        q = store_query(r->store, sql,
                        STORE_ARGS(SA_TEXT(p->name), SA_TEXT(binding_state_to_string(BINDING_CREATING)),
                                   SA_TEXT(binding_state_to_string(BINDING_UNBINDING))),
                        &rows, "reading open bindings", &err);
        while (q >= 0 && (q = store_rows_next(rows, &err)) > 0) {
                struct Open *t;
                if (osb_poll_find(&bind_poll_ops, store_rows_text(rows, 0)))
                        continue;
                t = realloc(open, (n + 1) * sizeof(*open));
                if (!t)
                        break;
                open = t;
                snprintf(open[n].id, sizeof(open[n].id), "%s", store_rows_text(rows, 0));
                snprintf(open[n].resource_id, sizeof(open[n].resource_id), "%s", store_rows_text(rows, 1));
                snprintf(open[n].who, sizeof(open[n].who), "%s", store_rows_text(rows, 2));
                open[n].unbind =
                        streq_ptr(store_rows_text(rows, 3), binding_state_to_string(BINDING_UNBINDING));
                snprintf(open[n].phase, sizeof(open[n].phase), "%s", store_rows_text(rows, 4) ?: "send");
                snprintf(open[n].token, sizeof(open[n].token), "%s", store_rows_text(rows, 5) ?: "");
                open[n].sealed_parameters =
                        store_rows_text(rows, 6) ? strdup(store_rows_text(rows, 6)) : NULL;
                n++;
        }
        store_rows_done(rows);
        rows = NULL;
        cb_error_clear(&err);
        for (size_t i = 0; i < n; i++) {
                _cleanup_(resource_done) Resource res = { 0 };
                _cleanup_(json_decrefp) json_t *params = NULL;
                _cleanup_(freep) char *sealed_parameters = open[i].sealed_parameters;
                Row w = { .phase = open[i].phase,
                          .remote_operation = open[i].token[0] ? open[i].token : NULL };
                if (resources_record(r, open[i].resource_id, &res) < 0)
                        continue;
                /* A bind asked again carries what it was asked with. */
                if (!open[i].unbind && open_parameters(r, open[i].id, sealed_parameters, &params, &err) < 0) {
                        log_warning("binding %s: cannot resume: %s", open[i].id, err.message);
                        cb_error_clear(&err);
                        continue;
                }
                log_info("binding %s: resuming its %s at phase %s with provider %s", open[i].id,
                         open[i].unbind ? "unbinding" : "binding", open[i].phase, p->name);
                if (op_start(r, &res, open[i].id, open[i].who, open[i].unbind, params, &w, NULL, NULL, &err) <
                    0)
                        log_warning("binding %s: cannot resume: %s", open[i].id, err.message);
                cb_error_clear(&err);
        }
        free(open);
}

void bindings_cancel_all(void) {
        osb_poll_cancel_all(&bind_poll_ops);
}
