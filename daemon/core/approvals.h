/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Approval intake (Art. 8, 10, 20): a signed envelope is verified against
 * the trusted authority keys, its document validated, and stored byte for
 * byte as the project's next approval revision (creating the project on
 * revision 1). Then the approvals on record, as the caller may read them:
 * readers (authority, operator, finance, auditors) every one, a department
 * its own projects' only; another department's approval is not there for
 * it (the answer for an unknown one).
 */

#include <jansson.h>

#include "error.h"
#include "page.h"
#include "principal.h"

typedef struct Projects Projects;

/* POST /v1/approvals. Refusals (bad signature, unknown key, malformed
 * document, another department, a revision not newer than the one held)
 * are CB_ERR_UNPROCESSABLE or CB_ERR_VALIDATION, and store nothing.
 * *ret: {project_id, approval_no, revision}. */
int approvals_import(Projects *p, const CbCaller *caller, const json_t *envelope, json_t **ret, CbError *err);

/* The approval revisions a project holds ({revision, approval_no, key_id,
 * received_at, received_by}, oldest first: GET /v1/projects/{id}'s
 * approval_history), and one revision's document (0: the one in force),
 * for whoever may read the project (projects_get's rule). */
int approvals_list_project(Projects *p, const CbCaller *caller, const char *project_id, json_t **ret,
                           CbError *err);
int approvals_get_revision(Projects *p, const CbCaller *caller, const char *project_id, unsigned revision,
                           json_t **ret, CbError *err);

/* GET /v1/approvals: every approval revision the caller may read, one page
 * (page.h) in (project_id, revision) order, each {project_id, department,
 * revision, approval_no, key_id, received_at, received_by, in_force};
 * department narrows it (a department may name only its own: Forbidden
 * otherwise, as projects_list). ret_next is "" on the last page. */
int approvals_list(Projects *p, const CbCaller *caller, const char *department, const Page *page,
                   json_t **ret, char ret_next[PAGE_TOKEN_MAX], CbError *err);

/* GET /v1/approvals/{no}: the newest revision carrying approval number no
 * among the projects the caller may read (an amended approval keeps its
 * number), as a list entry plus "document" (the validated approval). NotFound
 * when there is none the caller may read. */
int approvals_get(Projects *p, const CbCaller *caller, const char *approval_no, json_t **ret, CbError *err);
