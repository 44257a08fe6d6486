/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Calendar dates as the regulation's records carry them: strict
 * "YYYY-MM-DD" strings, years 1..9999, proleptic Gregorian. Pure, except
 * date_today_cst(), which reads the clock.
 */

#include <stdbool.h>
#include <time.h>

#define DATE_LEN 10

bool date_is_leap(int y);
/* m 1..12. */
int date_days_in_month(int y, int m);
bool date_ymd_valid(int y, int m, int d);

/* Exactly ten characters, digits and dashes, a real date; -EINVAL otherwise.
 * The ret_* are written only on success and may be NULL. */
int date_parse(const char *s, int *ret_y, int *ret_m, int *ret_d);
bool date_is_valid(const char *s);
/* Chronological order of two valid dates: <0, 0, >0. The format is fixed
 * width, so this is the byte order of the first ten characters. */
int date_compare(const char *a, const char *b);

/* The date in China Standard Time (UTC+8, no daylight saving) of t, and
 * today's: the regulation's calendar whatever zone the machine is set to,
 * as billing periods are CST months. A server kept in UTC judged a
 * milestone filed at 9 a.m. in Linfen, dated that day, as "in the
 * future" (it was still yesterday in UTC). */
void date_of_cst(time_t t, char ret[DATE_LEN + 1]);
void date_today_cst(char ret[DATE_LEN + 1]);
