/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the client side of Assign, Unassign and PlanAssign. */

#include <errno.h>

#include "client-internal.h"

static int new_manager_call(sd_bus *bus, const char *member, const char *target, sd_bus_message **ret) {
        int r;

        r = sd_bus_message_new_method_call(bus, ret, VFIOD_SERVICE, VFIOD_PATH, VFIOD_MANAGER_INTERFACE, member);
        if (r < 0)
                return r;
        return sd_bus_message_append(*ret, "s", target);
}

static int append_bool_option(sd_bus_message *m, const char *name, bool value) {
        return value ? sd_bus_message_append(m, "{sv}", name, "b", 1) : 0;
}

int vfiod_assign(sd_bus *bus, const char *target, const VfiodAssignOptions *o, sd_bus_error *error,
                 char **ret_group_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        const VfiodAssignOptions none = {};
        const char *path;
        int r;

        if (!o)
                o = &none;

        r = new_manager_call(bus, "Assign", target, &call);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        if (r >= 0)
                r = append_bool_option(call, "persist", o->persist);
        if (r >= 0)
                r = append_bool_option(call, "force", o->force);
        if (r >= 0)
                r = append_bool_option(call, "dry_run", o->dry_run);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, call, VFIOD_MOVE_CALL_TIMEOUT_USEC, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        if (ret_group_path) {
                *ret_group_path = strdup(path);
                if (!*ret_group_path)
                        return -ENOMEM;
        }
        return 0;
}

int vfiod_unassign(sd_bus *bus, const char *target, const VfiodUnassignOptions *o, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        const VfiodUnassignOptions none = {};
        uint64_t timeout;
        int r;

        if (!o)
                o = &none;
        timeout = o->timeout_usec;
        /* The call lasts as long as the removal waits for the holder: with the daemon's default
         * timeout, ask how long that is (best effort: the configured one is often short). */
        if (timeout == 0 && sd_bus_get_property_trivial(bus, VFIOD_SERVICE, VFIOD_PATH, VFIOD_MANAGER_INTERFACE,
                                                        "RemoveTimeoutUSec", NULL, 't', &timeout) < 0)
                timeout = 0;
        timeout += VFIOD_MOVE_CALL_TIMEOUT_USEC;

        r = new_manager_call(bus, "Unassign", target, &call);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        if (r >= 0 && o->mode)
                r = sd_bus_message_append(call, "{sv}", "mode", "s", o->mode);
        if (r >= 0 && o->timeout_usec > 0)
                r = sd_bus_message_append(call, "{sv}", "timeout_usec", "t", o->timeout_usec);
        if (r >= 0)
                r = append_bool_option(call, "persist", o->persist);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, call, timeout, error, NULL);
        return r < 0 ? r : 0;
}

VfiodPlan *vfiod_plan_free(VfiodPlan *plan) {
        if (!plan)
                return NULL;
        for (size_t i = 0; i < plan->n_moves; i++) {
                free(plan->moves[i].address);
                free(plan->moves[i].from);
                free(plan->moves[i].to);
        }
        free(plan->moves);
        free(plan->group_path);
        free(plan->error_name);
        free(plan->message);
        return mfree(plan);
}

static int read_moves(sd_bus_message *reply, VfiodPlan *plan) {
        const char *address, *from, *to;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sss)", &address, &from, &to)) > 0) {
                VfiodMove *a = reallocarray(plan->moves, plan->n_moves + 1, sizeof(VfiodMove));
                if (!a)
                        return -ENOMEM;
                plan->moves = a;
                a[plan->n_moves] = (VfiodMove){ strdup(address), strdup(from), strdup(to) };
                plan->n_moves++;
                if (!a[plan->n_moves - 1].address || !a[plan->n_moves - 1].from || !a[plan->n_moves - 1].to)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(reply);
}

int vfiod_plan_assign(sd_bus *bus, const char *target, bool force, sd_bus_error *error, VfiodPlan **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_(vfiod_plan_freep) VfiodPlan *plan = NULL;
        const char *path, *name, *message;
        int r;

        r = new_manager_call(bus, "PlanAssign", target, &call);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        if (r >= 0)
                r = append_bool_option(call, "force", force);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, call, 0, error, &reply);
        if (r < 0)
                return r;

        plan = calloc(1, sizeof(VfiodPlan));
        if (!plan)
                return -ENOMEM;
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = read_moves(reply, plan);
        if (r >= 0)
                r = sd_bus_message_read(reply, "ss", &name, &message);
        if (r < 0)
                return r;
        plan->group_path = strdup(path);
        plan->error_name = strdup(name);
        plan->message = strdup(message);
        if (!plan->group_path || !plan->error_name || !plan->message)
                return -ENOMEM;
        *ret = TAKE_PTR(plan);
        return 0;
}
