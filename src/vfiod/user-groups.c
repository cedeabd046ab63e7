/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: lookups in the user database (NSS): a uid's name and groups, with a short-lived per-uid cache
 * of the groups, and a group's gid by name. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "user-groups.h"

#define CACHE_SIZE 64
/* NSS lookups want a caller-sized buffer; grow it while they say ERANGE. */
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
static uint64_t lookups;

uint64_t user_db_lookups(void) {
        return lookups;
}

uint64_t user_db_now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static long nss_buffer_size(int name) {
        long size = sysconf(name);
        return size > 0 ? size : 4096;
}

/* The passwd entry of name, or of uid when name is NULL; its strings live in *ret_buf. */
static int passwd_lookup(const char *name, uid_t uid, struct passwd *ret, char **ret_buf) {
        for (long size = nss_buffer_size(_SC_GETPW_R_SIZE_MAX); size <= NSS_BUFFER_MAX; size *= 2) {
                _cleanup_free_ char *buf = malloc((size_t) size);
                struct passwd *result = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                lookups++;
                r = name ? getpwnam_r(name, ret, buf, (size_t) size, &result)
                         : getpwuid_r(uid, ret, buf, (size_t) size, &result);
                if (r == ERANGE)
                        continue;
                if (r != 0)
                        return -r;
                if (!result)
                        return -ESRCH;
                *ret_buf = TAKE_PTR(buf);
                return 0;
        }
        return -ERANGE;
}

int user_passwd(uid_t uid, char **ret_name, gid_t *ret_gid) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw;
        int r;

        r = passwd_lookup(NULL, uid, &pw, &buf);
        if (r < 0)
                return r;
        if (ret_gid)
                *ret_gid = pw.pw_gid;
        *ret_name = strdup(pw.pw_name);
        return *ret_name ? 0 : -ENOMEM;
}

int user_uid_by_name(const char *name, uid_t *ret) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw;
        int r;

        r = passwd_lookup(name, 0, &pw, &buf);
        if (r < 0)
                return r;
        *ret = pw.pw_uid;
        return 0;
}

int group_gid_by_name(const char *name, gid_t *ret) {
        for (long size = nss_buffer_size(_SC_GETGR_R_SIZE_MAX); size <= NSS_BUFFER_MAX; size *= 2) {
                _cleanup_free_ char *buf = malloc((size_t) size);
                struct group gr, *result = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                lookups++;
                r = getgrnam_r(name, &gr, buf, (size_t) size, &result);
                if (r == ERANGE)
                        continue;
                if (r != 0)
                        return -r;
                if (!result)
                        return -ESRCH;
                *ret = gr.gr_gid;
                return 0;
        }
        return -ERANGE;
}

static int lookup(uid_t uid, UserGroups *ret) {
        _cleanup_free_ char *name = NULL;
        UserGroups g = {};
        int n = USER_GROUPS_MAX, r;

        r = user_passwd(uid, &name, &g.gid);
        if (r < 0)
                return r;
        /* More groups than fit: the first USER_GROUPS_MAX count, and the log says so. */
        lookups++;
        if (getgrouplist(name, g.gid, g.gids, &n) < 0) {
                log_notice("User %s is in more than %d groups; rules see the first %d.", name, USER_GROUPS_MAX,
                           USER_GROUPS_MAX);
                n = USER_GROUPS_MAX;
        }
        g.n_gids = (size_t) n;
        *ret = g;
        return 0;
}

int user_groups(uid_t uid, UserGroups *ret) {
        uint64_t now = user_db_now_usec();
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
