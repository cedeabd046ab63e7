/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Holder discovery (holders.c) over a /proc stand-in whose pids are live children of the
 * test: an fd is on a node when its link reads back as the node's path, or, read back under
 * another path (opened in another mount namespace), when it is the same character device; a
 * file of the same name is not, nor one on a mount that is not a devtmpfs or tmpfs (a stat() there
 * could hang); the service manager (pid 1) is never a holder, nor a pid whose
 * process is gone (its pidfd cannot be opened, or is dead after the read). Each holder comes
 * with a pidfd of its own process. A mapping of a legacy VFIO device fd is a holder when its maps
 * offset lies in one of the group's BARs (6.1 shows the physical address there, 6.12 shows 0);
 * any VFIO device fd or mapping makes a candidate. */

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "holders.h"
#include "macro.h"
#include "process.h"
#include "sysfs.h"
#include "tests.h"
#include "tmpdir.h"

static char *dir;
static pid_t children[8];
static size_t n_children;

static void cleanup_case(void) {
        dir = tmpdir_remove(dir);
        for (size_t i = 0; i < n_children; i++) {
                kill(children[i], SIGKILL);
                (void) waitpid(children[i], NULL, 0);
        }
        n_children = 0;
}

/* A live process (a child that waits to be killed), as a pid string for the stand-in. */
static const char *live_pid(char buf[static 16]) {
        pid_t pid = fork();

        check(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        check(n_children < ELEMENTSOF(children));
        children[n_children++] = pid;
        snprintf(buf, 16, "%d", (int) pid);
        return buf;
}

/* The pid of a process that has exited and been reaped. */
static const char *dead_pid(char buf[static 16]) {
        pid_t pid = fork();

        check(pid >= 0);
        if (pid == 0)
                _exit(0);
        check_int(waitpid(pid, NULL, 0), ==, pid);
        snprintf(buf, 16, "%d", (int) pid);
        return buf;
}

/* proc/PID/fd/FD -> target, and proc/PID/comm. */
static void add_fd(const char *pid, const char *fd, const char *target) {
        _cleanup_free_ char *comm = NULL, *link = NULL, *fd_dir = NULL;

        check(asprintf(&comm, "proc/%s/comm", pid) > 0);
        check_int(tmpdir_write(dir, comm, "holder\n"), ==, 0);
        check(asprintf(&fd_dir, "%s/proc/%s/fd", dir, pid) > 0);
        check(mkdir(fd_dir, 0755) >= 0 || errno == EEXIST);
        check(asprintf(&link, "%s/%s", fd_dir, fd) > 0);
        check_int(symlink(target, link), ==, 0);
}

/* proc/PID/fdinfo/FD names mount id, and proc/PID/mountinfo says that mount's type (fstype NULL:
 * it does not list that mount). */
static void set_fd_mount(const char *pid, const char *fd, unsigned id, const char *fstype) {
        _cleanup_free_ char *fdinfo = NULL, *text = NULL, *path = NULL, *relative = NULL, *old = NULL, *lines = NULL;

        check(asprintf(&fdinfo, "proc/%s/fdinfo/%s", pid, fd) > 0);
        check(asprintf(&text, "pos:\t0\nflags:\t02\nmnt_id:\t%u\nino:\t5\n", id) > 0);
        check_int(tmpdir_write(dir, fdinfo, text), ==, 0);
        if (!fstype)
                return;
        check(asprintf(&relative, "proc/%s/mountinfo", pid) > 0);
        check(asprintf(&path, "%s/%s", dir, relative) > 0);
        (void) read_full_file(path, &old);
        check(asprintf(&lines, "%s%u 1 0:5 / /dev rw,nosuid - %s dev rw\n", old ?: "", id, fstype) > 0);
        check_int(tmpdir_write(dir, relative, lines), ==, 0);
}

static bool has_pid(const Holder *h, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (h[i].pid == pid)
                        return true;
        return false;
}

/* proc/PID/maps, as the kernel writes it. */
static void set_maps(const char *pid, const char *text) {
        _cleanup_free_ char *maps = NULL, *comm = NULL;

        check(asprintf(&comm, "proc/%s/comm", pid) > 0);
        check_int(tmpdir_write(dir, comm, "mapper\n"), ==, 0);
        check(asprintf(&maps, "proc/%s/maps", pid) > 0);
        check_int(tmpdir_write(dir, maps, text), ==, 0);
}

static void scan_bars(char *const *paths, size_t n_paths, const PciBar *bars, size_t n_bars, Holder **ret,
                      size_t *ret_n) {
        _cleanup_free_ char *proc = NULL;
        HolderTargets t = { .paths = (char **) paths, .n_paths = n_paths, .bars = (PciBar *) bars, .n_bars = n_bars };

        check(asprintf(&proc, "%s/proc", dir) > 0);
        check_int(holders_scan(proc, &t, ret, ret_n), ==, 0);
}

static void scan(char *const *paths, size_t n_paths, Holder **ret, size_t *ret_n) {
        scan_bars(paths, n_paths, NULL, 0, ret, ret_n);
}

static void test_same_path_and_same_device(void) {
        _cleanup_free_ char *regular = NULL;
        _cleanup_(holders_freep) Holder *h = NULL;
        char *const paths[] = { (char *) "/dev/null" };
        char a[16], b[16], c[16], d[16], e[16], f[16], g[16], gone[16];
        size_t n = 0;

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        check_int(tmpdir_write(dir, "null", "not a device\n"), ==, 0);
        check(asprintf(&regular, "%s/null", dir) > 0);
        add_fd(live_pid(a), "3", "/dev/null");
        add_fd(live_pid(b), "7", "/dev/../dev/null"); /* another path to the same device, */
        set_fd_mount(b, "7", 21, "devtmpfs"); /* on a mount where device nodes live */
        /* The same device through a file system that could hang a stat() (FUSE): never looked at. */
        add_fd(live_pid(f), "4", "/dev//null");
        set_fd_mount(f, "4", 30, "fuse.sshfs");
        /* A mount its namespace does not list (the fd came from another namespace): it cannot be
         * told, and the device number decides. */
        add_fd(live_pid(g), "5", "/dev/./null");
        set_fd_mount(g, "6", 40, "tmpfs");
        set_fd_mount(g, "5", 99, NULL);
        add_fd(live_pid(c), "3", regular); /* the same name, a regular file */
        add_fd(live_pid(d), "3", "/dev/zero"); /* another device */
        add_fd(live_pid(e), "3", "socket:[1234]");
        add_fd(dead_pid(gone), "3", "/dev/null"); /* its process exited: not a holder */
        add_fd("1", "9", "/dev/null"); /* the service manager's fd store */
        scan(paths, ELEMENTSOF(paths), &h, &n);
        check_int(n, ==, 3);
        check(has_pid(h, n, atoi(a)));
        check(has_pid(h, n, atoi(b)));
        check(has_pid(h, n, atoi(g)));
        check_str(h[0].comm, "holder");
        /* Each pidfd is its holder's process: it can be signalled, and is gone once killed. */
        for (size_t i = 0; i < n; i++) {
                check(process_alive(h[i].pidfd));
                check_int(process_signal(h[i].pidfd, SIGKILL), ==, 0);
                check_int(waitpid(h[i].pid, NULL, 0), ==, h[i].pid);
                check(!process_alive(h[i].pidfd));
                check_int(process_signal(h[i].pidfd, SIGKILL), ==, 0);
        }
        check_int(h[n].pid, ==, 0);
}

static void test_no_paths_no_holders(void) {
        _cleanup_(holders_freep) Holder *h = NULL;
        char a[16];
        size_t n = 1;

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        add_fd(live_pid(a), "3", "/dev/null");
        scan(NULL, 0, &h, &n);
        check_int(n, ==, 0);
}

static void test_missing_proc(void) {
        _cleanup_(holders_freep) Holder *h = NULL;
        char *const paths[] = { (char *) "/dev/null" };
        size_t n = 0;

        check_int(holders_scan("/nonexistent/proc", &(HolderTargets){ .paths = (char **) paths, .n_paths = 1 }, &h, &n),
                  ==, -ENOENT);
}

static void test_bar_mapping(void) {
        _cleanup_(holders_freep) Holder *h = NULL, *c = NULL;
        _cleanup_free_ char *proc = NULL;
        const PciBar bars[] = { { 0xfe000000, 0xfe0fffff }, { 0xfea00000, 0xfea00fff } };
        char *const paths[] = { (char *) "/dev/vfio/devices/vfio7" };
        char a[16], b[16], d[16], e[16], f[16], g[16], k[16];
        size_t n = 0, n_c = 0;

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        /* BAR 0 mapped at its start, and BAR 1 a page in: holders. */
        set_maps(live_pid(a), "7f0000000000-7f0000100000 rw-s fe000000 00:0e 1043 anon_inode:[vfio-device]\n");
        set_maps(live_pid(b), "55d0a0000000-55d0a0001000 r-xp 00000000 08:01 42 /usr/bin/b\n"
                              "7f0000000000-7f0000001000 rw-s fea00000 00:0e 1043 anon_inode:[vfio-device]\n");
        /* 6.12: offset 0, whose device cannot be told: a candidate only. */
        set_maps(live_pid(d), "7f0000000000-7f0000100000 rw-s 00000000 00:0e 1043 anon_inode:[vfio-device]\n");
        /* Another device's BAR; and a file that is no VFIO device at a matching offset. */
        set_maps(live_pid(e), "7f0000000000-7f0000100000 rw-s fd000000 00:0e 1043 anon_inode:[vfio-device]\n");
        set_maps(live_pid(f), "7f0000000000-7f0000100000 rw-s fe000000 08:01 77 /tmp/data\n");
        /* A BAR mapped from the group's cdev shows the cdev's path, fd closed or not; another
         * cdev whose name starts the same does not count. */
        set_maps(live_pid(g), "7f0000000000-7f0000100000 rw-s 00000000 00:05 88 /dev/vfio/devices/vfio7\n");
        set_maps(live_pid(k), "7f0000000000-7f0000100000 rw-s 00000000 00:05 89 /dev/vfio/devices/vfio70\n");
        scan_bars(paths, ELEMENTSOF(paths), bars, ELEMENTSOF(bars), &h, &n);
        check_int(n, ==, 3);
        check(has_pid(h, n, atoi(a)));
        check(has_pid(h, n, atoi(b)));
        check(has_pid(h, n, atoi(g)));
        check_str(h[0].comm, "mapper");

        check(asprintf(&proc, "%s/proc", dir) > 0);
        check_int(holders_scan_vfio_device_users(proc, &c, &n_c), ==, 0);
        check_int(n_c, ==, 4);
        check(!has_pid(c, n_c, atoi(f)));
}

static void test_vfio_device_users(void) {
        _cleanup_(holders_freep) Holder *c = NULL;
        _cleanup_free_ char *proc = NULL;
        char a[16], b[16], gone[16];
        size_t n = 0;

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        add_fd(live_pid(a), "5", "anon_inode:[vfio-device]");
        add_fd(live_pid(b), "5", "anon_inode:[eventfd]");
        add_fd(dead_pid(gone), "5", "anon_inode:[vfio-device]");
        add_fd("1", "5", "anon_inode:[vfio-device]");
        check(asprintf(&proc, "%s/proc", dir) > 0);
        check_int(holders_scan_vfio_device_users(proc, &c, &n), ==, 0);
        check_int(n, ==, 1);
        check_int(c[0].pid, ==, atoi(a));
}

/* sysfs_read_memory_bars: the memory BARs of the first six resource lines. */
static void test_memory_bars(void) {
        _cleanup_free_ PciBar *bars = NULL;
        size_t n = 0;

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        check_int(tmpdir_write(dir, "bus/pci/devices/0000:01:00.0/resource",
                               "0x00000000fe000000 0x00000000fe0fffff 0x0000000000040200\n" /* memory */
                               "0x000000000000c000 0x000000000000c03f 0x0000000000040101\n" /* I/O port */
                               "0x0000000000000000 0x0000000000000000 0x0000000000000000\n" /* unused */
                               "0x00000000fea00000 0x00000000fea00fff 0x0000000000040200\n"
                               "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                               "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                               "0x00000000feb00000 0x00000000feb3ffff 0x0000000000046200\n"), /* ROM */
                  ==, 0);
        check_int(sysfs_read_memory_bars(dir, "0000:01:00.0", &bars, &n), ==, 0);
        check_int(n, ==, 2);
        check(bars[0].start == 0xfe000000 && bars[0].end == 0xfe0fffff);
        check(bars[1].start == 0xfea00000 && bars[1].end == 0xfea00fff);
        check_int(sysfs_read_memory_bars(dir, "0000:01:00.1", &bars, &n), ==, -ENOENT);
}

static void test_vfio_device_fd(void) {
        _cleanup_free_ char *proc = NULL;
        _cleanup_close_ int fd_a = -EBADF, fd_b = -EBADF;
        char a[16], b[16], gone[16];

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        add_fd(live_pid(a), "5", "anon_inode:[vfio-device]");
        add_fd(live_pid(b), "5", "anon_inode:[eventfd]");
        add_fd(dead_pid(gone), "5", "anon_inode:[vfio-device]");
        check(asprintf(&proc, "%s/proc", dir) > 0);
        fd_a = process_pidfd_open(atoi(a));
        fd_b = process_pidfd_open(atoi(b));
        check(fd_a >= 0 && fd_b >= 0);
        check(holders_process_holds_vfio_device(proc, atoi(a), fd_a));
        check(!holders_process_holds_vfio_device(proc, atoi(b), fd_b));
        /* Without a pidfd (a lease with Pid 0), or with a dead process's: never. */
        check(!holders_process_holds_vfio_device(proc, atoi(a), -EBADF));
        check_int(process_pidfd_open(atoi(gone)), ==, -ESRCH);
        /* A pidfd whose process died, over a pid that (say, reused) holds a device: not believed. */
        check_int(process_signal(fd_b, SIGKILL), ==, 0);
        check_int(waitpid(atoi(b), NULL, 0), ==, atoi(b));
        check(!holders_process_holds_vfio_device(proc, atoi(a), fd_b));
}

/* process_open: a pidfd only for a live process of the given uid. */
static void test_process_open(void) {
        _cleanup_close_ int fd = -EBADF, other = -EBADF;
        char gone[16];

        check_int(process_open("/proc", getpid(), geteuid(), &fd), ==, 0);
        check(process_alive(fd));
        check_int(process_open("/proc", getpid(), geteuid() + 1, &other), ==, -EPERM);
        check_int(process_open("/proc", atoi(dead_pid(gone)), geteuid(), &other), ==, -ESRCH);
        check_int(process_open("/proc", 0, geteuid(), &other), ==, -ESRCH);
        check_int(other, ==, -EBADF);
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(test_same_path_and_same_device),
                TEST_CASE(test_no_paths_no_holders),
                TEST_CASE(test_missing_proc),
                TEST_CASE(test_bar_mapping),
                TEST_CASE(test_vfio_device_users),
                TEST_CASE(test_memory_bars),
                TEST_CASE(test_vfio_device_fd),
                TEST_CASE(test_process_open),
        };

        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
