/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * A small broker for the harnesses whose parser sits inside a core function
 * that also reads and writes the store (systems, incidents, milestones,
 * evaluations): a SQLite store in the harness's scratch folder with the
 * shipped catalogue (etc/catalog), calendars (etc/calendar), the dev
 * authority's Ed25519 key, department edu's system "fuzz-sys" and project
 * "fuzz-proj" (a signed approval for ecs-general-2c4g x 4, a contract_signed
 * milestone) and one open incident. Built once in LLVMFuzzerInitialize.
 *
 * Each input runs inside fuzz_world_begin()/fuzz_world_end(): an outer
 * transaction that is rolled back, so every input meets the same state, the
 * store does not grow, and nothing waits for an fsync.
 */

#include "calendar.h"
#include "date.h"
#include "catalog.h"
#include "fuzz.h"
#include "incidents.h"
#include "json-util.h"
#include "log.h"
#include "projects.h"
#include "signature.h"
#include "store.h"
#include "systems.h"

#define FUZZ_SYSTEM  "fuzz-sys"
#define FUZZ_PROJECT "fuzz-proj"

typedef struct FuzzWorld {
        Store *store;
        Catalog *catalog;
        Calendar *calendar;
        TrustedKeys *keys;
        Projects *projects;
        char incident_id[64];
} FuzzWorld;

static Principal fuzz_operator_p = { .name = (char *)"fuzz-operator", .roles = CB_ROLE_OPERATOR };
static Principal fuzz_edu_p = { .name = (char *)"fuzz-edu",
                                .department = (char *)"edu",
                                .roles = CB_ROLE_DEPARTMENT };
static const CbCaller fuzz_operator = { .principal = &fuzz_operator_p, .face = "rest" };
static const CbCaller fuzz_edu = { .principal = &fuzz_edu_p, .face = "rest" };

static FuzzWorld fuzz_world;

static inline void fuzz_world_must(int r, const CbError *err, const char *what) {
        if (r < 0) {
                fprintf(stderr, "fuzz world: %s: %s\n", what, err->message);
                abort();
        }
}

static inline void fuzz_world_approve(FuzzWorld *w) {
        CbError err = CB_ERROR_INIT;
        json_t *env = NULL;
        char *doc = NULL, today[11];
        int year, r;

        date_today_cst(today);
        year = atoi(today);
        FUZZ_ASSERT(
                asprintf(&doc,
                         "{\"approval_no\": \"FUZZ-%d-001\", \"project_id\": \"" FUZZ_PROJECT "\", "
                         "\"project_name\": \"模糊测试项目\", \"department\": \"edu\", \"revision\": 1, "
                         "\"valid_from\": \"%d-01-01\", \"valid_until\": \"%d-12-31\", "
                         "\"budget\": {\"construction_fen\": 1000000000, \"om_fen\": 100000000}, "
                         "\"systems\": [\"" FUZZ_SYSTEM "\"], "
                         "\"items\": [{\"service_id\": \"ecs-general\", \"plan_id\": \"ecs-general-2c4g\", "
                         "\"quantity\": 4}], "
                         "\"requires_secure_controllable\": false, \"dedicated_network_consent\": false}",
                         year, year, year + 1) > 0);
        r = envelope_sign(SIGNATURE_ALG_ED25519, "dev-authority-ed25519",
                          CB_SOURCE_DIR "/etc/dev-keys/dev-authority-ed25519.key.pem", doc, strlen(doc), &env,
                          &err);
        fuzz_world_must(r, &err, "signing the approval");
        r = approvals_import(w->projects, &fuzz_edu, env, NULL, &err);
        fuzz_world_must(r, &err, "submitting the approval");
        json_decref(env);
        free(doc);
}

static inline void fuzz_world_init(FuzzWorld *w) {
        CbError err = CB_ERROR_INIT;
        json_t *doc;
        char *path = NULL, today[11];

        log_set_max_level(2); /* refusals are the point here, not news */
        FUZZ_ASSERT(asprintf(&path, "%s/world.db", fuzz_tmpdir()) > 0);
        fuzz_world_must(store_open(path, &w->store, &err), &err, "opening the store");
        free(path);
        /* The world is rebuilt for every run: durability buys nothing. */
        fuzz_world_must(store_exec(w->store, "PRAGMA synchronous = OFF", &err), &err, "pragma");
        fuzz_world_must(catalog_new(w->store, &w->catalog), &err, "catalog");
        fuzz_world_must(catalog_import_seed(w->catalog, CB_SOURCE_DIR "/etc/catalog", &err), &err, "seed");
        fuzz_world_must(calendar_new(&w->calendar), &err, "calendar");
        fuzz_world_must(calendar_load_dir(w->calendar, CB_SOURCE_DIR "/etc/calendar", &err), &err,
                        "calendars");
        fuzz_world_must(trusted_keys_new(&w->keys), &err, "keys");
        fuzz_world_must(trusted_keys_add_pem_file(w->keys, "dev-authority-ed25519", SIGNATURE_ALG_ED25519,
                                                  CB_SOURCE_DIR "/etc/dev-keys/dev-authority-ed25519.pub.pem",
                                                  &err),
                        &err, "key");
        fuzz_world_must(projects_new(w->store, w->catalog, w->keys, w->calendar, &w->projects), &err,
                        "projects");

        doc = json_pack("{s:s, s:s, s:s, s:i, s:b, s:s}", "id", FUZZ_SYSTEM, "name", "教育云平台",
                        "department", "edu", "protection_level", 3, "classified", 0, "data_sharing",
                        "compliant");
        {
                System *sys = NULL;
                fuzz_world_must(systems_create(w->store, &fuzz_operator, doc, &sys, &err), &err, "system");
                system_free(sys);
        }
        json_decref(doc);

        fuzz_world_approve(w);

        date_today_cst(today);
        doc = json_pack("{s:s, s:s}", "kind", "contract_signed", "date", today);
        {
                Project *pr = NULL;
                fuzz_world_must(projects_add_milestone(w->projects, &fuzz_edu, FUZZ_PROJECT, doc, &pr, &err),
                                &err, "milestone");
                project_free(pr);
        }
        json_decref(doc);

        doc = json_pack("{s:s, s:[s], s:s}", "severity", "major", "systems", FUZZ_SYSTEM, "description",
                        "fuzz world incident");
        {
                Incident *inc = NULL;
                fuzz_world_must(incidents_report(w->store, &fuzz_edu, doc, &inc, &err), &err, "incident");
                snprintf(w->incident_id, sizeof(w->incident_id), "%s", inc->id);
                incident_free(inc);
        }
        FUZZ_ASSERT(w->incident_id[0]);
        json_decref(doc);
}

static inline void fuzz_world_begin(FuzzWorld *w) {
        FUZZ_ASSERT(store_begin(w->store) >= 0);
}

static inline void fuzz_world_end(FuzzWorld *w) {
        store_rollback(w->store);
}
