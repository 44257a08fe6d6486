/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * A JSON text writer for large answers (pages of records) that would
 * otherwise be built as a jansson tree only to be dumped: it appends to one
 * growing buffer and writes the same bytes as json_dumps(JSON_COMPACT |
 * JSON_PRESERVE_ORDER) of the equivalent tree (no spaces; '"', '\\' and the
 * controls below 0x20 escaped as jansson does, "\u00XX" in upper case;
 * UTF-8 passed through). A string that is not valid UTF-8 (jansson refuses
 * those too) or a failed allocation makes the writer fail: the first error
 * sticks and json_text_finish() returns it, so callers check once.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_TEXT_MAX_DEPTH 32

typedef struct JsonText {
        char *buf;
        size_t len, size;
        int error; /* 0 or the first -errno */
        unsigned depth;
        bool first[JSON_TEXT_MAX_DEPTH]; /* no member written yet at this depth */
        bool after_key;                  /* the next value completes "key": */
} JsonText;

#define JSON_TEXT_INIT \
        { 0 }

void json_text_begin_object(JsonText *w);
void json_text_end_object(JsonText *w);
void json_text_begin_array(JsonText *w);
void json_text_end_array(JsonText *w);
/* A member's name, inside an object; the next call writes its value. */
void json_text_key(JsonText *w, const char *key);
/* The same for a key that needs no escaping (plain printable ASCII, no
 * '"' or '\\'), given as the literal: json_text_key_lit(w, "id") writes
 * "id": without scanning it. */
void json_text_key_plain(JsonText *w, const char *quoted, size_t n);
#define json_text_key_lit(w, lit) json_text_key_plain((w), "\"" lit "\":", sizeof("\"" lit "\":") - 1)
/* NULL is an error (-EINVAL), as json_pack's "s" refuses it. */
void json_text_string(JsonText *w, const char *s);
/* NULL writes null. */
void json_text_string_or_null(JsonText *w, const char *s);
void json_text_int(JsonText *w, int64_t v);
void json_text_bool(JsonText *w, bool v);
void json_text_null(JsonText *w);

/* On success hands over the NUL-terminated text (*ret_len without the NUL)
 * and returns 0; otherwise frees it and returns the first error (-EILSEQ,
 * -ENOMEM, -EINVAL for unbalanced nesting). The writer is empty after. */
int json_text_finish(JsonText *w, char **ret, size_t *ret_len);
/* Room for n more bytes at once (a page's size, known roughly): fewer
 * copies as the text grows. A failed allocation fails the writer. */
void json_text_reserve(JsonText *w, size_t n);
void json_text_done(JsonText *w);

/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF), jansson's rule for strings. */
bool utf8_valid(const char *s, size_t n);
