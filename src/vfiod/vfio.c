/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the ioctls on VFIO containers and groups, opening iommufd and VFIO cdevs, and who owns a group
 * node in grant mode. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "macro.h"
#include "vfio.h"

/* VFIO_IOMMU_GET_INFO with its capability chain fits here (116 bytes seen on q35). */
#define IOMMU_INFO_BUF 4096

static const char *const iommu_model_table[_IOMMU_MODEL_MAX] = {
        [IOMMU_TYPE1V2] = "Type1v2",    [IOMMU_TYPE1] = "Type1",     [IOMMU_SPAPR_TCE_V2] = "sPAPRTCEv2",
        [IOMMU_SPAPR_TCE] = "sPAPRTCE", [IOMMU_NOIOMMU] = "NoIOMMU", [IOMMU_IOMMUFD] = "iommufd",
};

/* The VFIO extension id of each legacy model, in order of preference. */
static const struct {
        IommuModel model;
        unsigned long extension;
} model_preference[] = {
        { IOMMU_TYPE1V2, VFIO_TYPE1v2_IOMMU },           { IOMMU_TYPE1, VFIO_TYPE1_IOMMU },
        { IOMMU_SPAPR_TCE_V2, VFIO_SPAPR_TCE_v2_IOMMU }, { IOMMU_SPAPR_TCE, VFIO_SPAPR_TCE_IOMMU },
        { IOMMU_NOIOMMU, VFIO_NOIOMMU_IOMMU },
};

const char *iommu_model_to_string(IommuModel m) {
        return m >= 0 && m < _IOMMU_MODEL_MAX ? iommu_model_table[m] : NULL;
}

IommuModel iommu_model_from_string(const char *s) {
        for (int i = 0; i < _IOMMU_MODEL_MAX; i++)
                if (streq(iommu_model_table[i], s))
                        return (IommuModel) i;
        return _IOMMU_MODEL_INVALID;
}

static int open_node(const char *dev_root, const char *node) {
        _cleanup_free_ char *path = NULL;
        int fd;

        if (asprintf(&path, "%s/%s", dev_root, node) < 0)
                return -ENOMEM;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? negative_errno() : fd;
}

int vfio_open_container(const char *dev_root) {
        int fd = open_node(dev_root, "vfio/vfio");

        if (fd < 0)
                return fd;
        if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
                safe_close(fd);
                return -EPROTONOSUPPORT;
        }
        return fd;
}

int vfio_open_group(const char *dev_root, uint32_t group) {
        struct vfio_group_status status = { .argsz = sizeof(status) };
        _cleanup_free_ char *node = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&node, "vfio/%u", group) < 0)
                return -ENOMEM;
        fd = open_node(dev_root, node);
        if (fd < 0)
                return fd;
        if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status) < 0)
                return negative_errno();
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
                return -EXDEV;
        return TAKE_FD(fd);
}

int vfio_group_held(const char *dev_root, uint32_t group) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/vfio/%u", dev_root, group) < 0)
                return -ENOMEM;
        /* Non-blocking: whatever the node turned out to be, the open must not wait. */
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 && errno == EBUSY)
                return 1;
        if (fd < 0 && errno == ENOENT)
                return 0; /* no node: no device of the group on vfio */
        if (fd < 0)
                return negative_errno();
        return 0; /* ours for a moment; closing it lets go of the group again */
}

/* Grant mode changes the owner and mode of /dev/vfio/N through an O_PATH fd of what fstat showed to
 * be a character device, never by path again (a name can be swapped between a check and a use). */
int vfio_group_node_set_owner(const char *dev_root, uint32_t group, uid_t uid) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char by_fd[64];
        struct stat st;

        if (asprintf(&path, "%s/vfio/%" PRIu32, dev_root, group) < 0)
                return -ENOMEM;
        fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISCHR(st.st_mode))
                return -ENODEV;
        /* chmod has no O_PATH form before fchmodat2 (6.6); the fd's /proc link reaches the same inode. */
        (void) snprintf(by_fd, sizeof(by_fd), "/proc/self/fd/%d", fd);

        /* Root and 0600 first: the grantee owned the node and may have widened its mode, and without
         * CAP_FOWNER (the hardened unit) only the owner may change it. With CAP_FOWNER the mode goes
         * first, so that the node is never root's and open to all, even for a moment. */
        if (chmod(by_fd, 0600) < 0 && errno != EPERM)
                return negative_errno();
        if (fchownat(fd, "", 0, (gid_t) -1, AT_EMPTY_PATH) < 0)
                return negative_errno();
        if (chmod(by_fd, 0600) < 0)
                return negative_errno();
        if (uid != 0 && fchownat(fd, "", uid, (gid_t) -1, AT_EMPTY_PATH) < 0)
                return negative_errno();
        return 0;
}

int vfio_attach_group(int group_fd, int container_fd) {
        return ioctl(group_fd, VFIO_GROUP_SET_CONTAINER, &container_fd) < 0 ? negative_errno() : 0;
}

int vfio_set_best_model(int container_fd, bool allow_noiommu, IommuModel *ret) {
        FOREACH_ARRAY(p, model_preference, ELEMENTSOF(model_preference)) {
                if (p->model == IOMMU_NOIOMMU && !allow_noiommu)
                        continue;
                if (ioctl(container_fd, VFIO_CHECK_EXTENSION, p->extension) <= 0)
                        continue;
                if (ioctl(container_fd, VFIO_SET_IOMMU, p->extension) < 0)
                        return negative_errno();
                *ret = p->model;
                return 0;
        }
        return -EOPNOTSUPP;
}

static int parse_iova_cap(const uint8_t *buf, size_t size, uint32_t offset, IovaRange **ret, size_t *ret_n) {
        while (offset != 0 && offset + sizeof(struct vfio_info_cap_header) <= size) {
                const struct vfio_info_cap_header *h = (const void *) (buf + offset);

                if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
                    offset + sizeof(struct vfio_iommu_type1_info_cap_iova_range) <= size) {
                        const struct vfio_iommu_type1_info_cap_iova_range *c = (const void *) h;
                        IovaRange *r;

                        if (offset + sizeof(*c) + (size_t) c->nr_iovas * sizeof(struct vfio_iova_range) > size)
                                return -EBADMSG;
                        r = calloc(c->nr_iovas ?: 1, sizeof(IovaRange));
                        if (!r)
                                return -ENOMEM;
                        for (uint32_t i = 0; i < c->nr_iovas; i++)
                                r[i] = (IovaRange){ c->iova_ranges[i].start, c->iova_ranges[i].end };
                        *ret = r;
                        *ret_n = c->nr_iovas;
                        return 0;
                }
                if (h->next <= offset) /* the chain only moves forward */
                        break;
                offset = h->next;
        }
        *ret = NULL;
        *ret_n = 0;
        return 0;
}

int vfio_query_iommu(int container_fd, IovaRange **ret_ranges, size_t *ret_n, uint64_t *ret_page_sizes) {
        _cleanup_free_ uint8_t *buf = calloc(1, IOMMU_INFO_BUF);
        struct vfio_iommu_type1_info *info = (void *) buf;
        int r;

        if (!buf)
                return -ENOMEM;
        info->argsz = IOMMU_INFO_BUF;
        if (ioctl(container_fd, VFIO_IOMMU_GET_INFO, info) < 0)
                return negative_errno();
        r = parse_iova_cap(buf, IOMMU_INFO_BUF, (info->flags & VFIO_IOMMU_INFO_CAPS) ? info->cap_offset : 0, ret_ranges,
                           ret_n);
        if (r < 0)
                return r;
        *ret_page_sizes = (info->flags & VFIO_IOMMU_INFO_PGSIZES) ? info->iova_pgsizes : 0;
        return 0;
}

int iommufd_open(const char *dev_root) {
        return open_node(dev_root, "iommu");
}

/* sysfs .../BDF/vfio-dev/ has one entry, vfioN, named like the node under /dev/vfio/devices. */
static int cdev_name(const char *sysfs_root, const char *address, char **ret) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (asprintf(&dir, "%s/bus/pci/devices/%s/vfio-dev", sysfs_root, address) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return negative_errno();
        while ((de = readdir(d)))
                if (startswith(de->d_name, "vfio")) {
                        *ret = strdup(de->d_name);
                        return *ret ? 0 : -ENOMEM;
                }
        return -ENOENT;
}

int vfio_device_cdev_path(const char *sysfs_root, const char *dev_root, const char *address, char **ret) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = cdev_name(sysfs_root, address, &name);
        if (r < 0)
                return r;
        return asprintf(ret, "%s/vfio/devices/%s", dev_root, name) < 0 ? -ENOMEM : 0;
}

int vfio_open_device_cdev(const char *sysfs_root, const char *dev_root, const char *address) {
        _cleanup_free_ char *path = NULL;
        int r, fd;

        r = vfio_device_cdev_path(sysfs_root, dev_root, address, &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? negative_errno() : fd;
}

bool vfio_have_iommufd(const char *sysfs_root, const char *dev_root) {
        _cleanup_free_ char *iommu = NULL;

        /* /dev/iommu comes with CONFIG_IOMMUFD; the kernels that have it here have VFIO cdevs too,
         * and a kernel that does not fails the cdev open with a clear error. */
        if (asprintf(&iommu, "%s/iommu", dev_root) < 0)
                return false;
        return access(iommu, F_OK) >= 0;
}
