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
#include "osb-params.h"
#include "resources-internal.h"

#define RETRY_FIRST_USEC  500000ULL
#define RETRY_MAX_USEC    30000000ULL
#define RETRY_TRIES       6
#define POLL_DEFAULT_USEC 1000000ULL
#define POLL_RA_CAP_S     300
#define KEY_MAX           200

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

json_t *service_binding_to_json(const ServiceBinding *b) {
        return json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s, s:s, s:s, s:s*, s:O*, s:O*}", "id", b->id,
                         "binding_id", b->binding_key, "resource_id", b->resource_id, "state",
                         binding_state_to_string(b->state), "error", b->error, "created_by", b->created_by,
                         "created_at", b->created_at, "updated_at", b->updated_at, "deleted_at",
                         b->deleted_at, "credentials", b->credentials, "parameters", b->parameters);
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

/* ---- the state machine ---- */

typedef enum Phase {
        PHASE_SEND,          /* PUT (bind) or DELETE (unbind) */
        PHASE_POLL,          /* the binding's last_operation */
        PHASE_FETCH,         /* GET the binding: its credentials, after an asynchronous bind */
        PHASE_MITIGATE,      /* DELETE after a failed bind */
        PHASE_MITIGATE_POLL, /* last_operation of that DELETE */
        _PHASE_MAX,
} Phase;

static const char *const phase_names[_PHASE_MAX] = { "send", "poll", "fetch", "mitigate", "mitigate_poll" };

typedef struct BindOp BindOp;
struct BindOp {
        BindOp *prev, *next;
        Resources *r;
        char id[64], resource_id[64], provider[64];
        bool unbind;
        Phase phase;
        char *remote_operation;
        char *principal, *department, *project_id, *approval_no, *system_id;
        char *remote_service_id, *remote_plan_id;
        json_t *parameters;
        uint64_t poll_deadline_usec;
        unsigned max_polling_s, tries;
        sd_event_source *timer;
        bool in_flight, detached;
        char error[512];
        BindingAnswerFn answer; /* NULL once answered */
        void *userdata;
};

static BindOp *ops_head;

static bool op_running(const char *id) {
        for (BindOp *op = ops_head; op; op = op->next)
                if (streq(op->id, id))
                        return true;
        return false;
}

static void op_unlink(BindOp *op) {
        if (op->prev)
                op->prev->next = op->next;
        else if (ops_head == op)
                ops_head = op->next;
        if (op->next)
                op->next->prev = op->prev;
        op->prev = op->next = NULL;
}

static void op_free(BindOp *op) {
        if (!op)
                return;
        op_unlink(op);
        sd_event_source_disable_unref(op->timer);
        free(op->remote_operation);
        free(op->principal);
        free(op->department);
        free(op->project_id);
        free(op->approval_no);
        free(op->system_id);
        free(op->remote_service_id);
        free(op->remote_plan_id);
        json_decref(op->parameters);
        free(op);
}

static uint64_t now_usec(void) {
        sd_event *e = NULL;
        uint64_t t = 0;
        if (sd_event_default(&e) >= 0) {
                sd_event_now(e, CLOCK_MONOTONIC, &t);
                sd_event_unref(e);
        }
        return t;
}

static uint64_t backoff_usec(unsigned tries) {
        uint64_t d = RETRY_FIRST_USEC << MIN(tries, 16U);
        return MIN(d, RETRY_MAX_USEC);
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
        q = load_by_id(op->r, op->id, &b, &w, &e);
        if (q > 0 && !op->unbind && open_credentials(op->r, &b, &w, &e) < 0)
                q = -EIO;
        row_done(&w);
        if (q == 0)
                cb_error_set(&e, CB_ERR_INTERNAL, "binding '%s' vanished", op->id);
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

static void op_mitigate(BindOp *op, const char *why);

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
                credentials_ad(op->id, ad);
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
                        op_mitigate(op, "the credentials could not be sealed (secrets key)");
                        return;
                }
                json_object_foreach((json_t *)credentials, k, v)
                        json_array_append_new(fields, json_string(k));
        }
        store_now(now);
        snprintf(object, sizeof(object), "resource:%s", op->resource_id);
        detail = json_pack("{s:s, s:s, s:o, s:s*}", "binding", op->id, "provider", op->provider,
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
                         &(EndChange){ .id = op->id,
                                       .now = now,
                                       .sealed = state == BINDING_BOUND ? sealed : NULL,
                                       .error = why,
                                       .state = state,
                                       .deleted = state == BINDING_UNBOUND },
                         &e);
        if (!why)
                store_relaxed_end(op->r->store);
        if (q < 0)
                log_error("binding %s: cannot record its end: %s", op->id, e.message);
        json_decref(detail);
        cb_error_clear(&e);
        if (why) {
                log_warning("binding %s of %s: %s", op->id, op->resource_id, why);
                cb_error_set(&failure, CB_ERR_UNPROCESSABLE, "%s", why);
        }
        op_answer(op, why ? &failure : NULL);
        cb_error_clear(&failure);
        op_free(op);
}

static void op_save(BindOp *op) {
        CbError e = CB_ERROR_INIT;
        char now[32];
        store_now(now);
        if (store_run(op->r->store,
                      "UPDATE service_bindings SET phase = ?1, remote_operation = ?2, updated_at = ?3 WHERE "
                      "id = ?4",
                      STORE_ARGS(SA_TEXT(phase_names[op->phase]), SA_TEXT(op->remote_operation), SA_TEXT(now),
                                 SA_TEXT(op->id)),
                      "recording the provider's binding operation", &e) < 0)
                log_warning("binding %s: %s", op->id, e.message);
        cb_error_clear(&e);
}

static void op_step(BindOp *op);

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        BindOp *op = userdata;
        (void)s;
        (void)usec;
        op->timer = sd_event_source_disable_unref(op->timer);
        op_step(op);
        return 0;
}

static void op_schedule(BindOp *op, uint64_t delay_usec) {
        sd_event *e = NULL;
        int r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_time(e, &op->timer, CLOCK_MONOTONIC, now_usec() + delay_usec,
                                      delay_usec ? 10000 : 1, on_timer, op);
        sd_event_unref(e);
        if (r < 0)
                /* The row keeps its phase: the next reconcile resumes it. */
                log_error("binding %s: cannot schedule the next request: %s", op->id, strerror(-r));
}

/* Phases a restart must resume are saved; SEND and FETCH are simply repeated. */
static void op_set_phase(BindOp *op, Phase phase, const char *remote_operation) {
        op->phase = phase;
        op->tries = 0;
        free(op->remote_operation);
        op->remote_operation = remote_operation ? strdup(remote_operation) : NULL;
        if (phase == PHASE_POLL || phase == PHASE_MITIGATE_POLL)
                op->poll_deadline_usec = now_usec() + (uint64_t)op->max_polling_s * 1000000ULL;
        if (phase != PHASE_FETCH)
                op_save(op);
}

static void op_mitigate(BindOp *op, const char *why) {
        if (!op->error[0])
                snprintf(op->error, sizeof(op->error), "%s", why);
        log_warning("binding %s: %s; deleting it at provider %s (orphan mitigation)", op->id, why,
                    op->provider);
        op_set_phase(op, PHASE_MITIGATE, NULL);
        op_answer(op, NULL);
        op_step(op);
}

static uint64_t poll_delay(const DriverReply *reply) {
        if (reply->retry_after_s > 0)
                return (uint64_t)MIN(reply->retry_after_s, (unsigned)POLL_RA_CAP_S) * 1000000ULL;
        return POLL_DEFAULT_USEC;
}

static bool retryable(const DriverReply *reply) {
        return reply->failure == DRIVER_FAILURE_TRANSPORT || reply->failure == DRIVER_FAILURE_SERVER;
}

static void mitigated(BindOp *op) {
        char msg[sizeof(op->error) + 80];
        snprintf(msg, sizeof(msg), "%s (the binding was deleted at the provider)", op->error);
        op_end(op, BINDING_FAILED, NULL, msg);
}

static const json_t *reply_credentials(const DriverReply *reply) {
        return json_object_get(reply->body, "credentials");
}

static void on_bind_reply(BindOp *op, int r, const DriverReply *reply, const char *why) {
        char msg[600];
        switch (op->phase) {
        case PHASE_SEND:
                if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        op_set_phase(op, PHASE_POLL, reply->operation);
                        op_answer(op, NULL);
                        op_schedule(op, poll_delay(reply));
                } else if (r >= 0) {
                        json_t *none = json_object();
                        const json_t *c = reply_credentials(reply);
                        op_end(op, BINDING_BOUND, c ? c : none, NULL);
                        json_decref(none);
                } else if (retryable(reply) && ++op->tries < RETRY_TRIES) {
                        log_info("binding %s: %s; retrying", op->id, why);
                        op_answer(op, NULL);
                        op_schedule(op, backoff_usec(op->tries - 1));
                } else if (reply->failure == DRIVER_FAILURE_REFUSED)
                        op_end(op, BINDING_FAILED, NULL, why);
                else /* unanswered, malformed, oversized: the PUT may have landed */
                        op_mitigate(op, why);
                return;
        case PHASE_POLL:
                if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        if (now_usec() >= op->poll_deadline_usec) {
                                snprintf(msg, sizeof(msg),
                                         "the provider did not finish the binding within %u s "
                                         "(maximum_polling_duration)",
                                         op->max_polling_s);
                                op_mitigate(op, msg);
                                return;
                        }
                        op->tries = 0;
                        op_schedule(op, poll_delay(reply));
                } else if (r >= 0 && reply->state == DRIVER_OP_SUCCEEDED) {
                        op_set_phase(op, PHASE_FETCH, NULL);
                        op_step(op);
                } else if (r >= 0 && reply->state == DRIVER_OP_GONE)
                        op_end(op, BINDING_FAILED, NULL,
                               "the provider no longer knows the binding it was making");
                else if (r >= 0) {
                        snprintf(msg, sizeof(msg), "the provider could not bind the instance%s%s",
                                 reply->description ? ": " : "", reply->description ?: "");
                        op_mitigate(op, msg);
                } else if (retryable(reply) && now_usec() < op->poll_deadline_usec) {
                        op->tries++;
                        op_schedule(op, backoff_usec(op->tries - 1));
                } else
                        op_mitigate(op, why);
                return;
        case PHASE_FETCH:
                if (r >= 0 && reply->state == DRIVER_OP_SUCCEEDED) {
                        json_t *none = json_object();
                        const json_t *c = reply_credentials(reply);
                        op_end(op, BINDING_BOUND, c ? c : none, NULL);
                        json_decref(none);
                } else if (r < 0 && retryable(reply) && ++op->tries < RETRY_TRIES)
                        op_schedule(op, backoff_usec(op->tries - 1));
                else
                        op_mitigate(op,
                                    r < 0 ? why : "the provider says bound but does not show the binding");
                return;
        case PHASE_MITIGATE:
                if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        op_set_phase(op, PHASE_MITIGATE_POLL, reply->operation);
                        op_schedule(op, poll_delay(reply));
                } else if (r >= 0)
                        mitigated(op);
                else {
                        /* Until the provider confirms: no credentials are left live and unknown. */
                        op->tries++;
                        log_warning("binding %s: orphan mitigation at %s: %s; retrying", op->id, op->provider,
                                    why);
                        op_schedule(op, backoff_usec(op->tries - 1));
                }
                return;
        case PHASE_MITIGATE_POLL:
                if (r >= 0 && (reply->state == DRIVER_OP_GONE || reply->state == DRIVER_OP_SUCCEEDED))
                        mitigated(op);
                else if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        op->tries = 0;
                        op_schedule(op, poll_delay(reply));
                } else {
                        unsigned tries = op->tries + 1;
                        op_set_phase(op, PHASE_MITIGATE, NULL);
                        op->tries = tries;
                        op_schedule(op, backoff_usec(tries - 1));
                }
                return;
        default:
                return;
        }
}

static void on_unbind_reply(BindOp *op, int r, const DriverReply *reply, const char *why) {
        char msg[600];
        if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                if (op->phase == PHASE_SEND)
                        op_set_phase(op, PHASE_POLL, reply->operation);
                else if (now_usec() >= op->poll_deadline_usec) {
                        snprintf(msg, sizeof(msg),
                                 "the provider did not finish the unbinding within %u s "
                                 "(maximum_polling_duration)",
                                 op->max_polling_s);
                        op_end(op, BINDING_BOUND, NULL, msg);
                        return;
                }
                op->tries = 0;
                op_answer(op, NULL);
                op_schedule(op, poll_delay(reply));
        } else if (r >= 0 && (reply->state == DRIVER_OP_SUCCEEDED || reply->state == DRIVER_OP_GONE))
                op_end(op, BINDING_UNBOUND, NULL, NULL);
        else if (r >= 0) {
                snprintf(msg, sizeof(msg), "the provider could not unbind%s%s",
                         reply->description ? ": " : "", reply->description ?: "");
                op_end(op, BINDING_BOUND, NULL, msg);
        } else if (retryable(reply) && ++op->tries < RETRY_TRIES) {
                op_answer(op, NULL);
                op_schedule(op, backoff_usec(op->tries - 1));
        } else
                /* Still bound: the department may try again. */
                op_end(op, BINDING_BOUND, NULL, why);
}

static void on_reply(int r, const DriverReply *reply, const CbError *err, void *userdata) {
        BindOp *op = userdata;
        char why[512];

        op->in_flight = false;
        if (op->detached || r == -ECANCELED) {
                /* The daemon is stopping: the row stays where it was, for the next start. */
                op_free(op);
                return;
        }
        snprintf(why, sizeof(why), "%s", err->message);
        if (op->unbind)
                on_unbind_reply(op, r, reply, why);
        else
                on_bind_reply(op, r, reply, why);
}

static void op_step(BindOp *op) {
        Provider *p = providers_find(op->r->providers, op->provider);
        DriverCallContext ctx = {
                .principal = op->principal,
                .department = op->department,
                .project_id = op->project_id,
                .approval_no = op->approval_no,
                .system_id = op->system_id,
                .request_id = op->id,
                .remote_service_id = op->remote_service_id,
                .remote_plan_id = op->remote_plan_id,
        };
        DriverRef ref = { .kind = DRIVER_OBJECT_VM, .resource_id = op->resource_id, .binding_id = op->id };
        CbError err = CB_ERROR_INIT;
        int r;

        if (!p || !p->conn) {
                op->tries++;
                op_schedule(op, backoff_usec(op->tries));
                return;
        }
        switch (op->phase) {
        case PHASE_SEND:
                r = op->unbind ? driver_unbind_async(p->ops, p->conn, &ref, &ctx, on_reply, op, &err)
                               : driver_bind_async(p->ops, p->conn, &ref, &ctx, op->parameters, on_reply, op,
                                                   &err);
                break;
        case PHASE_MITIGATE:
                r = driver_unbind_async(p->ops, p->conn, &ref, &ctx, on_reply, op, &err);
                break;
        case PHASE_FETCH:
                r = driver_fetch_async(p->ops, p->conn, &ref, &ctx, on_reply, op, &err);
                break;
        default:
                r = driver_last_operation_async(p->ops, p->conn, &ref, &ctx, op->remote_operation, on_reply,
                                                op, &err);
                break;
        }
        if (r < 0) {
                char msg[sizeof(err.message)];
                snprintf(msg, sizeof(msg), "%s", err.message);
                cb_error_clear(&err);
                op_end(op, op->unbind ? BINDING_BOUND : BINDING_FAILED, NULL, msg);
                return;
        }
        op->in_flight = true;
}

static char *dup_str(const char *v, bool *oom) {
        char *d = v ? strdup(v) : NULL;
        if (v && !d)
                *oom = true;
        return d;
}

/* Starts the state machine of binding id on res (its provider and plan). */
static int op_start(Resources *r, const Resource *res, const char *id, const char *principal, bool unbind,
                    const json_t *parameters, const Row *row, BindingAnswerFn answer, void *userdata,
                    CbError *err) {
        _cleanup_(json_decrefp) json_t *spec = resources_plan_spec(r, res);
        Provider *p = res->provider ? providers_find(r->providers, res->provider) : NULL;
        bool oom = false;
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
        snprintf(op->id, sizeof(op->id), "%s", id);
        snprintf(op->resource_id, sizeof(op->resource_id), "%s", res->id);
        snprintf(op->provider, sizeof(op->provider), "%s", res->provider);
        op->principal = dup_str(principal, &oom);
        op->department = dup_str(res->department, &oom);
        op->project_id = dup_str(res->project_id, &oom);
        op->approval_no = dup_str(res->approval_no, &oom);
        op->system_id = dup_str(res->system_id, &oom);
        op->remote_service_id = dup_str(jstr(spec, "remote_service_id"), &oom);
        op->remote_plan_id = dup_str(jstr(spec, "remote_plan_id"), &oom);
        op->parameters = parameters ? json_deep_copy(parameters) : NULL;
        if (row && row->remote_operation)
                op->remote_operation = dup_str(row->remote_operation, &oom);
        if (oom || (parameters && !op->parameters)) {
                op_free(op);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        for (int i = 0; row && row->phase && i < _PHASE_MAX; i++)
                if (streq(row->phase, phase_names[i]))
                        op->phase = (Phase)i;
        op->max_polling_s = http_plan_max_polling(p, op->remote_service_id, op->remote_plan_id);
        if (op->phase == PHASE_POLL || op->phase == PHASE_MITIGATE_POLL)
                op->poll_deadline_usec = now_usec() + (uint64_t)op->max_polling_s * 1000000ULL;
        if (op->phase == PHASE_MITIGATE || op->phase == PHASE_MITIGATE_POLL)
                snprintf(op->error, sizeof(op->error), "the binding failed before the daemon restarted");
        op->next = ops_head;
        if (ops_head)
                ops_head->prev = op;
        ops_head = op;
        /* Never from within the call: the caller answers its own bookkeeping first. */
        op_schedule(op, 0);
        return 0;
}

/* ---- the core functions ---- */

/* The resource as the caller may see it, a service one. */
static int load_service(Resources *r, const CbCaller *caller, const char *resource_id, Resource *ret,
                        CbError *err) {
        int q = resources_get(r, caller, resource_id, ret, err);
        if (q < 0)
                return q;
        if (ret->kind != RESOURCE_KIND_SERVICE) {
                resource_done(ret);
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource",
                                          "resource '%s' is not a service of an http provider: "
                                          "only those have bindings here",
                                          resource_id);
        }
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
                           SA_TEXT(phase_names[PHASE_SEND]), SA_TEXT(c->now), SA_TEXT(c->sealed_parameters)),
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

int resource_bind(Resources *r, const CbCaller *caller, const char *resource_id, const char *binding_key,
                  const json_t *parameters, const char *request_hash, BindingAnswerFn answer, void *userdata,
                  ServiceBinding *ret, bool *ret_pending, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
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
        q = load_service(r, caller, resource_id, &res, err);
        if (q < 0)
                return q;
        if (!caller_in_department(caller, res.department))
                return cb_error_set(
                        err, CB_ERR_FORBIDDEN,
                        "only department %s binds its resource '%s' (its credentials are its own)",
                        res.department, resource_id);
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
        if (res.state != RESOURCE_ACTIVE)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource '%s' is %s: it can be bound once active",
                                    resource_id, resource_state_to_string(res.state));
        if (!service_bindable(r, &res))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "resource",
                                          "service '%s' is not bindable (the catalogue says bindable: false)",
                                          res.service_id);
        if (!r->secrets)
                return cb_error_set(
                        err, CB_ERR_UNAVAILABLE,
                        "the broker has no secrets key (secrets.key or the secrets-key credential): "
                        "it cannot keep a binding's credentials");
        if (!res.provider || !providers_find(r->providers, res.provider))
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "resource '%s' has no provider to bind it at",
                                    resource_id);
        q = provider_takes_binding(r, &res, parameters, err);
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
        q = op_start(r, &res, id, caller->principal->name, false, parameters, NULL, answer, userdata, err);
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

/* The binding of resource_id the caller names, and the resource. */
static int find_binding(Resources *r, const CbCaller *caller, const char *resource_id, const char *id,
                        bool by_key, Resource *ret_res, ServiceBinding *ret, Row *ret_row, CbError *err) {
        int q = load_service(r, caller, resource_id, ret_res, err);
        if (q < 0)
                return q;
        q = by_key ? load_by_key(r, caller->principal->name, id, ret, ret_row, err)
                   : load_by_id(r, id, ret, ret_row, err);
        if (q < 0) {
                resource_done(ret_res);
                return q;
        }
        if (q == 0 || !streq(ret->resource_id, resource_id)) {
                if (q > 0) {
                        service_binding_done(ret);
                        row_done(ret_row);
                }
                resource_done(ret_res);
                return cb_error_set(err, CB_ERR_NOT_FOUND, "resource '%s' has no binding '%s'", resource_id,
                                    id);
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

int resource_bindings_list(Resources *r, const CbCaller *caller, const char *resource_id, json_t **ret,
                           CbError *err) {
        static const char sql[] =
                "SELECT " BINDING_COLUMNS
                " FROM service_bindings WHERE resource_id = ?1 ORDER BY created_at DESC, id";
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        json_t *a;
        int q = load_service(r, caller, resource_id, &res, err);

        if (q < 0)
                return q;
        a = json_array();
        if (!a)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        q = store_query(r->store, sql, STORE_ARGS(SA_TEXT(resource_id)), &rows, "reading bindings", err);
        while (q >= 0 && (q = store_rows_next(rows, err)) > 0) {
                ServiceBinding b = {
                        .id = store_rows_text(rows, 0),
                        .binding_key = store_rows_text(rows, 1),
                        .resource_id = store_rows_text(rows, 2),
                        .created_by = store_rows_text(rows, 3),
                        .error = store_rows_text(rows, 4),
                        .created_at = store_rows_text(rows, 5),
                        .updated_at = store_rows_text(rows, 6),
                        .deleted_at = store_rows_text(rows, 7),
                        .state = binding_state_from_string(store_rows_text(rows, 8)),
                };
                json_array_append_new(a, service_binding_to_json(&b));
        }
        if (q < 0) {
                json_decref(a);
                return q;
        }
        *ret = a;
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
                           SA_TEXT(phase_names[PHASE_SEND]), SA_TEXT(c->now), SA_TEXT(c->id),
                           SA_TEXT(binding_state_to_string(BINDING_BOUND))),
                "recording the unbinding", err);
}

int resource_unbind(Resources *r, const CbCaller *caller, const char *resource_id, const char *id,
                    bool by_key, BindingAnswerFn answer, void *userdata, ServiceBinding *ret,
                    bool *ret_pending, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        _cleanup_(row_done) Row w = { 0 };
        char now[32], object[96];
        json_t *detail;
        int q;

        q = find_binding(r, caller, resource_id, id, by_key, &res, &b, &w, err);
        if (q < 0)
                return q;
        q = caller_require_department(caller, res.department, RESOURCE_ACTORS, "unbind a resource", err);
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
        q = op_start(r, &res, b.id, b.created_by, true, NULL, NULL, answer, userdata, err);
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
                if (op_running(store_rows_text(rows, 0)))
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
        BindOp *op = ops_head;
        while (op) {
                BindOp *next = op->next;
                if (op->answer) {
                        CbError e = CB_ERROR_INIT;
                        cb_error_set(&e, CB_ERR_UNAVAILABLE, "the daemon is stopping");
                        op->answer(NULL, &e, op->userdata);
                        op->answer = NULL;
                        cb_error_clear(&e);
                }
                if (op->in_flight) {
                        /* Its reply comes when the provider's connection closes: it only frees. */
                        op->detached = true;
                        op->timer = sd_event_source_disable_unref(op->timer);
                        op_unlink(op);
                } else
                        op_free(op);
                op = next;
        }
        ops_head = NULL;
}
