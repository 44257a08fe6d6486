/* SPDX-License-Identifier: Apache-2.0 */
#include "osb-params.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecma-regex.h"
#include "json-format.h"
#include "macro.h"

static bool type_is(const json_t *v, const char *type) {
        if (!type)
                return false;
        if (streq(type, "string"))
                return json_is_string(v);
        if (streq(type, "integer"))
                /* JSON Schema: a number with no fraction is an integer, 3.0 included. */
                return json_is_integer(v) ||
                       (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
        if (streq(type, "number"))
                return json_is_number(v);
        if (streq(type, "boolean"))
                return json_is_boolean(v);
        if (streq(type, "object"))
                return json_is_object(v);
        if (streq(type, "array"))
                return json_is_array(v);
        if (streq(type, "null"))
                return json_is_null(v);
        return false;
}

/* Whether v meets "type" (absent: anything; a name or a list of names). */
static bool type_ok(const json_t *v, const json_t *type) {
        const json_t *t;
        size_t i;
        if (!type)
                return true;
        if (json_is_string(type))
                return type_is(v, json_string_value(type));
        if (!json_is_array(type))
                return true; /* not a type we can read: the provider checks it */
        json_array_foreach(type, i, t) if (type_is(v, json_string_value(t))) return true;
        return false;
}

/* "type" as the message shows it: "string" or "string or null". */
static void type_text(const json_t *type, char *buf, size_t len) {
        const json_t *t;
        size_t i, n = 0;
        buf[0] = 0;
        if (json_is_string(type)) {
                snprintf(buf, len, "%s", json_string_value(type));
                return;
        }
        json_array_foreach(type, i, t) {
                int w = snprintf(buf + n, len - n, "%s%s", i ? " or " : "", json_string_value(t) ?: "?");
                if (w < 0 || (size_t)w >= len - n)
                        break;
                n += (size_t)w;
        }
}

/* A pattern of this walk, compiled once: key is the pattern's text as the
 * schema holds it (the same pointer for the whole walk). */
typedef struct RxEntry {
        const char *key;
        EcmaRegex *rx; /* NULL: not read here, the provider checks it */
        unsigned long cost;
} RxEntry;

#define RX_CACHE 16

enum { RX_NO_MATCH, RX_MATCH, RX_UNKNOWN };

/* One walk of a document against a schema: its step budget and the path of
 * the value under check ("parameters", "parameters.a.b[2]"), grown and cut
 * back in place as the walk goes down and up. */
typedef struct Walk {
        unsigned steps;
        char path[sizeof(((CbError *)0)->field)];
        size_t len;
        CbError *err;
        const json_t *root; /* what "$ref": "#..." points into */
        bool fatal;         /* a bound was hit: the refusal stands, whatever combinator it is under */
        RxEntry cache[RX_CACHE];
        size_t cached;
} Walk;

/* A refusal naming the value under check: err->field its path, the message too. */
_printf_(2, 3) static int refuse(Walk *w, const char *fmt, ...) {
        char what[192];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return cb_error_set_field(w->err, CB_ERR_VALIDATION, w->path, "%s: %s (the provider's schema)",
                                  w->path, what);
}

/* Appends ".name" or "[i]" to the path; false when it no longer fits (the
 * path would be cut: the walk refuses rather than name the wrong field). */
static bool path_push(Walk *w, const char *name, size_t index) {
        int n = name ? snprintf(w->path + w->len, sizeof(w->path) - w->len, ".%s", name)
                     : snprintf(w->path + w->len, sizeof(w->path) - w->len, "[%zu]", index);
        if (n < 0 || (size_t)n >= sizeof(w->path) - w->len) {
                w->path[w->len] = 0;
                return false;
        }
        w->len += (size_t)n;
        return true;
}

static void path_pop(Walk *w, size_t len) {
        w->len = len;
        w->path[len] = 0;
}

/* Characters, not bytes: minLength and maxLength count code points. */
static size_t utf8_length(const char *s, size_t bytes) {
        size_t n = 0;
        for (size_t i = 0; i < bytes; i++)
                if (((unsigned char)s[i] & 0xC0) != 0x80)
                        n++;
        return n;
}

/* A keyword's number, when it is one. */
static bool number_of(const json_t *schema, const char *key, double *ret) {
        const json_t *n = json_object_get(schema, key);
        if (!json_is_number(n))
                return false;
        *ret = json_number_value(n);
        return true;
}

static bool count_of(const json_t *schema, const char *key, size_t *ret) {
        const json_t *n = json_object_get(schema, key);
        if (!json_is_integer(n) || json_integer_value(n) < 0)
                return false;
        *ret = (size_t)json_integer_value(n);
        return true;
}

static int check_value(Walk *w, const json_t *v, const json_t *schema, unsigned depth, unsigned hops);
static int matches(Walk *w, const json_t *v, const json_t *schema, unsigned depth, unsigned hops,
                   bool *ret_match);

/* n more steps of the budget: a value checked, an enum entry compared, a
 * required name looked up, a pattern run. Past it the walk refuses, so that
 * no schema and document pair costs more than OSB_PARAMS_MAX_STEPS of them. */
static int spend(Walk *w, size_t n) {
        if (n > OSB_PARAMS_MAX_STEPS || (w->steps += (unsigned)n) > OSB_PARAMS_MAX_STEPS) {
                w->fatal = true;
                return cb_error_set_field(w->err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: too much to check against the provider's schema "
                                          "(%d steps at most)",
                                          OSB_PARAMS_MAX_STEPS);
        }
        return 0;
}

/* Whether text (len bytes) matches the pattern: RX_MATCH, RX_NO_MATCH or
 * RX_UNKNOWN (a pattern not read here, or text with a character beyond
 * U+FFFF) into *ret; <0 when the budget ran out. A compile costs a step per
 * 16 bytes and per 16 states, a search a step per 128 (byte, state) pairs:
 * an upper bound of the automaton's work, which is linear in the text.
 * Measured with every state live ((a|b){0,800}c, 4002 states, over 1500
 * bytes): 5 ns a pair, 0.7 us a step, so the whole budget spent on
 * patterns stays under a tenth of a second. */
static int pattern_test(Walk *w, const char *pattern, const char *text, size_t len, int *ret) {
        RxEntry one = { .key = pattern }, *e = NULL;
        int q, r;

        for (size_t k = 0; k < w->cached; k++)
                if (w->cache[k].key == pattern)
                        e = &w->cache[k];
        if (!e) {
                size_t plen = strlen(pattern);

                e = w->cached < RX_CACHE ? &w->cache[w->cached++] : &one;
                *e = (RxEntry){ .key = pattern };
                q = spend(w, 1 + plen / 16);
                if (q < 0)
                        return q;
                q = ecma_regex_compile(pattern, plen, &e->rx);
                if (q == -ENOMEM)
                        return cb_error_set(w->err, CB_ERR_INTERNAL, "out of memory");
                if (q >= 0) {
                        e->cost = ecma_regex_cost(e->rx);
                        q = spend(w, e->cost / 16);
                        if (q < 0) {
                                one.rx = ecma_regex_free(one.rx);
                                return q;
                        }
                }
        }
        r = RX_UNKNOWN;
        if (e->rx) {
                q = spend(w, 1 + (len * e->cost) / 128);
                if (q >= 0) {
                        q = ecma_regex_search(e->rx, text, len);
                        if (q == -ENOMEM)
                                q = cb_error_set(w->err, CB_ERR_INTERNAL, "out of memory");
                        else if (q >= 0)
                                r = q ? RX_MATCH : RX_NO_MATCH;
                        else
                                q = 0; /* -EDOM: not judged here */
                }
                if (q < 0) {
                        one.rx = ecma_regex_free(one.rx);
                        return q;
                }
        }
        one.rx = ecma_regex_free(one.rx);
        *ret = r;
        return 0;
}

static void walk_done(Walk *w) {
        for (size_t k = 0; k < w->cached; k++)
                w->cache[k].rx = ecma_regex_free(w->cache[k].rx);
        w->cached = 0;
}

/* JSON Schema equality: numbers by value (1 and 1.0 are the same), members
 * in any order. *nodes counts what was compared, for the budget. */
static bool values_equal(const json_t *a, const json_t *b, size_t *nodes) {
        const json_t *m;
        const char *k;
        size_t i;

        (*nodes)++;
        if (json_is_number(a) && json_is_number(b)) {
                if (json_is_integer(a) && json_is_integer(b))
                        return json_integer_value(a) == json_integer_value(b);
                return json_number_value(a) == json_number_value(b);
        }
        if (json_typeof(a) != json_typeof(b))
                return false;
        switch (json_typeof(a)) {
        case JSON_STRING:
                return json_string_length(a) == json_string_length(b) &&
                       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
        case JSON_ARRAY:
                if (json_array_size(a) != json_array_size(b))
                        return false;
                json_array_foreach(a, i, m) if (!values_equal(m, json_array_get(b, i), nodes)) return false;
                return true;
        case JSON_OBJECT:
                if (json_object_size(a) != json_object_size(b))
                        return false;
                json_object_foreach((json_t *)a, k, m) {
                        const json_t *o = json_object_get(b, k);
                        if (!o || !values_equal(m, o, nodes))
                                return false;
                }
                return true;
        default: /* true, false, null: the type says it all */
                return true;
        }
}

/* Whether v is equal to one of the n values at values (an array) or to
 * the one value (values not an array), into *ret. */
static int equal_to_any(Walk *w, const json_t *v, const json_t *values, bool *ret) {
        const json_t *e;
        size_t i, nodes = 0;
        bool found = false;
        int q;
        if (!json_is_array(values))
                found = values_equal(v, values, &nodes);
        else
                json_array_foreach(values, i, e) if (values_equal(v, e, &nodes)) {
                        found = true;
                        break;
                }
        q = spend(w, nodes);
        if (q < 0)
                return q;
        *ret = found;
        return 0;
}

/* A local JSON pointer ("#", "#/definitions/a", "#/a~1b/0", percent-encoded
 * as a URI fragment) into the root schema: what it points to, or NULL when
 * it is not local or does not resolve. */
static const json_t *ref_resolve(const json_t *root, const char *ref) {
        char frag[1024], token[1024];
        size_t n = 0, i;
        const json_t *at = root;

        if (ref[0] != '#')
                return NULL; /* another document: not fetched here */
        for (i = 1; ref[i]; i++) {
                int c = (unsigned char)ref[i];
                if (c == '%') {
                        int h = unhexchar(ref[i + 1]), l = h < 0 ? -1 : unhexchar(ref[i + 2]);
                        if (l < 0)
                                return NULL;
                        c = h * 16 + l;
                        i += 2;
                }
                if (c == 0 || n + 1 >= sizeof(frag))
                        return NULL;
                frag[n++] = (char)c;
        }
        frag[n] = 0;
        if (n == 0)
                return root;
        if (frag[0] != '/')
                return NULL; /* "#name": a location-independent id, not looked up */
        for (i = 0; frag[i] == '/';) {
                size_t t = 0;
                for (i++; frag[i] && frag[i] != '/'; i++) {
                        char c = frag[i];
                        if (c == '~') {
                                if (frag[i + 1] == '0')
                                        c = '~';
                                else if (frag[i + 1] == '1')
                                        c = '/';
                                else
                                        return NULL;
                                i++;
                        }
                        token[t++] = c;
                }
                token[t] = 0;
                if (json_is_object(at))
                        at = json_object_get(at, token);
                else if (json_is_array(at)) {
                        char *end;
                        unsigned long k;
                        if (!token[0] || (token[0] == '0' && token[1]) || token[0] < '0' || token[0] > '9')
                                return NULL;
                        k = strtoul(token, &end, 10);
                        at = *end ? NULL : json_array_get(at, k);
                } else
                        return NULL;
                if (!at)
                        return NULL;
        }
        return at;
}

static int check_member(Walk *w, const json_t *v, const json_t *schema, const char *name, size_t index,
                        unsigned depth) {
        size_t len = w->len;
        int q;
        if (!path_push(w, name, index)) {
                w->fatal = true;
                return cb_error_set_field(
                        w->err, CB_ERR_VALIDATION, "parameters",
                        "parameters: nested too deep to name a field (%zu characters at most)",
                        sizeof(w->path) - 1);
        }
        q = check_value(w, v, schema, depth + 1, 0);
        if (q >= 0)
                path_pop(w, len);
        return q;
}

/* propertyNames (draft 6): the member's name, as a string, meets the
 * schema; a refusal names the member and says it is its name. */
static int check_name(Walk *w, const char *name, const json_t *schema, unsigned depth) {
        json_t *text = json_string(name);
        int q;
        if (!text)
                return cb_error_set(w->err, CB_ERR_INTERNAL, "out of memory");
        q = check_member(w, text, schema, name, 0, depth);
        json_decref(text);
        if (q < 0 && !w->fatal && w->err && w->err->kind == CB_ERR_VALIDATION) {
                size_t l = strlen(w->err->message);
                snprintf(w->err->message + l, sizeof(w->err->message) - l,
                         " (the member's name, propertyNames)");
        }
        return q;
}

static int check_object(Walk *w, const json_t *v, const json_t *schema, unsigned depth) {
        const json_t *props = json_object_get(schema, "properties"), *extra, *name, *m;
        const json_t *pprops = json_object_get(schema, "patternProperties"), *ps, *names;
        const char *k, *pk;
        size_t i, n;
        int q;

        q = spend(w, json_array_size(json_object_get(schema, "required")));
        if (q < 0)
                return q;
        json_array_foreach(json_object_get(schema, "required"), i, name) {
                const char *rn = json_string_value(name);
                size_t len = w->len;
                if (!rn || json_object_get(v, rn))
                        continue;
                if (!path_push(w, rn, 0))
                        return refuse(w, "a required member is missing");
                q = refuse(w, "required");
                path_pop(w, len);
                return q;
        }
        extra = json_object_get(schema, "additionalProperties");
        names = json_object_get(schema, "propertyNames");
        json_object_foreach((json_t *)v, k, m) {
                const json_t *p = json_is_object(props) ? json_object_get(props, k) : NULL;
                bool described = p != NULL, unknown = false;

                if (json_is_object(names) || json_is_boolean(names)) {
                        q = check_name(w, k, names, depth);
                        if (q < 0)
                                return q;
                }
                if (p) {
                        q = check_member(w, m, p, k, 0, depth);
                        if (q < 0)
                                return q;
                }
                /* Every pattern the name matches applies too, besides "properties". */
                if (json_is_object(pprops))
                        json_object_foreach((json_t *)pprops, pk, ps) {
                                int r;
                                q = pattern_test(w, pk, k, strlen(k), &r);
                                if (q < 0)
                                        return q;
                                if (r == RX_UNKNOWN)
                                        unknown = true;
                                if (r != RX_MATCH)
                                        continue;
                                described = true;
                                q = check_member(w, m, ps, k, 0, depth);
                                if (q < 0)
                                        return q;
                        }
                /* additionalProperties is for the members neither names: one a
                 * pattern we cannot run might name is left to the provider. */
                if (described || unknown)
                        continue;
                if (json_is_false(extra)) {
                        size_t len = w->len;
                        if (!path_push(w, k, 0))
                                return refuse(w, "a member is not one this plan takes");
                        q = refuse(w, "not a parameter this plan takes");
                        path_pop(w, len);
                        return q;
                }
                if (json_is_object(extra)) {
                        q = check_member(w, m, extra, k, 0, depth);
                        if (q < 0)
                                return q;
                }
        }
        if (count_of(schema, "minProperties", &n) && json_object_size(v) < n)
                return refuse(w, "has fewer than %zu members (minProperties)", n);
        if (count_of(schema, "maxProperties", &n) && json_object_size(v) > n)
                return refuse(w, "has more than %zu members (maxProperties)", n);
        return 0;
}

/* A copy of v in which a real with no fraction (within 2^53, where a double
 * is exact) is an integer, so that 1 and 1.0 dump alike: NULL when out of
 * memory. */
static json_t *canonical_copy(const json_t *v) {
        const json_t *m;
        const char *k;
        json_t *c;
        size_t i;

        switch (json_typeof(v)) {
        case JSON_REAL: {
                double d = json_real_value(v);
                if (d == floor(d) && fabs(d) <= 9007199254740992.0)
                        return json_integer((json_int_t)d);
                return json_real(d);
        }
        case JSON_ARRAY:
                c = json_array();
                json_array_foreach(v, i, m) if (!c || json_array_append_new(c, canonical_copy(m)) < 0) {
                        json_decref(c);
                        return NULL;
                }
                return c;
        case JSON_OBJECT:
                c = json_object();
                json_object_foreach((json_t *)v, k,
                                    m) if (!c || json_object_set_new(c, k, canonical_copy(m)) < 0) {
                        json_decref(c);
                        return NULL;
                }
                return c;
        default:
                return json_deep_copy(v);
        }
}

typedef struct UniqueItem {
        char *text;
        size_t index;
} UniqueItem;

static int unique_cmp(const void *a, const void *b) {
        const UniqueItem *x = a, *y = b;
        int c = strcmp(x->text, y->text);
        return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* uniqueItems in O(n log n): the items' canonical texts sorted, and each run
 * of equal texts confirmed with values_equal (the one definition of equal
 * here), so that a long array of distinct items is never refused for the
 * cost of comparing every pair. The texts' bytes are paid in steps. */
static int check_unique(Walk *w, const json_t *v) {
        size_t n = json_array_size(v), bytes = 0, i, j;
        UniqueItem *items;
        int q = 0;

        if (n < 2)
                return 0;
        items = calloc(n, sizeof(*items));
        if (!items)
                return cb_error_set(w->err, CB_ERR_INTERNAL, "out of memory");
        for (i = 0; i < n && q >= 0; i++) {
                json_t *c = canonical_copy(json_array_get(v, i));
                items[i].index = i;
                items[i].text = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
                json_decref(c);
                if (!items[i].text)
                        q = cb_error_set(w->err, CB_ERR_INTERNAL, "out of memory");
                else
                        bytes += strlen(items[i].text);
        }
        if (q >= 0)
                q = spend(w, bytes / 8 + n);
        if (q >= 0)
                qsort(items, n, sizeof(*items), unique_cmp);
        for (i = 0; q >= 0 && i + 1 < n; i++)
                for (j = i + 1; q >= 0 && j < n && streq(items[i].text, items[j].text); j++) {
                        /* Sorted by index within a run: a < b. */
                        size_t nodes = 0, a = items[i].index, b = items[j].index;
                        bool same = values_equal(json_array_get(v, a), json_array_get(v, b), &nodes);
                        q = spend(w, nodes);
                        if (q >= 0 && same)
                                q = refuse(w, "items %zu and %zu are equal (uniqueItems)", a, b);
                }
        for (i = 0; i < n; i++)
                free(items[i].text);
        free(items);
        return q;
}

/* contains (draft 6), with minContains/maxContains (2019-09): how many
 * items meet the schema; at least one unless minContains says otherwise. */
static int check_contains(Walk *w, const json_t *v, const json_t *schema, unsigned depth) {
        const json_t *s = json_object_get(schema, "contains"), *e;
        size_t i, matched = 0, least = 1, most = SIZE_MAX;
        bool match;
        int q;

        if (!json_is_object(s) && !json_is_boolean(s))
                return 0;
        count_of(schema, "minContains", &least);
        count_of(schema, "maxContains", &most);
        json_array_foreach(v, i, e) {
                size_t len = w->len;
                if (!path_push(w, NULL, i))
                        return refuse(w, "has items nested too deep to name (contains)");
                q = matches(w, e, s, depth + 1, 0, &match);
                path_pop(w, len);
                if (q < 0)
                        return q;
                matched += match;
        }
        if (matched < least)
                return least == 1 ? refuse(w, "has no item that meets the schema's contains (contains)")
                                  : refuse(w,
                                           "has %zu items that meet the schema's contains, at least %zu "
                                           "wanted (minContains)",
                                           matched, least);
        if (matched > most)
                return refuse(
                        w, "has %zu items that meet the schema's contains, at most %zu wanted (maxContains)",
                        matched, most);
        return 0;
}

static int check_array(Walk *w, const json_t *v, const json_t *schema, unsigned depth) {
        const json_t *items = json_object_get(schema, "items"), *e;
        size_t i, n;
        int q;

        if (count_of(schema, "minItems", &n) && json_array_size(v) < n)
                return refuse(w, "has fewer than %zu items (minItems)", n);
        if (count_of(schema, "maxItems", &n) && json_array_size(v) > n)
                return refuse(w, "has more than %zu items (maxItems)", n);
        if (json_is_true(json_object_get(schema, "uniqueItems"))) {
                q = check_unique(w, v);
                if (q < 0)
                        return q;
        }
        json_array_foreach(v, i, e) {
                /* items: one schema for all, or (draft 4 tuples) one a position, and
                 * additionalItems for the positions the tuple does not list. */
                const json_t *s = items;
                if (json_is_array(items) && i >= json_array_size(items)) {
                        s = json_object_get(schema, "additionalItems");
                        if (json_is_false(s)) {
                                size_t len = w->len;
                                if (!path_push(w, NULL, i))
                                        return refuse(
                                                w, "has more items than the schema lists (additionalItems)");
                                q = refuse(w, "beyond the %zu items the schema lists (additionalItems)",
                                           json_array_size(items));
                                path_pop(w, len);
                                return q;
                        }
                } else if (json_is_array(items))
                        s = json_array_get(items, i);
                if (!json_is_object(s) && !json_is_false(s))
                        continue;
                q = check_member(w, e, s, NULL, i, depth);
                if (q < 0)
                        return q;
        }
        return check_contains(w, v, schema, depth);
}

/* multipleOf: whether x is a whole number of d (> 0) times. Reals are
 * decimal in the schema and binary here (0.3 / 0.1 is 2.9999999999999996):
 * a quotient within a relative 1e-9 of a whole number counts as one, and
 * one too large to have a fraction in a double passes, since refusing what
 * the provider would take is worse than letting it answer. */
static bool multiple_of(const json_t *v, const json_t *d) {
        double q, r;
        if (json_is_integer(v) && json_is_integer(d))
                return json_integer_value(v) % json_integer_value(d) == 0;
        q = json_number_value(v) / json_number_value(d);
        if (!isfinite(q) || fabs(q) >= 9007199254740992.0)
                return true;
        r = fabs(q - nearbyint(q));
        return r <= 1e-9 * fmax(1.0, fabs(q));
}

/* The keywords of schema that look at v alone, not into it nor through
 * other schemas: type, enum, const, the bounds, pattern. Its own frame, so
 * that the buffers here are not on the stack of every level the walk goes
 * down. */
static int check_local(Walk *w, const json_t *v, const json_t *schema) {
        const json_t *type, *values, *d;
        char types[96];
        double x;
        size_t n;
        bool found;
        int q;

        type = json_object_get(schema, "type");
        if (!type_ok(v, type)) {
                type_text(type, types, sizeof(types));
                return refuse(w, "must be of type %s", types);
        }
        values = json_object_get(schema, "enum");
        if (json_is_array(values)) {
                q = equal_to_any(w, v, values, &found);
                if (q < 0)
                        return q;
                if (!found)
                        return refuse(w, "not one of the values the schema lists (enum)");
        }
        if (json_object_get(schema, "const")) {
                q = equal_to_any(w, v, json_object_get(schema, "const"), &found);
                if (q < 0)
                        return q;
                if (!found)
                        return refuse(w, "not the value the schema fixes (const)");
        }
        if (json_is_number(v)) {
                double y = json_number_value(v);
                /* Draft 4: a boolean exclusiveMinimum/Maximum makes minimum/maximum strict. */
                bool xmin = json_is_true(json_object_get(schema, "exclusiveMinimum")),
                     xmax = json_is_true(json_object_get(schema, "exclusiveMaximum"));
                if (number_of(schema, "minimum", &x) && (xmin ? y <= x : y < x))
                        return xmin ? refuse(w, "not more than the minimum %g (exclusiveMinimum)", x)
                                    : refuse(w, "less than the minimum %g", x);
                if (number_of(schema, "maximum", &x) && (xmax ? y >= x : y > x))
                        return xmax ? refuse(w, "not less than the maximum %g (exclusiveMaximum)", x)
                                    : refuse(w, "more than the maximum %g", x);
                /* Draft 6 and later: the exclusive bounds are numbers of their own. */
                if (number_of(schema, "exclusiveMinimum", &x) && y <= x)
                        return refuse(w, "not more than the exclusive minimum %g", x);
                if (number_of(schema, "exclusiveMaximum", &x) && y >= x)
                        return refuse(w, "not less than the exclusive maximum %g", x);
                d = json_object_get(schema, "multipleOf");
                if (json_is_number(d) && json_number_value(d) > 0 && isfinite(json_number_value(d)) &&
                    !multiple_of(v, d))
                        return refuse(w, "not a multiple of %g (multipleOf)", json_number_value(d));
        }
        if (json_is_string(v)) {
                const json_t *pattern = json_object_get(schema, "pattern");
                size_t chars = utf8_length(json_string_value(v), json_string_length(v));
                int r;
                if (count_of(schema, "minLength", &n) && chars < n)
                        return refuse(w, "shorter than %zu characters (minLength)", n);
                if (count_of(schema, "maxLength", &n) && chars > n)
                        return refuse(w, "longer than %zu characters (maxLength)", n);
                /* A pattern with a NUL in it: its text is cut there, so not read. */
                if (json_is_string(pattern) &&
                    strlen(json_string_value(pattern)) == json_string_length(pattern)) {
                        q = pattern_test(w, json_string_value(pattern), json_string_value(v),
                                         json_string_length(v), &r);
                        if (q < 0)
                                return q;
                        if (r == RX_NO_MATCH)
                                return refuse(w, "does not match the schema's pattern (pattern)");
                }
                /* A format not read there is the provider's to judge. */
                d = json_object_get(schema, "format");
                if (json_is_string(d)) {
                        q = spend(w, 1 + json_string_length(v) / 64);
                        if (q < 0)
                                return q;
                        if (json_format_check(json_string_value(d), json_string_value(v),
                                              json_string_length(v)) == JSON_FORMAT_BAD)
                                return refuse(w, "not %s (format)",
                                              json_format_describe(json_string_value(d)));
                }
        }
        return 0;
}

/* Whether v meets schema, one alternative of anyOf/oneOf/not: a mismatch
 * is an answer (*ret_match false), not a refusal, and leaves the error and
 * the path as they were; a bound hit (w->fatal) is a refusal all the same. */
static int matches(Walk *w, const json_t *v, const json_t *schema, unsigned depth, unsigned hops,
                   bool *ret_match) {
        CbError scratch = CB_ERROR_INIT, *outer = w->err;
        size_t len = w->len;
        int q;

        w->err = &scratch;
        q = check_value(w, v, schema, depth, hops);
        w->err = outer;
        if (q < 0 && (w->fatal || scratch.kind != CB_ERR_VALIDATION)) {
                if (outer)
                        *outer = scratch;
                return q;
        }
        path_pop(w, len);
        *ret_match = q >= 0;
        return 0;
}

static int check_alternative(Walk *w, const json_t *v, const json_t *schema, unsigned depth, unsigned hops,
                             bool *ret_match) {
        return matches(w, v, schema, depth, hops + 1, ret_match);
}

/* if/then/else (draft 7): whether v meets "if" picks the schema it must
 * meet next; "if" alone asks nothing. */
static int check_conditional(Walk *w, const json_t *v, const json_t *schema, unsigned depth, unsigned hops) {
        const json_t *cond = json_object_get(schema, "if"), *branch;
        bool match;
        int q;

        if (!json_is_object(cond) && !json_is_boolean(cond))
                return 0;
        q = check_alternative(w, v, cond, depth, hops, &match);
        if (q < 0)
                return q;
        branch = json_object_get(schema, match ? "then" : "else");
        if (!json_is_object(branch) && !json_is_boolean(branch))
                return 0;
        q = check_value(w, v, branch, depth, hops + 1);
        if (q < 0 && !w->fatal && w->err && w->err->kind == CB_ERR_VALIDATION) {
                size_t l = strlen(w->err->message);
                snprintf(w->err->message + l, sizeof(w->err->message) - l,
                         match ? " (then: the value meets the schema's if)"
                               : " (else: the value does not meet the schema's if)");
        }
        return q;
}

/* allOf, anyOf, oneOf, not. */
static int check_combinators(Walk *w, const json_t *v, const json_t *schema, unsigned depth, unsigned hops) {
        const json_t *list, *s;
        size_t i, matched;
        bool match;
        int q;

        json_array_foreach(json_object_get(schema, "allOf"), i, s) {
                q = check_value(w, v, s, depth, hops + 1);
                if (q < 0) {
                        /* The inner message names the path and keyword; say where it came from. */
                        if (!w->fatal && w->err && w->err->kind == CB_ERR_VALIDATION) {
                                size_t l = strlen(w->err->message);
                                snprintf(w->err->message + l, sizeof(w->err->message) - l,
                                         " (allOf entry %zu)", i);
                        }
                        return q;
                }
        }
        list = json_object_get(schema, "anyOf");
        if (json_is_array(list) && json_array_size(list) > 0) {
                match = false;
                json_array_foreach(list, i, s) {
                        q = check_alternative(w, v, s, depth, hops, &match);
                        if (q < 0)
                                return q;
                        if (match)
                                break;
                }
                if (!match)
                        return refuse(w, "matches none of the %zu alternatives (anyOf)",
                                      json_array_size(list));
        }
        list = json_object_get(schema, "oneOf");
        if (json_is_array(list) && json_array_size(list) > 0) {
                matched = 0;
                json_array_foreach(list, i, s) {
                        q = check_alternative(w, v, s, depth, hops, &match);
                        if (q < 0)
                                return q;
                        matched += match;
                }
                if (matched != 1)
                        return refuse(w, "matches %zu of the %zu alternatives, exactly one wanted (oneOf)",
                                      matched, json_array_size(list));
        }
        s = json_object_get(schema, "not");
        if (json_is_object(s)) {
                q = check_alternative(w, v, s, depth, hops, &match);
                if (q < 0)
                        return q;
                if (match)
                        return refuse(w, "matches the schema it must not (not)");
        }
        return 0;
}

/* "dependencies" (draft 4) and its two later halves, "dependentRequired"
 * and "dependentSchemas": a member that is there brings names that must be
 * there too, or a schema the whole object must meet (at this value, so it
 * counts as a hop). */
static int check_dependencies(Walk *w, const json_t *v, const json_t *schema, unsigned depth, unsigned hops) {
        static const char *const keywords[] = { "dependencies", "dependentRequired", "dependentSchemas" };
        for (size_t kw = 0; kw < ELEMENTSOF(keywords); kw++) {
                const json_t *deps = json_object_get(schema, keywords[kw]), *d, *name;
                const char *k;
                size_t i;
                int q;

                if (!json_is_object(deps))
                        continue;
                json_object_foreach((json_t *)deps, k, d) {
                        q = spend(w, 1 + json_array_size(d));
                        if (q < 0)
                                return q;
                        if (!json_object_get(v, k))
                                continue;
                        if (json_is_array(d) && kw != 2)
                                json_array_foreach(d, i, name) {
                                        const char *rn = json_string_value(name);
                                        size_t len = w->len;
                                        if (!rn || json_object_get(v, rn))
                                                continue;
                                        if (!path_push(w, rn, 0))
                                                return refuse(w, "a member another one needs is missing (%s)",
                                                              keywords[kw]);
                                        q = refuse(w, "required with member '%s' (%s)", k, keywords[kw]);
                                        path_pop(w, len);
                                        return q;
                                }
                        else if (json_is_object(d) && kw != 1) {
                                q = check_value(w, v, d, depth, hops + 1);
                                if (q < 0) {
                                        if (!w->fatal && w->err && w->err->kind == CB_ERR_VALIDATION) {
                                                size_t l = strlen(w->err->message);
                                                snprintf(w->err->message + l, sizeof(w->err->message) - l,
                                                         " (%s of member '%s')", keywords[kw], k);
                                        }
                                        return q;
                                }
                        }
                }
        }
        return 0;
}

/* depth: how many values down from the parameters; hops: how many schemas
 * ($ref, allOf, anyOf, oneOf, not) the walk went through at this value
 * without going down. Both are bounded, so a schema that refers to itself
 * ends, and the stack holds at most (DEPTH + 1) * (DEPTH + 2) levels. */
static int check_value(Walk *w, const json_t *v, const json_t *schema, unsigned depth, unsigned hops) {
        const json_t *ref;
        int q;

        /* Draft 6's boolean schemas: true takes anything, false nothing. */
        if (json_is_false(schema))
                return refuse(w, "allowed by no schema here (false)");
        if (!json_is_object(schema))
                return 0; /* none, or not one we can read: the provider checks it */
        q = spend(w, 1 + json_array_size(json_object_get(schema, "enum")));
        if (q < 0)
                return q;
        if (depth > OSB_PARAMS_MAX_DEPTH) {
                w->fatal = true;
                return refuse(w, "nested deeper than %d levels", OSB_PARAMS_MAX_DEPTH);
        }
        if (hops > OSB_PARAMS_MAX_DEPTH) {
                w->fatal = true;
                return refuse(w,
                              "the schema goes through more than %d references or combinators at one value",
                              OSB_PARAMS_MAX_DEPTH);
        }
        ref = json_object_get(schema, "$ref");
        if (json_is_string(ref)) {
                /* Draft 4: an object with "$ref" is that reference, its other members are ignored. */
                const json_t *target = ref_resolve(w->root, json_string_value(ref));
                q = spend(w, 1 + json_string_length(ref) / 16);
                if (q < 0)
                        return q;
                if (!target)
                        return 0; /* remote or dangling: the provider checks it */
                return check_value(w, v, target, depth, hops + 1);
        }
        q = check_local(w, v, schema);
        if (q < 0)
                return q;
        if (json_is_object(v)) {
                q = check_object(w, v, schema, depth);
                if (q >= 0)
                        q = check_dependencies(w, v, schema, depth, hops);
        } else if (json_is_array(v))
                q = check_array(w, v, schema, depth);
        if (q < 0)
                return q;
        q = check_combinators(w, v, schema, depth, hops);
        if (q < 0)
                return q;
        return check_conditional(w, v, schema, depth, hops);
}

int osb_params_check(const json_t *params, const json_t *schema, CbError *err) {
        const json_t *type;
        _cleanup_(freep) Walk *w = NULL;
        char *text;
        char types[96];
        size_t len;
        int q;

        if (!json_is_object(params))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: must be a JSON object");
        text = json_dumps(params, JSON_COMPACT);
        if (!text)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        len = strlen(text);
        explicit_bzero(text, len);
        free(text);
        if (len > OSB_PARAMS_MAX_BYTES)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: %zu bytes, at most %d", len, OSB_PARAMS_MAX_BYTES);
        if (!json_is_object(schema))
                return 0;
        type = json_object_get(schema, "type");
        if (!json_is_string(json_object_get(schema, "$ref")) && !type_ok(params, type)) {
                type_text(type, types, sizeof(types));
                return cb_error_set_field(err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: the provider's schema wants %s", types);
        }
        /* On the heap: the pattern cache is a few kilobytes. */
        w = calloc(1, sizeof(*w));
        if (!w)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        w->len = strlen("parameters");
        w->err = err;
        w->root = schema;
        snprintf(w->path, sizeof(w->path), "parameters");
        q = check_value(w, params, schema, 0, 0);
        walk_done(w);
        return q;
}

const json_t *osb_plan_params_schema_for(const json_t *plan, const char *what, const char *action) {
        const json_t *s = json_object_get(json_object_get(json_object_get(plan, "schemas"), what), action);
        s = json_object_get(s, "parameters");
        return json_is_object(s) ? s : NULL;
}

const json_t *osb_plan_params_schema(const json_t *plan, const char *what) {
        return osb_plan_params_schema_for(plan, what, "create");
}
