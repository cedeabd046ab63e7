/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Persistent assignments under /var/lib/vfiod: the devices whose groups are assigned again when
 * the daemon starts. By address, not group id (group numbers may change across boots, PCI
 * addresses of a fixed topology do not), with the identity of the device that was there, so that
 * a renumbered bus or a replaced card is not taken from the host blindly, and with whether the
 * safety refusals were overridden (only root may record that). */

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "sysfs.h"

typedef struct PersistEntry {
        char address[PCI_ADDRESS_MAX];
        bool has_identity; /* false: recorded by a vfiod that did not record identities */
        DeviceIdentity identity;
        bool force; /* assign without the safety check */
} PersistEntry;

typedef struct PersistSet {
        PersistEntry *entries; /* sorted by address */
        size_t n;
} PersistSet;

/* What a move does to the persistent assignments when it succeeds (journaled with the move). */
typedef enum PersistChange {
        PERSIST_KEEP,
        PERSIST_ADD,
        PERSIST_ADD_FORCED,
        PERSIST_REMOVE,
        _PERSIST_CHANGE_MAX,
        _PERSIST_CHANGE_INVALID = -EINVAL,
} PersistChange;

const char *persist_change_to_string(PersistChange c);
PersistChange persist_change_from_string(const char *s);

int persist_load(const char *dir, PersistSet *ret);
void persist_set_done(PersistSet *s);
const PersistEntry *persist_set_find(const PersistSet *s, const char *address);
bool persist_set_contains(const PersistSet *s, const char *address);

/* Adds (with their identities, read from sysfs now) or removes the addresses and rewrites the
 * file. An address whose identity cannot be read is recorded without one. */
int persist_update(const char *dir, const char *sysfs_root, PersistSet *s, char *const *addresses, size_t n,
                   PersistChange change);

/* Whether the device now at e's address is the one recorded: 0 and NULL when it is (or when e has
 * no identity to compare), else 0 and what changed (allocated). */
int persist_entry_check(const PersistEntry *e, const DeviceIdentity *now, char **ret_why);
