/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: scratch directories of the unit tests. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpdir.h"

int tmpdir_new(const char *prefix, char **ret) {
        const char *parent = getenv("TMPDIR") ?: "/tmp";
        char *template;

        if (asprintf(&template, "%s/%s.XXXXXX", parent, prefix) < 0)
                return -ENOMEM;
        if (!mkdtemp(template)) {
                int r = -errno;
                free(template);
                return r;
        }
        *ret = template;
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

char *tmpdir_remove(char *dir) {
        if (dir)
                (void) nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
        return NULL;
}

static int mkdir_parents(char *path) {
        for (char *p = path + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                        *p = '/';
                        return -errno;
                }
                *p = '/';
        }
        return 0;
}

int tmpdir_write(const char *dir, const char *relative, const char *text) {
        size_t len = strlen(text);
        char *path;
        int fd, r;

        if (asprintf(&path, "%s/%s", dir, relative) < 0)
                return -ENOMEM;
        r = mkdir_parents(path);
        if (r < 0) {
                free(path);
                return r;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        free(path);
        if (fd < 0)
                return -errno;
        r = write(fd, text, len) == (ssize_t) len ? 0 : -EIO;
        close(fd);
        return r;
}
