#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Start QEMU on the fds that `vfioctl acquire` passes on a kernel with iommufd and VFIO device
# files: the iommufd becomes `-object iommufd,id=iommufd0,fd=N` and each ADDRESS's device fd
# (`device:ADDRESS=M` in VFIOD_FDS) `-device vfio-pci,id=vfioK,host=ADDRESS,iommufd=iommufd0,fd=M`,
# K counting from 0 in the order given. QEMU opens nothing under /dev itself, so its user needs no
# access to /dev/iommu or /dev/vfio. The command line is printed on stderr, then QEMU is exec'd
# (so it is vfioctl's child, and gets vfioctl's signals).
#
# Usage: vfioctl acquire TARGET... -- qemu-vfio.sh QEMU ADDRESS... -- QEMU_ARGUMENT...
#
# Environment (the names tests/vm/fetch-qemu.sh prints; all optional, for a QEMU unpacked
# outside the system): QEMU_LD_LIBRARY_PATH, QEMU_MODULE_DIR, QEMU_FIRMWARE_DIRS (':'-separated,
# each passed as -L).

set -euo pipefail

[ $# -ge 3 ] || { echo "usage: qemu-vfio.sh QEMU ADDRESS... -- QEMU_ARGUMENT..." >&2; exit 2; }
qemu=$1
shift
addresses=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    addresses+=("$1")
    shift
done
[ $# -gt 0 ] || { echo "qemu-vfio.sh: no -- before QEMU's arguments" >&2; exit 2; }
shift

# VFIOD_FDS: "iommufd=3 device:0000:02:00.0=4 ..." (names never contain '=').
declare -A fds=()
for pair in ${VFIOD_FDS:-}; do
    fds[${pair%=*}]=${pair##*=}
done
[ -n "${fds[iommufd]:-}" ] ||
    { echo "qemu-vfio.sh: no iommufd fd in VFIOD_FDS='${VFIOD_FDS:-}' (a kernel without VFIO device files?)" >&2; exit 2; }

args=(-object "iommufd,id=iommufd0,fd=${fds[iommufd]}")
k=0
for a in "${addresses[@]}"; do
    fd=${fds[device:$a]:-}
    [ -n "$fd" ] || { echo "qemu-vfio.sh: no fd for device $a in VFIOD_FDS='$VFIOD_FDS'" >&2; exit 2; }
    args+=(-device "vfio-pci,id=vfio$k,host=$a,iommufd=iommufd0,fd=$fd")
    k=$((k + 1))
done
IFS=: read -r -a firmware <<< "${QEMU_FIRMWARE_DIRS:-}"
for d in "${firmware[@]}"; do
    args+=(-L "$d")
done

env=()
[ -z "${QEMU_LD_LIBRARY_PATH:-}" ] || env+=("LD_LIBRARY_PATH=$QEMU_LD_LIBRARY_PATH")
[ -z "${QEMU_MODULE_DIR:-}" ] || env+=("QEMU_MODULE_DIR=$QEMU_MODULE_DIR")

echo "qemu-vfio.sh: VFIOD_FDS=$VFIOD_FDS" >&2
echo "qemu-vfio.sh: exec ${env[*]} $qemu ${args[*]} $*" >&2
exec env "${env[@]}" "$qemu" "${args[@]}" "$@"
