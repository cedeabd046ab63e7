#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock
#
# A kernel write that blocks (unbinding vfio-pci while a process holds a device fd) must not block
# the daemon: past the deadline the group is "wedged", the caller is told, every other request is
# served, and when the holder lets go the move completes by itself.

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

# It closes its group fd: a holder that names the group would meet the remove policy first.
"$VFIOD_PUBLIC/bin/vfio-hold" --close-group "$group" "$edu" > /tmp/holder.out 2>&1 &
holder=$!
check "a process holds $edu" wait_for 20 grep -q ready /tmp/holder.out

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
