# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the integration tests: a private D-Bus bus, the real
# daemon on a fresh database and a loopback port, curl and assertions.
# Every process started here is recorded and killed by PID on exit.
#
# Usage in a test:   . tests/integration/lib.sh; cb_setup "$@"; cb_start_bus; cb_start_daemon

set -euo pipefail

# The daemon's calendar is China Standard Time whatever the machine's zone
# (date_today_cst): the tests' `date` gives the same dates.
export TZ=CST-8 # POSIX form: UTC+8 with no tzdata needed

CB_BUILD=${CB_BUILD:-build}
CB_CONFIG=${CB_CONFIG:-tests/integration/test.conf}
CB_PIDS=()
# CB_DAEMON_WRAPPER: a command line the daemon runs under, e.g.
# "valgrind --leak-check=full ..." (make valgrind); split on spaces, so its
# words may not contain any. It runs in the daemon's PID (valgrind does), so
# signals reach the daemon. CB_SLOW (default 1): how many times longer the
# start-up and SIGTERM waits may take under such a wrapper.
CB_DAEMON_WRAPPER=${CB_DAEMON_WRAPPER:-}
CB_SLOW=${CB_SLOW:-1}
CB_FAILS=0
CB_CHECKS=0

cb_cleanup() {
        local pid
        for pid in "${CB_PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        for pid in "${CB_PIDS[@]}"; do
                for _ in $(seq 1 $((30 * CB_SLOW))); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$pid" 2>/dev/null || true
        done
        if [ -n "${CB_TMP:-}" ] && [ -d "$CB_TMP" ]; then
                if [ "$CB_FAILS" -ne 0 ] && [ -f "$CB_TMP/daemon.log" ]; then
                        echo "# --- daemon log ---"
                        sed 's/^/# /' "$CB_TMP/daemon.log" | tail -n 40
                fi
                rm -rf "$CB_TMP"
        fi
}

cb_setup() {
        CB_BUILD=${1:-$CB_BUILD}
        CB_BUILD=$(cd "$CB_BUILD" && pwd)
        CB_TMP=$(mktemp -d /tmp/cbtest.XXXXXX)
        # Other UIDs (as_uid) must reach the bus socket inside.
        chmod 755 "$CB_TMP"
        trap cb_cleanup EXIT
        trap 'exit 130' INT TERM
}

pass() {
        CB_CHECKS=$((CB_CHECKS + 1))
        echo "ok - $*"
}

fail() {
        CB_CHECKS=$((CB_CHECKS + 1))
        CB_FAILS=$((CB_FAILS + 1))
        echo "not ok - $*"
}

assert_eq() {
        if [ "$1" = "$2" ]; then pass "$3"; else fail "$3 (expected '$2', got '$1')"; fi
}

assert_contains() {
        case "$1" in
        *"$2"*) pass "$3" ;;
        *) fail "$3 (no '$2' in: $(printf %s "$1" | head -c 400))" ;;
        esac
}

assert_not_contains() {
        case "$1" in
        *"$2"*) fail "$3 (unexpected '$2' in: $(printf %s "$1" | head -c 400))" ;;
        *) pass "$3" ;;
        esac
}

# assert_jq JSON FILTER EXPECTED MSG   (jq -r output compared as a string)
assert_jq() {
        local got
        got=$(printf %s "$1" | jq -r "$2" 2>&1) || got="jq failed: $got"
        assert_eq "$got" "$3" "$4"
}

# Ends the test: exit status says whether every check passed.
cb_done() {
        echo "# $CB_CHECKS checks, $CB_FAILS failed"
        [ "$CB_FAILS" -eq 0 ]
}

# cb_old_store VERSION OUT [FROM]: a database at schema VERSION (a number or
# latest-N), as a cloudbrokerd of then left it, made by this build's own
# migrations (tests/tools/make-old-store), so that no test spells out what
# later migrations add. With FROM (a database of this build): the rows of
# every table OUT has, in the columns it has (rows the old schema's
# triggers make from copied ones are replaced by their copies).
cb_old_store() {
        local version=$1 out=$2 from=${3:-} script
        rm -f "$out" "$out-wal" "$out-shm"
        if ! "$CB_BUILD/tests/make-old-store" "$out" "$version"; then
                fail "(set-up) make-old-store $out $version"
                return 1
        fi
        [ -n "$from" ] || return 0
        script=$(sqlite3 "$out" "ATTACH '$from' AS src;
                SELECT 'INSERT OR REPLACE INTO main.\"' || m.name || '\" (' || c.cols || ') SELECT ' || c.cols
                       || ' FROM src.\"' || m.name || '\";'
                FROM main.sqlite_master m,
                     (SELECT t.name AS tname, (SELECT group_concat('\"' || o.name || '\"', ', ')
                         FROM pragma_table_info(t.name, 'main') o
                         WHERE o.name IN (SELECT n.name FROM pragma_table_info(t.name, 'src') n)) AS cols
                      FROM main.sqlite_master t WHERE t.type = 'table') c
                WHERE m.type = 'table' AND c.tname = m.name AND m.name NOT LIKE 'sqlite_%'
                      AND m.name IN (SELECT name FROM src.sqlite_master WHERE type = 'table')
                ORDER BY m.rootpage;")
        if ! sqlite3 -cmd ".timeout 5000" "$out" "ATTACH '$from' AS src; BEGIN; $script COMMIT;"; then
                fail "(set-up) copying the rows of $from into $out"
                return 1
        fi
}

cb_free_port() {
        local p
        for _ in $(seq 1 50); do
                p=$((20000 + RANDOM % 40000))
                if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
                        echo "$p"
                        return 0
                fi
        done
        return 1
}

cb_start_bus() {
        cat >"$CB_TMP/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$CB_TMP/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
XML
        # dbus-daemon drops a connection whose UID has no passwd entry, and the
        # test UIDs (1001-1006) need not exist: give the bus its own view of
        # passwd/group in a private mount namespace, leaving the host's alone.
        cp /etc/passwd "$CB_TMP/passwd"
        cp /etc/group "$CB_TMP/group"
        local u
        for u in 1001 1002 1003 1004 1005 1006; do
                getent passwd "$u" >/dev/null || echo "cbtest$u:x:$u:$u::/nonexistent:/usr/sbin/nologin" >>"$CB_TMP/passwd"
                getent group "$u" >/dev/null || echo "cbtest$u:x:$u:" >>"$CB_TMP/group"
        done
        unshare --mount --propagation private sh -c \
                'mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group &&
                 exec dbus-daemon --config-file="$1/bus.conf" --print-address=3 --print-pid=4 --fork' \
                sh "$CB_TMP" 3>"$CB_TMP/bus.addr" 4>"$CB_TMP/bus.pid"
        CB_BUS_PID=$(cat "$CB_TMP/bus.pid")
        CB_PIDS+=("$CB_BUS_PID")
        CB_BUS_ADDRESS=$(head -n1 "$CB_TMP/bus.addr")
        chmod 777 "$CB_TMP/bus.sock" 2>/dev/null || true
        export CB_BUS_ADDRESS
}

cb_wait_ready() {
        for _ in $(seq 1 $((100 * CB_SLOW))); do
                if ! kill -0 "$CB_PID" 2>/dev/null; then
                        echo "# daemon exited during start-up:"
                        sed 's/^/# /' "$CB_TMP/daemon.log"
                        return 1
                fi
                if curl -fsS -o /dev/null --max-time 1 "$CB_URL/v1/health" 2>/dev/null; then
                        if [ -z "${CB_BUS_ADDRESS:-}" ] ||
                                busctl --address="$CB_BUS_ADDRESS" status org.cloudbroker.Broker1 >/dev/null 2>&1; then
                                return 0
                        fi
                fi
                sleep 0.1
        done
        echo "# daemon not ready within $((10 * CB_SLOW)) s"
        return 1
}

# cb_start_daemon [extra cloudbrokerd args]: fresh database unless CB_DB is set.
cb_start_daemon() {
        CB_DB=${CB_DB:-$CB_TMP/cb.db}
        CB_PORT=${CB_PORT:-$(cb_free_port)}
        CB_URL="http://127.0.0.1:$CB_PORT"
        local busargs=(--bus none)
        [ -n "${CB_BUS_ADDRESS:-}" ] && busargs=(--bus-address "$CB_BUS_ADDRESS")
        local try lines
        # A port found free can be taken before the daemon binds it: then pick another.
        for try in 1 2 3 4 5; do
                lines=$({ wc -l <"$CB_TMP/daemon.log"; } 2>/dev/null || echo 0)
                # shellcheck disable=SC2086 # the wrapper is a command line
                $CB_DAEMON_WRAPPER "$CB_BUILD/cloudbrokerd" --config "$CB_CONFIG" --db "$CB_DB" \
                        --rest-listen "127.0.0.1:$CB_PORT" "${busargs[@]}" "$@" >>"$CB_TMP/daemon.log" 2>&1 &
                CB_PID=$!
                CB_PIDS+=("$CB_PID")
                export CB_PID CB_PORT CB_URL CB_DB
                if cb_wait_ready; then
                        return 0
                fi
                if [ "$try" -lt 5 ] && tail -n +"$((lines + 1))" "$CB_TMP/daemon.log" | grep -q "Address already in use"; then
                        CB_PORT=$(cb_free_port)
                        CB_URL="http://127.0.0.1:$CB_PORT"
                        continue
                fi
                return 1
        done
}

# Stops the daemon with SIGTERM; fails unless it exits 0 within 2 s (times CB_SLOW).
cb_stop_daemon() {
        local rc=0
        kill -TERM "$CB_PID"
        for _ in $(seq 1 $((20 * CB_SLOW))); do
                kill -0 "$CB_PID" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$CB_PID" 2>/dev/null; then
                fail "daemon did not stop within $((2 * CB_SLOW)) s of SIGTERM"
                kill -KILL "$CB_PID" 2>/dev/null || true
                return 0
        fi
        wait "$CB_PID" || rc=$?
        assert_eq "$rc" 0 "daemon exits 0 on SIGTERM"
}

cb_restart_daemon() {
        cb_stop_daemon
        cb_start_daemon "$@"
}

# cb_curl METHOD PATH TOKEN [BODY|@FILE] [extra curl args]: sets CB_STATUS, CB_BODY, CB_HEADERS.
# A body goes as Content-Type: application/json unless the extra args name
# another Content-Type. Processes that call it at the same time set
# CB_WORKER, each its own name.
cb_curl() {
        local method=$1 path=$2 token=$3 body=${4:-} a ctype=1
        local resp=$CB_TMP/resp${CB_WORKER:+.$CB_WORKER}
        shift 3
        [ $# -gt 0 ] && shift
        for a in "$@"; do
                case "$a" in [Cc]ontent-[Tt]ype:*) ctype= ;; esac
        done
        local args=(-sS -X "$method" --max-time 10 -o "$resp.body" -D "$resp.headers" -w '%{http_code}')
        [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
        if [ -n "$body" ]; then
                [ -n "$ctype" ] && args+=(-H 'Content-Type: application/json')
                case "$body" in
                @*) args+=(--data-binary "$body") ;;
                *) args+=(--data-binary "$body") ;;
                esac
        fi
        # curl leaves the old file in place when no body arrives (304).
        rm -f "$resp.body" "$resp.headers"
        CB_STATUS=$(curl "${args[@]}" "$@" "$CB_URL$path") || CB_STATUS=000
        CB_BODY=$(cat "$resp.body" 2>/dev/null || true)
        CB_HEADERS=$(cat "$resp.headers" 2>/dev/null || true)
}

# cb_post_at_once N NAME PATH TOKEN TEMPLATE: N POSTs of TEMPLATE (JSON, @I@ the
# request's number 1..N) to PATH, all in flight at once; the status of request I
# in $CB_TMP/NAME.I.code, its body in $CB_TMP/NAME.I. Each curl is bounded
# (10 s) and waited for by its PID.
cb_post_at_once() {
        local n=$1 name=$2 path=$3 token=$4 template=$5 i pids=()
        rm -f "$CB_TMP/$name".*
        for i in $(seq 1 "$n"); do
                curl -sS --max-time 10 -o "$CB_TMP/$name.$i" -w '%{http_code}' -H "Authorization: Bearer $token" \
                        -H 'Content-Type: application/json' --data-binary "${template//@I@/$i}" \
                        "$CB_URL$path" >"$CB_TMP/$name.$i.code" 2>/dev/null &
                pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || true; done
}

# cb_approve PROJECT APPROVAL_NO SYSTEM ITEMS: the authority's dev key signs
# an approval (revision 1) of department edu for PROJECT, valid from 1 January
# this year to the end of next year, with a generous budget, covering SYSTEM
# and ITEMS (a JSON array of {service_id, plan_id, quantity}); dev-edu
# submits it. Asserts 201. CB_APPROVE_DEPARTMENT=health: the department
# (and its dev-health principal submits). CB_APPROVE_BUDGET='{"construction_fen":
# N, "om_fen": M}': another budget.
cb_approve() {
        local year dept=${CB_APPROVE_DEPARTMENT:-edu}
        local budget=${CB_APPROVE_BUDGET:-'{"construction_fen": 1000000000, "om_fen": 100000000}'}
        year=$(date +%Y)
        cat >"$CB_TMP/approval.json" <<JSON
{
  "approval_no": "$2",
  "project_id": "$1",
  "project_name": "集成测试项目 $1",
  "department": "$dept",
  "revision": 1,
  "valid_from": "$year-01-01",
  "valid_until": "$((year + 1))-12-31",
  "budget": $budget,
  "systems": ["$3"],
  "items": $4,
  "requires_secure_controllable": false,
  "dedicated_network_consent": false
}
JSON
        "$CB_BUILD/cloudbrokerctl" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority \
                "$CB_TMP/approval.json" >"$CB_TMP/approval.envelope.json"
        cb_curl POST /v1/approvals "dev-$dept" "@$CB_TMP/approval.envelope.json"
        assert_eq "$CB_STATUS" 201 "set-up: the signed approval for $1 is accepted"
}

# cb_add_system ID [DEPARTMENT [LEVEL [CLASSIFIED [SHARING [NAME]]]]]: a system
# in the directory (Art. 10) through POST /v1/systems as the operator; by
# default edu's, protection level 2, not classified, sharing compliant.
# Asserts 201.
cb_add_system() {
        local body
        body=$(jq -nc --arg id "$1" --arg dept "${2:-edu}" --argjson level "${3:-2}" \
                --argjson classified "${4:-false}" --arg sharing "${5:-compliant}" --arg name "${6:-系统 $1}" \
                '{id: $id, name: $name, department: $dept, protection_level: $level,
                  classified: $classified, data_sharing: $sharing}')
        cb_curl POST /v1/systems dev-operator "$body"
        assert_eq "$CB_STATUS" 201 "set-up: system $1 is listed"
}

# cb_wait_state ID STATE [SECONDS]: polls GET /v1/resources/ID as the operator
# every 0.1 s, at most SECONDS (10, times CB_SLOW); sets GOT to the last
# state seen and CB_BODY to the last record.
cb_wait_state() {
        local n=$((${3:-10} * 10 * CB_SLOW))
        GOT=
        for _ in $(seq 1 "$n"); do
                cb_curl GET "/v1/resources/$1" dev-operator
                GOT=$(printf %s "$CB_BODY" | jq -r .state 2>/dev/null || true)
                [ "$GOT" = "$2" ] && return 0
                sleep 0.1
        done
        return 1
}

# cb_wait_provider NAME [SECONDS]: polls GET /v1/providers until NAME is
# connected, at most SECONDS (10, times CB_SLOW). The daemon answers before
# its providers have connected, which under valgrind takes seconds.
cb_wait_provider() {
        local n=$((${2:-10} * 10 * CB_SLOW)) got=
        for _ in $(seq 1 "$n"); do
                cb_curl GET /v1/providers dev-operator
                got=$(printf %s "$CB_BODY" | jq -r --arg n "$1" '.providers[]? | select(.name == $n) | .status' 2>/dev/null || true)
                [ "$got" = connected ] && return 0
                sleep 0.1
        done
        return 1
}

# as_uid UID CMD...: runs a command as another (unprivileged) user.
as_uid() {
        local uid=$1
        shift
        setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}

# D-Bus calls as a UID, on the test bus, to $DEST (default org.cloudbroker.Broker1).
# bcall UID PATH IFACE METHOD [SIGNATURE ARGS...]: busctl call as UID. Sets
# RC, OUT (the reply's data array as JSON) and ERR (busctl's message).
bcall() {
        local uid=$1 path=$2 iface=$3 method=$4
        shift 4
        RC=0
        as_uid "$uid" busctl --address="$CB_BUS_ADDRESS" --json=short call "${DEST:-org.cloudbroker.Broker1}" "$path" "$iface" "$method" "$@" \
                >"$CB_TMP/call.out" 2>"$CB_TMP/call.err" || RC=$?
        OUT=$(jq -c '.data' <"$CB_TMP/call.out" 2>/dev/null || true)
        ERR=$(cat "$CB_TMP/call.err")
}

# ok UID MSG PATH IFACE METHOD [SIGNATURE ARGS...]: the call succeeds.
ok() {
        local uid=$1 msg=$2
        shift 2
        bcall "$uid" "$@"
        if [ "$RC" -eq 0 ]; then pass "$msg"; else fail "$msg (busctl: $ERR)"; fi
}

# refused UID ERROR MSG PATH IFACE.METHOD [dbus-send ARGS...]: the call fails
# with ERROR (a short name means org.cloudbroker.Broker1.Error.NAME). busctl
# prints only an error's message, so the name is checked through dbus-send.
# ERR holds "NAME: MESSAGE".
refused() {
        local uid=$1 name=$2 msg=$3 path=$4 method=$5
        shift 5
        case "$name" in *.*) ;; *) name=org.cloudbroker.Broker1.Error.$name ;; esac
        RC=0
        ERR=$(as_uid "$uid" dbus-send --bus="$CB_BUS_ADDRESS" --print-reply --reply-timeout=10000 \
                --dest="${DEST:-org.cloudbroker.Broker1}" "$path" "$method" "$@" 2>&1) || RC=$?
        case "$RC:$ERR" in
        0:*) fail "$msg (the call succeeded)" ;;
        *"Error $name:"*) pass "$msg" ;;
        *) fail "$msg (expected $name, got: $ERR)" ;;
        esac
}

cb_busctl() {
        busctl --address="$CB_BUS_ADDRESS" "$@"
}

# interface_members IFACE < XML: one sorted line per method, signal and
# property with its signature, a property's ending in its
# org.freedesktop.DBus.Property.EmitsChangedSignal ("true" when not
# annotated, the D-Bus default); comments and argument names ignored.
interface_members() {
        awk -v IFACE="$1" '
        function flush() {
                if (kind == "method")
                        print "method " mname "(" ins ") -> (" outs ")"
                else if (kind == "signal")
                        print "signal " mname "(" outs ")"
                kind = ""
        }
        function pflush() {
                if (pname != "")
                        print "property " pname " " ptype " " paccess " " pemits
                pname = ""
        }
        { text = text $0 " " }
        END {
                while ((i = index(text, "<!--")) > 0) {
                        rest = substr(text, i + 4)
                        j = index(rest, "-->")
                        text = substr(text, 1, i - 1) (j ? substr(rest, j + 3) : "")
                }
                n = split(text, parts, "<")
                for (k = 2; k <= n; k++) {
                        tag = parts[k]
                        sub(/>.*/, "", tag)
                        if (tag ~ /^\//) {
                                elem = substr(tag, 2)
                                gsub(/[ \t]/, "", elem)
                                if (elem == "interface")
                                        inside = 0
                                else if (inside && (elem == "method" || elem == "signal"))
                                        flush()
                                else if (inside && elem == "property")
                                        pflush()
                                continue
                        }
                        if (tag ~ /^[!?]/)
                                continue
                        selfclose = tag ~ /\/[ \t]*$/
                        sub(/\/[ \t]*$/, "", tag)
                        elem = tag
                        sub(/[ \t].*/, "", elem)
                        split("", a)
                        rest = tag
                        while (match(rest, /[A-Za-z_:.-]+="[^"]*"/)) {
                                kv = substr(rest, RSTART, RLENGTH)
                                rest = substr(rest, RSTART + RLENGTH)
                                eq = index(kv, "=")
                                a[substr(kv, 1, eq - 1)] = substr(kv, eq + 2, length(kv) - eq - 2)
                        }
                        if (elem == "interface") {
                                inside = a["name"] == IFACE
                                continue
                        }
                        if (!inside)
                                continue
                        if (elem == "method" || elem == "signal") {
                                kind = elem; mname = a["name"]; ins = ""; outs = ""
                                if (selfclose)
                                        flush()
                        } else if (elem == "arg") {
                                if (kind == "signal" || a["direction"] == "out")
                                        outs = outs a["type"]
                                else
                                        ins = ins a["type"]
                        } else if (elem == "property") {
                                pname = a["name"]; ptype = a["type"]; paccess = a["access"]; pemits = "true"
                                if (selfclose)
                                        pflush()
                        } else if (elem == "annotation" && pname != "" &&
                                   a["name"] == "org.freedesktop.DBus.Property.EmitsChangedSignal")
                                pemits = a["value"]
                }
        }' | LC_ALL=C sort
}

# --- real libvirtd + QEMU -----------------------------------------------------------------

# cb_stop_pid PID: SIGTERM, up to 5 s, then SIGKILL. Only a PID the test started.
cb_stop_pid() {
        local pid=$1
        kill -TERM "$pid" 2>/dev/null || return 0
        for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
}

# cb_kvm_unusable: /dev/kvm is there, but QEMU (as libvirt-qemu) cannot open it.
cb_kvm_unusable() {
        [ -e /dev/kvm ] && id libvirt-qemu >/dev/null 2>&1 &&
                ! setpriv --reuid=libvirt-qemu --regid=libvirt-qemu --init-groups test -r /dev/kvm -a -w /dev/kvm
}

# cb_private_libvirtd NAME: installs the QEMU packages when missing
# (scripts/install-deps.sh --qemu) and starts a virtlogd and libvirtd of the
# test's own (a "host" called NAME), in a mount and network namespace of
# their own: /run, /var/lib/libvirt, /var/cache/libvirt and /etc/libvirt (a
# copy) are folders under $CB_TMP/libvirt-NAME there, and /dev/kvm an inert
# node (the provider runs TCG; see test-qemu.sh for why a half-usable
# /dev/kvm makes libvirt probe QEMU on every call). So it shares no socket,
# pid file, domain, pool or network with a system libvirtd another run
# uses, nor with another NAME. Sets CB_QEMU_URI (its socket) and appends its
# PID to CB_LIBVIRTD_PIDS (ended by cb_stop_private_libvirtd). Needs root.
# 0 when it answers within 90 s.
CB_LIBVIRTD_PIDS=()
CB_LIBVIRTD_URIS=()
cb_private_libvirtd() {
        scripts/install-deps.sh --qemu >/dev/null
        local ns=$CB_TMP/libvirt-$1 pid
        mkdir -p "$ns/run" "$ns/lib" "$ns/cache"
        cp -a /etc/libvirt "$ns/etc"
        mknod -m 0600 "$ns/kvm-inert" c 1 3
        CB_QEMU_URI="qemu+unix:///system?socket=$ns/run/libvirt/libvirt-sock"
        # shellcheck disable=SC2016 # expanded by the inner shell
        unshare --mount --net --propagation private sh -c '
                set -e
                mount --bind "$1/run" /run
                mount --bind "$1/lib" /var/lib/libvirt
                mount --bind "$1/cache" /var/cache/libvirt
                mount --bind "$1/etc" /etc/libvirt
                mount --bind "$1/kvm-inert" /dev/kvm 2>/dev/null || true
                /usr/sbin/virtlogd &
                exec /usr/sbin/libvirtd' sh "$ns" >>"$CB_TMP/libvirtd.log" 2>&1 &
        pid=$!
        CB_LIBVIRTD_PIDS+=("$pid")
        CB_LIBVIRTD_URIS+=("$CB_QEMU_URI")
        export CB_QEMU_URI
        for _ in $(seq 1 450); do
                virsh -c "$CB_QEMU_URI" -q version >/dev/null 2>&1 </dev/null && return 0
                kill -0 "$pid" 2>/dev/null || return 1
                sleep 0.2
        done
        return 1
}

# cb_stop_private_libvirtd: ends what cb_private_libvirtd started: each
# one's running domains first (QEMU processes are its children), then
# libvirtd, then the virtlogd of its namespace, by PID.
cb_stop_private_libvirtd() {
        local i name logd
        for i in "${!CB_LIBVIRTD_PIDS[@]}"; do
                for name in $(virsh -c "${CB_LIBVIRTD_URIS[$i]}" -q list --name 2>/dev/null </dev/null); do
                        virsh -c "${CB_LIBVIRTD_URIS[$i]}" -q destroy "$name" >/dev/null 2>&1 </dev/null || true
                done
                # virtlogd is a child of the shell that exec'd libvirtd: libvirtd's PID is its parent.
                logd=$(pgrep -P "${CB_LIBVIRTD_PIDS[$i]}" -x virtlogd || true)
                cb_stop_pid "${CB_LIBVIRTD_PIDS[$i]}"
                for name in $logd; do cb_stop_pid "$name"; done
        done
        CB_LIBVIRTD_PIDS=()
}

# cb_migration_conf ROOM_URI CLOUD_URI FAIL_AFTER RATE: a daemon config in
# $CB_TMP for moves between two libvirt hosts (providers room-a and cloud,
# TCG; the catalogue tests/integration/migration-qemu-catalog), with
# migration.max_copies_per_host 1, test_fail_after_bytes FAIL_AFTER and
# copy_rate_limit_bytes RATE. Made from qemu.conf with absolute paths (it
# lives outside the repository). Sets CB_CONFIG.
cb_migration_conf() {
        local here
        here=$(pwd)
        sed -e "s|^catalog_seed = .*|catalog_seed = \"$here/tests/integration/migration-qemu-catalog\";|" \
                -e "s|^calendar_dir = .*|calendar_dir = \"$here/etc/calendar\";|" \
                -e "s|\"\\.\\./\\.\\./etc/dev-keys/|\"$here/etc/dev-keys/|" \
                -e '/^providers = (/,/^);/d' tests/integration/qemu.conf >"$CB_TMP/cb.conf"
        cat >>"$CB_TMP/cb.conf" <<CONF
providers = (
  { name = "room-a"; driver = "libvirt"; uri = "$1"; domain_type = "qemu"; },
  { name = "cloud"; driver = "libvirt"; uri = "$2"; domain_type = "qemu"; }
);
migration = { max_copies_per_host = 1; test_fail_after_bytes = $3; copy_rate_limit_bytes = $4; };
CONF
        CB_CONFIG=$CB_TMP/cb.conf
}

# cb_start_osb_provider [switches...]: the test OSB provider
# (tests/osb-provider/osb-provider.c) on a free loopback port, offering the
# shipped catalogue's http plans (etc/catalog), basic auth cb / cb-osb-secret.
# Sets OSB_PID and OSB_URL; ended by PID on exit like the daemon.
cb_start_osb_provider() {
        local out=$CB_TMP/osb.out.$RANDOM port=
        "$CB_BUILD/tests/osb-provider" --catalog-dir etc/catalog --port 0 --username cb \
                --password cb-osb-secret "$@" >"$out" 2>>"$CB_TMP/osb.log" &
        OSB_PID=$!
        CB_PIDS+=("$OSB_PID")
        for _ in $(seq 1 $((50 * CB_SLOW))); do
                # || true: the file may not be there yet (the background job opens it).
                port=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out" 2>/dev/null || true)
                [ -n "$port" ] && break
                sleep 0.1
        done
        [ -n "$port" ] || { echo "# the test OSB provider did not start"; return 1; }
        OSB_URL="http://127.0.0.1:$port"
        export OSB_PID OSB_URL
}

# osb_control [JSON]: the test provider's switches and instances (GET
# /control, or POST /control JSON first); prints its answer.
osb_control() {
        if [ $# -gt 0 ]; then
                curl -sS --max-time 5 -X POST --data-binary "$1" "$OSB_URL/control"
        else
                curl -sS --max-time 5 "$OSB_URL/control"
        fi
}
