/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel-facing: which processes hold a group, found in /proc/PID/fd (group nodes /dev/vfio/N and
 * VFIO cdevs). Device fds of the legacy interface are anonymous inodes and name no group; their
 * holders also hold the group file open through the kernel, but not as an fd: they are found
 * through the lease's own processes instead. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct Holder {
        pid_t pid; /* 0 ends the array */
        int pidfd; /* opened before its fds were looked at: signal through it, never by pid */
        char comm[16];
} Holder;

/* Every process but ourselves with an open fd on one of paths: the same path, or the same
 * character device under another path (an fd opened in another mount namespace). Each was
 * still alive after its fds were read, so they were its own. Free with holders_free. */
int holders_scan(const char *proc_root, char *const *paths, size_t n_paths, Holder **ret, size_t *ret_n);
Holder *holders_free(Holder *holders);
static inline void holders_freep(Holder **h) {
        holders_free(*h);
}

/* Whether the process of pidfd, whose pid is pid, has a VFIO device fd open (an anonymous
 * inode that names no group). */
bool holders_process_holds_vfio_device(const char *proc_root, pid_t pid, int pidfd);
