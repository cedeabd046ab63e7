/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Taking a group back from its lease (remove.c), on a generated tree with a lease and no bus:
 * asking the owner arms its deadline first, so a deadline that cannot be armed leaves the lease
 * active and the group leased, with nobody asked; one that can makes both releasing. */

#include <stdlib.h>

#include "lease.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "remove.h"
#include "sysfs-tree.h"
#include "tests.h"
#include "tmpdir.h"

#define GROUP 5

static char *dir;
static SysfsTree *tree;
static Manager *manager;
static int done_calls;

static void cleanup_case(void) {
        manager = manager_free(manager);
        tree = sysfs_tree_free(tree);
        dir = tmpdir_remove(dir);
        done_calls = 0;
}

static void on_done(Manager *m, uint32_t group, int error, const char *message, void *userdata) {
        done_calls++;
}

/* A manager over a tree with group 5 (one unbound edu device), the group leased to :1.42. */
static Lease *leased_group(Group **ret_group) {
        static const SysfsTreeDevice edu = {
                .address = "0000:01:00.0", .group = GROUP, .vendor = 0x1234, .product = 0x11e8, .class = 0x00ff00
        };
        ManagerOptions o = { .dev_root = "/nonexistent",
                             .proc_root = "/nonexistent",
                             .modules_dir = "/nonexistent",
                             .config_file = "/nonexistent",
                             .config_dir = "/nonexistent",
                             .write_timeout_usec = 1000000 };
        Lease *l;
        Group *g;

        check_int(tmpdir_new("vfiod-test-remove", &dir), ==, 0);
        check_int(sysfs_tree_new(NULL, &tree), ==, 0);
        check_int(sysfs_tree_add_device(tree, &edu), ==, 0);
        o.sysfs_root = sysfs_tree_root(tree);
        o.runtime_dir = dir;
        o.state_dir = dir;
        check_int(manager_new(&o, &manager), ==, 0);
        check_int(inventory_load(manager->inventory), >=, 0);
        g = inventory_get_group(manager->inventory, GROUP);
        check(g);

        l = calloc(1, sizeof(Lease));
        manager->leases = calloc(1, sizeof(Lease *));
        check(l && manager->leases);
        *l = (Lease){ .manager = manager,
                      .id = 1,
                      .group = GROUP,
                      .owner = strdup(":1.42"),
                      .uid = 1000,
                      .pidfd = -EBADF,
                      .group_fd = -EBADF,
                      .state = LEASE_ACTIVE };
        manager->leases[manager->n_leases++] = l;
        g->lease = l->id;
        g->state = GROUP_LEASED;
        *ret_group = g;
        return l;
}

static void deadline_that_cannot_be_armed_changes_nothing(void) {
        UnassignOptions o = {};
        _cleanup_free_ char *message = NULL;
        Group *g;
        Lease *l = leased_group(&g);

        /* No deadline this far out can be armed: the failure comes before any state changes. */
        check_int(remove_start(manager, g, REMOVE_SOFT, UINT64_MAX - 1, &o, on_done, NULL, &message), <, 0);
        check_int(l->state, ==, LEASE_ACTIVE);
        check_uint(l->deadline_usec, ==, 0);
        check(!l->removal);
        check_int(g->state, ==, GROUP_LEASED);
        check_int(done_calls, ==, 0);
}

static void deadline_armed_makes_lease_and_group_releasing(void) {
        UnassignOptions o = {};
        _cleanup_free_ char *message = NULL;
        Group *g;
        Lease *l = leased_group(&g);

        check_int(remove_start(manager, g, REMOVE_HARD, 60 * 1000000ULL, &o, on_done, NULL, &message), ==, 0);
        check_int(l->state, ==, LEASE_RELEASING);
        check_uint(l->deadline_usec, >, 0);
        check(l->removal);
        check_int(g->state, ==, GROUP_RELEASING);
        check_int(done_calls, ==, 0);
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(deadline_that_cannot_be_armed_changes_nothing),
                TEST_CASE(deadline_armed_makes_lease_and_group_releasing),
        };

        log_set_max_level(getenv("VFIOD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
