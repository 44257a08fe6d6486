#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Resources on D-Bus against the real daemon on a private bus and libvirt's
# test driver (provider "dev-test" of tests/integration/test.conf): a
# signed approval, then RequestResource, the resource's own object (found
# through the fallback vtable, listed by the node enumerator), its State
# property from provisioning to active, PropertiesChanged naming what
# changed without its value (another department listening on the bus sees
# no state, no provider), deletion as the object's disappearance, Stop/Start/
# Reboot/Deprovision, policy refusals with their rule codes, who may see
# and act (by UID), input errors by D-Bus error name, idempotent replays,
# `cloudbrokerctl resource ...`, and docs/dbus/org.cloudbroker.Broker1.
# Resources.xml / ...Resource.xml held against the live introspection.
#
# Usage (from the repository root, as root for setpriv):
#   tests/integration/test-dbus-resources.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon

DEST=org.cloudbroker.Broker1
ROOT=/org/cloudbroker/Broker1
PREFIX=$ROOT/resource
RIFACE=org.cloudbroker.Broker1.Resources
OIFACE=org.cloudbroker.Broker1.Resource
OPERATOR=0 EDU=1001 AUTHORITY=1002 HEALTH=1004 AUDITOR=1005 STRANGER=65534
CTL="$CB_BUILD/cloudbrokerctl"
export CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS

PROJECT=lf-edu-dbus-test
SYSTEM=edu-portal
SVC=ecs-general
PLAN=ecs-general-2c4g # approved: 2
OTHER_PLAN=ecs-general-1c2g # not in the approval

# --- set-up: a system in the directory, a signed approval, a connected provider ----

cb_add_system "$SYSTEM" edu 2 false compliant 教育门户

cat >"$CB_TMP/approval.json" <<JSON
{
  "approval_no": "临政信审〔2026〕77号",
  "project_id": "$PROJECT",
  "project_name": "资源 D-Bus 集成测试项目",
  "department": "edu",
  "revision": 1,
  "valid_from": "2026-01-01",
  "valid_until": "2027-12-31",
  "budget": {"construction_fen": 100000000000, "om_fen": 100000000000},
  "systems": ["$SYSTEM"],
  "items": [
    {"service_id": "$SVC", "plan_id": "$PLAN", "quantity": 2}
  ],
  "requires_secure_controllable": false,
  "dedicated_network_consent": false
}
JSON
"$CTL" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority \
        "$CB_TMP/approval.json" >"$CB_TMP/approval.envelope.json"
cb_curl POST /v1/approvals dev-edu "@$CB_TMP/approval.envelope.json"
assert_eq "$CB_STATUS" 201 "set-up: the signed approval is accepted"

for _ in $(seq 1 100); do
        cb_curl GET /v1/providers dev-operator
        [ "$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "dev-test") | .status' 2>/dev/null)" = connected ] &&
                break
        sleep 0.1
done
assert_jq "$CB_BODY" '.providers[] | select(.name == "dev-test") | .status' connected \
        "set-up: provider dev-test is connected"

# --- helpers ------------------------------------------------------------------

request_doc() { # request_doc NAME [PLAN] [EXTRA_MEMBERS]
        printf '{"project_id":"%s","system_id":"%s","service_id":"%s","plan_id":"%s","name":"%s"%s}' \
                "$PROJECT" "$SYSTEM" "$SVC" "${2:-$PLAN}" "$1" "${3:-}"
}


# prop UID PATH NAME: a property of a resource as UID; empty when refused
# (PROP_ERR then holds busctl's message).
prop() {
        PROP_ERR=
        as_uid "$1" busctl --address="$CB_BUS_ADDRESS" --json=short get-property "$DEST" "$2" "$OIFACE" "$3" \
                2>"$CB_TMP/prop.err" | jq -r .data 2>/dev/null || true
        PROP_ERR=$(cat "$CB_TMP/prop.err")
}

# wait_state PATH STATE: polls State as the owner (at most 10 s); sets GOT.
wait_state() {
        GOT=
        for _ in $(seq 1 100); do
                GOT=$(prop $EDU "$1" State)
                [ "$GOT" = "$2" ] && return 0
                sleep 0.1
        done
        return 1
}

# wait_gone PATH: polls until the object no longer exists (at most 10 s).
wait_gone() {
        for _ in $(seq 1 100); do
                as_uid $EDU busctl --address="$CB_BUS_ADDRESS" get-property "$DEST" "$1" "$OIFACE" State \
                        >/dev/null 2>&1 || return 0
                sleep 0.1
        done
        return 1
}

# wait_op OP_ID: polls GetOperation until the operation finished (at most 10 s); sets GOT.
wait_op() {
        GOT=
        for _ in $(seq 1 100); do
                bcall $EDU $ROOT $RIFACE GetOperation s "$1"
                GOT=$(printf %s "$OUT" | jq -r '.[0] | fromjson | .state' 2>/dev/null || true)
                case "$GOT" in succeeded | failed) return 0 ;; esac
                sleep 0.1
        done
        return 1
}

list_paths() { # list_paths UID: ListResources, one path a line
        bcall "$1" $ROOT $RIFACE ListResources
        printf %s "$OUT" | jq -r '.[0][]' 2>/dev/null || true
}

tree_paths() { # tree_paths UID: every object path introspection shows to UID
        as_uid "$1" busctl --address="$CB_BUS_ADDRESS" tree --list "$DEST" 2>&1 || true
}

# signals_of PATH LOG: the messages of object PATH in a dbus-monitor log,
# each its header line and its indented arguments.
signals_of() {
        awk -v P="path=$1;" '/^[^ ]/ { keep = index($0, P) > 0 } keep' "$2"
}

# signal_count PATH LOG: how many PropertiesChanged of PATH the log holds.
signal_count() {
        signals_of "$1" "$2" | grep -c 'member=PropertiesChanged' || true
}

# wait_signals PATH LOG N: waits (at most 5 s) until LOG holds N
# PropertiesChanged of PATH; sets GOT to the count.
wait_signals() {
        GOT=0
        for _ in $(seq 1 50); do
                GOT=$(signal_count "$1" "$2")
                [ "$GOT" -ge "$3" ] && return 0
                sleep 0.1
        done
        return 1
}

# --- request, the object, its states ------------------------------------------

# PropertiesChanged of every resource from here on, heard twice: by root's
# monitor, which sees all traffic, and by another department (HEALTH) as an
# ordinary listener: a UID that is no monitor still receives every
# broadcast signal it subscribes to. Both bounded by timeout and killed by
# PID at the end.
PC_MATCH="type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='$PREFIX'"
timeout 120 dbus-monitor --address "$CB_BUS_ADDRESS" "$PC_MATCH" >"$CB_TMP/monitor.log" 2>&1 &
MONITOR_PID=$!
CB_PIDS+=("$MONITOR_PID")
as_uid $HEALTH timeout 120 dbus-monitor --address "$CB_BUS_ADDRESS" "$PC_MATCH" \
        >"$CB_TMP/monitor-health.log" 2>&1 &
HEALTH_MONITOR_PID=$!
CB_PIDS+=("$HEALTH_MONITOR_PID")
sleep 0.5

ok $EDU "a department requests a VM over D-Bus" $ROOT $RIFACE RequestResource s \
        "$(request_doc vm-dbus-one "$PLAN" ',"idempotency_key":"dbus-key-1"')"
P1=$(printf %s "$OUT" | jq -r '.[0]')
OP1=$(printf %s "$OUT" | jq -r '.[1]')
assert_contains "$P1" "$PREFIX/r_2d" "RequestResource returns the resource's object path (escaped id)"
assert_contains "$OP1" "op-" "RequestResource returns the provision operation's id"

first_state=$(prop $EDU "$P1" State)
case "$first_state" in
provisioning | active) pass "State right after the request is $first_state" ;;
*) fail "State right after the request is '$first_state' ($PROP_ERR)" ;;
esac
if wait_state "$P1" active; then pass "State becomes active"; else fail "State is '$GOT', not active"; fi

R1=$(prop $EDU "$P1" Id)
assert_contains "$R1" "r-" "Id is the resource id"
cb_curl GET "/v1/resources/$R1" dev-edu
assert_eq "$CB_STATUS" 200 "the D-Bus resource is the REST resource"
assert_jq "$CB_BODY" .state active "REST agrees on the state"
assert_eq "$(prop $EDU "$P1" Name)" vm-dbus-one "Name"
assert_eq "$(prop $EDU "$P1" ProjectId)" "$PROJECT" "ProjectId"
assert_eq "$(prop $EDU "$P1" ServiceId)" "$SVC" "ServiceId"
assert_eq "$(prop $EDU "$P1" PlanId)" "$PLAN" "PlanId"
assert_eq "$(prop $EDU "$P1" Provider)" dev-test "Provider"

ok $EDU "GetAll of the resource's properties" "$P1" org.freedesktop.DBus.Properties GetAll s "$OIFACE"
assert_jq "$OUT" '.[0] | keys | join(",")' "Addresses,Id,Kind,Name,PlanId,ProjectId,Provider,ServiceId,State" \
        "GetAll has the nine properties"
assert_eq "$(prop $EDU "$P1" Kind)" vm "Kind: a VM"

if wait_op "$OP1"; then pass "the provision operation finishes"; else fail "operation is '$GOT'"; fi
assert_jq "$OUT" '.[0] | fromjson | "\(.state) \(.kind) \(.resource_id)"' "succeeded provision $R1" \
        "GetOperation: a succeeded provision of the resource"

assert_contains "$(list_paths $EDU)" "$P1" "ListResources of the department holds the path"
assert_contains "$(list_paths $OPERATOR)" "$P1" "ListResources of an operator holds the path"
assert_contains "$(tree_paths $EDU)" "$P1" "busctl tree shows the object to its department"
assert_contains "$(tree_paths $OPERATOR)" "$P1" "busctl tree shows the object to an operator"

# Two changes so far: the request recorded (provisioning), then the
# provision finished (active).
if wait_signals "$P1" "$CB_TMP/monitor.log" 2; then
        pass "a PropertiesChanged for each change of the resource ($GOT)"
else
        fail "$GOT PropertiesChanged for the resource, expected 2 or more"
fi
p1_signals=$(signals_of "$P1" "$CB_TMP/monitor.log")
assert_contains "$p1_signals" "path=$P1; interface=org.freedesktop.DBus.Properties; member=PropertiesChanged" \
        "PropertiesChanged is emitted for the resource"
assert_contains "$p1_signals" "string \"$OIFACE\"" "PropertiesChanged names the Resource interface"
assert_contains "$p1_signals" 'string "State"' "PropertiesChanged names State (invalidated)"
assert_contains "$p1_signals" 'string "Provider"' "PropertiesChanged names Provider (invalidated)"
# changed_properties (a{sv}) would show each value as a dict entry with a
# variant; invalidated_properties (as) is names only.
assert_not_contains "$p1_signals" "variant" "PropertiesChanged carries no value (changed_properties is empty)"
assert_not_contains "$p1_signals" "dict entry" "PropertiesChanged has no changed_properties entry"
for value in active provisioning dev-test vm-dbus-one "$PROJECT" "$PLAN"; do
        assert_not_contains "$(cat "$CB_TMP/monitor.log")" "string \"$value\"" \
                "no PropertiesChanged on the bus carries \"$value\""
done
assert_eq "$(prop $EDU "$P1" State)" active "after the signal, the owner's Get answers State active"
assert_eq "$(prop $EDU "$P1" Provider)" dev-test "after the signal, the owner's Get answers the Provider"

# What another department hears: that something changed, not what.
if wait_signals "$P1" "$CB_TMP/monitor-health.log" 2; then
        pass "another department listening on the bus receives the resource's PropertiesChanged ($GOT)"
else
        fail "another department's listener received $GOT PropertiesChanged (log: $(head -c 600 "$CB_TMP/monitor-health.log"))"
fi
health_log=$(cat "$CB_TMP/monitor-health.log")
assert_contains "$(signals_of "$P1" "$CB_TMP/monitor-health.log")" 'string "State"' \
        "another department's listener sees State named"
for value in active provisioning dev-test; do
        assert_not_contains "$health_log" "string \"$value\"" \
                "another department's listener sees no \"$value\" in any signal"
done
assert_not_contains "$health_log" "variant" "another department's listener sees no value at all"
# Whoever may not read a resource finds no object there, exactly as at a
# path that names nothing (issue 8, defect 5; test-oracles.sh compares the
# messages).
refused $HEALTH org.freedesktop.DBus.Error.UnknownObject "another department that heard the signal cannot Get the State" "$P1" \
        org.freedesktop.DBus.Properties.Get "string:$OIFACE" string:State

# --- idempotency ----------------------------------------------------------------

ok $EDU "the same request with the same key again" $ROOT $RIFACE RequestResource s \
        "$(request_doc vm-dbus-one "$PLAN" ',"idempotency_key":"dbus-key-1"')"
assert_jq "$OUT" '.[0]' "$P1" "an idempotent replay returns the same path"
assert_jq "$OUT" '.[1]' "$OP1" "an idempotent replay returns the same operation"
refused $EDU Conflict "the same key with another request is a conflict" $ROOT $RIFACE.RequestResource \
        "string:$(request_doc vm-dbus-other "$PLAN" ',"idempotency_key":"dbus-key-1"')"
cb_curl POST /v1/resources dev-edu "$(request_doc vm-dbus-one)" -H "Idempotency-Key: dbus-key-1"
assert_eq "$CB_STATUS" 202 "the D-Bus key replays over REST too"
assert_jq "$CB_BODY" .id "$R1" "REST replays the D-Bus resource"
refused $EDU InvalidField "an idempotency_key that is no string" $ROOT $RIFACE.RequestResource \
        "string:$(request_doc vm-x "$PLAN" ',"idempotency_key":7')"
assert_contains "$ERR" idempotency_key "the refusal names idempotency_key"

# --- who may see and act ------------------------------------------------------------

STATE_AS_HEALTH=$(prop $HEALTH "$P1" State)
assert_eq "$STATE_AS_HEALTH" "" "another department cannot read the State"
refused $HEALTH org.freedesktop.DBus.Error.UnknownObject "another department's property read: no such object" "$P1" \
        org.freedesktop.DBus.Properties.Get "string:$OIFACE" string:State
refused $HEALTH org.freedesktop.DBus.Error.UnknownObject "another department cannot Stop" "$P1" $OIFACE.Stop
refused $HEALTH org.freedesktop.DBus.Error.UnknownObject "another department cannot Deprovision" "$P1" $OIFACE.Deprovision
assert_not_contains "$(list_paths $HEALTH)" "$P1" "ListResources of another department hides it"
assert_not_contains "$(tree_paths $HEALTH)" "$P1" "busctl tree hides it from another department"
refused $HEALTH NotFound "another department cannot read the operation (an unknown one to it)" $ROOT $RIFACE.GetOperation \
        "string:$OP1"
refused $STRANGER AccessDenied "a UID that is no principal cannot list" $ROOT $RIFACE.ListResources
assert_contains "$ERR" "UID $STRANGER is not a known principal" "the refusal names the UID"
refused $STRANGER org.freedesktop.DBus.Error.UnknownObject "a UID that is no principal finds no object to read" "$P1" \
        org.freedesktop.DBus.Properties.Get "string:$OIFACE" string:State
assert_not_contains "$(tree_paths $STRANGER)" "$P1" "busctl tree hides it from an unknown UID"

assert_eq "$(prop $AUDITOR "$P1" State)" active "an auditor reads the State"
assert_contains "$(list_paths $AUDITOR)" "$P1" "an auditor lists every resource"
refused $AUDITOR AccessDenied "an auditor cannot Stop" "$P1" $OIFACE.Stop
refused $AUTHORITY AccessDenied "the authority may not request resources" $ROOT $RIFACE.RequestResource \
        "string:$(request_doc vm-authority)"

# --- actions --------------------------------------------------------------------------

refused $EDU Conflict "Start of an active resource is a conflict" "$P1" $OIFACE.Start
signals_before_stop=$(signal_count "$P1" "$CB_TMP/monitor.log")
ok $EDU "the department stops its VM" "$P1" $OIFACE Stop
OPS=$(printf %s "$OUT" | jq -r '.[0]')
assert_contains "$OPS" "op-" "Stop returns an operation id"
if wait_state "$P1" stopped; then pass "State becomes stopped"; else fail "State is '$GOT', not stopped"; fi
if wait_op "$OPS"; then pass "the stop operation finishes"; else fail "stop operation is '$GOT'"; fi
assert_jq "$OUT" '.[0] | fromjson | "\(.state) \(.kind)"' "succeeded stop" "GetOperation: a succeeded stop"
if wait_signals "$P1" "$CB_TMP/monitor.log" $((signals_before_stop + 1)); then
        pass "Stop is announced by PropertiesChanged"
else
        fail "no PropertiesChanged after Stop ($GOT, before: $signals_before_stop)"
fi
assert_not_contains "$(cat "$CB_TMP/monitor.log")" 'string "stopped"' "PropertiesChanged does not carry stopped"
assert_not_contains "$(cat "$CB_TMP/monitor-health.log")" 'string "stopped"' \
        "another department's listener does not see stopped"
refused $EDU Conflict "Stop of a stopped resource is a conflict" "$P1" $OIFACE.Stop
refused $EDU Conflict "Reboot of a stopped resource is a conflict" "$P1" $OIFACE.Reboot

ok $EDU "the department starts its VM" "$P1" $OIFACE Start
if wait_state "$P1" active; then pass "State becomes active again"; else fail "State is '$GOT', not active"; fi
OPR=
ok $AUTHORITY "the authority reboots the VM" "$P1" $OIFACE Reboot
OPR=$(printf %s "$OUT" | jq -r '.[0]')
if wait_op "$OPR"; then pass "the reboot finishes"; else fail "reboot operation is '$GOT'"; fi
assert_jq "$OUT" '.[0] | fromjson | .state' succeeded "the reboot succeeded"
assert_eq "$(prop $EDU "$P1" State)" active "a rebooted VM is active"

# --- policy refusals ------------------------------------------------------------------

ok $EDU "a second VM of the approved two" $ROOT $RIFACE RequestResource s "$(request_doc vm-dbus-two)"
P2=$(printf %s "$OUT" | jq -r '.[0]')
if wait_state "$P2" active; then pass "the second VM becomes active"; else fail "second VM is '$GOT'"; fi

refused $EDU PolicyDenied "a third VM exceeds the approved quantity" $ROOT $RIFACE.RequestResource \
        "string:$(request_doc vm-dbus-three)"
assert_contains "$ERR" QUANTITY_EXCEEDED "the refusal names the rule QUANTITY_EXCEEDED"
assert_contains "$ERR" '"article":20' "the refusal names Art. 20"
refused $EDU PolicyDenied "a plan the approval does not hold is refused" $ROOT $RIFACE.RequestResource \
        "string:$(request_doc vm-dbus-other-plan "$OTHER_PLAN")"
assert_contains "$ERR" ITEM_NOT_APPROVED "the refusal names the rule ITEM_NOT_APPROVED"
refused $HEALTH PolicyDenied "another department cannot request for edu's project (an unknown one to it)" $ROOT \
        $RIFACE.RequestResource "string:$(request_doc vm-health)"
assert_contains "$ERR" NO_APPROVAL "the refusal is the one for an unknown project"
assert_eq "$(list_paths $OPERATOR | grep -c .)" 2 "refused requests created no object"
cb_curl GET /v1/resources dev-operator
assert_jq "$CB_BODY" '.resources | length' 2 "refused requests created no resource"

# --- input errors -----------------------------------------------------------------------

refused $EDU MalformedJson "malformed JSON is refused" $ROOT $RIFACE.RequestResource 'string:{"project_id":
 }'
assert_contains "$ERR" "line 2, column" "the refusal gives line and column"
refused $EDU MalformedJson "an empty request is malformed JSON" $ROOT $RIFACE.RequestResource string:
refused $EDU InvalidField "a request without a name is refused" $ROOT $RIFACE.RequestResource \
        "string:{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN\"}"
refused $EDU NotFound "GetOperation of an unknown id" $ROOT $RIFACE.GetOperation string:op-no-such-operation
refused $EDU org.freedesktop.DBus.Error.UnknownObject "an unknown resource path is no object" \
        "$PREFIX/r_2dnosuchresource" $OIFACE.Stop
refused $EDU org.freedesktop.DBus.Error.UnknownObject "a path below a resource is no object" \
        "$P1/deeper" $OIFACE.Stop

# --- deprovision ------------------------------------------------------------------------

ok $EDU "the department deprovisions its second VM" "$P2" $OIFACE Deprovision
OPD=$(printf %s "$OUT" | jq -r '.[0]')
if wait_gone "$P2"; then pass "the deprovisioned object disappears"; else fail "the object is still there"; fi
if wait_op "$OPD"; then pass "the deprovision finishes"; else fail "deprovision operation is '$GOT'"; fi
assert_jq "$OUT" '.[0] | fromjson | "\(.state) \(.kind)"' "succeeded deprovision" \
        "GetOperation: a succeeded deprovision"
R2=${P2#"$PREFIX/r_2d"}
cb_curl GET "/v1/resources/r-$R2" dev-operator
assert_jq "$CB_BODY" .state deleted "the record says deleted"
assert_not_contains "$(list_paths $EDU)" "$P2" "ListResources leaves the deleted resource out"
assert_not_contains "$(tree_paths $EDU)" "$P2" "busctl tree leaves the deleted resource out"
refused $EDU org.freedesktop.DBus.Error.UnknownObject "a deleted resource takes no more calls" "$P2" \
        $OIFACE.Start
# Requested, active, deprovisioning, deleted: four changes, four signals
# (reconcile may add more), the last one when the object went away.
if wait_signals "$P2" "$CB_TMP/monitor.log" 4; then
        pass "the deletion is announced by a last PropertiesChanged ($GOT in all)"
else
        fail "$GOT PropertiesChanged for the deleted resource, expected 4 or more"
fi
p2_last=$(signals_of "$P2" "$CB_TMP/monitor.log" | awk '/^[^ ]/ { block = "" } { block = block $0 "\n" } END { printf "%s", block }')
assert_contains "$p2_last" 'string "State"' "the last PropertiesChanged names State (invalidated)"
assert_not_contains "$(signals_of "$P2" "$CB_TMP/monitor.log")" "variant" \
        "no PropertiesChanged of the deleted resource carries a value"
for value in deleted deprovisioning; do
        assert_not_contains "$(cat "$CB_TMP/monitor.log")" "string \"$value\"" \
                "no PropertiesChanged on the bus carries \"$value\""
        assert_not_contains "$(cat "$CB_TMP/monitor-health.log")" "string \"$value\"" \
                "another department's listener sees no \"$value\""
done
# A reader who heard it asks, and learns the object is gone; the record
# (REST, checked) still says deleted.
refused $EDU org.freedesktop.DBus.Error.UnknownObject "after the last signal the owner's Get answers UnknownObject" \
        "$P2" org.freedesktop.DBus.Properties.Get "string:$OIFACE" string:State
refused $AUDITOR org.freedesktop.DBus.Error.UnknownObject "an auditor's Get on the deleted resource: UnknownObject" \
        "$P2" org.freedesktop.DBus.Properties.Get "string:$OIFACE" string:State
refused $EDU org.freedesktop.DBus.Error.UnknownObject "the owner's Introspect of the deleted resource: UnknownObject" \
        "$P2" org.freedesktop.DBus.Introspectable.Introspect
# Whoever may not read it gets what it got before the deletion, so not
# even the error tells it the resource was deleted: no object, before and after.
refused $HEALTH org.freedesktop.DBus.Error.UnknownObject "another department's Get on the deleted resource: still no object" \
        "$P2" org.freedesktop.DBus.Properties.Get "string:$OIFACE" string:State
refused $HEALTH org.freedesktop.DBus.Error.UnknownObject "another department's Start on the deleted resource: still no object" \
        "$P2" $OIFACE.Start
refused $STRANGER org.freedesktop.DBus.Error.UnknownObject "an unknown UID's Get on the deleted resource: still no object" \
        "$P2" org.freedesktop.DBus.Properties.Get "string:$OIFACE" string:State
assert_not_contains "$(tree_paths $HEALTH)" "$P2" "busctl tree still hides it from another department"

# --- cloudbrokerctl resource ---------------------------------------------------------------

out=$("$CTL" resource list 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 0 "ctl resource list as the operator"
assert_contains "$out" "ID" "the list has a header"
line=$(printf '%s\n' "$out" | grep "$R1" || true)
assert_contains "$line" "vm-dbus-one" "the list row has the name"
assert_contains "$line" "active" "the list row has the state"
assert_contains "$line" "$PROJECT" "the list row has the project"
assert_contains "$line" "$SVC/$PLAN" "the list row has service/plan"
assert_contains "$line" "dev-test" "the list row has the provider"
assert_not_contains "$out" "r-$R2" "the list leaves the deleted resource out"

out=$("$CTL" --json resource list 2>&1) && rc=0 || rc=$?
assert_jq "$out" "[.[] | .id] == [\"$R1\"]" true "ctl --json resource list"

out=$("$CTL" resource show "$R1" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 0 "ctl resource show"
assert_contains "$out" "vm-dbus-one" "show prints the name"
assert_contains "$(printf '%s\n' "$out" | grep '^State:')" active "show prints the state"
assert_contains "$out" "$P1" "show prints the object path"
assert_contains "$(printf '%s\n' "$out" | grep '^Kind:')" vm "show prints the kind"
out=$("$CTL" --json resource show "$R1" 2>&1) && rc=0 || rc=$?
assert_jq "$out" '"\(.id) \(.state) \(.plan_id) \(.provider) \(.kind)"' "$R1 active $PLAN dev-test vm" "ctl --json resource show"

out=$(as_uid $HEALTH "$CTL" resource show "$R1" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 4 "ctl resource show of another department's resource fails with 4"
assert_contains "$out" "no resource '$R1'" "ctl says there is no such resource, as for an unknown id"
out=$("$CTL" resource show r-nosuchresource 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 4 "ctl resource show of an unknown id fails with 4"
assert_contains "$out" "no resource 'r-nosuchresource'" "ctl says there is no such resource"
out=$("$CTL" resource show 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "ctl resource show without an id is a usage error"

request_doc vm-ctl >"$CB_TMP/request.json"
chmod 644 "$CB_TMP/request.json"
out=$(as_uid $EDU "$CTL" resource request "$CB_TMP/request.json" --idempotency-key ctl-key-1 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 0 "ctl resource request FILE --idempotency-key as the department"
R3=$(printf %s "$out" | sed -n 's/^\(r-[0-9a-z]*\): requested, operation op-.*/\1/p')
assert_contains "$R3" "r-" "ctl prints the new resource id ($out)"
out=$(as_uid $EDU "$CTL" --json resource request --idempotency-key ctl-key-1 - <"$CB_TMP/request.json" 2>&1) &&
        rc=0 || rc=$?
assert_jq "$out" .id "$R3" "ctl request from stdin with the same key replays the same resource"
P3=$(printf %s "$out" | jq -r .path)
if wait_state "$P3" active; then pass "the ctl-requested VM becomes active"; else fail "it is '$GOT'"; fi
out=$(as_uid $EDU "$CTL" resource request "$CB_TMP/request.json" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "ctl request beyond the approved quantity fails"
assert_contains "$out" "org.cloudbroker.Broker1.Error.PolicyDenied" "ctl prints PolicyDenied"
assert_contains "$out" QUANTITY_EXCEEDED "ctl prints the rule code"

out=$(as_uid $EDU "$CTL" resource stop "$R3" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 0 "ctl resource stop"
assert_contains "$out" "stop requested, operation op-" "ctl stop prints the operation"
if wait_state "$P3" stopped; then pass "ctl stop: stopped"; else fail "it is '$GOT'"; fi
out=$(as_uid $EDU "$CTL" resource start "$R3" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 0 "ctl resource start"
if wait_state "$P3" active; then pass "ctl start: active"; else fail "it is '$GOT'"; fi
out=$(as_uid $AUDITOR "$CTL" resource stop "$R3" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 4 "ctl resource stop as an auditor fails with 4 (AccessDenied)"
assert_contains "$out" "AccessDenied" "ctl prints AccessDenied"
out=$(as_uid $EDU "$CTL" --json resource delete "$R3" 2>&1) && rc=0 || rc=$?
assert_jq "$out" .id "$R3" "ctl --json resource delete"
if wait_gone "$P3"; then pass "ctl delete: the object disappears"; else fail "the object is still there"; fi
out=$(as_uid $EDU "$CTL" resource stop "$R3" 2>&1) && rc=0 || rc=$?
assert_contains "$out" "no resource '$R3'" "ctl on a deleted resource says so"
assert_eq "$rc" 4 "ctl on a deleted resource exits 4"

# --- the documented interfaces are the live ones ------------------------------------------

# interface_members (lib.sh) reads the methods, signals and properties of an interface.

# check_interface IFACE OBJECT_PATH MIN_MEMBERS
check_interface() {
        local iface=$1 path=$2 min=$3 doc=docs/dbus/$1.xml
        if command -v xmllint >/dev/null; then
                if xmllint --noout "$doc" 2>"$CB_TMP/xmllint.err"; then
                        pass "$doc is well-formed XML"
                else
                        fail "$doc is not well-formed: $(cat "$CB_TMP/xmllint.err")"
                fi
        fi
        busctl --address="$CB_BUS_ADDRESS" introspect --xml-interface "$DEST" "$path" >"$CB_TMP/live.xml"
        interface_members "$iface" <"$CB_TMP/live.xml" >"$CB_TMP/live.members"
        interface_members "$iface" <"$doc" >"$CB_TMP/doc.members"
        assert_jq "$(wc -l <"$CB_TMP/live.members")" ". >= $min" true "the live $iface has its members"
        if diff -u "$CB_TMP/doc.members" "$CB_TMP/live.members" >"$CB_TMP/members.diff"; then
                pass "$doc matches the live interface, member by member"
        else
                fail "$doc differs from the live interface (- documented, + live):"
                sed 's/^/#   /' "$CB_TMP/members.diff"
        fi
}

check_interface $RIFACE $ROOT 3
assert_contains "$(cat "$CB_TMP/doc.members")" "method RequestResource(s) -> (os)" \
        "the introspection check sees RequestResource's signature"
check_interface $OIFACE "$P1" 14
assert_contains "$(cat "$CB_TMP/doc.members")" "property State s read" "the introspection check sees properties"

# What PropertiesChanged promises per property (the members compared above
# carry it, so the document and the daemon agree on it too).
assert_eq "$(awk '$1 == "property" { printf "%s %s ", $2, $5 }' "$CB_TMP/live.members")" \
        "Addresses false Id const Kind const Name const PlanId invalidates ProjectId const Provider invalidates ServiceId const State invalidates " \
        "live: State, Provider and PlanId (a resize) invalidate, Addresses is never signalled, the rest are const"

kill "$MONITOR_PID" "$HEALTH_MONITOR_PID" 2>/dev/null || true
cb_stop_daemon
cb_done
