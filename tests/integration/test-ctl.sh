#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# cloudbrokerctl against the real daemon on a private bus: readable tables,
# prices in 元, the catalogue life cycle with each role under its own UID,
# --json for scripts, and the exit statuses (0 ok, 1 failure, 2 usage).
#
# Usage (from the repository root, as root for setpriv):
#   tests/integration/test-ctl.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon

CTL=$CB_BUILD/cloudbrokerctl
OPERATOR=0 EDU=1001 AUTHORITY=1002 FINANCE=1003

# ctl UID ARGS...: runs cloudbrokerctl on the test bus as UID; sets RC, OUT, ERR.
ctl() {
        local uid=$1
        shift
        RC=0
        as_uid "$uid" "$CTL" --bus-address="$CB_BUS_ADDRESS" "$@" >"$CB_TMP/ctl.out" 2>"$CB_TMP/ctl.err" || RC=$?
        OUT=$(cat "$CB_TMP/ctl.out")
        ERR=$(cat "$CB_TMP/ctl.err")
}

# expect RC MSG: the last ctl call exited with RC.
expect() {
        if [ "$RC" -eq "$1" ]; then pass "$2"; else fail "$2 (exit $RC, expected $1; stderr: $ERR)"; fi
}

cat >"$CB_TMP/service.json" <<'JSON'
{
  "id": "ctl-test",
  "name": "ctl-test",
  "display_name": "命令行测试服务",
  "category": "IaaS",
  "driver": "libvirt",
  "description": "Created by the cloudbrokerctl integration test.",
  "secure_controllable": true,
  "max_protection_level": 3,
  "bindable": false,
  "tags": ["测试"],
  "plans": [
    {
      "id": "ctl-test-small",
      "name": "small",
      "display_name": "小型 1核2G",
      "description": "",
      "spec": {"vcpus": 1, "memory_mib": 2048, "disk_gib": 20},
      "price": {"amount_fen": 35, "unit": "hour"}
    },
    {
      "id": "ctl-test-month",
      "name": "monthly",
      "display_name": "包月 2核4G",
      "description": "",
      "spec": {"vcpus": 2, "memory_mib": 4096, "disk_gib": 40},
      "price": {"amount_fen": 123456, "unit": "month"}
    }
  ]
}
JSON

# --- list and show ---------------------------------------------------------------

ctl $EDU catalog list
expect 0 "catalog list"
assert_eq "$(printf %s "$OUT" | head -n1 | tr -s ' ')" "ID CATEGORY NAME PLANS REVISION STATUS" \
        "the table has its header"
assert_contains "$OUT" "ecs-general" "a seed service is listed"
assert_contains "$OUT" "通用型云服务器" "its Chinese display name is listed"
# Every row ends in "published", so rows aligned by display columns are
# equally wide on a terminal although their byte lengths differ.
WIDTHS=$(printf '%s\n' "$OUT" | tail -n +2 | while IFS= read -r line; do
        printf %s "$line" | LC_ALL=C.UTF-8 wc -L
done | sort -u | wc -l)
assert_eq "$WIDTHS" 1 "columns line up by display width with CJK names"

ctl $EDU catalog show ecs-general
expect 0 "catalog show"
assert_contains "$OUT" "通用型云服务器" "show names the service"
assert_contains "$OUT" "0.18 元/hour" "prices are formatted in 元 from fen"
assert_contains "$OUT" "2.80 元/hour" "every plan has its price"
assert_contains "$OUT" "PRICE" "show has a plan table"

ctl $EDU --json catalog show ecs-general
expect 0 "catalog show --json"
assert_jq "$OUT" '.plans[0].price.amount_fen' 18 "show --json prints the raw document"

ctl $EDU catalog show no-such-service
expect 4 "show of an unknown service fails with 4 (NotFound)"
assert_contains "$ERR" "cloudbrokerctl: org.cloudbroker.Broker1.Error.NotFound: " \
        "the error is printed with its D-Bus name"

# --- the life cycle, each role under its own UID -------------------------------------

ctl $EDU catalog draft "$CB_TMP/service.json"
expect 4 "a department cannot draft: 4 (AccessDenied)"
assert_contains "$ERR" "org.cloudbroker.Broker1.Error.AccessDenied" "the refusal is AccessDenied"

ctl $OPERATOR catalog draft "$CB_TMP/service.json"
expect 0 "the operator drafts a service from a file"
assert_contains "$OUT" "ctl-test: revision 1 is draft" "draft reports the new revision"

ctl $OPERATOR --all catalog list
expect 0 "catalog list --all"
assert_contains "$(printf '%s\n' "$OUT" | grep '^ctl-test ')" "draft" "list --all shows the draft"
ctl $OPERATOR catalog show ctl-test
assert_contains "$OUT" "1234.56 元/month" "a monthly price over 1000 元 is formatted"
assert_contains "$OUT" "0.35 元/hour" "an hourly price under 1 元 is formatted"

ctl $OPERATOR catalog submit ctl-test
expect 0 "the operator submits"
assert_contains "$OUT" "revision 1 is submitted" "submit reports the state"
assert_contains "$OUT" "waiting for the sign-off of authority and finance" "submit says who must sign"

ctl $AUTHORITY catalog approve ctl-test
expect 0 "the authority approves (UID $AUTHORITY)"
assert_contains "$OUT" "signed off as authority by dev-authority" "the sign-off is shown"
assert_contains "$OUT" "waiting for the sign-off of finance" "finance is still missing"

ctl $FINANCE catalog approve ctl-test
expect 0 "finance approves (UID $FINANCE)"
assert_contains "$OUT" "revision 1 is published" "two sign-offs publish"

ctl $EDU --json catalog list
expect 0 "catalog list --json"
assert_jq "$OUT" '.[] | select(.id == "ctl-test") | .status' published "list --json parses and has the new service"
assert_jq "$OUT" 'length >= 10' true "list --json has the seed services too"

printf '%s' '{"id": "ctl-bad", ' | as_uid $OPERATOR "$CTL" --bus-address="$CB_BUS_ADDRESS" catalog draft - \
        >"$CB_TMP/ctl.out" 2>"$CB_TMP/ctl.err" && RC=0 || RC=$?
ERR=$(cat "$CB_TMP/ctl.err")
expect 1 "malformed JSON from standard input fails"
assert_contains "$ERR" "org.cloudbroker.Broker1.Error.MalformedJson" "the daemon's MalformedJson is shown"

ctl $OPERATOR catalog draft "$CB_TMP/absent.json"
expect 1 "a missing file fails"
assert_contains "$ERR" "cannot open $CB_TMP/absent.json" "the missing file is named"

ctl $OPERATOR catalog retire ctl-test
expect 1 "retiring a published service fails"
assert_contains "$ERR" "org.cloudbroker.Broker1.Error.Conflict" "wrong state is a Conflict"
ctl $OPERATOR catalog deprecate ctl-test
expect 0 "deprecate"
assert_contains "$OUT" "is deprecated" "deprecate reports the state"
ctl $OPERATOR catalog retire ctl-test
expect 0 "retire"
assert_contains "$OUT" "is retired" "retire reports the state"

# --- the command line itself ---------------------------------------------------------------

ctl $OPERATOR catalog frobnicate
expect 2 "an unknown command is a usage error"
assert_contains "$ERR" "unknown command 'catalog frobnicate'" "the unknown command is named"
ctl $OPERATOR nosuchgroup list
expect 2 "an unknown group is a usage error"
ctl $OPERATOR catalog show
expect 2 "a missing argument is a usage error"
assert_contains "$ERR" "Usage: cloudbrokerctl catalog show ID" "the command's usage is printed"
ctl $OPERATOR catalog show a b
expect 2 "an extra argument is a usage error"
ctl $OPERATOR --no-such-option catalog list
expect 2 "an unknown option is a usage error"
ctl $OPERATOR
expect 2 "no command at all is a usage error"

# Options anywhere on the line, like systemctl and virsh.
ctl $EDU catalog list --json
expect 0 "catalog list --json (the option after the command)"
assert_jq "$OUT" '[.[] | .id] | index("ecs-general") != null' true "catalog list --json prints JSON"
ctl $EDU catalog --json show ecs-general
expect 0 "an option between the group and the command"
assert_jq "$OUT" .id ecs-general "catalog --json show prints JSON"
ctl $OPERATOR catalog list --all --no-legend --no-pager
expect 0 "--all --no-legend --no-pager after the command"
assert_contains "$OUT" "ctl-test" "--all after the command lists the retired service"
assert_not_contains "$OUT" "CATEGORY" "--no-legend drops the header line"
ctl $OPERATOR catalog list
assert_contains "$OUT" "CATEGORY" "tables have a header line by default"
assert_not_contains "$OUT" $'\e[' "output to a pipe has no escape sequences (no colour)"
ctl $OPERATOR catalog show ecs-general --all
expect 2 "an option the command does not take is a usage error"
assert_contains "$ERR" "--all does not apply to 'catalog show'" "the option and the command are named"
ctl $OPERATOR catalog list --limit 0
expect 2 "a bad option value is a usage error"
ctl $OPERATOR catalog show -- ecs-general
expect 0 "-- ends the options"

# help GROUP COMMAND: 0 for a command that exists, 2 for one that does not.
ctl $OPERATOR help project suspend
expect 0 "help project suspend"
assert_contains "$OUT" "Usage: cloudbrokerctl project suspend ID --reason TEXT" "help prints the usage"
ctl $OPERATOR help project frobnicate
expect 2 "help of an unknown command: 2"
ctl $OPERATOR help whoami
expect 0 "help whoami"
ctl $OPERATOR help
expect 0 "help alone is --help"
assert_contains "$OUT" "Exit status:" "help documents the exit status"

RC=0
OUT=$("$CTL" --help 2>&1) || RC=$?
expect 0 "--help"
assert_contains "$OUT" "catalog approve ID" "--help lists the commands from the table"
RC=0
OUT=$("$CTL" --version 2>&1) || RC=$?
expect 0 "--version"
assert_contains "$OUT" "cloudbrokerctl " "--version names the program"

RC=0
"$CTL" --bus-address="unix:path=$CB_TMP/no-bus.sock" catalog list >"$CB_TMP/ctl.out" 2>"$CB_TMP/ctl.err" || RC=$?
ERR=$(cat "$CB_TMP/ctl.err")
expect 1 "an unreachable bus fails with status 1"
assert_contains "$ERR" "cloudbrokerctl: cannot connect to the bus at unix:path=$CB_TMP/no-bus.sock" \
        "an unreachable bus is reported clearly"

RC=0
OUT=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS "$CTL" catalog list 2>&1) || RC=$?
expect 0 "the bus address comes from CLOUDBROKER_BUS_ADDRESS"
assert_contains "$OUT" "ecs-general" "listing through the environment's bus"

cb_stop_daemon
cb_done
