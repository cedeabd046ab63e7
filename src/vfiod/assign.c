/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: group moves host <-> vfio with rollback, hotplug claims, and start-up recovery. */

#include <inttypes.h>
#include <stdarg.h>

#include "assign.h"
#include "error-message.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager-dbus.h"
#include "worker.h"

#define SAFETY_CACHE_USEC (1000 * 1000)

struct Transition {
        Manager *manager;
        uint32_t group;
        DeviceMove *moves; /* host -> vfio, as journaled */
        size_t n_moves;
        DeviceMove *run_moves; /* what the worker applies now: moves, or their reverse */
        bool to_vfio; /* the direction of run_moves */
        bool rollback; /* undoing a failed move */
        PersistChange persist; /* once it succeeds (a rollback keeps them as they are) */
        bool startup; /* counts in manager->startup_moves */
        bool waiting_for_claims; /* an unassign waiting for hotplug claims in the group to finish */
        Worker *worker;
        int error; /* the failure that caused the rollback */
        char *message;
        transition_done_t done;
        void *userdata;
};

struct Claim {
        Claim *next;
        Manager *manager;
        char address[PCI_ADDRESS_MAX];
        Worker *worker;
        bool blocked; /* its kernel write did not return in time */
};

typedef struct MoveResult {
        size_t failed;
} MoveResult;

/* Claimed groups keep hotplugged devices off host drivers, except while they are going back. */
static bool group_is_claimed(const Group *g) {
        return g->claimed && (g->state == GROUP_VFIO || g->state == GROUP_LEASED || g->state == GROUP_RELEASING ||
                              g->state == GROUP_ASSIGNING);
}

int assign_safety_verdict(Manager *m, Group *g, char **ret) {
        uint64_t now;
        int r;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (!m->safety_usec || now - m->safety_usec > SAFETY_CACHE_USEC) {
                SafetyReport fresh;

                r = safety_scan(m->sysfs_root, m->proc_root, &fresh);
                if (r < 0)
                        return r;
                safety_report_done(&m->safety);
                m->safety = fresh;
                m->safety_usec = now;
        }
        *ret = NULL;
        FOREACH_ARRAY(d, g->devices, g->n_devices) {
                const char *reason = safety_reason(&m->safety, (*d)->address);
                if (reason)
                        return asprintf(ret, "%s: %s", (*d)->address, reason) < 0 ? -ENOMEM : 0;
        }
        return 0;
}

static int plan_moves(Manager *m, Group *g, DeviceMove **ret, size_t *ret_n) {
        DeviceMove *moves = calloc(g->n_devices ?: 1, sizeof(DeviceMove));
        size_t n = 0;
        int r;

        if (!moves)
                return -ENOMEM;
        FOREACH_ARRAY(i, g->devices, g->n_devices) {
                Device *d = *i;

                if (device_is_bridge(d)) /* bridges stay on pcieport or unbound */
                        continue;
                memcpy(moves[n].address, d->address, sizeof(d->address));
                r = bind_vfio_driver_for(m->sysfs_root, m->modules_dir, d->address, &moves[n].to);
                if (r >= 0 && d->driver && !device_on_vfio_driver(d) && !(moves[n].from = strdup(d->driver)))
                        r = -ENOMEM;
                n++;
                if (r < 0) {
                        device_moves_free(moves, n);
                        return r;
                }
        }
        *ret = moves;
        *ret_n = n;
        return 0;
}

static int check_assignable(Manager *m, Group *g, bool force, char **ret_message) {
        _cleanup_free_ char *unsafe = NULL;
        int r;

        if (m->stopping)
                return set_error_message(ret_message, -EBUSY, "vfiod is stopping; ask again once it is back.");
        if (g->transition || g->state == GROUP_ASSIGNING || g->state == GROUP_UNASSIGNING)
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is being moved.", g->id);
        if (g->state == GROUP_WEDGED)
                return set_error_message(ret_message, -ENOTRECOVERABLE, "IOMMU group %" PRIu32 " is wedged.", g->id);
        if (g->state != GROUP_HOST)
                return set_error_message(ret_message, -EALREADY, "IOMMU group %" PRIu32 " is already assigned (%s).",
                                         g->id, group_state_to_string(g->state));

        FOREACH_ARRAY(i, g->devices, g->n_devices) {
                Device *d = *i;
                if (device_is_bridge(d) && d->driver && !streq(d->driver, "pcieport") && !streq(d->driver, "pci-stub"))
                        return set_error_message(ret_message, -EXDEV,
                                                 "Bridge %s is bound to %s, which keeps IOMMU group %" PRIu32
                                                 " from being used by VFIO.",
                                                 d->address, d->driver, g->id);
        }

        if (force)
                return 0;
        r = assign_safety_verdict(m, g, &unsafe);
        if (r < 0)
                return set_error_message(ret_message, r,
                                         "Cannot check whether the host needs IOMMU group %" PRIu32 ": %s", g->id,
                                         strerror(-r));
        if (unsafe)
                return set_error_message(ret_message, -ECANCELED,
                                         "Refusing to assign IOMMU group %" PRIu32
                                         ", the host needs it: %s (use force to "
                                         "override).",
                                         g->id, unsafe);
        return 0;
}

int assign_plan(Manager *m, Group *g, bool force, DeviceMove **ret_moves, size_t *ret_n, char **ret_message) {
        size_t endpoints = 0;
        int r;

        r = plan_moves(m, g, ret_moves, ret_n);
        if (r < 0)
                return set_error_message(ret_message, r, "Cannot plan the move: %s", strerror(-r));
        endpoints = *ret_n;
        if (endpoints == 0)
                return set_error_message(ret_message, -EXDEV, "IOMMU group %" PRIu32 " has no endpoint to assign.",
                                         g->id);
        return check_assignable(m, g, force, ret_message);
}

static Transition *transition_free(Transition *t) {
        if (!t)
                return NULL;
        worker_free(t->worker);
        device_moves_free(t->moves, t->n_moves);
        device_moves_free(t->run_moves, t->n_moves);
        free(t->message);
        return mfree(t);
}

/* Tells the owner (once) and, when the worker is done too, frees the transition. */
static void transition_report(Transition *t, int error, const char *message) {
        transition_done_t done = t->done;

        t->done = NULL;
        if (done)
                done(t->manager, t->group, error, message, t->userdata);
}

static void transition_end(Transition *t, Group *g) {
        Manager *m = t->manager;
        bool startup = t->startup;

        if (g && g->transition == t)
                g->transition = NULL;
        transition_free(t);
        if (startup)
                manager_startup_move_done(m);
        manager_move_finished(m);
}

static void set_original_drivers(Manager *m, Group *g, const DeviceMove *moves, size_t n, bool set) {
        for (size_t i = 0; g && i < n; i++) {
                Device *d = inventory_get_device(m->inventory, moves[i].address);
                if (!d || d->group != g)
                        continue;
                if (free_and_strdup(&d->original_driver, set ? moves[i].from : NULL) < 0)
                        log_oom();
                inventory_device_changed(m->inventory, d);
        }
}

static void update_persistence(Transition *t) {
        Manager *m = t->manager;
        char *addresses[t->n_moves + 1];
        int r;

        if (t->persist == PERSIST_KEEP)
                return;
        for (size_t i = 0; i < t->n_moves; i++)
                addresses[i] = t->moves[i].address;
        r = persist_update(m->state_dir, m->sysfs_root, &m->persist, addresses, t->n_moves, t->persist);
        if (r < 0)
                log_error_errno(r, "Cannot update persistent assignments in %s: %m", m->state_dir);
}

/* The worker put every device where run_moves said. */
static void transition_succeeded(Transition *t, Group *g) {
        Manager *m = t->manager;
        int r;

        /* Persistence before the intent log lets go of the move, so that a daemon killed in
         * between still records it when it finishes the move again; and before the state
         * change, which announces Persistent with it. */
        if (!t->rollback)
                update_persistence(t);
        if (t->to_vfio) {
                r = journal_write(m->runtime_dir, t->group, GROUP_VFIO, PERSIST_KEEP, t->moves, t->n_moves);
                if (r < 0)
                        log_warning_errno(r, "Cannot record IOMMU group %" PRIu32 " as assigned: %m", t->group);
        } else {
                (void) journal_remove(m->runtime_dir, t->group);
                set_original_drivers(m, g, t->moves, t->n_moves, false);
        }
        if (g) {
                if (!t->rollback) /* what start-up skipped is done or undone now */
                        g->persist_skipped = mfree(g->persist_skipped);
                g->claimed = t->to_vfio;
                inventory_set_group_state(m->inventory, g, t->to_vfio ? GROUP_VFIO : GROUP_HOST);
        }

        log_info("IOMMU group %" PRIu32 " %s %s.", t->group, t->rollback ? "rolled back to" : "moved to",
                 t->to_vfio ? "vfio" : "the host");
        transition_report(t, t->rollback ? t->error : 0, t->message);
        transition_end(t, g);
}

static int transition_child(void *userdata, void *result) {
        Transition *t = userdata;
        MoveResult *res = result;
        const char *root = t->manager->sysfs_root;
        int r;

        for (size_t i = 0; i < t->n_moves; i++) {
                if (!t->run_moves[i].to)
                        continue;
                r = bind_load_driver(root, t->run_moves[i].to);
                if (r < 0) {
                        res->failed = i;
                        return r;
                }
        }
        return bind_apply_moves(root, t->run_moves, t->n_moves, &res->failed);
}

static void on_transition_worker(Worker *w, int error, bool late, const void *result, void *userdata);

static int transition_run(Transition *t, bool to_vfio) {
        Manager *m = t->manager;
        int r;

        device_moves_free(t->run_moves, t->n_moves);
        t->run_moves = NULL;
        if (to_vfio) {
                DeviceMove *back;
                r = device_moves_reverse(t->moves, t->n_moves, &back);
                if (r >= 0) {
                        r = device_moves_reverse(back, t->n_moves, &t->run_moves);
                        device_moves_free(back, t->n_moves);
                }
        } else
                r = device_moves_reverse(t->moves, t->n_moves, &t->run_moves);
        if (r < 0)
                return r;
        t->to_vfio = to_vfio;

        /* The intent goes to disk before the first kernel write, so a restart can finish it. */
        r = journal_write(m->runtime_dir, t->group, to_vfio ? GROUP_ASSIGNING : GROUP_UNASSIGNING,
                          t->rollback ? PERSIST_KEEP : t->persist, t->moves, t->n_moves);
        if (r < 0)
                return log_error_errno(r, "Cannot write the intent log in %s: %m", m->runtime_dir);
        return worker_start(m->event, transition_child, t, sizeof(MoveResult), m->write_timeout_usec,
                            on_transition_worker, t, &t->worker);
}

static void transition_failed(Transition *t, Group *g, int error, const MoveResult *res) {
        Manager *m = t->manager;
        const char *address = res && res->failed < t->n_moves ? t->run_moves[res->failed].address : NULL;
        const char *target = res && res->failed < t->n_moves ? t->run_moves[res->failed].to : NULL;
        _cleanup_free_ char *what = NULL;
        int r;

        if (address)
                r = asprintf(&what, "Cannot move %s to %s: %s", address, target ?: "no driver", strerror(-error));
        else
                r = asprintf(&what, "Cannot move IOMMU group %" PRIu32 ": %s", t->group, strerror(-error));
        if (r < 0)
                what = NULL;
        log_error("%s", strempty(what));

        if (!t->rollback) {
                t->rollback = true;
                t->error = error;
                t->message = TAKE_PTR(what);
                r = transition_run(t, !t->to_vfio);
                if (r >= 0)
                        return;
                what = strdup("the rollback could not start");
        }

        /* The undo failed too: devices are where they are, and an admin has to look. */
        if (g)
                inventory_set_group_state(m->inventory, g, GROUP_WEDGED);
        {
                _cleanup_free_ char *message = NULL;
                if (asprintf(&message, "%s; rolling back failed as well (%s), IOMMU group %" PRIu32 " is wedged.",
                             strempty(t->message), strempty(what), t->group) < 0)
                        message = NULL;
                transition_report(t, t->error, message);
        }
        transition_end(t, g);
}

static void on_transition_worker(Worker *w, int error, bool late, const void *result, void *userdata) {
        Transition *t = userdata;
        Manager *m = t->manager;
        Group *g = inventory_get_group(m->inventory, t->group);
        _cleanup_free_ char *message = NULL;

        if (error == -ETIMEDOUT && !late) {
                /* The write is stuck (an unbind waiting for a device fd). Tell the caller now; the
                 * worker is still watched and finishes the move if the kernel ever returns. */
                if (g)
                        inventory_set_group_state(m->inventory, g, GROUP_WEDGED);
                if (asprintf(&message,
                             "A kernel write for IOMMU group %" PRIu32 " blocked for more than %" PRIu64
                             " s (is a device still held open?); the group is wedged until it returns.",
                             t->group, m->write_timeout_usec / 1000000) < 0)
                        message = NULL;
                log_error("%s", strempty(message));
                transition_report(t, -ENOTRECOVERABLE, message);
                return;
        }

        /* The result lives in the worker: copy it before letting the worker go. */
        MoveResult res = { .failed = SIZE_MAX };
        if (result)
                memcpy(&res, result, sizeof(res));
        t->worker = worker_free(t->worker);
        if (late)
                log_notice("The blocked kernel write for IOMMU group %" PRIu32 " returned.", t->group);
        if (error >= 0)
                transition_succeeded(t, g);
        else
                transition_failed(t, g, error, &res);
}

static int transition_new(Manager *m, Group *g, DeviceMove *moves, size_t n, transition_done_t done, void *userdata,
                          Transition **ret) {
        Transition *t = calloc(1, sizeof(Transition));

        if (!t)
                return -ENOMEM;
        t->manager = m;
        t->group = g->id;
        t->moves = moves;
        t->n_moves = n;
        t->done = done;
        t->userdata = userdata;
        *ret = t;
        return 0;
}

static int transition_begin(Transition *t, Group *g, bool to_vfio, GroupState state, char **ret_message) {
        int r;

        t->to_vfio = to_vfio;
        r = t->waiting_for_claims ? 0 : transition_run(t, to_vfio);
        if (r < 0) {
                t->done = NULL;
                transition_free(t);
                return set_error_message(ret_message, r, "Cannot start moving IOMMU group %" PRIu32 ": %s", g->id,
                                         strerror(-r));
        }
        g->transition = t;
        g->claimed = true; /* ours from the first write until it is back on the host */
        inventory_set_group_state(t->manager->inventory, g, state);
        return 0;
}

int assign_start(Manager *m, Group *g, const AssignOptions *o, transition_done_t done, void *userdata,
                 char **ret_message) {
        DeviceMove *moves = NULL;
        Transition *t;
        size_t n = 0;
        int r;

        r = assign_plan(m, g, o->force, &moves, &n, ret_message);
        if (r < 0 || o->dry_run) {
                device_moves_free(moves, n);
                return r < 0 ? r : 1;
        }
        r = transition_new(m, g, moves, n, done, userdata, &t);
        if (r < 0) {
                device_moves_free(moves, n);
                return set_error_message(ret_message, r, "Out of memory.");
        }
        t->persist = !o->persist ? PERSIST_KEEP : o->force ? PERSIST_ADD_FORCED : PERSIST_ADD;
        set_original_drivers(m, g, moves, n, true);
        r = transition_begin(t, g, true, GROUP_ASSIGNING, ret_message);
        if (r < 0)
                FOREACH_ARRAY(d, g->devices, g->n_devices)
                        (*d)->original_driver = mfree((*d)->original_driver);
        return r;
}

/* The moves that took the group to vfio, rebuilt from what the devices are on and came from. */
static int unassign_moves(Group *g, DeviceMove **ret, size_t *ret_n) {
        DeviceMove *moves = calloc(g->n_devices ?: 1, sizeof(DeviceMove));
        size_t n = 0;

        if (!moves)
                return -ENOMEM;
        FOREACH_ARRAY(i, g->devices, g->n_devices) {
                Device *d = *i;

                if (device_is_bridge(d))
                        continue;
                memcpy(moves[n].address, d->address, sizeof(d->address));
                moves[n].to = strdup(device_on_vfio_driver(d) ? d->driver : "vfio-pci");
                n++;
                if (!moves[n - 1].to || (d->original_driver && !(moves[n - 1].from = strdup(d->original_driver)))) {
                        device_moves_free(moves, n);
                        return -ENOMEM;
                }
        }
        *ret = moves;
        *ret_n = n;
        return 0;
}

/* Unassign with persist of a group the host has (its persistent assignment was skipped at start-up,
 * say): forget the assignment. Returns 1 when there was one to forget. */
static int forget_persistent(Manager *m, Group *g) {
        char *addresses[g->n_devices + 1];
        size_t n = 0;
        int r;

        FOREACH_ARRAY(d, g->devices, g->n_devices)
                if (persist_set_contains(&m->persist, (*d)->address))
                        addresses[n++] = (*d)->address;
        if (n == 0)
                return 0;
        r = persist_update(m->state_dir, m->sysfs_root, &m->persist, addresses, n, PERSIST_REMOVE);
        if (r < 0)
                return log_error_errno(r, "Cannot update persistent assignments in %s: %m", m->state_dir);
        g->persist_skipped = mfree(g->persist_skipped);
        inventory_group_changed(m->inventory, g);
        log_info("IOMMU group %" PRIu32 " is no longer assigned persistently.", g->id);
        return 1;
}

/* Hotplug claims in flight for devices of g; *ret_blocked: one of them is stuck in the kernel. */
static size_t group_claims(Manager *m, const Group *g, bool *ret_blocked) {
        bool blocked = false;
        size_t n = 0;

        for (Claim *c = m->claims; c; c = c->next) {
                Device *d = inventory_get_device(m->inventory, c->address);
                if (!d || d->group != g)
                        continue;
                n++;
                blocked = blocked || c->blocked;
        }
        if (ret_blocked)
                *ret_blocked = blocked;
        return n;
}

int unassign_start(Manager *m, Group *g, const UnassignOptions *o, transition_done_t done, void *userdata,
                   char **ret_message) {
        DeviceMove *moves = NULL;
        Transition *t;
        bool blocked;
        size_t n = 0, claims;
        int r;

        if (m->stopping)
                return set_error_message(ret_message, -EBUSY, "vfiod is stopping; ask again once it is back.");
        if (g->transition && g->state == GROUP_WEDGED)
                return set_error_message(ret_message, -ENOTRECOVERABLE,
                                         "IOMMU group %" PRIu32 " is wedged: a kernel write has not returned yet.",
                                         g->id);
        if (g->transition || g->state == GROUP_ASSIGNING || g->state == GROUP_UNASSIGNING)
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is being moved.", g->id);
        if (g->state == GROUP_RELEASING && g->lease == 0)
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is being taken back already.",
                                         g->id);
        if (g->state == GROUP_LEASED || g->state == GROUP_RELEASING)
                return set_error_message(ret_message, -EBUSY, "IOMMU group %" PRIu32 " is leased.", g->id);
        if (g->state == GROUP_HOST) {
                r = o->persist ? forget_persistent(m, g) : 0;
                if (r < 0)
                        return set_error_message(ret_message, r, "Cannot forget the persistent assignment: %s",
                                                 strerror(-r));
                if (r > 0)
                        return 1;
                return set_error_message(ret_message, -ENOTCONN, "IOMMU group %" PRIu32 " is not assigned.", g->id);
        }

        /* A hotplugged device being moved to vfio right now: both would write its driver, and the
         * last writer would win. The unassign waits for the claim (see claims_settled). */
        claims = group_claims(m, g, &blocked);
        if (blocked)
                return set_error_message(ret_message, -ENOTRECOVERABLE,
                                         "A hotplugged device of IOMMU group %" PRIu32
                                         " is stuck in the kernel on its way to vfio; the group cannot move until "
                                         "that write returns.",
                                         g->id);

        r = unassign_moves(g, &moves, &n);
        if (r >= 0)
                r = transition_new(m, g, moves, n, done, userdata, &t);
        if (r < 0) {
                device_moves_free(moves, n);
                return set_error_message(ret_message, r, "Out of memory.");
        }
        t->persist = o->persist ? PERSIST_REMOVE : PERSIST_KEEP;
        if (claims > 0) {
                log_info("Unassigning IOMMU group %" PRIu32 " once %zu hotplugged device(s) are on vfio.", g->id,
                         claims);
                t->waiting_for_claims = true;
                m->transitions_waiting++;
        }
        return transition_begin(t, g, false, GROUP_UNASSIGNING, ret_message);
}

/* A claim ended: an unassign that waited for the claims of its group starts now. */
static void claims_settled(Manager *m) {
        FOREACH_ARRAY(i, m->inventory->groups, m->inventory->n_groups) {
                Group *g = *i;
                Transition *t = g->transition;
                _cleanup_free_ char *message = NULL;
                int r;

                if (m->transitions_waiting == 0)
                        return;
                if (!t || !t->waiting_for_claims || group_claims(m, g, NULL) > 0)
                        continue;
                t->waiting_for_claims = false;
                m->transitions_waiting--;
                r = transition_run(t, t->to_vfio);
                if (r >= 0)
                        continue;
                if (asprintf(&message, "Cannot start moving IOMMU group %" PRIu32 ": %s", g->id, strerror(-r)) < 0)
                        message = NULL;
                inventory_set_group_state(m->inventory, g, GROUP_VFIO);
                transition_report(t, r, message);
                transition_end(t, g);
        }
}

static Claim *claim_find(Manager *m, const char *address) {
        for (Claim *c = m->claims; c; c = c->next)
                if (streq(c->address, address))
                        return c;
        return NULL;
}

static void claim_free(Claim *c) {
        Manager *m = c->manager;

        for (Claim **p = &m->claims; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        worker_free(c->worker);
        free(c);
}

static int claim_child(void *userdata, void *result) {
        Claim *c = userdata;
        _cleanup_free_ char *driver = NULL;
        int r;

        r = bind_vfio_driver_for(c->manager->sysfs_root, c->manager->modules_dir, c->address, &driver);
        if (r < 0)
                return r;
        r = bind_load_driver(c->manager->sysfs_root, driver);
        if (r < 0)
                return r;
        return bind_claim_device(c->manager->sysfs_root, c->address, driver);
}

static void on_claim_worker(Worker *w, int error, bool late, const void *result, void *userdata) {
        Claim *c = userdata;
        Manager *m = c->manager;

        if (error == -ETIMEDOUT && !late) {
                log_error("Moving hotplugged device %s to vfio is blocked in the kernel.", c->address);
                c->blocked = true;
                return;
        }
        if (error < 0)
                log_error_errno(error, "Cannot move hotplugged device %s to vfio: %m", c->address);
        else
                log_info("Hotplugged device %s is on vfio now.", c->address);
        claim_free(c);
        claims_settled(m);
        manager_move_finished(m);
}

static bool device_in_transition(const Group *g, const Device *d) {
        const Transition *t = g->transition;

        for (size_t i = 0; t && i < t->n_moves; i++)
                if (streq(t->moves[i].address, d->address))
                        return true;
        return false;
}

void assign_claim_device(Manager *m, Device *d, const char *action) {
        _cleanup_free_ char *driver = NULL, *host_driver = NULL;
        Group *g = d->group;
        Claim *c;
        int r;

        if (!group_is_claimed(g) || device_is_bridge(d) || device_on_vfio_driver(d) || device_in_transition(g, d) ||
            claim_find(m, d->address))
                return;
        /* Act on devices that just appeared and on host drivers that got bound; an unbound device
         * that was not just added is in the middle of a move of ours. */
        if (!streq(action, "add") && !d->driver)
                return;

        /* The override first and right here: it is quick, and every moment counts in the race
         * with the kernel's own probe. Unbinding a host driver may block: that goes to a worker. */
        r = bind_vfio_driver_for(m->sysfs_root, m->modules_dir, d->address, &driver);
        if (r >= 0)
                r = bind_set_override(m->sysfs_root, d->address, driver);
        if (r < 0)
                log_warning_errno(r, "Cannot set driver_override of %s: %m", d->address);

        if (d->driver && !d->original_driver && free_and_strdup(&d->original_driver, d->driver) < 0)
                log_oom();
        /* Won the race with the kernel's probe: name the driver it was kept from all the same. */
        if (!d->driver)
                (void) bind_host_driver_for(m->sysfs_root, m->modules_dir, d->address, &host_driver);
        log_notice("Device %s %s in claimed IOMMU group %" PRIu32 "%s%s: keeping it on vfio.", d->address,
                   streq(action, "add") ? "appeared" : "was bound", g->id,
                   d->driver     ? ", host driver "
                   : host_driver ? ", would have been "
                                 : "",
                   d->driver ?: strempty(host_driver));
        manager_bus_emit_hotplug_blocked(m, g, d, d->driver ?: host_driver);

        c = calloc(1, sizeof(Claim));
        if (!c) {
                log_oom();
                return;
        }
        c->manager = m;
        memcpy(c->address, d->address, sizeof(c->address));
        c->next = m->claims;
        m->claims = c;
        r = worker_start(m->event, claim_child, c, 0, m->write_timeout_usec, on_claim_worker, c, &c->worker);
        if (r < 0) {
                log_error_errno(r, "Cannot start moving %s to vfio: %m", d->address);
                claim_free(c);
        }
}

static void on_startup_move_done(Manager *m, uint32_t group, int error, const char *message, void *userdata) {
        if (error < 0)
                log_error("Start-up move of IOMMU group %" PRIu32 " failed: %s", group, strempty(message));
}

/* A group the log says we claimed: take it back as claimed, with the drivers to give back. */
static void recover_claimed(Manager *m, Group *g, JournalEntry *e) {
        set_original_drivers(m, g, e->moves, e->n_moves, true);
        g->claimed = true;
        inventory_set_group_state(m->inventory, g, GROUP_VFIO);
        FOREACH_ARRAY(d, g->devices, g->n_devices)
                if ((*d)->driver && !device_on_vfio_driver(*d))
                        assign_claim_device(m, *d, "bind");
}

static int recover_move(Manager *m, Group *g, JournalEntry *e) {
        bool to_vfio = e->state == GROUP_ASSIGNING;
        _cleanup_free_ char *message = NULL;
        Transition *t;
        int r;

        log_notice("Finishing the interrupted %s of IOMMU group %" PRIu32 ".", to_vfio ? "assignment" : "unassignment",
                   g->id);
        r = transition_new(m, g, TAKE_PTR(e->moves), e->n_moves, on_startup_move_done, NULL, &t);
        if (r < 0)
                return r;
        e->n_moves = 0;
        set_original_drivers(m, g, t->moves, t->n_moves, true);
        t->persist = e->persist;
        t->startup = true;
        r = transition_begin(t, g, to_vfio, to_vfio ? GROUP_ASSIGNING : GROUP_UNASSIGNING, &message);
        if (r < 0)
                return log_error_errno(r, "%s", strempty(message));
        m->startup_moves++;
        return 0;
}

static Group *journal_group(Manager *m, const JournalEntry *e) {
        Group *g = inventory_get_group(m->inventory, e->group);

        /* Group numbers hold within a boot; a group without any of the logged devices is not it. */
        for (size_t i = 0; g && i < e->n_moves; i++) {
                Device *d = inventory_get_device(m->inventory, e->moves[i].address);
                if (d && d->group == g)
                        return g;
        }
        return NULL;
}

static int recover_journal(Manager *m) {
        JournalEntry *entries;
        size_t n;
        int r;

        r = journal_load_all(m->runtime_dir, &entries, &n);
        if (r < 0)
                return r;
        FOREACH_ARRAY(e, entries, n) {
                Group *g = journal_group(m, e);

                if (!g) {
                        log_notice("IOMMU group %" PRIu32 " from the intent log is gone, forgetting it.", e->group);
                        (void) journal_remove(m->runtime_dir, e->group);
                } else if (e->state == GROUP_VFIO)
                        recover_claimed(m, g, e);
                else
                        (void) recover_move(m, g, e);
        }
        journal_entries_free(entries, n);
        return 0;
}

/* Why g's persistent assignment must not be applied now, or NULL: each endpoint must be recorded
 * and be the device that was recorded. *ret_force: every entry was recorded forced by root. */
static int persist_verdict(Manager *m, Group *g, bool *ret_force, char **ret_why) {
        bool force = true;
        int r;

        *ret_why = NULL;
        FOREACH_ARRAY(i, g->devices, g->n_devices) {
                Device *d = *i;
                const PersistEntry *e;
                DeviceIdentity now;

                if (device_is_bridge(d))
                        continue;
                e = persist_set_find(&m->persist, d->address);
                if (!e)
                        return asprintf(ret_why, "%s is in the group now and was not assigned persistently",
                                        d->address) < 0
                                       ? -ENOMEM
                                       : 0;
                r = sysfs_read_identity(m->sysfs_root, d->address, &now);
                if (r < 0)
                        return asprintf(ret_why, "cannot read what %s is: %s", d->address, strerror(-r)) < 0 ? -ENOMEM
                                                                                                             : 0;
                r = persist_entry_check(e, &now, ret_why);
                if (r < 0 || *ret_why)
                        return r;
                force = force && e->has_identity && e->force;
        }
        *ret_force = force;
        return 0;
}

static void persist_skip(Manager *m, Group *g, const char *why) {
        log_warning("Not assigning persistent IOMMU group %" PRIu32 " ('vfioctl assign %" PRIu32
                    " --persist' records it anew, 'vfioctl unassign %" PRIu32 " --persist' forgets it): %s",
                    g->id, g->id, g->id, strempty(why));
        if (free_and_strdup(&g->persist_skipped, strempty(why)) < 0)
                log_oom();
        inventory_group_changed(m->inventory, g);
}

static void apply_persistent_group(Manager *m, Group *g) {
        _cleanup_free_ char *why = NULL, *message = NULL;
        AssignOptions o = {};
        int r;

        if (g->state != GROUP_HOST || g->transition || g->persist_skipped)
                return; /* recovered from the intent log, or seen for another of its devices */
        r = persist_verdict(m, g, &o.force, &why);
        if (r < 0) {
                log_oom();
                return;
        }
        if (why) {
                persist_skip(m, g, why);
                return;
        }
        r = assign_start(m, g, &o, on_startup_move_done, NULL, &message);
        if (r < 0) {
                persist_skip(m, g, message);
                return;
        }
        log_info("Assigning IOMMU group %" PRIu32 " (persistent%s).", g->id,
                 o.force ? ", without the safety check as recorded" : "");
        g->transition->startup = true;
        m->startup_moves++;
}

static int apply_persistent(Manager *m) {
        int r;

        r = persist_load(m->state_dir, &m->persist);
        if (r < 0)
                return log_error_errno(r, "Cannot read persistent assignments from %s: %m", m->state_dir);
        for (size_t i = 0; i < m->persist.n; i++) {
                const char *address = m->persist.entries[i].address;
                Device *d = inventory_get_device(m->inventory, address);

                if (!d) {
                        log_notice("Persistent assignment of %s skipped: no such device in an IOMMU group.", address);
                        continue;
                }
                apply_persistent_group(m, d->group);
        }
        return 0;
}

int assign_recover(Manager *m) {
        int r;

        r = recover_journal(m);
        if (r < 0)
                return r;
        return apply_persistent(m);
}

bool assign_moves_in_flight(Manager *m) {
        if (m->claims)
                return true;
        FOREACH_ARRAY(i, m->inventory->groups, m->inventory->n_groups)
                if ((*i)->transition)
                        return true;
        return false;
}

void assign_release_all(Manager *m) {
        FOREACH_ARRAY(i, m->inventory->groups, m->inventory->n_groups) {
                Transition *t = (*i)->transition;
                if (!t)
                        continue;
                (*i)->transition = NULL;
                t->done = NULL;
                transition_free(t);
        }
        while (m->claims)
                claim_free(m->claims);
}
