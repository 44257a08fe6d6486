#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Shutdown and loop time with many records to bring in line. The store
# holds COUNT (30,000) VM records on provider dev-test whose domains are not
# there (the test driver's domains live in the daemon's process, so after a
# restart every one is gone): the first reconcile marks them all lost.
#
#   - That work goes in passes (reconcile.c, RECONCILE_CHANGES_PER_PASS),
#     each its own commit: GET /v1/health keeps answering while it runs,
#     each within 1 s (one pass over all 30,000 held the loop for 2.7 s).
#   - SIGTERM once it has begun ends the daemon within cb_stop_daemon's
#     2 s, exit 0: what is left is dropped, not recorded on the way out.
#   - Nothing half-written: the store passes SQLite's integrity check and
#     the audit trail verifies offline; the next start marks the rest lost,
#     every record exactly once (one resource.lost audit record each).
#
# Usage (from the repository root): tests/integration/test-shutdown.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
COUNT=${COUNT:-30000}
PROJECT=lf-edu-shutdown
SYSTEM=edu-portal
SVC=ecs-general
PLAN=ecs-general-1c2g
YEAR=$(date +%Y)

cb_start_daemon
if cb_wait_provider dev-test; then pass "set-up: provider dev-test is connected"; else fail "set-up: provider dev-test did not connect"; fi
cb_add_system "$SYSTEM" edu 2 false compliant 教育门户
cb_approve "$PROJECT" "临政信审〔$YEAR〕71号" "$SYSTEM" "[{\"service_id\": \"$SVC\", \"plan_id\": \"$PLAN\", \"quantity\": 1}]"
cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"$SVC\",\"plan_id\":\"$PLAN\",\"name\":\"model\"}"
assert_eq "$CB_STATUS" 202 "set-up: a VM is ordered"
ID=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$ID" active; then pass "set-up: the VM is active"; else fail "set-up: the VM is $GOT, not active"; fi
cb_stop_daemon

# Copies of the ordered record (as bench/scale.sh seeds), with the columns
# the schema has now.
cols= sel=
for c in $(sqlite3 "$CB_DB" "SELECT name FROM pragma_table_info('resources')"); do
        case "$c" in
        id | name) v="printf('seed-%07d', n.i)" ;;
        provider_ref | idempotency_key) v=NULL ;;
        *) v="t.$c" ;;
        esac
        cols="$cols${cols:+, }$c"
        sel="$sel${sel:+, }$v"
done
sqlite3 -cmd ".timeout 10000" "$CB_DB" "BEGIN;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $COUNT)
        INSERT INTO resources ($cols) SELECT $sel FROM n, (SELECT * FROM resources WHERE id = '$ID') t;
        COMMIT;"
active() { sqlite3 -cmd ".timeout 5000" "$CB_DB" "SELECT COUNT(*) FROM resources WHERE provider = 'dev-test' AND state = 'active'"; }
lost_audits() { sqlite3 -cmd ".timeout 5000" "$CB_DB" "SELECT COUNT(*) FROM audit WHERE action = 'resource.lost'"; }
assert_eq "$(active)" $((COUNT + 1)) "set-up: $((COUNT + 1)) active records whose domains the restarted driver has not"
seeded_at=$(wc -l <"$CB_TMP/daemon.log")

# --- SIGTERM once the lost-marking has begun ---------------------------------------------
# health(): one GET /v1/health; keeps the slowest round trip in $slowest.
health() {
        local t
        t=$(curl -sS -o /dev/null -w '%{time_total}' --max-time 10 "$CB_URL/v1/health" || echo 10)
        slowest=$(awk -v a="$slowest" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
}
slowest=0
started=
cb_start_daemon
for i in $(seq 1 $((1000 * CB_SLOW))); do
        health
        if [ $((i % 5)) = 0 ]; then
                n=$(active)
                if [ "$n" -lt $((COUNT + 1)) ]; then
                        started=1
                        break
                fi
        fi
        sleep 0.02
done
if [ -n "$started" ]; then pass "the reconcile marks records lost"; else fail "no record was marked lost"; fi
echo "# slowest GET /v1/health until then: $slowest s"
if awk -v s="$slowest" -v k="$CB_SLOW" 'BEGIN { exit !(s < 1.0 * k) }'; then
        pass "GET /v1/health answered within 1 s as the marking began (slowest $slowest s)"
else
        fail "GET /v1/health took $slowest s as the marking began"
fi
t0=$(date +%s%N)
cb_stop_daemon
stop_ms=$((($(date +%s%N) - t0) / 1000000))
echo "# SIGTERM to exit during the lost-marking: $stop_ms ms"
left=$(active)
echo "# records still active at the stop: $left of $((COUNT + 1)) (the rest were marked before SIGTERM was read)"
assert_eq "$(sqlite3 "$CB_DB" 'PRAGMA integrity_check')" ok "the store is whole after the stop"
assert_eq "$(lost_audits)" $((COUNT + 1 - left)) "each record marked lost has its one audit record, no more"
RC=0
OUT=$("$CB_BUILD/cloudbrokerctl" audit verify --db "$CB_DB" 2>&1) || RC=$?
assert_eq "$RC" 0 "the audit trail verifies offline after the stop"
[ "$RC" = 0 ] || echo "# $OUT"

# --- the next start goes on; the loop keeps answering ----------------------------------
cb_start_daemon
slowest=0
done_at=
for i in $(seq 1 $((1200 * CB_SLOW))); do
        health
        if [ $((i % 10)) = 0 ] && [ "$(active)" = 0 ]; then
                done_at=$i
                break
        fi
        sleep 0.05
done
echo "# slowest GET /v1/health during the lost-marking: $slowest s"
if [ -n "$done_at" ]; then pass "the next start marks the rest lost"; else fail "$(active) records still active after the restart"; fi
if awk -v s="$slowest" -v k="$CB_SLOW" 'BEGIN { exit !(s < 1.0 * k) }'; then
        pass "GET /v1/health answered within 1 s throughout (slowest $slowest s)"
else
        fail "GET /v1/health took $slowest s while records were marked lost"
fi
assert_eq "$(lost_audits)" $((COUNT + 1)) "every record was marked lost exactly once over both starts"
# The daemon logs each long reconcile with its longest pass: how long the
# loop (REST, D-Bus, SIGTERM) waited at most.
longest=$(tail -n +"$((seeded_at + 1))" "$CB_TMP/daemon.log" |
        sed -n 's/.*reconcile of provider dev-test: .* the longest \([0-9.]*\) ms).*/\1/p' | sort -n | tail -1)
echo "# the longest reconcile pass: ${longest:-none} ms"
if [ -n "$longest" ] && awk -v l="$longest" -v k="$CB_SLOW" 'BEGIN { exit !(l < 1000 * k) }'; then
        pass "no reconcile pass held the loop for a second (longest $longest ms)"
else
        fail "a reconcile pass held the loop for ${longest:-?} ms (or none was logged)"
fi
cb_stop_daemon
RC=0
OUT=$("$CB_BUILD/cloudbrokerctl" audit verify --db "$CB_DB" 2>&1) || RC=$?
assert_eq "$RC" 0 "the audit trail verifies offline at the end"

cb_done
