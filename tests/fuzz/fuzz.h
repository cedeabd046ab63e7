/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every fuzz target shares: the libFuzzer entry points, a check that holds in every build, and
 * splitting an input into the parts a target feeds to different parsers. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: called once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Inputs larger than this are skipped: no parser here sees that much from the kernel, a bus message
 * or an administrator, and huge inputs only slow the fuzzer down. */
#define FUZZ_INPUT_MAX (64 * 1024)

/* Aborts (a crash to libFuzzer, a failure to the replay test) when a property of a parser does not
 * hold; unlike assert() it is never compiled out. */
#define fuzz_check(expr)                                                                                               \
        do {                                                                                                           \
                if (!(expr)) {                                                                                         \
                        fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #expr);                  \
                        abort();                                                                                       \
                }                                                                                                      \
        } while (0)

/* A NUL-terminated copy of data[0..size), as the parsers get their text from files and messages;
 * a NUL inside ends the string early, as it would there. Aborts when out of memory. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        fuzz_check(s);
        if (size > 0)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* The next part of an input made of parts, each ended by a line holding only sep (e.g. "--"): sets
 * *part and *part_size (the part's own newline, before the separator line, is kept) and advances the
 * input (data, size) past the separator line. The last part runs to the end. Returns false once
 * nothing is left. */
static inline bool fuzz_next_part(const uint8_t **data, size_t *size, const char *sep, const uint8_t **part,
                                  size_t *part_size) {
        size_t sep_len = strlen(sep);

        if (!*data)
                return false;
        *part = *data;
        for (size_t i = 0; i + sep_len <= *size; i++) {
                /* A separator line starts the input or follows a newline, and ends at a newline or at
                 * the end. */
                if ((i == 0 || (*data)[i - 1] == '\n') && memcmp(*data + i, sep, sep_len) == 0 &&
                    (i + sep_len == *size || (*data)[i + sep_len] == '\n')) {
                        size_t next = i + sep_len + (i + sep_len < *size);

                        *part_size = i;
                        *data += next;
                        *size -= next;
                        return true;
                }
        }
        *part_size = *size;
        *data = NULL; /* the last part has been handed out */
        *size = 0;
        return true;
}
