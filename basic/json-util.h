/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Strict reading of small JSON request bodies: every field is named in the
 * error (CB_ERR_VALIDATION, err->field), unknown fields are refused, and
 * wrong types are never coerced (true is not 1, 2.0 is not 2).
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* The body must be an object whose keys are all in allowed (NULL-ended). */
int json_check_object(const json_t *j, const char *const *allowed, CbError *err);

/* *ret borrowed from j; absent and !required leaves *ret NULL. max_len 0 = no limit. */
int json_get_string(const json_t *j, const char *name, bool required, size_t max_len, const char **ret,
                    CbError *err);
/* A string matching ^[a-z0-9-]+$, at most 63 bytes. */
int json_get_id(const json_t *j, const char *name, bool required, const char **ret, CbError *err);
/* Absent and !required leaves *ret untouched (callers preset defaults). */
int json_get_bool(const json_t *j, const char *name, bool required, bool *ret, CbError *err);
int json_get_int(const json_t *j, const char *name, bool required, int64_t min, int64_t max, int64_t *ret,
                 CbError *err);
/* "YYYY-MM-DD", a real date. */
int json_get_date(const json_t *j, const char *name, bool required, const char **ret, CbError *err);
