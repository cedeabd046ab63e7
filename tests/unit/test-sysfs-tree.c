/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The generated trees look like the kernel's sysfs, byte for byte where vfiod reads them. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "macro.h"
#include "sysfs-tree.h"
#include "sysfs.h"
#include "tests.h"

static SysfsTree *tree;

static void cleanup_case(void) {
        tree = sysfs_tree_free(tree);
}

static char *file(const char *relative) {
        static char text[256];
        _cleanup_free_ char *path = NULL, *content = NULL;

        check(asprintf(&path, "%s/%s", sysfs_tree_root(tree), relative) >= 0);
        if (read_full_file(path, &content) < 0)
                test_fail("cannot read %s", relative);
        snprintf(text, sizeof(text), "%s", content);
        return text;
}

static char *link_target(const char *relative) {
        static char target[PATH_MAX];
        _cleanup_free_ char *path = NULL;
        ssize_t n;

        check(asprintf(&path, "%s/%s", sysfs_tree_root(tree), relative) >= 0);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                test_fail("%s is not a symlink", relative);
        target[n] = '\0';
        return target;
}

static bool exists(const char *relative) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        check(asprintf(&path, "%s/%s", sysfs_tree_root(tree), relative) >= 0);
        /* stat(), not lstat(): a link must lead somewhere. */
        return stat(path, &st) >= 0;
}

static void device_has_kernel_formatting(void) {
        check_int(sysfs_tree_new(NULL, &tree), ==, 0);
        check_int(sysfs_tree_add_device(
                          tree, &(SysfsTreeDevice){ "0000:02:00.0", 7, 0x8086, 0x10d3, 0x020000, "e1000e", -1 }),
                  ==, 0);

        check_str(file("bus/pci/devices/0000:02:00.0/vendor"), "0x8086\n");
        check_str(file("bus/pci/devices/0000:02:00.0/device"), "0x10d3\n");
        check_str(file("bus/pci/devices/0000:02:00.0/class"), "0x020000\n");
        check_str(file("bus/pci/devices/0000:02:00.0/numa_node"), "-1\n");
        check_str(link_target("bus/pci/devices/0000:02:00.0/driver"), "../../drivers/e1000e");
        check(exists("bus/pci/devices/0000:02:00.0/driver"));
        check_str(link_target("bus/pci/devices/0000:02:00.0/iommu_group"), "../../../../kernel/iommu_groups/7");
        check(exists("bus/pci/devices/0000:02:00.0/iommu_group/devices"));
        check(exists("kernel/iommu_groups/7/devices/0000:02:00.0/vendor"));
        check_str(file("kernel/iommu_groups/7/reserved_regions"), "");

        check_int(sysfs_tree_add_device(tree, &(SysfsTreeDevice){ "0000:02:00.0", 7 }), ==, -EEXIST);
}

static void regions_have_kernel_formatting(void) {
        check_int(sysfs_tree_new(NULL, &tree), ==, 0);
        check_int(sysfs_tree_add_region(tree, 3, 0xfee00000, 0xfeefffff, "msi"), ==, 0);
        check_int(sysfs_tree_add_region(tree, 3, 0xa0000, 0xbffff, "direct-relaxable"), ==, 0);
        check_str(file("kernel/iommu_groups/3/reserved_regions"),
                  "0x00000000fee00000 0x00000000feefffff msi\n"
                  "0x00000000000a0000 0x00000000000bffff direct-relaxable\n");
}

static void driver_link_follows_bind_and_unbind(void) {
        check_int(sysfs_tree_new(NULL, &tree), ==, 0);
        check_int(sysfs_tree_add_device(tree,
                                        &(SysfsTreeDevice){ "0000:01:01.0", 2, 0x1234, 0x11e8, 0x00ff00, NULL, -1 }),
                  ==, 0);
        check(!exists("bus/pci/devices/0000:01:01.0/driver"));
        check_int(sysfs_tree_set_driver(tree, "0000:01:01.0", "vfio-pci"), ==, 0);
        check_str(link_target("bus/pci/devices/0000:01:01.0/driver"), "../../drivers/vfio-pci");
        check(exists("bus/pci/drivers/vfio-pci"));
        check_int(sysfs_tree_set_driver(tree, "0000:01:01.0", NULL), ==, 0);
        check(!exists("bus/pci/devices/0000:01:01.0/driver"));
        check_int(sysfs_tree_set_driver(tree, "0000:7f:00.0", "vfio-pci"), ==, -ENOENT);
}

static void removal_takes_empty_groups_along(void) {
        check_int(sysfs_tree_new(NULL, &tree), ==, 0);
        check_int(sysfs_tree_add_device(tree, &(SysfsTreeDevice){ "0000:01:01.0", 2 }), ==, 0);
        check_int(sysfs_tree_add_device(tree, &(SysfsTreeDevice){ "0000:01:02.0", 2 }), ==, 0);

        check_int(sysfs_tree_remove_device(tree, "0000:01:01.0"), ==, 0);
        check(!exists("bus/pci/devices/0000:01:01.0"));
        check(!exists("kernel/iommu_groups/2/devices/0000:01:01.0"));
        check(exists("kernel/iommu_groups/2/devices/0000:01:02.0"));

        check_int(sysfs_tree_remove_device(tree, "0000:01:02.0"), ==, 0);
        check(!exists("kernel/iommu_groups/2"));
        check_int(sysfs_tree_remove_device(tree, "0000:01:02.0"), ==, -ENOENT);
}

static void device_without_group_has_no_link(void) {
        check_int(sysfs_tree_new(NULL, &tree), ==, 0);
        check_int(sysfs_tree_add_device(tree, &(SysfsTreeDevice){ "0000:00:00.0", SYSFS_TREE_NO_GROUP }), ==, 0);
        check(exists("bus/pci/devices/0000:00:00.0/vendor"));
        check(!exists("bus/pci/devices/0000:00:00.0/iommu_group"));
}

static void tree_is_removed_on_free(void) {
        _cleanup_free_ char *root = NULL;

        check_int(sysfs_tree_new(NULL, &tree), ==, 0);
        check_int(sysfs_tree_add_groups(tree, 20), ==, 0);
        check(exists("kernel/iommu_groups/19/devices/0000:00:02.3"));
        root = strdup(sysfs_tree_root(tree));
        check(root);
        tree = sysfs_tree_free(tree);
        check(access(root, F_OK) < 0 && errno == ENOENT);
}

static void nth_address_counts_functions_slots_buses(void) {
        char a[17];

        sysfs_tree_nth_address(0, a);
        check_str(a, "0000:00:00.0");
        sysfs_tree_nth_address(9, a);
        check_str(a, "0000:00:01.1");
        sysfs_tree_nth_address(255, a);
        check_str(a, "0000:00:1f.7");
        sysfs_tree_nth_address(4095, a);
        check_str(a, "0000:0f:1f.7");
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(device_has_kernel_formatting),
                TEST_CASE(regions_have_kernel_formatting),
                TEST_CASE(driver_link_follows_bind_and_unbind),
                TEST_CASE(removal_takes_empty_groups_along),
                TEST_CASE(device_without_group_has_no_link),
                TEST_CASE(tree_is_removed_on_free),
                TEST_CASE(nth_address_counts_functions_slots_buses),
        };

        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
