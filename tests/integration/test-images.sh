#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The OS image library (issue 9) through the real daemon on libvirt's test
# driver: a provider added with an image pool (tests/integration/
# images-node.xml, its volumes' bytes written here), images registered with
# SHA-256 and SM3 digests read from the volumes, and the refusals: an
# unknown pool or volume, a wrong digest (audited), a wrong format, a name
# taken, a department; list in pages, show, retire; the D-Bus interface
# and cloudbrokerctl. Then the catalogue: a plan naming an unregistered,
# retired or other-arch image, or a non-secure image in a
# secure-and-controllable service (Art. 24), cannot go to sign-off.
#
# Usage (from the repository root): tests/integration/test-images.sh [BUILD_DIR]

set -euo pipefail

. tests/integration/lib.sh
cb_setup "${1:-build}"
cb_start_bus
cb_start_daemon

CTL=$CB_BUILD/cloudbrokerctl
PROV=img-node
EULER=openEuler-22.03-LTS-x86_64.qcow2
DEBIAN=debian-12-x86_64.raw
ARM=openEuler-22.03-LTS-aarch64.qcow2

mkdir -p "$CB_TMP/images" "$CB_TMP/disks"
# Bytes that stand for the images (the test driver has none of its own).
head -c 1048576 /dev/urandom >"$CB_TMP/images/$EULER"
head -c 786432 /dev/urandom >"$CB_TMP/images/$DEBIAN"
head -c 524288 /dev/urandom >"$CB_TMP/images/$ARM"
sed "s|@DIR@|$CB_TMP|g" tests/integration/images-node.xml >"$CB_TMP/node.xml"
sha256() { sha256sum "$CB_TMP/images/$1" | cut -d' ' -f1; }
sm3() { openssl dgst -sm3 -r "$CB_TMP/images/$1" | cut -d' ' -f1; }

# check JSON FILTER MESSAGE: the filter is true of JSON.
check() { assert_jq "$1" "$2" true "$3"; }

# register NAME VOLUME OS ARCH FORMAT DIGEST [EXTRA_JQ]: POST /v1/images as the operator.
register() {
        local body
        body=$(jq -nc --arg p "$PROV" --arg n "$1" --arg v "$2" --arg os "$3" --arg arch "$4" --arg f "$5" \
                --arg d "$6" '{provider: $p, name: $n, volume: $v, os: $os, os_version: "22.03-LTS",
                              arch: $arch, format: $f, digest: $d}' | jq -c "${7:-.}")
        cb_curl POST /v1/images "${TOKEN:-dev-operator}" "$body"
}

# --- the provider's image pool ---

cb_curl POST /v1/providers dev-operator \
        "$(jq -nc --arg u "test://$CB_TMP/node.xml" '{name: "img-bad", driver: "libvirt", uri: $u, image_pool: "../etc"}')"
assert_eq "$CB_STATUS" 422 "a provider's image_pool that is not a pool name is refused"
check "$CB_BODY" '.field == "image_pool"' "...naming image_pool"
cb_curl POST /v1/providers dev-operator \
        "$(jq -nc --arg u "test://$CB_TMP/node.xml" '{name: $ARGS.named.p, driver: "libvirt", uri: $u, image_pool: "images"}' --arg p "$PROV")"
assert_eq "$CB_STATUS" 201 "a provider is added with its image pool"
check "$CB_BODY" '.image_pool == "images"' "...and shows it"
cb_curl POST /v1/providers dev-operator \
        "$(jq -nc --arg u "test://$CB_TMP/node.xml" '{name: "img-nopool", driver: "libvirt", uri: $u, image_pool: "nosuch"}')"
assert_eq "$CB_STATUS" 201 "a provider naming a pool it does not have is added (the pool may come later)"
cb_wait_provider "$PROV" || fail "provider $PROV did not connect"
cb_wait_provider img-nopool || fail "provider img-nopool did not connect"

# --- registering ---

register euler-2203-x86 "$EULER" openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")"
assert_eq "$CB_STATUS" 201 "an image is registered with the SHA-256 of its volume"
check "$CB_BODY" '.secure_controllable == true and .state == "active" and .format == "qcow2"' \
        "...openEuler is secure-and-controllable, active, qcow2"
check "$CB_BODY" '.min_disk_gib == 2 and .size_bytes == 2147483648 and .pool == "images"' \
        "...its minimum disk is its virtual size (2 GiB), in the provider's image pool"
check "$CB_BODY" ".digest == \"sha256:$(sha256 "$EULER")\"" "...with the digest given"

register debian-12 "$DEBIAN" Debian x86_64 raw "sm3:$(sm3 "$DEBIAN" | tr a-f A-F)" '.min_disk_gib = 4'
assert_eq "$CB_STATUS" 201 "an image is registered with the SM3 of its volume (hex in upper case)"
check "$CB_BODY" '.secure_controllable == false and .min_disk_gib == 4 and (.digest | startswith("sm3:"))' \
        "...Debian is not secure-and-controllable; a larger minimum disk is kept"

register euler-2203-arm "$ARM" openEuler aarch64 qcow2 "sha256:$(sha256 "$ARM")"
assert_eq "$CB_STATUS" 201 "an aarch64 image is registered"

register wrong "$ARM" openEuler aarch64 qcow2 "sha256:$(sha256 "$EULER")"
assert_eq "$CB_STATUS" 422 "a digest that is not the volume's is refused"
check "$CB_BODY" '.field == "digest"' "...naming digest"
assert_contains "$CB_BODY" "$(sha256 "$ARM")" "...and saying what the volume's digest is"
cb_curl GET /v1/images/$PROV/wrong dev-operator
assert_eq "$CB_STATUS" 404 "...and nothing is stored"
cb_curl GET "/v1/audit?limit=10000" dev-auditor
check "$CB_BODY" '[.records[] | select(.action == "image.register" and .outcome == "rejected" and .object == "image:img-node/wrong")] | length == 1' \
        "...the refusal is in the audit trail"
check "$CB_BODY" '[.records[] | select(.action == "image.register" and .outcome == "ok")] | length == 3' \
        "every registration is in the audit trail"

register ghost no-such.qcow2 openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")"
assert_eq "$CB_STATUS" 422 "a volume the pool does not have is refused"
check "$CB_BODY" '.field == "volume"' "...naming volume"
PROV=img-nopool register ghost "$EULER" openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")"
assert_eq "$CB_STATUS" 422 "an image pool the provider does not have is refused"
check "$CB_BODY" '.field == "pool"' "...naming pool"
register ghost "$EULER" openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")" '.pool = "default"'
assert_eq "$CB_STATUS" 422 "a pool other than the provider's image pool is refused"
check "$CB_BODY" '.field == "pool"' "...naming pool"
PROV=dev-test register ghost "$EULER" openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")"
assert_eq "$CB_STATUS" 422 "a provider without an image pool is refused"
check "$CB_BODY" '.field == "provider"' "...naming provider"
register ghost "$EULER" openEuler x86_64 raw "sha256:$(sha256 "$EULER")"
assert_eq "$CB_STATUS" 422 "a format that is not the volume's is refused"
check "$CB_BODY" '.field == "format"' "...naming format"
register ghost "$EULER" openEuler x86_64 vmdk "sha256:$(sha256 "$EULER")"
check "$CB_BODY" '.field == "format"' "a format other than qcow2 or raw is refused naming format"
register ghost "$EULER" openEuler x86_64 qcow2 "md5:0123"
check "$CB_BODY" '.field == "digest"' "a digest that is not sha256:/sm3: is refused naming digest"
register ghost "$EULER" openEuler s390x qcow2 "sha256:$(sha256 "$EULER")"
check "$CB_BODY" '.field == "arch"' "an unknown arch is refused naming arch"
register Ghost "$EULER" openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")"
check "$CB_BODY" '.field == "name"' "an image name outside [a-z0-9._-] is refused naming name"
register ghost "$EULER" openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")" '.min_disk_gib = 1'
check "$CB_BODY" '.field == "min_disk_gib"' "a minimum disk smaller than the image is refused"
register euler-2203-x86 "$EULER" openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")"
assert_eq "$CB_STATUS" 409 "a name taken on the provider is 409"
TOKEN=dev-edu register ghost "$EULER" openEuler x86_64 qcow2 "sha256:$(sha256 "$EULER")"
assert_eq "$CB_STATUS" 403 "a department may not register images"

# --- reading, paging, retiring ---

cb_curl GET "/v1/images?limit=2" dev-edu
assert_eq "$CB_STATUS" 200 "a department reads the image library"
check "$CB_BODY" '(.images | map(.name)) == ["debian-12", "euler-2203-arm"] and (.next_page_token | length > 0)' \
        "the first page of two, in name order, with a token"
cb_curl GET "/v1/images?limit=2&page_token=$(printf %s "$CB_BODY" | jq -r .next_page_token)" dev-edu
check "$CB_BODY" '(.images | map(.name)) == ["euler-2203-x86"] and (has("next_page_token") | not)' \
        "the second page holds the rest, and is the last"
cb_curl GET "/v1/images?provider=img-nopool" dev-operator
check "$CB_BODY" '.images == []' "a provider filter"
cb_curl GET /v1/images/$PROV/euler-2203-x86 dev-auditor
assert_eq "$CB_STATUS" 200 "an image is shown"
check "$CB_BODY" '.os == "openEuler" and .arch == "x86_64" and .volume == "'"$EULER"'"' "...as registered"
cb_curl GET /v1/images/$PROV/nothing dev-operator
assert_eq "$CB_STATUS" 404 "an unknown image is 404"

# --- D-Bus and cloudbrokerctl ---

bcall 0 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Images GetImage ss "$PROV" debian-12
assert_eq "$RC" 0 "D-Bus GetImage answers"
check "$(printf %s "$OUT" | jq -r '.[0]')" '.name == "debian-12" and .format == "raw"' "...with the image"
bcall 1001 /org/cloudbroker/Broker1 org.cloudbroker.Broker1.Images ListImages sus "$PROV" 0 ""
check "$(printf %s "$OUT" | jq -r '.[0]')" 'length == 3' "D-Bus ListImages lists the provider's images"

RC=0
as_uid 0 "$CTL" --bus-address="$CB_BUS_ADDRESS" image list "$PROV" >"$CB_TMP/ctl.out" 2>&1 || RC=$?
assert_eq "$RC" 0 "cloudbrokerctl image list"
assert_contains "$(cat "$CB_TMP/ctl.out")" "euler-2203-x86" "...shows the images"
jq -n --arg p "$PROV" --arg v "$EULER" --arg d "sha256:$(sha256 "$EULER")" \
        '{provider: $p, name: "euler-copy", volume: $v, os: "openEuler", os_version: "22.03-LTS",
          arch: "x86_64", format: "qcow2", digest: $d}' >"$CB_TMP/image.json"
RC=0
as_uid 0 "$CTL" --bus-address="$CB_BUS_ADDRESS" --json image register "$CB_TMP/image.json" >"$CB_TMP/ctl.out" 2>&1 || RC=$?
assert_eq "$RC" 0 "cloudbrokerctl image register (over D-Bus, answered when the volume was read)"
check "$(cat "$CB_TMP/ctl.out")" '.name == "euler-copy" and .state == "active"' "...prints the stored image"
jq '.name = "euler-bad" | .digest = "sha256:'"$(sha256 "$DEBIAN")"'"' "$CB_TMP/image.json" >"$CB_TMP/bad.json"
RC=0
as_uid 0 "$CTL" --bus-address="$CB_BUS_ADDRESS" image register "$CB_TMP/bad.json" >"$CB_TMP/ctl.out" 2>&1 || RC=$?
assert_eq "$RC" 1 "cloudbrokerctl image register with a wrong digest fails"
assert_contains "$(cat "$CB_TMP/ctl.out")" "digest" "...saying why"
RC=0
as_uid 0 "$CTL" --bus-address="$CB_BUS_ADDRESS" image retire "$PROV" euler-copy >"$CB_TMP/ctl.out" 2>&1 || RC=$?
assert_eq "$RC" 0 "cloudbrokerctl image retire"
assert_contains "$(cat "$CB_TMP/ctl.out")" "retired" "...says retired"
RC=0
as_uid 0 "$CTL" --bus-address="$CB_BUS_ADDRESS" image show "$PROV" euler-copy >"$CB_TMP/ctl.out" 2>&1 || RC=$?
assert_contains "$(grep '^Retired by:' "$CB_TMP/ctl.out")" "dev-operator" "cloudbrokerctl image show shows who retired it"

# Upload: the bytes through the bus as a pipe, a progress bar on stderr.
head -c 3000000 /dev/urandom >"$CB_TMP/up.qcow2"
UP_SHA=$(sha256sum "$CB_TMP/up.qcow2" | cut -d' ' -f1)
upload() { # VOLUME DIGEST NAME: cloudbrokerctl image upload as the operator; RC, OUT, ERR
        jq -n --arg p "$PROV" --arg v "$1" --arg d "$2" --arg n "$3" \
                '{provider: $p, name: $n, volume: $v, os: "Kylin", os_version: "V10", arch: "x86_64",
                  format: "qcow2", digest: $d}' >"$CB_TMP/up.json"
        RC=0
        as_uid 0 "$CTL" --bus-address="$CB_BUS_ADDRESS" --json image upload "$CB_TMP/up.qcow2" "$CB_TMP/up.json" \
                >"$CB_TMP/ctl.out" 2>"$CB_TMP/ctl.err" || RC=$?
        OUT=$(cat "$CB_TMP/ctl.out") ERR=$(cat "$CB_TMP/ctl.err")
}
upload kylin-v10.qcow2 "sha256:$(printf %s "$UP_SHA" | tr 0-9a-f 1-9a-f0)" kylin-bad
assert_eq "$RC" 1 "an upload whose digest is not the data's fails"
assert_contains "$ERR" "digest" "...naming digest"
upload kylin-v10.qcow2 "sha256:$UP_SHA" kylin-v10
assert_eq "$RC" 0 "cloudbrokerctl image upload (and the refused upload left no volume behind)"
check "$OUT" '.name == "kylin-v10" and .secure_controllable == true and .volume == "kylin-v10.qcow2"' \
        "...registers the uploaded volume (Kylin: secure-and-controllable)"
assert_contains "$ERR" "100% 3000000/3000000 bytes" "...with a progress bar to the end"
cmp -s "$CB_TMP/up.qcow2" "$CB_TMP/images/kylin-v10.qcow2" && pass "...and the volume holds the file's bytes" ||
        fail "the uploaded volume differs from the file"
upload kylin-v10.qcow2 "sha256:$UP_SHA" kylin-again
assert_eq "$RC" 1 "an upload onto a volume that is there is refused"
assert_contains "$ERR" "Conflict" "...as a conflict"

RC=0
as_uid 0 "$CTL" --bus-address="$CB_BUS_ADDRESS" provider add img-ctl libvirt "test://$CB_TMP/node.xml" \
        --image-pool images >"$CB_TMP/ctl.out" 2>&1 || RC=$?
assert_eq "$RC" 0 "cloudbrokerctl provider add --image-pool"
cb_curl GET /v1/providers dev-operator
check "$CB_BODY" '[.providers[] | select(.name == "img-ctl" and .image_pool == "images")] | length == 1' \
        "...gives the provider its image pool"
RC=0
as_uid 0 "$CTL" --bus-address="$CB_BUS_ADDRESS" provider add img-ctl2 libvirt "test://$CB_TMP/node.xml" \
        --image-pool "a/b" >"$CB_TMP/ctl.out" 2>&1 || RC=$?
assert_eq "$RC" 1 "cloudbrokerctl provider add with an image pool that is not a pool name fails"
assert_contains "$(cat "$CB_TMP/ctl.out")" "image_pool" "...naming image_pool"

cb_curl POST /v1/images/$PROV/euler-copy/retire dev-operator
assert_eq "$CB_STATUS" 409 "retiring a retired image is 409"
cb_curl POST /v1/images/$PROV/debian-12/retire dev-edu
assert_eq "$CB_STATUS" 403 "a department may not retire images"

# --- the catalogue: a plan's os_image before sign-off ---

# submit ID OS_IMAGE ARCH SECURE: a draft of one plan naming OS_IMAGE, then
# POST .../submit as the operator (CB_STATUS, CB_BODY of the submit).
submit() {
        jq --arg id "$1" --arg img "$2" --arg arch "$3" --argjson sec "$4" \
                '.id = $id | .name = $id | .secure_controllable = $sec
                 | .plans = [.plans[0] | .id = ($id + "-p") | .name = "p" | .spec.os_image = $img | .spec.arch = $arch]' \
                etc/catalog/ecs-general.json >"$CB_TMP/svc-$1.json"
        cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/svc-$1.json"
        assert_eq "$CB_STATUS" 201 "set-up: draft $1"
        cb_curl POST "/v1/catalog/services/$1/submit" dev-operator
}

submit img-ok euler-2203-x86 x86_64 false
assert_eq "$CB_STATUS" 200 "a plan naming a registered image of its arch is submitted"
submit img-unknown no-such-image x86_64 false
assert_eq "$CB_STATUS" 422 "a plan naming no registered image cannot be submitted"
check "$CB_BODY" '.field == "plans[0].spec.os_image"' "...the error names the field"
cb_curl GET /v1/catalog/services/img-unknown dev-operator
check "$CB_BODY" '.status == "draft"' "...and the service stays a draft"
submit img-arch euler-2203-arm x86_64 false
assert_eq "$CB_STATUS" 422 "a plan naming an image of another arch cannot be submitted"
check "$CB_BODY" '.field == "plans[0].spec.os_image" and (.message | contains("aarch64"))' \
        "...naming the field and the image's arch"
submit img-arm euler-2203-arm aarch64 false
assert_eq "$CB_STATUS" 200 "an aarch64 plan naming the aarch64 image is submitted"
submit img-retired euler-copy x86_64 false
assert_eq "$CB_STATUS" 422 "a plan naming a retired image cannot be submitted"
check "$CB_BODY" '.field == "plans[0].spec.os_image" and (.message | contains("retired"))' "...saying it is retired"
submit img-sc-debian debian-12 x86_64 true
assert_eq "$CB_STATUS" 422 "a secure-and-controllable service may not name a non-secure image"
check "$CB_BODY" '.field == "plans[0].spec.os_image" and (.message | contains("Art. 24"))' "...naming Art. 24"
submit img-sc-euler euler-2203-x86 x86_64 true
assert_eq "$CB_STATUS" 200 "a secure-and-controllable service naming openEuler is submitted"
submit img-debian debian-12 x86_64 false
assert_eq "$CB_STATUS" 200 "a service that is not secure-and-controllable may name Debian"

# --- the system disk: a VM from a plan naming an image ---

jq --arg p "$PROV" '.id = "img-vm" | .name = "img-vm"
        | .plans = [(.plans[0] | .id = "img-vm-euler" | .name = "euler" | .spec.os_image = "euler-2203-x86" | .spec.provider = $p | .spec.disk_gib = 20),
                    (.plans[0] | .id = "img-vm-debian" | .name = "debian" | .spec.os_image = "debian-12" | .spec.provider = $p | .spec.disk_gib = 20)]' \
        etc/catalog/ecs-general.json >"$CB_TMP/img-vm.json"
cb_curl POST /v1/catalog/services dev-operator "@$CB_TMP/img-vm.json"
cb_curl POST /v1/catalog/services/img-vm/submit dev-operator
assert_eq "$CB_STATUS" 200 "set-up: a service of VMs from images is submitted"
cb_curl POST /v1/catalog/services/img-vm/approve dev-authority
cb_curl POST /v1/catalog/services/img-vm/approve dev-finance
check "$CB_BODY" '.status == "published"' "set-up: and published"
cb_add_system edu-img edu 2 false compliant 镜像测试系统
cb_approve lf-edu-img "临政信审〔$(date +%Y)〕77号" edu-img \
        '[{"service_id": "img-vm", "plan_id": "img-vm-euler", "quantity": 3},
          {"service_id": "img-vm", "plan_id": "img-vm-debian", "quantity": 1}]'

# order NAME PLAN [EXTRA_JQ]: POST /v1/resources as dev-edu; sets RID and OPID.
order() {
        cb_curl POST /v1/resources dev-edu "$(jq -nc --arg n "$1" --arg plan "$2" \
                '{project_id: "lf-edu-img", system_id: "edu-img", service_id: "img-vm", plan_id: $plan, name: $n}' |
                jq -c "${3:-.}")"
        RID=$(printf %s "$CB_BODY" | jq -r .id)
        OPID=$(printf %s "$CB_BODY" | jq -r .operation_id)
}
# op_error OPID: the error an operation ended with.
op_error() {
        cb_curl GET "/v1/operations/$1" dev-operator
        printf %s "$CB_BODY" | jq -r '.error // empty'
}

# --- first boot: the order's keys and cloud-config ---

ssh-keygen -q -t ed25519 -N "" -C "ops@edu" -f "$CB_TMP/key" </dev/null >/dev/null
KEY=$(cat "$CB_TMP/key.pub")
SECRET_MARK="sentinel-$RANDOM$RANDOM"
order bad-key img-vm-euler '.ssh_authorized_keys = ["ssh-ed25519 AAAA-not-base64 x"]'
assert_eq "$CB_STATUS" 422 "a malformed SSH key is refused"
check "$CB_BODY" '.field == "ssh_authorized_keys[0]"' "...naming it"
KEYJ=$(jq -Rn --arg k "$KEY" '$k')
order bad-key img-vm-euler ".ssh_authorized_keys = [$KEYJ, \"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIPxEscCcRTASZG8wVPobKypNGRPmkAxhJqEX7xUgcs5L\"]"
assert_eq "$CB_STATUS" 422 "a key whose data is another type's is refused"
check "$CB_BODY" '.field == "ssh_authorized_keys[1]"' "...naming the second key"
order bad-data img-vm-euler '.user_data = "#!/bin/sh\necho hi\n"'
assert_eq "$CB_STATUS" 422 "user data that is not #cloud-config is refused"
check "$CB_BODY" '.field == "user_data"' "...naming user_data"
PW_MARK="pw-$RANDOM$RANDOM"
order bad-data img-vm-euler ".user_data = \"#cloud-config\nusers:\n  - name: ops\n    plain_text_passwd: $PW_MARK\n\""
assert_eq "$CB_STATUS" 422 "user data with a password in clear is refused"
check "$CB_BODY" '.field == "user_data" and (.message | contains("in clear"))' "...saying why"
assert_not_contains "$CB_BODY" "$PW_MARK" "...without echoing the password"
order bad-data img-vm-euler ".user_data = \"#cloud-config\nchpasswd:\n  list: |\n    root:$PW_MARK\n\""
check "$CB_BODY" '.field == "user_data" and (.message | contains("in clear"))' "a chpasswd list is refused as a secret in clear"
order bad-data img-vm-euler '.user_data = "#cloud-config\npackages: [a\n"'
check "$CB_BODY" '.field == "user_data" and (.message | contains("not YAML"))' "user data that is not YAML is refused"
order bad-data img-vm-euler '.user_data = ("#cloud-config\nx: \"" + ("y" * 40000) + "\"\n")'
check "$CB_BODY" '.field == "user_data" and (.message | contains("longer than"))' "oversized user data is refused"

order 教育平台-镜像 img-vm-euler ".ssh_authorized_keys = [$KEYJ] | .user_data = \"#cloud-config\nruncmd:\n  - [echo, $SECRET_MARK]\n\""
assert_eq "$CB_STATUS" 202 "a VM of a plan naming an image is ordered, with a key and user data"
VM1=$RID
if cb_wait_state "$VM1" active; then pass "...and becomes active"; else fail "VM1: $GOT $CB_BODY"; fi
SEED="$CB_TMP/disks/cb-$VM1-seed.iso"
if [ -s "$SEED" ]; then pass "its NoCloud seed is made beside its disk"; else fail "no seed at $SEED"; fi
assert_contains "$(isoinfo -d -i "$SEED")" "Volume id: cidata" "...an ISO 9660 volume labelled cidata"
META=$(isoinfo -R -i "$SEED" -x /meta-data)
assert_contains "$META" "instance-id: $VM1" "...its instance-id is the resource id"
assert_contains "$META" "local-hostname: vm-$VM1" "...the hostname comes from the name (vm-<id> for a Chinese one)"
assert_contains "$META" "$KEY" "...with the order's SSH key"
assert_contains "$(isoinfo -R -i "$SEED" -x /user-data)" "$SECRET_MARK" "...and its cloud-config"
cb_curl GET "/v1/audit?limit=10000" dev-auditor
assert_not_contains "$CB_BODY" "$SECRET_MARK" "the user data is not in the audit trail"
assert_not_contains "$CB_BODY" "$(printf %s "$KEY" | cut -d' ' -f2)" "nor the key"
assert_not_contains "$CB_BODY" "$PW_MARK" "nor the password of a refused order"
assert_eq "$(grep -c -- "$PW_MARK" "$CB_TMP/daemon.log" || true)" 0 "...which the daemon log does not hold either"
assert_eq "$(sqlite3 "$CB_DB" ".dump" | grep -c -- "$PW_MARK" || true)" 0 "...nor the store"
if isoinfo -R -i "$SEED" -x /user-data | grep -qE '^[[:space:]-]*(password|plain_text_passwd|passwd|chpasswd):'; then
        fail "the seed holds a password key"
else pass "the seed holds no password key"; fi
# The sealing key of credentials at rest (binary): compared in hex.
SEAL_HEX=$(od -An -tx1 etc/dev-keys/dev-secrets.key | tr -d ' \n')
SEED_HEX=$(od -An -tx1 "$SEED" | tr -d ' \n')
if [ ${#SEAL_HEX} -ge 32 ] && [ "${SEED_HEX#*"$SEAL_HEX"}" = "$SEED_HEX" ]; then pass "nor the daemon's sealing key"
else fail "the seed holds the sealing key"; fi
cb_curl GET /v1/providers/$PROV/inventory dev-operator
check "$CB_BODY" '[.volumes[] | select(.name == "cb-'"$VM1"'.img" and .size_gib == 20)] | length == 1' \
        "its system disk has the plan's disk_gib"
check "$CB_BODY" '[.domains[] | select(.name == "cb-'"$VM1"'" and .managed)] | length == 1' "its domain is managed"
check "$CB_BODY" '[.volumes[] | select(.name == "'"$EULER"'")] | length == 0' \
        "the image pool's volumes are not taken for the broker's"
EULER_SHA_AFTER=$(sha256 "$EULER")
cb_curl GET /v1/images/$PROV/euler-2203-x86 dev-operator
check "$CB_BODY" ".digest == \"sha256:$EULER_SHA_AFTER\"" "the image was not written"

# The image changes under the library: the next VM from it is refused.
head -c 1000 /dev/urandom | dd of="$CB_TMP/images/$DEBIAN" bs=1 seek=4096 conv=notrunc status=none
order 变更镜像 img-vm-debian
assert_eq "$CB_STATUS" 202 "a VM of an image changed since registration is accepted for provisioning"
VM2=$RID OP2=$OPID
if cb_wait_state "$VM2" failed; then pass "...and fails"; else fail "VM2: $GOT"; fi
ERR2=$(op_error "$OP2")
assert_contains "$ERR2" "changed since it was registered" "...because the image's digest no longer matches"
assert_contains "$ERR2" "os_image" "...naming os_image"
cb_curl GET /v1/providers/$PROV/inventory dev-operator
check "$CB_BODY" '[.volumes[], .domains[] | select(.name | startswith("cb-'"$VM2"'"))] | length == 0' \
        "...and nothing of it is left on the provider"

# A retired image: the plan stays published, a new VM from it is refused.
cb_curl POST /v1/images/$PROV/euler-2203-x86/retire dev-operator
assert_eq "$CB_STATUS" 200 "the image of a published plan is retired"
order 退役镜像 img-vm-euler
VM3=$RID OP3=$OPID
if cb_wait_state "$VM3" failed; then pass "a VM of a retired image fails"; else fail "VM3: $GOT"; fi
assert_contains "$(op_error "$OP3")" "no active image" "...saying the image is not active"

cb_curl DELETE "/v1/resources/$VM1" dev-edu
if cb_wait_state "$VM1" deleted; then pass "the VM from the image is deleted"; else fail "VM1 delete: $GOT"; fi
cb_curl GET /v1/providers/$PROV/inventory dev-operator
check "$CB_BODY" '[.volumes[] | select(.name == "cb-'"$VM1"'.img" or .name == "cb-'"$VM1"'-seed.iso")] | length == 0' \
        "...with its system disk and its seed"
[ -f "$CB_TMP/images/$EULER" ] && [ "$(sha256 "$EULER")" = "$EULER_SHA_AFTER" ] &&
        pass "...and the image is still there, unchanged" || fail "the image was touched"

# Leaks and errors of the daemon (under ASan) show in its exit status.
cb_stop_daemon
grep -q "ERROR: AddressSanitizer\|runtime error" "$CB_TMP/daemon.log" &&
        fail "the daemon log has a sanitizer report" || pass "no sanitizer report in the daemon log"

cb_done
