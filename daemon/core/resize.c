/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resize (resize.h). The operation's row carries, in its column `resize`, a
 * JSON object {"from": {"plan_id", "catalog_revision", "committed_fen",
 * "cost_kind", "state"}, "to": {"plan_id", "catalog_revision",
 * "committed_fen"}}: what a failure puts back and whether the VM runs
 * afterwards. The operation runner (operations.c) reads the size from the
 * record's (new) plan like any other job and calls the driver; its outcome
 * is recorded by resize_finish() in the transaction that ends the operation.
 */
#include "resize.h"

#include <stdio.h>

#include "audit.h"
#include "id.h"
#include "json-util.h"
#include "operations-http.h"
#include "operations.h"
#include "osb-params.h"
#include "placement.h"
#include "providers.h"
#include "resources-internal.h"

/* The spec of plan_id in revision `revision` of service_id (a new reference), or NULL. */
static json_t *spec_at(Resources *r, const char *service_id, unsigned revision, const char *plan_id) {
        json_t *svc = NULL, *plan, *spec = NULL;
        size_t i;
        if (catalog_get_revision(projects_catalog(r->projects), service_id, revision, &svc) < 0)
                return NULL;
        json_array_foreach(json_object_get(svc, "plans"), i, plan) if (streq_ptr(jstr(plan, "id"), plan_id))
                spec = json_incref(json_object_get(plan, "spec"));
        json_decref(svc);
        return spec;
}

static bool cost_is_om(const char *cost_kind) {
        return streq_ptr(cost_kind, "om");
}

/* A VM that runs again after the resize takes its growth from the host it is
 * on (it stays there: the resize is cold, not a migration). That growth is
 * held from the request until the operation ends, as placement holds a new
 * VM's share, so that neither a burst of orders nor a second resize takes
 * the same free room; a host without room refuses before anything stops.
 * A stopped VM, or one that shrinks, needs no room now. */
static int resize_hold(Resources *r, const Resource *res, json_int_t grow_vcpus, json_int_t grow_mem,
                       Reservation *ret_held, CbError *err) {
        unsigned vcpus = grow_vcpus > 0 ? (unsigned)grow_vcpus : 0;
        uint64_t mem = grow_mem > 0 ? (uint64_t)grow_mem : 0;
        Provider *p;

        if (res->state != RESOURCE_ACTIVE || (vcpus == 0 && mem == 0) || !res->provider)
                return 0;
        p = providers_find(r->providers, res->provider);
        if (!p)
                return 0; /* the operation waits for it like any other */
        if (p->capacity_valid && (provider_free_vcpus(p) < vcpus || provider_free_memory_mib(p) < mem))
                return cb_error_set(err, CB_ERR_UNAVAILABLE,
                                    "provider '%s', where resource '%s' runs, has %u free vCPUs and %llu MiB "
                                    "free: the resize needs %u more vCPUs and %llu MiB more; the VM is left "
                                    "as it is",
                                    p->name, res->id, provider_free_vcpus(p),
                                    (unsigned long long)provider_free_memory_mib(p), vcpus,
                                    (unsigned long long)mem);
        *ret_held = reservation_take(p, vcpus, mem);
        return 0;
}

typedef struct ResizeChange {
        const char *op_id, *id, *plan_id, *cost_kind, *now;
        unsigned revision;
        int64_t committed_fen;
        const char *resize;            /* the operation's JSON */
        const char *sealed_parameters; /* an update's, sealed (operations-http.h); NULL */
} ResizeChange;

static int resize_change(Store *s, void *userdata, CbError *err) {
        const ResizeChange *c = userdata;
        int q = operation_record(s, c->op_id, c->id, OPERATION_RESIZE, c->now, err);
        if (q >= 0)
                q = store_run(s, "UPDATE operations SET resize = ?1 WHERE id = ?2",
                              STORE_ARGS(SA_TEXT(c->resize), SA_TEXT(c->op_id)), "recording the operation",
                              err);
        if (q >= 0 && c->sealed_parameters)
                q = store_run(s, "UPDATE operations SET parameters = ?1 WHERE id = ?2",
                              STORE_ARGS(SA_TEXT(c->sealed_parameters), SA_TEXT(c->op_id)),
                              "recording the update's parameters", err);
        /* The record takes the new plan now: what it holds and commits is
         * counted on the next request at once. */
        if (q >= 0)
                q = store_run(s,
                              "UPDATE resources SET plan_id = ?1, catalog_revision = ?2, committed_fen = ?3, "
                              "cost_kind = ?4, updated_at = ?5 WHERE id = ?6",
                              STORE_ARGS(SA_TEXT(c->plan_id), SA_INT(c->revision), SA_INT(c->committed_fen),
                                         SA_TEXT(c->cost_kind), SA_TEXT(c->now), SA_TEXT(c->id)),
                              "recording the resize", err);
        return q < 0 ? q : 0;
}

/* A service instance's new plan: at the same provider and remote service,
 * with a remote plan; *ret_from: the remote plan it leaves (malloc'd). */
static int service_plan_check(Resources *r, const Resource *res, const char *plan_id, const json_t *spec,
                              char **ret_from, CbError *err) {
        json_t *old = spec_at(r, res->service_id, res->catalog_revision, res->plan_id);
        const char *from = jstr(old, "remote_plan_id");
        int q = 0;

        if (!jstr(spec, "remote_plan_id") || !streq_ptr(jstr(spec, "provider"), res->provider) ||
            !streq_ptr(jstr(spec, "remote_service_id"), jstr(old, "remote_service_id")))
                q = cb_error_set_field(
                        err, CB_ERR_VALIDATION, "plan_id",
                        "plan_id: plan '%s' is not a plan of the same service at provider '%s' "
                        "(an instance changes plan where it lives)",
                        plan_id, res->provider ? res->provider : "");
        else if (!from || !(*ret_from = strdup(from)))
                q = cb_error_set(err, CB_ERR_INTERNAL, "the plan '%s' of resource '%s' has no remote plan",
                                 res->plan_id, res->id);
        json_decref(old);
        return q;
}

/* What an update takes: a new plan (NULL: it keeps its own) and parameters
 * (NULL: none). Checked before anything else is, so that a refusal of either
 * costs no evaluation. */
static int update_args_check(const Resource *res, const char *plan_id, const json_t *parameters,
                             CbError *err) {
        int q;
        if (isempty(plan_id) && !parameters)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "plan_id",
                                          "plan_id: required (or parameters, for a service instance)");
        if (!isempty(plan_id) && !id_is_valid(plan_id))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "plan_id", "plan_id: not a valid id");
        if (!parameters)
                return 0;
        q = osb_params_check(parameters, NULL, err);
        if (q < 0)
                return q;
        if (res->kind != RESOURCE_KIND_SERVICE)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: resource '%s' is a %s, whose plans (driver libvirt) "
                                          "take none; only a service instance at an http provider does",
                                          res->id, resource_kind_to_string(res->kind));
        return 0;
}

/* The parameters of an update held against what the provider says the
 * plan it goes to takes for an update
 * (schemas.service_instance.update.parameters), then sealed for op_id. */
static int update_parameters(Resources *r, const Resource *res, const json_t *spec, const json_t *parameters,
                             const char *op_id, char **ret_sealed, CbError *err) {
        Provider *p = res->provider ? providers_find(r->providers, res->provider) : NULL;
        int q;
        if (!p)
                return cb_error_set(
                        err, CB_ERR_UNAVAILABLE,
                        "provider '%s' of resource '%s' is not configured: its schema cannot be read",
                        res->provider ? res->provider : "", res->id);
        q = http_update_parameters_check(p, spec, parameters, err);
        if (q < 0)
                return q;
        if (http_parameters_seal(r->secrets, op_id, parameters, ret_sealed) < 0)
                return cb_error_set(
                        err, CB_ERR_UNAVAILABLE,
                        "the broker has no secrets key (secrets.key or the secrets-key credential): "
                        "it cannot keep an update's parameters");
        return 0;
}

/* The policy engine's word on an update of res to plan_id (in_place: the
 * plan it is on); a refusal is audited and explained with its articles. */
static int update_judge(Resources *r, const CbCaller *caller, const Resource *res, const char *plan_id,
                        bool in_place, const char *object, Evaluation *ev, CbError *err) {
        EvalRequest req = {
                .project_id = res->project_id,
                .system_id = res->system_id,
                .service_id = res->service_id,
                .plan_id = plan_id,
                .quantity = 1,
                .release_construction_fen = cost_is_om(res->cost_kind) ? 0 : res->committed_fen,
                .release_om_fen = cost_is_om(res->cost_kind) ? res->committed_fen : 0,
                .release_quantity = in_place ? 1 : 0,
        };
        int q = projects_evaluate(r->projects, caller, &req, CB_ROLE_OPERATOR, ev, err);
        if (q < 0)
                return q;
        if (!in_place && ev->service && !ev->plan)
                return cb_error_set_field(
                        err, CB_ERR_VALIDATION, "plan_id",
                        "plan_id: '%s' is not a plan of service '%s' (a VM is resized within "
                        "its service)",
                        plan_id, res->service_id);
        if (ev->decision.allowed)
                return 0;
        json_t *codes = json_array();
        for (size_t i = 0; i < ev->decision.n_violations; i++)
                json_array_append_new(codes, json_string(policy_code_name(ev->decision.violations[i].code)));
        audit_refusal(r->store, caller, in_place ? "resource.update" : "resource.resize", object, "denied",
                      codes);
        json_decref(codes);
        return cb_error_set_violations(err, policy_violations_to_json(&ev->decision),
                                       "the %s breaks %zu rule(s) of the regulation",
                                       in_place ? "update" : "resize", ev->decision.n_violations);
}

int resources_resize(Resources *r, const CbCaller *caller, const char *id, const char *plan_id,
                     ResourceTicket *ret, CbError *err) {
        return resources_update(r, caller, id, plan_id, NULL, ret, err);
}

int resources_update(Resources *r, const CbCaller *caller, const char *id, const char *plan_id,
                     const json_t *parameters, ResourceTicket *ret, CbError *err) {
        _cleanup_(resource_done) Resource res = { 0 };
        _cleanup_(evaluation_done) Evaluation ev = { 0 };
        char op_id[64], pend_id[64], pend_kind[32], now[32], object[96];
        _cleanup_(reservation_drop) Reservation held = { 0 };
        _cleanup_(json_decrefp) json_t *own_spec = NULL;
        json_t *old_spec = NULL, *detail, *doc, *names = NULL;
        const json_t *spec, *v;
        _cleanup_(freep) char *text = NULL;
        _cleanup_(freep) char *remote_from = NULL, *sealed = NULL;
        const char *cost_kind, *k;
        unsigned to_revision;
        int64_t to_committed;
        bool plan_change;
        int q;

        q = resources_load_visible(r, caller, id, RESOURCE_ACTORS | CB_ROLE_DEPARTMENT, &res, err,
                                   "resize resources");
        if (q < 0)
                return q;
        if (parameters && json_is_object(parameters) && json_object_size(parameters) == 0 &&
            !isempty(plan_id))
                parameters = NULL; /* {} with a plan asks nothing more than the plan */
        q = update_args_check(&res, plan_id, parameters, err);
        if (q < 0)
                return q;
        switch (res.kind) {
        case RESOURCE_KIND_VM:
                break;
        case RESOURCE_KIND_VOLUME:
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "resource '%s' is a block volume: only VMs are resized (a volume has the "
                                    "size of its plan; order one of the size wanted)",
                                    id);
        case RESOURCE_KIND_SERVICE:
                /* The http driver's plan change: the same evaluation and record
                 * as a VM's; the operation runs on the loop (operations-http.c)
                 * through driver_update_async (OSB PATCH). */
                break;
        default:
                return cb_error_set(err, CB_ERR_INTERNAL, "resource '%s' has an unknown kind", id);
        }
        /* Parameters alone, or with the plan it is on: an update of the instance on its plan. */
        plan_change = !isempty(plan_id) && !streq(plan_id, res.plan_id);
        q = operation_pending(r, id, pend_id, pend_kind);
        if (q < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the operations of resource '%s'", id);
        if (q > 0)
                return cb_error_set(err, CB_ERR_CONFLICT, "resource '%s' has operation %s (%s) under way", id,
                                    pend_id, pend_kind);
        if (res.state != RESOURCE_ACTIVE && res.state != RESOURCE_STOPPED)
                return cb_error_set(err, CB_ERR_CONFLICT, "cannot %s resource '%s': it is %s",
                                    plan_change ? "resize" : "update", id,
                                    resource_state_to_string(res.state));
        if (!plan_change && !parameters)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "plan_id",
                                          "resource '%s' is on plan '%s' already", id, plan_id);
        snprintf(object, sizeof(object), "resource:%s", id);

        /* Judged by the policy engine either way: a new plan as a new order
         * of it, less what the old one committed; parameters alone as the
         * plan it is on ordered again in its place (it is held and committed
         * already), so that a suspended or terminated project, an expired
         * approval or a plan no longer published changes nothing. */
        q = update_judge(r, caller, &res, plan_change ? plan_id : res.plan_id, !plan_change, object, &ev,
                         err);
        if (q < 0)
                return q;
        if (plan_change) {
                spec = json_object_get(ev.plan, "spec");
                to_revision = ev.catalog_revision;
                to_committed = ev.projected_cost_fen;
                cost_kind = ev.cost_kind == POLICY_COST_OM ? "om" : "construction";
        } else {
                /* The plan it is on, at the revision it was ordered at: no new
                 * commitment. */
                own_spec = spec_at(r, res.service_id, res.catalog_revision, res.plan_id);
                if (!own_spec)
                        return cb_error_set(err, CB_ERR_INTERNAL,
                                            "the plan '%s' of resource '%s' is not in the catalogue",
                                            res.plan_id, id);
                spec = own_spec;
                plan_id = res.plan_id;
                to_revision = res.catalog_revision;
                to_committed = res.committed_fen;
                cost_kind = res.cost_kind;
        }
        if (res.kind == RESOURCE_KIND_SERVICE) {
                q = service_plan_check(r, &res, plan_id, spec, &remote_from, err);
                if (q < 0)
                        return q;
        } else if (jstr(spec, "kind") && !streq(jstr(spec, "kind"), "vm"))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "plan_id",
                                          "plan_id: plan '%s' is a %s, not a VM", plan_id,
                                          jstr(spec, "kind"));
        old_spec = res.kind == RESOURCE_KIND_VM && plan_change
                           ? spec_at(r, res.service_id, res.catalog_revision, res.plan_id)
                           : NULL;
        if (old_spec) {
                json_int_t had = json_integer_value(json_object_get(old_spec, "disk_gib"));
                json_int_t want = json_integer_value(json_object_get(spec, "disk_gib"));
                json_int_t grow_vcpus = json_integer_value(json_object_get(spec, "vcpus")) -
                                        json_integer_value(json_object_get(old_spec, "vcpus"));
                json_int_t grow_mem = json_integer_value(json_object_get(spec, "memory_mib")) -
                                      json_integer_value(json_object_get(old_spec, "memory_mib"));
                json_decref(old_spec);
                if (want < had)
                        return cb_error_set_field(
                                err, CB_ERR_VALIDATION, "plan_id",
                                "plan_id: plan '%s' has a %lld GiB disk, the VM %lld GiB: a "
                                "disk does not shrink",
                                plan_id, (long long)want, (long long)had);
                q = resize_hold(r, &res, grow_vcpus, grow_mem, &held, err);
                if (q < 0)
                        return q;
        }
        if (resources_random_id("op-", op_id, sizeof(op_id)) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "no randomness");
        if (parameters) {
                /* Checked against the plan it goes to; nothing is sent or written on a refusal. */
                q = update_parameters(r, &res, spec, parameters, op_id, &sealed, err);
                if (q < 0)
                        return q;
        }

        doc = json_pack("{s:{s:s, s:I, s:I, s:s, s:s}, s:{s:s, s:I, s:I}}", "from", "plan_id", res.plan_id,
                        "catalog_revision", (json_int_t)res.catalog_revision, "committed_fen",
                        (json_int_t)res.committed_fen, "cost_kind", res.cost_kind, "state",
                        resource_state_to_string(res.state), "to", "plan_id", plan_id, "catalog_revision",
                        (json_int_t)to_revision, "committed_fen", (json_int_t)to_committed);
        if (doc && remote_from) {
                /* What the provider knows the plans by: previous_values and the new plan of its PATCH. */
                json_object_set_new(json_object_get(doc, "from"), "remote_plan_id", json_string(remote_from));
                json_object_set_new(json_object_get(doc, "to"), "remote_plan_id",
                                    json_string(jstr(spec, "remote_plan_id")));
        }
        text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(doc);
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        store_now(now);
        if (parameters) {
                /* The parameters may hold secrets: the record names them, no more. */
                names = json_array();
                json_object_foreach((json_t *)parameters, k, v) json_array_append_new(names, json_string(k));
        }
        detail = json_pack("{s:s, s:s, s:s, s:I, s:o*}", "operation", op_id, "from_plan", res.plan_id,
                           "to_plan", plan_id, "committed_fen", (json_int_t)to_committed, "parameter_names",
                           names);
        q = audit_change(r->store, caller,
                         &(AuditEntry){ plan_change ? "resource.resize" : "resource.update", object, "ok",
                                        NULL, detail },
                         resize_change,
                         &(ResizeChange){ .op_id = op_id,
                                          .id = id,
                                          .plan_id = plan_id,
                                          .cost_kind = cost_kind,
                                          .now = now,
                                          .revision = to_revision,
                                          .committed_fen = to_committed,
                                          .resize = text,
                                          .sealed_parameters = sealed },
                         err);
        json_decref(detail);
        if (q < 0)
                return q;
        *ret = (ResourceTicket){ .state = res.state };
        snprintf(ret->id, sizeof(ret->id), "%s", id);
        snprintf(ret->operation_id, sizeof(ret->operation_id), "%s", op_id);
        operation_submit_when_durable(r, op_id, OPERATION_RESIZE, id, &held);
        resources_notify(r, id, false);
        return 0;
}

/* The operation's `resize` document (a new reference), or NULL. */
static json_t *resize_doc(Store *s, const char *op_id, CbError *err) {
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int q = store_query(s, "SELECT resize FROM operations WHERE id = ?1", STORE_ARGS(SA_TEXT(op_id)),
                            &rows, "reading the operation", err);
        if (q >= 0)
                q = store_rows_next(rows, err);
        if (q <= 0 || !store_rows_text(rows, 0))
                return NULL;
        return json_loads(store_rows_text(rows, 0), 0, NULL);
}

int resize_job_runs(Resources *r, const char *op_id, bool *ret_run, CbError *err) {
        json_t *doc = resize_doc(r->store, op_id, err);
        const char *state = jstr(json_object_get(doc, "from"), "state");
        if (!state) {
                json_decref(doc);
                return cb_error_set(err, CB_ERR_INTERNAL, "operation %s has no resize record", op_id);
        }
        *ret_run = streq(state, resource_state_to_string(RESOURCE_ACTIVE));
        json_decref(doc);
        return 0;
}

int resize_finish(Store *s, const char *op_id, const char *resource_id, bool ok, const char *now,
                  CbError *err) {
        json_t *doc, *from;
        int q;

        if (ok)
                return 0;
        doc = resize_doc(s, op_id, err);
        from = json_object_get(doc, "from");
        if (!jstr(from, "plan_id") || !jstr(from, "cost_kind")) {
                json_decref(doc);
                return cb_error_set(err, CB_ERR_INTERNAL, "operation %s has no resize record", op_id);
        }
        q = store_run(s,
                      "UPDATE resources SET plan_id = ?1, catalog_revision = ?2, committed_fen = ?3, "
                      "cost_kind = ?4, updated_at = ?5 WHERE id = ?6",
                      STORE_ARGS(SA_TEXT(jstr(from, "plan_id")),
                                 SA_INT(json_integer_value(json_object_get(from, "catalog_revision"))),
                                 SA_INT(json_integer_value(json_object_get(from, "committed_fen"))),
                                 SA_TEXT(jstr(from, "cost_kind")), SA_TEXT(now), SA_TEXT(resource_id)),
                      "rolling the resize back", err);
        json_decref(doc);
        return q < 0 ? q : 0;
}
