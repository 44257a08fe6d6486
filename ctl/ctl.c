/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl: the operator's command line. It holds no rule of its own:
 * every command is one D-Bus call to cloudbrokerd, which authenticates the
 * caller's UID and decides. Commands are data: groups of CtlCommand tables
 * (ctl/ctl-<group>.c), dispatched here by name with their argument counts
 * and options checked once.
 *
 * Like systemctl and virsh, options go anywhere on the line (getopt
 * permutes: `catalog list --json` is `--json catalog list`), output is plain
 * text (no colour, no pager, on a terminal or not), and the exit status
 * says what happened (CTL_EXIT_* in ctl-util.h): 0 done, 1 failed, 2 the
 * command line is wrong, 4 NotFound or AccessDenied.
 */

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl-util.h"

#ifndef CB_VERSION
#define CB_VERSION "0.0.0"
#endif

/* One line per command group; the group is ctl/ctl-<name>.c defining
 * `const CtlGroup ctl_group_<name>`. --help lists them in this order. */
#define CTL_GROUPS(X) \
        X(catalog)    \
        X(approval)   \
        X(project)    \
        X(system)     \
        X(incident)   \
        X(resource)   \
        X(policy)     \
        X(provider)   \
        X(migration)  \
        X(image)      \
        X(audit)      \
        X(billing)    \
        X(whoami)

#define CTL_GROUP_DECLARE(name) extern const CtlGroup ctl_group_##name;
#define CTL_GROUP_REF(name)     &ctl_group_##name,

CTL_GROUPS(CTL_GROUP_DECLARE)

static const CtlGroup *const ctl_groups[] = { CTL_GROUPS(CTL_GROUP_REF) };

/* The long options a command may take (CTL_OPT_*), by name, for messages. */
static const struct {
        unsigned bit;
        const char *name;
} command_options[] = {
        { CTL_OPT_ALL, "--all" },
        { CTL_OPT_KEY, "--key" },
        { CTL_OPT_KEY_ID, "--key-id" },
        { CTL_OPT_ALG, "--alg" },
        { CTL_OPT_IDEMPOTENCY_KEY, "--idempotency-key" },
        { CTL_OPT_DB, "--db" },
        { CTL_OPT_ANCHOR, "--anchor" },
        { CTL_OPT_DEPARTMENT, "--department" },
        { CTL_OPT_AFTER, "--after" },
        { CTL_OPT_LIMIT, "--limit" },
        { CTL_OPT_BUDGET_YEAR, "--budget-year" },
        { CTL_OPT_REASON, "--reason" },
        { CTL_OPT_DOMAIN_TYPE, "--domain-type" },
        { CTL_OPT_PERIOD, "--period" },
        { CTL_OPT_FORMAT, "--format" },
        { CTL_OPT_EXCEL, "--excel" },
        { CTL_OPT_OUT, "--out" },
        { CTL_OPT_NUMBER, "--number" },
        { CTL_OPT_IMAGE_POOL, "--image-pool" },
};

static void print_command_line(FILE *f, const CtlGroup *g, const CtlCommand *c) {
        char left[160];

        if (g->single)
                snprintf(left, sizeof(left), "%s", g->name);
        else
                snprintf(left, sizeof(left), "%s %s%s%s", g->name, c->name, isempty(c->args) ? "" : " ",
                         c->args ? c->args : "");
        if (strlen(left) > 30)
                fprintf(f, "  %s\n  %-30s %s\n", left, "", c->summary);
        else
                fprintf(f, "  %-30s %s\n", left, c->summary);
}

static void print_usage(FILE *f, const CtlGroup *g, const CtlCommand *c) {
        if (g->single)
                fprintf(f, "Usage: cloudbrokerctl %s\n", g->name);
        else
                fprintf(f, "Usage: cloudbrokerctl %s %s%s%s\n", g->name, c->name, isempty(c->args) ? "" : " ",
                        c->args ? c->args : "");
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: cloudbrokerctl [OPTIONS] GROUP COMMAND [ARGS...]\n"
                "       cloudbrokerctl help [GROUP [COMMAND]]\n"
                "\n"
                "Operate the cloudbroker daemon over D-Bus. The daemon knows you by your UID.\n"
                "Options may come anywhere on the line, before or after the command.\n"
                "\n"
                "Options:\n"
                "  -h --help                      Show this help and exit\n"
                "  -V --version                   Show the version and exit\n"
                "     --bus-address=ADDRESS       D-Bus address to use (default: $CLOUDBROKER_BUS_ADDRESS,\n"
                "                                 else the system bus)\n"
                "  -j --json                      Print the daemon's JSON documents instead of tables\n"
                "     --no-legend                 Print tables without their header line\n"
                "     --no-pager                  Accepted for systemctl's sake: output is never paged\n"
                "  -a --all                       catalog list: every service and status, drafts included\n"
                "     --department=DEPT           project list, system list, approval list: one department\n"
                "     --number=NO                 approval show: the approval with this number\n"
                "     --reason=TEXT               project suspend|resume|terminate: the reason on record\n"
                "     --budget-year=YEAR          project milestone: the budget year of a self-evaluation\n"
                "     --after=SEQ --limit=N       audit list: records after SEQ, at most N (1-10000)\n"
                "     --anchor=SEQ:HASH           audit verify: the record must still be there\n"
                "     --db=PATH                   audit verify: check a database file offline\n"
                "     --key=PEM                   audit verify --db: a public key checkpoints must verify\n"
                "                                 under (repeatable)\n"
                "     --key=PEM --key-id=ID       approval sign: the authority's private key and its id\n"
                "     --alg=ALG                   approval sign: sm2-sm3 (default) or ed25519;\n"
                "                                 audit keygen: ed25519 (default) or sm2-sm3\n"
                "     --idempotency-key=KEY       resource request: replay instead of a second resource\n"
                "     --domain-type=TYPE          provider add: auto, kvm or qemu\n"
                "     --image-pool=POOL           provider add: the storage pool of its OS images\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(ctl_groups); i++)
                for (size_t k = 0; k < ctl_groups[i]->n_commands; k++)
                        print_command_line(f, ctl_groups[i], &ctl_groups[i]->commands[k]);
        fprintf(f, "\n"
                   "FILE may be - for standard input. Output is plain text, never coloured or paged.\n"
                   "\n"
                   "Exit status:\n"
                   "  0  done\n"
                   "  1  failed: the daemon refused (Conflict, PolicyDenied, InvalidField, ...), the bus is\n"
                   "     unreachable, a file is unreadable, the audit chain is broken, or policy\n"
                   "     evaluate answered denied\n"
                   "  2  the command line is wrong (unknown command or option, wrong arguments)\n"
                   "  4  the daemon answered NotFound or AccessDenied: nothing you may see or do there\n");
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

static void list_group(FILE *f, const CtlGroup *g) {
        for (size_t i = 0; i < g->n_commands; i++)
                print_command_line(f, g, &g->commands[i]);
}

/* help [GROUP [COMMAND]]: 0 when it names something, 2 when not, so a
 * script (tests/integration/test-faces.sh) can ask whether a command exists. */
static int help_command(int argc, char **argv) {
        const CtlGroup *g;
        const CtlCommand *c;

        if (argc == 0) {
                help(stdout);
                return EXIT_SUCCESS;
        }
        if (argc > 2)
                return usage_error("%s", "help takes at most GROUP COMMAND");
        g = find_group(argv[0]);
        if (!g)
                return usage_error("unknown command group '%s'", argv[0]);
        if (argc == 1) {
                printf("%s: %s\n", g->name, g->summary);
                list_group(stdout, g);
                return EXIT_SUCCESS;
        }
        c = g->single ? NULL : find_command(g, argv[1]);
        if (!c)
                return usage_error("unknown command '%s %s'", g->name, argv[1]);
        print_usage(stdout, g, c);
        printf("%s\n", c->summary);
        return EXIT_SUCCESS;
}

static int check_options(const Ctl *ctl, const CtlGroup *g, const CtlCommand *c) {
        for (size_t i = 0; i < ELEMENTSOF(command_options); i++) {
                unsigned bit = command_options[i].bit;

                if ((ctl->given & bit) && !(c->options & bit)) {
                        fprintf(stderr, "cloudbrokerctl: %s does not apply to '%s%s%s'\n",
                                command_options[i].name, g->name, g->single ? "" : " ",
                                g->single ? "" : c->name);
                        print_usage(stderr, g, c);
                        return CTL_EXIT_USAGE;
                }
                if ((c->required & bit) && !(ctl->given & bit)) {
                        fprintf(stderr, "cloudbrokerctl: %s is required\n", command_options[i].name);
                        print_usage(stderr, g, c);
                        return CTL_EXIT_USAGE;
                }
        }
        return 0;
}

/* argv holds GROUP COMMAND ARGS...; returns the exit status. */
static int dispatch(Ctl *ctl, int argc, char **argv) {
        const CtlGroup *g;
        const CtlCommand *c;
        unsigned n;
        int r;

        if (argc < 1)
                return usage_error("%s", "missing command group");
        if (streq(argv[0], "help"))
                return help_command(argc - 1, argv + 1);
        g = find_group(argv[0]);
        if (!g)
                return usage_error("unknown command group '%s'", argv[0]);
        if (g->single) {
                c = &g->commands[0];
                argc -= 1, argv += 1;
        } else {
                if (argc < 2) {
                        fprintf(stderr, "cloudbrokerctl: missing command; %s commands:\n", g->name);
                        list_group(stderr, g);
                        return CTL_EXIT_USAGE;
                }
                c = find_command(g, argv[1]);
                if (!c)
                        return usage_error("unknown command '%s %s'", g->name, argv[1]);
                argc -= 2, argv += 2;
        }

        n = (unsigned)argc;
        if (n < c->min_args || n > c->max_args) {
                fprintf(stderr, "cloudbrokerctl: wrong number of arguments\n");
                print_usage(stderr, g, c);
                return CTL_EXIT_USAGE;
        }
        r = check_options(ctl, g, c);
        if (r != 0)
                return r;
        r = c->run(ctl, argc, argv);
        if (r >= 0)
                return EXIT_SUCCESS;
        return ctl->not_found ? CTL_EXIT_NOT_FOUND : CTL_EXIT_FAILURE;
}

static int parse_number(const char *name, const char *s, long long min, long long max, long long *ret) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || end == s || v < min || v > max)
                return usage_error("%s: '%s' is not a number from %lld to %lld", name, s, min, max);
        *ret = v;
        return 0;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_BUS_ADDRESS = 0x100,
                ARG_NO_PAGER,
                ARG_NO_LEGEND,
                ARG_KEY,
                ARG_KEY_ID,
                ARG_ALG,
                ARG_IDEMPOTENCY_KEY,
                ARG_DB,
                ARG_ANCHOR,
                ARG_DEPARTMENT,
                ARG_AFTER,
                ARG_LIMIT,
                ARG_BUDGET_YEAR,
                ARG_REASON,
                ARG_DOMAIN_TYPE,
                ARG_PERIOD,
                ARG_FORMAT,
                ARG_EXCEL,
                ARG_OUT,
                ARG_NUMBER,
                ARG_IMAGE_POOL,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "json", no_argument, NULL, 'j' },
                { "all", no_argument, NULL, 'a' },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "key", required_argument, NULL, ARG_KEY },
                { "key-id", required_argument, NULL, ARG_KEY_ID },
                { "alg", required_argument, NULL, ARG_ALG },
                { "idempotency-key", required_argument, NULL, ARG_IDEMPOTENCY_KEY },
                { "db", required_argument, NULL, ARG_DB },
                { "anchor", required_argument, NULL, ARG_ANCHOR },
                { "department", required_argument, NULL, ARG_DEPARTMENT },
                { "after", required_argument, NULL, ARG_AFTER },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "budget-year", required_argument, NULL, ARG_BUDGET_YEAR },
                { "reason", required_argument, NULL, ARG_REASON },
                { "domain-type", required_argument, NULL, ARG_DOMAIN_TYPE },
                { "period", required_argument, NULL, ARG_PERIOD },
                { "format", required_argument, NULL, ARG_FORMAT },
                { "excel", no_argument, NULL, ARG_EXCEL },
                { "out", required_argument, NULL, ARG_OUT },
                { "number", required_argument, NULL, ARG_NUMBER },
                { "image-pool", required_argument, NULL, ARG_IMAGE_POOL },
                {},
        };
        Ctl ctl = { 0 };
        long long v;
        int c, r;

        /* Service names are UTF-8 whatever the user's locale: wcwidth() must
         * know CJK widths to align tables. */
        if (!setlocale(LC_CTYPE, "C.UTF-8"))
                setlocale(LC_CTYPE, "");

        /* No "+": getopt permutes, so options may follow the command and its
         * arguments; "--" ends them (for an argument that starts with "-"). */
        while ((c = getopt_long(argc, argv, "hVja", options, NULL)) >= 0)
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
                        ctl.given |= CTL_OPT_ALL;
                        break;
                case ARG_NO_PAGER:
                        break;
                case ARG_NO_LEGEND:
                        ctl.no_legend = true;
                        break;
                case ARG_KEY:
                        if (ctl.n_keys == CTL_KEYS_MAX)
                                return usage_error("--key: at most %d keys", CTL_KEYS_MAX);
                        ctl.keys[ctl.n_keys++] = optarg;
                        ctl.key = ctl.keys[0], ctl.given |= CTL_OPT_KEY;
                        break;
                case ARG_KEY_ID:
                        ctl.key_id = optarg, ctl.given |= CTL_OPT_KEY_ID;
                        break;
                case ARG_ALG:
                        ctl.alg = optarg, ctl.given |= CTL_OPT_ALG;
                        break;
                case ARG_IDEMPOTENCY_KEY:
                        ctl.idempotency_key = optarg, ctl.given |= CTL_OPT_IDEMPOTENCY_KEY;
                        break;
                case ARG_DB:
                        ctl.db = optarg, ctl.given |= CTL_OPT_DB;
                        break;
                case ARG_ANCHOR:
                        ctl.anchor = optarg, ctl.given |= CTL_OPT_ANCHOR;
                        break;
                case ARG_DEPARTMENT:
                        ctl.department = optarg, ctl.given |= CTL_OPT_DEPARTMENT;
                        break;
                case ARG_REASON:
                        ctl.reason = optarg, ctl.given |= CTL_OPT_REASON;
                        break;
                case ARG_DOMAIN_TYPE:
                        ctl.domain_type = optarg, ctl.given |= CTL_OPT_DOMAIN_TYPE;
                        break;
                case ARG_PERIOD:
                        ctl.period = optarg, ctl.given |= CTL_OPT_PERIOD;
                        break;
                case ARG_FORMAT:
                        ctl.format = optarg, ctl.given |= CTL_OPT_FORMAT;
                        break;
                case ARG_EXCEL:
                        ctl.excel = true, ctl.given |= CTL_OPT_EXCEL;
                        break;
                case ARG_OUT:
                        ctl.out = optarg, ctl.given |= CTL_OPT_OUT;
                        break;
                case ARG_NUMBER:
                        ctl.number = optarg, ctl.given |= CTL_OPT_NUMBER;
                        break;
                case ARG_IMAGE_POOL:
                        ctl.image_pool = optarg, ctl.given |= CTL_OPT_IMAGE_POOL;
                        break;
                case ARG_AFTER:
                        if (parse_number("--after", optarg, 0, INT64_MAX, &v) != 0)
                                return CTL_EXIT_USAGE;
                        ctl.after = v, ctl.given |= CTL_OPT_AFTER;
                        break;
                case ARG_LIMIT:
                        if (parse_number("--limit", optarg, 1, 10000, &v) != 0)
                                return CTL_EXIT_USAGE;
                        ctl.limit = (unsigned)v, ctl.given |= CTL_OPT_LIMIT;
                        break;
                case ARG_BUDGET_YEAR:
                        if (parse_number("--budget-year", optarg, 1, 9999, &v) != 0)
                                return CTL_EXIT_USAGE;
                        ctl.budget_year = (unsigned)v, ctl.given |= CTL_OPT_BUDGET_YEAR;
                        break;
                default:
                        /* getopt printed what was wrong */
                        return usage_error("%s", "invalid option");
                }

        ctl_table_set_legend(!ctl.no_legend);
        r = dispatch(&ctl, argc - optind, argv + optind);
        ctl_done(&ctl);
        if (fflush(stdout) != 0 && r == EXIT_SUCCESS) {
                perror("cloudbrokerctl: writing output");
                r = EXIT_FAILURE;
        }
        return r;
}
