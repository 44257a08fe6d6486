/* SPDX-License-Identifier: Apache-2.0 */

/*
 * The system directory (Art. 10) and security incidents (Art. 38) on
 * /org/cloudbroker/Broker1, documented in docs/dbus/org.cloudbroker.Broker1.
 * {Systems,Incidents}.xml. A system or an incident report is a handful of
 * typed fields: they travel as a{sv} with the REST members' names
 * ("protection_level" as an integer, "classified" as a boolean, "systems"
 * as an array of strings) and reach the core as the object REST would have
 * parsed, so both faces are validated by the same code.
 */

#include "bus-util.h"
#include "incidents.h"
#include "rest-records.h"
#include "systems.h"

/* ---- org.cloudbroker.Broker1.Systems ---- */

/* The system in the REST shape, or the core's refusal. */
static int reply_system(sd_bus_message *msg, int r, const System *sys, CbError *err, sd_bus_error *error) {
        return bus_reply_new(msg, r, r >= 0 ? rest_system_json(sys) : NULL, err, error);
}

static int method_add_system(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(system_freep) System *sys = NULL;
        Manager *m = userdata;
        json_auto_t *doc = NULL;
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r >= 0)
                r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = systems_create(m->store, &caller, doc, &sys, &err);
        return reply_system(msg, r, sys, &err, error);
}

static int method_update_system(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(system_freep) System *sys = NULL;
        Manager *m = userdata;
        json_auto_t *doc = NULL;
        CbCaller caller;
        const char *id;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &id);
        if (r >= 0)
                r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = systems_update(m->store, &caller, id, doc, &sys, &err);
        return reply_system(msg, r, sys, &err, error);
}

static int method_get_system(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(system_freep) System *sys = NULL;
        Manager *m = userdata;
        CbCaller caller;
        const char *id;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &id);
        if (r < 0)
                return r;
        r = systems_get(m->store, &caller, id, &sys, &err);
        return reply_system(msg, r, sys, &err, error);
}

static int method_list_systems(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(system_list_done) SystemList list = { 0 };
        Manager *m = userdata;
        char next[PAGE_TOKEN_MAX] = "";
        const char *department, *token;
        uint32_t limit;
        CbCaller caller;
        Page page;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sus", &department, &limit, &token);
        if (r < 0)
                return r;
        r = bus_page(limit, token, &page, &err);
        if (r >= 0)
                r = systems_list(m->store, &caller, bus_optional(department), &page, &list, next, &err);
        return bus_reply_page_new(msg, r, r >= 0 ? rest_system_list_json(&list) : NULL, next, &err, error);
}

const sd_bus_vtable bus_systems_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("AddSystem", SD_BUS_ARGS("a{sv}", system), SD_BUS_RESULT("s", system),
                                method_add_system, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListSystems", SD_BUS_ARGS("s", department, "u", limit, "s", page_token),
                                SD_BUS_RESULT("s", systems, "s", next_page_token), method_list_systems,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetSystem", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", system),
                                method_get_system, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UpdateSystem", SD_BUS_ARGS("s", id, "a{sv}", system),
                                SD_BUS_RESULT("s", system), method_update_system, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- org.cloudbroker.Broker1.Incidents ---- */

/* The incident in the REST shape, or the core's refusal. */
static int reply_incident(sd_bus_message *msg, int r, const Incident *inc, CbError *err,
                          sd_bus_error *error) {
        return bus_reply_new(msg, r, r >= 0 ? rest_incident_json(inc) : NULL, err, error);
}

static int method_report_incident(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(incident_freep) Incident *inc = NULL;
        Manager *m = userdata;
        json_auto_t *doc = NULL;
        CbCaller caller;
        int r;

        r = bus_caller(m, msg, &caller, error);
        if (r >= 0)
                r = bus_read_dict_json(msg, &doc, error);
        if (r < 0)
                return r;
        r = incidents_report(m->store, &caller, doc, &inc, &err);
        return reply_incident(msg, r, inc, &err, error);
}

static int method_list_incidents(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(incident_list_done) IncidentList list = { 0 };
        Manager *m = userdata;
        char next[PAGE_TOKEN_MAX] = "";
        const char *token;
        uint32_t limit;
        CbCaller caller;
        Page page;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "us", &limit, &token);
        if (r < 0)
                return r;
        r = bus_page(limit, token, &page, &err);
        if (r >= 0)
                r = incidents_list(m->store, &caller, &page, &list, next, &err);
        return bus_reply_page_new(msg, r, r >= 0 ? rest_incident_list_json(&list) : NULL, next, &err, error);
}

static int method_get_incident(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(incident_freep) Incident *inc = NULL;
        Manager *m = userdata;
        CbCaller caller;
        const char *id;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &id);
        if (r < 0)
                return r;
        r = incidents_get(m->store, &caller, id, &inc, &err);
        return reply_incident(msg, r, inc, &err, error);
}

static int method_add_record(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(incident_freep) Incident *inc = NULL;
        Manager *m = userdata;
        json_auto_t *doc = NULL;
        const char *id, *note, *status;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sss", &id, &note, &status);
        if (r < 0)
                return r;
        doc = json_pack("{s:s, s:s}", "note", note, "status", status);
        if (!doc)
                return -ENOMEM;
        r = incidents_add_record(m->store, &caller, id, doc, &inc, &err);
        return reply_incident(msg, r, inc, &err, error);
}

const sd_bus_vtable bus_incidents_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ReportIncident", SD_BUS_ARGS("a{sv}", report), SD_BUS_RESULT("s", incident),
                                method_report_incident, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListIncidents", SD_BUS_ARGS("u", limit, "s", page_token),
                                SD_BUS_RESULT("s", incidents, "s", next_page_token), method_list_incidents,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetIncident", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", incident),
                                method_get_incident, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddRecord", SD_BUS_ARGS("s", id, "s", note, "s", status),
                                SD_BUS_RESULT("s", incident), method_add_record, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
