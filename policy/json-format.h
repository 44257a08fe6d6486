/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * JSON Schema's "format" for a string, for the formats whose grammar the
 * RFCs fix and validators read alike. A provider may or may not check
 * "format" (draft 4 leaves it to the validator), so the broker refuses only
 * what no reading of the format takes: where validators differ, this reads
 * leniently (a space for the "T" of a date-time, a time without an offset,
 * a trailing dot on a host name, an "urn:uuid:" prefix).
 *
 * Read:
 *   "date-time", "date", "time"  RFC 3339 section 5.6: the calendar
 *        checked (29 February in leap years only), hours 00-23, minutes
 *        00-59, seconds 00-60 (a leap second), fractions of any length,
 *        Z or an offset of +-HH:MM;
 *   "email"     local@domain: a non-empty local part (a quoted one may
 *        hold spaces), a domain of non-empty labels, no white space or
 *        control characters outside the quotes;
 *   "hostname"  RFC 1123: labels of 1-63 letters, digits and hyphens, not
 *        beginning or ending with a hyphen, 253 characters in all;
 *   "ipv4"      four decimal parts 0-255, no leading zeros;
 *   "ipv6"      RFC 4291's text forms (what inet_pton(3) reads), no zone;
 *   "uuid"      8-4-4-4-12 hexadecimal digits, either case;
 *   "uri"       an absolute URI: a scheme (a letter, then letters, digits,
 *        + - .), a colon, then no white space, control characters or
 *        <>"{}|\^` and well-formed %HH escapes.
 * Any other name (uri-reference, iri, idn-email, regex, duration, ...) is
 * not read.
 *
 * Pure: no I/O, no state.
 */

#include <stddef.h>

enum {
        JSON_FORMAT_UNKNOWN = -1, /* not a format read here: no answer */
        JSON_FORMAT_BAD = 0,
        JSON_FORMAT_OK = 1,
};

/* Whether text (len bytes, UTF-8, NULs allowed: a NUL is never part of a
 * format) has the format named: JSON_FORMAT_OK, _BAD, or _UNKNOWN for a
 * format not read here. */
int json_format_check(const char *format, const char *text, size_t len);

/* What a string of that format looks like, for an error message ("an RFC
 * 3339 date-time"): NULL for a format not read here. */
const char *json_format_describe(const char *format);
