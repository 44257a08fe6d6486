/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Shared by the D-Bus face's files (bus.c and one bus-<area>.c per
 * interface): the names every object lives under, the vtables bus.c
 * exports, and the two steps every method repeats: a JSON argument in, a
 * JSON document out. A method handler authenticates with bus_caller(),
 * calls exactly one core function and maps its CbError with
 * bus_error_from_cb() (manager.h); nothing else is decided here.
 */

#include <jansson.h>
#include <systemd/sd-bus.h>

#include "manager.h"

#define BUS_NAME             "org.cloudbroker.Broker1"
#define BUS_PATH             "/org/cloudbroker/Broker1"
#define BUS_INTERFACE_PREFIX "org.cloudbroker.Broker1."

#define BUS_CATALOG_INTERFACE BUS_INTERFACE_PREFIX "Catalog"

#define BUS_POLICY_INTERFACE BUS_INTERFACE_PREFIX "Policy"

#define BUS_RESOURCES_INTERFACE BUS_INTERFACE_PREFIX "Resources"
#define BUS_RESOURCE_INTERFACE  BUS_INTERFACE_PREFIX "Resource"
/* Each resource is BUS_RESOURCE_PREFIX "/" + sd_bus_path_encode()d id. */
#define BUS_RESOURCE_PREFIX BUS_PATH "/resource"

/* daemon/bus/bus-policy.c; userdata is the Manager. */
extern const sd_bus_vtable bus_policy_vtable[];

/* daemon/bus/bus-catalog.c; userdata is the Manager. */
extern const sd_bus_vtable bus_catalog_vtable[];
/* Emits CatalogChanged whenever the catalogue's generation moves, whichever
 * face changed it. */
int bus_catalog_attach(Manager *m);

/* daemon/bus/bus-resources.c: Resources on the root object; userdata is the
 * Manager. */
extern const sd_bus_vtable bus_resources_vtable[];
/* Serves the per-resource objects (a fallback vtable and a node
 * enumerator under BUS_RESOURCE_PREFIX) and emits PropertiesChanged
 * whenever the core reports a resource changed, whichever face caused it. */
int bus_resources_attach(Manager *m);

/* Parses a JSON document given as a D-Bus string argument. Malformed text
 * is MalformedJson naming line and column; a document larger than
 * max_bytes (0: no limit) is TooLarge. Returns 0 with a new reference in
 * *ret_doc, or a negative errno with error set. */
int bus_parse_json_arg(const char *text, size_t max_bytes, const char *what, json_t **ret_doc,
                       sd_bus_error *error);

/* Replies to msg with one string argument: v serialized compactly, keys in
 * document order. */
int bus_reply_json(sd_bus_message *msg, const json_t *v);
