/* SPDX-License-Identifier: Apache-2.0 */
/* ECMA-262 patterns, compiled to an automaton and searched (ecma-regex.h).
 * glibc's regcomp() was the engine here before, fed a translation into a
 * POSIX ERE: only ASCII could be judged that way, because even in C.UTF-8
 * regcomp refuses a range of characters beyond ASCII ("Invalid collation
 * character" for [一-龥], the range Chinese schemas use most). So: a
 * parser into a small tree, sets as sorted code point ranges, a program of
 * SET/SPLIT/JMP and the two assertions, and Thompson's simulation of it:
 * the set of states a prefix of the text can be in, advanced a character
 * at a time, so that a search is linear in the text for any pattern. */
#include "ecma-regex.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

#define RX_GROUPS_MAX 32
#define RX_REPEAT_MAX 1000
#define RX_CP_MAX     0x10FFFFu
#define RX_BMP_MAX    0xFFFFu

typedef struct Range {
        uint32_t lo, hi;
} Range;

typedef struct CharSet {
        Range *r;
        size_t n, size;
} CharSet;

/* A group of siblings (N_SEQ: one after the other; N_ALT: one of them)
 * is a list through next, so that no walk of the tree recurses deeper than
 * the pattern's groups and repetitions nest. */
typedef enum NodeKind { N_SEQ, N_ALT, N_SET, N_BOL, N_EOL, N_REP } NodeKind;

typedef struct Node {
        NodeKind kind;
        size_t set;        /* N_SET */
        struct Node *kids; /* N_SEQ, N_ALT: the first; N_REP: what repeats */
        struct Node *next; /* the next sibling */
        unsigned min, max; /* N_REP; max is ignored when unbounded */
        bool unbounded;
} Node;

enum { OP_SET, OP_SPLIT, OP_JMP, OP_BOL, OP_EOL, OP_MATCH };

typedef struct Inst {
        uint8_t op;
        uint32_t x, y; /* OP_SET: x the set; OP_JMP: x; OP_SPLIT: x and y */
} Inst;

struct EcmaRegex {
        Inst *prog;
        size_t n;
        CharSet *sets;
        size_t n_sets;
};

/* ECMA-262's classes (facts of the spec): \d and \w are ASCII, \s is
 * WhiteSpace (TAB VT FF SP NBSP ZWNBSP and Unicode's Zs) and LineTerminator
 * (LF CR LS PS). */
static const Range rx_digits[] = { { '0', '9' } };
static const Range rx_word[] = { { '0', '9' }, { 'A', 'Z' }, { '_', '_' }, { 'a', 'z' } };
static const Range rx_space[] = { { 0x09, 0x0D },     { 0x20, 0x20 },     { 0xA0, 0xA0 },
                                  { 0x1680, 0x1680 }, { 0x2000, 0x200A }, { 0x2028, 0x2029 },
                                  { 0x202F, 0x202F }, { 0x205F, 0x205F }, { 0x3000, 0x3000 },
                                  { 0xFEFF, 0xFEFF } };
/* What . does not take: the line terminators. */
static const Range rx_line_ends[] = { { 0x0A, 0x0A }, { 0x0D, 0x0D }, { 0x2028, 0x2029 } };

/* One character of UTF-8 at s[*i]: *ret and *i past it, or -EINVAL
 * (truncated, overlong, a surrogate, beyond U+10FFFF). */
static int utf8_next(const char *s, size_t len, size_t *i, uint32_t *ret) {
        const unsigned char *u = (const unsigned char *)s + *i;
        size_t n, left = len - *i;
        uint32_t cp, min;

        if (u[0] < 0x80) {
                *ret = u[0];
                (*i)++;
                return 0;
        }
        if ((u[0] & 0xE0) == 0xC0)
                n = 2, cp = u[0] & 0x1Fu, min = 0x80;
        else if ((u[0] & 0xF0) == 0xE0)
                n = 3, cp = u[0] & 0x0Fu, min = 0x800;
        else if ((u[0] & 0xF8) == 0xF0)
                n = 4, cp = u[0] & 0x07u, min = 0x10000;
        else
                return -EINVAL;
        if (left < n)
                return -EINVAL;
        for (size_t k = 1; k < n; k++) {
                if ((u[k] & 0xC0) != 0x80)
                        return -EINVAL;
                cp = cp << 6 | (u[k] & 0x3Fu);
        }
        if (cp < min || cp > RX_CP_MAX || (cp >= 0xD800 && cp <= 0xDFFF))
                return -EINVAL;
        *ret = cp;
        *i += n;
        return 0;
}

static int set_add(CharSet *s, uint32_t lo, uint32_t hi) {
        if (s->n == s->size) {
                size_t ns = s->size ? s->size * 2 : 8;
                void *nv = realloc(s->r, ns * sizeof(*s->r));
                if (!nv)
                        return -ENOMEM;
                s->r = nv;
                s->size = ns;
        }
        s->r[s->n++] = (Range){ lo, hi };
        return 0;
}

static int range_cmp(const void *a, const void *b) {
        const Range *x = a, *y = b;
        return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorted, with overlapping and adjacent ranges merged: what set_has()'s
 * binary search and set_negate() take. */
static void set_normalize(CharSet *s) {
        size_t out = 0;
        if (s->n == 0)
                return;
        qsort(s->r, s->n, sizeof(*s->r), range_cmp);
        for (size_t i = 0; i < s->n; i++) {
                if (out > 0 && s->r[i].lo <= s->r[out - 1].hi + 1) {
                        if (s->r[i].hi > s->r[out - 1].hi)
                                s->r[out - 1].hi = s->r[i].hi;
                } else
                        s->r[out++] = s->r[i];
        }
        s->n = out;
}

/* Every character s (normalized) does not have, and only those. */
static int set_negate(CharSet *s) {
        CharSet c = { 0 };
        uint32_t next = 0;
        for (size_t i = 0; i < s->n; i++) {
                if (s->r[i].lo > next && set_add(&c, next, s->r[i].lo - 1) < 0)
                        goto oom;
                next = s->r[i].hi + 1;
        }
        if (next <= RX_CP_MAX && set_add(&c, next, RX_CP_MAX) < 0)
                goto oom;
        free(s->r);
        *s = c;
        return 0;
oom:
        free(c.r);
        return -ENOMEM;
}

static bool set_has(const CharSet *s, uint32_t c) {
        size_t lo = 0, hi = s->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (c < s->r[mid].lo)
                        hi = mid;
                else if (c > s->r[mid].hi)
                        lo = mid + 1;
                else
                        return true;
        }
        return false;
}

static bool is_class_escape(char c) {
        return c && strchr("dDsSwW", c);
}

/* The ranges t, or all the others when neg, added to s. */
static int set_add_ranges(CharSet *s, const Range *t, size_t n, bool neg) {
        CharSet tmp = { 0 };
        int r = 0;
        for (size_t k = 0; k < n && r == 0; k++)
                r = set_add(&tmp, t[k].lo, t[k].hi);
        if (r == 0 && neg) {
                set_normalize(&tmp);
                r = set_negate(&tmp);
        }
        for (size_t k = 0; k < tmp.n && r == 0; k++)
                r = set_add(s, tmp.r[k].lo, tmp.r[k].hi);
        free(tmp.r);
        return r;
}

/* \d \D \s \S \w \W (c, one of is_class_escape()'s) added to s. */
static int set_add_class(CharSet *s, char c) {
        bool neg = c == 'D' || c == 'S' || c == 'W';
        switch (c) {
        case 'd':
        case 'D':
                return set_add_ranges(s, rx_digits, ELEMENTSOF(rx_digits), neg);
        case 's':
        case 'S':
                return set_add_ranges(s, rx_space, ELEMENTSOF(rx_space), neg);
        default:
                return set_add_ranges(s, rx_word, ELEMENTSOF(rx_word), neg);
        }
}

typedef struct Parser {
        const char *s;
        size_t len, i;
        Node *nodes;
        size_t n_nodes, cap_nodes;
        CharSet *sets;
        size_t n_sets, cap_sets;
        unsigned depth;
} Parser;

static Node *node_new(Parser *p, NodeKind kind) {
        Node *n;
        /* Sized for the pattern (a few a byte); never full in practice. */
        if (p->n_nodes == p->cap_nodes)
                return NULL;
        n = &p->nodes[p->n_nodes++];
        *n = (Node){ .kind = kind };
        return n;
}

/* Takes over *s (normalized): a node that matches one of its characters. */
static int node_set(Parser *p, CharSet *s, Node **ret) {
        Node *n;
        if (p->n_sets == p->cap_sets) {
                size_t ns = p->cap_sets ? p->cap_sets * 2 : 8;
                void *nv = realloc(p->sets, ns * sizeof(*p->sets));
                if (!nv) {
                        free(s->r);
                        return -ENOMEM;
                }
                p->sets = nv;
                p->cap_sets = ns;
        }
        n = node_new(p, N_SET);
        if (!n) {
                free(s->r);
                return -EINVAL;
        }
        n->set = p->n_sets;
        p->sets[p->n_sets++] = *s;
        *s = (CharSet){ 0 };
        *ret = n;
        return 0;
}

static int node_char(Parser *p, uint32_t c, Node **ret) {
        CharSet s = { 0 };
        if (set_add(&s, c, c) < 0)
                return -ENOMEM;
        return node_set(p, &s, ret);
}

/* A character escape, p->i just past the backslash: the character into
 * *ret and p->i past the escape; -EINVAL when it is not one read here.
 * in_class: inside brackets, where \b is a backspace. */
static int parse_char_escape(Parser *p, bool in_class, uint32_t *ret) {
        char c = p->s[p->i];
        uint32_t cp = 0;
        int digits;

        switch (c) {
        case 't':
                cp = '\t';
                break;
        case 'n':
                cp = '\n';
                break;
        case 'r':
                cp = '\r';
                break;
        case 'f':
                cp = '\f';
                break;
        case 'v':
                cp = '\v';
                break;
        case 'b':
                if (!in_class)
                        return -EINVAL; /* a word boundary */
                cp = '\b';
                break;
        case 'x':
        case 'u':
                digits = c == 'x' ? 2 : 4;
                if (p->i + (size_t)digits >= p->len)
                        return -EINVAL;
                for (int k = 1; k <= digits; k++) {
                        int d = unhexchar(p->s[p->i + (size_t)k]);
                        if (d < 0)
                                return -EINVAL; /* \u{..} too: the u flag's, not read */
                        cp = cp * 16 + (uint32_t)d;
                }
                /* Half of a pair: the character is beyond U+FFFF. */
                if (cp >= 0xD800 && cp <= 0xDFFF)
                        return -EINVAL;
                p->i += (size_t)digits;
                break;
        default:
                /* Identity escapes of punctuation; letters and digits are something else
                 * (back references, \p, \c, \k, \0) or nothing: not read. */
                if ((unsigned char)c < 128 && c > ' ' &&
                    !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'))
                        cp = (unsigned char)c;
                else
                        return -EINVAL;
        }
        p->i++;
        *ret = cp;
        return 0;
}

/* One member of a bracket expression at p->i: a character into *ret, or
 * a class escape added to s (*ret_class true). */
static int parse_class_atom(Parser *p, CharSet *s, uint32_t *ret, bool *ret_class) {
        int r;
        *ret_class = false;
        if (p->s[p->i] == '\\') {
                if (++p->i >= p->len)
                        return -EINVAL;
                if (is_class_escape(p->s[p->i])) {
                        r = set_add_class(s, p->s[p->i]);
                        if (r < 0)
                                return r;
                        p->i++;
                        *ret_class = true;
                        return 0;
                }
                return parse_char_escape(p, true, ret);
        }
        if (utf8_next(p->s, p->len, &p->i, ret) < 0 || *ret > RX_BMP_MAX)
                return -EINVAL;
        return 0;
}

/* A bracket expression, p->i just past its '[': a set node, p->i past its ']'. */
static int parse_bracket(Parser *p, Node **ret) {
        CharSet s = { 0 };
        bool neg = false;
        int r = 0;

        if (p->i < p->len && p->s[p->i] == '^') {
                neg = true;
                p->i++;
        }
        for (;;) {
                uint32_t lo, hi;
                bool cls;
                if (p->i >= p->len) {
                        r = -EINVAL;
                        break;
                }
                if (p->s[p->i] == ']')
                        break;
                r = parse_class_atom(p, &s, &lo, &cls);
                if (r < 0)
                        break;
                if (p->i + 1 < p->len && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
                        bool cls_hi;
                        p->i++;
                        r = parse_class_atom(p, &s, &hi, &cls_hi);
                        /* [\d-x] is annex B's union of three; rare, left to others. */
                        if (r >= 0 && (cls || cls_hi || hi < lo))
                                r = -EINVAL;
                        if (r < 0)
                                break;
                } else
                        hi = lo;
                if (!cls) {
                        r = set_add(&s, lo, hi);
                        if (r < 0)
                                break;
                }
        }
        if (r < 0) {
                free(s.r);
                return r;
        }
        p->i++;
        set_normalize(&s);
        if (neg && (r = set_negate(&s)) < 0) {
                free(s.r);
                return r;
        }
        return node_set(p, &s, ret);
}

/* {n}, {n,}, {n,m} at p->s[j] ('{'): true with the bounds and *end just
 * past the '}'; false when it is not a quantifier (annex B: a literal). */
static bool parse_braces(const Parser *p, size_t j, size_t *end, unsigned long *ret_min,
                         unsigned long *ret_max, bool *ret_unbounded) {
        unsigned long n = 0, m;
        bool digits = false, unbounded = false;

        for (j++; j < p->len && p->s[j] >= '0' && p->s[j] <= '9'; j++, digits = true)
                n = n > 100000 ? n : n * 10 + (unsigned long)(p->s[j] - '0');
        if (!digits)
                return false;
        m = n;
        if (j < p->len && p->s[j] == ',') {
                j++;
                digits = false;
                m = 0;
                for (; j < p->len && p->s[j] >= '0' && p->s[j] <= '9'; j++, digits = true)
                        m = m > 100000 ? m : m * 10 + (unsigned long)(p->s[j] - '0');
                if (!digits) {
                        unbounded = true;
                        m = n;
                }
        }
        if (j >= p->len || p->s[j] != '}')
                return false;
        *end = j + 1;
        *ret_min = n;
        *ret_max = m;
        *ret_unbounded = unbounded;
        return true;
}

static int parse_alt(Parser *p, Node **ret);

/* An atom at p->i (not '|' or ')', not the end): a group, a set, an
 * escape, a literal. */
static int parse_atom(Parser *p, Node **ret) {
        char c = p->s[p->i];
        CharSet s = { 0 };
        unsigned long min, max;
        size_t end;
        bool unbounded;
        uint32_t cp;
        int r;

        switch (c) {
        case '(':
                p->i++;
                if (p->i < p->len && p->s[p->i] == '?') {
                        if (p->i + 1 < p->len && p->s[p->i + 1] == ':')
                                p->i += 2;
                        else
                                return -EINVAL; /* lookaround, named groups */
                }
                if (++p->depth > RX_GROUPS_MAX)
                        return -EINVAL;
                r = parse_alt(p, ret);
                if (r < 0)
                        return r;
                if (p->i >= p->len || p->s[p->i] != ')')
                        return -EINVAL;
                p->i++;
                p->depth--;
                return 0;
        case '[':
                p->i++;
                return parse_bracket(p, ret);
        case '.':
                p->i++;
                r = set_add_ranges(&s, rx_line_ends, ELEMENTSOF(rx_line_ends), true);
                if (r < 0) {
                        free(s.r);
                        return r;
                }
                return node_set(p, &s, ret);
        case '\\':
                if (++p->i >= p->len)
                        return -EINVAL;
                if (is_class_escape(p->s[p->i])) {
                        r = set_add_class(&s, p->s[p->i]);
                        if (r < 0) {
                                free(s.r);
                                return r;
                        }
                        p->i++;
                        set_normalize(&s);
                        return node_set(p, &s, ret);
                }
                r = parse_char_escape(p, false, &cp);
                if (r < 0)
                        return r;
                return node_char(p, cp, ret);
        case '*':
        case '+':
        case '?':
                return -EINVAL; /* nothing to repeat, or a repeated repeat */
        case '{':
                if (parse_braces(p, p->i, &end, &min, &max, &unbounded))
                        return -EINVAL;
                p->i++;
                return node_char(p, '{', ret);
        default:
                if (utf8_next(p->s, p->len, &p->i, &cp) < 0 || cp > RX_BMP_MAX)
                        return -EINVAL;
                return node_char(p, cp, ret);
        }
}

/* An assertion, or an atom and its quantifier. */
static int parse_term(Parser *p, Node **ret) {
        unsigned long min, max;
        bool unbounded = false;
        size_t end;
        Node *atom, *rep;
        char c = p->s[p->i];
        int r;

        if (c == '^' || c == '$') {
                /* Without the m flag: the ends of the input. Not repeatable (the
                 * next atom would see the quantifier and refuse). */
                p->i++;
                *ret = node_new(p, c == '^' ? N_BOL : N_EOL);
                return *ret ? 0 : -EINVAL;
        }
        r = parse_atom(p, &atom);
        if (r < 0)
                return r;
        if (p->i >= p->len) {
                *ret = atom;
                return 0;
        }
        c = p->s[p->i];
        if (c == '*')
                min = 0, max = 0, unbounded = true, end = p->i + 1;
        else if (c == '+')
                min = 1, max = 1, unbounded = true, end = p->i + 1;
        else if (c == '?')
                min = 0, max = 1, end = p->i + 1;
        else if (c != '{' || !parse_braces(p, p->i, &end, &min, &max, &unbounded)) {
                *ret = atom;
                return 0;
        }
        if (min > RX_REPEAT_MAX || (!unbounded && (max > RX_REPEAT_MAX || min > max)))
                return -EINVAL;
        p->i = end;
        /* Lazy or greedy: the same strings match. */
        if (p->i < p->len && p->s[p->i] == '?')
                p->i++;
        rep = node_new(p, N_REP);
        if (!rep)
                return -EINVAL;
        rep->kids = atom;
        rep->min = (unsigned)min;
        rep->max = (unsigned)max;
        rep->unbounded = unbounded;
        *ret = rep;
        return 0;
}

static int parse_seq(Parser *p, Node **ret) {
        Node *seq = node_new(p, N_SEQ), **tail;
        int r;
        if (!seq)
                return -EINVAL;
        tail = &seq->kids;
        while (p->i < p->len && p->s[p->i] != '|' && p->s[p->i] != ')') {
                r = parse_term(p, tail);
                if (r < 0)
                        return r;
                tail = &(*tail)->next;
        }
        *ret = seq;
        return 0;
}

static int parse_alt(Parser *p, Node **ret) {
        Node *alt = node_new(p, N_ALT), **tail;
        int r;
        if (!alt)
                return -EINVAL;
        tail = &alt->kids;
        for (;;) {
                r = parse_seq(p, tail);
                if (r < 0)
                        return r;
                tail = &(*tail)->next;
                if (p->i >= p->len || p->s[p->i] != '|')
                        break;
                p->i++;
        }
        *ret = alt;
        return 0;
}

/* The instructions n compiles to, or more than ECMA_REGEX_STATES_MAX (not
 * exact beyond it: the count stops growing there). */
static unsigned long node_size(const Node *n) {
        const unsigned long over = ECMA_REGEX_STATES_MAX + 1UL;
        unsigned long s = 0, k;
        switch (n->kind) {
        case N_SET:
        case N_BOL:
        case N_EOL:
                return 1;
        case N_SEQ:
        case N_ALT:
                for (const Node *c = n->kids; c; c = c->next) {
                        s += node_size(c) + (n->kind == N_ALT && c->next ? 2 : 0);
                        if (s > over)
                                return over;
                }
                return s;
        case N_REP:
                k = node_size(n->kids);
                if (k > over)
                        return over;
                /* min copies, then a loop (split, copy, jump) or max - min optional ones. */
                s = n->min * k + (n->unbounded ? k + 2 : (unsigned long)(n->max - n->min) * (k + 1));
                return s > over ? over : s;
        }
        return over;
}

static void emit(EcmaRegex *rx, const Node *n) {
        uint32_t at, jumps = UINT32_MAX;
        switch (n->kind) {
        case N_SET:
                rx->prog[rx->n++] = (Inst){ OP_SET, (uint32_t)n->set, 0 };
                return;
        case N_BOL:
        case N_EOL:
                rx->prog[rx->n++] = (Inst){ n->kind == N_BOL ? OP_BOL : OP_EOL, 0, 0 };
                return;
        case N_SEQ:
                for (const Node *c = n->kids; c; c = c->next)
                        emit(rx, c);
                return;
        case N_ALT:
                for (const Node *c = n->kids; c; c = c->next) {
                        if (!c->next) {
                                emit(rx, c);
                                break;
                        }
                        at = (uint32_t)rx->n++;
                        rx->prog[at] = (Inst){ OP_SPLIT, at + 1, 0 };
                        emit(rx, c);
                        /* The jumps to the end, chained through x until it is known. */
                        rx->prog[rx->n] = (Inst){ OP_JMP, jumps, 0 };
                        jumps = (uint32_t)rx->n++;
                        rx->prog[at].y = (uint32_t)rx->n;
                }
                while (jumps != UINT32_MAX) {
                        uint32_t prev = rx->prog[jumps].x;
                        rx->prog[jumps].x = (uint32_t)rx->n;
                        jumps = prev;
                }
                return;
        case N_REP:
                for (unsigned k = 0; k < n->min; k++)
                        emit(rx, n->kids);
                if (n->unbounded) {
                        at = (uint32_t)rx->n++;
                        rx->prog[at] = (Inst){ OP_SPLIT, at + 1, 0 };
                        emit(rx, n->kids);
                        rx->prog[rx->n++] = (Inst){ OP_JMP, at, 0 };
                        rx->prog[at].y = (uint32_t)rx->n;
                } else
                        /* x{0,3} as x?x?x?: the same strings as (x(x(x)?)?)?. */
                        for (unsigned k = n->min; k < n->max; k++) {
                                at = (uint32_t)rx->n++;
                                rx->prog[at] = (Inst){ OP_SPLIT, at + 1, 0 };
                                emit(rx, n->kids);
                                rx->prog[at].y = (uint32_t)rx->n;
                        }
                return;
        }
}

EcmaRegex *ecma_regex_free(EcmaRegex *rx) {
        if (!rx)
                return NULL;
        for (size_t k = 0; k < rx->n_sets; k++)
                free(rx->sets[k].r);
        free(rx->sets);
        free(rx->prog);
        free(rx);
        return NULL;
}

int ecma_regex_compile(const char *pattern, size_t len, EcmaRegex **ret_rx) {
        Parser p = { .s = pattern, .len = len, .cap_nodes = 4 * len + 8 };
        EcmaRegex *rx = NULL;
        unsigned long size = 0;
        Node *root = NULL;
        int r;

        if (len > ECMA_REGEX_SOURCE_MAX)
                return -EINVAL;
        p.nodes = calloc(p.cap_nodes, sizeof(*p.nodes));
        if (!p.nodes)
                return -ENOMEM;
        r = parse_alt(&p, &root);
        if (r >= 0 && p.i != len)
                r = -EINVAL; /* a ')' that opens nothing */
        if (r >= 0) {
                size = node_size(root) + 1; /* and OP_MATCH */
                if (size > ECMA_REGEX_STATES_MAX)
                        r = -EINVAL;
        }
        if (r >= 0) {
                rx = calloc(1, sizeof(*rx));
                if (rx)
                        rx->prog = calloc(size, sizeof(*rx->prog));
                if (!rx || !rx->prog)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                rx->sets = TAKE_PTR(p.sets);
                rx->n_sets = p.n_sets;
                emit(rx, root);
                rx->prog[rx->n++] = (Inst){ OP_MATCH, 0, 0 };
        }
        free(p.nodes);
        if (r < 0) {
                for (size_t k = 0; k < p.n_sets && p.sets; k++)
                        free(p.sets[k].r);
                free(p.sets);
                if (rx)
                        free(rx->prog);
                free(rx);
                return r;
        }
        *ret_rx = rx;
        return 0;
}

unsigned long ecma_regex_cost(const EcmaRegex *rx) {
        return rx->n;
}

/* The states a position can be in: a sparse set (Briggs and Torczon),
 * cleared in constant time between characters. */
typedef struct StateList {
        uint32_t *dense, *sparse;
        size_t n;
} StateList;

static bool list_has(const StateList *l, uint32_t pc) {
        return l->sparse[pc] < l->n && l->dense[l->sparse[pc]] == pc;
}

/* pc and every state reachable from it without a character (jumps,
 * splits, assertions that hold here) added to l; true when one is the
 * match. stack: room for 2n + 1 (each state pushes at most two, once). */
static bool list_add(const EcmaRegex *rx, StateList *l, uint32_t pc0, bool at_start, bool at_end,
                     uint32_t *stack) {
        size_t top = 0;
        stack[top++] = pc0;
        while (top > 0) {
                uint32_t pc = stack[--top];
                const Inst *in = &rx->prog[pc];
                if (list_has(l, pc))
                        continue;
                l->sparse[pc] = (uint32_t)l->n;
                l->dense[l->n++] = pc;
                switch (in->op) {
                case OP_MATCH:
                        return true;
                case OP_JMP:
                        stack[top++] = in->x;
                        break;
                case OP_SPLIT:
                        stack[top++] = in->y;
                        stack[top++] = in->x;
                        break;
                case OP_BOL:
                        if (at_start)
                                stack[top++] = pc + 1;
                        break;
                case OP_EOL:
                        if (at_end)
                                stack[top++] = pc + 1;
                        break;
                default:
                        break; /* OP_SET: waits for the next character */
                }
        }
        return false;
}

int ecma_regex_search(const EcmaRegex *rx, const char *text, size_t len) {
        _cleanup_(freep) uint32_t *mem = NULL;
        StateList cur, next, t;
        uint32_t *stack, c;
        size_t n = rx->n, i = 0;

        for (size_t j = 0; j < len;)
                if (utf8_next(text, len, &j, &c) < 0 || c > RX_BMP_MAX)
                        return -EDOM;
        /* Zeroed: list_has() reads sparse[] entries never written (valgrind). */
        mem = calloc(6 * n + 1, sizeof(*mem));
        if (!mem)
                return -ENOMEM;
        cur = (StateList){ mem, mem + n, 0 };
        next = (StateList){ mem + 2 * n, mem + 3 * n, 0 };
        stack = mem + 4 * n;
        for (;;) {
                /* Searched, not anchored: a match may start at every position. */
                if (list_add(rx, &cur, 0, i == 0, i == len, stack))
                        return 1;
                if (i == len)
                        return 0;
                (void)utf8_next(text, len, &i, &c);
                next.n = 0;
                for (size_t k = 0; k < cur.n; k++) {
                        const Inst *in = &rx->prog[cur.dense[k]];
                        if (in->op == OP_SET && set_has(&rx->sets[in->x], c) &&
                            list_add(rx, &next, cur.dense[k] + 1, false, i == len, stack))
                                return 1;
                }
                t = cur, cur = next, next = t;
        }
}
