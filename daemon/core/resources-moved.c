/* SPDX-License-Identifier: Apache-2.0 */
#include "resources-moved.h"

#include "states.h"

int resources_record_moved(Store *s, const MovedResource *m, CbError *err) {
        static const char sql[] =
                "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, "
                "catalog_revision, approval_no, cost_kind, committed_fen, provider, provider_ref, state, "
                "created_at, created_by, updated_at, kind) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?15, ?17)";
        int r = store_run(s, sql,
                          STORE_ARGS(SA_TEXT(m->id), SA_TEXT(m->name), SA_TEXT(m->project_id),
                                     SA_TEXT(m->system_id), SA_TEXT(m->department), SA_TEXT(m->service_id),
                                     SA_TEXT(m->plan_id), SA_INT(m->catalog_revision),
                                     SA_TEXT(m->approval_no), SA_TEXT(m->cost_kind), SA_INT(m->committed_fen),
                                     SA_TEXT(m->provider), SA_TEXT(m->provider_ref),
                                     SA_TEXT(resource_state_to_string(RESOURCE_ACTIVE)), SA_TEXT(m->now),
                                     SA_TEXT(m->created_by), SA_TEXT(m->attached_to ? "volume" : "vm")),
                          "recording the moved VM as a resource", err);
        if (r >= 0 && m->attached_to)
                r = store_run(
                        s,
                        "INSERT INTO volume_attachments (volume_id, vm_id, target, state, created_at) "
                        "VALUES (?1, ?2, ?3, 'attached', ?4)",
                        STORE_ARGS(SA_TEXT(m->id), SA_TEXT(m->attached_to), SA_TEXT(m->dev), SA_TEXT(m->now)),
                        "recording the moved disk's attachment", err);
        return r < 0 ? r : 0;
}
