#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Stage 2 of the VM test guest: runs as PID 1 on the overlay root (host root
# read-only over 9p + tmpfs), after the initramfs switch_root'ed into it.
# Sets up a minimal system (proc/sys/dev, /run, /tmp, module tree, system
# D-Bus), runs the scenarios the harness listed, one after the other, with
# their output on the serial console between begin and done markers the host
# harness looks for, and powers off. Between two scenarios the guest goes
# back to the state it had before the first (reset_guest); when it cannot, it
# says so and powers off, and the harness boots again for the rest.
#
# Everything about the run comes from a config file the host harness wrote
# into the VM's private directory; its path is the kernel parameter
# VFIOD_VM_CFG (the kernel hands it to init as an environment variable).
#
# With VM_INIT=systemd the guest instead gets vfiod's installed tree (the
# harness's DESTDIR) copied onto its root and execs systemd as PID 1, with a
# small default target whose test unit runs this script again as
# `guest-init.sh --run`: the (one) scenario with its output on ttyS0, the same
# markers, then a forced poweroff.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export LANG=C.UTF-8
umask 022

say() { echo "guest-init: $*"; }
# Progress with the guest's uptime, to see where boot time goes.
step() { local up; read -r up _ < /proc/uptime; echo "guest-init: [$up] $*"; }

finish() {
    # The marker tells the harness the guest got to the end (no crash, no
    # hang); rc is the scenario's exit status.
    local rc=$1
    sync
    echo "@@VFIOD-VM-DONE rc=$rc@@"
    # Kernel log for post-mortem reading of the log file (the harness does
    # not parse past the marker).
    echo "@@VFIOD-VM-DMESG@@"
    dmesg 2>/dev/null | tail -n 300
    echo "@@VFIOD-VM-END@@"
    power_off "$rc"
}

power_off() {
    sync
    # busybox's poweroff -f calls reboot(2) directly (the host's
    # /sbin/poweroff is systemctl, useless without systemd); sysrq is the
    # fallback. If both fail, PID 1 exits -> panic -> panic=-1 reboots ->
    # QEMU -no-reboot exits.
    busybox poweroff -f 2>/dev/null
    echo o > /proc/sysrq-trigger
    sleep 5
    exit "${1:-0}"
}

# ------------------------------------------------------------ many scenarios, one boot
# What a scenario may change and reset_guest puts back as it was before the first one (or
# removes, when it was not there): vfiod's configuration, state and runtime directories, the
# user database, polkit's rules and actions; only what differs is touched (dbus-daemon watches
# its own configuration: it is left alone). Under TCG every process costs tens of milliseconds,
# so each step looks at everything with a few of them.
SNAP=/run/vfiod-vm-snapshot
SNAP_PATHS=(/etc/vfiod /usr/local/etc/vfiod /var/lib/vfiod /run/vfiod /var/cache/vfiod /var/log/vfiod
            /etc/passwd /etc/group /etc/shadow /etc/gshadow
            /etc/polkit-1 /usr/share/polkit-1/actions
            /usr/share/dbus-1/system-services/org.freedesktop.PolicyKit1.service)
# Directories whose new entries (files, sockets, directories; not mount points) are removed.
SNAP_DIRS=(/run /tmp /var/tmp /dev/shm /etc /var/lib /var/cache /var/log)
SCENARIO_CGROUP=/sys/fs/cgroup/vfiod-vm-scenario
# dbus-daemon, and what it starts by bus activation (polkitd): outside the scenario's cgroup.
BUS_CGROUP=/sys/fs/cgroup/vfiod-vm-bus

# pci_state: one line per PCI device: address, driver, driver_override, IOMMU group.
pci_state() {
    local d=/sys/bus/pci/devices
    {
        find "$d"/*/driver "$d"/*/iommu_group -maxdepth 0 -printf '%p %l\n' 2>/dev/null
        awk '{ print FILENAME, $0 }' "$d"/*/driver_override 2>/dev/null
    } | awk '{ n = split($1, p, "/"); dev = p[n - 1]; devs[dev] = 1
               t = $2; sub(/.*\//, "", t); v[dev, p[n]] = t }
             END { for (dev in devs) print dev, (v[dev, "driver"] == "" ? "-" : v[dev, "driver"]),
                                           v[dev, "driver_override"], (v[dev, "iommu_group"] == "" ? "-" : v[dev, "iommu_group"]) }' |
        sort
}

# dir_entries: the entries of SNAP_DIRS, one path per line, but mount points (whose paths
# /proc/self/mounts writes with octal escapes).
dir_entries() {
    find "${SNAP_DIRS[@]}" -mindepth 1 -maxdepth 1 2>/dev/null |
        awk 'NR == FNR { m[$2] = 1; next }
             { e = $0; gsub(/\\/, "\\134", e); gsub(/ /, "\\040", e); if (!(e in m)) print }' \
            /proc/self/mounts - | sort
}

# path_state: what SNAP_PATHS hold (type, mode, owner, size, mtime, path of each file).
path_state() {
    find "${SNAP_PATHS[@]}" -printf '%y %m %U %G %s %T@ %p\n' 2>/dev/null | sort
}

# snapshot_guest: the state reset_guest returns to, taken before the first scenario.
snapshot_guest() {
    local p
    mkdir -p "$SNAP/files"
    for p in "${SNAP_PATHS[@]}"; do
        [ -e "$p" ] && cp -a --parents "$p" "$SNAP/files/"
    done
    path_state > "$SNAP/paths"
    dir_entries > "$SNAP/entries"
    pci_state > "$SNAP/pci"
    cut -d' ' -f1 /proc/modules | sort > "$SNAP/modules"
    awk '{print $2}' /proc/self/mounts > "$SNAP/mounts"
    cat /proc/sys/kernel/pid_max > "$SNAP/pid_max"
}

# sysfs_write VALUE PATH: a write that may block in the kernel gets 20 s, then fails.
sysfs_write() {
    (echo "$1" > "$2") 2>/dev/null &
    local pid=$!
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; return; }
        sleep 0.1
    done
    return 1
}

# reset_pci: every device that differs from boot back on its driver, without driver_override.
reset_pci() {
    local addr drv ov grp cur d
    pci_state | comm -13 - "$SNAP/pci" | while read -r addr drv ov grp; do
        d=/sys/bus/pci/devices/$addr
        [ -e "$d" ] || continue
        [ "$(cat "$d/driver_override" 2>/dev/null)" = "(null)" ] || sysfs_write "" "$d/driver_override"
        cur=$(readlink "$d/driver" 2>/dev/null) || cur=-
        cur=${cur##*/}
        [ "$cur" = "$drv" ] && continue
        [ "$cur" = - ] || sysfs_write "$addr" "$d/driver/unbind" || exit 1
        [ "$drv" = - ] || sysfs_write "$addr" "/sys/bus/pci/drivers/$drv/bind"
    done
}

# stop_activated: kills what dbus-daemon started (its cgroup's processes but itself).
stop_activated() {
    local procs
    for _ in $(seq 50); do
        procs=$(grep -vx "$BUS_PID" "$BUS_CGROUP/cgroup.procs")
        [ -n "$procs" ] || return 0
        kill -KILL $procs 2>/dev/null
        sleep 0.1
    done
    return 1
}

# reset_guest: back to the snapshot; says what differs, and fails, when it cannot be.
reset_guest() {
    local m
    step "going back to the state of the boot"
    # Mounts the scenario made (a bind for QEMU, say), innermost first.
    awk '{print $2}' /proc/self/mounts | grep -vxF -f "$SNAP/mounts" | tac | while read -r m; do
        umount -l "$(printf '%b' "$m")" 2>/dev/null
    done
    # Each of SNAP_PATHS in which something differs, as it was.
    path_state | comm -3 - "$SNAP/paths" | awk '{ print $7 }' | while read -r m; do
        for p in "${SNAP_PATHS[@]}"; do
            [[ $m == "$p" || $m == "$p"/* ]] && echo "$p"
        done
    done | sort -u | while read -r p; do
        rm -rf "$p"
        [ -e "$SNAP/files$p" ] && cp -a "$SNAP/files$p" "$p"
        # The bus reads its service files again (a scenario may have made polkit unactivatable).
        [[ $p != /usr/share/dbus-1/* ]] ||
            busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
    done
    # Services the bus started for the scenario.
    stop_activated || { say "reset: a service the bus started did not end"; return 1; }
    dir_entries | comm -23 - "$SNAP/entries" | xargs -r -d '\n' rm -rf --one-file-system
    cat "$SNAP/pid_max" > /proc/sys/kernel/pid_max
    reset_pci || { say "reset: a driver unbind did not finish"; return 1; }
    # Modules the scenario (or vfiod) loaded: the next scenario finds them unloaded, as at boot.
    for _ in 1 2; do
        m=$(cut -d' ' -f1 /proc/modules | sort | comm -23 - "$SNAP/modules")
        [ -z "$m" ] || modprobe -r -a $m 2>/dev/null
    done
    if ! pci_state | diff "$SNAP/pci" - > "$SNAP/pci.diff"; then
        say "reset: the PCI devices differ from boot (< boot, > now):"
        sed 's/^/guest-init:   /' "$SNAP/pci.diff"
        return 1
    fi
    step "back to the state of the boot"
}

# run_scenario SCENARIO LIMIT: runs it between its markers, in a cgroup of its own (everything
# it started, daemons and other users' processes too, is killed when it ends), in a session of
# its own with stdin from /dev/null and its output on the console; killed after LIMIT seconds.
# Fails when something it started could not be killed.
run_scenario() {
    local scenario=$1 limit=$2 name pid started rc=137 lines clean=0
    name=$(basename "$scenario" .sh)
    mkdir -p "$SCENARIO_CGROUP"
    lines=$(dmesg 2>/dev/null | wc -l)
    started=$SECONDS
    echo "@@VFIOD-VM-BEGIN $name@@"
    say "kernel $kver ($VM_KERNEL), running $scenario"
    (echo "$BASHPID" > "$SCENARIO_CGROUP/cgroup.procs" && exec setsid bash "$scenario" < /dev/null > /dev/console 2>&1) &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ $((SECONDS - started)) -ge "$limit" ]; then
            echo "not ok - $name: timed out after $limit s in the guest (killed)"
            break
        fi
        sleep 0.5
    done
    echo 1 > "$SCENARIO_CGROUP/cgroup.kill"
    for _ in $(seq 100); do
        grep -qx 'populated 0' "$SCENARIO_CGROUP/cgroup.events" && { clean=1; break; }
        sleep 0.2
    done
    # (The braces keep bash's "Killed" job notice off the console.)
    kill -0 "$pid" 2>/dev/null || { { wait "$pid"; } 2>/dev/null; rc=$?; }
    sync
    echo "@@VFIOD-VM-DONE rc=$rc@@ $((SECONDS - started)) s"
    echo "@@VFIOD-VM-DMESG@@"
    dmesg 2>/dev/null | tail -n +"$((lines + 1))" | tail -n 300
    [ "$clean" = 1 ] || { say "processes of $name could not be killed"; return 1; }
}

# Where the systemd-mode setup leaves the run's config for the test unit.
SD_ENV=/etc/vfiod-vm/guest.env

# The scenario's environment (see README.md), in both modes.
export_scenario_env() {
    export VFIOD_PUBLIC=/run/vfiod-public
    if [ "$VM_INIT" = systemd ]; then
        export VFIOD=/usr/sbin/vfiod
        export VFIOCTL=/usr/bin/vfioctl
    else
        export VFIOD="$VFIOD_BUILD/src/vfiod/vfiod"
        # The copy every user can run (run.sh's public tree), so root and nobody run the same.
        export VFIOCTL="$VFIOD_PUBLIC/bin/vfioctl"
    fi
    export VFIOD_SRC VFIOD_BUILD VM_KERNEL VM_INIT VFIOD_VM_CACHE
    export VFIOD_VM_LIB="$VFIOD_SRC/tests/vm/lib.sh"
}

# --run: the test unit under systemd (its output already goes to ttyS0).
if [ "${1:-}" = --run ]; then
    # shellcheck disable=SC1090
    if ! . "$SD_ENV"; then
        echo "@@VFIOD-VM-DONE rc=96@@"
        systemctl poweroff --force --force
        exit 96
    fi
    export_scenario_env
    step "systemd is $(systemctl is-system-running 2>&1)"
    cd "$VFIOD_SRC" || exit 97
    started=$SECONDS
    echo "@@VFIOD-VM-BEGIN $(basename "$SCENARIO" .sh)@@"
    say "kernel $(uname -r) ($VM_KERNEL, systemd), running $SCENARIO"
    bash "$SCENARIO" < /dev/null 2>&1
    rc=$?
    sync
    echo "@@VFIOD-VM-DONE rc=$rc@@ $((SECONDS - started)) s"
    echo "@@VFIOD-VM-DMESG@@"
    dmesg 2>/dev/null | tail -n 300
    echo "@@VFIOD-VM-JOURNAL@@"
    timeout 60 journalctl -b --no-pager -o short-monotonic -n 600 2>/dev/null
    echo "@@VFIOD-VM-END@@"
    # Nothing is left to save: power off at once, without stopping the units (a daemon
    # stuck in a kernel write would hold up a clean shutdown until the harness's timeout).
    systemctl poweroff --force --force
    busybox poweroff -f 2>/dev/null
    exit "$rc"
fi

# exec_systemd: vfiod's installed tree onto the root, systemd set up to boot
# quickly over the shared root (README.md, "systemd as PID 1"), the
# scenario's setup phase, then systemd as PID 1.
exec_systemd() {
    local dest=$VM_DESTDIR etc=/etc/systemd/system u
    if [ -z "$dest" ] || [ ! -d "$dest" ]; then
        say "systemd mode: no installed tree at '$dest'"
        finish 95
    fi
    cp -a "$dest/." / || { say "copying the installed tree failed"; finish 95; }

    # Over the 9p root tmpfiles-setup walks the whole host tree (minutes);
    # apparmor and e2scrub have nothing to do here; timesyncd and the
    # timers (apt, man-db, fstrim...) would only add noise; the rest is what
    # a booted system has but vfiod does not use, each costing seconds under
    # TCG (kmod-static-nodes and tmpfiles-setup-dev stay: they create
    # /dev/vfio/vfio before vfio is loaded, as on a real host).
    for u in systemd-tmpfiles-setup.service apparmor.service e2scrub_reap.service \
             systemd-timesyncd.service timers.target \
             systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
             modprobe@configfs.service modprobe@dm_mod.service modprobe@efi_pstore.service \
             modprobe@fuse.service modprobe@loop.service modprobe@drm.service \
             sys-fs-fuse-connections.mount sys-kernel-config.mount dev-hugepages.mount \
             systemd-journal-flush.service systemd-sysusers.service systemd-update-utmp.service \
             systemd-random-seed.service systemd-remount-fs.service; do
        ln -sfn /dev/null "$etc/$u"
    done
    # Generators: nothing here needs them (empty fstab, no getty, no
    # encrypted disks, no SysV scripts), and each daemon-reload reruns them.
    mkdir -p /etc/systemd/system-generators
    for u in /usr/lib/systemd/system-generators/*; do
        ln -sfn /dev/null "/etc/systemd/system-generators/${u##*/}"
    done
    : > /etc/fstab
    [ -s /etc/machine-id ] || dbus-uuidgen --ensure=/etc/machine-id
    mkdir -p /etc/systemd/system.conf.d /etc/sysctl.d
    # No status lines on the console: it carries the scenario's results.
    printf '[Manager]\nShowStatus=no\nLogColor=no\n' > /etc/systemd/system.conf.d/vfiod-vm.conf
    echo 'kernel.printk = 1 4 1 7' > /etc/sysctl.d/zz-vfiod-vm.conf

    # The run's config, with paths as the guest sees them.
    mkdir -p "${SD_ENV%/*}"
    {
        printf 'SCENARIO=%q\n' "$SCENARIO"
        printf 'VFIOD_SRC=%q\n' "$VFIOD_SRC"
        printf 'VFIOD_BUILD=%q\n' "$VFIOD_BUILD"
        printf 'VM_KERNEL=%q\n' "$VM_KERNEL"
        printf 'VM_VERBOSE=%q\n' "$VM_VERBOSE"
        printf 'VFIOD_VM_CACHE=%q\n' "$VFIOD_VM_CACHE"
        printf 'VM_INIT=systemd\n'
    } > "$SD_ENV"

    # This script's path as a unit file quotes it (it may hold spaces, % and $).
    local unit_self=${0//%/%%}
    unit_self=${unit_self//\$/\$\$}
    # The default target: basic.target, the bus, udevd and the test unit.
    printf '%s\n' \
        '[Unit]' \
        'Description=vfiod VM test' \
        'Requires=basic.target' \
        'Wants=dbus.service systemd-udevd.service vfiod-vm-test.service' \
        'After=basic.target' \
        'AllowIsolate=yes' > "$etc/vfiod-vm.target"
    ln -sfn "$etc/vfiod-vm.target" "$etc/default.target"
    printf '%s\n' \
        '[Unit]' \
        'Description=vfiod VM test scenario' \
        'After=basic.target dbus.service systemd-udevd.service systemd-udev-trigger.service' \
        '# A test unit that cannot start ends the boot at once, not at the harness timeout.' \
        'FailureAction=poweroff-force' \
        '' \
        '[Service]' \
        'Type=exec' \
        "ExecStart=/bin/bash \"$unit_self\" --run" \
        'Environment=HOME=/root LANG=C.UTF-8' \
        'IgnoreSIGPIPE=no' \
        'StandardInput=null' \
        'StandardOutput=tty' \
        'StandardError=inherit' \
        'TTYPath=/dev/ttyS0' \
        'TTYReset=no' \
        'TTYVHangup=no' > "$etc/vfiod-vm-test.service"

    # A scenario with a "# vm-setup" line runs once before systemd starts,
    # with VM_PHASE=setup: to write state files, or add units to
    # /etc/systemd/system/vfiod-vm.target.wants/ so that they start at boot.
    if grep -q '^# vm-setup' "$SCENARIO"; then
        export_scenario_env
        (cd "$VFIOD_SRC" && VM_PHASE=setup bash "$SCENARIO" < /dev/null > /dev/console 2>&1) ||
            say "the scenario's setup phase exited with status $?"
    fi
    step "installed tree copied, systemd set up; exec systemd"
    exec /lib/systemd/systemd
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
# devtmpfs lacks the links udev would create; bash's <(...) needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
# Keep kernel messages off the console while the scenario prints its TAP
# lines (they would interleave); the full dmesg is dumped after the marker.
echo 1 > /proc/sys/kernel/printk

step "stage 2 started"

# Read the config BEFORE mounting /tmp: the harness's VM directory usually
# lives in the host's /tmp, which the fresh tmpfs below hides.
if [ -z "$VFIOD_VM_CFG" ] || [ ! -r "$VFIOD_VM_CFG" ]; then
    say "no readable config (VFIOD_VM_CFG='$VFIOD_VM_CFG')"
    finish 98
fi
# shellcheck disable=SC1090
. "$VFIOD_VM_CFG"
# The scenarios of this boot, in order, and each one's time limit; under systemd just one.
SCENARIO=${SCENARIOS[0]}

mount -t tmpfs -o mode=0755 run /run
# The guest gets a fresh /tmp, but keeps the host's visible (read-only) at
# /run/host-tmp, and what this run needs from it at its real path.
mkdir -p /run/host-tmp
mount --bind /tmp /run/host-tmp
mount -t tmpfs -o mode=1777 tmp /tmp
# show_host_tmp PATH: if PATH is in the host's /tmp, bind its top entry there
# (/tmp/a b for /tmp/a b/c/vfiod) back over the guest's /tmp: the checkout, the
# build and the cache keep their paths, and every directory its host modes.
show_host_tmp() {
    local rest top
    case $1 in /tmp/?*) ;; *) return 0 ;; esac
    rest=${1#/tmp/}
    top=${rest%%/*}
    mountpoint -q "/tmp/$top" && return 0
    if [ -d "/run/host-tmp/$top" ]; then
        mkdir "/tmp/$top"
    elif [ -e "/run/host-tmp/$top" ]; then
        : > "/tmp/$top"
    else
        return 0
    fi
    mount --bind "/run/host-tmp/$top" "/tmp/$top" || say "cannot show the host's /tmp/$top"
}
for p in "$VFIOD_SRC" "$VFIOD_BUILD" "${SCENARIOS[@]}" "$VM_DESTDIR" "$VM_PUBLIC" "$VFIOD_VM_CACHE" \
         "$VM_MODULES_DIR"; do
    show_host_tmp "$p"
done
# What other users run (run.sh's public tree), reachable whatever the checkout's modes.
mkdir -p /run/vfiod-public
mount --bind "$VM_PUBLIC" /run/vfiod-public || say "cannot mount the public tree $VM_PUBLIC"
mkdir -p /run/lock /var/tmp /var/log
mount -t tmpfs -o mode=1777 vartmp /var/tmp
# systemd mounts the cgroup tree itself.
[ "$VM_INIT" = systemd ] || mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ln -sf /proc/self/mounts /etc/mtab 2>/dev/null
hostname vfiod-vm 2>/dev/null

# The build image is a container: tools (systemd, sd-bus helpers) that see
# /.dockerenv believe they run in one. We are a VM.
rm -f /.dockerenv

# Module tree: on the stock kernel the harness passes the extracted
# lib/modules/<kver> (depmod already run on the host); bind it where kmod
# looks. On a kernel without modules, give kmod an empty tree whose
# modules.builtin names what is built in, so `modprobe vfio-pci` succeeds
# as a no-op like on a distribution kernel.
kver=$(uname -r)
mkdir -p "/lib/modules/$kver"
if [ -n "$VM_MODULES_DIR" ] && [ -d "$VM_MODULES_DIR" ]; then
    mount --bind "$VM_MODULES_DIR" "/lib/modules/$kver"
    # Drivers a real host would have loaded for its NICs (udevd is not
    # running here, so nobody loads them on demand).
    modprobe -q e1000 2>/dev/null
    modprobe -q e1000e 2>/dev/null
else
    {
        for m in /sys/module/*; do
            echo "kernel/builtin/${m##*/}.ko"
        done
        # Built in but without a /sys/module entry (no parameters).
        for m in vfio vfio_pci vfio_pci_core vfio_iommu_type1 iommufd \
                 e1000 e1000e 9p 9pnet 9pnet_virtio overlay; do
            echo "kernel/builtin/$m.ko"
        done
    } | sort -u > "/lib/modules/$kver/modules.builtin"
    depmod -a "$kver" 2>/dev/null
fi

step "modules ready"

[ "$VM_INIT" = systemd ] && exec_systemd

# System bus with the project's policy (if it exists yet).
if [ -f "$VFIOD_SRC/dbus/org.vfiod1.conf" ]; then
    mkdir -p /etc/dbus-1/system.d
    cp "$VFIOD_SRC/dbus/org.vfiod1.conf" /etc/dbus-1/system.d/
fi
[ -s /etc/machine-id ] || dbus-uuidgen --ensure=/etc/machine-id
mkdir -p /run/dbus
dbus-daemon --system --nopidfile --fork ||
    say "dbus-daemon failed to start"
for _ in $(seq 100); do
    [ -S /run/dbus/system_bus_socket ] && break
    sleep 0.1
done
[ -S /run/dbus/system_bus_socket ] || say "system bus socket did not appear"
BUS_PID=$(pidof dbus-daemon)
mkdir -p "$BUS_CGROUP" && echo "$BUS_PID" > "$BUS_CGROUP/cgroup.procs" ||
    say "cannot move dbus-daemon into a cgroup of its own"
step "system bus up"

export_scenario_env
cd "$VFIOD_SRC" || finish 97
snapshot_guest
for i in "${!SCENARIOS[@]}"; do
    if [ "$i" -gt 0 ] && ! reset_guest; then
        echo "@@VFIOD-VM-RESET-FAILED@@"
        break
    fi
    run_scenario "${SCENARIOS[$i]}" "${LIMITS[$i]}" || { echo "@@VFIOD-VM-RESET-FAILED@@"; break; }
done
echo "@@VFIOD-VM-END@@"
power_off 0
