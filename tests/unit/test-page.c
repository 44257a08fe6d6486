/* SPDX-License-Identifier: Apache-2.0 */
/* Keyset page tokens: what page_token_make writes, page_parse reads back;
 * nothing else passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "page.h"

static void test_defaults_and_limits(void **state) {
        CbError err = CB_ERROR_INIT;
        Page p;
        (void)state;
        assert_int_equal(page_parse(NULL, NULL, &p, &err), 0);
        assert_int_equal(p.limit, PAGE_LIMIT_DEFAULT);
        assert_false(p.has_after);
        assert_int_equal(page_parse("1", NULL, &p, &err), 0);
        assert_int_equal(p.limit, 1);
        assert_int_equal(page_parse("1000", NULL, &p, &err), 0);
        assert_int_equal(p.limit, 1000);
        const char *bad[] = { "0", "1001", "", "-1", "+5", "1e2", "12a", "00000001", " 5", NULL };
        for (const char **b = bad; *b; b++) {
                Page q = { .limit = 77 };
                assert_int_equal(page_parse(*b, NULL, &q, &err), -EINVAL);
                assert_string_equal(err.field, "limit");
                assert_int_equal(q.limit, 77); /* untouched on failure */
                cb_error_clear(&err);
        }
}

static void test_round_trip(void **state) {
        CbError err = CB_ERROR_INIT;
        char tok[PAGE_TOKEN_MAX];
        Page p;
        (void)state;
        page_token_make("2026-12-01T10:00:00Z", "r-0123456789abcdef", tok);
        assert_int_equal(page_parse("5", tok, &p, &err), 0);
        assert_true(p.has_after);
        assert_string_equal(p.after[0], "2026-12-01T10:00:00Z");
        assert_string_equal(p.after[1], "r-0123456789abcdef");
        page_token_make("edu-portal", NULL, tok);
        assert_int_equal(page_parse(NULL, tok, &p, &err), 0);
        assert_string_equal(p.after[0], "edu-portal");
        assert_string_equal(p.after[1], "");
}

static void test_bad_tokens(void **state) {
        CbError err = CB_ERROR_INIT;
        char huge[PAGE_TOKEN_MAX + 8];
        Page p;
        (void)state;
        memset(huge, 'a', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        const char *bad[] = {
                "",
                "a",
                "zz",
                "0A" /* upper case is not ours */,
                "00" /* NUL */,
                "0a" /* newline */,
                "1f" /* only a separator */,
                "411f421f43" /* two */,
                "7f",
                huge,
                NULL,
        };
        for (const char **b = bad; *b; b++) {
                assert_int_equal(page_parse(NULL, *b, &p, &err), -EINVAL);
                assert_string_equal(err.field, "page_token");
                cb_error_clear(&err);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_and_limits),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_bad_tokens),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
