#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Block volumes on VMs (issue 9) over REST on libvirt's test driver
# (provider "dev-test"): a volume of the VM's project attached to a running
# and to a stopped VM, listed, detached; the refusals (attached elsewhere,
# another project's volume answered as an unknown one, an attached volume
# not deletable, a volume that is not one); a VM deleted with its volume
# kept, and one deleted with delete_volumes=true; the audit trail.
#
# Not covered here: a crash half-way (the test driver's domains live in the
# daemon's process only, so a restarted daemon sees the node file again).
#
# Usage (from the repository root): tests/integration/test-volumes.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon
if cb_wait_provider dev-test; then pass "set-up: provider dev-test is connected"; else fail "set-up: provider dev-test did not connect"; fi

P1=lf-edu-vol-test
P2=lf-edu-vol-other
SYSTEM=edu-portal
YEAR=$(date +%Y)
cb_add_system "$SYSTEM" edu 2 false compliant 教育门户
cb_approve "$P1" "临政信审〔$YEAR〕71号" "$SYSTEM" '[
    {"service_id": "ecs-general", "plan_id": "ecs-general-1c2g", "quantity": 3},
    {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 3}]'
cb_approve "$P2" "临政信审〔$YEAR〕72号" "$SYSTEM" '[
    {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 1}]'

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

attach() { cb_curl POST "/v1/resources/$1/volumes" "${3:-dev-edu}" "{\"volume_id\":\"$2\"}"; }
detach() { cb_curl DELETE "/v1/resources/$1/volumes/$2" "${3:-dev-edu}"; }

order "$P1" ecs-general ecs-general-1c2g vm-a
VMA=$ID
order "$P1" ecs-general ecs-general-1c2g vm-b
VMB=$ID
order "$P1" evs-block evs-ssd-100g data-1
V1=$ID
order "$P1" evs-block evs-ssd-100g data-2
V2=$ID
order "$P2" evs-block evs-ssd-100g other-data
VO=$ID

# --- attach to a running VM -----------------------------------------------------

attach "$VMA" "$V1"
assert_eq "$CB_STATUS" 202 "the department attaches its volume to its running VM: 202"
assert_jq "$CB_BODY" .id "$VMA" "the ticket names the VM"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
if wait_op "$OP"; then pass "the attach operation finishes"; else fail "attach not finished ($GOT)"; fi
assert_eq "$GOT" succeeded "the attach operation succeeded"
assert_jq "$CB_BODY" .kind attach "the operation's kind is attach"
cb_curl GET "/v1/resources/$VMA/volumes" dev-edu
assert_eq "$CB_STATUS" 200 "the VM's volumes are listed: 200"
assert_jq "$CB_BODY" '.volumes | length' 1 "one volume on the VM"
assert_jq "$CB_BODY" '.volumes[0].volume_id' "$V1" "it is the attached volume"
assert_jq "$CB_BODY" '.volumes[0].target' vdc "on the first free slot, vdc"
assert_jq "$CB_BODY" '.volumes[0].state' attached "in state attached"
cb_wait_state "$VMA" active >/dev/null && pass "the VM stays active" || fail "VM left active: $GOT"

cb_curl GET /v1/providers/dev-test/inventory dev-operator
VOLINV=$(printf %s "$CB_BODY" | jq --arg n "cb-$V1.img" '.volumes[] | select(.name == $n)')
assert_jq "$VOLINV" .attached_to "$VMA" "the provider's inventory says which VM the volume is on"
assert_jq "$VOLINV" .attachment_state attached "and that it is attached"
assert_jq "$VOLINV" '.provider_attachments | length' 1 "the provider shows the volume on one domain"
assert_jq "$VOLINV" '.provider_attachments[0].domain' "cb-$VMA" "on the VM's domain, as recorded"
assert_jq "$VOLINV" '.provider_attachments[0].resource_id' "$VMA" "which is the broker's VM"
assert_jq "$VOLINV" '.provider_attachments[0].target' vdc "at the recorded target"
assert_jq "$VOLINV" '.provider_attachments[0].persistent' true "in its persistent definition"
assert_jq "$VOLINV" '.attachment_drift | length' 0 "no drift between record and provider"

# --- refusals ---------------------------------------------------------------------

attach "$VMB" "$V1"
assert_eq "$CB_STATUS" 409 "a volume attached elsewhere: 409"
assert_contains "$CB_BODY" "$VMA" "and the answer names the VM it is on"
attach "$VMA" "$V1"
assert_eq "$CB_STATUS" 409 "the same volume twice: 409"

attach "$VMA" "$VO"
S_OTHER=$CB_STATUS B_OTHER=$(printf %s "$CB_BODY" | jq -c 'del(.message)')
M_OTHER=$(printf %s "$CB_BODY" | jq -r .message | sed "s/$VO/ID/")
attach "$VMA" vol-no-such
S_UNKNOWN=$CB_STATUS B_UNKNOWN=$(printf %s "$CB_BODY" | jq -c 'del(.message)')
M_UNKNOWN=$(printf %s "$CB_BODY" | jq -r .message | sed "s/vol-no-such/ID/")
assert_eq "$S_OTHER" 404 "another project's volume: 404"
assert_eq "$S_OTHER $B_OTHER $M_OTHER" "$S_UNKNOWN $B_UNKNOWN $M_UNKNOWN" \
        "another project's volume is answered exactly as an unknown one"
attach "$VMA" "$V2" dev-health
assert_eq "$CB_STATUS" 404 "another department's VM is unknown to it: 404"

attach "$VMA" "$VMB"
assert_eq "$CB_STATUS" 422 "a VM is not a volume to attach: 422"
assert_jq "$CB_BODY" .field volume_id "the error names volume_id"
cb_curl POST "/v1/resources/$VMA/volumes" dev-edu '{}'
assert_eq "$CB_STATUS" 422 "no volume_id: 422"
assert_jq "$CB_BODY" .field volume_id "the error names volume_id"
cb_curl POST "/v1/resources/$VMA/volumes" dev-edu '{"volume_id":"x","extra":1}'
assert_eq "$CB_STATUS" 422 "an unknown field: 422"
attach "$V1" "$V2"
assert_eq "$CB_STATUS" 409 "attaching to a volume (not a VM): 409"

cb_curl DELETE "/v1/resources/$V1" dev-edu
assert_eq "$CB_STATUS" 409 "deleting an attached volume: 409"
assert_contains "$CB_BODY" "detach it first" "and the reason says detach it first"
cb_curl GET "/v1/resources/$V1" dev-edu
assert_jq "$CB_BODY" .state active "the refused deletion left the volume active"
detach "$VMB" "$V1"
assert_eq "$CB_STATUS" 404 "detaching from a VM the volume is not on: 404"

# --- a stopped VM: the persistent definition only ---------------------------------

cb_curl POST "/v1/resources/$VMB/actions" dev-edu '{"action":"stop"}'
if cb_wait_state "$VMB" stopped; then pass "set-up: vm-b is stopped"; else fail "vm-b not stopped ($GOT)"; fi
attach "$VMB" "$V2"
assert_eq "$CB_STATUS" 202 "a volume attaches to a stopped VM: 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$OP" || true
assert_eq "$GOT" succeeded "the attach to the stopped VM succeeded"
cb_wait_state "$VMB" stopped >/dev/null && pass "the VM stays stopped" || fail "VM left stopped: $GOT"
cb_curl POST "/v1/resources/$VMB/actions" dev-edu '{"action":"start"}'
if cb_wait_state "$VMB" active; then pass "the VM starts with its volume"; else fail "vm-b did not start ($GOT)"; fi

# --- detach ----------------------------------------------------------------------

detach "$VMA" "$V1"
assert_eq "$CB_STATUS" 202 "the department detaches the volume: 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$OP" || true
assert_eq "$GOT" succeeded "the detach operation succeeded"
assert_jq "$CB_BODY" .kind detach "the operation's kind is detach"
cb_curl GET "/v1/resources/$VMA/volumes" dev-edu
assert_jq "$CB_BODY" '.volumes | length' 0 "the VM has no volume any more"
attach "$VMB" "$V1"
assert_eq "$CB_STATUS" 202 "a detached volume attaches to another VM: 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$OP" || true
cb_curl GET "/v1/resources/$VMB/volumes" dev-edu
assert_jq "$CB_BODY" '[.volumes[].target] | join(",")' vdc,vdd "each volume on its own slot"

# --- deleting VMs ------------------------------------------------------------------

cb_curl DELETE "/v1/resources/$VMB?delete_volumes=maybe" dev-edu
assert_eq "$CB_STATUS" 422 "delete_volumes neither true nor false: 422"
assert_jq "$CB_BODY" .field delete_volumes "the error names delete_volumes"
cb_curl DELETE "/v1/resources/$V1?delete_volumes=true" dev-edu
assert_eq "$CB_STATUS" 409 "an attached volume is not deleted even with delete_volumes"

attach "$VMA" "$V1" # v1 is on vm-b
assert_eq "$CB_STATUS" 409 "still attached elsewhere: 409"

cb_curl DELETE "/v1/resources/$VMB" dev-edu
assert_eq "$CB_STATUS" 202 "a VM with two volumes is deleted: 202"
if cb_wait_state "$VMB" deleted; then pass "the VM is deleted"; else fail "vm-b not deleted ($GOT)"; fi
for v in "$V1" "$V2"; do
        cb_curl GET "/v1/resources/$v" dev-edu
        assert_jq "$CB_BODY" .state active "its volume $v is kept, active"
done
attach "$VMA" "$V1"
assert_eq "$CB_STATUS" 202 "the kept volume is free to attach again: 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$OP" || true
assert_eq "$GOT" succeeded "and it attaches"

cb_curl DELETE "/v1/resources/$VMA?delete_volumes=true" dev-edu
assert_eq "$CB_STATUS" 202 "a VM deleted with delete_volumes=true: 202"
if cb_wait_state "$VMA" deleted; then pass "the VM is deleted"; else fail "vm-a not deleted ($GOT)"; fi
if cb_wait_state "$V1" deleted; then pass "its attached volume is deleted with it"; else fail "volume not deleted ($GOT)"; fi
cb_curl GET "/v1/resources/$V2" dev-edu
assert_jq "$CB_BODY" .state active "a volume that was not on it stays"
cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_jq "$CB_BODY" "[.volumes[] | select(.name == \"cb-$V1.img\")] | length" 0 "the deleted volume is gone from the provider"
assert_jq "$CB_BODY" "[.volumes[] | select(.name == \"cb-$V2.img\")] | length" 1 "the kept one is still there"

# --- the other faces: cloudbrokerctl over D-Bus ------------------------------------

CTL=$CB_BUILD/cloudbrokerctl
ctl() {
        local uid=$1
        shift
        RC=0
        as_uid "$uid" "$CTL" --bus-address="$CB_BUS_ADDRESS" "$@" >"$CB_TMP/ctl.out" 2>"$CB_TMP/ctl.err" || RC=$?
        OUT=$(cat "$CB_TMP/ctl.out")
        ERR=$(cat "$CB_TMP/ctl.err")
}
order "$P1" ecs-general ecs-general-1c2g vm-c
VMC=$ID
ctl 1001 --json resource attach "$VMC" "$V2"
assert_eq "$RC" 0 "cloudbrokerctl resource attach: exit 0"
OP=$(printf %s "$OUT" | jq -r .operation_id)
wait_op "$OP" || true
assert_eq "$GOT" succeeded "the attach asked through D-Bus succeeded"
ctl 1001 resource volumes "$VMC"
assert_eq "$RC" 0 "cloudbrokerctl resource volumes: exit 0"
assert_contains "$OUT" "vdc	$V2	attached" "it lists the volume on vdc, attached"
ctl 0 provider inventory dev-test
assert_eq "$RC" 0 "cloudbrokerctl provider inventory: exit 0"
if printf %s "$OUT" | grep -Eq "^cb-$V2\.img[[:space:]]+$V2[[:space:]]+$VMC[[:space:]]+cb-$VMC[[:space:]]+-\$"; then
        pass "ctl shows the volume on the VM as recorded and as the provider has it, no drift"
else
        fail "ctl inventory volume row: $OUT"
fi
ctl 0 --json provider inventory dev-test
assert_jq "$OUT" "[.volumes[] | select(.resource_id == \"$V2\") | .provider_attachments[0].resource_id][0]" "$VMC" \
        "D-Bus GetInventory carries the provider's view too"
ctl 1001 resource attach "$VMC" "$VO"
if [ "$RC" -ne 0 ]; then pass "another project's volume through ctl: refused (exit $RC)"; else fail "ctl attached another project's volume"; fi
ERR_OTHER=$(printf %s "$ERR" | sed "s/$VO/ID/")
ctl 1001 resource attach "$VMC" vol-no-such
assert_eq "$(printf %s "$ERR" | sed "s/vol-no-such/ID/")" "$ERR_OTHER" "and answered as an unknown volume on D-Bus too"
ctl 1001 resource delete "$V2"
assert_contains "$ERR" "detach it first" "ctl resource delete of an attached volume: refused"
ctl 1004 resource detach "$VMC" "$V2"
if [ "$RC" -ne 0 ]; then pass "another department cannot detach it"; else fail "health detached edu's volume"; fi
ctl 1001 resource detach "$VMC" "$V2"
assert_eq "$RC" 0 "cloudbrokerctl resource detach: exit 0"
OP=$(printf %s "$OUT" | sed -n 's/.*operation //p')
wait_op "$OP" || true
assert_eq "$GOT" succeeded "the detach asked through D-Bus succeeded"
ctl 1001 --json resource volumes "$VMC"
assert_eq "$OUT" "[]" "no volume left on the VM"
ctl 1001 resource attach "$VMC" "$V2"
OP=$(printf %s "$OUT" | sed -n 's/.*operation //p')
wait_op "$OP" || true
ctl 1001 resource delete-with-volumes "$VMC"
assert_eq "$RC" 0 "cloudbrokerctl resource delete-with-volumes: exit 0"
if cb_wait_state "$V2" deleted; then pass "the VM's volume goes with it"; else fail "volume not deleted ($GOT)"; fi

# --- the audit trail -------------------------------------------------------------

cb_curl GET "/v1/audit?object=resource:$VMA" dev-auditor
for a in resource.attach resource.attach.done resource.detach resource.detach.done; do
        assert_jq "$CB_BODY" "[.. | objects | select(.action? == \"$a\")] | length > 0" true "the audit trail has $a"
done

cb_done
