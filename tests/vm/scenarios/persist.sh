#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock systemd
#
# Persistence and crash safety: a persistent assignment survives a daemon restart and is applied
# again at start-up (before READY=1) after a "reboot" (runtime state and bindings gone), with the
# identity of each device recorded; an entry whose address now holds another device is skipped,
# logged and shown on the group; a daemon SIGKILLed in the middle of an assign or an unassign
# (with --persist) finishes or undoes the move when it starts again, so every device ends on a
# consistent driver, the state is true and the group is persistent exactly when it is assigned.

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
expect_in "the state file has the e1000's subsystem ids" "$(cat /var/lib/vfiod/assignments.json)" \
    "\"subsystem_vendor\": \"$(cat "/sys/bus/pci/devices/$e1000/subsystem_vendor")\""
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

# --- another card at a recorded address (a renumbered bus, a swapped card): skipped, not taken
run_cli 0 "assign --persist again" assign "$group" --persist
stop_vfiod
rm -rf /run/vfiod
host_by_hand
sed -i 's/"device": "0x100e"/"device": "0x10d3"/' /var/lib/vfiod/assignments.json
expect_in "the record now says 8086:10d3 for the e1000's address" "$(cat /var/lib/vfiod/assignments.json)" '"0x10d3"'
start_vfiod
check_eq "the group stays on the host" host "$(group_state "$group")"
check_eq "the e1000 keeps its driver" e1000 "$(driver_of "$e1000")"
expect_in "PersistentSkipped names what is there and what was recorded" \
    "$(group_prop "$group" PersistentSkipped)" "$e1000 is now 8086:100e"
expect_in "vfioctl show says the assignment was skipped" "$("$VFIOCTL" show "$group")" "skipped at start-up"
check "the log says the group was skipped" grep -q "Not assigning persistent IOMMU group $group " "$VFIOD_LOG"
run_cli 0 "unassign --persist forgets the skipped assignment" unassign "$group" --persist
check_eq "Persistent is false after forgetting" "b false" "$(group_prop "$group" Persistent)"
check_eq "PersistentSkipped is empty after forgetting" 's ""' "$(group_prop "$group" PersistentSkipped)"

kill_vfiod() {
    [ -n "$VFIOD_PID" ] || return 0
    kill -9 "$VFIOD_PID"
    wait "$VFIOD_PID" 2>/dev/null
}

# --- the persist flag goes with the move: a daemon killed between writing the intent log and its
# first kernel write leaves exactly this log behind (devices where they were)
# intent_log STATE PERSIST: write the group's intent log as vfiod does before a move.
intent_log() {
    python3 - "$group" "$e1000" "$1" "$2" <<'PY'
import json, os, sys
group, e1000, state, persist = sys.argv[1:]
devices = []
for d in sorted(os.listdir("/sys/kernel/iommu_groups/%s/devices" % group)):
    with open("/sys/bus/pci/devices/%s/class" % d) as f:
        if int(f.read(), 16) >> 8 == 0x0604:
            continue
    devices.append({"address": d, "original_driver": "e1000" if d == e1000 else None, "vfio_driver": "vfio-pci"})
os.makedirs("/run/vfiod", exist_ok=True)
with open("/run/vfiod/group-%s.json" % group, "w") as f:
    json.dump({"group": int(group), "state": state, "persist": persist, "devices": devices}, f)
PY
}
stop_vfiod
intent_log assigning add
restart_settled
check_eq "an interrupted assign --persist is finished at start-up" vfio "$(group_state "$group")"
check_eq "... and recorded: Persistent is true" "b true" "$(group_prop "$group" Persistent)"
expect_in "... the state file lists the e1000" "$(cat /var/lib/vfiod/assignments.json)" "$e1000"
stop_vfiod
intent_log unassigning remove
restart_settled
check_eq "an interrupted unassign --persist is finished at start-up" host "$(group_state "$group")"
check_eq "... and forgotten: Persistent is false" "b false" "$(group_prop "$group" Persistent)"
check_eq "... the e1000 is back on e1000" e1000 "$(driver_of "$e1000")"

# The group is persistent exactly when it is assigned (the persist flag goes with the move).
persistent_iff_vfio() {
    local want="b false"
    [ "$(group_state "$group")" = vfio ] && want="b true"
    [ "$(group_prop "$group" Persistent)" = "$want" ]
}

# --- SIGKILL in the middle of a move, at several points
for delay in 0.02 0.1 0.25 0.5 1; do
    "$VFIOCTL" assign "$group" --persist >/dev/null 2>&1 &
    sleep "$delay"
    kill_vfiod
    restart_settled
    check "killed ${delay}s into an assign --persist: consistent ($(group_state "$group"))" consistent
    check "killed ${delay}s into an assign --persist: persistent exactly when assigned" persistent_iff_vfio
    [ "$(group_state "$group")" = vfio ] || "$VFIOCTL" assign "$group" --persist >/dev/null 2>&1

    "$VFIOCTL" unassign "$group" --persist >/dev/null 2>&1 &
    sleep "$delay"
    kill_vfiod
    restart_settled
    check "killed ${delay}s into an unassign --persist: consistent ($(group_state "$group"))" consistent
    check "killed ${delay}s into an unassign --persist: persistent exactly when assigned" persistent_iff_vfio
    [ "$(group_state "$group")" = host ] || "$VFIOCTL" unassign "$group" --persist >/dev/null 2>&1
done
check_eq "in the end on the host" e1000 "$(driver_of "$e1000")"
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
