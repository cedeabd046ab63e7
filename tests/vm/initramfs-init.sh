#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Stage 1 of the VM test guest: /init of a tiny busybox initramfs built by
# run.sh.  Its only job is to make the host's root filesystem (shared
# read-only over virtio-9p, tag "hostroot") the guest's root, with a tmpfs
# overlay on top so the guest can write anywhere, and then hand over to the
# stage-2 init script (guest-init.sh) as PID 1.
#
# The kernel passes unknown "key=value" boot parameters to us as environment
# variables: vfiod_stage2 is the absolute path of the stage-2 script.

/bin/busybox mkdir -p /bin /sbin /proc /sys /dev
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

die() {
    echo "initramfs: $*"
    echo "@@VFIOD-VM-DONE rc=99@@"
    # No root: nothing more to do. Power off so the host does not wait for
    # its timeout.
    echo o > /proc/sysrq-trigger
    poweroff -f
}

# On the stock kernel 9p/overlay are modules: run.sh put them in /modules
# and wrote the load order (dependencies first) to /modules.list.  On the
# iommufd test kernel everything is built in and the list is empty.
if [ -f /modules.list ]; then
    while read -r m; do
        [ -n "$m" ] || continue
        insmod "/modules/$m" || echo "initramfs: insmod $m failed"
    done < /modules.list
fi

mkdir -p /lower /rw /newroot
# msize: larger messages make the 9p root much faster under TCG.
# cache=loose: the host tree does not change while the guest runs (the host
# only writes the per-VM config before boot), so let the guest cache.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower ||
    die "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 rwroot /rw || die "cannot mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
    die "cannot mount the overlay root"

[ -n "$vfiod_stage2" ] || die "no vfiod_stage2= on the kernel command line"
[ -f "/newroot$vfiod_stage2" ] || die "stage 2 $vfiod_stage2 not found"
[ -x /newroot/bin/bash ] || die "no /bin/bash in the host root"

# Hand /dev over; stage 2 mounts its own /proc and /sys.
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
umount /sys
umount /proc
# Through bash explicitly: works even if the script lost its exec bit.
exec switch_root /newroot /bin/bash "$vfiod_stage2"
