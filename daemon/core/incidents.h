/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Security incidents (regulation Art. 38: 发生安全事件要及时处置, 并按照规定向
 * 有关部门报告). An incident is reported by the operator or by a department,
 * names the systems (from the directory) and resources it touched, and gets
 * a reporting deadline from its severity; handling records are appended
 * until it is resolved.
 *
 * The promise: the status only moves forward (open -> handling -> reported
 * -> resolved; a record may keep the current status) and resolved is final;
 * a department reports only on its own systems and resources and sees and
 * handles only its own incidents (another department's is a 404); every
 * change and every refused change is an audit record in the same
 * transaction (incident.report, incident.record). "report_overdue" is
 * computed when read, so it turns true by itself once the deadline passes
 * without a report. The deadlines and their reasons: docs/incidents.md.
 */

#include <jansson.h>
#include <time.h>

#include "error.h"
#include "page.h"
#include "principal.h"
#include "states.h"
#include "store.h"

#define INCIDENT_DESCRIPTION_MAX 4000
#define INCIDENT_NOTE_MAX        4000
/* How many systems or resources one incident may name. */
#define INCIDENT_OBJECTS_MAX 100

/* Hours from reported_at to the reporting deadline for a severity
 * ("critical" 1, "major" 2, "significant" 24, "general" 72); -EINVAL for
 * anything else. */
int incident_report_hours(const char *severity);

/* Strict RFC 3339 date-time ("2025-03-01T08:30:00Z", "...T16:30:00+08:00",
 * optional fraction of a second, which is dropped) to UTC seconds.
 * -EINVAL otherwise. */
int incident_time_parse(const char *s, time_t *ret);

/* One handling record. */
typedef struct IncidentRecord {
        char *at, *by, *note;
        IncidentStatus status;
} IncidentRecord;

/* An incident as the core hands it to the faces. */
typedef struct Incident {
        char *id;
        IncidentStatus status;
        char *severity;
        char *department; /* NULL: bound to none (an operator's report across departments) */
        char *description;
        char **systems, **resources; /* the ids it names */
        size_t n_systems, n_resources;
        char *reported_at, *reported_by, *report_due;
        bool report_overdue;     /* computed when read */
        char *report_made_at;    /* the first record that reached "reported" (or "resolved"); NULL: none */
        char *occurred_at;       /* as reported, UTC; NULL: not given */
        IncidentRecord *records; /* oldest first; incidents_get() only (has_records) */
        size_t n_records;
        bool has_records;
} Incident;

Incident *incident_free(Incident *inc);
DEFINE_TRIVIAL_CLEANUP_FUNC(Incident *, incident_free);

typedef struct IncidentList {
        Incident **v;
        size_t n;
} IncidentList;
void incident_list_done(IncidentList *l);

/* POST /v1/incidents. *ret: the incident as incidents_get() shows it. */
int incidents_report(Store *s, const CbCaller *caller, const json_t *doc, Incident **ret, CbError *err);
/* The daemon's own report (severity "major", by "system") that the audit
 * trail failed its check at start. It writes only the incidents table, not
 * through audit_append, which refuses then: so it has no audit record. */
int incidents_report_audit_failure(Store *s, const char *failure, char ret_id[32], CbError *err);
/* POST /v1/incidents/{id}/records {"note", "status"}. *ret: the incident. */
int incidents_add_record(Store *s, const CbCaller *caller, const char *id, const json_t *doc, Incident **ret,
                         CbError *err);
/* The incident with its records, oldest first. */
int incidents_get(Store *s, const CbCaller *caller, const char *id, Incident **ret, CbError *err);
/* Every incident the caller may see, without records: one page (page.h),
 * newest first; ret_next is "" on the last page. */
int incidents_list(Store *s, const CbCaller *caller, const Page *page, IncidentList *ret,
                   char ret_next[PAGE_TOKEN_MAX], CbError *err);
