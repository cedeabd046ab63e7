/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: vfioctl monitor: vfiod's signals turned into one event each (groups, devices, leases and
 * containers coming and going, state changes, hotplug blocks), against the last known state of
 * every object, across restarts of the daemon. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "log.h"
#include "output.h"
#include "vfioctl.h"
#include "vfiod-error.h"

typedef enum ObjectKind {
        OBJECT_GROUP,
        OBJECT_DEVICE,
        OBJECT_LEASE,
        OBJECT_CONTAINER,
        _OBJECT_KIND_MAX,
        _OBJECT_KIND_INVALID = -EINVAL,
} ObjectKind;

static const char *const object_interfaces[_OBJECT_KIND_MAX] = {
        [OBJECT_GROUP] = VFIOD_GROUP_INTERFACE,
        [OBJECT_DEVICE] = VFIOD_DEVICE_INTERFACE,
        [OBJECT_LEASE] = VFIOD_LEASE_INTERFACE,
        [OBJECT_CONTAINER] = VFIOD_CONTAINER_INTERFACE,
};

static bool isempty(const char *s) {
        return !s || !*s;
}

static ObjectKind object_kind_from_interface(const char *interface) {
        for (int k = 0; k < _OBJECT_KIND_MAX; k++)
                if (streq(object_interfaces[k], interface))
                        return (ObjectKind) k;
        return _OBJECT_KIND_INVALID;
}

/* What we last heard of one of vfiod's objects. Each has exactly one of vfiod's interfaces. */
typedef struct Object {
        ObjectKind kind;
        char *path;
        bool known; /* its properties were read; false for one known only by the path of a signal */
        union {
                VfiodGroup group;
                VfiodDevice device;
                VfiodLeaseInfo lease;
                VfiodContainerInfo container;
        };
} Object;

static Object *object_free(Object *o) {
        if (!o)
                return NULL;
        switch (o->kind) {
        case OBJECT_GROUP:
                vfiod_group_done(&o->group);
                break;
        case OBJECT_DEVICE:
                vfiod_device_done(&o->device);
                break;
        case OBJECT_LEASE:
                vfiod_lease_info_done(&o->lease);
                break;
        case OBJECT_CONTAINER:
                vfiod_container_info_done(&o->container);
                break;
        default:
                break;
        }
        free(o->path);
        return mfree(o);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Object *, object_free);

/* An object as its path alone tells it: a group's id, a device's address. For what was removed
 * before we ever read it. */
static int object_new(ObjectKind kind, const char *path, Object **ret) {
        _cleanup_(object_freep) Object *o = NULL;
        _cleanup_free_ char *name = NULL;

        o = calloc(1, sizeof(Object));
        if (!o)
                return -ENOMEM;
        o->kind = kind;
        o->path = strdup(path);
        if (!o->path)
                return -ENOMEM;

        switch (kind) {
        case OBJECT_GROUP:
                if (sd_bus_path_decode(path, VFIOD_GROUP_PATH_PREFIX, &name) > 0)
                        (void) group_id_parse(name, &o->group.id);
                break;
        case OBJECT_DEVICE:
                if (sd_bus_path_decode(path, VFIOD_DEVICE_PATH_PREFIX, &name) > 0)
                        o->device.address = TAKE_PTR(name);
                break;
        case OBJECT_LEASE:
                o->lease.path = strdup(path);
                if (!o->lease.path)
                        return -ENOMEM;
                break;
        case OBJECT_CONTAINER:
                o->container.path = strdup(path);
                if (!o->container.path)
                        return -ENOMEM;
                break;
        default:
                return -EINVAL;
        }

        *ret = TAKE_PTR(o);
        return 0;
}

static int object_read_properties(Object *o, sd_bus_message *m, bool update) {
        int r;

        switch (o->kind) {
        case OBJECT_GROUP:
                r = vfiod_group_read_properties(m, &o->group, update);
                break;
        case OBJECT_DEVICE:
                r = vfiod_device_read_properties(m, &o->device, update);
                break;
        case OBJECT_LEASE:
                r = vfiod_lease_info_read_properties(m, &o->lease, update);
                break;
        case OBJECT_CONTAINER:
                r = vfiod_container_info_read_properties(m, &o->container, update);
                break;
        default:
                return -EINVAL;
        }
        if (r >= 0 && !update)
                o->known = true;
        return r;
}

/* The one value of an object whose changes are events (a group's State, a device's Driver, a
 * lease's State), and for leases the deadline that comes with it. */
typedef struct Watched {
        const char *value;
        uint64_t deadline_usec;
} Watched;

static Watched object_watched(const Object *o) {
        switch (o->kind) {
        case OBJECT_GROUP:
                return (Watched){ .value = o->group.state };
        case OBJECT_DEVICE:
                return (Watched){ .value = o->device.driver };
        case OBJECT_LEASE:
                return (Watched){ .value = o->lease.state, .deadline_usec = o->lease.deadline_usec };
        default:
                return (Watched){};
        }
}

/* The objects we know, in no order: a few thousand at most, and events are rare. */
typedef struct ObjectTable {
        Object **objects;
        size_t n_objects;
} ObjectTable;

static void object_table_done(ObjectTable *t) {
        for (size_t i = 0; i < t->n_objects; i++)
                object_free(t->objects[i]);
        t->objects = mfree(t->objects);
        t->n_objects = 0;
}

static Object *object_table_find(const ObjectTable *t, const char *path, size_t *ret_index) {
        for (size_t i = 0; i < t->n_objects; i++)
                if (streq(t->objects[i]->path, path)) {
                        if (ret_index)
                                *ret_index = i;
                        return t->objects[i];
                }
        return NULL;
}

/* Takes o, even on failure. */
static int object_table_put(ObjectTable *t, Object *o) {
        Object **a;

        a = reallocarray(t->objects, t->n_objects + 1, sizeof(Object *));
        if (!a) {
                object_free(o);
                return -ENOMEM;
        }
        t->objects = a;
        t->objects[t->n_objects++] = o;
        return 0;
}

/* Takes the object out of the table and returns it. */
static Object *object_table_take(ObjectTable *t, size_t index) {
        Object *o = t->objects[index];

        t->objects[index] = t->objects[--t->n_objects];
        return o;
}

typedef struct Monitor {
        sd_bus *bus;
        sd_event *event;
        bool json;
        ObjectTable table;
        bool running; /* org.vfiod1 has an owner, as far as we heard */
} Monitor;

static void monitor_done(Monitor *m) {
        object_table_done(&m->table);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Prints the event. Output that cannot be written ends the monitor: nobody reads it any more. */
static void emit(Monitor *m, MonitorEvent *e) {
        int r;

        e->time_usec = now_realtime_usec();
        r = m->json ? output_event_json(e) : output_event_text(e);
        if (r < 0) {
                log_error_errno(r, PROGRAM ": cannot write output: %m");
                (void) sd_event_exit(m->event, EXIT_FAILED);
        }
}

static void object_event(const Object *o, MonitorEventType type, MonitorEvent *ret) {
        *ret = (MonitorEvent){ .type = type, .path = o->path };

        switch (o->kind) {
        case OBJECT_GROUP:
                ret->has_group = true;
                ret->group = o->group.id;
                ret->value = o->group.state;
                break;
        case OBJECT_DEVICE:
                ret->has_group = o->known;
                ret->group = o->device.group;
                ret->device = o->device.address ?: o->path;
                ret->value = o->device.driver;
                break;
        case OBJECT_LEASE:
                ret->lease = &o->lease;
                break;
        case OBJECT_CONTAINER:
                ret->container = &o->container;
                break;
        default:
                break;
        }
}

static void report_added(Monitor *m, const Object *o) {
        static const MonitorEventType types[_OBJECT_KIND_MAX] = {
                [OBJECT_GROUP] = EVENT_GROUP_ADDED,
                [OBJECT_DEVICE] = EVENT_DEVICE_ADDED,
                [OBJECT_LEASE] = EVENT_LEASE_ADDED,
                [OBJECT_CONTAINER] = EVENT_CONTAINER_ADDED,
        };
        MonitorEvent e;

        object_event(o, types[o->kind], &e);
        emit(m, &e);
}

static void report_removed(Monitor *m, const Object *o) {
        static const MonitorEventType types[_OBJECT_KIND_MAX] = {
                [OBJECT_GROUP] = EVENT_GROUP_REMOVED,
                [OBJECT_DEVICE] = EVENT_DEVICE_REMOVED,
                [OBJECT_LEASE] = EVENT_LEASE_ENDED,
                [OBJECT_CONTAINER] = EVENT_CONTAINER_REMOVED,
        };
        MonitorEvent e;

        object_event(o, types[o->kind], &e);
        emit(m, &e);
}

/* Reports what changed of o's watched value since it was `before`: only real changes, since
 * vfiod announces all of a group's properties when any one changes. */
static void report_changes(Monitor *m, const Object *o, Watched before) {
        Watched now = object_watched(o);
        MonitorEvent e;

        switch (o->kind) {
        case OBJECT_GROUP:
                if (streq_ptr(before.value, now.value))
                        return;
                object_event(o, EVENT_GROUP_STATE, &e);
                break;
        case OBJECT_DEVICE:
                if (streq(strempty(before.value), strempty(now.value)))
                        return;
                object_event(o, EVENT_DEVICE_DRIVER, &e);
                break;
        case OBJECT_LEASE:
                /* A new deadline for a lease still releasing is news too. */
                if (streq_ptr(before.value, now.value) &&
                    (before.deadline_usec == now.deadline_usec || !streq_ptr(now.value, "releasing")))
                        return;
                object_event(o, EVENT_LEASE_STATE, &e);
                e.value = now.value;
                break;
        default:
                return;
        }
        e.old_value = before.value;
        emit(m, &e);
}

/* One element of GetManagedObjects or the body of InterfacesAdded: o a{sa{sv}}. Returns the object
 * in *ret, or NULL when it has none of vfiod's interfaces. */
static int read_object(sd_bus_message *message, Object **ret) {
        _cleanup_(object_freep) Object *o = NULL;
        const char *path;
        int r;

        r = sd_bus_message_read(message, "o", &path);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(message, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'e', "sa{sv}")) > 0) {
                const char *interface;
                ObjectKind kind;

                r = sd_bus_message_read(message, "s", &interface);
                if (r < 0)
                        return r;
                kind = object_kind_from_interface(interface);
                if (kind < 0 || o)
                        r = sd_bus_message_skip(message, "a{sv}");
                else {
                        r = object_new(kind, path, &o);
                        if (r >= 0)
                                r = object_read_properties(o, message, false);
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

/* A new reading of an object: reported as added if we did not know it, else as its changes. The
 * same signal can come twice around a snapshot (queued before GetManagedObjects answered): then
 * nothing changed and nothing is said. Takes o. */
static int monitor_put(Monitor *m, Object *o) {
        Object *old;
        size_t index;

        old = object_table_find(&m->table, o->path, &index);
        if (old && old->kind == o->kind) {
                report_changes(m, o, object_watched(old));
                m->table.objects[index] = o;
                object_free(old);
                return 0;
        }
        if (old)
                object_free(object_table_take(&m->table, index));
        report_added(m, o);
        return object_table_put(&m->table, o);
}

/* GetManagedObjects into a fresh table. */
static int load_objects(sd_bus *bus, sd_bus_error *error, ObjectTable *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(object_table_done) ObjectTable t = {};
        int r;

        r = sd_bus_call_method(bus, VFIOD_SERVICE, VFIOD_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", error, &reply, NULL);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                Object *o = NULL;

                r = read_object(reply, &o);
                if (r < 0)
                        return r;
                if (o) {
                        r = object_table_put(&t, o);
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;

        *ret = t;
        t = (ObjectTable){};
        return 0;
}

/* vfiod came back: what changed while it was away is told as events, against a new snapshot. */
static void monitor_resync(Monitor *m) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(object_table_done) ObjectTable fresh = {};
        int r;

        r = load_objects(m->bus, &error, &fresh);
        if (r < 0) {
                /* It may have gone again already; its next start brings the next try. */
                log_warning(PROGRAM ": cannot read vfiod's objects: %s", vfiod_error_message(&error, r));
                return;
        }

        for (size_t i = m->table.n_objects; i > 0; i--) {
                const Object *o = m->table.objects[i - 1];

                if (!object_table_find(&fresh, o->path, NULL)) {
                        report_removed(m, o);
                        object_free(object_table_take(&m->table, i - 1));
                }
        }
        while (fresh.n_objects > 0)
                if (monitor_put(m, object_table_take(&fresh, fresh.n_objects - 1)) < 0) {
                        log_oom();
                        return;
                }
}

static int on_interfaces_added(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        Monitor *m = userdata;
        Object *o = NULL;
        int r;

        r = read_object(message, &o);
        if (r < 0) {
                log_debug_errno(r, PROGRAM ": ignoring a malformed InterfacesAdded: %m");
                return 0;
        }
        if (o && monitor_put(m, o) < 0)
                log_oom();
        return 0;
}

static int on_interfaces_removed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        _cleanup_strv_free_ char **interfaces = NULL;
        _cleanup_(object_freep) Object *gone = NULL;
        Monitor *m = userdata;
        const char *path;
        size_t index;
        Object *o;
        int r;

        r = sd_bus_message_read(message, "o", &path);
        if (r >= 0)
                r = sd_bus_message_read_strv(message, &interfaces);
        if (r < 0) {
                log_debug_errno(r, PROGRAM ": ignoring a malformed InterfacesRemoved: %m");
                return 0;
        }

        o = object_table_find(&m->table, path, &index);
        for (char **i = interfaces; i && *i; i++) {
                ObjectKind kind = object_kind_from_interface(*i);

                if (kind < 0)
                        continue;
                if (o && o->kind == kind) {
                        gone = object_table_take(&m->table, index);
                        break;
                }
                /* Removed before we ever read it: what its path says must do. */
                if (!o && object_new(kind, path, &gone) < 0) {
                        log_oom();
                        return 0;
                }
                break;
        }
        if (gone)
                report_removed(m, gone);
        return 0;
}

static int on_properties_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ char *before_value = NULL;
        Monitor *m = userdata;
        const char *interface;
        Watched before;
        Object *o;
        int r;

        r = sd_bus_message_read(message, "s", &interface);
        if (r < 0)
                return 0;

        /* Objects we have not seen appear are not ours to follow (yet): they come with InterfacesAdded. */
        o = object_table_find(&m->table, sd_bus_message_get_path(message), NULL);
        if (!o || object_kind_from_interface(interface) != o->kind)
                return 0;

        before = object_watched(o);
        if (before.value) {
                before_value = strdup(before.value);
                if (!before_value) {
                        log_oom();
                        return 0;
                }
                before.value = before_value;
        }

        /* vfiod sends the values; properties it only invalidates are not the ones we report. */
        r = object_read_properties(o, message, true);
        if (r < 0) {
                log_debug_errno(r, PROGRAM ": ignoring a malformed PropertiesChanged: %m");
                return 0;
        }
        report_changes(m, o, before);
        return 0;
}

static int on_hotplug_blocked(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        Monitor *m = userdata;
        const char *address, *driver, *path = sd_bus_message_get_path(message);
        MonitorEvent e;
        Object *o;
        int r;

        r = sd_bus_message_read(message, "ss", &address, &driver);
        if (r < 0)
                return 0;

        e = (MonitorEvent){ .type = EVENT_HOTPLUG_BLOCKED, .path = path, .device = address, .value = driver };
        o = object_table_find(&m->table, path, NULL);
        if (o && o->kind == OBJECT_GROUP) {
                e.has_group = true;
                e.group = o->group.id;
        } else {
                _cleanup_free_ char *name = NULL;

                e.has_group = sd_bus_path_decode(path, VFIOD_GROUP_PATH_PREFIX, &name) > 0 &&
                              group_id_parse(name, &e.group) >= 0;
        }
        emit(m, &e);
        return 0;
}

/* vfiod leaving the bus and coming back. Its objects stay in the table while it is away, so that
 * what differs when it is back can be told. */
static int on_name_owner_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        const char *name, *old_owner, *new_owner;
        Monitor *m = userdata;
        MonitorEvent e;
        int r;

        r = sd_bus_message_read(message, "sss", &name, &old_owner, &new_owner);
        if (r < 0 || !streq(name, VFIOD_SERVICE))
                return 0;

        if (m->running && (isempty(new_owner) || !isempty(old_owner))) {
                e = (MonitorEvent){ .type = EVENT_VFIOD_STOPPED };
                emit(m, &e);
                m->running = false;
        }
        if (!m->running && !isempty(new_owner)) {
                e = (MonitorEvent){ .type = EVENT_VFIOD_STARTED };
                emit(m, &e);
                m->running = true;
                monitor_resync(m);
        }
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), EXIT_OK);
}

/* The subscriptions, before the snapshot, so that nothing between the two is missed. vfiod's
 * signals are matched by its well-known name: the bus resolves it to whoever owns it now, which
 * keeps the matches valid across restarts. */
static int add_matches(Monitor *m) {
        static const struct {
                const char *rule;
                sd_bus_message_handler_t handler;
        } matches[] = {
                { "type='signal',sender='" VFIOD_SERVICE "',path='" VFIOD_PATH "',"
                  "interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'",
                  on_interfaces_added },
                { "type='signal',sender='" VFIOD_SERVICE "',path='" VFIOD_PATH "',"
                  "interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved'",
                  on_interfaces_removed },
                { "type='signal',sender='" VFIOD_SERVICE "',path_namespace='" VFIOD_PATH "',"
                  "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'",
                  on_properties_changed },
                { "type='signal',sender='" VFIOD_SERVICE "',interface='" VFIOD_GROUP_INTERFACE "',"
                  "member='HotplugBlocked'",
                  on_hotplug_blocked },
                { "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                  "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" VFIOD_SERVICE "'",
                  on_name_owner_changed },
        };
        int r;

        FOREACH_ARRAY(match, matches, ELEMENTSOF(matches)) {
                r = sd_bus_add_match(m->bus, NULL, match->rule, match->handler, m);
                if (r < 0)
                        return r;
        }
        return 0;
}

int verb_monitor_run(bool json) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(monitor_done) Monitor m = { .json = json };
        sigset_t mask;
        int r;

        /* Before anything can deliver them: sd-event takes them from here. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, PROGRAM ": cannot block signals: %m"), EXIT_FAILED;

        if (bus_open(&m.bus) < 0)
                return EXIT_FAILED;
        r = sd_event_default(&m.event);
        if (r >= 0)
                r = sd_event_add_signal(m.event, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m.event, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = sd_bus_attach_event(m.bus, m.event, SD_EVENT_PRIORITY_NORMAL);
        /* Without the system bus there is nothing left to monitor: the loop ends with EXIT_FAILURE. */
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(m.bus, true);
        if (r < 0)
                return log_error_errno(r, PROGRAM ": cannot set up the event loop: %m"), EXIT_FAILED;

        r = add_matches(&m);
        if (r < 0)
                return log_error_errno(r, PROGRAM ": cannot subscribe to vfiod's signals: %m"), EXIT_FAILED;

        /* vfiod must be there at the start; later it may come and go. */
        r = load_objects(m.bus, &error, &m.table);
        if (r < 0)
                return log_call_failed(&error, r, "cannot read vfiod's objects");
        m.running = true;

        r = sd_event_loop(m.event);
        if (r < 0)
                return log_error_errno(r, PROGRAM ": event loop failed: %m"), EXIT_FAILED;
        if (r == EXIT_FAILURE && !sd_bus_is_open(m.bus)) {
                log_error(PROGRAM ": the connection to the system bus was lost");
                return EXIT_FAILED;
        }
        return r;
}
