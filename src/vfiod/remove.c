/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the remove policy: asking a lease back, the deadline, and killing holders. */

#include <inttypes.h>
#include <signal.h>

#include "error-message.h"
#include "holders.h"
#include "lease.h"
#include "log.h"
#include "manager-dbus.h"
#include "process.h"
#include "remove.h"

#define KILL_POLL_USEC (100 * 1000)
#define KILL_WAIT_USEC (10 * 1000 * 1000)
#define HELD_POLL_USEC (500 * 1000)

struct Removal {
        struct Removal *next; /* in Manager.held_removals while lease is 0 */
        Manager *manager;
        uint32_t group;
        unsigned lease; /* 0: no lease, processes hold the group's nodes */
        RemoveMode mode;
        uint64_t timeout_usec;
        UnassignOptions options;
        bool unassign; /* move the group back to the host once the lease has ended */
        char *reason; /* for Revoked */
        sd_event_source *timer;
        uint64_t held_deadline; /* without a lease: CLOCK_MONOTONIC end of the wait */
        uint64_t kill_started;
        transition_done_t done;
        void *userdata;
};

static const char *const remove_mode_table[_REMOVE_MODE_MAX] = {
        [REMOVE_FAIL] = "fail",
        [REMOVE_SOFT] = "soft",
        [REMOVE_HARD] = "hard",
        [REMOVE_KILL] = "kill",
};

RemoveMode remove_mode_from_string(const char *s) {
        for (int i = 0; i < _REMOVE_MODE_MAX; i++)
                if (streq(remove_mode_table[i], s))
                        return (RemoveMode) i;
        return _REMOVE_MODE_INVALID;
}

void removal_free(Removal *r) {
        if (!r)
                return;
        for (Removal **p = &r->manager->held_removals; *p; p = &(*p)->next)
                if (*p == r) {
                        *p = r->next;
                        break;
                }
        sd_event_source_disable_unref(r->timer);
        free(r->reason);
        free(r);
}

/* Ends the removal with an error; the lease stays as it was (a released one still releasing,
 * waiting for its holders). */
static void removal_fail(Removal *r, Lease *l, int error, const char *message) {
        Manager *m = r->manager;
        Group *g = inventory_get_group(m->inventory, r->group);
        bool released = l && l->released;

        if (l) {
                l->removal = NULL;
                l->state = released ? LEASE_RELEASING : LEASE_ACTIVE;
                l->deadline_usec = 0;
                lease_bus_emit_changed(m, l);
        }
        if (g && g->state == GROUP_RELEASING && !released)
                inventory_set_group_state(m->inventory, g, r->lease != 0 ? GROUP_LEASED : GROUP_VFIO);
        if (r->done)
                r->done(m, r->group, error, message, r->userdata);
        else
                log_warning("Revoking lease %u failed: %s", r->lease, strempty(message));
        removal_free(r);
}

void remove_lease_ended(Manager *m, Removal *r) {
        _cleanup_free_ char *why = NULL;
        Group *g = inventory_get_group(m->inventory, r->group);
        int k;

        if (!r->unassign) { /* a revocation: the group stays where it is */
                removal_free(r);
                return;
        }
        if (!g) {
                r->done(m, r->group, -ENOENT, "The group went away.", r->userdata);
                removal_free(r);
                return;
        }
        k = unassign_start(m, g, &r->options, r->done, r->userdata, &why);
        if (k < 0)
                r->done(m, r->group, k, why, r->userdata);
        removal_free(r);
}

/* "pid 12 (qemu), pid 34 (sleep)", for messages; NULL when out of memory. */
static char *holders_describe(const Holder *holders, size_t n) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%spid %d (%s)", i > 0 ? ", " : "", (int) holders[i].pid, holders[i].comm);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(text);
}

/* What holds a group that no process names, for messages: what it may be, and the processes that
 * have legacy VFIO device fds or mappings (candidates only: the kernel does not say whose device). */
static char *unnamed_describe(Manager *m) {
        _cleanup_(holders_freep) Holder *candidates = NULL;
        _cleanup_free_ char *names = NULL;
        char *text = NULL;
        size_t n = 0;

        if (holders_scan_vfio_device_users(m->proc_root, &candidates, &n) >= 0 && n > 0)
                names = holders_describe(candidates, n);
        if (asprintf(&text,
                     "something vfiod cannot name (a VFIO device fd or mapping without the group fd, or fds in "
                     "flight in a socket; %s%s)",
                     names ? "processes with VFIO device fds or mappings: "
                           : "no process has VFIO device fds or mappings",
                     strempty(names)) < 0)
                return NULL;
        return text;
}

/* Kills every holder it can find, through the pidfd that was open while its fds were read (a
 * pid alone may have been reused meanwhile); returns how many it found. */
static int kill_holders(Removal *r, Lease *l) {
        _cleanup_(holders_freep) Holder *holders = NULL;
        Manager *m = r->manager;
        size_t n = 0;
        int k, found;

        k = group_scan_holders(m, r->group, &holders, &n);
        if (k < 0)
                return k;
        found = (int) n;
        FOREACH_ARRAY(h, holders, n) {
                log_notice("Killing %s[%d], a holder of IOMMU group %" PRIu32 ".", h->comm, (int) h->pid, r->group);
                (void) process_signal(h->pidfd, SIGKILL);
        }
        /* Device fds of the legacy interface name no group: the owner counts as a holder while it
         * has any VFIO device fd open. Only an owner whose process was pinned, as the caller's
         * uid, when it asked (a lease with Pid 0 has none): never a process that merely got its
         * pid. Anyone else is killed only for holding the group's own nodes. */
        if (l && holders_process_holds_vfio_device(m->proc_root, l->pid, l->pidfd)) {
                log_notice("Killing the owner of lease %u (pid %d), which holds VFIO device fds.", l->id, (int) l->pid);
                (void) process_signal(l->pidfd, SIGKILL);
                found++;
        }
        return found;
}

/* Nothing holds the group of a removal without a lease any more: move it back to the host. */
static void removal_held_let_go(Removal *r) {
        Manager *m = r->manager;
        Group *g = inventory_get_group(m->inventory, r->group);

        if (g && g->state == GROUP_RELEASING)
                inventory_set_group_state(m->inventory, g, GROUP_VFIO);
        log_info("Nothing holds IOMMU group %" PRIu32 " any more: moving it back to the host.", r->group);
        remove_lease_ended(m, r);
}

static int on_kill_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Removal *r = userdata;
        Manager *m = r->manager;
        Lease *l = NULL;
        bool unnamed;
        int found, k;

        if (r->lease != 0) {
                l = manager_get_lease(m, r->lease);
                if (!l) /* it ended meanwhile; lease_end went on with the removal */
                        return 0;
        }
        found = kill_holders(r, l);
        /* Only what was found holding the group is killed; what the kernel says holds it besides
         * is waited for, never guessed at. */
        unnamed = found == 0 && group_held_unnamed(m, r->group);
        if (found == 0 && !unnamed) {
                if (l)
                        lease_end(l, "its holders were killed");
                else
                        removal_held_let_go(r);
                return 0;
        }
        if (usec - r->kill_started > KILL_WAIT_USEC) {
                _cleanup_free_ char *message = NULL, *what = NULL;
                if (unnamed) {
                        what = unnamed_describe(m);
                        (void) set_error_message(
                                &message, -ETIMEDOUT,
                                "IOMMU group %" PRIu32
                                " is still held by %s; vfiod kills only what it finds holding the group.",
                                r->group, strempty(what));
                } else
                        (void) set_error_message(&message, -ETIMEDOUT,
                                                 "The holders of IOMMU group %" PRIu32 " did not die within %d s.",
                                                 r->group, KILL_WAIT_USEC / 1000000);
                log_notice("%s", message);
                removal_fail(r, l, -ETIMEDOUT, message);
                return 0;
        }
        /* A one-shot time source that fired is off: a new time alone would never fire again. */
        k = sd_event_source_set_time_relative(s, KILL_POLL_USEC);
        return k < 0 ? k : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int removal_kill(Removal *r, Lease *l) {
        Manager *m = r->manager;
        int k;

        /* The poll first: when it cannot be armed, nobody was told or killed. */
        r->timer = sd_event_source_disable_unref(r->timer);
        k = sd_event_add_time_relative(m->event, &r->timer, CLOCK_MONOTONIC, KILL_POLL_USEC, 0, on_kill_poll, r);
        if (k < 0)
                return k;
        if (l)
                lease_send_revoked(l, r->reason ?: "the group is taken back; its holders are killed");
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &r->kill_started);
        (void) kill_holders(r, l);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Removal *r = userdata;
        Manager *m = r->manager;
        Lease *l = manager_get_lease(m, r->lease);
        _cleanup_free_ char *message = NULL;
        int k;

        if (!l)
                return 0;
        if (r->mode == REMOVE_SOFT) {
                (void) set_error_message(&message, -ETIMEDOUT,
                                         "The holder of lease %u did not release IOMMU group %" PRIu32
                                         " within %" PRIu64 " s; nothing changed.",
                                         l->id, r->group, r->timeout_usec / 1000000);
                log_notice("%s", message);
                removal_fail(r, l, -ETIMEDOUT, message);
                return 0;
        }
        log_notice("Lease %u was not released in time: killing its holders.", l->id);
        k = removal_kill(r, l);
        if (k < 0)
                removal_fail(r, l, k, "Cannot kill the holders.");
        return 0;
}

static int removal_ask(Removal *r, Lease *l, Group *g) {
        Manager *m = r->manager;
        struct timespec ts;
        int k;

        /* The deadline first: when it cannot be armed, nothing has changed and nobody was asked. */
        k = sd_event_add_time_relative(m->event, &r->timer, CLOCK_MONOTONIC, r->timeout_usec, 0, on_deadline, r);
        if (k < 0)
                return k;
        clock_gettime(CLOCK_REALTIME, &ts);
        l->state = LEASE_RELEASING;
        l->deadline_usec = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000 + r->timeout_usec;
        inventory_set_group_state(m->inventory, g, GROUP_RELEASING);
        lease_bus_emit_changed(m, l);
        lease_send_release_requested(l, "the administrator unassigns the group", l->deadline_usec);
        log_info("Asked the owner of lease %u to release IOMMU group %" PRIu32 " within %" PRIu64 " s (%s).", l->id,
                 g->id, r->timeout_usec / 1000000, remove_mode_table[r->mode]);
        return 0;
}

static int on_held_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Removal *r = userdata;
        _cleanup_(holders_freep) Holder *holders = NULL;
        _cleanup_free_ char *names = NULL, *message = NULL;
        size_t n = 0;
        int k;

        k = group_scan_holders(r->manager, r->group, &holders, &n);
        if (k >= 0 && n == 0 && !group_held_unnamed(r->manager, r->group)) {
                removal_held_let_go(r);
                return 0;
        }
        if (usec < r->held_deadline) {
                k = sd_event_source_set_time_relative(s, HELD_POLL_USEC);
                return k < 0 ? k : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        if (r->mode == REMOVE_HARD) {
                log_notice("IOMMU group %" PRIu32 " is still held after %" PRIu64 " s: killing its holders.", r->group,
                           r->timeout_usec / 1000000);
                k = removal_kill(r, NULL);
                if (k < 0)
                        removal_fail(r, NULL, k, "Cannot kill the holders.");
                return 0;
        }
        names = n > 0 ? holders_describe(holders, n) : unnamed_describe(r->manager);
        (void) set_error_message(&message, -ETIMEDOUT,
                                 "IOMMU group %" PRIu32 " is still held open by %s after %" PRIu64
                                 " s; nothing changed.",
                                 r->group, strempty(names), r->timeout_usec / 1000000);
        log_notice("%s", message);
        removal_fail(r, NULL, -ETIMEDOUT, message);
        return 0;
}

/* A group on vfio without a lease that processes still hold (they opened its nodes themselves, as
 * root): unbinding now would block in the kernel. The mode applies to them as to a lease's
 * holders, with nobody to ask: fail refuses, soft waits for them, hard waits then kills them,
 * kill kills them now; the group is releasing meanwhile. Returns 1 when the removal started, 0
 * when nothing holds the group (or it cannot be told: the move's own deadline then guards it). */
static int remove_held_start(Manager *m, Group *g, RemoveMode mode, uint64_t timeout_usec, const UnassignOptions *o,
                             transition_done_t done, void *userdata, char **ret_message) {
        _cleanup_(holders_freep) Holder *holders = NULL;
        _cleanup_free_ char *names = NULL;
        Removal *r;
        uint64_t now;
        size_t n = 0;
        int k;

        k = group_scan_holders(m, g->id, &holders, &n);
        if (k < 0)
                log_warning_errno(k, "Cannot tell what holds IOMMU group %" PRIu32 ": %m", g->id);
        if (k < 0 || (n == 0 && !group_held_unnamed(m, g->id)))
                return 0;
        names = n > 0 ? holders_describe(holders, n) : unnamed_describe(m);
        if (mode == REMOVE_FAIL)
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is held open by %s.", g->id,
                                         strempty(names));
        r = calloc(1, sizeof(Removal));
        if (!r)
                return -ENOMEM;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        *r = (Removal){ .manager = m,
                        .group = g->id,
                        .mode = mode,
                        .timeout_usec = timeout_usec,
                        .held_deadline = now + timeout_usec,
                        .options = *o,
                        .unassign = true,
                        .done = done,
                        .userdata = userdata };
        k = mode == REMOVE_KILL ? removal_kill(r, NULL)
                                : sd_event_add_time_relative(m->event, &r->timer, CLOCK_MONOTONIC, HELD_POLL_USEC, 0,
                                                             on_held_poll, r);
        if (k < 0) {
                removal_free(r);
                return set_error_message(ret_message, k, "Cannot take IOMMU group %" PRIu32 " back: %s", g->id,
                                         strerror(-k));
        }
        r->next = m->held_removals;
        m->held_removals = r;
        inventory_set_group_state(m->inventory, g, GROUP_RELEASING);
        log_info("IOMMU group %" PRIu32 " is held open by %s: %s (%s).", g->id, strempty(names),
                 mode == REMOVE_KILL ? "killing them" : "waiting for them", remove_mode_table[mode]);
        return 1;
}

int remove_start(Manager *m, Group *g, RemoveMode mode, uint64_t timeout_usec, const UnassignOptions *o,
                 transition_done_t done, void *userdata, char **ret_message) {
        Lease *l = manager_lease_of_group(m, g->id);
        Removal *r;
        int k;

        if (!l && g->state == GROUP_VFIO) {
                k = remove_held_start(m, g, mode, timeout_usec, o, done, userdata, ret_message);
                if (k != 0)
                        return k < 0 ? k : 0;
        }
        if (!l)
                return unassign_start(m, g, o, done, userdata, ret_message);
        if (l->removal)
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is being taken back already.",
                                         g->id);
        if (mode == REMOVE_FAIL)
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is leased (lease %u).", g->id,
                                         l->id);

        r = calloc(1, sizeof(Removal));
        if (!r)
                return -ENOMEM;
        *r = (Removal){ .manager = m,
                        .group = g->id,
                        .lease = l->id,
                        .mode = mode,
                        .timeout_usec = timeout_usec,
                        .options = *o,
                        .unassign = true,
                        .done = done,
                        .userdata = userdata };
        l->removal = r;
        k = mode == REMOVE_KILL ? removal_kill(r, l) : removal_ask(r, l, g);
        if (k < 0) {
                l->removal = NULL;
                removal_free(r);
                return set_error_message(ret_message, k, "Cannot take IOMMU group %" PRIu32 " back: %s", g->id,
                                         strerror(-k));
        }
        return 0;
}

int remove_revoke(Manager *m, Lease *l, const char *reason) {
        Removal *r = l->removal;
        int k;

        if (r && r->mode == REMOVE_KILL && r->kill_started > 0)
                return 0; /* killing already */
        if (!r) {
                r = calloc(1, sizeof(Removal));
                if (!r)
                        return -ENOMEM;
                *r = (Removal){ .manager = m, .group = l->group, .lease = l->id, .mode = REMOVE_KILL };
                l->removal = r;
        }
        r->mode = REMOVE_KILL;
        if (free_and_strdup(&r->reason, reason) < 0)
                log_oom();
        k = removal_kill(r, l);
        if (k < 0) {
                l->removal = NULL;
                removal_fail(r, l, k, "Cannot kill the holders.");
        }
        return k;
}

void removals_free_all(Manager *m) {
        while (m->held_removals)
                removal_free(m->held_removals);
}
