#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd
# vm-own-boot: hot-adds and hot-removes in the bridge group (6.1 trips over a later claim)
#
# Smoke test of the VM rig itself (no daemon needed): IOMMU groups as the
# topology promises, vfio modules, the QMP channel, and PCI hotplug into the
# bridge's group.

. "$VFIOD_SRC/tests/vm/lib.sh"

diag "kernel $(uname -r) ($VM_KERNEL)"

# --- IOMMU groups
ngroups=$(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)
if [ "$ngroups" -gt 0 ]; then ok "iommu groups exist ($ngroups)"; else fail "iommu groups exist"; fi

# pcie-pci-bridge is 1b36:000e; edu is 1234:11e8.
bridge=$(pci_find 0x1b36 0x000e | head -n1)
edus=$(pci_find 0x1234 0x11e8)
diag "bridge $bridge, edu: $(echo $edus)"
bgroup=$(group_of "$bridge")
members=$(group_devices "$bgroup")
nmem=$(echo "$members" | wc -l)
if [ "$nmem" -eq 4 ]; then
    ok "bridge group $bgroup has 4 members"
else
    fail "bridge group $bgroup has 4 members" "members: $(echo $members)"
fi
allin=1
for e in $edus; do
    [ "$(group_of "$e")" = "$bgroup" ] || allin=
done
[ "$(echo "$edus" | wc -w)" -eq 2 ] && [ -n "$allin" ] &&
    ok "both edu devices are in the bridge group" ||
    fail "both edu devices are in the bridge group" "edu: $(echo $edus)"
# 8086:100e is the e1000 present at boot behind the bridge.
e1000=$(pci_find 0x8086 0x100e | head -n1)
check_eq "e1000 at boot is in the bridge group" "$bgroup" "$(group_of "$e1000")"
rr=$(cat "/sys/kernel/iommu_groups/$bgroup/reserved_regions")
case $rr in *msi*) ok "bridge group has an msi reserved region" ;;
    *) fail "bridge group has an msi reserved region" "$rr" ;; esac

# --- vfio modules
check "modprobe vfio-pci" modprobe vfio-pci
check "modprobe vfio_iommu_type1" modprobe vfio_iommu_type1
check "/dev/vfio/vfio exists" test -c /dev/vfio/vfio
if [ "$VM_KERNEL" = iommufd ]; then
    check "/dev/iommu exists (iommufd kernel)" test -c /dev/iommu
fi

# --- QMP round trip
reply=$(qmp '{"execute": "query-status"}')
case $reply in
    *'"running"'*) ok "qmp query-status" ;;
    *) fail "qmp query-status" "reply: $reply" ;;
esac
reply=$(qmp '{"execute": "no-such-command"}')
case $reply in
    '{"error"'*) ok "qmp error replies come back" ;;
    *) fail "qmp error replies come back" "reply: $reply" ;;
esac

# --- hotplug an e1000 into the bridge (addr 4) and unplug it
# Behind the bridge: same bus as the edu devices, slot 4.
first_edu=$(echo "$edus" | head -n1)
newdev=${first_edu%:*}:04.0
diag "expecting the hot-added e1000 at $newdev"
check "qmp netdev_add" qmp '{"execute": "netdev_add", "arguments": {"type": "user", "id": "hpn1", "restrict": true}}'
check "qmp device_add e1000 into br0 addr 4" \
    qmp '{"execute": "device_add", "arguments": {"driver": "e1000", "id": "hp1", "bus": "br0", "addr": "0x4", "netdev": "hpn1"}}'
if wait_for 20 test -e "/sys/bus/pci/devices/$newdev"; then
    ok "hot-added e1000 appears in sysfs"
    check_eq "hot-added e1000 joins the bridge group" "$bgroup" "$(group_of "$newdev")"
    # BAR 0 assigned = the bridge window had room (resource line 0 non-zero).
    bar0=$(head -n1 "/sys/bus/pci/devices/$newdev/resource")
    case $bar0 in
        0x0000000000000000*) fail "hot-added e1000 got its BAR 0" "$bar0" ;;
        *) ok "hot-added e1000 got its BAR 0" ;;
    esac
else
    fail "hot-added e1000 appears in sysfs" "no $newdev after 20 s"
fi
check "qmp device_del" qmp '{"execute": "device_del", "arguments": {"id": "hp1"}}'
check "DEVICE_DELETED event for hp1" qmp_wait_event DEVICE_DELETED 30 '{"device": "hp1"}'
if wait_for 10 test ! -e "/sys/bus/pci/devices/$newdev"; then
    ok "unplugged e1000 is gone from sysfs"
else
    fail "unplugged e1000 is gone from sysfs"
fi
if [ ! -e "/sys/kernel/iommu_groups/$bgroup/devices/$newdev" ]; then
    ok "unplugged e1000 left the bridge group"
else
    fail "unplugged e1000 left the bridge group"
fi
check "qmp netdev_del" qmp '{"execute": "netdev_del", "arguments": {"id": "hpn1"}}'

done_testing
