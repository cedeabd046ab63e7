#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock systemd
#
# Whole-group assignment against the real kernel: the bridge group (bridge, two edu, an e1000)
# moves to vfio-pci and back to exactly its drivers; refusals come with their errors and exit
# codes and change nothing; dry runs change nothing; an unsafe group is refused unless forced.

. "$VFIOD_SRC/tests/vm/lib.sh"

bridge=$(pci_find 0x1b36 0x000e | head -n1)
edu=$(pci_find 0x1234 0x11e8 | head -n1)
e1000=$(pci_find 0x8086 0x100e | head -n1)
group=$(group_of "$edu")
diag "bridge $bridge, edu $edu, e1000 $e1000, group $group"

start_vfiod --write-timeout=5 || { done_testing; exit; }

# --- before: on the host
check_eq "group starts on the host" host "$(group_state "$group")"
check_eq "e1000 on e1000 before" e1000 "$(driver_of "$e1000")"

# --- dry run: a plan, and nothing changes
run_cli 0 "assign --dry-run exits 0" assign "$edu" --dry-run
case $CLI_OUT in
    *"$e1000  e1000 -> vfio-pci"*"verdict: would assign"*) ok "dry run shows each move and the verdict" ;;
    *) fail "dry run shows each move and the verdict" "$CLI_OUT" ;;
esac
check_eq "dry run changed nothing (e1000)" e1000 "$(driver_of "$e1000")"
check_eq "dry run changed nothing (state)" host "$(group_state "$group")"

# --- refusals that change nothing
run_cli 1 "unassign of a host group: NotAssigned, exit 1" unassign "$group"
case $CLI_ERR in *"not assigned"*) ok "NotAssigned message" ;; *) fail "NotAssigned message" "$CLI_ERR" ;; esac
run_cli 3 "assign of an unknown group: exit 3" assign 9999
run_cli 3 "assign of an unknown device: exit 3" assign 0000:7f:1f.7
run_cli 2 "assign of a non-address: exit 2" assign not-a-device
out=$(busctl --system call org.vfiod1 /org/vfiod1 org.vfiod1.Manager Assign 'sa{sv}' "$group" 1 bogus b true 2>&1)
case $out in *"Unknown option 'bogus'"*) ok "unknown option: InvalidOption" ;; *) fail "unknown option: InvalidOption" "$out" ;; esac
out=$(run_as_user nobody busctl --system call org.vfiod1 /org/vfiod1 org.vfiod1.Manager Assign 'sa{sv}' "$group" 0 2>&1)
case $out in *"ccess"*"denied"* | *"AccessDenied"* | *"not permitted"* | *"Access"*) ok "assign as nobody is denied" ;;
    *) fail "assign as nobody is denied" "$out" ;; esac
check_eq "refusals changed nothing" e1000 "$(driver_of "$e1000")"

# A root port without anything behind it is a group with no endpoint.
for d in $(ls /sys/bus/pci/devices); do
    g=$(group_of "$d")
    [ "$(group_devices "$g" | wc -l)" -eq 1 ] || continue
    [ "$(cat /sys/bus/pci/devices/$d/class)" = 0x060400 ] || continue
    run_cli 1 "a group with only a bridge: NotViable, exit 1" assign "$g"
    case $CLI_ERR in *"no endpoint"*) ok "NotViable message" ;; *) fail "NotViable message" "$CLI_ERR" ;; esac
    break
done

# --- assign the bridge group by one of its devices
run_cli 0 "assign $edu exits 0" assign "$edu"
check_eq "state is vfio" vfio "$(group_state "$group")"
check "every endpoint is on vfio-pci" endpoints_on "$group" vfio-pci
check_eq "the bridge stays without a driver" "" "$(driver_of "$bridge")"
check "/dev/vfio/$group exists" test -c "/dev/vfio/$group"
check_eq "driver_override pins vfio-pci" vfio-pci "$(cat /sys/bus/pci/devices/$e1000/driver_override)"
orig=$(busctl --system get-property org.vfiod1 "/org/vfiod1/device/$(echo "$e1000" | sed 's/:/_3a/g; s/\./_2e/g; s/^/_3/')" org.vfiod1.Device OriginalDriver)
check_eq "OriginalDriver of the e1000 is e1000" 's "e1000"' "$orig"
viable=$(busctl --system get-property org.vfiod1 "/org/vfiod1/group/$group" org.vfiod1.Group Viable)
check_eq "group is viable" "b true" "$viable"
run_cli 1 "assign again: AlreadyAssigned, exit 1" assign "$group"
case $CLI_ERR in *"already assigned"*) ok "AlreadyAssigned message" ;; *) fail "AlreadyAssigned message" "$CLI_ERR" ;; esac
check "the kernel agrees: a VFIO user can open the group" \
    timeout 20 sh -c "$VFIOD_PUBLIC/bin/vfio-hold $group $edu & p=\$!; sleep 2; kill -0 \$p && kill \$p"

# --- unassign: each device back on exactly the driver it had
run_cli 0 "unassign exits 0" unassign "$group"
check_eq "state is host" host "$(group_state "$group")"
check_eq "the e1000 is back on e1000" e1000 "$(driver_of "$e1000")"
check_eq "the edu is back on no driver" "" "$(driver_of "$edu")"
check_eq "driver_override cleared" "(null)" "$(cat /sys/bus/pci/devices/$e1000/driver_override)"
check "/dev/vfio/$group is gone" test ! -e "/dev/vfio/$group"

# --- safety: the default route's network device
nic=$(for n in /sys/class/net/*; do
    [ "$(basename "$(readlink -f "$n/device/driver" 2>/dev/null)")" = e1000e ] && basename "$n"
done | head -n1)
if [ -n "$nic" ]; then
    nic_dev=$(basename "$(readlink -f /sys/class/net/$nic/device)")
    nic_group=$(group_of "$nic_dev")
    ip link set "$nic" up && ip addr add 10.0.2.15/24 dev "$nic" && ip route add default via 10.0.2.2 dev "$nic"
    run_cli 1 "assign of the default route's NIC: Unsafe, exit 1" assign "$nic_dev"
    case $CLI_ERR in *"default route"*) ok "Unsafe names the reason" ;; *) fail "Unsafe names the reason" "$CLI_ERR" ;; esac
    safety=$(busctl --system get-property org.vfiod1 "/org/vfiod1/group/$nic_group" org.vfiod1.Group Safety)
    case $safety in *"default route"*) ok "Group.Safety says why" ;; *) fail "Group.Safety says why" "$safety" ;; esac
    check_eq "refused: the NIC keeps its driver" e1000e "$(driver_of "$nic_dev")"
    run_cli 0 "with --force it is assigned" assign "$nic_dev" --force
    check_eq "forced: on vfio-pci" vfio-pci "$(driver_of "$nic_dev")"
    run_cli 0 "and given back" unassign "$nic_dev"
    check_eq "given back to e1000e" e1000e "$(driver_of "$nic_dev")"
else
    fail "a root-bus NIC for the safety check" "none found"
fi

stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
