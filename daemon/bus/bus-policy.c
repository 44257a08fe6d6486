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
        json_auto_t *doc = NULL;
        const char *text;
        CbCaller caller;
        EvalRequest req;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &text);
        if (r >= 0)
                r = bus_parse_json_arg(text, bus_json_arg_max(m), "request", &doc, error);
        if (r < 0)
                return r;
        r = eval_request_from_json(doc, NULL, &req, &err);
        if (r >= 0)
                r = projects_evaluate(m->projects, &caller, &req, 0, &ev, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_evaluation_json(&ev) : NULL, &err, error);
}

const sd_bus_vtable bus_policy_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("Evaluate", "s", SD_BUS_PARAM(request), "s", SD_BUS_PARAM(decision),
                                 method_evaluate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
