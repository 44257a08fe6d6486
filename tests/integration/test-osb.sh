#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The Open Service Broker face (/v2) against the real daemon: platform basic
# auth, the X-Broker-API-Version window (2.13 to 2.17), the shape of the
# catalogue per version (the table in daemon/osb.c), prices in
# plan.metadata.costs, and that only published services are offered.
#
# Usage (from the repository root):
#   tests/integration/test-osb.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

OSB_AUTH=osb:dev-osb

# osb VERSION [curl args...]: GET /v2/catalog with the platform's basic auth
# and X-Broker-API-Version VERSION ("" leaves the header out).
osb() {
        local version=$1
        shift
        local args=(-u "$OSB_AUTH")
        [ -n "$version" ] && args+=(-H "X-Broker-API-Version: $version")
        cb_curl GET /v2/catalog "" "" "${args[@]}" "$@"
}

header() {
        printf '%s\n' "$CB_HEADERS" | tr -d '\r' | awk -v n="$1" '
                index(tolower($0), tolower(n) ":") == 1 { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}

expect() {
        if [ "$CB_STATUS" = "$1" ]; then
                pass "$2"
        else
                fail "$2 (expected HTTP $1, got $CB_STATUS: $(printf %s "$CB_BODY" | head -c 300))"
        fi
}

# An OSB error body: {"error": ..., "description": ...} (OSB's field names).
expect_osb_error() {
        expect "$1" "$2"
        assert_jq "$CB_BODY" '(.error | type == "string") and (.description | type == "string" and length > 0)' \
                true "$2: the body has error and description"
}

# --- authentication ----------------------------------------------------------------

cb_curl GET /v2/catalog "" "" -H "X-Broker-API-Version: 2.17"
expect_osb_error 401 "no credentials is 401"
assert_contains "$(header WWW-Authenticate)" "Basic" "the 401 challenges for Basic auth"
assert_not_contains "$(header WWW-Authenticate)" "Bearer" "the OSB challenge is not Bearer"

cb_curl GET /v2/catalog "" "" -H "X-Broker-API-Version: 2.17" -u osb:wrong
expect_osb_error 401 "a wrong password is 401"
assert_contains "$(header WWW-Authenticate)" "Basic" "a wrong password is challenged again"
cb_curl GET /v2/catalog "" "" -H "X-Broker-API-Version: 2.17" -u admin:dev-osb
expect_osb_error 401 "a wrong user name is 401"
cb_curl GET /v2/catalog "" "" -H "X-Broker-API-Version: 2.17" -u osb:
expect_osb_error 401 "an empty password is 401"
cb_curl GET /v2/catalog "" "" -H "X-Broker-API-Version: 2.17" -u osb:dev-osbx
expect_osb_error 401 "a longer password is 401"
cb_curl GET /v2/catalog "" "" -H "X-Broker-API-Version: 2.17" -H "Authorization: Basic !!!notbase64"
expect_osb_error 401 "a garbled Basic header is 401"
cb_curl GET /v2/catalog dev-operator "" -H "X-Broker-API-Version: 2.17"
expect_osb_error 401 "an operator's bearer token is not accepted on /v2"
cb_curl GET /v2/catalog dev-edu "" -H "X-Broker-API-Version: 2.17"
expect_osb_error 401 "a department's bearer token is not accepted on /v2"
# The reverse: the platform credential opens nothing on /v1.
cb_curl GET /v1/catalog "" "" -u "$OSB_AUTH"
expect 401 "the OSB credential is not accepted on /v1"

# --- the version window ------------------------------------------------------------

for v in "" 2.12 3.0 1.13 2.18 2 2.x "2.13.1" 2.-13 abc; do
        osb "$v"
        expect_osb_error 412 "X-Broker-API-Version '${v:-(none)}' is 412"
done
osb ""
assert_jq "$CB_BODY" .error PreconditionFailed "the 412 says PreconditionFailed"
assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" "2.13" "the 412 names the supported versions"

declare -A REPLY
for minor in 13 14 15 16 17; do
        osb "2.$minor"
        expect 200 "X-Broker-API-Version 2.$minor is 200"
        assert_contains "$(header Content-Type)" "application/json" "2.$minor: the reply is JSON"
        REPLY[$minor]=$CB_BODY
done

# --- the shape of the catalogue ------------------------------------------------------

J=${REPLY[17]}
assert_jq "$J" '.services | length' 10 "the OSB catalogue has the 10 seed services"
assert_jq "$J" '[.services[] | (.id | type == "string") and (.name | type == "string")
        and (.description | type == "string") and (.bindable | type == "boolean")
        and (.plans | type == "array" and length > 0)] | all' true \
        "every service has id, name, description, bindable and plans"
assert_jq "$J" '[.services[].id] | length == (unique | length)' true "service ids are unique"
assert_jq "$J" '[.services[].name] | length == (unique | length)' true "service names are unique"
assert_jq "$J" '[.services[].plans[] | (.id | type == "string") and (.name | type == "string")
        and (.description | type == "string") and (.free | type == "boolean")] | all' true \
        "every plan has id, name, description and free"
assert_jq "$J" '[.services[].plans[] | .metadata.displayName | type == "string" and length > 0] | all' true \
        "every plan has metadata.displayName"
assert_jq "$J" '[.services[].plans[] | .metadata.costs[0] | (.amount.cny | type == "number")
        and (.unit | type == "string" and length > 0)] | all' true \
        "every plan has metadata.costs[0].amount.cny and unit"
assert_jq "$J" '[.services[].plans[].metadata.costs[0].unit] | unique | join(",")' "HOURLY,MONTHLY" \
        "cost units are HOURLY and MONTHLY"
assert_jq "$J" '.services[] | select(.id == "ecs-general") | .plans[] | select(.id == "ecs-general-2c4g")
        | "\(.metadata.costs[0].amount.cny) \(.metadata.costs[0].unit) \(.free)"' "0.35 HOURLY false" \
        "35 fen an hour is 0.35 CNY HOURLY"
assert_jq "$J" '.services[] | select(.id == "dcs-redis") | .plans[] | select(.id == "dcs-redis-ha-2g")
        | "\(.metadata.costs[0].amount.cny) \(.metadata.costs[0].unit)"' "300 MONTHLY" \
        "30000 fen a month is 300 CNY MONTHLY"
assert_jq "$J" '.services[] | select(.id == "dcs-redis") | "\(.bindable) \(.metadata.displayName)"' \
        "true 分布式缓存服务（Redis兼容）" "service metadata carries the display name"

# Every price agrees with the REST catalogue, plan by plan.
cb_curl GET /v1/catalog dev-edu
PRICES_V1=$(printf %s "$CB_BODY" | jq -c '[.services[].plans[] | {id, cny: (.price.amount_fen / 100)}] | sort_by(.id)')
PRICES_V2=$(printf %s "$J" | jq -c '[.services[].plans[] | {id, cny: .metadata.costs[0].amount.cny}] | sort_by(.id)')
assert_eq "$PRICES_V2" "$PRICES_V1" "every OSB price is the REST price in yuan"

# Fields by version, as the table in daemon/osb.c says.
has() { # has MINOR FILTER -> true/false over every service (or plan)
        printf %s "${REPLY[$1]}" | jq -r "$2"
}
assert_eq "$(has 13 '[.services[] | has("instances_retrievable") or has("bindings_retrievable")] | any')" false \
        "2.13 has no instances_retrievable / bindings_retrievable"
assert_eq "$(has 13 '[.services[].plans[] | has("maximum_polling_duration") or has("plan_updateable")] | any')" \
        false "2.13 plans have no maximum_polling_duration / plan_updateable"
assert_eq "$(has 13 '[.services[] | has("allow_context_updates")] | any')" false \
        "2.13 has no allow_context_updates"
assert_eq "$(has 14 '[.services[] | has("instances_retrievable") and has("bindings_retrievable")] | all')" true \
        "2.14 has instances_retrievable and bindings_retrievable"
assert_eq "$(has 14 '[.services[].plans[] | has("maximum_polling_duration")] | any')" false \
        "2.14 plans have no maximum_polling_duration"
assert_eq "$(has 15 '[.services[].plans[] | has("maximum_polling_duration") and has("plan_updateable")] | all')" \
        true "2.15 plans have maximum_polling_duration and plan_updateable"
assert_eq "$(has 15 '[.services[] | has("allow_context_updates")] | any')" false \
        "2.15 has no allow_context_updates"
assert_eq "$(has 16 '[.services[] | has("allow_context_updates")] | all')" true "2.16 has allow_context_updates"
assert_eq "$(has 17 '[.services[] | has("instances_retrievable") and has("allow_context_updates")] | all')" true \
        "2.17 has instances_retrievable and allow_context_updates"
assert_eq "$(has 17 '[.services[].plans[] | .maximum_polling_duration | type == "number"] | all')" true \
        "2.17 plans have a numeric maximum_polling_duration"
assert_eq "$(has 13 '[.services[] | {id, plans: [.plans[] | {id, c: .metadata.costs}]}]')" \
        "$(has 17 '[.services[] | {id, plans: [.plans[] | {id, c: .metadata.costs}]}]')" \
        "the version changes fields, never services, plans or prices"

# --- only published services -------------------------------------------------------------

service_doc() { # service_doc PRICE_FEN
        jq -n --argjson p "$1" '{id: "osb-test", name: "osb-test", display_name: "OSB测试服务",
                category: "SaaS", driver: "http", description: "created by test-osb.sh",
                secure_controllable: false, max_protection_level: 1, bindable: false,
                plans: [{id: "osb-test-basic", name: "basic", display_name: "基础版", description: "",
                         spec: {}, price: {amount_fen: $p, unit: "month"}}]}'
}
osb_ids() {
        osb 2.17
        printf %s "$CB_BODY" | jq -r '[.services[].id] | sort | join(",")'
}
SEED_IDS=$(osb_ids)

cb_curl POST /v1/catalog/services dev-operator "$(service_doc 0)"
expect 201 "the operator creates a draft through REST"
assert_eq "$(osb_ids)" "$SEED_IDS" "a draft is not in /v2/catalog"
cb_curl POST /v1/catalog/services/osb-test/submit dev-operator
cb_curl POST /v1/catalog/services/osb-test/approve dev-authority
assert_jq "$CB_BODY" .status submitted "half-signed"
assert_eq "$(osb_ids)" "$SEED_IDS" "a submitted, half-signed service is not in /v2/catalog"
cb_curl POST /v1/catalog/services/osb-test/approve dev-finance
assert_jq "$CB_BODY" .status published "published"
osb 2.17
assert_jq "$CB_BODY" '.services | length' 11 "a published service appears in /v2/catalog"
assert_jq "$CB_BODY" '.services[] | select(.id == "osb-test") | .plans[0]
        | "\(.free) \(.metadata.costs[0].amount.cny) \(.metadata.costs[0].unit)"' "true 0 MONTHLY" \
        "a price of 0 is a free plan"

cb_curl PUT /v1/catalog/services/osb-test dev-operator "$(service_doc 12345)"
assert_jq "$CB_BODY" '"\(.status) \(.revision)"' "draft 2" "a new draft revision"
osb 2.17
assert_jq "$CB_BODY" '.services[] | select(.id == "osb-test")
        | "\(.metadata.catalogRevision) \(.plans[0].metadata.costs[0].amount.cny)"' "1 0" \
        "/v2 keeps the published revision while the next is a draft"

cb_curl POST /v1/catalog/services/osb-test/deprecate dev-operator
expect 200 "the operator deprecates the service in force"
cb_curl GET "/v1/catalog/services/osb-test?revision=1" dev-operator
assert_jq "$CB_BODY" .status deprecated "revision 1 is deprecated"
assert_eq "$(osb_ids)" "$SEED_IDS" "a deprecated service leaves /v2/catalog"

# --- methods and paths ----------------------------------------------------------------------

cb_curl POST /v2/catalog "" "{}" -u "$OSB_AUTH" -H "X-Broker-API-Version: 2.17"
expect 405 "POST /v2/catalog is 405"
cb_curl GET /v2/no-such-thing "" "" -u "$OSB_AUTH" -H "X-Broker-API-Version: 2.17"
expect 404 "an unknown /v2 path is 404"
assert_jq "$CB_BODY" '.error | type' string "the 404 is a JSON error"

osb 2.17
expect 200 "the OSB catalogue still serves at the end"

cb_stop_daemon
cb_done
