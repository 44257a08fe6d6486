/* SPDX-License-Identifier: Apache-2.0 */
#include "adopt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "evaluation.h"
#include "json-util.h"
#include "log.h"
#include "operations.h"
#include "resources-internal.h"
#include "states.h"

typedef struct AdoptChange {
        const char *id, *op_id, *name, *provider, *domain, *now, *who;
        const EvalRequest *req;
        const Evaluation *ev;
} AdoptChange;

/* The resource and its adopt operation, in the transaction of their audit record. */
static int adopt_change(Store *s, void *userdata, CbError *err) {
        static const char ins_res[] =
                "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, provider, state, created_at, "
                "created_by, updated_at, kind) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?14, ?16)";
        static const char set_domain[] = "UPDATE operations SET adopt_domain = ?2 WHERE id = ?1";
        const AdoptChange *c = userdata;
        int q;

        q = store_run(s, ins_res,
                      STORE_ARGS(SA_TEXT(c->id), SA_TEXT(c->name), SA_TEXT(c->req->project_id),
                                 SA_TEXT(c->req->system_id), SA_TEXT(c->ev->department),
                                 SA_TEXT(c->req->service_id), SA_TEXT(c->req->plan_id),
                                 SA_INT(c->ev->catalog_revision), SA_TEXT(c->ev->approval_no),
                                 SA_TEXT(c->ev->cost_kind == POLICY_COST_OM ? "om" : "construction"),
                                 SA_INT(c->ev->projected_cost_fen), SA_TEXT(c->provider),
                                 SA_TEXT(resource_state_to_string(RESOURCE_PROVISIONING)), SA_TEXT(c->now),
                                 SA_TEXT(c->who), SA_TEXT(resource_kind_to_string(RESOURCE_KIND_VM))),
                      "recording the adopted resource", err);
        if (q >= 0)
                q = operation_record(s, c->op_id, c->id, OPERATION_ADOPT, c->now, err);
        if (q >= 0)
                q = store_run(s, set_domain, STORE_ARGS(SA_TEXT(c->op_id), SA_TEXT(c->domain)),
                              "recording the adoption's domain", err);
        return q < 0 ? q : 0;
}

int adopt_operation_domain(Resources *r, const char *op_id, char *ret, size_t n) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q = store_query(r->store, "SELECT adopt_domain FROM operations WHERE id = ?1",
                            STORE_ARGS(SA_TEXT(op_id)), &rows, "reading operations", &err);
        if (q >= 0)
                q = store_rows_next(rows, &err);
        if (q < 0)
                return -EIO;
        if (q == 0 || isempty(store_rows_text(rows, 0)))
                return -ENOENT;
        snprintf(ret, n, "%s", store_rows_text(rows, 0));
        return 0;
}

int resources_adopt(Resources *r, const CbCaller *caller, const char *provider, const json_t *body,
                    ResourceTicket *ret, CbError *err) {
        static const char *const extra[] = { "domain", "name", NULL };
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        const char *domain = NULL, *name = NULL;
        char object[400], id[64], op_id[64], now[32];
        EvalRequest req;
        Provider *p;
        int q;

        q = caller_require_role(caller, CB_ROLE_OPERATOR | CB_ROLE_DEPARTMENT, "adopt VMs", err);
        if (q < 0)
                return q;
        p = providers_find(r->providers, provider);
        if (!p)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no provider '%s'", provider);
        if (!json_is_object(body))
                return cb_error_set(err, CB_ERR_INVALID, "the body must be a JSON object");
        q = eval_request_from_json(body, extra, &req, err);
        if (q >= 0)
                q = json_get_string(body, "domain", true, 255, &domain, err);
        if (q >= 0)
                q = json_get_string(body, "name", false, RESOURCE_NAME_MAX, &name, err);
        if (q < 0)
                return q;
        if (!domain[0])
                return cb_error_set_field(err, CB_ERR_VALIDATION, "domain", "domain: must not be empty");
        if (req.quantity != 1)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "quantity",
                                          "quantity: one VM is adopted per request");
        if (!p->ops->adopt_domain)
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "provider '%s' (%s) cannot adopt VMs", p->name,
                                    p->driver);

        /* Checked like an order: approval, quantities, budget. */
        q = projects_evaluate(r->projects, caller, &req, CB_ROLE_OPERATOR, &ev, err);
        if (q < 0)
                return q;
        snprintf(object, sizeof(object), "provider:%s/%s", provider, domain);
        if (!ev.decision.allowed) {
                json_t *codes = json_array();
                for (size_t i = 0; i < ev.decision.n_violations; i++)
                        json_array_append_new(codes,
                                              json_string(policy_code_name(ev.decision.violations[i].code)));
                audit_refusal(r->store, caller, "resource.adopt", object, "denied", codes);
                json_decref(codes);
                return cb_error_set_violations(err, policy_violations_to_json(&ev.decision),
                                               "the adoption breaks %zu rule(s) of the regulation",
                                               ev.decision.n_violations);
        }
        const char *kind = jstr(json_object_get(ev.plan, "spec"), "kind");
        if (!streq_ptr(jstr(ev.service, "driver"), "libvirt") ||
            (kind && resource_kind_from_string(kind) != RESOURCE_KIND_VM))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "plan_id",
                                          "plan_id: '%s' is no VM plan of a libvirt service", req.plan_id);
        if (p->status != PROVIDER_CONNECTED || !p->conn)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "provider '%s' is %s%s%s", p->name,
                                    provider_status_to_string(p->status), p->last_error[0] ? ": " : "",
                                    p->last_error);

        if (resources_random_id("r-", id, sizeof(id)) < 0 ||
            resources_random_id("op-", op_id, sizeof(op_id)) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        store_now(now);
        AdoptChange change = { .id = id,
                               .op_id = op_id,
                               .name = name ? name : domain,
                               .provider = p->name,
                               .domain = domain,
                               .now = now,
                               .who = caller->principal->name,
                               .req = &req,
                               .ev = &ev };
        json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "resource", id, "operation", op_id,
                                   "project", req.project_id, "system", req.system_id, "plan", req.plan_id,
                                   "committed_fen", (json_int_t)ev.projected_cost_fen);
        /* Durable before the provider hears of it: a crash from here on is recovered. */
        q = audit_change(r->store, caller, &(AuditEntry){ "resource.adopt", object, "ok", NULL, detail },
                         adopt_change, &change, err);
        json_decref(detail);
        if (q < 0)
                return q;
        operation_submit_when_durable(r, op_id, OPERATION_ADOPT, id, &(Reservation){ 0 });
        resources_notify(r, id, true);
        *ret = (ResourceTicket){ .state = RESOURCE_PROVISIONING };
        snprintf(ret->id, sizeof(ret->id), "%s", id);
        snprintf(ret->operation_id, sizeof(ret->operation_id), "%s", op_id);
        return 0;
}
