/* SPDX-License-Identifier: Apache-2.0 */
#include "policy.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "calendar.h"
#include "macro.h"

static const struct {
        const char *name;
        unsigned article;
        const char *summary;
} rules[_POLICY_CODE_MAX] = {
        [POLICY_NO_APPROVAL] = { "NO_APPROVAL", 10,
                                 "no resource for a project without a valid, signed approval (Art. 8, 10)" },
        [POLICY_APPROVAL_NOT_YET_VALID] = { "APPROVAL_NOT_YET_VALID", 8,
                                            "the approval's validity window has not begun" },
        [POLICY_APPROVAL_EXPIRED] = { "APPROVAL_EXPIRED", 8, "the approval's validity window has ended" },
        [POLICY_PROJECT_SUSPENDED] = { "PROJECT_SUSPENDED", 28,
                                       "the authority suspended the project: no new resources or funds" },
        [POLICY_PROJECT_TERMINATED] = { "PROJECT_TERMINATED", 28,
                                        "the project is terminated: nothing new, existing resources retire" },
        [POLICY_DEPARTMENT_MISMATCH] = { "DEPARTMENT_MISMATCH", 5,
                                         "a department acts only for its own projects" },
        [POLICY_SERVICE_NOT_PUBLISHED] = { "SERVICE_NOT_PUBLISHED", 12,
                                           "only services of the published catalogue may be used" },
        [POLICY_ITEM_NOT_APPROVED] = { "ITEM_NOT_APPROVED", 10,
                                       "the service and plan must be among the approval's items (Art. 10, "
                                       "20)" },
        [POLICY_QUANTITY_EXCEEDED] = { "QUANTITY_EXCEEDED", 20,
                                       "more than approved needs an approved adjustment" },
        [POLICY_BUDGET_EXCEEDED] = { "BUDGET_EXCEEDED", 13,
                                     "the projected cost must fit the approval's remaining budget" },
        [POLICY_SYSTEM_NOT_LISTED] = { "SYSTEM_NOT_LISTED", 10,
                                       "the information system must be in the directory and named by the "
                                       "approval" },
        [POLICY_CLASSIFIED_SYSTEM] = { "CLASSIFIED_SYSTEM", 3, "classified systems are outside this cloud" },
        [POLICY_PROTECTION_LEVEL] = { "PROTECTION_LEVEL", 37,
                                      "the system's protection level must not exceed the service's "
                                      "certification" },
        [POLICY_SECURE_CONTROLLABLE_REQUIRED] = { "SECURE_CONTROLLABLE_REQUIRED", 24,
                                                  "the approval requires secure-and-controllable services" },
        [POLICY_DATA_SHARING_NONCOMPLIANT] = { "DATA_SHARING_NONCOMPLIANT", 11,
                                               "a system that does not share data gets no new O&M "
                                               "resources" },
        [POLICY_DEDICATED_NETWORK] = { "DEDICATED_NETWORK", 11,
                                       "no new private business network without the authority's consent" },
        [POLICY_CONTRACT_FILING_OVERDUE] = { "CONTRACT_FILING_OVERDUE", 18,
                                             "the contract was not filed within 5 working days of signing" },
        [POLICY_ACCEPTANCE_FILING_OVERDUE] = { "ACCEPTANCE_FILING_OVERDUE", 25,
                                               "the acceptance report was not filed within 30 working days" },
        [POLICY_SELF_EVALUATION_OVERDUE] = { "SELF_EVALUATION_OVERDUE", 26,
                                             "the annual self-evaluation after the budget year is missing" },
        [POLICY_MIGRATION_OVERDUE] = { "MIGRATION_OVERDUE", 35,
                                       "the legacy system missed its deadline to move onto the municipal "
                                       "cloud" },
        [POLICY_UNMANAGED_RESOURCE] = { "UNMANAGED_RESOURCE", 10,
                                        "a resource on a managed provider that no approval covers (Art. 10, "
                                        "35)" },
};

const char *policy_code_name(PolicyCode code) {
        return (unsigned)code < _POLICY_CODE_MAX ? rules[code].name : NULL;
}

unsigned policy_code_article(PolicyCode code) {
        return (unsigned)code < _POLICY_CODE_MAX ? rules[code].article : 0;
}

const char *policy_code_summary(PolicyCode code) {
        return (unsigned)code < _POLICY_CODE_MAX ? rules[code].summary : NULL;
}

int policy_code_from_name(const char *name, PolicyCode *ret) {
        if (!name)
                return -EINVAL;
        for (unsigned i = 0; i < _POLICY_CODE_MAX; i++)
                if (streq(rules[i].name, name)) {
                        if (ret)
                                *ret = (PolicyCode)i;
                        return 0;
                }
        return -EINVAL;
}

/* Ids are borrowed from the caller and may be NULL where a fact is absent;
 * a message must still read. */
static const char *str_or_none(const char *s) {
        return isempty(s) ? "(none)" : s;
}

_printf_(3, 4) static void violation(PolicyDecision *d, PolicyCode code, const char *fmt, ...) {
        PolicyViolation *v;
        va_list ap;

        /* Each code is checked once, so the array cannot overflow; the
         * check guards against a future edit that breaks that. */
        if (d->n_violations >= ELEMENTSOF(d->violations))
                return;
        v = &d->violations[d->n_violations++];
        v->code = code;
        v->article = rules[code].article;
        va_start(ap, fmt);
        vsnprintf(v->message, sizeof(v->message), fmt, ap);
        va_end(ap);
}

static const PolicyItem *find_item(const PolicyFacts *f, const char *service_id, const char *plan_id) {
        for (size_t i = 0; i < f->approval.n_items; i++) {
                const PolicyItem *it = &f->approval.items[i];
                if (streq_ptr(it->service_id, service_id) && streq_ptr(it->plan_id, plan_id))
                        return it;
        }
        return NULL;
}

static bool approval_names_system(const PolicyFacts *f, const char *system_id) {
        for (size_t i = 0; i < f->approval.n_systems; i++)
                if (streq_ptr(f->approval.systems[i], system_id))
                        return true;
        return false;
}

static bool optional_date_ok(const char *s) {
        return !s || date_is_valid(s);
}

static int check_input(const PolicyRequest *req, const PolicyFacts *f) {
        if (!req || !f)
                return -EINVAL;
        if (isempty(req->project_id) || isempty(req->service_id) || isempty(req->plan_id) ||
            req->quantity == 0)
                return -EINVAL;
        if (!date_is_valid(req->today))
                return -EINVAL;
        if ((unsigned)req->cost_kind > POLICY_COST_OM ||
            (unsigned)f->project.status > POLICY_STATUS_TERMINATED)
                return -EINVAL;
        /* Money is never negative; with that, budget - used cannot overflow. */
        if (f->projected_cost_fen < 0)
                return -EINVAL;
        if (f->approval.present) {
                if (!optional_date_ok(f->approval.valid_from) || !optional_date_ok(f->approval.valid_until))
                        return -EINVAL;
                if ((f->approval.n_items > 0 && !f->approval.items) ||
                    (f->approval.n_systems > 0 && !f->approval.systems))
                        return -EINVAL;
                if (f->approval.budget_construction_fen < 0 || f->approval.budget_om_fen < 0 ||
                    f->approval.used_construction_fen < 0 || f->approval.used_om_fen < 0 ||
                    f->approval.metered_construction_fen < 0 || f->approval.metered_om_fen < 0)
                        return -EINVAL;
        }
        return 0;
}

static void check_approval(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (!f->approval.present) {
                violation(d, POLICY_NO_APPROVAL, "project %s has no signed approval in force",
                          req->project_id);
                return;
        }
        if (f->approval.valid_from && date_compare(req->today, f->approval.valid_from) < 0)
                violation(d, POLICY_APPROVAL_NOT_YET_VALID,
                          "approval of project %s is valid from %s; today is %s", req->project_id,
                          f->approval.valid_from, req->today);
        if (f->approval.valid_until && date_compare(req->today, f->approval.valid_until) > 0)
                violation(d, POLICY_APPROVAL_EXPIRED, "approval of project %s expired on %s; today is %s",
                          req->project_id, f->approval.valid_until, req->today);
}

static void check_project(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (f->project.status == POLICY_STATUS_SUSPENDED)
                violation(d, POLICY_PROJECT_SUSPENDED, "project %s is suspended by the authority",
                          req->project_id);
        else if (f->project.status == POLICY_STATUS_TERMINATED)
                violation(d, POLICY_PROJECT_TERMINATED, "project %s is terminated", req->project_id);

        /* NULL department: the authority itself acts, for any project. */
        if (req->department && !streq_ptr(req->department, f->project.department))
                violation(d, POLICY_DEPARTMENT_MISMATCH,
                          "department %s may not act for project %s of department %s", req->department,
                          req->project_id, str_or_none(f->project.department));
}

static void check_service(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (!f->service.exists)
                violation(d, POLICY_SERVICE_NOT_PUBLISHED, "service %s is not in the catalogue",
                          req->service_id);
        else if (!f->service.published)
                violation(d, POLICY_SERVICE_NOT_PUBLISHED, "service %s is not published in the catalogue",
                          req->service_id);
}

static void check_items(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (!f->approval.present)
                return;

        const PolicyItem *it = find_item(f, req->service_id, req->plan_id);
        if (!it) {
                violation(d, POLICY_ITEM_NOT_APPROVED,
                          "plan %s/%s is not among the approved items of project %s", req->service_id,
                          req->plan_id, req->project_id);
                return;
        }

        uint64_t total = (uint64_t)it->held + req->quantity;
        if (total <= it->approved)
                return;
        if (it->held == 0)
                violation(d, POLICY_QUANTITY_EXCEEDED,
                          "plan %s/%s quantity %" PRIu32 " exceeds approved %" PRIu32, req->service_id,
                          req->plan_id, req->quantity, it->approved);
        else
                violation(d, POLICY_QUANTITY_EXCEEDED,
                          "plan %s/%s quantity %" PRIu32 " held + %" PRIu32 " requested = %" PRIu64
                          " exceeds approved %" PRIu32,
                          req->service_id, req->plan_id, it->held, req->quantity, total, it->approved);
}

unsigned policy_budget_threshold(int64_t budget_fen, int64_t used_fen) {
        if (budget_fen < 0 || used_fen < 0)
                return 0;
        if (budget_fen == 0)
                return used_fen > 0 ? 100 : 0;
        if (used_fen >= budget_fen)
                return 100;
        /* used * 100 >= budget * 80, in 128 bits: no overflow for any int64. */
        if ((__int128)used_fen * 100 >= (__int128)budget_fen * POLICY_BUDGET_ALERT_PERCENT)
                return POLICY_BUDGET_ALERT_PERCENT;
        return 0;
}

int64_t policy_budget_used(int64_t committed_fen, int64_t metered_fen) {
        if (committed_fen < 0 || metered_fen < 0)
                return 0;
        return committed_fen > INT64_MAX - metered_fen ? INT64_MAX : committed_fen + metered_fen;
}

static void check_budget(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (!f->approval.present)
                return;

        bool om = req->cost_kind == POLICY_COST_OM;
        const char *kind = om ? "O&M" : "construction";
        int64_t budget = om ? f->approval.budget_om_fen : f->approval.budget_construction_fen;
        int64_t committed = om ? f->approval.used_om_fen : f->approval.used_construction_fen;
        int64_t metered = om ? f->approval.metered_om_fen : f->approval.metered_construction_fen;
        int64_t used = policy_budget_used(committed, metered);

        /* At 100 % nothing new is started, not even a free resource: what
         * runs already spends the money that is left. */
        if (policy_budget_threshold(budget, used) >= 100) {
                violation(d, POLICY_BUDGET_EXCEEDED,
                          "the %s budget %" PRId64 " fen is spent: committed %" PRId64 " + metered %" PRId64
                          " = %" PRId64 " fen",
                          kind, budget, committed, metered, used);
                return;
        }

        int64_t remaining = budget - used; /* > 0 here */
        if (f->projected_cost_fen > 0 && f->projected_cost_fen > remaining)
                violation(d, POLICY_BUDGET_EXCEEDED,
                          "projected %s cost %" PRId64 " fen exceeds the remaining %s budget %" PRId64
                          " fen (budget %" PRId64 ", used %" PRId64 ")",
                          kind, f->projected_cost_fen, kind, remaining, budget, used);
}

static void check_system(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (isempty(req->system_id)) {
                violation(d, POLICY_SYSTEM_NOT_LISTED, "the request names no information system");
                return;
        }

        bool unlisted = !f->system.listed;
        bool unnamed = f->approval.present && !approval_names_system(f, req->system_id);
        if (unlisted || unnamed)
                violation(d, POLICY_SYSTEM_NOT_LISTED, "system %s is %s%s%s%s", req->system_id,
                          unlisted ? "not in the directory of information systems" : "",
                          unlisted && unnamed ? " and " : "",
                          unnamed ? "not named by the approval of project " : "",
                          unnamed ? req->project_id : "");
}

/* Rules that read the directory entry of the system; without one there is
 * nothing to read, and SYSTEM_NOT_LISTED has already said so. */
static void check_system_facts(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (isempty(req->system_id) || !f->system.listed)
                return;

        if (f->system.classified)
                violation(d, POLICY_CLASSIFIED_SYSTEM,
                          "system %s is classified and may not use the government cloud", req->system_id);
        /* Certification facts come from the published revision; without one,
         * SERVICE_NOT_PUBLISHED has already said what is wrong. */
        if (f->service.published && f->system.protection_level > f->service.max_protection_level)
                violation(d, POLICY_PROTECTION_LEVEL,
                          "system %s has protection level %u; service %s is certified up to level %u",
                          req->system_id, (unsigned)f->system.protection_level, req->service_id,
                          (unsigned)f->service.max_protection_level);
}

static void check_secure_controllable(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (f->approval.present && f->approval.requires_secure_controllable && f->service.published &&
            !f->service.secure_controllable)
                violation(
                        d, POLICY_SECURE_CONTROLLABLE_REQUIRED,
                        "approval of project %s requires secure-and-controllable products; service %s is not",
                        req->project_id, req->service_id);
}

static void check_art11(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        if (req->cost_kind == POLICY_COST_OM && !isempty(req->system_id) && f->system.listed &&
            !f->system.data_sharing_compliant)
                violation(d, POLICY_DATA_SHARING_NONCOMPLIANT,
                          "system %s does not share data as required: no new O&M resources", req->system_id);

        /* Consent is a separate act of the authority, so it is asked for
         * even when the approval itself is missing. */
        if (req->dedicated_network && !(f->approval.present && f->approval.dedicated_network_consent))
                violation(d, POLICY_DEDICATED_NETWORK,
                          "project %s has no consent from the authority for a new private business network",
                          req->project_id);
}

static void check_deadlines(const PolicyRequest *req, const PolicyFacts *f, PolicyDecision *d) {
        const PolicyDeadline *c = &f->deadlines.contract_filing;
        const PolicyDeadline *a = &f->deadlines.acceptance_filing;
        const PolicyDeadline *s = &f->deadlines.self_evaluation;
        const PolicyDeadline *m = &f->deadlines.migration;

        if (c->overdue)
                violation(d, POLICY_CONTRACT_FILING_OVERDUE,
                          "contract of project %s not filed; it was due %s%s", req->project_id,
                          c->due ? "by " : "within 5 working days of signing", c->due ? c->due : "");
        if (a->overdue)
                violation(d, POLICY_ACCEPTANCE_FILING_OVERDUE,
                          "acceptance report of project %s not filed; it was due %s%s", req->project_id,
                          a->due ? "by " : "within 30 working days of completion", a->due ? a->due : "");
        if (s->overdue)
                violation(d, POLICY_SELF_EVALUATION_OVERDUE,
                          "self-evaluation of project %s not submitted; it was due %s%s", req->project_id,
                          s->due ? "by " : "after the budget year", s->due ? s->due : "");
        if (m->overdue)
                violation(d, POLICY_MIGRATION_OVERDUE,
                          "system %s has not moved onto the municipal cloud; it was due %s%s",
                          str_or_none(f->deadlines.migration_system ? f->deadlines.migration_system
                                                                    : req->system_id),
                          m->due ? "by " : "by its migration deadline", m->due ? m->due : "");
}

int policy_evaluate(const PolicyRequest *req, const PolicyFacts *facts, PolicyDecision *ret) {
        int r;

        if (!ret)
                return -EINVAL;
        r = check_input(req, facts);
        if (r < 0)
                return r;

        /* Only the header is reset: the violations array is written as it
         * fills, which keeps an allowed decision cheap. Table order. */
        ret->n_violations = 0;
        check_approval(req, facts, ret);
        check_project(req, facts, ret);
        check_service(req, facts, ret);
        check_items(req, facts, ret);
        check_budget(req, facts, ret);
        check_system(req, facts, ret);
        check_system_facts(req, facts, ret);
        check_secure_controllable(req, facts, ret);
        check_art11(req, facts, ret);
        check_deadlines(req, facts, ret);
        ret->allowed = ret->n_violations == 0;
        return 0;
}

bool policy_decision_has(const PolicyDecision *d, PolicyCode code) {
        for (size_t i = 0; d && i < d->n_violations; i++)
                if (d->violations[i].code == code)
                        return true;
        return false;
}

json_t *policy_violations_to_json(const PolicyDecision *d) {
        json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < d->n_violations; i++) {
                const PolicyViolation *v = &d->violations[i];
                json_t *o = json_pack("{s:s, s:I, s:s}", "code", str_or_none(policy_code_name(v->code)),
                                      "article", (json_int_t)v->article, "message", v->message);
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

json_t *policy_decision_to_json(const PolicyDecision *d) {
        json_t *v = policy_violations_to_json(d);

        if (!v)
                return NULL;
        return json_pack("{s:b, s:o}", "allowed", d->allowed, "violations", v);
}
