/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine: for every rule the case that passes (usually at the
 * boundary) and the case that fails, with the exact message; combinations
 * that must list every violation; refusal of input that is not a request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "macro.h"
#include "policy.h"

typedef struct Fixture {
        PolicyRequest req;
        PolicyFacts facts;
        PolicyItem items[3];
        const char *systems[2];
} Fixture;

/* A request that every rule allows: the health department asks for two
 * more large VMs for its approved, active, funded project. */
static void fixture_init(Fixture *fx) {
        *fx = (Fixture){
                .req = {
                        .department = "health",
                        .project_id = "prj-clinic",
                        .system_id = "sys-emr",
                        .service_id = "vm-general",
                        .plan_id = "large",
                        .quantity = 2,
                        .today = "2026-03-10",
                        .cost_kind = POLICY_COST_OM,
                },
                .items = {
                        { .service_id = "vm-general", .plan_id = "small", .approved = 10, .held = 0 },
                        { .service_id = "vm-general", .plan_id = "large", .approved = 4, .held = 2 },
                        { .service_id = "rds-mysql", .plan_id = "large", .approved = 1, .held = 0 },
                },
                .systems = { "sys-portal", "sys-emr" },
        };
        PolicyFacts *f = &fx->facts;
        f->project.department = "health";
        f->project.status = POLICY_STATUS_ACTIVE;
        f->approval.present = true;
        f->approval.valid_from = "2026-01-01";
        f->approval.valid_until = "2026-12-31";
        f->approval.items = fx->items;
        f->approval.n_items = ELEMENTSOF(fx->items);
        f->approval.systems = fx->systems;
        f->approval.n_systems = ELEMENTSOF(fx->systems);
        f->approval.budget_construction_fen = 50000000;
        f->approval.budget_om_fen = 2000000;
        f->approval.used_construction_fen = 10000000;
        f->approval.used_om_fen = 1500000;
        f->service.exists = true;
        f->service.published = true;
        f->service.secure_controllable = true;
        f->service.max_protection_level = 3;
        f->system.listed = true;
        f->system.protection_level = 3;
        f->system.data_sharing_compliant = true;
        f->projected_cost_fen = 500000; /* exactly the remaining O&M budget */
}

static PolicyDecision decide(const Fixture *fx) {
        PolicyDecision d;
        assert_int_equal(policy_evaluate(&fx->req, &fx->facts, &d), 0);
        assert_int_equal(d.allowed, d.n_violations == 0);
        assert_true(d.n_violations <= _POLICY_CODE_MAX);
        return d;
}

static void expect_allowed(const Fixture *fx) {
        PolicyDecision d = decide(fx);
        if (d.n_violations > 0)
                fail_msg("unexpected %s: %s", policy_code_name(d.violations[0].code),
                         d.violations[0].message);
        assert_true(d.allowed);
}

/* Exactly these codes, in this order, each with its table article. */
static void expect_codes(const PolicyDecision *d, const PolicyCode *codes, size_t n) {
        for (size_t i = 0; i < d->n_violations && i < n; i++) {
                if (d->violations[i].code != codes[i])
                        fail_msg("violation %zu: got %s (%s), expected %s", i,
                                 policy_code_name(d->violations[i].code), d->violations[i].message,
                                 policy_code_name(codes[i]));
                assert_int_equal(d->violations[i].article, policy_code_article(codes[i]));
        }
        assert_int_equal(d->n_violations, n);
        assert_false(d->allowed);
}

/* Exactly one violation, with this code and message. */
static void expect_only(const Fixture *fx, PolicyCode code, const char *message) {
        PolicyDecision d = decide(fx);
        expect_codes(&d, &code, 1);
        assert_string_equal(d.violations[0].message, message);
}

static void test_valid_request(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        PolicyDecision d = decide(&fx);
        assert_true(d.allowed);
        assert_int_equal(d.n_violations, 0);

        /* The authority may act for any project. */
        fx.req.department = NULL;
        expect_allowed(&fx);
        /* Construction money comes from the construction budget. */
        fx.req.cost_kind = POLICY_COST_CONSTRUCTION;
        fx.facts.projected_cost_fen = 40000000;
        expect_allowed(&fx);
}

static void test_code_table(void **state) {
        static const struct {
                PolicyCode code;
                const char *name;
                unsigned article;
        } expected[] = {
                { POLICY_NO_APPROVAL, "NO_APPROVAL", 10 },
                { POLICY_APPROVAL_NOT_YET_VALID, "APPROVAL_NOT_YET_VALID", 8 },
                { POLICY_APPROVAL_EXPIRED, "APPROVAL_EXPIRED", 8 },
                { POLICY_PROJECT_SUSPENDED, "PROJECT_SUSPENDED", 28 },
                { POLICY_PROJECT_TERMINATED, "PROJECT_TERMINATED", 28 },
                { POLICY_DEPARTMENT_MISMATCH, "DEPARTMENT_MISMATCH", 5 },
                { POLICY_SERVICE_NOT_PUBLISHED, "SERVICE_NOT_PUBLISHED", 12 },
                { POLICY_ITEM_NOT_APPROVED, "ITEM_NOT_APPROVED", 10 },
                { POLICY_QUANTITY_EXCEEDED, "QUANTITY_EXCEEDED", 20 },
                { POLICY_BUDGET_EXCEEDED, "BUDGET_EXCEEDED", 13 },
                { POLICY_SYSTEM_NOT_LISTED, "SYSTEM_NOT_LISTED", 10 },
                { POLICY_CLASSIFIED_SYSTEM, "CLASSIFIED_SYSTEM", 3 },
                { POLICY_PROTECTION_LEVEL, "PROTECTION_LEVEL", 37 },
                { POLICY_SECURE_CONTROLLABLE_REQUIRED, "SECURE_CONTROLLABLE_REQUIRED", 24 },
                { POLICY_DATA_SHARING_NONCOMPLIANT, "DATA_SHARING_NONCOMPLIANT", 11 },
                { POLICY_DEDICATED_NETWORK, "DEDICATED_NETWORK", 11 },
                { POLICY_CONTRACT_FILING_OVERDUE, "CONTRACT_FILING_OVERDUE", 18 },
                { POLICY_ACCEPTANCE_FILING_OVERDUE, "ACCEPTANCE_FILING_OVERDUE", 25 },
                { POLICY_SELF_EVALUATION_OVERDUE, "SELF_EVALUATION_OVERDUE", 26 },
                { POLICY_MIGRATION_OVERDUE, "MIGRATION_OVERDUE", 35 },
                { POLICY_UNMANAGED_RESOURCE, "UNMANAGED_RESOURCE", 10 },
        };
        (void)state;

        assert_int_equal(ELEMENTSOF(expected), _POLICY_CODE_MAX);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                PolicyCode c = (PolicyCode)-1;
                assert_string_equal(policy_code_name(expected[i].code), expected[i].name);
                assert_int_equal(policy_code_article(expected[i].code), expected[i].article);
                assert_non_null(policy_code_summary(expected[i].code));
                assert_true(strlen(policy_code_summary(expected[i].code)) > 10);
                assert_int_equal(policy_code_from_name(expected[i].name, &c), 0);
                assert_int_equal(c, expected[i].code);
        }
        assert_null(policy_code_name(_POLICY_CODE_MAX));
        assert_null(policy_code_summary((PolicyCode)-1));
        assert_int_equal(policy_code_article(_POLICY_CODE_MAX), 0);
        assert_int_equal(policy_code_from_name("no_approval", NULL), -EINVAL);
        assert_int_equal(policy_code_from_name(NULL, NULL), -EINVAL);
}

static void test_no_approval(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        expect_allowed(&fx);
        /* Without an approval, the rules that compare against its content
         * (window, items, budget, named systems) have nothing to compare:
         * the one violation says what is missing. */
        fx.facts.approval.present = false;
        fx.facts.approval.valid_until = "not a date: ignored without an approval";
        fx.facts.approval.budget_om_fen = -1;
        fx.req.plan_id = "xlarge";
        fx.req.system_id = "sys-other";
        expect_only(&fx, POLICY_NO_APPROVAL, "project prj-clinic has no signed approval in force");
}

static void test_approval_window(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.req.today = "2026-01-01"; /* first day: valid */
        expect_allowed(&fx);
        fx.req.today = "2026-12-31"; /* last day: valid */
        expect_allowed(&fx);
        fx.facts.approval.valid_from = NULL;
        fx.facts.approval.valid_until = NULL;
        fx.req.today = "2030-06-01";
        expect_allowed(&fx);

        fixture_init(&fx);
        fx.req.today = "2025-12-31";
        expect_only(&fx, POLICY_APPROVAL_NOT_YET_VALID,
                    "approval of project prj-clinic is valid from 2026-01-01; today is 2025-12-31");
        fx.req.today = "2027-01-01";
        expect_only(&fx, POLICY_APPROVAL_EXPIRED,
                    "approval of project prj-clinic expired on 2026-12-31; today is 2027-01-01");
}

static void test_project_status(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.project.status = POLICY_STATUS_SUSPENDED;
        expect_only(&fx, POLICY_PROJECT_SUSPENDED, "project prj-clinic is suspended by the authority");
        fx.facts.project.status = POLICY_STATUS_TERMINATED;
        expect_only(&fx, POLICY_PROJECT_TERMINATED, "project prj-clinic is terminated");
        fx.facts.project.status = POLICY_STATUS_ACTIVE;
        expect_allowed(&fx);
}

static void test_department(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.req.department = "education";
        expect_only(&fx, POLICY_DEPARTMENT_MISMATCH,
                    "department education may not act for project prj-clinic of department health");
        /* A department is compared exactly, not by prefix. */
        fx.req.department = "healthcare";
        expect_only(&fx, POLICY_DEPARTMENT_MISMATCH,
                    "department healthcare may not act for project prj-clinic of department health");
        fx.facts.project.department = NULL;
        fx.req.department = "health";
        expect_only(&fx, POLICY_DEPARTMENT_MISMATCH,
                    "department health may not act for project prj-clinic of department (none)");
        fx.req.department = NULL;
        expect_allowed(&fx);
}

static void test_service_published(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.service.published = false;
        expect_only(&fx, POLICY_SERVICE_NOT_PUBLISHED,
                    "service vm-general is not published in the catalogue");
        /* An unknown service: nothing else about it can be judged. */
        fx.facts.service.exists = false;
        fx.facts.service.max_protection_level = 0;
        fx.facts.service.secure_controllable = false;
        fx.facts.approval.requires_secure_controllable = true;
        expect_only(&fx, POLICY_SERVICE_NOT_PUBLISHED, "service vm-general is not in the catalogue");
}

static void test_item_not_approved(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.req.plan_id = "xlarge";
        expect_only(&fx, POLICY_ITEM_NOT_APPROVED,
                    "plan vm-general/xlarge is not among the approved items of project prj-clinic");
        /* The pair counts: "small" is approved for vm-general, not for rds-mysql. */
        fx.req.service_id = "rds-mysql";
        fx.req.plan_id = "small";
        expect_only(&fx, POLICY_ITEM_NOT_APPROVED,
                    "plan rds-mysql/small is not among the approved items of project prj-clinic");
        fx.req.plan_id = "large";
        fx.req.quantity = 1;
        expect_allowed(&fx);
        fx.facts.approval.n_items = 0;
        expect_only(&fx, POLICY_ITEM_NOT_APPROVED,
                    "plan rds-mysql/large is not among the approved items of project prj-clinic");
}

static void test_quantity(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        /* 2 held + 2 requested = 4 approved: allowed. */
        expect_allowed(&fx);
        fx.req.quantity = 3;
        expect_only(&fx, POLICY_QUANTITY_EXCEEDED,
                    "plan vm-general/large quantity 2 held + 3 requested = 5 exceeds approved 4");
        fx.items[1].held = 0;
        fx.items[1].approved = 2;
        expect_only(&fx, POLICY_QUANTITY_EXCEEDED, "plan vm-general/large quantity 3 exceeds approved 2");
        /* No wrap-around at the top of the range. */
        fx.items[1].held = UINT32_MAX;
        fx.items[1].approved = UINT32_MAX;
        fx.req.quantity = 1;
        expect_only(&fx, POLICY_QUANTITY_EXCEEDED,
                    "plan vm-general/large quantity 4294967295 held + 1 requested = 4294967296 exceeds "
                    "approved 4294967295");
}

static void test_budget(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        expect_allowed(&fx); /* exactly the remaining 500000 */
        fx.facts.projected_cost_fen = 500001;
        expect_only(&fx, POLICY_BUDGET_EXCEEDED,
                    "projected O&M cost 500001 fen exceeds the remaining O&M budget 500000 fen (budget "
                    "2000000, used 1500000)");
        /* The construction budget is separate and still has room. */
        fx.req.cost_kind = POLICY_COST_CONSTRUCTION;
        expect_allowed(&fx);
        fx.facts.projected_cost_fen = 40000001;
        expect_only(&fx, POLICY_BUDGET_EXCEEDED,
                    "projected construction cost 40000001 fen exceeds the remaining construction budget "
                    "40000000 fen "
                    "(budget 50000000, used 10000000)");
        /* Metered usage (what runs) counts beside what is committed. */
        fx.facts.projected_cost_fen = 30000000;
        fx.facts.approval.metered_construction_fen = 10000001;
        expect_only(&fx, POLICY_BUDGET_EXCEEDED,
                    "projected construction cost 30000000 fen exceeds the remaining construction budget "
                    "29999999 fen (budget 50000000, used 20000001)");
        fx.facts.approval.metered_construction_fen = 10000000;
        expect_allowed(&fx);
        /* At 100 % (committed + metered == budget) nothing new starts, not even a free resource. */
        fx.facts.approval.metered_construction_fen = 40000000;
        fx.facts.projected_cost_fen = 0;
        expect_only(&fx, POLICY_BUDGET_EXCEEDED,
                    "the construction budget 50000000 fen is spent: committed 10000000 + metered 40000000 "
                    "= 50000000 fen");
        /* One fen short of it, a free request still starts. */
        fx.facts.approval.metered_construction_fen = 39999999;
        expect_allowed(&fx);
        fx.facts.projected_cost_fen = 2;
        expect_only(&fx, POLICY_BUDGET_EXCEEDED,
                    "projected construction cost 2 fen exceeds the remaining construction budget 1 fen "
                    "(budget 50000000, used 49999999)");
        /* Over budget by committed money alone. */
        fx.facts.approval.metered_construction_fen = 0;
        fx.facts.approval.used_construction_fen = 60000000;
        fx.facts.projected_cost_fen = 0;
        expect_only(&fx, POLICY_BUDGET_EXCEEDED,
                    "the construction budget 50000000 fen is spent: committed 60000000 + metered 0 = "
                    "60000000 fen");
        /* The O&M budget is apart: spent construction money does not refuse O&M. */
        fx.req.cost_kind = POLICY_COST_OM;
        fx.facts.projected_cost_fen = 1;
        expect_allowed(&fx);
        /* Negative metered money is not a fact. */
        fx.facts.approval.metered_om_fen = -1;
        PolicyDecision d;
        assert_int_equal(policy_evaluate(&fx.req, &fx.facts, &d), -EINVAL);
}

static void test_budget_threshold(void **state) {
        (void)state;
        assert_int_equal(policy_budget_threshold(1000, 0), 0);
        assert_int_equal(policy_budget_threshold(1000, 799), 0);
        assert_int_equal(policy_budget_threshold(1000, 800), 80);
        assert_int_equal(policy_budget_threshold(1000, 999), 80);
        assert_int_equal(policy_budget_threshold(1000, 1000), 100);
        assert_int_equal(policy_budget_threshold(1000, 5000), 100);
        /* 80 % of 7 fen is 5.6: 5 is under it, 6 reaches it. */
        assert_int_equal(policy_budget_threshold(7, 5), 0);
        assert_int_equal(policy_budget_threshold(7, 6), 80);
        /* No budget: any spending is all of it. */
        assert_int_equal(policy_budget_threshold(0, 0), 0);
        assert_int_equal(policy_budget_threshold(0, 1), 100);
        /* No overflow at the top of the range. */
        /* 80 % of INT64_MAX is 7378697629483820645.6. */
        assert_int_equal(policy_budget_threshold(INT64_MAX, INT64_C(7378697629483820646)), 80);
        assert_int_equal(policy_budget_threshold(INT64_MAX, INT64_C(7378697629483820645)), 0);
        assert_int_equal(policy_budget_threshold(INT64_MAX, INT64_MAX), 100);
        assert_int_equal(policy_budget_threshold(-1, 5), 0);
        assert_int_equal(policy_budget_threshold(5, -1), 0);
        assert_int_equal(policy_budget_used(INT64_MAX, 1), INT64_MAX);
        assert_int_equal(policy_budget_used(2, 3), 5);
}

static void test_system_listed(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.req.system_id = "sys-portal";
        expect_allowed(&fx);
        fx.req.system_id = "sys-hr";
        expect_only(&fx, POLICY_SYSTEM_NOT_LISTED,
                    "system sys-hr is not named by the approval of project prj-clinic");
        fx.req.system_id = "sys-emr";
        fx.facts.system.listed = false;
        expect_only(&fx, POLICY_SYSTEM_NOT_LISTED,
                    "system sys-emr is not in the directory of information systems");
        fx.req.system_id = "sys-hr";
        expect_only(&fx, POLICY_SYSTEM_NOT_LISTED,
                    "system sys-hr is not in the directory of information systems and not named by the "
                    "approval of "
                    "project prj-clinic");
        fx.req.system_id = NULL;
        expect_only(&fx, POLICY_SYSTEM_NOT_LISTED, "the request names no information system");
        fx.req.system_id = "";
        expect_only(&fx, POLICY_SYSTEM_NOT_LISTED, "the request names no information system");
}

static void test_classified(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.system.classified = true;
        expect_only(&fx, POLICY_CLASSIFIED_SYSTEM,
                    "system sys-emr is classified and may not use the government cloud");
        /* Refused whoever asks, with or without the authority. */
        fx.req.department = NULL;
        expect_only(&fx, POLICY_CLASSIFIED_SYSTEM,
                    "system sys-emr is classified and may not use the government cloud");
        fx.facts.system.classified = false;
        expect_allowed(&fx);
}

static void test_protection_level(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        expect_allowed(&fx); /* level 3 on a level-3 service */
        fx.facts.system.protection_level = 4;
        expect_only(&fx, POLICY_PROTECTION_LEVEL,
                    "system sys-emr has protection level 4; service vm-general is certified up to level 3");
        fx.facts.system.protection_level = 0; /* not graded */
        fx.facts.service.max_protection_level = 0;
        expect_allowed(&fx);
        fx.facts.system.protection_level = 1;
        expect_only(&fx, POLICY_PROTECTION_LEVEL,
                    "system sys-emr has protection level 1; service vm-general is certified up to level 0");
}

static void test_secure_controllable(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.service.secure_controllable = false;
        expect_allowed(&fx); /* not required by this approval */
        fx.facts.approval.requires_secure_controllable = true;
        expect_only(&fx, POLICY_SECURE_CONTROLLABLE_REQUIRED,
                    "approval of project prj-clinic requires secure-and-controllable products; service "
                    "vm-general is not");
        fx.facts.service.secure_controllable = true;
        expect_allowed(&fx);
}

static void test_data_sharing(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.system.data_sharing_compliant = false;
        expect_only(&fx, POLICY_DATA_SHARING_NONCOMPLIANT,
                    "system sys-emr does not share data as required: no new O&M resources");
        /* Art. 11 withholds O&M funds only; construction to fix it goes on. */
        fx.req.cost_kind = POLICY_COST_CONSTRUCTION;
        expect_allowed(&fx);
}

static void test_dedicated_network(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.req.dedicated_network = true;
        expect_only(
                &fx, POLICY_DEDICATED_NETWORK,
                "project prj-clinic has no consent from the authority for a new private business network");
        fx.facts.approval.dedicated_network_consent = true;
        expect_allowed(&fx);
        fx.req.dedicated_network = false;
        fx.facts.approval.dedicated_network_consent = false;
        expect_allowed(&fx);

        /* Consent is asked for even before there is an approval. */
        fx.req.dedicated_network = true;
        fx.facts.approval.present = false;
        fx.facts.approval.dedicated_network_consent = true; /* ignored: no approval carries it */
        PolicyDecision d = decide(&fx);
        static const PolicyCode want[] = { POLICY_NO_APPROVAL, POLICY_DEDICATED_NETWORK };
        expect_codes(&d, want, ELEMENTSOF(want));
}

static void test_contract_filing(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.deadlines.contract_filing.due = "2026-10-10"; /* a due date alone is no violation */
        expect_allowed(&fx);
        fx.facts.deadlines.contract_filing.overdue = true;
        expect_only(&fx, POLICY_CONTRACT_FILING_OVERDUE,
                    "contract of project prj-clinic not filed; it was due by 2026-10-10");
        fx.facts.deadlines.contract_filing.due = NULL;
        expect_only(&fx, POLICY_CONTRACT_FILING_OVERDUE,
                    "contract of project prj-clinic not filed; it was due within 5 working days of signing");
}

static void test_acceptance_filing(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.deadlines.acceptance_filing.overdue = true;
        fx.facts.deadlines.acceptance_filing.due = "2026-03-09";
        expect_only(&fx, POLICY_ACCEPTANCE_FILING_OVERDUE,
                    "acceptance report of project prj-clinic not filed; it was due by 2026-03-09");
        /* Art. 25 stops construction and O&M funds alike. */
        fx.req.cost_kind = POLICY_COST_CONSTRUCTION;
        fx.facts.deadlines.acceptance_filing.due = NULL;
        expect_only(&fx, POLICY_ACCEPTANCE_FILING_OVERDUE,
                    "acceptance report of project prj-clinic not filed; it was due within 30 working days of "
                    "completion");
        fx.facts.deadlines.acceptance_filing.overdue = false;
        expect_allowed(&fx);
}

static void test_self_evaluation(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.deadlines.self_evaluation.overdue = true;
        expect_only(&fx, POLICY_SELF_EVALUATION_OVERDUE,
                    "self-evaluation of project prj-clinic not submitted; it was due after the budget year");
        fx.facts.deadlines.self_evaluation.due = "2026-03-31";
        expect_only(&fx, POLICY_SELF_EVALUATION_OVERDUE,
                    "self-evaluation of project prj-clinic not submitted; it was due by 2026-03-31");
        fx.facts.deadlines.self_evaluation.overdue = false;
        expect_allowed(&fx);
}

static void test_migration(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.deadlines.migration.overdue = true;
        fx.facts.deadlines.migration.due = "2025-12-31";
        expect_only(&fx, POLICY_MIGRATION_OVERDUE,
                    "system sys-emr has not moved onto the municipal cloud; it was due by 2025-12-31");
        fx.facts.deadlines.migration.due = NULL;
        expect_only(&fx, POLICY_MIGRATION_OVERDUE,
                    "system sys-emr has not moved onto the municipal cloud; it was due by its migration "
                    "deadline");
        /* Another legacy system of the department is named as such. */
        fx.facts.deadlines.migration_system = "sys-oa";
        expect_only(&fx, POLICY_MIGRATION_OVERDUE,
                    "system sys-oa has not moved onto the municipal cloud; it was due by its migration "
                    "deadline");
        fx.facts.deadlines.migration_system = NULL;
        fx.facts.deadlines.migration.overdue = false;
        expect_allowed(&fx);
}

/* UNMANAGED_RESOURCE belongs to the inventory: no request produces it, even
 * one that breaks everything else. */
static void test_unmanaged_never_from_requests(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.approval.present = false;
        fx.facts.service.exists = false;
        fx.facts.system.listed = false;
        PolicyDecision d = decide(&fx);
        assert_false(policy_decision_has(&d, POLICY_UNMANAGED_RESOURCE));
        assert_true(policy_decision_has(&d, POLICY_NO_APPROVAL));
        assert_int_equal(policy_code_article(POLICY_UNMANAGED_RESOURCE), 10);
}

static void test_combination_three(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.facts.project.status = POLICY_STATUS_SUSPENDED;
        fx.req.today = "2027-02-01";
        fx.req.quantity = 3;
        PolicyDecision d = decide(&fx);
        static const PolicyCode want[] = { POLICY_APPROVAL_EXPIRED, POLICY_PROJECT_SUSPENDED,
                                           POLICY_QUANTITY_EXCEEDED };
        expect_codes(&d, want, ELEMENTSOF(want));
        assert_string_equal(d.violations[0].message,
                            "approval of project prj-clinic expired on 2026-12-31; today is 2027-02-01");
        assert_string_equal(d.violations[1].message, "project prj-clinic is suspended by the authority");
        assert_string_equal(d.violations[2].message,
                            "plan vm-general/large quantity 2 held + 3 requested = 5 exceeds approved 4");
}

/* As many rules broken at once as can be: every one is listed, once, in
 * table order. (The rest exclude each other: no approval vs. its content,
 * suspended vs. terminated, an unknown service vs. its properties.) */
static void test_combination_all(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        fx.req.department = "education";
        fx.req.today = "2027-01-05";
        fx.req.quantity = 9;
        fx.req.system_id = "sys-legacy";
        fx.req.dedicated_network = true;
        fx.facts.project.status = POLICY_STATUS_TERMINATED;
        fx.facts.service.published = false;
        fx.facts.service.secure_controllable = false;
        fx.facts.approval.requires_secure_controllable = true;
        fx.facts.projected_cost_fen = 9999999;
        fx.facts.system.classified = true;
        fx.facts.system.protection_level = 4;
        fx.facts.system.data_sharing_compliant = false;
        fx.facts.deadlines.contract_filing.overdue = true;
        fx.facts.deadlines.acceptance_filing.overdue = true;
        fx.facts.deadlines.self_evaluation.overdue = true;
        fx.facts.deadlines.migration.overdue = true;

        PolicyDecision d = decide(&fx);
        static const PolicyCode want[] = {
                POLICY_APPROVAL_EXPIRED,          POLICY_PROJECT_TERMINATED,
                POLICY_DEPARTMENT_MISMATCH,       POLICY_SERVICE_NOT_PUBLISHED,
                POLICY_QUANTITY_EXCEEDED,         POLICY_BUDGET_EXCEEDED,
                POLICY_SYSTEM_NOT_LISTED,         POLICY_CLASSIFIED_SYSTEM,
                POLICY_DATA_SHARING_NONCOMPLIANT, POLICY_DEDICATED_NETWORK,
                POLICY_CONTRACT_FILING_OVERDUE,   POLICY_ACCEPTANCE_FILING_OVERDUE,
                POLICY_SELF_EVALUATION_OVERDUE,   POLICY_MIGRATION_OVERDUE,
        };
        expect_codes(&d, want, ELEMENTSOF(want));

        /* Certification rules read the published revision: an unpublished
         * service is refused for that alone, a published one is checked. */
        fx.facts.service.published = true;
        d = decide(&fx);
        assert_false(policy_decision_has(&d, POLICY_SERVICE_NOT_PUBLISHED));
        assert_true(policy_decision_has(&d, POLICY_PROTECTION_LEVEL));
        assert_true(policy_decision_has(&d, POLICY_SECURE_CONTROLLABLE_REQUIRED));
        assert_int_equal(d.n_violations, ELEMENTSOF(want) + 1);
        fx.facts.service.published = false;

        /* The window check and the not-yet-valid check are independent. */
        fx.facts.approval.valid_from = "2027-06-01";
        fx.facts.approval.valid_until = "2026-06-01";
        fx.facts.project.status = POLICY_STATUS_ACTIVE;
        d = decide(&fx);
        assert_true(policy_decision_has(&d, POLICY_APPROVAL_NOT_YET_VALID));
        assert_true(policy_decision_has(&d, POLICY_APPROVAL_EXPIRED));
        assert_false(policy_decision_has(&d, POLICY_PROJECT_TERMINATED));
        assert_int_equal(d.n_violations, ELEMENTSOF(want));
}

static void test_invalid_input(void **state) {
        Fixture fx;
        PolicyDecision d, before;
        (void)state;

        memset(&before, 0x5a, sizeof(before));
#define EXPECT_EINVAL(mutation)                                                     \
        do {                                                                        \
                fixture_init(&fx);                                                  \
                mutation;                                                           \
                d = before;                                                         \
                assert_int_equal(policy_evaluate(&fx.req, &fx.facts, &d), -EINVAL); \
                assert_memory_equal(&d, &before, sizeof(d));                        \
        } while (0)

        EXPECT_EINVAL(fx.req.project_id = NULL);
        EXPECT_EINVAL(fx.req.project_id = "");
        EXPECT_EINVAL(fx.req.service_id = NULL);
        EXPECT_EINVAL(fx.req.plan_id = "");
        EXPECT_EINVAL(fx.req.quantity = 0);
        EXPECT_EINVAL(fx.req.today = NULL);
        EXPECT_EINVAL(fx.req.today = "2026-02-30");
        EXPECT_EINVAL(fx.req.today = "today");
        EXPECT_EINVAL(fx.req.cost_kind = (PolicyCostKind)7);
        EXPECT_EINVAL(fx.facts.project.status = (PolicyProjectStatus)9);
        EXPECT_EINVAL(fx.facts.approval.valid_from = "2026-1-1");
        EXPECT_EINVAL(fx.facts.approval.valid_until = "2026-13-01");
        EXPECT_EINVAL(fx.facts.approval.items = NULL);
        EXPECT_EINVAL(fx.facts.approval.systems = NULL);
        EXPECT_EINVAL(fx.facts.projected_cost_fen = -1);
        EXPECT_EINVAL(fx.facts.approval.used_om_fen = -5);
        EXPECT_EINVAL(fx.facts.approval.budget_construction_fen = INT64_MIN);
#undef EXPECT_EINVAL

        fixture_init(&fx);
        assert_int_equal(policy_evaluate(NULL, &fx.facts, &d), -EINVAL);
        assert_int_equal(policy_evaluate(&fx.req, NULL, &d), -EINVAL);
        assert_int_equal(policy_evaluate(&fx.req, &fx.facts, NULL), -EINVAL);
}

static void test_reuse_decision(void **state) {
        Fixture fx;
        PolicyDecision d;
        (void)state;

        /* A decision struct reused after a denial carries nothing over. */
        fixture_init(&fx);
        fx.facts.project.status = POLICY_STATUS_SUSPENDED;
        assert_int_equal(policy_evaluate(&fx.req, &fx.facts, &d), 0);
        assert_false(d.allowed);
        fx.facts.project.status = POLICY_STATUS_ACTIVE;
        assert_int_equal(policy_evaluate(&fx.req, &fx.facts, &d), 0);
        assert_true(d.allowed);
        assert_int_equal(d.n_violations, 0);
        assert_false(policy_decision_has(&d, POLICY_PROJECT_SUSPENDED));
}

static void test_long_ids_truncate(void **state) {
        Fixture fx;
        char id[600];
        (void)state;

        memset(id, 'p', sizeof(id) - 1);
        id[sizeof(id) - 1] = '\0';
        fixture_init(&fx);
        fx.req.project_id = id;
        fx.facts.project.status = POLICY_STATUS_TERMINATED;
        PolicyDecision d = decide(&fx);
        assert_int_equal(d.n_violations, 1);
        assert_int_equal(strlen(d.violations[0].message), POLICY_MESSAGE_MAX - 1);
        assert_memory_equal(d.violations[0].message, "project ppp", 11);
}

static void test_json(void **state) {
        Fixture fx;
        (void)state;

        fixture_init(&fx);
        PolicyDecision d = decide(&fx);
        json_t *j = policy_decision_to_json(&d);
        assert_non_null(j);
        char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        assert_string_equal(s, "{\"allowed\":true,\"violations\":[]}");
        free(s);
        json_decref(j);

        fx.facts.project.status = POLICY_STATUS_SUSPENDED;
        fx.req.quantity = 3;
        d = decide(&fx);
        j = policy_decision_to_json(&d);
        assert_non_null(j);
        s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        assert_string_equal(s, "{\"allowed\":false,\"violations\":["
                               "{\"article\":28,\"code\":\"PROJECT_SUSPENDED\","
                               "\"message\":\"project prj-clinic is suspended by the authority\"},"
                               "{\"article\":20,\"code\":\"QUANTITY_EXCEEDED\","
                               "\"message\":\"plan vm-general/large quantity 2 held + 3 requested = 5 "
                               "exceeds approved 4\"}]}");
        free(s);
        json_decref(j);

        j = policy_violations_to_json(&d);
        assert_true(json_is_array(j));
        assert_int_equal(json_array_size(j), 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "article")), 20);
        json_decref(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_request),
                cmocka_unit_test(test_code_table),
                cmocka_unit_test(test_no_approval),
                cmocka_unit_test(test_approval_window),
                cmocka_unit_test(test_project_status),
                cmocka_unit_test(test_department),
                cmocka_unit_test(test_service_published),
                cmocka_unit_test(test_item_not_approved),
                cmocka_unit_test(test_quantity),
                cmocka_unit_test(test_budget),
                cmocka_unit_test(test_budget_threshold),
                cmocka_unit_test(test_system_listed),
                cmocka_unit_test(test_classified),
                cmocka_unit_test(test_protection_level),
                cmocka_unit_test(test_secure_controllable),
                cmocka_unit_test(test_data_sharing),
                cmocka_unit_test(test_dedicated_network),
                cmocka_unit_test(test_contract_filing),
                cmocka_unit_test(test_acceptance_filing),
                cmocka_unit_test(test_self_evaluation),
                cmocka_unit_test(test_migration),
                cmocka_unit_test(test_unmanaged_never_from_requests),
                cmocka_unit_test(test_combination_three),
                cmocka_unit_test(test_combination_all),
                cmocka_unit_test(test_invalid_input),
                cmocka_unit_test(test_reuse_decision),
                cmocka_unit_test(test_long_ids_truncate),
                cmocka_unit_test(test_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
