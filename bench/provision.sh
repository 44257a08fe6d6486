#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Provisioning: COUNT (2,000) VMs requested through cloudbrokerd's REST API on
# libvirt's test driver, timed from each POST to the GET that first shows the
# resource "active", side by side with the floor: the same number of
# virDomainDefineXML + virDomainCreate calls made straight through the
# libvirt API in one process, one thread, on the same kind of node file
# (bench/provision-floor.c). Also the daemon's RSS before and after, per
# managed resource.
#
# Usage: bench/provision.sh [BUILD_DIR]        (from anywhere; default build)
# Environment: COUNT (2000), CONCURRENCY (64 POSTs in flight), POLL_MS (10),
#              TIME_LIMIT (300 s for a broker round), ROUNDS (1; the median
#              of ROUNDS broker rounds, each on a fresh daemon and database,
#              and of ROUNDS+1 floor rounds around them), PORT (first port
#              tried, 18090), CHECKPOINT_EVERY (1000: audit checkpoints as the
#              shipped config signs them). Results are also written to BUILD_DIR/bench/provision.result,
#              and the median broker round's per-request timeline ("index sent
#              acked active", seconds from the first POST) to
#              BUILD_DIR/bench/provision.timeline.
#
# The daemon and the programs it measures are copied into a temporary folder
# first, so a rebuild of BUILD_DIR during the run cannot change what is
# measured. Everything listens on 127.0.0.1. Every wait is bounded; the daemon
# is killed by PID on exit.

set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
COUNT=${COUNT:-2000}
CONCURRENCY=${CONCURRENCY:-64}
POLL_MS=${POLL_MS:-10}
TIME_LIMIT=${TIME_LIMIT:-300}
ROUNDS=${ROUNDS:-1}
# The test config signs an audit checkpoint every 5 records, so that the
# tests see several; the daemon's default and the shipped config sign every
# 1,000, which is what is measured (CHECKPOINT_EVERY=5: the test value).
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-1000}
PROJECT=bench-provision
SYSTEM=bench-sys
SERVICE=ecs-general
PLAN=ecs-general-1c2g
TOKEN=dev-edu # public dev token of tests/integration/test.conf

for tool in gcc curl sqlite3 pkg-config sha256sum; do
        command -v "$tool" >/dev/null || { echo "provision.sh: $tool is not installed" >&2; exit 1; }
done
for b in cloudbrokerd cloudbrokerctl; do
        [ -x "$BUILD/$b" ] || { echo "provision.sh: $BUILD/$b missing (make first)" >&2; exit 1; }
done
case "$COUNT" in '' | *[!0-9]*) echo "provision.sh: COUNT must be a number" >&2; exit 1 ;; esac
if [ "$COUNT" -lt 1 ] || [ "$COUNT" -gt 100000 ]; then
        echo "provision.sh: COUNT must be 1..100000" >&2
        exit 1
fi
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "provision.sh: ROUNDS must be >= 1" >&2; exit 1 ;; esac
case "$CHECKPOINT_EVERY" in '' | *[!0-9]* | 0) echo "provision.sh: CHECKPOINT_EVERY must be >= 1" >&2; exit 1 ;; esac

mkdir -p "$BUILD/bench"
CFLAGS=(-std=gnu11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE)
NOTIFY_WAIT="$BUILD/bench/notify-wait"
FLOOR="$BUILD/bench/provision-floor"
LOAD="$BUILD/bench/provision-load"
if [ ! -x "$NOTIFY_WAIT" ] || [ bench/notify-wait.c -nt "$NOTIFY_WAIT" ]; then
        gcc "${CFLAGS[@]}" bench/notify-wait.c -o "$NOTIFY_WAIT"
fi
if [ ! -x "$FLOOR" ] || [ bench/provision-floor.c -nt "$FLOOR" ]; then
        # shellcheck disable=SC2046 # pkg-config prints several words
        gcc "${CFLAGS[@]}" bench/provision-floor.c -o "$FLOOR" $(pkg-config --cflags --libs libvirt)
fi
if [ ! -x "$LOAD" ] || [ bench/provision-load.c -nt "$LOAD" ]; then
        # shellcheck disable=SC2046
        gcc "${CFLAGS[@]}" bench/provision-load.c -o "$LOAD" $(pkg-config --cflags --libs libcurl jansson)
fi

tmp=$(mktemp -d /tmp/bench-provision.XXXXXX)
daemon_pid=

gone() { # true once PID has exited (a zombie counts: it is not ours to reap)
        [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
stop_pid() {
        local pid=$1
        [ -n "$pid" ] || return 0
        kill -TERM "$pid" 2>/dev/null || return 0
        for _ in $(seq 100); do
                gone "$pid" && return 0
                sleep 0.1
        done
        echo "provision.sh: pid $pid ignored SIGTERM for 10 s, killing" >&2
        kill -KILL "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317 # called through trap
cleanup() {
        stop_pid "$daemon_pid"
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
        ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
pick_port() {
        local p=$1
        for _ in $(seq 50); do
                if port_free "$p"; then
                        echo "$p"
                        return 0
                fi
                p=$((p + 2))
        done
        echo "provision.sh: no free port from $1" >&2
        return 1
}
PORT=$(pick_port "${PORT:-18090}")
URL="http://127.0.0.1:$PORT"

rss_kib() { # VmRSS or VmHWM of a PID, in KiB
        awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}
cpu_ticks() { # user+system CPU of a PID (all its threads), in clock ticks
        # Field 2 (comm) may hold spaces: count from the closing parenthesis.
        sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
kv() { # kv KEY LINE: the value of KEY=value in a line of key=value pairs
        tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"
}

# --- the binaries measured, frozen for this run ---------------------------------
cp "$BUILD/cloudbrokerd" "$BUILD/cloudbrokerctl" "$tmp/"
daemon_sum=$(sha256sum "$tmp/cloudbrokerd" | cut -c1-12)
daemon_date=$(date -u -r "$BUILD/cloudbrokerd" +%FT%TZ)

# --- a host big enough for COUNT VMs of 1 vCPU / 2 GiB ------------------------
# 4096 CPUs, 16 TiB, a "default" dir pool of 1 PiB (volumes are sparse, 40 GiB
# each) and a "default" NAT network, as in etc/test-node.xml.
cat >"$tmp/node.xml" <<'EOF'
<?xml version="1.0"?>
<node>
  <cpu>
    <mhz>2400</mhz>
    <model>x86_64</model>
    <nodes>1</nodes>
    <sockets>16</sockets>
    <cores>128</cores>
    <threads>2</threads>
    <active>4096</active>
  </cpu>
  <memory>17179869184</memory>
  <network>
    <name>default</name>
    <uuid>2d8e5f0a-6c1b-4e3f-8a9d-0b7c6e5d4f31</uuid>
    <forward mode="nat"/>
    <bridge name="virbr0"/>
    <ip address="192.168.122.1" netmask="255.255.255.0">
      <dhcp><range start="192.168.122.2" end="192.168.122.254"/></dhcp>
    </ip>
  </network>
  <pool type="dir">
    <name>default</name>
    <uuid>5a9b7c3d-1e2f-4a6b-8c0d-9e8f7a6b5c41</uuid>
    <capacity unit="TiB">1024</capacity>
    <allocation unit="GiB">0</allocation>
    <available unit="TiB">1024</available>
    <source/>
    <target><path>/var/lib/libvirt/images</path></target>
  </pool>
</node>
EOF
# The test config with absolute paths, its provider on that node. The daemon
# reads test:///X without a leading slash in X as a file beside the config.
# The load comes from one address with up to 2 x CONCURRENCY connections:
# the per-address limit (64 by default) is raised for it.
sed -e "s|\"\\.\\./\\.\\./|\"$ROOT/|g" \
        -e 's|uri = "test:///\.\./\.\./etc/test-node\.xml"|uri = "test:///node.xml"|' \
        -e 's|max_body_bytes = 1048576;|max_body_bytes = 1048576; max_connections = 4096; max_connections_per_ip = 2048;|' \
        -e "s|checkpoint_every = 5;|checkpoint_every = $CHECKPOINT_EVERY;|" \
        tests/integration/test.conf >"$tmp/cb.conf"
grep -q 'uri = "test:///node.xml"' "$tmp/cb.conf" ||
        { echo "provision.sh: cannot point the test config's provider at the bench node" >&2; exit 1; }
grep -q "checkpoint_every = $CHECKPOINT_EVERY;" "$tmp/cb.conf" ||
        { echo "provision.sh: cannot set checkpoint_every in the test config" >&2; exit 1; }

# --- one broker round: a fresh daemon and database, COUNT requests ------------------
# broker_round DIR N: appends one line of key=value to $tmp/broker.rows:
# provision-load's output plus the daemon's RSS and CPU around the load; the
# per-request timeline goes to $tmp/N.timeline.
broker_round() {
        local dir=$1 code connected='' out ok=1 now rss_before cpu_before
        mkdir -p "$dir"
        if ! "$NOTIFY_WAIT" "$dir/ready" -- "$tmp/cloudbrokerd" --config "$tmp/cb.conf" --db "$dir/cb.db" \
                --rest-listen "127.0.0.1:$PORT" --bus none >>"$dir/daemon.log" 2>&1; then
                tail -20 "$dir/daemon.log" >&2
                echo "provision.sh: cloudbrokerd did not become ready" >&2
                exit 1
        fi
        daemon_pid=$(sed -n 's/^pid=//p' "$dir/ready")

        for _ in $(seq 100); do
                if curl -sS --max-time 2 -H "Authorization: Bearer dev-operator" "$URL/v1/providers" 2>/dev/null |
                        grep -q '"status":"connected"'; then
                        connected=1
                        break
                fi
                sleep 0.1
        done
        [ -n "$connected" ] || {
                curl -sS --max-time 2 -H "Authorization: Bearer dev-operator" "$URL/v1/providers" >&2 || true
                echo "provision.sh: provider dev-test not connected within 10 s" >&2
                exit 1
        }

        # A system in the directory (there is no REST route for it) and the signed approval.
        now=$(date -u +%FT%TZ)
        sqlite3 "$dir/cb.db" "PRAGMA busy_timeout = 5000;
INSERT INTO systems (id, name, department, protection_level, classified, data_sharing, created_at, updated_at)
VALUES ('$SYSTEM', 'provision benchmark', 'edu', 2, 0, 'compliant', '$now', '$now');" >/dev/null
        code=$(curl -sS --max-time 10 -o "$dir/approval.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
                -H 'Content-Type: application/json' --data-binary "@$tmp/approval.envelope.json" \
                "$URL/v1/approvals") || code=000
        [ "$code" = 201 ] || {
                echo "provision.sh: POST /v1/approvals answered $code" >&2
                cat "$dir/approval.out" >&2
                exit 1
        }

        sleep 0.5 # let start-up and set-up allocations settle before calling it "before"
        rss_before=$(rss_kib "$daemon_pid" VmRSS)
        cpu_before=$(cpu_ticks "$daemon_pid")
        echo "provision.sh: broker round: $COUNT requests, $CONCURRENCY in flight" >&2
        timeout $((TIME_LIMIT + 60)) "$LOAD" --url "$URL" --token "$TOKEN" --project "$PROJECT" \
                --system "$SYSTEM" --service "$SERVICE" --plan "$PLAN" --count "$COUNT" \
                --concurrency "$CONCURRENCY" --poll-ms "$POLL_MS" --time-limit "$TIME_LIMIT" --prefix bench \
                --dump "$tmp/$2.timeline" >"$dir/load.out" 2>"$dir/load.err" || ok=0
        cat "$dir/load.err" >&2
        if gone "$daemon_pid"; then
                tail -20 "$dir/daemon.log" >&2
                echo "provision.sh: cloudbrokerd died under load" >&2
                exit 1
        fi
        [ "$ok" = 1 ] || { echo "provision.sh: broker round incomplete: $(cat "$dir/load.out")" >&2; exit 1; }
        out="$(cat "$dir/load.out") round=$2 rss_before_kib=$rss_before rss_after_kib=$(rss_kib "$daemon_pid" VmRSS)"
        out="$out rss_peak_kib=$(rss_kib "$daemon_pid" VmHWM) cpu_ticks=$(($(cpu_ticks "$daemon_pid") - cpu_before))"
        out="$out journal_mode=$(sqlite3 "$dir/cb.db" "PRAGMA busy_timeout = 5000; PRAGMA journal_mode;" | tail -1)"
        stop_pid "$daemon_pid"
        daemon_pid=
        rm -rf "$dir"
        echo "$out" >>"$tmp/broker.rows"
}

floor_round() {
        local out
        out=$(timeout 120 "$FLOOR" "$COUNT" "test://$tmp/node.xml") ||
                { echo "provision.sh: the floor failed" >&2; exit 1; }
        echo "$out" >>"$tmp/floor.rows"
}

# median_row FILE: the line with the median per_sec (the lower middle one of an even count).
median_row() {
        awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^per_sec=/) { split($i, a, "="); print a[2], $0 } }' "$1" |
                sort -n | sed -n "$((($(wc -l <"$1") + 1) / 2))p" | cut -d' ' -f2-
}
range_of() { # range_of FILE: "lowest .. highest" per_sec
        awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^per_sec=/) { split($i, a, "="); print a[2] } }' "$1" |
                sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo " .. " hi }'
}

# --- the rounds: floor, then (broker, floor) ROUNDS times ------------------------------
# Every broker round sits between two floor rounds, so load from elsewhere on
# the machine is more likely to hit both sides alike.
cat >"$tmp/approval.json" <<EOF
{
  "approval_no": "BENCH-PROVISION-1",
  "project_id": "$PROJECT",
  "project_name": "provision benchmark",
  "department": "edu",
  "revision": 1,
  "valid_from": "2026-01-01",
  "valid_until": "2027-12-31",
  "budget": {"construction_fen": 1000000000000000, "om_fen": 1000000000000000},
  "systems": ["$SYSTEM"],
  "items": [{"service_id": "$SERVICE", "plan_id": "$PLAN", "quantity": $COUNT}],
  "requires_secure_controllable": false,
  "dedicated_network_consent": false
}
EOF
"$tmp/cloudbrokerctl" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority \
        "$tmp/approval.json" >"$tmp/approval.envelope.json"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
floor_round
for round in $(seq "$ROUNDS"); do
        broker_round "$tmp/round-$round" "$round"
        floor_round
done
volume_row=$(timeout 120 "$FLOOR" --with-volume "$COUNT" "test://$tmp/node.xml") ||
        { echo "provision.sh: the floor with volumes failed" >&2; exit 1; }
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

broker=$(median_row "$tmp/broker.rows")
floor=$(median_row "$tmp/floor.rows")
b_rate=$(kv per_sec "$broker")
b_cpu=$(awk -v t="$(kv cpu_ticks "$broker")" -v hz="$(getconf CLK_TCK)" -v n="$COUNT" \
        'BEGIN { printf "%.3f", t * 1000 / hz / n }')
f_rate=$(kv per_sec "$floor")
v_rate=$(kv per_sec "$volume_row")
cp "$tmp/$(kv round "$broker").timeline" "$BUILD/bench/provision.timeline"
rss_before=$(kv rss_before_kib "$broker")
rss_after=$(kv rss_after_kib "$broker")
rss_peak=$(kv rss_peak_kib "$broker")
# Issue 7: bench/provision stays within 2x of the floor.
TARGET_RATIO=2
ratio=$(awk -v f="$f_rate" -v b="$b_rate" 'BEGIN { printf "%.2f", f / b }')

# --- report -------------------------------------------------------------------------
{
        echo "== provision: $COUNT VMs through cloudbrokerd REST vs define+start straight through libvirt"
        echo "   test driver (in-process), 1 vCPU / 2 GiB / 40 GiB volume each, $(nproc) CPUs," \
                "load average $load_before before, $load_after after"
        echo "   cloudbrokerd sha256 $daemon_sum (built $daemon_date), SQLite journal_mode=$(kv journal_mode "$broker")" \
                "(each durable commit flushed with fdatasync by the daemon)"
        echo "   median of $ROUNDS broker round(s) ($(range_of "$tmp/broker.rows") /s)" \
                "and of $((ROUNDS + 1)) floor rounds ($(range_of "$tmp/floor.rows") /s), by rate"
        printf '     %-36s %10s /s   p50 %10s ms   p99 %10s ms\n' \
                "cloudbrokerd: POST -> GET says active" "$b_rate" "$(kv p50_ms "$broker")" "$(kv p99_ms "$broker")"
        printf '     %-36s %10s /s   p50 %10s ms   p99 %10s ms\n' \
                "  POST -> 202 (accepted)" "$(kv ack_per_sec "$broker")" "$(kv ack_p50_ms "$broker")" \
                "$(kv ack_p99_ms "$broker")"
        printf '     %-36s %10s /s   p50 %10s ms   p99 %10s ms\n' \
                "floor: define+start, 1 thread" "$f_rate" "$(kv p50_ms "$floor")" "$(kv p99_ms "$floor")"
        printf '     %-36s %10s /s   p50 %10s ms   p99 %10s ms\n' \
                "floor + volume create (as the broker)" "$v_rate" "$(kv p50_ms "$volume_row")" \
                "$(kv p99_ms "$volume_row")"
        printf '     ratio floor/cloudbrokerd %.2fx (target: at most %sx): %s\n' "$ratio" "$TARGET_RATIO" \
                "$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r <= t) ? "met" : "missed" }')"
        printf '     broker run: %s s from first POST to last active, %s POSTs in flight, %s GETs to watch' \
                "$(kv seconds "$broker")" "$CONCURRENCY" "$(kv gets "$broker")"
        printf ' (poll %s ms, GET round trip p50 %s ms)\n' "$POLL_MS" "$(kv get_rtt_p50_ms "$broker")"
        printf '   CPU: cloudbrokerd %s ms per resource (all threads, whole run incl. the watching GETs);' "$b_cpu"
        printf ' floor %s ms per define+start: %.2fx\n' "$(kv cpu_ms_per_call "$floor")" \
                "$(awk -v b="$b_cpu" -v f="$(kv cpu_ms_per_call "$floor")" 'BEGIN { print b / f }')"
        printf '   RSS cloudbrokerd: before %.1f MiB, after %.1f MiB (peak %.1f MiB): %.1f KiB per managed resource\n' \
                "$(awk -v k="$rss_before" 'BEGIN { print k / 1024 }')" "$(awk -v k="$rss_after" 'BEGIN { print k / 1024 }')" \
                "$(awk -v k="$rss_peak" 'BEGIN { print k / 1024 }')" \
                "$(awk -v a="$rss_after" -v b="$rss_before" -v n="$COUNT" 'BEGIN { print (a - b) / n }')"
        printf '   RSS floor process: before %.1f MiB, after %.1f MiB: %.1f KiB per domain (libvirt test driver alone)\n' \
                "$(awk -v k="$(kv rss_before_kib "$floor")" 'BEGIN { print k / 1024 }')" \
                "$(awk -v k="$(kv rss_after_kib "$floor")" 'BEGIN { print k / 1024 }')" \
                "$(awk -v a="$(kv rss_after_kib "$floor")" -v b="$(kv rss_before_kib "$floor")" -v n="$COUNT" \
                        'BEGIN { print (a - b) / n }')"
} | tee "$BUILD/bench/provision.result"
exit 0
