#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Scale: COUNT (100,000) resources over PROVIDERS (10) libvirt test-driver
# providers, all provisioned through REST, then:
#   - RSS per resource (target < 30 KiB): the daemon's RSS before and after;
#   - a page of 100 of GET /v1/resources, p99 under wrk, beside
#     GET /v1/health in the same run (target < 5 ms), and the daemon's CPU
#     time per request of each (robust to the load of a shared machine);
#   - one reconcile of a provider's COUNT/PROVIDERS domains, loop time as
#     the daemon logs it (target < 1 s);
#   - POST /v1/policy/evaluate for the project that holds all COUNT
#     resources beside one that holds none, same run (target: within 10%);
#   - start-up to READY=1 on the database with COUNT records (target < 1 s),
#     through bench/notify-wait as systemd would see it.
#   - SIGTERM to exit with COUNT records, at the end (target < 1 s; ours,
#     not the issue's: the unit's TimeoutStopSec is 30 s).
# The test driver keeps its domains in the daemon's process, so after the
# restart every domain is gone and the reconcile records them lost; READY
# comes before that, and that work is reported as it happens.
#
# SEED=N: only N (< COUNT) resources are ordered through REST (RSS per
# resource and the reconcile are measured on those), then the daemon is
# stopped and the store is filled up to COUNT records with sqlite3: copies
# of an ordered record (the schema's triggers fill holdings and usage as
# for any insert; no audit records, no operations), on providers named
# seeded-K that are not configured, so no reconcile touches them and no
# domain backs them. Start-up, the pages and the evaluation are then
# measured on COUNT records. The report says which store each figure is from.
#
# Usage: bench/scale.sh [BUILD_DIR]
# Environment: COUNT (100000), PROVIDERS (10), CONCURRENCY (64), DURATION (wrk
# seconds per side, 5), TIME_LIMIT (provisioning, 480 s), CHECKPOINT_EVERY (1000),
# SEED (unset: all COUNT through REST). 127.0.0.1 only;
# every wait is bounded; the daemon is stopped by PID on exit.

set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
COUNT=${COUNT:-100000}
PROVIDERS=${PROVIDERS:-10}
CONCURRENCY=${CONCURRENCY:-64}
DURATION=${DURATION:-5}
TIME_LIMIT=${TIME_LIMIT:-480}
# Audit checkpoints as the daemon's default and the shipped config sign them
# (every 1,000 records); the test config's 5 is for the tests.
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-1000}
SEED=${SEED:-}
PROJECT=bench-scale
EMPTY=bench-empty
SYSTEM=bench-sys
SERVICE=ecs-general
PLAN=ecs-general-1c2g
TOKEN=dev-edu

for tool in gcc curl wrk jq sqlite3 pkg-config; do
        command -v "$tool" >/dev/null || { echo "scale.sh: $tool is not installed (make bench installs it)" >&2; exit 1; }
done
ORDERED=$COUNT
if [ -n "$SEED" ]; then
        case "$SEED" in *[!0-9]* | 0) echo "scale.sh: SEED must be a positive number" >&2; exit 1 ;; esac
        [ "$SEED" -lt "$COUNT" ] || { echo "scale.sh: SEED must be below COUNT" >&2; exit 1; }
        ORDERED=$SEED
fi
for n in COUNT PROVIDERS CONCURRENCY DURATION TIME_LIMIT CHECKPOINT_EVERY; do
        case "${!n}" in '' | *[!0-9]* | 0) echo "scale.sh: $n must be a positive number" >&2; exit 1 ;; esac
done
[ "$COUNT" -le 200000 ] || { echo "scale.sh: COUNT must be at most 200000" >&2; exit 1; }
[ "$PROVIDERS" -le 50 ] || { echo "scale.sh: PROVIDERS must be at most 50" >&2; exit 1; }
for b in cloudbrokerd cloudbrokerctl; do
        [ -x "$BUILD/$b" ] || { echo "scale.sh: $BUILD/$b missing (make first)" >&2; exit 1; }
done

mkdir -p "$BUILD/bench"
CFLAGS=(-std=gnu11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE)
NOTIFY_WAIT="$BUILD/bench/notify-wait"
LOAD="$BUILD/bench/provision-load"
if [ ! -x "$NOTIFY_WAIT" ] || [ bench/notify-wait.c -nt "$NOTIFY_WAIT" ]; then
        gcc "${CFLAGS[@]}" bench/notify-wait.c -o "$NOTIFY_WAIT"
fi
if [ ! -x "$LOAD" ] || [ bench/provision-load.c -nt "$LOAD" ]; then
        # shellcheck disable=SC2046
        gcc "${CFLAGS[@]}" bench/provision-load.c -o "$LOAD" $(pkg-config --cflags --libs libcurl jansson)
fi

tmp=$(mktemp -d /tmp/cbscale.XXXXXX)
daemon_pid=
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
stop_pid() {
        local pid=$1
        [ -n "$pid" ] || return 0
        kill -TERM "$pid" 2>/dev/null || return 0
        for _ in $(seq 300); do
                gone "$pid" && return 0
                sleep 0.1
        done
        echo "scale.sh: pid $pid ignored SIGTERM for 30 s, killing" >&2
        kill -KILL "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317
cleanup() {
        stop_pid "$daemon_pid"
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${PORT:-18190}
for _ in $(seq 50); do port_free "$PORT" && break; PORT=$((PORT + 2)); done
URL="http://127.0.0.1:$PORT"
rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

cp "$BUILD/cloudbrokerd" "$BUILD/cloudbrokerctl" "$tmp/"

# --- PROVIDERS hosts, each big enough for all of its share -----------------------
providers=""
for i in $(seq 0 $((PROVIDERS - 1))); do
        sed -e "s|<active>[0-9]*</active>|<active>65536</active>|" \
                -e "s|<sockets>[0-9]*</sockets>|<sockets>64</sockets>|" \
                -e "s|<cores>[0-9]*</cores>|<cores>512</cores>|" \
                -e "s|<memory>[0-9]*</memory>|<memory>1099511627776</memory>|" etc/test-node.xml \
                | awk '/<domain/ { skip = 1 } !skip { print } /<\/domain>/ { skip = 0 }' >"$tmp/node-$i.xml"
        providers="$providers{ name = \"scale-$i\"; driver = \"libvirt\"; uri = \"test://$tmp/node-$i.xml\"; },"
done
sed -e "s|\"\\.\\./\\.\\./|\"$ROOT/|g" tests/integration/test.conf |
        awk -v p="providers = ( ${providers%,} );" '
                /^providers = \(/ { print p; skip = 1; next }
                skip && /^\);/ { skip = 0; next }
                !skip { print }' |
        sed -e 's/^reconcile_seconds = .*/reconcile_seconds = 3600;/' \
                -e "s|checkpoint_every = 5;|checkpoint_every = $CHECKPOINT_EVERY;|" \
                -e 's|max_body_bytes = 1048576;|max_body_bytes = 1048576; max_connections = 4096; max_connections_per_ip = 2048;|' \
                >"$tmp/cb.conf"
grep -q 'max_connections_per_ip = 2048' "$tmp/cb.conf" ||
        { echo "scale.sh: could not raise the connection limits (the load comes from one address)" >&2; exit 1; }
grep -q "checkpoint_every = $CHECKPOINT_EVERY;" "$tmp/cb.conf" ||
        { echo "scale.sh: could not set checkpoint_every in the config" >&2; exit 1; }
grep -q 'scale-0' "$tmp/cb.conf" || { echo "scale.sh: could not write the providers into the config" >&2; exit 1; }

start_daemon() { # start_daemon OUT: READY through notify-wait; sets daemon_pid
        if ! "$NOTIFY_WAIT" "$1" -- "$tmp/cloudbrokerd" --config "$tmp/cb.conf" --db "$tmp/cb.db" \
                --rest-listen "127.0.0.1:$PORT" --bus none >>"$tmp/daemon.log" 2>&1; then
                tail -20 "$tmp/daemon.log" >&2
                echo "scale.sh: cloudbrokerd did not become ready" >&2
                exit 1
        fi
        daemon_pid=$(sed -n 's/^pid=//p' "$1")
}
wait_connected() {
        for _ in $(seq 300); do
                [ "$(curl -sS --max-time 5 -H "Authorization: Bearer dev-operator" "$URL/v1/providers" |
                        jq '[.providers[] | select(.status == "connected")] | length')" = "$PROVIDERS" ] && return 0
                sleep 0.1
        done
        echo "scale.sh: not all $PROVIDERS providers connected within 30 s" >&2
        exit 1
}
post() { # post PATH BODY-FILE TOKEN: prints the status
        curl -sS --max-time 30 -o "$tmp/post.out" -w '%{http_code}' -H "Authorization: Bearer $3" \
                -H 'Content-Type: application/json' --data-binary "@$2" "$URL$1"
}
approve() { # approve PROJECT NO QUANTITY
        local y
        y=$(date +%Y)
        jq -n --arg p "$1" --arg no "$2" --arg sys "$SYSTEM" --arg svc "$SERVICE" --arg plan "$PLAN" \
                --argjson q "$3" --arg from "$y-01-01" --arg until "$((y + 1))-12-31" '{
                approval_no: $no, project_id: $p, project_name: "scale benchmark", department: "edu",
                revision: 1, valid_from: $from, valid_until: $until,
                budget: {construction_fen: 1000000000000000, om_fen: 1000000000000000},
                systems: [$sys], items: [{service_id: $svc, plan_id: $plan, quantity: $q}],
                requires_secure_controllable: false, dedicated_network_consent: false}' >"$tmp/$1.json"
        "$tmp/cloudbrokerctl" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority \
                "$tmp/$1.json" >"$tmp/$1.envelope.json"
        [ "$(post /v1/approvals "$tmp/$1.envelope.json" "$TOKEN")" = 201 ] ||
                { cat "$tmp/post.out" >&2; echo "scale.sh: approval of $1 refused" >&2; exit 1; }
}

start_daemon "$tmp/ready-1"
wait_connected
printf '{"id":"%s","name":"scale benchmark","department":"edu","protection_level":2,"classified":false,"data_sharing":"compliant"}' \
        "$SYSTEM" >"$tmp/system.json"
[ "$(post /v1/systems "$tmp/system.json" "$TOKEN")" = 201 ] || { cat "$tmp/post.out" >&2; exit 1; }
approve "$PROJECT" "BENCH-SCALE-1" "$((COUNT + 10))"
approve "$EMPTY" "BENCH-SCALE-2" 10

sleep 0.5
rss_before=$(rss_kib "$daemon_pid" VmRSS)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "scale.sh: provisioning $ORDERED resources over $PROVIDERS providers ($CONCURRENCY in flight; load $load_start)" >&2
t0=$SECONDS
timeout $((TIME_LIMIT + 60)) "$LOAD" --url "$URL" --token "$TOKEN" --project "$PROJECT" --system "$SYSTEM" \
        --service "$SERVICE" --plan "$PLAN" --count "$ORDERED" --concurrency "$CONCURRENCY" --poll-ms 50 \
        --time-limit "$TIME_LIMIT" --prefix s >"$tmp/load.out" 2>"$tmp/load.err" ||
        { cat "$tmp/load.err" "$tmp/load.out" >&2; tail -5 "$tmp/daemon.log" >&2; echo "scale.sh: provisioning incomplete" >&2; exit 1; }
provision_s=$((SECONDS - t0))
sleep 2 # the capacity readings and reconciles that follow a burst
rss_after=$(rss_kib "$daemon_pid" VmRSS)
per_res=$(awk -v a="$rss_after" -v b="$rss_before" -v n="$ORDERED" 'BEGIN { printf "%.1f", (a - b) / n }')
load_provisioned=$(cut -d' ' -f1-3 /proc/loadavg)

measure_http() { # pages and evaluations on the running daemon
        load_http=$(cut -d' ' -f1-3 /proc/loadavg)
        # --- pages beside health, same run --------------------------------------------------
        # The daemon's CPU time (user + system, all threads; the REST work is the
        # loop's) per request of a wrk run: unlike latency, robust to the load of a
        # shared machine. Written to $tmp/cpu.last in µs.
        cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }
        CLK_TCK=$(getconf CLK_TCK)
        p99() { # p99 WRK-ARGS...: wrk's 99th percentile in ms
                local out c0 c1
                c0=$(cpu_ticks)
                out=$(wrk -t1 -c4 -d"${DURATION}s" --latency "$@")
                c1=$(cpu_ticks)
                echo "$out" | awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" '/requests in/ { n = $1 }
                        END { printf "%.0f", (n > 0) ? d * 1e6 / hz / n : 0 }' >"$tmp/cpu.last"
                echo "$out" | awk '$1 == "99%" {
                        v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
                        if (u == "us") v /= 1000; else if (u == "s") v *= 1000
                        printf "%.2f", v }'
        }
        rps() { # rps WRK-ARGS...: requests/s; the daemon's CPU per request to $tmp/cpu.last
                local out c0 c1
                c0=$(cpu_ticks)
                out=$(wrk -t1 -c4 -d"${DURATION}s" "$@")
                c1=$(cpu_ticks)
                echo "$out" | awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" '/requests in/ { n = $1 }
                        END { printf "%.0f", (n > 0) ? d * 1e6 / hz / n : 0 }' >"$tmp/cpu.last"
                echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }'
        }
        cat >"$tmp/page.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer dev-edu"
LUA
        health_p99=$(p99 "$URL/v1/health")
        health_cpu=$(cat "$tmp/cpu.last")
        page_p99=$(p99 -s "$tmp/page.lua" "$URL/v1/resources?project_id=$PROJECT&limit=100")
        page_cpu=$(cat "$tmp/cpu.last")
        deep_token=$(curl -sS -H "Authorization: Bearer $TOKEN" "$URL/v1/resources?project_id=$PROJECT&limit=1000" | jq -r .next_page_token)
        deep_p99=$(p99 -s "$tmp/page.lua" "$URL/v1/resources?project_id=$PROJECT&limit=100&page_token=$deep_token")

        # --- evaluation: a project holding COUNT beside one holding none ----------------------
        for p in "$PROJECT" "$EMPTY"; do
                cat >"$tmp/eval-$p.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer dev-edu"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"project_id":"$p","system_id":"$SYSTEM","service_id":"$SERVICE","plan_id":"$PLAN","quantity":1}'
LUA
        done
        eval_full=$(rps -s "$tmp/eval-$PROJECT.lua" "$URL/v1/policy/evaluate")
        eval_full_cpu=$(cat "$tmp/cpu.last")
        eval_empty=$(rps -s "$tmp/eval-$EMPTY.lua" "$URL/v1/policy/evaluate")
        eval_empty_cpu=$(cat "$tmp/cpu.last")
        load_http_end=$(cut -d' ' -f1-3 /proc/loadavg)
}

measure_reconcile() { # sets reconcile_ms
        # --- one reconcile of every provider, loop time as logged -------------------------------
        lines=$(wc -l <"$tmp/daemon.log")
        curl -sS -o /dev/null -H "Authorization: Bearer dev-operator" "$URL/v1/providers/scale-0/inventory"
        for _ in $(seq 100); do
                tail -n +"$((lines + 1))" "$tmp/daemon.log" | grep -q 'reconcile of provider scale-0' && break
                sleep 0.1
        done
        reconcile_ms=$(tail -n +"$((lines + 1))" "$tmp/daemon.log" | sed -n 's/.*reconcile of provider scale-0: \([0-9]*\) objects in \([0-9.]*\) ms.*/\1 \2/p' | tail -1)
}

# SIGTERM to exit, in ms (stop_ms): what systemctl stop waits for (the unit's
# TimeoutStopSec is 30 s, after which systemd kills the daemon mid-way).
# Reported, with a target of 1 s, for the last stop (COUNT records, the
# restart's lost-marking maybe under way); the first stop's figure is
# mostly libvirt's test driver freeing its in-process domains.
timed_stop() {
        local t0
        t0=$(date +%s%N)
        stop_pid "$daemon_pid"
        stop_ms=$((($(date +%s%N) - t0) / 1000000))
        daemon_pid=
}

# --- restart on COUNT records -------------------------------------------------------------
restart() {
        timed_stop
        stop_first_ms=$stop_ms
        records=$(sqlite3 "$tmp/cb.db" "SELECT COUNT(*) FROM resources")
        load_ready=$(cut -d' ' -f1-3 /proc/loadavg)
        start_daemon "$tmp/ready-2"
        ready_ms=$(awk -F= '$1 == "ready_usec" { printf "%.0f", $2 / 1000 }' "$tmp/ready-2")
        rss_restart=$(rss_kib "$daemon_pid" VmRSS)
}

# Copies of one ordered record up to COUNT, in one transaction, with the
# columns the schema has now (PRAGMA table_info), so that a new column
# needs no change here.
seed_store() {
        local cols="" sel="" c v
        for c in $(sqlite3 "$tmp/cb.db" "SELECT name FROM pragma_table_info('resources')"); do
                case "$c" in
                id | name) v="printf('seed-%07d', n.i)" ;;
                provider) v="'seeded-' || (n.i % $PROVIDERS)" ;;
                provider_ref | idempotency_key) v=NULL ;;
                state) v="'active'" ;;
                *) v="t.$c" ;;
                esac
                cols="$cols${cols:+, }$c"
                sel="$sel${sel:+, }$v"
        done
        sqlite3 -cmd ".timeout 10000" "$tmp/cb.db" "BEGIN;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $((COUNT - ORDERED)))
                INSERT INTO resources ($cols) SELECT $sel FROM n,
                        (SELECT * FROM resources WHERE project_id = '$PROJECT' AND state = 'active' LIMIT 1) t;
                COMMIT;"
}

rss_http=
rss_seeded=
if [ -z "$SEED" ]; then
        measure_http
        measure_reconcile
        restart
        store_http="ordered"
else
        # The reconcile and the RSS of what was ordered, then the store filled.
        measure_reconcile
        timed_stop
        stop_ordered_ms=$stop_ms
        t_seed=$SECONDS
        seed_store
        echo "scale.sh: store filled to $(sqlite3 "$tmp/cb.db" "SELECT COUNT(*) FROM resources") records in $((SECONDS - t_seed)) s" >&2
        restart
        # The ordered records' domains went with the old process: the first
        # reconciles record them lost. Let that pass (bounded) first.
        for _ in $(seq 600); do
                [ "$(sqlite3 -cmd ".timeout 5000" "$tmp/cb.db" "SELECT COUNT(*) FROM resources
                        WHERE provider LIKE 'scale-%' AND state = 'active'")" = 0 ] && break
                sleep 0.5
        done
        sleep 2
        rss_seeded=$(rss_kib "$daemon_pid" VmRSS)
        measure_http
        rss_http=$(rss_kib "$daemon_pid" VmRSS)
        store_http="seeded"
fi

# The last stop: on COUNT records, after the pages and the evaluation.
timed_stop
stop_last_ms=$stop_ms

verdict() { [ -n "$1" ] || { echo "n/a"; return; }; awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 < t + 0) ? "ok" : "MISSED" }'; }
ratio=$(awk -v a="$eval_full" -v b="$eval_empty" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
ratio_ok=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.9 && r <= 1.1) ? "ok" : "MISSED" }')
{
        echo "scale: $COUNT resources over $PROVIDERS test-driver providers; $ORDERED ordered through REST ($(tr ' ' '\n' <"$tmp/load.out" | grep -E '^(per_sec|failed|gets|get_rtt_p50_ms)=' | tr '\n' ' ')in ${provision_s} s, load $load_start -> $load_provisioned)"
        [ -z "$SEED" ] || echo "  store for pages, evaluation and start-up: seeded with sqlite3 to $COUNT records (see the script's header)"
        echo "  RSS per resource (ordered):  ${per_res} KiB   (before ${rss_before} KiB, after ${rss_after} KiB; target < 30)  $(verdict "$per_res" 30)"
        [ -z "$SEED" ] || echo "  RSS on the seeded store:     ${rss_seeded} KiB after READY and the lost-marking, ${rss_http} KiB after the HTTP runs (empty store at first start: ${rss_before} KiB)"
        echo "  GET /v1/resources page p99 ($store_http): ${page_p99} ms first page, ${deep_p99} ms after 1000 (GET /v1/health p99 ${health_p99} ms, same run; target < 5; load $load_http -> $load_http_end)  $(verdict "$page_p99" 5)"
        echo "  daemon CPU per request:      ${page_cpu} µs a page of 100, ${health_cpu} µs a health check (same run; robust to load)"
        echo "  reconcile, loop time (ordered, scale-0 holds about $((ORDERED / PROVIDERS))): ${reconcile_ms:-n/a} (objects ms; target < 1000 ms)  $(verdict "${reconcile_ms:+${reconcile_ms#* }}" 1000)"
        echo "  evaluate ($store_http), holding $COUNT vs none: ${eval_full} vs ${eval_empty} req/s (ratio $ratio; target within 10%)  $ratio_ok; CPU ${eval_full_cpu} vs ${eval_empty_cpu} µs a request"
        echo "  start-up to READY:           ${ready_ms} ms with $records resource records (RSS ${rss_restart} KiB; load $load_ready; target < 1000)  $(verdict "$ready_ms" 1000)"
        echo "  SIGTERM to exit:             ${stop_last_ms} ms at the end on $records records (target < 1000)  $(verdict "$stop_last_ms" 1000)"
        echo "                               ${stop_ordered_ms:-$stop_first_ms} ms with the $ORDERED ordered records' domains live: the test driver keeps them in the daemon's process and libvirt frees them on close (a socket close with libvirtd)"
} | tee "$BUILD/bench/scale.result"
