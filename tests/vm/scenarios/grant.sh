#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock iommufd systemd
# vm-timeout: 300
#
# Access "grant": a config rule lets nobody have the bridge group's device node for as long as a
# grant lease lasts (no fds, the node's owner is the user's uid), and takes it back when the lease
# ends. `vfioctl show` names a leased group's container for an fd lease and none for a grant.

. "$VFIOD_SRC/tests/vm/lib.sh"

edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
node=/dev/vfio/$group
nobody_uid=$(id -u nobody)
diag "edu $edu in group $group; nobody is uid $nobody_uid; kernel $VM_KERNEL"

state_is() { [ "$(group_state "$1")" = "$2" ]; }
node_owner_is() { [ "$(stat -c %u "$node" 2>/dev/null)" = "$1" ]; }
# show_json KEY...: the value at the keys' path in `vfioctl --json show $group`, "MISSING" when absent.
show_json() {
    "$VFIOCTL" --json show "$group" | /usr/bin/python3 -c '
import json, sys
o = json.load(sys.stdin)
for k in sys.argv[1:]:
    try:
        o = o[int(k)] if isinstance(o, list) else o[k]
    except (KeyError, IndexError, ValueError, TypeError):
        print("MISSING"); sys.exit(0)
print(json.dumps(o) if isinstance(o, (dict, list)) else o)' "$@"
}

# A group only "bin" is in (the guest's /etc is its own): the rule that names it is for its members.
echo "vfiotest:x:4242:bin" >> /etc/group
mkdir -p /etc/vfiod/vfiod.d
cat > /etc/vfiod/vfiod.json <<EOF
{
  "rules": [
    {"users": ["nobody"], "actions": ["grant", "acquire"], "targets": ["$group"]},
    {"groups": ["vfiotest"], "actions": ["acquire"], "targets": ["$group"]}
  ]
}
EOF

start_vfiod --config=/etc/vfiod/vfiod.json --config-dir=/etc/vfiod/vfiod.d || { done_testing; exit; }
run_cli 0 "assign group $group" assign "$group"
check "group $group is vfio" wait_for 20 state_is "$group" vfio

# --- before any grant: the node is root's
check_eq "the node is root's" 0 "$(stat -c %u "$node")"
if run_as_user nobody sh -c "exec 3<>$node" 2>/dev/null; then
    fail "nobody cannot open $node without a grant"
else
    ok "nobody cannot open $node without a grant"
fi

# --- a grant lease for a command that opens the node itself
out=$(run_as_user nobody "$VFIOCTL" acquire --grant "$edu" -- sh -c "exec 3<>$node && echo opened" 2>&1)
check_eq "acquire --grant as nobody: the command opens $node, exit 0" "opened/0" "$out/$?"
check "the grant ended with the command" wait_for 10 state_is "$group" vfio
check "and the node is root's again" wait_for 10 node_owner_is 0

# --- a rule that names a group: the caller's groups come from the user database (the bus sends none)
out=$(run_as_user bin "$VFIOCTL" acquire --interface group "$edu" -- true 2>&1)
check_eq "groups rule: bin, a member of vfiotest, may acquire: exit 0" 0 "$?" || diag "$out"
out=$(run_as_user daemon "$VFIOCTL" acquire --interface group "$edu" -- true 2>&1)
check_eq "groups rule: daemon, not a member, is refused: exit 5" 5 "$?"
expect_in "groups rule: daemon hears why" "$out" "uthoriz"
check "groups rule: the group is back to vfio" wait_for 10 state_is "$group" vfio

# --- the grantee owns the node during the grant and may widen its mode: that ends with the grant
node_is_roots_0600() { [ "$(stat -c '%u %a' "$node" 2>/dev/null)" = "0 600" ]; }
out=$(run_as_user nobody "$VFIOCTL" acquire --grant "$edu" -- chmod 0666 "$node" 2>&1)
check_eq "acquire --grant: the grantee chmods $node 0666, exit 0" "/0" "$out/$?"
check "released: the node is root's and 0600 again" wait_for 10 node_is_roots_0600
diag "$node after the release: $(stat -c '%U %a' "$node")"
if run_as_user daemon sh -c "exec 3<>$node" 2>/dev/null; then
    fail "released: another user (daemon) cannot open $node"
else
    ok "released: another user (daemon) cannot open $node"
fi

# --- a grant lease that stays a while
# setpriv itself in the background (not run_as_user, a function: $! would be a subshell), so that
# $! is the pid vfioctl runs as.
setpriv --reuid=nobody --regid="$(id -g nobody)" --init-groups -- \
    "$VFIOCTL" acquire --grant "$edu" -- sleep 30 > /tmp/grant.out 2>&1 &
granter=$!
check "the grant lease is active" wait_for 20 state_is "$group" leased
check "during the grant the node is nobody's" wait_for 10 node_owner_is "$nobody_uid"
lease=$(show_json lease)
expect_in "show --json: a lease" "$lease" "/org/vfiod1/lease/"
check_eq "show --json: no container for a grant lease" MISSING "$(show_json container)"
out=$(run_as_user nobody sh -c "exec 3<>$node && echo opened" 2>&1)
check_eq "nobody opens $node during the grant" opened "$out"
check "the grantee chmods $node 0666 during the grant" run_as_user nobody chmod 0666 "$node"
# Killed, not released: the lease ends because its owner left the bus.
kill -KILL "$granter"
wait "$granter" 2>/dev/null
check "killing vfioctl ends the grant" wait_for 10 state_is "$group" vfio
check "the node is root's again after the grant" wait_for 10 node_owner_is 0
check "killed: and 0600 again" node_is_roots_0600
if run_as_user daemon sh -c "exec 3<>$node" 2>/dev/null; then
    fail "killed: another user (daemon) cannot open $node"
else
    ok "killed: another user (daemon) cannot open $node"
fi
if run_as_user nobody sh -c "exec 3<>$node" 2>/dev/null; then
    fail "nobody cannot open $node after the grant"
else
    ok "nobody cannot open $node after the grant"
fi

# --- vfiod follows its lessees' connections through NameOwnerChanged; only the bus may send that.
# The bus policy (<deny send_destination="org.vfiod1"/>) keeps a forged one away from the daemon.
# A grant lease with nothing holding the node would end at once if the daemon believed its owner gone.
setpriv --reuid=nobody --regid="$(id -g nobody)" --init-groups -- \
    "$VFIOCTL" acquire --grant "$edu" -- sleep 60 > /tmp/forged.out 2>&1 &
granter=$!
check "forged NameOwnerChanged: a grant lease is active" wait_for 20 state_is "$group" leased
lease=$(show_json lease)
owner=$(busctl --system get-property org.vfiod1 "$lease" org.vfiod1.Lease Owner | sed -n 's/^s "\(.*\)"$/\1/p')
run_as_user daemon dbus-send --system --type=signal --dest=org.vfiod1 /org/freedesktop/DBus \
    org.freedesktop.DBus.NameOwnerChanged string:"$owner" string:"$owner" string:"" 2>/dev/null
run_as_user daemon dbus-send --system --type=signal /org/freedesktop/DBus \
    org.freedesktop.DBus.NameOwnerChanged string:"$owner" string:"$owner" string:"" 2>/dev/null
sleep 3
check_eq "forged NameOwnerChanged (unicast and broadcast) from daemon: the lease stays active" \
    leased "$(group_state "$group")"
check "forged NameOwnerChanged: the node is still nobody's" node_owner_is "$nobody_uid"
kill "$granter"
wait "$granter" 2>/dev/null
check "forged NameOwnerChanged: the grant ends with its command" wait_for 10 state_is "$group" vfio

# --- an fd lease: show names its container
"$VFIOCTL" acquire --interface group "$edu" -- sleep 30 > /tmp/fd.out 2>&1 &
holder=$!
check "the fd lease is active" wait_for 20 state_is "$group" leased
check "its vfioctl is still running" kill -0 "$holder"
check_eq "show --json: container iommu_model" Type1v2 "$(show_json container iommu_model)"
check_eq "show --json: the container lists the group" "[$group]" "$(show_json container groups)"
expect_in "show --json: container iova_ranges is not empty" "$(show_json container iova_ranges 0 start)" "0x"
expect_in "show --json: container page_sizes in hex" "$(show_json container page_sizes)" "0x"
diag "container: $(show_json container)"
out=$("$VFIOCTL" show "$group")
expect_in "show: a Container line" "$out" "Container: /org/vfiod1/container/"
expect_in "show: IOVA ranges" "$out" "IOVA ranges: 0x"
kill "$holder"
wait "$holder" 2>/dev/null
check "the fd lease ends with its command" wait_for 10 state_is "$group" vfio
check_eq "show --json: no container once the lease is over" MISSING "$(show_json container)"

# --- lease signals from anyone but vfiod change nothing. Any user may send a signal to the lessee's
# unique name (Lease.Owner is public), and the bus delivers it whatever the lessee's match rules say.
setpriv --reuid=nobody --regid="$(id -g nobody)" --init-groups -- \
    "$VFIOCTL" acquire --interface group "$edu" -- sleep 120 > /tmp/spoof.out 2>&1 &
lessee=$!
check "spoof: nobody's fd lease is active" wait_for 20 state_is "$group" leased
lease=$(show_json lease)
owner=$(busctl --system get-property org.vfiod1 "$lease" org.vfiod1.Lease Owner | sed -n 's/^s "\(.*\)"$/\1/p')
# child_of PID COMM: the pid of PID's child named COMM (no procps in a minimal system).
child_of() {
    local f pid comm state ppid
    for f in /proc/[0-9]*/stat; do
        read -r pid comm state ppid _ < "$f" 2>/dev/null || continue
        [ "$ppid" = "$1" ] && [ "$comm" = "($2)" ] && { echo "$pid"; return 0; }
    done
    return 1
}
check "spoof: vfioctl started the command" wait_for 10 child_of "$lessee" sleep
command_pid=$(child_of "$lessee" sleep)
diag "lease $lease, owner $owner, command pid $command_pid"
check "spoof: daemon (uid $(id -u daemon)) sends a unicast Revoked to the lessee" \
    run_as_user daemon dbus-send --system --type=signal --dest="$owner" "$lease" org.vfiod1.Lease.Revoked \
    string:device-removed
check "spoof: and a unicast ReleaseRequested" \
    run_as_user daemon dbus-send --system --type=signal --dest="$owner" "$lease" org.vfiod1.Lease.ReleaseRequested \
    string:unassign uint64:0
sleep 3
check "spoof: the command keeps running" kill -0 "$command_pid"
check_eq "spoof: the lease stays active" leased "$(group_state "$group")"
# vfiod's own signals still count: root's Unassign asks (ReleaseRequested), vfioctl stops the
# command and releases.
run_cli 0 "spoof: root's Unassign still ends the lease" unassign "$group"
check "spoof: the command was stopped" wait_for 20 sh -c "! kill -0 $command_pid 2>/dev/null"
wait "$lessee" 2>/dev/null
diag "$(cat /tmp/spoof.out)"
check_eq "spoof: the group went back to the host" host "$(group_state "$group")"
run_cli 0 "assign group $group again" assign "$group"

# --- grant and iommufd do not go together
if [ "$VM_KERNEL" = iommufd ]; then
    run_cli 1 "acquire --grant --interface iommufd: exit 1" acquire --grant --interface iommufd "$edu" -- true
    diag "$CLI_ERR"
else
    skip "acquire --grant --interface iommufd" "no iommufd on the $VM_KERNEL kernel"
fi

run_cli 0 "unassign group $group" unassign "$group"
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
