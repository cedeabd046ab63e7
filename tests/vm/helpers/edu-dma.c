/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edu-dma: an example VFIO user of vfiod's leases: drives QEMU's edu device (registers, factorial, DMA
 * both ways through the IOMMU) with nothing but the fds `vfioctl acquire` passed it in the environment. */

/*
 * Usage: vfioctl acquire ADDRESS -- edu-dma ADDRESS
 *
 * Legacy VFIO: VFIOD_FD_CONTAINER and VFIOD_FD_GROUP (or "container" and "group:<N>" in VFIOD_FDS);
 * the device fd comes from VFIO_GROUP_GET_DEVICE_FD on the group fd. iommufd: VFIOD_FD_IOMMUFD (or
 * "iommufd") and "device:<ADDRESS>" from VFIOD_FDS, an unbound cdev fd that this program binds and
 * attaches to an IOAS of its own. It never opens /dev/vfio or /dev/iommu itself.
 *
 * Prints one line per step, "edu-dma: STEP: ok (...)" or "edu-dma: STEP: FAILED (...)", and exits 0
 * only if every step passed.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* The bookworm headers (linux-libc-dev 6.1) have neither <linux/iommufd.h> nor the VFIO cdev ioctls,
 * both uAPI since 6.6. These are the few definitions used below, as in the upstream headers; newer
 * headers are used instead when present. */
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#else
#define IOMMUFD_TYPE     (';')
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, 0x81)
#define IOMMU_IOAS_MAP   _IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, 0x86)
struct iommu_ioas_alloc {
        __u32 size;
        __u32 flags;
        __u32 out_ioas_id;
};
enum iommufd_ioas_map_flags {
        IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
        IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
        IOMMU_IOAS_MAP_READABLE = 1 << 2,
};
struct iommu_ioas_map {
        __u32 size;
        __u32 flags;
        __u32 ioas_id;
        __u32 __reserved;
        __aligned_u64 user_va;
        __aligned_u64 length;
        __aligned_u64 iova;
};
struct iommu_ioas_unmap {
        __u32 size;
        __u32 ioas_id;
        __aligned_u64 iova;
        __aligned_u64 length;
};
#endif

#include "vfio-compat.h"

/* QEMU's edu (hw/misc/edu.c): BAR0 registers. */
#define EDU_ID          0x00 /* reads 0x010000ed (version 1.0, "ed") */
#define EDU_LIVENESS    0x04 /* reads back the inverse of what was written */
#define EDU_FACTORIAL   0x08 /* write n, read n! once the status says done */
#define EDU_STATUS      0x20 /* bit 0: computing */
#define EDU_DMA_SRC     0x80 /* 64-bit */
#define EDU_DMA_DST     0x88
#define EDU_DMA_COUNT   0x90
#define EDU_DMA_CMD     0x98 /* bit 0 start (clears when done), bit 1 direction: set = EDU to RAM */
#define EDU_BUFFER      0x40000 /* edu's internal DMA buffer, 4 KiB, as the device addresses it */
#define EDU_BUFFER_SIZE 4096
/* Less than the whole buffer: QEMU 7.2 takes a transfer that ends exactly at the buffer's end for an
 * overflow and stops the whole VM (hw_error); later versions fixed the comparison. */
#define TRANSFER_SIZE 2048

#define EDU_ID_VALUE         0x010000edu
#define EDU_STATUS_COMPUTING 0x1
#define EDU_CMD_START        0x1
#define EDU_CMD_TO_RAM       0x2

/* Two IOVAs well inside the usable range: below edu's default 28-bit DMA mask, clear of the MSI
 * window at 0xfee00000 and of the low 1 MiB some platforms reserve. */
#define IOVA_TO_DEVICE   0x100000
#define IOVA_FROM_DEVICE 0x200000

static bool failed = false;

static void step(bool good, const char *name, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void step(bool good, const char *name, const char *format, ...) {
        va_list ap;

        printf("edu-dma: %s: %s (", name, good ? "ok" : "FAILED");
        va_start(ap, format);
        vprintf(format, ap);
        va_end(ap);
        printf(")\n");
        fflush(stdout);
        if (!good)
                failed = true;
}

/* A failed step that ends the run: what is left depends on it. */
static int give_up(const char *name, const char *what) {
        step(false, name, "%s: %s", what, strerror(errno));
        return 1;
}

/* Looks NAME up in VFIOD_FDS ("name=fd name=fd ..."); -1 if it is not there. */
static int fd_from_list(const char *name) {
        const char *list = getenv("VFIOD_FDS");
        size_t l = strlen(name);

        for (const char *p = list; p && *p;) {
                const char *end = strchrnul(p, ' ');

                if ((size_t) (end - p) > l && strncmp(p, name, l) == 0 && p[l] == '=')
                        return atoi(p + l + 1);
                p = *end ? end + 1 : end;
        }
        return -1;
}

/* The single-target variable if set, else the name in VFIOD_FDS. */
static int fd_from_env(const char *variable, const char *name) {
        const char *v = getenv(variable);

        return v && *v ? atoi(v) : fd_from_list(name);
}

static uint32_t rd32(volatile uint8_t *bar, unsigned off) {
        return *(volatile uint32_t *) (bar + off);
}

static void wr32(volatile uint8_t *bar, unsigned off, uint32_t v) {
        *(volatile uint32_t *) (bar + off) = v;
}

static void wr64(volatile uint8_t *bar, unsigned off, uint64_t v) {
        *(volatile uint64_t *) (bar + off) = v;
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Polls until (reg & mask) == 0; edu's factorial thread and DMA timer (100 ms of virtual time) are
 * slow under TCG, so allow a generous 10 s. */
static bool wait_clear(volatile uint8_t *bar, unsigned off, uint32_t mask) {
        uint64_t deadline = now_ms() + 10000;

        while (rd32(bar, off) & mask) {
                if (now_ms() > deadline)
                        return false;
                usleep(1000);
        }
        return true;
}

typedef struct Dma {
        bool iommufd;
        int container; /* legacy */
        int iommufd_fd;
        uint32_t ioas;
} Dma;

static int dma_map(const Dma *d, void *buffer, uint64_t iova, size_t size) {
        if (d->iommufd) {
                struct iommu_ioas_map map = {
                        .size = sizeof(map),
                        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
                        .ioas_id = d->ioas,
                        .user_va = (uintptr_t) buffer,
                        .length = size,
                        .iova = iova,
                };
                return ioctl(d->iommufd_fd, IOMMU_IOAS_MAP, &map);
        } else {
                struct vfio_iommu_type1_dma_map map = {
                        .argsz = sizeof(map),
                        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                        .vaddr = (uintptr_t) buffer,
                        .iova = iova,
                        .size = size,
                };
                return ioctl(d->container, VFIO_IOMMU_MAP_DMA, &map);
        }
}

static void dma_unmap(const Dma *d, uint64_t iova, size_t size) {
        if (d->iommufd) {
                struct iommu_ioas_unmap unmap = {
                        .size = sizeof(unmap), .ioas_id = d->ioas, .iova = iova, .length = size
                };
                (void) ioctl(d->iommufd_fd, IOMMU_IOAS_UNMAP, &unmap);
        } else {
                struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap), .iova = iova, .size = size };
                (void) ioctl(d->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
        }
}

/* Legacy: the group fd gives the device fd. vfiod normally hands the group over already in its
 * container with the IOMMU model set; a group that is not is put into the container here. */
static int open_legacy(const char *address, int container, int group, int *ret_device) {
        struct vfio_group_status status = { .argsz = sizeof(status) };
        const char *how = "by vfiod";
        int device = -1;

        if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
                return give_up("group", "VFIO_GROUP_GET_STATUS");
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
                step(false, "group", "not viable (flags 0x%x)", status.flags);
                return 1;
        }
        if (!(status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET)) {
                if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
                        return give_up("group", "VFIO_GROUP_SET_CONTAINER");
                if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
                        return give_up("group", "VFIO_SET_IOMMU");
                how = "here";
        }
        step(true, "group", "viable, in its container (set %s)", how);

        device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, address);
        if (device < 0)
                return give_up("device fd", "VFIO_GROUP_GET_DEVICE_FD");
        step(true, "device fd", "VFIO_GROUP_GET_DEVICE_FD %s", address);
        *ret_device = device;
        return 0;
}

/* iommufd: bind the cdev, give it an IOAS of our own, attach. */
static int open_iommufd(int iommufd, int device, uint32_t *ret_ioas) {
        struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
        struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
        struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };

        if (ioctl(device, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0)
                return give_up("bind", "VFIO_DEVICE_BIND_IOMMUFD");
        step(true, "bind", "VFIO_DEVICE_BIND_IOMMUFD, device id %" PRIu32, (uint32_t) bind.out_devid);
        if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc) < 0)
                return give_up("ioas", "IOMMU_IOAS_ALLOC");
        attach.pt_id = alloc.out_ioas_id;
        if (ioctl(device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) < 0)
                return give_up("attach", "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
        step(true, "attach", "IOAS %" PRIu32 ", page table %" PRIu32, (uint32_t) alloc.out_ioas_id,
             (uint32_t) attach.pt_id);
        *ret_ioas = alloc.out_ioas_id;
        return 0;
}

/* vfio-pci leaves bus mastering to the user, and edu's DMA goes nowhere without it. */
static int enable_bus_master(int device) {
        struct vfio_region_info config = { .argsz = sizeof(config), .index = VFIO_PCI_CONFIG_REGION_INDEX };
        uint16_t command;

        if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &config) < 0)
                return give_up("bus master", "VFIO_DEVICE_GET_REGION_INFO (config)");
        if (pread(device, &command, sizeof(command), (off_t) config.offset + 0x04) != sizeof(command))
                return give_up("bus master", "read PCI_COMMAND");
        command |= 0x2 | 0x4; /* memory space, bus master */
        if (pwrite(device, &command, sizeof(command), (off_t) config.offset + 0x04) != sizeof(command))
                return give_up("bus master", "write PCI_COMMAND");
        step(true, "bus master", "PCI_COMMAND 0x%04x", command);
        return 0;
}

static void exercise_registers(volatile uint8_t *bar) {
        uint32_t v;

        v = rd32(bar, EDU_ID);
        step(v == EDU_ID_VALUE, "identification", "0x%08" PRIx32, v);

        wr32(bar, EDU_LIVENESS, 0x12345678);
        v = rd32(bar, EDU_LIVENESS);
        step(v == (uint32_t) ~0x12345678u, "liveness", "0x12345678 -> 0x%08" PRIx32, v);

        wr32(bar, EDU_FACTORIAL, 10);
        if (!wait_clear(bar, EDU_STATUS, EDU_STATUS_COMPUTING)) {
                step(false, "factorial", "still computing after 10 s");
                return;
        }
        v = rd32(bar, EDU_FACTORIAL);
        step(v == 3628800, "factorial", "10! = %" PRIu32, v);
}

static int run_dma(const Dma *d, volatile uint8_t *bar) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE), size = EDU_BUFFER_SIZE > page ? EDU_BUFFER_SIZE : page;
        uint8_t *out, *in;
        size_t differ = 0;
        int r = 0;

        out = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        in = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (out == MAP_FAILED || in == MAP_FAILED)
                return give_up("dma map", "mmap");
        for (size_t i = 0; i < TRANSFER_SIZE; i++)
                out[i] = (uint8_t) (i * 7 + 0x5a);
        memset(in, 0, size);

        if (dma_map(d, out, IOVA_TO_DEVICE, size) < 0)
                return give_up("dma map", "map of the outgoing buffer (RLIMIT_MEMLOCK?)");
        if (dma_map(d, in, IOVA_FROM_DEVICE, size) < 0) {
                r = give_up("dma map", "map of the incoming buffer (RLIMIT_MEMLOCK?)");
                goto unmap_out;
        }
        step(true, "dma map", "2 x %zu bytes at IOVA 0x%x and 0x%x", size, IOVA_TO_DEVICE, IOVA_FROM_DEVICE);

        /* RAM -> edu: direction bit clear. */
        wr64(bar, EDU_DMA_SRC, IOVA_TO_DEVICE);
        wr64(bar, EDU_DMA_DST, EDU_BUFFER);
        wr64(bar, EDU_DMA_COUNT, TRANSFER_SIZE);
        wr64(bar, EDU_DMA_CMD, EDU_CMD_START);
        if (!wait_clear(bar, EDU_DMA_CMD, EDU_CMD_START)) {
                step(false, "dma ram->edu", "transfer did not finish in 10 s");
                goto unmap;
        }
        step(true, "dma ram->edu", "%d bytes from IOVA 0x%x", TRANSFER_SIZE, IOVA_TO_DEVICE);

        /* edu -> RAM, into the other buffer. */
        wr64(bar, EDU_DMA_SRC, EDU_BUFFER);
        wr64(bar, EDU_DMA_DST, IOVA_FROM_DEVICE);
        wr64(bar, EDU_DMA_COUNT, TRANSFER_SIZE);
        wr64(bar, EDU_DMA_CMD, EDU_CMD_START | EDU_CMD_TO_RAM);
        if (!wait_clear(bar, EDU_DMA_CMD, EDU_CMD_START)) {
                step(false, "dma edu->ram", "transfer did not finish in 10 s");
                goto unmap;
        }
        for (size_t i = 0; i < TRANSFER_SIZE; i++)
                differ += in[i] != out[i];
        step(differ == 0, "dma edu->ram", "%d bytes to IOVA 0x%x, %zu differ", TRANSFER_SIZE, IOVA_FROM_DEVICE, differ);

unmap:
        dma_unmap(d, IOVA_FROM_DEVICE, size);
unmap_out:
        dma_unmap(d, IOVA_TO_DEVICE, size);
        munmap(out, size);
        munmap(in, size);
        return r;
}

int main(int argc, char *argv[]) {
        struct vfio_device_info info = { .argsz = sizeof(info) };
        struct vfio_region_info bar0 = { .argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX };
        char address[32], name[48];
        Dma dma = { .container = -1, .iommufd_fd = -1 };
        volatile uint8_t *bar;
        int device = -1;

        if (argc != 2) {
                fprintf(stderr, "Usage: vfioctl acquire ADDRESS -- %s ADDRESS\n", argv[0]);
                return 2;
        }
        /* vfiod names devices as sysfs does: with the domain. */
        snprintf(address, sizeof(address), "%s%s", strlen(argv[1]) == 7 ? "0000:" : "", argv[1]);

        dma.iommufd_fd = fd_from_env("VFIOD_FD_IOMMUFD", "iommufd");
        if (dma.iommufd_fd >= 0) {
                snprintf(name, sizeof(name), "device:%s", address);
                device = fd_from_list(name);
                if (device < 0) {
                        step(false, "fds", "iommufd %d but no %s in VFIOD_FDS='%s'", dma.iommufd_fd, name,
                             getenv("VFIOD_FDS") ?: "");
                        return 1;
                }
                dma.iommufd = true;
                step(true, "fds", "iommufd: iommufd %d, device %d", dma.iommufd_fd, device);
                if (open_iommufd(dma.iommufd_fd, device, &dma.ioas) != 0)
                        return 1;
        } else {
                int group = fd_from_env("VFIOD_FD_GROUP", "group");

                dma.container = fd_from_env("VFIOD_FD_CONTAINER", "container");
                if (group < 0) {
                        /* Several targets: the group fd is "group:<N>", N from sysfs. */
                        char link[PATH_MAX], path[128];
                        ssize_t n;

                        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", address);
                        n = readlink(path, link, sizeof(link) - 1);
                        if (n > 0) {
                                link[n] = '\0';
                                snprintf(name, sizeof(name), "group:%s", strrchr(link, '/') + 1);
                                group = fd_from_list(name);
                        }
                }
                if (dma.container < 0 || group < 0) {
                        step(false, "fds", "no container and group fds in the environment (VFIOD_FDS='%s')",
                             getenv("VFIOD_FDS") ?: "");
                        return 1;
                }
                step(true, "fds", "legacy: container %d, group %d", dma.container, group);
                if (open_legacy(address, dma.container, group, &device) != 0)
                        return 1;
        }

        if (ioctl(device, VFIO_DEVICE_GET_INFO, &info) < 0)
                return give_up("device info", "VFIO_DEVICE_GET_INFO");
        step((info.flags & VFIO_DEVICE_FLAGS_PCI) && info.num_regions > VFIO_PCI_CONFIG_REGION_INDEX, "device info",
             "flags 0x%x, %u regions, %u irqs", info.flags, info.num_regions, info.num_irqs);

        if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &bar0) < 0)
                return give_up("bar0", "VFIO_DEVICE_GET_REGION_INFO");
        if (!(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) || bar0.size < EDU_BUFFER + EDU_BUFFER_SIZE) {
                step(false, "bar0", "flags 0x%x, size 0x%llx: not an mmappable edu BAR", bar0.flags,
                     (unsigned long long) bar0.size);
                return 1;
        }
        bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t) bar0.offset);
        if (bar == MAP_FAILED)
                return give_up("bar0", "mmap");
        step(true, "bar0", "%llu bytes mapped", (unsigned long long) bar0.size);

        if (enable_bus_master(device) != 0)
                return 1;
        exercise_registers(bar);
        if (run_dma(&dma, bar) != 0)
                return 1;

        munmap((void *) bar, bar0.size);
        close(device);
        printf("edu-dma: %s\n", failed ? "FAILED" : "all ok");
        return failed ? 1 : 0;
}
