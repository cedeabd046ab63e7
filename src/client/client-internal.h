/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the sources of libvfiod-client share beyond the public header: the project's helpers. Never
 * installed; nothing declared here is exported (libvfiod-client.sym lists what is). */

#include "vfiod-client.h"

#include "macro.h"
