/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lease table (lease-store.c): what a daemon writes is what a restarted one takes back; leases
 * on groups that are no longer on vfio, containers no lease needs and damaged entries are dropped,
 * never half-believed; ids never go backwards. No fd store here (no service manager): the leases
 * come back without the daemon's fds, which is the documented fallback. */

#include <json-c/json.h>
#include <stdlib.h>

#include "container.h"
#include "lease-store.h"
#include "lease.h"
#include "macro.h"
#include "manager.h"
#include "sysfs-tree.h"
#include "tests.h"
#include "tmpdir.h"

static SysfsTree *tree;
static char *dir;
static Manager *manager;

static void cleanup_case(void) {
        manager = manager_free(manager);
        tree = sysfs_tree_free(tree);
        dir = tmpdir_remove(dir);
}

/* Three single-device groups 0..2; groups 0 and 1 are on vfio (as assign_recover leaves claimed
 * groups), group 2 is on the host. */
static Manager *new_manager(void) {
        _cleanup_free_ char *dev = NULL;
        ManagerOptions o = {
                .proc_root = "/proc",
                .modules_dir = "/nonexistent",
                .config_file = "/nonexistent/vfiod.json",
                .config_dir = "/nonexistent/vfiod.d",
                .write_timeout_usec = 1000000,
        };
        Manager *m;

        if (!tree) {
                check_int(sysfs_tree_new(NULL, &tree), ==, 0);
                check_int(sysfs_tree_add_groups(tree, 3), ==, 0);
                check_int(tmpdir_new("vfiod-test-lease-store", &dir), ==, 0);
        }
        check(asprintf(&dev, "%s/dev", dir) > 0);
        o.sysfs_root = sysfs_tree_root(tree);
        o.dev_root = dev;
        o.runtime_dir = dir;
        o.state_dir = dir;
        check_int(manager_new(&o, &m), ==, 0);
        check_int(inventory_load(m->inventory), >=, 0);
        inventory_set_group_state(m->inventory, inventory_get_group(m->inventory, 0), GROUP_VFIO);
        inventory_set_group_state(m->inventory, inventory_get_group(m->inventory, 1), GROUP_VFIO);
        return m;
}

static void restore_from(const char *table) {
        check_int(tmpdir_write(dir, "leases.json", table), ==, 0);
        manager = manager_free(manager);
        manager = new_manager();
        check_int(lease_store_restore(manager), ==, 0);
}

static const char *const good_table =
        "{ \"last_lease\": 12, \"last_container\": 7,\n"
        "  \"containers\": [\n"
        "    { \"id\": 4, \"owner\": \":1.5\", \"sharing_key\": \"vm1\", \"model\": \"iommufd\" },\n"
        "    { \"id\": 7, \"owner\": \":1.6\", \"sharing_key\": \"\", \"model\": \"Type1v2\" } ],\n"
        "  \"leases\": [\n"
        "    { \"id\": 9, \"group\": 0, \"owner\": \":1.5\", \"uid\": 1000, \"pid\": 4242, \"access\": \"fd\",\n"
        "      \"container\": 4, \"devices\": [ \"0000:00:00.0\" ] },\n"
        "    { \"id\": 10, \"group\": 2, \"owner\": \":1.5\", \"uid\": 1000, \"pid\": 4242, \"access\": \"fd\",\n"
        "      \"container\": 4, \"devices\": [] },\n"
        "    { \"id\": 11, \"group\": 1, \"owner\": \":1.8\", \"uid\": 1001, \"pid\": 77, \"access\": \"grant\",\n"
        "      \"container\": 0, \"devices\": [] } ] }\n";

static void test_restore(void) {
        Lease *l;
        Container *c;
        Group *g;

        manager = new_manager();
        restore_from(good_table);

        check_uint(manager->n_leases, ==, 2);
        l = manager_get_lease(manager, 9);
        check(l);
        check_str(l->owner, ":1.5");
        check_uint(l->uid, ==, 1000);
        check_int(l->pid, ==, 4242);
        check(!l->grant);
        check_uint(l->n_devices, ==, 1);
        check_str(l->device_addresses[0], "0000:00:00.0");
        check_int(l->group_fd, <, 0); /* no fd store: restored without the daemon's fds */
        c = l->container;
        check(c);
        check_uint(c->id, ==, 4);
        check_str(c->sharing_key, "vm1");
        check_uint(c->n_groups, ==, 1);
        check_uint(c->groups[0], ==, 0);
        check_uint(c->n_ranges, >, 0); /* iommufd: everything outside the reserved regions */

        l = manager_get_lease(manager, 11);
        check(l && l->grant && !l->container);
        g = inventory_get_group(manager->inventory, 1);
        check_int(g->state, ==, GROUP_LEASED);
        check_uint(g->lease, ==, 11);

        /* Group 2 is on the host: its lease is not believed; container 7 had no lease. */
        check(!manager_get_lease(manager, 10));
        check_int(inventory_get_group(manager->inventory, 2)->state, ==, GROUP_HOST);
        check(!manager_get_container(manager, 7));
        check_uint(manager->n_containers, ==, 1);

        /* Ids go on from where the last run stopped. */
        check_uint(manager->last_lease_id, ==, 12);
        check_uint(manager->last_container_id, ==, 7);
}

static void test_round_trip(void) {
        _cleanup_free_ char *path = NULL;
        struct json_object *o, *leases;

        manager = new_manager();
        restore_from(good_table);
        /* The table was rewritten with what was restored: a second restart finds the same. */
        check(asprintf(&path, "%s/leases.json", dir) > 0);
        o = json_object_from_file(path);
        check(o);
        check(json_object_object_get_ex(o, "leases", &leases));
        check_uint(json_object_array_length(leases), ==, 2);
        json_object_put(o);

        manager = manager_free(manager);
        manager = new_manager();
        check_int(lease_store_restore(manager), ==, 0);
        check_uint(manager->n_leases, ==, 2);
        check(manager_get_lease(manager, 9) && manager_get_lease(manager, 11));
        check_uint(manager->n_containers, ==, 1);
        check_uint(manager->last_lease_id, ==, 12);
}

static void test_damaged(void) {
        static const char *const tables[] = {
                "this is not json",
                "[]",
                "{ \"leases\": 3 }",
                /* each entry broken in one way */
                "{ \"leases\": [ { \"id\": 0, \"group\": 0, \"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, "
                "\"access\": \"fd\", \"container\": 0, \"devices\": [] } ] }",
                "{ \"leases\": [ { \"id\": 3, \"group\": -1, \"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, "
                "\"access\": \"fd\", \"container\": 0, \"devices\": [] } ] }",
                "{ \"leases\": [ { \"id\": 3, \"group\": 0, \"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, "
                "\"access\": \"steal\", \"container\": 0, \"devices\": [] } ] }",
                "{ \"leases\": [ { \"id\": 3, \"group\": 0, \"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, "
                "\"access\": \"fd\", \"container\": 0, \"devices\": [ \"not-an-address\" ] } ] }",
                "{ \"leases\": [ { \"id\": 3, \"group\": 0, \"uid\": 0, \"pid\": 1, "
                "\"access\": \"fd\", \"container\": 0, \"devices\": [] } ] }",
                /* a lease in a container the table does not have */
                "{ \"leases\": [ { \"id\": 3, \"group\": 0, \"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, "
                "\"access\": \"fd\", \"container\": 5, \"devices\": [] } ] }",
                "{ \"containers\": [ { \"id\": 5, \"owner\": \":1.5\", \"sharing_key\": \"\", \"model\": \"bogus\" } ],"
                "  \"leases\": [ { \"id\": 3, \"group\": 0, \"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, "
                "\"access\": \"fd\", \"container\": 5, \"devices\": [] } ] }",
                /* the same lease twice, or two leases on one group: only the first is believed */
                "{ \"leases\": [ { \"id\": 3, \"group\": 0, \"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, "
                "\"access\": \"fd\", \"container\": 0, \"devices\": [] }, { \"id\": 3, \"group\": 1, "
                "\"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, \"access\": \"fd\", \"container\": 0, \"devices\": [] }, "
                "{ \"id\": 4, \"group\": 0, \"owner\": \":1.5\", \"uid\": 0, \"pid\": 1, "
                "\"access\": \"fd\", \"container\": 0, \"devices\": [] } ] }",
        };

        manager = new_manager();
        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                restore_from(tables[i]);
                printf("# table %zu: %zu leases\n", i, manager->n_leases);
                check_uint(manager->n_leases, <=, 1);
                check_uint(manager->n_containers, ==, 0);
                if (manager->n_leases == 1) {
                        check_uint(manager->leases[0]->id, ==, 3);
                        check_uint(manager->leases[0]->group, ==, 0);
                }
                check_int(inventory_get_group(manager->inventory, 1)->state, ==, GROUP_VFIO);
        }
}

static void test_no_table(void) {
        manager = new_manager();
        check_int(lease_store_restore(manager), ==, 0);
        check_uint(manager->n_leases, ==, 0);
        check_uint(manager->last_lease_id, ==, 0);
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(test_no_table),
                TEST_CASE(test_restore),
                TEST_CASE(test_round_trip),
                TEST_CASE(test_damaged),
        };

        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
