/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the per-group intent log and runtime state under the runtime directory. */

#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "journal.h"
#include "log.h"
#include "macro.h"

static int entry_path(const char *dir, uint32_t group, char **ret) {
        return asprintf(ret, "%s/group-%" PRIu32 ".json", dir, group) < 0 ? -ENOMEM : 0;
}

/* Makes the rename itself durable: a crash right after must not bring the old file back. */
static int fsync_parent_dir(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash)
                *(slash == dir ? slash + 1 : slash) = '\0';
        fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return negative_errno();
        return 0;
}

int json_write_file_atomic(const char *path, struct json_object *o) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *text;
        size_t len;

        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        if (!text)
                return -ENOMEM;
        len = strlen(text);
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        if (write(fd, text, len) != (ssize_t) len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
                int r = errno > 0 ? -errno : -EIO;
                (void) unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                int r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return fsync_parent_dir(path);
}

static struct json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

int journal_write(const char *dir, uint32_t group, GroupState state, PersistChange persist, const DeviceMove *moves,
                  size_t n) {
        _cleanup_free_ char *path = NULL;
        struct json_object *o, *devices;
        int r;

        r = entry_path(dir, group, &path);
        if (r < 0)
                return r;
        o = json_object_new_object();
        devices = json_object_new_array();
        if (!o || !devices) {
                json_object_put(o);
                json_object_put(devices);
                return -ENOMEM;
        }
        json_object_object_add(o, "group", json_object_new_int64(group));
        json_object_object_add(o, "state", json_object_new_string(group_state_to_string(state)));
        json_object_object_add(o, "persist", json_object_new_string(persist_change_to_string(persist)));
        json_object_object_add(o, "devices", devices);
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_new_object();
                if (!d) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                json_object_object_add(d, "address", json_object_new_string(moves[i].address));
                json_object_object_add(d, "original_driver", json_string_or_null(moves[i].from));
                json_object_object_add(d, "vfio_driver", json_string_or_null(moves[i].to));
                json_object_array_add(devices, d);
        }
        r = json_write_file_atomic(path, o);
        json_object_put(o);
        return r;
}

int journal_remove(const char *dir, uint32_t group) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = entry_path(dir, group, &path);
        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

static int dup_json_string(struct json_object *o, const char *key, char **ret) {
        struct json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int parse_moves(struct json_object *devices, DeviceMove **ret, size_t *ret_n) {
        size_t n = json_object_array_length(devices);
        DeviceMove *moves = calloc(n ?: 1, sizeof(DeviceMove));
        char address[PCI_ADDRESS_MAX];
        int r;

        if (!moves)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(devices, i), *a;

                if (!json_object_object_get_ex(d, "address", &a) || !json_object_is_type(a, json_type_string) ||
                    pci_address_parse(json_object_get_string(a), address) < 0) {
                        r = -EBADMSG;
                        goto fail;
                }
                memcpy(moves[i].address, address, sizeof(address));
                r = dup_json_string(d, "original_driver", &moves[i].from);
                if (r >= 0)
                        r = dup_json_string(d, "vfio_driver", &moves[i].to);
                if (r < 0)
                        goto fail;
        }
        *ret = moves;
        *ret_n = n;
        return 0;
fail:
        device_moves_free(moves, n);
        return r;
}

static int parse_entry(struct json_object *o, JournalEntry *ret) {
        struct json_object *group, *state, *devices, *persist;
        JournalEntry e = {};

        if (!json_object_object_get_ex(o, "group", &group) || !json_object_is_type(group, json_type_int) ||
            !json_object_object_get_ex(o, "state", &state) || !json_object_is_type(state, json_type_string) ||
            !json_object_object_get_ex(o, "devices", &devices) || !json_object_is_type(devices, json_type_array))
                return -EBADMSG;
        if (json_object_get_int64(group) < 0 || json_object_get_int64(group) >= UINT32_MAX)
                return -EBADMSG;
        e.group = (uint32_t) json_object_get_int64(group);
        e.state = group_state_from_string(json_object_get_string(state));
        if (e.state != GROUP_ASSIGNING && e.state != GROUP_VFIO && e.state != GROUP_UNASSIGNING)
                return -EBADMSG;
        /* Older logs have no persist: the move leaves the persistent assignments as they are. */
        if (json_object_object_get_ex(o, "persist", &persist)) {
                e.persist = persist_change_from_string(json_object_get_string(persist));
                if (!json_object_is_type(persist, json_type_string) || e.persist < 0)
                        return -EBADMSG;
        }
        *ret = e;
        return parse_moves(devices, &ret->moves, &ret->n_moves);
}

void journal_entries_free(JournalEntry *entries, size_t n) {
        for (size_t i = 0; entries && i < n; i++)
                device_moves_free(entries[i].moves, entries[i].n_moves);
        free(entries);
}

static int load_one(const char *dir, const char *name, JournalEntry *ret) {
        _cleanup_free_ char *path = NULL;
        struct json_object *o;
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        o = json_object_from_file(path);
        if (!o)
                return log_warning_errno(-EBADMSG, "Ignoring unreadable journal file %s.", path);
        r = parse_entry(o, ret);
        json_object_put(o);
        if (r < 0)
                return log_warning_errno(r, "Ignoring malformed journal file %s: %m", path);
        return 0;
}

int journal_load_all(const char *dir, JournalEntry **ret, size_t *ret_n) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        JournalEntry *entries = NULL;
        struct dirent *de;
        size_t n = 0;

        if (!d && errno != ENOENT)
                return log_error_errno(negative_errno(), "Cannot open %s: %m", dir);
        while (d && (de = readdir(d))) {
                JournalEntry e, *a;
                const char *suffix = strrchr(de->d_name, '.');

                if (!startswith(de->d_name, "group-") || !suffix || !streq(suffix, ".json"))
                        continue;
                if (load_one(dir, de->d_name, &e) < 0)
                        continue;
                a = reallocarray(entries, n + 1, sizeof(JournalEntry));
                if (!a) {
                        device_moves_free(e.moves, e.n_moves);
                        journal_entries_free(entries, n);
                        return -ENOMEM;
                }
                entries = a;
                entries[n++] = e;
        }
        *ret = entries;
        *ret_n = n;
        return 0;
}
