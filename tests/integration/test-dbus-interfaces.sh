#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every interface documented in docs/dbus/ is the one the running daemon
# serves, member by member and signature by signature, and every
# org.cloudbroker interface the daemon serves is documented.
. tests/integration/lib.sh
cb_setup "$@"
cb_start_bus
cb_start_daemon

DEST=org.cloudbroker.Broker1
ROOT=/org/cloudbroker/Broker1

live_xml() { # PATH
        busctl --address="$CB_BUS_ADDRESS" introspect --xml-interface "$DEST" "$1"
}

live_xml "$ROOT" >"$CB_TMP/root.xml"
served=$(grep -o 'interface name="org\.cloudbroker\.[^"]*"' "$CB_TMP/root.xml" | cut -d'"' -f2 | sort -u)
documented=""
for doc in docs/dbus/*.xml; do
        ifaces=$(grep -o 'interface name="org\.cloudbroker\.[^"]*"' "$doc" | cut -d'"' -f2)
        for iface in $ifaces; do
                documented="$documented $iface"
                # Per-object interfaces are not on the root object: skip what the root does not serve.
                if ! printf '%s\n' "$served" | grep -qx "$iface"; then
                        continue
                fi
                interface_members "$iface" <"$CB_TMP/root.xml" >"$CB_TMP/live.members"
                interface_members "$iface" <"$doc" >"$CB_TMP/doc.members"
                if diff -u "$CB_TMP/doc.members" "$CB_TMP/live.members" >"$CB_TMP/diff"; then
                        pass "$iface matches $doc ($(wc -l <"$CB_TMP/doc.members") members)"
                else
                        fail "$iface differs from $doc: $(tr '\n' ' ' <"$CB_TMP/diff")"
                fi
                [ -s "$CB_TMP/doc.members" ] || fail "$doc describes no member of $iface"
        done
done
for iface in $served; do
        case " $documented " in
        *" $iface "*) pass "$iface is documented" ;;
        *) fail "$iface is served but no file in docs/dbus/ documents it" ;;
        esac
done
assert_contains "$served" "org.cloudbroker.Broker1.Policy" "the root object serves the Policy interface"

cb_stop_daemon
cb_done
