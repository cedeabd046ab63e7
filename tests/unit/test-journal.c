/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The intent log (journal.c) and the persistent assignments (persist.c): what is written is what
 * is read back, writes are atomic, and damaged files are skipped or refused, never half-believed. */

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "journal.h"
#include "log.h"
#include "macro.h"
#include "persist.h"
#include "sysfs-tree.h"
#include "sysfs.h"
#include "tests.h"
#include "tmpdir.h"

/* What the current case made, freed after it whether it passed or not. */
static char *dir;
static JournalEntry *entries;
static size_t n_entries;
static PersistSet set;
static SysfsTree *tree;

static void cleanup_case(void) {
        tree = sysfs_tree_free(tree);
        journal_entries_free(entries, n_entries);
        entries = NULL;
        n_entries = 0;
        persist_set_done(&set);
        dir = tmpdir_remove(dir);
}

static const char *new_dir(void) {
        int r;

        check(!dir);
        r = tmpdir_new("vfiod-test-journal", &dir);
        if (r < 0)
                test_fail("tmpdir_new: %s", strerror(-r));
        return dir;
}

static void load_all(size_t expected) {
        int r;

        check(!entries);
        r = journal_load_all(dir, &entries, &n_entries);
        if (r < 0)
                test_fail("journal_load_all: %s", strerror(-r));
        if (n_entries != expected)
                test_fail("journal_load_all found %zu entries, expected %zu", n_entries, expected);
}

static const JournalEntry *entry_for(uint32_t group) {
        FOREACH_ARRAY(e, entries, n_entries)
                if (e->group == group)
                        return e;
        test_fail("no journal entry for group %" PRIu32, group);
}

/* The names in dir, sorted, space-separated. */
static const char *listing(void) {
        static char text[1024];
        struct dirent **names;
        int n;

        n = scandir(dir, &names, NULL, alphasort);
        check_int(n, >=, 0);
        text[0] = '\0';
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.') {
                        if (text[0])
                                strncat(text, " ", sizeof(text) - strlen(text) - 1);
                        strncat(text, names[i]->d_name, sizeof(text) - strlen(text) - 1);
                }
                free(names[i]);
        }
        free(names);
        return text;
}

static const DeviceMove two_moves[] = {
        { "0000:01:00.0", (char *) "nvme", (char *) "vfio-pci" },
        { "0000:01:00.1", NULL, (char *) "mlx5_vfio_pci" },
};

static void journal_round_trips_group_state_and_moves(void) {
        new_dir();
        check_int(journal_write(dir, 7, GROUP_ASSIGNING, PERSIST_ADD_FORCED, two_moves, ELEMENTSOF(two_moves)), ==, 0);
        check_int(journal_write(dir, 12, GROUP_VFIO, PERSIST_KEEP, two_moves, 1), ==, 0);
        check_int(journal_write(dir, 4294967294u, GROUP_UNASSIGNING, PERSIST_REMOVE, NULL, 0), ==, 0);
        check_int(journal_write(dir, 8, GROUP_ASSIGNING, PERSIST_ADD, two_moves, 1), ==, 0);
        load_all(4);

        const JournalEntry *e = entry_for(7);
        check_int(e->state, ==, GROUP_ASSIGNING);
        check_int(e->persist, ==, PERSIST_ADD_FORCED);
        check_uint(e->n_moves, ==, 2);
        check_str(e->moves[0].address, "0000:01:00.0");
        check_str(e->moves[0].from, "nvme");
        check_str(e->moves[0].to, "vfio-pci");
        check_str(e->moves[1].address, "0000:01:00.1");
        check(e->moves[1].from == NULL); /* no host driver: NULL, not "" */
        check_str(e->moves[1].to, "mlx5_vfio_pci");

        check_int(entry_for(8)->persist, ==, PERSIST_ADD);

        e = entry_for(12);
        check_int(e->state, ==, GROUP_VFIO);
        check_int(e->persist, ==, PERSIST_KEEP);
        check_uint(e->n_moves, ==, 1);
        check_str(e->moves[0].from, "nvme");

        e = entry_for(4294967294u);
        check_int(e->state, ==, GROUP_UNASSIGNING);
        check_int(e->persist, ==, PERSIST_REMOVE);
        check_uint(e->n_moves, ==, 0);
}

static void journal_write_replaces_entry_and_leaves_no_tmp(void) {
        new_dir();
        check_int(journal_write(dir, 3, GROUP_ASSIGNING, PERSIST_KEEP, two_moves, ELEMENTSOF(two_moves)), ==, 0);
        check_int(journal_write(dir, 3, GROUP_VFIO, PERSIST_KEEP, two_moves, 1), ==, 0);
        check_str(listing(), "group-3.json");

        load_all(1);
        check_int(entries[0].state, ==, GROUP_VFIO);
        check_uint(entries[0].n_moves, ==, 1);
}

static void journal_write_to_missing_dir_fails_cleanly(void) {
        _cleanup_free_ char *missing = NULL;

        new_dir();
        check(asprintf(&missing, "%s/absent", dir) >= 0);
        check_int(journal_write(missing, 3, GROUP_VFIO, PERSIST_KEEP, two_moves, 1), ==, -ENOENT);
        check_str(listing(), "");
}

static void json_write_file_atomic_keeps_old_file_when_tmp_cannot_be_made(void) {
        _cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL;

        new_dir();
        check_int(journal_write(dir, 5, GROUP_VFIO, PERSIST_KEEP, two_moves, 1), ==, 0);
        /* A directory where the temporary file would go: the rename never happens. */
        check(asprintf(&tmp, "%s/group-5.json.tmp", dir) >= 0);
        check_int(mkdir(tmp, 0755), ==, 0);
        check_int(journal_write(dir, 5, GROUP_ASSIGNING, PERSIST_KEEP, two_moves, 2), <, 0);
        check(asprintf(&path, "%s/group-5.json", dir) >= 0);
        check_int(read_full_file(path, &text), >=, 0);
        check(strstr(text, "\"vfio\""));
        check(!strstr(text, "assigning"));
}

/* Each is a group-N.json that must be skipped, while its neighbours load. */
static const struct {
        const char *name;
        const char *text;
} malformed[] = {
        { "group-1.json", "{ \"group\": 1, \"state\": \"vfio\", " },
        { "group-2.json", "" },
        { "group-3.json", "{ \"group\": \"3\", \"state\": \"vfio\", \"devices\": [] }" },
        { "group-4.json", "{ \"group\": 4, \"state\": 2, \"devices\": [] }" },
        { "group-5.json", "{ \"group\": 5, \"state\": \"vfio\", \"devices\": {} }" },
        { "group-6.json", "{ \"group\": 6, \"state\": \"leased\", \"devices\": [] }" },
        { "group-8.json", "{ \"group\": 8, \"state\": \"bogus\", \"devices\": [] }" },
        { "group-9.json", "{ \"group\": 9, \"state\": \"host\", \"devices\": [] }" },
        { "group-10.json", "{ \"group\": -10, \"state\": \"vfio\", \"devices\": [] }" },
        { "group-11.json", "{ \"group\": 4294967295, \"state\": \"vfio\", \"devices\": [] }" },
        { "group-13.json", "{ \"group\": 13, \"state\": \"vfio\", \"devices\": "
                           "[ { \"address\": \"zz\", \"original_driver\": null, \"vfio_driver\": \"vfio-pci\" } ] }" },
        { "group-14.json",
          "{ \"group\": 14, \"state\": \"vfio\", \"devices\": "
          "[ { \"address\": \"0000:01:00.0\", \"original_driver\": 3, \"vfio_driver\": \"vfio-pci\" } ] }" },
        { "group-15.json", "{ \"group\": 15, \"state\": \"vfio\", \"devices\": "
                           "[ { \"original_driver\": \"nvme\", \"vfio_driver\": \"vfio-pci\" } ] }" },
        { "group-16.json", "{ \"group\": 16, \"state\": \"vfio\", \"devices\": [ \"0000:01:00.0\" ] }" },
        { "group-17.json", "[ 17, \"vfio\" ]" },
        { "group-18.json",
          "{ \"group\": 18, \"state\": \"vfio\", \"devices\": "
          "[ { \"address\": \"0000:01:00.0\", \"original_driver\": \"nvme\", \"vfio_driver\": true } ] }" },
        { "group-19.json", "{ \"group\": 19, \"state\": \"vfio\", \"devices\": "
                           "[ { \"address\": \"0000:01:00.0 \", \"vfio_driver\": \"vfio-pci\" } ] }" },
        { "group-20.json", "{ \"group\": 20, \"state\": \"assigning\", \"persist\": \"always\", \"devices\": [] }" },
        { "group-21.json", "{ \"group\": 21, \"state\": \"assigning\", \"persist\": true, \"devices\": [] }" },
};

static void journal_load_all_skips_malformed_files(void) {
        new_dir();
        FOREACH_ARRAY(m, malformed, ELEMENTSOF(malformed))
                check_int(tmpdir_write(dir, m->name, m->text), ==, 0);
        check_int(journal_write(dir, 7, GROUP_VFIO, PERSIST_KEEP, two_moves, ELEMENTSOF(two_moves)), ==, 0);
        check_int(journal_write(dir, 12, GROUP_ASSIGNING, PERSIST_KEEP, two_moves, 1), ==, 0);
        /* As vfiod wrote it before the persist flag was journaled: the move keeps the assignments. */
        check_int(tmpdir_write(dir, "group-22.json", "{ \"group\": 22, \"state\": \"assigning\", \"devices\": [] }"),
                  ==, 0);

        load_all(3);
        check_uint(entry_for(7)->n_moves, ==, 2);
        check_uint(entry_for(12)->n_moves, ==, 1);
        check_int(entry_for(22)->persist, ==, PERSIST_KEEP);
}

static void journal_load_all_ignores_other_names(void) {
        new_dir();
        check_int(journal_write(dir, 7, GROUP_VFIO, PERSIST_KEEP, two_moves, 1), ==, 0);
        /* A temporary file left by a crash mid-write, and what else may lie around. */
        check_int(tmpdir_write(dir, "group-8.json.tmp", "{ \"group\": 8, \"state\": \"vfio\", \"devices\": [] }"), ==,
                  0);
        check_int(tmpdir_write(dir, "assignments.json", "{ \"devices\": [] }"), ==, 0);
        check_int(tmpdir_write(dir, "group-9.txt", "{ \"group\": 9, \"state\": \"vfio\", \"devices\": [] }"), ==, 0);

        load_all(1);
        check_uint(entries[0].group, ==, 7);
}

static void journal_load_all_of_missing_dir_is_empty(void) {
        _cleanup_free_ char *missing = NULL;

        new_dir();
        check(asprintf(&missing, "%s/absent", dir) >= 0);
        check_int(journal_load_all(missing, &entries, &n_entries), ==, 0);
        check_uint(n_entries, ==, 0);
}

static void journal_remove_deletes_entry_and_tolerates_missing(void) {
        new_dir();
        check_int(journal_remove(dir, 42), ==, 0);
        check_int(journal_write(dir, 42, GROUP_VFIO, PERSIST_KEEP, two_moves, 1), ==, 0);
        check_int(journal_write(dir, 43, GROUP_VFIO, PERSIST_KEEP, two_moves, 1), ==, 0);
        check_int(journal_remove(dir, 42), ==, 0);
        check_str(listing(), "group-43.json");
        check_int(journal_remove(dir, 42), ==, 0);
        load_all(1);
        check_uint(entries[0].group, ==, 43);
}

/* Three devices whose identities persist_update records. */
static const char *new_tree(void) {
        static const SysfsTreeDevice devices[] = {
                { .address = "0000:01:00.0",
                  .group = 1,
                  .vendor = 0x144d,
                  .product = 0xa808,
                  .class = 0x010802,
                  .subsystem_vendor = 0x144d,
                  .subsystem_device = 0xa801 },
                { .address = "0000:02:00.0",
                  .group = 2,
                  .vendor = 0x8086,
                  .product = 0x10d3,
                  .class = 0x020000,
                  .subsystem_vendor = 0x8086,
                  .subsystem_device = 0xa01f,
                  .driver = "e1000e" },
                { .address = "0000:03:00.0", .group = 3, .vendor = 0x1234, .product = 0x11e8, .class = 0x00ff00 },
        };
        int r;

        r = sysfs_tree_new(NULL, &tree);
        if (r < 0)
                test_fail("sysfs_tree_new: %s", strerror(-r));
        FOREACH_ARRAY(d, devices, ELEMENTSOF(devices))
                check_int(sysfs_tree_add_device(tree, d), ==, 0);
        return sysfs_tree_root(tree);
}

static void persist_update_adds_and_removes_and_load_reads_it_back(void) {
        char *const first[] = { (char *) "0000:02:00.0", (char *) "0000:01:00.0" };
        char *const again[] = { (char *) "0000:01:00.0", (char *) "0000:03:00.0" };
        char *const gone[] = { (char *) "0000:02:00.0", (char *) "0000:7f:00.0" };
        _cleanup_free_ char *state = NULL;
        const char *root = new_tree();
        PersistSet loaded = {};

        new_dir();
        /* The state directory does not exist before the first assignment is persisted. */
        check(asprintf(&state, "%s/state", dir) >= 0);

        check_int(persist_update(state, root, &set, first, ELEMENTSOF(first), PERSIST_ADD), ==, 0);
        check_uint(set.n, ==, 2);
        check_str(set.entries[0].address, "0000:01:00.0"); /* kept sorted */
        check_str(set.entries[1].address, "0000:02:00.0");
        check(persist_set_contains(&set, "0000:01:00.0"));
        check(persist_set_contains(&set, "0000:02:00.0"));
        check(!persist_set_contains(&set, "0000:03:00.0"));

        check_int(persist_update(state, root, &set, again, ELEMENTSOF(again), PERSIST_ADD), ==, 0);
        check_uint(set.n, ==, 3); /* no duplicate */

        check_int(persist_load(state, &loaded), ==, 0);
        check_uint(loaded.n, ==, 3);
        check_str(loaded.entries[0].address, "0000:01:00.0");
        check_str(loaded.entries[1].address, "0000:02:00.0");
        check_str(loaded.entries[2].address, "0000:03:00.0");
        persist_set_done(&loaded);

        check_int(persist_update(state, root, &set, gone, ELEMENTSOF(gone), PERSIST_REMOVE), ==, 0);
        check_uint(set.n, ==, 2);
        check(!persist_set_contains(&set, "0000:02:00.0"));

        check_int(persist_load(state, &loaded), ==, 0);
        check_uint(loaded.n, ==, 2);
        check(persist_set_contains(&loaded, "0000:01:00.0"));
        check(persist_set_contains(&loaded, "0000:03:00.0"));
        check(!persist_set_contains(&loaded, "0000:02:00.0"));
        persist_set_done(&loaded);
}

static void persist_update_records_identity_and_force(void) {
        char *const nic[] = { (char *) "0000:02:00.0" };
        char *const disk_and_gone[] = { (char *) "0000:01:00.0", (char *) "0000:7f:00.0" };
        const char *root = new_tree();
        const PersistEntry *e;
        PersistSet loaded = {};

        new_dir();
        check_int(persist_update(dir, root, &set, nic, 1, PERSIST_ADD_FORCED), ==, 0);
        check_int(persist_update(dir, root, &set, disk_and_gone, 2, PERSIST_ADD), ==, 0);
        check_int(persist_load(dir, &loaded), ==, 0);
        check_uint(loaded.n, ==, 3);

        e = persist_set_find(&loaded, "0000:02:00.0");
        check(e && e->has_identity && e->force);
        check_uint(e->identity.vendor, ==, 0x8086);
        check_uint(e->identity.device, ==, 0x10d3);
        check_uint(e->identity.subsystem_vendor, ==, 0x8086);
        check_uint(e->identity.subsystem_device, ==, 0xa01f);
        check_uint(e->identity.class, ==, 0x020000);

        e = persist_set_find(&loaded, "0000:01:00.0");
        check(e && e->has_identity && !e->force);
        check_uint(e->identity.device, ==, 0xa808);

        /* A device that cannot be read is recorded without an identity, never with a made-up one. */
        e = persist_set_find(&loaded, "0000:7f:00.0");
        check(e && !e->has_identity && !e->force);

        /* Assigning again without force takes the recorded force back. */
        check_int(persist_update(dir, root, &set, nic, 1, PERSIST_ADD), ==, 0);
        check(!persist_set_find(&set, "0000:02:00.0")->force);
        persist_set_done(&loaded);
}

static void persist_entry_check_names_what_changed(void) {
        PersistEntry e = { .address = "0000:02:00.0",
                           .has_identity = true,
                           .identity = { 0x8086, 0x100e, 0x8086, 0x001e, 0x020000 } };
        DeviceIdentity same = e.identity, other = { 0x10ec, 0x8139, 0x1af4, 0x1100, 0x020000 },
                       subsystem = { 0x8086, 0x100e, 0x8086, 0x001f, 0x020000 };
        _cleanup_free_ char *why = NULL;

        check_int(persist_entry_check(&e, &same, &why), ==, 0);
        check(!why);
        check_int(persist_entry_check(&e, &other, &why), ==, 0);
        check_str(why, "0000:02:00.0 is now 10ec:8139 (subsystem 1af4:1100, class 0x020000), recorded as 8086:100e "
                       "(subsystem 8086:001e, class 0x020000)");
        why = mfree(why);
        check_int(persist_entry_check(&e, &subsystem, &why), ==, 0);
        check(why);
        why = mfree(why);
        e.has_identity = false; /* an older record: nothing to compare */
        check_int(persist_entry_check(&e, &other, &why), ==, 0);
        check(!why);
}

static void persist_update_leaves_no_tmp(void) {
        char *const one[] = { (char *) "0000:01:00.0" };
        const char *root = new_tree();

        new_dir();
        check_int(persist_update(dir, root, &set, one, 1, PERSIST_ADD), ==, 0);
        check_int(persist_update(dir, root, &set, one, 1, PERSIST_REMOVE), ==, 0);
        check_str(listing(), "assignments.json");
        check_uint(set.n, ==, 0);
        check(!persist_set_contains(&set, "0000:01:00.0"));
}

static void persist_load_without_file_is_empty(void) {
        new_dir();
        check_int(persist_load(dir, &set), ==, 0);
        check_uint(set.n, ==, 0);
        check(!persist_set_contains(&set, "0000:01:00.0"));
}

static void persist_load_skips_entries_that_are_not_addresses(void) {
        new_dir();
        check_int(tmpdir_write(dir, "assignments.json",
                               "{ \"devices\": [ \"zz\", 5, null, \"03:00.0\", \"0000:01:00.0\", \"0000:01:00.0\" ] }"),
                  ==, 0);
        check_int(persist_load(dir, &set), ==, 0);
        check_uint(set.n, ==, 2);
        check_str(set.entries[0].address, "0000:01:00.0");
        check_str(set.entries[1].address, "0000:03:00.0"); /* canonical form */
        check(!set.entries[0].has_identity && !set.entries[0].force); /* as older versions wrote them */
}

static void persist_load_skips_entries_with_a_bad_identity(void) {
        new_dir();
        check_int(tmpdir_write(dir, "assignments.json",
                               "{ \"devices\": ["
                               " { \"address\": \"01:00.0\", \"vendor\": \"0x8086\", \"device\": \"0x10d3\","
                               "   \"subsystem_vendor\": \"0x8086\", \"subsystem_device\": \"0xa01f\","
                               "   \"class\": \"0x020000\", \"force\": true },"
                               " { \"address\": \"02:00.0\", \"vendor\": \"0x8086\", \"device\": \"0x10d3\","
                               "   \"subsystem_vendor\": \"0x8086\", \"subsystem_device\": \"0xa01f\" },"
                               " { \"address\": \"03:00.0\", \"vendor\": \"0x18086\", \"device\": \"0x10d3\","
                               "   \"subsystem_vendor\": \"0x8086\", \"subsystem_device\": \"0xa01f\","
                               "   \"class\": \"0x020000\" },"
                               " { \"address\": \"04:00.0\", \"vendor\": \"0x8086\", \"device\": \"0x10d3\","
                               "   \"subsystem_vendor\": \"0x8086\", \"subsystem_device\": \"0xa01f\","
                               "   \"class\": \"0x020000\", \"force\": \"yes\" },"
                               " { \"vendor\": \"0x8086\", \"device\": \"0x10d3\", \"subsystem_vendor\": \"0x8086\","
                               "   \"subsystem_device\": \"0xa01f\", \"class\": \"0x020000\" } ] }"),
                  ==, 0);
        check_int(persist_load(dir, &set), ==, 0);
        check_uint(set.n, ==, 1); /* no class, a vendor too wide, a force that is not a boolean, no address */
        check_str(set.entries[0].address, "0000:01:00.0");
        check(set.entries[0].has_identity && set.entries[0].force);
        check_uint(set.entries[0].identity.subsystem_device, ==, 0xa01f);
}

static void persist_load_of_malformed_file_is_ebadmsg(void) {
        static const char *const texts[] = {
                "{ \"devices\": [ \"0000:01:00.0\" ",
                "",
                "[ \"0000:01:00.0\" ]",
                "{ \"devices\": \"0000:01:00.0\" }",
                "{ \"addresses\": [ \"0000:01:00.0\" ] }",
        };

        new_dir();
        FOREACH_ARRAY(t, texts, ELEMENTSOF(texts)) {
                PersistSet s = {};

                check_int(tmpdir_write(dir, "assignments.json", *t), ==, 0);
                if (persist_load(dir, &s) != -EBADMSG) {
                        persist_set_done(&s);
                        test_fail("persist_load of '%s' did not fail with -EBADMSG", *t);
                }
        }
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(journal_round_trips_group_state_and_moves),
                TEST_CASE(journal_write_replaces_entry_and_leaves_no_tmp),
                TEST_CASE(journal_write_to_missing_dir_fails_cleanly),
                TEST_CASE(json_write_file_atomic_keeps_old_file_when_tmp_cannot_be_made),
                TEST_CASE(journal_load_all_skips_malformed_files),
                TEST_CASE(journal_load_all_ignores_other_names),
                TEST_CASE(journal_load_all_of_missing_dir_is_empty),
                TEST_CASE(journal_remove_deletes_entry_and_tolerates_missing),
                TEST_CASE(persist_update_adds_and_removes_and_load_reads_it_back),
                TEST_CASE(persist_update_records_identity_and_force),
                TEST_CASE(persist_entry_check_names_what_changed),
                TEST_CASE(persist_update_leaves_no_tmp),
                TEST_CASE(persist_load_without_file_is_empty),
                TEST_CASE(persist_load_skips_entries_that_are_not_addresses),
                TEST_CASE(persist_load_skips_entries_with_a_bad_identity),
                TEST_CASE(persist_load_of_malformed_file_is_ebadmsg),
        };

        /* Warnings about the deliberately damaged files are expected; keep them out. */
        log_set_max_level(getenv("VFIOD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
