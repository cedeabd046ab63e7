/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Which PCI devices the host cannot do without: the boot VGA or the console's device, the PCI
 * path to a mounted block device or active swap, the network device of the default route. A
 * group holding one of them is refused for assignment unless forced. Kernel-facing reads of
 * sysfs and procfs, both under configurable roots. */

#include <stddef.h>

typedef struct SafetyEntry {
        char *address;
        char *reason;
} SafetyEntry;

typedef struct SafetyReport {
        SafetyEntry *entries;
        size_t n;
} SafetyReport;

int safety_scan(const char *sysfs_root, const char *proc_root, SafetyReport *ret);
void safety_report_done(SafetyReport *r);

/* The reason the device is critical, or NULL. */
const char *safety_reason(const SafetyReport *r, const char *address);

/* Every PCI address that appears as a component of a (resolved) sysfs path, in order. */
int pci_addresses_in_path(const char *path, char ***ret, size_t *ret_n);
