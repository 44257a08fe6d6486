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

# The dev config's http providers (linfen-paas, linfen-saas) are the
# project's test OSB provider on 127.0.0.1:8090: DEVELOPMENT ONLY. It runs
# beside the daemon and is ended, by its PID, when the daemon stops.
OSB_PORT=${OSB_PORT:-8090}
"$BUILD/tests/osb-provider" --catalog-dir etc/catalog --port "$OSB_PORT" --username cb \
        --password dev-osb-provider >var/osb-provider.out 2>var/osb-provider.log &
OSB_PID=$!
trap 'kill "$OSB_PID" 2>/dev/null || true' EXIT INT TERM
echo "cloudbrokerd: DEVELOPMENT ONLY: the test OSB provider (tests/osb-provider, in memory, public password)"
echo "  serves the dev config's linfen-paas and linfen-saas on http://127.0.0.1:$OSB_PORT (PID $OSB_PID)"

if [ -n "${CLOUDBROKER_BUS_ADDRESS:-}" ]; then
        "$BUILD/cloudbrokerd" --config "$CONFIG" --bus-address "$CLOUDBROKER_BUS_ADDRESS"
        exit $?
fi

dbus-run-session -- sh -c '
        echo "$DBUS_SESSION_BUS_ADDRESS" > var/bus-address
        echo "cloudbrokerd: private D-Bus bus at $DBUS_SESSION_BUS_ADDRESS"
        echo "  in another shell:  export CLOUDBROKER_BUS_ADDRESS=\$(cat var/bus-address)"
        echo "  REST:              curl -H \"Authorization: Bearer dev-operator\" http://127.0.0.1:8080/v1/catalog"
        exec "$0" --config "$1" --bus session
' "$BUILD/cloudbrokerd" "$CONFIG"
