#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The catalogue's REST face (/v1) against the real daemon: the whole life
# cycle of a service over HTTP, callers told apart by bearer token, and
# every refusal path with its status code and JSON error body.
#
# Usage (from the repository root):
#   tests/integration/test-rest-catalog.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

OP=dev-operator AUTH=dev-authority FIN=dev-finance EDU=dev-edu AUDITOR=dev-auditor
SVC=/v1/catalog/services

# header NAME: the value of a header of the last reply (first match, no CR).
header() {
        printf '%s\n' "$CB_HEADERS" | tr -d '\r' | awk -v n="$1" '
                index(tolower($0), tolower(n) ":") == 1 { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}

# expect STATUS MSG: the last reply had this status; an error reply (4xx,
# 5xx) must carry a JSON body with "error" and "message".
expect() {
        local want=$1 msg=$2
        if [ "$CB_STATUS" != "$want" ]; then
                fail "$msg (expected HTTP $want, got $CB_STATUS: $(printf %s "$CB_BODY" | head -c 300))"
                return 0
        fi
        if [ "$want" -ge 400 ]; then
                if printf %s "$CB_BODY" | jq -e '(.error | type == "string") and (.message | type == "string")
                                and (.message | length > 0)' >/dev/null 2>&1; then
                        pass "$msg"
                else
                        fail "$msg (HTTP $want but the body has no error/message: $(printf %s "$CB_BODY" | head -c 300))"
                fi
        else
                pass "$msg"
        fi
}

# expect_error STATUS CODE MSG: status plus the "error" code of the body.
expect_error() {
        expect "$1" "$3"
        assert_jq "$CB_BODY" .error "$2" "$3: error is $2"
}

service_doc() { # service_doc ID PRICE_FEN
        cat <<JSON
{
  "id": "$1",
  "name": "$1",
  "display_name": "集成测试服务",
  "category": "PaaS",
  "driver": "http",
  "description": "A service created by the REST integration test.",
  "secure_controllable": false,
  "max_protection_level": 2,
  "bindable": true,
  "tags": ["test"],
  "plans": [
    {
      "id": "$1-small",
      "name": "small",
      "display_name": "小规格",
      "description": "",
      "spec": {"quotas": {"memory_mib": 1024}},
      "price": {"amount_fen": $2, "unit": "month"}
    }
  ]
}
JSON
}

# catalog_entry ID FILTER: GET /v1/catalog as dev-edu, then ENTRY = FILTER
# applied to the array of ID's entries there.
catalog_entry() {
        cb_curl GET /v1/catalog $EDU
        ENTRY=$(printf %s "$CB_BODY" | jq -r --arg id "$1" "[.services[] | select(.id == \$id)] | $2")
}

# --- health and authentication ------------------------------------------------

cb_curl GET /v1/health ""
expect 200 "GET /v1/health needs no authentication"
assert_jq "$CB_BODY" .status ok "health says ok"

cb_curl GET /v1/catalog ""
expect_error 401 unauthenticated "GET /v1/catalog without a token is 401"
assert_contains "$(header WWW-Authenticate)" "Bearer" "the 401 carries a Bearer challenge"
cb_curl GET /v1/catalog not-a-token
expect_error 401 unauthenticated "GET /v1/catalog with a bad token is 401"
cb_curl GET /v1/catalog "" "" -H "Authorization: Basic b3NiOmRldi1vc2I="
expect_error 401 unauthenticated "OSB basic credentials are no bearer token"
cb_curl GET /v1/catalog "" "" -H "Authorization: Bearer "
expect_error 401 unauthenticated "an empty bearer token is 401"

cb_curl GET /v1/catalog $EDU
expect 200 "a department reads the published catalogue"
assert_jq "$CB_BODY" '.services | length' 10 "the seed catalogue has 10 services"
assert_jq "$CB_BODY" '[.services[].status] | unique | join(",")' published "only published services"
ETAG1=$(header ETag)
assert_contains "$ETAG1" '"' "GET /v1/catalog has a quoted ETag"
assert_contains "$(header Content-Type)" "application/json" "the catalogue is JSON"

cb_curl GET /v1/catalog $EDU "" -H "If-None-Match: $ETAG1"
expect 304 "If-None-Match with the current ETag is 304"
assert_eq "$CB_BODY" "" "a 304 has no body"
assert_eq "$(header ETag)" "$ETAG1" "a 304 repeats the ETag"
cb_curl GET /v1/catalog $EDU "" -H 'If-None-Match: "something-else"'
expect 200 "If-None-Match with another ETag is 200"

# --- create: the draft and every refusal --------------------------------------------

service_doc test-svc 5000 >"$CB_TMP/svc.json"

cb_curl POST $SVC $EDU "@$CB_TMP/svc.json"
expect_error 403 forbidden "a department may not create services"
cb_curl POST $SVC $AUTH "@$CB_TMP/svc.json"
expect_error 403 forbidden "the authority may not create services"
cb_curl POST $SVC "" "@$CB_TMP/svc.json"
expect_error 401 unauthenticated "creating without a token is 401"

cb_curl POST $SVC $OP "@$CB_TMP/svc.json"
expect 201 "the operator creates a service"
assert_eq "$(header Location)" "$SVC/test-svc" "the 201 carries a Location"
assert_jq "$CB_BODY" '"\(.id) \(.status) \(.revision)"' "test-svc draft 1" "the new service is draft revision 1"
assert_jq "$CB_BODY" '.plans[0].price.amount_fen' 5000 "the draft keeps its price"

cb_curl POST $SVC $OP "@$CB_TMP/svc.json"
expect_error 409 conflict "creating the same id again is 409"

cb_curl POST $SVC $OP '{"id": "x",
  "name": }'
expect_error 400 malformed_json "malformed JSON is 400 malformed_json"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "line 2, column" "the message gives line and column"

cb_curl POST $SVC $OP "$(service_doc test-unknown 1 | jq '. + {gpu: 1}')"
expect_error 422 invalid_field "an unknown field is 422"
assert_jq "$CB_BODY" .field gpu "the refusal names the unknown field"
cb_curl POST $SVC $OP "$(service_doc test-unknown 1 | jq '.plans[0].spec.colour = "red"')"
expect_error 422 invalid_field "an unknown nested field is 422"
assert_jq "$CB_BODY" .field "plans[0].spec.colour" "the refusal gives the path of the nested field"

cb_curl POST $SVC $OP "$(service_doc test-type 1 | jq '.max_protection_level = "3"')"
expect_error 422 invalid_field "a string for an integer is 422"
assert_jq "$CB_BODY" .field max_protection_level "the refusal names the mistyped field"
cb_curl POST $SVC $OP "$(service_doc test-type 1 | jq '.bindable = 1')"
expect_error 422 invalid_field "an integer for a boolean is 422"
assert_jq "$CB_BODY" .field bindable "the refusal names the boolean field"
cb_curl POST $SVC $OP "$(service_doc test-type 1 | jq '.plans[0].price.amount_fen = 1.5')"
expect_error 422 invalid_field "a price that is no integer is 422"
assert_jq "$CB_BODY" .field "plans[0].price.amount_fen" "the refusal names the price"
cb_curl POST $SVC $OP '["not", "an", "object"]'
expect_error 422 invalid_field "a document that is no object is 422"

cb_curl POST $SVC $OP "" --data-binary ""
expect_error 400 invalid_request "an empty body is 400"
cb_curl POST $SVC $OP ""
expect_error 400 invalid_request "no body at all is 400"

# Over 1 MiB: refused from Content-Length; a chunked body is refused before a
# byte of it is read (411: its length is known only at its end); the daemon goes on.
head -c 1100000 /dev/zero | tr '\0' ' ' >"$CB_TMP/big.json"
printf '{}' >>"$CB_TMP/big.json"
cb_curl POST $SVC $OP "@$CB_TMP/big.json"
expect_error 413 payload_too_large "a body over 1 MiB is 413"
cb_curl POST $SVC $OP "@$CB_TMP/big.json" -H "Transfer-Encoding: chunked"
expect_error 411 length_required "a chunked body is 411, Content-Length required"
cb_curl GET /v1/health ""
expect 200 "the daemon still serves after the 413 and the 411"
cb_curl GET $SVC/test-svc $OP
assert_jq "$CB_BODY" '"\(.status) \(.revision)"' "draft 1" "the refused requests changed nothing"

cb_curl GET $SVC $OP
expect 200 "the operator lists every service"
assert_jq "$CB_BODY" '.services | length' 11 "the list has the seed and the draft"
assert_jq "$CB_BODY" '[.services[] | select(.id | startswith("test-")) | .id] | join(",")' test-svc \
        "none of the refused documents was stored"
cb_curl GET $SVC $EDU
expect_error 403 forbidden "a department may not list drafts"

# --- who sees a draft -----------------------------------------------------------

cb_curl GET $SVC/test-svc $EDU
expect_error 404 not_found "a department cannot see a draft"
cb_curl GET $SVC/test-svc $AUDITOR
expect_error 404 not_found "the auditor cannot see a draft"
cb_curl GET "$SVC/test-svc?revision=1" $EDU
expect_error 404 not_found "a department cannot see a draft by revision"
for who in $OP $AUTH $FIN; do
        cb_curl GET $SVC/test-svc "$who"
        expect 200 "$who sees the draft"
        assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.signoffs | tojson)"' "draft 1 []" \
                "$who sees status, revision and signoffs []"
done
cb_curl GET /v1/catalog $EDU
assert_jq "$CB_BODY" '[.services[] | select(.id == "test-svc")] | length' 0 "a draft is not in the catalogue"
assert_eq "$(header ETag)" "$ETAG1" "a draft leaves the catalogue's ETag alone"

# --- submit and sign-off --------------------------------------------------------

cb_curl POST $SVC/test-svc/approve $AUTH
expect_error 409 conflict "a draft cannot be approved"
cb_curl POST $SVC/test-svc/submit $EDU
expect_error 403 forbidden "a department may not submit"
cb_curl POST $SVC/test-svc/submit $OP
expect 200 "the operator submits"
assert_jq "$CB_BODY" .status submitted "the draft is submitted"
cb_curl POST $SVC/test-svc/submit $OP
expect_error 409 conflict "submitting twice is 409"

cb_curl POST $SVC/test-svc/approve $EDU
expect_error 403 forbidden "a department may not approve"
cb_curl POST $SVC/test-svc/approve $OP
expect_error 403 forbidden "the operator may not approve"
cb_curl POST $SVC/test-svc/approve $AUDITOR
expect_error 403 forbidden "the auditor may not approve"
cb_curl POST $SVC/test-svc/approve $AUTH '{"id": '
expect_error 400 malformed_json "an action with a malformed body is 400"

cb_curl POST $SVC/test-svc/approve $AUTH
expect 200 "the authority signs off"
assert_jq "$CB_BODY" '"\(.status) \(.signoffs | length) \(.signoffs[0].role) \(.signoffs[0].principal)"' \
        "submitted 1 authority dev-authority" "one sign-off does not publish"
cb_curl POST $SVC/test-svc/approve $AUTH
expect 200 "the authority approves a second time"
assert_jq "$CB_BODY" '"\(.status) \(.signoffs | length)"' "submitted 1" "the same principal counts once"
cb_curl GET /v1/catalog $EDU
assert_jq "$CB_BODY" '[.services[] | select(.id == "test-svc")] | length' 0 \
        "a half-signed service is not in the catalogue"

cb_curl POST $SVC/test-svc/approve $FIN
expect 200 "finance signs off"
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.signoffs | length)"' "published 1 2" \
        "two sign-offs publish revision 1"
assert_jq "$CB_BODY" '[.signoffs[].principal] | unique | length' 2 "the two sign-offs are by two principals"
assert_jq "$CB_BODY" '[.signoffs[].role] | sort | join(",")' "authority,finance" "by authority and finance"
assert_jq "$CB_BODY" '.published_at | type' string "a published revision has published_at"
cb_curl POST $SVC/test-svc/approve $FIN
expect_error 409 conflict "approving a published revision is 409"

catalog_entry test-svc '.[0] | "\(.status) \(.revision) \(.plans[0].price.amount_fen)"'
assert_eq "$ENTRY" \
        "published 1 5000" "the published service is in GET /v1/catalog"
assert_jq "$CB_BODY" '.services | length' 11 "the catalogue has 11 services"
ETAG2=$(header ETag)
if [ -n "$ETAG2" ] && [ "$ETAG2" != "$ETAG1" ]; then
        pass "the ETag changed with the catalogue"
else
        fail "the ETag changed with the catalogue ('$ETAG1' then '$ETAG2')"
fi
cb_curl GET /v1/catalog $EDU "" -H "If-None-Match: $ETAG1"
expect 200 "the old ETag no longer matches"
cb_curl GET /v1/catalog $EDU "" -H "If-None-Match: $ETAG2"
expect 304 "the new ETag matches"
cb_curl GET $SVC/test-svc $EDU
expect 200 "a department reads the published service"
assert_jq "$CB_BODY" '.display_name' "集成测试服务" "UTF-8 survives the round trip"
assert_jq "$CB_BODY" 'has("signoffs")' false "a department does not see the sign-offs"

# --- a new revision leaves the published one in force -------------------------------

cb_curl PUT $SVC/test-svc $EDU "$(service_doc test-svc 6000)"
expect_error 403 forbidden "a department may not update"
cb_curl PUT $SVC/test-svc $OP "$(service_doc test-svc 6000)"
expect 200 "the operator updates the published service"
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.in_force_revision) \(.plans[0].price.amount_fen)"' \
        "draft 2 1 6000" "the change is draft revision 2, revision 1 in force"
catalog_entry test-svc '.[0] | "\(.revision) \(.plans[0].price.amount_fen)"'
assert_eq "$ENTRY" "1 5000" \
        "GET /v1/catalog keeps revision 1 at the old price"
assert_eq "$(header ETag)" "$ETAG2" "a new draft leaves the catalogue's ETag alone"

cb_curl GET "$SVC/test-svc?revision=1" $OP
expect 200 "?revision=1 is readable"
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.plans[0].price.amount_fen)"' "published 1 5000" \
        "?revision=1 is the published one"
cb_curl GET $SVC/test-svc $EDU
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.plans[0].price.amount_fen)"' "published 1 5000" \
        "a department sees revision 1"
cb_curl GET "$SVC/test-svc?revision=2" $EDU
expect_error 404 not_found "a department cannot read the draft revision 2"
cb_curl GET $SVC/test-svc $OP
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.in_force_revision)"' "draft 2 1" \
        "the operator sees the draft revision 2 with in_force_revision 1"
cb_curl GET "$SVC/test-svc?revision=1" $AUTH
assert_jq "$CB_BODY" .pending_revision 2 "revision 1 names the pending revision 2"

# Editing a submitted revision withdraws it and drops its sign-offs.
cb_curl POST $SVC/test-svc/submit $OP
expect 200 "the operator submits revision 2"
cb_curl POST $SVC/test-svc/approve $AUTH
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.signoffs | length)"' "submitted 2 1" "revision 2 has one sign-off"
cb_curl PUT $SVC/test-svc $OP "$(service_doc test-svc 7000)"
expect 200 "the operator edits the submitted revision"
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.signoffs | length) \(.plans[0].price.amount_fen)"' \
        "draft 2 0 7000" "the edit makes it a draft again, without sign-offs, still revision 2"

cb_curl POST $SVC/test-svc/submit $OP
expect 200 "the operator submits the edited revision 2"
cb_curl POST $SVC/test-svc/approve $FIN
assert_jq "$CB_BODY" '"\(.status) \(.signoffs | length)"' "submitted 1" "finance signs first"
cb_curl POST $SVC/test-svc/approve $AUTH
expect 200 "the authority signs second"
assert_jq "$CB_BODY" '"\(.status) \(.revision) \(.signoffs | length)"' "published 2 2" \
        "revision 2 is published, whatever the order of the sign-offs"
assert_jq "$CB_BODY" 'has("in_force_revision")' false "no other revision in force"
cb_curl GET "$SVC/test-svc?revision=1" $OP
assert_jq "$CB_BODY" '"\(.status) \(.revision)"' "superseded 1" "revision 1 is superseded"
catalog_entry test-svc '"\(length) \(.[0].revision) \(.[0].plans[0].price.amount_fen)"'
assert_eq "$ENTRY" \
        "1 2 7000" "the catalogue shows revision 2 at the new price, once"
cb_curl GET $SVC/test-svc $EDU
assert_jq "$CB_BODY" '"\(.status) \(.revision)"' "published 2" "a department now reads revision 2"

# --- bad requests on PUT and GET ----------------------------------------------------

cb_curl PUT $SVC/test-svc $OP "$(service_doc other-svc 7000)"
expect_error 422 invalid_field "PUT with another id in the body is 422"
assert_jq "$CB_BODY" .field id "the refusal names the id"
cb_curl PUT $SVC/no-such-svc $OP "$(service_doc no-such-svc 1)"
expect_error 404 not_found "PUT on an unknown id is 404"
cb_curl PUT $SVC/test-svc $OP '{"id":'
expect_error 400 malformed_json "PUT with malformed JSON is 400"
cb_curl PUT $SVC/test-svc $OP ""
expect_error 400 invalid_request "PUT without a body is 400"
cb_curl GET "$SVC/test-svc?revision=abc" $OP
expect_error 400 invalid_request "?revision=abc is 400"
assert_jq "$CB_BODY" .field revision "the refusal names the revision parameter"
for bad in 0 -1 %2B1 +1 %201 1x 0x10 "" 99999999999999999999; do
        cb_curl GET "$SVC/test-svc?revision=$bad" $OP
        expect_error 400 invalid_request "?revision=$bad is 400"
done
cb_curl GET "$SVC/test-svc?revision=9" $OP
expect_error 404 not_found "a revision that does not exist is 404"
cb_curl GET "$SVC/no-such-svc" $OP
expect_error 404 not_found "GET of an unknown id is 404"
cb_curl GET "$SVC/NOT_AN_ID" $OP
expect_error 404 not_found "GET of an id that is no id is 404"
assert_jq "$CB_BODY" .field null "no field on a not-found"

# --- deprecate and retire -----------------------------------------------------------

cb_curl POST $SVC/ecs-general/retire $OP
expect_error 409 conflict "retiring a published service (not deprecated) is 409"
cb_curl GET $SVC/ecs-general $EDU
assert_jq "$CB_BODY" .status published "the refused retirement changed nothing"

cb_curl POST $SVC/test-svc/deprecate $EDU
expect_error 403 forbidden "a department may not deprecate"
cb_curl POST $SVC/test-svc/deprecate $AUTH
expect_error 403 forbidden "the authority may not deprecate"
cb_curl POST $SVC/test-svc/deprecate $OP
expect 200 "the operator deprecates"
assert_jq "$CB_BODY" '"\(.status) \(.revision)"' "deprecated 2" "revision 2 is deprecated"
catalog_entry test-svc length
assert_eq "$ENTRY" 0 "a deprecated service leaves GET /v1/catalog"
assert_jq "$CB_BODY" '.services | length' 10 "the catalogue is back to 10 services"
cb_curl GET $SVC/test-svc $EDU
assert_jq "$CB_BODY" .status deprecated "a department still reads the deprecated service"
cb_curl POST $SVC/test-svc/deprecate $OP
expect_error 409 conflict "deprecating twice is 409"
cb_curl PUT $SVC/test-svc $OP "$(service_doc test-svc 8000)"
expect_error 409 conflict "a deprecated service cannot be changed"

cb_curl POST $SVC/test-svc/retire $EDU
expect_error 403 forbidden "a department may not retire"
cb_curl POST $SVC/test-svc/retire $OP
expect 200 "the operator retires"
assert_jq "$CB_BODY" .status retired "the service is retired"
cb_curl POST $SVC/test-svc/retire $OP
expect_error 409 conflict "retiring twice is 409"
cb_curl POST $SVC/test-svc/deprecate $OP
expect_error 409 conflict "deprecating a retired service is 409"
cb_curl POST $SVC/test-svc/submit $OP
expect_error 409 conflict "submitting a retired service is 409"
catalog_entry test-svc length
assert_eq "$ENTRY" 0 "a retired service is not in GET /v1/catalog"

# --- unknown ids, methods and paths -------------------------------------------------

for action in submit deprecate retire; do
        cb_curl POST $SVC/no-such-svc/$action $OP
        expect_error 404 not_found "$action of an unknown id is 404"
done
for who in $AUTH $FIN; do
        cb_curl POST $SVC/no-such-svc/approve "$who"
        expect_error 404 not_found "approve of an unknown id is 404 ($who)"
done

cb_curl DELETE $SVC/test-svc $OP
expect_error 405 method_not_allowed "DELETE on a service is 405"
assert_contains "$(header Allow)" "PUT" "the 405 lists the allowed methods"
cb_curl GET $SVC/test-svc/submit $OP
expect_error 405 method_not_allowed "GET on an action is 405"
assert_eq "$(header Allow)" "POST" "the 405 of an action allows POST"
cb_curl POST /v1/catalog $OP "{}"
expect_error 405 method_not_allowed "POST /v1/catalog is 405"
cb_curl DELETE /v1/health ""
expect_error 405 method_not_allowed "DELETE /v1/health is 405"

cb_curl GET /v1/no-such-thing $OP
expect_error 404 not_found "an unknown path is 404"
assert_contains "$(header Content-Type)" "application/json" "the 404 of an unknown path is JSON"
cb_curl GET $SVC/test-svc/frobnicate $OP
expect_error 404 not_found "an unknown action is 404"
cb_curl POST $SVC/test-svc/submit/extra $OP
expect_error 404 not_found "a path longer than any route is 404"
cb_curl GET / ""
expect_error 404 not_found "GET / is 404"

cb_curl GET /v1/health ""
expect 200 "the daemon is still healthy at the end"

cb_stop_daemon
cb_done
