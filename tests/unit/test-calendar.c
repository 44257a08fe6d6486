/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The working-day calendar: the shipped 2025/2026 files against the facts of
 * the State Council notices (counted by hand, not by the code under test),
 * the deadline arithmetic, and every refusal of a bad year file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>

#include "calendar.h"

static char tmpdir[64];

static int setup_tmpdir(void **state) {
        (void)state;
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-calendar-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static void empty_dir(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char p[512];

        if (!d)
                return;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                if (unlink(p) < 0) {
                        empty_dir(p);
                        rmdir(p);
                }
        }
        closedir(d);
}

static int teardown_tmpdir(void **state) {
        (void)state;
        empty_dir(tmpdir);
        return rmdir(tmpdir);
}

/* Writes content to tmpdir/name (subdirectories created on demand) and
 * returns the path in a static buffer. */
static const char *write_file(const char *name, const char *content) {
        static char path[512];
        char *slash;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        slash = strrchr(path, '/');
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';

        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        return path;
}

static Calendar *shipped(void) {
        Calendar *c = NULL;
        CbError err = CB_ERROR_INIT;

        assert_int_equal(calendar_new(&c), 0);
        assert_int_equal(calendar_load_dir(c, "etc/calendar", &err), 0);
        assert_int_equal(err.kind, CB_ERR_NONE);
        return c;
}

static void expect_deadline(const Calendar *c, const char *from, unsigned n, const char *due,
                            bool provisional) {
        char got[DATE_LEN + 1] = "";
        bool prov = !provisional;

        assert_int_equal(calendar_add_working_days(c, from, n, got, &prov), 0);
        assert_string_equal(got, due);
        assert_int_equal(prov, provisional);
}

/* ---- dates ---- */

static void test_date_parse(void **state) {
        int y = 0, m = 0, d = 0;
        (void)state;

        assert_int_equal(date_parse("2026-02-28", &y, &m, &d), 0);
        assert_int_equal(y, 2026);
        assert_int_equal(m, 2);
        assert_int_equal(d, 28);
        assert_true(date_is_valid("2024-02-29"));
        assert_true(date_is_valid("2000-02-29"));
        assert_true(date_is_valid("0001-01-01"));
        assert_true(date_is_valid("9999-12-31"));

        static const char *const bad[] = {
                "2026-02-30", "2026-02-29",  "2100-02-29",  "2026-04-31",  "2026-13-01", "2026-00-10",
                "2026-01-00", "0000-01-01",  "2026-1-01",   "2026-01-011", "2026/01/01", "20260101",
                "",           " 2026-01-01", "2026-01-01 ", "2026-0a-01",  "+026-01-01",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                y = -1;
                assert_int_equal(date_parse(bad[i], &y, &m, &d), -EINVAL);
                assert_int_equal(y, -1); /* out-params untouched on failure */
        }
        assert_int_equal(date_parse(NULL, &y, &m, &d), -EINVAL);
}

static void test_date_compare_weekday(void **state) {
        (void)state;
        assert_true(date_compare("2026-01-31", "2026-02-01") < 0);
        assert_true(date_compare("2027-01-01", "2026-12-31") > 0);
        assert_int_equal(date_compare("2026-05-05", "2026-05-05"), 0);

        assert_int_equal(calendar_weekday(1970, 1, 1), 4); /* Thursday */
        assert_int_equal(calendar_weekday(2000, 1, 1), 6); /* Saturday */
        assert_int_equal(calendar_weekday(2026, 1, 1), 4);
        assert_int_equal(calendar_weekday(2026, 11, 2), 1);
        assert_int_equal(calendar_weekday(2025, 12, 31), 3);
        assert_int_equal(calendar_weekday(1, 1, 1), 1); /* proleptic Gregorian */
        assert_int_equal(calendar_weekday(2026, 2, 30), -EINVAL);
}

/* ---- the shipped files ---- */

static void test_worked_examples(void **state) {
        Calendar *c = shipped();
        (void)state;

        expect_deadline(c, "2026-11-02", 5, "2026-11-09", false);
        expect_deadline(c, "2026-09-28", 5, "2026-10-10", false);
        expect_deadline(c, "2026-02-13", 5, "2026-02-27", false);
        calendar_free(c);
}

static void test_shipped_days(void **state) {
        Calendar *c = shipped();
        (void)state;

        assert_true(calendar_has_year(c, 2025));
        assert_true(calendar_has_year(c, 2026));
        assert_false(calendar_has_year(c, 2027));
        assert_false(calendar_has_year(c, 2024));

        /* holiday on a weekday: not counted */
        assert_false(calendar_is_working_day(c, 2026, 10, 5));
        assert_false(calendar_is_working_day(c, 2026, 2, 23));
        assert_false(calendar_is_working_day(c, 2025, 1, 1));
        assert_false(calendar_is_working_day(c, 2025, 10, 8));
        /* adjusted weekend days: counted */
        assert_true(calendar_is_working_day(c, 2026, 1, 4)); /* Sunday */
        assert_true(calendar_is_working_day(c, 2026, 9, 20));
        assert_true(calendar_is_working_day(c, 2025, 4, 27));
        assert_true(calendar_is_working_day(c, 2025, 10, 11)); /* Saturday */
        /* ordinary days */
        assert_true(calendar_is_working_day(c, 2026, 3, 2));
        assert_false(calendar_is_working_day(c, 2026, 3, 7));
        assert_false(calendar_is_working_day(c, 2026, 2, 30));
        calendar_free(c);
}

/* 261 weekdays in each year, minus the holidays that fall on weekdays (2025:
 * 18, 2026: 19), plus the adjusted days (2025: 5, 2026: 6), counted from the
 * notices by hand. */
static void test_shipped_year_totals(void **state) {
        Calendar *c = shipped();
        (void)state;

        for (int year = 2025; year <= 2026; year++) {
                int n = 0;
                for (int m = 1; m <= 12; m++)
                        for (int d = 1; d <= 31; d++)
                                n += calendar_is_working_day(c, year, m, d);
                assert_int_equal(n, 248);
        }
        calendar_free(c);
}

static void test_thirty_working_days(void **state) {
        Calendar *c = shipped();
        (void)state;

        /* Completion Friday 2025-09-26: 09-28 (adjusted Sunday), 09-29, 09-30,
         * the National Day break, 10-09, 10-10, 10-11 (adjusted Saturday),
         * then full weeks: the 30th is Thursday 2025-11-13. */
        expect_deadline(c, "2025-09-26", 30, "2025-11-13", false);
        /* Completion Tuesday 2026-01-20: 18 days to 02-13, 02-14 (adjusted),
         * Spring Festival off 02-15..02-23, 02-24..02-27, 02-28 (adjusted),
         * 03-02..03-06, the 30th is Monday 2026-03-09. */
        expect_deadline(c, "2026-01-20", 30, "2026-03-09", false);
        /* Across the year end into the 2026 New Year break, ending on its
         * adjusted Sunday. */
        expect_deadline(c, "2025-12-25", 5, "2026-01-04", false);
        /* Across both, counted on: 11-14 is 31, five-day weeks to 12-26
         * (61), 12-29..12-31 (64), New Year off 01-01..01-03, 01-04 adjusted
         * Sunday (65), weeks to 02-13 (95), 02-14 adjusted Saturday (96),
         * Spring Festival off, 02-24..02-27 (100). */
        expect_deadline(c, "2025-09-26", 100, "2026-02-27", false);
        calendar_free(c);
}

static void test_provisional(void **state) {
        Calendar *c = shipped();
        (void)state;

        /* 2027 has no file: Monday to Friday, provisional. */
        expect_deadline(c, "2027-03-01", 5, "2027-03-08", true);
        expect_deadline(c, "2027-09-30", 5, "2027-10-07", true); /* no National Day known */
        /* Starting in 2026 and ending in 2027. */
        expect_deadline(c, "2026-12-28", 5, "2027-01-04", true);
        expect_deadline(c, "2026-12-31", 1, "2027-01-01", true);
        /* Ending on the last day of 2026: nothing of 2027 was examined. */
        expect_deadline(c, "2026-12-30", 1, "2026-12-31", false);
        expect_deadline(c, "2026-12-21", 3, "2026-12-24", false);
        /* An empty calendar: everything provisional, plain weekdays. */
        Calendar *e = NULL;
        assert_int_equal(calendar_new(&e), 0);
        expect_deadline(e, "2026-02-13", 5, "2026-02-20", true);
        assert_true(calendar_is_working_day(e, 2026, 10, 5));
        calendar_free(e);
        calendar_free(c);
}

static void test_add_bounds(void **state) {
        Calendar *c = shipped();
        char due[DATE_LEN + 1] = "unchanged";
        bool prov = true;
        (void)state;

        expect_deadline(c, "2026-10-03", 0, "2026-10-03", false);
        assert_int_equal(calendar_add_working_days(c, "2026-01-01", CALENDAR_MAX_WORKING_DAYS, due, &prov),
                         0);
        assert_true(prov);
        assert_int_equal(
                calendar_add_working_days(c, "2026-01-01", CALENDAR_MAX_WORKING_DAYS + 1, due, &prov),
                -ERANGE);
        assert_int_equal(calendar_add_working_days(c, "9999-12-31", 1, due, &prov), -ERANGE);
        assert_int_equal(calendar_add_working_days(c, "2026-02-30", 1, due, &prov), -EINVAL);
        assert_int_equal(calendar_add_working_days(c, NULL, 1, due, &prov), -EINVAL);
        assert_int_equal(calendar_add_working_days(c, "2026-02-13", 1, due, &prov), 0);
        assert_string_equal(due, "2026-02-14");
        assert_false(prov);
        calendar_free(c);
}

static void test_overdue(void **state) {
        Calendar *c = shipped();
        bool overdue = true, prov = true;
        (void)state;

        /* Due 2026-10-10: filing on the day is in time, the day after is late. */
        assert_int_equal(calendar_is_overdue(c, "2026-09-28", 5, "2026-10-10", &overdue, &prov), 0);
        assert_false(overdue);
        assert_false(prov);
        assert_int_equal(calendar_is_overdue(c, "2026-09-28", 5, "2026-10-11", &overdue, &prov), 0);
        assert_true(overdue);
        assert_int_equal(calendar_is_overdue(c, "2026-12-28", 5, "2027-01-05", &overdue, &prov), 0);
        assert_true(overdue);
        assert_true(prov);
        assert_int_equal(calendar_is_overdue(c, "2026-09-28", 5, "2026-10-32", &overdue, &prov), -EINVAL);
        calendar_free(c);
}

/* ---- refusals ---- */

static const char good_2026[] = "year 2026\n"
                                "holiday 2026-10-01 2026-10-07 国庆节\n"
                                "workday 2026-10-10\n";

/* The calendar after a refused load: still exactly good_2026. */
static void expect_good_2026_only(const Calendar *c) {
        assert_true(calendar_has_year(c, 2026));
        assert_false(calendar_has_year(c, 2025));
        assert_false(calendar_has_year(c, 2027));
        assert_false(calendar_is_working_day(c, 2026, 10, 5));
        assert_true(calendar_is_working_day(c, 2026, 10, 10));
        assert_true(calendar_is_working_day(c, 2026, 3, 2));
        assert_true(calendar_is_working_day(c, 2026, 2, 16)); /* this file has no Spring Festival */
}

static void expect_refused(const char *name, const char *content, const char *message_after_path) {
        Calendar *c = NULL;
        CbError err = CB_ERROR_INIT;
        char expected[1024];

        assert_int_equal(calendar_new(&c), 0);
        assert_int_equal(calendar_load_file(c, write_file("good/2026.txt", good_2026), &err), 0);

        const char *path = write_file(name, content);
        snprintf(expected, sizeof(expected), "%s:%s", path, message_after_path);
        assert_int_equal(calendar_load_file(c, path, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_string_equal(err.message, expected);
        expect_good_2026_only(c);
        calendar_free(c);
}

static void test_refuse_bad_date(void **state) {
        (void)state;
        expect_refused("bad/a.txt", "# x\nyear 2026\nholiday 2026-02-30 nope\n",
                       "3: not a valid date (YYYY-MM-DD): \"2026-02-30\"");
        expect_refused("bad/a.txt", "year 2026\nholiday 2026-02-27 2026-02-30\n",
                       "2: not a valid date (YYYY-MM-DD): \"2026-02-30\"");
        expect_refused("bad/a.txt", "year 2026\n\nworkday 26-02-28\n",
                       "3: not a valid date (YYYY-MM-DD): \"26-02-28\"");
        expect_refused("bad/a.txt", "year 2026\nholiday\n",
                       "2: \"holiday\" needs a date: holiday FROM [TO] [NAME]");
        expect_refused("bad/a.txt", "year 2026\nworkday\n",
                       "2: \"workday\" needs a date: workday DATE [NAME]");
}

static void test_refuse_outside_year(void **state) {
        (void)state;
        expect_refused("bad/a.txt", "year 2026\nholiday 2025-12-31 元旦\n",
                       "2: 2025-12-31 is outside the declared year 2026");
        expect_refused("bad/a.txt", "year 2026\nholiday 2026-12-31 2027-01-01\n",
                       "2: 2027-01-01 is outside the declared year 2026");
        expect_refused("bad/2026.txt", "year 2025\nholiday 2025-01-01\n",
                       "1: file name says 2026 but the file declares year 2025");
}

static void test_refuse_overlap(void **state) {
        (void)state;
        expect_refused("bad/a.txt",
                       "year 2026\n"
                       "holiday 2026-10-01 2026-10-07\n"
                       "# the Mid-Autumn festival, mistyped\n"
                       "holiday 2026-10-06 2026-10-08\n",
                       "4: 2026-10-06 is already declared on line 2");
        expect_refused("bad/a.txt", "year 2026\nworkday 2026-10-10\nworkday 2026-10-10 again\n",
                       "3: 2026-10-10 is already declared on line 2");
        expect_refused("bad/a.txt", "year 2026\nholiday 2026-01-01 2026-01-04\nworkday 2026-01-04\n",
                       "3: 2026-01-04 is already declared on line 2");
        expect_refused("bad/a.txt", "year 2026\nholiday 2026-10-07 2026-10-01\n",
                       "2: holiday ends (2026-10-01) before it starts (2026-10-07)");
}

static void test_refuse_workday_not_weekend(void **state) {
        (void)state;
        expect_refused(
                "bad/a.txt", "year 2026\nworkday 2026-10-09 Friday\n",
                "2: workday 2026-10-09 is a Friday; an adjusted working day falls on a Saturday or Sunday");
        expect_refused(
                "bad/a.txt", "year 2026\n\tworkday\t2026-11-02\n",
                "2: workday 2026-11-02 is a Monday; an adjusted working day falls on a Saturday or Sunday");
}

static void test_refuse_structure(void **state) {
        (void)state;
        expect_refused("bad/a.txt", "holiday 2026-01-01\nyear 2026\n", "1: entry before the \"year\" line");
        expect_refused("bad/a.txt", "# only a comment\n\n", "2: no \"year\" line");
        expect_refused("bad/a.txt", "", "0: no \"year\" line");
        expect_refused("bad/a.txt", "year 2026\nyear 2026\n", "2: second \"year\" line (first on line 1)");
        expect_refused("bad/a.txt", "year 26\n", "1: \"year\" needs a four-digit year, got \"26\"");
        expect_refused("bad/a.txt", "year 0000\n", "1: \"year\" needs a four-digit year, got \"0000\"");
        expect_refused("bad/a.txt", "year 2026 2027\n", "1: \"year\" takes exactly one value");
        expect_refused("bad/a.txt", "year 2026\nholidays 2026-01-01\n",
                       "2: unknown keyword (expected year, holiday or workday): \"holidays\"");

        char longline[1200];
        memset(longline, 'x', sizeof(longline));
        memcpy(longline, "year 2026\n# ", 12);
        longline[sizeof(longline) - 2] = '\n';
        longline[sizeof(longline) - 1] = '\0';
        expect_refused("bad/a.txt", longline, "2: line longer than 1024 bytes");
}

static void test_accept_variants(void **state) {
        Calendar *c = NULL;
        CbError err = CB_ERROR_INIT;
        (void)state;

        assert_int_equal(calendar_new(&c), 0);
        /* BOM, CRLF, tabs, trailing blanks, a name that is not a date, a
         * single-day holiday on a weekend. */
        const char *p = write_file("variants/x.txt", "\xEF\xBB\xBF# bom\r\n"
                                                     "year\t2026  \r\n"
                                                     "  holiday 2026-03-02 extra day off\r\n"
                                                     "holiday 2026-03-07\r\n"
                                                     "workday 2026-03-08 name with 2026-01-01 inside\r\n");
        assert_int_equal(calendar_load_file(c, p, &err), 0);
        assert_false(calendar_is_working_day(c, 2026, 3, 2));
        assert_false(calendar_is_working_day(c, 2026, 3, 7));
        assert_true(calendar_is_working_day(c, 2026, 3, 8));
        assert_true(calendar_is_working_day(c, 2026, 1, 1)); /* the name was not read as a date */

        /* Loading the same year again replaces it. */
        p = write_file("variants/y.txt", "year 2026\nholiday 2026-03-03\n");
        assert_int_equal(calendar_load_file(c, p, &err), 0);
        assert_true(calendar_is_working_day(c, 2026, 3, 2));
        assert_false(calendar_is_working_day(c, 2026, 3, 3));

        /* A year of nothing but holidays: the deadline moves into the next
         * year and the loop still ends. */
        p = write_file("variants/z.txt", "year 2026\nholiday 2026-01-01 2026-12-31\n");
        assert_int_equal(calendar_load_file(c, p, &err), 0);
        expect_deadline(c, "2026-01-01", 1, "2027-01-01", true);
        calendar_free(c);
}

static void test_missing_file(void **state) {
        Calendar *c = NULL;
        CbError err = CB_ERROR_INIT;
        (void)state;

        assert_int_equal(calendar_new(&c), 0);
        assert_int_equal(calendar_load_file(c, "/nonexistent/2026.txt", &err), -ENOENT);
        assert_int_equal(err.kind, CB_ERR_NOT_FOUND);
        assert_int_equal(calendar_load_dir(c, "/nonexistent", &err), -ENOENT);
        assert_false(calendar_has_year(c, 2026));
        calendar_free(c);
}

static void test_load_dir_all_or_nothing(void **state) {
        Calendar *c = NULL;
        CbError err = CB_ERROR_INIT;
        char dir[256];
        (void)state;

        assert_int_equal(calendar_new(&c), 0);
        assert_int_equal(calendar_load_file(c, write_file("good/2026.txt", good_2026), &err), 0);

        /* One good file, one bad: neither is taken. */
        write_file("mixed/2025.txt", "year 2025\nholiday 2025-01-01\n");
        write_file("mixed/2027.txt", "year 2027\nworkday 2027-01-04\n");
        write_file("mixed/README", "not a calendar\n");
        snprintf(dir, sizeof(dir), "%s/mixed", tmpdir);
        assert_int_equal(calendar_load_dir(c, dir, &err), -EINVAL);
        assert_int_equal(err.kind, CB_ERR_VALIDATION);
        assert_non_null(strstr(err.message, "/mixed/2027.txt:2: workday 2027-01-04 is a Monday"));
        expect_good_2026_only(c);

        /* Two files for the same year. */
        write_file("dup/a.txt", "year 2025\n");
        write_file("dup/b.txt", "year 2025\nholiday 2025-01-01\n");
        snprintf(dir, sizeof(dir), "%s/dup", tmpdir);
        assert_int_equal(calendar_load_dir(c, dir, &err), -EINVAL);
        assert_non_null(strstr(err.message, "/dup/b.txt: year 2025 is also declared by "));
        expect_good_2026_only(c);

        /* A directory without calendars changes nothing and is no error. */
        write_file("none/notes.md", "x\n");
        snprintf(dir, sizeof(dir), "%s/none", tmpdir);
        assert_int_equal(calendar_load_dir(c, dir, &err), 0);
        expect_good_2026_only(c);

        /* The fix: both years arrive together, 2026 stays. */
        write_file("mixed/2027.txt", "year 2027\nworkday 2027-01-03\n");
        snprintf(dir, sizeof(dir), "%s/mixed", tmpdir);
        assert_int_equal(calendar_load_dir(c, dir, &err), 0);
        assert_true(calendar_has_year(c, 2025));
        assert_true(calendar_has_year(c, 2026));
        assert_true(calendar_has_year(c, 2027));
        assert_true(calendar_is_working_day(c, 2027, 1, 3));
        assert_false(calendar_is_working_day(c, 2026, 10, 5));
        calendar_free(c);
}

/* The regulation's calendar is Beijing time, whatever zone the machine
 * keeps: 16:00 UTC is already the next day, 15:59:59 UTC is not; a year
 * turns over at 16:00 UTC on 31 December. */
static void test_date_of_cst(void **state) {
        char d[DATE_LEN + 1];
        (void)state;
        date_of_cst((time_t)1796227199, d); /* 2026-12-02T15:59:59Z */
        assert_string_equal(d, "2026-12-02");
        date_of_cst((time_t)1796227200, d); /* 2026-12-02T16:00:00Z */
        assert_string_equal(d, "2026-12-03");
        date_of_cst((time_t)1798732800, d); /* 2026-12-31T16:00:00Z */
        assert_string_equal(d, "2027-01-01");
        /* Not the process's zone. */
        setenv("TZ", "America/New_York", 1);
        tzset();
        date_of_cst((time_t)1796227200, d);
        assert_string_equal(d, "2026-12-03");
        unsetenv("TZ");
        tzset();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_date_parse),
                cmocka_unit_test(test_date_of_cst),
                cmocka_unit_test(test_date_compare_weekday),
                cmocka_unit_test(test_worked_examples),
                cmocka_unit_test(test_shipped_days),
                cmocka_unit_test(test_shipped_year_totals),
                cmocka_unit_test(test_thirty_working_days),
                cmocka_unit_test(test_provisional),
                cmocka_unit_test(test_add_bounds),
                cmocka_unit_test(test_overdue),
                cmocka_unit_test(test_refuse_bad_date),
                cmocka_unit_test(test_refuse_outside_year),
                cmocka_unit_test(test_refuse_overlap),
                cmocka_unit_test(test_refuse_workday_not_weekend),
                cmocka_unit_test(test_refuse_structure),
                cmocka_unit_test(test_accept_variants),
                cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_load_dir_all_or_nothing),
        };
        return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
