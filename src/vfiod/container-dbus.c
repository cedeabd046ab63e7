/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the org.vfiod1.Container objects, views of the daemon's containers. */

#include "container.h"
#include "log.h"
#include "manager-dbus.h"

int container_bus_path(const Container *c, char **ret) {
        return asprintf(ret, VFIOD_CONTAINER_PATH_PREFIX "/%u", c->id) < 0 ? -ENOMEM : 0;
}

static int container_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                                 sd_bus_error *error) {
        Manager *m = userdata;
        Container *c;
        uint32_t id;
        int r;

        r = bus_path_decode_id(path, VFIOD_CONTAINER_PATH_PREFIX, &id);
        if (r <= 0)
                return r;
        c = manager_get_container(m, id);
        if (!c)
                return 0;
        *found = c;
        return 1;
}

static int container_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                     sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **l = calloc(m->n_containers + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_containers; i++)
                if (container_bus_path(m->containers[i], &l[i]) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

static int property_get_model(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Container *c = userdata;
        return sd_bus_message_append(reply, "s", iommu_model_to_string(c->model));
}

static int property_get_groups(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Container *c = userdata;
        return sd_bus_message_append_array(reply, 'u', c->groups, c->n_groups * sizeof(uint32_t));
}

static int property_get_iova_ranges(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Container *c = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(tt)");
        if (r < 0)
                return r;
        FOREACH_ARRAY(range, c->ranges, c->n_ranges) {
                r = sd_bus_message_append(reply, "(tt)", range->start, range->end);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static const sd_bus_vtable container_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("IommuModel", "s", property_get_model, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Groups", "au", property_get_groups, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IovaRanges", "a(tt)", property_get_iova_ranges, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PageSizes", "t", NULL, offsetof(Container, page_sizes), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SharingKey", "s", NULL, offsetof(Container, sharing_key), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Owner", "s", NULL, offsetof(Container, owner), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

int container_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, VFIOD_CONTAINER_PATH_PREFIX, "org.vfiod1.Container",
                                       container_vtable, container_object_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, VFIOD_CONTAINER_PATH_PREFIX, container_node_enumerator, m);
}

void container_bus_emit_changed(Manager *m, Container *c) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = container_bus_path(c, &path);
        if (r >= 0)
                r = sd_bus_emit_properties_changed(m->bus, path, "org.vfiod1.Container", "Groups", "IovaRanges", NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot announce changes of container %u: %m", c->id);
}
