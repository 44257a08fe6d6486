#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The policy engine: decisions per second in-process (bench/policy-bench.c,
# target over 1 million on one core), and POST /v1/policy/evaluate under wrk
# beside GET /v1/health in the same run, health being the reference for what
# HTTP alone costs. The evaluate request is a real one: a signed approval, a
# listed system, milestones, so every fact is gathered from the store.
#
# Usage: bench/policy.sh [BUILD_DIR]      Environment: DURATION (default 10s),
# CONNECTIONS (64), THREADS (2), PORT (first port tried, 18180).
# Everything listens on 127.0.0.1; every wait is bounded; the daemon is
# killed by PID on exit. Results also go to BUILD_DIR/bench/policy.result.

set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18180}

for tool in gcc curl wrk jq; do
        command -v "$tool" >/dev/null || { echo "policy.sh: $tool is not installed" >&2; exit 1; }
done
[ -x "$BUILD/cloudbrokerd" ] || { echo "policy.sh: $BUILD/cloudbrokerd missing (make first)" >&2; exit 1; }

mkdir -p "$BUILD/bench"
gcc -std=gnu11 -O2 -D_GNU_SOURCE -Ibasic -Ipolicy $(pkg-config --cflags jansson) bench/policy-bench.c \
        policy/policy.c policy/calendar.c basic/date.c basic/error.c -o "$BUILD/bench/policy-bench" $(pkg-config --libs jansson)

tmp=$(mktemp -d /tmp/bench-policy.XXXXXX)
daemon_pid=
cleanup() {
        if [ -n "$daemon_pid" ]; then
                kill -TERM "$daemon_pid" 2>/dev/null || true
                for _ in $(seq 50); do
                        [ -e "/proc/$daemon_pid" ] || break
                        sleep 0.1
                done
                kill -KILL "$daemon_pid" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
        PORT=$((PORT + 1))
done
URL="http://127.0.0.1:$PORT"

echo "== policy engine in-process (one core)"
inproc=$("$BUILD/bench/policy-bench" 2>&1 | tail -n 5)
echo "$inproc"

"$BUILD/cloudbrokerd" --config tests/integration/test.conf --db "$tmp/cb.db" --rest-listen "127.0.0.1:$PORT" \
        --bus none >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
        curl -fs -o /dev/null "$URL/v1/health" && break
        sleep 0.1
done
curl -fs -o /dev/null "$URL/v1/health" || { echo "policy.sh: daemon did not start" >&2; cat "$tmp/daemon.log" >&2; exit 1; }

cat >"$tmp/approval.json" <<JSON
{"approval_no": "bench-1", "project_id": "bench-pol", "project_name": "bench", "department": "edu",
 "revision": 1, "valid_from": "2026-01-01", "valid_until": "2027-12-31",
 "budget": {"construction_fen": 100000000000, "om_fen": 100000000000}, "systems": ["bench-sys"],
 "items": [{"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 100}],
 "requires_secure_controllable": false, "dedicated_network_consent": false}
JSON
"$BUILD/cloudbrokerctl" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority \
        "$tmp/approval.json" >"$tmp/envelope.json"
curl -fs -X POST -H 'Authorization: Bearer dev-edu' -H 'Content-Type: application/json' --data-binary @"$tmp/envelope.json" "$URL/v1/approvals" >/dev/null
curl -fs -X POST -H 'Authorization: Bearer dev-edu' -H 'Content-Type: application/json' -d '{"id":"bench-sys","name":"bench","department":"edu",
  "protection_level":2,"classified":false,"data_sharing":"compliant"}' "$URL/v1/systems" >/dev/null
curl -fs -X POST -H 'Authorization: Bearer dev-edu' -H 'Content-Type: application/json' -d "{\"kind\":\"contract_signed\",\"date\":\"$(date +%F)\"}" \
        "$URL/v1/projects/bench-pol/milestones" >/dev/null
allowed=$(curl -fs -X POST -H 'Authorization: Bearer dev-edu' -H 'Content-Type: application/json' -d '{"project_id":"bench-pol","system_id":"bench-sys",
  "service_id":"ecs-general","plan_id":"ecs-general-2c4g","quantity":1}' "$URL/v1/policy/evaluate" | jq -r .allowed)
[ "$allowed" = "true" ] || { echo "policy.sh: the benchmark request is not allowed: set-up is wrong" >&2; exit 1; }

# The daemon's CPU time (user + system, all threads, /proc/PID/stat) per
# request: on a shared machine it moves much less than req/s.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }
CLK_TCK=$(getconf CLK_TCK)
run_wrk() { # label, extra wrk args...
        local label=$1 out c0 c1
        shift
        c0=$(cpu_ticks)
        out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
        c1=$(cpu_ticks)
        if printf '%s\n' "$out" | grep -q 'Non-2xx'; then
                echo "policy.sh: $label: non-2xx answers:" >&2
                printf '%s\n' "$out" >&2
                exit 1
        fi
        printf '%s\n' "$out" | awk -v l="$label" -v d=$((c1 - c0)) -v hz="$CLK_TCK" \
                '/requests in/ {n=$1} /Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
                END {printf "  %-36s %10s req/s   p50 %8s   p99 %8s   cpu %6.1f us/req\n", l, rps, p50, p99,
                        (n > 0) ? d * 1e6 / hz / n : 0}'
}

echo "== over HTTP, same run (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, 127.0.0.1)"
{
        run_wrk "GET /v1/health (reference)" "$URL/v1/health"
        run_wrk "POST /v1/policy/evaluate" -s bench/evaluate.lua "$URL/v1/policy/evaluate"
} | tee "$tmp/http.txt"
h=$(awk '/health/ {print $4}' "$tmp/http.txt")
e=$(awk '/evaluate/ {print $3}' "$tmp/http.txt")
ch=$(awk '/health/ {print $(NF - 1)}' "$tmp/http.txt")
ce=$(awk '/evaluate/ {print $(NF - 1)}' "$tmp/http.txt")
echo "  evaluate / health: $(awk -v a="$e" -v b="$h" 'BEGIN {printf "%.2f", a / b}') (CPU per request health / evaluate: $(awk -v a="$ch" -v b="$ce" 'BEGIN {printf "%.2f", a / b}'); load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$tmp/http.txt"
{
        echo "$inproc"
        cat "$tmp/http.txt"
} >"$BUILD/bench/policy.result"
