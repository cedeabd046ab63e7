#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd systemd
# vm-timeout: 360
#
# Taking a leased group back: soft (ask, wait, give up), hard (ask, wait, kill every holder), kill
# (no wait), fail (refuse). Holders that release, that ignore the request, that passed their fds
# to a child and left, that are stopped. After every successful unassign no device of the group
# is on vfio-pci, and nothing but the holders was killed.

. "$VFIOD_SRC/tests/vm/lib.sh"

client="/usr/bin/python3 $VFIOD_PUBLIC/helpers/lease-client.py"
edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
on_host() { [ "$(group_state "$group")" = host ] && ! endpoints_on "$group" vfio-pci && [ -z "$(driver_of "$edu")" ]; }

# A process that has nothing to do with any of it, and must survive every kill.
sleep 3600 &
bystander=$!

# A worker's write may wait in the kernel for a while in 4c: more than the default 10 s deadline.
start_vfiod --write-timeout=60 || { done_testing; exit; }

# lease_with NAME CLIENT-ARGS...: assign, start a python holder, wait until it holds the lease.
lease_with() {
    local name=$1
    shift
    "$VFIOCTL" assign "$group" >/dev/null 2>&1
    $client "$@" "$group" > "/tmp/$name.out" 2>&1 &
    HOLDER=$!
    check "$name: the holder has the lease" wait_for 30 grep -q ready "/tmp/$name.out"
}

# --- 1. a holder that releases when asked: vfioctl acquire turns ReleaseRequested into SIGTERM
"$VFIOCTL" assign "$group" >/dev/null 2>&1
"$VFIOCTL" acquire "$group" -- sleep 600 > /tmp/polite.out 2>&1 &
polite=$!
check "polite: leased" wait_for 30 sh -c "busctl --system get-property org.vfiod1 /org/vfiod1/group/$group org.vfiod1.Group State | grep -q leased"
run_cli 0 "soft unassign of a holder that releases: exit 0" unassign "$group" --mode soft --timeout 20
check "polite: the group is on the host" on_host
wait "$polite"
check_eq "polite: vfioctl acquire ended with its command's SIGTERM (143)" 143 "$?"

# --- 2. a holder that ignores the request
lease_with stubborn --hold 600
run_cli 6 "soft unassign of a holder that ignores it: Timeout, exit 6" unassign "$group" --mode soft --timeout 2
check_eq "soft timeout: still leased" leased "$(group_state "$group")"
check "soft timeout: the holder lives" kill -0 "$HOLDER"
check "soft timeout: still on vfio-pci" endpoints_on "$group" vfio-pci
run_cli 0 "hard unassign: exit 0" unassign "$group" --mode hard --timeout 2
check "hard: the holder was killed" sh -c "! kill -0 $HOLDER 2>/dev/null"
check "hard: the group is on the host" on_host
wait "$HOLDER" 2>/dev/null

# --- 3. a holder that passed its fds to a child and left without releasing
lease_with orphan --orphan
child=$(sed -n 's/^child //p' /tmp/orphan.out)
check "orphan: the child holds on" kill -0 "$child"
check_eq "orphan: the lease lives on with the child" leased "$(group_state "$group")"
expect_in "orphan: Group.Holders names the child" "$(group_prop "$group" Holders)" "$child"
run_cli 0 "hard unassign finds the child: exit 0" unassign "$group" --mode hard --timeout 1
check "orphan: the child was killed" sh -c "! kill -0 $child 2>/dev/null"
check "orphan: the group is on the host" on_host

# --- 4. a stopped holder
lease_with stopped --hold 600
kill -STOP "$HOLDER"
run_cli 0 "hard unassign of a stopped holder: exit 0" unassign "$group" --mode hard --timeout 1
check "stopped: the holder was killed" sh -c "! kill -0 $HOLDER 2>/dev/null"
check "stopped: the group is on the host" on_host
wait "$HOLDER" 2>/dev/null

# --- 4b. a holder that appears after the kill, while the owner stays connected (it holds no fd, so
# nothing but the kill poll looks at the holders). A child holds the fds; a relay has them in flight
# in a socket (in nobody's fd table) and takes them the moment that child dies, milliseconds after
# the kill: the poll 100 ms later finds it, kills it, and must come again. It fired only once
# before: the Unassign was never answered and every later one was refused. That the relay was
# killed shows that a poll found it.
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
lease_with relay --hold 600 --hand-over 600
relay=$(sed -n 's/^relay //p' /tmp/relay.out)
out=$(timeout 60 "$VFIOCTL" unassign "$group" --mode hard --timeout 1 2>&1)
check_eq "relay: hard unassign when the fds pass on after the kill: exit 0" 0 "$?" || diag "$out"
expect_in "relay: the relay took the fds over" "$(cat /tmp/relay.out)" "took over"
check "relay: the child that held them was killed" wait_for 5 gone "$(sed -n 's/^holder //p' /tmp/relay.out)"
check "relay: the relay was killed too" wait_for 5 gone "$relay"
check "relay: the owner, which held nothing, lives" kill -0 "$HOLDER"
check "relay: the group is on the host" on_host
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
run_cli 0 "relay: the group can be assigned again" assign "$group"
run_cli 0 "relay: and a second Unassign is accepted" unassign "$group"

# --- 4c. a removal kills the holders of its group, never vfiod's own worker moving another group.
# Group B (an e1000e) is unassigned while a holder nothing sees (an unbound cdev in flight in a
# socket, park-cdev.py; 6.6 and later) keeps the device, so the worker's unbind waits in the
# kernel; that worker was forked after group A was leased. Workers once kept every fd of the
# daemon (A's lease and container fds among them): A's removal found and killed B's worker, and
# B's move failed. Any holder 6.1 has keeps the group open, so Unassign waits for it before any
# worker starts: there the case cannot arise.
nic=$(pci_find 0x8086 0x10d3 | tail -n1)
nic_group=$(group_of "$nic")
run_cli 0 "worker: assign the e1000e's group $nic_group" assign "$nic_group"
if [ ! -c "/dev/vfio/devices/$(ls "/sys/bus/pci/devices/$nic/vfio-dev")" ]; then
    skip "worker: a removal never kills vfiod's worker" "no VFIO cdevs on $(uname -r): no move waits in the kernel"
    run_cli 0 "worker: unassign group $nic_group" unassign "$nic_group"
else
lease_with worker --hold 600
/usr/bin/python3 "$VFIOD_PUBLIC/helpers/park-cdev.py" "$nic" > /tmp/nic-hold.out 2>&1 &
nic_holder=$!
check "worker: a holder nothing sees keeps $nic" wait_for 20 grep -q ready /tmp/nic-hold.out
"$VFIOCTL" unassign "$nic_group" > /tmp/nic-unassign.out 2>&1 &
nic_unassign=$!
check "worker: group $nic_group's move waits in the kernel" \
    wait_for 10 sh -c "[ \"\$(busctl --system get-property org.vfiod1 /org/vfiod1/group/$nic_group org.vfiod1.Group State)\" = 's \"unassigning\"' ]"
run_cli 0 "worker: unassign --mode kill of group $group meanwhile: exit 0" unassign "$group" --mode kill
check "worker: group $group's holder was killed" sh -c "! kill -0 $HOLDER 2>/dev/null"
check "worker: group $group is on the host" on_host
check_eq "worker: group $nic_group is still moving" unassigning "$(group_state "$nic_group")"
kill "$nic_holder"
wait "$nic_holder" 2>/dev/null
wait "$nic_unassign"
check_eq "worker: group $nic_group's unassign ends well once the holder lets go: exit 0" 0 "$?" ||
    diag "$(cat /tmp/nic-unassign.out)"
wait "$HOLDER" 2>/dev/null
fi
check_eq "worker: the e1000e is back on e1000e" e1000e "$(driver_of "$nic")"

# --- 5. kill, no wait; and fail
lease_with killed --hold 600
run_cli 4 "fail mode on a leased group: GroupBusy, exit 4" unassign "$group" --mode fail
check_eq "fail: still leased" leased "$(group_state "$group")"
start=$(date +%s)
run_cli 0 "kill mode: exit 0" unassign "$group" --mode kill
check "kill: no waiting (under 10 s)" test $(($(date +%s) - start)) -lt 10
check "kill: the holder was killed" sh -c "! kill -0 $HOLDER 2>/dev/null"
check "kill: the group is on the host" on_host
wait "$HOLDER" 2>/dev/null

# --- bad input changes nothing
lease_with bad --hold 600
run_cli 2 "an unknown mode: exit 2" unassign "$group" --mode gentle
out=$(busctl --system call org.vfiod1 /org/vfiod1 org.vfiod1.Manager Unassign 'sa{sv}' "$group" 1 timeout_usec t 0 2>&1)
expect_in "timeout_usec 0: refused" "$out" "timeout_usec must be"
out=$(busctl --system call org.vfiod1 /org/vfiod1/lease/9999 org.vfiod1.Lease Release 2>&1)
expect_in "Release of a lease that does not exist: unknown object" "$out" "nknown object"
check_eq "bad input: still leased" leased "$(group_state "$group")"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null

# --- 6. a device of a leased group is unplugged: the owner is told (Revoked), the lease follows
qmp '{"execute": "device_add", "arguments": {"driver": "edu", "id": "hpedu", "bus": "rp1"}}' >/dev/null
single_edu() {
    for d in $(pci_find 0x1234 0x11e8); do [ "$(group_devices "$(group_of "$d")" | wc -l)" -eq 1 ] && echo "$d"; done | head -n1
}
have_single_edu() { [ -n "$(single_edu)" ]; }
check "unplug: the hot-added edu appears in a group of its own" wait_for 20 have_single_edu
hp=$(single_edu)
if [ -n "$hp" ]; then
    hpg=$(group_of "$hp")
    run_cli 0 "unplug: assign the hot-added edu's group $hpg" assign "$hpg"
    "$VFIOCTL" acquire --interface group "$hp" -- sleep 600 > /tmp/unplug.out 2>&1 &
    acq=$!
    check "unplug: leased" wait_for 30 sh -c "busctl --system get-property org.vfiod1 /org/vfiod1/group/$hpg org.vfiod1.Group State | grep -q leased"
    check "unplug: qmp device_del" qmp '{"execute": "device_del", "arguments": {"id": "hpedu"}}'
    check "unplug: DEVICE_DELETED" qmp_wait_event DEVICE_DELETED 60 '{"device": "hpedu"}'
    check "unplug: vfioctl acquire ends" wait_for 30 sh -c "! kill -0 $acq 2>/dev/null"
    kill "$acq" 2>/dev/null
    wait "$acq"
    check_eq "unplug: the command was stopped (143)" 143 "$?"
    diag "$(cat /tmp/unplug.out)"
    expect_in "unplug: the owner heard Revoked(device-removed)" "$(cat /tmp/unplug.out)" "device-removed"
    check "unplug: the group is gone from the bus" sh -c "! busctl --system call org.vfiod1 /org/vfiod1 org.vfiod1.Manager GetGroup u $hpg >/dev/null 2>&1"
    check "unplug: no lease left" sh -c "! busctl --system tree org.vfiod1 | grep -q /lease/"
else
    fail "unplug: a hot-added edu in its own group" "none found"
fi

check "nothing else was killed" kill -0 "$bystander"
kill "$bystander"
wait_for 10 sh -c "[ \"\$(busctl --system get-property org.vfiod1 /org/vfiod1/group/$group org.vfiod1.Group State)\" != 's \"leased\"' ]"
"$VFIOCTL" unassign "$group" >/dev/null 2>&1
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
