/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: where log lines go and at which level they are cut. */

#include <stdarg.h>

#include "log.h"

static int max_level = LOG_INFO;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        static int journal = -1;
        int saved = errno;
        va_list ap;

        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;

        if (error != 0)
                errno = abs(error);

        if (journal)
                fprintf(stderr, "<%d>", level);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);

        errno = saved;
        return -abs(error);
}
