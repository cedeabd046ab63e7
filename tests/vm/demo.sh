#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The demo (scripts/demo.sh): vfiod on a real system bus in the QEMU guest, showing the guest's
# real IOMMU groups, then moving the multi-device bridge group to vfio-pci and back.

. "$VFIOD_SRC/tests/vm/lib.sh"

edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")

# Shows the command as typed, runs the freshly built one.
say() {
    printf '\n$ %s\n' "$*"
    shift
    "$VFIOCTL" "$@"
}

start_vfiod || { done_testing; exit; }
say vfioctl list
say vfioctl show "$edu"
say vfioctl assign "$edu" --dry-run
say vfioctl assign "$edu"
check "the bridge group is on vfio-pci" endpoints_on "$group" vfio-pci
say vfioctl --json show "$group"
say vfioctl unassign "$group"
say vfioctl list
stop_vfiod
done_testing
