/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What users type to name things (src/shared/address.c): PCI addresses, group ids and targets, as
 * they come from Manager's methods, vfioctl's command line and the configuration. The input is the
 * string. Besides not crashing, the parsers must agree with each other and with their own output. */

#include <errno.h>
#include <inttypes.h>

#include "address.h"
#include "fuzz.h"
#include "macro.h"

/* "dddd:bb:dd.f" with 4 to 8 domain digits, all lower-case hex. */
static bool is_canonical(const char *a) {
        size_t n = strlen(a), domain = n - 8;

        if (n < 12 || n > PCI_ADDRESS_MAX - 1)
                return false;
        for (size_t i = 0; i < n; i++) {
                char expect = i == domain ? ':' : i == domain + 3 ? ':' : i == domain + 6 ? '.' : 'x';

                if (expect != 'x' ? a[i] != expect : !strchr("0123456789abcdef", a[i]))
                        return false;
        }
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL;
        char address[PCI_ADDRESS_MAX], again[PCI_ADDRESS_MAX], printed[16];
        uint32_t group = 0;
        Target t;
        int ra, rg, rt;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        s = fuzz_strndup(data, size);

        ra = pci_address_parse(s, address);
        rg = group_id_parse(s, &group);
        rt = target_parse(s, &t);

        fuzz_check(ra == 0 || ra == -EINVAL);
        fuzz_check(rg == 0 || rg == -EINVAL || rg == -ERANGE);
        fuzz_check(rt == 0 || rt == -EINVAL);

        if (ra == 0) {
                /* The canonical form is what sysfs names the device: it parses to itself. */
                fuzz_check(is_canonical(address));
                fuzz_check(pci_address_parse(address, again) == 0);
                fuzz_check(streq(address, again));
                /* The input is "bb:dd.f", domain 0, or the same after a domain of 4 to 8 digits. */
                fuzz_check(strlen(s) == 7 || (strlen(s) >= 12 && strlen(s) <= 16));
                fuzz_check(strcasecmp(s + strlen(s) - 7, address + strlen(address) - 7) == 0);
                fuzz_check(strtoul(s, NULL, 16) == strtoul(address, NULL, 16) || strlen(s) == 7);
                fuzz_check(strlen(s) > 7 || (strlen(address) == 12 && startswith(address, "0000:")));
        }
        if (rg == 0) {
                /* Digits only, no leading zeros: printing the id gives the input back. */
                fuzz_check(group < UINT32_MAX);
                snprintf(printed, sizeof(printed), "%" PRIu32, group);
                fuzz_check(streq(printed, s));
        }

        /* A target is a group id first, else an address; nothing else. */
        fuzz_check((rt == 0) == (rg == 0 || ra == 0));
        if (rt == 0 && rg == 0)
                fuzz_check(t.kind == TARGET_GROUP && t.group == group);
        else if (rt == 0)
                fuzz_check(t.kind == TARGET_DEVICE && streq(t.address, address));
        return 0;
}
