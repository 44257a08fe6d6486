/* SPDX-License-Identifier: Apache-2.0 */
/* The two request bodies that name a (project, system, service, plan):
 * POST /v1/policy/evaluate (and D-Bus Policy.Evaluate), read by
 * eval_request_from_json(), and POST /v1/resources, read by
 * resource_request_from_json() (the pure first step of resources_request(),
 * whose later steps need providers and a worker pool). A request either
 * body accepts is then evaluated by projects_evaluate() against the fuzz
 * world (fuzz-world.h) as department edu. Promise checked beyond no crash:
 * a decision is allowed exactly when it has no violation, and every
 * violation reaches the JSON answer. */
#include "fuzz-world.h"
#include "resources.h"
#include "rest-records.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        fuzz_world_init(&fuzz_world);
        return 0;
}

static void evaluate(const EvalRequest *req) {
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        CbError err = CB_ERROR_INIT;
        json_t *j;
        int r;

        fuzz_world_begin(&fuzz_world);
        r = projects_evaluate(fuzz_world.projects, &fuzz_edu, req, 0, &ev, &err);
        fuzz_check_refusal(r, &err);
        if (r >= 0) {
                FUZZ_ASSERT(ev.decision.allowed == (ev.decision.n_violations == 0));
                j = rest_evaluation_json(&ev);
                FUZZ_ASSERT(j);
                FUZZ_ASSERT(json_array_size(json_object_get(j, "violations")) == ev.decision.n_violations);
                json_decref(j);
        }
        cb_error_clear(&err);
        fuzz_world_end(&fuzz_world);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *doc = fuzz_json(data, size);
        CbError err = CB_ERROR_INIT;
        EvalRequest req = { 0 };
        const char *name = NULL;
        int r;

        if (!doc)
                return 0;
        r = eval_request_from_json(doc, NULL, &req, &err);
        fuzz_check_refusal(r, &err);
        if (r >= 0) {
                FUZZ_ASSERT(req.project_id && req.system_id && req.service_id && req.plan_id);
                FUZZ_ASSERT(req.quantity >= 1);
                evaluate(&req);
        }
        cb_error_clear(&err);

        r = resource_request_from_json(doc, &req, &name, &err);
        fuzz_check_refusal(r, &err);
        if (r >= 0) {
                FUZZ_ASSERT(name && name[0] && strlen(name) <= RESOURCE_NAME_MAX);
                FUZZ_ASSERT(req.quantity == 1);
                evaluate(&req);
        } else
                FUZZ_ASSERT(!name);
        cb_error_clear(&err);
        json_decref(doc);
        return 0;
}
