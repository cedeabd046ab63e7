#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock
# vm-own-boot: hot-adds and hot-removes in the bridge group (6.1 trips over a later claim)
# vm-timeout: 360
#
# vfioctl monitor and vfioctl holders against the real daemon: two monitors (text and --json) follow
# the bridge group through assignment and a hot-added e1000 (blocked from its host driver, then
# unplugged), then a group leased by a python client (holders names it and its owner), a soft
# unassign that times out and a hard one that kills the holder; both streams tell it all, in order,
# and every JSON line parses. Malformed and unknown targets get the contract's exit codes.
#
# The lease is on a group of its own (a root-bus e1000e, as in acquire.sh), not on the bridge group:
# Debian's 6.1 intel-iommu corrupts a list (__list_del_entry_valid in device_block_translation,
# from iommu_group_claim_dma_owner) when a group's DMA ownership is claimed after a member was
# hot-removed, and the Acquire would take the guest down (seen; see also hotplug.sh).

. "$VFIOD_SRC/tests/vm/lib.sh"

client="/usr/bin/python3 $VFIOD_PUBLIC/helpers/lease-client.py"
edu=$(pci_find 0x1234 0x11e8 | head -n1)
group=$(group_of "$edu")
new=0000:01:04.0
nic=$(pci_find 0x8086 0x10d3 | tail -n1)
leased=$(group_of "$nic")
diag "group $group, hot-added device will be $new; the lease is on group $leased ($nic)"

on_vfio() { [ "$(driver_of "$new")" = vfio-pci ]; }
# The monitor's bus connection exists: its matches and snapshot follow within moments.
on_bus() { busctl --system --no-legend list 2>/dev/null | awk '{print $2}' | grep -qx "$1"; }

start_vfiod || { done_testing; exit; }

run_cli 2 "holders of a malformed target: exit 2" holders zz
run_cli 3 "holders of an unknown group: exit 3" holders 9999

"$VFIOCTL" monitor > /tmp/mon.out 2> /tmp/mon.err &
mon=$!
"$VFIOCTL" --json monitor > /tmp/mon.json 2> /tmp/mon-json.err &
monj=$!
check "the text monitor is on the bus" wait_for 20 on_bus "$mon"
check "the JSON monitor is on the bus" wait_for 20 on_bus "$monj"
sleep 1

# --- assignment, and an e1000 hot-added into the claimed group
run_cli 0 "assign group $group" assign "$group"
qmp '{"execute": "netdev_add", "arguments": {"type": "user", "id": "nmon", "restrict": true}}' >/dev/null
check "qmp device_add" qmp '{"execute": "device_add", "arguments": {"driver": "e1000", "id": "hpmon", "bus": "br0", "addr": "0x4", "netdev": "nmon"}}'
check "hot-added $new ends on vfio-pci" wait_for 30 on_vfio
check "qmp device_del" qmp '{"execute": "device_del", "arguments": {"id": "hpmon"}}'
check "DEVICE_DELETED" qmp_wait_event DEVICE_DELETED 30 '{"device": "hpmon"}'
qmp '{"execute": "netdev_del", "arguments": {"id": "nmon"}}' >/dev/null
check "$new is gone" wait_for 10 test ! -e "/sys/bus/pci/devices/$new"

# --- a lease held by another D-Bus implementation
run_cli 0 "assign group $leased" assign "$leased"
$client --hold 600 "$leased" > /tmp/holder.out 2>&1 &
holder=$!
check "the python client has the lease" wait_for 30 grep -q ready /tmp/holder.out
lease=$(sed -n 's/^lease //p' /tmp/holder.out)

run_cli 0 "holders $leased" holders "$leased"
holders_text=$CLI_OUT
diag "vfioctl holders $leased:" "$holders_text"
check "holders: the table lists the python pid" grep -Eq "^$holder +python3\$" <<< "$holders_text"
expect_in "holders: the lease line" "$holders_text" "lease $lease: owner :1.*, uid 0, pid $holder, active"

run_cli 0 "holders --json $leased" --json holders "$leased"
printf '%s\n' "$CLI_OUT" > /tmp/holders.json
owner=$(/usr/bin/python3 -c '
import json, sys
d = json.load(open("/tmp/holders.json"))
holder, lease = int(sys.argv[1]), sys.argv[2]
assert d["group"] == int(sys.argv[3]), d
assert {"pid": holder, "comm": "python3"} in d["holders"], d["holders"]
l = d["lease"]
assert l["path"] == lease and l["uid"] == 0 and l["pid"] == holder and l["state"] == "active", l
assert l["deadline_usec"] == 0 and l["owner"].startswith(":"), l
print(l["owner"])' "$holder" "$lease" "$leased" 2>&1)
if [ $? -eq 0 ]; then
    ok "holders --json: the group, the python pid, the lease"
    owner_pid=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetConnectionUnixProcessID s "$owner" | awk '{print $2}')
    check_eq "holders --json: the lease owner $owner is the python client's connection" "$holder" "$owner_pid"
else
    fail "holders --json: the group, the python pid, the lease" "$owner"
    diag "$CLI_OUT"
fi

# --- taking it back: soft gives up, hard kills
run_cli 6 "soft unassign of a holder that ignores it: exit 6" unassign "$leased" --mode soft --timeout 2
check_eq "soft timeout: still leased" leased "$(group_state "$leased")"
run_cli 0 "hard unassign: exit 0" unassign "$leased" --mode hard --timeout 2
check "the holder was killed" sh -c "! kill -0 $holder 2>/dev/null"
wait "$holder" 2>/dev/null
check_eq "the leased group is back on the host" host "$(group_state "$leased")"
run_cli 0 "unassign group $group" unassign "$group"
check_eq "the bridge group is back on the host" host "$(group_state "$group")"

# --- what the monitors saw
sleep 1
check "the text monitor is still running" kill -0 "$mon"
check "the JSON monitor is still running" kill -0 "$monj"
kill -INT "$mon"
kill -TERM "$monj"
wait "$mon"
check_eq "the text monitor exits 0 on SIGINT" 0 "$?"
wait "$monj"
check_eq "the JSON monitor exits 0 on SIGTERM" 0 "$?"
check_eq "the monitors said nothing on stderr" "" "$(cat /tmp/mon.err /tmp/mon-json.err)"
diag "---- vfioctl monitor ----"
sed 's/^/#   /' /tmp/mon.out

# in_order FILE REGEX...: each regex matches a line after the line the previous one matched.
in_order() {
    local file=$1 line=0 n
    shift
    for re in "$@"; do
        n=$(tail -n "+$((line + 1))" "$file" | grep -En -m1 -- "$re" | cut -d: -f1)
        [ -n "$n" ] || { echo "not found after line $line: $re"; return 1; }
        line=$((line + n))
    done
}
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2} '
lease_re=${lease:-/org/vfiod1/lease/[0-9]+}
check "text: the events in order" in_order /tmp/mon.out \
    "${ts}group $group state [a-z]+ -> vfio\$" \
    "${ts}device $new added to group $group\$" \
    "${ts}group $group hotplug blocked $new \((host driver [a-z0-9_]+|no host driver)\)\$" \
    "${ts}device $new removed from group $group\$" \
    "${ts}group $leased state vfio -> leased\$" \
    "${ts}lease $lease_re acquired: group $leased, owner :1\.[0-9]+, uid 0, pid $holder, active\$" \
    "${ts}lease $lease_re releasing, deadline [0-9]{4}-[0-9]{2}-[0-9]{2}T" \
    "${ts}lease $lease_re state releasing -> active\$" \
    "${ts}lease $lease_re releasing, deadline [0-9]{4}-[0-9]{2}-[0-9]{2}T" \
    "${ts}lease $lease_re ended\$" \
    "${ts}group $leased state [a-z]+ -> host\$" \
    "${ts}group $group state [a-z]+ -> host\$"
check "text: every line is timestamped" sh -c "! grep -Evq '$ts' /tmp/mon.out"

tap_import "JSON monitor" < <(/usr/bin/python3 - "$group" "$new" "$lease" "$leased" /tmp/mon.json <<'EOF'
import json, sys, time
group, new, lease, leased, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
events, bad = [], []
for n, line in enumerate(open(path), 1):
    try:
        events.append(json.loads(line))
    except ValueError as e:
        bad.append("line %d: %s: %r" % (n, e, line))
print(("ok" if not bad and events else "not ok") + " - JSON: %d lines, each one JSON object" % len(events))
for b in bad:
    print("# " + b)
want = [
    ("the state change to vfio", lambda e: e["event"] == "group-state" and e["group"] == group and e["state"] == "vfio"),
    ("the device added", lambda e: e["event"] == "device-added" and e["device"] == new and e["group"] == group),
    ("the hotplug block", lambda e: e["event"] == "hotplug-blocked" and e["device"] == new and e["group"] == group
        and isinstance(e["host_driver"], str)),
    ("the device removed", lambda e: e["event"] == "device-removed" and e["device"] == new and e["group"] == group),
    ("leased", lambda e: e["event"] == "group-state" and e["group"] == leased and e["old_state"] == "vfio"
        and e["state"] == "leased"),
    ("the lease acquired", lambda e: e["event"] == "lease-added" and e["path"] == lease
        and e["lease"]["groups"] == [leased] and e["lease"]["owner"].startswith(":")),
    ("the lease releasing with a deadline", lambda e: e["event"] == "lease-state" and e["path"] == lease
        and e["state"] == "releasing" and abs(e["deadline_usec"] / 1e6 - time.time()) < 600
        and e["deadline"] is not None),
    ("the lease active again after the soft timeout", lambda e: e["event"] == "lease-state"
        and e["path"] == lease and e["old_state"] == "releasing" and e["state"] == "active"),
    ("the lease ended", lambda e: e["event"] == "lease-ended" and e["path"] == lease),
    ("the leased group on the host", lambda e: e["event"] == "group-state" and e["group"] == leased
        and e["state"] == "host"),
    ("the bridge group on the host", lambda e: e["event"] == "group-state" and e["group"] == group
        and e["state"] == "host"),
]
i = 0
for name, pred in want:
    while i < len(events):
        try:
            hit = pred(events[i])
        except (KeyError, TypeError):
            hit = False
        i += 1
        if hit:
            print("ok - JSON: %s" % name)
            break
    else:
        print("not ok - JSON: %s (in order)" % name)
print(("ok" if all(isinstance(e.get("time_usec"), int) and isinstance(e.get("time"), str) for e in events)
       else "not ok") + " - JSON: every event has time and time_usec")
EOF
)

stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
