/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Projects (Art. 8, 10, 20): made by their first signed approval
 * (approvals.h), with milestones and the working-day deadlines they open
 * (Art. 18, 25, 26; the arithmetic is policy/deadlines.h), suspension and
 * termination (Art. 28). The facts the policy engine weighs for a request
 * are gathered in evaluation.h.
 *
 * The promise: a department reads and records milestones of its own
 * projects only, and another department's project is an unknown id to it
 * (404, never 403); readers (authority, operator, finance, auditors) read
 * all; only the authority suspends, resumes and terminates, and every
 * change and refused change is an audit record.
 */

#include <jansson.h>

#include "approval.h"
#include "approvals.h"
#include "calendar.h"
#include "catalog.h"
#include "deadlines.h"
#include "error.h"
#include "page.h"
#include "policy.h"
#include "principal.h"
#include "signature.h"
#include "states.h"
#include "store.h"

typedef struct Projects Projects;

int projects_new(Store *store, Catalog *catalog, const TrustedKeys *keys, const Calendar *calendar,
                 Projects **ret);
Projects *projects_free(Projects *p);
Catalog *projects_catalog(Projects *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Projects *, projects_free);

/* ---- the records the core hands out (each face serializes them) ---- */

typedef struct ProjectMilestone {
        int64_t id;
        MilestoneKind kind;
        char date[DATE_LEN + 1];
        int budget_year; /* self-evaluations: the year evaluated; else 0 */
        char *recorded_at, *recorded_by;
} ProjectMilestone;

typedef struct ProjectDeadline {
        Deadline deadline;           /* policy/deadlines.h: kind, article, dates, status */
        char event[32];              /* the milestone kind that opened it, or "budget_year_end" */
        char filed_on[DATE_LEN + 1]; /* "" while unfiled */
} ProjectDeadline;

typedef struct ProjectEvent {
        char *action, *reason, *principal, *at; /* suspend, resume, terminate */
} ProjectEvent;

typedef struct Project {
        char *id, *name, *department;
        ProjectStatus status;
        unsigned revision;
        Approval *approval; /* in force; its budget is the project's */
        int64_t used_construction_fen, used_om_fen;
        ProjectDeadline *deadlines;
        size_t n_deadlines;
        bool blocked; /* a deadline is overdue */
        char *created_at, *updated_at;
        bool full;                    /* projects_get(): the history, milestones and events too */
        ApprovalList history;         /* oldest first, without documents */
        ProjectMilestone *milestones; /* by date */
        size_t n_milestones;
        ProjectEvent *events;
        size_t n_events;
} Project;

Project *project_free(Project *pr);
DEFINE_TRIVIAL_CLEANUP_FUNC(Project *, project_free);

typedef struct ProjectList {
        Project **v;
        size_t n;
} ProjectList;
void project_list_done(ProjectList *l);

int projects_get(Projects *p, const CbCaller *caller, const char *id, Project **ret, CbError *err);
/* department NULL: all the caller may see. */
/* One page (page.h) in id order; ret_next is "" on the last page. */
int projects_list(Projects *p, const CbCaller *caller, const char *department, const Page *page,
                  ProjectList *ret, char ret_next[PAGE_TOKEN_MAX], CbError *err);
/* *ret: the project as it now stands. */
int projects_add_milestone(Projects *p, const CbCaller *caller, const char *id, const json_t *body,
                           Project **ret, CbError *err);
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
                        const json_t *body, Project **ret, CbError *err);

/* The approvals and the policy facts of a project, for whoever included
 * this header before they had modules of their own. */
#include "approvals.h"
#include "evaluation.h"
