/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The a{sv} options of Manager's Assign, Unassign, Acquire and PlanAssign (bus_parse_options() in
 * src/vfiod/options-dbus.c), on real sd-bus messages built from the input, with the option tables
 * those methods use.
 *
 * The input is text. The first line is "METHOD TARGET"; every other line one dictionary entry,
 * "TYPE KEY=VALUE": the variant's type (b y n q i u x t d s o g ay as a{sv} (sb) v), the key, and the
 * value in that type (for v: "TYPE VALUE"; as: "a,b"; a{sv}: "k=v,k=v" with string values; (sb):
 * "s,b"). KEY and VALUE may use \\, \n, \t and \xHH. An input that sd-bus will not put in a message
 * (not UTF-8, a bad object path) is skipped.
 *
 * The parser must do what a plain model of it says: the values of the last entry of each known name,
 * or InvalidOption naming the first unknown name or wrong type, and nothing else. */

#include <errno.h>
#include <inttypes.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "macro.h"
#include "options-dbus.h"
#include "vfiod-error.h"

#define VARIANT_DEPTH_MAX 16

typedef struct Method {
        const char *name;
        const char *options[3];
        char types[3];
} Method;

/* As in manager-dbus.c: the options each method accepts, in its specs[]. */
static const Method methods[] = {
        { "Assign", { "persist", "force", "dry_run" }, { 'b', 'b', 'b' } },
        { "Unassign", { "mode", "timeout_usec", "persist" }, { 's', 't', 'b' } },
        { "Acquire", { "container", "interface", "access" }, { 's', 's', 's' } },
        { "PlanAssign", { "force" }, { 'b' } },
};

/* What an option holds before the dictionary names it, as the methods' defaults do. */
#define DEFAULT_B true
#define DEFAULT_T UINT64_C(30000000)
#define DEFAULT_S "default"

/* What an option holds: the model's idea, and the parser's (its strings point into the message). */
typedef struct Values {
        bool b[3];
        uint64_t t[3];
        char *s[3];
} Values;

typedef struct ParsedValues {
        bool b[3];
        uint64_t t[3];
        const char *s[3];
} ParsedValues;

static sd_bus *bus;
static int peer_fd = -EBADF; /* the other end, open while the bus lives; nobody reads it */

/* Messages need a bus that has been started; one end of a socket pair will do: the bus only writes
 * its AUTH line there, and no message is ever sent. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        int fds[2];

        fuzz_check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) >= 0);
        peer_fd = fds[1];
        fuzz_check(sd_bus_new(&bus) >= 0);
        fuzz_check(sd_bus_set_fd(bus, fds[0], fds[0]) >= 0);
        fuzz_check(sd_bus_start(bus) >= 0);
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* s[0..n) with its escapes decoded, as a string (an escaped NUL ends it early, as in a message). */
static char *unescape(const char *s, size_t n) {
        char *d = malloc(n + 1), *p = d;

        fuzz_check(d);
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '\\' || i + 1 == n) {
                        *p++ = s[i];
                        continue;
                }
                i++;
                if (s[i] == 'n')
                        *p++ = '\n';
                else if (s[i] == 't')
                        *p++ = '\t';
                else if (s[i] == 'x' && i + 2 < n && unhex(s[i + 1]) >= 0 && unhex(s[i + 2]) >= 0) {
                        *p++ = (char) (unhex(s[i + 1]) * 16 + unhex(s[i + 2]));
                        i += 2;
                } else
                        *p++ = s[i];
        }
        *p = '\0';
        return d;
}

static int append_list(sd_bus_message *m, const char *value, char element) {
        _cleanup_free_ char *copy = strdup(value);
        char *state = NULL;
        int r;

        fuzz_check(copy);
        r = sd_bus_message_open_container(m, 'a', element == 's' ? "s" : "{sv}");
        if (r < 0)
                return r;
        for (char *item = strtok_r(copy, ",", &state); item; item = strtok_r(NULL, ",", &state)) {
                char *eq = strchr(item, '=');

                if (element == 's')
                        r = sd_bus_message_append_basic(m, 's', item);
                else if (!eq)
                        r = sd_bus_message_append(m, "{sv}", item, "s", "");
                else {
                        *eq = '\0';
                        r = sd_bus_message_append(m, "{sv}", item, "s", eq + 1);
                }
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int append_value(sd_bus_message *m, const char *type, const char *value, unsigned depth) {
        int r;

        if (strlen(type) == 1 && strchr("ynqiuxt", type[0])) {
                uint64_t u = type[0] == 't' || type[0] == 'q' || type[0] == 'u' || type[0] == 'y'
                                     ? strtoull(value, NULL, 0)
                                     : (uint64_t) strtoll(value, NULL, 0);
                uint8_t y = (uint8_t) u;
                uint16_t q = (uint16_t) u;
                uint32_t w = (uint32_t) u;
                const void *p = type[0] == 'y'          ? (const void *) &y
                                : strchr("nq", type[0]) ? (const void *) &q
                                : strchr("iu", type[0]) ? (const void *) &w
                                                        : (const void *) &u;

                return sd_bus_message_append_basic(m, type[0], p);
        }
        if (streq(type, "b"))
                return sd_bus_message_append(m, "b", (int) (streq(value, "true") || strtol(value, NULL, 0) != 0));
        if (streq(type, "d"))
                return sd_bus_message_append(m, "d", strtod(value, NULL));
        if (streq(type, "s") || streq(type, "o") || streq(type, "g"))
                return sd_bus_message_append_basic(m, type[0], value);
        if (streq(type, "ay"))
                return sd_bus_message_append_array(m, 'y', value, strlen(value));
        if (streq(type, "as"))
                return append_list(m, value, 's');
        if (streq(type, "a{sv}"))
                return append_list(m, value, 'e');
        if (streq(type, "(sb)")) {
                const char *comma = strchrnul(value, ',');
                _cleanup_free_ char *s = strndup(value, (size_t) (comma - value));

                fuzz_check(s);
                return sd_bus_message_append(m, "(sb)", s, (int) (*comma && streq(comma + 1, "true")));
        }
        if (streq(type, "v") && depth < VARIANT_DEPTH_MAX) {
                const char *space = strchrnul(value, ' ');
                _cleanup_free_ char *inner = strndup(value, (size_t) (space - value));

                fuzz_check(inner);
                r = sd_bus_message_open_container(m, 'v', inner);
                if (r < 0)
                        return r;
                r = append_value(m, inner, *space ? space + 1 : "", depth + 1);
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(m);
        }
        return -EINVAL;
}

/* The model: what bus_parse_options() must answer for the entries seen so far. */
typedef struct Model {
        const Method *method;
        Values values;
        int r;
        char *error; /* the message of InvalidOption */
} Model;

static void model_entry(Model *model, const char *key, const char *type, const char *value) {
        size_t i;

        if (model->r < 0)
                return; /* the parser stops at the first bad entry */
        for (i = 0; i < ELEMENTSOF(model->method->options) && model->method->options[i]; i++)
                if (streq(model->method->options[i], key))
                        break;
        if (i == ELEMENTSOF(model->method->options) || !model->method->options[i]) {
                model->r = -EBADRQC;
                fuzz_check(asprintf(&model->error, "Unknown option '%s'.", key) >= 0);
                return;
        }
        if (strlen(type) != 1 || type[0] != model->method->types[i]) {
                model->r = -EBADRQC;
                fuzz_check(asprintf(&model->error, "Option '%s' takes type '%c'.", key, model->method->types[i]) >= 0);
                return;
        }
        switch (type[0]) {
        case 'b':
                model->values.b[i] = streq(value, "true") || strtol(value, NULL, 0) != 0;
                break;
        case 't':
                model->values.t[i] = strtoull(value, NULL, 0);
                break;
        case 's':
                free(model->values.s[i]);
                model->values.s[i] = strdup(value);
                fuzz_check(model->values.s[i]);
                break;
        }
}

/* Appends the entry of one line "TYPE KEY=VALUE"; -EINVAL when sd-bus refuses it. */
static int append_entry(sd_bus_message *m, Model *model, const char *line, size_t n) {
        _cleanup_free_ char *type = NULL, *key = NULL, *value = NULL;
        const char *space = memchr(line, ' ', n), *eq;
        int r;

        if (!space)
                return -EINVAL;
        eq = memchr(space + 1, '=', n - (size_t) (space + 1 - line));
        if (!eq)
                return -EINVAL;
        type = strndup(line, (size_t) (space - line));
        fuzz_check(type);
        key = unescape(space + 1, (size_t) (eq - space - 1));
        value = unescape(eq + 1, n - (size_t) (eq + 1 - line));

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append_basic(m, 's', key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', type);
        if (r >= 0)
                r = append_value(m, type, value, 0);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        model_entry(model, key, type, value);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL, *target = NULL;
        Model model = {};
        ParsedValues parsed;
        OptionSpec specs[3];
        size_t n_specs = 0;
        const char *line, *eol, *space, *read_target;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        text = fuzz_strndup(data, size);

        /* "METHOD TARGET" */
        eol = strchrnul(text, '\n');
        space = memchr(text, ' ', (size_t) (eol - text));
        FOREACH_ARRAY(method, methods, ELEMENTSOF(methods))
                if (space && strlen(method->name) == (size_t) (space - text) &&
                    memcmp(method->name, text, (size_t) (space - text)) == 0)
                        model.method = method;
        if (!model.method)
                return -1;
        for (size_t i = 0; i < 3; i++) {
                model.values.b[i] = parsed.b[i] = DEFAULT_B;
                model.values.t[i] = parsed.t[i] = DEFAULT_T;
                parsed.s[i] = DEFAULT_S;
        }
        target = unescape(space + 1, (size_t) (eol - space - 1));

        fuzz_check(sd_bus_message_new_method_call(bus, &m, "org.vfiod1", "/org/vfiod1", "org.vfiod1.Manager",
                                                  model.method->name) >= 0);
        if (sd_bus_message_append_basic(m, 's', target) < 0 || sd_bus_message_open_container(m, 'a', "{sv}") < 0)
                goto skip;
        for (line = *eol ? eol + 1 : eol; *line; line = *eol ? eol + 1 : eol) {
                eol = strchrnul(line, '\n');
                if (eol == line)
                        continue;
                if (append_entry(m, &model, line, (size_t) (eol - line)) < 0)
                        goto skip;
        }
        if (sd_bus_message_close_container(m) < 0)
                goto skip;
        fuzz_check(sd_bus_message_seal(m, 1, 0) >= 0);
        fuzz_check(sd_bus_message_rewind(m, true) >= 0);
        fuzz_check(sd_bus_message_has_signature(m, "sa{sv}"));

        /* What read_target_and_options() in manager-dbus.c does. */
        for (size_t i = 0; i < ELEMENTSOF(model.method->options) && model.method->options[i]; i++) {
                char type = model.method->types[i];

                specs[n_specs++] = (OptionSpec){
                        .name = model.method->options[i],
                        .type = type,
                        .dest = type == 'b'   ? (void *) &parsed.b[i]
                                : type == 't' ? (void *) &parsed.t[i]
                                              : (void *) &parsed.s[i],
                };
        }
        fuzz_check(sd_bus_message_read(m, "s", &read_target) > 0);
        fuzz_check(streq(read_target, target));
        r = bus_parse_options(m, specs, n_specs, &error);

        fuzz_check(r < 0 ? r == model.r : model.r == 0);
        if (r < 0) {
                fuzz_check(sd_bus_error_has_name(&error, VFIOD_ERROR_INVALID_OPTION));
                fuzz_check(streq_ptr(error.message, model.error));
        } else {
                fuzz_check(!sd_bus_error_is_set(&error));
                fuzz_check(sd_bus_message_at_end(m, true) > 0);
                for (size_t i = 0; i < n_specs; i++)
                        switch (specs[i].type) {
                        case 'b':
                                fuzz_check(parsed.b[i] == model.values.b[i]);
                                break;
                        case 't':
                                fuzz_check(parsed.t[i] == model.values.t[i]);
                                break;
                        case 's':
                                fuzz_check(streq(parsed.s[i], model.values.s[i] ?: DEFAULT_S));
                                break;
                        }
        }

skip:
        for (size_t i = 0; i < ELEMENTSOF(model.values.s); i++)
                free(model.values.s[i]);
        free(model.error);
        return 0;
}
