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
# .../addresses and the record show. A block volume attached live
# (virDomainAttachDeviceFlags LIVE|CONFIG) appears in the guest as vdc,
# which it writes and reads back (and the host finds what it wrote in the
# volume), then is detached live. The VM is resized to a larger plan, with
# the daemon killed (SIGKILL) in the middle and started again: the resize
# resumes and the guest sees the new vCPUs and memory; a resize to more
# vCPUs than the host has free (256) is refused before the VM is stopped.
# (A resize that fails half-way and rolls back is tested on the test
# driver, tests/integration/test-resize.sh, and in tests/unit/test-resources.c.)
# virt-xml-validate checks the domain and volume XML the broker produced (the CoW disk, the
# seed, the attached and the resized domain, the grown disk). Needs root.
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

# boot-big: what a resize moves to; boot-fail: 256 vCPUs, more than the
# host has free, so the resize is refused before anything stops.
jq --arg net "$NET" --arg pool "$DISK_POOL" '.id = "boot-vm" | .name = "boot-vm"
        | .plans = [(.plans[0] | .id = "boot-tiny" | .name = "tiny"
                | .spec = {kind: "vm", vcpus: 1, memory_mib: 256, disk_gib: 1, network: $net,
                           provider: "boot", os_image: "cb-tiny"}),
                (.plans[0] | .id = "boot-big" | .name = "big" | .price.amount_fen = 2
                | .spec = {kind: "vm", vcpus: 2, memory_mib: 384, disk_gib: 2, network: $net,
                           provider: "boot", os_image: "cb-tiny"}),
                (.plans[0] | .id = "boot-fail" | .name = "fail" | .price.amount_fen = 3
                | .spec = {kind: "vm", vcpus: 256, memory_mib: 256, disk_gib: 2, network: $net,
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
jq --arg pool "$DISK_POOL" '.id = "boot-vol" | .name = "boot-vol"
        | .plans = [(.plans[0] | .id = "boot-vol-1g" | .spec.pool = $pool)]' \
        tests/integration/qemu-catalog/evs-block.json >"$CB_TMP/vol.json"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/vol.json"
[ "$CB_STATUS" = 201 ] || echo "# create: $CB_STATUS $CB_BODY"
cb_curl POST /v1/catalog/services/boot-vol/submit dev-operator
cb_curl POST /v1/catalog/services/boot-vol/approve dev-authority
cb_curl POST /v1/catalog/services/boot-vol/approve dev-finance
check "$CB_BODY" '.status == "published"' "a service of block volumes in the disk pool is published"
cb_add_system edu-boot edu 2 false compliant 启动测试系统
cb_approve lf-edu-boot "临政信审〔$YEAR〕91号" edu-boot '[{"service_id": "boot-vm", "plan_id": "boot-tiny", "quantity": 1},
        {"service_id": "boot-vm", "plan_id": "boot-big", "quantity": 1},
        {"service_id": "boot-vm", "plan_id": "boot-fail", "quantity": 1},
        {"service_id": "boot-vol", "plan_id": "boot-vol-1g", "quantity": 1}]'

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

# console_wait PATTERN SECONDS: polls the console until it shows PATTERN; sets OUT.
console_wait() {
        OUT=
        for _ in $(seq 1 $(($2 * CB_SLOW))); do
                cb_curl GET "/v1/resources/$RID/console" dev-edu
                OUT=$(printf %s "$CB_BODY" | jq -r '.output // empty')
                case "$OUT" in *"$1"*) return 0 ;; esac
                sleep 1
        done
        return 1
}
# op_wait OP SECONDS: polls an operation until it has finished; sets GOT.
op_wait() {
        GOT=
        for _ in $(seq 1 $(($2 * CB_SLOW))); do
                cb_curl GET "/v1/operations/$1" dev-operator
                GOT=$(printf %s "$CB_BODY" | jq -r .state 2>/dev/null || true)
                case "$GOT" in succeeded | failed) return 0 ;; esac
                sleep 1
        done
        return 1
}
assert_contains "$OUT" "cb-guest cpus=1 " "the guest sees the plan's 1 vCPU"
MEM0=$(printf %s "$OUT" | sed -n 's/.*cb-guest cpus=[0-9]* mem-kib=\([0-9]*\).*/\1/p' | tail -1)

# --- a volume attached live, written and read back by the guest ----------------------------

cb_curl POST /v1/resources dev-edu '{"project_id": "lf-edu-boot", "system_id": "edu-boot",
        "service_id": "boot-vol", "plan_id": "boot-vol-1g", "name": "boot-data"}'
assert_eq "$CB_STATUS" 202 "a block volume is ordered"
VOL=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$VOL" active 60; then pass "the volume is active"; else fail "volume: $GOT"; fi
vsh vol-dumpxml --pool "$DISK_POOL" "cb-$VOL.img" >"$CB_TMP/vol-data.xml" 2>/dev/null || true
if virt-xml-validate "$CB_TMP/vol-data.xml" storagevol >/dev/null 2>&1; then pass "virt-xml-validate: the block volume"; else fail "the block volume XML does not validate"; fi
cb_curl POST "/v1/resources/$RID/volumes" dev-edu "{\"volume_id\": \"$VOL\"}"
assert_eq "$CB_STATUS" 202 "it is attached to the running VM"
if op_wait "$(printf %s "$CB_BODY" | jq -r .operation_id)" 60 && [ "$GOT" = succeeded ]; then
        pass "the live attach succeeds (virDomainAttachDeviceFlags LIVE|CONFIG)"
else fail "attach: $GOT $CB_BODY"; fi
vsh dumpxml "cb-$RID" >"$CB_TMP/domain-attached.xml" 2>/dev/null || true
vsh dumpxml --inactive "cb-$RID" >"$CB_TMP/domain-attached-config.xml" 2>/dev/null || true
assert_contains "$(cat "$CB_TMP/domain-attached.xml")" "<serial>$VOL</serial>" "the running domain has the disk"
assert_contains "$(cat "$CB_TMP/domain-attached-config.xml")" "<serial>$VOL</serial>" "and so has its persistent definition"
for x in domain-attached domain-attached-config; do
        if virt-xml-validate "$CB_TMP/$x.xml" domain >/dev/null 2>&1; then pass "virt-xml-validate: $x"; else fail "$x does not validate"; fi
done
if console_wait "cb-guest disk vdc" 60; then
        assert_contains "$OUT" "cb-guest disk vdc written and read back" "the guest sees the hot-plugged vdc, writes it and reads it back"
else fail "the guest never saw vdc: $CB_STATUS $(printf %s "$CB_BODY" | head -c 600)"; fi
head -c 512 "$CB_TMP/disk/cb-$VOL.img" 2>/dev/null | tr -d '\0' >"$CB_TMP/vol-head" || true
assert_contains "$(cat "$CB_TMP/vol-head")" "cb-guest-data $HOST vdc" "what the guest wrote is in the volume on the host"
cb_curl DELETE "/v1/resources/$RID/volumes/$VOL" dev-edu
assert_eq "$CB_STATUS" 202 "it is detached"
if op_wait "$(printf %s "$CB_BODY" | jq -r .operation_id)" 60 && [ "$GOT" = succeeded ]; then pass "the live detach succeeds"; else fail "detach: $GOT $CB_BODY"; fi
gone=no
for _ in $(seq 1 $((20 * CB_SLOW))); do
        vsh dumpxml "cb-$RID" 2>/dev/null | grep -q "<serial>$VOL</serial>" || { gone=yes; break; }
        sleep 1
done
assert_eq "$gone" yes "the running domain no longer has it"

# --- resize, with a crash in the middle, then a failure rolled back ------------------------

cb_curl POST "/v1/resources/$RID/resize" dev-edu '{"plan_id": "boot-big"}'
assert_eq "$CB_STATUS" 202 "the VM is resized to boot-big (2 vCPUs, 384 MiB, 2 GiB)"
ROP=$(printf %s "$CB_BODY" | jq -r .operation_id)
sleep 1 # inside the graceful stop (the guest ignores ACPI; stop_timeout_seconds = 2)
kill -9 "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
pass "the daemon is killed (SIGKILL) in the middle of the resize"
cb_start_daemon
if cb_wait_provider boot 60; then pass "it starts again on the same database"; else fail "provider boot after the crash"; fi
if op_wait "$ROP" 120 && [ "$GOT" = succeeded ]; then pass "the resize is resumed and succeeds"; else fail "resize after the crash: $GOT $CB_BODY"; fi
cb_curl GET "/v1/resources/$RID" dev-edu
check "$CB_BODY" '.plan_id == "boot-big" and .state == "active"' "the record: on boot-big, active"
INFO=$(vsh dominfo "cb-$RID")
assert_contains "$INFO" "running" "the domain runs"
assert_eq "$(printf %s "$INFO" | awk '/^CPU\(s\)/ {print $2}')" 2 "with 2 vCPUs"
assert_eq "$(printf %s "$INFO" | awk '/^Max memory/ {print $3}')" 393216 "and 384 MiB"
SYS_CAP=$(vsh vol-info --bytes --pool "$DISK_POOL" "cb-$RID.img" | awk '/^Capacity/ {print $2}')
assert_eq "$SYS_CAP" $((2 * 1024 * 1024 * 1024)) "its system disk grew to 2 GiB"
vsh dumpxml "cb-$RID" >"$CB_TMP/domain-resized.xml" 2>/dev/null || true
if virt-xml-validate "$CB_TMP/domain-resized.xml" domain >/dev/null 2>&1; then pass "virt-xml-validate: the resized domain"; else fail "the resized domain does not validate"; fi
vsh vol-dumpxml --pool "$DISK_POOL" "cb-$RID.img" >"$CB_TMP/vol-resized.xml" 2>/dev/null || true
if virt-xml-validate "$CB_TMP/vol-resized.xml" storagevol >/dev/null 2>&1; then pass "virt-xml-validate: the grown system disk"; else fail "the grown disk does not validate"; fi
if console_wait "cb-guest cpus=2 " 120; then pass "the guest sees 2 vCPUs after the resize"; else fail "guest after resize: $(printf %s "$OUT" | grep cpus=)"; fi
MEM1=$(printf %s "$OUT" | sed -n 's/.*cb-guest cpus=[0-9]* mem-kib=\([0-9]*\).*/\1/p' | tail -1)
check "$(jq -nc --argjson a "${MEM0:-0}" --argjson b "${MEM1:-0}" '{a: $a, b: $b}')" '.b > .a + 100000' \
        "and more memory ($MEM0 -> $MEM1 KiB)"
console_wait "cb-guest ready" 60 || true
cb_curl GET "/v1/audit?limit=1000" dev-auditor
check "$CB_BODY" "[.. | objects | select(.object? == \"resource:$RID\" and .action? == \"resource.resize.done\")] | length == 1" \
        "the resize and its end are on the audit trail, once"

cb_curl POST "/v1/resources/$RID/resize" dev-edu '{"plan_id": "boot-fail"}'
assert_eq "$CB_STATUS" 503 "a resize to 256 vCPUs, more than the host has free, is refused: 503"
assert_contains "$CB_BODY" "provider 'boot'" "naming the provider"
cb_curl GET "/v1/resources/$RID" dev-edu
check "$CB_BODY" '.plan_id == "boot-big" and .state == "active"' "the record is unchanged: boot-big, active"
INFO=$(vsh dominfo "cb-$RID")
assert_contains "$INFO" "running" "the domain was not stopped"
assert_eq "$(printf %s "$INFO" | awk '/^CPU\(s\)/ {print $2}')" 2 "and keeps its 2 vCPUs"

cb_curl DELETE "/v1/resources/$RID" dev-edu
if cb_wait_state "$RID" deleted 60; then pass "the VM is deleted"; else fail "delete: $GOT"; fi
assert_eq "$(sha256sum <"$CB_TMP/img/tiny.raw" | cut -d' ' -f1)" "$DIGEST" "the image is still unchanged"

cb_stop_daemon
cb_done
