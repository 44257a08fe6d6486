#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Streaming statement exports (docs/billing.md, "Exports stream"): a month of
# a few thousand resources, exported to a client that reads slowly, while
#   - GET /v1/health is answered while the export is still in flight in the
#     daemon (its pipe is still open: the loop is not the one writing);
#   - the streamed bytes are those of the in-memory statement (GetStatement)
#     and of the D-Bus export through a pipe fd (ExportStatement, with
#     cloudbrokerctl's progress bar on a terminal);
#   - clients that go away mid-export free their export (more of them than
#     the daemon runs at once, then one that must still be served);
#   - the daemon stops at once (exit 0) with a stalled export running;
#   - closing the month (docs/billing.md, "Closing a month") stores its files
#     as slices from a worker; kill -9 while it does leaves the month open
#     and the start drops the slices; health answers meanwhile (timed); the
#     close then re-exports byte for byte on REST (csv, json, excel) and
#     D-Bus (ExportStatement, GetStatement, cloudbrokerctl), digests and
#     signatures verifying;
#   - an upgrade from the schema before the slices: closed files stored
#     whole export the same bytes after the migration cut them.
#
# Usage (from the repository root): tests/integration/test-billing-stream.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon
cb_stop_daemon

CTL="$CB_BUILD/cloudbrokerctl"
# Enough lines (JSON about 450 bytes each) that the socket buffers cannot
# swallow the whole statement at once.
N=${N:-20000}
PERIOD=2025-06
sql() { sqlite3 -batch "$CB_DB" "$@"; }

# N resources in 3 departments, each active then stopped then deleted across
# the month, as bench/billing.sh builds them (the triggers' first segment is
# replaced by the history).
sql <<SQL
BEGIN;
WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 2)
INSERT INTO projects SELECT 'stream-p' || n, 'stream', 'dept-' || n, 'active', 1, '2024-01-01T00:00:00Z',
        '2024-01-01T00:00:00Z' FROM d;
INSERT INTO approvals SELECT id, 1, 'STREAM-' || id,
        '{"budget":{"construction_fen":100000000000,"om_fen":100000000000}}', '{}', 'stream',
        '2024-01-01T00:00:00Z', 'stream' FROM projects WHERE id LIKE 'stream-p%';
WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < $N - 1)
INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, catalog_revision,
        approval_no, cost_kind, committed_fen, state, created_at, created_by, updated_at, kind)
SELECT printf('r-%016x', n), 'b', 'stream-p' || (n % 3), 'sys', 'dept-' || (n % 3),
        CASE n % 2 WHEN 0 THEN 'ecs-general' ELSE 'evs-block' END,
        CASE n % 2 WHEN 0 THEN 'ecs-general-2c4g' ELSE 'evs-ssd-100g' END, 1, 'STREAM-stream-p' || (n % 3),
        'construction', 0, 'deleted', strftime('%Y-%m-%dT%H:%M:%SZ', 1748707200 + n, 'unixepoch'), 'stream',
        strftime('%Y-%m-%dT%H:%M:%SZ', 1748707200 + n + 2000000, 'unixepoch'),
        CASE n % 2 WHEN 0 THEN 'vm' ELSE 'volume' END FROM r;
DELETE FROM usage_segments WHERE resource_id LIKE 'r-%';
WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < 3)
INSERT INTO usage_segments (resource_id, seq, state, start_at)
SELECT r.id, s.k, CASE s.k WHEN 1 THEN 'active' WHEN 2 THEN 'stopped' ELSE 'deleted' END,
        strftime('%Y-%m-%dT%H:%M:%SZ', CAST(strftime('%s', r.created_at) AS INTEGER) + (s.k - 1) * 1000000,
                'unixepoch')
FROM resources r, s WHERE r.id LIKE 'r-%' ORDER BY r.id, s.k;
COMMIT;
SQL
cb_start_daemon

pipes() { find "/proc/$CB_PID/fd" -lname 'pipe:*' 2>/dev/null | wc -l; }
base_pipes=$(pipes)
STMT="$CB_URL/v1/billing/statements/$PERIOD"

# --- health while a slow client exports ----------------------------------------------------
curl -sS --max-time 120 --limit-rate 100k -o "$CB_TMP/slow.json" -D "$CB_TMP/slow.h" \
        -H "Authorization: Bearer dev-finance" "$STMT?format=json" 2>/dev/null &
slow_pid=$!
CB_PIDS+=("$slow_pid")
for _ in $(seq 100); do
        [ -s "$CB_TMP/slow.json" ] && break
        sleep 0.1
done
health=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$CB_URL/v1/health" || echo none)
during=$(pipes)
assert_eq "$health" 200 "GET /v1/health answers during a long export"
if kill -0 "$slow_pid" 2>/dev/null && [ "$during" -gt "$base_pipes" ]; then
        pass "... while the export is still running in the daemon (its pipe open: $during pipes, $base_pipes idle)"
else
        fail "the export was over before health answered (pipes $during, idle $base_pipes): not a long export"
fi
kill "$slow_pid" 2>/dev/null || true
wait "$slow_pid" 2>/dev/null || true
assert_eq "$(sed -n '1s/\r$//p' "$CB_TMP/slow.h" | cut -d' ' -f2)" 200 "the slow export answered 200"
curl -sS --max-time 60 -H "Authorization: Bearer dev-finance" -o "$CB_TMP/whole.json" "$STMT?format=json"
assert_eq "$(jq '.lines | length' "$CB_TMP/whole.json")" "$N" "the streamed JSON is one document with every line ($N)"
assert_eq "$(jq '[.lines[].amount_fen] | add' "$CB_TMP/whole.json")" \
        "$(jq '.totals.amount_fen' "$CB_TMP/whole.json")" "its totals, summed as it streamed, add up its lines"
for _ in $(seq 50); do [ "$(pipes)" -le "$base_pipes" ] && break; sleep 0.1; done
assert_eq "$(pipes)" "$base_pipes" "the exports' pipes are closed once sent or their client gone"

# --- the same bytes on every way out --------------------------------------------------------
OUTD="$CB_TMP/out"
mkdir -p "$OUTD"
chmod 777 "$OUTD"
# GetStatement holds its answer whole: the CSV (2.4 MB) is under its bound
# (4 MiB), the JSON (9 MB) over it, refused naming ExportStatement.
rc=0
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing statement --period "$PERIOD" \
        --format json >"$CB_TMP/big.json" 2>"$CB_TMP/big.err" || rc=$?
if [ "$rc" -ne 0 ] && grep -q "ExportStatement" "$CB_TMP/big.err" && [ ! -s "$CB_TMP/big.json" ]; then
        pass "GetStatement of a statement over 4 MiB is refused, naming ExportStatement ($(head -c 160 "$CB_TMP/big.err"))"
else
        fail "GetStatement of the 9 MB JSON: exit $rc, $(head -c 200 "$CB_TMP/big.err")"
fi
for fmt in json csv; do
        curl -sS --max-time 60 -H "Authorization: Bearer dev-finance" -o "$CB_TMP/rest.$fmt" "$STMT?format=$fmt"
        if [ "$fmt" = csv ]; then
                CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing statement --period "$PERIOD" \
                        --format "$fmt" >"$CB_TMP/mem.$fmt"
                assert_eq "$(sha256sum <"$CB_TMP/rest.$fmt")" "$(sha256sum <"$CB_TMP/mem.$fmt")" \
                        "streamed REST $fmt = the in-memory statement (GetStatement), byte for byte"
        else
                cp "$CB_TMP/rest.$fmt" "$CB_TMP/mem.$fmt"
        fi
        CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing export --period "$PERIOD" \
                --format "$fmt" --out "$OUTD/fd.$fmt" 2>"$CB_TMP/export.err"
        assert_eq "$(sha256sum <"$OUTD/fd.$fmt")" "$(sha256sum <"$CB_TMP/mem.$fmt")" \
                "billing export --format $fmt (ExportStatement, a pipe fd) = the same bytes as REST"
done
assert_eq "$(head -c 200 "$CB_TMP/rest.json" | jq -R . >/dev/null && jq -r .period "$CB_TMP/rest.json")" "$PERIOD" \
        "the streamed JSON parses"
assert_eq "$(($(wc -l <"$CB_TMP/rest.csv") - 1))" "$N" "the streamed CSV has a header and $N lines"
assert_eq "$(cat "$CB_TMP/export.err")" "" "no progress bar when stderr is not a terminal"
# On a terminal (script gives one) the bar goes to stderr, never into the file.
script -qec "env CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS setpriv --reuid=1003 --regid=1003 --clear-groups \
        $CTL billing export --period $PERIOD --format csv --out $OUTD/tty.csv" /dev/null >"$CB_TMP/tty.out" </dev/null
assert_contains "$(tr '\r' '\n' <"$CB_TMP/tty.out" | tail -2)" "$N of at most $N lines" \
        "billing export --out on a terminal shows a progress bar that ends at every line"
assert_eq "$(sha256sum <"$OUTD/tty.csv")" "$(sha256sum <"$CB_TMP/mem.csv")" "... and the file holds the statement only"

# A department's stream is its own lines only.
curl -sS --max-time 60 -H "Authorization: Bearer dev-finance" -o "$CB_TMP/d1.csv" "$STMT?format=csv&department=dept-1"
assert_eq "$(tail -n +2 "$CB_TMP/d1.csv" | cut -d, -f2 | sort -u | tr -d '\r')" dept-1 \
        "a department's streamed CSV holds that department only"

# Another department's lines, on each streaming face: refused before the first byte.
code=$(curl -sS --max-time 10 -o "$CB_TMP/edu.err" -w '%{http_code}' -H "Authorization: Bearer dev-edu" \
        "$STMT?format=csv&department=dept-1")
assert_eq "$code $(jq -r .field "$CB_TMP/edu.err")" "403 department" "REST: a department streaming another's lines: 403 naming department"
rc=0
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1001 "$CTL" billing export --period "$PERIOD" --format csv \
        --department dept-1 --out "$OUTD/edu.csv" 2>/dev/null || rc=$?
assert_eq "$rc" 4 "ExportStatement: a department asking for another's lines is AccessDenied (exit 4)"
curl -sS --max-time 10 -o "$CB_TMP/edu.csv" -H "Authorization: Bearer dev-edu" "$STMT?format=csv"
assert_eq "$(wc -l <"$CB_TMP/edu.csv")" 1 "a department's own stream holds none of the others' $N lines"

# --- closing on a worker ---------------------------------------------------------------------
# The worker stores each file as slices (billing_closed_slices) as it renders
# it; they count once the month is in billing_closed, the close's last
# transaction. Slices of a month that is not closed: a close under way.
slices() { sql -cmd ".timeout 2000" "SELECT COUNT(*) FROM billing_closed_slices WHERE period = '$PERIOD'"; }
is_closed() { sql -cmd ".timeout 2000" "SELECT COUNT(*) FROM billing_closed WHERE period = '$PERIOD'"; }
closing() { [ "$(is_closed)" = 0 ] && [ "$(slices)" -ge "${1:-1}" ]; }
# wait_closing [N]: until N slices of the open month are stored (at most 10 s).
wait_closing() {
        for _ in $(seq 500); do
                closing "${1:-1}" && return 0
                sleep 0.02
        done
        return 1
}
start_close() {
        curl -sS --max-time 120 -o "$CB_TMP/close.$1.json" -w '%{http_code}' -X POST \
                -H "Authorization: Bearer dev-finance" "$STMT/close" >"$CB_TMP/close.$1.code" 2>/dev/null &
        close_pid=$!
        CB_PIDS+=("$close_pid")
}
sm3_of() { openssl dgst -sm3 -r "$1" | cut -d' ' -f1; }
# header FILE NAME: a header's value in a curl -D dump.
header() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip"; }
# verify BODY HEADERS WHAT: X-Content-SM3 is the SM3 of the bytes, and the signature over it verifies.
verify() {
        local sum
        sum=$(header "$2" X-Content-SM3)
        assert_eq "$sum" "$(sm3_of "$1")" "$3: X-Content-SM3 is the SM3 of the bytes"
        printf %s "$sum" >"$CB_TMP/digest"
        header "$2" X-Content-Signature | base64 -d >"$CB_TMP/sig.bin"
        if openssl dgst -sm3 -verify etc/dev-keys/dev-checkpoint.pub.pem -sigopt distid:1234567812345678 \
                -signature "$CB_TMP/sig.bin" "$CB_TMP/digest" >/dev/null 2>&1; then
                pass "$3: the signature over the digest verifies with the checkpoint key's public half"
        else
                fail "$3: the signature does not verify"
        fi
}

# kill -9 in the middle of storing the slices: nothing of the close counts.
start_close killed
if wait_closing 30; then
        pass "the close stores its files' slices from a worker as it renders them ($(slices) so far)"
else
        fail "no close under way was seen (slices of $PERIOD: $(slices), closed: $(is_closed))"
fi
curl -sS --max-time 60 -D "$CB_TMP/during.h" -o "$CB_TMP/during.csv" -H "Authorization: Bearer dev-finance" "$STMT?format=csv"
assert_eq "$(header "$CB_TMP/during.h" X-Content-SM3)|$(sha256sum <"$CB_TMP/during.csv")" "|$(sha256sum <"$CB_TMP/mem.csv")" \
        "while the close runs the month is open: an export rates it, the slices are not seen"
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
wait "$close_pid" 2>/dev/null || true
orphans=$(slices)
assert_eq "$(is_closed) $(sql "SELECT COUNT(*) FROM billing_closed_files WHERE period = '$PERIOD'")" \
        "0 0" "kill -9 mid-close: the month stays open, no file named"
assert_eq "$(sql "SELECT COUNT(*) FROM audit WHERE action = 'billing.close' AND outcome = 'ok'")" 0 \
        "... and no billing.close record"
cb_start_daemon
assert_eq "$(slices)" 0 "the start drops the $orphans slices the killed close left"
assert_contains "$(cat "$CB_TMP/daemon.log" 2>/dev/null || true)" "dropped $orphans slice(s)" "... and says so in its log"

# Stopping the daemon (SIGTERM) mid-close: the close gives up, drops what it stored, the month stays open.
start_close stopped
wait_closing 5 || fail "no close under way to stop (slices of $PERIOD: $(slices))"
cb_stop_daemon
wait "$close_pid" 2>/dev/null || true
assert_eq "$(is_closed) $(slices)" "0 0" "SIGTERM mid-close: the daemon stops, the close drops its slices, the month stays open"
cb_start_daemon

# The loop serves while a close runs; a second close meanwhile is 409.
start_close first
wait_closing || true
code=$(curl -sS --max-time 10 -o "$CB_TMP/close2.json" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer dev-finance" "$STMT/close")
if closing; then
        assert_eq "$code $(jq -r .field "$CB_TMP/close2.json")" "409 period" "a second close while one runs: 409 naming period"
else
        fail "the first close was over before the second was asked ($code): not a long close"
fi
worst=0
n_health=0
health=200
while closing && [ "$n_health" -lt 300 ]; do
        h=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{time_total}' "$CB_URL/v1/health" || echo "none 5")
        [ "${h% *}" = 200 ] || health=${h% *}
        ms=$(awk -v t="${h#* }" 'BEGIN { printf "%d", t * 1000 }')
        [ "$ms" -gt "$worst" ] && worst=$ms
        n_health=$((n_health + 1))
        sleep 0.05
done
if [ "$health" = 200 ] && [ "$n_health" -ge 3 ]; then
        pass "GET /v1/health answers while the close stores slices: $n_health times, at worst in $worst ms"
else
        fail "GET /v1/health during the close: $n_health answers, last bad status $health"
fi
wait "$close_pid" || true
assert_eq "$(cat "$CB_TMP/close.first.code")" 200 "the close answers 200 once its files are stored (the connection waited)"
assert_eq "$(jq -r '.period + " " + (.files | length | tostring)' "$CB_TMP/close.first.json")" "$PERIOD 8" \
        "... with its record: the city and 3 departments, CSV and JSON"
n_slices=$(slices)
if [ "$n_slices" -gt 8 ] && [ "$(sql "SELECT COUNT(*) FROM billing_closed_slices WHERE period = '$PERIOD' AND length(data) > 262144")" = 0 ]; then
        pass "the files are stored as $n_slices slices of at most 256 KiB"
else
        fail "slices of $PERIOD: $n_slices, $(sql "SELECT MAX(length(data)) FROM billing_closed_slices") bytes at most"
fi
assert_eq "$(sql "SELECT group_concat(ok, '') FROM (SELECT f.size = COALESCE(SUM(length(s.data)), 0) AND COUNT(s.seq) = MAX(s.seq) + 1 AS ok
        FROM billing_closed_files f LEFT JOIN billing_closed_slices s ON s.period = f.period AND s.department = f.department
        AND s.format = f.format WHERE f.period = '$PERIOD' GROUP BY f.department, f.format)")" 11111111 \
        "each file's slices run 0..n and add up to its stored size"
cb_curl POST "/v1/billing/statements/$PERIOD/close" dev-finance
assert_eq "$CB_STATUS" 200 "closing again answers the first closing"
assert_eq "$(jq -c .files "$CB_TMP/close.first.json")" "$(jq -c .files <<<"$CB_BODY")" "... the same files and digests"

# A closed month streams its stored bytes, slice after slice, under their digest and signature.
curl -sS --max-time 60 -D "$CB_TMP/closed.h" -o "$CB_TMP/closed.csv" -H "Authorization: Bearer dev-finance" \
        "$STMT?format=csv"
if [ "$(wc -c <"$CB_TMP/closed.csv")" -gt $((4 * 262144)) ]; then
        pass "a closed month's CSV is $(wc -c <"$CB_TMP/closed.csv") bytes: several slices"
else
        fail "the closed CSV is only $(wc -c <"$CB_TMP/closed.csv") bytes"
fi
verify "$CB_TMP/closed.csv" "$CB_TMP/closed.h" "REST closed CSV"
assert_eq "$(sha256sum <"$CB_TMP/closed.csv")" "$(sha256sum <"$CB_TMP/mem.csv")" \
        "... the bytes the open month streamed (nothing changed since)"
curl -sS --max-time 60 -D "$CB_TMP/closed-json.h" -o "$CB_TMP/closed.json" -H "Authorization: Bearer dev-finance" \
        "$STMT?format=json"
verify "$CB_TMP/closed.json" "$CB_TMP/closed-json.h" "REST closed JSON"
assert_eq "$(jq -r .closed.csv_sm3 "$CB_TMP/closed.json") $(jq '.lines | length' "$CB_TMP/closed.json")" \
        "$(sm3_of "$CB_TMP/closed.csv") $N" "the closed JSON names its CSV's digest and holds every line"
curl -sS --max-time 60 -D "$CB_TMP/closed-bom.h" -o "$CB_TMP/closed-bom.csv" -H "Authorization: Bearer dev-finance" \
        "$STMT?format=csv&excel=1"
assert_eq "$(head -c 3 "$CB_TMP/closed-bom.csv" | od -An -tx1 | tr -d ' ')|$(tail -c +4 "$CB_TMP/closed-bom.csv" | sha256sum)|$(header "$CB_TMP/closed-bom.h" X-Content-SM3)" \
        "efbbbf|$(sha256sum <"$CB_TMP/closed.csv")|$(sm3_of "$CB_TMP/closed.csv")" \
        "REST excel=1: the byte order mark, then the signed bytes, the same X-Content-SM3"
curl -sS --max-time 60 -D "$CB_TMP/closed-d1.h" -o "$CB_TMP/closed-d1.json" -H "Authorization: Bearer dev-finance" \
        "$STMT?format=json&department=dept-1"
verify "$CB_TMP/closed-d1.json" "$CB_TMP/closed-d1.h" "a department's closed JSON"
# D-Bus: ExportStatement (a pipe) through cloudbrokerctl, and GetStatement (one string) for the CSV under 4 MiB.
for f in csv json; do
        CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing export --period "$PERIOD" --format "$f" \
                --out "$OUTD/closed.$f"
        assert_eq "$(sha256sum <"$OUTD/closed.$f")" "$(sha256sum <"$CB_TMP/closed.$f")" \
                "ExportStatement of the closed month, $f: the bytes REST sends"
done
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing export --period "$PERIOD" --format csv \
        --excel --out "$OUTD/closed-bom.csv"
assert_eq "$(sha256sum <"$OUTD/closed-bom.csv")" "$(sha256sum <"$CB_TMP/closed-bom.csv")" \
        "ExportStatement of the closed month with excel: the byte order mark, then the signed bytes"
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing statement --period "$PERIOD" --format csv \
        >"$CB_TMP/closed-get.csv"
assert_eq "$(sha256sum <"$CB_TMP/closed-get.csv")" "$(sha256sum <"$CB_TMP/closed.csv")" \
        "GetStatement (cloudbrokerctl billing statement) of the closed CSV: the same bytes"
as_uid 1003 busctl --address="$CB_BUS_ADDRESS" --json=short call org.cloudbroker.Broker1 /org/cloudbroker/Broker1 \
        org.cloudbroker.Broker1.Billing ExportStatement "sa{sv}" "$PERIOD" 1 format s json >"$CB_TMP/export.reply" 2>&1 || true
assert_eq "$(jq -r '.data[1].sm3 + " " + (.data[1].signature | length > 0 | tostring)' "$CB_TMP/export.reply")" \
        "$(sm3_of "$CB_TMP/closed.json") true" "ExportStatement's headers carry the closed JSON's digest and a signature"
# --- an upgrade: a closed month stored whole by an older cloudbrokerd -----------------------
# The newest schema before the slices (its billing_closed_files has a body),
# holding this month's files as such a daemon stored them (one TEXT value
# each), and one more file of Chinese text whose slices cut characters.
UP="$CB_TMP/up"
mkdir -p "$UP"
while IFS='|' read -r dept fmt; do
        curl -sS --max-time 60 -D "$UP/${dept:-all}.$fmt.h" -o "$UP/${dept:-all}.$fmt" \
                -H "Authorization: Bearer dev-finance" "$STMT?format=$fmt&department=$dept"
done < <(jq -r '.files[] | .department + "|" + .format' "$CB_TMP/close.first.json")
awk 'BEGIN { for (i = 0; i < 30000; i++) printf "2025-06,教育局,临政信审〔2025〕%d号,\"引号\"\"与逗号,\",数据共享\r\n", i }' >"$UP/dept-zh.csv"
OLD_DB="$CB_TMP/old.db"
old_v=
for k in $(seq 0 8); do
        cb_old_store "latest-$k" "$OLD_DB" || break
        if [ "$(sqlite3 "$OLD_DB" "SELECT COUNT(*) FROM pragma_table_info('billing_closed_files') WHERE name = 'body'")" = 1 ]; then
                old_v=$(sqlite3 "$OLD_DB" "PRAGMA user_version")
                break
        fi
done
if [ -n "$old_v" ]; then pass "set-up: a store at schema $old_v, before the slices"; else fail "set-up: no schema with closed files whole"; fi
sqlite3 -cmd ".timeout 5000" "$OLD_DB" "ATTACH '$CB_DB' AS cur; BEGIN;
        INSERT INTO billing_closed SELECT period, closed_at, closed_by, alg, key_id FROM cur.billing_closed WHERE period = '$PERIOD';
        INSERT INTO billing_closed_files (period, department, format, body, sm3, signature)
        SELECT period, department, format,
               CAST(readfile('$UP/' || CASE department WHEN '' THEN 'all' ELSE department END || '.' || format) AS TEXT),
               sm3, signature FROM cur.billing_closed_files WHERE period = '$PERIOD';
        INSERT INTO billing_closed_files (period, department, format, body, sm3, signature)
        VALUES ('$PERIOD', 'dept-zh', 'csv', CAST(readfile('$UP/dept-zh.csv') AS TEXT), '$(sm3_of "$UP/dept-zh.csv")', 'c2ln');
        COMMIT;"
assert_eq "$(sqlite3 "$OLD_DB" "SELECT COUNT(*), SUM(typeof(body) = 'text') FROM billing_closed_files")" "9|9" \
        "set-up: the old store holds 9 closed files whole, as text"
CUR_DB=$CB_DB
cb_stop_daemon
CB_DB=$OLD_DB
cb_start_daemon
assert_eq "$(sql "PRAGMA user_version") $(sql "SELECT COUNT(*) FROM pragma_table_info('billing_closed_files') WHERE name = 'body'")" \
        "$("$CB_BUILD/tests/make-old-store" --latest) 0" "the daemon migrated it: no file is one value any more"
assert_eq "$(sql "SELECT COUNT(*) || ' ' || MAX(length(data)) FROM billing_closed_slices WHERE department = 'dept-zh'")" \
        "$((($(wc -c <"$UP/dept-zh.csv") + 262143) / 262144)) 262144" "the Chinese file ($(wc -c <"$UP/dept-zh.csv") bytes) is cut into slices of 256 KiB"
cut=$(sql "SELECT COUNT(*) FROM billing_closed_slices WHERE department = 'dept-zh' AND hex(substr(data, 1, 1)) BETWEEN '80' AND 'BF'")
if [ "$cut" -gt 0 ]; then pass "... $cut of them start inside a character"; else fail "no slice of the Chinese file starts inside a character"; fi
same=0
while IFS='|' read -r dept fmt; do
        curl -sS --max-time 60 -D "$UP/after.h" -o "$UP/after" -H "Authorization: Bearer dev-finance" \
                "$STMT?format=$fmt&department=$dept"
        if cmp -s "$UP/after" "$UP/${dept:-all}.$fmt" &&
                [ "$(header "$UP/after.h" X-Content-SM3)" = "$(header "$UP/${dept:-all}.$fmt.h" X-Content-SM3)" ] &&
                [ "$(header "$UP/after.h" X-Content-Signature)" = "$(header "$UP/${dept:-all}.$fmt.h" X-Content-Signature)" ]; then
                same=$((same + 1))
        else
                fail "after the upgrade, ${dept:-all}.$fmt differs ($(wc -c <"$UP/after") bytes, was $(wc -c <"$UP/${dept:-all}.$fmt"))"
        fi
done < <(jq -r '.files[] | .department + "|" + .format' "$CB_TMP/close.first.json")
assert_eq "$same" 8 "after the upgrade all 8 closed files export the same bytes, digests and signatures"
curl -sS --max-time 60 -D "$UP/zh.h" -o "$UP/zh.after" -H "Authorization: Bearer dev-finance" "$STMT?format=csv&department=dept-zh"
assert_eq "$(sha256sum <"$UP/zh.after") $(header "$UP/zh.h" X-Content-SM3)" \
        "$(sha256sum <"$UP/dept-zh.csv") $(sm3_of "$UP/dept-zh.csv")" "... and the Chinese one, its characters cut across slices, byte for byte"
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing export --period "$PERIOD" --format json \
        --out "$OUTD/upgraded.json"
assert_eq "$(sha256sum <"$OUTD/upgraded.json")" "$(sha256sum <"$UP/all.json")" "ExportStatement after the upgrade: the same JSON"
verify "$UP/after" "$UP/after.h" "the last file after the upgrade"
cb_stop_daemon
CB_DB=$CUR_DB
cb_start_daemon

# --- clients that go away -------------------------------------------------------------------
for i in 1 2 3 4; do
        curl -sS --max-time 1 --limit-rate 2k -o /dev/null -H "Authorization: Bearer dev-finance" \
                "$STMT?format=json" 2>/dev/null || true
done
code=""
for _ in $(seq 50); do
        code=$(curl -sS --max-time 60 -o "$CB_TMP/after.csv" -w '%{http_code}' \
                -H "Authorization: Bearer dev-finance" "$STMT?format=csv" || echo none)
        [ "$code" = 200 ] && break
        sleep 0.2
done
assert_eq "$code" 200 "after 4 clients that went away mid-export, an export is served again"
assert_eq "$(sha256sum <"$CB_TMP/after.csv")" "$(sha256sum <"$CB_TMP/mem.csv")" "... whole"

# --- stopping with a stalled export ---------------------------------------------------------
curl -sS --max-time 60 --limit-rate 1k -o /dev/null -H "Authorization: Bearer dev-finance" \
        "$STMT?format=json" 2>/dev/null &
stall_pid=$!
CB_PIDS+=("$stall_pid")
sleep 0.5
cb_stop_daemon
kill "$stall_pid" 2>/dev/null || true
wait "$stall_pid" 2>/dev/null || true

# --- an export that fails after its first byte ----------------------------------------------
# The database goes bad under a slow export (its file cut to a quarter: the
# pages not read yet are gone). The status line was sent: the client must
# see an error, not a clean end of a shorter statement. The open month is
# rated from the store (a closed one is stored bytes): a month of its own.
sql "UPDATE resources SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', created_at, '+30 days') WHERE id LIKE 'r-%';
        UPDATE usage_segments SET start_at = strftime('%Y-%m-%dT%H:%M:%SZ', start_at, '+30 days') WHERE resource_id LIKE 'r-%';"
cb_start_daemon
for fmt in csv; do
        curl -sS --max-time 60 --limit-rate 200k -o "$CB_TMP/bad.$fmt" -H "Authorization: Bearer dev-finance" \
                "$CB_URL/v1/billing/statements/2025-07?format=$fmt" 2>"$CB_TMP/bad.$fmt.err" &
        bad_pid=$!
        CB_PIDS+=("$bad_pid")
        for _ in $(seq 100); do
                [ -s "$CB_TMP/bad.$fmt" ] && break
                sleep 0.05
        done
        truncate -s $(($(stat -c %s "$CB_DB") / 4)) "$CB_DB"
        rc=0
        wait "$bad_pid" || rc=$?
        if [ "$rc" -ne 0 ] && [ "$(wc -l <"$CB_TMP/bad.$fmt")" -gt 1 ] && [ "$(wc -l <"$CB_TMP/bad.$fmt")" -le "$N" ]; then
                pass "a $fmt export failing after $(wc -l <"$CB_TMP/bad.$fmt") lines ends in an error for the client (curl exit $rc: $(head -c 100 "$CB_TMP/bad.$fmt.err"))"
        else
                fail "a $fmt export failing mid-way: curl exit $rc, $(wc -c <"$CB_TMP/bad.$fmt") bytes, $(head -c 200 "$CB_TMP/bad.$fmt.err")"
        fi
done
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true

cb_done
