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
cb_start_osb_provider --max-polling-duration 3
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

cb_curl GET /v1/providers/linfen-paas/inventory dev-operator
assert_eq "$CB_STATUS" 501 "an http provider has no inventory to list (501, at once)"
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

# --- http resources: provision and deprovision through the same resources ------
OSB_URL=$API_URL
YEAR=$(date +%Y)
cb_add_system edu-db edu 2 false compliant 教育数据库
cb_approve edu-data "临政信审〔$YEAR〕77号" edu-db \
        '[{"service_id": "rds-mysql", "plan_id": "rds-mysql-2c4g", "quantity": 20}]'
# order NAME [PROJECT SERVICE PLAN]: POST /v1/resources as edu; a 503 (the provider
# between two catalogue reads) is retried as its message says, for 3 s at most.
order() {
        local body
        body=$(jq -nc --arg n "$1" --arg p "${2:-edu-data}" --arg s "${3:-rds-mysql}" --arg pl "${4:-rds-mysql-2c4g}" \
                '{project_id: $p, system_id: "edu-db", service_id: $s, plan_id: $pl, name: $n}')
        for _ in $(seq 1 15); do
                cb_curl POST /v1/resources dev-edu "$body"
                [ "$CB_STATUS" = 503 ] || break
                sleep 0.2
        done
        RID=$(printf %s "$CB_BODY" | jq -r .id)
}
ninst() { osb_control | jq '.instances | length'; }
inst() { osb_control | jq -c --arg id "$1" '.instances[] | select(.id == $id)'; }
op_error() {
        local op
        op=$(printf %s "$CB_BODY" | jq -r .id)
        cb_curl GET "/v1/resources/$1" dev-edu
}
last_op_error() { # the error of the resource's newest operation, from the audit trail
        cb_curl GET /v1/audit dev-auditor
        printf %s "$CB_BODY" | jq -r --arg o "resource:$1" '[.records[] | select(.object == $o) | .detail.error // empty] | last // ""'
}
osb_control '{"reset": true}' >/dev/null

# synchronous
order db-sync
assert_eq "$CB_STATUS" 202 "an http plan is accepted like a VM (202)"
cb_wait_state "$RID" active && pass "it becomes active" || fail "db-sync active (got $GOT)"
assert_jq "$CB_BODY" .kind service "its kind is service"
assert_jq "$CB_BODY" .provider linfen-paas "on the provider its plan names"
assert_jq "$CB_BODY" .provider_ref "$RID" "the instance id at the provider is the resource id"
I=$(inst "$RID")
assert_jq "$I" .plan_id mysql-ha-2c4g-100g "the provider has the instance, of the plan's remote plan"
assert_jq "$I" .context.platform cloudbroker "its context says platform cloudbroker"
assert_jq "$I" .context.department edu "the department"
assert_jq "$I" .context.project_id edu-data "the project"
assert_jq "$I" .context.approval_no "临政信审〔$YEAR〕77号" "the approval number"
assert_jq "$I" .context.system_id edu-db "and the system"
assert_contains "$(printf %s "$I" | jq -r .originating_identity)" "cloudbroker " "it carries an originating identity"
ID=$(printf %s "$I" | jq -r '.originating_identity | sub("^cloudbroker "; "")' | base64 -d | jq -r .user_id)
assert_eq "$ID" dev-edu "the department's principal"
assert_contains "$(printf %s "$I" | jq -r .request_identity)" "op-" "and a request identity (the operation)"
for a in stop start reboot; do
        cb_curl POST "/v1/resources/$RID/actions" dev-edu "{\"action\": \"$a\"}"
        assert_eq "$CB_STATUS" 409 "$a on an http resource is 409"
        assert_contains "$CB_BODY" "no power state" "and says it has no power state"
done
cb_curl DELETE "/v1/resources/$RID" dev-edu
assert_eq "$CB_STATUS" 202 "delete is accepted"
cb_wait_state "$RID" deleted && pass "and it is deleted" || fail "db-sync deleted (got $GOT)"
assert_eq "$(ninst)" 0 "the provider has no instance left"

# slow asynchronous answers, with Retry-After
osb_control '{"async_ms": 1500, "retry_after": 1}' >/dev/null
P0=$(osb_control | jq .polls)
order db-async
cb_wait_state "$RID" provisioning 1 && pass "an asynchronous provision is provisioning meanwhile" ||
        fail "db-async provisioning (got $GOT)"
cb_wait_state "$RID" active 10 && pass "and active once last_operation says succeeded" || fail "db-async active ($GOT)"
P1=$(osb_control | jq .polls)
[ $((P1 - P0)) -ge 1 ] && [ $((P1 - P0)) -le 3 ] && pass "polled $((P1 - P0)) time(s) in 1.5 s: Retry-After 1 honoured" ||
        fail "polled $((P1 - P0)) times in 1.5 s with Retry-After 1"
cb_curl DELETE "/v1/resources/$RID" dev-edu
cb_wait_state "$RID" deprovisioning 1 && pass "an asynchronous delete is deprovisioning meanwhile" ||
        fail "db-async deprovisioning ($GOT)"
cb_wait_state "$RID" deleted 10 && pass "and deleted once the provider says gone" || fail "db-async deleted ($GOT)"
assert_eq "$(ninst)" 0 "no instance left"
osb_control '{"reset": true}' >/dev/null

# Prefer: wait=N (RFC 7240): the answer waits for the outcome, at most N s
order_body() { jq -nc --arg n "$1" '{project_id: "edu-data", system_id: "edu-db", service_id: "rds-mysql", plan_id: "rds-mysql-2c4g", name: $n}'; }
cb_curl POST /v1/resources dev-edu "$(order_body db-wait)" -H 'Prefer: wait=5'
assert_eq "$CB_STATUS" 201 "Prefer: wait on a provider that answers at once: 201, no GET needed"
assert_jq "$CB_BODY" .state active "the ticket says active"
RID=$(printf %s "$CB_BODY" | jq -r .id)
assert_contains "$CB_HEADERS" "Location: /v1/resources/$RID" "with the resource's Location"
assert_eq "$(inst "$RID" | jq -r .id)" "$RID" "the provider has the instance when the answer comes"
cb_curl DELETE "/v1/resources/$RID" dev-edu "" -H 'Prefer: respond-async, wait=5'
assert_eq "$CB_STATUS" 200 "a delete with Prefer: wait (among other preferences) is 200 once done"
assert_jq "$CB_BODY" .state deleted "and says deleted"
assert_eq "$(ninst)" 0 "the provider has no instance left when the answer comes"
osb_control '{"async_ms": 2500}' >/dev/null
T0=$(date +%s%N)
cb_curl POST /v1/resources dev-edu "$(order_body db-wait-slow)" -H 'Prefer: wait=1'
T1=$(date +%s%N)
assert_eq "$CB_STATUS" 202 "an outcome later than the wait: 202 once the wait ran out"
assert_jq "$CB_BODY" .state provisioning "the ticket says provisioning"
[ $(((T1 - T0) / 1000000)) -ge 900 ] && pass "the answer waited the second asked for ($(((T1 - T0) / 1000000)) ms)" ||
        fail "the answer came after $(((T1 - T0) / 1000000)) ms, not after the 1 s wait"
RID=$(printf %s "$CB_BODY" | jq -r .id)
cb_wait_state "$RID" active 10 || fail "db-wait-slow active ($GOT)"
cb_curl DELETE "/v1/resources/$RID" dev-edu "" -H 'Prefer: wait=10'
assert_eq "$CB_STATUS" 200 "a slow delete with Prefer: wait=10: 200 once the provider says gone"
assert_jq "$CB_BODY" .state deleted "deleted"
cb_curl POST /v1/resources dev-edu "$(order_body db-wait-bad)" -H 'Prefer: wait=soon'
assert_eq "$CB_STATUS" 202 "a wait preference that cannot be read is ignored: 202 at once"
assert_jq "$CB_BODY" .state provisioning "still provisioning"
RID=$(printf %s "$CB_BODY" | jq -r .id)
cb_wait_state "$RID" active 10 || fail "db-wait-bad active ($GOT)"
cb_curl DELETE "/v1/resources/$RID" dev-edu
cb_wait_state "$RID" deleted 10 || fail "db-wait-bad deleted ($GOT)"
osb_control '{"reset": true}' >/dev/null
osb_control '{"refuse_next": 1}' >/dev/null
cb_curl POST /v1/resources dev-edu "$(order_body db-wait-refused)" -H 'Prefer: wait=5'
assert_eq "$CB_STATUS" 202 "a provision that fails is not 201, also when waited for"
assert_jq "$CB_BODY" .state failed "the ticket says failed"
osb_control '{"reset": true}' >/dev/null

# 500s are retried with backoff
osb_control '{"fail_next": 2}' >/dev/null
order db-500
cb_wait_state "$RID" active 10 && pass "two 500s are retried and the provision succeeds" || fail "db-500 ($GOT)"
assert_eq "$(osb_control | jq --arg id "$RID" '[.instances[] | select(.id == $id)] | length')" 1 \
        "exactly one instance for it"
cb_curl DELETE "/v1/resources/$RID" dev-edu
cb_wait_state "$RID" deleted 10 || fail "db-500 deleted ($GOT)"

# a 4xx is final, explained with the provider's description, and nothing is deleted
D0=$(osb_control | jq .deprovisions)
osb_control '{"refuse_next": 1}' >/dev/null
order db-400
cb_wait_state "$RID" failed 10 && pass "a 400 from the provider fails the provision" || fail "db-400 ($GOT)"
assert_contains "$(last_op_error "$RID")" "refused by the test provider" "the error carries the provider's description"
assert_eq "$(osb_control | jq .deprovisions)" "$D0" "no DELETE follows a refusal (nothing was built)"
assert_eq "$(ninst)" 0 "no instance"

# a provision the provider says failed: orphan mitigation deletes it
osb_control '{"async_ms": 300, "fail_provision": true}' >/dev/null
order db-failed
cb_wait_state "$RID" failed 10 && pass "a provision that fails at the provider fails" || fail "db-failed ($GOT)"
E=$(last_op_error "$RID")
assert_contains "$E" "could not provision" "the error says the provider could not provision"
assert_contains "$E" "deleted at the provider" "and that the instance was deleted (orphan mitigation)"
assert_eq "$(ninst)" 0 "no failed instance is left at the provider"
osb_control '{"reset": true}' >/dev/null

# a malformed answer: the outcome is unknown, so the instance is deleted
osb_control '{"malformed_provision": true}' >/dev/null
order db-malformed
cb_wait_state "$RID" failed 10 && pass "a provision answered with a malformed body fails" || fail "db-malformed ($GOT)"
assert_contains "$(last_op_error "$RID")" "not JSON" "the error says the answer was not JSON"
assert_eq "$(ninst)" 0 "and the instance the provider built is deleted (orphan mitigation)"
osb_control '{"malformed_provision": false}' >/dev/null

# orphan mitigation goes on until the provider confirms: its DELETEs fail (500) a while
osb_control '{"async_ms": 300, "fail_provision": true}' >/dev/null
order db-mitigate
for _ in $(seq 1 30); do [ "$(ninst)" = 1 ] && break; sleep 0.1; done
osb_control '{"fail_next": 4}' >/dev/null
sleep 1
cb_curl GET "/v1/resources/$RID" dev-edu
assert_jq "$CB_BODY" .state provisioning "while the provider fails the DELETEs, the resource is not yet failed"
cb_wait_state "$RID" failed 30 && pass "it fails once the provider confirms the deletion" || fail "db-mitigate ($GOT)"
assert_eq "$(ninst)" 0 "and nothing is left at the provider"
osb_control '{"reset": true}' >/dev/null

# a provider that does not finish within the plan's maximum_polling_duration (3 s)
osb_control '{"async_ms": 20000}' >/dev/null
order db-slow
sleep 0.5
osb_control '{"async_ms": 0}' >/dev/null
cb_wait_state "$RID" failed 15 && pass "a provision past maximum_polling_duration fails" || fail "db-slow ($GOT)"
assert_contains "$(last_op_error "$RID")" "within 3 s (maximum_polling_duration)" "the error names the limit"
assert_eq "$(ninst)" 0 "and the instance is deleted at the provider"

# a provider that forgets a deprovision: it answers done and keeps the instance
osb_control '{"forget_deprovision": true}' >/dev/null
order db-forget
cb_wait_state "$RID" active 10 || fail "db-forget active ($GOT)"
cb_curl DELETE "/v1/resources/$RID" dev-edu
cb_wait_state "$RID" failed 20 && pass "a deletion answered as done but not done ends failed, not deleted" ||
        fail "db-forget ($GOT)"
assert_contains "$(last_op_error "$RID")" "still has the instance" "the error says the provider still has it"
assert_eq "$(ninst)" 1 "(the instance is indeed still there: on record, not hidden)"
osb_control '{"forget_deprovision": false}' >/dev/null
cb_curl DELETE "/v1/resources/$RID" dev-edu
cb_wait_state "$RID" deleted 10 && pass "deleted again once the provider deletes" || fail "db-forget deleted ($GOT)"
assert_eq "$(ninst)" 0 "and nothing is left"

# a lost instance shows up at reconcile (every second here)
order db-lost
cb_wait_state "$RID" active 10 || fail "db-lost active ($GOT)"
osb_control "{\"lose\": \"$RID\"}" >/dev/null
cb_wait_state "$RID" failed 10 && pass "an instance the provider forgets is found at reconcile and marked failed" ||
        fail "db-lost ($GOT)"
cb_curl GET /v1/audit dev-auditor
assert_eq "$(printf %s "$CB_BODY" | jq -r --arg o "resource:$RID" '[.records[] | select(.object == $o and .action == "resource.lost")] | length')" 1 \
        "its loss is audited (resource.lost)"
cb_curl DELETE "/v1/resources/$RID" dev-edu
cb_wait_state "$RID" deleted 10 && pass "a lost resource can be deleted (the provider says gone)" || fail "db-lost deleted ($GOT)"

# a provider that hangs or drips runs into the request's time limit (this one: 1 s), is
# retried, and the provision completes once it answers again: one instance
cb_curl POST /v1/providers dev-operator "$(body '| .name = "slow-paas" | .timeout_seconds = 1')"
assert_eq "$CB_STATUS" 201 "a provider with a request time limit of 1 s is added"
cb_wait_provider slow-paas || fail "slow-paas connects"
cb_curl POST /v1/providers dev-operator "$(body '| .name = "x-paas" | .timeout_seconds = 0')"
assert_jq "$CB_BODY" .field timeout_seconds "a time limit of 0 is refused, naming timeout_seconds"
svc_slow() { svc slow-paas mysql-rds mysql-ha-2c4g-100g | jq -c '.id = "slow-db" | .name = "slow-db" | .plans[0].id = "slow-db-small"'; }
cb_curl POST /v1/catalog/services dev-operator "$(svc_slow)"
cb_curl POST /v1/catalog/services/slow-db/submit dev-operator
cb_curl POST /v1/catalog/services/slow-db/approve dev-authority
cb_curl POST /v1/catalog/services/slow-db/approve dev-finance
assert_jq "$CB_BODY" .status published "set-up: a service on slow-paas is published"
cb_approve edu-slow "临政信审〔$YEAR〕78号" edu-db '[{"service_id": "slow-db", "plan_id": "slow-db-small", "quantity": 4}]'
for sw in hang drip; do
        osb_control "{\"$sw\": true}" >/dev/null
        order slow edu-slow slow-db slow-db-small
        T0=$(date +%s%N)
        cb_curl GET /v1/health ""
        assert_eq "$CB_STATUS" 200 "the daemon serves while the provider does $sw"
        [ $((($(date +%s%N) - T0) / 1000000)) -lt 1000 ] && pass "at once" || fail "health was slow during $sw"
        sleep 2.5
        cb_curl GET "/v1/resources/$RID" dev-edu
        # A drip is cut off at 1 s; the retry of the PUT gets the short answer to a
        # repeat (200 {}), which a drip delivers in time: no state to assert then.
        [ "$sw" = hang ] && assert_jq "$CB_BODY" .state provisioning "a provision to a provider that hangs is retried"
        osb_control "{\"$sw\": false}" >/dev/null
        cb_wait_state "$RID" active 20 && pass "and completes once it answers again ($sw)" || fail "slow $sw ($GOT)"
        assert_eq "$(osb_control | jq --arg id "$RID" '[.instances[] | select(.id == $id)] | length')" 1 \
                "exactly one instance ($sw)"
        cb_curl DELETE "/v1/resources/$RID" dev-edu
        cb_wait_state "$RID" deleted 10 || fail "slow $sw deleted ($GOT)"
done
assert_eq "$(ninst)" 0 "nothing left after the hangs and drips"

# kill -9 during an asynchronous provision, then a restart: exactly one instance
osb_control '{"async_ms": 2500}' >/dev/null
order db-kill
for _ in $(seq 1 30); do [ "$(ninst)" = 1 ] && break; sleep 0.1; done
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
cb_start_daemon
cb_wait_state "$RID" active 20 && pass "after kill -9 and a restart the provision completes" || fail "db-kill ($GOT)"
assert_eq "$(osb_control | jq --arg id "$RID" '[.instances[] | select(.id == $id)] | length')" 1 \
        "exactly one instance at the provider"
assert_eq "$(ninst)" 1 "and no other"
osb_control '{"async_ms": 0}' >/dev/null
cb_curl DELETE "/v1/resources/$RID" dev-edu
cb_wait_state "$RID" deleted 10 || fail "db-kill deleted ($GOT)"
assert_eq "$(ninst)" 0 "no instance leaks: the provider holds none at the end"

# --- a restart: the stored provider comes back with its credentials ---------------
cb_restart_daemon
cb_wait_provider linfen-paas && pass "after a restart the stored provider connects again (its password stored)" ||
        fail "stored provider after restart ($CB_BODY)"
cb_curl GET /v1/providers dev-operator
assert_jq "$CB_BODY" '.providers[] | select(.name == "linfen-paas") | .source' api "from the store"

cb_stop_daemon
kill -TERM "$API_PID"
cb_done
