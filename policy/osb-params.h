/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The parameters a department sends with an order or a binding of an http
 * (Open Service Broker) service, held against what the provider says it
 * takes: the JSON Schema of its catalogue plan
 * (schemas.service_binding.create.parameters,
 * schemas.service_instance.create.parameters). Pure: the caller looks the
 * schema up and passes it.
 *
 * The promise: parameters that pass are a JSON object of at most
 * OSB_PARAMS_MAX_BYTES (compact), and, when a schema is given, they meet it
 * at every level the schema describes: "type" (a name or a list of names:
 * string, integer, number, boolean, object, array, null), "enum"; for an
 * object "required", "properties" (each member against its schema),
 * "additionalProperties" (false: no other member; a schema: the others meet
 * it), "minProperties"/"maxProperties"; for an array "items" (one schema, or
 * a list of one a position), "minItems"/"maxItems"; for a number "minimum",
 * "maximum" and the numeric "exclusiveMinimum"/"exclusiveMaximum"; for a
 * string "minLength"/"maxLength" (characters). Other keywords ("pattern",
 * "format", "oneOf", "$ref", ...) are the provider's to check (it answers
 * 400, which the broker shows). The walk is bounded: a value nested deeper
 * than OSB_PARAMS_MAX_DEPTH levels under a schema that describes it, or a
 * pair that takes more than OSB_PARAMS_MAX_STEPS steps, is refused, so no
 * schema a provider publishes and no document a department sends can
 * exhaust the stack or the loop. A refusal is CB_ERR_VALIDATION with
 * err->field the path of the value ("parameters", "parameters.a.b[2]"), and
 * a message that names it too. The values never appear in a message (they
 * may be secrets): only names, types and the schema's bounds do.
 */

#include <jansson.h>

#include "error.h"

#define OSB_PARAMS_MAX_BYTES 16384
#define OSB_PARAMS_MAX_DEPTH 16
#define OSB_PARAMS_MAX_STEPS 100000

/* 0 when params (not NULL) is acceptable under schema (NULL or not an
 * object: no schema, only the shape and size are checked). */
int osb_params_check(const json_t *params, const json_t *schema, CbError *err);

/* The schema in an OSB catalogue plan for what ("service_binding" or
 * "service_instance"), action "create": borrowed, or NULL for none. */
const json_t *osb_plan_params_schema(const json_t *plan, const char *what);
/* The same for action "create" or "update" (schemas.service_instance.update.parameters). */
const json_t *osb_plan_params_schema_for(const json_t *plan, const char *what, const char *action);
