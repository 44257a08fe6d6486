/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl resource ...: VMs and other resources through
 * org.cloudbroker.Broker1.Resources (the root object) and
 * org.cloudbroker.Broker1.Resource (one object per resource). The daemon
 * validates and authorizes; this file turns ids into object paths and
 * formats what comes back.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-util.h"

#define RESOURCES       CTL_INTERFACE("Resources")
#define RESOURCE        CTL_INTERFACE("Resource")
#define RESOURCE_PREFIX CTL_BUS_PATH "/resource"

/* The properties of a resource, in the order `show` prints them, with the
 * JSON member --json uses (the REST API's names). */
static const struct {
        const char *property;
        const char *member;
        const char *label;
} properties[] = {
        { "Id", "id", "ID:" },
        { "Name", "name", "Name:" },
        { "State", "state", "State:" },
        { "ProjectId", "project_id", "Project:" },
        { "ServiceId", "service_id", "Service:" },
        { "PlanId", "plan_id", "Plan:" },
        { "Provider", "provider", "Provider:" },
        { "Kind", "kind", "Kind:" },
};

static int resource_path(const char *id, char **ret) {
        int r;

        if (isempty(id) || strchr(id, '/'))
                return ctl_error(-EINVAL, "'%s' is not a resource id", id);
        r = sd_bus_path_encode(RESOURCE_PREFIX, id, ret);
        if (r < 0)
                return ctl_error(r, "cannot build the object path of '%s': %s", id, strerror(-r));
        return 0;
}

/* Like ctl_call(), on a resource's own object. An object that does not
 * exist is the resource that does not (or no longer) exist. */
/* method of interface on path with up to two string arguments (types says
 * how many: NULL, "s" or "ss"). */
static int call_resource2(Ctl *ctl, const char *path, const char *id, const char *interface,
                          const char *method, sd_bus_message **ret_reply, const char *types, const char *arg,
                          const char *arg2) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, CTL_BUS_NAME, path, interface, method, &error, &reply, types, arg, arg2);
        if (r < 0) {
                if (ctl_error_is_not_found(&error) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_INTERFACE))
                        ctl->not_found = true;
                if (sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_OBJECT,
                                           SD_BUS_ERROR_UNKNOWN_INTERFACE))
                        return ctl_error(-ENOENT, "no resource '%s'", id);
                if (sd_bus_error_is_set(&error))
                        return ctl_error(r, "%s: %s", error.name, error.message ? error.message : "");
                return ctl_error(r, "calling %s failed: %s", method, strerror(-r));
        }
        *ret_reply = reply;
        return 0;
}

static int call_resource(Ctl *ctl, const char *path, const char *id, const char *interface,
                         const char *method, sd_bus_message **ret_reply, const char *types, const char *arg) {
        return call_resource2(ctl, path, id, interface, method, ret_reply, types, arg, NULL);
}

/* Properties.GetAll of one resource as a JSON object with the REST names:
 * one round trip, one consistent view. */
static int read_resource(Ctl *ctl, const char *path, const char *id, json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_auto_t *o = NULL;
        int r;

        r = call_resource(ctl, path, id, "org.freedesktop.DBus.Properties", "GetAll", &reply, "s", RESOURCE);
        if (r < 0)
                return r;
        o = json_object();
        if (!o)
                return ctl_error(-ENOMEM, "out of memory");
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0) {
                const char *name, *value;

                r = sd_bus_message_enter_container(reply, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(reply, "s", &name);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "v", "s", &value);
                if (r < 0)
                        break;
                for (size_t i = 0; i < ELEMENTSOF(properties); i++)
                        if (streq(properties[i].property, name))
                                json_object_set_new(o, properties[i].member, json_string(value));
                if (streq(name, "Addresses")) { /* JSON text: kept as the REST API's array */
                        json_t *a = json_loads(value, 0, NULL);
                        json_object_set_new(o, "addresses", json_is_array(a) ? a : json_array());
                        if (!json_is_array(a))
                                json_decref(a);
                }
                r = sd_bus_message_exit_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return ctl_error(r, "unexpected properties of %s: %s", path, strerror(-r));
        *ret = TAKE_PTR(o);
        return 0;
}

static int cmd_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "ID", "NAME", "STATE", "PROJECT", "SERVICE/PLAN", "PROVIDER" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        json_auto_t *list = NULL;
        const char *path;
        size_t i;
        json_t *res;
        int r;

        (void)argc, (void)argv;
        r = ctl_call(ctl, RESOURCES, "ListResources", &reply, NULL);
        if (r < 0)
                return r;
        list = json_array();
        if (!list)
                return ctl_error(-ENOMEM, "out of memory");
        r = sd_bus_message_enter_container(reply, 'a', "o");
        while (r >= 0 && (r = sd_bus_message_read(reply, "o", &path)) > 0) {
                _cleanup_(freep) char *id = NULL;
                json_t *o = NULL;

                if (sd_bus_path_decode(path, RESOURCE_PREFIX, &id) <= 0)
                        continue;
                r = read_resource(ctl, path, id, &o);
                /* Deleted between the list and the read: not there any more. */
                if (r == -ENOENT) {
                        r = 0;
                        continue;
                }
                if (r < 0)
                        return r;
                json_object_set_new(o, "path", json_string(path));
                json_array_append_new(list, o);
        }
        if (r < 0)
                return ctl_error(r, "unexpected reply to ListResources: %s", strerror(-r));
        if (ctl->json)
                return ctl_print_json(list);

        t = ctl_table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return ctl_error(-ENOMEM, "out of memory");
        json_array_foreach(list, i, res) {
                char service_plan[256];
                const char *row[ELEMENTSOF(headers)];

                snprintf(service_plan, sizeof(service_plan), "%s/%s", ctl_json_str(res, "service_id", "?"),
                         ctl_json_str(res, "plan_id", "?"));
                row[0] = ctl_json_str(res, "id", "?");
                row[1] = ctl_json_str(res, "name", "-");
                row[2] = ctl_json_str(res, "state", "-");
                row[3] = ctl_json_str(res, "project_id", "-");
                row[4] = service_plan;
                row[5] = ctl_json_str(res, "provider", "-");
                if (ctl_table_add(t, row) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        ctl_table_print(t, stdout);
        return 0;
}

/* One line per interface: "Addresses: MAC ADDR/PREFIX ..."; nothing when none. */
static void print_addresses(const json_t *list) {
        size_t i, k;
        json_t *nic, *a;
        json_array_foreach(list, i, nic) {
                printf("%-10s %s", i == 0 ? "Addresses:" : "", ctl_json_str(nic, "mac", "-"));
                json_array_foreach(json_object_get(nic, "addresses"), k, a)
                        printf(" %s/%lld", ctl_json_str(a, "address", "?"),
                               (long long)json_integer_value(json_object_get(a, "prefix")));
                putchar('\n');
        }
}

static int cmd_show(Ctl *ctl, int argc, char **argv) {
        _cleanup_(freep) char *path = NULL;
        json_auto_t *o = NULL;
        int r;

        (void)argc;
        r = resource_path(argv[0], &path);
        if (r < 0)
                return r;
        r = read_resource(ctl, path, argv[0], &o);
        if (r < 0)
                return r;
        json_object_set_new(o, "path", json_string(path));
        if (ctl->json)
                return ctl_print_json(o);
        for (size_t i = 0; i < ELEMENTSOF(properties); i++) {
                const char *v = ctl_json_str(o, properties[i].member, NULL);
                printf("%-10s %s\n", properties[i].label, isempty(v) ? "-" : v);
        }
        print_addresses(json_object_get(o, "addresses"));
        printf("%-10s %s\n", "Object:", path);
        return 0;
}

static int id_path_call(Ctl *ctl, const char *id, const char *method, sd_bus_message **ret, const char *types,
                        uint32_t a, uint32_t b) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(freep) char *path = NULL;
        sd_bus *bus;
        int r = resource_path(id, &path);
        if (r >= 0)
                r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        r = types ? sd_bus_call_method(bus, CTL_BUS_NAME, path, RESOURCE, method, &error, ret, types, a, b)
                  : sd_bus_call_method(bus, CTL_BUS_NAME, path, RESOURCE, method, &error, ret, NULL);
        if (r < 0) {
                if (ctl_error_is_not_found(&error) ||
                    sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_OBJECT,
                                           SD_BUS_ERROR_UNKNOWN_INTERFACE)) {
                        ctl->not_found = true;
                        return ctl_error(-ENOENT, "no resource '%s'", id);
                }
                if (sd_bus_error_is_set(&error))
                        return ctl_error(r, "%s: %s", error.name, error.message ? error.message : "");
                return ctl_error(r, "calling %s failed: %s", method, strerror(-r));
        }
        return 0;
}

static int reply_json(sd_bus_message *reply, json_t **ret) {
        const char *text;
        int r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return ctl_error(r, "cannot read the answer: %s", strerror(-r));
        *ret = json_loads(text, 0, NULL);
        return *ret ? 0 : ctl_error(-EBADMSG, "the daemon's answer is not JSON");
}

static int parse_count(const char *s, const char *what, uint32_t *ret) {
        char *end;
        unsigned long n;
        errno = 0;
        n = strtoul(s, &end, 10);
        if (!*s || *end || errno || s[0] == '-' || n < 1 || n > UINT32_MAX)
                return ctl_error(-EINVAL, "%s: '%s' is not a positive number", what, s);
        *ret = (uint32_t)n;
        return 0;
}

static int cmd_console(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_auto_t *o = NULL;
        uint32_t kib = 0, lines = 0;
        int r = 0;

        if (argc > 1)
                r = parse_count(argv[1], "KIB", &kib);
        if (r >= 0 && argc > 2)
                r = parse_count(argv[2], "LINES", &lines);
        if (r >= 0)
                r = id_path_call(ctl, argv[0], "Console", &reply, "uu", kib, lines);
        if (r >= 0)
                r = reply_json(reply, &o);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(o);
        fputs(ctl_json_str(o, "output", ""), stdout);
        return 0;
}

static int cmd_addresses(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_auto_t *o = NULL;
        int r;

        (void)argc;
        r = id_path_call(ctl, argv[0], "ReadAddresses", &reply, NULL, 0, 0);
        if (r >= 0)
                r = reply_json(reply, &o);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(o);
        print_addresses(json_object_get(o, "addresses"));
        return 0;
}

static int cmd_request(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) char *text = NULL, *with_key = NULL, *id = NULL;
        const char *key = ctl->idempotency_key, *path, *op;
        int r;

        (void)argc;
        r = ctl_read_file(argv[0], &text);
        if (r < 0)
                return r;
        if (key) {
                /* The key travels inside the document (the REST header's
                 * counterpart); anything else in it is the daemon's to judge. */
                json_auto_t *doc = NULL;
                json_error_t jerr;

                doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
                if (!json_is_object(doc))
                        return ctl_error(-EINVAL, "%s is not a JSON object%s%s", argv[0], doc ? "" : ": ",
                                         doc ? "" : jerr.text);
                if (json_object_set_new(doc, "idempotency_key", json_string(key)) < 0)
                        return ctl_error(-EINVAL, "the idempotency key must be UTF-8 text");
                with_key = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
                if (!with_key)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        r = ctl_call(ctl, RESOURCES, "RequestResource", &reply, "s", with_key ? with_key : text);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "os", &path, &op);
        if (r < 0)
                return ctl_error(r, "unexpected reply to RequestResource: %s", strerror(-r));
        r = sd_bus_path_decode(path, RESOURCE_PREFIX, &id);
        if (r <= 0)
                return ctl_error(r < 0 ? r : -EBADMSG, "unexpected object path %s", path);
        if (ctl->json) {
                json_auto_t *o = json_pack("{s:s, s:s, s:s}", "id", id, "path", path, "operation_id", op);
                return o ? ctl_print_json(o) : ctl_error(-ENOMEM, "out of memory");
        }
        printf("%s: requested, operation %s\n", id, op);
        return 0;
}

/* start, stop, reboot, delete: one method of the resource's object. */
static int act(Ctl *ctl, const char *id, const char *method, const char *what) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) char *path = NULL;
        const char *op;
        int r;

        r = resource_path(id, &path);
        if (r < 0)
                return r;
        r = call_resource(ctl, path, id, RESOURCE, method, &reply, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &op);
        if (r < 0)
                return ctl_error(r, "unexpected reply to %s: %s", method, strerror(-r));
        if (ctl->json) {
                json_auto_t *o = json_pack("{s:s, s:s}", "id", id, "operation_id", op);
                return o ? ctl_print_json(o) : ctl_error(-ENOMEM, "out of memory");
        }
        printf("%s: %s requested, operation %s\n", id, what, op);
        return 0;
}

static int cmd_start(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return act(ctl, argv[0], "Start", "start");
}

static int cmd_stop(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return act(ctl, argv[0], "Stop", "stop");
}

static int cmd_reboot(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return act(ctl, argv[0], "Reboot", "reboot");
}

static int cmd_delete(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return act(ctl, argv[0], "Deprovision", "deprovisioning");
}

static int cmd_delete_with_volumes(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return act(ctl, argv[0], "DeprovisionWithVolumes", "deprovisioning with its volumes");
}

/* attach, detach: AttachVolume / DetachVolume of the VM's object. */
static int volume_act(Ctl *ctl, const char *vm, const char *volume, const char *method, const char *what) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) char *path = NULL;
        const char *op;
        int r;

        r = resource_path(vm, &path);
        if (r < 0)
                return r;
        r = call_resource(ctl, path, vm, RESOURCE, method, &reply, "s", volume);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &op);
        if (r < 0)
                return ctl_error(r, "unexpected reply to %s: %s", method, strerror(-r));
        if (ctl->json) {
                json_auto_t *o =
                        json_pack("{s:s, s:s, s:s}", "id", vm, "volume_id", volume, "operation_id", op);
                return o ? ctl_print_json(o) : ctl_error(-ENOMEM, "out of memory");
        }
        printf("%s: %s of %s requested, operation %s\n", vm, what, volume, op);
        return 0;
}

static int cmd_attach(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return volume_act(ctl, argv[0], argv[1], "AttachVolume", "attach");
}

static int cmd_detach(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return volume_act(ctl, argv[0], argv[1], "DetachVolume", "detach");
}

static int cmd_volumes(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) char *path = NULL;
        json_auto_t *list = NULL;
        const char *text;
        size_t i;
        json_t *v;
        int r;

        (void)argc;
        r = resource_path(argv[0], &path);
        if (r < 0)
                return r;
        r = call_resource(ctl, path, argv[0], RESOURCE, "ListVolumes", &reply, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return ctl_error(r, "unexpected reply to ListVolumes: %s", strerror(-r));
        list = json_loads(text, 0, NULL);
        if (!list)
                return ctl_error(-EBADMSG, "ListVolumes answered no JSON");
        if (ctl->json)
                return ctl_print_json(list);
        json_array_foreach(list, i, v) printf("%s\t%s\t%s\n", json_string_value(json_object_get(v, "target")),
                                              json_string_value(json_object_get(v, "volume_id")),
                                              json_string_value(json_object_get(v, "state")));
        return 0;
}

static int cmd_operation(Ctl *ctl, int argc, char **argv) {
        json_auto_t *op = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, RESOURCES, "GetOperation", &op, "s", argv[0]);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(op);
        ctl_print_fields(op);
        return 0;
}

/* UpdateResource(id, plan, parameters from FILE or "-"): the parameters come
 * from a file or standard input, never the command line (any user's ps sees it). */
static int update_call(Ctl *ctl, const char *id, const char *plan, const char *file, const char **ret_op,
                       sd_bus_message **ret_reply) {
        _cleanup_(freep) char *text = NULL;
        json_auto_t *params = NULL;
        int r = ctl_read_json_object(file, &params);
        if (r < 0)
                return r;
        text = json_dumps(params, JSON_COMPACT);
        if (!text)
                return ctl_error(-ENOMEM, "out of memory");
        r = ctl_call(ctl, RESOURCES, "UpdateResource", ret_reply, "sss", id, plan, text);
        explicit_bzero(text, strlen(text));
        if (r < 0)
                return r;
        r = sd_bus_message_read(*ret_reply, "s", ret_op);
        return r < 0 ? ctl_error(r, "unexpected reply to UpdateResource: %s", strerror(-r)) : 0;
}

static int print_update(Ctl *ctl, const char *id, const char *plan, const char *op) {
        if (ctl->json) {
                json_auto_t *o = json_pack("{s:s, s:s*, s:s}", "id", id, "plan_id", plan, "operation_id", op);
                return o ? ctl_print_json(o) : ctl_error(-ENOMEM, "out of memory");
        }
        if (plan)
                printf("%s: resize to %s requested, operation %s\n", id, plan, op);
        else
                printf("%s: update of its parameters requested, operation %s\n", id, op);
        return 0;
}

/* resize ID PLAN [PARAMETERS_FILE]: Resources.ResizeResource, or
 * Resources.UpdateResource with the parameters. */
static int cmd_resize(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *op;
        int r;

        if (argc > 2)
                r = update_call(ctl, argv[0], argv[1], argv[2], &op, &reply);
        else {
                r = ctl_call(ctl, RESOURCES, "ResizeResource", &reply, "ss", argv[0], argv[1]);
                if (r >= 0 && (r = sd_bus_message_read(reply, "s", &op)) < 0)
                        return ctl_error(r, "unexpected reply to ResizeResource: %s", strerror(-r));
        }
        return r < 0 ? r : print_update(ctl, argv[0], argv[1], op);
}

/* update ID PARAMETERS_FILE: new parameters on the plan it is on (Resources.UpdateResource). */
static int cmd_update(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *op;
        int r;
        (void)argc;
        r = update_call(ctl, argv[0], "", argv[1], &op, &reply);
        return r < 0 ? r : print_update(ctl, argv[0], NULL, op);
}

/* Bind, Unbind, GetBinding (arg) and ListBindings (no arg) of resource id: the JSON answer. */
static int binding_call(Ctl *ctl, const char *id, const char *method, const char *arg, json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) char *path = NULL;
        int r = resource_path(id, &path);
        if (r >= 0)
                r = call_resource(ctl, path, id, RESOURCE, method, &reply, arg ? "s" : NULL, arg);
        if (r >= 0)
                r = reply_json(reply, ret);
        return r;
}

static int print_binding(Ctl *ctl, json_t *b) {
        if (ctl->json)
                return ctl_print_json(b);
        ctl_print_fields(b);
        return 0;
}

/* bind ID [BINDING_ID [PARAMETERS_FILE]]: the parameters come from a file (or
 * "-", standard input), never the command line, where any user's ps sees them. */
static int cmd_bind(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) char *path = NULL, *text = NULL;
        json_auto_t *b = NULL, *params = NULL;
        int r;

        if (argc < 3) {
                r = binding_call(ctl, argv[0], "Bind", argc > 1 ? argv[1] : "", &b);
                return r < 0 ? r : print_binding(ctl, b);
        }
        r = ctl_read_json_object(argv[2], &params);
        if (r < 0)
                return r;
        text = json_dumps(params, JSON_COMPACT);
        if (!text)
                return ctl_error(-ENOMEM, "out of memory");
        r = resource_path(argv[0], &path);
        if (r >= 0)
                r = call_resource2(ctl, path, argv[0], RESOURCE, "BindWithParameters", &reply, "ss", argv[1],
                                   text);
        explicit_bzero(text, strlen(text));
        if (r >= 0)
                r = reply_json(reply, &b);
        return r < 0 ? r : print_binding(ctl, b);
}

static int cmd_unbind(Ctl *ctl, int argc, char **argv) {
        json_auto_t *b = NULL;
        int r;
        (void)argc;
        r = binding_call(ctl, argv[0], "Unbind", argv[1], &b);
        return r < 0 ? r : print_binding(ctl, b);
}

static int cmd_binding(Ctl *ctl, int argc, char **argv) {
        json_auto_t *b = NULL;
        int r;
        (void)argc;
        r = binding_call(ctl, argv[0], "GetBinding", argv[1], &b);
        return r < 0 ? r : print_binding(ctl, b);
}

static int cmd_bindings(Ctl *ctl, int argc, char **argv) {
        json_auto_t *list = NULL;
        size_t i;
        json_t *v;
        int r;
        (void)argc;
        r = binding_call(ctl, argv[0], "ListBindings", NULL, &list);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(list);
        json_array_foreach(list, i, v)
                printf("%s\t%s\t%s\n", ctl_json_str(v, "id", ""), ctl_json_str(v, "binding_id", ""),
                       ctl_json_str(v, "state", ""));
        return 0;
}

#define OPERATION_PAGES_MAX 1000u

/* Every page of ListOperations, filtered by kind (or "" for all). */
static int cmd_operations(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "OPERATION", "RESOURCE", "KIND", "STATE", "CREATED", "ERROR" };
        static const char *const members[] = { "id", "resource_id", "kind", "state", "created_at", "error" };
        json_auto_t *all = json_array();
        _cleanup_(freep) char *token = strdup("");
        const char *kind = argc > 0 ? argv[0] : "";
        int r;

        if (!all || !token)
                return ctl_error(-ENOMEM, "out of memory");
        for (unsigned pages = 0;; pages++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                json_auto_t *items = NULL;
                const char *text, *next;

                if (pages >= OPERATION_PAGES_MAX)
                        return ctl_error(-E2BIG, "ListOperations answered more than %u pages",
                                         OPERATION_PAGES_MAX);
                r = ctl_call(ctl, RESOURCES, "ListOperations", &reply, "sssus", kind, "", "", 0u, token);
                if (r < 0)
                        return r;
                r = sd_bus_message_read(reply, "ss", &text, &next);
                if (r < 0)
                        return ctl_error(r, "unexpected reply to ListOperations: %s", strerror(-r));
                items = json_loads(text, 0, NULL);
                if (!json_is_array(items))
                        return ctl_error(-EBADMSG, "the reply to ListOperations is not a JSON array");
                json_array_extend(all, items);
                if (!*next)
                        break;
                free(token);
                token = strdup(next);
                if (!token)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        return ctl_print_list(ctl, all, ELEMENTSOF(headers), headers, members);
}

static const CtlCommand resource_commands[] = {
        { "request", "FILE [--idempotency-key KEY]", "Request a resource for an approved project (JSON)", 1,
          1, cmd_request, CTL_OPT_IDEMPOTENCY_KEY, 0 },
        { "list", "", "List the resources you may see", 0, 0, cmd_list, 0, 0 },
        { "show", "ID", "Show a resource", 1, 1, cmd_show, 0, 0 },
        { "start", "ID", "Start a stopped resource", 1, 1, cmd_start, 0, 0 },
        { "stop", "ID", "Stop an active resource", 1, 1, cmd_stop, 0, 0 },
        { "reboot", "ID", "Reboot an active resource", 1, 1, cmd_reboot, 0, 0 },
        { "delete", "ID", "Deprovision a resource (a VM's volumes are detached and kept)", 1, 1, cmd_delete,
          0, 0 },
        { "delete-with-volumes", "ID", "Deprovision a VM and the volumes attached to it", 1, 1,
          cmd_delete_with_volumes, 0, 0 },
        { "attach", "VM VOLUME", "Attach a block volume of the VM's project to the VM", 2, 2, cmd_attach, 0,
          0 },
        { "detach", "VM VOLUME", "Detach a block volume from the VM", 2, 2, cmd_detach, 0, 0 },
        { "volumes", "VM", "List the volumes attached to a VM", 1, 1, cmd_volumes, 0, 0 },
        { "resize", "ID PLAN [PARAMETERS_FILE]",
          "Move a resource to another plan of its service (a VM cold: stopped, resized, started; a service "
          "instance with new parameters: a JSON object in a file, - for standard input)",
          2, 3, cmd_resize, 0, 0 },
        { "update", "ID PARAMETERS_FILE",
          "Send a service instance's provider new parameters on its plan (a JSON object in a file, - for "
          "standard input)",
          2, 2, cmd_update, 0, 0 },
        { "console", "ID [KIB [LINES]]", "Show the tail of a VM's serial console (default 64 KiB)", 1, 3,
          cmd_console, 0, 0 },
        { "addresses", "ID", "Read a VM's addresses from its network's DHCP leases now", 1, 1, cmd_addresses,
          0, 0 },
        { "bind", "ID [BINDING_ID [PARAMETERS_FILE]]",
          "Bind a service resource: its provider's credentials (parameters: a JSON object in a file, - for "
          "standard input)",
          1, 3, cmd_bind, 0, 0 },
        { "unbind", "ID BINDING", "Unbind a service resource's binding (by its sb-... id)", 2, 2, cmd_unbind,
          0, 0 },
        { "bindings", "ID", "List a service resource's bindings", 1, 1, cmd_bindings, 0, 0 },
        { "binding", "ID BINDING", "Show a binding (credentials only for the department)", 2, 2, cmd_binding,
          0, 0 },
        { "operation", "ID", "Show an operation (what request, start, stop ... answered)", 1, 1,
          cmd_operation, 0, 0 },
        { "operations", "[KIND]", "List the operations you may see (KIND: provision, adopt, ...)", 0, 1,
          cmd_operations, 0, 0 },
};

const CtlGroup ctl_group_resource = {
        .name = "resource",
        .summary = "Resources (VMs) of approved projects",
        .commands = resource_commands,
        .n_commands = ELEMENTSOF(resource_commands),
};
