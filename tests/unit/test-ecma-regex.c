/* SPDX-License-Identifier: Apache-2.0 */
/* ecma-regex: what a compiled pattern matches is what ECMA-262 says it
 * matches (searched, not anchored, a character at a time, Chinese text
 * too), what is not read exactly is refused rather than approximated, and
 * no pattern makes a search slower than linear. */
#include <errno.h>
#include <time.h>
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
                /* Chinese text, and what the classes say of characters beyond ASCII. */
                { "^[\\u4e00-\\u9fa5]+$", "临汾市", true },
                { "^[\\u4e00-\\u9fa5]+$", "临汾a", false },
                { "^[\\u4e00-\\u9fa5]+$", "", false },
                { "^[一-龥A-Za-z0-9_-]{2,16}$", "教育门户-oa", true },
                { "^[一-龥A-Za-z0-9_-]{2,16}$", "教育 门户", false },
                { "^.{3}$", "临汾市", true }, /* characters, not bytes (9) */
                { "^.{3}$", "临汾", false },
                { "^.$", "\xe2\x80\xa8", false },  /* U+2028 ends a line too */
                { "^\\s$", "\xe3\x80\x80", true }, /* U+3000, the ideographic space */
                { "^\\s$", "\xef\xbb\xbf", true }, /* U+FEFF */
                { "^\\S$", "\xe3\x80\x80", false },
                { "^\\D$", "中", true },
                { "^\\W$", "中", true },
                { "^\\w$", "中", false },           /* \w is ASCII in ECMA-262 */
                { "^\\d$", "\xef\xbc\x91", false }, /* a fullwidth 1 is no \d */
                { "^[^a]$", "中", true },
                { "^[^\\d\\s]+$", "临汾", true },
                { "^[\\Wa]+$", "a中", true },
                { "^[\\Wa]+$", "ab", false },
                { "^\\u4e34\\u6c7e$", "临汾", true },
                { "^(有限|股份)+公司$", "有限股份公司", true },
                { "^(有限|股份)+公司$", "公司", false },
                { "^caf\xc3\xa9$", "caf\xc3\xa9", true },
                { "[]", "a", false },    /* matches nothing */
                { "^[^]$", "中", true }, /* anything */
                { "", "anything", true },
                { "a|", "b", true }, /* an empty alternative */
                { "^(|x)y$", "y", true },
                { "^(a*)*$", "aaa", true },
                { "^(a|b)*c{0,2}$", "ababcc", true },
                { "^(a|b)*c{0,2}$", "ababccc", false },
                { "^a{2,}$", "a", false },
                { "^a{2,}$", "aaaaa", true },
                { "x{,3}", "x{,3}", true }, /* annex B: not a quantifier, literal */
                { "^\\x00$", "", false },
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                EcmaRegex *rx = NULL;
                int r = ecma_regex_compile(cases[i].pattern, strlen(cases[i].pattern), &rx);
                if (r < 0)
                        fail_msg("case %zu: /%s/ not compiled (%d)", i, cases[i].pattern, r);
                assert_true(ecma_regex_cost(rx) >= 1);
                r = ecma_regex_search(rx, cases[i].text, strlen(cases[i].text));
                if (r < 0 || (r == 1) != cases[i].match)
                        fail_msg("case %zu: /%s/ on \"%s\": expected %s, got %d", i, cases[i].pattern,
                                 cases[i].text, cases[i].match ? "a match" : "none", r);
                ecma_regex_free(rx);
        }
}

/* Text is taken by its length: a NUL is a character like the others. */
static void test_text_with_nul(void **state) {
        EcmaRegex *rx = NULL;
        (void)state;
        assert_int_equal(ecma_regex_compile("^a\\x00b$", strlen("^a\\x00b$"), &rx), 0);
        assert_int_equal(ecma_regex_search(rx, "a\0b", 3), 1);
        assert_int_equal(ecma_regex_search(rx, "a\0c", 3), 0);
        ecma_regex_free(rx);
}

/* Beyond U+FFFF the readings of ECMA-262 (code units or code points)
 * differ: such text is not judged, and not UTF-8 is not either. */
static void test_text_not_judged(void **state) {
        EcmaRegex *rx = NULL;
        (void)state;
        assert_int_equal(ecma_regex_compile("^.$", strlen("^.$"), &rx), 0);
        assert_int_equal(ecma_regex_search(rx, "\xf0\x9f\x98\x80", 4), -EDOM); /* U+1F600 */
        assert_int_equal(ecma_regex_search(rx, "\xc3", 1), -EDOM);             /* cut short */
        assert_int_equal(ecma_regex_search(rx, "\xc0\x80", 2), -EDOM);         /* overlong */
        assert_int_equal(ecma_regex_search(rx, "\xed\xa0\x80", 3), -EDOM);     /* a surrogate */
        assert_int_equal(ecma_regex_search(rx, "\xe4\xb8\xad", 3), 1);
        ecma_regex_free(rx);
}

/* (a*)*b backtracks exponentially elsewhere; here it costs the text's
 * length times the states. 20 of them over 16 KiB, well under a second
 * even under valgrind; a backtracking engine would not end. */
static void test_linear_time(void **state) {
        static char text[16385];
        EcmaRegex *rx = NULL;
        struct timespec a, b;
        (void)state;
        memset(text, 'a', sizeof(text) - 1);
        assert_int_equal(ecma_regex_compile("^(a*)*(a|aa)*b$", strlen("^(a*)*(a|aa)*b$"), &rx), 0);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int k = 0; k < 20; k++)
                assert_int_equal(ecma_regex_search(rx, text, sizeof(text) - 1), 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_true((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 20L * 1000000000L);
        text[sizeof(text) - 2] = 'b';
        assert_int_equal(ecma_regex_search(rx, text, sizeof(text) - 1), 1);
        ecma_regex_free(rx);
}

static void test_refuses_what_it_cannot_read_exactly(void **state) {
        static const char *const refused[] = {
                "(?=a)b",
                "(?!a)b",
                "(?<=a)b",
                "(?<n>a)",    /* lookaround, named groups */
                "(a)\\1",     /* back reference */
                "\\bword\\b", /* word boundary */
                "\\p{L}+",    /* Unicode property */
                "\\cA",
                "\\0",              /* control, NUL escapes */
                "\xf0\x9f\x98\x80", /* beyond U+FFFF */
                "\\ud83d\\ude00",   /* the same as a pair */
                "\\u{1F600}",       /* the u flag's escape */
                "[\\d-z]",          /* annex B's odd union */
                "[z-a]",            /* out of order */
                "a{1001}",
                "a{3,2}", /* beyond the bound, reversed */
                "(a",
                "a)",
                "[a",
                "\\", /* not balanced, a lone backslash */
                "*a",
                "a**",
                "^*",
                "{2}",      /* nothing to repeat */
                "\xe4\xb8", /* not UTF-8 */
        };
        char long_pattern[ECMA_REGEX_SOURCE_MAX + 2];
        EcmaRegex *rx = NULL;
        (void)state;

        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                if (ecma_regex_compile(refused[i], strlen(refused[i]), &rx) != -EINVAL)
                        fail_msg("/%s/ was compiled", refused[i]);
        assert_null(rx); /* written only on success */

        memset(long_pattern, 'a', sizeof(long_pattern) - 1);
        long_pattern[sizeof(long_pattern) - 1] = 0;
        assert_int_equal(ecma_regex_compile(long_pattern, strlen(long_pattern), &rx), -EINVAL);
        /* A bounded repetition costs what it expands to. */
        assert_int_equal(ecma_regex_compile("(ab){50}", strlen("(ab){50}"), &rx), 0);
        assert_true(ecma_regex_cost(rx) >= 100);
        rx = ecma_regex_free(rx);
        /* Nested repetitions that would build too large an automaton. */
        assert_int_equal(ecma_regex_compile("((a{100}){100}){100}", strlen("((a{100}){100}){100}"), &rx),
                         -EINVAL);
        {
                static const char wide[] = "[一-龥]{1000}[a-z]{1000}[0-9]{1000}x{1000}z{1000}";
                assert_int_equal(ecma_regex_compile(wide, strlen(wide), &rx), -EINVAL);
        }
        assert_null(ecma_regex_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_matches_as_ecma_does),
                cmocka_unit_test(test_text_with_nul),
                cmocka_unit_test(test_text_not_judged),
                cmocka_unit_test(test_linear_time),
                cmocka_unit_test(test_refuses_what_it_cannot_read_exactly),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
