/* SPDX-License-Identifier: Apache-2.0 */
#include "osb-params.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static bool in_enum(const json_t *v, const json_t *values) {
        const json_t *e;
        size_t i;
        json_array_foreach(values, i, e) if (json_equal((json_t *)v, (json_t *)e)) return true;
        return false;
}

/* One walk of a document against a schema: its step budget and the path of
 * the value under check ("parameters", "parameters.a.b[2]"), grown and cut
 * back in place as the walk goes down and up. */
typedef struct Walk {
        unsigned steps;
        char path[sizeof(((CbError *)0)->field)];
        size_t len;
        CbError *err;
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

static int check_value(Walk *w, const json_t *v, const json_t *schema, unsigned depth);

/* n more steps of the budget: a value checked, an enum entry compared, a
 * required name looked up. Past it the walk refuses, so that no schema and
 * document pair costs more than OSB_PARAMS_MAX_STEPS of them. */
static int spend(Walk *w, size_t n) {
        if (n > OSB_PARAMS_MAX_STEPS || (w->steps += (unsigned)n) > OSB_PARAMS_MAX_STEPS)
                return cb_error_set_field(w->err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: too much to check against the provider's schema "
                                          "(%d steps at most)",
                                          OSB_PARAMS_MAX_STEPS);
        return 0;
}

static int check_member(Walk *w, const json_t *v, const json_t *schema, const char *name, size_t index,
                        unsigned depth) {
        size_t len = w->len;
        int q;
        if (!path_push(w, name, index))
                return cb_error_set_field(
                        w->err, CB_ERR_VALIDATION, "parameters",
                        "parameters: nested too deep to name a field (%zu characters at most)",
                        sizeof(w->path) - 1);
        q = check_value(w, v, schema, depth + 1);
        if (q >= 0)
                path_pop(w, len);
        return q;
}

static int check_object(Walk *w, const json_t *v, const json_t *schema, unsigned depth) {
        const json_t *props = json_object_get(schema, "properties"), *extra, *name, *m;
        const char *k;
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
        json_object_foreach((json_t *)v, k, m) {
                const json_t *p = json_is_object(props) ? json_object_get(props, k) : NULL;
                if (!p && json_is_false(extra)) {
                        size_t len = w->len;
                        if (!path_push(w, k, 0))
                                return refuse(w, "a member is not one this plan takes");
                        q = refuse(w, "not a parameter this plan takes");
                        path_pop(w, len);
                        return q;
                }
                q = check_member(w, m, p ?: (json_is_object(extra) ? extra : NULL), k, 0, depth);
                if (q < 0)
                        return q;
        }
        if (count_of(schema, "minProperties", &n) && json_object_size(v) < n)
                return refuse(w, "has fewer than %zu members (minProperties)", n);
        if (count_of(schema, "maxProperties", &n) && json_object_size(v) > n)
                return refuse(w, "has more than %zu members (maxProperties)", n);
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
        json_array_foreach(v, i, e) {
                /* items: one schema for all, or (draft 4 tuples) one a position. */
                const json_t *s = json_is_array(items) ? json_array_get(items, i) : items;
                if (!json_is_object(s))
                        continue;
                q = check_member(w, e, s, NULL, i, depth);
                if (q < 0)
                        return q;
        }
        return 0;
}

static int check_value(Walk *w, const json_t *v, const json_t *schema, unsigned depth) {
        const json_t *type;
        char types[96];
        double x;
        size_t n;
        int q;

        if (!json_is_object(schema))
                return 0; /* none, or not one we can read: the provider checks it */
        q = spend(w, 1 + json_array_size(json_object_get(schema, "enum")));
        if (q < 0)
                return q;
        if (depth > OSB_PARAMS_MAX_DEPTH)
                return refuse(w, "nested deeper than %d levels", OSB_PARAMS_MAX_DEPTH);
        type = json_object_get(schema, "type");
        if (!type_ok(v, type)) {
                type_text(type, types, sizeof(types));
                return refuse(w, "must be of type %s", types);
        }
        if (json_is_array(json_object_get(schema, "enum")) && !in_enum(v, json_object_get(schema, "enum")))
                return refuse(w, "not one of the values the schema lists (enum)");
        if (json_is_number(v)) {
                if (number_of(schema, "minimum", &x) && json_number_value(v) < x)
                        return refuse(w, "less than the minimum %g", x);
                if (number_of(schema, "maximum", &x) && json_number_value(v) > x)
                        return refuse(w, "more than the maximum %g", x);
                /* Draft 6 and later: the exclusive bounds are numbers of their own. */
                if (number_of(schema, "exclusiveMinimum", &x) && json_number_value(v) <= x)
                        return refuse(w, "not more than the exclusive minimum %g", x);
                if (number_of(schema, "exclusiveMaximum", &x) && json_number_value(v) >= x)
                        return refuse(w, "not less than the exclusive maximum %g", x);
        }
        if (json_is_string(v)) {
                size_t chars = utf8_length(json_string_value(v), json_string_length(v));
                if (count_of(schema, "minLength", &n) && chars < n)
                        return refuse(w, "shorter than %zu characters (minLength)", n);
                if (count_of(schema, "maxLength", &n) && chars > n)
                        return refuse(w, "longer than %zu characters (maxLength)", n);
        }
        if (json_is_object(v))
                return check_object(w, v, schema, depth);
        if (json_is_array(v))
                return check_array(w, v, schema, depth);
        return 0;
}

int osb_params_check(const json_t *params, const json_t *schema, CbError *err) {
        const json_t *type;
        Walk w = { .len = strlen("parameters"), .err = err };
        char *text;
        char types[96];
        size_t len;

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
        if (!type_ok(params, type)) {
                type_text(type, types, sizeof(types));
                return cb_error_set_field(err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: the provider's schema wants %s", types);
        }
        snprintf(w.path, sizeof(w.path), "parameters");
        return check_value(&w, params, schema, 0);
}

const json_t *osb_plan_params_schema_for(const json_t *plan, const char *what, const char *action) {
        const json_t *s = json_object_get(json_object_get(json_object_get(plan, "schemas"), what), action);
        s = json_object_get(s, "parameters");
        return json_is_object(s) ? s : NULL;
}

const json_t *osb_plan_params_schema(const json_t *plan, const char *what) {
        return osb_plan_params_schema_for(plan, what, "create");
}
