/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* make-sysfs-tree: builds (or changes) a fake sysfs tree for the shell and D-Bus tests.
 *
 *   make-sysfs-tree [--parent DIR] < SPEC      new tree in a mkdtemp() dir below DIR; prints its path
 *   make-sysfs-tree [--parent DIR] --groups N  new tree with N groups of one device each
 *   make-sysfs-tree --root DIR < SPEC          applies SPEC to an existing tree
 *
 * SPEC has one item a line; blank lines and '#' comments are ignored:
 *   ADDR GROUP VENDOR PRODUCT CLASS DRIVER [numa=N]   a device; GROUP and DRIVER may be "-" (none),
 *                                                     VENDOR, PRODUCT and CLASS are hex
 *   region GROUP START END TYPE                       a reserved_regions line (START/END hex)
 *   driver ADDR DRIVER                                re-point the driver link ("-": unbind)
 *   remove ADDR                                       hot-unplug a device
 *
 * Exit status: 0 on success, 1 on failure, 2 on a malformed command line or spec. */

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>

#include "macro.h"
#include "sysfs-tree.h"

static int parse_hex(const char *s, uint64_t max, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 16);
        if (errno != 0 || *end != '\0' || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_uint(const char *s, uint32_t *ret) {
        char *end;
        unsigned long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v >= UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static const char *none_to_null(const char *s) {
        return streq(s, "-") ? NULL : s;
}

/* Splits line (in place) at blanks into at most max words; returns how many. */
static size_t split(char *line, char **words, size_t max) {
        size_t n = 0;

        for (char *save = NULL, *w = strtok_r(line, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
                if (n == max)
                        return max + 1;
                words[n++] = w;
        }
        return n;
}

static int apply_line(SysfsTree *t, char *line, unsigned lineno) {
        char *w[8];
        size_t n;
        uint64_t a, b, c;
        uint32_t group;
        int r;

        line[strcspn(line, "#")] = '\0';
        n = split(line, w, ELEMENTSOF(w));
        if (n == 0)
                return 0;

        if (streq(w[0], "region")) {
                if (n != 5 || parse_uint(w[1], &group) < 0 || parse_hex(w[2], UINT64_MAX, &a) < 0 ||
                    parse_hex(w[3], UINT64_MAX, &b) < 0)
                        goto bad;
                r = sysfs_tree_add_region(t, group, a, b, w[4]);
        } else if (streq(w[0], "driver")) {
                if (n != 3)
                        goto bad;
                r = sysfs_tree_set_driver(t, w[1], none_to_null(w[2]));
        } else if (streq(w[0], "remove")) {
                if (n != 2)
                        goto bad;
                r = sysfs_tree_remove_device(t, w[1]);
        } else {
                SysfsTreeDevice d = { .address = w[0], .numa_node = -1 };

                if (n < 6 || n > 7)
                        goto bad;
                if (streq(w[1], "-"))
                        d.group = SYSFS_TREE_NO_GROUP;
                else if (parse_uint(w[1], &d.group) < 0)
                        goto bad;
                if (parse_hex(w[2], UINT16_MAX, &a) < 0 || parse_hex(w[3], UINT16_MAX, &b) < 0 ||
                    parse_hex(w[4], 0xffffff, &c) < 0)
                        goto bad;
                d.vendor = (uint16_t) a;
                d.product = (uint16_t) b;
                d.class = (uint32_t) c;
                d.driver = none_to_null(w[5]);
                if (n == 7) {
                        const char *v = startswith(w[6], "numa=");
                        char *end;

                        if (!v || !*v)
                                goto bad;
                        errno = 0;
                        d.numa_node = (int) strtol(v, &end, 10);
                        if (errno != 0 || *end != '\0')
                                goto bad;
                }
                r = sysfs_tree_add_device(t, &d);
        }
        if (r < 0) {
                fprintf(stderr, "make-sysfs-tree: line %u: %s\n", lineno, strerror(-r));
                return 1;
        }
        return 0;
bad:
        fprintf(stderr, "make-sysfs-tree: line %u: malformed\n", lineno);
        return 2;
}

static int apply_spec(SysfsTree *t, FILE *f) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned lineno = 0;

        while (getline(&line, &size, f) >= 0) {
                int r = apply_line(t, line, ++lineno);
                if (r != 0)
                        return r;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_PARENT = 0x100, ARG_ROOT, ARG_GROUPS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "parent", required_argument, NULL, ARG_PARENT },
                { "root", required_argument, NULL, ARG_ROOT },
                { "groups", required_argument, NULL, ARG_GROUPS },
                {},
        };
        const char *parent = NULL, *root = NULL;
        uint32_t groups = 0;
        bool have_groups = false;
        SysfsTree *t = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: %s [--parent DIR | --root DIR] [--groups N] < SPEC\n", argv[0]);
                        return 0;
                case ARG_PARENT:
                        parent = optarg;
                        break;
                case ARG_ROOT:
                        root = optarg;
                        break;
                case ARG_GROUPS:
                        if (parse_uint(optarg, &groups) < 0) {
                                fprintf(stderr, "make-sysfs-tree: bad --groups '%s'\n", optarg);
                                return 2;
                        }
                        have_groups = true;
                        break;
                default:
                        return 2;
                }
        if (optind < argc || (root && parent)) {
                fprintf(stderr, "make-sysfs-tree: bad command line, see --help\n");
                return 2;
        }

        r = root ? sysfs_tree_open(root, &t) : sysfs_tree_new(parent, &t);
        if (r < 0) {
                fprintf(stderr, "make-sysfs-tree: cannot %s tree: %s\n", root ? "open" : "create", strerror(-r));
                return 1;
        }

        if (have_groups) {
                r = sysfs_tree_add_groups(t, groups);
                if (r < 0) {
                        fprintf(stderr, "make-sysfs-tree: cannot add groups: %s\n", strerror(-r));
                        r = 1;
                }
        } else
                r = apply_spec(t, stdin);

        if (r == 0) {
                sysfs_tree_keep(t);
                if (!root)
                        printf("%s\n", sysfs_tree_root(t));
        }
        sysfs_tree_free(t); /* a new tree that failed half-way is removed */
        return r;
}
