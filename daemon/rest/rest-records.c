/* SPDX-License-Identifier: Apache-2.0 */
#include "rest-records.h"

static json_t *string_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

json_t *rest_resource_json(const Resource *res) {
        return json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o, s:o, s:s, s:s, s:s, s:s, "
                "s:s}",
                "id", res->id, "name", res->name, "project_id", res->project_id, "system_id", res->system_id,
                "department", res->department, "service_id", res->service_id, "plan_id", res->plan_id,
                "catalog_revision", (json_int_t)res->catalog_revision, "approval_no", res->approval_no,
                "cost_kind", res->cost_kind, "committed_fen", (json_int_t)res->committed_fen, "provider",
                string_or_null(res->provider), "provider_ref", string_or_null(res->provider_ref), "state",
                resource_state_to_string(res->state), "created_at", res->created_at, "created_by",
                res->created_by, "updated_at", res->updated_at, "kind", resource_kind_to_string(res->kind));
}

json_t *rest_resource_list_json(const ResourceList *list) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < list->n; i++)
                if (json_array_append_new(a, rest_resource_json(&list->items[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

json_t *rest_operation_json(const Operation *o) {
        return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s}", "id", o->id, "resource_id", o->resource_id,
                         "kind", operation_kind_to_string(o->kind), "state",
                         operation_state_to_string(o->state), "error", o->error, "created_at", o->created_at,
                         "updated_at", o->updated_at);
}

json_t *rest_ticket_json(const ResourceTicket *t) {
        return json_pack("{s:s, s:s, s:s}", "id", t->id, "state", resource_state_to_string(t->state),
                         "operation_id", t->operation_id);
}
