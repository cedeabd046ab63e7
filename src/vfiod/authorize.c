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

static const CallerIdentity *identity_cached(const char *sender) {
        FOREACH_ARRAY(c, identity_cache, IDENTITY_CACHE_SIZE)
                if (c->sender && streq(c->sender, sender))
                        return &c->identity;
        return NULL;
}

/* The identity of sender from the uid and pid the bus daemon vouches for: the process pinned by
 * a pidfd, the groups from the user database; remembered. */
static int identity_store(Manager *m, const char *sender, uid_t uid, pid_t pid, const CallerIdentity **ret) {
        _cleanup_free_ char *copy = strdup(sender);
        CallerIdentity id = { .uid = uid, .gid = (gid_t) -1, .pid = pid, .pidfd = -EBADF };
        CachedIdentity *slot;
        UserGroups groups;
        int r;

        if (!copy)
                return -ENOMEM;
        r = process_open(m->proc_root, id.pid, id.uid, &id.pidfd);
        if (r < 0) {
                log_info_errno(r, "The process %d that connected as %s is %s: no process answers for it.", (int) id.pid,
                               sender, r == -EPERM ? "not of its uid (its pid was reused)" : "gone");
                id.pid = 0;
        }
        /* The groups follow from that uid (the bus sends none). */
        lookup_groups(id.uid, &groups);
        id.gid = groups.gid;
        memcpy(id.gids, groups.gids, groups.n_gids * sizeof(gid_t));
        id.n_gids = groups.n_gids;
        /* A slot with a sender owns its pidfd. */
        slot = &identity_cache[identity_next];
        if (slot->sender)
                safe_close(slot->identity.pidfd);
        free(slot->sender);
        slot->sender = TAKE_PTR(copy);
        slot->identity = id;
        identity_next = (identity_next + 1) % IDENTITY_CACHE_SIZE;
        *ret = &slot->identity;
        return 0;
}

int caller_identity(Manager *m, sd_bus_message *message, const CallerIdentity **ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *sender = sd_bus_message_get_sender(message);
        uid_t uid;
        pid_t pid;
        int r;

        if (!sender)
                return -ENXIO;
        *ret = identity_cached(sender);
        if (*ret)
                return 0;
        /* Real credentials only: what the bus daemon vouches for, not what the peer claims. A
         * round trip to the bus daemon, on the loop: methods ask caller_identity_ready() first. */
        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r >= 0)
                r = sd_bus_creds_get_pid(creds, &pid);
        if (r < 0)
                return r;
        return identity_store(m, sender, uid, pid, ret);
}

/* A method call waiting for its sender's credentials. */
typedef struct IdentityQuery {
        Manager *manager;
        sd_bus_message *message;
        identity_resume_t resume;
} IdentityQuery;

/* UnixUserID and ProcessID of a GetConnectionCredentials reply (a{sv}). */
static int read_credentials(sd_bus_message *reply, uid_t *ret_uid, pid_t *ret_pid) {
        bool have_uid = false, have_pid = false;
        const char *key;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                uint32_t value;

                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0 && (streq(key, "UnixUserID") || streq(key, "ProcessID"))) {
                        r = sd_bus_message_read(reply, "v", "u", &value);
                        if (r >= 0 && streq(key, "UnixUserID")) {
                                *ret_uid = (uid_t) value;
                                have_uid = true;
                        } else if (r >= 0) {
                                *ret_pid = (pid_t) value;
                                have_pid = true;
                        }
                } else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return r;
        return have_uid && have_pid ? 0 : -ENODATA;
}

static int on_credentials(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        IdentityQuery *q = userdata;
        const char *sender = sd_bus_message_get_sender(q->message);
        const CallerIdentity *id;
        uid_t uid = 0;
        pid_t pid = 0;
        int r;

        if (sd_bus_message_is_method_error(reply, NULL))
                r = -sd_bus_message_get_errno(reply) ?: -EIO;
        else
                r = read_credentials(reply, &uid, &pid);
        if (r >= 0)
                r = identity_cached(sender) ? 0 : identity_store(q->manager, sender, uid, pid, &id);
        if (r >= 0)
                r = sd_bus_message_rewind(q->message, true);
        if (r >= 0)
                r = q->resume(q->manager, q->message, &error);
        if (sd_bus_error_is_set(&error))
                r = sd_bus_reply_method_error(q->message, &error);
        else if (r < 0)
                r = sd_bus_reply_method_errno(q->message, r, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot answer %s of %s: %m", strempty(sd_bus_message_get_member(q->message)),
                                strempty(sender));
        return 0;
}

/* When the slot goes: after the answer, or with the bus when the daemon stops first. */
static void identity_query_free(void *userdata) {
        IdentityQuery *q = userdata;

        sd_bus_message_unref(q->message);
        free(q);
}

int caller_identity_ready(Manager *m, sd_bus_message *message, identity_resume_t resume) {
        const char *sender = sd_bus_message_get_sender(message);
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        const CallerIdentity *id;
        IdentityQuery *q;
        int r;

        if (!sender)
                return -ENXIO;
        if (identity_cached(sender))
                return 1;
        if (!m->bus) { /* no bus to ask without waiting (tests drive the daemon without one) */
                r = caller_identity(m, message, &id);
                return r < 0 ? r : 1;
        }
        q = calloc(1, sizeof(IdentityQuery));
        if (!q)
                return -ENOMEM;
        *q = (IdentityQuery){ .manager = m, .message = sd_bus_message_ref(message), .resume = resume };
        r = sd_bus_call_method_async(m->bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionCredentials", on_credentials, q, "s",
                                     sender);
        if (r >= 0)
                r = sd_bus_slot_set_destroy_callback(slot, identity_query_free);
        if (r < 0) {
                identity_query_free(q);
                return r;
        }
        /* The bus owns the slot now, and frees q with it. */
        return sd_bus_slot_set_floating(slot, true) < 0 ? -ENOMEM : 0;
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
