#!/usr/bin/env bash
# Runs every test (unit binaries, then integration scripts) against each
# build directory given, and ends with the one summary line CI reads:
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()

run_one() {
        local name=$1
        shift
        local log
        log=$(mktemp /tmp/cbtest-log.XXXXXX)
        local start=$SECONDS
        if timeout 900 "$@" >"$log" 2>&1; then
                passed=$((passed + 1))
                echo "PASS $name ($((SECONDS - start)) s)"
        else
                failed=$((failed + 1))
                failures+=("$name")
                echo "FAIL $name ($((SECONDS - start)) s)"
                sed 's/^/    /' "$log" | tail -n 80
        fi
        rm -f "$log"
}

for build in "$@"; do
        echo "== tests on $build"
        for t in "$build"/tests/test-*; do
                [ -x "$t" ] || continue
                run_one "$build/unit/$(basename "$t")" "$t"
        done
        for t in tests/integration/test-*.sh; do
                [ -f "$t" ] || continue
                run_one "$build/integration/$(basename "$t" .sh)" bash "$t" "$build"
        done
done

# FUZZ_BUILD (set by `make check`): each libFuzzer harness there replays its
# seeds and fuzzes for FUZZ_SECONDS, one test a harness (tests/fuzz/run.sh).
if [ -n "${FUZZ_BUILD:-}" ]; then
        echo "== fuzzing on $FUZZ_BUILD"
        for h in "$FUZZ_BUILD"/fuzz/fuzz-*; do
                [ -x "$h" ] || continue
                run_one "$FUZZ_BUILD/fuzz/$(basename "$h")" ./tests/fuzz/run.sh "$FUZZ_BUILD" \
                        "${FUZZ_SECONDS:-5}" "$(basename "$h")"
        done
fi

if [ ${#failures[@]} -gt 0 ]; then
        echo "failed:"
        printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
