/* SPDX-License-Identifier: Apache-2.0 */
/* cloudbrokerd: parse the command line, load the config, run the loop. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "audit.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "rest.h"

typedef struct Args {
        const char *config;
        const char *db;
        const char *rest_listen;
        const char *bus;
        const char *bus_address;
        bool list_routes;
} Args;

static void usage(FILE *f) {
        fprintf(f, "Usage: cloudbrokerd --config FILE [OPTIONS]\n"
                   "\n"
                   "The municipal cloud service broker daemon.\n"
                   "\n"
                   "  -c, --config FILE          configuration file (libconfig syntax)\n"
                   "      --db PATH              SQLite database (overrides 'database')\n"
                   "      --rest-listen HOST:PORT  REST address (overrides rest.listen; \"\" disables)\n"
                   "      --bus system|session|none  D-Bus bus to serve on (overrides 'bus')\n"
                   "      --bus-address ADDRESS  D-Bus address to serve on (overrides 'bus_address')\n"
                   "      --list-routes          print the HTTP routes and exit\n"
                   "  -h, --help                 show this help\n"
                   "      --version              show the version\n");
}

static int parse_args(int argc, char **argv, Args *a) {
        enum { OPT_DB = 256, OPT_REST, OPT_BUS, OPT_BUS_ADDRESS, OPT_VERSION, OPT_ROUTES };
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "db", required_argument, NULL, OPT_DB },
                { "rest-listen", required_argument, NULL, OPT_REST },
                { "bus", required_argument, NULL, OPT_BUS },
                { "bus-address", required_argument, NULL, OPT_BUS_ADDRESS },
                { "list-routes", no_argument, NULL, OPT_ROUTES },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                { NULL, 0, NULL, 0 },
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0)
                switch (c) {
                case 'c':
                        a->config = optarg;
                        break;
                case OPT_DB:
                        a->db = optarg;
                        break;
                case OPT_REST:
                        a->rest_listen = optarg;
                        break;
                case OPT_BUS:
                        if (!streq(optarg, "system") && !streq(optarg, "session") && !streq(optarg, "none")) {
                                fprintf(stderr, "cloudbrokerd: --bus must be system, session or none\n");
                                return -EINVAL;
                        }
                        a->bus = optarg;
                        break;
                case OPT_BUS_ADDRESS:
                        a->bus_address = optarg;
                        break;
                case OPT_ROUTES:
                        a->list_routes = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_VERSION:
                        printf("cloudbrokerd %s\n", CB_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "cloudbrokerd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (a->bus && a->bus_address) {
                fprintf(stderr, "cloudbrokerd: --bus and --bus-address exclude each other\n");
                return -EINVAL;
        }
        if (!a->config && !a->list_routes) {
                fprintf(stderr, "cloudbrokerd: --config FILE is required\n");
                usage(stderr);
                return -EINVAL;
        }
        return 1;
}

static int replace(char **field, const char *value) {
        char *s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static int apply_overrides(Config *c, const Args *a) {
        int r = 0;
        if (a->db)
                r = replace(&c->database, a->db);
        if (r >= 0 && a->rest_listen)
                r = replace(&c->rest_listen, a->rest_listen);
        if (r >= 0 && a->bus) {
                r = replace(&c->bus, a->bus);
                free(c->bus_address);
                c->bus_address = NULL;
        }
        if (r >= 0 && a->bus_address)
                r = replace(&c->bus_address, a->bus_address);
        return r;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void)userdata;
        log_info("received %s, stopping", strsignal((int)si->ssi_signo));
        sd_notify(0, "STOPPING=1");
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv) {
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        Args args = { 0 };
        sigset_t mask;
        int r;

        /* Every request parses and frees JSON and XML in bursts; by default
         * glibc hands the top of the heap back after each burst and asks
         * for it again on the next (brk, page faults: a fifth of the CPU
         * per provisioned VM in bench/provision). Keep up to 32 MiB. */
        mallopt(M_TRIM_THRESHOLD, 32 << 20);
        mallopt(M_TOP_PAD, 8 << 20);

        r = parse_args(argc, argv, &args);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (args.list_routes) {
                rest_print_routes(stdout);
                return 0;
        }

        r = config_load(args.config, &config, &err);
        if (r < 0) {
                fprintf(stderr, "cloudbrokerd: %s\n", err.message);
                return 1;
        }
        if (apply_overrides(config, &args) < 0) {
                fprintf(stderr, "cloudbrokerd: out of memory\n");
                return 1;
        }

        /* Signals must be blocked before sd-event can take them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = manager_new(config, &m, &err);
        if (r < 0) {
                fprintf(stderr, "cloudbrokerd: %s\n", err.message);
                return 1;
        }
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0) {
                fprintf(stderr, "cloudbrokerd: cannot watch signals: %s\n", strerror(-r));
                return 1;
        }
        /* Pings the watchdog itself when WATCHDOG_USEC asks for it. */
        sd_event_set_watchdog(m->event, true);

        r = manager_start_providers(m, &err);
        if (r >= 0)
                r = bus_setup(m, &err);
        if (r >= 0)
                r = rest_start(m, &err);
        if (r < 0) {
                fprintf(stderr, "cloudbrokerd: %s\n", err.message);
                return 1;
        }
        manager_check_budgets(m);

        log_info("cloudbrokerd %s ready (database %s, bus %s)", CB_VERSION, config->database,
                 config->bus_address ? config->bus_address : config->bus);
        audit_log_anchor(m->store, "at start", &m->anchor_logged_seq);
        sd_notifyf(0, "READY=1\nSTATUS=Serving the catalogue\nMAINPID=%lu", (unsigned long)getpid());

        r = sd_event_loop(m->event);
        if (r < 0) {
                fprintf(stderr, "cloudbrokerd: event loop failed: %s\n", strerror(-r));
                return 1;
        }
        audit_log_anchor(m->store, "at stop", &m->anchor_logged_seq);
        if (audit_checkpoint(m->store, "stop", false, &err) < 0)
                log_error("cannot sign the audit checkpoint at stop: %s", err.message);
        log_info("stopped");
        return 0;
}
