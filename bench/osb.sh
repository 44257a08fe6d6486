#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# OSB round trips: COUNT (50) provision + deprovision cycles of an http plan
# (rds-mysql-2c4g on linfen-paas) through cloudbrokerd's REST API, each
# timed from the POST to the GET that first shows it active, then from the
# DELETE to the GET that shows it deleted; beside the same cycles made
# straight to the test OSB provider (tests/osb-provider) with curl, PUT and
# DELETE, in the same run. Synchronous provider answers (async_ms 0), so
# what is measured is the broker's own path: policy, record, audit, the
# provider round trip on the loop, the state change. One request at a time.
#
# Not yet measured: poll (an asynchronous provider), bind and unbind (no
# bindings yet). Target (issue 10): within 1.5x of the direct calls.
#
# Usage: bench/osb.sh [BUILD_DIR]     Environment: COUNT (50), POLL_MS (5)
# Everything listens on 127.0.0.1; every wait is bounded; processes end by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
cb_setup "${1:-build}"
COUNT=${COUNT:-50}
POLL_MS=${POLL_MS:-5}
case "$COUNT" in '' | *[!0-9]*) echo "osb.sh: COUNT must be a number" >&2; exit 1 ;; esac

cb_start_osb_provider
sed -e '/^providers = (/,/^);/d' -e "s#\"\.\./\.\./#\"$PWD/#g" tests/integration/test.conf >"$CB_TMP/osb.conf"
cat >>"$CB_TMP/osb.conf" <<EOF
providers = (
  { name = "linfen-paas"; driver = "http"; url = "$OSB_URL"; username = "cb"; password = "cb-osb-secret";
    api_version = "2.17"; }
);
EOF
CB_CONFIG=$CB_TMP/osb.conf
cb_start_daemon >/dev/null
cb_wait_provider linfen-paas 20 || { echo "osb.sh: the provider did not connect" >&2; exit 1; }
cb_add_system bench-db >/dev/null
cb_approve bench-osb "临政信审〔$(date +%Y)〕90号" bench-db \
        "[{\"service_id\": \"rds-mysql\", \"plan_id\": \"rds-mysql-2c4g\", \"quantity\": $((COUNT + 1))}]" >/dev/null

now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_state() { # ID STATE: polls every POLL_MS, 10 s at most
        local s
        for _ in $(seq 1 $((10000 / POLL_MS))); do
                s=$(curl -s -H 'Authorization: Bearer dev-edu' "$CB_URL/v1/resources/$1" | jq -r .state)
                [ "$s" = "$2" ] && return 0
                sleep "0.00$POLL_MS"
        done
        echo "osb.sh: $1 never became $2 (last $s)" >&2
        exit 1
}

body='{"project_id": "bench-osb", "system_id": "bench-db", "service_id": "rds-mysql", "plan_id": "rds-mysql-2c4g", "name": "bench"}'
T0=$(now_ms)
for i in $(seq 1 "$COUNT"); do
        id=$(curl -s -X POST -H 'Authorization: Bearer dev-edu' -H 'Content-Type: application/json' \
                --data-binary "$body" "$CB_URL/v1/resources" | jq -r .id)
        wait_state "$id" active
        curl -s -o /dev/null -X DELETE -H 'Authorization: Bearer dev-edu' "$CB_URL/v1/resources/$id"
        wait_state "$id" deleted
done
T1=$(now_ms)

H=(-u cb:cb-osb-secret -H 'X-Broker-API-Version: 2.17' -H 'Content-Type: application/json')
pbody='{"service_id": "mysql-rds", "plan_id": "mysql-ha-2c4g-100g", "context": {"platform": "bench"}}'
for i in $(seq 1 "$COUNT"); do
        curl -s -o /dev/null "${H[@]}" -X PUT --data-binary "$pbody" \
                "$OSB_URL/v2/service_instances/direct-$i?accepts_incomplete=true"
        curl -s -o /dev/null "${H[@]}" -X DELETE \
                "$OSB_URL/v2/service_instances/direct-$i?service_id=mysql-rds&plan_id=mysql-ha-2c4g-100g&accepts_incomplete=true"
done
T2=$(now_ms)

left=$(osb_control | jq '.instances | length')
broker=$((T1 - T0))
direct=$((T2 - T1))
result="osb: $COUNT provision+deprovision cycles: broker $broker ms ($((broker / COUNT)) ms/cycle, incl. polling the record every $POLL_MS ms), direct $direct ms ($((direct / COUNT)) ms/cycle); ratio $(awk -v a="$broker" -v b="$direct" 'BEGIN { printf "%.1f", a / (b ? b : 1) }')x (target 1.5x); instances left at the provider: $left"
echo "$result"
mkdir -p "${CB_BUILD}/bench"
echo "$result" >"${CB_BUILD}/bench/osb.result"
cb_stop_daemon >/dev/null
[ "$left" = 0 ]
