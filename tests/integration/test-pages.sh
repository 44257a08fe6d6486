#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Lists that scale: GET /v1/resources, /v1/projects, /v1/systems and
# /v1/incidents take limit (default 100, 1..1000) and page_token and answer
# next_page_token, absent on the last page. Walking the pages gives every
# record once, in the list's order, also when records are added between
# pages; bad limits and tokens are 422 naming the field.
set -euo pipefail
. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_daemon

# walk PATH MEMBER LIMIT TOKEN-HOLDER: every page, ids joined by spaces in WALKED, pages in PAGES.
walk() {
        local path=$1 member=$2 limit=$3 who=$4 token="" sep
        WALKED=""
        PAGES=0
        for _ in $(seq 1 50); do
                case "$path" in *\?*) sep="&" ;; *) sep="?" ;; esac
                if [ -n "$token" ]; then
                        cb_curl GET "$path${sep}limit=$limit&page_token=$token" "$who"
                else
                        cb_curl GET "$path${sep}limit=$limit" "$who"
                fi
                [ "$CB_STATUS" = 200 ] || { fail "GET $path page $PAGES: $CB_STATUS $CB_BODY"; return; }
                PAGES=$((PAGES + 1))
                WALKED="$WALKED$(printf %s "$CB_BODY" | jq -r ".$member[].id" | tr '\n' ' ')"
                if [ "$(printf %s "$CB_BODY" | jq ".$member | length")" -gt "$limit" ]; then
                        fail "$path: a page of more than $limit"
                fi
                token=$(printf %s "$CB_BODY" | jq -r '.next_page_token // empty')
                [ -n "$token" ] || return 0
        done
        fail "$path: more than 50 pages"
}

# --- systems: 7 of edu, 2 of health ------------------------------------------
for i in 1 2 3 4 5 6 7; do cb_add_system "edu-sys-$i" edu; done
cb_add_system health-sys-1 health
cb_add_system health-sys-2 health
walk /v1/systems systems 3 dev-operator
assert_eq "$PAGES" 3 "9 systems in pages of 3: 3 pages (the last one full and without a token)"
assert_eq "$WALKED" "edu-sys-1 edu-sys-2 edu-sys-3 edu-sys-4 edu-sys-5 edu-sys-6 edu-sys-7 health-sys-1 health-sys-2 " \
        "every system once, in id order"
walk /v1/systems systems 4 dev-edu
assert_eq "$WALKED" "edu-sys-1 edu-sys-2 edu-sys-3 edu-sys-4 edu-sys-5 edu-sys-6 edu-sys-7 " \
        "a department walks its own systems only"
assert_eq "$PAGES" 2 "7 in pages of 4: 2 pages"
cb_curl GET "/v1/systems?limit=1000" dev-operator
assert_jq "$CB_BODY" '.systems | length' 9 "limit=1000 is allowed"
assert_jq "$CB_BODY" 'has("next_page_token")' false "one page holds all: no next_page_token"
cb_curl GET /v1/systems dev-operator
assert_jq "$CB_BODY" '.systems | length' 9 "no limit: the default page (100) holds all nine"

# A record added between pages is not skipped, and none comes twice.
cb_curl GET "/v1/systems?limit=2" dev-operator
T=$(printf %s "$CB_BODY" | jq -r .next_page_token)
cb_add_system edu-sys-0 edu
cb_add_system zz-late edu
cb_curl GET "/v1/systems?limit=100&page_token=$T" dev-operator
assert_eq "$(printf %s "$CB_BODY" | jq -r '[.systems[].id] | join(" ")')" \
        "edu-sys-3 edu-sys-4 edu-sys-5 edu-sys-6 edu-sys-7 health-sys-1 health-sys-2 zz-late" \
        "after a token: the rest, including one added later past the position, none before it"

for bad in 0 1001 -1 abc 1e3 "" 99999; do
        cb_curl GET "/v1/systems?limit=$bad" dev-operator
        assert_eq "$CB_STATUS" 422 "limit '$bad': 422"
        assert_jq "$CB_BODY" .field limit "limit '$bad': the error names limit"
done
for bad in zz 0 "$(printf 'x%.0s' $(seq 1 600))" 00 7f "1f1f" "%20"; do
        cb_curl GET "/v1/systems?page_token=$bad" dev-operator
        assert_eq "$CB_STATUS" 422 "page_token '${bad:0:12}': 422"
        assert_jq "$CB_BODY" .field page_token "page_token '${bad:0:12}': the error names page_token"
done

# --- projects: 5 of edu --------------------------------------------------------
for i in 1 2 3 4 5; do cb_approve "pg-proj-$i" "临政信审〔$(date +%Y)〕$((60 + i))号" edu-sys-1 '[{"service_id":"ecs-general","plan_id":"ecs-general-2c4g","quantity":5}]'; done
walk /v1/projects projects 2 dev-authority
assert_eq "$WALKED" "pg-proj-1 pg-proj-2 pg-proj-3 pg-proj-4 pg-proj-5 " "every project once, in id order"
assert_eq "$PAGES" 3 "5 projects in pages of 2: 3 pages"
walk /v1/projects projects 2 dev-health
assert_eq "$WALKED" "" "health sees none of edu's projects, on any page"

# --- resources: 5 in pg-proj-1 -------------------------------------------------
for i in 1 2 3 4 5; do
        cb_curl POST /v1/resources dev-edu "{\"project_id\":\"pg-proj-1\",\"system_id\":\"edu-sys-1\",\"service_id\":\"ecs-general\",\"plan_id\":\"ecs-general-2c4g\",\"name\":\"pg-$i\"}"
        assert_eq "$CB_STATUS" 202 "resource $i requested"
        R[$i]=$(printf %s "$CB_BODY" | jq -r .id)
done
cb_curl GET "/v1/resources?project_id=pg-proj-1" dev-edu
ALL=$(printf %s "$CB_BODY" | jq -r '[.resources[].id] | join(" ")')
assert_eq "$(printf '%s\n' $ALL | sort | tr '\n' ' ')" "$(printf '%s\n' "${R[@]}" | sort | tr '\n' ' ')" \
        "the one-page list holds the five resources"
walk "/v1/resources?project_id=pg-proj-1" resources 2 dev-edu
# Creation order; within one second (created_at has whole seconds) by id.
assert_eq "$WALKED" "$ALL " "walking pages of 2 gives every resource once, in the one-page list's order"
assert_eq "$PAGES" 3 "5 resources in pages of 2: 3 pages"
walk /v1/resources resources 2 dev-health
assert_eq "$WALKED" "" "health walks none of edu's resources"

# --- incidents: 4, newest first --------------------------------------------------
for i in 1 2 3 4; do
        cb_curl POST /v1/incidents dev-operator "{\"severity\":\"general\",\"description\":\"分页 $i\"}"
        assert_eq "$CB_STATUS" 201 "incident $i reported"
        I[$i]=$(printf %s "$CB_BODY" | jq -r .id)
done
cb_curl GET /v1/incidents dev-operator
ALL=$(printf %s "$CB_BODY" | jq -r '[.incidents[].id] | join(" ")')
walk /v1/incidents incidents 3 dev-operator
assert_eq "$WALKED" "$ALL " "walking pages of 3 gives the one-page list, in its order (newest first)"
assert_eq "$PAGES" 2 "4 incidents in pages of 3: 2 pages"

cb_stop_daemon
cb_done
