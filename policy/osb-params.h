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
 * OSB_PARAMS_MAX_BYTES (compact), and, when a schema is given, they meet its
 * top level: "type" (object), every name in "required" is present, each
 * member named in "properties" has that property's "type" (a name or a list
 * of names: string, integer, number, boolean, object, array, null) and is
 * one of its "enum" when it has one, and with "additionalProperties": false
 * no other member is present. Deeper levels are the provider's to check (it
 * answers 400, which the broker shows). A refusal is CB_ERR_VALIDATION with
 * err->field "parameters" or "parameters.<name>", and a message that names
 * it too. The values never appear in a message (they may be secrets): only
 * names and types do.
 */

#include <jansson.h>

#include "error.h"

#define OSB_PARAMS_MAX_BYTES 16384

/* 0 when params (not NULL) is acceptable under schema (NULL or not an
 * object: no schema, only the shape and size are checked). */
int osb_params_check(const json_t *params, const json_t *schema, CbError *err);

/* The schema in an OSB catalogue plan for what ("service_binding" or
 * "service_instance"), action "create": borrowed, or NULL for none. */
const json_t *osb_plan_params_schema(const json_t *plan, const char *what);
