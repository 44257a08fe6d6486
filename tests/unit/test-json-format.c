/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "json-format.h"

typedef struct {
        const char *format, *text;
        int want;
} Case;

static void run(const Case *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int got = json_format_check(cases[i].format, cases[i].text, strlen(cases[i].text));
                if (got != cases[i].want)
                        fail_msg("%s \"%s\": got %d, want %d", cases[i].format, cases[i].text, got,
                                 cases[i].want);
        }
}

#define RUN(c) run(c, sizeof(c) / sizeof((c)[0]))
#define OK     JSON_FORMAT_OK
#define BAD    JSON_FORMAT_BAD

static void test_dates(void **state) {
        static const Case cases[] = {
                { "date", "2026-12-05", OK },
                { "date", "2024-02-29", OK },  /* leap year */
                { "date", "2000-02-29", OK },  /* divisible by 400 */
                { "date", "1900-02-29", BAD }, /* by 100, not by 400 */
                { "date", "2026-02-29", BAD },
                { "date", "2026-04-31", BAD },
                { "date", "2026-13-01", BAD },
                { "date", "2026-00-10", BAD },
                { "date", "2026-12-00", BAD },
                { "date", "2026-1-05", BAD },
                { "date", "2026-12-05x", BAD },
                { "date", "", BAD },
                { "date-time", "2026-12-05T08:30:00+08:00", OK },
                { "date-time", "2026-12-05t08:30:00z", OK },
                { "date-time", "2026-12-05 08:30:00Z", OK }, /* RFC 3339's readable form */
                { "date-time", "2026-12-31T23:59:60Z", OK }, /* a leap second */
                { "date-time", "2026-12-05T08:30:00.123456Z", OK },
                { "date-time", "2026-12-05T08:30:00", BAD }, /* no offset */
                { "date-time", "2026-12-05T24:00:00Z", BAD },
                { "date-time", "2026-12-05T08:60:00Z", BAD },
                { "date-time", "2026-12-05T08:30:61Z", BAD },
                { "date-time", "2026-12-05T08:30:00.Z", BAD }, /* a dot with no digits */
                { "date-time", "2026-12-05T08:30:00+0800", BAD },
                { "date-time", "2026-12-05T08:30:00+24:00", BAD },
                { "date-time", "2026-12-05", BAD },
                { "date-time", "2026年12月5日", BAD },
                { "time", "08:30:00", OK }, /* validators differ on a bare time: taken */
                { "time", "08:30:00.5-05:00", OK },
                { "time", "8:30:00", BAD },
                { "time", "08:30", BAD },
        };
        (void)state;
        RUN(cases);
}

static void test_addresses(void **state) {
        static const Case cases[] = {
                { "ipv4", "10.0.0.1", OK },
                { "ipv4", "255.255.255.255", OK },
                { "ipv4", "0.0.0.0", OK },
                { "ipv4", "256.0.0.1", BAD },
                { "ipv4", "10.0.0", BAD },
                { "ipv4", "10.0.0.1.2", BAD },
                { "ipv4", "010.0.0.1", BAD },
                { "ipv4", "10.0.0.1 ", BAD },
                { "ipv4", "::1", BAD },
                { "ipv6", "::1", OK },
                { "ipv6", "2001:db8::8a2e:370:7334", OK },
                { "ipv6", "::ffff:10.0.0.1", OK },
                { "ipv6", "2001:db8::1::2", BAD },
                { "ipv6", "fe80::1%eth0", BAD },
                { "ipv6", "12345::", BAD },
                { "ipv6", "10.0.0.1", BAD },
                { "hostname", "db.linfen.gov.cn", OK },
                { "hostname", "db.linfen.gov.cn.", OK },
                { "hostname", "1st-host", OK },
                { "hostname", "-db.linfen", BAD },
                { "hostname", "db-.linfen", BAD },
                { "hostname", "db..linfen", BAD },
                { "hostname", "db_1.linfen", BAD },
                { "hostname", "数据库.cn", BAD }, /* that is idn-hostname */
                { "hostname", "", BAD },
                { "email", "ops@linfen.gov.cn", OK },
                { "email", "first.last+tag@linfen.gov.cn", OK },
                { "email", "\"ops desk\"@linfen.gov.cn", OK },
                { "email", "ops@[10.0.0.1]", OK },
                { "email", "not an address", BAD },
                { "email", "ops@", BAD },
                { "email", "@linfen.gov.cn", BAD },
                { "email", "ops desk@linfen.gov.cn", BAD },
                { "email", "ops@linfen..cn", BAD },
                { "email", ".ops@linfen.cn", BAD },
                { "email", "\"\"@linfen.cn", BAD },
                { "uuid", "0f8e4c2a-3b1d-4e6f-9a7b-1c2d3e4f5a6b", OK },
                { "uuid", "0F8E4C2A-3B1D-4E6F-9A7B-1C2D3E4F5A6B", OK },
                { "uuid", "urn:uuid:0f8e4c2a-3b1d-4e6f-9a7b-1c2d3e4f5a6b", OK },
                { "uuid", "0f8e4c2a3b1d4e6f9a7b1c2d3e4f5a6b", BAD },
                { "uuid", "0f8e4c2a-3b1d-4e6f-9a7b-1c2d3e4f5a6g", BAD },
                { "uri", "https://oa.linfen.gov.cn/path?q=1#f", OK },
                { "uri", "urn:isbn:0451450523", OK },
                { "uri", "mailto:ops@linfen.gov.cn", OK },
                { "uri", "/relative/path", BAD },
                { "uri", "https://oa.linfen.gov.cn/a b", BAD },
                { "uri", "https://oa.linfen.gov.cn/%zz", BAD },
                { "uri", "1http://x", BAD },
        };
        (void)state;
        RUN(cases);
}

static void test_unknown_and_nul(void **state) {
        static const char with_nul[] = "10.0.0.1\0junk";
        (void)state;
        assert_int_equal(json_format_check("regex", "(", 1), JSON_FORMAT_UNKNOWN);
        assert_int_equal(json_format_check("idn-email", "x", 1), JSON_FORMAT_UNKNOWN);
        assert_int_equal(json_format_check("ipv4", with_nul, sizeof(with_nul) - 1), JSON_FORMAT_BAD);
        assert_int_equal(json_format_check("ipv4", with_nul, 8), JSON_FORMAT_OK);
        assert_null(json_format_describe("uri-reference"));
        assert_non_null(strstr(json_format_describe("date-time"), "RFC 3339"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dates),
                cmocka_unit_test(test_addresses),
                cmocka_unit_test(test_unknown_and_nul),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
