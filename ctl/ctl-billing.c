/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl billing ...: the month's statement through
 * org.cloudbroker.Broker1.Billing, written out as the daemon made it (the
 * same bytes as GET /v1/billing/statements/{period}), and a summary per
 * department.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl-util.h"

#define BILLING CTL_INTERFACE("Billing")

/* The statement's text as the daemon sent it; *ret borrowed from *ret_reply. */
static int get_statement(Ctl *ctl, const char *format, sd_bus_message **ret_reply, const char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = ctl_call(ctl, BILLING, "GetStatement", &reply, "sa{sv}", ctl->period, 3, "format", "s", format,
                     "department", "s", ctl->department ? ctl->department : "", "excel", "b",
                     (int)ctl->excel);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", ret);
        if (r < 0)
                return ctl_error(r, "unexpected reply to GetStatement: %s", strerror(-r));
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

static int write_out(const char *path, const char *text) {
        FILE *f;
        size_t n = strlen(text);

        if (!path)
                return fwrite(text, 1, n, stdout) == n ? 0 : ctl_error(-EIO, "cannot write the statement");
        f = fopen(path, "we");
        if (!f)
                return ctl_error(-errno, "cannot create %s: %s", path, strerror(errno));
        if (fwrite(text, 1, n, f) != n || fclose(f) != 0)
                return ctl_error(-EIO, "cannot write %s", path);
        return 0;
}

static int billing_statement(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *text;
        int r;

        (void)argc, (void)argv;
        r = get_statement(ctl, ctl->format ? ctl->format : "json", &reply, &text);
        if (r < 0)
                return r;
        return write_out(ctl->out, text);
}

/* Counts the lines of a statement as its bytes pass: a CSV line ends in
 * LF (the header is one more), a JSON line has one "funding" member. */
typedef struct LineCounter {
        bool csv;
        char tail[16]; /* the last bytes of the previous chunk, for a match across two */
        size_t n_tail;
        long long lines;
} LineCounter;

static void count_lines(LineCounter *lc, const char *p, size_t n) {
        static const char key[] = "\"funding\":\"";
        char joined[16 + 4096];
        size_t k;

        if (lc->csv) {
                for (size_t i = 0; i < n; i++)
                        lc->lines += p[i] == '\n';
                return;
        }
        for (size_t off = 0; off < n; off += k) {
                size_t len;
                k = n - off < 4096 ? n - off : 4096;
                memcpy(joined, lc->tail, lc->n_tail);
                memcpy(joined + lc->n_tail, p + off, k);
                len = lc->n_tail + k;
                for (const char *q = joined;
                     (q = memmem(q, (size_t)(joined + len - q), key, sizeof(key) - 1)); q += sizeof(key) - 1)
                        lc->lines++;
                lc->n_tail = len < sizeof(key) - 2 ? len : sizeof(key) - 2;
                memcpy(lc->tail, joined + len - lc->n_tail, lc->n_tail);
        }
}

static void progress(long long lines, long long hint, unsigned long long bytes, bool last) {
        const int width = 30;
        long long done = hint > 0 ? (lines > hint ? hint : lines) : 0;
        int cells = hint > 0 ? (int)(done * width / hint) : 0;
        char b[width + 1];

        if (last && hint > 0)
                cells = width;
        for (int i = 0; i < width; i++)
                b[i] = i < cells ? '#' : '.';
        b[width] = 0;
        fprintf(stderr, "\r[%s] %lld of at most %lld lines, %.1f MiB%s", b, lines, hint,
                (double)bytes / (1024.0 * 1024.0), last ? "\n" : "");
        fflush(stderr);
}

/* billing export: the statement through a pipe the daemon writes into
 * (ExportStatement), so that a big month is never one D-Bus message; a
 * progress bar on a terminal while it comes. */
static int billing_export(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *format = ctl->format ? ctl->format : "json";
        LineCounter lc = { .csv = streq(format, "csv") };
        unsigned long long bytes = 0;
        long long hint = 0;
        bool show;
        FILE *f;
        int fd, r;

        (void)argc, (void)argv;
        r = ctl_call(ctl, BILLING, "ExportStatement", &reply, "sa{sv}", ctl->period, 3, "format", "s", format,
                     "department", "s", ctl->department ? ctl->department : "", "excel", "b",
                     (int)ctl->excel);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "h", &fd);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "{ss}");
        while (r >= 0) {
                const char *k, *v;
                r = sd_bus_message_read(reply, "{ss}", &k, &v);
                if (r <= 0)
                        break;
                if (streq(k, "lines_hint"))
                        hint = atoll(v);
        }
        if (r < 0)
                return ctl_error(r, "unexpected reply to ExportStatement: %s", strerror(-r));
        f = ctl->out ? fopen(ctl->out, "we") : stdout;
        if (!f)
                return ctl_error(-errno, "cannot create %s: %s", ctl->out, strerror(errno));
        /* The bar goes to a terminal only, and never into the file itself. */
        show = ctl->out && isatty(STDERR_FILENO);
        /* The reply owns fd; it is blocking for the client whatever the daemon set. */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        for (;;) {
                char buf[65536];
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = ctl_error(-errno, "cannot read the statement: %s", strerror(errno));
                        break;
                }
                if (n == 0)
                        break;
                if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
                        r = ctl_error(-EIO, "cannot write %s", ctl->out ? ctl->out : "the statement");
                        break;
                }
                bytes += (unsigned long long)n;
                count_lines(&lc, buf, (size_t)n);
                if (show)
                        progress(lc.csv && lc.lines > 0 ? lc.lines - 1 : lc.lines, hint, bytes, false);
        }
        if (show && r >= 0)
                progress(lc.csv && lc.lines > 0 ? lc.lines - 1 : lc.lines, hint, bytes, true);
        {
                bool closed_ok = f == stdout ? fflush(stdout) == 0 : fclose(f) == 0;
                if (!closed_ok && r >= 0)
                        r = ctl_error(-EIO, "cannot write %s", ctl->out ? ctl->out : "the statement");
        }
        return r < 0 ? r : 0;
}

/* A bar of width cells for part of whole, in eighths of a cell. */
static void bar(char *buf, size_t size, long long part, long long whole, int width) {
        static const char *const eighths[] = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };
        long long e = whole > 0 ? part * width * 8 / whole : 0;
        size_t n = 0;

        buf[0] = 0;
        for (long long i = 0; i < e / 8 && n + 4 < size; i++)
                n += (size_t)snprintf(buf + n, size - n, "█");
        if (e % 8 && n + 4 < size)
                snprintf(buf + n, size - n, "%s", eighths[e % 8]);
}

static int billing_summary(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "DEPARTMENT", "LINES",    "AMOUNT",
                                               "PAY",        "WITHHOLD", "PAY|WITHHOLD" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(ctl_table_freep) CtlTable *t = NULL;
        json_auto_t *doc = NULL;
        const json_t *totals, *d;
        const char *text;
        long long most = 0;
        size_t i;
        int r;

        (void)argc, (void)argv;
        if (ctl->excel || ctl->format || ctl->out)
                return ctl_error(-EINVAL, "billing summary takes --period and --department only");
        r = get_statement(ctl, "json", &reply, &text);
        if (r < 0)
                return r;
        doc = json_loads(text, 0, NULL);
        if (!doc)
                return ctl_error(-EBADMSG, "the daemon's statement is not JSON");
        totals = json_object_get(doc, "totals");
        if (ctl->json)
                return ctl_print_json(totals);
        json_array_foreach(json_object_get(totals, "departments"), i, d) {
                long long a = json_integer_value(json_object_get(d, "amount_fen"));
                if (a > most)
                        most = a;
        }
        t = ctl_table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return ctl_error(-ENOMEM, "out of memory");
        json_array_foreach(json_object_get(totals, "departments"), i, d) {
                char lines[32], amount[32], pay[32], withhold[32], pbar[128], wbar[128], both[300];
                long long p = json_integer_value(json_object_get(d, "pay_fen"));
                long long w = json_integer_value(json_object_get(d, "withhold_fen"));
                snprintf(lines, sizeof(lines), "%lld",
                         (long long)json_integer_value(json_object_get(d, "lines")));
                ctl_format_fen(p + w, amount, sizeof(amount));
                ctl_format_fen(p, pay, sizeof(pay));
                ctl_format_fen(w, withhold, sizeof(withhold));
                /* Pay, then withheld, on one scale: the largest department fills 30 cells. */
                bar(pbar, sizeof(pbar), p, most, 30);
                bar(wbar, sizeof(wbar), w, most, 30);
                snprintf(both, sizeof(both), "%s|%s", pbar, wbar);
                if (ctl_table_add(t, (const char *const[]){ ctl_json_str(d, "department", "-"), lines, amount,
                                                            pay, withhold, both }) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
        }
        ctl_table_print(t, stdout);
        {
                char amount[32], pay[32], withhold[32];
                ctl_format_fen(json_integer_value(json_object_get(totals, "amount_fen")), amount,
                               sizeof(amount));
                ctl_format_fen(json_integer_value(json_object_get(totals, "pay_fen")), pay, sizeof(pay));
                ctl_format_fen(json_integer_value(json_object_get(totals, "withhold_fen")), withhold,
                               sizeof(withhold));
                printf("%s total %s yuan: pay %s, withhold %s\n", ctl_json_str(doc, "period", "?"), amount,
                       pay, withhold);
        }
        return 0;
}

static int billing_close(Ctl *ctl, int argc, char **argv) {
        json_auto_t *rec = NULL;
        const json_t *f;
        size_t i;
        int r;

        (void)argc, (void)argv;
        /* The daemon renders and signs the whole month before it answers. */
        ctl->call_timeout_usec = 30ULL * 60 * 1000000;
        r = ctl_call_json(ctl, BILLING, "CloseStatement", &rec, "s", ctl->period);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(rec);
        printf("%s: closed at %s by %s, signed %s key %s\n", ctl_json_str(rec, "period", "?"),
               ctl_json_str(rec, "closed_at", "?"), ctl_json_str(rec, "closed_by", "?"),
               ctl_json_str(rec, "alg", "?"), ctl_json_str(rec, "key_id", "?"));
        json_array_foreach(json_object_get(rec, "files"), i, f) {
                const char *d = ctl_json_str(f, "department", "");
                printf("  %-12s %-4s sm3 %s\n", *d ? d : "(all)", ctl_json_str(f, "format", "?"),
                       ctl_json_str(f, "sm3", "?"));
        }
        return 0;
}

static int billing_adjust(Ctl *ctl, int argc, char **argv) {
        json_auto_t *doc = NULL, *out = NULL;
        char *end;
        long long fen;
        int r;

        (void)argc;
        errno = 0;
        fen = strtoll(argv[1], &end, 10);
        if (errno != 0 || end == argv[1] || *end)
                return ctl_error(-EINVAL, "AMOUNT_FEN '%s' is not an integer (fen, may be negative)",
                                 argv[1]);
        doc = json_pack("{s:s, s:I, s:s}", "project_id", argv[0], "amount_fen", (json_int_t)fen, "reason",
                        ctl->reason);
        if (!doc)
                return ctl_error(-EINVAL, "the arguments must be UTF-8 text");
        r = ctl_call_dict_json(ctl, BILLING, "AddAdjustment", ctl->period, doc, &out);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(out);
        printf("%s: %s fen for %s, %s (needs the other signature)\n", ctl_json_str(out, "id", "?"), argv[1],
               argv[0], ctl_json_str(out, "status", "?"));
        return 0;
}

static int billing_approve(Ctl *ctl, int argc, char **argv) {
        json_auto_t *out = NULL;
        int r;

        (void)argc;
        r = ctl_call_json(ctl, BILLING, "ApproveAdjustment", &out, "ss", ctl->period, argv[0]);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(out);
        printf("%s: %s\n", argv[0], ctl_json_str(out, "status", "?"));
        return 0;
}

static int billing_adjustments(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = {
                "ID", "DEPARTMENT", "PROJECT", "AMOUNT_FEN", "STATUS", "REASON"
        };
        static const char *const members[] = { "id",         "department", "project_id",
                                               "amount_fen", "status",     "reason" };
        json_auto_t *out = NULL;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_json(ctl, BILLING, "ListAdjustments", &out, "s", ctl->period);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(out);
        return ctl_print_list(ctl, json_object_get(out, "adjustments"), ELEMENTSOF(headers), headers,
                              members);
}

typedef struct Watch {
        unsigned seen;
} Watch;

static int on_budget_alert(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Watch *w = userdata;
        const char *project, *kind, *text;
        uint32_t threshold;
        (void)error;
        if (sd_bus_message_read(m, "ssus", &project, &kind, &threshold, &text) < 0)
                return 0;
        printf("%s\n", text);
        fflush(stdout);
        w->seen++;
        return 0;
}

/* Budget alerts as they are raised, one JSON document a line; the daemon
 * sends them to this connection only (SubscribeBudgetAlerts), and only
 * those of projects the caller may read. --limit N: stop after N. */
static int billing_watch_budget(Ctl *ctl, int argc, char **argv) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        Watch w = { 0 };
        sd_bus *bus;
        int r;

        (void)argc, (void)argv;
        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, &slot, NULL, CTL_BUS_PATH, BILLING, "BudgetAlert", on_budget_alert, &w);
        if (r < 0)
                return ctl_error(r, "cannot watch BudgetAlert: %s", strerror(-r));
        r = ctl_call(ctl, BILLING, "SubscribeBudgetAlerts", NULL, "");
        if (r < 0)
                return r;
        while (ctl->limit == 0 || w.seen < ctl->limit) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return ctl_error(r, "lost the bus: %s", strerror(-r));
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0)
                        return ctl_error(r, "lost the bus: %s", strerror(-r));
        }
        return 0;
}

static const CtlCommand billing_commands[] = {
        { "statement", "--period YYYY-MM [--format json|csv] [--excel] [--department DEPT] [--out FILE]",
          "The month's statement as the daemon makes it (CST calendar month)", 0, 0, billing_statement,
          CTL_OPT_PERIOD | CTL_OPT_FORMAT | CTL_OPT_EXCEL | CTL_OPT_DEPARTMENT | CTL_OPT_OUT,
          CTL_OPT_PERIOD },
        { "export", "--period YYYY-MM --format csv|json [--excel] [--department DEPT] [--out FILE]",
          "The same, streamed (a pipe, not one message), with a progress bar on a terminal", 0, 0,
          billing_export, CTL_OPT_PERIOD | CTL_OPT_FORMAT | CTL_OPT_EXCEL | CTL_OPT_DEPARTMENT | CTL_OPT_OUT,
          CTL_OPT_PERIOD | CTL_OPT_FORMAT },
        { "close", "--period YYYY-MM", "Freeze and sign an ended month's statement (finance)", 0, 0,
          billing_close, CTL_OPT_PERIOD, CTL_OPT_PERIOD },
        { "adjust", "--period YYYY-MM PROJECT AMOUNT_FEN --reason TEXT",
          "Propose an adjustment of a closed month (finance or the authority)", 2, 2, billing_adjust,
          CTL_OPT_PERIOD | CTL_OPT_REASON, CTL_OPT_PERIOD | CTL_OPT_REASON },
        { "approve-adjustment", "--period YYYY-MM ID", "Countersign an adjustment (the other of the two)", 1,
          1, billing_approve, CTL_OPT_PERIOD, CTL_OPT_PERIOD },
        { "adjustments", "--period YYYY-MM", "List a month's adjustments", 0, 0, billing_adjustments,
          CTL_OPT_PERIOD, CTL_OPT_PERIOD },
        { "watch-budget", "[--limit N]",
          "Print budget alerts (80 %, 100 %) of the projects you may read as they are raised", 0, 0,
          billing_watch_budget, CTL_OPT_LIMIT, 0 },
        { "summary", "--period YYYY-MM [--department DEPT]",
          "Totals per department, with a bar of pay|withhold each", 0, 0, billing_summary,
          CTL_OPT_PERIOD | CTL_OPT_DEPARTMENT, CTL_OPT_PERIOD },
};

const CtlGroup ctl_group_billing = {
        .name = "billing",
        .summary = "Billing statements for finance",
        .commands = billing_commands,
        .n_commands = ELEMENTSOF(billing_commands),
};
