#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd systemd
# vm-own-boot: hot-adds and hot-removes in the bridge group (6.1 trips over a later claim)
#
# Hotplug into a claimed group: an e1000 hot-added behind the bridge of an assigned group must
# not end up on its host driver, whether the group is idle (the kernel would let e1000 probe it)
# or held by a VFIO user (the kernel refuses e1000; vfiod still puts it on vfio-pci), and the
# holder is not disturbed.

. "$VFIOD_SRC/tests/vm/lib.sh"

edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
new=0000:01:04.0
diag "group $group, hot-added device will be $new"

# hot_add ID: an e1000 into the bridge at addr 4, on a restricted user-mode netdev.
hot_add() {
    qmp '{"execute": "netdev_add", "arguments": {"type": "user", "id": "n'"$1"'", "restrict": true}}' >/dev/null
    check "qmp device_add $1" qmp '{"execute": "device_add", "arguments": {"driver": "e1000", "id": "'"$1"'", "bus": "br0", "addr": "0x4", "netdev": "n'"$1"'"}}'
}

hot_remove() {
    check "qmp device_del $1" qmp '{"execute": "device_del", "arguments": {"id": "'"$1"'"}}'
    check "DEVICE_DELETED for $1" qmp_wait_event DEVICE_DELETED 30 '{"device": "'"$1"'"}'
    qmp '{"execute": "netdev_del", "arguments": {"id": "n'"$1"'"}}' >/dev/null
    wait_for 10 test ! -e "/sys/bus/pci/devices/$new"
}

on_vfio() { [ "$(driver_of "$new")" = vfio-pci ]; }

# No device of the group on anything but vfio-pci (bridges: none).
no_host_driver() {
    local d drv
    for d in $(group_devices "$group"); do
        drv=$(driver_of "$d")
        [ -z "$drv" ] || [ "$drv" = vfio-pci ] || { echo "$d on $drv"; return 1; }
    done
}

start_vfiod || { done_testing; exit; }
busctl --system monitor --match "type='signal',interface='org.vfiod1.Group',member='HotplugBlocked'" \
    > /tmp/hotplug-signals 2>&1 &
monitor=$!
run_cli 0 "assign group $group" assign "$group"

# --- held group: a VFIO user has the group and a device open. (First: Debian's 6.1 intel-iommu
# corrupts a list when a group's DMA ownership is claimed after a member was hot-removed, so the
# holder must not come after the idle case's unplug.)
"$VFIOD_PUBLIC/bin/vfio-hold" "$group" "$edu" > /tmp/holder.out 2>&1 &
holder=$!
check "holder is ready" wait_for 20 grep -q ready /tmp/holder.out
hot_add hp1
check "held: hot-added $new appears" wait_for 20 test -e "/sys/bus/pci/devices/$new"
check "held: $new ends on vfio-pci" wait_for 20 on_vfio
check "held: no host driver in the group" no_host_driver
check "held: the holder is undisturbed" kill -0 "$holder"
check_eq "held: group still vfio" vfio "$(group_state "$group")"
kill "$holder"
wait "$holder" 2>/dev/null
hot_remove hp1

# --- idle group: e1000 would win the probe race; vfiod takes the device back
hot_add hp2
check "idle: hot-added $new appears" wait_for 20 test -e "/sys/bus/pci/devices/$new"
check "idle: $new ends on vfio-pci" wait_for 20 on_vfio
check "idle: no host driver in the group" no_host_driver
check_eq "idle: group still viable" "b true" "$(group_prop "$group" Viable)"
check_eq "idle: group still vfio" vfio "$(group_state "$group")"
check_eq "idle: driver_override of the new device" vfio-pci "$(cat /sys/bus/pci/devices/$new/driver_override)"
sleep 1
expect_in "idle: HotplugBlocked signal for $new" "$(cat /tmp/hotplug-signals)" "$new"
# Whether e1000 bound first or vfiod won the race, the signal names the driver it was kept from
# (found in modules.alias when it never bound; the iommufd kernel has e1000 built in, no alias file).
if [ "$VM_KERNEL" = stock ]; then
    expect_in "idle: HotplugBlocked names e1000 as the host driver" "$(grep -A3 "$new" /tmp/hotplug-signals)" '"e1000"'
fi
hot_remove hp2

# --- the group goes back whole; the boot-time e1000 to e1000
run_cli 0 "unassign group $group" unassign "$group"
e1000=$(pci_find 0x8086 0x100e | head -n1)
check_eq "boot e1000 back on e1000" e1000 "$(driver_of "$e1000")"
kill "$monitor" 2>/dev/null
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
