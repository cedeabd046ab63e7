/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: start-up order, the event loop, and dispatching uevents to the inventory. */

#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "assign.h"
#include "authorize.h"
#include "capability.h"
#include "container.h"
#include "lease-store.h"
#include "lease.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "policy.h"
#include "remove.h"
#include "sysfs.h"
#include "user-groups.h"

int manager_new(const ManagerOptions *options, Manager **ret) {
        Manager *m;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->watch_uevents = options->watch_uevents;
        m->write_timeout_usec = options->write_timeout_usec;
        m->sysfs_root = strdup(options->sysfs_root);
        m->dev_root = strdup(options->dev_root);
        m->proc_root = strdup(options->proc_root);
        m->runtime_dir = strdup(options->runtime_dir);
        m->state_dir = strdup(options->state_dir);
        m->modules_dir = strdup(options->modules_dir);
        m->config_file = strdup(options->config_file);
        m->config_dir = strdup(options->config_dir);
        if (!m->sysfs_root || !m->dev_root || !m->proc_root || !m->runtime_dir || !m->state_dir || !m->modules_dir ||
            !m->config_file || !m->config_dir) {
                r = -ENOMEM;
                goto fail;
        }
        r = inventory_new(m->sysfs_root, &m->inventory);
        if (r < 0)
                goto fail;
        r = sd_event_default(&m->event);
        if (r < 0)
                goto fail;
        /* WATCHDOG_USEC from the service manager: the loop itself sends the keep-alives, so a
         * daemon that stops serving (stuck, stopped) is restarted. A no-op outside systemd. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                goto fail;
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        if (m->inventory)
                assign_release_all(m);
        leases_free_all(m);
        removals_free_all(m);
        containers_free_all(m);
        device_monitor_free(m->device_monitor);
        sd_bus_flush_close_unref(m->bus);
        inventory_free(m->inventory);
        sd_event_unref(m->event);
        persist_set_done(&m->persist);
        safety_report_done(&m->safety);
        free(m->sysfs_root);
        free(m->dev_root);
        free(m->proc_root);
        free(m->runtime_dir);
        free(m->state_dir);
        free(m->modules_dir);
        free(m->config_file);
        free(m->config_dir);
        policy_free(m->policy);
        caller_identity_cache_clear();
        return mfree(m);
}

/* A device of a leased group is gone: its owner hears of it, and a lease whose group is gone
 * altogether ends. l and group are what the device belonged to before it went. */
static void revoke_for_removed_device(Manager *m, Lease *l, uint32_t group, const char *address) {
        if (!l)
                return;
        log_notice("Device %s of leased IOMMU group %" PRIu32 " was removed.", address, group);
        lease_send_revoked(l, "device-removed");
        if (!inventory_get_group(m->inventory, group))
                lease_end(l, "its devices are gone");
}

static Lease *lease_of_device(Manager *m, const char *address, uint32_t *ret_group) {
        Device *d = inventory_get_device(m->inventory, address);

        *ret_group = d ? d->group->id : 0;
        return d ? manager_lease_of_group(m, *ret_group) : NULL;
}

static void manager_remove_device(Manager *m, const char *address) {
        uint32_t group;
        Lease *l = lease_of_device(m, address, &group);

        inventory_remove_device(m->inventory, address);
        revoke_for_removed_device(m, l, group, address);
}

void manager_handle_device_event(const char *action, const char *address, void *userdata) {
        Manager *m = userdata;
        uint32_t group;
        Device *d;
        Lease *l, *now;
        bool known;
        int r;

        if (!action) {
                (void) inventory_load(m->inventory);
                FOREACH_ARRAY(i, m->inventory->devices, m->inventory->n_devices)
                        assign_claim_device(m, *i, "bind");
                return;
        }
        log_debug("uevent %s %s", action, address);
        /* Events are handled late: a device already gone from sysfs is a removal, whatever the
         * event said (an unbind arrives just before the remove). */
        if (streq(action, "remove") || !sysfs_device_exists(m->sysfs_root, address)) {
                manager_remove_device(m, address);
                return;
        }
        known = inventory_get_device(m->inventory, address);
        l = lease_of_device(m, address, &group);
        r = inventory_refresh_device(m->inventory, address);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Cannot re-read PCI device %s after '%s': %m", address, action);
        d = inventory_get_device(m->inventory, address);
        /* A refresh drops a device that went while we read it, and one that lost its IOMMU group:
         * an unplugged device loses its iommu_group link before its directory goes and before the
         * kernel sends "remove", so an "unbind" handled late (udevd delays every event) meets it
         * so. Its lease's owner must hear of it now; the "remove" that follows finds it gone. */
        if (!d) {
                revoke_for_removed_device(m, l, group, address);
                return;
        }
        /* A device that joined a leased group is reachable through the lessee's group fd once it
         * is on vfio: its owner must be allowed the grown group. Asked first, so that a refusal
         * (from a rule, at once) revokes the lease before the claim below binds the device. */
        now = manager_lease_of_group(m, d->group->id);
        if (now && (!known || group != d->group->id))
                lease_reauthorize(now, address);
        assign_claim_device(m, d, action);
}

Device *manager_get_live_device(Manager *m, const char *address) {
        Device *d = inventory_get_device(m->inventory, address);

        if (d && !sysfs_device_exists(m->sysfs_root, address)) {
                log_info("PCI device %s is gone from sysfs, dropping it.", address);
                manager_remove_device(m, address);
                return NULL;
        }
        return d;
}

Group *manager_get_live_group(Manager *m, uint32_t id) {
        Group *g = inventory_get_group(m->inventory, id);

        /* Dropping the last vanished member drops the group, so look it up again each time. */
        for (size_t i = g ? g->n_devices : 0; g && i > 0; i--) {
                manager_get_live_device(m, g->devices[i - 1]->address);
                g = inventory_get_group(m->inventory, id);
        }
        return g;
}

static bool path_exists(const char *root, const char *path) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/%s", root, path) < 0)
                return false;
        return access(p, F_OK) >= 0;
}

int manager_iommu_backends(Manager *m, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(3, sizeof(char *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        /* The legacy interface exists once vfio is loaded (or built in); the daemon loads it
         * when it assigns, so a present module counts as offered. */
        if (path_exists(m->dev_root, "vfio/vfio") || path_exists(m->sysfs_root, "module/vfio"))
                if (!(l[n++] = strdup("group")))
                        return -ENOMEM;
        if (path_exists(m->dev_root, "iommu"))
                if (!(l[n++] = strdup("iommufd")))
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

static void notify_ready(Manager *m) {
        m->ready = true;
        (void) sd_notify(false, "READY=1\nSTATUS=Serving.");
        log_info("Ready.");
}

void manager_startup_move_done(Manager *m) {
        if (m->startup_moves > 0 && --m->startup_moves == 0 && !m->ready)
                notify_ready(m);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_warning("Moves are still blocked in the kernel; exiting anyway (the intent log has them).");
        return sd_event_exit(m->event, 0);
}

void manager_move_finished(Manager *m) {
        if (m->stopping && !assign_moves_in_flight(m)) {
                log_info("No move is in flight any more, exiting.");
                (void) sd_event_exit(m->event, 0);
        }
}

/* A group is never left half moved by a stop: moves in flight finish (or roll back) first, new
 * ones are refused, and a move stuck in the kernel is waited for no longer than a write may
 * take; the intent log finishes it at the next start. */
static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        int r;

        if (m->stopping)
                return 0;
        m->stopping = true;
        (void) sd_notify(false, "STOPPING=1");
        if (!assign_moves_in_flight(m)) {
                log_info("Received %s, exiting.", strsignal((int) si->ssi_signo));
                return sd_event_exit(m->event, 0);
        }
        log_info("Received %s; letting the moves in flight finish first.", strsignal((int) si->ssi_signo));
        r = sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, m->write_timeout_usec + 5 * 1000000ULL, 0,
                                       on_stop_timeout, m);
        return r < 0 ? sd_event_exit(m->event, 0) : 0;
}

static int load_policy(Manager *m) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = policy_load(m->config_file, m->config_dir, &m->policy, &error);
        if (r < 0) {
                if (error)
                        return log_error_errno(r, "Bad configuration, refusing to start: %s", error);
                return log_error_errno(r, "Cannot read the configuration %s: %m", m->config_file);
        }
        log_debug("Configuration: remove mode %s, %zu rules.", m->policy->remove_mode, m->policy->n_rules);
        log_info("Rules' names are resolved to ids in the user database, and a caller's groups looked up for "
                 "its uid (the primary group and getgrouplist), at most once per %llu s each; the bus's word is "
                 "taken for uid and pid only.",
                 USER_GROUPS_LIFETIME_USEC / 1000000ULL);
        return 0;
}

int manager_start(Manager *m) {
        sigset_t mask;
        int r;

        /* A bad configuration stops us before we touch anything. */
        r = load_policy(m);
        if (r < 0)
                return r;

        /* Workers are children: their exit is watched through the event loop. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(negative_errno(), "Cannot block signals: %m");

        if (mkdir(m->runtime_dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Cannot create %s: %m", m->runtime_dir);

        /* Subscribe before the scan, so that nothing that happens during it is missed. */
        if (m->watch_uevents) {
                r = device_monitor_start(m->event, manager_handle_device_event, m, &m->device_monitor);
                if (r < 0)
                        return r;
        }

        r = inventory_load(m->inventory);
        if (r < 0)
                return r;
        if (r > 0)
                log_notice("%d PCI devices have no IOMMU group (is the IOMMU enabled?).", r);
        log_info("Found %zu IOMMU groups with %zu devices.", m->inventory->n_groups, m->inventory->n_devices);

        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch signals: %m");

        /* Finish what a killed daemon left half done and re-apply persistent assignments; the bus
         * shows their progress, READY=1 waits for them. */
        r = assign_recover(m);
        if (r < 0)
                return r;

        /* Leases and containers of a previous run, on the groups just taken back. */
        r = lease_store_restore(m);
        if (r < 0)
                return r;

        r = manager_bus_start(m);
        if (r < 0)
                return r;
        leases_watch_restored_owners(m);

        /* Serving needs less than starting did (the bus, the scan, the recovery are done). */
        r = capability_drop_unneeded(m->policy->allow_noiommu);
        if (r < 0)
                return r;

        if (m->startup_moves == 0)
                notify_ready(m);
        else
                (void) sd_notify(false, "STATUS=Finishing start-up moves.");
        return 0;
}

int manager_run(Manager *m) {
        return sd_event_loop(m->event);
}
