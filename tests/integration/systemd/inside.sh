#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The checks of tests/integration/test-systemd.sh that run INSIDE the booted
# container, as cbtest.service (root, started by systemd 252 at boot). Its
# output (TAP lines from lib.sh's pass/fail) goes to a file the host reads;
# the unit powers the container off when this script ends.
#
# Expects what test-systemd.sh put into the root: the project installed with
# `make install DESTDIR=ROOT`, the test config as
# /etc/cloudbroker/cloudbroker.conf (principal dev-operator = UID 0, dev-edu
# = UID 1001, a libvirt test:/// provider, REST on 127.0.0.1:8080 inside the
# container's own network namespace), no checkpoint key yet (the keygen unit
# makes it at the first start), and lib.sh beside this script. Every wait is
# bounded.

set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=tests/integration/lib.sh
. ./lib.sh

# For lib.sh's cb_curl (as_uid, pass, fail and the asserts need nothing).
CB_TMP=$(mktemp -d /tmp/cbtest.XXXXXX)
chmod 755 "$CB_TMP"
export CB_URL=http://127.0.0.1:8080
trap 'echo "# inside.sh: command failed at line $LINENO"' ERR

UNIT=cloudbrokerd.service
EDU=1001
STRANGER=65534
KEY=/etc/cloudbroker/checkpoint-key.pem

prop() { timeout 10 systemctl show -p "$1" --value "$UNIT"; }

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
        local n=$(($1 * 5))
        shift
        for _ in $(seq 1 "$n"); do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.2
        done
        return 1
}

is_active() { [ "$(prop ActiveState)" = active ]; }

# journal_since CURSOR: the unit's records (daemon and PID 1 about the unit)
# of this boot after CURSOR, message text only.
journal_since() {
        journalctl -b -u "$UNIT" -o cat --no-pager --after-cursor "$1" 2>/dev/null || true
}
cursor_now() { journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'; }

# wait_journal SECONDS CURSOR TEXT: journald reads the daemon's stderr
# stream asynchronously, so a line may arrive a moment after the event.
wait_journal() {
        local n=$(($1 * 5))
        for _ in $(seq 1 "$n"); do
                journal_since "$2" | grep -qF -- "$3" && return 0
                sleep 0.2
        done
        return 1
}

# bus_call UID METHOD: Catalog.METHOD as UID over the system bus; sets RC and
# OUT (the JSON string returned).
bus_call() {
        RC=0
        OUT=$(as_uid "$1" timeout 40 busctl --timeout=30 --json=short call org.cloudbroker.Broker1 \
                /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Catalog "$2" 2>"$CB_TMP/call.err" |
                jq -r '.data[0]') || RC=$?
}

# bus_refused UID ERROR METHOD MSG: busctl prints only an error's message,
# dbus-send its name too.
bus_refused() {
        local err rc=0
        err=$(as_uid "$1" timeout 40 dbus-send --system --print-reply --reply-timeout=30000 \
                --dest=org.cloudbroker.Broker1 /org/cloudbroker/Broker1 \
                "org.cloudbroker.Broker1.Catalog.$3" 2>&1) || rc=$?
        case "$rc:$err" in
        0:*) fail "$4 (the call succeeded)" ;;
        *"Error $2:"*) pass "$4" ;;
        *) fail "$4 (expected $2, got: $err)" ;;
        esac
}

echo "# systemd $(systemctl --version | head -n1 | cut -d' ' -f2) as PID 1: $(cat /proc/1/comm)"
start_cursor=$(cursor_now)

# --- the installed files, as a package's postinst would apply them ------------
# install.mk says to run these on the target system (the daemon's account and
# the config's ownership), then the bus must read its policy again: it names
# the cloudbroker account, which may not have existed when it started.
rc=0
systemd-sysusers /usr/lib/sysusers.d/cloudbroker.conf || rc=$?
systemd-tmpfiles --create /usr/lib/tmpfiles.d/cloudbroker.conf || rc=$?
assert_eq "$rc" 0 "systemd-sysusers and systemd-tmpfiles apply the installed sysusers.d and tmpfiles.d files"
SVC_UID=$(id -u cloudbroker 2>/dev/null || echo none)
assert_contains " $(id -nG cloudbroker 2>/dev/null) " " libvirt " "the cloudbroker account exists and is in group libvirt"
assert_eq "$(stat -c '%a %U:%G' /etc/cloudbroker/cloudbroker.conf)" "640 root:cloudbroker" \
        "the config is 0640 root:cloudbroker (tmpfiles.d)"
timeout 30 systemctl reload dbus.service
timeout 30 systemctl daemon-reload
getent passwd "$EDU" >/dev/null || useradd --uid "$EDU" --no-create-home --shell /usr/sbin/nologin cbedu
missing=$(ldd /usr/libexec/cloudbroker/cloudbrokerd | grep -c 'not found' || true)
assert_eq "$missing" 0 "every library of the installed daemon is present (ldd)"

# Markers outside the service's view: ProtectHome= and PrivateTmp= must hide them.
touch /root/.cbtest-marker /tmp/cbtest-marker

# --- start: READY=1 -------------------------------------------------------------
t0=$(date +%s%N)
rc=0
timeout 60 systemctl start "$UNIT" || rc=$?
t1=$(date +%s%N)
assert_eq "$rc" 0 "systemctl start cloudbrokerd completes (Type=notify: the job waits for READY=1)"
assert_eq "$(prop ActiveState)/$(prop SubState)" active/running "cloudbrokerd is active (running)"
assert_eq "$(prop StatusText)" "Serving the catalogue" "the daemon's sd_notify STATUS= reached PID 1 with READY=1"
echo "# figure: systemctl start to active (READY=1): $(((t1 - t0) / 1000000)) ms"
PID=$(prop MainPID)
assert_eq "$(cat "/proc/$PID/comm" 2>/dev/null)" cloudbrokerd "MainPID $PID is cloudbrokerd"

# --- the sandbox while it serves --------------------------------------------------
status=/proc/$PID/status
assert_eq "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$status")" "$SVC_UID $SVC_UID $SVC_UID $SVC_UID" \
        "the process runs as user cloudbroker (real, effective, saved, fs UID)"
assert_eq "$(awk '/^Gid:/ {print $2}' "$status")" "$(getent group cloudbroker | cut -d: -f3)" "its group is cloudbroker"
assert_contains " $(awk '/^Groups:/ {$1 = ""; print}' "$status") " " $(getent group libvirt | cut -d: -f3) " \
        "its supplementary groups hold libvirt"
for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
        assert_eq "$(awk -v c="$cap:" '$1 == c {print $2}' "$status")" 0000000000000000 "$cap is empty (no capabilities)"
done
assert_eq "$(awk '/^NoNewPrivs:/ {print $2}' "$status")" 1 "NoNewPrivs is set"
assert_eq "$(awk '/^Seccomp:/ {print $2}' "$status")" 2 "a seccomp filter is installed (SystemCallFilter=)"

# In the service's mount namespace (nsenter -m), as its user where it matters.
in_ns() { nsenter -t "$PID" -m -- "$@"; }
in_ns_as_svc() { nsenter -t "$PID" -m -- setpriv --reuid="$SVC_UID" --regid="$SVC_UID" --clear-groups -- "$@"; }
opts=$(findmnt -N "$PID" -n -o OPTIONS --target /usr 2>/dev/null || echo none)
assert_contains ",$opts," ",ro," "/usr is mounted read-only in the service's namespace ($opts)"
opts=$(findmnt -N "$PID" -n -o OPTIONS --target /etc/cloudbroker 2>/dev/null || echo none)
assert_contains ",$opts," ",ro," "/etc/cloudbroker is mounted read-only in the service's namespace"
opts=$(findmnt -N "$PID" -n -o OPTIONS --target /var/lib/cloudbroker 2>/dev/null || echo none)
assert_contains ",$opts," ",rw," "/var/lib/cloudbroker is mounted read-write in the service's namespace"
if in_ns touch /usr/.cbtest-probe 2>"$CB_TMP/probe.err"; then
        in_ns rm -f /usr/.cbtest-probe
        fail "even root could write /usr in the service's namespace"
else
        assert_contains "$(cat "$CB_TMP/probe.err")" "Read-only file system" "writing /usr there fails: read-only file system"
fi
if in_ns_as_svc touch /var/lib/cloudbroker/.cbtest-probe; then
        pass "the service user writes /var/lib/cloudbroker there"
        rm -f /var/lib/cloudbroker/.cbtest-probe
else
        fail "the service user cannot write /var/lib/cloudbroker in its namespace"
fi
assert_eq "$(stat -c '%a %U' /var/lib/cloudbroker)" "750 cloudbroker" "StateDirectory= is 0750, owned by cloudbroker"
assert_eq "$(stat -c '%U' /var/lib/cloudbroker/cloudbroker.db 2>/dev/null)" cloudbroker \
        "the database was created there by the daemon"
if in_ns test -e /root/.cbtest-marker; then fail "/root is visible to the service"; else pass "/root is hidden from the service (ProtectHome=)"; fi
if in_ns test -e /tmp/cbtest-marker; then fail "the host's /tmp is visible to the service"; else pass "the service has its own /tmp (PrivateTmp=)"; fi
if in_ns_as_svc test -e /proc/1; then fail "the service user sees PID 1 in /proc"; else pass "other users' processes are invisible in the service's /proc (ProtectProc=)"; fi

security=$(timeout 60 systemd-analyze security --no-pager "$UNIT" 2>&1 || true)
exposure=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "# figure: systemd-analyze security $UNIT (live unit): exposure ${exposure:-none} ($(printf '%s\n' "$security" | tail -n1 | sed 's/.*: [0-9.]* //'))"
assert_eq "$(awk -v e="${exposure:-99}" 'BEGIN {print (e <= 2.0) ? "yes" : "no"}')" yes \
        "the live unit's exposure ($exposure) is at most 2.0"

# --- the checkpoint key, made by cloudbroker-checkpoint-key.service ------------------
assert_eq "$(stat -c '%U %a' "$KEY" 2>/dev/null || echo none)" "root 600" \
        "the first start made the checkpoint key, 0600 root ($KEY)"
assert_eq "$(stat -c '%a' "${KEY%.pem}.pub.pem" 2>/dev/null || echo none)" 644 \
        "and its public half beside it for the auditors, 0644"
assert_eq "$(timeout 10 systemctl show -p Result --value cloudbroker-checkpoint-key.service)" success \
        "cloudbroker-checkpoint-key.service ran and succeeded"
keysum=$(sha256sum "$KEY" | cut -d' ' -f1)

# --- credentials (LoadCredential=checkpoint-key:...) -------------------------------
credir=/run/credentials/$UNIT
assert_eq "$(tr '\0' '\n' <"/proc/$PID/environ" | sed -n 's/^CREDENTIALS_DIRECTORY=//p')" "$credir" \
        "the daemon's environment names CREDENTIALS_DIRECTORY=$credir"
if cmp -s "$KEY" "$credir/checkpoint-key"; then
        pass "the checkpoint key arrives as \$CREDENTIALS_DIRECTORY/checkpoint-key, unchanged"
else
        fail "no copy of $KEY at $credir/checkpoint-key"
fi
cred_mode=$(stat -c '%U %a' "$credir/checkpoint-key" 2>/dev/null || echo none)
case "$cred_mode" in
"cloudbroker "[1-7]00) pass "the credential is owned by cloudbroker, no access for group or others ($cred_mode)" ;;
*) fail "the credential should be cloudbroker's alone, is '$cred_mode'" ;;
esac
if in_ns_as_svc cat "$credir/checkpoint-key" >/dev/null; then
        pass "the service user reads the credential"
else
        fail "the service user cannot read its credential"
fi
if as_uid "$EDU" cat "$credir/checkpoint-key" >/dev/null 2>&1; then fail "a department user reads the checkpoint key"; else pass "a department user cannot read the credential"; fi
if in_ns_as_svc cat "$KEY" >/dev/null 2>&1; then fail "the service user reads $KEY directly (should be 0600 root)"; else pass "the key file itself stays unreadable to the service user: only the credential reaches it"; fi

# --- the journal ---------------------------------------------------------------
if wait_journal 5 "$start_cursor" "cloudbrokerd $(/usr/libexec/cloudbroker/cloudbrokerd --version | awk '{print $NF}') ready"; then
        pass "the journal has the daemon's ready line (journalctl -u cloudbrokerd)"
else
        fail "no 'ready' line in journalctl -u cloudbrokerd: $(journal_since "$start_cursor" | tail -n 5)"
fi
# The daemon logs this once it reads its signing key (issue 8, the signed
# audit trail); a branch without that change fails this one check.
if wait_journal 5 "$start_cursor" "audit checkpoint key: credential"; then
        pass "the daemon logged that it took its checkpoint key from the credential"
else
        fail "no 'audit checkpoint key: credential' line in the journal"
fi

# --- D-Bus on the container's system bus ----------------------------------------
owner=$(timeout 20 busctl --json=short call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetConnectionUnixUser s org.cloudbroker.Broker1 2>&1 | jq -r '.data[0]' 2>/dev/null || echo none)
assert_eq "$owner" "$SVC_UID" "org.cloudbroker.Broker1 is owned by the cloudbroker account (policy: own)"
bus_call 0 ListServices
assert_eq "$RC" 0 "root calls Catalog.ListServices"
assert_jq "${OUT:-null}" '[.[] | select(.id == "ecs-general") | .status] | join(",")' published \
        "root's answer lists the published ecs-general"
bus_call "$EDU" ListServices
assert_eq "$RC" 0 "the department user (UID $EDU, dev-edu) calls Catalog.ListServices"
assert_jq "${OUT:-null}" '[.[] | select(.id == "ecs-general") | .status] | join(",")' published \
        "the department's answer lists the published ecs-general"
bus_call 0 ListAllServices
assert_eq "$RC" 0 "root (an operator) calls Catalog.ListAllServices"
bus_refused "$EDU" org.cloudbroker.Broker1.Error.AccessDenied ListAllServices \
        "Catalog.ListAllServices is AccessDenied for the department user"
bus_refused "$STRANGER" org.cloudbroker.Broker1.Error.AccessDenied ListServices \
        "a UID that is no principal (nobody) is AccessDenied"
rc=0
err=$(as_uid "$EDU" timeout 40 dbus-send --system --print-reply --reply-timeout=30000 --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.RequestName string:org.cloudbroker.Broker1 uint32:4 2>&1) || rc=$?
case "$rc:$err" in
0:*) fail "the department user could ask for the daemon's bus name: $err" ;;
*"Error org.freedesktop.DBus.Error.AccessDenied:"*) pass "the bus refuses the department user the name org.cloudbroker.Broker1 (policy: deny own)" ;;
*) fail "RequestName as the department user: expected AccessDenied, got: $err" ;;
esac
out=$(timeout 30 cloudbrokerctl catalog list 2>&1 || true)
assert_contains "$out" ecs-general "cloudbrokerctl catalog list (root, system bus) lists ecs-general"

# --- REST inside the container's network namespace ----------------------------------
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "REST GET /v1/health answers 200 on 127.0.0.1:8080"
cb_curl GET /v1/catalog dev-edu
assert_eq "$CB_STATUS" 200 "REST GET /v1/catalog as dev-edu answers 200"

# --- SIGTERM stop: STOPPING=1, exit 0 -------------------------------------------
# PID 1 logs each notification it accepts at debug level only.
cursor=$(cursor_now)
systemd-analyze log-level debug
rc=0
timeout 40 systemctl stop "$UNIT" || rc=$?
systemd-analyze log-level info
assert_eq "$rc" 0 "systemctl stop cloudbrokerd completes"
assert_eq "$(prop ActiveState)" inactive "the unit is inactive after the stop"
# Still loaded while inactive thanks to cbtest.service's After= (see there),
# so these are this run's values; ExecMainPID says so.
assert_eq "$(prop ExecMainPID)" "$PID" "systemctl show reports on the daemon just stopped (ExecMainPID=$PID)"
assert_eq "$(prop Result)" success "Result=success"
assert_eq "$(prop ExecMainCode)" 1 "ExecMainCode=1 (CLD_EXITED): the daemon exited by itself, was not killed"
assert_eq "$(prop ExecMainStatus)" 0 "ExecMainStatus=0: it exited 0 on SIGTERM"
wait_journal 5 "$cursor" stopped || true
stop_log=$(journal_since "$cursor")
assert_contains "$stop_log" "Main process exited, code=exited, status=0/SUCCESS" "PID 1 logged the exit: code=exited, status=0"
assert_contains "$stop_log" "received Terminated, stopping" "the journal has the daemon's stopping message"
if printf '%s\n' "$stop_log" | grep -q "Got notification message from PID $PID (STOPPING=1)"; then
        pass "PID 1 got STOPPING=1 from the daemon's main PID"
else
        fail "PID 1 logged no STOPPING=1 notification from PID $PID: $(printf '%s\n' "$stop_log" | grep -i notif | tail -n 3)"
fi
assert_contains "$stop_log" "stopped" "the journal has the daemon's last line (stopped)"

# --- bus activation: a call while stopped starts it ------------------------------
cursor=$(cursor_now)
t0=$(date +%s%N)
bus_call "$EDU" ListServices
t1=$(date +%s%N)
assert_eq "$RC" 0 "while the service is stopped, the department user's ListServices is answered"
assert_jq "${OUT:-null}" '[.[] | select(.id == "ecs-general")] | length' 1 "the activated daemon answers with the catalogue"
if wait_for 10 is_active; then pass "the call activated cloudbrokerd.service"; else fail "cloudbrokerd is $(prop ActiveState) after the call"; fi
if journalctl -b -o cat --no-pager --after-cursor "$cursor" | grep -q "Activating via systemd: service name='org.cloudbroker.Broker1' unit='$UNIT'"; then
        pass "dbus-daemon activated it through systemd (SystemdService=$UNIT)"
else
        fail "dbus-daemon logged no activation of org.cloudbroker.Broker1 through $UNIT"
fi
echo "# figure: a D-Bus call on a stopped service answered in $(((t1 - t0) / 1000000)) ms (activation included)"

# --- WatchdogSec: a stopped (SIGSTOP) daemon is killed and restarted ----------------
# The unit says WatchdogSec=30s; a runtime drop-in makes it 3 s so the test is quick.
mkdir -p "/run/systemd/system/$UNIT.d"
printf '[Service]\nWatchdogSec=3s\n' >"/run/systemd/system/$UNIT.d/cbtest-watchdog.conf"
timeout 30 systemctl daemon-reload
# Manual starts count toward the start rate limit as restarts do.
timeout 30 systemctl reset-failed "$UNIT"
timeout 60 systemctl restart "$UNIT" || true
assert_eq "$(prop WatchdogUSec)" 3s "the drop-in sets WatchdogSec=3s"
old=$(prop MainPID)
restarts=$(prop NRestarts)
cursor=$(cursor_now)
t0=$(date +%s%N)
kill -STOP "$old"
restarted() { local p; p=$(prop MainPID); [ "$p" != 0 ] && [ "$p" != "$old" ] && is_active; }
if wait_for 40 restarted; then
        t1=$(date +%s%N)
        pass "after SIGSTOP the watchdog fired and a new daemon (PID $(prop MainPID)) is active"
        echo "# figure: SIGSTOP to a new active daemon: $(((t1 - t0) / 1000000)) ms (WatchdogSec=3s, RestartSec=2s)"
else
        fail "no restart within 40 s of SIGSTOP (state $(prop ActiveState), MainPID $(prop MainPID))"
        kill -CONT "$old" 2>/dev/null || true
fi
assert_eq "$(prop NRestarts)" "$((restarts + 1))" "NRestarts went up by one"
assert_eq "$(sha256sum "$KEY" | cut -d' ' -f1)" "$keysum" "later starts keep the checkpoint key (made once, never replaced)"
assert_contains "$(journal_since "$cursor")" "Watchdog timeout" "PID 1 logged the watchdog timeout"
if kill -0 "$old" 2>/dev/null; then fail "the stopped daemon $old is still there"; else pass "the stopped daemon is gone"; fi

rm -rf "/run/systemd/system/$UNIT.d"
timeout 30 systemctl daemon-reload
timeout 40 systemctl stop "$UNIT" || true
rm -f /root/.cbtest-marker /tmp/cbtest-marker
rm -rf "$CB_TMP"
echo "# inside.sh: done"
cb_done
