/* SPDX-License-Identifier: Apache-2.0 */
/* cloudbrokerctl audit verify --db PATH [--anchor SEQ:HASH]: recompute the
 * audit chain offline, and check it still holds an anchored record. */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "audit.h"
#include "ctl-util.h"
#include "store.h"

static int audit_verify_cmd(Ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "db", required_argument, NULL, 'd' },
                { "anchor", required_argument, NULL, 'a' },
                { NULL, 0, NULL, 0 },
        };
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_freep) Store *s = NULL;
        const char *db = NULL, *anchor_s = NULL;
        AuditAnchor anchor;
        json_t *result = NULL;
        struct stat st;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc + 1, argv - 1, "+", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        db = optarg;
                        break;
                case 'a':
                        anchor_s = optarg;
                        break;
                default:
                        return ctl_error(-EINVAL, "usage: audit verify --db PATH [--anchor SEQ:HASH]");
                }
        if (!db || optind != argc + 1)
                return ctl_error(-EINVAL, "usage: audit verify --db PATH [--anchor SEQ:HASH]");
        if (anchor_s && audit_anchor_parse(anchor_s, &anchor) < 0)
                return ctl_error(-EINVAL,
                                 "--anchor: '%s' is not SEQ:HASH (a record number and its 64 hex digits)",
                                 anchor_s);
        /* Opening would create an empty database: a typo must not verify as "ok". */
        if (stat(db, &st) < 0)
                return ctl_error(-errno, "%s: %s", db, strerror(errno));

        r = store_open(db, &s, &err);
        if (r < 0)
                return ctl_error(r, "%s", err.message);
        r = audit_verify_chain(s, anchor_s ? &anchor : NULL, &result, &err);
        if (r < 0)
                return ctl_error(r, "%s", err.message);

        if (ctl->json)
                ctl_print_json(result);
        else if (json_is_true(json_object_get(result, "ok")))
                printf("audit chain intact: %lld records, head %s\nanchor: %lld:%s\n",
                       (long long)json_integer_value(json_object_get(result, "records")),
                       json_string_value(json_object_get(result, "head")),
                       (long long)json_integer_value(json_object_get(result, "head_seq")),
                       json_string_value(json_object_get(result, "head")));
        else {
                const json_t *bad = json_object_get(result, "first_bad");
                printf("audit chain BROKEN at record %lld: %s (%s)\n",
                       (long long)json_integer_value(json_object_get(bad, "seq")),
                       json_string_value(json_object_get(bad, "problem")),
                       json_string_value(json_object_get(bad, "message")));
        }
        r = json_is_true(json_object_get(result, "ok")) ? 0 : -EBADMSG;
        json_decref(result);
        return r;
}

static const CtlCommand audit_commands[] = {
        { "verify", "--db PATH [--anchor SEQ:HASH]",
          "Recompute the audit chain of a database file offline; with an anchor, check the record is still "
          "there",
          2, 4, audit_verify_cmd },
};

const CtlGroup ctl_group_audit = {
        .name = "audit",
        .summary = "The audit trail",
        .commands = audit_commands,
        .n_commands = ELEMENTSOF(audit_commands),
};
