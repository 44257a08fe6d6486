/* SPDX-License-Identifier: Apache-2.0 */

/*
 * org.cloudbroker.Broker1.Billing on /org/cloudbroker/Broker1, documented
 * in docs/dbus/org.cloudbroker.Broker1.Billing.xml: the billing statement
 * of a month, the same bytes GET /v1/billing/statements/{period} sends.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "billing.h"
#include "rest-records.h"
#include "bus-util.h"
#include "log.h"
#include "worker.h"

/* The options of GetStatement and ExportStatement into br (borrowed from opts). */
static int read_options(const json_t *opts, BillingRequest *br, sd_bus_error *error) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)opts, key, v) {
                if (streq(key, "format") && json_is_string(v))
                        br->format = json_string_value(v);
                else if (streq(key, "department") && json_is_string(v))
                        br->department = bus_optional(json_string_value(v));
                else if (streq(key, "excel") && json_is_boolean(v))
                        br->excel = json_is_true(v);
                else
                        return sd_bus_error_setf(error, "org.cloudbroker.Broker1.Error.InvalidArgument",
                                                 "option '%s' is unknown or of the wrong type "
                                                 "(format s, department s, excel b)",
                                                 key);
        }
        return 0;
}

/* What GetStatement holds at most (the statement's bytes). */
#define GET_STATEMENT_MAX (4U << 20)

static int method_get_statement(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(billing_export_done) BillingExport e = { 0 };
        Manager *m = userdata;
        json_auto_t *opts = NULL;
        const char *period;
        BillingRequest br = { 0 };
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &period);
        if (r >= 0)
                r = bus_read_dict_json(msg, &opts, error);
        if (r < 0)
                return r;
        r = read_options(opts, &br, error);
        if (r < 0)
                return r;
        br.period = period;
        r = billing_statement(m->store, m->calendar, m->legacy, &caller, &br, (int64_t)time(NULL),
                              GET_STATEMENT_MAX, &e, &err);
        if (r < 0 && err.kind == CB_ERR_TOO_LARGE) {
                /* One D-Bus string is for small statements: the daemon holds it whole. */
                cb_error_clear(&err);
                cb_error_set(&err, CB_ERR_TOO_LARGE,
                             "statement %s is larger than %u MiB: use ExportStatement (a pipe, streamed)",
                             period, GET_STATEMENT_MAX >> 20);
        }
        if (r < 0)
                return bus_error_from_cb(error, &err);
        return sd_bus_reply_method_return(msg, "s", e.text);
}

/* ExportStatement: a big answer is no D-Bus string. The client gets the
 * read end of a pipe that a worker writes the statement into, at the
 * client's pace (as systemd hands out journals and dumps). */
typedef struct BusExport {
        BillingStream *bs;
        int wfd;
} BusExport;

static int bus_export_job(void *userdata) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        BusExport *x = userdata;
        int r = billing_stream_write_fd(x->bs, x->wfd, &err);
        if (r < 0)
                log_warning("billing export over D-Bus stopped: %s", err.message);
        close(x->wfd);
        x->wfd = -1;
        return r;
}

static void bus_export_done(int result, void *userdata) {
        BusExport *x = userdata;
        (void)result;
        if (x->wfd >= 0)
                close(x->wfd);
        billing_stream_free(x->bs);
        free(x);
}

static int method_export_statement(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(billing_stream_freep) BillingStream *bs = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        json_auto_t *opts = NULL;
        const BillingExport *h;
        const char *period;
        BillingRequest br = { 0 };
        CbCaller caller;
        BusExport *x;
        char hint[32];
        int fds[2], r;

        r = bus_call_begin(m, msg, &caller, error, "s", &period);
        if (r >= 0)
                r = bus_read_dict_json(msg, &opts, error);
        if (r < 0)
                return r;
        r = read_options(opts, &br, error);
        if (r < 0)
                return r;
        br.period = period;
        r = billing_stream_new(m->store, m->calendar, m->legacy, &caller, &br, (int64_t)time(NULL), &bs,
                               &err);
        if (r >= 0)
                r = billing_stream_detach(bs, &err);
        if (r < 0)
                return bus_error_from_cb(error, &err);
        h = billing_stream_headers(bs);
        snprintf(hint, sizeof(hint), "%" PRIi64, billing_stream_lines_hint(bs));
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
                return sd_bus_error_set_errno(error, errno);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "h", fds[0]);
        if (r >= 0)
                r = sd_bus_message_append(reply, "a{ss}", 6, "content_type", h->content_type, "lines_hint",
                                          hint, "sm3", h->sm3, "signature", h->signature ? h->signature : "",
                                          "alg", h->alg, "key_id", h->key_id);
        /* The message holds its own copy of the read end. */
        close(fds[0]);
        if (r < 0) {
                close(fds[1]);
                return r;
        }
        x = calloc(1, sizeof(*x));
        if (!x) {
                close(fds[1]);
                return -ENOMEM;
        }
        *x = (BusExport){ .bs = TAKE_PTR(bs), .wfd = fds[1] };
        r = worker_submit(m->pool, bus_export_job, bus_export_done, x);
        if (r < 0) {
                bus_export_done(r, x);
                return r;
        }
        return sd_bus_send(NULL, reply, NULL);
}

/* Closing renders the month on a worker: the reply comes when the files
 * are stored, and the loop serves meanwhile. */
static void close_answered(int r, const BillingClosing *closing, const CbError *err, void *userdata) {
        json_auto_t *v = r >= 0 ? rest_billing_closing_json(closing) : NULL;
        bus_answer_pending(userdata, r >= 0, v, err, "CloseStatement");
}

static int method_close_statement(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(billing_closing_freep) BillingClosing *closing = NULL;
        Manager *m = userdata;
        json_auto_t *out = NULL;
        const char *period;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &period);
        if (r < 0)
                return r;
        r = billing_close(m->store, m->pool, m->calendar, m->legacy, &caller, period, (int64_t)time(NULL),
                          &closing, close_answered, msg, &err);
        if (r == 0) {
                sd_bus_message_ref(msg);
                return 1; /* answered by close_answered, on a later loop iteration */
        }
        if (r > 0 && !(out = rest_billing_closing_json(closing)))
                r = cb_error_set(&err, CB_ERR_INTERNAL, "out of memory");
        return bus_reply_core(msg, r < 0 ? r : 0, out, &err, error);
}

static int method_list_adjustments(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(billing_adjustment_list_done) BillingAdjustmentList list = { 0 };
        Manager *m = userdata;
        const char *period;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &period);
        if (r < 0)
                return r;
        r = billing_adjustments_list(m->store, &caller, period, &list, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_billing_adjustment_list_json(&list) : NULL, &err, error);
}

static int method_add_adjustment(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(billing_adjustment_done) BillingAdjustment adj = { 0 };
        Manager *m = userdata;
        json_auto_t *doc = NULL;
        const char *period;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &period);
        if (r >= 0)
                r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = billing_adjust(m->store, &caller, period, doc, &adj, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_billing_adjustment_json(&adj) : NULL, &err, error);
}

static int method_approve_adjustment(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(billing_adjustment_done) BillingAdjustment adj = { 0 };
        Manager *m = userdata;
        const char *period, *id;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "ss", &period, &id);
        if (r < 0)
                return r;
        r = billing_adjustment_approve(m->store, &caller, period, id, &adj, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_billing_adjustment_json(&adj) : NULL, &err, error);
}

/*
 * Budget alerts are unicast, never broadcast: a BudgetAlert signal carries
 * one department's figures, and a broadcast signal reaches every client
 * with a match rule on the bus. So a client asks for them with
 * SubscribeBudgetAlerts() (authenticated like every call: a department
 * for its own projects, finance and the authority for all), and each
 * alert goes as a signal addressed to each watcher that may read the
 * project. A watcher lasts as long as its connection (sd_bus_track).
 */
typedef struct BudgetWatcher {
        char *name;       /* unique bus name */
        char *department; /* NULL: every project (finance, the authority) */
        sd_bus_track *track;
} BudgetWatcher;

#define BUDGET_WATCHERS_MAX 256
#define BUDGET_READERS      (CB_ROLE_FINANCE | CB_ROLE_AUTHORITY)

static void watcher_done(BudgetWatcher *w) {
        free(w->name);
        free(w->department);
        sd_bus_track_unref(w->track);
        *w = (BudgetWatcher){ 0 };
}

static void watcher_remove(Manager *m, size_t i) {
        watcher_done(&m->budget_watchers[i]);
        memmove(&m->budget_watchers[i], &m->budget_watchers[i + 1],
                (m->n_budget_watchers - i - 1) * sizeof(BudgetWatcher));
        m->n_budget_watchers--;
}

void bus_budget_watchers_free(Manager *m) {
        while (m->n_budget_watchers > 0)
                watcher_remove(m, m->n_budget_watchers - 1);
        free(m->budget_watchers);
        m->budget_watchers = NULL;
}

static int on_watcher_gone(sd_bus_track *t, void *userdata) {
        Manager *m = userdata;
        for (size_t i = 0; i < m->n_budget_watchers; i++)
                if (m->budget_watchers[i].track == t) {
                        watcher_remove(m, i);
                        break;
                }
        return 0;
}

static int method_subscribe_budget_alerts(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        const char *sender = sd_bus_message_get_sender(msg);
        BudgetWatcher w = { 0 };
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = caller_require_role(&caller, CB_ROLE_DEPARTMENT | BUDGET_READERS, "watch budget alerts", &err);
        if (r < 0)
                return bus_error_from_cb(error, &err);
        if (!sender)
                return sd_bus_error_set(error, "org.cloudbroker.Broker1.Error.InvalidArgument",
                                        "a budget watcher needs a unique bus name");
        for (size_t i = 0; i < m->n_budget_watchers; i++)
                if (streq(m->budget_watchers[i].name, sender))
                        return sd_bus_reply_method_return(msg, "");
        if (m->n_budget_watchers >= BUDGET_WATCHERS_MAX)
                return sd_bus_error_set(error, "org.cloudbroker.Broker1.Error.Conflict",
                                        "too many budget watchers");
        w.name = strdup(sender);
        if (!caller_has_role(&caller, BUDGET_READERS))
                w.department = strdup(caller.principal->department ? caller.principal->department : "");
        if (!w.name || (!caller_has_role(&caller, BUDGET_READERS) && !w.department)) {
                watcher_done(&w);
                return -ENOMEM;
        }
        r = sd_bus_track_new(m->bus, &w.track, on_watcher_gone, m);
        if (r >= 0)
                r = sd_bus_track_add_sender(w.track, msg);
        if (r >= 0) {
                BudgetWatcher *nv = realloc(m->budget_watchers, (m->n_budget_watchers + 1) * sizeof(*nv));
                if (!nv)
                        r = -ENOMEM;
                else {
                        m->budget_watchers = nv;
                        nv[m->n_budget_watchers++] = w;
                }
        }
        if (r < 0) {
                watcher_done(&w);
                return r;
        }
        return sd_bus_reply_method_return(msg, "");
}

void bus_budget_alert(const BudgetAlert *a, void *userdata) {
        Manager *m = userdata;
        _cleanup_(freep) char *text = NULL;
        json_auto_t *doc = NULL;

        if (!m->bus || m->n_budget_watchers == 0)
                return;
        doc = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I}", "project_id", a->project_id,
                        "department", a->department, "approval_no", a->approval_no, "cost_kind", a->cost_kind,
                        "threshold", (int)a->threshold, "budget_fen", (json_int_t)a->budget_fen,
                        "committed_fen", (json_int_t)a->committed_fen, "metered_fen",
                        (json_int_t)a->metered_fen, "used_fen", (json_int_t)a->used_fen);
        text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (!text)
                return;
        for (size_t i = 0; i < m->n_budget_watchers; i++) {
                const BudgetWatcher *w = &m->budget_watchers[i];
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *sig = NULL;
                int r;

                if (w->department && !streq(w->department, a->department))
                        continue;
                r = sd_bus_message_new_signal(m->bus, &sig, BUS_PATH, BUS_BILLING_INTERFACE, "BudgetAlert");
                if (r >= 0)
                        r = sd_bus_message_set_destination(sig, w->name);
                if (r >= 0)
                        r = sd_bus_message_append(sig, "ssus", a->project_id, a->cost_kind, a->threshold,
                                                  text);
                if (r >= 0)
                        r = sd_bus_send(m->bus, sig, NULL);
                if (r < 0)
                        log_warning("cannot send BudgetAlert to %s: %s", w->name, strerror(-r));
        }
}

const sd_bus_vtable bus_billing_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("SubscribeBudgetAlerts", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_subscribe_budget_alerts, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("BudgetAlert",
                                SD_BUS_ARGS("s", project_id, "s", cost_kind, "u", threshold, "s", alert), 0),
        SD_BUS_METHOD_WITH_ARGS("GetStatement", SD_BUS_ARGS("s", period, "a{sv}", options),
                                SD_BUS_RESULT("s", statement), method_get_statement,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ExportStatement", SD_BUS_ARGS("s", period, "a{sv}", options),
                                SD_BUS_RESULT("h", statement, "a{ss}", headers), method_export_statement,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CloseStatement", SD_BUS_ARGS("s", period), SD_BUS_RESULT("s", record),
                                method_close_statement, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListAdjustments", SD_BUS_ARGS("s", period), SD_BUS_RESULT("s", adjustments),
                                method_list_adjustments, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddAdjustment", SD_BUS_ARGS("s", period, "a{sv}", adjustment),
                                SD_BUS_RESULT("s", adjustment), method_add_adjustment,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ApproveAdjustment", SD_BUS_ARGS("s", period, "s", id),
                                SD_BUS_RESULT("s", adjustment), method_approve_adjustment,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
