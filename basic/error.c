/* SPDX-License-Identifier: Apache-2.0 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
        unsigned http;
        const char *code;
        const char *dbus;
        int errnum;
} error_table[_CB_ERR_MAX] = {
        [CB_ERR_NONE] = { 200, "ok", NULL, 0 },
        [CB_ERR_INVALID] = { 400, "invalid_request", "org.cloudbroker.Broker1.Error.InvalidArgument",
                             EINVAL },
        [CB_ERR_MALFORMED_JSON] = { 400, "malformed_json", "org.cloudbroker.Broker1.Error.MalformedJson",
                                    EBADMSG },
        [CB_ERR_VALIDATION] = { 422, "invalid_field", "org.cloudbroker.Broker1.Error.InvalidField", EINVAL },
        [CB_ERR_UNAUTHENTICATED] = { 401, "unauthenticated", "org.cloudbroker.Broker1.Error.Unauthenticated",
                                     EACCES },
        [CB_ERR_FORBIDDEN] = { 403, "forbidden", "org.cloudbroker.Broker1.Error.AccessDenied", EPERM },
        [CB_ERR_POLICY_DENIED] = { 403, "policy_denied", "org.cloudbroker.Broker1.Error.PolicyDenied",
                                   EPERM },
        [CB_ERR_NOT_FOUND] = { 404, "not_found", "org.cloudbroker.Broker1.Error.NotFound", ENOENT },
        [CB_ERR_CONFLICT] = { 409, "conflict", "org.cloudbroker.Broker1.Error.Conflict", EBUSY },
        [CB_ERR_TOO_LARGE] = { 413, "payload_too_large", "org.cloudbroker.Broker1.Error.TooLarge", E2BIG },
        [CB_ERR_UNPROCESSABLE] = { 422, "unprocessable", "org.cloudbroker.Broker1.Error.Unprocessable",
                                   EINVAL },
        [CB_ERR_UNSUPPORTED] = { 501, "unsupported", "org.cloudbroker.Broker1.Error.Unsupported",
                                 EOPNOTSUPP },
        [CB_ERR_UNAVAILABLE] = { 503, "unavailable", "org.cloudbroker.Broker1.Error.Unavailable", EAGAIN },
        [CB_ERR_INTERNAL] = { 500, "internal", "org.cloudbroker.Broker1.Error.Internal", EIO },
};

static CbErrorKind kind_clamp(CbErrorKind kind) {
        return (unsigned)kind < _CB_ERR_MAX ? kind : CB_ERR_INTERNAL;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
        size_t len;
        unsigned cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return len;
}

/* Messages quote what the caller sent (a field name, a path) and are cut to
 * fit the buffer, possibly inside a character: a face must still be able
 * to put them into a JSON error body, which jansson refuses for invalid
 * UTF-8. So every byte that does not start a complete valid sequence
 * becomes '?'. */
static void utf8_sanitize(char *s) {
        unsigned char *p = (unsigned char *)s;
        size_t n = strlen(s);

        for (size_t i = 0; i < n;) {
                size_t len = utf8_sequence(p + i, n - i);
                if (len == 0) {
                        p[i++] = '?';
                        continue;
                }
                i += len;
        }
}

static int error_vset(CbError *err, CbErrorKind kind, const char *field, const char *fmt, va_list ap) {
        kind = kind_clamp(kind);
        if (err) {
                err->kind = kind;
                snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                utf8_sanitize(err->field);
                utf8_sanitize(err->message);
        }
        return -error_table[kind].errnum;
}

int cb_error_set(CbError *err, CbErrorKind kind, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, kind, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int cb_error_set_field(CbError *err, CbErrorKind kind, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, kind, field, fmt, ap);
        va_end(ap);
        return r;
}

int cb_error_set_violations(CbError *err, json_t *violations, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, CB_ERR_POLICY_DENIED, NULL, fmt, ap);
        va_end(ap);
        if (err) {
                json_decref(err->violations);
                err->violations = violations;
        } else
                json_decref(violations);
        return r;
}

void cb_error_clear(CbError *err) {
        if (!err)
                return;
        json_decref(err->violations);
        *err = (CbError)CB_ERROR_INIT;
}

unsigned cb_error_http_status(CbErrorKind kind) {
        return error_table[kind_clamp(kind)].http;
}

const char *cb_error_code(CbErrorKind kind) {
        return error_table[kind_clamp(kind)].code;
}

const char *cb_error_dbus_name(CbErrorKind kind) {
        return error_table[kind_clamp(kind)].dbus;
}

int cb_error_errno(CbErrorKind kind) {
        return error_table[kind_clamp(kind)].errnum;
}

json_t *cb_error_to_json(const CbError *err) {
        json_t *o = json_pack("{s:s, s:s}", "error", cb_error_code(err->kind), "message", err->message);
        if (!o)
                return NULL;
        if (err->field[0])
                json_object_set_new(o, "field", json_string(err->field));
        if (err->violations)
                json_object_set(o, "violations", err->violations);
        return o;
}
