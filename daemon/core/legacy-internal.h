/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What the parts of the legacy register share (legacy.c: the register,
 * assessment, plans; legacy-move.c: the move itself). Not for other modules.
 */

#include "evaluation.h"
#include "legacy-fit.h"
#include "legacy.h"

/* Who reads the whole register: the team that runs it, the operator that
 * hosts the targets, the authority that signs exemptions, finance that
 * withholds O&M funds under Art. 35, and auditors. */
#define LEGACY_READERS \
        (CB_ROLE_MIGRATION | CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_FINANCE | CB_ROLE_AUDITOR)
#define LEGACY_ASSESSING_MAX 64
#define LEGACY_MOVES_MAX     64

typedef struct LegacyMove LegacyMove;

struct Legacy {
        Store *store;
        Catalog *catalog;
        Projects *projects;
        Providers *providers;
        WorkerPool *pool;
        const Calendar *calendar;
        Calendar *own_calendar; /* an empty one when the daemon has none */
        char *assessing[LEGACY_ASSESSING_MAX];
        /* Moves: running and waiting for a copy slot of their source host. */
        LegacyMove *moves[LEGACY_MOVES_MAX];
        unsigned max_copies_per_host;
        uint64_t rate_limit_bps, fail_after_bytes;
        unsigned stop_timeout_ms;
        LegacyProgressFn progress_fn;
        void *progress_userdata;
};

typedef struct StateWrite {
        const char *id, *from, *to, *reason, *now;
        const char *exemption;  /* JSON text to store; NULL keeps what is there */
        bool clear_exemption;   /* revoking */
        const char *assessment; /* JSON text or NULL (kept) */
        const char *plan;       /* JSON text or NULL (kept) */
        bool clear_plan;
        /* More to write in the same transaction (the moved VMs' resource records); may be NULL. */
        int (*also)(Store *s, void *userdata, CbError *err);
        void *also_userdata;
} StateWrite;

/* The stored record without authorization: 0 and *ret, -ENOENT, -EIO. */
int legacy_load(Legacy *lg, const char *id, LegacyRecord *ret, CbError *err);
/* The record as the caller may see it: another department's is unknown. */
int legacy_load_visible(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret, CbError *err);
void legacy_refused(Legacy *lg, const CbCaller *caller, const char *action, const char *id,
                    const char *outcome, json_t *codes);
/* The state change w with its audit record (action) in one transaction. */
int legacy_change_state(Legacy *lg, const CbCaller *caller, const char *action, StateWrite *w, json_t *detail,
                        CbError *err);
bool legacy_state_before_move(LegacyState s);
void legacy_moves_free(Legacy *lg);

/* ---- a plan's targets: one rule for the pre-flight and the move ---- */

#define LEGACY_VOLUME_OPTIONS_MAX 256

/* The block-volume plans of the published catalogue (strings borrowed from
 * catalog), at most max of them; their number. */
size_t legacy_volume_options(const json_t *catalog, LegacyVolumeOption *v, size_t max);
/* The option named (service_id may be NULL: any service), or NULL. */
const LegacyVolumeOption *legacy_volume_option_find(const LegacyVolumeOption *v, size_t n,
                                                    const char *service_id, const char *plan_id);

/* One target order of system_id's plan (a VM or a moved disk's block
 * volume) judged by the policy engine as a migration order in project_id,
 * together with the plan's orders judged before it (b: the n-th of a
 * catalogue plan is judged at quantity n, and the budget counts the
 * others' commitment). 0 and *ret (evaluation_done() is the caller's),
 * allowed or not; *ret_own_fen what this one resource commits. <0 with
 * err when it cannot be judged at all (unknown project, the batch full). */
int legacy_judge_target(Legacy *lg, const CbCaller *caller, const char *system_id, const char *project_id,
                        LegacyBatch *b, const char *service_id, const char *plan_id, Evaluation *ret,
                        int64_t *ret_own_fen, CbError *err);
