/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the mapping between errno values, D-Bus error names and CLI exit codes. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "vfiod-error.h"

typedef struct ErrorInfo {
        const char *name;
        int errnum;
        int exit_code;
} ErrorInfo;

/* Each errno appears once, so that the core can say which error it means by errno alone. */
static const ErrorInfo error_table[] = {
        { VFIOD_ERROR_NO_SUCH_GROUP, ENOENT, EXIT_NOT_FOUND },
        { VFIOD_ERROR_NO_SUCH_DEVICE, ENODEV, EXIT_NOT_FOUND },
        { VFIOD_ERROR_INVALID_ADDRESS, EINVAL, EXIT_USAGE },
        { VFIOD_ERROR_INVALID_OPTION, EBADRQC, EXIT_USAGE },
        { VFIOD_ERROR_ALREADY_ASSIGNED, EALREADY, EXIT_FAILED },
        { VFIOD_ERROR_NOT_ASSIGNED, ENOTCONN, EXIT_FAILED },
        { VFIOD_ERROR_GROUP_BUSY, EBUSY, EXIT_BUSY },
        { VFIOD_ERROR_NOT_VIABLE, EXDEV, EXIT_FAILED },
        { VFIOD_ERROR_UNSAFE, ECANCELED, EXIT_FAILED },
        { VFIOD_ERROR_TIMEOUT, ETIMEDOUT, EXIT_TIMEOUT },
        { VFIOD_ERROR_WEDGED, ENOTRECOVERABLE, EXIT_FAILED },
        { VFIOD_ERROR_UNSUPPORTED, EOPNOTSUPP, EXIT_FAILED },
};

/* Errors from the bus itself that a CLI user meets. */
static const ErrorInfo bus_error_table[] = {
        { SD_BUS_ERROR_ACCESS_DENIED, EACCES, EXIT_ACCESS_DENIED },
        { "org.freedesktop.DBus.Error.AuthFailed", EACCES, EXIT_ACCESS_DENIED },
        { "org.freedesktop.PolicyKit1.Error.NotAuthorized", EACCES, EXIT_ACCESS_DENIED },
        { SD_BUS_ERROR_NO_REPLY, ETIMEDOUT, EXIT_TIMEOUT },
        { SD_BUS_ERROR_TIMEOUT, ETIMEDOUT, EXIT_TIMEOUT },
        { SD_BUS_ERROR_INVALID_ARGS, EINVAL, EXIT_USAGE },
        { SD_BUS_ERROR_UNKNOWN_OBJECT, ENOENT, EXIT_NOT_FOUND },
};

const sd_bus_error_map vfiod_error_map[] = {
        SD_BUS_ERROR_MAP(VFIOD_ERROR_NO_SUCH_GROUP, ENOENT),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_NO_SUCH_DEVICE, ENODEV),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_INVALID_ADDRESS, EINVAL),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_INVALID_OPTION, EBADRQC),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_ALREADY_ASSIGNED, EALREADY),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_NOT_ASSIGNED, ENOTCONN),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_GROUP_BUSY, EBUSY),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_NOT_VIABLE, EXDEV),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_UNSAFE, ECANCELED),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_TIMEOUT, ETIMEDOUT),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_WEDGED, ENOTRECOVERABLE),
        SD_BUS_ERROR_MAP(VFIOD_ERROR_UNSUPPORTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP_END,
};

const char *vfiod_error_name(int error) {
        FOREACH_ARRAY(i, error_table, ELEMENTSOF(error_table))
                if (i->errnum == abs(error))
                        return i->name;
        return NULL;
}

int vfiod_error_set(sd_bus_error *e, int error, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        const char *name = vfiod_error_name(error);
        va_list ap;
        int r;

        if (abs(error) == EACCES || abs(error) == EPERM)
                name = SD_BUS_ERROR_ACCESS_DENIED;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                return sd_bus_error_set_errno(e, ENOMEM);

        if (!name)
                return sd_bus_error_set_errnof(e, abs(error), "%s", message);
        sd_bus_error_set(e, name, message);
        return -abs(error);
}

static const ErrorInfo *lookup_name(const char *name) {
        FOREACH_ARRAY(i, error_table, ELEMENTSOF(error_table))
                if (streq(i->name, name))
                        return i;
        FOREACH_ARRAY(i, bus_error_table, ELEMENTSOF(bus_error_table))
                if (streq(i->name, name))
                        return i;
        return NULL;
}

int vfiod_exit_code(const sd_bus_error *e, int r) {
        const ErrorInfo *i = e && e->name ? lookup_name(e->name) : NULL;

        if (i)
                return i->exit_code;
        switch (abs(r)) {
        case EACCES:
        case EPERM:
                return EXIT_ACCESS_DENIED;
        case ETIMEDOUT:
                return EXIT_TIMEOUT;
        default:
                return EXIT_FAILED;
        }
}
