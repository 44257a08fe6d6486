/* SPDX-License-Identifier: Apache-2.0 */
/* ecma-regex: what a translated pattern matches is what ECMA-262 says it
 * matches (searched, not anchored), and what is not translated exactly is
 * refused rather than approximated. */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecma-regex.h"

typedef struct Case {
        const char *pattern, *text;
        bool match;
} Case;

static void test_matches_as_ecma_does(void **state) {
        static const Case cases[] = {
                { "^\\d{3}-\\d{4}$", "555-1234", true },
                { "^\\d{3}-\\d{4}$", "55-1234", false },
                { "^\\d{3}-\\d{4}$", "a555-1234", false },
                { "\\d", "0", true }, /* 0 is a digit too */
                { "\\D", "7", false },
                { "\\w+@\\w+\\.com", "mail me at dba@linfen.com today", true },
                { "\\w+@\\w+\\.com", "dba@linfenXcom", false },
                { "^[\\d_]+$", "12_3", true },
                { "^[\\d_]+$", "12-3", false },
                { "^[^\\s]+$", "utf8mb4", true },
                { "^[^\\s]+$", "utf8 mb4", false },
                { "^\\S\\s\\S$", "a\tb", true },
                { "^(?:ab)+c$", "ababc", true },
                { "^(?:ab)+c$", "abac", false },
                { "^a.c$", "abc", true },
                { "^a.c$", "a\nc", false }, /* . is not a line break in ECMA-262 */
                { "^\\x41\\u0042$", "AB", true },
                { "^a{2,3}$", "aaa", true },
                { "^a{2,3}$", "aaaa", false },
                { "^a+?$", "aaa", true }, /* lazy: the same strings */
                { "a]", "xa]", true },
                { "^\\$\\.\\*$", "$.*", true },
                { "^\\$\\.\\*$", "$x*", false },
                { "^(gbk|utf8mb4)$", "gbk", true },
                { "^(gbk|utf8mb4)$", "gbk2", false },
                { "^[a-c\\-]+$", "a-c", true },
                { "^[a-c\\-]+$", "abd", false },
                { "^[\\]]$", "]", true },
                { "^\\t$", "\t", true },
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *ere = NULL;
                unsigned long cost = 0;
                regex_t rx;
                int r = ecma_regex_to_ere(cases[i].pattern, strlen(cases[i].pattern), &ere, &cost);
                if (r < 0)
                        fail_msg("case %zu: /%s/ not translated (%d)", i, cases[i].pattern, r);
                assert_true(cost >= 1);
                if (regcomp(&rx, ere, REG_EXTENDED | REG_NOSUB) != 0)
                        fail_msg("case %zu: /%s/ as ERE '%s' does not compile", i, cases[i].pattern, ere);
                if ((regexec(&rx, cases[i].text, 0, NULL, 0) == 0) != cases[i].match)
                        fail_msg("case %zu: /%s/ (ERE '%s') on \"%s\": expected %s", i, cases[i].pattern, ere,
                                 cases[i].text, cases[i].match ? "a match" : "none");
                regfree(&rx);
                free(ere);
        }
}

static void test_refuses_what_it_cannot_translate_exactly(void **state) {
        static const char *const refused[] = {
                "(?=a)b",      "(?!a)b", "(?<=a)b", /* lookaround */
                "(a)\\1",                           /* back reference */
                "\\bword\\b",                       /* word boundary */
                "\\p{L}+",                          /* Unicode property */
                "caf\xc3\xa9",                      /* not ASCII */
                "\\u00e9",                          /* not ASCII, escaped */
                "a{1001}",                          /* beyond the repetition bound */
                "(a",                               /* not balanced */
                "a)",          "\\",                /* a lone backslash */
        };
        char long_pattern[ECMA_REGEX_SOURCE_MAX + 2];
        char *ere = NULL;
        unsigned long cost = 0;
        (void)state;

        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                if (ecma_regex_to_ere(refused[i], strlen(refused[i]), &ere, &cost) != -EINVAL)
                        fail_msg("/%s/ was translated (to '%s')", refused[i], ere ? ere : "?");
        assert_null(ere); /* written only on success */

        memset(long_pattern, 'a', sizeof(long_pattern) - 1);
        long_pattern[sizeof(long_pattern) - 1] = 0;
        assert_int_equal(ecma_regex_to_ere(long_pattern, strlen(long_pattern), &ere, &cost), -EINVAL);
        /* A bounded repetition costs what it expands to. */
        assert_int_equal(ecma_regex_to_ere("(ab){50}", 8, &ere, &cost), 0);
        assert_true(cost >= 100);
        free(ere);
        /* Nested repetitions that would build too large an automaton. */
        assert_int_equal(ecma_regex_to_ere("((a{100}){100}){100}", 20, &ere, &cost), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_matches_as_ecma_does),
                cmocka_unit_test(test_refuses_what_it_cannot_translate_exactly),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
