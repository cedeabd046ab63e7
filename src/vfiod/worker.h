/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Runs kernel writes that may block (unbind waits for open device fds, uninterruptibly) in a
 * forked child, so the event loop never blocks. The child reports one fixed-size result through a
 * pipe. Past the deadline the owner is told once (the write is stuck: "wedged"), and told again
 * with the real result if the child ever finishes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct Worker Worker;

/* Runs in the child; returns 0 or -errno and may fill result (result_size bytes). */
typedef int (*worker_fn_t)(void *userdata, void *result);

/* Runs in the daemon. error: the child's return value, -ETIMEDOUT at the deadline (the child
 * still runs; late=false), or the child's return value after a timeout (late=true); -ECHILD when
 * the child died without reporting. result is valid only when the child reported. */
typedef void (*worker_done_t)(Worker *w, int error, bool late, const void *result, void *userdata);

int worker_start(sd_event *event, worker_fn_t fn, void *fn_data, size_t result_size, uint64_t timeout_usec,
                 worker_done_t done, void *userdata, Worker **ret);

/* Stops watching; the child, if still running, is left to finish on its own. */
Worker *worker_free(Worker *w);
