#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Industry clouds under management (issue 12, Art. 35), against the real
# daemon: a libvirt test-driver "industry cloud" (tests/integration/
# industry-node.xml) registered as a managed_only provider. The broker
# provisions nothing there (an order pinned to it is refused, Art. 35), its
# inventory lists every VM found there as UNMANAGED_RESOURCE.
#
#   tests/integration/test-adopt.sh [BUILD_DIR]
. tests/integration/lib.sh
cb_setup "$@"
cb_start_bus
cb_start_daemon

NODE=$(pwd)/tests/integration/industry-node.xml
YEAR=$(date +%Y)
sql() { sqlite3 -batch "$CB_DB" "$@"; }

# --- a managed_only provider: validated, stored, shown ------------------------------
cb_curl POST /v1/providers dev-operator \
        "{\"name\":\"kunpeng-az1\",\"driver\":\"libvirt\",\"uri\":\"test://$NODE\",\"managed_only\":\"yes\"}"
assert_eq "$CB_STATUS" 422 "managed_only must be a boolean"
assert_jq "$CB_BODY" .field managed_only "the refusal names the field"
cb_curl POST /v1/providers dev-operator \
        "{\"name\":\"kunpeng-az1\",\"driver\":\"libvirt\",\"uri\":\"test://$NODE\",\"managed_only\":true,\"image_pool\":\"default\"}"
assert_eq "$CB_STATUS" 422 "a managed_only provider has no image library"
cb_curl GET /v1/providers dev-operator
assert_eq "$(printf %s "$CB_BODY" | jq '[.providers[] | select(.name == "kunpeng-az1")] | length')" 0 \
        "nothing of the refused providers was kept"

# Named after the provider the seed catalogue's 信创 plans are pinned to.
cb_curl POST /v1/providers dev-operator \
        "{\"name\":\"kunpeng-az1\",\"driver\":\"libvirt\",\"uri\":\"test://$NODE\",\"managed_only\":true}"
assert_eq "$CB_STATUS" 201 "the operator registers the industry cloud as managed_only"
assert_jq "$CB_BODY" .managed_only true "the provider says it is managed_only"
cb_wait_provider kunpeng-az1 || fail "kunpeng-az1 never connected"
cb_wait_provider dev-test || fail "dev-test never connected"
assert_eq "$(sql "SELECT managed_only FROM providers WHERE name = 'kunpeng-az1'")" 1 "stored as managed_only"
cb_curl GET /v1/providers dev-operator
free_of() { printf %s "$CB_BODY" | jq --arg n "$1" '.providers[] | select(.name == $n) | .capacity.free_memory_mib'; }
[ "$(free_of kunpeng-az1)" -gt "$(free_of dev-test)" ] && pass "the industry cloud has more free memory than dev-test" ||
        fail "the industry cloud has more free memory than dev-test ($(free_of kunpeng-az1) vs $(free_of dev-test))"

# --- nothing is provisioned there -----------------------------------------------------
cb_add_system edu-portal edu 2 false compliant 教育门户
cb_approve edu-ic "临政信审〔$YEAR〕35号" edu-portal "[
    {\"service_id\": \"ecs-xinchuang\", \"plan_id\": \"xc-kunpeng-2c4g\", \"quantity\": 2},
    {\"service_id\": \"ecs-general\", \"plan_id\": \"ecs-general-1c2g\", \"quantity\": 4}]"

order() { # NAME SERVICE PLAN
        cb_curl POST /v1/resources dev-edu \
                "{\"project_id\":\"edu-ic\",\"system_id\":\"edu-portal\",\"service_id\":\"$2\",\"plan_id\":\"$3\",\"name\":\"$1\"}"
}
before=$(sql "SELECT COUNT(*) FROM resources")
order kp-1 ecs-xinchuang xc-kunpeng-2c4g
assert_eq "$CB_STATUS" 403 "an order pinned to the managed_only provider is refused"
assert_jq "$CB_BODY" '[.violations[0].code, .violations[0].article] | join(",")' "MANAGED_ONLY_PROVIDER,35" \
        "the refusal names Art. 35"
assert_contains "$CB_BODY" "kunpeng-az1" "the refusal names the provider"
assert_eq "$(sql "SELECT COUNT(*) FROM resources")" "$before" "the refused order wrote no resource"

# Unpinned orders never land there, though it has more free memory than dev-test
# (placement picks the most free memory).
for i in 1 2 3 4; do
        order gen-$i ecs-general ecs-general-1c2g
        assert_eq "$CB_STATUS" 202 "order gen-$i is accepted"
done
assert_eq "$(sql "SELECT COUNT(*) FROM resources WHERE provider = 'kunpeng-az1'")" 0 \
        "placement never chose the managed_only provider"

# --- inventoried: every VM there is UNMANAGED_RESOURCE --------------------------------
cb_curl GET /v1/providers/kunpeng-az1/inventory dev-operator
assert_eq "$CB_STATUS" 200 "the industry cloud's inventory is read"
assert_jq "$CB_BODY" '[.domains[] | select(.violation.code == "UNMANAGED_RESOURCE") | .name] | sort | join(",")' \
        "ic-archive,ic-gis,ic-portal" "every VM there is listed UNMANAGED_RESOURCE"
seen=0
for _ in $(seq 1 50); do
        seen=$(sql "SELECT COUNT(*) FROM unmanaged_seen WHERE provider = 'kunpeng-az1'")
        [ "$seen" = 3 ] && break
        sleep 0.1
done
assert_eq "$seen" 3 "the periodic inventory recorded the three unmanaged VMs"

# --- adoption: checked like an order -------------------------------------------------
adopt() { # PRINCIPAL DOMAIN PLAN [SYSTEM]
        cb_curl POST /v1/providers/kunpeng-az1/adopt "$1" \
                "{\"domain\":\"$2\",\"project_id\":\"edu-ic\",\"system_id\":\"${4:-edu-portal}\",\"service_id\":\"ecs-general\",\"plan_id\":\"$3\"}"
}
cb_add_system edu-other edu 2 false compliant 未列入审批的系统
audit_n() { cb_curl GET "/v1/audit?limit=500" dev-auditor; printf %s "$CB_BODY" | jq --arg a "$1" '[.records[] | select(.action == $a)] | length'; }
# wait_op OP: until the operation has ended (at most 10 s); OP_STATE and OP_BODY say how.
wait_op() {
        OP_STATE=
        for _ in $(seq 1 $((100 * CB_SLOW))); do
                cb_curl GET "/v1/operations/$1" dev-operator
                OP_STATE=$(printf %s "$CB_BODY" | jq -r .state)
                case $OP_STATE in succeeded | failed) break ;; esac
                sleep 0.1
        done
        OP_BODY=$CB_BODY
}
# adopted DOMAIN: the adoption's 202, then its operation followed to the end.
adopted() {
        assert_eq "$CB_STATUS" 202 "the adoption of $1 is accepted as an operation"
        RID=$(printf %s "$CB_BODY" | jq -r .id)
        OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
        assert_jq "$CB_BODY" .state provisioning "the resource for $1 is provisioning until the operation ends"
        wait_op "$OP"
}
before=$(sql "SELECT COUNT(*) FROM resources")
adopt dev-finance ic-portal ecs-general-1c2g
assert_eq "$CB_STATUS" 403 "finance may not adopt"
adopt dev-operator ic-portal ecs-general-1c2g edu-other
assert_eq "$CB_STATUS" 403 "adoption into a system the approval does not list is refused"
assert_jq "$CB_BODY" .error policy_denied "as a policy refusal"
assert_eq "$(printf %s "$CB_BODY" | jq '[.violations[].article | numbers] | length > 0')" true "the refusal names its article"
adopt dev-operator ic-portal ecs-general-2c4g
assert_eq "$CB_STATUS" 403 "adoption under a plan the approval does not list is refused"
cb_curl POST /v1/providers/kunpeng-az1/adopt dev-operator '{"domain":"ic-portal","project_id":"edu-ic"}'
assert_eq "$CB_STATUS" 422 "a body without system, service and plan is refused"
assert_eq "$(sql "SELECT COUNT(*) FROM resources")" "$before" "no refusal wrote a resource"
cb_curl GET /v1/providers/kunpeng-az1/inventory dev-operator
assert_jq "$CB_BODY" '[.domains[] | select(.managed)] | length' 0 "no refusal stamped a domain"

# The approval allows 4 of ecs-general-1c2g and 4 are ordered: a fifth, adopted, is over it.
adopt dev-operator ic-portal ecs-general-1c2g
assert_eq "$CB_STATUS" 403 "an adoption over the approved quantity is refused"
assert_contains "$(printf %s "$CB_BODY" | jq -c '[.violations[].code]')" "QUANTITY" "by the quantity rule"
delete_ordered() { # NAME: deletes an ordered VM, freeing one of the approved four
        cb_curl DELETE "/v1/resources/$(sql "SELECT id FROM resources WHERE name = '$1'")" dev-edu
        assert_eq "$CB_STATUS" 202 "ordered VM $1 is deleted, freeing one of the approved four"
        for _ in $(seq 1 100); do
                [ "$(sql "SELECT state FROM resources WHERE name = '$1'")" = deleted ] && break
                sleep 0.1
        done
}
delete_ordered gen-4

adopt dev-operator ic-nosuch ecs-general-1c2g
adopted ic-nosuch
assert_eq "$OP_STATE" failed "the adoption of an unknown domain fails"
assert_jq "$OP_BODY" '[.kind, .domain, .error] | join(",")' "adopt,ic-nosuch,domain: no domain 'ic-nosuch'" \
        "the adopt operation names the domain and why it failed"
assert_eq "$(sql "SELECT state FROM resources WHERE id = '$RID'")" deleted \
        "a failed adoption leaves its resource deleted: it holds no quantity"
adopt dev-operator ic-portal ecs-general-1c2g
adopted ic-portal
assert_eq "$OP_STATE" succeeded "the operator adopts ic-portal into edu-ic / edu-portal (the freed quantity is still there)"
PORTAL_OP=$OP
cb_curl GET "/v1/resources/$RID" dev-edu
assert_eq "$CB_STATUS" 200 "the department sees the adopted resource"
assert_jq "$CB_BODY" '[.project_id, .system_id, .state, .provider, .provider_ref] | join(",")' \
        "edu-ic,edu-portal,active,kunpeng-az1,3e1d6a70-2b4c-4f1e-9a7d-5c3b2a1f0e01" \
        "an active resource of the project and the system, bound to the domain"
delete_ordered gen-3
adopt dev-operator ic-portal ecs-general-1c2g
adopted ic-portal
assert_eq "$OP_STATE" failed "a domain is adopted once"
assert_contains "$(printf %s "$OP_BODY" | jq -r .error)" "already carries the broker's stamp" "the failed operation says why"
assert_eq "$(sql "SELECT COUNT(*) FROM usage_segments WHERE resource_id = '$(sql "SELECT id FROM resources WHERE provider_ref = '3e1d6a70-2b4c-4f1e-9a7d-5c3b2a1f0e01'")' AND state = 'active'")" 1 \
        "the adopted VM is metered: an open usage segment"
RID=$(sql "SELECT id FROM resources WHERE provider_ref = '3e1d6a70-2b4c-4f1e-9a7d-5c3b2a1f0e01'")
assert_eq "$(audit_n resource.adopt)" 6 "each adoption request and refusal is audited (3 refused by policy, 3 accepted)"
assert_eq "$(audit_n resource.adopt.done):$(audit_n resource.adopt.failed)" 1:2 \
        "each adopt operation's end is audited: 1 done, 2 failed"

# The adopt operations are listed like any operation, on every face.
cb_curl GET "/v1/operations?kind=adopt" dev-operator
assert_eq "$CB_STATUS" 200 "the operations list"
assert_jq "$CB_BODY" '.operations | map("\(.domain):\(.state)") | sort | join(",")' \
        "ic-nosuch:failed,ic-portal:failed,ic-portal:succeeded" "the three adopt operations are listed"
cb_curl GET "/v1/operations?kind=adopt&state=succeeded" dev-edu
assert_jq "$CB_BODY" '[.operations[].id] | join(",")' "$PORTAL_OP" "the department sees its own, filtered by state"
cb_curl GET "/v1/operations?kind=adopt" dev-health
assert_jq "$CB_BODY" '.operations | length' 0 "another department sees none of them"
cb_curl GET "/v1/operations?kind=steal" dev-operator
assert_eq "$CB_STATUS:$(printf %s "$CB_BODY" | jq -r .field)" "422:kind" "an unknown kind is refused, naming kind"
cb_curl GET "/v1/operations?kind=adopt&limit=2" dev-operator
TOKEN=$(printf %s "$CB_BODY" | jq -r .next_page_token)
cb_curl GET "/v1/operations?kind=adopt&limit=2&page_token=$TOKEN" dev-operator
assert_jq "$CB_BODY" '[(.operations | length), has("next_page_token")] | map(tostring) | join(",")' "1,false" \
        "paged: the second page of two holds the third"
OUT=$(cb_busctl --json=short call org.cloudbroker.Broker1 /org/cloudbroker/Broker1 \
        org.cloudbroker.Broker1.Resources ListOperations sssus adopt succeeded "" 0 "" 2>&1)
assert_jq "$OUT" '.data[0] | fromjson | map(.domain) | join(",")' "ic-portal" "D-Bus: ListOperations answers the same"
cb_curl GET /v1/providers/kunpeng-az1/inventory dev-operator
assert_jq "$CB_BODY" '.domains[] | select(.name == "ic-portal") | [.managed, .resource_id, (.violation == null)] | map(tostring) | join(",")' \
        "true,$RID,true" "the adopted VM is no longer UNMANAGED_RESOURCE"
assert_jq "$CB_BODY" '[.domains[] | select(.violation.code == "UNMANAGED_RESOURCE") | .name] | sort | join(",")' \
        "ic-archive,ic-gis" "the others still are"

# Reconciled like any order: stopped through the broker, the record follows.
cb_curl POST "/v1/resources/$RID/actions" dev-edu '{"action":"stop"}'
assert_eq "$CB_STATUS" 202 "the department stops its adopted VM"
cb_wait_state "$RID" stopped || fail "the adopted VM never reached stopped (got $GOT)"
assert_eq "$(sql "SELECT group_concat(state) FROM (SELECT state FROM usage_segments WHERE resource_id = '$RID' ORDER BY seq)")" \
        "provisioning,active,stopped" "its usage segments: provisioning while adopted, active, then stopped"

# --- cloudbrokerctl provider adopt (through D-Bus Providers.Adopt) ------------------
CTL=$CB_BUILD/cloudbrokerctl
RC=0
OUT=$(as_uid 1003 "$CTL" --bus-address="$CB_BUS_ADDRESS" provider adopt kunpeng-az1 ic-gis edu-ic edu-portal \
        ecs-general ecs-general-1c2g 2>&1) || RC=$?
assert_eq "$RC" 4 "cloudbrokerctl: finance may not adopt (AccessDenied)"
RC=0
OUT=$("$CTL" --bus-address="$CB_BUS_ADDRESS" --json provider adopt kunpeng-az1 ic-gis edu-ic edu-portal \
        ecs-general ecs-general-1c2g 2>&1) || RC=$?
assert_eq "$RC" 0 "cloudbrokerctl provider adopt: the operator adopts ic-gis ($OUT)"
assert_jq "$OUT" .operation_state succeeded "cloudbrokerctl followed the adopt operation to its end"
GID=$(printf %s "$OUT" | jq -r .id 2>/dev/null || true)
assert_eq "$(sql "SELECT project_id || ',' || system_id || ',' || state || ',' || provider FROM resources WHERE id = '$GID'")" \
        "edu-ic,edu-portal,active,kunpeng-az1" "ic-gis is an active resource of edu-ic on kunpeng-az1"
RC=0
OUT=$("$CTL" --bus-address="$CB_BUS_ADDRESS" provider adopt kunpeng-az1 ic-archive edu-ic edu-portal \
        ecs-general ecs-general-1c2g 2>&1) || RC=$?
assert_eq "$RC" 1 "cloudbrokerctl: over the approved quantity, refused"
assert_contains "$OUT" "rule" "the refusal is the policy's"
RC=0
OUT=$("$CTL" --bus-address="$CB_BUS_ADDRESS" resource operations adopt 2>&1) || RC=$?
assert_eq "$RC:$(printf %s "$OUT" | grep -c adopt)" "0:4" "cloudbrokerctl resource operations adopt: the four adopt operations"

# --- decommission: the operator confirms, the source domains are undefined -----------
# The move itself needs real libvirtd (test-migration-qemu.sh); here the record is
# put where a finished move leaves it (verified), its source shut off and defined.
cb_add_system edu-archive edu 2 false compliant 档案系统
cb_curl POST /v1/legacy-systems dev-migration "$(jq -nc --arg y "$YEAR" '{system_id: "edu-archive",
        hosting: {kind: "industry-cloud", location: "鲲鹏云"}, source: {provider: "kunpeng-az1", domains: ["ic-archive"]},
        deadline: ($y + "-12-31"), wave: "w1"}')"
assert_eq "$CB_STATUS" 201 "set-up: edu-archive is in the register, its source on the industry cloud"
cb_curl POST /v1/legacy-systems/edu-archive/decommission dev-operator '{}'
assert_eq "$CB_STATUS" 409 "a system not moved yet is not decommissioned"
assert_jq "$CB_BODY" .field state "the refusal names the state"
sql "UPDATE legacy_systems SET state = 'verified' WHERE system_id = 'edu-archive'"
cb_curl POST /v1/legacy-systems/edu-archive/decommission dev-migration '{}'
assert_eq "$CB_STATUS" 403 "the migration team does not confirm a decommission: the operator does"
cb_curl POST /v1/legacy-systems/edu-archive/decommission dev-operator '{"remove_disks":"no"}'
assert_eq "$CB_STATUS" 422 "remove_disks must be a boolean"
cb_curl GET /v1/providers/kunpeng-az1/inventory dev-operator
assert_jq "$CB_BODY" '[.domains[] | select(.name == "ic-archive") | .state] | join(",")' shutoff \
        "the source is defined and shut off before the confirmation"
cb_curl POST /v1/legacy-systems/edu-archive/decommission dev-operator '{}'
assert_eq "$CB_STATUS" 202 "the operator confirms the decommission"
got=
for _ in $(seq 1 50); do
        cb_curl GET /v1/legacy-systems/edu-archive dev-migration
        got=$(printf %s "$CB_BODY" | jq -r .state)
        [ "$got" = decommissioned ] && break
        sleep 0.1
done
assert_eq "$got" decommissioned "the system becomes decommissioned"
cb_curl GET /v1/providers/kunpeng-az1/inventory dev-operator
assert_jq "$CB_BODY" '[.domains[].name] | sort | join(",")' "ic-gis,ic-portal" "the source domain ic-archive is undefined"
assert_eq "$(audit_n legacy.decommission)" 2 "audited: the refusal of the migration team and the decommission"
cb_curl GET "/v1/audit?limit=500" dev-auditor
assert_jq "$CB_BODY" '[.records[] | select(.action == "legacy.decommission" and .outcome == "ok")][0].detail | [.from, .to, (.undefined | join("+")), .disks_removed] | map(tostring) | join(",")' \
        "verified,decommissioned,ic-archive,false" "the record names what was undefined, disks kept"

# On D-Bus and cloudbrokerctl: a decommissioned system is not decommissioned again.
RC=0
OUT=$("$CTL" --bus-address="$CB_BUS_ADDRESS" migration decommission edu-archive 2>&1) || RC=$?
assert_eq "$RC" 1 "cloudbrokerctl migration decommission: refused once decommissioned"
assert_contains "$OUT" "decommissioned" "the refusal names the state"
RC=0
OUT=$(as_uid 1006 "$CTL" --bus-address="$CB_BUS_ADDRESS" migration decommission edu-archive 2>&1) || RC=$?
assert_eq "$RC" 4 "cloudbrokerctl: the migration team may not (AccessDenied)"

# --- an adoption cut short by a crash is finished on restart ---------------------------
# The test driver's domains live in the daemon's process: after a restart the
# node file is read again, so every domain there is unstamped once more.
# First the state a kill -9 leaves right after the request committed: the
# resource provisioning, its adopt operation marked running, nothing stamped.
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
sql "INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, catalog_revision,
        approval_no, cost_kind, committed_fen, provider, state, created_at, created_by, updated_at, kind)
        SELECT 'r-c0ffee0000000001', 'ic-archive', project_id, system_id, department, service_id, plan_id,
        catalog_revision, approval_no, cost_kind, committed_fen, provider, 'provisioning', created_at, created_by,
        updated_at, kind FROM resources WHERE id = '$RID';
     INSERT INTO operations (id, resource_id, kind, state, created_at, updated_at, adopt_domain)
        VALUES ('op-c0ffee0000000001', 'r-c0ffee0000000001', 'adopt', 'running', '2026-01-01T00:00:00Z',
        '2026-01-01T00:00:00Z', 'ic-archive');"
cb_start_daemon
wait_op op-c0ffee0000000001
assert_eq "$OP_STATE" succeeded "after a kill -9 the unfinished adopt operation is run again and succeeds"
assert_eq "$(sql "SELECT state || ',' || provider_ref FROM resources WHERE id = 'r-c0ffee0000000001'")" \
        "stopped,3e1d6a70-2b4c-4f1e-9a7d-5c3b2a1f0e03" "the resource is bound to ic-archive, stopped as the domain is"
cb_curl GET /v1/providers/kunpeng-az1/inventory dev-operator
assert_jq "$CB_BODY" '.domains[] | select(.name == "ic-archive") | [.managed, .resource_id] | map(tostring) | join(",")' \
        "true,r-c0ffee0000000001" "ic-archive carries the stamp of the resource of record"
cb_curl GET "/v1/audit?limit=500" dev-auditor
assert_jq "$CB_BODY" '[.records[] | select(.action == "resource.adopt.done" and .object == "resource:r-c0ffee0000000001")] | length' 1 \
        "the finished adoption is on record"

# Then a real kill -9 just after a request: whether or not the worker got to it,
# after the restart there is one resource for the domain and its operation ended.
cb_approve edu-ic2 "临政信审〔$YEAR〕38号" edu-portal '[{"service_id": "ecs-general", "plan_id": "ecs-general-1c2g", "quantity": 2}]'
cb_curl POST /v1/providers/kunpeng-az1/adopt dev-operator \
        '{"domain":"ic-gis","project_id":"edu-ic2","system_id":"edu-portal","service_id":"ecs-general","plan_id":"ecs-general-1c2g"}'
assert_eq "$CB_STATUS" 202 "an adoption in a second project is accepted"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
cb_start_daemon
wait_op "$OP"
assert_eq "$OP_STATE" succeeded "the adoption killed at once has ended, succeeded, after the restart"
assert_eq "$(sql "SELECT COUNT(*) FROM resources WHERE project_id = 'edu-ic2' AND state != 'deleted'")" 1 \
        "one resource of record for it, nothing made twice"
cb_stop_daemon

cb_done
