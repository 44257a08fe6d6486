#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The move of legacy VMs (issue 12, Art. 35) on a real libvirtd with QEMU
# (TCG), which libvirt's test driver cannot stand in for: it does not
# stream volumes. Two libvirtds of the test's own (cb_private_libvirtd in
# lib.sh: their own namespaces, sockets and state under the test's
# folder), the server room and the cloud, hold a source pool and a target
# pool (dir pools in the test's folder) and an isolated network each. Each legacy VM has a 64 MiB sparse raw disk
# holding 6 MiB of known data and no OS (SeaBIOS finds nothing to boot and
# the domain runs all the same).
#
#  1. a move that works: the source shut off and left defined (awaiting
#     decommission), the target running, stamped, with the source's MAC,
#     its disk byte-identical, about the data crossing rather than the
#     capacity, progress in the record;
#  2. a copy failing mid-way (the test switch migration.test_fail_after_bytes):
#     rolled back, the source running again, nothing at the target;
#  3. the daemon killed with SIGKILL mid-copy (the copy throttled to
#     1 MiB/s, migration.copy_rate_limit_bytes, so the window is seconds
#     wide), then restarted: rolled back, never both copies running;
#  4. at most one copy per source host (migration.max_copies_per_host = 1):
#     a second system waits "queued" while the first copies;
#  5. an image source: a qcow2 image (no domain) in the server room's pool
#     becomes the raw disk of a target defined from the plan, the same disk
#     to the guest (qemu-img compare) and the known content byte for byte;
#  6. a VM of two disks: a kill -9 mid-copy of the second disk leaves neither
#     target volume nor domain; moved again, both disks arrive byte-identical,
#     vda and vdb in order, the second a block volume attached to the VM, and
#     its progress (sampled from the record and cloudbrokerctl migration watch)
#     is one count over both disks that never goes back and ends at their data.
#
# Needs root. Usage: tests/integration/test-migration-qemu.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"

YEAR=$(date +%Y)
SRC_POOL=cb-mig-src
DST_POOL=cb-mig-dst
NET=cb-mig-net
MiB=1048576

mig_cleanup() {
        local rc=$?
        set +e
        [ -n "${CB_PID:-}" ] && cb_stop_pid "$CB_PID"
        if [ "$CB_FAILS" -ne 0 ] && [ -f "$CB_TMP/libvirtd.log" ]; then
                echo "# --- libvirtd log ---"
                grep -v -e udevGetDMIData -e dmidecode -e /dev/kvm "$CB_TMP/libvirtd.log" | tail -n 15 | sed 's/^/# /'
        fi
        cb_stop_private_libvirtd
        cb_cleanup
        exit "$rc"
}
trap mig_cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
        echo "# test-migration-qemu needs root (a libvirtd of its own, package installation)"
        exit 1
fi

t0=$SECONDS
for host in room cloud; do
        if ! cb_private_libvirtd "$host"; then
                fail "a private libvirtd ($host) answers within 90 s"
                exit 1
        fi
done
ROOM_URI=${CB_LIBVIRTD_URIS[0]}
CLOUD_URI=${CB_LIBVIRTD_URIS[1]}
pass "two libvirtds of the test's own answer, the server room and the cloud ($((SECONDS - t0)) s)"

# vsh (the server room) and csh (the cloud): virsh, stdin closed.
vsh() {
        virsh -c "$ROOM_URI" -q "$@" </dev/null
}
csh() {
        virsh -c "$CLOUD_URI" -q "$@" </dev/null
}

# --- pools, networks, the legacy VMs ------------------------------------------------
mkdir -p "$CB_TMP/src" "$CB_TMP/dst"
vsh pool-create-as "$SRC_POOL" dir --target "$CB_TMP/src" >/dev/null
csh pool-create-as "$DST_POOL" dir --target "$CB_TMP/dst" >/dev/null
cat >"$CB_TMP/net.xml" <<XML
<network><name>$NET</name><bridge name='cbmig0' stp='off'/></network>
XML
vsh net-create "$CB_TMP/net.xml" >/dev/null
csh net-create "$CB_TMP/net.xml" >/dev/null
assert_eq "$(vsh pool-list --name | awk 'NF {print $1}') $(csh pool-list --name | awk 'NF {print $1}')" \
        "$SRC_POOL $DST_POOL" "the source pool runs in the server room, the target pool in the cloud"

# The known content: 4 MiB at the start and 2 MiB at 40 MiB of a 64 MiB
# sparse file; the rest is holes.
head -c $((4 * MiB)) /dev/urandom >"$CB_TMP/a.part"
head -c $((2 * MiB)) /dev/urandom >"$CB_TMP/b.part"
make_disk() { # FILE
        truncate -s $((64 * MiB)) "$1"
        dd if="$CB_TMP/a.part" of="$1" conv=notrunc status=none
        dd if="$CB_TMP/b.part" of="$1" bs=$MiB seek=40 conv=notrunc status=none
}
make_disk "$CB_TMP/disk.img"
WANT=$(sha256sum <"$CB_TMP/disk.img" | cut -d' ' -f1)

digest_of() { # vsh|csh POOL VOLUME: SHA-256 of the volume as libvirt reads it back
        rm -f "$CB_TMP/readback.img"
        "$1" vol-download --sparse --pool "$2" "$3" "$CB_TMP/readback.img"
        sha256sum <"$CB_TMP/readback.img" | cut -d' ' -f1
}

legacy_vm() { # NAME MAC
        vsh vol-create-as "$SRC_POOL" "$1.img" $((64 * MiB)) --allocation 0 --format raw >/dev/null
        vsh vol-upload --sparse --pool "$SRC_POOL" "$1.img" "$CB_TMP/disk.img"
        cat >"$CB_TMP/$1.xml" <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='raw'/>
      <source pool='$SRC_POOL' volume='$1.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='$2'/>
      <source network='$NET'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML
        vsh define "$CB_TMP/$1.xml" >/dev/null
        vsh start "$1" >/dev/null
}
# Two running VMs fill the server room's 2 vCPUs on this machine; the third
# is shut off, as a legacy VM may be (it stays so after a rollback).
legacy_vm oa-a 52:54:00:cb:00:0a
legacy_vm oa-b 52:54:00:cb:00:0b
legacy_vm oa-c 52:54:00:cb:00:0c
vsh destroy oa-c >/dev/null
assert_eq "$(vsh domstate oa-a | head -n1)" running "the legacy VM oa-a runs"
assert_eq "$(digest_of vsh "$SRC_POOL" oa-a.img)" "$WANT" \
        "its volume holds the known content"

# --- the broker ---------------------------------------------------------------------
start() { # FAIL_AFTER RATE
        cb_migration_conf "$ROOM_URI" "$CLOUD_URI" "$1" "$2"
        cb_start_daemon
        cb_wait_provider room-a 60 || fail "room-a connects"
        cb_wait_provider cloud 60 || fail "cloud connects"
}

record() { # SYSTEM
        cb_curl GET "/v1/legacy-systems/$1" dev-migration
}

# wait_legacy SYSTEM STATE SECONDS
wait_legacy() {
        local n=$(($3 * 5))
        GOT=
        for _ in $(seq 1 "$n"); do
                record "$1"
                GOT=$(printf %s "$CB_BODY" | jq -r .state)
                [ "$GOT" = "$2" ] && return 0
                sleep 0.2
        done
        return 1
}

# wait_copying SYSTEM SECONDS: until its first VM's copy has moved some bytes.
wait_copying() {
        local n=$(($2 * 10))
        for _ in $(seq 1 "$n"); do
                record "$1"
                [ "$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0] | .step == "copy" and .bytes_done > 0')" = true ] &&
                        return 0
                sleep 0.1
        done
        return 1
}

# A legacy system per VM, each in its own migration project, assessed and planned.
prepare() { # SYSTEM VM PROJECT
        cb_add_system "$1"
        cb_approve "$3" "临政信审〔$YEAR〕$((RANDOM % 900 + 100))号" "$1" \
                '[{"service_id": "ecs-mig", "plan_id": "ecs-mig-tiny", "quantity": 1}]'
        cb_curl POST /v1/legacy-systems dev-migration "$(jq -nc --arg s "$1" --arg vm "$2" --arg dl "$YEAR-12-31" \
                '{system_id: $s, hosting: {kind: "server-room", location: "机房 1F"},
                  source: {provider: "room-a", domains: [$vm]}, deadline: $dl}')"
        assert_eq "$CB_STATUS" 201 "set-up: $1 is registered"
        cb_curl POST "/v1/legacy-systems/$1/assess" dev-migration
        wait_legacy "$1" assessed 30 || fail "set-up: $1 is assessed (state $GOT)"
        cb_curl POST "/v1/legacy-systems/$1/plan" dev-migration \
                "{\"project_id\": \"$3\", \"target\": {\"provider\": \"cloud\", \"pool\": \"$DST_POOL\", \"network\": \"$NET\"}}"
        assert_eq "$CB_STATUS" 200 "set-up: $1 is planned"
        assert_jq "$CB_BODY" .plan.critical false "set-up: $1's plan has no critical concern"
        [ "$(printf %s "$CB_BODY" | jq .plan.critical)" = false ] || echo "# $(printf %s "$CB_BODY" | jq -c '[.plan.vms[].concerns[]]')"
}

target_domains() {
        csh list --all --name | grep -c . || true
}
target_volumes() {
        csh vol-list --pool "$DST_POOL" | grep -c 'cb-' || true
}

cb_start_bus
start 0 0
prepare edu-mig-a oa-a mig-a
prepare edu-mig-b oa-b mig-b
prepare edu-mig-c oa-c mig-c
[ "$CB_FAILS" -eq 0 ] || exit 1

# --- 1. a move that works ---------------------------------------------------------------
cb_curl POST /v1/legacy-systems/edu-mig-a/migrate dev-edu
assert_eq "$CB_STATUS" 403 "a department does not move systems"
t0=$SECONDS
cb_curl POST /v1/legacy-systems/edu-mig-a/migrate dev-migration
assert_eq "$CB_STATUS" 202 "POST .../migrate: 202"
assert_jq "$CB_BODY" .state migrating "the system is migrating at once"
RID=$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0].resource_id')
cb_curl POST /v1/legacy-systems/edu-mig-a/migrate dev-migration
assert_eq "$CB_STATUS" 409 "a second move of the same system is refused"
if wait_legacy edu-mig-a cut-over 60; then pass "the move ends cut-over ($((SECONDS - t0)) s)"; else
        fail "the move ends cut-over (state $GOT: $(printf %s "$CB_BODY" | jq -c '[.state_reason, .plan.run.vms[0].error]'))"
fi
assert_eq "$(vsh domstate oa-a | head -n1)" "shut off" "the source is shut off"
assert_contains "$(vsh list --all --name)" oa-a "the source is still defined (awaiting decommission)"
assert_jq "$CB_BODY" .plan.run.vms[0].source_state awaiting-decommission "the record marks it for decommission"
assert_eq "$(csh domstate "cb-$RID" | head -n1)" running "the target cb-$RID runs"
XML=$(csh dumpxml "cb-$RID")
assert_contains "$XML" "<mac address='52:54:00:cb:00:0a'/>" "the target keeps the source's MAC"
assert_contains "$XML" "<cb:resource-id>$RID</cb:resource-id>" "the target carries the broker's stamp"
assert_contains "$XML" "<cb:project-id>mig-a</cb:project-id>" "the stamp names the migration project"
GOT_SUM=$(digest_of csh "$DST_POOL" "cb-$RID.img")
assert_eq "$GOT_SUM" "$WANT" "the target's disk is byte-identical to the source's"
assert_jq "$CB_BODY" .plan.run.vms[0].target_sha256 "$WANT" "the record's target digest is the content's"
assert_jq "$CB_BODY" '.plan.run.vms[0] | .source_sha256 == .target_sha256' true "both digests agree"
DATA=$(printf %s "$CB_BODY" | jq .plan.run.vms[0].data_bytes)
echo "# data bytes that crossed: $DATA of $((64 * MiB)) capacity (6 MiB written)"
if [ "$DATA" -ge $((6 * MiB)) ] && [ "$DATA" -le $((8 * MiB)) ]; then
        pass "about the allocated data crossed, not the capacity"
else
        fail "data bytes $DATA, expected about 6 MiB"
fi
ALLOC=$(du -B1 "$CB_TMP/dst/cb-$RID.img" | cut -f1)
if [ "$ALLOC" -le $((8 * MiB)) ]; then pass "the target volume is sparse ($ALLOC bytes allocated)"; else
        fail "the target volume takes $ALLOC bytes"; fi
ALLOC_A=$(printf %s "$CB_BODY" | jq '[.assessment.vms[0].disks[] | select(.device == "disk") | .allocation_bytes] | add')
assert_jq "$CB_BODY" '.plan.run.vms[0] | [.step, .bytes_done, .bytes_total] | map(tostring) | join(" ")' \
        "done $ALLOC_A $ALLOC_A" "the run's progress: done, every byte of the disk's data (its allocation, $ALLOC_A bytes; holes cost nothing)"
assert_jq "$CB_BODY" '.plan.run | [.step, .bytes_done, .bytes_total, .eta_seconds] | map(tostring) | join(" ")' \
        "done $ALLOC_A $ALLOC_A 0" "the whole run's progress too"
cb_curl GET "/v1/resources/$RID" dev-edu
assert_eq "$CB_STATUS" 200 "the target is a resource of the department's"
assert_jq "$CB_BODY" '[.state, .project_id, .provider, .plan_id] | join(" ")' "active mig-a cloud ecs-mig-tiny" \
        "active in the migration project, on the cloud, under the target plan"
assert_jq "$CB_BODY" .provider_ref "$(csh domuuid "cb-$RID")" "its provider_ref is the target domain's UUID"
cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_jq "$CB_BODY" '[.records[] | select(.action == "legacy.migrate" and .object == "legacy:edu-mig-a" and .outcome == "ok") | .detail.to] | join(",")' \
        "migrating,cut-over" "the start and the end of the move are audited (legacy.migrate)"

RC=0
as_uid 1006 timeout 30 "$CB_BUILD/cloudbrokerctl" --bus-address="$CB_BUS_ADDRESS" migration watch edu-mig-a \
        >"$CB_TMP/watch.out" 2>&1 || RC=$?
assert_eq "$RC" 0 "cloudbrokerctl migration watch: exit 0 for a move that ended cut-over"
assert_contains "$(cat "$CB_TMP/watch.out")" "edu-mig-a: cut-over" "it ends on the system's state"
assert_contains "$(cat "$CB_TMP/watch.out")" "[##############################] 100% $((ALLOC_A >> 20))/$((ALLOC_A >> 20)) MiB" "with a full bar"

# --- 2. a copy that fails mid-way (through cloudbrokerctl, watching the signals) --------
cb_stop_daemon
start $((2 * MiB)) 0
timeout 60 busctl --address="$CB_BUS_ADDRESS" monitor \
        --match "type='signal',interface='org.cloudbroker.Broker1.Migration',member='MigrationProgress'" \
        >"$CB_TMP/signals.txt" 2>&1 &
MON=$!
sleep 0.5
RC=0
as_uid 1006 timeout 90 "$CB_BUILD/cloudbrokerctl" --bus-address="$CB_BUS_ADDRESS" migration run edu-mig-b \
        >"$CB_TMP/run.out" 2>&1 || RC=$?
sleep 0.3
kill "$MON" 2>/dev/null || true
wait "$MON" 2>/dev/null || true
assert_eq "$RC" 1 "cloudbrokerctl migration run: exit 1 when the move is rolled back"
assert_contains "$(cat "$CB_TMP/run.out")" "edu-mig-b: failed: the move failed, rolled back" "it says so, with the reason"
assert_contains "$(cat "$CB_TMP/run.out")" "oa-b             rolled-back" "its progress line ends on the rollback"
N_SIG=$(grep -c 'MigrationProgress' "$CB_TMP/signals.txt" || true)
if [ "$N_SIG" -ge 2 ]; then pass "MigrationProgress signals are sent ($N_SIG)"; else
        fail "MigrationProgress signals: $N_SIG"; fi
assert_contains "$(cat "$CB_TMP/signals.txt")" "rolled-back" "the last signal carries the rolled-back run"
assert_contains "$(cat "$CB_TMP/signals.txt")" "vm_index" "the signals carry where the run is (VM, disk, step)"
wait_legacy edu-mig-b failed 60 || fail "the failed move ends failed (state $GOT)"
assert_contains "$(printf %s "$CB_BODY" | jq -r .state_reason)" "failed on purpose" "the reason names the failure"
assert_jq "$CB_BODY" .plan.run.state rolled-back "the run is rolled back"
assert_eq "$(vsh domstate oa-b | head -n1)" running "the source runs again"
assert_eq "$(target_domains)" 1 "no domain was left at the target (only edu-mig-a's)"
assert_eq "$(target_volumes)" 1 "no volume was left at the target (only edu-mig-a's)"

# --- 3. the daemon killed mid-copy ---------------------------------------------------------
cb_stop_daemon
start 0 $MiB
cb_curl POST /v1/legacy-systems/edu-mig-b/transition dev-migration '{"state": "planned", "reason": "retry"}'
assert_eq "$CB_STATUS" 200 "edu-mig-b is planned again"
cb_curl POST /v1/legacy-systems/edu-mig-b/migrate dev-migration
assert_eq "$CB_STATUS" 202 "the throttled move of edu-mig-b starts"
RID_B=$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0].resource_id')
# Throttle: the second system of the same source host waits.
cb_curl POST /v1/legacy-systems/edu-mig-c/migrate dev-migration
assert_eq "$CB_STATUS" 202 "the move of edu-mig-c is accepted"
wait_copying edu-mig-b 30 || fail "edu-mig-b's copy is under way"
RATE=$(printf %s "$CB_BODY" | jq .plan.run.vms[0].rate_bps)
record edu-mig-c
assert_jq "$CB_BODY" .plan.run.vms[0].step queued "edu-mig-c waits while edu-mig-b copies (1 copy per host)"
assert_eq "$(vsh domstate oa-c | head -n1)" "shut off" "its source is untouched (shut off, as it was)"
echo "# rate while throttled to 1 MiB/s: $RATE B/s"
if [ "$RATE" -gt 0 ] && [ "$RATE" -le $((3 * MiB / 2)) ]; then pass "the copy keeps to the rate limit"; else
        fail "rate $RATE B/s under a 1 MiB/s limit"; fi
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
pass "the daemon is killed with SIGKILL mid-copy"
assert_eq "$(vsh domstate oa-b | head -n1)" "shut off" "the source was shut down for the copy"
cb_start_daemon
cb_wait_provider cloud 60 || fail "cloud connects after the restart"
wait_legacy edu-mig-b failed 60 || fail "the interrupted move is rolled back on restart (state $GOT)"
assert_contains "$(printf %s "$CB_BODY" | jq -r .state_reason)" "rolled back on restart" "the reason says so"
assert_eq "$(vsh domstate oa-b | head -n1)" running "its source runs again"
assert_eq "$(csh domstate "cb-$RID_B" 2>/dev/null | head -n1)" "" "no target domain of edu-mig-b is left"
if [ -e "$CB_TMP/dst/cb-$RID_B.img" ]; then fail "its target volume is left"; else pass "no target volume of edu-mig-b is left"; fi
wait_legacy edu-mig-c failed 60 || fail "the queued edu-mig-c is rolled back too (state $GOT)"
assert_eq "$(vsh domstate oa-c | head -n1)" "shut off" "edu-mig-c's source is as it was, shut off"
assert_eq "$(target_domains)" 1 "the cloud holds only the one finished move"
RUNNING="$(vsh list --name | awk NF | sort | tr '\n' ' ')/ $(csh list --name | awk NF | tr '\n' ' ')"
assert_eq "$RUNNING" "oa-b / cb-$RID " "never both copies: each VM runs in one place only"

# --- 5. an image source: a qcow2 image from the server room becomes a raw disk -------------
# The known content as a qcow2 image in the source pool, no domain holding it. The
# move streams the qcow2 file into a scratch volume of the cloud's pool, checks
# both digests of the file, and libvirt converts it (qemu-img) into the raw target.
cb_stop_daemon
start 0 0
qemu-img convert -f raw -O qcow2 "$CB_TMP/disk.img" "$CB_TMP/scan.qcow2"
QSIZE=$(stat -c %s "$CB_TMP/scan.qcow2")
vsh vol-create-as "$SRC_POOL" scan.qcow2 $((64 * MiB)) --format qcow2 >/dev/null
vsh vol-upload --pool "$SRC_POOL" scan.qcow2 "$CB_TMP/scan.qcow2"
vsh pool-refresh "$SRC_POOL" >/dev/null
assert_contains "$(vsh vol-dumpxml --pool "$SRC_POOL" scan.qcow2)" "<format type='qcow2'/>" \
        "set-up: the image is a qcow2 volume of the server room ($QSIZE bytes of file)"
cb_add_system edu-scan
cb_approve mig-img "临政信审〔$YEAR〕$((RANDOM % 900 + 100))号" edu-scan \
        '[{"service_id": "ecs-mig", "plan_id": "ecs-mig-tiny", "quantity": 1}]'
cb_curl POST /v1/legacy-systems dev-migration "$(jq -nc --arg dl "$YEAR-12-31" --arg p "$SRC_POOL" \
        '{system_id: "edu-scan", hosting: {kind: "server-room", location: "档案室"},
          source: {provider: "room-a", images: [($p + "/scan.qcow2")]}, deadline: $dl}')"
assert_eq "$CB_STATUS" 201 "an image source is registered"
cb_curl POST /v1/legacy-systems/edu-scan/assess dev-migration
wait_legacy edu-scan assessed 30 || fail "the image is assessed (state $GOT)"
assert_jq "$CB_BODY" '.assessment.vms[0].disks[0] | [.format, .capacity_bytes] | map(tostring) | join(",")' \
        "qcow2,$((64 * MiB))" "assessed through libvirt: qcow2, 64 MiB virtual"
cb_curl POST /v1/legacy-systems/edu-scan/plan dev-migration \
        "{\"project_id\": \"mig-img\", \"target\": {\"provider\": \"cloud\", \"pool\": \"$DST_POOL\", \"network\": \"$NET\"}}"
assert_jq "$CB_BODY" '[.plan.critical, (.plan.vms[0].concerns | map("\(.level):\(.code)") | join("+"))] | map(tostring) | join(",")' \
        "false,info:DISK_CONVERSION" "planned: the conversion is an info, nothing critical"
t0=$SECONDS
cb_curl POST /v1/legacy-systems/edu-scan/migrate dev-migration
assert_eq "$CB_STATUS" 202 "the image's move starts"
IRID=$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0].resource_id')
if wait_legacy edu-scan cut-over 90; then pass "the image's move ends cut-over ($((SECONDS - t0)) s)"; else
        fail "the image's move ends cut-over (state $GOT: $(printf %s "$CB_BODY" | jq -c '[.state_reason, .plan.run.vms[0].error]'))"
fi
assert_eq "$(csh domstate "cb-$IRID" | head -n1)" running "the target cb-$IRID runs, defined from the plan"
assert_contains "$(csh dumpxml "cb-$IRID")" "<driver name='qemu' type='raw'" "its disk is raw"
assert_contains "$(csh vol-dumpxml --pool "$DST_POOL" "cb-$IRID.img")" "<format type='raw'/>" "the target volume is raw"
RC=0
OUT=$(qemu-img compare -f qcow2 -F raw "$CB_TMP/src/scan.qcow2" "$CB_TMP/dst/cb-$IRID.img" 2>&1) || RC=$?
assert_eq "$RC:$OUT" "0:Images are identical." "qemu-img compare: the guest sees the same disk in the qcow2 image and the raw target"
assert_eq "$(digest_of csh "$DST_POOL" "cb-$IRID.img")" "$WANT" "the raw target holds the known content byte for byte"
assert_jq "$CB_BODY" '.plan.run.vms[0] | .source_sha256 == .target_sha256' true "the file that crossed has the same digest on both sides"
DATA=$(printf %s "$CB_BODY" | jq .plan.run.vms[0].data_bytes)
echo "# image: $DATA data bytes crossed for a qcow2 file of $QSIZE bytes (64 MiB virtual)"
if [ "$DATA" -le "$QSIZE" ] && [ "$DATA" -ge $((6 * MiB)) ]; then pass "the qcow2 file's data crossed, not the virtual size"; else
        fail "data bytes $DATA for a file of $QSIZE"; fi
if [ -e "$CB_TMP/dst/cb-$IRID.img.src" ]; then fail "the scratch copy is left"; else pass "the scratch copy of the qcow2 file is gone"; fi
ALLOC=$(du -B1 "$CB_TMP/dst/cb-$IRID.img" | cut -f1)
if [ "$ALLOC" -le $((8 * MiB)) ]; then pass "the converted target is sparse ($ALLOC bytes allocated)"; else
        fail "the converted target takes $ALLOC bytes"; fi
assert_contains "$(vsh vol-list --pool "$SRC_POOL")" scan.qcow2 "the source image is left where it was"

# --- 6. a VM of two disks: both arrive byte-identical; kill -9 mid-copy of the second ------
# oa-d has the known content on vda and other content (3 MiB at 8 MiB of 64 MiB) on vdb.
# The first disk becomes the target's system disk; the second a block volume of the
# migration project (evs-mig-1g), attached as vdb. The cloud's room is the image's
# VM's: it is stopped first.
csh destroy "cb-$IRID" >/dev/null
truncate -s $((64 * MiB)) "$CB_TMP/disk2.img"
head -c $((3 * MiB)) /dev/urandom | dd of="$CB_TMP/disk2.img" bs=$MiB seek=8 conv=notrunc status=none
WANT2=$(sha256sum <"$CB_TMP/disk2.img" | cut -d' ' -f1)
vsh vol-create-as "$SRC_POOL" oa-d.img $((64 * MiB)) --allocation 0 --format raw >/dev/null
vsh vol-upload --sparse --pool "$SRC_POOL" oa-d.img "$CB_TMP/disk.img"
vsh vol-create-as "$SRC_POOL" oa-d-data.img $((64 * MiB)) --allocation 0 --format raw >/dev/null
vsh vol-upload --sparse --pool "$SRC_POOL" oa-d-data.img "$CB_TMP/disk2.img"
cat >"$CB_TMP/oa-d.xml" <<XML
<domain type='qemu'>
  <name>oa-d</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='raw'/>
      <source pool='$SRC_POOL' volume='oa-d.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='raw'/>
      <source pool='$SRC_POOL' volume='oa-d-data.img'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:cb:00:0d'/>
      <source network='$NET'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML
vsh define "$CB_TMP/oa-d.xml" >/dev/null
vsh start oa-d >/dev/null
assert_eq "$(digest_of vsh "$SRC_POOL" oa-d-data.img)" "$WANT2" "set-up: oa-d's second disk holds its content"
cb_stop_daemon
start 0 $MiB
cb_add_system edu-two
cb_approve mig-two "临政信审〔$YEAR〕$((RANDOM % 900 + 100))号" edu-two \
        '[{"service_id": "ecs-mig", "plan_id": "ecs-mig-tiny", "quantity": 1},
          {"service_id": "evs-mig", "plan_id": "evs-mig-1g", "quantity": 1}]'
cb_curl POST /v1/legacy-systems dev-migration "$(jq -nc --arg dl "$YEAR-12-31" \
        '{system_id: "edu-two", hosting: {kind: "server-room", location: "机房 1F"},
          source: {provider: "room-a", domains: ["oa-d"]}, deadline: $dl}')"
assert_eq "$CB_STATUS" 201 "a VM of two disks is registered"
cb_curl POST /v1/legacy-systems/edu-two/assess dev-migration
wait_legacy edu-two assessed 30 || fail "oa-d is assessed (state $GOT)"
assert_jq "$CB_BODY" '.assessment.vms[0].disks | map(.target) | join(",")' "vda,vdb" "assessed: two disks, vda and vdb"
TWO_PLAN="{\"project_id\": \"mig-two\", \"target\": {\"provider\": \"cloud\", \"pool\": \"$DST_POOL\", \"network\": \"$NET\"}}"
cb_curl POST /v1/legacy-systems/edu-two/plan dev-migration "$TWO_PLAN"
assert_jq "$CB_BODY" .plan.critical false "planned: two disks are no critical concern"
[ "$(printf %s "$CB_BODY" | jq .plan.critical)" = false ] || echo "# $(printf %s "$CB_BODY" | jq -c '[.plan.vms[].concerns[]]')"
cb_curl POST /v1/legacy-systems/edu-two/migrate dev-migration
assert_eq "$CB_STATUS" 202 "the throttled move of the two disks starts"
TRID=$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0].resource_id')
VRID=$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0].disks[0].resource_id')
assert_jq "$CB_BODY" '.plan.run.vms[0].disks | map("\(.dev):\(.plan_id)") | join(",")' "vdb:evs-mig-1g" \
        "the second disk is fixed in the run before anything moves"
# Until the second disk's copy has begun: its target volume exists and bytes move.
for _ in $(seq 1 300); do
        [ -e "$CB_TMP/dst/cb-$VRID.img" ] && record edu-two &&
                [ "$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0] | .step == "copy" and .bytes_done > 0')" = true ] && break
        sleep 0.1
done
if [ -e "$CB_TMP/dst/cb-$TRID.img" ] && [ -e "$CB_TMP/dst/cb-$VRID.img" ]; then
        pass "the second disk is being copied (both target volumes exist)"
else fail "the second disk's copy never began"; fi
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
pass "the daemon is killed with SIGKILL mid-copy of the second disk"
cb_start_daemon
cb_wait_provider cloud 60 || fail "cloud connects after the restart"
wait_legacy edu-two failed 60 || fail "the interrupted two-disk move is rolled back on restart (state $GOT)"
assert_eq "$(vsh domstate oa-d | head -n1)" running "oa-d runs again on its source"
assert_eq "$(csh domstate "cb-$TRID" 2>/dev/null | head -n1)" "" "no target domain is left"
if [ -e "$CB_TMP/dst/cb-$TRID.img" ] || [ -e "$CB_TMP/dst/cb-$VRID.img" ]; then
        fail "a target volume is left: $(ls "$CB_TMP/dst")"
else pass "neither target volume is left (the system disk's nor the second's)"; fi

# Moved again, throttled to 2 MiB/s so that the progress can be watched: one count over
# both disks, never going back, from 0 to the sum of their data (allocations), in the
# record and in cloudbrokerctl migration watch.
cb_stop_daemon
start 0 $((2 * MiB))
cb_curl POST /v1/legacy-systems/edu-two/transition dev-migration '{"state": "planned", "reason": "retry"}'
assert_eq "$CB_STATUS" 200 "edu-two is planned again"
record edu-two
TWO_TOTAL=$(printf %s "$CB_BODY" | jq '[.assessment.vms[0].disks[] | select(.device == "disk") | .allocation_bytes] | add')
FIRST_ALLOC=$(printf %s "$CB_BODY" | jq '.assessment.vms[0].disks[0].allocation_bytes')
echo "# oa-d's disks hold $TWO_TOTAL bytes of data ($FIRST_ALLOC on vda)"
t0=$SECONDS
cb_curl POST /v1/legacy-systems/edu-two/migrate dev-migration
assert_eq "$CB_STATUS" 202 "the two-disk move starts again"
TRID=$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0].resource_id')
VRID=$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0].disks[0].resource_id')
assert_jq "$CB_BODY" '.plan.run | [.bytes_done, .bytes_total, .vms[0].bytes_total] | map(tostring) | join(" ")' \
        "0 $TWO_TOTAL $TWO_TOTAL" "the run's total is both disks' data, known before the first byte moves"
as_uid 1006 timeout 120 "$CB_BUILD/cloudbrokerctl" --bus-address="$CB_BUS_ADDRESS" migration watch edu-two \
        >"$CB_TMP/watch2.out" 2>&1 &
WATCH=$!
: >"$CB_TMP/samples.txt"
GOT=
for _ in $(seq 1 900); do
        record edu-two
        GOT=$(printf %s "$CB_BODY" | jq -r .state)
        printf %s "$CB_BODY" | jq -r '.plan.run | "\(.bytes_done) \(.bytes_total) \(.vms[0].bytes_done) \(.current.disk.index // 0) \(.current.step // "-")"' \
                >>"$CB_TMP/samples.txt"
        [ "$GOT" = migrating ] || break
        sleep 0.1
done
wait "$WATCH" 2>/dev/null || true
if [ "$GOT" = cut-over ]; then pass "the two-disk move ends cut-over ($((SECONDS - t0)) s)"; else
        fail "the two-disk move ends cut-over (state $GOT: $(printf %s "$CB_BODY" | jq -c '[.state_reason, .plan.run.vms[0].error]'))"
fi
echo "# $(wc -l <"$CB_TMP/samples.txt") samples of the record; the first and last: $(head -n1 "$CB_TMP/samples.txt") / $(tail -n1 "$CB_TMP/samples.txt")"
MONO=$(awk 'BEGIN { bad = 0; prev = -1; vprev = -1 }
        { if ($1 < prev || $3 < vprev) bad++; prev = $1; vprev = $3 } END { print bad }' "$CB_TMP/samples.txt")
assert_eq "$MONO" 0 "bytes_done never decreases, for the run and for the VM, across both disks"
assert_eq "$(awk '$2 != '"$TWO_TOTAL"' { n++ } END { print n + 0 }' "$CB_TMP/samples.txt")" 0 "bytes_total stays the sum of both disks' data throughout"
assert_eq "$(tail -n1 "$CB_TMP/samples.txt" | cut -d' ' -f1-3)" "$TWO_TOTAL $TWO_TOTAL $TWO_TOTAL" "it ends at the total"
SECOND=$(awk '$4 == 2 && $5 == "copy" { print $1; exit }' "$CB_TMP/samples.txt")
if [ -n "$SECOND" ] && [ "$SECOND" -ge "$FIRST_ALLOC" ]; then
        pass "while the second disk copies the count goes on from the first disk's data ($SECOND >= $FIRST_ALLOC), not from 0"
else fail "no sample of the second disk's copy counting on from the first's ($SECOND)"; fi
if awk '$4 == 1 && $5 == "copy" && $1 > 0 && $1 < '"$FIRST_ALLOC"' { f = 1 } END { exit !f }' "$CB_TMP/samples.txt"; then
        pass "the first disk's copy was seen under way (disk 1/2)"
else fail "the first disk's copy was not seen under way"; fi
PCTS=$(grep -o '[0-9]*% ' "$CB_TMP/watch2.out" | tr -d '% ' | tr '\n' ' ')
echo "# cloudbrokerctl migration watch: $PCTS"
assert_eq "$(printf '%s\n' $PCTS | awk 'BEGIN { bad = 0; p = -1 } { if ($1 < p) bad++; p = $1 } END { print bad }')" 0 \
        "cloudbrokerctl migration watch: the bar never goes back"
assert_contains "$(cat "$CB_TMP/watch2.out")" "disk 2/2 vdb" "cloudbrokerctl migration watch names the disk being copied"
assert_contains "$(cat "$CB_TMP/watch2.out")" "edu-two          done         [##############################] 100%" \
        "cloudbrokerctl migration watch: the bar reaches 100 % once, for the whole run"
assert_eq "$(csh domstate "cb-$TRID" | head -n1)" running "the target cb-$TRID runs"
assert_eq "$(digest_of csh "$DST_POOL" "cb-$TRID.img")" "$WANT" "its first disk is byte-identical to the source's vda"
assert_eq "$(digest_of csh "$DST_POOL" "cb-$VRID.img")" "$WANT2" "its second disk is byte-identical to the source's vdb"
assert_jq "$CB_BODY" '.plan.run.vms[0].disks[0] | [.source_sha256 == .target_sha256, .target_sha256] | map(tostring) | join(",")' \
        "true,$WANT2" "the second disk's digests agree, per disk, in the run"
XML=$(csh dumpxml "cb-$TRID")
assert_eq "$(printf %s "$XML" | grep -o "<target dev='vd[a-z]'" | tr '\n' ' ')" "<target dev='vda' <target dev='vdb' " \
        "the target has both disks, in order, under the source's names"
assert_contains "$XML" "<serial>$VRID</serial>" "the second disk carries its volume's id"
cb_curl GET "/v1/resources/$VRID" dev-edu
assert_jq "$CB_BODY" '[.kind, .state, .project_id, .plan_id] | join(" ")' "volume active mig-two evs-mig-1g" \
        "the second disk is a block volume of the migration project"
cb_curl GET "/v1/resources/$TRID/volumes" dev-edu
assert_jq "$CB_BODY" '.volumes | map("\(.volume_id):\(.target):\(.state)") | join(",")' "$VRID:vdb:attached" \
        "attached to the moved VM as vdb"

cb_done
