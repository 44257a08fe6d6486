/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Projects and their signed approvals (Art. 8, 10, 20), milestones and
 * working-day deadlines (Art. 18, 25, 26), suspension and termination
 * (Art. 28), and the one place where the policy engine's facts are gathered
 * for a request (projects_evaluate): the evaluate endpoints and every
 * provisioning path call it, so a rule is enforced the same way everywhere.
 */

#include <jansson.h>

#include "calendar.h"
#include "catalog.h"
#include "error.h"
#include "page.h"
#include "policy.h"
#include "principal.h"
#include "signature.h"
#include "store.h"

typedef struct Projects Projects;

int projects_new(Store *store, Catalog *catalog, const TrustedKeys *keys, const Calendar *calendar,
                 Projects **ret);
Projects *projects_free(Projects *p);
Catalog *projects_catalog(Projects *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Projects *, projects_free);

/* Verifies the envelope, validates the document, and stores it as the
 * project's next approval revision (creating the project on revision 1).
 * Refusals (bad signature, unknown key, malformed document, another
 * department, a revision not newer than the one held) are CB_ERR_UNPROCESSABLE
 * or CB_ERR_VALIDATION, and store nothing. *ret: {project_id, approval_no, revision}. */
int projects_submit_approval(Projects *p, const CbCaller *caller, const json_t *envelope, json_t **ret,
                             CbError *err);

int projects_get(Projects *p, const CbCaller *caller, const char *id, json_t **ret, CbError *err);
/* The approval revisions a project holds ({revision, approval_no, key_id,
 * received_at, received_by}, oldest first: GET /v1/projects/{id}'s
 * approval_history), and one revision's document (0: the one in force),
 * for whoever may read the project (projects_get's rule). */
int projects_list_approvals(Projects *p, const CbCaller *caller, const char *project_id, json_t **ret,
                            CbError *err);
int projects_get_approval(Projects *p, const CbCaller *caller, const char *project_id, unsigned revision,
                          json_t **ret, CbError *err);
/* department NULL: all the caller may see. */
/* One page (page.h) in id order; ret_next is "" on the last page. */
int projects_list(Projects *p, const CbCaller *caller, const char *department, const Page *page, json_t **ret,
                  char ret_next[PAGE_TOKEN_MAX], CbError *err);
int projects_add_milestone(Projects *p, const CbCaller *caller, const char *id, const json_t *body,
                           json_t **ret, CbError *err);
/* Called (inside the transaction of the change) when a project is
 * terminated, so what it holds is scheduled for retirement (Art. 28). */
typedef int (*ProjectTerminatedFn)(const char *project_id, const CbCaller *caller, void *userdata);
void projects_set_terminated_callback(Projects *p, ProjectTerminatedFn fn, void *userdata);

/* Art. 35: whether orders of department in project_id are held back by a
 * legacy system that missed its migration deadline (today); on overdue,
 * ret_due and ret_system name the first such system. Returns 0, or <0 when
 * it could not tell (then nothing is held back). Set by the legacy
 * register (legacy.h); without one, no order is. */
typedef int (*ProjectMigrationFn)(const char *department, const char *project_id, const char *today,
                                  bool *ret_overdue, char ret_due[11], char ret_system[64], void *userdata);
void projects_set_migration_callback(Projects *p, ProjectMigrationFn fn, void *userdata);

/* action: "suspend", "resume", "terminate"; body {"reason"}. */
int projects_set_status(Projects *p, const CbCaller *caller, const char *id, const char *action,
                        const json_t *body, json_t **ret, CbError *err);

typedef struct EvalRequest {
        const char *project_id;
        const char *system_id;
        const char *service_id;
        const char *plan_id;
        uint32_t quantity;
        bool dedicated_network;
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
/* {"allowed", "violations", "projected_cost_fen", "cost_kind"}: what every face answers. */
json_t *evaluation_to_json(const Evaluation *e);

/* Authorizes the caller (own department; authority and auditors for any;
 * `also` adds roles such as operators for provisioning), gathers the facts
 * and runs the policy engine. No side effects. */
int projects_evaluate(Projects *p, const CbCaller *caller, const EvalRequest *req, unsigned also,
                      Evaluation *ret, CbError *err);
