/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The REST route matcher (daemon/rest/): every route of the table is found
 * for its own method and no other route stands in front of it; an unknown
 * path is 404 and a known path with another method 405 with the methods it
 * allows; ids arrive percent-decoded; one trailing slash is the same path,
 * empty segments are not; over-long paths and captures match nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rest.h"

/* The daemon's own buffer for captures is this size (rest.c dispatch). */
#define PARAMBUF 512

typedef struct Found {
        const RestRoute *route;
        bool path_known;
        char allow[128];
        char buf[PARAMBUF];
        const char *params[REST_MAX_PARAMS];
        size_t n_params;
} Found;

static void find(const char *method, const char *path, Found *f) {
        *f = (Found){ 0 };
        f->route = rest_route_find(method, path, f->buf, sizeof(f->buf), f->params, &f->n_params,
                                   &f->path_known, f->allow, sizeof(f->allow));
}

/* The pattern with its n-th capture replaced by "seg-n". */
static void concrete(const char *pattern, char *ret, size_t size, size_t *ret_n) {
        size_t used = 0, n = 0;
        for (const char *p = pattern; *p && used + 1 < size;) {
                if (*p == '{') {
                        used += (size_t)snprintf(ret + used, size - used, "seg-%zu", n++);
                        p = strchr(p, '}');
                        assert_non_null(p);
                        p++;
                } else
                        ret[used++] = *p++;
        }
        ret[used] = 0;
        *ret_n = n;
}

static void test_every_route_is_found(void **state) {
        size_t total = 0;
        (void)state;

        for (size_t t = 0; rest_route_tables[t]; t++)
                for (const RestRoute *rt = rest_route_tables[t]; rt->method; rt++) {
                        char path[256], slashed[260];
                        size_t n;
                        Found f;

                        concrete(rt->pattern, path, sizeof(path), &n);
                        find(rt->method, path, &f);
                        if (f.route != rt)
                                fail_msg("%s %s: found %s %s", rt->method, path,
                                         f.route ? f.route->method : "-",
                                         f.route ? f.route->pattern : "nothing");
                        assert_int_equal(f.n_params, n);
                        for (size_t i = 0; i < n; i++) {
                                char want[32];
                                snprintf(want, sizeof(want), "seg-%zu", i);
                                assert_string_equal(f.params[i], want);
                        }
                        /* One trailing slash is the same resource. */
                        snprintf(slashed, sizeof(slashed), "%s/", path);
                        find(rt->method, slashed, &f);
                        assert_ptr_equal(f.route, rt);
                        /* HEAD is answered by the GET route. */
                        if (streq(rt->method, "GET")) {
                                find("HEAD", path, &f);
                                assert_ptr_equal(f.route, rt);
                        }
                        total++;
                }
        /* The table is what the daemon serves: not empty, and it grew with the approvals. */
        assert_true(total >= 40);
        Found f;
        find("GET", "/v1/approvals/x", &f);
        assert_non_null(f.route);
        assert_string_equal(f.route->pattern, "/v1/approvals/{no}");
}

static void test_unknown_paths(void **state) {
        static const char *const paths[] = {
                "",
                "/",
                "/v1",
                "/v1/",
                "/v1/nothing",
                "/v3/catalog",
                "/V1/projects",
                "v1/projects",
                "//v1/projects",
                "/v1//projects",
                "/v1/projects//",
                "/v1/projects/p1/nothing",
                "/v1/projects/p1/milestones/extra",
                "/v1/projects//milestones", /* an empty id is no id */
                "/v1/catalog/services/a/b",
                "/v1/health/",
                "/v1/healthz",
                "/v1/health/x",
        };
        (void)state;

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                Found f;
                find("GET", paths[i], &f);
                /* "/v1/health/" is /v1/health with its one trailing slash. */
                if (streq(paths[i], "/v1/health/")) {
                        assert_non_null(f.route);
                        continue;
                }
                if (f.route || f.path_known)
                        fail_msg("GET '%s' found %s", paths[i], f.route ? f.route->pattern : "(405)");
                find("POST", paths[i], &f);
                assert_null(f.route);
                assert_false(f.path_known);
        }
}

static void test_wrong_method(void **state) {
        Found f;
        (void)state;

        find("DELETE", "/v1/projects", &f);
        assert_null(f.route);
        assert_true(f.path_known); /* 405, not 404 */
        assert_string_equal(f.allow, "GET, HEAD");
        find("PUT", "/v1/approvals", &f);
        assert_null(f.route);
        assert_true(f.path_known);
        assert_string_equal(f.allow, "POST, GET, HEAD");
        find("GET", "/v1/projects/p1/suspend", &f);
        assert_null(f.route);
        assert_string_equal(f.allow, "POST");
        find("DELETE", "/v1/approvals/临政信审〔2026〕1号", &f);
        assert_null(f.route);
        assert_string_equal(f.allow, "GET, HEAD");
        find("BREW", "/v1/health", &f);
        assert_null(f.route);
        assert_true(f.path_known);
        find("get", "/v1/health", &f); /* methods are case-sensitive (RFC 9110 9.1) */
        assert_null(f.route);
        find("PUT", "/v1/systems/s1", &f);
        assert_non_null(f.route);
        assert_string_equal(f.route->method, "PUT");
        assert_string_equal(f.params[0], "s1");
        find("DELETE", "/v1/resources/r-1", &f);
        assert_non_null(f.route);
        assert_string_equal(f.route->method, "DELETE");
}

/* The path as libmicrohttpd hands it on: decoded by the daemon's own rule. */
static void find_decoded(const char *method, const char *raw, Found *f, bool *ret_nul) {
        char path[1024];
        snprintf(path, sizeof(path), "%s", raw);
        rest_percent_decode(path, ret_nul);
        find(method, path, f);
}

static void test_percent_encoded_ids(void **state) {
        Found f;
        bool nul;
        (void)state;

        find_decoded("GET", "/v1/projects/p%2d1", &f, &nul);
        assert_non_null(f.route);
        assert_string_equal(f.params[0], "p-1");
        assert_false(nul);
        /* UTF-8, as approval numbers are. */
        find_decoded("GET",
                     "/v1/approvals/%E4%B8%B4%E6%94%BF%E4%BF%A1%E5%AE%A1%E3%80%942026%E3%80%951%E5%8F%B7", &f,
                     &nul);
        assert_non_null(f.route);
        assert_string_equal(f.route->pattern, "/v1/approvals/{no}");
        assert_string_equal(f.params[0], "临政信审〔2026〕1号");
        /* Encoded literal segments are the same segments. */
        find_decoded("GET", "/v1/%70rojects", &f, &nul);
        assert_non_null(f.route);
        assert_string_equal(f.route->pattern, "/v1/projects");
        /* An encoded slash is a slash: it cannot hide inside an id. */
        find_decoded("GET", "/v1/approvals/2026%2F91", &f, &nul);
        assert_null(f.route);
        assert_false(f.path_known);
        find_decoded("GET", "/v1/systems/a%2f..%2fb", &f, &nul);
        assert_null(f.route);
        /* A bad escape stays as it is (the core then finds no such id). */
        find_decoded("GET", "/v1/projects/a%zz%4", &f, &nul);
        assert_non_null(f.route);
        assert_string_equal(f.params[0], "a%zz%4");
        find_decoded("GET", "/v1/projects/%%41", &f, &nul);
        assert_string_equal(f.params[0], "%A");
        /* A decoded NUL is noted: the daemon refuses the request. */
        find_decoded("GET", "/v1/projects/p1%00/suspend", &f, &nul);
        assert_true(nul);
}

static void test_over_long(void **state) {
        char path[PARAMBUF + 64], *huge;
        Found f;
        (void)state;

        /* An id that fills the capture buffer exactly still matches... */
        memcpy(path, "/v1/projects/", 13);
        memset(path + 13, 'a', PARAMBUF - 1);
        path[13 + PARAMBUF - 1] = 0;
        find("GET", path, &f);
        assert_non_null(f.route);
        assert_int_equal(strlen(f.params[0]), PARAMBUF - 1);
        /* ...one byte more matches nothing: 404, never a cut id. */
        memset(path + 13, 'a', PARAMBUF);
        path[13 + PARAMBUF] = 0;
        find("GET", path, &f);
        assert_null(f.route);
        assert_false(f.path_known);
        /* A path far beyond any route, and one of many segments. */
        huge = malloc(100001);
        assert_non_null(huge);
        memset(huge, 'x', 100000);
        huge[0] = '/';
        huge[100000] = 0;
        find("GET", huge, &f);
        assert_null(f.route);
        for (size_t i = 0; i + 1 < 100000; i += 2)
                huge[i] = '/';
        find("GET", huge, &f);
        assert_null(f.route);
        assert_false(f.path_known);
        free(huge);
        /* A small capture buffer: the match fails instead of overflowing. */
        {
                char small[4];
                const char *params[REST_MAX_PARAMS];
                size_t n = 0;
                assert_false(rest_route_match("/v1/projects/{id}", "/v1/projects/abcd", small, sizeof(small),
                                              params, &n));
                assert_true(rest_route_match("/v1/projects/{id}", "/v1/projects/abc", small, sizeof(small),
                                             params, &n));
                assert_string_equal(params[0], "abc");
        }
}

/* RFC 7240 Prefer: only a well-formed wait is read; anything else is 0 (ignored). */
static void test_prefer_wait(void **state) {
        (void)state;
        assert_int_equal(rest_parse_prefer_wait(NULL), 0);
        assert_int_equal(rest_parse_prefer_wait(""), 0);
        assert_int_equal(rest_parse_prefer_wait("wait=5"), 5);
        assert_int_equal(rest_parse_prefer_wait("respond-async, wait=10"), 10);
        assert_int_equal(rest_parse_prefer_wait("Wait = 7 ; x=y"), 7);
        assert_int_equal(rest_parse_prefer_wait("waitress=4, wait=2"), 2);
        assert_int_equal(rest_parse_prefer_wait("wait=soon"), 0);
        assert_int_equal(rest_parse_prefer_wait("wait=5s"), 0);
        assert_int_equal(rest_parse_prefer_wait("wait"), 0);
        assert_int_equal(rest_parse_prefer_wait("wait=-1"), 0);
        assert_int_equal(rest_parse_prefer_wait("wait=3600"), REST_PREFER_WAIT_MAX_S);
        assert_int_equal(rest_parse_prefer_wait("wait=99999999999999999999"), REST_PREFER_WAIT_MAX_S);
        assert_int_equal(rest_parse_prefer_wait("return=minimal"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_route_is_found),
                cmocka_unit_test(test_unknown_paths),
                cmocka_unit_test(test_wrong_method),
                cmocka_unit_test(test_percent_encoded_ids),
                cmocka_unit_test(test_over_long),
                cmocka_unit_test(test_prefer_wait),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
