/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * JSON Schema's "pattern" is an ECMA-262 regular expression. This module
 * compiles one into an automaton of its own and searches UTF-8 text with
 * it, character by character (Thompson's simulation: all states at once,
 * no backtracking, so a search costs at most the text's characters times
 * the automaton's states, whatever the pattern; (a*)*b is as cheap as ab).
 *
 * Read: literals (any character up to U+FFFF, written in UTF-8 or as \xHH
 * or \uHHHH), ., bracket expressions (ranges, negation, [] and [^]), the
 * class escapes \d \D \s \S \w \W (in brackets too; \s is ECMA-262's white
 * space and line terminators, U+3000 and U+FEFF included, \d and \w are
 * ASCII as ECMA-262 says), \t \n \v \f \r, identity escapes of ASCII
 * punctuation, groups ((?: too), |, * + ? {n} {n,} {n,m} (lazy or greedy:
 * whether a pattern matches does not depend on it), ^ and $ (the ends of
 * the input: no m flag), and annex B's literal { } ].
 *
 * Refused (-EINVAL), for the caller to leave the pattern to whoever reads
 * all of ECMA-262: lookaround, back references, \b \B, \p{..}, \c, \0,
 * named groups, characters beyond U+FFFF (literal or as a surrogate
 * pair), a pattern longer than ECMA_REGEX_SOURCE_MAX bytes, a repetition
 * beyond 1000, or more than ECMA_REGEX_STATES_MAX states once bounded
 * repetitions are expanded. Text with a character beyond U+FFFF is not
 * judged (-EDOM): there ECMA-262 without the u flag counts UTF-16 code
 * units and with it code points, and validators differ. Below it both
 * readings agree, and so does this one.
 *
 * Pure: no I/O, no state beyond the compiled pattern.
 */

#include <stddef.h>

#define ECMA_REGEX_SOURCE_MAX 1024
#define ECMA_REGEX_STATES_MAX 4096

typedef struct EcmaRegex EcmaRegex;

/* 0 and *ret_rx (ecma_regex_free() it); -EINVAL: not read exactly (above);
 * -ENOMEM. */
int ecma_regex_compile(const char *pattern, size_t len, EcmaRegex **ret_rx);

/* The automaton's states, at least 1: what a search costs per character. */
unsigned long ecma_regex_cost(const EcmaRegex *rx);

/* Whether the pattern matches somewhere in text (len bytes of UTF-8, NULs
 * allowed): 1 it does, 0 it does not; -EDOM: text that is not UTF-8 or has
 * a character beyond U+FFFF (not judged); -ENOMEM. */
int ecma_regex_search(const EcmaRegex *rx, const char *text, size_t len);

EcmaRegex *ecma_regex_free(EcmaRegex *rx);
