/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Taking a group back from its lease, the way an admin does kill -15 then kill -9: ask the holder
 * (ReleaseRequested) and wait up to a deadline; then give up (soft) or kill every holder (hard);
 * or kill at once (kill); or refuse (fail). Only then is the group moved back to the host. A group
 * on vfio without a lease that processes hold open gets the same, with nobody to ask. */

#include "assign.h"

typedef enum RemoveMode {
        REMOVE_FAIL,
        REMOVE_SOFT,
        REMOVE_HARD,
        REMOVE_KILL,
        _REMOVE_MODE_MAX,
        _REMOVE_MODE_INVALID = -EINVAL,
} RemoveMode;

typedef struct Removal Removal;

RemoveMode remove_mode_from_string(const char *s);

/* Unassign under a remove policy; done is called exactly once unless this returns < 0. */
int remove_start(Manager *m, Group *g, RemoveMode mode, uint64_t timeout_usec, const UnassignOptions *o,
                 transition_done_t done, void *userdata, char **ret_message);

/* Takes the group back from lease l at once (Revoked with reason, its holders killed) without
 * moving it: the group stays on vfio once the lease has ended. An Unassign already waiting for
 * the lease stops waiting and kills too, then goes on as before. */
int remove_revoke(Manager *m, struct Lease *l, const char *reason);

/* The lease the removal waited for has ended (released, owner gone, or holders killed). */
void remove_lease_ended(Manager *m, Removal *r);

/* At exit: forget pending removals (their callers get no reply). */
void removal_free(Removal *r);
void removals_free_all(Manager *m);
