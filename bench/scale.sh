#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# How vfiod scales with the number of IOMMU groups (bench/scale.py): generated trees of 512, 4096
# and 16384 groups on a private bus, no VM. Not a test: it prints a table per build and the
# growth 16384/512.
#
#   bench/scale.sh [--baseline REV] [--groups N,N,...]
#
# --baseline REV also builds REV (from `git archive`, in a temporary directory) and measures it
# side by side, size by size, with the ratios this build / baseline.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=
groups=512,4096,16384
while [ $# -gt 0 ]; do
        case $1 in
        --baseline) baseline=$2; shift 2 ;;
        --groups) groups=$2; shift 2 ;;
        *) echo "usage: $0 [--baseline REV] [--groups N,N,...]" >&2; exit 2 ;;
        esac
done

bash scripts/deps.sh
# A release build: the figures are the daemon's, not the sanitizers'.
[ -d build-bench ] || meson setup build-bench --buildtype=release >/dev/null
ninja -C build-bench >/dev/null
args=(--build build-bench --source-root "$PWD" --groups "$groups")
if [ -n "$baseline" ]; then
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        git archive --format=tar "$baseline" | tar -x -C "$tmp"
        meson setup "$tmp/build" "$tmp" --buildtype=release >/dev/null
        ninja -C "$tmp/build" >/dev/null
        args+=(--baseline-build "$tmp/build")
fi
exec /usr/bin/python3 bench/scale.py "${args[@]}"
