#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's walk-through, run as written: every ```sh block that follows a
# line `<!-- walkthrough -->` in README.md, in order, in one bash, against a
# daemon on the dev config (etc/cloudbroker.conf) with a fresh database, a
# free loopback port and a private bus. So a route, field, file or answer
# that changes without the README makes this test fail.
#
# What the test changes, and nothing else:
# - CB_URL is set to its daemon's URL before the blocks run (the README
#   defaults it to http://127.0.0.1:8080, where `make run` listens).
# - The blocks run in a scratch folder whose `build` is the build under test,
#   `etc` this repository's etc/, and `var/bus-address` the private bus's
#   address (where `make run` writes its own), with TMPDIR inside the test's
#   folder.
# - `curl` is wrapped by a function that checks each call and then runs the
#   real curl: its URL must start with $CB_URL (nothing may reach another
#   daemon, e.g. someone's `make run` on 8080), and a call that sends a body
#   must say `Content-Type: application/json`.
#
# What it checks: every block exits 0 with nothing on stderr; every comment
# line of a block that starts with `{` or `"` appears verbatim in the
# block's output (`...` skips a part); and, from the daemon's own record
# after each block, that the walk-through's VM became active, then stopped,
# then deleted, that its refusal named QUANTITY_EXCEEDED and Art. 20 and
# created nothing, and that the audit trail and the provider agree.
#
# Usage (from the repository root): tests/integration/test-readme.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"

README=README.md
RUN=$CB_TMP/walk
mkdir -p "$RUN/blocks" "$RUN/repo/var" "$RUN/tmp"

# --- the blocks, as written ---------------------------------------------------

# Writes each marked block to blocks/N.sh; a marker not followed by a ```sh
# fence, or a fence never closed, is an error of the README.
if awk -v dir="$RUN/blocks" '
        marked && !inside { if ($0 == "```sh") { inside = 1; n++; file = sprintf("%s/%02d.sh", dir, n); printf "" > file; next }
                            print "marker at line " NR - 1 " is not followed by a ```sh fence" > "/dev/stderr"; bad = 1; marked = 0 }
        inside { if ($0 == "```") { inside = 0; marked = 0; close(file); next } print >> file; next }
        $0 == "<!-- walkthrough -->" { marked = 1 }
        END { if (inside) { print "walkthrough block " n " is not closed" > "/dev/stderr"; bad = 1 } exit bad }
' "$README" 2>"$RUN/extract.err"; then
        pass "README.md: every walkthrough marker opens a closed \`\`\`sh block"
else
        fail "README.md: $(cat "$RUN/extract.err")"
fi
mapfile -t BLOCKS < <(find "$RUN/blocks" -name '*.sh' | sort)
NB=${#BLOCKS[@]}
if [ "$NB" -ge 6 ]; then pass "README.md has $NB walkthrough blocks"; else fail "README.md has only $NB walkthrough blocks"; fi

# Every sh example that talks to the daemon is one the test runs.
unmarked=$(awk '
        $0 == "<!-- walkthrough -->" { marked = 1; next }
        $0 == "```sh" { inside = 1; m = marked; next }
        inside && $0 == "```" { inside = 0; marked = 0; next }
        inside && !m && /curl|busctl|cloudbrokerctl [a-z]/ { print NR ": " $0 }
        !inside && NF { marked = 0 }
' "$README")
assert_eq "$unmarked" "" "README.md: every sh block that calls curl, busctl or cloudbrokerctl is a walkthrough block"

# The README's default URL is where the dev config listens.
if grep -q '^  listen = "127.0.0.1:8080";' etc/cloudbroker.conf && grep -q 'CB_URL=${CB_URL:-http://127.0.0.1:8080}' "$README"; then
        pass "README's default CB_URL is the dev config's rest.listen"
else
        fail "README's CB_URL default and etc/cloudbroker.conf's rest.listen differ"
fi

# The examples fit the shipped catalogue, and docs/approvals.md shows the same document.
missing=$(jq -r '.items[] | "\(.service_id) \(.plan_id)"' etc/examples/approval-edu.json | while read -r svc plan; do
        jq -e --arg p "$plan" 'any(.plans[]; .id == $p)' "etc/catalog/$svc.json" >/dev/null 2>&1 || echo "$svc/$plan"
done)
assert_eq "$missing" "" "every plan etc/examples/approval-edu.json names is in etc/catalog/"
doc=$(awk '/^```json$/ { on = 1; next } on && /^```$/ { exit } on' docs/approvals.md)
assert_eq "$(printf %s "$doc" | jq -S . 2>&1)" "$(jq -S . etc/examples/approval-edu.json)" \
        "docs/approvals.md's example document is etc/examples/approval-edu.json"
assert_eq "$(jq -r '[.project_id, .system_id] | join(" ")' etc/examples/resource-edu-web.json)" \
        "$(jq -r '[.project_id, .systems[0]] | join(" ")' etc/examples/approval-edu.json)" \
        "the resource request names the approval's project and system"
assert_eq "$(jq -r .id etc/examples/system-edu-portal.json)" "$(jq -r '.systems[0]' etc/examples/approval-edu.json)" \
        "the system example is the one the approval names"

# --- a daemon on the dev config ---------------------------------------------------

cb_start_bus
# The dev config's http providers are the test OSB provider on
# 127.0.0.1:8090 (make run starts it there); this daemon gets one of its
# own on a free port: the dev config as it is but for that port, in a copy
# of etc/ whose other entries are links, so its relative paths still hold.
cb_start_osb_provider --password dev-osb-provider
mkdir "$CB_TMP/etc"
for f in etc/*; do ln -s "$(pwd)/$f" "$CB_TMP/etc/"; done
rm "$CB_TMP/etc/cloudbroker.conf"
grep -q '"http://127.0.0.1:8090"' etc/cloudbroker.conf &&
        pass "the dev config's http providers are where make run starts the test provider" ||
        fail "etc/cloudbroker.conf names no http provider at http://127.0.0.1:8090"
sed "s#\"http://127.0.0.1:8090\"#\"$OSB_URL\"#" etc/cloudbroker.conf >"$CB_TMP/etc/cloudbroker.conf"
CB_CONFIG=$CB_TMP/etc/cloudbroker.conf cb_start_daemon
cb_wait_provider linfen-saas && pass "the dev config's linfen-saas is connected" || fail "linfen-saas connects"
ln -s "$CB_BUILD" "$RUN/repo/build"
ln -s "$(pwd)/etc" "$RUN/repo/etc"
printf '%s\n' "$CB_BUS_ADDRESS" >"$RUN/repo/var/bus-address"

# --- the runner: one bash, the blocks in order ------------------------------------

cat >"$RUN/runner.sh" <<'SH'
# Generated by tests/integration/test-readme.sh: runs the README's blocks.
__walk=$1
__daemon=$2
cd "$__walk/repo" || exit 1
# Checks a curl call, then makes it.
curl() {
        local a prev= url= body=0 ctype=0
        for a in "$@"; do
                case "$prev" in -H | --header) case "$a" in [Cc]ontent-[Tt]ype:\ application/json*) ctype=1 ;; esac ;; esac
                case "$a" in -d | --data | --data-binary | --data-raw | --data-urlencode | -F | --form | -T | --upload-file) body=1 ;; esac
                case "$a" in http://* | https://*) url=$a ;; esac
                prev=$a
        done
        if [ -z "$url" ] || [ "${url#"$CB_URL"/}" = "$url" ]; then
                echo "curl to '$url', not under \$CB_URL ($CB_URL): curl $*" >>"$__walk/curl-violations"
                return 1
        fi
        if [ "$body" = 1 ] && [ "$ctype" = 0 ]; then
                echo "curl sends a body without Content-Type: application/json: curl $*" >>"$__walk/curl-violations"
        fi
        echo "$*" >>"$__walk/curl-calls"
        command curl "$@"
}
__after() {
        echo "$2" >"$__walk/rc-$1"
        command curl -s --max-time 10 -H 'Authorization: Bearer dev-operator' "$__daemon/v1/resources" >"$__walk/snap-$1.json"
}
: >"$__walk/curl-violations"
: >"$__walk/curl-calls"
SH
for b in "${BLOCKS[@]}"; do
        n=$(basename "$b" .sh)
        printf '. %q >%q 2>%q </dev/null; __after %s $?\n' "$b" "$RUN/out-$n" "$RUN/err-$n" "$n" >>"$RUN/runner.sh"
done

# The README sets CB_URL only when it is unset: this is the one substitution.
rc=0
env CB_URL="$CB_URL" TMPDIR="$RUN/tmp" timeout --kill-after=5s 240s bash --norc --noprofile "$RUN/runner.sh" "$RUN" "$CB_URL" ||
        rc=$?
assert_eq "$rc" 0 "the walk-through runs to its end within 240 s"

# --- each block -------------------------------------------------------------------

# expected_lines BLOCK: the comment lines that show output, without "# ".
expected_lines() {
        sed -n 's/^[[:space:]]*# \([{"].*\)$/\1/p' "$1"
}

# line_in FILE EXPECTED: EXPECTED is a whole line of FILE, "..." matching anything.
line_in() {
        local pat=$2 line
        pat=${pat//\\/\\\\}
        pat=${pat//\*/\\*}
        pat=${pat//\?/\\?}
        pat=${pat//\[/\\[}
        pat=${pat//.../*}
        while IFS= read -r line; do
                # shellcheck disable=SC2053
                [[ $line == $pat ]] && return 0
        done <"$1"
        return 1
}

for b in "${BLOCKS[@]}"; do
        n=$(basename "$b" .sh)
        what="block $n ($(grep -m1 -v '^[[:space:]]*$' "$b" | cut -c1-60))"
        assert_eq "$(cat "$RUN/rc-$n" 2>/dev/null || echo 'did not run')" 0 "$what exits 0"
        assert_eq "$(cat "$RUN/err-$n" 2>/dev/null)" "" "$what writes nothing to stderr"
        while IFS= read -r want; do
                if line_in "$RUN/out-$n" "$want"; then
                        pass "$what prints: $(printf %s "$want" | cut -c1-100)"
                else
                        fail "$what does not print the line its comment shows: $want (output: $(head -c 600 "$RUN/out-$n"))"
                fi
        done < <(expected_lines "$b")
done

assert_eq "$(cat "$RUN/curl-violations")" "" "every curl goes to \$CB_URL and every body is sent as application/json"
ncalls=$(wc -l <"$RUN/curl-calls")
if [ "$ncalls" -ge 15 ]; then pass "the walk-through made $ncalls curl calls"; else fail "only $ncalls curl calls ran"; fi

ALL=$(cat "$RUN"/out-*)

# --- what it did, from the daemon's record ----------------------------------------

assert_contains "$ALL" '"ecs-general-2c4g"' "the catalogue shows the plan the examples name"
assert_contains "$ALL" '{"status":"published","signoffs"' "the drafted service is published after both sign-offs"
assert_contains "$ALL" "legacy-oa-server" "cloudbrokerctl and the inventory list over the bus and REST"

# The states of the walk-through's VM after each block, repeats folded.
states=
count_max=0
for b in "${BLOCKS[@]}"; do
        n=$(basename "$b" .sh)
        snap=$(cat "$RUN/snap-$n.json" 2>/dev/null || echo '{}')
        c=$(printf %s "$snap" | jq '[.resources[] | select(.service_id == "ecs-general")] | length' 2>/dev/null || echo -1)
        [ "$c" -gt "$count_max" ] && count_max=$c
        s=$(printf %s "$snap" | jq -r '[.resources[]? | select(.name == "门户web-1") | .state] | first // "none"' 2>/dev/null || echo error)
        [ "$s" = "${states##* }" ] || states="$states $s"
done
assert_eq "${states# }" "none active stopped deleted" "the walk-through's VM becomes active, then stopped, then deleted"
assert_eq "$count_max" 1 "there is never more than the one VM: the refusal created nothing"

cb_curl GET /v1/resources dev-operator
VM=$(printf %s "$CB_BODY" | jq -r '.resources[] | select(.name == "门户web-1") | .id')
assert_jq "$CB_BODY" '.resources[] | select(.name == "门户web-1") | [.project_id, .system_id, .plan_id, .state] | join(" ")' \
        "edu-cloud edu-portal ecs-general-2c4g deleted" "the VM is the example's request, now deleted"
assert_jq "$CB_BODY" '[.resources[] | select(.service_id != "ecs-general") | "\(.name) \(.provider) \(.plan_id) \(.state)"] | sort | join(",")' \
        "门户db-1 linfen-paas rds-mysql-2c4g deleted,门户oa-1 linfen-saas saas-oa-100 active" \
        "the database was built at linfen-paas and deleted, the OA subscription is active at linfen-saas"
OA=$(printf %s "$CB_BODY" | jq -r '.resources[] | select(.name == "门户oa-1") | .id')
assert_jq "$(osb_control)" '[.instances[].id] | join(",")' "$OA" \
        "the test provider holds exactly the OA instance: the database's is gone, nothing leaked"

refusal=$(grep -h -A1 '^"policy_denied"$' "$RUN"/out-* | sed -n 2p)
assert_jq "$refusal" '[.code, .article] | join(" ")' "QUANTITY_EXCEEDED 20" "the refusal names QUANTITY_EXCEEDED and Art. 20"

cb_curl GET /v1/audit dev-auditor
assert_jq "$CB_BODY" '[.records[] | select(.action == "resource.request" and .outcome == "denied") | .codes[]] | join(",")' \
        QUANTITY_EXCEEDED "the audit trail has the refused request with its rule"
assert_jq "$CB_BODY" "[.records[] | select(.object == \"resource:$VM\" or .detail.resource? == \"$VM\") | .action] | map(select(. == \"resource.request\" or . == \"resource.stop\" or . == \"resource.delete\")) | join(\",\")" \
        "resource.request,resource.stop,resource.delete" "the audit trail has the VM's request, stop and delete"

cb_curl GET /v1/providers/dev-test/inventory dev-operator
assert_jq "$CB_BODY" '[.domains[] | select(.managed)] | length' 0 "the provider has no domain of the broker left"

cb_curl GET /v1/projects/edu-cloud dev-operator
assert_eq "$CB_STATUS" 200 "the example's project exists"
assert_jq "$CB_BODY" .department edu "it is department edu's"

cb_stop_daemon
cb_done
