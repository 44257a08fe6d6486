#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The information-system directory (Art. 10) over REST against the real
# daemon: who may register, list, read and change systems, every validation
# refusal with the field it names, departments kept apart (another
# department's system is a 404 on reads), and the audit records of changes
# and of refused changes.
#
# Usage (from the repository root):
#   tests/integration/test-systems.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

OP=dev-operator AUTH=dev-authority FIN=dev-finance MIG=dev-migration AUD=dev-auditor
EDU=dev-edu HEALTH=dev-health

# expect STATUS MSG; an error reply carries JSON "error" and "message".
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

# expect_error_forbidden MSG: a 403 forbidden.
expect_error_forbidden() {
        expect 403 "$1"
        assert_jq "$CB_BODY" .error forbidden "$1: error is forbidden"
}

# expect_field FIELD MSG: a 422 invalid_field naming FIELD.
expect_field() {
        expect 422 "$2"
        assert_jq "$CB_BODY" '.error + " " + .field' "invalid_field $1" "$2: names field '$1'"
}

# system ID DEPT [LEVEL] [NAME]: a valid system document.
system() {
        jq -cn --arg id "$1" --arg d "$2" --argjson l "${3:-2}" --arg n "${4:-system $1}" \
                '{id: $id, name: $n, department: $d, protection_level: $l, classified: false,
                  data_sharing: "compliant"}'
}

# with KEY JSONVALUE: the base document with one field replaced (null removes it).
BASE=$(system edu-bad edu)
with() {
        if [ "$2" = null ]; then
                printf %s "$BASE" | jq -c --arg k "$1" 'del(.[$k])'
        else
                printf %s "$BASE" | jq -c --arg k "$1" --argjson v "$2" '.[$k] = $v'
        fi
}

ids() { printf %s "$CB_BODY" | jq -r '[.systems[].id] | join(",")'; }

echo "# --- create ---"
cb_curl POST /v1/systems "$EDU" "$(system edu-portal edu 2 '教育门户网站')"
expect 201 "a department registers its own system"
assert_jq "$CB_BODY" '[.id, .name, .department, .protection_level, .classified, .data_sharing] | join("|")' \
        "edu-portal|教育门户网站|edu|2|false|compliant" "the created system is echoed"
assert_jq "$CB_BODY" '(.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and .updated_at == .created_at' \
        true "created_at and updated_at are set"
assert_contains "$CB_HEADERS" "/v1/systems/edu-portal" "Location names the new system"

cb_curl POST /v1/systems "$HEALTH" \
        '{"id":"health-his","name":"HIS","department":"health","protection_level":3,"classified":true,"data_sharing":"noncompliant"}'
expect 201 "another department registers its own system"
assert_jq "$CB_BODY" '[.classified, .data_sharing, .protection_level] | map(tostring) | join("|")' \
        "true|noncompliant|3" "classified and noncompliant are stored as given"

cb_curl POST /v1/systems "$OP" "$(system water-gis water 4)"
expect 201 "the operator registers a system for any department"

cb_curl POST /v1/systems "$EDU" "$(system edu-for-health health)"
expect_error_forbidden "a department may not register a system for another department"
for tok in "$AUTH" "$FIN" "$MIG" "$AUD"; do
        cb_curl POST /v1/systems "$tok" "$(system "x-$tok" edu)"
        expect_error_forbidden "$tok may not register systems"
done
cb_curl POST /v1/systems "" "$(system anon edu)"
expect 401 "no token: 401"
cb_curl POST /v1/systems not-a-token "$(system anon edu)"
expect 401 "a bad token: 401"

cb_curl POST /v1/systems "$OP" "$(system edu-portal edu)"
expect 409 "a duplicate id is a conflict"
assert_jq "$CB_BODY" .error conflict "duplicate: error is conflict"
cb_curl POST /v1/systems "$HEALTH" "$(system edu-portal health)"
expect 409 "a duplicate id is a conflict for another department too"

echo "# --- validation ---"
cb_curl POST /v1/systems "$EDU" "$(with owner '"edu"')"
expect_field owner "an unknown field is refused"
for f in id name department protection_level classified data_sharing; do
        cb_curl POST /v1/systems "$EDU" "$(with $f null)"
        expect_field $f "missing $f is refused"
done
cb_curl POST /v1/systems "$EDU" "$(with id 7)"
expect_field id "id must be a string"
cb_curl POST /v1/systems "$EDU" "$(with id '"Edu_Portal"')"
expect_field id "id must match ^[a-z0-9-]+\$"
cb_curl POST /v1/systems "$EDU" "$(with id "\"$(printf 'a%.0s' $(seq 1 64))\"")"
expect_field id "an id of 64 characters is refused"
cb_curl POST /v1/systems "$EDU" "$(with id "\"$(printf 'a%.0s' $(seq 1 63))\"")"
expect 201 "an id of 63 characters is accepted"
cb_curl POST /v1/systems "$EDU" "$(with id '""')"
expect_field id "an empty id is refused"
cb_curl POST /v1/systems "$OP" "$(with department '"Edu"')"
expect_field department "department must match ^[a-z0-9-]+\$"
cb_curl POST /v1/systems "$EDU" "$(with name '""')"
expect_field name "an empty name is refused"
cb_curl POST /v1/systems "$EDU" "$(with name '["x"]')"
expect_field name "name must be a string"
cb_curl POST /v1/systems "$EDU" "$(with name "\"$(printf 'n%.0s' $(seq 1 201))\"")"
expect_field name "a name of 201 bytes is refused"
cb_curl POST /v1/systems "$EDU" "$(with id '"edu-long-name"' | jq -c --arg n "$(printf 'n%.0s' $(seq 1 200))" '.name = $n')"
expect 201 "a name of 200 bytes is accepted"
for l in 0 5 -1; do
        cb_curl POST /v1/systems "$EDU" "$(with protection_level $l)"
        expect_field protection_level "protection_level $l is refused"
done
cb_curl POST /v1/systems "$EDU" "$(with protection_level '"2"')"
expect_field protection_level "protection_level must be an integer, not a string"
# jq would print 2.0 as 2: edit the text itself.
cb_curl POST /v1/systems "$EDU" "$(printf %s "$BASE" | sed 's/"protection_level":2/"protection_level":2.0/')"
expect_field protection_level "protection_level must be an integer, not a real"
cb_curl POST /v1/systems "$EDU" "$(with classified 1)"
expect_field classified "classified must be a boolean"
cb_curl POST /v1/systems "$EDU" "$(with data_sharing '"maybe"')"
expect_field data_sharing "data_sharing outside the enum is refused"
cb_curl POST /v1/systems "$EDU" "$(with data_sharing true)"
expect_field data_sharing "data_sharing must be a string"
cb_curl POST /v1/systems "$EDU" '[1, 2]'
expect_field "" "a body that is not an object is refused"
cb_curl POST /v1/systems "$EDU" '{"id": '
expect 400 "malformed JSON: 400"
assert_jq "$CB_BODY" .error malformed_json "malformed JSON: error is malformed_json"
cb_curl POST /v1/systems "$EDU"
expect 400 "an empty body: 400"
cb_curl GET /v1/systems/edu-bad "$OP"
expect 404 "nothing refused was stored"

echo "# --- list ---"
ALL="a$(printf 'a%.0s' $(seq 1 62)),edu-long-name,edu-portal,health-his,water-gis"
for tok in "$OP" "$AUTH" "$FIN" "$AUD"; do
        cb_curl GET /v1/systems "$tok"
        expect 200 "$tok lists the directory"
        assert_eq "$(ids)" "$ALL" "$tok sees every system, by id"
        cb_curl GET "/v1/systems?department=health" "$tok"
        expect 200 "$tok filters by department"
        assert_eq "$(ids)" "health-his" "$tok: ?department=health gives health's only"
done
cb_curl GET /v1/systems "$EDU"
expect 200 "a department lists systems"
assert_eq "$(ids)" "a$(printf 'a%.0s' $(seq 1 62)),edu-long-name,edu-portal" "a department sees only its own"
cb_curl GET "/v1/systems?department=edu" "$EDU"
expect 200 "a department may name its own department"
assert_eq "$(ids)" "a$(printf 'a%.0s' $(seq 1 62)),edu-long-name,edu-portal" "?department=own gives its own"
cb_curl GET "/v1/systems?department=health" "$EDU"
expect_error_forbidden "a department may not list another department's systems"
cb_curl GET /v1/systems "$HEALTH"
assert_eq "$(ids)" "health-his" "the other department sees only its own"
cb_curl GET /v1/systems "$MIG"
expect_error_forbidden "the migration role may not read the directory"
cb_curl GET /v1/systems ""
expect 401 "listing without a token: 401"
cb_curl GET "/v1/systems?department=Not_An_Id" "$OP"
expect 400 "a malformed ?department= is a bad request"
cb_curl GET "/v1/systems?department=nobody" "$OP"
expect 200 "an unknown department lists nothing"
assert_eq "$(ids)" "" "an unknown department has no systems"

echo "# --- get ---"
for tok in "$OP" "$AUTH" "$FIN" "$AUD" "$EDU"; do
        cb_curl GET /v1/systems/edu-portal "$tok"
        expect 200 "$tok reads edu-portal"
        assert_jq "$CB_BODY" .name "教育门户网站" "$tok: the stored name"
done
cb_curl GET /v1/systems/edu-portal "$HEALTH"
expect 404 "another department's system is not found (no leak)"
cb_curl GET /v1/systems/edu-portal "$MIG"
expect_error_forbidden "the migration role may not read a system"
cb_curl GET /v1/systems/no-such "$OP"
expect 404 "an unknown system: 404"
cb_curl GET /v1/systems/BAD_ID "$OP"
expect 404 "a malformed id: 404"
cb_curl GET /v1/systems/edu-portal ""
expect 401 "reading without a token: 401"

echo "# --- update ---"
cb_curl GET /v1/systems/edu-portal "$EDU"
CREATED=$(printf %s "$CB_BODY" | jq -r .created_at)
sleep 1.1
cb_curl PUT /v1/systems/edu-portal "$EDU" "$(system edu-portal edu 3 '教育门户(二期)')"
expect 200 "a department updates its own system"
assert_jq "$CB_BODY" '[.name, .protection_level] | map(tostring) | join("|")' "教育门户(二期)|3" "the update is applied"
assert_jq "$CB_BODY" .created_at "$CREATED" "created_at is kept"
assert_jq "$CB_BODY" ".updated_at > \"$CREATED\"" true "updated_at moves"
cb_curl GET /v1/systems/edu-portal "$AUD"
assert_jq "$CB_BODY" .protection_level 3 "the update is stored"

cb_curl PUT /v1/systems/edu-portal "$EDU" "$(system edu-other edu)"
expect_field id "an id in the body that differs from the URL is refused"
cb_curl PUT /v1/systems/edu-portal "$EDU" "$(system edu-portal edu 9)"
expect_field protection_level "an update is validated like a creation"
cb_curl PUT /v1/systems/edu-portal "$EDU" "$(system edu-portal edu | jq -c '.extra = 1')"
expect_field extra "an update with an unknown field is refused"
cb_curl PUT /v1/systems/edu-portal "$EDU" "$(system edu-portal health)"
expect_error_forbidden "a department may not move its system to another department"
cb_curl PUT /v1/systems/edu-portal "$HEALTH" "$(system edu-portal edu)"
expect_error_forbidden "a department may not update another department's system"
cb_curl PUT /v1/systems/edu-portal "$HEALTH" "$(system edu-portal health)"
expect 404 "a department may not take over another department's system (not found)"
for tok in "$AUTH" "$FIN" "$MIG" "$AUD"; do
        cb_curl PUT /v1/systems/edu-portal "$tok" "$(system edu-portal edu 1)"
        expect_error_forbidden "$tok may not update systems"
done
cb_curl PUT /v1/systems/edu-portal "" "$(system edu-portal edu 1)"
expect 401 "updating without a token: 401"
cb_curl PUT /v1/systems/no-such "$OP" "$(system no-such edu)"
expect 404 "updating an unknown system: 404"
cb_curl PUT /v1/systems/no-such "$EDU" "$(system no-such edu)"
expect 404 "a department updating an unknown system: 404"
cb_curl GET /v1/systems/edu-portal "$OP"
assert_jq "$CB_BODY" '[.department, .protection_level, .name] | map(tostring) | join("|")' \
        "edu|3|教育门户(二期)" "refused updates changed nothing"

cb_curl PUT /v1/systems/edu-portal "$OP" \
        '{"id":"edu-portal","name":"门户","department":"health","protection_level":1,"classified":false,"data_sharing":"noncompliant"}'
expect 200 "the operator moves a system to another department"
cb_curl GET /v1/systems/edu-portal "$HEALTH"
expect 200 "the new department sees the moved system"
assert_jq "$CB_BODY" '[.department, .data_sharing] | join("|")' "health|noncompliant" "moved and changed"
cb_curl GET /v1/systems/edu-portal "$EDU"
expect 404 "the old department no longer sees it"
cb_curl GET "/v1/systems?department=edu" "$OP"
assert_not_contains "$(ids)" "edu-portal" "the moved system left the old department's list"

cb_curl PUT /v1/systems/edu-portal "$OP" '{"id":'
expect 400 "PUT with malformed JSON: 400"
cb_curl DELETE /v1/systems/edu-portal "$OP"
expect 405 "DELETE is not a method of a system"

echo "# --- audit ---"
cb_curl GET "/v1/audit?limit=10000" "$AUD"
expect 200 "the auditor reads the audit trail"
AUDIT=$CB_BODY
n() { printf %s "$AUDIT" | jq "[.records[] | select($1)] | length"; }
assert_eq "$(n '.action == "system.create" and .outcome == "ok"')" 5 "every creation is on record (5)"
assert_eq "$(n '.action == "system.create" and .outcome == "ok" and .object == "system:edu-portal" and .principal == "dev-edu" and .face == "rest"')" 1 \
        "the creation names object, principal and face"
assert_eq "$(n '.action == "system.create" and .object == "system:health-his" and .detail.classified == true and .detail.protection_level == 3')" 1 \
        "the creation's detail holds the document"
assert_eq "$(n '.action == "system.update" and .outcome == "ok"')" 2 "both updates are on record"
assert_eq "$(n '.action == "system.update" and .outcome == "ok" and .principal == "dev-operator" and .detail.department == "health"')" 1 \
        "the move is on record with the new department"
assert_eq "$(n '.action == "system.create" and .outcome == "forbidden"')" 5 \
        "refused creations are on record (another department + 4 roles)"
assert_eq "$(n '.action == "system.create" and .outcome == "forbidden" and .principal == "dev-auditor"')" 1 \
        "the auditor's refused creation names the auditor"
assert_eq "$(n '.action == "system.update" and .outcome == "forbidden"')" 6 \
        "refused updates are on record (move, other department, 4 roles)"
assert_eq "$(n '(.action | startswith("system.")) and .outcome != "ok" and .outcome != "forbidden"')" 0 \
        "no other outcomes"
cb_curl GET /v1/audit/verify "$AUD"
assert_jq "$CB_BODY" .ok true "the audit chain verifies"

cb_done
