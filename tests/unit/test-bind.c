/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parts of bind.c that are logic or plain writes, on generated trees whose "kernel"
 * attributes are plain files: the choice of vfio driver from modules.alias, reversing moves, what
 * is written to driver_override, and which writes a move makes when nothing has to move. Real
 * driver moves need a kernel; the VM tier tests them. */

#include <errno.h>
#include <stdlib.h>

#include "bind.h"
#include "log.h"
#include "macro.h"
#include "module-alias.h"
#include "sysfs-tree.h"
#include "sysfs.h"
#include "tests.h"
#include "tmpdir.h"

#define MLX5        "0000:01:00.0"
#define MLX5_OTHER  "0000:01:00.1"
#define E1000E      "0000:02:00.0"
#define NO_MODALIAS "0000:03:00.0"

/* What the current case made, freed after it whether it passed or not. */
static SysfsTree *tree;
static char *modules;
static char *driver;
static DeviceMove *reversed;
static size_t n_reversed;

static void cleanup_case(void) {
        device_moves_free(reversed, n_reversed);
        reversed = NULL;
        n_reversed = 0;
        driver = mfree(driver);
        modules = tmpdir_remove(modules);
        tree = sysfs_tree_free(tree);
}

static const char *root(void) {
        return sysfs_tree_root(tree);
}

static void add_device(const char *address, uint16_t vendor, uint16_t product, const char *drv) {
        int r = sysfs_tree_add_device(tree, &(SysfsTreeDevice){ address, 1, vendor, product, 0x020000, drv, -1 });
        if (r < 0)
                test_fail("sysfs_tree_add_device(%s): %s", address, strerror(-r));
}

static void write_file(const char *relative, const char *text) {
        int r = sysfs_tree_write_file(tree, relative, text);
        if (r < 0)
                test_fail("sysfs_tree_write_file(%s): %s", relative, strerror(-r));
}

static const char *file(const char *relative) {
        static char text[256];
        _cleanup_free_ char *path = NULL, *content = NULL;

        check(asprintf(&path, "%s/%s", root(), relative) >= 0);
        if (read_full_file(path, &content) < 0)
                test_fail("cannot read %s", relative);
        snprintf(text, sizeof(text), "%s", content);
        return text;
}

static bool exists(const char *relative) {
        _cleanup_free_ char *path = NULL;

        check(asprintf(&path, "%s/%s", root(), relative) >= 0);
        return access(path, F_OK) >= 0;
}

/* Three NICs as the kernel describes them, and a modules.alias with vfio_pci's own catch-all
 * alias first, so that taking it for a variant would show. */
static void setup(bool with_alias_file) {
        int r;

        check(!tree);
        r = sysfs_tree_new(NULL, &tree);
        if (r < 0)
                test_fail("sysfs_tree_new: %s", strerror(-r));
        add_device(MLX5, 0x15b3, 0x101e, "mlx5_core");
        add_device(MLX5_OTHER, 0x15b3, 0x1017, "mlx5_core");
        add_device(E1000E, 0x8086, 0x10d3, "e1000e");
        add_device(NO_MODALIAS, 0x1234, 0x11e8, NULL);
        write_file("bus/pci/devices/" MLX5 "/modalias", "pci:v000015B3d0000101Esv000015B3sd00000047bc02sc00i00\n");
        write_file("bus/pci/devices/" MLX5_OTHER "/modalias",
                   "pci:v000015B3d00001017sv000015B3sd00000006bc02sc00i00\n");
        write_file("bus/pci/devices/" E1000E "/modalias", "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00\n");

        r = tmpdir_new("vfiod-test-modules", &modules);
        if (r < 0)
                test_fail("tmpdir_new: %s", strerror(-r));
        if (with_alias_file)
                check_int(tmpdir_write(modules, "modules.alias",
                                       "# Aliases extracted from modules themselves.\n"
                                       "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n"
                                       "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n"
                                       "alias pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_core\n"
                                       "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
                                       "alias vfio_pci:v00008086d00001889sv*sd*bc*sc*i* ice_vfio_pci\n"
                                       "alias platform:vfio-platform vfio_platform\n"),
                          ==, 0);
}

static void vfio_driver_for(const char *address, const char *expected) {
        int r;

        driver = mfree(driver);
        r = bind_vfio_driver_for(root(), modules, address, &driver);
        if (r < 0)
                test_fail("bind_vfio_driver_for(%s): %s", address, strerror(-r));
        if (!streq_ptr(driver, expected))
                test_fail("bind_vfio_driver_for(%s) = %s, expected %s", address, driver ?: "(null)", expected);
}

static void variant_alias_picks_variant_driver(void) {
        setup(true);
        vfio_driver_for(MLX5, "mlx5_vfio_pci");
}

static void catch_all_alias_is_not_a_variant(void) {
        setup(true);
        vfio_driver_for(E1000E, "vfio-pci");
        vfio_driver_for(MLX5_OTHER, "vfio-pci");
}

/* modules.alias is parsed once, and again only when it is replaced (as depmod does) or removed. */
static void modules_alias_is_parsed_once_and_again_when_replaced(void) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        unsigned before;

        setup(true);
        before = module_alias_loads();
        vfio_driver_for(MLX5, "mlx5_vfio_pci");
        vfio_driver_for(E1000E, "vfio-pci");
        vfio_driver_for(MLX5, "mlx5_vfio_pci");
        check_uint(module_alias_loads(), ==, before + 1);

        check(asprintf(&path, "%s/modules.alias", modules) >= 0);
        check(asprintf(&tmp, "%s/modules.alias.tmp", modules) >= 0);
        check_int(tmpdir_write(modules, "modules.alias.tmp",
                               "alias vfio_pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e_vfio_pci\n"),
                  ==, 0);
        check_int(rename(tmp, path), ==, 0);
        vfio_driver_for(E1000E, "e1000e_vfio_pci");
        vfio_driver_for(MLX5, "vfio-pci");
        check_uint(module_alias_loads(), ==, before + 2);

        check_int(unlink(path), ==, 0);
        vfio_driver_for(E1000E, "vfio-pci");
}

static void device_without_modalias_gets_vfio_pci(void) {
        setup(true);
        vfio_driver_for(NO_MODALIAS, "vfio-pci");
}

static void modalias_of_another_bus_gets_vfio_pci(void) {
        setup(true);
        /* Only a PCI modalias is looked up; anything else must not be matched as one. */
        write_file("bus/pci/devices/" NO_MODALIAS "/modalias", "v000015B3d0000101Esv*\n");
        vfio_driver_for(NO_MODALIAS, "vfio-pci");
}

static void host_driver_for(const char *address, const char *expected) {
        _cleanup_free_ char *found = NULL;
        int r;

        r = bind_host_driver_for(root(), modules, address, &found);
        if (r < 0)
                test_fail("bind_host_driver_for(%s): %s", address, strerror(-r));
        check_int(r, ==, expected ? 1 : 0);
        if (!streq_ptr(found, expected))
                test_fail("bind_host_driver_for(%s) = %s, expected %s", address, found ?: "(null)",
                          expected ?: "(null)");
}

static void host_driver_is_the_matching_host_alias(void) {
        setup(true);
        /* Never vfio_pci's catch-all nor a variant: the driver the device would have had. */
        host_driver_for(MLX5, "mlx5_core");
        host_driver_for(E1000E, "e1000e");
        host_driver_for(NO_MODALIAS, NULL);
        write_file("bus/pci/devices/" NO_MODALIAS "/modalias", "v000015B3d0000101Esv*\n");
        host_driver_for(NO_MODALIAS, NULL);
}

static void host_driver_without_modules_alias_is_none(void) {
        setup(false);
        host_driver_for(MLX5, NULL);
}

static void missing_modules_alias_gets_vfio_pci(void) {
        setup(false);
        vfio_driver_for(MLX5, "vfio-pci");
        vfio_driver_for(E1000E, "vfio-pci");
}

static void device_moves_reverse_swaps_from_and_to(void) {
        static const DeviceMove moves[] = {
                { MLX5, (char *) "mlx5_core", (char *) "mlx5_vfio_pci" },
                { E1000E, NULL, (char *) "vfio-pci" },
                { NO_MODALIAS, (char *) "e1000e", NULL },
        };

        check_int(device_moves_reverse(moves, ELEMENTSOF(moves), &reversed), ==, 0);
        n_reversed = ELEMENTSOF(moves);
        check_str(reversed[0].address, MLX5);
        check_str(reversed[0].from, "mlx5_vfio_pci");
        check_str(reversed[0].to, "mlx5_core");
        check(reversed[0].from != moves[0].to); /* copies, not shared */
        check_str(reversed[1].address, E1000E);
        check_str(reversed[1].from, "vfio-pci");
        check(reversed[1].to == NULL);
        check_str(reversed[2].address, NO_MODALIAS);
        check(reversed[2].from == NULL);
        check_str(reversed[2].to, "e1000e");
}

static void device_moves_reverse_of_nothing_is_nothing(void) {
        check_int(device_moves_reverse(NULL, 0, &reversed), ==, 0);
        check(reversed != NULL);
}

static void set_override_writes_driver_name(void) {
        setup(true);
        write_file("bus/pci/devices/" MLX5 "/driver_override", "");
        check_int(bind_set_override(root(), MLX5, "vfio-pci"), ==, 0);
        check_str(file("bus/pci/devices/" MLX5 "/driver_override"), "vfio-pci");
}

static void set_override_to_null_writes_newline(void) {
        setup(true);
        write_file("bus/pci/devices/" MLX5 "/driver_override", "");
        check_int(bind_set_override(root(), MLX5, NULL), ==, 0);
        check_str(file("bus/pci/devices/" MLX5 "/driver_override"), "\n");
}

static void set_override_of_vanished_device_fails_without_creating_it(void) {
        setup(true);
        check_int(bind_set_override(root(), "0000:7f:00.0", "vfio-pci"), ==, -ENOENT);
        check(!exists("bus/pci/devices/0000:7f:00.0"));
        /* A device without the attribute: sysfs has no such file to create. */
        check_int(bind_set_override(root(), E1000E, "vfio-pci"), <, 0);
        check(!exists("bus/pci/devices/" E1000E "/driver_override"));
}

/* The attribute files a move may write, as empty plain files. */
static void add_kernel_files(const char *const *addresses, size_t n) {
        check_int(sysfs_tree_mkdir(tree, "bus/pci/drivers/vfio-pci"), ==, 0);
        write_file("bus/pci/drivers_probe", "");
        write_file("bus/pci/drivers/vfio-pci/bind", "");
        write_file("bus/pci/drivers/vfio-pci/unbind", "");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                check(asprintf(&path, "bus/pci/devices/%s/driver_override", addresses[i]) >= 0);
                write_file(path, "");
        }
}

static void move_already_in_place_writes_only_override(void) {
        static const char *const addresses[] = { MLX5 };
        const DeviceMove move = { MLX5, (char *) "mlx5_core", (char *) "vfio-pci" };
        size_t failed = SIZE_MAX;

        setup(true);
        add_kernel_files(addresses, ELEMENTSOF(addresses));
        check_int(sysfs_tree_set_driver(tree, MLX5, "vfio-pci"), ==, 0);

        check_int(bind_apply_moves(root(), &move, 1, &failed), ==, 0);
        check_str(file("bus/pci/devices/" MLX5 "/driver_override"), "vfio-pci");
        check_str(file("bus/pci/drivers_probe"), "");
        check_str(file("bus/pci/drivers/vfio-pci/bind"), "");
        check_str(file("bus/pci/drivers/vfio-pci/unbind"), "");
}

static void move_the_kernel_did_not_make_fails_at_that_device(void) {
        static const char *const addresses[] = { MLX5, NO_MODALIAS };
        const DeviceMove moves[] = {
                { MLX5, (char *) "mlx5_core", (char *) "vfio-pci" },
                { NO_MODALIAS, NULL, (char *) "vfio-pci" },
        };
        size_t failed = SIZE_MAX;

        setup(true);
        add_kernel_files(addresses, ELEMENTSOF(addresses));
        check_int(sysfs_tree_set_driver(tree, MLX5, "vfio-pci"), ==, 0);

        /* Plain files do not bind anything: the check after the probe must notice. */
        check_int(bind_apply_moves(root(), moves, ELEMENTSOF(moves), &failed), ==, -EPROTO);
        check_uint(failed, ==, 1);
        check_str(file("bus/pci/devices/" NO_MODALIAS "/driver_override"), "vfio-pci");
        check_str(file("bus/pci/drivers_probe"), NO_MODALIAS);
}

/* A device gone in the middle of a move fails it at that device with ENODEV (NoSuchDevice, naming
 * it), never ENOENT (which the bus reads as NoSuchGroup); a device that is there but lacks a file
 * the move writes fails with ENXIO. */
static void move_of_a_vanished_device_names_the_device(void) {
        static const char *const addresses[] = { MLX5, NO_MODALIAS };
        const DeviceMove moves[] = {
                { MLX5, (char *) "mlx5_core", (char *) "vfio-pci" },
                { NO_MODALIAS, NULL, (char *) "vfio-pci" },
        };
        const DeviceMove without_override = { E1000E, (char *) "e1000e", (char *) "vfio-pci" };
        size_t failed = SIZE_MAX;

        setup(true);
        add_kernel_files(addresses, ELEMENTSOF(addresses));
        check_int(sysfs_tree_remove_device(tree, NO_MODALIAS), ==, 0);
        check_int(bind_apply_moves(root(), moves, ELEMENTSOF(moves), &failed), ==, -ENODEV);
        check_uint(failed, ==, 1);
        check(!exists("bus/pci/devices/" NO_MODALIAS));

        failed = SIZE_MAX;
        check_int(bind_apply_moves(root(), &without_override, 1, &failed), ==, -ENXIO);
        check_uint(failed, ==, 0);
}

static void load_driver_never_loads_modules_for_a_generated_tree(void) {
        setup(true);
        check_int(bind_load_driver(root(), "e1000e"), ==, 0);
        check_int(bind_load_driver(root(), "vfio-pci"), ==, -ENOPKG);
        check(!exists("bus/pci/drivers/vfio-pci"));
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(variant_alias_picks_variant_driver),
                TEST_CASE(catch_all_alias_is_not_a_variant),
                TEST_CASE(device_without_modalias_gets_vfio_pci),
                TEST_CASE(modules_alias_is_parsed_once_and_again_when_replaced),
                TEST_CASE(modalias_of_another_bus_gets_vfio_pci),
                TEST_CASE(missing_modules_alias_gets_vfio_pci),
                TEST_CASE(host_driver_is_the_matching_host_alias),
                TEST_CASE(host_driver_without_modules_alias_is_none),
                TEST_CASE(device_moves_reverse_swaps_from_and_to),
                TEST_CASE(device_moves_reverse_of_nothing_is_nothing),
                TEST_CASE(set_override_writes_driver_name),
                TEST_CASE(set_override_to_null_writes_newline),
                TEST_CASE(set_override_of_vanished_device_fails_without_creating_it),
                TEST_CASE(move_already_in_place_writes_only_override),
                TEST_CASE(move_the_kernel_did_not_make_fails_at_that_device),
                TEST_CASE(move_of_a_vanished_device_names_the_device),
                TEST_CASE(load_driver_never_loads_modules_for_a_generated_tree),
        };

        log_set_max_level(getenv("VFIOD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
