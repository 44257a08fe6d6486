/* SPDX-License-Identifier: Apache-2.0 */
#include "approval.h"
#include "calendar.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Long enough for "items[18446744073709551615].service_id"; CbError.field
 * is 128. */
#define PATH_MAX_LEN 128

static const char *const top_fields[] = {
        "approval_no",
        "project_id",
        "project_name",
        "department",
        "revision",
        "valid_from",
        "valid_until",
        "budget",
        "systems",
        "items",
        "requires_secure_controllable",
        "dedicated_network_consent",
};
static const char *const budget_fields[] = { "construction_fen", "om_fen" };
static const char *const item_fields[] = { "service_id", "plan_id", "quantity" };

bool approval_id_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > APPROVAL_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

/* prefix.name, cut to fit: an unknown field's name comes from the input
 * and may be of any length. */
static void path_join(char path[PATH_MAX_LEN], const char *prefix, const char *name) {
        size_t n = 0;

        for (const char *s = prefix; s && *s && n < PATH_MAX_LEN - 1; s++)
                path[n++] = *s;
        if (!isempty(prefix) && n < PATH_MAX_LEN - 1)
                path[n++] = '.';
        for (const char *s = name; *s && n < PATH_MAX_LEN - 1; s++)
                path[n++] = *s;
        path[n] = 0;
}

static bool field_in(const char *name, const char *const *allowed, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(name, allowed[i]))
                        return true;
        return false;
}

/* Unknown fields first, so a misspelt field is reported as what it is and
 * not as the correctly spelt one missing. */
static int check_object(const json_t *o, const char *path, const char *const *allowed, size_t n,
                        CbError *err) {
        char p[PATH_MAX_LEN];
        const char *name;
        json_t *v;

        if (!json_is_object(o))
                return cb_error_set_field(err, CB_ERR_VALIDATION, path, "%s must be an object",
                                          isempty(path) ? "the approval" : path);
        json_object_foreach((json_t *)o, name, v) {
                if (!field_in(name, allowed, n)) {
                        path_join(p, path, name);
                        return cb_error_set_field(err, CB_ERR_VALIDATION, p, "unknown field %s", p);
                }
        }
        for (size_t i = 0; i < n; i++)
                if (!json_object_get(o, allowed[i])) {
                        path_join(p, path, allowed[i]);
                        return cb_error_set_field(err, CB_ERR_VALIDATION, p, "missing field %s", p);
                }
        return 0;
}

static bool has_control_chars(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return true;
        return false;
}

static int get_text(const json_t *v, const char *path, size_t max, char **ret, CbError *err) {
        if (!json_is_string(v))
                return cb_error_set_field(err, CB_ERR_VALIDATION, path, "%s must be a string", path);
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (n == 0 || n > max)
                return cb_error_set_field(err, CB_ERR_VALIDATION, path, "%s must be 1-%zu bytes long", path,
                                          max);
        if (has_control_chars(s, n))
                return cb_error_set_field(err, CB_ERR_VALIDATION, path,
                                          "%s must not contain control characters", path);
        char *c = strdup(s);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

static int get_id(const json_t *v, const char *path, char **ret, CbError *err) {
        if (!json_is_string(v))
                return cb_error_set_field(err, CB_ERR_VALIDATION, path, "%s must be a string", path);
        if (!approval_id_valid(json_string_value(v)) || json_string_length(v) != strlen(json_string_value(v)))
                return cb_error_set_field(err, CB_ERR_VALIDATION, path,
                                          "%s must match ^[a-z0-9-]+$ and be at most %d bytes", path,
                                          APPROVAL_ID_MAX);
        char *c = strdup(json_string_value(v));
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

static int get_int(const json_t *v, const char *path, int64_t min, int64_t max, int64_t *ret, CbError *err) {
        /* 1.0 is a real in jansson and refused: counts and fen are exact. */
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return cb_error_set_field(err, CB_ERR_VALIDATION, path,
                                          "%s must be an integer from %" PRId64 " to %" PRId64, path, min,
                                          max);
        *ret = json_integer_value(v);
        return 0;
}

static int get_bool(const json_t *v, const char *path, bool *ret, CbError *err) {
        if (!json_is_boolean(v))
                return cb_error_set_field(err, CB_ERR_VALIDATION, path, "%s must be true or false", path);
        *ret = json_is_true(v);
        return 0;
}

static int get_date(const json_t *v, const char *path, char ret[APPROVAL_DATE_LEN + 1], CbError *err) {
        if (!json_is_string(v) || !date_is_valid(json_string_value(v)) ||
            json_string_length(v) != APPROVAL_DATE_LEN)
                return cb_error_set_field(err, CB_ERR_VALIDATION, path,
                                          "%s must be a calendar date YYYY-MM-DD", path);
        memcpy(ret, json_string_value(v), APPROVAL_DATE_LEN + 1);
        return 0;
}

static int parse_systems(const json_t *arr, Approval *a, CbError *err) {
        char p[PATH_MAX_LEN];
        int r;

        if (!json_is_array(arr))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "systems", "systems must be an array");
        size_t n = json_array_size(arr);
        a->systems = calloc(n ? n : 1, sizeof(char *));
        if (!a->systems)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                snprintf(p, sizeof(p), "systems[%zu]", i);
                r = get_id(json_array_get(arr, i), p, &a->systems[i], err);
                if (r < 0)
                        return r;
                a->n_systems = i + 1;
                for (size_t j = 0; j < i; j++)
                        if (streq(a->systems[j], a->systems[i]))
                                return cb_error_set_field(err, CB_ERR_VALIDATION, p,
                                                          "%s: system %s is already listed as systems[%zu]",
                                                          p, a->systems[i], j);
        }
        return 0;
}

static int parse_items(const json_t *arr, Approval *a, CbError *err) {
        char base[PATH_MAX_LEN], p[PATH_MAX_LEN];
        int r;

        if (!json_is_array(arr))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "items", "items must be an array");
        size_t n = json_array_size(arr);
        if (n == 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "items", "items must not be empty");
        a->items = calloc(n, sizeof(ApprovalItem));
        if (!a->items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const json_t *o = json_array_get(arr, i);
                ApprovalItem *it = &a->items[i];

                snprintf(base, sizeof(base), "items[%zu]", i);
                r = check_object(o, base, item_fields, ELEMENTSOF(item_fields), err);
                if (r < 0)
                        return r;
                a->n_items = i + 1; /* from here on it owns what it gets */
                path_join(p, base, "service_id");
                r = get_id(json_object_get(o, "service_id"), p, &it->service_id, err);
                if (r < 0)
                        return r;
                path_join(p, base, "plan_id");
                r = get_id(json_object_get(o, "plan_id"), p, &it->plan_id, err);
                if (r < 0)
                        return r;
                path_join(p, base, "quantity");
                r = get_int(json_object_get(o, "quantity"), p, 1, APPROVAL_QUANTITY_MAX, &it->quantity, err);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (streq(a->items[j].service_id, it->service_id) &&
                            streq(a->items[j].plan_id, it->plan_id))
                                return cb_error_set_field(err, CB_ERR_VALIDATION, base,
                                                          "%s: service %s plan %s is already items[%zu]",
                                                          base, it->service_id, it->plan_id, j);
        }
        return 0;
}

Approval *approval_free(Approval *a) {
        if (!a)
                return NULL;
        free(a->approval_no);
        free(a->project_id);
        free(a->project_name);
        free(a->department);
        for (size_t i = 0; i < a->n_systems; i++)
                free(a->systems[i]);
        free(a->systems);
        for (size_t i = 0; i < a->n_items; i++) {
                free(a->items[i].service_id);
                free(a->items[i].plan_id);
        }
        free(a->items);
        free(a);
        return NULL;
}

int approval_from_json(const json_t *doc, Approval **ret, CbError *err) {
        _cleanup_(approval_freep) Approval *a = NULL;
        const json_t *budget;
        int r;

        r = check_object(doc, "", top_fields, ELEMENTSOF(top_fields), err);
        if (r < 0)
                return r;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;

#define F(name) json_object_get(doc, name)
        if ((r = get_text(F("approval_no"), "approval_no", APPROVAL_NO_MAX, &a->approval_no, err)) < 0 ||
            (r = get_id(F("project_id"), "project_id", &a->project_id, err)) < 0 ||
            (r = get_text(F("project_name"), "project_name", APPROVAL_NAME_MAX, &a->project_name, err)) < 0 ||
            (r = get_id(F("department"), "department", &a->department, err)) < 0 ||
            (r = get_int(F("revision"), "revision", 1, APPROVAL_REVISION_MAX, &a->revision, err)) < 0 ||
            (r = get_date(F("valid_from"), "valid_from", a->valid_from, err)) < 0 ||
            (r = get_date(F("valid_until"), "valid_until", a->valid_until, err)) < 0)
                return r;
        if (strcmp(a->valid_until, a->valid_from) < 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "valid_until",
                                          "valid_until %s is before valid_from %s", a->valid_until,
                                          a->valid_from);

        budget = F("budget");
        if ((r = check_object(budget, "budget", budget_fields, ELEMENTSOF(budget_fields), err)) < 0 ||
            (r = get_int(json_object_get(budget, "construction_fen"), "budget.construction_fen", 0,
                         APPROVAL_FEN_MAX, &a->construction_fen, err)) < 0 ||
            (r = get_int(json_object_get(budget, "om_fen"), "budget.om_fen", 0, APPROVAL_FEN_MAX, &a->om_fen,
                         err)) < 0)
                return r;

        if ((r = parse_systems(F("systems"), a, err)) < 0 || (r = parse_items(F("items"), a, err)) < 0 ||
            (r = get_bool(F("requires_secure_controllable"), "requires_secure_controllable",
                          &a->requires_secure_controllable, err)) < 0 ||
            (r = get_bool(F("dedicated_network_consent"), "dedicated_network_consent",
                          &a->dedicated_network_consent, err)) < 0)
                return r;
#undef F

        *ret = TAKE_PTR(a);
        return 0;
}

int approval_parse(const char *doc, size_t len, Approval **ret, CbError *err) {
        json_error_t jerr;

        /* A UTF-8 BOM or NUL byte is refused by jansson as malformed. */
        json_t *j = json_loadb(doc, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!j)
                return cb_error_set(err, CB_ERR_MALFORMED_JSON, "malformed JSON at %d:%d: %s", jerr.line,
                                    jerr.column, jerr.text);
        int r = approval_from_json(j, ret, err);
        json_decref(j);
        return r;
}

json_t *approval_to_json(const Approval *a) {
        json_t *systems = json_array(), *items = json_array();

        if (!systems || !items)
                goto fail;
        for (size_t i = 0; i < a->n_systems; i++)
                if (json_array_append_new(systems, json_string(a->systems[i])) < 0)
                        goto fail;
        for (size_t i = 0; i < a->n_items; i++)
                if (json_array_append_new(items,
                                          json_pack("{s:s, s:s, s:I}", "service_id", a->items[i].service_id,
                                                    "plan_id", a->items[i].plan_id, "quantity",
                                                    (json_int_t)a->items[i].quantity)) < 0)
                        goto fail;
        /* "o" steals the arrays even when packing fails. */
        return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:{s:I, s:I}, s:o, s:o, s:b, s:b}",
                         "approval_no", a->approval_no, "project_id", a->project_id, "project_name",
                         a->project_name, "department", a->department, "revision", (json_int_t)a->revision,
                         "valid_from", a->valid_from, "valid_until", a->valid_until, "budget",
                         "construction_fen", (json_int_t)a->construction_fen, "om_fen", (json_int_t)a->om_fen,
                         "systems", systems, "items", items, "requires_secure_controllable",
                         (int)a->requires_secure_controllable, "dedicated_network_consent",
                         (int)a->dedicated_network_consent);
fail:
        json_decref(systems);
        json_decref(items);
        return NULL;
}

const ApprovalItem *approval_find_item(const Approval *a, const char *service_id, const char *plan_id) {
        for (size_t i = 0; a && i < a->n_items; i++)
                if (streq(a->items[i].service_id, service_id) && streq(a->items[i].plan_id, plan_id))
                        return &a->items[i];
        return NULL;
}

bool approval_lists_system(const Approval *a, const char *system_id) {
        for (size_t i = 0; a && i < a->n_systems; i++)
                if (streq(a->systems[i], system_id))
                        return true;
        return false;
}
