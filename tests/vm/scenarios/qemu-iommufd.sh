#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-tiers: iommufd
# vm-own-boot: hot-adds an edu, binds a QEMU tree, raises limits
# vm-timeout: 480
#
# The use vfiod exists for: an unprivileged user starts QEMU (10, from Debian backports, which
# takes pre-opened fds: `-object iommufd,fd=N`, `-device vfio-pci,fd=M,iommufd=...`) under
# `vfioctl acquire`, on nothing but the iommufd and VFIO device fds vfiod brokered, with no
# access of its own to /dev/iommu or /dev/vfio. QEMU runs with -S (no guest code): realizing
# vfio-pci binds the device to the iommufd and attaches it to an IOAS, and QMP's query-pci then
# lists the edu device (1234:11e8) on the guest's bus. When QEMU quits, the lease ends and the
# group is back to vfio. Once with an edu hot-added into a root port (a group of its own), once
# with the bridge group (two edu devices and an e1000: one device fd each, two given to QEMU).
#
# Needs the iommufd kernel (the stock 6.1 one has no VFIO device files: the scenario skips) and
# the QEMU that tests/vm/fetch-qemu.sh unpacks on the HOST before the VM boots (without it, or
# when backports could not be reached, the scenario skips and says why).

. "$VFIOD_SRC/tests/vm/lib.sh"

QEMU_VFIO=$VFIOD_PUBLIC/helpers/qemu-vfio.sh
QEMU_QMP=$VFIOD_PUBLIC/helpers/qemu-qmp.py
# QEMU pins the guest's RAM for DMA (IOMMU_IOAS_MAP), counted against its user's RLIMIT_MEMLOCK
# (8 MiB by default): what an administrator grants a VM's user (libvirt raises it the same way).
QEMU_MEMLOCK_KIB=262144
QEMU_ARGS=(-machine q35 -accel tcg -m 64 -nodefaults -no-user-config -display none -S)

if [ "$VM_KERNEL" != iommufd ] || [ ! -c /dev/iommu ]; then
    skip "QEMU on vfiod's iommufd fds" \
        "kernel $(uname -r) ($VM_KERNEL) has no iommufd and VFIO device files, which QEMU's fd= options need"
    done_testing
    exit
fi
if ! qemu_env=$("$VFIOD_SRC/tests/vm/fetch-qemu.sh" --cached 2>/dev/null); then
    cache=${VFIOD_VM_CACHE:-$VFIOD_SRC/tests/vm/cache}
    why="no QEMU 10 in $cache: tests/vm/fetch-qemu.sh did not run on the host before the VM tests"
    [ ! -s "$cache/qemu-fetch.failed" ] || why="tests/vm/fetch-qemu.sh failed: $(cat "$cache/qemu-fetch.failed")"
    skip "QEMU on vfiod's iommufd fds" "$why"
    done_testing
    exit
fi
# QEMU, QEMU_VERSION, QEMU_LD_LIBRARY_PATH, QEMU_MODULE_DIR, QEMU_FIRMWARE_DIRS; the helper
# reads the last three from the environment.
while IFS='=' read -r key value; do
    case $key in QEMU*) export "$key=$value" ;; esac
done <<< "$qemu_env"
# nobody runs it: the tree is bound where every user reaches it (the cache may be inside a 0700
# home), and the paths follow.
qemu_tree=${QEMU%/root/usr/bin/qemu-system-x86_64}
if mkdir -p /run/vfiod-qemu && mount --bind "$qemu_tree" /run/vfiod-qemu; then
    for key in QEMU QEMU_LD_LIBRARY_PATH QEMU_MODULE_DIR QEMU_FIRMWARE_DIRS; do
        export "$key=${!key//"$qemu_tree"//run/vfiod-qemu}"
    done
else
    diag "cannot bind $qemu_tree to /run/vfiod-qemu; nobody may not reach it"
fi
diag "QEMU $QEMU_VERSION: $QEMU"

# An edu in a group of its own, behind a root port.
qmp '{"execute":"device_add","arguments":{"driver":"edu","id":"hp2","bus":"rp1"}}' >/dev/null
root_port_edu() { pci_find 0x1234 0x11e8 | grep -v '^0000:01:' | head -n1; }
root_port_edu_present() { [ -n "$(root_port_edu)" ]; }
if wait_for 20 root_port_edu_present; then
    ok "an edu hot-added into root port rp1"
else
    fail "an edu hot-added into root port rp1" "none after 20 s"
fi
edu=$(root_port_edu)
read -r bridge_edu bridge_edu2 < <(pci_find 0x1234 0x11e8 | grep '^0000:01:' | head -n2 | tr '\n' ' ')
group=$(group_of "$edu")
bridge_group=$(group_of "$bridge_edu")
diag "root port edu $edu (group $group); bridge group $bridge_group: $(group_devices "$bridge_group" | tr '\n' ' ')"

# nobody may acquire these two groups, and nothing else.
targets="\"$bridge_group\""
[ -z "$edu" ] || targets="\"$group\", $targets"
sysconfdir=$(sed -n 's/^#define VFIOD_SYSCONFDIR "\(.*\)"$/\1/p' "$VFIOD_BUILD/config.h")
for dir in /etc/vfiod ${sysconfdir:+"$sysconfdir/vfiod"}; do
    mkdir -p "$dir"
    cat > "$dir/vfiod.json" <<EOF
{
  "rules": [
    {"users": ["nobody"], "targets": [$targets], "actions": ["acquire"]}
  ]
}
EOF
done

start_vfiod --write-timeout=10 || { done_testing; exit; }
[ -z "$edu" ] || run_cli 0 "assign the root port edu's group" assign "$group"
run_cli 0 "assign the bridge group" assign "$bridge_group"

# The device files exist, but are root's: nobody gets at a device only through vfiod.
cdev=/dev/vfio/devices/$(ls "/sys/bus/pci/devices/$bridge_edu/vfio-dev" 2>/dev/null | head -n1)
if [ -c "$cdev" ] && ! run_as_user nobody sh -c "exec 3<>$cdev" 2>/dev/null &&
   ! run_as_user nobody sh -c 'exec 3<>/dev/iommu' 2>/dev/null; then
    ok "nobody cannot open $cdev or /dev/iommu itself"
else
    fail "nobody cannot open $cdev or /dev/iommu itself" "cdev '$cdev': $(ls -l "$cdev" /dev/iommu 2>&1)"
fi

group_is() { [ "$(group_state "$1")" = "$2" ]; }
lease_gone() { ! busctl --system introspect org.vfiod1 "$1" >/dev/null 2>&1; }

# qemu_stopped PID: vfioctl (and so QEMU) has exited (a zombie counts: `wait` reaps it).
qemu_stopped() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# qemu_run NAME ADDRESS...: as nobody, `vfioctl acquire` the group of the first ADDRESS and start
# QEMU -S on its fds with every ADDRESS as vfio0, vfio1, ...; ask it over QMP what its guest sees,
# look at the lease and at QEMU (its user, its fds), then quit it over QMP and see the lease end.
qemu_run() {
    local name=$1 g qdir sock pid qpid lease rc=none a i=0 want=() node started line links
    shift
    g=$(group_of "$1")
    for a in "$@"; do want+=("vfio$i=1234:11e8"); i=$((i + 1)); done
    qdir=$(mktemp -d /tmp/qemu.XXXXXX)
    chmod 0777 "$qdir"
    sock=$qdir/qmp.sock
    # run_as_user, but exec'd: $! is vfioctl, which passes our signals on to QEMU.
    (
        ulimit -l "$QEMU_MEMLOCK_KIB" || exit 1
        exec setpriv --reuid=nobody --regid="$(id -g nobody)" --init-groups -- \
            "$VFIOCTL" acquire "$1" -- "$QEMU_VFIO" "$QEMU" "$@" -- \
            "${QEMU_ARGS[@]}" -qmp "unix:$sock,server=on,wait=off"
    ) > "$qdir/out" 2>&1 &
    pid=$!
    started=$(date +%s)
    qemu_up() { [ -S "$sock" ] || qemu_stopped "$pid"; }
    wait_for 240 qemu_up
    # The fds it got and the command line it ran, for whoever reads the log.
    while IFS= read -r line; do diag "$line"; done < <(sed -n 's/^qemu-vfio.sh: //p' "$qdir/out")
    [ ! -S "$sock" ] || diag "QMP socket up after $(($(date +%s) - started)) s"

    # QMP answers once the machine is built: vfio-pci realized, which means the device fd bound to
    # the iommufd, attached to an IOAS, and the guest's RAM mapped for DMA through it.
    [ ! -S "$sock" ] || tap_import "$name: QMP" < <(run_as_user nobody /usr/bin/python3 "$QEMU_QMP" "$sock" "${want[@]}" 2>&1 |
        sed "s/^\(\(not \)\{0,1\}ok - \)/\1$name: /")
    if qemu_stopped "$pid"; then
        wait "$pid"
        fail "$name: QEMU runs on the brokered fds" "vfioctl exited $? with QEMU's output:"
        sed 's/^/#   /' "$qdir/out" | tail -n 20
    else
        ok "$name: QEMU runs on the brokered fds"
        check_eq "$name: group $g is leased" leased "$(group_state "$g")"
        lease=$(group_prop "$g" Lease | sed -n 's/^o "\(.*\)"$/\1/p')
        check_eq "$name: the lease is nobody's" "u $(id -u nobody)" \
            "$(busctl --system get-property org.vfiod1 "$lease" org.vfiod1.Lease Uid 2>&1)"
        qpid=$(pgrep -P "$pid" | head -n1)
        check_eq "$name: QEMU runs as nobody, as vfioctl's child" "$(id -u nobody) qemu-system-x86" \
            "$(awk '/^Uid:/ { print $2 }' "/proc/$qpid/status" 2>&1) $(cat "/proc/$qpid/comm" 2>&1)"
        # Its only ways to the device: the fds it inherited.
        links=$(ls -l "/proc/$qpid/fd/" 2>&1)
        expect_in "$name: QEMU holds /dev/iommu" "$links" "-> /dev/iommu"
        for a in "$@"; do
            node=/dev/vfio/devices/$(ls "/sys/bus/pci/devices/$a/vfio-dev" 2>/dev/null | head -n1)
            expect_in "$name: QEMU holds $a's $node" "$links" "-> $node"
        done
        expect_in "$name: Group.Holders lists QEMU" "$(group_prop "$g" Holders)" " $qpid "

        tap_import "$name: quit" < <(run_as_user nobody /usr/bin/python3 "$QEMU_QMP" "$sock" --quit 2>&1 |
            sed "s/^\(\(not \)\{0,1\}ok - \)/\1$name: /")
        if wait_for 60 qemu_stopped "$pid"; then
            wait "$pid"
            rc=$?
        else
            kill -TERM "$pid"
            wait "$pid"
        fi
        check_eq "$name: QEMU quit, and vfioctl exits 0 with it" 0 "$rc"
        [ "$rc" = 0 ] || sed 's/^/#   /' "$qdir/out" | tail -n 20
        [ -z "$lease" ] || check "$name: the lease is gone" wait_for 10 lease_gone "$lease"
    fi
    if wait_for 10 group_is "$g" vfio; then
        ok "$name: group $g is vfio again"
    else
        fail "$name: group $g is vfio again" "state $(group_state "$g")"
    fi
    check_eq "$name: Group.Lease is \"/\"" 'o "/"' "$(group_prop "$g" Lease)"
    rm -rf "$qdir"
}

[ -z "$edu" ] || qemu_run "root port edu" "$edu"
# On the iommufd kernel, DMA from the bridge group fails once it has changed IOMMU domain (see
# acquire.sh); QEMU -S only binds and attaches the devices and maps its RAM, which works.
qemu_run "bridge group" "$bridge_edu" "$bridge_edu2"

[ -z "$edu" ] || run_cli 0 "unassign the root port edu's group" unassign "$group"
run_cli 0 "unassign the bridge group" unassign "$bridge_group"
stop_vfiod
check_eq "vfiod exits 0 on SIGTERM" 0 "$VFIOD_STATUS"
done_testing
