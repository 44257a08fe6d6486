#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# From the order to the guest's first console line (issue 9): cloudbrokerd
# provisioning a VM from a registered image (a copy-on-write qcow2 over it,
# a NoCloud seed built with libisofs, the console read back through GET
# /v1/resources/{id}/console), beside virt-install --import --cloud-init
# (Debian's virtinst) booting the same image the same way (a qcow2 over it
# as --disk backing_store, its own cloud-init ISO, a serial console to a
# file), on one libvirtd of the run's own (lib.sh cb_private_libvirtd,
# QEMU under TCG), alternating, CB_BOOT_ROUNDS rounds (default 3). Also the
# bytes each writes per VM before the guest boots: the system disk's
# allocation and the seed's size. Target: the broker's median within 1.2x
# of virt-install's, its copy-on-write disk under 1 MiB.
#
# virt-install runs inside libvirtd's mount and network namespaces (nsenter),
# so that the paths it writes (its ISO under /var/lib/libvirt/boot) are the
# ones libvirtd sees.
#
# Usage (as root, from anywhere): bench/boot.sh [BUILD_DIR]
# Result also in BUILD_DIR/bench/boot.result. Every wait is bounded;
# everything started is ended by PID.

set -euo pipefail

cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
        echo "bench/boot.sh needs root (a libvirtd of its own): skipped"
        exit 0
fi
. tests/integration/lib.sh
cb_setup "${1:-build}"
ROUNDS=${CB_BOOT_ROUNDS:-3}
IMG_POOL=cb-bench-img
DISK_POOL=default
NET=cb-bench-net
YEAR=$(date +%Y)

bench_cleanup() {
        local rc=$?
        set +e
        [ -n "${CB_PID:-}" ] && cb_stop_pid "$CB_PID"
        cb_stop_private_libvirtd
        rm -f /var/log/libvirt/qemu/cb-r-*-console.log
        cb_cleanup
        exit "$rc"
}
trap bench_cleanup EXIT

command -v virt-install >/dev/null || scripts/install-deps.sh --qemu >/dev/null
cb_private_libvirtd bench || { echo "libvirtd does not start"; exit 1; }
URI=$CB_QEMU_URI
LPID=${CB_LIBVIRTD_PIDS[0]}
mkdir -p "$CB_TMP/libvirt-bench/lib/boot" # virt-install's scratch pool, /var/lib/libvirt/boot to libvirtd
vsh() { virsh -c "$URI" -q "$@" </dev/null; }
now_ms() { date +%s%3N; }
# allocated FILE: the bytes the file system holds for FILE (0 when absent).
allocated() { if [ -e "$1" ]; then echo $(($(stat -c '%b * %B' "$1"))); else echo 0; fi; }

bash tests/integration/boot-guest.sh "$CB_TMP/guest.raw"
mkdir -p "$CB_TMP/img" "$CB_TMP/disk"
vsh pool-create-as "$IMG_POOL" dir --target "$CB_TMP/img" >/dev/null
vsh pool-create-as "$DISK_POOL" dir --target "$CB_TMP/disk" >/dev/null
SIZE=$(stat -c %s "$CB_TMP/guest.raw")
vsh vol-create-as "$IMG_POOL" tiny.raw "$SIZE" --format raw >/dev/null
vsh vol-upload --pool "$IMG_POOL" tiny.raw "$CB_TMP/guest.raw"
DIGEST=$(sha256sum <"$CB_TMP/guest.raw" | cut -d' ' -f1)
cat >"$CB_TMP/net.xml" <<XML
<network>
  <name>$NET</name>
  <bridge name='cbbench0' stp='off'/>
  <ip address='192.168.232.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.232.10' end='192.168.232.50'/></dhcp>
  </ip>
</network>
XML
vsh net-create "$CB_TMP/net.xml" >/dev/null

here=$(pwd)
sed -e "s|^catalog_seed = .*|catalog_seed = \"$here/tests/integration/qemu-catalog\";|" \
        -e "s|^calendar_dir = .*|calendar_dir = \"$here/etc/calendar\";|" \
        -e "s|\"\\.\\./\\.\\./etc/dev-keys/|\"$here/etc/dev-keys/|" \
        -e '/^providers = (/,/^);/d' tests/integration/qemu.conf >"$CB_TMP/cb.conf"
cat >>"$CB_TMP/cb.conf" <<CONF
providers = (
  { name = "bench"; driver = "libvirt"; uri = "$URI"; domain_type = "qemu"; image_pool = "$IMG_POOL"; }
);
CONF
CB_CONFIG=$CB_TMP/cb.conf
cb_start_daemon
cb_wait_provider bench 60 || { echo "provider bench does not connect"; exit 1; }
cb_curl POST /v1/images dev-operator "$(jq -nc --arg d "sha256:$DIGEST" '{provider: "bench", name: "cb-tiny",
        volume: "tiny.raw", os: "busybox", os_version: "1.35", arch: "x86_64", format: "raw", digest: $d}')"
[ "$CB_STATUS" = 201 ] || { echo "image: $CB_STATUS $CB_BODY"; exit 1; }
jq --arg net "$NET" '.id = "bench-vm" | .name = "bench-vm"
        | .plans = [(.plans[0] | .id = "bench-tiny" | .name = "tiny"
                | .spec = {kind: "vm", vcpus: 1, memory_mib: 256, disk_gib: 1, network: $net,
                           provider: "bench", os_image: "cb-tiny"})]' \
        tests/integration/qemu-catalog/ecs-general.json >"$CB_TMP/svc.json"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/svc.json"
cb_curl POST /v1/catalog/services/bench-vm/submit dev-operator
cb_curl POST /v1/catalog/services/bench-vm/approve dev-authority
cb_curl POST /v1/catalog/services/bench-vm/approve dev-finance
[ "$(printf %s "$CB_BODY" | jq -r .status)" = published ] || { echo "catalogue: $CB_BODY"; exit 1; }
cb_add_system edu-bench edu 2 false compliant 启动基准系统 >/dev/null
cb_approve lf-edu-bench "临政信审〔$YEAR〕95号" edu-bench \
        "[{\"service_id\": \"bench-vm\", \"plan_id\": \"bench-tiny\", \"quantity\": $ROUNDS}]" >/dev/null
ssh-keygen -q -t ed25519 -N "" -C "ops@edu" -f "$CB_TMP/key" </dev/null >/dev/null
KEY=$(cat "$CB_TMP/key.pub")

declare -a T_CB T_VI
CB_DISK=0 CB_SEED=0 VI_DISK=0 VI_SEED=0

# One VM through the broker: the order, then the console through the broker.
broker_round() {
        local t0 rid out t
        t0=$(now_ms)
        cb_curl POST /v1/resources dev-edu "$(jq -nc --arg k "$KEY" --arg n "bench-$1" '{project_id: "lf-edu-bench",
                system_id: "edu-bench", service_id: "bench-vm", plan_id: "bench-tiny", name: $n,
                ssh_authorized_keys: [$k]}')"
        rid=$(printf %s "$CB_BODY" | jq -r .id)
        t=
        for _ in $(seq 1 1200); do
                cb_curl GET "/v1/resources/$rid/console" dev-edu
                out=$(printf %s "$CB_BODY" | jq -r '.output // empty' 2>/dev/null || true)
                case "$out" in *$'\n'*) t=$(($(now_ms) - t0)); break ;; esac
                sleep 0.1
        done
        [ -n "$t" ] || { echo "broker round $1: no console line ($CB_BODY)"; exit 1; }
        T_CB+=("$t")
        CB_DISK=$(allocated "$CB_TMP/disk/cb-$rid.img")
        CB_SEED=$(allocated "$CB_TMP/disk/cb-$rid-seed.iso")
        cb_curl DELETE "/v1/resources/$rid" dev-edu
        cb_wait_state "$rid" deleted 60 >/dev/null || { echo "broker round $1: not deleted"; exit 1; }
}

# The same VM through virt-install, in libvirtd's namespaces.
virt_install_round() {
        local d=$CB_TMP/vi-$1 t0 t iso
        mkdir -p "$d"
        printf 'instance-id: vi-%s\nlocal-hostname: vi-%s\n' "$1" "$1" >"$d/meta-data"
        printf '#cloud-config\nssh_authorized_keys:\n  - %s\n' "$KEY" >"$d/user-data"
        t0=$(now_ms)
        nsenter --target "$LPID" --mount --net virt-install --connect "$URI" --name "vi-$1" \
                --memory 256 --vcpus 1 --import --virt-type qemu --osinfo detect=on,require=off \
                --disk "pool=$DISK_POOL,size=1,format=qcow2,backing_store=$CB_TMP/img/tiny.raw,backing_format=raw,bus=virtio" \
                --cloud-init "meta-data=$d/meta-data,user-data=$d/user-data" \
                --network "network=$NET,model=virtio" --graphics none --serial "file,path=$d/console.log" \
                --noautoconsole --wait 0 >"$d/virt-install.log" 2>&1 </dev/null ||
                { echo "virt-install round $1 failed:"; tail -n 5 "$d/virt-install.log"; exit 1; }
        t=
        for _ in $(seq 1 1200); do
                if [ -s "$d/console.log" ] && [ "$(wc -l <"$d/console.log")" -ge 1 ]; then
                        t=$(($(now_ms) - t0))
                        break
                fi
                sleep 0.1
        done
        [ -n "$t" ] || { echo "virt-install round $1: no console line"; exit 1; }
        T_VI+=("$t")
        VI_DISK=$(allocated "$CB_TMP/disk/vi-$1.qcow2")
        # virt-install deletes its ISO when it exits; QEMU still has it open.
        iso=$(vsh domblklist "vi-$1" --details | awk '$2 == "cdrom" {print $3; exit}')
        VI_SEED=$([ -n "$iso" ] && vsh domblkinfo "vi-$1" "$iso" | awk '/^Physical:/ {print $2}' || echo 0)
        vsh destroy "vi-$1" >/dev/null 2>&1 || true
        vsh undefine "vi-$1" >/dev/null 2>&1 || true
        vsh vol-delete --pool "$DISK_POOL" "vi-$1.qcow2" >/dev/null 2>&1 || true
}

for i in $(seq 1 "$ROUNDS"); do
        broker_round "$i"
        virt_install_round "$i"
        echo "# round $i: broker ${T_CB[-1]} ms, virt-install ${T_VI[-1]} ms"
done

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
M_CB=$(median "${T_CB[@]}")
M_VI=$(median "${T_VI[@]}")
RATIO=$(awk -v a="$M_CB" -v b="$M_VI" 'BEGIN { printf "%.2f", a / b }')
RESULT=$(
        cat <<EOF
boot to first console line, $ROUNDS rounds each, TCG on one private libvirtd:
  cloudbrokerd (POST /v1/resources .. GET console): median $M_CB ms  (${T_CB[*]})
  virt-install --import --cloud-init:                median $M_VI ms  (${T_VI[*]})
  ratio broker / virt-install: $RATIO (target <= 1.20)
written per VM before boot (allocated bytes):
  cloudbrokerd: system disk (qcow2 over the image) $CB_DISK, seed ISO $CB_SEED (target: disk < 1048576)
  virt-install: system disk (qcow2 over the image) $VI_DISK, cloud-init ISO ${VI_SEED:-0}
EOF
)
echo "$RESULT"
mkdir -p "$CB_BUILD/bench"
echo "$RESULT" >"$CB_BUILD/bench/boot.result"
cb_stop_daemon
