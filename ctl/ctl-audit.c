/* SPDX-License-Identifier: Apache-2.0 */
/* cloudbrokerctl audit verify --db PATH: recompute the audit chain offline. */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "audit.h"
#include "ctl-util.h"
#include "store.h"

static int audit_verify_cmd(Ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "db", required_argument, NULL, 'd' },
                { NULL, 0, NULL, 0 },
        };
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_freep) Store *s = NULL;
        const char *db = NULL;
        json_t *result = NULL;
        struct stat st;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc + 1, argv - 1, "+", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        db = optarg;
                        break;
                default:
                        return ctl_error(-EINVAL, "usage: audit verify --db PATH");
                }
        if (!db || optind != argc + 1)
                return ctl_error(-EINVAL, "usage: audit verify --db PATH");
        /* Opening would create an empty database: a typo must not verify as "ok". */
        if (stat(db, &st) < 0)
                return ctl_error(-errno, "%s: %s", db, strerror(errno));

        r = store_open(db, &s, &err);
        if (r < 0)
                return ctl_error(r, "%s", err.message);
        r = audit_verify(s, &result, &err);
        if (r < 0)
                return ctl_error(r, "%s", err.message);

        if (ctl->json)
                ctl_print_json(result);
        else if (json_is_true(json_object_get(result, "ok")))
                printf("audit chain intact: %lld records, head %s\n",
                       (long long)json_integer_value(json_object_get(result, "records")),
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
        { "verify", "--db PATH", "Recompute the audit chain of a database file offline", 2, 2,
          audit_verify_cmd },
};

const CtlGroup ctl_group_audit = {
        .name = "audit",
        .summary = "The audit trail",
        .commands = audit_commands,
        .n_commands = ELEMENTSOF(audit_commands),
};
