/* SPDX-License-Identifier: Apache-2.0 */
#include "evaluation.h"
#include "projects-internal.h"
#include "states.h"

#include <stdio.h>
#include <time.h>

#include "billing.h"
#include "catalog-validate.h"
#include "json-util.h"
#include "systems.h"

void evaluation_done(Evaluation *e) {
        if (!e)
                return;
        json_decref(e->plan);
        json_decref(e->service);
        e->plan = e->service = NULL;
}

int eval_request_from_json(const json_t *j, const char *const *extra, EvalRequest *ret, CbError *err) {
        static const char *const base[] = { "project_id", "system_id", "service_id",
                                            "plan_id",    "quantity",  "dedicated_network" };
        const char *fields[32];
        size_t n = 0;
        EvalRequest req = { .quantity = 1 };
        int64_t quantity = 1;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(base); i++)
                fields[n++] = base[i];
        for (const char *const *e = extra; e && *e && n < ELEMENTSOF(fields) - 1; e++)
                fields[n++] = *e;
        fields[n] = NULL;

        r = json_check_object(j, fields, err);
        if (r >= 0)
                r = json_get_id(j, "project_id", true, &req.project_id, err);
        if (r >= 0)
                r = json_get_id(j, "system_id", true, &req.system_id, err);
        if (r >= 0)
                r = json_get_id(j, "service_id", true, &req.service_id, err);
        if (r >= 0)
                r = json_get_id(j, "plan_id", true, &req.plan_id, err);
        if (r >= 0)
                r = json_get_int(j, "quantity", false, 1, 10000, &quantity, err);
        if (r >= 0)
                r = json_get_bool(j, "dedicated_network", false, &req.dedicated_network, err);
        if (r < 0)
                return r;
        req.quantity = (uint32_t)quantity;
        *ret = req;
        return 0;
}

static bool project_completed(Projects *p, const char *project_id) {
        static const char sql[] = "SELECT COUNT(*) FROM milestones WHERE project_id = ?1 AND kind = ?2";
        int64_t n = 0;
        return store_query_int(p->store, sql,
                               STORE_ARGS(SA_TEXT(project_id),
                                          SA_TEXT(milestone_kind_to_string(MILESTONE_COMPLETED))),
                               &n, "reading milestones", NULL) >= 0 &&
               n > 0;
}

static uint32_t held_quantity(Projects *p, const char *project_id, const char *service_id,
                              const char *plan_id) {
        static const char sql[] = "SELECT COALESCE(SUM(quantity), 0) FROM project_holdings "
                                  "WHERE project_id = ?1 AND service_id = ?2 AND plan_id = ?3";
        int64_t n = 0;
        if (store_query_int(p->store, sql,
                            STORE_ARGS(SA_TEXT(project_id), SA_TEXT(service_id), SA_TEXT(plan_id)), &n,
                            "reading project holdings", NULL) < 0 ||
            n < 0)
                return 0;
        return (uint32_t)n;
}

/* Price x quantity over what is left of the approval (policy/deadlines.h). */
static int64_t projected_cost(const json_t *plan, uint32_t quantity, const Approval *a, const char *today) {
        const json_t *price = json_object_get(plan, "price");
        const char *unit = json_string_value(json_object_get(price, "unit"));
        return deadlines_projected_cost_fen(json_integer_value(json_object_get(price, "amount_fen")),
                                            unit && streq(unit, "month") ? PRICE_PER_MONTH : PRICE_PER_HOUR,
                                            quantity, today, a ? a->valid_until : NULL);
}

static const json_t *find_plan(const json_t *service, const char *plan_id) {
        size_t i;
        json_t *plan;
        json_array_foreach(
                json_object_get(service, "plans"), i,
                plan) if (streq_ptr(json_string_value(json_object_get(plan, "id")), plan_id)) return plan;
        return NULL;
}

static PolicyDeadline overdue_fact(const Deadlines *d, DeadlineKind kind) {
        const char *due = deadlines_first_overdue(d, kind);
        return (PolicyDeadline){ .overdue = due != NULL, .due = due };
}

static int evaluate(Projects *p, const CbCaller *caller, const EvalRequest *req, unsigned also,
                    Evaluation *ret, CbError *err);

/* Every fact from one snapshot, read under one lock. */
int projects_evaluate(Projects *p, const CbCaller *caller, const EvalRequest *req, unsigned also,
                      Evaluation *ret, CbError *err) {
        int opened = store_read_begin(p->store);
        int r = evaluate(p, caller, req, also, ret, err);
        store_read_end(p->store, opened);
        return r;
}

static int evaluate(Projects *p, const CbCaller *caller, const EvalRequest *req, unsigned also,
                    Evaluation *ret, CbError *err) {
        _cleanup_(project_row_done) ProjectRow row = { 0 };
        const Approval *a = NULL;
        _cleanup_(freep) PolicyItem *items = NULL;
        json_t *service = NULL;
        const json_t *plan = NULL;
        SystemFacts sys = { 0 };
        _cleanup_(deadlines_done) Deadlines dl = { 0 };
        PolicyRequest preq;
        PolicyFacts facts = { 0 };
        Evaluation ev = { 0 };
        BillingSpend spend = { 0 };
        const unsigned evaluators = CB_ROLE_AUTHORITY | CB_ROLE_AUDITOR | also;
        char today[11];
        int r;

        date_today_cst(today);
        /* Who may ask at all is decided before anything is read, so that
         * the refusal is the same whatever the ids name. */
        r = caller_require_role(caller, CB_ROLE_DEPARTMENT | evaluators, "evaluate requests", err);
        if (r < 0)
                return r;
        r = project_load(p, req->project_id, &row);
        if (r < 0 && r != -ENOENT)
                return store_error(p->store, err, "reading the project");
        /* Another department's project is evaluated as an unknown one
         * (NO_APPROVAL): its department, status and approval stay unsaid. */
        if (r == 0 && !caller_may_see(caller, row.department, evaluators))
                project_row_done(&row);

        /* Only the project's own department asks (and the authority, auditors, and whom `also` names). */
        r = caller_require_department(caller, row.id ? row.department : caller->principal->department,
                                      evaluators, "evaluate requests for this project", err);
        if (r < 0)
                return r;

        if (row.id) {
                r = project_approval_current(p, row.id, &a);
                if (r < 0 && r != -ENOENT)
                        return store_error(p->store, err, "reading the approval");
                if (project_deadlines(p, row.id, a, today, &dl) < 0)
                        return store_error(p->store, err, "reading the project");
                /* Art. 13, each resource once: what it was charged before today
                 * and what it commits from today to the approval's end. */
                if (a) {
                        r = billing_project_spend(p->store, row.id, today, a->valid_until,
                                                  (int64_t)time(NULL), &spend, err);
                        if (r < 0)
                                return r;
                }
        }

        preq = (PolicyRequest){
                .department =
                        caller_has_role(caller, CB_ROLE_DEPARTMENT) ? caller->principal->department : NULL,
                .project_id = req->project_id,
                .system_id = req->system_id,
                .service_id = req->service_id,
                .plan_id = req->plan_id,
                .quantity = req->quantity,
                .today = today,
                .dedicated_network = req->dedicated_network,
                .cost_kind =
                        row.id && project_completed(p, row.id) ? POLICY_COST_OM : POLICY_COST_CONSTRUCTION,
        };

        facts.project.department = row.id ? row.department : (preq.department ? preq.department : "");
        int status = row.id ? project_status_from_string(row.status) : PROJECT_ACTIVE;
        facts.project.status = status == PROJECT_SUSPENDED    ? POLICY_STATUS_SUSPENDED
                               : status == PROJECT_TERMINATED ? POLICY_STATUS_TERMINATED
                                                              : POLICY_STATUS_ACTIVE;
        if (a) {
                items = calloc(a->n_items ? a->n_items : 1, sizeof(PolicyItem));
                if (!items)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                for (size_t i = 0; i < a->n_items; i++) {
                        items[i] = (PolicyItem){
                                .service_id = a->items[i].service_id,
                                .plan_id = a->items[i].plan_id,
                                .approved = (uint32_t)a->items[i].quantity,
                                .held = held_quantity(p, row.id, a->items[i].service_id, a->items[i].plan_id),
                        };
                        if (streq_ptr(a->items[i].service_id, req->service_id) &&
                            streq_ptr(a->items[i].plan_id, req->plan_id))
                                items[i].held = items[i].held > req->release_quantity
                                                        ? items[i].held - req->release_quantity
                                                        : 0;
                }
                facts.approval.present = true;
                facts.approval.valid_from = a->valid_from;
                facts.approval.valid_until = a->valid_until;
                facts.approval.items = items;
                facts.approval.n_items = a->n_items;
                facts.approval.systems = (const char *const *)a->systems;
                facts.approval.n_systems = a->n_systems;
                facts.approval.budget_construction_fen = a->construction_fen;
                facts.approval.budget_om_fen = a->om_fen;
                facts.approval.used_construction_fen =
                        spend.committed_fen[0] > req->release_construction_fen
                                ? spend.committed_fen[0] - req->release_construction_fen
                                : 0;
                facts.approval.used_om_fen = spend.committed_fen[1] > req->release_om_fen
                                                     ? spend.committed_fen[1] - req->release_om_fen
                                                     : 0;
                if (req->batch_committed_fen > 0) {
                        int64_t *used = preq.cost_kind == POLICY_COST_OM
                                                ? &facts.approval.used_om_fen
                                                : &facts.approval.used_construction_fen;
                        *used = req->batch_committed_fen > INT64_MAX - *used
                                        ? INT64_MAX
                                        : *used + req->batch_committed_fen;
                }
                facts.approval.metered_construction_fen = spend.charged_fen[0];
                facts.approval.metered_om_fen = spend.charged_fen[1];
                facts.approval.requires_secure_controllable = a->requires_secure_controllable;
                facts.approval.dedicated_network_consent = a->dedicated_network_consent;
                snprintf(ev.approval_no, sizeof(ev.approval_no), "%s", a->approval_no);
        }

        if (catalog_get_published(p->catalog, req->service_id, &service) == 0) {
                plan = find_plan(service, req->plan_id);
                facts.service.exists = true;
                /* A plan outside the published revision is not in the catalogue either (Art. 12). */
                facts.service.published = plan != NULL;
                facts.service.secure_controllable =
                        json_is_true(json_object_get(service, "secure_controllable"));
                facts.service.max_protection_level =
                        (uint8_t)json_integer_value(json_object_get(service, "max_protection_level"));
                ev.catalog_revision = (unsigned)json_integer_value(json_object_get(service, "revision"));
        } else
                /* A draft or retired service exists but is not orderable: the
                 * message says which, to whom may see the draft. */
                facts.service.exists = catalog_exists(p->catalog, caller, req->service_id);

        /* A system the caller may not read is not in the directory for it
         * (SYSTEM_NOT_LISTED, and nothing of its classification or level).
         * A role the evaluation is for (`also`: the migration team planning
         * a department's move) reads the system it acts on. */
        if ((caller_has_role(caller, also)
                     ? systems_get_facts(p->store, req->system_id, &sys)
                     : systems_get_visible_facts(p->store, caller, req->system_id, &sys)) == 0) {
                facts.system.listed = true;
                facts.system.classified = sys.classified;
                facts.system.protection_level = sys.protection_level;
                facts.system.data_sharing_compliant = sys.data_sharing_compliant;
        }

        facts.projected_cost_fen = plan ? projected_cost(plan, req->quantity, a, today) : 0;
        facts.deadlines.contract_filing = overdue_fact(&dl, DEADLINE_CONTRACT_FILING);
        facts.deadlines.acceptance_filing = overdue_fact(&dl, DEADLINE_ACCEPTANCE_FILING);
        facts.deadlines.self_evaluation = overdue_fact(&dl, DEADLINE_SELF_EVALUATION);
        /* Art. 35: a department whose legacy system missed its deadline
         * gets nothing new but what moves its systems (the legacy register
         * answers; without it, nothing is overdue). */
        char migration_due[11] = "", migration_system[64] = "";
        bool migration_overdue = false;
        if (p->migration && !req->migration && facts.project.department[0] &&
            p->migration(facts.project.department, req->project_id, today, &migration_overdue, migration_due,
                         migration_system, p->migration_userdata) == 0 &&
            migration_overdue) {
                facts.deadlines.migration = (PolicyDeadline){ .overdue = true, .due = migration_due };
                facts.deadlines.migration_system = migration_system;
        }

        r = policy_evaluate(&preq, &facts, &ev.decision);
        if (r < 0) {
                json_decref(service);
                return cb_error_set(err, CB_ERR_INVALID, "the request cannot be evaluated: %s", strerror(-r));
        }
        ev.cost_kind = preq.cost_kind;
        ev.projected_cost_fen = facts.projected_cost_fen;
        snprintf(ev.department, sizeof(ev.department), "%s", facts.project.department);
        ev.service = service;
        ev.plan = plan ? json_incref((json_t *)plan) : NULL;
        *ret = ev;
        return 0;
}
