/* SPDX-License-Identifier: Apache-2.0 */

/*
 * org.cloudbroker.Broker1.Billing on /org/cloudbroker/Broker1, documented
 * in docs/dbus/org.cloudbroker.Broker1.Billing.xml: the billing statement
 * of a month, the same bytes GET /v1/billing/statements/{period} sends.
 */

#include <time.h>

#include "billing.h"
#include "bus-util.h"

static int method_get_statement(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(billing_export_done) BillingExport e = { 0 };
        Manager *m = userdata;
        json_auto_t *opts = NULL;
        const char *period, *key;
        json_t *v;
        BillingRequest br = { 0 };
        CbCaller caller;
        int r;

        r = sd_bus_message_read(msg, "s", &period);
        if (r < 0)
                return r;
        r = bus_read_dict_json(msg, &opts, error);
        if (r < 0)
                return r;
        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        json_object_foreach(opts, key, v) {
                if (streq(key, "format") && json_is_string(v))
                        br.format = json_string_value(v);
                else if (streq(key, "department") && json_is_string(v))
                        br.department = bus_optional(json_string_value(v));
                else if (streq(key, "excel") && json_is_boolean(v))
                        br.excel = json_is_true(v);
                else
                        return sd_bus_error_setf(error, "org.cloudbroker.Broker1.Error.InvalidArgument",
                                                 "option '%s' is unknown or of the wrong type "
                                                 "(format s, department s, excel b)",
                                                 key);
        }
        br.period = period;
        r = billing_statement(m->store, m->calendar, m->legacy, &caller, &br, (int64_t)time(NULL), &e, &err);
        if (r < 0)
                return bus_error_from_cb(error, &err);
        return sd_bus_reply_method_return(msg, "s", e.text);
}

static int method_close_statement(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        json_auto_t *out = NULL;
        const char *period;
        CbCaller caller;
        int r;

        r = sd_bus_message_read(msg, "s", &period);
        if (r < 0)
                return r;
        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = billing_close(m->store, m->calendar, m->legacy, &caller, period, (int64_t)time(NULL), &out, &err);
        return bus_reply_core(msg, r, out, &err, error);
}

static int method_list_adjustments(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        json_auto_t *out = NULL;
        const char *period;
        CbCaller caller;
        int r;

        r = sd_bus_message_read(msg, "s", &period);
        if (r < 0)
                return r;
        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = billing_adjustments_list(m->store, &caller, period, &out, &err);
        return bus_reply_core(msg, r, out, &err, error);
}

static int method_add_adjustment(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        json_auto_t *doc = NULL, *out = NULL;
        const char *period;
        CbCaller caller;
        int r;

        r = sd_bus_message_read(msg, "s", &period);
        if (r < 0)
                return r;
        r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = billing_adjust(m->store, &caller, period, doc, &out, &err);
        return bus_reply_core(msg, r, out, &err, error);
}

static int method_approve_adjustment(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        json_auto_t *out = NULL;
        const char *period, *id;
        CbCaller caller;
        int r;

        r = sd_bus_message_read(msg, "ss", &period, &id);
        if (r < 0)
                return r;
        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = billing_adjustment_approve(m->store, &caller, period, id, &out, &err);
        return bus_reply_core(msg, r, out, &err, error);
}

const sd_bus_vtable bus_billing_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("GetStatement", SD_BUS_ARGS("s", period, "a{sv}", options),
                                SD_BUS_RESULT("s", statement), method_get_statement,
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
