#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The legacy register (issue 12, Art. 35) against the real daemon: register,
# list and show, update, assess through libvirt (a test-driver server room,
# tests/integration/legacy-node.xml, registered as a provider), plan with
# pre-flight concerns, the state way with its audit records, and the
# refusals: a classified system (Art. 3), the wrong role, a department
# registering another's system, unknown fields, a bad state change, an
# exemption without the authority. On REST, D-Bus and cloudbrokerctl.
#
#   tests/integration/test-migration.sh [BUILD_DIR]
. tests/integration/lib.sh
cb_setup "$@"
cb_start_bus
cb_start_daemon

CTL=$CB_BUILD/cloudbrokerctl
ROOT=/org/cloudbroker/Broker1
MIG=org.cloudbroker.Broker1.Migration
EDU=1001 AUTHORITY=1002 MIGRATION=1006
YEAR=$(date +%Y)
NODE=$(pwd)/tests/integration/legacy-node.xml

ctl() {
        local uid=$1
        shift
        RC=0
        as_uid "$uid" "$CTL" --bus-address="$CB_BUS_ADDRESS" "$@" >"$CB_TMP/ctl.out" 2>"$CB_TMP/ctl.err" || RC=$?
        OUT=$(cat "$CB_TMP/ctl.out")
        ERR=$(cat "$CB_TMP/ctl.err")
}

# The domains on room-a, as its inventory lists them.
room_domains() {
        cb_curl GET /v1/providers/room-a/inventory dev-operator
        printf %s "$CB_BODY" | jq -r '[.domains[].name] | join(",")'
}

# --- set-up: the server room as a provider, systems in the directory ---------------
cb_curl POST /v1/providers dev-operator "{\"name\":\"room-a\",\"driver\":\"libvirt\",\"uri\":\"test://$NODE\"}"
assert_eq "$CB_STATUS" 201 "set-up: the legacy server room is a registered provider"
cb_wait_provider room-a || fail "set-up: room-a never connected"
cb_wait_provider dev-test || fail "set-up: dev-test never connected"
cb_add_system edu-oa
cb_add_system edu-files
cb_add_system health-his health
cb_add_system edu-secret edu 3 true

reg() { # SYSTEM DOMAINS_JSON [DEADLINE]
        jq -nc --arg s "$1" --argjson d "$2" --arg dl "${3:-$YEAR-12-31}" \
                '{system_id: $s, hosting: {kind: "server-room", location: "市政府机房 3F"},
                  source: {provider: "room-a", domains: $d}, deadline: $dl, wave: "w1"}'
}

# --- register ------------------------------------------------------------------------
cb_curl POST /v1/legacy-systems dev-migration "$(reg edu-oa '["oa-web","oa-db"]')"
assert_eq "$CB_STATUS" 201 "the migration team registers edu-oa"
assert_jq "$CB_BODY" '[.state, .department, .hosting.kind, .wave, .overdue] | join(",")' \
        "registered,edu,server-room,w1,false" "the record: registered, edu's, in the server room, wave w1, not overdue"
assert_contains "$CB_HEADERS" "Location: /v1/legacy-systems/edu-oa" "201 names the record's URL"
cb_curl POST /v1/legacy-systems dev-migration "$(reg edu-oa '["oa-web"]')"
assert_eq "$CB_STATUS" 409 "a system is registered once"

# A department registers its own system ...
cb_curl POST /v1/legacy-systems dev-edu "$(reg edu-files '["file-server"]' "$YEAR-06-30")"
assert_eq "$CB_STATUS" 201 "department edu registers its own system"
# ... never another's: that system is not there for it.
cb_curl POST /v1/legacy-systems dev-edu "$(reg health-his '["oa-web"]')"
assert_eq "$CB_STATUS" 404 "edu registering health's system: 404, as an unknown system"
assert_jq "$CB_BODY" .message "no system 'health-his' in the directory" "the answer is the one for an unknown system"

# Classified: refused by Art. 3, out of the register.
cb_curl POST /v1/legacy-systems dev-migration "$(reg edu-secret '["oa-web"]')"
assert_eq "$CB_STATUS" 403 "a classified system is refused"
assert_jq "$CB_BODY" '[.error, .violations[0].code, .violations[0].article] | join(",")' \
        "policy_denied,CLASSIFIED_SYSTEM,3" "the refusal names CLASSIFIED_SYSTEM and Art. 3"
cb_curl GET /v1/legacy-systems/edu-secret dev-migration
assert_eq "$CB_STATUS" 404 "nothing of the classified system was written"

# Wrong roles.
cb_curl POST /v1/legacy-systems dev-finance "$(reg health-his '["oa-web"]')"
assert_eq "$CB_STATUS" 403 "finance may not register"
assert_contains "$CB_BODY" "migration" "the refusal names the role needed"
cb_curl POST /v1/legacy-systems dev-operator "$(reg health-his '["oa-web"]')"
assert_eq "$CB_STATUS" 403 "the operator may not register"

# Validation: unknown fields at every level, an exemption cannot be implied, bad values named.
bad() { # JQ_EDIT FIELD MSG
        cb_curl POST /v1/legacy-systems dev-migration "$(reg health-his '["oa-web"]' | jq -c "$1")"
        assert_eq "$CB_STATUS" 422 "$3: 422"
        assert_jq "$CB_BODY" .field "$2" "$3: names $2"
}
bad '.color = "red"' color "an unknown field"
bad '.exempt = true' exempt "an exemption in the registration"
bad '.exemption = {"reason": "x"}' exemption "an exemption document in the registration"
bad '.hosting.rack = 4' hosting.rack "an unknown hosting field"
bad '.source.disks = []' source.disks "an unknown source field"
bad '.hosting.kind = "basement"' hosting.kind "an unknown hosting kind"
bad '.deadline = "2026-02-30"' deadline "a deadline that is no date"
bad '.source.provider = "nowhere"' source.provider "an unknown provider"
bad '.source.domains = []' source.domains "no domains"
bad '.source.domains = ["a","a"]' "source.domains[1]" "a domain named twice"
bad '.source = {"images": ["no-slash"]}' "source.images[0]" "an image without its pool"
bad 'del(.system_id)' system_id "no system"
cb_curl POST /v1/legacy-systems dev-migration "$(reg no-such '["oa-web"]')"
assert_eq "$CB_STATUS" 404 "a system not in the directory"
cb_curl POST /v1/legacy-systems dev-migration '{"system_id": '
assert_eq "$CB_STATUS" 400 "malformed JSON"

# --- list and show ---------------------------------------------------------------------
cb_curl POST /v1/legacy-systems dev-migration "$(reg health-his '["oa-web"]' | jq -c '.wave = "w2"')"
assert_eq "$CB_STATUS" 201 "set-up: health-his registered by the team"
cb_curl GET "/v1/legacy-systems?limit=2" dev-migration
assert_jq "$CB_BODY" '[.legacy_systems[].system_id] | join(",")' "edu-files,edu-oa" "page 1 of 2, by system id"
TOKEN=$(printf %s "$CB_BODY" | jq -r .next_page_token)
cb_curl GET "/v1/legacy-systems?limit=2&page_token=$TOKEN" dev-migration
assert_jq "$CB_BODY" '([.legacy_systems[].system_id] | join(",")), has("next_page_token")' "health-his
false" "page 2 is the last"
cb_curl GET "/v1/legacy-systems?limit=0" dev-migration
assert_eq "$CB_STATUS" 422 "limit=0 is refused"
cb_curl GET "/v1/legacy-systems?wave=w2" dev-auditor
assert_jq "$CB_BODY" '[.legacy_systems[].system_id] | join(",")' "health-his" "auditors read all; filter by wave"
cb_curl GET /v1/legacy-systems dev-edu
assert_jq "$CB_BODY" '[.legacy_systems[].system_id] | join(",")' "edu-files,edu-oa" "a department lists its own only"
cb_curl GET /v1/legacy-systems/health-his dev-edu
assert_eq "$CB_STATUS" 404 "another department's record is not there"
cb_curl GET /v1/legacy-systems/edu-oa dev-edu
assert_eq "$CB_STATUS" 200 "a department reads its own record"

# --- update ----------------------------------------------------------------------------
cb_curl PUT /v1/legacy-systems/edu-files dev-edu "$(reg edu-files '["file-server"]' "$YEAR-06-30" | jq -c '.hosting.location = "教育局机房"')"
assert_eq "$CB_STATUS" 200 "edu changes where its system runs"
assert_jq "$CB_BODY" .hosting.location "教育局机房" "the new location is stored"
cb_curl PUT /v1/legacy-systems/edu-files dev-edu "$(reg edu-files '["file-server"]' "$((YEAR + 5))-06-30")"
assert_eq "$CB_STATUS" 403 "a department may not move its own deadline"
assert_jq "$CB_BODY" .field deadline "the refusal names the deadline"
cb_curl PUT /v1/legacy-systems/edu-files dev-edu "$(reg edu-oa '["file-server"]')"
assert_eq "$CB_STATUS" 422 "the body's system must be the URL's"

# --- state changes: bad ones ---------------------------------------------------------------
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration '{"state": "verified"}'
assert_eq "$CB_STATUS" 409 "registered cannot become verified"
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration '{"state": "assessed"}'
assert_eq "$CB_STATUS" 409 "assessed comes from the assessment, not by hand"
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration '{"state": "done"}'
assert_eq "$CB_STATUS" 422 "an unknown state"
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration '{"state": "failed", "why": "x"}'
assert_eq "$CB_STATUS" 422 "an unknown field in a state change"
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration '{"state": "failed"}'
assert_eq "$CB_STATUS" 422 "failed needs a reason"
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-edu '{"state": "failed", "reason": "x"}'
assert_eq "$CB_STATUS" 403 "a department does not move the migration"
cb_curl POST /v1/legacy-systems/edu-files/transition dev-migration '{"state": "exempt", "reason": "retiring in June"}'
assert_eq "$CB_STATUS" 403 "the migration team cannot exempt"
assert_contains "$CB_BODY" "authority" "the refusal says the authority signs exemptions off"
cb_curl POST /v1/legacy-systems/edu-files/transition dev-authority '{"state": "exempt"}'
assert_eq "$CB_STATUS" 422 "an exemption without a reason"
cb_curl POST /v1/legacy-systems/edu-files/transition dev-authority '{"state": "exempt", "reason": "系统将于6月停用"}'
assert_eq "$CB_STATUS" 200 "the authority exempts edu-files with a reason"
assert_jq "$CB_BODY" '[.state, .exemption.reason, .exemption.signed_off_by] | join(",")' \
        "exempt,系统将于6月停用,dev-authority" "the exemption records its reason and who signed it off"
cb_curl POST /v1/legacy-systems/edu-files/transition dev-authority '{"state": "assessed", "reason": "x"}'
assert_eq "$CB_STATUS" 409 "an exempt system does not move on"

# --- assessment through libvirt, on the worker pool --------------------------------------
cb_curl POST /v1/legacy-systems/edu-oa/assess dev-edu
assert_eq "$CB_STATUS" 403 "a department does not assess"
cb_curl POST /v1/legacy-systems/edu-oa/assess dev-migration
assert_eq "$CB_STATUS" 202 "the team starts the assessment of edu-oa"
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-oa dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = assessed ] && break
        sleep 0.1
done
assert_jq "$CB_BODY" .state assessed "edu-oa is assessed"
assert_jq "$CB_BODY" '.assessment.vms | map(.name) | join(",")' "oa-web,oa-db" "both domains were read"
assert_jq "$CB_BODY" '.assessment.vms[1] | [.vcpus, .memory_mib, .firmware] | join(",")' "3,6144,efi" \
        "oa-db: 3 vCPUs, 6 GiB, UEFI"
assert_jq "$CB_BODY" '.assessment.vms[1].disks | map("\(.target):\(.format):\(.capacity_bytes):\(.allocation_bytes)") | join(",")' \
        "vda:qcow2:42949672960:12884901888,vdb:vmdk:32212254720:21474836480" "oa-db's disks: format, capacity, allocation"
assert_jq "$CB_BODY" '.assessment.vms[0].nics[0].mac' "52:54:00:12:00:01" "oa-web's MAC"
assert_jq "$CB_BODY" '.assessment.vms | map(.power) | join(",")' "shutoff,shutoff" "their power state"
assert_jq "$CB_BODY" '.assessment.vms[1].devices | map(.kind) | join(",")' "sound" "oa-db's extra devices"

cb_curl POST /v1/legacy-systems/health-his/transition dev-migration '{"state": "failed", "reason": "source room flooded"}'
assert_eq "$CB_STATUS" 200 "registered may fail, with a reason"

# --- plan and pre-flight -----------------------------------------------------------------
cb_approve lf-move "临政信审〔$YEAR〕35号" edu-oa '[{"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 1}]'
PLAN='{"project_id": "lf-move", "target": {"provider": "dev-test", "pool": "default", "network": "default"}}'
cb_curl POST /v1/legacy-systems/edu-oa/plan dev-edu "$PLAN"
assert_eq "$CB_STATUS" 403 "a department does not plan"
cb_curl POST /v1/legacy-systems/edu-oa/plan dev-migration "$(printf %s "$PLAN" | jq -c '.target.rack = 1')"
assert_eq "$CB_STATUS" 422 "an unknown target field"
cb_curl POST /v1/legacy-systems/edu-oa/plan dev-migration "$PLAN"
assert_eq "$CB_STATUS" 200 "edu-oa is planned"
assert_jq "$CB_BODY" '[.state, .plan.critical] | map(tostring) | join(",")' "planned,true" "planned, with a critical concern"
assert_jq "$CB_BODY" '.plan.vms | map("\(.name)=\(.suggested_plan.plan_id)") | join(",")' \
        "oa-web=ecs-general-2c4g,oa-db=ecs-general-4c8g" "the smallest fitting plans are suggested"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.level == "critical")) | length' 0 \
        "oa-web: nothing critical (approved, room on the target)"
assert_jq "$CB_BODY" '.plan.vms[1].concerns | map("\(.level):\(.code)") | join(",")' \
        "warning:UNSUPPORTED_DEVICE,info:DISK_CONVERSION,warning:DISK_CONVERSION,info:FIRMWARE_EFI,critical:ITEM_NOT_APPROVED,critical:ITEM_NOT_APPROVED" \
        "oa-db: the sound card, the qcow2 disk (converted, info), the vmdk disk (another hypervisor's, warning), UEFI, a VM plan the approval does not cover, and its second disk's block volume neither"
assert_jq "$CB_BODY" '.plan.vms[1].concerns | map(select(.disk == "vdb") | "\(.level):\(.code)") | join(",")' \
        "warning:DISK_CONVERSION,critical:ITEM_NOT_APPROVED" "the concerns about the second disk name it (disk vdb)"
assert_jq "$CB_BODY" '.plan.vms[1].disks | map("\(.dev):\(.plan.plan_id):\(.overridden)") | join(",")' \
        "vdb:evs-ssd-100g:false" "the plan shows the block-volume plan its second disk gets (the smallest holding 30 GiB)"
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration '{"state": "migrating"}'
assert_eq "$CB_STATUS" 409 "a critical concern blocks the run"
assert_contains "$CB_BODY" "critical" "the refusal says why"

# Another system's plan may not take the same VM; a pool the target lacks is critical.
cb_curl POST /v1/legacy-systems/health-his/assess dev-migration
assert_eq "$CB_STATUS" 202 "a failed system is assessed again"
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/health-his dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = assessed ] && break
        sleep 0.1
done
cb_curl POST /v1/legacy-systems/health-his/plan dev-migration "$(printf %s "$PLAN" | jq -c '.target.pool = "nvme"')"
assert_eq "$CB_STATUS" 200 "health-his is planned"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.level == "critical") | .code) | (index("ALREADY_PLANNED") != null, index("TARGET_POOL_MISSING") != null) ' \
        "true
true" "oa-web is already in edu-oa's plan; the target has no pool nvme"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.code == "ALREADY_PLANNED") | .message) | .[0]' \
        "oa-web is already in the plan of legacy system edu-oa" "the concern names the other system"
cb_curl PUT /v1/legacy-systems/health-his dev-migration "$(reg health-his '["file-server"]' | jq -c '.wave = "w2"')"
assert_jq "$CB_BODY" '[.state, (.plan | tostring)] | join(",")' "registered,null" "health-his gives oa-web up: its plan is dropped"

# Override oa-db onto the approved plan: its 40 GiB system disk fits the plan's 40 GiB (its
# second disk, 30 GiB, becomes a block volume), but the approval's one VM is oa-web's.
cb_curl POST /v1/legacy-systems/edu-oa/plan dev-migration "$(printf %s "$PLAN" | jq -c '.vms = [{"name": "oa-db", "plan_id": "ecs-general-2c4g"}]')"
assert_eq "$CB_STATUS" 200 "a plan can be overridden"
assert_jq "$CB_BODY" '.plan.vms[1] | [.overridden, (.concerns | map(select(.level == "critical") | .code) | join("+"))] | map(tostring) | join(",")' \
        "true,QUANTITY_EXCEEDED+ITEM_NOT_APPROVED" "the override: the system disk fits, the approval's one VM is taken by oa-web, its second disk's volume is not approved"
cb_curl POST /v1/legacy-systems/edu-oa/plan dev-migration "$(printf %s "$PLAN" | jq -c '.vms = [{"name": "oa-db", "plan_id": "no-such-plan"}]')"
assert_eq "$CB_STATUS" 422 "an override to a plan that is not published"

# A system with only oa-web, planned cleanly, moves on.
cb_curl PUT /v1/legacy-systems/edu-oa dev-migration "$(reg edu-oa '["oa-web"]')"
assert_eq "$CB_STATUS" 200 "the team narrows edu-oa's source"
assert_jq "$CB_BODY" '[.state, (.assessment | tostring), (.plan | tostring)] | join(",")' "registered,null,null" \
        "a new source drops the assessment and the plan"
cb_curl POST /v1/legacy-systems/edu-oa/assess dev-migration
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-oa dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = assessed ] && break
        sleep 0.1
done
cb_curl POST /v1/legacy-systems/edu-oa/plan dev-migration "$PLAN"
assert_jq "$CB_BODY" '.plan.critical' false "oa-web alone: no critical concern"
for s in migrating cut-over verified; do
        cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration "{\"state\": \"$s\"}"
        assert_eq "$CB_STATUS:$(printf %s "$CB_BODY" | jq -r .state)" "200:$s" "edu-oa becomes $s"
done
# decommissioned only through the decommission, which undefines the source
# domains after the operator confirms: never by a bare state change, on any face.
for who in dev-migration dev-operator dev-authority; do
        cb_curl POST /v1/legacy-systems/edu-oa/transition $who '{"state": "decommissioned"}'
        case $who in
        dev-migration) assert_eq "$CB_STATUS" 409 "REST: the migration team cannot set decommissioned by hand" ;;
        *) assert_eq "$CB_STATUS" "$([ $who = dev-operator ] && echo 403 || echo 409)" "REST: $who cannot set decommissioned by hand" ;;
        esac
done
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration '{"state": "decommissioned"}'
assert_jq "$CB_BODY" '[.error, .field] | join(",")' "conflict,state" "the refusal names the field state"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "Art. 35: decommissioned is reached only through POST /v1/legacy-systems/edu-oa/decommission" \
        "the refusal names the article and the way that undefines the source"
refused "$MIGRATION" Conflict "D-Bus: Transition to decommissioned is refused" "$ROOT" "$MIG.Transition" \
        string:edu-oa string:decommissioned string:
ctl "$MIGRATION" migration transition edu-oa decommissioned
assert_eq "$RC" 1 "ctl: migration transition to decommissioned fails"
assert_contains "$ERR" "/decommission" "ctl: and names the decommission"
cb_curl GET /v1/legacy-systems/edu-oa dev-migration
assert_jq "$CB_BODY" .state verified "after the refusals edu-oa is still verified"
assert_contains "$(room_domains)" "oa-web" "its source domain is still defined on room-a"
cb_curl POST /v1/legacy-systems/edu-oa/decommission dev-operator '{}'
assert_eq "$CB_STATUS" 202 "the operator confirms the decommission"
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-oa dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = decommissioned ] && break
        sleep 0.1
done
assert_jq "$CB_BODY" .state decommissioned "edu-oa is decommissioned through the decommission"
assert_not_contains "$(room_domains)" "oa-web" "and its source domain is undefined on room-a"
cb_curl POST /v1/legacy-systems/edu-oa/transition dev-migration '{"state": "registered"}'
assert_eq "$CB_STATUS" 409 "decommissioned is final"

# --- the audit trail has every change -------------------------------------------------------
cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_jq "$CB_BODY" '[.records[] | select(.object == "legacy:edu-oa") | .action] | unique | join(",")' \
        "legacy.assess,legacy.create,legacy.decommission,legacy.plan,legacy.transition,legacy.update" "edu-oa's changes are on record"
assert_jq "$CB_BODY" '[.records[] | select(.object == "legacy:edu-oa" and .action == "legacy.transition" and .outcome == "ok") | .detail.to] | join(",")' \
        "migrating,cut-over,verified" "each state change is an audit record"
assert_jq "$CB_BODY" '[.records[] | select(.object == "legacy:edu-oa" and .action == "legacy.decommission" and .outcome == "ok") | .detail.to] | join(",")' \
        "decommissioned" "decommissioned is on record as the decommission's"
assert_jq "$CB_BODY" '[.records[] | select(.object == "legacy:edu-secret") | "\(.action):\(.outcome):\(.codes[0])"] | join(",")' \
        "legacy.create:denied:CLASSIFIED_SYSTEM" "the refused classified system is on record"
assert_jq "$CB_BODY" '[.records[] | select(.object == "legacy:edu-files" and .action == "legacy.transition" and .outcome == "ok") | .detail.signed_off_by] | join(",")' \
        "dev-authority" "the exemption's sign-off is on record"

# --- D-Bus ------------------------------------------------------------------------------------
ok "$MIGRATION" "D-Bus: Get" "$ROOT" "$MIG" Get s edu-oa
assert_jq "$OUT" '.[0] | fromjson | .state' decommissioned "D-Bus: the same record"
ok "$EDU" "D-Bus: List as edu" "$ROOT" "$MIG" List ssus "" "" 0 ""
assert_jq "$OUT" '.[0] | fromjson | map(.system_id) | join(",")' "edu-files,edu-oa" "D-Bus: a department lists its own"
refused "$MIGRATION" Conflict "D-Bus: a bad state change" "$ROOT" "$MIG.Transition" string:edu-oa string:failed string:x
refused "$EDU" NotFound "D-Bus: edu cannot see health's record" "$ROOT" "$MIG.Get" string:health-his
refused "$MIGRATION" PolicyDenied "D-Bus: a classified system" "$ROOT" "$MIG.Register" \
        "string:$(reg edu-secret '["oa-web"]')"
refused "$MIGRATION" InvalidField "D-Bus: an unknown field" "$ROOT" "$MIG.Register" \
        "string:$(reg edu-secret '["oa-web"]' | jq -c '.x = 1')"

# --- cloudbrokerctl --------------------------------------------------------------------------
ctl "$MIGRATION" migration list
assert_eq "$RC" 0 "ctl: migration list"
assert_contains "$OUT" "health-his" "ctl: the list names the systems"
assert_contains "$OUT" "decommissioned" "ctl: and their states"
ctl "$MIGRATION" --json migration show edu-files
assert_jq "$OUT" .state exempt "ctl: migration show"
ctl "$AUTHORITY" migration transition edu-files registered --reason "停用推迟"
assert_eq "$RC" 0 "ctl: the authority revokes the exemption"
ctl "$MIGRATION" --json migration show edu-files
assert_jq "$OUT" '[.state, (.exemption | tostring)] | join(",")' "registered,null" "ctl: edu-files is registered again"
ctl "$EDU" migration transition edu-files failed --reason x
assert_eq "$RC" 4 "ctl: a department may not move a migration (exit 4)"
reg edu-secret '["oa-web"]' >"$CB_TMP/secret.json"
ctl "$MIGRATION" migration register "$CB_TMP/secret.json"
assert_eq "$RC" 1 "ctl: a classified system is refused"
assert_contains "$ERR" "Art. 3" "ctl: the refusal names Art. 3"

# --- Art. 35 enforcement: an overdue legacy system holds back its department's orders -----------
# 2020-02-29 is a Saturday: the deadline falls due on Monday 2020-03-02.
cb_curl PUT /v1/legacy-systems/edu-files dev-migration "$(reg edu-files '["file-server"]' 2020-02-29)"
assert_eq "$CB_STATUS" 200 "the team sets edu-files' deadline"
DAYS=$(( ($(date -d "$(date +%Y-%m-%d)" +%s) - $(date -d 2020-03-02 +%s)) / 86400 ))
assert_jq "$CB_BODY" '[.due, .overdue, .days_overdue] | map(tostring) | join(",")' "2020-03-02,true,$DAYS"         "a Saturday deadline carries to Monday; overdue by calendar days"
cb_approve lf-other "临政信审〔$YEAR〕36号" edu-files '[{"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 1}]'
ORDER='{"project_id": "lf-other", "system_id": "edu-files", "service_id": "ecs-general", "plan_id": "ecs-general-2c4g"}'
cb_curl POST /v1/policy/evaluate dev-edu "$ORDER"
assert_jq "$CB_BODY" '[.allowed, (.violations | map("\(.code):\(.article)") | join("+"))] | map(tostring) | join(",")' \
        "false,MIGRATION_OVERDUE:35" "edu's new order fails with MIGRATION_OVERDUE (Art. 35)"
assert_jq "$CB_BODY" '.violations[0].message' \
        "system edu-files has not moved onto the municipal cloud; it was due by 2020-03-02" "the refusal names the system and its due day"
cb_curl POST /v1/policy/evaluate dev-edu "$(printf %s "$ORDER" | jq -c '.project_id = "lf-move" | .system_id = "edu-oa"')"
assert_jq "$CB_BODY" '[.violations[].code] | index("MIGRATION_OVERDUE")' null "an order in the migration project is not held back"
cb_curl POST /v1/policy/evaluate dev-health "$(printf %s "$ORDER" | jq -c '.project_id = "no-such"')"
assert_jq "$CB_BODY" '[.violations[].code] | index("MIGRATION_OVERDUE")' null "another department's orders are not held back"
cb_curl POST /v1/legacy-systems/edu-files/transition dev-authority '{"state": "exempt", "reason": "停用"}'
cb_curl POST /v1/policy/evaluate dev-edu "$ORDER"
assert_jq "$CB_BODY" '.allowed' true "an exempt system holds nothing back"

# --- the summary ----------------------------------------------------------------------------
cb_curl POST /v1/legacy-systems/edu-files/transition dev-authority '{"state": "registered", "reason": "停用取消"}'
cb_curl GET /v1/migrations/summary dev-migration
assert_eq "$CB_STATUS" 200 "the summary"
assert_jq "$CB_BODY" '.groups | map("\(.department)/\(.wave):\(.total):\(.done)") | join(",")' \
        "edu/w1:2:1,health/w2:1:0" "per department and wave: totals and done"
assert_jq "$CB_BODY" '.groups[0] | [.counts.decommissioned, .counts.registered, (.overdue | map("\(.system_id)=\(.days_overdue)") | join("+"))] | map(tostring) | join(",")' \
        "1,1,edu-files=$DAYS" "the counts by state, and the overdue systems with their days"
cb_curl GET /v1/migrations/summary dev-health
assert_jq "$CB_BODY" '.groups | map(.department) | join(",")' "health" "a department sees its own"
cb_curl GET "/v1/migrations/summary?department=edu" dev-health
assert_eq "$CB_STATUS" 403 "and not another's"
ctl "$MIGRATION" migration status
assert_eq "$RC" 0 "ctl: migration status"
assert_contains "$OUT" "[##########..........]  50%" "ctl: a bar per wave"
assert_contains "$OUT" "overdue: edu-files (registered) was due 2020-03-02" "ctl: the overdue systems"
ok "$EDU" "D-Bus: Summary" "$ROOT" "$MIG" Summary s ""
assert_jq "$OUT" '.[0] | fromjson | .groups | length' 1 "D-Bus: edu's summary"

# --- the move: refusals on every face (the move itself: test-migration-qemu.sh) --------------
cb_curl POST /v1/legacy-systems/edu-oa/migrate dev-edu
assert_eq "$CB_STATUS" 403 "a department does not start a move"
cb_curl POST /v1/legacy-systems/edu-oa/migrate dev-migration
assert_eq "$CB_STATUS" 409 "a decommissioned system is not moved"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "only a planned system is moved" "the refusal says why"
cb_curl POST /v1/legacy-systems/no-such/migrate dev-migration
assert_eq "$CB_STATUS" 404 "an unknown system: 404"
ctl "$MIGRATION" migration run edu-files
assert_eq "$RC" 1 "ctl: migration run of a registered system fails"
assert_contains "$ERR" "only a planned system is moved" "ctl: and says why"
ctl "$MIGRATION" migration watch edu-files
assert_eq "$RC" 1 "ctl: migration watch of a system never moved fails"
assert_contains "$ERR" "has not been moved" "ctl: and says so"

# --- a VM of two disks: its second disk is a block volume, judged by the policy engine ---
# oa-db (vda 40 GiB qcow2, vdb 30 GiB vmdk) of a system of its own. The smallest block-volume
# plan holding 30 GiB is evs-ssd-100g. The pre-flight judges it before anything moves; the
# move's start judges it again (the approval may have changed since); with it approved the
# move starts (and on the test driver, which streams no volume, fails and is rolled back:
# the copy itself is test-migration-qemu.sh's).
cb_add_system edu-db
cb_approve lf-db "临政信审〔$YEAR〕37号" edu-db '[{"service_id": "ecs-general", "plan_id": "ecs-general-4c8g", "quantity": 1}]'
cb_curl POST /v1/legacy-systems dev-migration "$(reg edu-db '["oa-db"]')"
assert_eq "$CB_STATUS" 201 "edu-db (oa-db, two disks) is registered"
cb_curl POST /v1/legacy-systems/edu-db/assess dev-migration
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-db dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = assessed ] && break
        sleep 0.1
done
DBPLAN=$(printf %s "$PLAN" | jq -c '.project_id = "lf-db"')
cb_curl POST /v1/legacy-systems/edu-db/plan dev-migration "$DBPLAN"
assert_jq "$CB_BODY" '[.plan.critical, (.plan.vms[0].concerns | map(select(.level == "critical") | "\(.disk):\(.code):\(.article)") | join("+"))] | map(tostring) | join(",")' \
        "true,vdb:ITEM_NOT_APPROVED:10" "pre-flight: the approval covers the VM but has no block volume for its second disk: critical, naming the disk"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.plan.vms[0].concerns[] | select(.disk == "vdb" and .level == "critical") | .message')" \
        "disk vdb of oa-db: Art. 10" "the concern's message names the disk and the article"
cb_curl POST /v1/legacy-systems/edu-db/migrate dev-migration
assert_eq "$CB_STATUS" 409 "the critical concern blocks the move"
cb_curl GET /v1/legacy-systems/edu-db dev-migration
assert_jq "$CB_BODY" '[.state, (.plan.run | tostring)] | join(",")' "planned,null" "nothing was written: still planned, no run"

# Budget for the whole system, not each resource alone: an approval whose budget holds the
# VM and holds the volume, but not both.
cb_approve lf-probe "临政信审〔$YEAR〕40号" edu-db '[{"service_id": "ecs-general", "plan_id": "ecs-general-4c8g", "quantity": 1},
        {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 1}]'
cost() { # SERVICE PLAN: what one costs in lf-probe
        cb_curl POST /v1/policy/evaluate dev-edu "{\"project_id\": \"lf-probe\", \"system_id\": \"edu-db\", \"service_id\": \"$1\", \"plan_id\": \"$2\"}"
        printf %s "$CB_BODY" | jq .projected_cost_fen
}
VM_FEN=$(cost ecs-general ecs-general-4c8g)
VOL_FEN=$(cost evs-block evs-ssd-100g)
echo "# one ecs-general-4c8g commits $VM_FEN fen, one evs-ssd-100g $VOL_FEN fen"
CB_APPROVE_BUDGET="{\"construction_fen\": $((VM_FEN + VOL_FEN - 1)), \"om_fen\": 0}" \
        cb_approve lf-bud "临政信审〔$YEAR〕41号" edu-db '[{"service_id": "ecs-general", "plan_id": "ecs-general-4c8g", "quantity": 1},
        {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 1}]'
cb_curl POST /v1/legacy-systems/edu-db/plan dev-migration "$(printf %s "$PLAN" | jq -c '.project_id = "lf-bud"')"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.level == "critical") | "\(.disk):\(.code):\(.article)") | join("+")' \
        "vdb:BUDGET_EXCEEDED:13" "pre-flight: the budget holds the VM and the volume each, not both: the volume's order is critical"

# The second line of defence: planned cleanly, then the approval's one volume is taken by
# another order before the move starts: the start refuses it, naming the disk, and writes nothing.
cb_approve lf-db3 "临政信审〔$YEAR〕42号" edu-db '[{"service_id": "ecs-general", "plan_id": "ecs-general-4c8g", "quantity": 1},
        {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 1}]'
cb_curl POST /v1/legacy-systems/edu-db/plan dev-migration "$(printf %s "$PLAN" | jq -c '.project_id = "lf-db3"')"
assert_jq "$CB_BODY" '.plan.critical' false "edu-db planned into lf-db3: nothing critical"
cb_curl POST /v1/resources dev-edu '{"project_id": "lf-db3", "system_id": "edu-db", "service_id": "evs-block", "plan_id": "evs-ssd-100g", "name": "taken"}'
assert_eq "$CB_STATUS" 202 "set-up: another order takes lf-db3's one volume"
TAKEN=$(printf %s "$CB_BODY" | jq -r .id)
cb_wait_state "$TAKEN" active || fail "set-up: the volume is active ($GOT)"
cb_curl POST /v1/legacy-systems/edu-db/migrate dev-migration
assert_eq "$CB_STATUS" 403 "the start judges every order again: the volume for oa-db's second disk is refused"
assert_jq "$CB_BODY" '[.error, (.violations | map("\(.code):\(.article)") | join("+"))] | join(",")' \
        "policy_denied,QUANTITY_EXCEEDED:20" "refused by the policy engine with its article"
assert_contains "$CB_BODY" "disk vdb of VM 'oa-db'" "the refusal names the disk"
cb_curl GET /v1/legacy-systems/edu-db dev-migration
assert_jq "$CB_BODY" '[.state, (.plan.run | tostring)] | join(",")' "planned,null" "nothing was written: still planned, no run"
cb_approve lf-db2 "临政信审〔$YEAR〕38号" edu-db '[{"service_id": "ecs-general", "plan_id": "ecs-general-4c8g", "quantity": 1},
        {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 1}]'
cb_curl POST /v1/legacy-systems/edu-db/plan dev-migration "$(printf %s "$PLAN" | jq -c '.project_id = "lf-db2"')"
assert_jq "$CB_BODY" '.plan.critical' false "edu-db planned into lf-db2"
cb_curl POST /v1/legacy-systems/edu-db/migrate dev-migration
assert_eq "$CB_STATUS" 202 "with the block volume approved, the move starts"
assert_jq "$CB_BODY" '.plan.run.vms[0] | [.plan_id, (.disks | length), .disks[0].dev, .disks[0].service_id, .disks[0].plan_id, .disks[0].format, .disks[0].source_volume, (.disks[0].resource_id | startswith("mig-"))] | map(tostring) | join(",")' \
        "ecs-general-4c8g,1,vdb,evs-block,evs-ssd-100g,vmdk,/var/lib/legacy/oa-data.vmdk,true" \
        "the run document names the second disk before anything moves: vdb, its plan, its own target id"
for _ in $(seq 1 $((100 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-db dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = failed ] && break
        sleep 0.1
done
assert_jq "$CB_BODY" '[.state, .plan.run.state, .plan.run.vms[0].step] | join(",")' "failed,rolled-back,rolled-back" \
        "the test driver streams no volume: rolled back, failed"
assert_eq "$(sqlite3 -batch "$CB_DB" "SELECT COUNT(*) FROM resources WHERE system_id = 'edu-db' AND id != '$TAKEN'")" 0 \
        "no resource record for the target VM or its volume (only the other order's volume)"

# --- a VM of four disks: each other disk's volume plan, its quantity, one too large ----------
# archive-server: vda 20 GiB (the system disk), vdb 50 GiB raw, vdc 80 GiB qcow2, vdd 1.5 TiB
# raw, larger than any block-volume plan (evs-sata-1t holds 1 TiB). The approval has one
# evs-ssd-100g: vdb takes it, vdc (the second of that plan) exceeds the quantity.
cb_add_system edu-arch
cb_approve lf-arch "临政信审〔$YEAR〕43号" edu-arch '[{"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 1},
        {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 1}]'
cb_curl POST /v1/legacy-systems dev-migration "$(reg edu-arch '["archive-server"]' | jq -c '.wave = "w4"')"
assert_eq "$CB_STATUS" 201 "edu-arch (archive-server, four disks) is registered"
cb_curl POST /v1/legacy-systems/edu-arch/assess dev-migration
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-arch dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = assessed ] && break
        sleep 0.1
done
ARCHPLAN=$(printf %s "$PLAN" | jq -c '.project_id = "lf-arch"')
cb_curl POST /v1/legacy-systems/edu-arch/plan dev-migration "$ARCHPLAN"
assert_eq "$CB_STATUS" 200 "edu-arch is planned"
assert_jq "$CB_BODY" '.plan.vms[0].disks | map("\(.dev):\(.plan.plan_id // "none")") | join(",")' \
        "vdb:evs-ssd-100g,vdc:evs-ssd-100g,vdd:none" "each other disk's block-volume plan: the smallest that holds it, none for vdd"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.level == "critical") | "\(.disk):\(.code)") | join(",")' \
        "vdc:QUANTITY_EXCEEDED,vdd:NO_FITTING_PLAN" "the approval's one volume goes to vdb: vdc exceeds the quantity; vdd fits no plan"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.disk == "vdc") | "\(.level):\(.code)") | join(",")' \
        "info:DISK_CONVERSION,critical:QUANTITY_EXCEEDED" "vdc's qcow2 is converted (its own concern, naming it)"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.plan.vms[0].concerns[] | select(.code == "NO_FITTING_PLAN") | .message')" \
        "no published block-volume plan holds disk vdd of archive-server (1536 GiB)" "the too-big disk is named with its size"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.code == "NO_FITTING_PLAN")) | .[0].article' 12 "NO_FITTING_PLAN rests on Art. 12"

# Overriding the volume plans as the VM plan is overridden: vdc onto evs-ssd-500g, vdd onto
# the largest plan, which is still smaller than it.
cb_approve lf-arch2 "临政信审〔$YEAR〕44号" edu-arch '[{"service_id": "ecs-general", "plan_id": "ecs-general-2c4g", "quantity": 1},
        {"service_id": "evs-block", "plan_id": "evs-ssd-100g", "quantity": 1},
        {"service_id": "evs-block", "plan_id": "evs-ssd-500g", "quantity": 1},
        {"service_id": "evs-block", "plan_id": "evs-sata-1t", "quantity": 1}]'
ARCH2=$(printf %s "$PLAN" | jq -c '.project_id = "lf-arch2" | .vms = [{"name": "archive-server", "disks": [
        {"dev": "vdc", "plan_id": "evs-ssd-500g"}, {"dev": "vdd", "service_id": "evs-block", "plan_id": "evs-sata-1t"}]}]')
cb_curl POST /v1/legacy-systems/edu-arch/plan dev-migration "$ARCH2"
assert_eq "$CB_STATUS" 200 "the volume plans are overridden"
assert_jq "$CB_BODY" '.plan.vms[0] | [.overridden, (.disks | map("\(.dev):\(.plan.plan_id):\(.overridden)") | join("+"))] | map(tostring) | join(",")' \
        "false,vdb:evs-ssd-100g:false+vdc:evs-ssd-500g:true+vdd:evs-sata-1t:true" "the plan shows each disk's plan and whether it was overridden (the VM's plan is still the suggestion)"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.level == "critical") | "\(.disk):\(.code)") | join(",")' \
        "vdd:DISK_LARGER_THAN_PLAN" "vdc now has its own approved plan; vdd is larger than the plan overriding it"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.plan.vms[0].concerns[] | select(.code == "DISK_LARGER_THAN_PLAN") | .message')" \
        "disk vdd of archive-server has 1649267441664 bytes, volume plan evs-sata-1t only 1024 GiB" "naming the disk, its size and the plan's"
cb_curl POST /v1/legacy-systems/edu-arch/migrate dev-migration
assert_eq "$CB_STATUS" 409 "the too-big disk blocks the move"
bad_disk() { # JQ_DISKS FIELD WHAT
        cb_curl POST /v1/legacy-systems/edu-arch/plan dev-migration \
                "$(printf %s "$PLAN" | jq -c --argjson d "$1" '.project_id = "lf-arch2" | .vms = [{"name": "archive-server", "disks": $d}]')"
        assert_eq "$CB_STATUS:$(printf %s "$CB_BODY" | jq -r .field)" "422:$2" "$3: 422 naming $2"
}
bad_disk '[{"dev": "vdz", "plan_id": "evs-ssd-500g"}]' vms "an override of a disk the VM does not have"
bad_disk '[{"dev": "vda", "plan_id": "evs-ssd-500g"}]' vms "an override of the system disk (the VM plan's)"
bad_disk '[{"dev": "vdc", "plan_id": "ecs-general-2c4g"}]' vms "a VM plan as a disk's volume plan"
bad_disk '[{"dev": "vdc", "plan_id": "evs-ssd-500g", "size": 1}]' "vms[0].disks[0].size" "an unknown field of a disk override"
bad_disk '[{"dev": "vdc"}]' "vms[0].disks[0].plan_id" "a disk override without its plan"
bad_disk '[{"dev": "vdc", "plan_id": "evs-ssd-500g"}, {"dev": "vdc", "plan_id": "evs-ssd-100g"}]' "vms[0].disks[1]" "a disk named twice"
cb_curl POST /v1/legacy-systems/edu-arch/plan dev-migration "$(printf %s "$PLAN" | jq -c '.project_id = "lf-arch2" | .vms = [{"name": "no-such-vm", "plan_id": "ecs-general-2c4g"}]')"
assert_eq "$CB_STATUS:$(printf %s "$CB_BODY" | jq -r .field)" "422:vms" "an override of a VM the system does not have"
cb_curl GET /v1/legacy-systems/edu-arch dev-migration
assert_jq "$CB_BODY" '.plan.vms[0].disks | map(.plan.plan_id) | join(",")' "evs-ssd-100g,evs-ssd-500g,evs-sata-1t" \
        "a refused plan request leaves the stored plan as it was"
printf %s "$ARCH2" | jq -c '.vms[0].disks = [{"dev": "vdd", "plan_id": "evs-sata-1t"}]' >"$CB_TMP/arch-plan.json"
ctl "$MIGRATION" --json migration plan edu-arch "$CB_TMP/arch-plan.json"
assert_eq "$RC" 0 "ctl: migration plan with a disk's override"
assert_jq "$OUT" '.plan.vms[0].disks | map("\(.dev):\(.plan.plan_id)") | join(",")' "vdb:evs-ssd-100g,vdc:evs-ssd-100g,vdd:evs-sata-1t" \
        "ctl: vdc is back on its suggestion, vdd on its override"
assert_jq "$OUT" '.plan.vms[0].concerns | map(select(.level == "critical") | "\(.disk):\(.code)") | join(",")' \
        "vdc:QUANTITY_EXCEEDED,vdd:DISK_LARGER_THAN_PLAN" "ctl: the concerns name the disks (lf-arch2 approves one evs-ssd-100g)"

# --- image sources: disks from a server room that no domain holds ---------------------
# On the test driver only the register, the assessment (the volumes' XML) and the
# pre-flight run: it does not stream volumes, so the copy and the conversion of a
# qcow2 image are test-migration-qemu.sh's (real libvirtd, qemu-img).
cb_add_system edu-scans
cb_add_system edu-scans2
imgreg() { # SYSTEM IMAGES_JSON [PROVIDER]
        jq -nc --arg s "$1" --argjson i "$2" --arg p "${3-room-a}" --arg dl "$YEAR-12-31" \
                '{system_id: $s, hosting: {kind: "server-room", location: "档案室机房"},
                  source: ({images: $i} + (if $p == "" then {} else {provider: $p} end)), deadline: $dl, wave: "w3"}'
}
cb_curl POST /v1/legacy-systems dev-migration "$(imgreg edu-scans '["legacy/archive.qcow2"]' | jq -c '.source.domains = ["x"]')"
assert_eq "$CB_STATUS:$(printf %s "$CB_BODY" | jq -r .field)" "422:source" "images and domains together are refused, naming source"
cb_curl POST /v1/legacy-systems dev-migration "$(imgreg edu-scans '["legacy/archive.qcow2"]' nowhere)"
assert_eq "$CB_STATUS:$(printf %s "$CB_BODY" | jq -r .field)" "422:source.provider" "images on an unknown provider are refused"
cb_curl POST /v1/legacy-systems dev-migration "$(imgreg edu-scans '["legacy/archive.qcow2"]' "")"
assert_eq "$CB_STATUS" 201 "images without a provider are registered"
cb_curl POST /v1/legacy-systems/edu-scans/assess dev-migration
assert_eq "$CB_STATUS" 501 "but not assessed: the broker reads images only from a registered provider"
assert_contains "$(printf %s "$CB_BODY" | jq -r .message)" "source.provider" "the refusal names source.provider"
cb_curl PUT /v1/legacy-systems/edu-scans dev-migration "$(imgreg edu-scans '["legacy/archive.qcow2","legacy/scan.iso","legacy/gone.img"]')"
assert_eq "$CB_STATUS" 200 "the images are on room-a's pools"
cb_curl POST /v1/legacy-systems/edu-scans/assess dev-migration
assert_eq "$CB_STATUS" 202 "their assessment starts"
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-scans dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = assessed ] && break
        sleep 0.1
done
assert_jq "$CB_BODY" '[.state, .assessment.kind] | join(",")' "assessed,images" "assessed as images"
assert_jq "$CB_BODY" '.assessment.vms[:2] | map("\(.name):\(.disks[0].format):\(.disks[0].capacity_bytes):\(.disks[0].source)") | join(",")' \
        "archive.qcow2:qcow2:21474836480:legacy/archive.qcow2,scan.iso:iso:4294967296:legacy/scan.iso" \
        "each image is a VM of one disk: its format and size from the volume"
assert_jq "$CB_BODY" '.assessment.vms[2] | [.name, .error] | join(",")' "gone.img,no volume 'legacy/gone.img' on the source host" \
        "an image the host does not have is listed with the reason"
cb_approve lf-img "临政信审〔$YEAR〕39号" edu-scans '[{"service_id": "ecs-general", "plan_id": "ecs-general-1c2g", "quantity": 2}]'
IMGPLAN='{"project_id": "lf-img", "target": {"provider": "dev-test", "pool": "default", "network": "default"}}'
cb_curl POST /v1/legacy-systems/edu-scans/plan dev-migration "$IMGPLAN"
assert_eq "$CB_STATUS" 200 "the images are planned"
assert_jq "$CB_BODY" '[.plan.vms[].concerns[].code] | index("MIGRATION_OVERDUE")' null \
        "edu-files is overdue, yet the target order of a migration plan is not held back (it is what Art. 35 asks for)"
assert_jq "$CB_BODY" '.plan.vms | map("\(.name)=\(.plan.plan_id)") | join(",")' \
        "archive.qcow2=ecs-general-1c2g,scan.iso=ecs-general-1c2g,gone.img=null" "the smallest plan holding each disk"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map("\(.level):\(.code)") | join(",")' "info:DISK_CONVERSION" \
        "a qcow2 image: converted to raw on the target, an info"
assert_jq "$CB_BODY" '.plan.vms[1].concerns | map(select(.level == "critical") | .code) | join(",")' "DISK_FORMAT_UNKNOWN" \
        "an image in a format the move cannot convert: critical"
assert_contains "$(printf %s "$CB_BODY" | jq -r '.plan.vms[1].concerns[0].message')" "'iso'" "naming the format"
assert_jq "$CB_BODY" '.plan.vms[2].concerns | map(select(.level == "critical") | .code) | join(",")' "SOURCE_UNREACHABLE" \
        "the missing image: unreachable"
cb_curl POST /v1/legacy-systems/edu-scans/migrate dev-migration
assert_eq "$CB_STATUS" 409 "the critical concerns block the move"
# The same image in another system's plan is critical.
cb_curl PUT /v1/legacy-systems/edu-scans dev-migration "$(imgreg edu-scans '["legacy/archive.qcow2"]')"
cb_curl POST /v1/legacy-systems/edu-scans/assess dev-migration
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-scans dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = assessed ] && break
        sleep 0.1
done
cb_curl POST /v1/legacy-systems/edu-scans/plan dev-migration "$IMGPLAN"
assert_jq "$CB_BODY" .plan.critical false "the qcow2 image alone plans without a critical concern"
cb_curl POST /v1/legacy-systems dev-migration "$(imgreg edu-scans2 '["legacy/archive.qcow2"]')"
cb_curl POST /v1/legacy-systems/edu-scans2/assess dev-migration
for _ in $(seq 1 $((50 * CB_SLOW))); do
        cb_curl GET /v1/legacy-systems/edu-scans2 dev-migration
        [ "$(printf %s "$CB_BODY" | jq -r .state)" = assessed ] && break
        sleep 0.1
done
cb_curl POST /v1/legacy-systems/edu-scans2/plan dev-migration "$IMGPLAN"
assert_jq "$CB_BODY" '.plan.vms[0].concerns | map(select(.code == "ALREADY_PLANNED") | .message) | .[0]' \
        "archive.qcow2 is already in the plan of legacy system edu-scans" "an image in another system's plan is ALREADY_PLANNED"

# The daemon kept serving through every refusal.
cb_curl GET /v1/health ""
assert_eq "$CB_STATUS" 200 "the daemon still serves"
cb_stop_daemon
cb_done
