/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the org.vfiod1.Device objects, views of the inventory's devices. */

#include "log.h"
#include "manager-dbus.h"

int device_bus_path(const Device *d, char **ret) {
        return sd_bus_path_encode(VFIOD_DEVICE_PATH_PREFIX, d->address, ret);
}

static int device_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                              sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *address = NULL;
        Device *d;
        int r;

        r = sd_bus_path_decode(path, VFIOD_DEVICE_PATH_PREFIX, &address);
        if (r <= 0)
                return r;
        d = inventory_get_device(m->inventory, address);
        if (!d)
                return 0;
        *found = d;
        return 1;
}

static int device_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        Inventory *inv = m->inventory;
        _cleanup_strv_free_ char **l = calloc(inv->n_devices + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (device_bus_path(inv->devices[i], &l[i]) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

static int property_get_address(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "s", d->address);
}

static int property_get_driver(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        const char *driver = streq(property, "Driver") ? d->driver : d->original_driver;
        return sd_bus_message_append(reply, "s", strempty(driver));
}

static int property_get_group(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "u", d->group->id);
}

static int property_get_is_bridge(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Device *d = userdata;
        return sd_bus_message_append(reply, "b", device_is_bridge(d));
}

static const sd_bus_vtable device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", property_get_address, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Vendor", "q", NULL, offsetof(Device, vendor), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Product", "q", NULL, offsetof(Device, product), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Class", "u", NULL, offsetof(Device, class), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Driver", "s", property_get_driver, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OriginalDriver", "s", property_get_driver, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Group", "u", property_get_group, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IsBridge", "b", property_get_is_bridge, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NumaNode", "i", NULL, offsetof(Device, numa_node), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int device_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, VFIOD_DEVICE_PATH_PREFIX, "org.vfiod1.Device", device_vtable,
                                       device_object_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, VFIOD_DEVICE_PATH_PREFIX, device_node_enumerator, m);
}

void device_bus_emit_changed(Manager *m, Device *d) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = device_bus_path(d, &path);
        if (r >= 0)
                r = sd_bus_emit_properties_changed_strv(m->bus, path, "org.vfiod1.Device", NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot announce changes of device %s: %m", d->address);
}
