/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl provider ... and whoami: the providers through
 * org.cloudbroker.Broker1.Providers, and who the daemon takes you for
 * (org.cloudbroker.Broker1.Identity).
 */

#include <stdio.h>
#include <unistd.h>

#include "ctl-util.h"

#define PROVIDERS CTL_INTERFACE("Providers")
#define IDENTITY  CTL_INTERFACE("Identity")
#define RESOURCES CTL_INTERFACE("Resources")

static int provider_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "NAME", "DRIVER", "STATUS", "URI" };
        static const char *const members[] = { "name", "driver", "status", "uri" };
        json_auto_t *list = NULL;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_json(ctl, PROVIDERS, "ListProviders", &list, NULL);
        if (r < 0)
                return r;
        return ctl_print_list(ctl, list, ELEMENTSOF(headers), headers, members);
}

static int provider_add(Ctl *ctl, int argc, char **argv) {
        json_auto_t *doc = NULL, *out = NULL;
        int r;

        (void)argc;
        doc = json_pack("{s:s, s:s, s:s}", "name", argv[0], "driver", argv[1], "uri", argv[2]);
        if (!doc ||
            (ctl->domain_type &&
             json_object_set_new(doc, "domain_type", json_string(ctl->domain_type)) < 0) ||
            (ctl->image_pool && json_object_set_new(doc, "image_pool", json_string(ctl->image_pool)) < 0))
                return ctl_error(-EINVAL, "the arguments must be UTF-8 text");
        r = ctl_call_dict_json(ctl, PROVIDERS, "AddProvider", NULL, doc, &out);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(out);
        printf("%s: added, %s\n", argv[0], ctl_json_str(out, "status", "?"));
        return 0;
}

/* An http (OSB) provider has credentials, which do not belong on a command
 * line (ps shows it): its settings come in a file, the body of POST
 * /v1/providers, which may be - for standard input. */
static int provider_add_file(Ctl *ctl, int argc, char **argv) {
        json_auto_t *doc = NULL, *out = NULL;
        int r;

        (void)argc;
        r = ctl_read_json_object(argv[0], &doc);
        if (r < 0)
                return r;
        r = ctl_call_dict_json(ctl, PROVIDERS, "AddProvider", NULL, doc, &out);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(out);
        printf("%s: added, %s\n", ctl_json_str(out, "name", "?"), ctl_json_str(out, "status", "?"));
        return 0;
}

/* "a,b" of member key of each object of list; NULL for none. */
static json_t *joined(const json_t *list, const char *key) {
        _cleanup_(freep) char *s = NULL;
        const json_t *o;
        size_t i;
        json_array_foreach(list, i, o) {
                const char *v = json_string_value(json_object_get(o, key));
                char *ns = NULL;
                if (asprintf(&ns, "%s%s%s", s ? s : "", s ? "," : "", v ? v : "?") < 0)
                        return NULL;
                free(s);
                s = ns;
        }
        return s ? json_string(s) : NULL;
}

/* The volumes: which VM the record has each on, which domains the provider
 * shows it on, and the drift between the two. */
static int print_volumes(Ctl *ctl, const json_t *volumes) {
        static const char *const headers[] = { "VOLUME", "RESOURCE", "RECORDED_ON", "PROVIDER_ON", "DRIFT" };
        static const char *const members[] = { "name", "resource_id", "attached_to", "provider_on", "drift" };
        json_auto_t *rows = json_array();
        const json_t *v;
        size_t i;
        if (!rows)
                return ctl_error(-ENOMEM, "out of memory");
        json_array_foreach(volumes, i, v) {
                json_t *row = json_deep_copy(v);
                if (!row)
                        return ctl_error(-ENOMEM, "out of memory");
                json_object_set_new(row, "provider_on",
                                    joined(json_object_get(v, "provider_attachments"), "domain"));
                json_object_set_new(row, "drift", joined(json_object_get(v, "attachment_drift"), "kind"));
                json_array_append_new(rows, row);
        }
        printf("\n");
        return ctl_print_list(ctl, rows, ELEMENTSOF(headers), headers, members);
}

static int provider_inventory(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = {
                "NAME", "STATE", "VCPUS", "MEMORY_MIB", "MANAGED", "RESOURCE"
        };
        static const char *const members[] = { "name",       "state",   "vcpus",
                                               "memory_mib", "managed", "resource_id" };
        json_auto_t *inv = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, PROVIDERS, "GetInventory", &inv, "s", argv[0]);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(inv);
        r = ctl_print_list(ctl, json_object_get(inv, "domains"), ELEMENTSOF(headers), headers, members);
        if (r < 0)
                return r;
        return print_volumes(ctl, json_object_get(inv, "volumes"));
}

#define ADOPT_WAIT_MS 60000

/* Takes a VM the broker did not create under management (Art. 35): the
 * adopt operation is followed until it ends (at most a minute), so the
 * exit status says whether the domain was taken over. */
static int provider_adopt(Ctl *ctl, int argc, char **argv) {
        json_auto_t *doc = NULL, *ticket = NULL;
        int r;

        (void)argc;
        doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "domain", argv[1], "project_id", argv[2], "system_id",
                        argv[3], "service_id", argv[4], "plan_id", argv[5]);
        if (!doc)
                return ctl_error(-EINVAL, "the arguments must be UTF-8 text");
        r = ctl_call_dict_json(ctl, PROVIDERS, "Adopt", argv[0], doc, &ticket);
        if (r < 0)
                return r;
        const char *op_id = ctl_json_str(ticket, "operation_id", "");
        for (unsigned waited = 0;; waited += 100) {
                json_auto_t *op = NULL;
                r = ctl_call_json(ctl, RESOURCES, "GetOperation", &op, "s", op_id);
                if (r < 0)
                        return r;
                const char *state = ctl_json_str(op, "state", "?");
                if (streq(state, "succeeded") || streq(state, "failed")) {
                        if (streq(state, "failed"))
                                return ctl_error(-EIO, "%s: adoption failed (operation %s): %s", argv[1],
                                                 op_id, ctl_json_str(op, "error", "no reason given"));
                        if (ctl->json) {
                                /* The ticket's state was the one at the request. */
                                json_object_del(ticket, "state");
                                json_object_set_new(ticket, "operation_state", json_string(state));
                                return ctl_print_json(ticket);
                        }
                        printf("%s: adopted as %s (operation %s)\n", argv[1], ctl_json_str(ticket, "id", "?"),
                               op_id);
                        return 0;
                }
                if (waited >= ADOPT_WAIT_MS)
                        return ctl_error(-ETIMEDOUT,
                                         "%s: adoption still %s after %u s; follow it with "
                                         "'cloudbrokerctl resource operation %s'",
                                         argv[1], state, ADOPT_WAIT_MS / 1000, op_id);
                usleep(100 * 1000);
        }
}

static const CtlCommand provider_commands[] = {
        { "list", "", "List the providers with their status", 0, 0, provider_list, 0, 0 },
        { "add", "NAME DRIVER URI [--domain-type auto|kvm|qemu] [--image-pool POOL]",
          "Add a provider (the operator)", 3, 3, provider_add, CTL_OPT_DOMAIN_TYPE | CTL_OPT_IMAGE_POOL, 0 },
        { "add-file", "FILE", "Add a provider from a JSON document, as POST /v1/providers (http providers)",
          1, 1, provider_add_file, 0, 0 },
        { "inventory", "NAME", "Ask a provider for its domains now", 1, 1, provider_inventory, 0, 0 },
        { "adopt", "NAME DOMAIN PROJECT SYSTEM SERVICE PLAN",
          "Take a VM the broker did not create under management, checked like an order", 6, 6, provider_adopt,
          0, 0 },
};

const CtlGroup ctl_group_provider = {
        .name = "provider",
        .summary = "Virtualization providers",
        .commands = provider_commands,
        .n_commands = ELEMENTSOF(provider_commands),
};

static int whoami(Ctl *ctl, int argc, char **argv) {
        json_auto_t *p = NULL;
        size_t i;
        json_t *role;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_json(ctl, IDENTITY, "WhoAmI", &p, NULL);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(p);
        printf("%-12s %s\n", "Name:", ctl_json_str(p, "name", "-"));
        printf("%-12s %s\n", "Department:", ctl_json_str(p, "department", "-"));
        printf("%-12s", "Roles:");
        json_array_foreach(json_object_get(p, "roles"), i, role) printf(" %s", json_string_value(role));
        printf("\n");
        return 0;
}

static const CtlCommand whoami_commands[] = {
        { "whoami", "", "Show who the daemon takes you for", 0, 0, whoami, 0, 0 },
};

const CtlGroup ctl_group_whoami = {
        .name = "whoami",
        .summary = "Who the daemon takes you for",
        .commands = whoami_commands,
        .n_commands = ELEMENTSOF(whoami_commands),
        .single = true,
};
