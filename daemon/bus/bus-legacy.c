/* SPDX-License-Identifier: Apache-2.0 */

/*
 * org.cloudbroker.Broker1.Migration on /org/cloudbroker/Broker1: the
 * legacy register (Art. 35), documented in docs/dbus/
 * org.cloudbroker.Broker1.Migration.xml. A registration or a plan nests
 * objects (hosting, source, target), so it travels as one JSON string in
 * the REST body's shape, and reaches the same core function.
 */

#include "bus-util.h"
#include "legacy.h"
#include "log.h"
#include "rest-records.h"

/* The record in the REST shape, or the core's refusal. */
static int reply_record(sd_bus_message *msg, int r, const LegacyRecord *rec, CbError *err,
                        sd_bus_error *error) {
        return bus_reply_new(msg, r, r >= 0 ? rest_legacy_json(rec) : NULL, err, error);
}

static int method_register(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(legacy_record_done) LegacyRecord rec = { 0 };
        Manager *m = userdata;
        json_auto_t *doc = NULL;
        const char *text;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &text);
        if (r >= 0)
                r = bus_parse_json_arg(text, bus_json_arg_max(m), "the registration", &doc, error);
        if (r < 0)
                return r;
        r = legacy_create(m->legacy, &caller, doc, &rec, &err);
        return reply_record(msg, r, &rec, &err, error);
}

typedef int (*LegacyIdFn)(Legacy *lg, const CbCaller *caller, const char *id, LegacyRecord *ret,
                          CbError *err);
typedef int (*LegacyBodyFn)(Legacy *lg, const CbCaller *caller, const char *id, const json_t *body,
                            LegacyRecord *ret, CbError *err);

/* (s id) -> s: Get, Assess and Migrate. */
static int call_with_id(sd_bus_message *msg, Manager *m, LegacyIdFn fn, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(legacy_record_done) LegacyRecord rec = { 0 };
        const char *id;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &id);
        if (r < 0)
                return r;
        r = fn(m->legacy, &caller, id, &rec, &err);
        return reply_record(msg, r, &rec, &err, error);
}

/* (s id, s document) -> s: Update and Plan. */
static int call_with_doc(sd_bus_message *msg, Manager *m, LegacyBodyFn fn, const char *what,
                         sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(legacy_record_done) LegacyRecord rec = { 0 };
        json_auto_t *doc = NULL;
        const char *id, *text;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "ss", &id, &text);
        if (r >= 0)
                r = bus_parse_json_arg(text, bus_json_arg_max(m), what, &doc, error);
        if (r < 0)
                return r;
        r = fn(m->legacy, &caller, id, doc, &rec, &err);
        return reply_record(msg, r, &rec, &err, error);
}

static int method_update(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return call_with_doc(msg, userdata, legacy_update, "the registration", error);
}

static int method_plan(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return call_with_doc(msg, userdata, legacy_plan, "the plan request", error);
}

static int method_get(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return call_with_id(msg, userdata, legacy_get, error);
}

static int method_assess(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return call_with_id(msg, userdata, legacy_assess, error);
}

static int method_migrate(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return call_with_id(msg, userdata, legacy_migrate, error);
}

static int method_decommission(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(legacy_record_done) LegacyRecord rec = { 0 };
        Manager *m = userdata;
        json_auto_t *body = NULL;
        const char *id;
        int remove_disks;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sb", &id, &remove_disks);
        if (r < 0)
                return r;
        body = json_pack("{s:b}", "remove_disks", remove_disks);
        if (!body)
                return -ENOMEM;
        r = legacy_decommission(m->legacy, &caller, id, body, &rec, &err);
        return reply_record(msg, r, &rec, &err, error);
}

static int method_transition(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(legacy_record_done) LegacyRecord rec = { 0 };
        Manager *m = userdata;
        json_auto_t *body = NULL;
        const char *id, *state, *reason;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "sss", &id, &state, &reason);
        if (r < 0)
                return r;
        body = json_pack("{s:s}", "state", state);
        if (!body)
                return -ENOMEM;
        if (*reason)
                json_object_set_new(body, "reason", json_string(reason));
        r = legacy_transition(m->legacy, &caller, id, body, &rec, &err);
        return reply_record(msg, r, &rec, &err, error);
}

static int method_list(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(legacy_list_done) LegacyList list = { 0 };
        Manager *m = userdata;
        char next[PAGE_TOKEN_MAX] = "";
        const char *department, *wave, *token;
        uint32_t limit;
        CbCaller caller;
        Page page;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "ssus", &department, &wave, &limit, &token);
        if (r < 0)
                return r;
        r = bus_page(limit, token, &page, &err);
        if (r >= 0)
                r = legacy_list(m->legacy, &caller, bus_optional(department), bus_optional(wave), &page,
                                &list, next, &err);
        return bus_reply_page_new(msg, r, r >= 0 ? rest_legacy_list_json(&list) : NULL, next, &err, error);
}

static int method_summary(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(legacy_summary_done) LegacySummary sum = { 0 };
        Manager *m = userdata;
        const char *department;
        CbCaller caller;
        int r;

        r = bus_call_begin(m, msg, &caller, error, "s", &department);
        if (r < 0)
                return r;
        r = legacy_summary(m->legacy, &caller, bus_optional(department), &sum, &err);
        return bus_reply_new(msg, r, r >= 0 ? rest_legacy_summary_json(&sum) : NULL, &err, error);
}

/* Each recorded step of a move, as MigrationProgress(id, run document). */
static void on_progress(const char *system_id, const json_t *run, void *userdata) {
        Manager *m = userdata;
        _cleanup_(freep) char *text = NULL;
        if (!m->bus || !(text = json_dumps(run, JSON_COMPACT)))
                return;
        int r = sd_bus_emit_signal(m->bus, BUS_PATH, BUS_MIGRATION_INTERFACE, "MigrationProgress", "ss",
                                   system_id, text);
        if (r < 0)
                log_warning("cannot emit MigrationProgress: %s", strerror(-r));
}

int bus_migration_attach(Manager *m) {
        if (m->legacy)
                legacy_set_progress_callback(m->legacy, on_progress, m);
        return 0;
}

const sd_bus_vtable bus_migration_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Register", SD_BUS_ARGS("s", registration), SD_BUS_RESULT("s", legacy_system),
                                method_register, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_ARGS("s", department, "s", wave, "u", limit, "s", page_token),
                                SD_BUS_RESULT("s", legacy_systems, "s", next_page_token), method_list,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Get", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", legacy_system), method_get,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Update", SD_BUS_ARGS("s", id, "s", registration),
                                SD_BUS_RESULT("s", legacy_system), method_update, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Transition", SD_BUS_ARGS("s", id, "s", state, "s", reason),
                                SD_BUS_RESULT("s", legacy_system), method_transition,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Decommission", SD_BUS_ARGS("s", id, "b", remove_disks),
                                SD_BUS_RESULT("s", legacy_system), method_decommission,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Assess", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", legacy_system),
                                method_assess, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Plan", SD_BUS_ARGS("s", id, "s", request), SD_BUS_RESULT("s", legacy_system),
                                method_plan, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Migrate", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", legacy_system),
                                method_migrate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("MigrationProgress", SD_BUS_ARGS("s", id, "s", run), 0),
        SD_BUS_METHOD_WITH_ARGS("Summary", SD_BUS_ARGS("s", department), SD_BUS_RESULT("s", summary),
                                method_summary, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
