/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Leases: what a client holds after Acquire. A lease ties one group's fds (or, in grant mode, access
 * to its device node) to its owner's bus connection and to the processes holding the fds: it ends
 * on Release(), or once the owner is gone from the bus and no process holds the group any more. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "container.h"
#include "holders.h"
#include "inventory.h"

typedef enum LeaseInterface {
        LEASE_INTERFACE_AUTO,
        LEASE_INTERFACE_GROUP,
        LEASE_INTERFACE_IOMMUFD,
        _LEASE_INTERFACE_MAX,
        _LEASE_INTERFACE_INVALID = -22,
} LeaseInterface;

typedef enum LeaseState {
        LEASE_ACTIVE,
        LEASE_RELEASING,
        _LEASE_STATE_MAX,
} LeaseState;

typedef struct AcquireRequest {
        const char *owner; /* unique bus name */
        uid_t uid;
        pid_t pid; /* 0 when no process answers for the caller (authorize.h) */
        int pidfd; /* pins pid; owned by the request, -EBADF with pid 0 */
        const char *sharing_key; /* "" for the owner's default container */
        LeaseInterface interface;
        bool grant;
} AcquireRequest;

typedef struct Lease {
        Manager *manager;
        unsigned id;
        uint32_t group;
        char *owner;
        uid_t uid;
        pid_t pid;
        int pidfd;
        bool grant;
        Container *container; /* NULL in grant mode */
        int group_fd; /* legacy interface */
        char **device_addresses; /* iommufd interface: one cdev per endpoint */
        int *device_fds;
        size_t n_devices;
        LeaseState state;
        uint64_t deadline_usec;
        struct OwnerWatch *owner_watch; /* until the owner leaves the bus */
        bool restored; /* taken back by a restarted daemon */
        bool released; /* Release() came while processes held the group: waiting for them */
        bool held_unnamed; /* the kernel said held with no process naming the group (logged once) */
        sd_event_source *holder_timer; /* owner gone or released: waiting for the holders to let go */
        struct Removal *removal; /* an Unassign waiting for this lease to end */
} Lease;

LeaseInterface lease_interface_from_string(const char *s);
const char *lease_state_to_string(LeaseState s);

/* Opens the group (or its cdevs), puts it into a container, and records the lease. On failure
 * returns -errno with a message for the caller. */
int lease_acquire(Manager *m, Group *g, const AcquireRequest *req, Lease **ret, char **ret_message);

/* A lease as the lease table kept it (lease-store.c). */
typedef struct LeaseRecord {
        unsigned id;
        uint32_t group;
        const char *owner;
        uid_t uid;
        pid_t pid;
        bool grant;
        unsigned container; /* 0: none (grant mode) */
        char **device_addresses; /* iommufd: the cdevs the owner was given */
        bool released; /* waits for its holders only */
} LeaseRecord;

/* After a restart: the lease again, with the daemon's fds the service manager kept (-EBADF when
 * none). Takes the fds. -ESTALE when the group is no longer claimed and on vfio. */
int lease_restore(Manager *m, const LeaseRecord *rec, int group_fd, int pidfd);

/* Once on the bus: follow the restored leases' owners again; a lease whose owner left while the
 * daemon was away waits for its holders like any other. */
void leases_watch_restored_owners(Manager *m);

/* Ends the lease: the daemon's fds are closed, grant access taken back, the group is "vfio" again.
 * When the service manager's fd store kept the legacy group fd, the group stays "releasing" until
 * the store has let go of it (a legacy group opens only once); lease_end_then() calls done then
 * (at once when there is nothing to wait for; also when the daemon stops first). */
typedef void (*lease_freed_t)(Manager *m, void *userdata);

/* Release(): the lease ends as lease_end_then() ends it, unless processes still hold the group
 * (the owner's own fds, a child's): then the lease stays "releasing", its owner no longer counts
 * and a grantee's node is root's again, done is called at once, and the lease ends once nothing
 * holds the group (polled each second, as for an owner that left). */
void lease_release(Lease *l, lease_freed_t done, void *userdata);

/* A device joined l's group (hotplug): its owner must be allowed the grown group too (root and
 * rules answer at once, polkit later); when it is not, the lease is revoked (Revoked with the
 * reason, its holders killed) and the group stays on vfio. */
void lease_reauthorize(Lease *l, const char *address);
void lease_end(Lease *l, const char *reason);
void lease_end_then(Lease *l, const char *reason, lease_freed_t done, void *userdata);

/* After the client has its copies: an open cdev, even unbound, would make the kernel's removal of
 * the device (hot-unplug, unbind) wait for the daemon, which can never be asked to let go; and
 * while the daemon kept a group fd, the group would be open for as long, and the kernel could
 * never say that nobody else holds it. The holder scan still finds the client's copies by path. */
void lease_drop_client_fds(Lease *l);

/* Whether the kernel says something holds the group although no process names it (see
 * vfio_group_held()); 0 when it cannot tell (a restored lease with the daemon's own group fd). */
int group_held_unnamed(Manager *m, uint32_t group);

Lease *manager_get_lease(Manager *m, unsigned id);
Lease *manager_lease_of_group(Manager *m, uint32_t group);
int lease_bus_path(const Lease *l, char **ret);

/* lease-dbus.c: State and DeadlineUSec changed; signals to the owner only. */
void lease_bus_emit_changed(Manager *m, Lease *l);
void lease_send_release_requested(Lease *l, const char *reason, uint64_t deadline_usec);
void lease_send_revoked(Lease *l, const char *reason);
void leases_free_all(Manager *m);

/* The processes that hold the group (holders_scan(): its node, its devices' cdevs, mappings of
 * their BARs where the kernel shows them); none when the group is gone. */
int group_scan_holders(Manager *m, uint32_t group, Holder **ret, size_t *ret_n);
