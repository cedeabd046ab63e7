/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Scratch directories for unit tests that need files of their own (intent logs, procfs stand-ins,
 * modules.alias): made with mkdtemp() and removed whole afterwards. */

/* A new empty directory "<$TMPDIR or /tmp>/<prefix>.XXXXXX"; returns 0 or -errno. */
int tmpdir_new(const char *prefix, char **ret);

/* Removes the directory and everything below it (symlinks are not followed), frees the name and
 * returns NULL, so that it can be used as "dir = tmpdir_remove(dir);". NULL is fine. */
char *tmpdir_remove(char *dir);

/* Writes text to dir/relative (creating the file's parent directories); returns 0 or -errno. */
int tmpdir_write(const char *dir, const char *relative, const char *text);
