#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock systemd
#
# Authorization through the real polkitd on the guest's system bus: what vfiod.json's rules do
# not allow, polkit's org.vfiod1.acquire and org.vfiod1.manage may (asked asynchronously). A
# polkit rule lets the user "daemon" manage and acquire; "nobody" has neither a vfiod.json rule
# nor polkit's blessing and is refused with nothing changed. Root needs nobody's permission.

. "$VFIOD_SRC/tests/vm/lib.sh"

polkitd=/usr/lib/polkit-1/polkitd
if [ ! -x "$polkitd" ]; then
    skip "polkit authorization" "polkitd is not installed ($polkitd)"
    done_testing
    exit
fi

edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")

# The actions as installed, and a rule an administrator would write.
mkdir -p /usr/share/polkit-1/actions /etc/polkit-1/rules.d
cp "$VFIOD_SRC/polkit/org.vfiod1.policy" /usr/share/polkit-1/actions/
cat > /etc/polkit-1/rules.d/50-vfiod-test.rules <<'EOF'
polkit.addRule(function(action, subject) {
    if ((action.id == "org.vfiod1.manage" || action.id == "org.vfiod1.acquire") && subject.user == "daemon")
        return polkit.Result.YES;
});
EOF
"$polkitd" --no-debug > /tmp/polkitd.log 2>&1 &
polkit_pid=$!
if wait_for 30 busctl --system status org.freedesktop.PolicyKit1; then
    ok "polkitd is on the system bus"
else
    fail "polkitd is on the system bus" "$(cat /tmp/polkitd.log)"
fi

start_vfiod || { done_testing; exit; }

# --- refused: nobody, without a rule of either kind
out=$(run_as_user nobody "$VFIOCTL" assign "$group" 2>&1)
check_eq "nobody may not assign: exit 5" 5 "$?"
diag "$out"
check_eq "refused: the group stays on the host" host "$(group_state "$group")"

# --- allowed by polkit: daemon assigns, acquires, and ends somebody else's lease
out=$(run_as_user daemon "$VFIOCTL" assign "$group" 2>&1)
check_eq "daemon assigns through polkit's org.vfiod1.manage: exit 0" 0 "$?" || diag "$out"
check_eq "the group is vfio" vfio "$(group_state "$group")"

out=$(run_as_user nobody "$VFIOCTL" acquire "$group" -- true 2>&1)
check_eq "nobody may not acquire: exit 5" 5 "$?"
check_eq "refused: the group is still vfio" vfio "$(group_state "$group")"

out=$(run_as_user daemon "$VFIOCTL" acquire "$group" -- sh -c 'test -n "$VFIOD_FDS"' 2>&1)
check_eq "daemon acquires through polkit's org.vfiod1.acquire: exit 0" 0 "$?" || diag "$out"

"$VFIOCTL" acquire "$group" -- sleep 600 > /tmp/root-lease.out 2>&1 &
root_holder=$!
check "root holds a lease" wait_for 30 sh -c "[ \"\$(busctl --system get-property org.vfiod1 /org/vfiod1/group/$group org.vfiod1.Group State)\" = 's \"leased\"' ]"
lease=$(group_prop "$group" Lease | sed -n 's/^o "\(.*\)"$/\1/p')
out=$(run_as_user nobody busctl --system call org.vfiod1 "$lease" org.vfiod1.Lease Release 2>&1)
check "nobody may not end root's lease" test $? -ne 0
expect_in "nobody: AccessDenied" "$out" "ccess denied"
check_eq "the lease lives on" leased "$(group_state "$group")"
out=$(run_as_user daemon busctl --system call org.vfiod1 "$lease" org.vfiod1.Lease Release 2>&1)
check_eq "daemon ends root's lease through org.vfiod1.manage" 0 "$?" || diag "$out"
# Root's command still holds the fds: the released lease waits for it.
check_eq "released, root's command still holding the fds: the group stays releasing" releasing \
    "$(group_state "$group")"
kill "$root_holder" 2>/dev/null
wait "$root_holder" 2>/dev/null
group_is_vfio() { [ "$(group_state "$group")" = vfio ]; }
check "once the command is gone the group is vfio again" wait_for 10 group_is_vfio

out=$(run_as_user daemon "$VFIOCTL" unassign "$group" 2>&1)
check_eq "daemon unassigns through polkit: exit 0" 0 "$?" || diag "$out"
check_eq "the group is on the host" host "$(group_state "$group")"

# --- polkit gone (and not bus-activatable): vfiod denies, and keeps serving
rm -f /usr/share/dbus-1/system-services/org.freedesktop.PolicyKit1.service
busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
kill "$polkit_pid"
wait "$polkit_pid" 2>/dev/null
check "polkitd is gone from the bus" wait_for 10 sh -c "! busctl --system status org.freedesktop.PolicyKit1"
out=$(run_as_user daemon "$VFIOCTL" assign "$group" 2>&1)
check_eq "without polkitd, daemon is refused: exit 5" 5 "$?"
check_eq "the group stays on the host" host "$(group_state "$group")"
run_cli 0 "the daemon keeps serving" list

stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
