#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A VM's serial console and addresses over REST, on libvirt's test driver
# (provider "dev-test", etc/test-node.xml): GET /v1/resources/{id}/console
# reads the tail of the console log the domain names (<log file=...> on its
# serial port), bounded by ?kib= and ?lines=, for the owning department and
# operators only; GET /v1/resources/{id}/addresses reads the guest agent,
# else the DHCP leases (the test driver answers both with a fixed address
# per NIC; tests/unit/test-libvirt-xml.c checks which agent answer is
# taken) and the record keeps
# them. The test driver runs no guest, so this test writes the log file
# that virtlogd would write; tests/integration/test-boot-qemu.sh reads a
# real guest's.
#
# Usage (from the repository root): tests/integration/test-console.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon
if cb_wait_provider dev-test; then pass "set-up: provider dev-test is connected"; else fail "set-up: provider dev-test did not connect"; fi
check() { assert_jq "$1" "$2" true "$3"; }

# A service of VMs on the network "default" of the test node.
jq '.id = "con-vm" | .name = "con-vm"
        | .plans = [(.plans[0] | .id = "con-vm-1" | .name = "con1" | .spec.network = "default" | del(.spec.os_image) | .spec.disk_gib = 0)]' \
        etc/catalog/ecs-general.json >"$CB_TMP/con-vm.json"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/con-vm.json"
cb_curl POST /v1/catalog/services/con-vm/submit dev-operator
assert_eq "$CB_STATUS" 200 "set-up: a service of VMs with a NIC is submitted"
cb_curl POST /v1/catalog/services/con-vm/approve dev-authority
cb_curl POST /v1/catalog/services/con-vm/approve dev-finance
check "$CB_BODY" '.status == "published"' "set-up: and published"
cb_add_system edu-con edu 2 false compliant 控制台测试系统
cb_approve lf-edu-con "临政信审〔$(date +%Y)〕78号" edu-con '[{"service_id": "con-vm", "plan_id": "con-vm-1", "quantity": 2}]'

cb_curl POST /v1/resources dev-edu \
        '{"project_id":"lf-edu-con","system_id":"edu-con","service_id":"con-vm","plan_id":"con-vm-1","name":"con-one"}'
assert_eq "$CB_STATUS" 202 "a VM with a NIC is ordered"
RID=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$RID" active; then pass "it becomes active"; else fail "VM not active (state $GOT)"; fi

LOG=/var/log/libvirt/qemu/cb-$RID-console.log
cleanup_log() { rm -f "$LOG"; }
trap 'cleanup_log; cb_cleanup' EXIT

# --- the console -------------------------------------------------------------

cb_curl GET "/v1/resources/$RID/console" dev-edu
assert_eq "$CB_STATUS" 200 "before the guest printed anything: 200"
check "$CB_BODY" '.output == "" and .bytes == 0 and .truncated == false' "...with an empty console"

mkdir -p /var/log/libvirt/qemu
{
        printf 'SeaBIOS (version 1.16)\r\n'
        for i in $(seq 1 3000); do printf 'boot line %04d\r\n' "$i"; done
        printf 'cb-guest hostname=con-one\r\n'
        printf 'cb-guest key SHA256:abc \033[1mbold\033[0m caf\xc3\xa9 \xff end\r\n'
} >"$LOG"
SIZE=$(stat -c %s "$LOG")

cb_curl GET "/v1/resources/$RID/console" dev-edu
assert_eq "$CB_STATUS" 200 "the owning department reads the console"
check "$CB_BODY" '.output | endswith("cb-guest hostname=con-one\ncb-guest key SHA256:abc ?[1mbold?[0m café ? end\n")' \
        "...its last lines, carriage returns dropped, control codes and invalid UTF-8 as '?'"
check "$CB_BODY" ".bytes == $SIZE and .truncated == false" "...the whole log of $SIZE bytes (under 64 KiB), not truncated"

cb_curl GET "/v1/resources/$RID/console?kib=1" dev-operator
assert_eq "$CB_STATUS" 200 "an operator reads it too"
check "$CB_BODY" '.bytes == 1024 and .truncated == true' "?kib=1: the last 1024 bytes, older output left off"
check "$CB_BODY" '(.output | contains("SeaBIOS")) | not' "...the start is not in it"

cb_curl GET "/v1/resources/$RID/console?lines=2" dev-edu
check "$CB_BODY" '.output == "cb-guest hostname=con-one\ncb-guest key SHA256:abc ?[1mbold?[0m café ? end\n"' \
        "?lines=2: exactly the last two lines"

for bad in "kib=0" "kib=1025" "kib=x" "kib=-1" "lines=0" "lines=100001"; do
        cb_curl GET "/v1/resources/$RID/console?$bad" dev-edu
        assert_eq "$CB_STATUS" 422 "console?$bad is refused"
        check "$CB_BODY" ".field == \"${bad%%=*}\"" "...naming ${bad%%=*}"
done

cb_curl GET "/v1/resources/$RID/console" dev-health
assert_eq "$CB_STATUS" 404 "another department's VM console: 404, as an unknown one"
cb_curl GET "/v1/resources/$RID/console" dev-auditor
assert_eq "$CB_STATUS" 403 "an auditor may not read consoles"
cb_curl GET "/v1/resources/no-such-vm/console" dev-operator
assert_eq "$CB_STATUS" 404 "an unknown resource: 404"

# --- the console on D-Bus and in cloudbrokerctl ---------------------------------

CTL="$CB_BUILD/cloudbrokerctl"
export CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS
OUT=$(as_uid 1001 "$CTL" resource console "$RID" 1 2) || fail "ctl resource console failed: $OUT"
assert_eq "$OUT" "$(printf 'cb-guest hostname=con-one\ncb-guest key SHA256:abc ?[1mbold?[0m café ? end')" \
        "cloudbrokerctl resource console ID 1 2: the last two lines, through D-Bus Console"
OUT=$(as_uid 1001 "$CTL" --json resource console "$RID" 1) || true
check "$OUT" '.bytes == 1024 and .truncated == true' "ctl --json: the same answer as REST"
RC=0; ERR=$(as_uid 1004 "$CTL" resource console "$RID" 2>&1) || RC=$?
if [ "$RC" -ne 0 ]; then pass "another department's ctl console fails"; else fail "ctl console of another department's VM: $ERR"; fi
RC=0; ERR=$(as_uid 1001 "$CTL" resource console "$RID" 2000 2>&1) || RC=$?
assert_contains "$ERR" "kib" "ctl console with 2000 KiB is refused naming kib"

# --- addresses ---------------------------------------------------------------

cb_curl GET "/v1/resources/$RID" dev-edu
check "$CB_BODY" '.addresses == []' "the record shows no addresses before any were read"
cb_curl GET "/v1/resources/$RID/addresses" dev-edu
assert_eq "$CB_STATUS" 200 "the department reads its VM's addresses"
check "$CB_BODY" '(.addresses | length) == 1 and (.addresses[0].mac | test("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"))' \
        "...one NIC with its MAC"
check "$CB_BODY" '.addresses[0].addresses[0].type == "ipv4" and (.addresses[0].addresses[0].address | test("^[0-9.]+$"))' \
        "...and an IPv4 address from the leases"
ADDR=$(printf %s "$CB_BODY" | jq -c .addresses)
cb_curl GET "/v1/resources/$RID" dev-edu
assert_jq "$CB_BODY" '.addresses | tojson' "$ADDR" "the record now shows the addresses read"
cb_curl GET "/v1/resources/$RID/addresses" dev-health
assert_eq "$CB_STATUS" 404 "another department: 404"
OUT=$(as_uid 1001 "$CTL" --json resource show "$RID") || true
assert_jq "$OUT" '.addresses | tojson' "$ADDR" "cloudbrokerctl resource show: the Addresses property"
OUT=$(as_uid 1001 "$CTL" resource show "$RID") || true
assert_contains "$OUT" "Addresses: $(printf %s "$ADDR" | jq -r '.[0].mac')" "...printed with the MAC"
OUT=$(as_uid 1001 "$CTL" --json resource addresses "$RID") || true
assert_jq "$OUT" '.addresses | tojson' "$ADDR" "cloudbrokerctl resource addresses: read again over D-Bus"

# A stopped VM holds no lease: reading again empties the record.
cb_curl POST "/v1/resources/$RID/actions" dev-edu '{"action":"stop"}'
if cb_wait_state "$RID" stopped; then pass "the VM is stopped"; else fail "after stop: $GOT"; fi
cb_curl GET "/v1/resources/$RID/addresses" dev-operator
check "$CB_BODY" '.addresses == []' "a stopped VM has no addresses"
cb_curl GET "/v1/resources/$RID" dev-edu
check "$CB_BODY" '.addresses == []' "...and the record says so"

cb_stop_daemon
cb_done
