/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel-facing: the VFIO container/group ioctls and the iommufd/cdev device nodes. Quick calls
 * only (opens and ioctls that do not wait on other processes), so they run on the event loop. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum IommuModel {
        IOMMU_TYPE1V2,
        IOMMU_TYPE1,
        IOMMU_SPAPR_TCE_V2,
        IOMMU_SPAPR_TCE,
        IOMMU_NOIOMMU,
        IOMMU_IOMMUFD,
        _IOMMU_MODEL_MAX,
        _IOMMU_MODEL_INVALID = -22,
} IommuModel;

typedef struct IovaRange {
        uint64_t start;
        uint64_t end; /* inclusive */
} IovaRange;

const char *iommu_model_to_string(IommuModel m);
IommuModel iommu_model_from_string(const char *s);

/* /dev/vfio/vfio, checked for the API version we speak. */
int vfio_open_container(const char *dev_root);

/* /dev/vfio/N: -EBUSY when somebody else has it open, -EXDEV when the group is not viable. */
int vfio_open_group(const char *dev_root, uint32_t group);

/* Whether anything holds group GROUP open, as the kernel sees it: an open of /dev/vfio/N answers
 * EBUSY while a group fd is open anywhere (each legacy device fd, and a BAR mapped from one, keeps
 * the group's file open; so does an fd in flight in a socket) or, from 6.6 on, while one of its
 * devices' cdevs is bound to an iommufd. 1 held, 0 not (the open succeeded and was closed at
 * once, or there is no node), or -errno. Blind to a cdev opened but not bound, and to the
 * caller's own group fds. */
int vfio_group_held(const char *dev_root, uint32_t group);

/* Grant mode: DEV_ROOT/vfio/GROUP becomes uid's with mode 0600 (uid 0: root's again), checked to be a
 * character device and changed through an fd, never by path. */
int vfio_group_node_set_owner(const char *dev_root, uint32_t group, uid_t uid);

/* VFIO_GROUP_SET_CONTAINER. */
int vfio_attach_group(int group_fd, int container_fd);

/* The best model the container offers (Type1v2, Type1, sPAPR TCE v2, sPAPR TCE; no-IOMMU only
 * when allowed), then VFIO_SET_IOMMU with it. Needs a group attached. */
int vfio_set_best_model(int container_fd, bool allow_noiommu, IommuModel *ret);

/* VFIO_IOMMU_GET_INFO: the usable IOVA ranges (from the IOVA-range capability; none when the
 * kernel does not report it) and the supported page sizes. */
int vfio_query_iommu(int container_fd, IovaRange **ret_ranges, size_t *ret_n, uint64_t *ret_page_sizes);

/* /dev/iommu. */
int iommufd_open(const char *dev_root);

/* The VFIO cdev of a device bound to vfio-pci (/dev/vfio/devices/vfioN, found through
 * sysfs .../vfio-dev/vfioN), opened unbound, as QEMU takes it. */
int vfio_open_device_cdev(const char *sysfs_root, const char *dev_root, const char *address);

/* The cdev node path of a device (for holder scans), or -ENOENT. */
int vfio_device_cdev_path(const char *sysfs_root, const char *dev_root, const char *address, char **ret);

/* Whether the kernel offers the iommufd + cdev interface. */
bool vfio_have_iommufd(const char *sysfs_root, const char *dev_root);
