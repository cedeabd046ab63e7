#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what building and testing vfiod needs on Debian 12, skipping what is there.
set -euo pipefail

packages=(
        meson ninja-build gcc pkg-config
        libsystemd-dev libudev-dev libjson-c-dev libcap-dev
        dbus systemd python3 python3-dbus util-linux iproute2 mandoc
        qemu-system-x86 busybox-static kmod cpio xz-utils zstd
        polkitd clang llvm
)

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: missing packages (${missing[*]}); run as root to install them." >&2
        exit 1
fi
echo "deps.sh: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
