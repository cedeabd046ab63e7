/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parsers for what the kernel prints in sysfs. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "macro.h"
#include "parse.h"
#include "tests.h"

static void check_regions_fail(const char *text, int expected) {
        ReservedRegion *regions = (ReservedRegion *) 0x1;
        size_t n = 4711;
        int r = parse_reserved_regions(text, &regions, &n);

        if (r != expected)
                test_fail("parse_reserved_regions(\"%s\") = %d, expected %d", text, r, expected);
        /* Output parameters are only set on success. */
        check(regions == (ReservedRegion *) 0x1);
        check_uint(n, ==, 4711);
}

static void regions_parses_kernel_output(void) {
        /* As an Intel IOMMU with an RMRR and the MSI window prints it. */
        static const char text[] = "0x00000000000a0000 0x00000000000bffff direct-relaxable\n"
                                   "0x000000007b800000 0x000000007fffffff direct\n"
                                   "0x00000000fee00000 0x00000000feefffff msi\n"
                                   "0x000000fd00000000 0x000000ffffffffff reserved\n";
        _cleanup_free_ ReservedRegion *regions = NULL;
        size_t n = 0;

        check_int(parse_reserved_regions(text, &regions, &n), ==, 0);
        check_uint(n, ==, 4);
        check_uint(regions[0].start, ==, 0xa0000);
        check_uint(regions[0].end, ==, 0xbffff);
        check_int(regions[0].type, ==, REGION_DIRECT_RELAXABLE);
        check_uint(regions[1].start, ==, 0x7b800000);
        check_uint(regions[1].end, ==, 0x7fffffff);
        check_int(regions[1].type, ==, REGION_DIRECT);
        check_uint(regions[2].start, ==, 0xfee00000);
        check_uint(regions[2].end, ==, 0xfeefffff);
        check_int(regions[2].type, ==, REGION_MSI);
        check_uint(regions[3].start, ==, UINT64_C(0xfd00000000));
        check_uint(regions[3].end, ==, UINT64_C(0xffffffffff));
        check_int(regions[3].type, ==, REGION_RESERVED);
}

static void regions_last_line_needs_no_newline(void) {
        _cleanup_free_ ReservedRegion *regions = NULL;
        size_t n = 0;

        check_int(parse_reserved_regions("0x00000000fee00000 0x00000000feefffff msi", &regions, &n), ==, 0);
        check_uint(n, ==, 1);
        check_int(regions[0].type, ==, REGION_MSI);
}

static void regions_full_64bit_range(void) {
        _cleanup_free_ ReservedRegion *regions = NULL;
        size_t n = 0;

        check_int(parse_reserved_regions("0x0000000000000000 0xffffffffffffffff reserved\n", &regions, &n), ==, 0);
        check_uint(n, ==, 1);
        check_uint(regions[0].start, ==, 0);
        check_uint(regions[0].end, ==, UINT64_MAX);
}

static void regions_single_address_region(void) {
        _cleanup_free_ ReservedRegion *regions = NULL;
        size_t n = 0;

        /* end == start is one byte, and allowed; end is inclusive. */
        check_int(parse_reserved_regions("0x0000000000001000 0x0000000000001000 direct\n", &regions, &n), ==, 0);
        check_uint(n, ==, 1);
}

static void regions_empty_text_is_no_regions(void) {
        ReservedRegion *regions = (ReservedRegion *) 0x1;
        size_t n = 4711;

        check_int(parse_reserved_regions("", &regions, &n), ==, 0);
        check_uint(n, ==, 0);
        check(regions != (ReservedRegion *) 0x1);
        free(regions);
}

static void regions_bad_line_fails_whole_parse(void) {
        check_regions_fail("0x00000000fee00000 0x00000000feefffff msi\n"
                           "garbage\n",
                           -EBADMSG);
        check_regions_fail("garbage\n"
                           "0x00000000fee00000 0x00000000feefffff msi\n",
                           -EBADMSG);
        check_regions_fail("0x00000000fee00000 0x00000000feefffff msi\n"
                           "\n"
                           "0x000000fd00000000 0x000000ffffffffff reserved\n",
                           -EBADMSG);
        check_regions_fail("\n", -EBADMSG);
}

static void regions_malformed_lines_rejected(void) {
        static const char *const bad[] = {
                "0x00000000fee00000 0x00000000feefffff\n", /* no type */
                "0x00000000fee00000 msi\n", /* no end */
                "0x00000000fee00000  0x00000000feefffff msi\n", /* two blanks */
                "0x00000000fee00000 0x00000000feefffff msi \n", /* trailing blank */
                "0x00000000fee00000\t0x00000000feefffff msi\n", /* tab */
                "00000000fee00000 0x00000000feefffff msi\n", /* no 0x */
                "0x00000000fee00000 0x00000000feefffff MSI\n", /* type is case-sensitive */
                " 0x00000000fee00000 0x00000000feefffff msi\n", /* leading blank */
                "0x-0000000fee00000 0x00000000feefffff msi\n", /* sign */
                "0x00000000fee00000 0x10000000000000000 msi\n", /* beyond 64 bits */
                "0xfee00000g 0x00000000feefffff msi\n", /* junk in number */
        };

        FOREACH_ARRAY(i, bad, ELEMENTSOF(bad))
                check_regions_fail(*i, -EBADMSG);
}

static void regions_end_below_start_rejected(void) {
        check_regions_fail("0x00000000feefffff 0x00000000fee00000 msi\n", -EBADMSG);
}

static void regions_unknown_type_rejected(void) {
        check_regions_fail("0x00000000fee00000 0x00000000feefffff doorbell\n", -EBADMSG);
        check_regions_fail("0x00000000fee00000 0x00000000feefffff direct-\n", -EBADMSG);
        check_regions_fail("0x00000000fee00000 0x00000000feefffff \n", -EBADMSG);
}

static void regions_overlong_line_rejected(void) {
        char line[256];

        memset(line, 'a', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\0';
        memcpy(line, "0x00000000fee00000 0x00000000feefffff ", 38);
        check_regions_fail(line, -EBADMSG);
}

static void region_type_round_trips(void) {
        for (RegionType t = 0; t < _REGION_TYPE_MAX; t++)
                check_int(region_type_from_string(region_type_to_string(t)), ==, t);
        check_str(region_type_to_string(REGION_DIRECT_RELAXABLE), "direct-relaxable");
        check_str(region_type_to_string(REGION_MSI), "msi");
        check(region_type_to_string(_REGION_TYPE_MAX) == NULL);
        check(region_type_to_string(_REGION_TYPE_INVALID) == NULL);
        check_int(region_type_from_string("bogus"), ==, _REGION_TYPE_INVALID);
}

static void check_hex(const char *text, uint32_t max, int expected_r, uint32_t expected) {
        uint32_t v = 4711;
        int r = parse_sysfs_hex(text, max, &v);

        if (r != expected_r)
                test_fail("parse_sysfs_hex(\"%s\", 0x%x) = %d, expected %d", text, max, r, expected_r);
        check_uint(v, ==, expected_r == 0 ? expected : 4711);
}

static void sysfs_hex_reads_kernel_attributes(void) {
        check_hex("0x8086\n", UINT16_MAX, 0, 0x8086);
        check_hex("0x020000\n", 0xffffff, 0, 0x020000);
        check_hex("0x00ff00", 0xffffff, 0, 0x00ff00);
        check_hex("0xABcd\n", UINT16_MAX, 0, 0xabcd);
        check_hex("0x0\n", UINT16_MAX, 0, 0);
}

static void sysfs_hex_max_is_inclusive(void) {
        check_hex("0xffff\n", UINT16_MAX, 0, 0xffff);
        check_hex("0x10000\n", UINT16_MAX, -ERANGE, 0);
        check_hex("0xffffff\n", 0xffffff, 0, 0xffffff);
        check_hex("0x1000000\n", 0xffffff, -ERANGE, 0);
        check_hex("0xffffffff\n", UINT32_MAX, 0, UINT32_MAX);
        check_hex("0x100000000\n", UINT32_MAX, -ERANGE, 0);
}

static void sysfs_hex_rejects_overflow(void) {
        uint32_t v = 4711;

        /* Beyond 64 bits: an error either way, never a wrapped value. */
        check_int(parse_sysfs_hex("0x10000000000000000\n", UINT32_MAX, &v), <, 0);
        check_int(parse_sysfs_hex("0xffffffffffffffffffff\n", UINT32_MAX, &v), <, 0);
        check_uint(v, ==, 4711);
}

static void sysfs_hex_rejects_junk(void) {
        static const char *const bad[] = { "8086\n",     "0x\n",      "0x",        "",          "\n",
                                           "0x8086\n\n", "0x8086 \n", " 0x8086\n", "0x 8086",   "0x-1\n",
                                           "-0x1\n",     "0x8086x\n", "0x80g6\n",  "0x8086\nx", "x0x8086" };

        FOREACH_ARRAY(i, bad, ELEMENTSOF(bad))
                check_hex(*i, UINT32_MAX, -EINVAL, 0);
}

static void check_int_attr(const char *text, int expected_r, int expected) {
        int v = 4711;
        int r = parse_sysfs_int(text, &v);

        if (r != expected_r)
                test_fail("parse_sysfs_int(\"%s\") = %d, expected %d", text, r, expected_r);
        check_int(v, ==, expected_r == 0 ? expected : 4711);
}

static void sysfs_int_reads_numa_node(void) {
        check_int_attr("-1\n", 0, -1);
        check_int_attr("0\n", 0, 0);
        check_int_attr("3", 0, 3);
}

static void sysfs_int_limits(void) {
        check_int_attr("2147483647\n", 0, INT_MAX);
        check_int_attr("-2147483648\n", 0, INT_MIN);
        check_int_attr("2147483648\n", -ERANGE, 0);
        check_int_attr("-2147483649\n", -ERANGE, 0);
        check_int_attr("99999999999999999999999\n", -ERANGE, 0);
}

static void sysfs_int_rejects_junk(void) {
        static const char *const bad[] = { "",      "\n",   "-",      "-\n",   "+1\n",  " 1\n", "1 \n",
                                           "1\n\n", "1x\n", "0x10\n", "--1\n", "1.0\n", "abc" };

        FOREACH_ARRAY(i, bad, ELEMENTSOF(bad))
                check_int_attr(*i, -EINVAL, 0);
}

TESTS_MAIN(TEST_CASE(regions_parses_kernel_output), TEST_CASE(regions_last_line_needs_no_newline),
           TEST_CASE(regions_full_64bit_range), TEST_CASE(regions_single_address_region),
           TEST_CASE(regions_empty_text_is_no_regions), TEST_CASE(regions_bad_line_fails_whole_parse),
           TEST_CASE(regions_malformed_lines_rejected), TEST_CASE(regions_end_below_start_rejected),
           TEST_CASE(regions_unknown_type_rejected), TEST_CASE(regions_overlong_line_rejected),
           TEST_CASE(region_type_round_trips), TEST_CASE(sysfs_hex_reads_kernel_attributes),
           TEST_CASE(sysfs_hex_max_is_inclusive), TEST_CASE(sysfs_hex_rejects_overflow),
           TEST_CASE(sysfs_hex_rejects_junk), TEST_CASE(sysfs_int_reads_numa_node), TEST_CASE(sysfs_int_limits),
           TEST_CASE(sysfs_int_rejects_junk))
