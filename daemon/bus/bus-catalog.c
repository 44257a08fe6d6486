/* SPDX-License-Identifier: Apache-2.0 */

#include "bus-util.h"
#include "catalog.h"
#include "log.h"

/*
 * org.cloudbroker.Broker1.Catalog on /org/cloudbroker/Broker1, documented in
 * docs/dbus/org.cloudbroker.Broker1.Catalog.xml. Services travel as JSON
 * strings in the same shape as the REST API's. Every method authenticates
 * the sender's UID, even for the published list: the published catalogue is
 * public through REST and OSB, but a caller the config does not know has no
 * business on the broker's bus, and refusing early keeps one rule for all.
 */

#ifndef CB_VERSION
#define CB_VERSION "0.0.0"
#endif

typedef int (*CatalogAction)(Catalog *c, const CbCaller *caller, const char *id, json_t **ret, CbError *err);

static int method_list_services(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        json_auto_t *list = NULL;
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = catalog_list_published(m->catalog, &list);
        if (r < 0)
                return sd_bus_error_setf(error, cb_error_dbus_name(CB_ERR_INTERNAL),
                                         "cannot read the published catalogue: %s", strerror(-r));
        return bus_reply_json(msg, list);
}

static int method_list_all_services(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        json_auto_t *list = NULL;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r < 0)
                return r;
        r = catalog_list_all(m->catalog, &caller, &list, &err);
        return bus_reply_core(msg, r, list, &err, error);
}

static int method_get_service(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        json_auto_t *v = NULL;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        CbCaller caller;
        const char *id;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &id);
        if (r < 0)
                return r;
        r = catalog_get(m->catalog, &caller, id, 0, &v, &err);
        return bus_reply_core(msg, r, v, &err, error);
}

static int method_create_service(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        json_auto_t *doc = NULL, *v = NULL;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        CbCaller caller;
        const char *text;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &text);
        if (r >= 0)
                r = bus_parse_json_arg(text, bus_json_arg_max(m), "the service document", &doc, error);
        if (r < 0)
                return r;
        r = catalog_create(m->catalog, &caller, doc, &v, &err);
        return bus_reply_core(msg, r, v, &err, error);
}

static int method_update_service(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        json_auto_t *doc = NULL, *v = NULL;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        CbCaller caller;
        const char *id, *text;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "ss", &id, &text);
        if (r >= 0)
                r = bus_parse_json_arg(text, bus_json_arg_max(m), "the service document", &doc, error);
        if (r < 0)
                return r;
        r = catalog_update(m->catalog, &caller, id, doc, &v, &err);
        return bus_reply_core(msg, r, v, &err, error);
}

/* Submit, approve, deprecate, retire: an id in, the new view out. */
static int transition(sd_bus_message *msg, Manager *m, CatalogAction action, sd_bus_error *error) {
        json_auto_t *v = NULL;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        CbCaller caller;
        const char *id;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &id);
        if (r < 0)
                return r;
        r = action(m->catalog, &caller, id, &v, &err);
        return bus_reply_core(msg, r, v, &err, error);
}

static int method_submit_service(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return transition(msg, userdata, catalog_submit, error);
}

static int method_approve_service(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return transition(msg, userdata, catalog_approve, error);
}

static int method_deprecate_service(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return transition(msg, userdata, catalog_deprecate, error);
}

static int method_retire_service(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return transition(msg, userdata, catalog_retire, error);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply_msg, void *userdata, sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)userdata, (void)error;
        return sd_bus_message_append(reply_msg, "s", CB_VERSION);
}

/* Authorization is the core's, by principal, so sd-bus must let every UID
 * reach the handlers: SD_BUS_VTABLE_UNPRIVILEGED on every method. */
const sd_bus_vtable bus_catalog_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("ListServices", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", services),
                                method_list_services, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListAllServices", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", services),
                                method_list_all_services, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetService", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", service),
                                method_get_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateService", SD_BUS_ARGS("s", service), SD_BUS_RESULT("s", service),
                                method_create_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UpdateService", SD_BUS_ARGS("s", id, "s", service),
                                SD_BUS_RESULT("s", service), method_update_service,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SubmitService", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", service),
                                method_submit_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ApproveService", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", service),
                                method_approve_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeprecateService", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", service),
                                method_deprecate_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RetireService", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", service),
                                method_retire_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL("CatalogChanged", "", 0),
        SD_BUS_VTABLE_END,
};

/* CatalogChanged follows the catalogue's generation rather than our own
 * methods, so a change made through REST or a seed import is announced too.
 * A post source runs after every dispatch of the loop: one integer compare. */
typedef struct CatalogWatch {
        Manager *manager;
        uint64_t seen;
} CatalogWatch;

static int on_loop_post(sd_event_source *s, void *userdata) {
        CatalogWatch *w = userdata;
        Manager *m = w->manager;
        uint64_t g;
        int r;

        (void)s;
        if (!m->bus || !m->catalog)
                return 0;
        g = catalog_generation(m->catalog);
        if (g == w->seen)
                return 0;
        w->seen = g;
        r = sd_bus_emit_signal(m->bus, BUS_PATH, BUS_CATALOG_INTERFACE, "CatalogChanged", "");
        if (r < 0)
                log_warning("cannot emit CatalogChanged: %s", strerror(-r));
        /* A negative return would disable the source for good. */
        return 0;
}

int bus_catalog_attach(Manager *m) {
        sd_event_source *s = NULL;
        CatalogWatch *w;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->manager = m;
        w->seen = m->catalog ? catalog_generation(m->catalog) : 0;

        r = sd_event_add_post(m->event, &s, on_loop_post, w);
        if (r < 0) {
                free(w);
                return r;
        }
        r = sd_event_source_set_destroy_callback(s, free);
        if (r < 0) {
                free(w);
                sd_event_source_unref(s);
                return r;
        }
        /* Owned by the loop from here on; freed with it. */
        r = sd_event_source_set_floating(s, 1);
        sd_event_source_unref(s);
        return r < 0 ? r : 0;
}
