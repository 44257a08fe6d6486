#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Signed approvals (issue 3, regulation Art. 8, 10, 20) through the real
# daemon: an envelope made by `cloudbrokerctl approval sign` is accepted
# from the department it names and from the authority; every refusal (bad
# signature, a document changed after signing, unknown or untrusted key,
# malformed document, another department, a revision not newer than the one
# held, a bad envelope) is 422 with a reason and stores nothing; roles that
# may not submit get 403; a revision 2 (an Art. 20 adjustment) replaces the
# approval in force and both stay in the history. Then the approvals on
# record (GET /v1/approvals, GET /v1/approvals/{no}, their D-Bus methods and
# cloudbrokerctl commands): who may read which, in pages.
#
# Usage (from the repository root): tests/integration/test-approvals.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon

CTL=$CB_BUILD/cloudbrokerctl
KEY=etc/dev-keys/dev-authority.key.pem
ED_KEY=etc/dev-keys/dev-authority-ed25519.key.pem
FROM=$(date -d '-30 days' +%F)
UNTIL=$(date -d '+300 days' +%F)

# doc PROJECT DEPARTMENT REVISION [JQ_EDIT]: a valid approval document, edited.
doc() {
        jq -n --arg p "$1" --arg d "$2" --argjson rev "$3" --arg from "$FROM" --arg until "$UNTIL" '{
                approval_no: ("临政信审〔2026〕" + ($rev | tostring) + "号"),
                project_id: $p, project_name: "审批集成测试项目", department: $d, revision: $rev,
                valid_from: $from, valid_until: $until,
                budget: {construction_fen: 120000000, om_fen: 36000000},
                systems: ["edu-resource-platform"],
                items: [{service_id: "ecs-general", plan_id: "ecs-general-2c4g", quantity: 6}],
                requires_secure_controllable: false, dedicated_network_consent: false}' | jq "${4:-.}"
}

# sign DOCFILE [KEY [KEY_ID]]: prints the envelope.
sign() {
        "$CTL" approval sign --key "${2:-$KEY}" --key-id "${3:-dev-authority}" "$1"
}

# submit TOKEN ENVELOPE_FILE
submit() {
        cb_curl POST /v1/approvals "$1" "@$2"
}

approvals_rows() {
        sqlite3 -cmd ".timeout 5000" "$CB_DB" "SELECT COUNT(*) FROM approvals;"
}

# refused STATUS MESSAGE_PART FIELD MSG: the last reply refused and stored nothing new.
ROWS_BEFORE=0
refused() {
        assert_eq "$CB_STATUS" "$1" "$4: $1"
        assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "$2" "$4: the reason says '$2'"
        if [ -n "$3" ]; then
                assert_jq "$CB_BODY" .field "$3" "$4: names field $3"
        fi
        assert_eq "$(approvals_rows)" "$ROWS_BEFORE" "$4: no approval stored"
}

# absent PROJECT MSG: the project does not exist.
absent() {
        cb_curl GET "/v1/projects/$1" dev-authority
        assert_eq "$CB_STATUS" 404 "$2: project $1 does not exist"
}

# --- accepted ----------------------------------------------------------------------

doc lf-edu-appr edu 1 >"$CB_TMP/edu1.json"
sign "$CB_TMP/edu1.json" >"$CB_TMP/edu1.env"
assert_jq "$(cat "$CB_TMP/edu1.env")" '.alg + " " + .key_id' "sm2-sm3 dev-authority" \
        "cloudbrokerctl signs with SM2 under key id dev-authority"
assert_jq "$(cat "$CB_TMP/edu1.env")" '.document | @base64d | fromjson | .project_id' lf-edu-appr \
        "the envelope carries the document as base64"

submit dev-edu "$CB_TMP/edu1.env"
assert_eq "$CB_STATUS" 201 "the department named in the approval submits it: 201"
assert_jq "$CB_BODY" '[.project_id, .approval_no, .revision] | map(tostring) | join(" ")' \
        "lf-edu-appr 临政信审〔2026〕1号 1" "the answer is {project_id, approval_no, revision}"
assert_jq "$CB_BODY" 'keys | join(",")' "approval_no,project_id,revision" "and nothing else"
assert_contains "$CB_HEADERS" "/v1/projects/lf-edu-appr" "Location names the project"

cb_curl GET /v1/projects/lf-edu-appr dev-edu
assert_eq "$CB_STATUS" 200 "the department reads its new project"
assert_jq "$CB_BODY" '.revision' 1 "the project holds revision 1"
assert_jq "$CB_BODY" '.status' active "a new project is active"
assert_jq "$CB_BODY" '.approval.items[0].quantity' 6 "the approval in force is the signed document"
assert_jq "$CB_BODY" '.approval_history | length' 1 "the history holds one revision"
assert_jq "$CB_BODY" '.approval_history[0].received_by' dev-edu "the history records who submitted it"

# The authority may submit any department's approval.
doc lf-health-appr health 1 '.systems = []' >"$CB_TMP/health1.json"
sign "$CB_TMP/health1.json" >"$CB_TMP/health1.env"
submit dev-authority "$CB_TMP/health1.env"
assert_eq "$CB_STATUS" 201 "the authority submits the health department's approval: 201"
cb_curl GET /v1/projects/lf-health-appr dev-health
assert_jq "$CB_BODY" '.department + " " + (.revision | tostring)' "health 1" \
        "the project belongs to the department the document names"

# --- refusals: 422, nothing stored -------------------------------------------------

ROWS_BEFORE=$(approvals_rows)
assert_eq "$ROWS_BEFORE" 2 "two approvals are stored so far"

doc lf-edu-refused edu 1 >"$CB_TMP/new.json"
sign "$CB_TMP/new.json" >"$CB_TMP/new.env"

# A flipped byte in the signature.
sig_hex=$(jq -r .signature "$CB_TMP/new.env" | base64 -d | xxd -p | tr -d '\n')
b=$((16#${sig_hex:20:2} ^ 0x01))
flipped=$(printf '%s%02x%s' "${sig_hex:0:20}" "$b" "${sig_hex:22}" | xxd -r -p | base64 -w0)
jq --arg s "$flipped" '.signature = $s' "$CB_TMP/new.env" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "signature does not verify" signature "a flipped byte in the signature"
absent lf-edu-refused "a flipped byte in the signature"

# The document changed after signing (more quantity), re-encoded, old signature.
changed=$(jq -r .document "$CB_TMP/new.env" | base64 -d | sed 's/"quantity": 6/"quantity": 60/' | base64 -w0)
assert_contains "$(printf %s "$changed" | base64 -d)" '"quantity": 60' "(the document was really changed)"
jq --arg d "$changed" '.document = $d' "$CB_TMP/new.env" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "signature does not verify" signature "a document changed after signing"
absent lf-edu-refused "a document changed after signing"

# Even whitespace counts: the signature covers the exact bytes.
changed=$(jq -r .document "$CB_TMP/new.env" | base64 -d | jq -c . | base64 -w0)
jq --arg d "$changed" '.document = $d' "$CB_TMP/new.env" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "signature does not verify" signature "the same document re-serialised (whitespace only)"

# An unknown key id.
jq '.key_id = "nobody"' "$CB_TMP/new.env" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "unknown key_id" key_id "an unknown key_id"
absent lf-edu-refused "an unknown key_id"

# The Ed25519 dev key is not trusted by this config: under its own id it is
# unknown, under the trusted SM2 key's id the algorithms disagree.
sign "$CB_TMP/new.json" "$ED_KEY" dev-authority-ed25519 >"$CB_TMP/ed.env"
assert_jq "$(cat "$CB_TMP/ed.env")" .alg ed25519 "(the Ed25519 key signs as ed25519)"
submit dev-edu "$CB_TMP/ed.env"
refused 422 "unknown key_id" key_id "the untrusted Ed25519 key under its own id"
sign "$CB_TMP/new.json" "$ED_KEY" dev-authority >"$CB_TMP/ed.env"
submit dev-edu "$CB_TMP/ed.env"
refused 422 "alg mismatch" alg "the Ed25519 key claiming the SM2 key's id"
absent lf-edu-refused "the Ed25519 key"

# Signed but invalid documents: the signature is good, the document is not.
signed_bad() { # JQ_EDIT FIELD MSG
        doc lf-edu-refused edu 1 "$1" >"$CB_TMP/bad.json"
        sign "$CB_TMP/bad.json" >"$CB_TMP/bad.env"
        submit dev-edu "$CB_TMP/bad.env"
        refused 422 "signed document" "$2" "$3"
}
signed_bad 'del(.budget)' budget "a signed document without budget"
signed_bad '.valid_until = "2026-02-30"' valid_until "a signed document with a date that does not exist"
signed_bad '.valid_from = "26-1-1"' valid_from "a signed document with a malformed date"
signed_bad '.valid_until = "2020-01-01"' valid_until "a signed document that ends before it starts"
signed_bad '.colour = "red"' colour "a signed document with an unknown field"
signed_bad '.items = []' items "a signed document without items"
signed_bad '.items[0].quantity = 0' "items[0].quantity" "a signed document with quantity 0"
signed_bad '.revision = 0' revision "a signed document with revision 0"
signed_bad '.project_id = "Not An Id"' project_id "a signed document with a bad project id"
absent lf-edu-refused "signed but invalid documents"
printf 'not json at all' >"$CB_TMP/bad.json"
sign "$CB_TMP/bad.json" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "signed document" "" "a signed document that is not JSON"

# A department submitting another department's approval.
submit dev-health "$CB_TMP/new.env"
refused 422 "department" department "dev-health submits edu's approval"
absent lf-edu-refused "dev-health submits edu's approval"

# A revision not newer than the one held: the same again, and another revision 1.
submit dev-edu "$CB_TMP/edu1.env"
refused 422 "not newer" revision "the same revision 1 again"
doc lf-edu-appr edu 1 '.items[0].quantity = 99' >"$CB_TMP/again.json"
sign "$CB_TMP/again.json" >"$CB_TMP/again.env"
submit dev-authority "$CB_TMP/again.env"
refused 422 "not newer" revision "a different revision 1 from the authority"
# A project does not change department by a new revision.
doc lf-edu-appr health 2 >"$CB_TMP/move.json"
sign "$CB_TMP/move.json" >"$CB_TMP/move.env"
submit dev-authority "$CB_TMP/move.env"
refused 422 "belongs to department" department "a revision 2 naming another department"
cb_curl GET /v1/projects/lf-edu-appr dev-authority
assert_jq "$CB_BODY" '[.revision, .department, .approval.items[0].quantity, (.approval_history | length)] | map(tostring) | join(" ")' \
        "1 edu 6 1" "after the refusals the project still holds revision 1 only"

# Envelopes that are not envelopes.
jq '.comment = "hello"' "$CB_TMP/new.env" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "unknown field" comment "an envelope with an unknown field"
jq 'del(.signature)' "$CB_TMP/new.env" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "missing field" signature "an envelope without signature"
jq '.alg = "rsa"' "$CB_TMP/new.env" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "unknown alg" alg "an envelope with an unknown alg"
# Wrapped base64 (plain `base64` without -w0) is refused, not repaired.
wrapped=$(jq -r .document "$CB_TMP/new.env" | base64 -d | base64)
jq --arg d "$wrapped" '.document = $d' "$CB_TMP/new.env" >"$CB_TMP/bad.env"
submit dev-edu "$CB_TMP/bad.env"
refused 422 "base64" document "a document in wrapped base64"
cb_curl POST /v1/approvals dev-edu '["an", "array"]'
refused 422 "JSON object" "" "an envelope that is an array"
cb_curl POST /v1/approvals dev-edu '{"alg": "sm2-sm3", '
refused 400 "malformed JSON" "" "malformed JSON"
assert_jq "$CB_BODY" .error malformed_json "malformed JSON: error code malformed_json"
cb_curl POST /v1/approvals dev-edu ''
assert_eq "$CB_STATUS" 400 "no body at all: 400"
absent lf-edu-refused "bad envelopes"

# --- roles that may not submit: 403 --------------------------------------------

for who in dev-operator dev-finance dev-migration dev-auditor; do
        submit "$who" "$CB_TMP/new.env"
        refused 403 "may not" "" "$who submits a valid approval"
done
cb_curl POST /v1/approvals "" "@$CB_TMP/new.env"
refused 401 "" "" "no token"
absent lf-edu-refused "roles that may not submit"

# --- revision 2: an Art. 20 adjustment -------------------------------------------

doc lf-edu-appr edu 2 '.items[0].quantity = 10 | .budget.construction_fen = 150000000' >"$CB_TMP/edu2.json"
sign "$CB_TMP/edu2.json" >"$CB_TMP/edu2.env"
submit dev-edu "$CB_TMP/edu2.env"
assert_eq "$CB_STATUS" 201 "revision 2 (more quantity) is accepted: 201"
assert_jq "$CB_BODY" .revision 2 "the answer names revision 2"
cb_curl GET /v1/projects/lf-edu-appr dev-edu
assert_jq "$CB_BODY" .revision 2 "the project holds revision 2"
assert_jq "$CB_BODY" .approval.revision 2 "the approval in force is revision 2"
assert_jq "$CB_BODY" .approval.items[0].quantity 10 "with the adjusted quantity"
assert_jq "$CB_BODY" .budget.construction_fen 150000000 "and the adjusted budget"
assert_jq "$CB_BODY" '[.approval_history[].revision] | map(tostring) | join(",")' "1,2" \
        "approval_history holds revisions 1 and 2"
assert_jq "$CB_BODY" '[.approval_history[].approval_no] | join(",")' "临政信审〔2026〕1号,临政信审〔2026〕2号" \
        "each with its approval number"
assert_eq "$(approvals_rows)" 3 "three approvals stored in all"

# A revision may skip numbers (the authority numbers them), but never go back.
submit dev-edu "$CB_TMP/edu1.env"
assert_eq "$CB_STATUS" 422 "revision 1 after revision 2: 422"
cb_curl GET /v1/projects/lf-edu-appr dev-edu
assert_jq "$CB_BODY" .revision 2 "and revision 2 stays in force"

# Accepted and refused submissions are in the audit trail.
cb_curl GET /v1/audit dev-auditor
assert_jq "$CB_BODY" '[.records[] | select(.action == "approval.accept")] | length' 3 \
        "three approval.accept audit records"
assert_jq "$CB_BODY" '[.records[] | select(.action == "approval.accept")][0] | .principal + " " + .object + " " + .outcome' \
        "dev-edu project:lf-edu-appr ok" "the first names the principal, the project and ok"

# --- reading approvals -------------------------------------------------------------
# On record now: lf-edu-appr revisions 1 (1号) and 2 (2号), lf-health-appr
# revision 1, which carries the same number 1号 (the broker does not own
# the authority's numbering).

uri() { jq -rn --arg s "$1" '$s | @uri'; }
NO1=$(uri "临政信审〔2026〕1号")
NO2=$(uri "临政信审〔2026〕2号")
NO99=$(uri "临政信审〔2026〕99号")

cb_curl GET /v1/approvals dev-authority
assert_eq "$CB_STATUS" 200 "the authority lists the approvals: 200"
assert_jq "$CB_BODY" '[.approvals[] | "\(.project_id)/\(.revision)/\(.in_force)"] | join(" ")' \
        "lf-edu-appr/1/false lf-edu-appr/2/true lf-health-appr/1/true" \
        "every revision, by project and revision, with the one in force marked"
assert_jq "$CB_BODY" 'has("next_page_token")' false "one page: no next_page_token"
assert_jq "$CB_BODY" '.approvals[1] | "\(.department) \(.approval_no) \(.key_id) \(.received_by)"' \
        "edu 临政信审〔2026〕2号 dev-authority dev-edu" "an entry names department, number, key and who handed it in"
for who in dev-operator dev-finance dev-auditor; do
        cb_curl GET /v1/approvals "$who"
        assert_jq "$CB_BODY" '.approvals | length' 3 "$who reads every approval"
done
cb_curl GET /v1/approvals dev-edu
assert_eq "$CB_STATUS" 200 "a department lists approvals: 200"
assert_jq "$CB_BODY" '[.approvals[] | .project_id] | unique | join(",")' lf-edu-appr \
        "edu sees its own project's approvals only"
cb_curl GET /v1/approvals dev-health
assert_jq "$CB_BODY" '[.approvals[] | "\(.project_id)/\(.revision)"] | join(" ")' lf-health-appr/1 \
        "health sees its own only"
cb_curl GET "/v1/approvals?department=health" dev-edu
assert_eq "$CB_STATUS" 403 "a department asking for another department's approvals: 403"
cb_curl GET "/v1/approvals?department=edu" dev-edu
assert_jq "$CB_BODY" '.approvals | length' 2 "and for its own: its two"
cb_curl GET "/v1/approvals?department=health" dev-authority
assert_jq "$CB_BODY" '[.approvals[] | .project_id] | join(",")' lf-health-appr "the authority narrows to one department"
cb_curl GET "/v1/approvals?department=Not%20One" dev-authority
assert_eq "$CB_STATUS" 400 "a department that is no id: 400, as for the systems"
assert_jq "$CB_BODY" .field department "naming department"
cb_curl GET /v1/approvals dev-migration
assert_eq "$CB_STATUS" 403 "a role that reads no project reads no approval: 403"
cb_curl GET /v1/approvals ""
assert_eq "$CB_STATUS" 401 "no token: 401"

# Pages: two, then one, then none.
cb_curl GET "/v1/approvals?limit=2" dev-authority
assert_jq "$CB_BODY" '[.approvals[] | "\(.project_id)/\(.revision)"] | join(" ")' "lf-edu-appr/1 lf-edu-appr/2" \
        "limit=2: the first two"
token=$(printf %s "$CB_BODY" | jq -r '.next_page_token // empty')
assert_eq "$([ -n "$token" ] && echo yes)" yes "and a next_page_token"
cb_curl GET "/v1/approvals?limit=2&page_token=$token" dev-authority
assert_jq "$CB_BODY" '[.approvals[] | "\(.project_id)/\(.revision)"] | join(" ")' lf-health-appr/1 \
        "the token continues after the last one (keyset within a project too)"
assert_jq "$CB_BODY" 'has("next_page_token")' false "the last page has no token"
cb_curl GET "/v1/approvals?limit=1&page_token=$token" dev-edu
assert_jq "$CB_BODY" '.approvals | length' 0 "edu following the authority's token finds nothing of health's"
cb_curl GET "/v1/approvals?limit=0" dev-authority
assert_eq "$CB_STATUS" 422 "limit=0: 422"
assert_jq "$CB_BODY" .field limit "naming limit"
cb_curl GET "/v1/approvals?page_token=zz" dev-authority
assert_eq "$CB_STATUS" 422 "a page_token this daemon did not make: 422"
assert_jq "$CB_BODY" .field page_token "naming page_token"
bad_token=$(printf 'lf-edu-appr\x1fnot-a-revision' | xxd -p | tr -d '\n')
cb_curl GET "/v1/approvals?page_token=$bad_token" dev-authority
assert_eq "$CB_STATUS" 422 "a page_token whose revision is no number: 422"

# One approval by its number (percent-encoded UTF-8 in the path).
cb_curl GET "/v1/approvals/$NO2" dev-edu
assert_eq "$CB_STATUS" 200 "edu reads its approval by number: 200"
assert_jq "$CB_BODY" '"\(.project_id) \(.revision) \(.in_force) \(.document.items[0].quantity) \(.document.approval_no)"' \
        "lf-edu-appr 2 true 10 临政信审〔2026〕2号" "the revision with that number, and its signed document"
cb_curl GET "/v1/approvals/$NO2/" dev-edu
assert_eq "$CB_STATUS" 200 "a trailing slash names the same approval"
cb_curl GET "/v1/approvals/$NO2" dev-auditor
assert_eq "$CB_STATUS" 200 "an auditor reads it too"
cb_curl GET "/v1/approvals/$NO2" dev-health
assert_eq "$CB_STATUS" 404 "health reading edu's approval: 404"
other=$CB_BODY
cb_curl GET "/v1/approvals/$NO99" dev-health
assert_eq "$CB_STATUS" 404 "a number nobody used: 404"
assert_eq "$(printf %s "$other" | jq -r .error)" "$(printf %s "$CB_BODY" | jq -r .error)" \
        "another department's approval answers as a number nobody used"
# 1号 names a revision of each project: each department gets its own, the
# authority the newest handed in.
cb_curl GET "/v1/approvals/$NO1" dev-edu
assert_jq "$CB_BODY" '"\(.project_id) \(.revision) \(.in_force)"' "lf-edu-appr 1 false" \
        "edu's 1号 is its superseded revision 1"
cb_curl GET "/v1/approvals/$NO1" dev-health
assert_jq "$CB_BODY" '"\(.project_id) \(.revision)"' "lf-health-appr 1" "health's 1号 is its own"
cb_curl GET "/v1/approvals/$NO1" dev-authority
assert_jq "$CB_BODY" '"\(.project_id) \(.revision)"' "lf-health-appr 1" \
        "the authority's 1号 is the newest handed in with that number"
cb_curl GET "/v1/approvals/$NO2" dev-migration
assert_eq "$CB_STATUS" 403 "a role that reads no approval: 403, whatever the number"
cb_curl GET "/v1/approvals/$NO99" dev-migration
assert_eq "$CB_STATUS" 403 "(the same 403 for a number nobody used)"
cb_curl GET "/v1/approvals/$(printf 'x%.0s' $(seq 1 65))" dev-authority
assert_eq "$CB_STATUS" 404 "a number longer than any approval's (65 bytes): 404"
cb_curl DELETE "/v1/approvals/$NO2" dev-authority
assert_eq "$CB_STATUS" 405 "DELETE on an approval: 405"

# --- the same on D-Bus and in cloudbrokerctl --------------------------------------

ROOT=/org/cloudbroker/Broker1
APPROVALS=org.cloudbroker.Broker1.Approvals
EDU=1001 AUTHORITY=1002 HEALTH=1004 MIGRATION=1006
export CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS

ok $AUTHORITY "ListAllApprovals as the authority" $ROOT $APPROVALS ListAllApprovals sus "" 2 ""
assert_jq "$(printf %s "$OUT" | jq -r '.[0]')" '[.[] | "\(.project_id)/\(.revision)"] | join(" ")' \
        "lf-edu-appr/1 lf-edu-appr/2" "the first page of two, as over REST"
token=$(printf %s "$OUT" | jq -r '.[1]')
ok $AUTHORITY "ListAllApprovals, the next page" $ROOT $APPROVALS ListAllApprovals sus "" 2 "$token"
assert_jq "$(printf %s "$OUT" | jq -r '.[0]')" '[.[] | .project_id] | join(",")' lf-health-appr "then the rest"
assert_eq "$(printf %s "$OUT" | jq -r '.[1]')" "" "and no token after the last page"
ok $EDU "ListAllApprovals as edu" $ROOT $APPROVALS ListAllApprovals sus "" 0 ""
assert_jq "$(printf %s "$OUT" | jq -r '.[0]')" '[.[] | .project_id] | unique | join(",")' lf-edu-appr \
        "edu sees its own over the bus too"
bcall $EDU $ROOT $APPROVALS ListAllApprovals sus health 0 ""
assert_eq "$RC" 1 "edu asking the bus for health's approvals is refused"
ok $HEALTH "GetApprovalByNumber as health" $ROOT $APPROVALS GetApprovalByNumber s "临政信审〔2026〕1号"
assert_jq "$(printf %s "$OUT" | jq -r '.[0]')" '"\(.project_id) \(.document.department)"' "lf-health-appr health" \
        "GetApprovalByNumber answers the caller's own"

CTL_OUT=$CB_TMP/ctl.out
ctl_as() { # UID ARGS...: sets RC
        local uid=$1
        shift
        RC=0
        as_uid "$uid" "$CTL" "$@" >"$CTL_OUT" 2>"$CB_TMP/ctl.err" || RC=$?
}
ctl_as $AUTHORITY approval list --json
assert_eq "$RC" 0 "ctl approval list (no project) as the authority"
assert_jq "$(cat "$CTL_OUT")" 'length' 3 "follows the pages to all three"
ctl_as $AUTHORITY approval list
assert_contains "$(cat "$CTL_OUT")" "lf-health-appr" "the table names the projects"
ctl_as $EDU approval list --department health
assert_eq "$RC" 4 "ctl approval list --department health as edu: exit 4 (AccessDenied)"
ctl_as $EDU approval show --number "临政信审〔2026〕2号" --json
assert_eq "$RC" 0 "ctl approval show --number as edu"
assert_jq "$(cat "$CTL_OUT")" '.document.items[0].quantity' 10 "shows the approval with that number"
ctl_as $HEALTH approval show --number "临政信审〔2026〕2号"
assert_eq "$RC" 4 "ctl approval show --number of edu's approval as health: exit 4 (NotFound)"
ctl_as $MIGRATION approval show --number "临政信审〔2026〕2号"
assert_eq "$RC" 4 "ctl approval show --number as a role that reads no approval: exit 4 (AccessDenied)"
ctl_as $EDU approval show --number "临政信审〔2026〕2号" lf-edu-appr
assert_eq "$RC" 1 "--number beside a PROJECT is refused (exit 1, as a bad revision number is)"
ctl_as $EDU approval show lf-edu-appr 1 --json
assert_jq "$(cat "$CTL_OUT")" .revision 1 "ctl approval show PROJECT REVISION still works"

# Reads leave no trace in the trail and change nothing.
assert_eq "$(approvals_rows)" 3 "still three approvals stored"

cb_done
