/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The intent log under /run/vfiod: one file per group the daemon has claimed or is moving,
 * written (atomically) before every kernel write. It says which way the group is going and which
 * driver each device came from, so that a daemon killed mid-way finishes the move when it starts
 * again, and a restarted daemon knows what to give back. Gone at reboot, as the bindings are. */

#include <stddef.h>
#include <stdint.h>

struct json_object;

#include "bind.h"
#include "inventory.h"
#include "persist.h"

typedef struct JournalEntry {
        uint32_t group;
        GroupState state; /* GROUP_ASSIGNING, GROUP_VFIO or GROUP_UNASSIGNING */
        PersistChange persist; /* what the move does to the persistent assignments once it is done */
        DeviceMove *moves; /* from: the host driver (NULL: none); to: the vfio driver */
        size_t n_moves;
} JournalEntry;

int journal_write(const char *dir, uint32_t group, GroupState state, PersistChange persist, const DeviceMove *moves,
                  size_t n);
int journal_remove(const char *dir, uint32_t group);

/* Every entry found in dir; unreadable files are reported and skipped. */
int journal_load_all(const char *dir, JournalEntry **ret, size_t *ret_n);
void journal_entries_free(JournalEntry *entries, size_t n);

/* Writes a JSON object to path through a temporary file and rename(), so readers never see half. */
int json_write_file_atomic(const char *path, struct json_object *o);
