/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Parsed approvals remembered beside their document text. Every policy
 * evaluation reads the project's current approval, and parsing its JSON
 * was about a third of an evaluation's CPU; the text itself is the key, so
 * a changed or different document is always parsed anew and the answer is
 * the one approval_parse() gives. Pure: no I/O, no store, one thread.
 *
 * A fixed number of slots, replaced in turn; the approval handed out last
 * is never the one replaced, so it stays valid across one further call
 * (for a caller that nests one look-up in another).
 */

#include <stddef.h>

#include "approval.h"
#include "error.h"

typedef struct ApprovalMemo ApprovalMemo;

/* slots >= 1; NULL on OOM. */
ApprovalMemo *approval_memo_new(size_t slots);
ApprovalMemo *approval_memo_free(ApprovalMemo *m);

/* As approval_parse(doc, len): 0 and a borrowed Approval owned by the
 * memo (valid until the memo replaces it: at least until the next call
 * after the next), or approval_parse()'s error, nothing remembered. */
int approval_memo_parse(ApprovalMemo *m, const char *doc, size_t len, const Approval **ret, CbError *err);

/* Parses done so far (misses): for tests and counters. */
size_t approval_memo_parses(const ApprovalMemo *m);
