#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The catalogue's D-Bus face against the real daemon on a private bus: the
# whole life cycle through busctl, callers told apart by UID, every error
# by its D-Bus name, and docs/dbus/org.cloudbroker.Broker1.Catalog.xml held
# against the live introspection.
#
# Usage (from the repository root, as root for setpriv):
#   tests/integration/test-dbus-catalog.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon

IFACE=org.cloudbroker.Broker1.Catalog
DOC=docs/dbus/$IFACE.xml
OPERATOR=0 EDU=1001 AUTHORITY=1002 FINANCE=1003 STRANGER=65534

# bcall UID METHOD [SIGNATURE ARGS...]: busctl call as UID. Sets RC, OUT
# (the JSON string the method returned) and ERR (busctl's message).
bcall() {
        local uid=$1 method=$2
        shift 2
        RC=0
        as_uid "$uid" busctl --address="$CB_BUS_ADDRESS" --json=short call org.cloudbroker.Broker1 \
                /org/cloudbroker/Broker1 "$IFACE" "$method" "$@" >"$CB_TMP/call.out" 2>"$CB_TMP/call.err" || RC=$?
        OUT=$(jq -r '.data[0]' <"$CB_TMP/call.out" 2>/dev/null || true)
        ERR=$(cat "$CB_TMP/call.err")
}

# ok UID MSG METHOD [SIGNATURE ARGS...]: the call succeeds; OUT holds its JSON.
ok() {
        local uid=$1 msg=$2
        shift 2
        bcall "$uid" "$@"
        if [ "$RC" -eq 0 ]; then pass "$msg"; else fail "$msg (busctl: $ERR)"; fi
}

# refused UID ERROR MSG METHOD [dbus-send ARGS...]: the call fails with
# org.cloudbroker.Broker1.Error.ERROR. busctl prints only the message of a
# D-Bus error, never its name, so the name is checked through dbus-send.
# ERR holds "NAME: MESSAGE".
refused() {
        local uid=$1 name=$2 msg=$3 method=$4
        shift 4
        RC=0
        ERR=$(as_uid "$uid" dbus-send --bus="$CB_BUS_ADDRESS" --print-reply --reply-timeout=10000 \
                --dest=org.cloudbroker.Broker1 /org/cloudbroker/Broker1 "$IFACE.$method" "$@" 2>&1) || RC=$?
        case "$RC:$ERR" in
        0:*) fail "$msg (the call succeeded)" ;;
        *"Error org.cloudbroker.Broker1.Error.$name:"*) pass "$msg" ;;
        *) fail "$msg (expected $name, got: $ERR)" ;;
        esac
}

service_doc() { # service_doc PRICE_FEN [UNIT]
        cat <<JSON
{
  "id": "test-cache",
  "name": "test-cache",
  "display_name": "测试缓存服务",
  "category": "PaaS",
  "driver": "http",
  "description": "A service created by the D-Bus integration test.",
  "secure_controllable": false,
  "max_protection_level": 2,
  "bindable": true,
  "plans": [
    {
      "id": "test-cache-1g",
      "name": "small",
      "display_name": "1GB",
      "description": "",
      "spec": {"quotas": {"memory_mib": 1024}},
      "price": {"amount_fen": $1, "unit": "${2:-hour}"}
    }
  ]
}
JSON
}

# --- the published catalogue --------------------------------------------------

ok $EDU "a department lists the published catalogue" ListServices
assert_jq "$OUT" 'length >= 9' true "the seed catalogue has at least 9 services"
assert_jq "$OUT" '[.[] | .status] | unique | join(",")' published "ListServices holds published services only"
assert_jq "$OUT" '[.[] | select(.id == "test-cache")] | length' 0 "no test service yet"

refused $STRANGER AccessDenied "a UID that is no principal is refused" ListServices
assert_contains "$ERR" "UID $STRANGER is not a known principal" "the refusal names the UID"

VERSION=$(busctl --address="$CB_BUS_ADDRESS" get-property org.cloudbroker.Broker1 /org/cloudbroker/Broker1 \
        "$IFACE" Version)
assert_contains "$VERSION" 's "' "the Version property is a string"

# --- draft, visibility ------------------------------------------------------------

refused $EDU AccessDenied "a department may not create services" CreateService "string:$(service_doc 35)"
refused $AUTHORITY AccessDenied "the authority may not create services" CreateService "string:$(service_doc 35)"

# Listen for CatalogChanged from here on.
dbus-monitor --address "$CB_BUS_ADDRESS" "type='signal',interface='$IFACE',member='CatalogChanged'" \
        >"$CB_TMP/monitor.log" 2>&1 &
CB_PIDS+=("$!")
sleep 0.3

ok $OPERATOR "the operator creates a draft" CreateService s "$(service_doc 35)"
assert_jq "$OUT" '"\(.id) \(.status) \(.revision)"' "test-cache draft 1" "the draft is revision 1"

for _ in $(seq 1 20); do
        grep -q 'member=CatalogChanged' "$CB_TMP/monitor.log" && break
        sleep 0.1
done
assert_contains "$(cat "$CB_TMP/monitor.log")" "member=CatalogChanged" "a change emits CatalogChanged"

refused $OPERATOR Conflict "creating the same id again is a conflict" CreateService "string:$(service_doc 35)"
refused $EDU NotFound "a department cannot see the draft" GetService string:test-cache
refused $EDU AccessDenied "a department cannot list drafts" ListAllServices

ok $AUTHORITY "the authority sees the draft" GetService s test-cache
assert_jq "$OUT" .status draft "the authority's view is the draft"
ok $OPERATOR "the operator lists every service" ListAllServices
assert_jq "$OUT" '.[] | select(.id == "test-cache") | .status' draft "ListAllServices includes the draft"

# --- submit and sign-off --------------------------------------------------------

refused $AUTHORITY Conflict "a draft cannot be approved" ApproveService string:test-cache
refused $EDU AccessDenied "a department may not submit" SubmitService string:test-cache
ok $OPERATOR "the operator submits" SubmitService s test-cache
assert_jq "$OUT" .status submitted "the draft is submitted"
refused $OPERATOR Conflict "a submitted revision cannot be submitted again" SubmitService string:test-cache
refused $OPERATOR AccessDenied "the operator may not sign off" ApproveService string:test-cache

ok $AUTHORITY "the authority signs off" ApproveService s test-cache
assert_jq "$OUT" '"\(.status) \(.signoffs | length)"' "submitted 1" "one sign-off does not publish"
ok $AUTHORITY "the authority approves a second time" ApproveService s test-cache
assert_jq "$OUT" '"\(.status) \(.signoffs | length)"' "submitted 1" "the same principal twice counts once"

ok $FINANCE "finance signs off" ApproveService s test-cache
assert_jq "$OUT" '"\(.status) \(.revision) \([.signoffs[].role] | sort | join(","))"' \
        "published 1 authority,finance" "authority and finance publish revision 1"

ok $EDU "a department lists the catalogue again" ListServices
assert_jq "$OUT" '.[] | select(.id == "test-cache") | "\(.status) \(.plans[0].price.amount_fen)"' "published 35" \
        "the new service is in ListServices"
ok $EDU "a department reads the published service" GetService s test-cache
assert_jq "$OUT" .display_name "测试缓存服务" "UTF-8 survives the bus"

# --- a new revision leaves the published one in force ----------------------------------

ok $OPERATOR "the operator updates the published service" UpdateService ss test-cache "$(service_doc 40)"
assert_jq "$OUT" '"\(.status) \(.revision) \(.in_force_revision)"' "draft 2 1" \
        "the update is revision 2, revision 1 stays in force"
ok $EDU "the published list after the update" ListServices
assert_jq "$OUT" '.[] | select(.id == "test-cache") | "\(.revision) \(.plans[0].price.amount_fen)"' "1 35" \
        "ListServices keeps revision 1 at its old price"
refused $OPERATOR InvalidField "an update must keep the id" UpdateService string:test-cache \
        "string:$(service_doc 40 | sed 's/"id": "test-cache"/"id": "other-cache"/')"

# --- deprecate, retire, wrong states -----------------------------------------------

refused $OPERATOR Conflict "a published service cannot be retired" RetireService string:test-cache
refused $EDU AccessDenied "a department may not deprecate" DeprecateService string:test-cache
ok $OPERATOR "the operator deprecates" DeprecateService s test-cache
ok $EDU "a department reads the deprecated service" GetService s test-cache
assert_jq "$OUT" '"\(.status) \(.revision)"' "deprecated 1" "revision 1 is deprecated"
refused $OPERATOR Conflict "a deprecated service cannot be deprecated again" DeprecateService string:test-cache
ok $OPERATOR "the operator retires" RetireService s test-cache
ok $AUTHORITY "the retired service, seen by the authority" ListAllServices
ok $EDU "the published list after retirement" ListServices
assert_jq "$OUT" '[.[] | select(.id == "test-cache")] | length' 0 "a retired service leaves ListServices"
refused $OPERATOR Conflict "a retired service cannot be retired again" RetireService string:test-cache

# --- unknown ids, bad documents -------------------------------------------------------

refused $OPERATOR NotFound "GetService of an unknown id" GetService string:no-such-service
refused $OPERATOR NotFound "SubmitService of an unknown id" SubmitService string:no-such-service
refused $AUTHORITY NotFound "ApproveService of an unknown id" ApproveService string:no-such-service
refused $OPERATOR NotFound "DeprecateService of an unknown id" DeprecateService string:no-such-service
refused $OPERATOR NotFound "an id that is no id" GetService "string:../../etc/passwd"

refused $OPERATOR MalformedJson "malformed JSON is refused" CreateService 'string:{"id": "x",
  "name": }'
assert_contains "$ERR" "line 2, column" "the refusal gives line and column"
refused $OPERATOR MalformedJson "an empty document is malformed JSON" CreateService string:
refused $OPERATOR MalformedJson "malformed JSON in an update" UpdateService string:test-cache 'string:[1,'

refused $OPERATOR InvalidField "an invalid price unit is refused" CreateService \
        "string:$(service_doc 35 week | sed 's/"test-cache"/"test-cache-2"/')"
assert_contains "$ERR" "plans[0].price.unit" "the refusal names the field"
refused $OPERATOR InvalidField "a negative price is refused" CreateService \
        "string:$(service_doc -1 | sed 's/"test-cache"/"test-cache-2"/')"
assert_contains "$ERR" "plans[0].price.amount_fen" "the refusal names the price field"
refused $OPERATOR InvalidField "a document that is no object is refused" CreateService 'string:["x"]'
ok $OPERATOR "nothing half-written: the refused id is unknown" ListAllServices
assert_jq "$OUT" '[.[] | select(.id == "test-cache-2")] | length' 0 "the refused services were not stored"

# --- the documented interface is the live one --------------------------------------------

# interface_members (lib.sh) reads the methods, signals and properties of an interface.

if command -v xmllint >/dev/null; then
        if xmllint --noout "$DOC" 2>"$CB_TMP/xmllint.err"; then
                pass "$DOC is well-formed XML"
        else
                fail "$DOC is not well-formed: $(cat "$CB_TMP/xmllint.err")"
        fi
fi
busctl --address="$CB_BUS_ADDRESS" introspect --xml-interface org.cloudbroker.Broker1 /org/cloudbroker/Broker1 \
        >"$CB_TMP/live.xml"
interface_members "$IFACE" <"$CB_TMP/live.xml" >"$CB_TMP/live.members"
interface_members "$IFACE" <"$DOC" >"$CB_TMP/doc.members"
assert_jq "$(wc -l <"$CB_TMP/live.members")" '. >= 11' true "the live interface has its members"
if diff -u "$CB_TMP/doc.members" "$CB_TMP/live.members" >"$CB_TMP/members.diff"; then
        pass "$DOC matches the live interface, member by member"
else
        fail "$DOC differs from the live interface (- documented, + live):"
        sed 's/^/#   /' "$CB_TMP/members.diff"
fi
assert_contains "$(cat "$CB_TMP/doc.members")" "method UpdateService(ss) -> (s)" \
        "the introspection check sees signatures"

cb_stop_daemon
cb_done
