/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Refusals as the faces send them: whatever the caller sent and the message
 * quotes, the error turns into a JSON body with its message and field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

static void assert_body(const CbError *err) {
        json_t *body = cb_error_to_json(err);
        assert_non_null(body);
        assert_string_equal(json_string_value(json_object_get(body, "message")), err->message);
        if (err->field[0])
                assert_string_equal(json_string_value(json_object_get(body, "field")), err->field);
        json_decref(body);
}

/* Found by tests/fuzz: a JSON key of 200 Chinese characters is quoted in
 * "KEY: unknown field" and cut at 512 bytes inside a character; jansson
 * then refused the message, and REST answered 422 with an empty body. */
static void test_cut_inside_a_character(void **state) {
        CbError err = CB_ERROR_INIT;
        char key[601] = "";
        (void)state;

        for (size_t i = 0; i < 200; i++)
                strcat(key, "字");
        cb_error_set_field(&err, CB_ERR_VALIDATION, key, "%s: unknown field", key);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
        assert_int_equal(strncmp(err.message, key, 510), 0); /* 170 whole characters kept */
        assert_string_equal(err.message + 510, "?");         /* the cut one */
        assert_int_equal(strlen(err.field), sizeof(err.field) - 1);
        assert_body(&err);
        cb_error_clear(&err);
}

/* Found by tests/fuzz/fuzz-approval: jansson's own error text quotes the
 * bytes near the error and cuts them inside a character, so any malformed
 * body with Chinese text before a bad escape had no JSON answer. */
static void test_jansson_error_text(void **state) {
        CbError err = CB_ERROR_INIT;
        json_error_t jerr;
        (void)state;

        assert_null(json_loads("{\"name\": \"教育\\\xe4\xb8\x80\"}", 0, &jerr));
        cb_error_set(&err, CB_ERR_MALFORMED_JSON, "malformed JSON at %d:%d: %s", jerr.line, jerr.column,
                     jerr.text);
        assert_non_null(strstr(err.message, "教育"));
        assert_body(&err);
        cb_error_clear(&err);
}

static void test_invalid_bytes_quoted(void **state) {
        CbError err = CB_ERROR_INIT;
        (void)state;

        cb_error_set(&err, CB_ERR_NOT_FOUND, "no such endpoint: GET %s",
                     "/v1/systems/\xff\xfe \xed\xa0\x80 \xc0\xaf");
        assert_string_equal(err.message, "no such endpoint: GET /v1/systems/?? ??? ??");
        assert_body(&err);

        /* Valid text of every length is left alone. */
        cb_error_set_field(&err, CB_ERR_VALIDATION, "名称", "名称: 临政信审〔2026〕12号 é \xf0\x9f\x98\x80");
        assert_string_equal(err.message, "名称: 临政信审〔2026〕12号 é \xf0\x9f\x98\x80");
        assert_string_equal(err.field, "名称");
        assert_body(&err);
        cb_error_clear(&err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cut_inside_a_character),
                cmocka_unit_test(test_jansson_error_text),
                cmocka_unit_test(test_invalid_bytes_quoted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
