/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The working-day calendar behind the deadlines of regulation Art. 18 (contract
 * filed within 5 working days) and Art. 25 (acceptance report within 30).
 *
 * Promise: a working day is Monday to Friday, minus the public holidays, plus
 * the adjusted working weekends (调休) that a year's file declares. A year
 * without a file is counted Monday to Friday, and every answer that looked at
 * such a year says so (provisional), because its official notice has not
 * been installed yet.
 *
 * Files are data, one per year, in the line format documented in
 * etc/calendar/2026.txt. A load either takes the whole file (or directory)
 * or leaves the calendar exactly as it was.
 *
 * Dates are "YYYY-MM-DD" strings, years 0001-9999, checked for existence
 * (2026-02-30 is refused). Arithmetic is on integer day numbers: no time
 * zone, locale or libc time function is involved.
 */

#include <stdbool.h>
#include <stdint.h>

#include "date.h"
#include "error.h"

/* The largest n calendar_add_working_days() accepts: ten years of days. */
#define CALENDAR_MAX_WORKING_DAYS 3660U

typedef struct Calendar Calendar;

int calendar_new(Calendar **ret);
Calendar *calendar_free(Calendar *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Calendar *, calendar_free);

/* Loads one year file. Loading a year that is already present replaces it
 * (the operator installed a corrected notice). On any error: CB_ERR_VALIDATION
 * with the message "path:line: what is wrong", and the calendar unchanged. */
int calendar_load_file(Calendar *c, const char *path, CbError *err);
/* Loads every *.txt in dir, all or nothing; two files of the same year are
 * refused. A directory without any *.txt is not an error. */
int calendar_load_dir(Calendar *c, const char *dir, CbError *err);

bool calendar_has_year(const Calendar *c, int year);
/* False for a date that does not exist. */
bool calendar_is_working_day(const Calendar *c, int y, int m, int d);

/* The nth working day after date_ymd (the date itself never counts), as
 * "YYYY-MM-DD" in ret_date. *ret_provisional is true when any day examined
 * lay in a year without a file. n = 0 returns the date itself, not
 * provisional. -EINVAL: bad date; -ERANGE: n > CALENDAR_MAX_WORKING_DAYS or
 * the result would leave years 0001-9999. */
int calendar_add_working_days(const Calendar *c, const char *date_ymd, unsigned n,
                              char ret_date[DATE_LEN + 1], bool *ret_provisional);

/* Convenience for the daemon's milestone checks: is `today` past the
 * deadline of n working days after event_ymd? The deadline day itself is
 * still on time. */
int calendar_is_overdue(const Calendar *c, const char *event_ymd, unsigned n, const char *today_ymd,
                        bool *ret_overdue, bool *ret_provisional);

/* Calendar days from `from` to `to` (negative when to is earlier);
 * -EINVAL when either is not a date. */
int calendar_days_between(const char *from, const char *to, int64_t *ret);

/* 0 = Sunday ... 6 = Saturday; -EINVAL for a date that does not exist. */
int calendar_weekday(int y, int m, int d);
