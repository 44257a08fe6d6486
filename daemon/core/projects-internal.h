/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What the modules of the project record share (projects.c, approvals.c,
 * evaluation.c): the Projects object, the stored row, and the reads every
 * one of them makes. Not for other modules: they use projects.h.
 */

#include "approval-memo.h"
#include "approval.h"
#include "deadlines.h"
#include "projects.h"

/* Who may read any project. */
#define PROJECT_READERS (CB_ROLE_AUTHORITY | CB_ROLE_OPERATOR | CB_ROLE_FINANCE | CB_ROLE_AUDITOR)

struct Projects {
        Store *store;
        Catalog *catalog;
        const TrustedKeys *keys;
        const Calendar *calendar;
        Calendar *empty_calendar; /* when the daemon has none: Monday-Friday, provisional */
        ProjectTerminatedFn terminated;
        void *terminated_userdata;
        ProjectMigrationFn migration;
        void *migration_userdata;
        ApprovalMemo *approvals; /* parsed current approvals, for evaluation */
};

typedef struct ProjectRow {
        char *id, *name, *department, *status;
        unsigned revision;
        char *created_at, *updated_at;
} ProjectRow;

void project_row_done(ProjectRow *r);

/* 0 and the row; -ENOENT when absent; -EIO on a store error. */
int project_load(Projects *p, const char *id, ProjectRow *ret);
/* The project as the caller sees it: CB_ERR_NOT_FOUND for an unknown id
 * and for a project the caller may not read alike, so that a refusal does
 * not tell another department that the id is in use. */
int project_load_visible(Projects *p, const CbCaller *caller, const char *id, ProjectRow *ret, CbError *err);
int project_not_found(CbError *err, const char *id);

/* The document of an approval revision (0: the current one), parsed:
 * 0, -ENOENT, -EIO. */
int project_approval_load(Projects *p, const char *project_id, unsigned revision, Approval **ret);
/* The same for the current revision, borrowed from p's memo (valid until
 * the next call but one): 0, -ENOENT, -EIO. */
int project_approval_current(Projects *p, const char *project_id, const Approval **ret);

/* The approval revisions a project holds, oldest first, without their
 * documents (approvals.c): 0, -ENOMEM, -EIO. */
int project_approval_records(Projects *p, const char *project_id, ApprovalList *ret);

/* What the project's resources have committed of its budget. */
typedef struct ProjectUsage {
        int64_t construction_fen, om_fen;
} ProjectUsage;
int project_usage(Projects *p, const char *project_id, ProjectUsage *ret);

/* Every deadline of the project under approval a (NULL: none). */
int project_deadlines(Projects *p, const char *project_id, const Approval *a, const char *today,
                      Deadlines *ret);
