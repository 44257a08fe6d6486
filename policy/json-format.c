/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "json-format.h"
#include "macro.h"

/* A cursor over the text: every reader advances it only on success. */
typedef struct {
        const char *s;
        size_t len, at;
} Cur;

static bool at_end(const Cur *c) {
        return c->at >= c->len;
}

static int peek(const Cur *c) {
        return at_end(c) ? -1 : (unsigned char)c->s[c->at];
}

static bool is_digit(int ch) {
        return ch >= '0' && ch <= '9';
}

static bool is_alpha(int ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_hex(int ch) {
        return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Exactly n digits, as a number in [lo, hi]. */
static bool digits(Cur *c, unsigned n, unsigned lo, unsigned hi, unsigned *ret) {
        unsigned v = 0;
        if (c->len - c->at < n)
                return false;
        for (unsigned i = 0; i < n; i++) {
                int ch = (unsigned char)c->s[c->at + i];
                if (!is_digit(ch))
                        return false;
                v = v * 10 + (unsigned)(ch - '0');
        }
        if (v < lo || v > hi)
                return false;
        c->at += n;
        if (ret)
                *ret = v;
        return true;
}

static bool literal(Cur *c, char ch) {
        if (peek(c) != (unsigned char)ch)
                return false;
        c->at++;
        return true;
}

static unsigned days_in(unsigned year, unsigned month) {
        static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return month == 2 && leap ? 29 : days[month - 1];
}

/* full-date = date-fullyear "-" date-month "-" date-mday */
static bool full_date(Cur *c) {
        unsigned y, m, d;
        Cur k = *c;
        if (!digits(&k, 4, 0, 9999, &y) || !literal(&k, '-') || !digits(&k, 2, 1, 12, &m) ||
            !literal(&k, '-') || !digits(&k, 2, 1, 31, &d) || d > days_in(y, m))
                return false;
        *c = k;
        return true;
}

/* full-time = partial-time time-offset; the offset optional when
 * need_offset is false (validators differ on a bare "time"). */
static bool full_time(Cur *c, bool need_offset) {
        Cur k = *c;
        int ch;
        if (!digits(&k, 2, 0, 23, NULL) || !literal(&k, ':') || !digits(&k, 2, 0, 59, NULL) ||
            !literal(&k, ':') || !digits(&k, 2, 0, 60, NULL))
                return false;
        if (literal(&k, '.')) {
                if (!is_digit(peek(&k)))
                        return false;
                while (is_digit(peek(&k)))
                        k.at++;
        }
        ch = peek(&k);
        if (ch == 'Z' || ch == 'z')
                k.at++;
        else if (ch == '+' || ch == '-') {
                k.at++;
                if (!digits(&k, 2, 0, 23, NULL) || !literal(&k, ':') || !digits(&k, 2, 0, 59, NULL))
                        return false;
        } else if (need_offset)
                return false;
        *c = k;
        return true;
}

static bool date_time(Cur *c) {
        int ch;
        if (!full_date(c))
                return false;
        ch = peek(c);
        /* RFC 3339 5.6 allows a space for readability; some validators take it. */
        if (ch != 'T' && ch != 't' && ch != ' ')
                return false;
        c->at++;
        return full_time(c, true);
}

static bool hostname(const char *s, size_t len) {
        size_t label = 0;
        if (len > 0 && s[len - 1] == '.')
                len--; /* the root's dot, as a resolver writes it */
        if (len == 0 || len > 253)
                return false;
        for (size_t i = 0; i <= len; i++) {
                int ch = i < len ? (unsigned char)s[i] : '.';
                if (ch == '.') {
                        if (label == 0 || label > 63 || s[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!is_alpha(ch) && !is_digit(ch) && ch != '-')
                        return false;
                if (label == 0 && ch == '-')
                        return false;
                label++;
        }
        return true;
}

static bool email(const char *s, size_t len) {
        size_t i = 0, at;
        if (len > 0 && s[0] == '"') {
                /* A quoted local part: anything but an unescaped quote, backslash escapes. */
                for (i = 1; i < len && s[i] != '"'; i++) {
                        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                                return false;
                        if (s[i] == '\\' && ++i == len)
                                return false;
                }
                if (i >= len || i == 1)
                        return false;
                i++;
                if (i >= len || s[i] != '@')
                        return false;
                at = i;
        } else {
                const char *last = NULL;
                for (size_t j = 0; j < len; j++)
                        if (s[j] == '@')
                                last = s + j;
                if (!last)
                        return false;
                at = (size_t)(last - s);
                if (at == 0)
                        return false;
                for (i = 0; i < at; i++) {
                        unsigned char ch = (unsigned char)s[i];
                        if (ch <= 0x20 || ch == 0x7f || ch == '@')
                                return false;
                }
                if (s[0] == '.' || s[at - 1] == '.' || memmem(s, at, "..", 2))
                        return false;
        }
        /* The domain: labels or an address literal [..]; non-ASCII labels
         * (internationalised addresses) pass, white space does not. */
        if (at + 1 >= len)
                return false;
        const char *d = s + at + 1;
        size_t dl = len - at - 1;
        if (d[0] == '[')
                return d[dl - 1] == ']' && dl > 2;
        if (d[0] == '.' || d[dl - 1] == '.' || memmem(d, dl, "..", 2))
                return false;
        for (i = 0; i < dl; i++) {
                unsigned char ch = (unsigned char)d[i];
                if (ch <= 0x20 || ch == 0x7f || ch == '@')
                        return false;
        }
        return true;
}

static bool ip(int family, const char *s, size_t len) {
        unsigned char buf[16];
        char text[64];
        /* Longer than any address's text: not one (and inet_pton wants a C string). */
        if (len >= sizeof(text))
                return false;
        memcpy(text, s, len);
        text[len] = 0;
        return inet_pton(family, text, buf) == 1;
}

static bool uuid(const char *s, size_t len) {
        static const char prefix[] = "urn:uuid:";
        if (len >= sizeof(prefix) - 1 && strncasecmp(s, prefix, sizeof(prefix) - 1) == 0) {
                s += sizeof(prefix) - 1;
                len -= sizeof(prefix) - 1;
        }
        if (len != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? s[i] != '-' : !is_hex((unsigned char)s[i]))
                        return false;
        }
        return true;
}

static bool uri(const char *s, size_t len) {
        size_t i = 0;
        if (len == 0 || !is_alpha((unsigned char)s[0]))
                return false;
        while (i < len && (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) || s[i] == '+' ||
                           s[i] == '-' || s[i] == '.'))
                i++;
        if (i >= len || s[i] != ':')
                return false;
        for (i++; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch <= 0x20 || ch == 0x7f || ch >= 0x80 || strchr("<>\"{}|\\^`", ch))
                        return false;
                if (ch == '%' &&
                    (i + 2 >= len || !is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2])))
                        return false;
        }
        return true;
}

static const struct {
        const char *name, *description;
} formats[] = {
        { "date-time", "an RFC 3339 date-time (2026-12-05T08:30:00+08:00)" },
        { "date", "an RFC 3339 date (2026-12-05)" },
        { "time", "an RFC 3339 time (08:30:00+08:00)" },
        { "email", "an e-mail address (name@domain)" },
        { "hostname", "a host name (RFC 1123)" },
        { "ipv4", "an IPv4 address (dotted decimal)" },
        { "ipv6", "an IPv6 address" },
        { "uuid", "a UUID (8-4-4-4-12 hexadecimal digits)" },
        { "uri", "an absolute URI (scheme:...)" },
};

const char *json_format_describe(const char *format) {
        for (size_t i = 0; format && i < ELEMENTSOF(formats); i++)
                if (strcmp(format, formats[i].name) == 0)
                        return formats[i].description;
        return NULL;
}

int json_format_check(const char *format, const char *text, size_t len) {
        Cur c = { .s = text, .len = len };

        if (!json_format_describe(format))
                return JSON_FORMAT_UNKNOWN;
        if (memchr(text, 0, len))
                return JSON_FORMAT_BAD;
        if (strcmp(format, "date-time") == 0)
                return date_time(&c) && at_end(&c);
        if (strcmp(format, "date") == 0)
                return full_date(&c) && at_end(&c);
        if (strcmp(format, "time") == 0)
                return full_time(&c, false) && at_end(&c);
        if (strcmp(format, "email") == 0)
                return email(text, len);
        if (strcmp(format, "hostname") == 0)
                return hostname(text, len);
        if (strcmp(format, "ipv4") == 0)
                return ip(AF_INET, text, len);
        if (strcmp(format, "ipv6") == 0)
                return ip(AF_INET6, text, len);
        if (strcmp(format, "uuid") == 0)
                return uuid(text, len);
        return uri(text, len);
}
