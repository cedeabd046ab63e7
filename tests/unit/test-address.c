/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What users may type to name a device, a group, or either. */

#include <errno.h>

#include "address.h"
#include "tests.h"

static void check_address_ok(const char *in, const char *canonical) {
        char out[PCI_ADDRESS_MAX];

        memset(out, 'X', sizeof(out));
        if (pci_address_parse(in, out) != 0)
                test_fail("pci_address_parse(\"%s\") failed", in);
        check_str(out, canonical);
}

static void check_address_bad(const char *in) {
        char out[PCI_ADDRESS_MAX] = "untouched";
        int r = pci_address_parse(in, out);

        if (r != -EINVAL)
                test_fail("pci_address_parse(\"%s\") = %d, expected -EINVAL", in ?: "(null)", r);
        check_str(out, "untouched");
}

static void address_accepts_full_form(void) {
        check_address_ok("0000:01:01.0", "0000:01:01.0");
        check_address_ok("0000:00:1f.7", "0000:00:1f.7");
        check_address_ok("0001:ff:00.3", "0001:ff:00.3");
}

static void address_without_domain_means_domain_0000(void) {
        check_address_ok("01:01.0", "0000:01:01.0");
        check_address_ok("00:00.0", "0000:00:00.0");
}

static void address_upper_case_is_normalised(void) {
        check_address_ok("0000:0A:1F.7", "0000:0a:1f.7");
        check_address_ok("ABCD:EF:1e.2", "abcd:ef:1e.2");
        check_address_ok("0B:00.1", "0000:0b:00.1");
}

static void address_accepts_long_vmd_domain(void) {
        check_address_ok("10000:e1:00.0", "10000:e1:00.0");
        check_address_ok("ffffffff:01:01.0", "ffffffff:01:01.0");
}

static void address_rejects_short_fields(void) {
        check_address_bad("1:01.0");
        check_address_bad("01:1.0");
        check_address_bad("000:01:01.0");
        check_address_bad("0000:1:01.0");
}

static void address_rejects_device_above_1f(void) {
        check_address_bad("0000:01:20.0");
        check_address_bad("01:ff.0");
}

static void address_rejects_function_above_7(void) {
        check_address_bad("0000:01:01.8");
        check_address_bad("0000:01:01.f");
}

static void address_rejects_trailing_junk(void) {
        check_address_bad("0000:01:01.0 ");
        check_address_bad("0000:01:01.0\n");
        check_address_bad("0000:01:01.00");
        check_address_bad("0000:01:01.0x");
        check_address_bad("0000:01:01.0:");
}

static void address_rejects_leading_junk_and_wrong_separators(void) {
        check_address_bad(" 0000:01:01.0");
        check_address_bad("0000-01:01.0");
        check_address_bad("0000:01.01.0");
        check_address_bad("0000:01:01:0");
        check_address_bad("0000:01:01.");
        check_address_bad("0000::01.0");
        check_address_bad("000000000:01:01.0"); /* 9 domain digits */
        check_address_bad("0:0000:01:01.0");
        check_address_bad("g000:01:01.0");
        check_address_bad("12");
        check_address_bad("zz");
}

static void address_rejects_empty_and_null(void) {
        check_address_bad("");
        check_address_bad(NULL);
}

static void check_group_ok(const char *in, uint32_t expected) {
        uint32_t id = 4711;

        if (group_id_parse(in, &id) != 0)
                test_fail("group_id_parse(\"%s\") failed", in);
        check_uint(id, ==, expected);
}

static void check_group_bad(const char *in) {
        uint32_t id = 4711;
        int r = group_id_parse(in, &id);

        if (r >= 0)
                test_fail("group_id_parse(\"%s\") accepted it as %" PRIu32, in ?: "(null)", id);
        check_uint(id, ==, 4711);
}

static void group_id_accepts_decimal(void) {
        check_group_ok("0", 0);
        check_group_ok("12", 12);
        check_group_ok("4095", 4095);
        check_group_ok("4294967294", UINT32_MAX - 1);
}

static void group_id_rejects_sign_leading_zero_junk_and_empty(void) {
        check_group_bad("-1");
        check_group_bad("+1");
        check_group_bad("012");
        check_group_bad("00");
        check_group_bad("12a");
        check_group_bad("0x12");
        check_group_bad(" 12");
        check_group_bad("12 ");
        check_group_bad("");
        check_group_bad(NULL);
}

static void group_id_rejects_uint32_max_and_beyond(void) {
        check_group_bad("4294967295");
        check_group_bad("4294967296");
        check_group_bad("99999999999999999999999999");
}

static void target_group_id_names_a_group(void) {
        Target t;

        check_int(target_parse("12", &t), ==, 0);
        check_int(t.kind, ==, TARGET_GROUP);
        check_uint(t.group, ==, 12);

        check_int(target_parse("0", &t), ==, 0);
        check_int(t.kind, ==, TARGET_GROUP);
        check_uint(t.group, ==, 0);
}

static void target_address_names_a_device(void) {
        Target t;

        check_int(target_parse("0000:01:01.0", &t), ==, 0);
        check_int(t.kind, ==, TARGET_DEVICE);
        check_str(t.address, "0000:01:01.0");

        check_int(target_parse("0A:1f.3", &t), ==, 0);
        check_int(t.kind, ==, TARGET_DEVICE);
        check_str(t.address, "0000:0a:1f.3");
}

static void target_rejects_what_is_neither(void) {
        static const char *const bad[] = { "",       "zz",           "-1",  "012",    "4294967295",
                                           "1:01.0", "0000:01:20.0", "12a", "group12" };
        Target t;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = target_parse(bad[i], &t);
                if (r != -EINVAL)
                        test_fail("target_parse(\"%s\") = %d, expected -EINVAL", bad[i], r);
        }
}

TESTS_MAIN(TEST_CASE(address_accepts_full_form), TEST_CASE(address_without_domain_means_domain_0000),
           TEST_CASE(address_upper_case_is_normalised), TEST_CASE(address_accepts_long_vmd_domain),
           TEST_CASE(address_rejects_short_fields), TEST_CASE(address_rejects_device_above_1f),
           TEST_CASE(address_rejects_function_above_7), TEST_CASE(address_rejects_trailing_junk),
           TEST_CASE(address_rejects_leading_junk_and_wrong_separators), TEST_CASE(address_rejects_empty_and_null),
           TEST_CASE(group_id_accepts_decimal), TEST_CASE(group_id_rejects_sign_leading_zero_junk_and_empty),
           TEST_CASE(group_id_rejects_uint32_max_and_beyond), TEST_CASE(target_group_id_names_a_group),
           TEST_CASE(target_address_names_a_device), TEST_CASE(target_rejects_what_is_neither))
