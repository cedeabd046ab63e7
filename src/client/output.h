/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How vfioctl prints groups and devices: a table and blocks for people (output-text.c), the
 * contract's --json shapes for programs (output-json.c). Both write to stdout and return 0 or
 * -errno; neither logs. */

#include "macro.h"
#include "vfiod-client.h"

int output_list_text(const VfiodInventory *inventory);
/* container: the leased group's container; NULL when not leased or the lease has none (grant). */
int output_show_text(const VfiodGroup *group, const VfiodContainerInfo *container);
/* lease: NULL when the group is not leased. */
int output_holders_text(const VfiodGroup *group, const VfiodLeaseInfo *lease);

int output_list_json(const VfiodInventory *inventory);
int output_show_json(const VfiodGroup *group, const VfiodContainerInfo *container);
int output_holders_json(const VfiodGroup *group, const VfiodLeaseInfo *lease);

/* What `vfioctl monitor` reports: one line (or one JSON object) per event. */
typedef enum MonitorEventType {
        EVENT_GROUP_ADDED,
        EVENT_GROUP_REMOVED,
        EVENT_GROUP_STATE,
        EVENT_DEVICE_ADDED,
        EVENT_DEVICE_REMOVED,
        EVENT_DEVICE_DRIVER,
        EVENT_HOTPLUG_BLOCKED,
        EVENT_LEASE_ADDED,
        EVENT_LEASE_STATE,
        EVENT_LEASE_ENDED,
        EVENT_CONTAINER_ADDED,
        EVENT_CONTAINER_REMOVED,
        EVENT_VFIOD_STOPPED,
        EVENT_VFIOD_STARTED,
        _EVENT_MAX,
        _EVENT_INVALID = -EINVAL,
} MonitorEventType;

typedef struct MonitorEvent {
        MonitorEventType type;
        uint64_t time_usec; /* CLOCK_REALTIME, when we heard of it */
        const char *path; /* the object's, for object events */
        bool has_group; /* group events; device events when the group is known; hotplug */
        uint32_t group;
        const char *device; /* device events, hotplug: the address */
        const char *old_value; /* *_STATE: the state before; DEVICE_DRIVER: the driver before ("" none) */
        const char *value; /* *_STATE, GROUP_ADDED: the state; DEVICE_*: the driver; HOTPLUG_BLOCKED:
                            * the host driver the device had ("" none) */
        const VfiodLeaseInfo *lease; /* LEASE_ADDED, LEASE_STATE */
        const VfiodContainerInfo *container; /* CONTAINER_ADDED */
} MonitorEvent;

/* The event's name in JSON ("group-state"), or NULL. */
const char *monitor_event_type_to_string(MonitorEventType t);

int output_event_text(const MonitorEvent *event);
int output_event_json(const MonitorEvent *event);

/* A CLOCK_REALTIME timestamp in local time as "2026-11-22T02:10:03", as monitor and holders print
 * them. */
#define FORMAT_TIME_MAX sizeof("-2147483648-12-31T23:59:59")
const char *format_time(uint64_t usec, char buf[static FORMAT_TIME_MAX]);
