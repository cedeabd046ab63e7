#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job on its embedded default: installs what is missing, builds, boots the QEMU guest
# (the distribution's kernel, an emulated intel-iommu, a multi-device group behind a PCIe-to-PCI
# bridge), starts vfiod on the guest's real system bus and shows vfioctl at work there.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build
exec tests/vm/run.sh --kernel stock --build build tests/vm/demo.sh
