#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every libFuzzer target (or the ones named) for a bounded time under ASan and UBSan, in a build
# directory of its own configured with CC=clang -Dfuzzer=true. A target that crashes, leaks, trips
# UBSan or times out on an input fails; its crash file is kept and named. Ends with one line
# "N passed, N failed".
#
# Usage: tests/fuzz/run.sh [-t SECONDS] [-b BUILD-DIR] [-j JOBS] [TARGET...]
#   -t SECONDS    how long each target runs (default: $FUZZ_TIME or 30)
#   -b BUILD-DIR  the build directory (default: build-fuzz)
#   -j JOBS       how many targets run at once (default: 1)
# New inputs a run finds go to BUILD-DIR/fuzz/TARGET/corpus, crash files to BUILD-DIR/fuzz/TARGET/,
# logs to BUILD-DIR/fuzz/TARGET.log; the seed corpora in tests/fuzz/corpus are only read.
set -uo pipefail
script=$(realpath "$0")
cd "$(dirname "$script")/../.."

seconds=${FUZZ_TIME:-30}
build=build-fuzz
jobs=1
usage() {
        sed -n '3,13s/^# \{0,1\}//p' "$script" >&2
        exit 2
}
while getopts "t:b:j:h" opt; do
        case $opt in
        t) seconds=$OPTARG ;;
        b) build=$OPTARG ;;
        j) jobs=$OPTARG ;;
        *) usage ;;
        esac
done
shift $((OPTIND - 1))
[[ $seconds =~ ^[1-9][0-9]*$ && $jobs =~ ^[1-9][0-9]*$ ]] || usage

# clang, its libFuzzer runtime and llvm-symbolizer (for readable stacks).
if ! command -v clang >/dev/null || ! command -v llvm-symbolizer >/dev/null; then
        if [ "$(id -u)" -ne 0 ]; then
                echo "run.sh: clang and llvm are missing; run as root to install them." >&2
                echo "0 passed, 1 failed"
                exit 1
        fi
        echo "run.sh: installing clang and llvm"
        apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang llvm >/dev/null || {
                echo "run.sh: cannot install clang" >&2
                echo "0 passed, 1 failed"
                exit 1
        }
fi

# b_lundef=false: clang's sanitizer runtimes are linked into executables only, so a shared library
# (libvfiod-client) cannot be linked with --no-undefined.
options=(-Dfuzzer=true -Db_sanitize=address,undefined -Db_lundef=false -Ddbus-tests=false)
if [ -d "$build" ]; then
        meson configure "$build" "${options[@]}" >/dev/null
else
        CC=clang meson setup "$build" "${options[@]}" >/dev/null
fi || {
        echo "run.sh: cannot set up $build" >&2
        echo "0 passed, 1 failed"
        exit 1
}
if ! grep -A1 '^rule c_COMPILER$' "$build/build.ninja" 2>/dev/null | grep -Eq '^ command = ([^ ]*/)?clang(-[0-9]+)? '; then
        echo "run.sh: $build was not set up with clang; remove it or pass -b" >&2
        echo "0 passed, 1 failed"
        exit 1
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
        for d in tests/fuzz/corpus/*/; do
                targets+=("$(basename "$d")")
        done
fi
binaries=()
for t in "${targets[@]}"; do
        binaries+=("tests/fuzz/fuzz-$t")
done
if ! ninja -C "$build" "${binaries[@]}" >/dev/null; then
        ninja -C "$build" "${binaries[@]}" 2>&1 | tail -n 30 >&2
        echo "run.sh: build in $build failed" >&2
        echo "0 passed, ${#targets[@]} failed"
        exit 1
fi

# Runs one target; its verdict goes to $work/$t.result.
fuzz_one() {
        local t=$1 work=$build/fuzz dir=$build/fuzz/$1 dict=tests/fuzz/$1.dict rc
        local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
                -artifact_prefix="$dir/")
        rm -rf "$dir/tmp"
        mkdir -p "$dir/corpus" "$dir/tmp"
        rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-*
        [ -f "$dict" ] && args+=(-dict="$dict")
        TMPDIR=$(realpath "$dir/tmp") \
                ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
                UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
                "$build/tests/fuzz/fuzz-$t" "${args[@]}" "$dir/corpus" "tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1
        rc=$?
        echo "$rc" >"$work/$t.result"
}

mkdir -p "$build/fuzz"
running=0
for t in "${targets[@]}"; do
        if [ ! -x "$build/tests/fuzz/fuzz-$t" ] || [ ! -d "tests/fuzz/corpus/$t" ]; then
                echo "run.sh: no target $t" >&2
                echo 127 >"$build/fuzz/$t.result"
                continue
        fi
        echo "== fuzz-$t (${seconds}s)"
        fuzz_one "$t" &
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then
                wait -n
                running=$((running - 1))
        fi
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
        rc=$(cat "$build/fuzz/$t.result" 2>/dev/null || echo 127)
        runs=$(grep -Eo '^stat::number_of_executed_units: *[0-9]+' "$build/fuzz/$t.log" 2>/dev/null | grep -Eo '[0-9]+$')
        if [ "$rc" -eq 0 ]; then
                passed=$((passed + 1))
                echo "PASS fuzz-$t: ${runs:-?} runs, corpus $(find "$build/fuzz/$t/corpus" -type f | wc -l) new inputs"
                continue
        fi
        failed=$((failed + 1))
        echo "FAIL fuzz-$t (exit $rc), log $build/fuzz/$t.log:"
        grep -E "ERROR: |SUMMARY: |fuzz check failed|runtime error" "$build/fuzz/$t.log" 2>/dev/null | head -n 5 | sed 's/^/    /'
        for f in "$build/fuzz/$t"/crash-* "$build/fuzz/$t"/leak-* "$build/fuzz/$t"/timeout-* "$build/fuzz/$t"/oom-*; do
                [ -e "$f" ] || continue
                echo "    crash file kept: $f"
                echo "    reproduce: $build/tests/fuzz/fuzz-$t $f"
        done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
