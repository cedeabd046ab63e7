/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A uid's groups as the user database names them: the primary group of its passwd entry and the
 * groups that list its name (getgrouplist, so NSS sources such as sssd count). The bus does not
 * tell vfiod a caller's groups (dbus-daemon 1.14 sends no gids to sd-bus 252), and /proc may
 * change under a look: the uid the bus vouches for is the one trusted input. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define USER_GROUPS_MAX 64
/* How long an answer is reused: a new membership counts after this, without a lookup per call. */
#define USER_GROUPS_LIFETIME_USEC (30ULL * 1000000ULL)

typedef struct UserGroups {
        gid_t gid; /* the passwd entry's primary group */
        gid_t gids[USER_GROUPS_MAX];
        size_t n_gids;
} UserGroups;

/* 0 with *ret filled, -ESRCH for a uid the database does not know, another -errno when the lookup
 * failed. Answers (a missing uid included) are cached per uid for USER_GROUPS_LIFETIME_USEC. */
int user_groups(uid_t uid, UserGroups *ret);
void user_groups_cache_clear(void);

/* The name (*ret_name, to be freed) and, if ret_gid is not NULL, the primary group of uid's passwd
 * entry; -ESRCH when the database has no such uid. Not cached. */
int user_passwd(uid_t uid, char **ret_name, gid_t *ret_gid);

/* The gid of the group called name; -ESRCH when there is none. Not cached. */
int group_gid_by_name(const char *name, gid_t *ret);

/* The uid of the user called name; -ESRCH when there is none. Not cached. */
int user_uid_by_name(const char *name, uid_t *ret);

/* How many lookups the user database was asked for so far (each one may block in NSS: sssd,
 * LDAP), for tests that show a path does none per call. */
uint64_t user_db_lookups(void);

/* CLOCK_MONOTONIC in microseconds, the clock of the lifetimes above. */
uint64_t user_db_now_usec(void);
