#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# docs/faces.md lists every REST route beside its D-Bus method and its
# cloudbrokerctl command. This holds the table against the build:
# - every route of `cloudbrokerd --list-routes` has exactly one row;
# - every D-Bus method a row names is introspected by the running daemon
#   (on the root object, or for org.cloudbroker.Broker1.Resource on a
#   resource object);
# - every ctl command a row names is known to `cloudbrokerctl help GROUP
#   COMMAND` (exit 0), and an unknown one is not (exit 2);
# - a "none:" cell gives a reason.
# shellcheck disable=SC2015 # "check && pass || fail": pass never fails
. tests/integration/lib.sh
cb_setup "$@"
cb_start_bus
cb_start_daemon

TABLE=docs/faces.md
CTL=$CB_BUILD/cloudbrokerctl
ROOT=/org/cloudbroker/Broker1

# --- a resource object, so that its interface can be introspected ---------------------
cb_add_system edu-portal
cb_approve lf-faces "临政信审〔2026〕90号" edu-portal \
        '[{"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 1}]'
for _ in $(seq 1 100); do
        cb_curl GET /v1/providers dev-operator
        [ "$(printf %s "$CB_BODY" | jq -r '.providers[] | select(.name == "dev-test") | .status')" = connected ] && break
        sleep 0.1
done
cb_curl POST /v1/resources dev-edu '{"project_id":"lf-faces","system_id":"edu-portal","service_id":"ecs-general",
        "plan_id":"ecs-general-2c4g","name":"faces"}'
assert_eq "$CB_STATUS" 202 "set-up: a resource is requested"
RID=$(printf %s "$CB_BODY" | jq -r .id)
RPATH=$ROOT/resource/$(printf %s "$RID" | sed 's/-/_2d/g')

cb_busctl introspect --xml-interface org.cloudbroker.Broker1 "$ROOT" >"$CB_TMP/root.xml"
cb_busctl introspect --xml-interface org.cloudbroker.Broker1 "$RPATH" >"$CB_TMP/resource.xml"
grep -q 'interface name="org.cloudbroker.Broker1.Resource"' "$CB_TMP/resource.xml" &&
        pass "set-up: the resource object $RPATH is introspectable" ||
        fail "set-up: $RPATH does not carry org.cloudbroker.Broker1.Resource"

# introspected XML FILE IFACE METHOD: 0 when FILE's IFACE has METHOD.
introspected() {
        interface_members "$2" <"$1" | grep -q "^method $3("
}

# --- the table's rows: ROUTE<TAB>DBUS<TAB>CTL ----------------------------------------------
# A row is "| `METHOD PATH` | cell | cell |"; cells may hold several
# backquoted names separated by commas, or "none: reason".
awk -F'|' '/^\| `[A-Z]+ \/[^`]*` \|/ {
        route = $2; gsub(/^ *`|` *$/, "", route)
        dbus = $3; gsub(/^ +| +$/, "", dbus)
        ctl = $4; gsub(/^ +| +$/, "", ctl)
        print route "\t" dbus "\t" ctl
}' "$TABLE" >"$CB_TMP/rows"
[ -s "$CB_TMP/rows" ] && pass "$TABLE has $(wc -l <"$CB_TMP/rows") rows" || fail "$TABLE has no rows"

"$CB_BUILD/cloudbrokerd" --list-routes >"$CB_TMP/routes"
[ -s "$CB_TMP/routes" ] && pass "--list-routes lists $(wc -l <"$CB_TMP/routes") routes" || fail "--list-routes lists nothing"

while IFS= read -r route; do
        n=$(cut -f1 "$CB_TMP/rows" | grep -cxF "$route" || true)
        assert_eq "$n" 1 "route $route has one row in $TABLE"
done <"$CB_TMP/routes"
while IFS=$'\t' read -r route _ _; do
        grep -qxF "$route" "$CB_TMP/routes" && pass "row $route is a route of the daemon" ||
                fail "row $route names no route of cloudbrokerd --list-routes"
done <"$CB_TMP/rows"

# names CELL: the backquoted names in a cell, one a line.
names() {
        # shellcheck disable=SC2016 # backquotes, not a command substitution
        printf '%s\n' "$1" | grep -o '`[^`]*`' | tr -d '`'
}

while IFS=$'\t' read -r route dbus ctl; do
        case $dbus in
        none:*)
                reason=${dbus#none:}
                [ -n "${reason// /}" ] && pass "$route: no D-Bus method, with a reason" ||
                        fail "$route: 'none:' without a reason"
                ;;
        *)
                [ -n "$(names "$dbus")" ] || fail "$route: the D-Bus cell names nothing: '$dbus'"
                for full in $(names "$dbus"); do
                        iface=${full%.*} method=${full##*.}
                        if introspected "$CB_TMP/root.xml" "$iface" "$method"; then
                                pass "$route: $full is served on $ROOT"
                        elif introspected "$CB_TMP/resource.xml" "$iface" "$method"; then
                                pass "$route: $full is served on resource objects"
                        else
                                fail "$route: the daemon does not introspect $full"
                        fi
                done
                ;;
        esac
        case $ctl in
        none:*)
                reason=${ctl#none:}
                [ -n "${reason// /}" ] && pass "$route: no ctl command, with a reason" ||
                        fail "$route: 'none:' without a reason"
                ;;
        *)
                [ -n "$(names "$ctl")" ] || fail "$route: the ctl cell names nothing: '$ctl'"
                while IFS= read -r cmd; do
                        # shellcheck disable=SC2086 # GROUP COMMAND, split on purpose
                        if "$CTL" help $cmd >/dev/null 2>&1; then
                                pass "$route: cloudbrokerctl $cmd exists"
                        else
                                fail "$route: cloudbrokerctl does not know '$cmd'"
                        fi
                done < <(names "$ctl" | awk '{ print $1, ($2 ~ /^--/ ? "" : $2) }')
                ;;
        esac
done <"$CB_TMP/rows"

# The checks can fail: a method and a command that do not exist are refused.
if introspected "$CB_TMP/root.xml" org.cloudbroker.Broker1.Projects NoSuchMethod; then
        fail "a method that does not exist is reported as introspected"
else
        pass "a method that does not exist is not introspected"
fi
RC=0
"$CTL" help project nosuchcommand >/dev/null 2>&1 || RC=$?
assert_eq "$RC" 2 "cloudbrokerctl help of a command that does not exist exits 2"
RC=0
"$CTL" help nosuchgroup >/dev/null 2>&1 || RC=$?
assert_eq "$RC" 2 "cloudbrokerctl help of a group that does not exist exits 2"

cb_stop_daemon
cb_done
