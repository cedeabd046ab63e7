#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Assign+unassign of a three-endpoint group in the QEMU guest: vfioctl vs raw sysfs writes vs
# driverctl, run alternately (bench/vm-assign.sh). Not a test: it reports medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
command -v driverctl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq driverctl >/dev/null
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
tests/vm/run.sh --kernel "${BENCH_KERNEL:-stock}" --build build bench/vm-assign.sh | grep -E 'BENCH|passed'
