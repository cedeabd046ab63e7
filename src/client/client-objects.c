/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: turning vfiod's Group, Device, Lease and Container objects (GetManagedObjects, GetAll, and the
 * ObjectManager's and PropertiesChanged signals) into structs. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-internal.h"

/* A property we understand: its name, the only signature we accept for it, and where it goes.
 * The parser gets the object plus offset; parsers that fill more than one field (an array and its
 * length) use offset 0 and take the whole object. */
typedef struct PropertyMap {
        const char *name;
        const char *signature;
        int (*parse)(sd_bus_message *m, void *userdata);
        size_t offset;
        bool required;
} PropertyMap;

/* Returns p (of *allocated elements of size bytes) grown to hold at least need elements, the new
 * ones zeroed; NULL when out of memory, p then still valid. */
static void *grow_array(void *p, size_t *allocated, size_t need, size_t size) {
        size_t n;
        void *q;

        if (need <= *allocated)
                return p;
        n = need < 8 ? 8 : need * 2;
        q = reallocarray(p, n, size);
        if (!q)
                return NULL;
        memset((char *) q + *allocated * size, 0, (n - *allocated) * size);
        *allocated = n;
        return q;
}

static int parse_string(sd_bus_message *m, void *userdata) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        return free_and_strdup(userdata, s);
}

/* An object path where "/" means "none", as for Group.Lease. */
static int parse_optional_path(sd_bus_message *m, void *userdata) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "o", &s);
        if (r < 0)
                return r;
        return free_and_strdup(userdata, streq(s, "/") ? NULL : s);
}

static int parse_strv(sd_bus_message *m, void *userdata) {
        char ***p = userdata;
        char **l = NULL;
        int r;

        r = sd_bus_message_read_strv(m, &l);
        if (r < 0)
                return r;
        strv_free(*p);
        *p = l;
        return 0;
}

static int parse_bool(sd_bus_message *m, void *userdata) {
        int b, r;

        r = sd_bus_message_read(m, "b", &b);
        if (r < 0)
                return r;
        *(bool *) userdata = b;
        return 0;
}

static int parse_u16(sd_bus_message *m, void *userdata) {
        return sd_bus_message_read(m, "q", userdata);
}

static int parse_u32(sd_bus_message *m, void *userdata) {
        return sd_bus_message_read(m, "u", userdata);
}

static int parse_i32(sd_bus_message *m, void *userdata) {
        return sd_bus_message_read(m, "i", userdata);
}

static int parse_u64(sd_bus_message *m, void *userdata) {
        return sd_bus_message_read(m, "t", userdata);
}

/* An au into a uint32_t array followed, in the struct, by its size_t length: the Groups of leases
 * and containers. */
typedef struct U32Array {
        uint32_t *values;
        size_t n_values;
} U32Array;

static int parse_u32_array(sd_bus_message *m, void *userdata) {
        U32Array *a = userdata;
        const void *values;
        uint32_t *copy = NULL;
        size_t size;
        int r;

        r = sd_bus_message_read_array(m, 'u', &values, &size);
        if (r < 0)
                return r;
        if (size > 0) {
                copy = malloc(size);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, values, size);
        }
        free(a->values);
        a->values = copy;
        a->n_values = size / sizeof(uint32_t);
        return 0;
}

static void group_free_reserved_regions(VfiodGroup *g) {
        FOREACH_ARRAY(i, g->reserved_regions, g->n_reserved_regions)
                free(i->type);
        g->reserved_regions = mfree(g->reserved_regions);
        g->n_reserved_regions = 0;
}

static int parse_reserved_regions(sd_bus_message *m, void *userdata) {
        VfiodGroup *g = userdata;
        size_t allocated = 0;
        uint64_t start, end;
        const char *type;
        int r;

        group_free_reserved_regions(g);

        r = sd_bus_message_enter_container(m, 'a', "(tts)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(tts)", &start, &end, &type)) > 0) {
                VfiodReservedRegion *regions, *region;

                regions = grow_array(g->reserved_regions, &allocated, g->n_reserved_regions + 1,
                                     sizeof(VfiodReservedRegion));
                if (!regions)
                        return -ENOMEM;
                g->reserved_regions = regions;
                region = &regions[g->n_reserved_regions];
                region->type = strdup(type);
                if (!region->type)
                        return -ENOMEM;
                region->start = start;
                region->end = end;
                g->n_reserved_regions++;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Holders and HolderCandidates are read through HolderArray: the layouts must agree. */
typedef struct HolderArray {
        VfiodHolder *items;
        size_t n;
} HolderArray;

static void holder_array_free(HolderArray *a) {
        FOREACH_ARRAY(i, a->items, a->n)
                free(i->comm);
        a->items = mfree(a->items);
        a->n = 0;
}

static int parse_holders(sd_bus_message *m, void *userdata) {
        HolderArray *a = userdata;
        size_t allocated = 0;
        const char *comm;
        uint32_t pid;
        int r;

        holder_array_free(a);

        r = sd_bus_message_enter_container(m, 'a', "(us)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(us)", &pid, &comm)) > 0) {
                VfiodHolder *items, *h;

                items = grow_array(a->items, &allocated, a->n + 1, sizeof(VfiodHolder));
                if (!items)
                        return -ENOMEM;
                a->items = items;
                h = &items[a->n];
                h->comm = strdup(comm);
                if (!h->comm)
                        return -ENOMEM;
                h->pid = pid;
                a->n++;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int parse_iova_ranges(sd_bus_message *m, void *userdata) {
        VfiodContainerInfo *c = userdata;
        size_t allocated = 0;
        uint64_t start, end;
        int r;

        c->iova_ranges = mfree(c->iova_ranges);
        c->n_iova_ranges = 0;

        r = sd_bus_message_enter_container(m, 'a', "(tt)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(tt)", &start, &end)) > 0) {
                VfiodIovaRange *ranges;

                ranges = grow_array(c->iova_ranges, &allocated, c->n_iova_ranges + 1, sizeof(VfiodIovaRange));
                if (!ranges)
                        return -ENOMEM;
                c->iova_ranges = ranges;
                ranges[c->n_iova_ranges++] = (VfiodIovaRange){ .start = start, .end = end };
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

#define FIELD(type, field) offsetof(type, field)

static const PropertyMap group_properties[] = {
        { "Id", "u", parse_u32, FIELD(VfiodGroup, id), true },
        { "State", "s", parse_string, FIELD(VfiodGroup, state), true },
        { "Devices", "as", parse_strv, FIELD(VfiodGroup, devices), false },
        { "Viable", "b", parse_bool, FIELD(VfiodGroup, viable), false },
        { "ReservedRegions", "a(tts)", parse_reserved_regions, 0, false },
        { "Lease", "o", parse_optional_path, FIELD(VfiodGroup, lease), false },
        { "Holders", "a(us)", parse_holders, FIELD(VfiodGroup, holders), false },
        { "HeldUnnamed", "b", parse_bool, FIELD(VfiodGroup, held_unnamed), false },
        { "HolderCandidates", "a(us)", parse_holders, FIELD(VfiodGroup, candidates), false },
        { "Persistent", "b", parse_bool, FIELD(VfiodGroup, persistent), false },
        { "PersistentSkipped", "s", parse_string, FIELD(VfiodGroup, persistent_skipped), false },
        { "Safety", "s", parse_string, FIELD(VfiodGroup, safety), false },
        {}
};

static const PropertyMap device_properties[] = { { "Address", "s", parse_string, FIELD(VfiodDevice, address), true },
                                                 { "Vendor", "q", parse_u16, FIELD(VfiodDevice, vendor), false },
                                                 { "Product", "q", parse_u16, FIELD(VfiodDevice, product), false },
                                                 { "Class", "u", parse_u32, FIELD(VfiodDevice, class_code), false },
                                                 { "Driver", "s", parse_string, FIELD(VfiodDevice, driver), false },
                                                 { "OriginalDriver", "s", parse_string,
                                                   FIELD(VfiodDevice, original_driver), false },
                                                 { "Group", "u", parse_u32, FIELD(VfiodDevice, group), true },
                                                 { "IsBridge", "b", parse_bool, FIELD(VfiodDevice, is_bridge), false },
                                                 { "NumaNode", "i", parse_i32, FIELD(VfiodDevice, numa_node), false },
                                                 {} };

_Static_assert(offsetof(VfiodGroup, n_holders) - offsetof(VfiodGroup, holders) == offsetof(HolderArray, n),
               "VfiodGroup.holders is not laid out as HolderArray");
_Static_assert(offsetof(VfiodGroup, n_candidates) - offsetof(VfiodGroup, candidates) == offsetof(HolderArray, n),
               "VfiodGroup.candidates is not laid out as HolderArray");
/* The groups arrays are read through U32Array: the layouts must agree. */
_Static_assert(offsetof(VfiodLeaseInfo, n_groups) - offsetof(VfiodLeaseInfo, groups) == offsetof(U32Array, n_values),
               "VfiodLeaseInfo.groups is not laid out as U32Array");
_Static_assert(offsetof(VfiodContainerInfo, n_groups) - offsetof(VfiodContainerInfo, groups) ==
                       offsetof(U32Array, n_values),
               "VfiodContainerInfo.groups is not laid out as U32Array");

static const PropertyMap lease_properties[] = {
        { "Id", "s", parse_string, FIELD(VfiodLeaseInfo, id), false },
        { "Groups", "au", parse_u32_array, FIELD(VfiodLeaseInfo, groups), false },
        { "Owner", "s", parse_string, FIELD(VfiodLeaseInfo, owner), true },
        { "Uid", "u", parse_u32, FIELD(VfiodLeaseInfo, uid), false },
        { "Pid", "u", parse_u32, FIELD(VfiodLeaseInfo, pid), false },
        { "Container", "o", parse_optional_path, FIELD(VfiodLeaseInfo, container), false },
        { "Access", "s", parse_string, FIELD(VfiodLeaseInfo, access), false },
        { "State", "s", parse_string, FIELD(VfiodLeaseInfo, state), true },
        { "DeadlineUSec", "t", parse_u64, FIELD(VfiodLeaseInfo, deadline_usec), false },
        {}
};

static const PropertyMap container_properties[] = {
        { "IommuModel", "s", parse_string, FIELD(VfiodContainerInfo, iommu_model), false },
        { "Groups", "au", parse_u32_array, FIELD(VfiodContainerInfo, groups), false },
        { "IovaRanges", "a(tt)", parse_iova_ranges, 0, false },
        { "PageSizes", "t", parse_u64, FIELD(VfiodContainerInfo, page_sizes), false },
        { "SharingKey", "s", parse_string, FIELD(VfiodContainerInfo, sharing_key), false },
        { "Owner", "s", parse_string, FIELD(VfiodContainerInfo, owner), false },
        {}
};

static const PropertyMap *property_map_find(const PropertyMap *map, const char *name, size_t *ret_index) {
        for (size_t i = 0; map[i].name; i++)
                if (streq(map[i].name, name)) {
                        *ret_index = i;
                        return &map[i];
                }
        return NULL;
}

/* Reads one a{sv} into object. Properties we do not know are skipped, since later versions of vfiod
 * add some; a known property with another type, or (unless this is an update, which carries only
 * what changed) a required one missing, is a broken reply. */
static int map_properties(sd_bus_message *m, const PropertyMap *map, void *object, bool update) {
        uint64_t seen = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const PropertyMap *p;
                const char *name;
                size_t index;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;

                p = property_map_find(map, name, &index);
                if (!p) {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                } else {
                        r = sd_bus_message_enter_container(m, 'v', p->signature);
                        if (r == -ENXIO)
                                return -EBADMSG;
                        if (r < 0)
                                return r;
                        r = p->parse(m, (char *) object + p->offset);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                        seen |= UINT64_C(1) << index;
                }

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        for (size_t i = 0; !update && map[i].name; i++)
                if (map[i].required && !(seen & (UINT64_C(1) << i)))
                        return -EBADMSG;

        r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 0;
}

int vfiod_group_read_properties(sd_bus_message *m, VfiodGroup *group, bool update) {
        return map_properties(m, group_properties, group, update);
}

int vfiod_device_read_properties(sd_bus_message *m, VfiodDevice *device, bool update) {
        /* A full reading without NumaNode means "the platform does not say". */
        if (!update)
                device->numa_node = -1;
        return map_properties(m, device_properties, device, update);
}

int vfiod_lease_info_read_properties(sd_bus_message *m, VfiodLeaseInfo *lease, bool update) {
        return map_properties(m, lease_properties, lease, update);
}

int vfiod_container_info_read_properties(sd_bus_message *m, VfiodContainerInfo *container, bool update) {
        return map_properties(m, container_properties, container, update);
}

void vfiod_device_done(VfiodDevice *d) {
        free(d->path);
        free(d->address);
        free(d->driver);
        free(d->original_driver);
        *d = (VfiodDevice){};
}

void vfiod_group_done(VfiodGroup *g) {
        free(g->path);
        free(g->state);
        strv_free(g->devices);
        group_free_reserved_regions(g);
        free(g->lease);
        holder_array_free((HolderArray *) &g->holders);
        holder_array_free((HolderArray *) &g->candidates);
        free(g->persistent_skipped);
        free(g->safety);
        free(g->members);
        *g = (VfiodGroup){};
}

void vfiod_lease_info_done(VfiodLeaseInfo *l) {
        free(l->path);
        free(l->id);
        free(l->groups);
        free(l->owner);
        free(l->container);
        free(l->access);
        free(l->state);
        *l = (VfiodLeaseInfo){};
}

void vfiod_container_info_done(VfiodContainerInfo *c) {
        free(c->path);
        free(c->iommu_model);
        free(c->groups);
        free(c->iova_ranges);
        free(c->sharing_key);
        free(c->owner);
        *c = (VfiodContainerInfo){};
}

VfiodInventory *vfiod_inventory_free(VfiodInventory *inventory) {
        if (!inventory)
                return NULL;
        FOREACH_ARRAY(g, inventory->groups, inventory->n_groups)
                vfiod_group_done(g);
        free(inventory->groups);
        FOREACH_ARRAY(d, inventory->devices, inventory->n_devices)
                vfiod_device_done(d);
        free(inventory->devices);
        return mfree(inventory);
}

typedef struct Loader {
        VfiodInventory *inventory;
        size_t groups_allocated;
        size_t devices_allocated;
} Loader;

static int loader_add_group(Loader *l, const char *path, sd_bus_message *m) {
        VfiodInventory *inv = l->inventory;
        VfiodGroup *groups, *g;

        groups = grow_array(inv->groups, &l->groups_allocated, inv->n_groups + 1, sizeof(VfiodGroup));
        if (!groups)
                return -ENOMEM;
        inv->groups = groups;
        /* Counted before it is filled, so that vfiod_inventory_free() cleans up a half-read one. */
        g = &inv->groups[inv->n_groups++];
        g->path = strdup(path);
        if (!g->path)
                return -ENOMEM;
        return vfiod_group_read_properties(m, g, false);
}

static int loader_add_device(Loader *l, const char *path, sd_bus_message *m) {
        VfiodInventory *inv = l->inventory;
        VfiodDevice *devices, *d;

        devices = grow_array(inv->devices, &l->devices_allocated, inv->n_devices + 1, sizeof(VfiodDevice));
        if (!devices)
                return -ENOMEM;
        inv->devices = devices;
        d = &inv->devices[inv->n_devices++];
        d->path = strdup(path);
        if (!d->path)
                return -ENOMEM;
        return vfiod_device_read_properties(m, d, false);
}

/* One object: a{sa{sv}}, interface to properties. Interfaces other than ours are skipped. */
static int loader_add_object(Loader *l, const char *path, sd_bus_message *m) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                const char *interface;

                r = sd_bus_message_read(m, "s", &interface);
                if (r < 0)
                        return r;

                if (streq(interface, VFIOD_GROUP_INTERFACE))
                        r = loader_add_group(l, path, m);
                else if (streq(interface, VFIOD_DEVICE_INTERFACE))
                        r = loader_add_device(l, path, m);
                else
                        r = sd_bus_message_skip(m, "a{sv}");
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

static int loader_read_reply(Loader *l, sd_bus_message *reply) {
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                const char *path;

                r = sd_bus_message_read(reply, "o", &path);
                if (r < 0)
                        return r;
                r = loader_add_object(l, path, reply);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(reply);
}

static int group_compare(const void *a, const void *b) {
        const VfiodGroup *x = a, *y = b;

        return x->id < y->id ? -1 : x->id > y->id;
}

/* Canonical addresses differ in length only by their domain (4 to 8 digits), so the shorter one
 * sorts first and equal lengths sort as strings. */
static int device_compare(const void *a, const void *b) {
        const VfiodDevice *x = a, *y = b;
        size_t lx = strlen(x->address), ly = strlen(y->address);

        if (lx != ly)
                return lx < ly ? -1 : 1;
        return strcmp(x->address, y->address);
}

/* Gives every group the devices that say they belong to it. Devices are sorted already. */
static int inventory_link_members(VfiodInventory *inv) {
        FOREACH_ARRAY(g, inv->groups, inv->n_groups) {
                size_t n = 0;

                FOREACH_ARRAY(d, inv->devices, inv->n_devices)
                        if (d->group == g->id)
                                n++;
                if (n == 0)
                        continue;

                g->members = calloc(n, sizeof(VfiodDevice *));
                if (!g->members)
                        return -ENOMEM;
                FOREACH_ARRAY(d, inv->devices, inv->n_devices)
                        if (d->group == g->id)
                                g->members[g->n_members++] = d;
        }
        return 0;
}

int vfiod_inventory_load(sd_bus *bus, sd_bus_error *error, VfiodInventory **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(vfiod_inventory_freep) VfiodInventory *inventory = NULL;
        Loader l;
        int r;

        r = sd_bus_call_method(bus, VFIOD_SERVICE, VFIOD_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", error, &reply, NULL);
        if (r < 0)
                return r;

        inventory = calloc(1, sizeof(VfiodInventory));
        if (!inventory)
                return -ENOMEM;

        l = (Loader){ .inventory = inventory };
        r = loader_read_reply(&l, reply);
        if (r < 0)
                return r;

        if (inventory->n_groups > 0)
                qsort(inventory->groups, inventory->n_groups, sizeof(VfiodGroup), group_compare);
        if (inventory->n_devices > 0)
                qsort(inventory->devices, inventory->n_devices, sizeof(VfiodDevice), device_compare);

        r = inventory_link_members(inventory);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(inventory);
        return 0;
}

const VfiodGroup *vfiod_inventory_find_group(const VfiodInventory *inventory, uint32_t id) {
        FOREACH_ARRAY(g, inventory->groups, inventory->n_groups)
                if (g->id == id)
                        return g;
        return NULL;
}

/* GetAll of one interface of one object, into a reply the caller reads. */
static int get_all(sd_bus *bus, const char *path, const char *interface, sd_bus_error *error,
                   sd_bus_message **ret_reply) {
        return sd_bus_call_method(bus, VFIOD_SERVICE, path, "org.freedesktop.DBus.Properties", "GetAll", error,
                                  ret_reply, "s", interface);
}

VfiodGroup *vfiod_group_free(VfiodGroup *group) {
        if (!group)
                return NULL;
        vfiod_group_done(group);
        return mfree(group);
}

int vfiod_group_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodGroup **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(vfiod_group_freep) VfiodGroup *group = NULL;
        int r;

        r = get_all(bus, path, VFIOD_GROUP_INTERFACE, error, &reply);
        if (r < 0)
                return r;

        group = calloc(1, sizeof(VfiodGroup));
        if (!group)
                return -ENOMEM;
        group->path = strdup(path);
        if (!group->path)
                return -ENOMEM;
        r = vfiod_group_read_properties(reply, group, false);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(group);
        return 0;
}

VfiodLeaseInfo *vfiod_lease_info_free(VfiodLeaseInfo *lease) {
        if (!lease)
                return NULL;
        vfiod_lease_info_done(lease);
        return mfree(lease);
}

int vfiod_lease_info_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodLeaseInfo **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(vfiod_lease_info_freep) VfiodLeaseInfo *lease = NULL;
        int r;

        r = get_all(bus, path, VFIOD_LEASE_INTERFACE, error, &reply);
        if (r < 0)
                return r;

        lease = calloc(1, sizeof(VfiodLeaseInfo));
        if (!lease)
                return -ENOMEM;
        lease->path = strdup(path);
        if (!lease->path)
                return -ENOMEM;
        r = vfiod_lease_info_read_properties(reply, lease, false);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(lease);
        return 0;
}

VfiodContainerInfo *vfiod_container_info_free(VfiodContainerInfo *container) {
        if (!container)
                return NULL;
        vfiod_container_info_done(container);
        return mfree(container);
}

int vfiod_container_info_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodContainerInfo **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(vfiod_container_info_freep) VfiodContainerInfo *container = NULL;
        int r;

        r = get_all(bus, path, VFIOD_CONTAINER_INTERFACE, error, &reply);
        if (r < 0)
                return r;

        container = calloc(1, sizeof(VfiodContainerInfo));
        if (!container)
                return -ENOMEM;
        container->path = strdup(path);
        if (!container->path)
                return -ENOMEM;
        r = vfiod_container_info_read_properties(reply, container, false);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(container);
        return 0;
}
