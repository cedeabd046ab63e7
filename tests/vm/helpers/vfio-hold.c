/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-hold: a VFIO user for the VM tests. Opens a group the legacy way (container, group,
 * Type1v2, device fds), says "ready" on stdout, and holds everything until it is killed. Holding a device fd is what
 * makes the kernel's unbind block and what keeps host drivers off the group's hotplugged devices.
 *   --group-fd N   use the group fd N it was given (by vfioctl acquire, in a container already) instead
 *                  of opening the group and a container itself
 *   --close-group  close the group fd (and a container it opened) once it has the device fds: the
 *                  device fds keep the group open in the kernel, but no fd of the process names the
 *                  group any more (an anon_inode:[vfio-device] fd does not say whose device it is)
 *   --map-bar0     map BAR 0 of the first DEVICE, then close every fd: only the mapping holds the
 *                  device (and through it the group)
 *   --cdev-fd N --iommufd-fd M
 *                  instead of a group: bind the VFIO cdev N it was given to the iommufd M (6.6 and
 *                  later), and use it as the device */

#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vfio-compat.h"

static int fail(const char *what) {
        fprintf(stderr, "vfio-hold: %s: %s\n", what, strerror(errno));
        return 1;
}

/* Opens GROUP and a Type1v2 container for it; returns the group fd, the container in *container. */
static int open_group(const char *name, int *container) {
        struct vfio_group_status status = { .argsz = sizeof(status) };
        char path[64];
        int group;

        *container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (*container < 0)
                return -fail("open /dev/vfio/vfio");
        snprintf(path, sizeof(path), "/dev/vfio/%s", name);
        group = open(path, O_RDWR | O_CLOEXEC);
        if (group < 0)
                return -fail(path);
        if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
                return -fail("VFIO_GROUP_GET_STATUS");
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
                fprintf(stderr, "vfio-hold: group %s is not viable\n", name);
                return -1;
        }
        if (ioctl(group, VFIO_GROUP_SET_CONTAINER, container) < 0)
                return -fail("VFIO_GROUP_SET_CONTAINER");
        if (ioctl(*container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
                return -fail("VFIO_SET_IOMMU");
        return group;
}

int main(int argc, char *argv[]) {
        int container = -1, group = -1, close_group = 0, map_bar0 = 0, device = -1, iommufd = -1, i = 1;

        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++)
                if (strcmp(argv[i], "--close-group") == 0)
                        close_group = 1;
                else if (strcmp(argv[i], "--map-bar0") == 0)
                        map_bar0 = close_group = 1;
                else if (strcmp(argv[i], "--group-fd") == 0 && i + 1 < argc)
                        group = atoi(argv[++i]);
                else if (strcmp(argv[i], "--cdev-fd") == 0 && i + 1 < argc)
                        device = atoi(argv[++i]);
                else if (strcmp(argv[i], "--iommufd-fd") == 0 && i + 1 < argc)
                        iommufd = atoi(argv[++i]);
                else
                        break;
        if (device >= 0) {
                struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };

                if (ioctl(device, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0)
                        return fail("VFIO_DEVICE_BIND_IOMMUFD");
                group = -2; /* none: the device is bound already */
        }
        if (group == -1 && i >= argc) {
                fprintf(stderr, "Usage: vfio-hold [--close-group] [--map-bar0] GROUP [DEVICE...]\n"
                                "       vfio-hold [--close-group] [--map-bar0] --group-fd N [DEVICE...]\n"
                                "       vfio-hold [--map-bar0] --cdev-fd N --iommufd-fd M\n");
                return 2;
        }
        if (group == -1) {
                group = open_group(argv[i++], &container);
                if (group < 0)
                        return 1;
        }
        for (; group >= 0 && i < argc; i++) {
                int fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[i]);

                if (fd < 0)
                        return fail(argv[i]);
                if (device < 0)
                        device = fd;
        }
        if (map_bar0) {
                struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };

                if (device < 0 || ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &bar) < 0)
                        return fail("VFIO_DEVICE_GET_REGION_INFO");
                if (!(bar.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
                        fprintf(stderr, "vfio-hold: BAR 0 cannot be mapped\n");
                        return 1;
                }
                if (mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t) bar.offset) == MAP_FAILED)
                        return fail("mmap BAR 0");
                for (int fd = 3; fd < 1024; fd++) /* every fd, the device's among them */
                        close(fd);
        }
        if (close_group && group >= 0) {
                close(group);
                if (container >= 0)
                        close(container);
        }

        printf("ready\n");
        fflush(stdout);
        for (;;)
                pause();
}
