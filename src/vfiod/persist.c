/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the file of persistent assignments in the state directory. */

#include <json-c/json.h>
#include <sys/stat.h>

#include "journal.h"
#include "log.h"
#include "macro.h"
#include "persist.h"

#define PERSIST_FILE "assignments.json"

static const char *const persist_change_table[_PERSIST_CHANGE_MAX] = {
        [PERSIST_KEEP] = "keep",
        [PERSIST_ADD] = "add",
        [PERSIST_ADD_FORCED] = "add-forced",
        [PERSIST_REMOVE] = "remove",
};

const char *persist_change_to_string(PersistChange c) {
        return c >= 0 && c < _PERSIST_CHANGE_MAX ? persist_change_table[c] : NULL;
}

PersistChange persist_change_from_string(const char *s) {
        for (PersistChange c = 0; s && c < _PERSIST_CHANGE_MAX; c++)
                if (streq(persist_change_table[c], s))
                        return c;
        return _PERSIST_CHANGE_INVALID;
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const PersistEntry *) a)->address, ((const PersistEntry *) b)->address);
}

void persist_set_done(PersistSet *s) {
        free(s->entries);
        *s = (PersistSet){};
}

const PersistEntry *persist_set_find(const PersistSet *s, const char *address) {
        PersistEntry key = {};

        if (s->n == 0 || strlen(address) >= sizeof(key.address))
                return NULL;
        strcpy(key.address, address);
        return bsearch(&key, s->entries, s->n, sizeof(PersistEntry), cmp_entry);
}

bool persist_set_contains(const PersistSet *s, const char *address) {
        return persist_set_find(s, address);
}

/* Adds e, or replaces the entry of its address. */
static int set_put(PersistSet *s, const PersistEntry *e) {
        PersistEntry *found = (PersistEntry *) persist_set_find(s, e->address), *a;

        if (found) {
                *found = *e;
                return 0;
        }
        a = reallocarray(s->entries, s->n + 1, sizeof(PersistEntry));
        if (!a)
                return -ENOMEM;
        s->entries = a;
        s->entries[s->n++] = *e;
        qsort(s->entries, s->n, sizeof(PersistEntry), cmp_entry);
        return 0;
}

static void set_remove(PersistSet *s, const char *address) {
        const PersistEntry *e = persist_set_find(s, address);
        size_t i;

        if (!e)
                return;
        i = (size_t) (e - s->entries);
        memmove(s->entries + i, s->entries + i + 1, (s->n - i - 1) * sizeof(PersistEntry));
        s->n--;
}

static int file_path(const char *dir, char **ret) {
        return asprintf(ret, "%s/" PERSIST_FILE, dir) < 0 ? -ENOMEM : 0;
}

static int json_hex(struct json_object *o, const char *key, uint32_t max, uint32_t *ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        return parse_sysfs_hex(json_object_get_string(v), max, ret) < 0 ? -EBADMSG : 0;
}

static int parse_identity(struct json_object *o, DeviceIdentity *ret) {
        uint32_t v[5];
        int r;

        r = json_hex(o, "vendor", UINT16_MAX, &v[0]);
        if (r >= 0)
                r = json_hex(o, "device", UINT16_MAX, &v[1]);
        if (r >= 0)
                r = json_hex(o, "subsystem_vendor", UINT16_MAX, &v[2]);
        if (r >= 0)
                r = json_hex(o, "subsystem_device", UINT16_MAX, &v[3]);
        if (r >= 0)
                r = json_hex(o, "class", 0xffffff, &v[4]);
        if (r < 0)
                return r;
        *ret = (DeviceIdentity){ .vendor = (uint16_t) v[0],
                                 .device = (uint16_t) v[1],
                                 .subsystem_vendor = (uint16_t) v[2],
                                 .subsystem_device = (uint16_t) v[3],
                                 .class = v[4] };
        return 0;
}

/* An entry is an object with the address, the identity and force, or (as older versions wrote
 * it) a bare address: assigned with the safety check, its identity unknown. */
static int parse_entry(struct json_object *v, PersistEntry *ret) {
        struct json_object *address = v, *force;
        PersistEntry e = {};

        if (json_object_is_type(v, json_type_object)) {
                if (!json_object_object_get_ex(v, "address", &address) || parse_identity(v, &e.identity) < 0)
                        return -EBADMSG;
                e.has_identity = true;
                if (json_object_object_get_ex(v, "force", &force)) {
                        if (!json_object_is_type(force, json_type_boolean))
                                return -EBADMSG;
                        e.force = json_object_get_boolean(force);
                }
        }
        if (!json_object_is_type(address, json_type_string) ||
            pci_address_parse(json_object_get_string(address), e.address) < 0)
                return -EBADMSG;
        *ret = e;
        return 0;
}

int persist_load(const char *dir, PersistSet *ret) {
        _cleanup_free_ char *path = NULL;
        struct json_object *o, *devices;
        PersistSet s = {};
        int r = 0;

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
                return log_error_errno(-EBADMSG, "%s: expected {\"devices\": [entries]}.", path);
        }
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                PersistEntry e;

                if (parse_entry(json_object_array_get_idx(devices, i), &e) < 0) {
                        log_warning("%s: ignoring entry %zu, not a PCI address with a device identity.", path, i);
                        continue;
                }
                r = set_put(&s, &e);
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

/* "0x" and width hex digits, as sysfs writes ids. */
static struct json_object *json_hex_new(int width, uint32_t v) {
        char text[16];

        snprintf(text, sizeof(text), "0x%0*x", width, v);
        return json_object_new_string(text);
}

static struct json_object *entry_to_json(const PersistEntry *e) {
        struct json_object *o;

        if (!e->has_identity)
                return json_object_new_string(e->address);
        o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "address", json_object_new_string(e->address));
        json_object_object_add(o, "vendor", json_hex_new(4, e->identity.vendor));
        json_object_object_add(o, "device", json_hex_new(4, e->identity.device));
        json_object_object_add(o, "subsystem_vendor", json_hex_new(4, e->identity.subsystem_vendor));
        json_object_object_add(o, "subsystem_device", json_hex_new(4, e->identity.subsystem_device));
        json_object_object_add(o, "class", json_hex_new(6, e->identity.class));
        json_object_object_add(o, "force", json_object_new_boolean(e->force));
        return o;
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
        for (size_t i = 0; i < s->n; i++) {
                struct json_object *e = entry_to_json(&s->entries[i]);

                if (!e || json_object_array_add(devices, e) < 0) {
                        json_object_put(e);
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        r = file_path(dir, &path);
        if (r >= 0) {
                (void) mkdir(dir, 0755);
                r = json_write_file_atomic(path, o);
        }
        json_object_put(o);
        return r;
}

int persist_update(const char *dir, const char *sysfs_root, PersistSet *s, char *const *addresses, size_t n,
                   PersistChange change) {
        int r;

        if (change == PERSIST_KEEP)
                return 0;
        for (size_t i = 0; i < n; i++) {
                PersistEntry e = { .force = change == PERSIST_ADD_FORCED };

                if (change == PERSIST_REMOVE) {
                        set_remove(s, addresses[i]);
                        continue;
                }
                if (strlen(addresses[i]) >= sizeof(e.address))
                        return -EINVAL;
                strcpy(e.address, addresses[i]);
                r = sysfs_read_identity(sysfs_root, e.address, &e.identity);
                if (r < 0)
                        log_warning_errno(r, "Cannot read the identity of %s, recording it without: %m", e.address);
                e.has_identity = r >= 0;
                r = set_put(s, &e);
                if (r < 0)
                        return r;
        }
        return persist_save(dir, s);
}

static int format_identity(const DeviceIdentity *id, char **ret) {
        return asprintf(ret, "%04x:%04x (subsystem %04x:%04x, class 0x%06x)", id->vendor, id->device,
                        id->subsystem_vendor, id->subsystem_device, id->class) < 0
                       ? -ENOMEM
                       : 0;
}

static bool identity_equal(const DeviceIdentity *a, const DeviceIdentity *b) {
        return a->vendor == b->vendor && a->device == b->device && a->subsystem_vendor == b->subsystem_vendor &&
               a->subsystem_device == b->subsystem_device && a->class == b->class;
}

int persist_entry_check(const PersistEntry *e, const DeviceIdentity *now, char **ret_why) {
        _cleanup_free_ char *was = NULL, *is = NULL;
        int r;

        *ret_why = NULL;
        if (!e->has_identity || identity_equal(&e->identity, now))
                return 0;
        r = format_identity(&e->identity, &was);
        if (r >= 0)
                r = format_identity(now, &is);
        if (r < 0)
                return r;
        return asprintf(ret_why, "%s is now %s, recorded as %s", e->address, is, was) < 0 ? -ENOMEM : 0;
}
