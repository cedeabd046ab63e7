/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: generating and changing the fake sysfs trees the tests point vfiod at. */

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "macro.h"
#include "sysfs-tree.h"

struct SysfsTree {
        char *root;
        bool remove; /* ours to delete on free */
};

static char *path_join(const SysfsTree *t, const char *format, ...) _printf_(2, 3);
static char *path_join(const SysfsTree *t, const char *format, ...) {
        _cleanup_free_ char *relative = NULL;
        char *path;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&relative, format, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        if (asprintf(&path, "%s/%s", t->root, relative) < 0)
                return NULL;
        return path;
}

static int mkdir_p(const char *path) {
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *p = '/';
        }
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

static int write_text(const char *path, const char *text, bool append) {
        _cleanup_close_ int fd = -EBADF;
        size_t left = strlen(text);

        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (append ? O_APPEND : O_TRUNC), 0644);
        if (fd < 0)
                return negative_errno();
        while (left > 0) {
                ssize_t n = write(fd, text, left);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                text += n;
                left -= (size_t) n;
        }
        return 0;
}

static int write_attr(const char *dir, const char *name, const char *format, ...) _printf_(3, 4);
static int write_attr(const char *dir, const char *name, const char *format, ...) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&text, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return write_text(path, text, false);
}

static int rm_rf_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_rf(const char *path) {
        if (nftw(path, rm_rf_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

static int tree_alloc(const char *root, bool remove, SysfsTree **ret) {
        SysfsTree *t = calloc(1, sizeof(SysfsTree));

        if (!t)
                return -ENOMEM;
        t->root = strdup(root);
        if (!t->root) {
                free(t);
                return -ENOMEM;
        }
        t->remove = remove;
        *ret = t;
        return 0;
}

int sysfs_tree_new(const char *parent, SysfsTree **ret) {
        static const char *const dirs[] = { "bus/pci/devices", "bus/pci/drivers", "kernel/iommu_groups" };
        _cleanup_free_ char *template = NULL;
        SysfsTree *t;
        int r;

        /* /dev/shm before /tmp: like /sys it is in memory, and some disks make the 4096-group
         * tree take half a minute. */
        if (!parent)
                parent = getenv("TMPDIR") ?: access("/dev/shm", W_OK | X_OK) >= 0 ? "/dev/shm" : "/tmp";
        if (asprintf(&template, "%s/vfiod-sysfs.XXXXXX", parent) < 0)
                return -ENOMEM;
        if (!mkdtemp(template))
                return negative_errno();
        /* Readable by everyone, like /sys: the D-Bus tests run clients as nobody. */
        if (chmod(template, 0755) < 0) {
                r = negative_errno();
                (void) rm_rf(template);
                return r;
        }

        r = tree_alloc(template, true, &t);
        if (r < 0) {
                (void) rm_rf(template);
                return r;
        }
        FOREACH_ARRAY(d, dirs, ELEMENTSOF(dirs)) {
                _cleanup_free_ char *path = path_join(t, "%s", *d);
                r = path ? mkdir_p(path) : -ENOMEM;
                if (r < 0) {
                        sysfs_tree_free(t);
                        return r;
                }
        }
        *ret = t;
        return 0;
}

int sysfs_tree_open(const char *root, SysfsTree **ret) {
        struct stat st;

        if (stat(root, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        return tree_alloc(root, false, ret);
}

SysfsTree *sysfs_tree_free(SysfsTree *t) {
        if (!t)
                return NULL;
        if (t->remove)
                (void) rm_rf(t->root);
        free(t->root);
        return mfree(t);
}

void sysfs_tree_keep(SysfsTree *t) {
        t->remove = false;
}

const char *sysfs_tree_root(const SysfsTree *t) {
        return t->root;
}

/* The group directory with its devices/ and (empty until regions are added) reserved_regions. */
static int group_ensure(SysfsTree *t, uint32_t group) {
        _cleanup_free_ char *devices = NULL, *regions = NULL;
        int r;

        devices = path_join(t, "kernel/iommu_groups/%" PRIu32 "/devices", group);
        regions = path_join(t, "kernel/iommu_groups/%" PRIu32 "/reserved_regions", group);
        if (!devices || !regions)
                return -ENOMEM;
        r = mkdir_p(devices);
        if (r < 0)
                return r;
        if (access(regions, F_OK) < 0)
                return write_text(regions, "", false);
        return 0;
}

static int driver_link(SysfsTree *t, const char *device_dir, const char *driver) {
        _cleanup_free_ char *driver_dir = NULL, *link = NULL, *target = NULL;
        int r;

        if (asprintf(&link, "%s/driver", device_dir) < 0)
                return -ENOMEM;
        if (unlink(link) < 0 && errno != ENOENT)
                return negative_errno();
        if (!driver)
                return 0;

        driver_dir = path_join(t, "bus/pci/drivers/%s", driver);
        if (!driver_dir)
                return -ENOMEM;
        r = mkdir_p(driver_dir);
        if (r < 0)
                return r;
        if (asprintf(&target, "../../drivers/%s", driver) < 0)
                return -ENOMEM;
        if (symlink(target, link) < 0)
                return negative_errno();
        return 0;
}

int sysfs_tree_add_device(SysfsTree *t, const SysfsTreeDevice *d) {
        _cleanup_free_ char *dir = NULL;
        int r;

        dir = path_join(t, "bus/pci/devices/%s", d->address);
        if (!dir)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0)
                return negative_errno();

        r = write_attr(dir, "vendor", "0x%04x\n", d->vendor);
        if (r >= 0)
                r = write_attr(dir, "device", "0x%04x\n", d->product);
        if (r >= 0)
                r = write_attr(dir, "class", "0x%06x\n", d->class);
        if (r >= 0)
                r = write_attr(dir, "subsystem_vendor", "0x%04x\n", d->subsystem_vendor);
        if (r >= 0)
                r = write_attr(dir, "subsystem_device", "0x%04x\n", d->subsystem_device);
        if (r >= 0)
                r = write_attr(dir, "numa_node", "%d\n", d->numa_node);
        if (r >= 0)
                r = driver_link(t, dir, d->driver);
        if (r < 0)
                return r;

        if (d->group != SYSFS_TREE_NO_GROUP) {
                _cleanup_free_ char *group_link = NULL, *group_target = NULL, *member_link = NULL,
                                    *member_target = NULL;

                r = group_ensure(t, d->group);
                if (r < 0)
                        return r;
                if (asprintf(&group_link, "%s/iommu_group", dir) < 0 ||
                    asprintf(&group_target, "../../../../kernel/iommu_groups/%" PRIu32, d->group) < 0 ||
                    asprintf(&member_target, "../../../../bus/pci/devices/%s", d->address) < 0 ||
                    !(member_link = path_join(t, "kernel/iommu_groups/%" PRIu32 "/devices/%s", d->group, d->address)))
                        return -ENOMEM;
                if (symlink(group_target, group_link) < 0 || symlink(member_target, member_link) < 0)
                        return negative_errno();
        }
        return 0;
}

int sysfs_tree_remove_device(SysfsTree *t, const char *address) {
        _cleanup_free_ char *dir = NULL, *link = NULL;
        char target[PATH_MAX];
        ssize_t n;
        int r;

        dir = path_join(t, "bus/pci/devices/%s", address);
        if (!dir || asprintf(&link, "%s/iommu_group", dir) < 0)
                return -ENOMEM;
        if (access(dir, F_OK) < 0)
                return negative_errno();

        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0 && errno != ENOENT)
                return negative_errno();
        r = rm_rf(dir);
        if (r < 0)
                return r;
        if (n >= 0) {
                _cleanup_free_ char *group_dir = NULL, *member = NULL, *members = NULL;
                _cleanup_closedir_ DIR *dd = NULL;
                const char *group;
                struct dirent *de;
                bool empty = true;

                target[n] = '\0';
                group = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
                group_dir = path_join(t, "kernel/iommu_groups/%s", group);
                if (!group_dir || asprintf(&members, "%s/devices", group_dir) < 0 ||
                    asprintf(&member, "%s/%s", members, address) < 0)
                        return -ENOMEM;
                if (unlink(member) < 0 && errno != ENOENT)
                        return negative_errno();

                /* The kernel frees a group with its last device. */
                dd = opendir(members);
                if (!dd)
                        return errno == ENOENT ? 0 : negative_errno();
                while ((de = readdir(dd)))
                        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                                empty = false;
                if (empty)
                        return rm_rf(group_dir);
        }
        return 0;
}

int sysfs_tree_set_driver(SysfsTree *t, const char *address, const char *driver) {
        _cleanup_free_ char *dir = path_join(t, "bus/pci/devices/%s", address);

        if (!dir)
                return -ENOMEM;
        if (access(dir, F_OK) < 0)
                return negative_errno();
        return driver_link(t, dir, driver);
}

int sysfs_tree_add_region(SysfsTree *t, uint32_t group, uint64_t start, uint64_t end, const char *type) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        int r;

        r = group_ensure(t, group);
        if (r < 0)
                return r;
        path = path_join(t, "kernel/iommu_groups/%" PRIu32 "/reserved_regions", group);
        if (!path ||
            asprintf(&line, "0x%016llx 0x%016llx %s\n", (unsigned long long) start, (unsigned long long) end, type) < 0)
                return -ENOMEM;
        return write_text(path, line, true);
}

int sysfs_tree_write_file(SysfsTree *t, const char *relative_path, const char *text) {
        _cleanup_free_ char *path = path_join(t, "%s", relative_path);

        if (!path)
                return -ENOMEM;
        return write_text(path, text, false);
}

void sysfs_tree_nth_address(unsigned i, char ret[static 17]) {
        snprintf(ret, 17, "0000:%02x:%02x.%x", (i / 256) & 0xff, (i / 8) % 32, i % 8);
}

int sysfs_tree_add_groups(SysfsTree *t, unsigned n) {
        if (n > 256 * 256)
                return -ERANGE;
        for (unsigned i = 0; i < n; i++) {
                char address[17];
                int r;

                sysfs_tree_nth_address(i, address);
                r = sysfs_tree_add_device(t, &(SysfsTreeDevice){
                                                     .address = address,
                                                     .group = i,
                                                     .vendor = 0x1234,
                                                     .product = 0x11e8,
                                                     .class = 0x00ff00,
                                                     .numa_node = -1,
                                             });
                if (r < 0)
                        return r;
        }
        return 0;
}

int sysfs_tree_mkdir(SysfsTree *t, const char *relative_path) {
        _cleanup_free_ char *path = path_join(t, "%s", relative_path);

        if (!path)
                return -ENOMEM;
        return mkdir_p(path);
}

int sysfs_tree_link(SysfsTree *t, const char *relative_link, const char *relative_target) {
        _cleanup_free_ char *link = NULL, *parent = NULL, *root = NULL, *real_parent = NULL, *target = NULL;
        const char *below;
        size_t depth = 0, len;
        char *slash;
        int r;

        link = path_join(t, "%s", relative_link);
        parent = link ? strdup(link) : NULL;
        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        *slash = '\0';
        r = mkdir_p(parent);
        if (r < 0)
                return r;

        /* Count from where the link really is: its parent may be reached through a link itself
         * (class/net/br0/lower_eth0 lives in devices/virtual/net/br0). */
        root = realpath(t->root, NULL);
        if (!root)
                return negative_errno();
        real_parent = realpath(parent, NULL);
        if (!real_parent)
                return negative_errno();
        below = startswith(real_parent, root);
        if (!below || (*below != '\0' && *below != '/'))
                return -EXDEV;
        for (const char *p = below; *p; p++)
                if (*p == '/')
                        depth++;

        len = depth * 3 + strlen(relative_target) + 1;
        target = malloc(len);
        if (!target)
                return -ENOMEM;
        target[0] = '\0';
        for (size_t i = 0; i < depth; i++)
                strcat(target, "../");
        strcat(target, relative_target);
        if (symlink(target, link) < 0)
                return negative_errno();
        return 0;
}

int sysfs_tree_add_block_device(SysfsTree *t, const char *device_path, unsigned major, unsigned minor) {
        _cleanup_free_ char *dir = NULL, *link = NULL;
        int r;

        dir = path_join(t, "%s", device_path);
        if (!dir || asprintf(&link, "dev/block/%u:%u", major, minor) < 0)
                return -ENOMEM;
        r = mkdir_p(dir);
        if (r >= 0)
                r = write_attr(dir, "dev", "%u:%u\n", major, minor);
        if (r >= 0)
                r = sysfs_tree_link(t, link, device_path);
        return r;
}

int sysfs_tree_add_net_device(SysfsTree *t, const char *device_path, const char *ifname) {
        _cleanup_free_ char *dir = NULL, *link = NULL;
        int r;

        dir = path_join(t, "%s", device_path);
        if (!dir || asprintf(&link, "class/net/%s", ifname) < 0)
                return -ENOMEM;
        r = mkdir_p(dir);
        if (r >= 0)
                r = sysfs_tree_link(t, link, device_path);
        return r;
}
