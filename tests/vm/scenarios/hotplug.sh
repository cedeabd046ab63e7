#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd systemd
# vm-own-boot: hot-adds and hot-removes in the bridge group (6.1 trips over a later claim)
#
# Hotplug into a claimed group: an e1000 hot-added behind the bridge of an assigned group must
# not end up on its host driver, whether the group is idle (the kernel would let e1000 probe it)
# or leased to a VFIO user (the kernel refuses e1000; vfiod still puts it on vfio-pci). A device
# that joins a leased group is reachable through the lessee's fds, so the lease's owner is
# authorized again for the grown group: a rule that covers it leaves the lessee undisturbed; when
# nothing allows it, the lease is revoked (Revoked with the reason, the holder killed) and the
# group stays on vfio.

. "$VFIOD_SRC/tests/vm/lib.sh"

edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
new=0000:01:04.0
other=0000:01:05.0
diag "group $group, hot-added devices will be $new and $other"

# hot_add ID [SLOT]: an e1000 into the bridge at SLOT (default 4), on a restricted user-mode netdev.
hot_add() {
    qmp '{"execute": "netdev_add", "arguments": {"type": "user", "id": "n'"$1"'", "restrict": true}}' >/dev/null
    check "qmp device_add $1" qmp '{"execute": "device_add", "arguments": {"driver": "e1000", "id": "'"$1"'", "bus": "br0", "addr": "0x'"${2:-4}"'", "netdev": "n'"$1"'"}}'
}

# hot_remove ID [ADDRESS]
hot_remove() {
    check "qmp device_del $1" qmp '{"execute": "device_del", "arguments": {"id": "'"$1"'"}}'
    check "DEVICE_DELETED for $1" qmp_wait_event DEVICE_DELETED 30 '{"device": "'"$1"'"}'
    qmp '{"execute": "netdev_del", "arguments": {"id": "n'"$1"'"}}' >/dev/null
    wait_for 10 test ! -e "/sys/bus/pci/devices/${2:-$new}"
}

on_vfio() { [ "$(driver_of "${1:-$new}")" = vfio-pci ]; }
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
state_is() { [ "$(group_state "$group")" = "$1" ]; }

# No device of the group on anything but vfio-pci (bridges: none).
no_host_driver() {
    local d drv
    for d in $(group_devices "$group"); do
        drv=$(driver_of "$d")
        [ -z "$drv" ] || [ "$drv" = vfio-pci ] || { echo "$d on $drv"; return 1; }
    done
}

# nobody may acquire the group as it is and with an e1000 at $new, not with one at $other.
targets=$(for d in $(group_devices "$group") "$new"; do
    [ -e "/sys/bus/pci/devices/$d/class" ] && [ $(( $(cat "/sys/bus/pci/devices/$d/class") >> 8 )) = $((0x0604)) ] && continue
    printf '"%s", ' "$d"
done)
mkdir -p /etc/vfiod/vfiod.d
cat > /etc/vfiod/vfiod.json <<JSON
{"rules": [{"users": ["nobody"], "actions": ["acquire"], "targets": [${targets%, }]}]}
JSON
diag "rule targets: ${targets%, }"
start_vfiod --config=/etc/vfiod/vfiod.json --config-dir=/etc/vfiod/vfiod.d || { done_testing; exit; }
busctl --system monitor --match "type='signal',interface='org.vfiod1.Group',member='HotplugBlocked'" \
    > /tmp/hotplug-signals 2>&1 &
monitor=$!
busctl --system monitor --match "type='signal',interface='org.vfiod1.Lease',member='Revoked'" \
    > /tmp/revoked-signals 2>&1 &
revoked_monitor=$!
run_cli 0 "assign group $group" assign "$group"

# --- leased group: nobody's VFIO user has the group (or its cdevs) open. (First: Debian's 6.1
# intel-iommu corrupts a list when a group's DMA ownership is claimed after a member was
# hot-removed, so the holder must not come after the idle case's unplug.)
run_as_user nobody /usr/bin/python3 "$VFIOD_PUBLIC/helpers/lease-client.py" --hold 300 "$group" \
    > /tmp/holder.out 2>&1 &
holder=$!
check "leased: the holder is ready" wait_for 20 grep -q ready /tmp/holder.out
check_eq "leased: group leased" leased "$(group_state "$group")"
hot_add hp1
check "leased: hot-added $new appears" wait_for 20 test -e "/sys/bus/pci/devices/$new"
check "leased: $new ends on vfio-pci" wait_for 20 on_vfio
check "leased: no host driver in the group" no_host_driver
check "leased, a rule covers the grown group: the log says the owner may have it" \
    wait_for 10 grep -q "may have IOMMU group $group with $new as well" "$VFIOD_LOG"
check "leased, a rule covers the grown group: the holder is undisturbed" kill -0 "$holder"
check_eq "leased, a rule covers the grown group: still leased" leased "$(group_state "$group")"
hot_add hp2 5
check "leased: hot-added $other appears" wait_for 20 test -e "/sys/bus/pci/devices/$other"
check "leased, nothing allows the grown group: the holder is killed" wait_for 20 gone "$holder"
check "leased, nothing allows the grown group: the lease ends, the group is vfio" wait_for 20 state_is vfio
sleep 1
expect_in "leased, nothing allows the grown group: Revoked names the device" \
    "$(cat /tmp/revoked-signals)" "device $other joined the group"
check "leased: $other ends on vfio-pci" wait_for 20 on_vfio "$other"
check "leased: no host driver in the group after the revocation" no_host_driver
wait "$holder" 2>/dev/null
hot_remove hp2 "$other"
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

# --- the group goes back whole, while a hotplugged device is still being claimed: the unassign
# waits for the claim (else the last writer of its driver wins), and everything ends on the host.
hot_add hp3
check "unassign race: hot-added $new appears" wait_for 20 test -e "/sys/bus/pci/devices/$new"
run_cli 0 "unassign group $group right after the hot-add" unassign "$group"
diag "the unassign waited for a claim: $(grep -c "Unassigning IOMMU group $group once" "$VFIOD_LOG") time(s)"
check_eq "unassign race: the group is host" host "$(group_state "$group")"
# Back to the driver it had: e1000 when e1000 bound it before vfiod took it, none when vfiod won
# the race with the kernel's probe (it never had a host driver); never vfio-pci.
host_side() { case $(driver_of "$new") in e1000 | "") return 0 ;; *) return 1 ;; esac; }
check "unassign race: $new ends on e1000 or unbound ($(driver_of "$new"))" wait_for 10 host_side
check_eq "unassign race: no driver_override left on $new" "" "$(cat "/sys/bus/pci/devices/$new/driver_override" | sed 's/(null)//')"
nothing_on_vfio() { ! grep -q . <(for d in $(group_devices "$group"); do [ "$(driver_of "$d")" = vfio-pci ] && echo "$d"; done); }
check "unassign race: no device of the group on vfio-pci" nothing_on_vfio
hot_remove hp3
e1000=$(pci_find 0x8086 0x100e | head -n1)
check_eq "boot e1000 back on e1000" e1000 "$(driver_of "$e1000")"
kill "$monitor" "$revoked_monitor" 2>/dev/null
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
