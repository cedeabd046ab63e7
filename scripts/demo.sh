#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job on its embedded default: installs what is missing, builds, boots the QEMU guest
# (the distribution's kernel, an emulated intel-iommu, a multi-device group behind a PCIe-to-PCI
# bridge), starts vfiod on the guest's real system bus and shows vfioctl at work there.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { echo "demo: $*"; }

bash scripts/deps.sh || { say "installing the packages above failed; run this as root, with apt working"; exit 1; }
if [ ! -d build ]; then
        meson setup build >/dev/null || { say "meson setup build failed (its message is above)"; exit 1; }
fi
ninja -C build || { say "building vfiod failed (the compiler's message is above)"; exit 1; }

say "booting a QEMU guest (q35, emulated intel-iommu) on Debian's stock kernel, fetched from the"
say "package mirror the first time (70 MB, unpacked into tests/vm/cache, never installed)."
if [ -w /dev/kvm ]; then
        say "It runs under TCG (QEMU's software emulation) although KVM is there: the rig does not need it."
else
        say "No KVM here, which is fine: it runs under TCG (QEMU's software emulation)."
fi
say "The guest boots and runs the demo in under a minute on 2 cores."
tests/vm/run.sh --kernel stock --build build tests/vm/demo.sh
rc=$?
say "the guest's whole console, with its kernel log, is in tests/vm/cache/logs/stock-demo.log"
exit $rc
