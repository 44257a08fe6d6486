/* SPDX-License-Identifier: Apache-2.0 */
/* cloudbrokerctl audit verify --db PATH [--key PUB.pem]... [--anchor SEQ:HASH]:
 * recompute the audit chain offline, check every checkpoint against the
 * daemon's public key (which auditors hold), and that the trail still holds
 * an anchored record. */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "audit.h"
#include "signature.h"
#include "ctl-util.h"
#include "store.h"

static int verify(Ctl *ctl, const char *db, const char *anchor_s, const SigKey *const *keys, size_t n_keys,
                  int argc);

static int audit_verify_cmd(Ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "db", required_argument, NULL, 'd' },
                { "anchor", required_argument, NULL, 'a' },
                { "key", required_argument, NULL, 'k' },
                { NULL, 0, NULL, 0 },
        };
        SigKey *keys[8] = { NULL };
        size_t n_keys = 0;
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        const char *db = NULL, *anchor_s = NULL;
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
                case 'k':
                        if (n_keys == ELEMENTSOF(keys)) {
                                r = ctl_error(-E2BIG, "--key: at most %zu keys", ELEMENTSOF(keys));
                                goto out;
                        }
                        r = sig_key_load_public(optarg, &keys[n_keys], &err);
                        if (r < 0) {
                                r = ctl_error(r, "--key: %s", err.message);
                                goto out;
                        }
                        n_keys++;
                        break;
                default:
                        r = ctl_error(-EINVAL,
                                      "usage: audit verify --db PATH [--key PUB.pem]... [--anchor SEQ:HASH]");
                        goto out;
                }
        r = verify(ctl, db, anchor_s, (const SigKey *const *)keys, n_keys, argc);
out:
        for (size_t i = 0; i < n_keys; i++)
                sig_key_free(keys[i]);
        return r;
}

static int verify(Ctl *ctl, const char *db, const char *anchor_s, const SigKey *const *keys, size_t n_keys,
                  int argc) {
        _cleanup_(store_freep) Store *s = NULL;
        CbError err = CB_ERROR_INIT;
        AuditAnchor anchor;
        json_t *result = NULL;
        struct stat st;
        int r;

        if (!db || optind != argc + 1)
                return ctl_error(-EINVAL,
                                 "usage: audit verify --db PATH [--key PUB.pem]... [--anchor SEQ:HASH]");
        if (anchor_s && audit_anchor_parse(anchor_s, &anchor) < 0)
                return ctl_error(-EINVAL,
                                 "--anchor: '%s' is not SEQ:HASH (a record number and its 64 hex digits)",
                                 anchor_s);
        /* Opening would create an empty database: a typo must not verify as "ok". */
        if (stat(db, &st) < 0)
                return ctl_error(-errno, "%s: %s", db, strerror(errno));

        r = store_open(db, &s, &err);
        if (r >= 0)
                r = audit_verify(s,
                                 &(AuditVerifyOptions){ .anchor = anchor_s ? &anchor : NULL,
                                                        .keys = keys,
                                                        .n_keys = n_keys },
                                 &result, &err);
        if (r < 0) {
                r = ctl_error(r, "%s", err.message);
                cb_error_clear(&err);
                return r;
        }

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
        r = json_is_true(json_object_get(result, "ok")) ? 0 : -EBADMSG;
        json_decref(result);
        return r;
}

static const CtlCommand audit_commands[] = {
        { "verify", "--db PATH [--key PUB.pem]... [--anchor SEQ:HASH]",
          "Recompute the audit chain of a database file offline and check its signed checkpoints against "
          "the daemon's public key; with an anchor, check the record is still there",
          2, 20, audit_verify_cmd },
};

const CtlGroup ctl_group_audit = {
        .name = "audit",
        .summary = "The audit trail",
        .commands = audit_commands,
        .n_commands = ELEMENTSOF(audit_commands),
};
