/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How many policy decisions one core makes per second, in process, on a
 * realistic set of facts (12 approved items, 6 named systems). Bounded: at
 * most 5 million decisions or 10 seconds per scenario, whichever comes
 * first. Target: over 1 million decisions per second.
 *
 * Build and run from the repository root:
 *
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -Ibasic -Ipolicy $(pkg-config --cflags jansson) \
 *       bench/policy-bench.c policy/policy.c policy/calendar.c basic/date.c basic/error.c \
 *       -o /tmp/policy-bench $(pkg-config --libs jansson) && /tmp/policy-bench
 *
 * Optional argument: the decision cap per scenario (default 5000000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "macro.h"
#include "policy.h"

#define MAX_DECISIONS_DEFAULT 5000000UL
#define MAX_SECONDS           10.0

static double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const PolicyItem items[] = {
        { "vm-general", "small", 20, 12 },  { "vm-general", "medium", 10, 4 },
        { "vm-general", "large", 6, 2 },    { "vm-compute", "large", 4, 0 },
        { "rds-mysql", "ha-medium", 2, 1 }, { "rds-dameng", "ha-large", 1, 0 },
        { "oss-standard", "1tb", 10, 3 },   { "slb-public", "standard", 2, 1 },
        { "kafka-managed", "small", 1, 0 }, { "redis-cache", "4g", 2, 2 },
        { "waf-standard", "site", 3, 1 },   { "backup-vault", "10tb", 1, 0 },
};

static const char *const systems[] = {
        "sys-health-portal",   "sys-health-emr",   "sys-health-lab",
        "sys-health-pharmacy", "sys-health-stats", "sys-health-appointments",
};

static void facts_init(PolicyRequest *req, PolicyFacts *f) {
        *req = (PolicyRequest){
                .department = "dept-health",
                .project_id = "prj-2026-health-0042",
                .system_id = "sys-health-appointments", /* last in the list: worst case scan */
                .service_id = "backup-vault",           /* last item */
                .plan_id = "10tb",
                .quantity = 1,
                .today = "2026-06-15",
                .cost_kind = POLICY_COST_OM,
        };
        *f = (PolicyFacts){ 0 };
        f->project.department = "dept-health";
        f->project.status = POLICY_STATUS_ACTIVE;
        f->approval.present = true;
        f->approval.valid_from = "2026-01-01";
        f->approval.valid_until = "2027-12-31";
        f->approval.items = items;
        f->approval.n_items = ELEMENTSOF(items);
        f->approval.systems = systems;
        f->approval.n_systems = ELEMENTSOF(systems);
        f->approval.budget_construction_fen = 380000000;
        f->approval.budget_om_fen = 42000000;
        f->approval.used_construction_fen = 120000000;
        f->approval.used_om_fen = 30500000;
        f->approval.requires_secure_controllable = true;
        f->service.exists = true;
        f->service.published = true;
        f->service.secure_controllable = true;
        f->service.max_protection_level = 3;
        f->system.listed = true;
        f->system.protection_level = 3;
        f->system.data_sharing_compliant = true;
        f->projected_cost_fen = 1260000;
}

typedef struct Scenario {
        const char *name;
        void (*mutate)(PolicyRequest *req, PolicyFacts *f);
} Scenario;

static void allowed(PolicyRequest *req, PolicyFacts *f) {
        (void)req;
        (void)f;
}

static void one_violation(PolicyRequest *req, PolicyFacts *f) {
        (void)f;
        req->quantity = 2;
}

static void three_violations(PolicyRequest *req, PolicyFacts *f) {
        req->quantity = 2;
        req->today = "2028-01-10";
        f->project.status = POLICY_STATUS_SUSPENDED;
}

static int run(const Scenario *sc, unsigned long cap) {
        PolicyRequest req;
        PolicyFacts facts;
        PolicyDecision d;
        unsigned long n = 0, allowed_n = 0, violations = 0;
        double start, elapsed;

        facts_init(&req, &facts);
        sc->mutate(&req, &facts);

        start = now_seconds();
        elapsed = 0;
        while (n < cap) {
                int r = policy_evaluate(&req, &facts, &d);
                if (r < 0) {
                        fprintf(stderr, "%s: policy_evaluate: %s\n", sc->name, strerror(-r));
                        return r;
                }
                allowed_n += d.allowed;
                violations += d.n_violations;
                n++;
                /* Reading the clock every time would be part of what is measured. */
                if ((n & 0xffff) == 0) {
                        elapsed = now_seconds() - start;
                        if (elapsed >= MAX_SECONDS)
                                break;
                }
        }
        elapsed = now_seconds() - start;

        printf("%-18s %10lu decisions in %6.3f s = %12.0f decisions/s (%lu allowed, %.1f violations each)\n",
               sc->name, n, elapsed, (double)n / elapsed, allowed_n, (double)violations / (double)n);
        return 0;
}

int main(int argc, char **argv) {
        static const Scenario scenarios[] = {
                { "allowed", allowed },
                { "one-violation", one_violation },
                { "three-violations", three_violations },
        };
        unsigned long cap = MAX_DECISIONS_DEFAULT;

        if (argc > 1) {
                char *end;
                cap = strtoul(argv[1], &end, 10);
                if (*end || cap == 0 || cap > MAX_DECISIONS_DEFAULT * 20) {
                        fprintf(stderr, "usage: %s [decisions per scenario, 1-%lu]\n", argv[0],
                                MAX_DECISIONS_DEFAULT * 20);
                        return EXIT_FAILURE;
                }
        }

        for (size_t i = 0; i < ELEMENTSOF(scenarios); i++)
                if (run(&scenarios[i], cap) < 0)
                        return EXIT_FAILURE;
        return EXIT_SUCCESS;
}
