#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Acquire+Release round trips against Peer.Ping on the same bus, 1 and 32 concurrent clients,
# in the QEMU guest with 32 extra single-device groups (an edu behind each of 32 root ports).
# Not a test: it reports p50/p99 and their ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

extra=""
for slot in 0x10 0x11 0x12 0x13; do
        for fn in 0 1 2 3 4 5 6 7; do
                id="brp${slot#0x}$fn"
                mf=""
                [ "$fn" = 0 ] && mf=",multifunction=on"
                extra+=" -device pcie-root-port,id=$id,chassis=$((${slot} * 8 + fn)),bus=pcie.0,addr=$slot.$fn$mf"
                extra+=" -device edu,bus=$id"
        done
done
VFIOD_VM_EXTRA_DEVICES="$extra" tests/vm/run.sh --kernel "${BENCH_KERNEL:-stock}" --timeout 600 --build build \
        bench/vm-acquire.sh | grep -E 'BENCH|passed|not ok'
