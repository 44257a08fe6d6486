/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What every harness in tests/fuzz/ checks besides "no crash, no leak, no
 * undefined behaviour" (ASan, LSan, UBSan): a refusal is one the faces can
 * answer, i.e. it has a kind, a message, and turns into a JSON error body
 * with its field (the daemon answers every bad request with such a body).
 * A broken promise aborts, which libFuzzer reports as a crash.
 */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define FUZZ_ASSERT(cond)                                                                          \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: promise broken: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

/* For refusals that only reach the log (config and calendar files). */
static inline void fuzz_check_refusal_text(int r, const CbError *err) {
        if (r < 0 && (err->kind == CB_ERR_NONE || !err->message[0])) {
                fprintf(stderr, "refusal %d without kind or message\n", r);
                abort();
        }
}

/* For refusals a face answers. */
static inline void fuzz_check_refusal(int r, const CbError *err) {
        json_t *body, *field;
        char *text;

        if (r >= 0)
                return;
        fuzz_check_refusal_text(r, err);
        body = cb_error_to_json(err);
        if (!body) {
                fprintf(stderr, "refusal has no JSON body (invalid UTF-8?): '%s'\n", err->message);
                abort();
        }
        field = json_object_get(body, "field");
        if (err->field[0] && !field) {
                fprintf(stderr, "refusal lost its field (invalid UTF-8?): '%s'\n", err->field);
                abort();
        }
        text = json_dumps(body, JSON_COMPACT);
        FUZZ_ASSERT(text);
        free(text);
        json_decref(body);
}

/* The bytes as the REST face reads a body (rest_body_json). NULL when jansson refuses them. */
static inline json_t *fuzz_json(const uint8_t *data, size_t size) {
        return json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
}

/* A NUL-terminated copy, for parsers that take C strings. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        FUZZ_ASSERT(s);
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* A scratch folder for harnesses that need files (a store, a config file),
 * under $TMPDIR (tests/fuzz/run.sh points it at its own scratch folder and
 * removes it). Returns a static string. */
static inline const char *fuzz_tmpdir(void) {
        static char path[4096];
        if (!path[0]) {
                const char *base = getenv("TMPDIR");
                snprintf(path, sizeof(path), "%s/cbfuzz.XXXXXX", base && base[0] ? base : "/tmp");
                FUZZ_ASSERT(mkdtemp(path));
        }
        return path;
}

/* Writes data to path, replacing what was there. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
        FILE *f = fopen(path, "we");
        FUZZ_ASSERT(f);
        FUZZ_ASSERT(size == 0 || fwrite(data, 1, size, f) == size);
        FUZZ_ASSERT(fclose(f) == 0);
}
