/* SPDX-License-Identifier: Apache-2.0 */
#include "deadlines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "date.h"

static const char *const deadline_kind_table[_DEADLINE_KIND_MAX] = {
        [DEADLINE_CONTRACT_FILING] = "contract_filing",
        [DEADLINE_ACCEPTANCE_FILING] = "acceptance_filing",
        [DEADLINE_SELF_EVALUATION] = "self_evaluation",
};
DEFINE_STRING_TABLE(deadline_kind, DeadlineKind, _DEADLINE_KIND_MAX);

static const char *const deadline_status_table[_DEADLINE_STATUS_MAX] = {
        [DEADLINE_PENDING] = "pending",
        [DEADLINE_MET] = "met",
        [DEADLINE_LATE] = "late",
        [DEADLINE_OVERDUE] = "overdue",
};
DEFINE_STRING_TABLE(deadline_status, DeadlineStatus, _DEADLINE_STATUS_MAX);

void deadlines_done(Deadlines *d) {
        if (!d)
                return;
        free(d->v);
        *d = (Deadlines){ 0 };
}

static DeadlineStatus status_of(const char *filed_on, const char *due, const char *today) {
        if (filed_on)
                return date_compare(filed_on, due) <= 0 ? DEADLINE_MET : DEADLINE_LATE;
        return date_compare(today, due) > 0 ? DEADLINE_OVERDUE : DEADLINE_PENDING;
}

static Deadline *add(Deadlines *d, size_t *cap) {
        if (d->n == *cap) {
                size_t n = *cap ? *cap * 2 : 8;
                Deadline *v = realloc(d->v, n * sizeof(*v));
                if (!v)
                        return NULL;
                d->v = v;
                *cap = n;
        }
        d->v[d->n] = (Deadline){ .event_milestone = DEADLINE_NO_MILESTONE,
                                 .filed_milestone = DEADLINE_NO_MILESTONE };
        return &d->v[d->n++];
}

/* Pairs each event with the first unused filing on or after it. */
static int pair(const Calendar *cal, const DeadlineMilestone *ms, size_t n_ms, DeadlineEvent event,
                DeadlineEvent filing, unsigned days, DeadlineKind kind, unsigned article, const char *today,
                Deadlines *d, size_t *cap, bool *used) {
        for (size_t i = 0; i < n_ms; i++) {
                Deadline *dl;
                char due[DATE_LEN + 1];
                bool provisional = false;

                if (ms[i].event != event)
                        continue;
                if (calendar_add_working_days(cal, ms[i].date, days, due, &provisional) < 0)
                        continue;
                dl = add(d, cap);
                if (!dl)
                        return -ENOMEM;
                dl->kind = kind;
                dl->article = article;
                dl->event_milestone = i;
                snprintf(dl->event_date, sizeof(dl->event_date), "%s", ms[i].date);
                snprintf(dl->due, sizeof(dl->due), "%s", due);
                dl->provisional = provisional;
                for (size_t j = 0; j < n_ms; j++)
                        if (!used[j] && ms[j].event == filing && date_compare(ms[j].date, ms[i].date) >= 0) {
                                used[j] = true;
                                dl->filed_milestone = j;
                                break;
                        }
                dl->status = status_of(
                        dl->filed_milestone != DEADLINE_NO_MILESTONE ? ms[dl->filed_milestone].date : NULL,
                        due, today);
        }
        return 0;
}

static int year_of(const char *date) {
        int y = 0, m, d;
        return date_parse(date, &y, &m, &d) < 0 ? 0 : y;
}

int deadlines_compute(const Calendar *cal, const DeadlineMilestone *ms, size_t n_ms, const char *valid_from,
                      const char *valid_until, const char *today, Deadlines *ret) {
        Deadlines d = { 0 };
        size_t cap = 0;
        bool *used = calloc(n_ms ? n_ms : 1, sizeof(bool));
        int r;

        if (!used)
                return -ENOMEM;
        r = pair(cal, ms, n_ms, DEADLINE_EVENT_CONTRACT_SIGNED, DEADLINE_EVENT_CONTRACT_FILED,
                 DEADLINE_CONTRACT_FILING_DAYS, DEADLINE_CONTRACT_FILING, 18, today, &d, &cap, used);
        if (r >= 0)
                r = pair(cal, ms, n_ms, DEADLINE_EVENT_COMPLETED, DEADLINE_EVENT_ACCEPTANCE_FILED,
                         DEADLINE_ACCEPTANCE_FILING_DAYS, DEADLINE_ACCEPTANCE_FILING, 25, today, &d, &cap,
                         used);
        free(used);

        /* Art. 26: each budget year the approval spans that has ended. */
        if (r >= 0 && valid_from && valid_until) {
                int first = year_of(valid_from), last = year_of(valid_until), now = year_of(today);
                for (int y = first;
                     first > 0 && y <= last && y < now && y - first < DEADLINE_BUDGET_YEARS_MAX; y++) {
                        char year_end[DATE_LEN + 1], due[DATE_LEN + 1];
                        bool provisional = false;
                        Deadline *dl;

                        snprintf(year_end, sizeof(year_end), "%04d-12-31", (y % 10000 + 10000) % 10000);
                        if (calendar_add_working_days(cal, year_end, DEADLINE_SELF_EVALUATION_DAYS, due,
                                                      &provisional) < 0)
                                continue;
                        dl = add(&d, &cap);
                        if (!dl) {
                                r = -ENOMEM;
                                break;
                        }
                        dl->kind = DEADLINE_SELF_EVALUATION;
                        dl->article = 26;
                        dl->budget_year = y;
                        snprintf(dl->event_date, sizeof(dl->event_date), "%s", year_end);
                        snprintf(dl->due, sizeof(dl->due), "%s", due);
                        dl->provisional = provisional;
                        for (size_t j = 0; j < n_ms; j++)
                                if (ms[j].event == DEADLINE_EVENT_SELF_EVALUATION_FILED &&
                                    ms[j].budget_year == y) {
                                        dl->filed_milestone = j;
                                        break;
                                }
                        dl->status = status_of(dl->filed_milestone != DEADLINE_NO_MILESTONE
                                                       ? ms[dl->filed_milestone].date
                                                       : NULL,
                                               due, today);
                }
        }
        if (r < 0) {
                deadlines_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

const char *deadlines_first_overdue(const Deadlines *d, DeadlineKind kind) {
        for (size_t i = 0; d && i < d->n; i++)
                if (d->v[i].kind == kind && d->v[i].status == DEADLINE_OVERDUE)
                        return d->v[i].due;
        return NULL;
}

int64_t deadlines_projected_cost_fen(int64_t amount_fen, PriceUnit unit, uint32_t quantity, const char *today,
                                     const char *valid_until) {
        int64_t days, periods;

        if (!valid_until || calendar_days_between(today, valid_until, &days) < 0)
                return 0;
        days += 1; /* valid_until is the approval's last day */
        if (days <= 0)
                return 0;
        periods = unit == PRICE_PER_MONTH ? (days + 29) / 30 : days * 24;
        return amount_fen * periods * (int64_t)quantity;
}
