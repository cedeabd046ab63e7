/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: running unit-test cases and reporting them as TAP. */

#include <stdlib.h>

#include "tests.h"

jmp_buf test_abort_jmp;
void (*test_cleanup_hook)(void);

int tests_run(const TestCase *cases, size_t n) {
        volatile unsigned failed = 0;

        /* Each case's output follows its "# ..." notes; keep stdout and stderr in order. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("1..%zu\n", n);
        for (size_t i = 0; i < n; i++) {
                if (setjmp(test_abort_jmp) == 0) {
                        cases[i].run();
                        printf("ok %zu - %s\n", i + 1, cases[i].name);
                } else {
                        printf("not ok %zu - %s\n", i + 1, cases[i].name);
                        failed++;
                }
                if (test_cleanup_hook)
                        test_cleanup_hook();
        }
        if (failed > 0)
                printf("# %u of %zu failed\n", failed, n);
        return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
