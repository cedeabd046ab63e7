/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's one source of truth about IOMMU groups and PCI devices. Bus objects are views of
 * it; changes are announced to a single observer (the bus glue) so that no bus code lives here. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "parse.h"

typedef enum GroupState {
        GROUP_HOST,
        GROUP_ASSIGNING,
        GROUP_VFIO,
        GROUP_LEASED,
        GROUP_RELEASING,
        GROUP_UNASSIGNING,
        GROUP_WEDGED,
        _GROUP_STATE_MAX,
        _GROUP_STATE_INVALID = -EINVAL,
} GroupState;

typedef struct Inventory Inventory;
typedef struct Group Group;
typedef struct Device Device;

struct Device {
        char address[PCI_ADDRESS_MAX];
        uint16_t vendor;
        uint16_t product;
        uint32_t class;
        char *driver; /* NULL: no driver bound */
        char *original_driver; /* the host driver Unassign gives back; NULL until assigned */
        int numa_node;
        Group *group;
};

typedef struct Transition Transition;

struct Group {
        uint32_t id;
        GroupState state;
        Transition *transition; /* the move under way, if any (owned by assign.c) */
        bool claimed; /* the daemon assigned it (or took it over from its intent log) */
        unsigned lease; /* the id of the lease on it, 0 when none */
        char *persist_skipped; /* why its persistent assignment was not applied at start-up, or NULL */
        bool held_unnamed; /* the kernel said held, no process named it (lease.c: group_held_unnamed) */
        Device **devices; /* sorted by address */
        size_t n_devices;
        ReservedRegion *regions;
        size_t n_regions;
};

typedef enum InventoryEvent {
        INVENTORY_GROUP_ADDED, /* after the group is visible */
        INVENTORY_GROUP_REMOVED, /* before it goes, while it is still visible */
        INVENTORY_GROUP_CHANGED,
        INVENTORY_DEVICE_ADDED,
        INVENTORY_DEVICE_REMOVED,
        INVENTORY_DEVICE_CHANGED,
} InventoryEvent;

typedef void (*inventory_observer_t)(Inventory *inv, InventoryEvent event, Group *g, Device *d, void *userdata);

struct Inventory {
        char *sysfs_root;
        Group **groups; /* sorted by id */
        size_t n_groups;
        Device **devices; /* sorted by address; only devices that are in an IOMMU group */
        size_t n_devices;
        inventory_observer_t observer;
        void *userdata;
};

int inventory_new(const char *sysfs_root, Inventory **ret);
Inventory *inventory_free(Inventory *inv);
void inventory_set_observer(Inventory *inv, inventory_observer_t observer, void *userdata);

/* Scans every PCI device and brings the inventory in line with sysfs (also after lost events).
 * Returns the number of devices that have no IOMMU group. */
int inventory_load(Inventory *inv);

/* Re-reads one device from sysfs and adds, updates or removes it to match. Returns -ENOENT
 * (after removing it from the inventory) when the device is gone. */
int inventory_refresh_device(Inventory *inv, const char *address);
void inventory_remove_device(Inventory *inv, const char *address);

/* Sets a state the daemon decided (assignment, leases) and announces it. */
void inventory_set_group_state(Inventory *inv, Group *g, GroupState state);
/* Announce a change the caller made to a device's or group's fields. */
void inventory_device_changed(Inventory *inv, Device *d);
void inventory_group_changed(Inventory *inv, Group *g);

Group *inventory_get_group(Inventory *inv, uint32_t id);
Device *inventory_get_device(Inventory *inv, const char *address);

bool device_is_bridge(const Device *d);
bool device_on_vfio_driver(const Device *d);
bool group_is_viable(const Group *g);
/* A device of g is on a vfio driver: only then has g a node (or cdevs) that a process can hold. */
bool group_has_vfio_device(const Group *g);

const char *group_state_to_string(GroupState s);
GroupState group_state_from_string(const char *s);
