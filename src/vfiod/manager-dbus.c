/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: org.vfiod1.Manager, the object manager, and turning inventory changes into signals. */

#include <inttypes.h>

#include "log.h"
#include "manager-dbus.h"
#include "vfiod-error.h"


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

static int property_get_iommu_backends(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error) {
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

/* Until the remove policy exists, Unassign refuses a leased group: "fail", with no wait. */
static int property_get_remove_mode(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", "fail");
}

static int property_get_remove_timeout(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error) {
        return sd_bus_message_append(reply, "t", UINT64_C(0));
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RemoveMode", "s", property_get_remove_mode, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RemoveTimeoutUSec", "t", property_get_remove_timeout, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IommuBackends", "as", property_get_iommu_backends, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("ListGroups", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(uso)", groups),
                                method_list_groups, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDevices", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssuo)", devices),
                                method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetGroup", SD_BUS_ARGS("u", id), SD_BUS_RESULT("o", group), method_get_group,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetDevice", SD_BUS_ARGS("s", address), SD_BUS_RESULT("o", device),
                                method_get_device, SD_BUS_VTABLE_UNPRIVILEGED),
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
                log_debug_errno(r, "Cannot announce %s %s: %m", added ? "new object" : "removal of",
                                strempty(path));
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
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop: %m");

        inventory_set_observer(m->inventory, on_inventory_event, m);

        r = sd_bus_request_name(m->bus, VFIOD_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot own the bus name " VFIOD_BUS_NAME ": %m");
        return 0;
}
