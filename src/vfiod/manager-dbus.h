/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Bus glue for org.vfiod1.Manager and the object tree under /org/vfiod1. */

#include "manager.h"

#define VFIOD_BUS_NAME              "org.vfiod1"
#define VFIOD_OBJECT_PATH           "/org/vfiod1"
#define VFIOD_GROUP_PATH_PREFIX     "/org/vfiod1/group"
#define VFIOD_DEVICE_PATH_PREFIX    "/org/vfiod1/device"
#define VFIOD_LEASE_PATH_PREFIX     "/org/vfiod1/lease"
#define VFIOD_CONTAINER_PATH_PREFIX "/org/vfiod1/container"

/* Connects to the system bus, exports every object and takes the bus name. */
int manager_bus_start(Manager *m);

/* group-dbus.c */
int group_bus_path(const Group *g, char **ret);
int group_bus_register(Manager *m);
void group_bus_emit_changed(Manager *m, Group *g);
/* A device that appeared in (or got a host driver in) a claimed group is being kept on vfio. */
void manager_bus_emit_hotplug_blocked(Manager *m, Group *g, Device *d, const char *host_driver);

/* lease-dbus.c */
int lease_bus_register(Manager *m);

/* container-dbus.c */
int container_bus_register(Manager *m);
void container_bus_emit_changed(Manager *m, struct Container *c);

/* The numeric id at the end of PREFIX/ID (groups, leases, containers): 1 and the id, 0 when path
 * is not such a path, < 0 on error. For object-find callbacks. */
int bus_path_decode_id(const char *path, const char *prefix, uint32_t *ret);

/* Whether the sender of message is root (the admin). */
int bus_sender_is_root(Manager *m, sd_bus_message *message);

/* device-dbus.c */
int device_bus_path(const Device *d, char **ret);
int device_bus_register(Manager *m);
void device_bus_emit_changed(Manager *m, Device *d);
