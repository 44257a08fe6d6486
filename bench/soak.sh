#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Soak: one daemon under bounded, mixed load for SOAK_SECONDS, its memory and
# file descriptors sampled from /proc/PID every SAMPLE_SECONDS. Four load
# workers run side by side until the deadline:
#   catalog    batches of GET /v1/catalog, GET /v1/catalog/services/ecs-general
#              (200) and an unknown service (404) on one keep-alive connection
#   evaluate   batches of POST /v1/policy/evaluate, allowed and refused (200)
#   provision  VM cycles on libvirt's test driver: POST /v1/resources (202),
#              active, stop (202), stopped, DELETE (202), deleted
#   dbus       busctl on the private bus: Catalog.GetService and
#              Resources.ListResources as the operator (UID 0),
#              Policy.Evaluate as edu (UID 1001), Introspect
# Every answer is compared with the status it should have; any other answer,
# a time-out or a failed busctl is an error.
#
# Targets (exit status 1 when one is missed): after the warm-up, RSS grows
# less than 5 % over the second half of the run (its largest sample against
# its first); the fd count is flat (the second half's lowest and highest
# counts at most 2 above the first half's, for connections in flight at a
# sample; after the load the idle count is back where it was before, which
# any descriptor leaked is not); no errors; every worker
# did some work; the daemon exits 0 on SIGTERM.
#
# Usage: bench/soak.sh [BUILD_DIR]
# Knobs: SOAK_SECONDS (600), SAMPLE_SECONDS (5), WARMUP_SECONDS (a tenth of
# the run, at least 5), PACE (0.1: seconds each worker rests between batches),
# SOAK_WORKERS (the workers to run: "catalog evaluate provision dbus").
# Everything runs on 127.0.0.1 and a private dbus-daemon (tests/integration/
# lib.sh starts both and ends them, and every worker, by PID). Results also
# go to BUILD_DIR/bench/soak.result and BUILD_DIR/bench/soak.samples.

set -euo pipefail

cd "$(dirname "$0")/.."
. tests/integration/lib.sh

SOAK_SECONDS=${SOAK_SECONDS:-600}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-5}
WARMUP_SECONDS=${WARMUP_SECONDS:-$((SOAK_SECONDS / 10 > 5 ? SOAK_SECONDS / 10 : 5))}
PACE=${PACE:-0.1}
# Which workers run (all four by default; fewer to find what a growth follows).
SOAK_WORKERS=${SOAK_WORKERS:-catalog evaluate provision dbus}

for tool in curl jq busctl dbus-daemon; do
        command -v "$tool" >/dev/null || { echo "soak.sh: $tool is not installed" >&2; exit 1; }
done
if [ "$SOAK_SECONDS" -lt 20 ] || [ "$SOAK_SECONDS" -gt 86400 ] || [ "$WARMUP_SECONDS" -ge $((SOAK_SECONDS / 2)) ]; then
        echo "soak.sh: SOAK_SECONDS must be 20..86400 and WARMUP_SECONDS under half of it" >&2
        exit 1
fi

cb_setup "${1:-build}"
mkdir -p "$CB_BUILD/bench"
cb_start_bus
cb_start_daemon

PROJECT=soak
SYSTEM=soak-sys
PLAN=ecs-general-1c2g
cb_add_system "$SYSTEM"
cb_approve "$PROJECT" "soak-1" "$SYSTEM" "[{\"service_id\": \"ecs-general\", \"plan_id\": \"$PLAN\", \"quantity\": 10}]"
[ "$CB_FAILS" -eq 0 ] || { echo "soak.sh: set-up failed" >&2; exit 1; }

EVAL_OK="{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"ecs-general\",\"plan_id\":\"$PLAN\",\"quantity\":1}"
EVAL_DENIED="{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"ecs-general\",\"plan_id\":\"$PLAN\",\"quantity\":11}"
W=$CB_TMP/soak
mkdir -p "$W"

# --- workers: each counts its answers and writes them to W/NAME.count at the end ---

ok=0
bad=0
# check NAME GOT EXPECTED: one answer.
check() {
        if [ "$2" = "$3" ]; then
                ok=$((ok + 1))
        else
                bad=$((bad + 1))
                [ "$bad" -le 20 ] && echo "$1: got '$2', expected '$3'" >>"$W/$1.errors"
        fi
        return 0
}
# check_codes NAME "GOT..." "EXPECTED...": a batch, position by position.
check_codes() {
        local -a got want
        read -r -a got <<<"$2"
        read -r -a want <<<"$3"
        local i
        for i in "${!want[@]}"; do
                check "$1" "${got[$i]:-none}" "${want[$i]}"
        done
        [ "${#got[@]}" -le "${#want[@]}" ] || check "$1" "${#got[@]} answers" "${#want[@]} answers"
}
worker_end() {
        echo "$ok $bad" >"$W/$1.count"
}
alive() {
        [ "$(date +%s)" -lt "$END" ]
}

w_catalog() {
        local args=() exp='' i
        for i in $(seq 40); do args+=(-o /dev/null "$CB_URL/v1/catalog") && exp+="200 "; done
        for i in $(seq 5); do
                args+=(-o /dev/null "$CB_URL/v1/catalog/services/ecs-general" -o /dev/null "$CB_URL/v1/catalog/services/no-such")
                exp+="200 404 "
        done
        while alive; do
                check_codes catalog "$(curl -s --max-time 30 -H 'Authorization: Bearer dev-edu' -w '%{http_code} ' "${args[@]}" || true)" "$exp"
                sleep "$PACE"
        done
        worker_end catalog
}

w_evaluate() {
        local args=() exp='' i
        for i in $(seq 25); do args+=(-o /dev/null "$CB_URL/v1/policy/evaluate") && exp+="200 "; done
        while alive; do
                for body in "$EVAL_OK" "$EVAL_DENIED"; do
                        check_codes evaluate "$(curl -s --max-time 30 -X POST -H 'Authorization: Bearer dev-edu' \
                                -H 'Content-Type: application/json' --data-binary "$body" -w '%{http_code} ' "${args[@]}" || true)" "$exp"
                done
                # and what the two decisions say
                CB_WORKER=evaluate cb_curl POST /v1/policy/evaluate dev-edu "$EVAL_OK"
                check evaluate "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .allowed 2>/dev/null)" "200 true"
                CB_WORKER=evaluate cb_curl POST /v1/policy/evaluate dev-edu "$EVAL_DENIED"
                check evaluate "$CB_STATUS $(printf %s "$CB_BODY" | jq -r '[.allowed, .violations[0].code] | join(" ")' 2>/dev/null)" \
                        "200 false QUANTITY_EXCEEDED"
                sleep "$PACE"
        done
        worker_end evaluate
}

# wait_for ID STATE: cb_wait_state as this worker, counted.
wait_for() {
        CB_WORKER=provision cb_wait_state "$1" "$2" 10 || true
        check provision "$1 $GOT" "$1 $2"
}

w_provision() {
        local n=0 id
        export CB_WORKER=provision
        while alive; do
                n=$((n + 1))
                cb_curl POST /v1/resources dev-edu \
                        "{\"project_id\":\"$PROJECT\",\"system_id\":\"$SYSTEM\",\"service_id\":\"ecs-general\",\"plan_id\":\"$PLAN\",\"name\":\"soak-$n\"}" \
                        -H "Idempotency-Key: soak-$n"
                check provision "request $CB_STATUS" "request 202"
                id=$(printf %s "$CB_BODY" | jq -r '.id // empty' 2>/dev/null || true)
                [ -n "$id" ] || continue
                wait_for "$id" active
                cb_curl POST "/v1/resources/$id/actions" dev-edu '{"action":"stop"}'
                check provision "stop $CB_STATUS" "stop 202"
                wait_for "$id" stopped
                cb_curl DELETE "/v1/resources/$id" dev-edu
                check provision "delete $CB_STATUS" "delete 202"
                wait_for "$id" deleted
                echo "$n" >"$W/cycles"
                sleep "$PACE"
        done
        worker_end provision
}

w_dbus() {
        local rc
        while alive; do
                rc=0
                cb_busctl --timeout=10 call org.cloudbroker.Broker1 /org/cloudbroker/Broker1 \
                        org.cloudbroker.Broker1.Catalog GetService s ecs-general >/dev/null 2>>"$W/dbus.stderr" || rc=$?
                check dbus "GetService $rc" "GetService 0"
                rc=0
                cb_busctl --timeout=10 call org.cloudbroker.Broker1 /org/cloudbroker/Broker1 \
                        org.cloudbroker.Broker1.Resources ListResources >/dev/null 2>>"$W/dbus.stderr" || rc=$?
                check dbus "ListResources $rc" "ListResources 0"
                rc=0
                as_uid 1001 busctl --address="$CB_BUS_ADDRESS" --timeout=10 call org.cloudbroker.Broker1 \
                        /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Policy Evaluate s "$EVAL_OK" \
                        >"$W/dbus.eval" 2>>"$W/dbus.stderr" || rc=$?
                check dbus "Evaluate $rc $(grep -c '\\"allowed\\":true' "$W/dbus.eval" || true)" "Evaluate 0 1"
                rc=0
                cb_busctl --timeout=10 introspect org.cloudbroker.Broker1 /org/cloudbroker/Broker1 >/dev/null \
                        2>>"$W/dbus.stderr" || rc=$?
                check dbus "Introspect $rc" "Introspect 0"
                sleep "$PACE"
        done
        worker_end dbus
}

# --- the run ------------------------------------------------------------------------

sample() { # prints "seconds rss_kib fds anon_kib file_kib shmem_kib"
        local rss fds
        rss=$(awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} /^RssShmem:/ {s = $2}
                   END {print r; print a " " f " " s}' "/proc/$CB_PID/status")
        fds=$(find "/proc/$CB_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
        echo "$(($(date +%s) - START)) ${rss%%$'\n'*} $fds ${rss#*$'\n'}"
}

sleep 1
START=$(date +%s)
idle_before=$(sample)
END=$((START + SOAK_SECONDS))
export END
WORKERS=()
for w in $SOAK_WORKERS; do
        case "$w" in catalog | evaluate | provision | dbus) ;; *) echo "soak.sh: unknown worker $w" >&2 && exit 1 ;; esac
        "w_$w" &
        WORKERS+=($!)
        CB_PIDS+=($!)
done
echo "soak: $SOAK_SECONDS s of mixed load on pid $CB_PID (warm-up $WARMUP_SECONDS s, a sample every $SAMPLE_SECONDS s)"

: >"$W/samples"
while alive; do
        kill -0 "$CB_PID" 2>/dev/null || break
        sample >>"$W/samples"
        sleep "$SAMPLE_SECONDS"
done
# The workers stop at END by themselves; a worker still running a minute
# later is stuck, and its count is missing (an error).
for pid in "${WORKERS[@]}"; do
        for _ in $(seq 600); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
done
sleep 2
daemon_alive=yes
kill -0 "$CB_PID" 2>/dev/null || daemon_alive=no
idle_after=$([ "$daemon_alive" = yes ] && sample || echo "0 0 0")

# --- figures --------------------------------------------------------------------------

total_ok=0
total_bad=0
summary=
for w in $SOAK_WORKERS; do
        read -r o b <"$W/$w.count" 2>/dev/null || { o=0; b=1; echo "$w: no count (stuck or killed)" >>"$W/$w.errors"; }
        total_ok=$((total_ok + o))
        total_bad=$((total_bad + b))
        summary+=$(printf '  %-10s %8d answers as expected, %d not\n' "$w" "$o" "$b")$'\n'
        [ "$o" -gt 0 ] || { total_bad=$((total_bad + 1)); echo "$w: did no work" >>"$W/$w.errors"; }
done
cycles=$(cat "$W/cycles" 2>/dev/null || echo 0)

mid=$((WARMUP_SECONDS + (SOAK_SECONDS - WARMUP_SECONDS) / 2))
read -r rss_warm rss_mid rss_max2 rss_end rss_peak fd_min1 fd_max1 fd_min2 fd_max2 nsamples < <(awk -v w="$WARMUP_SECONDS" -v m="$mid" '
        $1 >= w && !havew { rw = $2; havew = 1 }
        $1 >= w && $1 < m { if (!h1 || $3 < mn1) mn1 = $3; if (!h1 || $3 > mx1) mx1 = $3; h1 = 1 }
        $1 >= m { if (!h2) rm = $2; if (!h2 || $2 > rx2) rx2 = $2; if (!h2 || $3 < mn2) mn2 = $3; if (!h2 || $3 > mx2) mx2 = $3; h2 = 1 }
        { if ($2 > peak) peak = $2; last = $2; n++ }
        END { printf "%d %d %d %d %d %d %d %d %d %d\n", rw, rm, rx2, last, peak, mn1, mx1, mn2, mx2, n }' "$W/samples")

growth=$(awk -v a="$rss_mid" -v b="$rss_max2" 'BEGIN { printf "%.2f", (a > 0) ? (b - a) * 100 / a : 999 }')
fd_idle_before=$(echo "$idle_before" | awk '{print $3}')
fd_idle_after=$(echo "$idle_after" | awk '{print $3}')

verdicts=()
rss_ok=$(awk -v g="$growth" 'BEGIN { print (g < 5) ? "yes" : "no" }')
verdicts+=("RSS growth over the second half < 5 %: $rss_ok ($growth %)")
fd_ok=no
if [ "$nsamples" -gt 0 ] && [ "$fd_min2" -le $((fd_min1 + 2)) ] && [ "$fd_max2" -le $((fd_max1 + 2)) ] &&
        [ "$fd_idle_after" -le "$fd_idle_before" ]; then
        fd_ok=yes
fi
verdicts+=("fd count flat: $fd_ok (first half $fd_min1-$fd_max1, second half $fd_min2-$fd_max2, idle $fd_idle_before before, $fd_idle_after after)")
err_ok=$([ "$total_bad" -eq 0 ] && echo yes || echo no)
verdicts+=("no errors: $err_ok ($total_ok answers as expected, $total_bad not)")

# A text plot of RSS over time: one column per slice of the run (its largest
# sample), one row per step between the lowest and the highest sample.
plot() {
        awk -v cols=60 -v rows=10 -v T="$SOAK_SECONDS" -v w="$WARMUP_SECONDS" -v m="$mid" '
        { t[NR] = $1; r[NR] = $2; if (NR == 1 || $2 < lo) lo = $2; if ($2 > hi) hi = $2 }
        END {
                if (NR == 0) exit
                if (hi == lo) hi = lo + 1
                for (i = 1; i <= NR; i++) {
                        c = int(t[i] * cols / T); if (c >= cols) c = cols - 1
                        if (!(c in v) || r[i] > v[c]) v[c] = r[i]
                }
                # a column between two samples shows the one before it
                for (c = 1; c < cols; c++)
                        if (!(c in v) && (c - 1) in v && c * T / cols <= t[NR])
                                v[c] = v[c - 1]
                for (y = rows; y >= 1; y--) {
                        level = lo + (hi - lo) * (y - 0.5) / rows
                        line = ""
                        for (c = 0; c < cols; c++)
                                line = line ((c in v) ? (v[c] >= level ? "#" : " ") : " ")
                        label = (y == rows) ? sprintf("%7.1f MiB", hi / 1024) : (y == 1) ? sprintf("%7.1f MiB", lo / 1024) : ""
                        printf "  %11s |%s\n", label, line
                }
                axis = ""
                for (c = 0; c < cols; c++)
                        axis = axis ((c == int(w * cols / T)) ? "w" : (c == int(m * cols / T)) ? "m" : "-")
                printf "  %11s +%s\n", "", axis
                printf "  %11s  0 s%" (cols - 3) "s\n", "", T " s"
                printf "  %11s  w: end of warm-up, m: start of the second half\n", ""
        }' "$W/samples"
}

{
        echo "== soak: $SOAK_SECONDS s, $(wc -l <"$W/samples") samples, $cycles provision/stop/delete cycles"
        printf '%s' "$summary"
        echo "  RSS: $((rss_warm / 1024)) MiB after warm-up, $((rss_mid / 1024)) MiB at the second half's start," \
                "$((rss_max2 / 1024)) MiB its highest, $((rss_end / 1024)) MiB at the end, peak $((rss_peak / 1024)) MiB" \
                "(kB: $rss_warm $rss_mid $rss_max2 $rss_end)"
        awk -v m="$mid" '$1 >= m && !h { a = $4; f = $5; s = $6; h = 1 } { la = $4; lf = $5; ls = $6 }
                END { printf "  of which over the second half: heap and other anonymous %+d kB, files %+d kB, shared %+d kB\n", la - a, lf - f, ls - s }' "$W/samples"
        echo "  RSS over time:"
        plot
        for v in "${verdicts[@]}"; do echo "  $v"; done
} | tee "$CB_BUILD/bench/soak.result"
cp "$W/samples" "$CB_BUILD/bench/soak.samples"
cat "$W"/*.errors 2>/dev/null | head -n 20 | sed 's/^/  error: /' || true

if [ "$daemon_alive" = yes ]; then
        cb_stop_daemon
else
        fail "the daemon died during the soak"
fi
[ "$rss_ok" = yes ] || fail "RSS grew $growth % over the second half"
[ "$fd_ok" = yes ] || fail "the fd count is not flat"
[ "$err_ok" = yes ] || fail "$total_bad answers were not the expected ones"
cb_done
