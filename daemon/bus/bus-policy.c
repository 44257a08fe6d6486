/* SPDX-License-Identifier: Apache-2.0 */
/*
 * org.cloudbroker.Broker1.Policy on /org/cloudbroker/Broker1: the policy
 * engine's decision for a request, without side effects. The same core
 * function as POST /v1/policy/evaluate (projects_evaluate), answered in
 * its shape through the same serializer (rest-records.h).
 */
#include "bus-util.h"
#include "projects.h"
#include "rest-records.h"

static int method_evaluate(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        json_auto_t *doc = NULL, *out = NULL;
        const char *text;
        CbCaller caller;
        EvalRequest req;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &text);
        if (r < 0)
                return r;
        r = bus_parse_json_arg(text, bus_json_arg_max(m), "request", &doc, error);
        if (r < 0)
                return r;
        r = eval_request_from_json(doc, NULL, &req, &err);
        if (r >= 0)
                r = projects_evaluate(m->projects, &caller, &req, 0, &ev, &err);
        if (r < 0)
                return bus_error_from_cb(error, &err);
        out = rest_evaluation_json(&ev);
        if (!out)
                return -ENOMEM;
        return bus_reply_json(msg, out);
}

const sd_bus_vtable bus_policy_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("Evaluate", "s", SD_BUS_PARAM(request), "s", SD_BUS_PARAM(decision),
                                 method_evaluate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
