/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Asking polkit, over the bus and without blocking the event loop, whether the sender of a method
 * call may do an action. The fallback for what the configured rules do not allow: the answer is
 * "no" whenever polkit is absent, slow to the point of a timeout, or confused. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#define POLKIT_ACTION_ACQUIRE "org.vfiod1.acquire"
#define POLKIT_ACTION_MANAGE  "org.vfiod1.manage"

/* The answer. r == 0: polkit answered, authorized says what. r < 0: no answer (polkit not on the
 * bus, an error, a timeout, the connection closed) and authorized is false: deny. r == -ENOKEY:
 * polkit would have asked the user to authenticate, but the call did not allow interactive
 * authorization; a caller may say so with SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED. */
typedef void (*polkit_done_t)(int r, bool authorized, void *userdata);

/* Sends CheckAuthorization for the sender of call (a "system-bus-name" subject, so polkit reads
 * the credentials from the bus itself, which the sender cannot forge) and returns at once; done
 * runs later from the bus's event processing, exactly once, unless the slot is released first.
 * Interactive authorization is allowed when the call allows it. details are key/value pairs
 * (NULL-terminated, may be NULL) that polkit rules see as action.lookup(key).
 *
 * With ret_slot, the caller owns the pending check: unreferencing the slot cancels it and done is
 * never called. Without, the check runs to the end on its own and userdata must live until done.
 * Returns 0 or -errno (then done is never called). */
int polkit_check_async(sd_bus *bus, sd_bus_message *call, const char *action_id, polkit_done_t done, void *userdata,
                       sd_bus_slot **ret_slot);

int polkit_check_async_details(sd_bus *bus, sd_bus_message *call, const char *action_id, const char *const *details,
                               polkit_done_t done, void *userdata, sd_bus_slot **ret_slot);

/* The same for a unique bus name that is not calling right now (e.g. a lease's owner, asked
 * again); interactive says whether polkit may ask the user to authenticate. */
int polkit_check_name_async(sd_bus *bus, const char *sender, bool interactive, const char *action_id,
                            const char *const *details, polkit_done_t done, void *userdata, sd_bus_slot **ret_slot);
