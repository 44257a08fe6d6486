#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The broker as an OSB server toward platforms (/v2/service_instances and
# their service_bindings), against the real daemon and libvirt's test driver
# (provider dev-test of tests/integration/test.conf), at every version from
# 2.13 to 2.17: platform basic auth (one credential each; a platform sees
# only its own instances), the version window (412), provisioning a VM
# (202 while under way, 200 for an identical repeat, 409 for a changed
# one, 422 AsyncRequired without accepts_incomplete, 400 for each missing
# field), policy refusals (403 PolicyDenied naming the article, nothing
# created), the instance as a /v1 resource made by the libvirt driver and
# recorded under the platform's name, GET and PATCH, last_operation
# (remembered after a finished deprovision), deprovisioning (202, 410 when
# gone), bindings with an SSH key pair (201/200/409/410, credentials only
# for the platform that bound, never in the audit trail), and the fields a
# version does not know left out.
#
# Usage (from the repository root): tests/integration/test-osb-server.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon
if cb_wait_provider dev-test; then pass "set-up: provider dev-test is connected"; else fail "set-up: provider dev-test did not connect"; fi

PROJECT=lf-edu-osb
SYSTEM=edu-osb-portal
SVC=ecs-general
PLAN=ecs-general-1c2g
PLAN2=ecs-general-2c4g # not in the approval
YEAR=$(date +%Y)
AUTH=osb:dev-osb
CITY=city:city-osb

cb_add_system "$SYSTEM" edu 2 false compliant OSB门户
cb_approve "$PROJECT" "临政信审〔$YEAR〕77号" "$SYSTEM" "[
    {\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN\", \"quantity\": 20}]"

expect() {
        if [ "$CB_STATUS" = "$1" ]; then
                pass "$2"
        else
                fail "$2 (expected HTTP $1, got $CB_STATUS: $(printf %s "$CB_BODY" | head -c 300))"
        fi
}

# osb METHOD PATH VERSION [BODY [CRED]]: a /v2 call with a platform's basic auth.
osb() {
        local args=(-u "${5:-$AUTH}")
        [ -n "$3" ] && args+=(-H "X-Broker-API-Version: $3")
        cb_curl "$1" "$2" "" "${4:-}" "${args[@]}"
}

# provision_body [PLAN [ORG [SPACE [SYSTEM]]]]
provision_body() {
        jq -nc --arg plan "${1:-$PLAN}" --arg org "${2:-edu}" --arg space "${3:-$PROJECT}" \
                --arg sys "${4:-$SYSTEM}" --arg svc "$SVC" \
                '{service_id: $svc, plan_id: $plan, organization_guid: $org, space_guid: $space,
                  context: {platform: "cloudbroker-test", system_id: $sys}}'
}

# wait_last IID VERSION [OPERATION]: polls last_operation until it is no
# longer "in progress" (at most 10 s, times CB_SLOW); sets GOT.
wait_last() {
        local q=""
        [ -n "${3:-}" ] && q="&operation=$3"
        GOT=
        for _ in $(seq 1 $((100 * CB_SLOW))); do
                osb GET "/v2/service_instances/$1/last_operation?service_id=$SVC&plan_id=$PLAN$q" "$2"
                GOT=$(printf %s "$CB_BODY" | jq -r .state 2>/dev/null || true)
                [ "$GOT" != "in progress" ] && return 0
                sleep 0.1
        done
        return 1
}

resource_count() {
        cb_curl GET /v1/resources dev-operator
        printf %s "$CB_BODY" | jq '.resources | length'
}

# --- instances, at every version ----------------------------------------------

for minor in 13 14 15 16 17; do
        V=2.$minor
        IID="inst-$minor-$RANDOM"
        BASE="/v2/service_instances/$IID"
        BEFORE=$(resource_count)
        cb_curl GET /v1/providers/dev-test/inventory dev-operator
        DOMAINS_BEFORE=$(printf %s "$CB_BODY" | jq '.domains | length')

        osb PUT "$BASE" "$V" "$(provision_body)"
        expect 422 "$V: provisioning without accepts_incomplete is 422"
        assert_jq "$CB_BODY" .error AsyncRequired "$V: ... AsyncRequired"
        for f in service_id plan_id organization_guid space_guid; do
                osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body | jq -c "del(.$f)")"
                expect 400 "$V: provisioning without $f is 400"
                assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" "$f" "$V: the 400 names $f"
        done
        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body | jq -c 'del(.context.system_id)')"
        expect 400 "$V: provisioning without context.system_id is 400"
        osb PUT "$BASE?accepts_incomplete=true" "$V" "not json"
        expect 400 "$V: a body that is not JSON is 400"
        osb PUT "$BASE?accepts_incomplete=true" "" "$(provision_body)"
        expect 412 "$V: provisioning without X-Broker-API-Version is 412"
        cb_curl PUT "$BASE?accepts_incomplete=true" "" "$(provision_body)" -H "X-Broker-API-Version: $V"
        expect 401 "$V: provisioning without credentials is 401"
        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body "$PLAN2")"
        expect 403 "$V: a plan outside the approval is 403"
        assert_jq "$CB_BODY" .error PolicyDenied "$V: ... PolicyDenied"
        assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" "(Art. " "$V: the refusal names its article"
        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body "$PLAN" edu lf-no-such-project)"
        expect 403 "$V: a project without approval is 403 PolicyDenied"
        assert_eq "$(resource_count)" "$BEFORE" "$V: refusals created no resource"
        cb_curl GET /v1/providers/dev-test/inventory dev-operator
        assert_jq "$CB_BODY" '.domains | length' "$DOMAINS_BEFORE" "$V: ... and nothing on the provider"

        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body)"
        expect 202 "$V: provisioning a VM is 202"
        OP=$(printf %s "$CB_BODY" | jq -r .operation)
        assert_eq "$(printf %s "$CB_BODY" | jq 'has("metadata")')" "$([ "$minor" -ge 16 ] && echo true || echo false)" \
                "$V: the 202 has metadata only from 2.16"
        assert_eq "$(resource_count)" "$((BEFORE + 1))" "$V: one resource was ordered"

        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body)"
        case "$CB_STATUS" in
        202) assert_jq "$CB_BODY" .operation "$OP" "$V: a repeat while under way answers the same operation" ;;
        200) pass "$V: a repeat after it finished is 200" ;;
        *) fail "$V: a repeat is 202 or 200 (got $CB_STATUS)" ;;
        esac

        if wait_last "$IID" "$V" "$OP"; then pass "$V: the provision finished"; else fail "$V: the provision did not finish"; fi
        assert_eq "$GOT" succeeded "$V: last_operation says succeeded"
        assert_eq "$(printf %s "$CB_BODY" | jq 'has("instance_usable")')" false "$V: no instance_usable after a success"

        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body)"
        expect 200 "$V: an identical repeat is 200"
        osb PUT "$BASE" "$V" "$(provision_body)"
        expect 200 "$V: an identical repeat of a finished instance needs no accepts_incomplete"
        assert_eq "$(printf %s "$CB_BODY" | jq 'has("metadata")')" "$([ "$minor" -ge 16 ] && echo true || echo false)" \
                "$V: the 200 has metadata only from 2.16"
        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body "$PLAN2")"
        expect 409 "$V: a repeat with another plan is 409"
        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body "$PLAN" health)"
        expect 409 "$V: a repeat for another organization is 409"
        assert_eq "$(resource_count)" "$((BEFORE + 1))" "$V: repeats ordered nothing more"

        # The instance is a /v1 resource like any other, made by the libvirt driver.
        cb_curl GET "/v1/resources?project_id=$PROJECT&limit=200" dev-operator
        RES=$(printf %s "$CB_BODY" | jq -c --arg n "osb-$IID" '.resources[] | select(.name == $n)')
        assert_jq "$RES" '"\(.state) \(.provider) \(.created_by) \(.department) \(.system_id)"' \
                "active dev-test osb:dev-portal edu $SYSTEM" "$V: the instance is edu's active VM on dev-test, made by osb:dev-portal"
        RID=$(printf %s "$RES" | jq -r .id)
        cb_curl GET /v1/providers/dev-test/inventory dev-operator
        assert_jq "$CB_BODY" "[.domains[] | select(.name | contains(\"$RID\"))] | length" 1 \
                "$V: the libvirt provider has the instance's domain"

        osb GET "$BASE" "$V"
        if [ "$minor" -lt 14 ]; then
                expect 412 "$V: fetching an instance is 2.14's (412 at $V)"
        else
                expect 200 "$V: fetching the instance is 200"
                assert_jq "$CB_BODY" '"\(.service_id) \(.plan_id)"' "$SVC $PLAN" "$V: ... with its service and plan"
                assert_eq "$(printf %s "$CB_BODY" | jq 'has("metadata")')" "$([ "$minor" -ge 16 ] && echo true || echo false)" \
                        "$V: the fetched instance has metadata only from 2.16"
                [ "$minor" -ge 16 ] && assert_jq "$CB_BODY" .metadata.labels.resource_id "$RID" \
                        "$V: its metadata names the /v1 resource"
                osb GET "$BASE" "$V" "" "$CITY"
                expect 404 "$V: another platform does not see the instance"
        fi
        osb GET "/v2/service_instances/no-such-$minor/last_operation" "$V"
        expect 404 "$V: last_operation of an unknown instance is 404"

        osb PATCH "$BASE" "$V" "{\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN\"}"
        expect 200 "$V: an update that changes nothing is 200"
        osb PATCH "$BASE" "$V" "{\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN2\"}"
        expect 422 "$V: a plan change without accepts_incomplete is 422"
        assert_jq "$CB_BODY" .error AsyncRequired "$V: ... AsyncRequired"
        osb PATCH "$BASE?accepts_incomplete=true" "$V" "{\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN2\"}"
        expect 403 "$V: a plan change to a plan outside the approval is refused like a new order (403)"
        assert_jq "$CB_BODY" .error PolicyDenied "$V: ... PolicyDenied"
        assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" "(Art." "$V: ... naming the article"
        osb PATCH "$BASE" "$V" "{\"plan_id\": \"$PLAN\"}"
        expect 400 "$V: an update without service_id is 400"

        DQ="service_id=$SVC&plan_id=$PLAN"
        osb DELETE "$BASE?plan_id=$PLAN&accepts_incomplete=true" "$V"
        expect 400 "$V: deprovisioning without service_id is 400"
        osb DELETE "$BASE?service_id=$SVC&accepts_incomplete=true" "$V"
        expect 400 "$V: deprovisioning without plan_id is 400"
        osb DELETE "$BASE?$DQ" "$V"
        expect 422 "$V: deprovisioning without accepts_incomplete is 422"
        assert_jq "$CB_BODY" .error AsyncRequired "$V: ... AsyncRequired"
        osb DELETE "$BASE?$DQ&accepts_incomplete=true" "$V" "" "$CITY"
        expect 410 "$V: another platform cannot deprovision it (410, not its instance)"
        osb DELETE "$BASE?$DQ&accepts_incomplete=true" "$V"
        expect 202 "$V: deprovisioning is 202"
        DOP=$(printf %s "$CB_BODY" | jq -r .operation)
        if wait_last "$IID" "$V" "$DOP"; then pass "$V: the deprovision finished"; else fail "$V: the deprovision did not finish"; fi
        assert_eq "$GOT" succeeded "$V: last_operation of the deprovision says succeeded"
        osb GET "$BASE/last_operation?$DQ" "$V"
        expect 200 "$V: last_operation is remembered after the instance is gone"
        assert_jq "$CB_BODY" .state succeeded "$V: ... and is the deprovision, succeeded"
        assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" deprovision "$V: ... it says deprovision"
        osb GET "$BASE/last_operation?$DQ&operation=$OP" "$V"
        assert_jq "$CB_BODY" .state succeeded "$V: the provision is remembered too"
        osb GET "$BASE/last_operation?$DQ&operation=op-nonexistent" "$V"
        expect 400 "$V: an operation of no instance is 400"
        osb DELETE "$BASE?$DQ&accepts_incomplete=true" "$V"
        expect 410 "$V: deprovisioning it again is 410"
        osb DELETE "/v2/service_instances/never-was-$minor?$DQ&accepts_incomplete=true" "$V"
        expect 410 "$V: deprovisioning an unknown instance is 410"
        if [ "$minor" -ge 14 ]; then
                osb GET "$BASE" "$V"
                expect 404 "$V: a deprovisioned instance is not found"
        fi
        cb_curl GET "/v1/resources/$RID" dev-operator
        assert_jq "$CB_BODY" .state deleted "$V: the /v1 resource is deleted"
        osb PUT "$BASE?accepts_incomplete=true" "$V" "$(provision_body)"
        expect 409 "$V: the id of a deprovisioned instance is not reused (409)"
done

# --- the record: the platform's name on the resources and the audit trail -----

cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_jq "$CB_BODY" '[.records[] | select(.action == "resource.request" and .outcome == "ok"
        and .principal == "osb:dev-portal" and .face == "osb")] | length' 5 \
        "each order is audited under the platform's name, face osb"
assert_jq "$CB_BODY" '[.records[] | select(.action == "resource.delete" and .principal == "osb:dev-portal")] | length' 5 \
        "each deprovision is audited under the platform's name"
assert_jq "$CB_BODY" '[.records[] | select(.action == "resource.request" and .outcome == "denied"
        and .principal == "osb:dev-portal")] | length >= 5' true "refusals are audited under the platform's name"

# --- bindings of a VM instance, at every version ---------------------------------

BIID="bind-inst-$RANDOM"
BBASE="/v2/service_instances/$BIID"
BQ="service_id=$SVC&plan_id=$PLAN"
bind_body() { jq -nc --arg svc "${1:-$SVC}" --arg plan "${2:-$PLAN}" '{service_id: $svc, plan_id: $plan}'; }

osb PUT "$BBASE?accepts_incomplete=true" 2.17 "$(provision_body)"
expect 202 "set-up: an instance to bind"
osb PUT "$BBASE/service_bindings/too-early" 2.17 "$(bind_body)"
case "$CB_STATUS" in
422) assert_jq "$CB_BODY" .error ConcurrencyError "binding an instance still provisioning is 422 ConcurrencyError" ;;
201) pass "the instance was active before the bind (too fast to see the 422)" ;;
*) fail "binding while provisioning is 422 or, once active, 201 (got $CB_STATUS)" ;;
esac
wait_last "$BIID" 2.17 || true
assert_eq "$GOT" succeeded "set-up: the instance to bind is provisioned"
cb_curl GET "/v1/resources?project_id=$PROJECT&limit=200" dev-operator
BRID=$(printf %s "$CB_BODY" | jq -r --arg n "osb-$BIID" '.resources[] | select(.name == $n) | .id')

for minor in 13 14 15 16 17; do
        V=2.$minor
        BID="b-$minor-$RANDOM"
        B="$BBASE/service_bindings/$BID"

        osb PUT "$B" "$V" "$(bind_body | jq -c 'del(.service_id)')"
        expect 400 "$V: binding without service_id is 400"
        osb PUT "$B" "$V" "$(bind_body | jq -c 'del(.plan_id)')"
        expect 400 "$V: binding without plan_id is 400"
        osb PUT "$B" "$V" "$(bind_body "$SVC" "$PLAN2")"
        expect 400 "$V: binding with another instance's plan is 400"
        osb PUT "$B" "" "$(bind_body)"
        expect 412 "$V: binding without X-Broker-API-Version is 412"
        cb_curl PUT "$B" "" "$(bind_body)" -H "X-Broker-API-Version: $V"
        expect 401 "$V: binding without credentials is 401"
        osb PUT "/v2/service_instances/no-such-$minor/service_bindings/$BID" "$V" "$(bind_body)"
        expect 404 "$V: binding an unknown instance is 404"
        osb PUT "$B" "$V" "$(bind_body)" "$CITY"
        expect 404 "$V: another platform cannot bind the instance"

        osb PUT "$B" "$V" "$(bind_body)"
        expect 201 "$V: binding the VM is 201"
        CRED=$CB_BODY
        assert_jq "$CRED" '.credentials | "\(.resource_id) \(.key_type)"' "$BRID ssh-ed25519" \
                "$V: the credentials name the VM and the key type"
        assert_jq "$CRED" '.credentials.ssh_private_key | startswith("-----BEGIN OPENSSH PRIVATE KEY-----")' true \
                "$V: ... with a private key"
        assert_jq "$CRED" '.credentials.ssh_public_key | startswith("ssh-ed25519 ")' true "$V: ... and its public half"
        assert_eq "$(printf %s "$CRED" | jq 'has("endpoints") or has("metadata")')" false \
                "$V: no endpoints (no address on record) and no binding metadata (no expiry)"
        printf %s "$CRED" | jq -r .credentials.ssh_private_key >"$CB_TMP/key-$minor"
        chmod 600 "$CB_TMP/key-$minor"
        assert_eq "$(ssh-keygen -y -f "$CB_TMP/key-$minor" 2>&1 | cut -d' ' -f1,2)" \
                "$(printf %s "$CRED" | jq -r .credentials.ssh_public_key | cut -d' ' -f1,2)" \
                "$V: ssh-keygen reads the private key, and its public half is the one given"
        # At rest the private half is sealed (secrets.key): neither the
        # database nor its WAL holds it, nor a line of it.
        assert_eq "$(cat "$CB_DB" "$CB_DB-wal" 2>/dev/null | grep -c -a -F -e "PRIVATE KEY" \
                -e "$(printf %s "$CRED" | jq -r .credentials.ssh_private_key | sed -n 2p)")" 0 \
                "$V: the database file holds no private key in clear"

        osb PUT "$B" "$V" "$(bind_body)"
        expect 200 "$V: an identical repeat is 200"
        assert_eq "$CB_BODY" "$CRED" "$V: ... with the same credentials"
        osb PUT "$B" "$V" "$(bind_body | jq -c '. + {bind_resource: {app_guid: "other"}}')"
        expect 409 "$V: a repeat with other attributes is 409"

        osb GET "$B" "$V"
        if [ "$minor" -lt 14 ]; then
                expect 412 "$V: fetching a binding is 2.14's (412 at $V)"
        else
                expect 200 "$V: fetching the binding is 200"
                assert_eq "$CB_BODY" "$CRED" "$V: ... with the same credentials"
                osb GET "$B" "$V" "" "$CITY"
                expect 404 "$V: another platform cannot read the credentials"
                osb GET "$BBASE/service_bindings/nope-$minor" "$V"
                expect 404 "$V: an unknown binding is 404"
        fi
        osb GET "$B/last_operation" "$V"
        if [ "$minor" -lt 14 ]; then
                expect 412 "$V: binding last_operation is 2.14's (412 at $V)"
        else
                assert_jq "$CB_BODY" .state succeeded "$V: binding last_operation says succeeded"
        fi

        osb DELETE "$B?plan_id=$PLAN" "$V"
        expect 400 "$V: unbinding without service_id is 400"
        osb DELETE "$B?service_id=$SVC" "$V"
        expect 400 "$V: unbinding without plan_id is 400"
        osb DELETE "$B?$BQ" "$V" "" "$CITY"
        expect 410 "$V: another platform cannot unbind it (410)"
        osb DELETE "$B?$BQ" "$V"
        expect 200 "$V: unbinding is 200"
        assert_jq "$CB_BODY" . '{}' "$V: ... with {}"
        osb DELETE "$B?$BQ" "$V"
        expect 410 "$V: unbinding again is 410"
        if [ "$minor" -ge 14 ]; then
                osb GET "$B" "$V"
                expect 404 "$V: an unbound binding is not found"
                osb GET "$B/last_operation" "$V"
                assert_jq "$CB_BODY" '"\(.state) \(.description)"' "succeeded unbind succeeded" \
                        "$V: the unbind is remembered"
        fi
        osb PUT "$B" "$V" "$(bind_body)"
        expect 409 "$V: the id of an unbound binding is not reused"
done

cb_curl GET "/v1/audit?limit=10000" dev-auditor
AUDIT=$CB_BODY
assert_jq "$AUDIT" '[.records[] | select(.action == "resource.bind" and .principal == "osb:dev-portal"
        and .object == "resource:'"$BRID"'")] | length >= 5' true "each binding is audited under the platform's name"
assert_jq "$AUDIT" '[.records[] | select(.action == "resource.unbind" and .principal == "osb:dev-portal")] | length' 5 \
        "each unbinding is audited"
FP=$(ssh-keygen -l -f <(printf %s "$CRED" | jq -r .credentials.ssh_public_key) | cut -d' ' -f2)
assert_contains "$AUDIT" "$FP" "the audit record names the key by the fingerprint ssh-keygen gives"
assert_not_contains "$AUDIT" "PRIVATE KEY" "no private key in the audit trail"
assert_not_contains "$AUDIT" "$(printf %s "$CRED" | jq -r .credentials.ssh_private_key | sed -n 2p)" \
        "not even a line of one"
assert_not_contains "$(cat "$CB_TMP"/*.log 2>/dev/null)" "PRIVATE KEY" "no private key in the daemon's log"

osb DELETE "$BBASE?$BQ&accepts_incomplete=true" 2.17
expect 202 "the bound instance is deprovisioned"

# --- http plans: 201 when the provider made it at once, 202 while under way ---------
cb_start_osb_provider
cb_curl POST /v1/providers dev-operator "$(jq -nc --arg url "$OSB_URL" '{name: "linfen-paas", driver: "http",
        url: $url, username: "cb", password: "cb-osb-secret", api_version: "2.17"}')"
expect 201 "set-up: the test OSB provider is registered"
cb_wait_provider linfen-paas || fail "set-up: linfen-paas connects ($CB_BODY)"
cb_approve lf-edu-db "临政信审〔$YEAR〕78号" "$SYSTEM" '[{"service_id": "rds-mysql", "plan_id": "rds-mysql-2c4g", "quantity": 20},
        {"service_id": "rds-mysql", "plan_id": "rds-mysql-4c8g", "quantity": 2}]'
db_body() {
        jq -nc --arg sys "$SYSTEM" '{service_id: "rds-mysql", plan_id: "rds-mysql-2c4g", organization_guid: "edu",
                space_guid: "lf-edu-db", context: {platform: "cloudbroker-test", system_id: $sys}}'
}
SVC=rds-mysql
PLAN=rds-mysql-2c4g
for V in 2.13 2.17; do
        osb_control '{"async_ms": 0}' >/dev/null
        IID=db-sync-${V/./-}
        osb PUT "/v2/service_instances/$IID?accepts_incomplete=true" "$V" "$(db_body)"
        expect 201 "$V: an instance its provider made at once (synchronous plan) is 201"
        assert_jq "$CB_BODY" 'has("operation")' false "$V: with no operation to poll"
        if [ "${V#2.}" -ge 16 ]; then
                assert_jq "$CB_BODY" '.metadata.labels.resource_id | startswith("r-")' true "$V: and its metadata"
        else
                assert_jq "$CB_BODY" 'has("metadata")' false "$V: without metadata (2.16 and later)"
        fi
        osb PUT "/v2/service_instances/$IID?accepts_incomplete=true" "$V" "$(db_body)"
        expect 200 "$V: an identical repeat is 200"
        osb GET "/v2/service_instances/$IID/last_operation" "$V"
        assert_jq "$CB_BODY" .state succeeded "$V: its last_operation says succeeded"

        osb_control '{"async_ms": 1500}' >/dev/null
        IID=db-async-${V/./-}
        osb PUT "/v2/service_instances/$IID?accepts_incomplete=true" "$V" "$(db_body)"
        expect 202 "$V: an instance its provider builds asynchronously is 202"
        OP=$(printf %s "$CB_BODY" | jq -r .operation)
        assert_contains "$OP" "op-" "$V: with the operation to poll"
        osb PUT "/v2/service_instances/$IID?accepts_incomplete=true" "$V" "$(db_body)"
        expect 202 "$V: a repeat while under way is 202"
        wait_last "$IID" "$V" "$OP"
        assert_eq "$GOT" succeeded "$V: it succeeds"
        osb PUT "/v2/service_instances/$IID?accepts_incomplete=true" "$V" "$(db_body)"
        expect 200 "$V: a repeat once it is ready is 200"
done
osb_control '{"async_ms": 0}' >/dev/null

# --- plan change of an http instance: PATCH on /v2 and resize on /v1, one core ---------
IID=db-sync-2-17
remote_plan() { osb_control | jq -r --arg id "$1" '.instances[] | select(.id == $id) | .plan_id'; }
osb GET "/v2/service_instances/$IID" 2.17
DBRID=$(printf %s "$CB_BODY" | jq -r .metadata.labels.resource_id)
osb_control '{"async_ms": 800}' >/dev/null
osb PATCH "/v2/service_instances/$IID?accepts_incomplete=true" 2.17 \
        '{"service_id": "rds-mysql", "plan_id": "rds-mysql-4c8g", "parameters": {"charset": "gbk"}}'
expect 202 "a plan change of an http instance, with parameters, is 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation)
PLAN=rds-mysql-4c8g
wait_last "$IID" 2.17 "$OP"
assert_eq "$GOT" succeeded "its last_operation ends succeeded"
assert_eq "$(remote_plan "$DBRID")" mysql-ha-4c8g-200g "the provider has the instance on the new remote plan"
UPD=$(osb_control | jq -c --arg id "$DBRID" '.instances[] | select(.id == $id) | .update')
assert_jq "$UPD" .plan_id mysql-ha-4c8g-200g "the PATCH carried the new remote plan"
assert_jq "$UPD" .previous_values.plan_id mysql-ha-2c4g-100g "and the one it left as previous_values"
assert_jq "$UPD" .parameters.charset gbk "and the parameters"
cb_curl GET "/v1/resources/$DBRID" dev-edu
assert_jq "$CB_BODY" .plan_id rds-mysql-4c8g "the record is on the new plan"
cb_curl GET "/v1/operations/$OP" dev-edu
assert_jq "$CB_BODY" .kind resize "it was one resize operation"
osb PATCH "/v2/service_instances/$IID?accepts_incomplete=true" 2.17 '{"service_id": "rds-mysql", "plan_id": "rds-mysql-8c16g"}'
expect 403 "a plan outside the approval is refused (403)"
assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" "(Art." "naming the article"
# The same through /v1, and a provider whose update fails: the old plan comes back.
osb_control '{"async_ms": 300, "fail_update": true}' >/dev/null
cb_curl POST "/v1/resources/$DBRID/resize" dev-edu '{"plan_id": "rds-mysql-2c4g"}'
assert_eq "$CB_STATUS" 202 "POST /v1/resources/{id}/resize of an http instance is 202"
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
for _ in $(seq 1 100); do
        cb_curl GET "/v1/operations/$OP" dev-edu
        case "$(printf %s "$CB_BODY" | jq -r .state)" in succeeded | failed) break ;; esac
        sleep 0.1
done
assert_jq "$CB_BODY" .state failed "a plan change the provider fails is failed"
assert_contains "$(printf %s "$CB_BODY" | jq -r .error)" "injected failure" "with the provider's description"
cb_curl GET "/v1/resources/$DBRID" dev-edu
assert_jq "$CB_BODY" .plan_id rds-mysql-4c8g "and the record is back on the plan it had"
assert_jq "$CB_BODY" .state active "still active"
osb_control '{"reset": true}' >/dev/null
cb_curl POST "/v1/resources/$DBRID/resize" dev-edu '{"plan_id": "rds-mysql-2c4g"}'
OP=$(printf %s "$CB_BODY" | jq -r .operation_id)
for _ in $(seq 1 100); do
        cb_curl GET "/v1/operations/$OP" dev-edu
        case "$(printf %s "$CB_BODY" | jq -r .state)" in succeeded | failed) break ;; esac
        sleep 0.1
done
assert_jq "$CB_BODY" .state succeeded "a synchronous plan change succeeds"
assert_eq "$(remote_plan "$DBRID")" mysql-ha-2c4g-100g "the provider has it on the old remote plan again"

# --- deprovisioning http instances: 200 when the provider deleted at once, 202 while under way ---
PLAN=rds-mysql-2c4g
DQ="service_id=$SVC&plan_id=$PLAN&accepts_incomplete=true"
at_provider() { osb_control | jq --arg id "$1" '[.instances[] | select(.id == $id)] | length'; }
osb GET "/v2/service_instances/db-sync-2-13" 2.17
SRID=$(printf %s "$CB_BODY" | jq -r .metadata.labels.resource_id)
assert_eq "$(at_provider "$SRID")" 1 "set-up: the synchronous instance is at the provider"
osb DELETE "/v2/service_instances/db-sync-2-13?$DQ" 2.17
expect 200 "deprovisioning an http instance its provider deletes at once is 200"
assert_eq "$CB_BODY" "{}" "... with an empty body (no operation to poll)"
assert_eq "$(at_provider "$SRID")" 0 "... and it is gone at the provider"
cb_curl GET "/v1/resources/$SRID" dev-edu
assert_jq "$CB_BODY" .state deleted "... and deleted on the record"
osb GET "/v2/service_instances/db-sync-2-13/last_operation?$DQ" 2.17
assert_jq "$CB_BODY" .state succeeded "its last_operation says succeeded"
assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" deprovision "... of the deprovision"
osb DELETE "/v2/service_instances/db-sync-2-13?$DQ" 2.17
expect 410 "deprovisioning it again is 410"
osb_control '{"async_ms": 1500}' >/dev/null
osb DELETE "/v2/service_instances/db-async-2-13?$DQ" 2.17
expect 202 "deprovisioning an http instance its provider deletes asynchronously is 202"
DOP=$(printf %s "$CB_BODY" | jq -r .operation)
assert_contains "$DOP" "op-" "... with the operation to poll"
wait_last db-async-2-13 2.17 "$DOP"
assert_eq "$GOT" succeeded "... which succeeds"
osb_control '{"reset": true}' >/dev/null

cb_stop_daemon
cb_done
