/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the client side of Acquire and of Lease objects: the fds that come with a lease, Release, and the
 * owner's ReleaseRequested and Revoked signals. */

#include <errno.h>
#include <fcntl.h>

#include "client-internal.h"

/* Above stdin, stdout and stderr, so that a child that gets them never mistakes one for another. */
#define LEASE_FD_MIN 3

#define BUS_DRIVER "org.freedesktop.DBus"

/* The lease as the library keeps it: what the caller sees first, then the signal subscription. */
typedef struct Lease {
        VfiodLease public;

        sd_bus_slot *slot_release_requested;
        sd_bus_slot *slot_revoked;
        sd_bus_slot *slot_owner_changed;
        char *daemon; /* the unique name that owns org.vfiod1 now; NULL while nobody does */
        VfiodLeaseHandlers handlers;
        void *userdata;
} Lease;

static Lease *lease_from_public(VfiodLease *l) {
        return (Lease *) l; /* public is the first member */
}

static void lease_fd_done(VfiodLeaseFd *f) {
        free(f->name);
        f->fd = safe_close(f->fd);
}

void vfiod_lease_close_fds(VfiodLease *lease) {
        if (!lease)
                return;
        for (size_t i = 0; i < lease->n_fds; i++)
                lease->fds[i].fd = safe_close(lease->fds[i].fd);
}

VfiodLease *vfiod_lease_free(VfiodLease *lease) {
        Lease *l = lease_from_public(lease);

        if (!lease)
                return NULL;
        sd_bus_slot_unref(l->slot_release_requested);
        sd_bus_slot_unref(l->slot_revoked);
        sd_bus_slot_unref(l->slot_owner_changed);
        free(l->daemon);
        for (size_t i = 0; i < lease->n_fds; i++)
                lease_fd_done(&lease->fds[i]);
        free(lease->fds);
        free(lease->groups);
        free(lease->container);
        free(lease->path);
        free(l);
        return NULL;
}

int vfiod_lease_fd(const VfiodLease *lease, const char *name) {
        for (size_t i = 0; i < lease->n_fds; i++)
                if (streq(lease->fds[i].name, name) && lease->fds[i].fd >= 0)
                        return lease->fds[i].fd;
        return -ENOENT;
}

static int append_options(sd_bus_message *m, const VfiodAcquireOptions *o) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && o && o->container)
                r = sd_bus_message_append(m, "{sv}", "container", "s", o->container);
        if (r >= 0 && o && o->interface)
                r = sd_bus_message_append(m, "{sv}", "interface", "s", o->interface);
        if (r >= 0 && o && o->grant)
                r = sd_bus_message_append(m, "{sv}", "access", "s", "grant");
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

/* The reply's fds are closed with the reply: keep duplicates, numbered from 3 up. */
static int read_fds(sd_bus_message *reply, VfiodLease *lease) {
        const char *name;
        int fd, r;

        r = sd_bus_message_enter_container(reply, 'a', "{sh}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "{sh}", &name, &fd)) > 0) {
                VfiodLeaseFd *a;
                int copy;

                copy = fcntl(fd, F_DUPFD_CLOEXEC, LEASE_FD_MIN);
                if (copy < 0)
                        return negative_errno();

                a = reallocarray(lease->fds, lease->n_fds + 1, sizeof(VfiodLeaseFd));
                if (!a) {
                        safe_close(copy);
                        return -ENOMEM;
                }
                lease->fds = a;
                a[lease->n_fds] = (VfiodLeaseFd){ .name = strdup(name), .fd = copy };
                lease->n_fds++;
                if (!a[lease->n_fds - 1].name)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(reply);
}

static int read_properties(sd_bus *bus, VfiodLease *lease, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *container;
        const void *groups;
        size_t size;
        int r;

        r = sd_bus_get_property(bus, VFIOD_SERVICE, lease->path, VFIOD_LEASE_INTERFACE, "Groups", error, &reply, "au");
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(reply, 'u', &groups, &size);
        if (r < 0)
                return r;
        if (size > 0) {
                lease->groups = malloc(size);
                if (!lease->groups)
                        return -ENOMEM;
                memcpy(lease->groups, groups, size);
        }
        lease->n_groups = size / sizeof(uint32_t);

        /* An object path: sd_bus_get_property_string() would insist on type "s". */
        reply = sd_bus_message_unref(reply);
        r = sd_bus_get_property(bus, VFIOD_SERVICE, lease->path, VFIOD_LEASE_INTERFACE, "Container", error, &reply,
                                "o");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &container);
        if (r < 0)
                return r;
        lease->container = strdup(container);
        return lease->container ? 0 : -ENOMEM;
}

int vfiod_acquire(sd_bus *bus, const char *target, const VfiodAcquireOptions *o, sd_bus_error *error,
                  VfiodLease **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_(vfiod_lease_freep) VfiodLease *lease = NULL;
        const char *path;
        Lease *l;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, VFIOD_SERVICE, VFIOD_PATH, VFIOD_MANAGER_INTERFACE, "Acquire");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", target);
        if (r >= 0)
                r = append_options(call, o);
        if (r < 0)
                return r;

        /* An Acquire may have to set up a container in the kernel, but never moves drivers. */
        r = sd_bus_call(bus, call, 0, error, &reply);
        if (r < 0)
                return r;

        l = calloc(1, sizeof(Lease));
        if (!l)
                return -ENOMEM;
        lease = &l->public;

        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        lease->path = strdup(path);
        if (!lease->path)
                return -ENOMEM;

        r = read_fds(reply, lease);
        if (r >= 0)
                r = read_properties(bus, lease, error);
        if (r < 0) {
                /* We hold a lease we cannot use: give it back rather than leave it to the disconnect. The
                 * first error is the one to report. */
                (void) vfiod_lease_release(bus, lease, NULL);
                return r;
        }

        *ret = TAKE_PTR(lease);
        return 0;
}

int vfiod_lease_release(sd_bus *bus, const VfiodLease *lease, sd_bus_error *error) {
        int r;

        r = sd_bus_call_method(bus, VFIOD_SERVICE, lease->path, VFIOD_LEASE_INTERFACE, "Release", error, NULL, NULL);
        return r < 0 ? r : 0;
}

/* Any client may send a signal to our unique name, and the bus delivers it whatever our match rules
 * say (the sender in a match rule names a well-known name sd-bus cannot check here). So a lease signal
 * counts only when the connection that sent it owns org.vfiod1 now. */
static bool sent_by_daemon(const Lease *l, sd_bus_message *m) {
        const char *sender = sd_bus_message_get_sender(m);

        return l->daemon && sender && streq(sender, l->daemon);
}

static int set_daemon(Lease *l, const char *unique_name) {
        char *copy = NULL;

        if (unique_name && unique_name[0] && !(copy = strdup(unique_name)))
                return -ENOMEM;
        free(l->daemon);
        l->daemon = copy;
        return 0;
}

/* NameOwnerChanged(name, old, new): vfiod restarted, stopped or started. Only the bus itself sends it:
 * that name can never be a client's. */
static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Lease *l = userdata;
        const char *sender = sd_bus_message_get_sender(m), *name, *old_owner, *new_owner;

        if (!sender || !streq(sender, BUS_DRIVER))
                return 0;
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, VFIOD_SERVICE))
                return 0;
        /* Out of memory leaves no owner: signals are then ignored, which is the safe side. */
        if (set_daemon(l, new_owner) < 0)
                (void) set_daemon(l, NULL);
        return 0;
}

/* Follows who owns org.vfiod1: the match first, so that no change after the question is missed. */
static int watch_daemon(sd_bus *bus, Lease *l, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        const char *owner;
        int r;

        r = sd_bus_add_match(bus, &slot,
                             "type='signal',sender='" BUS_DRIVER "',path='/org/freedesktop/DBus',"
                             "interface='" BUS_DRIVER "',member='NameOwnerChanged',arg0='" VFIOD_SERVICE "'",
                             on_owner_changed, l);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, BUS_DRIVER, "/org/freedesktop/DBus", BUS_DRIVER, "GetNameOwner", &error, &reply,
                               "s", VFIOD_SERVICE);
        if (r < 0 && !sd_bus_error_has_name(&error, "org.freedesktop.DBus.Error.NameHasNoOwner"))
                return r;
        owner = NULL;
        if (r >= 0 && (r = sd_bus_message_read(reply, "s", &owner)) < 0)
                return r;
        r = set_daemon(l, owner);
        if (r < 0)
                return r;
        *ret_slot = TAKE_PTR(slot);
        return 0;
}

static int on_release_requested(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Lease *l = userdata;
        const char *reason;
        uint64_t deadline;

        if (!sent_by_daemon(l, m))
                return 0;

        /* A malformed signal is not worth failing the caller's loop over; the daemon enforces its
         * deadline whether we heard it or not. */
        if (sd_bus_message_read(m, "st", &reason, &deadline) < 0)
                return 0;
        if (l->handlers.release_requested)
                l->handlers.release_requested(&l->public, reason, deadline, l->userdata);
        return 0;
}

static int on_revoked(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Lease *l = userdata;
        const char *reason;

        if (!sent_by_daemon(l, m))
                return 0;

        if (sd_bus_message_read(m, "s", &reason) < 0)
                reason = "";
        l->public.revoked = true;
        if (l->handlers.revoked)
                l->handlers.revoked(&l->public, reason, l->userdata);
        return 0;
}

int vfiod_lease_watch(sd_bus *bus, VfiodLease *lease, const VfiodLeaseHandlers *handlers, void *userdata) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *requested = NULL, *revoked = NULL, *owner_changed = NULL;
        Lease *l = lease_from_public(lease);
        int r;

        sd_bus_slot_unref(l->slot_owner_changed);
        l->slot_owner_changed = NULL;
        r = watch_daemon(bus, l, &owner_changed);
        if (r < 0)
                return r;
        l->slot_owner_changed = TAKE_PTR(owner_changed);

        /* The signals are sent to the owner alone, so they reach us whether or not the bus has our match;
         * one that came before the match was added waits in the queue and is dispatched after it. */
        r = sd_bus_match_signal(bus, &requested, VFIOD_SERVICE, lease->path, VFIOD_LEASE_INTERFACE, "ReleaseRequested",
                                on_release_requested, l);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, &revoked, VFIOD_SERVICE, lease->path, VFIOD_LEASE_INTERFACE, "Revoked", on_revoked,
                                l);
        if (r < 0)
                return r;

        sd_bus_slot_unref(l->slot_release_requested);
        sd_bus_slot_unref(l->slot_revoked);
        l->slot_release_requested = TAKE_PTR(requested);
        l->slot_revoked = TAKE_PTR(revoked);
        l->handlers = handlers ? *handlers : (VfiodLeaseHandlers){};
        l->userdata = userdata;
        return 0;
}
