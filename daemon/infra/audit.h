/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The audit trail (regulation Art. 37-38): an append-only chain of records,
 * each carrying the SM3 hash of its own content and of the previous record,
 * so an edit, a deletion or a reordering is detected by recomputing the
 * chain (audit_verify). Records are appended inside the caller's
 * transaction: a change and its record commit together or not at all.
 */

#include <jansson.h>

#include "digest.h"
#include "error.h"
#include "principal.h"
#include "signature.h"
#include "store.h"

typedef struct AuditEntry {
        const char *action;  /* "catalog.create", "project.suspend", ... */
        const char *object;  /* "service:ecs-general", "project:p1", ... */
        const char *outcome; /* "ok", "denied", "forbidden" */
        json_t *codes;       /* array of rule codes, borrowed; NULL = [] */
        json_t *detail;      /* object, borrowed; NULL = {} */
} AuditEntry;

/* Appends one record in the current transaction (or its own when none is
 * open). The principal is the caller's name, or "system". */
int audit_append(Store *s, const CbCaller *caller, const AuditEntry *e, CbError *err);

/* A change and its audit record in one transaction, or neither: runs
 * change(s, userdata, err) in a transaction, appends entry, and commits
 * both; any failure rolls both back and is returned. The one way the core
 * writes a change that the trail must show. entry is read only after
 * change returned, so change may complete it with what it learnt in the
 * transaction (an id it drew, the state it found) when entry lives in its
 * userdata. */
typedef int (*AuditChangeFn)(Store *s, void *userdata, CbError *err);
int audit_change(Store *s, const CbCaller *caller, const AuditEntry *entry, AuditChangeFn change,
                 void *userdata, CbError *err);

/* Records a refused change (outcome "forbidden", "denied", "rejected") in
 * its own transaction; a failure to record is logged, not returned, since
 * the refusal stands either way. object is "kind:id". codes may be NULL. */
void audit_refusal(Store *s, const CbCaller *caller, const char *action, const char *object,
                   const char *outcome, json_t *codes);

/* Who may read and verify the trail through the daemon (GET /v1/audit,
 * org.cloudbroker.Broker1.Audit): decided here, for every face. */
#define AUDIT_READERS  (CB_ROLE_AUDITOR | CB_ROLE_AUTHORITY)
#define AUDIT_LIST_MAX 10000u

/* A record as the trail holds it. A text field the database holds as
 * invalid UTF-8 (an edit, which audit_verify names) comes with U+FFFD for
 * each bad byte, so the record is still listed; codes and detail are the
 * stored documents ([] and {} when unreadable), owned. */
typedef struct AuditRecord {
        int64_t seq;
        char *at, *principal, *face, *action, *object, *outcome;
        json_t *codes;  /* array */
        json_t *detail; /* object */
        char *prev_hash, *hash;
} AuditRecord;

typedef struct AuditList {
        AuditRecord *v;
        size_t n;
} AuditList;
void audit_list_done(AuditList *l);

/* Records with seq > after, oldest first, at most limit (1..AUDIT_LIST_MAX;
 * else Invalid naming the field), for an AUDIT_READERS caller only. */
int audit_list(Store *s, const CbCaller *caller, int64_t after, unsigned limit, AuditList *ret, CbError *err);

/* A record's place in the chain, kept somewhere the database's owner
 * cannot rewrite (the journal, a printout, the auditor's notes). The chain
 * alone cannot show that records were cut off its end together with the
 * head; a later check against an anchor can. */
typedef struct AuditAnchor {
        int64_t seq; /* >= 1 */
        char hash[DIGEST_HEX_MAX];
} AuditAnchor;

/* "SEQ:HASH" (as audit_head_anchor prints it); -EINVAL when malformed. */
int audit_anchor_parse(const char *s, AuditAnchor *ret);

/* The current head as an anchor; -ENOENT when the trail is empty. */
int audit_head_anchor(Store *s, AuditAnchor *ret);

/* Writes the head's anchor to the log (the journal under systemd: outside
 * the database) as "audit anchor SEQ:HASH (when)". *last_seq: the seq
 * logged last time; nothing is written when the head has not moved.
 * Returns whether a line was written. */
bool audit_log_anchor(Store *s, const char *when, int64_t *last_seq);

/*
 * Checkpoints: the daemon signs the trail's head (record number, its hash,
 * the time) with its own key, SM2 with SM3 or Ed25519 (signature.h), at
 * start, at stop, every `every` records and periodically while the trail
 * grows; each is a row of audit_checkpoints and a log line. The signed
 * statement is the text
 *
 *   cloudbroker audit checkpoint v1\nid=ID\nseq=SEQ\nhash=HASH\nat=TIME\nevery=N\n
 *
 * so a rewritten chain no longer matches a checkpoint, a cut tail leaves a
 * checkpoint naming records that are gone, and deleted checkpoints leave a
 * gap in the ids or more than `every` unsigned records at the end. Only the
 * key's holder can make new ones; auditors verify with the public key.
 *
 * The AuditTrail holds the key and the state of the start check. When that
 * check fails, audit_append refuses (CB_ERR_UNAVAILABLE naming the failure):
 * every change writes an audit record in its transaction, so every change
 * is refused, while reads go on. No checkpoint is signed then, since that
 * would vouch for a tampered head.
 */

typedef enum AuditState {
        AUDIT_STATE_SIGNED,   /* checked at start, checkpoints signed */
        AUDIT_STATE_UNSIGNED, /* no key: development only */
        AUDIT_STATE_FAILED,   /* the start check failed: changes refused */
        _AUDIT_STATE_MAX,
} AuditState;

const char *audit_state_to_string(AuditState s);

/* Takes the key (NULL: unsigned) and attaches itself to the store. */
int audit_trail_new(Store *s, SigKey *key, unsigned every, AuditTrail **ret);
AuditTrail *audit_trail_free(AuditTrail *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(AuditTrail *, audit_trail_free);

/* The start check: from the newest checkpoint when there is one (every
 * checkpoint's signature and record, the links of every record, the hashes
 * of the records after it), the whole chain otherwise (an upgraded
 * database, or no key). On success signs a checkpoint ("start", or
 * "upgrade" for the first); on failure enters AUDIT_STATE_FAILED. Returns
 * <0 only when the check could not run. */
int audit_trail_check(AuditTrail *t, CbError *err);
AuditState audit_trail_state(const AuditTrail *t);
/* Why the start check failed, "" otherwise. */
const char *audit_trail_failure(const AuditTrail *t);
/* The key, NULL when unsigned. */
const SigKey *audit_trail_key(const AuditTrail *t);

/* Signs the current head now ("stop", "periodic", ...); with only_if_moved,
 * nothing happens when the newest checkpoint already names the head.
 * Nothing happens without a key or in the failed state. Returns 1 when a
 * checkpoint was made. */
int audit_checkpoint(Store *s, const char *reason, bool only_if_moved, CbError *err);

typedef struct AuditVerifyOptions {
        const AuditAnchor *anchor; /* record anchor->seq must be there with that hash; may be NULL */
        const SigKey *const *keys; /* public keys checkpoints must verify under */
        size_t n_keys;             /* 0: checkpoints are not checked (and the result says so) */
        bool from_last_checkpoint; /* recompute hashes only after the newest checkpoint */
} AuditVerifyOptions;

/* Whether checkpoint signatures were checked: "none" (the trail has no
 * checkpoints), "not checked" (no key given), "verified". */
typedef enum AuditSignatures {
        AUDIT_SIGNATURES_NONE,
        AUDIT_SIGNATURES_NOT_CHECKED,
        AUDIT_SIGNATURES_VERIFIED,
        _AUDIT_SIGNATURES_MAX,
} AuditSignatures;

const char *audit_signatures_to_string(AuditSignatures s);

/* The first record found wrong. problem is edited, deleted, reordered,
 * rewritten, cut, forged-checkpoint, missing-checkpoint, unsigned-tail,
 * head-missing or beyond-head (NULL: none found); seq the first record
 * found wrong (for a rewritten stretch, the first the checkpoints prove
 * wrong; the message names the stretch); through its end when it is a
 * stretch (else 0); checkpoint the checkpoint concerned (else 0). */
typedef struct AuditProblem {
        const char *problem;
        int64_t seq, through, checkpoint;
        char message[400];
} AuditProblem;

/* What audit_verify found. head and head_seq name the last record that
 * verified (an anchor for next time), signed_seq the newest record a
 * verified checkpoint signs. has_state: the daemon's check
 * (audit_trail_verify) adds the trail's state. */
typedef struct AuditVerifyResult {
        bool ok; /* first_bad.problem == NULL */
        int64_t records, head_seq, checkpoints, signed_seq;
        char head[DIGEST_HEX_MAX];
        AuditSignatures signatures;
        AuditProblem first_bad;
        bool has_state;
        AuditState state;
} AuditVerifyResult;

/* Recomputes the chain and checks the checkpoints into *ret. o may be NULL. */
int audit_verify(Store *s, const AuditVerifyOptions *o, AuditVerifyResult *ret, CbError *err);

/* The one JSON shape of a verification, for every face and for ctl's
 * offline check: {ok, records, head, head_seq, checkpoints, signatures,
 * signed_seq, [first_bad: {seq, problem, message, [through], [checkpoint]}],
 * [audit: the trail's state, when has_state]}. NULL on no memory. */
json_t *audit_verify_result_to_json(const AuditVerifyResult *v);

/* The daemon's check for a caller (GET /v1/audit/verify, Audit.Verify):
 * Forbidden unless AUDIT_READERS, then audit_verify() with the trail's own
 * key, and the trail's state as "audit" ("unsigned": nothing outside the
 * database vouches for it). t may be NULL (no key, no state). The offline
 * check (cloudbrokerctl audit verify --db) calls audit_verify() itself:
 * whoever holds the file has all of it. */
int audit_trail_verify(AuditTrail *t, Store *s, const CbCaller *caller, const AuditAnchor *anchor,
                       AuditVerifyResult *ret, CbError *err);
