#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The D-Bus face beyond the catalogue and resources, and cloudbrokerctl on
# top of it, on a private bus: Identity, Systems, Approvals, Projects,
# Incidents, Providers, Audit and the root object's ObjectManager, each
# method called with busctl (typed arguments, a{sv}) and through its ctl
# command, refusals included: another department's project, system and
# incident read like ids nobody used (NotFound, exit 4), operator- and
# authority-only methods are AccessDenied for a department, and the same
# core answers over REST (one rule, two faces).
. tests/integration/lib.sh
cb_setup "$@"
cb_start_bus
cb_start_daemon

ROOT=/org/cloudbroker/Broker1
I=org.cloudbroker.Broker1
OPERATOR=0 EDU=1001 AUTHORITY=1002 HEALTH=1004 AUDITOR=1005 STRANGER=65534
CTL=$CB_BUILD/cloudbrokerctl
export CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS
TODAY=$(date +%F)
YEAR=$(date +%Y)

# ctl UID ARGS...: cloudbrokerctl as UID; sets RC, OUT, ERR.
ctl() {
        local uid=$1
        shift
        RC=0
        as_uid "$uid" "$CTL" "$@" >"$CB_TMP/ctl.out" 2>"$CB_TMP/ctl.err" || RC=$?
        OUT=$(cat "$CB_TMP/ctl.out")
        ERR=$(cat "$CB_TMP/ctl.err")
}
expect() {
        if [ "$RC" -eq "$1" ]; then pass "$2"; else fail "$2 (exit $RC, expected $1; stderr: $ERR)"; fi
}
# doc: the JSON string in OUT (busctl's one-string reply).
doc() {
        printf %s "$OUT" | jq -r '.[0]'
}

# --- Identity -----------------------------------------------------------------------------
ok $EDU "WhoAmI as a department" $ROOT $I.Identity WhoAmI
assert_jq "$(doc)" '"\(.name) \(.department) \(.roles | join(","))"' "dev-edu edu department" "WhoAmI names the principal of the UID"
refused $STRANGER AccessDenied "WhoAmI as an unknown UID: AccessDenied" $ROOT $I.Identity.WhoAmI
ctl $AUDITOR whoami
expect 0 "ctl whoami"
assert_contains "$OUT" "dev-auditor" "ctl whoami prints the name"
ctl $STRANGER whoami
expect 4 "ctl whoami as an unknown UID: 4"

# --- Systems (a{sv}) --------------------------------------------------------------------------
ok $OPERATOR "AddSystem as the operator (a{sv})" $ROOT $I.Systems AddSystem 'a{sv}' 6 \
        id s edu-portal name s 教育门户 department s edu protection_level i 2 classified b false \
        data_sharing s compliant
assert_jq "$(doc)" '"\(.id) \(.protection_level) \(.classified)"' "edu-portal 2 false" "AddSystem answers the stored system"
bcall $OPERATOR $ROOT $I.Systems AddSystem 'a{sv}' 6 id s edu-bad name s x department s edu \
        protection_level s two classified b false data_sharing s compliant
assert_eq "$RC" 1 "AddSystem with protection_level as a string fails"
assert_contains "$ERR" "protection_level" "the core names the member"
bcall $OPERATOR $ROOT $I.Systems AddSystem 'a{sv}' 2 id s edu-x levels ai 2 1 2
assert_eq "$RC" 1 "a value type the bus face does not take (ai) fails"
assert_contains "$ERR" "levels: a value of type 'ai' is not accepted" "the member and its type are named"
refused $HEALTH NotFound "GetSystem of another department's system: NotFound" $ROOT $I.Systems.GetSystem string:edu-portal
refused $HEALTH NotFound "GetSystem of an unknown system: NotFound" $ROOT $I.Systems.GetSystem string:no-such-system
ok $EDU "GetSystem of its own system" $ROOT $I.Systems GetSystem s edu-portal
ok $HEALTH "ListSystems as another department" $ROOT $I.Systems ListSystems sus "" 0 ""
assert_jq "$(doc)" 'length' 0 "another department lists none of edu's systems"
ok $EDU "UpdateSystem of its own system" $ROOT $I.Systems UpdateSystem 'sa{sv}' edu-portal 6 \
        id s edu-portal name s 教育门户二期 department s edu protection_level i 3 classified b false \
        data_sharing s compliant
assert_jq "$(doc)" .protection_level 3 "UpdateSystem answers the new document"
cb_curl GET /v1/systems/edu-portal dev-edu
assert_jq "$CB_BODY" .name 教育门户二期 "the update is what REST reads"
bcall $HEALTH $ROOT $I.Systems UpdateSystem 'sa{sv}' edu-portal 6 \
        id s edu-portal name s x department s health protection_level i 1 classified b false data_sharing s compliant
assert_eq "$RC" 1 "UpdateSystem of another department's system fails"
assert_contains "$ERR" "no system 'edu-portal'" "it reads like a system that does not exist"

cat >"$CB_TMP/system.json" <<'JSON'
{"id": "health-his", "name": "医院信息系统", "department": "health", "protection_level": 3,
 "classified": false, "data_sharing": "compliant"}
JSON
ctl $OPERATOR system add "$CB_TMP/system.json"
expect 0 "ctl system add FILE"
assert_contains "$OUT" "health-his" "ctl system add prints the system"
ctl $OPERATOR system list --json
assert_jq "$OUT" '[.[].id] | sort | join(" ")' "edu-portal health-his" "ctl system list --json lists both"
ctl $OPERATOR system list --department health
assert_contains "$OUT" "health-his" "ctl system list --department health"
assert_not_contains "$OUT" "edu-portal" "--department filters"
# Pages: the same limit and page_token as REST, and ctl follows them.
ok $OPERATOR "ListSystems, a page of one" $ROOT $I.Systems ListSystems sus "" 1 ""
assert_jq "$OUT" '"\(.[0] | fromjson | map(.id) | join(","))"' edu-portal "the first page holds the first system"
TOKEN=$(printf %s "$OUT" | jq -r '.[1]')
[ -n "$TOKEN" ] && pass "a next_page_token while more follow" || fail "no next_page_token on the first of two pages"
ok $OPERATOR "ListSystems, the next page" $ROOT $I.Systems ListSystems sus "" 1 "$TOKEN"
assert_jq "$OUT" '"\(.[0] | fromjson | map(.id) | join(",")) [\(.[1])]"' "health-his []" \
        "the second page holds the second system, and no token follows the last"
refused $OPERATOR InvalidField "ListSystems with a token the daemon did not make: InvalidField" $ROOT \
        $I.Systems.ListSystems string: uint32:1 string:zz
refused $OPERATOR InvalidField "ListSystems with a limit over 1000: InvalidField" $ROOT \
        $I.Systems.ListSystems string: uint32:1001 string:
for n in $(seq 101 205); do
        cb_curl POST /v1/systems dev-operator "{\"id\":\"zz-bulk-$n\",\"name\":\"批量 $n\",\"department\":\"edu\",
                \"protection_level\":1,\"classified\":false,\"data_sharing\":\"compliant\"}"
        [ "$CB_STATUS" = 201 ] || fail "set-up: system zz-bulk-$n ($CB_STATUS)"
done
ctl $EDU --json system list
assert_jq "$OUT" 'length' 106 "ctl system list follows the pages (106 systems, the default page is 100)"
assert_jq "$OUT" '.[-1].id' zz-bulk-205 "the last page's last system is there"
ctl $EDU system show health-his
expect 4 "ctl system show of another department's system: 4"
jq '.protection_level = 4' "$CB_TMP/system.json" >"$CB_TMP/system2.json"
ctl $HEALTH system update health-his "$CB_TMP/system2.json"
expect 0 "ctl system update ID FILE as the owning department"
ctl $HEALTH --json system show health-his
assert_jq "$OUT" .protection_level 4 "ctl system show after the update"
printf '{"id": "x", "nested": {"a": 1}}' >"$CB_TMP/nested.json"
ctl $OPERATOR system add "$CB_TMP/nested.json"
expect 1 "ctl system add of a document with a nested object fails"
assert_contains "$ERR" "member 'nested'" "ctl names the member it cannot send"

# --- Approvals --------------------------------------------------------------------------------
cat >"$CB_TMP/approval.json" <<JSON
{
  "approval_no": "临政信审〔$YEAR〕91号",
  "project_id": "lf-dbus-faces",
  "project_name": "D-Bus 全面测试项目",
  "department": "edu",
  "revision": 1,
  "valid_from": "$YEAR-01-01",
  "valid_until": "$((YEAR + 1))-12-31",
  "budget": {"construction_fen": 1000000000, "om_fen": 100000000},
  "systems": ["edu-portal"],
  "items": [{"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 2}],
  "requires_secure_controllable": false,
  "dedicated_network_consent": false
}
JSON
"$CTL" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority "$CB_TMP/approval.json" \
        >"$CB_TMP/envelope.json"
# The document is base64: a budget raised after signing.
jq --arg doc "$(sed 's/1000000000/9000000000/' "$CB_TMP/approval.json" | base64 -w0)" '.document = $doc' \
        "$CB_TMP/envelope.json" >"$CB_TMP/tampered.json"
ctl $EDU approval import "$CB_TMP/tampered.json"
expect 1 "ctl approval import of a tampered envelope fails"
assert_contains "$ERR" "$I.Error.Unprocessable" "a tampered envelope is Unprocessable"
ctl $HEALTH approval import "$CB_TMP/envelope.json"
expect 1 "another department imports edu's approval: refused"
ctl $EDU approval import "$CB_TMP/envelope.json"
expect 0 "ctl approval import FILE as the department"
assert_contains "$OUT" "lf-dbus-faces: approval 临政信审〔$YEAR〕91号 accepted as revision 1" "ctl prints the revision"
refused $EDU Unprocessable "ImportApproval of the same revision again: Unprocessable" $ROOT \
        $I.Approvals.ImportApproval "string:$(cat "$CB_TMP/envelope.json")"
refused $EDU MalformedJson "ImportApproval of a text that is no JSON: MalformedJson" $ROOT \
        $I.Approvals.ImportApproval 'string:{"envelope":'
ok $EDU "ListApprovals of its project" $ROOT $I.Approvals ListApprovals s lf-dbus-faces
assert_jq "$(doc)" '"\(length) \(.[0].revision) \(.[0].key_id)"' "1 1 dev-authority" "ListApprovals lists revision 1"
ok $AUDITOR "GetApproval revision 0 (in force) as an auditor" $ROOT $I.Approvals GetApproval su lf-dbus-faces 0
assert_jq "$(doc)" .approval_no "临政信审〔$YEAR〕91号" "GetApproval answers the document"
refused $EDU NotFound "GetApproval of a revision that does not exist: NotFound" $ROOT $I.Approvals.GetApproval \
        string:lf-dbus-faces uint32:7
refused $HEALTH NotFound "ListApprovals of another department's project: NotFound" $ROOT \
        $I.Approvals.ListApprovals string:lf-dbus-faces
ctl $EDU approval list lf-dbus-faces
expect 0 "ctl approval list"
assert_contains "$OUT" "dev-authority" "ctl approval list prints the key"
ctl $EDU approval show lf-dbus-faces 1 --json
assert_jq "$OUT" .project_id lf-dbus-faces "ctl approval show PROJECT REVISION --json"
ctl $EDU approval show lf-dbus-faces x
expect 1 "ctl approval show with a revision that is no number fails"

# --- Projects ---------------------------------------------------------------------------------
ok $EDU "ListProjects as the department" $ROOT $I.Projects ListProjects sus "" 0 ""
assert_jq "$(doc)" '[.[].id] | index("lf-dbus-faces") != null' true "the department lists its project"
ok $HEALTH "ListProjects as another department" $ROOT $I.Projects ListProjects sus "" 0 ""
assert_jq "$(doc)" '[.[].id] | index("lf-dbus-faces") == null' true "another department does not list it"
refused $HEALTH AccessDenied "ListProjects of another department by name: AccessDenied" $ROOT \
        $I.Projects.ListProjects string:edu uint32:0 string:
ok $EDU "GetProject of its own project" $ROOT $I.Projects GetProject s lf-dbus-faces
assert_jq "$(doc)" '"\(.status) \(.revision)"' "active 1" "GetProject answers the project"
refused $HEALTH NotFound "GetProject of another department's project: NotFound" $ROOT $I.Projects.GetProject \
        string:lf-dbus-faces
other=$ERR
refused $HEALTH NotFound "GetProject of an unknown project: NotFound" $ROOT $I.Projects.GetProject string:lf-nobody
assert_eq "${other//lf-dbus-faces/ID}" "${ERR//lf-nobody/ID}" \
        "another department's project and an unknown id get the same answer"
cb_curl GET /v1/projects/lf-dbus-faces dev-health
assert_eq "$CB_STATUS" 404 "REST says the same: 404 for another department"
ctl $HEALTH project show lf-dbus-faces
expect 4 "ctl project show of another department's project: 4"
assert_contains "$ERR" "$I.Error.NotFound" "ctl prints NotFound"

ok $EDU "AddMilestone (typed arguments)" $ROOT $I.Projects AddMilestone sssu lf-dbus-faces contract_signed "$TODAY" 0
assert_jq "$(doc)" '[.milestones[].kind] | index("contract_signed") != null' true "the milestone is recorded"
refused $EDU InvalidField "AddMilestone of an unknown kind: InvalidField" $ROOT $I.Projects.AddMilestone \
        string:lf-dbus-faces string:bogus "string:$TODAY" uint32:0
refused $HEALTH NotFound "AddMilestone on another department's project: NotFound" $ROOT $I.Projects.AddMilestone \
        string:lf-dbus-faces string:completed "string:$TODAY" uint32:0
ctl $EDU project milestone lf-dbus-faces self_evaluation_filed "$TODAY" --budget-year $((YEAR - 1))
expect 0 "ctl project milestone ... --budget-year (option after the arguments)"
cb_curl GET /v1/projects/lf-dbus-faces dev-edu
assert_jq "$CB_BODY" "[.milestones[] | select(.kind == \"self_evaluation_filed\") | .budget_year] | .[0]" \
        $((YEAR - 1)) "the budget year reached the core"

refused $EDU AccessDenied "Suspend as a department (authority only): AccessDenied" $ROOT $I.Projects.Suspend \
        string:lf-dbus-faces string:测试
ok $AUTHORITY "Suspend as the authority" $ROOT $I.Projects Suspend ss lf-dbus-faces 暂停测试
assert_jq "$(doc)" .status suspended "the project is suspended"
refused $AUTHORITY Conflict "Suspend a suspended project: Conflict" $ROOT $I.Projects.Suspend \
        string:lf-dbus-faces string:again
ctl $AUTHORITY project resume lf-dbus-faces
expect 2 "ctl project resume without --reason is a usage error"
assert_contains "$ERR" "--reason is required" "the missing option is named"
ctl $AUTHORITY project resume --reason 恢复测试 lf-dbus-faces
expect 0 "ctl project resume --reason"
assert_contains "$OUT" "lf-dbus-faces is active" "ctl prints the new status"
ctl $EDU project suspend lf-dbus-faces --reason x
expect 4 "ctl project suspend as a department: 4 (AccessDenied)"
ctl $EDU project list --no-legend
assert_contains "$OUT" "lf-dbus-faces" "ctl project list"
assert_not_contains "$OUT" "DEPARTMENT" "ctl project list --no-legend"

# --- Incidents --------------------------------------------------------------------------------
ok $EDU "ReportIncident (a{sv} with an array of strings)" $ROOT $I.Incidents ReportIncident 'a{sv}' 3 \
        severity s general description s 门户页面被篡改 systems as 1 edu-portal
INC=$(doc | jq -r .id)
assert_jq "$(doc)" '"\(.status) \(.systems | join(","))"' "open edu-portal" "the incident is open and names the system"
refused $HEALTH NotFound "GetIncident of another department's incident: NotFound" $ROOT $I.Incidents.GetIncident \
        "string:$INC"
ok $HEALTH "ListIncidents as another department" $ROOT $I.Incidents ListIncidents us 0 ""
assert_jq "$(doc)" length 0 "another department lists none"
ok $EDU "AddRecord (handling)" $ROOT $I.Incidents AddRecord sss "$INC" 已隔离 handling
assert_jq "$(doc)" .status handling "the incident is being handled"
refused $EDU InvalidField "AddRecord moving the status back: InvalidField" $ROOT $I.Incidents.AddRecord \
        "string:$INC" string:回退 string:open
cat >"$CB_TMP/incident.json" <<'JSON'
{"severity": "major", "description": "数据库异常访问", "systems": ["edu-portal"]}
JSON
ctl $EDU incident report "$CB_TMP/incident.json" --json
expect 0 "ctl incident report FILE --json"
INC2=$(printf %s "$OUT" | jq -r .id)
ctl $EDU incident list
assert_contains "$OUT" "$INC2" "ctl incident list"
ctl $EDU incident record "$INC2" reported 已上报网信部门
expect 0 "ctl incident record ID STATUS NOTE"
assert_contains "$OUT" "is reported" "ctl prints the status"
ctl $EDU incident show "$INC2" --json
assert_jq "$OUT" '.records | length' 1 "ctl incident show has the record"
ctl $HEALTH incident show "$INC2"
expect 4 "ctl incident show of another department's incident: 4"

# --- Providers --------------------------------------------------------------------------------
for _ in $(seq 1 100); do
        cb_curl GET /v1/providers dev-operator
        [ "$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "dev-test") | .status')" = connected ] && break
        sleep 0.1
done
ok $AUDITOR "ListProviders as an auditor" $ROOT $I.Providers ListProviders
assert_jq "$(doc)" '[.[].name] | index("dev-test") != null' true "ListProviders lists dev-test"
refused $EDU AccessDenied "ListProviders as a department: AccessDenied" $ROOT $I.Providers.ListProviders
bcall $EDU $ROOT $I.Providers AddProvider 'a{sv}' 3 name s p2 driver s libvirt uri s test:///default
assert_eq "$RC" 1 "AddProvider as a department (operator only) fails"
assert_contains "$ERR" "role operator required" "the core's refusal travels"
ok $OPERATOR "AddProvider as the operator (a{sv})" $ROOT $I.Providers AddProvider 'a{sv}' 3 \
        name s dbus-p2 driver s libvirt uri s test:///default
assert_jq "$(doc)" .name dbus-p2 "AddProvider answers the provider"
ok $OPERATOR "GetInventory (answered when the provider has)" $ROOT $I.Providers GetInventory s dev-test
assert_jq "$(doc)" '[.domains[].name] | index("legacy-oa-server") != null' true "the inventory lists the node's domain"
refused $EDU AccessDenied "GetInventory as a department: AccessDenied" $ROOT $I.Providers.GetInventory string:dev-test
refused $OPERATOR NotFound "GetInventory of an unknown provider: NotFound" $ROOT $I.Providers.GetInventory \
        string:no-such-provider
cb_curl GET /v1/providers/dev-test/inventory dev-edu
assert_eq "$CB_STATUS" 403 "REST inventory as a department: 403 (the same core check)"
ctl $OPERATOR provider add dbus-p3 libvirt test:///default --domain-type qemu
expect 0 "ctl provider add NAME DRIVER URI --domain-type"
ctl $OPERATOR --json provider list
assert_jq "$OUT" '[.[] | select(.name == "dbus-p3") | .domain_type] | .[0]' qemu "the domain type reached the core"
ctl $AUDITOR provider inventory dev-test
expect 0 "ctl provider inventory"
assert_contains "$OUT" "legacy-oa-server" "ctl prints the domains"
ctl $EDU provider add p4 libvirt test:///default
expect 4 "ctl provider add as a department: 4"

# --- Audit ------------------------------------------------------------------------------------
refused $EDU AccessDenied "ListRecords as a department: AccessDenied" $ROOT $I.Audit.ListRecords int64:0 uint32:10
ok $AUDITOR "ListRecords as an auditor" $ROOT $I.Audit ListRecords xu 0 5
assert_jq "$(doc)" '"\(length) \(.[0].seq)"' "5 1" "ListRecords answers the first five records"
ok $AUDITOR "ListRecords after a sequence number" $ROOT $I.Audit ListRecords xu 3 1
assert_jq "$(doc)" '.[0].seq' 4 "after 3 comes 4"
refused $AUDITOR InvalidArgument "ListRecords with limit 0: InvalidArgument" $ROOT $I.Audit.ListRecords int64:0 uint32:0
refused $AUDITOR InvalidArgument "ListRecords after -1: InvalidArgument" $ROOT $I.Audit.ListRecords int64:-1 uint32:1
ok $AUTHORITY "Verify as the authority" $ROOT $I.Audit Verify s ""
assert_jq "$(doc)" .ok true "the chain is intact"
ANCHOR="$(doc | jq -r '"\(.head_seq):\(.head)"')"
ok $AUDITOR "Verify with an anchor" $ROOT $I.Audit Verify s "$ANCHOR"
assert_jq "$(doc)" .ok true "the anchored record is there"
refused $AUDITOR InvalidArgument "Verify with a malformed anchor: InvalidArgument" $ROOT $I.Audit.Verify string:12ab
refused $HEALTH AccessDenied "Verify as a department: AccessDenied" $ROOT $I.Audit.Verify string:
cb_curl GET /v1/audit dev-edu
assert_eq "$CB_STATUS" 403 "REST audit as a department: 403 (audit_list takes the caller)"
ctl $AUDITOR audit list --limit 3 --after 1
expect 0 "ctl audit list --limit --after"
assert_eq "$(printf '%s\n' "$OUT" | awk 'NR > 1 { print $1 }' | tr '\n' ' ')" "2 3 4 " "ctl audit list prints records 2-4"
ctl $AUDITOR audit verify
expect 0 "ctl audit verify (through the daemon)"
assert_contains "$OUT" "audit chain intact" "ctl audit verify reports an intact chain"
ctl $EDU audit verify
expect 4 "ctl audit verify as a department: 4"
ctl $AUDITOR audit list --limit 0
expect 2 "ctl audit list --limit 0 is a usage error"

# --- ObjectManager ----------------------------------------------------------------------------
OM_MATCH="type='signal',interface='org.freedesktop.DBus.ObjectManager',path='$ROOT'"
as_uid $HEALTH timeout 60 dbus-monitor --address "$CB_BUS_ADDRESS" "$OM_MATCH" >"$CB_TMP/om-health.log" 2>&1 &
CB_PIDS+=("$!")
sleep 0.5
ok $EDU "a department requests a VM" $ROOT $I.Resources RequestResource s \
        '{"project_id":"lf-dbus-faces","system_id":"edu-portal","service_id":"ecs-general","plan_id":"ecs-general-2c4g","name":"om-vm"}'
RPATH=$(printf %s "$OUT" | jq -r '.[0]')
RID=$(printf %s "$RPATH" | sed 's|.*/||; s/_2d/-/g')
added=""
for _ in $(seq 1 50); do
        added=$(grep -A8 "member=InterfacesAdded" "$CB_TMP/om-health.log" || true)
        [ -n "$added" ] && break
        sleep 0.1
done
assert_contains "$added" "object path \"$RPATH\"" "another department hears InterfacesAdded with the object path"
assert_contains "$added" "string \"$I.Resource\"" "InterfacesAdded names the Resource interface"
assert_not_contains "$added" "variant" "InterfacesAdded carries no property value"
assert_not_contains "$(cat "$CB_TMP/om-health.log")" "om-vm" "the listener never sees the resource's name"

ok $EDU "GetManagedObjects as the department" $ROOT org.freedesktop.DBus.ObjectManager GetManagedObjects
assert_jq "$OUT" ".[0] | has(\"$RPATH\")" true "the department's resource is a managed object"
assert_jq "$OUT" ".[0][\"$RPATH\"][\"$I.Resource\"].Name.data" om-vm "with its properties, values included"
ok $OPERATOR "GetManagedObjects as the operator" $ROOT org.freedesktop.DBus.ObjectManager GetManagedObjects
assert_jq "$OUT" ".[0] | has(\"$RPATH\")" true "the operator sees it too"
ok $HEALTH "GetManagedObjects as another department" $ROOT org.freedesktop.DBus.ObjectManager GetManagedObjects
assert_jq "$OUT" '.[0] | keys | length' 0 "another department manages no object of edu's"
bcall $STRANGER $ROOT org.freedesktop.DBus.ObjectManager GetManagedObjects
assert_jq "$OUT" '.[0] | keys | length' 0 "an unknown UID gets no object"

for _ in $(seq 1 100); do
        cb_curl GET "/v1/resources/$RID" dev-edu
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = active ] && break
        sleep 0.1
done
assert_jq "$CB_BODY" .state active "set-up: the VM is active"
ok $EDU "Deprovision the VM" "$RPATH" $I.Resource Deprovision
removed=""
for _ in $(seq 1 100); do
        removed=$(grep -A4 "member=InterfacesRemoved" "$CB_TMP/om-health.log" || true)
        [ -n "$removed" ] && break
        sleep 0.1
done
assert_contains "$removed" "object path \"$RPATH\"" "InterfacesRemoved once the resource is deleted"
ok $EDU "GetManagedObjects after the deletion" $ROOT org.freedesktop.DBus.ObjectManager GetManagedObjects
assert_jq "$OUT" ".[0] | has(\"$RPATH\")" false "a deleted resource is no managed object"

cb_stop_daemon
cb_done
