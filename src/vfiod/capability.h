/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Least privilege: once started, the daemon keeps only the capabilities its work needs, takes
 * every other one out of its bounding set, and sets no_new_privs, whether or not a service
 * manager already limited it (systemd/vfiod.service keeps the same set). */

#include <stdbool.h>

/* allow_noiommu: also keep CAP_SYS_RAWIO, without which no-IOMMU groups cannot be opened. */
int capability_drop_unneeded(bool allow_noiommu);
