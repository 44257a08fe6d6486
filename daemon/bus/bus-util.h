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
#include "page.h"

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
int bus_migration_attach(Manager *m);

/* daemon/bus/bus-resources.c: Resources on the root object; userdata is the
 * Manager. */
extern const sd_bus_vtable bus_resources_vtable[];
/* Serves the per-resource objects (a fallback vtable and a node
 * enumerator under BUS_RESOURCE_PREFIX) and emits PropertiesChanged
 * whenever the core reports a resource changed, whichever face caused it. */
int bus_resources_attach(Manager *m);

/* The most a JSON argument may hold: the REST body limit, so that both
 * faces refuse the same documents, or 1 MiB when none is configured, so
 * that one call can never make us parse an unbounded string. */
size_t bus_json_arg_max(const Manager *m);

/* Parses a JSON document given as a D-Bus string argument. Malformed text
 * is MalformedJson naming line and column; a document larger than
 * max_bytes (0: no limit) is TooLarge. Returns 0 with a new reference in
 * *ret_doc, or a negative errno with error set. */
int bus_parse_json_arg(const char *text, size_t max_bytes, const char *what, json_t **ret_doc,
                       sd_bus_error *error);

/* Replies to msg with one string argument: v serialized compactly, keys in
 * document order. */
int bus_reply_json(sd_bus_message *msg, const json_t *v);

/* Reads an a{sv} argument into a JSON object, the shape the core takes from
 * a REST body: s -> string, b -> boolean, y n q i u x t -> integer, d ->
 * real, as -> array of strings. Any other type, or a key given twice, is
 * InvalidArgument naming the key; the core then judges the values. */
int bus_read_dict_json(sd_bus_message *msg, json_t **ret, sd_bus_error *error);

/* The end of every method that answers one core document: on r < 0 the
 * CbError mapped through the error table (and cleared), else v as JSON. */
int bus_reply_core(sd_bus_message *msg, int r, const json_t *v, CbError *err, sd_bus_error *error);

/* limit (0: the default) and page_token ("" for the first page) of a D-Bus
 * list method, checked by page_parse() like ?limit= and ?page_token= of
 * REST: an out-of-range limit or a foreign token is InvalidField naming it.
 * On failure err is set; map it with bus_error_from_cb(). */
int bus_page(uint32_t limit, const char *page_token, Page *ret, CbError *err);

/* Replies (s items, s next_page_token): the list as JSON and the token
 * that continues it, "" on the last page. On r < 0 the mapped CbError. */
int bus_reply_page(sd_bus_message *msg, int r, const json_t *items, const char *next, CbError *err,
                   sd_bus_error *error);

/*
 * The steps every method handler repeats, so that a handler reads as: its
 * own arguments, one core call, its serializer.
 */

/* The start of a method: reads the arguments that types names
 * (sd_bus_message_read()'s format; "" for none, or for arguments such as
 * a{sv} read afterwards), then authenticates the sender with bus_caller().
 * Returns 0, or a negative errno with error set when the sender is no
 * principal. */
int bus_call_begin(Manager *m, sd_bus_message *msg, CbCaller *ret_caller, sd_bus_error *error,
                   const char *types, ...);

/* bus_reply_core() for a document made just for the reply: v is a new
 * reference, taken here whatever r is. On success a NULL v (its
 * serializer ran out of memory) is -ENOMEM. */
int bus_reply_new(sd_bus_message *msg, int r, json_t *v, CbError *err, sd_bus_error *error);

/* bus_reply_page() likewise, taking the reference to items. */
int bus_reply_page_new(sd_bus_message *msg, int r, json_t *items, const char *next, CbError *err,
                       sd_bus_error *error);

/* The end of a method the core answers later, through a callback that got
 * sd_bus_message_ref(msg) as its userdata. A refusal (r < 0) comes back
 * synchronously, before anything is queued: then that reference is dropped
 * and the refusal answered (err cleared). Otherwise 1: the callback answers
 * with bus_answer_pending(). */
int bus_reply_pending(sd_bus_message *msg, int r, CbError *err, sd_bus_error *error);

/* The callback's side of bus_reply_pending(): answers msg with v (borrowed)
 * when ok, or else with err mapped; ok with a NULL v (the serializer ran
 * out of memory) is NoMemory, so the caller never waits for nothing. Drops
 * the reference the pending call held. what names the call in the warning
 * logged when no answer can be sent. */
void bus_answer_pending(sd_bus_message *msg, bool ok, const json_t *v, const CbError *err, const char *what);

/* NULL for "", the bus spelling of an absent optional string. */
static inline const char *bus_optional(const char *s) {
        return s && *s ? s : NULL;
}

/* daemon/bus/bus-projects.c: Approvals, Projects, Audit and Identity on the
 * root object; userdata is the Manager. */
extern const sd_bus_vtable bus_approvals_vtable[];
extern const sd_bus_vtable bus_projects_vtable[];
extern const sd_bus_vtable bus_audit_vtable[];
extern const sd_bus_vtable bus_identity_vtable[];

/* daemon/bus/bus-systems.c: Systems and Incidents. */
extern const sd_bus_vtable bus_systems_vtable[];
extern const sd_bus_vtable bus_incidents_vtable[];

/* daemon/bus/bus-legacy.c: Migration (the legacy register, Art. 35). */
extern const sd_bus_vtable bus_migration_vtable[];
#define BUS_MIGRATION_INTERFACE BUS_INTERFACE_PREFIX "Migration"

/* daemon/bus/bus-providers.c: Providers. */
extern const sd_bus_vtable bus_providers_vtable[];
extern const sd_bus_vtable bus_images_vtable[];

/* daemon/bus/bus-billing.c: Billing. */
extern const sd_bus_vtable bus_billing_vtable[];

#define BUS_APPROVALS_INTERFACE BUS_INTERFACE_PREFIX "Approvals"
#define BUS_PROJECTS_INTERFACE  BUS_INTERFACE_PREFIX "Projects"
#define BUS_AUDIT_INTERFACE     BUS_INTERFACE_PREFIX "Audit"
#define BUS_IDENTITY_INTERFACE  BUS_INTERFACE_PREFIX "Identity"
#define BUS_SYSTEMS_INTERFACE   BUS_INTERFACE_PREFIX "Systems"
#define BUS_INCIDENTS_INTERFACE BUS_INTERFACE_PREFIX "Incidents"
#define BUS_PROVIDERS_INTERFACE BUS_INTERFACE_PREFIX "Providers"
#define BUS_BILLING_INTERFACE   BUS_INTERFACE_PREFIX "Billing"
#define BUS_IMAGES_INTERFACE    BUS_INTERFACE_PREFIX "Images"
