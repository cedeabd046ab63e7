/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef VFIOD_CLIENT_H
#define VFIOD_CLIENT_H

/* libvfiod-client: talking to vfiod (org.vfiod1 on the system bus) and reading its objects into
 * plain structs. Installed as <vfiod/vfiod-client.h>; it needs nothing but <systemd/sd-bus.h> and
 * the C library (pkg-config: vfiod-client). Documented in libvfiod-client(3), the bus interface in
 * org.vfiod1(5).
 *
 * Nothing here logs: functions return 0 or a negative errno and, for failed calls, fill the
 * caller's sd_bus_error (which may be NULL), so that a program decides itself how to tell its
 * user. Output parameters (ret*) are set only on success. Every function works on any sd_bus
 * connected to the system bus; vfiod_bus_open() is a convenience. Like sd-bus itself, the library
 * is not thread-safe: use one bus, and what came from it, from one thread at a time. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- names (see org.vfiod1(5)) ---- */

#define VFIOD_SERVICE               "org.vfiod1"
#define VFIOD_PATH                  "/org/vfiod1"
#define VFIOD_GROUP_PATH_PREFIX     "/org/vfiod1/group"
#define VFIOD_DEVICE_PATH_PREFIX    "/org/vfiod1/device"
#define VFIOD_LEASE_PATH_PREFIX     "/org/vfiod1/lease"
#define VFIOD_CONTAINER_PATH_PREFIX "/org/vfiod1/container"
#define VFIOD_MANAGER_INTERFACE     "org.vfiod1.Manager"
#define VFIOD_GROUP_INTERFACE       "org.vfiod1.Group"
#define VFIOD_DEVICE_INTERFACE      "org.vfiod1.Device"
#define VFIOD_LEASE_INTERFACE       "org.vfiod1.Lease"
#define VFIOD_CONTAINER_INTERFACE   "org.vfiod1.Container"

/* The daemon's error names. Once vfiod_error_map_register() (or vfiod_bus_open()) has run, calls
 * that fail with one return its errno: NoSuchGroup -ENOENT, NoSuchDevice -ENODEV, InvalidAddress
 * -EINVAL, InvalidOption -EBADRQC, AlreadyAssigned -EALREADY, NotAssigned -ENOTCONN, GroupBusy
 * -EBUSY, NotViable -EXDEV, Unsafe -ECANCELED, Timeout -ETIMEDOUT, Wedged -ENOTRECOVERABLE,
 * Unsupported -EOPNOTSUPP; AccessDenied is -EACCES. */
#define VFIOD_ERROR_PREFIX           "org.vfiod1.Error."
#define VFIOD_ERROR_NO_SUCH_GROUP    VFIOD_ERROR_PREFIX "NoSuchGroup"
#define VFIOD_ERROR_NO_SUCH_DEVICE   VFIOD_ERROR_PREFIX "NoSuchDevice"
#define VFIOD_ERROR_INVALID_ADDRESS  VFIOD_ERROR_PREFIX "InvalidAddress"
#define VFIOD_ERROR_INVALID_OPTION   VFIOD_ERROR_PREFIX "InvalidOption"
#define VFIOD_ERROR_ALREADY_ASSIGNED VFIOD_ERROR_PREFIX "AlreadyAssigned"
#define VFIOD_ERROR_NOT_ASSIGNED     VFIOD_ERROR_PREFIX "NotAssigned"
#define VFIOD_ERROR_GROUP_BUSY       VFIOD_ERROR_PREFIX "GroupBusy"
#define VFIOD_ERROR_NOT_VIABLE       VFIOD_ERROR_PREFIX "NotViable"
#define VFIOD_ERROR_UNSAFE           VFIOD_ERROR_PREFIX "Unsafe"
#define VFIOD_ERROR_TIMEOUT          VFIOD_ERROR_PREFIX "Timeout"
#define VFIOD_ERROR_WEDGED           VFIOD_ERROR_PREFIX "Wedged"
#define VFIOD_ERROR_UNSUPPORTED      VFIOD_ERROR_PREFIX "Unsupported"

/* ---- connection and errors ---- */

/* Opens the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured) and registers vfiod's error names. */
int vfiod_bus_open(sd_bus **ret_bus);

/* Teaches sd-bus vfiod's error names (process-wide, once is enough), so that failed calls return
 * the errno the daemon meant and sd_bus_error_get_errno() gives it. For a program that connects
 * to the bus itself. */
int vfiod_error_map_register(void);

/* True when a call failed because nobody owns org.vfiod1, as opposed to vfiod refusing it. */
bool vfiod_error_is_not_running(const sd_bus_error *e);

/* True for the errors a call on an object that went away gets (UnknownObject, UnknownInterface). */
bool vfiod_error_is_gone(const sd_bus_error *e);

/* One line to tell a user about a failed call: vfiod's own message when it sent one, "vfiod is not
 * running" when it is absent, else the errno text of r. Points into e or to static text, valid as
 * long as e is. */
const char *vfiod_error_message(const sd_bus_error *e, int r);

/* ---- targets ---- */

/* "dddddddd:bb:dd.f" plus NUL: domains are 4 hex digits, rarely up to 8. */
#define VFIOD_PCI_ADDRESS_MAX 17

typedef enum VfiodTargetKind {
        VFIOD_TARGET_GROUP,
        VFIOD_TARGET_DEVICE,
} VfiodTargetKind;

/* What a user names: an IOMMU group, or a device (meaning its group). */
typedef struct VfiodTarget {
        VfiodTargetKind kind;
        uint32_t group; /* VFIOD_TARGET_GROUP */
        char address[VFIOD_PCI_ADDRESS_MAX]; /* VFIOD_TARGET_DEVICE: canonical "dddd:bb:dd.f" */
} VfiodTarget;

/* A decimal group id ("12") or a PCI address ("0000:01:00.0", or "01:00.0" for domain 0000, hex in
 * either case); -EINVAL for anything else. Checks the syntax only; vfiod is not asked. */
int vfiod_target_parse(const char *s, VfiodTarget *ret);

/* Manager.GetGroup(u) and Manager.GetDevice(s): the object path for a group id or an address. */
int vfiod_get_group_path(sd_bus *bus, uint32_t id, sd_bus_error *error, char **ret_path);
int vfiod_get_device_path(sd_bus *bus, const char *address, sd_bus_error *error, char **ret_path);

/* The group a target names: a group id as is, a device through its Group property. Either way
 * vfiod is asked, so that a group or device it does not know fails with its NoSuch* error. Either
 * output may be NULL. */
int vfiod_resolve_target(sd_bus *bus, const VfiodTarget *target, sd_bus_error *error, uint32_t *ret_group,
                         char **ret_group_path);

/* ---- objects ---- */

typedef struct VfiodReservedRegion {
        uint64_t start;
        uint64_t end; /* inclusive */
        char *type; /* "direct", "direct-relaxable", "reserved", "msi" */
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
        uint32_t class_code; /* the Class property ("class" is a C++ keyword) */
        char *driver; /* "" when unbound */
        char *original_driver; /* "" when none recorded */
        uint32_t group;
        bool is_bridge;
        int32_t numa_node; /* -1: the platform does not say */
} VfiodDevice;

typedef struct VfiodGroup {
        char *path;
        uint32_t id;
        char *state; /* host, assigning, vfio, leased, releasing, unassigning, wedged */
        char **devices; /* the Devices property: addresses, NULL-terminated */
        bool viable;
        VfiodReservedRegion *reserved_regions;
        size_t n_reserved_regions;
        char *lease; /* NULL when the group has none (the property says "/") */
        VfiodHolder *holders;
        size_t n_holders;
        /* The kernel says something holds the group that no process names (HeldUnnamed); then
         * the processes with legacy VFIO device fds or mappings, any group's (HolderCandidates). */
        bool held_unnamed;
        VfiodHolder *candidates;
        size_t n_candidates;
        bool persistent;
        char *persistent_skipped; /* "" unless its persistent assignment was skipped at start-up: why */
        char *safety; /* "" when safe to assign, else the reason */

        /* Only in a VfiodInventory: the device objects whose Group is this one, sorted by
         * address. They point into the inventory. */
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
        char *owner; /* unique bus name */
        uint32_t uid;
        uint32_t pid;
        char *container; /* NULL when the property says "/" */
        char *access; /* "fd" or "grant" */
        char *state; /* "active" or "releasing" */
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
 * does not exist (any more) fails with the bus error UnknownObject or UnknownInterface
 * (vfiod_error_is_gone()). The *_free() functions take NULL and return NULL. */
int vfiod_group_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodGroup **ret);
VfiodGroup *vfiod_group_free(VfiodGroup *group);
int vfiod_lease_info_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodLeaseInfo **ret);
VfiodLeaseInfo *vfiod_lease_info_free(VfiodLeaseInfo *lease);
int vfiod_container_info_load(sd_bus *bus, const char *path, sd_bus_error *error, VfiodContainerInfo **ret);
VfiodContainerInfo *vfiod_container_info_free(VfiodContainerInfo *container);

int vfiod_inventory_load(sd_bus *bus, sd_bus_error *error, VfiodInventory **ret);
VfiodInventory *vfiod_inventory_free(VfiodInventory *inventory);

/* The group of the inventory with this id, or NULL. */
const VfiodGroup *vfiod_inventory_find_group(const VfiodInventory *inventory, uint32_t id);

/* ---- assignment (root, or whom vfiod.json or polkit let manage the group) ---- */

/* Moving a group blocks in the kernel at worst until vfiod's own deadline; calls that move wait
 * this long (plus the removal timeout, for Unassign). */
#define VFIOD_MOVE_CALL_TIMEOUT_USEC (UINT64_C(5) * 60 * 1000000)

typedef struct VfiodAssignOptions {
        bool persist; /* re-apply at boot */
        bool force; /* override the safety refusals */
        bool dry_run; /* validate, change nothing */
} VfiodAssignOptions;

typedef struct VfiodUnassignOptions {
        const char *mode; /* "fail", "soft", "hard", "kill"; NULL: the daemon's default */
        uint64_t timeout_usec; /* 0: the daemon's default */
        bool persist; /* forget the persistent assignment too */
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

/* o may be NULL for no options; so may ret_group_path. */
int vfiod_assign(sd_bus *bus, const char *target, const VfiodAssignOptions *o, sd_bus_error *error,
                 char **ret_group_path);
int vfiod_unassign(sd_bus *bus, const char *target, const VfiodUnassignOptions *o, sd_bus_error *error);
int vfiod_plan_assign(sd_bus *bus, const char *target, bool force, sd_bus_error *error, VfiodPlan **ret);
VfiodPlan *vfiod_plan_free(VfiodPlan *plan);

/* ---- leases ---- */

typedef struct VfiodAcquireOptions {
        const char *container; /* sharing key; NULL: the daemon's default (one per owner) */
        const char *interface; /* "auto", "group" or "iommufd"; NULL: the daemon's default (auto) */
        bool grant; /* access "grant": the uid gets the device nodes, no fds come back */
} VfiodAcquireOptions;

typedef struct VfiodLeaseFd {
        char *name; /* the key of Acquire's fds: "container", "group", "iommufd", "device:<address>" */
        int fd; /* ours: a duplicate, >= 3, with FD_CLOEXEC; negative once closed */
} VfiodLeaseFd;

/* The owner's side of a lease. Made by vfiod_acquire() only; read the fields, never write them. */
typedef struct VfiodLease {
        char *path; /* /org/vfiod1/lease/<id> */
        uint32_t *groups; /* the Groups property */
        size_t n_groups;
        char *container; /* the Container property: a /org/vfiod1/container/<id> path, or "/" */
        VfiodLeaseFd *fds;
        size_t n_fds;
        bool revoked; /* set before the revoked handler runs */
} VfiodLease;

/* What a lease owner hears from vfiod. Both arrive only while the bus is processed (an sd-event
 * loop with the bus attached, or sd_bus_process()). */
typedef struct VfiodLeaseHandlers {
        /* Give the fds back (close them everywhere, then vfiod_lease_release()) before
         * deadline_usec (CLOCK_REALTIME microseconds; 0: none): after it vfiod gives up (soft
         * removal) or kills every holder (hard removal). */
        void (*release_requested)(VfiodLease *lease, const char *reason, uint64_t deadline_usec, void *userdata);
        /* The lease is over: the fds no longer work, and Release is not needed. */
        void (*revoked)(VfiodLease *lease, const char *reason, void *userdata);
} VfiodLeaseHandlers;

/* Manager.Acquire(target, options) (o may be NULL): on success *ret holds the lease's path, its
 * Groups and Container, and duplicates of the fds it came with (the reply's own fds die with the
 * reply). A call that failed leaves nothing behind; one that succeeded but whose reply could not
 * be used is released again before returning the error. The lease is tied to this bus connection:
 * it ends when vfiod_lease_release() is called, or when the connection is closed and no process
 * holds the group's fds any more. */
int vfiod_acquire(sd_bus *bus, const char *target, const VfiodAcquireOptions *o, sd_bus_error *error, VfiodLease **ret);

/* Lease.Release(): vfiod ends the lease. Close the fds first: the group is moved or leased again
 * once it is released, and fds still open then keep the device busy. */
int vfiod_lease_release(sd_bus *bus, const VfiodLease *lease, sd_bus_error *error);

/* Subscribes to the lease's ReleaseRequested and Revoked signals; either handler (and handlers)
 * may be NULL. A second call replaces the first. The subscription ends with vfiod_lease_free(). */
int vfiod_lease_watch(sd_bus *bus, VfiodLease *lease, const VfiodLeaseHandlers *handlers, void *userdata);

/* The fd received under name, or -ENOENT. The lease keeps owning it. */
int vfiod_lease_fd(const VfiodLease *lease, const char *name);

/* Closes our copies of the fds (for a parent that handed them to a child); the lease stays. */
void vfiod_lease_close_fds(VfiodLease *lease);

/* Closes the fds and ends the subscription; does not Release (the lease then lasts as long as the
 * connection, or the processes holding the fds). Takes NULL, returns NULL. */
VfiodLease *vfiod_lease_free(VfiodLease *lease);

/* ---- scope-bound cleanup, for __attribute__((cleanup(...))) ---- */

static inline void vfiod_group_freep(VfiodGroup **p) {
        if (*p)
                vfiod_group_free(*p);
}
static inline void vfiod_lease_info_freep(VfiodLeaseInfo **p) {
        if (*p)
                vfiod_lease_info_free(*p);
}
static inline void vfiod_container_info_freep(VfiodContainerInfo **p) {
        if (*p)
                vfiod_container_info_free(*p);
}
static inline void vfiod_inventory_freep(VfiodInventory **p) {
        if (*p)
                vfiod_inventory_free(*p);
}
static inline void vfiod_plan_freep(VfiodPlan **p) {
        if (*p)
                vfiod_plan_free(*p);
}
static inline void vfiod_lease_freep(VfiodLease **p) {
        if (*p)
                vfiod_lease_free(*p);
}

#ifdef __cplusplus
}
#endif

#endif
