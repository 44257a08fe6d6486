/* SPDX-License-Identifier: Apache-2.0 */
#include "osb-params.h"

#include <math.h>
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

/* A refusal naming member k: err->field "parameters.<k>", the message too. */
static int refuse(CbError *err, const char *k, const char *what) {
        char field[sizeof(err->field)];
        snprintf(field, sizeof(field), "parameters.%s", k);
        return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: %s (the provider's schema)", field,
                                  what);
}

int osb_params_check(const json_t *params, const json_t *schema, CbError *err) {
        const json_t *props, *extra, *name, *v;
        const char *k;
        char *text;
        size_t len, i;
        char types[96], what[160];

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
        if (!type_ok(params, json_object_get(schema, "type"))) {
                type_text(json_object_get(schema, "type"), types, sizeof(types));
                return cb_error_set_field(err, CB_ERR_VALIDATION, "parameters",
                                          "parameters: the provider's schema wants %s", types);
        }
        json_array_foreach(json_object_get(schema, "required"), i, name) {
                const char *n = json_string_value(name);
                if (n && !json_object_get(params, n))
                        return refuse(err, n, "required");
        }
        props = json_object_get(schema, "properties");
        extra = json_object_get(schema, "additionalProperties");
        json_object_foreach((json_t *)params, k, v) {
                const json_t *p = json_is_object(props) ? json_object_get(props, k) : NULL;
                if (!p) {
                        if (json_is_false(extra))
                                return refuse(err, k, "not a parameter this plan takes");
                        continue;
                }
                if (!type_ok(v, json_object_get(p, "type"))) {
                        type_text(json_object_get(p, "type"), types, sizeof(types));
                        snprintf(what, sizeof(what), "must be of type %s", types);
                        return refuse(err, k, what);
                }
                if (json_is_array(json_object_get(p, "enum")) && !in_enum(v, json_object_get(p, "enum")))
                        return refuse(err, k, "not one of the values the schema lists (enum)");
        }
        return 0;
}

const json_t *osb_plan_params_schema(const json_t *plan, const char *what) {
        const json_t *s = json_object_get(json_object_get(json_object_get(plan, "schemas"), what), "create");
        s = json_object_get(s, "parameters");
        return json_is_object(s) ? s : NULL;
}
