/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: vfioctl's --json documents, and monitor's JSON lines. Keys follow the contract: add, never
 * rename or remove. */

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>

#include "output.h"

static inline void json_object_putp(json_object **j) {
        json_object_put(*j);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Adds value under key, taking ownership of it even on failure. NULL value means json-c ran out of
 * memory making it; a JSON null is added with json_add_null(). */
static int json_add(json_object *o, const char *key, json_object *value) {
        if (!value)
                return -ENOMEM;
        if (json_object_object_add(o, key, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

static int json_add_null(json_object *o, const char *key) {
        return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
}

static int json_append(json_object *array, json_object *value) {
        if (!value)
                return -ENOMEM;
        if (json_object_array_add(array, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

/* Hex strings: the contract writes IDs and addresses as text, since JSON numbers lose 64-bit values
 * and people read PCI IDs in hex. */
static json_object *json_hex(uint64_t v, int width) {
        char buf[sizeof("ffffffffffffffff")];

        snprintf(buf, sizeof(buf), "%0*" PRIx64, width, v);
        return json_object_new_string(buf);
}

static json_object *json_iova(uint64_t v) {
        char buf[sizeof("0xffffffffffffffff")];

        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
        return json_object_new_string(buf);
}

static int device_to_json(const VfiodDevice *d, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;

        if ((r = json_add(o, "address", json_object_new_string(strempty(d->address)))) < 0 ||
            (r = json_add(o, "vendor", json_hex(d->vendor, 4))) < 0 ||
            (r = json_add(o, "product", json_hex(d->product, 4))) < 0 ||
            (r = json_add(o, "class", json_hex(d->class_code, 6))) < 0 ||
            (r = json_add(o, "driver", json_object_new_string(strempty(d->driver)))) < 0 ||
            (r = json_add(o, "original_driver", json_object_new_string(strempty(d->original_driver)))) < 0 ||
            (r = json_add(o, "bridge", json_object_new_boolean(d->is_bridge))) < 0 ||
            (r = json_add(o, "numa_node", json_object_new_int(d->numa_node))) < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

/* The group object of `list`; `show` adds to it. */
static int group_to_json(const VfiodGroup *g, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object(), *devices = json_object_new_array();
        int r;

        if (!o || !devices)
                return -ENOMEM;

        for (size_t i = 0; i < g->n_members; i++) {
                json_object *d = NULL;

                r = device_to_json(g->members[i], &d);
                if (r < 0)
                        return r;
                r = json_append(devices, d);
                if (r < 0)
                        return r;
        }

        if ((r = json_add(o, "id", json_object_new_int64(g->id))) < 0 ||
            (r = json_add(o, "state", json_object_new_string(strempty(g->state)))) < 0 ||
            (r = json_add(o, "viable", json_object_new_boolean(g->viable))) < 0 ||
            (r = g->lease ? json_add(o, "lease", json_object_new_string(g->lease)) : json_add_null(o, "lease")) < 0 ||
            (r = json_add(o, "persistent", json_object_new_boolean(g->persistent))) < 0 ||
            (r = json_add(o, "persistent_skipped", json_object_new_string(strempty(g->persistent_skipped)))) < 0 ||
            (r = json_add(o, "safety", json_object_new_string(strempty(g->safety)))) < 0 ||
            (r = json_add(o, "devices", TAKE_PTR(devices))) < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

static int reserved_regions_to_json(const VfiodGroup *g, json_object **ret) {
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;

        FOREACH_ARRAY(region, g->reserved_regions, g->n_reserved_regions) {
                _cleanup_json_ json_object *o = json_object_new_object();

                if (!o)
                        return -ENOMEM;
                if ((r = json_add(o, "start", json_iova(region->start))) < 0 ||
                    (r = json_add(o, "end", json_iova(region->end))) < 0 ||
                    (r = json_add(o, "type", json_object_new_string(region->type))) < 0 ||
                    (r = json_append(a, TAKE_PTR(o))) < 0)
                        return r;
        }

        *ret = TAKE_PTR(a);
        return 0;
}

static int holder_list_to_json(const VfiodHolder *holders, size_t n, json_object **ret) {
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;

        FOREACH_ARRAY(h, holders, n) {
                _cleanup_json_ json_object *o = json_object_new_object();

                if (!o)
                        return -ENOMEM;
                if ((r = json_add(o, "pid", json_object_new_int64(h->pid))) < 0 ||
                    (r = json_add(o, "comm", json_object_new_string(h->comm))) < 0 ||
                    (r = json_append(a, TAKE_PTR(o))) < 0)
                        return r;
        }

        *ret = TAKE_PTR(a);
        return 0;
}

/* "holders", "held_unnamed" and "candidates" of a group. */
static int holders_to_json(const VfiodGroup *g, json_object *o) {
        json_object *holders = NULL, *candidates = NULL;
        int r;

        r = holder_list_to_json(g->holders, g->n_holders, &holders);
        if (r >= 0)
                r = json_add(o, "holders", holders);
        if (r >= 0)
                r = json_add(o, "held_unnamed", json_object_new_boolean(g->held_unnamed));
        if (r >= 0)
                r = holder_list_to_json(g->candidates, g->n_candidates, &candidates);
        if (r >= 0)
                r = json_add(o, "candidates", candidates);
        return r;
}

/* One document on stdout. Pretty, since people pipe it to less as often as programs parse it; no
 * escaped slashes, so that object paths read as they are. */
static int json_print(json_object *o) {
        const char *s;

        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        if (fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF)
                return negative_errno();
        return 0;
}

int output_list_json(const VfiodInventory *inventory) {
        _cleanup_json_ json_object *root = json_object_new_object(), *groups = json_object_new_array();
        int r;

        if (!root || !groups)
                return -ENOMEM;

        FOREACH_ARRAY(g, inventory->groups, inventory->n_groups) {
                json_object *o = NULL;

                r = group_to_json(g, &o);
                if (r < 0)
                        return r;
                r = json_append(groups, o);
                if (r < 0)
                        return r;
        }

        r = json_add(root, "groups", TAKE_PTR(groups));
        if (r < 0)
                return r;

        return json_print(root);
}

static int u32_array_to_json(const uint32_t *values, size_t n, json_object **ret);

/* The leased group's container: "iommu_model", "groups", "iova_ranges", "page_sizes" as the
 * contract has them, plus "sharing_key". */
static int container_to_json(const VfiodContainerInfo *c, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object(), *ranges = json_object_new_array();
        json_object *groups = NULL;
        int r;

        if (!o || !ranges)
                return -ENOMEM;

        FOREACH_ARRAY(range, c->iova_ranges, c->n_iova_ranges) {
                _cleanup_json_ json_object *x = json_object_new_object();

                if (!x)
                        return -ENOMEM;
                if ((r = json_add(x, "start", json_iova(range->start))) < 0 ||
                    (r = json_add(x, "end", json_iova(range->end))) < 0 || (r = json_append(ranges, TAKE_PTR(x))) < 0)
                        return r;
        }

        r = u32_array_to_json(c->groups, c->n_groups, &groups);
        if (r < 0)
                return r;

        if ((r = json_add(o, "iommu_model", json_object_new_string(strempty(c->iommu_model)))) < 0 ||
            (r = json_add(o, "groups", groups)) < 0 || (r = json_add(o, "iova_ranges", TAKE_PTR(ranges))) < 0 ||
            (r = json_add(o, "page_sizes", json_iova(c->page_sizes))) < 0 ||
            (r = json_add(o, "sharing_key", json_object_new_string(strempty(c->sharing_key)))) < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

int output_show_json(const VfiodGroup *group, const VfiodContainerInfo *container) {
        _cleanup_json_ json_object *o = NULL;
        json_object *regions = NULL;
        int r;

        r = group_to_json(group, &o);
        if (r < 0)
                return r;

        r = reserved_regions_to_json(group, &regions);
        if (r < 0)
                return r;
        r = json_add(o, "reserved_regions", regions);
        if (r < 0)
                return r;

        r = holders_to_json(group, o);
        if (r < 0)
                return r;

        if (container) {
                json_object *c = NULL;

                r = container_to_json(container, &c);
                if (r < 0)
                        return r;
                r = json_add(o, "container", c);
                if (r < 0)
                        return r;
        }

        return json_print(o);
}

static int u32_array_to_json(const uint32_t *values, size_t n, json_object **ret) {
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = json_append(a, json_object_new_int64(values[i]));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int add_optional_string(json_object *o, const char *key, const char *value) {
        return value ? json_add(o, key, json_object_new_string(value)) : json_add_null(o, key);
}

/* A lease as holders and monitor show it. */
static int lease_to_json(const VfiodLeaseInfo *l, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *groups = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = u32_array_to_json(l->groups, l->n_groups, &groups);
        if (r < 0)
                return r;
        if ((r = json_add(o, "path", json_object_new_string(strempty(l->path)))) < 0 ||
            (r = json_add(o, "groups", groups)) < 0 ||
            (r = json_add(o, "owner", json_object_new_string(strempty(l->owner)))) < 0 ||
            (r = json_add(o, "uid", json_object_new_int64(l->uid))) < 0 ||
            (r = json_add(o, "pid", json_object_new_int64(l->pid))) < 0 ||
            (r = json_add(o, "state", json_object_new_string(strempty(l->state)))) < 0 ||
            (r = json_add(o, "deadline_usec", json_object_new_uint64(l->deadline_usec))) < 0 ||
            (r = add_optional_string(o, "container", l->container)) < 0 ||
            (r = json_add(o, "access", json_object_new_string(strempty(l->access)))) < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

int output_holders_json(const VfiodGroup *group, const VfiodLeaseInfo *lease) {
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *l = NULL;
        int r;

        if (!o)
                return -ENOMEM;

        r = json_add(o, "group", json_object_new_int64(group->id));
        if (r < 0)
                return r;
        r = holders_to_json(group, o);
        if (r < 0)
                return r;
        if (lease) {
                r = lease_to_json(lease, &l);
                if (r < 0)
                        return r;
                r = json_add(o, "lease", l);
        } else
                r = json_add_null(o, "lease");
        if (r < 0)
                return r;

        return json_print(o);
}

static const char *const monitor_event_type_table[_EVENT_MAX] = {
        [EVENT_GROUP_ADDED] = "group-added",         [EVENT_GROUP_REMOVED] = "group-removed",
        [EVENT_GROUP_STATE] = "group-state",         [EVENT_DEVICE_ADDED] = "device-added",
        [EVENT_DEVICE_REMOVED] = "device-removed",   [EVENT_DEVICE_DRIVER] = "device-driver",
        [EVENT_HOTPLUG_BLOCKED] = "hotplug-blocked", [EVENT_LEASE_ADDED] = "lease-added",
        [EVENT_LEASE_STATE] = "lease-state",         [EVENT_LEASE_ENDED] = "lease-ended",
        [EVENT_CONTAINER_ADDED] = "container-added", [EVENT_CONTAINER_REMOVED] = "container-removed",
        [EVENT_VFIOD_STOPPED] = "vfiod-stopped",     [EVENT_VFIOD_STARTED] = "vfiod-started",
};

const char *monitor_event_type_to_string(MonitorEventType t) {
        return t >= 0 && t < _EVENT_MAX ? monitor_event_type_table[t] : NULL;
}

/* The keys each kind of event has besides "time", "time_usec" and "event". */
static int event_fields_to_json(const MonitorEvent *e, json_object *o) {
        char buf[FORMAT_TIME_MAX];
        json_object *lease = NULL;
        int r = 0;

        if (e->path && (r = json_add(o, "path", json_object_new_string(e->path))) < 0)
                return r;

        switch (e->type) {
        case EVENT_GROUP_ADDED:
        case EVENT_GROUP_REMOVED:
        case EVENT_GROUP_STATE:
        case EVENT_HOTPLUG_BLOCKED:
        case EVENT_DEVICE_ADDED:
        case EVENT_DEVICE_REMOVED:
        case EVENT_DEVICE_DRIVER:
                if (e->has_group)
                        r = json_add(o, "group", json_object_new_int64(e->group));
                else
                        r = json_add_null(o, "group");
                if (r < 0)
                        return r;
                break;
        default:
                break;
        }

        switch (e->type) {
        case EVENT_GROUP_ADDED:
                return json_add(o, "state", json_object_new_string(strempty(e->value)));
        case EVENT_GROUP_STATE:
                if ((r = json_add(o, "old_state", json_object_new_string(strempty(e->old_value)))) < 0)
                        return r;
                return json_add(o, "state", json_object_new_string(strempty(e->value)));
        case EVENT_DEVICE_ADDED:
        case EVENT_DEVICE_REMOVED:
                if ((r = json_add(o, "device", json_object_new_string(strempty(e->device)))) < 0)
                        return r;
                return e->type == EVENT_DEVICE_ADDED ? json_add(o, "driver", json_object_new_string(strempty(e->value)))
                                                     : 0;
        case EVENT_DEVICE_DRIVER:
                if ((r = json_add(o, "device", json_object_new_string(strempty(e->device)))) < 0 ||
                    (r = json_add(o, "old_driver", json_object_new_string(strempty(e->old_value)))) < 0)
                        return r;
                return json_add(o, "driver", json_object_new_string(strempty(e->value)));
        case EVENT_HOTPLUG_BLOCKED:
                if ((r = json_add(o, "device", json_object_new_string(strempty(e->device)))) < 0)
                        return r;
                return json_add(o, "host_driver", json_object_new_string(strempty(e->value)));
        case EVENT_LEASE_ADDED:
        case EVENT_LEASE_STATE:
                if (e->type == EVENT_LEASE_STATE &&
                    (r = json_add(o, "old_state", json_object_new_string(strempty(e->old_value)))) < 0)
                        return r;
                if ((r = json_add(o, "state", json_object_new_string(strempty(e->lease->state)))) < 0 ||
                    (r = json_add(o, "deadline_usec", json_object_new_uint64(e->lease->deadline_usec))) < 0 ||
                    (r = e->lease->deadline_usec > 0
                                 ? json_add(o, "deadline",
                                            json_object_new_string(format_time(e->lease->deadline_usec, buf)))
                                 : json_add_null(o, "deadline")) < 0)
                        return r;
                r = lease_to_json(e->lease, &lease);
                if (r < 0)
                        return r;
                return json_add(o, "lease", lease);
        case EVENT_CONTAINER_ADDED:
                if (!e->container)
                        return 0;
                return json_add(o, "iommu_model", json_object_new_string(strempty(e->container->iommu_model)));
        default:
                return 0;
        }
}

int output_event_json(const MonitorEvent *e) {
        _cleanup_json_ json_object *o = json_object_new_object();
        char buf[FORMAT_TIME_MAX];
        const char *name, *s;
        int r;

        name = monitor_event_type_to_string(e->type);
        if (!name)
                return -EINVAL;
        if (!o)
                return -ENOMEM;

        if ((r = json_add(o, "time", json_object_new_string(format_time(e->time_usec, buf)))) < 0 ||
            (r = json_add(o, "time_usec", json_object_new_uint64(e->time_usec))) < 0 ||
            (r = json_add(o, "event", json_object_new_string(name))) < 0)
                return r;
        r = event_fields_to_json(e, o);
        if (r < 0)
                return r;

        /* One object a line, so that a reader can take each line as it comes. */
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        if (fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
                return negative_errno();
        return 0;
}
