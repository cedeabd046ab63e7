/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: watching a lease owner's unique bus name without a blocking call. */

#include "owner-dbus.h"
#include "log.h"
#include "macro.h"

struct OwnerWatch {
        char *name;
        sd_bus_slot *match;
        sd_bus_slot *query;
        sd_event_source *defer; /* the gone notification, from the loop */
        owner_gone_t gone;
        void *userdata;
};

OwnerWatch *owner_watch_free(OwnerWatch *w) {
        if (!w)
                return NULL;
        sd_bus_slot_unref(w->match);
        sd_bus_slot_unref(w->query);
        sd_event_source_disable_unref(w->defer);
        free(w->name);
        return mfree(w);
}

static int on_defer(sd_event_source *s, void *userdata) {
        OwnerWatch *w = userdata;
        owner_gone_t gone = TAKE_PTR(w->gone);

        /* gone may free w (and this source, which sd-event keeps until the dispatch ends). */
        if (gone)
                gone(w->userdata);
        return 0;
}

/* Tells the owner of the watch from the loop, not from inside a bus callback that it may free. */
static void owner_gone(OwnerWatch *w) {
        sd_event *e;
        int r;

        if (w->defer || !w->gone)
                return;
        e = sd_bus_get_event(sd_bus_slot_get_bus(w->match));
        r = e ? sd_event_add_defer(e, &w->defer, on_defer, w) : -ENXIO;
        if (r < 0)
                log_error_errno(r, "Cannot report that %s left the bus: %m", w->name);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && !*new_owner)
                owner_gone(userdata);
        return 0;
}

static int on_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        OwnerWatch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e) {
                log_error("Cannot watch %s on the bus (%s: %s); taking it as gone.", w->name, e->name,
                          strempty(e->message));
                owner_gone(w);
        }
        return 0;
}

static int on_name_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        OwnerWatch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        /* Any other error (a timeout, say) says nothing: the match still sees it leave. */
        if (e && sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.NameHasNoOwner"))
                owner_gone(w);
        return 0;
}

int owner_watch_new(sd_bus *bus, const char *name, owner_gone_t gone, void *userdata, OwnerWatch **ret) {
        _cleanup_free_ char *match = NULL;
        OwnerWatch *w;
        int r;

        w = calloc(1, sizeof(OwnerWatch));
        if (!w)
                return -ENOMEM;
        *w = (OwnerWatch){ .name = strdup(name), .gone = gone, .userdata = userdata };
        if (!w->name || asprintf(&match,
                                 "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                 "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                                 name) < 0) {
                owner_watch_free(w);
                return -ENOMEM;
        }
        r = sd_bus_add_match_async(bus, &w->match, match, on_name_owner_changed, on_match_installed, w);
        if (r >= 0)
                r = sd_bus_call_method_async(bus, &w->query, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                             "org.freedesktop.DBus", "GetNameOwner", on_name_owner, w, "s", name);
        if (r < 0) {
                owner_watch_free(w);
                return r;
        }
        *ret = w;
        return 0;
}
