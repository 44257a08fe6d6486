/* SPDX-License-Identifier: Apache-2.0 */
#include "rating.h"

#include <stdio.h>
#include <string.h>

#include "date.h"
#include "deadlines.h"
#include "macro.h"

/* China Standard Time, no daylight saving since 1991. */
#define CST_OFFSET (8 * 3600)
#define PRICE_MAX  INT64_C(10000000000) /* the catalogue's bound on amount_fen */

static int64_t max64(int64_t a, int64_t b) {
        return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b) {
        return a < b ? a : b;
}

static const char *const rating_unit_table[_RATING_UNIT_MAX] = {
        [RATING_UNIT_HOUR] = "hour",
        [RATING_UNIT_MONTH] = "month",
};
DEFINE_STRING_TABLE(rating_unit, RatingUnit, _RATING_UNIT_MAX);

/* Days since 1970-01-01 of a proleptic Gregorian date (y >= 1). */
static int64_t days_from_civil(int y, int m, int d) {
        int64_t days;
        y -= m <= 2;
        int64_t era = y / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        days = era * 146097 + doe - 719468;
        return days;
}

static bool digits(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static int num(const char *s, size_t n) {
        int v = 0;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (s[i] - '0');
        return v;
}

int rating_period_parse(const char *s, RatingPeriod *ret) {
        int y, m;

        if (!s || strlen(s) != RATING_PERIOD_LEN || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2))
                return -EINVAL;
        y = num(s, 4);
        m = num(s + 5, 2);
        if (y < 1970 || y > 9998 || m < 1 || m > 12)
                return -EINVAL;
        *ret = (RatingPeriod){
                .year = y,
                .month = m,
                .start = days_from_civil(y, m, 1) * 86400 - CST_OFFSET,
                .end = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400 - CST_OFFSET,
        };
        memcpy(ret->name, s, RATING_PERIOD_LEN + 1);
        return 0;
}

int rating_parse_time(const char *s, int64_t *ret) {
        int y, mo, d, h, mi, sec;

        /* YYYY-MM-DDTHH:MM:SSZ */
        if (!s || strlen(s) != 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
            !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
            s[16] != ':' || !digits(s + 17, 2) || s[19] != 'Z')
                return -EINVAL;
        y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
        h = num(s + 11, 2), mi = num(s + 14, 2), sec = num(s + 17, 2);
        if (!date_ymd_valid(y, mo, d) || h > 23 || mi > 59 || sec > 59)
                return -EINVAL;
        *ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
        return 0;
}

static int64_t overlap(int64_t a, int64_t b, const RatingPeriod *p) {
        int64_t from = max64(a, p->start), to = min64(b, p->end);
        return to > from ? to - from : 0;
}

int64_t rating_charged_seconds(RatingUnit unit, const RatingSegment *segs, size_t n, const RatingPeriod *p,
                               int64_t now) {
        int64_t total = 0;

        for (size_t i = 0; i < n; i++) {
                int64_t end = i + 1 < n ? segs[i + 1].start : now;
                bool charged = unit == RATING_UNIT_HOUR ? segs[i].active : !segs[i].deleted;
                if (charged)
                        total += overlap(segs[i].start, end, p);
        }
        /* Segments cannot overlap (each ends where the next starts), unless
         * the clock went back: a period never charges more than its length. */
        return min64(total, p->end - p->start);
}

int64_t rating_unit_seconds(RatingUnit unit, const RatingPeriod *p) {
        return unit == RATING_UNIT_HOUR ? 3600 : p->end - p->start;
}

int rating_amount_fen(RatingUnit unit, int64_t price_fen, int64_t seconds, const RatingPeriod *p,
                      int64_t *ret) {
        int64_t d;

        if ((unsigned)unit >= _RATING_UNIT_MAX || price_fen < 0 || price_fen > PRICE_MAX || seconds < 0 ||
            seconds > p->end - p->start)
                return -EINVAL;
        d = rating_unit_seconds(unit, p);
        /* At most 10^10 * 2678400 * 2 < 2^63: half-up as floor((2ps + d) / 2d). */
        *ret = (2 * price_fen * seconds + d) / (2 * d);
        return 0;
}

/* The period (CST month) that second t falls in. */
static int period_of(int64_t t, RatingPeriod *ret) {
        int64_t days = (t + CST_OFFSET) >= 0 ? (t + CST_OFFSET) / 86400 : 0;
        char name[16];
        /* Civil year and month of the day number (Howard Hinnant's inverse of days_from_civil). */
        int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int m = (int)(mp < 10 ? mp + 3 : mp - 9);
        int64_t y = yoe + era * 400 + (m <= 2);
        snprintf(name, sizeof(name), "%04d-%02d", (int)(y % 10000), m);
        return rating_period_parse(name, ret);
}

int rating_next_period(const RatingPeriod *p, RatingPeriod *ret) {
        return period_of(p->end, ret);
}

int rating_period_of(int64_t t, RatingPeriod *ret) {
        return period_of(t, ret);
}

#define BUDGET_MONTHS_MAX 1200

int rating_day_start(const char *today, int64_t *ret) {
        char midnight[32];
        int64_t t;

        if (!today || strlen(today) != DATE_LEN)
                return -EINVAL;
        snprintf(midnight, sizeof(midnight), "%sT00:00:00Z", today);
        if (rating_parse_time(midnight, &t) < 0)
                return -EINVAL;
        *ret = t - CST_OFFSET;
        return 0;
}

/* More resources of one price than any project holds: keeps count * one
 * resource's commitment (at most 10^10 fen * a century of days) in range. */
#define BUDGET_COUNT_MAX 100000000

int rating_budget_times(int64_t one, int64_t count, int64_t *ret) {
        if (count < 0 || count > BUDGET_COUNT_MAX || one < 0 || (one > 0 && count > INT64_MAX / one))
                return -EINVAL;
        *ret = one * count;
        return 0;
}

int rating_budget_committed(RatingUnit unit, int64_t price_fen, int64_t count, const char *today,
                            const char *valid_until, int64_t *ret) {
        int64_t day_start, one;

        if ((unsigned)unit >= _RATING_UNIT_MAX || price_fen < 0 || price_fen > PRICE_MAX || count < 0 ||
            count > BUDGET_COUNT_MAX || rating_day_start(today, &day_start) < 0)
                return -EINVAL;
        one = deadlines_projected_cost_fen(price_fen,
                                           unit == RATING_UNIT_HOUR ? PRICE_PER_HOUR : PRICE_PER_MONTH, 1,
                                           today, valid_until);
        return rating_budget_times(one, count, ret);
}

int rating_budget_spend(RatingUnit unit, int64_t price_fen, const RatingSegment *segs, size_t n,
                        const char *today, const char *valid_until, int64_t *ret_charged,
                        int64_t *ret_committed) {
        int64_t day_start, charged = 0, committed = 0;
        RatingPeriod p;

        if ((unsigned)unit >= _RATING_UNIT_MAX || price_fen < 0 || price_fen > PRICE_MAX ||
            rating_day_start(today, &day_start) < 0)
                return -EINVAL;
        /* The past as the statements charge it: each month's line, rounded
         * once, up to the start of today. */
        if (n > 0 && segs[0].start < day_start && period_of(segs[0].start, &p) >= 0)
                for (int i = 0; i < BUDGET_MONTHS_MAX && p.start < day_start; i++) {
                        /* The month of today ends, for this, where today starts. */
                        RatingPeriod upto = p;
                        int64_t a, sec;
                        if (upto.end > day_start)
                                upto.end = day_start;
                        sec = rating_charged_seconds(unit, segs, n, &upto, day_start);
                        if (rating_amount_fen(unit, price_fen, sec, &p, &a) < 0)
                                return -EINVAL;
                        charged += a;
                        if (rating_next_period(&p, &p) < 0)
                                break;
                }
        /* Today and what is left of the approval as the policy engine
         * commits an order, for a resource that still exists. */
        if (n > 0 && !segs[n - 1].deleted &&
            rating_budget_committed(unit, price_fen, 1, today, valid_until, &committed) < 0)
                return -EINVAL;
        *ret_charged = charged;
        *ret_committed = committed;
        return 0;
}

void rating_withhold(const WithholdFacts *f, Withhold *ret) {
        Withhold w = { 0 };

        /* Ascending article order: 11, 25, 28, 35. */
        if (f->om && f->data_sharing_noncompliant)
                w.codes[w.n++] = POLICY_DATA_SHARING_NONCOMPLIANT;
        if (f->acceptance_filing_overdue)
                w.codes[w.n++] = POLICY_ACCEPTANCE_FILING_OVERDUE;
        if (f->project_terminated)
                w.codes[w.n++] = POLICY_PROJECT_TERMINATED;
        else if (f->project_suspended)
                w.codes[w.n++] = POLICY_PROJECT_SUSPENDED;
        if (f->migration_overdue)
                w.codes[w.n++] = POLICY_MIGRATION_OVERDUE;
        *ret = w;
}

void rating_withhold_articles(const Withhold *w, char *buf, size_t size) {
        size_t used = 0;

        if (size == 0)
                return;
        buf[0] = 0;
        for (size_t i = 0; i < w->n && used < size; i++) {
                int n = snprintf(buf + used, size - used, "%s%u", used ? ";" : "",
                                 policy_code_article(w->codes[i]));
                if (n < 0)
                        break;
                used += (size_t)n;
        }
}

int rating_plan_price(const json_t *service, const char *plan_id, RatingUnit *ret_unit, int64_t *ret_fen) {
        const json_t *plan;
        size_t i;

        json_array_foreach(json_object_get(service, "plans"), i, plan) {
                const json_t *price = json_object_get(plan, "price");
                const json_t *fen = json_object_get(price, "amount_fen");
                RatingUnit unit;

                if (!json_is_string(json_object_get(plan, "id")) ||
                    strcmp(json_string_value(json_object_get(plan, "id")), plan_id) != 0)
                        continue;
                unit = rating_unit_from_string(json_string_value(json_object_get(price, "unit")));
                if (unit < 0 || !json_is_integer(fen) || json_integer_value(fen) < 0 ||
                    json_integer_value(fen) > PRICE_MAX)
                        return -EINVAL;
                *ret_unit = unit;
                *ret_fen = json_integer_value(fen);
                return 0;
        }
        return -ENOENT;
}
