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
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "macro.h"

#define CTL_BUS_NAME        "org.cloudbroker.Broker1"
#define CTL_BUS_PATH        "/org/cloudbroker/Broker1"
#define CTL_INTERFACE(area) "org.cloudbroker.Broker1." area

#define CTL_EXIT_USAGE 2

typedef struct Ctl {
        const char *bus_address; /* --bus-address; NULL: $CLOUDBROKER_BUS_ADDRESS, else the system bus */
        bool json;               /* --json: raw documents instead of tables */
        bool all;                /* --all: every status, not only what is in force */
        sd_bus *bus;             /* connected on first use */
} Ctl;

typedef int (*CtlHandler)(Ctl *ctl, int argc, char **argv);

typedef struct CtlCommand {
        const char *name;
        const char *args; /* for usage, e.g. "ID FILE"; "" when none */
        const char *summary;
        unsigned min_args, max_args;
        CtlHandler run;
} CtlCommand;

typedef struct CtlGroup {
        const char *name;
        const char *summary;
        const CtlCommand *commands;
        size_t n_commands;
} CtlGroup;

/* Prints "cloudbrokerctl: " and the message to stderr; returns r, or
 * -EINVAL when r is not negative, so a handler can `return ctl_error(...)`. */
int ctl_error(int r, const char *fmt, ...) _printf_(2, 3);

/* The connection, opened on first use; prints why when it cannot. */
int ctl_bus(Ctl *ctl, sd_bus **ret);
void ctl_done(Ctl *ctl);

/* Calls a method of /org/cloudbroker/Broker1. On a D-Bus error prints
 * "cloudbrokerctl: NAME: MESSAGE" and returns a negative errno. */
int ctl_call(Ctl *ctl, const char *interface, const char *method, sd_bus_message **ret_reply,
             const char *types, ...);
/* The same, for methods answering one JSON string; parses it. */
int ctl_call_json(Ctl *ctl, const char *interface, const char *method, json_t **ret, const char *types, ...);

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
CtlTable *ctl_table_free(CtlTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(CtlTable *, ctl_table_free);
