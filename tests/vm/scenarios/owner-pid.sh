#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd
#
# A lease's owner process is the one pinned (with a pidfd) when the caller's credentials were
# first fetched, and only if it runs as the caller's uid. A client that connected, handed its
# connection to a child and exited before Acquire, whose pid the kernel then gave to root's VFIO
# user of another group (ns_last_pid, or a wrap at a low pid_max, forces the reuse), gets a lease
# with Pid 0: never that process. A hard removal kills the child that holds the lease's fds and
# leaves root's process alone, although it holds VFIO device fds. An owner that is still there
# keeps its own pid.

. "$VFIOD_SRC/tests/vm/lib.sh"

client=$VFIOD_PUBLIC/helpers/late-acquire.py
edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
# Another group for root's VFIO user: a root-bus e1000e, alone in its group.
nic=$(pci_find 0x8086 0x10d3 | head -n1)
other=$(group_of "$nic")
diag "lease on group $group ($edu); root holds group $other ($nic)"

mkdir -p /etc/vfiod/vfiod.d
cat > /etc/vfiod/vfiod.json <<JSON
{ "rules": [ { "users": ["nobody"], "targets": ["$group"], "actions": ["acquire"] } ] }
JSON
start_vfiod --config=/etc/vfiod/vfiod.json --config-dir=/etc/vfiod/vfiod.d || { done_testing; exit; }
run_cli 0 "assign the lease's group" assign "$group"
run_cli 0 "assign root's group" assign "$other"

lease_prop() { busctl --system get-property org.vfiod1 "$1" org.vfiod1.Lease "$2" | awk '{print $2}'; }

# next_pid_is PID: the next process created gets PID, unless another one takes it first. Through
# ns_last_pid where the kernel has it (CONFIG_CHECKPOINT_RESTORE; Debian's 6.1); else by creating
# processes until the pids, wrapping at a low pid_max (set below), come round to it: to a pid below
# PID from which every pid up to PID is taken by a live process (the kernel skips those). One round
# of pid_max at most.
next_pid_is() {
    local p q
    if [ -w /proc/sys/kernel/ns_last_pid ]; then
        echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid
        return
    fi
    for _ in $(seq 1100); do
        (:) &
        p=$!
        wait "$p"
        q=$((p + 1))
        while [ "$q" -lt "$1" ] && [ -d "/proc/$q" ]; do q=$((q + 1)); done
        [ "$p" -lt "$1" ] && [ "$q" -eq "$1" ] && return
    done
}
pid_max=$(cat /proc/sys/kernel/pid_max)
trap 'echo "$pid_max" > /proc/sys/kernel/pid_max' EXIT
if [ ! -w /proc/sys/kernel/ns_last_pid ]; then
    diag "no ns_last_pid on this kernel: pids wrap at pid_max 1024 instead"
    echo 1024 > /proc/sys/kernel/pid_max
fi

# --- an owner still there: its own pid
rm -f /tmp/go
run_as_user nobody /usr/bin/python3 "$client" --no-fork /tmp/go "$group" > /tmp/stay.out 2>&1 &
check "staying owner: leased" wait_for 30 grep -q '^ready' /tmp/stay.out
stay_pid=$(sed -n 's/^connected //p' /tmp/stay.out)
stay_lease=$(sed -n 's/^lease //p' /tmp/stay.out)
check_eq "staying owner: the lease's Pid is the owner's" "$stay_pid" "$(lease_prop "$stay_lease" Pid)"
run_cli 0 "staying owner: hard unassign" unassign "$group" --mode hard --timeout 2
check "staying owner: killed" wait_for 10 sh -c "! kill -0 $stay_pid 2>/dev/null"
run_cli 0 "assign the lease's group again" assign "$group"

# --- an owner gone before Acquire, its pid given to root's VFIO user
rm -f /tmp/go
# After a wrap the kernel hands out pids from 300 on: the owner's must be above.
[ -w /proc/sys/kernel/ns_last_pid ] || next_pid_is 320
run_as_user nobody /usr/bin/python3 "$client" /tmp/go "$group" > /tmp/late.out 2>&1 &
check "late owner: connected" wait_for 30 grep -q '^connected' /tmp/late.out
owner=$(sed -n 's/^connected //p' /tmp/late.out)
check "late owner: the connecting process exited" wait_for 10 sh -c "! kill -0 $owner 2>/dev/null"

# The next pid the kernel hands out is the owner's: root's vfio-hold on the other group gets it
# (another process may take it first: try again).
impostor=
for _ in 1 2 3 4 5 6 7 8; do
    next_pid_is "$owner"
    "$VFIOD_PUBLIC/bin/vfio-hold" "$other" "$nic" > /tmp/impostor.out 2>&1 &
    if [ "$!" = "$owner" ]; then
        impostor=$!
        break
    fi
    kill "$!" 2>/dev/null
    wait "$!" 2>/dev/null
done
check_eq "root's VFIO user got the owner's pid" "$owner" "$impostor"
check "root's VFIO user holds its group's device" wait_for 20 grep -q ready /tmp/impostor.out
check "root's VFIO user has a VFIO device fd" sh -c "ls -l /proc/$owner/fd | grep -q 'anon_inode:\[vfio-device\]'"

touch /tmp/go
check "late owner: leased" wait_for 30 grep -q '^ready' /tmp/late.out
late_lease=$(sed -n 's/^lease //p' /tmp/late.out)
check_eq "late owner: the lease's Pid is 0" 0 "$(lease_prop "$late_lease" Pid)"
check_eq "late owner: the lease's Uid is nobody's" "$(id -u nobody)" "$(lease_prop "$late_lease" Uid)"
expect_in "vfiod says no process answers for the caller" "$(cat "$VFIOD_LOG")" "no process answers for it"
holder=$(pgrep -u nobody -f late-acquire.py)
check "late owner: its child holds the lease" test -n "$holder"
run_cli 0 "late owner: hard unassign" unassign "$group" --mode hard --timeout 2
check "late owner: the child that held the fds was killed" wait_for 10 sh -c "! pgrep -u nobody -f late-acquire.py"
check_eq "the group is on the host" host "$(group_state "$group")"
check "root's VFIO user was not signalled" kill -0 "$impostor"
check_eq "root's VFIO user is still vfio-hold" vfio-hold "$(cat "/proc/$impostor/comm" 2>/dev/null)"
check_eq "no kill of the owner is logged" 0 "$(grep -c 'Killing the owner' "$VFIOD_LOG")"

kill "$impostor"
wait "$impostor" 2>/dev/null
run_cli 0 "unassign root's group" unassign "$other"
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
