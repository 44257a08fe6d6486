#!/bin/sh
# `make run`: the daemon in the foreground on the dev config, state in ./var.
# A fresh machine has no D-Bus bus, so the daemon gets one of its own
# (dbus-run-session); its address is printed and kept in var/bus-address so
# the README's busctl and cloudbrokerctl examples work from another shell.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CONFIG=${CONFIG:-etc/cloudbroker.conf}
mkdir -p var

if [ -n "${CLOUDBROKER_BUS_ADDRESS:-}" ]; then
        exec "$BUILD/cloudbrokerd" --config "$CONFIG" --bus-address "$CLOUDBROKER_BUS_ADDRESS"
fi

exec dbus-run-session -- sh -c '
        echo "$DBUS_SESSION_BUS_ADDRESS" > var/bus-address
        echo "cloudbrokerd: private D-Bus bus at $DBUS_SESSION_BUS_ADDRESS"
        echo "  in another shell:  export CLOUDBROKER_BUS_ADDRESS=\$(cat var/bus-address)"
        echo "  REST:              curl -H \"Authorization: Bearer dev-operator\" http://127.0.0.1:8080/v1/catalog"
        exec "$0" --config "$1" --bus session
' "$BUILD/cloudbrokerd" "$CONFIG"
