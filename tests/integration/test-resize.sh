#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Resize (issue 9) over REST, D-Bus and cloudbrokerctl on libvirt's test
# driver (provider "dev-test"): a running VM moved to another plan of its
# service (the domain's vCPUs and memory follow, the record and its
# commitment change, one operation of kind resize, audited), a stopped one
# that stays stopped; the policy engine's refusals (a plan outside the
# approval, over its quantity, over the budget: each naming its article),
# another service's plan, a volume, a deleted VM, the plan it is on; a
# failure (the test driver cannot grow a disk: a plan with a larger disk)
# rolled back to the old plan and state; and the month's statement pricing
# the time on each plan at its own price.
#
# Not covered here: a crash half-way (the test driver's domains live in the
# daemon's process only): tests/integration/test-boot-qemu.sh kills the
# daemon in the middle of a resize on a real libvirtd.
#
# Usage (from the repository root): tests/integration/test-resize.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon
if cb_wait_provider dev-test; then pass "set-up: provider dev-test is connected"; else fail "set-up: provider dev-test did not connect"; fi

P1=lf-edu-resize
P2=lf-edu-resize-budget
SYSTEM=edu-portal
YEAR=$(date +%Y)
cb_add_system "$SYSTEM" edu 2 false compliant 教育门户
cb_approve "$P1" "临政信审〔$YEAR〕81号" "$SYSTEM" '[
    {"service_id": "ecs-general", "plan_id": "ecs-general-1c2g", "quantity": 3},
    {"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 1},
    {"service_id": "ecs-general", "plan_id": "ecs-general-4c8g", "quantity": 1},
    {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 1}]'

# cost PLAN: the projected cost of one PLAN in P1, as the policy engine prices a new order.
cost() {
        cb_curl POST /v1/policy/evaluate dev-edu \
                "{\"project_id\":\"$P1\",\"system_id\":\"$SYSTEM\",\"service_id\":\"ecs-general\",\"plan_id\":\"$1\"}"
        printf %s "$CB_BODY" | jq -r .projected_cost_fen
}
C1=$(cost ecs-general-1c2g)
C2=$(cost ecs-general-2c4g)
# P2's budget holds a 2c4g, but not a 2c4g beside the 1c2g it replaces, nor a 4c8g.
BUDGET=$((C2 + C1 / 2))
CB_APPROVE_BUDGET="{\"construction_fen\": $BUDGET, \"om_fen\": 0}" cb_approve "$P2" "临政信审〔$YEAR〕82号" "$SYSTEM" '[
    {"service_id": "ecs-general", "plan_id": "ecs-general-1c2g", "quantity": 1},
    {"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 1},
    {"service_id": "ecs-general", "plan_id": "ecs-general-4c8g", "quantity": 1}]'

# order PROJECT SERVICE PLAN NAME: POST /v1/resources as dev-edu; sets ID.
order() {
        cb_curl POST /v1/resources dev-edu \
                "{\"project_id\":\"$1\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$2\",\"plan_id\":\"$3\",\"name\":\"$4\"}"
        assert_eq "$CB_STATUS" 202 "set-up: $4 is ordered"
        ID=$(printf %s "$CB_BODY" | jq -r .id)
        if cb_wait_state "$ID" active; then pass "set-up: $4 is active"; else fail "set-up: $4 not active ($GOT)"; fi
}

# wait_op ID: polls an operation until it has finished (at most 10 s); sets GOT.
wait_op() {
        GOT=
        for _ in $(seq 1 100); do
                cb_curl GET "/v1/operations/$1" dev-operator
                GOT=$(printf %s "$CB_BODY" | jq -r .state 2>/dev/null || true)
                case "$GOT" in succeeded | failed) return 0 ;; esac
                sleep 0.1
        done
        return 1
}

resize() { cb_curl POST "/v1/resources/$1/resize" "${3:-dev-edu}" "{\"plan_id\":\"$2\"}"; }

# domain ID: the test driver's domain of resource ID in the provider's inventory.
domain() {
        cb_curl GET /v1/providers/dev-test/inventory dev-operator
        printf %s "$CB_BODY" | jq -c --arg id "$1" '[.domains[] | select(.resource_id == $id)][0]'
}

order "$P1" ecs-general ecs-general-1c2g vm-a
VMA=$ID
order "$P1" ecs-general ecs-general-1c2g vm-b
VMB=$ID
order "$P1" evs-block evs-ssd-100g data-1
VOL=$ID
cb_curl GET "/v1/resources/$VMA" dev-edu
assert_jq "$CB_BODY" .committed_fen "$C1" "set-up: vm-a commits the 1c2g price"

# --- a running VM onto a larger plan ----------------------------------------------

resize "$VMA" ecs-general-2c4g
assert_eq "$CB_STATUS" 202 "the department resizes its running VM to another plan of its service: 202"
assert_jq "$CB_BODY" .id "$VMA" "the ticket names the VM"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
if wait_op "$OP"; then pass "the resize operation finishes"; else fail "resize not finished ($GOT)"; fi
assert_eq "$GOT" succeeded "the resize succeeded"
assert_jq "$CB_BODY" .kind resize "the operation's kind is resize"
cb_curl GET "/v1/resources/$VMA" dev-edu
assert_jq "$CB_BODY" .plan_id ecs-general-2c4g "the record is on the new plan"
assert_jq "$CB_BODY" .committed_fen "$C2" "and commits the new plan's price"
assert_jq "$CB_BODY" .state active "and the VM runs again"
D=$(domain "$VMA")
assert_jq "$D" .vcpus 2 "the domain has the new plan's 2 vCPUs"
assert_jq "$D" .memory_mib 4096 "and its 4096 MiB"
assert_jq "$D" .state running "and runs"

# --- the policy engine, as for a new order ----------------------------------------

resize "$VMB" ecs-general-2c4g
assert_eq "$CB_STATUS" 403 "a plan whose approved quantity is taken: 403"
assert_jq "$CB_BODY" '[.violations[].code] | index("QUANTITY_EXCEEDED") != null' true "QUANTITY_EXCEEDED"
assert_jq "$CB_BODY" '[.violations[] | select(.code == "QUANTITY_EXCEEDED") | .article] | .[0] > 0' true \
        "and the refusal names its article"
resize "$VMB" ecs-general-8c16g
assert_eq "$CB_STATUS" 403 "a plan the approval does not name: 403"
assert_jq "$CB_BODY" '[.violations[].code] | index("ITEM_NOT_APPROVED") != null' true "ITEM_NOT_APPROVED"
assert_jq "$CB_BODY" '[.violations[] | select(.code == "ITEM_NOT_APPROVED") | .article] | .[0] > 0' true \
        "and the refusal names its article"
cb_curl GET "/v1/resources/$VMB" dev-edu
assert_jq "$CB_BODY" .plan_id ecs-general-1c2g "a refused resize leaves the record on its plan"
cb_curl GET "/v1/audit?limit=1000" dev-auditor
assert_jq "$CB_BODY" "[.. | objects | select(.object? == \"resource:$VMB\" and .action? == \"resource.resize\" and .outcome? == \"denied\")] | length" 2 \
        "the refusals are on the audit trail"

resize "$VMB" evs-ssd-100g
assert_eq "$CB_STATUS" 422 "another service's plan: 422"
assert_jq "$CB_BODY" .field plan_id "the error names plan_id"
resize "$VMB" ecs-opt-4c8g
assert_eq "$CB_STATUS" 422 "a plan of no such name in the service: 422"
resize "$VMB" ecs-general-1c2g
assert_eq "$CB_STATUS" 409 "the plan it is on: 409"
cb_curl POST "/v1/resources/$VMB/resize" dev-edu '{}'
assert_eq "$CB_STATUS" 422 "no plan_id: 422"
assert_jq "$CB_BODY" .field plan_id "the error names plan_id"
cb_curl POST "/v1/resources/$VMB/resize" dev-edu '{"plan_id":"ecs-general-2c4g","size":1}'
assert_eq "$CB_STATUS" 422 "an unknown field: 422"
OPS_B=$(sqlite3 "$CB_DB" "SELECT count(*) FROM operations WHERE resource_id = '$VMB'")
cb_curl POST "/v1/resources/$VMB/resize" dev-edu '{"plan_id":"ecs-general-2c4g","parameters":{"a":1}}'
assert_eq "$CB_STATUS" 422 "parameters for a VM (libvirt plans take none): 422"
assert_jq "$CB_BODY" .field parameters "the error names parameters"
cb_curl POST "/v1/resources/$VMB/resize" dev-edu '{"parameters":{"a":1}}'
assert_eq "$CB_STATUS" 422 "parameters alone for a VM: 422"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "take none" "and the answer says why"
ERR=$(cb_busctl call org.cloudbroker.Broker1 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Resources \
        UpdateResource sss "$VMB" "" '{"a": 1}' 2>&1 || true)
assert_contains "$ERR" "parameters" "D-Bus UpdateResource refuses a VM's parameters, naming them"
assert_eq "$(sqlite3 "$CB_DB" "SELECT count(*) FROM operations WHERE resource_id = '$VMB'")" "$OPS_B" \
        "no operation was written for the refused updates"
resize "$VOL" evs-ssd-100g
assert_eq "$CB_STATUS" 409 "a block volume is not resized: 409"
assert_contains "$CB_BODY" "only VMs are resized" "and the answer says why"
resize "$VMB" ecs-general-2c4g dev-health
assert_eq "$CB_STATUS" 404 "another department's VM is unknown to it: 404"
resize r-0000000000000000 ecs-general-2c4g
assert_eq "$CB_STATUS" 404 "an unknown resource: 404"

# The budget: the plan left behind is released first.
order "$P2" ecs-general ecs-general-1c2g vm-c
VMC=$ID
sleep 2 # a part of the statement's month at the old plan
resize "$VMC" ecs-general-2c4g
assert_eq "$CB_STATUS" 202 "a resize within the budget once the old plan is released: 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$OP" && assert_eq "$GOT" succeeded "and it succeeds"
resize "$VMC" ecs-general-4c8g
assert_eq "$CB_STATUS" 403 "a plan over the approval's budget: 403"
assert_jq "$CB_BODY" '[.violations[].code] | index("BUDGET_EXCEEDED") != null' true "BUDGET_EXCEEDED"
assert_jq "$CB_BODY" '[.violations[] | select(.code == "BUDGET_EXCEEDED") | .article] | .[0]' 13 \
        "and the refusal names Art. 13"

# --- a failure rolls back ------------------------------------------------------------

# 4c8g has an 80 GiB disk; libvirt's test driver cannot grow a volume.
resize "$VMB" ecs-general-4c8g
assert_eq "$CB_STATUS" 202 "a resize the provider cannot carry out is accepted: 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$OP" || true
assert_eq "$GOT" failed "the resize fails"
assert_contains "$(printf %s "$CB_BODY" | jq -r .error)" "grow the system disk" "naming what failed"
cb_curl GET "/v1/resources/$VMB" dev-edu
assert_jq "$CB_BODY" .plan_id ecs-general-1c2g "the record is back on the old plan"
assert_jq "$CB_BODY" .committed_fen "$C1" "and its commitment"
assert_jq "$CB_BODY" .state active "and the VM is active"
D=$(domain "$VMB")
assert_jq "$D" .vcpus 1 "the domain has its old vCPU back"
assert_jq "$D" .memory_mib 2048 "and its old memory"
assert_jq "$D" .state running "and runs again"
resize "$VMB" ecs-general-4c8g
assert_eq "$CB_STATUS" 202 "the unit the failed resize held is free again: 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$OP" || true

# --- a stopped VM stays stopped -------------------------------------------------------

cb_curl POST "/v1/resources/$VMA/actions" dev-edu '{"action":"stop"}'
if cb_wait_state "$VMA" stopped; then pass "set-up: vm-a is stopped"; else fail "vm-a not stopped ($GOT)"; fi
resize "$VMA" ecs-general-1c2g
assert_eq "$CB_STATUS" 202 "a stopped VM is resized: 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$OP" && assert_eq "$GOT" succeeded "and it succeeds"
cb_curl GET "/v1/resources/$VMA" dev-edu
assert_jq "$CB_BODY" .state stopped "and stays stopped"
D=$(domain "$VMA")
assert_jq "$D" .vcpus 1 "with the new plan's vCPU in its definition"
assert_jq "$D" .state shutoff "and shut off"

# --- D-Bus and cloudbrokerctl: the same core function ---------------------------------

PATH_A=$(cb_busctl call org.cloudbroker.Broker1 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Resources \
        ResizeResource ss "$VMA" ecs-general-2c4g 2>&1 || true)
assert_contains "$PATH_A" '"op-' "D-Bus ResizeResource answers the operation"
OP=$(printf %s "$PATH_A" | sed -n 's/^s "\(op-[0-9a-f]*\)"$/\1/p')
wait_op "$OP" && assert_eq "$GOT" succeeded "and the resize over D-Bus succeeds"
OUT=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS "$CB_BUILD/cloudbrokerctl" resource resize "$VMA" ecs-general-1c2g 2>&1 || true)
assert_contains "$OUT" "op-" "cloudbrokerctl resource resize prints the operation"
OP=$(printf %s "$OUT" | grep -o 'op-[0-9a-f]*' | head -1)
wait_op "$OP" && assert_eq "$GOT" succeeded "and the resize from the CLI succeeds"
OUT=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS "$CB_BUILD/cloudbrokerctl" resource resize "$VOL" evs-ssd-100g 2>&1 || true)
assert_contains "$OUT" "only VMs are resized" "cloudbrokerctl says why a volume is refused"

# --- a deleted VM ----------------------------------------------------------------------

cb_curl DELETE "/v1/resources/$VMA" dev-edu
if cb_wait_state "$VMA" deleted >/dev/null; then pass "set-up: vm-a is deleted"; else fail "vm-a not deleted ($GOT)"; fi
resize "$VMA" ecs-general-2c4g
assert_eq "$CB_STATUS" 409 "a deleted VM is not resized: 409"
assert_contains "$CB_BODY" "deleted" "and the answer says it is deleted"

# --- the record: audit and the statement ---------------------------------------------

cb_curl GET "/v1/audit?limit=1000" dev-auditor
assert_jq "$CB_BODY" "[.. | objects | select(.object? == \"resource:$VMC\" and .action? == \"resource.resize\" and .outcome? == \"ok\")] | length" 1 \
        "the resize is on the audit trail"
assert_jq "$CB_BODY" "[.. | objects | select(.object? == \"resource:$VMC\" and .action? == \"resource.resize.done\")] | length" 1 \
        "and so is its end"
MONTH=$(date -u +%Y-%m)
sleep 1
cb_curl GET "/v1/billing/statements/$MONTH" dev-finance
assert_eq "$CB_STATUS" 200 "the month's statement: 200"
assert_jq "$CB_BODY" "[.lines[] | select(.resource_id == \"$VMC\") | .plan_id] | sort | join(\" \")" \
        "ecs-general-1c2g ecs-general-2c4g" "the resized VM has a line at each plan"
P_OLD=$(printf %s "$CB_BODY" | jq -r ".lines[] | select(.resource_id == \"$VMC\" and .plan_id == \"ecs-general-1c2g\") | .unit_price_fen")
P_NEW=$(printf %s "$CB_BODY" | jq -r ".lines[] | select(.resource_id == \"$VMC\" and .plan_id == \"ecs-general-2c4g\") | .unit_price_fen")
assert_eq "$P_OLD $P_NEW" "18 35" "each at its own plan's price"

cb_done
