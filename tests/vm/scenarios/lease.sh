#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd systemd
#
# The fd broker seen from a client written with python3-dbus: Acquire hands out real fds, the
# lease follows its owner (Release, or the owner leaving with nobody holding the fds), a leased
# group is busy for everybody else, and groups share a container exactly when acquired under one
# key by one owner.

. "$VFIOD_SRC/tests/vm/lib.sh"

client="/usr/bin/python3 $VFIOD_PUBLIC/helpers/lease-client.py"
edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
nics=$(pci_find 0x8086 0x10d3)
g1=$(group_of "$(echo "$nics" | sed -n 1p)")
g2=$(group_of "$(echo "$nics" | sed -n 2p)")
diag "bridge group $group, e1000e groups $g1 $g2"

lease_prop() { busctl --system get-property org.vfiod1 "$1" org.vfiod1.Lease "$2"; }
container_prop() { busctl --system get-property org.vfiod1 "$1" org.vfiod1.Container "$2"; }
path_of() { sed -n 's/^[a-z]* "\(.*\)"$/\1/p'; }
state_is() { [ "$(group_state "$1")" = "$2" ]; }

start_vfiod || { done_testing; exit; }
for g in "$group" "$g1" "$g2"; do run_cli 0 "assign group $g" assign "$g"; done

# --- a client that leaves: the lease ends with it
out=$($client "$edu" 2>&1)
check_eq "acquire by device address exits 0" 0 "$?"
diag "$out"
if [ "$VM_KERNEL" = iommufd ]; then
    expect_in "iommufd kernel: an iommufd fd" "$out" "fd iommufd /dev/iommu"
    expect_in "iommufd kernel: a device cdev fd" "$out" "fd device:$edu /dev/vfio/devices/vfio"
else
    expect_in "a container fd" "$out" "fd container /dev/vfio/vfio"
    expect_in "a group fd" "$out" "fd group /dev/vfio/$group"
fi
check "the lease ended with its owner" wait_for 10 state_is "$group" vfio

out=$($client --interface group "$group" 2>&1)
expect_in "interface=group: a group fd" "$out" "fd group /dev/vfio/$group"
check "and ended again" wait_for 10 state_is "$group" vfio

# --- a client that stays
$client --hold 60 "$group" > /tmp/holder.out 2>&1 &
holder=$!
check "the holder has its lease" wait_for 20 grep -q ready /tmp/holder.out
lease=$(sed -n 's/^lease //p' /tmp/holder.out)
check_eq "state is leased" leased "$(group_state "$group")"
check_eq "Group.Lease names the lease" "o \"$lease\"" "$(group_prop "$group" Lease)"
check_eq "Lease.State" 's "active"' "$(lease_prop "$lease" State)"
check_eq "Lease.Uid" "u 0" "$(lease_prop "$lease" Uid)"
check_eq "Lease.Groups" "au 1 $group" "$(lease_prop "$lease" Groups)"
container=$(lease_prop "$lease" Container | path_of)
model=$(container_prop "$container" IommuModel)
diag "container $container: $model, ranges $(container_prop "$container" IovaRanges)"
case $model in 's "Type1v2"' | 's "iommufd"') ok "container model $model" ;; *) fail "container model" "$model" ;; esac
expect_in "the container has IOVA ranges" "$(container_prop "$container" IovaRanges)" "a(tt) "
check "the served org.vfiod1.Lease equals dbus/org.vfiod1.Lease.xml" \
    interface_matches "$lease" org.vfiod1.Lease "$VFIOD_SRC/dbus/org.vfiod1.Lease.xml"
check "the served org.vfiod1.Container equals dbus/org.vfiod1.Container.xml" \
    interface_matches "$container" org.vfiod1.Container "$VFIOD_SRC/dbus/org.vfiod1.Container.xml"
expect_in "Group.Holders lists the holder" "$(group_prop "$group" Holders)" "$holder"
out=$($client "$group" 2>&1)
expect_in "a second Acquire: GroupBusy" "$out" "org.vfiod1.Error.GroupBusy"
run_cli 4 "unassign --mode fail of a leased group: exit 4" unassign "$group" --mode fail
out=$(run_as_user nobody busctl --system call org.vfiod1 "$lease" org.vfiod1.Lease Release 2>&1)
expect_in "Release by somebody else: denied" "$out" "Access denied"
check_eq "still leased" leased "$(group_state "$group")"
out=$(run_as_user nobody /usr/bin/python3 "$VFIOD_PUBLIC/helpers/lease-client.py" "$g1" 2>&1)
expect_in "Acquire by an unprivileged user without a rule: AccessDenied" "$out" "AccessDenied"
kill "$holder"
wait "$holder" 2>/dev/null
check "killing the owner ends the lease" wait_for 10 state_is "$group" vfio

# --- Release
out=$($client --release "$group" 2>&1)
expect_in "Release by the owner" "$out" "released /org/vfiod1/lease/"
# The client held its fds while it called Release: the lease ended once it exited.
check "released: vfio again once the client is gone" wait_for 10 state_is "$group" vfio

# --- sharing: one owner, one key -> one container; two keys -> two
$client --hold 30 --interface group "$g1@k" "$g2@k" > /tmp/shared.out 2>&1 &
shared=$!
check "two groups under one key" wait_for 20 grep -q ready /tmp/shared.out
c1=$(lease_prop "$(sed -n 's/^lease //p' /tmp/shared.out | sed -n 1p)" Container | path_of)
c2=$(lease_prop "$(sed -n 's/^lease //p' /tmp/shared.out | sed -n 2p)" Container | path_of)
check_eq "one key: one container" "$c1" "$c2"
check_eq "the container lists both groups" "au 2 $g1 $g2" "$(container_prop "$c1" Groups)"
kill "$shared"; wait "$shared" 2>/dev/null
check "both leases end" wait_for 10 sh -c "[ \"\$(busctl --system call org.vfiod1 /org/vfiod1 org.vfiod1.Manager ListGroups | grep -c leased)\" = 0 ]"
$client --hold 30 --interface group "$g1@a" "$g2@b" > /tmp/two.out 2>&1 &
two=$!
check "two groups under two keys" wait_for 20 grep -q ready /tmp/two.out
c1=$(lease_prop "$(sed -n 's/^lease //p' /tmp/two.out | sed -n 1p)" Container | path_of)
c2=$(lease_prop "$(sed -n 's/^lease //p' /tmp/two.out | sed -n 2p)" Container | path_of)
[ -n "$c1" ] && [ "$c1" != "$c2" ] && ok "two keys: two containers" || fail "two keys: two containers" "$c1 $c2"
kill "$two"; wait "$two" 2>/dev/null

for g in "$group" "$g1" "$g2"; do wait_for 10 state_is "$g" vfio; run_cli 0 "unassign group $g" unassign "$g"; done
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
