/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * JSON Schema's "pattern" is an ECMA-262 regular expression; regcomp()
 * reads POSIX extended ones. ecma_regex_to_ere() writes the ERE that
 * matches exactly the same ASCII strings, or refuses: literals, ., bracket
 * expressions, groups ((?: too), |, * + ? {n,m} (a lazy ? dropped: it
 * does not change whether a pattern matches), ^ and $ at the ends of the
 * input, the class escapes \d \D \s \S \w \W (in brackets too), \xHH,
 * \uHHHH below 128 and \t-style escapes. Refused (-EINVAL), for the caller
 * to leave the pattern to someone who reads ECMA-262: lookaround, back
 * references, \b, \p{..}, non-ASCII characters, a pattern longer than
 * ECMA_REGEX_SOURCE_MAX bytes, a repetition beyond 1000, or more than a
 * few thousand atoms once bounded repetitions are expanded (what glibc's
 * regcomp would build). The result is searched for, as JSON Schema says:
 * regexec() without anchors, and only against ASCII text (for it a byte is
 * a character in both languages). Pure: no I/O, no state.
 */

#include <stddef.h>

#define ECMA_REGEX_SOURCE_MAX 1024

/* 0: *ret_ere (malloc'd, the caller frees) and *ret_cost (the atoms after
 * expanding bounded repetitions, at least 1: what compiling and running it
 * costs, for a caller's budget). -EINVAL: not translated exactly; -ENOMEM. */
int ecma_regex_to_ere(const char *pattern, size_t len, char **ret_ere, unsigned long *ret_cost);
