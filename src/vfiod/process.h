/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel-facing: naming a process so that a recycled pid is never taken for it. A pidfd is
 * opened first; what /proc says about that pid is believed only if the pidfd's process is still
 * alive after reading it (a pid is not reused before its process is gone); signals go through
 * the same pidfd. */

#include <stdbool.h>
#include <sys/types.h>

/* A pidfd for pid, or -errno (-ESRCH: no such process). */
int process_pidfd_open(pid_t pid);

/* A pidfd for pid, whose effective uid read from proc_root/PID/status is uid. -ESRCH when the
 * process is gone, -EPERM when it runs as another uid (a pid recycled for another user's
 * process), another -errno when it cannot be looked at. */
int process_open(const char *proc_root, pid_t pid, uid_t uid, int *ret_pidfd);

/* Whether the pidfd's process has not exited yet. */
bool process_alive(int pidfd);

/* Sends sig to the pidfd's process; 0 as well when it is gone already. */
int process_signal(int pidfd, int sig);
