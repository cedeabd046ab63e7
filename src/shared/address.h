/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsing of what users type to name things: PCI addresses, group ids, and targets (either). */

#include <stdbool.h>
#include <stdint.h>

/* "dddddddd:bb:dd.f" plus NUL: domains are 4 hex digits, rarely up to 8 (VMD). */
#define PCI_ADDRESS_MAX 17

/* Accepts "DDDD:BB:DD.F" or "BB:DD.F" (domain 0000), hex in either case; writes the canonical
 * lower-case form the kernel uses in sysfs. Returns -EINVAL for anything else. */
int pci_address_parse(const char *s, char ret[static PCI_ADDRESS_MAX]);

/* A decimal IOMMU group id: digits only, no sign, no leading zeros except "0", below UINT32_MAX. */
int group_id_parse(const char *s, uint32_t *ret);

typedef enum TargetKind {
        TARGET_GROUP,
        TARGET_DEVICE,
} TargetKind;

typedef struct Target {
        TargetKind kind;
        uint32_t group;
        char address[PCI_ADDRESS_MAX];
} Target;

/* A group id or a device address; -EINVAL if it is neither. */
int target_parse(const char *s, Target *ret);
