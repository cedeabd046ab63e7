/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: vfioctl's --json documents. Keys follow the contract: add, never rename or remove. */

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
            (r = json_add(o, "class", json_hex(d->class, 6))) < 0 ||
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
            (r = g->lease ? json_add(o, "lease", json_object_new_string(g->lease))
                          : json_add_null(o, "lease")) < 0 ||
            (r = json_add(o, "persistent", json_object_new_boolean(g->persistent))) < 0 ||
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

static int holders_to_json(const VfiodGroup *g, json_object **ret) {
        _cleanup_json_ json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;

        FOREACH_ARRAY(h, g->holders, g->n_holders) {
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

int output_show_json(const VfiodGroup *group) {
        _cleanup_json_ json_object *o = NULL;
        json_object *regions = NULL, *holders = NULL;
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

        r = holders_to_json(group, &holders);
        if (r < 0)
                return r;
        r = json_add(o, "holders", holders);
        if (r < 0)
                return r;

        /* CONTAINER: when the group is leased, the contract adds "container": {"iommu_model",
         * "groups", "iova_ranges", "page_sizes"} from the lease's org.vfiod1.Container object. It
         * belongs here, once vfiod hands out leases (the Acquire issue); until then Lease is
         * always "/" and there is nothing to show. */

        return json_print(o);
}
