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

/* Records a refused change (outcome "forbidden", "denied", "rejected") in
 * its own transaction; a failure to record is logged, not returned, since
 * the refusal stands either way. object is "kind:id". codes may be NULL. */
void audit_refusal(Store *s, const CbCaller *caller, const char *action, const char *object,
                   const char *outcome, json_t *codes);

/* Records with seq > after, oldest first, at most limit. */
int audit_list(Store *s, int64_t after, unsigned limit, json_t **ret, CbError *err);

/* Recomputes the chain. *ret: {"ok": bool, "records": N, "head": hash,
 * "first_bad": {"seq", "problem"}} where problem says edited, deleted or
 * reordered. */
int audit_verify(Store *s, json_t **ret, CbError *err);
