/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl catalog ...: the service catalogue (regulation Art. 12)
 * through org.cloudbroker.Broker1.Catalog. Tables for people, --json for
 * scripts; the daemon validates and authorizes, this file only formats.
 */

#include <stdio.h>

#include "ctl-util.h"

#define CATALOG CTL_INTERFACE("Catalog")

static const char *yes_no(const json_t *v) {
        return json_is_true(v) ? "yes" : json_is_false(v) ? "no" : "-";
}

static void field(const char *label, const char *value) {
        printf("%-22s %s\n", label, isempty(value) ? "-" : value);
}

static void field_int(const char *label, const json_t *v) {
        char buf[32];

        if (json_is_integer(v))
                snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        field(label, json_is_integer(v) ? buf : NULL);
}

/* "0.35 元/hour" */
static const char *format_price(const json_t *price, char *buf, size_t size) {
        const json_t *amount = json_object_get(price, "amount_fen");
        char yuan[32];

        if (!json_is_integer(amount))
                return "-";
        snprintf(buf, size, "%s 元/%s", ctl_format_fen(json_integer_value(amount), yuan, sizeof(yuan)),
                 ctl_json_str(price, "unit", "?"));
        return buf;
}

static const char *format_spec(const json_t *spec, char *buf, size_t size) {
        const json_t *quotas = json_object_get(spec, "quotas");

        if (streq(ctl_json_str(spec, "kind", ""), "volume")) {
                snprintf(buf, size, "volume %" JSON_INTEGER_FORMAT " GiB",
                         json_integer_value(json_object_get(spec, "size_gib")));
                return buf;
        }
        if (json_object_get(spec, "vcpus")) {
                snprintf(buf, size,
                         "%" JSON_INTEGER_FORMAT " vCPU, %" JSON_INTEGER_FORMAT " MiB, %" JSON_INTEGER_FORMAT
                         " GiB disk, %s",
                         json_integer_value(json_object_get(spec, "vcpus")),
                         json_integer_value(json_object_get(spec, "memory_mib")),
                         json_integer_value(json_object_get(spec, "disk_gib")),
                         ctl_json_str(spec, "arch", "?"));
                return buf;
        }
        if (json_object_size(quotas) > 0) {
                const char *key;
                json_t *v;
                size_t len = 0;

                buf[0] = '\0';
                json_object_foreach((json_t *)quotas, key, v) {
                        int n = snprintf(buf + len, size - len, "%s%s=%" JSON_INTEGER_FORMAT, len ? ", " : "",
                                         key, json_integer_value(v));
                        if (n < 0 || (size_t)n >= size - len)
                                break;
                        len += (size_t)n;
                }
                return buf;
        }
        return ctl_json_str(spec, "remote_plan_id", "-");
}

static char *join_strings(const json_t *a) {
        size_t len = 1;
        size_t i;
        json_t *v;
        char *s;

        json_array_foreach(a, i, v) len += json_string_length(v) + 2;
        s = calloc(1, len);
        if (!s)
                return NULL;
        json_array_foreach(a, i, v) {
                if (json_is_string(v)) {
                        if (*s)
                                strcat(s, ", ");
                        strcat(s, json_string_value(v));
                }
        }
        return s;
}

/* What a change left behind: the revision, its status, who signed. */
static void print_state(const json_t *s) {
        const json_t *signoffs = json_object_get(s, "signoffs");
        bool authority = false, finance = false;
        size_t i;
        json_t *so;

        printf("%s: revision %" JSON_INTEGER_FORMAT " is %s\n", ctl_json_str(s, "id", "?"),
               json_integer_value(json_object_get(s, "revision")), ctl_json_str(s, "status", "?"));
        json_array_foreach(signoffs, i, so) {
                const char *role = ctl_json_str(so, "role", "?");

                authority |= streq(role, "authority");
                finance |= streq(role, "finance");
                printf("  signed off as %s by %s at %s\n", role, ctl_json_str(so, "principal", "?"),
                       ctl_json_str(so, "signed_at", "?"));
        }
        if (streq(ctl_json_str(s, "status", ""), "submitted") && (!authority || !finance))
                printf("  waiting for the sign-off of %s\n", !authority && !finance ? "authority and finance"
                                                             : !authority           ? "authority"
                                                                                    : "finance");
        if (json_is_integer(json_object_get(s, "in_force_revision")))
                printf("  revision %" JSON_INTEGER_FORMAT " stays in force until this one is published\n",
                       json_integer_value(json_object_get(s, "in_force_revision")));
        if (json_is_integer(json_object_get(s, "pending_revision")))
                printf("  revision %" JSON_INTEGER_FORMAT " is under way\n",
                       json_integer_value(json_object_get(s, "pending_revision")));
}

static int print_change(Ctl *ctl, const json_t *s) {
        if (ctl->json)
                return ctl_print_json(s);
        print_state(s);
        return 0;
}

static int cmd_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "ID", "CATEGORY", "NAME", "PLANS", "REVISION", "STATUS" };
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        json_auto_t *list = NULL;
        size_t i;
        json_t *s;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_json(ctl, CATALOG, ctl->all ? "ListAllServices" : "ListServices", &list, NULL);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(list);
        if (!json_is_array(list))
                return ctl_error(-EBADMSG, "the daemon answered something other than a list");

        t = ctl_table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return ctl_error(-ENOMEM, "out of memory");
        json_array_foreach(list, i, s) {
                char plans[16], revision[24];
                const char *row[ELEMENTSOF(headers)];

                snprintf(plans, sizeof(plans), "%zu", json_array_size(json_object_get(s, "plans")));
                snprintf(revision, sizeof(revision), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(s, "revision")));
                row[0] = ctl_json_str(s, "id", "?");
                row[1] = ctl_json_str(s, "category", "-");
                row[2] = ctl_json_str(s, "display_name", "-");
                row[3] = plans;
                row[4] = revision;
                row[5] = ctl_json_str(s, "status", "-");
                if (ctl_table_add(t, row) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        ctl_table_print(t, stdout);
        return 0;
}

static int cmd_show(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "PLAN", "NAME", "SPEC", "PRICE" };
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        _cleanup_(freep) char *tags = NULL;
        json_auto_t *s = NULL;
        const json_t *signoffs;
        size_t i;
        json_t *p;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, CATALOG, "GetService", &s, "s", argv[0]);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(s);

        tags = join_strings(json_object_get(s, "tags"));
        field("ID:", ctl_json_str(s, "id", NULL));
        field("Name:", ctl_json_str(s, "name", NULL));
        field("Display name:", ctl_json_str(s, "display_name", NULL));
        field("Category:", ctl_json_str(s, "category", NULL));
        field("Driver:", ctl_json_str(s, "driver", NULL));
        field("Status:", ctl_json_str(s, "status", NULL));
        field_int("Revision:", json_object_get(s, "revision"));
        if (json_object_get(s, "in_force_revision"))
                field_int("In force revision:", json_object_get(s, "in_force_revision"));
        if (json_object_get(s, "pending_revision"))
                field_int("Pending revision:", json_object_get(s, "pending_revision"));
        field("Secure & controllable:", yes_no(json_object_get(s, "secure_controllable")));
        field_int("Max protection level:", json_object_get(s, "max_protection_level"));
        field("Bindable:", yes_no(json_object_get(s, "bindable")));
        field("Tags:", tags);
        if (json_object_get(s, "created_by")) {
                char line[256];

                snprintf(line, sizeof(line), "%s by %s", ctl_json_str(s, "created_at", "?"),
                         ctl_json_str(s, "created_by", "?"));
                field("Created:", line);
        }
        if (json_object_get(s, "published_at"))
                field("Published at:", ctl_json_str(s, "published_at", NULL));
        signoffs = json_object_get(s, "signoffs");
        json_array_foreach(signoffs, i, p) {
                char line[256];

                snprintf(line, sizeof(line), "%s by %s at %s", ctl_json_str(p, "role", "?"),
                         ctl_json_str(p, "principal", "?"), ctl_json_str(p, "signed_at", "?"));
                field(i == 0 ? "Signed off:" : "", line);
        }
        field("Description:", ctl_json_str(s, "description", NULL));
        printf("\n");

        t = ctl_table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return ctl_error(-ENOMEM, "out of memory");
        json_array_foreach(json_object_get(s, "plans"), i, p) {
                char spec[256], price[64];
                const char *row[] = {
                        ctl_json_str(p, "id", "?"),
                        ctl_json_str(p, "display_name", "-"),
                        format_spec(json_object_get(p, "spec"), spec, sizeof(spec)),
                        format_price(json_object_get(p, "price"), price, sizeof(price)),
                };
                if (ctl_table_add(t, row) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        ctl_table_print(t, stdout);
        return 0;
}

/* A document from FILE, then the change it asks for. */
static int cmd_draft(Ctl *ctl, int argc, char **argv) {
        _cleanup_(freep) char *text = NULL;
        json_auto_t *s = NULL;
        int r;

        (void)argc;
        r = ctl_read_file(argv[0], &text);
        if (r < 0)
                return r;
        r = ctl_call_json(ctl, CATALOG, "CreateService", &s, "s", text);
        if (r < 0)
                return r;
        return print_change(ctl, s);
}

static int cmd_update(Ctl *ctl, int argc, char **argv) {
        _cleanup_(freep) char *text = NULL;
        json_auto_t *s = NULL;
        int r;

        (void)argc;
        r = ctl_read_file(argv[1], &text);
        if (r < 0)
                return r;
        r = ctl_call_json(ctl, CATALOG, "UpdateService", &s, "ss", argv[0], text);
        if (r < 0)
                return r;
        return print_change(ctl, s);
}

/* submit, approve, deprecate, retire: the D-Bus method is the table's. */
static int transition(Ctl *ctl, const char *method, const char *id) {
        json_auto_t *s = NULL;
        int r;

        r = ctl_call_json(ctl, CATALOG, method, &s, "s", id);
        if (r < 0)
                return r;
        return print_change(ctl, s);
}

static int cmd_submit(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return transition(ctl, "SubmitService", argv[0]);
}

static int cmd_approve(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return transition(ctl, "ApproveService", argv[0]);
}

static int cmd_deprecate(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return transition(ctl, "DeprecateService", argv[0]);
}

static int cmd_retire(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return transition(ctl, "RetireService", argv[0]);
}

static const CtlCommand catalog_commands[] = {
        { "list", "[--all]", "List published services (with --all: every status)", 0, 0, cmd_list,
          CTL_OPT_ALL, 0 },
        { "show", "ID", "Show a service and its plans with prices", 1, 1, cmd_show, 0, 0 },
        { "draft", "FILE", "Create a draft service from a JSON document", 1, 1, cmd_draft, 0, 0 },
        { "update", "ID FILE", "Start the next revision of a service as a draft", 2, 2, cmd_update, 0, 0 },
        { "submit", "ID", "Submit the draft for sign-off", 1, 1, cmd_submit, 0, 0 },
        { "approve", "ID", "Sign off the submitted revision (authority, finance)", 1, 1, cmd_approve, 0, 0 },
        { "deprecate", "ID", "Deprecate the published service", 1, 1, cmd_deprecate, 0, 0 },
        { "retire", "ID", "Retire the deprecated service", 1, 1, cmd_retire, 0, 0 },
};

const CtlGroup ctl_group_catalog = {
        .name = "catalog",
        .summary = "The service catalogue",
        .commands = catalog_commands,
        .n_commands = ELEMENTSOF(catalog_commands),
};
