/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the sysfs writes that move devices between drivers (driver_override, unbind, probe, bind). */

#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>

#include "bind.h"
#include "macro.h"
#include "module-alias.h"
#include "sysfs.h"

void device_moves_free(DeviceMove *moves, size_t n) {
        for (size_t i = 0; moves && i < n; i++) {
                free(moves[i].from);
                free(moves[i].to);
        }
        free(moves);
}

int device_moves_reverse(const DeviceMove *moves, size_t n, DeviceMove **ret) {
        DeviceMove *r = calloc(n ?: 1, sizeof(DeviceMove));

        if (!r)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                memcpy(r[i].address, moves[i].address, sizeof(r[i].address));
                if ((moves[i].to && !(r[i].from = strdup(moves[i].to))) ||
                    (moves[i].from && !(r[i].to = strdup(moves[i].from)))) {
                        device_moves_free(r, n);
                        return -ENOMEM;
                }
        }
        *ret = r;
        return 0;
}

static int write_attr(const char *path, const char *value) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(value);
        ssize_t n;

        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        n = write(fd, value, len);
        if (n < 0)
                return negative_errno();
        return (size_t) n == len ? 0 : -EIO;
}

static int write_device_attr(const char *root, const char *address, const char *attr, const char *value) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/bus/pci/devices/%s/%s", root, address, attr) < 0)
                return -ENOMEM;
        return write_attr(path, value);
}

int bind_set_override(const char *root, const char *address, const char *driver) {
        /* A lone newline clears the override; the kernel then reads back "(null)". */
        return write_device_attr(root, address, "driver_override", driver ?: "\n");
}

/* Only the driver link: the moves read it several times per device, nothing else. */
static int read_driver(const char *root, const char *address, char **ret) {
        _cleanup_free_ char *link = NULL;
        char target[PATH_MAX];
        ssize_t n;

        if (asprintf(&link, "%s/bus/pci/devices/%s/driver", root, address) < 0)
                return -ENOMEM;
        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                /* No link: unbound, or the device is gone altogether. */
                *ret = NULL;
                return sysfs_device_exists(root, address) ? 0 : -ENODEV;
        }
        target[n] = '\0';
        *ret = strdup(strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
        return *ret ? 0 : -ENOMEM;
}

static int unbind_device(const char *root, const char *address) {
        int r = write_device_attr(root, address, "driver/unbind", address);

        /* Nothing bound (any more): someone else unbound it first, which is what we wanted. */
        return r == -ENOENT || r == -ENODEV ? 0 : r;
}

static int probe_device(const char *root, const char *address) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/bus/pci/drivers_probe", root) < 0)
                return -ENOMEM;
        return write_attr(path, address);
}

static int bind_to_driver(const char *root, const char *address, const char *driver) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/bus/pci/drivers/%s/bind", root, driver) < 0)
                return -ENOMEM;
        return write_attr(path, address);
}

/* vfio drivers match only through driver_override, so a probe finds them; host drivers are bound
 * by name, which also works for one whose module autoloading would pick another. */
static int bind_target(const char *root, const DeviceMove *mv) {
        int r;

        if (strstr(mv->to, "vfio")) {
                r = probe_device(root, mv->address);
                if (r >= 0)
                        return 0;
                return bind_to_driver(root, mv->address, mv->to);
        }
        r = bind_to_driver(root, mv->address, mv->to);
        if (r >= 0 || r == -EBUSY)
                return r;
        return probe_device(root, mv->address);
}

static int check_driver(const char *root, const DeviceMove *mv) {
        _cleanup_free_ char *driver = NULL;
        int r;

        r = read_driver(root, mv->address, &driver);
        if (r < 0)
                return r;
        return streq_ptr(driver, mv->to) ? 0 : -EPROTO;
}

static int unbind_if_elsewhere(const char *root, const DeviceMove *mv) {
        _cleanup_free_ char *driver = NULL;
        int r;

        r = read_driver(root, mv->address, &driver);
        if (r < 0)
                return r;
        if (!driver || streq_ptr(driver, mv->to))
                return 0;
        return unbind_device(root, mv->address);
}

static int bind_if_needed(const char *root, const DeviceMove *mv) {
        if (!mv->to || check_driver(root, mv) >= 0)
                return 0;
        return bind_target(root, mv);
}

/* A file a move writes that is not there (ENOENT) means a device that went away in the middle
 * of the move (ENODEV: the caller is told which device, not "no such group"), or, for a device
 * still there, an attribute or driver file that is missing (ENXIO). */
static int move_error(const char *root, const char *address, int r) {
        if (r != -ENOENT)
                return r;
        return sysfs_device_exists(root, address) ? -ENXIO : -ENODEV;
}

int bind_apply_moves(const char *root, const DeviceMove *moves, size_t n, size_t *ret_failed) {
        int (*const steps[])(const char *, const DeviceMove *) = { unbind_if_elsewhere, bind_if_needed, check_driver };
        int r;

        for (size_t i = 0; i < n; i++) {
                /* A vfio target is pinned by the override; going back to the host clears it. */
                const char *override = moves[i].to && strstr(moves[i].to, "vfio") ? moves[i].to : NULL;
                r = bind_set_override(root, moves[i].address, override);
                if (r < 0) {
                        *ret_failed = i;
                        return move_error(root, moves[i].address, r);
                }
        }
        FOREACH_ARRAY(step, steps, ELEMENTSOF(steps))
                for (size_t i = 0; i < n; i++) {
                        r = (*step)(root, &moves[i]);
                        if (r < 0) {
                                *ret_failed = i;
                                return move_error(root, moves[i].address, r);
                        }
                }
        return 0;
}

int bind_claim_device(const char *root, const char *address, const char *driver) {
        DeviceMove mv = { .to = (char *) driver };
        size_t failed;

        memcpy(mv.address, address, sizeof(mv.address));
        return bind_apply_moves(root, &mv, 1, &failed);
}

/* The device's PCI modalias ("pci:v...d...sv...sd...bc..sc..i.."), or NULL when it has none. */
static int read_pci_modalias(const char *root, const char *address, char **ret) {
        _cleanup_free_ char *path = NULL, *modalias = NULL;

        *ret = NULL;
        if (asprintf(&path, "%s/bus/pci/devices/%s/modalias", root, address) < 0)
                return -ENOMEM;
        if (read_full_file(path, &modalias) < 0 || !startswith(modalias, "pci:"))
                return 0;
        modalias[strcspn(modalias, "\n")] = '\0';
        *ret = TAKE_PTR(modalias);
        return 0;
}

int bind_vfio_driver_for(const char *root, const char *modules_dir, const char *address, char **ret) {
        _cleanup_free_ char *modalias = NULL, *vfio_modalias = NULL, *alias_file = NULL;
        int r;

        if (asprintf(&alias_file, "%s/modules.alias", modules_dir) < 0)
                return -ENOMEM;
        r = read_pci_modalias(root, address, &modalias);
        if (r < 0)
                return r;
        if (modalias) {
                if (asprintf(&vfio_modalias, "vfio_%s", modalias) < 0)
                        return -ENOMEM;
                r = module_alias_match(alias_file, vfio_modalias, true, ret);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        *ret = strdup("vfio-pci");
        return *ret ? 0 : -ENOMEM;
}

int bind_host_driver_for(const char *root, const char *modules_dir, const char *address, char **ret) {
        _cleanup_free_ char *modalias = NULL, *alias_file = NULL;
        int r;

        *ret = NULL;
        if (asprintf(&alias_file, "%s/modules.alias", modules_dir) < 0)
                return -ENOMEM;
        r = read_pci_modalias(root, address, &modalias);
        if (r < 0 || !modalias)
                return r;
        return module_alias_match(alias_file, modalias, false, ret);
}

static bool driver_registered(const char *root, const char *driver) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/bus/pci/drivers/%s", root, driver) < 0)
                return false;
        return access(path, F_OK) >= 0;
}

static int run_modprobe(const char *module) {
        int status;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                execlp("modprobe", "modprobe", "-q", "--", module, (char *) NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return negative_errno();
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ENOPKG;
}

int bind_load_driver(const char *root, const char *driver) {
        int r;

        if (driver_registered(root, driver))
                return 0;
        /* A generated tree has no modules behind it; never load host modules for one. */
        if (!streq(root, "/sys"))
                return -ENOPKG;
        r = run_modprobe(driver);
        if (r < 0)
                return r;
        return driver_registered(root, driver) ? 0 : -ENOPKG;
}
