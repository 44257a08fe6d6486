#!/bin/sh
# Installs the Debian packages cloudbroker needs to build, run and test.
# Does nothing (and needs no network) when every package is already present.
# debootstrap and systemd-container are in the base list because `make check`
# runs tests/integration/test-systemd.sh, which boots systemd in a container.
# clang-14 and libclang-rt-14-dev likewise: it builds and runs the libFuzzer
# harnesses of tests/fuzz.
#   --bench  also wrk and nginx (bench/)
#   --valgrind  also valgrind (make valgrind)
#   --qemu   also a real libvirtd with its QEMU driver and QEMU for x86, for
#            tests/integration/test-qemu.sh (TCG is enough). Without
#            recommends (no dnsmasq, no firmware bundles), and no service is
#            started: the test runs virtlogd and libvirtd by hand.
set -eu

PKGS="build-essential pkg-config
libvirt-dev libvirt-clients
libcurl4-openssl-dev libjansson-dev libconfig-dev libsystemd-dev
libmicrohttpd-dev libsqlite3-dev libssl-dev libcmocka-dev libxml2-dev libisofs-dev libyaml-dev genisoimage
dbus systemd sqlite3 curl jq libxml2-utils clang-format cppcheck openssl
debootstrap systemd-container
clang-14 libclang-rt-14-dev"
qemu=false

for arg in "$@"; do
        case "$arg" in
        --bench) PKGS="$PKGS wrk nginx" ;;
        --valgrind) PKGS="$PKGS valgrind" ;;
        --qemu)
                # qemu-utils: libvirt's qemu-img makes the copy-on-write system disks.
                # dnsmasq-base: DHCP on the isolated network of test-boot-qemu.sh (the VM's addresses).
                # virtinst, xorriso: bench/boot.sh's reference, virt-install --import --cloud-init.
                PKGS="$PKGS libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils dnsmasq-base"
                PKGS="$PKGS virtinst xorriso"
                qemu=true
                ;;
        *)
                echo "install-deps: unknown option '$arg' (--bench, --valgrind, --qemu)" >&2
                exit 2
                ;;
        esac
done

missing=""
for p in $PKGS; do
        if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
                missing="$missing $p"
        fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
        exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start libvirtd or virtlogd on a machine whose
# PID 1 is not systemd (or in a CI container): policy-rc.d says no.
rcd=/usr/sbin/policy-rc.d
if $qemu && [ ! -e "$rcd" ]; then
        trap 'rm -f "$rcd"' EXIT
        trap 'exit 130' INT TERM
        printf '#!/bin/sh\nexit 101\n' >"$rcd"
        chmod 755 "$rcd"
fi
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
