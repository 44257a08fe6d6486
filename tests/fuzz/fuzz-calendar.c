/* SPDX-License-Identifier: Apache-2.0 */
/* A working-day calendar file (calendar_load_file), the format of
 * etc/calendar/2026.txt, loaded into a calendar that already holds the
 * shipped 2026 file. Promises checked beyond no crash: a refused file leaves
 * the calendar exactly as it was (every day of 2026 answers as before); a
 * loaded one answers date arithmetic; the strict date parser agrees with
 * itself. */
#include "calendar.h"
#include "date.h"
#include "fuzz.h"

static Calendar *reference;
static char path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        CbError err = CB_ERROR_INIT;
        (void)argc;
        (void)argv;
        FUZZ_ASSERT(calendar_new(&reference) == 0);
        FUZZ_ASSERT(calendar_load_file(reference, CB_SOURCE_DIR "/etc/calendar/2026.txt", &err) == 0);
        snprintf(path, sizeof(path), "%s/calendar.txt", fuzz_tmpdir());
        return 0;
}

static bool same_2026(const Calendar *a, const Calendar *b) {
        static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        for (int m = 1; m <= 12; m++)
                for (int d = 1; d <= mdays[m - 1]; d++)
                        if (calendar_is_working_day(a, 2026, m, d) != calendar_is_working_day(b, 2026, m, d))
                                return false;
        return true;
}

static void check_date(const uint8_t *data, size_t size) {
        char s[DATE_LEN + 2] = "";
        int y, m, d;

        memcpy(s, data, size < sizeof(s) - 1 ? size : sizeof(s) - 1);
        if (date_parse(s, &y, &m, &d) < 0) {
                FUZZ_ASSERT(!date_is_valid(s));
                return;
        }
        FUZZ_ASSERT(date_is_valid(s) && strlen(s) == DATE_LEN);
        FUZZ_ASSERT(y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
        FUZZ_ASSERT(calendar_weekday(y, m, d) >= 0 && calendar_weekday(y, m, d) <= 6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CbError err = CB_ERROR_INIT;
        Calendar *c = NULL;
        char date[DATE_LEN + 1];
        bool provisional, overdue;
        int r;

        check_date(data, size);
        fuzz_write_file(path, data, size);
        FUZZ_ASSERT(calendar_new(&c) == 0);
        FUZZ_ASSERT(calendar_load_file(c, CB_SOURCE_DIR "/etc/calendar/2026.txt", &err) == 0);
        r = calendar_load_file(c, path, &err);
        fuzz_check_refusal_text(r, &err);
        if (r < 0) {
                FUZZ_ASSERT(err.kind == CB_ERR_VALIDATION || err.kind == CB_ERR_INTERNAL);
                FUZZ_ASSERT(calendar_has_year(c, 2026) && same_2026(c, reference));
        } else {
                FUZZ_ASSERT(calendar_add_working_days(c, "2026-01-01", 30, date, &provisional) == 0);
                FUZZ_ASSERT(date_is_valid(date) && date_compare(date, "2026-01-01") > 0);
                FUZZ_ASSERT(calendar_is_overdue(c, "2026-06-30", 5, date, &overdue, &provisional) == 0);
        }
        calendar_free(c);
        cb_error_clear(&err);
        return 0;
}
