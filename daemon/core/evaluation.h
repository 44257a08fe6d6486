/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The one place where the policy engine's facts are gathered for a request
 * (projects_evaluate): the project, its approval in force, what it holds,
 * its deadlines, the catalogue's published service and the system's
 * directory entry, all from one read snapshot. The evaluate endpoints and
 * every provisioning path call it, so a rule is enforced the same way
 * everywhere. The engine itself (policy/policy.h) is pure.
 */

#include <jansson.h>

#include "error.h"
#include "policy.h"
#include "principal.h"

typedef struct Projects Projects;

typedef struct EvalRequest {
        const char *project_id;
        const char *system_id;
        const char *service_id;
        const char *plan_id;
        uint32_t quantity;
        bool dedicated_network;
        /* A resize (resize.h): what the resource's current plan committed,
         * released when it moves, so that only the new plan counts against
         * the budget; 0 for a new order. */
        int64_t release_construction_fen, release_om_fen;
        /* An update of a resource on the plan it is on: the resource is one of
         * the plan's holdings already, so that many are not counted twice
         * (Art. 20 is about more resources, not the same one changed). */
        uint32_t release_quantity;
        /* The target of a legacy system's move (its plan's pre-flight, the
         * move itself): what Art. 35 asks for, so an overdue migration of
         * the department does not hold it back. Set by the legacy register
         * only, never read from a request body. */
        bool migration;
        /* What other orders judged together with this one commit (a legacy
         * plan's targets of other catalogue plans, LegacyBatch): counted as
         * used in the budget of the request's cost kind. Set by the legacy
         * register only; 0 for a lone order. */
        int64_t batch_committed_fen;
} EvalRequest;

/* Reads {"project_id", "system_id", "service_id", "plan_id", "quantity"
 * (default 1), "dedicated_network" (default false)}; strings borrowed from j.
 * extra: more accepted field names (NULL-ended), or NULL. */
int eval_request_from_json(const json_t *j, const char *const *extra, EvalRequest *ret, CbError *err);

typedef struct Evaluation {
        PolicyDecision decision;
        PolicyCostKind cost_kind;
        int64_t projected_cost_fen;
        unsigned catalog_revision; /* the published revision the request is priced at; 0 if none */
        char approval_no[65];      /* "" without approval */
        char department[64];       /* the project's department */
        json_t *plan;              /* the published plan (new reference) or NULL */
        json_t *service;           /* the published service (new reference) or NULL */
} Evaluation;

void evaluation_done(Evaluation *e);
/* The faces serialize an Evaluation with rest_evaluation_json()
 * (daemon/rest/rest-records.h). */

/* Authorizes the caller (own department; authority and auditors for any;
 * `also` adds roles such as operators for provisioning), gathers the facts
 * and runs the policy engine. No side effects. */
int projects_evaluate(Projects *p, const CbCaller *caller, const EvalRequest *req, unsigned also,
                      Evaluation *ret, CbError *err);
