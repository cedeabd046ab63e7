/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the order in which a caller's rights are checked (root, rules, polkit). */

#include <inttypes.h>
#include <string.h>

#include "authorize.h"
#include "log.h"
#include "polkit.h"
#include "process.h"
#include "user-groups.h"

typedef struct PendingCheck {
        Manager *manager;
        authorize_done_t done;
        void *userdata;
        PolicyAction action;
        uint32_t group;
} PendingCheck;

#define IDENTITY_CACHE_SIZE 64

typedef struct CachedIdentity {
        char *sender;
        CallerIdentity identity;
} CachedIdentity;

/* A small ring: callers come and go, a busy client makes many calls in a row. */
static CachedIdentity identity_cache[IDENTITY_CACHE_SIZE];
static size_t identity_next;

/* uid's groups from the user database; without them (*ret's gid is -1, no gids) only user rules
 * apply to it. */
static void lookup_groups(uid_t uid, UserGroups *ret) {
        int r;

        r = user_groups(uid, ret);
        if (r < 0) {
                *ret = (UserGroups){ .gid = (gid_t) -1 };
                if (r != -ESRCH)
                        log_warning_errno(r, "Cannot look up the groups of uid %u, group rules do not apply to it: %m",
                                          (unsigned) uid);
        }
}

/* Root, or a rule of the configuration: what is decided at once, without polkit. */
static bool allowed_now(Manager *m, uid_t uid, gid_t gid, const gid_t *gids, size_t n_gids, PolicyAction action,
                        const Group *g) {
        return uid == 0 || (m->policy && policy_allows(m->policy, uid, gid, gids, n_gids, action, g));
}

static int query_identity(Manager *m, sd_bus_message *message, CallerIdentity *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        CallerIdentity id = { .gid = (gid_t) -1, .pidfd = -EBADF };
        UserGroups groups;
        int r;

        /* Real credentials only: what the bus daemon vouches for, not what the peer claims. */
        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &id.uid);
        if (r >= 0)
                r = sd_bus_creds_get_pid(creds, &id.pid);
        if (r < 0)
                return r;
        r = process_open(m->proc_root, id.pid, id.uid, &id.pidfd);
        if (r < 0) {
                log_info_errno(r, "The process %d that connected as %s is %s: no process answers for it.", (int) id.pid,
                               sd_bus_message_get_sender(message),
                               r == -EPERM ? "not of its uid (its pid was reused)" : "gone");
                id.pid = 0;
        }
        /* The groups follow from that uid (the bus sends none). */
        lookup_groups(id.uid, &groups);
        id.gid = groups.gid;
        memcpy(id.gids, groups.gids, groups.n_gids * sizeof(gid_t));
        id.n_gids = groups.n_gids;
        *ret = id;
        return 0;
}

int caller_identity(Manager *m, sd_bus_message *message, const CallerIdentity **ret) {
        const char *sender = sd_bus_message_get_sender(message);
        _cleanup_free_ char *copy = NULL;
        CallerIdentity fresh;
        CachedIdentity *slot;
        int r;

        if (!sender)
                return -ENXIO;
        FOREACH_ARRAY(c, identity_cache, IDENTITY_CACHE_SIZE)
                if (c->sender && streq(c->sender, sender)) {
                        *ret = &c->identity;
                        return 0;
                }
        copy = strdup(sender);
        if (!copy)
                return -ENOMEM;
        r = query_identity(m, message, &fresh);
        if (r < 0)
                return r;
        /* A slot with a sender owns its pidfd. */
        slot = &identity_cache[identity_next];
        if (slot->sender)
                safe_close(slot->identity.pidfd);
        free(slot->sender);
        slot->sender = TAKE_PTR(copy);
        slot->identity = fresh;
        identity_next = (identity_next + 1) % IDENTITY_CACHE_SIZE;
        *ret = &slot->identity;
        return 0;
}

void caller_identity_cache_clear(void) {
        FOREACH_ARRAY(c, identity_cache, IDENTITY_CACHE_SIZE)
                if (c->sender) {
                        c->sender = mfree(c->sender);
                        c->identity.pidfd = safe_close(c->identity.pidfd);
                }
}

int authorize_now(Manager *m, sd_bus_message *message, PolicyAction action, const Group *g) {
        const CallerIdentity *id;
        int r;

        r = caller_identity(m, message, &id);
        if (r < 0)
                return r;
        return allowed_now(m, id->uid, id->gid, id->gids, id->n_gids, action, g);
}

static void on_polkit_reply(int r, bool authorized, void *userdata) {
        PendingCheck *p = userdata;

        if (r < 0)
                log_info_errno(r, "polkit did not answer for %s on IOMMU group %" PRIu32 " (denying): %m",
                               policy_action_to_string(p->action), p->group);
        p->done(p->manager, authorized ? 0 : -EACCES, p->userdata);
        free(p);
}

/* Asks polkit about sender (the caller, interactive as its call allows, or a lease's owner). */
static int ask_polkit(Manager *m, sd_bus_message *message, const char *sender, PolicyAction action, const Group *g,
                      authorize_done_t done, void *userdata) {
        const char *action_id = action == POLICY_MANAGE ? POLKIT_ACTION_MANAGE : POLKIT_ACTION_ACQUIRE;
        char group_text[16];
        const char *details[] = { "group", group_text, NULL };
        PendingCheck *p;
        int r;

        p = calloc(1, sizeof(PendingCheck));
        if (!p)
                return -ENOMEM;
        *p = (PendingCheck){ m, done, userdata, action, g->id };
        snprintf(group_text, sizeof(group_text), "%" PRIu32, g->id);
        if (message)
                r = polkit_check_async_details(m->bus, message, action_id, details, on_polkit_reply, p, NULL);
        else
                r = polkit_check_name_async(m->bus, sender, false, action_id, details, on_polkit_reply, p, NULL);
        if (r < 0) {
                free(p);
                return -EACCES;
        }
        return 0;
}

int authorize_async(Manager *m, sd_bus_message *message, PolicyAction action, const Group *g, authorize_done_t done,
                    void *userdata) {
        int r;

        r = authorize_now(m, message, action, g);
        if (r != 0)
                return r;
        return ask_polkit(m, message, NULL, action, g, done, userdata);
}

int authorize_owner_async(Manager *m, const char *owner, uid_t uid, PolicyAction action, const Group *g,
                          authorize_done_t done, void *userdata) {
        UserGroups groups;

        if (uid == 0)
                return 1;
        lookup_groups(uid, &groups);
        if (allowed_now(m, uid, groups.gid, groups.gids, groups.n_gids, action, g))
                return 1;
        if (!owner || !m->bus)
                return -EACCES;
        return ask_polkit(m, NULL, owner, action, g, done, userdata);
}
