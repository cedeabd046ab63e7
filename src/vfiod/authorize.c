/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the order in which a caller's rights are checked (root, rules, polkit). */

#include <inttypes.h>

#include "authorize.h"
#include "log.h"
#include "polkit.h"

typedef struct PendingCheck {
        Manager *manager;
        authorize_done_t done;
        void *userdata;
        PolicyAction action;
        uint32_t group;
} PendingCheck;

int authorize_now(Manager *m, sd_bus_message *message, PolicyAction action, const Group *g) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const gid_t *gids = NULL;
        uid_t uid;
        gid_t gid;
        int r, n_gids;

        /* Real credentials only: what the bus daemon vouches for, not what the peer claims. */
        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS,
                                      &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        if (uid == 0)
                return 1;
        if (sd_bus_creds_get_egid(creds, &gid) < 0)
                gid = (gid_t) -1;
        n_gids = sd_bus_creds_get_supplementary_gids(creds, &gids);
        if (n_gids < 0)
                n_gids = 0;
        if (m->policy && policy_allows(m->policy, uid, gid, gids, (size_t) n_gids, action, g))
                return 1;
        return 0;
}

static void on_polkit_reply(int r, bool authorized, void *userdata) {
        PendingCheck *p = userdata;

        if (r < 0)
                log_info_errno(r, "polkit did not answer for %s on IOMMU group %" PRIu32 " (denying): %m",
                               policy_action_to_string(p->action), p->group);
        p->done(p->manager, authorized ? 0 : -EACCES, p->userdata);
        free(p);
}

int authorize_async(Manager *m, sd_bus_message *message, PolicyAction action, const Group *g,
                    authorize_done_t done, void *userdata) {
        char group_text[16];
        const char *details[] = { "group", group_text, NULL };
        PendingCheck *p;
        int r;

        r = authorize_now(m, message, action, g);
        if (r != 0)
                return r;

        p = calloc(1, sizeof(PendingCheck));
        if (!p)
                return -ENOMEM;
        *p = (PendingCheck) { m, done, userdata, action, g->id };
        snprintf(group_text, sizeof(group_text), "%" PRIu32, g->id);
        r = polkit_check_async_details(m->bus, message,
                                       action == POLICY_MANAGE ? POLKIT_ACTION_MANAGE : POLKIT_ACTION_ACQUIRE,
                                       details, on_polkit_reply, p, NULL);
        if (r < 0) {
                free(p);
                return -EACCES;
        }
        return 0;
}
