#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# docs/openapi.yaml against the daemon it describes:
#   1. every route `cloudbrokerd --list-routes` prints is a documented
#      operation (same method, same path template, same {param} names), and
#      every documented operation is served;
#   2. the document keeps its layout convention (header of the yaml) and is
#      structurally sane: each operation has summary, operationId (unique),
#      security and responses; every $ref and security scheme exists; every
#      {param} of a path is declared; authenticated operations list 401,
#      operations with a body list 400, 413 and 415;
#   3. a few documented answers are what the running daemon really answers.
#
# The YAML is read with awk on its fixed indentation: no python or yq, which
# a fresh Debian 12 does not have.
#
# Usage (from the repository root):
#   tests/integration/test-openapi.sh [BUILD_DIR]
#   OPENAPI=/tmp/copy.yaml tests/integration/test-openapi.sh   # check another copy

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"

DOC=${OPENAPI:-docs/openapi.yaml}
if [ ! -r "$DOC" ]; then
        fail "cannot read $DOC"
        cb_done
fi

# One record a line, fields separated by single spaces:
#   OP METHOD PATH LINE        an operation
#   FIELD METHOD PATH KEY      a key of an operation (6 spaces)
#   STATUS METHOD PATH CODE    a response code of an operation (8 spaces)
#   SEC METHOD PATH SCHEME     a security requirement of an operation
#   PNAME PATH NAME            a parameter name declared inline under a path
#   PREF PATH NAME             a components/parameters reference under a path
#   DEF KIND NAME              a component (#/components/KIND/NAME)
#   CPARAM NAME PARAMNAME IN   a component parameter's name and location
#   OPID METHOD PATH ID        an operationId
#   REF LINE TARGET            a $ref
#   ERRCODE CODE               an entry of the Error schema's error enum
#   TOP KEY                    a top-level key
#   BAD LINE WHY               a line that breaks the convention
parse_doc() {
        awk '
        function indent(s) { match(s, /^ */); return RLENGTH }
        function key_of(s,   k) { k = s; sub(/^- /, "", k); sub(/:.*/, "", k); return k }
        function value_of(s,   v) { v = s; sub(/^[^:]*:[ ]*/, "", v); gsub(/^["\047]|["\047]$/, "", v); return v }
        BEGIN { sect = ""; path = ""; method = ""; field = ""; blk = -1; comp = ""; cname = ""; inerr = 0 }
        /\t/ { print "BAD " NR " tab-character" }
        /^[ ]*$/ { next }
        {
                ind = indent($0)
                if (blk >= 0) {
                        if (ind > blk)
                                next # inside a block scalar (| or >)
                        blk = -1
                }
        }
        /^[ ]*#/ { next }
        {
                line = substr($0, ind + 1)
                if (line ~ /:[ ]*[|>][-+]?[ ]*$/)
                        blk = ind
                if (line ~ /\$ref:/) {
                        t = line
                        sub(/.*\$ref:[ ]*/, "", t)
                        gsub(/["\047]/, "", t)
                        print "REF " NR " " t
                }
        }
        ind == 0 {
                if (line !~ /^[a-z]+:/) {
                        print "BAD " NR " top-level-line-is-not-a-key"
                        next
                }
                sect = key_of(line)
                print "TOP " sect
                path = method = field = comp = cname = ""
                next
        }
        sect == "paths" && ind == 2 {
                if (line !~ /^\/[A-Za-z0-9_.{}\/-]*:$/) {
                        print "BAD " NR " path-key-not-in-the-form-/x/{y}:"
                        path = ""
                        next
                }
                path = substr(line, 1, length(line) - 1)
                method = field = ""
                next
        }
        sect == "paths" && ind == 4 && path != "" {
                k = key_of(line)
                if (k ~ /^(get|put|post|delete|patch|head|options|trace)$/ && line == k ":") {
                        method = toupper(k)
                        field = ""
                        print "OP " method " " path " " NR
                } else if (k ~ /^(summary|description|parameters|servers)$/) {
                        method = ""
                        field = k
                } else
                        print "BAD " NR " unexpected-path-item-key-" k
                next
        }
        sect == "paths" && ind == 6 && path != "" && method != "" {
                if (line ~ /^- /) {
                        print "BAD " NR " list-item-at-operation-level"
                        next
                }
                field = key_of(line)
                print "FIELD " method " " path " " field
                if (field == "operationId")
                        print "OPID " method " " path " " value_of(line)
                next
        }
        sect == "paths" && ind == 8 && method != "" && field == "responses" {
                k = key_of(line)
                if (line !~ /^\047([1-5][0-9][0-9]|default)\047:$/) {
                        print "BAD " NR " response-code-not-quoted-3-digits-" k
                        next
                }
                gsub(/\047/, "", k)
                print "STATUS " method " " path " " k
                next
        }
        sect == "paths" && ind == 8 && method != "" && field == "security" {
                if (line ~ /^- [A-Za-z0-9_]+:/)
                        print "SEC " method " " path " " key_of(line)
                next
        }
        sect == "paths" && path != "" {
                if (line ~ /^(- )?name:[ ]/)
                        print "PNAME " path " " value_of(line)
                if (line ~ /\$ref:.*#\/components\/parameters\//) {
                        t = line
                        sub(/.*#\/components\/parameters\//, "", t)
                        gsub(/["\047]/, "", t)
                        print "PREF " path " " t
                }
                next
        }
        sect == "components" && ind == 2 { comp = key_of(line); cname = ""; inerr = 0; next }
        sect == "components" && ind == 4 {
                cname = key_of(line)
                print "DEF " comp " " cname
                inerr = 0
                next
        }
        sect == "components" && comp == "parameters" && ind == 6 {
                if (line ~ /^name:/)
                        pname[cname] = value_of(line)
                if (line ~ /^in:/)
                        pin[cname] = value_of(line)
                next
        }
        sect == "components" && comp == "schemas" && cname == "Error" {
                if (ind == 8)
                        inerr = (line ~ /^error:/)
                else if (inerr && ind == 10 && line ~ /^enum:/)
                        inerr = 2
                else if (inerr == 2 && ind == 12 && line ~ /^- /) {
                        c = line
                        sub(/^- /, "", c)
                        print "ERRCODE " c
                } else if (ind <= 10)
                        inerr = inerr && ind > 8
                next
        }
        END {
                for (n in pname)
                        print "CPARAM " n " " pname[n] " " ((n in pin) ? pin[n] : "?")
        }
        ' "$1"
}

PARSED=$CB_TMP/doc.parsed
parse_doc "$DOC" >"$PARSED"

# rec KIND: the records of one kind, without the kind.
rec() {
        awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print }' "$PARSED"
}

# ---- 1. the document against the route table ----

"$CB_BUILD/cloudbrokerd" --list-routes | LC_ALL=C sort >"$CB_TMP/served"
rec OP | awk '{ print $1, $2 }' | LC_ALL=C sort >"$CB_TMP/documented"

if [ ! -s "$CB_TMP/served" ]; then
        fail "cloudbrokerd --list-routes printed no route"
fi
if [ ! -s "$CB_TMP/documented" ]; then
        fail "no operation found in $DOC (layout convention broken?)"
fi

missing=$(LC_ALL=C comm -23 "$CB_TMP/served" "$CB_TMP/documented")
extra=$(LC_ALL=C comm -13 "$CB_TMP/served" "$CB_TMP/documented")
if [ -z "$missing" ]; then
        pass "every served route ($(wc -l <"$CB_TMP/served")) is documented in $DOC"
else
        while IFS= read -r r; do
                fail "served but not documented in $DOC: $r"
        done <<<"$missing"
fi
if [ -z "$extra" ]; then
        pass "every documented operation ($(wc -l <"$CB_TMP/documented")) is served"
else
        while IFS= read -r r; do
                fail "documented but not served by cloudbrokerd: $r"
        done <<<"$extra"
fi
dups=$(uniq -d "$CB_TMP/documented")
if [ -z "$dups" ]; then
        pass "no operation is documented twice"
else
        fail "documented twice (duplicate path keys?): $(echo "$dups" | tr '\n' ';')"
fi

# ---- 2. structure ----

bad=$(rec BAD)
if [ -z "$bad" ]; then
        pass "$DOC keeps the layout convention"
else
        while IFS= read -r b; do
                fail "$DOC line ${b%% *}: ${b#* }"
        done <<<"$bad"
fi

for k in openapi info servers paths components; do
        if rec TOP | grep -qx "$k"; then pass "top-level key $k"; else fail "no top-level key $k"; fi
done
assert_eq "$(grep -c '^openapi: 3\.0\.3$' "$DOC" || true)" 1 "openapi: 3.0.3"
assert_eq "$(grep -Ec '^  title: cloudbroker$|^  version: 0\.1\.0$' "$DOC" || true)" 2 "info title and version"
assert_eq "$(grep -c '^  - url: http://127\.0\.0\.1:8080$' "$DOC" || true)" 1 "server http://127.0.0.1:8080"

# One file per record kind, so each check below is one awk join.
for k in OP FIELD STATUS SEC PNAME PREF DEF CPARAM REF OPID ERRCODE; do
        rec "$k" >"$CB_TMP/rec.$k"
done
status=$CB_TMP/rec.STATUS

# Every operation: summary, operationId, security and responses; a 2xx or
# 3xx answer; defined security schemes, and 401 when it has one; 400, 413
# and 415 when it takes a body.
op_problems=$(awk '
        FILENAME ~ /rec\.FIELD$/ { field[$1 " " $2 " " $3] = 1; next }
        FILENAME ~ /rec\.STATUS$/ { st[$1 " " $2 " " $3] = 1; if ($3 ~ /^[23]/) ok[$1 " " $2] = 1; next }
        FILENAME ~ /rec\.DEF$/ { if ($1 == "securitySchemes") scheme[$2] = 1; next }
        FILENAME ~ /rec\.SEC$/ { sec[$1 " " $2] = sec[$1 " " $2] " " $3; next }
        FILENAME ~ /rec\.OP$/ {
                op = $1 " " $2
                n = split("summary operationId security responses", need, " ")
                for (i = 1; i <= n; i++)
                        if (!((op " " need[i]) in field))
                                print op ": no " need[i]
                if (!(op in ok))
                        print op ": no 2xx or 3xx response"
                n = split(sec[op], s, " ")
                for (i = 1; i <= n; i++) {
                        if (!(s[i] in scheme))
                                print op ": security scheme " s[i] " is not defined"
                        if (!((op " 401") in st))
                                print op ": authenticated by " s[i] " but no 401 documented"
                }
                if ((op " requestBody") in field) {
                        if (!((op " 400") in st))
                                print op ": takes a body but no 400 documented"
                        if (!((op " 413") in st))
                                print op ": takes a body but no 413 documented"
                        if (!((op " 415") in st))
                                print op ": takes a body but no 415 documented"
                }
        }
' "$CB_TMP/rec.FIELD" "$status" "$CB_TMP/rec.DEF" "$CB_TMP/rec.SEC" "$CB_TMP/rec.OP")
if [ -z "$op_problems" ]; then
        pass "every operation has summary, operationId, security, responses and the codes its auth and body imply"
else
        while IFS= read -r x; do fail "$x"; done <<<"$op_problems"
fi

dupids=$(awk '{ print $3 }' "$CB_TMP/rec.OPID" | sort | uniq -d)
if [ -z "$dupids" ]; then
        pass "operationIds are unique"
else
        fail "operationIds used twice: $(echo "$dupids" | tr '\n' ' ')"
fi
assert_eq "$(wc -l <"$CB_TMP/rec.OPID")" "$(wc -l <"$CB_TMP/rec.OP")" "one operationId per operation"

ref_problems=$(awk '
        FILENAME ~ /rec\.DEF$/ { def[$1 "/" $2] = 1; next }
        {
                t = $2
                if (t !~ /^#\/components\/[A-Za-z]+\/[A-Za-z0-9_.-]+$/)
                        print "line " $1 ": $ref " t " is not a local #/components reference"
                else if (!(substr(t, 14) in def))
                        print "line " $1 ": $ref " t " is not defined"
        }
' "$CB_TMP/rec.DEF" "$CB_TMP/rec.REF")
if [ -z "$ref_problems" ]; then
        pass "every \$ref names a defined component"
else
        while IFS= read -r x; do fail "$x"; done <<<"$ref_problems"
fi

# {param} of a path: declared inline under the path, or by a referenced
# components/parameters entry with that name and in: path.
param_problems=$(awk '
        FILENAME ~ /rec\.PNAME$/ { declared[$1 " " $2] = 1; next }
        FILENAME ~ /rec\.CPARAM$/ { if ($3 == "path") cparam[$1] = $2; next }
        FILENAME ~ /rec\.PREF$/ { if ($2 in cparam) declared[$1 " " cparam[$2]] = 1; next }
        FILENAME ~ /rec\.OP$/ {
                p = $2
                rest = p
                while (match(rest, /\{[^}]*\}/)) {
                        name = substr(rest, RSTART + 1, RLENGTH - 2)
                        if (!((p " " name) in declared) && !seen[p " " name]++)
                                print p ": path parameter {" name "} is not declared"
                        rest = substr(rest, RSTART + RLENGTH)
                }
        }
' "$CB_TMP/rec.PNAME" "$CB_TMP/rec.CPARAM" "$CB_TMP/rec.PREF" "$CB_TMP/rec.OP")
if [ -z "$param_problems" ]; then
        pass "every {param} of a path is declared"
else
        while IFS= read -r x; do fail "$x"; done <<<"$param_problems"
fi

# ---- 3. the running daemon answers as documented ----

unset CB_BUS_ADDRESS
cb_start_daemon

# doc_status METHOD TEMPLATE CODE MSG: the document lists CODE for the operation.
doc_status() {
        if grep -qxF "$1 $2 $3" "$status"; then
                pass "documented: $1 $2 -> $3 ($4)"
        else
                fail "$1 $2 does not document $3 ($4)"
        fi
}

# expect METHOD TEMPLATE URL_PATH TOKEN CODE MSG [BODY [curl args]]: documented and really answered.
expect() {
        local m=$1 tpl=$2 url=$3 token=$4 code=$5 msg=$6
        shift 6
        doc_status "$m" "$tpl" "$code" "$msg"
        # curl leaves -o untouched when no body arrives (304): no stale body.
        rm -f "$CB_TMP/resp.body"
        cb_curl "$m" "$url" "$token" "$@"
        assert_eq "$CB_STATUS" "$code" "daemon: $m $url -> $code ($msg)"
        if [ "${code:0:1}" = 4 ] || [ "${code:0:1}" = 5 ]; then
                local e
                e=$(printf %s "$CB_BODY" | jq -r '.error // empty' 2>/dev/null || true)
                if grep -qxF "$e" "$CB_TMP/rec.ERRCODE"; then
                        pass "error code '$e' is in the Error schema"
                elif [ "$m $tpl" = "GET /v2/catalog" ] && [ "$e" = PreconditionFailed ]; then
                        pass "OSB 412 carries PreconditionFailed"
                else
                        fail "error code '$e' of $m $url is not in the Error schema"
                fi
        fi
}

expect GET /v1/health /v1/health "" 200 "health, no token"
assert_jq "$CB_BODY" .status ok "health says ok"
expect GET /v1/whoami /v1/whoami dev-edu 200 "whoami"
assert_jq "$CB_BODY" .department edu "whoami names the department"

expect GET /v1/catalog /v1/catalog "" 401 "catalogue without a token"
assert_contains "$CB_HEADERS" 'WWW-Authenticate: Bearer realm="cloudbroker"' "401 carries the Bearer challenge"
expect GET /v1/catalog /v1/catalog dev-operator 200 "catalogue as dev-operator"
etag=$(printf '%s\n' "$CB_HEADERS" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }')
if [[ "$etag" =~ ^\"[0-9a-f]{32}\"$ ]]; then pass "ETag as documented: $etag"; else fail "ETag '$etag' not as documented"; fi
assert_contains "$CB_HEADERS" "Cache-Control: no-cache" "catalogue is Cache-Control: no-cache"
expect GET /v1/catalog /v1/catalog dev-operator 304 "If-None-Match with the current ETag" "" -H "If-None-Match: $etag"
assert_eq "$CB_BODY" "" "304 has no body"
assert_contains "$CB_HEADERS" "ETag: $etag" "304 repeats the ETag"
expect GET /v1/catalog /v1/catalog "" 401 "a conditional request still needs a token" "" -H "If-None-Match: $etag"

expect GET "/v1/catalog/services/{id}" /v1/catalog/services/no-such-service dev-operator 404 "unknown service"
assert_jq "$CB_BODY" .error not_found "404 is not_found"
expect GET "/v1/catalog/services/{id}" "/v1/catalog/services/ecs-general?revision=0" dev-edu 400 "revision=0"
assert_jq "$CB_BODY" .field revision "400 names the revision field"
expect GET /v1/catalog/services /v1/catalog/services dev-edu 403 "drafts are for insiders"
expect POST /v1/catalog/services /v1/catalog/services dev-operator 400 "malformed JSON" '{"id":'
assert_jq "$CB_BODY" .error malformed_json "malformed_json"
expect POST /v1/catalog/services /v1/catalog/services dev-operator 422 "an empty service" '{}'
assert_jq "$CB_BODY" .error invalid_field "invalid_field"
expect POST "/v1/catalog/services/{id}/submit" /v1/catalog/services/ecs-general/submit dev-operator 409 \
        "submit a published service"

head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'x' >"$CB_TMP/big.body"
expect POST /v1/policy/evaluate /v1/policy/evaluate dev-edu 413 "a body over rest.max_body_bytes" "@$CB_TMP/big.body"

expect GET /v1/providers /v1/providers dev-operator 200 "providers as dev-operator"
expect GET "/v1/operations/{id}" /v1/operations/op-0000000000000000 dev-operator 404 "unknown operation"
expect GET "/v1/providers/{name}/inventory" /v1/providers/no-such-provider/inventory dev-operator 404 \
        "inventory of an unknown provider"

expect GET /v2/catalog /v2/catalog "" 401 "OSB without basic auth"
assert_contains "$CB_HEADERS" 'WWW-Authenticate: Basic realm="cloudbroker-osb"' "OSB 401 carries the Basic challenge"
expect GET /v2/catalog /v2/catalog "" 412 "OSB without X-Broker-API-Version" "" -u osb:dev-osb
expect GET /v2/catalog /v2/catalog "" 200 "OSB catalog 2.17" "" -u osb:dev-osb -H "X-Broker-API-Version: 2.17"
assert_jq "$CB_BODY" '.services | length > 0' true "OSB catalog lists services"

# The generic answers described in info.description.
cb_curl DELETE /v1/catalog/services/ecs-general dev-operator
assert_eq "$CB_STATUS" 405 "another method on a served path is 405"
assert_contains "$CB_HEADERS" "Allow: GET, HEAD, PUT" "405 names the allowed methods (HEAD with GET)"
cb_curl GET /v1/no-such-endpoint dev-operator
assert_eq "$CB_STATUS" 404 "an unserved path is 404"
expect POST /v1/policy/evaluate /v1/policy/evaluate dev-edu 415 "a body that is not JSON" '{}' \
        -H 'Content-Type: text/plain'
cb_curl GET /v1/catalog/services/ecs-general dev-operator
get_length=$(wc -c <"$CB_TMP/resp.body")
cb_curl HEAD /v1/catalog/services/ecs-general dev-operator "" -I
assert_eq "$CB_STATUS" 200 "HEAD on a GET route (described in info.description) is 200"
assert_contains "$CB_HEADERS" "Content-Length: $get_length" "HEAD announces the GET's length"

cb_done
