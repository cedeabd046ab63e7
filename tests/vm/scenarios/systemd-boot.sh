#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: systemd
# vm-init: systemd
# vm-setup
#
# A persistent assignment applied at boot by the installed vfiod.service (enabled, started by the
# default target): once the unit is active the group is vfio, and at READY=1 (which is when systemd
# runs ExecStartPost=) every endpoint was on vfio-pci already.

. "$VFIOD_SRC/tests/vm/lib.sh"

edu=$(pci_find 0x1234 0x11e8 | head -n1)
e1000=$(pci_find 0x8086 0x100e | head -n1)
group=$(group_of "$edu")
snapshot=/run/vfiod-vm-at-ready

if [ "${VM_PHASE:-}" = setup ]; then
    # The state a previous "vfioctl assign --persist" leaves (see vfiod(8)), the unit enabled in
    # the boot target, and a snapshot of the group's drivers the moment systemd has READY=1.
    mkdir -p /var/lib/vfiod
    printf '{"devices": [%s]}\n' "$(group_devices "$group" | sed 's/.*/"&"/' | paste -sd,)" \
        > /var/lib/vfiod/assignments.json
    mkdir -p /etc/systemd/system/vfiod-vm.target.wants /etc/systemd/system/vfiod.service.d
    ln -sfn /usr/lib/systemd/system/vfiod.service /etc/systemd/system/vfiod-vm.target.wants/vfiod.service
    printf '%s\n' "for d in /sys/kernel/iommu_groups/$group/devices/*; do" \
        '    echo "${d##*/}=$(basename "$(readlink "$d/driver")")"' \
        "done > $snapshot" > /etc/vfiod-vm/ready-snapshot.sh
    printf '%s\n' '[Service]' 'ExecStartPost=+/bin/sh /etc/vfiod-vm/ready-snapshot.sh' \
        > /etc/systemd/system/vfiod.service.d/50-vm-ready-snapshot.conf
    exit 0
fi

diag "bridge group $group (edu $edu, e1000 $e1000); kernel $VM_KERNEL"
diag "assignments.json: $(cat /var/lib/vfiod/assignments.json)"
# Before anything talks to the bus (which would start it by activation).
check_eq "vfiod.service was started at boot" active "$(systemctl is-active "$VFIOD_UNIT")"
started=$(unit_prop ExecMainStartTimestampMonotonic)
diag "started at $started us, active (READY=1) at $(unit_prop ActiveEnterTimestampMonotonic) us (monotonic)"
check "the READY=1 snapshot was taken" test -s "$snapshot"
diag "at READY=1: $(tr '\n' ' ' < "$snapshot")"
for d in $(group_devices "$group"); do
    [ "$(cat "/sys/bus/pci/devices/$d/class")" = 0x060400 ] && continue
    check "at READY=1 $d was on vfio-pci" grep -qx "$d=vfio-pci" "$snapshot"
done
check_eq "the group is vfio" vfio "$(group_state "$group")"
check_eq "and persistent" "b true" "$(group_prop "$group" Persistent)"
check "its endpoints are on vfio-pci" endpoints_on "$group" vfio-pci
orig=$(busctl --system call org.vfiod1 /org/vfiod1 org.vfiod1.Manager GetDevice s "$e1000" | cut -d'"' -f2)
check_eq "the e1000's original driver is known" 's "e1000"' \
    "$(busctl --system get-property org.vfiod1 "$orig" org.vfiod1.Device OriginalDriver)"
run_cli 0 "unassign --persist" unassign "$group" --persist
check_eq "the e1000 is back on e1000" e1000 "$(driver_of "$e1000")"
check "systemctl stop vfiod" systemctl stop "$VFIOD_UNIT"
done_testing
