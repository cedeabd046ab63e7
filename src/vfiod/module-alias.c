/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the parsed PCI aliases of modules.alias and when to parse them again. */

#include <fnmatch.h>
#include <stdio.h>
#include <sys/stat.h>

#include "macro.h"
#include "module-alias.h"

typedef struct Alias {
        char *pattern;
        char *module;
        bool vfio; /* a vfio variant driver's alias (its pattern starts with "vfio_pci:") */
} Alias;

/* One file at a time: the daemon has one modules directory. */
static struct {
        char *path;
        struct stat st; /* what the file was when parsed */
        Alias *aliases;
        size_t n;
} cache;
static unsigned loads;

unsigned module_alias_loads(void) {
        return loads;
}

void module_alias_cache_clear(void) {
        for (size_t i = 0; i < cache.n; i++) {
                free(cache.aliases[i].pattern);
                free(cache.aliases[i].module);
        }
        free(cache.aliases);
        free(cache.path);
        memset(&cache, 0, sizeof(cache));
}

static bool same_file(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Keeps an alias that can choose a driver: a variant's vfio_pci: alias (vfio_pci's own matches
 * everything and says nothing) or a host driver's pci: alias (not a vfio module's). */
static int add_line(const char *line, size_t *allocated) {
        _cleanup_free_ char *pattern = NULL, *module = NULL;
        bool vfio;

        /* Whole words, however long: a fixed-width %s would split a long one in two. */
        if (sscanf(line, "alias %ms %ms", &pattern, &module) != 2)
                return 0;
        vfio = startswith(pattern, "vfio_pci:");
        if (vfio ? streq(module, "vfio_pci") : !startswith(pattern, "pci:") || startswith(module, "vfio"))
                return 0;
        if (cache.n == *allocated) {
                size_t k = *allocated ? *allocated * 2 : 256;
                Alias *a = reallocarray(cache.aliases, k, sizeof(Alias));
                if (!a)
                        return -ENOMEM;
                cache.aliases = a;
                *allocated = k;
        }
        cache.aliases[cache.n++] = (Alias){ TAKE_PTR(pattern), TAKE_PTR(module), vfio };
        return 0;
}

static int load(const char *alias_file) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0, allocated = 0;
        struct stat st;
        int r = 0;

        if (stat(alias_file, &st) < 0) {
                module_alias_cache_clear(); /* no file: no aliases */
                return 0;
        }
        if (cache.path && streq(cache.path, alias_file) && same_file(&cache.st, &st))
                return 0;
        module_alias_cache_clear();
        cache.path = strdup(alias_file);
        if (!cache.path)
                return -ENOMEM;
        cache.st = st;
        loads++;
        f = fopen(alias_file, "re");
        if (!f) {
                module_alias_cache_clear(); /* unreadable: no aliases, and try again next time */
                return 0;
        }
        while (r >= 0 && getline(&line, &size, f) > 0)
                r = add_line(line, &allocated);
        if (r < 0)
                module_alias_cache_clear();
        return r;
}

int module_alias_match(const char *alias_file, const char *modalias, bool want_vfio, char **ret) {
        int r;

        r = load(alias_file);
        if (r < 0)
                return r;
        for (size_t i = 0; i < cache.n; i++) {
                const Alias *a = &cache.aliases[i];

                if (a->vfio == want_vfio && fnmatch(a->pattern, modalias, 0) == 0) {
                        *ret = strdup(a->module);
                        return *ret ? 1 : -ENOMEM;
                }
        }
        return 0;
}
