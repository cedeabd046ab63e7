/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who may do what: root may do everything; others as the configuration's rules say; what the
 * rules do not allow, polkit may (checked asynchronously, never blocking the event loop). */

#include <systemd/sd-bus.h>

#include "manager.h"
#include "policy.h"

/* Called once with 0 (allowed) or -EACCES (denied) or another -errno (could not check). */
typedef void (*authorize_done_t)(Manager *m, int r, void *userdata);

/* Returns 1 when allowed at once, < 0 when refused at once (done is not called then), or 0 when
 * polkit was asked and done will be called. */
int authorize_async(Manager *m, sd_bus_message *message, PolicyAction action, const Group *g,
                    authorize_done_t done, void *userdata);

/* Root or a rule: the synchronous part only (for calls that do not ask polkit). */
int authorize_now(Manager *m, sd_bus_message *message, PolicyAction action, const Group *g);
