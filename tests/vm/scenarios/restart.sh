#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd systemd
# vm-timeout: 360
#
# Leases across daemon restarts, without a service manager (no fd store: the lease table under
# /run/vfiod alone brings them back; systemd.sh covers the fd store). An owner still connected
# keeps its lease and still hears its signals; a restart in the middle of a soft wait leaves the
# lease active and the group untouched; a lease whose owner left while the daemon was away ends
# when the last holder lets go; after a crash too.

. "$VFIOD_SRC/tests/vm/lib.sh"

client="/usr/bin/python3 $VFIOD_PUBLIC/helpers/lease-client.py"
edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
on_host() { [ "$(group_state "$group")" = host ] && ! endpoints_on "$group" vfio-pci && [ -z "$(driver_of "$edu")" ]; }
leased() { [ "$(group_state "$group")" = leased ]; }
lease_path() { group_prop "$group" Lease | sed -n 's/^o "\(.*\)"$/\1/p'; }
lease_prop() { busctl --system get-property org.vfiod1 "$1" org.vfiod1.Lease "$2" 2>/dev/null; }
restart() { # restart SIGNAL: stop the daemon with SIGNAL, start it again
    stop_vfiod "$1"
    start_vfiod
}

start_vfiod || { done_testing; exit; }

# --- 0. SIGTERM in the middle of an assign: the move finishes first, nothing is left half moved
"$VFIOCTL" assign "$group" > /tmp/assign-stop.out 2>&1 &
assign=$!
wait_for 20 sh -c "[ \"\$(busctl --system get-property org.vfiod1 /org/vfiod1/group/$group org.vfiod1.Group State)\" != 's \"host\"' ]"
stop_vfiod TERM
check_eq "stop: vfiod exits 0 after the move" 0 "$VFIOD_STATUS"
if grep -q "letting the moves in flight finish" "$VFIOD_LOG"; then
    ok "stop: the daemon let the move finish before exiting"
else
    skip "stop: the daemon let the move finish before exiting" "the assign ended before SIGTERM came"
fi
wait "$assign"
check_eq "stop: the assign got its answer (exit 0)" 0 "$?"
check "stop: every endpoint is on vfio-pci" endpoints_on "$group" vfio-pci
check "stop: the intent log says vfio" grep -q '"state": "vfio"' "/run/vfiod/group-$group.json"
start_vfiod
check_eq "stop: after the restart the group is vfio" vfio "$(group_state "$group")"
run_cli 0 "stop: unassign" unassign "$group"

# --- 1. an owner that stays connected keeps its lease and its signals
run_cli 0 "assign group $group" assign "$group"
"$VFIOCTL" acquire "$group" -- sleep 600 > /tmp/polite.out 2>&1 &
polite=$!
check "polite: leased" wait_for 30 leased
lease=$(lease_path)
owner=$(lease_prop "$lease" Owner)
check "the lease table names the lease" grep -q "\"group\": $group" /run/vfiod/leases.json
restart TERM
check_eq "after the restart: still leased" leased "$(group_state "$group")"
check_eq "after the restart: the same lease object" "$lease" "$(lease_path)"
check_eq "after the restart: the same owner" "$owner" "$(lease_prop "$lease" Owner)"
check "after the restart: the owner lives" kill -0 "$polite"
expect_in "after the restart: Holders still names the holder" "$(group_prop "$group" Holders)" "sleep"
run_cli 0 "soft unassign after the restart: the owner hears ReleaseRequested and lets go" \
    unassign "$group" --mode soft --timeout 20
check "polite: the group is on the host" on_host
wait "$polite"
check_eq "polite: vfioctl acquire ended with its command's SIGTERM (143)" 143 "$?"

# --- 2. a restart in the middle of a soft wait
run_cli 0 "assign again" assign "$group"
$client --hold 600 "$group" > /tmp/stubborn.out 2>&1 &
holder=$!
check "stubborn: the holder has the lease" wait_for 30 grep -q ready /tmp/stubborn.out
lease=$(lease_path)
"$VFIOCTL" unassign "$group" --mode soft --timeout 120 > /tmp/unassign.out 2>&1 &
unassign=$!
check "soft wait: the lease is releasing" wait_for 20 sh -c "busctl --system get-property org.vfiod1 $lease org.vfiod1.Lease State | grep -q releasing"
restart TERM
wait "$unassign"
rc=$?
check "soft wait: the waiting unassign failed when the daemon left (exit $rc)" test "$rc" -ne 0
diag "vfioctl unassign said: $(cat /tmp/unassign.out)"
check_eq "soft wait: still leased" leased "$(group_state "$group")"
check_eq "soft wait: the lease is active again" 's "active"' "$(lease_prop "$lease" State)"
check "soft wait: the holder lives" kill -0 "$holder"
check "soft wait: the group is still on vfio-pci" endpoints_on "$group" vfio-pci
run_cli 0 "hard unassign after the restart kills the holder" unassign "$group" --mode hard --timeout 1
check "hard: the holder was killed" sh -c "! kill -0 $holder 2>/dev/null"
check "hard: the group is on the host" on_host
wait "$holder" 2>/dev/null

# --- 3. a crash, with an owner that left and a child that still holds the fds
run_cli 0 "assign for the crash" assign "$group"
$client --orphan "$group" > /tmp/orphan.out 2>&1
child=$(sed -n 's/^child //p' /tmp/orphan.out)
check "crash: the owner's child holds the fds" kill -0 "$child"
check "crash: leased" wait_for 30 leased
lease=$(lease_path)
stop_vfiod KILL
start_vfiod
check_eq "crash: the lease came back" "$lease" "$(lease_path)"
sleep 3
check_eq "crash: the lease waits for the child" leased "$(group_state "$group")"
expect_in "crash: Holders names the child" "$(group_prop "$group" Holders)" "$child"
kill "$child"
check "crash: the lease ends once the child is gone" wait_for 20 sh -c "[ \"\$(busctl --system get-property org.vfiod1 /org/vfiod1/group/$group org.vfiod1.Group State)\" = 's \"vfio\"' ]"
check "crash: no lease left" sh -c "! busctl --system tree org.vfiod1 | grep -q /lease/"

# --- 4. the owner is killed while the daemon is away, nobody holds the fds: the lease ends
$client --hold 600 "$group" > /tmp/gone.out 2>&1 &
holder=$!
check "gone: the holder has a new lease" wait_for 30 grep -q ready /tmp/gone.out
check "gone: not the lease of the crash" test "$(lease_path)" != "$lease"
stop_vfiod KILL
kill -KILL "$holder"
wait "$holder" 2>/dev/null
start_vfiod
# The bus daemon says so when the restarted daemon asks it, just after it took its name.
group_vfio() { [ "$(group_state "$group")" = vfio ]; }
check "gone: the lease ended at the restart" wait_for 10 group_vfio
check "gone: no lease left" sh -c "! busctl --system tree org.vfiod1 | grep -q /lease/"
grep -q "restored lease .* is gone" "$VFIOD_LOG" && ok "gone: the daemon says why" || fail "gone: the daemon says why"

# --- 5. ids go on: a lease after the restarts is a new one
"$VFIOCTL" acquire "$group" -- true > /tmp/new.out 2>&1
check_eq "a new lease after the restarts works" 0 "$?"
grep -q "IOMMU group $group of .* restored" "$VFIOD_LOG" && ok "the daemon logged the restore" ||
    fail "the daemon logged the restore"

run_cli 0 "unassign at the end" unassign "$group"
check "the group is on the host at the end" on_host
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
