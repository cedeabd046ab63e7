/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the lease table under the runtime directory and the daemon's entries in the service
 * manager's fd store. */

#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sys/epoll.h>
#include <systemd/sd-daemon.h>

#include "container.h"
#include "journal.h"
#include "lease-store.h"
#include "lease.h"
#include "log.h"
#include "macro.h"

#define LEASE_TABLE "leases.json"
/* The service manager's limit for FDNAME= is 255; ours are short. */
#define FD_NAME_MAX 64

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

static void fd_name(char buf[static FD_NAME_MAX], const char *kind, unsigned id) {
        /* "container-3", "lease-5-group", "lease-5-pidfd" */
        if (startswith(kind, "lease-"))
                snprintf(buf, FD_NAME_MAX, "lease-%u-%s", id, kind + strlen("lease-"));
        else
                snprintf(buf, FD_NAME_MAX, "%s-%u", kind, id);
}

void lease_store_push_fd(const char *kind, unsigned id, int fd) {
        char name[FD_NAME_MAX], *state = NULL;
        int r;

        if (fd < 0)
                return;
        fd_name(name, kind, id);
        if (asprintf(&state, "FDSTORE=1\nFDNAME=%s", name) < 0)
                return;
        r = sd_pid_notify_with_fds(0, false, state, &fd, 1);
        free(state);
        if (r < 0)
                log_warning_errno(r, "Cannot hand %s to the service manager's fd store: %m", name);
}

void lease_store_drop_fd(const char *kind, unsigned id) {
        char name[FD_NAME_MAX], *state = NULL;

        fd_name(name, kind, id);
        if (asprintf(&state, "FDSTOREREMOVE=1\nFDNAME=%s", name) < 0)
                return;
        (void) sd_notify(false, state);
        free(state);
}

#define STORE_BARRIER_TIMEOUT_USEC (5 * 1000 * 1000)

struct StoreBarrier {
        sd_event_source *io; /* the read end of the pipe whose write end went with BARRIER=1 */
        sd_event_source *timer;
        store_barrier_done_t done;
        void *userdata;
};

StoreBarrier *lease_store_barrier_free(StoreBarrier *b) {
        if (!b)
                return NULL;
        sd_event_source_disable_unref(b->io);
        sd_event_source_disable_unref(b->timer);
        return mfree(b);
}

static void barrier_done(StoreBarrier *b) {
        b->io = sd_event_source_disable_unref(b->io);
        b->timer = sd_event_source_disable_unref(b->timer);
        b->done(b, b->userdata);
}

static int on_barrier_closed(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        barrier_done(userdata);
        return 0;
}

static int on_barrier_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        log_warning("The service manager did not handle the fd store's messages within %d s; going on.",
                    STORE_BARRIER_TIMEOUT_USEC / 1000000);
        barrier_done(userdata);
        return 0;
}

int lease_store_barrier(sd_event *event, store_barrier_done_t done, void *userdata, StoreBarrier **ret) {
        _cleanup_close_ int read_fd = -EBADF;
        StoreBarrier *b;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        read_fd = fds[0];
        r = sd_pid_notify_with_fds(0, false, "BARRIER=1", &fds[1], 1);
        safe_close(fds[1]);
        if (r <= 0)
                return r; /* no service manager (0), or it cannot be told */

        b = calloc(1, sizeof(StoreBarrier));
        if (!b)
                return -ENOMEM;
        b->done = done;
        b->userdata = userdata;
        /* The read end sees EOF once the service manager closed its copy of the write end. */
        r = sd_event_add_io(event, &b->io, read_fd, EPOLLIN, on_barrier_closed, b);
        if (r >= 0) {
                (void) sd_event_source_set_io_fd_own(b->io, true);
                read_fd = -EBADF;
                r = sd_event_add_time_relative(event, &b->timer, CLOCK_MONOTONIC, STORE_BARRIER_TIMEOUT_USEC, 0,
                                               on_barrier_timeout, b);
        }
        if (r < 0) {
                lease_store_barrier_free(b);
                return r;
        }
        *ret = b;
        return 1;
}

/* ---- writing the table ---- */

static struct json_object *json_container(const Container *c) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_int64(c->id));
        json_object_object_add(o, "owner", json_object_new_string(c->owner));
        json_object_object_add(o, "sharing_key", json_object_new_string(c->sharing_key));
        json_object_object_add(o, "model", json_object_new_string(iommu_model_to_string(c->model)));
        return o;
}

static struct json_object *json_lease(const Lease *l) {
        struct json_object *o = json_object_new_object(), *devices = json_object_new_array();

        if (!o || !devices) {
                json_object_put(o);
                json_object_put(devices);
                return NULL;
        }
        json_object_object_add(o, "id", json_object_new_int64(l->id));
        json_object_object_add(o, "group", json_object_new_int64(l->group));
        json_object_object_add(o, "owner", json_object_new_string(l->owner));
        json_object_object_add(o, "uid", json_object_new_int64(l->uid));
        json_object_object_add(o, "pid", json_object_new_int64(l->pid));
        json_object_object_add(o, "access", json_object_new_string(l->grant ? "grant" : "fd"));
        json_object_object_add(o, "container", json_object_new_int64(l->container ? l->container->id : 0));
        if (l->released)
                json_object_object_add(o, "released", json_object_new_boolean(true));
        for (size_t i = 0; i < l->n_devices; i++)
                json_object_array_add(devices, json_object_new_string(l->device_addresses[i]));
        json_object_object_add(o, "devices", devices);
        return o;
}

static int json_array_add_or_put(struct json_object *a, struct json_object *e) {
        if (!e || json_object_array_add(a, e) < 0) {
                json_object_put(e);
                return -ENOMEM;
        }
        return 0;
}

static struct json_object *json_table(Manager *m) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        struct json_object *containers = json_object_new_array(), *leases = json_object_new_array();

        if (!o || !containers || !leases) {
                json_object_put(containers);
                json_object_put(leases);
                return NULL;
        }
        json_object_object_add(o, "last_lease", json_object_new_int64(m->last_lease_id));
        json_object_object_add(o, "last_container", json_object_new_int64(m->last_container_id));
        json_object_object_add(o, "containers", containers);
        json_object_object_add(o, "leases", leases);
        FOREACH_ARRAY(c, m->containers, m->n_containers)
                if (json_array_add_or_put(containers, json_container(*c)) < 0)
                        return NULL;
        FOREACH_ARRAY(l, m->leases, m->n_leases)
                if (json_array_add_or_put(leases, json_lease(*l)) < 0)
                        return NULL;
        return TAKE_PTR(o);
}

void lease_store_save(Manager *m) {
        _cleanup_(json_object_putp) struct json_object *o = json_table(m);
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/" LEASE_TABLE, m->runtime_dir) < 0 || !o) {
                log_oom();
                return;
        }
        r = json_write_file_atomic(path, o);
        if (r < 0)
                log_warning_errno(r, "Cannot write the lease table %s; a restart would lose the leases: %m", path);
}

/* ---- reading it back ---- */

typedef struct StoredFds {
        int *fds;
        char **names;
        size_t n;
} StoredFds;

/* The fd of that name, taken out of the set (the caller owns it), or -EBADF. */
static int take_fd(StoredFds *s, const char *kind, unsigned id) {
        char name[FD_NAME_MAX];

        fd_name(name, kind, id);
        for (size_t i = 0; i < s->n; i++)
                if (s->fds[i] >= 0 && streq_ptr(s->names[i], name))
                        return TAKE_FD(s->fds[i]);
        return -EBADF;
}

static void stored_fds_drop_rest(StoredFds *s) {
        for (size_t i = 0; i < s->n; i++) {
                char *state = NULL;

                if (s->fds[i] < 0)
                        continue;
                log_info("Closing stored fd '%s', which no lease claims.", strempty(s->names[i]));
                s->fds[i] = safe_close(s->fds[i]);
                if (s->names[i] && asprintf(&state, "FDSTOREREMOVE=1\nFDNAME=%s", s->names[i]) >= 0)
                        (void) sd_notify(false, state);
                free(state);
        }
        free(s->fds);
        strv_free(s->names);
}

static int stored_fds_receive(StoredFds *ret) {
        char **names = NULL;
        int n;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_warning_errno(n, "Cannot read the fds passed by the service manager: %m");
        *ret = (StoredFds){ .names = names, .n = (size_t) n };
        ret->fds = calloc(n ?: 1, sizeof(int));
        if (!ret->fds) {
                for (int i = 0; i < n; i++)
                        safe_close(SD_LISTEN_FDS_START + i);
                strv_free(names);
                return log_oom();
        }
        for (int i = 0; i < n; i++)
                ret->fds[i] = SD_LISTEN_FDS_START + i;
        if (n > 0)
                log_info("The service manager passed back %d stored fds.", n);
        return 0;
}

static bool json_get_uint(struct json_object *o, const char *key, uint64_t max, uint64_t *ret) {
        struct json_object *v;
        int64_t x;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        x = json_object_get_int64(v);
        if (x < 0 || (uint64_t) x > max)
                return false;
        *ret = (uint64_t) x;
        return true;
}

static const char *json_get_string(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* A flag: true only when present and true. */
static bool json_get_flag(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
               json_object_get_boolean(v);
}

static struct json_object *json_get_array(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

static void restore_container(Manager *m, struct json_object *o, StoredFds *fds) {
        const char *owner = json_get_string(o, "owner"), *key = json_get_string(o, "sharing_key"),
                   *model = json_get_string(o, "model");
        IommuModel mdl = model ? iommu_model_from_string(model) : _IOMMU_MODEL_INVALID;
        uint64_t id;
        int r;

        if (!json_get_uint(o, "id", UINT32_MAX, &id) || id == 0 || !owner || !key || mdl < 0) {
                log_warning("Ignoring a malformed container in the lease table.");
                return;
        }
        r = container_restore(m, (unsigned) id, owner, key, mdl, take_fd(fds, "container", (unsigned) id));
        if (r < 0)
                log_warning_errno(r, "Cannot restore container %u: %m", (unsigned) id);
}

static int parse_devices(struct json_object *a, char ***ret) {
        size_t n = a ? json_object_array_length(a) : 0;
        _cleanup_strv_free_ char **l = calloc(n + 1, sizeof(char *));
        char address[PCI_ADDRESS_MAX];

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *v = json_object_array_get_idx(a, i);

                if (!json_object_is_type(v, json_type_string) ||
                    pci_address_parse(json_object_get_string(v), address) < 0)
                        return -EBADMSG;
                l[i] = strdup(address);
                if (!l[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static void restore_lease(Manager *m, struct json_object *o, StoredFds *fds) {
        _cleanup_strv_free_ char **devices = NULL;
        const char *access_mode = json_get_string(o, "access");
        uint64_t id, group, uid, pid, container;
        LeaseRecord rec;
        int r;

        if (!json_get_uint(o, "id", UINT32_MAX, &id) || id == 0 || !json_get_uint(o, "group", UINT32_MAX - 1, &group) ||
            !json_get_uint(o, "uid", UINT32_MAX - 1, &uid) || !json_get_uint(o, "pid", INT32_MAX, &pid) ||
            !json_get_uint(o, "container", UINT32_MAX, &container) || !json_get_string(o, "owner") || !access_mode ||
            (!streq(access_mode, "fd") && !streq(access_mode, "grant")) ||
            parse_devices(json_get_array(o, "devices"), &devices) < 0) {
                log_warning("Ignoring a malformed lease in the lease table.");
                return;
        }
        rec = (LeaseRecord){
                .id = (unsigned) id,
                .group = (uint32_t) group,
                .owner = json_get_string(o, "owner"),
                .uid = (uid_t) uid,
                .pid = (pid_t) pid,
                .grant = streq(access_mode, "grant"),
                .container = (unsigned) container,
                .device_addresses = devices,
                .released = json_get_flag(o, "released"),
        };
        r = lease_restore(m, &rec, take_fd(fds, "lease-group", rec.id), take_fd(fds, "lease-pidfd", rec.id));
        if (r < 0)
                log_warning_errno(r, "Not restoring lease %u of IOMMU group %" PRIu32 ": %m", rec.id, rec.group);
}

static void restore_ids(Manager *m, struct json_object *table) {
        uint64_t x;

        if (json_get_uint(table, "last_lease", UINT32_MAX, &x) && x > m->last_lease_id)
                m->last_lease_id = (unsigned) x;
        if (json_get_uint(table, "last_container", UINT32_MAX, &x) && x > m->last_container_id)
                m->last_container_id = (unsigned) x;
}

static void restore_table(Manager *m, struct json_object *table, StoredFds *fds) {
        struct json_object *containers = json_get_array(table, "containers"), *leases = json_get_array(table, "leases");

        restore_ids(m, table);
        for (size_t i = 0; containers && i < json_object_array_length(containers); i++)
                restore_container(m, json_object_array_get_idx(containers, i), fds);
        for (size_t i = 0; leases && i < json_object_array_length(leases); i++)
                restore_lease(m, json_object_array_get_idx(leases, i), fds);
        /* A container whose leases did not come back has nothing to hold. */
        containers_drop_empty(m);
}

int lease_store_restore(Manager *m) {
        _cleanup_(json_object_putp) struct json_object *table = NULL;
        _cleanup_free_ char *path = NULL;
        StoredFds fds;
        int r;

        r = stored_fds_receive(&fds);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/" LEASE_TABLE, m->runtime_dir) < 0) {
                stored_fds_drop_rest(&fds);
                return log_oom();
        }
        if (access(path, F_OK) >= 0) {
                table = json_object_from_file(path);
                if (table && json_object_is_type(table, json_type_object))
                        restore_table(m, table, &fds);
                else
                        log_warning("Ignoring the unreadable lease table %s.", path);
        }
        stored_fds_drop_rest(&fds);
        if (m->n_leases > 0)
                log_info("Restored %zu leases and %zu containers.", m->n_leases, m->n_containers);
        lease_store_save(m);
        return 0;
}
