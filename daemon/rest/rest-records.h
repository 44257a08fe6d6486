/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The REST shapes of the records the core hands out as structs
 * (docs/openapi.yaml). The D-Bus face answers documents in the same shapes
 * (docs/faces.md), so it serializes with these too: one serializer per
 * record for the JSON of both faces. NULL only when out of memory.
 */

#include <jansson.h>

#include "incidents.h"
#include "projects.h"
#include "systems.h"

/* {"id", "name", "department", "protection_level", "classified",
 *  "data_sharing", "created_at", "updated_at"} */
json_t *system_to_json(const System *sys);
/* An array of them, in the list's order. */
json_t *system_list_to_json(const SystemList *l);

/* {"id", "status", "severity", "department" (null: none), "description",
 *  "systems", "resources", "reported_at", "reported_by", "report_due",
 *  "report_overdue", "report_made_at" (null: not yet), ["occurred_at"],
 *  ["records": [{"at", "by", "status", "note"}] when the incident has them]} */
json_t *incident_to_json(const Incident *inc);
json_t *incident_list_to_json(const IncidentList *l);

/* {"id", "name", "department", "status", "revision", "approval", "budget":
 *  {construction_fen, om_fen, used_..., remaining_...}, "deadlines",
 *  "blocked", "created_at", "updated_at"} and, for a full record,
 *  "approval_history", "milestones" and "events". */
json_t *project_to_json(const Project *pr);
json_t *project_list_to_json(const ProjectList *l);
