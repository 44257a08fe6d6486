#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# scripts/check-layers.sh against the real tree (it must pass) and against a
# copy of the tree with one upward include planted in each layer (each must
# be named with file, line and both layers), so the lint that guards the
# layers cannot quietly stop working.
set -euo pipefail
. tests/integration/lib.sh
cb_setup "${1:-build}"

if out=$(scripts/check-layers.sh 2>&1); then pass "the tree keeps its layers"; else fail "check-layers on the tree: $out"; fi

copy="$CB_TMP/tree"
mkdir -p "$copy/scripts"
cp layers.txt "$copy/"
cp scripts/check-layers.sh "$copy/scripts/"
cp -r basic policy catalog drivers migration daemon ctl "$copy/"

plant() { # FILE INCLUDE EXPECTED-TEXT
        local file=$1 inc=$2 want=$3 lines
        cp "$file" "$copy/$file.orig"
        lines=$(($(wc -l <"$copy/$file") + 1))
        printf '#include "%s"\n' "$inc" >>"$copy/$file"
        if out=$("$copy/scripts/check-layers.sh" 2>&1); then
                fail "an include of $inc in $file passes the lint"
        else
                assert_contains "$out" "$file:$lines: includes $want" "$file including $inc is refused, naming the line"
        fi
        mv "$copy/$file.orig" "$copy/$file"
}
plant basic/log.c store.h "daemon/infra/store.h (layer 3, infra); layer 1 (basic)"
plant policy/policy.c driver.h "drivers/driver.h (layer 3, infra); layer 2 (domain)"
plant drivers/libvirt-xml.c worker.h "drivers/worker.h (layer 3, infra); layer 2 (domain)"
plant migration/legacy-fit.c legacy.h "daemon/core/legacy.h (layer 4, core); layer 2 (domain)"
plant daemon/infra/audit.c resources.h "daemon/core/resources.h (layer 4, core); layer 3 (infra)"
plant daemon/core/systems.c rest.h "daemon/rest/rest.h (layer 5, faces); layer 4 (core)"
plant ctl/ctl.c manager.h "daemon/manager.h (layer 5, faces); layer ctl (ctl)"
if out=$("$copy/scripts/check-layers.sh" 2>&1); then pass "the copy passes again once the plants are gone"; else fail "copy: $out"; fi

touch "$copy/daemon/core/stray.c"
rm -f "$copy/layers.txt.bak"
sed -i 's|daemon/core/\*|daemon/core/resources.*|' "$copy/layers.txt"
sed -i 's|^5 .*|5        faces   5     daemon/rest/* daemon/bus/* daemon/main.c daemon/manager.* daemon/osb.c|' "$copy/layers.txt"
out=$("$copy/scripts/check-layers.sh" 2>&1) || true
assert_contains "$out" "daemon/core/stray.c: not in any layer of layers.txt" "a file outside every layer is named"

cb_done
