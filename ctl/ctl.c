/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl: the operator's command line. It holds no rule of its own:
 * every command is one D-Bus call to cloudbrokerd, which authenticates the
 * caller's UID and decides. Commands are data: groups of CtlCommand tables
 * (ctl/ctl-<group>.c), dispatched here by name with their argument counts
 * checked once.
 *
 * Exit status: 0 success, 1 the call failed (the daemon refused, the bus is
 * unreachable, a file is unreadable), 2 the command line is wrong.
 */

#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>

#include "ctl-util.h"

#ifndef CB_VERSION
#define CB_VERSION "0.0.0"
#endif

/* One line per command group; the group is ctl/ctl-<name>.c defining
 * `const CtlGroup ctl_group_<name>`. --help lists them in this order. */
#define CTL_GROUPS(X) \
        X(catalog)    \
        X(approval)   \
        X(audit)      \
        X(resource)

#define CTL_GROUP_DECLARE(name) extern const CtlGroup ctl_group_##name;
#define CTL_GROUP_REF(name)     &ctl_group_##name,

CTL_GROUPS(CTL_GROUP_DECLARE)

static const CtlGroup *const ctl_groups[] = { CTL_GROUPS(CTL_GROUP_REF) };

static void print_command_line(FILE *f, const CtlGroup *g, const CtlCommand *c) {
        char left[160];

        snprintf(left, sizeof(left), "%s %s%s%s", g->name, c->name, isempty(c->args) ? "" : " ",
                 c->args ? c->args : "");
        if (strlen(left) > 30)
                fprintf(f, "  %s\n  %-30s %s\n", left, "", c->summary);
        else
                fprintf(f, "  %-30s %s\n", left, c->summary);
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: cloudbrokerctl [OPTIONS] GROUP COMMAND [ARGS...]\n"
                "\n"
                "Operate the cloudbroker daemon over D-Bus. The daemon knows you by your UID.\n"
                "\n"
                "Options:\n"
                "  -h --help                      Show this help and exit\n"
                "  -V --version                   Show the version and exit\n"
                "     --bus-address=ADDRESS       D-Bus address to use (default: $CLOUDBROKER_BUS_ADDRESS,\n"
                "                                 else the system bus)\n"
                "  -j --json                      Print the daemon's JSON documents instead of tables\n"
                "  -a --all                       List every service and status, drafts included\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(ctl_groups); i++)
                for (size_t k = 0; k < ctl_groups[i]->n_commands; k++)
                        print_command_line(f, ctl_groups[i], &ctl_groups[i]->commands[k]);
        fprintf(f, "\n"
                   "FILE may be - for standard input. Exit status: 0 success, 1 failure, 2 usage error.\n");
}

_printf_(1, 2) static int usage_error(const char *fmt, ...) {
        va_list ap;

        fputs("cloudbrokerctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'cloudbrokerctl --help'.\n", stderr);
        return CTL_EXIT_USAGE;
}

static const CtlGroup *find_group(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(ctl_groups); i++)
                if (streq(ctl_groups[i]->name, name))
                        return ctl_groups[i];
        return NULL;
}

static const CtlCommand *find_command(const CtlGroup *g, const char *name) {
        for (size_t i = 0; i < g->n_commands; i++)
                if (streq(g->commands[i].name, name))
                        return &g->commands[i];
        return NULL;
}

/* argv holds GROUP COMMAND ARGS...; returns the exit status. */
static int dispatch(Ctl *ctl, int argc, char **argv) {
        const CtlGroup *g;
        const CtlCommand *c;
        unsigned n;

        if (argc < 1)
                return usage_error("%s", "missing command group");
        g = find_group(argv[0]);
        if (!g)
                return usage_error("unknown command group '%s'", argv[0]);
        if (argc < 2) {
                fprintf(stderr, "cloudbrokerctl: missing command; %s commands:\n", g->name);
                for (size_t i = 0; i < g->n_commands; i++)
                        print_command_line(stderr, g, &g->commands[i]);
                return CTL_EXIT_USAGE;
        }
        c = find_command(g, argv[1]);
        if (!c)
                return usage_error("unknown command '%s %s'", g->name, argv[1]);

        n = (unsigned)(argc - 2);
        if (n < c->min_args || n > c->max_args) {
                fprintf(stderr,
                        "cloudbrokerctl: wrong number of arguments\nUsage: cloudbrokerctl %s %s%s%s\n",
                        g->name, c->name, isempty(c->args) ? "" : " ", c->args ? c->args : "");
                return CTL_EXIT_USAGE;
        }
        return c->run(ctl, argc - 2, argv + 2) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        enum { ARG_BUS_ADDRESS = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "json", no_argument, NULL, 'j' },
                { "all", no_argument, NULL, 'a' },
                {},
        };
        Ctl ctl = { 0 };
        int c, r;

        /* Service names are UTF-8 whatever the user's locale: wcwidth() must
         * know CJK widths to align tables. */
        if (!setlocale(LC_CTYPE, "C.UTF-8"))
                setlocale(LC_CTYPE, "");

        /* "+": options end at the group name, so a command may take options
         * of its own (approval sign --key ...). */
        while ((c = getopt_long(argc, argv, "+hVja", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return EXIT_SUCCESS;
                case 'V':
                        printf("cloudbrokerctl %s\n", CB_VERSION);
                        return EXIT_SUCCESS;
                case ARG_BUS_ADDRESS:
                        if (isempty(optarg))
                                return usage_error("%s", "--bus-address needs an address");
                        ctl.bus_address = optarg;
                        break;
                case 'j':
                        ctl.json = true;
                        break;
                case 'a':
                        ctl.all = true;
                        break;
                default:
                        /* getopt printed what was wrong */
                        return usage_error("%s", "invalid option");
                }

        r = dispatch(&ctl, argc - optind, argv + optind);
        ctl_done(&ctl);
        if (fflush(stdout) != 0 && r == EXIT_SUCCESS) {
                perror("cloudbrokerctl: writing output");
                r = EXIT_FAILURE;
        }
        return r;
}
