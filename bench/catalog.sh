#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Catalogue over HTTP: cloudbrokerd's GET /v1/catalog and GET /v1/health side
# by side with nginx serving the very same bytes as static files, in the same
# run, on the same machine. Also: start-up time to READY=1 (cold: empty
# database, catalogue seeded; warm: restart on that database) and RSS.
#
# Usage: bench/catalog.sh [BUILD_DIR]        (from anywhere; default build)
# Environment: DURATION (wrk -d, default 10s), CONNECTIONS (default 64),
#              THREADS (default 2), ROUNDS (default 1; e.g. 3 gives the median
#              of 3 alternating runs per side), PORT / PORT2 (first ports
#              tried, 18080 / 18081). Results are also written to BUILD_DIR/bench/catalog.result.
#
# Everything listens on 127.0.0.1. Every wait is bounded; the daemon and the
# nginx master are killed by PID on exit.

set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
TOKEN=dev-operator # public dev token of etc/cloudbroker.conf
CONFIG=etc/cloudbroker.conf

for tool in gcc curl wrk nginx; do
        command -v "$tool" >/dev/null || { echo "catalog.sh: $tool is not installed" >&2; exit 1; }
done
[ -x "$BUILD/cloudbrokerd" ] || { echo "catalog.sh: $BUILD/cloudbrokerd missing (make first)" >&2; exit 1; }

mkdir -p "$BUILD/bench"
NOTIFY_WAIT="$BUILD/bench/notify-wait"
if [ ! -x "$NOTIFY_WAIT" ] || [ bench/notify-wait.c -nt "$NOTIFY_WAIT" ]; then
        gcc -std=gnu11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE bench/notify-wait.c -o "$NOTIFY_WAIT"
fi

tmp=$(mktemp -d /tmp/bench-catalog.XXXXXX)
daemon_pid=
nginx_pid=

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
        echo "catalog.sh: pid $pid ignored SIGTERM for 10 s, killing" >&2
        kill -KILL "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317 # called through trap
cleanup() {
        stop_pid "$daemon_pid"
        stop_pid "$nginx_pid"
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
        echo "catalog.sh: no free port from $1" >&2
        return 1
}
PORT=$(pick_port "${PORT:-18080}")
PORT2=$(pick_port "${PORT2:-18081}")
[ "$PORT" != "$PORT2" ] || PORT2=$(pick_port $((PORT + 1)))

# Starts the daemon on $tmp/cb.db through notify-wait; sets daemon_pid and
# ready_usec.
start_daemon() {
        rm -f "$tmp/ready"
        if ! "$NOTIFY_WAIT" "$tmp/ready" -- "$BUILD/cloudbrokerd" --config "$CONFIG" --db "$tmp/cb.db" \
                --rest-listen "127.0.0.1:$PORT" --bus none >>"$tmp/daemon.log" 2>&1; then
                tail -20 "$tmp/daemon.log" >&2
                echo "catalog.sh: cloudbrokerd did not become ready" >&2
                exit 1
        fi
        daemon_pid=$(sed -n 's/^pid=//p' "$tmp/ready")
        ready_usec=$(sed -n 's/^ready_usec=//p' "$tmp/ready")
}

rss_kib() { # VmRSS or VmHWM of a PID, in KiB
        awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

fetch() { # fetch URL FILE: 200 or fail
        local code
        code=$(curl -sS --max-time 5 -o "$2" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$1") || code=000
        [ "$code" = 200 ] || { echo "catalog.sh: GET $1 answered $code" >&2; head -c 300 "$2" >&2; exit 1; }
}

wait_http() {
        for _ in $(seq 100); do
                curl -s --max-time 1 -o /dev/null "$1" && return 0
                sleep 0.1
        done
        echo "catalog.sh: $1 did not answer within 10 s" >&2
        exit 1
}

# --- start-up: cold (empty database, seeds the catalogue), then warm ---------
start_daemon
cold_usec=$ready_usec
stop_pid "$daemon_pid"
daemon_pid=
start_daemon
warm_usec=$ready_usec
sleep 0.5 # let start-up allocations settle before calling it idle
idle_rss=$(rss_kib "$daemon_pid" VmRSS)

# --- the reference: nginx serving the daemon's own answers as files ---------
mkdir -p "$tmp/www/v1" "$tmp/nginx-temp"
fetch "http://127.0.0.1:$PORT/v1/catalog" "$tmp/www/v1/catalog"
fetch "http://127.0.0.1:$PORT/v1/health" "$tmp/www/v1/health"
# nginx's workers run as nobody when started as root: let them read www/.
chmod 0755 "$tmp" "$tmp/www" "$tmp/www/v1"
chmod 0644 "$tmp/www/v1/catalog" "$tmp/www/v1/health"
cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
master_process on;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 1024; }
http {
        access_log off;
        default_type application/json;
        # A fair reference: nginx as it is deployed for static files.
        sendfile on;
        tcp_nopush on;
        open_file_cache max=16 inactive=60s;
        keepalive_requests 10000000;
        keepalive_timeout 65s;
        client_body_temp_path $tmp/nginx-temp/body;
        proxy_temp_path $tmp/nginx-temp/proxy;
        fastcgi_temp_path $tmp/nginx-temp/fastcgi;
        uwsgi_temp_path $tmp/nginx-temp/uwsgi;
        scgi_temp_path $tmp/nginx-temp/scgi;
        server {
                listen 127.0.0.1:$PORT2;
                root $tmp/www;
                location / { try_files \$uri =404; }
        }
}
EOF
nginx -p "$tmp" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" >"$tmp/nginx.out" 2>&1 &
nginx_pid=$!
wait_http "http://127.0.0.1:$PORT2/v1/health"
cmp -s <(curl -s --max-time 5 "http://127.0.0.1:$PORT2/v1/catalog") "$tmp/www/v1/catalog" ||
        { echo "catalog.sh: nginx does not serve the catalogue file" >&2; exit 1; }

# --- load ------------------------------------------------------------------
# run_wrk NAME URL: prints "req/s p50 p99"; refuses a run with errors.
run_wrk() {
        local log="$tmp/wrk-$1.log" rps p50 p99
        timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
                -H "Authorization: Bearer $TOKEN" "$2" >"$log" 2>&1 || {
                cat "$log" >&2
                echo "catalog.sh: wrk failed against $2" >&2
                exit 1
        }
        if grep -E 'Non-2xx|Socket errors' "$log" >&2; then
                echo "catalog.sh: errors under load against $2 (see above), result discarded" >&2
                exit 1
        fi
        rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$log")
        p50=$(awk '$1 == "50%" { print $2 }' "$log")
        p99=$(awk '$1 == "99%" { print $2 }' "$log")
        if [ -z "$rps" ] || [ -z "$p50" ] || [ -z "$p99" ]; then
                cat "$log" >&2
                echo "catalog.sh: cannot read wrk's output" >&2
                exit 1
        fi
        echo "$rps $p50 $p99"
}

# Rounds alternate daemon and nginx so that load from elsewhere on the machine
# hits both alike; each side reports its median round (by req/s).
median_of() {
        sort -n "$1" | sed -n "$(( ($(wc -l <"$1") + 1) / 2 ))p"
}
declare -A res
for path in catalog health; do
        for round in $(seq "$ROUNDS"); do
                for side in daemon nginx; do
                        if [ "$side" = daemon ]; then port=$PORT; else port=$PORT2; fi
                        echo "round $round/$ROUNDS: wrk -t$THREADS -c$CONNECTIONS -d$DURATION GET /v1/$path on $side" >&2
                        row=$(run_wrk "$side-$path-$round" "http://127.0.0.1:$port/v1/$path")
                        echo "$row" >>"$tmp/rows-$side-$path"
                done
        done
        res[daemon-$path]=$(median_of "$tmp/rows-daemon-$path")
        res[nginx-$path]=$(median_of "$tmp/rows-nginx-$path")
done
peak_rss=$(rss_kib "$daemon_pid" VmHWM)
nginx_rss=0
for p in "$nginx_pid" $(pgrep -P "$nginx_pid" || true); do
        nginx_rss=$((nginx_rss + $(rss_kib "$p" VmRSS)))
done

# --- report ----------------------------------------------------------------
{
        echo "== catalog: cloudbrokerd vs nginx (static copy of the same answer)"
        echo "   wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS round(s), keep-alive, 127.0.0.1," \
                "$(nproc) CPUs, nginx 1 worker, cloudbrokerd 1 loop thread"
        for path in catalog health; do
                read -r d_rps d_p50 d_p99 <<<"${res[daemon-$path]}"
                read -r n_rps n_p50 n_p99 <<<"${res[nginx-$path]}"
                printf '   GET /v1/%s (%s bytes)\n' "$path" "$(stat -c %s "$tmp/www/v1/$path")"
                printf '     %-14s %12s req/s   p50 %9s   p99 %9s\n' cloudbrokerd "$d_rps" "$d_p50" "$d_p99"
                printf '     %-14s %12s req/s   p50 %9s   p99 %9s\n' nginx "$n_rps" "$n_p50" "$n_p99"
                printf '     ratio cloudbrokerd/nginx %.2f\n' "$(awk -v a="$d_rps" -v b="$n_rps" 'BEGIN { print a / b }')"
        done
        printf '   start-up to READY=1: cold %.1f ms (empty database, catalogue seeded), warm %.1f ms\n' \
                "$(awk -v u="$cold_usec" 'BEGIN { print u / 1000 }')" "$(awk -v u="$warm_usec" 'BEGIN { print u / 1000 }')"
        printf '   RSS: cloudbrokerd idle %.1f MiB, peak under load %.1f MiB; nginx master+worker %.1f MiB\n' \
                "$(awk -v k="$idle_rss" 'BEGIN { print k / 1024 }')" "$(awk -v k="$peak_rss" 'BEGIN { print k / 1024 }')" \
                "$(awk -v k="$nginx_rss" 'BEGIN { print k / 1024 }')"
} | tee "$BUILD/bench/catalog.result"

# The daemon must still be serving after the load.
gone "$daemon_pid" && { echo "catalog.sh: cloudbrokerd died under load" >&2; exit 1; }
fetch "http://127.0.0.1:$PORT/v1/health" "$tmp/health.after"
exit 0
