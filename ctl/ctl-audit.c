/* SPDX-License-Identifier: Apache-2.0 */
/* cloudbrokerctl audit list|verify: the trail through the daemon
 * (org.cloudbroker.Broker1.Audit), and verify --db PATH [--anchor SEQ:HASH]
 * offline: recompute the chain of a database file, and check it still holds
 * an anchored record. */
#include <stdio.h>
#include <sys/stat.h>

#include "audit.h"
#include "ctl-util.h"
#include "store.h"

#define AUDIT CTL_INTERFACE("Audit")

/* Exit 0 only when the chain holds: a broken one is a failure (1). */
static int print_verification(Ctl *ctl, const json_t *result) {
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
        return json_is_true(json_object_get(result, "ok")) ? 0 : -EBADMSG;
}

/* With --db: the file, offline, no daemon asked. */
static int audit_verify_offline(Ctl *ctl) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(store_freep) Store *s = NULL;
        const char *db = ctl->db, *anchor_s = ctl->anchor;
        AuditAnchor anchor;
        json_t *result = NULL;
        struct stat st;
        int r;

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

        r = print_verification(ctl, result);
        json_decref(result);
        return r;
}

/* Without --db: the daemon verifies (Audit.Verify, GET /v1/audit/verify). */
static int audit_verify_cmd(Ctl *ctl, int argc, char **argv) {
        json_auto_t *result = NULL;
        int r;

        (void)argc, (void)argv;
        if (ctl->db)
                return audit_verify_offline(ctl);
        r = ctl_call_json(ctl, AUDIT, "Verify", &result, "s", ctl->anchor ? ctl->anchor : "");
        if (r < 0)
                return r;
        return print_verification(ctl, result);
}

static int audit_list_cmd(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "SEQ", "AT", "PRINCIPAL", "ACTION", "OBJECT", "OUTCOME" };
        static const char *const members[] = { "seq", "at", "principal", "action", "object", "outcome" };
        json_auto_t *list = NULL;
        int r;

        (void)argc, (void)argv;
        r = ctl_call_json(ctl, AUDIT, "ListRecords", &list, "xu", ctl->after,
                          ctl->given & CTL_OPT_LIMIT ? ctl->limit : 1000u);
        if (r < 0)
                return r;
        return ctl_print_list(ctl, list, ELEMENTSOF(headers), headers, members);
}

static const CtlCommand audit_commands[] = {
        { "list", "[--after SEQ] [--limit N]",
          "List audit records after SEQ, oldest first (auditors, authority)", 0, 0, audit_list_cmd,
          CTL_OPT_AFTER | CTL_OPT_LIMIT, 0 },
        { "verify", "[--db PATH] [--anchor SEQ:HASH]",
          "Recompute the audit chain (with --db: of a database file, offline)", 0, 0, audit_verify_cmd,
          CTL_OPT_DB | CTL_OPT_ANCHOR, 0 },
};

const CtlGroup ctl_group_audit = {
        .name = "audit",
        .summary = "The audit trail",
        .commands = audit_commands,
        .n_commands = ELEMENTSOF(audit_commands),
};
