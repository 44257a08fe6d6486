#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Art. 35 in finance's exports, end to end on libvirt's test driver: a legacy
# system registered with a deadline in the past, VMs ordered in its
# department (a construction project and a completed one, whose resources are
# O&M), and the month's statement: the O&M line is `withhold` with Art. 35,
# the construction line is not; once the system is exempt or verified, both
# are `pay`. On REST and D-Bus (same bytes).
#
# Usage (from the repository root): tests/integration/test-migration-billing.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon
cb_wait_provider dev-test || fail "set-up: dev-test never connected"

YEAR=$(date +%Y)
# Milestone dates are judged against the daemon's local date (date_today_local:
# the machine's time zone); billing periods are months in China Standard Time.
# Between 16:00 and 24:00 UTC on a UTC machine the two dates differ.
TODAY=$(date +%Y-%m-%d)
MONTH=$(TZ=Asia/Shanghai date +%Y-%m)
sql() { sqlite3 -batch "$CB_DB" "$@"; }

cb_add_system edu-old edu 2 false compliant 待迁移的旧系统
cb_add_system health-his health
ITEMS='[{"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 1}]'
cb_approve pc "临政信审〔$YEAR〕51号" edu-old "$ITEMS"
cb_approve po "临政信审〔$YEAR〕52号" edu-old "$ITEMS"
CB_APPROVE_DEPARTMENT=health cb_approve ph "临政信审〔$YEAR〕53号" health-his "$ITEMS"
# po's construction is complete (filed today, so Art. 25 is not yet due): its new resources are O&M.
cb_curl POST /v1/projects/po/milestones dev-edu "{\"kind\":\"completed\",\"date\":\"$TODAY\"}"
assert_eq "$CB_STATUS" 201 "set-up: po is completed"

# The register: deadline 2020-03-02, long past. Exempt while the VMs are
# ordered (an overdue system holds its department's orders back).
cb_curl POST /v1/legacy-systems dev-migration "$(jq -nc '{system_id: "edu-old",
        hosting: {kind: "server-room", location: "市政府机房 3F"},
        source: {provider: "dev-test", domains: ["old-web"]}, deadline: "2020-03-02", wave: "w1"}')"
assert_eq "$CB_STATUS" 201 "the migration team registers edu-old, due 2020-03-02"
cb_curl POST /v1/legacy-systems/edu-old/transition dev-authority '{"state": "exempt", "reason": "订购期间暂免"}'
assert_eq "$CB_STATUS" 200 "set-up: exempt while its VMs are ordered"

order() { # PROJECT SYSTEM TOKEN NAME: sets ID
        cb_curl POST /v1/resources "$3" "{\"project_id\":\"$1\",\"system_id\":\"$2\",\"service_id\":\"ecs-general\",\"plan_id\":\"ecs-general-2c4g\",\"name\":\"$4\"}"
        assert_eq "$CB_STATUS" 202 "set-up: $4 is ordered in $1"
        ID=$(printf %s "$CB_BODY" | jq -r .id)
        cb_wait_state "$ID" active || fail "set-up: $4 never became active ($GOT)"
}
order pc edu-old dev-edu vm-build
R_C=$ID
order po edu-old dev-edu vm-run
R_O=$ID
order ph health-his dev-health vm-his
R_H=$ID
assert_eq "$(sql "SELECT group_concat(id || ':' || cost_kind, ',') FROM (SELECT * FROM resources WHERE id IN ('$R_C', '$R_O') ORDER BY id = '$R_O')")" \
        "$R_C:construction,$R_O:om" "set-up: one construction VM and one O&M VM of edu-old"

cb_curl POST /v1/legacy-systems/edu-old/transition dev-authority '{"state": "registered", "reason": "豁免撤销"}'
assert_eq "$CB_STATUS" 200 "the exemption is revoked"
cb_curl GET /v1/legacy-systems/edu-old dev-migration
assert_jq "$CB_BODY" '[.state, .overdue] | map(tostring) | join(",")' "registered,true" "edu-old is overdue again"

# funding ID: "FUNDING ARTICLES" of the resource's line in the REST statement $CB_BODY.
funding() {
        printf %s "$CB_BODY" | jq -r --arg id "$1" \
                '.lines[] | select(.resource_id == $id) | .funding + " " + (.withhold_articles | map(tostring) | join(";"))'
}
expect() { # WHAT O&M CONSTRUCTION HEALTH
        cb_curl GET "/v1/billing/statements/$MONTH" dev-finance
        assert_eq "$CB_STATUS" 200 "$1: finance exports $MONTH"
        assert_eq "$(funding "$R_O")" "$2" "$1: the O&M line of edu-old"
        assert_eq "$(funding "$R_C")" "$3" "$1: the construction line of edu-old"
        assert_eq "$(funding "$R_H")" "pay " "$1: another department's line is paid"
        # Not REST's bytes: the month is open, its seconds run on between the calls.
        bcall 1003 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Billing GetStatement "sa{sv}" "$MONTH" 0
        assert_eq "$RC" 0 "$1: D-Bus GetStatement as finance"
        CB_BODY=$(jq -j '.data[0]' <"$CB_TMP/call.out")
        assert_eq "$(funding "$R_O")" "$2" "$1: D-Bus: the O&M line of edu-old"
        assert_eq "$(funding "$R_C")" "$3" "$1: D-Bus: the construction line of edu-old"
}

# A line is written once its VM has run a charged second: wait for all three (at most 5 s).
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET "/v1/billing/statements/$MONTH" dev-finance
        [ "$(printf %s "$CB_BODY" | jq --arg a "$R_C" --arg b "$R_O" --arg c "$R_H" \
                '[.lines[] | select(.resource_id == $a or .resource_id == $b or .resource_id == $c)] | length')" = 3 ] && break
        sleep 0.1
done

expect "overdue" "withhold 35" "pay "
assert_jq "$CB_BODY" '[.withheld[] | select(.article == 35) | .code + ":" + (.lines | tostring)] | join(",")' \
        "MIGRATION_OVERDUE:1" "overdue: the withhold summary counts one line under Art. 35"
cb_curl GET "/v1/billing/statements/$MONTH?format=csv" dev-finance
assert_eq "$(printf %s "$CB_BODY" | grep ",$R_O," | tr -d '\r' | awk -F, '{print $(NF-1) "," $NF}')" "withhold,35" \
        "overdue: the CSV's O&M line says withhold, 35"
assert_eq "$(printf %s "$CB_BODY" | grep ",$R_C," | tr -d '\r' | awk -F, '{print $(NF-1) "," $NF}')" "pay," \
        "overdue: the CSV's construction line says pay"

cb_curl POST /v1/legacy-systems/edu-old/transition dev-authority '{"state": "exempt", "reason": "系统将于6月停用"}'
assert_eq "$CB_STATUS" 200 "the authority exempts edu-old"
expect "exempt" "pay " "pay "

cb_curl POST /v1/legacy-systems/edu-old/transition dev-authority '{"state": "registered", "reason": "停用取消"}'
expect "exemption revoked" "withhold 35" "pay "

# The move itself is test-migration.sh's: here the register is set to
# planned as the plan leaves it, then the team reports the rest by hand.
sql "UPDATE legacy_systems SET state = 'planned' WHERE system_id = 'edu-old'"
for s in migrating cut-over; do
        cb_curl POST /v1/legacy-systems/edu-old/transition dev-migration "{\"state\": \"$s\"}"
        assert_eq "$CB_STATUS" 200 "edu-old becomes $s"
done
expect "cut over, not yet verified" "withhold 35" "pay "
cb_curl POST /v1/legacy-systems/edu-old/transition dev-migration '{"state": "verified"}'
assert_eq "$CB_STATUS" 200 "edu-old becomes verified"
expect "verified" "pay " "pay "

cb_done
