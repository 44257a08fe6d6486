#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Resources over REST on libvirt's test driver (provider "dev-test" of
# tests/integration/test.conf, on etc/test-node.xml), end to end through the
# real daemon: a signed approval, a VM from request to deletion, its
# operations, idempotency, policy refusals that create nothing anywhere,
# quantities, actions and their states, who may see and act, input errors,
# the catalogue revision a resource stays pinned to, a block volume (a
# volume-only plan: no power state, its own inventory list, counted against
# its quantity), and the audit trail.
#
# Not covered here: a VM shut down from inside the guest becoming "stopped".
# The test driver's state lives in the daemon's process only (no libvirtd,
# so `virsh` cannot reach it) and it has no guest that could shut itself
# down; that path is for the real-QEMU test.
#
# Usage (from the repository root): tests/integration/test-resources.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon
if cb_wait_provider dev-test; then pass "set-up: provider dev-test is connected"; else fail "set-up: provider dev-test did not connect"; fi

PROJECT=lf-edu-vm-test
SYSTEM=edu-portal
SVC=ecs-general
PLAN=ecs-general-1c2g  # approved 2
PLAN2=ecs-general-2c4g # approved 3; its spec leaves kind to the default "vm"
YEAR=$(date +%Y)

# --- set-up: a system in the directory and a signed approval ----------------

cb_add_system "$SYSTEM" edu 2 false compliant 教育门户
cb_add_system edu-unlisted edu 2 false compliant 未列入审批的系统

cb_approve "$PROJECT" "临政信审〔$YEAR〕99号" "$SYSTEM" "[
    {\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN\", \"quantity\": 2},
    {\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN2\", \"quantity\": 3},
    {\"service_id\": \"evs-block\", \"plan_id\": \"evs-ssd-100g\", \"quantity\": 1}]"

# --- helpers -----------------------------------------------------------------

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

resource_count() {
        cb_curl GET /v1/resources dev-operator
        printf %s "$CB_BODY" | jq '.resources | length'
}

# inventory_names: the domains the provider really has, sorted, one a line.
inventory_names() {
        cb_curl GET /v1/providers/dev-test/inventory dev-operator
        printf %s "$CB_BODY" | jq -r '[.domains[].name] | sort | .[]'
}

# request [NAME [PLAN [SYSTEM]]] [extra curl args]: POST /v1/resources as dev-edu.
request() {
        local name=$1 plan=${2:-$PLAN} system=${3:-$SYSTEM}
        shift 3 || shift $#
        cb_curl POST /v1/resources dev-edu \
                "{\"project_id\":\"$PROJECT\",\"system_id\":\"$system\",\"service_id\":\"$SVC\",\"plan_id\":\"$plan\",\"name\":\"$name\"}" \
                "$@"
}

# --- a VM from request to active ----------------------------------------------

inv_before=$(inventory_names)
assert_contains "$inv_before" legacy-oa-server "the test node has its unmanaged domain"

request vm-one "$PLAN" "$SYSTEM" -H "Idempotency-Key: key-one"
assert_eq "$CB_STATUS" 202 "a department requests an approved VM: 202"
assert_jq "$CB_BODY" .state provisioning "the answer says provisioning"
R1=$(printf %s "$CB_BODY" | jq -r .id)
OP1=$(printf %s "$CB_BODY" | jq -r .operation_id)
assert_contains "$CB_HEADERS" "/v1/resources/$R1" "Location names the resource"
if [ -n "$R1" ] && [ "$R1" != null ]; then pass "the answer has an id"; else fail "no id in: $CB_BODY"; fi
if [ -n "$OP1" ] && [ "$OP1" != null ]; then pass "the answer has an operation_id"; else fail "no operation_id"; fi

if cb_wait_state "$R1" active; then pass "the VM becomes active"; else fail "VM not active (state $GOT)"; fi
RES1=$CB_BODY
for f in id name project_id system_id service_id plan_id catalog_revision provider provider_ref state created_at; do
        assert_jq "$RES1" "has(\"$f\")" true "GET /v1/resources/{id} has $f"
done
assert_jq "$RES1" .id "$R1" "id"
assert_jq "$RES1" .name vm-one "name"
assert_jq "$RES1" .project_id "$PROJECT" "project_id"
assert_jq "$RES1" .system_id "$SYSTEM" "system_id"
assert_jq "$RES1" .service_id "$SVC" "service_id"
assert_jq "$RES1" .plan_id "$PLAN" "plan_id"
assert_jq "$RES1" .catalog_revision 1 "catalog_revision is the published revision 1"
assert_jq "$RES1" .provider dev-test "provider"
assert_jq "$RES1" '.provider_ref | test("^[0-9a-f-]{36}$")' true "provider_ref is the domain UUID"
assert_jq "$RES1" '.created_at | test("^[0-9]{4}-")' true "created_at is a timestamp"

if wait_op "$OP1"; then pass "the provision operation finishes"; else fail "operation not finished ($GOT)"; fi
assert_jq "$CB_BODY" .state succeeded "the provision operation succeeded"
assert_jq "$CB_BODY" .resource_id "$R1" "the operation names its resource"
assert_jq "$CB_BODY" .kind provision "the operation is a provision"

cb_curl GET "/v1/resources?project_id=$PROJECT" dev-edu
assert_eq "$CB_STATUS" 200 "GET /v1/resources?project_id= as the department"
assert_jq "$CB_BODY" "[.resources[].id] == [\"$R1\"]" true "the project lists exactly its resource"
cb_curl GET "/v1/resources?project_id=no-such-project" dev-edu
assert_jq "$CB_BODY" '.resources | length' 0 "another project_id lists nothing"

cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_jq "$CB_BODY" "[.domains[] | select(.resource_id == \"$R1\") | .managed] == [true]" true \
        "the provider has the VM, managed, once"

# --- idempotency -------------------------------------------------------------

count=$(resource_count)
request vm-one "$PLAN" "$SYSTEM" -H "Idempotency-Key: key-one"
assert_eq "$CB_STATUS" 202 "same Idempotency-Key, same body: 202"
assert_jq "$CB_BODY" .id "$R1" "same key, same body: the same resource"
assert_jq "$CB_BODY" .operation_id "$OP1" "same key, same body: the same operation"
assert_eq "$(resource_count)" "$count" "the replay created nothing"
request vm-other "$PLAN" "$SYSTEM" -H "Idempotency-Key: key-one"
assert_eq "$CB_STATUS" 409 "same Idempotency-Key, other body: 409"
assert_eq "$(resource_count)" "$count" "the conflicting replay created nothing"
cb_curl POST /v1/resources dev-edu \
        "{\"name\":\"vm-one\",\"plan_id\":\"$PLAN\",\"service_id\":\"$SVC\",\"system_id\":\"$SYSTEM\",\"project_id\":\"$PROJECT\"}" \
        -H "Idempotency-Key: key-one"
assert_jq "$CB_BODY" .id "$R1" "the same body with its keys in another order is the same request"
assert_eq "$(resource_count)" "$count" "still nothing new"

# --- policy refusals create nothing anywhere -----------------------------------

inv_before=$(inventory_names)
count=$(resource_count)
request vm-denied ecs-general-4c8g
assert_eq "$CB_STATUS" 403 "a plan the approval does not name: 403"
assert_jq "$CB_BODY" .error policy_denied "error is policy_denied"
assert_jq "$CB_BODY" '[.violations[].code] | index("ITEM_NOT_APPROVED") != null' true "violation ITEM_NOT_APPROVED"
request vm-denied "$PLAN" edu-unlisted
assert_eq "$CB_STATUS" 403 "a system the approval does not name: 403"
assert_jq "$CB_BODY" '[.violations[].code] | index("SYSTEM_NOT_LISTED") != null' true "violation SYSTEM_NOT_LISTED"
cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"no-such-project\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN\",\"name\":\"x\"}"
assert_eq "$CB_STATUS" 403 "a project without approval: 403"
assert_jq "$CB_BODY" '[.violations[].code] | index("NO_APPROVAL") != null' true "violation NO_APPROVAL"
assert_eq "$(resource_count)" "$count" "refusals created no resource record"
assert_eq "$(inventory_names)" "$inv_before" "refusals created nothing on the provider"
cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_jq "$CB_BODY" '[.. | objects | select(.action? == "resource.request" and .outcome? == "denied")] | length' 3 \
        "each refusal is audited as denied"

# --- quantity: 2 approved of PLAN ------------------------------------------------

# burst N NAME [KEY]: N concurrent requests for PLAN (bounded by curl's
# --max-time); statuses in $CB_TMP/burst.I.code, bodies in $CB_TMP/burst.I.
burst() {
        local n=$1 name=$2 key=${3:-} pids=() i
        local hdr=()
        [ -n "$key" ] && hdr=(-H "Idempotency-Key: $key")
        rm -f "$CB_TMP"/burst.*
        for i in $(seq 1 "$n"); do
                curl -sS --max-time 10 -o "$CB_TMP/burst.$i" -w '%{http_code}' -H "Authorization: Bearer dev-edu" \
                        -H 'Content-Type: application/json' "${hdr[@]}" --data-binary \
                        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN\",\"name\":\"$name\"}" \
                        "$CB_URL/v1/resources" >"$CB_TMP/burst.$i.code" 2>/dev/null &
                pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || true; done
}

# codes: the burst's statuses, sorted, on one line.
codes() {
        local f out=()
        for f in "$CB_TMP"/burst.*.code; do out+=("$(cat "$f")"); done
        printf '%s\n' "${out[@]}" | sort | paste -sd' '
}

# One of two is held: of three requests at once exactly one may pass.
count=$(resource_count)
burst 3 vm-two
assert_eq "$(codes)" "202 403 403" \
        "three concurrent requests for the last approved VM: one 202, two 403"
assert_eq "$(resource_count)" "$((count + 1))" "exactly one resource was added"
R2=$(cat "$CB_TMP"/burst.[0-9] | jq -r 'select(.id != null) | .id')
assert_eq "$(cat "$CB_TMP"/burst.[0-9] | jq -r 'select(.error == "policy_denied") | .violations[].code' | sort -u)" \
        QUANTITY_EXCEEDED "the refused ones say QUANTITY_EXCEEDED"
request vm-three
assert_eq "$CB_STATUS" 403 "a third VM of a plan approved twice: 403"
assert_jq "$CB_BODY" '[.violations[].code] | index("QUANTITY_EXCEEDED") != null' true "violation QUANTITY_EXCEEDED"
if cb_wait_state "$R2" active; then pass "the second VM becomes active"; else fail "second VM: $GOT"; fi

# --- actions -----------------------------------------------------------------

# act ID ACTION TOKEN: POST an action; sets CB_STATUS/CB_BODY, OP.
act() {
        cb_curl POST "/v1/resources/$1/actions" "$3" "{\"action\":\"$2\"}"
        OP=$(printf %s "$CB_BODY" | jq -r '.operation_id // empty' 2>/dev/null || true)
}

act "$R1" stop dev-edu
assert_eq "$CB_STATUS" 202 "stop: 202"
assert_jq "$CB_BODY" .operation_id "$OP" "stop answers its operation"
if cb_wait_state "$R1" stopped; then pass "stop: the VM is stopped"; else fail "after stop: $GOT"; fi
wait_op "$OP" || true
assert_eq "$GOT" succeeded "the stop operation succeeded"
assert_jq "$CB_BODY" .kind stop "the operation is a stop"
cb_curl GET /v1/providers/dev-test/inventory dev-auditor
assert_jq "$CB_BODY" ".domains[] | select(.resource_id == \"$R1\") | .state" shutoff "the provider has it shut off"

act "$R1" stop dev-edu
assert_eq "$CB_STATUS" 409 "stop a stopped VM: 409"
act "$R1" start dev-edu
assert_eq "$CB_STATUS" 202 "start: 202"
if cb_wait_state "$R1" active; then pass "start: the VM is active"; else fail "after start: $GOT"; fi
wait_op "$OP" || true
assert_eq "$GOT" succeeded "the start operation succeeded"
act "$R1" reboot dev-edu
assert_eq "$CB_STATUS" 202 "reboot: 202"
wait_op "$OP" || true
assert_eq "$GOT" succeeded "the reboot operation succeeded"
cb_curl GET "/v1/resources/$R1" dev-edu
assert_jq "$CB_BODY" .state active "after reboot the VM is active"
act "$R1" start dev-edu
assert_eq "$CB_STATUS" 409 "start an active VM: 409"
assert_jq "$CB_BODY" .error conflict "error is conflict"

# --- who may see and act ---------------------------------------------------------

cb_curl GET "/v1/resources/$R1" dev-health
case "$CB_STATUS" in 403 | 404) pass "another department cannot read it ($CB_STATUS)" ;; *) fail "dev-health GET: $CB_STATUS" ;; esac
act "$R1" stop dev-health
case "$CB_STATUS" in 403 | 404) pass "another department cannot act on it ($CB_STATUS)" ;; *) fail "dev-health action: $CB_STATUS" ;; esac
cb_curl DELETE "/v1/resources/$R1" dev-health
case "$CB_STATUS" in 403 | 404) pass "another department cannot delete it ($CB_STATUS)" ;; *) fail "dev-health DELETE: $CB_STATUS" ;; esac
cb_curl GET /v1/resources dev-health
assert_jq "$CB_BODY" '.resources | length' 0 "another department lists none of it"
cb_curl GET "/v1/operations/$OP1" dev-health
case "$CB_STATUS" in 403 | 404) pass "another department cannot read its operations ($CB_STATUS)" ;; *) fail "dev-health op: $CB_STATUS" ;; esac

cb_curl GET "/v1/resources/$R1" dev-auditor
assert_eq "$CB_STATUS" 200 "the auditor reads it"
cb_curl GET "/v1/resources" dev-auditor
assert_jq "$CB_BODY" '.resources | length' 2 "the auditor lists every resource"
act "$R1" stop dev-auditor
assert_eq "$CB_STATUS" 403 "the auditor cannot act"
cb_curl DELETE "/v1/resources/$R1" dev-auditor
assert_eq "$CB_STATUS" 403 "the auditor cannot delete"
cb_curl POST /v1/resources dev-auditor \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN\",\"name\":\"x\"}"
assert_eq "$CB_STATUS" 403 "the auditor cannot request"
cb_curl GET "/v1/resources/$R1" dev-edu
assert_jq "$CB_BODY" .state active "refused actions changed nothing"

act "$R1" stop dev-operator
assert_eq "$CB_STATUS" 202 "the operator may stop it"
if cb_wait_state "$R1" stopped; then pass "stopped by the operator"; else fail "operator stop: $GOT"; fi
act "$R1" start dev-authority
assert_eq "$CB_STATUS" 202 "the authority may start it"
if cb_wait_state "$R1" active; then pass "started by the authority"; else fail "authority start: $GOT"; fi

# --- input errors ------------------------------------------------------------------

cb_curl GET /v1/resources/r-0000000000000000 dev-operator
assert_eq "$CB_STATUS" 404 "unknown resource: 404"
act r-0000000000000000 stop dev-operator
assert_eq "$CB_STATUS" 404 "action on an unknown resource: 404"
cb_curl DELETE /v1/resources/r-0000000000000000 dev-operator
assert_eq "$CB_STATUS" 404 "DELETE an unknown resource: 404"
cb_curl GET /v1/operations/op-0000000000000000 dev-operator
assert_eq "$CB_STATUS" 404 "unknown operation: 404"
count=$(resource_count)
cb_curl POST /v1/resources dev-edu '{"project_id": '
assert_eq "$CB_STATUS" 400 "malformed JSON: 400"
assert_jq "$CB_BODY" .error malformed_json "error is malformed_json"
cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN2\",\"name\":\"x\",\"colour\":\"red\"}"
assert_eq "$CB_STATUS" 422 "an unknown field: 422"
assert_jq "$CB_BODY" .field colour "the error names the unknown field"
cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN2\"}"
assert_eq "$CB_STATUS" 422 "a missing name: 422"
assert_jq "$CB_BODY" .field name "the error names the missing field"
cb_curl GET "/v1/resources?project_id=Not%20An%20Id" dev-edu
assert_eq "$CB_STATUS" 400 "a project_id filter that is not an id: 400"
request vm-key "$PLAN2" "$SYSTEM" -H "Idempotency-Key: $(head -c 201 /dev/zero | tr '\0' k)"
assert_eq "$CB_STATUS" 400 "an Idempotency-Key over 200 bytes: 400"
act "$R1" explode dev-edu
assert_eq "$CB_STATUS" 422 "action explode: 422"
assert_jq "$CB_BODY" .field action "the error names action"
cb_curl POST "/v1/resources/$R1/actions" dev-edu '{"action":"stop","force":true}'
assert_eq "$CB_STATUS" 422 "an unknown field in an action: 422"
assert_eq "$(resource_count)" "$count" "input errors created nothing"

# --- the catalogue revision stays pinned ----------------------------------------------

request vm-rev1 "$PLAN2"
assert_eq "$CB_STATUS" 202 "a VM of a plan whose spec leaves kind to the default: 202"
R3=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$R3" active; then pass "it becomes active"; else fail "R3: $GOT"; fi
fen_rev1=$(printf %s "$CB_BODY" | jq .committed_fen)

cb_curl GET /v1/catalog/services/$SVC dev-operator
jq --arg plan "$PLAN2" '{id, name, display_name, category, driver, description, secure_controllable,
        max_protection_level, bindable, tags, plans} | .plans |= map(if .id == $plan then .price.amount_fen *= 2 else . end)
        | .plans |= map(del(.spec.os_image))' \
        <<<"$CB_BODY" >"$CB_TMP/rev2.json" 2>/dev/null || cp etc/catalog/$SVC.json "$CB_TMP/rev2.json"
# (without os_image: no image is registered here, and only a plan naming a
# registered image may be submitted)
cb_curl PUT /v1/catalog/services/$SVC dev-operator "@$CB_TMP/rev2.json"
assert_eq "$CB_STATUS" 200 "the operator drafts revision 2 of $SVC"
assert_jq "$CB_BODY" .revision 2 "the draft is revision 2"
cb_curl POST /v1/catalog/services/$SVC/submit dev-operator
assert_eq "$CB_STATUS" 200 "the operator submits it"
cb_curl POST /v1/catalog/services/$SVC/approve dev-authority
assert_eq "$CB_STATUS" 200 "the authority signs it"
cb_curl POST /v1/catalog/services/$SVC/approve dev-finance
assert_eq "$CB_STATUS" 200 "finance signs it"
assert_jq "$CB_BODY" .status published "revision 2 is published"

for id in "$R1" "$R3"; do
        cb_curl GET "/v1/resources/$id" dev-edu
        assert_jq "$CB_BODY" .catalog_revision 1 "an existing resource keeps catalog_revision 1"
done
request vm-rev2 "$PLAN2"
assert_eq "$CB_STATUS" 202 "a request after the new revision: 202"
R4=$(printf %s "$CB_BODY" | jq -r .id)
cb_curl GET "/v1/resources/$R4" dev-edu
assert_jq "$CB_BODY" .catalog_revision 2 "the new resource is ordered under revision 2"
fen_rev2=$(printf %s "$CB_BODY" | jq .committed_fen)
assert_eq "$fen_rev2" "$((fen_rev1 * 2))" "it is priced at revision 2 (twice the price, twice the commitment)"
if cb_wait_state "$R4" active; then pass "the revision-2 VM becomes active"; else fail "R4: $GOT"; fi
act "$R3" reboot dev-edu
wait_op "$OP" || true
assert_eq "$GOT" succeeded "a revision-1 VM still works after the catalogue moved on"

# --- deletion ------------------------------------------------------------------------

ref1=$(printf %s "$RES1" | jq -r .provider_ref)
cb_curl DELETE "/v1/resources/$R1" dev-edu
assert_eq "$CB_STATUS" 202 "DELETE: 202"
assert_jq "$CB_BODY" .state deprovisioning "DELETE answers deprovisioning"
OPD=$(printf %s "$CB_BODY" | jq -r .operation_id)
if cb_wait_state "$R1" deleted; then pass "the VM is deleted"; else fail "after DELETE: $GOT"; fi
wait_op "$OPD" || true
assert_eq "$GOT" succeeded "the deprovision operation succeeded"
assert_jq "$CB_BODY" .kind deprovision "the operation is a deprovision"
cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_jq "$CB_BODY" "[.domains[] | select(.resource_id == \"$R1\" or .provider_ref == \"$ref1\")] | length" 0 \
        "the domain is gone from the provider"
act "$R1" start dev-edu
assert_eq "$CB_STATUS" 409 "a deleted VM cannot be started"
cb_curl DELETE "/v1/resources/$R1" dev-edu
assert_eq "$CB_STATUS" 409 "a deleted VM cannot be deleted again"
count=$(resource_count)
burst 5 vm-again key-again
assert_eq "$(codes)" "202 202 202 202 202" \
        "a deleted VM no longer counts against the quantity: five concurrent replays of one key, all 202"
assert_eq "$(cat "$CB_TMP"/burst.[0-9] | jq -r .id | sort -u | wc -l)" 1 "all five name the same resource"
assert_eq "$(resource_count)" "$((count + 1))" "one resource was added, not five"

# --- a block volume ------------------------------------------------------------------

volume_request() {
        cb_curl POST /v1/resources dev-edu \
                "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"evs-block\",\"plan_id\":\"evs-ssd-100g\",\"name\":\"$1\"}"
}
volume_request data-disk
assert_eq "$CB_STATUS" 202 "a department requests an approved block volume: 202"
V1=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$V1" active; then pass "the volume becomes active"; else fail "volume not active (state $GOT)"; fi
assert_jq "$CB_BODY" .kind volume "the record says kind volume"
assert_jq "$CB_BODY" '.provider_ref | endswith("/cb-'"$V1"'.img")' true "its provider_ref is the volume's key"
cb_curl GET "/v1/resources/$R1" dev-operator
assert_jq "$CB_BODY" .kind vm "a VM's record says kind vm"
cb_curl GET /v1/providers/dev-test/inventory dev-operator
VOL=$(printf %s "$CB_BODY" | jq --arg n "cb-$V1.img" '.volumes[] | select(.name == $n)')
assert_jq "$VOL" .managed true "the inventory lists the volume as managed"
assert_jq "$VOL" .resource_id "$V1" "with its resource id"
assert_jq "$VOL" .size_gib 100 "and the plan's size (100 GiB)"
assert_jq "$CB_BODY" "[.domains[] | select(.name == \"cb-$V1\")] | length" 0 "and no domain for it"
for a in start stop reboot; do
        act "$V1" "$a" dev-edu
        assert_eq "$CB_STATUS" 409 "$a on a block volume: 409"
        assert_contains "$CB_BODY" "block volume" "and the reason says it is a block volume"
done
volume_request data-disk-2
assert_eq "$CB_STATUS" 403 "a second volume beyond the approved quantity of 1: 403"
assert_jq "$CB_BODY" '[.violations[].code] | index("QUANTITY_EXCEEDED") != null' true "QUANTITY_EXCEEDED"
cb_curl DELETE "/v1/resources/$V1" dev-edu
assert_eq "$CB_STATUS" 202 "the department deletes its volume: 202"
if cb_wait_state "$V1" deleted; then pass "the volume is deleted"; else fail "volume not deleted (state $GOT)"; fi
cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_jq "$CB_BODY" "[.volumes[] | select(.name == \"cb-$V1.img\")] | length" 0 "the volume is gone from the provider"
volume_request data-disk-3
assert_eq "$CB_STATUS" 202 "once deleted, it no longer counts: a new volume is accepted"

# --- the audit trail -----------------------------------------------------------------

cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_eq "$CB_STATUS" 200 "the auditor reads the audit trail"
AUDIT=$CB_BODY
# audit_count ACTION OBJECT [OUTCOME]: records of that action on that object.
audit_count() {
        printf %s "$AUDIT" | jq --arg a "$1" --arg o "$2" --arg out "${3:-}" \
                '[.. | objects | select(.action? == $a and .object? == $o and ($out == "" or .outcome? == $out))] | length'
}
assert_jq "$AUDIT" "[.. | objects | select(.action? == \"resource.request\" and .outcome? == \"ok\" and .detail.resource? == \"$R1\")] | length" \
        1 "the audit trail has one resource.request for the VM"
assert_jq "$AUDIT" "[.. | objects | select(.action? == \"resource.request\" and .detail.resource? == \"$R1\") | .principal][0]" \
        dev-edu "the request record names the department's principal"
assert_eq "$(audit_count resource.provision.done "resource:$R1" ok)" 1 "the audit trail has resource.provision.done"
# edu's stop, the operator's stop; the refused ones (stopped already, auditor, dev-health) are not actions.
assert_eq "$(audit_count resource.stop "resource:$R1" ok)" 2 "the audit trail has each resource.stop"
assert_eq "$(audit_count resource.stop.done "resource:$R1" ok)" 2 "and each stop's completion"
assert_eq "$(audit_count resource.start "resource:$R1" ok)" 2 "the audit trail has each resource.start"
assert_eq "$(audit_count resource.reboot "resource:$R1" ok)" 1 "the audit trail has resource.reboot"
assert_eq "$(audit_count resource.delete "resource:$R1" ok)" 1 "the audit trail has resource.delete"
assert_eq "$(audit_count resource.deprovision.done "resource:$R1" ok)" 1 "the audit trail has resource.deprovision.done"
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" .ok true "the audit chain verifies"

# Last: a clean stop (under ASan, a leak or error makes the exit status non-zero).
cb_stop_daemon

cb_done
