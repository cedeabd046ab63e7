/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays inputs through a target's LLVMFuzzerTestOneInput without libFuzzer, so that every target
 * also builds with gcc and its corpus runs as an ordinary test: each argument is a file, or a
 * directory whose regular files (not recursively, in name order) are the inputs. Prints TAP, one
 * line per input; an input that crashes the target ends the run, and the test fails. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "macro.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static unsigned n_inputs, n_failed;

static int read_input(const char *path, uint8_t **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, allocated = 0;
        uint8_t *exact;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        for (;;) {
                ssize_t n;

                if (size == allocated) {
                        uint8_t *grown;

                        allocated = allocated ? allocated * 2 : 4096;
                        grown = realloc(buf, allocated);
                        if (!grown)
                                return -ENOMEM;
                        buf = grown;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        /* A copy of exactly the input's bytes, so that ASan sees a read past its end. */
        exact = malloc(size);
        if (!exact && size > 0)
                return -ENOMEM;
        if (size > 0)
                memcpy(exact, buf, size);
        *ret = exact;
        *ret_size = size;
        return 0;
}

static void run_file(const char *path) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        n_inputs++;
        r = read_input(path, &data, &size);
        if (r < 0) {
                n_failed++;
                printf("not ok %u - %s: %s\n", n_inputs, path, strerror(-r));
                fflush(stdout);
                return;
        }
        /* Printed first: if the target crashes, the log shows which input did it. */
        printf("# %s (%zu bytes)\n", path, size);
        fflush(stdout);
        r = LLVMFuzzerTestOneInput(data, size);
        /* libFuzzer allows 0 and -1 (keep the input out of the corpus), nothing else. */
        if (r != 0 && r != -1) {
                n_failed++;
                printf("not ok %u - %s: returned %d\n", n_inputs, path, r);
        } else
                printf("ok %u - %s\n", n_inputs, path);
        fflush(stdout);
}

static int cmp_string(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int run_dir(const char *dir) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        d = opendir(dir);
        if (!d)
                return negative_errno();
        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        while ((errno = 0, de = readdir(d))) {
                char **grown;

                if (de->d_name[0] == '.')
                        continue;
                grown = reallocarray(names, n + 2, sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                names = grown;
                if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                names[++n] = NULL;
        }
        if (errno != 0)
                return negative_errno();
        qsort(names, n, sizeof(char *), cmp_string);

        for (size_t i = 0; i < n; i++) {
                struct stat st;

                if (stat(names[i], &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                run_file(names[i]);
        }
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc < 2) {
                fprintf(stderr, "Usage: %s FILE|DIRECTORY...\n", argv[0]);
                return EXIT_FAILURE;
        }
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);

        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        n_failed++;
                        printf("not ok %u - %s: %m\n", ++n_inputs, argv[i]);
                        continue;
                }
                if (!S_ISDIR(st.st_mode)) {
                        run_file(argv[i]);
                        continue;
                }
                r = run_dir(argv[i]);
                if (r < 0) {
                        n_failed++;
                        printf("not ok %u - %s: %s\n", ++n_inputs, argv[i], strerror(-r));
                }
        }
        printf("1..%u\n", n_inputs);
        /* An empty corpus is a mistake in the build, not a pass. */
        if (n_inputs == 0) {
                fprintf(stderr, "%s: no inputs\n", argv[0]);
                return EXIT_FAILURE;
        }
        return n_failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
