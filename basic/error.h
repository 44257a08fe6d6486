/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The one error vocabulary of the core. A core function that refuses fills a
 * CbError and returns a negative errno; each face (REST, OSB, D-Bus, CLI)
 * turns the kind into its own status or error name through the table in
 * error.c, so the mapping lives in exactly one place.
 */

#include <jansson.h>

#include "macro.h"

typedef enum CbErrorKind {
        CB_ERR_NONE = 0,
        CB_ERR_INVALID,         /* 400 invalid_request: bad request shape */
        CB_ERR_MALFORMED_JSON,  /* 400 malformed_json */
        CB_ERR_VALIDATION,      /* 422 invalid_field: a field is wrong, named */
        CB_ERR_UNAUTHENTICATED, /* 401 unauthenticated */
        CB_ERR_FORBIDDEN,       /* 403 forbidden: role or department may not */
        CB_ERR_POLICY_DENIED,   /* 403 policy_denied: with violations */
        CB_ERR_NOT_FOUND,       /* 404 not_found */
        CB_ERR_CONFLICT,        /* 409 conflict: wrong state */
        CB_ERR_TOO_LARGE,       /* 413 payload_too_large */
        CB_ERR_UNPROCESSABLE,   /* 422 unprocessable: well-formed but refused */
        CB_ERR_UNSUPPORTED,     /* 501 unsupported */
        CB_ERR_UNAVAILABLE,     /* 503 unavailable: a provider is down */
        CB_ERR_INTERNAL,        /* 500 internal */
        _CB_ERR_MAX,
} CbErrorKind;

/* field and message are always valid UTF-8, so that every face can send
 * them in JSON: a byte of the input that is not (or a character cut by the
 * size limit) is written as '?'. */
typedef struct CbError {
        CbErrorKind kind;
        char field[128]; /* JSON path of the offending field, or "" */
        char message[512];
        json_t *violations; /* owned; policy decisions only */
} CbError;

#define CB_ERROR_INIT \
        { .kind = CB_ERR_NONE }

/* Records the error and returns the negative errno that goes with the kind,
 * so callers can write `return cb_error_set(err, ...);`. err may be NULL. */
int cb_error_set(CbError *err, CbErrorKind kind, const char *fmt, ...) _printf_(3, 4);
int cb_error_set_field(CbError *err, CbErrorKind kind, const char *field, const char *fmt, ...)
        _printf_(4, 5);
/* Takes ownership of violations (a JSON array). */
int cb_error_set_violations(CbError *err, json_t *violations, const char *fmt, ...) _printf_(3, 4);
void cb_error_clear(CbError *err);

unsigned cb_error_http_status(CbErrorKind kind);
const char *cb_error_code(CbErrorKind kind);
const char *cb_error_dbus_name(CbErrorKind kind);
int cb_error_errno(CbErrorKind kind);

/* {"error": code, "message": ..., ["field": ...], ["violations": [...]]} */
json_t *cb_error_to_json(const CbError *err);
