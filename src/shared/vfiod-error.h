/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one table that ties errno values, named D-Bus errors and vfioctl exit codes together.
 * The daemon's core returns -errno; the bus glue turns it into a name with vfiod_error_name();
 * the client turns the name back into an exit code with vfiod_exit_code(). */

#include <systemd/sd-bus.h>

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

/* vfioctl's exit codes, as the contract fixes them. */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,
        EXIT_USAGE = 2,
        EXIT_NOT_FOUND = 3,
        EXIT_BUSY = 4,
        EXIT_ACCESS_DENIED = 5,
        EXIT_TIMEOUT = 6,
};

/* For sd_bus_error_add_map(): lets sd_bus_error_get_errno() know our names. */
extern const sd_bus_error_map vfiod_error_map[];

/* The org.vfiod1.Error name for a negative errno, or NULL where a generic error fits. */
const char *vfiod_error_name(int error);

/* Sets *e to the named error for -error with the formatted message; returns error (negative). */
int vfiod_error_set(sd_bus_error *e, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* The vfioctl exit code for a failed call: from the error's name when it has one, else from r. */
int vfiod_exit_code(const sd_bus_error *e, int r);
