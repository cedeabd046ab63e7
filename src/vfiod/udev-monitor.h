/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel-facing: PCI device events (add, remove, bind, unbind, change) from libudev's netlink
 * monitor, delivered on the event loop. */

#include <systemd/sd-event.h>

typedef struct DeviceMonitor DeviceMonitor;

/* sysname is the PCI address. A NULL action means events were lost (the socket overflowed)
 * and the receiver must rescan everything. */
typedef void (*device_event_handler_t)(const char *action, const char *sysname, void *userdata);

int device_monitor_start(sd_event *event, device_event_handler_t handler, void *userdata, DeviceMonitor **ret);
DeviceMonitor *device_monitor_free(DeviceMonitor *m);
