/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: finding the host-critical PCI devices. */

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "address.h"
#include "log.h"
#include "macro.h"
#include "safety.h"
#include "sysfs.h"

/* Nested block devices (dm on md on a partition) and stacked net devices; deeper is a loop. */
#define MAX_DEPTH 8

int pci_addresses_in_path(const char *path, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_strv_free_ char **l = NULL;
        char *saveptr = NULL;
        size_t n = 0;

        if (!copy)
                return -ENOMEM;
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (char *c = strtok_r(copy, "/", &saveptr); c; c = strtok_r(NULL, "/", &saveptr)) {
                char address[PCI_ADDRESS_MAX], **a;

                if (pci_address_parse(c, address) < 0 || !streq(address, c))
                        continue;
                a = reallocarray(l, n + 2, sizeof(char *));
                if (!a)
                        return -ENOMEM;
                l = a;
                if (!(l[n] = strdup(address)))
                        return -ENOMEM;
                l[++n] = NULL;
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

const char *safety_reason(const SafetyReport *r, const char *address) {
        FOREACH_ARRAY(e, r->entries, r->n)
                if (streq(e->address, address))
                        return e->reason;
        return NULL;
}

void safety_report_done(SafetyReport *r) {
        FOREACH_ARRAY(e, r->entries, r->n) {
                free(e->address);
                free(e->reason);
        }
        free(r->entries);
        *r = (SafetyReport){};
}

_printf_(3, 4) static int report_add(SafetyReport *r, const char *address, const char *format, ...) {
        SafetyEntry *a;
        char *reason;
        va_list ap;
        int k;

        if (safety_reason(r, address)) /* the first reason found is enough */
                return 0;
        va_start(ap, format);
        k = vasprintf(&reason, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        a = reallocarray(r->entries, r->n + 1, sizeof(SafetyEntry));
        if (!a) {
                free(reason);
                return -ENOMEM;
        }
        r->entries = a;
        r->entries[r->n].reason = reason;
        r->entries[r->n].address = strdup(address);
        if (!r->entries[r->n].address) {
                free(reason);
                return -ENOMEM;
        }
        r->n++;
        return 0;
}

/* Marks every PCI device on the resolved path of a sysfs link or directory. */
static int mark_path(SafetyReport *r, const char *path, const char *what) {
        _cleanup_strv_free_ char **l = NULL;
        char resolved[PATH_MAX];
        size_t n;
        int k;

        if (!realpath(path, resolved))
                return 0; /* nothing there: nothing critical */
        k = pci_addresses_in_path(resolved, &l, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                k = report_add(r, l[i], "%s", what);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int scan_boot_vga(const char *sys, SafetyReport *r) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n;
        int k;

        k = sysfs_list_devices(sys, &names, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *text = NULL;

                if (asprintf(&path, "%s/bus/pci/devices/%s/boot_vga", sys, names[i]) < 0)
                        return -ENOMEM;
                if (read_full_file(path, &text) >= 0 && text[0] == '1') {
                        k = report_add(r, names[i], "it is the boot VGA device");
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

/* The consoles: serial ones hang off their device; a VT console (tty0..) draws on a framebuffer. */
static int scan_consoles(const char *sys, SafetyReport *r) {
        _cleanup_free_ char *path = NULL, *active = NULL;
        char *saveptr = NULL;
        int k;

        if (asprintf(&path, "%s/class/tty/console/active", sys) < 0)
                return -ENOMEM;
        if (read_full_file(path, &active) < 0)
                return 0;
        for (char *t = strtok_r(active, " \n", &saveptr); t; t = strtok_r(NULL, " \n", &saveptr)) {
                _cleanup_free_ char *dev = NULL, *what = NULL;

                if (asprintf(&dev, "%s/class/tty/%s/device", sys, t) < 0 ||
                    asprintf(&what, "it carries the console %s", t) < 0)
                        return -ENOMEM;
                k = mark_path(r, dev, what);
                if (k < 0)
                        return k;
                if (startswith(t, "tty") && t[3] >= '0' && t[3] <= '9')
                        for (int fb = 0; fb < 8; fb++) {
                                _cleanup_free_ char *fbdev = NULL;
                                if (asprintf(&fbdev, "%s/class/graphics/fb%d/device", sys, fb) < 0)
                                        return -ENOMEM;
                                k = mark_path(r, fbdev, "it drives the framebuffer console");
                                if (k < 0)
                                        return k;
                        }
        }
        return 0;
}

static int mark_block_device(const char *sys, SafetyReport *r, dev_t dev, const char *what, int depth);

/* dm and md devices sit on other block devices: follow slaves/ down to the disks. */
static int mark_block_slaves(const char *sys, SafetyReport *r, const char *dir, const char *what, int depth) {
        _cleanup_free_ char *slaves = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int k;

        if (asprintf(&slaves, "%s/slaves", dir) < 0)
                return -ENOMEM;
        d = opendir(slaves);
        while (d && (de = readdir(d))) {
                _cleanup_free_ char *devfile = NULL, *text = NULL;
                unsigned maj, min;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&devfile, "%s/%s/dev", slaves, de->d_name) < 0)
                        return -ENOMEM;
                if (read_full_file(devfile, &text) < 0 || sscanf(text, "%u:%u", &maj, &min) != 2)
                        continue;
                k = mark_block_device(sys, r, makedev(maj, min), what, depth + 1);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int mark_block_device(const char *sys, SafetyReport *r, dev_t dev, const char *what, int depth) {
        _cleanup_free_ char *path = NULL;
        int k;

        if (depth > MAX_DEPTH)
                return 0;
        if (asprintf(&path, "%s/dev/block/%u:%u", sys, major(dev), minor(dev)) < 0)
                return -ENOMEM;
        k = mark_path(r, path, what);
        if (k < 0)
                return k;
        return mark_block_slaves(sys, r, path, what, depth);
}

static int scan_mounts(const char *sys, const char *proc, SafetyReport *r) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int k;

        if (asprintf(&path, "%s/self/mountinfo", proc) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (getline(&line, &size, f) > 0) {
                _cleanup_free_ char *what = NULL;
                unsigned maj, min;
                char mountpoint[PATH_MAX];

                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." */
                if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mountpoint) != 3 || maj == 0)
                        continue;
                if (asprintf(&what, "it holds the file system mounted on %s", mountpoint) < 0)
                        return -ENOMEM;
                k = mark_block_device(sys, r, makedev(maj, min), what, 0);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int scan_swaps(const char *sys, const char *proc, SafetyReport *r) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int k;

        if (asprintf(&path, "%s/swaps", proc) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (getline(&line, &size, f) > 0) {
                _cleanup_free_ char *what = NULL;
                char file[PATH_MAX];
                struct stat st;

                if (sscanf(line, "%4095s", file) != 1 || file[0] != '/' || stat(file, &st) < 0)
                        continue; /* the header line, or a swap we cannot see */
                if (asprintf(&what, "it holds the active swap %s", file) < 0)
                        return -ENOMEM;
                k = mark_block_device(sys, r, S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev, what, 0);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int mark_net_device(const char *sys, SafetyReport *r, const char *ifname, const char *what, int depth) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int k;

        if (depth > MAX_DEPTH)
                return 0;
        if (asprintf(&dir, "%s/class/net/%s", sys, ifname) < 0)
                return -ENOMEM;
        k = mark_path(r, dir, what);
        if (k < 0)
                return k;
        /* Bridges, bonds and VLANs carry the route over lower devices. */
        d = opendir(dir);
        while (d && (de = readdir(d))) {
                const char *lower = startswith(de->d_name, "lower_");
                if (!lower)
                        continue;
                k = mark_net_device(sys, r, lower, what, depth + 1);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int mark_route_interface(const char *sys, SafetyReport *r, const char *ifname) {
        _cleanup_free_ char *what = NULL;

        if (asprintf(&what, "it carries the default route (%s)", ifname) < 0)
                return -ENOMEM;
        return mark_net_device(sys, r, ifname, what, 0);
}

static int scan_default_routes(const char *sys, const char *proc, SafetyReport *r) {
        _cleanup_free_ char *path4 = NULL, *path6 = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f4 = NULL, *f6 = NULL;
        size_t size = 0;
        int k;

        if (asprintf(&path4, "%s/net/route", proc) < 0 || asprintf(&path6, "%s/net/ipv6_route", proc) < 0)
                return -ENOMEM;
        f4 = fopen(path4, "re");
        while (f4 && getline(&line, &size, f4) > 0) {
                char ifname[64], dest[16], mask[16];

                /* "Iface Destination Gateway Flags RefCnt Use Metric Mask ..." */
                if (sscanf(line, "%63s %15s %*s %*s %*s %*s %*s %15s", ifname, dest, mask) != 3)
                        continue;
                if (streq(dest, "00000000") && streq(mask, "00000000")) {
                        k = mark_route_interface(sys, r, ifname);
                        if (k < 0)
                                return k;
                }
        }
        f6 = fopen(path6, "re");
        while (f6 && getline(&line, &size, f6) > 0) {
                char dest[40], plen[4], ifname[64];

                /* "DEST PLEN SRC SLEN NEXTHOP METRIC REFCNT USE FLAGS IFNAME" */
                if (sscanf(line, "%39s %3s %*s %*s %*s %*s %*s %*s %*s %63s", dest, plen, ifname) != 3)
                        continue;
                if (streq(plen, "00") && strspn(dest, "0") == strlen(dest) && !streq(ifname, "lo")) {
                        k = mark_route_interface(sys, r, ifname);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

int safety_scan(const char *sys, const char *proc, SafetyReport *ret) {
        SafetyReport r = {};
        int k;

        k = scan_boot_vga(sys, &r);
        if (k >= 0)
                k = scan_consoles(sys, &r);
        if (k >= 0)
                k = scan_mounts(sys, proc, &r);
        if (k >= 0)
                k = scan_swaps(sys, proc, &r);
        if (k >= 0)
                k = scan_default_routes(sys, proc, &r);
        if (k < 0) {
                safety_report_done(&r);
                return k;
        }
        *ret = r;
        return 0;
}
