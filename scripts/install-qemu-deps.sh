#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs what tests/integration/test-qemu.sh needs beyond install-deps.sh:
# a real libvirtd with its QEMU driver and QEMU for x86 (TCG is enough).
# Does nothing (and needs no network) when every package is already present;
# otherwise runs `apt-get update` once and installs without recommends (no
# dnsmasq, no firmware bundles). Never starts a service: the test runs
# virtlogd and libvirtd by hand.
set -eu

PKGS="libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86 libvirt-clients"

missing=""
for p in $PKGS; do
        if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
                missing="$missing $p"
        fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
        echo "install-qemu-deps: missing packages:$missing (run as root, or install them)" >&2
        exit 1
fi

echo "install-qemu-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start libvirtd or virtlogd on a machine whose
# PID 1 is not systemd (or in a CI container): policy-rc.d says no.
rcd=/usr/sbin/policy-rc.d
if [ ! -e "$rcd" ]; then
        trap 'rm -f "$rcd"' EXIT
        trap 'exit 130' INT TERM
        printf '#!/bin/sh\nexit 101\n' >"$rcd"
        chmod 755 "$rcd"
fi
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
