/* SPDX-License-Identifier: Apache-2.0 */
#include "rest-records.h"

json_t *system_to_json(const System *sys) {
        return json_pack("{s:s, s:s, s:s, s:i, s:b, s:s, s:s, s:s}", "id", sys->id, "name", sys->name,
                         "department", sys->department, "protection_level", (int)sys->protection_level,
                         "classified", sys->classified, "data_sharing",
                         sys->data_sharing_compliant ? "compliant" : "noncompliant", "created_at",
                         sys->created_at, "updated_at", sys->updated_at);
}

json_t *system_list_to_json(const SystemList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, system_to_json(l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *ids_json(char *const *v, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                if (json_array_append_new(a, json_string(v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *incident_to_json(const Incident *inc) {
        json_t *v = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:o, s:o, s:s, s:s, s:s, s:b, s:s?}", "id", inc->id,
                              "status", incident_status_to_string(inc->status), "severity", inc->severity,
                              "department", inc->department, "description", inc->description, "systems",
                              ids_json(inc->systems, inc->n_systems), "resources",
                              ids_json(inc->resources, inc->n_resources), "reported_at", inc->reported_at,
                              "reported_by", inc->reported_by, "report_due", inc->report_due,
                              "report_overdue", inc->report_overdue, "report_made_at", inc->report_made_at);
        json_t *records;

        if (!v)
                return NULL;
        if (inc->occurred_at && json_object_set_new(v, "occurred_at", json_string(inc->occurred_at)) < 0)
                goto fail;
        if (!inc->has_records)
                return v;
        records = json_array();
        if (!records || json_object_set_new(v, "records", records) < 0)
                goto fail;
        for (size_t i = 0; i < inc->n_records; i++) {
                const IncidentRecord *rec = &inc->records[i];
                if (json_array_append_new(records,
                                          json_pack("{s:s, s:s, s:s, s:s}", "at", rec->at, "by", rec->by,
                                                    "status", incident_status_to_string(rec->status), "note",
                                                    rec->note)) < 0)
                        goto fail;
        }
        return v;
fail:
        json_decref(v);
        return NULL;
}

json_t *incident_list_to_json(const IncidentList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                if (json_array_append_new(a, incident_to_json(l->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}
