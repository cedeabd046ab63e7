/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Core functions refuse with -errno plus a sentence for the caller; the bus glue turns the pair
 * into a named error. This fills the sentence (when asked for) and returns the error. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((format(printf, 3, 4))) static inline int set_error_message(char **ret, int error, const char *format,
                                                                          ...) {
        va_list ap;

        if (ret) {
                va_start(ap, format);
                if (vasprintf(ret, format, ap) < 0)
                        *ret = NULL;
                va_end(ap);
        }
        return -abs(error);
}
