/* SPDX-License-Identifier: Apache-2.0 */
#include "json-text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(JsonText *w, int r) {
        if (w->error == 0)
                w->error = r;
}

static bool reserve(JsonText *w, size_t extra) {
        if (w->error)
                return false;
        if (w->len + extra + 1 <= w->size)
                return true;
        size_t size = w->size ? w->size : 4096;
        while (size < w->len + extra + 1) {
                if (size > SIZE_MAX / 2) {
                        fail(w, -ENOMEM);
                        return false;
                }
                size *= 2;
        }
        char *b = realloc(w->buf, size);
        if (!b) {
                fail(w, -ENOMEM);
                return false;
        }
        w->buf = b;
        w->size = size;
        return true;
}

void json_text_reserve(JsonText *w, size_t n) {
        (void)reserve(w, n);
}

static void put(JsonText *w, const char *s, size_t n) {
        if (!reserve(w, n))
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = 0;
}

/* The separator before a value: nothing after a key, a comma between
 * array elements. */
static void before_value(JsonText *w) {
        if (w->after_key) {
                w->after_key = false;
                return;
        }
        if (w->depth > 0) {
                if (!w->first[w->depth - 1])
                        put(w, ",", 1);
                w->first[w->depth - 1] = false;
        }
}

static void open_(JsonText *w, char c) {
        before_value(w);
        if (w->depth >= JSON_TEXT_MAX_DEPTH) {
                fail(w, -EINVAL);
                return;
        }
        put(w, &c, 1);
        w->first[w->depth++] = true;
}

static void close_(JsonText *w, char c) {
        if (w->depth == 0 || w->after_key) {
                fail(w, -EINVAL);
                return;
        }
        w->depth--;
        put(w, &c, 1);
}

void json_text_begin_object(JsonText *w) {
        open_(w, '{');
}
void json_text_end_object(JsonText *w) {
        close_(w, '}');
}
void json_text_begin_array(JsonText *w) {
        open_(w, '[');
}
void json_text_end_array(JsonText *w) {
        close_(w, ']');
}

bool utf8_valid(const char *str, size_t n) {
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0;
        while (i < n) {
                unsigned c = s[i];
                size_t k;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf) {
                        k = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        k = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        k = 3;
                        cp = c & 0x07;
                } else
                        return false;
                if (n - i <= k)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += k + 1;
        }
        return true;
}

/* The bytes written as they are: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
        [0x20 ... 0x21] = 1,
        [0x23 ... 0x5b] = 1,
        [0x5d ... 0x7f] = 1,
};

static void put_string(JsonText *w, const char *s) {
        if (!s) {
                fail(w, -EINVAL);
                return;
        }
        /* The common case, plain printable ASCII (every key, ids, dates), in
         * one scan and one copy; the rest takes the checked path. */
        size_t n = 0;
        while (plain[(unsigned char)s[n]])
                n++;
        if (!s[n]) {
                if (!reserve(w, n + 2))
                        return;
                w->buf[w->len] = '"';
                memcpy(w->buf + w->len + 1, s, n);
                w->buf[w->len + n + 1] = '"';
                w->len += n + 2;
                w->buf[w->len] = 0;
                return;
        }
        n += strlen(s + n);
        if (!utf8_valid(s, n)) {
                fail(w, -EILSEQ);
                return;
        }
        /* Worst case every byte becomes \u00XX. */
        if (n > (SIZE_MAX - 2) / 6 || !reserve(w, n * 6 + 2)) {
                fail(w, -ENOMEM);
                return;
        }
        char *o = w->buf + w->len;
        *o++ = '"';
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                const char *esc = NULL;
                switch (c) {
                case '"':
                        esc = "\\\"";
                        break;
                case '\\':
                        esc = "\\\\";
                        break;
                case '\b':
                        esc = "\\b";
                        break;
                case '\f':
                        esc = "\\f";
                        break;
                case '\n':
                        esc = "\\n";
                        break;
                case '\r':
                        esc = "\\r";
                        break;
                case '\t':
                        esc = "\\t";
                        break;
                default:
                        break;
                }
                if (esc) {
                        *o++ = esc[0];
                        *o++ = esc[1];
                } else if (c < 0x20) {
                        static const char hex[] = "0123456789ABCDEF";
                        memcpy(o, "\\u00", 4);
                        o[4] = hex[c >> 4];
                        o[5] = hex[c & 0xf];
                        o += 6;
                } else
                        *o++ = (char)c;
        }
        *o++ = '"';
        *o = 0;
        w->len = (size_t)(o - w->buf);
}

void json_text_key(JsonText *w, const char *key) {
        if (w->depth == 0 || w->after_key) {
                fail(w, -EINVAL);
                return;
        }
        before_value(w);
        put_string(w, key);
        put(w, ":", 1);
        w->after_key = true;
}

void json_text_key_plain(JsonText *w, const char *quoted, size_t n) {
        if (w->depth == 0 || w->after_key) {
                fail(w, -EINVAL);
                return;
        }
        before_value(w);
        put(w, quoted, n);
        w->after_key = true;
}

void json_text_string(JsonText *w, const char *s) {
        before_value(w);
        put_string(w, s);
}

void json_text_string_or_null(JsonText *w, const char *s) {
        if (s)
                json_text_string(w, s);
        else
                json_text_null(w);
}

void json_text_int(JsonText *w, int64_t v) {
        /* Digits from the end; the magnitude as unsigned, so INT64_MIN too. */
        char b[24], *e = b + sizeof(b), *p = e;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        do {
                *--p = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                *--p = '-';
        before_value(w);
        put(w, p, (size_t)(e - p));
}

void json_text_bool(JsonText *w, bool v) {
        before_value(w);
        put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_text_null(JsonText *w) {
        before_value(w);
        put(w, "null", 4);
}

void json_text_done(JsonText *w) {
        free(w->buf);
        *w = (JsonText)JSON_TEXT_INIT;
}

int json_text_finish(JsonText *w, char **ret, size_t *ret_len) {
        int r = w->error;
        if (r == 0 && (w->depth != 0 || w->after_key || w->len == 0))
                r = -EINVAL;
        if (r < 0) {
                json_text_done(w);
                return r;
        }
        *ret = w->buf;
        *ret_len = w->len;
        *w = (JsonText)JSON_TEXT_INIT;
        return 0;
}
