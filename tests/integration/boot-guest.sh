#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# boot-guest.sh OUT.raw: builds the tiny guest of test-boot-qemu.sh from
# Debian packages (downloaded once with apt-get download into
# build/boot-debs, unpacked there, nothing installed): the kernel of
# linux-image-cloud-amd64, an initramfs of busybox-static with the virtio
# and isofs modules, on a FAT disk that syslinux boots. The guest loads the
# modules, mounts the NoCloud seed (the ISO 9660 volume "cidata" the broker
# attaches as a virtio disk), prints "cb-guest hostname=H" and
# "cb-guest key-sha256=HEX" (the SHA-256 of each public key's blob) on the
# serial console, prints "cb-guest cpus=N mem-kib=K" (what the kernel sees:
# a resize shows), asks for a DHCP lease on its NIC, and stays up. Every
# block device that appears after the seed (vdc...: an attached volume, hot
# plugged or there at boot) gets "cb-guest-data HOSTNAME vdX" written to its
# first sector, which it reads back and reports as "cb-guest disk vdX
# written and read back".

set -euo pipefail
out=$1
cache=${CB_BOOT_CACHE:-build/boot-debs}
mkdir -p "$cache"
(
        cd "$cache"
        for p in linux-image-cloud-amd64 busybox-static syslinux syslinux-common mtools dosfstools cpio; do
                ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null 2>&1
        done
        meta=$(ls linux-image-cloud-amd64_*.deb)
        kpkg=$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | grep -o 'linux-image-[0-9][^ ]*' | head -1)
        ls "${kpkg}"_*.deb >/dev/null 2>&1 || apt-get download "$kpkg" >/dev/null 2>&1
        if [ ! -d root ]; then
                mkdir -p root.new
                for d in *.deb; do dpkg-deb -x "$d" root.new; done
                mv root.new root
        fi
)
root=$(cd "$cache/root" && pwd)
kver=$(basename "$(ls -d "$root"/lib/modules/*)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/i/bin" "$work/i/mod" "$work/i/proc" "$work/i/sys" "$work/i/dev" "$work/i/seed" "$work/i/etc"
cp "$root/bin/busybox" "$work/i/bin/busybox"
for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk cdrom isofs \
        failover net_failover virtio_net; do
        f=$(find "$root/lib/modules/$kver" -name "$m.ko*" | head -1)
        case "$f" in
        *.xz) xz -dc "$f" >"$work/i/mod/$m.ko" ;;
        *) cp "$f" "$work/i/mod/$m.ko" ;;
        esac
done
cat >"$work/i/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# No modules.dep (depmod never ran): passes over the list until each has loaded.
for pass in 1 2 3 4; do
        for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk cdrom \
                isofs failover net_failover virtio_net; do
                grep -q "^$m " /proc/modules || insmod /mod/$m.ko 2>/dev/null
        done
done
for m in virtio_pci virtio_blk isofs virtio_net; do
        grep -q "^$m " /proc/modules || echo "cb-guest module $m did not load"
done
echo "cb-guest up"
echo "cb-guest cpus=$(grep -c ^processor /proc/cpuinfo) mem-kib=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
for i in 1 2 3 4 5 6 7 8 9 10; do
        for d in /dev/vd?; do
                [ -b "$d" ] && mount -t iso9660 -o ro "$d" /seed 2>/dev/null && break 2
        done
        sleep 0.5
done
if [ -f /seed/meta-data ]; then
        h=$(sed -n 's/^local-hostname: *//p' /seed/meta-data)
        hostname "$h"
        echo "cb-guest hostname=$h"
        sed -n 's/^  - "\(.*\)"$/\1/p' /seed/meta-data | while read -r t b c; do
                echo "cb-guest key-sha256=$(echo "$b" | base64 -d | sha256sum | cut -d' ' -f1)"
        done
else
        echo "cb-guest no seed: $(ls /dev/vd* 2>&1 | tr '\n' ' ') $(grep -c iso9660 /proc/filesystems) $(mount -t iso9660 -o ro /dev/vdb /seed 2>&1)"
fi
ip link set lo up
ip link set eth0 up 2>/dev/null && udhcpc -i eth0 -q -n -t 10 -s /bin/true >/dev/null 2>&1 &
echo "cb-guest ready"
seen=" vda vdb "
while true; do
        for d in /dev/vd?; do
                n=${d#/dev/}
                case "$seen" in *" $n "*) continue ;; esac
                [ -b "$d" ] || continue
                seen="$seen$n "
                m="cb-guest-data $(hostname) $n"
                printf '%s\n' "$m" | dd of="$d" bs=512 count=1 conv=sync,fsync 2>/dev/null
                blockdev --flushbufs "$d" 2>/dev/null
                echo 3 >/proc/sys/vm/drop_caches
                r=$(dd if="$d" bs=512 count=1 2>/dev/null | head -n 1)
                if [ "$r" = "$m" ]; then echo "cb-guest disk $n written and read back"; else echo "cb-guest disk $n read back '$r'"; fi
        done
        sleep 1
done
INIT
chmod +x "$work/i/init"
(cd "$work/i" && find . | "$root/bin/cpio" -o -H newc --quiet | gzip -1 >"$work/initrd.gz")
cat >"$work/syslinux.cfg" <<'CFG'
DEFAULT linux
PROMPT 0
TIMEOUT 0
SERIAL 0 115200
LABEL linux
  KERNEL vmlinuz
  APPEND initrd=initrd.gz console=ttyS0,115200 quiet loglevel=1
CFG
rm -f "$out"
truncate -s 48M "$out"
"$root/sbin/mkfs.vfat" -n CBGUEST "$out" >/dev/null
export MTOOLS_SKIP_CHECK=1 PATH=$root/usr/bin:$PATH
mcopy -i "$out" "$root/boot/vmlinuz-$kver" ::vmlinuz
mcopy -i "$out" "$work/initrd.gz" ::initrd.gz
mcopy -i "$out" "$work/syslinux.cfg" ::syslinux.cfg
"$root/usr/bin/syslinux" --install "$out"
