/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A generated sysfs tree for tests: the part of /sys that vfiod reads (PCI devices with their
 * attributes, driver and iommu_group links, and IOMMU groups with their member links and
 * reserved regions), laid out and formatted the way the kernel does it, in a temporary
 * directory. Both the unit tests and the make-sysfs-tree tool (for the D-Bus tests) use it. */

#include <stdbool.h>
#include <stdint.h>

/* A device that is in no IOMMU group (as with the IOMMU off). */
#define SYSFS_TREE_NO_GROUP UINT32_MAX

typedef struct SysfsTree SysfsTree;

typedef struct SysfsTreeDevice {
        const char *address; /* canonical, as the kernel names it: "0000:01:01.0" */
        uint32_t group; /* or SYSFS_TREE_NO_GROUP */
        uint16_t vendor;
        uint16_t product;
        uint32_t class;
        const char *driver; /* NULL: unbound */
        int numa_node;
        uint16_t subsystem_vendor;
        uint16_t subsystem_device;
} SysfsTreeDevice;

/* Creates an empty tree (bus/pci/devices, bus/pci/drivers, kernel/iommu_groups) in a new
 * directory made with mkdtemp() under parent (NULL: $TMPDIR, else /dev/shm, else /tmp). It is removed again by
 * sysfs_tree_free() unless sysfs_tree_keep() was called. */
int sysfs_tree_new(const char *parent, SysfsTree **ret);

/* Works on an existing tree (made earlier, e.g. by make-sysfs-tree), which is never removed. */
int sysfs_tree_open(const char *root, SysfsTree **ret);

SysfsTree *sysfs_tree_free(SysfsTree *t);
void sysfs_tree_keep(SysfsTree *t);
const char *sysfs_tree_root(const SysfsTree *t);

/* Adds a device, its group (with an empty reserved_regions file) if that is new, the group's
 * link to it, and the driver directory if the driver is new. -EEXIST if the device exists. */
int sysfs_tree_add_device(SysfsTree *t, const SysfsTreeDevice *d);

/* Removes the device directory and its group link, and the group when it was the last member,
 * as the kernel does on hot-unplug. -ENOENT if there is no such device. */
int sysfs_tree_remove_device(SysfsTree *t, const char *address);

/* Re-points (driver != NULL) or removes (NULL) the device's driver link, as bind/unbind do. */
int sysfs_tree_set_driver(SysfsTree *t, const char *address, const char *driver);

/* Appends a line "0x%016llx 0x%016llx <type>\n" to the group's reserved_regions; creates the
 * group directory if needed. */
int sysfs_tree_add_region(SysfsTree *t, uint32_t group, uint64_t start, uint64_t end, const char *type);

/* Writes text to a file below the root (e.g. to plant a malformed attribute), replacing it. */
int sysfs_tree_write_file(SysfsTree *t, const char *relative_path, const char *text);

/* Adds n devices, each alone in its own group 0..n-1, at 0000:BB:DD.F addresses counted up
 * from 0000:00:00.0 (8 functions a slot, 32 slots a bus); unbound, vendor 1234:11e8. */
int sysfs_tree_add_groups(SysfsTree *t, unsigned n);

/* The address sysfs_tree_add_groups() gives to number i. */
void sysfs_tree_nth_address(unsigned i, char ret[static 17]);

/* The parts of sysfs around the PCI devices that the safety checks follow. Paths are relative
 * to the root; a device path is where the kernel keeps the device, e.g.
 * "devices/pci0000:00/0000:00:1c.0/0000:01:00.0/nvme/nvme0/nvme0n1" (the PCI addresses on it are
 * what a resolved link names). */

/* Creates a directory and its parents below the root. */
int sysfs_tree_mkdir(SysfsTree *t, const char *relative_path);

/* Creates the symlink relative_link (and its parent directories) pointing at relative_target,
 * written as a relative link the way the kernel writes them. The target need not exist yet. */
int sysfs_tree_link(SysfsTree *t, const char *relative_link, const char *relative_target);

/* A block device: its directory at device_path with a "dev" file ("MAJ:MIN\n"), and the link
 * dev/block/MAJ:MIN to it. */
int sysfs_tree_add_block_device(SysfsTree *t, const char *device_path, unsigned major, unsigned minor);

/* A network interface: its directory at device_path, and the link class/net/IFNAME to it. */
int sysfs_tree_add_net_device(SysfsTree *t, const char *device_path, const char *ifname);
