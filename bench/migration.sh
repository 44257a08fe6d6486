#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The move of a legacy VM (issue 12): a 2 GiB sparse raw disk holding
# 512 MiB of data (8 runs of 64 MiB, 256 MiB apart) moved by cloudbrokerd
# between two libvirtds of the run's own (lib.sh cb_private_libvirtd, QEMU
# under TCG), from POST .../migrate to cut-over, with the copy step timed on
# its own from the record's progress. The reference, in the same run on
# the same two hosts: virsh vol-download --sparse of the same volume into
# a file, then virsh vol-upload --sparse of that file (virsh cannot pipe a
# sparse stream: --sparse needs a seekable file). Target: the broker's
# copy at least 0.8x the reference's throughput, and about the data, not
# the capacity, on the wire.
#
# Usage (as root, from anywhere): bench/migration.sh [BUILD_DIR]
# Result also in BUILD_DIR/bench/migration.result. Every wait is bounded;
# everything started is ended by PID.

set -euo pipefail

cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
        echo "bench/migration.sh needs root (libvirtds of its own): skipped"
        exit 0
fi
. tests/integration/lib.sh
cb_setup "${1:-build}"
BUILD_DIR=$CB_BUILD
MiB=1048576
SRC_POOL=cb-mig-src
DST_POOL=cb-mig-dst
NET=cb-mig-net

bench_cleanup() {
        local rc=$?
        set +e
        [ -n "${CB_PID:-}" ] && cb_stop_pid "$CB_PID"
        cb_stop_private_libvirtd
        cb_cleanup
        exit "$rc"
}
trap bench_cleanup EXIT

cb_private_libvirtd room || { echo "libvirtd (room) does not start"; exit 1; }
ROOM_URI=$CB_QEMU_URI
cb_private_libvirtd cloud || { echo "libvirtd (cloud) does not start"; exit 1; }
CLOUD_URI=$CB_QEMU_URI
vsh() { virsh -c "$ROOM_URI" -q "$@" </dev/null; }
csh() { virsh -c "$CLOUD_URI" -q "$@" </dev/null; }

mkdir -p "$CB_TMP/src" "$CB_TMP/dst" "$CB_TMP/ref"
vsh pool-create-as "$SRC_POOL" dir --target "$CB_TMP/src" >/dev/null
csh pool-create-as "$DST_POOL" dir --target "$CB_TMP/dst" >/dev/null
echo "<network><name>$NET</name><bridge name='cbmig0' stp='off'/></network>" >"$CB_TMP/net.xml"
vsh net-create "$CB_TMP/net.xml" >/dev/null
csh net-create "$CB_TMP/net.xml" >/dev/null

# The disk: 2 GiB, 512 MiB of random data.
truncate -s $((2048 * MiB)) "$CB_TMP/disk.img"
head -c $((64 * MiB)) /dev/urandom >"$CB_TMP/run.bin"
for k in 0 1 2 3 4 5 6 7; do
        dd if="$CB_TMP/run.bin" of="$CB_TMP/disk.img" bs=$MiB seek=$((k * 256)) conv=notrunc status=none
done
rm -f "$CB_TMP/run.bin"
vsh vol-create-as "$SRC_POOL" big.img $((2048 * MiB)) --allocation 0 --format raw >/dev/null
vsh vol-upload --sparse --pool "$SRC_POOL" big.img "$CB_TMP/disk.img"
WANT=$(sha256sum <"$CB_TMP/disk.img" | cut -d' ' -f1)
rm -f "$CB_TMP/disk.img"
ALLOC=$(du -B1 "$CB_TMP/src/big.img" | cut -f1)

# --- the reference: virsh, sparse, through a file -----------------------------------
now() { date +%s.%N; }
t0=$(now)
vsh vol-download --sparse --pool "$SRC_POOL" big.img "$CB_TMP/ref/big.img"
t1=$(now)
csh vol-create-as "$DST_POOL" ref.img $((2048 * MiB)) --allocation 0 --format raw >/dev/null
t2=$(now)
csh vol-upload --sparse --pool "$DST_POOL" ref.img "$CB_TMP/ref/big.img"
t3=$(now)
REF_S=$(echo "($t1 - $t0) + ($t3 - $t2)" | bc -l)
rm -f "$CB_TMP/ref/big.img"
csh vol-delete --pool "$DST_POOL" ref.img >/dev/null

# --- the broker ---------------------------------------------------------------------
cat >"$CB_TMP/vm.xml" <<XML
<domain type='qemu'><name>big</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices><disk type='volume' device='disk'><driver name='qemu' type='raw'/>
    <source pool='$SRC_POOL' volume='big.img'/><target dev='vda' bus='virtio'/></disk>
  <interface type='network'><mac address='52:54:00:cb:01:01'/><source network='$NET'/></interface></devices>
</domain>
XML
vsh define "$CB_TMP/vm.xml" >/dev/null
vsh start big >/dev/null
cb_migration_conf "$ROOM_URI" "$CLOUD_URI" 0 0
cb_start_daemon >/dev/null
cb_wait_provider room-a 60
cb_wait_provider cloud 60
cb_add_system bench-mig >/dev/null
YEAR=$(date +%Y)
cb_approve bench-mig "临政信审〔$YEAR〕901号" bench-mig \
        '[{"service_id": "ecs-mig", "plan_id": "ecs-mig-tiny", "quantity": 1}]' >/dev/null
cb_curl POST /v1/legacy-systems dev-migration "{\"system_id\": \"bench-mig\", \"hosting\": {\"kind\": \"server-room\",
        \"location\": \"bench\"}, \"source\": {\"provider\": \"room-a\", \"domains\": [\"big\"]}, \"deadline\": \"$YEAR-12-31\"}"
cb_curl POST /v1/legacy-systems/bench-mig/assess dev-migration
state() { cb_curl GET /v1/legacy-systems/bench-mig dev-migration; printf %s "$CB_BODY" | jq -r .state; }
for _ in $(seq 1 150); do [ "$(state)" = assessed ] && break; sleep 0.2; done
cb_curl POST /v1/legacy-systems/bench-mig/plan dev-migration \
        "{\"project_id\": \"bench-mig\", \"target\": {\"provider\": \"cloud\", \"pool\": \"$DST_POOL\", \"network\": \"$NET\"}}"
[ "$(printf %s "$CB_BODY" | jq .plan.critical)" = false ] || { echo "plan: $CB_BODY"; exit 1; }

t0=$(now)
cb_curl POST /v1/legacy-systems/bench-mig/migrate dev-migration
copy_start= copy_end= step=
for _ in $(seq 1 3000); do # 10 minutes at most
        cb_curl GET /v1/legacy-systems/bench-mig dev-migration
        st=$(printf %s "$CB_BODY" | jq -r .state)
        step=$(printf %s "$CB_BODY" | jq -r '.plan.run.vms[0].step')
        [ -z "$copy_start" ] && [ "$step" = copy ] && copy_start=$(now)
        [ -n "$copy_start" ] && [ -z "$copy_end" ] && [ "$step" != copy ] && copy_end=$(now)
        [ "$st" != migrating ] && break
        sleep 0.2
done
t1=$(now)
[ "$st" = cut-over ] || { echo "the move ended $st: $(printf %s "$CB_BODY" | jq -c .state_reason)"; exit 1; }
DATA=$(printf %s "$CB_BODY" | jq .plan.run.vms[0].data_bytes)
GOT=$(printf %s "$CB_BODY" | jq -r .plan.run.vms[0].target_sha256)
[ "$GOT" = "$WANT" ] || { echo "digest mismatch: $GOT, want $WANT"; exit 1; }
TOTAL_S=$(echo "$t1 - $t0" | bc -l)
COPY_S=$(echo "${copy_end:-$t1} - ${copy_start:-$t0}" | bc -l)
ratio() { echo "scale=2; $REF_S / $1" | bc -l; }
mkdir -p "$BUILD_DIR/bench"
{
        echo "migration: 2 GiB sparse raw disk, $((ALLOC / MiB)) MiB allocated, two libvirtds (QEMU), same machine"
        printf 'reference virsh vol-download --sparse + vol-upload --sparse: %.2f s (%.0f MiB/s of data)\n' \
                "$REF_S" "$(echo "512 / $REF_S" | bc -l)"
        printf 'cloudbrokerd copy step (sparse streams, source digest inline): %.2f s (%.0f MiB/s of data), %sx the reference\n' \
                "$COPY_S" "$(echo "512 / $COPY_S" | bc -l)" "$(ratio "$COPY_S")"
        printf 'cloudbrokerd whole move (shutdown, copy, read-back digest, define, start): %.2f s, %sx the reference\n' \
                "$TOTAL_S" "$(ratio "$TOTAL_S")"
        echo "data bytes sent: $DATA ($((DATA / MiB)) MiB) of $((2048 * MiB)) capacity; the copy is byte-identical (sha256 $WANT)"
} | tee "$BUILD_DIR/bench/migration.result"
