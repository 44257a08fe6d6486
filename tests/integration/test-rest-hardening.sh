#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The REST face against a hostile client (issue 8, defects 2, 3, 4 and 6):
#   - NUL bytes, raw or %00, in the path, the query or a header are 400, and
#     an id is matched over its whole length;
#   - invalid UTF-8, over-long targets, too many or too large headers,
#     chunked bodies get a JSON answer at once;
#   - a body must be application/json (415 otherwise); HEAD works on every
#     GET route;
#   - 1,100 slow connections from one address neither stop /v1/health for
#     other clients nor live past their deadlines, however they trickle.
# What libmicrohttpd answers itself is in docs/rest-limits.md.
#
# Usage (from the repository root):
#   tests/integration/test-rest-hardening.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"

PROBE=$CB_TMP/http-probe
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -o "$PROBE" tests/integration/http-probe.c

# raw BYTES [TIMEOUT_MS]: sends BYTES (printf %b escapes: \r \n \x00) on one
# connection; sets STATUS_LINE, RAW_HEAD, RAW_BODY and CLOSED_MS (how long
# the server took to close; -1 if it did not within TIMEOUT_MS, 3000).
raw() {
        printf '%b' "$1" | "$PROBE" raw "$CB_PORT" "${2:-3000}" >"$CB_TMP/raw.out"
        CLOSED_MS=$(sed -n 's/^# closed_ms=//p' "$CB_TMP/raw.out" | tail -n1)
        sed -i '$d' "$CB_TMP/raw.out"
        STATUS_LINE=$(head -n1 "$CB_TMP/raw.out" | tr -d '\r')
        RAW_HEAD=$(awk '{ sub(/\r$/, "") } /^$/ { exit } { print }' "$CB_TMP/raw.out")
        RAW_BODY=$(awk 'seen { print } { sub(/\r$/, "") } /^$/ && !seen { seen = 1 }' "$CB_TMP/raw.out")
}

# json_error STATUS CODE MSG: the last cb_curl answer is STATUS with a JSON
# body {"error": CODE, "message": ...}.
json_error() {
        assert_eq "$CB_STATUS" "$1" "$3: $1"
        assert_jq "$CB_BODY" "\"\(.error) \(.message | type)\"" "$2 string" "$3: JSON body with error $2"
}

# raw_error STATUS CODE MSG: the same for the last raw answer.
raw_error() {
        assert_eq "$STATUS_LINE" "HTTP/1.1 $1" "$3: $1"
        assert_jq "$RAW_BODY" "\"\(.error) \(.message | type)\"" "$2 string" "$3: JSON body with error $2"
}

# A copy of the test config with absolute paths and REST settings of our own.
# conf FILE SETTINGS: the rest group gets SETTINGS after max_body_bytes.
conf() {
        sed "s|\"\\.\\./\\.\\./etc|\"$PWD/etc|g; s|test:///\\.\\./\\.\\./etc|test:///$PWD/etc|;
             s|max_body_bytes = 1048576;|max_body_bytes = 1048576; $2|" tests/integration/test.conf >"$1"
}

cb_start_daemon

# --- defect 3: NUL bytes ----------------------------------------------------------------

SYSTEM=edu-hard
cb_add_system "$SYSTEM"
cb_approve lf-edu-hard "临政信审〔$(date +%Y)〕77号" "$SYSTEM" \
        '[{"service_id": "ecs-general", "plan_id": "ecs-general-1c2g", "quantity": 1}]'
cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"lf-edu-hard\",\"system_id\":\"$SYSTEM\",\"service_id\":\"ecs-general\",\"plan_id\":\"ecs-general-1c2g\",\"name\":\"hard-1\"}"
assert_eq "$CB_STATUS" 202 "set-up: a VM is requested"
R=$(printf %s "$CB_BODY" | jq -r .id)
cb_wait_state "$R" active || true

cb_curl DELETE "/v1/resources/$R%00junk" dev-edu
json_error 400 invalid_request "DELETE /v1/resources/ID%00junk"
assert_contains "$CB_BODY" "NUL" "the refusal names the NUL byte"
cb_curl DELETE "/v1/resources/${R}junk" dev-edu
assert_eq "$CB_STATUS" 404 "DELETE /v1/resources/IDjunk is 404: the id is matched over its whole length"
cb_curl GET "/v1/resources/$R" dev-edu
assert_jq "$CB_BODY" .state active "the resource was not deleted by either"
cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_jq "$CB_BODY" "[.records[] | select(.action == \"resource.delete\")] | length" 0 \
        "and no delete is in the audit trail"

cb_curl GET /v1/resources/%00 dev-operator
json_error 400 invalid_request "GET /v1/resources/%00 (it listed everything)"
assert_not_contains "$CB_BODY" "\"resources\"" "GET /v1/resources/%00 lists nothing"
cb_curl GET "/v1/resources?project_id=lf-edu-hard%00x" dev-operator
json_error 400 invalid_request "a %00 in a query value"

raw 'GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-edu\x00junk\r\nConnection: close\r\n\r\n'
raw_error "400 Bad Request" invalid_request "Authorization: Bearer dev-edu<NUL>junk (it authenticated)"
assert_not_contains "$RAW_BODY" "department" "the NUL-cut token authenticates nobody"
raw 'GET /v1/whoami HTTP/1.1\nHost: x\nAuthorization: Bearer dev-edu\x00junk\nConnection: close\n\n'
raw_error "400 Bad Request" invalid_request "the same with bare LF line ends"
raw 'GET /v1/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer dev-edu\x00junk\r\n\r\n'
raw_error "400 Bad Request" invalid_request "a NUL in the last header"
raw 'GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-edu\r\nConnection: close\r\n\r\n'
assert_eq "$STATUS_LINE" "HTTP/1.1 200 OK" "the same request without the NUL is served"
assert_jq "$RAW_BODY" .name dev-edu "as dev-edu"
raw 'GET /v1/resources\x00junk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-operator\r\nConnection: close\r\n\r\n'
raw_error "400 Bad Request" invalid_request "a raw NUL in the path"
raw 'GET /v1/resources?project_id=lf\x00x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-operator\r\nConnection: close\r\n\r\n'
raw_error "400 Bad Request" invalid_request "a raw NUL in the query"

# --- defect 4: every answer has a JSON body, hopeless requests end at once ---------------

cb_curl GET "/v1/audit?after=%ff" dev-auditor
json_error 400 invalid_request "GET /v1/audit?after=%ff"
assert_contains "$CB_BODY" "UTF-8" "the refusal says UTF-8"
cb_curl GET "/v1/systems/%ff%fe" dev-operator
json_error 400 invalid_request "GET /v1/systems/%ff%fe"
cb_curl GET "/v1/systems/%e6%95%99" dev-operator
json_error 404 not_found "a path of valid UTF-8 that names nothing"

raw 'POST /v1/policy/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-edu\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{"a":' 3000
raw_error "411 Length Required" length_required "a chunk size of ffffffffffffffff"
if [ "$CLOSED_MS" -ge 0 ] && [ "$CLOSED_MS" -lt 1000 ]; then
        pass "the chunked request is answered and closed at once (${CLOSED_MS} ms)"
else
        fail "the chunked request is answered and closed at once (closed_ms=$CLOSED_MS)"
fi
raw 'GARBAGE\r\n\r\n' 3000
if [ "$CLOSED_MS" -ge 0 ] && [ "$CLOSED_MS" -lt 1000 ]; then
        pass "a request line of garbage is closed at once (${CLOSED_MS} ms)"
else
        fail "a request line of garbage is closed at once (closed_ms=$CLOSED_MS)"
fi

long=$(head -c 9000 /dev/zero | tr '\0' a)
cb_curl GET "/v1/health?pad=$long" ""
json_error 414 uri_too_long "a 9 KB request target"
hdrs=()
for i in $(seq 1 120); do hdrs+=(-H "X-Pad-$i: $i"); done
cb_curl GET /v1/health "" "" "${hdrs[@]}"
json_error 431 request_header_fields_too_large "120 header fields"
cb_curl GET /v1/health "" "" -H "X-Pad: $(head -c 20000 /dev/zero | tr '\0' b)"
json_error 431 request_header_fields_too_large "a 20 KB header"
cb_curl POST /v1/systems dev-operator '{"id":"two-types"}' -H 'Content-Type: application/json' \
        -H 'Content-Type: text/plain'
json_error 400 invalid_request "two Content-Type headers"
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "the daemon serves on after the refusals"

# --- defect 6: Content-Type and HEAD -------------------------------------------------------

SYS_BODY='{"id":"form-sys","name":"表单","department":"edu","protection_level":2,"classified":false,"data_sharing":"compliant"}'
cb_curl POST /v1/systems dev-operator "$SYS_BODY" -H 'Content-Type: application/x-www-form-urlencoded'
json_error 415 unsupported_media_type "a form-encoded body (what curl -d and a browser form send)"
assert_contains "$CB_BODY" "application/x-www-form-urlencoded" "the 415 names the Content-Type"
cb_curl POST /v1/systems dev-operator "$SYS_BODY" -H 'Content-Type:'
json_error 415 unsupported_media_type "a body without Content-Type"
cb_curl POST /v1/systems dev-operator "$SYS_BODY" -H 'Content-Type: text/plain'
json_error 415 unsupported_media_type "text/plain"
cb_curl POST /v1/systems dev-operator "$SYS_BODY" -H 'Content-Type: application/json-seq'
json_error 415 unsupported_media_type "application/json-seq"
cb_curl POST /v1/systems dev-operator "$SYS_BODY" -H 'Content-Type: application/json; charset=iso-8859-1'
json_error 415 unsupported_media_type "a charset other than UTF-8"
cb_curl GET /v1/systems/form-sys dev-operator
assert_eq "$CB_STATUS" 404 "none of the refused bodies was written"
cb_curl POST /v1/systems dev-operator "$SYS_BODY" -H 'Content-Type: Application/JSON; charset=UTF-8'
assert_eq "$CB_STATUS" 201 "Application/JSON; charset=UTF-8 is accepted"
cb_curl PUT /v1/systems/form-sys dev-operator "$SYS_BODY" -H 'Content-Type: application/json;charset="utf-8"'
assert_eq "$CB_STATUS" 200 "application/json;charset=\"utf-8\" is accepted on PUT"
cb_curl POST /v1/catalog/services/no-such-service/submit dev-operator "" --data-binary ""
assert_eq "$CB_STATUS" 404 "a POST without a body needs no Content-Type"

# HEAD on every GET route: the GET's status, the same length, no body.
"$CB_BUILD/cloudbrokerd" --list-routes | awk '$1 == "GET" { print $2 }' >"$CB_TMP/get-routes"
heads_bad=""
n_heads=0
while read -r pattern; do
        url=$(printf %s "$pattern" | sed 's/{[^}]*}/no-such-x/g')
        [ "$url" = /v1/providers/no-such-x/inventory ] && url=/v1/providers/dev-test/inventory
        cb_curl GET "$url" dev-operator
        gs=$CB_STATUS
        gl=$(wc -c <"$CB_TMP/resp.body" 2>/dev/null || echo 0)
        cb_curl HEAD "$url" dev-operator "" -I
        hl=$(printf '%s\n' "$CB_HEADERS" | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
        n_heads=$((n_heads + 1))
        if [ "$CB_STATUS" != "$gs" ] || [ "${hl:-0}" != "$gl" ]; then
                heads_bad="$heads_bad $url(GET $gs/$gl HEAD $CB_STATUS/${hl:-none})"
        fi
done <"$CB_TMP/get-routes"
if [ -z "$heads_bad" ] && [ "$n_heads" -gt 10 ]; then
        pass "HEAD answers like GET on all $n_heads GET routes (status and Content-Length)"
else
        fail "HEAD differs from GET on:$heads_bad"
fi
raw 'HEAD /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
assert_eq "$STATUS_LINE" "HTTP/1.1 200 OK" "HEAD /v1/health is 200"
assert_contains "$RAW_HEAD" "Content-Type: application/json" "with the GET's Content-Type"
assert_eq "$RAW_BODY" "" "and no body on the wire"
cb_curl DELETE /v1/health ""
assert_contains "$CB_HEADERS" "Allow: GET, HEAD" "a 405 lists HEAD beside GET"

# Keep-alive still holds for well-formed requests (the hot path).
reuse=$(curl -sv -o /dev/null -o /dev/null "$CB_URL/v1/health" "$CB_URL/v1/health" 2>&1 | grep -c "Re-using existing connection" || true)
assert_eq "$reuse" 1 "two requests share one connection"

# --- defect 2: slow connections --------------------------------------------------------

# The daemon's fd limit leaves room beyond its connection limit.
nofile=$(awk '/Max open files/ { print $4 }' "/proc/$CB_PID/limits")
if [ "$nofile" = unlimited ] || [ "$nofile" -ge 1256 ]; then
        pass "the daemon may open $nofile files: 1000 connections and room to spare"
else
        fail "the daemon may open only $nofile files for 1000 connections"
fi

# 1,100 connections from 127.0.0.2, each sending one header line a second
# for 13 s (the default header deadline is 10 s), while curl asks for
# /v1/health from 127.0.0.1 every 0.3 s.
"$PROBE" slow 127.0.0.2 "$CB_PORT" 1100 13 1000 head >"$CB_TMP/slow.out" &
SLOW=$!
CB_PIDS+=("$SLOW")
sleep 1
: >"$CB_TMP/health.txt"
for _ in $(seq 1 60); do
        kill -0 "$SLOW" 2>/dev/null || break
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 2 "$CB_URL/v1/health" \
                >>"$CB_TMP/health.txt" 2>/dev/null || echo "000 2" >>"$CB_TMP/health.txt"
        sleep 0.3
done
wait "$SLOW" || true
SLOWF=$(cat "$CB_TMP/slow.out")
echo "# slow head trickle: $SLOWF"
fig() { printf '%s\n' "$SLOWF" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
n_health=$(wc -l <"$CB_TMP/health.txt")
n_ok=$(grep -c '^200 ' "$CB_TMP/health.txt" || true)
slowest=$(sort -k2 -n "$CB_TMP/health.txt" | tail -n1 | awk '{ print $2 }')
echo "# health during the trickle: $n_ok of $n_health answered, slowest ${slowest} s"
if [ "$n_health" -ge 20 ] && [ "$n_ok" = "$n_health" ]; then
        pass "every one of $n_health health requests during the trickle is answered 200"
else
        fail "health during the trickle: $n_ok of $n_health answered 200"
fi
if awk -v t="$slowest" 'BEGIN { exit !(t < 1.0) }'; then
        pass "the slowest health answer took under 1 s ($slowest s)"
else
        fail "the slowest health answer took $slowest s"
fi
assert_eq "$(fig opened)" 1100 "the kernel took all 1100 slow connections"
assert_eq "$(fig cut)" 64 "the daemon served 64 of them, its per-address limit"
assert_eq "$(fig refused)" 1036 "and closed the other 1036 at once"
assert_eq "$(fig alive)" 0 "none outlived the header deadline"
assert_eq "$(fig json408)" 64 "each one cut got a 408 with a JSON body"
if [ "$(fig min_cut_ms)" -ge 9500 ] && [ "$(fig max_life_ms)" -le 11500 ]; then
        pass "they were cut 10 s after they began, trickling notwithstanding ($(fig min_cut_ms)-$(fig max_life_ms) ms)"
else
        fail "cut between $(fig min_cut_ms) and $(fig max_life_ms) ms, not at 10 s"
fi

# Short deadlines: a body, an idle connection, a NUL-led request line.
conf "$CB_TMP/short.conf" "header_timeout_seconds = 2; body_timeout_seconds = 3; max_connections_per_ip = 8;"
cb_stop_daemon
CB_CONFIG=$CB_TMP/short.conf
cb_start_daemon
"$PROBE" slow 127.0.0.2 "$CB_PORT" 10 7 500 body >"$CB_TMP/slow.out"
SLOWF=$(cat "$CB_TMP/slow.out")
echo "# slow body trickle: $SLOWF"
assert_eq "$(fig cut):$(fig refused)" "8:2" "8 body tricklers are served (the limit), 2 closed at once"
assert_eq "$(fig json408)" 8 "each body trickler got a 408 with a JSON body"
if [ "$(fig min_cut_ms)" -ge 2900 ] && [ "$(fig max_life_ms)" -le 4500 ]; then
        pass "a body trickled a byte every 0.5 s is cut at the 3 s body deadline ($(fig min_cut_ms)-$(fig max_life_ms) ms)"
else
        fail "body tricklers cut between $(fig min_cut_ms) and $(fig max_life_ms) ms, not at 3 s"
fi
raw '' 5000
if [ "$CLOSED_MS" -ge 1900 ] && [ "$CLOSED_MS" -le 3500 ] && [ -z "$STATUS_LINE" ]; then
        pass "an idle connection is closed, silently, at the 2 s header deadline ($CLOSED_MS ms)"
else
        fail "an idle connection: closed_ms=$CLOSED_MS, answer '$STATUS_LINE'"
fi
# libmicrohttpd reads a line that starts with NUL as an empty line, which it
# skips: the daemon never sees it, the header deadline ends it.
raw '\x00\x01\x02\xff\xfe\r\n\r\n' 5000
if [ "$CLOSED_MS" -ge 0 ] && [ "$CLOSED_MS" -le 3500 ]; then
        pass "a NUL-led request line is closed by the header deadline ($CLOSED_MS ms)"
else
        fail "a NUL-led request line: closed_ms=$CLOSED_MS"
fi
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "the daemon serves on"

# Settings are checked.
conf "$CB_TMP/bad1.conf" "header_timeout_seconds = 0;"
rc=0
timeout 10 "$CB_BUILD/cloudbrokerd" --config "$CB_TMP/bad1.conf" --db "$CB_TMP/never.db" --bus none \
        --rest-listen 127.0.0.1:0 >"$CB_TMP/bad.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "header_timeout_seconds = 0 is refused"
assert_contains "$(cat "$CB_TMP/bad.out")" "bad1.conf:" "at FILE:LINE"
conf "$CB_TMP/bad2.conf" "max_connections = 100; max_connections_per_ip = 80;"
rc=0
timeout 10 "$CB_BUILD/cloudbrokerd" --config "$CB_TMP/bad2.conf" --db "$CB_TMP/never.db" --bus none \
        --rest-listen 127.0.0.1:0 >"$CB_TMP/bad.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "a per-address limit over half the global one is refused"
assert_contains "$(cat "$CB_TMP/bad.out")" "at most half" "and the message says why"

cb_stop_daemon
cb_done
