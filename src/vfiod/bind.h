/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel-facing: moving PCI devices between drivers through sysfs. Every function here may block
 * (unbinding vfio-pci waits for open device fds), so they only run in a worker process. */

#include <stddef.h>

/* One device's move: from the driver it has to the driver it must end on (NULL: none). */
typedef struct DeviceMove {
        char address[17];
        char *from;
        char *to;
} DeviceMove;

void device_moves_free(DeviceMove *moves, size_t n);

/* The same moves, backwards: what undoes them. */
int device_moves_reverse(const DeviceMove *moves, size_t n, DeviceMove **ret);

/* Puts every device on its target driver: overrides first (so no other driver can grab a device
 * meanwhile), then unbinds, then binds, then verifies. On failure returns -errno and the index
 * of the device that failed in *ret_failed. Idempotent: devices already in place are left alone. */
int bind_apply_moves(const char *sysfs_root, const DeviceMove *moves, size_t n, size_t *ret_failed);

/* Writes driver_override of one device (NULL clears it). */
int bind_set_override(const char *sysfs_root, const char *address, const char *driver);

/* Keeps a device that just appeared off host drivers: override, and unbind whatever won the race. */
int bind_claim_device(const char *sysfs_root, const char *address, const char *driver);

/* The vfio driver for a device: a vfio variant driver when the kernel's modules.alias names one
 * for the device's modalias ("vfio_pci:v...d..."), else vfio-pci. */
int bind_vfio_driver_for(const char *sysfs_root, const char *modules_dir, const char *address, char **ret);

/* The host driver modules.alias names for the device: the one that would take it if nothing
 * stopped it. Returns 1 with its module name, 0 (and NULL) when none matches. */
int bind_host_driver_for(const char *sysfs_root, const char *modules_dir, const char *address, char **ret);

/* Makes sure a driver is registered with the PCI bus, loading its module when the root is the
 * real /sys. Runs modprobe, so it belongs in a worker too. */
int bind_load_driver(const char *sysfs_root, const char *driver);
