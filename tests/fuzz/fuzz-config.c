/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration (src/vfiod/policy.c): vfiod.json and its drop-ins, as policy_load() applies them,
 * through policy_load_text(). The input is the main file, then each drop-in after a line "%%". Each
 * text is handed over in a buffer of exactly its size, without a NUL after it, so that ASan sees a
 * read past its end.
 *
 * Properties: a failure names the file and a line of it, on one line; a loaded configuration holds
 * only values the format allows, and its rules know where they were written; drop-ins add rules and
 * change nothing else. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>

#include "fuzz.h"
#include "log.h"
#include "macro.h"
#include "policy.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define FILES_MAX    8

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        /* policy.c logs nothing while loading, but keep debug output out of the fuzzer's way. */
        log_set_max_level(LOG_ERR);
        return 0;
}

static unsigned count_lines(const uint8_t *text, size_t size) {
        unsigned lines = 1;

        for (size_t i = 0; i < size; i++)
                lines += text[i] == '\n';
        return lines;
}

/* "FILE:LINE: ..." with LINE a line of the file, all on one line. */
static void check_error(const char *error, const char *file, unsigned lines) {
        const char *p;
        unsigned long line;
        char *end;

        fuzz_check(!strchr(error, '\n'));
        p = startswith(error, file);
        fuzz_check(p && *p == ':');
        if (!isdigit((unsigned char) p[1])) {
                /* Only a file that cannot be read has no line. */
                fuzz_check(startswith(p, ": cannot read: "));
                return;
        }
        line = strtoul(p + 1, &end, 10);
        fuzz_check(line >= 1 && line <= lines);
        fuzz_check(startswith(end, ": ") && end[2] != '\0');
}

static void check_config(const PolicyConfig *c, char *const files[], const unsigned lines[], size_t n_files) {
        static const char *const modes[] = { "fail", "soft", "hard", "kill" };
        bool mode_ok = false;

        FOREACH_ARRAY(m, modes, ELEMENTSOF(modes))
                mode_ok = mode_ok || streq(c->remove_mode, *m);
        fuzz_check(mode_ok);
        fuzz_check(c->remove_timeout_usec > 0 &&
                   c->remove_timeout_usec <= POLICY_REMOVE_TIMEOUT_MAX_SEC * USEC_PER_SEC);

        FOREACH_ARRAY(rule, c->rules, c->n_rules) {
                size_t f;

                fuzz_check(rule->n_users + rule->n_groups > 0);
                fuzz_check(rule->n_targets > 0);
                fuzz_check(rule->actions != 0 && rule->actions < (1u << _POLICY_ACTION_MAX));
                fuzz_check(rule->n_users == 0 || (rule->users && !rule->users[rule->n_users]));
                fuzz_check(rule->n_groups == 0 || (rule->groups && !rule->groups[rule->n_groups]));
                for (size_t i = 0; i < rule->n_users; i++)
                        fuzz_check(*rule->users[i]);
                for (size_t i = 0; i < rule->n_groups; i++)
                        fuzz_check(*rule->groups[i]);
                FOREACH_ARRAY(t, rule->targets, rule->n_targets) {
                        char again[PCI_ADDRESS_MAX];

                        fuzz_check(t->kind >= 0 && t->kind < _POLICY_TARGET_KIND_MAX);
                        if (t->kind == POLICY_TARGET_ADDRESS)
                                fuzz_check(pci_address_parse(t->address, again) == 0 && streq(again, t->address));
                        if (t->kind == POLICY_TARGET_ID)
                                fuzz_check(t->vendor >= -1 && t->vendor <= 0xffff && t->product >= -1 &&
                                           t->product <= 0xffff);
                }
                for (f = 0; f < n_files; f++)
                        if (streq(rule->file, files[f]))
                                break;
                fuzz_check(f < n_files);
                fuzz_check(rule->line >= 1 && rule->line <= lines[f]);
        }
}

/* No string of a loaded text holds a NUL: the loader uses them all as C strings. */
static void check_no_nul(struct json_object *o) {
        switch (json_object_get_type(o)) {
        case json_type_string:
                fuzz_check(strlen(json_object_get_string(o)) == (size_t) json_object_get_string_len(o));
                break;
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        check_no_nul(json_object_array_get_idx(o, i));
                break;
        case json_type_object: {
                json_object_object_foreach(o, key, v) {
                        (void) key;
                        check_no_nul(v);
                }
                break;
        }
        default:
                break;
        }
}

static void check_loaded_strings(const uint8_t *text, size_t size) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o;

        fuzz_check(tok);
        o = json_tokener_parse_ex(tok, (const char *) text, (int) size);
        if (!o && json_tokener_get_error(tok) == json_tokener_continue)
                o = json_tokener_parse_ex(tok, "\n", 1);
        json_tokener_free(tok);
        check_no_nul(o);
        json_object_put(o);
}

/* A final newline is the editor's business: a text loads with one exactly when it loads without. */
static void check_final_newline(const uint8_t *text, size_t size, bool dropin, int r) {
        _cleanup_policy_free_ PolicyConfig *c = NULL;
        _cleanup_free_ uint8_t *other = NULL;
        size_t other_size = size > 0 && text[size - 1] == '\n' ? size - 1 : size + 1;
        int r_other;

        other = malloc(other_size);
        fuzz_check(other);
        memcpy(other, text, size < other_size ? size : other_size);
        if (other_size > size)
                other[size] = '\n';
        fuzz_check(policy_new_default(&c) == 0);
        r_other = policy_load_text(c, "other.json", (const char *) other, other_size, dropin, NULL);
        if (r != -ENOMEM && r_other != -ENOMEM)
                fuzz_check((r >= 0) == (r_other >= 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_policy_free_ PolicyConfig *c = NULL;
        char *files[FILES_MAX] = {};
        unsigned lines[FILES_MAX] = {};
        const uint8_t *part;
        size_t part_size, n_files = 0;
        int r = 0;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        fuzz_check(policy_new_default(&c) == 0);

        while (n_files < FILES_MAX && fuzz_next_part(&data, &size, "%%", &part, &part_size)) {
                _cleanup_free_ char *error = NULL;
                _cleanup_free_ uint8_t *text = malloc(part_size);
                PolicyConfig before = *c;
                size_t n_rules = c->n_rules;

                fuzz_check(text || part_size == 0);
                if (part_size > 0)
                        memcpy(text, part, part_size);
                if (n_files == 0)
                        files[n_files] = strdup("/etc/vfiod/vfiod.json");
                else
                        fuzz_check(asprintf(&files[n_files], "/etc/vfiod/vfiod.d/%02zu-fuzz.json", n_files) >= 0);
                fuzz_check(files[n_files]);
                lines[n_files] = count_lines(part, part_size);

                r = policy_load_text(c, files[n_files], (const char *) text, part_size, n_files > 0, &error);
                check_final_newline(part, part_size, n_files > 0, r);
                n_files++;
                fuzz_check(r == 0 || r == -EBADMSG || r == -ENOMEM);
                if (r == -EBADMSG)
                        fuzz_check(error);
                if (r < 0) {
                        if (error)
                                check_error(error, files[n_files - 1], lines[n_files - 1]);
                        break;
                }
                fuzz_check(!error);
                check_loaded_strings(part, part_size);
                fuzz_check(c->n_rules >= n_rules);
                if (n_files > 1)
                        /* A drop-in may only add rules. */
                        fuzz_check(streq(c->remove_mode, before.remove_mode) &&
                                   c->remove_timeout_usec == before.remove_timeout_usec &&
                                   c->per_group_containers == before.per_group_containers &&
                                   c->allow_noiommu == before.allow_noiommu);
        }
        if (r == 0)
                check_config(c, files, lines, n_files);

        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        return 0;
}
