/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: finding the processes that hold VFIO nodes open. */

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "holders.h"
#include "macro.h"
#include "process.h"
#include "sysfs.h"

/* A node we look for: its path, and its device number (0 when it could not be read). */
typedef struct Node {
        const char *path;
        const char *base;
        dev_t rdev;
} Node;

static void nodes_init(Node *nodes, char *const *paths, size_t n_paths) {
        for (size_t i = 0; i < n_paths; i++) {
                struct stat st;
                const char *slash = strrchr(paths[i], '/');

                nodes[i] = (Node){ .path = paths[i], .base = slash ? slash + 1 : paths[i] };
                if (stat(paths[i], &st) >= 0 && S_ISCHR(st.st_mode))
                        nodes[i].rdev = st.st_rdev;
        }
}

static bool ends_with_component(const char *s, const char *base) {
        size_t n = strlen(s), b = strlen(base);

        return n > b && s[n - b - 1] == '/' && streq(s + n - b, base);
}

/* The "mnt_id:" of /proc/PID/fdinfo/FD: the mount the fd's file is on. */
static int fd_mount_id(const char *proc_dir, const char *fd, unsigned *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *line;
        int r;

        if (asprintf(&path, "%s/fdinfo/%s", proc_dir, fd) < 0)
                return -ENOMEM;
        r = read_full_file(path, &text);
        if (r < 0)
                return r;
        line = strstr(text, "mnt_id:");
        if (!line || sscanf(line + strlen("mnt_id:"), "%u", ret) != 1)
                return -EBADMSG;
        return 0;
}

/* Whether mount id, as the process's /proc/PID/mountinfo lists it ("ID PARENT MAJ:MIN ROOT POINT
 * OPTIONS... - TYPE ..."), is a devtmpfs or tmpfs, where device nodes live (the /dev of any mount
 * namespace): 1 or 0, or -ENOENT when the process's namespace has no such mount (the fd was opened
 * in another one and passed on, like the daemon's own before a restart under its unit). */
static int mount_holds_device_nodes(const char *proc_dir, unsigned id) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/mountinfo", proc_dir) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        while (f && getline(&line, &size, f) > 0) {
                const char *sep = strstr(line, " - ");
                unsigned this;
                char type[32];

                if (sscanf(line, "%u", &this) != 1 || this != id)
                        continue;
                return sep && sscanf(sep + 3, "%31s", type) == 1 && (streq(type, "devtmpfs") || streq(type, "tmpfs"));
        }
        return -ENOENT;
}

/* A file opened in another mount namespace (a daemon before its restart, under a unit with
 * its own namespace) may read back under another path; the device number still names it. But
 * stat() through the fd reaches the file's filesystem, which may hang (a FUSE file named by
 * whoever runs it, a dead NFS server): an fd with the node's name is looked at only when /proc
 * (without touching the file) does not say it is on a mount other than a devtmpfs or tmpfs. A
 * mount of another namespace cannot be told from here, and is looked at. */
static bool fd_is_node(const char *proc_dir, const char *fd, const char *link, const char *target, const Node *node) {
        unsigned mount;
        struct stat st;

        if (streq(target, node->path))
                return true;
        if (node->rdev == 0 || !ends_with_component(target, node->base))
                return false;
        if (fd_mount_id(proc_dir, fd, &mount) >= 0 && mount_holds_device_nodes(proc_dir, mount) == 0)
                return false;
        return stat(link, &st) >= 0 && S_ISCHR(st.st_mode) && st.st_rdev == node->rdev;
}

/* proc_dir: /proc/PID. */
static bool fd_targets_any(const char *proc_dir, const Node *nodes, size_t n_nodes) {
        _cleanup_free_ char *fd_dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (asprintf(&fd_dir, "%s/fd", proc_dir) < 0)
                return false;
        d = opendir(fd_dir);
        while (d && (de = readdir(d))) {
                char link[PATH_MAX], target[PATH_MAX];
                ssize_t k;

                if (de->d_name[0] == '.' ||
                    snprintf(link, sizeof(link), "%s/%s", fd_dir, de->d_name) >= (int) sizeof(link))
                        continue;
                k = readlink(link, target, sizeof(target) - 1);
                if (k < 0)
                        continue; /* the fd closed, or the process went */
                target[k] = '\0';
                for (size_t i = 0; i < n_nodes; i++)
                        if (fd_is_node(proc_dir, de->d_name, link, target, &nodes[i]))
                                return true;
        }
        return false;
}

static void read_comm(const char *proc_root, pid_t pid, char comm[static 16]) {
        _cleanup_free_ char *path = NULL, *text = NULL;

        comm[0] = '\0';
        if (asprintf(&path, "%s/%d/comm", proc_root, (int) pid) < 0 || read_full_file(path, &text) < 0)
                return;
        text[strcspn(text, "\n")] = '\0';
        snprintf(comm, 16, "%s", text);
}

Holder *holders_free(Holder *holders) {
        for (Holder *h = holders; h && h->pid != 0; h++)
                safe_close(h->pidfd);
        free(holders);
        return NULL;
}

/* Whether a line of /proc/PID/maps maps one of the nodes: a BAR mapped from a VFIO cdev shows the
 * cdev's path, which outlives the fd it was mapped from. */
static bool maps_line_names_node(const char *line, const Node *nodes, size_t n_nodes) {
        const char *slash = strchr(line, '/');
        size_t n;

        if (!slash)
                return false;
        n = strcspn(slash, "\n");
        for (size_t i = 0; i < n_nodes; i++)
                if (strlen(nodes[i].path) == n && strncmp(slash, nodes[i].path, n) == 0)
                        return true;
        return false;
}

/* Whether a line maps a legacy VFIO device fd (anonymous: it names no device); with bars, only
 * one whose offset ("START-END PERMS OFFSET DEV INODE PATH") lies in one of them. */
static bool maps_line_is_vfio_device(const char *line, const PciBar *bars, size_t n_bars) {
        uint64_t offset;

        if (!strstr(line, " anon_inode:[vfio-device]"))
                return false;
        if (!bars)
                return true;
        if (sscanf(line, "%*s %*s %" SCNx64, &offset) != 1)
                return false;
        for (size_t i = 0; i < n_bars; i++)
                if (offset >= bars[i].start && offset <= bars[i].end)
                        return true;
        return false;
}

/* Whether proc_dir/maps has a mapping that names one of the nodes or lies in one of the bars (bars
 * NULL: any legacy VFIO device mapping). */
static bool maps_hold(const char *proc_dir, const Node *nodes, size_t n_nodes, const PciBar *bars, size_t n_bars) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/maps", proc_dir) < 0)
                return false;
        f = fopen(path, "re");
        while (f && getline(&line, &size, f) > 0)
                if (maps_line_names_node(line, nodes, n_nodes) || maps_line_is_vfio_device(line, bars, n_bars))
                        return true;
        return false;
}

typedef bool (*process_match_t)(const char *proc_dir, const void *userdata);

typedef struct TargetNodes {
        const Node *nodes;
        size_t n_nodes;
        const HolderTargets *targets;
} TargetNodes;

static bool match_targets(const char *proc_dir, const void *userdata) {
        const TargetNodes *t = userdata;
        /* No bars: no anonymous mapping can be told to be the group's. */
        static const PciBar none[1];

        return fd_targets_any(proc_dir, t->nodes, t->n_nodes) ||
               maps_hold(proc_dir, t->nodes, t->n_nodes, t->targets->bars ?: none, t->targets->n_bars);
}

static bool match_vfio_device_user(const char *proc_dir, const void *userdata) {
        const Node device = { .path = "anon_inode:[vfio-device]" };

        return fd_targets_any(proc_dir, &device, 1) || maps_hold(proc_dir, NULL, 0, NULL, 0);
}

/* Every process but ourselves and the service manager that match() says yes to, each alive after
 * it was looked at, with the pidfd opened before. */
static int scan_processes(const char *proc_root, process_match_t match, const void *userdata, Holder **ret,
                          size_t *ret_n) {
        _cleanup_closedir_ DIR *d = opendir(proc_root);
        _cleanup_(holders_freep) Holder *holders = calloc(1, sizeof(Holder));
        pid_t self = getpid();
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return negative_errno();
        if (!holders)
                return -ENOMEM;
        while ((de = readdir(d))) {
                _cleanup_close_ int pidfd = -EBADF;
                char proc_dir[PATH_MAX];
                Holder *a;
                pid_t pid;

                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                pid = (pid_t) atoi(de->d_name);
                /* Not holders: ourselves, and the service manager, whose fd store keeps the
                 * daemon's own references across restarts. */
                if (pid == self || pid == 1)
                        continue;
                /* The pidfd first: should the pid be reused while its fds are read, the
                 * pidfd's process is dead by the end, and what was read is not believed. */
                pidfd = process_pidfd_open(pid);
                if (pidfd < 0)
                        continue; /* gone */
                snprintf(proc_dir, sizeof(proc_dir), "%s/%s", proc_root, de->d_name);
                if (!match(proc_dir, userdata) || !process_alive(pidfd))
                        continue;
                a = reallocarray(holders, n + 2, sizeof(Holder));
                if (!a)
                        return -ENOMEM;
                holders = a;
                holders[n] = (Holder){ .pid = pid, .pidfd = TAKE_FD(pidfd) };
                read_comm(proc_root, pid, holders[n].comm);
                holders[++n] = (Holder){};
        }
        *ret = TAKE_PTR(holders);
        *ret_n = n;
        return 0;
}

void holder_targets_done(HolderTargets *t) {
        strv_free(t->paths);
        free(t->bars);
        *t = (HolderTargets){};
}

int holders_scan(const char *proc_root, const HolderTargets *t, Holder **ret, size_t *ret_n) {
        _cleanup_free_ Node *nodes = NULL;

        if (t->n_paths == 0 && t->n_bars == 0) {
                *ret = calloc(1, sizeof(Holder));
                *ret_n = 0;
                return *ret ? 0 : -ENOMEM;
        }
        nodes = calloc(t->n_paths + 1, sizeof(Node));
        if (!nodes)
                return -ENOMEM;
        nodes_init(nodes, t->paths, t->n_paths);
        return scan_processes(proc_root, match_targets,
                              &(TargetNodes){ .nodes = nodes, .n_nodes = t->n_paths, .targets = t }, ret, ret_n);
}

int holders_scan_vfio_device_users(const char *proc_root, Holder **ret, size_t *ret_n) {
        return scan_processes(proc_root, match_vfio_device_user, NULL, ret, ret_n);
}

bool holders_process_holds_vfio_device(const char *proc_root, pid_t pid, int pidfd) {
        char proc_dir[PATH_MAX];
        const Node device = { .path = "anon_inode:[vfio-device]" };

        if (pid <= 0 || pidfd < 0)
                return false;
        snprintf(proc_dir, sizeof(proc_dir), "%s/%d", proc_root, (int) pid);
        return fd_targets_any(proc_dir, &device, 1) && process_alive(pidfd);
}
