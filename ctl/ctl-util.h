/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What every cloudbrokerctl command group shares: the command table types,
 * the bus connection, calling a method and handling its D-Bus error the one
 * way (printed as "cloudbrokerctl: NAME: MESSAGE"), and plain-text output
 * (aligned tables that count display columns, so Chinese names line up).
 *
 * A command group is a file ctl/ctl-<group>.c defining
 * `const CtlGroup ctl_group_<group>` and one line in CTL_GROUPS in ctl.c.
 * A handler gets only its own arguments, already counted against
 * min_args/max_args, and returns 0 or a negative errno after printing why.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "macro.h"

#define CTL_BUS_NAME        "org.cloudbroker.Broker1"
#define CTL_BUS_PATH        "/org/cloudbroker/Broker1"
#define CTL_INTERFACE(area) "org.cloudbroker.Broker1." area

/* Exit status, documented in --help and README.md:
 * 0 done; 1 failed (the daemon refused for another reason, the bus is
 * unreachable, a file is unreadable, the audit chain is broken); 2 the
 * command line is wrong; 4 the daemon answered NotFound or AccessDenied:
 * nothing the caller may see or do there (systemctl's "no such unit"
 * code; the daemon already answers NotFound where a refusal would tell
 * that something exists, so the two are one code). */
#define CTL_KEYS_MAX 8 /* --key may be given this often (audit verify --db) */

#define CTL_EXIT_FAILURE   1
#define CTL_EXIT_USAGE     2
#define CTL_EXIT_NOT_FOUND 4

/* Options a command may take besides the global ones (--json, --bus-address,
 * --no-pager, --no-legend, --help). They are accepted anywhere on the line,
 * before or after the group and the command, like systemctl's and virsh's;
 * a command names the ones it takes, and the ones it needs. */
enum {
        CTL_OPT_ALL = 1u << 0,    /* --all */
        CTL_OPT_KEY = 1u << 1,    /* --key PEM (approval sign: private; audit verify: public, repeatable) */
        CTL_OPT_KEY_ID = 1u << 2, /* --key-id ID */
        CTL_OPT_ALG = 1u << 3,    /* --alg ALG */
        CTL_OPT_IDEMPOTENCY_KEY = 1u << 4, /* --idempotency-key KEY */
        CTL_OPT_DB = 1u << 5,              /* --db PATH */
        CTL_OPT_ANCHOR = 1u << 6,          /* --anchor SEQ:HASH */
        CTL_OPT_DEPARTMENT = 1u << 7,      /* --department DEPT */
        CTL_OPT_AFTER = 1u << 8,           /* --after SEQ */
        CTL_OPT_LIMIT = 1u << 9,           /* --limit N */
        CTL_OPT_BUDGET_YEAR = 1u << 10,    /* --budget-year YEAR */
        CTL_OPT_REASON = 1u << 11,         /* --reason TEXT */
        CTL_OPT_DOMAIN_TYPE = 1u << 12,    /* --domain-type auto|kvm|qemu */
        CTL_OPT_PERIOD = 1u << 13,         /* --period YYYY-MM */
        CTL_OPT_FORMAT = 1u << 14,         /* --format json|csv */
        CTL_OPT_EXCEL = 1u << 15,          /* --excel: CSV with a byte order mark */
        CTL_OPT_OUT = 1u << 16,            /* --out FILE */
        CTL_OPT_NUMBER = 1u << 17,         /* --number NO (approval show: by approval number) */
        CTL_OPT_IMAGE_POOL = 1u << 18,     /* --image-pool POOL */
};

typedef struct Ctl {
        const char *bus_address;    /* --bus-address; NULL: $CLOUDBROKER_BUS_ADDRESS, else the system bus */
        bool json;                  /* --json: raw documents instead of tables */
        uint64_t call_timeout_usec; /* the next calls' D-Bus timeout; 0: sd-bus's default (25 s) */
        bool all;                   /* --all: every status, not only what is in force */
        bool no_legend;             /* --no-legend: tables without their header line */
        unsigned given;             /* CTL_OPT_* seen on the command line */
        const char *key, *key_id, *alg, *idempotency_key, *db, *anchor, *department, *reason, *domain_type;
        const char *period, *format, *out;
        bool excel;
        const char *number;
        const char *image_pool;
        const char *keys[CTL_KEYS_MAX]; /* every --key in order; key is the first */
        size_t n_keys;
        int64_t after;
        unsigned limit, budget_year;
        bool not_found; /* the daemon answered NotFound or AccessDenied (exit 4) */
        sd_bus *bus;    /* connected on first use */
} Ctl;

typedef int (*CtlHandler)(Ctl *ctl, int argc, char **argv);

typedef struct CtlCommand {
        const char *name;
        const char *args; /* for usage, e.g. "ID FILE"; "" when none */
        const char *summary;
        unsigned min_args, max_args; /* positional arguments, options not counted */
        CtlHandler run;
        unsigned options;  /* CTL_OPT_* it takes */
        unsigned required; /* CTL_OPT_* it needs */
} CtlCommand;

typedef struct CtlGroup {
        const char *name;
        const char *summary;
        const CtlCommand *commands;
        size_t n_commands;
        /* A group that is a command itself ("whoami"): commands[0] runs
         * with the group's name and no command word. */
        bool single;
} CtlGroup;

/* Prints "cloudbrokerctl: " and the message to stderr; returns r, or
 * -EINVAL when r is not negative, so a handler can `return ctl_error(...)`. */
int ctl_error(int r, const char *fmt, ...) _printf_(2, 3);

/* The connection, opened on first use; prints why when it cannot. */
int ctl_bus(Ctl *ctl, sd_bus **ret);
void ctl_done(Ctl *ctl);

/* NotFound, AccessDenied or UnknownObject: what exit status 4 reports. */
bool ctl_error_is_not_found(const sd_bus_error *error);

/* Calls a method of /org/cloudbroker/Broker1. On a D-Bus error prints
 * "cloudbrokerctl: NAME: MESSAGE" and returns a negative errno. */
int ctl_call(Ctl *ctl, const char *interface, const char *method, sd_bus_message **ret_reply,
             const char *types, ...);
/* The same, for methods answering one JSON string; parses it. */
int ctl_call_json(Ctl *ctl, const char *interface, const char *method, json_t **ret, const char *types, ...);
/* A method taking [s id,] a{sv} and answering one JSON string: the members
 * of the JSON object doc become the dictionary (string s, boolean b,
 * integer x, real d, array of strings as); anything else is refused here,
 * naming the member. id NULL: no leading argument. */
int ctl_call_dict_json(Ctl *ctl, const char *interface, const char *method, const char *id, const json_t *doc,
                       json_t **ret);
/* The same with a file descriptor and a size after the dictionary (ht),
 * whose data feed() writes while the call is under way: it is called when
 * the pipe takes more and returns 1 for more, 0 when all is written (or
 * the daemon stopped reading; its answer says why), < 0 on failure. */
typedef int (*CtlFeedFn)(void *userdata, int wfd);
int ctl_call_dict_feed(Ctl *ctl, const char *interface, const char *method, const json_t *doc, uint64_t size,
                       CtlFeedFn feed, void *userdata, json_t **ret);
/* A paged list method ([s department,] u limit, s page_token) -> (s items,
 * s next_page_token), followed page by page to the end (bounded): *ret is
 * every item in order. department NULL: the method takes none. */
int ctl_call_pages(Ctl *ctl, const char *interface, const char *method, const char *department, json_t **ret);
/* ctl_read_file() and parse: a JSON object, or an error naming the file. */
int ctl_read_json_object(const char *path, json_t **ret);
/* Prints "label: value" lines for the members of o in document order
 * (what `show` prints without --json); arrays and objects as compact JSON. */
void ctl_print_fields(const json_t *o);
/* Prints a table of the given members of each object in list, with the
 * given headers (one per member); --json prints the list itself. */
int ctl_print_list(Ctl *ctl, const json_t *list, size_t n, const char *const *headers,
                   const char *const *members);

/* Pretty JSON on stdout, UTF-8 as is, keys in document order. */
int ctl_print_json(const json_t *v);

/* Whole file, or standard input for "-", NUL-terminated; refuses NUL bytes
 * and anything over 16 MiB. Prints why on failure. */
int ctl_read_file(const char *path, char **ret);

/* Display columns of a UTF-8 string in a terminal: CJK counts 2. */
size_t ctl_display_width(const char *s);

/* "0.35" from 35 fen; buf of at least 32 bytes. */
const char *ctl_format_fen(long long fen, char *buf, size_t size);

/* Borrowed string member of an object, or def when absent or not a string. */
const char *ctl_json_str(const json_t *o, const char *key, const char *def);

/* An aligned table: headers, then rows of as many cells. Cells are copied. */
typedef struct CtlTable CtlTable;
CtlTable *ctl_table_new(size_t n_columns, const char *const *headers);
int ctl_table_add(CtlTable *t, const char *const *cells);
void ctl_table_print(const CtlTable *t, FILE *f);
/* --no-legend: ctl_table_print() leaves out the header line. */
void ctl_table_set_legend(bool legend);
CtlTable *ctl_table_free(CtlTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(CtlTable *, ctl_table_free);
