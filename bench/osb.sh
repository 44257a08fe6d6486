#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# OSB round trips: ROUNDS (5) x COUNT (20) cycles of an http plan
# (rds-mysql-2c4g on linfen-paas) through cloudbrokerd's REST API, beside
# the same cycles made straight to the test OSB provider (tests/osb-provider)
# in the same run, twice: with the in-memory provider (issue 10's
# reference: the target is measured against it, and only against it), and
# with a second provider started with --state FILE in the bench's temporary
# folder, on the same filesystem as the broker's database, which appends
# each change to FILE and fdatasyncs it before it answers, as a provider
# that keeps its promises on disk would (for comparison: four fdatasyncs a
# cycle, like the broker's four durable commits). The broker has both as
# http providers: linfen-paas (in-memory) for rds-mysql-2c4g, and
# linfen-paas-sync (durable) for rds-mysql-sync-2c4g, a copy of that plan
# added to a copy of the catalogue seed in the temporary folder. Synchronous
# provider answers (async_ms 0), so what is measured is the broker's own
# path: policy, record, audit, the provider round trip on the loop, the
# state change, the commits. One request at a time.
#
# What is compared: the round trips themselves, as curl reports them
# (%{time_total} of each request), summed per kind. Both sides are driven by
# the same client (one curl process a request); an earlier version compared
# the wall clock of the two loops, and the broker's loop spent five times the
# direct loop's time starting curl and jq processes (4 curl + 4 jq a cycle
# against 2 curl), not in the broker: on a loaded 2-CPU machine a
# curl|jq pair costs ~35 ms, the broker's POST ~2.5 ms. The wall clock is
# still printed, labelled as such.
#
#   provision   broker: POST /v1/resources with "Prefer: wait=30" (RFC 7240:
#               the answer is held until the operation ended, 201 once the
#               resource is active: what a client that wants its database
#               does instead of polling); only after a 202 (the wait ran out)
#               GETs of the record until "active";  direct: PUT instance
#               (the provider answers synchronously, 201 once it exists)
#   poll        broker: GET /v1/resources/{id};  direct: GET last_operation
#   bind        broker: POST /v1/resources/{id}/bindings (201, bound at once);
#               direct: PUT .../service_bindings/ID
#   unbind      broker: DELETE .../bindings/{bid} (200);  direct: DELETE ...
#   deprovision broker: DELETE with "Prefer: wait=30" (200 once deleted; GETs
#               until "deleted" only after a 202);  direct: DELETE (200)
# So on both sides a cycle is five requests when nothing is slow (FACE=v1).
# Target (issue 10): within 1.5x of the direct calls. What the broker cannot
# shed: four durable flushes a cycle (the order, bind, unbind and
# deprovision records are on disk before the provider is asked, so that a
# power cut leaves nothing at the provider the broker does not know of),
# each an fdatasync of the WAL on the critical path of its request (0.4 to
# 0.9 ms on the test machines); the provider's answers are committed relaxed.
#
# Rounds alternate (ABCD ABCD ...: broker with the in-memory provider, that
# provider direct, broker with the durable provider, that provider direct)
# and the figures are medians over the rounds, so that a change of load on
# this shared machine moves all sides alike; two ratios are printed, each
# labelled: A/B, against the in-memory provider (the target's), and C/D,
# against the durable one (not the target; the broker in front of the
# durable provider pays the provider's fdatasyncs too, as it would in
# front of a real provider). A/D is printed too. The durable provider's
# fdatasyncs a cycle (its GET /control "state_syncs"), the daemon's and the
# providers' CPU a request and a cycle (time on a CPU from
# /proc/PID/task/*/schedstat around each request, in ns) and the load
# average are printed beside the wall-clock rates. The broker's fdatasyncs are not counted here (the
# daemon does not publish its count; OSB_TRACE="strace -c ..." does).
#
# Round E, the floor (when nginx is installed; make bench installs it): the
# direct rounds' requests again, through nginx as a reverse proxy in front
# of the in-memory provider (one worker, keep-alive to the provider, no
# log, nothing stored), so that the output also says what one more HTTP
# hop costs by itself (E/B) and how far the broker is above that hop (A/E).
# Not the target, which stays A/B. ABCDE x ROUNDS; E's answers are checked
# like B's, so a relay that fails makes the bench fail.
#
# Usage: bench/osb.sh [BUILD_DIR]     Environment: COUNT (20), ROUNDS (5), MAX_S (900),
#   CHECKPOINT_EVERY (1000, the shipped audit.checkpoint_every),
#   FACE (v1: the department's REST calls below; v2: the same cycle as a
#   platform's OSB calls to the broker's /v2, request for request the ones
#   the direct rounds send, plus last_operation GETs after a 202)
#   OSB_TRACE="strace -c -f -o FILE -p" (or "perf record -g -o FILE -p"): a
#   command started with the daemon's PID appended once the daemon is up,
#   before the first round, and ended by its PID (SIGINT) after the last, so
#   that what it records is the rounds alone (the direct rounds included:
#   the daemon is idle then).
# Everything listens on 127.0.0.1; every wait is bounded; processes end by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
cb_setup "${1:-build}"
COUNT=${COUNT:-20}   # cycles a round
ROUNDS=${ROUNDS:-5}  # round quadruples (ABCD, see above); medians over them
MAX_S=${MAX_S:-900}  # the whole bench ends after this many seconds, finished or not
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-1000}
FACE=${FACE:-v1}     # v1: a department's REST calls; v2: a platform's OSB calls
case "$FACE" in v1 | v2) ;; *) echo "osb.sh: FACE must be v1 or v2" >&2; exit 1 ;; esac
for v in COUNT ROUNDS MAX_S CHECKPOINT_EVERY; do
        case "${!v}" in '' | *[!0-9]* | 0) echo "osb.sh: $v must be a positive number" >&2; exit 1 ;; esac
done

# The durable provider first, its state file beside the broker's database
# ($CB_TMP, cb_start_daemon's CB_DB); then the in-memory one, whose
# OSB_URL/OSB_PID the broker's config and the reference rounds use.
cb_start_osb_provider --state "$CB_TMP/provider-state.jsonl"
DUR_URL=$OSB_URL DUR_PID=$OSB_PID
cb_start_osb_provider
MEM_URL=$OSB_URL MEM_PID=$OSB_PID
STATE_FS=$(stat -f -c %T "$CB_TMP")
# The tests' config, but with the shipped checkpoint_every (etc/cloudbroker.conf,
# AUDIT_CHECKPOINT_EVERY): the tests' 5 signs a checkpoint (an SM2 signature
# and an fdatasync) every fifth audit record, about one a cycle, which no
# installation does. CHECKPOINT_EVERY=5 measures that case.
# The catalogue seed is the shipped one plus rds-mysql-sync: rds-mysql's
# 2c4g plan again, on a second http provider, linfen-paas-sync, which is the
# durable test provider (the same remote service and plan ids), so that the
# broker can also be measured in front of a provider that syncs.
mkdir "$CB_TMP/catalog"
cp etc/catalog/*.json "$CB_TMP/catalog/"
jq '.id = "rds-mysql-sync" | .name = "mysql-db-sync" | .display_name += "（同步落盘）"
    | .plans = [.plans[] | select(.id == "rds-mysql-2c4g")
                | .id = "rds-mysql-sync-2c4g" | .name = "mysql-sync-2c4g" | .spec.provider = "linfen-paas-sync"]' \
        etc/catalog/rds-mysql.json >"$CB_TMP/catalog/rds-mysql-sync.json"
sed -e '/^providers = (/,/^);/d' -e "s#\"\.\./\.\./#\"$PWD/#g" \
        -e "s#^catalog_seed = .*#catalog_seed = \"$CB_TMP/catalog\";#" \
        -e "s/^\( *checkpoint_every = \)[0-9]*;/\1$CHECKPOINT_EVERY;/" tests/integration/test.conf >"$CB_TMP/osb.conf"
grep -q "^ *checkpoint_every = $CHECKPOINT_EVERY;" "$CB_TMP/osb.conf" ||
        { echo "osb.sh: cannot set checkpoint_every in the tests' config" >&2; exit 1; }
grep -q "^catalog_seed = \"$CB_TMP/catalog\";" "$CB_TMP/osb.conf" ||
        { echo "osb.sh: cannot set catalog_seed in the tests' config" >&2; exit 1; }
cat >>"$CB_TMP/osb.conf" <<EOF
providers = (
  { name = "linfen-paas"; driver = "http"; url = "$MEM_URL"; username = "cb"; password = "cb-osb-secret";
    api_version = "2.17"; },
  { name = "linfen-paas-sync"; driver = "http"; url = "$DUR_URL"; username = "cb"; password = "cb-osb-secret";
    api_version = "2.17"; }
);
EOF
CB_CONFIG=$CB_TMP/osb.conf
cb_start_daemon >/dev/null
# The floor (round E): nginx as a reverse proxy in front of the in-memory
# provider, one worker, keep-alive connections to the provider, nothing
# logged or stored: what one more HTTP hop costs when it does nothing else.
# Without nginx (make bench installs it) the floor is left out, said so.
RELAY_URL= RELAY_PID= RELAY_WORKER=
if command -v nginx >/dev/null; then
        mkdir "$CB_TMP/nginx-temp"
        RELAY_PORT=$(cb_free_port)
        cat >"$CB_TMP/nginx.conf" <<EOF
worker_processes 1;
master_process on;
daemon off;
pid $CB_TMP/nginx.pid;
error_log $CB_TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
        access_log off;
        client_body_temp_path $CB_TMP/nginx-temp/body;
        proxy_temp_path $CB_TMP/nginx-temp/proxy;
        fastcgi_temp_path $CB_TMP/nginx-temp/fastcgi;
        uwsgi_temp_path $CB_TMP/nginx-temp/uwsgi;
        scgi_temp_path $CB_TMP/nginx-temp/scgi;
        upstream provider { server ${MEM_URL#http://}; keepalive 16; }
        server {
                listen 127.0.0.1:$RELAY_PORT;
                location / {
                        proxy_pass http://provider;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_read_timeout 30s;
                }
        }
}
EOF
        nginx -p "$CB_TMP" -e "$CB_TMP/nginx-error.log" -c "$CB_TMP/nginx.conf" >"$CB_TMP/nginx.out" 2>&1 &
        RELAY_PID=$!
        CB_PIDS+=("$RELAY_PID")
        RELAY_URL="http://127.0.0.1:$RELAY_PORT"
        code=
        for _ in $(seq 1 100); do
                code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -u cb:cb-osb-secret \
                        -H 'X-Broker-API-Version: 2.17' "$RELAY_URL/v2/catalog" || true)
                [ "$code" = 200 ] && break
                sleep 0.1
        done
        [ "$code" = 200 ] || { echo "osb.sh: nginx does not relay to the provider ($code)" >&2; exit 1; }
        RELAY_WORKER=$(tr ' ' '\n' </proc/"$RELAY_PID"/task/"$RELAY_PID"/children | grep -m1 . || true)
        [ -n "$RELAY_WORKER" ] || { echo "osb.sh: no nginx worker under $RELAY_PID" >&2; exit 1; }
else
        echo "osb.sh: nginx not installed: round E (the floor) left out" >&2
fi
cb_wait_provider linfen-paas 20 || { echo "osb.sh: the provider did not connect" >&2; exit 1; }
cb_wait_provider linfen-paas-sync 20 || { echo "osb.sh: the durable provider did not connect" >&2; exit 1; }
cb_add_system bench-db >/dev/null
cb_approve bench-osb "临政信审〔$(date +%Y)〕90号" bench-db \
        "[{\"service_id\": \"rds-mysql\", \"plan_id\": \"rds-mysql-2c4g\", \"quantity\": $((COUNT * ROUNDS + 1))},
          {\"service_id\": \"rds-mysql-sync\", \"plan_id\": \"rds-mysql-sync-2c4g\", \"quantity\": $((COUNT * ROUNDS + 1))}]" >/dev/null

DEADLINE=$(($(date +%s) + MAX_S))
past_deadline() { [ "$(date +%s)" -lt "$DEADLINE" ] || { echo "osb.sh: over MAX_S=$MAX_S s, stopped" >&2; exit 1; }; }

# CPU of a process in nanoseconds: the time on a CPU of each of its threads
# (the first field of /proc/PID/task/TID/schedstat, exact, where the ticks
# of /proc/PID/stat are 10 ms), read with builtins only so that measuring
# forks nothing.
cpu_of() { # PID VAR: VAR = the nanoseconds PID has run so far
        local t ns sum=0
        for t in /proc/"$1"/task/*/schedstat; do
                { read -r ns _ <"$t"; } 2>/dev/null || continue # a thread that ended in between
                sum=$((sum + ns))
        done
        printf -v "$2" %d "$sum"
}

OUT="$CB_TMP/rt.out"
# Per kind K: US_K microseconds of round trips, N_K requests, DC_K / PC_K
# nanoseconds of the daemon's / the provider's CPU during those requests
# (the provider of the round: PROV_PID).
PROV_PID=$MEM_PID
declare -A US N DC PC
KIND=
CODE= # the HTTP status of the last request
MID_PID=$CB_PID # what stands between client and provider: the daemon, or nginx's worker in round E
rt() { # curl ARGS...: one request of kind $KIND; its answer in $OUT
        local t d0 p0 d1 p1
        cpu_of "$MID_PID" d0
        cpu_of "$PROV_PID" p0
        read -r t CODE < <(curl -s --max-time 30 -o "$OUT" -w '%{time_total} %{http_code}\n' "$@")
        cpu_of "$MID_PID" d1
        cpu_of "$PROV_PID" p1
        US[$KIND]=$((${US[$KIND]:-0} + $(awk -v t="$t" 'BEGIN { printf "%d", t * 1000000 }')))
        N[$KIND]=$((${N[$KIND]:-0} + 1))
        DC[$KIND]=$((${DC[$KIND]:-0} + d1 - d0))
        PC[$KIND]=$((${PC[$KIND]:-0} + p1 - p0))
}
GETS=0 # GETs of the record while waiting
wait_state() { # ID STATE: GETs the record until STATE, 2000 GETs at most
        local s
        for _ in $(seq 1 2000); do
                rt -H 'Authorization: Bearer dev-edu' "$CB_URL/v1/resources/$1"
                GETS=$((GETS + 1))
                s=$(jq -r .state "$OUT")
                [ "$s" = "$2" ] && return 0
        done
        echo "osb.sh: $1 never became $2 (last $s)" >&2
        exit 1
}

A=(-H 'Authorization: Bearer dev-edu')
# broker_round R X SERVICE: COUNT cycles through the broker, kinds X.*, of
# SERVICE's 2c4g plan (rds-mysql: the in-memory provider behind the broker;
# rds-mysql-sync: the durable one).
broker_round() {
        local id bid body
        body="{\"project_id\": \"bench-osb\", \"system_id\": \"bench-db\", \"service_id\": \"$3\", \"plan_id\": \"$3-2c4g\", \"name\": \"bench\"}"
        for _ in $(seq 1 "$COUNT"); do
                past_deadline
                KIND=$2.prov
                rt "${A[@]}" -H 'Prefer: wait=30' -X POST -H 'Content-Type: application/json' --data-binary "$body" "$CB_URL/v1/resources"
                id=$(jq -r .id "$OUT")
                case "$CODE" in
                201) ;;
                202) wait_state "$id" active ;; # the wait ran out (or the broker ignored it)
                *) echo "osb.sh: POST /v1/resources: $CODE $(cat "$OUT")" >&2; exit 1 ;;
                esac
                KIND=$2.poll
                rt "${A[@]}" "$CB_URL/v1/resources/$id"
                KIND=$2.bind
                rt "${A[@]}" -X POST -H 'Content-Type: application/json' --data-binary '{}' "$CB_URL/v1/resources/$id/bindings"
                bid=$(jq -r 'select(.state == "bound") | .id' "$OUT")
                [ -n "$bid" ] || { echo "osb.sh: the binding of $id is not bound: $(cat "$OUT")" >&2; exit 1; }
                KIND=$2.unbind
                rt "${A[@]}" -X DELETE "$CB_URL/v1/resources/$id/bindings/$bid"
                [ "$(jq -r .state "$OUT")" = unbound ] || { echo "osb.sh: $bid not unbound: $(cat "$OUT")" >&2; exit 1; }
                KIND=$2.deprov
                rt "${A[@]}" -H 'Prefer: wait=30' -X DELETE "$CB_URL/v1/resources/$id"
                case "$CODE" in
                200) ;;
                202) wait_state "$id" deleted ;;
                *) echo "osb.sh: DELETE $id: $CODE $(cat "$OUT")" >&2; exit 1 ;;
                esac
        done
}

# The same cycle through the broker's own OSB face (/v2, FACE=v2), as a
# platform orders: the very requests the direct rounds send to the provider,
# but for the broker's service and plan ids and the approval's project
# (binding ids are the platform's: unique across rounds).
# A 202 (the broker's DELETE; a PUT whose provider was slow) is followed by
# GETs of last_operation until "succeeded", counted with it.
P=(-u osb:dev-osb -H 'X-Broker-API-Version: 2.17' -H 'Content-Type: application/json')
v2_settle() { # INSTANCE_URL WHAT: after a 202, GETs last_operation until succeeded (2000 at most)
        local s
        [ "$CODE" = 202 ] || return 0
        for _ in $(seq 1 2000); do
                rt "${P[@]}" "$1/last_operation"
                GETS=$((GETS + 1))
                s=$(jq -r .state "$OUT")
                [ "$s" = succeeded ] && return 0
                [ "$s" = "in progress" ] || { echo "osb.sh: $2 of $1: $(cat "$OUT")" >&2; exit 1; }
        done
        echo "osb.sh: $2 of $1 never succeeded" >&2
        exit 1
}
# v2_round R X SERVICE: as broker_round, through the broker's /v2
v2_round() {
        local i inst v2body v2bbody v2q
        v2body="{\"service_id\": \"$3\", \"plan_id\": \"$3-2c4g\", \"organization_guid\": \"edu\", \"space_guid\": \"bench-osb\", \"context\": {\"platform\": \"bench\", \"system_id\": \"bench-db\"}}"
        v2bbody="{\"service_id\": \"$3\", \"plan_id\": \"$3-2c4g\"}"
        v2q="service_id=$3&plan_id=$3-2c4g&accepts_incomplete=true"
        for i in $(seq 1 "$COUNT"); do
                past_deadline
                inst="$CB_URL/v2/service_instances/bench-$2-$1-$i"
                KIND=$2.prov
                rt "${P[@]}" -X PUT --data-binary "$v2body" "$inst?accepts_incomplete=true"
                case "$CODE" in 201 | 202) ;; *) echo "osb.sh: PUT $inst: $CODE $(cat "$OUT")" >&2; exit 1 ;; esac
                v2_settle "$inst" provision
                KIND=$2.poll
                rt "${P[@]}" "$inst/last_operation"
                KIND=$2.bind
                rt "${P[@]}" -X PUT --data-binary "$v2bbody" "$inst/service_bindings/b-$2-$1-$i?accepts_incomplete=true"
                [ "$CODE" = 201 ] || { echo "osb.sh: bind of $inst: $CODE $(cat "$OUT")" >&2; exit 1; }
                KIND=$2.unbind
                rt "${P[@]}" -X DELETE "$inst/service_bindings/b-$2-$1-$i?$v2q"
                [ "$CODE" = 200 ] || { echo "osb.sh: unbind of $inst: $CODE $(cat "$OUT")" >&2; exit 1; }
                KIND=$2.deprov
                rt "${P[@]}" -X DELETE "$inst?$v2q"
                case "$CODE" in 200 | 202) ;; *) echo "osb.sh: DELETE $inst: $CODE $(cat "$OUT")" >&2; exit 1 ;; esac
                v2_settle "$inst" deprovision
        done
}

H=(-u cb:cb-osb-secret -H 'X-Broker-API-Version: 2.17' -H 'Content-Type: application/json')
pbody='{"service_id": "mysql-rds", "plan_id": "mysql-ha-2c4g-100g", "context": {"platform": "bench"}}'
bbody='{"service_id": "mysql-rds", "plan_id": "mysql-ha-2c4g-100g"}'
q='service_id=mysql-rds&plan_id=mysql-ha-2c4g-100g&accepts_incomplete=true'
# direct_round R URL X: COUNT cycles straight to the provider at URL,
# kinds X.* (d: the in-memory provider, s: the one that syncs its state).
# Every answer is checked: a direct cycle that failed would be cheap.
direct_round() {
        local i inst
        for i in $(seq 1 "$COUNT"); do
                past_deadline
                inst="$2/v2/service_instances/direct-$3-$1-$i"
                KIND=$3.prov
                rt "${H[@]}" -X PUT --data-binary "$pbody" "$inst?accepts_incomplete=true"
                [ "$CODE" = 201 ] || { echo "osb.sh: PUT $inst: $CODE $(cat "$OUT")" >&2; exit 1; }
                KIND=$3.poll
                rt "${H[@]}" "$inst/last_operation"
                KIND=$3.bind
                rt "${H[@]}" -X PUT --data-binary "$bbody" "$inst/service_bindings/b-$i?accepts_incomplete=true"
                [ "$CODE" = 201 ] || { echo "osb.sh: bind of $inst: $CODE $(cat "$OUT")" >&2; exit 1; }
                KIND=$3.unbind
                rt "${H[@]}" -X DELETE "$inst/service_bindings/b-$i?$q"
                [ "$CODE" = 200 ] || { echo "osb.sh: unbind of $inst: $CODE $(cat "$OUT")" >&2; exit 1; }
                KIND=$3.deprov
                rt "${H[@]}" -X DELETE "$inst?$q"
                [ "$CODE" = 200 ] || { echo "osb.sh: DELETE $inst: $CODE $(cat "$OUT")" >&2; exit 1; }
        done
}

KINDS="prov poll bind unbind deprov"
# round, kind, us a cycle: broker (in-memory provider behind it), direct to
# the in-memory provider, broker (durable provider behind it), direct to the
# durable provider
ROWS="$CB_TMP/rounds.tsv"
: >"$ROWS"
declare -A TOT_US TOT_N TOT_DC TOT_PC
add_totals() {
        local k
        for k in "${!US[@]}"; do
                TOT_US[$k]=$((${TOT_US[$k]:-0} + ${US[$k]}))
                TOT_N[$k]=$((${TOT_N[$k]:-0} + ${N[$k]}))
                TOT_DC[$k]=$((${TOT_DC[$k]:-0} + ${DC[$k]}))
                TOT_PC[$k]=$((${TOT_PC[$k]:-0} + ${PC[$k]}))
        done
}
TRACE_PID=
if [ -n "${OSB_TRACE:-}" ]; then
        # shellcheck disable=SC2086 # the tracer is a command line
        $OSB_TRACE "$CB_PID" &
        TRACE_PID=$!
        CB_PIDS+=("$TRACE_PID")
        sleep 1 # the tracer attaches
fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)
SYNCS0=$(OSB_URL=$DUR_URL osb_control | jq .state_syncs)
for r in $(seq 1 "$ROUNDS"); do
        US=() N=() DC=() PC=()
        PROV_PID=$MEM_PID
        if [ "$FACE" = v2 ]; then v2_round "$r" b rds-mysql; else broker_round "$r" b rds-mysql; fi
        direct_round "$r" "$MEM_URL" d
        PROV_PID=$DUR_PID
        if [ "$FACE" = v2 ]; then v2_round "$r" t rds-mysql-sync; else broker_round "$r" t rds-mysql-sync; fi
        direct_round "$r" "$DUR_URL" s
        if [ -n "$RELAY_URL" ]; then
                PROV_PID=$MEM_PID MID_PID=$RELAY_WORKER
                direct_round "$r" "$RELAY_URL" e
                MID_PID=$CB_PID
        fi
        for k in $KINDS; do
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$k" "$((${US[b.$k]} / COUNT))" "$((${US[d.$k]} / COUNT))" \
                        "$((${US[t.$k]} / COUNT))" "$((${US[s.$k]} / COUNT))" "$((${US[e.$k]:-0} / COUNT))" >>"$ROWS"
        done
        add_totals
        echo "# round $r/$ROUNDS done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
T1=$(date +%s)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -n "$TRACE_PID" ]; then
        kill -INT "$TRACE_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$TRACE_PID" 2>/dev/null || break; sleep 0.1; done
fi

left=$(OSB_URL=$MEM_URL osb_control | jq '.instances | length')
dur=$(OSB_URL=$DUR_URL osb_control)
left_dur=$(printf %s "$dur" | jq '.instances | length')
SYNCS=$(($(printf %s "$dur" | jq .state_syncs) - SYNCS0))
# Medians over the rounds: of each side's microseconds a cycle, and of the
# ratio within a round (the two halves of a round ran minutes apart at most,
# so the ratio of one round is less moved by the load than either side).
# Three lines: the kinds, then the whole cycle against each provider
# (in-memory: issue 10's target; durable: for comparison).
{
        read -r summary
        read -r ratio_mem
        read -r ratio_dur
        read -r floor
} < <(awk -F'\t' '
        { b[$2, $1] = $3; d[$2, $1] = $4; t[$2, $1] = $5; s[$2, $1] = $6; e[$2, $1] = $7
          bc[$1] += $3; dc[$1] += $4; tc[$1] += $5; sc[$1] += $6; ec[$1] += $7; rounds[$1] = 1 }
        function median(a, m,   i, j, x) {
                for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
                return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        }
        function rate(us) { return us ? 1e6 / us : 0 }
        function q(x, y) { return x / (y ? y : 1) }
        END {
                split("prov poll bind unbind deprov", order, " ")
                for (o = 1; o <= 5; o++) {
                        k = order[o]; m = 0
                        for (r in rounds) {
                                m++; bb[m] = b[k, r]; dd[m] = d[k, r]; tt[m] = t[k, r]; ss[m] = s[k, r]
                                rd[m] = q(b[k, r], d[k, r]); rs[m] = q(t[k, r], s[k, r])
                        }
                        mb = median(bb, m); md = median(dd, m); mt = median(tt, m); ms = median(ss, m)
                        printf "%s %.0f/s / %.0f/s %.2fx, %.0f/s / %.0f/s %.2fx (%.0f / %.0f, %.0f / %.0f us); ", k,
                                rate(mb), rate(md), median(rd, m), rate(mt), rate(ms), median(rs, m), mb, md, mt, ms
                }
                m = 0
                for (r in rounds) {
                        m++; bb[m] = bc[r]; dd[m] = dc[r]; tt[m] = tc[r]; ss[m] = sc[r]
                        rd[m] = q(bc[r], dc[r]); rs[m] = q(tc[r], sc[r]); rx[m] = q(bc[r], sc[r])
                }
                printf "whole cycle, in-memory provider: %.0f us through the broker / %.0f us direct; durable provider: %.0f us through the broker / %.0f us direct; the broker with the in-memory provider / the durable provider direct: %.2fx\n",
                        median(bb, m), median(dd, m), median(tt, m), median(ss, m), median(rx, m)
                printf "%.2fx (median of %d rounds; per-round", median(rd, m), m
                for (r = 1; r <= m; r++) printf " %.2f", q(bc[r], dc[r])
                printf ")\n%.2fx (the broker in front of that provider / the provider direct; median of %d rounds; per-round", median(rs, m), m
                for (r = 1; r <= m; r++) printf " %.2f", q(tc[r], sc[r])
                printf ")\n"
                if (!ec[1]) { print "left out (no nginx)"; exit }
                for (o = 1; o <= 5; o++) {
                        k = order[o]; n = 0
                        for (r in rounds) { n++; ee[n] = e[k, r]; re[n] = q(e[k, r], d[k, r]); rb[n] = q(b[k, r], e[k, r]) }
                        printf "%s %.0f us, E/B %.2fx, A/E %.2fx; ", k, median(ee, n), median(re, n), median(rb, n)
                }
                m = 0
                for (r in rounds) { m++; ee[m] = ec[r]; re[m] = q(ec[r], dc[r]); rb[m] = q(bc[r], ec[r]) }
                printf "whole cycle %.0f us, E/B %.2fx (per-round", median(ee, m), median(re, m)
                for (r = 1; r <= m; r++) printf " %.2f", q(ec[r], dc[r])
                printf "), the broker over that hop, A/E %.2fx (per-round", median(rb, m)
                for (r = 1; r <= m; r++) printf " %.2f", q(bc[r], ec[r])
                printf ")\n"
        }' "$ROWS")
cpu=""
# nanoseconds over all rounds: the daemon and the provider behind it in
# broker rounds, the provider in direct rounds; in-memory, then durable
BD=0 BP=0 DP=0 TD=0 TP=0 SP=0
for k in $KINDS; do
        cpu+=$(awk -v k="$k" -v bn="${TOT_N[b.$k]}" -v bd="${TOT_DC[b.$k]}" -v bp="${TOT_PC[b.$k]}" \
                -v dn="${TOT_N[d.$k]}" -v dp="${TOT_PC[d.$k]}" -v tn="${TOT_N[t.$k]}" -v td="${TOT_DC[t.$k]}" \
                -v tp="${TOT_PC[t.$k]}" -v sn="${TOT_N[s.$k]}" -v sp="${TOT_PC[s.$k]}" \
                'BEGIN { printf "%s daemon %.3f + provider %.3f ms a request (%d) / provider %.3f ms (%d), durable: daemon %.3f + provider %.3f ms (%d) / provider %.3f ms (%d); ", k, bd / 1e6 / bn, bp / 1e6 / bn, bn, dp / 1e6 / dn, dn, td / 1e6 / tn, tp / 1e6 / tn, tn, sp / 1e6 / sn, sn }')
        BD=$((BD + TOT_DC[b.$k])) BP=$((BP + TOT_PC[b.$k])) DP=$((DP + TOT_PC[d.$k]))
        TD=$((TD + TOT_DC[t.$k])) TP=$((TP + TOT_PC[t.$k])) SP=$((SP + TOT_PC[s.$k]))
done
cpu+=$(awk -v n="$((COUNT * ROUNDS))" -v bd="$BD" -v bp="$BP" -v dp="$DP" -v td="$TD" -v tp="$TP" -v sp="$SP" \
        'BEGIN { printf "a cycle: daemon %.2f + provider %.2f ms through the broker / provider %.2f ms direct, durable: daemon %.2f + provider %.2f ms / provider %.2f ms; ", bd / 1e6 / n, bp / 1e6 / n, dp / 1e6 / n, td / 1e6 / n, tp / 1e6 / n, sp / 1e6 / n }')
syncs=$(awk -v s="$SYNCS" -v n="$((2 * COUNT * ROUNDS))" 'BEGIN { printf "%.2f", s / n }')
result="osb ($FACE): $ROUNDS rounds x $COUNT cycles, rounds alternating (ABCD: broker with the in-memory provider, that provider direct, broker with the durable provider, that provider direct); round trips per second, medians (in-memory: broker / direct ratio, durable: broker / direct ratio): $summary; the durable provider's fdatasyncs: $syncs a cycle ($SYNCS in $((2 * COUNT * ROUNDS)) cycles, half through the broker; state file on $STATE_FS, beside the broker's database); CPU over all rounds (/proc/PID/task/*/schedstat, around each request): $cpu$GETS GETs of the record (v1) or of last_operation (v2) waiting ($(awk -v g="$GETS" -v n="$((COUNT * ROUNDS))" 'BEGIN { printf "%.1f", g / n }') a cycle; 0 when every Prefer: wait and every 201/200 held); $((T1 - T0)) s of wall clock incl. curl+jq start-up; instances left at the providers: $left in-memory, $left_dur durable; load average before $LOAD0, after $LOAD1; $(nproc) CPUs"
result+="
ratio vs the in-memory provider (issue 10's reference, target 1.5x): $ratio_mem
ratio vs a provider that fdatasyncs its state before answering (for comparison, not the target): $ratio_dur"
if [ -n "$RELAY_URL" ]; then
        EC=0 EP=0
        for k in $KINDS; do EC=$((EC + TOT_DC[e.$k])) EP=$((EP + TOT_PC[e.$k])); done
        relay_cpu=$(awk -v n="$((COUNT * ROUNDS))" -v c="$EC" -v p="$EP" \
                'BEGIN { printf "nginx %.2f + provider %.2f ms a cycle", c / 1e6 / n, p / 1e6 / n }')
        result+="
floor (round E, not the target: the direct rounds' requests through nginx as a reverse proxy in front of the in-memory provider, keep-alive to it, storing nothing; E/B: what one more HTTP hop costs, A/E: the broker over that hop; $relay_cpu): $floor"
fi
echo "$result"
mkdir -p "${CB_BUILD}/bench"
echo "$result" >"${CB_BUILD}/bench/osb.result"
cp "$ROWS" "${CB_BUILD}/bench/osb.rounds.tsv"
cb_stop_daemon >/dev/null
[ "$left" = 0 ] && [ "$left_dur" = 0 ]
