#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: iommufd systemd
# vm-init: systemd
# vm-timeout: 540
#
# vfiod as the installed, hardened vfiod.service with systemd as PID 1: not running at boot, started
# by bus activation for root and for an unprivileged user; loads vfio-pci itself when it is not
# loaded; with its small capability set still sees and kills another user's holder; restarted by
# the watchdog when it stops serving, with its groups kept; stopped in the middle of an assign
# without leaving the group half moved; restarted with an active lease, which it keeps (same
# object, owner and group, its fds from the fd store) and which still ends by Release() or with
# its holder; Release() answers only once the fd store let go of the daemon's copy of the group
# fd, so an Acquire right after it gets the group even while systemd is busy reloading.

. "$VFIOD_SRC/tests/vm/lib.sh"

client="/usr/bin/python3 $VFIOD_PUBLIC/helpers/lease-client.py"
edu=$(pci_find 0x1234 0x11e8 | head -n1)
e1000=$(pci_find 0x8086 0x100e | head -n1)
group=$(group_of "$edu")
diag "bridge group $group (edu $edu, e1000 $e1000); kernel $VM_KERNEL"

state_is() { [ "$(group_state "$1")" = "$2" ]; }
active() { [ "$(systemctl is-active "$VFIOD_UNIT")" = active ]; }
on_host() { [ "$(driver_of "$e1000")" = e1000 ] && [ -z "$(driver_of "$edu")" ]; }
# The group's endpoints all on vfio-pci, or all on their host drivers: nothing half moved.
drivers_consistent() { endpoints_on "$group" vfio-pci || on_host; }
# The intent log's state for the group ("none" without an entry).
journal_state() {
    /usr/bin/python3 -c 'import json, sys
try:
    print(json.load(open(sys.argv[1]))["state"])
except FileNotFoundError:
    print("none")' "/run/vfiod/group-$group.json" 2>&1
}
# gone PID: no such process, or a zombie (our child, not reaped yet).
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# Every endpoint's driver, for diagnostics.
drivers() { local d; for d in $(group_devices "$group"); do printf '%s=%s ' "$d" "$(driver_of "$d")"; done; }

# --- the unit as installed
check "vfiod.service is installed" test -f /usr/lib/systemd/system/vfiod.service
check "the bus activation file is installed" \
    grep -qx 'SystemdService=vfiod.service' /usr/share/dbus-1/system-services/org.vfiod1.service
check_eq "vfiod is not running after boot" inactive "$(systemctl is-active "$VFIOD_UNIT")"
# The unit's exposure as systemd rates it (what it still marks is listed for the log); the
# capabilities and settings it keeps are explained in the unit itself.
security=$(systemd-analyze security --no-pager "$VFIOD_UNIT" 2>/dev/null)
printf '%s\n' "$security" | grep '✗' | sed 's/  */ /g; s/^ */# marked: /'
exposure=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
check "systemd-analyze security: exposure ${exposure:-unknown} is at most 3.5" \
    awk -v e="$exposure" 'BEGIN { exit !(e != "" && e + 0 <= 3.5) }'

# --- (a) bus activation, as root and as an unprivileged user
out=$("$VFIOCTL" list 2>&1)
check_eq "vfioctl list as root starts vfiod by bus activation: exit 0" 0 "$?"
expect_in "and it answered with the bridge group" "$out" "$edu"
check_eq "vfiod.service is active" active "$(systemctl is-active "$VFIOD_UNIT")"
# What DeviceAllow= names on this kernel, now that the unit's modprobe@ units ran.
diag "/proc/devices: $(grep -E ' (vfio|vfio-dev|misc)$' /proc/devices | tr '\n' ' ')"
diag "$(ls -l /dev/vfio/vfio /dev/iommu 2>&1 | tr '\n' ' ')"
pid1=$(unit_prop MainPID)
diag "the daemon's capabilities: $(grep -E '^Cap(Eff|Bnd)' "/proc/$pid1/status" | tr '\t\n' '  ')"
check "systemctl stop vfiod" systemctl stop "$VFIOD_UNIT"
out=$(run_as_user nobody "$VFIOCTL" list 2>&1)
check_eq "vfioctl list as nobody starts it again: exit 0" 0 "$?"
expect_in "and it answered nobody" "$out" "$edu"
check_eq "vfiod.service is active again" active "$(systemctl is-active "$VFIOD_UNIT")"
pid2=$(unit_prop MainPID)
[ -n "$pid2" ] && [ "$pid2" != 0 ] && [ "$pid2" != "$pid1" ] && ok "a new daemon ($pid1 -> $pid2)" ||
    fail "a new daemon" "MainPID $pid1 -> $pid2"

# --- vfio-pci not loaded: the daemon loads it (as it would a variant driver)
if [ -d /sys/module/vfio_pci ] && [ ! -e /sys/module/vfio_pci/initstate ]; then
    skip "assign loads vfio-pci" "vfio-pci is built into the $VM_KERNEL kernel"
else
    rmmod vfio_pci 2>/dev/null
    if [ -d /sys/module/vfio_pci ]; then
        skip "assign loads vfio-pci" "cannot unload vfio_pci"
    else
        run_cli 0 "assign with vfio_pci unloaded" assign "$group"
        # The rest does not depend on it.
        check "vfio_pci was loaded by the daemon" test -d /sys/module/vfio_pci || modprobe vfio_pci
    fi
fi
[ "$(group_state "$group")" = vfio ] || run_cli 0 "assign group $group" assign "$group"
check "the endpoints are on vfio-pci" endpoints_on "$group" vfio-pci

# --- Release, then Acquire at once, while PID 1 reloads (and handles the fd store's messages only
# afterwards): a legacy group opens once, so the store's copy must be gone before Release answers.
if [ "$VM_KERNEL" = stock ]; then
    out=$(/usr/bin/python3 - "$group" <<'PY' 2>&1
import dbus, os, subprocess, sys, time
bus = dbus.SystemBus()
mgr = dbus.Interface(bus.get_object("org.vfiod1", "/org/vfiod1"), "org.vfiod1.Manager")
busy = ok = 0
for i in range(3):
    path, fds = mgr.Acquire(sys.argv[1], {"interface": "group"})
    for fd in fds.values():
        os.close(fd.take())
    reload = subprocess.Popen(["systemctl", "daemon-reload"])
    time.sleep(0.3)
    busy += reload.poll() is None
    dbus.Interface(bus.get_object("org.vfiod1", path), "org.vfiod1.Lease").Release()
    try:
        path, fds = mgr.Acquire(sys.argv[1], {"interface": "group"})
        for fd in fds.values():
            os.close(fd.take())
        dbus.Interface(bus.get_object("org.vfiod1", path), "org.vfiod1.Lease").Release()
        ok += 1
    except dbus.DBusException as e:
        print("Acquire %d right after Release: %s: %s" % (i, e.get_dbus_name(), e.get_dbus_message()))
    reload.wait()
print("reloading at %d of 3 Releases; %d of 3 Acquires right after got the group" % (busy, ok))
PY
)
    diag "$out"
    expect_in "an Acquire right after Release gets the group" "$out" "3 of 3 Acquires right after got the group"
    # Without a Release during a reload the check above proves nothing.
    check "systemd was reloading at a Release, at least once" test "${out#*reloading at 0 of}" = "$out"
    check_eq "the group is vfio again" vfio "$(group_state "$group")"
else
    skip "an Acquire right after Release gets the group" "Acquire uses iommufd on $VM_KERNEL (no legacy group fd in the store)"
fi

# --- another user's holder: the daemon sees its fds and kills it (its capability set at work)
mkdir -p /etc/vfiod
cp -p /etc/vfiod/vfiod.json /tmp/vfiod.json.installed 2>/dev/null
printf '{"rules": [{"users": ["nobody"], "targets": ["%s"], "actions": ["acquire"]}]}\n' "$group" \
    > /etc/vfiod/vfiod.json
check "reload the configuration: systemctl restart" systemctl restart "$VFIOD_UNIT"
# A holder that ignores ReleaseRequested and Revoked alike: only a SIGKILL ends it.
setpriv --reuid=nobody --regid="$(id -g nobody)" --init-groups -- \
    $client --hold 600 --interface group "$group" > /tmp/nobody.out 2>&1 &
hpid=$!
check "nobody: leased" wait_for 30 state_is "$group" leased
check_eq "nobody: Group.Holders names nobody's python3" "a(us) 1 $hpid \"python3\"" \
    "$(group_prop "$group" Holders)"
out=$(timeout 60 "$VFIOCTL" unassign "$group" --mode kill 2>&1)
check_eq "nobody: unassign --mode kill: exit 0" 0 "$?" || diag "$out"
check "nobody: the holder was killed" wait_for 10 gone "$hpid"
kill -KILL "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
[ "$(group_state "$group")" = host ] || "$VFIOCTL" unassign "$group" >/dev/null 2>&1
check "nobody: the group is on the host" wait_for 20 on_host
rm -f /etc/vfiod/vfiod.json
cp -p /tmp/vfiod.json.installed /etc/vfiod/vfiod.json 2>/dev/null
check "back to the installed configuration: systemctl restart" systemctl restart "$VFIOD_UNIT"
run_cli 0 "assign group $group again" assign "$group"

# --- (c) a daemon that stops serving is restarted by the watchdog
mkdir -p /run/systemd/system/vfiod.service.d
printf '[Service]\nWatchdogSec=5\n' > /run/systemd/system/vfiod.service.d/60-watchdog.conf
systemctl daemon-reload
check "restart with WatchdogSec=5" systemctl restart "$VFIOD_UNIT"
check_eq "WatchdogUSec" 5s "$(unit_prop WatchdogUSec)"
pid1=$(unit_prop MainPID)
restarts=$(unit_prop NRestarts)
kill -STOP "$pid1"
new_main() { local p; p=$(unit_prop MainPID); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$pid1" ] && active; }
check "SIGSTOPped: a new daemon within 60 s" wait_for 60 new_main
check_eq "NRestarts went up by one" $((restarts + 1)) "$(unit_prop NRestarts)"
check "the journal says why" sh -c "journalctl -b -u $VFIOD_UNIT --no-pager | grep -q 'Watchdog timeout'"
check_eq "the group is still vfio" vfio "$(group_state "$group")"
check "its endpoints are still on vfio-pci" endpoints_on "$group" vfio-pci
run_cli 0 "the new daemon serves" show "$group"
rm -f /run/systemd/system/vfiod.service.d/60-watchdog.conf
systemctl daemon-reload

# --- (d) systemctl stop in the middle of (or right after) an assign
for delay in 0.1 0.4 1 2; do
    [ "$(group_state "$group")" = host ] || "$VFIOCTL" unassign "$group" >/dev/null 2>&1
    wait_for 20 on_host || diag "not on the host before the assign: $(drivers)"
    "$VFIOCTL" assign "$group" >/dev/null 2>&1 &
    assigner=$!
    sleep "$delay"
    systemctl stop "$VFIOD_UNIT"
    wait "$assigner" 2>/dev/null
    js=$(journal_state)
    diag "stopped ${delay}s into an assign: $(drivers); intent log: $js"
    check "stopped ${delay}s into an assign: nothing half moved" drivers_consistent
    if endpoints_on "$group" vfio-pci; then
        case $js in vfio | assigning) ok "stopped ${delay}s: the intent log agrees ($js)" ;;
            *) fail "stopped ${delay}s: the intent log agrees" "on vfio-pci, intent log $js" ;; esac
    elif on_host; then
        case $js in none | host | assigning) ok "stopped ${delay}s: the intent log agrees ($js)" ;;
            *) fail "stopped ${delay}s: the intent log agrees" "on the host, intent log $js" ;; esac
    else
        case $js in assigning | unassigning) ok "stopped ${delay}s: the intent log has the move ($js)" ;;
            *) fail "stopped ${delay}s: the intent log has the move" "half moved, intent log $js" ;; esac
    fi
    check "stopped ${delay}s: systemctl start" systemctl start "$VFIOD_UNIT"
    wait_for 30 group_settled "$group"
    st=$(group_state "$group")
    case $st in
        vfio) check "stopped ${delay}s: after the restart vfio, all on vfio-pci" \
            endpoints_on "$group" vfio-pci ;;
        host) check "stopped ${delay}s: after the restart host, all on host drivers" on_host ;;
        *) fail "stopped ${delay}s: after the restart the group is settled" "state $st: $(drivers)" ;;
    esac
done
n=$(journalctl -b -u "$VFIOD_UNIT" --no-pager | grep -c 'letting the moves in flight finish')
if [ "$n" -gt 0 ]; then
    ok "$n of the stops came with a move in flight"
else
    skip "a stop with a move in flight" "every assign ended before its stop came"
fi
[ "$(group_state "$group")" = vfio ] || run_cli 0 "assign group $group" assign "$group"

# --- (e) systemctl restart keeps an active lease
lease_prop() { busctl --system get-property org.vfiod1 "$1" org.vfiod1.Lease "$2" 2>&1; }
# restart_with_lease NAME: starts a holder, restarts vfiod, checks the lease survived. Sets HOLDER, LEASE.
restart_with_lease() {
    local name=$1 owner pid before fds
    $client --hold 300 "$group" > "/tmp/$name.out" 2>&1 &
    HOLDER=$!
    check "$name: the holder has its lease" wait_for 30 grep -q ready "/tmp/$name.out"
    LEASE=$(sed -n 's/^lease //p' "/tmp/$name.out")
    owner=$(lease_prop "$LEASE" Owner)
    pid=$(unit_prop MainPID)
    diag "$name: lease $LEASE, owner $owner, $(unit_prop NFileDescriptorStore) fds in the store"
    check "$name: the daemon put fds into the store" test "$(unit_prop NFileDescriptorStore)" -gt 0
    check "$name: systemctl restart" systemctl restart "$VFIOD_UNIT"
    before=$pid
    pid=$(unit_prop MainPID)
    if [ "$pid" != "$before" ]; then ok "$name: a new daemon ($before -> $pid)"
    else fail "$name: a new daemon" "MainPID $pid"; fi
    check_eq "$name: the group is still leased" leased "$(group_state "$group")"
    check_eq "$name: Group.Lease names the same lease" "o \"$LEASE\"" "$(group_prop "$group" Lease)"
    check_eq "$name: the lease has the same owner" "$owner" "$(lease_prop "$LEASE" Owner)"
    check_eq "$name: the lease is active" 's "active"' "$(lease_prop "$LEASE" State)"
    check "$name: the holder lives" kill -0 "$HOLDER"
    # The holder's fds were opened by the previous daemon, in its mount namespace (gone now).
    fds=$(nsenter -t "$pid" -m sh -c "readlink /proc/$HOLDER/fd/*" 2>&1 | grep -e vfio -e iommu | tr '\n' ' ')
    diag "$name: the holder's fds as the daemon sees them: $fds"
    expect_in "$name: Group.Holders still names the holder" "$(group_prop "$group" Holders)" "$HOLDER"
}
restart_with_lease kept
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
check "kept: the holder leaving ends the lease after the restart" wait_for 15 state_is "$group" vfio

restart_with_lease released
out=$(busctl --system call org.vfiod1 "$LEASE" org.vfiod1.Lease Release 2>&1)
check_eq "released: Release() after the restart" "" "$out"
# The holder still has the fds: the lease stays, releasing, and keeps doing so across a restart
# although its owner is still on the bus.
check_eq "released: the holder keeps the group releasing" releasing "$(group_state "$group")"
check_eq "released: the lease is releasing" 's "releasing"' "$(lease_prop "$LEASE" State)"
check "released: systemctl restart" systemctl restart "$VFIOD_UNIT"
check_eq "released: after the restart still releasing" releasing "$(group_state "$group")"
check_eq "released: the same lease, releasing" 's "releasing"' "$(lease_prop "$LEASE" State)"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
check "released: the lease ends once the holder is gone" wait_for 15 state_is "$group" vfio

run_cli 0 "unassign group $group" unassign "$group"
check "back on the host" wait_for 20 on_host
check "systemctl stop vfiod" systemctl stop "$VFIOD_UNIT"
check_eq "stopped cleanly" inactive "$(systemctl is-active "$VFIOD_UNIT")"
done_testing
