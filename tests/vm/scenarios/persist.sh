#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock systemd
#
# Persistence and crash safety: a persistent assignment survives a daemon restart and is applied
# again at start-up (before READY=1) after a "reboot" (runtime state and bindings gone); a daemon
# SIGKILLed in the middle of an assign or an unassign finishes or undoes the move when it starts
# again, so every device ends on a consistent driver and the state is true.

. "$VFIOD_SRC/tests/vm/lib.sh"

edu=$(pci_find 0x1234 0x11e8 | head -n1)
e1000=$(pci_find 0x8086 0x100e | head -n1)
group=$(group_of "$edu")

# Group on vfio and every endpoint on vfio-pci, or on the host with each original driver.
consistent() {
    case $(group_state "$group") in
        vfio) endpoints_on "$group" vfio-pci ;;
        host) [ "$(driver_of "$e1000")" = e1000 ] && [ -z "$(driver_of "$edu")" ] ;;
        *) return 1 ;;
    esac
}

restart_settled() {
    start_vfiod "$@" || return 1
    wait_for 30 group_settled "$group"
}

# Puts the group back on the host by hand, as a reboot would.
host_by_hand() {
    local d
    for d in $(group_devices "$group"); do
        [ -e "/sys/bus/pci/devices/$d/driver_override" ] && echo > "/sys/bus/pci/devices/$d/driver_override"
        [ "$(driver_of "$d")" = vfio-pci ] && echo "$d" > /sys/bus/pci/drivers/vfio-pci/unbind
    done
    echo "$e1000" > /sys/bus/pci/drivers/e1000/bind
}

# --- persistent assignment
start_vfiod || { done_testing; exit; }
run_cli 0 "assign --persist" assign "$group" --persist
check_eq "Persistent is true" "b true" "$(group_prop "$group" Persistent)"
expect_in "the state file lists the e1000" "$(cat /var/lib/vfiod/assignments.json)" "$e1000"
stop_vfiod
restart_settled
check_eq "after a restart the group is still vfio" vfio "$(group_state "$group")"
orig=$(busctl --system call org.vfiod1 /org/vfiod1 org.vfiod1.Manager GetDevice s "$e1000" | cut -d'"' -f2)
check_eq "the e1000's original driver is still known" 's "e1000"' \
    "$(busctl --system get-property org.vfiod1 "$orig" org.vfiod1.Device OriginalDriver)"

# "Reboot": no runtime state, devices on their host drivers; READY=1 only once re-assigned.
stop_vfiod
rm -rf /run/vfiod
host_by_hand
check_eq "by hand: e1000 on e1000" e1000 "$(driver_of "$e1000")"
rm -f /run/notify.sock
python3 - "$group" > /tmp/ready.out 2>&1 <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/notify.sock")
s.settimeout(60)
while True:
    msg = s.recv(4096).decode()
    if "READY=1" in msg:
        break
group = sys.argv[1]
base = "/sys/kernel/iommu_groups/%s/devices" % group
drivers = []
for d in sorted(os.listdir(base)):
    link = os.path.join(base, d, "driver")
    drivers.append("%s=%s" % (d, os.path.basename(os.readlink(link)) if os.path.islink(link) else "-"))
print("READY " + " ".join(drivers))
PY
listener=$!
check "the READY=1 listener is up" wait_for 30 test -S /run/notify.sock
NOTIFY_SOCKET=/run/notify.sock start_vfiod
wait "$listener"
ready=$(cat /tmp/ready.out)
diag "$ready"
expect_in "at READY=1 the e1000 is on vfio-pci already" "$ready" "$e1000=vfio-pci"
expect_in "at READY=1 the edu is on vfio-pci already" "$ready" "$edu=vfio-pci"
check_eq "persistent group is vfio after the 'reboot'" vfio "$(group_state "$group")"
run_cli 0 "unassign --persist" unassign "$group" --persist
check_eq "Persistent is false" "b false" "$(group_prop "$group" Persistent)"
check "the state file no longer lists the e1000" sh -c "! grep -q '$e1000' /var/lib/vfiod/assignments.json"
check_eq "back on the host" e1000 "$(driver_of "$e1000")"

kill_vfiod() {
    [ -n "$VFIOD_PID" ] || return 0
    kill -9 "$VFIOD_PID"
    wait "$VFIOD_PID" 2>/dev/null
}

# --- SIGKILL in the middle of a move, at several points
for delay in 0.02 0.1 0.25 0.5 1; do
    "$VFIOCTL" assign "$group" >/dev/null 2>&1 &
    sleep "$delay"
    kill_vfiod
    restart_settled
    check "killed ${delay}s into an assign: consistent ($(group_state "$group"))" consistent
    [ "$(group_state "$group")" = vfio ] || "$VFIOCTL" assign "$group" >/dev/null 2>&1

    "$VFIOCTL" unassign "$group" >/dev/null 2>&1 &
    sleep "$delay"
    kill_vfiod
    restart_settled
    check "killed ${delay}s into an unassign: consistent ($(group_state "$group"))" consistent
    [ "$(group_state "$group")" = host ] || "$VFIOCTL" unassign "$group" >/dev/null 2>&1
done
check_eq "in the end on the host" e1000 "$(driver_of "$e1000")"
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
