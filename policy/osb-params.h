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
 * at every level the schema describes, as JSON Schema draft 4 (what OSB
 * v2.17 names) reads these keywords, and the later drafts' additions a
 * provider's schema may carry all the same:
 *   - any value: "type" (a name or a list of names: string, integer,
 *     number, boolean, object, array, null), "enum", "const" (numbers
 *     compared by value, 1 and 1.0 alike); "allOf" (all), "anyOf" (at least
 *     one), "oneOf" (exactly one), "not", "if"/"then"/"else" (draft 7);
 *     "$ref" to a JSON pointer into the same schema ("#",
 *     "#/definitions/a", "#/$defs/a", "#/a~1b/0", percent-encoded as a URI
 *     fragment), whose siblings draft 4 ignores; true and false as schemas
 *     (draft 6: anything, nothing);
 *   - an object: "required", "properties", "patternProperties" (every
 *     pattern the member's name matches applies), "additionalProperties"
 *     (false: no member neither of those names; a schema: those meet it),
 *     "minProperties"/"maxProperties", "dependencies" (names that must be
 *     there with a member, or a schema the object must then meet) and its
 *     later halves "dependentRequired" and "dependentSchemas",
 *     "propertyNames" (each member's name, as a string);
 *   - an array: "items" (one schema, or a list of one a position, and then
 *     "additionalItems" for the positions beyond the list: false or a
 *     schema),
 *     "contains" with "minContains"/"maxContains" (how many items meet it:
 *     at least one unless minContains says otherwise),
 *     "minItems"/"maxItems", "uniqueItems" (equal as "const" says; sorted,
 *     not compared pair by pair, so any array within the size bound can
 *     be checked);
 *   - a number: "minimum"/"maximum" with draft 4's boolean
 *     "exclusiveMinimum"/"exclusiveMaximum", the later numeric ones, and
 *     "multipleOf" (reals within rounding: a near miss passes);
 *   - a string: "minLength"/"maxLength" (characters), "pattern" (an
 *     ECMA-262 regular expression, searched for, not anchored, character
 *     by character: [\u4e00-\u9fa5] and . take Chinese text as ECMA-262
 *     does; ecma-regex.h says what of the language is read), "format"
 *     for the formats json-format.h reads (date-time, date, time, email,
 *     hostname, ipv4, ipv6, uuid, uri), leniently where validators differ.
 * What is left to the provider (it answers 400, which the broker shows):
 * any other "format" (uri-reference, idn-email, regex, duration, ...), the
 * keywords not named here ("unevaluatedProperties", "$dynamicRef", ...),
 * a "$ref" that is not local or does not resolve, and a pattern that
 * ecma-regex.h does not read (lookaround, back references, \b, \p{..},
 * characters beyond U+FFFF, more than a few thousand states once {n,m} is
 * expanded) or a string with a character beyond U+FFFF held against one;
 * a member whose name such a pattern might match is not refused as
 * additional. The walk
 * is bounded: a value nested deeper than OSB_PARAMS_MAX_DEPTH levels under
 * a schema that describes it, a value the schema takes through more than
 * OSB_PARAMS_MAX_DEPTH references and combinators in a row (a schema that
 * refers to itself: {"$ref": "#"}), or a pair that takes more than
 * OSB_PARAMS_MAX_STEPS steps (values checked, values compared, patterns run
 * by length times size) is refused, under "not" or "anyOf" too, so no
 * schema a provider publishes and no document a department sends can
 * exhaust the stack or the loop. A refusal is CB_ERR_VALIDATION with
 * err->field the path of the value ("parameters", "parameters.a.b[2]"), and
 * a message that names it too and the keyword that failed (for anyOf and
 * oneOf how many alternatives matched). The values never appear in a
 * message (they may be secrets): only names, types and the schema's bounds
 * do.
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
