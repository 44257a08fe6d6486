/* SPDX-License-Identifier: Apache-2.0 */
/* OSB parameters against a provider's schema (osb_params_check): the
 * schema comes from a provider's catalogue, the parameters from a
 * department, and both may be hostile. Input: the schema's JSON, a NUL
 * byte, the parameters' JSON. Promises checked beyond no crash:
 *   - a refusal is CB_ERR_VALIDATION (or INTERNAL for memory) whose field
 *     is "parameters" or starts with "parameters." / "parameters[" and is
 *     named in its message;
 *   - the check is deterministic: the same pair gives the same answer;
 *   - no string value of the parameters that holds a '#' (which no fixed
 *     text of a message does) shows in the message (values may be
 *     secrets), unless the same text is in the schema or a member name,
 *     which a message may quote (a type, a path). */
#include "fuzz.h"
#include "osb-params.h"

/* Whether text is in a member name of v (or, with values, a string of it), at any depth. */
static bool in_strings(const json_t *v, const char *text, bool values) {
        const json_t *m;
        const char *k;
        size_t i;
        if (values && json_is_string(v))
                return strstr(json_string_value(v), text) != NULL;
        if (json_is_object(v))
                json_object_foreach((json_t *)v, k,
                                    m) if (strstr(k, text) || in_strings(m, text, values)) return true;
        if (json_is_array(v))
                json_array_foreach(v, i, m) if (in_strings(m, text, values)) return true;
        return false;
}

static void no_value_shown(const json_t *v, const json_t *params, const json_t *schema, const char *message) {
        const json_t *m;
        const char *k;
        size_t i;
        if (json_is_string(v) && strchr(json_string_value(v), '#')) {
                const char *t = json_string_value(v);
                FUZZ_ASSERT(!strstr(message, t) || in_strings(schema, t, true) ||
                            in_strings(params, t, false));
        } else if (json_is_object(v))
                json_object_foreach((json_t *)v, k, m) no_value_shown(m, params, schema, message);
        else if (json_is_array(v))
                json_array_foreach(v, i, m) no_value_shown(m, params, schema, message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, 0, size);
        json_t *schema, *params;
        CbError err = CB_ERROR_INIT, again = CB_ERROR_INIT;
        int r, r2;

        if (!nul)
                return 0;
        schema = json_loadb((const char *)data, (size_t)(nul - data), JSON_DECODE_ANY, NULL);
        params = json_loadb((const char *)nul + 1, size - (size_t)(nul - data) - 1, JSON_DECODE_ANY, NULL);
        if (params) {
                r = osb_params_check(params, schema, &err);
                fuzz_check_refusal(r, &err);
                if (r < 0 && err.kind == CB_ERR_VALIDATION) {
                        FUZZ_ASSERT(strncmp(err.field, "parameters", 10) == 0);
                        FUZZ_ASSERT(err.field[10] == 0 || err.field[10] == '.' || err.field[10] == '[');
                        FUZZ_ASSERT(strstr(err.message, err.field));
                        no_value_shown(params, params, schema, err.message);
                }
                r2 = osb_params_check(params, schema, &again);
                FUZZ_ASSERT((r < 0) == (r2 < 0));
                FUZZ_ASSERT(strcmp(err.field, again.field) == 0);
        }
        json_decref(schema);
        json_decref(params);
        return 0;
}
