#!/usr/bin/env bash
# Runs libFuzzer harnesses built by `make fuzz-bins`:
#
#   tests/fuzz/run.sh FUZZ_BUILD SECONDS [NAME...]
#
# For each harness (all of FUZZ_BUILD/fuzz/fuzz-* unless named): replays
# every seed in tests/fuzz/corpus/NAME/ once, then fuzzes for SECONDS
# (bounded by -max_total_time) from those seeds and the corpus grown by
# earlier runs in FUZZ_BUILD/corpus/NAME/. Prints one PASS or FAIL line a
# harness, with executions per second and the corpus size, in the style of
# tests/run.sh, and ends with "N passed, N failed". A crash leaves its input
# in FUZZ_BUILD/artifacts/: add it to the seeds once fixed.
#
# tests/run.sh calls this once per harness (FUZZ_BUILD set in its
# environment), so `make check` counts each harness as one test.
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ $# -lt 2 ]; then
        echo "usage: $0 FUZZ_BUILD SECONDS [NAME...]" >&2
        exit 2
fi
build=$1
seconds=$2
shift 2
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
        for b in "$build"/fuzz/fuzz-*; do
                [ -x "$b" ] && names+=("$(basename "$b")")
        done
fi
if [ ${#names[@]} -eq 0 ]; then
        echo "no harnesses in $build/fuzz (make fuzz-bins)" >&2
        exit 1
fi

# Known leaks of libraries the daemon cannot fix, each explained there.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

passed=0
failed=0
# Harnesses rewrite a file per input (config, calendar) and keep a SQLite
# store: on tmpfs that costs no disk flushes (ext4 flushes a truncated file
# on close, 2 ms an input).
scratch_base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch_base=/dev/shm
scratch=$(mktemp -d "$scratch_base/cbfuzz-run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# A field of libFuzzer's -print_final_stats=1 output.
stat() {
        sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

run_harness() {
        local name=$1 bin=$build/fuzz/$1 seeds=tests/fuzz/corpus/$1
        local corpus=$build/corpus/$1 artifacts=$build/artifacts log=$scratch/$1.log
        local start=$SECONDS n_seeds=0
        local -a seed_files=() seed_dir=() dict=()

        if [ ! -x "$bin" ]; then
                echo "FAIL fuzz/$name: $bin not built (make fuzz-bins)"
                return 1
        fi
        mkdir -p "$corpus" "$artifacts" "$scratch/$name.tmp"
        if [ -d "$seeds" ]; then
                mapfile -t seed_files < <(find "$seeds" -type f | sort)
                n_seeds=${#seed_files[@]}
                seed_dir=("$seeds")
        fi
        # Replay: each seed once, as a regression test (crashes fixed stay fixed).
        if [ "$n_seeds" -gt 0 ] &&
                ! TMPDIR="$scratch/$name.tmp" "$bin" -runs=1 "${seed_files[@]}" </dev/null >"$log" 2>&1; then
                echo "FAIL fuzz/$name: a seed fails on replay ($((SECONDS - start)) s)"
                tail -n 60 "$log" | sed 's/^/    /'
                return 1
        fi
        # Tokens of the format (field names, keywords) help mutations reach past the syntax.
        [ -f "tests/fuzz/dict/$name.dict" ] && dict=(-dict="tests/fuzz/dict/$name.dict")
        # Fuzz: new inputs go to the first folder, the seeds are read only.
        if ! TMPDIR="$scratch/$name.tmp" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 "${dict[@]}" -artifact_prefix="$artifacts/$name-" "$corpus" "${seed_dir[@]}" \
                </dev/null >"$log" 2>&1; then
                echo "FAIL fuzz/$name: crash, leak, timeout or broken promise ($((SECONDS - start)) s)"
                grep -m 3 -E '^==[0-9]+==|promise broken|runtime error|Test unit written' "$log" | sed 's/^/    /'
                tail -n 60 "$log" | sed 's/^/    /'
                return 1
        fi
        local runs eps files kib
        runs=$(stat number_of_executed_units "$log")
        eps=$(stat average_exec_per_sec "$log")
        files=$(find "$corpus" -type f | wc -l)
        kib=$(find "$corpus" -type f -printf '%s\n' | awk '{ n += $1 } END { printf "%d", n / 1024 }')
        echo "PASS fuzz/$name ($((SECONDS - start)) s): $n_seeds seeds replayed; ${runs:-?} runs in" \
                "$seconds s, ${eps:-?} exec/s; corpus $files files ($kib KiB) + $n_seeds seeds;" \
                "peak RSS $(stat peak_rss_mb "$log") MB"
        return 0
}

for name in "${names[@]}"; do
        if run_harness "$name"; then
                passed=$((passed + 1))
        else
                failed=$((failed + 1))
        fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
