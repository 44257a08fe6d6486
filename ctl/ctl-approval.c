/* SPDX-License-Identifier: Apache-2.0 */
/* cloudbrokerctl approval ...: signing (the authority's side, offline) and
 * importing, listing and showing approvals (org.cloudbroker.Broker1.Approvals). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl-util.h"
#include "error.h"
#include "signature.h"

static int approval_sign(Ctl *ctl, int argc, char **argv) {
        _cleanup_(cb_error_clear) CbError err = CB_ERROR_INIT;
        _cleanup_(freep) char *doc = NULL;
        json_t *env = NULL;
        int r;

        (void)argc;
        if (ctl->n_keys > 1)
                return ctl_error(-EINVAL, "approval sign takes one --key");
        r = ctl_read_file(argv[0], &doc);
        if (r < 0)
                return r;
        /* The document is signed byte for byte as it is in the file. */
        r = envelope_sign(ctl->alg, ctl->key_id, ctl->key, doc, strlen(doc), &env, &err);
        if (r < 0)
                return ctl_error(r, "%s", err.message);
        r = ctl_print_json(env);
        json_decref(env);
        return r;
}

#define APPROVALS CTL_INTERFACE("Approvals")

static int approval_import(Ctl *ctl, int argc, char **argv) {
        _cleanup_(freep) char *text = NULL;
        json_auto_t *out = NULL;
        int r;

        (void)argc;
        /* The envelope travels byte for byte: its signature covers the document. */
        r = ctl_read_file(argv[0], &text);
        if (r < 0)
                return r;
        r = ctl_call_json(ctl, APPROVALS, "ImportApproval", &out, "s", text);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(out);
        printf("%s: approval %s accepted as revision %lld\n", ctl_json_str(out, "project_id", "?"),
               ctl_json_str(out, "approval_no", "?"),
               (long long)json_integer_value(json_object_get(out, "revision")));
        return 0;
}

static int approval_list(Ctl *ctl, int argc, char **argv) {
        static const char *const headers[] = { "REVISION", "APPROVAL", "KEY", "RECEIVED", "BY" };
        static const char *const members[] = { "revision", "approval_no", "key_id", "received_at",
                                               "received_by" };
        static const char *const all_headers[] = { "PROJECT",  "REVISION", "APPROVAL",
                                                   "IN FORCE", "RECEIVED", "BY" };
        static const char *const all_members[] = { "project_id", "revision",    "approval_no",
                                                   "in_force",   "received_at", "received_by" };
        json_auto_t *list = NULL;
        int r;

        /* Without a project: every approval the caller may read, page by page. */
        if (argc == 0) {
                r = ctl_call_pages(ctl, APPROVALS, "ListAllApprovals", ctl->department ? ctl->department : "",
                                   &list);
                if (r < 0)
                        return r;
                return ctl_print_list(ctl, list, ELEMENTSOF(all_headers), all_headers, all_members);
        }
        if (ctl->department)
                return ctl_error(-EINVAL, "--department lists every project's approvals: give no PROJECT");
        r = ctl_call_json(ctl, APPROVALS, "ListApprovals", &list, "s", argv[0]);
        if (r < 0)
                return r;
        return ctl_print_list(ctl, list, ELEMENTSOF(headers), headers, members);
}

static int approval_show(Ctl *ctl, int argc, char **argv) {
        json_auto_t *doc = NULL;
        unsigned long revision = 0;
        char *end;
        int r;

        if (ctl->number) {
                if (argc > 0)
                        return ctl_error(-EINVAL, "--number names the approval: give no PROJECT");
                r = ctl_call_json(ctl, APPROVALS, "GetApprovalByNumber", &doc, "s", ctl->number);
                if (r < 0)
                        return r;
                if (ctl->json)
                        return ctl_print_json(doc);
                ctl_print_fields(doc);
                return 0;
        }
        if (argc == 0)
                return ctl_error(-EINVAL, "give a PROJECT, or --number NO");

        if (argc > 1) {
                errno = 0;
                revision = strtoul(argv[1], &end, 10);
                if (errno || *end || end == argv[1] || revision == 0 || revision > UINT32_MAX)
                        return ctl_error(-EINVAL, "'%s' is not a revision number", argv[1]);
        }
        r = ctl_call_json(ctl, APPROVALS, "GetApproval", &doc, "su", argv[0], (uint32_t)revision);
        if (r < 0)
                return r;
        if (ctl->json)
                return ctl_print_json(doc);
        ctl_print_fields(doc);
        return 0;
}

static const CtlCommand approval_commands[] = {
        { "sign", "--key PRIVATE.pem --key-id ID DOCUMENT.json",
          "Sign an approval document; prints the envelope to import", 1, 1, approval_sign,
          CTL_OPT_KEY | CTL_OPT_KEY_ID | CTL_OPT_ALG, CTL_OPT_KEY | CTL_OPT_KEY_ID },
        { "import", "FILE", "Import a signed approval envelope (POST /v1/approvals)", 1, 1, approval_import,
          0, 0 },
        { "list", "[PROJECT] [--department DEPT]",
          "List a project's approval revisions, or every approval you may read", 0, 1, approval_list,
          CTL_OPT_DEPARTMENT, 0 },
        { "show", "PROJECT [REVISION] | --number NO",
          "Show the approval in force, a revision, or the approval with a number", 0, 2, approval_show,
          CTL_OPT_NUMBER, 0 },
};

const CtlGroup ctl_group_approval = {
        .name = "approval",
        .summary = "Signed project approvals",
        .commands = approval_commands,
        .n_commands = ELEMENTSOF(approval_commands),
};
