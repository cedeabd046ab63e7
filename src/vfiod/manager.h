/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon: its event loop, its bus connection and the state everything else hangs off. */

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "inventory.h"
#include "persist.h"
#include "safety.h"
#include "udev-monitor.h"

typedef struct ManagerOptions {
        const char *sysfs_root; /* "/sys" */
        const char *dev_root; /* "/dev" */
        const char *proc_root; /* "/proc" */
        const char *runtime_dir; /* "/run/vfiod": the intent log */
        const char *state_dir; /* "/var/lib/vfiod": persistent assignments */
        const char *modules_dir; /* "/lib/modules/$(uname -r)": for vfio variant drivers */
        const char *config_file; /* "/etc/vfiod/vfiod.json" */
        const char *config_dir; /* "/etc/vfiod/vfiod.d" */
        uint64_t write_timeout_usec; /* how long a kernel write may take before the group is wedged */
        bool watch_uevents; /* off for generated sysfs trees: no kernel events describe them */
} ManagerOptions;

typedef struct Claim Claim;

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        Inventory *inventory;
        DeviceMonitor *device_monitor;
        char *sysfs_root;
        char *dev_root;
        char *proc_root;
        char *runtime_dir;
        char *state_dir;
        char *modules_dir;
        uint64_t write_timeout_usec;
        bool watch_uevents;
        PersistSet persist;
        SafetyReport safety; /* host-critical devices, rescanned when older than a second */
        uint64_t safety_usec;
        Claim *claims; /* hotplugged devices being moved off host drivers */
        unsigned transitions_waiting; /* unassigns waiting for claims in their group */
        struct Lease **leases;
        struct LeaseEnding *lease_endings; /* ended leases whose group waits for the fd store */
        struct Removal *held_removals; /* Unassigns waiting for processes that hold an unleased group */
        size_t n_leases;
        unsigned last_lease_id;
        struct Container **containers;
        size_t n_containers;
        unsigned last_container_id;
        struct PolicyConfig *policy; /* /etc/vfiod/vfiod.json and its drop-ins */
        char *config_file;
        char *config_dir;
        unsigned startup_moves; /* moves that must finish before READY=1 */
        bool ready;
        bool stopping; /* SIGTERM came: no new moves, exit when those in flight end */
} Manager;

int manager_new(const ManagerOptions *options, Manager **ret);
Manager *manager_free(Manager *m);

/* Loads the inventory, connects to the bus and takes the name, then tells the service manager. */
int manager_start(Manager *m);
int manager_run(Manager *m);

/* Called when any move's worker is done with the kernel (the last one ends a pending stop). */
void manager_move_finished(Manager *m);

/* Called when a start-up move (recovery, persistent assignment) completes. */
void manager_startup_move_done(Manager *m);

/* Re-reads one device after a uevent (action NULL: everything, after lost events). */
void manager_handle_device_event(const char *action, const char *address, void *userdata);

/* Looks a device up and checks that sysfs still has it: a device removed under us whose event
 * is still queued must not be handed out. Returns NULL (having dropped it) when it is gone. */
Device *manager_get_live_device(Manager *m, const char *address);
Group *manager_get_live_group(Manager *m, uint32_t id);

/* What the running kernel offers for handing out devices: "group" and/or "iommufd". */
int manager_iommu_backends(Manager *m, char ***ret);
