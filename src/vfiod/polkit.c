/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the asynchronous authorization query to polkit's Authority over sd-bus. */

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "macro.h"
#include "polkit.h"

/* CheckAuthorizationFlags in polkit's D-Bus API. */
#define POLKIT_FLAG_ALLOW_USER_INTERACTION UINT32_C(1)

/* Without a user at an authentication agent polkit answers at once; the bus default timeout covers
 * that. A person typing a password needs longer. */
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (UINT64_C(300) * UINT64_C(1000000))

typedef struct PolkitQuery {
        polkit_done_t done;
        void *userdata;
        char *action_id; /* for log messages */
} PolkitQuery;

static void polkit_query_free(void *p) {
        PolkitQuery *q = p;

        if (!q)
                return;
        free(q->action_id);
        free(q);
}

/* Reads (bba{ss}): authorized, challenge, details. */
static int polkit_parse_reply(sd_bus_message *reply, bool *ret_authorized, bool *ret_challenge) {
        int authorized, challenge, r;

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0)
                return r;
        *ret_authorized = authorized;
        *ret_challenge = challenge;
        return 0;
}

static int polkit_reply_handler(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        const sd_bus_error *e;
        bool authorized = false, challenge = false;
        int r;

        e = sd_bus_message_get_error(reply);
        if (e) {
                r = sd_bus_error_get_errno(e);
                r = -(r > 0 ? r : EIO);
                log_debug_errno(r, "polkit check for %s failed (%s), denying: %s", q->action_id, e->name,
                                strempty(e->message));
        } else {
                r = polkit_parse_reply(reply, &authorized, &challenge);
                if (r < 0) {
                        authorized = false;
                        log_debug_errno(r, "polkit sent a reply we cannot read for %s, denying: %m", q->action_id);
                } else if (!authorized && challenge)
                        r = -ENOKEY;
        }

        /* done may release the slot; sd-bus keeps it (and so q) alive until we return, but do not
         * touch q after this. */
        q->done(r, authorized, q->userdata);
        return 0;
}

static int append_details(sd_bus_message *m, const char *const *details) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        for (const char *const *d = details; d && d[0] && d[1]; d += 2) {
                r = sd_bus_message_append(m, "{ss}", d[0], d[1]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int polkit_new_query_message(sd_bus *bus, const char *sender, const char *action_id, const char *const *details,
                                    uint32_t flags, sd_bus_message **ret) {

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, action_id);
        if (r < 0)
                return r;
        r = append_details(m, details);
        if (r < 0)
                return r;
        /* No cancellation id: cancelling is done by dropping the reply. */
        r = sd_bus_message_append(m, "us", flags, "");
        if (r < 0)
                return r;

        /* polkit itself may want to start an authentication agent conversation; let it. */
        r = sd_bus_message_set_allow_interactive_authorization(m, flags & POLKIT_FLAG_ALLOW_USER_INTERACTION);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

int polkit_check_async_details(sd_bus *bus, sd_bus_message *call, const char *action_id, const char *const *details,
                               polkit_done_t done, void *userdata, sd_bus_slot **ret_slot) {
        const char *sender;

        if (!call)
                return -EINVAL;
        /* A peer-to-peer connection has no bus name for polkit to look up. */
        sender = sd_bus_message_get_sender(call);
        if (!sender)
                return -EBADMSG;
        return polkit_check_name_async(bus, sender, sd_bus_message_get_allow_interactive_authorization(call) > 0,
                                       action_id, details, done, userdata, ret_slot);
}

int polkit_check_name_async(sd_bus *bus, const char *sender, bool interactive, const char *action_id,
                            const char *const *details, polkit_done_t done, void *userdata, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        PolkitQuery *q;
        int r;

        if (!bus || !sender || !action_id || !done)
                return -EINVAL;
        r = polkit_new_query_message(bus, sender, action_id, details,
                                     interactive ? POLKIT_FLAG_ALLOW_USER_INTERACTION : 0, &m);
        if (r < 0)
                return r;

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        *q = (PolkitQuery){ .done = done, .userdata = userdata, .action_id = strdup(action_id) };
        if (!q->action_id) {
                polkit_query_free(q);
                return -ENOMEM;
        }

        r = sd_bus_call_async(bus, &slot, m, polkit_reply_handler, q,
                              interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC : 0);
        if (r < 0) {
                polkit_query_free(q);
                return r;
        }
        /* From here on q lives exactly as long as the slot, however the slot ends. */
        r = sd_bus_slot_set_destroy_callback(slot, polkit_query_free);
        if (r < 0) {
                polkit_query_free(q);
                sd_bus_slot_set_userdata(slot, NULL);
                return r;
        }

        if (ret_slot)
                *ret_slot = TAKE_PTR(slot);
        else {
                r = sd_bus_slot_set_floating(slot, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

int polkit_check_async(sd_bus *bus, sd_bus_message *call, const char *action_id, polkit_done_t done, void *userdata,
                       sd_bus_slot **ret_slot) {

        return polkit_check_async_details(bus, call, action_id, NULL, done, userdata, ret_slot);
}
