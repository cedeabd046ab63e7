/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the lease table, what each lease holds, and when a lease ends. */

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "authorize.h"
#include "error-message.h"
#include "holders.h"
#include "lease-store.h"
#include "lease.h"
#include "log.h"
#include "macro.h"
#include "manager-dbus.h"
#include "manager.h"
#include "owner-dbus.h"
#include "remove.h"

#define HOLDER_POLL_USEC (1000 * 1000)

static const char *const lease_interface_table[_LEASE_INTERFACE_MAX] = {
        [LEASE_INTERFACE_AUTO] = "auto",
        [LEASE_INTERFACE_GROUP] = "group",
        [LEASE_INTERFACE_IOMMUFD] = "iommufd",
};

static const char *const lease_state_table[_LEASE_STATE_MAX] = {
        [LEASE_ACTIVE] = "active",
        [LEASE_RELEASING] = "releasing",
};

LeaseInterface lease_interface_from_string(const char *s) {
        for (int i = 0; i < _LEASE_INTERFACE_MAX; i++)
                if (streq(lease_interface_table[i], s))
                        return (LeaseInterface) i;
        return _LEASE_INTERFACE_INVALID;
}

const char *lease_state_to_string(LeaseState s) {
        return s >= 0 && s < _LEASE_STATE_MAX ? lease_state_table[s] : NULL;
}

Lease *manager_get_lease(Manager *m, unsigned id) {
        FOREACH_ARRAY(l, m->leases, m->n_leases)
                if ((*l)->id == id)
                        return *l;
        return NULL;
}

Lease *manager_lease_of_group(Manager *m, uint32_t group) {
        FOREACH_ARRAY(l, m->leases, m->n_leases)
                if ((*l)->group == group)
                        return *l;
        return NULL;
}

static int group_node_path(Manager *m, uint32_t group, char **ret) {
        return asprintf(ret, "%s/vfio/%" PRIu32, m->dev_root, group) < 0 ? -ENOMEM : 0;
}

/* The group node, its devices' cdevs and their memory BARs (a device gone meanwhile has none). */
static int group_holder_targets(Manager *m, Group *g, HolderTargets *ret) {
        _cleanup_(holder_targets_done) HolderTargets t = { .paths = calloc(g->n_devices + 2, sizeof(char *)) };
        int r;

        if (!t.paths)
                return -ENOMEM;
        r = group_node_path(m, g->id, &t.paths[t.n_paths++]);
        if (r < 0)
                return r;
        FOREACH_ARRAY(d, g->devices, g->n_devices) {
                if (vfio_device_cdev_path(m->sysfs_root, m->dev_root, (*d)->address, &t.paths[t.n_paths]) >= 0)
                        t.n_paths++;
                r = sysfs_read_memory_bars(m->sysfs_root, (*d)->address, &t.bars, &t.n_bars);
                if (r == -ENOMEM)
                        return r;
        }
        *ret = t;
        t = (HolderTargets){};
        return 0;
}

int group_scan_holders(Manager *m, uint32_t group, Holder **ret, size_t *ret_n) {
        _cleanup_(holder_targets_done) HolderTargets t = {};
        Group *g = inventory_get_group(m->inventory, group);
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (!g)
                return 0;
        r = group_holder_targets(m, g, &t);
        return r < 0 ? r : holders_scan(m->proc_root, &t, ret, ret_n);
}

static Lease *lease_free(Lease *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->holder_timer);
        owner_watch_free(l->owner_watch);
        safe_close(l->pidfd);
        safe_close(l->group_fd);
        for (size_t i = 0; i < l->n_devices; i++)
                safe_close(l->device_fds[i]);
        free(l->device_fds);
        strv_free(l->device_addresses);
        free(l->owner);
        return mfree(l);
}

static void lease_unlink(Manager *m, Lease *l) {
        for (size_t i = 0; i < m->n_leases; i++)
                if (m->leases[i] == l) {
                        memmove(m->leases + i, m->leases + i + 1, (m->n_leases - i - 1) * sizeof(Lease *));
                        m->n_leases--;
                        return;
                }
}

/* Grant mode: the caller's uid owns the group node (mode 0600) for the life of the lease; root owns
 * it again, 0600 whatever the grantee made of it, on every way a lease ends. */
static int grant_node(Manager *m, uint32_t group, uid_t uid) {
        return vfio_group_node_set_owner(m->dev_root, group, uid);
}

/* A lease that ended while the service manager may still hold its legacy group fd (a group opens
 * only once): the group stays releasing until the store let go, so that the next Acquire can
 * open it. */
typedef struct LeaseEnding {
        struct LeaseEnding *next;
        Manager *manager;
        uint32_t group;
        Removal *removal; /* an Unassign waiting for the group */
        lease_freed_t done; /* the caller that ended the lease (Release) */
        void *userdata;
        StoreBarrier *barrier;
} LeaseEnding;

static void lease_ending_free(LeaseEnding *e) {
        for (LeaseEnding **p = &e->manager->lease_endings; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        lease_store_barrier_free(e->barrier);
        free(e);
}

/* Nothing holds the ended lease's group any more: back to vfio, then tell who ended the lease, and
 * go on with an Unassign that waited. */
static void lease_group_freed(Manager *m, const LeaseEnding *e) {
        Group *g = inventory_get_group(m->inventory, e->group);

        if (g && g->lease == 0 && (g->state == GROUP_LEASED || g->state == GROUP_RELEASING))
                inventory_set_group_state(m->inventory, g, GROUP_VFIO);
        if (e->done)
                e->done(m, e->userdata);
        if (e->removal)
                remove_lease_ended(m, e->removal);
}

static void on_store_let_go(StoreBarrier *b, void *userdata) {
        LeaseEnding *e = userdata, copy = *e;

        lease_ending_free(e);
        lease_group_freed(copy.manager, &copy);
}

/* Returns 1 when the group waits for the fd store (e is kept then), 0 when it need not. */
static int lease_wait_for_store(Manager *m, Group *g, const LeaseEnding *ending) {
        LeaseEnding *e = calloc(1, sizeof(LeaseEnding));
        int r;

        if (!e)
                return log_oom();
        *e = *ending;
        r = lease_store_barrier(m->event, on_store_let_go, e, &e->barrier);
        if (r <= 0) {
                free(e);
                if (r < 0)
                        log_warning_errno(r, "Cannot wait for the service manager's fd store: %m");
                return 0;
        }
        e->next = m->lease_endings;
        m->lease_endings = e;
        inventory_set_group_state(m->inventory, g, GROUP_RELEASING);
        return 1;
}

void lease_end(Lease *l, const char *reason) {
        lease_end_then(l, reason, NULL, NULL);
}

void lease_end_then(Lease *l, const char *reason, lease_freed_t done, void *userdata) {
        Manager *m = l->manager;
        _cleanup_free_ char *path = NULL;
        Group *g = inventory_get_group(m->inventory, l->group);
        LeaseEnding ending = { .manager = m, .group = l->group, .done = done, .userdata = userdata };
        bool group_fd_stored = l->group_fd >= 0; /* handed to the fd store with the lease */

        log_info("Lease %u of IOMMU group %" PRIu32 " ends: %s.", l->id, l->group, reason);
        if (m->bus && lease_bus_path(l, &path) >= 0)
                (void) sd_bus_emit_object_removed(m->bus, path);
        lease_unlink(m, l);

        if (l->grant && grant_node(m, l->group, 0) < 0)
                log_warning("Cannot take /dev/vfio/%" PRIu32 " back from uid %u.", l->group, (unsigned) l->uid);
        /* Close our references before the container goes, so the group leaves it first. */
        l->group_fd = safe_close(l->group_fd);
        if (l->container)
                container_detach_group(m, l->container, l->group);
        lease_store_drop_fd("lease-group", l->id);
        lease_store_drop_fd("lease-pidfd", l->id);
        ending.removal = TAKE_PTR(l->removal);
        lease_free(l);
        lease_store_save(m);
        if (g && (g->state == GROUP_LEASED || g->state == GROUP_RELEASING)) {
                g->lease = 0;
                if (group_fd_stored && lease_wait_for_store(m, g, &ending) > 0)
                        return;
        }
        lease_group_freed(m, &ending);
}

int group_held_unnamed(Manager *m, uint32_t group) {
        Lease *l = manager_lease_of_group(m, group);
        Group *g = inventory_get_group(m->inventory, group);
        int r;

        if (l && l->group_fd >= 0)
                r = 0; /* restored with our own copy (older versions kept one): it would answer */
        else
                r = vfio_group_held(m->dev_root, group);
        if (r < 0)
                log_debug_errno(r, "Cannot ask the kernel whether IOMMU group %" PRIu32 " is held: %m", group);
        if (g)
                g->held_unnamed = r > 0;
        return r > 0;
}

static bool lease_has_holders(Lease *l) {
        _cleanup_(holders_freep) Holder *holders = NULL;
        Manager *m = l->manager;
        size_t n = 0;

        if (!inventory_get_group(m->inventory, l->group))
                return false;
        if (group_scan_holders(m, l->group, &holders, &n) < 0)
                return true; /* cannot tell: keep the lease rather than lose track of fds */
        if (n > 0)
                return true;
        /* Nothing names the group; the kernel may still know better (a device fd or a BAR mapping
         * kept without the group fd, fds in flight in a socket). */
        if (!group_held_unnamed(m, l->group))
                return false;
        if (!l->held_unnamed)
                log_notice("IOMMU group %" PRIu32
                           " of lease %u is held by something vfiod cannot name; the lease stays.",
                           l->group, l->id);
        l->held_unnamed = true;
        return true;
}

static int on_holder_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Lease *l = userdata;

        /* A time source fires once: look again in a second, until nobody holds the group. */
        if (lease_has_holders(l)) {
                int r = sd_event_source_set_time_relative(s, HOLDER_POLL_USEC);
                return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        lease_end(l, l->released ? "it was released and nobody holds the group any more"
                                 : "its owner left and nobody holds the group any more");
        return 0;
}

/* Looks every second whether anything still holds the group, and ends the lease when nothing does. */
static int lease_wait_for_holders(Lease *l) {
        if (l->holder_timer)
                return 0;
        return sd_event_add_time_relative(l->manager->event, &l->holder_timer, CLOCK_MONOTONIC, HOLDER_POLL_USEC, 0,
                                          on_holder_timer, l);
}

static void on_owner_gone(void *userdata) {
        Lease *l = userdata;
        int r;

        /* The owner does not come back: stop watching, so that this runs once. */
        l->owner_watch = owner_watch_free(l->owner_watch);
        log_info("The owner %s of %slease %u is gone.", l->owner, l->restored ? "restored " : "", l->id);
        if (l->holder_timer)
                return;
        if (!lease_has_holders(l)) {
                lease_end(l, "its owner left the bus");
                return;
        }
        log_info("The owner of lease %u left the bus; its fds are still held, waiting for them.", l->id);
        r = lease_wait_for_holders(l);
        if (r < 0) {
                log_error_errno(r, "Cannot watch the holders of lease %u, ending it: %m", l->id);
                lease_end(l, "it cannot be watched");
        }
}

/* Released, but processes still hold the group (the owner itself, or a child that outlived its
 * command): nobody else may have the group while they can use it, and an Unassign now would
 * block in the kernel. The lease stays, releasing, until nothing holds the group; its owner no
 * longer counts, and a grantee's node is root's again at once. */
static void lease_mark_released(Lease *l) {
        Manager *m = l->manager;
        Group *g = inventory_get_group(m->inventory, l->group);

        l->released = true;
        l->owner_watch = owner_watch_free(l->owner_watch);
        if (l->grant && grant_node(m, l->group, 0) < 0)
                log_warning("Cannot take /dev/vfio/%" PRIu32 " back from uid %u.", l->group, (unsigned) l->uid);
        if (!l->removal) /* an Unassign's deadline stays on show */
                l->deadline_usec = 0;
        l->state = LEASE_RELEASING;
        if (g && g->state == GROUP_LEASED)
                inventory_set_group_state(m->inventory, g, GROUP_RELEASING);
        lease_bus_emit_changed(m, l);
}

void lease_release(Lease *l, lease_freed_t done, void *userdata) {
        Manager *m = l->manager;
        int r;

        if (l->released) {
                done(m, userdata);
                return;
        }
        if (!lease_has_holders(l)) {
                lease_end_then(l, "released", done, userdata);
                return;
        }
        r = lease_wait_for_holders(l);
        if (r < 0) {
                log_error_errno(r, "Cannot watch the holders of lease %u: %m", l->id);
                lease_end_then(l, "released", done, userdata);
                return;
        }
        lease_mark_released(l);
        lease_store_save(m);
        log_info("Lease %u of IOMMU group %" PRIu32 " is released; processes still hold the group, waiting for them.",
                 l->id, l->group);
        done(m, userdata);
}

static int open_group_interface(Lease *l, Group *g, const AcquireRequest *req, char **ret_message) {
        Manager *m = l->manager;
        int r;

        l->group_fd = vfio_open_group(m->dev_root, g->id);
        if (l->group_fd == -EBUSY)
                return set_error_message(ret_message, -EBUSY,
                                         "IOMMU group %" PRIu32 " is held open by a process vfiod does not know.",
                                         g->id);
        if (l->group_fd == -EXDEV)
                return set_error_message(ret_message, -EXDEV, "IOMMU group %" PRIu32 " is not viable.", g->id);
        if (l->group_fd < 0)
                return set_error_message(ret_message, l->group_fd, "Cannot open /dev/vfio/%" PRIu32 ": %s", g->id,
                                         strerror(-l->group_fd));
        r = container_attach_vfio_group(m, req->owner, req->sharing_key, g->id, l->group_fd, &l->container);
        if (r == -EOPNOTSUPP)
                return set_error_message(ret_message, r,
                                         "The kernel offers no usable IOMMU model for IOMMU group %" PRIu32 ".", g->id);
        if (r < 0)
                return set_error_message(ret_message, r, "Cannot set up a container for IOMMU group %" PRIu32 ": %s",
                                         g->id, strerror(-r));
        return 0;
}

static int open_iommufd_interface(Lease *l, Group *g, const AcquireRequest *req, char **ret_message) {
        Manager *m = l->manager;
        int r;

        l->device_fds = calloc(g->n_devices ?: 1, sizeof(int));
        l->device_addresses = calloc(g->n_devices + 1, sizeof(char *));
        if (!l->device_fds || !l->device_addresses)
                return -ENOMEM;
        FOREACH_ARRAY(i, g->devices, g->n_devices) {
                Device *d = *i;
                int fd;

                if (device_is_bridge(d))
                        continue;
                fd = vfio_open_device_cdev(m->sysfs_root, m->dev_root, d->address);
                if (fd < 0)
                        return set_error_message(ret_message, fd == -EBUSY ? -EBUSY : -EOPNOTSUPP,
                                                 "Cannot open the VFIO cdev of %s: %s", d->address, strerror(-fd));
                l->device_fds[l->n_devices] = fd;
                l->device_addresses[l->n_devices] = strdup(d->address);
                l->n_devices++;
                if (!l->device_addresses[l->n_devices - 1])
                        return -ENOMEM;
        }
        r = container_attach_iommufd_group(m, req->owner, req->sharing_key, g->id, &l->container);
        if (r < 0)
                return set_error_message(ret_message, r, "Cannot open /dev/iommu: %s", strerror(-r));
        return 0;
}

static int check_leasable(Group *g, char **ret_message) {
        switch (g->state) {
        case GROUP_VFIO:
                return 0;
        case GROUP_HOST:
                return set_error_message(ret_message, -ENOTCONN,
                                         "IOMMU group %" PRIu32 " is not assigned to vfio (vfioctl assign).", g->id);
        case GROUP_LEASED:
        case GROUP_RELEASING:
                if (g->lease == 0) /* Unassign waits for processes that hold it (remove.c) */
                        return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is being taken back.",
                                                 g->id);
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is leased already.", g->id);
        case GROUP_WEDGED:
                return set_error_message(ret_message, -ENOTRECOVERABLE, "IOMMU group %" PRIu32 " is wedged.", g->id);
        default:
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is being moved.", g->id);
        }
}

static int lease_open(Lease *l, Group *g, const AcquireRequest *req, char **ret_message) {
        Manager *m = l->manager;
        LeaseInterface iface = req->interface;
        int r;

        if (iface == LEASE_INTERFACE_AUTO)
                iface = vfio_have_iommufd(m->sysfs_root, m->dev_root) && !req->grant ? LEASE_INTERFACE_IOMMUFD
                                                                                     : LEASE_INTERFACE_GROUP;
        if (iface == LEASE_INTERFACE_IOMMUFD && !vfio_have_iommufd(m->sysfs_root, m->dev_root))
                return set_error_message(ret_message, -EOPNOTSUPP, "This kernel has no iommufd.");
        if (req->grant && iface == LEASE_INTERFACE_IOMMUFD)
                return set_error_message(ret_message, -EOPNOTSUPP,
                                         "Grant mode gives access to /dev/vfio/N, the group interface; "
                                         "iommufd clients take fds.");
        if (req->grant) {
                r = grant_node(m, g->id, req->uid);
                if (r < 0)
                        return set_error_message(ret_message, r, "Cannot grant /dev/vfio/%" PRIu32 ": %s", g->id,
                                                 strerror(-r));
                l->grant = true;
                return 0;
        }
        return iface == LEASE_INTERFACE_IOMMUFD ? open_iommufd_interface(l, g, req, ret_message)
                                                : open_group_interface(l, g, req, ret_message);
}

static int lease_watch_owner(Lease *l) {
        if (!l->manager->bus)
                return 0;
        return owner_watch_new(l->manager->bus, l->owner, on_owner_gone, l, &l->owner_watch);
}

int lease_acquire(Manager *m, Group *g, const AcquireRequest *req, Lease **ret, char **ret_message) {
        _cleanup_free_ char *path = NULL;
        Lease *l, **a;
        int r;

        r = check_leasable(g, ret_message);
        if (r < 0)
                return r;
        l = calloc(1, sizeof(Lease));
        a = reallocarray(m->leases, m->n_leases + 1, sizeof(Lease *));
        if (!l || !a) {
                free(l);
                return -ENOMEM;
        }
        m->leases = a;
        *l = (Lease){ .manager = m, .group = g->id, .uid = req->uid, .pid = req->pid, .group_fd = -EBADF };
        /* The owner's process as pinned when its credentials were first fetched: a pidfd never
         * names a recycled pid, and a pid that did not name the caller's process is 0. */
        l->pidfd = req->pidfd >= 0 ? fcntl(req->pidfd, F_DUPFD_CLOEXEC, 3) : -EBADF;
        if (l->pidfd < 0) {
                l->pidfd = -EBADF;
                l->pid = 0;
        }
        l->owner = strdup(req->owner);
        r = l->owner ? lease_open(l, g, req, ret_message) : -ENOMEM;
        if (r >= 0)
                r = lease_watch_owner(l);
        if (r < 0) {
                if (l->grant)
                        (void) grant_node(m, g->id, 0);
                if (l->container) {
                        l->group_fd = safe_close(l->group_fd);
                        container_detach_group(m, l->container, g->id);
                }
                lease_free(l);
                return r;
        }

        l->id = ++m->last_lease_id;
        m->leases[m->n_leases++] = l;
        g->lease = l->id;
        inventory_set_group_state(m->inventory, g, GROUP_LEASED);
        /* What a restarted daemon needs to take the lease back (not the group fd: the client's
         * copy is the group's only open file, so that the kernel can say when nobody holds it). */
        lease_store_push_fd("lease-pidfd", l->id, l->pidfd);
        lease_store_save(m);
        if (m->bus && lease_bus_path(l, &path) >= 0)
                (void) sd_bus_emit_object_added(m->bus, path);
        log_info("Lease %u: IOMMU group %" PRIu32 " to %s (uid %u, pid %d)%s.", l->id, g->id, l->owner,
                 (unsigned) l->uid, (int) l->pid, l->grant ? ", access granted to /dev/vfio" : "");
        *ret = l;
        return 0;
}

static int lease_record_copy(Lease *l, const LeaseRecord *rec) {
        l->owner = strdup(rec->owner);
        if (!l->owner)
                return -ENOMEM;
        for (char **a = rec->device_addresses; a && *a; a++)
                l->n_devices++;
        l->device_fds = calloc(l->n_devices ?: 1, sizeof(int));
        l->device_addresses = calloc(l->n_devices + 1, sizeof(char *));
        if (!l->device_fds || !l->device_addresses)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_devices; i++) {
                l->device_fds[i] = -EBADF;
                l->device_addresses[i] = strdup(rec->device_addresses[i]);
                if (!l->device_addresses[i])
                        return -ENOMEM;
        }
        return 0;
}

int lease_restore(Manager *m, const LeaseRecord *rec, int group_fd, int pidfd) {
        Group *g = inventory_get_group(m->inventory, rec->group);
        Lease *l, **a;
        int r;

        /* Only a group still claimed and on vfio can be leased; anything else means the lease
         * cannot be what it was (the group went, or was never taken back after a reboot). */
        if (!g || g->state != GROUP_VFIO || manager_get_lease(m, rec->id) ||
            (rec->container != 0 && !manager_get_container(m, rec->container))) {
                safe_close(group_fd);
                safe_close(pidfd);
                lease_store_drop_fd("lease-group", rec->id);
                lease_store_drop_fd("lease-pidfd", rec->id);
                if (rec->grant && g && !manager_lease_of_group(m, g->id))
                        (void) grant_node(m, g->id, 0);
                return -ESTALE;
        }
        l = calloc(1, sizeof(Lease));
        a = reallocarray(m->leases, m->n_leases + 1, sizeof(Lease *));
        if (a)
                m->leases = a;
        if (!l || !a) {
                free(l);
                safe_close(group_fd);
                safe_close(pidfd);
                return -ENOMEM;
        }
        *l = (Lease){ .manager = m,
                      .id = rec->id,
                      .group = g->id,
                      .uid = rec->uid,
                      .pid = rec->pid,
                      .pidfd = pidfd,
                      .group_fd = group_fd,
                      .grant = rec->grant,
                      .released = rec->released,
                      .state = rec->released ? LEASE_RELEASING : LEASE_ACTIVE,
                      .restored = true };
        r = lease_record_copy(l, rec);
        if (r >= 0 && rec->container != 0) {
                l->container = manager_get_container(m, rec->container);
                r = container_add_restored_group(m, l->container, g->id);
        }
        if (r < 0) {
                l->container = NULL;
                lease_free(l);
                return r;
        }
        m->leases[m->n_leases++] = l;
        if (l->id > m->last_lease_id)
                m->last_lease_id = l->id;
        g->lease = l->id;
        inventory_set_group_state(m->inventory, g, l->released ? GROUP_RELEASING : GROUP_LEASED);
        log_info("Lease %u: IOMMU group %" PRIu32 " of %s (uid %u, pid %d) restored%s%s.", l->id, g->id, l->owner,
                 (unsigned) l->uid, (int) l->pid, l->released ? ", released" : "",
                 group_fd >= 0 || l->grant || l->n_devices > 0 ? "" : " without its fds");
        return 0;
}

void leases_watch_restored_owners(Manager *m) {
        /* Backwards: an owner that cannot be watched may end its lease, which removes it from the
         * array. One gone meanwhile is reported by its watch, from the loop. */
        for (size_t i = m->n_leases; i > 0; i--) {
                Lease *l = m->leases[i - 1];
                int r;

                if (l->owner_watch || l->holder_timer)
                        continue;
                if (l->released) { /* its owner no longer counts: only its holders */
                        r = lease_wait_for_holders(l);
                        if (r < 0)
                                lease_end(l, "it cannot be watched");
                        continue;
                }
                r = lease_watch_owner(l);
                if (r < 0) {
                        log_info_errno(r, "Cannot watch the owner %s of restored lease %u: %m", l->owner, l->id);
                        on_owner_gone(l);
                }
        }
}

void lease_drop_client_fds(Lease *l) {
        for (size_t i = 0; i < l->n_devices; i++)
                l->device_fds[i] = safe_close(l->device_fds[i]);
        l->group_fd = safe_close(l->group_fd);
}

void leases_free_all(Manager *m) {
        FOREACH_ARRAY(l, m->leases, m->n_leases) {
                removal_free((*l)->removal);
                lease_free(*l);
        }
        while (m->lease_endings) { /* stopping: the lease ended all the same */
                LeaseEnding *e = m->lease_endings;
                if (e->done)
                        e->done(m, e->userdata);
                removal_free(e->removal);
                lease_ending_free(e);
        }
        m->leases = mfree(m->leases);
        m->n_leases = 0;
}

/* A re-authorization in flight; the lease is looked up again by id when the answer comes. */
typedef struct Reauthorization {
        Manager *manager;
        unsigned lease;
        uint32_t group;
        char address[PCI_ADDRESS_MAX];
} Reauthorization;

static void reauthorization_finish(Manager *m, const Reauthorization *a, int r) {
        _cleanup_free_ char *reason = NULL;
        Lease *l = manager_get_lease(m, a->lease);

        if (!l || l->group != a->group)
                return; /* ended meanwhile */
        if (r >= 0) {
                log_info("Lease %u: its owner may have IOMMU group %" PRIu32 " with %s as well.", l->id, l->group,
                         a->address);
                return;
        }
        if (asprintf(&reason, "device %s joined the group, and the owner may not have it", a->address) < 0)
                reason = NULL;
        log_notice("Lease %u of IOMMU group %" PRIu32 ": %s; revoking the lease.", l->id, l->group, strempty(reason));
        (void) remove_revoke(m, l, reason ?: "device-added");
}

static void on_reauthorized(Manager *m, int r, void *userdata) {
        Reauthorization *a = userdata;

        reauthorization_finish(m, a, r);
        free(a);
}

void lease_reauthorize(Lease *l, const char *address) {
        Manager *m = l->manager;
        Group *g = inventory_get_group(m->inventory, l->group);
        Reauthorization *a;
        int r;

        if (!g)
                return;
        a = calloc(1, sizeof(Reauthorization));
        if (!a) {
                log_oom();
                return;
        }
        *a = (Reauthorization){ .manager = m, .lease = l->id, .group = l->group };
        strncpy(a->address, address, sizeof(a->address) - 1);
        log_notice("Device %s joined leased IOMMU group %" PRIu32 ": asking whether the owner of lease %u may have it.",
                   address, l->group, l->id);
        r = authorize_owner_async(m, l->owner, l->uid, POLICY_ACQUIRE, g, on_reauthorized, a);
        if (r == 0)
                return; /* polkit answers later */
        reauthorization_finish(m, a, r > 0 ? 0 : -EACCES);
        free(a);
}
