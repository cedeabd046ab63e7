/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which PCI devices the host cannot do without (safety.c), found on generated trees: a scratch
 * directory holds a generated sysfs tree and, beside it, a procfs stand-in with the mount table,
 * the swaps and the routing tables. */

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "macro.h"
#include "safety.h"
#include "sysfs-tree.h"
#include "tests.h"
#include "tmpdir.h"

#define NVME_DISK  "devices/pci0000:00/0000:00:1c.0/0000:01:00.0/nvme/nvme0/nvme0n1"
#define NVME_PART  NVME_DISK "/nvme0n1p2"
#define OTHER_DISK "devices/pci0000:00/0000:00:1d.0/0000:05:00.0/host0/target0:0:0/0:0:0:0/block/sda"
#define ETH0       "devices/pci0000:00/0000:00:1c.0/0000:02:00.0/net/eth0"
#define ETH1       "devices/pci0000:00/0000:00:1d.0/0000:03:00.0/net/eth1"

/* What the current case made, freed after it whether it passed or not. */
static char *top; /* the scratch directory */
static char *proc; /* top/proc */
static SysfsTree *tree; /* below top */
static SafetyReport report;
static char **addresses;

static void cleanup_case(void) {
        strv_free(addresses);
        addresses = NULL;
        safety_report_done(&report);
        tree = sysfs_tree_free(tree);
        proc = mfree(proc);
        top = tmpdir_remove(top);
}

static void setup(void) {
        int r;

        check(!top);
        r = tmpdir_new("vfiod-test-safety", &top);
        if (r < 0)
                test_fail("tmpdir_new: %s", strerror(-r));
        r = sysfs_tree_new(top, &tree);
        if (r < 0)
                test_fail("sysfs_tree_new: %s", strerror(-r));
        check(asprintf(&proc, "%s/proc", top) >= 0);
        check_int(mkdir(proc, 0755), ==, 0);
}

static void write_proc(const char *relative, const char *text) {
        int r = tmpdir_write(proc, relative, text);
        if (r < 0)
                test_fail("cannot write proc/%s: %s", relative, strerror(-r));
}

static void add_pci(const char *address) {
        int r = sysfs_tree_add_device(
                tree, &(SysfsTreeDevice){ address, SYSFS_TREE_NO_GROUP, 0x1234, 0x11e8, 0x00ff00, NULL, -1 });
        if (r < 0)
                test_fail("sysfs_tree_add_device(%s): %s", address, strerror(-r));
}

static void add_block(const char *path, unsigned major, unsigned minor) {
        int r = sysfs_tree_add_block_device(tree, path, major, minor);
        if (r < 0)
                test_fail("sysfs_tree_add_block_device(%s): %s", path, strerror(-r));
}

static void add_net(const char *path, const char *ifname) {
        int r = sysfs_tree_add_net_device(tree, path, ifname);
        if (r < 0)
                test_fail("sysfs_tree_add_net_device(%s): %s", ifname, strerror(-r));
}

static void add_link(const char *link, const char *target) {
        int r = sysfs_tree_link(tree, link, target);
        if (r < 0)
                test_fail("sysfs_tree_link(%s): %s", link, strerror(-r));
}

static void scan(void) {
        int r;

        check_uint(report.n, ==, 0);
        r = safety_scan(sysfs_tree_root(tree), proc, &report);
        if (r < 0)
                test_fail("safety_scan: %s", strerror(-r));
        for (size_t i = 0; i < report.n; i++)
                printf("# critical: %s: %s\n", report.entries[i].address, report.entries[i].reason);
}

static void check_critical(const char *address, const char *reason_part) {
        const char *reason = safety_reason(&report, address);

        if (!reason)
                test_fail("%s is not marked critical", address);
        if (!strstr(reason, reason_part))
                test_fail("the reason for %s is \"%s\", expected it to name \"%s\"", address, reason, reason_part);
}

static void check_not_critical(const char *address) {
        const char *reason = safety_reason(&report, address);

        if (reason)
                test_fail("%s is marked critical: %s", address, reason);
}

static void addresses_in(const char *path, size_t expected) {
        size_t n = SIZE_MAX;

        check(!addresses);
        check_int(pci_addresses_in_path(path, &addresses, &n), ==, 0);
        check_uint(n, ==, expected);
        check(addresses && addresses[n] == NULL);
}

static void pci_addresses_in_path_finds_each_address_in_order(void) {
        addresses_in("/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/nvme/nvme0", 2);
        check_str(addresses[0], "0000:00:1c.0");
        check_str(addresses[1], "0000:01:00.0");
}

static void pci_addresses_in_path_of_virtual_device_is_empty(void) {
        addresses_in("/sys/devices/virtual/net/lo", 0);
}

static void pci_addresses_in_path_of_root_is_empty(void) {
        addresses_in("/", 0);
}

static void pci_addresses_in_path_takes_only_whole_canonical_components(void) {
        addresses_in("/sys/devices/pci0000:00/01:00.0/0000:01:00.0.old/x0000:01:00.0/0000:0A:00.0/0000:0a:00.0", 1);
        check_str(addresses[0], "0000:0a:00.0");
}

static void nothing_is_critical_on_an_idle_host(void) {
        setup();
        add_pci("0000:00:02.0");
        add_block(NVME_DISK, 259, 0);
        add_net(ETH0, "eth0");
        write_proc("self/mountinfo", "21 1 0:20 / /proc rw,nosuid - proc proc rw\n");
        write_proc("swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        write_proc("net/route",
                   "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
        scan();
        check_uint(report.n, ==, 0);
}

static void missing_proc_files_are_not_an_error(void) {
        setup();
        add_pci("0000:00:02.0");
        scan();
        check_uint(report.n, ==, 0);
}

static void boot_vga_marks_that_device_only(void) {
        setup();
        add_pci("0000:00:02.0");
        add_pci("0000:00:03.0");
        add_pci("0000:00:04.0");
        check_int(sysfs_tree_write_file(tree, "bus/pci/devices/0000:00:02.0/boot_vga", "1\n"), ==, 0);
        check_int(sysfs_tree_write_file(tree, "bus/pci/devices/0000:00:03.0/boot_vga", "0\n"), ==, 0);
        scan();
        check_critical("0000:00:02.0", "boot VGA");
        check_not_critical("0000:00:03.0");
        check_not_critical("0000:00:04.0");
        check_uint(report.n, ==, 1);
}

static void mounted_block_device_marks_device_and_bridges(void) {
        setup();
        add_block(NVME_DISK, 259, 0);
        add_block(NVME_PART, 259, 2);
        add_block(OTHER_DISK, 8, 0);
        write_proc("self/mountinfo", "21 1 0:20 / /proc rw,nosuid - proc proc rw\n"
                                     "26 1 259:2 / /srv/data rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
                                     "27 1 0:25 / /run rw,nosuid shared:5 - tmpfs tmpfs rw\n"
                                     "28 1 8:17 / /mnt/gone rw - ext4 /dev/sdb1 rw\n");
        scan();
        check_critical("0000:01:00.0", "mounted on /srv/data");
        check_critical("0000:00:1c.0", "mounted on /srv/data");
        /* The disk that is not mounted, and its controller's port. */
        check_not_critical("0000:05:00.0");
        check_not_critical("0000:00:1d.0");
        check_uint(report.n, ==, 2);
}

static void mount_on_device_mapper_follows_slaves(void) {
        setup();
        add_block(NVME_PART, 259, 2);
        add_block("devices/virtual/block/dm-0", 253, 0);
        add_link("devices/virtual/block/dm-0/slaves/nvme0n1p2", NVME_PART);
        write_proc("self/mountinfo", "26 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw\n");
        scan();
        check_critical("0000:01:00.0", "mounted on /");
        check_critical("0000:00:1c.0", "mounted on /");
}

static void active_swap_marks_its_device(void) {
        _cleanup_free_ char *swapfile = NULL, *swaps = NULL, *missing = NULL;
        struct stat st;

        setup();
        check(asprintf(&swapfile, "%s/swapfile", top) >= 0);
        check_int(tmpdir_write(top, "swapfile", ""), ==, 0);
        check_int(stat(swapfile, &st), ==, 0);
        /* A swap file lives on the file system's device: make that one an NVMe partition. */
        add_block(NVME_PART, major(st.st_dev), minor(st.st_dev));
        check(asprintf(&missing, "%s/no-such-swapfile", top) >= 0);
        check(asprintf(&swaps,
                       "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                       "%s\tfile\t\t1048572\t\t0\t\t-2\n"
                       "%s\tfile\t\t1048572\t\t0\t\t-3\n",
                       missing, swapfile) >= 0);
        write_proc("swaps", swaps);
        scan();
        check_critical("0000:01:00.0", "swap");
        check_critical("0000:01:00.0", swapfile);
        check_critical("0000:00:1c.0", "swap");
        check_uint(report.n, ==, 2);
}

static const char route_header[] =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\t\t\n";

static void default_ipv4_route_marks_its_interface(void) {
        char text[1024];

        setup();
        add_net(ETH0, "eth0");
        add_net(ETH1, "eth1");
        snprintf(text, sizeof(text), "%s%s%s", route_header,
                 "eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\t\t\n",
                 "eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\t\t\n");
        write_proc("net/route", text);
        scan();
        check_critical("0000:02:00.0", "default route (eth0)");
        check_critical("0000:00:1c.0", "default route (eth0)");
        check_not_critical("0000:03:00.0");
        check_not_critical("0000:00:1d.0");
}

static void non_default_ipv4_routes_mark_nothing(void) {
        char text[1024];

        setup();
        add_net(ETH0, "eth0");
        add_net(ETH1, "eth1");
        /* A subnet route, a host route, and 0.0.0.0/1 (a destination of zero, but not the default). */
        snprintf(text, sizeof(text), "%s%s%s%s", route_header,
                 "eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\t\t\n",
                 "eth1\t0A02A8C0\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\t\t\n",
                 "eth1\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000080\t0\t0\t0\t\t\n");
        write_proc("net/route", text);
        scan();
        check_uint(report.n, ==, 0);
}

static void default_ipv6_route_marks_its_interface(void) {
        setup();
        add_net(ETH0, "eth0");
        add_net(ETH1, "eth1");
        add_net("devices/virtual/net/lo", "lo");
        write_proc("net/ipv6_route",
                   /* a prefix route on eth0, the default route via eth1, lo's unreachable default */
                   "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
                   "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
                   "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                   "fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth1\n"
                   "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                   "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n");
        scan();
        check_critical("0000:03:00.0", "default route (eth1)");
        check_critical("0000:00:1d.0", "default route (eth1)");
        check_not_critical("0000:02:00.0");
        check_not_critical("0000:00:1c.0");
        check_uint(report.n, ==, 2);
}

static void bridge_route_marks_its_lower_devices(void) {
        char text[1024];

        setup();
        add_net(ETH0, "eth0");
        add_net(ETH1, "eth1");
        add_net("devices/virtual/net/br0", "br0");
        add_net("devices/virtual/net/bond0", "bond0");
        /* br0 over bond0 over eth1: lower links lead two steps down; eth0 is not enslaved. */
        add_link("devices/virtual/net/br0/lower_bond0", "devices/virtual/net/bond0");
        add_link("devices/virtual/net/bond0/lower_eth1", ETH1);
        snprintf(text, sizeof(text), "%s%s", route_header,
                 "br0\t00000000\t0102A8C0\t0003\t0\t0\t425\t00000000\t0\t0\t0\t\t\n");
        write_proc("net/route", text);
        scan();
        check_critical("0000:03:00.0", "default route (br0)");
        check_critical("0000:00:1d.0", "default route (br0)");
        check_not_critical("0000:02:00.0");
        check_uint(report.n, ==, 2);
}

static void loop_of_lower_links_ends(void) {
        char text[1024];

        setup();
        add_net(ETH0, "eth0");
        add_net("devices/virtual/net/br1", "br1");
        add_net("devices/virtual/net/br2", "br2");
        add_link("devices/virtual/net/br1/lower_br2", "devices/virtual/net/br2");
        add_link("devices/virtual/net/br2/lower_br1", "devices/virtual/net/br1");
        add_link("devices/virtual/net/br2/lower_eth0", ETH0);
        snprintf(text, sizeof(text), "%s%s", route_header,
                 "br1\t00000000\t0102A8C0\t0003\t0\t0\t425\t00000000\t0\t0\t0\t\t\n");
        write_proc("net/route", text);
        scan();
        check_critical("0000:02:00.0", "default route (br1)");
}

static void consoles_mark_their_devices(void) {
        setup();
        check_int(sysfs_tree_mkdir(tree, "devices/pci0000:00/0000:00:16.3/tty/ttyS0"), ==, 0);
        check_int(sysfs_tree_mkdir(tree, "devices/pci0000:00/0000:00:02.0/graphics/fb0"), ==, 0);
        add_link("class/tty/ttyS0/device", "devices/pci0000:00/0000:00:16.3");
        add_link("class/graphics/fb0/device", "devices/pci0000:00/0000:00:02.0");
        check_int(sysfs_tree_mkdir(tree, "class/tty/console"), ==, 0);
        check_int(sysfs_tree_write_file(tree, "class/tty/console/active", "ttyS0 tty0\n"), ==, 0);
        scan();
        check_critical("0000:00:16.3", "console ttyS0");
        check_critical("0000:00:02.0", "framebuffer console");
        check_uint(report.n, ==, 2);
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(pci_addresses_in_path_finds_each_address_in_order),
                TEST_CASE(pci_addresses_in_path_of_virtual_device_is_empty),
                TEST_CASE(pci_addresses_in_path_of_root_is_empty),
                TEST_CASE(pci_addresses_in_path_takes_only_whole_canonical_components),
                TEST_CASE(nothing_is_critical_on_an_idle_host),
                TEST_CASE(missing_proc_files_are_not_an_error),
                TEST_CASE(boot_vga_marks_that_device_only),
                TEST_CASE(mounted_block_device_marks_device_and_bridges),
                TEST_CASE(mount_on_device_mapper_follows_slaves),
                TEST_CASE(active_swap_marks_its_device),
                TEST_CASE(default_ipv4_route_marks_its_interface),
                TEST_CASE(non_default_ipv4_routes_mark_nothing),
                TEST_CASE(default_ipv6_route_marks_its_interface),
                TEST_CASE(bridge_route_marks_its_lower_devices),
                TEST_CASE(loop_of_lower_links_ends),
                TEST_CASE(consoles_mark_their_devices),
        };

        log_set_max_level(getenv("VFIOD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
