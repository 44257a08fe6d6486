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
 * writes a change that the trail must show. */
typedef int (*AuditChangeFn)(Store *s, void *userdata, CbError *err);
int audit_change(Store *s, const CbCaller *caller, const AuditEntry *entry, AuditChangeFn change,
                 void *userdata, CbError *err);

/* Records a refused change (outcome "forbidden", "denied", "rejected") in
 * its own transaction; a failure to record is logged, not returned, since
 * the refusal stands either way. object is "kind:id". codes may be NULL. */
void audit_refusal(Store *s, const CbCaller *caller, const char *action, const char *object,
                   const char *outcome, json_t *codes);

/* Records with seq > after, oldest first, at most limit. */
int audit_list(Store *s, int64_t after, unsigned limit, json_t **ret, CbError *err);

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

/* Recomputes the chain. *ret: {"ok": bool, "records": N, "head": hash,
 * "head_seq": N, "first_bad": {"seq", "problem", "message"}} where head and
 * head_seq name the last record that verified (an anchor for next time) and
 * problem says edited, deleted or reordered. anchor (may be NULL): record anchor->seq
 * must still be there with that hash. */
int audit_verify(Store *s, const AuditAnchor *anchor, json_t **ret, CbError *err);
