/* SPDX-License-Identifier: Apache-2.0 */

/*
 * org.cloudbroker.Broker1.Providers on /org/cloudbroker/Broker1, documented
 * in docs/dbus/org.cloudbroker.Broker1.Providers.xml: the providers, adding
 * one, and a provider's live inventory. The inventory asks the provider on
 * a worker, as GET /v1/providers/{name}/inventory does: the method returns
 * at once and the reply is sent when the core calls back, so the loop keeps
 * serving meanwhile.
 */

#include "adopt.h"
#include "bus-util.h"
#include "log.h"
#include "providers.h"
#include "resources.h"
#include "rest-records.h"

static int method_list_providers(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        _cleanup_(provider_list_done) ProviderList list = { 0 };
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = providers_list(m->providers, &caller, &list, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_provider_list_json(&list) : NULL, &err, error);
}

static int method_add_provider(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        _cleanup_(provider_record_done) ProviderRecord rec = { 0 };
        json_auto_t *doc = NULL;
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r >= 0)
                r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = providers_create(m->providers, &caller, doc, &rec, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_provider_json(&rec) : NULL, &err, error);
}

/* The core's answer to a pending GetInventory; userdata is the call,
 * referenced until now. */
static void inventory_done(Inventory *inventory, const CbError *err, void *userdata) {
        _cleanup_(inventory_freep) Inventory *inv = inventory;
        json_auto_t *v = inv ? rest_inventory_json(inv) : NULL;
        bus_answer_pending(userdata, inv, v, err, "GetInventory");
}

static int method_get_inventory(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Manager *m = userdata;
        CbCaller caller;
        const char *name;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &name);
        if (r < 0)
                return r;
        r = resources_inventory(m->resources, &caller, name, inventory_done, sd_bus_message_ref(msg), &err);
        return bus_reply_pending(msg, r, &err, error);
}

/* Adopt(name, a{sv} request): POST /v1/providers/{name}/adopt; answers the
 * ticket {"id", "state", "operation_id"} at once (Resources.GetOperation
 * follows it). */
static int method_adopt(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        json_auto_t *doc = NULL;
        Manager *m = userdata;
        ResourceTicket t;
        CbCaller caller;
        const char *name;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &name);
        if (r >= 0)
                r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = resources_adopt(m->resources, &caller, name, doc, &t, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_ticket_json(&t) : NULL, &err, error);
}

const sd_bus_vtable bus_providers_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListProviders", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", providers),
                                method_list_providers, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddProvider", SD_BUS_ARGS("a{sv}", provider), SD_BUS_RESULT("s", provider),
                                method_add_provider, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetInventory", SD_BUS_ARGS("s", name), SD_BUS_RESULT("s", inventory),
                                method_get_inventory, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Adopt", SD_BUS_ARGS("s", name, "a{sv}", request), SD_BUS_RESULT("s", ticket),
                                method_adopt, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
