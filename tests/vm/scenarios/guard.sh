#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd systemd
# vm-timeout: 420
#
# A group stays guarded while anything holds it. A Release() that comes while processes still
# hold the group's fds (a command's child that outlived it) leaves the lease "releasing": nobody
# else gets the group, and the lease ends only when the last holder lets go. An Unassign of such a
# group applies its mode to those holders (soft waits and gives up, kill kills them, and only them);
# so does one of a group on vfio without a lease that a process opened itself. What no process
# names but the kernel still holds (a device fd or BAR mapping without the group fd, fds in flight
# in a socket) keeps the group guarded too, and is never killed.

. "$VFIOD_SRC/tests/vm/lib.sh"

client="/usr/bin/python3 $VFIOD_PUBLIC/helpers/lease-client.py"
edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
on_host() { [ "$(group_state "$group")" = host ] && ! endpoints_on "$group" vfio-pci && [ -z "$(driver_of "$edu")" ]; }
lease_prop() { busctl --system get-property org.vfiod1 "$1" org.vfiod1.Lease "$2" 2>&1; }
state_is() { [ "$(group_state "$group")" = "$1" ]; }
lease_of_group() { group_prop "$group" Lease | sed -n 's/^o "\(.*\)"$/\1/p'; }
# gone PID: dead, or a zombie nobody reaped (the guest's init may not).
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# nobody may acquire the group: its Acquire then meets the group's state, not a refusal.
sysconfdir=$(sed -n 's/^#define VFIOD_SYSCONFDIR "\(.*\)"$/\1/p' "$VFIOD_BUILD/config.h")
for dir in /etc/vfiod ${sysconfdir:+"$sysconfdir/vfiod"}; do
    mkdir -p "$dir"
    cat > "$dir/vfiod.json" <<EOF
{ "rules": [ {"users": ["nobody"], "targets": ["$group"], "actions": ["acquire"]} ] }
EOF
done

# A process that has nothing to do with any of it, and must survive every kill.
sleep 3600 &
bystander=$!

start_vfiod --write-timeout=60 || { done_testing; exit; }
run_cli 0 "assign group $group" assign "$group"

# outlive NAME: vfioctl acquire runs a command that leaves a child behind with the fds, and
# releases when the command exits. Sets CHILD, LEASE.
outlive() {
    local name=$1
    "$VFIOCTL" acquire "$group" -- sh -c 'sleep 600 & echo $! > /tmp/child.pid' > "/tmp/$name.out" 2>&1
    check_eq "$name: vfioctl acquire exits 0 with its command" 0 "$?" || diag "$(cat "/tmp/$name.out")"
    CHILD=$(cat /tmp/child.pid)
    LEASE=$(lease_of_group)
    check "$name: the command's child lives on with the fds" kill -0 "$CHILD"
}

# --- 1. Release while a child holds the fds: the lease stays releasing until the child exits.
outlive outlive
check_eq "outlive: released, yet the group stays releasing" releasing "$(group_state "$group")"
check_eq "outlive: the lease is still there, releasing" 's "releasing"' "$(lease_prop "$LEASE" State)"
expect_in "outlive: Group.Holders names the child" "$(group_prop "$group" Holders)" "$CHILD"
out=$(run_as_user nobody $client "$group" 2>&1)
expect_in "outlive: another user's Acquire meanwhile: GroupBusy" "$out" "org.vfiod1.Error.GroupBusy"
out=$($client "$group" 2>&1)
expect_in "outlive: root's Acquire meanwhile: GroupBusy" "$out" "org.vfiod1.Error.GroupBusy"
sleep 2
check_eq "outlive: two seconds on, still releasing" releasing "$(group_state "$group")"
kill "$CHILD"
check "outlive: the lease ends once the child is gone" wait_for 10 state_is vfio
check_eq "outlive: Group.Lease is empty again" 'o "/"' "$(group_prop "$group" Lease)"
out=$(run_as_user nobody $client "$group" 2>&1)
expect_in "outlive: now the other user gets the group" "$out" "lease /org/vfiod1/lease/"
check "outlive: and its lease ends with it" wait_for 10 state_is vfio

# --- 2. An Unassign of a released, still held group applies its mode to the holders.
outlive soft
check_eq "soft: releasing" releasing "$(group_state "$group")"
run_cli 6 "soft unassign while the child holds the group: Timeout, exit 6" unassign "$group" --mode soft --timeout 2
check_eq "soft timeout: the group is still releasing (the lease was released)" releasing "$(group_state "$group")"
check_eq "soft timeout: the lease is still releasing" 's "releasing"' "$(lease_prop "$LEASE" State)"
check "soft timeout: the child lives" kill -0 "$CHILD"
check "soft timeout: still on vfio-pci" endpoints_on "$group" vfio-pci
run_cli 4 "fail mode: GroupBusy, exit 4" unassign "$group" --mode fail
run_cli 0 "kill mode: the child is killed and the group goes: exit 0" unassign "$group" --mode kill
check "kill: the child was killed" wait_for 5 gone "$CHILD"
check "kill: the group is on the host" on_host
check "the bystander lives" kill -0 "$bystander"

# --- 3. A soft Unassign that waits while the child holds on ends well when the child exits.
run_cli 0 "assign group $group again" assign "$group"
outlive patient
"$VFIOCTL" unassign "$group" --mode soft --timeout 30 > /tmp/patient-unassign.out 2>&1 &
unassign=$!
sleep 2
check "patient: the soft unassign waits" kill -0 "$unassign"
kill "$CHILD"
wait "$unassign"
check_eq "patient: it ends well once the child is gone: exit 0" 0 "$?" || diag "$(cat /tmp/patient-unassign.out)"
check "patient: the group is on the host" on_host

# --- 4. A group on vfio without a lease that a process holds open (root's own VFIO user, which
# opened the group itself): unbinding would block in the kernel, so Unassign applies its mode to
# that process, with nobody to ask.
# held NAME: assign, start vfio-hold on the group and the edu. Sets HELD.
held() {
    run_cli 0 "$1: assign group $group" assign "$group"
    "$VFIOD_PUBLIC/bin/vfio-hold" "$group" "$edu" > "/tmp/$1.out" 2>&1 &
    HELD=$!
    check "$1: vfio-hold holds the group" wait_for 20 grep -q ready "/tmp/$1.out"
}
held held
expect_in "held: Group.Holders names it" "$(group_prop "$group" Holders)" "$HELD"
run_cli 4 "held: fail mode: GroupBusy, exit 4" unassign "$group" --mode fail
expect_in "held: the message names the holder" "$CLI_ERR" "pid $HELD (vfio-hold)"
check_eq "held: fail: still vfio" vfio "$(group_state "$group")"
run_cli 6 "held: soft unassign: Timeout, exit 6" unassign "$group" --mode soft --timeout 2
expect_in "held: the Timeout names the holder" "$CLI_ERR" "pid $HELD (vfio-hold)"
check_eq "held: soft timeout: still vfio" vfio "$(group_state "$group")"
check "held: soft timeout: the holder lives" kill -0 "$HELD"
check "held: soft timeout: still on vfio-pci" endpoints_on "$group" vfio-pci
"$VFIOCTL" unassign "$group" --mode soft --timeout 60 > /tmp/held-unassign.out 2>&1 &
unassign=$!
check "held: a soft unassign waits, the group releasing" wait_for 10 state_is releasing
out=$($client "$group" 2>&1)
expect_in "held: Acquire meanwhile: GroupBusy" "$out" "org.vfiod1.Error.GroupBusy"
run_cli 4 "held: a second unassign meanwhile: GroupBusy, exit 4" unassign "$group"
expect_in "held: it says the group is being taken back" "$CLI_ERR" "being taken back"
kill "$HELD"
wait "$HELD" 2>/dev/null
wait "$unassign"
check_eq "held: the soft unassign ends well once the holder is gone: exit 0" 0 "$?" ||
    diag "$(cat /tmp/held-unassign.out)"
check "held: the group is on the host" on_host

held hard
run_cli 0 "hard: unassign kills the holder after the timeout: exit 0" unassign "$group" --mode hard --timeout 2
check "hard: vfio-hold was killed" wait_for 5 gone "$HELD"
check "hard: the group is on the host" on_host
wait "$HELD" 2>/dev/null

held killed
start=$(date +%s)
run_cli 0 "kill: unassign kills the holder at once: exit 0" unassign "$group" --mode kill
check "kill: no waiting (under 10 s)" test $(($(date +%s) - start)) -lt 10
check "kill: vfio-hold was killed" wait_for 5 gone "$HELD"
check "kill: the group is on the host" on_host
wait "$HELD" 2>/dev/null
check "the bystander lives on" kill -0 "$bystander"

# --- 5. Holders that hide: a child keeps only a legacy device fd (the group fd and the container
# closed), which names no group. The kernel still has the group open: the released lease stays,
# and a hard Unassign kills nobody and ends with Timeout, not Wedged.
hold_device_only() { # NAME: a lease whose command leaves vfio-hold behind with a device fd only
    "$VFIOCTL" acquire --interface group "$group" -- sh -c \
        "$VFIOD_PUBLIC/bin/vfio-hold --close-group --group-fd \$VFIOD_FD_GROUP $edu > /tmp/$1.hold 2>&1 & echo \$! > /tmp/child.pid" \
        > "/tmp/$1.out" 2>&1
    check_eq "$1: vfioctl acquire exits 0 with its command" 0 "$?" || diag "$(cat "/tmp/$1.out")"
    CHILD=$(cat /tmp/child.pid)
    check "$1: the child holds a device fd and nothing else of the group" wait_for 20 grep -q ready "/tmp/$1.hold"
    diag "$1: the child's fds: $(ls -l "/proc/$CHILD/fd" 2>&1 | grep -o -e 'vfio.*' -e 'anon_inode.*' | tr '\n' ' ')"
}
run_cli 0 "hidden: assign group $group" assign "$group"
hold_device_only hidden
check_eq "hidden: the released lease stays releasing" releasing "$(group_state "$group")"
sleep 2
check_eq "hidden: two seconds on, still releasing" releasing "$(group_state "$group")"
check_eq "hidden: Group.Holders names nobody" "a(us) 0" "$(group_prop "$group" Holders)"
check_eq "hidden: Group.HeldUnnamed is true" "b true" "$(group_prop "$group" HeldUnnamed)"
expect_in "hidden: Group.HolderCandidates lists the child" "$(group_prop "$group" HolderCandidates)" "$CHILD \"vfio-hold\""
run_cli 0 "hidden: vfioctl holders" holders "$group"
expect_in "hidden: vfioctl holders says something it cannot name holds the group" "$CLI_OUT" "cannot name"
expect_in "hidden: and lists the child as a candidate" "$CLI_OUT" "$CHILD  vfio-hold"
out=$(run_as_user nobody $client "$group" 2>&1)
expect_in "hidden: another user's Acquire meanwhile: GroupBusy" "$out" "org.vfiod1.Error.GroupBusy"
start=$(date +%s)
run_cli 6 "hidden: a hard unassign kills nobody: Timeout, exit 6" unassign "$group" --mode hard --timeout 1
diag "hidden: it took $(($(date +%s) - start)) s: $CLI_ERR"
expect_in "hidden: the error says what it cannot name" "$CLI_ERR" "cannot name"
expect_in "hidden: and names the child as a candidate" "$CLI_ERR" "pid $CHILD (vfio-hold)"
check "hidden: the child lives" kill -0 "$CHILD"
check_eq "hidden: the group is not wedged but still releasing" releasing "$(group_state "$group")"
check "hidden: still on vfio-pci" endpoints_on "$group" vfio-pci
kill "$CHILD"
check "hidden: the lease ends once the child is gone" wait_for 10 state_is vfio
check_eq "hidden: Group.HeldUnnamed is false again" "b false" "$(group_prop "$group" HeldUnnamed)"
check_eq "hidden: no candidates any more" "a(us) 0" "$(group_prop "$group" HolderCandidates)"
run_cli 0 "hidden: now the unassign succeeds" unassign "$group"
check "hidden: the group is on the host" on_host

# The same without a lease: root's vfio-hold with only a device fd.
run_cli 0 "hidden root: assign group $group" assign "$group"
"$VFIOD_PUBLIC/bin/vfio-hold" --close-group "$group" "$edu" > /tmp/hidden-root.out 2>&1 &
HELD=$!
check "hidden root: vfio-hold holds a device fd only" wait_for 20 grep -q ready /tmp/hidden-root.out
run_cli 4 "hidden root: fail mode: GroupBusy, exit 4" unassign "$group" --mode fail
expect_in "hidden root: it says what it cannot name" "$CLI_ERR" "cannot name"
expect_in "hidden root: and names vfio-hold as a candidate" "$CLI_ERR" "pid $HELD (vfio-hold)"
run_cli 6 "hidden root: a kill unassign kills nobody: Timeout, exit 6" unassign "$group" --mode kill
check "hidden root: vfio-hold lives" kill -0 "$HELD"
check_eq "hidden root: the group is vfio again, not wedged" vfio "$(group_state "$group")"
kill "$HELD"
wait "$HELD" 2>/dev/null
run_cli 0 "hidden root: once it is gone the unassign succeeds" unassign "$group"
check "hidden root: the group is on the host" on_host

# --- 6. A child keeps only a mapping of BAR 0, every fd closed. Where the kernel shows the BAR's
# physical address as the mapping's offset in /proc/PID/maps (6.1), the child is named: listed in
# Holders and killed by a hard Unassign, which then finishes. Where it shows 0 (6.12) it is only a
# candidate, as in 5.
run_cli 0 "mapped: assign group $group" assign "$group"
"$VFIOCTL" acquire --interface group "$group" -- sh -c \
    "$VFIOD_PUBLIC/bin/vfio-hold --map-bar0 --group-fd \$VFIOD_FD_GROUP $edu > /tmp/mapped.hold 2>&1 & echo \$! > /tmp/child.pid" \
    > /tmp/mapped.out 2>&1
check_eq "mapped: vfioctl acquire exits 0 with its command" 0 "$?" || diag "$(cat /tmp/mapped.out)"
CHILD=$(cat /tmp/child.pid)
check "mapped: the child maps BAR 0" wait_for 20 grep -q ready /tmp/mapped.hold
check "mapped: no fd of the child is a VFIO file" sh -c "! ls -l /proc/$CHILD/fd | grep -q -e vfio -e iommu"
mapping=$(grep 'anon_inode:\[vfio-device\]' "/proc/$CHILD/maps")
bar0=$(head -n1 "/sys/bus/pci/devices/$edu/resource" | awk '{print $1}')
diag "mapped: the child's mapping: $mapping; BAR 0 at $bar0"
check "mapped: the lease stays releasing" wait_for 5 state_is releasing
if [ $((0x$(echo "$mapping" | awk '{print $3}'))) -eq $((bar0)) ]; then
    expect_in "mapped: the maps offset is BAR 0's address: Group.Holders names the child" \
        "$(group_prop "$group" Holders)" "$CHILD \"vfio-hold\""
    run_cli 0 "mapped: a hard unassign kills the child and finishes: exit 0" unassign "$group" --mode hard --timeout 1
    check "mapped: the child was killed" wait_for 5 gone "$CHILD"
    check "mapped: the group is on the host" on_host
else
    check_eq "mapped: the maps offset says nothing: HeldUnnamed" "b true" "$(group_prop "$group" HeldUnnamed)"
    expect_in "mapped: the child is a candidate" "$(group_prop "$group" HolderCandidates)" "$CHILD \"vfio-hold\""
    run_cli 6 "mapped: a hard unassign kills nobody: Timeout, exit 6" unassign "$group" --mode hard --timeout 1
    check "mapped: the child lives" kill -0 "$CHILD"
    kill "$CHILD"
    check "mapped: the lease ends once the child is gone" wait_for 10 state_is vfio
    run_cli 0 "mapped: now the unassign succeeds" unassign "$group"
    check "mapped: the group is on the host" on_host
fi

# --- 7. Fds parked in a socket: the command sends its group and container fds through a
# socketpair that a child keeps, closes its own and exits; the fds are in flight, in nobody's fd
# table. The group stays held: the released lease stays releasing, HeldUnnamed says so, and it
# ends when the child (and with it the socket) is gone.
run_cli 0 "parked: assign group $group" assign "$group"
"$VFIOCTL" acquire --interface group "$group" -- /usr/bin/python3 -c '
import os, socket
fds = [int(os.environ["VFIOD_FD_GROUP"]), int(os.environ["VFIOD_FD_CONTAINER"])]
keep, other = socket.socketpair()
keep.set_inheritable(True)
other.set_inheritable(True)
socket.send_fds(keep, [b"x"], fds)
for fd in fds:
    os.close(fd)
child = os.fork()
if child == 0:
    os.execvp("sleep", ["sleep", "600"])  # keeps both ends of the socketpair, and so the fds
open("/tmp/child.pid", "w").write("%d\n" % child)
' > /tmp/parked.out 2>&1
check_eq "parked: vfioctl acquire exits 0 with its command" 0 "$?" || diag "$(cat /tmp/parked.out)"
CHILD=$(cat /tmp/child.pid)
check "parked: no fd of the child is a VFIO file" sh -c "! ls -l /proc/$CHILD/fd | grep -q -e vfio -e iommu"
check "parked: the released lease stays releasing" wait_for 5 state_is releasing
sleep 2
check_eq "parked: two seconds on, still releasing" releasing "$(group_state "$group")"
check_eq "parked: Group.HeldUnnamed is true" "b true" "$(group_prop "$group" HeldUnnamed)"
check_eq "parked: Group.Holders names nobody" "a(us) 0" "$(group_prop "$group" Holders)"
out=$($client "$group" 2>&1)
expect_in "parked: root's Acquire meanwhile: GroupBusy" "$out" "org.vfiod1.Error.GroupBusy"
kill "$CHILD"
check "parked: the lease ends once the socket is gone" wait_for 10 state_is vfio
run_cli 0 "parked: unassign group $group" unassign "$group"
check "parked: the group is on the host" on_host

# --- 8. A child keeps only a BAR 0 mapping made from a VFIO cdev bound to an iommufd (6.6 and
# later), every fd closed: /proc/PID/maps shows the cdev's path, so it is named, and a hard
# Unassign kills it and finishes.
run_cli 0 "cdev-mapped: assign group $group" assign "$group"
cdev=/dev/vfio/devices/$(ls "/sys/bus/pci/devices/$edu/vfio-dev" 2>/dev/null)
if [ ! -c "$cdev" ]; then
    skip "cdev-mapped: a BAR mapped from a cdev is named" "no VFIO cdevs on $(uname -r)"
    run_cli 0 "cdev-mapped: unassign group $group" unassign "$group"
else
    "$VFIOCTL" acquire --interface iommufd "$group" -- sh -c \
        "fd=\$(echo \"\$VFIOD_FDS\" | tr ' ' '\\n' | sed -n 's/^device:$edu=//p');
         $VFIOD_PUBLIC/bin/vfio-hold --map-bar0 --cdev-fd \$fd --iommufd-fd \$VFIOD_FD_IOMMUFD > /tmp/cdev-mapped.hold 2>&1 &
         echo \$! > /tmp/child.pid" > /tmp/cdev-mapped.out 2>&1
    check_eq "cdev-mapped: vfioctl acquire exits 0 with its command" 0 "$?" || diag "$(cat /tmp/cdev-mapped.out)"
    CHILD=$(cat /tmp/child.pid)
    check "cdev-mapped: the child maps BAR 0 through $cdev" wait_for 20 grep -q ready /tmp/cdev-mapped.hold ||
        diag "$(cat /tmp/cdev-mapped.hold)"
    check "cdev-mapped: no fd of the child is a VFIO file" sh -c "! ls -l /proc/$CHILD/fd | grep -q -e vfio -e iommu"
    diag "cdev-mapped: the child's mapping: $(grep /dev/vfio/ "/proc/$CHILD/maps")"
    check "cdev-mapped: the lease stays releasing" wait_for 5 state_is releasing
    expect_in "cdev-mapped: Group.Holders names the child" "$(group_prop "$group" Holders)" "$CHILD \"vfio-hold\""
    run_cli 0 "cdev-mapped: a hard unassign kills the child and finishes: exit 0" unassign "$group" --mode hard \
        --timeout 1
    check "cdev-mapped: the child was killed" wait_for 5 gone "$CHILD"
    check "cdev-mapped: the group is on the host" on_host
fi

check "the bystander lives to the end" kill -0 "$bystander"

kill "$bystander"
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
