/* SPDX-License-Identifier: Apache-2.0 */
#include "incidents.h"
#include "states.h"

#include <stdio.h>

#include "audit.h"
#include "calendar.h"
#include "catalog-validate.h"
#include "json-util.h"
#include "resources.h"
#include "systems.h"

/* Who sees every incident: the operator handles them, the authority
 * receives the reports, auditors inspect. */
#define INCIDENT_READERS (CB_ROLE_OPERATOR | CB_ROLE_AUTHORITY | CB_ROLE_AUDITOR)

/* A little clock skew between the reporter and the broker is not a lie. */
#define OCCURRED_AT_SKEW_S 300

static const struct {
        const char *name;
        int hours;
} severities[] = {
        { "critical", 1 },
        { "major", 2 },
        { "significant", 24 },
        { "general", 72 },
};

int incident_report_hours(const char *severity) {
        for (size_t i = 0; severity && i < ELEMENTSOF(severities); i++)
                if (streq(severity, severities[i].name))
                        return severities[i].hours;
        return -EINVAL;
}

/* IncidentStatus is declared in the order the status may move. */
static int status_rank(const char *status) {
        return incident_status_from_string(status);
}

static bool digits(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static int two(const char *s) {
        return (s[0] - '0') * 10 + (s[1] - '0');
}

int incident_time_parse(const char *s, time_t *ret) {
        char date[DATE_LEN + 1];
        int y, mo, d, h, mi, sec;
        long offset = 0;
        const char *p;
        struct tm tm;

        if (!s || strlen(s) < 20)
                return -EINVAL;
        memcpy(date, s, DATE_LEN);
        date[DATE_LEN] = 0;
        if (date_parse(date, &y, &mo, &d) < 0)
                return -EINVAL;
        if ((s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
            s[16] != ':' || !digits(s + 17, 2))
                return -EINVAL;
        h = two(s + 11);
        mi = two(s + 14);
        sec = two(s + 17);
        if (h > 23 || mi > 59 || sec > 59)
                return -EINVAL;
        p = s + 19;
        if (*p == '.') {
                p++;
                if (!digits(p, 1))
                        return -EINVAL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if ((*p == 'Z' || *p == 'z') && p[1] == 0)
                offset = 0;
        else if ((*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
                 p[6] == 0) {
                int oh = two(p + 1), om = two(p + 4);
                if (oh > 23 || om > 59)
                        return -EINVAL;
                offset = (oh * 60L + om) * 60L * (*p == '-' ? -1 : 1);
        } else
                return -EINVAL;

        tm = (struct tm){
                .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec
        };
        *ret = timegm(&tm) - offset;
        return 0;
}

static void format_utc(time_t t, char buf[32]) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- storage ---- */

/* The report counts as made at the first record that reached "reported"
 * (or went straight to "resolved"): ?1 and ?2 are those two statuses
 * (INCIDENT_MADE_ARGS), the statement's own parameters follow from ?3. */
#define INCIDENT_SELECT                                                                                \
        "SELECT id, reported_at, reported_by, department, severity, systems, resources, description, " \
        "status, report_due, (SELECT min(r.at) FROM incident_records r WHERE r.incident_id = i.id "    \
        "AND r.status IN (?1, ?2)), occurred_at FROM incidents i "
#define INCIDENT_MADE_ARGS                                     \
        SA_TEXT(incident_status_to_string(INCIDENT_REPORTED)), \
                SA_TEXT(incident_status_to_string(INCIDENT_RESOLVED))

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

Incident *incident_free(Incident *inc) {
        if (!inc)
                return NULL;
        free(inc->id);
        free(inc->severity);
        free(inc->department);
        free(inc->description);
        strv_free(inc->systems, inc->n_systems);
        strv_free(inc->resources, inc->n_resources);
        free(inc->reported_at);
        free(inc->reported_by);
        free(inc->report_due);
        free(inc->report_made_at);
        free(inc->occurred_at);
        for (size_t i = 0; i < inc->n_records; i++) {
                free(inc->records[i].at);
                free(inc->records[i].by);
                free(inc->records[i].note);
        }
        free(inc->records);
        free(inc);
        return NULL;
}

void incident_list_done(IncidentList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                incident_free(l->v[i]);
        free(l->v);
        *l = (IncidentList){ 0 };
}

/* The ids of a stored JSON array column ("[]" when unreadable). */
static int ids_column(StoreRows *rows, int i, char ***ret, size_t *ret_n) {
        const char *t = store_rows_text(rows, i);
        _cleanup_(json_decrefp) json_t *a = t ? json_loads(t, 0, NULL) : NULL;
        size_t n = json_is_array(a) ? json_array_size(a) : 0, k = 0;
        char **v = calloc(n ? n : 1, sizeof(char *));

        if (!v)
                return -ENOMEM;
        for (size_t j = 0; j < n; j++) {
                const char *id = json_string_value(json_array_get(a, j));
                if (!id)
                        continue;
                v[k] = strdup(id);
                if (!v[k]) {
                        strv_free(v, k);
                        return -ENOMEM;
                }
                k++;
        }
        *ret = v;
        *ret_n = k;
        return 0;
}

static Incident *row_to_incident(StoreRows *rows, const char *now) {
        _cleanup_(incident_freep) Incident *inc = calloc(1, sizeof(*inc));
        int status;

        if (!inc)
                return NULL;
        inc->id = store_rows_dup(rows, 0);
        inc->reported_at = store_rows_dup(rows, 1);
        inc->reported_by = store_rows_dup(rows, 2);
        inc->department = store_rows_dup(rows, 3); /* NULL: none */
        inc->severity = store_rows_dup(rows, 4);
        inc->description = store_rows_dup(rows, 7);
        status = incident_status_from_string(store_rows_text(rows, 8));
        inc->report_due = store_rows_dup(rows, 9);
        inc->report_made_at = store_rows_dup(rows, 10);
        inc->occurred_at = store_rows_dup(rows, 11);
        if (!inc->id || !inc->reported_at || !inc->reported_by || !inc->severity || !inc->description ||
            status < 0 || !inc->report_due || (!inc->department && !store_rows_is_null(rows, 3)) ||
            ids_column(rows, 5, &inc->systems, &inc->n_systems) < 0 ||
            ids_column(rows, 6, &inc->resources, &inc->n_resources) < 0)
                return NULL;
        inc->status = (IncidentStatus)status;
        /* Late is late: a report made after the deadline stays overdue on record. */
        inc->report_overdue = inc->report_made_at ? strcmp(inc->report_made_at, inc->report_due) > 0
                                                  : strcmp(now, inc->report_due) > 0;
        return TAKE_PTR(inc);
}

/* Without authorization: 0 and *ret, -ENOENT, -EIO. */
static int load(Store *s, const char *id, Incident **ret) {
        static const char sql[] = INCIDENT_SELECT "WHERE id = ?3";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        Incident *inc;
        char now[32];
        int r;

        store_now(now);
        r = store_query(s, sql, STORE_ARGS(INCIDENT_MADE_ARGS, SA_TEXT(id)), &rows, "reading an incident",
                        NULL);
        if (r >= 0)
                r = store_rows_next(rows, NULL);
        if (r < 0)
                return -EIO;
        if (r == 0)
                return -ENOENT;
        inc = row_to_incident(rows, now);
        if (!inc)
                return -EIO;
        *ret = inc;
        return 0;
}

static int load_records(Store *s, Incident *inc) {
        static const char sql[] = "SELECT at, principal, status, note FROM incident_records "
                                  "WHERE incident_id = ?1 ORDER BY id";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        int r;

        r = store_query(s, sql, STORE_ARGS(SA_TEXT(inc->id)), &rows, "reading incident records", NULL);
        while (r >= 0 && (r = store_rows_next(rows, NULL)) > 0) {
                IncidentRecord *v = realloc(inc->records, (inc->n_records + 1) * sizeof(*v));
                int status = incident_status_from_string(store_rows_text(rows, 2));
                if (!v)
                        return -ENOMEM;
                inc->records = v;
                v[inc->n_records] =
                        (IncidentRecord){ .at = store_rows_dup(rows, 0),
                                          .by = store_rows_dup(rows, 1),
                                          .status = status < 0 ? INCIDENT_OPEN : (IncidentStatus)status,
                                          .note = store_rows_dup(rows, 3) };
                inc->n_records++;
                if (!v[inc->n_records - 1].at || !v[inc->n_records - 1].by || !v[inc->n_records - 1].note ||
                    status < 0)
                        return -EIO;
        }
        if (r < 0)
                return -EIO;
        inc->has_records = true;
        return 0;
}

/* A refused change is on record too, in its own transaction. */
static void refused(Store *s, const CbCaller *caller, const char *action, const char *id) {
        char object[128];
        snprintf(object, sizeof(object), "incident:%s", id ? id : "");
        audit_refusal(s, caller, action, object, "forbidden", NULL);
}

static int require_role(Store *s, const CbCaller *caller, unsigned roles, const char *action,
                        const char *what, const char *id, CbError *err) {
        int r = caller_require_role(caller, roles, what, err);
        if (r < 0 && err && err->kind == CB_ERR_FORBIDDEN)
                refused(s, caller, action, id);
        return r;
}

/* ---- reporting ---- */

typedef struct Report {
        const char *severity, *description, *occurred_at;
        const json_t *systems, *resources; /* arrays of ids, borrowed; NULL = [] */
        char occurred_utc[32];
        char department[64]; /* "" = none */
} Report;

static int validate_ids(const json_t *doc, const char *name, const json_t **ret, CbError *err) {
        const json_t *a = json_object_get(doc, name), *v;
        size_t i;

        if (!a)
                return 0;
        if (!json_is_array(a))
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: must be an array of ids", name);
        if (json_array_size(a) > INCIDENT_OBJECTS_MAX)
                return cb_error_set_field(err, CB_ERR_VALIDATION, name, "%s: more than %d entries", name,
                                          INCIDENT_OBJECTS_MAX);
        json_array_foreach(a, i, v) {
                char field[64];
                snprintf(field, sizeof(field), "%s[%zu]", name, i);
                if (!json_is_string(v) || !id_is_valid(json_string_value(v)) ||
                    strlen(json_string_value(v)) != json_string_length(v))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                                  "%s: must match ^[a-z0-9-]+$", field);
                for (size_t j = 0; j < i; j++)
                        if (json_equal(json_array_get(a, j), (json_t *)v))
                                return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                                          "%s: '%s' is named twice", field,
                                                          json_string_value(v));
        }
        *ret = a;
        return 0;
}

static int validate_report(const json_t *doc, Report *ret, CbError *err) {
        static const char *const allowed[] = {
                "severity", "systems", "resources", "description", "occurred_at", NULL,
        };
        Report rep = { 0 };
        int r;

        r = json_check_object(doc, allowed, err);
        if (r >= 0)
                r = json_get_string(doc, "severity", true, 0, &rep.severity, err);
        if (r >= 0 && incident_report_hours(rep.severity) < 0)
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "severity",
                                       "severity: must be \"critical\", \"major\", \"significant\" or "
                                       "\"general\"");
        if (r >= 0)
                r = validate_ids(doc, "systems", &rep.systems, err);
        if (r >= 0)
                r = validate_ids(doc, "resources", &rep.resources, err);
        if (r >= 0)
                r = json_get_string(doc, "description", true, INCIDENT_DESCRIPTION_MAX, &rep.description,
                                    err);
        if (r >= 0)
                r = json_get_string(doc, "occurred_at", false, 64, &rep.occurred_at, err);
        if (r < 0)
                return r;
        if (rep.occurred_at) {
                time_t t;
                if (incident_time_parse(rep.occurred_at, &t) < 0)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "occurred_at",
                                                  "occurred_at: '%s' is not an RFC 3339 date-time such as "
                                                  "2025-03-01T08:30:00+08:00",
                                                  rep.occurred_at);
                if (t > time(NULL) + OCCURRED_AT_SKEW_S)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "occurred_at",
                                                  "occurred_at: '%s' lies in the future", rep.occurred_at);
                format_utc(t, rep.occurred_utc);
        }
        *ret = rep;
        return 0;
}

/* The department every named object belongs to, if they agree: a
 * department's incident is its own; the operator's is bound to the one
 * department its systems and resources belong to, or to none. */
static void merge_department(char dept[64], bool *mixed, const char *d) {
        if (*mixed)
                return;
        if (!dept[0])
                snprintf(dept, 64, "%s", d);
        else if (!streq(dept, d)) {
                *mixed = true;
                dept[0] = 0;
        }
}

/* Checks that every named system and resource exists and, for a
 * department, is its own; fills rep->department. Runs before the change's
 * transaction, so that a refusal's audit record is not rolled back with it. */
static int check_objects(Store *s, const CbCaller *caller, Report *rep, CbError *err) {
        bool as_department = !caller_has_role(caller, CB_ROLE_OPERATOR);
        bool mixed = false;
        const json_t *v;
        size_t i;
        int r;

        rep->department[0] = 0;
        json_array_foreach(rep->systems, i, v) {
                const char *id = json_string_value(v);
                char field[64];
                SystemFacts f;

                snprintf(field, sizeof(field), "systems[%zu]", i);
                /* Another department's system is not in the directory for
                 * a department (systems_get): the same answer as an unknown id. */
                r = systems_get_visible_facts(s, caller, id, &f);
                if (r == -ENOENT)
                        return cb_error_set_field(err, CB_ERR_VALIDATION, field,
                                                  "%s: system '%s' is not in the directory", field, id);
                if (r < 0)
                        return store_error(s, err, "reading the system directory");
                merge_department(rep->department, &mixed, f.department);
        }
        json_array_foreach(rep->resources, i, v) {
                const char *id = json_string_value(v);
                char field[64], d[RESOURCE_DEPARTMENT_MAX];

                snprintf(field, sizeof(field), "resources[%zu]", i);
                r = resources_department(s, id, d);
                /* Likewise another department's resource (resources_get). */
                if (r == -ENOENT || (r >= 0 && as_department && !caller_in_department(caller, d)))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, field, "%s: no resource '%s'",
                                                  field, id);
                if (r < 0)
                        return store_error(s, err, "reading the resources");
                merge_department(rep->department, &mixed, d);
        }
        if (as_department)
                snprintf(rep->department, sizeof(rep->department), "%s", caller->principal->department);
        return 0;
}

/* "inc-YYYYMMDD-NNNN", numbered per UTC day: readable on the phone when
 * the incident is reported onwards. Runs inside the transaction, so two
 * reports cannot take the same number. */
static int next_id(Store *s, time_t now, char ret[32]) {
        static const char sql[] =
                "SELECT coalesce(max(CAST(substr(id, 14) AS INTEGER)), 0) FROM incidents WHERE id LIKE ?1";
        char prefix[16], like[20];
        struct tm tm;
        int64_t n = -1;

        gmtime_r(&now, &tm);
        strftime(prefix, sizeof(prefix), "inc-%Y%m%d-", &tm);
        snprintf(like, sizeof(like), "%s%%", prefix);
        if (store_query_int(s, sql, STORE_ARGS(SA_TEXT(like)), &n, "numbering the incident", NULL) < 0 ||
            n < 0)
                return -EIO;
        /* A million incidents in one day is an attack on the broker itself. */
        if (n >= 999999)
                return -ERANGE;
        snprintf(ret, 32, "%.13s%04d", prefix, (int)(n + 1));
        return 0;
}

/* The report being stored; its id, deadline and audit record are made in
 * the transaction (the number is the day's next). */
typedef struct ReportChange {
        const CbCaller *caller; /* NULL: the daemon, without an audit record */
        const Report *rep;
        char id[32];
        char object[64];
        AuditEntry entry; /* completed here, appended by audit_change() after */
} ReportChange;

static int insert_incident(Store *s, void *userdata, CbError *err) {
        static const char ins_sql[] =
                "INSERT INTO incidents (id, reported_at, reported_by, department, severity, systems, "
                "resources, description, status, report_due, occurred_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?11, ?9, ?10)";
        ReportChange *c = userdata;
        const Report *rep = c->rep;
        _cleanup_(freep) char *systems = NULL, *resources = NULL;
        char reported[32], due[32];
        time_t now = time(NULL);
        int r;

        systems = rep->systems ? json_dumps(rep->systems, JSON_COMPACT) : strdup("[]");
        resources = rep->resources ? json_dumps(rep->resources, JSON_COMPACT) : strdup("[]");
        if (!systems || !resources)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        format_utc(now, reported);
        format_utc(now + (time_t)incident_report_hours(rep->severity) * 3600, due);
        if (next_id(s, now, c->id) < 0)
                return store_error(s, err, "numbering the incident");

        r = store_run(s, ins_sql,
                      STORE_ARGS(SA_TEXT(c->id), SA_TEXT(reported),
                                 SA_TEXT(c->caller ? c->caller->principal->name : "system"),
                                 SA_TEXT(rep->department[0] ? rep->department : NULL), SA_TEXT(rep->severity),
                                 SA_TEXT(systems), SA_TEXT(resources), SA_TEXT(rep->description),
                                 SA_TEXT(due), SA_TEXT(rep->occurred_at ? rep->occurred_utc : NULL),
                                 SA_TEXT(incident_status_to_string(INCIDENT_OPEN))),
                      "recording the incident", err);
        if (r < 0)
                return r;
        if (!c->caller)
                return 0;

        c->entry.detail = json_pack("{s:s, s:s?, s:o, s:o, s:s, s:s, s:s?}", "severity", rep->severity,
                                    "department", rep->department[0] ? rep->department : NULL, "systems",
                                    rep->systems ? json_deep_copy(rep->systems) : json_array(), "resources",
                                    rep->resources ? json_deep_copy(rep->resources) : json_array(),
                                    "description", rep->description, "report_due", due, "occurred_at",
                                    rep->occurred_at ? rep->occurred_utc : NULL);
        if (!c->entry.detail)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        snprintf(c->object, sizeof(c->object), "incident:%s", c->id);
        return 0;
}

int incidents_report(Store *s, const CbCaller *caller, const json_t *doc, Incident **ret, CbError *err) {
        Report rep;
        ReportChange c = { .caller = caller, .rep = &rep };
        int r;

        r = require_role(s, caller, CB_ROLE_OPERATOR | CB_ROLE_DEPARTMENT, "incident.report",
                         "report security incidents", "", err);
        if (r < 0)
                return r;
        if (!caller_has_role(caller, CB_ROLE_OPERATOR) && !caller->principal->department)
                return cb_error_set(err, CB_ERR_FORBIDDEN, "%s is bound to no department",
                                    caller->principal->name);
        r = validate_report(doc, &rep, err);
        if (r < 0)
                return r;

        r = check_objects(s, caller, &rep, err);
        if (r < 0)
                return r;

        c.entry = (AuditEntry){ .action = "incident.report", .object = c.object, .outcome = "ok" };
        r = audit_change(s, caller, &c.entry, insert_incident, &c, err);
        json_decref(c.entry.detail);
        if (r < 0)
                return r;
        return ret ? incidents_get(s, caller, c.id, ret, err) : 0;
}

int incidents_report_audit_failure(Store *s, const char *failure, char ret_id[32], CbError *err) {
        _cleanup_(freep) char *description = NULL;
        Report rep = { .severity = "major" };
        ReportChange c = { .caller = NULL, .rep = &rep };
        int r;

        if (asprintf(&description,
                     "The audit trail failed its check at start: %s. The broker refuses every change until "
                     "the "
                     "trail is restored from a good copy; this incident has no audit record, since the trail "
                     "cannot take one.",
                     failure) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (strlen(description) > INCIDENT_DESCRIPTION_MAX)
                description[INCIDENT_DESCRIPTION_MAX] = 0;
        rep.description = description;
        if (store_begin(s) < 0)
                return store_error(s, err, "starting a transaction");
        r = insert_incident(s, &c, err);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        if (store_commit(s) < 0)
                return store_error(s, err, "committing");
        memcpy(ret_id, c.id, sizeof(c.id));
        return 0;
}

/* ---- handling records ---- */

/* Loads the incident for a change: -ENOENT also when a department may not
 * see it, so that another department's ids do not leak. */
static int load_visible(Store *s, const CbCaller *caller, unsigned readers, const char *id, Incident **ret,
                        CbError *err) {
        Incident *v = NULL;
        int r;

        if (!id_is_valid(id))
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no incident '%s'", id);
        r = load(s, id, &v);
        if (r == -ENOENT)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no incident '%s'", id);
        if (r < 0)
                return store_error(s, err, "reading the incidents");
        if (!caller_has_role(caller, readers) && !caller_in_department(caller, v->department)) {
                incident_free(v);
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no incident '%s'", id);
        }
        *ret = v;
        return 0;
}

typedef struct RecordChange {
        const CbCaller *caller;
        const char *id, *status, *note;
        char object[128];
        AuditEntry entry; /* its detail names the status before: completed here */
} RecordChange;

static int append_record(Store *s, void *userdata, CbError *err) {
        static const char ins_sql[] = "INSERT INTO incident_records (incident_id, at, principal, status, "
                                      "note) VALUES (?1, ?2, ?3, ?4, ?5)";
        static const char upd_sql[] = "UPDATE incidents SET status = ?1 WHERE id = ?2";
        RecordChange *c = userdata;
        _cleanup_(incident_freep) Incident *inc = NULL;
        const char *current;
        char now[32];
        int r;

        r = load_visible(s, c->caller, CB_ROLE_OPERATOR, c->id, &inc, err);
        if (r < 0)
                return r;
        current = incident_status_to_string(inc->status);
        if (inc->status == INCIDENT_RESOLVED)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "status",
                                          "incident '%s' is resolved: no further records", c->id);
        if (status_rank(c->status) < status_rank(current))
                return cb_error_set_field(err, CB_ERR_CONFLICT, "status",
                                          "incident '%s' is %s: the status cannot go back to %s", c->id,
                                          current, c->status);

        store_now(now);
        r = store_run(s, ins_sql,
                      STORE_ARGS(SA_TEXT(c->id), SA_TEXT(now), SA_TEXT(c->caller->principal->name),
                                 SA_TEXT(c->status), SA_TEXT(c->note)),
                      "recording the handling", err);
        if (r >= 0)
                r = store_run(s, upd_sql, STORE_ARGS(SA_TEXT(c->status), SA_TEXT(c->id)),
                              "updating the incident", err);
        if (r < 0)
                return r;
        c->entry.detail = json_pack("{s:s, s:s, s:s}", "from", current, "status", c->status, "note", c->note);
        if (!c->entry.detail)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return 0;
}

int incidents_add_record(Store *s, const CbCaller *caller, const char *id, const json_t *doc, Incident **ret,
                         CbError *err) {
        static const char *const allowed[] = { "note", "status", NULL };
        const char *note = NULL, *status = NULL;
        RecordChange c;
        int r;

        r = require_role(s, caller, CB_ROLE_OPERATOR | CB_ROLE_DEPARTMENT, "incident.record",
                         "record the handling of incidents", id, err);
        if (r < 0)
                return r;
        r = json_check_object(doc, allowed, err);
        if (r >= 0)
                r = json_get_string(doc, "note", true, INCIDENT_NOTE_MAX, &note, err);
        if (r >= 0)
                r = json_get_string(doc, "status", true, 0, &status, err);
        if (r < 0)
                return r;
        if (status_rank(status) < 1)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "status",
                                          "status: must be \"handling\", \"reported\" or \"resolved\"");

        c = (RecordChange){ .caller = caller, .id = id, .status = status, .note = note };
        snprintf(c.object, sizeof(c.object), "incident:%s", id);
        c.entry = (AuditEntry){ .action = "incident.record", .object = c.object, .outcome = "ok" };
        r = audit_change(s, caller, &c.entry, append_record, &c, err);
        json_decref(c.entry.detail);
        if (r < 0)
                return r;
        return ret ? incidents_get(s, caller, id, ret, err) : 0;
}

/* ---- reading ---- */

int incidents_get(Store *s, const CbCaller *caller, const char *id, Incident **ret, CbError *err) {
        Incident *v = NULL;
        int r;

        r = caller_require_role(caller, INCIDENT_READERS | CB_ROLE_DEPARTMENT, "read security incidents",
                                err);
        if (r < 0)
                return r;
        r = load_visible(s, caller, INCIDENT_READERS, id, &v, err);
        if (r < 0)
                return r;
        if (load_records(s, v) < 0) {
                incident_free(v);
                return store_error(s, err, "reading the incident records");
        }
        *ret = v;
        return 0;
}

int incidents_list(Store *s, const CbCaller *caller, const Page *page, IncidentList *ret,
                   char ret_next[PAGE_TOKEN_MAX], CbError *err) {
        /* Newest first; ties in the same second by id, so the keyset is total. */
        static const char sql[] =
                INCIDENT_SELECT "WHERE (?3 IS NULL OR department = ?3) "
                                "AND (?4 IS NULL OR reported_at < ?4 OR (reported_at = ?4 AND id < ?5)) "
                                "ORDER BY reported_at DESC, id DESC LIMIT ?6";
        _cleanup_(store_rows_donep) StoreRows *rows = NULL;
        _cleanup_(incident_list_done) IncidentList l = { 0 };
        char next[PAGE_TOKEN_MAX] = "";
        const char *department = NULL;
        char now[32];
        int r;

        r = caller_require_role(caller, INCIDENT_READERS | CB_ROLE_DEPARTMENT, "read security incidents",
                                err);
        if (r < 0)
                return r;
        if (!caller_has_role(caller, INCIDENT_READERS)) {
                department = caller->principal->department;
                if (!department)
                        return cb_error_set(err, CB_ERR_FORBIDDEN, "%s is bound to no department",
                                            caller->principal->name);
        }

        store_now(now);
        l.v = calloc((size_t)page->limit + 1, sizeof(Incident *));
        if (!l.v)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = store_query(s, sql,
                        STORE_ARGS(INCIDENT_MADE_ARGS, SA_TEXT(department),
                                   SA_TEXT(page->has_after ? page->after[0] : NULL),
                                   SA_TEXT(page->has_after ? page->after[1] : NULL),
                                   SA_INT((int64_t)page->limit + 1)),
                        &rows, "reading the incidents", err);
        while (r >= 0 && (r = store_rows_next(rows, err)) > 0) {
                if (l.n == page->limit) {
                        page_token_make(l.v[l.n - 1]->reported_at, l.v[l.n - 1]->id, next);
                        break;
                }
                l.v[l.n] = row_to_incident(rows, now);
                if (!l.v[l.n]) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                l.n++;
        }
        if (r < 0)
                return r;
        memcpy(ret_next, next, sizeof(next));
        *ret = l;
        l = (IncidentList){ 0 };
        return 0;
}
