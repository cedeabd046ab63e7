/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vfioctl's private header: what its verbs share (the error-line prefix, how a failed call is told,
 * the bus), and the project's own helpers beside the public library, which keeps them out of its
 * installed header. Verbs return the process exit status (EXIT_*), having said on stderr, in one
 * line, why they failed. */

#include "address.h"
#include "macro.h"
#include "vfiod-client.h"

#define _cleanup_inventory_free_ _cleanup_(vfiod_inventory_freep)

/* The contract fixes the prefix of every error line, whatever argv[0] says. */
#define PROGRAM "vfioctl"

/* Logs the one line a failed vfiod call gets and returns its exit code. */
int log_call_failed(const sd_bus_error *error, int r, const char *what);

/* Targets are checked before connecting: a typo is the user's to fix, not the daemon's to judge.
 * Logs the one line and returns -EINVAL for one that is neither a group id nor an address. */
int check_target(const char *text, VfiodTarget *ret);

/* Connects to the system bus, or logs why not and returns a negative errno. */
int bus_open(sd_bus **ret_bus);

/* vfioctl acquire (vfioctl-acquire.c): targets are argv[1..argc), command is what followed "--"
 * (NULL when there was no "--"). */
int verb_acquire_run(int argc, char *argv[], const VfiodAcquireOptions *o, char **command);

/* vfioctl monitor (vfioctl-monitor.c): runs until SIGINT or SIGTERM. */
int verb_monitor_run(bool json);
