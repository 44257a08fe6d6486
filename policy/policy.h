/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The regulation's rules for a resource request, as one pure function:
 * request + facts -> decision. No I/O, no globals, no allocation, no clock:
 * the daemon gathers the facts (store, catalogue, calendar) and passes
 * "today" in, so the same inputs always give the same decision and a test
 * can state any situation directly.
 *
 * Promise: the decision lists EVERY rule the request breaks, in the order
 * of the rule table, each code at most once, with the article it rests on
 * and a message naming the concrete values. allowed == (no violations).
 *
 * Strings in the structs are borrowed; none is kept after the call. The
 * rule table (codes, articles, summaries) is data in policy.c and is the
 * one place the code-to-article mapping lives; docs/policy.md explains each
 * rule and where its facts come from.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In rule-table order: the order violations are reported in. */
typedef enum PolicyCode {
        POLICY_NO_APPROVAL,
        POLICY_APPROVAL_NOT_YET_VALID,
        POLICY_APPROVAL_EXPIRED,
        POLICY_PROJECT_SUSPENDED,
        POLICY_PROJECT_TERMINATED,
        POLICY_DEPARTMENT_MISMATCH,
        POLICY_SERVICE_NOT_PUBLISHED,
        POLICY_ITEM_NOT_APPROVED,
        POLICY_QUANTITY_EXCEEDED,
        POLICY_BUDGET_EXCEEDED,
        POLICY_SYSTEM_NOT_LISTED,
        POLICY_CLASSIFIED_SYSTEM,
        POLICY_PROTECTION_LEVEL,
        POLICY_SECURE_CONTROLLABLE_REQUIRED,
        POLICY_DATA_SHARING_NONCOMPLIANT,
        POLICY_DEDICATED_NETWORK,
        POLICY_CONTRACT_FILING_OVERDUE,
        POLICY_ACCEPTANCE_FILING_OVERDUE,
        POLICY_SELF_EVALUATION_OVERDUE,
        POLICY_MIGRATION_OVERDUE,
        /* Reported by the inventory, never by policy_evaluate(). */
        POLICY_UNMANAGED_RESOURCE,
        _POLICY_CODE_MAX,
} PolicyCode;

/* "NO_APPROVAL", ...; NULL for an out-of-range code. */
const char *policy_code_name(PolicyCode code);
/* The primary article (an integer, e.g. 10); 0 for an out-of-range code. */
unsigned policy_code_article(PolicyCode code);
/* One line in English; NULL for an out-of-range code. */
const char *policy_code_summary(PolicyCode code);
/* -EINVAL for an unknown name. */
int policy_code_from_name(const char *name, PolicyCode *ret);

typedef enum PolicyCostKind {
        POLICY_COST_CONSTRUCTION, /* 建设资金: construction budget */
        POLICY_COST_OM,           /* 运维经费: operation and maintenance budget */
} PolicyCostKind;

typedef struct PolicyRequest {
        const char *department; /* the caller's department; NULL: the authority acts */
        const char *project_id;
        const char *system_id; /* the information system the resource serves */
        const char *service_id;
        const char *plan_id;
        uint32_t quantity;      /* > 0 */
        const char *today;      /* "YYYY-MM-DD", the daemon's local date */
        bool dedicated_network; /* the request creates a private business network */
        PolicyCostKind cost_kind;
} PolicyRequest;

typedef struct PolicyItem {
        const char *service_id;
        const char *plan_id;
        uint32_t approved; /* quantity the approval allows */
        uint32_t held;     /* quantity the project already holds of it */
} PolicyItem;

typedef enum PolicyProjectStatus {
        POLICY_STATUS_ACTIVE,
        POLICY_STATUS_SUSPENDED,
        POLICY_STATUS_TERMINATED,
} PolicyProjectStatus;

typedef struct PolicyDeadline {
        bool overdue;
        const char *due; /* "YYYY-MM-DD" or NULL */
} PolicyDeadline;

typedef struct PolicyFacts {
        struct {
                const char *department; /* the department the project belongs to */
                PolicyProjectStatus status;
        } project;

        /* The project's approval revision in force (signed by the
         * authority). When present is false the other fields are ignored. */
        struct {
                bool present;
                const char *valid_from;  /* "YYYY-MM-DD", inclusive; NULL: no lower bound */
                const char *valid_until; /* inclusive; NULL: open-ended */
                const PolicyItem *items;
                size_t n_items;
                const char *const *systems; /* ids of the systems the approval names */
                size_t n_systems;
                int64_t budget_construction_fen;
                int64_t budget_om_fen;
                int64_t used_construction_fen; /* committed so far */
                int64_t used_om_fen;
                /* What runs: the money the rating has metered so far over
                 * the project's whole history (docs/billing.md), apart
                 * from what is committed. Both count against the budget. */
                int64_t metered_construction_fen;
                int64_t metered_om_fen;
                bool requires_secure_controllable;
                bool dedicated_network_consent;
        } approval;

        /* The catalogue entry of request.service_id, as published. */
        struct {
                bool exists;
                bool published;
                bool secure_controllable;
                uint8_t max_protection_level; /* 1-4: highest level it is certified for */
        } service;

        /* The directory entry of request.system_id. */
        struct {
                bool listed; /* in the directory of information systems */
                bool classified;
                uint8_t protection_level; /* 1-4; 0: not graded */
                bool data_sharing_compliant;
        } system;

        /* The request's cost over the billing horizon, in fen, computed by
         * the daemon from the catalogue price; charged to cost_kind. */
        int64_t projected_cost_fen;

        /* Computed by the daemon from milestones and the calendar; the
         * optional due dates only make the messages concrete. */
        struct {
                PolicyDeadline contract_filing;   /* Art. 18: 5 working days after signing */
                PolicyDeadline acceptance_filing; /* Art. 25: 30 working days after completion */
                PolicyDeadline self_evaluation;   /* Art. 26: after the budget year */
                PolicyDeadline migration;         /* Art. 35: a legacy system of the department */
                const char *migration_system;     /* the overdue legacy system; NULL: the request's */
        } deadlines;
} PolicyFacts;

#define POLICY_MESSAGE_MAX 256

typedef struct PolicyViolation {
        PolicyCode code;
        unsigned article;
        char message[POLICY_MESSAGE_MAX];
} PolicyViolation;

typedef struct PolicyDecision {
        bool allowed;
        size_t n_violations;
        PolicyViolation violations[_POLICY_CODE_MAX];
} PolicyDecision;

/* Evaluates every rule. -EINVAL, and *ret untouched, when the input is not
 * a request at all: a missing project, service or plan id, quantity 0, an
 * invalid today or approval date. Anything that is merely not allowed is a
 * violation, never an error. */
int policy_evaluate(const PolicyRequest *req, const PolicyFacts *facts, PolicyDecision *ret);

/* The budget alert thresholds (Art. 13): the highest one `used_fen` reaches
 * of `budget_fen`, as a percentage: 100, 80 or 0. Integer arithmetic, no
 * overflow for any non-negative inputs. A budget of 0 is reached (100) by
 * any spending, and by none (0) when nothing is spent. Negative inputs: 0. */
#define POLICY_BUDGET_ALERT_PERCENT 80
unsigned policy_budget_threshold(int64_t budget_fen, int64_t used_fen);

/* committed + metered, saturating at INT64_MAX (both non-negative). */
int64_t policy_budget_used(int64_t committed_fen, int64_t metered_fen);

bool policy_decision_has(const PolicyDecision *d, PolicyCode code);

/* [{"code", "article", "message"}, ...]: what cb_error_set_violations()
 * takes. NULL on allocation failure. */
json_t *policy_violations_to_json(const PolicyDecision *d);
/* {"allowed": bool, "violations": [...]}. NULL on allocation failure. */
json_t *policy_decision_to_json(const PolicyDecision *d);
