/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Moving whole IOMMU groups between the host and vfio: plans, safety and viability checks, the
 * supervised move with rollback, keeping hotplugged devices of claimed groups off host drivers,
 * and finishing what a killed daemon left half done. */

#include "bind.h"
#include "manager.h"

typedef struct AssignOptions {
        bool persist;
        bool force;
        bool dry_run;
} AssignOptions;

typedef struct UnassignOptions {
        bool persist;
} UnassignOptions;

/* Completion of a move: error 0 or -errno; message says which device and why on failure. */
typedef void (*transition_done_t)(Manager *m, uint32_t group, int error, const char *message, void *userdata);

/* What assigning g would do, and whether it is allowed. Returns 0 with the moves, or -errno with
 * a message (AlreadyAssigned, GroupBusy, Unsafe, NotViable, ...); the moves are filled either way
 * when they could be computed. */
int assign_plan(Manager *m, Group *g, bool force, DeviceMove **ret_moves, size_t *ret_n, char **ret_message);

/* Start a move; done is called exactly once unless this returns < 0 (then *ret_message says why).
 * Returns 1 when it finished at once (a dry run; an unassign with persist of a group the host has,
 * which only forgets its persistent assignment) without calling done. */
int assign_start(Manager *m, Group *g, const AssignOptions *o, transition_done_t done, void *userdata,
                 char **ret_message);
int unassign_start(Manager *m, Group *g, const UnassignOptions *o, transition_done_t done, void *userdata,
                   char **ret_message);

/* A device appeared in (or was bound to a host driver in) a claimed group: keep it off host drivers. */
void assign_claim_device(Manager *m, Device *d, const char *action);

/* At start-up: finish moves from the intent log, re-adopt claimed groups, apply persistent
 * assignments. Each move it starts counts in m->startup_moves. */
int assign_recover(Manager *m);

/* At exit: stop watching workers (a child blocked in the kernel finishes on its own). */
void assign_release_all(Manager *m);

/* A move (assign, unassign, rollback, hotplug claim) has a worker in the kernel right now. */
bool assign_moves_in_flight(Manager *m);

/* The reason a group must not be assigned without force, or NULL (allocated). */
int assign_safety_verdict(Manager *m, Group *g, char **ret);
