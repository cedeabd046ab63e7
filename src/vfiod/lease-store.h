/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What outlives the daemon process: the lease table (leases.json under the runtime directory) and
 * the service manager's fd store, which keeps the daemon's own references to its containers,
 * groups and owners' pidfds. A restarted daemon (systemctl restart, a crash, the watchdog) takes
 * its leases back from both; without a service manager the table alone still gives the leases
 * back, only without the daemon's fds. */

#include "manager.h"

/* Rewrites the table from the current leases and containers (after every change). */
void lease_store_save(Manager *m);

/* Hands fd to the service manager under a name ("container-3", "lease-5-group"), or takes every
 * fd of that name back out of the store. No-ops outside systemd. */
void lease_store_push_fd(const char *kind, unsigned id, int fd);
void lease_store_drop_fd(const char *kind, unsigned id);

/* The service manager handles the store's messages later, in its own loop: until it does, a
 * dropped group fd is still open there (and a legacy group opens only once). Calls done once it
 * has handled every message sent before this call (it closes the fd sent with BARRIER=1), or
 * after a few seconds whatever it did. Returns 1 when done will be called, 0 when there is no
 * service manager to wait for, < 0 when the wait could not start (done is not called then). */
typedef struct StoreBarrier StoreBarrier;
typedef void (*store_barrier_done_t)(StoreBarrier *b, void *userdata);
int lease_store_barrier(sd_event *event, store_barrier_done_t done, void *userdata, StoreBarrier **ret);
StoreBarrier *lease_store_barrier_free(StoreBarrier *b);

/* At start-up, once claimed groups are known and before the bus is up: rebuilds containers and
 * leases from the table and the fds the service manager passed back; fds nobody claims are
 * closed and removed from the store. */
int lease_store_restore(Manager *m);
