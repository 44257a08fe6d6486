/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The rules of the legacy register (regulation Art. 35), pure: which state
 * a legacy system may move to from which, and when its migration is
 * overdue. No store, no clock: callers pass "today" and the calendar.
 *
 * The way: registered -> assessed -> planned -> migrating -> cut-over ->
 * verified -> decommissioned. Assessing or planning again steps back
 * (planned -> assessed, assessed -> assessed is a re-assessment, done by
 * the assessment itself). Any step before verified may fail; a failed
 * system goes back to registered, assessed or planned to try again. A
 * system not yet moving may be exempted (the authority's sign-off with a
 * reason, never implied by any other change); an exemption is revoked back
 * to registered. decommissioned is final.
 *
 * Deadlines count calendar days; a deadline on a weekend or holiday carries
 * to the next working day of the calendar. A system is overdue the day
 * after that, until it is verified (or decommissioned), unless exempt.
 */

#include <stdbool.h>
#include <stdint.h>

#include "calendar.h"
#include "date.h"
#include "string-table.h"

typedef enum LegacyState {
        LEGACY_REGISTERED,
        LEGACY_ASSESSED,
        LEGACY_PLANNED,
        LEGACY_MIGRATING,
        LEGACY_CUT_OVER,
        LEGACY_VERIFIED,
        LEGACY_DECOMMISSIONED,
        LEGACY_FAILED,
        LEGACY_EXEMPT,
        _LEGACY_STATE_MAX,
} LegacyState;
DECLARE_STRING_TABLE(legacy_state, LegacyState);

/* Where a legacy system runs today. */
typedef enum LegacyHosting {
        LEGACY_HOSTING_SERVER_ROOM,
        LEGACY_HOSTING_INDUSTRY_CLOUD,
        LEGACY_HOSTING_OTHER,
        _LEGACY_HOSTING_MAX,
} LegacyHosting;
DECLARE_STRING_TABLE(legacy_hosting, LegacyHosting);

/* Whether from -> to is a step of the way above (to == from only for
 * assessed, a re-assessment). */
bool legacy_transition_allowed(LegacyState from, LegacyState to);

/* The migration is done as far as Art. 35 is concerned. */
bool legacy_state_is_done(LegacyState s);

/* The day the deadline falls due: the deadline itself when it is a working
 * day, else the next working day. *ret_provisional: a year without a
 * calendar file was looked at. -EINVAL for a date that is not one. */
int legacy_deadline_due(const Calendar *c, const char *deadline, char ret_due[DATE_LEN + 1],
                        bool *ret_provisional);

typedef struct LegacyOverdue {
        bool overdue;
        char due[DATE_LEN + 1]; /* the day the deadline fell due (legacy_deadline_due) */
        int64_t days_overdue;   /* calendar days after due; 0 when not overdue */
        bool provisional;
} LegacyOverdue;

/* The facts the enforcement and finance need for one system: overdue when
 * today is after the due day, the state is not done, and it is not exempt.
 * -EINVAL for an invalid deadline or today. */
int legacy_overdue(const Calendar *c, LegacyState state, const char *deadline, const char *today,
                   LegacyOverdue *ret);

/* Calendar days from a to b (b - a); both valid dates. */
int64_t legacy_days_between(const char *a, const char *b);
