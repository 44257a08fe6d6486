#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A real boot on a libvirtd of the test's own with QEMU under TCG
# (cb_private_libvirtd): the tiny guest of boot-guest.sh (Debian's cloud
# kernel, busybox-static) is uploaded into an image pool and registered in
# the broker's image library (the real digest path: libvirt streams the
# volume back), a department orders a VM from it (a copy-on-write qcow2 over
# the image, a NoCloud seed with the order's hostname and SSH key), and the
# guest's console, read back through GET /v1/resources/{id}/console, shows
# the hostname and the key's digest the guest read from the seed. An
# isolated network with DHCP (dnsmasq) gives the guest an address that GET
# .../addresses and the record show. virt-xml-validate checks the domain
# and volume XML the broker produced. Needs root.
#
# Usage (from the repository root): tests/integration/test-boot-qemu.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
check() { assert_jq "$1" "$2" true "$3"; }

IMG_POOL=cb-boot-img
DISK_POOL=default # a plan cannot name its pool: the disk goes to "default"
NET=cb-boot-net
YEAR=$(date +%Y)

boot_cleanup() {
        local rc=$?
        set +e
        [ -n "${CB_PID:-}" ] && cb_stop_pid "$CB_PID"
        if [ "$CB_FAILS" -ne 0 ] && [ -f "$CB_TMP/libvirtd.log" ]; then
                echo "# --- libvirtd log ---"
                grep -v -e udevGetDMIData -e dmidecode -e /dev/kvm "$CB_TMP/libvirtd.log" | tail -n 15 | sed 's/^/# /'
        fi
        cb_stop_private_libvirtd
        [ -n "${RID:-}" ] && rm -f "/var/log/libvirt/qemu/cb-$RID-console.log"
        cb_cleanup
        exit "$rc"
}
trap boot_cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
        echo "# test-boot-qemu needs root (a libvirtd of its own, package installation)"
        exit 1
fi

t0=$SECONDS
if ! cb_private_libvirtd boot; then
        fail "a private libvirtd answers within 90 s"
        exit 1
fi
URI=$CB_QEMU_URI
pass "a libvirtd of the test's own answers ($((SECONDS - t0)) s)"
vsh() { virsh -c "$URI" -q "$@" </dev/null; }

# --- the guest image, its pools and the network ---------------------------------

t0=$SECONDS
if bash tests/integration/boot-guest.sh "$CB_TMP/guest.raw"; then
        pass "the tiny guest is built from Debian packages ($((SECONDS - t0)) s)"
else
        fail "building the guest failed"
        exit 1
fi
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
  <bridge name='cbboot0' stp='off'/>
  <ip address='192.168.231.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.231.10' end='192.168.231.50'/></dhcp>
  </ip>
</network>
XML
if vsh net-create "$CB_TMP/net.xml" >/dev/null; then pass "an isolated network with DHCP"; else fail "net-create"; fi

# --- the broker -------------------------------------------------------------------

here=$(pwd)
sed -e "s|^catalog_seed = .*|catalog_seed = \"$here/tests/integration/qemu-catalog\";|" \
        -e "s|^calendar_dir = .*|calendar_dir = \"$here/etc/calendar\";|" \
        -e "s|\"\\.\\./\\.\\./etc/dev-keys/|\"$here/etc/dev-keys/|" \
        -e '/^providers = (/,/^);/d' tests/integration/qemu.conf >"$CB_TMP/cb.conf"
cat >>"$CB_TMP/cb.conf" <<CONF
providers = (
  { name = "boot"; driver = "libvirt"; uri = "$URI"; domain_type = "qemu"; image_pool = "$IMG_POOL"; }
);
CONF
CB_CONFIG=$CB_TMP/cb.conf
cb_start_daemon
if cb_wait_provider boot 60; then pass "the broker connects to it"; else fail "provider boot"; exit 1; fi

cb_curl POST /v1/images dev-operator "$(jq -nc --arg d "sha256:$DIGEST" '{provider: "boot", name: "cb-tiny",
        volume: "tiny.raw", os: "busybox", os_version: "1.35", arch: "x86_64", format: "raw", digest: $d}')"
assert_eq "$CB_STATUS" 201 "the image is registered: its volume read back through libvirt matches the digest"
echo "# $CB_BODY" | head -c 400; echo

jq --arg net "$NET" --arg pool "$DISK_POOL" '.id = "boot-vm" | .name = "boot-vm"
        | .plans = [(.plans[0] | .id = "boot-tiny" | .name = "tiny"
                | .spec = {kind: "vm", vcpus: 1, memory_mib: 256, disk_gib: 1, network: $net,
                           provider: "boot", os_image: "cb-tiny"})]' \
        tests/integration/qemu-catalog/ecs-general.json >"$CB_TMP/svc.json"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/svc.json"
[ "$CB_STATUS" = 201 ] || echo "# create: $CB_STATUS $CB_BODY"
cb_curl POST /v1/catalog/services/boot-vm/submit dev-operator
assert_eq "$CB_STATUS" 200 "a service of VMs from the image is submitted"
[ "$CB_STATUS" = 200 ] || echo "# $CB_BODY"
cb_curl POST /v1/catalog/services/boot-vm/approve dev-authority
cb_curl POST /v1/catalog/services/boot-vm/approve dev-finance
check "$CB_BODY" '.status == "published"' "...and published"
cb_add_system edu-boot edu 2 false compliant 启动测试系统
cb_approve lf-edu-boot "临政信审〔$YEAR〕91号" edu-boot '[{"service_id": "boot-vm", "plan_id": "boot-tiny", "quantity": 1}]'

ssh-keygen -q -t ed25519 -N "" -C "ops@edu" -f "$CB_TMP/key" </dev/null >/dev/null
KEY=$(cat "$CB_TMP/key.pub")
KEY_SHA=$(printf %s "$KEY" | awk '{print $2}' | base64 -d | sha256sum | cut -d' ' -f1)

t_order=$SECONDS
cb_curl POST /v1/resources dev-edu "$(jq -nc --arg k "$KEY" '{project_id: "lf-edu-boot", system_id: "edu-boot",
        service_id: "boot-vm", plan_id: "boot-tiny", name: "Boot_Test.One", ssh_authorized_keys: [$k]}')"
assert_eq "$CB_STATUS" 202 "a department orders a VM from the image"
RID=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$RID" active 120; then pass "it becomes active"; else
        fail "VM not active (state $GOT)"
        cb_curl GET "/v1/operations/$(printf %s "$CB_BODY" | jq -r .operation_id)" dev-operator
        echo "# $CB_BODY"
fi

# --- the XML the broker made -------------------------------------------------------

vsh dumpxml "cb-$RID" >"$CB_TMP/domain.xml" 2>/dev/null || true
if virt-xml-validate "$CB_TMP/domain.xml" domain >/dev/null 2>&1; then pass "virt-xml-validate: the domain XML"; else fail "the domain XML does not validate"; fi
for v in $(vsh vol-list "$DISK_POOL" | awk '{print $1}'); do
        vsh vol-dumpxml --pool "$DISK_POOL" "$v" >"$CB_TMP/vol-$v.xml"
        if virt-xml-validate "$CB_TMP/vol-$v.xml" storagevol >/dev/null 2>&1; then pass "virt-xml-validate: volume $v"; else fail "volume $v XML does not validate"; fi
done
DISK_XML=$(vsh vol-dumpxml --pool "$DISK_POOL" "$(vsh vol-list "$DISK_POOL" | awk '$1 !~ /seed/ {print $1; exit}')")
assert_contains "$DISK_XML" "<backingStore>" "the system disk is copy-on-write over the image"
assert_contains "$DISK_XML" "$CB_TMP/img/tiny.raw" "...whose backing file is the image volume"
assert_eq "$(sha256sum <"$CB_TMP/img/tiny.raw" | cut -d' ' -f1)" "$DIGEST" "the image is not written"

# --- the console --------------------------------------------------------------------

OUT=
for _ in $(seq 1 $((120 * CB_SLOW))); do
        cb_curl GET "/v1/resources/$RID/console" dev-edu
        OUT=$(printf %s "$CB_BODY" | jq -r '.output // empty')
        case "$OUT" in *"cb-guest ready"*) break ;; esac
        sleep 1
done
t_boot=$((SECONDS - t_order))
assert_contains "$OUT" "cb-guest hostname=" "the guest printed its hostname from the seed ($t_boot s from the order)"
HOST=$(printf %s "$OUT" | sed -n 's/^cb-guest hostname=//p' | head -1)
check "$(jq -nc --arg h "$HOST" '{h: $h}')" '.h | test("^[a-z0-9-]+$") and contains("boot")' \
        "...made hostname-safe from the resource name ($HOST)"
assert_contains "$OUT" "cb-guest key-sha256=$KEY_SHA" "...and the SHA-256 of the ordered key's blob"
printf '%s\n' "$OUT" | tail -n 6 | sed 's/^/# console: /'

# --- addresses ----------------------------------------------------------------------

ADDR=
for _ in $(seq 1 $((60 * CB_SLOW))); do
        cb_curl GET "/v1/resources/$RID/addresses" dev-edu
        ADDR=$(printf %s "$CB_BODY" | jq -r '[.addresses[]?.addresses[]? | select(.type == "ipv4") | .address] | first // empty')
        [ -n "$ADDR" ] && break
        sleep 1
done
case "$ADDR" in 192.168.231.*) pass "the guest got a DHCP lease: $ADDR" ;; *) fail "no lease address: $CB_BODY" ;; esac
cb_curl GET "/v1/resources/$RID" dev-edu
check "$CB_BODY" "[.addresses[].addresses[].address] | index(\"$ADDR\") != null" "the record shows it"

cb_curl DELETE "/v1/resources/$RID" dev-edu
if cb_wait_state "$RID" deleted 60; then pass "the VM is deleted"; else fail "delete: $GOT"; fi
assert_eq "$(sha256sum <"$CB_TMP/img/tiny.raw" | cut -d' ' -f1)" "$DIGEST" "the image is still unchanged"

cb_stop_daemon
cb_done
