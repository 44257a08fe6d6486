#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Secrets at rest (secretbox.h, README "secrets.key"): an http provider's
# password is stored sealed, never in clear in the database file; a row left
# in clear by an older broker is sealed at the next start, or the start is
# refused when no key is configured; a sealed value opens under its own row
# and key only; without a key no password is stored.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
cb_setup "$@"

cb_start_osb_provider
SECRET=cb-osb-secret

# The test config with absolute paths, no providers but the libvirt one.
sed -e '/^providers = (/,/^);/d' -e "s#\"\.\./\.\./#\"$PWD/#g" tests/integration/test.conf >"$CB_TMP/keyed.conf"
cat >>"$CB_TMP/keyed.conf" <<EOF
providers = (
  { name = "dev-test"; driver = "libvirt"; uri = "test://$PWD/etc/test-node.xml"; }
);
EOF
grep -q '^secrets = {' "$CB_TMP/keyed.conf" || fail "(set-up) test.conf has a secrets group"
awk '/^secrets = \{/ {skip = 1} !skip {print} skip && /^\};/ {skip = 0}' "$CB_TMP/keyed.conf" >"$CB_TMP/nokey.conf"
head -c 32 /dev/urandom >"$CB_TMP/other.key"
chmod 600 "$CB_TMP/other.key"
sed "s#^  key = .*#  key = \"$CB_TMP/other.key\";#" "$CB_TMP/keyed.conf" >"$CB_TMP/otherkey.conf"

# db_holds STRING: how many lines of the database file and its WAL hold it.
db_holds() { cat "$CB_DB" "$CB_DB-wal" 2>/dev/null | grep -c -a -F -e "$1" || true; }
provider_body() {
        jq -cn --arg n "$1" --arg u "$OSB_URL/" --arg p "$SECRET" \
                '{name: $n, driver: "http", url: $u, username: "cb", password: $p, api_version: "2.17"}'
}

# --- without a key: a password is not stored -------------------------------------
CB_CONFIG=$CB_TMP/nokey.conf cb_start_daemon
cb_curl POST /v1/providers dev-operator "$(provider_body no-key)"
assert_eq "$CB_STATUS" 503 "without a secrets key an http provider with a password is refused (503)"
assert_jq "$CB_BODY" .field password "... naming the password"
assert_contains "$CB_BODY" "secrets.key" "... and the setting that is missing"
cb_curl GET /v1/providers dev-operator
assert_jq "$CB_BODY" '[.providers[] | select(.name == "no-key")] | length' 0 "... and nothing is stored"
cb_stop_daemon

# --- with the key: sealed at rest, opens again after a restart --------------------
CB_CONFIG=$CB_TMP/keyed.conf cb_start_daemon
cb_curl POST /v1/providers dev-operator "$(provider_body sealed-a)"
assert_eq "$CB_STATUS" 201 "with the key the provider is stored"
cb_curl POST /v1/providers dev-operator "$(provider_body sealed-b)"
assert_eq "$CB_STATUS" 201 "a second one"
cb_wait_provider sealed-a && pass "it connects (the password reached the provider)" || fail "sealed-a connects ($CB_BODY)"
assert_eq "$(db_holds "$SECRET")" 0 "the database file holds no password in clear"
assert_eq "$(sqlite3 "$CB_DB" "SELECT count(*) FROM providers WHERE password LIKE 'sb1:%'")" 2 \
        "both passwords are stored sealed"
assert_eq "$(sqlite3 "$CB_DB" "SELECT count(DISTINCT password) FROM providers WHERE password IS NOT NULL")" 2 \
        "the same password seals differently in each row"
cb_restart_daemon
cb_wait_provider sealed-a && pass "after a restart the sealed password opens and the provider connects" ||
        fail "sealed-a after restart ($CB_BODY)"
cb_stop_daemon

# --- a sealed value moved to another row does not open there -----------------------
sqlite3 "$CB_DB" "UPDATE providers SET password = (SELECT password FROM providers WHERE name = 'sealed-a')
                  WHERE name = 'sealed-b'"
CB_CONFIG=$CB_TMP/keyed.conf cb_start_daemon
cb_wait_provider sealed-a && pass "the untouched provider still connects" || fail "sealed-a ($CB_BODY)"
cb_curl GET /v1/providers dev-operator
assert_jq "$CB_BODY" '[.providers[] | select(.name == "sealed-b")] | length' 0 \
        "the provider whose row got another row's sealed password is not loaded"
assert_contains "$(cat "$CB_TMP/daemon.log")" "stored provider sealed-b skipped: its password does not open" \
        "... and the log says why"
assert_not_contains "$(cat "$CB_TMP/daemon.log")" "$SECRET" "the log never holds the password"
cb_stop_daemon

# --- another key: nothing opens ---------------------------------------------------
: >"$CB_TMP/daemon.log"
CB_CONFIG=$CB_TMP/otherkey.conf cb_start_daemon
cb_curl GET /v1/providers dev-operator
assert_jq "$CB_BODY" '[.providers[] | select(.name | startswith("sealed-"))] | length' 0 \
        "under another key no stored provider is loaded"
assert_contains "$(cat "$CB_TMP/daemon.log")" "stored provider sealed-a skipped" "... each one logged"
cb_stop_daemon

# --- a row in clear (an older broker's): refused without a key, sealed with one ----
sqlite3 "$CB_DB" "UPDATE providers SET password = '$SECRET' WHERE name = 'sealed-b'"
assert_eq "$(db_holds "$SECRET")" 1 "(set-up) a password in clear, as an older broker stored it"
PORT=$(cb_free_port)
rc=0
timeout 20 "$CB_BUILD/cloudbrokerd" --config "$CB_TMP/nokey.conf" --db "$CB_DB" --rest-listen "127.0.0.1:$PORT" \
        --bus none >"$CB_TMP/refused.log" 2>&1 || rc=$?
assert_eq "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && echo refused)" refused \
        "with a password in clear and no key the daemon refuses to start (exit $rc)"
assert_contains "$(cat "$CB_TMP/refused.log")" "1 http provider password(s) are stored in clear" \
        "... saying what is in clear"
assert_contains "$(cat "$CB_TMP/refused.log")" "set secrets.key" "... and what to set"
assert_eq "$(sqlite3 "$CB_DB" "SELECT password FROM providers WHERE name = 'sealed-b'")" "$SECRET" \
        "... leaving the row as it was"

: >"$CB_TMP/daemon.log"
CB_CONFIG=$CB_TMP/keyed.conf cb_start_daemon
assert_contains "$(cat "$CB_TMP/daemon.log")" "sealed 1 provider password(s)" "with the key the start seals it"
cb_wait_provider sealed-b && pass "the provider whose password was in clear connects" ||
        fail "sealed-b after sealing ($CB_BODY)"
cb_stop_daemon
sqlite3 "$CB_DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
assert_eq "$(db_holds "$SECRET")" 0 "afterwards the database file holds no password in clear"
assert_eq "$(sqlite3 "$CB_DB" "SELECT count(*) FROM providers WHERE password NOT LIKE 'sb1:%'")" 0 \
        "every stored password is sealed"

# --- a VM binding's private key in clear (an older broker's) ------------------------
# (The row is written by hand: the sqlite3 shell does not enforce the
# resource reference; test-osb-server.sh binds real VMs.)
PEM_LINE=b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
sqlite3 "$CB_DB" "INSERT INTO vm_bindings (id, resource_id, binding_key, created_by, request_hash, public_key,
                  private_key, created_at) VALUES ('b-0000000000000001', 'r-old', 'old-1', 'osb:dev-portal', 'h',
                  'ssh-ed25519 AAAA', '-----BEGIN OPENSSH PRIVATE KEY-----
$PEM_LINE
-----END OPENSSH PRIVATE KEY-----
', '2026-01-01T00:00:00Z')"
rc=0
timeout 20 "$CB_BUILD/cloudbrokerd" --config "$CB_TMP/nokey.conf" --db "$CB_DB" --rest-listen "127.0.0.1:$PORT" \
        --bus none >"$CB_TMP/refused.log" 2>&1 || rc=$?
assert_eq "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && echo refused)" refused \
        "with a binding's private key in clear and no key the daemon refuses to start (exit $rc)"
assert_contains "$(cat "$CB_TMP/refused.log")" "1 VM binding private key(s) are stored in clear" \
        "... saying what is in clear"
: >"$CB_TMP/daemon.log"
CB_CONFIG=$CB_TMP/keyed.conf cb_start_daemon
assert_contains "$(cat "$CB_TMP/daemon.log")" "and 1 binding private key(s)" "with the key the start seals it"
cb_stop_daemon
sqlite3 "$CB_DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
assert_eq "$(db_holds "$PEM_LINE")" 0 "afterwards the database file holds no private key in clear"
assert_eq "$(db_holds "PRIVATE KEY")" 0 "... not even its armour"
assert_eq "$(sqlite3 "$CB_DB" "SELECT count(*) FROM vm_bindings WHERE private_key LIKE 'sb1:%'")" 1 \
        "the binding's private key is sealed"

kill -TERM "$OSB_PID"
cb_done
