/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl project ...: approved projects through
 * org.cloudbroker.Broker1.Projects. The daemon decides who may see and
 * change what; another department's project reads like one that does not
 * exist (exit 4).
 */

#include <errno.h>
#include <stdio.h>

#include "ctl-util.h"

#define PROJECTS CTL_INTERFACE("Projects")

static int print_project(Ctl *ctl, const json_t *p) {
        const json_t *budget = json_object_get(p, "budget");
        char a[32], b[32];

        if (ctl->json)
                return ctl_print_json(p);
        printf("%-22s %s\n", "ID:", ctl_json_str(p, "id", "-"));
        printf("%-22s %s\n", "Name:", ctl_json_str(p, "name", "-"));
        printf("%-22s %s\n", "Department:", ctl_json_str(p, "department", "-"));
        printf("%-22s %s\n", "Status:", ctl_json_str(p, "status", "-"));
        printf("%-22s %lld\n", "Revision:", (long long)json_integer_value(json_object_get(p, "revision")));
        printf("%-22s %s\n", "Blocked:", json_is_true(json_object_get(p, "blocked")) ? "yes" : "no");
        printf("%-22s %s of %s 元\n", "Construction used:",
               ctl_format_fen(json_integer_value(json_object_get(budget, "used_construction_fen")), a,
                              sizeof(a)),
               ctl_format_fen(json_integer_value(json_object_get(budget, "construction_fen")), b, sizeof(b)));
        printf("%-22s %s of %s 元\n", "O&M used:",
               ctl_format_fen(json_integer_value(json_object_get(budget, "used_om_fen")), a, sizeof(a)),
               ctl_format_fen(json_integer_value(json_object_get(budget, "om_fen")), b, sizeof(b)));
        printf("%-22s %zu\n", "Milestones:", json_array_size(json_object_get(p, "milestones")));
        return 0;
}

static int cmd_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "ID", "NAME", "DEPARTMENT", "STATUS", "REVISION" };
        static const char *const members[] = { "id", "name", "department", "status", "revision" };
        json_auto_t *list = NULL;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_pages(ctl, PROJECTS, "ListProjects", ctl->department ? ctl->department : "", &list);
        if (r < 0)
                return r;
        return ctl_print_list(ctl, list, ELEMENTSOF(headers), headers, members);
}

static int cmd_show(Ctl *ctl, int argc, char **argv) {
        json_auto_t *p = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, PROJECTS, "GetProject", &p, "s", argv[0]);
        if (r < 0)
                return r;
        return print_project(ctl, p);
}

static int cmd_milestone(Ctl *ctl, int argc, char **argv) {
        json_auto_t *p = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, PROJECTS, "AddMilestone", &p, "sssu", argv[0], argv[1], argv[2],
                          (uint32_t)ctl->budget_year);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(p);
        printf("%s: milestone %s on %s recorded\n", argv[0], argv[1], argv[2]);
        return 0;
}

static int set_status(Ctl *ctl, const char *id, const char *method) {
        json_auto_t *p = NULL;
        int r;

        r = ctl_call_json(ctl, PROJECTS, method, &p, "ss", id, ctl->reason);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(p);
        printf("%s is %s\n", id, ctl_json_str(p, "status", "?"));
        return 0;
}

static int cmd_suspend(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return set_status(ctl, argv[0], "Suspend");
}

static int cmd_resume(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return set_status(ctl, argv[0], "Resume");
}

static int cmd_terminate(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return set_status(ctl, argv[0], "Terminate");
}

static const CtlCommand project_commands[] = {
        { "list", "[--department DEPT]", "List the projects you may see", 0, 0, cmd_list, CTL_OPT_DEPARTMENT,
          0 },
        { "show", "ID", "Show a project: approval, budget, deadlines", 1, 1, cmd_show, 0, 0 },
        { "milestone", "ID KIND DATE [--budget-year YEAR]", "Record a milestone (the project's department)",
          3, 3, cmd_milestone, CTL_OPT_BUDGET_YEAR, 0 },
        { "suspend", "ID --reason TEXT", "Suspend a project (the authority)", 1, 1, cmd_suspend,
          CTL_OPT_REASON, CTL_OPT_REASON },
        { "resume", "ID --reason TEXT", "Resume a suspended project (the authority)", 1, 1, cmd_resume,
          CTL_OPT_REASON, CTL_OPT_REASON },
        { "terminate", "ID --reason TEXT", "Terminate a project (the authority)", 1, 1, cmd_terminate,
          CTL_OPT_REASON, CTL_OPT_REASON },
};

const CtlGroup ctl_group_project = {
        .name = "project",
        .summary = "Approved projects",
        .commands = project_commands,
        .n_commands = ELEMENTSOF(project_commands),
};
