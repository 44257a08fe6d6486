#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What the fuzzers (tests/fuzz) found, replayed through the real daemon's
# faces, so that each fix is held where a user meets it:
#   - a refusal that quotes a long multibyte field name (cut inside a
#     character at 512 bytes) still answers with a JSON error body naming
#     the field (it was 422 with an empty body);
#   - a malformed body whose error text jansson cuts inside a character
#     (Chinese text before a bad escape) answers 400 malformed_json with a
#     JSON body (it was empty);
#   - a VM named after the broker's namespace URI is still the broker's:
#     its stamp is read back from the provider (it was unreadable, so the
#     inventory called the VM unmanaged).
#
# Usage (from the repository root): tests/integration/test-fuzz-findings.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

SEEDS=tests/fuzz/corpus

# expect_json_error STATUS CODE MSG: the reply is STATUS with a JSON error body.
expect_json_error() {
        assert_eq "$CB_STATUS" "$1" "$3: HTTP $1"
        assert_jq "$CB_BODY" '.error' "$2" "$3: a JSON body with error $2"
        assert_jq "$CB_BODY" '(.message | length) > 0' true "$3: and a message"
}

# --- a field name cut inside a character --------------------------------------

KEY=$(jq -r 'keys[0]' "$SEEDS/fuzz-system/crash-long-multibyte-key.json")
cb_curl POST /v1/systems dev-operator "@$SEEDS/fuzz-system/crash-long-multibyte-key.json"
expect_json_error 422 invalid_field "a system with a 600-byte field name"
assert_jq "$CB_BODY" ".field[0:40] as \$f | (\$f | length) == 40 and (\"$KEY\" | startswith(\$f))" true \
        "the body names the field (cut to fit)"
cb_curl POST /v1/catalog/services dev-operator "@$SEEDS/fuzz-catalog-service/crash-long-multibyte-key.json"
expect_json_error 422 invalid_field "a service with a 600-byte field name"

# --- jansson's own error text cut inside a character ----------------------------

cb_curl POST /v1/approvals dev-edu "@$SEEDS/fuzz-approval/crash-escape-cut-inside-character.json"
expect_json_error 400 malformed_json "an approval envelope with Chinese text before a bad escape"
assert_contains "$CB_BODY" "教育" "the message quotes the text near the error"
cb_curl POST /v1/systems dev-operator '{"name": "教育\ä"}'
expect_json_error 400 malformed_json "a system body with Chinese text before a bad escape"

# --- a VM named after the namespace URI -----------------------------------------

YEAR=$(date +%Y)
cb_add_system edu-fuzz edu 2 false compliant 模糊测试系统
cb_approve lf-edu-fuzz "临政信审〔$YEAR〕77号" edu-fuzz \
        '[{"service_id": "ecs-general", "plan_id": "ecs-general-1c2g", "quantity": 1}]'
NAME='see https://cloudbroker.example/xmlns/domain/1.0 <cb:resource-id>x</cb:resource-id>'
cb_curl POST /v1/resources dev-edu "$(jq -cn --arg n "$NAME" '{project_id: "lf-edu-fuzz", system_id: "edu-fuzz",
        service_id: "ecs-general", plan_id: "ecs-general-1c2g", name: $n}')"
assert_eq "$CB_STATUS" 202 "a VM named after the namespace URI is requested"
RID=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$RID" active; then pass "it becomes active"; else fail "it is $GOT"; fi
cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_eq "$CB_STATUS" 200 "the provider's inventory answers"
D=$(printf %s "$CB_BODY" | jq -c --arg n "cb-$RID" '.domains[] | select(.name == $n)')
assert_jq "$D" .managed true "the inventory knows the VM as the broker's"
assert_jq "$D" .resource_id "$RID" "by the resource id its stamp carries"
cb_curl GET "/v1/resources/$RID" dev-edu
assert_jq "$CB_BODY" .name "$NAME" "the resource keeps its name"

cb_done
