/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Containers: the IOMMU contexts vfiod creates for clients (a VFIO container with its IOMMU model,
 * or an iommufd), and which groups share one: groups an owner acquires under one sharing key go
 * into one container wherever the kernel accepts them. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inventory.h"
#include "vfio.h"

typedef struct Manager Manager;

typedef struct Container {
        unsigned id;
        char *owner; /* the unique bus name it was made for */
        char *sharing_key; /* "" is the owner's default container */
        IommuModel model;
        int fd; /* /dev/vfio/vfio or /dev/iommu */
        uint32_t *groups;
        size_t n_groups;
        IovaRange *ranges;
        size_t n_ranges;
        uint64_t page_sizes;
} Container;

/* Legacy VFIO: attach group_fd to a container of (owner, key) that takes it, or to a new one
 * with the best IOMMU model. */
int container_attach_vfio_group(Manager *m, const char *owner, const char *key, uint32_t group, int group_fd,
                                Container **ret);

/* iommufd: the iommufd of (owner, key), opened on first use. */
int container_attach_iommufd_group(Manager *m, const char *owner, const char *key, uint32_t group, Container **ret);

/* The group leaves; an empty container is closed and freed. */
void container_detach_group(Manager *m, Container *c, uint32_t group);

/* After a restart (lease-store.c): a container as the lease table describes it, with the fd the
 * service manager kept (-EBADF when there was none: shown, but takes no new groups); its groups
 * come back with their leases; those left empty are closed. */
int container_restore(Manager *m, unsigned id, const char *owner, const char *key, IommuModel model, int fd);
int container_add_restored_group(Manager *m, Container *c, uint32_t group);
void containers_drop_empty(Manager *m);

Container *manager_get_container(Manager *m, unsigned id);
int container_bus_path(const Container *c, char **ret);
void containers_free_all(Manager *m);
