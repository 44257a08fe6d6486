#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# cloudbrokerd as a process: the command line, configuration errors that
# point at FILE:LINE, clean stops on SIGTERM and SIGINT, data that survives a
# restart, the database's WAL mode and schema version, a port already taken,
# and a daemon that keeps serving through a run of malformed requests.
#
# Usage (from the repository root):
#   tests/integration/test-daemon.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
D=$CB_BUILD/cloudbrokerd

# run CMD...: runs a command that must end on its own (bounded by timeout),
# sets RC, OUT and ERR.
run() {
        RC=0
        timeout 10 "$@" >"$CB_TMP/run.out" 2>"$CB_TMP/run.err" || RC=$?
        OUT=$(cat "$CB_TMP/run.out")
        ERR=$(cat "$CB_TMP/run.err")
}

# A copy of the test config with absolute paths, so a variant may live in $CB_TMP.
sed "s|\"\\.\\./\\.\\./etc|\"$PWD/etc|g; s|test:///\\.\\./\\.\\./etc|test:///$PWD/etc|" "$CB_CONFIG" >"$CB_TMP/base.conf"

# --- the command line -----------------------------------------------------------------

run "$D" --help
assert_eq "$RC" 0 "--help exits 0"
assert_contains "$OUT" "Usage: cloudbrokerd" "--help prints the usage on stdout"
assert_contains "$OUT" "--config FILE" "the usage names --config"
assert_eq "$ERR" "" "--help writes nothing to stderr"
run "$D" -h
assert_eq "$RC:$(printf %s "$OUT" | head -n1)" "0:Usage: cloudbrokerd --config FILE [OPTIONS]" "-h is --help"

run "$D" --version
assert_eq "$RC" 0 "--version exits 0"
if printf %s "$OUT" | grep -Eq '^cloudbrokerd [0-9]+\.[0-9]+\.[0-9]+$'; then
        pass "--version prints 'cloudbrokerd X.Y.Z'"
else
        fail "--version prints 'cloudbrokerd X.Y.Z' (got '$OUT')"
fi

run "$D" --no-such-option
assert_eq "$RC" 2 "an unknown option exits 2"
assert_contains "$ERR" "Usage:" "an unknown option prints the usage on stderr"
assert_eq "$OUT" "" "an unknown option prints nothing on stdout"
run "$D" --config "$CB_TMP/base.conf" stray-argument
assert_eq "$RC" 2 "a stray argument exits 2"
assert_contains "$ERR" "unexpected argument 'stray-argument'" "the stray argument is named"
run "$D" --config "$CB_TMP/base.conf" --bus sometimes
assert_eq "$RC" 2 "--bus with a bad value exits 2"
assert_contains "$ERR" "--bus must be system, session or none" "the bad --bus is explained"
run "$D"
assert_eq "$RC" 2 "no --config exits 2"
assert_contains "$ERR" "--config FILE is required" "the missing --config is explained"
run "$D" --config
assert_eq "$RC" 2 "--config without its argument exits 2"

run "$D" --list-routes
assert_eq "$RC" 0 "--list-routes exits 0"
assert_contains "$OUT" "GET /v1/catalog" "--list-routes lists the REST catalogue"
assert_contains "$OUT" "GET /v2/catalog" "--list-routes lists the OSB catalogue"

# --- configuration errors: FILE:LINE ------------------------------------------------------

run "$D" --config "$CB_TMP/missing.conf"
assert_eq "$RC" 1 "a missing config file exits 1"
assert_contains "$ERR" "$CB_TMP/missing.conf: cannot open" "a missing config file is named"

# A syntax error on a known line.
BAD=$CB_TMP/syntax.conf
{ head -n 20 "$CB_TMP/base.conf"; echo 'rest = { listen = ; };'; tail -n +21 "$CB_TMP/base.conf"; } >"$BAD"
run "$D" --config "$BAD" --db "$CB_TMP/never.db"
assert_eq "$RC" 1 "a config with a syntax error exits 1"
assert_contains "$ERR" "$BAD:21: " "the syntax error is reported as FILE:LINE"
assert_eq "$(printf %s "$ERR" | wc -l)" 0 "the syntax error is one line"
if [ -e "$CB_TMP/never.db" ]; then fail "a bad config created the database"; else pass "a bad config creates no database"; fi

BAD=$CB_TMP/unknown.conf
cp "$CB_TMP/base.conf" "$BAD"
echo 'x = 1;' >>"$BAD"
LINE=$(wc -l <"$BAD")
run "$D" --config "$BAD"
assert_eq "$RC" 1 "a config with an unknown setting exits 1"
assert_contains "$ERR" "$BAD:$LINE: unknown setting 'x'" "the unknown setting is named with FILE:LINE"

BAD=$CB_TMP/unknown-nested.conf
sed 's|max_body_bytes = 1048576;|max_body_bytes = 1048576; max_body_byte = 1;|' "$CB_TMP/base.conf" >"$BAD"
LINE=$(grep -n 'max_body_byte = 1;' "$BAD" | cut -d: -f1)
run "$D" --config "$BAD"
assert_eq "$RC" 1 "a misspelt nested setting exits 1"
assert_contains "$ERR" "$BAD:$LINE: unknown setting 'max_body_byte'" "a nested unknown setting is named"

BAD=$CB_TMP/token.conf
sed 's|cbc0ede8d28a016018d4429cb9901abc46664754d716599256282270567a4ac8|CBC0EDE8|' "$CB_TMP/base.conf" >"$BAD"
LINE=$(grep -n '"CBC0EDE8"' "$BAD" | cut -d: -f1)
run "$D" --config "$BAD"
assert_eq "$RC" 1 "a bad token_sha256 exits 1"
assert_contains "$ERR" "principal 'dev-finance'" "the bad token_sha256 names the principal"
assert_contains "$ERR" "token_sha256" "the bad token_sha256 names the setting"
assert_contains "$ERR" "$BAD:$LINE:" "the bad token_sha256 gives FILE:LINE"

BAD=$CB_TMP/type.conf
sed 's|reconcile_seconds = 30;|reconcile_seconds = "30";|' "$CB_TMP/base.conf" >"$BAD"
run "$D" --config "$BAD"
assert_eq "$RC" 1 "a setting of the wrong type exits 1"
assert_contains "$ERR" "'reconcile_seconds' must be" "the mistyped setting is named"

# --- serving, a restart, the database ------------------------------------------------------

CB_CONFIG=$CB_TMP/base.conf
cb_start_daemon
cb_curl GET /v1/health ""
assert_jq "$CB_BODY" .status ok "the daemon serves"
SCHEMA=$(printf %s "$CB_BODY" | jq -r .schema_version)

assert_eq "$(sqlite3 "$CB_DB" 'PRAGMA journal_mode')" wal "the database is in WAL mode"
UV=$(sqlite3 "$CB_DB" 'PRAGMA user_version')
assert_jq "$UV" '. >= 1' true "the database has user_version >= 1"
assert_eq "$SCHEMA" "$UV" "/v1/health reports the database's user_version"

cb_curl GET /v1/catalog dev-edu
ETAG=$(printf '%s\n' "$CB_HEADERS" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }')
cb_curl POST /v1/catalog/services dev-operator "$(jq -n '{id: "restart-test", name: "restart-test",
        display_name: "重启测试", category: "SaaS", driver: "http", description: "", secure_controllable: false,
        max_protection_level: 1, bindable: false, plans: [{id: "restart-test-p", name: "p", display_name: "P",
        description: "", spec: {}, price: {amount_fen: 1, unit: "month"}}]}')"
assert_eq "$CB_STATUS" 201 "a draft is created before the restart"

FIRST_PID=$CB_PID
# shellcheck disable=SC2119 # no extra daemon arguments
cb_restart_daemon
assert_eq "$([ "$CB_PID" != "$FIRST_PID" ] && echo new)" new "a new process serves after the restart"
cb_curl GET /v1/catalog/services/restart-test dev-operator
assert_eq "$CB_STATUS" 200 "the draft survives the restart"
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.created_by)"' "draft 1 dev-operator" "the draft is unchanged"
cb_curl GET /v1/catalog/services dev-operator
assert_jq "$CB_BODY" '.services | length' 11 "10 seed services and the draft after the restart"
assert_eq "$(sqlite3 "$CB_DB" 'SELECT COUNT(*) FROM services')" 11 "the database holds 11 service revisions"
assert_eq "$(sqlite3 "$CB_DB" "SELECT COUNT(*) FROM services WHERE created_by = 'seed'")" 10 \
        "the seed was imported once"
cb_curl GET /v1/catalog dev-edu
assert_jq "$CB_BODY" '.services | length' 10 "the published catalogue still has 10 services"
assert_eq "$(printf '%s\n' "$CB_HEADERS" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }')" "$ETAG" \
        "the catalogue's ETag survives the restart"

# A second daemon on the same port gives up with a clear error; the first goes on.
run "$D" --config "$CB_CONFIG" --db "$CB_TMP/second.db" --rest-listen "127.0.0.1:$CB_PORT" --bus none
assert_eq "$RC" 1 "a second daemon on the same port exits 1"
assert_contains "$ERR" "cannot listen on 127.0.0.1:$CB_PORT" "the error names the address"
assert_contains "$ERR" "in use" "the error says the address is in use"
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "the first daemon still serves"

# --- malformed requests --------------------------------------------------------------------

# shellcheck disable=SC2016 # the inner shell expands $1 and $2
# raw BYTES: sends BYTES on a fresh connection and reads the answer until the
# server closes (bounded at 2 s); ANSWER holds its first line.
raw() {
        ANSWER=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "$2" >&3 && head -n1 <&3' \
                sh "$CB_PORT" "$1" 2>/dev/null | tr -d '\r') || true
}
# shellcheck disable=SC2016
# hangup BYTES: sends BYTES and closes without reading.
hangup() {
        timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "$2" >&3' sh "$CB_PORT" "$1" \
                2>/dev/null || true
}

raw 'GET /v1/health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'
assert_eq "$ANSWER" "HTTP/1.1 400 Bad Request" "a header line without a colon is answered 400"
raw 'GARBAGE /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
assert_eq "$ANSWER" "HTTP/1.1 405 Method Not Allowed" "an unknown method on a known path is answered 405"
BAD4XX=0
for i in $(seq 1 50); do
        case $((i % 10)) in
        0) raw 'GARBAGE\r\n\r\n' ;;
        1) raw 'GET /v1/health HTTP/9.9\r\n\r\n' ;;
        2) raw 'GET /v1/health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n' ;;
        3) hangup 'POST /v1/catalog/services HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"id":' ;;
        4) hangup 'GET /v1/cata' ;;
        5) raw 'POST /v1/catalog/services HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n\r\n' ;;
        6) raw 'POST /v1/catalog/services HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n' ;;
        7) hangup '\x00\x01\x02\xff\xfe\r\n\r\n' ;;
        *)
                cb_curl POST /v1/catalog/services dev-operator "{\"id\": \"x$i\", [}"
                [ "$CB_STATUS" = 400 ] || BAD4XX=$((BAD4XX + 1))
                ;;
        esac
done
assert_eq "$BAD4XX" 0 "malformed JSON is 400 every time"
if kill -0 "$CB_PID" 2>/dev/null; then
        pass "the daemon survives 50 malformed requests"
else
        fail "the daemon died during the malformed requests"
fi
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "health is 200 after the malformed requests"
cb_curl GET /v1/catalog dev-edu
assert_jq "$CB_BODY" '.services | length' 10 "the catalogue is served after the malformed requests"
cb_curl POST /v1/catalog/services/restart-test/submit dev-operator
assert_jq "$CB_BODY" .status submitted "a change still goes through after the malformed requests"
assert_eq "$(sqlite3 "$CB_DB" "SELECT COUNT(*) FROM services WHERE id LIKE 'x%'")" 0 \
        "no malformed request stored anything"

cb_stop_daemon

# --- SIGINT stops as cleanly as SIGTERM ------------------------------------------------------

cb_start_daemon
kill -INT "$CB_PID"
for _ in $(seq 1 20); do
        kill -0 "$CB_PID" 2>/dev/null || break
        sleep 0.1
done
if kill -0 "$CB_PID" 2>/dev/null; then
        fail "the daemon stops within 2 s of SIGINT"
        kill -KILL "$CB_PID" 2>/dev/null || true
else
        RC=0
        wait "$CB_PID" || RC=$?
        assert_eq "$RC" 0 "the daemon exits 0 on SIGINT"
fi
assert_contains "$(tail -n 3 "$CB_TMP/daemon.log")" "stopped" "the daemon logs its stop"
assert_eq "$(sqlite3 "$CB_DB" "PRAGMA integrity_check")" ok "the database is intact after the stops"
assert_eq "$(sqlite3 "$CB_DB" "SELECT status FROM services WHERE id = 'restart-test'")" submitted \
        "the last change before the stop is on disk"

cb_done
