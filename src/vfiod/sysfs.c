/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: reading the kernel's view of PCI devices and IOMMU groups from sysfs. */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "address.h"
#include "macro.h"
#include "sysfs.h"

#define SYSFS_FILE_MAX (1024 * 1024)

int read_full_file(const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();

        for (;;) {
                ssize_t n;

                if (allocated - size < 2) {
                        size_t want = allocated ? allocated * 2 : 4096;
                        char *p;

                        if (want > SYSFS_FILE_MAX)
                                return -EFBIG;
                        p = realloc(buf, want);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = want;
                }
                n = read(fd, buf + size, allocated - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (!buf && !(buf = strdup("")))
                return -ENOMEM;
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static int device_path(const char *root, const char *address, const char *attr, char **ret) {
        if (asprintf(ret, "%s/bus/pci/devices/%s%s%s", root, address, attr ? "/" : "", strempty(attr)) < 0)
                return -ENOMEM;
        return 0;
}

static int read_device_attr(const char *root, const char *address, const char *attr, char **ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = device_path(root, address, attr, &path);
        if (r < 0)
                return r;
        return read_full_file(path, ret);
}

static int read_device_hex(const char *root, const char *address, const char *attr, uint32_t max, uint32_t *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_device_attr(root, address, attr, &text);
        if (r < 0)
                return r;
        return parse_sysfs_hex(text, max, ret);
}

/* The basename of a symlink's target: how sysfs names a device's driver and group. Returns
 * 0 and NULL when the link does not exist. */
static int read_link_name(const char *root, const char *address, const char *link, char **ret) {
        _cleanup_free_ char *path = NULL;
        char target[PATH_MAX];
        ssize_t n;
        int r;

        r = device_path(root, address, link, &path);
        if (r < 0)
                return r;
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0) {
                if (errno == ENOENT) {
                        *ret = NULL;
                        return 0;
                }
                return negative_errno();
        }
        target[n] = '\0';
        *ret = strdup(strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
        return *ret ? 0 : -ENOMEM;
}

void sysfs_device_done(SysfsDevice *d) {
        d->driver = mfree(d->driver);
}

bool sysfs_device_exists(const char *root, const char *address) {
        _cleanup_free_ char *path = NULL;

        if (device_path(root, address, NULL, &path) < 0)
                return true; /* out of memory says nothing about the device */
        return access(path, F_OK) >= 0;
}

int sysfs_read_identity(const char *root, const char *address, DeviceIdentity *ret) {
        static const char *const attrs[] = { "vendor", "device", "subsystem_vendor", "subsystem_device", "class" };
        uint32_t v[ELEMENTSOF(attrs)];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                r = read_device_hex(root, address, attrs[i], streq(attrs[i], "class") ? 0xffffff : UINT16_MAX, &v[i]);
                if (r < 0)
                        return sysfs_device_exists(root, address) ? r : -ENOENT;
        }
        *ret = (DeviceIdentity){
                .vendor = (uint16_t) v[0],
                .device = (uint16_t) v[1],
                .subsystem_vendor = (uint16_t) v[2],
                .subsystem_device = (uint16_t) v[3],
                .class = v[4],
        };
        return 0;
}

#define PCI_STD_BARS   6
#define IORESOURCE_MEM 0x00000200

int sysfs_read_memory_bars(const char *root, const char *address, PciBar **bars, size_t *n_bars) {
        _cleanup_free_ char *text = NULL;
        const char *line;
        int r;

        r = read_device_attr(root, address, "resource", &text);
        if (r < 0)
                return r;
        line = text;
        for (int i = 0; i < PCI_STD_BARS && line && *line; i++) {
                uint64_t start, end, flags;
                PciBar *a;

                if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64, &start, &end, &flags) == 3 &&
                    (flags & IORESOURCE_MEM) && start != 0 && end >= start) {
                        a = reallocarray(*bars, *n_bars + 1, sizeof(PciBar));
                        if (!a)
                                return -ENOMEM;
                        *bars = a;
                        a[(*n_bars)++] = (PciBar){ .start = start, .end = end };
                }
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return 0;
}

static int read_numa_node(const char *root, const char *address, int *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_device_attr(root, address, "numa_node", &text);
        if (r == -ENOENT) { /* kernels without NUMA have no such file */
                *ret = -1;
                return 0;
        }
        if (r < 0)
                return r;
        return parse_sysfs_int(text, ret);
}

int sysfs_read_device(const char *root, const char *address, SysfsDevice *ret) {
        _cleanup_free_ char *group = NULL;
        SysfsDevice d = { .numa_node = -1 };
        uint32_t v;
        int r;

        if (!sysfs_device_exists(root, address))
                return -ENOENT;

        r = read_device_hex(root, address, "vendor", UINT16_MAX, &v);
        if (r < 0)
                goto fail;
        d.vendor = (uint16_t) v;
        r = read_device_hex(root, address, "device", UINT16_MAX, &v);
        if (r < 0)
                goto fail;
        d.product = (uint16_t) v;
        r = read_device_hex(root, address, "class", 0xffffff, &d.class);
        if (r < 0)
                goto fail;
        r = read_numa_node(root, address, &d.numa_node);
        if (r < 0)
                goto fail;
        r = read_link_name(root, address, "driver", &d.driver);
        if (r < 0)
                goto fail;
        r = read_link_name(root, address, "iommu_group", &group);
        if (r < 0)
                goto fail;
        if (group) {
                r = group_id_parse(group, &d.group);
                if (r < 0)
                        goto fail;
                d.has_group = true;
        }

        *ret = d;
        return 0;
fail:
        sysfs_device_done(&d);
        /* A device removed while we read it shows up as a missing attribute. */
        return sysfs_device_exists(root, address) ? r : -ENOENT;
}

int sysfs_read_reserved_regions(const char *root, uint32_t group, ReservedRegion **ret, size_t *ret_n) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (asprintf(&path, "%s/kernel/iommu_groups/%" PRIu32 "/reserved_regions", root, group) < 0)
                return -ENOMEM;
        r = read_full_file(path, &text);
        if (r == -ENOENT) { /* older kernels lack the file: no regions to report */
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        return parse_reserved_regions(text, ret, ret_n);
}

static int cmp_string(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int sysfs_list_devices(const char *root, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        if (asprintf(&path, "%s/bus/pci/devices", root) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return negative_errno();

        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        while ((errno = 0, de = readdir(d))) {
                char canonical[PCI_ADDRESS_MAX], **a;

                /* Only names the kernel would give a PCI function; skips "." and strays. */
                if (pci_address_parse(de->d_name, canonical) < 0 || !streq(canonical, de->d_name))
                        continue;
                a = reallocarray(names, n + 2, sizeof(char *));
                if (!a)
                        return -ENOMEM;
                names = a;
                names[n] = strdup(de->d_name);
                if (!names[n])
                        return -ENOMEM;
                names[++n] = NULL;
        }
        if (errno != 0)
                return negative_errno();

        qsort(names, n, sizeof(char *), cmp_string);
        *ret = TAKE_PTR(names);
        *ret_n = n;
        return 0;
}
