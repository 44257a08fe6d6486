#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# http (Open Service Broker) providers with the real daemon and the test OSB
# provider (tests/osb-provider), both on 127.0.0.1: registration through
# POST /v1/providers and through the config, the catalogue read on
# registration and again at every reconcile, a provider that lies or goes
# away, the refusals (each naming its field), a password that never shows,
# and the sign-off check of catalogue plans against what the provider offers.
. tests/integration/lib.sh
cb_setup "$@"

cb_start_osb_provider
CONF_URL=$OSB_URL
CONF_PID=$OSB_PID
cb_start_osb_provider
API_URL=$OSB_URL
API_PID=$OSB_PID

# The test config, with the reconcile every second and an http provider of
# its own (absolute paths: the copy lives in the scratch folder).
sed -e '/^providers = (/,/^);/d' -e 's/^reconcile_seconds = .*/reconcile_seconds = 1;/' \
        -e "s#\"\.\./\.\./#\"$PWD/#g" tests/integration/test.conf >"$CB_TMP/http.conf"
cat >>"$CB_TMP/http.conf" <<EOF
providers = (
  { name = "dev-test"; driver = "libvirt"; uri = "test://$PWD/etc/test-node.xml"; },
  { name = "linfen-saas"; driver = "http"; url = "$CONF_URL/"; username = "cb"; password = "cb-osb-secret";
    api_version = "2.15"; }
);
EOF
CB_CONFIG=$CB_TMP/http.conf
cb_start_daemon

# --- the configured one ------------------------------------------------------------
cb_wait_provider linfen-saas && pass "the configured http provider connects (its catalogue read)" ||
        fail "the configured http provider connects (got: $CB_BODY)"
cb_curl GET /v1/providers dev-operator
P=$(printf %s "$CB_BODY" | jq -c '.providers[] | select(.name == "linfen-saas")')
assert_jq "$P" .driver http "it is an http provider"
assert_jq "$P" .source config "from the config"
assert_jq "$P" .api_version 2.15 "with the configured API version"
assert_jq "$P" '[.offered[].id] | sort | join(",")' "dm8-rds,e-seal,gov-oa,mysql-rds,redis-cache,rocketmq" \
        "what it offers is the shipped catalogue's http services"
assert_jq "$P" '.offered[] | select(.id == "gov-oa") | .plans | join(",")' "oa-100-users,oa-500-users,oa-1000-users" \
        "with their plans"
assert_not_contains "$CB_BODY" cb-osb-secret "the provider list never shows a password"

# --- POST /v1/providers ------------------------------------------------------------
body() { jq -nc --arg url "$API_URL" "{name: \"linfen-paas\", driver: \"http\", url: \$url, username: \"cb\",
        password: \"cb-osb-secret\", api_version: \"2.17\"} $1"; }

cb_curl POST /v1/providers dev-edu "$(body '')"
assert_eq "$CB_STATUS" 403 "a department may not add a provider"
cb_curl POST /v1/providers dev-operator "$(body '| del(.url)')"
assert_eq "$CB_STATUS" 422 "an http provider without a url is refused"
assert_jq "$CB_BODY" .field url "the refusal names url"
cb_curl POST /v1/providers dev-operator "$(body '| .url = "ftp://127.0.0.1/"')"
assert_jq "$CB_BODY" .field url "an ftp url is refused, naming url"
cb_curl POST /v1/providers dev-operator "$(body '| .api_version = "2.12"')"
assert_eq "$CB_STATUS" 422 "API version 2.12 is refused"
assert_jq "$CB_BODY" .field api_version "naming api_version"
cb_curl POST /v1/providers dev-operator "$(body '| del(.password)')"
assert_jq "$CB_BODY" .field password "a missing password is named"
cb_curl POST /v1/providers dev-operator "$(body '| .uri = "x"')"
assert_jq "$CB_BODY" .field uri "an http provider with a libvirt uri is refused, naming uri"
cb_curl POST /v1/providers dev-operator "$(body '| .ca_file = "ca.pem"')"
assert_jq "$CB_BODY" .field ca_file "a relative CA file is refused, naming ca_file"
cb_curl POST /v1/providers dev-operator "$(body '| .ca_file = "/nonexistent/ca.pem"')"
assert_jq "$CB_BODY" .field ca_file "an unreadable CA file is refused, naming ca_file"
cb_curl POST /v1/providers dev-operator '{"name": "lv2", "driver": "libvirt", "uri": "test:///default", "username": "u"}'
assert_jq "$CB_BODY" .field username "a libvirt provider with a username is refused, naming it"

cb_curl POST /v1/providers dev-operator "$(body '')"
assert_eq "$CB_STATUS" 201 "the operator adds an http provider"
assert_not_contains "$CB_BODY" cb-osb-secret "the answer does not show the password"
cb_curl POST /v1/providers dev-operator "$(body '')"
assert_eq "$CB_STATUS" 409 "the same name again is a conflict"
cb_wait_provider linfen-paas && pass "the added provider connects" || fail "the added provider connects ($CB_BODY)"
cb_curl GET /v1/audit dev-auditor
assert_contains "$CB_BODY" provider:linfen-paas "its creation is audited"
assert_not_contains "$CB_BODY" cb-osb-secret "the audit trail holds no password"

# Every request carried the version and the credentials the provider wants:
# it counted none it refused.
assert_jq "$(osb_control)" .rejected 0 "the provider refused none of the broker's requests (auth, version)"

# Wrong credentials: the provider refuses, and the broker says so.
cb_curl POST /v1/providers dev-operator "$(body '| .name = "bad-pass" | .password = "wrong"')"
assert_eq "$CB_STATUS" 201 "a provider with a wrong password is stored"
for _ in $(seq 1 50); do
        cb_curl GET /v1/providers dev-operator
        E=$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "bad-pass") | .error // empty')
        [ -n "$E" ] && break
        sleep 0.1
done
assert_contains "$E" "HTTP 401" "its status names the provider's 401"
assert_jq "$CB_BODY" '.providers[] | select(.name == "bad-pass") | .status' connecting "and it is not connected"

# --- the sign-off check ------------------------------------------------------------
svc() {
        jq -nc --arg p "$1" --arg s "$2" --arg pl "$3" '{id: "test-db", name: "test-db", display_name: "测试数据库",
                category: "PaaS", driver: "http", description: "", secure_controllable: false,
                max_protection_level: 3, bindable: true,
                plans: [{id: "test-db-small", name: "small", display_name: "小", description: "",
                         spec: {provider: $p, remote_service_id: $s, remote_plan_id: $pl},
                         price: {amount_fen: 100, unit: "month"}}]}'
}
cb_curl POST /v1/catalog/services dev-operator "$(svc linfen-paas mysql-rds no-such-plan)"
assert_eq "$CB_STATUS" 201 "a draft whose plan maps to nothing may be drafted"
cb_curl POST /v1/catalog/services/test-db/submit dev-operator
assert_eq "$CB_STATUS" 422 "but not submitted for sign-off"
assert_jq "$CB_BODY" .field "plans[0].spec.remote_plan_id" "the refusal names the plan's remote_plan_id"
assert_contains "$CB_BODY" "offers no plan 'no-such-plan'" "and says what is missing"

cb_curl PUT /v1/catalog/services/test-db dev-operator "$(svc linfen-paas no-such-service mysql-ha-2c4g-100g)"
cb_curl POST /v1/catalog/services/test-db/submit dev-operator
assert_jq "$CB_BODY" .field "plans[0].spec.remote_service_id" "an unknown remote service is named"
cb_curl PUT /v1/catalog/services/test-db dev-operator "$(svc nowhere mysql-rds mysql-ha-2c4g-100g)"
cb_curl POST /v1/catalog/services/test-db/submit dev-operator
assert_jq "$CB_BODY" .field "plans[0].spec.provider" "an unregistered provider is named"
cb_curl PUT /v1/catalog/services/test-db dev-operator "$(svc dev-test mysql-rds mysql-ha-2c4g-100g)"
cb_curl POST /v1/catalog/services/test-db/submit dev-operator
assert_jq "$CB_BODY" .field "plans[0].spec.provider" "a libvirt provider does not serve an http plan"
cb_curl PUT /v1/catalog/services/test-db dev-operator "$(svc linfen-paas mysql-rds mysql-ha-2c4g-100g)"
cb_curl POST /v1/catalog/services/test-db/submit dev-operator
assert_eq "$CB_STATUS" 200 "a plan that maps to what the provider offers is submitted"
assert_jq "$CB_BODY" .status submitted "and goes to sign-off"

# --- the catalogue read again at every reconcile ---------------------------------
osb_control '{"malformed": true}' >/dev/null
for _ in $(seq 1 50); do
        cb_curl GET /v1/providers dev-operator
        S=$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "linfen-paas") | .status')
        [ "$S" = lost ] && break
        sleep 0.1
done
assert_eq "$S" lost "a provider whose catalogue turns malformed is lost at the next reading"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "linfen-paas") | .error')" "not JSON" \
        "its error says the answer is not JSON"
osb_control '{"malformed": false}' >/dev/null
cb_wait_provider linfen-paas && pass "and connected again when it answers well" || fail "reconnects after malformed"

# A provider that hangs is given up on (the request's time limit) and the daemon keeps serving.
osb_control '{"hang": true}' >/dev/null
T0=$(date +%s%N)
cb_curl GET /v1/health ""
T1=$(date +%s%N)
assert_eq "$CB_STATUS" 200 "the daemon answers while a provider hangs"
[ $(((T1 - T0) / 1000000)) -lt 1000 ] && pass "at once ($(((T1 - T0) / 1000000)) ms)" ||
        fail "health took $(((T1 - T0) / 1000000)) ms while a provider hangs"
osb_control '{"hang": false}' >/dev/null

# A provider that goes away: lost, with the transport error.
kill -TERM "$CONF_PID"
for _ in $(seq 1 50); do
        cb_curl GET /v1/providers dev-operator
        S=$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "linfen-saas") | .status')
        [ "$S" = lost ] && break
        sleep 0.1
done
assert_eq "$S" lost "a configured provider that stops is lost"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "linfen-saas") | .error')" \
        unreachable "its error says it is unreachable"

# --- a restart: the stored provider comes back with its credentials ---------------
cb_restart_daemon
cb_wait_provider linfen-paas && pass "after a restart the stored provider connects again (its password stored)" ||
        fail "stored provider after restart ($CB_BODY)"
cb_curl GET /v1/providers dev-operator
assert_jq "$CB_BODY" '.providers[] | select(.name == "linfen-paas") | .source' api "from the store"

cb_stop_daemon
kill -TERM "$API_PID"
cb_done
