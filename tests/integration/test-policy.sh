#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# POST /v1/policy/evaluate through the real daemon (issue 3): every rule code
# the daemon can produce today, each driven by real facts (signed approvals,
# catalogue drafts, the system directory, milestones, the authority's
# suspension) and asserted with its article; a clean request; a combination
# that lists every violation in rule-table order; input errors; who may
# evaluate for whom; and that evaluating changes nothing.
#
# Not reachable over REST, and so not asserted here:
# - DEPARTMENT_MISMATCH (Art. 5): a department asking about another
#   department's project is refused with 403 before the engine runs (asserted
#   below), an unknown project is taken as the caller's own, and the
#   authority and auditors carry no department. The rule is unit-tested in
#   tests/unit (policy engine).
# - MIGRATION_OVERDUE (Art. 35): needs the legacy register; asserted in
#   tests/integration/test-migration.sh.
# - UNMANAGED_RESOURCE: never from a request, by design.
#
# Usage (from the repository root): tests/integration/test-policy.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

CTL=$CB_BUILD/cloudbrokerctl
TODAY=$(date +%F)
# Windows start at most 30 days back, so no budget year has ended long
# enough for a self-evaluation to be overdue (Art. 26), except where wanted.
FROM=$(date -d '-30 days' +%F)
UNTIL=$(date -d '+300 days' +%F)


# approve PROJECT [JQ_EDIT]: a signed revision 1 for edu, edited, submitted by the authority.
approve() {
        jq -n --arg p "$1" --arg from "$FROM" --arg until "$UNTIL" '{
                approval_no: ("临政信审〔2026〕" + $p), project_id: $p, project_name: ("项目 " + $p),
                department: "edu", revision: 1, valid_from: $from, valid_until: $until,
                budget: {construction_fen: 120000000, om_fen: 36000000},
                systems: ["edu-portal", "edu-l4", "edu-secret", "edu-noshare"],
                items: [{service_id: "ecs-general", plan_id: "ecs-general-2c4g", quantity: 6},
                        {service_id: "ecs-xinchuang", plan_id: "xc-kunpeng-2c4g", quantity: 2},
                        {service_id: "ecs-general", plan_id: "ecs-general-32c64g", quantity: 1},
                        {service_id: "pol-draft", plan_id: "pol-draft-small", quantity: 1}],
                requires_secure_controllable: false, dedicated_network_consent: false}' |
                jq "${2:-.}" >"$CB_TMP/$1.json"
        "$CTL" approval sign --key etc/dev-keys/dev-authority.key.pem --key-id dev-authority \
                "$CB_TMP/$1.json" >"$CB_TMP/$1.env"
        cb_curl POST /v1/approvals dev-authority "@$CB_TMP/$1.env"
        assert_eq "$CB_STATUS" 201 "set-up: project $1 approved"
}

# ev PROJECT SYSTEM SERVICE PLAN [QUANTITY [EXTRA_JSON [TOKEN]]]: sets CODES ("CODE:article,...").
ev() {
        cb_curl POST /v1/policy/evaluate "${7:-dev-edu}" "{\"project_id\":\"$1\",\"system_id\":\"$2\",
                \"service_id\":\"$3\",\"plan_id\":\"$4\",\"quantity\":${5:-1}${6:+,$6}}"
        CODES=$(printf %s "$CB_BODY" | jq -r '[.violations[]? | .code + ":" + (.article | tostring)] | join(",")')
}

# expect CODES MSG: the last evaluation was 200 and found exactly these violations.
expect() {
        assert_eq "$CB_STATUS" 200 "$2: 200"
        assert_eq "$CODES" "$1" "$2: ${1:-no violations}"
        if [ -z "$1" ]; then
                assert_jq "$CB_BODY" '[.allowed, (.violations | length)] | map(tostring) | join(" ")' "true 0" \
                        "$2: allowed true, violations []"
        else
                assert_jq "$CB_BODY" .allowed false "$2: allowed false"
                assert_jq "$CB_BODY" '[.violations[] | select((.message | length) == 0)] | length' 0 \
                        "$2: every violation has a message"
        fi
}

milestone() { # PROJECT KIND DATE [EXTRA_JSON]
        cb_curl POST "/v1/projects/$1/milestones" dev-edu "{\"kind\":\"$2\",\"date\":\"$3\"${4:+,$4}}"
        assert_eq "$CB_STATUS" 201 "set-up: $2 $3 on $1"
}

audit_state() {
        cb_curl GET "/v1/audit?limit=10000" dev-auditor
        printf %s "$CB_BODY" | jq -r '[(.records | length), (.records[-1].seq // 0), (.records[-1].hash // "")] | map(tostring) | join(" ")'
}

# --- facts ------------------------------------------------------------------------------

cb_add_system edu-portal edu 2 false compliant
cb_add_system edu-l4 edu 4 false compliant
cb_add_system edu-secret edu 3 true compliant
cb_add_system edu-noshare edu 2 false noncompliant
cb_add_system edu-unnamed edu 2 false compliant
cb_add_system health-his health 2 false compliant

# A service that is only a draft, and a draft revision 2 of ecs-general with a new plan.
jq '.id = "pol-draft" | .name = "pol-draft" | .plans = [.plans[0] | .id = "pol-draft-small" | .name = "small"]' \
        etc/catalog/ecs-general.json >"$CB_TMP/draft.json"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/draft.json"
assert_eq "$CB_STATUS" 201 "set-up: the operator drafts service pol-draft"
jq '.plans += [.plans[-1] | .id = "ecs-general-32c64g" | .name = "g-32c64g"]' etc/catalog/ecs-general.json \
        >"$CB_TMP/ecs2.json"
cb_curl PUT /v1/catalog/services/ecs-general dev-operator "@$CB_TMP/ecs2.json"
assert_eq "$CB_STATUS" 200 "set-up: the operator drafts revision 2 of ecs-general with a new plan"
assert_jq "$CB_BODY" '.status + " " + (.revision | tostring)' "draft 2" "(it is a draft revision 2)"

approve lf-pol-main
approve lf-pol-future ".valid_from = \"$(date -d '+10 days' +%F)\""
approve lf-pol-expired ".valid_from = \"$(date -d '-20 days' +%F)\" | .valid_until = \"$(date -d '-1 day' +%F)\""
approve lf-pol-budget '.budget.construction_fen = 100'
approve lf-pol-sc '.requires_secure_controllable = true'
approve lf-pol-dn '.dedicated_network_consent = true'
approve lf-pol-om
approve lf-pol-contract
approve lf-pol-accept
# Approved from two budget years back: the self-evaluation of the year
# before last is overdue whatever today is (due about the end of March).
LAST=$(($(date +%Y) - 1))
approve lf-pol-selfeval ".valid_from = \"$((LAST - 1))-01-01\""
approve lf-pol-combo '.budget.construction_fen = 100 | .requires_secure_controllable = true |
        .systems = ["edu-l4"] | .items = [{service_id: "ecs-general", plan_id: "ecs-general-2c4g", quantity: 1}]'
approve lf-pol-health '.department = "health" | .systems = ["health-his"]'

AUDIT_BEFORE=$(audit_state)
cb_curl GET /v1/projects/lf-pol-main dev-auditor
PROJECT_BEFORE=$CB_BODY

# --- a clean request ----------------------------------------------------------------------

ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 1
expect "" "a request the approval covers"
# 35 fen an hour, every hour from today to valid_until inclusive.
DAYS=$((($(date -ud "$UNTIL" +%s) - $(date -ud "$TODAY" +%s)) / 86400 + 1))
assert_jq "$CB_BODY" .projected_cost_fen $((35 * 24 * DAYS)) "the projected cost is price x hours left x quantity"
assert_jq "$CB_BODY" .cost_kind construction "before completion the cost is construction"
assert_jq "$CB_BODY" 'keys | join(",")' "allowed,cost_kind,projected_cost_fen,violations" "the decision's fields"
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 6
expect "" "exactly the approved quantity"
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 1 '"dedicated_network": false'
expect "" "dedicated_network false says nothing"

# --- one rule at a time ------------------------------------------------------------------

ev no-such-project edu-portal ecs-general ecs-general-2c4g
expect "NO_APPROVAL:10" "an unknown project"
ev lf-pol-future edu-portal ecs-general ecs-general-2c4g
expect "APPROVAL_NOT_YET_VALID:8" "an approval whose window starts in 10 days"
ev lf-pol-expired edu-portal ecs-general ecs-general-2c4g
expect "APPROVAL_EXPIRED:8" "an approval that ended yesterday"

ev lf-pol-main edu-portal pol-draft pol-draft-small
expect "SERVICE_NOT_PUBLISHED:12" "a service that is only a draft"
# A draft is no service to a department (GET /v1/catalog/services/pol-draft
# is 404 for it): the message is the one for an unknown service (issue 8,
# defect 5); the draft's own claims (level, secure-controllable) are not
# used (only SERVICE_NOT_PUBLISHED).
assert_contains "$(printf %s "$CB_BODY" | jq -r '.violations[0].message')" "service pol-draft is not in the catalogue" \
        "to the department the draft is an unknown service"
# To whom may see drafts (the authority), the message says it is not published.
ev lf-pol-main edu-portal pol-draft pol-draft-small 1 "" dev-authority
expect "SERVICE_NOT_PUBLISHED:12" "a service that is only a draft, asked by the authority"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.violations[0].message')" "not published" \
        "the authority hears that the draft is not published"
ev lf-pol-main edu-portal ecs-general ecs-general-32c64g
expect "SERVICE_NOT_PUBLISHED:12" "a plan only in the draft revision 2"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.violations[0].message')" "not published" \
        "the message says the service is not published"
ev lf-pol-main edu-portal no-such-service no-such-plan
expect "SERVICE_NOT_PUBLISHED:12,ITEM_NOT_APPROVED:10" "a service that does not exist (nor is approved)"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.violations[0].message')" "not in the catalogue" \
        "the message says it is not in the catalogue"

ev lf-pol-main edu-portal ecs-general ecs-general-4c8g
expect "ITEM_NOT_APPROVED:10" "a published plan the approval does not name"
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 7
expect "QUANTITY_EXCEEDED:20" "quantity 7 of 6 approved"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.violations[0].message')" "exceeds approved 6" \
        "the message names the numbers"
ev lf-pol-budget edu-portal ecs-general ecs-general-2c4g
expect "BUDGET_EXCEEDED:13" "a 100 fen construction budget"

ev lf-pol-main no-such-system ecs-general ecs-general-2c4g
expect "SYSTEM_NOT_LISTED:10" "a system not in the directory"
ev lf-pol-main edu-unnamed ecs-general ecs-general-2c4g
expect "SYSTEM_NOT_LISTED:10" "a listed system the approval does not name"
ev lf-pol-main edu-secret ecs-general ecs-general-2c4g
expect "CLASSIFIED_SYSTEM:3" "a classified system"
ev lf-pol-main edu-l4 ecs-general ecs-general-2c4g
expect "PROTECTION_LEVEL:37" "a level-4 system on a service certified to level 3"

ev lf-pol-sc edu-portal ecs-general ecs-general-2c4g
expect "SECURE_CONTROLLABLE_REQUIRED:24" "approval requires secure-and-controllable, ecs-general is not"
ev lf-pol-sc edu-portal ecs-xinchuang xc-kunpeng-2c4g
expect "" "approval requires secure-and-controllable, ecs-xinchuang is"
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g
expect "" "without the requirement ecs-general is fine"

ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 1 '"dedicated_network": true'
expect "DEDICATED_NETWORK:11" "a private business network without consent"
ev lf-pol-dn edu-portal ecs-general ecs-general-2c4g 1 '"dedicated_network": true'
expect "" "a private business network with the authority's consent"

# Art. 11: no O&M funds for a system that does not share data. Before
# completion a request is construction and the rule does not apply.
ev lf-pol-om edu-noshare ecs-general ecs-general-2c4g
expect "" "a noncompliant system during construction"
assert_jq "$CB_BODY" .cost_kind construction "(construction)"
milestone lf-pol-om completed "$TODAY"
ev lf-pol-om edu-noshare ecs-general ecs-general-2c4g
expect "DATA_SHARING_NONCOMPLIANT:11" "a noncompliant system after completion (O&M)"
assert_jq "$CB_BODY" .cost_kind om "(O&M)"
ev lf-pol-om edu-portal ecs-general ecs-general-2c4g
expect "" "a compliant system after completion"

milestone lf-pol-contract contract_signed 2026-11-02
ev lf-pol-contract edu-portal ecs-general ecs-general-2c4g
expect "CONTRACT_FILING_OVERDUE:18" "contract signed 2026-11-02, not filed by 2026-11-09"
milestone lf-pol-contract contract_filed "$TODAY"
ev lf-pol-contract edu-portal ecs-general ecs-general-2c4g
expect "" "filed late: no longer blocking"

milestone lf-pol-accept completed "$(date -d '-90 days' +%F)"
ev lf-pol-accept edu-portal ecs-general ecs-general-2c4g
expect "ACCEPTANCE_FILING_OVERDUE:25" "completed 90 days ago, no acceptance report"
milestone lf-pol-accept acceptance_filed "$TODAY"
ev lf-pol-accept edu-portal ecs-general ecs-general-2c4g
expect "" "acceptance report filed late: no longer blocking"

ev lf-pol-selfeval edu-portal ecs-general ecs-general-2c4g
expect "SELF_EVALUATION_OVERDUE:26" "no self-evaluation for budget year $((LAST - 1))"
milestone lf-pol-selfeval self_evaluation_filed "$TODAY" "\"budget_year\":$((LAST - 1))"
milestone lf-pol-selfeval self_evaluation_filed "$TODAY" "\"budget_year\":$LAST"
ev lf-pol-selfeval edu-portal ecs-general ecs-general-2c4g
expect "" "self-evaluations of both ended years filed: no longer blocking"

cb_curl POST /v1/projects/lf-pol-main/suspend dev-authority '{"reason": "policy test"}'
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g
expect "PROJECT_SUSPENDED:28" "a suspended project"
cb_curl POST /v1/projects/lf-pol-main/resume dev-authority '{"reason": "policy test"}'
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g
expect "" "resumed"

# --- combinations: every violation, in rule-table order ---------------------------------

milestone lf-pol-combo contract_signed 2026-11-02
cb_curl POST /v1/projects/lf-pol-combo/suspend dev-authority '{"reason": "policy test"}'
ev lf-pol-combo edu-l4 ecs-general ecs-general-2c4g 2 '"dedicated_network": true'
expect "PROJECT_SUSPENDED:28,QUANTITY_EXCEEDED:20,BUDGET_EXCEEDED:13,PROTECTION_LEVEL:37,SECURE_CONTROLLABLE_REQUIRED:24,DEDICATED_NETWORK:11,CONTRACT_FILING_OVERDUE:18" \
        "seven violations at once"
ev no-such-project no-such-system no-such-service no-such-plan 1 '"dedicated_network": true'
expect "NO_APPROVAL:10,SERVICE_NOT_PUBLISHED:12,SYSTEM_NOT_LISTED:10,DEDICATED_NETWORK:11" \
        "no approval, no service, no system, no consent"
ev lf-pol-main edu-secret ecs-general ecs-general-4c8g 1
expect "ITEM_NOT_APPROVED:10,CLASSIFIED_SYSTEM:3" "an unapproved plan for a classified system"

# --- who may evaluate for whom ----------------------------------------------------------

# Another department's project and system are unknown ones to the asker
# (no 403 that would confirm the ids; test-oracles.sh compares the bodies).
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 1 "" dev-health
expect "NO_APPROVAL:10,SYSTEM_NOT_LISTED:10" "dev-health asks about edu's project: as about unknown ones"
ev lf-pol-health health-his ecs-general ecs-general-2c4g 1 "" dev-edu
expect "NO_APPROVAL:10,SYSTEM_NOT_LISTED:10" "dev-edu asks about health's project: as about unknown ones"
ev lf-pol-health health-his ecs-general ecs-general-2c4g 1 "" dev-health
expect "" "dev-health asks about its own project"
ev no-such-project health-his ecs-general ecs-general-2c4g 1 "" dev-health
expect "NO_APPROVAL:10" "dev-health asks about an unknown project (taken as its own)"
for who in dev-authority dev-auditor; do
        ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 1 "" "$who"
        expect "" "$who evaluates for edu's project"
        ev lf-pol-health health-his ecs-general ecs-general-2c4g 1 "" "$who"
        expect "" "$who evaluates for health's project"
done
for who in dev-operator dev-finance dev-migration; do
        ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 1 "" "$who"
        assert_eq "$CB_STATUS" 403 "$who evaluates: 403"
done
cb_curl POST /v1/policy/evaluate "" '{"project_id":"lf-pol-main","system_id":"edu-portal","service_id":"ecs-general","plan_id":"ecs-general-2c4g"}'
assert_eq "$CB_STATUS" 401 "no token: 401"

# --- input errors ------------------------------------------------------------------------

cb_curl POST /v1/policy/evaluate dev-edu '{"project_id": "lf-pol-main", '
assert_eq "$CB_STATUS" 400 "malformed JSON: 400"
cb_curl POST /v1/policy/evaluate dev-edu ''
assert_eq "$CB_STATUS" 400 "no body: 400"
BASE='"project_id":"lf-pol-main","system_id":"edu-portal","service_id":"ecs-general","plan_id":"ecs-general-2c4g"'
cb_curl POST /v1/policy/evaluate dev-edu "{$BASE,\"colour\":\"red\"}"
assert_eq "$CB_STATUS" 422 "an unknown field: 422"
assert_jq "$CB_BODY" .field colour "the error names the unknown field"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" colour "the message names it too"
cb_curl POST /v1/policy/evaluate dev-edu "{$BASE,\"quantity\":0}"
assert_eq "$CB_STATUS" 422 "quantity 0: 422"
assert_jq "$CB_BODY" .field quantity "names quantity"
cb_curl POST /v1/policy/evaluate dev-edu "{$BASE,\"quantity\":\"1\"}"
assert_eq "$CB_STATUS" 422 "quantity as a string: 422"
cb_curl POST /v1/policy/evaluate dev-edu "{$BASE,\"quantity\":1.0}"
assert_eq "$CB_STATUS" 422 "quantity 1.0: 422"
cb_curl POST /v1/policy/evaluate dev-edu "{$BASE,\"dedicated_network\":1}"
assert_eq "$CB_STATUS" 422 "dedicated_network 1: 422"
cb_curl POST /v1/policy/evaluate dev-edu '{"system_id":"edu-portal","service_id":"ecs-general","plan_id":"ecs-general-2c4g"}'
assert_eq "$CB_STATUS" 422 "no project_id: 422"
assert_jq "$CB_BODY" .field project_id "names project_id"
cb_curl POST /v1/policy/evaluate dev-edu '{"project_id":"lf-pol-main","service_id":"ecs-general","plan_id":"ecs-general-2c4g"}'
assert_eq "$CB_STATUS" 422 "no system_id: 422"
cb_curl POST /v1/policy/evaluate dev-edu '{"project_id":"LF POL","system_id":"edu-portal","service_id":"ecs-general","plan_id":"ecs-general-2c4g"}'
assert_eq "$CB_STATUS" 422 "a project id that is not an id: 422"
cb_curl POST /v1/policy/evaluate dev-edu '[1, 2]'
assert_eq "$CB_STATUS" 422 "a body that is not an object: 422"

# --- no side effects ---------------------------------------------------------------------

# Milestones and suspensions above were changes and are audited; take a
# fresh snapshot and evaluate once more of every kind, allowed and refused.
AUDIT_BEFORE=$(audit_state)
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g
ev lf-pol-combo edu-l4 ecs-general ecs-general-2c4g 2 '"dedicated_network": true'
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 1 "" dev-health
ev lf-pol-main edu-portal ecs-general ecs-general-2c4g 1 "" dev-operator
cb_curl POST /v1/policy/evaluate dev-edu "{$BASE,\"quantity\":0}"
assert_eq "$(audit_state)" "$AUDIT_BEFORE" "evaluating adds no audit record (count, last seq, head hash unchanged)"
cb_curl GET /v1/projects/lf-pol-main dev-auditor
assert_jq "$CB_BODY" '.budget.used_construction_fen' 0 "evaluating commits no budget"
assert_eq "$(printf %s "$CB_BODY" | jq -c 'del(.events, .updated_at, .status)')" \
        "$(printf %s "$PROJECT_BEFORE" | jq -c 'del(.events, .updated_at, .status)')" \
        "the project is as before (apart from the suspension and resumption)"
cb_curl GET /v1/resources dev-operator
assert_jq "$CB_BODY" '.resources | length' 0 "no resource was created"

cb_done
