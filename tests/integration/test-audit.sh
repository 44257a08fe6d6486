#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The audit trail (issue 3, regulation Art. 37-38) through the real daemon:
# changes of every kind (catalogue, approval, milestone, suspension) and
# refusals appear in order with principal, face, action, object and outcome;
# who may read it; ?after= and ?limit=; the chain verifies. Then the
# database FILE is tampered with while the daemon is stopped, and
# `cloudbrokerctl audit verify --db` (offline) and GET /v1/audit/verify (a
# daemon restarted on the tampered file) name the record: an edit, a
# deletion in the middle, a reordering (two records swapped), the
# deletion of the newest record, and the newest records cut off together
# with the head, which only an anchor kept outside the database reveals (the
# daemon logs one at start and stop; --anchor / ?anchor= check it).
#
# Usage (from the repository root): tests/integration/test-audit.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

CTL=$CB_BUILD/cloudbrokerctl
TODAY=$(date +%F)

# audit [QUERY [TOKEN]]: GET /v1/audit as the auditor.
audit() {
        cb_curl GET "/v1/audit${1:+?$1}" "${2:-dev-auditor}"
}

# The daemon reports the test node's unmanaged domain once, from its first
# reconcile, as "system": let that record land before the test's own.
for _ in $(seq 1 50); do
        audit
        [ "$(printf %s "$CB_BODY" | jq '[.records[] | select(.action == "inventory.unmanaged")] | length')" -gt 0 ] && break
        sleep 0.1
done
audit
BASE=$(printf %s "$CB_BODY" | jq '.records | length')

# --- changes of each kind ----------------------------------------------------------

jq '.id = "audit-svc" | .name = "audit-svc" | .plans = [.plans[0] | .id = "audit-svc-small" | .name = "small"]' \
        etc/catalog/ecs-general.json >"$CB_TMP/svc.json"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/svc.json"
assert_eq "$CB_STATUS" 201 "change 1: the operator drafts a catalogue service"

jq -n --arg from "$(date -d '-30 days' +%F)" --arg until "$(date -d '+300 days' +%F)" '{
        approval_no: "临政信审〔2026〕7号", project_id: "lf-audit", project_name: "审计测试项目",
        department: "edu", revision: 1, valid_from: $from, valid_until: $until,
        budget: {construction_fen: 1000000, om_fen: 1000000}, systems: [],
        items: [{service_id: "ecs-general", plan_id: "ecs-general-2c4g", quantity: 1}],
        requires_secure_controllable: false, dedicated_network_consent: false}' >"$CB_TMP/approval.json"
"$CTL" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority \
        "$CB_TMP/approval.json" >"$CB_TMP/approval.env"
cb_curl POST /v1/approvals dev-edu "@$CB_TMP/approval.env"
assert_eq "$CB_STATUS" 201 "change 2: dev-edu submits a signed approval"

cb_curl POST /v1/projects/lf-audit/milestones dev-edu "{\"kind\":\"contract_signed\",\"date\":\"$TODAY\"}"
assert_eq "$CB_STATUS" 201 "change 3: dev-edu records a milestone"

cb_curl POST /v1/projects/lf-audit/suspend dev-edu '{"reason": "self-suspension"}'
assert_eq "$CB_STATUS" 403 "refusal: dev-edu may not suspend"

cb_curl POST /v1/projects/lf-audit/suspend dev-authority '{"reason": "审计抽查"}'
assert_eq "$CB_STATUS" 200 "change 4: the authority suspends the project"

# --- reading it ---------------------------------------------------------------------

audit
assert_eq "$CB_STATUS" 200 "the auditor reads the audit trail: 200"
ALL=$CB_BODY
N=$(printf %s "$ALL" | jq '.records | length')
assert_eq "$N" $((BASE + 5)) "five new records: four changes and one refusal"
assert_jq "$ALL" '[.records[].seq] == [range(1; '"$N"' + 1)]' true "sequence numbers 1..$N, in order, no gaps"
assert_jq "$ALL" "[.records[$BASE:][] | [.principal, .face, .action, .object, .outcome] | join(\" \")] | join(\"|\")" \
        "dev-operator rest catalog.create service:audit-svc ok|dev-edu rest approval.accept project:lf-audit ok|dev-edu rest project.milestone project:lf-audit ok|dev-edu rest project.suspend project:lf-audit forbidden|dev-authority rest project.suspend project:lf-audit ok" \
        "each record: principal, face, action, object, outcome, in order"
assert_jq "$ALL" ".records[$BASE + 1].detail | .revision, .key_id" "1
dev-authority" "the approval's record names its revision and key"
assert_jq "$ALL" ".records[$BASE + 4].detail.reason" "审计抽查" "the suspension's record keeps the reason"
assert_jq "$ALL" '[.records[] | select((.at | length) == 0 or (.hash | length) != 64)] | length' 0 \
        "every record has a time and a 64-hex hash"
# shellcheck disable=SC2016 # $i is jq's
assert_jq "$ALL" '[range(1; .records | length) as $i | select(.records[$i].prev_hash != .records[$i - 1].hash)] | length' 0 \
        "each record carries the previous record's hash"
assert_jq "$ALL" '.records[0].prev_hash' 0000000000000000000000000000000000000000000000000000000000000000 \
        "the first record chains to the genesis hash"

audit "" dev-authority
assert_eq "$CB_STATUS" 200 "the authority reads the audit trail: 200"
for who in dev-edu dev-health dev-operator dev-finance dev-migration; do
        audit "" "$who"
        assert_eq "$CB_STATUS" 403 "$who reads the audit trail: 403"
        cb_curl GET /v1/audit/verify "$who"
        assert_eq "$CB_STATUS" 403 "$who verifies the audit trail: 403"
done
cb_curl GET /v1/audit ""
assert_eq "$CB_STATUS" 401 "no token: 401"

audit "after=$BASE"
assert_jq "$CB_BODY" '[.records[].seq] | map(tostring) | join(",")' \
        "$((BASE + 1)),$((BASE + 2)),$((BASE + 3)),$((BASE + 4)),$((BASE + 5))" "?after=$BASE lists the records after it"
audit "after=$((BASE + 2))&limit=2"
assert_jq "$CB_BODY" '[.records[].seq] | map(tostring) | join(",")' "$((BASE + 3)),$((BASE + 4))" \
        "?after= with ?limit=2"
audit "after=$N"
assert_jq "$CB_BODY" '.records | length' 0 "?after=the last: nothing"
for q in after=-1 after=x after= limit=0 limit=10001 limit=abc; do
        audit "$q"
        assert_eq "$CB_STATUS" 400 "?$q: 400"
done

cb_curl GET /v1/audit/verify dev-auditor
assert_eq "$CB_STATUS" 200 "the auditor verifies: 200"
assert_jq "$CB_BODY" '[.ok, .records] | map(tostring) | join(" ")' "true $N" "the chain is intact: ok true, $N records"
assert_jq "$CB_BODY" .head "$(printf %s "$ALL" | jq -r '.records[-1].hash')" "its head is the newest record's hash"
assert_jq "$CB_BODY" 'has("first_bad")' false "no first_bad"
cb_curl GET /v1/audit/verify dev-authority
assert_jq "$CB_BODY" .ok true "the authority verifies: ok true"

# --- tampering with the database file -------------------------------------------------

cb_stop_daemon
# The anchor the daemon wrote to its log as it stopped (the journal, under systemd).
ANCHOR=$(grep -o "audit anchor [0-9]*:[0-9a-f]* (at stop)" "$CB_TMP/daemon.log" | tail -1 | awk '{print $3}')
PRISTINE=$CB_TMP/pristine
mkdir "$PRISTINE"
for f in "$CB_DB" "$CB_DB-wal" "$CB_DB-shm"; do
        [ -e "$f" ] && cp "$f" "$PRISTINE/"
done

restore() {
        rm -f "$CB_DB" "$CB_DB-wal" "$CB_DB-shm"
        cp "$PRISTINE"/* "$(dirname "$CB_DB")/"
}

sql() {
        sqlite3 -cmd ".timeout 5000" "$CB_DB" "$1"
}

# verify_offline: runs `cloudbrokerctl audit verify --db`; sets RC, OUT, JSON.
verify_offline() {
        RC=0
        OUT=$("$CTL" audit verify --db "$CB_DB" 2>&1) || RC=$?
        JSON=$("$CTL" --json audit verify --db "$CB_DB" 2>/dev/null || true)
}

verify_offline
assert_eq "$RC" 0 "offline verify of the untouched file exits 0"
assert_contains "$OUT" "intact: $N records" "and says the chain is intact"
restore

MID=$((BASE + 2)) # the approval's record

# (a) an edit: another principal on one record.
sql "UPDATE audit SET principal = 'mallory' WHERE seq = $MID;"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(a) an edited principal: verify exits non-zero ($RC)"
assert_contains "$OUT" "BROKEN at record $MID: edited" "(a) names record $MID as edited"
assert_jq "$JSON" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false $MID edited" \
        "(a) --json: ok false, first_bad $MID edited"
# A daemon restarted on the tampered file sees it too.
cb_start_daemon
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false $MID edited" \
        "(a) GET /v1/audit/verify after a restart: ok false, first_bad $MID edited"
# New records appended after the tampering do not hide it.
cb_curl POST /v1/projects/lf-audit/resume dev-authority '{"reason": "复查"}'
assert_eq "$CB_STATUS" 200 "(a) the daemon keeps working on the tampered file"
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" '[.ok, .first_bad.seq] | map(tostring) | join(" ")' "false $MID" \
        "(a) still reported after a new record"
cb_stop_daemon
restore

# An edit the hash does not cover would be a hole: try each column.
for col in at face action object outcome codes detail; do
        case $col in
        codes) val="'[\"NO_APPROVAL\"]'" ;;
        detail) val="'{\"revision\":9}'" ;;
        *) val="'x'" ;;
        esac
        sql "UPDATE audit SET $col = $val WHERE seq = $MID;"
        verify_offline
        assert_jq "$JSON" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false $MID edited" \
                "(a) an edited $col is detected at record $MID"
        restore
done
sql "UPDATE audit SET hash = 'ff' || substr(hash, 3) WHERE seq = $MID;"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(a) an edited hash is detected"
restore

# (b) a record deleted from the middle.
sql "DELETE FROM audit WHERE seq = $MID;"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(b) a deleted middle record: verify exits non-zero"
assert_jq "$JSON" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false $MID deleted" \
        "(b) names record $MID as deleted"
assert_contains "$OUT" "deleted" "(b) the text output says deleted"
# Deleting and renumbering the rest down does not help either.
sql "UPDATE audit SET seq = seq - 1 WHERE seq > $MID;"
verify_offline
assert_jq "$JSON" '[.ok, .first_bad.seq] | map(tostring) | join(" ")' "false $MID" \
        "(b) deleted and renumbered: still caught at record $MID"
restore

# (c) two records swapped (their sequence numbers exchanged: a reordering).
sql "UPDATE audit SET seq = -1 WHERE seq = $MID;
     UPDATE audit SET seq = $MID WHERE seq = $((MID + 1));
     UPDATE audit SET seq = $((MID + 1)) WHERE seq = -1;"
assert_eq "$(sql "SELECT action FROM audit WHERE seq = $MID;")" project.milestone "(c) (the records really are swapped)"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(c) two swapped records: verify exits non-zero"
assert_jq "$JSON" '[.ok, .first_bad.seq] | map(tostring) | join(" ")' "false $MID" "(c) caught at record $MID"
assert_jq "$JSON" '.first_bad.problem' reordered "(c) as reordered"
cb_start_daemon
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false $MID reordered" \
        "(c) GET /v1/audit/verify after a restart: ok false, first_bad $MID reordered"
cb_stop_daemon
restore

# (d) the newest record deleted: only the head notices.
sql "DELETE FROM audit WHERE seq = $N;"
verify_offline
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(d) the newest record deleted: verify exits non-zero"
assert_jq "$JSON" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false $N deleted" \
        "(d) names record $N as deleted"
cb_start_daemon
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' "false $N deleted" \
        "(d) GET /v1/audit/verify after a restart: ok false, first_bad $N deleted"
cb_stop_daemon
restore

# (e) the newest two records cut off and the head rewritten to match: the chain
# alone cannot tell; an anchor kept outside the database can.
assert_eq "${ANCHOR%%:*}" "$N" "(e) the daemon logged the head as an anchor when it stopped: record $N"
verify_offline
assert_contains "$OUT" "anchor: $ANCHOR" "(e) offline verify prints the same anchor"
sql "DELETE FROM audit WHERE seq > $((N - 2));
     UPDATE audit_head SET seq = $((N - 2)), hash = (SELECT hash FROM audit WHERE seq = $((N - 2)));"
verify_offline
assert_eq "$RC" 0 "(e) cut off with the head rewritten: the chain alone verifies (the limit of a chain)"
RC=0
OUT=$("$CTL" audit verify --db "$CB_DB" --anchor "$ANCHOR" 2>&1) || RC=$?
JSON=$("$CTL" --json audit verify --db "$CB_DB" --anchor "$ANCHOR" 2>/dev/null || true)
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(e) with the anchor: verify exits non-zero"
assert_jq "$JSON" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' \
        "false $((N - 1)) deleted" "(e) names record $((N - 1)) as the first deleted"
cb_start_daemon
cb_curl GET "/v1/audit/verify?anchor=$ANCHOR" dev-auditor
assert_jq "$CB_BODY" '[.ok, .first_bad.problem] | map(tostring) | join(" ")' "false deleted" \
        "(e) GET /v1/audit/verify?anchor=: ok false, deleted"
cb_curl GET "/v1/audit/verify?anchor=$((N - 2)):$(printf '%064d' 7)" dev-auditor
assert_jq "$CB_BODY" '[.ok, .first_bad.seq, .first_bad.problem] | map(tostring) | join(" ")' \
        "false $((N - 2)) edited" "(e) an anchor whose hash differs: that record is named as edited"
cb_curl GET "/v1/audit/verify?anchor=12ab" dev-auditor
assert_eq "$CB_STATUS" 400 "(e) a malformed anchor: 400"
assert_jq "$CB_BODY" .field anchor "(e) naming the anchor parameter"
cb_stop_daemon
RC=0
OUT=$("$CTL" audit verify --db "$CB_DB" --anchor "x:y" 2>&1) || RC=$?
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "(e) a malformed --anchor fails"
assert_contains "$OUT" "--anchor: 'x:y' is not SEQ:HASH" "(e) saying what is wrong"
restore
RC=0
OUT=$("$CTL" audit verify --db "$CB_DB" --anchor "$ANCHOR" 2>&1) || RC=$?
assert_eq "$RC" 0 "(e) the pristine file holds the anchored record: verify exits 0"

# --- the pristine copy is still good, and the chain goes on -----------------------------

cb_start_daemon
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" '[.ok, .records] | map(tostring) | join(" ")' "true $N" "restarted on the pristine copy: ok true"
cb_curl POST /v1/projects/lf-audit/resume dev-authority '{"reason": "复查"}'
cb_curl GET /v1/audit/verify dev-auditor
assert_jq "$CB_BODY" '[.ok, .records] | map(tostring) | join(" ")' "true $((N + 1))" \
        "a record appended after the restart chains on: ok true, $((N + 1)) records"
cb_stop_daemon
verify_offline
assert_eq "$RC" 0 "offline verify agrees"
RC=0
"$CTL" audit verify --db "$CB_TMP/no-such.db" >/dev/null 2>&1 || RC=$?
assert_eq "$([ "$RC" -ne 0 ] && echo nonzero)" nonzero "offline verify of a missing file fails (it does not create one)"
assert_eq "$([ -e "$CB_TMP/no-such.db" ] && echo created || echo absent)" absent "and creates nothing"

cb_done
