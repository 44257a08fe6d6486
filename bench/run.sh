#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs every benchmark bench/*.sh in turn (catalog.sh, and the ones added
# later, e.g. policy.sh), each against BUILD_DIR and bounded to 10 minutes
# (soak.sh, which runs SOAK_SECONDS by design, to that plus 3 minutes).
# A failing benchmark is reported and the others still run; the exit status
# is non-zero if any failed. Results are printed and kept in
# BUILD_DIR/bench/*.result.
#
# Usage: bench/run.sh [BUILD_DIR]        (default build; `make bench` calls it)

set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
failed=()
ran=0

for b in bench/*.sh; do
        [ "$b" = bench/run.sh ] && continue
        ran=$((ran + 1))
        echo "=== $b"
        # --foreground: the benchmark keeps the terminal (Ctrl-C reaches it and
        # its traps clean up); --kill-after: a hung one is killed all the same.
        # soak.sh runs for SOAK_SECONDS (600) by design: its own limit.
        limit=600
        [ "$b" = bench/soak.sh ] && limit=$((${SOAK_SECONDS:-600} + 180))
        timeout --foreground --kill-after=30s "${limit}s" bash "$b" "$BUILD"
        rc=$?
        if [ "$rc" -ne 0 ]; then
                echo "=== $b FAILED (exit $rc)"
                failed+=("$b")
        fi
        echo
done

if [ "$ran" -eq 0 ]; then
        echo "no benchmark found under bench/" >&2
        exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
        echo "failed: ${failed[*]}" >&2
        exit 1
fi
echo "all $ran benchmark(s) done; results in $BUILD/bench/"
