#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Providers over REST through the real daemon on libvirt's test driver:
# the list and who may read it, the live inventory (unmanaged domains are
# UNMANAGED_RESOURCE, Art. 10, reported once in the audit trail however
# often the provider is read; the broker's VMs are managed, with their
# resource id), adding providers at run time and the refusals, inventories
# in flight while the daemon keeps serving, a provider that cannot be
# reached (not connected; its inventory refused at once with 503), and one
# that accepts the connection and never answers (given up after the connect
# timeout; the daemon still stops within 2 s while the open hangs).
#
# Usage (from the repository root): tests/integration/test-providers.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

PROJECT=lf-edu-prov-test
SYSTEM=edu-portal
SVC=ecs-general
PLAN=ecs-general-1c2g
YEAR=$(date +%Y)

# wait_provider NAME STATUS: polls GET /v1/providers (at most 10 s); sets GOT.
wait_provider() {
        GOT=
        for _ in $(seq 1 100); do
                cb_curl GET /v1/providers dev-operator
                GOT=$(printf %s "$CB_BODY" | jq -r --arg n "$1" '.providers[] | select(.name == $n) | .status')
                [ "$GOT" = "$2" ] && return 0
                sleep 0.1
        done
        return 1
}

# assert_fast T0 T1 (date +%s%N): the answer came within 2 s.
assert_fast() {
        local ms=$((($2 - $1) / 1000000))
        if [ "$ms" -lt 2000 ]; then pass "answered at once ($ms ms)"; else fail "the answer took $ms ms"; fi
}

# unmanaged_records PROVIDER DOMAIN: inventory.unmanaged records in the audit trail.
unmanaged_records() {
        cb_curl GET "/v1/audit?limit=10000" dev-auditor
        printf %s "$CB_BODY" | jq --arg o "provider:$1/$2" \
                '[.. | objects | select(.action? == "inventory.unmanaged" and .object? == $o)] | length'
}

# --- first sighting -----------------------------------------------------------------

# The start-up reconcile reports legacy-oa-server as soon as dev-test
# connects. Inventories within the same second must not report it again
# (records are stamped to the second, so "first seen = last seen" is no
# proof of a first sighting): ask for it as soon as it answers, several times.
for _ in $(seq 1 100); do
        cb_curl GET /v1/providers/dev-test/inventory dev-operator
        [ "$CB_STATUS" = 200 ] && break
        sleep 0.05
done
assert_eq "$CB_STATUS" 200 "dev-test answers its inventory soon after start"
for _ in 1 2 3 4 5; do cb_curl GET /v1/providers/dev-test/inventory dev-operator; done
assert_eq "$(unmanaged_records dev-test legacy-oa-server)" 1 "inventories right after the first sighting report nothing again"

# --- the list ------------------------------------------------------------------

if wait_provider dev-test connected; then pass "dev-test connects"; else fail "dev-test is $GOT"; fi
for who in dev-operator dev-authority dev-auditor; do
        cb_curl GET /v1/providers "$who"
        assert_eq "$CB_STATUS" 200 "GET /v1/providers as $who: 200"
done
P=$(printf %s "$CB_BODY" | jq '.providers[] | select(.name == "dev-test")')
assert_jq "$P" .status connected "dev-test is connected"
assert_jq "$P" .driver libvirt "dev-test is a libvirt provider"
assert_jq "$P" .source config "dev-test comes from the config"
assert_jq "$P" .capacity.total_vcpus 16 "capacity: the node's 16 CPUs"
assert_jq "$P" .capacity.total_memory_mib 65536 "capacity: the node's 64 GiB"
assert_jq "$P" '.capacity.free_vcpus <= .capacity.total_vcpus and .capacity.free_memory_mib > 0' true \
        "capacity: free within total"
for who in dev-edu dev-health dev-finance; do
        cb_curl GET /v1/providers "$who"
        assert_eq "$CB_STATUS" 403 "GET /v1/providers as $who: 403"
done
cb_curl GET /v1/providers ""
assert_eq "$CB_STATUS" 401 "GET /v1/providers without a token: 401"

# --- inventory: the unmanaged domain -----------------------------------------------

cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_eq "$CB_STATUS" 200 "inventory as the operator: 200"
assert_jq "$CB_BODY" .provider dev-test "the inventory names its provider"
L=$(printf %s "$CB_BODY" | jq '.domains[] | select(.name == "legacy-oa-server")')
assert_jq "$L" .managed false "legacy-oa-server is not managed"
assert_jq "$L" .provider_ref 7f3c1a52-5b2e-4d7a-9c61-2f0a8e4b9d10 "its provider_ref is the domain UUID"
assert_jq "$L" .state shutoff "its state is the node file's (shut off)"
assert_jq "$L" .violation.code UNMANAGED_RESOURCE "it carries the UNMANAGED_RESOURCE violation"
assert_jq "$L" .violation.article 10 "the violation cites Art. 10"
assert_jq "$L" '.resource_id // "none"' none "it has no resource_id"
for who in dev-authority dev-auditor; do
        cb_curl GET /v1/providers/dev-test/inventory "$who"
        assert_eq "$CB_STATUS" 200 "inventory as $who: 200"
done
for who in dev-edu dev-finance; do
        cb_curl GET /v1/providers/dev-test/inventory "$who"
        assert_eq "$CB_STATUS" 403 "inventory as $who: 403"
done
cb_curl GET /v1/providers/no-such-provider/inventory dev-operator
assert_eq "$CB_STATUS" 404 "inventory of an unknown provider: 404"

# Reported once, not once per reconcile: the start-up reconcile and every
# inventory above already saw it (see the top: several within the second of
# the first sighting); two more now change nothing.
assert_eq "$(unmanaged_records dev-test legacy-oa-server)" 1 "one inventory.unmanaged record for legacy-oa-server"
cb_curl GET /v1/providers/dev-test/inventory dev-operator
cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_eq "$(unmanaged_records dev-test legacy-oa-server)" 1 "still one after two more inventories"
cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_jq "$CB_BODY" '[.. | objects | select(.action? == "inventory.unmanaged")][0].codes' '[
  "UNMANAGED_RESOURCE"
]' "the record carries the code UNMANAGED_RESOURCE"

# --- inventory: a VM the broker made ------------------------------------------------

cb_add_system "$SYSTEM" edu 2 false compliant 教育门户
cb_approve "$PROJECT" "临政信审〔$YEAR〕98号" "$SYSTEM" "[{\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN\", \"quantity\": 2}]"
cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN\",\"name\":\"vm-inv\"}"
assert_eq "$CB_STATUS" 202 "set-up: a VM is requested"
R1=$(printf %s "$CB_BODY" | jq -r .id)
state=
for _ in $(seq 1 100); do
        cb_curl GET "/v1/resources/$R1" dev-operator
        state=$(printf %s "$CB_BODY" | jq -r .state)
        [ "$state" = active ] && break
        sleep 0.1
done
assert_eq "$state" active "set-up: the VM is active"
REF1=$(printf %s "$CB_BODY" | jq -r .provider_ref)

cb_curl GET /v1/providers/dev-test/inventory dev-auditor
V=$(printf %s "$CB_BODY" | jq --arg ref "$REF1" '.domains[] | select(.provider_ref == $ref)')
assert_jq "$V" .managed true "the broker's VM is managed"
assert_jq "$V" .resource_id "$R1" "it names its resource_id"
assert_jq "$V" .state running "it is running"
assert_jq "$V" .vcpus 1 "it has the plan's vCPUs"
assert_jq "$V" .memory_mib 2048 "it has the plan's memory"
assert_jq "$V" 'has("violation")' false "it carries no violation"
assert_jq "$CB_BODY" '.domains | length' 2 "the inventory has exactly the two domains"
assert_eq "$(unmanaged_records dev-test legacy-oa-server)" 1 "the managed VM added no unmanaged record"
cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_jq "$CB_BODY" '[.. | objects | select(.action? == "inventory.unmanaged" and (.object? | startswith("provider:dev-test/")))] | length' \
        1 "no unmanaged record for the broker's own VM"

# --- adding providers -----------------------------------------------------------

# Added just after a second begins, so that its first sighting of its stock
# domain and the inventories right after it fall within the same second:
# the case where "first seen = last seen" used to report it again each time.
ns=$(date +%N)
sleep "$(printf '0.%09d' $((1000000000 - 10#$ns)))"
cb_curl POST /v1/providers dev-operator '{"name":"second-test","driver":"libvirt","uri":"test:///default"}'
assert_eq "$CB_STATUS" 201 "the operator adds a provider: 201"
assert_jq "$CB_BODY" .name second-test "the answer names it"
assert_jq "$CB_BODY" .source api "it comes from the API"
assert_jq "$CB_BODY" .domain_type auto "its domain_type is auto unless given"
assert_contains "$CB_HEADERS" "/v1/providers/second-test" "Location names it"
for _ in $(seq 1 100); do
        cb_curl GET /v1/providers/second-test/inventory dev-operator
        [ "$CB_STATUS" = 200 ] && break
        sleep 0.02
done
for _ in 1 2 3; do cb_curl GET /v1/providers/second-test/inventory dev-operator; done
STOCK=$(printf %s "$CB_BODY" | jq -r '.domains[0].name')
assert_eq "$(unmanaged_records second-test "$STOCK")" 1 \
        "the new provider's stock domain is reported once, whatever the inventories in its first second"
if wait_provider second-test connected; then pass "the new provider connects"; else fail "second-test is $GOT"; fi
cb_curl GET /v1/providers/second-test/inventory dev-operator
assert_eq "$CB_STATUS" 200 "the new provider answers its inventory"
assert_jq "$CB_BODY" '.domains | length > 0' true "test:///default has its stock domain"
assert_jq "$CB_BODY" '[.domains[] | .managed] | all(. == false)' true "none of it is managed"

cb_curl POST /v1/providers dev-operator '{"name":"second-test","driver":"libvirt","uri":"test:///default"}'
assert_eq "$CB_STATUS" 409 "a duplicate name: 409"
cb_curl POST /v1/providers dev-operator '{"name":"dev-test","driver":"libvirt","uri":"test:///default"}'
assert_eq "$CB_STATUS" 409 "the name of a configured provider: 409"
cb_curl POST /v1/providers dev-operator '{"name":"bad-driver","driver":"vmware","uri":"vpx://x"}'
assert_eq "$CB_STATUS" 422 "an unknown driver: 422"
assert_jq "$CB_BODY" .field driver "the error names driver"
cb_curl POST /v1/providers dev-operator '{"name":"bad-type","driver":"libvirt","uri":"test:///default","domain_type":"xen"}'
assert_eq "$CB_STATUS" 422 "a domain_type other than auto, kvm, qemu: 422"
assert_jq "$CB_BODY" .field domain_type "the error names domain_type"
cb_curl POST /v1/providers dev-operator '{"name":"bad-type","driver":"libvirt","uri":"test:///default","domain_type":7}'
assert_eq "$CB_STATUS" 422 "a domain_type that is not a string: 422"
cb_curl POST /v1/providers dev-operator '{"name":"Bad Name!","driver":"libvirt","uri":"test:///default"}'
assert_eq "$CB_STATUS" 422 "a name that is not an id: 422"
cb_curl POST /v1/providers dev-operator '{"name":"no-uri","driver":"libvirt"}'
assert_eq "$CB_STATUS" 422 "a missing uri: 422"
cb_curl POST /v1/providers dev-operator '{"name":"x","driver":"libvirt","uri":"test:///default","colour":1}'
assert_eq "$CB_STATUS" 422 "an unknown field: 422"
cb_curl POST /v1/providers dev-operator '{"name": '
assert_eq "$CB_STATUS" 400 "malformed JSON: 400"
for who in dev-edu dev-authority dev-auditor; do
        cb_curl POST /v1/providers "$who" '{"name":"by-other","driver":"libvirt","uri":"test:///default"}'
        assert_eq "$CB_STATUS" 403 "POST /v1/providers as $who: 403"
done
cb_curl GET /v1/providers dev-operator
assert_jq "$CB_BODY" '[.providers[].name] | sort' '[
  "dev-test",
  "second-test"
]' "the refusals added nothing"
cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_jq "$CB_BODY" '[.. | objects | select(.action? == "provider.create")] | map(.object + " " + .principal)' '[
  "provider:second-test dev-operator"
]' "one provider.create record, by the operator"

# --- inventories in flight; the daemon keeps serving -------------------------------

pids=()
for i in $(seq 1 20); do
        curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer dev-operator" \
                "$CB_URL/v1/providers/dev-test/inventory" >"$CB_TMP/inv.$i" 2>&1 &
        pids+=($!)
done
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "the daemon answers other requests meanwhile"
for pid in "${pids[@]}"; do wait "$pid" || true; done
assert_eq "$(cat "$CB_TMP"/inv.* | sort | uniq -c | awk '{print $1 " " $2}')" "20 200" \
        "20 concurrent inventories all answer 200"
assert_eq "$(unmanaged_records dev-test legacy-oa-server)" 1 "and report legacy-oa-server no second time"

# --- a provider that cannot be reached ----------------------------------------------

cb_curl POST /v1/providers dev-operator '{"name":"unreachable","driver":"libvirt","uri":"qemu+tcp://127.0.0.1:1/system"}'
assert_eq "$CB_STATUS" 201 "a provider on an unreachable URI is accepted: 201"
# Its first probe fails on a worker; wait until it has been tried.
got=
for _ in $(seq 1 100); do
        cb_curl GET /v1/providers dev-operator
        got=$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "unreachable") | .error // empty')
        [ -n "$got" ] && break
        sleep 0.1
done
U=$(printf %s "$CB_BODY" | jq '.providers[] | select(.name == "unreachable")')
assert_jq "$U" '.status != "connected"' true "its status is not connected ($(printf %s "$U" | jq -r .status))"
assert_jq "$U" '.error | length > 0' true "it says why"
t0=$(date +%s%N)
cb_curl GET /v1/providers/unreachable/inventory dev-operator
t1=$(date +%s%N)
assert_eq "$CB_STATUS" 503 "its inventory: 503"
assert_jq "$CB_BODY" .error unavailable "error is unavailable"
assert_fast "$t0" "$t1"
cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_eq "$CB_STATUS" 200 "the other providers still answer"

# --- after a restart ------------------------------------------------------------------

# shellcheck disable=SC2119 # no extra daemon arguments
cb_restart_daemon
if wait_provider second-test connected; then pass "the stored provider is back after a restart"; else fail "second-test after restart: $GOT"; fi
cb_curl GET /v1/providers dev-operator
assert_jq "$CB_BODY" '.providers[] | select(.name == "second-test") | .source' api "it is still from the API"
cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_eq "$(unmanaged_records dev-test legacy-oa-server)" 1 "a restart does not report legacy-oa-server again"

# --- a provider that accepts the connection and never answers ----------------------------

# Its open blocks a worker (libvirt waits for the first RPC reply); the main
# loop must not notice. Needs a mute listener: python3 when it is there.
if command -v python3 >/dev/null; then
        MUTE_PORT=$(cb_free_port)
        python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("listening", flush=True)
time.sleep(60)' "$MUTE_PORT" >"$CB_TMP/mute.out" 2>&1 &
        CB_PIDS+=($!)
        for _ in $(seq 1 50); do
                grep -q listening "$CB_TMP/mute.out" && break
                sleep 0.1
        done
        cb_curl POST /v1/providers dev-operator \
                "{\"name\":\"mute\",\"driver\":\"libvirt\",\"uri\":\"qemu+tcp://127.0.0.1:$MUTE_PORT/system\"}"
        assert_eq "$CB_STATUS" 201 "a provider on a mute listener is accepted"
        sleep 1
        cb_curl GET /v1/providers dev-auditor
        assert_eq "$CB_STATUS" 200 "GET /v1/providers answers while its open hangs on a worker"
        assert_jq "$CB_BODY" '.providers[] | select(.name == "mute") | .status != "connected"' true \
                "the mute provider is not connected"
        t0=$(date +%s%N)
        cb_curl GET /v1/providers/mute/inventory dev-operator
        t1=$(date +%s%N)
        assert_eq "$CB_STATUS" 503 "its inventory: 503"
        assert_fast "$t0" "$t1"
        cb_curl GET /v1/providers/dev-test/inventory dev-operator
        assert_eq "$CB_STATUS" 200 "dev-test's inventory still answers"
        # The open is still hanging on a worker: the daemon stops within 2 s anyway.
        cb_stop_daemon
        # After connect_timeout_seconds (2 in test.conf) the open is given up and says so.
        # shellcheck disable=SC2119 # no extra daemon arguments
        cb_start_daemon
        got=
        for _ in $(seq 1 60); do
                cb_curl GET /v1/providers dev-operator
                got=$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "mute") | .error // empty')
                [ -n "$got" ] && break
                sleep 0.1
        done
        case "$got" in
        *"no answer within 2000 ms"*) pass "the mute provider is given up after the connect timeout: $got" ;;
        *) fail "the mute provider's error: '$got'" ;;
        esac
        cb_curl GET /v1/providers/dev-test/inventory dev-operator
        assert_eq "$CB_STATUS" 200 "dev-test's inventory still answers"
else
        echo "# skip: no python3 for a mute listener"
fi

cb_done
