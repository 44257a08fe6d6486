/* SPDX-License-Identifier: Apache-2.0 */

/*
 * Resources on the bus, documented in docs/dbus/org.cloudbroker.Broker1.
 * Resources.xml and ...Resource.xml. The root object carries
 * org.cloudbroker.Broker1.Resources (request, list, operations); every
 * resource is an object of its own under BUS_RESOURCE_PREFIX, served the
 * way systemd-machined serves machines: one fallback vtable whose find
 * function asks the core whether the object exists for the sender, and a
 * node enumerator for introspection. No object is registered per resource, so
 * there is nothing to keep in step with the store: the store is the truth,
 * read when asked.
 *
 * Authorization stays in the core. Methods and property reads call
 * resources_get / resources_act with the sender as caller, exactly as
 * GET /v1/resources/{id} and its actions do. The properties are this
 * face's one serializer of a Resource (resource_properties below);
 * GetOperation answers the REST body of an operation, as documented,
 * through the REST face's serializer (rest-records.h).
 *
 * PropertiesChanged is broadcast: every connection on the bus may receive
 * it, whatever its department. So it carries no value, only the names of
 * the properties that changed (EMITS_INVALIDATION); whoever may read the
 * resource then asks with Get, which is checked.
 */

#include "attachments.h"
#include "bindings.h"
#include "bus-util.h"
#include "log.h"
#include "resize.h"
#include "resources.h"
#include "rest-records.h"
#include "states.h"
#include "vm-guest.h"

#define PROPERTIES_INTERFACE     "org.freedesktop.DBus.Properties"
#define OBJECT_MANAGER_INTERFACE "org.freedesktop.DBus.ObjectManager"

/* 1 with the id in *ret for a path of one resource, 0 for any other path
 * (the prefix itself, deeper paths, an empty label), negative on OOM. */
static int resource_id_from_path(const char *path, char **ret) {
        _cleanup_(freep) char *id = NULL;
        const char *tail;
        int r;

        r = sd_bus_path_decode(path, BUS_RESOURCE_PREFIX, &id);
        if (r == -ENOMEM)
                return r;
        if (r <= 0)
                return 0;
        /* sd_bus_path_decode() also matches the prefix itself ("") and
         * deeper paths ("prefix/a/b" is "a/b"). */
        tail = path + strlen(BUS_RESOURCE_PREFIX);
        if (tail[0] != '/' || strchr(tail + 1, '/') || isempty(id) || strlen(id) > 64)
                return 0;
        *ret = TAKE_PTR(id);
        return 1;
}

/* ---- org.cloudbroker.Broker1.Resource: one object per resource ---- */

/* Whether the object exists for whoever asks: the core decides
 * (resources_object_exists), so an object that the sender may not read,
 * or a sender that is no principal, gets UnknownObject from sd-bus exactly
 * as a path that names nothing. A message to this very path is the
 * sender's question; otherwise the daemon itself asks: its own
 * PropertiesChanged, which a change made by some call (to another path)
 * emits while that call is the current message. */
static int find_resource(sd_bus *bus, const char *path, const char *interface, void *userdata,
                         void **ret_found, sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error ignored = SD_BUS_ERROR_NULL;
        sd_bus_message *msg = sd_bus_get_current_message(bus);
        _cleanup_(freep) char *id = NULL;
        Manager *m = userdata;
        CbCaller caller;
        int r;

        (void)interface, (void)error;
        r = resource_id_from_path(path, &id);
        if (r <= 0)
                return r;
        if (msg && !streq_ptr(sd_bus_message_get_path(msg), path))
                msg = NULL;
        if (msg && bus_caller(m, msg, &caller, &ignored) < 0)
                return 0;
        r = resources_object_exists(m->resources, msg ? &caller : NULL, id);
        if (r <= 0)
                return r;
        *ret_found = m;
        return 1;
}

/* The properties of a resource object: the record's fields as strings
 * (a provider not chosen yet reads as ""). */
typedef const char *(*ResourcePropertyFn)(const Resource *res);

static const char *or_empty(const char *s) {
        return s ? s : "";
}

static const char *property_id(const Resource *res) {
        return res->id;
}
static const char *property_name(const Resource *res) {
        return res->name;
}
static const char *property_state(const Resource *res) {
        return resource_state_to_string(res->state);
}
static const char *property_project_id(const Resource *res) {
        return res->project_id;
}
static const char *property_service_id(const Resource *res) {
        return res->service_id;
}
static const char *property_plan_id(const Resource *res) {
        return res->plan_id;
}
static const char *property_provider(const Resource *res) {
        return res->provider;
}
static const char *property_kind(const Resource *res) {
        return resource_kind_to_string(res->kind);
}

static const struct {
        const char *name;
        ResourcePropertyFn get;
} resource_properties[] = {
        { "Id", property_id },
        { "Name", property_name },
        { "State", property_state },
        { "ProjectId", property_project_id },
        { "ServiceId", property_service_id },
        { "PlanId", property_plan_id },
        { "Provider", property_provider },
        { "Kind", property_kind },
};

/* The record read for the message being answered. A GetAll, or a
 * GetManagedObjects, asks for every property of an object in one message:
 * the record is read (and authorized) once for them all, not once per
 * property. A message is known by its sender and cookie, which D-Bus never
 * reuses, so the next message reads afresh and nothing goes stale. */
static struct {
        bool valid;
        char sender[256];
        uint64_t cookie;
        char id[65];
        Resource res;
} read_cache;

static bool read_cache_hit(sd_bus_message *msg, const char *id) {
        uint64_t cookie = 0;
        return read_cache.valid && sd_bus_message_get_cookie(msg, &cookie) >= 0 &&
               cookie == read_cache.cookie &&
               streq(read_cache.sender, or_empty(sd_bus_message_get_sender(msg))) && streq(read_cache.id, id);
}

static void read_cache_put(sd_bus_message *msg, const char *id, Resource *res) {
        uint64_t cookie = 0;
        resource_done(&read_cache.res);
        read_cache.valid = false;
        if (sd_bus_message_get_cookie(msg, &cookie) < 0 ||
            strlen(or_empty(sd_bus_message_get_sender(msg))) >= sizeof(read_cache.sender) ||
            strlen(id) >= sizeof(read_cache.id))
                return;
        read_cache.cookie = cookie;
        snprintf(read_cache.sender, sizeof(read_cache.sender), "%s",
                 or_empty(sd_bus_message_get_sender(msg)));
        snprintf(read_cache.id, sizeof(read_cache.id), "%s", id);
        read_cache.res = *res;
        *res = (Resource){ 0 };
        read_cache.valid = true;
}

static int addresses_append(Manager *m, sd_bus_message *reply, const char *id, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(vm_address_list_freep) VmAddressList *l = NULL;
        json_auto_t *a =
                vm_addresses_stored(m->store, id, &l, &err) >= 0 ? rest_vm_address_list_json(l) : NULL;
        _cleanup_(freep) char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
        if (!text)
                return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_INTERNAL),
                                         "cannot read the addresses of %s", id);
        return sd_bus_message_append(reply, "s", text);
}

/* A property read answers the sender of Properties.Get/GetAll or of
 * ObjectManager.GetManagedObjects, authorized like GET /v1/resources/{id}.
 * Nothing else may call a getter: the properties only invalidate and
 * InterfacesAdded is built by hand without values, so no signal asks for
 * one. Should that change, a getter called outside a read by a sender
 * refuses rather than hand out the record unchecked. */
static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        sd_bus_message *msg = sd_bus_get_current_message(bus);
        _cleanup_(freep) char *id = NULL;
        Manager *m = userdata;
        _cleanup_(resource_done) Resource res = { 0 };
        ResourcePropertyFn get = NULL;
        CbCaller caller;
        int r;

        (void)interface;
        bool addresses = streq(property, "Addresses");
        for (size_t i = 0; i < ELEMENTSOF(resource_properties); i++)
                if (streq(resource_properties[i].name, property))
                        get = resource_properties[i].get;
        if (!get && !addresses)
                return -ENOENT;
        r = resource_id_from_path(path, &id);
        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_NOT_FOUND), "no resource at %s",
                                         path);

        if (!msg || !(sd_bus_message_is_method_call(msg, PROPERTIES_INTERFACE, NULL) ||
                      sd_bus_message_is_method_call(msg, OBJECT_MANAGER_INTERFACE, "GetManagedObjects")))
                return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_FORBIDDEN),
                                         "%s is readable only through org.freedesktop.DBus.Properties or "
                                         "ObjectManager.GetManagedObjects",
                                         property);

        if (!read_cache_hit(msg, id)) {
                r = bus_caller(m, msg, &caller, error);
                if (r < 0)
                        return r;
                r = resources_get(m->resources, &caller, id, &res, &err);
                if (r < 0)
                        return bus_error_from_cb(error, &err);
                if (addresses) /* authorized by the read: the kept addresses, as JSON */
                        return addresses_append(m, reply, id, error);
                read_cache_put(msg, id, &res);
                if (!read_cache.valid) /* not cacheable: answer from the read itself */
                        return sd_bus_message_append(reply, "s", or_empty(get(&res)));
        }
        if (addresses)
                return addresses_append(m, reply, id, error);
        return sd_bus_message_append(reply, "s", or_empty(get(&read_cache.res)));
}

/* The resource a method of a resource object is called on. find_resource()
 * admits only the paths of resources, so the NotFound below is a guard, not
 * an answer a caller can get. */
static int object_id(sd_bus_message *msg, char **ret, sd_bus_error *error) {
        int r = resource_id_from_path(sd_bus_message_get_path(msg), ret);
        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_NOT_FOUND), "no resource at %s",
                                         sd_bus_message_get_path(msg));
        return 0;
}

/* The end of a method that starts an operation: its id, or the refusal. */
static int reply_operation(sd_bus_message *msg, int r, const ResourceTicket *t, CbError *err,
                           sd_bus_error *error) {
        if (r < 0)
                return bus_reply_core(msg, r, NULL, err, error);
        return sd_bus_reply_method_return(msg, "s", t->operation_id);
}

/* The core's answer to a pending Console (answer is ours) and
 * ReadAddresses; userdata is the call, referenced until now. */
static void console_done(json_t *answer, const CbError *err, void *userdata) {
        json_auto_t *v = answer;
        bus_answer_pending(userdata, v, v, err, "Console");
}

static void addresses_done(const VmAddressRead *answer, const CbError *err, void *userdata) {
        json_auto_t *v = answer ? rest_vm_address_read_json(answer) : NULL;
        bus_answer_pending(userdata, answer, v, err, "ReadAddresses");
}

/* Console(kib, lines): read on a worker, answered later; a refusal is
 * answered at once. kib 0 means the default. */
static int method_console(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *id = NULL;
        Manager *m = userdata;
        uint32_t kib = 0, lines = 0;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "uu", &kib, &lines);
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        r = vm_console(m->resources, &caller, id, kib ? kib : VM_CONSOLE_DEFAULT_KIB, lines, console_done,
                       sd_bus_message_ref(msg), &err);
        return bus_reply_pending(msg, r, &err, error);
}

/* ReadAddresses(): likewise, the addresses read anew. */
static int method_read_addresses(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *id = NULL;
        Manager *m = userdata;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "");
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        r = vm_addresses_refresh(m->resources, &caller, id, addresses_done, sd_bus_message_ref(msg), &err);
        return bus_reply_pending(msg, r, &err, error);
}

/* Start, Stop, Reboot, Deprovision: the object's id, one action, the
 * operation's id back. */
static int resource_act(sd_bus_message *msg, Manager *m, const char *action, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *id = NULL;
        ResourceTicket t;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "");
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        r = resources_act(m->resources, &caller, id, action, &t, &err);
        return reply_operation(msg, r, &t, &err, error);
}

static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return resource_act(msg, userdata, "start", error);
}

static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return resource_act(msg, userdata, "stop", error);
}

static int method_reboot(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return resource_act(msg, userdata, "reboot", error);
}

static int method_deprovision(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return resource_act(msg, userdata, "delete", error);
}

/* AttachVolume, DetachVolume: a block volume onto or off this VM (attachments.h). */
static int volume_act(sd_bus_message *msg, Manager *m, bool attach, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *id = NULL;
        const char *volume_id;
        ResourceTicket t;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &volume_id);
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        r = attach ? resources_attach_volume(m->resources, &caller, id, volume_id, &t, &err)
                   : resources_detach_volume(m->resources, &caller, id, volume_id, &t, &err);
        return reply_operation(msg, r, &t, &err, error);
}

static int method_attach_volume(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return volume_act(msg, userdata, true, error);
}

static int method_detach_volume(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return volume_act(msg, userdata, false, error);
}

/* ListVolumes: what GET /v1/resources/{id}/volumes answers, as JSON. */
static int method_list_volumes(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *id = NULL;
        _cleanup_(volume_attachment_list_done) VolumeAttachmentList list = { 0 };
        Manager *m = userdata;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "");
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        r = resources_volume_attachments(m->resources, &caller, id, &list, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_volume_attachment_list_json(&list) : NULL, &err, error);
}

/* DeprovisionWithVolumes: Deprovision, and the volumes attached to the VM
 * are deleted after it (DELETE ?delete_volumes=true). */
static int method_deprovision_with_volumes(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *id = NULL;
        Manager *m = userdata;
        ResourceTicket t;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "");
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        r = resources_delete(m->resources, &caller, id, true, &t, &err);
        return reply_operation(msg, r, &t, &err, error);
}

/* ---- bindings of service resources (bindings.h) ---- */

/* The core's first answer to a pending Bind or Unbind; userdata is the call. */
static void binding_answered(const ServiceBinding *b, const CbError *err, void *userdata) {
        bool ok = b && !(b->state == BINDING_FAILED && err);
        json_auto_t *v = ok ? rest_service_binding_json(b) : NULL;
        bus_answer_pending(userdata, ok, v, err, "a binding call");
}

/* Bind(binding_id), BindWithParameters(binding_id, parameters) and
 * Unbind(id): answered after the provider's first answer, or at once for
 * a repeat (the record as it stands). */
static int binding_call(sd_bus_message *msg, Manager *m, bool unbind, bool with_parameters,
                        sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        _cleanup_(json_decrefp) json_t *params = NULL;
        _cleanup_(freep) char *id = NULL;
        const char *arg = NULL, *params_text = NULL;
        bool pending = false;
        CbCaller caller;
        int r;

        r = with_parameters ? bus_call_begin(m, msg, &caller, error, "ss", &arg, &params_text)
                            : bus_call_begin(m, msg, &caller, error, "s", &arg);
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        /* Not bus_parse_json_arg(): its message quotes the text, and parameters may be secrets. */
        if (!isempty(params_text) && (strlen(params_text) > bus_json_arg_max(m) ||
                                      !(params = json_loads(params_text, JSON_REJECT_DUPLICATES, NULL))))
                return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_VALIDATION),
                                         "parameters: not a JSON document (or too large)");
        if (unbind)
                r = resource_unbind(m->resources, &caller, id, arg, false, binding_answered,
                                    sd_bus_message_ref(msg), &b, &pending, &err);
        else
                r = resource_bind(m->resources, &caller, id, bus_optional(arg), params, NULL,
                                  binding_answered, sd_bus_message_ref(msg), &b, &pending, &err);
        if (r >= 0 && !pending) { /* a repeat: nothing calls back, the record answers now */
                sd_bus_message_unref(msg);
                return bus_reply_new(msg, r, rest_service_binding_json(&b), &err, error);
        }
        return bus_reply_pending(msg, r, &err, error);
}

static int method_bind(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return binding_call(msg, userdata, false, false, error);
}

static int method_bind_with_parameters(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return binding_call(msg, userdata, false, true, error);
}

static int method_unbind(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return binding_call(msg, userdata, true, false, error);
}

static int method_list_bindings(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(service_binding_list_freep) ServiceBindingList *list = NULL;
        _cleanup_(freep) char *id = NULL;
        Manager *m = userdata;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "");
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        r = resource_bindings_list(m->resources, &caller, id, &list, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_service_binding_list_json(list) : NULL, &err, error);
}

static int method_get_binding(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(service_binding_done) ServiceBinding b = { 0 };
        _cleanup_(freep) char *id = NULL;
        Manager *m = userdata;
        const char *bid = NULL;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &bid);
        if (r >= 0)
                r = object_id(msg, &id, error);
        if (r < 0)
                return r;
        r = resource_binding_get(m->resources, &caller, id, bid, false, &b, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_service_binding_json(&b) : NULL, &err, error);
}

/* Set when the resource is requested, never changed afterwards (no UPDATE
 * in resources.c touches these columns). */
#define RESOURCE_CONST_PROPERTY(name) \
        SD_BUS_PROPERTY(name, "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST)
/* May change; PropertiesChanged names it without its value. Provider is
 * fixed at the request today, but the record allows "no provider yet",
 * so it is announced like State rather than promised constant. */
#define RESOURCE_CHANGING_PROPERTY(name) \
        SD_BUS_PROPERTY(name, "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION)

static const sd_bus_vtable bus_resource_vtable[] = {
        SD_BUS_VTABLE_START(0),
        RESOURCE_CONST_PROPERTY("Id"),
        RESOURCE_CONST_PROPERTY("Name"),
        RESOURCE_CHANGING_PROPERTY("State"),
        RESOURCE_CONST_PROPERTY("ProjectId"),
        RESOURCE_CONST_PROPERTY("ServiceId"),
        RESOURCE_CHANGING_PROPERTY("PlanId"), /* a resize changes it */
        RESOURCE_CHANGING_PROPERTY("Provider"),
        RESOURCE_CONST_PROPERTY("Kind"),
        /* JSON: the VM's interfaces and addresses as last read ("[]" before).
         * No signal names it (EmitsChangedSignal false): ReadAddresses reads anew. */
        SD_BUS_PROPERTY("Addresses", "s", property_get, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", operation_id), method_start,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", operation_id), method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reboot", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", operation_id), method_reboot,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Deprovision", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", operation_id),
                                method_deprovision, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeprovisionWithVolumes", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", operation_id),
                                method_deprovision_with_volumes, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AttachVolume", SD_BUS_ARGS("s", volume_id), SD_BUS_RESULT("s", operation_id),
                                method_attach_volume, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DetachVolume", SD_BUS_ARGS("s", volume_id), SD_BUS_RESULT("s", operation_id),
                                method_detach_volume, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListVolumes", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", volumes),
                                method_list_volumes, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Console", SD_BUS_ARGS("u", kib, "u", lines), SD_BUS_RESULT("s", console),
                                method_console, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadAddresses", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", addresses),
                                method_read_addresses, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Bind", SD_BUS_ARGS("s", binding_id), SD_BUS_RESULT("s", binding),
                                method_bind, SD_BUS_VTABLE_UNPRIVILEGED),
        /* parameters: a JSON object as text ("" for none), as POST .../bindings takes it. */
        SD_BUS_METHOD_WITH_ARGS("BindWithParameters", SD_BUS_ARGS("s", binding_id, "s", parameters),
                                SD_BUS_RESULT("s", binding), method_bind_with_parameters,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unbind", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", binding), method_unbind,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListBindings", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", bindings),
                                method_list_bindings, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetBinding", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", binding),
                                method_get_binding, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- org.cloudbroker.Broker1.Resources on the root object ---- */

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

/* The object paths of the caller's objects (resources_object_ids: what
 * GET /v1/resources answers, less the deleted), NULL-terminated, for the
 * enumerator and ListResources alike. */
static int visible_paths(Manager *m, const CbCaller *caller, char ***ret, CbError *err) {
        char **ids = NULL, **v;
        size_t n = 0;
        int r;

        r = resources_object_ids(m->resources, caller, &ids, err);
        if (r < 0)
                return r;
        for (char **p = ids; *p; p++)
                n++;
        v = calloc(n + 1, sizeof(char *));
        if (!v) {
                strv_free(ids);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                r = sd_bus_path_encode(BUS_RESOURCE_PREFIX, ids[i], &v[i]);
                if (r < 0) {
                        strv_free(ids);
                        strv_free(v);
                        return cb_error_set(err, CB_ERR_INTERNAL, "cannot build an object path: %s",
                                            strerror(-r));
                }
        }
        strv_free(ids);
        *ret = v;
        return 0;
}

/* Introspection lists the resources the asker may see, nothing more: the
 * ids of another department's resources are none of its business. An
 * unknown UID, or no asker at all, gets an empty node. */
static int enumerate_resources(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes,
                               sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(sd_bus_error_free) sd_bus_error ignored = SD_BUS_ERROR_NULL;
        sd_bus_message *msg = sd_bus_get_current_message(bus);
        Manager *m = userdata;
        CbCaller caller;
        int r;

        (void)prefix;
        if (!msg || bus_caller(m, msg, &caller, &ignored) < 0) {
                *ret_nodes = calloc(1, sizeof(char *));
                return *ret_nodes ? 0 : -ENOMEM;
        }
        r = visible_paths(m, &caller, ret_nodes, &err);
        if (r < 0)
                return bus_error_from_cb(error, &err);
        return 0;
}

/* The Idempotency-Key header of REST travels inside the document here; the
 * core sees the same body either way, so a key used over REST replays over
 * D-Bus too. *ret_body is doc without it (a new reference), *ret_key
 * borrowed from doc. */
static int request_split(json_t *doc, json_t **ret_body, const char **ret_key, CbError *err) {
        const json_t *k = json_object_get(doc, "idempotency_key");
        json_t *body;

        if (k && !json_is_string(k))
                return cb_error_set_field(err, CB_ERR_VALIDATION, "idempotency_key",
                                          "idempotency_key must be a string");
        body = k ? json_copy(doc) : json_incref(doc);
        if (!body)
                return -ENOMEM;
        if (k)
                json_object_del(body, "idempotency_key");
        *ret_body = body;
        *ret_key = k ? json_string_value(k) : NULL;
        return 0;
}

static int method_request_resource(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *path = NULL;
        Manager *m = userdata;
        json_auto_t *doc = NULL, *body = NULL;
        ResourceTicket t;
        const char *text, *key = NULL;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &text);
        if (r >= 0)
                r = bus_parse_json_arg(text, bus_json_arg_max(m), "the resource request", &doc, error);
        if (r < 0)
                return r;
        r = request_split(doc, &body, &key, &err);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                r = resources_request(m->resources, &caller, body, key, &t, &err);
        if (r < 0)
                return bus_reply_core(msg, r, NULL, &err, error);
        r = sd_bus_path_encode(BUS_RESOURCE_PREFIX, t.id, &path);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "os", path, t.operation_id);
}

static int method_list_resources(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        char **paths = NULL;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "");
        if (r < 0)
                return r;
        r = visible_paths(m, &caller, &paths, &err);
        if (r < 0)
                return bus_reply_core(msg, r, NULL, &err, error);
        /* Object paths (ao), not a document: built here. */
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "o");
        for (char **p = paths; r >= 0 && *p; p++)
                r = sd_bus_message_append(reply, "o", *p);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        strv_free(paths);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_operation(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(operation_done) Operation op = { 0 };
        Manager *m = userdata;
        CbCaller caller;
        const char *id;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &id);
        if (r < 0)
                return r;
        r = operations_get(m->resources, &caller, id, &op, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_operation_json(&op) : NULL, &err, error);
}

/* ResizeResource: POST /v1/resources/{id}/resize (resize.h). */
static int method_resize_resource(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        const char *id, *plan_id;
        ResourceTicket t;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "ss", &id, &plan_id);
        if (r < 0)
                return r;
        r = resources_resize(m->resources, &caller, id, plan_id, &t, &err);
        return reply_operation(msg, r, &t, &err, error);
}

/* UpdateResource(id, plan_id, parameters): POST /v1/resources/{id}/resize
 * {"plan_id"?, "parameters"?} (resources_update(), resize.h). plan_id ""
 * keeps the plan; parameters a JSON object as text, "" for none. */
static int method_update_resource(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(json_decrefp) json_t *params = NULL;
        Manager *m = userdata;
        const char *id, *plan_id, *params_text;
        ResourceTicket t;
        CbCaller caller;
        int r;

        r = sd_bus_message_read(msg, "sss", &id, &plan_id, &params_text);
        if (r < 0)
                return r;
        /* Not bus_parse_json_arg(): its message quotes the text, and parameters may be secrets. */
        if (!isempty(params_text) && (strlen(params_text) > bus_json_arg_max(m) ||
                                      !(params = json_loads(params_text, JSON_REJECT_DUPLICATES, NULL))))
                return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_VALIDATION),
                                         "parameters: not a JSON document (or too large)");
        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = resources_update(m->resources, &caller, id, isempty(plan_id) ? NULL : plan_id, params, &t, &err);
        if (r < 0)
                return bus_error_from_cb(error, &err);
        return sd_bus_reply_method_return(msg, "s", t.operation_id);
}

/* ListOperations(kind, state, resource_id, limit, page_token): GET /v1/operations. */
static int method_list_operations(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(operation_list_done) OperationList list = { 0 };
        Manager *m = userdata;
        char next[PAGE_TOKEN_MAX] = "";
        const char *kind, *state, *resource_id, *token;
        uint32_t limit;
        CbCaller caller;
        Page page;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sssus", &kind, &state, &resource_id, &limit, &token);
        if (r < 0)
                return r;
        r = bus_page(limit, token, &page, &err);
        if (r >= 0)
                r = operations_list(m->resources, &caller, bus_optional(kind), bus_optional(state),
                                    bus_optional(resource_id), &page, &list, next, &err);
        return bus_reply_page_new(msg, r, r >= 0 ? rest_operations_json(&list) : NULL, next, &err, error);
}

const sd_bus_vtable bus_resources_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("RequestResource", SD_BUS_ARGS("s", request),
                                SD_BUS_RESULT("o", resource, "s", operation_id), method_request_resource,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListResources", SD_BUS_NO_ARGS, SD_BUS_RESULT("ao", resources),
                                method_list_resources, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetOperation", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", operation),
                                method_get_operation, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResizeResource", SD_BUS_ARGS("s", id, "s", plan_id),
                                SD_BUS_RESULT("s", operation_id), method_resize_resource,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        /* parameters: a JSON object as text ("" for none); plan_id "" keeps the plan. */
        SD_BUS_METHOD_WITH_ARGS("UpdateResource", SD_BUS_ARGS("s", id, "s", plan_id, "s", parameters),
                                SD_BUS_RESULT("s", operation_id), method_update_resource,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS(
                "ListOperations",
                SD_BUS_ARGS("s", kind, "s", state, "s", resource_id, "u", limit, "s", page_token),
                SD_BUS_RESULT("s", operations, "s", next_page_token), method_list_operations,
                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- change notification ---- */

/* A deleted resource is no object any more, so sd-bus will not emit for
 * it; its watchers still deserve to hear that it changed. Built by hand: the same PropertiesChanged an object
 * would have sent, names only. A watcher that may read the resource learns the rest from Get, which then
 * answers UnknownObject: gone means deleted. */
static int emit_final_change(sd_bus *bus, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r;

        r = sd_bus_message_new_signal(bus, &s, path, PROPERTIES_INTERFACE, "PropertiesChanged");
        if (r >= 0)
                r = sd_bus_message_append(s, "sa{sv}as", BUS_RESOURCE_INTERFACE, 0, 2, "State", "Provider");
        if (r >= 0)
                r = sd_bus_send(bus, s, NULL);
        return r;
}

/* ObjectManager's InterfacesAdded and InterfacesRemoved, by hand and
 * without a single property value: they are broadcast like
 * PropertiesChanged, so another department's listener learns that an
 * object path (the broker-made resource id) appeared or went, and when,
 * never whose it is or what it holds. Whoever may read the resource asks
 * with Get or GetManagedObjects, which are checked. sd-bus's own
 * sd_bus_emit_interfaces_added() would fill in every property for
 * everyone. */
static int emit_interfaces(sd_bus *bus, const char *path, bool added) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r;

        r = sd_bus_message_new_signal(bus, &s, BUS_PATH, OBJECT_MANAGER_INTERFACE,
                                      added ? "InterfacesAdded" : "InterfacesRemoved");
        if (r >= 0)
                r = sd_bus_message_append(s, "o", path);
        if (r >= 0 && added)
                r = sd_bus_message_append(s, "a{sa{sv}}", 1, BUS_RESOURCE_INTERFACE, 0);
        else if (r >= 0)
                r = sd_bus_message_append(s, "as", 1, BUS_RESOURCE_INTERFACE);
        if (r >= 0)
                r = sd_bus_send(bus, s, NULL);
        return r;
}

static void on_resource_changed(const char *resource_id, bool created, void *userdata) {
        _cleanup_(freep) char *path = NULL;
        Manager *m = userdata;
        bool deleted;
        int r;

        if (!m->bus)
                return;
        r = sd_bus_path_encode(BUS_RESOURCE_PREFIX, resource_id, &path);
        if (r < 0) {
                log_warning("cannot build the object path of resource %s: %s", resource_id, strerror(-r));
                return;
        }
        r = resources_object_exists(m->resources, NULL, resource_id);
        if (r < 0)
                return;
        deleted = r == 0; /* notify names only resources of record: not an object is deleted */
        if (created && !deleted) {
                r = emit_interfaces(m->bus, path, true);
                if (r < 0)
                        log_warning("cannot emit InterfacesAdded for resource %s: %s", resource_id,
                                    strerror(-r));
        }
        if (deleted)
                r = emit_final_change(m->bus, path);
        else
                r = sd_bus_emit_properties_changed(m->bus, path, BUS_RESOURCE_INTERFACE, "State", "Provider",
                                                   "PlanId", NULL);
        if (r < 0)
                log_warning("cannot emit PropertiesChanged for resource %s: %s", resource_id, strerror(-r));
        if (deleted) {
                r = emit_interfaces(m->bus, path, false);
                if (r < 0)
                        log_warning("cannot emit InterfacesRemoved for resource %s: %s", resource_id,
                                    strerror(-r));
        }
}

int bus_resources_attach(Manager *m) {
        int r;

        /* Runs before the loop dispatches anything, so no call can reach a
         * resource path before its vtable is there. Both are floating:
         * they live as long as the connection. */
        r = sd_bus_add_fallback_vtable(m->bus, NULL, BUS_RESOURCE_PREFIX, BUS_RESOURCE_INTERFACE,
                                       bus_resource_vtable, find_resource, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(m->bus, NULL, BUS_RESOURCE_PREFIX, enumerate_resources, m);
        if (r < 0)
                return r;
        /* GetManagedObjects walks the enumerator and the fallback above, so
         * it lists exactly what the caller may read, values included. */
        r = sd_bus_add_object_manager(m->bus, NULL, BUS_PATH);
        if (r < 0)
                return r;
        if (m->resources)
                resources_set_change_callback(m->resources, on_resource_changed, m);
        return 0;
}
