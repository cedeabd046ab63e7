/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the syntax of device addresses, group ids and targets. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "address.h"

/* Reads exactly n hex digits (n_max > n_min allows a range) and advances *p. */
static int parse_hex_field(const char **p, unsigned n_min, unsigned n_max, uint32_t *ret) {
        uint32_t v = 0;
        unsigned n = 0;

        while (n < n_max && isxdigit((unsigned char) (*p)[n])) {
                char c = (char) tolower((unsigned char) (*p)[n]);
                v = v * 16 + (uint32_t) (c <= '9' ? c - '0' : c - 'a' + 10);
                n++;
        }
        if (n < n_min || isxdigit((unsigned char) (*p)[n]))
                return -EINVAL;
        *p += n;
        *ret = v;
        return 0;
}

static int expect_char(const char **p, char c) {
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int pci_address_parse(const char *s, char ret[static PCI_ADDRESS_MAX]) {
        uint32_t domain = 0, bus, dev, fn;
        const char *p = s;

        if (!s)
                return -EINVAL;

        /* With a domain there are two colons before the dot. */
        if (strchr(s, ':') != strrchr(s, ':')) {
                if (parse_hex_field(&p, 4, 8, &domain) < 0 || expect_char(&p, ':') < 0)
                        return -EINVAL;
        }
        if (parse_hex_field(&p, 2, 2, &bus) < 0 || expect_char(&p, ':') < 0 || parse_hex_field(&p, 2, 2, &dev) < 0 ||
            expect_char(&p, '.') < 0 || parse_hex_field(&p, 1, 1, &fn) < 0 || *p != '\0')
                return -EINVAL;
        if (dev > 0x1f || fn > 7)
                return -EINVAL;

        snprintf(ret, PCI_ADDRESS_MAX, "%04" PRIx32 ":%02" PRIx32 ":%02" PRIx32 ".%" PRIx32, domain, bus, dev, fn);
        return 0;
}

int group_id_parse(const char *s, uint32_t *ret) {
        uint64_t v = 0;

        if (!s || !*s || (s[0] == '0' && s[1] != '\0'))
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*p - '0');
                if (v >= UINT32_MAX)
                        return -ERANGE;
        }
        *ret = (uint32_t) v;
        return 0;
}

int target_parse(const char *s, Target *ret) {
        Target t = {};
        int r;

        r = group_id_parse(s, &t.group);
        if (r >= 0) {
                t.kind = TARGET_GROUP;
                *ret = t;
                return 0;
        }
        if (r == -ERANGE)
                return -EINVAL;

        r = pci_address_parse(s, t.address);
        if (r < 0)
                return r;
        t.kind = TARGET_DEVICE;
        *ret = t;
        return 0;
}
