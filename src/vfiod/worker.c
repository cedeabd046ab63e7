/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: supervising one child process that performs blocking kernel writes under a deadline. */

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "worker.h"

/* Where the child keeps the write end of its result pipe, above stdin, stdout and stderr. */
#define WORKER_RESULT_FD 3

struct Worker {
        pid_t pid;
        int pipe_fd;
        sd_event_source *child_source;
        sd_event_source *timer_source;
        size_t result_size;
        void *result;
        bool reported; /* the child wrote its result */
        bool timed_out; /* the owner has been told about the deadline */
        worker_done_t done;
        void *userdata;
};

typedef struct WorkerReport {
        int error;
} WorkerReport;

_noreturn_ static void run_child(int fd, worker_fn_t fn, void *fn_data, size_t result_size) {
        uint8_t buf[sizeof(WorkerReport) + result_size];
        /* The function fills a result suitably aligned for any type; the pipe takes it packed. */
        max_align_t result[(result_size + sizeof(max_align_t) - 1) / sizeof(max_align_t) + 1];
        WorkerReport report;

        memset(result, 0, sizeof(result));
        report.error = fn(fn_data, result);
        memcpy(buf, &report, sizeof(report));
        memcpy(buf + sizeof(report), result, result_size);
        /* One write below PIPE_BUF is atomic: the daemon reads all of it or nothing. */
        _exit(write(fd, buf, sizeof(buf)) == (ssize_t) sizeof(buf) ? 0 : 1);
}

static int read_report(Worker *w, int *ret_error) {
        uint8_t buf[sizeof(WorkerReport) + w->result_size];
        WorkerReport report;
        ssize_t n;

        n = read(w->pipe_fd, buf, sizeof(buf));
        if (n != (ssize_t) sizeof(buf))
                return -ECHILD;
        memcpy(&report, buf, sizeof(report));
        memcpy(w->result, buf + sizeof(report), w->result_size);
        w->reported = true;
        *ret_error = report.error;
        return 0;
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Worker *w = userdata;
        int error;

        if (read_report(w, &error) < 0) {
                log_warning("Worker process %d died without a report (code %d, status %d).", (int) w->pid, si->si_code,
                            si->si_status);
                error = -ECHILD;
        }
        w->pid = 0;
        w->timer_source = sd_event_source_disable_unref(w->timer_source);
        w->done(w, error, w->timed_out, w->reported ? w->result : NULL, w->userdata);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;

        log_warning("Worker process %d is still blocked in the kernel after its deadline.", (int) w->pid);
        w->timed_out = true;
        w->done(w, -ETIMEDOUT, false, NULL, w->userdata);
        return 0;
}

int worker_start(sd_event *event, worker_fn_t fn, void *fn_data, size_t result_size, uint64_t timeout_usec,
                 worker_done_t done, void *userdata, Worker **ret) {
        int fds[2] = { -EBADF, -EBADF }, r;
        pid_t parent;
        Worker *w;

        w = calloc(1, sizeof(Worker));
        if (!w)
                return -ENOMEM;
        w->pipe_fd = -EBADF;
        w->result_size = result_size;
        w->result = calloc(1, result_size ?: 1);
        w->done = done;
        w->userdata = userdata;
        if (!w->result || sizeof(WorkerReport) + result_size > PIPE_BUF) {
                r = w->result ? -E2BIG : -ENOMEM;
                goto fail;
        }
        if (pipe2(fds, O_CLOEXEC) < 0) {
                r = negative_errno();
                goto fail;
        }
        parent = getpid();
        w->pid = fork();
        if (w->pid < 0) {
                r = negative_errno();
                goto fail;
        }
        if (w->pid == 0) {
                /* A daemon that dies mid-move is restarted and finishes the move from its intent
                 * log; an orphaned worker must not race with that. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                /* Keep stdio and the result pipe, nothing else: a worker that held the daemon's
                 * lease, container and fd-store fds would count as their holder (and be killed by
                 * a hard removal of another group, or pin every lease while it hangs). */
                if (fds[1] != WORKER_RESULT_FD && dup2(fds[1], WORKER_RESULT_FD) < 0)
                        _exit(1);
                if (close_range(WORKER_RESULT_FD + 1, ~0U, 0) < 0)
                        _exit(1);
                run_child(WORKER_RESULT_FD, fn, fn_data, result_size);
        }
        fds[1] = safe_close(fds[1]);
        w->pipe_fd = TAKE_FD(fds[0]);

        r = sd_event_add_child(event, &w->child_source, w->pid, WEXITED, on_child_exit, w);
        if (r < 0)
                goto fail;
        r = sd_event_add_time_relative(event, &w->timer_source, CLOCK_MONOTONIC, timeout_usec, 0, on_deadline, w);
        if (r < 0)
                goto fail;
        *ret = w;
        return 0;
fail:
        safe_close(fds[0]);
        safe_close(fds[1]);
        worker_free(w);
        return r;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->timer_source);
        sd_event_source_disable_unref(w->child_source);
        safe_close(w->pipe_fd);
        free(w->result);
        return mfree(w);
}
