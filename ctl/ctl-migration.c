/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl migration ...: the legacy register (Art. 35) through
 * org.cloudbroker.Broker1.Migration. A registration or a plan request is a
 * JSON file with the REST body's members; it travels as a JSON string and
 * the daemon judges it.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl-util.h"

#define MIGRATION CTL_INTERFACE("Migration")
#define PAGES_MAX 1000u

static int print_doc(Ctl *ctl, const json_t *v) {
        if (ctl->json)
                return ctl_print_json(v);
        ctl_print_fields(v);
        return 0;
}

/* Calls method with [id,] the file's JSON as one string. */
static int call_with_file(Ctl *ctl, const char *method, const char *id, const char *path) {
        json_auto_t *doc = NULL, *out = NULL;
        _cleanup_(freep) char *text = NULL;
        int r;

        r = ctl_read_json_object(path, &doc);
        if (r < 0)
                return r;
        text = json_dumps(doc, JSON_COMPACT);
        if (!text)
                return ctl_error(-ENOMEM, "out of memory");
        if (id)
                r = ctl_call_json(ctl, MIGRATION, method, &out, "ss", id, text);
        else
                r = ctl_call_json(ctl, MIGRATION, method, &out, "s", text);
        if (r < 0)
                return r;
        return print_doc(ctl, out);
}

static int migration_register(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return call_with_file(ctl, "Register", NULL, argv[0]);
}

static int migration_update(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return call_with_file(ctl, "Update", argv[0], argv[1]);
}

static int migration_plan(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return call_with_file(ctl, "Plan", argv[0], argv[1]);
}

static int call_id(Ctl *ctl, const char *method, const char *id) {
        json_auto_t *v = NULL;
        int r = ctl_call_json(ctl, MIGRATION, method, &v, "s", id);
        if (r < 0)
                return r;
        return print_doc(ctl, v);
}

static int migration_show(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return call_id(ctl, "Get", argv[0]);
}

static int migration_assess(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return call_id(ctl, "Assess", argv[0]);
}

#define WATCH_POLL_MS  500
#define WATCH_MAX_MS   (24u * 3600u * 1000u) /* a move of a wave is long, not endless */
#define MOVE_BAR_WIDTH 30

static long long as_ll(const json_t *o, const char *key) {
        return (long long)json_integer_value(json_object_get(o, key));
}

/* Step, a bar of the bytes done, MiB done/total, rate: of a VM or of the whole run. */
static void print_figures(const char *name, const char *step, const json_t *o) {
        long long done = as_ll(o, "bytes_done"), total = as_ll(o, "bytes_total"), rate = as_ll(o, "rate_bps");
        long long pct = total > 0 ? done * 100 / total : 0;
        char bar[MOVE_BAR_WIDTH + 1];
        for (int k = 0; k < MOVE_BAR_WIDTH; k++)
                bar[k] = k < pct * MOVE_BAR_WIDTH / 100 ? '#' : '.';
        bar[MOVE_BAR_WIDTH] = '\0';
        printf("%-16s %-12s [%s] %3lld%% %lld/%lld MiB %lld KiB/s", name, step, bar, pct, done >> 20,
               total >> 20, rate >> 10);
}

/* While it runs, one line for the whole run: the bar goes from 0 to 100 %
 * once for the system (its VMs move all or nothing), with where it is:
 * the VM and the disk of each count, the step and the time left. */
static void print_progress(const char *id, const json_t *run, bool tty) {
        const json_t *cur = json_object_get(run, "current");
        const json_t *disk = json_object_get(cur, "disk");
        long long eta = json_is_integer(json_object_get(run, "eta_seconds")) ? as_ll(run, "eta_seconds") : -1;
        if (tty)
                printf("\r");
        print_figures(id, json_string_value(json_object_get(cur, "step")) ?: "queued", run);
        if (cur)
                printf("  VM %lld/%lld %s, disk %lld/%lld %s", as_ll(cur, "vm_index"), as_ll(cur, "vm_count"),
                       json_string_value(json_object_get(cur, "vm")) ?: "?", as_ll(disk, "index"),
                       as_ll(disk, "count"), json_string_value(json_object_get(disk, "dev")) ?: "?");
        if (eta >= 0)
                printf("  %lldm%02llds left", eta / 60, eta % 60);
        printf("%s", tty ? "\033[K" : "\n");
        fflush(stdout);
}

/* At the end, the whole run and then one line per VM, as they ended. */
static void print_vms(const char *id, const json_t *run) {
        size_t i;
        json_t *v;
        print_figures(id, json_string_value(json_object_get(run, "step")) ?: "?", run);
        printf("\n");
        json_array_foreach(json_object_get(run, "vms"), i, v) {
                print_figures(json_string_value(json_object_get(v, "name")) ?: "?",
                              json_string_value(json_object_get(v, "step")) ?: "?", v);
                printf("\n");
        }
        fflush(stdout);
}

/* Follows the record's run document until the move ends (detach with ^C;
 * `migration watch ID` re-attaches). 0 when it ended cut-over, else
 * negative (exit status 1). */
static int watch(Ctl *ctl, const char *id) {
        _cleanup_(freep) char *last = NULL;
        bool tty = isatty(STDOUT_FILENO) && !ctl->json;
        for (unsigned waited = 0; waited <= WATCH_MAX_MS; waited += WATCH_POLL_MS) {
                json_auto_t *v = NULL;
                int r = ctl_call_json(ctl, MIGRATION, "Get", &v, "s", id);
                if (r < 0)
                        return r;
                const char *state = json_string_value(json_object_get(v, "state")) ?: "";
                const json_t *run = json_object_get(json_object_get(v, "plan"), "run");
                if (!run) {
                        fprintf(stderr, "legacy system '%s' has not been moved (state %s)\n", id, state);
                        return -ENOENT;
                }
                bool running = streq(state, "migrating");
                _cleanup_(freep) char *now = json_dumps(run, JSON_COMPACT);
                if (ctl->json) {
                        if (!running)
                                ctl_print_json(run);
                } else if (running && (!last || !now || !streq(last, now))) {
                        /* Not a terminal: a line per change only. */
                        print_progress(id, run, tty);
                        free(last);
                        last = TAKE_PTR(now);
                }
                if (!running) {
                        if (!ctl->json) {
                                if (tty && last)
                                        printf("\n");
                                print_vms(id, run);
                        }
                        if (!ctl->json)
                                printf("%s: %s%s%s\n", id, state,
                                       json_string_value(json_object_get(v, "state_reason")) ? ": " : "",
                                       json_string_value(json_object_get(v, "state_reason")) ?: "");
                        return streq(state, "cut-over") ? 0 : -EIO;
                }
                nanosleep(&(struct timespec){ .tv_nsec = WATCH_POLL_MS * 1000000L }, NULL);
        }
        fprintf(stderr, "still moving after 24 h: stopped watching\n");
        return -ETIME;
}

static int migration_run(Ctl *ctl, int argc, char **argv) {
        json_auto_t *v = NULL;
        (void)argc;
        int r = ctl_call_json(ctl, MIGRATION, "Migrate", &v, "s", argv[0]);
        if (r < 0)
                return r;
        return watch(ctl, argv[0]);
}

static int migration_watch(Ctl *ctl, int argc, char **argv) {
        (void)argc;
        return watch(ctl, argv[0]);
}

static int migration_transition(Ctl *ctl, int argc, char **argv) {
        json_auto_t *v = NULL;
        int r;
        (void)argc;
        r = ctl_call_json(ctl, MIGRATION, "Transition", &v, "sss", argv[0], argv[1],
                          ctl->reason ? ctl->reason : "");
        if (r < 0)
                return r;
        return print_doc(ctl, v);
}

/* The operator confirms a moved system's decommission: its source domains
 * are undefined (disks kept unless the second argument is remove-disks). */
static int migration_decommission(Ctl *ctl, int argc, char **argv) {
        json_auto_t *v = NULL;
        int r;
        if (argc > 1 && !streq(argv[1], "remove-disks") && !streq(argv[1], "keep-disks"))
                return ctl_error(-EINVAL, "the second argument is keep-disks or remove-disks, not '%s'",
                                 argv[1]);
        r = ctl_call_json(ctl, MIGRATION, "Decommission", &v, "sb", argv[0],
                          argc > 1 && streq(argv[1], "remove-disks"));
        if (r < 0)
                return r;
        return print_doc(ctl, v);
}

static int migration_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "SYSTEM",   "DEPARTMENT", "STATE",   "HOSTING",
                                               "DEADLINE", "DUE",        "OVERDUE", "WAVE" };
        static const char *const members[] = { "system_id", "department", "state",        "hosting_kind",
                                               "deadline",  "due",        "days_overdue", "wave" };
        json_auto_t *all = json_array();
        _cleanup_(freep) char *token = strdup("");
        int r;

        (void)argc, (void)argv;
        if (!all || !token)
                return ctl_error(-ENOMEM, "out of memory");
        for (unsigned pages = 0;; pages++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                json_auto_t *items = NULL;
                const char *text, *next;

                if (pages >= PAGES_MAX)
                        return ctl_error(-E2BIG, "List answered more than %u pages", PAGES_MAX);
                r = ctl_call(ctl, MIGRATION, "List", &reply, "ssus", ctl->department ? ctl->department : "",
                             "", 0u, token);
                if (r < 0)
                        return r;
                r = sd_bus_message_read(reply, "ss", &text, &next);
                if (r < 0)
                        return ctl_error(r, "unexpected reply to List: %s", strerror(-r));
                items = json_loads(text, 0, NULL);
                if (!json_is_array(items))
                        return ctl_error(-EBADMSG, "the reply to List is not a JSON array");
                json_array_extend(all, items);
                if (!*next)
                        break;
                free(token);
                token = strdup(next);
                if (!token)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        /* The table shows the hosting kind flat. */
        size_t i;
        json_t *o;
        json_array_foreach(all, i, o)
                json_object_set(o, "hosting_kind", json_object_get(json_object_get(o, "hosting"), "kind"));
        return ctl_print_list(ctl, all, ELEMENTSOF(headers), headers, members);
}

#define BAR_WIDTH 20

/* One line per department and wave, with a bar of the share done. */
static int migration_status(Ctl *ctl, int argc, char **argv) {
        json_auto_t *v = NULL;
        json_t *g;
        size_t i;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_json(ctl, MIGRATION, "Summary", &v, "s", ctl->department ? ctl->department : "");
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(v);
        if (!ctl->no_legend)
                printf("%-16s %-10s %5s %5s %7s  %-*s\n", "DEPARTMENT", "WAVE", "TOTAL", "DONE", "OVERDUE",
                       BAR_WIDTH + 2, "PROGRESS");
        json_array_foreach(json_object_get(v, "groups"), i, g) {
                json_int_t total = json_integer_value(json_object_get(g, "total"));
                json_int_t done = json_integer_value(json_object_get(g, "done"));
                size_t overdue = json_array_size(json_object_get(g, "overdue"));
                int filled = total > 0 ? (int)(done * BAR_WIDTH / total) : 0;
                char bar[BAR_WIDTH + 1];
                for (int k = 0; k < BAR_WIDTH; k++)
                        bar[k] = k < filled ? '#' : '.';
                bar[BAR_WIDTH] = '\0';
                printf("%-16s %-10s %5lld %5lld %7zu  [%s] %3lld%%\n",
                       json_string_value(json_object_get(g, "department")),
                       json_string_value(json_object_get(g, "wave")) ?: "-", (long long)total,
                       (long long)done, overdue, bar, total > 0 ? (long long)(done * 100 / total) : 0LL);
        }
        json_array_foreach(json_object_get(v, "groups"), i, g) {
                size_t k;
                json_t *o;
                json_array_foreach(json_object_get(g, "overdue"), k, o)
                        printf("overdue: %s (%s) was due %s, %lld days ago (Art. 35)\n",
                               json_string_value(json_object_get(o, "system_id")),
                               json_string_value(json_object_get(o, "state")),
                               json_string_value(json_object_get(o, "due")),
                               (long long)json_integer_value(json_object_get(o, "days_overdue")));
        }
        return 0;
}

static const CtlCommand migration_commands[] = {
        { "status", "[--department DEPT]", "Progress per department and wave, and what is overdue", 0, 0,
          migration_status, CTL_OPT_DEPARTMENT, 0 },
        { "register", "FILE", "Register a legacy system (JSON document)", 1, 1, migration_register, 0, 0 },
        { "list", "[--department DEPT]", "List the legacy systems you may see", 0, 0, migration_list,
          CTL_OPT_DEPARTMENT, 0 },
        { "show", "ID", "Show a legacy system", 1, 1, migration_show, 0, 0 },
        { "update", "ID FILE", "Replace a legacy system's registration", 2, 2, migration_update, 0, 0 },
        { "transition", "ID STATE [--reason TEXT]", "Move a legacy system to another state", 2, 2,
          migration_transition, CTL_OPT_REASON, 0 },
        { "decommission", "ID [keep-disks|remove-disks]",
          "Confirm a moved system's decommission: undefine its source domains (the operator)", 1, 2,
          migration_decommission, 0, 0 },
        { "assess", "ID", "Read the source VMs through libvirt", 1, 1, migration_assess, 0, 0 },
        { "run", "ID", "Move the planned system's VMs, with a progress bar (^C detaches)", 1, 1,
          migration_run, 0, 0 },
        { "watch", "ID", "Re-attach to a move under way and follow it to its end", 1, 1, migration_watch, 0,
          0 },
        { "plan", "ID FILE", "Plan the move and run the pre-flight (JSON document)", 2, 2, migration_plan, 0,
          0 },
};

const CtlGroup ctl_group_migration = {
        .name = "migration",
        .summary = "The legacy register: systems to move onto the municipal cloud (Art. 35)",
        .commands = migration_commands,
        .n_commands = ELEMENTSOF(migration_commands),
};
