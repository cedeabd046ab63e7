/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal TAP harness for the unit tests. Each test case is a function; a failed check prints
 * where and what, and ends that case (the others still run). The exit status is non-zero when
 * any case failed, so the tests also work without a TAP reader. */

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

typedef struct TestCase {
        const char *name;
        void (*run)(void);
} TestCase;

#define TEST_CASE(f)                                                                                                   \
        { #f, f }

extern jmp_buf test_abort_jmp;

#define test_fail(...)                                                                                                 \
        do {                                                                                                           \
                printf("# %s:%d: ", __FILE__, __LINE__);                                                               \
                printf(__VA_ARGS__);                                                                                   \
                printf("\n");                                                                                          \
                fflush(stdout);                                                                                        \
                longjmp(test_abort_jmp, 1);                                                                            \
        } while (0)

#define check(expr)                                                                                                    \
        do {                                                                                                           \
                if (!(expr))                                                                                           \
                        test_fail("check failed: %s", #expr);                                                          \
        } while (0)

#define check_int(a, op, b)                                                                                            \
        do {                                                                                                           \
                intmax_t _a_ = (intmax_t) (a), _b_ = (intmax_t) (b);                                                   \
                if (!(_a_ op _b_))                                                                                     \
                        test_fail("check failed: %s %s %s (%jd %s %jd)", #a, #op, #b, _a_, #op, _b_);                  \
        } while (0)

#define check_uint(a, op, b)                                                                                           \
        do {                                                                                                           \
                uintmax_t _a_ = (uintmax_t) (a), _b_ = (uintmax_t) (b);                                                \
                if (!(_a_ op _b_))                                                                                     \
                        test_fail("check failed: %s %s %s (0x%jx %s 0x%jx)", #a, #op, #b, _a_, #op, _b_);              \
        } while (0)

#define check_str(a, b)                                                                                                \
        do {                                                                                                           \
                const char *_a_ = (a), *_b_ = (b);                                                                     \
                if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0)                                                             \
                        test_fail("check failed: %s == %s (\"%s\" vs \"%s\")", #a, #b, _a_ ?: "(null)",                \
                                  _b_ ?: "(null)");                                                                    \
        } while (0)

/* If set, called after every case, passed or failed: frees what the case made. */
extern void (*test_cleanup_hook)(void);

/* Runs every case, prints TAP, returns the exit status for main(). */
int tests_run(const TestCase *cases, size_t n);

#define TESTS_MAIN(...)                                                                                                \
        int main(void) {                                                                                               \
                static const TestCase cases[] = { __VA_ARGS__ };                                                       \
                return tests_run(cases, sizeof(cases) / sizeof(cases[0]));                                             \
        }
