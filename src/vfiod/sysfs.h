/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel-facing reads of PCI devices and IOMMU groups from sysfs. The root ("/sys" in
 * production) can point at a generated tree in tests. Nothing here writes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

typedef struct SysfsDevice {
        uint16_t vendor;
        uint16_t product;
        uint32_t class;
        char *driver; /* NULL when no driver is bound */
        bool has_group;
        uint32_t group;
        int numa_node;
} SysfsDevice;

void sysfs_device_done(SysfsDevice *d);

/* The ids that change when another device takes an address: what persistence compares. */
typedef struct DeviceIdentity {
        uint16_t vendor;
        uint16_t device;
        uint16_t subsystem_vendor;
        uint16_t subsystem_device;
        uint32_t class;
} DeviceIdentity;

/* Reads a device's identity; -ENOENT when it is gone. */
int sysfs_read_identity(const char *root, const char *address, DeviceIdentity *ret);

/* A memory BAR's physical address range (inclusive end). */
typedef struct PciBar {
        uint64_t start;
        uint64_t end;
} PciBar;

/* Appends the device's memory BARs (the first six lines of its "resource" file with the memory
 * flag and a start) to *bars. */
int sysfs_read_memory_bars(const char *root, const char *address, PciBar **bars, size_t *n_bars);

/* Reads one device; -ENOENT when it is gone. */
int sysfs_read_device(const char *root, const char *address, SysfsDevice *ret);

bool sysfs_device_exists(const char *root, const char *address);

int sysfs_read_reserved_regions(const char *root, uint32_t group, ReservedRegion **ret, size_t *ret_n);

/* The names under bus/pci/devices, sorted. */
int sysfs_list_devices(const char *root, char ***ret, size_t *ret_n);

/* Reads a whole (small) file into a NUL-terminated string. */
int read_full_file(const char *path, char **ret);
