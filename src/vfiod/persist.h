/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Persistent assignments under /var/lib/vfiod: the device addresses whose groups are assigned
 * again when the daemon starts. Addresses, not group ids: group numbers may change across boots,
 * PCI addresses of a fixed topology do not. */

#include <stdbool.h>
#include <stddef.h>

typedef struct PersistSet {
        char **addresses; /* sorted, NULL-terminated */
        size_t n;
} PersistSet;

int persist_load(const char *dir, PersistSet *ret);
void persist_set_done(PersistSet *s);
bool persist_set_contains(const PersistSet *s, const char *address);

/* Adds (or removes) the addresses and rewrites the file. */
int persist_update(const char *dir, PersistSet *s, char *const *addresses, size_t n, bool add);
