/* SPDX-License-Identifier: Apache-2.0 */
/* The REST request target as a client sends it ("/v1/...?k=v&..."): split
 * and percent-decoded by the daemon's own decoder (rest_percent_decode, the
 * unescape callback libmicrohttpd calls for the path and for each query key
 * and value; checked here against a plain model of the rule), then
 * matched against every route of every face (rest_route_match), as
 * dispatch() does. Promises checked beyond no crash: a match captures at
 * most REST_MAX_PARAMS non-empty segments without '/', and putting the
 * captures back into the pattern gives the decoded path again (less one
 * trailing '/'), so a route never sees more or less than what was sent. */
#include "fuzz.h"
#include "rest.h"

static void check_match(const char *pattern, const char *path) {
        const char *params[REST_MAX_PARAMS];
        char buf[512], rebuilt[2048];
        size_t n = 0, off = 0, k = 0;

        if (!rest_route_match(pattern, path, buf, sizeof(buf), params, &n))
                return;
        FUZZ_ASSERT(n <= REST_MAX_PARAMS);
        for (const char *p = pattern; *p; p++) {
                if (*p == '{') {
                        FUZZ_ASSERT(k < n);
                        FUZZ_ASSERT(params[k][0] && !strchr(params[k], '/'));
                        size_t len = strlen(params[k]);
                        FUZZ_ASSERT(off + len < sizeof(rebuilt));
                        memcpy(rebuilt + off, params[k], len);
                        off += len;
                        k++;
                        p = strchr(p, '}');
                        FUZZ_ASSERT(p);
                        continue;
                }
                FUZZ_ASSERT(off + 1 < sizeof(rebuilt));
                rebuilt[off++] = *p;
        }
        rebuilt[off] = 0;
        FUZZ_ASSERT(k == n);
        size_t plen = strlen(path);
        FUZZ_ASSERT(strcmp(rebuilt, path) == 0 ||
                    (plen == off + 1 && path[off] == '/' && strncmp(rebuilt, path, off) == 0));
}

static int hexval(char c) {
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
}

/* The decoder against a model: same bytes, same length, NUL flagged exactly
 * when a %00 was decoded; the result is never longer than the input. */
static size_t decode(char *s) {
        size_t in = strlen(s), m = 0;
        char *model = malloc(in + 1);
        bool model_nul = false, nul = true;
        FUZZ_ASSERT(model);
        for (size_t i = 0; i < in; i++) {
                if (s[i] == '%' && i + 2 < in && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                        model[m] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                        model_nul |= model[m] == 0;
                        m++;
                        i += 2;
                } else
                        model[m++] = s[i];
        }
        size_t n = rest_percent_decode(s, &nul);
        FUZZ_ASSERT(n == m && n <= in);
        FUZZ_ASSERT(nul == model_nul);
        FUZZ_ASSERT(memcmp(s, model, n) == 0 && s[n] == 0);
        free(model);
        return n;
}

static void decode_query(char *q) {
        char *save = NULL;
        for (char *arg = strtok_r(q, "&", &save); arg; arg = strtok_r(NULL, "&", &save)) {
                char *eq = strchr(arg, '=');
                if (eq) {
                        *eq = 0;
                        decode(eq + 1);
                }
                decode(arg);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *url = fuzz_cstring(data, size), *q;

        q = strchr(url, '?');
        if (q) {
                *q++ = 0;
                decode_query(q);
        }
        /* A path with a decoded NUL is refused before routing (400). */
        size_t n = decode(url);
        if (n != strlen(url)) {
                free(url);
                return 0;
        }
        for (size_t t = 0; rest_route_tables[t]; t++)
                for (const RestRoute *r = rest_route_tables[t]; r->method; r++)
                        check_match(r->pattern, url);
        free(url);
        return 0;
}
