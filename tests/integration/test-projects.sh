#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Projects through the real daemon (issue 3): what GET /v1/projects/{id}
# shows, milestones and their working-day deadlines (Art. 18: contract filed
# within 5 working days of signing; Art. 25: acceptance report within 30
# working days of completion), a late filing that unblocks but stays on
# record, milestone input errors and who may record them, suspension,
# resumption and termination by the authority (Art. 28) as the policy engine
# sees them, and who may list which projects.
#
# Dates: the worked example of CALENDAR.md (signed Monday 2026-11-02, due
# 2026-11-09) is fixed; the others are relative to today.
#
# Usage (from the repository root): tests/integration/test-projects.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

CTL=$CB_BUILD/cloudbrokerctl
TODAY=$(date +%F)
# Windows start at most 30 days back: no budget year ended long enough ago
# for a self-evaluation (Art. 26) to be overdue and muddle the codes.
FROM=$(date -d '-30 days' +%F)
UNTIL=$(date -d '+300 days' +%F)
SYSTEM=edu-portal


# approve PROJECT DEPARTMENT: a signed revision 1 submitted by the authority.
approve() {
        jq -n --arg p "$1" --arg d "$2" --arg from "$FROM" --arg until "$UNTIL" --arg sys "$SYSTEM" '{
                approval_no: ("临政信审〔2026〕" + $p), project_id: $p, project_name: ("项目 " + $p),
                department: $d, revision: 1, valid_from: $from, valid_until: $until,
                budget: {construction_fen: 120000000, om_fen: 36000000}, systems: [$sys],
                items: [{service_id: "ecs-general", plan_id: "ecs-general-2c4g", quantity: 6}],
                requires_secure_controllable: false, dedicated_network_consent: false}' >"$CB_TMP/$1.json"
        "$CTL" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority \
                "$CB_TMP/$1.json" >"$CB_TMP/$1.env"
        cb_curl POST /v1/approvals dev-authority "@$CB_TMP/$1.env"
        assert_eq "$CB_STATUS" 201 "set-up: project $1 approved"
}

# milestone PROJECT KIND DATE [TOKEN]
milestone() {
        cb_curl POST "/v1/projects/$1/milestones" "${4:-dev-edu}" "{\"kind\":\"$2\",\"date\":\"$3\"}"
}

# evaluate PROJECT [TOKEN]: a request the approval covers; sets CODES ("CODE:article,...").
evaluate() {
        cb_curl POST /v1/policy/evaluate "${2:-dev-edu}" "{\"project_id\":\"$1\",\"system_id\":\"$SYSTEM\",
                \"service_id\":\"ecs-general\",\"plan_id\":\"ecs-general-2c4g\",\"quantity\":1}"
        CODES=$(printf %s "$CB_BODY" | jq -r '[.violations[] | .code + ":" + (.article | tostring)] | join(",")')
}

# deadline JSON KIND FILTER: the project's first deadline of that kind, filtered.
deadline() {
        printf %s "$1" | jq -r "[.deadlines[] | select(.kind == \"$2\")][0] | $3"
}

cb_add_system "$SYSTEM" edu 2 false compliant
cb_add_system health-his health 3 false compliant
for p in lf-edu-a lf-edu-b lf-edu-c lf-edu-d lf-edu-e; do approve "$p" edu; done
approve lf-health-a health

# --- the project as GET shows it ---------------------------------------------------

cb_curl GET /v1/projects/lf-edu-a dev-edu
assert_eq "$CB_STATUS" 200 "the department reads its project"
P=$CB_BODY
assert_jq "$P" '.id + " " + .department + " " + .status' "lf-edu-a edu active" "id, department, status active"
assert_jq "$P" '.approval.approval_no' "临政信审〔2026〕lf-edu-a" "the approval in force"
assert_jq "$P" '.approval.valid_from + " " + .approval.valid_until' "$FROM $UNTIL" "its validity window"
assert_jq "$P" '.approval_history | length' 1 "its history"
assert_jq "$P" '.budget | [.construction_fen, .om_fen, .used_construction_fen, .remaining_om_fen] | map(tostring) | join(" ")' \
        "120000000 36000000 0 36000000" "the budget and what is used of it"
assert_jq "$P" '.deadlines | length' 0 "no milestone, no deadline yet"
assert_jq "$P" '.milestones | length' 0 "no milestones"
assert_jq "$P" .blocked false "not blocked"
evaluate lf-edu-a
assert_jq "$CB_BODY" '.allowed' true "a request the approval covers is allowed"
assert_eq "$CODES" "" "with no violations"

cb_curl GET /v1/projects/no-such-project dev-authority
assert_eq "$CB_STATUS" 404 "an unknown project: 404"
cb_curl GET /v1/projects/lf-edu-a dev-health
assert_eq "$CB_STATUS" 404 "another department reads the project: 404, as an unknown one"
assert_jq "$CB_BODY" .message "no project 'lf-edu-a'" "the 404 says nothing of the department"
for who in dev-authority dev-auditor dev-finance dev-operator; do
        cb_curl GET /v1/projects/lf-edu-a "$who"
        assert_eq "$CB_STATUS" 200 "$who reads any project"
done
cb_curl GET /v1/projects/lf-edu-a dev-migration
assert_eq "$CB_STATUS" 403 "migration reads a project: 403 (not among the project readers)"

# --- Art. 18: contract filing within 5 working days ---------------------------------

milestone lf-edu-a contract_signed 2026-11-02
assert_eq "$CB_STATUS" 201 "contract_signed 2026-11-02 recorded: 201"
assert_jq "$CB_BODY" '.milestones[0].kind + " " + .milestones[0].date' "contract_signed 2026-11-02" \
        "the answer is the project with the milestone"
assert_jq "$CB_BODY" '.milestones[0].recorded_by' dev-edu "recorded by the department"
cb_curl GET /v1/projects/lf-edu-a dev-edu
P=$CB_BODY
assert_eq "$(deadline "$P" contract_filing .due)" 2026-11-09 "contract filing due 2026-11-09 (5 working days)"
assert_eq "$(deadline "$P" contract_filing .article)" 18 "under Art. 18"
assert_eq "$(deadline "$P" contract_filing .status)" overdue "not filed by then: overdue"
assert_eq "$(deadline "$P" contract_filing .provisional)" false "2026 has a calendar: not provisional"
assert_jq "$P" .blocked true "the project is blocked"
evaluate lf-edu-a
assert_jq "$CB_BODY" .allowed false "evaluate refuses"
assert_eq "$CODES" "CONTRACT_FILING_OVERDUE:18" "evaluate shows CONTRACT_FILING_OVERDUE (Art. 18), only"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.violations[0].message')" 2026-11-09 "the message names the due date"

milestone lf-edu-a contract_filed "$TODAY"
assert_eq "$CB_STATUS" 201 "contract_filed today (after the due date): 201"
cb_curl GET /v1/projects/lf-edu-a dev-edu
P=$CB_BODY
assert_eq "$(deadline "$P" contract_filing .status)" late "the filing is on record as late"
assert_eq "$(deadline "$P" contract_filing .filed_on)" "$TODAY" "filed on today"
assert_jq "$P" .blocked false "a late filing unblocks"
evaluate lf-edu-a
assert_jq "$CB_BODY" .allowed true "evaluate allows again"

# In time: signed and filed within the deadline is met; signed today is pending.
milestone lf-edu-b contract_signed 2026-11-02
milestone lf-edu-b contract_filed 2026-11-09
assert_eq "$CB_STATUS" 201 "contract_filed on the due day: 201"
cb_curl GET /v1/projects/lf-edu-b dev-edu
assert_eq "$(deadline "$CB_BODY" contract_filing .status)" met "filed on the due day: met"
milestone lf-edu-c contract_signed "$TODAY"
cb_curl GET /v1/projects/lf-edu-c dev-edu
assert_eq "$(deadline "$CB_BODY" contract_filing .status)" pending "signed today: pending"
assert_jq "$CB_BODY" .blocked false "pending does not block"
evaluate lf-edu-c
assert_jq "$CB_BODY" .allowed true "evaluate allows a pending filing"

# --- Art. 25: acceptance report within 30 working days -------------------------------

# 90 calendar days are more than 30 working days whatever the holidays.
DONE=$(date -d '-90 days' +%F)
milestone lf-edu-d completed "$DONE"
assert_eq "$CB_STATUS" 201 "completed $DONE: 201"
cb_curl GET /v1/projects/lf-edu-d dev-edu
P=$CB_BODY
assert_eq "$(deadline "$P" acceptance_filing .article)" 25 "the acceptance deadline rests on Art. 25"
assert_eq "$(deadline "$P" acceptance_filing .status)" overdue "no acceptance report: overdue"
assert_jq "$P" .blocked true "the project is blocked"
evaluate lf-edu-d
assert_contains "$CODES" "ACCEPTANCE_FILING_OVERDUE:25" "evaluate shows ACCEPTANCE_FILING_OVERDUE (Art. 25)"
assert_jq "$CB_BODY" .cost_kind om "after completion the cost is O&M"
milestone lf-edu-d acceptance_filed "$TODAY"
assert_eq "$CB_STATUS" 201 "acceptance_filed today: 201"
cb_curl GET /v1/projects/lf-edu-d dev-edu
assert_eq "$(deadline "$CB_BODY" acceptance_filing .status)" late "the late acceptance report is on record as late"
evaluate lf-edu-d
assert_not_contains "$CODES" ACCEPTANCE_FILING_OVERDUE "and no longer blocks"

# --- milestone errors and who may record them ----------------------------------------

milestone lf-edu-e contract_filed "$TODAY"
assert_eq "$CB_STATUS" 409 "contract_filed without any contract_signed: 409"
milestone lf-edu-e acceptance_filed "$TODAY"
assert_eq "$CB_STATUS" 409 "acceptance_filed without completed: 409"
milestone lf-edu-e contract_signed "$TODAY"
milestone lf-edu-e contract_filed "$(date -d '-1 day' +%F)"
assert_eq "$CB_STATUS" 409 "contract_filed before the signing: 409"
milestone lf-edu-e completed "$(date -d '+1 day' +%F)"
assert_eq "$CB_STATUS" 422 "a date in the future: 422"
assert_jq "$CB_BODY" .field date "names the date"
milestone lf-edu-e finished "$TODAY"
assert_eq "$CB_STATUS" 422 "an unknown kind: 422"
assert_jq "$CB_BODY" .field kind "names the kind"
milestone lf-edu-e completed 2026-02-30
assert_eq "$CB_STATUS" 422 "a date that does not exist: 422"
cb_curl POST /v1/projects/lf-edu-e/milestones dev-edu "{\"kind\":\"completed\",\"date\":\"$TODAY\",\"note\":1}"
assert_eq "$CB_STATUS" 422 "an unknown field: 422"
assert_jq "$CB_BODY" .field note "names the unknown field"
cb_curl POST /v1/projects/lf-edu-e/milestones dev-edu "{\"kind\":\"completed\",\"date\":\"$TODAY\",\"budget_year\":2025}"
assert_eq "$CB_STATUS" 422 "budget_year on a milestone other than self_evaluation_filed: 422"
cb_curl POST /v1/projects/lf-edu-e/milestones dev-edu '{"kind": "completed",'
assert_eq "$CB_STATUS" 400 "malformed JSON: 400"
milestone lf-edu-e completed "$TODAY" dev-health
assert_eq "$CB_STATUS" 404 "another department records a milestone: 404, as on an unknown project"
# Milestones are the implementing department's statements (issue: "the
# project's department"); the code refuses every other role, the authority too.
for who in dev-authority dev-operator dev-auditor; do
        milestone lf-edu-e completed "$TODAY" "$who"
        assert_eq "$CB_STATUS" 403 "$who records a milestone: 403"
done
milestone no-such-project completed "$TODAY"
assert_eq "$CB_STATUS" 404 "a milestone for an unknown project: 404"
cb_curl GET /v1/projects/lf-edu-e dev-edu
assert_jq "$CB_BODY" '[.milestones[].kind] | join(",")' contract_signed "only the good milestone was stored"

# --- Art. 28: suspend, resume, terminate ------------------------------------------------

status() { # PROJECT ACTION TOKEN [BODY]
        cb_curl POST "/v1/projects/$1/$2" "$3" "${4-{\"reason\":\"整改: 未按期报送\"\}}"
}
status lf-edu-a suspend dev-authority '{}'
assert_eq "$CB_STATUS" 422 "suspend without a reason: 422"
assert_jq "$CB_BODY" .field reason "names the reason"
status lf-edu-a suspend dev-authority '{"reason": ""}'
assert_eq "$CB_STATUS" 422 "suspend with an empty reason: 422"
status lf-edu-a suspend dev-authority '{"reason": "x", "until": "2027-01-01"}'
assert_eq "$CB_STATUS" 422 "suspend with an unknown field: 422"
for who in dev-edu dev-operator dev-finance dev-auditor; do
        status lf-edu-a suspend "$who"
        assert_eq "$CB_STATUS" 403 "$who suspends: 403"
done
cb_curl GET /v1/projects/lf-edu-a dev-edu
assert_jq "$CB_BODY" .status active "after the refusals the project is still active"

status lf-edu-a suspend dev-authority
assert_eq "$CB_STATUS" 200 "the authority suspends with a reason: 200"
assert_jq "$CB_BODY" .status suspended "status suspended"
assert_jq "$CB_BODY" '.events[-1] | .action + " " + .principal' "suspend dev-authority" "the event is on record"
assert_jq "$CB_BODY" '.events[-1].reason' "整改: 未按期报送" "with its reason"
evaluate lf-edu-a
assert_eq "$CODES" "PROJECT_SUSPENDED:28" "evaluate shows PROJECT_SUSPENDED (Art. 28)"
status lf-edu-a suspend dev-authority
assert_eq "$CB_STATUS" 409 "suspend again: 409"
status lf-edu-a resume dev-edu
assert_eq "$CB_STATUS" 403 "the department resumes: 403"
status lf-edu-a resume dev-authority
assert_eq "$CB_STATUS" 200 "the authority resumes: 200"
assert_jq "$CB_BODY" .status active "status active again"
evaluate lf-edu-a
assert_jq "$CB_BODY" .allowed true "evaluate allows again"
status lf-edu-a resume dev-authority
assert_eq "$CB_STATUS" 409 "resume an active project: 409"

status lf-edu-a terminate dev-operator
assert_eq "$CB_STATUS" 403 "the operator terminates: 403"
status lf-edu-a terminate dev-authority
assert_eq "$CB_STATUS" 200 "the authority terminates: 200"
assert_jq "$CB_BODY" .status terminated "status terminated"
evaluate lf-edu-a
assert_eq "$CODES" "PROJECT_TERMINATED:28" "evaluate shows PROJECT_TERMINATED (Art. 28)"
status lf-edu-a resume dev-authority
assert_eq "$CB_STATUS" 409 "resume after terminate: 409"
status lf-edu-a suspend dev-authority
assert_eq "$CB_STATUS" 409 "suspend after terminate: 409"
status lf-edu-a terminate dev-authority
assert_eq "$CB_STATUS" 409 "terminate twice: 409"
# A suspended project can be terminated directly.
status lf-edu-b suspend dev-authority
status lf-edu-b terminate dev-authority
assert_eq "$CB_STATUS" 200 "terminate a suspended project: 200"
status no-such-project suspend dev-authority
assert_eq "$CB_STATUS" 404 "suspend an unknown project: 404"
cb_curl GET /v1/projects/lf-edu-a dev-auditor
assert_jq "$CB_BODY" '[.events[].action] | join(",")' "suspend,resume,terminate" "the events, in order"

# --- listing ----------------------------------------------------------------------------

ids() { printf %s "$CB_BODY" | jq -r '[.projects[].id] | join(",")'; }
cb_curl GET /v1/projects dev-health
assert_eq "$CB_STATUS" 200 "dev-health lists projects: 200"
assert_eq "$(ids)" lf-health-a "dev-health sees only its own project"
cb_curl GET "/v1/projects?department=edu" dev-health
assert_eq "$CB_STATUS" 403 "dev-health asks for edu's projects: 403"
cb_curl GET "/v1/projects?department=health" dev-health
assert_eq "$(ids)" lf-health-a "dev-health asks for its own department explicitly"
cb_curl GET /v1/projects dev-edu
assert_eq "$(ids)" "lf-edu-a,lf-edu-b,lf-edu-c,lf-edu-d,lf-edu-e" "dev-edu sees its five"
cb_curl GET /v1/projects dev-auditor
assert_eq "$(ids)" "lf-edu-a,lf-edu-b,lf-edu-c,lf-edu-d,lf-edu-e,lf-health-a" "the auditor sees all"
cb_curl GET "/v1/projects?department=health" dev-auditor
assert_eq "$(ids)" lf-health-a "the auditor filters by department"
cb_curl GET /v1/projects dev-authority
assert_jq "$CB_BODY" '.projects | length' 6 "the authority sees all"
cb_curl GET /v1/projects dev-edu
assert_jq "$CB_BODY" '[.projects[] | select(.id == "lf-edu-a")][0].status' terminated \
        "the list shows each project's status"
cb_curl GET /v1/projects dev-migration
assert_eq "$CB_STATUS" 403 "migration lists projects: 403"
cb_curl GET /v1/projects ""
assert_eq "$CB_STATUS" 401 "no token: 401"

cb_done
