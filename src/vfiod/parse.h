/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsers for what the kernel prints in sysfs. Pure functions: no I/O, so they are unit-tested
 * and fuzzed on their own. */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

typedef enum RegionType {
        REGION_DIRECT,
        REGION_DIRECT_RELAXABLE,
        REGION_RESERVED,
        REGION_MSI,
        _REGION_TYPE_MAX,
        _REGION_TYPE_INVALID = -EINVAL,
} RegionType;

typedef struct ReservedRegion {
        uint64_t start;
        uint64_t end; /* inclusive, as the kernel prints it */
        RegionType type;
} ReservedRegion;

const char *region_type_to_string(RegionType t);
RegionType region_type_from_string(const char *s);

/* The text of /sys/kernel/iommu_groups/N/reserved_regions: "0x%016llx 0x%016llx <type>\n" per line.
 * A line that does not have this form fails the whole parse with -EBADMSG. */
int parse_reserved_regions(const char *text, ReservedRegion **ret, size_t *ret_n);

/* A sysfs hex attribute such as vendor ("0x8086\n"): the value must fit in max. */
int parse_sysfs_hex(const char *text, uint32_t max, uint32_t *ret);

/* A sysfs decimal attribute such as numa_node ("-1\n"). */
int parse_sysfs_int(const char *text, int *ret);
