/* SPDX-License-Identifier: Apache-2.0 */
#include "adopt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "audit.h"
#include "evaluation.h"
#include "json-util.h"
#include "log.h"
#include "resources-internal.h"
#include "states.h"

typedef struct AdoptJob {
        Resources *r;
        const DriverOps *ops;
        DriverConn *conn;
        CbCaller caller;
        char provider[128], domain[256], id[64], name[256], now[32];
        char project_id[128], system_id[128], service_id[128], plan_id[128];
        char department[64], approval_no[65], cost_kind[16];
        unsigned catalog_revision;
        int64_t committed_fen;
        DriverInstance found;
        CbError err;
        AdoptDoneFn done;
        void *userdata;
} AdoptJob;

static int adopt_job_run(void *userdata) {
        AdoptJob *j = userdata;
        DriverStamp st = { .resource_id = j->id,
                           .name = j->name,
                           .project_id = j->project_id,
                           .approval_no = j->approval_no,
                           .service_id = j->service_id,
                           .plan_id = j->plan_id,
                           .catalog_revision = j->catalog_revision };
        return j->ops->adopt_domain(j->conn, j->domain, &st, &j->found, &j->err);
}

static int adopt_insert(Store *s, void *userdata, CbError *err) {
        static const char ins[] =
                "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, provider, provider_ref, state, "
                "created_at, created_by, updated_at, kind) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?15, ?17)";
        const AdoptJob *j = userdata;
        bool stopped = j->found.state == DRIVER_STATE_SHUTOFF;
        return store_run(
                s, ins,
                STORE_ARGS(SA_TEXT(j->id), SA_TEXT(j->name), SA_TEXT(j->project_id), SA_TEXT(j->system_id),
                           SA_TEXT(j->department), SA_TEXT(j->service_id), SA_TEXT(j->plan_id),
                           SA_INT(j->catalog_revision), SA_TEXT(j->approval_no), SA_TEXT(j->cost_kind),
                           SA_INT(j->committed_fen), SA_TEXT(j->provider), SA_TEXT(j->found.provider_ref),
                           SA_TEXT(resource_state_to_string(stopped ? RESOURCE_STOPPED : RESOURCE_ACTIVE)),
                           SA_TEXT(j->now), SA_TEXT(j->caller.principal->name),
                           SA_TEXT(resource_kind_to_string(RESOURCE_KIND_VM))),
                "recording the adopted resource", err);
}

static void adopt_job_done(int result, void *userdata) {
        AdoptJob *j = userdata;
        json_t *out = NULL;
        char object[400];

        snprintf(object, sizeof(object), "provider:%s/%s", j->provider, j->domain);
        if (result >= 0) {
                json_t *detail =
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "resource", j->id, "provider_ref",
                                  j->found.provider_ref, "project", j->project_id, "system", j->system_id,
                                  "plan", j->plan_id, "committed_fen", (json_int_t)j->committed_fen);
                store_now(j->now);
                result = audit_change(j->r->store, &j->caller,
                                      &(AuditEntry){ "resource.adopt", object, "ok", NULL, detail },
                                      adopt_insert, j, &j->err);
                json_decref(detail);
                if (result < 0)
                        log_error("domain %s on %s is stamped as %s but its record failed: %s", j->domain,
                                  j->provider, j->id, j->err.message);
        } else
                audit_refusal(j->r->store, &j->caller, "resource.adopt", object, "failed", NULL);
        if (result >= 0) {
                resources_notify(j->r, j->id, true);
                out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", j->id, "name", j->name,
                                "state",
                                resource_state_to_string(j->found.state == DRIVER_STATE_SHUTOFF
                                                                 ? RESOURCE_STOPPED
                                                                 : RESOURCE_ACTIVE),
                                "provider", j->provider, "provider_ref", j->found.provider_ref, "domain",
                                j->found.name, "project_id", j->project_id, "system_id", j->system_id,
                                "plan_id", j->plan_id);
        } else if (result == -ECANCELED && !j->err.message[0])
                cb_error_set(&j->err, CB_ERR_UNAVAILABLE, "the daemon is stopping");
        if (j->done)
                j->done(out, out ? NULL : &j->err, j->userdata);
        driver_instance_done(&j->found);
        cb_error_clear(&j->err);
        free(j);
}

int resources_adopt(Resources *r, const CbCaller *caller, const char *provider, const json_t *body,
                    AdoptDoneFn done, void *userdata, CbError *err) {
        static const char *const extra[] = { "domain", "name", NULL };
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        const char *domain = NULL, *name = NULL;
        char object[400];
        EvalRequest req;
        Provider *p;
        uint8_t b[8];
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

        AdoptJob *j = calloc(1, sizeof(*j));
        if (!j)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *j = (AdoptJob){ .r = r,
                         .ops = p->ops,
                         .conn = p->conn,
                         .caller = *caller,
                         .catalog_revision = ev.catalog_revision,
                         .committed_fen = ev.projected_cost_fen,
                         .done = done,
                         .userdata = userdata };
        if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
                free(j);
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        }
        snprintf(j->id, sizeof(j->id), "r-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
                 b[5], b[6], b[7]);
        snprintf(j->provider, sizeof(j->provider), "%s", p->name);
        snprintf(j->domain, sizeof(j->domain), "%s", domain);
        snprintf(j->name, sizeof(j->name), "%s", name ? name : domain);
        snprintf(j->project_id, sizeof(j->project_id), "%s", req.project_id);
        snprintf(j->system_id, sizeof(j->system_id), "%s", req.system_id);
        snprintf(j->service_id, sizeof(j->service_id), "%s", req.service_id);
        snprintf(j->plan_id, sizeof(j->plan_id), "%s", req.plan_id);
        snprintf(j->department, sizeof(j->department), "%s", ev.department);
        snprintf(j->approval_no, sizeof(j->approval_no), "%s", ev.approval_no);
        snprintf(j->cost_kind, sizeof(j->cost_kind), "%s",
                 ev.cost_kind == POLICY_COST_OM ? "om" : "construction");
        q = worker_submit(r->pool, adopt_job_run, adopt_job_done, j);
        if (q < 0) {
                free(j);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot queue the adoption: %s", strerror(-q));
        }
        return 0;
}
