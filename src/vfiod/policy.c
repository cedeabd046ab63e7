/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the configuration files (vfiod.json and its drop-ins) and the access rules they define. */

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "log.h"
#include "policy.h"
#include "user-groups.h"

#define USEC_PER_SEC UINT64_C(1000000)
/* A configuration is a few KiB; anything near this is not one, and we read it whole. */
#define POLICY_FILE_SIZE_MAX (4u * 1024u * 1024u)
/* The deepest key path the format has is rules[N].targets[N]; leave room for mistakes. */
#define PATH_DEPTH_MAX 8

static const char *const action_table[_POLICY_ACTION_MAX] = {
        [POLICY_ACQUIRE] = "acquire",
        [POLICY_GRANT] = "grant",
        [POLICY_MANAGE] = "manage",
};

static const char *const remove_mode_table[] = { "fail", "soft", "hard", "kill" };

const char *policy_action_to_string(PolicyAction a) {
        return a >= 0 && a < _POLICY_ACTION_MAX ? action_table[a] : NULL;
}

PolicyAction policy_action_from_string(const char *s) {
        for (PolicyAction a = 0; a < _POLICY_ACTION_MAX; a++)
                if (streq_ptr(action_table[a], s))
                        return a;
        return _POLICY_ACTION_INVALID;
}

/* ---- Finding where a value is written ----
 *
 * json-c keeps no positions, so an error's line is found by walking the text again along the key
 * path of the offending value. The walk only has to understand what json-c accepted already:
 * strings in either quote, comments, nesting. */

typedef struct PathItem {
        const char *key; /* NULL: an array index */
        size_t index;
} PathItem;

static size_t skip_blank(const char *t, size_t n, size_t i) {
        for (;;) {
                while (i < n && isspace((unsigned char) t[i]))
                        i++;
                if (i + 1 < n && t[i] == '/' && t[i + 1] == '/') {
                        while (i < n && t[i] != '\n')
                                i++;
                } else if (i + 1 < n && t[i] == '/' && t[i + 1] == '*') {
                        const char *e = memmem(t + i + 2, n - i - 2, "*/", 2);
                        i = e ? (size_t) (e - t) + 2 : n;
                } else
                        return i;
        }
}

static size_t skip_string(const char *t, size_t n, size_t i) {
        char quote = t[i++];

        while (i < n && t[i] != quote)
                i += t[i] == '\\' ? 2 : 1;
        return i < n ? i + 1 : n;
}

static size_t skip_value(const char *t, size_t n, size_t i) {
        unsigned depth = 0;

        if (i < n && t[i] != '{' && t[i] != '[') {
                if (t[i] == '"' || t[i] == '\'')
                        return skip_string(t, n, i);
                while (i < n && !strchr(",]}/", t[i]) && !isspace((unsigned char) t[i]))
                        i++;
                return i;
        }
        while ((i = skip_blank(t, n, i)) < n) {
                if (t[i] == '"' || t[i] == '\'') {
                        i = skip_string(t, n, i);
                        continue;
                }
                if (t[i] == '{' || t[i] == '[')
                        depth++;
                else if (t[i] == '}' || t[i] == ']')
                        depth--;
                i++;
                if (depth == 0)
                        break;
        }
        return i;
}

/* Whether the string token t[0..len) (quotes included) spells key. */
static bool token_equals(const char *t, size_t len, const char *key) {
        _cleanup_free_ char *copy = NULL;
        struct json_object *o;
        bool eq;

        if (len < 2)
                return false;
        if (!memchr(t, '\\', len))
                return len - 2 == strlen(key) && memcmp(t + 1, key, len - 2) == 0;

        /* Escapes: let json-c decode them, as it did when it parsed the file. */
        copy = strndup(t, len);
        if (!copy)
                return false;
        o = json_tokener_parse(copy);
        eq = o && json_object_is_type(o, json_type_string) && streq(json_object_get_string(o), key);
        json_object_put(o);
        return eq;
}

/* In the object at t[i] == '{', the key and value of the member named key (the last one, as
 * json-c keeps the last of duplicates). */
static bool find_member(const char *t, size_t n, size_t i, const char *key, size_t *ret_key, size_t *ret_value) {
        bool found = false;

        i++;
        while ((i = skip_blank(t, n, i)) < n && t[i] != '}') {
                size_t k = i;
                bool match;

                if (t[i] == ',') {
                        i++;
                        continue;
                }
                if (t[i] != '"' && t[i] != '\'')
                        break;
                i = skip_string(t, n, i);
                match = token_equals(t + k, i - k, key);
                i = skip_blank(t, n, i);
                if (i < n && t[i] == ':')
                        i = skip_blank(t, n, i + 1);
                if (match) {
                        *ret_key = k;
                        *ret_value = i;
                        found = true;
                }
                i = skip_value(t, n, i);
        }
        return found;
}

/* In the array at t[i] == '[', the element with the given index. */
static bool find_element(const char *t, size_t n, size_t i, size_t index, size_t *ret) {
        size_t count = 0;

        i++;
        while ((i = skip_blank(t, n, i)) < n && t[i] != ']') {
                if (t[i] == ',') {
                        i++;
                        continue;
                }
                if (count++ == index) {
                        *ret = i;
                        return true;
                }
                i = skip_value(t, n, i);
        }
        return false;
}

/* The offset of the item at the end of path (its key, if at_key and it is a member), or of the
 * deepest part of the path that could be found. */
static size_t locate(const char *t, size_t n, const PathItem *path, size_t depth, bool at_key) {
        size_t value = skip_blank(t, n, 0), key = value;

        for (size_t d = 0; d < depth && value < n; d++) {
                size_t k = value, v;

                if (path[d].key) {
                        if (t[value] != '{' || !find_member(t, n, value, path[d].key, &k, &v))
                                break;
                } else if (t[value] != '[' || !find_element(t, n, value, path[d].index, &v))
                        break;
                key = k;
                value = v;
        }
        return at_key ? key : value;
}

static unsigned line_of(const char *t, size_t n, size_t offset) {
        unsigned line = 1;

        for (size_t i = 0; i < offset && i < n; i++)
                if (t[i] == '\n')
                        line++;
        return line;
}

/* ---- Loading ---- */

typedef struct Loader {
        const char *file;
        const char *text;
        size_t size;
        bool dropin;
        PathItem path[PATH_DEPTH_MAX];
        size_t depth;
        char *error;
} Loader;

static void loader_push_key(Loader *l, const char *key) {
        if (l->depth < PATH_DEPTH_MAX)
                l->path[l->depth] = (PathItem){ .key = key };
        l->depth++;
}

static void loader_push_index(Loader *l, size_t index) {
        if (l->depth < PATH_DEPTH_MAX)
                l->path[l->depth] = (PathItem){ .index = index };
        l->depth++;
}

static void loader_pop(Loader *l) {
        l->depth--;
}

/* A key as it appears in a path: bare when it is a plain word, else JSON-quoted, so that a key
 * with odd characters still prints on one line. */
static void print_key(FILE *f, const char *key) {
        struct json_object *o;

        if (*key && strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == strlen(key)) {
                fputs(key, f);
                return;
        }
        o = json_object_new_string(key);
        fputs(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "?", f);
        json_object_put(o);
}

static char *loader_path(const Loader *l) {
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        for (size_t d = 0; d < l->depth && d < PATH_DEPTH_MAX; d++) {
                if (!l->path[d].key)
                        fprintf(f, "[%zu]", l->path[d].index);
                else {
                        if (d > 0)
                                fputc('.', f);
                        print_key(f, l->path[d].key);
                }
        }
        if (fclose(f) != 0)
                return mfree(s);
        return s;
}

/* Records "FILE:LINE: PATH: message" for the value (or key) at the current path. */
_printf_(3, 4) static int loader_error(Loader *l, bool at_key, const char *format, ...) {
        _cleanup_free_ char *message = NULL, *path = NULL;
        size_t depth = l->depth < PATH_DEPTH_MAX ? l->depth : PATH_DEPTH_MAX;
        unsigned line;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        path = loader_path(l);
        if (!path)
                return -ENOMEM;

        line = line_of(l->text, l->size, locate(l->text, l->size, l->path, depth, at_key));
        free(l->error);
        if (*path)
                r = asprintf(&l->error, "%s:%u: %s: %s", l->file, line, path, message);
        else
                r = asprintf(&l->error, "%s:%u: %s", l->file, line, message);
        if (r < 0) {
                l->error = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}

static const char *describe_type(struct json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_int:
        case json_type_double:
                return "a number";
        case json_type_string:
                return "a string";
        case json_type_array:
                return "an array";
        case json_type_object:
                return "an object";
        }
        return "something else";
}

static int expect_type(Loader *l, struct json_object *v, json_type type, const char *what) {
        if (json_object_is_type(v, type))
                return 0;
        return loader_error(l, false, "expected %s, got %s", what, describe_type(v));
}

/* A value quoted for a message: JSON-escaped, so that the message stays on one line. */
static const char *quoted(struct json_object *v) {
        return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

typedef int (*member_parser_t)(Loader *l, struct json_object *v, void *userdata);

typedef struct Member {
        const char *key;
        member_parser_t parse;
} Member;

/* What only the main file may set; a drop-in gets a clearer message for these than "unknown". */
static bool is_main_file_key(const Loader *l, const char *key) {
        return l->depth == 1 && (streq(key, "remove") || streq(key, "containers") || streq(key, "allow_noiommu"));
}

/* Dispatches each member of an object to its parser, in the order they are written. */
static int parse_object(Loader *l, struct json_object *o, const Member *members, size_t n, void *userdata) {
        int r;

        r = expect_type(l, o, json_type_object, "an object");
        if (r < 0)
                return r;

        json_object_object_foreach(o, key, v) {
                const Member *m = NULL;

                for (size_t i = 0; i < n && !m; i++)
                        if (streq(members[i].key, key))
                                m = members + i;

                loader_push_key(l, key);
                if (!m && l->dropin && is_main_file_key(l, key))
                        return loader_error(l, true, "not allowed in a drop-in, which may only add \"rules\"");
                if (!m)
                        return loader_error(l, true, "unknown key");
                r = m->parse(l, v, userdata);
                if (r < 0)
                        return r;
                loader_pop(l);
        }
        return 0;
}

static int parse_remove_mode(Loader *l, struct json_object *v, void *userdata) {
        PolicyConfig *p = userdata;
        int r;

        r = expect_type(l, v, json_type_string, "a string");
        if (r < 0)
                return r;
        FOREACH_ARRAY(m, remove_mode_table, ELEMENTSOF(remove_mode_table))
                if (streq(*m, json_object_get_string(v))) {
                        p->remove_mode = *m;
                        return 0;
                }
        return loader_error(l, false, "%s is not one of fail, soft, hard, kill", quoted(v));
}

static int parse_remove_timeout(Loader *l, struct json_object *v, void *userdata) {
        PolicyConfig *p = userdata;
        uint64_t usec;
        double sec;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return loader_error(l, false, "expected a number of seconds, got %s", describe_type(v));

        /* Written this way round so that NaN fails too; a value that rounds to 0 µs is no timeout. */
        sec = json_object_get_double(v);
        usec = sec > 0 && sec <= POLICY_REMOVE_TIMEOUT_MAX_SEC ? (uint64_t) (sec * USEC_PER_SEC + 0.5) : 0;
        if (usec == 0)
                return loader_error(l, false, "must be more than 0 and at most %u seconds",
                                    POLICY_REMOVE_TIMEOUT_MAX_SEC);
        p->remove_timeout_usec = usec;
        return 0;
}

static int parse_remove(Loader *l, struct json_object *v, void *userdata) {
        static const Member members[] = {
                { "mode", parse_remove_mode },
                { "timeout_sec", parse_remove_timeout },
        };
        return parse_object(l, v, members, ELEMENTSOF(members), userdata);
}

static int parse_sharing(Loader *l, struct json_object *v, void *userdata) {
        PolicyConfig *p = userdata;
        const char *s;
        int r;

        r = expect_type(l, v, json_type_string, "a string");
        if (r < 0)
                return r;
        s = json_object_get_string(v);
        if (streq(s, "key"))
                p->per_group_containers = false;
        else if (streq(s, "per-group"))
                p->per_group_containers = true;
        else
                return loader_error(l, false, "%s is not one of key, per-group", quoted(v));
        return 0;
}

static int parse_containers(Loader *l, struct json_object *v, void *userdata) {
        static const Member members[] = {
                { "sharing", parse_sharing },
        };
        return parse_object(l, v, members, ELEMENTSOF(members), userdata);
}

static int parse_allow_noiommu(Loader *l, struct json_object *v, void *userdata) {
        PolicyConfig *p = userdata;
        int r;

        r = expect_type(l, v, json_type_boolean, "a boolean");
        if (r < 0)
                return r;
        p->allow_noiommu = json_object_get_boolean(v);
        return 0;
}

/* Calls parse for each element of an array, with the index on the path. */
static int parse_array(Loader *l, struct json_object *v, member_parser_t parse, void *userdata) {
        size_t n;
        int r;

        r = expect_type(l, v, json_type_array, "an array");
        if (r < 0)
                return r;
        n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
                loader_push_index(l, i);
                r = parse(l, json_object_array_get_idx(v, i), userdata);
                if (r < 0)
                        return r;
                loader_pop(l);
        }
        return 0;
}

typedef struct NameList {
        char ***names;
        size_t *n;
} NameList;

static int parse_name(Loader *l, struct json_object *v, void *userdata) {
        NameList *list = userdata;
        char **names;

        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
                return loader_error(l, false, "expected a non-empty string, got %s",
                                    json_object_is_type(v, json_type_string) ? "\"\"" : describe_type(v));

        names = realloc(*list->names, (*list->n + 2) * sizeof(char *));
        if (!names)
                return -ENOMEM;
        *list->names = names;
        names[*list->n] = strdup(json_object_get_string(v));
        if (!names[*list->n])
                return -ENOMEM;
        names[++*list->n] = NULL;
        return 0;
}

static int parse_users(Loader *l, struct json_object *v, void *userdata) {
        PolicyRule *rule = userdata;
        return parse_array(l, v, parse_name, &(NameList){ &rule->users, &rule->n_users });
}

static int parse_groups(Loader *l, struct json_object *v, void *userdata) {
        PolicyRule *rule = userdata;
        return parse_array(l, v, parse_name, &(NameList){ &rule->groups, &rule->n_groups });
}

/* "vvvv" or "*": 4 hex digits, or the wildcard (-1). */
static int parse_id_field(const char *s, size_t len, int32_t *ret) {
        int32_t v = 0;

        if (len == 1 && s[0] == '*') {
                *ret = -1;
                return 0;
        }
        if (len != 4)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (!isxdigit((unsigned char) s[i]))
                        return -EINVAL;
                v = v * 16 + (isdigit((unsigned char) s[i]) ? s[i] - '0' : tolower((unsigned char) s[i]) - 'a' + 10);
        }
        *ret = v;
        return 0;
}

/* A target as written in a rule: an address, a group id, or vendor:product. */
static int policy_target_parse(const char *s, PolicyTarget *ret) {
        PolicyTarget t = { .vendor = -1, .product = -1 };
        const char *colon;

        if (pci_address_parse(s, t.address) >= 0)
                t.kind = POLICY_TARGET_ADDRESS;
        else if (group_id_parse(s, &t.group) >= 0)
                t.kind = POLICY_TARGET_GROUP;
        else {
                colon = strchr(s, ':');
                if (!colon || parse_id_field(s, (size_t) (colon - s), &t.vendor) < 0 ||
                    parse_id_field(colon + 1, strlen(colon + 1), &t.product) < 0)
                        return -EINVAL;
                t.kind = POLICY_TARGET_ID;
        }
        *ret = t;
        return 0;
}

static int parse_target(Loader *l, struct json_object *v, void *userdata) {
        PolicyRule *rule = userdata;
        PolicyTarget t, *targets;
        int r;

        r = expect_type(l, v, json_type_string, "a string");
        if (r < 0)
                return r;
        if (policy_target_parse(json_object_get_string(v), &t) < 0)
                return loader_error(l, false, "%s is not a PCI address, group id or vendor:product", quoted(v));

        targets = realloc(rule->targets, (rule->n_targets + 1) * sizeof(PolicyTarget));
        if (!targets)
                return -ENOMEM;
        rule->targets = targets;
        rule->targets[rule->n_targets++] = t;
        return 0;
}

static int parse_targets(Loader *l, struct json_object *v, void *userdata) {
        return parse_array(l, v, parse_target, userdata);
}

static int parse_action(Loader *l, struct json_object *v, void *userdata) {
        PolicyRule *rule = userdata;
        PolicyAction a;
        int r;

        r = expect_type(l, v, json_type_string, "a string");
        if (r < 0)
                return r;
        a = policy_action_from_string(json_object_get_string(v));
        if (a < 0)
                return loader_error(l, false, "%s is not one of acquire, grant, manage", quoted(v));
        rule->actions |= 1u << a;
        return 0;
}

static int parse_actions(Loader *l, struct json_object *v, void *userdata) {
        return parse_array(l, v, parse_action, userdata);
}

static void policy_rule_done(PolicyRule *rule) {
        strv_free(rule->users);
        strv_free(rule->groups);
        free(rule->user_uids);
        free(rule->group_gids);
        free(rule->targets);
        free(rule->file);
        *rule = (PolicyRule){};
}

static int parse_rule(Loader *l, struct json_object *v, void *userdata) {
        static const Member members[] = {
                { "users", parse_users },
                { "groups", parse_groups },
                { "targets", parse_targets },
                { "actions", parse_actions },
        };
        _cleanup_(policy_rule_done) PolicyRule rule = {};
        PolicyConfig *p = userdata;
        PolicyRule *rules;
        int r;

        r = parse_object(l, v, members, ELEMENTSOF(members), &rule);
        if (r < 0)
                return r;

        /* A rule that names nobody or nothing would be a typo that silently grants nothing. */
        if (rule.n_users + rule.n_groups == 0)
                return loader_error(l, false, "a rule needs \"users\" or \"groups\"");
        if (rule.n_targets == 0)
                return loader_error(l, false, "a rule needs at least one target");
        if (rule.actions == 0)
                return loader_error(l, false, "a rule needs at least one action");

        rule.file = strdup(l->file);
        if (!rule.file)
                return -ENOMEM;
        rule.line = line_of(l->text, l->size, locate(l->text, l->size, l->path, l->depth, false));

        rules = realloc(p->rules, (p->n_rules + 1) * sizeof(PolicyRule));
        if (!rules)
                return -ENOMEM;
        p->rules = rules;
        p->rules[p->n_rules++] = rule;
        rule = (PolicyRule){};
        return 0;
}

static int parse_rules(Loader *l, struct json_object *v, void *userdata) {
        return parse_array(l, v, parse_rule, userdata);
}

static int parse_top(Loader *l, struct json_object *o, PolicyConfig *p) {
        static const Member members[] = {
                { "remove", parse_remove },
                { "containers", parse_containers },
                { "allow_noiommu", parse_allow_noiommu },
                { "rules", parse_rules },
        };
        static const Member dropin_members[] = {
                { "rules", parse_rules },
        };

        if (!json_object_is_type(o, json_type_object))
                return loader_error(l, false, "expected a JSON object at the top level, got %s", describe_type(o));
        if (l->dropin)
                return parse_object(l, o, dropin_members, ELEMENTSOF(dropin_members), p);
        return parse_object(l, o, members, ELEMENTSOF(members), p);
}

/* The offset of the last character that is not blank, for "unexpected end of file". */
static size_t last_text_offset(const char *t, size_t n) {
        while (n > 0 && isspace((unsigned char) t[n - 1]))
                n--;
        return n > 0 ? n - 1 : 0;
}

static int loader_syntax_error(Loader *l, size_t offset, const char *what) {
        free(l->error);
        if (asprintf(&l->error, "%s:%u: syntax error: %s", l->file, line_of(l->text, l->size, offset), what) < 0) {
                l->error = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}

/* The offset of the first string token that spells a NUL as "\u0000", or n. json-c keeps the NUL,
 * but every string (and key) here is used as a C string: "root\u0000x" would silently be "root". */
static size_t find_escaped_nul(const char *t, size_t n) {
        for (size_t i = skip_blank(t, n, 0); i < n; i = skip_blank(t, n, i)) {
                size_t end;

                if (t[i] != '"' && t[i] != '\'') {
                        i++;
                        continue;
                }
                end = skip_string(t, n, i);
                for (size_t j = i + 1; j + 5 < end; j++)
                        if (t[j] == '\\') {
                                if (t[j + 1] == 'u' && memcmp(t + j + 2, "0000", 4) == 0)
                                        return i;
                                j++; /* the escaped character, so that "\\u0000" is no NUL */
                        }
                i = end;
        }
        return n;
}

/* Parses the text with json-c's default (non-strict) tokener, which accepts comments. */
static int loader_tokenize(Loader *l, struct json_object **ret) {
        struct json_tokener *tok;
        struct json_object *o;
        enum json_tokener_error e;
        size_t end;

        if (memchr(l->text, '\0', l->size))
                return loader_syntax_error(l, (size_t) ((const char *) memchr(l->text, '\0', l->size) - l->text),
                                           "NUL byte in file");

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, l->text, (int) l->size);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        /* json-c ends a "//" comment only at a newline, so one on the last line of a file without a
         * final newline leaves even a complete document unfinished: hand it the newline. */
        if (!o && e == json_tokener_continue) {
                o = json_tokener_parse_ex(tok, "\n", 1);
                if (o) {
                        e = json_tokener_success;
                        end = l->size;
                }
        }
        json_tokener_free(tok);

        if (!o && e == json_tokener_continue)
                return loader_syntax_error(l, last_text_offset(l->text, l->size), "unexpected end of file");
        if (!o && e != json_tokener_success)
                return loader_syntax_error(l, end, json_tokener_error_desc(e));

        /* json-c stops after the first complete value; what follows must be blank. */
        end = skip_blank(l->text, l->size, end);
        if (end < l->size) {
                json_object_put(o);
                return loader_syntax_error(l, end, "unexpected text after the end of the document");
        }
        end = find_escaped_nul(l->text, l->size);
        if (end < l->size) {
                json_object_put(o);
                return loader_syntax_error(l, end, "NUL (\\u0000) in a string");
        }
        *ret = o;
        return 0;
}

static int read_text_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        size_t size = 0, allocated;
        struct stat st;

        /* O_NONBLOCK: a FIFO named like a drop-in must not hang the daemon's start. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size > POLICY_FILE_SIZE_MAX)
                return -EFBIG;

        /* Sized by fstat, grown should the file grow while we read it. */
        allocated = (size_t) st.st_size + 1;
        text = malloc(allocated);
        if (!text)
                return -ENOMEM;
        for (;;) {
                ssize_t k;

                if (size + 1 >= allocated) {
                        char *grown;

                        if (allocated > POLICY_FILE_SIZE_MAX)
                                return -EFBIG;
                        allocated *= 2;
                        grown = realloc(text, allocated);
                        if (!grown)
                                return -ENOMEM;
                        text = grown;
                }
                k = read(fd, text + size, allocated - 1 - size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        text[size] = '\0';
        *ret = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

/* The message for a file that could not be read, as r says. */
static int set_read_error(char **ret_error, const char *path, int r) {
        errno = -r;
        if (asprintf(ret_error, r == -EBADFD ? "%s: not a regular file" : "%s: cannot read: %m", path) < 0)
                *ret_error = NULL;
        return r;
}

/* Applies the text of one file, which need not end in a NUL. */
static int load_text(PolicyConfig *p, const char *path, const char *text, size_t size, bool dropin, char **ret_error) {
        struct json_object *o = NULL;
        Loader l = { .file = path, .text = text, .size = size, .dropin = dropin };
        int r;

        r = loader_tokenize(&l, &o);
        if (r >= 0)
                r = parse_top(&l, o, p);
        json_object_put(o);
        if (r < 0) {
                *ret_error = TAKE_PTR(l.error);
                return r;
        }
        return 0;
}

/* Reads and applies one file. -ENOENT comes back without a message, the caller decides. */
static int load_file(PolicyConfig *p, const char *path, bool dropin, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_text_file(path, &text, &size);
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return set_read_error(ret_error, path, r);
        return load_text(p, path, text, size, dropin, ret_error);
}

int policy_load_text(PolicyConfig *p, const char *file, const char *text, size_t size, bool dropin, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = size > POLICY_FILE_SIZE_MAX ? set_read_error(&error, file, -EFBIG)
                                        : load_text(p, file, text, size, dropin, &error);
        if (r < 0 && ret_error)
                *ret_error = TAKE_PTR(error);
        return r;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The "*.json" names in dir, sorted bytewise (not by locale, so the order is the same for all). */
static int list_dropins(const char *dir, char ***ret, size_t *ret_n) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        d = opendir(dir);
        if (!d)
                return -errno;
        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;

        while ((errno = 0, de = readdir(d))) {
                const char *suffix = strrchr(de->d_name, '.');
                char **grown;

                /* Hidden files are editor and package-manager leftovers. */
                if (de->d_name[0] == '.' || !suffix || !streq(suffix, ".json"))
                        continue;
                grown = realloc(names, (n + 2) * sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                names = grown;
                names[n] = strdup(de->d_name);
                if (!names[n])
                        return -ENOMEM;
                names[++n] = NULL;
        }
        if (errno != 0)
                return -errno;

        qsort(names, n, sizeof(char *), strcmp_ptr);
        *ret = TAKE_PTR(names);
        *ret_n = n;
        return 0;
}

static int load_dropins(PolicyConfig *p, const char *dir, char **ret_error) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        int r;

        r = list_dropins(dir, &names, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                errno = -r;
                if (asprintf(ret_error, "%s: cannot read directory: %m", dir) < 0)
                        *ret_error = NULL;
                return r;
        }

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
                        return -ENOMEM;
                r = load_file(p, path, true, ret_error);
                /* Gone since the listing, or a directory that happens to end in .json. */
                if (r == -ENOENT || r == -EISDIR) {
                        free(*ret_error);
                        *ret_error = NULL;
                        continue;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int policy_new_default(PolicyConfig **ret) {
        PolicyConfig *p;

        p = malloc(sizeof(PolicyConfig));
        if (!p)
                return -ENOMEM;
        *p = (PolicyConfig){
                .remove_mode = "soft",
                .remove_timeout_usec = 30 * USEC_PER_SEC,
        };
        *ret = p;
        return 0;
}

int policy_load(const char *main_file, const char *dropin_dir, PolicyConfig **ret, char **ret_error) {
        _cleanup_policy_free_ PolicyConfig *p = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = policy_new_default(&p);
        if (r < 0)
                return r;

        r = main_file ? load_file(p, main_file, false, &error) : 0;
        if (r >= 0 || r == -ENOENT)
                r = dropin_dir ? load_dropins(p, dropin_dir, &error) : 0;
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

PolicyConfig *policy_free(PolicyConfig *p) {
        if (!p)
                return NULL;
        FOREACH_ARRAY(rule, p->rules, p->n_rules)
                policy_rule_done(rule);
        free(p->rules);
        return mfree(p);
}

/* ---- Checking ---- */

static bool target_matches_device(const PolicyTarget *t, const Device *d) {
        switch (t->kind) {
        case POLICY_TARGET_ADDRESS:
                return streq(t->address, d->address);
        case POLICY_TARGET_ID:
                return (t->vendor < 0 || t->vendor == d->vendor) && (t->product < 0 || t->product == d->product);
        default:
                return false;
        }
}

static bool rule_matches_device(const PolicyRule *rule, const Device *d) {
        FOREACH_ARRAY(t, rule->targets, rule->n_targets)
                if (target_matches_device(t, d))
                        return true;
        return false;
}

bool policy_rule_covers_group(const PolicyRule *rule, const Group *g) {
        size_t endpoints = 0;

        FOREACH_ARRAY(t, rule->targets, rule->n_targets)
                if (t->kind == POLICY_TARGET_GROUP && t->group == g->id)
                        return true;

        /* Devices share the group's DMA isolation, so a lease on one is a lease on all: naming
         * some of the endpoints is not enough. Bridges stay on the host and are not leased. */
        for (size_t i = 0; i < g->n_devices; i++) {
                if (device_is_bridge(g->devices[i]))
                        continue;
                if (!rule_matches_device(rule, g->devices[i]))
                        return false;
                endpoints++;
        }
        return endpoints > 0;
}

typedef struct Caller {
        uid_t uid;
        gid_t gid;
        const gid_t *gids;
        size_t n_gids;
} Caller;

static bool caller_has_gid(const Caller *c, gid_t gid) {
        if (gid == (gid_t) -1)
                return false;
        if (gid == c->gid)
                return true;
        for (size_t i = 0; i < c->n_gids; i++)
                if (c->gids[i] == gid)
                        return true;
        return false;
}

static bool rule_names_caller(const PolicyRule *rule, const Caller *c) {
        for (size_t i = 0; rule->user_uids && i < rule->n_users; i++)
                if (rule->user_uids[i] != (uid_t) -1 && rule->user_uids[i] == c->uid)
                        return true;
        for (size_t i = 0; rule->group_gids && i < rule->n_groups; i++)
                if (caller_has_gid(c, rule->group_gids[i]))
                        return true;
        return false;
}

/* Every rule's names to ids, in the user database as it is now. Names that do not resolve match
 * nobody until a later pass finds them; the first pass says so at warning level. */
static void resolve_names(PolicyConfig *p, uint64_t now) {
        int level = p->names_resolved ? LOG_DEBUG : LOG_WARNING;

        FOREACH_ARRAY(rule, p->rules, p->n_rules) {
                if (!rule->user_uids && rule->n_users > 0)
                        rule->user_uids = calloc(rule->n_users, sizeof(uid_t));
                if (!rule->group_gids && rule->n_groups > 0)
                        rule->group_gids = calloc(rule->n_groups, sizeof(gid_t));
                for (size_t i = 0; rule->user_uids && i < rule->n_users; i++) {
                        int r = user_uid_by_name(rule->users[i], &rule->user_uids[i]);
                        if (r < 0) {
                                rule->user_uids[i] = (uid_t) -1;
                                log_full_errno(level, r,
                                               "%s:%u: no user \"%s\" in the user database, it matches nobody: %m",
                                               rule->file, rule->line, rule->users[i]);
                        }
                }
                for (size_t i = 0; rule->group_gids && i < rule->n_groups; i++) {
                        int r = group_gid_by_name(rule->groups[i], &rule->group_gids[i]);
                        if (r < 0) {
                                rule->group_gids[i] = (gid_t) -1;
                                log_full_errno(level, r,
                                               "%s:%u: no group \"%s\" in the user database, it matches nobody: %m",
                                               rule->file, rule->line, rule->groups[i]);
                        }
                }
        }
        p->names_resolved = true;
        p->names_resolved_usec = now;
}

static bool rule_has_action(const PolicyRule *rule, PolicyAction action) {
        return rule->actions & ((1u << action) | (1u << POLICY_MANAGE));
}

bool policy_allows(PolicyConfig *p, uid_t uid, gid_t gid, const gid_t *gids, size_t n_gids, PolicyAction action,
                   const Group *g) {
        const Caller c = { .uid = uid, .gid = gid, .gids = gids, .n_gids = n_gids };
        uint64_t now = user_db_now_usec();
        bool allowed = false;

        if (!p || !g || action < 0 || action >= _POLICY_ACTION_MAX)
                return false;
        if (!p->names_resolved || now - p->names_resolved_usec >= USER_GROUPS_LIFETIME_USEC)
                resolve_names(p, now);

        FOREACH_ARRAY(rule, p->rules, p->n_rules) {
                if (!rule_has_action(rule, action) || !policy_rule_covers_group(rule, g) ||
                    !rule_names_caller(rule, &c))
                        continue;
                log_debug("%s:%u: rule allows uid %u to %s group %" PRIu32 ".", rule->file, rule->line, (unsigned) uid,
                          policy_action_to_string(action), g->id);
                allowed = true;
                break;
        }
        return allowed;
}
