/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory of IOMMU groups and PCI devices, run on generated sysfs trees. */

#include <errno.h>
#include <stdlib.h>

#include "inventory.h"
#include "log.h"
#include "macro.h"
#include "sysfs-tree.h"
#include "tests.h"

/* A q35 machine as QEMU builds it: a host bridge alone in group 0, a PCIe root port with an
 * e1000e behind it in group 1, a PCI-PCI bridge with two edu devices behind it in group 2, and
 * an HDA controller in group 10 (so that numeric and textual order of groups differ). */
static const SysfsTreeDevice q35[] = {
        { "0000:01:02.0", 2, 0x1234, 0x11e8, 0x00ff00, NULL, -1 },
        { "0000:00:00.0", 0, 0x8086, 0x29c0, 0x060000, NULL, -1 },
        { "0000:00:1b.0", 10, 0x8086, 0x293e, 0x040300, "snd_hda_intel", 0 },
        { "0000:00:1c.0", 1, 0x1b36, 0x000c, 0x060400, "pcieport", -1 },
        { "0000:02:00.0", 1, 0x8086, 0x10d3, 0x020000, "e1000e", -1 },
        { "0000:00:04.0", 2, 0x1b36, 0x0001, 0x060400, NULL, -1 },
        { "0000:01:01.0", 2, 0x1234, 0x11e8, 0x00ff00, NULL, -1 },
};

/* What the current case made, freed after it whether it passed or not. */
static SysfsTree *tree;
static Inventory *inventory;

static void cleanup_case(void) {
        inventory = inventory_free(inventory);
        tree = sysfs_tree_free(tree);
}

static SysfsTree *new_tree(void) {
        int r;

        check(!tree);
        r = sysfs_tree_new(NULL, &tree);
        if (r < 0)
                test_fail("sysfs_tree_new: %s", strerror(-r));
        return tree;
}

static SysfsTree *make_tree(const SysfsTreeDevice *devices, size_t n) {
        SysfsTree *t = new_tree();
        int r;

        for (size_t i = 0; i < n; i++) {
                r = sysfs_tree_add_device(t, &devices[i]);
                if (r < 0)
                        test_fail("sysfs_tree_add_device(%s): %s", devices[i].address, strerror(-r));
        }
        return t;
}

static SysfsTree *make_q35(void) {
        SysfsTree *t = make_tree(q35, ELEMENTSOF(q35));

        check_int(sysfs_tree_add_region(t, 1, 0xfee00000, 0xfeefffff, "msi"), ==, 0);
        check_int(sysfs_tree_add_region(t, 2, 0xfee00000, 0xfeefffff, "msi"), ==, 0);
        check_int(sysfs_tree_add_region(t, 2, UINT64_C(0xfd00000000), UINT64_C(0xffffffffff), "reserved"), ==, 0);
        return t;
}

static Inventory *load(SysfsTree *t, int expected_ungrouped) {
        Inventory *inv = NULL;
        int r;

        check(!inventory);
        check_int(inventory_new(sysfs_tree_root(t), &inventory), ==, 0);
        inv = inventory;
        r = inventory_load(inv);
        if (r != expected_ungrouped)
                test_fail("inventory_load() = %d, expected %d", r, expected_ungrouped);
        return inv;
}

/* What the observer saw, and whether the object was findable at the moment it was told. */
typedef struct Event {
        InventoryEvent event;
        uint32_t group;
        char address[PCI_ADDRESS_MAX];
        bool group_findable;
        bool device_findable;
} Event;

static Event events[64];
static size_t n_events;
static bool events_overflowed;

static void record(Inventory *inv, InventoryEvent event, Group *g, Device *d, void *userdata) {
        Event *e;

        /* No test_fail() here: jumping out of the inventory's own code would leave it half-done. */
        if (userdata != &n_events || n_events >= ELEMENTSOF(events)) {
                events_overflowed = true;
                return;
        }
        e = &events[n_events++];
        *e = (Event){ .event = event };
        if (g) {
                e->group = g->id;
                e->group_findable = inventory_get_group(inv, g->id) == g;
        }
        if (d) {
                snprintf(e->address, sizeof(e->address), "%s", d->address);
                e->device_findable = inventory_get_device(inv, d->address) == d;
        }
}

static void observe(Inventory *inv) {
        n_events = 0;
        events_overflowed = false;
        inventory_set_observer(inv, record, &n_events);
}

static const char *event_name(InventoryEvent e) {
        static const char *const names[] = {
                [INVENTORY_GROUP_ADDED] = "GROUP_ADDED",       [INVENTORY_GROUP_REMOVED] = "GROUP_REMOVED",
                [INVENTORY_GROUP_CHANGED] = "GROUP_CHANGED",   [INVENTORY_DEVICE_ADDED] = "DEVICE_ADDED",
                [INVENTORY_DEVICE_REMOVED] = "DEVICE_REMOVED", [INVENTORY_DEVICE_CHANGED] = "DEVICE_CHANGED",
        };
        return e < ELEMENTSOF(names) ? names[e] : "?";
}

static void print_events(void) {
        for (size_t i = 0; i < n_events; i++)
                printf("#   event %zu: %s group %u device %s\n", i, event_name(events[i].event), events[i].group,
                       events[i].address);
}

#define check_event(i, ev, grp, addr)                                                                                  \
        do {                                                                                                           \
                if (n_events <= (i) || events[i].event != (ev) || events[i].group != (grp) ||                          \
                    !streq(events[i].address, strempty(addr))) {                                                       \
                        print_events();                                                                                \
                        test_fail("event %d is not %s group %u device %s", (int) (i), event_name(ev),                  \
                                  (unsigned) (grp), strempty(addr));                                                   \
                }                                                                                                      \
        } while (0)

#define check_n_events(n)                                                                                              \
        do {                                                                                                           \
                if (n_events != (n) || events_overflowed) {                                                            \
                        print_events();                                                                                \
                        test_fail("%zu events, expected %d", n_events, (int) (n));                                     \
                }                                                                                                      \
        } while (0)

static void q35_groups_and_members_are_sorted(void) {
        static const uint32_t group_ids[] = { 0, 1, 2, 10 };
        static const char *const group2[] = { "0000:00:04.0", "0000:01:01.0", "0000:01:02.0" };
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);
        Group *g;

        check_uint(inv->n_groups, ==, ELEMENTSOF(group_ids));
        for (size_t i = 0; i < ELEMENTSOF(group_ids); i++)
                check_uint(inv->groups[i]->id, ==, group_ids[i]);

        check_uint(inv->n_devices, ==, ELEMENTSOF(q35));
        for (size_t i = 1; i < inv->n_devices; i++)
                check_int(strcmp(inv->devices[i - 1]->address, inv->devices[i]->address), <, 0);

        g = inventory_get_group(inv, 2);
        check(g);
        check_uint(g->n_devices, ==, ELEMENTSOF(group2));
        for (size_t i = 0; i < ELEMENTSOF(group2); i++) {
                check_str(g->devices[i]->address, group2[i]);
                check(g->devices[i]->group == g);
                check(inventory_get_device(inv, group2[i]) == g->devices[i]);
        }

        g = inventory_get_group(inv, 1);
        check(g);
        check_uint(g->n_devices, ==, 2);
        check_str(g->devices[0]->address, "0000:00:1c.0");
        check_str(g->devices[1]->address, "0000:02:00.0");

        check(!inventory_get_group(inv, 3));
        check(!inventory_get_group(inv, 99999));
        check(!inventory_get_device(inv, "0000:03:00.0"));
}

static void q35_device_attributes_are_read(void) {
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);
        Device *d;

        d = inventory_get_device(inv, "0000:02:00.0");
        check(d);
        check_uint(d->vendor, ==, 0x8086);
        check_uint(d->product, ==, 0x10d3);
        check_uint(d->class, ==, 0x020000);
        check_str(d->driver, "e1000e");
        check(!d->original_driver);
        check_int(d->numa_node, ==, -1);
        check_uint(d->group->id, ==, 1);

        d = inventory_get_device(inv, "0000:01:01.0");
        check(d);
        check_uint(d->vendor, ==, 0x1234);
        check_uint(d->product, ==, 0x11e8);
        check_uint(d->class, ==, 0x00ff00);
        check(!d->driver);
        check_uint(d->group->id, ==, 2);

        d = inventory_get_device(inv, "0000:00:1b.0");
        check(d);
        check_int(d->numa_node, ==, 0);
        check_str(d->driver, "snd_hda_intel");
}

static void is_bridge_means_host_pci_pci_or_cardbus(void) {
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);
        Device d = {};

        check(device_is_bridge(inventory_get_device(inv, "0000:00:04.0"))); /* PCI-PCI, unbound */
        check(device_is_bridge(inventory_get_device(inv, "0000:00:1c.0"))); /* root port */
        check(device_is_bridge(inventory_get_device(inv, "0000:00:00.0"))); /* host bridge: never moves */
        check(!device_is_bridge(inventory_get_device(inv, "0000:01:01.0")));
        check(!device_is_bridge(inventory_get_device(inv, "0000:02:00.0")));

        d.class = 0x060401; /* subtractive decode */
        check(device_is_bridge(&d));
        d.class = 0x060700; /* CardBus */
        check(device_is_bridge(&d));
        d.class = 0x060900; /* semi-transparent */
        check(device_is_bridge(&d));
        d.class = 0x060100; /* ISA bridge */
        check(!device_is_bridge(&d));
}

static void viability_follows_drivers(void) {
        static const SysfsTreeDevice devices[] = {
                { "0000:00:01.0", 1, 0x8086, 0x100e, 0x020000, "e1000", -1 },
                { "0000:00:02.0", 2, 0x8086, 0x100e, 0x020000, "vfio-pci", -1 },
                { "0000:00:03.0", 3, 0x8086, 0x100e, 0x020000, "pci-stub", -1 },
                { "0000:00:04.0", 4, 0x1b36, 0x000c, 0x060400, "pcieport", -1 },
                { "0000:00:05.0", 5, 0x8086, 0x100e, 0x020000, NULL, -1 },
                { "0000:00:06.0", 6, 0x10de, 0x2330, 0x030200, "nvgrace-gpu-vfio-pci", -1 },
                /* One host driver spoils the whole group. */
                { "0000:00:07.0", 7, 0x1b36, 0x000c, 0x060400, "pcieport", -1 },
                { "0000:01:00.0", 7, 0x8086, 0x10d3, 0x020000, "vfio-pci", -1 },
                { "0000:01:00.1", 7, 0x8086, 0x10d3, 0x020000, "e1000e", -1 },
        };
        static const struct {
                uint32_t group;
                bool viable;
        } expected[] = { { 1, false }, { 2, true }, { 3, true }, { 4, true }, { 5, true }, { 6, true }, { 7, false } };
        SysfsTree *t = make_tree(devices, ELEMENTSOF(devices));
        Inventory *inv = load(t, 0);

        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                Group *g = inventory_get_group(inv, expected[i].group);
                check(g);
                if (group_is_viable(g) != expected[i].viable)
                        test_fail("group %u: viable is %d, expected %d", g->id, group_is_viable(g), expected[i].viable);
        }

        check(!device_on_vfio_driver(inventory_get_device(inv, "0000:00:01.0")));
        check(device_on_vfio_driver(inventory_get_device(inv, "0000:00:02.0")));
        check(!device_on_vfio_driver(inventory_get_device(inv, "0000:00:03.0")));
        check(!device_on_vfio_driver(inventory_get_device(inv, "0000:00:05.0")));
        check(device_on_vfio_driver(inventory_get_device(inv, "0000:00:06.0")));
}

static void state_is_vfio_when_every_endpoint_is_on_vfio(void) {
        static const SysfsTreeDevice devices[] = {
                /* Bridge on pcieport plus endpoints on vfio-pci: vfio. */
                { "0000:00:1c.0", 1, 0x1b36, 0x000c, 0x060400, "pcieport", -1 },
                { "0000:02:00.0", 1, 0x8086, 0x10d3, 0x020000, "vfio-pci", -1 },
                /* One endpoint unbound: host. */
                { "0000:00:04.0", 2, 0x1b36, 0x0001, 0x060400, NULL, -1 },
                { "0000:01:01.0", 2, 0x1234, 0x11e8, 0x00ff00, "vfio-pci", -1 },
                { "0000:01:02.0", 2, 0x1234, 0x11e8, 0x00ff00, NULL, -1 },
                /* Only a bridge: no endpoint to hand out, host. */
                { "0000:00:1d.0", 3, 0x1b36, 0x000c, 0x060400, "pcieport", -1 },
        };
        SysfsTree *t = make_tree(devices, ELEMENTSOF(devices));
        Inventory *inv = load(t, 0);

        check_str(group_state_to_string(inventory_get_group(inv, 1)->state), "vfio");
        check_str(group_state_to_string(inventory_get_group(inv, 2)->state), "host");
        check_str(group_state_to_string(inventory_get_group(inv, 3)->state), "host");

        /* Binding the last endpoint makes group 2 vfio on refresh. */
        check_int(sysfs_tree_set_driver(t, "0000:01:02.0", "vfio-pci"), ==, 0);
        check_int(inventory_refresh_device(inv, "0000:01:02.0"), ==, 1);
        check_str(group_state_to_string(inventory_get_group(inv, 2)->state), "vfio");

        for (GroupState s = 0; s < _GROUP_STATE_MAX; s++)
                check_int(group_state_from_string(group_state_to_string(s)), ==, s);
        check_int(group_state_from_string("bogus"), ==, _GROUP_STATE_INVALID);
}

static void reserved_regions_are_read(void) {
        SysfsTree *t = make_q35();
        Inventory *inv;
        Group *g;

        /* A group whose file is garbage still loads, with no regions. */
        check_int(sysfs_tree_write_file(t, "kernel/iommu_groups/10/reserved_regions", "garbage\n"), ==, 0);
        inv = load(t, 0);

        g = inventory_get_group(inv, 0);
        check(g);
        check_uint(g->n_regions, ==, 0);

        g = inventory_get_group(inv, 1);
        check(g);
        check_uint(g->n_regions, ==, 1);
        check_uint(g->regions[0].start, ==, 0xfee00000);
        check_uint(g->regions[0].end, ==, 0xfeefffff);
        check_int(g->regions[0].type, ==, REGION_MSI);

        g = inventory_get_group(inv, 2);
        check(g);
        check_uint(g->n_regions, ==, 2);
        check_int(g->regions[0].type, ==, REGION_MSI);
        check_uint(g->regions[1].start, ==, UINT64_C(0xfd00000000));
        check_uint(g->regions[1].end, ==, UINT64_C(0xffffffffff));
        check_int(g->regions[1].type, ==, REGION_RESERVED);

        g = inventory_get_group(inv, 10);
        check(g);
        check_uint(g->n_regions, ==, 0);
        check_uint(g->n_devices, ==, 1);
}

static void refresh_after_driver_change_notifies_device_and_group(void) {
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);
        Device *d = inventory_get_device(inv, "0000:02:00.0");

        observe(inv);

        /* Nothing changed: nothing to say. */
        check_int(inventory_refresh_device(inv, "0000:02:00.0"), ==, 1);
        check_n_events(0);

        check_int(sysfs_tree_set_driver(t, "0000:02:00.0", "vfio-pci"), ==, 0);
        check_int(inventory_refresh_device(inv, "0000:02:00.0"), ==, 1);
        check_n_events(2);
        check_event(0, INVENTORY_DEVICE_CHANGED, 1, "0000:02:00.0");
        check_event(1, INVENTORY_GROUP_CHANGED, 1, NULL);
        check(inventory_get_device(inv, "0000:02:00.0") == d);
        check_str(d->driver, "vfio-pci");
        check(group_is_viable(d->group));

        /* Unbinding is a change too. */
        n_events = 0;
        check_int(sysfs_tree_set_driver(t, "0000:02:00.0", NULL), ==, 0);
        check_int(inventory_refresh_device(inv, "0000:02:00.0"), ==, 1);
        check_n_events(2);
        check_event(0, INVENTORY_DEVICE_CHANGED, 1, "0000:02:00.0");
        check_event(1, INVENTORY_GROUP_CHANGED, 1, NULL);
        check(!d->driver);

        /* And back to a host driver: no longer viable. */
        n_events = 0;
        check_int(sysfs_tree_set_driver(t, "0000:02:00.0", "e1000e"), ==, 0);
        check_int(inventory_refresh_device(inv, "0000:02:00.0"), ==, 1);
        check_n_events(2);
        check_str(d->driver, "e1000e");
        check(!group_is_viable(d->group));
}

static void removing_last_device_removes_group(void) {
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);

        observe(inv);
        inventory_remove_device(inv, "0000:00:00.0");
        check_n_events(2);
        check_event(0, INVENTORY_DEVICE_REMOVED, 0, "0000:00:00.0");
        check(events[0].device_findable);
        check_event(1, INVENTORY_GROUP_REMOVED, 0, NULL);
        check(events[1].group_findable); /* told while it is still there */

        check(!inventory_get_device(inv, "0000:00:00.0"));
        check(!inventory_get_group(inv, 0));
        check_uint(inv->n_groups, ==, 3);
        check_uint(inv->n_devices, ==, ELEMENTSOF(q35) - 1);

        /* Removing one of several members only changes the group. */
        n_events = 0;
        inventory_remove_device(inv, "0000:01:01.0");
        check_n_events(2);
        check_event(0, INVENTORY_DEVICE_REMOVED, 2, "0000:01:01.0");
        check_event(1, INVENTORY_GROUP_CHANGED, 2, NULL);
        check_uint(inventory_get_group(inv, 2)->n_devices, ==, 2);
        check_str(inventory_get_group(inv, 2)->devices[0]->address, "0000:00:04.0");
        check_str(inventory_get_group(inv, 2)->devices[1]->address, "0000:01:02.0");

        /* Unknown addresses are ignored. */
        n_events = 0;
        inventory_remove_device(inv, "0000:01:01.0");
        inventory_remove_device(inv, "0000:7f:00.0");
        check_n_events(0);
}

static void refresh_of_deleted_device_returns_enoent_and_drops_it(void) {
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);

        observe(inv);
        check_int(sysfs_tree_remove_device(t, "0000:00:1b.0"), ==, 0);
        check_int(inventory_refresh_device(inv, "0000:00:1b.0"), ==, -ENOENT);
        check(!inventory_get_device(inv, "0000:00:1b.0"));
        check(!inventory_get_group(inv, 10));
        check_n_events(2);
        check_event(0, INVENTORY_DEVICE_REMOVED, 10, "0000:00:1b.0");
        check_event(1, INVENTORY_GROUP_REMOVED, 10, NULL);

        /* A device that sysfs never had: -ENOENT, no events. */
        n_events = 0;
        check_int(inventory_refresh_device(inv, "0000:7f:00.0"), ==, -ENOENT);
        check_n_events(0);
}

static void load_after_deletions_drops_vanished_devices(void) {
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);
        Group *g;

        check_int(sysfs_tree_remove_device(t, "0000:01:01.0"), ==, 0);
        check_int(sysfs_tree_remove_device(t, "0000:02:00.0"), ==, 0);
        check_int(sysfs_tree_remove_device(t, "0000:00:00.0"), ==, 0);
        check_int(inventory_load(inv), ==, 0);

        check(!inventory_get_device(inv, "0000:01:01.0"));
        check(!inventory_get_device(inv, "0000:02:00.0"));
        check(!inventory_get_device(inv, "0000:00:00.0"));
        check(!inventory_get_group(inv, 0));
        check_uint(inv->n_devices, ==, ELEMENTSOF(q35) - 3);
        check_uint(inv->n_groups, ==, 3);

        g = inventory_get_group(inv, 1);
        check(g);
        check_uint(g->n_devices, ==, 1);
        check_str(g->devices[0]->address, "0000:00:1c.0");
        g = inventory_get_group(inv, 2);
        check(g);
        check_uint(g->n_devices, ==, 2);
}

static void hotplugged_device_is_added_with_its_group(void) {
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);
        Device *d;

        observe(inv);
        check_int(sysfs_tree_add_device(
                          t, &(SysfsTreeDevice){ "0000:03:00.0", 11, 0x1af4, 0x1041, 0x020000, "virtio-pci", -1 }),
                  ==, 0);
        check_int(inventory_refresh_device(inv, "0000:03:00.0"), ==, 1);
        check_n_events(3);
        check_event(0, INVENTORY_GROUP_ADDED, 11, NULL);
        check(events[0].group_findable);
        check_event(1, INVENTORY_DEVICE_ADDED, 11, "0000:03:00.0");
        check(events[1].device_findable);
        check_event(2, INVENTORY_GROUP_CHANGED, 11, NULL);

        d = inventory_get_device(inv, "0000:03:00.0");
        check(d);
        check_uint(d->group->id, ==, 11);
        check_uint(inv->n_groups, ==, 5);
        check_uint(inv->groups[4]->id, ==, 11);

        /* A new member of an existing group. */
        n_events = 0;
        check_int(sysfs_tree_add_device(t, &(SysfsTreeDevice){ "0000:01:03.0", 2, 0x1234, 0x11e8, 0x00ff00, NULL, -1 }),
                  ==, 0);
        check_int(inventory_refresh_device(inv, "0000:01:03.0"), ==, 1);
        check_n_events(2);
        check_event(0, INVENTORY_DEVICE_ADDED, 2, "0000:01:03.0");
        check_event(1, INVENTORY_GROUP_CHANGED, 2, NULL);
        check_uint(inventory_get_group(inv, 2)->n_devices, ==, 4);
        check_str(inventory_get_group(inv, 2)->devices[3]->address, "0000:01:03.0");
}

static void device_moved_to_another_group_follows(void) {
        SysfsTree *t = make_q35();
        Inventory *inv = load(t, 0);
        Device *d;

        /* The kernel re-probed the device into a new group. */
        check_int(sysfs_tree_remove_device(t, "0000:00:1b.0"), ==, 0);
        check_int(sysfs_tree_add_device(
                          t, &(SysfsTreeDevice){ "0000:00:1b.0", 12, 0x8086, 0x293e, 0x040300, "snd_hda_intel", 0 }),
                  ==, 0);
        check_int(inventory_refresh_device(inv, "0000:00:1b.0"), ==, 1);
        d = inventory_get_device(inv, "0000:00:1b.0");
        check(d);
        check_uint(d->group->id, ==, 12);
        check(!inventory_get_group(inv, 10));
        check(inventory_get_group(inv, 12));
        check_uint(inventory_get_group(inv, 12)->n_devices, ==, 1);
}

static void devices_without_group_are_counted_not_tracked(void) {
        static const SysfsTreeDevice devices[] = {
                { "0000:00:00.0", SYSFS_TREE_NO_GROUP, 0x8086, 0x29c0, 0x060000, NULL, -1 },
                { "0000:00:02.0", SYSFS_TREE_NO_GROUP, 0x8086, 0x10d3, 0x020000, "e1000e", -1 },
                { "0000:00:03.0", 4, 0x1234, 0x11e8, 0x00ff00, NULL, -1 },
        };
        SysfsTree *t = make_tree(devices, ELEMENTSOF(devices));
        Inventory *inv = load(t, 2);

        check_uint(inv->n_devices, ==, 1);
        check_uint(inv->n_groups, ==, 1);
        check(!inventory_get_device(inv, "0000:00:02.0"));
        check_int(inventory_refresh_device(inv, "0000:00:02.0"), ==, 0);
        check(!inventory_get_device(inv, "0000:00:02.0"));
}

static void unreadable_device_is_skipped(void) {
        SysfsTree *t = make_q35();
        Inventory *inv;

        check_int(sysfs_tree_write_file(t, "bus/pci/devices/0000:01:02.0/vendor", "bogus\n"), ==, 0);
        /* Stray names under bus/pci/devices are not devices. */
        check_int(sysfs_tree_write_file(t, "bus/pci/devices/not-a-device", ""), ==, 0);
        inv = load(t, 0);

        check(!inventory_get_device(inv, "0000:01:02.0"));
        check_uint(inv->n_devices, ==, ELEMENTSOF(q35) - 1);
        check_int(inventory_refresh_device(inv, "0000:01:02.0"), ==, -EINVAL);
}

static void four_thousand_groups_load_and_free(void) {
        const unsigned n = 4096;
        SysfsTree *t = new_tree();
        Inventory *inv;

        check_int(sysfs_tree_add_groups(t, n), ==, 0);
        inv = load(t, 0);

        check_uint(inv->n_groups, ==, n);
        check_uint(inv->n_devices, ==, n);
        for (unsigned i = 0; i < n; i++) {
                char address[PCI_ADDRESS_MAX];
                Group *g = inventory_get_group(inv, i);
                Device *d;

                sysfs_tree_nth_address(i, address);
                if (!g || g->id != i || g->n_devices != 1 || !streq(g->devices[0]->address, address))
                        test_fail("group %u is wrong or missing", i);
                d = inventory_get_device(inv, address);
                if (!d || d->group != g)
                        test_fail("device %s is wrong or missing", address);
                if (i > 0)
                        check_uint(inv->groups[i - 1]->id, <, inv->groups[i]->id);
        }
        check(!inventory_get_group(inv, n));

        /* A second load of an unchanged tree changes nothing. */
        observe(inv);
        check_int(inventory_load(inv), ==, 0);
        check_n_events(0);
        check_uint(inv->n_groups, ==, n);
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(q35_groups_and_members_are_sorted),
                TEST_CASE(q35_device_attributes_are_read),
                TEST_CASE(is_bridge_means_host_pci_pci_or_cardbus),
                TEST_CASE(viability_follows_drivers),
                TEST_CASE(state_is_vfio_when_every_endpoint_is_on_vfio),
                TEST_CASE(reserved_regions_are_read),
                TEST_CASE(refresh_after_driver_change_notifies_device_and_group),
                TEST_CASE(removing_last_device_removes_group),
                TEST_CASE(refresh_of_deleted_device_returns_enoent_and_drops_it),
                TEST_CASE(load_after_deletions_drops_vanished_devices),
                TEST_CASE(hotplugged_device_is_added_with_its_group),
                TEST_CASE(device_moved_to_another_group_follows),
                TEST_CASE(devices_without_group_are_counted_not_tracked),
                TEST_CASE(unreadable_device_is_skipped),
                TEST_CASE(four_thousand_groups_load_and_free),
        };

        /* The inventory's warnings about deliberately broken files are expected; keep them out. */
        log_set_max_level(getenv("VFIOD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
