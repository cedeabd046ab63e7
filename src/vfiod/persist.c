/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the file of persistent assignments in the state directory. */

#include <json-c/json.h>
#include <sys/stat.h>

#include "address.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "persist.h"

#define PERSIST_FILE "assignments.json"

static int cmp_string(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void persist_set_done(PersistSet *s) {
        strv_free(s->addresses);
        *s = (PersistSet){};
}

bool persist_set_contains(const PersistSet *s, const char *address) {
        return s->n > 0 && bsearch(&address, s->addresses, s->n, sizeof(char *), cmp_string);
}

static int set_add(PersistSet *s, const char *address) {
        char **a;

        if (persist_set_contains(s, address))
                return 0;
        a = reallocarray(s->addresses, s->n + 2, sizeof(char *));
        if (!a)
                return -ENOMEM;
        s->addresses = a;
        s->addresses[s->n] = strdup(address);
        if (!s->addresses[s->n])
                return -ENOMEM;
        s->addresses[++s->n] = NULL;
        qsort(s->addresses, s->n, sizeof(char *), cmp_string);
        return 0;
}

static void set_remove(PersistSet *s, const char *address) {
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->addresses[i], address)) {
                        free(s->addresses[i]);
                        memmove(s->addresses + i, s->addresses + i + 1, (s->n - i) * sizeof(char *));
                        s->n--;
                        return;
                }
}

static int file_path(const char *dir, char **ret) {
        return asprintf(ret, "%s/" PERSIST_FILE, dir) < 0 ? -ENOMEM : 0;
}

int persist_load(const char *dir, PersistSet *ret) {
        _cleanup_free_ char *path = NULL;
        struct json_object *o, *devices;
        PersistSet s = {};
        int r;

        r = file_path(dir, &path);
        if (r < 0)
                return r;
        if (access(path, F_OK) < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = s;
                return 0;
        }
        o = json_object_from_file(path);
        if (!o || !json_object_object_get_ex(o, "devices", &devices) ||
            !json_object_is_type(devices, json_type_array)) {
                json_object_put(o);
                return log_error_errno(-EBADMSG, "%s: expected {\"devices\": [addresses]}.", path);
        }
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                struct json_object *v = json_object_array_get_idx(devices, i);
                char address[PCI_ADDRESS_MAX];

                if (!json_object_is_type(v, json_type_string) ||
                    pci_address_parse(json_object_get_string(v), address) < 0) {
                        log_warning("%s: ignoring entry %zu, not a PCI address.", path, i);
                        continue;
                }
                r = set_add(&s, address);
                if (r < 0)
                        break;
        }
        json_object_put(o);
        if (r < 0) {
                persist_set_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

static int persist_save(const char *dir, const PersistSet *s) {
        _cleanup_free_ char *path = NULL;
        struct json_object *o = json_object_new_object(), *devices = json_object_new_array();
        int r;

        if (!o || !devices) {
                json_object_put(o);
                json_object_put(devices);
                return -ENOMEM;
        }
        json_object_object_add(o, "devices", devices);
        for (size_t i = 0; i < s->n; i++)
                json_object_array_add(devices, json_object_new_string(s->addresses[i]));
        r = file_path(dir, &path);
        if (r >= 0) {
                (void) mkdir(dir, 0755);
                r = json_write_file_atomic(path, o);
        }
        json_object_put(o);
        return r;
}

int persist_update(const char *dir, PersistSet *s, char *const *addresses, size_t n, bool add) {
        int r;

        for (size_t i = 0; i < n; i++) {
                if (add) {
                        r = set_add(s, addresses[i]);
                        if (r < 0)
                                return r;
                } else
                        set_remove(s, addresses[i]);
        }
        return persist_save(dir, s);
}
