/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Resize (issue 9): a VM moves to another plan of its own service. The new
 * plan passes the policy engine exactly as a new order of it would (the
 * approval's items, quantities and budget; the plan it leaves is released
 * from the budget first, and every refusal names its article), then the
 * record takes the new plan at once (so that two resizes cannot both take
 * the last approved unit) and one operation of kind resize carries it out:
 * cold on a libvirt provider (stop, vCPUs and memory, grow the disk,
 * start). A failure puts the old plan back on the record and the driver
 * puts the old size back on the VM; a crash half-way resumes the operation
 * (the driver's resize is idempotent). Metering starts a segment at the new
 * plan when the record changes (docs/billing.md), and another at the old
 * one if it rolls back.
 */

#include "resources.h"

/* POST /v1/resources/{id}/resize {"plan_id"}: 202 and the resize operation.
 * Refusals: NotFound as for any action; VALIDATION naming plan_id (missing,
 * not a plan of the VM's service, a smaller disk); CONFLICT for a volume,
 * the plan it is on, an operation under way, or a VM neither active nor
 * stopped (a deleted one included); POLICY_DENIED with the violations. A
 * service instance at an http provider changes plan the same way, within
 * its service at the same provider (else VALIDATION naming plan_id), by an
 * OSB PATCH (operations-http.c) polled on last_operation; a failure puts
 * the old plan back on the record. */
int resources_resize(Resources *r, const CbCaller *caller, const char *id, const char *plan_id,
                     ResourceTicket *ret, CbError *err);

/* An update of a resource's plan, its parameters, or both: the one core
 * function behind POST /v1/resources/{id}/resize {"plan_id"?, "parameters"?},
 * OSB PATCH /v2/service_instances/{id} and Resources.UpdateResource
 * (resources_resize() is it without parameters). plan_id NULL or "" keeps
 * the plan; parameters NULL sends none. At least one is required (else
 * VALIDATION naming plan_id). A plan change is the resize above.
 * parameters (a JSON object) are an http service instance's only: a VM or
 * a volume refuses them (VALIDATION naming parameters); they are held
 * against the schema the provider publishes for an update of the plan the
 * instance goes to (schemas.service_instance.update.parameters,
 * osb_params_check(): VALIDATION naming the path), sealed on the
 * operation's row and sent in its PATCH, with the new remote plan when it
 * changes and the plan it leaves as previous_values. A refusal sends and
 * writes nothing. Parameters alone are an update on the plan it is on (no
 * evaluation: nothing new is committed), an operation of kind resize whose
 * record goes from and to the same plan; audited "resource.update" with
 * the parameters' names (never values), a plan change "resource.resize".
 * An instance's parameters are those of its latest operation that carried
 * some and succeeded: a failed update leaves the ones before in force. */
int resources_update(Resources *r, const CbCaller *caller, const char *id, const char *plan_id,
                     const json_t *parameters, ResourceTicket *ret, CbError *err);
