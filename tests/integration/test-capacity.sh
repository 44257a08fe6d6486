#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Placement by free capacity on the real daemon (provider "dev-test" of
# tests/integration/test.conf: 16 vCPUs and 64 GiB on etc/test-node.xml):
# a provision holds its share from the moment it is accepted, so a burst
# cannot place more than the host has, even before any of it runs; a refusal
# for capacity is 503 naming the shortfall and creates nothing; what runs is
# read back from the host within a few seconds of each change (not only at
# the next reconcile), so a deletion frees room for the next request; with
# several providers the one with the most free memory that fits is chosen
# (vCPUs, memory, and the storage pool a volume needs), and a plan that pins
# a provider goes there (or is refused when it does not exist).
#
# Usage (from the repository root): tests/integration/test-capacity.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

PROJECT=lf-edu-capacity-test
SYSTEM=edu-portal
SVC=ecs-general
BIG=ecs-general-8c16g
YEAR=$(date +%Y)

cb_add_system "$SYSTEM" edu 2 false compliant 教育门户
cb_approve "$PROJECT" "临政信审〔$YEAR〕97号" "$SYSTEM" "[{\"service_id\": \"$SVC\", \"plan_id\": \"$BIG\", \"quantity\": 6},
        {\"service_id\": \"$SVC\", \"plan_id\": \"ecs-general-16c32g\", \"quantity\": 1}]"

# capacity FIELD: the provider's capacity field, as GET /v1/providers shows it.
capacity() {
        cb_curl GET /v1/providers dev-operator
        printf %s "$CB_BODY" | jq -r --arg f "$1" '.providers[] | select(.name == "dev-test") | .capacity[$f]'
}

# wait_capacity FIELD VALUE: polls (at most 5 s) until the field has the value; sets GOT.
wait_capacity() {
        for _ in $(seq 1 50); do
                GOT=$(capacity "$1")
                [ "$GOT" = "$2" ] && return 0
                sleep 0.1
        done
        return 1
}

# burst N: N concurrent requests for BIG; statuses in burst.I.code, bodies in burst.I.
burst() {
        cb_post_at_once "$1" burst /v1/resources dev-edu \
                "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$BIG\",\"name\":\"big-@I@\"}"
}

resource_count() {
        cb_curl GET /v1/resources dev-operator
        printf %s "$CB_BODY" | jq '.resources | length'
}

# --- the reading ------------------------------------------------------------------

if wait_capacity free_vcpus 16; then pass "the host's 16 vCPUs are free (nothing runs)"; else fail "free_vcpus: $GOT"; fi
assert_eq "$(capacity reserved_vcpus)" 0 "nothing is reserved"

# --- a burst larger than the host ------------------------------------------------------

# Three 8-vCPU VMs at once on a 16-vCPU host: two fit, the third is refused
# even though none of them runs yet when it is placed.
burst 3
codes=$(for i in 1 2 3; do cat "$CB_TMP/burst.$i.code"; echo; done | sort | tr '\n' ' ' | sed 's/ $//')
assert_eq "$codes" "202 202 503" "a burst of three 8-vCPU requests on 16 vCPUs: two accepted, one 503"
for i in 1 2 3; do
        if [ "$(cat "$CB_TMP/burst.$i.code")" = 503 ]; then
                assert_jq "$(cat "$CB_TMP/burst.$i")" .error unavailable "the refusal says unavailable"
                assert_contains "$(cat "$CB_TMP/burst.$i")" "8 free vCPUs" "and names what is missing"
        else
                ids+=("$(jq -r .id "$CB_TMP/burst.$i")")
        fi
done
assert_eq "$(resource_count)" 2 "the refusal created no resource"
for id in "${ids[@]}"; do
        if cb_wait_state "$id" active; then pass "$id becomes active"; else fail "$id: $GOT"; fi
done
assert_eq "$(capacity free_vcpus)" 0 "no vCPUs are free"
# Within about a second the host's reading shows both, and they hold nothing any more.
if wait_capacity reserved_vcpus 0; then pass "finished provisions hold no reservation"; else fail "reserved: $GOT"; fi
assert_eq "$(capacity running)" 2 "the reading shows two domains running"
assert_eq "$(capacity free_vcpus)" 0 "the host reads back full: 0 vCPUs free"

cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$BIG\",\"name\":\"big-late\"}"
assert_eq "$CB_STATUS" 503 "a full host refuses the next one: 503"

# A resize that grows is held to the same room: on the full host, 8c16g to
# 16c32g is refused before anything stops, naming the provider.
ops_before=$(sqlite3 "$CB_DB" "PRAGMA busy_timeout = 5000; SELECT count(*) FROM operations;" | tail -n1)
cb_curl POST "/v1/resources/${ids[0]}/resize" dev-edu '{"plan_id":"ecs-general-16c32g"}'
assert_eq "$CB_STATUS" 503 "a resize that grows by 8 vCPUs on a full host: 503"
assert_jq "$CB_BODY" .error unavailable "the refusal says unavailable"
assert_contains "$CB_BODY" "provider 'dev-test'" "and names the provider"
assert_contains "$CB_BODY" "8 more vCPUs" "and the growth it has no room for"
assert_eq "$(sqlite3 "$CB_DB" "PRAGMA busy_timeout = 5000; SELECT count(*) FROM operations;" | tail -n1)" "$ops_before" \
        "no operation is recorded"
cb_curl GET "/v1/resources/${ids[0]}" dev-edu
assert_jq "$CB_BODY" '.state + " " + .plan_id' "active $BIG" "the VM is left running on its plan"
assert_eq "$(capacity reserved_vcpus)" 0 "the refused resize holds nothing"

# --- deletion frees room, read back without waiting for a reconcile ----------------------

# test.conf reconciles every 30 s; the capacity reading follows changes within about a second.
t0=$(date +%s)
cb_curl DELETE "/v1/resources/${ids[0]}" dev-edu
assert_eq "$CB_STATUS" 202 "one VM is deleted"
if cb_wait_state "${ids[0]}" deleted; then pass "it is deleted"; else fail "state $GOT"; fi
if wait_capacity free_vcpus 8; then pass "8 vCPUs are free again"; else fail "free_vcpus: $GOT"; fi
assert_eq "$(($(date +%s) - t0 < 10))" 1 "well before the next reconcile"
cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$BIG\",\"name\":\"big-again\"}"
assert_eq "$CB_STATUS" 202 "and the next request fits: 202"
R3=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$R3" active; then pass "it becomes active"; else fail "state $GOT"; fi

# --- a stopped VM gives its vCPUs back ------------------------------------------------------

cb_curl POST "/v1/resources/$R3/actions" dev-edu '{"action":"stop"}'
assert_eq "$CB_STATUS" 202 "stop: 202"
if cb_wait_state "$R3" stopped; then pass "it is stopped"; else fail "state $GOT"; fi
if wait_capacity free_vcpus 8; then pass "a stopped VM's 8 vCPUs are free"; else fail "free_vcpus: $GOT"; fi

# With 8 vCPUs free, the same resize fits: its growth is held from the
# request (an order for those 8 vCPUs arriving meanwhile is refused), and
# the VM runs on 16 vCPUs; then it goes back to 8c16g, which needs no room.
cb_curl POST "/v1/resources/${ids[1]}/resize" dev-edu '{"plan_id":"ecs-general-16c32g"}'
assert_eq "$CB_STATUS" 202 "a resize growing by the 8 vCPUs that are free: 202"
ROP=$(printf %s "$CB_BODY" | jq -r .operation_id)
cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$BIG\",\"name\":\"big-during-resize\"}"
assert_eq "$CB_STATUS" 503 "an order for the same 8 vCPUs meanwhile: 503 (the resize holds them)"
for _ in $(seq 1 100); do
        cb_curl GET "/v1/operations/$ROP" dev-operator
        case "$(printf %s "$CB_BODY" | jq -r .state)" in succeeded | failed) break ;; esac
        sleep 0.1
done
assert_jq "$CB_BODY" .state succeeded "the resize succeeds"
if wait_capacity free_vcpus 0; then pass "the host reads back full: the VM runs on 16 vCPUs"; else fail "free_vcpus: $GOT"; fi
if wait_capacity reserved_vcpus 0; then pass "and the resize holds nothing once read back"; else fail "reserved: $GOT"; fi
cb_curl POST "/v1/resources/${ids[1]}/resize" dev-edu "{\"plan_id\":\"$BIG\"}"
assert_eq "$CB_STATUS" 202 "back to 8c16g on the full host (it shrinks): 202"
ROP=$(printf %s "$CB_BODY" | jq -r .operation_id)
for _ in $(seq 1 100); do
        cb_curl GET "/v1/operations/$ROP" dev-operator
        case "$(printf %s "$CB_BODY" | jq -r .state)" in succeeded | failed) break ;; esac
        sleep 0.1
done
assert_jq "$CB_BODY" .state succeeded "that resize succeeds"
if wait_capacity free_vcpus 8; then pass "8 vCPUs are free again"; else fail "free_vcpus: $GOT"; fi

# --- several providers: the most free memory that fits, and pinned plans -------------------

# A second host with more vCPUs but less memory (32 vCPUs, 20 GiB), whose
# pool "sata-pool" is called "small-only-pool" instead.
sed -e 's|<active>16</active>|<active>32</active>|' -e 's|<sockets>2</sockets>|<sockets>4</sockets>|' \
        -e 's|<memory>67108864</memory>|<memory>20971520</memory>|' \
        -e 's|<name>sata-pool</name>|<name>small-only-pool</name>|' etc/test-node.xml >"$CB_TMP/small-node.xml"
cb_curl POST /v1/providers dev-operator "{\"name\":\"small\",\"driver\":\"libvirt\",\"uri\":\"test://$CB_TMP/small-node.xml\"}"
assert_eq "$CB_STATUS" 201 "a second provider is added"
small_total() {
        cb_curl GET /v1/providers dev-operator
        printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "small") | .capacity.total_vcpus // empty'
}
for _ in $(seq 1 50); do [ "$(small_total)" = 32 ] && break; sleep 0.1; done
assert_eq "$(small_total)" 32 "it is connected and read: 32 vCPUs"

# A service whose plans pin a provider: published by the operator, the authority and finance.
cat >"$CB_TMP/pinned.json" <<'JSON'
{
  "id": "ecs-pinned", "name": "ecs-pinned", "display_name": "指定主机云服务器", "category": "IaaS",
  "driver": "libvirt", "description": "Plans pinned to a provider.", "secure_controllable": false,
  "max_protection_level": 3, "bindable": false, "tags": ["test"],
  "plans": [
    {"id": "ecs-pinned-small", "name": "on-small", "display_name": "small 主机", "description": "",
     "spec": {"vcpus": 1, "memory_mib": 1024, "disk_gib": 0, "provider": "small"},
     "price": {"amount_fen": 100, "unit": "hour"}},
    {"id": "ecs-pinned-nowhere", "name": "on-nowhere", "display_name": "不存在的主机", "description": "",
     "spec": {"vcpus": 1, "memory_mib": 1024, "disk_gib": 0, "provider": "nowhere"},
     "price": {"amount_fen": 100, "unit": "hour"}},
    {"id": "ecs-pinned-unreached", "name": "on-unreached", "display_name": "连不上的主机", "description": "",
     "spec": {"vcpus": 1, "memory_mib": 1024, "disk_gib": 0, "provider": "unreached"},
     "price": {"amount_fen": 100, "unit": "hour"}}
  ]
}
JSON
# Volumes in pools that only one host has, or none.
cat >"$CB_TMP/local.json" <<'JSON'
{
  "id": "evs-local", "name": "evs-local", "display_name": "本地盘", "category": "IaaS",
  "driver": "libvirt", "description": "Volumes in pools not every host has.", "secure_controllable": false,
  "max_protection_level": 3, "bindable": false, "tags": ["test"],
  "plans": [
    {"id": "evs-local-small", "name": "small-only", "display_name": "small 本地盘", "description": "",
     "spec": {"kind": "volume", "size_gib": 10, "pool": "small-only-pool"},
     "price": {"amount_fen": 100, "unit": "month"}},
    {"id": "evs-local-nowhere", "name": "nowhere", "display_name": "无处可放", "description": "",
     "spec": {"kind": "volume", "size_gib": 10, "pool": "nowhere-pool"},
     "price": {"amount_fen": 100, "unit": "month"}}
  ]
}
JSON
# publish FILE ID: drafted by the operator, submitted, signed off by the authority and finance.
publish() {
        cb_curl POST /v1/catalog/services dev-operator "@$1"
        assert_eq "$CB_STATUS" 201 "set-up: $2 is drafted"
        cb_curl POST "/v1/catalog/services/$2/submit" dev-operator
        cb_curl POST "/v1/catalog/services/$2/approve" dev-authority
        cb_curl POST "/v1/catalog/services/$2/approve" dev-finance
        assert_jq "$CB_BODY" .status published "set-up: and published"
}
publish "$CB_TMP/pinned.json" ecs-pinned
publish "$CB_TMP/local.json" evs-local
PINNED=lf-edu-capacity-pinned
cb_approve "$PINNED" "临政信审〔$YEAR〕96号" "$SYSTEM" \
        '[{"service_id": "ecs-pinned", "plan_id": "ecs-pinned-small", "quantity": 1},
          {"service_id": "ecs-pinned", "plan_id": "ecs-pinned-nowhere", "quantity": 1},
          {"service_id": "ecs-pinned", "plan_id": "ecs-pinned-unreached", "quantity": 1},
          {"service_id": "evs-local", "plan_id": "evs-local-small", "quantity": 1},
          {"service_id": "evs-local", "plan_id": "evs-local-nowhere", "quantity": 1}]'

# pinned_request PLAN NAME [SERVICE]
pinned_request() {
        cb_curl POST /v1/resources dev-edu \
                "{\"project_id\":\"$PINNED\",\"system_id\":\"$SYSTEM\",\"service_id\":\"${3:-ecs-pinned}\",\"plan_id\":\"$1\",\"name\":\"$2\"}"
}
# big_request NAME
big_request() {
        cb_curl POST /v1/resources dev-edu \
                "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$BIG\",\"name\":\"$1\"}"
}

# dev-test: 8 vCPUs and 48 GiB free; small: 32 vCPUs and 20 GiB.
pinned_request ecs-pinned-small pinned-vm
assert_eq "$CB_STATUS" 202 "a plan pinned to small: 202"
P1=$(printf %s "$CB_BODY" | jq -r .id)
cb_curl GET "/v1/resources/$P1" dev-operator
assert_jq "$CB_BODY" .provider small "it goes to small, though dev-test has more memory free"
pinned_request ecs-pinned-nowhere nowhere-vm
assert_eq "$CB_STATUS" 503 "a plan pinned to a provider that does not exist: 503"
assert_contains "$CB_BODY" "nowhere" "naming the provider"
# A host not reached (yet): not a matter of capacity, and the refusal says so.
cb_curl POST /v1/providers dev-operator '{"name":"unreached","driver":"libvirt","uri":"qemu+tcp://127.0.0.1:1/system"}'
assert_eq "$CB_STATUS" 201 "a provider on an unreachable URI is added"
for _ in $(seq 1 100); do # its first probe fails on a worker
        cb_curl GET /v1/providers dev-operator
        [ -n "$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "unreached") | .error // empty')" ] && break
        sleep 0.1
done
n_before=$(sqlite3 "$CB_DB" "PRAGMA busy_timeout = 5000; SELECT count(*) FROM resources;" | tail -n1)
pinned_request ecs-pinned-unreached unreached-vm
assert_eq "$CB_STATUS" 503 "a plan pinned to a provider that is not connected: 503"
assert_contains "$CB_BODY" "'unreached' is connecting" "saying it is not connected yet, not that it is full"
assert_eq "$(sqlite3 "$CB_DB" "PRAGMA busy_timeout = 5000; SELECT count(*) FROM resources;" | tail -n1)" "$n_before" \
        "and nothing is recorded"
if cb_wait_state "$P1" active; then pass "the pinned VM becomes active"; else fail "state $GOT"; fi

# A volume goes to a host that has its pool, whatever the memory says.
cb_curl GET /v1/providers dev-operator
assert_jq "$CB_BODY" '.providers[] | select(.name == "small") | .capacity.pools | index("small-only-pool") != null' \
        true "small's reading lists its pools"
pinned_request evs-local-small local-disk evs-local
assert_eq "$CB_STATUS" 202 "a volume in small-only-pool: 202"
L1=$(printf %s "$CB_BODY" | jq -r .id)
cb_curl GET "/v1/resources/$L1" dev-operator
assert_jq "$CB_BODY" .provider small "it goes to small, the one host with that pool"
if cb_wait_state "$L1" active; then pass "the volume becomes active"; else fail "state $GOT"; fi
pinned_request evs-local-nowhere nowhere-disk evs-local
assert_eq "$CB_STATUS" 503 "a volume in a pool no host has: 503"
assert_contains "$CB_BODY" "storage pool 'nowhere-pool'" "naming the pool"

big_request big-d
assert_eq "$CB_STATUS" 202 "an 8-vCPU VM: 202"
B1=$(printf %s "$CB_BODY" | jq -r .id)
cb_curl GET "/v1/resources/$B1" dev-operator
assert_jq "$CB_BODY" .provider dev-test "it goes where the most memory is free (dev-test)"
big_request big-e
assert_eq "$CB_STATUS" 202 "another: 202"
B2=$(printf %s "$CB_BODY" | jq -r .id)
cb_curl GET "/v1/resources/$B2" dev-operator
assert_jq "$CB_BODY" .provider small "dev-test has no vCPUs left: it goes to small"
big_request big-f
assert_eq "$CB_STATUS" 503 "a third: 503 (small has vCPUs but only 3 GiB of memory left)"
for id in "$B1" "$B2"; do
        if cb_wait_state "$id" active; then pass "$id becomes active"; else fail "$id: $GOT"; fi
done

cb_stop_daemon
cb_done
