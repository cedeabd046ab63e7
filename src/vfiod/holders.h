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
        pid_t pid;
        char comm[16];
} Holder;

/* Every process but ourselves with an open fd on one of paths: the same path, or the same
 * character device under another path (an fd opened in another mount namespace). */
int holders_scan(const char *proc_root, char *const *paths, size_t n_paths, Holder **ret, size_t *ret_n);

/* Whether process pid has a VFIO device fd open (an anonymous inode that names no group). */
bool holders_pid_holds_vfio_device(const char *proc_root, pid_t pid);
