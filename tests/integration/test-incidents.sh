#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Security incidents (Art. 38) over REST against the real daemon: reporting
# with the reporting deadline of each severity, handling records whose
# status only moves forward, departments kept to their own systems,
# resources and incidents, every role against every endpoint, the overdue
# flag computed at read time, and the audit records.
#
# Usage (from the repository root):
#   tests/integration/test-incidents.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

OP=dev-operator AUTH=dev-authority FIN=dev-finance MIG=dev-migration AUD=dev-auditor
EDU=dev-edu HEALTH=dev-health

expect() {
        local want=$1 msg=$2
        if [ "$CB_STATUS" != "$want" ]; then
                fail "$msg (expected HTTP $want, got $CB_STATUS: $(printf %s "$CB_BODY" | head -c 300))"
                return 0
        fi
        if [ "$want" -ge 400 ]; then
                if printf %s "$CB_BODY" | jq -e '(.error | type == "string") and (.message | length > 0)' \
                        >/dev/null 2>&1; then
                        pass "$msg"
                else
                        fail "$msg (HTTP $want without error/message: $(printf %s "$CB_BODY" | head -c 300))"
                fi
        else
                pass "$msg"
        fi
}

expect_code() { # STATUS CODE MSG
        expect "$1" "$3"
        assert_jq "$CB_BODY" .error "$2" "$3: error is $2"
}

expect_field() { # STATUS FIELD MSG
        expect "$1" "$3"
        assert_jq "$CB_BODY" '.field // ""' "$2" "$3: names field '$2'"
}

# Seconds from reported_at to report_due of the last reply.
due_hours() {
        printf %s "$CB_BODY" | jq '((.report_due | fromdateiso8601) - (.reported_at | fromdateiso8601)) / 3600'
}

sql() {
        sqlite3 -cmd ".timeout 5000" "$CB_DB" "$1"
}

echo "# --- fixtures ---"
for s in "edu-portal edu $EDU" "edu-oa edu $EDU" "health-his health $HEALTH" "water-gis water $OP"; do
        read -r id dept tok <<<"$s"
        cb_curl POST /v1/systems "$tok" "{\"id\":\"$id\",\"name\":\"$id\",\"department\":\"$dept\",\"protection_level\":2,\"classified\":false,\"data_sharing\":\"compliant\"}"
        expect 201 "system $id registered"
done
# Provisioning a resource needs a signed approval and a provider; the
# incident only needs the record, so two are written straight into the
# database (the daemon reads it on every request).
sql "INSERT INTO projects VALUES ('p-edu','p','edu','active',1,'2025-01-01T00:00:00Z','2025-01-01T00:00:00Z');
     INSERT INTO projects VALUES ('p-health','p','health','active',1,'2025-01-01T00:00:00Z','2025-01-01T00:00:00Z');
     INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, catalog_revision,
       approval_no, cost_kind, committed_fen, state, created_at, created_by, updated_at)
     VALUES ('r-edu1','vm','p-edu','edu-portal','edu','ecs','s',1,'A1','construction',0,'active','t','x','t'),
            ('r-health1','vm','p-health','health-his','health','ecs','s',1,'A2','construction',0,'active','t','x','t');"
assert_eq "$(sql 'select count(*) from resources')" 2 "resource fixtures written"

echo "# --- report ---"
cb_curl POST /v1/incidents "$EDU" \
        '{"severity":"critical","systems":["edu-portal"],"resources":["r-edu1"],"description":"门户网站被篡改","occurred_at":"2025-03-01T08:30:00+08:00"}'
expect 201 "a department reports an incident on its own system and resource"
INC1=$(printf %s "$CB_BODY" | jq -r .id)
assert_jq "$CB_BODY" '.id | test("^inc-[0-9]{8}-[0-9]{4}$")' true "the id is inc-YYYYMMDD-NNNN"
assert_jq "$CB_BODY" '[.status, .severity, .department, .reported_by, .description] | join("|")' \
        "open|critical|edu|dev-edu|门户网站被篡改" "status open, bound to the reporter's department"
assert_jq "$CB_BODY" '[(.systems | join(",")), (.resources | join(","))] | join("|")' "edu-portal|r-edu1" \
        "systems and resources are kept"
assert_jq "$CB_BODY" '[.report_overdue, (.records | length), .report_made_at] | map(tostring) | join("|")' \
        "false|0|null" "not overdue, no records, no report made yet"
assert_eq "$(due_hours)" 1 "critical: report due 1 hour after reported_at"
assert_jq "$CB_BODY" '(.reported_at | fromdateiso8601) - now | fabs < 120' true "reported_at is now"
assert_contains "$CB_HEADERS" "/v1/incidents/$INC1" "Location names the incident"

for sv in "major 2" "significant 24" "general 72"; do
        read -r sev hours <<<"$sv"
        cb_curl POST /v1/incidents "$OP" "{\"severity\":\"$sev\",\"systems\":[\"water-gis\"],\"description\":\"$sev incident\"}"
        expect 201 "the operator reports a $sev incident"
        assert_eq "$(due_hours)" "$hours" "$sev: report due $hours hours after reported_at"
        assert_jq "$CB_BODY" .department water "the operator's incident is bound to its systems' department"
done
INC_GENERAL=$(printf %s "$CB_BODY" | jq -r .id)
N1=$(printf %s "$INC1" | sed 's/.*-//')
N4=$(printf %s "$INC_GENERAL" | sed 's/.*-//')
assert_eq "$((10#$N4 - 10#$N1))" 3 "ids are numbered in order within the day"

cb_curl POST /v1/incidents "$OP" '{"severity":"general","description":"平台网络抖动"}'
expect 201 "the operator reports an incident naming no system"
INC_PLATFORM=$(printf %s "$CB_BODY" | jq -r .id)
assert_jq "$CB_BODY" '[.department, (.systems | length), (.resources | length)] | map(tostring) | join("|")' \
        "null|0|0" "no systems: no department, empty lists"
cb_curl POST /v1/incidents "$OP" '{"severity":"major","systems":["edu-portal","health-his"],"description":"shared"}'
expect 201 "the operator reports an incident across departments"
assert_jq "$CB_BODY" .department null "systems of two departments: bound to none"
cb_curl POST /v1/incidents "$OP" '{"severity":"major","systems":["health-his"],"resources":["r-edu1"],"description":"mixed"}'
expect 201 "systems and resources of two departments"
assert_jq "$CB_BODY" .department null "a resource of another department unbinds it too"
cb_curl POST /v1/incidents "$HEALTH" '{"severity":"significant","resources":["r-health1"],"description":"health vm"}'
expect 201 "a department reports on its own resource only"
INC_HEALTH=$(printf %s "$CB_BODY" | jq -r .id)
assert_jq "$CB_BODY" .department health "bound to the reporting department"

# Another department's system or resource is not there for a department:
# the refusal is the one for an unknown id (issue 8, defect 5).
cb_curl POST /v1/incidents "$EDU" '{"severity":"major","systems":["health-his"],"description":"x"}'
expect_field 422 "systems[0]" "a department may not report on another department's system"
assert_jq "$CB_BODY" .message "systems[0]: system 'health-his' is not in the directory" \
        "the refusal reads as for an unknown system"
cb_curl POST /v1/incidents "$EDU" '{"severity":"major","systems":["edu-portal"],"resources":["r-edu1","r-health1"],"description":"x"}'
expect_field 422 "resources[1]" "a department may not report on another department's resource"
assert_jq "$CB_BODY" .message "resources[1]: no resource 'r-health1'" "the refusal reads as for an unknown resource"
cb_curl POST /v1/incidents "$EDU" '{"severity":"major","systems":["edu-portal","no-such"],"description":"x"}'
expect_field 422 "systems[1]" "an unknown system is refused"
assert_contains "$CB_BODY" "no-such" "the refusal names the unknown system's id"
cb_curl POST /v1/incidents "$OP" '{"severity":"major","systems":["no-such"],"description":"x"}'
expect_field 422 "systems[0]" "an unknown system is refused for the operator too"
cb_curl POST /v1/incidents "$OP" '{"severity":"major","resources":["r-none"],"description":"x"}'
expect_field 422 "resources[0]" "an unknown resource is refused"
for tok in "$AUTH" "$FIN" "$MIG" "$AUD"; do
        cb_curl POST /v1/incidents "$tok" '{"severity":"major","description":"x"}'
        expect_code 403 forbidden "$tok may not report incidents"
done
cb_curl POST /v1/incidents "" '{"severity":"major","description":"x"}'
expect 401 "reporting without a token: 401"

echo "# --- report validation ---"
LONG4000=$(head -c 4000 /dev/zero | tr '\0' 'd')
v() { # BODY FIELD MSG
        cb_curl POST /v1/incidents "$OP" "$1"
        expect_field 422 "$2" "$3"
}
v '{"severity":"major","description":"x","where":"here"}' where "an unknown field is refused"
v '{"description":"x"}' severity "a missing severity is refused"
v '{"severity":"minor","description":"x"}' severity "a severity outside the enum is refused"
v '{"severity":1,"description":"x"}' severity "a severity must be a string"
v '{"severity":"major"}' description "a missing description is refused"
v '{"severity":"major","description":""}' description "an empty description is refused"
v "{\"severity\":\"major\",\"description\":\"${LONG4000}d\"}" description "a description of 4001 bytes is refused"
v '{"severity":"major","description":"x","systems":"edu-portal"}' systems "systems must be an array"
v '{"severity":"major","description":"x","systems":["BAD_ID"]}' "systems[0]" "a system id must match the id pattern"
v '{"severity":"major","description":"x","systems":[3]}' "systems[0]" "a system id must be a string"
v '{"severity":"major","description":"x","systems":["water-gis","water-gis"]}' "systems[1]" "a system named twice is refused"
v '{"severity":"major","description":"x","resources":{}}' resources "resources must be an array"
v "{\"severity\":\"major\",\"description\":\"x\",\"systems\":$(jq -cn '[range(101) | "s\(.)"]')}" systems \
        "more than 100 systems are refused"
v '{"severity":"major","description":"x","occurred_at":"2025-03-01 08:30"}' occurred_at "occurred_at must be RFC 3339"
v '{"severity":"major","description":"x","occurred_at":"2025-02-30T08:30:00Z"}' occurred_at "occurred_at must be a real date"
v '{"severity":"major","description":"x","occurred_at":"2025-03-01T24:00:00Z"}' occurred_at "occurred_at must be a real time"
v '{"severity":"major","description":"x","occurred_at":"2999-01-01T00:00:00Z"}' occurred_at "occurred_at in the future is refused"
v '{"severity":"major","description":"x","occurred_at":true}' occurred_at "occurred_at must be a string"
v '[]' "" "a body that is not an object is refused"
cb_curl POST /v1/incidents "$OP" "{\"severity\":\"general\",\"description\":\"$LONG4000\",\"occurred_at\":\"2025-03-01T08:30:00.250Z\"}"
expect 201 "a description of 4000 bytes and a fractional occurred_at are accepted"
INC_LONG=$(printf %s "$CB_BODY" | jq -r .id)
cb_curl POST /v1/incidents "$OP" '{"severity":'
expect_code 400 malformed_json "malformed JSON: 400"
cb_curl POST /v1/incidents "$OP"
expect 400 "an empty body: 400"

echo "# --- handling records ---"
R=/v1/incidents/$INC1/records
cb_curl POST "$R" "$EDU" '{"note":"已隔离服务器","status":"handling"}'
expect 201 "the owning department appends a handling record"
assert_jq "$CB_BODY" '[.status, (.records | length), .records[0].by, .records[0].status, .records[0].note] | map(tostring) | join("|")' \
        "handling|1|dev-edu|handling|已隔离服务器" "the record is kept and the status moves"
cb_curl POST "$R" "$OP" '{"note":"取证中","status":"handling"}'
expect 201 "a record may keep the same status"
cb_curl POST "$R" "$HEALTH" '{"note":"x","status":"reported"}'
expect_code 404 not_found "another department cannot see the incident to record on it"
for tok in "$AUTH" "$FIN" "$MIG" "$AUD"; do
        cb_curl POST "$R" "$tok" '{"note":"x","status":"reported"}'
        expect_code 403 forbidden "$tok may not append handling records"
done
cb_curl POST "$R" "" '{"note":"x","status":"reported"}'
expect 401 "recording without a token: 401"
rv() { # BODY FIELD MSG
        cb_curl POST "$R" "$OP" "$1"
        expect_field 422 "$2" "$3"
}
rv '{"note":"x","status":"open"}' status "a record cannot set status open"
rv '{"note":"x","status":"closed"}' status "a status outside the enum is refused"
rv '{"note":"x"}' status "a missing status is refused"
rv '{"status":"handling"}' note "a missing note is refused"
rv '{"note":"","status":"handling"}' note "an empty note is refused"
rv "{\"note\":\"${LONG4000}n\",\"status\":\"handling\"}" note "a note of 4001 bytes is refused"
rv '{"note":"x","status":"handling","by":"me"}' by "an unknown field is refused"
cb_curl POST "$R" "$OP" '{"note":'
expect 400 "a record with malformed JSON: 400"
cb_curl POST /v1/incidents/inc-19990101-0001/records "$OP" '{"note":"x","status":"handling"}'
expect_code 404 not_found "records on an unknown incident: 404"

cb_curl POST "$R" "$OP" '{"note":"已报市网信办","status":"reported"}'
expect 201 "the operator records the report"
assert_jq "$CB_BODY" '[.status, (.report_made_at == .records[2].at), .report_overdue] | map(tostring) | join("|")' \
        "reported|true|false" "report_made_at is the reported record's time; on time"
cb_curl POST "$R" "$EDU" '{"note":"back","status":"handling"}'
expect_code 409 conflict "the status cannot move backwards"
cb_curl POST "$R" "$EDU" '{"note":"已恢复","status":"resolved"}'
expect 201 "the department resolves its incident"
assert_jq "$CB_BODY" '[.status, (.records | length)] | map(tostring) | join("|")' "resolved|4" "resolved, four records"
cb_curl POST "$R" "$OP" '{"note":"again","status":"resolved"}'
expect_code 409 conflict "resolved is final, even for the same status"
cb_curl POST "$R" "$OP" '{"note":"reopen","status":"handling"}'
expect_code 409 conflict "resolved is final"
cb_curl GET "/v1/incidents/$INC1" "$EDU"
assert_jq "$CB_BODY" '[.records[].status] | join(",")' "handling,handling,reported,resolved" \
        "refused records changed nothing; records oldest first"

cb_curl POST "/v1/incidents/$INC_HEALTH/records" "$HEALTH" '{"note":"直接处置完毕","status":"resolved"}'
expect 201 "open may move straight to resolved"
assert_jq "$CB_BODY" '.report_made_at == .records[0].at' true "resolving counts as the report"

echo "# --- list and get ---"
cb_curl GET /v1/incidents "$OP"
expect 200 "the operator lists incidents"
ALL_IDS=$(printf %s "$CB_BODY" | jq -r '[.incidents[].id] | join(",")')
TOTAL=$(printf %s "$CB_BODY" | jq '.incidents | length')
assert_eq "$TOTAL" 9 "the operator sees all nine incidents"
assert_eq "$(printf %s "$CB_BODY" | jq -r '.incidents[0].id')" "$INC_LONG" "newest first"
assert_eq "$(printf %s "$CB_BODY" | jq -r '.incidents[-1].id')" "$INC1" "oldest last"
assert_jq "$CB_BODY" '[.incidents[] | has("report_due") and (.report_overdue | type == "boolean") and (has("records") | not)] | all' \
        true "each entry has report_due and report_overdue, no records"
assert_jq "$CB_BODY" '[.incidents[].reported_at] as $a | $a == ($a | sort | reverse)' true "sorted by reported_at"
for tok in "$AUTH" "$AUD"; do
        cb_curl GET /v1/incidents "$tok"
        expect 200 "$tok lists incidents"
        assert_eq "$(printf %s "$CB_BODY" | jq -r '[.incidents[].id] | join(",")')" "$ALL_IDS" "$tok sees all of them"
done
cb_curl GET /v1/incidents "$EDU"
expect 200 "a department lists incidents"
assert_jq "$CB_BODY" '[.incidents[].id] | join(",")' "$INC1" "a department sees only its own"
cb_curl GET /v1/incidents "$HEALTH"
assert_jq "$CB_BODY" '[.incidents[].id] | join(",")' "$INC_HEALTH" "the other department sees only its own"
for tok in "$FIN" "$MIG"; do
        cb_curl GET /v1/incidents "$tok"
        expect_code 403 forbidden "$tok may not list incidents"
        cb_curl GET "/v1/incidents/$INC1" "$tok"
        expect_code 403 forbidden "$tok may not read an incident"
done
cb_curl GET /v1/incidents ""
expect 401 "listing without a token: 401"

for tok in "$OP" "$AUTH" "$AUD" "$EDU"; do
        cb_curl GET "/v1/incidents/$INC1" "$tok"
        expect 200 "$tok reads the edu incident"
        assert_jq "$CB_BODY" '[.id, (.records | length)] | map(tostring) | join("|")' "$INC1|4" "$tok gets it with its records"
done
cb_curl GET "/v1/incidents/$INC1" "$HEALTH"
expect_code 404 not_found "another department's incident is not found (no leak)"
cb_curl GET "/v1/incidents/$INC_PLATFORM" "$EDU"
expect 404 "an incident bound to no department is not a department's"
cb_curl GET /v1/incidents/inc-19990101-0001 "$OP"
expect 404 "an unknown incident: 404"
cb_curl GET /v1/incidents/NOT_AN_ID "$OP"
expect 404 "a malformed incident id: 404"
cb_curl DELETE "/v1/incidents/$INC1" "$OP"
expect 405 "incidents are not deleted"

echo "# --- overdue, computed at read time ---"
# Move deadlines into the past rather than wait hours for them.
sql "UPDATE incidents SET report_due = '2000-01-01T00:00:00Z' WHERE id = '$INC_GENERAL'"
cb_curl GET "/v1/incidents/$INC_GENERAL" "$OP"
assert_jq "$CB_BODY" .report_overdue true "an open incident past its deadline is overdue"
cb_curl GET /v1/incidents "$AUTH"
assert_jq "$CB_BODY" "[.incidents[] | select(.report_overdue) | .id] | join(\",\")" "$INC_GENERAL" \
        "the list shows exactly that one overdue"
cb_curl POST "/v1/incidents/$INC_GENERAL/records" "$OP" '{"note":"迟报","status":"reported"}'
expect 201 "a late report is recorded"
assert_jq "$CB_BODY" .report_overdue true "a late report stays overdue on record"
sql "UPDATE incidents SET report_due = '2000-01-01T00:00:00Z' WHERE id = '$INC1'"
sql "UPDATE incident_records SET at = '1999-12-31T23:00:00Z' WHERE incident_id = '$INC1' AND status = 'reported'"
cb_curl GET "/v1/incidents/$INC1" "$AUD"
assert_jq "$CB_BODY" .report_overdue false "a report made before the deadline is not overdue, however old"

echo "# --- audit ---"
cb_curl GET "/v1/audit?limit=10000" "$AUD"
expect 200 "the auditor reads the audit trail"
AUDIT=$CB_BODY
n() { printf %s "$AUDIT" | jq "[.records[] | select($1)] | length"; }
assert_eq "$(n '.action == "incident.report" and .outcome == "ok"')" 9 "every report is on record (9)"
assert_eq "$(n ".action == \"incident.report\" and .outcome == \"ok\" and .object == \"incident:$INC1\" and .principal == \"dev-edu\" and .detail.severity == \"critical\" and .detail.occurred_at == \"2025-03-01T00:30:00Z\"")" 1 \
        "the report names the incident, the reporter, the severity and occurred_at in UTC"
assert_eq "$(n '.action == "incident.record" and .outcome == "ok"')" 6 "every handling record is on record (6)"
assert_eq "$(n ".action == \"incident.record\" and .object == \"incident:$INC1\" and .detail.from == \"handling\" and .detail.status == \"reported\"")" 1 \
        "a handling record names the status it moved from and to"
assert_eq "$(n '.action == "incident.report" and .outcome == "forbidden"')" 4 \
        "refused reports are on record (4 roles)"
assert_eq "$(n '.action == "incident.record" and .outcome == "forbidden"')" 4 "refused records are on record (4 roles)"
cb_curl GET /v1/audit/verify "$AUD"
assert_jq "$CB_BODY" .ok true "the audit chain verifies"

cb_done
