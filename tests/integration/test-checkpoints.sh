#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Signed audit checkpoints (issue 8) through the real daemon. The daemon signs
# the trail's head with its own key (test.conf: the dev SM2 key, a checkpoint
# every 5 records), at start, every 5 records and at stop, and logs each.
# Then the database file is tampered with as someone with the database but
# without the key would: a forged record, a tail re-chained with correct SM3
# hashes (recomputed here with jq and `openssl dgst -sm3`), a cut tail with the
# head rewritten, invalid UTF-8 in a field, the head row deleted. Offline
# `cloudbrokerctl audit verify --key PUB` and GET /v1/audit/verify name the
# first bad record each time; a restart on a tampered file refuses every
# change (503 naming the audit failure), still serves reads, files an
# incident and says so on /v1/health. Also: a key others may read is refused
# with file:line, the key arrives as a systemd credential, and without any
# key the daemon starts and says the trail is unsigned.
#
# Usage (from the repository root): tests/integration/test-checkpoints.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"

CTL=$CB_BUILD/cloudbrokerctl
PUB=etc/dev-keys/dev-checkpoint.pub.pem
OTHER_PUB=etc/dev-keys/dev-authority.pub.pem

# A copy of the test config with absolute paths, and one without the audit group.
sed "s|\"\\.\\./\\.\\./etc|\"$PWD/etc|g; s|test:///\\.\\./\\.\\./etc|test:///$PWD/etc|" "$CB_CONFIG" >"$CB_TMP/base.conf"
awk '/^audit = \{/ {skip = 1} !skip {print} skip && /^\};/ {skip = 0}' "$CB_TMP/base.conf" >"$CB_TMP/nokey.conf"
grep -q checkpoint_key "$CB_TMP/nokey.conf" && fail "(set-up) the audit group was not removed"

sql() {
        sqlite3 -cmd ".timeout 5000" "$CB_DB" "$1"
}

# verify_offline: `cloudbrokerctl audit verify --db` with the public key; sets RC, OUT, JSON.
verify_offline() {
        RC=0
        OUT=$("$CTL" audit verify --db "$CB_DB" --key "$PUB" 2>&1) || RC=$?
        JSON=$("$CTL" --json audit verify --db "$CB_DB" --key "$PUB" 2>/dev/null || true)
}

# content SEQ: the hashed content of a record, as the daemon forms it.
content() {
        sqlite3 -json "$CB_DB" "SELECT * FROM audit WHERE seq = $1" |
                jq -cj '.[0] | [.seq, .at, .principal, .face, .action, .object, .outcome, .codes, .detail]'
}

# sm3 PREV SEQ: the hash record SEQ gets after PREV.
sm3() {
        { printf '%s\n' "$1"; content "$2"; } | openssl dgst -sm3 -r | cut -c1-64
}

# rechain FROM: recompute prev_hash and hash of records FROM.. and the head,
# as an attacker who edited record FROM would.
rechain() {
        local seq prev h last
        last=$(sql "SELECT max(seq) FROM audit")
        prev=$(sql "SELECT hash FROM audit WHERE seq = $(($1 - 1))")
        for seq in $(seq "$1" "$last"); do
                h=$(sm3 "$prev" "$seq")
                sql "UPDATE audit SET prev_hash = '$prev', hash = '$h' WHERE seq = $seq"
                prev=$h
        done
        sql "UPDATE audit_head SET seq = $last, hash = '$prev'"
}

# --- a signed trail -------------------------------------------------------------------

CB_CONFIG=$CB_TMP/base.conf cb_start_daemon
KEYLINE=$(grep "audit checkpoint key:" "$CB_TMP/daemon.log" | head -1 || true)
assert_contains "$KEYLINE" "audit checkpoint key: file $PWD/etc/dev-keys/dev-checkpoint.key.pem (sm2-sm3)" \
        "the daemon logs which key signs, from where, and its algorithm"
cb_curl GET /v1/health ""
assert_jq "$CB_BODY" '[.status, .audit] | join(" ")' "ok signed" "health: ok, audit signed"

for i in $(seq 1 12); do
        jq --arg id "cp-svc-$i" '.id = $id | .name = $id | .plans = [.plans[0] | .id = ($id + "-small") | .name = "small"]' \
                etc/catalog/ecs-general.json >"$CB_TMP/svc.json"
        cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/svc.json"
        [ "$CB_STATUS" = 201 ] || fail "drafting cp-svc-$i: $CB_STATUS $CB_BODY"
done
cb_curl GET /v1/audit/verify dev-auditor
assert_eq "$CB_STATUS" 200 "GET /v1/audit/verify: 200"
N=$(printf %s "$CB_BODY" | jq .records)
assert_jq "$CB_BODY" '[.ok, .signatures, .audit] | map(tostring) | join(" ")' "true verified signed" \
        "the trail verifies and every checkpoint's signature with it"
assert_jq "$CB_BODY" '.checkpoints >= 3 and .signed_seq >= 10' true \
        "checkpoints at start and every 5 records ($(printf %s "$CB_BODY" | jq -c '[.checkpoints, .signed_seq]'))"
cb_stop_daemon
STOPLINE=$(grep -o "audit checkpoint #[0-9]* anchor $N:[0-9a-f]* at [^ ]* (stop; sm2-sm3 key [0-9a-f]*; every 5) signature [A-Za-z0-9+/=]*" \
        "$CB_TMP/daemon.log" | tail -1 || true)
assert_contains "$STOPLINE" "anchor $N:" "at stop the daemon signs and logs a checkpoint of the head (record $N)"
assert_eq "$(sql "SELECT reason FROM audit_checkpoints ORDER BY id DESC LIMIT 1")" stop "and stores it"
# The logged signature is the stored one: the journal holds a copy outside the database.
assert_eq "$(sql "SELECT signature FROM audit_checkpoints ORDER BY id DESC LIMIT 1")" "${STOPLINE##* }" \
        "the logged signature is the stored one"
# An auditor can check a checkpoint with the openssl CLI alone.
sql "SELECT 'cloudbroker audit checkpoint v1' || char(10) || 'id=' || id || char(10) || 'seq=' || seq ||
     char(10) || 'hash=' || hash || char(10) || 'at=' || at || char(10) || 'every=' || every || char(10)
     FROM audit_checkpoints ORDER BY id DESC LIMIT 1" | head -c -1 >"$CB_TMP/statement"
sql "SELECT signature FROM audit_checkpoints ORDER BY id DESC LIMIT 1" | base64 -d >"$CB_TMP/sig"
RC=0
openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin -digest sm3 -pkeyopt distid:1234567812345678 \
        -in "$CB_TMP/statement" -sigfile "$CB_TMP/sig" >/dev/null 2>&1 || RC=$?
assert_eq "$RC" 0 "openssl pkeyutl verifies the stop checkpoint (SM2 with SM3, GM/T ID)"

verify_offline
assert_eq "$RC" 0 "offline verify with the public key exits 0"
assert_contains "$OUT" "intact: $N records" "the chain is intact"
assert_contains "$OUT" "every signature verified; signed through record $N" "and every checkpoint verified"
RC=0
OUT=$("$CTL" audit verify --db "$CB_DB" 2>&1) || RC=$?
assert_contains "$OUT" "NOT CHECKED: give the daemon's public key with --key" "without --key it says the checkpoints went unchecked"
RC=0
OUT=$("$CTL" audit verify --db "$CB_DB" --key "$OTHER_PUB" 2>&1) || RC=$?
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "with another public key verify fails"
assert_contains "$OUT" "forged-checkpoint" "naming the checkpoints as not the given key's"
RC=0
OUT=$("$CTL" audit verify --db "$CB_DB" --key "$CB_TMP/none.pem" 2>&1) || RC=$?
assert_contains "$RC:$OUT" "1:cloudbrokerctl: --key: cannot read $CB_TMP/none.pem" "a missing --key file is named"

# The hash helper below is checked against the daemon before it forges anything.
assert_eq "$(sm3 "$(sql "SELECT prev_hash FROM audit WHERE seq = 7")" 7)" "$(sql "SELECT hash FROM audit WHERE seq = 7")" \
        "(helper) jq + openssl dgst -sm3 recompute record 7's hash exactly"

PRISTINE=$CB_TMP/pristine
mkdir "$PRISTINE"
cp "$CB_DB" "$PRISTINE/"
restore() {
        rm -f "$CB_DB" "$CB_DB-wal" "$CB_DB-shm"
        cp "$PRISTINE/$(basename "$CB_DB")" "$CB_DB"
}
K=8 # a record in the middle, after the checkpoint at record 5

# (1) a forged record.
sql "UPDATE audit SET principal = 'mallory' WHERE seq = $K"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(1) a forged record: verify exits non-zero"
assert_contains "$OUT" "BROKEN at record $K: edited" "(1) names record $K as edited"
restore

# (2) the same forgery, with the tail re-chained: the chain alone cannot tell.
sql "UPDATE audit SET principal = 'mallory' WHERE seq = $K"
rechain $K
RC=0
"$CTL" audit verify --db "$CB_DB" >/dev/null 2>&1 || RC=$?
assert_eq "$RC" 0 "(2) re-chained from record $K: without the key the chain verifies (the limit of a chain)"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(2) with the key: verify exits non-zero"
assert_jq "$JSON" '.first_bad.problem' rewritten "(2) the problem is a rewrite"
assert_jq "$JSON" "[.first_bad.seq <= $K, .first_bad.through >= $K, .first_bad.seq > 5] | all" true \
        "(2) the stretch it names ($(printf %s "$JSON" | jq -c '[.first_bad.seq, .first_bad.through]')) holds record $K and starts after the checkpoint at 5"
assert_contains "$OUT" "BROKEN at record 6: rewritten (records 6..10 were rewritten: record 10 is not the one checkpoint" \
        "(2) the text output names the stretch and the checkpoint"
cp "$CB_DB" "$CB_TMP/rechained.db"
restore

# (3) a cut tail, the head rewritten to match.
CUT=$((N - 3))
sql "DELETE FROM audit WHERE seq > $CUT;
     UPDATE audit_head SET seq = $CUT, hash = (SELECT hash FROM audit WHERE seq = $CUT);"
RC=0
"$CTL" audit verify --db "$CB_DB" >/dev/null 2>&1 || RC=$?
assert_eq "$RC" 0 "(3) cut at record $CUT, head rewritten: without the key the chain verifies"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(3) with the key: verify exits non-zero"
assert_jq "$JSON" '[.first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "$((CUT + 1)) deleted" \
        "(3) names record $((CUT + 1)) as the first deleted"
assert_contains "$OUT" "records $((CUT + 1))..$N were cut off" "(3) and says how far the signed trail went"
# Deleting the newest checkpoints too, down to the one at record 5: the tail
# after it is as long as the interval, so a checkpoint is missing.
sql "DELETE FROM audit_checkpoints WHERE seq > 5"
verify_offline
assert_jq "$JSON" '[.first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "10 unsigned-tail" \
        "(3) cut and its checkpoints deleted: records 6..$CUT carry no checkpoint though one is due at 10"
restore

# (4) invalid UTF-8 in a field (defect 8: "out of memory" and 500 before).
sql "UPDATE audit SET object = CAST(X'736572766963653aff' AS TEXT) WHERE seq = $K"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(4) invalid UTF-8: verify exits non-zero"
assert_not_contains "$OUT" "out of memory" "(4) not 'out of memory'"
assert_contains "$OUT" "BROKEN at record $K: edited (record $K: its object is not valid UTF-8" \
        "(4) names record $K and the field"
cp "$CB_DB" "$CB_TMP/utf8.db"
restore

# (5) the head row deleted (defect 8: blamed record N+1 before).
sql "DELETE FROM audit_head"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(5) head row deleted: verify exits non-zero"
assert_jq "$JSON" '[.first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "$N head-missing" \
        "(5) names record $N, the last there is, and the missing head"
assert_not_contains "$OUT" "record $((N + 1))" "(5) no record past the end is blamed"
restore

# (6) a checkpoint's signature tampered with.
sql "UPDATE audit_checkpoints SET seq = seq + 1 WHERE id = 2"
verify_offline
assert_jq "$JSON" '[.first_bad.problem, .first_bad.checkpoint] | map(tostring) | join(" ")' "forged-checkpoint 2" \
        "(6) an edited checkpoint: its signature does not verify, named"
restore

# --- a restart on a tampered database ---------------------------------------------------

cp "$CB_TMP/rechained.db" "$CB_DB"
CHECKPOINTS=$(sql "SELECT count(*) FROM audit_checkpoints")
CB_CONFIG=$CB_TMP/base.conf cb_start_daemon
assert_contains "$(grep "AUDIT TRAIL FAILED its check at start" "$CB_TMP/daemon.log" | tail -1)" "rewritten" \
        "the restarted daemon says loudly in its log that the trail failed"
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "health still answers 200"
assert_jq "$CB_BODY" '.status' degraded "health: status degraded"
assert_jq "$CB_BODY" '.audit | startswith("failed: record 6: rewritten")' true "health: audit \"failed: record 6: rewritten ...\""
INC=$(printf %s "$CB_BODY" | jq -r '.audit_incident // ""')
jq --arg id "cp-svc-x" '.id = $id | .name = $id | .plans = [.plans[0] | .id = ($id + "-small") | .name = "small"]' \
        etc/catalog/ecs-general.json >"$CB_TMP/svc.json"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/svc.json"
assert_eq "$CB_STATUS" 503 "a change is refused: 503"
assert_jq "$CB_BODY" '.message | contains("audit trail failed its check at start")' true "naming the audit failure"
cb_curl POST /v1/policy/evaluate dev-edu '{"department":"edu","items":[]}'
assert_eq "$([ "$CB_STATUS" != 503 ] && echo served)" served "a read by POST (policy evaluation) is still served ($CB_STATUS)"
cb_curl GET /v1/catalog dev-edu
assert_eq "$CB_STATUS" 200 "reads still work: GET /v1/catalog 200"
cb_curl GET /v1/audit dev-auditor
assert_eq "$CB_STATUS" 200 "GET /v1/audit 200"
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false 6 rewritten" \
        "GET /v1/audit/verify names the rewrite too"
assert_contains "$INC" "inc-" "an incident was filed ($INC)"
cb_curl GET "/v1/incidents/$INC" dev-operator
assert_jq "$CB_BODY" '[.reported_by, .severity, (.description | contains("audit trail failed"))] | map(tostring) | join(" ")' \
        "system major true" "the incident: by system, major, about the audit trail"
assert_eq "$(sql "SELECT count(*) FROM audit WHERE object = 'incident:$INC'")" 0 \
        "the incident was filed without an audit record (the trail refuses them)"
cb_stop_daemon
assert_eq "$(sql "SELECT count(*) FROM audit_checkpoints")" "$CHECKPOINTS" \
        "the failed daemon signed no checkpoint of the tampered head, at start or stop"

# Invalid UTF-8 through REST: 200 and the record named (500 before).
cp "$CB_TMP/utf8.db" "$CB_DB"
CB_CONFIG=$CB_TMP/base.conf cb_start_daemon
cb_curl GET /v1/audit/verify dev-auditor
assert_eq "$CB_STATUS" 200 "(4) REST verify of invalid UTF-8: 200, not 500"
assert_jq "$CB_BODY" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false $K edited" \
        "(4) REST names record $K as edited"
cb_curl GET "/v1/audit?after=$((K - 1))&limit=1" dev-auditor
assert_jq "$CB_BODY" '.records[0] | [.seq, .object] | map(tostring) | join(" ")' "$K service:�" \
        "(4) GET /v1/audit lists the record, the bad byte as U+FFFD"
cb_stop_daemon

# The pristine copy: the start check passes and changes work again.
restore
CB_CONFIG=$CB_TMP/base.conf cb_start_daemon
cb_curl GET /v1/health ""
assert_jq "$CB_BODY" '[.status, .audit] | join(" ")' "ok signed" "on the pristine copy: health ok, signed"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/svc.json"
assert_eq "$CB_STATUS" 201 "and changes work"
cb_stop_daemon
verify_offline
assert_eq "$RC" 0 "offline verify of the pristine copy after more work exits 0"

# An existing database from before checkpoints (schema 8, as make-old-store writes it,
# holding the pristine copy's rows): verified once, then checkpointed.
cb_old_store 8 "$CB_DB" "$PRISTINE/$(basename "$CB_DB")"
assert_eq "$(sql "PRAGMA user_version")" 8 "(set-up) the old database is at schema 8"
assert_eq "$(sql "SELECT count(*) FROM sqlite_master WHERE name = 'audit_checkpoints'")" 0 \
        "(set-up) and has no checkpoints table"
CB_CONFIG=$CB_TMP/base.conf cb_start_daemon
assert_contains "$(grep "records verified once, signing their first checkpoint" "$CB_TMP/daemon.log" | tail -1)" \
        "audit trail: $N records verified once" "an upgraded database: its chain is verified once"
assert_eq "$(sql "SELECT reason || ' ' || seq FROM audit_checkpoints WHERE id = 1")" "upgrade $N" \
        "and checkpointed: checkpoint #1 signs its head"
cb_curl GET /v1/health ""
assert_jq "$CB_BODY" '.audit' signed "health: signed"
cb_stop_daemon
# The same upgrade of a tampered file refuses changes: nothing vouches for the forgery.
cb_old_store 8 "$CB_DB" "$PRISTINE/$(basename "$CB_DB")"
sql "UPDATE audit SET principal = 'mallory' WHERE seq = $K;"
CB_CONFIG=$CB_TMP/base.conf cb_start_daemon
cb_curl GET /v1/health ""
assert_jq "$CB_BODY" '.audit' "failed: record $K: edited: record $K does not match its hash" \
        "an upgraded database with a forged record fails the check, naming record $K"
assert_eq "$(sql "SELECT count(*) FROM audit_checkpoints")" 0 "and gets no checkpoint"
cb_stop_daemon

# --- the key ---------------------------------------------------------------------------

run() {
        RC=0
        timeout 10 "$@" >"$CB_TMP/run.out" 2>&1 || RC=$?
        OUT=$(cat "$CB_TMP/run.out")
}

# A key others may read is refused, with file:line.
cp etc/dev-keys/dev-checkpoint.key.pem "$CB_TMP/open.pem"
chmod 0644 "$CB_TMP/open.pem"
sed "s|\"$PWD/etc/dev-keys/dev-checkpoint.key.pem\"|\"open.pem\"|" "$CB_TMP/base.conf" >"$CB_TMP/open.conf"
LINE=$(grep -n 'checkpoint_key = "open.pem"' "$CB_TMP/open.conf" | cut -d: -f1)
run "$CB_BUILD/cloudbrokerd" --config "$CB_TMP/open.conf" --db "$CB_TMP/open.db" --rest-listen "" --bus none
assert_eq "$RC" 1 "a group/world-readable checkpoint key: the daemon refuses to start"
assert_contains "$OUT" "$CB_TMP/open.conf:$LINE: 'checkpoint_key': $CB_TMP/open.pem is readable or writable by group or others (mode 0644)" \
        "naming the file, the line and the mode"

# Under systemd: no setting, the credential checkpoint-key (here an Ed25519 key).
mkdir -m 0700 "$CB_TMP/creds"
cp etc/dev-keys/dev-authority-ed25519.key.pem "$CB_TMP/creds/checkpoint-key"
chmod 0400 "$CB_TMP/creds/checkpoint-key"
rm -f "$CB_TMP/cb.db"*
CREDENTIALS_DIRECTORY=$CB_TMP/creds CB_CONFIG=$CB_TMP/nokey.conf cb_start_daemon
assert_contains "$(grep "audit checkpoint key:" "$CB_TMP/daemon.log" | tail -1)" \
        "audit checkpoint key: credential $CB_TMP/creds/checkpoint-key (ed25519)" "the key arrives as a credential"
cb_stop_daemon
RC=0
OUT=$("$CTL" audit verify --db "$CB_DB" --key etc/dev-keys/dev-authority-ed25519.pub.pem 2>&1) || RC=$?
assert_eq "$RC" 0 "its Ed25519 checkpoints verify with its public key"
assert_eq "$(sql "SELECT group_concat(DISTINCT alg) FROM audit_checkpoints")" ed25519 "stored as ed25519"
# The same database, now with the SM2 key: the newest checkpoint is another key's.
CB_CONFIG=$CB_TMP/base.conf cb_start_daemon
cb_curl GET /v1/health ""
assert_jq "$CB_BODY" '.audit | contains("is signed by key")' true "a changed key is a failed check, named ($(printf %s "$CB_BODY" | jq -r .audit | head -c 120))"
cb_stop_daemon

# No key at all: the daemon starts, loudly unsigned.
rm -f "$CB_TMP/cb.db"*
CB_CONFIG=$CB_TMP/nokey.conf cb_start_daemon
assert_contains "$(grep "AUDIT TRAIL UNSIGNED" "$CB_TMP/daemon.log" | tail -1)" "Development only" \
        "without a key the daemon warns loudly that the trail is unsigned"
cb_curl GET /v1/health ""
assert_jq "$CB_BODY" '[.status, .audit] | join(" ")' "ok unsigned" "health: audit unsigned"
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" '[.ok, .signatures, .audit] | map(tostring) | join(" ")' "true none unsigned" \
        "verify says the trail is unsigned"
cb_stop_daemon
RC=0
OUT=$("$CTL" audit verify --db "$CB_DB" --key "$PUB" 2>&1) || RC=$?
assert_contains "$OUT" "UNSIGNED: the trail has no checkpoints" "offline verify says so too"

cb_done
