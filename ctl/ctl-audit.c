/* SPDX-License-Identifier: Apache-2.0 */
/* cloudbrokerctl audit list|verify: the trail through the daemon
 * (org.cloudbroker.Broker1.Audit), and verify --db PATH [--key PUB.pem]...
 * [--anchor SEQ:HASH] offline: recompute the chain of a database file,
 * check every checkpoint against the daemon's public key (which auditors
 * hold), and that the trail still holds an anchored record. */
#include <stdio.h>
#include <sys/stat.h>

#include "audit.h"
#include "ctl-util.h"
#include "signature.h"
#include "store.h"

#define AUDIT CTL_INTERFACE("Audit")

/* Exit 0 only when the chain holds: a broken one is a failure (1). */
static int print_verification(Ctl *ctl, const json_t *result) {
        const char *sigs = json_string_value(json_object_get(result, "signatures"));
        if (ctl->json)
                ctl_print_json(result);
        else if (json_is_true(json_object_get(result, "ok"))) {
                printf("audit chain intact: %lld records, head %s\nanchor: %lld:%s\n",
                       (long long)json_integer_value(json_object_get(result, "records")),
                       json_string_value(json_object_get(result, "head")),
                       (long long)json_integer_value(json_object_get(result, "head_seq")),
                       json_string_value(json_object_get(result, "head")));
                if (streq(sigs, "verified"))
                        printf("checkpoints: %lld, every signature verified; signed through record %lld\n",
                               (long long)json_integer_value(json_object_get(result, "checkpoints")),
                               (long long)json_integer_value(json_object_get(result, "signed_seq")));
                else if (streq(sigs, "none"))
                        printf("UNSIGNED: the trail has no checkpoints; whoever can write the database could "
                               "have rewritten it\n");
                else
                        printf("checkpoints: %lld, NOT CHECKED: give the daemon's public key with --key\n",
                               (long long)json_integer_value(json_object_get(result, "checkpoints")));
        } else {
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
        _cleanup_(store_freep) Store *s = NULL;
        SigKey *keys[CTL_KEYS_MAX] = { NULL };
        CbError err = CB_ERROR_INIT;
        json_auto_t *result = NULL;
        AuditVerifyResult v;
        AuditAnchor anchor;
        struct stat st;
        size_t n = 0;
        int r;

        if (ctl->anchor && audit_anchor_parse(ctl->anchor, &anchor) < 0)
                return ctl_error(-EINVAL,
                                 "--anchor: '%s' is not SEQ:HASH (a record number and its 64 hex digits)",
                                 ctl->anchor);
        /* Opening would create an empty database: a typo must not verify as "ok". */
        if (stat(ctl->db, &st) < 0)
                return ctl_error(-errno, "%s: %s", ctl->db, strerror(errno));
        for (; n < ctl->n_keys; n++) {
                r = sig_key_load_public(ctl->keys[n], &keys[n], &err);
                if (r < 0) {
                        r = ctl_error(r, "--key: %s", err.message);
                        goto out;
                }
        }
        r = store_open(ctl->db, &s, &err);
        if (r >= 0)
                r = audit_verify(s,
                                 &(AuditVerifyOptions){ .anchor = ctl->anchor ? &anchor : NULL,
                                                        .keys = (const SigKey *const *)keys,
                                                        .n_keys = n },
                                 &v, &err);
        if (r < 0)
                r = ctl_error(r, "%s", err.message);
        else if (!(result = audit_verify_result_to_json(&v)))
                r = ctl_error(-ENOMEM, "out of memory");
        else
                r = print_verification(ctl, result);
out:
        cb_error_clear(&err);
        for (size_t i = 0; i < n; i++)
                sig_key_free(keys[i]);
        return r;
}

/* The daemon's checkpoint key, made once: the private half to FILE (0600,
 * never over an existing one), the public half, for auditors, to stdout.
 * Local, like verify --db: no daemon is involved. */
static int audit_keygen_cmd(Ctl *ctl, int argc, char **argv) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *pub = NULL;
        int r;

        (void)argc;
        r = sig_key_generate(ctl->alg ? ctl->alg : "ed25519", argv[0], &pub, &err);
        if (r < 0)
                return ctl_error(r, "%s", err.message);
        fputs(pub, stdout);
        return fflush(stdout) == 0 ? 0 : ctl_error(-EIO, "cannot write the public key");
}

/* Without --db: the daemon verifies (Audit.Verify, GET /v1/audit/verify)
 * with its own key. */
static int audit_verify_cmd(Ctl *ctl, int argc, char **argv) {
        json_auto_t *result = NULL;
        int r;

        (void)argc, (void)argv;
        if (ctl->db)
                return audit_verify_offline(ctl);
        if (ctl->n_keys > 0)
                return ctl_error(-EINVAL, "--key goes with --db: the daemon checks with its own key");
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
        { "keygen", "[--alg ed25519|sm2-sm3] PRIVATE.pem",
          "Make the daemon's checkpoint key: the private key to PRIVATE.pem (mode 0600, never replaced), "
          "the public key, for auditors, to standard output",
          1, 1, audit_keygen_cmd, CTL_OPT_ALG, 0 },
        { "list", "[--after SEQ] [--limit N]",
          "List audit records after SEQ, oldest first (auditors, authority)", 0, 0, audit_list_cmd,
          CTL_OPT_AFTER | CTL_OPT_LIMIT, 0 },
        { "verify", "[--anchor SEQ:HASH] [--db PATH [--key PUB.pem]...]",
          "Recompute the audit chain and check its signed checkpoints (with --db: a database file, offline)",
          0, 0, audit_verify_cmd, CTL_OPT_DB | CTL_OPT_ANCHOR | CTL_OPT_KEY, 0 },
};

const CtlGroup ctl_group_audit = {
        .name = "audit",
        .summary = "The audit trail",
        .commands = audit_commands,
        .n_commands = ELEMENTSOF(audit_commands),
};
