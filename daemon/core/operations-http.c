/* SPDX-License-Identifier: Apache-2.0 */
#include "operations-http.h"

#include <stdio.h>
#include <sys/param.h> /* MIN */
#include <systemd/sd-event.h>

#include "audit.h"
#include "log.h"

#define RETRY_FIRST_USEC       500000ULL
#define RETRY_MAX_USEC         30000000ULL
#define RETRY_TRIES            6
#define POLL_DEFAULT_USEC      1000000ULL
#define POLL_MAX_DEFAULT_S     3600
#define POLL_RETRY_AFTER_CAP_S 300

typedef enum Phase {
        PHASE_SEND,          /* PUT (provision) or DELETE (deprovision) */
        PHASE_POLL,          /* last_operation of that */
        PHASE_MITIGATE,      /* DELETE after a failed provision */
        PHASE_MITIGATE_POLL, /* last_operation of that DELETE */
        PHASE_VERIFY,        /* a deprovision said done: GET says the instance is gone */
} Phase;

static const char *const phase_names[] = { "send", "poll", "mitigate", "mitigate_poll", "verify" };
#define VERIFY_TRIES 3 /* DELETEs answered "done" while the instance stays */

typedef struct HttpOp HttpOp;
struct HttpOp {
        HttpOp *prev, *next;
        Store *store;
        Providers *ps;
        char op_id[64], resource_id[64], provider[64];
        OperationKind kind;
        Phase phase;
        char *remote_operation;
        /* the context every request carries, owned */
        char *principal, *department, *project_id, *approval_no, *system_id, *service_id, *plan_id;
        char *remote_service_id, *remote_plan_id;
        char *from_remote_plan_id; /* a resize: the plan it leaves (previous_values) */
        uint64_t poll_deadline_usec;
        unsigned max_polling_s;
        unsigned tries;          /* failed tries of the current request */
        unsigned deletes_denied; /* deprovision: DELETEs said done, the instance stayed */
        sd_event_source *timer;
        bool in_flight;  /* a driver request is out: its reply frees a detached op */
        bool detached;   /* done already called (cancel_all); only the reply is awaited */
        char error[512]; /* why a provision failed, kept through its mitigation */
        HttpOpDoneFn done;
        void *userdata;
};

static HttpOp *ops_head;
static void (*progress_fn)(const char *resource_id, void *userdata);
static void *progress_userdata;

void http_operations_set_progress(void (*fn)(const char *resource_id, void *userdata), void *userdata) {
        progress_fn = fn;
        progress_userdata = userdata;
}

static void op_free(HttpOp *op) {
        if (!op)
                return;
        if (op->prev)
                op->prev->next = op->next;
        else if (ops_head == op)
                ops_head = op->next;
        if (op->next)
                op->next->prev = op->prev;
        sd_event_source_disable_unref(op->timer);
        free(op->remote_operation);
        free(op->principal);
        free(op->department);
        free(op->project_id);
        free(op->approval_no);
        free(op->system_id);
        free(op->service_id);
        free(op->plan_id);
        free(op->remote_service_id);
        free(op->remote_plan_id);
        free(op->from_remote_plan_id);
        free(op);
}

static void op_finish(HttpOp *op, int result, const char *error) {
        HttpOpDoneFn done = op->done;
        void *userdata = op->userdata;
        char msg[sizeof(op->error) + 128];

        snprintf(msg, sizeof(msg), "%s", error ? error : "");
        op_free(op);
        done(result, msg, userdata);
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

/* The phase and token go to the operation row: a restart resumes there. */
static void op_save(HttpOp *op) {
        CbError err = CB_ERROR_INIT;
        if (store_run(op->store,
                      "UPDATE operations SET remote_phase = ?1, remote_operation = ?2, "
                      "state = CASE WHEN state = ?4 THEN ?5 ELSE state END WHERE id = ?3",
                      STORE_ARGS(SA_TEXT(phase_names[op->phase]), SA_TEXT(op->remote_operation),
                                 SA_TEXT(op->op_id), SA_TEXT(operation_state_to_string(OPERATION_PENDING)),
                                 SA_TEXT(operation_state_to_string(OPERATION_RUNNING))),
                      "recording the provider's operation", &err) < 0)
                log_warning("operation %s: %s", op->op_id, err.message);
        cb_error_clear(&err);
}

static void op_step(HttpOp *op);
static void op_verify(HttpOp *op);

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpOp *op = userdata;
        (void)s;
        (void)usec;
        op->timer = sd_event_source_disable_unref(op->timer);
        op_step(op);
        return 0;
}

static void op_schedule(HttpOp *op, uint64_t delay_usec) {
        sd_event *e = NULL;
        int r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_time(e, &op->timer, CLOCK_MONOTONIC, now_usec() + delay_usec,
                                      delay_usec ? 10000 : 1, on_timer, op);
        sd_event_unref(e);
        if (r < 0)
                op_finish(op, r, "cannot schedule the next request to the provider");
}

static uint64_t backoff_usec(unsigned tries) {
        uint64_t d = RETRY_FIRST_USEC << MIN(tries, 16U);
        return MIN(d, RETRY_MAX_USEC);
}

static void op_set_phase(HttpOp *op, Phase phase, const char *remote_operation) {
        op->phase = phase;
        op->tries = 0;
        if (phase == PHASE_SEND || phase == PHASE_MITIGATE || remote_operation) {
                free(op->remote_operation);
                op->remote_operation = remote_operation ? strdup(remote_operation) : NULL;
        }
        if (phase == PHASE_POLL || phase == PHASE_MITIGATE_POLL)
                op->poll_deadline_usec = now_usec() + (uint64_t)op->max_polling_s * 1000000ULL;
        /* VERIFY is not saved: a restart left at SEND sends the DELETE again, which a
         * provider answers 410 for an instance it no longer has, and that leads to the
         * same verification. Saving it cost every deprovision one more commit (fsync). */
        if (phase != PHASE_VERIFY)
                op_save(op);
}

/* A provision failed at or after the provider: remember why, delete what may exist. */
static void op_mitigate(HttpOp *op, const char *why) {
        if (!op->error[0])
                snprintf(op->error, sizeof(op->error), "%s", why);
        log_warning("operation %s: %s; deleting the instance at provider %s (orphan mitigation)", op->op_id,
                    why, op->provider);
        op_set_phase(op, PHASE_MITIGATE, NULL);
        op_step(op);
}

static uint64_t poll_delay(const DriverReply *reply) {
        if (reply->retry_after_s > 0)
                return (uint64_t)MIN(reply->retry_after_s, (unsigned)POLL_RETRY_AFTER_CAP_S) * 1000000ULL;
        return POLL_DEFAULT_USEC;
}

static bool retryable(const DriverReply *reply) {
        return reply->failure == DRIVER_FAILURE_TRANSPORT || reply->failure == DRIVER_FAILURE_SERVER;
}

static void on_reply(int r, const DriverReply *reply, const CbError *err, void *userdata) {
        HttpOp *op = userdata;
        char why[512];

        op->in_flight = false;
        if (op->detached) {
                op_free(op);
                return;
        }
        if (r == -ECANCELED) {
                op_finish(op, -ECANCELED, "the daemon is stopping");
                return;
        }
        snprintf(why, sizeof(why), "%s", err->message);

        switch (op->phase) {
        case PHASE_SEND:
                if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        op_set_phase(op, PHASE_POLL, reply->operation);
                        op_schedule(op, poll_delay(reply));
                        /* "Under way": OSB's PUT and DELETE answer 202 now. */
                        if (progress_fn &&
                            (op->kind == OPERATION_PROVISION || op->kind == OPERATION_DEPROVISION))
                                progress_fn(op->resource_id, progress_userdata);
                } else if (r >= 0 && op->kind == OPERATION_DEPROVISION)
                        op_verify(op);
                else if (r >= 0) /* SUCCEEDED */
                        op_finish(op, 0, NULL);
                else if (retryable(reply) && ++op->tries < RETRY_TRIES) {
                        log_info("operation %s: %s; retrying", op->op_id, why);
                        op_schedule(op, backoff_usec(op->tries - 1));
                } else if (op->kind == OPERATION_PROVISION && reply->failure != DRIVER_FAILURE_REFUSED)
                        /* An unanswered, malformed or oversized answer: the PUT may have landed. */
                        op_mitigate(op, why);
                else
                        op_finish(op, r, why);
                return;
        case PHASE_POLL:
                if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        if (now_usec() >= op->poll_deadline_usec) {
                                snprintf(why, sizeof(why),
                                         "the provider did not finish the %s within %u s "
                                         "(maximum_polling_duration)",
                                         operation_kind_to_string(op->kind), op->max_polling_s);
                                if (op->kind == OPERATION_PROVISION)
                                        op_mitigate(op, why);
                                else
                                        op_finish(op, -ETIMEDOUT, why);
                                return;
                        }
                        op->tries = 0;
                        op_schedule(op, poll_delay(reply));
                } else if (r >= 0 && op->kind == OPERATION_DEPROVISION &&
                           (reply->state == DRIVER_OP_SUCCEEDED || reply->state == DRIVER_OP_GONE))
                        op_verify(op);
                else if (r >= 0 && reply->state == DRIVER_OP_SUCCEEDED)
                        op_finish(op, 0, NULL);
                else if (r >= 0 && reply->state == DRIVER_OP_GONE)
                        op_finish(op, -ENOENT, "the provider no longer knows the instance it was building");
                else if (r >= 0) { /* FAILED */
                        snprintf(why, sizeof(why), "the provider could not %s the instance%s%s",
                                 operation_kind_to_string(op->kind), reply->description ? ": " : "",
                                 reply->description ? reply->description : "");
                        if (op->kind == OPERATION_PROVISION)
                                op_mitigate(op, why);
                        else
                                op_finish(op, -EIO, why);
                } else if (retryable(reply) && now_usec() < op->poll_deadline_usec) {
                        op->tries++;
                        op_schedule(op, backoff_usec(op->tries - 1));
                } else if (op->kind == OPERATION_PROVISION)
                        op_mitigate(op, why);
                else
                        op_finish(op, r, why);
                return;
        case PHASE_MITIGATE:
                if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        op_set_phase(op, PHASE_MITIGATE_POLL, reply->operation);
                        op_schedule(op, poll_delay(reply));
                } else if (r >= 0) {
                        char msg[sizeof(op->error) + 80];
                        snprintf(msg, sizeof(msg), "%s (the instance was deleted at the provider)",
                                 op->error);
                        op_finish(op, -EIO, msg);
                } else {
                        /* Until the provider confirms: nothing is left paid for and unused. */
                        op->tries++;
                        log_warning("operation %s: orphan mitigation at %s: %s; retrying", op->op_id,
                                    op->provider, why);
                        op_schedule(op, backoff_usec(op->tries - 1));
                }
                return;
        case PHASE_MITIGATE_POLL:
                if (r >= 0 && (reply->state == DRIVER_OP_GONE || reply->state == DRIVER_OP_SUCCEEDED)) {
                        char msg[sizeof(op->error) + 80];
                        snprintf(msg, sizeof(msg), "%s (the instance was deleted at the provider)",
                                 op->error);
                        op_finish(op, -EIO, msg);
                } else if (r >= 0 && reply->state == DRIVER_OP_IN_PROGRESS) {
                        op->tries = 0;
                        op_schedule(op, poll_delay(reply));
                } else {
                        /* Failed, refused or unanswered: DELETE again, later. */
                        unsigned tries = op->tries + 1;
                        op_set_phase(op, PHASE_MITIGATE, NULL);
                        op->tries = tries;
                        op_schedule(op, backoff_usec(tries - 1));
                }
                return;
        case PHASE_VERIFY:
                if (r >= 0 && reply->state == DRIVER_OP_GONE)
                        op_finish(op, 0, NULL);
                else if (r >= 0) {
                        /* It said done and kept it: ask again, then leave it failed, on record. */
                        if (++op->deletes_denied >= VERIFY_TRIES) {
                                snprintf(why, sizeof(why),
                                         "the provider answered the deletion as done %u times but still has "
                                         "the "
                                         "instance: left failed, for an operator to settle with the provider",
                                         op->deletes_denied);
                                op_finish(op, -EIO, why);
                                return;
                        }
                        log_warning("operation %s: provider %s says deleted but still has %s; deleting again",
                                    op->op_id, op->provider, op->resource_id);
                        unsigned denied = op->deletes_denied;
                        op_set_phase(op, PHASE_SEND, NULL);
                        op->deletes_denied = denied;
                        op_schedule(op, backoff_usec(denied - 1));
                } else if (retryable(reply) && ++op->tries < RETRY_TRIES)
                        op_schedule(op, backoff_usec(op->tries - 1));
                else if (reply->failure == DRIVER_FAILURE_REFUSED) {
                        /* It cannot show instances (instances_retrievable false): its word stands. */
                        log_info("operation %s: provider %s cannot show instances (%s); its deletion stands",
                                 op->op_id, op->provider, why);
                        op_finish(op, 0, NULL);
                } else
                        op_finish(op, r, why);
                return;
        }
}

static void op_verify(HttpOp *op) {
        op_set_phase(op, PHASE_VERIFY, NULL);
        op_step(op);
}

static void op_step(HttpOp *op) {
        Provider *p = providers_find(op->ps, op->provider);
        DriverCallContext ctx = {
                .principal = op->principal,
                .department = op->department,
                .project_id = op->project_id,
                .approval_no = op->approval_no,
                .system_id = op->system_id,
                .request_id = op->op_id,
                .remote_service_id = op->remote_service_id,
                .remote_plan_id = op->remote_plan_id,
        };
        DriverRef ref = { .kind = DRIVER_OBJECT_VM, .resource_id = op->resource_id };
        ProvisionSpec spec = { .resource_id = op->resource_id,
                               .project_id = op->project_id,
                               .approval_no = op->approval_no,
                               .catalog_service_id = op->service_id,
                               .catalog_plan_id = op->plan_id };
        CbError err = CB_ERROR_INIT;
        int r;

        if (!p || !p->conn) {
                /* Not connected (yet): try again later, like a connection error. */
                op->tries++;
                op_schedule(op, backoff_usec(op->tries));
                return;
        }
        switch (op->phase) {
        case PHASE_SEND:
                if (op->kind == OPERATION_RESIZE) {
                        /* PATCH to the new plan; the plan it leaves goes as previous_values. */
                        DriverCallContext from = ctx;
                        from.remote_plan_id = op->from_remote_plan_id;
                        r = driver_update_async(p->ops, p->conn, &ref, &from, op->remote_plan_id, on_reply,
                                                op, &err);
                } else
                        r = op->kind == OPERATION_PROVISION
                                    ? driver_provision_async(p->ops, p->conn, &spec, &ctx, on_reply, op, &err)
                                    : driver_deprovision_async(p->ops, p->conn, &ref, &ctx, on_reply, op,
                                                               &err);
                break;
        case PHASE_MITIGATE:
                r = driver_deprovision_async(p->ops, p->conn, &ref, &ctx, on_reply, op, &err);
                break;
        case PHASE_VERIFY:
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
                op_finish(op, r, msg);
                return;
        }
        op->in_flight = true;
}

unsigned http_plan_max_polling(const Provider *p, const char *service, const char *plan) {
        const json_t *s, *pl;
        size_t i, j;
        json_array_foreach(json_object_get(p->offered, "services"), i, s) {
                if (!streq_ptr(json_string_value(json_object_get(s, "id")), service))
                        continue;
                json_array_foreach(json_object_get(s, "plans"), j, pl) {
                        const json_t *m = json_object_get(pl, "maximum_polling_duration");
                        if (streq_ptr(json_string_value(json_object_get(pl, "id")), plan) &&
                            json_is_integer(m) && json_integer_value(m) > 0)
                                return (unsigned)MIN(json_integer_value(m), (json_int_t)86400 * 7);
                }
        }
        return POLL_MAX_DEFAULT_S;
}

static char *dup_str(const char *v, bool *oom) {
        char *d = v ? strdup(v) : NULL;
        if (v && !d)
                *oom = true;
        return d;
}

int http_operation_start(Store *store, Providers *ps, const char *op_id, OperationKind kind,
                         const Resource *res, const json_t *spec, HttpOpDoneFn done, void *userdata,
                         CbError *err) {
        const char *provider = res->provider;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        Provider *p = provider ? providers_find(ps, provider) : NULL;
        bool oom = false;
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
        op->ps = ps;
        op->kind = kind;
        op->done = done;
        op->userdata = userdata;
        snprintf(op->op_id, sizeof(op->op_id), "%s", op_id);
        snprintf(op->resource_id, sizeof(op->resource_id), "%s", res->id);
        snprintf(op->provider, sizeof(op->provider), "%s", provider);
        op->principal = dup_str(res->created_by, &oom);
        op->department = dup_str(res->department, &oom);
        op->project_id = dup_str(res->project_id, &oom);
        op->approval_no = dup_str(res->approval_no, &oom);
        op->system_id = dup_str(res->system_id, &oom);
        op->service_id = dup_str(res->service_id, &oom);
        op->plan_id = dup_str(res->plan_id, &oom);
        op->remote_service_id = dup_str(json_string_value(json_object_get(spec, "remote_service_id")), &oom);
        op->remote_plan_id = dup_str(json_string_value(json_object_get(spec, "remote_plan_id")), &oom);
        if (oom) {
                op_free(op);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        op->max_polling_s = http_plan_max_polling(p, op->remote_service_id, op->remote_plan_id);

        /* Where a previous run of the daemon left it (and a resize's record). */
        q = store_query(store, "SELECT remote_phase, remote_operation, resize FROM operations WHERE id = ?1",
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
                for (size_t i = 0; ph && i < ELEMENTSOF(phase_names); i++)
                        if (streq(ph, phase_names[i]))
                                op->phase = (Phase)i;
                if (tok && !(op->remote_operation = strdup(tok)))
                        q = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        if (q < 0) {
                op_free(op);
                return q;
        }
        if (op->phase == PHASE_POLL || op->phase == PHASE_MITIGATE_POLL)
                op->poll_deadline_usec = now_usec() + (uint64_t)op->max_polling_s * 1000000ULL;
        if (op->phase != PHASE_SEND)
                log_info("operation %s: resuming at phase %s with provider %s", op_id, phase_names[op->phase],
                         provider);
        if (op->phase == PHASE_MITIGATE || op->phase == PHASE_MITIGATE_POLL)
                snprintf(op->error, sizeof(op->error), "the provision failed before the daemon restarted");

        op->next = ops_head;
        if (ops_head)
                ops_head->prev = op;
        ops_head = op;
        /* Never from within the call: the caller finishes its bookkeeping first. */
        op_schedule(op, 0);
        return 0;
}

void http_operations_cancel_all(void) {
        HttpOp *op = ops_head;
        while (op) {
                HttpOp *next = op->next;
                HttpOpDoneFn done = op->done;
                void *userdata = op->userdata;
                if (op->in_flight) {
                        /* Its reply comes when the provider's connection closes: it only frees. */
                        op->detached = true;
                        op->timer = sd_event_source_disable_unref(op->timer);
                        if (op->prev)
                                op->prev->next = op->next;
                        else
                                ops_head = op->next;
                        if (op->next)
                                op->next->prev = op->prev;
                        op->prev = op->next = NULL;
                } else
                        op_free(op);
                done(-ECANCELED, "the daemon is stopping", userdata);
                op = next;
        }
        ops_head = NULL;
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
