/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl system ... and incident ...: the system directory and
 * security incidents through org.cloudbroker.Broker1.Systems and
 * .Incidents. A system or an incident report is a JSON file with the REST
 * API's members; they travel as a{sv}, and the daemon judges them.
 */

#include <stdio.h>

#include "ctl-util.h"

#define SYSTEMS   CTL_INTERFACE("Systems")
#define INCIDENTS CTL_INTERFACE("Incidents")

static int print_doc(Ctl *ctl, const json_t *v) {
        if (ctl->json)
                return ctl_print_json(v);
        ctl_print_fields(v);
        return 0;
}

/* FILE (or - for standard input) as the a{sv} of method, after id if any. */
static int call_with_file(Ctl *ctl, const char *interface, const char *method, const char *id,
                          const char *path) {
        json_auto_t *doc = NULL, *out = NULL;
        int r;

        r = ctl_read_json_object(path, &doc);
        if (r < 0)
                return r;
        r = ctl_call_dict_json(ctl, interface, method, id, doc, &out);
        if (r < 0)
                return r;
        return print_doc(ctl, out);
}

static int system_add(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return call_with_file(ctl, SYSTEMS, "AddSystem", NULL, argv[0]);
}

static int system_update(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return call_with_file(ctl, SYSTEMS, "UpdateSystem", argv[0], argv[1]);
}

static int system_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "ID", "NAME", "DEPARTMENT", "LEVEL", "CLASSIFIED", "SHARING" };
        static const char *const members[] = { "id",         "name",        "department", "protection_level",
                                               "classified", "data_sharing" };
        json_auto_t *list = NULL;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_pages(ctl, SYSTEMS, "ListSystems", ctl->department ? ctl->department : "", &list);
        if (r < 0)
                return r;
        return ctl_print_list(ctl, list, ELEMENTSOF(headers), headers, members);
}

static int system_show(Ctl *ctl, int argc, char **argv) {
        json_auto_t *v = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, SYSTEMS, "GetSystem", &v, "s", argv[0]);
        if (r < 0)
                return r;
        return print_doc(ctl, v);
}

static const CtlCommand system_commands[] = {
        { "add", "FILE", "Add a system to the directory (JSON document)", 1, 1, system_add, 0, 0 },
        { "list", "[--department DEPT]", "List the systems you may see", 0, 0, system_list,
          CTL_OPT_DEPARTMENT, 0 },
        { "show", "ID", "Show a system", 1, 1, system_show, 0, 0 },
        { "update", "ID FILE", "Replace a system's document", 2, 2, system_update, 0, 0 },
};

const CtlGroup ctl_group_system = {
        .name = "system",
        .summary = "The information-system directory (Art. 10)",
        .commands = system_commands,
        .n_commands = ELEMENTSOF(system_commands),
};

static int incident_report(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return call_with_file(ctl, INCIDENTS, "ReportIncident", NULL, argv[0]);
}

static int incident_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "ID", "SEVERITY", "STATUS", "DEPARTMENT", "REPORTED", "DUE" };
        static const char *const members[] = { "id",         "severity",    "status",
                                               "department", "reported_at", "report_due" };
        json_auto_t *list = NULL;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_pages(ctl, INCIDENTS, "ListIncidents", NULL, &list);
        if (r < 0)
                return r;
        return ctl_print_list(ctl, list, ELEMENTSOF(headers), headers, members);
}

static int incident_show(Ctl *ctl, int argc, char **argv) {
        json_auto_t *v = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, INCIDENTS, "GetIncident", &v, "s", argv[0]);
        if (r < 0)
                return r;
        return print_doc(ctl, v);
}

static int incident_record(Ctl *ctl, int argc, char **argv) {
        json_auto_t *v = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, INCIDENTS, "AddRecord", &v, "sss", argv[0], argv[2], argv[1]);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(v);
        printf("%s is %s\n", argv[0], ctl_json_str(v, "status", "?"));
        return 0;
}

static const CtlCommand incident_commands[] = {
        { "report", "FILE", "Report a security incident (JSON document)", 1, 1, incident_report, 0, 0 },
        { "list", "", "List the incidents you may see, newest first", 0, 0, incident_list, 0, 0 },
        { "show", "ID", "Show an incident with its records", 1, 1, incident_show, 0, 0 },
        { "record", "ID STATUS NOTE", "Add a handling record (status open|handling|reported|resolved)", 3, 3,
          incident_record, 0, 0 },
};

const CtlGroup ctl_group_incident = {
        .name = "incident",
        .summary = "Security incidents (Art. 38)",
        .commands = incident_commands,
        .n_commands = ELEMENTSOF(incident_commands),
};
