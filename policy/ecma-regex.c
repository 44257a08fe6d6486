/* SPDX-License-Identifier: Apache-2.0 */
/* ECMA-262 patterns as POSIX extended regular expressions (ecma-regex.h).
 * JSON Schema patterns are ECMA-262 regular expressions; regcomp() reads
 * POSIX EREs. The two agree on most of what schemas use (literals, ., [],
 * groups, |, * + ? {n,m}, ^ $ at the ends of the input, search rather than
 * full match) once the escapes ERE lacks are spelled out. Whatever is not
 * translated exactly (lookaround, back references, \b, \p{..}, non-ASCII
 * text) makes the pattern unknown here: the provider checks it. Only ASCII
 * strings are held against a pattern: for them a byte is a character in
 * both languages, and \s, \w, \d and the C classes mean the same. */
#include "ecma-regex.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

#define RX_OUT_MAX    8192
#define RX_COST_MAX   4096 /* atoms after expanding {n,m}: what glibc's regcomp builds */
#define RX_GROUPS_MAX 32
#define RX_REPEAT_MAX 1000

typedef struct RxOut {
        char text[RX_OUT_MAX];
        size_t len;
        bool full;
} RxOut;

static void rx_emit(RxOut *o, const char *s) {
        size_t n = strlen(s);
        if (o->full || n >= sizeof(o->text) - o->len) {
                o->full = true;
                return;
        }
        memcpy(o->text + o->len, s, n + 1);
        o->len += n;
}

static void rx_emit_char(RxOut *o, char c) {
        char s[2] = { c, 0 };
        rx_emit(o, s);
}

/* A literal character outside brackets. */
static void rx_emit_literal(RxOut *o, unsigned char c) {
        if (c == ']' || c == '}') {
                /* Ordinary in ERE, but spelled unambiguously. */
                rx_emit(o, c == ']' ? "[]]" : "[}]");
                return;
        }
        if (strchr(".[{()*+?|^$\\", c))
                rx_emit_char(o, '\\');
        rx_emit_char(o, (char)c);
}

/* \xHH (digits 2) or \uHHHH (digits 4) at s[*i] (the x or u): the code
 * point, or -1 when malformed. */
static long rx_hex_escape(const char *s, size_t len, size_t *i, int digits) {
        long cp = 0;
        if (*i + (size_t)digits >= len)
                return -1;
        for (int k = 1; k <= digits; k++) {
                int d = unhexchar(s[*i + (size_t)k]);
                if (d < 0)
                        return -1;
                cp = cp * 16 + d;
        }
        *i += (size_t)digits;
        return cp;
}

/* The ASCII characters of a class escape (\d \D \s \S \w \W) into set;
 * false when c is not one. */
static bool rx_class_escape(char c, bool set[128]) {
        bool in[128] = { false }, neg = c == 'D' || c == 'S' || c == 'W';
        switch (c) {
        case 'd':
        case 'D':
                for (int k = '0'; k <= '9'; k++)
                        in[k] = true;
                break;
        case 's':
        case 'S':
                /* ECMA's white space and line terminators, their ASCII part. */
                for (const char *t = " \t\n\v\f\r"; *t; t++)
                        in[(unsigned char)*t] = true;
                break;
        case 'w':
        case 'W':
                for (int k = 0; k < 128; k++)
                        in[k] = (k >= '0' && k <= '9') || (k >= 'A' && k <= 'Z') || (k >= 'a' && k <= 'z') ||
                                k == '_';
                break;
        default:
                return false;
        }
        for (int k = 1; k < 128; k++)
                if (in[k] != neg)
                        set[k] = true;
        return true;
}

/* A character escape (after the backslash, at s[*i]) that stands for one
 * character: the character, or -1 when it is not one translated here.
 * in_class: inside brackets, where \b is a backspace. */
static int rx_char_escape(const char *s, size_t len, size_t *i, bool in_class) {
        char c = s[*i];
        long cp;
        switch (c) {
        case 't':
                return '\t';
        case 'n':
                return '\n';
        case 'r':
                return '\r';
        case 'f':
                return '\f';
        case 'v':
                return '\v';
        case 'b':
                return in_class ? '\b' : -1; /* outside: a word boundary, not translated */
        case 'x':
        case 'u':
                cp = rx_hex_escape(s, len, i, c == 'x' ? 2 : 4);
                /* Only ASCII: strings held against patterns are ASCII. NUL never appears in one. */
                return cp > 0 && cp < 128 ? (int)cp : -1;
        default:
                /* Identity escapes of punctuation; letters and digits are something else
                 * (back references, \p, \c, \k, \0) or nothing: not translated. */
                if ((unsigned char)c < 128 && c > ' ' &&
                    !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'))
                        return (unsigned char)c;
                return -1;
        }
}

/* 0 a digit, 1 an upper case letter, 2 a lower case one, 3 anything else. */
static int rx_run_class(int k) {
        return k >= '0' && k <= '9' ? 0 : k >= 'A' && k <= 'Z' ? 1 : k >= 'a' && k <= 'z' ? 2 : 3;
}

/* A bracket expression (s[*i] is just past '['), left with *i on its ']'.
 * Read into a set of ASCII characters and written again as POSIX wants it:
 * every character that is special inside POSIX brackets as a collating
 * symbol ([.-.]), so that no placement rule matters. */
static int rx_bracket(const char *s, size_t len, size_t *i, RxOut *o) {
        bool set[128] = { false }, neg = false;
        size_t j = *i;

        if (j < len && s[j] == '^') {
                neg = true;
                j++;
        }
        if (j < len && s[j] == ']')
                return -EINVAL; /* [] or [^]: nothing or anything, rare enough to leave */
        while (j < len && s[j] != ']') {
                int lo, hi;
                if (s[j] == '\\') {
                        if (++j >= len)
                                return -EINVAL;
                        if (rx_class_escape(s[j], set)) {
                                j++;
                                if (j + 1 < len && s[j] == '-' && s[j + 1] != ']')
                                        return -EINVAL; /* [\d-x]: annex B oddity */
                                continue;
                        }
                        lo = rx_char_escape(s, len, &j, true);
                } else
                        lo = (unsigned char)s[j];
                if (lo < 1 || lo > 127)
                        return -EINVAL;
                j++;
                hi = lo;
                if (j + 1 < len && s[j] == '-' && s[j + 1] != ']') {
                        j++;
                        if (s[j] == '\\') {
                                if (++j >= len)
                                        return -EINVAL;
                                hi = rx_char_escape(s, len, &j, true); /* a class escape: -1, refused */
                        } else
                                hi = (unsigned char)s[j];
                        if (hi < 1 || hi > 127 || hi < lo)
                                return -EINVAL;
                        j++;
                }
                for (int k = lo; k <= hi; k++)
                        set[k] = true;
        }
        if (j >= len)
                return -EINVAL;
        *i = j;

        rx_emit(o, neg ? "[^" : "[");
        for (int k = 1; k < 128; k++) {
                bool alnum = (k >= '0' && k <= '9') || (k >= 'A' && k <= 'Z') || (k >= 'a' && k <= 'z');
                if (!set[k])
                        continue;
                if (alnum) {
                        /* A run of digits or of letters of one case as a range: a-z. */
                        int e = k;
                        while (e + 1 < 128 && set[e + 1] && rx_run_class(e + 1) == rx_run_class(k))
                                e++;
                        rx_emit_char(o, (char)k);
                        if (e > k) {
                                rx_emit_char(o, '-');
                                rx_emit_char(o, (char)e);
                        }
                        k = e;
                } else if (strchr("[]-^", k)) {
                        char sym[6] = { '[', '.', (char)k, '.', ']', 0 };
                        rx_emit(o, sym);
                } else
                        rx_emit_char(o, (char)k);
        }
        rx_emit_char(o, ']');
        return 0;
}

/* {n}, {n,}, {n,m} at s[*i] ('{'): true with the bounds and *i on the '}',
 * false when it is not a quantifier (then ECMA's annex B reads a literal). */
static bool rx_braces(const char *s, size_t len, size_t *i, unsigned long *ret_min, unsigned long *ret_max,
                      bool *ret_bounded) {
        size_t j = *i + 1;
        unsigned long n = 0, m = 0;
        bool digits = false, bounded = true;

        for (; j < len && s[j] >= '0' && s[j] <= '9'; j++, digits = true)
                n = n > 100000 ? n : n * 10 + (unsigned long)(s[j] - '0');
        if (!digits)
                return false;
        m = n;
        if (j < len && s[j] == ',') {
                j++;
                digits = false;
                m = 0;
                for (; j < len && s[j] >= '0' && s[j] <= '9'; j++, digits = true)
                        m = m > 100000 ? m : m * 10 + (unsigned long)(s[j] - '0');
                if (!digits) {
                        bounded = false;
                        m = n;
                }
        }
        if (j >= len || s[j] != '}')
                return false;
        *i = j;
        *ret_min = n;
        *ret_max = m;
        *ret_bounded = bounded;
        return true;
}

/* The ERE for an ECMA-262 pattern in o, and what it costs (atoms after
 * expanding the bounded repetitions); -EINVAL when it is not translated. */
static int rx_translate(const char *s, size_t len, RxOut *o, unsigned long *ret_cost) {
        /* cost[g]: the atoms of group level g so far; last[g]: the last atom's. */
        unsigned long cost[RX_GROUPS_MAX + 1] = { 0 }, last[RX_GROUPS_MAX + 1] = { 0 };
        unsigned g = 0;
        bool quantifiable = false; /* an atom just ended: a quantifier may follow */

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                unsigned long min, max;
                bool bounded, atom = false;
                int ch, q;

                if (c == 0 || c >= 128)
                        return -EINVAL;
                switch (c) {
                case '\\': {
                        bool set[128] = { false };
                        if (++i >= len)
                                return -EINVAL;
                        if (rx_class_escape(s[i], set)) {
                                /* Written as a bracket expression of its own. */
                                char one[4];
                                size_t k = 0;
                                RxOut tmp = { .len = 0 };
                                snprintf(one, sizeof(one), "\\%c]", s[i]);
                                q = rx_bracket(one, strlen(one), &k, &tmp);
                                if (q < 0 || tmp.full)
                                        return -EINVAL;
                                rx_emit(o, tmp.text);
                        } else {
                                ch = rx_char_escape(s, len, &i, false);
                                if (ch < 1)
                                        return -EINVAL;
                                rx_emit_literal(o, (unsigned char)ch);
                        }
                        atom = true;
                        break;
                }
                case '[':
                        i++;
                        q = rx_bracket(s, len, &i, o);
                        if (q < 0)
                                return q;
                        atom = true;
                        break;
                case '(':
                        if (i + 1 < len && s[i + 1] == '?') {
                                if (i + 2 < len && s[i + 2] == ':')
                                        i += 2;
                                else
                                        return -EINVAL; /* lookaround, named groups */
                        }
                        if (g >= RX_GROUPS_MAX)
                                return -EINVAL;
                        g++;
                        cost[g] = last[g] = 0;
                        rx_emit_char(o, '(');
                        quantifiable = false;
                        continue;
                case ')':
                        if (g == 0)
                                return -EINVAL;
                        rx_emit_char(o, ')');
                        g--;
                        last[g] = cost[g + 1] ? cost[g + 1] : 1;
                        cost[g] += last[g];
                        if (cost[g] > RX_COST_MAX)
                                return -EINVAL;
                        quantifiable = true;
                        continue;
                case '|':
                        rx_emit_char(o, '|');
                        quantifiable = false;
                        continue;
                case '^':
                case '$':
                        rx_emit_char(o, (char)c);
                        quantifiable = false;
                        continue;
                case '*':
                case '+':
                case '?':
                case '{':
                        if (c == '{' && !rx_braces(s, len, &i, &min, &max, &bounded)) {
                                rx_emit_literal(o, c);
                                atom = true;
                                break;
                        }
                        if (!quantifiable)
                                return -EINVAL; /* nothing to repeat, or a repeated repeat */
                        if (c == '{') {
                                char b[48];
                                if (max > RX_REPEAT_MAX || min > max)
                                        return -EINVAL;
                                if (!bounded)
                                        snprintf(b, sizeof(b), "{%lu,}", min);
                                else if (min == max)
                                        snprintf(b, sizeof(b), "{%lu}", min);
                                else
                                        snprintf(b, sizeof(b), "{%lu,%lu}", min, max);
                                rx_emit(o, b);
                                /* glibc copies the atom max times (min, unbounded). */
                                if (max > 1) {
                                        cost[g] += last[g] * (max - 1);
                                        last[g] *= max;
                                }
                                if (cost[g] > RX_COST_MAX || last[g] > RX_COST_MAX)
                                        return -EINVAL;
                        } else
                                rx_emit_char(o, (char)c);
                        /* Lazy (x+?) or greedy, whether it matches is the same; ERE
                         * would read the ? as "optional". */
                        if (i + 1 < len && s[i + 1] == '?')
                                i++;
                        quantifiable = false;
                        continue;
                case '.':
                        /* ECMA's dot takes no line terminator; ERE's (no REG_NEWLINE) does. */
                        rx_emit(o, "[^\n\r]");
                        atom = true;
                        break;
                default:
                        rx_emit_literal(o, c);
                        atom = true;
                        break;
                }
                if (atom) {
                        last[g] = 1;
                        cost[g]++;
                        quantifiable = true;
                        if (cost[g] > RX_COST_MAX)
                                return -EINVAL;
                }
        }
        if (g != 0 || o->full)
                return -EINVAL;
        *ret_cost = cost[0] ? cost[0] : 1;
        return 0;
}

int ecma_regex_to_ere(const char *pattern, size_t len, char **ret_ere, unsigned long *ret_cost) {
        _cleanup_(freep) RxOut *o = NULL;
        unsigned long cost;
        char *ere;
        int r;

        if (len > ECMA_REGEX_SOURCE_MAX)
                return -EINVAL;
        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        r = rx_translate(pattern, len, o, &cost);
        if (r < 0)
                return r;
        ere = strdup(o->text);
        if (!ere)
                return -ENOMEM;
        *ret_ere = ere;
        *ret_cost = cost;
        return 0;
}
