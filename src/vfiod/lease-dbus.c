/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the org.vfiod1.Lease objects, views of the lease table. */

#include <inttypes.h>
#include <stdarg.h>

#include "authorize.h"
#include "lease.h"
#include "log.h"
#include "manager-dbus.h"
#include "vfiod-error.h"

int lease_bus_path(const Lease *l, char **ret) {
        return asprintf(ret, VFIOD_LEASE_PATH_PREFIX "/%u", l->id) < 0 ? -ENOMEM : 0;
}

static int lease_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                             sd_bus_error *error) {
        Manager *m = userdata;
        uint32_t id;
        Lease *l;
        int r;

        r = bus_path_decode_id(path, VFIOD_LEASE_PATH_PREFIX, &id);
        if (r <= 0)
                return r;
        l = manager_get_lease(m, id);
        if (!l)
                return 0;
        *found = l;
        return 1;
}

static int lease_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **l = calloc(m->n_leases + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_leases; i++)
                if (lease_bus_path(m->leases[i], &l[i]) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

static int property_get_id(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Lease *l = userdata;
        char id[16];

        snprintf(id, sizeof(id), "%u", l->id);
        return sd_bus_message_append(reply, "s", id);
}

static int property_get_groups(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Lease *l = userdata;
        return sd_bus_message_append(reply, "au", 1, l->group);
}

static int property_get_container(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *p = NULL;
        Lease *l = userdata;
        int r;

        if (!l->container)
                return sd_bus_message_append(reply, "o", "/");
        r = container_bus_path(l->container, &p);
        if (r < 0)
                return r;
        return sd_bus_message_append(reply, "o", p);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Lease *l = userdata;
        return sd_bus_message_append(reply, "s", lease_state_to_string(l->state));
}

static int property_get_access(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Lease *l = userdata;
        return sd_bus_message_append(reply, "s", l->grant ? "grant" : "fd");
}

/* A Release by somebody else than the owner, waiting for polkit. The lease is looked up again by
 * id when the answer comes: it may have ended meanwhile. */
typedef struct ReleaseCall {
        sd_bus_message *message;
        unsigned lease;
} ReleaseCall;

/* The reply to Release comes once the group can be acquired again, so that a client may Acquire
 * right after it; or at once when processes still hold the group (the caller may be one of them),
 * the lease "releasing" until they let go. */
static void on_released(Manager *m, void *userdata) {
        sd_bus_message *message = userdata;
        int r;

        r = sd_bus_reply_method_return(message, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot answer Release: %m");
        sd_bus_message_unref(message);
}

static void release(Lease *l, sd_bus_message *message) {
        lease_release(l, on_released, sd_bus_message_ref(message));
}

static void release_call_finish(Manager *m, ReleaseCall *c, int r) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        Lease *l = manager_get_lease(m, c->lease);

        if (r < 0) {
                vfiod_error_set(&e, -EACCES,
                                "Only the owner of lease %u, root or a manager of the group may release it.", c->lease);
                r = sd_bus_reply_method_error(c->message, &e);
                if (r < 0)
                        log_debug_errno(r, "Cannot answer Release of lease %u: %m", c->lease);
        } else if (l)
                release(l, c->message);
        else if (sd_bus_reply_method_return(c->message, NULL) < 0) /* ended meanwhile: done */
                log_debug("Cannot answer Release of lease %u.", c->lease);
        sd_bus_message_unref(c->message);
        free(c);
}

static void on_release_authorized(Manager *m, int r, void *userdata) {
        release_call_finish(m, userdata, r);
}

static int method_release(sd_bus_message *message, void *userdata, sd_bus_error *error);

/* Release by somebody else than the owner, once the caller's identity is known: the lease may
 * have ended meanwhile (then there is nothing left to release). */
static int resume_release(Manager *m, sd_bus_message *message, sd_bus_error *error) {
        Lease *l = NULL;
        uint32_t id;

        if (bus_path_decode_id(sd_bus_message_get_path(message), VFIOD_LEASE_PATH_PREFIX, &id) > 0)
                l = manager_get_lease(m, id);
        if (!l)
                return sd_bus_reply_method_return(message, NULL);
        return method_release(message, l, error);
}

/* The owner may end its lease; so may an admin: root, a manage rule for the group, or polkit's
 * org.vfiod1.manage (asked without blocking). */
static int method_release(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Lease *l = userdata;
        Manager *m = l->manager;
        Group *g = inventory_get_group(m->inventory, l->group);
        ReleaseCall *c;
        int r;

        if (streq_ptr(sd_bus_message_get_sender(message), l->owner)) {
                release(l, message);
                return 1;
        }
        r = caller_identity_ready(m, message, resume_release);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!g) {
                r = bus_sender_is_root(m, message);
                if (r < 0)
                        return r;
                if (r == 0)
                        return vfiod_error_set(error, -EACCES, "Only the owner of lease %u or root may release it.",
                                               l->id);
                release(l, message);
                return 1;
        }
        c = calloc(1, sizeof(ReleaseCall));
        if (!c)
                return -ENOMEM;
        c->message = sd_bus_message_ref(message);
        c->lease = l->id;
        r = authorize_async(m, message, POLICY_MANAGE, g, on_release_authorized, c);
        if (r != 0)
                release_call_finish(m, c, r > 0 ? 0 : r);
        return 1;
}

static const sd_bus_vtable lease_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Groups", "au", property_get_groups, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Owner", "s", NULL, offsetof(Lease, owner), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Uid", "u", NULL, offsetof(Lease, uid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Pid", "u", NULL, offsetof(Lease, pid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Container", "o", property_get_container, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Access", "s", property_get_access, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DeadlineUSec", "t", NULL, offsetof(Lease, deadline_usec), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Release", NULL, NULL, method_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ReleaseRequested", SD_BUS_ARGS("s", reason, "t", deadline_usec), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Revoked", SD_BUS_ARGS("s", reason), 0),
        SD_BUS_VTABLE_END,
};

int lease_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, VFIOD_LEASE_PATH_PREFIX, "org.vfiod1.Lease", lease_vtable,
                                       lease_object_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, VFIOD_LEASE_PATH_PREFIX, lease_node_enumerator, m);
}

void lease_bus_emit_changed(Manager *m, Lease *l) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (!m->bus)
                return;
        r = lease_bus_path(l, &path);
        if (r >= 0)
                r = sd_bus_emit_properties_changed(m->bus, path, "org.vfiod1.Lease", "State", "DeadlineUSec", NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot announce changes of lease %u: %m", l->id);
}

/* Lease signals go to the owner alone, as logind's PauseDevice goes to the session controller. */
static int send_to_owner(Lease *l, const char *member, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *path = NULL;
        va_list ap;
        int r;

        if (!l->manager->bus)
                return 0;
        r = lease_bus_path(l, &path);
        if (r >= 0)
                r = sd_bus_message_new_signal(l->manager->bus, &m, path, "org.vfiod1.Lease", member);
        if (r >= 0)
                r = sd_bus_message_set_destination(m, l->owner);
        if (r < 0)
                return r;
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return sd_bus_send(l->manager->bus, m, NULL);
}

void lease_send_release_requested(Lease *l, const char *reason, uint64_t deadline_usec) {
        int r = send_to_owner(l, "ReleaseRequested", "st", reason, deadline_usec);
        if (r < 0)
                log_warning_errno(r, "Cannot ask the owner of lease %u to release it: %m", l->id);
}

void lease_send_revoked(Lease *l, const char *reason) {
        int r = send_to_owner(l, "Revoked", "s", reason);
        if (r < 0)
                log_debug_errno(r, "Cannot tell the owner of lease %u it is revoked: %m", l->id);
}
