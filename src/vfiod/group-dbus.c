/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the org.vfiod1.Group objects, views of the inventory's groups. */

#include <inttypes.h>

#include "assign.h"
#include "holders.h"
#include "lease.h"
#include "log.h"
#include "manager-dbus.h"

int group_bus_path(const Group *g, char **ret) {
        return asprintf(ret, VFIOD_GROUP_PATH_PREFIX "/%" PRIu32, g->id) < 0 ? -ENOMEM : 0;
}

static int group_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                             sd_bus_error *error) {
        Manager *m = userdata;
        uint32_t id;
        Group *g;
        int r;

        r = bus_path_decode_id(path, VFIOD_GROUP_PATH_PREFIX, &id);
        if (r <= 0)
                return r;
        g = inventory_get_group(m->inventory, id);
        if (!g)
                return 0;
        *found = g;
        return 1;
}

static int group_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        Inventory *inv = m->inventory;
        _cleanup_strv_free_ char **l = calloc(inv->n_groups + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_groups; i++)
                if (group_bus_path(inv->groups[i], &l[i]) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Group *g = userdata;
        return sd_bus_message_append(reply, "s", group_state_to_string(g->state));
}

static int property_get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Group *g = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        FOREACH_ARRAY(d, g->devices, g->n_devices) {
                r = sd_bus_message_append(reply, "s", (*d)->address);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_viable(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Group *g = userdata;
        return sd_bus_message_append(reply, "b", group_is_viable(g));
}

static int property_get_reserved_regions(sd_bus *bus, const char *path, const char *interface, const char *property,
                                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Group *g = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(tts)");
        if (r < 0)
                return r;
        FOREACH_ARRAY(reg, g->regions, g->n_regions) {
                r = sd_bus_message_append(reply, "(tts)", reg->start, reg->end, region_type_to_string(reg->type));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Getters get the group; the manager is the userdata of the vtable's slot. */
static Manager *current_manager(sd_bus *bus) {
        return sd_bus_slot_get_userdata(sd_bus_get_current_slot(bus));
}

static int property_get_lease(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *p = NULL;
        Group *g = userdata;
        Lease *l = g->lease ? manager_get_lease(current_manager(bus), g->lease) : NULL;
        int r;

        if (!l)
                return sd_bus_message_append(reply, "o", "/");
        r = lease_bus_path(l, &p);
        if (r < 0)
                return r;
        return sd_bus_message_append(reply, "o", p);
}

static int append_holders(sd_bus_message *reply, const Holder *holders, size_t n) {
        int r = sd_bus_message_open_container(reply, 'a', "(us)");

        if (r < 0)
                return r;
        FOREACH_ARRAY(h, holders, n) {
                r = sd_bus_message_append(reply, "(us)", (uint32_t) h->pid, h->comm);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_holders(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_(holders_freep) Holder *holders = NULL;
        Manager *m = current_manager(bus);
        Group *g = userdata;
        size_t n = 0;
        int r = 0;

        /* A group with no device on a vfio driver has neither node nor cdev to hold: no scan of
         * /proc for it (most groups of a host are such, and the scan grows with every open fd). */
        if (group_has_vfio_device(g))
                r = group_scan_holders(m, g->id, &holders, &n);
        if (r < 0)
                log_debug_errno(r, "Cannot scan for holders: %m");
        return append_holders(reply, holders, n);
}

/* Whether the group was last seen held by something no process names. The daemon asks the kernel
 * only while it waits for a group (a lease ending, a removal): an open of the group by vfiod races
 * with a legitimate one, so a read asks again only to clear an answer that was yes, which cannot
 * race (the open fails while the group is held). */
static bool group_still_held_unnamed(Manager *m, Group *g) {
        return g->held_unnamed && group_held_unnamed(m, g->id) > 0;
}

static int property_get_held_unnamed(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", group_still_held_unnamed(current_manager(bus), userdata));
}

static int property_get_holder_candidates(sd_bus *bus, const char *path, const char *interface, const char *property,
                                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_(holders_freep) Holder *candidates = NULL;
        Manager *m = current_manager(bus);
        size_t n = 0;
        int r;

        if (group_still_held_unnamed(m, userdata)) {
                r = holders_scan_vfio_device_users(m->proc_root, &candidates, &n);
                if (r < 0)
                        log_debug_errno(r, "Cannot scan for VFIO device users: %m");
        }
        return append_holders(reply, candidates, n);
}

static int property_get_persistent(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = current_manager(bus);
        Group *g = userdata;
        bool persistent = false;

        FOREACH_ARRAY(d, g->devices, g->n_devices)
                persistent = persistent || persist_set_contains(&m->persist, (*d)->address);
        return sd_bus_message_append(reply, "b", persistent);
}

static int property_get_persistent_skipped(sd_bus *bus, const char *path, const char *interface, const char *property,
                                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Group *g = userdata;

        return sd_bus_message_append(reply, "s", strempty(g->persist_skipped));
}

static int property_get_safety(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *verdict = NULL;
        int r;

        r = assign_safety_verdict(current_manager(bus), userdata, &verdict);
        if (r < 0)
                return r;
        return sd_bus_message_append(reply, "s", strempty(verdict));
}

static const sd_bus_vtable group_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", NULL, offsetof(Group, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Devices", "as", property_get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Viable", "b", property_get_viable, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ReservedRegions", "a(tts)", property_get_reserved_regions, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Lease", "o", property_get_lease, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Holders and Safety change behind the daemon's back (a process opens a node, a disk is
         * mounted): read on demand, never announced, so a change signal does not scan /proc. */
        SD_BUS_PROPERTY("Holders", "a(us)", property_get_holders, 0, 0),
        SD_BUS_PROPERTY("HeldUnnamed", "b", property_get_held_unnamed, 0, 0),
        SD_BUS_PROPERTY("HolderCandidates", "a(us)", property_get_holder_candidates, 0, 0),
        SD_BUS_PROPERTY("Persistent", "b", property_get_persistent, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PersistentSkipped", "s", property_get_persistent_skipped, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Safety", "s", property_get_safety, 0, 0),
        SD_BUS_SIGNAL_WITH_ARGS("HotplugBlocked", SD_BUS_ARGS("s", address, "s", host_driver), 0),
        SD_BUS_VTABLE_END,
};

int group_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, VFIOD_GROUP_PATH_PREFIX, "org.vfiod1.Group", group_vtable,
                                       group_object_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, VFIOD_GROUP_PATH_PREFIX, group_node_enumerator, m);
}

void group_bus_emit_changed(Manager *m, Group *g) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = group_bus_path(g, &path);
        if (r >= 0)
                r = sd_bus_emit_properties_changed_strv(m->bus, path, "org.vfiod1.Group", NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot announce changes of group %" PRIu32 ": %m", g->id);
}

void manager_bus_emit_hotplug_blocked(Manager *m, Group *g, Device *d, const char *host_driver) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (!m->bus)
                return;
        r = group_bus_path(g, &path);
        if (r >= 0)
                r = sd_bus_emit_signal(m->bus, path, "org.vfiod1.Group", "HotplugBlocked", "ss", d->address,
                                       strempty(host_driver));
        if (r < 0)
                log_debug_errno(r, "Cannot announce the hotplug block of %s: %m", d->address);
}
