/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the client's connection to vfiod, its error names, targets, and the Manager calls that
 * look objects up. */

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "address.h"
#include "client-internal.h"
#include "vfiod-error.h"

/* The public target is the project's own, under names of the library's. */
_Static_assert(VFIOD_PCI_ADDRESS_MAX == PCI_ADDRESS_MAX, "VFIOD_PCI_ADDRESS_MAX differs from PCI_ADDRESS_MAX");

int vfiod_error_map_register(void) {
        /* Process-wide; sd-bus ignores a map it has already. */
        int r = sd_bus_error_add_map(vfiod_error_map);
        return r < 0 ? r : 0;
}

int vfiod_bus_open(sd_bus **ret_bus) {
        sd_bus *bus = NULL;
        int r;

        r = vfiod_error_map_register();
        if (r < 0)
                return r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;

        *ret_bus = bus;
        return 0;
}

bool vfiod_error_is_not_running(const sd_bus_error *e) {
        /* Not sd_bus_error_has_names(): that needs libsystemd 247, we build with 246. */
        return sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

bool vfiod_error_is_gone(const sd_bus_error *e) {
        /* sd-bus answers UnknownObject where no fallback claims the path, UnknownInterface where the
         * path exists as a node but the object behind it does not. */
        return sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_INTERFACE);
}

const char *vfiod_error_message(const sd_bus_error *e, int r) {
        if (vfiod_error_is_not_running(e))
                return "vfiod is not running";
        if (sd_bus_error_is_set(e) && e->message && *e->message)
                return e->message;
        if (sd_bus_error_is_set(e))
                return e->name;
        return strerror(abs(r));
}

int vfiod_target_parse(const char *s, VfiodTarget *ret) {
        Target t;
        int r;

        if (!s)
                return -EINVAL;
        r = target_parse(s, &t);
        if (r < 0)
                return r;

        *ret = (VfiodTarget){
                .kind = t.kind == TARGET_GROUP ? VFIOD_TARGET_GROUP : VFIOD_TARGET_DEVICE,
                .group = t.group,
        };
        memcpy(ret->address, t.address, sizeof(ret->address));
        return 0;
}

/* Calls a Manager method that answers with one object path. */
static int call_for_path(sd_bus *bus, const char *member, sd_bus_error *error, char **ret_path, const char *types,
                         ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        va_list ap;
        char *p;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(bus, VFIOD_SERVICE, VFIOD_PATH, VFIOD_MANAGER_INTERFACE, member, error, &reply, types,
                                ap);
        va_end(ap);
        if (r < 0)
                return r;

        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;

        p = strdup(path);
        if (!p)
                return -ENOMEM;
        *ret_path = p;
        return 0;
}

int vfiod_get_group_path(sd_bus *bus, uint32_t id, sd_bus_error *error, char **ret_path) {
        return call_for_path(bus, "GetGroup", error, ret_path, "u", id);
}

int vfiod_get_device_path(sd_bus *bus, const char *address, sd_bus_error *error, char **ret_path) {
        return call_for_path(bus, "GetDevice", error, ret_path, "s", address);
}

int vfiod_resolve_target(sd_bus *bus, const VfiodTarget *target, sd_bus_error *error, uint32_t *ret_group,
                         char **ret_group_path) {
        _cleanup_free_ char *device_path = NULL, *group_path = NULL;
        uint32_t group;
        int r;

        switch (target->kind) {
        case VFIOD_TARGET_GROUP:
                group = target->group;
                break;

        case VFIOD_TARGET_DEVICE:
                r = vfiod_get_device_path(bus, target->address, error, &device_path);
                if (r < 0)
                        return r;
                r = sd_bus_get_property_trivial(bus, VFIOD_SERVICE, device_path, VFIOD_DEVICE_INTERFACE, "Group", error,
                                                'u', &group);
                if (r < 0)
                        return r;
                break;

        default:
                return -EINVAL;
        }

        /* Even for a group id we ask: it is how a group vfiod does not know fails as NoSuchGroup. */
        r = vfiod_get_group_path(bus, group, error, &group_path);
        if (r < 0)
                return r;

        if (ret_group)
                *ret_group = group;
        if (ret_group_path)
                *ret_group_path = TAKE_PTR(group_path);
        return 0;
}
