#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Metering, rating and statements (docs/billing.md) against the real daemon
# on libvirt's test driver:
#   - a VM's state changes write its usage segments (same transaction: the
#     last segment is always the resource's state), and kill -9 in the middle
#     of operations adds no second segment for any span;
#   - a history written into the store as the daemon writes it (resources
#     rows whose state changes fire the metering triggers), in 2024, rated to
#     the fen: a segment across a month boundary (CST), a leap February, a
#     zero-length life, a new catalogue revision with a new price while old
#     resources keep theirs, withholding under Art. 11, 25 and 28;
#   - who sees what (finance, the authority, auditors all; a department its
#     own lines; another's refused on REST, D-Bus and the CLI), malformed
#     periods and formats, CSV (header, BOM), an empty month, and the same
#     bytes on the three faces.
#
# Usage (from the repository root): tests/integration/test-billing.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon
if cb_wait_provider dev-test; then pass "set-up: provider dev-test is connected"; else fail "set-up: provider dev-test did not connect"; fi

CTL="$CB_BUILD/cloudbrokerctl"
YEAR=$(date +%Y)
SVC=ecs-general

cb_add_system edu-portal edu 2 false compliant 教育门户
cb_add_system edu-legacy edu 2 false noncompliant 未共享数据的系统
cb_add_system health-his health 2 false compliant 医院信息系统
cb_add_system edu-old edu 2 false compliant 待迁移的旧系统
cb_approve p1 "临政信审〔$YEAR〕1号" edu-portal "[
    {\"service_id\": \"$SVC\", \"plan_id\": \"ecs-general-1c2g\", \"quantity\": 2},
    {\"service_id\": \"$SVC\", \"plan_id\": \"ecs-general-2c4g\", \"quantity\": 3},
    {\"service_id\": \"evs-block\", \"plan_id\": \"evs-ssd-100g\", \"quantity\": 1}]"
# An approval number with a comma: CSV must quote it.
cb_approve p3 '临政信审〔2026〕3号,补' edu-portal "[{\"service_id\": \"$SVC\", \"plan_id\": \"ecs-general-2c4g\", \"quantity\": 1}]"
CB_APPROVE_DEPARTMENT=health cb_approve p2 "临政信审〔$YEAR〕2号" health-his \
        "[{\"service_id\": \"$SVC\", \"plan_id\": \"ecs-general-2c4g\", \"quantity\": 1}]"

sql() { sqlite3 -batch "$CB_DB" "$@"; }

# wait_op ID: polls an operation until it has finished (at most 10 s).
wait_op() {
        GOT=
        for _ in $(seq 1 100); do
                cb_curl GET "/v1/operations/$1" dev-operator
                GOT=$(printf %s "$CB_BODY" | jq -r .state 2>/dev/null || true)
                case "$GOT" in succeeded | failed) return 0 ;; esac
                sleep 0.1
        done
        return 1
}

# The invariants of metering, over every resource: seq runs 1..n, no two
# neighbours share a state (that would be a second segment for one span),
# starts never go back, and the last segment is the resource's state.
check_segments() {
        assert_eq "$(sql "SELECT COUNT(*) FROM (SELECT resource_id, COUNT(*) AS c, MAX(seq) AS m, MIN(seq) AS f
                FROM usage_segments GROUP BY resource_id) WHERE c != m OR f != 1")" 0 "$1: segments are numbered 1..n"
        assert_eq "$(sql "SELECT COUNT(*) FROM usage_segments a JOIN usage_segments b
                ON b.resource_id = a.resource_id AND b.seq = a.seq + 1 WHERE a.state = b.state")" 0 \
                "$1: no two neighbouring segments of one state (no span twice)"
        assert_eq "$(sql "SELECT COUNT(*) FROM usage_segments a JOIN usage_segments b
                ON b.resource_id = a.resource_id AND b.seq = a.seq + 1 WHERE b.start_at < a.start_at")" 0 \
                "$1: a segment never starts before the one it follows"
        assert_eq "$(sql "SELECT COUNT(*) FROM resources r WHERE r.state IS NOT (SELECT s.state FROM usage_segments s
                WHERE s.resource_id = r.id ORDER BY s.seq DESC LIMIT 1)")" 0 \
                "$1: every resource's last segment is its state (written in the same transaction)"
}

# --- metering of a real VM ------------------------------------------------------------

cb_curl POST /v1/resources dev-edu \
        "{\"project_id\":\"p1\",\"system_id\":\"edu-portal\",\"service_id\":\"$SVC\",\"plan_id\":\"ecs-general-1c2g\",\"name\":\"vm1\"}"
assert_eq "$CB_STATUS" 202 "set-up: a VM is requested"
V=$(printf %s "$CB_BODY" | jq -r .id)
if cb_wait_state "$V" active; then pass "the VM becomes active"; else fail "the VM: $GOT"; fi
cb_curl POST "/v1/resources/$V/actions" dev-edu '{"action":"stop"}'
op=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$op" || true
cb_curl POST "/v1/resources/$V/actions" dev-edu '{"action":"start"}'
op=$(printf %s "$CB_BODY" | jq -r .operation_id)
wait_op "$op" || true
got=$(sql "SELECT group_concat(state, ',') FROM (SELECT state FROM usage_segments WHERE resource_id = '$V' ORDER BY seq)")
assert_eq "$got" "provisioning,active,stopped,active" "request, stop, start: one segment per state the VM went through"
check_segments "after stop and start"

# --- kill -9 in the middle of operations ------------------------------------------------
# The test driver's domains live in the daemon's process: after a restart the
# VM is gone and reconcile and the resumed operation move the record on;
# whatever they do, each change of state is one segment, in its transaction.

crash=0
for delay in 0 0.02 0.05 0.1 0.3; do
        cb_curl GET "/v1/resources/$V" dev-operator
        case "$(printf %s "$CB_BODY" | jq -r .state)" in
        active) action=stop ;;
        *) action=start ;;
        esac
        cb_curl POST "/v1/resources/$V/actions" dev-edu "{\"action\":\"$action\"}"
        sleep "$delay"
        kill -KILL "$CB_PID"
        wait "$CB_PID" 2>/dev/null || true
        crash=$((crash + 1))
        cb_start_daemon
        cb_wait_provider dev-test || true
        check_segments "after kill -9 number $crash ($action, ${delay}s in)"
done
sleep 1
check_segments "after the resumed operations settled"

# --- a history in 2024, as the daemon writes it --------------------------------------
# A new catalogue revision with a new price first: 2c4g costs twice as much in
# revision 2, and resources of revision 1 keep their price.

cb_curl GET /v1/catalog/services/$SVC dev-operator
printf %s "$CB_BODY" | jq '{id, name, display_name, category, driver, description, secure_controllable,
        max_protection_level, bindable, tags, plans} | .plans |= map(if .id == "ecs-general-2c4g" then .price.amount_fen *= 2 else . end)
        | .plans |= map(del(.spec.os_image))' >"$CB_TMP/rev2.json" # no image is registered here (issue 9)
cb_curl PUT /v1/catalog/services/$SVC dev-operator "@$CB_TMP/rev2.json"
assert_eq "$CB_STATUS" 200 "set-up: revision 2 of $SVC drafted"
cb_curl POST /v1/catalog/services/$SVC/submit dev-operator
cb_curl POST /v1/catalog/services/$SVC/approve dev-authority
cb_curl POST /v1/catalog/services/$SVC/approve dev-finance
assert_jq "$CB_BODY" '.status + " " + (.revision | tostring)' "published 2" "set-up: revision 2 is published"

# The authority suspends p2 (Art. 28); p2's completion in January 2024 has no
# acceptance report (Art. 25: due 30 working days later, in February).
cb_curl POST /v1/projects/p2/suspend dev-authority '{"reason":"整改"}'
assert_eq "$CB_STATUS" 200 "set-up: p2 is suspended"
cb_curl POST /v1/projects/p2/milestones dev-health '{"kind":"completed","date":"2024-01-02"}'
assert_eq "$CB_STATUS" 201 "set-up: p2 was completed on 2024-01-02"

cb_stop_daemon

# inject ID PROJECT DEPT SYSTEM PLAN REVISION COST_KIND KIND CREATED STATE@TIME...:
# the resource row, then each change of state as an UPDATE (the triggers meter).
inject() {
        local id=$1 project=$2 dept=$3 system=$4 plan=$5 rev=$6 cost=$7 kind=$8 created=$9 svc=$SVC s
        shift 9
        [ "$kind" = volume ] && svc=evs-block
        s="INSERT INTO resources (id, name, project_id, system_id, department, service_id, plan_id, catalog_revision,
                approval_no, cost_kind, committed_fen, state, created_at, created_by, updated_at, kind)
                SELECT '$id', '$id', '$project', '$system', '$dept', '$svc', '$plan', $rev, approval_no, '$cost', 0,
                'provisioning', '$created', 'test', '$created', '$kind' FROM approvals WHERE project_id = '$project';"
        for change in "$@"; do
                s="$s UPDATE resources SET state = '${change%@*}', updated_at = '${change#*@}' WHERE id = '$id';"
        done
        sql "BEGIN; $s COMMIT;"
}
# Across the turn of January: 23:00 to 01:00 CST on the night of 31 January.
NIGHT="2024-01-31T14:59:00Z active@2024-01-31T15:00:00Z stopped@2024-01-31T17:00:00Z deleted@2024-02-20T00:00:00Z"
# shellcheck disable=SC2086 # the history is a list of words
{
        inject r-a p1 edu edu-portal ecs-general-2c4g 1 construction vm $NIGHT
        inject r-c p1 edu edu-portal ecs-general-2c4g 2 construction vm $NIGHT
        inject r-d p2 health health-his ecs-general-2c4g 1 construction vm $NIGHT
}
# A month price over a leap February: from 1 February 00:00 CST to 15 February 12:00 CST, 14.5 of 29 days.
inject r-b p1 edu edu-portal evs-ssd-100g 1 construction volume 2024-01-31T16:00:00Z \
        active@2024-01-31T16:00:00Z deleted@2024-02-15T04:00:00Z
# O&M money for a system that does not share data (Art. 11): 10 hours.
inject r-e p1 edu edu-legacy ecs-general-2c4g 1 om vm 2024-02-10T00:00:00Z \
        active@2024-02-10T00:00:00Z deleted@2024-02-10T10:00:00Z
# A life of less than a second: created, active and deleted within one second.
inject r-f p1 edu edu-portal ecs-general-1c2g 1 construction vm 2024-02-11T00:00:00Z \
        active@2024-02-11T00:00:00Z deleted@2024-02-11T00:00:00Z
assert_eq "$(sql "SELECT group_concat(state || '@' || start_at, ' ') FROM (SELECT * FROM usage_segments WHERE resource_id = 'r-a' ORDER BY seq)")" \
        "provisioning@2024-01-31T14:59:00Z active@2024-01-31T15:00:00Z stopped@2024-01-31T17:00:00Z deleted@2024-02-20T00:00:00Z" \
        "the triggers metered each change of the injected history"
check_segments "after the injected history"

cb_start_daemon
stmt() { # PERIOD TOKEN [QUERY]
        cb_curl GET "/v1/billing/statements/$1${3:+?$3}" "$2"
}

# --- February 2024, to the fen ----------------------------------------------------------

stmt 2024-02 dev-finance
assert_eq "$CB_STATUS" 200 "finance reads February 2024: 200"
FEB=$CB_BODY
line() { printf %s "$FEB" | jq -r --arg id "$1" ".lines[] | select(.resource_id == \$id) | $2"; }
assert_jq "$FEB" '[.lines[].resource_id] | join(",")' "r-a,r-b,r-c,r-e,r-d" \
        "five lines, by department and project; the sub-second life is none"
assert_jq "$FEB" '.lines[0] | keys_unsorted | join(",")' \
        "period,department,project_id,approval_no,system_id,resource_id,service_id,plan_id,catalog_revision,unit,quantity_seconds,unit_price_fen,amount_fen,funding,withhold_articles" \
        "a line has the issue's fields, in its order"
assert_eq "$(line r-a '[.unit, .quantity_seconds, .unit_price_fen, .amount_fen, .funding] | join(" ")')" \
        "hour 3600 35 35 pay" "the hour across midnight CST on 31 January: February's half (3600 s, 35 fen)"
assert_eq "$(line r-c '[.catalog_revision, .unit_price_fen, .amount_fen] | join(" ")')" "2 70 70" \
        "the same hour ordered under revision 2: revision 2's price"
assert_eq "$(line r-a '.catalog_revision')" 1 "the older resource keeps revision 1 and its price"
assert_eq "$(line r-b '[.unit, .quantity_seconds, .unit_price_fen, .amount_fen] | join(" ")')" "month 1252800 3500 1750" \
        "a month price over 14.5 days of a leap February: exactly half"
assert_eq "$(line r-e '[.amount_fen, .funding, (.withhold_articles | map(tostring) | join(";"))] | join(" ")')" "350 withhold 11" \
        "O&M on a system that does not share data: withheld, Art. 11"
assert_eq "$(line r-d '[.amount_fen, .funding, (.withhold_articles | map(tostring) | join(";"))] | join(" ")')" "35 withhold 25;28" \
        "a suspended project whose acceptance report is overdue: withheld, Art. 25 and 28"
assert_jq "$FEB" '[.totals.amount_fen, .totals.pay_fen, .totals.withhold_fen] | map(tostring) | join(" ")' "2240 1855 385" \
        "totals: amount, pay, withhold"
assert_jq "$FEB" '[.totals.departments[] | .department + "=" + (.amount_fen | tostring) + "/" + (.withhold_fen | tostring)] | join(",")' \
        "edu=2205/350,health=35/35" "totals per department"
assert_jq "$FEB" '[.totals.projects[] | .project_id + "=" + (.amount_fen | tostring)] | join(",")' "p1=2205,p2=35" \
        "totals per project"
assert_jq "$FEB" '[.lines[].amount_fen] | add' 2240 "the lines add up to the total"
assert_jq "$FEB" '.budgets[] | select(.project_id == "p1") | [.construction.budget_fen, .construction.billed_fen, .construction.billed_to_date_fen, .om.budget_fen, .om.billed_fen] | map(tostring) | join(" ")' \
        "1000000000 1855 1960 100000000 350" "p1's money against its approval's budget, construction and O&M apart (to date: January's 105 too)"
assert_jq "$FEB" '[.withheld[] | (.article | tostring) + ":" + .code + ":" + (.amount_fen | tostring)] | join(",")' \
        "11:DATA_SHARING_NONCOMPLIANT:350,25:ACCEPTANCE_FILING_OVERDUE:35,28:PROJECT_SUSPENDED:35" \
        "what is withheld and why, by article"
assert_jq "$FEB" '[.complete, .from, .to] | map(tostring) | join(" ")' \
        "true 2024-02-01T00:00:00+08:00 2024-03-01T00:00:00+08:00" "the period is a CST calendar month, complete"

stmt 2024-01 dev-finance
JAN=$CB_BODY
assert_jq "$JAN" '[.lines[] | .resource_id + "=" + (.amount_fen | tostring)] | join(",")' "r-a=35,r-c=70,r-d=35" \
        "January 2024 has the other half of the night, and not the volume created at midnight"
assert_jq "$JAN" '.lines[] | select(.resource_id == "r-d") | .withhold_articles | map(tostring) | join(";")' 28 \
        "in January p2's acceptance report was not yet overdue: Art. 28 only"

stmt 2023-01 dev-finance
assert_eq "$CB_STATUS" 200 "a month without usage: 200"
assert_jq "$CB_BODY" '[(.lines | length), .totals.amount_fen] | map(tostring) | join(" ")' "0 0" "and an empty statement"
stmt 2023-01 dev-finance format=csv
assert_eq "$(printf '%s\n' "$CB_BODY" | wc -l):$(printf %s "$CB_BODY" | head -c 7)" "1:period," "its CSV is the header row alone"

# --- CSV -----------------------------------------------------------------------------

stmt 2024-02 dev-finance format=csv
assert_eq "$CB_STATUS" 200 "CSV: 200"
assert_contains "$CB_HEADERS" "Content-Type: text/csv; charset=utf-8" "CSV is text/csv in UTF-8"
CSV=$CB_BODY
assert_eq "$(printf %s "$CSV" | head -n1 | tr -d '\r')" \
        "period,department,project_id,approval_no,system_id,resource_id,service_id,plan_id,catalog_revision,unit,quantity_seconds,unit_price_fen,amount_fen,funding,withhold_articles" \
        "the header row"
assert_eq "$(printf %s "$CSV" | grep -c $'\r$')" 6 "six CRLF rows: the header and five lines"
assert_eq "$(printf %s "$CSV" | grep '^2024-02,health' | tr -d '\r')" \
        "2024-02,health,p2,临政信审〔$YEAR〕2号,health-his,r-d,ecs-general,ecs-general-2c4g,1,hour,3600,35,35,withhold,25;28" \
        "a line in CSV, Chinese approval number as UTF-8"
assert_eq "$(printf %s "$CSV" | head -c 3 | od -An -tx1 | tr -d ' ')" "706572" "no byte order mark by default"
stmt 2024-02 dev-finance "format=csv&excel=1"
assert_eq "$(printf %s "$CB_BODY" | head -c 3 | od -An -tx1 | tr -d ' ')" "efbbbf" "excel=1: the UTF-8 byte order mark first"

# --- who sees what --------------------------------------------------------------------

stmt 2024-02 dev-edu
assert_eq "$CB_STATUS" 200 "a department reads its statement: 200"
assert_jq "$CB_BODY" '[.lines[].department] | unique | join(",")' edu "only its own lines"
assert_jq "$CB_BODY" '[.budgets[].project_id] | join(",")' p1 "and only its own projects' budgets"
stmt 2024-02 dev-health
assert_jq "$CB_BODY" '[.lines[].resource_id] | join(",")' r-d "health reads its one line"
for d in edu nosuch; do
        stmt 2024-02 dev-health "department=$d"
        assert_eq "$CB_STATUS" 403 "health asks for department $d: 403"
        assert_jq "$CB_BODY" '.field' department "the refusal names department"
done
assert_contains "$CB_BODY" "Art. 5" "the refusal cites its article"
stmt 2024-02 dev-health "department=health"
assert_eq "$CB_STATUS" 200 "health asks for its own department: 200"
for who in dev-authority dev-auditor; do
        stmt 2024-02 "$who"
        assert_eq "$(printf %s "$CB_BODY" | jq -c .lines)" "$(printf %s "$FEB" | jq -c .lines)" "$who reads every line"
done
stmt 2024-02 dev-finance department=health
assert_jq "$CB_BODY" '[.lines[].resource_id] | join(",")' r-d "finance asks for one department's lines"
for who in dev-operator dev-migration; do
        stmt 2024-02 "$who"
        assert_eq "$CB_STATUS" 403 "$who reads statements: 403"
done
stmt 2024-02 ""
assert_eq "$CB_STATUS" 401 "no token: 401"

# --- malformed requests --------------------------------------------------------------

for p in 2026-13 2026-1 abc 2026-00 20260; do
        stmt "$p" dev-finance
        assert_eq "$CB_STATUS" 400 "period $p: 400"
        assert_eq "$(printf %s "$CB_BODY" | jq -r '.field + " " + .message' | grep -c "^period .*'$p'")" 1 \
                "the answer names the period and quotes it"
done
stmt 2024-02 dev-finance format=xml
assert_eq "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .field)" "400 format" "format=xml: 400 naming format"
stmt 2024-02 dev-finance "format=csv&excel=2"
assert_eq "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .field)" "400 excel" "excel=2: 400 naming excel"
stmt 2024-02 dev-finance "excel=1"
assert_eq "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .field)" "400 excel" "excel=1 with JSON: 400 naming excel"
stmt 2024-02 dev-finance "department=../edu"
assert_eq "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .field)" "400 department" "a department that is not an id: 400 naming department"
stmt 2024-02 dev-health "format=xml&department=edu"
assert_eq "$CB_STATUS" 403 "another department's lines are refused before the format is looked at"

# --- the same bytes on every face --------------------------------------------------------

stmt 2024-02 dev-finance
rest_sum=$(printf %s "$CB_BODY" | sha256sum)
bcall 1003 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Billing GetStatement "sa{sv}" 2024-02 0
assert_eq "$RC" 0 "D-Bus GetStatement as finance"
assert_eq "$(jq -j '.data[0]' <"$CB_TMP/call.out" | sha256sum)" "$rest_sum" "D-Bus answers REST's bytes"
ctl_sum=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing statement --period 2024-02 | sha256sum) || true
assert_eq "$ctl_sum" "$rest_sum" "cloudbrokerctl billing statement prints REST's bytes"
stmt 2024-02 dev-finance format=csv
rest_csv=$(sha256sum <"$CB_TMP/resp.body") # the file: $CB_BODY lost the last line's end
mkdir -m 0777 "$CB_TMP/out"
rc=0
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing export --period 2024-02 --format csv \
        --out "$CB_TMP/out/feb.csv" || rc=$?
assert_eq "$rc:$(sha256sum <"$CB_TMP/out/feb.csv" 2>/dev/null)" "0:$rest_csv" \
        "billing export --format csv --out FILE writes REST's CSV bytes"
bcall 1001 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Billing GetStatement "sa{sv}" 2024-02 1 department s health
assert_eq "$RC:$(printf %s "$ERR" | grep -c 'Art. 5')" "1:1" "D-Bus: edu asking for health's lines is refused, citing Art. 5"
rc=0
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1001 "$CTL" billing statement --period 2024-02 --department health \
        >/dev/null 2>"$CB_TMP/ctl.err" || rc=$?
assert_eq "$rc" 4 "cloudbrokerctl: edu asking for health's lines exits 4 (AccessDenied)"
rc=0
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing statement --period 2026-1 >/dev/null 2>"$CB_TMP/ctl.err" || rc=$?
assert_eq "$rc" 1 "cloudbrokerctl: a malformed period fails"
assert_contains "$(cat "$CB_TMP/ctl.err")" "period '2026-1'" "and says which"
out=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing summary --period 2024-02) || true
assert_contains "$out" "2024-02 total 22.40 yuan: pay 18.55, withhold 3.85" "billing summary: the month's totals"
assert_eq "$(printf %s "$out" | grep -c '^edu .* 22.05 .*█')" 1 "billing summary: edu's row with its bar"

# --- closing a month --------------------------------------------------------------------

close() { cb_curl POST "/v1/billing/statements/$1/close" "$2"; }
close "$(TZ=Asia/Shanghai date +%Y-%m)" dev-finance
assert_eq "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .field)" "409 period" "the month not yet over cannot be closed: 409 naming period"
for who in dev-edu dev-authority dev-auditor dev-operator; do
        close 2024-02 "$who"
        assert_eq "$CB_STATUS" 403 "$who closes a month: 403"
done
close 2024-1 dev-finance
assert_eq "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .field)" "400 period" "closing a malformed period: 400 naming period"
stmt 2024-02 dev-finance
assert_not_contains "$CB_HEADERS" "X-Content-SM3" "an open month carries no digest"
close 2024-02 dev-finance
assert_eq "$CB_STATUS" 200 "finance closes February 2024: 200"
CLOSE=$CB_BODY
assert_jq "$CLOSE" '[.files[] | (if .department == "" then "all" else .department end) + "/" + .format] | join(",")' \
        "all/csv,all/json,edu/csv,edu/json,health/csv,health/json" "the whole city's files and each department's, CSV and JSON"
close 2024-02 dev-finance
assert_eq "$CB_STATUS:$CB_BODY" "200:$CLOSE" "closing twice is harmless: the first closing answers"

sm3_of() { openssl dgst -sm3 -r "$1" | cut -d' ' -f1; }
# verify FILE: the X-Content-* headers of the last answer against FILE's bytes.
verify() {
        local sum sig
        sum=$(printf %s "$CB_HEADERS" | tr -d '\r' | sed -n 's/^X-Content-SM3: //p')
        sig=$(printf %s "$CB_HEADERS" | tr -d '\r' | sed -n 's/^X-Content-Signature: //p')
        assert_eq "$sum" "$(sm3_of "$1")" "$2: X-Content-SM3 is the SM3 of the bytes"
        printf %s "$sum" >"$CB_TMP/digest"
        printf %s "$sig" | base64 -d >"$CB_TMP/sig.bin"
        if openssl dgst -sm3 -verify etc/dev-keys/dev-checkpoint.pub.pem -sigopt distid:1234567812345678 \
                -signature "$CB_TMP/sig.bin" "$CB_TMP/digest" >/dev/null 2>&1; then
                pass "$2: the signature over the digest verifies with the checkpoint key's public half"
        else
                fail "$2: the signature does not verify"
        fi
}
stmt 2024-02 dev-finance format=csv
cp "$CB_TMP/resp.body" "$CB_TMP/closed.csv"
verify "$CB_TMP/closed.csv" "closed CSV"
stmt 2024-02 dev-finance
cp "$CB_TMP/resp.body" "$CB_TMP/closed.json"
closed_sum=$(sha256sum <"$CB_TMP/closed.json")
verify "$CB_TMP/closed.json" "closed JSON"
assert_jq "$CB_BODY" '.closed.csv_sm3' "$(sm3_of "$CB_TMP/closed.csv")" "the JSON names its CSV's digest"
assert_jq "$CB_BODY" '.closed.by' dev-finance "and who closed it"
assert_eq "$(printf %s "$CB_BODY" | jq -c .lines)" "$(printf %s "$FEB" | jq -c .lines)" "closing kept the lines"
stmt 2024-02 dev-finance "format=csv&excel=1"
assert_eq "$(tail -c +4 "$CB_TMP/resp.body" | sha256sum)" "$(sha256sum <"$CB_TMP/closed.csv")" \
        "excel=1: the byte order mark, then the signed CSV"
stmt 2024-02 dev-edu
assert_jq "$CB_BODY" '[.lines[].resource_id] | join(",")' "r-a,r-b,r-c,r-e" "edu reads its closed lines"
cp "$CB_TMP/resp.body" "$CB_TMP/closed-edu.json"
verify "$CB_TMP/closed-edu.json" "edu's closed JSON"
stmt 2024-02 dev-health department=edu
assert_eq "$CB_STATUS" 403 "a closed month: health asking for edu's lines is still 403"

# Facts change after the closing: the closed month does not, an open one does.
cb_curl POST /v1/projects/p2/resume dev-authority '{"reason":"整改完成"}'
assert_eq "$CB_STATUS" 200 "set-up: the authority resumes p2"
stmt 2024-02 dev-finance
assert_eq "$(sha256sum <"$CB_TMP/resp.body")" "$closed_sum" "after p2 resumed, the closed February is the same bytes"
stmt 2024-01 dev-finance
assert_jq "$CB_BODY" '.lines[] | select(.resource_id == "r-d") | .funding' pay "while open January follows: r-d is paid now"
bcall 1003 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Billing GetStatement "sa{sv}" 2024-02 0
assert_eq "$(jq -j '.data[0]' <"$CB_TMP/call.out" | sha256sum)" "$closed_sum" "D-Bus answers the closed bytes"
# ExportStatement (a pipe), through cloudbrokerctl: the stored slices, as REST sends them.
for f in json csv; do
        CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing export --period 2024-02 --format "$f" \
                >"$CB_TMP/ctl-closed.$f"
done
assert_eq "$(sha256sum <"$CB_TMP/ctl-closed.json")" "$closed_sum" "cloudbrokerctl billing export of the closed JSON: the same bytes"
assert_eq "$(sha256sum <"$CB_TMP/ctl-closed.csv")" "$(sha256sum <"$CB_TMP/closed.csv")" "... and of the closed CSV"
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing export --period 2024-02 --format csv --excel \
        >"$CB_TMP/ctl-closed-bom.csv"
assert_eq "$(head -c 3 "$CB_TMP/ctl-closed-bom.csv" | od -An -tx1 | tr -d ' ') $(tail -c +4 "$CB_TMP/ctl-closed-bom.csv" | sha256sum)" \
        "efbbbf $(sha256sum <"$CB_TMP/closed.csv")" "... with --excel: the byte order mark, then the signed CSV"
assert_eq "$(sql "SELECT COUNT(*) FROM billing_closed_files f WHERE period = '2024-02' AND size = (SELECT SUM(length(data))
        FROM billing_closed_slices s WHERE s.period = f.period AND s.department = f.department AND s.format = f.format)")" 6 \
        "each of the 6 closed files is stored as slices that add up to its size"
out=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing close --period 2024-02) || true
assert_contains "$out" "2024-02: closed at $(printf %s "$CLOSE" | jq -r .closed_at) by dev-finance" \
        "cloudbrokerctl billing close: closing again shows the first closing"
assert_eq "$(sql "SELECT COUNT(*) FROM audit WHERE action = 'billing.close' AND outcome = 'ok'")" 1 \
        "one billing.close in the audit trail"

# --- adjustments of a closed month ------------------------------------------------------

adj() { cb_curl POST "/v1/billing/statements/$1/adjustments" "$2" "$3"; }
adj 2024-01 dev-finance '{"project_id":"p2","amount_fen":-500,"reason":"更正"}'
assert_eq "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .field)" "409 period" "adjusting a month not closed: 409 naming period"
for who in dev-edu dev-auditor dev-operator; do
        adj 2024-02 "$who" '{"project_id":"p2","amount_fen":-500,"reason":"更正"}'
        assert_eq "$CB_STATUS" 403 "$who proposes an adjustment: 403"
done
for bad in '{"project_id":"p2","amount_fen":0,"reason":"x"}:amount_fen' \
        '{"project_id":"p2","amount_fen":"5","reason":"x"}:amount_fen' \
        '{"project_id":"p2","amount_fen":1.5,"reason":"x"}:amount_fen' \
        '{"project_id":"p2","amount_fen":1000000000000001,"reason":"x"}:amount_fen' \
        '{"project_id":"nosuch","amount_fen":5,"reason":"x"}:project_id' \
        '{"project_id":"p2","amount_fen":5,"reason":""}:reason' \
        '{"project_id":"p2","amount_fen":5}:reason' \
        '{"project_id":"p2","amount_fen":5,"reason":"x","line":1}:line'; do
        adj 2024-02 dev-finance "${bad%:*}"
        assert_eq "$CB_STATUS $(printf %s "$CB_BODY" | jq -r .field)" "422 ${bad##*:}" "adjustment ${bad%:*}: 422 naming ${bad##*:}"
done
adj 2024-02 dev-finance '{"project_id":"p2","amount_fen":-500,"reason":"重复计费更正"}'
assert_eq "$CB_STATUS" 201 "finance proposes an adjustment of February: 201"
A1=$(printf %s "$CB_BODY" | jq -r .id)
assert_jq "$CB_BODY" '[.status, .department, (.amount_fen | tostring), (.signoffs | map(.role) | join("+"))] | join(" ")' \
        "pending health -500 finance" "pending, health's, with finance's signature"
cb_curl POST "/v1/billing/statements/2024-02/adjustments/$A1/approve" dev-finance
assert_eq "$CB_STATUS" 409 "finance cannot countersign its own adjustment: 409"
cb_curl POST "/v1/billing/statements/2024-02/adjustments/adj-0000000000000000/approve" dev-authority
assert_eq "$CB_STATUS" 404 "an unknown adjustment: 404"
cb_curl POST "/v1/billing/statements/2024-01/adjustments/$A1/approve" dev-authority
assert_eq "$CB_STATUS" 404 "the adjustment under another month: 404"
cb_curl POST "/v1/billing/statements/2024-02/adjustments/$A1/approve" dev-authority
assert_eq "$CB_STATUS" 200 "the authority countersigns: 200"
assert_jq "$CB_BODY" '[.status, (.signoffs | map(.role + ":" + .principal) | join("+"))] | join(" ")' \
        "signed finance:dev-finance+authority:dev-authority" "in force with both signatures"
cb_curl POST "/v1/billing/statements/2024-02/adjustments/$A1/approve" dev-authority
assert_eq "$CB_STATUS" 409 "countersigning again: 409"
cb_curl GET /v1/billing/statements/2024-02/adjustments dev-auditor
assert_jq "$CB_BODY" '[(.adjustments | length), .signed_fen] | map(tostring) | join(" ")' "1 -500" "an auditor lists it, -500 fen in force"
cb_curl GET /v1/billing/statements/2024-02/adjustments dev-health
assert_jq "$CB_BODY" '.adjustments | length' 1 "health sees the adjustment of its project"
cb_curl GET /v1/billing/statements/2024-02/adjustments dev-edu
assert_jq "$CB_BODY" '.adjustments | length' 0 "edu does not"
cb_curl GET /v1/billing/statements/2024-02/adjustments dev-migration
assert_eq "$CB_STATUS" 403 "migration lists adjustments: 403"
stmt 2024-02 dev-finance
assert_eq "$(sha256sum <"$CB_TMP/resp.body")" "$closed_sum" "the adjustment is a line apart: the closed statement is the same bytes"
out=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1002 "$CTL" billing adjust --period 2024-02 p1 1200 --reason 补记) || true
A2=$(printf %s "$out" | cut -d: -f1)
assert_contains "$out" "1200 fen for p1, pending" "cloudbrokerctl billing adjust: the authority proposes"
out=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 "$CTL" billing approve-adjustment --period 2024-02 "$A2") || true
assert_eq "$out" "$A2: signed" "cloudbrokerctl billing approve-adjustment: finance countersigns"
out=$(CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1005 "$CTL" billing adjustments --period 2024-02) || true
assert_eq "$(printf %s "$out" | grep -c ' signed ')" 2 "cloudbrokerctl billing adjustments: both, signed"
assert_eq "$(sql "SELECT group_concat(action, ',') FROM (SELECT action FROM audit WHERE action LIKE 'billing.adjust%' AND outcome = 'ok' ORDER BY seq)")" \
        "billing.adjust,billing.adjust.approve,billing.adjust,billing.adjust.approve" "each proposal and signature is in the audit trail"

# --- a restart, a crash and late usage change nothing of a closed month -----------------

cb_stop_daemon
inject r-g p1 edu edu-portal ecs-general-2c4g 1 construction vm 2024-02-12T00:00:00Z \
        active@2024-02-12T00:00:00Z deleted@2024-02-12T05:00:00Z
# Random histories around March 2024 (seeded): 40 resources, hour and month
# prices, 1-12 changes each, some before March, some across its end.
RANDOM=2024
t0=$(date -u -d 2024-02-25T00:00:00Z +%s)
for n in $(seq 1 40); do
        t=$((t0 + RANDOM * 30))
        changes=()
        for _ in $(seq 1 $((1 + RANDOM % 12))); do
                t=$((t + (RANDOM % 4 == 0 ? 0 : RANDOM * (RANDOM % 5))))
                case $((RANDOM % 3)) in 0) st=active ;; 1) st=stopped ;; 2) st=failed ;; esac
                changes+=("$st@$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)")
        done
        t=$((t + RANDOM * 20))
        changes+=("deleted@$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)")
        created=${changes[0]#*@}
        if [ $((n % 3)) -eq 0 ]; then
                inject "r-rand-$n" p1 edu edu-portal evs-ssd-100g 1 construction volume "$created" "${changes[@]}"
        else
                inject "r-rand-$n" p1 edu edu-portal ecs-general-2c4g 1 construction vm "$created" "${changes[@]}"
        fi
done
inject r-q p3 edu edu-portal ecs-general-2c4g 1 construction vm 2024-03-05T00:00:00Z \
        active@2024-03-05T00:00:00Z deleted@2024-03-05T01:00:00Z
inject r-q2 p3 edu edu-portal ecs-general-2c4g 1 construction vm 2024-03-05T00:00:00Z \
        active@2024-03-05T00:00:00Z deleted@2024-03-05T01:00:00Z
# Art. 35: a legacy system whose migration deadline (2023-12-31) has passed,
# in the register as the migration team's register writes it, with a VM in March
# on O&M funds (withheld) and one on construction funds (paid: the move is built).
sql "INSERT INTO legacy_systems (system_id, department, hosting_kind, hosting_location, source, deadline, wave,
        state, created_at, created_by, updated_at) VALUES ('edu-old', 'edu', 'server-room', '机房', '{}',
        '2023-12-31', 'w1', 'registered', '2023-01-01T00:00:00Z', 'dev-migration', '2023-01-01T00:00:00Z')"
inject r-m p1 edu edu-old ecs-general-2c4g 1 om vm 2024-03-06T00:00:00Z \
        active@2024-03-06T00:00:00Z deleted@2024-03-06T02:00:00Z
inject r-mc p1 edu edu-old ecs-general-2c4g 1 construction vm 2024-03-06T00:00:00Z \
        active@2024-03-06T00:00:00Z deleted@2024-03-06T01:00:00Z
# ...and one with quotes, as an older record might hold it (the approval's JSON cannot say it here).
sql "UPDATE resources SET approval_no = '旧\"批\"号' WHERE id = 'r-q2'"
cb_start_daemon
stmt 2024-03 dev-finance format=csv
assert_eq "$(printf %s "$CB_BODY" | grep ',r-q,' | tr -d '\r')" \
        '2024-03,edu,p3,"临政信审〔2026〕3号,补",edu-portal,r-q,ecs-general,ecs-general-2c4g,1,hour,3600,35,35,pay,' \
        "CSV quotes a field with a comma"
assert_eq "$(printf %s "$CB_BODY" | grep ',r-q2,' | cut -d, -f4)" '"旧""批""号"' "and doubles the quotes of a quoted field"
assert_eq "$(printf %s "$CB_BODY" | grep ',r-m,' | tr -d '\r' | cut -d, -f13-)" "70,withhold,35" \
        "an O&M VM of a legacy system past its migration deadline: withheld, Art. 35"
assert_eq "$(printf %s "$CB_BODY" | grep ',r-mc,' | tr -d '\r' | cut -d, -f13-)" "35,pay," \
        "a construction VM of the same system: paid (Art. 35 holds back O&M funds)"
stmt 2024-03 dev-finance
assert_jq "$CB_BODY" '[.withheld[] | select(.article == 35) | .code + ":" + (.amount_fen | tostring)] | join(",")' \
        "MIGRATION_OVERDUE:70" "the withhold summary names Art. 35"
# The same rule in SQLite's integer arithmetic, from the segments alone.
P0=$(date -u -d 2024-02-29T16:00:00Z +%s)
P1=$(date -u -d 2024-03-31T16:00:00Z +%s)
want=$(sql "SELECT group_concat(id || '=' || secs || '/' || amount, ',') FROM (
        SELECT id, secs, (2 * price * secs + unit) / (2 * unit) AS amount FROM (
        SELECT a.resource_id AS id, SUM(MAX(0, MIN(CAST(strftime('%s', b.start_at) AS INTEGER), $P1)
                - MAX(CAST(strftime('%s', a.start_at) AS INTEGER), $P0))) AS secs,
                CASE WHEN r.plan_id = 'evs-ssd-100g' THEN 3500 ELSE 35 END AS price,
                CASE WHEN r.plan_id = 'evs-ssd-100g' THEN $((P1 - P0)) ELSE 3600 END AS unit
        FROM usage_segments a JOIN usage_segments b ON b.resource_id = a.resource_id AND b.seq = a.seq + 1
        JOIN resources r ON r.id = a.resource_id
        WHERE a.resource_id LIKE 'r-rand-%' AND (a.state = 'active' OR (r.plan_id = 'evs-ssd-100g' AND a.state != 'deleted'))
        GROUP BY a.resource_id) WHERE secs > 0 ORDER BY id)")
stmt 2024-03 dev-finance
MAR=$CB_BODY
got=$(printf %s "$MAR" | jq -r '[.lines[] | select(.resource_id | startswith("r-rand-")) | .resource_id + "=" + (.quantity_seconds | tostring) + "/" + (.amount_fen | tostring)] | sort | join(",")')
want=$(printf %s "$want" | tr , '\n' | sort | paste -sd, -)
assert_eq "$got" "$want" "40 random histories in March 2024: every line's seconds and fen are what SQL computes from the segments"
n_lines=$(printf %s "$got" | tr , '\n' | grep -c .)
if [ "$n_lines" -ge 10 ]; then pass "the random histories give $n_lines lines"; else fail "only $n_lines random lines"; fi
assert_jq "$MAR" '([.lines[].amount_fen] | add) == .totals.amount_fen and ([.totals.departments[].amount_fen] | add) == .totals.amount_fen' \
        true "the lines add up to the totals, and the departments to the total"
stmt 2024-03 dev-finance
assert_eq "$CB_BODY" "$MAR" "rating March again gives the same bytes"
stmt 2024-02 dev-finance
assert_eq "$(sha256sum <"$CB_TMP/resp.body")" "$closed_sum" "after a restart and late usage February 2024 is the same bytes"
kill -KILL "$CB_PID"
wait "$CB_PID" 2>/dev/null || true
cb_start_daemon
stmt 2024-02 dev-finance
assert_eq "$(sha256sum <"$CB_TMP/resp.body")" "$closed_sum" "after kill -9 February 2024 is the same bytes"
check_segments "at the end"

# --- the real VM's line this month ----------------------------------------------------

PERIOD=$(TZ=Asia/Shanghai date +%Y-%m)
stmt "$PERIOD" dev-finance
want=$(sql "SELECT COALESCE(SUM(strftime('%s', COALESCE((SELECT b.start_at FROM usage_segments b WHERE b.resource_id = a.resource_id
        AND b.seq = a.seq + 1), '$(date -u +%Y-%m-%dT%H:%M:%SZ)')) - strftime('%s', a.start_at)), 0)
        FROM usage_segments a WHERE a.resource_id = '$V' AND a.state = 'active'")
got=$(printf %s "$CB_BODY" | jq -r --arg id "$V" '[.lines[] | select(.resource_id == $id) | .quantity_seconds] | add // 0')
if [ "$got" -ge $((want - 2)) ] && [ "$got" -le "$want" ]; then
        pass "this month's line of the VM counts its active seconds ($got of $want by the segments)"
else
        fail "this month's line of the VM: $got seconds, the segments say $want"
fi
assert_jq "$CB_BODY" .complete false "this month is not complete"

# --- budget alerts and the 100 % refusal (Art. 13) -------------------------------------

# alerts PROJECT: the thresholds raised for it, "kind:threshold" in order, and its audit records.
alerts() { sql "SELECT group_concat(cost_kind || ':' || threshold, ' ') FROM (SELECT * FROM budget_alerts
        WHERE project_id = '$1' ORDER BY cost_kind, threshold)"; }
alert_records() { sql "SELECT COUNT(*) FROM audit WHERE action = 'billing.budget_alert' AND object = 'project:$1'"; }
# wait_alerts PROJECT WANT: polls until alerts PROJECT says WANT (at most 5 s).
wait_alerts() {
        for _ in $(seq 1 50); do
                [ "$(alerts "$1")" = "$2" ] && return 0
                sleep 0.1
        done
        return 1
}
# edu is under Art. 35 by now (its legacy system is overdue): health orders.
order() {
        cb_curl POST /v1/resources dev-health \
                "{\"project_id\":\"$1\",\"system_id\":\"health-his\",\"service_id\":\"$SVC\",\"plan_id\":\"ecs-general-1c2g\",\"name\":\"$2\"}"
}

# The budget is checked on every reconcile tick: once a second here.
cb_stop_daemon
# (absolute paths: the copy lives in the scratch folder)
sed -e 's/^reconcile_seconds = .*/reconcile_seconds = 1;/' -e "s#\"\.\./\.\./#\"$PWD/#g" \
        -e "s#test:///\.\./\.\./#test://$PWD/#" "$CB_CONFIG" >"$CB_TMP/fast.conf"
CB_CONFIG=$CB_TMP/fast.conf
cb_start_daemon
# What one ecs-general-1c2g commits today, over the same approval horizon as every cb_approve.
cb_curl POST /v1/policy/evaluate dev-edu \
        "{\"project_id\":\"p1\",\"system_id\":\"edu-portal\",\"service_id\":\"$SVC\",\"plan_id\":\"ecs-general-1c2g\"}"
X=$(printf %s "$CB_BODY" | jq -r .projected_cost_fen)
if [ "$X" -gt 100 ] 2>/dev/null; then pass "set-up: one VM commits $X fen"; else fail "set-up: projected cost '$X'"; fi

# b80: the VM is 90 % of the construction budget; b100: all of it.
CB_APPROVE_DEPARTMENT=health CB_APPROVE_BUDGET="{\"construction_fen\": $((X * 10 / 9)), \"om_fen\": 100000000}" \
        cb_approve b80 "临政信审〔$YEAR〕80号" health-his "[{\"service_id\": \"$SVC\", \"plan_id\": \"ecs-general-1c2g\", \"quantity\": 3}]"
CB_APPROVE_DEPARTMENT=health CB_APPROVE_BUDGET="{\"construction_fen\": $X, \"om_fen\": 100000000}" \
        cb_approve b100 "临政信审〔$YEAR〕100号" health-his "[{\"service_id\": \"$SVC\", \"plan_id\": \"ecs-general-1c2g\", \"quantity\": 3}]"
assert_eq "$(alerts b80)$(alert_records b80)" "0" "nothing is raised before anything is spent"

# Watchers on the bus (cloudbrokerctl billing watch-budget): finance for all
# projects, edu for its own (the alerts here are all health's).
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1003 timeout 30 "$CTL" billing watch-budget --limit 3 \
        >"$CB_TMP/watch.finance" 2>&1 &
WF=$!
CLOUDBROKER_BUS_ADDRESS=$CB_BUS_ADDRESS as_uid 1001 timeout 30 "$CTL" billing watch-budget \
        >"$CB_TMP/watch.edu" 2>&1 &
WH=$!
CB_PIDS+=("$WF" "$WH")
sleep 1 # both have subscribed (a call each)

order b80 vm-b80
assert_eq "$CB_STATUS" 202 "a VM at 90 % of the budget is accepted"
if wait_alerts b80 construction:80; then pass "at 90 % the 80 % alert is raised"; else fail "80 % alert: '$(alerts b80)'"; fi
assert_eq "$(alert_records b80)" 1 "the 80 % alert has one audit record"
assert_eq "$(sql "SELECT json_extract(detail, '$.threshold') || ' ' || json_extract(detail, '$.cost_kind') || ' '
        || json_extract(detail, '$.article') || ' ' || (json_extract(detail, '$.committed_fen') = $X) FROM audit
        WHERE action = 'billing.budget_alert' AND object = 'project:b80'")" "80 construction 13 1" \
        "the record names the threshold, the cost kind, Art. 13 and the committed money"
NOWP=$(TZ=Asia/Shanghai date +%Y-%m)
cb_curl GET "/v1/billing/statements/$NOWP?format=json&department=health" dev-finance
assert_eq "$(printf %s "$CB_BODY" | jq -r '.budgets[] | select(.project_id == "b80") | .construction.committed_fen')" \
        "$(sql "SELECT json_extract(detail, '$.committed_fen') FROM audit WHERE action = 'billing.budget_alert' AND object = 'project:b80'")" \
        "the statement's budgets[].committed_fen is the budget rule's (the alert's committed money)"
sleep 2.5
assert_eq "$(alerts b80) $(alert_records b80)" "construction:80 1" "later checks (2 more ticks) do not raise it again"

order b100 vm-b100
assert_eq "$CB_STATUS" 202 "a VM costing exactly the budget is accepted"
if wait_alerts b100 "construction:80 construction:100"; then pass "at 100 % both alerts are raised, 80 first"; else fail "100 % alerts: '$(alerts b100)'"; fi
assert_eq "$(alert_records b100)" 2 "each threshold has its audit record"
rc=0
wait "$WF" || rc=$?
assert_eq "$rc" 0 "finance's watcher got its 3 alerts and ended"
assert_eq "$(jq -r '.project_id + ":" + .cost_kind + ":" + (.threshold | tostring)' <"$CB_TMP/watch.finance" | tr '\n' ' ')" \
        "b80:construction:80 b100:construction:80 b100:construction:100 " "finance's watcher saw each alert once, in order"
assert_eq "$(jq -r 'select(.project_id == "b100" and .threshold == 100) | .used_fen' <"$CB_TMP/watch.finance")" "$X" \
        "the signal carries the money used"
kill "$WH" 2>/dev/null || true
wait "$WH" 2>/dev/null || true
assert_eq "$(cat "$CB_TMP/watch.edu")" "" "edu's watcher saw nothing of health's projects (unicast, not broadcast)"

order b100 vm-b100-2
assert_eq "$CB_STATUS" 403 "at 100 % a new resource is refused"
assert_jq "$CB_BODY" '[.violations[] | select(.code == "BUDGET_EXCEEDED") | .article] | first' 13 \
        "the refusal is BUDGET_EXCEEDED under Art. 13"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.violations[] | select(.code == "BUDGET_EXCEEDED") | .message')" \
        "construction budget $X fen is spent" "the message names the budget"

# What runs counts: bm's construction budget is 100 fen and the VM has run
# since 2024. Each resource counts once (docs/billing.md): what it was charged
# before today, and from today on what one VM of that plan commits (X), not
# its projection from when it was ordered on top.
CB_APPROVE_DEPARTMENT=health CB_APPROVE_BUDGET='{"construction_fen": 100, "om_fen": 100000000}' \
        cb_approve bm "临政信审〔$YEAR〕101号" health-his "[{\"service_id\": \"$SVC\", \"plan_id\": \"ecs-general-1c2g\", \"quantity\": 3}]"
cb_stop_daemon
inject r-bm bm health health-his ecs-general-1c2g 1 construction vm 2024-06-01T00:00:00Z active@2024-06-01T00:00:00Z
cb_start_daemon
if wait_alerts bm "construction:80 construction:100"; then pass "metered usage alone raises the alerts"; else fail "metered alerts: '$(alerts bm)'"; fi
order bm vm-bm
assert_eq "$CB_STATUS" 403 "a project whose running VM spent the budget gets nothing new"
msg=$(printf %s "$CB_BODY" | jq -r '.violations[] | select(.code == "BUDGET_EXCEEDED") | .message')
assert_contains "$msg" "committed $X + metered" "the running VM commits from today what one VM commits (X = $X), once"
if printf %s "$msg" | grep -Eq "metered [1-9][0-9]{4,} = "; then
        pass "the refusal counts what ran before today (metered since 2024)"
else
        fail "no metered money in: $msg"
fi
assert_eq "$(sql "SELECT threshold FROM budget_alerts WHERE project_id = 'bm' AND threshold = 100 AND used_fen > 100")" 100 \
        "the 100 % record holds the metered money"

# A restart remembers: nothing is raised twice.
before=$(sql "SELECT COUNT(*) FROM audit WHERE action = 'billing.budget_alert'")
cb_restart_daemon
sleep 2.5
assert_eq "$(sql "SELECT COUNT(*) FROM audit WHERE action = 'billing.budget_alert'")" "$before" \
        "after a restart and 2 ticks no alert is raised again ($before records)"
assert_eq "$(alerts b80) $(alert_records b80)" "construction:80 1" "b80 still has its one 80 % alert"

# D-Bus: a department, finance and the authority may watch; others are refused.
ok 1003 "finance may watch budget alerts" /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Billing SubscribeBudgetAlerts
ok 1001 "a department may watch its own budget alerts" /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Billing SubscribeBudgetAlerts
bcall 1005 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Billing SubscribeBudgetAlerts
assert_eq "$RC" 1 "an auditor may not watch budget alerts (reads them in the audit trail)"

# Under ASan a leak or an error anywhere in the run makes this exit non-zero.
cb_stop_daemon
cb_done
