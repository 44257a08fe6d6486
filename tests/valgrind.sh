#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# valgrind memcheck over every unit test binary and one integration script
# (the daemon under valgrind through lib.sh's CB_DAEMON_WRAPPER): no memory
# error and no "definitely lost" block. Possibly and indirectly lost blocks
# and the still-reachable ones at exit are reported in the logs but do not
# fail (libvirt, OpenSSL and glibc keep caches for the process's lifetime).
#
# Usage (from the repository root): tests/valgrind.sh [BUILD_DIR] [INTEGRATION_SCRIPT]
#   default: build, tests/integration/test-resources.sh. `make valgrind` calls it.
# Logs: BUILD_DIR/valgrind/*.log. The last line is "N passed, N failed".

set -uo pipefail

BUILD=${1:-build}
SCRIPT=${2:-tests/integration/test-resources.sh}
LOGS=$BUILD/valgrind
VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 --num-callers=30)

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (scripts/install-deps.sh)" >&2; exit 1; }
rm -rf "$LOGS"
mkdir -p "$LOGS"
passed=0
failed=0
start=$(date +%s)

# verdict NAME RC LOG...: a run passes when it exited 0 and no log names a
# definite loss or an error.
verdict() {
        local name=$1 rc=$2 bad
        shift 2
        bad=$(grep -h -E 'definitely lost: [1-9]|ERROR SUMMARY: [1-9]' "$@" 2>/dev/null | head -n 3)
        if [ "$rc" -eq 0 ] && [ -z "$bad" ]; then
                passed=$((passed + 1))
                echo "ok - $name"
        else
                failed=$((failed + 1))
                echo "not ok - $name (exit $rc) ${bad:+: $bad}"
        fi
}

for t in "$BUILD"/tests/test-*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        t0=$(date +%s)
        rc=0
        timeout --kill-after=10s 600s "${VG[@]}" --log-file="$LOGS/$name.log" "$t" >"$LOGS/$name.out" 2>&1 || rc=$?
        verdict "$name ($(($(date +%s) - t0)) s)" "$rc" "$LOGS/$name.log"
done

# The daemon under valgrind: each start writes its own log (%p: its PID).
# CB_SLOW gives start-up and the SIGTERM stop (which runs the leak check)
# ten times their usual time.
name=$(basename "$SCRIPT" .sh)
t0=$(date +%s)
rc=0
CB_DAEMON_WRAPPER="${VG[*]} --log-file=$(pwd)/$LOGS/$name.daemon.%p.log" CB_SLOW=10 \
        timeout --kill-after=10s 1200s bash "$SCRIPT" "$BUILD" >"$LOGS/$name.out" 2>&1 || rc=$?
daemon_logs=("$LOGS/$name".daemon.*.log)
if [ ! -e "${daemon_logs[0]}" ]; then
        echo "not ok - $name: the daemon never ran under valgrind"
        failed=$((failed + 1))
else
        verdict "$name, the daemon under valgrind (${#daemon_logs[@]} start(s), $(($(date +%s) - t0)) s)" "$rc" "${daemon_logs[@]}"
fi
[ "$rc" -eq 0 ] || grep '^not ok' "$LOGS/$name.out" | head -n 10

for l in "$LOGS"/*.log; do
        printf '# %-44s %s\n' "$(basename "$l")" "$(grep -h -o -E 'definitely lost: [0-9,]+ bytes|ERROR SUMMARY: [0-9]+ errors' "$l" | paste -sd ' ' -)"
done
echo "# valgrind: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
