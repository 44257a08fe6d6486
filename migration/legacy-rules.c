/* SPDX-License-Identifier: Apache-2.0 */
#include "legacy-rules.h"

#include <errno.h>
#include <string.h>

static const char *const legacy_state_table[_LEGACY_STATE_MAX] = {
        [LEGACY_REGISTERED] = "registered",
        [LEGACY_ASSESSED] = "assessed",
        [LEGACY_PLANNED] = "planned",
        [LEGACY_MIGRATING] = "migrating",
        [LEGACY_CUT_OVER] = "cut-over",
        [LEGACY_VERIFIED] = "verified",
        [LEGACY_DECOMMISSIONED] = "decommissioned",
        [LEGACY_FAILED] = "failed",
        [LEGACY_EXEMPT] = "exempt",
};
DEFINE_STRING_TABLE(legacy_state, LegacyState, _LEGACY_STATE_MAX);

static const char *const legacy_hosting_table[_LEGACY_HOSTING_MAX] = {
        [LEGACY_HOSTING_SERVER_ROOM] = "server-room",
        [LEGACY_HOSTING_INDUSTRY_CLOUD] = "industry-cloud",
        [LEGACY_HOSTING_OTHER] = "other",
};
DEFINE_STRING_TABLE(legacy_hosting, LegacyHosting, _LEGACY_HOSTING_MAX);

#define S(x) (1u << (x))

/* allowed[from]: the states it may move to. */
static const unsigned allowed[_LEGACY_STATE_MAX] = {
        [LEGACY_REGISTERED] = S(LEGACY_ASSESSED) | S(LEGACY_FAILED) | S(LEGACY_EXEMPT),
        [LEGACY_ASSESSED] = S(LEGACY_ASSESSED) | S(LEGACY_PLANNED) | S(LEGACY_FAILED) | S(LEGACY_EXEMPT),
        [LEGACY_PLANNED] = S(LEGACY_ASSESSED) | S(LEGACY_MIGRATING) | S(LEGACY_FAILED) | S(LEGACY_EXEMPT),
        [LEGACY_MIGRATING] = S(LEGACY_CUT_OVER) | S(LEGACY_FAILED),
        [LEGACY_CUT_OVER] = S(LEGACY_VERIFIED) | S(LEGACY_FAILED),
        [LEGACY_VERIFIED] = S(LEGACY_DECOMMISSIONED),
        [LEGACY_DECOMMISSIONED] = 0,
        [LEGACY_FAILED] = S(LEGACY_REGISTERED) | S(LEGACY_ASSESSED) | S(LEGACY_PLANNED) | S(LEGACY_EXEMPT),
        [LEGACY_EXEMPT] = S(LEGACY_REGISTERED),
};

bool legacy_transition_allowed(LegacyState from, LegacyState to) {
        if ((unsigned)from >= _LEGACY_STATE_MAX || (unsigned)to >= _LEGACY_STATE_MAX)
                return false;
        return (allowed[from] & S(to)) != 0;
}

bool legacy_state_is_done(LegacyState s) {
        return s == LEGACY_VERIFIED || s == LEGACY_DECOMMISSIONED;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days
 * inverse of the usual era arithmetic: 400-year eras of 146097 days). */
static int64_t day_number(int y, int m, int d) {
        int64_t yy = y - (m <= 2);
        int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
        int64_t yoe = yy - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

int64_t legacy_days_between(const char *a, const char *b) {
        int ya, ma, da, yb, mb, db;
        if (date_parse(a, &ya, &ma, &da) < 0 || date_parse(b, &yb, &mb, &db) < 0)
                return 0;
        return day_number(yb, mb, db) - day_number(ya, ma, da);
}

int legacy_deadline_due(const Calendar *c, const char *deadline, char ret_due[DATE_LEN + 1],
                        bool *ret_provisional) {
        int y, m, d;
        bool provisional = false;

        if (!c || date_parse(deadline, &y, &m, &d) < 0)
                return -EINVAL;
        if (calendar_is_working_day(c, y, m, d)) {
                memcpy(ret_due, deadline, DATE_LEN);
                ret_due[DATE_LEN] = '\0';
                provisional = !calendar_has_year(c, y);
        } else {
                char next[DATE_LEN + 1];
                int r = calendar_add_working_days(c, deadline, 1, next, &provisional);
                if (r < 0)
                        return r;
                memcpy(ret_due, next, sizeof(next));
        }
        if (ret_provisional)
                *ret_provisional = provisional;
        return 0;
}

int legacy_overdue(const Calendar *c, LegacyState state, const char *deadline, const char *today,
                   LegacyOverdue *ret) {
        LegacyOverdue o = { 0 };
        int r;

        if (!date_is_valid(today) || (unsigned)state >= _LEGACY_STATE_MAX)
                return -EINVAL;
        r = legacy_deadline_due(c, deadline, o.due, &o.provisional);
        if (r < 0)
                return r;
        if (!legacy_state_is_done(state) && state != LEGACY_EXEMPT && date_compare(today, o.due) > 0) {
                o.overdue = true;
                o.days_overdue = legacy_days_between(o.due, today);
        }
        *ret = o;
        return 0;
}
