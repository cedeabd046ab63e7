/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: org.vfiod1.Manager, the object manager, and turning inventory changes into signals. */

#include <fcntl.h>
#include <inttypes.h>

#include "assign.h"
#include "authorize.h"
#include "lease.h"
#include "log.h"
#include "manager-dbus.h"
#include "options-dbus.h"
#include "remove.h"
#include "vfiod-error.h"

#define REMOVE_TIMEOUT_MAX_USEC (UINT64_C(86400) * 1000000)
#define NAME_RETRIES            50
#define NAME_RETRY_USEC         (100 * 1000)

/* Every method that names a target reads it and its a{sv} options first. */
static int read_target_and_options(sd_bus_message *message, const OptionSpec *specs, size_t n, const char **ret_target,
                                   sd_bus_error *error) {
        int r;

        r = sd_bus_message_read(message, "s", ret_target);
        if (r < 0)
                return r;
        return bus_parse_options(message, specs, n, error);
}

int bus_path_decode_id(const char *path, const char *prefix, uint32_t *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = sd_bus_path_decode(path, prefix, &text);
        if (r <= 0)
                return r;
        return group_id_parse(text, ret) < 0 ? 0 : 1;
}

int bus_sender_is_root(Manager *m, sd_bus_message *message) {
        const CallerIdentity *id;
        int r;

        r = caller_identity(m, message, &id);
        if (r < 0)
                return r;
        return id->uid == 0;
}

/* A target is a group id or a device address (meaning its group). */
static int resolve_target(Manager *m, const char *target, Group **ret, sd_bus_error *error) {
        Target t;
        Device *d;

        if (target_parse(target, &t) < 0)
                return vfiod_error_set(error, -EINVAL, "'%s' is neither an IOMMU group id nor a PCI address.", target);
        if (t.kind == TARGET_GROUP) {
                *ret = manager_get_live_group(m, t.group);
                if (!*ret)
                        return vfiod_error_set(error, -ENOENT, "No IOMMU group %" PRIu32 ".", t.group);
                return 0;
        }
        d = manager_get_live_device(m, t.address);
        if (!d)
                return vfiod_error_set(error, -ENODEV, "No PCI device %s in any IOMMU group.", t.address);
        *ret = d->group;
        return 0;
}

typedef enum CallKind {
        CALL_ASSIGN,
        CALL_UNASSIGN,
        CALL_ACQUIRE,
} CallKind;

/* A method call whose reply waits: for polkit, for a move, or both. */
typedef struct PendingCall {
        sd_bus_message *message; /* keeps the strings in acquire alive */
        CallKind kind;
        uint32_t group;
        AssignOptions assign;
        UnassignOptions unassign;
        RemoveMode remove_mode;
        uint64_t remove_timeout_usec;
        AcquireRequest acquire;
} PendingCall;

static PendingCall *pending_call_new(sd_bus_message *message, CallKind kind, uint32_t group) {
        PendingCall *p = calloc(1, sizeof(PendingCall));

        if (!p)
                return NULL;
        p->message = sd_bus_message_ref(message);
        p->kind = kind;
        p->group = group;
        p->acquire.pidfd = -EBADF;
        return p;
}

static void pending_call_free(PendingCall *p) {
        if (p->kind == CALL_ACQUIRE)
                safe_close(p->acquire.pidfd);
        sd_bus_message_unref(p->message);
        free(p);
}

/* Replies with an error and ends the call. */
static void pending_call_fail(PendingCall *p, int error, const char *message) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        vfiod_error_set(&e, error, "%s", message ?: strerror(-error));
        if (sd_bus_reply_method_error(p->message, &e) < 0)
                log_debug("Cannot reply to %s (gone?).", strempty(sd_bus_message_get_sender(p->message)));
        pending_call_free(p);
}

static void reply_group_path(PendingCall *p) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = asprintf(&path, VFIOD_GROUP_PATH_PREFIX "/%" PRIu32, p->group) < 0 ? -ENOMEM : 0;
        if (r >= 0)
                r = sd_bus_reply_method_return(p->message, "o", path);
        if (r < 0)
                log_debug_errno(r, "Cannot reply to the caller (gone?): %m");
}

static void on_move_done(Manager *m, uint32_t group, int error, const char *message, void *userdata) {
        PendingCall *p = userdata;

        if (error < 0) {
                pending_call_fail(p, error, message);
                return;
        }
        if (p->kind == CALL_ASSIGN)
                reply_group_path(p);
        else if (sd_bus_reply_method_return(p->message, NULL) < 0)
                log_debug("Cannot reply to the caller (gone?).");
        pending_call_free(p);
}

static int reply_lease(sd_bus_message *message, const Lease *l);

/* The caller is authorized: do it. Replies (now or when the move ends) and frees p. */
static void pending_call_run(Manager *m, PendingCall *p) {
        _cleanup_free_ char *why = NULL;
        Group *g = inventory_get_group(m->inventory, p->group);
        Lease *l;
        int r = -EINVAL;

        if (!g) { /* it went away while polkit thought */
                pending_call_fail(p, -ENOENT, NULL);
                return;
        }
        switch (p->kind) {
        case CALL_ASSIGN:
                r = assign_start(m, g, &p->assign, on_move_done, p, &why);
                break;
        case CALL_UNASSIGN:
                r = remove_start(m, g, p->remove_mode, p->remove_timeout_usec, &p->unassign, on_move_done, p, &why);
                break;
        case CALL_ACQUIRE:
                r = lease_acquire(m, g, &p->acquire, &l, &why);
                if (r >= 0) {
                        r = reply_lease(p->message, l);
                        if (r < 0)
                                log_warning_errno(r, "Cannot send lease %u to its owner: %m", l->id);
                        lease_drop_client_fds(l);
                        pending_call_free(p);
                        return;
                }
                break;
        }
        if (r < 0) {
                log_info("%s of IOMMU group %" PRIu32 " for %s refused: %s",
                         p->kind == CALL_ASSIGN     ? "Assign"
                         : p->kind == CALL_UNASSIGN ? "Unassign"
                                                    : "Acquire",
                         p->group, strempty(sd_bus_message_get_sender(p->message)), strempty(why));
                pending_call_fail(p, r, why);
        } else if (r > 0) { /* done at once: a dry run, or only the persistent assignment forgotten */
                if (p->kind == CALL_ASSIGN)
                        reply_group_path(p);
                else if (sd_bus_reply_method_return(p->message, NULL) < 0)
                        log_debug("Cannot reply to the caller (gone?).");
                pending_call_free(p);
        }
}

static void on_authorized(Manager *m, int r, void *userdata) {
        PendingCall *p = userdata;

        if (r < 0) {
                pending_call_fail(p, -EACCES, "Not authorized.");
                return;
        }
        pending_call_run(m, p);
}

/* Checks the caller, then runs the call; returns what a method handler returns. */
static int authorize_and_run(Manager *m, PendingCall *p, PolicyAction action, Group *g, sd_bus_error *error) {
        int r;

        r = authorize_async(m, p->message, action, g, on_authorized, p);
        if (r < 0) {
                pending_call_free(p);
                return vfiod_error_set(error, -EACCES, "Not allowed to %s IOMMU group %" PRIu32 ".",
                                       action == POLICY_MANAGE ? "change" : "acquire", g->id);
        }
        if (r > 0)
                pending_call_run(m, p);
        return 1;
}

static int method_assign(sd_bus_message *message, void *userdata, sd_bus_error *error);
static int method_unassign(sd_bus_message *message, void *userdata, sd_bus_error *error);
static int method_acquire(sd_bus_message *message, void *userdata, sd_bus_error *error);

/* The methods that authorize, called again once their caller's identity is known (the Manager
 * object lives as long as the daemon). */
static int resume_assign(Manager *m, sd_bus_message *message, sd_bus_error *error) {
        return method_assign(message, m, error);
}

static int resume_unassign(Manager *m, sd_bus_message *message, sd_bus_error *error) {
        return method_unassign(message, m, error);
}

static int resume_acquire(Manager *m, sd_bus_message *message, sd_bus_error *error) {
        return method_acquire(message, m, error);
}

static int method_assign(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        AssignOptions o = {};
        const OptionSpec specs[] = {
                { "persist", 'b', &o.persist },
                { "force", 'b', &o.force },
                { "dry_run", 'b', &o.dry_run },
        };
        Manager *m = userdata;
        const char *target;
        PendingCall *p;
        Group *g;
        int r;

        r = caller_identity_ready(m, message, resume_assign);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = read_target_and_options(message, specs, ELEMENTSOF(specs), &target, error);
        if (r < 0)
                return r;
        r = resolve_target(m, target, &g, error);
        if (r < 0)
                return r;
        if (o.persist && o.force) {
                /* Applied at every start without the safety check: the administrator's decision. */
                r = bus_sender_is_root(m, message);
                if (r < 0)
                        return r;
                if (r == 0)
                        return vfiod_error_set(error, -EACCES,
                                               "Only root may make a forced assignment persistent (it skips the "
                                               "safety check at every start).");
        }
        p = pending_call_new(message, CALL_ASSIGN, g->id);
        if (!p)
                return -ENOMEM;
        p->assign = o;
        return authorize_and_run(m, p, POLICY_MANAGE, g, error);
}

static int method_unassign(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *mode_arg = m->policy->remove_mode;
        uint64_t timeout_usec = m->policy->remove_timeout_usec;
        UnassignOptions o = {};
        const OptionSpec specs[] = {
                { "mode", 's', &mode_arg },
                { "timeout_usec", 't', &timeout_usec },
                { "persist", 'b', &o.persist },
        };
        RemoveMode mode;
        const char *target;
        PendingCall *p;
        Group *g;
        int r;

        r = caller_identity_ready(m, message, resume_unassign);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = read_target_and_options(message, specs, ELEMENTSOF(specs), &target, error);
        if (r < 0)
                return r;
        mode = remove_mode_from_string(mode_arg);
        if (mode < 0)
                return vfiod_error_set(error, -EBADRQC, "Unknown mode '%s' (fail, soft, hard or kill).", mode_arg);
        if (timeout_usec == 0 || timeout_usec > REMOVE_TIMEOUT_MAX_USEC)
                return vfiod_error_set(error, -EBADRQC, "timeout_usec must be more than 0 and at most a day.");
        r = resolve_target(m, target, &g, error);
        if (r < 0)
                return r;
        p = pending_call_new(message, CALL_UNASSIGN, g->id);
        if (!p)
                return -ENOMEM;
        p->unassign = o;
        p->remove_mode = mode;
        p->remove_timeout_usec = timeout_usec;
        return authorize_and_run(m, p, POLICY_MANAGE, g, error);
}

static int append_moves(sd_bus_message *reply, const DeviceMove *moves, size_t n) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append(reply, "(sss)", moves[i].address, strempty(moves[i].from),
                                          strempty(moves[i].to));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Assign's dry run, with the plan: each endpoint's current and new driver, and the verdict (an
 * org.vfiod1.Error name and message, both "" when the assignment would go ahead). */
static int method_plan_assign(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *why = NULL, *path = NULL;
        bool force = false;
        const OptionSpec specs[] = { { "force", 'b', &force } };
        DeviceMove *moves = NULL;
        Manager *m = userdata;
        const char *target;
        size_t n = 0;
        Group *g;
        int r, verdict;

        r = read_target_and_options(message, specs, ELEMENTSOF(specs), &target, error);
        if (r < 0)
                return r;
        r = resolve_target(m, target, &g, error);
        if (r < 0)
                return r;

        verdict = assign_plan(m, g, force, &moves, &n, &why);
        r = group_bus_path(g, &path);
        if (r >= 0)
                r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "o", path);
        if (r >= 0)
                r = append_moves(reply, moves, n);
        if (r >= 0)
                r = sd_bus_message_append(reply, "ss", verdict < 0 ? strempty(vfiod_error_name(verdict)) : "",
                                          verdict < 0 ? strempty(why) : "");
        device_moves_free(moves, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_groups(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(uso)");
        if (r < 0)
                return r;
        FOREACH_ARRAY(i, m->inventory->groups, m->inventory->n_groups) {
                _cleanup_free_ char *path = NULL;
                Group *g = *i;

                r = group_bus_path(g, &path);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "(uso)", g->id, group_state_to_string(g->state), path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_devices(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssuo)");
        if (r < 0)
                return r;
        FOREACH_ARRAY(i, m->inventory->devices, m->inventory->n_devices) {
                _cleanup_free_ char *path = NULL;
                Device *d = *i;

                r = device_bus_path(d, &path);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "(ssuo)", d->address, strempty(d->driver), d->group->id, path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        Manager *m = userdata;
        uint32_t id;
        Group *g;
        int r;

        r = sd_bus_message_read(message, "u", &id);
        if (r < 0)
                return r;
        g = manager_get_live_group(m, id);
        if (!g)
                return vfiod_error_set(error, -ENOENT, "No IOMMU group %" PRIu32 ".", id);
        r = group_bus_path(g, &path);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "o", path);
}

static int method_get_device(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        char address[PCI_ADDRESS_MAX];
        Manager *m = userdata;
        const char *text;
        Device *d;
        int r;

        r = sd_bus_message_read(message, "s", &text);
        if (r < 0)
                return r;
        if (pci_address_parse(text, address) < 0)
                return vfiod_error_set(error, -EINVAL, "'%s' is not a PCI address (DDDD:BB:DD.F).", text);
        d = manager_get_live_device(m, address);
        if (!d)
                return vfiod_error_set(error, -ENODEV, "No PCI device %s in any IOMMU group.", address);
        r = device_bus_path(d, &path);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "o", path);
}

static int append_fd(sd_bus_message *reply, const char *name, int fd) {
        return sd_bus_message_append(reply, "{sh}", name, fd);
}

static int append_lease_fds(sd_bus_message *reply, const Lease *l) {
        int r = 0;

        if (l->grant) /* the client opens the node itself */
                return 0;
        if (l->container->model == IOMMU_IOMMUFD) {
                r = append_fd(reply, "iommufd", l->container->fd);
                for (size_t i = 0; r >= 0 && i < l->n_devices; i++) {
                        _cleanup_free_ char *name = NULL;
                        if (asprintf(&name, "device:%s", l->device_addresses[i]) < 0)
                                return -ENOMEM;
                        r = append_fd(reply, name, l->device_fds[i]);
                }
                return r;
        }
        r = append_fd(reply, "container", l->container->fd);
        if (r >= 0)
                r = append_fd(reply, "group", l->group_fd);
        return r;
}

static int reply_lease(sd_bus_message *message, const Lease *l) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = lease_bus_path(l, &path);
        if (r >= 0)
                r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "o", path);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sh}");
        if (r >= 0)
                r = append_lease_fds(reply, l);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_acquire(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const CallerIdentity *id;
        const char *key = "", *interface = "auto", *access = "fd", *target;
        const OptionSpec specs[] = {
                { "container", 's', &key },
                { "interface", 's', &interface },
                { "access", 's', &access },
        };
        AcquireRequest req = { .pidfd = -EBADF };
        Manager *m = userdata;
        PendingCall *p;
        Group *g;
        int r;

        r = caller_identity_ready(m, message, resume_acquire);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = read_target_and_options(message, specs, ELEMENTSOF(specs), &target, error);
        if (r < 0)
                return r;
        req.interface = lease_interface_from_string(interface);
        if (req.interface < 0)
                return vfiod_error_set(error, -EBADRQC, "Unknown interface '%s' (auto, group or iommufd).", interface);
        if (!streq(access, "fd") && !streq(access, "grant"))
                return vfiod_error_set(error, -EBADRQC, "Unknown access '%s' (fd or grant).", access);
        req.grant = streq(access, "grant");
        req.sharing_key = key;

        r = caller_identity(m, message, &id);
        if (r < 0)
                return r;
        req.uid = id->uid;
        req.pid = id->pid;
        req.owner = sd_bus_message_get_sender(message);
        if (!req.owner)
                return -ENXIO;

        r = resolve_target(m, target, &g, error);
        if (r < 0)
                return r;
        p = pending_call_new(message, CALL_ACQUIRE, g->id);
        if (!p)
                return -ENOMEM;
        /* The identity cache may drop its pidfd while polkit thinks: the call keeps its own. */
        if (id->pidfd >= 0) {
                req.pidfd = fcntl(id->pidfd, F_DUPFD_CLOEXEC, 3);
                if (req.pidfd < 0) {
                        r = negative_errno();
                        pending_call_free(p);
                        return r;
                }
        }
        p->acquire = req;
        return authorize_and_run(m, p, req.grant ? POLICY_GRANT : POLICY_ACQUIRE, g, error);
}

static int property_get_iommu_backends(sd_bus *bus, const char *path, const char *interface, const char *property,
                                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Manager *m = userdata;
        int r;

        r = manager_iommu_backends(m, &l);
        if (r < 0)
                return r;
        return sd_bus_message_append_strv(reply, l);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", VFIOD_VERSION);
}

/* The configured defaults of Unassign. */
static int property_get_remove_mode(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->policy->remove_mode);
}

static int property_get_remove_timeout(sd_bus *bus, const char *path, const char *interface, const char *property,
                                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "t", m->policy->remove_timeout_usec);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RemoveMode", "s", property_get_remove_mode, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RemoveTimeoutUSec", "t", property_get_remove_timeout, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IommuBackends", "as", property_get_iommu_backends, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("ListGroups", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(uso)", groups), method_list_groups,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDevices", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssuo)", devices), method_list_devices,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetGroup", SD_BUS_ARGS("u", id), SD_BUS_RESULT("o", group), method_get_group,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetDevice", SD_BUS_ARGS("s", address), SD_BUS_RESULT("o", device), method_get_device,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Assign", SD_BUS_ARGS("s", target, "a{sv}", options), SD_BUS_RESULT("o", group),
                                method_assign, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unassign", SD_BUS_ARGS("s", target, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_unassign, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Acquire", SD_BUS_ARGS("s", target, "a{sv}", options),
                                SD_BUS_RESULT("o", lease, "a{sh}", fds), method_acquire, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PlanAssign", SD_BUS_ARGS("s", target, "a{sv}", options),
                                SD_BUS_RESULT("o", group, "a(sss)", moves, "s", error, "s", message),
                                method_plan_assign, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static void emit_object(Manager *m, const char *path, bool added) {
        int r;

        if (!path)
                r = -ENOMEM;
        else if (added)
                r = sd_bus_emit_object_added(m->bus, path);
        else
                r = sd_bus_emit_object_removed(m->bus, path);
        if (r < 0)
                log_debug_errno(r, "Cannot announce %s %s: %m", added ? "new object" : "removal of", strempty(path));
}

static void on_inventory_event(Inventory *inv, InventoryEvent event, Group *g, Device *d, void *userdata) {
        _cleanup_free_ char *path = NULL;
        Manager *m = userdata;

        switch (event) {
        case INVENTORY_GROUP_ADDED:
        case INVENTORY_GROUP_REMOVED:
                (void) group_bus_path(g, &path);
                emit_object(m, path, event == INVENTORY_GROUP_ADDED);
                break;
        case INVENTORY_GROUP_CHANGED:
                group_bus_emit_changed(m, g);
                break;
        case INVENTORY_DEVICE_ADDED:
        case INVENTORY_DEVICE_REMOVED:
                (void) device_bus_path(d, &path);
                emit_object(m, path, event == INVENTORY_DEVICE_ADDED);
                break;
        case INVENTORY_DEVICE_CHANGED:
                device_bus_emit_changed(m, d);
                break;
        }
}

/* A predecessor that was killed may still own the name for a moment, until the bus notices
 * its connection is gone; wait for that rather than fail a restart. */
static int request_name(Manager *m) {
        int r;

        for (unsigned attempt = 0;; attempt++) {
                r = sd_bus_request_name(m->bus, VFIOD_BUS_NAME, 0);
                if (r != -EEXIST || attempt >= NAME_RETRIES)
                        break;
                if (attempt == 0)
                        log_notice("The bus name " VFIOD_BUS_NAME " is still taken, waiting for it.");
                (void) usleep(NAME_RETRY_USEC);
        }
        if (r < 0)
                return log_error_errno(r, "Cannot own the bus name " VFIOD_BUS_NAME ": %m");
        return 0;
}

int manager_bus_start(Manager *m) {
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the system bus: %m");
        r = sd_bus_add_object_vtable(m->bus, NULL, VFIOD_OBJECT_PATH, "org.vfiod1.Manager", manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Cannot export the manager: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, VFIOD_OBJECT_PATH);
        if (r < 0)
                return log_error_errno(r, "Cannot export the object manager: %m");
        r = group_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot export the groups: %m");
        r = device_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot export the devices: %m");
        r = lease_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot export the leases: %m");
        r = container_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Cannot export the containers: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop: %m");

        inventory_set_observer(m->inventory, on_inventory_event, m);

        return request_name(m);
}
