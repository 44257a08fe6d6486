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
