/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A PCI device's sysfs attributes, read through the daemon's own code on a scratch tree:
 * sysfs_read_device() (src/vfiod/sysfs.c, parsers in parse.c: the hex ids, class, numa_node, the
 * driver and iommu_group links) and bind_vfio_driver_for() (src/vfiod/bind.c: modalias against
 * modules.alias).
 *
 * The input is up to eight parts, each ended by a line "--": the contents of vendor, device, class,
 * numa_node, the targets of the driver and iommu_group links, modalias, and modules.alias. A part
 * that is just "(none)" (or empty, for a link) leaves that file out; missing trailing parts too. The
 * result must be what the attribute parsers say of each part on its own. */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "address.h"
#include "bind.h"
#include "fuzz.h"
#include "macro.h"
#include "module-alias.h"
#include "parse.h"
#include "sysfs.h"
#include "tmpdir.h"

#define ADDRESS "0000:01:00.0"

enum {
        PART_VENDOR,
        PART_DEVICE,
        PART_CLASS,
        PART_NUMA_NODE,
        PART_DRIVER,
        PART_IOMMU_GROUP,
        PART_MODALIAS,
        PART_MODULES_ALIAS,
        _PART_MAX,
};

static const char *const part_file[_PART_MAX] = {
        [PART_VENDOR] = "bus/pci/devices/" ADDRESS "/vendor",
        [PART_DEVICE] = "bus/pci/devices/" ADDRESS "/device",
        [PART_CLASS] = "bus/pci/devices/" ADDRESS "/class",
        [PART_NUMA_NODE] = "bus/pci/devices/" ADDRESS "/numa_node",
        [PART_DRIVER] = "bus/pci/devices/" ADDRESS "/driver",
        [PART_IOMMU_GROUP] = "bus/pci/devices/" ADDRESS "/iommu_group",
        [PART_MODALIAS] = "bus/pci/devices/" ADDRESS "/modalias",
        [PART_MODULES_ALIAS] = "modules/modules.alias",
};

static char *root, *modules_dir;
static int root_fd = -EBADF;

static void remove_root(void) {
        root_fd = safe_close(root_fd);
        root = tmpdir_remove(root);
        modules_dir = mfree(modules_dir);
}

/* One scratch tree per process, rewritten for each input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_check(tmpdir_new("vfiod-fuzz-sysfs", &root) >= 0);
        atexit(remove_root);
        fuzz_check(asprintf(&modules_dir, "%s/modules", root) >= 0);
        root_fd = open(root, O_DIRECTORY | O_CLOEXEC);
        fuzz_check(root_fd >= 0);
        fuzz_check(mkdirat(root_fd, "bus", 0755) >= 0 && mkdirat(root_fd, "bus/pci", 0755) >= 0 &&
                   mkdirat(root_fd, "bus/pci/devices", 0755) >= 0 &&
                   mkdirat(root_fd, "bus/pci/devices/" ADDRESS, 0755) >= 0 && mkdirat(root_fd, "modules", 0755) >= 0);
        return 0;
}

static bool is_none(const uint8_t *part, size_t size) {
        return (size == 6 && memcmp(part, "(none)", 6) == 0) || (size == 7 && memcmp(part, "(none)\n", 7) == 0);
}

static void write_file(const char *relative, const uint8_t *data, size_t size) {
        _cleanup_close_ int fd = -EBADF;

        fd = openat(root_fd, relative, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        fuzz_check(fd >= 0);
        while (size > 0) {
                ssize_t n = write(fd, data, size);

                fuzz_check(n > 0);
                data += n;
                size -= (size_t) n;
        }
}

/* Whether the link is there: a target the kernel could not hold is no link either. */
static bool write_link(const char *relative, const char *target) {
        return *target && symlinkat(target, root_fd, relative) >= 0;
}

/* What the daemon names a link by: the last component of its target. */
static const char *link_name(const char *target) {
        return strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
}

/* The result sysfs_read_device() must have: the first failure in the order it reads. */
static int expected_read(char *const text[_PART_MAX], const bool present[_PART_MAX]) {
        static const uint32_t max[] = {
                [PART_VENDOR] = UINT16_MAX,
                [PART_DEVICE] = UINT16_MAX,
                [PART_CLASS] = 0xffffff,
        };
        uint32_t v;
        int r, i;

        for (int p = PART_VENDOR; p <= PART_CLASS; p++) {
                if (!present[p])
                        return -ENOENT;
                r = parse_sysfs_hex(text[p], max[p], &v);
                if (r < 0)
                        return r;
        }
        if (present[PART_NUMA_NODE] && (r = parse_sysfs_int(text[PART_NUMA_NODE], &i)) < 0)
                return r;
        if (present[PART_IOMMU_GROUP] && (r = group_id_parse(link_name(text[PART_IOMMU_GROUP]), &v)) < 0)
                return r;
        return 0;
}

/* What sysfs prints for these attributes: "0x" and hex digits, or a decimal that may be negative;
 * then one newline or none. */
static bool is_attribute(const char *text, bool hex) {
        const char *p = text;

        if (hex) {
                if (p[0] != '0' || (p[1] != 'x' && p[1] != 'X'))
                        return false;
                p += 2;
        } else if (*p == '-')
                p++;
        if (!(hex ? isxdigit((unsigned char) *p) : isdigit((unsigned char) *p)))
                return false;
        while (hex ? isxdigit((unsigned char) *p) : isdigit((unsigned char) *p))
                p++;
        return streq(p, "") || streq(p, "\n");
}

static void check_device(const SysfsDevice *d, char *const text[_PART_MAX], const bool present[_PART_MAX]) {
        uint32_t v;
        int i;

        for (int p = PART_VENDOR; p <= PART_NUMA_NODE; p++)
                fuzz_check(!present[p] || is_attribute(text[p], p != PART_NUMA_NODE));
        fuzz_check(parse_sysfs_hex(text[PART_VENDOR], UINT16_MAX, &v) == 0 && v == d->vendor);
        fuzz_check(parse_sysfs_hex(text[PART_DEVICE], UINT16_MAX, &v) == 0 && v == d->product);
        fuzz_check(parse_sysfs_hex(text[PART_CLASS], 0xffffff, &v) == 0 && v == d->class);
        if (present[PART_NUMA_NODE])
                fuzz_check(parse_sysfs_int(text[PART_NUMA_NODE], &i) == 0 && i == d->numa_node);
        else
                fuzz_check(d->numa_node == -1);
        if (present[PART_DRIVER])
                fuzz_check(d->driver && streq(d->driver, link_name(text[PART_DRIVER])));
        else
                fuzz_check(!d->driver);
        fuzz_check(d->has_group == present[PART_IOMMU_GROUP]);
        if (d->has_group)
                fuzz_check(group_id_parse(link_name(text[PART_IOMMU_GROUP]), &v) == 0 && v == d->group);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text[_PART_MAX] = {};
        bool present[_PART_MAX] = {};
        _cleanup_free_ char *driver = NULL;
        SysfsDevice d;
        const uint8_t *part, *alias = NULL;
        size_t part_size, alias_size = 0;
        int r, expected;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        for (int p = 0; p < _PART_MAX; p++) {
                bool link = p == PART_DRIVER || p == PART_IOMMU_GROUP;

                (void) unlinkat(root_fd, part_file[p], 0);
                if (!fuzz_next_part(&data, &size, "--", &part, &part_size) || is_none(part, part_size))
                        continue;
                /* A link's target is a string; the part's newline only ends the line it is written on. */
                if (link && part_size > 0 && part[part_size - 1] == '\n')
                        part_size--;
                text[p] = fuzz_strndup(part, part_size);
                if (p == PART_MODULES_ALIAS) {
                        alias = part;
                        alias_size = part_size;
                }
                if (link)
                        present[p] = write_link(part_file[p], text[p]);
                else {
                        write_file(part_file[p], part, part_size);
                        present[p] = true;
                }
        }

        r = sysfs_read_device(root, ADDRESS, &d);
        expected = expected_read(text, present);
        if (r != -ENOMEM)
                fuzz_check(r == expected);
        if (r >= 0) {
                check_device(&d, text, present);
                sysfs_device_done(&d);
        }

        /* Never fails but for memory: without a variant driver it is vfio-pci. The file was just
         * rewritten in place, faster than its timestamps move: forget what was parsed. */
        module_alias_cache_clear();
        r = bind_vfio_driver_for(root, modules_dir, ADDRESS, &driver);
        fuzz_check(r == 0 || r == -ENOMEM);
        if (r == 0) {
                fuzz_check(driver && *driver);
                if (!streq(driver, "vfio-pci"))
                        fuzz_check(present[PART_MODALIAS] && startswith(text[PART_MODALIAS], "pci:") && alias &&
                                   memmem(alias, alias_size, driver, strlen(driver)));
        }

        for (int p = 0; p < _PART_MAX; p++)
                free(text[p]);
        return 0;
}
