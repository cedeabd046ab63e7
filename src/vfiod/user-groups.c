/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: a uid's groups from the user database, and the short-lived per-uid cache of them. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "user-groups.h"

#define CACHE_SIZE     64
#define NSS_BUFFER_MAX (1024L * 1024L)

typedef struct CachedGroups {
        bool used;
        uid_t uid;
        uint64_t expires_usec; /* CLOCK_MONOTONIC */
        int result;
        UserGroups groups;
} CachedGroups;

/* A small ring, like the callers' identities: a few users make most calls. */
static CachedGroups cache[CACHE_SIZE];
static size_t cache_next;

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static int lookup(uid_t uid, UserGroups *ret) {
        long start = sysconf(_SC_GETPW_R_SIZE_MAX);

        for (long size = start > 0 ? start : 4096; size <= NSS_BUFFER_MAX; size *= 2) {
                _cleanup_free_ char *buf = malloc((size_t) size);
                struct passwd pw, *result = NULL;
                UserGroups g = {};
                int n = USER_GROUPS_MAX, r;

                if (!buf)
                        return -ENOMEM;
                r = getpwuid_r(uid, &pw, buf, (size_t) size, &result);
                if (r == ERANGE)
                        continue;
                if (r != 0)
                        return -r;
                if (!result)
                        return -ESRCH;
                g.gid = pw.pw_gid;
                /* More groups than fit: the first USER_GROUPS_MAX count, and the log says so. */
                if (getgrouplist(pw.pw_name, pw.pw_gid, g.gids, &n) < 0) {
                        log_notice("User %s is in more than %d groups; rules see the first %d.", pw.pw_name,
                                   USER_GROUPS_MAX, USER_GROUPS_MAX);
                        n = USER_GROUPS_MAX;
                }
                g.n_gids = (size_t) n;
                *ret = g;
                return 0;
        }
        return -ERANGE;
}

int user_groups(uid_t uid, UserGroups *ret) {
        uint64_t now = now_usec();
        CachedGroups *slot;

        FOREACH_ARRAY(c, cache, CACHE_SIZE)
                if (c->used && c->uid == uid && now < c->expires_usec) {
                        *ret = c->groups;
                        return c->result;
                }
        slot = &cache[cache_next];
        *slot = (CachedGroups){ .used = true, .uid = uid, .expires_usec = now + USER_GROUPS_LIFETIME_USEC };
        slot->result = lookup(uid, &slot->groups);
        /* A failed lookup (not a missing user) is worth another try at the next call. */
        if (slot->result < 0 && slot->result != -ESRCH)
                slot->used = false;
        cache_next = (cache_next + 1) % CACHE_SIZE;
        *ret = slot->groups;
        return slot->result;
}

void user_groups_cache_clear(void) {
        FOREACH_ARRAY(c, cache, CACHE_SIZE)
                c->used = false;
}
