#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The test OSB provider's --state FILE (tests/osb-provider/osb-provider.c):
# what it answered is on disk before the answer, so a provider killed with
# SIGKILL and started again on the same file still knows its instances and
# bindings, an operation it had under way ends after the restart, what was
# deleted stays deleted (last_operation 410), a torn last line is cut off
# with a message, and a damaged line before the last refuses the start.
# No daemon: the provider alone, on 127.0.0.1, every process ended by PID.
#
# Usage (from the repository root):
#   tests/integration/test-osb-provider-state.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"

STATE=$CB_TMP/provider-state.jsonl
H=(-u cb:cb-osb-secret -H 'X-Broker-API-Version: 2.17' -H 'Content-Type: application/json')
PBODY='{"service_id": "mysql-rds", "plan_id": "mysql-ha-2c4g-100g", "context": {"platform": "test"}}'
BBODY='{"service_id": "mysql-rds", "plan_id": "mysql-ha-2c4g-100g", "parameters": {"app_name": "a1"}}'
Q='service_id=mysql-rds&plan_id=mysql-ha-2c4g-100g&accepts_incomplete=true'

# v2 METHOD PATH [BODY]: prints the HTTP status; the answer is in $CB_TMP/v2.out
v2() {
        local args=("${H[@]}" -X "$1")
        [ $# -ge 3 ] && args+=(--data-binary "$3")
        curl -sS --max-time 5 -o "$CB_TMP/v2.out" -w '%{http_code}' "${args[@]}" "$OSB_URL/v2/service_instances/$2"
}

# kill9: ends the provider with SIGKILL (no chance to write anything more)
# and reaps it; bounded, SIGKILL cannot be caught.
kill9() {
        kill -KILL "$OSB_PID"
        wait "$OSB_PID" 2>/dev/null || true
}

cb_start_osb_provider --state "$STATE"
assert_eq "$(v2 PUT 'i1?accepts_incomplete=true' "$PBODY")" 201 "provision i1 (synchronous)"
assert_eq "$(v2 PUT 'i1/service_bindings/b1?accepts_incomplete=true' "$BBODY")" 201 "bind b1 to i1"
osb_control '{"async_ms": 600000}' >/dev/null
assert_eq "$(v2 PUT 'i2?accepts_incomplete=true' "$PBODY")" 202 "provision i2 (asynchronous, 10 min)"
c=$(osb_control)
assert_jq "$c" .state_syncs 3 "one fdatasync a change (provision, bind, provision)"
assert_eq "$(wc -l <"$STATE")" 3 "one line a change in the state file"

kill9
cb_start_osb_provider --state "$STATE"
c=$(osb_control)
assert_jq "$c" '[.instances[].id] | sort | join(",")' "i1,i2" "after kill -9 and a restart: both instances known"
assert_jq "$c" '.instances[] | select(.id == "i1") | .binding_ids | join(",")' b1 "... and i1's binding b1"
assert_jq "$c" '.instances[] | select(.id == "i1") | .binding_parameters.b1.app_name' a1 "... with its parameters"
assert_jq "$c" '.instances[] | select(.id == "i1") | .context.platform' test "... and i1's context"
assert_eq "$(v2 GET 'i1/service_bindings/b1')" 200 "GET binding b1 answers after the restart"
assert_jq "$(cat "$CB_TMP/v2.out")" .credentials.username b1 "... with its credentials"
assert_eq "$(v2 PUT 'i1?accepts_incomplete=true' "$PBODY")" 200 "PUT i1 again: 200, it exists (not 201)"
assert_eq "$(v2 GET 'i2/last_operation')" 200 "last_operation of i2 after the restart"
assert_jq "$(cat "$CB_TMP/v2.out")" .state succeeded "... the operation under way ended at the first look"
assert_jq "$(osb_control)" .state_syncs 1 "that ending is a change on disk too (one fdatasync)"

assert_eq "$(v2 DELETE "i1/service_bindings/b1?$Q")" 200 "unbind b1"
assert_jq "$(tail -n 1 "$STATE")" '"\(.event) \(.gone) \(.instance.bindings | length)"' "unbind b1 0" \
        "... the state file's last line: i1 without b1"
assert_eq "$(v2 DELETE "i1?$Q")" 200 "deprovision i1"
kill9
cb_start_osb_provider --state "$STATE"
c=$(osb_control)
assert_jq "$c" '[.instances[].id] | join(",")' i2 "after the DELETE and another restart: i1 is gone, i2 stays"
assert_jq "$c" '.instances[0].state' succeeded "... i2's ended operation was kept as ended"
assert_eq "$(v2 GET 'i1/last_operation')" 410 "last_operation of the deleted i1: 410 Gone"
assert_eq "$(v2 DELETE "i1?$Q")" 410 "DELETE i1 again: 410 Gone"

# A crash in the middle of a write leaves a line without its end: ignored,
# said so, and cut off, so that the next change starts on a line of its own.
kill9
printf '{"event":"provision","id":"torn","instance":{"id":"tor' >>"$STATE"
cb_start_osb_provider --state "$STATE"
assert_jq "$(osb_control)" '[.instances[].id] | join(",")' i2 "a torn last line: the instances before it, nothing of it"
assert_contains "$(cat "$CB_TMP/osb.log")" "a torn last line" "... and a message on stderr"
assert_eq "$(tail -c 1 "$STATE" | od -An -c | tr -d ' ')" '\n' "... the file ends on a whole line again"
assert_eq "$(v2 PUT 'i3?accepts_incomplete=true' "$PBODY")" 201 "provision i3 after the torn line"
kill9
cb_start_osb_provider --state "$STATE"
assert_jq "$(osb_control)" '[.instances[].id] | sort | join(",")' "i2,i3" "restarted again: i2 and i3"

# An asynchronous deprovision: its 202 and its end are each a line.
osb_control '{"async_ms": 200}' >/dev/null
assert_eq "$(v2 DELETE "i3?$Q")" 202 "deprovision i3 (asynchronous, 200 ms)"
code=
for _ in $(seq 1 50); do
        code=$(v2 GET 'i3/last_operation')
        [ "$code" = 410 ] && break
        sleep 0.1
done
assert_eq "$code" 410 "i3's deprovision ended (last_operation 410)"
assert_jq "$(tail -n 1 "$STATE")" '"\(.event) \(.instance) \(.gone)"' "settle null i3" "... its end is the state file's last line"
kill9
cb_start_osb_provider --state "$STATE"
assert_jq "$(osb_control)" '[.instances[].id] | join(",")' i2 "restarted: i3 is gone"
assert_eq "$(v2 GET 'i3/last_operation')" 410 "... last_operation of i3: 410 Gone"
kill9

# A bad line that is not the last is damage, not a tear: no start.
{ echo 'not json'; cat "$STATE"; } >"$CB_TMP/damaged.jsonl"
rc=0
timeout 10 "$CB_BUILD/tests/osb-provider" --catalog-dir etc/catalog --port 0 --state "$CB_TMP/damaged.jsonl" \
        >/dev/null 2>"$CB_TMP/damaged.err" || rc=$?
assert_eq "$rc" 1 "a damaged line before the last: the provider does not start (exit 1)"
assert_contains "$(cat "$CB_TMP/damaged.err")" "damaged.jsonl:1: not a state record" "... and says which line"

cb_done
