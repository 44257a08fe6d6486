#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bindings of http (OSB) resources with the real daemon and the test OSB
# provider (tests/osb-provider), both on 127.0.0.1: a department binds and
# unbinds its MySQL instance through POST/GET/DELETE /v1/resources/{id}/bindings
# (synchronous and asynchronous providers, last_operation polled), the
# credentials sealed at rest and shown only to that department, never in the
# audit trail; a provider that 500s, hangs or lies on bind (orphan
# mitigation: the binding is deleted again at the provider); a restart in the
# middle of an asynchronous bind; /v2 service_bindings of an http instance
# through the same core; and binding parameters: checked against the schema
# of the provider's plan, sent to it, sealed like credentials, on every face,
# and a plan the provider says is not bindable refused; and the parameters
# of an order (provisioning) the same way, through /v1 and /v2; and an
# update of an instance's parameters (nested schema, every face, a failed
# update leaving the parameters before it in force).
. tests/integration/lib.sh
cb_setup "$@"

cb_start_osb_provider --max-polling-duration 4
sed -e '/^providers = (/,/^);/d' -e "s#\"\.\./\.\./#\"$PWD/#g" tests/integration/test.conf >"$CB_TMP/bind.conf"
cat >>"$CB_TMP/bind.conf" <<EOF
providers = (
  { name = "dev-test"; driver = "libvirt"; uri = "test://$PWD/etc/test-node.xml"; },
  { name = "linfen-paas"; driver = "http"; url = "$OSB_URL"; username = "cb"; password = "cb-osb-secret";
    timeout_seconds = 2; }
);
EOF
CB_CONFIG=$CB_TMP/bind.conf
cb_start_bus
cb_start_daemon
cb_wait_provider linfen-paas || fail "the http provider connects ($CB_BODY)"

YEAR=$(date +%Y)
cb_add_system edu-db edu 2 false compliant 教育数据库
cb_approve edu-data "临政信审〔$YEAR〕91号" edu-db \
        '[{"service_id": "rds-mysql", "plan_id": "rds-mysql-2c4g", "quantity": 20}]'
order() {
        local body
        body=$(jq -nc --arg n "$1" '{project_id: "edu-data", system_id: "edu-db", service_id: "rds-mysql",
                plan_id: "rds-mysql-2c4g", name: $n}')
        for _ in $(seq 1 15); do
                cb_curl POST /v1/resources dev-edu "$body"
                [ "$CB_STATUS" = 503 ] || break
                sleep 0.2
        done
        RID=$(printf %s "$CB_BODY" | jq -r .id)
}
# bindings_at RID: the binding ids the provider holds for instance RID.
bindings_at() { osb_control | jq -c --arg id "$1" '[.instances[] | select(.id == $id) | .binding_ids[]] | sort'; }
# wait_binding RID BID STATE [SECONDS]: polls GET .../bindings/BID as edu.
wait_binding() {
        local n=$((${4:-10} * 10 * CB_SLOW))
        GOT=
        for _ in $(seq 1 "$n"); do
                cb_curl GET "/v1/resources/$1/bindings/$2" dev-edu
                GOT=$(printf %s "$CB_BODY" | jq -r .state 2>/dev/null || true)
                [ "$GOT" = "$3" ] && return 0
                sleep 0.1
        done
        return 1
}
sql() { sqlite3 "$CB_DB" "$1"; }

order db-bind
cb_wait_state "$RID" active || fail "set-up: db-bind active ($GOT)"

# --- synchronous -------------------------------------------------------------------
cb_curl POST "/v1/resources/$RID/bindings" dev-health '{}'
assert_eq "$CB_STATUS" 404 "another department cannot bind (the resource is unknown to it)"
cb_curl POST "/v1/resources/$RID/bindings" dev-operator '{}'
assert_eq "$CB_STATUS" 403 "an operator does not bind a department's resource"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"parameters": [1]}'
assert_eq "$CB_STATUS" 422 "parameters that are not an object are refused"
assert_jq "$CB_BODY" .field parameters "naming parameters"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu "$(jq -nc '{parameters: {blob: ("x" * 17000)}}')"
assert_eq "$CB_STATUS" 422 "parameters over the size bound are refused"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "at most 16384" "saying the bound"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"bogus": 1}'
assert_eq "$CB_STATUS" 422 "an unknown field is refused"
assert_eq "$(bindings_at "$RID")" "[]" "nothing was asked of the provider"

cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-1"}'
assert_eq "$CB_STATUS" 201 "a synchronous provider's binding is 201 at once"
BID=$(printf %s "$CB_BODY" | jq -r .id)
assert_jq "$CB_BODY" .state bound "bound"
assert_jq "$CB_BODY" .binding_id app-1 "under the department's key"
assert_jq "$CB_BODY" .credentials.password s3cret-test-only "with the provider's credentials"
assert_jq "$CB_BODY" .credentials.port 3306 "all of them"
assert_eq "$(bindings_at "$RID")" "[\"$BID\"]" "the provider holds the binding under the broker's id"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-1"}'
assert_eq "$CB_STATUS" 200 "the same request again is 200"
assert_jq "$CB_BODY" .id "$BID" "and answers the same binding"
assert_eq "$(osb_control | jq .binds)" 1 "without asking the provider again"

cb_curl GET "/v1/resources/$RID/bindings/$BID" dev-edu
assert_jq "$CB_BODY" .credentials.password s3cret-test-only "the department reads its credentials"
cb_curl GET "/v1/resources/$RID/bindings/$BID" dev-operator
assert_eq "$CB_STATUS" 200 "the operator sees the binding"
assert_jq "$CB_BODY" 'has("credentials")' false "but not its credentials"
cb_curl GET "/v1/resources/$RID/bindings/$BID" dev-health
assert_eq "$CB_STATUS" 404 "another department does not see it"
cb_curl GET "/v1/resources/$RID/bindings" dev-auditor
assert_jq "$CB_BODY" '.bindings | length' 1 "the auditor lists it"
assert_not_contains "$CB_BODY" s3cret-test-only "without credentials"
assert_eq "$(sql "SELECT count(*) FROM service_bindings WHERE credentials LIKE '%s3cret%'")" 0 \
        "the credentials are not in the database in clear"
assert_eq "$(sql "SELECT count(*) FROM service_bindings WHERE id = '$BID' AND credentials IS NOT NULL")" 1 \
        "they are there sealed"
cb_curl GET /v1/audit dev-auditor
assert_contains "$CB_BODY" resource.bind "the binding is audited"
assert_not_contains "$CB_BODY" s3cret-test-only "the audit trail holds no credential"
assert_jq "$CB_BODY" "[.records[] | select(.action == \"resource.bind\") | .detail.credential_fields | sort | join(\",\")] | last" \
        "host,password,port,username" "it names the credential fields only"
assert_not_contains "$(cat "$CB_TMP/daemon.log")" s3cret-test-only "the log holds no credential"

cb_curl DELETE "/v1/resources/$RID/bindings/$BID" dev-health
assert_eq "$CB_STATUS" 404 "another department cannot unbind"
cb_curl DELETE "/v1/resources/$RID/bindings/$BID" dev-edu
assert_eq "$CB_STATUS" 200 "unbinding at a synchronous provider is 200"
assert_jq "$CB_BODY" .state unbound "unbound"
assert_eq "$(bindings_at "$RID")" "[]" "the provider no longer holds it"
assert_eq "$(sql "SELECT count(*) FROM service_bindings WHERE id = '$BID' AND credentials IS NULL AND deleted_at IS NOT NULL")" 1 \
        "the credentials are dropped, the record stays"
cb_curl DELETE "/v1/resources/$RID/bindings/$BID" dev-edu
assert_eq "$CB_STATUS" 404 "unbinding again is 404"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-1"}'
assert_eq "$CB_STATUS" 409 "an unbound key is not reused"

# --- asynchronous --------------------------------------------------------------------
osb_control '{"bind_async_ms": 1200, "retry_after": 1}' >/dev/null
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-2"}'
assert_eq "$CB_STATUS" 202 "an asynchronous provider's binding is 202"
assert_jq "$CB_BODY" .state creating "creating"
assert_jq "$CB_BODY" 'has("credentials")' false "without credentials yet"
BID=$(printf %s "$CB_BODY" | jq -r .id)
wait_binding "$RID" "$BID" bound 10 && pass "bound once last_operation says succeeded" || fail "app-2 bound ($GOT)"
assert_jq "$CB_BODY" .credentials.username "$BID" "with the credentials fetched from the provider"
cb_curl DELETE "/v1/resources/$RID/bindings/$BID" dev-edu
assert_eq "$CB_STATUS" 202 "an asynchronous unbinding is 202"
assert_jq "$CB_BODY" .state unbinding "unbinding"
wait_binding "$RID" "$BID" unbound 10 && pass "and unbound once the provider says gone" || fail "app-2 unbound ($GOT)"
assert_eq "$(bindings_at "$RID")" "[]" "the provider holds no binding"
osb_control '{"reset": true}' >/dev/null

# --- a provider that 500s ------------------------------------------------------------
osb_control '{"fail_next": 2}' >/dev/null
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-500"}'
assert_eq "$CB_STATUS" 202 "a 500 on bind is retried (202 meanwhile)"
BID=$(printf %s "$CB_BODY" | jq -r .id)
wait_binding "$RID" "$BID" bound 10 && pass "and bound after two 500s" || fail "app-500 bound ($GOT)"
assert_eq "$(bindings_at "$RID")" "[\"$BID\"]" "exactly one binding at the provider"
cb_curl DELETE "/v1/resources/$RID/bindings/$BID" dev-edu
assert_eq "$CB_STATUS" 200 "unbound"

# --- a provider that lies on bind (not JSON): orphan mitigation ---------------------
osb_control '{"malformed_bind": true}' >/dev/null
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-lie"}'
BID=$(printf %s "$CB_BODY" | jq -r .id)
assert_eq "$CB_STATUS" 202 "a malformed answer is not taken for a binding (202: being cleaned up)"
wait_binding "$RID" "$BID" failed 10 && pass "the binding fails" || fail "app-lie failed ($GOT)"
assert_contains "$(printf %s "$CB_BODY" | jq -r .error)" "not JSON" "the error says the answer was not JSON"
assert_contains "$(printf %s "$CB_BODY" | jq -r .error)" "deleted at the provider" "and that it was deleted again"
assert_eq "$(bindings_at "$RID")" "[]" "no binding is left at the provider"
osb_control '{"reset": true}' >/dev/null

# --- a provider whose asynchronous binding fails -------------------------------------
osb_control '{"bind_async_ms": 300, "fail_bind": true}' >/dev/null
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-fail"}'
BID=$(printf %s "$CB_BODY" | jq -r .id)
wait_binding "$RID" "$BID" failed 10 && pass "a binding the provider says failed is failed" || fail "app-fail ($GOT)"
assert_contains "$(printf %s "$CB_BODY" | jq -r .error)" "injected failure" "with the provider's description"
assert_eq "$(bindings_at "$RID")" "[]" "and deleted at the provider (orphan mitigation)"
osb_control '{"reset": true}' >/dev/null

# --- a provider that hangs on bind ---------------------------------------------------
osb_control '{"hang": true}' >/dev/null
T0=$(date +%s)
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-hang"}'
T1=$(date +%s)
BID=$(printf %s "$CB_BODY" | jq -r .id)
assert_eq "$CB_STATUS" 202 "a hanging provider is timed out (202: retried)"
[ $((T1 - T0)) -le 4 ] && pass "the request is answered after the provider's time limit ($((T1 - T0)) s)" ||
        fail "the bind request took $((T1 - T0)) s"
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "the daemon serves meanwhile"
osb_control '{"hang": false}' >/dev/null
wait_binding "$RID" "$BID" bound 20 && pass "once the provider answers, it is bound" || fail "app-hang ($GOT)"
assert_eq "$(bindings_at "$RID")" "[\"$BID\"]" "exactly one binding at the provider"
cb_curl DELETE "/v1/resources/$RID/bindings/$BID" dev-edu
assert_eq "$(bindings_at "$RID")" "[]" "unbound"

# --- a restart in the middle of an asynchronous bind ---------------------------------
osb_control '{"bind_async_ms": 2500}' >/dev/null
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "app-kill"}'
BID=$(printf %s "$CB_BODY" | jq -r .id)
assert_jq "$CB_BODY" .state creating "set-up: an asynchronous binding under way"
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
cb_start_daemon
wait_binding "$RID" "$BID" bound 15 && pass "after kill -9 and a restart the binding is resumed and bound" ||
        fail "app-kill after restart ($GOT)"
assert_eq "$(bindings_at "$RID")" "[\"$BID\"]" "exactly one binding at the provider"
assert_jq "$CB_BODY" .credentials.password s3cret-test-only "its credentials open after the restart"
osb_control '{"reset": true}' >/dev/null
cb_curl DELETE "/v1/resources/$RID/bindings/$BID" dev-edu

# --- D-Bus and cloudbrokerctl: the same core ------------------------------------------
CTL=$CB_BUILD/cloudbrokerctl
ctl() {
        local uid=$1
        shift
        RC=0
        as_uid "$uid" "$CTL" --bus-address="$CB_BUS_ADDRESS" --json "$@" >"$CB_TMP/ctl.out" 2>"$CB_TMP/ctl.err" || RC=$?
        OUT=$(cat "$CB_TMP/ctl.out")
        ERR=$(cat "$CB_TMP/ctl.err")
}
RPATH=/org/cloudbroker/Broker1/resource/$(printf %s "$RID" | sed 's/-/_2d/g')
ok 1001 "D-Bus Bind as edu" "$RPATH" org.cloudbroker.Broker1.Resource Bind s bus-1
DBID=$(printf %s "$OUT" | jq -r '.[0] | fromjson | .id')
assert_jq "$(printf %s "$OUT" | jq -r '.[0]')" .state bound "Bind answers the binding, bound"
assert_jq "$(printf %s "$OUT" | jq -r '.[0]')" .credentials.password s3cret-test-only "with its credentials"
refused 1004 org.freedesktop.DBus.Error.UnknownObject "another department does not even see the object to Bind" "$RPATH" \
        org.cloudbroker.Broker1.Resource.Bind string:bus-x
ok 1005 "D-Bus ListBindings as the auditor" "$RPATH" org.cloudbroker.Broker1.Resource ListBindings
assert_not_contains "$OUT" s3cret-test-only "ListBindings shows no credentials"
ctl 1001 resource binding "$RID" "$DBID"
assert_eq "$RC" 0 "cloudbrokerctl resource binding"
assert_jq "$OUT" .credentials.port 3306 "shows the department its credentials"
ctl 0 resource binding "$RID" "$DBID"
assert_jq "$OUT" 'has("credentials")' false "and the operator none"
ctl 1001 resource bindings "$RID"
assert_jq "$OUT" "[.[] | select(.id == \"$DBID\")] | length" 1 "cloudbrokerctl resource bindings lists it"
ctl 1001 resource unbind "$RID" "$DBID"
assert_eq "$RC" 0 "cloudbrokerctl resource unbind"
assert_jq "$OUT" .state unbound "unbound"
ctl 1001 resource bind "$RID" ctl-1
assert_jq "$OUT" .state bound "cloudbrokerctl resource bind"
CBID=$(printf %s "$OUT" | jq -r .id)
ok 1001 "D-Bus Unbind" "$RPATH" org.cloudbroker.Broker1.Resource Unbind s "$CBID"
assert_eq "$(bindings_at "$RID")" "[]" "no binding left at the provider"

# --- /v2 service_bindings of an http instance: the same core --------------------------
V2=(-u osb:dev-osb -H "X-Broker-API-Version: 2.17")
IID=v2-db-1
PUT_BODY=$(jq -nc '{service_id: "rds-mysql", plan_id: "rds-mysql-2c4g", organization_guid: "edu",
        space_guid: "edu-data", context: {platform: "cloudfoundry", system_id: "edu-db"}}')
cb_curl PUT "/v2/service_instances/$IID?accepts_incomplete=true" "" "$PUT_BODY" "${V2[@]}"
case "$CB_STATUS" in 201 | 202) pass "set-up: an http instance through /v2 ($CB_STATUS)" ;; *) fail "v2 PUT: $CB_STATUS $CB_BODY" ;; esac
for _ in $(seq 1 100); do
        cb_curl GET "/v2/service_instances/$IID/last_operation" "" "" "${V2[@]}"
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = succeeded ] && break
        sleep 0.1
done
B=$(jq -nc '{service_id: "rds-mysql", plan_id: "rds-mysql-2c4g"}')
cb_curl PUT "/v2/service_instances/$IID/service_bindings/pb-1" "" "$B" "${V2[@]}"
assert_eq "$CB_STATUS" 422 "an http binding without accepts_incomplete is 422"
assert_jq "$CB_BODY" .error AsyncRequired "AsyncRequired"
cb_curl PUT "/v2/service_instances/$IID/service_bindings/pb-1?accepts_incomplete=true" "" "$B" "${V2[@]}"
assert_eq "$CB_STATUS" 201 "a binding the provider makes at once is 201"
assert_jq "$CB_BODY" .credentials.password s3cret-test-only "with the provider's credentials"
cb_curl PUT "/v2/service_instances/$IID/service_bindings/pb-1?accepts_incomplete=true" "" "$B" "${V2[@]}"
assert_eq "$CB_STATUS" 200 "an identical repeat is 200"
cb_curl GET "/v2/service_instances/$IID/service_bindings/pb-1" "" "" "${V2[@]}"
assert_jq "$CB_BODY" .credentials.port 3306 "GET answers the credentials"
cb_curl GET "/v2/service_instances/$IID/service_bindings/pb-1" "" "" -u city:city-osb -H "X-Broker-API-Version: 2.17"
assert_eq "$CB_STATUS" 404 "another platform does not see it"
cb_curl GET /v1/resources dev-edu
V2RID=$(printf %s "$CB_BODY" | jq -r '.resources[] | select(.state == "active" and .name != "db-bind") | .id' | head -1)
cb_curl GET "/v1/resources/$V2RID/bindings" dev-edu
assert_jq "$CB_BODY" '[.bindings[] | select(.binding_id == "pb-1")] | length' 1 \
        "the /v2 binding is the same record /v1 lists"
osb_control '{"bind_async_ms": 500}' >/dev/null
cb_curl PUT "/v2/service_instances/$IID/service_bindings/pb-2?accepts_incomplete=true" "" "$B" "${V2[@]}"
assert_eq "$CB_STATUS" 202 "an asynchronous binding is 202"
assert_jq "$CB_BODY" .operation bind "with an operation"
for _ in $(seq 1 50); do
        cb_curl GET "/v2/service_instances/$IID/service_bindings/pb-2/last_operation" "" "" "${V2[@]}"
        [ "$(printf %s "$CB_BODY" | jq -r .state)" != "in progress" ] && break
        sleep 0.1
done
assert_jq "$CB_BODY" .state succeeded "its last_operation ends succeeded"
cb_curl DELETE "/v2/service_instances/$IID/service_bindings/pb-2?service_id=rds-mysql&plan_id=rds-mysql-2c4g&accepts_incomplete=true" \
        "" "" "${V2[@]}"
assert_eq "$CB_STATUS" 202 "an asynchronous unbind is 202"
for _ in $(seq 1 50); do
        cb_curl GET "/v2/service_instances/$IID/service_bindings/pb-2/last_operation" "" "" "${V2[@]}"
        [ "$(printf %s "$CB_BODY" | jq -r .state)" != "in progress" ] && break
        sleep 0.1
done
assert_jq "$CB_BODY" .state succeeded "the unbind's last_operation ends succeeded"
osb_control '{"reset": true}' >/dev/null
cb_curl DELETE "/v2/service_instances/$IID/service_bindings/pb-1?service_id=rds-mysql&plan_id=rds-mysql-2c4g&accepts_incomplete=true" \
        "" "" "${V2[@]}"
assert_eq "$CB_STATUS" 200 "a synchronous unbind is 200"
cb_curl DELETE "/v2/service_instances/$IID/service_bindings/pb-1?service_id=rds-mysql&plan_id=rds-mysql-2c4g&accepts_incomplete=true" \
        "" "" "${V2[@]}"
assert_eq "$CB_STATUS" 410 "again is 410"
assert_eq "$(bindings_at "$V2RID")" "[]" "no binding left at the provider"

# --- parameters, held against the schema of the provider's plan ------------------------
# The broker reads a provider's catalogue when it connects: switch the schema on, restart.
SECRET=pw-SECRET-param-77
osb_control '{"binding_schema": true, "instance_schema": true}' >/dev/null
cb_restart_daemon
cb_wait_provider linfen-paas || fail "the provider connects again ($CB_BODY)"
# params_at RID BID: what the provider received with binding BID.
params_at() { osb_control | jq -c --arg id "$1" --arg b "$2" '.instances[] | select(.id == $id) | .binding_parameters[$b]'; }
nrows() { sql "SELECT count(*) FROM service_bindings"; }
ROWS=$(nrows)
BINDS=$(osb_control | jq .binds)
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "p-bad", "parameters": {"app_name": 5}}'
assert_eq "$CB_STATUS" 422 "a parameter of the wrong type is 422"
assert_jq "$CB_BODY" .field parameters.app_name "naming the parameter"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "string" "and the type it must have"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu \
        "{\"binding_id\": \"p-bad\", \"parameters\": {\"app_name\": \"oa\", \"admin\": \"$SECRET\"}}"
assert_eq "$CB_STATUS" 422 "a parameter the schema does not list is 422 (additionalProperties: false)"
assert_jq "$CB_BODY" .field parameters.admin "naming it"
assert_not_contains "$CB_BODY" "$SECRET" "the refusal does not repeat the value"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "p-bad"}'
assert_eq "$CB_STATUS" 422 "a required parameter missing is 422"
assert_jq "$CB_BODY" .field parameters.app_name "naming it"
# The provider's pattern for app_name takes Chinese characters, not a space
# (ECMA-262's \u4e00-\u9fa5, judged a character at a time).
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "p-bad", "parameters": {"app_name": "教育 门户"}}'
assert_eq "$CB_STATUS" 422 "an app_name outside the schema's pattern (a space between Chinese words) is 422"
assert_jq "$CB_BODY" .field parameters.app_name "naming it"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "pattern" "and the pattern as what failed"
# format: an address the schema says is IPv4 and is not.
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "p-bad", "parameters": {"app_name": "oa", "client_ip": "10.0.0.300"}}'
assert_eq "$CB_STATUS" 422 "a client_ip that is not an IPv4 address (the schema's format) is 422"
assert_jq "$CB_BODY" .field parameters.client_ip "naming it"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "IPv4 address (dotted decimal) (format)" "and the format as what failed"
assert_eq "$(nrows)" "$ROWS" "nothing was written for the refused requests"
assert_eq "$(osb_control | jq .binds)" "$BINDS" "nothing was sent to the provider"

P1=$(jq -nc --arg s "$SECRET" '{app_name: "教育门户-oa", read_only: true, db_password: $s, client_ip: "10.0.0.9"}')
cb_curl POST "/v1/resources/$RID/bindings" dev-edu "{\"binding_id\": \"p-1\", \"parameters\": $P1}"
assert_eq "$CB_STATUS" 201 "parameters the schema takes bind (201)"
PBID=$(printf %s "$CB_BODY" | jq -r .id)
assert_eq "$(params_at "$RID" "$PBID")" "$(printf %s "$P1" | jq -c .)" "the provider received the parameters"
cb_curl GET "/v1/resources/$RID/bindings/$PBID" dev-edu
assert_jq "$CB_BODY" .parameters.app_name 教育门户-oa "the department reads them back with the binding (a Chinese name the pattern takes)"
cb_curl GET "/v1/resources/$RID/bindings/$PBID" dev-operator
assert_jq "$CB_BODY" 'has("parameters")' false "the operator does not"
cb_curl GET "/v1/resources/$RID/bindings" dev-edu
assert_jq "$CB_BODY" '[.bindings[] | select(has("credentials") or has("parameters"))] | length' 0 \
        "the listing holds neither credentials nor parameters, not even for the department"
assert_not_contains "$CB_BODY" "$SECRET" "no parameter value in the listing"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu "{\"binding_id\": \"p-1\", \"parameters\": $P1}"
assert_eq "$CB_STATUS" 200 "the same request with the same parameters again is 200"
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "p-1", "parameters": {"app_name": "other"}}'
assert_eq "$CB_STATUS" 409 "the same key with other parameters conflicts"
# params_secret TABLE WHERE NAME ACTION NAMES WHAT: the parameters (one named NAME, one
# holding $SECRET) are sealed in TABLE's row WHERE, and neither the database, the
# audit trail (ACTION's record names NAMES) nor the log shows a value.
params_secret() {
        assert_eq "$(sql "SELECT count(*) FROM $1 WHERE parameters LIKE '%$SECRET%' OR parameters LIKE '%$3%'")" 0 \
                "$6: the parameters are not in the database in clear"
        assert_eq "$(sql "SELECT count(*) FROM $1 WHERE $2 AND parameters IS NOT NULL")" 1 "$6: they are there sealed"
        cb_curl GET /v1/audit dev-auditor
        assert_not_contains "$CB_BODY" "$SECRET" "$6: the audit trail holds no parameter value"
        assert_jq "$CB_BODY" "[.records[] | select(.action == \"$4\") | .detail.parameter_names | select(. != null) | sort | join(\",\")] | last" \
                "$5" "$6: $4 names the parameters only"
        assert_not_contains "$(cat "$CB_TMP/daemon.log")" "$SECRET" "$6: the log holds no parameter value"
}
params_secret service_bindings "id = '$PBID'" app_name resource.bind_request app_name,client_ip,db_password,read_only binding

# D-Bus and cloudbrokerctl: the same check and the same path to the provider.
ok 1001 "D-Bus BindWithParameters" "$RPATH" org.cloudbroker.Broker1.Resource BindWithParameters ss bus-p \
        '{"app_name": "bus-app"}'
DBID=$(printf %s "$OUT" | jq -r '.[0] | fromjson | .id')
assert_jq "$(printf %s "$OUT" | jq -r '.[0]')" .state bound "BindWithParameters answers the binding, bound"
assert_eq "$(params_at "$RID" "$DBID")" '{"app_name":"bus-app"}' "the provider received the D-Bus parameters"
refused 1001 InvalidField "D-Bus: a parameter the schema refuses is InvalidField" "$RPATH" \
        org.cloudbroker.Broker1.Resource.BindWithParameters string:bus-bad 'string:{"app_name": true}'
assert_contains "$ERR" parameters.app_name "naming the parameter"
refused 1001 InvalidField "D-Bus: parameters that are not JSON are InvalidField" "$RPATH" \
        org.cloudbroker.Broker1.Resource.BindWithParameters string:bus-bad "string:{$SECRET"
assert_not_contains "$ERR" "$SECRET" "without repeating the text"
printf '{"app_name": "ctl-app", "db_password": "%s"}' "$SECRET" >"$CB_TMP/params.json"
ctl 1001 resource bind "$RID" ctl-p - <"$CB_TMP/params.json"
assert_eq "$RC" 0 "cloudbrokerctl resource bind ID KEY - (parameters on standard input) ($ERR)"
CBID=$(printf %s "$OUT" | jq -r .id)
assert_jq "$(params_at "$RID" "$CBID")" .app_name ctl-app "the provider received the parameters from the file"
printf '{"app_name": "ctl-app", "extra": 1}' >"$CB_TMP/params-bad.json"
ctl 1001 resource bind "$RID" ctl-bad - <"$CB_TMP/params-bad.json"
assert_eq "$RC" 1 "cloudbrokerctl: a parameter the schema refuses fails"
assert_contains "$ERR" parameters.extra "naming it"
assert_eq "$(sql "SELECT count(*) FROM service_bindings WHERE binding_key IN ('bus-bad', 'ctl-bad')")" 0 \
        "nothing written for the refused D-Bus and ctl requests"

# /v2: a platform's parameters go the same way; a refusal is OSB's 400.
cb_curl PUT "/v2/service_instances/$IID/service_bindings/pb-3?accepts_incomplete=true" "" \
        '{"service_id": "rds-mysql", "plan_id": "rds-mysql-2c4g", "parameters": {"app_name": "cf-app"}}' "${V2[@]}"
assert_eq "$CB_STATUS" 201 "/v2 binding with parameters is 201"
V2BID=$(sql "SELECT id FROM service_bindings WHERE binding_key = 'pb-3'")
assert_eq "$(params_at "$V2RID" "$V2BID")" '{"app_name":"cf-app"}' "the provider received the platform's parameters"
cb_curl PUT "/v2/service_instances/$IID/service_bindings/pb-4?accepts_incomplete=true" "" \
        '{"service_id": "rds-mysql", "plan_id": "rds-mysql-2c4g", "parameters": {"app_name": 1}}' "${V2[@]}"
assert_eq "$CB_STATUS" 400 "/v2: parameters the schema refuses are 400"
assert_jq "$CB_BODY" .error BadRequest "BadRequest"
assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" parameters.app_name "naming the parameter"
for b in "$PBID" "$DBID" "$CBID"; do cb_curl DELETE "/v1/resources/$RID/bindings/$b" dev-edu; done
assert_eq "$(sql "SELECT count(*) FROM service_bindings WHERE id IN ('$PBID', '$DBID', '$CBID') AND parameters IS NULL")" 3 \
        "an unbound binding keeps no parameters"

# --- an order's parameters (provisioning), held against the plan's instance schema -------
# order_p NAME PARAMS [KEY]: POST /v1/resources of a MySQL instance with parameters.
order_p() {
        local body
        body=$(jq -nc --arg n "$1" --argjson p "$2" '{project_id: "edu-data", system_id: "edu-db",
                service_id: "rds-mysql", plan_id: "rds-mysql-2c4g", name: $n, parameters: $p}')
        cb_curl POST /v1/resources dev-edu "$body" ${3:+-H "Idempotency-Key: $3"}
}
nres() { sql "SELECT count(*) FROM resources"; }
RES=$(nres)
PROVS=$(osb_control | jq .provisions)
order_p db-p-bad '{"charset": "latin1"}'
assert_eq "$CB_STATUS" 422 "an order parameter outside the schema's enum is 422"
assert_jq "$CB_BODY" .field parameters.charset "naming the parameter"
order_p db-p-bad "{\"charset\": \"gbk\", \"root\": \"$SECRET\"}"
assert_eq "$CB_STATUS" 422 "an order parameter the schema does not list is 422"
assert_jq "$CB_BODY" .field parameters.root "naming it"
assert_not_contains "$CB_BODY" "$SECRET" "without its value"
order_p db-p-bad '"utf8"'
assert_eq "$CB_STATUS" 422 "order parameters that are not an object are 422"
assert_jq "$CB_BODY" .field parameters "naming parameters"
assert_eq "$(nres)" "$RES" "no resource was written for the refused orders"
assert_eq "$(osb_control | jq .provisions)" "$PROVS" "nothing was sent to the provider"
OP1=$(jq -nc --arg s "$SECRET" '{charset: "utf8mb4", admin_password: $s}')
order_p db-p "$OP1" order-p-1
assert_eq "$CB_STATUS" 202 "an order with parameters the schema takes is accepted"
PRID=$(printf %s "$CB_BODY" | jq -r .id)
cb_wait_state "$PRID" active || fail "db-p active ($GOT)"
assert_eq "$(osb_control | jq -cS --arg id "$PRID" '.instances[] | select(.id == $id) | .parameters')" \
        "$(printf %s "$OP1" | jq -cS .)" "the provider received the order's parameters"
order_p db-p "$OP1" order-p-1
assert_jq "$CB_BODY" .id "$PRID" "the same order again (Idempotency-Key) answers the same resource"
order_p db-p '{"charset": "gbk"}' order-p-1
assert_eq "$CB_STATUS" 409 "the same key with other parameters conflicts"
params_secret operations "resource_id = '$PRID'" charset resource.request admin_password,charset order
V2P=$(jq -nc '{service_id: "rds-mysql", plan_id: "rds-mysql-2c4g", organization_guid: "edu",
        space_guid: "edu-data", context: {platform: "cloudfoundry", system_id: "edu-db"}, parameters: {charset: "gbk"}}')
cb_curl PUT "/v2/service_instances/v2-db-p?accepts_incomplete=true" "" "$V2P" "${V2[@]}"
case "$CB_STATUS" in 201 | 202) pass "/v2 instance with parameters ($CB_STATUS)" ;; *) fail "v2 PUT with parameters: $CB_STATUS $CB_BODY" ;; esac
V2PRID=$(sql "SELECT id FROM resources WHERE idempotency_key = 'v2-db-p'")
assert_eq "$(osb_control | jq -c --arg id "$V2PRID" '.instances[] | select(.id == $id) | .parameters')" \
        '{"charset":"gbk"}' "the provider received the platform's parameters"
cb_curl PUT "/v2/service_instances/v2-db-pbad?accepts_incomplete=true" "" \
        "$(printf %s "$V2P" | jq -c '.parameters = {charset: 1}')" "${V2[@]}"
assert_eq "$CB_STATUS" 400 "/v2: order parameters the schema refuses are 400"
assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" parameters.charset "naming the parameter"
assert_eq "$(sql "SELECT count(*) FROM resources WHERE idempotency_key = 'v2-db-pbad'")" 0 "and nothing is written"

# --- an update of an instance's parameters (and plan): one core on every face --------
# Against the provider's schemas.service_instance.update.parameters, nested (backup:
# {window, retention_days}); a refusal sends and writes nothing; a failed update leaves
# the parameters before it in force.
# wait_op OP: polls GET /v1/operations/OP until it ends; GOT its state.
wait_op() {
        GOT=
        for _ in $(seq 1 $((100 * CB_SLOW))); do
                cb_curl GET "/v1/operations/$1" dev-edu
                GOT=$(printf %s "$CB_BODY" | jq -r .state)
                case "$GOT" in succeeded | failed) return 0 ;; esac
                sleep 0.1
        done
        return 1
}
update_at() { osb_control | jq -cS --arg id "$1" '.instances[] | select(.id == $id) | .update'; }
nops() { sql "SELECT count(*) FROM operations WHERE resource_id = '$1'"; }
# in_force RID: the operation whose parameters are the instance's (its latest succeeded one that had some).
in_force() {
        sql "SELECT id FROM operations WHERE resource_id = '$1' AND parameters IS NOT NULL AND state = 'succeeded'
             ORDER BY created_at DESC, rowid DESC LIMIT 1"
}
UPDATES=$(osb_control | jq .updates)
OPS=$(nops "$PRID")
BEFORE=$(in_force "$PRID")
cb_curl POST "/v1/resources/$PRID/resize" dev-edu '{"parameters": {"backup": {"window": "02:00", "retention_days": "7"}}}'
assert_eq "$CB_STATUS" 422 "update: a nested parameter of the wrong type is 422"
assert_jq "$CB_BODY" .field parameters.backup.retention_days "naming its path"
cb_curl POST "/v1/resources/$PRID/resize" dev-edu '{"parameters": {"backup": {"retention_days": 7}}}'
assert_eq "$CB_STATUS" 422 "update: a nested required parameter missing is 422"
assert_jq "$CB_BODY" .field parameters.backup.window "naming its path"
cb_curl POST "/v1/resources/$PRID/resize" dev-edu '{"parameters": {"backup": {"window": "02:00", "retention_days": 90}}}'
assert_eq "$CB_STATUS" 422 "update: a number over the schema's maximum is 422"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "maximum 35" "saying the bound"
cb_curl POST "/v1/resources/$PRID/resize" dev-edu "{\"parameters\": {\"root\": \"$SECRET\"}}"
assert_eq "$CB_STATUS" 422 "update: a parameter the update schema does not list is 422"
assert_jq "$CB_BODY" .field parameters.root "naming it"
assert_not_contains "$CB_BODY" "$SECRET" "without its value"
cb_curl POST "/v1/resources/$PRID/resize" dev-edu '{"parameters": {"charset": "gbk"}, "bogus": 1}'
assert_eq "$CB_STATUS" 422 "update: an unknown field of the body is 422"
cb_curl POST "/v1/resources/$PRID/resize" dev-edu '{}'
assert_eq "$CB_STATUS" 422 "update: neither plan_id nor parameters is 422"
assert_jq "$CB_BODY" .field plan_id "naming plan_id"
cb_curl POST "/v1/resources/$PRID/resize" dev-edu '{"parameters": [1]}'
assert_eq "$CB_STATUS" 422 "update: parameters that are not an object are 422"
assert_jq "$CB_BODY" .field parameters "naming parameters"
assert_eq "$(osb_control | jq .updates)" "$UPDATES" "update: nothing was sent to the provider for the refusals"
assert_eq "$(nops "$PRID")" "$OPS" "update: no operation was written for them"

UP1=$(jq -nc --arg s "$SECRET" '{charset: "gbk", admin_password: $s, backup: {window: "02:00-03:00", retention_days: 7}}')
cb_curl POST "/v1/resources/$PRID/resize" dev-edu "{\"parameters\": $UP1}"
assert_eq "$CB_STATUS" 202 "update: parameters alone, which the update schema takes, are 202"
UOP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$UOP"
assert_eq "$GOT" succeeded "update: the operation succeeds"
assert_eq "$(update_at "$PRID" | jq -cS .parameters)" "$(printf %s "$UP1" | jq -cS .)" "update: the provider received the parameters"
assert_eq "$(update_at "$PRID" | jq -r .plan_id)" null "update: and no plan_id (the plan stays)"
assert_eq "$(update_at "$PRID" | jq -r .previous_values.plan_id)" mysql-ha-2c4g-100g "update: with the plan as previous_values"
cb_curl GET "/v1/resources/$PRID" dev-edu
assert_jq "$CB_BODY" .plan_id rds-mysql-2c4g "update: the record stays on its plan"
assert_eq "$(in_force "$PRID")" "$UOP" "update: its parameters are the instance's now"
params_secret operations "id = '$UOP'" backup resource.update admin_password,backup,charset update

# A provider that fails the update: the record (plan, parameters in force) is unchanged.
osb_control '{"async_ms": 300, "fail_update": true}' >/dev/null
cb_curl POST "/v1/resources/$PRID/resize" dev-edu '{"parameters": {"charset": "utf8mb4"}}'
assert_eq "$CB_STATUS" 202 "update: one the provider will fail is accepted (202)"
FOP=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$FOP"
assert_eq "$GOT" failed "update: the operation the provider fails is failed"
assert_eq "$(update_at "$PRID" | jq -c .parameters)" '{"charset":"utf8mb4"}' "update: (the provider was asked)"
assert_eq "$(in_force "$PRID")" "$UOP" "update: the parameters before it are still in force"
cb_curl GET "/v1/resources/$PRID" dev-edu
assert_jq "$CB_BODY" .plan_id rds-mysql-2c4g "update: the plan is unchanged"
assert_jq "$CB_BODY" .state active "update: still active"
osb_control '{"async_ms": 0, "fail_update": false}' >/dev/null

# D-Bus UpdateResource and cloudbrokerctl resource update: the same core.
ok 1001 "update: D-Bus UpdateResource (parameters only)" /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Resources \
        UpdateResource sss "$PRID" "" '{"backup": {"window": "bus"}}'
BOP=$(printf %s "$OUT" | jq -r '.[0]')
wait_op "$BOP"
assert_eq "$GOT" succeeded "update: the D-Bus update succeeds"
assert_eq "$(update_at "$PRID" | jq -c .parameters)" '{"backup":{"window":"bus"}}' "update: the provider received the D-Bus parameters"
UPDATES=$(osb_control | jq .updates)
refused 1001 InvalidField "update: D-Bus, a nested parameter the schema refuses is InvalidField" /org/cloudbroker/Broker1 \
        org.cloudbroker.Broker1.Resources.UpdateResource "string:$PRID" string: 'string:{"backup": {"window": 1}}'
assert_contains "$ERR" parameters.backup.window "naming its path"
printf '{"backup": {"window": "ctl", "retention_days": 3}}' >"$CB_TMP/up.json"
ctl 1001 resource update "$PRID" - <"$CB_TMP/up.json"
assert_eq "$RC" 0 "update: cloudbrokerctl resource update ID - ($ERR)"
wait_op "$(printf %s "$OUT" | jq -r .operation_id)"
assert_eq "$(update_at "$PRID" | jq -c .parameters)" '{"backup":{"retention_days":3,"window":"ctl"}}' \
        "update: the provider received the parameters from standard input"
UPDATES=$(osb_control | jq .updates)
printf '{"backup": {"window": "this is far too long"}}' >"$CB_TMP/up-bad.json"
ctl 1001 resource update "$PRID" "$CB_TMP/up-bad.json"
assert_eq "$RC" 1 "update: cloudbrokerctl, a parameter the schema refuses fails"
assert_contains "$ERR" parameters.backup.window "naming it"
assert_eq "$(osb_control | jq .updates)" "$UPDATES" "update: nothing sent for the refused D-Bus and ctl updates"

# /v2 PATCH: plan_id is optional, the parameters go the same way; a refusal is 400.
cb_curl PATCH "/v2/service_instances/v2-db-p?accepts_incomplete=true" "" \
        '{"service_id": "rds-mysql", "parameters": {"backup": {"window": 7}}}' "${V2[@]}"
assert_eq "$CB_STATUS" 400 "/v2 PATCH: parameters the update schema refuses are 400"
assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" parameters.backup.window "naming the path"
assert_eq "$(osb_control | jq .updates)" "$UPDATES" "/v2 PATCH: nothing sent for the refusal"
cb_curl PATCH "/v2/service_instances/v2-db-p?accepts_incomplete=true" "" \
        '{"service_id": "rds-mysql", "parameters": {"backup": {"window": "v2"}}}' "${V2[@]}"
assert_eq "$CB_STATUS" 202 "/v2 PATCH with parameters only is 202"
wait_op "$(printf %s "$CB_BODY" | jq -r .operation)"
assert_eq "$GOT" succeeded "/v2 PATCH: the update succeeds"
assert_eq "$(update_at "$V2PRID" | jq -c .parameters)" '{"backup":{"window":"v2"}}' "/v2 PATCH: the provider received the parameters"

# --- an update is judged by the policy engine, in place ------------------------------
# A project approved for exactly two instances, one ordered by the department and one
# by a platform: updating one's parameters is not a third (Art. 20 counts resources,
# not changes); once the authority suspends the project, an update is refused with its
# article on every face and nothing is sent.
cb_approve edu-one "临政信审〔$YEAR〕92号" edu-db \
        '[{"service_id": "rds-mysql", "plan_id": "rds-mysql-2c4g", "quantity": 2}]'
cb_curl POST /v1/resources dev-edu '{"project_id": "edu-one", "system_id": "edu-db", "service_id": "rds-mysql",
        "plan_id": "rds-mysql-2c4g", "name": "db-one"}'
assert_eq "$CB_STATUS" 202 "set-up: the department's instance is ordered"
ONE=$(printf %s "$CB_BODY" | jq -r .id)
cb_wait_state "$ONE" active || fail "db-one active ($GOT)"
cb_curl PUT "/v2/service_instances/v2-one?accepts_incomplete=true" "" \
        "$(printf %s "$V2P" | jq -c '.space_guid = "edu-one" | del(.parameters)')" "${V2[@]}"
case "$CB_STATUS" in 201 | 202) pass "set-up: the platform's instance is ordered ($CB_STATUS)" ;; *) fail "v2-one: $CB_STATUS $CB_BODY" ;; esac
V2ONE=$(sql "SELECT id FROM resources WHERE idempotency_key = 'v2-one'")
cb_wait_state "$V2ONE" active || fail "v2-one active ($GOT)"
cb_curl POST /v1/resources dev-edu '{"project_id": "edu-one", "system_id": "edu-db", "service_id": "rds-mysql",
        "plan_id": "rds-mysql-2c4g", "name": "db-three"}'
assert_eq "$CB_STATUS" 403 "a third instance is over the approved quantity"
assert_jq "$CB_BODY" '[.violations[].code] | index("QUANTITY_EXCEEDED") != null' true "QUANTITY_EXCEEDED"
cb_curl POST "/v1/resources/$ONE/resize" dev-edu '{"parameters": {"backup": {"window": "one"}}}'
assert_eq "$CB_STATUS" 202 "update in place: an instance the approval's two slots hold may change its parameters ($CB_BODY)"
wait_op "$(printf %s "$CB_BODY" | jq -r .operation_id)"
assert_eq "$GOT" succeeded "update in place: it succeeds"
cb_curl PATCH "/v2/service_instances/v2-one?accepts_incomplete=true" "" \
        '{"service_id": "rds-mysql", "parameters": {"backup": {"window": "v2one"}}}' "${V2[@]}"
assert_eq "$CB_STATUS" 202 "/v2 update in place: 202 ($CB_BODY)"
wait_op "$(printf %s "$CB_BODY" | jq -r .operation)"
assert_eq "$GOT" succeeded "/v2 update in place: it succeeds"
cb_curl POST /v1/projects/edu-one/suspend dev-authority '{"reason": "整改"}'
assert_eq "$CB_STATUS" 200 "set-up: the authority suspends edu-one"
UPDATES=$(osb_control | jq .updates)
OPS=$(nops "$ONE")
cb_curl POST "/v1/resources/$ONE/resize" dev-edu '{"parameters": {"backup": {"window": "two"}}}'
assert_eq "$CB_STATUS" 403 "update of a suspended project's instance: refused (403)"
assert_jq "$CB_BODY" '[.violations[] | select(.code == "PROJECT_SUSPENDED" and .article == 28)] | length' 1 \
        "naming PROJECT_SUSPENDED, Art. 28"
assert_eq "$(nops "$ONE")" "$OPS" "update refused: no operation written"
assert_eq "$(sql "SELECT count(*) FROM audit WHERE action = 'resource.update' AND object = 'resource:$ONE' AND outcome = 'denied'")" 1 \
        "update refused: one denied audit record"
refused 1001 PolicyDenied "update refused on D-Bus too" /org/cloudbroker/Broker1 \
        org.cloudbroker.Broker1.Resources.UpdateResource "string:$ONE" string: 'string:{"backup": {"window": "bus"}}'
assert_contains "$ERR" '"article":28' "D-Bus: naming the article"
OPS=$(nops "$V2ONE")
cb_curl PATCH "/v2/service_instances/v2-one?accepts_incomplete=true" "" \
        '{"service_id": "rds-mysql", "parameters": {"backup": {"window": "v2two"}}}' "${V2[@]}"
assert_eq "$CB_STATUS" 403 "/v2 update of the suspended project's instance: 403"
assert_eq "$(printf %s "$CB_BODY" | jq -r .error)" PolicyDenied "/v2: PolicyDenied"
assert_contains "$(printf %s "$CB_BODY" | jq -r .description)" "(Art. 28)" "/v2: the description names the article"
assert_eq "$(nops "$V2ONE")" "$OPS" "/v2 update refused: no operation written"
assert_eq "$(osb_control | jq .updates)" "$UPDATES" "updates refused: nothing sent to the provider"
cb_curl PATCH "/v2/service_instances/v2-db-p?accepts_incomplete=true" "" \
        '{"service_id": "rds-mysql", "parameters": {"backup": {"window": "v2b"}}}' "${V2[@]}"
assert_eq "$CB_STATUS" 202 "(another project's instance is not held back)"
wait_op "$(printf %s "$CB_BODY" | jq -r .operation)"

# --- kill -9 while the provider hangs: the resumed PUTs carry the sealed parameters ------
osb_control '{"hang": true}' >/dev/null
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "p-kill", "parameters": {"app_name": "resumed-app"}}'
assert_eq "$CB_STATUS" 202 "set-up: a bind with parameters the provider does not answer (202)"
KBID=$(printf %s "$CB_BODY" | jq -r .id)
order_p db-p-kill '{"charset": "gbk"}'
assert_eq "$CB_STATUS" 202 "set-up: an order with parameters the provider does not answer"
KRID=$(printf %s "$CB_BODY" | jq -r .id)
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
osb_control '{"hang": false}' >/dev/null
cb_start_daemon
wait_binding "$RID" "$KBID" bound 20 && pass "after kill -9 and a restart the bind is resumed and bound" ||
        fail "p-kill after restart ($GOT)"
assert_eq "$(params_at "$RID" "$KBID")" '{"app_name":"resumed-app"}' "the resumed bind sent its parameters again"
cb_wait_state "$KRID" active || fail "db-p-kill active after restart ($GOT)"
assert_eq "$(osb_control | jq -c --arg id "$KRID" '.instances[] | select(.id == $id) | .parameters')" \
        '{"charset":"gbk"}' "the resumed provision sent its parameters again"

# --- a plan the provider says is not bindable -----------------------------------------
osb_control '{"reset": true}' >/dev/null
osb_control '{"unbindable": true}' >/dev/null
cb_restart_daemon
cb_wait_provider linfen-paas || fail "the provider connects again ($CB_BODY)"
ROWS=$(nrows)
BINDS=$(osb_control | jq .binds)
cb_curl POST "/v1/resources/$RID/bindings" dev-edu '{"binding_id": "nb-1"}'
assert_eq "$CB_STATUS" 422 "binding a plan with bindable: false is refused"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "bindable: false" "saying why"
assert_eq "$(nrows)" "$ROWS" "nothing written"
assert_eq "$(osb_control | jq .binds)" "$BINDS" "nothing sent to the provider"
osb_control '{"reset": true}' >/dev/null

cb_done
