/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The client library: talking to vfiod on the system bus and reading its objects into plain structs.
 * Nothing here logs: functions return -errno and, for failed calls, fill the caller's sd_bus_error,
 * so that a program decides itself how to tell its user. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "address.h"
#include "macro.h"

#define VFIOD_SERVICE "org.vfiod1"
#define VFIOD_PATH "/org/vfiod1"
#define VFIOD_GROUP_PATH_PREFIX "/org/vfiod1/group"
#define VFIOD_DEVICE_PATH_PREFIX "/org/vfiod1/device"
#define VFIOD_LEASE_PATH_PREFIX "/org/vfiod1/lease"
#define VFIOD_CONTAINER_PATH_PREFIX "/org/vfiod1/container"
#define VFIOD_MANAGER_INTERFACE "org.vfiod1.Manager"
#define VFIOD_GROUP_INTERFACE "org.vfiod1.Group"
#define VFIOD_DEVICE_INTERFACE "org.vfiod1.Device"
#define VFIOD_LEASE_INTERFACE "org.vfiod1.Lease"
#define VFIOD_CONTAINER_INTERFACE "org.vfiod1.Container"

/* ---- connection and errors (client-bus.c) ---- */

/* Opens the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured) and teaches it vfiod's error names,
 * so that sd_bus_error_get_errno() gives the errno the daemon meant. */
int vfiod_bus_open(sd_bus **ret_bus);

/* True when a call failed because nobody owns org.vfiod1, as opposed to vfiod refusing it. */
bool vfiod_error_is_not_running(const sd_bus_error *e);

/* What to tell a user about a failed call: vfiod's own message when it sent one, "vfiod is not
 * running" when it is absent, else the errno text. Returns the contract's exit code for it. The
 * message points into e or to static text, valid as long as e is. */
int vfiod_error_describe(const sd_bus_error *e, int r, const char **ret_message);

/* Manager.GetGroup(u) and Manager.GetDevice(s): the object path for a group id or an address. */
int vfiod_get_group_path(sd_bus *bus, uint32_t id, sd_bus_error *error, char **ret_path);
int vfiod_get_device_path(sd_bus *bus, const char *address, sd_bus_error *error, char **ret_path);

/* The group a target names: a group id as is, a device through its Group property. Either way
 * vfiod is asked, so that a group or device it does not know fails with its NoSuch* error. */
int vfiod_resolve_target(sd_bus *bus, const Target *target, sd_bus_error *error, uint32_t *ret_group,
                         char **ret_group_path);

/* ---- objects (client-objects.c) ---- */

typedef struct VfiodReservedRegion {
        uint64_t start;
        uint64_t end;
        char *type;
} VfiodReservedRegion;

typedef struct VfiodHolder {
        uint32_t pid;
        char *comm;
} VfiodHolder;

typedef struct VfiodDevice {
        char *path;
        char *address;
        uint16_t vendor;
        uint16_t product;
        uint32_t class;
        char *driver;          /* "" when unbound */
        char *original_driver; /* "" when none recorded */
        uint32_t group;
        bool is_bridge;
        int32_t numa_node;
} VfiodDevice;

typedef struct VfiodGroup {
        char *path;
        uint32_t id;
        char *state;
        char **devices; /* the Devices property: addresses, NULL-terminated */
        bool viable;
        VfiodReservedRegion *reserved_regions;
        size_t n_reserved_regions;
        char *lease; /* NULL when the group has none (the property says "/") */
        VfiodHolder *holders;
        size_t n_holders;
        bool persistent;
        char *safety; /* "" when safe to assign */

        /* The device objects whose Group is this one, sorted by address. They point into the
         * owning VfiodInventory, which outlives them. */
        VfiodDevice **members;
        size_t n_members;
} VfiodGroup;

/* Everything vfiod exports, from one GetManagedObjects call: one consistent snapshot. */
typedef struct VfiodInventory {
        VfiodGroup *groups; /* sorted by id */
        size_t n_groups;
        VfiodDevice *devices; /* sorted by address */
        size_t n_devices;
} VfiodInventory;

/* A Lease object as anybody may read it (VfiodLease below is the owner's side, with the fds). */
typedef struct VfiodLeaseInfo {
        char *path;
        char *id;
        uint32_t *groups;
        size_t n_groups;
        char *owner;     /* unique bus name */
        uint32_t uid;
        uint32_t pid;
        char *container; /* NULL when the property says "/" */
        char *access;    /* "fd" or "grant" */
        char *state;     /* "active" or "releasing" */
        uint64_t deadline_usec; /* CLOCK_REALTIME; 0: none */
} VfiodLeaseInfo;

typedef struct VfiodIovaRange {
        uint64_t start;
        uint64_t end; /* inclusive */
} VfiodIovaRange;

typedef struct VfiodContainerInfo {
        char *path;
        char *iommu_model;
        uint32_t *groups;
        size_t n_groups;
        VfiodIovaRange *iova_ranges;
        size_t n_iova_ranges;
        uint64_t page_sizes; /* bitmap of the IOMMU page sizes */
        char *sharing_key;
        char *owner;
} VfiodContainerInfo;

/* Read one a{sv} of the interface's properties (GetAll, InterfacesAdded, GetManagedObjects) into
 * the struct, which starts zeroed or holds an earlier reading. With update set the properties are
 * the changed ones of a PropertiesChanged signal: those absent keep their values, and none is
 * required. Unknown properties are skipped; a known one of another type is -EBADMSG. */
int vfiod_group_read_properties(sd_bus_message *m, VfiodGroup *group, bool update);
int vfiod_device_read_properties(sd_bus_message *m, VfiodDevice *device, bool update);
int vfiod_lease_info_read_properties(sd_bus_message *m, VfiodLeaseInfo *lease, bool update);
int vfiod_container_info_read_properties(sd_bus_message *m, VfiodContainerInfo *container, bool update);

/* Free what the structs own, not the structs; they are left zeroed. */
void vfiod_group_done(VfiodGroup *group);
void vfiod_device_done(VfiodDevice *device);
void vfiod_lease_info_done(VfiodLeaseInfo *lease);
void vfiod_container_info_done(VfiodContainerInfo *container);

/* One object read on its own with GetAll. A group read this way has no members. An object that
 * does not exist (any more) fails with the bus error UnknownObject or UnknownInterface. */
int vfiod_group_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodGroup **ret);
VfiodGroup *vfiod_group_free(VfiodGroup *group);
DEFINE_TRIVIAL_CLEANUP_FUNC(VfiodGroup *, vfiod_group_free);
int vfiod_lease_info_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodLeaseInfo **ret);
VfiodLeaseInfo *vfiod_lease_info_free(VfiodLeaseInfo *lease);
DEFINE_TRIVIAL_CLEANUP_FUNC(VfiodLeaseInfo *, vfiod_lease_info_free);
int vfiod_container_info_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodContainerInfo **ret);
VfiodContainerInfo *vfiod_container_info_free(VfiodContainerInfo *container);
DEFINE_TRIVIAL_CLEANUP_FUNC(VfiodContainerInfo *, vfiod_container_info_free);

/* True for the errors a call on an object that went away gets. */
bool vfiod_error_is_gone(const sd_bus_error *e);

int vfiod_inventory_load(sd_bus *bus, sd_bus_error *error, VfiodInventory **ret);
VfiodInventory *vfiod_inventory_free(VfiodInventory *inventory);
DEFINE_TRIVIAL_CLEANUP_FUNC(VfiodInventory *, vfiod_inventory_free);
#define _cleanup_inventory_free_ _cleanup_(vfiod_inventory_freep)

const VfiodGroup *vfiod_inventory_find_group(const VfiodInventory *inventory, uint32_t id);

/* ---- assignment (client-assign.c) ---- */

/* Moving a group blocks in the kernel at worst until vfiod's own deadline; wait longer than that. */
#define VFIOD_MOVE_CALL_TIMEOUT_USEC (5 * 60 * 1000000ULL)

typedef struct VfiodAssignOptions {
        bool persist;
        bool force;
        bool dry_run;
} VfiodAssignOptions;

typedef struct VfiodUnassignOptions {
        const char *mode;      /* NULL: the daemon's default */
        uint64_t timeout_usec; /* 0: the daemon's default */
        bool persist;
} VfiodUnassignOptions;

typedef struct VfiodMove {
        char *address;
        char *from; /* "" for no driver */
        char *to;
} VfiodMove;

/* Manager.PlanAssign: what Assign would do and whether it may. */
typedef struct VfiodPlan {
        char *group_path;
        VfiodMove *moves;
        size_t n_moves;
        char *error_name; /* "" when the assignment would go ahead */
        char *message;
} VfiodPlan;

int vfiod_assign(sd_bus *bus, const char *target, const VfiodAssignOptions *o, sd_bus_error *error,
                 char **ret_group_path);
int vfiod_unassign(sd_bus *bus, const char *target, const VfiodUnassignOptions *o, sd_bus_error *error);
int vfiod_plan_assign(sd_bus *bus, const char *target, bool force, sd_bus_error *error, VfiodPlan **ret);
VfiodPlan *vfiod_plan_free(VfiodPlan *plan);
DEFINE_TRIVIAL_CLEANUP_FUNC(VfiodPlan *, vfiod_plan_free);

/* ---- leases (client-lease.c) ---- */

typedef struct VfiodAcquireOptions {
        const char *container; /* sharing key; NULL: the daemon's default (one per owner) */
        const char *interface; /* "auto", "group" or "iommufd"; NULL: the daemon's default (auto) */
        bool grant;            /* access "grant": the uid gets the device nodes, no fds come back */
} VfiodAcquireOptions;

typedef struct VfiodLeaseFd {
        char *name; /* the key of Acquire's fds: "container", "group", "iommufd", "device:<address>" */
        int fd;     /* ours: a duplicate, >= 3, with FD_CLOEXEC; -EBADF once closed */
} VfiodLeaseFd;

typedef struct VfiodLease VfiodLease;

/* What a lease owner hears from vfiod. Both arrive only while the caller's bus is processed (an
 * sd-event loop with the bus attached, or sd_bus_process()). */
typedef struct VfiodLeaseHandlers {
        /* Give the fds back (close them, then Release) before deadline_usec (CLOCK_REALTIME, 0:
         * none): after it vfiod may kill the holders. */
        void (*release_requested)(VfiodLease *lease, const char *reason, uint64_t deadline_usec,
                                  void *userdata);
        /* The lease is over: the fds no longer work, and Release is not needed. */
        void (*revoked)(VfiodLease *lease, const char *reason, void *userdata);
} VfiodLeaseHandlers;

struct VfiodLease {
        char *path;       /* /org/vfiod1/lease/<id> */
        uint32_t *groups; /* the Groups property */
        size_t n_groups;
        char *container;  /* the Container property: a /org/vfiod1/container/<id> path, or "/" */
        VfiodLeaseFd *fds;
        size_t n_fds;
        bool revoked;     /* set before the revoked handler runs */

        /* private */
        sd_bus_slot *slot_release_requested;
        sd_bus_slot *slot_revoked;
        VfiodLeaseHandlers handlers;
        void *userdata;
};

/* Manager.Acquire(target, options): on success *ret holds the lease's path, its Groups and
 * Container, and duplicates of the fds it came with (the reply's own fds die with the reply). A
 * call that failed leaves nothing behind; one that succeeded but whose reply could not be used
 * is released again before returning the error. */
int vfiod_acquire(sd_bus *bus, const char *target, const VfiodAcquireOptions *o, sd_bus_error *error,
                  VfiodLease **ret);

/* Lease.Release(): vfiod ends the lease (the fds stop being accounted to the caller). */
int vfiod_lease_release(sd_bus *bus, const VfiodLease *lease, sd_bus_error *error);

/* Subscribes to the lease's ReleaseRequested and Revoked signals; either handler may be NULL.
 * The subscription ends with vfiod_lease_free(). */
int vfiod_lease_watch(sd_bus *bus, VfiodLease *lease, const VfiodLeaseHandlers *handlers, void *userdata);

/* The fd received under name, or -ENOENT. The lease keeps owning it. */
int vfiod_lease_fd(const VfiodLease *lease, const char *name);

/* Closes our copies of the fds (for a parent that handed them to a child); the lease stays. */
void vfiod_lease_close_fds(VfiodLease *lease);

/* Closes the fds and ends the subscription; does not Release (the lease then lasts as long as the
 * connection, or the processes holding the fds). */
VfiodLease *vfiod_lease_free(VfiodLease *lease);
DEFINE_TRIVIAL_CLEANUP_FUNC(VfiodLease *, vfiod_lease_free);
