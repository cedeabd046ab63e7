#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: iommufd
#
# A kernel write that blocks must not block the daemon: past the deadline the group is "wedged",
# the caller is told, every other request is served, and when the holder lets go the move
# completes by itself. The holder is one that neither /proc nor the kernel's group open shows: a
# VFIO cdev opened but never bound to an iommufd (which keeps vfio-pci's unbind waiting, but not
# the group open), parked in flight in a socket so that no process has it in its fd table. Any
# holder that can be seen meets the remove policy first (guard.sh); on 6.1 (no cdevs) every holder
# that can make the unbind wait keeps the group open, so there this cannot happen.

. "$VFIOD_SRC/tests/vm/lib.sh"

edu=$(pci_find 0x1234 0x11e8 | head -n1)
e1000=$(pci_find 0x8086 0x100e | head -n1)
group=$(group_of "$edu")

# The first assign of a boot loads the vfio modules, which under a busy TCG host can take longer
# than the short deadline below: assign with the default deadline, then restart with the short one.
start_vfiod || { done_testing; exit; }
run_cli 0 "assign group $group" assign "$group"
stop_vfiod
start_vfiod --write-timeout=4 || { done_testing; exit; }
check_eq "after the restart the group is vfio" vfio "$(group_state "$group")"

cdev=/dev/vfio/devices/$(ls "/sys/bus/pci/devices/$edu/vfio-dev")
/usr/bin/python3 "$VFIOD_PUBLIC/helpers/park-cdev.py" "$edu" > /tmp/holder.out 2>&1 &
holder=$!
check "a process has $cdev in flight in a socket" wait_for 20 grep -q ready /tmp/holder.out
check "no fd of it names $cdev" sh -c "! ls -l /proc/$holder/fd | grep -q vfio"

# Unassign has to unbind the held edu: the kernel blocks that write.
"$VFIOCTL" unassign "$group" > /tmp/unassign.out 2>&1 &
unassign=$!
sleep 1
check_eq "while the write blocks, the group is unassigning" unassigning "$(group_state "$group")"
run_cli 4 "assign meanwhile: GroupBusy, exit 4" assign "$group"
run_cli 0 "the daemon keeps serving (list)" list
wait "$unassign"
check_eq "unassign fails after the deadline (exit 1)" 1 "$?"
expect_in "the error says wedged" "$(cat /tmp/unassign.out)" "wedged"
check_eq "state is wedged" wedged "$(group_state "$group")"
run_cli 1 "unassign again: Wedged, exit 1" unassign "$group"
expect_in "Wedged message" "$CLI_ERR" "not returned"
run_cli 0 "the daemon keeps serving (show)" show "$group"

# The holder lets go: the blocked write returns and the move completes.
kill "$holder"
wait "$holder" 2>/dev/null
check "the group reaches the host once the holder is gone" wait_for 30 sh -c "[ \"\$(busctl --system get-property org.vfiod1 /org/vfiod1/group/$group org.vfiod1.Group State)\" = 's \"host\"' ]"
check_eq "e1000 back on e1000" e1000 "$(driver_of "$e1000")"
check_eq "edu back on no driver" "" "$(driver_of "$edu")"
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
