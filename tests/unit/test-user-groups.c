/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A uid's groups come from the user database, a missing uid is -ESRCH, and answers are cached. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>

#include "tests.h"
#include "user-groups.h"

static bool has_gid(const UserGroups *g, gid_t gid) {
        for (size_t i = 0; i < g->n_gids; i++)
                if (g->gids[i] == gid)
                        return true;
        return false;
}

/* root is in every passwd: its primary group is in the list getgrouplist makes. */
static void root_has_its_primary_group(void) {
        UserGroups g;

        check_int(user_groups(0, &g), ==, 0);
        check_uint(g.gid, ==, 0);
        check(g.n_gids >= 1);
        check(has_gid(&g, 0));
}

/* The same as the C library says for nobody (65534 on Debian), when the database has it. */
static void matches_the_database(void) {
        struct passwd *pw = getpwuid(65534);
        gid_t want[USER_GROUPS_MAX];
        int n = USER_GROUPS_MAX;
        UserGroups g;

        if (!pw)
                return;
        check_int(user_groups(65534, &g), ==, 0);
        check_uint(g.gid, ==, pw->pw_gid);
        check(getgrouplist(pw->pw_name, pw->pw_gid, want, &n) >= 0);
        check_uint(g.n_gids, ==, (size_t) n);
        for (int i = 0; i < n; i++)
                check(has_gid(&g, want[i]));
}

/* A uid nobody has gets no groups (and so no group rule), twice: the second from the cache. */
static void unknown_uid_is_esrch(void) {
        UserGroups g;

        check(getpwuid(3999999999u) == NULL);
        check_int(user_groups(3999999999u, &g), ==, -ESRCH);
        check_int(user_groups(3999999999u, &g), ==, -ESRCH);
        user_groups_cache_clear();
        check_int(user_groups(3999999999u, &g), ==, -ESRCH);
}

TESTS_MAIN(TEST_CASE(root_has_its_primary_group), TEST_CASE(matches_the_database), TEST_CASE(unknown_uid_is_esrch))
