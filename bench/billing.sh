#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Billing at scale (docs/billing.md): a synthetic database of RESOURCES
# (10,000) resources with SEGMENTS (1,000) usage segments each, over two
# years (10 million segments by default), half of them hour-priced VMs, half
# month-priced volumes, in 10 departments. Then, in the same run:
#   - the daemon rates a month and exports it as CSV
#     (GET /v1/billing/statements/PERIOD?format=csv as finance): wall time,
#     and the daemon's peak RSS (VmHWM) before and after;
#   - the reference: `sqlite3 -csv` dumps the same month's segments, joined
#     with their resources, unrated;
#   - the daemon closes the month (POST .../close: the city's and each
#     department's CSV and JSON rendered on a worker, stored as 256 KiB
#     slices, signed): wall time, the peak RSS during the close alone
#     (VmHWM reset before it), and GET /v1/health timed every 0.1 s meanwhile;
#     then exports the closed month's CSV again (its slices; checked against
#     the open month's bytes and its X-Content-SM3).
# Targets (issue 11): the export within 2x of the reference's time, peak
# memory under 64 MiB (the export's and the close's).
#
# Usage: bench/billing.sh [BUILD_DIR]
# Environment: RESOURCES (10000), SEGMENTS (1000), PERIOD (2025-06),
# TIME_LIMIT (seconds for the export, 600). 127.0.0.1 only; every wait is
# bounded; the daemon is stopped by PID on exit.

set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
RESOURCES=${RESOURCES:-10000}
SEGMENTS=${SEGMENTS:-1000}
PERIOD=${PERIOD:-2025-06}
TIME_LIMIT=${TIME_LIMIT:-600}

for tool in curl jq sqlite3; do
        command -v "$tool" >/dev/null || { echo "billing.sh: $tool is not installed" >&2; exit 1; }
done
for n in RESOURCES SEGMENTS TIME_LIMIT; do
        case "${!n}" in '' | *[!0-9]* | 0) echo "billing.sh: $n must be a positive number" >&2; exit 1 ;; esac
done
[ -x "$BUILD/cloudbrokerd" ] || { echo "billing.sh: $BUILD/cloudbrokerd missing (make first)" >&2; exit 1; }
mkdir -p "$BUILD/bench"

tmp=$(mktemp -d /tmp/cbbill.XXXXXX)
daemon_pid=
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
stop_daemon() {
        local pid=$daemon_pid
        daemon_pid=
        [ -n "$pid" ] || return 0
        kill -TERM "$pid" 2>/dev/null || return 0
        for _ in $(seq 300); do
                gone "$pid" && return 0
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317
cleanup() {
        stop_daemon
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${PORT:-18290}
for _ in $(seq 50); do port_free "$PORT" && break; PORT=$((PORT + 2)); done
URL="http://127.0.0.1:$PORT"
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

sed -e "s|\"\\.\\./\\.\\./|\"$ROOT/|g" -e 's/^reconcile_seconds = .*/reconcile_seconds = 3600;/' \
        tests/integration/test.conf >"$tmp/cb.conf"

start_daemon() {
        "$BUILD/cloudbrokerd" --config "$tmp/cb.conf" --db "$tmp/cb.db" --rest-listen "127.0.0.1:$PORT" \
                --bus none >>"$tmp/daemon.log" 2>&1 &
        daemon_pid=$!
        for _ in $(seq 300); do
                curl -fsS -o /dev/null --max-time 1 "$URL/v1/health" 2>/dev/null && return 0
                gone "$daemon_pid" && break
                sleep 0.1
        done
        tail -20 "$tmp/daemon.log" >&2
        echo "billing.sh: cloudbrokerd did not become ready" >&2
        exit 1
}

# The schema and the catalogue, made by the daemon itself.
start_daemon
stop_daemon

echo "# building $RESOURCES resources x $SEGMENTS segments"
t=$(now_ms)
# Ten departments, one project each; resources alternate a VM (35 fen/h) and
# a volume (3500 fen/month). A resource's history starts on 2024-07-01 (CST)
# plus its own offset and changes state every two years / SEGMENTS,
# alternating active and stopped, the last one deleted.
sqlite3 -batch "$tmp/cb.db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 9)
INSERT INTO projects SELECT 'bench-p' || n, 'bench', 'dept-' || n, 'active', 1, '2024-01-01T00:00:00Z',
        '2024-01-01T00:00:00Z' FROM d;
INSERT INTO approvals SELECT id, 1, 'BENCH-' || id,
        '{"budget":{"construction_fen":100000000000,"om_fen":100000000000}}', '{}', 'bench', '2024-01-01T00:00:00Z',
        'bench' FROM projects WHERE id LIKE 'bench-p%';
WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < $RESOURCES - 1)
INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, catalog_revision,
        approval_no, cost_kind, committed_fen, state, created_at, created_by, updated_at, kind)
SELECT printf('r-%016x', n), 'b', 'bench-p' || (n % 10), 'sys', 'dept-' || (n % 10),
        CASE n % 2 WHEN 0 THEN 'ecs-general' ELSE 'evs-block' END,
        CASE n % 2 WHEN 0 THEN 'ecs-general-2c4g' ELSE 'evs-ssd-100g' END, 1, 'BENCH-bench-p' || (n % 10),
        'construction', 0, 'deleted', strftime('%Y-%m-%dT%H:%M:%SZ', 1719763200 + n * 7, 'unixepoch'), 'bench',
        strftime('%Y-%m-%dT%H:%M:%SZ', 1719763200 + n * 7 + 63072000, 'unixepoch'),
        CASE n % 2 WHEN 0 THEN 'vm' ELSE 'volume' END FROM r;
-- the insert trigger wrote segment 1 (state deleted): rewrite the histories whole
DELETE FROM usage_segments WHERE resource_id LIKE 'r-%';
WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < $SEGMENTS)
INSERT INTO usage_segments (resource_id, seq, state, start_at)
SELECT r.id, s.k, CASE WHEN s.k = $SEGMENTS THEN 'deleted' WHEN s.k % 2 = 1 THEN 'active' ELSE 'stopped' END,
        strftime('%Y-%m-%dT%H:%M:%SZ', CAST(strftime('%s', r.created_at) AS INTEGER) + (s.k - 1) * (63072000 / $SEGMENTS),
                'unixepoch')
FROM resources r, s WHERE r.id LIKE 'r-%' ORDER BY r.id, s.k;
COMMIT;
SQL
build_ms=$(($(now_ms) - t))
segments=$(sqlite3 "$tmp/cb.db" "SELECT COUNT(*) FROM usage_segments")
db_mib=$(($(stat -c %s "$tmp/cb.db") / 1048576))
echo "# $segments segments, database $db_mib MiB, built in $((build_ms / 1000)) s"

# The month's bounds in CST, as UTC text (the store's timestamps).
y=${PERIOD%-*}
m=${PERIOD#*-}
p0=$(date -u -d "$y-$m-01T00:00:00+08:00" +%Y-%m-%dT%H:%M:%SZ)
p1=$(date -u -d "$y-$m-01T00:00:00+08:00 + 1 month" +%Y-%m-%dT%H:%M:%SZ)

# --- the reference: the month's segments, unrated ------------------------------------
sync
t=$(now_ms)
sqlite3 -csv "$tmp/cb.db" "SELECT r.department, r.project_id, r.id, r.service_id, r.plan_id, r.catalog_revision,
        s.seq, s.state, s.start_at FROM usage_segments s JOIN resources r ON r.id = s.resource_id
        WHERE s.start_at >= '$p0' AND s.start_at < '$p1' ORDER BY r.department, r.project_id, r.id, s.seq" \
        >"$tmp/reference.csv"
ref_ms=$(($(now_ms) - t))
ref_rows=$(wc -l <"$tmp/reference.csv")

# --- the daemon: rate and export ---------------------------------------------------------
start_daemon
hwm_idle=$(kib "$daemon_pid" VmHWM)
t=$(now_ms)
status=$(curl -sS --max-time "$TIME_LIMIT" -o "$tmp/statement.csv" -w '%{http_code}' \
        -H "Authorization: Bearer dev-finance" "$URL/v1/billing/statements/$PERIOD?format=csv")
exp_ms=$(($(now_ms) - t))
hwm=$(kib "$daemon_pid" VmHWM)
lines=$(($(wc -l <"$tmp/statement.csv") - 1))
[ "$status" = 200 ] || { echo "billing.sh: the export answered $status" >&2; head -c 400 "$tmp/statement.csv" >&2; exit 1; }

# --- closing the month: every department's CSV and JSON rendered on a worker, stored as slices,
# signed. The peak RSS is the close's own (VmHWM reset before it: clear_refs 5), and GET
# /v1/health is timed every 0.1 s while it runs: the loop's answer time during a close.
echo 5 >"/proc/$daemon_pid/clear_refs" 2>/dev/null || true
hwm_before_close=$(kib "$daemon_pid" VmHWM)
t=$(now_ms)
curl -sS --max-time "$TIME_LIMIT" -o "$tmp/close.json" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer dev-finance" "$URL/v1/billing/statements/$PERIOD/close" >"$tmp/close.code" &
close_curl=$!
: >"$tmp/health.ms"
for _ in $(seq $((TIME_LIMIT * 10))); do
        kill -0 "$close_curl" 2>/dev/null || break
        curl -sS --max-time 10 -o /dev/null -w '%{time_total}\n' "$URL/v1/health" 2>/dev/null |
                awk '{ printf "%d\n", $1 * 1000 }' >>"$tmp/health.ms" || echo 10000 >>"$tmp/health.ms"
        sleep 0.1
done
wait "$close_curl" || true
close_ms=$(($(now_ms) - t))
hwm_close=$(kib "$daemon_pid" VmHWM)
[ "$(cat "$tmp/close.code")" = 200 ] || { echo "billing.sh: the close answered $(cat "$tmp/close.code")" >&2; cat "$tmp/close.json" >&2; exit 1; }
close_files=$(jq '.files | length' "$tmp/close.json")
health_n=$(wc -l <"$tmp/health.ms")
health_p50=$(sort -n "$tmp/health.ms" | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }')
health_max=$(sort -n "$tmp/health.ms" | tail -1)
slices=$(sqlite3 -cmd ".timeout 5000" "$tmp/cb.db" "SELECT COUNT(*) || ' slices, ' || (SUM(length(data)) / 1048576) || ' MiB'
        FROM billing_closed_slices WHERE period = '$PERIOD'" 2>/dev/null || echo "no slices table")

# --- the closed month again: its stored slices, as the open month's bytes were
t=$(now_ms)
curl -sS --max-time "$TIME_LIMIT" -D "$tmp/closed.h" -o "$tmp/closed.csv" \
        -H "Authorization: Bearer dev-finance" "$URL/v1/billing/statements/$PERIOD?format=csv"
closed_ms=$(($(now_ms) - t))
hwm_end=$(kib "$daemon_pid" VmHWM)
stop_daemon
cmp -s "$tmp/closed.csv" "$tmp/statement.csv" || { echo "billing.sh: the closed CSV differs from the open month's" >&2; exit 1; }
if command -v openssl >/dev/null; then
        [ "$(tr -d '\r' <"$tmp/closed.h" | sed -n 's/^X-Content-SM3: //Ip')" = "$(openssl dgst -sm3 -r "$tmp/closed.csv" | cut -d' ' -f1)" ] ||
                { echo "billing.sh: the closed CSV's X-Content-SM3 is not its SM3" >&2; exit 1; }
fi

ratio=$(awk -v a="$exp_ms" -v b="$ref_ms" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
{
        echo "billing: $RESOURCES resources x $SEGMENTS segments ($segments), database $db_mib MiB, month $PERIOD"
        echo "  reference sqlite3 -csv (the month's $ref_rows segments, unrated): $ref_ms ms"
        echo "  cloudbrokerd CSV export ($lines lines, rated): $exp_ms ms, $ratio x the reference (target <= 2)"
        echo "  daemon peak RSS (VmHWM): $((hwm_idle / 1024)) MiB before, $((hwm / 1024)) MiB after (target < 64)"
        echo "  closing the month ($close_files files, CSV and JSON, signed; $slices): $close_ms ms, peak RSS during it $((hwm_close / 1024)) MiB (from $((hwm_before_close / 1024)); target < 64)"
        echo "  GET /v1/health during the close: $health_n answers, median $health_p50 ms, worst $health_max ms"
        echo "  the closed month's CSV again (its stored slices, the same bytes, X-Content-SM3 checked): $closed_ms ms, peak RSS after $((hwm_end / 1024)) MiB"
} | tee "$BUILD/bench/billing.result"
