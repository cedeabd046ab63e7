/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel-facing: which processes hold a group, found in /proc/PID/fd (group nodes /dev/vfio/N and
 * VFIO cdevs). Device fds of the legacy interface are anonymous inodes and name no group; their
 * holders also hold the group file open through the kernel, but not as an fd: they are found
 * through the lease's own processes instead. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sysfs.h"

typedef struct Holder {
        pid_t pid; /* 0 ends the array */
        int pidfd; /* opened before its fds were looked at: signal through it, never by pid */
        char comm[16];
} Holder;

/* What makes a process a holder of a group. */
typedef struct HolderTargets {
        char **paths; /* the group node and its devices' cdevs */
        size_t n_paths;
        PciBar *bars; /* its devices' memory BARs */
        size_t n_bars;
} HolderTargets;

void holder_targets_done(HolderTargets *t);

/* Every process but ourselves with an open fd on one of the paths (the same path, or the same
 * character device under another path: an fd opened in another mount namespace), or with a
 * mapping of a legacy VFIO device fd whose offset in /proc/PID/maps lies in one of the BARs (6.1
 * shows a BAR mapping's physical address there; 6.12 shows 0, which no BAR has). Each was still
 * alive after it was looked at, so what was read was its own. Free with holders_free. */
int holders_scan(const char *proc_root, const HolderTargets *t, Holder **ret, size_t *ret_n);
Holder *holders_free(Holder *holders);

/* Candidates, never proven holders: every process but ourselves and the service manager with a
 * legacy VFIO device fd open or mapped (anon_inode:[vfio-device], in /proc/PID/fd or
 * /proc/PID/maps), whatever group its device is in (the kernel does not say). */
int holders_scan_vfio_device_users(const char *proc_root, Holder **ret, size_t *ret_n);
static inline void holders_freep(Holder **h) {
        holders_free(*h);
}

/* Whether the process of pidfd, whose pid is pid, has a VFIO device fd open (an anonymous
 * inode that names no group). */
bool holders_process_holds_vfio_device(const char *proc_root, pid_t pid, int pidfd);
