/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: pidfds, and what /proc may be believed about the process behind one. */

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "process.h"
#include "sysfs.h"

int process_pidfd_open(pid_t pid) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? negative_errno() : fd;
}

bool process_alive(int pidfd) {
        /* Signal 0 checks only: EPERM says it is there (not ours to signal), ESRCH that it is not. */
        if (pidfd < 0)
                return false;
        return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) >= 0 || errno == EPERM;
}

int process_signal(int pidfd, int sig) {
        if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
                return errno == ESRCH ? 0 : negative_errno();
        return 0;
}

/* The effective uid on the "Uid:" line of /proc/PID/status (real, effective, saved, fs). */
static int read_euid(const char *proc_root, pid_t pid, uid_t *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        unsigned real, effective;
        const char *line;
        int r;

        if (asprintf(&path, "%s/%d/status", proc_root, (int) pid) < 0)
                return -ENOMEM;
        r = read_full_file(path, &text);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        line = strstr(text, "\nUid:");
        if (!line || sscanf(line + strlen("\nUid:"), "%u %u", &real, &effective) != 2)
                return -EBADMSG;
        *ret = (uid_t) effective;
        return 0;
}

int process_open(const char *proc_root, pid_t pid, uid_t uid, int *ret_pidfd) {
        _cleanup_close_ int pidfd = -EBADF;
        uid_t euid;
        int r;

        if (pid <= 0)
                return -ESRCH;
        pidfd = process_pidfd_open(pid);
        if (pidfd < 0)
                return pidfd;
        r = read_euid(proc_root, pid, &euid);
        if (r < 0)
                return r;
        /* Alive after the read: the pid named the pidfd's process all along. */
        if (!process_alive(pidfd))
                return -ESRCH;
        if (euid != uid)
                return -EPERM;
        *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}
