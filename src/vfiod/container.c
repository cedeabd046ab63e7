/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the daemon's containers and the rule of which groups share one. */

#include <inttypes.h>

#include "container.h"
#include "lease-store.h"
#include "log.h"
#include "macro.h"
#include "manager-dbus.h"
#include "manager.h"
#include "policy.h"

Container *manager_get_container(Manager *m, unsigned id) {
        FOREACH_ARRAY(c, m->containers, m->n_containers)
                if ((*c)->id == id)
                        return *c;
        return NULL;
}

static Container *container_free(Container *c) {
        if (!c)
                return NULL;
        safe_close(c->fd);
        free(c->owner);
        free(c->sharing_key);
        free(c->groups);
        free(c->ranges);
        return mfree(c);
}

/* id 0: the next free one. */
static int container_new(Manager *m, unsigned id, const char *owner, const char *key, IommuModel model, int fd,
                         Container **ret) {
        Container *c = calloc(1, sizeof(Container)), **a;

        if (!c)
                return -ENOMEM;
        c->fd = fd;
        c->model = model;
        c->owner = strdup(owner);
        c->sharing_key = strdup(key);
        a = reallocarray(m->containers, m->n_containers + 1, sizeof(Container *));
        if (!c->owner || !c->sharing_key || !a) {
                c->fd = -EBADF; /* the caller still owns fd */
                container_free(c);
                return -ENOMEM;
        }
        m->containers = a;
        c->id = id ?: ++m->last_container_id;
        m->containers[m->n_containers++] = c;
        *ret = c;
        return 0;
}

static int container_add_group(Container *c, uint32_t group) {
        uint32_t *a = reallocarray(c->groups, c->n_groups + 1, sizeof(uint32_t));

        if (!a)
                return -ENOMEM;
        c->groups = a;
        c->groups[c->n_groups++] = group;
        return 0;
}

static void container_unlink(Manager *m, Container *c) {
        for (size_t i = 0; i < m->n_containers; i++)
                if (m->containers[i] == c) {
                        memmove(m->containers + i, m->containers + i + 1,
                                (m->n_containers - i - 1) * sizeof(Container *));
                        m->n_containers--;
                        return;
                }
}

/* Sharing is per owner and key; configuration can turn it off. A container restored without its
 * fd (no fd store) cannot take new groups. */
static bool may_share(Manager *m, const Container *c, const char *owner, const char *key, bool iommufd) {
        return !m->policy->per_group_containers && c->fd >= 0 && (c->model == IOMMU_IOMMUFD) == iommufd &&
               streq(c->owner, owner) && streq(c->sharing_key, key);
}

static void announce(Manager *m, Container *c, bool added) {
        _cleanup_free_ char *path = NULL;

        if (m->bus && container_bus_path(c, &path) >= 0)
                (void) (added ? sd_bus_emit_object_added(m->bus, path) : sd_bus_emit_object_removed(m->bus, path));
}

/* A new container is announced once, with its first group in it; one that took another group
 * says what changed. */
static void announce_attached(Manager *m, Container *c) {
        if (c->n_groups == 1)
                announce(m, c, true);
        else if (m->bus)
                container_bus_emit_changed(m, c);
}

static int new_vfio_container(Manager *m, const char *owner, const char *key, uint32_t group, int group_fd,
                              Container **ret) {
        _cleanup_close_ int fd = -EBADF;
        IommuModel model;
        Container *c;
        int r;

        fd = vfio_open_container(m->dev_root);
        if (fd < 0)
                return log_error_errno(fd, "Cannot open the VFIO container device: %m");
        r = vfio_attach_group(group_fd, fd);
        if (r < 0)
                return log_error_errno(r, "Cannot put IOMMU group %" PRIu32 " into a new container: %m", group);
        r = vfio_set_best_model(fd, m->policy->allow_noiommu, &model);
        if (r < 0)
                return log_error_errno(r, "No usable IOMMU model for IOMMU group %" PRIu32 ": %m", group);
        r = container_new(m, 0, owner, key, model, fd, &c);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        lease_store_push_fd("container", c->id, c->fd);
        r = vfio_query_iommu(c->fd, &c->ranges, &c->n_ranges, &c->page_sizes);
        if (r < 0)
                log_warning_errno(r, "Cannot read the IOVA ranges of container %u: %m", c->id);
        log_info("Container %u (%s) for %s, key '%s'.", c->id, iommu_model_to_string(model), owner, key);
        *ret = c;
        return 0;
}

int container_attach_vfio_group(Manager *m, const char *owner, const char *key, uint32_t group, int group_fd,
                                Container **ret) {
        Container *c = NULL;
        int r;

        FOREACH_ARRAY(i, m->containers, m->n_containers) {
                if (!may_share(m, *i, owner, key, false))
                        continue;
                /* The kernel decides: a group whose IOMMU cannot join this domain is refused. */
                r = vfio_attach_group(group_fd, (*i)->fd);
                if (r >= 0) {
                        c = *i;
                        break;
                }
                log_debug_errno(r, "IOMMU group %" PRIu32 " cannot share container %u: %m", group, (*i)->id);
        }
        if (!c) {
                r = new_vfio_container(m, owner, key, group, group_fd, &c);
                if (r < 0)
                        return r;
        }
        r = container_add_group(c, group);
        if (r < 0)
                return r;
        announce_attached(m, c);
        *ret = c;
        return 0;
}

static int cmp_region(const void *a, const void *b) {
        const ReservedRegion *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start;
}

static int push_range(IovaRange **ranges, size_t *n, uint64_t start, uint64_t end) {
        IovaRange *a = reallocarray(*ranges, *n + 1, sizeof(IovaRange));

        if (!a)
                return -ENOMEM;
        a[(*n)++] = (IovaRange){ start, end };
        *ranges = a;
        return 0;
}

/* The gaps between sorted (possibly overlapping) regions, over the whole 64-bit space. */
static int complement_regions(const ReservedRegion *regions, size_t n_regions, IovaRange **ret, size_t *ret_n) {
        IovaRange *ranges = NULL;
        size_t n = 0;
        uint64_t next = 0;
        int r = 0;

        for (size_t i = 0; i < n_regions && r >= 0; i++) {
                if (regions[i].start > next)
                        r = push_range(&ranges, &n, next, regions[i].start - 1);
                if (regions[i].end == UINT64_MAX) {
                        *ret = ranges;
                        *ret_n = n;
                        return r;
                }
                if (regions[i].end + 1 > next)
                        next = regions[i].end + 1;
        }
        if (r >= 0)
                r = push_range(&ranges, &n, next, UINT64_MAX);
        if (r < 0) {
                free(ranges);
                return r;
        }
        *ret = ranges;
        *ret_n = n;
        return 0;
}

/* iommufd reports IOVA ranges per IOAS, which the client allocates; until then the usable space
 * is everything but the groups' reserved regions. */
static int iommufd_ranges(Manager *m, Container *c) {
        _cleanup_free_ ReservedRegion *all = NULL;
        IovaRange *ranges;
        size_t n_all = 0, n;
        int r;

        for (size_t i = 0; i < c->n_groups; i++) {
                Group *g = inventory_get_group(m->inventory, c->groups[i]);
                ReservedRegion *a;

                if (!g || g->n_regions == 0)
                        continue;
                a = reallocarray(all, n_all + g->n_regions, sizeof(ReservedRegion));
                if (!a)
                        return -ENOMEM;
                all = a;
                memcpy(all + n_all, g->regions, g->n_regions * sizeof(ReservedRegion));
                n_all += g->n_regions;
        }
        if (n_all > 0)
                qsort(all, n_all, sizeof(ReservedRegion), cmp_region);
        r = complement_regions(all, n_all, &ranges, &n);
        if (r < 0)
                return r;
        free(c->ranges);
        c->ranges = ranges;
        c->n_ranges = n;
        return 0;
}

int container_attach_iommufd_group(Manager *m, const char *owner, const char *key, uint32_t group, Container **ret) {
        Container *c = NULL;
        int r, fd;

        FOREACH_ARRAY(i, m->containers, m->n_containers)
                if (may_share(m, *i, owner, key, true)) {
                        c = *i;
                        break;
                }
        if (!c) {
                fd = iommufd_open(m->dev_root);
                if (fd < 0)
                        return log_error_errno(fd, "Cannot open /dev/iommu: %m");
                r = container_new(m, 0, owner, key, IOMMU_IOMMUFD, fd, &c);
                if (r < 0) {
                        safe_close(fd);
                        return r;
                }
                lease_store_push_fd("container", c->id, c->fd);
                log_info("Container %u (iommufd) for %s, key '%s'.", c->id, owner, key);
        }
        r = container_add_group(c, group);
        if (r < 0)
                return r;
        (void) iommufd_ranges(m, c);
        announce_attached(m, c);
        *ret = c;
        return 0;
}

void container_detach_group(Manager *m, Container *c, uint32_t group) {
        for (size_t i = 0; i < c->n_groups; i++)
                if (c->groups[i] == group) {
                        memmove(c->groups + i, c->groups + i + 1, (c->n_groups - i - 1) * sizeof(uint32_t));
                        c->n_groups--;
                        break;
                }
        if (c->n_groups > 0) {
                if (c->model == IOMMU_IOMMUFD)
                        (void) iommufd_ranges(m, c);
                if (m->bus)
                        container_bus_emit_changed(m, c);
                return;
        }
        log_info("Container %u is empty, closing it.", c->id);
        announce(m, c, false);
        lease_store_drop_fd("container", c->id);
        container_unlink(m, c);
        container_free(c);
}

int container_restore(Manager *m, unsigned id, const char *owner, const char *key, IommuModel model, int fd) {
        Container *c;
        int r;

        if (manager_get_container(m, id)) {
                safe_close(fd);
                return -EEXIST;
        }
        r = container_new(m, id, owner, key, model, fd, &c);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        if (fd < 0)
                log_notice("Container %u (%s) of %s restored without its fd: it takes no new groups.", id,
                           iommu_model_to_string(model), owner);
        else if (model != IOMMU_IOMMUFD && vfio_query_iommu(c->fd, &c->ranges, &c->n_ranges, &c->page_sizes) < 0)
                log_warning("Cannot read the IOVA ranges of restored container %u.", id);
        return 0;
}

int container_add_restored_group(Manager *m, Container *c, uint32_t group) {
        int r = container_add_group(c, group);

        if (r >= 0 && c->model == IOMMU_IOMMUFD)
                (void) iommufd_ranges(m, c);
        return r;
}

void containers_drop_empty(Manager *m) {
        for (size_t i = m->n_containers; i > 0; i--) {
                Container *c = m->containers[i - 1];

                if (c->n_groups > 0)
                        continue;
                log_info("Container %u has no lease any more, closing it.", c->id);
                lease_store_drop_fd("container", c->id);
                container_unlink(m, c);
                container_free(c);
        }
}

void containers_free_all(Manager *m) {
        FOREACH_ARRAY(c, m->containers, m->n_containers)
                container_free(*c);
        m->containers = mfree(m->containers);
        m->n_containers = 0;
}
