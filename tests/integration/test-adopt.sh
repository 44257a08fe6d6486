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

cb_done
