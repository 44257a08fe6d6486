/* SPDX-License-Identifier: Apache-2.0 */
#include "json-util.h"

#include <time.h>

#include "date.h"
#include "id.h"

int json_check_object(const json_t *j, const char *const *allowed, CbError *err) {
        const char *key;
        json_t *v;

        if (!json_is_object(j))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "",
                                          "the request body must be a JSON object");
        json_object_foreach((json_t *)j, key, v) {
                bool known = false;
                for (const char *const *a = allowed; *a && !known; a++)
                        known = streq(*a, key);
                if (!known)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, key, "%s: unknown field", key);
        }
        return 0;
}

static int missing(const char *name, CbError *err) {
        return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: is required", name);
}

int json_get_string(const json_t *j, const char *name, bool required, size_t max_len, const char **ret,
                    CbError *err) {
        const json_t *v = json_object_get(j, name);
        if (!v) {
                if (required)
                        return missing(name, err);
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: must be a string", name);
        if (json_string_length(v) == 0)
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: must not be empty", name);
        if (max_len > 0 && json_string_length(v) > max_len)
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: longer than %zu bytes", name,
                                          max_len);
        if (strlen(json_string_value(v)) != json_string_length(v))
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: contains a NUL byte", name);
        *ret = json_string_value(v);
        return 0;
}

int json_get_id(const json_t *j, const char *name, bool required, const char **ret, CbError *err) {
        const char *s = NULL;
        int r = json_get_string(j, name, required, 63, &s, err);
        if (r < 0)
                return r;
        if (s && !id_is_valid(s))
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: must match ^[a-z0-9-]+$", name);
        *ret = s;
        return 0;
}

int json_get_bool(const json_t *j, const char *name, bool required, bool *ret, CbError *err) {
        const json_t *v = json_object_get(j, name);
        if (!v)
                return required ? missing(name, err) : 0;
        if (!json_is_boolean(v))
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: must be true or false", name);
        *ret = json_is_true(v);
        return 0;
}

int json_get_int(const json_t *j, const char *name, bool required, int64_t min, int64_t max, int64_t *ret,
                 CbError *err) {
        const json_t *v = json_object_get(j, name);
        if (!v)
                return required ? missing(name, err) : 0;
        if (!json_is_integer(v))
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: must be an integer", name);
        if (json_integer_value(v) < min || json_integer_value(v) > max)
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: must be between %lld and %lld",
                                          name, (long long)min, (long long)max);
        *ret = json_integer_value(v);
        return 0;
}

int json_get_date(const json_t *j, const char *name, bool required, const char **ret, CbError *err) {
        const char *s = NULL;
        int r = json_get_string(j, name, required, 10, &s, err);
        if (r < 0)
                return r;
        if (s && !date_is_valid(s))
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: '%s' is not a date (YYYY-MM-DD)",
                                          name, s);
        *ret = s;
        return 0;
}
