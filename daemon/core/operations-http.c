/* SPDX-License-Identifier: Apache-2.0 */
#include "operations-http.h"

#include <stdio.h>
#include <sys/param.h> /* MIN */
#include <systemd/sd-event.h>

#include "audit.h"
#include "log.h"
#include "osb-params.h"
#include "osb-poll.h"

#define POLL_MAX_DEFAULT_S 3600
#define VERIFY_TRIES       3 /* DELETEs answered "done" while the instance stays */

/* One operation: the shared poll state machine (osb-poll.h) and what is its own. */
typedef struct HttpOp {
        OsbPoll poll; /* first: the OsbPoll * of a callback is the HttpOp * */
        Store *store;
        OperationKind kind;
        char *service_id, *plan_id;
        char *from_remote_plan_id; /* a resize: the plan it leaves (previous_values) */
        json_t *parameters;        /* a provision's or an update's, opened from the row; NULL: none */
        unsigned deletes_denied;   /* deprovision: DELETEs said done, the instance stayed */
        HttpOpDoneFn done;
        void *userdata;
} HttpOp;

static void (*progress_fn)(const char *resource_id, void *userdata);
static void *progress_userdata;

void http_operations_set_progress(void (*fn)(const char *resource_id, void *userdata), void *userdata) {
        progress_fn = fn;
        progress_userdata = userdata;
}

static void op_free(HttpOp *op) {
        if (!op)
                return;
        osb_poll_done(&op->poll);
        free(op->service_id);
        free(op->plan_id);
        free(op->from_remote_plan_id);
        json_decref(op->parameters);
        free(op);
}

static void op_finish(HttpOp *op, int result, const char *error) {
        HttpOpDoneFn done = op->done;
        void *userdata = op->userdata;
        char msg[sizeof(op->poll.error) + 128];

        snprintf(msg, sizeof(msg), "%s", error ? error : "");
        op_free(op);
        done(result, msg, userdata);
}

/* The phase and token go to the operation row: a restart resumes there. */
static void op_save(OsbPoll *p) {
        CbError err = CB_ERROR_INIT;
        /* VERIFY is not saved: a restart left at SEND sends the DELETE again, which a
         * provider answers 410 for an instance it no longer has, and that leads to the
         * same verification. Saving it cost every deprovision one more commit (fsync). */
        if (p->phase == OSB_PHASE_VERIFY)
                return;
        if (store_run(((HttpOp *)p)->store,
                      "UPDATE operations SET remote_phase = ?1, remote_operation = ?2, "
                      "state = CASE WHEN state = ?4 THEN ?5 ELSE state END WHERE id = ?3",
                      STORE_ARGS(SA_TEXT(osb_phase_to_string(p->phase)), SA_TEXT(p->remote_operation),
                                 SA_TEXT(p->id), SA_TEXT(operation_state_to_string(OPERATION_PENDING)),
                                 SA_TEXT(operation_state_to_string(OPERATION_RUNNING))),
                      "recording the provider's operation", &err) < 0)
                log_warning("operation %s: %s", p->id, err.message);
        cb_error_clear(&err);
}

static void op_verify(HttpOp *op) {
        osb_poll_set_phase(&op->poll, OSB_PHASE_VERIFY, NULL);
        osb_poll_step(&op->poll);
}

/* A provision may have left an instance: delete it (osb_poll_mitigate); the rest ends here. */
static void op_fail(HttpOp *op, int r, const char *why) {
        if (op->kind == OPERATION_PROVISION)
                osb_poll_mitigate(&op->poll, why);
        else
                op_finish(op, r, why);
}

static void on_send_reply(HttpOp *op, int r, const DriverReply *reply, const char *why) {
        if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                osb_poll_set_phase(&op->poll, OSB_PHASE_POLL, reply->operation);
                osb_poll_again(&op->poll, reply);
                /* "Under way": OSB's PUT and DELETE answer 202 now. */
                if (progress_fn && (op->kind == OPERATION_PROVISION || op->kind == OPERATION_DEPROVISION))
                        progress_fn(op->poll.resource_id, progress_userdata);
        } else if (r >= 0 && op->kind == OPERATION_DEPROVISION)
                op_verify(op);
        else if (r >= 0) /* SUCCEEDED */
                op_finish(op, 0, NULL);
        else if (osb_poll_retry(&op->poll, reply))
                log_info("operation %s: %s; retrying", op->poll.id, why);
        else if (op->kind == OPERATION_PROVISION && reply->failure != DRIVER_FAILURE_REFUSED)
                /* An unanswered, malformed or oversized answer: the PUT may have landed. */
                osb_poll_mitigate(&op->poll, why);
        else
                op_finish(op, r, why);
}

static void on_poll_reply(HttpOp *op, int r, const DriverReply *reply, const char *why) {
        char msg[512];
        switch (osb_poll_on_poll(&op->poll, r, reply)) {
        case OSB_POLL_WAITING:
                return;
        case OSB_POLL_TIMED_OUT:
                snprintf(msg, sizeof(msg),
                         "the provider did not finish the %s within %u s (maximum_polling_duration)",
                         operation_kind_to_string(op->kind), op->poll.max_polling_s);
                op_fail(op, -ETIMEDOUT, msg);
                return;
        case OSB_POLL_SUCCEEDED:
        case OSB_POLL_GONE:
                if (op->kind == OPERATION_DEPROVISION)
                        op_verify(op);
                else if (reply->state == DRIVER_OP_SUCCEEDED)
                        op_finish(op, 0, NULL);
                else
                        op_finish(op, -ENOENT, "the provider no longer knows the instance it was building");
                return;
        case OSB_POLL_FAILED:
                snprintf(msg, sizeof(msg), "the provider could not %s the instance%s%s",
                         operation_kind_to_string(op->kind), reply->description ? ": " : "",
                         reply->description ? reply->description : "");
                op_fail(op, -EIO, msg);
                return;
        case OSB_POLL_ERROR:
                op_fail(op, r, why);
                return;
        }
}

static void on_verify_reply(HttpOp *op, int r, const DriverReply *reply, const char *why) {
        char msg[512];
        if (r >= 0 && reply->state == DRIVER_OP_GONE)
                op_finish(op, 0, NULL);
        else if (r >= 0) {
                /* It said done and kept it: ask again, then leave it failed, on record. */
                if (++op->deletes_denied >= VERIFY_TRIES) {
                        snprintf(msg, sizeof(msg),
                                 "the provider answered the deletion as done %u times but still has the "
                                 "instance: left failed, for an operator to settle with the provider",
                                 op->deletes_denied);
                        op_finish(op, -EIO, msg);
                        return;
                }
                log_warning("operation %s: provider %s says deleted but still has %s; deleting again",
                            op->poll.id, op->poll.provider, op->poll.resource_id);
                osb_poll_set_phase(&op->poll, OSB_PHASE_SEND, NULL);
                osb_poll_schedule(&op->poll, osb_poll_backoff_usec(op->deletes_denied - 1));
        } else if (osb_poll_retry(&op->poll, reply))
                return;
        else if (reply->failure == DRIVER_FAILURE_REFUSED) {
                /* It cannot show instances (instances_retrievable false): its word stands. */
                log_info("operation %s: provider %s cannot show instances (%s); its deletion stands",
                         op->poll.id, op->poll.provider, why);
                op_finish(op, 0, NULL);
        } else
                op_finish(op, r, why);
}

static void op_reply(OsbPoll *p, int r, const DriverReply *reply, const char *why) {
        HttpOp *op = (HttpOp *)p;
        if (p->phase == OSB_PHASE_SEND)
                on_send_reply(op, r, reply, why);
        else if (p->phase == OSB_PHASE_VERIFY)
                on_verify_reply(op, r, reply, why);
        else
                on_poll_reply(op, r, reply, why);
}

static int op_send(OsbPoll *p, Provider *prov, const DriverCallContext *ctx, CbError *err) {
        HttpOp *op = (HttpOp *)p;
        DriverRef ref = { .kind = DRIVER_OBJECT_VM, .resource_id = p->resource_id };
        ProvisionSpec spec = { .resource_id = p->resource_id,
                               .project_id = p->project_id,
                               .approval_no = p->approval_no,
                               .catalog_service_id = op->service_id,
                               .catalog_plan_id = op->plan_id,
                               .parameters = op->parameters };

        switch (p->phase) {
        case OSB_PHASE_SEND:
                if (op->kind == OPERATION_RESIZE) {
                        /* PATCH to the new plan (none when it stays: parameters only) with
                         * the parameters; the plan it leaves goes as previous_values. */
                        DriverCallContext from = *ctx;
                        from.remote_plan_id = op->from_remote_plan_id;
                        return driver_update_async(prov->ops, prov->conn, &ref, &from,
                                                   streq_ptr(p->remote_plan_id, op->from_remote_plan_id)
                                                           ? NULL
                                                           : p->remote_plan_id,
                                                   op->parameters, osb_poll_on_reply, p, err);
                }
                return op->kind == OPERATION_PROVISION
                               ? driver_provision_async(prov->ops, prov->conn, &spec, ctx, osb_poll_on_reply,
                                                        p, err)
                               : driver_deprovision_async(prov->ops, prov->conn, &ref, ctx, osb_poll_on_reply,
                                                          p, err);
        case OSB_PHASE_MITIGATE:
                return driver_deprovision_async(prov->ops, prov->conn, &ref, ctx, osb_poll_on_reply, p, err);
        case OSB_PHASE_VERIFY:
                return driver_fetch_async(prov->ops, prov->conn, &ref, ctx, osb_poll_on_reply, p, err);
        default:
                return driver_last_operation_async(prov->ops, prov->conn, &ref, ctx, p->remote_operation,
                                                   osb_poll_on_reply, p, err);
        }
}

static void op_send_failed(OsbPoll *p, int r, const char *msg) {
        op_finish((HttpOp *)p, r, msg);
}

static void op_cancelled(OsbPoll *p) {
        op_finish((HttpOp *)p, -ECANCELED, "the daemon is stopping");
}

static void op_schedule_failed(OsbPoll *p, int r) {
        op_finish((HttpOp *)p, r, "cannot schedule the next request to the provider");
}

static void op_mitigated(OsbPoll *p) {
        char msg[sizeof(p->error) + 80];
        snprintf(msg, sizeof(msg), "%s (the instance was deleted at the provider)", p->error);
        op_finish((HttpOp *)p, -EIO, msg);
}

static void op_stopping(OsbPoll *p) {
        HttpOp *op = (HttpOp *)p;
        HttpOpDoneFn done = op->done;
        /* Answered now; the op only waits (detached) for a reply already under way. */
        op->done = NULL;
        if (done)
                done(-ECANCELED, "the daemon is stopping", op->userdata);
}

static void op_free_poll(OsbPoll *p) {
        op_free((HttpOp *)p);
}

static const OsbPollOps http_op_poll_ops = {
        .what = "operation",
        .object = "the instance",
        .send = op_send,
        .send_failed = op_send_failed,
        .reply = op_reply,
        .cancelled = op_cancelled,
        .schedule_failed = op_schedule_failed,
        .save = op_save,
        .mitigated = op_mitigated,
        .stopping = op_stopping,
        .free = op_free_poll,
};

const json_t *http_offered_plan(const Provider *p, const char *service, const char *plan,
                                const json_t **ret_service) {
        const json_t *s, *pl;
        size_t i, j;
        json_array_foreach(json_object_get(p->offered, "services"), i, s) {
                if (!streq_ptr(json_string_value(json_object_get(s, "id")), service))
                        continue;
                json_array_foreach(json_object_get(s, "plans"), j, pl) {
                        if (!streq_ptr(json_string_value(json_object_get(pl, "id")), plan))
                                continue;
                        if (ret_service)
                                *ret_service = s;
                        return pl;
                }
        }
        return NULL;
}

unsigned http_plan_max_polling(const Provider *p, const char *service, const char *plan) {
        const json_t *m =
                json_object_get(http_offered_plan(p, service, plan, NULL), "maximum_polling_duration");
        if (json_is_integer(m) && json_integer_value(m) > 0)
                return (unsigned)MIN(json_integer_value(m), (json_int_t)86400 * 7);
        return POLL_MAX_DEFAULT_S;
}

/* What a provision's parameters are sealed under: their table, row and column. */
static void parameters_ad(const char *op_id, char ret[96]) {
        snprintf(ret, 96, "operations/%s/parameters", op_id);
}

int http_parameters_seal(const SecretBox *secrets, const char *op_id, const json_t *params, char **ret) {
        char *plain = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS), ad[96];
        int q;
        if (!plain)
                return -ENOMEM;
        parameters_ad(op_id, ad);
        q = secrets ? secretbox_seal(secrets, ad, plain, strlen(plain), ret) : -ENOKEY;
        explicit_bzero(plain, strlen(plain));
        free(plain);
        return q < 0 ? q : 0;
}

static int parameters_open(const SecretBox *secrets, const char *op_id, const char *sealed, json_t **ret,
                           CbError *err) {
        _cleanup_(freep) char *plain = NULL;
        size_t len = 0;
        char ad[96];
        parameters_ad(op_id, ad);
        if (!secrets || !secretbox_is_sealed(sealed) ||
            secretbox_open(secrets, ad, sealed, &plain, &len) < 0 ||
            !(*ret = json_loadb(plain, len, 0, NULL))) {
                if (plain)
                        explicit_bzero(plain, len);
                return cb_error_set(err, CB_ERR_INTERNAL,
                                    "the parameters of operation '%s' do not open under the secrets key "
                                    "(secrets.key): another key, or the row was altered",
                                    op_id);
        }
        explicit_bzero(plain, len);
        return 0;
}

int http_operation_parameters(Store *store, const SecretBox *secrets, const char *op_id, json_t **ret,
                              CbError *err) {
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q = store_query(store, "SELECT parameters FROM operations WHERE id = ?1",
                            STORE_ARGS(SA_TEXT(op_id)), &rows, "reading the operation", err);
        *ret = NULL;
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q <= 0 || !store_rows_text(rows, 0))
                return q < 0 ? q : 0;
        return parameters_open(secrets, op_id, store_rows_text(rows, 0), ret, err);
}

int http_provision_parameters_check(const Provider *p, const json_t *plan_spec, const json_t *parameters,
                                    CbError *err) {
        const json_t *plan =
                http_offered_plan(p, json_string_value(json_object_get(plan_spec, "remote_service_id")),
                                  json_string_value(json_object_get(plan_spec, "remote_plan_id")), NULL);
        return osb_params_check(parameters, osb_plan_params_schema(plan, "service_instance"), err);
}

int http_update_parameters_check(const Provider *p, const json_t *plan_spec, const json_t *parameters,
                                 CbError *err) {
        const json_t *plan =
                http_offered_plan(p, json_string_value(json_object_get(plan_spec, "remote_service_id")),
                                  json_string_value(json_object_get(plan_spec, "remote_plan_id")), NULL);
        return osb_params_check(parameters, osb_plan_params_schema_for(plan, "service_instance", "update"),
                                err);
}

int http_operation_start(Store *store, Providers *ps, const SecretBox *secrets, const char *op_id,
                         OperationKind kind, const Resource *res, const json_t *spec, HttpOpDoneFn done,
                         void *userdata, CbError *err) {
        const char *provider = res->provider;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(freep) char *phase = NULL, *token = NULL;
        Provider *p = provider ? providers_find(ps, provider) : NULL;
        HttpOp *op;
        int q;

        if (kind != OPERATION_PROVISION && kind != OPERATION_DEPROVISION && kind != OPERATION_RESIZE)
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "an http resource has no %s",
                                    operation_kind_to_string(kind));
        if (!p)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "no provider '%s'", provider ? provider : "");
        op = calloc(1, sizeof(*op));
        if (!op)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        op->store = store;
        op->kind = kind;
        op->done = done;
        op->userdata = userdata;

        /* Where a previous run of the daemon left it (and a resize's record). */
        q = store_query(
                store,
                "SELECT remote_phase, remote_operation, resize, parameters FROM operations WHERE id = ?1",
                STORE_ARGS(SA_TEXT(op_id)), &rows, "reading the operation", err);
        if (q >= 0 && (q = store_rows_next(rows, err)) > 0) {
                const char *ph = store_rows_text(rows, 0), *tok = store_rows_text(rows, 1);
                if (kind == OPERATION_RESIZE) {
                        json_t *doc = store_rows_text(rows, 2) ? json_loads(store_rows_text(rows, 2), 0, NULL)
                                                               : NULL;
                        const char *from = json_string_value(
                                json_object_get(json_object_get(doc, "from"), "remote_plan_id"));
                        op->from_remote_plan_id = from ? strdup(from) : NULL;
                        json_decref(doc);
                        if (!op->from_remote_plan_id)
                                q = cb_error_set(
                                        err, CB_ERR_INTERNAL,
                                        "operation %s has no resize record of the remote plan it leaves",
                                        op_id);
                }
                if ((ph && !(phase = strdup(ph))) || (tok && !(token = strdup(tok))))
                        q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                /* What the department ordered with: sent with every PUT of it, a resumed one too. */
                if (q >= 0 && (kind == OPERATION_PROVISION || kind == OPERATION_RESIZE) &&
                    store_rows_text(rows, 3))
                        q = parameters_open(secrets, op_id, store_rows_text(rows, 3), &op->parameters, err);
        }
        if (q >= 0 &&
            ((res->service_id && !(op->service_id = strdup(res->service_id))) ||
             (res->plan_id && !(op->plan_id = strdup(res->plan_id))) ||
             osb_poll_init(&op->poll, &http_op_poll_ops, ps, op_id, res, res->created_by,
                           json_string_value(json_object_get(spec, "remote_service_id")),
                           json_string_value(json_object_get(spec, "remote_plan_id")), phase, token) < 0))
                q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (q < 0) {
                op_free(op);
                return q;
        }
        if (op->poll.phase != OSB_PHASE_SEND)
                log_info("operation %s: resuming at phase %s with provider %s", op_id,
                         osb_phase_to_string(op->poll.phase), provider);
        if (op->poll.phase == OSB_PHASE_MITIGATE || op->poll.phase == OSB_PHASE_MITIGATE_POLL)
                snprintf(op->poll.error, sizeof(op->poll.error),
                         "the provision failed before the daemon restarted");
        osb_poll_start(&op->poll);
        return 0;
}

void http_operations_cancel_all(void) {
        osb_poll_cancel_all(&http_op_poll_ops);
}

/* ---- reconcile: the record is the inventory ---- */

typedef struct Fetch {
        Store *store;
        Providers *ps;
        char provider[64], resource_id[64];
        void (*changed)(const char *id, void *userdata);
        void *userdata;
} Fetch;

static int mark_lost(Store *s, void *userdata, CbError *err) {
        const Fetch *f = userdata;
        char now[32];
        store_now(now);
        /* Only if nothing moved it meanwhile (an operation, a delete). */
        return store_run(s,
                         "UPDATE resources SET state = ?1, updated_at = ?2 WHERE id = ?3 AND state = ?4 AND "
                         "NOT EXISTS "
                         "(SELECT 1 FROM operations WHERE resource_id = ?3 AND state IN (?5, ?6))",
                         STORE_ARGS(SA_TEXT(resource_state_to_string(RESOURCE_FAILED)), SA_TEXT(now),
                                    SA_TEXT(f->resource_id),
                                    SA_TEXT(resource_state_to_string(RESOURCE_ACTIVE)),
                                    SA_TEXT(operation_state_to_string(OPERATION_PENDING)),
                                    SA_TEXT(operation_state_to_string(OPERATION_RUNNING))),
                         "marking a lost instance", err);
}

static void fetch_done(int r, const DriverReply *reply, const CbError *err, void *userdata) {
        Fetch *f = userdata;
        Provider *p;

        if (r == -ECANCELED) {
                /* The registry is being freed: touch nothing of it. */
                free(f);
                return;
        }
        p = providers_find(f->ps, f->provider);
        if (p && p->reconcile_fetches > 0)
                p->reconcile_fetches--;
        if (r >= 0 && reply->state == DRIVER_OP_GONE) {
                char object[96];
                CbError e = CB_ERROR_INIT;
                json_t *detail = json_pack("{s:s, s:s}", "provider", f->provider, "error",
                                           "the provider no longer has the instance");
                snprintf(object, sizeof(object), "resource:%s", f->resource_id);
                log_warning("provider %s lost the instance of resource %s: marked failed", f->provider,
                            f->resource_id);
                if (audit_change(f->store, NULL, &(AuditEntry){ "resource.lost", object, "ok", NULL, detail },
                                 mark_lost, f, &e) < 0)
                        log_error("cannot record the lost instance %s: %s", f->resource_id, e.message);
                else if (f->changed)
                        f->changed(f->resource_id, f->userdata);
                json_decref(detail);
                cb_error_clear(&e);
        } else if (r < 0)
                log_debug("reconcile of %s at %s: %s", f->resource_id, f->provider, err->message);
        free(f);
}

void http_reconcile_provider(Store *store, Providers *ps, Provider *p,
                             void (*changed)(const char *id, void *userdata), void *userdata) {
        static const char sql[] =
                "SELECT r.id, r.department, r.created_by, r.project_id, r.approval_no, r.system_id FROM "
                "resources r "
                "WHERE r.provider = ?1 "
                "AND r.kind = ?2 AND r.state = ?3 AND NOT EXISTS (SELECT 1 FROM operations o WHERE "
                "o.resource_id = r.id AND o.state IN (?4, ?5)) ORDER BY r.id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        CbError err = CB_ERROR_INIT;
        int q;
        /* One round at a time per provider: a slow one does not pile them up. */
        if (p->reconcile_fetches > 0 || !p->conn || p->status != PROVIDER_CONNECTED)
                return;
        q = store_query(store, sql,
                        STORE_ARGS(SA_TEXT(p->name), SA_TEXT(resource_kind_to_string(RESOURCE_KIND_SERVICE)),
                                   SA_TEXT(resource_state_to_string(RESOURCE_ACTIVE)),
                                   SA_TEXT(operation_state_to_string(OPERATION_PENDING)),
                                   SA_TEXT(operation_state_to_string(OPERATION_RUNNING))),
                        &rows, "reading http resources", &err);
        while (q >= 0 && (q = store_rows_next(rows, &err)) > 0) {
                DriverCallContext ctx = { .department = store_rows_text(rows, 1),
                                          .principal = store_rows_text(rows, 2),
                                          .project_id = store_rows_text(rows, 3),
                                          .approval_no = store_rows_text(rows, 4),
                                          .system_id = store_rows_text(rows, 5) };
                DriverRef ref = { .resource_id = store_rows_text(rows, 0) };
                Fetch *f = calloc(1, sizeof(*f));
                if (!f)
                        break;
                *f = (Fetch){ .store = store, .ps = ps, .changed = changed, .userdata = userdata };
                snprintf(f->provider, sizeof(f->provider), "%s", p->name);
                snprintf(f->resource_id, sizeof(f->resource_id), "%s", ref.resource_id);
                if (driver_fetch_async(p->ops, p->conn, &ref, &ctx, fetch_done, f, &err) < 0) {
                        free(f);
                        break;
                }
                p->reconcile_fetches++;
        }
        if (q < 0 || err.kind != CB_ERR_NONE)
                log_warning("reconcile of provider %s: %s", p->name, err.message);
        cb_error_clear(&err);
}
