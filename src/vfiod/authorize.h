/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who may do what: root may do everything; others as the configuration's rules say; what the
 * rules do not allow, polkit may (checked asynchronously, never blocking the event loop). */

#include <systemd/sd-bus.h>

#include "manager.h"
#include "policy.h"
#include "user-groups.h"

/* Who sent a message: uid and pid as the bus daemon vouches for them, the groups as the user
 * database gives them for that uid (user-groups.h). The pid is the process that opened the
 * connection, which may have exited since and its pid gone to another process: a pidfd is opened
 * when the identity is first asked for (before any polkit wait) and kept only when that process
 * runs as the caller's uid; otherwise pid is 0 and pidfd -EBADF (no process answers for it). */
typedef struct CallerIdentity {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        int pidfd; /* owned by the cache: dup it to keep it */
        gid_t gids[USER_GROUPS_MAX];
        size_t n_gids;
} CallerIdentity;

/* The sender's identity. Asking the bus costs a round trip, so answers are remembered by unique
 * name: the bus never reuses one, and a connection's credentials are those it connected with. */
int caller_identity(Manager *m, sd_bus_message *message, const CallerIdentity **ret);
void caller_identity_cache_clear(void);

/* What a method handler does once its caller's identity is known: the handler itself, or a
 * lookup of its object followed by it. Its return and error are answered as sd-bus would. */
typedef int (*identity_resume_t)(Manager *m, sd_bus_message *message, sd_bus_error *error);

/* First thing in a method that authorizes: 1 when the sender's identity is known (go on), 0 when
 * the bus daemon was asked for it without waiting (return 1 and do not reply: resume is called
 * with the message, rewound, once the answer came, and its outcome answered), or -errno. The
 * bus daemon is asked at most once per sender while it is remembered. */
int caller_identity_ready(Manager *m, sd_bus_message *message, identity_resume_t resume);

/* Called once with 0 (allowed) or -EACCES (denied) or another -errno (could not check). */
typedef void (*authorize_done_t)(Manager *m, int r, void *userdata);

/* Returns 1 when allowed at once, < 0 when refused at once (done is not called then), or 0 when
 * polkit was asked and done will be called. */
int authorize_async(Manager *m, sd_bus_message *message, PolicyAction action, const Group *g, authorize_done_t done,
                    void *userdata);

/* The same for whom a lease belongs to, asked again (its group grew): uid as the lease recorded
 * it, its groups from the user database, polkit asked about the owner's bus name without
 * interaction. */
int authorize_owner_async(Manager *m, const char *owner, uid_t uid, PolicyAction action, const Group *g,
                          authorize_done_t done, void *userdata);

/* Root or a rule: the synchronous part only (for calls that do not ask polkit). */
int authorize_now(Manager *m, sd_bus_message *message, PolicyAction action, const Group *g);
