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
#include <stdbool.h>

#include "approval.h"
#include "error.h"
#include "page.h"
#include "principal.h"

typedef struct Projects Projects;

/* ---- the records the core hands out (each face serializes them) ---- */

/* One approval revision on record: the signed document (policy/approval.h:
 * items, quantities, budget, dates as typed members) and how it came in. */
typedef struct ApprovalRecord {
        char *project_id;
        char *department; /* the project's */
        unsigned revision;
        char *approval_no;
        char *key_id; /* the authority key that signed it */
        char *received_at, *received_by;
        bool in_force;      /* the project's current revision */
        Approval *document; /* where the call says so; else NULL */
} ApprovalRecord;

ApprovalRecord *approval_record_free(ApprovalRecord *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(ApprovalRecord *, approval_record_free);

typedef struct ApprovalList {
        ApprovalRecord *v;
        size_t n;
} ApprovalList;
void approval_list_done(ApprovalList *l);

/* POST /v1/approvals. Refusals (bad signature, unknown key, malformed
 * document, another department, a revision not newer than the one held)
 * are CB_ERR_UNPROCESSABLE or CB_ERR_VALIDATION, and store nothing.
 * *ret (may be NULL): the revision as stored, with its document. */
int approvals_import(Projects *p, const CbCaller *caller, const json_t *envelope, ApprovalRecord **ret,
                     CbError *err);

/* The approval revisions a project holds, oldest first (GET
 * /v1/projects/{id}'s approval_history; no documents), and one revision's
 * document (0: the one in force), for whoever may read the project
 * (projects_get's rule). */
int approvals_list_project(Projects *p, const CbCaller *caller, const char *project_id, ApprovalList *ret,
                           CbError *err);
int approvals_get_revision(Projects *p, const CbCaller *caller, const char *project_id, unsigned revision,
                           Approval **ret, CbError *err);

/* GET /v1/approvals: every approval revision the caller may read, one page
 * (page.h) in (project_id, revision) order, without documents; department
 * narrows it (a department may name only its own: Forbidden otherwise, as
 * projects_list). ret_next is "" on the last page. */
int approvals_list(Projects *p, const CbCaller *caller, const char *department, const Page *page,
                   ApprovalList *ret, char ret_next[PAGE_TOKEN_MAX], CbError *err);

/* GET /v1/approvals/{no}: the newest revision carrying approval number no
 * among the projects the caller may read (an amended approval keeps its
 * number), with its document. NotFound when there is none the caller may
 * read. */
int approvals_get(Projects *p, const CbCaller *caller, const char *approval_no, ApprovalRecord **ret,
                  CbError *err);
