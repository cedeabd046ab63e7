/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Following a unique bus name until it has no owner, without waiting on the bus: a match for the
 * bus daemon's NameOwnerChanged and one GetNameOwner, both sent asynchronously (sd_bus_track asks
 * GetNameOwner with a blocking call for every name it is given, on the only thread). The bus
 * daemon handles a connection's messages in order, so a name that goes after the GetNameOwner
 * answer is seen by the match, which is in place by then. */

#include <systemd/sd-bus.h>

typedef struct OwnerWatch OwnerWatch;

/* Called once, from the event loop (never from inside owner_watch_new()), when the name has no
 * owner: it left, it was gone already, or it cannot be watched (the match was refused). */
typedef void (*owner_gone_t)(void *userdata);

int owner_watch_new(sd_bus *bus, const char *name, owner_gone_t gone, void *userdata, OwnerWatch **ret);
OwnerWatch *owner_watch_free(OwnerWatch *w);
