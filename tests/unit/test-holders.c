/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Holder discovery (holders.c) over a /proc stand-in: an fd is on a node when its link reads
 * back as the node's path, or, read back under another path (opened in another mount
 * namespace), when it is the same character device; a file of the same name is not; the
 * service manager (pid 1) is never a holder. */

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holders.h"
#include "macro.h"
#include "tests.h"
#include "tmpdir.h"

static char *dir;

static void cleanup_case(void) {
        dir = tmpdir_remove(dir);
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

static bool has_pid(const Holder *h, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (h[i].pid == pid)
                        return true;
        return false;
}

static void scan(char *const *paths, size_t n_paths, Holder **ret, size_t *ret_n) {
        _cleanup_free_ char *proc = NULL;

        check(asprintf(&proc, "%s/proc", dir) > 0);
        check_int(holders_scan(proc, paths, n_paths, ret, ret_n), ==, 0);
}

static void test_same_path_and_same_device(void) {
        _cleanup_free_ char *regular = NULL;
        _cleanup_free_ Holder *h = NULL;
        char *const paths[] = { (char *) "/dev/null" };
        size_t n = 0;

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        check_int(tmpdir_write(dir, "null", "not a device\n"), ==, 0);
        check(asprintf(&regular, "%s/null", dir) > 0);
        add_fd("100", "3", "/dev/null");
        add_fd("101", "7", "/dev/../dev/null"); /* another path to the same device */
        add_fd("102", "3", regular); /* the same name, a regular file */
        add_fd("103", "3", "/dev/zero"); /* another device */
        add_fd("104", "3", "socket:[1234]");
        add_fd("1", "9", "/dev/null"); /* the service manager's fd store */
        scan(paths, ELEMENTSOF(paths), &h, &n);
        check_int(n, ==, 2);
        check(has_pid(h, n, 100));
        check(has_pid(h, n, 101));
        check_str(h[0].comm, "holder");
}

static void test_no_paths_no_holders(void) {
        _cleanup_free_ Holder *h = NULL;
        size_t n = 1;

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        add_fd("100", "3", "/dev/null");
        scan(NULL, 0, &h, &n);
        check_int(n, ==, 0);
}

static void test_missing_proc(void) {
        _cleanup_free_ Holder *h = NULL;
        char *const paths[] = { (char *) "/dev/null" };
        size_t n = 0;

        check_int(holders_scan("/nonexistent/proc", paths, 1, &h, &n), ==, -ENOENT);
}

static void test_vfio_device_fd(void) {
        _cleanup_free_ char *proc = NULL;

        check_int(tmpdir_new("vfiod-test-holders", &dir), ==, 0);
        add_fd("200", "5", "anon_inode:[vfio-device]");
        add_fd("201", "5", "anon_inode:[eventfd]");
        check(asprintf(&proc, "%s/proc", dir) > 0);
        check(holders_pid_holds_vfio_device(proc, 200));
        check(!holders_pid_holds_vfio_device(proc, 201));
        check(!holders_pid_holds_vfio_device(proc, 202));
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(test_same_path_and_same_device),
                TEST_CASE(test_no_paths_no_holders),
                TEST_CASE(test_missing_proc),
                TEST_CASE(test_vfio_device_fd),
        };

        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
