/* SPDX-License-Identifier: Apache-2.0 */
/* cloudbrokerctl approval sign: the authority's side of a signed approval. */
#include <getopt.h>
#include <stdio.h>

#include "ctl-util.h"
#include "error.h"
#include "signature.h"

static int approval_sign(Ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },
                { "key-id", required_argument, NULL, 'i' },
                { "alg", required_argument, NULL, 'a' },
                { NULL, 0, NULL, 0 },
        };
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *doc = NULL;
        const char *key = NULL, *key_id = NULL, *alg = NULL;
        json_t *env = NULL;
        int c, r;
        (void)ctl;

        /* argv[0] is the first argument of the command: let getopt see it. */
        optind = 0;
        while ((c = getopt_long(argc + 1, argv - 1, "+", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        key = optarg;
                        break;
                case 'i':
                        key_id = optarg;
                        break;
                case 'a':
                        alg = optarg;
                        break;
                default:
                        return ctl_error(-EINVAL,
                                         "usage: approval sign --key PRIVATE.pem --key-id ID DOCUMENT.json");
                }
        if (!key || !key_id || optind != argc)
                return ctl_error(-EINVAL, "usage: approval sign --key PRIVATE.pem --key-id ID DOCUMENT.json");

        r = ctl_read_file(argv[optind - 1], &doc);
        if (r < 0)
                return r;
        /* The document is signed byte for byte as it is in the file. */
        r = envelope_sign(alg, key_id, key, doc, strlen(doc), &env, &err);
        if (r < 0)
                return ctl_error(r, "%s", err.message);
        r = ctl_print_json(env);
        json_decref(env);
        return r;
}

static const CtlCommand approval_commands[] = {
        { "sign", "--key PRIVATE.pem --key-id ID DOCUMENT.json",
          "Sign an approval document; prints the envelope to POST to /v1/approvals", 3, 6, approval_sign },
};

const CtlGroup ctl_group_approval = {
        .name = "approval",
        .summary = "Signed project approvals (the authority's side)",
        .commands = approval_commands,
        .n_commands = ELEMENTSOF(approval_commands),
};
