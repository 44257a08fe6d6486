/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The register of legacy systems (regulation Art. 35): the built and
 * under-construction systems of the directory that must move onto the
 * municipal cloud, where each runs today, what it is made of (assessed
 * through libvirt), the plan that moves it, and its deadline.
 *
 * The promise:
 *  - The migration team (role migration) registers and changes any
 *    system's record, a department only its own systems' (another
 *    department's system is an unknown id to it, as in the directory);
 *    the operator, the authority, finance and auditors read all.
 *  - A classified system is refused (policy_denied, CLASSIFIED_SYSTEM,
 *    Art. 3): it is outside this cloud and outside the register.
 *  - An exemption is a state change of its own, by the authority only,
 *    with a reason; the record keeps who signed it off and when. No field
 *    of a registration or an update can set it.
 *  - Every change (legacy.create, legacy.update, legacy.transition,
 *    legacy.assess, legacy.plan) is written with its audit record in one
 *    transaction (audit_change), and a refused change is on record too.
 *  - Libvirt is read on the worker pool, never on the main loop.
 *
 * A registration: {"system_id", "hosting": {"kind": "server-room" |
 * "industry-cloud" | "other", "location"}, "source": {"provider",
 * "domains": [...]} | {"uri", "domains": [...]} | {"images":
 * ["pool/volume", ...]}, "deadline": "YYYY-MM-DD", "wave"}. The answers add
 * "department", "state", "state_reason", "exemption", "assessment",
 * "plan", "due" (the deadline carried to a working day), "overdue",
 * "days_overdue", "created_at", "created_by", "updated_at".
 *
 * The core answers with LegacyRecord (and LegacyList); each face
 * serializes it once (rest_legacy_json, rest_legacy_list_json).
 */

#include <jansson.h>

#include "calendar.h"
#include "catalog.h"
#include "error.h"
#include "legacy-rules.h"
#include "page.h"
#include "principal.h"
#include "projects.h"
#include "providers.h"
#include "store.h"
#include "worker.h"

typedef struct Legacy Legacy;

/* One system of the register as stored, with its due day carried to a
 * working day on today. The nested documents kept as JSON columns are
 * owned members, NULL when there is none. */
typedef struct LegacyRecord {
        char *system_id, *department;
        LegacyHosting hosting;
        char *location;
        json_t *source;
        char deadline[DATE_LEN + 1];
        char *wave; /* NULL: in no wave */
        LegacyState state;
        char *state_reason; /* NULL: none given */
        json_t *exemption, *assessment, *plan;
        char due[DATE_LEN + 1];
        bool overdue;
        int64_t days_overdue;
        char *created_at, *created_by, *updated_at;
        bool assessing; /* an assessment is under way (legacy_assessing) */
} LegacyRecord;
void legacy_record_done(LegacyRecord *rec);

typedef struct LegacyList {
        LegacyRecord *v;
        size_t n;
} LegacyList;
void legacy_list_done(LegacyList *l);

/* calendar may be NULL (every year Monday to Friday, provisional). */
int legacy_new(Store *store, Catalog *catalog, Projects *projects, Providers *providers, WorkerPool *pool,
               const Calendar *calendar, Legacy **ret);
Legacy *legacy_free(Legacy *lg);
DEFINE_TRIVIAL_CLEANUP_FUNC(Legacy *, legacy_free);

/* POST /v1/legacy-systems. */
int legacy_create(Legacy *lg, const CbCaller *caller, const json_t *body, LegacyRecord *ret, CbError *err);
/* PUT /v1/legacy-systems/{id}: the whole registration again; a changed
 * source drops the assessment and the plan (back to registered). Only
 * before the move starts (registered, assessed, planned, failed). A
 * department may not move its own deadline: that is the migration team's. */
int legacy_update(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body, LegacyRecord *ret,
                  CbError *err);
int legacy_get(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret, CbError *err);
/* One page in system id order; department and wave may be NULL. */
int legacy_list(Legacy *lg, const CbCaller *caller, const char *department, const char *wave,
                const Page *page, LegacyList *ret, char ret_next[PAGE_TOKEN_MAX], CbError *err);
/* POST /v1/legacy-systems/{id}/transition {"state", "reason"}: the way of
 * legacy-rules.h. assessed and planned are reached through assess and
 * plan only, decommissioned through legacy_decommission only (it undefines
 * the source domains); exempt (and back to registered from it) is the authority's,
 * with a reason; failed needs a reason; planned -> migrating is refused
 * while the plan has a critical concern. */
int legacy_transition(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body,
                      LegacyRecord *ret, CbError *err);

/* POST /v1/legacy-systems/{id}/assess: reads every source domain through
 * the source provider on the worker pool; *ret is the record as it stands
 * (202: the assessment lands in it, and the state becomes assessed). */
int legacy_assess(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret, CbError *err);
/* True while an assessment of id is under way. */
bool legacy_assessing(Legacy *lg, const char *id);

/* POST /v1/legacy-systems/{id}/plan {"project_id", "target": {"provider",
 * "pool", "network"}, "vms": [{"name", "service_id", "plan_id", "disks":
 * [{"dev", "service_id", "plan_id"}]}]}: maps every assessed VM to a
 * catalogue plan and each of its disks after the first to a block-volume
 * plan (the smallest fits unless "vms" overrides them), runs the pre-flight
 * (legacy-fit.h; the policy engine judges every target order of the plan
 * together in the migration project, legacy_judge_target) and stores the
 * plan with its concerns; the state becomes planned. */
int legacy_plan(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body, LegacyRecord *ret,
                CbError *err);

/* GET /v1/migrations/summary: per department and wave, the counts by
 * state and the overdue systems, as {"today", "groups": [{"department",
 * "wave" (null for none), "total", "done" (verified or decommissioned),
 * "counts": {state: n, ...}, "overdue": [{"system_id", "state", "due",
 * "days_overdue"}]}]}, by department then wave. A department sees its
 * own; department NULL: all the caller may see. */
typedef struct LegacySummaryOverdue {
        char *system_id;
        LegacyState state;
        char due[DATE_LEN + 1];
        int64_t days_overdue;
} LegacySummaryOverdue;

typedef struct LegacySummaryGroup {
        char *department;
        char *wave; /* NULL: in no wave */
        int64_t total, done;
        int64_t counts[_LEGACY_STATE_MAX]; /* by LegacyState */
        LegacySummaryOverdue *overdue;
        size_t n_overdue;
} LegacySummaryGroup;

typedef struct LegacySummary {
        char today[DATE_LEN + 1];
        LegacySummaryGroup *groups;
        size_t n_groups;
} LegacySummary;
void legacy_summary_done(LegacySummary *s);

/* The answer is serialized by rest_legacy_summary_json. */
int legacy_summary(Legacy *lg, const CbCaller *caller, const char *department, LegacySummary *ret,
                   CbError *err);

/* ---- Art. 35 enforcement facts (for orders and finance exports) ---- */

typedef struct LegacyOverdueFacts {
        bool registered; /* the system is in the register */
        LegacyState state;
        char deadline[DATE_LEN + 1];
        LegacyOverdue overdue; /* legacy_overdue() of legacy-rules.h */
} LegacyOverdueFacts;

/* Without authorization (like systems_get_facts): whether system_id's
 * migration is overdue on today. -ENOENT when the system is not in the
 * register (then never overdue), -EIO on a database error. */
int legacy_system_overdue(Legacy *lg, const char *system_id, const char *today, LegacyOverdueFacts *ret);

/* Art. 35 enforcement for an order: whether department has a legacy system
 * overdue on today that holds back orders in project_id. Orders in a
 * migration project (one a plan of the department names) are never held
 * back: they are what moves the systems. On overdue, ret_system and
 * ret_due name the first such system. The signature of
 * ProjectMigrationFn (projects.h), userdata the Legacy. */
int legacy_orders_held(const char *department, const char *project_id, const char *today, bool *ret_overdue,
                       char ret_due[11], char ret_system[64], void *userdata);

/* ---- the move (execution) ---- */

/* Settings from the config's migration group: copies at once per source
 * host (1..64), a per-copy rate in bytes/s (0 none), the test switch that
 * fails a copy past that many bytes (0 never), the graceful shutdown's
 * grace period. */
void legacy_set_move_options(Legacy *lg, unsigned max_copies_per_host, uint64_t rate_limit_bps,
                             uint64_t fail_after_bytes, unsigned stop_timeout_ms);

/* Called on the main loop each time a move's progress is recorded:
 * system_id and the run document ({"state", "bytes_done", "bytes_total",
 * "rate_bps", "eta_seconds", "current": {"vm", "vm_index", "vm_count",
 * "step", "disk": {"index", "count", "dev", "source"}}, "vms": [{"name",
 * "step", "bytes_done", "bytes_total", "rate_bps", "eta_seconds",
 * "current_disk", ...}]}; bytes over every disk, never going back,
 * legacy-progress.h), borrowed. */
typedef void (*LegacyProgressFn)(const char *system_id, const json_t *run, void *userdata);
void legacy_set_progress_callback(Legacy *lg, LegacyProgressFn fn, void *userdata);

/* POST /v1/legacy-systems/{id}/migrate: the cold move of every VM of the
 * plan (driver.h migrate_vm), on the worker pool, at most
 * max_copies_per_host at once per source provider (later ones wait,
 * "queued"). Only a planned system without a critical concern, by the
 * migration team; the state becomes migrating at once, then cut-over
 * (every target runs, every source is shut off and marked
 * "awaiting-decommission") or failed (everything rolled back: sources
 * running as before, nothing left at the target). The run's progress is
 * plan.run in the record. */
int legacy_migrate(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret, CbError *err);

/* POST /v1/legacy-systems/{id}/decommission {["remove_disks": bool]}: the
 * operator confirms that a moved system (cut-over or verified) is done
 * with. Its source domains (source.provider, source.domains), which the move
 * left defined and shut off, are undefined on a worker, their disks kept
 * unless remove_disks; then the state becomes decommissioned
 * (legacy.decommission). *ret is the record as it stands when queued (202). */
int legacy_decommission(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body,
                        LegacyRecord *ret, CbError *err);

/* Crash recovery for provider p (now connected): every system left
 * migrating by a daemon that stopped mid-move, whose source and target
 * providers are both connected, is rolled back on the worker pool (target
 * domain and volume removed, then the source started again) and becomes
 * failed. Never both copies running: the target goes first. */
void legacy_recover_moves(Legacy *lg, const char *provider);
