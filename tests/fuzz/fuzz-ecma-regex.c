/* SPDX-License-Identifier: Apache-2.0 */
/* ECMA-262 patterns (ecma_regex_compile, ecma_regex_search): a provider's
 * schema brings the pattern, a department the text. Input: the pattern, a
 * NUL byte, the text. Promises checked beyond no crash, leak or undefined
 * behaviour:
 *   - a search answers 1, 0 or -EDOM, and the same twice;
 *   - -EDOM exactly for text that is not UTF-8 or has a character beyond
 *     U+FFFF (checked against glibc's mbrtowc in C.UTF-8);
 *   - grouping changes nothing: (?:P) matches where P does, and ^(?:P)$
 *     matching means P matches;
 *   - glibc as the oracle where the two languages are the same: a pattern
 *     of a-c, ( ) | * + ? ^ $ only (no quantifier after a quantifier, no
 *     "(?", which ERE reads otherwise; no "()" or empty alternative, which
 *     glibc refuses or reads otherwise), and text of a-c, so '.' and the
 *     line breaks play no part: the answer is regexec()'s in the C locale. */
#include <locale.h>
#include <regex.h>
#include <wchar.h>

#include "ecma-regex.h"
#include "fuzz.h"

static bool text_judged(const char *s, size_t len) {
        static locale_t utf8;
        mbstate_t st = { 0 };
        locale_t old;
        bool ok = true;
        if (!utf8)
                utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        FUZZ_ASSERT(utf8);
        old = uselocale(utf8);
        for (size_t i = 0; i < len && ok;) {
                wchar_t wc;
                size_t n = mbrtowc(&wc, s + i, len - i, &st);
                if (n == 0)
                        n = 1; /* a NUL: a character like the others */
                if (n == (size_t)-1 || n == (size_t)-2 || (unsigned long)wc > 0xFFFF ||
                    ((unsigned long)wc >= 0xD800 && (unsigned long)wc <= 0xDFFF))
                        ok = false;
                else
                        i += n;
        }
        uselocale(old);
        return ok;
}

static bool in_shared_subset(const char *p, size_t plen, const char *t, size_t tlen) {
        for (size_t i = 0; i < tlen; i++)
                if (t[i] < 'a' || t[i] > 'c')
                        return false;
        for (size_t i = 0; i < plen; i++) {
                if (!strchr("abc()|*+?^$", p[i]) || p[i] == 0)
                        return false;
                if (i > 0 && strchr("*+?", p[i]) && strchr("*+?(|^$", p[i - 1]))
                        return false;
                if (p[i] == '|' && (i == 0 || i + 1 == plen || strchr("(|", p[i - 1]) || p[i + 1] == ')'))
                        return false;
                if (p[i] == '(' && i + 1 < plen && p[i + 1] == ')')
                        return false;
        }
        return plen > 0;
}

static int search(const EcmaRegex *rx, const char *t, size_t tlen) {
        int r = ecma_regex_search(rx, t, tlen);
        FUZZ_ASSERT(r == 0 || r == 1 || r == -EDOM);
        FUZZ_ASSERT(ecma_regex_search(rx, t, tlen) == r);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *)data, *nul = memchr(data, 0, size), *t;
        char wrapped[ECMA_REGEX_SOURCE_MAX + 16];
        EcmaRegex *rx = NULL, *rx2 = NULL;
        size_t plen, tlen;
        int r;

        if (!nul)
                return 0;
        plen = (size_t)(nul - p);
        t = nul + 1;
        tlen = size - plen - 1;
        if (ecma_regex_compile(p, plen, &rx) < 0) {
                FUZZ_ASSERT(!rx);
                return 0;
        }
        FUZZ_ASSERT(ecma_regex_cost(rx) >= 1 && ecma_regex_cost(rx) <= ECMA_REGEX_STATES_MAX);
        r = search(rx, t, tlen);
        FUZZ_ASSERT((r == -EDOM) == !text_judged(t, tlen));

        if (plen + 8 <= ECMA_REGEX_SOURCE_MAX) {
                snprintf(wrapped, sizeof(wrapped), "(?:%.*s)", (int)plen, p);
                if (ecma_regex_compile(wrapped, strlen(wrapped), &rx2) == 0) {
                        FUZZ_ASSERT(search(rx2, t, tlen) == r);
                        rx2 = ecma_regex_free(rx2);
                }
                snprintf(wrapped, sizeof(wrapped), "^(?:%.*s)$", (int)plen, p);
                if (ecma_regex_compile(wrapped, strlen(wrapped), &rx2) == 0) {
                        if (search(rx2, t, tlen) == 1)
                                FUZZ_ASSERT(r == 1);
                        rx2 = ecma_regex_free(rx2);
                }
        }
        if (r >= 0 && in_shared_subset(p, plen, t, tlen)) {
                regex_t ere;
                char pat[ECMA_REGEX_SOURCE_MAX + 1], text[4096];
                if (tlen < sizeof(text)) {
                        memcpy(pat, p, plen);
                        pat[plen] = 0;
                        memcpy(text, t, tlen);
                        text[tlen] = 0;
                        if (regcomp(&ere, pat, REG_EXTENDED | REG_NOSUB) == 0) {
                                FUZZ_ASSERT((regexec(&ere, text, 0, NULL, 0) == 0) == (r == 1));
                                regfree(&ere);
                        }
                }
        }
        ecma_regex_free(rx);
        return 0;
}
