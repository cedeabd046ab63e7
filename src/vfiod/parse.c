/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the syntax of the sysfs attributes vfiod reads. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse.h"

static const char *const region_type_table[_REGION_TYPE_MAX] = {
        [REGION_DIRECT] = "direct",
        [REGION_DIRECT_RELAXABLE] = "direct-relaxable",
        [REGION_RESERVED] = "reserved",
        [REGION_MSI] = "msi",
};

const char *region_type_to_string(RegionType t) {
        if (t < 0 || t >= _REGION_TYPE_MAX)
                return NULL;
        return region_type_table[t];
}

RegionType region_type_from_string(const char *s) {
        for (int i = 0; i < _REGION_TYPE_MAX; i++)
                if (streq(region_type_table[i], s))
                        return (RegionType) i;
        return _REGION_TYPE_INVALID;
}

/* Everything after the value may only be one trailing newline. */
static int check_tail(const char *end) {
        if (*end == '\n')
                end++;
        return *end == '\0' ? 0 : -EINVAL;
}

/* strtoull() alone accepts leading blanks and signs, and in base 16 a "0x" of its own after ours
 * ("0x0x10" would be 16); sysfs never prints them. */
static int parse_hex_u64(const char *s, const char **ret_end, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !isxdigit((unsigned char) s[2]) ||
            (s[2] == '0' && (s[3] == 'x' || s[3] == 'X')))
                return -EINVAL;
        errno = 0;
        v = strtoull(s + 2, &end, 16);
        if (errno != 0)
                return -ERANGE;
        *ret_end = end;
        *ret = v;
        return 0;
}

static int parse_region_line(const char *line, size_t len, ReservedRegion *ret) {
        char buf[128], *type;
        const char *p;
        ReservedRegion r;

        if (len >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, line, len);
        buf[len] = '\0';

        if (parse_hex_u64(buf, &p, &r.start) < 0 || *p != ' ')
                return -EBADMSG;
        if (parse_hex_u64(p + 1, &p, &r.end) < 0 || *p != ' ')
                return -EBADMSG;
        type = (char *) p + 1;
        r.type = region_type_from_string(type);
        if (r.type < 0 || r.end < r.start)
                return -EBADMSG;
        *ret = r;
        return 0;
}

int parse_reserved_regions(const char *text, ReservedRegion **ret, size_t *ret_n) {
        _cleanup_free_ ReservedRegion *regions = NULL;
        size_t n = 0;

        for (const char *p = text; *p;) {
                const char *eol = strchrnul(p, '\n');
                ReservedRegion *a;
                int r;

                if (eol == p)
                        return -EBADMSG;
                a = reallocarray(regions, n + 1, sizeof(ReservedRegion));
                if (!a)
                        return -ENOMEM;
                regions = a;
                r = parse_region_line(p, (size_t) (eol - p), &regions[n]);
                if (r < 0)
                        return r;
                n++;
                p = *eol ? eol + 1 : eol;
        }

        *ret = TAKE_PTR(regions);
        *ret_n = n;
        return 0;
}

int parse_sysfs_hex(const char *text, uint32_t max, uint32_t *ret) {
        const char *end;
        uint64_t v;

        if (parse_hex_u64(text, &end, &v) < 0 || check_tail(end) < 0)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int parse_sysfs_int(const char *text, int *ret) {
        char *end;
        long v;

        if (!(isdigit((unsigned char) text[0]) || (text[0] == '-' && isdigit((unsigned char) text[1]))))
                return -EINVAL;
        errno = 0;
        v = strtol(text, &end, 10);
        if (errno != 0 || v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        if (check_tail(end) < 0)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}
