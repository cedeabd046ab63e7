#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Sets up and runs every test: unit and D-Bus tests (plain and under ASan/UBSan), then the VM
# tests against a real kernel under QEMU. Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0

# Wall time of each part, printed before the last line.
times=()
started=$(date +%s)
part_start=$started
# timed NAME: the time since the previous part (or the start) was NAME's.
timed() {
        local now
        now=$(date +%s)
        times+=("$(printf '%-48s %3dm%02ds' "$1" $(((now - part_start) / 60)) $(((now - part_start) % 60)))")
        part_start=$now
}

# Adds the counts of one meson test run, read from its JSON log.
count_meson() {
        local log="$1/meson-logs/testlog.json" p f
        if [ ! -s "$log" ]; then
                failed=$((failed + 1))
                return
        fi
        p=$(grep -c '"result": "OK"' "$log")
        f=$(grep -Ec '"result": "(FAIL|ERROR|TIMEOUT|UNEXPECTEDPASS)"' "$log")
        passed=$((passed + p))
        failed=$((failed + f))
}

meson_tier() { # build-dir [meson options...]
        local dir=$1
        shift
        rm -f "$dir/meson-logs/testlog.json"
        if [ -d "$dir" ]; then
                meson configure "$dir" -Dwerror=true "$@" >/dev/null
        else
                meson setup "$dir" -Dwerror=true "$@" >/dev/null
        fi || { failed=$((failed + 1)); return; }
        if ! ninja -C "$dir"; then
                echo "test.sh: build in $dir failed" >&2
                failed=$((failed + 1))
                return
        fi
        meson test -C "$dir" --print-errorlogs
        count_meson "$dir"
}

# Runs a command that ends with "N passed, N failed" and adds those counts.
run_counted() {
        local out line
        out=$(mktemp)
        "$@" 2>&1 | tee "$out"
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
        if [ -n "$line" ]; then
                passed=$((passed + $(echo "$line" | awk '{print $1}')))
                failed=$((failed + $(echo "$line" | awk '{print $3}')))
        else
                echo "test.sh: $* printed no summary" >&2
                failed=$((failed + 1))
        fi
        rm -f "$out"
}

bash scripts/deps.sh || exit 1
timed "dependencies (apt)"
echo "== unit and D-Bus tests"
meson_tier build
timed "unit, D-Bus, lint, man, install"
echo "== unit and D-Bus tests under AddressSanitizer and UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 meson_tier build-asan -Db_sanitize=address,undefined
timed "the same under ASan and UBSan"

echo "== fuzz targets (libFuzzer under ASan and UBSan, ${FUZZ_TIME:-30} s each; their corpora also run above)"
run_counted tests/fuzz/run.sh
timed "fuzz targets"

# QEMU 10 (bookworm-backports, unpacked into the cache, not installed) for the scenario that starts
# a VM from brokered iommufd fds; without it that scenario skips and says why.
tests/vm/fetch-qemu.sh >/dev/null || echo "test.sh: no QEMU 10 for the VM tests (see above); qemu-iommufd.sh will skip" >&2
# Each scenario runs on the tiers its "# vm-tiers:" line names (tests/vm/README.md, "Tiers").
echo "== VM tier stock: the distribution's kernel under QEMU"
run_counted tests/vm/run.sh --build build --tier stock tests/vm/scenarios/*.sh
timed "VM tier stock"
echo "== VM tier iommufd: the iommufd kernel (VFIO device files, iommufd)"
run_counted tests/vm/run.sh --build build --tier iommufd tests/vm/scenarios/*.sh
timed "VM tier iommufd"
echo "== VM tier systemd: systemd as PID 1 and the installed vfiod.service (stock kernel)"
run_counted tests/vm/run.sh --build build --tier systemd tests/vm/scenarios/*.sh
timed "VM tier systemd"

echo "== wall time"
printf '%s\n' "${times[@]}"
now=$(date +%s)
printf '%-48s %3dm%02ds\n' "total" $(((now - started) / 60)) $(((now - started) % 60))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
