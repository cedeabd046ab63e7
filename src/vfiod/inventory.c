/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the set of IOMMU groups and PCI devices, kept equal to sysfs. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "log.h"
#include "macro.h"
#include "sysfs.h"

static const char *const group_state_table[_GROUP_STATE_MAX] = {
        [GROUP_HOST] = "host",     [GROUP_ASSIGNING] = "assigning", [GROUP_VFIO] = "vfio",
        [GROUP_LEASED] = "leased", [GROUP_RELEASING] = "releasing", [GROUP_UNASSIGNING] = "unassigning",
        [GROUP_WEDGED] = "wedged",
};

const char *group_state_to_string(GroupState s) {
        if (s < 0 || s >= _GROUP_STATE_MAX)
                return NULL;
        return group_state_table[s];
}

GroupState group_state_from_string(const char *s) {
        for (int i = 0; i < _GROUP_STATE_MAX; i++)
                if (streq(group_state_table[i], s))
                        return (GroupState) i;
        return _GROUP_STATE_INVALID;
}

/* PCI-to-PCI and CardBus bridges (class 0x0604, 0x0609, 0x0607): vfio-pci refuses them and they
 * stay on pcieport or unbound. Host bridges (0x0600) are the root complex itself: nobody assigns
 * them, so they never move either. ISA and other bridges are ordinary functions. */
bool device_is_bridge(const Device *d) {
        uint32_t cls = d->class >> 8;
        return cls == 0x0600 || cls == 0x0604 || cls == 0x0609 || cls == 0x0607;
}

bool device_on_vfio_driver(const Device *d) {
        /* vfio-pci and the variant drivers, whose names all carry "vfio". */
        return d->driver && strstr(d->driver, "vfio");
}

/* Drivers that do not claim DMA ownership, so the group stays usable by VFIO. */
static bool driver_keeps_group_viable(const char *driver) {
        return !driver || strstr(driver, "vfio") || streq(driver, "pci-stub") || streq(driver, "pcieport");
}

bool group_has_vfio_device(const Group *g) {
        FOREACH_ARRAY(d, g->devices, g->n_devices)
                if (device_on_vfio_driver(*d))
                        return true;
        return false;
}

bool group_is_viable(const Group *g) {
        FOREACH_ARRAY(d, g->devices, g->n_devices)
                if (!driver_keeps_group_viable((*d)->driver))
                        return false;
        return true;
}

/* What a group found on the host is in: "vfio" when every endpoint already sits on a vfio driver. */
static GroupState group_derive_state(const Group *g) {
        size_t endpoints = 0;

        FOREACH_ARRAY(d, g->devices, g->n_devices) {
                if (device_is_bridge(*d))
                        continue;
                if (!device_on_vfio_driver(*d))
                        return GROUP_HOST;
                endpoints++;
        }
        return endpoints > 0 ? GROUP_VFIO : GROUP_HOST;
}

static int strcmp_ptr(const char *const *a, const char *const *b) {
        return strcmp(*a, *b);
}

static void notify(Inventory *inv, InventoryEvent event, Group *g, Device *d) {
        if (inv->observer)
                inv->observer(inv, event, g, d, inv->userdata);
}

/* Binary search: the index of the first element not less than the key. */
static size_t group_lower_bound(Group **a, size_t n, uint32_t id) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (a[mid]->id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static size_t device_lower_bound(Device **a, size_t n, const char *address) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(a[mid]->address, address) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int ptr_array_insert(void ***array, size_t *n, size_t at, void *p) {
        void **a = reallocarray(*array, *n + 1, sizeof(void *));
        if (!a)
                return -ENOMEM;
        memmove(a + at + 1, a + at, (*n - at) * sizeof(void *));
        a[at] = p;
        *array = a;
        (*n)++;
        return 0;
}

static void ptr_array_remove(void **array, size_t *n, size_t at) {
        memmove(array + at, array + at + 1, (*n - at - 1) * sizeof(void *));
        (*n)--;
}

void inventory_set_group_state(Inventory *inv, Group *g, GroupState state) {
        if (g->state == state)
                return;
        g->state = state;
        notify(inv, INVENTORY_GROUP_CHANGED, g, NULL);
}

void inventory_device_changed(Inventory *inv, Device *d) {
        notify(inv, INVENTORY_DEVICE_CHANGED, d->group, d);
}

void inventory_group_changed(Inventory *inv, Group *g) {
        notify(inv, INVENTORY_GROUP_CHANGED, g, NULL);
}

Group *inventory_get_group(Inventory *inv, uint32_t id) {
        size_t i = group_lower_bound(inv->groups, inv->n_groups, id);
        return i < inv->n_groups && inv->groups[i]->id == id ? inv->groups[i] : NULL;
}

Device *inventory_get_device(Inventory *inv, const char *address) {
        size_t i = device_lower_bound(inv->devices, inv->n_devices, address);
        return i < inv->n_devices && streq(inv->devices[i]->address, address) ? inv->devices[i] : NULL;
}

static Group *group_free(Group *g) {
        if (!g)
                return NULL;
        free(g->devices);
        free(g->regions);
        free(g->persist_skipped);
        return mfree(g);
}

static Device *device_free(Device *d) {
        if (!d)
                return NULL;
        free(d->driver);
        free(d->original_driver);
        return mfree(d);
}

static int group_add(Inventory *inv, uint32_t id, Group **ret) {
        _cleanup_free_ Group *g = NULL;
        size_t at = group_lower_bound(inv->groups, inv->n_groups, id);
        int r;

        g = calloc(1, sizeof(Group));
        if (!g)
                return -ENOMEM;
        g->id = id;
        g->state = GROUP_HOST;
        r = sysfs_read_reserved_regions(inv->sysfs_root, id, &g->regions, &g->n_regions);
        if (r < 0)
                log_warning_errno(r, "Cannot read reserved regions of IOMMU group %u, assuming none: %m", id);

        r = ptr_array_insert((void ***) &inv->groups, &inv->n_groups, at, g);
        if (r < 0) {
                free(g->regions);
                return r;
        }
        *ret = TAKE_PTR(g);
        notify(inv, INVENTORY_GROUP_ADDED, *ret, NULL);
        return 0;
}

static void group_remove(Inventory *inv, Group *g) {
        size_t at = group_lower_bound(inv->groups, inv->n_groups, g->id);

        notify(inv, INVENTORY_GROUP_REMOVED, g, NULL);
        ptr_array_remove((void **) inv->groups, &inv->n_groups, at);
        group_free(g);
}

/* A group the daemon has not claimed shows what its drivers say: "vfio" when every endpoint sits
 * on a vfio driver (bound by hand, say). A claimed group's state is the daemon's: a device leaving
 * vfio-pci is then the daemon's to fix, not a reason to drop the claim. */
static void group_update_state(Group *g) {
        if (!g->claimed && (g->state == GROUP_HOST || g->state == GROUP_VFIO))
                g->state = group_derive_state(g);
}

static int group_attach_device(Inventory *inv, Group *g, Device *d) {
        size_t at = device_lower_bound(g->devices, g->n_devices, d->address);
        int r;

        r = ptr_array_insert((void ***) &g->devices, &g->n_devices, at, d);
        if (r < 0)
                return r;
        d->group = g;
        group_update_state(g);
        return 0;
}

/* Takes the device out of its group; the group goes too when it was the last member. */
static void group_detach_device(Inventory *inv, Device *d) {
        Group *g = d->group;
        size_t at = device_lower_bound(g->devices, g->n_devices, d->address);

        ptr_array_remove((void **) g->devices, &g->n_devices, at);
        d->group = NULL;
        if (g->n_devices == 0) {
                group_remove(inv, g);
                return;
        }
        group_update_state(g);
        notify(inv, INVENTORY_GROUP_CHANGED, g, NULL);
}

static int device_join_group(Inventory *inv, Device *d, uint32_t id) {
        Group *g = inventory_get_group(inv, id);
        int r;

        if (!g) {
                r = group_add(inv, id, &g);
                if (r < 0)
                        return r;
        }
        r = group_attach_device(inv, g, d);
        if (r < 0) {
                if (g->n_devices == 0)
                        group_remove(inv, g);
                return r;
        }
        return 0;
}

static int device_add(Inventory *inv, const char *address, SysfsDevice *info) {
        _cleanup_free_ Device *d = NULL;
        size_t at = device_lower_bound(inv->devices, inv->n_devices, address);
        int r;

        d = calloc(1, sizeof(Device));
        if (!d)
                return -ENOMEM;
        strncpy(d->address, address, sizeof(d->address) - 1);
        d->vendor = info->vendor;
        d->product = info->product;
        d->class = info->class;
        d->numa_node = info->numa_node;
        d->driver = TAKE_PTR(info->driver);

        r = ptr_array_insert((void ***) &inv->devices, &inv->n_devices, at, d);
        if (r < 0)
                goto fail;
        r = device_join_group(inv, d, info->group);
        if (r < 0) {
                ptr_array_remove((void **) inv->devices, &inv->n_devices, at);
                goto fail;
        }
        notify(inv, INVENTORY_DEVICE_ADDED, d->group, d);
        notify(inv, INVENTORY_GROUP_CHANGED, d->group, NULL);
        TAKE_PTR(d);
        return 0;
fail:
        free(d->driver);
        return r;
}

void inventory_remove_device(Inventory *inv, const char *address) {
        size_t at = device_lower_bound(inv->devices, inv->n_devices, address);
        Device *d;

        if (at >= inv->n_devices || !streq(inv->devices[at]->address, address))
                return;
        d = inv->devices[at];

        notify(inv, INVENTORY_DEVICE_REMOVED, d->group, d);
        ptr_array_remove((void **) inv->devices, &inv->n_devices, at);
        group_detach_device(inv, d);
        device_free(d);
}

/* Brings a known device in line with what sysfs says now. */
static int device_update(Inventory *inv, Device *d, SysfsDevice *info) {
        bool changed = false;
        int r;

        if (!streq_ptr(d->driver, info->driver)) {
                free(d->driver);
                d->driver = TAKE_PTR(info->driver);
                changed = true;
        }
        if (d->numa_node != info->numa_node || d->class != info->class) {
                d->numa_node = info->numa_node;
                d->class = info->class;
                changed = true;
        }

        if (d->group->id != info->group) {
                /* The kernel moved it (rare: e.g. a hot reset re-probing the IOMMU). */
                group_detach_device(inv, d);
                r = device_join_group(inv, d, info->group);
                if (r < 0)
                        return r;
                changed = true;
        }

        if (changed) {
                group_update_state(d->group);
                notify(inv, INVENTORY_DEVICE_CHANGED, d->group, d);
                notify(inv, INVENTORY_GROUP_CHANGED, d->group, NULL);
        }
        return 0;
}

int inventory_refresh_device(Inventory *inv, const char *address) {
        SysfsDevice info = {};
        Device *d;
        int r;

        r = sysfs_read_device(inv->sysfs_root, address, &info);
        if (r == -ENOENT) {
                inventory_remove_device(inv, address);
                return r;
        }
        if (r < 0)
                return r;

        d = inventory_get_device(inv, address);
        if (!info.has_group) {
                /* Without an IOMMU group a device cannot be given to VFIO: not ours to track. */
                if (d)
                        inventory_remove_device(inv, address);
                r = 0;
        } else if (d)
                r = device_update(inv, d, &info);
        else
                r = device_add(inv, address, &info);
        sysfs_device_done(&info);
        return r < 0 ? r : (info.has_group ? 1 : 0);
}

static bool name_listed(char **names, size_t n, const char *address) {
        return bsearch(&address, names, n, sizeof(char *), (int (*)(const void *, const void *)) strcmp_ptr);
}

/* Drops what sysfs no longer has: devices whose remove event we never saw. */
static void inventory_drop_vanished(Inventory *inv, char **names, size_t n) {
        for (size_t i = inv->n_devices; i > 0; i--) {
                const char *address = inv->devices[i - 1]->address;
                if (!name_listed(names, n, address))
                        inventory_remove_device(inv, address);
        }
}

int inventory_load(Inventory *inv) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n, ungrouped = 0;
        int r;

        r = sysfs_list_devices(inv->sysfs_root, &names, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot list PCI devices under %s: %m", inv->sysfs_root);

        inventory_drop_vanished(inv, names, n);
        for (size_t i = 0; i < n; i++) {
                r = inventory_refresh_device(inv, names[i]);
                if (r == -ENOENT) /* went away while we looked */
                        continue;
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_warning_errno(r, "Cannot read PCI device %s, skipping it: %m", names[i]);
                        continue;
                }
                if (r == 0)
                        ungrouped++;
        }
        return (int) ungrouped;
}

int inventory_new(const char *sysfs_root, Inventory **ret) {
        Inventory *inv = calloc(1, sizeof(Inventory));

        if (!inv)
                return -ENOMEM;
        inv->sysfs_root = strdup(sysfs_root);
        if (!inv->sysfs_root) {
                free(inv);
                return -ENOMEM;
        }
        *ret = inv;
        return 0;
}

void inventory_set_observer(Inventory *inv, inventory_observer_t observer, void *userdata) {
        inv->observer = observer;
        inv->userdata = userdata;
}

Inventory *inventory_free(Inventory *inv) {
        if (!inv)
                return NULL;
        FOREACH_ARRAY(d, inv->devices, inv->n_devices)
                device_free(*d);
        FOREACH_ARRAY(g, inv->groups, inv->n_groups)
                group_free(*g);
        free(inv->devices);
        free(inv->groups);
        free(inv->sysfs_root);
        return mfree(inv);
}
