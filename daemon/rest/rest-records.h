/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The JSON of the core's resource records: the one serializer of Resource,
 * Operation and ResourceTicket, whose output is the REST bodies that
 * docs/openapi.yaml describes (members in the record's column order; a
 * provider or provider_ref not there yet, and an operation's error unless
 * it failed, as null). A D-Bus method documented as answering "the shape
 * of GET ..." (Resources.GetOperation) serializes through here too, so the
 * two cannot drift apart. Each returns a new reference, NULL only when out
 * of memory.
 */

#include <jansson.h>

#include "resources.h"

json_t *rest_resource_json(const Resource *res);
/* {"resources": [...]} is the caller's: this is the array. */
json_t *rest_resource_list_json(const ResourceList *list);
json_t *rest_operation_json(const Operation *o);
/* {"id", "state", "operation_id"}: what a request or an action answers. */
json_t *rest_ticket_json(const ResourceTicket *t);
