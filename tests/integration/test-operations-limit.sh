#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# operations.max_in_flight through the real daemon on libvirt's test driver
# (provider "dev-test" of tests/integration/test.conf): with a limit of 2,
# eight VMs ordered at once all become active (the ones beyond the limit
# wait and are handed over as others end), never more than two operations
# run at once, each provision ends once; and a limit of 0 stops the daemon
# at start, naming the setting.
#
# Usage (from the repository root): tests/integration/test-operations-limit.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"

# test.conf with absolute paths (the copies live in the scratch folder) and
# an operations group.
limit_conf() {
        sed -e "s#\"\.\./\.\./#\"$PWD/#g" -e "s#test:///\.\./\.\./#test://$PWD/#" tests/integration/test.conf
        printf 'operations = {\n  max_in_flight = %s;\n};\n' "$1"
}
limit_conf 2 >"$CB_TMP/two.conf"
limit_conf 0 >"$CB_TMP/zero.conf"

# --- a limit of 0: the daemon refuses to start ----------------------------------

PORT=$(cb_free_port)
rc=0
timeout 20 "$CB_BUILD/cloudbrokerd" --config "$CB_TMP/zero.conf" --db "$CB_TMP/zero.db" \
        --rest-listen "127.0.0.1:$PORT" --bus none >"$CB_TMP/zero.log" 2>&1 || rc=$?
assert_eq "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && echo refused)" refused \
        "operations.max_in_flight = 0: the daemon refuses to start (exit $rc)"
assert_contains "$(cat "$CB_TMP/zero.log")" "'operations.max_in_flight' must be between 1 and 1000000" \
        "... naming operations.max_in_flight and its range"
assert_contains "$(cat "$CB_TMP/zero.log")" "zero.conf:" "... and the file it is in"

# --- a limit of 2: eight orders at once all become active ---------------------------

CB_CONFIG=$CB_TMP/two.conf cb_start_daemon
if cb_wait_provider dev-test; then pass "set-up: provider dev-test is connected"; else fail "set-up: provider dev-test did not connect"; fi

PROJECT=lf-edu-ops-limit
SYSTEM=edu-portal
SVC=ecs-general
PLAN=ecs-general-1c2g
N=8
YEAR=$(date +%Y)
cb_add_system "$SYSTEM" edu 2 false compliant 教育门户
cb_approve "$PROJECT" "临政信审〔$YEAR〕98号" "$SYSTEM" \
        "[{\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN\", \"quantity\": $N}]"

# All at once, so that they find the two slots taken.
cb_post_at_once "$N" order /v1/resources dev-edu \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN\",\"name\":\"vm-@I@\"}"
codes=$(for f in "$CB_TMP"/order.*.code; do cat "$f"; echo; done | sort | uniq -c | awk '{print $1 "x" $2}' | paste -sd' ')
assert_eq "$codes" "${N}x202" "all $N orders are accepted (202)"
IDS=$(cat "$CB_TMP"/order.[0-9] | jq -r .id | sort -u)
assert_eq "$(printf '%s\n' "$IDS" | grep -c '^r-')" "$N" "$N distinct resources"

# Bounded: at most 30 s (times CB_SLOW), sampling what runs meanwhile.
most_running=0
active=0
for _ in $(seq 1 $((300 * CB_SLOW))); do
        cb_curl GET "/v1/operations?state=running&limit=100" dev-operator
        running=$(printf %s "$CB_BODY" | jq '.operations | length')
        [ "$running" -gt "$most_running" ] && most_running=$running
        cb_curl GET "/v1/resources?project_id=$PROJECT&limit=100" dev-operator
        active=$(printf %s "$CB_BODY" | jq '[.resources[] | select(.state == "active")] | length')
        [ "$active" -eq "$N" ] && break
        sleep 0.1
done
assert_eq "$active" "$N" "all $N VMs become active"
if [ "$most_running" -le 2 ]; then
        pass "never more than 2 operations running at once (at most $most_running seen)"
else
        fail "$most_running operations were running at once with max_in_flight = 2"
fi
# Whether orders had to wait depends on how fast the test driver answers
# against how fast the orders arrive: noted either way, not counted as a
# check (the unit tests make them wait on purpose).
if grep -q "operations in flight (operations.max_in_flight 2): more wait in order" "$CB_TMP/daemon.log"; then
        echo "# note: orders found both slots taken and waited (logged with the limit)"
else
        echo "# note: no order had to wait this time (the test driver answered before the next order)"
fi
cb_curl GET "/v1/operations?kind=provision&limit=100" dev-operator
assert_jq "$CB_BODY" '[.operations[] | select(.state == "succeeded")] | length' "$N" "each provision succeeded"
cb_curl GET /v1/providers/dev-test/inventory dev-operator
for id in $IDS; do
        assert_jq "$CB_BODY" "[.domains[] | select(.resource_id == \"$id\" and .managed)] | length" 1 \
                "the provider runs $id, once"
done
cb_curl GET "/v1/audit?limit=10000" dev-auditor
for id in $IDS; do
        assert_jq "$CB_BODY" \
                "[.. | objects | select(.action? == \"resource.provision.done\" and .object? == \"resource:$id\")] | length" \
                1 "one resource.provision.done for $id"
done

cb_stop_daemon

cb_done
