#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: stock
# vm-own-boot: hot-adds and hot-removes in the bridge group (6.1 trips over a later claim)
#
# vfiod's inventory against the real kernel: the groups, devices, drivers
# and reserved regions it publishes on the bus must equal sysfs, follow a
# hot-add/unplug in the bridge's group, show up in vfioctl, be readable by
# an unprivileged user, and the daemon must exit cleanly on SIGTERM.

. "$VFIOD_SRC/tests/vm/lib.sh"

BUS=(busctl --system --json=short)
MGR=(org.vfiod1 /org/vfiod1 org.vfiod1.Manager)

diag "kernel $(uname -r) ($VM_KERNEL)"
# As on a host prepared for VFIO; the inventory must not depend on it.
modprobe vfio-pci && modprobe vfio_iommu_type1

bridge=$(pci_find 0x1b36 0x000e | head -n1)
bgroup=$(group_of "$bridge")
edu=$(pci_find 0x1234 0x11e8 | head -n1)
diag "bridge $bridge (group $bgroup), edu $edu"

start_vfiod || { done_testing; exit 1; }

# ------------------------------------------------------------------ bus vs sysfs
# One python3 run for all comparisons (each process start costs ~0.3 s
# under TCG); it prints TAP lines that tap_import counts.
tap_import "bus vs sysfs comparisons" < <(python3 - <<'EOF'
import json, os, subprocess
import sys, traceback

def _crash(t, v, tb):
    # An unexpected exception must show as a failure, not as missing lines.
    print(f"not ok - python helper crashed: {v}")
    for l in "".join(traceback.format_exception(t, v, tb)).splitlines():
        print("# " + l)

sys.excepthook = _crash

def busctl(*args):
    p = subprocess.run(["busctl", "--system", "--json=short", *args],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"busctl {' '.join(args)}: {p.stderr.strip()}")
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

def call(method):
    return busctl("call", "org.vfiod1", "/org/vfiod1", "org.vfiod1.Manager", method)[0]["data"][0]

def props(path, iface, *names):
    return dict(zip(names, (r["data"] for r in busctl("get-property", "org.vfiod1", path, iface, *names))))

def report(name, good, why=""):
    print(("ok - " if good else "not ok - ") + name)
    if not good and why:
        for l in str(why).splitlines():
            print("# " + l)

def sysfs_driver(addr):
    link = f"/sys/bus/pci/devices/{addr}/driver"
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""

root = "/sys/kernel/iommu_groups"
sys_groups = {int(g): sorted(os.listdir(f"{root}/{g}/devices")) for g in os.listdir(root)}
sys_regions = {}
for g in sys_groups:
    regions = []
    with open(f"{root}/{g}/reserved_regions") as f:
        for line in f:
            start, end, kind = line.split()
            regions.append([int(start, 16), int(end, 16), kind])
    sys_regions[g] = sorted(regions)

try:
    groups = call("ListGroups")
    report("ListGroups returns", True)
except Exception as e:
    report("ListGroups returns", False, e)
    groups = []
bus_ids = sorted(g[0] for g in groups)
report("ListGroups ids equal sysfs groups", bus_ids == sorted(sys_groups),
       f"bus:   {bus_ids}\nsysfs: {sorted(sys_groups)}")
bad_paths = [g for g in groups if g[2] != f"/org/vfiod1/group/{g[0]}"]
report("group object paths are /org/vfiod1/group/N", not bad_paths, bad_paths)

for gid, state, path in sorted(groups):
    if gid not in sys_groups:
        continue
    try:
        p = props(path, "org.vfiod1.Group", "Id", "Devices", "ReservedRegions")
    except Exception as e:
        report(f"group {gid} properties readable", False, e)
        continue
    good = p["Id"] == gid and sorted(p["Devices"]) == sys_groups[gid]
    report(f"group {gid} Id and Devices equal sysfs", good,
           f"bus:   Id={p['Id']} Devices={sorted(p['Devices'])}\nsysfs: {sys_groups[gid]}")
    got = sorted([list(r) for r in p["ReservedRegions"]])
    report(f"group {gid} ReservedRegions equal sysfs", got == sys_regions[gid],
           f"bus:   {got}\nsysfs: {sys_regions[gid]}")

try:
    devices = call("ListDevices")
    report("ListDevices returns", True)
except Exception as e:
    report("ListDevices returns", False, e)
    devices = []
sys_devs = {a: g for g, members in sys_groups.items() for a in members}
bus_devs = {d[0]: d for d in devices}
report("ListDevices addresses equal the group members in sysfs",
       sorted(bus_devs) == sorted(sys_devs),
       f"only on bus: {sorted(set(bus_devs) - set(sys_devs))}\n"
       f"only in sysfs: {sorted(set(sys_devs) - set(bus_devs))}")
wrong = []
for addr, (_, driver, gid, path) in sorted(bus_devs.items()):
    if addr not in sys_devs:
        continue
    want = (sysfs_driver(addr), sys_devs[addr])
    if (driver, gid) != want:
        wrong.append(f"{addr}: ListDevices driver={driver!r} group={gid}, sysfs {want}")
    try:
        p = props(path, "org.vfiod1.Device", "Driver", "Group")
        if (p["Driver"], p["Group"]) != want:
            wrong.append(f"{addr} ({path}): Driver={p['Driver']!r} Group={p['Group']}, sysfs {want}")
    except Exception as e:
        wrong.append(f"{addr} ({path}): {e}")
report("every device's driver and group equal sysfs (ListDevices and Device properties)",
       not wrong, "\n".join(wrong))
EOF
)

# ------------------------------------------------------------------ hot-add
# in_list_devices ADDR GROUP: ListDevices has ADDR in GROUP.
in_list_devices() {
    "${BUS[@]}" call "${MGR[@]}" ListDevices | python3 -c '
import json, sys
devs = json.load(sys.stdin)["data"][0]
sys.exit(0 if any(d[0] == sys.argv[1] and d[2] == int(sys.argv[2]) for d in devs) else 1)' "$1" "$2"
}
absent_from_list_devices() {
    "${BUS[@]}" call "${MGR[@]}" ListDevices | python3 -c '
import json, sys
devs = json.load(sys.stdin)["data"][0]
sys.exit(1 if any(d[0] == sys.argv[1] for d in devs) else 0)' "$1"
}
in_group_devices() {
    "${BUS[@]}" get-property org.vfiod1 "/org/vfiod1/group/$2" org.vfiod1.Group Devices |
        python3 -c 'import json, sys; sys.exit(0 if sys.argv[1] in json.load(sys.stdin)["data"] else 1)' "$1"
}

newdev=${edu%:*}:04.0
check "qmp netdev_add" qmp '{"execute": "netdev_add", "arguments": {"type": "user", "id": "hpn1", "restrict": true}}'
check "qmp device_add e1000 into br0 addr 4" \
    qmp '{"execute": "device_add", "arguments": {"driver": "e1000", "id": "hp1", "bus": "br0", "addr": "0x4", "netdev": "hpn1"}}'
wait_for 20 test -e "/sys/bus/pci/devices/$newdev" || diag "$newdev did not appear in sysfs"
if wait_for 10 in_list_devices "$newdev" "$bgroup"; then
    ok "hot-added $newdev in ListDevices, group $bgroup"
else
    fail "hot-added $newdev in ListDevices, group $bgroup" \
        "sysfs: $(ls "/sys/kernel/iommu_groups/$bgroup/devices" | tr '\n' ' ')"
    diag "ListDevices: $("${BUS[@]}" call "${MGR[@]}" ListDevices 2>&1)"
fi
if wait_for 10 in_group_devices "$newdev" "$bgroup"; then
    ok "hot-added $newdev in group $bgroup's Devices"
else
    fail "hot-added $newdev in group $bgroup's Devices" \
        "$("${BUS[@]}" get-property org.vfiod1 "/org/vfiod1/group/$bgroup" org.vfiod1.Group Devices 2>&1)"
fi
check "qmp device_del" qmp '{"execute": "device_del", "arguments": {"id": "hp1"}}'
check "DEVICE_DELETED for hp1" qmp_wait_event DEVICE_DELETED 30 '{"device": "hp1"}'
if wait_for 10 absent_from_list_devices "$newdev"; then
    ok "unplugged $newdev gone from ListDevices"
else
    fail "unplugged $newdev gone from ListDevices" \
        "sysfs has it: $(test -e "/sys/bus/pci/devices/$newdev" && echo yes || echo no)"
fi
if wait_for 10 eval '! in_group_devices "$newdev" "$bgroup"'; then
    ok "unplugged $newdev gone from group $bgroup's Devices"
else
    fail "unplugged $newdev gone from group $bgroup's Devices"
fi
qmp '{"execute": "netdev_del", "arguments": {"id": "hpn1"}}' >/dev/null

# ------------------------------------------------------------------ vfioctl
if [ -x "$VFIOCTL" ]; then
    out=$("$VFIOCTL" list 2>&1)
    rc=$?
    check_eq "vfioctl list exits 0" 0 "$rc" || printf '%s\n' "$out" | sed 's/^/#   /' | head -n 30
    missing=
    for d in $(group_devices "$bgroup"); do
        printf '%s\n' "$out" | grep -q -- "$d" || missing="$missing $d"
    done
    if printf '%s\n' "$out" | grep -Eq "(^|[[:space:]])$bgroup([[:space:]]|$)" && [ -z "$missing" ]; then
        ok "vfioctl list shows group $bgroup with its members"
    else
        fail "vfioctl list shows group $bgroup with its members" "missing:${missing:- (group id)}"
        printf '%s\n' "$out" | sed 's/^/#   /' | head -n 30
    fi

    json=$("$VFIOCTL" --json show "$edu" 2>&1)
    rc=$?
    check_eq "vfioctl --json show $edu exits 0" 0 "$rc"
    printf '%s' "$json" > /tmp/vfioctl-show.json
    tap_import "vfioctl --json show checks" < <(python3 - "$edu" "$bgroup" /tmp/vfioctl-show.json <<'EOF'
import json, os, sys
import sys, traceback

def _crash(t, v, tb):
    # An unexpected exception must show as a failure, not as missing lines.
    print(f"not ok - python helper crashed: {v}")
    for l in "".join(traceback.format_exception(t, v, tb)).splitlines():
        print("# " + l)

sys.excepthook = _crash
addr, gid, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def report(name, good, why=""):
    print(("ok - " if good else "not ok - ") + name)
    if not good and why:
        print("# " + str(why))

try:
    with open(path) as f:
        doc = json.load(f)
except ValueError as e:
    report("vfioctl --json show prints JSON", False, e)
    sys.exit()
report("vfioctl --json show prints JSON", True)
report("show: group id", doc.get("id") == gid, f"id={doc.get('id')!r}, want {gid}")
link = f"/sys/bus/pci/devices/{addr}/driver"
want = os.path.basename(os.readlink(link)) if os.path.islink(link) else ""
dev = [d for d in doc.get("devices", []) if d.get("address") == addr]
report('show: device entry with "driver" equal to sysfs',
       len(dev) == 1 and dev[0].get("driver") == want,
       f"devices={doc.get('devices')!r}, want driver {want!r}")
sysrr = []
with open(f"/sys/kernel/iommu_groups/{gid}/reserved_regions") as f:
    for line in f:
        s, e, t = line.split()
        sysrr.append((int(s, 16), int(e, 16), t))
try:
    got = [(int(r["start"], 0), int(r["end"], 0), r["type"]) for r in doc["reserved_regions"]]
except (KeyError, TypeError, ValueError) as e:
    got = f"unparsable: {doc.get('reserved_regions')!r} ({e})"
report('show: "reserved_regions" equal sysfs',
       isinstance(got, list) and sorted(got) == sorted(sysrr), f"got {got}, sysfs {sysrr}")
EOF
)
else
    fail "vfioctl is built" "$VFIOCTL missing"
fi

# ------------------------------------------------------------------ unprivileged
out=$(run_as_user nobody busctl --system --json=short call "${MGR[@]}" ListGroups 2>&1)
case $out in
    '{"type":"a(uso)"'*) ok "ListGroups works as user nobody" ;;
    *) fail "ListGroups works as user nobody" "$out" ;;
esac

# ------------------------------------------------------------------ shutdown
stop_vfiod TERM
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"

done_testing
