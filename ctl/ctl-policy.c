/* SPDX-License-Identifier: Apache-2.0 */

/*
 * cloudbrokerctl policy evaluate FILE: the policy engine's decision for a
 * request, without side effects, through org.cloudbroker.Broker1.Policy
 * (POST /v1/policy/evaluate). Exit 0 when allowed, 1 when denied, so a
 * script may ask before it requests.
 */

#include <stdio.h>

#include "ctl-util.h"

#define POLICY CTL_INTERFACE("Policy")

static int cmd_evaluate(Ctl *ctl, int argc, char **argv) {
        _cleanup_(freep) char *text = NULL;
        json_auto_t *decision = NULL;
        const json_t *violations, *v;
        size_t i;
        int r;

        (void)argc;
        r = ctl_read_file(argv[0], &text);
        if (r < 0)
                return r;
        r = ctl_call_json(ctl, POLICY, "Evaluate", &decision, "s", text);
        if (r < 0)
                return r;
        if (ctl->json)
                ctl_print_json(decision);
        else {
                printf("%s\n", json_is_true(json_object_get(decision, "allowed")) ? "allowed" : "denied");
                violations = json_object_get(decision, "violations");
                json_array_foreach(violations, i, v)
                        printf("  %s (Art. %lld): %s\n", ctl_json_str(v, "code", "?"),
                               (long long)json_integer_value(json_object_get(v, "article")),
                               ctl_json_str(v, "message", ""));
        }
        return json_is_true(json_object_get(decision, "allowed")) ? 0 : -EPERM;
}

static const CtlCommand policy_commands[] = {
        { "evaluate", "FILE", "Ask the policy engine about a request (JSON), without side effects", 1, 1,
          cmd_evaluate, 0, 0 },
};

const CtlGroup ctl_group_policy = {
        .name = "policy",
        .summary = "The policy engine",
        .commands = policy_commands,
        .n_commands = ELEMENTSOF(policy_commands),
};
