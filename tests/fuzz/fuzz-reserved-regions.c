/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /sys/kernel/iommu_groups/N/reserved_regions (parse_reserved_regions() in src/vfiod/parse.c). The
 * input is the file's text. What parses must print back, in the kernel's own format, to a text that
 * parses to the same regions. */

#include <ctype.h>
#include <inttypes.h>

#include "fuzz.h"
#include "macro.h"
#include "parse.h"

/* Skips "0x" and one or more hex digits, the only way the kernel writes an address. */
static bool skip_hex(const char **p) {
        const char *s = *p;

        if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !isxdigit((unsigned char) s[2]))
                return false;
        s += 2;
        while (isxdigit((unsigned char) *s))
                s++;
        *p = s;
        return true;
}

/* "0xSTART 0xEND TYPE", nothing more, nothing less. */
static bool is_region_line(const char *line, size_t n) {
        _cleanup_free_ char *copy = strndup(line, n);
        const char *p = copy;

        fuzz_check(copy);
        return skip_hex(&p) && *p++ == ' ' && skip_hex(&p) && *p++ == ' ' && region_type_from_string(p) >= 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *printed = NULL;
        _cleanup_free_ ReservedRegion *regions = NULL, *again = NULL;
        size_t n = 0, n_again = 0, lines = 0, printed_size = 0;
        FILE *f;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        text = fuzz_strndup(data, size);

        r = parse_reserved_regions(text, &regions, &n);
        fuzz_check(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r < 0)
                return 0;

        /* One region per line, each in the kernel's format; a last line may lack its newline. */
        for (const char *p = text; *p; p = strchrnul(p, '\n'), p += !!*p) {
                fuzz_check(is_region_line(p, (size_t) (strchrnul(p, '\n') - p)));
                lines++;
        }
        fuzz_check(n == lines);

        f = open_memstream(&printed, &printed_size);
        fuzz_check(f);
        for (size_t i = 0; i < n; i++) {
                fuzz_check(regions[i].start <= regions[i].end);
                fuzz_check(region_type_to_string(regions[i].type));
                fuzz_check(region_type_from_string(region_type_to_string(regions[i].type)) == regions[i].type);
                fprintf(f, "0x%016" PRIx64 " 0x%016" PRIx64 " %s\n", regions[i].start, regions[i].end,
                        region_type_to_string(regions[i].type));
        }
        fuzz_check(fclose(f) == 0);

        fuzz_check(parse_reserved_regions(printed, &again, &n_again) == 0);
        fuzz_check(n_again == n);
        for (size_t i = 0; i < n; i++)
                fuzz_check(again[i].start == regions[i].start && again[i].end == regions[i].end &&
                           again[i].type == regions[i].type);
        return 0;
}
