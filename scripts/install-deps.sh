#!/bin/sh
# Installs the Debian packages cloudbroker needs to build, run and test.
# Does nothing (and needs no network) when every package is already present.
set -eu

PKGS="build-essential pkg-config
libvirt-dev libvirt-clients
libcurl4-openssl-dev libjansson-dev libconfig-dev libsystemd-dev
libmicrohttpd-dev libsqlite3-dev libssl-dev libcmocka-dev
dbus systemd sqlite3 curl jq libxml2-utils clang-format cppcheck openssl"

if [ "${1:-}" = "--bench" ]; then
        PKGS="$PKGS wrk nginx"
fi

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
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
