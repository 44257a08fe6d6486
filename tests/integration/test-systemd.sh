#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The units under a real systemd (PID 1 of a container): the project is
# installed with `make install DESTDIR=ROOT` into a Debian 12 root made by
# debootstrap, the root is booted with systemd-nspawn, and a unit inside
# (tests/integration/systemd/inside.sh) starts cloudbrokerd.service and
# checks READY=1, the sandbox while it serves, `systemd-analyze security` of
# the live unit, the credential from LoadCredential=, the journal, the D-Bus
# policy and activation file on the container's system bus, STOPPING=1 and
# exit 0 on a SIGTERM stop, and a watchdog restart after SIGSTOP. Its TAP
# lines land in a folder bound into the container; this script reads them.
#
# The root lives in BUILD/systemd-root and is reused: debootstrap runs only
# when it is missing or its package list changed (about a minute, ~250 MB,
# from the mirror this machine's apt uses). The project is reinstalled on
# every run. The container has its own network namespace (loopback only),
# so its REST port never meets the host's.
#
# Skips (exit 0, "# skip") without root, systemd-nspawn or debootstrap
# (scripts/install-deps.sh installs systemd-container and debootstrap), and
# for a sanitizer build: tests/run.sh runs every script once per build dir,
# and this test is about the units and systemd, which the plain binary
# exercises as well as the ASan one. Booting a second container for it would
# double the longest integration test, and the ASan runtime is not in the
# container.
#
# Usage (from the repository root, as root):
#   tests/integration/test-systemd.sh [BUILD_DIR]

set -euo pipefail

skip() {
        echo "# skip: $*"
        exit 0
}

BUILD_ARG=${1:-build}
[ "$(id -u)" = 0 ] || skip "test-systemd needs root (debootstrap, systemd-nspawn)"
command -v systemd-nspawn >/dev/null ||
        skip "systemd-nspawn is not installed (package systemd-container; scripts/install-deps.sh installs it)"
command -v debootstrap >/dev/null ||
        skip "debootstrap is not installed (scripts/install-deps.sh installs it)"
[ -x "$BUILD_ARG/cloudbrokerd" ] || {
        echo "not ok - $BUILD_ARG/cloudbrokerd is missing: build first"
        exit 1
}
if ldd "$BUILD_ARG/cloudbrokerd" | grep -q 'libasan\|libubsan'; then
        skip "runs on the plain build only ($BUILD_ARG is a sanitizer build; the units are the same)"
fi

. tests/integration/lib.sh
cb_setup "$BUILD_ARG"

ROOT=$CB_BUILD/systemd-root
MIRROR=${CB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# systemd as PID 1 and the system bus; jq and curl for the checks inside;
# and the packages of the daemon's and ctl's own libraries (their NEEDED
# entries, found through ldd and dpkg), so that a new library is in the
# container without a second list to keep (the stamp changes with it, and
# the root is made again).
runtime_packages() {
        local bin lib path pkg
        for bin in "$CB_BUILD/cloudbrokerd" "$CB_BUILD/cloudbrokerctl"; do
                for lib in $(objdump -p "$bin" | awk '/NEEDED/ {print $2}'); do
                        path=$(ldd "$bin" | awk -v l="$lib" '$1 == l {print $3}')
                        [ -n "$path" ] || continue
                        pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null) || continue
                        echo "${pkg%%:*}"
                done
        done | sort -u | paste -sd, -
}
LIBS=$(runtime_packages)
[ -n "$LIBS" ] || {
        echo "not ok - could not find the packages of the daemon's libraries (objdump, ldd, dpkg -S)"
        exit 1
}
PACKAGES=systemd,systemd-sysv,dbus,jq,curl,$LIBS
STAMP=$ROOT/.cbtest-packages

# --- the root: debootstrap once ----------------------------------------------
if [ "$(cat "$STAMP" 2>/dev/null)" != "$PACKAGES" ]; then
        rm -rf "$ROOT" "$ROOT.new"
        echo "# debootstrap bookworm into $ROOT (once; about a minute)"
        start=$SECONDS
        # Into a side folder first: an interrupted run leaves no half root
        # that the next run would take for a finished one.
        if ! timeout 600 debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT.new" "$MIRROR" \
                >"$CB_TMP/debootstrap.log" 2>&1; then
                tail -n 20 "$CB_TMP/debootstrap.log" | sed 's/^/# /'
                rm -rf "$ROOT.new"
                fail "debootstrap of bookworm from $MIRROR"
                cb_done
                exit 1
        fi
        # One machine id for every boot (journald keys its files by it).
        systemd-id128 new >"$ROOT.new/etc/machine-id"
        echo "$PACKAGES" >"$ROOT.new/.cbtest-packages"
        mv "$ROOT.new" "$ROOT"
        echo "# figure: debootstrap took $((SECONDS - start)) s, root $(du -sm "$ROOT" | cut -f1) MB"
else
        echo "# reusing $ROOT"
fi

# --- the project: make install DESTDIR=ROOT, every run ------------------------
# A fresh config folder and state each time (install.mk keeps an existing
# config and would put the new one beside it as .new).
rm -rf "$ROOT/etc/cloudbroker" "$ROOT/var/lib/cloudbroker" "$ROOT/usr/libexec/cloudbroker"
if ! make --no-print-directory -s BUILD="$BUILD_ARG" DESTDIR="$ROOT" install >"$CB_TMP/install.log" 2>&1; then
        sed 's/^/# /' "$CB_TMP/install.log"
        fail "make install DESTDIR=$ROOT"
        cb_done
        exit 1
fi
pass "make install DESTDIR=$ROOT"
for f in usr/libexec/cloudbroker/cloudbrokerd usr/bin/cloudbrokerctl usr/lib/systemd/system/cloudbrokerd.service \
        usr/share/dbus-1/system.d/org.cloudbroker.Broker1.conf \
        usr/share/dbus-1/system-services/org.cloudbroker.Broker1.service \
        usr/lib/sysusers.d/cloudbroker.conf usr/lib/tmpfiles.d/cloudbroker.conf etc/cloudbroker/cloudbroker.conf; do
        [ -e "$ROOT/$f" ] || fail "make install left no /$f"
done

# The installed production config has no principal but root and a
# qemu:///system provider: keep it beside, and serve a test config with two
# dev principals (tokens as in tests/integration/test.conf) and the libvirt
# test driver (in-process, no libvirtd).
etc=$ROOT/etc/cloudbroker
mv "$etc/cloudbroker.conf" "$etc/cloudbroker.production.conf"
cat >"$etc/cloudbroker.conf" <<'CONF'
# test-systemd: the production layout with development principals.
database = "/var/lib/cloudbroker/cloudbroker.db";
rest = { listen = "127.0.0.1:8080"; };
bus = "system";
catalog_seed = "catalog";
calendar_dir = "calendar";
principals = (
  { name = "dev-operator"; roles = ["operator"]; uids = [0];
    token_sha256 = "c15de198d781469a78760f52482bac96c651dec77512c11657dcb336fa480ca0"; },
  { name = "dev-edu"; uids = [1001]; roles = ["department"];
    department = "edu"; department_name = "市教育局";
    token_sha256 = "84b7f488b88ebf069dd0c82868e1b9c87f29aeaf029db2da4a52bb763fbe9226"; }
);
providers = (
  { name = "test"; driver = "libvirt"; uri = "test:///default"; }
);
CONF
chmod 0640 "$etc/cloudbroker.conf"
# No checkpoint key: as on a fresh install, cloudbroker-checkpoint-key.service
# makes it before the daemon's first start (LoadCredential= needs the file).
rm -f "$etc/checkpoint-key.pem" "$etc/checkpoint-key.pub.pem"

# The checks, run at boot by a unit that powers the container off when done.
lib=$ROOT/usr/local/lib/cbtest
rm -rf "$lib"
mkdir -p "$lib"
install -m 0644 tests/integration/lib.sh "$lib/lib.sh"
install -m 0755 tests/integration/systemd/inside.sh "$lib/inside.sh"
cat >"$ROOT/etc/systemd/system/cbtest.service" <<'UNIT'
[Unit]
Description=cloudbroker test-systemd checks
After=dbus.service systemd-sysusers.service systemd-tmpfiles-setup.service systemd-journald.service
# Ordering only (pulls nothing in): the reference keeps cloudbrokerd.service
# loaded while it is inactive. PID 1 unloads an unreferenced inactive unit,
# and with it Result= and ExecMainStatus=, which the stop check reads.
After=cloudbrokerd.service
Requires=dbus.service
# [Unit] settings (systemd 252 ignores them under [Service]).
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
ExecStart=/usr/local/lib/cbtest/inside.sh
StandardOutput=file:/cbtest-out/results
StandardError=inherit
TimeoutStartSec=300

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
ln -sf ../cbtest.service "$ROOT/etc/systemd/system/multi-user.target.wants/cbtest.service"

# --- boot ----------------------------------------------------------------------
out=$CB_TMP/out
mkdir -p "$out"
start=$SECONDS
# A machine name of its own: two worktrees' roots share the folder name.
systemd-nspawn -q --register=no --keep-unit --private-network -M "cbtest-$$" -D "$ROOT" -b --console=pipe \
        --bind="$out:/cbtest-out" >"$CB_TMP/console.log" 2>&1 &
NSPAWN_PID=$!
CB_PIDS+=("$NSPAWN_PID")
echo "# systemd-nspawn PID $NSPAWN_PID booting $ROOT"

# The container powers itself off when the checks end; 330 s is the unit's
# own timeout plus boot and shutdown.
for _ in $(seq 1 660); do
        kill -0 "$NSPAWN_PID" 2>/dev/null || break
        sleep 0.5
done
if kill -0 "$NSPAWN_PID" 2>/dev/null; then
        fail "the container did not power off within 330 s"
        # SIGTERM asks nspawn for an orderly shutdown of the container; then force.
        kill -TERM "$NSPAWN_PID" 2>/dev/null || true
        for _ in $(seq 1 60); do
                kill -0 "$NSPAWN_PID" 2>/dev/null || break
                sleep 0.5
        done
        kill -KILL "$NSPAWN_PID" 2>/dev/null || true
fi
rc=0
wait "$NSPAWN_PID" || rc=$?
CB_PIDS=()
echo "# figure: boot, checks and poweroff took $((SECONDS - start)) s"

if [ -f "$out/results" ]; then
        cat "$out/results"
        CB_CHECKS=$((CB_CHECKS + $(grep -c -E '^(not )?ok - ' "$out/results" || true)))
        CB_FAILS=$((CB_FAILS + $(grep -c '^not ok - ' "$out/results" || true)))
        if grep -qx '# inside.sh: done' "$out/results"; then
                pass "the checks inside the container ran to their end"
        else
                fail "the checks inside the container stopped early"
        fi
else
        fail "the container wrote no results"
fi
assert_eq "$rc" 0 "the container powered off cleanly (systemd-nspawn exit 0)"
if [ "$CB_FAILS" -ne 0 ]; then
        echo "# --- container console (last 40 lines) ---"
        tail -n 40 "$CB_TMP/console.log" | sed 's/^/# /'
fi
cb_done
