/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How vfioctl prints groups and devices: a table and blocks for people (output-text.c), the
 * contract's --json shapes for programs (output-json.c). Both write to stdout and return 0 or
 * -errno; neither logs. */

#include "vfiod-client.h"

int output_list_text(const VfiodInventory *inventory);
int output_show_text(const VfiodGroup *group);

int output_list_json(const VfiodInventory *inventory);
int output_show_json(const VfiodGroup *group);
