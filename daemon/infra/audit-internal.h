/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What audit.c (writing the trail, signing checkpoints) and audit-verify.c
 * (checking both) must agree on byte for byte: the hashed content of a
 * record and the signed statement of a checkpoint. Not for other modules.
 */

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"

#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_COLUMNS "seq, at, principal, face, action, object, outcome, codes, detail, prev_hash, hash"

/* Every column but the hashes, in a fixed order, as a compact JSON array;
 * NULL when out of memory or a field is not valid UTF-8. */
char *audit_record_content(int64_t seq, const char *at, const char *principal, const char *face,
                           const char *action, const char *object, const char *outcome, const char *codes,
                           const char *detail);
/* SM3 of "PREV\nCONTENT" as hex. */
int audit_record_hash(const char *prev, const char *content, char ret[DIGEST_HEX_MAX]);
/* The text a checkpoint's signature covers (audit.h). */
char *audit_checkpoint_statement(int64_t id, int64_t seq, const char *hash, const char *at, int64_t every);

bool audit_utf8_valid(const unsigned char *p);
/* Replaces every byte >= 0x80 by '?' unless s is valid UTF-8: text copied
 * from the database into a message may be anything. */
void audit_ascii_if_invalid(char *s);
