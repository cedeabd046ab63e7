/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration and access rules (policy.c): defaults, the contract's example, errors that name
 * file, line and key, drop-ins in name order, and who may do what to which group. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "log.h"
#include "macro.h"
#include "policy.h"
#include "tests.h"
#include "tmpdir.h"
#include "user-groups.h"

/* What the current case made, freed after it whether it passed or not. */
static char *dir;
static char *main_file;
static char *dropin_dir;
static PolicyConfig *config;
static char *error;

static void cleanup_case(void) {
        config = policy_free(config);
        error = mfree(error);
        main_file = mfree(main_file);
        dropin_dir = mfree(dropin_dir);
        dir = tmpdir_remove(dir);
}

static void new_dir(void) {
        int r;

        check(!dir);
        r = tmpdir_new("vfiod-test-policy", &dir);
        if (r < 0)
                test_fail("tmpdir_new: %s", strerror(-r));
        check(asprintf(&main_file, "%s/vfiod.json", dir) >= 0);
        check(asprintf(&dropin_dir, "%s/vfiod.d", dir) >= 0);
}

static void write_file(const char *relative, const char *text) {
        if (!dir)
                new_dir();
        check_int(tmpdir_write(dir, relative, text), ==, 0);
}

static int load(void) {
        if (!dir)
                new_dir();
        config = policy_free(config);
        error = mfree(error);
        return policy_load(main_file, dropin_dir, &config, &error);
}

static void load_ok(const char *text) {
        int r;

        write_file("vfiod.json", text);
        r = load();
        if (r < 0)
                test_fail("policy_load: %s: %s", strerror(-r), strempty(error));
        check(config);
}

/* Loading fails with -EBADMSG and "<dir>/<file>:<line>: <rest...>" where rest starts with what. */
static void check_load_error(const char *file, unsigned line, const char *what) {
        _cleanup_free_ char *prefix = NULL;
        int r;

        r = load();
        if (r != -EBADMSG)
                test_fail("policy_load returned %d (%s), expected -EBADMSG", r, strempty(error));
        check(!config);
        check(error);
        check(!strchr(error, '\n'));
        printf("# %s\n", error);
        check(asprintf(&prefix, "%s/%s:%u: %s", dir, file, line, what) >= 0);
        if (!startswith(error, prefix))
                test_fail("error \"%s\" does not start with \"%s\"", error, prefix);
}

static void check_main_error(const char *text, unsigned line, const char *what) {
        write_file("vfiod.json", text);
        check_load_error("vfiod.json", line, what);
}

/* ---- Loading ---- */

static void missing_files_give_defaults(void) {
        new_dir();
        check_int(load(), ==, 0);
        check_str(config->remove_mode, "soft");
        check_uint(config->remove_timeout_usec, ==, 30 * 1000000ULL);
        check(!config->per_group_containers);
        check(!config->allow_noiommu);
        check_uint(config->n_rules, ==, 0);
        check(!error);

        /* Both paths may be left out altogether. */
        config = policy_free(config);
        check_int(policy_load(NULL, NULL, &config, &error), ==, 0);
        check_str(config->remove_mode, "soft");
}

static void contract_example_with_comments_loads(void) {
        load_ok("{\n"
                "  \"remove\":     {\"mode\": \"soft\", \"timeout_sec\": 30},\n"
                "  \"containers\": {\"sharing\": \"key\"},            // or \"per-group\"\n"
                "  \"allow_noiommu\": false,\n"
                "  \"rules\": [\n"
                "    {\"users\": [\"alice\"], \"groups\": [\"kvm\"],     // unix users and/or unix groups\n"
                "     \"targets\": [\"0000:01:00.0\", \"12\", \"10de:*\"],  // address, group id, vendor:product\n"
                "     \"actions\": [\"acquire\"]}                   // \"acquire\", \"grant\", \"manage\"\n"
                "  ]\n"
                "}\n");

        check_str(config->remove_mode, "soft");
        check_uint(config->remove_timeout_usec, ==, 30 * 1000000ULL);
        check(!config->per_group_containers);
        check_uint(config->n_rules, ==, 1);

        const PolicyRule *rule = &config->rules[0];
        check_uint(rule->n_users, ==, 1);
        check_str(rule->users[0], "alice");
        check(!rule->users[1]);
        check_uint(rule->n_groups, ==, 1);
        check_str(rule->groups[0], "kvm");
        check_uint(rule->n_targets, ==, 3);
        check_int(rule->targets[0].kind, ==, POLICY_TARGET_ADDRESS);
        check_str(rule->targets[0].address, "0000:01:00.0");
        check_int(rule->targets[1].kind, ==, POLICY_TARGET_GROUP);
        check_uint(rule->targets[1].group, ==, 12);
        check_int(rule->targets[2].kind, ==, POLICY_TARGET_ID);
        check_int(rule->targets[2].vendor, ==, 0x10de);
        check_int(rule->targets[2].product, ==, -1);
        check_uint(rule->actions, ==, 1u << POLICY_ACQUIRE);
        check_str(rule->file, main_file);
        check_uint(rule->line, ==, 6);
}

static void every_setting_is_read(void) {
        load_ok("/* block comment\n   over lines */\n"
                "{ \"remove\": { \"mode\": \"hard\", \"timeout_sec\": 2.5 },\n"
                "  \"containers\": { \"sharing\": \"per-group\" },\n"
                "  \"allow_noiommu\": true,\n"
                "  \"rules\": [ { \"groups\": [\"kvm\"], \"targets\": [\"01:00.1\", \"*:1234\", \"ABCD:ef01\"],\n"
                "                \"actions\": [\"grant\", \"manage\"] } ] }\n");

        check_str(config->remove_mode, "hard");
        check_uint(config->remove_timeout_usec, ==, 2500000);
        check(config->per_group_containers);
        check(config->allow_noiommu);
        check_uint(config->n_rules, ==, 1);
        check_str(config->rules[0].targets[0].address, "0000:01:00.1");
        check_int(config->rules[0].targets[1].vendor, ==, -1);
        check_int(config->rules[0].targets[1].product, ==, 0x1234);
        check_int(config->rules[0].targets[2].vendor, ==, 0xabcd);
        check_int(config->rules[0].targets[2].product, ==, 0xef01);
        check_uint(config->rules[0].actions, ==, (1u << POLICY_GRANT) | (1u << POLICY_MANAGE));
        check_uint(config->rules[0].n_users, ==, 0);
        check_uint(config->rules[0].line, ==, 6);
}

static void remove_timeout_bounds(void) {
        load_ok("{ \"remove\": { \"timeout_sec\": 86400 } }");
        check_uint(config->remove_timeout_usec, ==, 86400 * 1000000ULL);
        load_ok("{ \"remove\": { \"timeout_sec\": 0.000001 } }");
        check_uint(config->remove_timeout_usec, ==, 1);

        check_main_error("{ \"remove\": { \"timeout_sec\": 0 } }", 1,
                         "remove.timeout_sec: must be more than 0 and at most 86400 seconds");
        check_main_error("{ \"remove\": { \"timeout_sec\": -5 } }", 1, "remove.timeout_sec: must be more than 0");
        check_main_error("{ \"remove\": { \"timeout_sec\": 86401 } }", 1, "remove.timeout_sec: must be more than 0");
        check_main_error("{ \"remove\": { \"timeout_sec\": 0.0000001 } }", 1, "remove.timeout_sec: ");
        check_main_error("{ \"remove\": { \"timeout_sec\": NaN } }", 1, "remove.timeout_sec: ");
        check_main_error("{ \"remove\": { \"timeout_sec\": 99999999999999999999 } }", 1, "remove.timeout_sec: ");
        check_main_error("{ \"remove\": { \"timeout_sec\": \"30\" } }", 1,
                         "remove.timeout_sec: expected a number of seconds, got a string");
}

/* ---- Errors: file, line, key ---- */

static void unknown_top_level_key(void) {
        check_main_error("{\n"
                         "  \"remove\": { \"mode\": \"soft\" },\n"
                         "  // \"allow_iommu\": true, in a comment, is not the key\n"
                         "  \"allow_iommu\": true\n"
                         "}\n",
                         4, "allow_iommu: unknown key");
}

static void wrong_type_of_mode(void) {
        check_main_error("{\n"
                         "  \"remove\": {\n"
                         "    \"timeout_sec\": 10,\n"
                         "    \"mode\": 5\n"
                         "  }\n"
                         "}\n",
                         4, "remove.mode: expected a string, got a number");
}

static void bad_mode_value(void) {
        check_main_error("{\n"
                         "  \"remove\": {\n"
                         "    \"mode\": \"fast\"\n"
                         "  }\n"
                         "}\n",
                         3, "remove.mode: \"fast\" is not one of fail, soft, hard, kill");
}

static void bad_sharing_and_types(void) {
        check_main_error("{\n  \"containers\": { \"sharing\": \"all\" }\n}\n", 2,
                         "containers.sharing: \"all\" is not one of key, per-group");
        check_main_error("{\n\n  \"containers\": [ \"key\" ]\n}\n", 3, "containers: expected an object, got an array");
        check_main_error("{\n  \"allow_noiommu\": \"yes\"\n}\n", 2, "allow_noiommu: expected a boolean, got a string");
        check_main_error("{\n  \"remove\": { \"grace\": 1 }\n}\n", 2, "remove.grace: unknown key");
        check_main_error("{\n  \"rules\": {}\n}\n", 2, "rules: expected an array, got an object");
}

static const char rules_head[] = "{\n"
                                 "  \"remove\": { \"mode\": \"soft\" },\n"
                                 "  \"rules\": [\n"
                                 "    {\n"
                                 "      \"users\": [ \"alice\" ],\n"
                                 "      \"targets\": [ \"12\" ],\n"
                                 "      \"actions\": [ \"acquire\" ]\n"
                                 "    },\n";

static void check_rule_error(const char *second_rule, unsigned line, const char *what) {
        _cleanup_free_ char *text = NULL;

        check(asprintf(&text, "%s%s\n  ]\n}\n", rules_head, second_rule) >= 0);
        check_main_error(text, line, what);
}

static void bad_target(void) {
        /* The second rule starts on line 9. */
        check_rule_error("    {\n"
                         "      \"groups\": [ \"kvm\" ],\n"
                         "      \"targets\": [\n"
                         "        \"0000:01:00.0\",\n"
                         "        \"12\",\n"
                         "        \"10de:zz\"\n"
                         "      ],\n"
                         "      \"actions\": [ \"acquire\" ]\n"
                         "    }",
                         14, "rules[1].targets[2]: \"10de:zz\" is not a PCI address, group id or vendor:product");

        static const char *const bad[] = { "012",          "10de",    "10de:123", "10de:12345", "g0de:1234", "**:1234",
                                           "0000:01:20.0", "01:00.8", "",         "10de:*:1",   "4294967295" };
        FOREACH_ARRAY(t, bad, ELEMENTSOF(bad)) {
                _cleanup_free_ char *rule = NULL;

                check(asprintf(&rule, "{ \"users\": [\"a\"], \"targets\": [\"%s\"], \"actions\": [\"acquire\"] }",
                               *t) >= 0);
                check_rule_error(rule, 9, "rules[1].targets[0]: \"");
                check(strstr(error, "is not a PCI address, group id or vendor:product"));
        }
}

static void bad_action(void) {
        check_rule_error("    { \"users\": [ \"bob\" ], \"targets\": [ \"3\" ],\n"
                         "      \"actions\": [ \"acquire\",\n"
                         "                   \"own\" ] }",
                         11, "rules[1].actions[1]: \"own\" is not one of acquire, grant, manage");
        check_rule_error("    { \"users\": [ \"bob\" ], \"targets\": [ \"3\" ], \"actions\": [ 1 ] }", 9,
                         "rules[1].actions[0]: expected a string, got a number");
}

static void rule_without_users_or_groups(void) {
        check_rule_error("    {\n"
                         "      \"targets\": [ \"3\" ],\n"
                         "      \"actions\": [ \"acquire\" ]\n"
                         "    }",
                         9, "rules[1]: a rule needs \"users\" or \"groups\"");
        check_rule_error("    { \"users\": [], \"groups\": [], \"targets\": [ \"3\" ], \"actions\": [ \"grant\" ] }", 9,
                         "rules[1]: a rule needs \"users\" or \"groups\"");
}

static void rule_without_targets_or_actions(void) {
        check_rule_error("    { \"users\": [ \"bob\" ], \"actions\": [ \"acquire\" ] }", 9,
                         "rules[1]: a rule needs at least one target");
        check_rule_error("    { \"users\": [ \"bob\" ], \"targets\": [ \"3\" ], \"actions\": [] }", 9,
                         "rules[1]: a rule needs at least one action");
}

static void bad_names_and_rule_keys(void) {
        check_rule_error("    {\n      \"users\": [ \"bob\", \"\" ] }", 10,
                         "rules[1].users[1]: expected a non-empty string, got \"\"");
        check_rule_error("    {\n      \"groups\": \"kvm\" }", 10, "rules[1].groups: expected an array, got a string");
        check_rule_error("    {\n      \"users\": [ \"bob\" ],\n      \"target\": [ \"3\" ] }", 11,
                         "rules[1].target: unknown key");
        check_rule_error("    \"bob\"", 9, "rules[1]: expected an object, got a string");
}

static void syntax_error_names_its_line(void) {
        check_main_error("{\n"
                         "  \"remove\": { \"mode\": \"soft\" },\n"
                         "  \"allow_noiommu\": fals,\n"
                         "  \"rules\": []\n"
                         "}\n",
                         3, "syntax error: ");
        check_main_error("{\n  \"rules\": []\n  \"remove\": {}\n}\n", 3, "syntax error: ");
        check_main_error("{\n  \"rules\": [\n", 2, "syntax error: unexpected end of file");
        check_main_error("", 1, "syntax error: unexpected end of file");
        check_main_error("{}\n\n{}\n", 3, "syntax error: unexpected text after the end");
        check_main_error("\n[]\n", 2, "expected a JSON object at the top level, got an array");
}

/* Found by fuzzing: json-c ends a // comment only at a newline, and cuts strings at \u0000. */
static void comment_on_the_last_line_without_newline_loads(void) {
        load_ok("{ \"rules\": [] }\n// the end, no newline after it");
        load_ok("{ \"rules\": [] } // no newline either");
}

static void escaped_nul_in_a_string_is_refused(void) {
        check_main_error("{\n  \"remove\": { \"mode\": \"hard\\u0000 or soft\" }\n}\n", 2,
                         "syntax error: NUL (\\u0000) in a string");
        check_main_error("{\n  \"rules\": [\n    { \"users\": [\"root\\u0000evil\"], \"targets\": [\"12\"], "
                         "\"actions\": [\"acquire\"] } ]\n}\n",
                         3, "syntax error: NUL (\\u0000) in a string");
}

static void odd_keys_print_on_one_line(void) {
        check_main_error("{\n  \"a\\nb\": 1\n}\n", 2, "\"a\\nb\": unknown key");
        /* A key spelled with an escape is still found on its line. */
        check_main_error("{\n  \"remove\": {},\n  \"\\u0072emove\": { \"mode\": 1 }\n}\n", 3,
                         "remove.mode: expected a string");
}

/* ---- Drop-ins ---- */

static const char one_rule[] =
        "{ \"rules\": [ { \"users\": [\"%s\"], \"targets\": [\"1\"], \"actions\": [\"acquire\"] } ] }";

static void write_rule_file(const char *relative, const char *user) {
        _cleanup_free_ char *text = NULL;

        check(asprintf(&text, one_rule, user) >= 0);
        write_file(relative, text);
}

static void dropins_add_rules_in_name_order(void) {
        write_rule_file("vfiod.json", "main");
        write_rule_file("vfiod.d/20-b.json", "b");
        write_rule_file("vfiod.d/10-a.json", "a");
        write_rule_file("vfiod.d/30-c.json.disabled", "ignored");
        write_rule_file("vfiod.d/README", "ignored");
        write_rule_file("vfiod.d/.hidden.json", "ignored");
        write_rule_file("vfiod.d/sub.json/x.json", "ignored"); /* a directory named *.json */
        write_file("vfiod.d/99-empty.json", "// only rules may be here, and none are\n{}\n");

        check_int(load(), ==, 0);
        check_uint(config->n_rules, ==, 3);
        check_str(config->rules[0].users[0], "main");
        check_str(config->rules[1].users[0], "a");
        check_str(config->rules[2].users[0], "b");
        check(strstr(config->rules[1].file, "/vfiod.d/10-a.json"));
        check_uint(config->rules[1].line, ==, 1);
}

static void dropins_without_main_file(void) {
        write_rule_file("vfiod.d/50-only.json", "only");
        check_int(load(), ==, 0);
        check_uint(config->n_rules, ==, 1);
        check_str(config->remove_mode, "soft");
}

static void dropin_unknown_key(void) {
        write_rule_file("vfiod.json", "main");
        write_file("vfiod.d/10-x.json", "{\n  \"rules\": [],\n  \"rulez\": []\n}\n");
        check_load_error("vfiod.d/10-x.json", 3, "rulez: unknown key");
}

static void dropin_may_not_set_remove(void) {
        write_file("vfiod.d/10-x.json", "{\n  \"rules\": [],\n\n  \"remove\": { \"mode\": \"kill\" }\n}\n");
        check_load_error("vfiod.d/10-x.json", 4, "remove: not allowed in a drop-in");
        write_file("vfiod.d/10-x.json", "{ \"rules\": [],\n  \"allow_noiommu\": true }\n");
        check_load_error("vfiod.d/10-x.json", 2, "allow_noiommu: not allowed in a drop-in");
}

static void dropin_error_in_rule_names_dropin(void) {
        write_rule_file("vfiod.d/10-a.json", "a");
        write_file(
                "vfiod.d/20-b.json",
                "{ \"rules\": [\n  { \"users\": [\"b\"], \"targets\": [\"1\"],\n    \"actions\": [\"take\"] } ] }\n");
        check_load_error("vfiod.d/20-b.json", 3, "rules[0].actions[0]: \"take\" is not one of");
}

static void unreadable_main_file_is_an_error(void) {
        new_dir();
        check_int(tmpdir_write(dir, "vfiod.json/x", "{}"), ==, 0); /* vfiod.json is a directory */
        check_int(load(), ==, -EISDIR);
        check(error);
        check(strstr(error, main_file));
}

static void dropin_that_is_not_a_file_is_an_error_not_a_hang(void) {
        _cleanup_free_ char *fifo = NULL;

        write_rule_file("vfiod.d/10-a.json", "a");
        check(asprintf(&fifo, "%s/20-fifo.json", dropin_dir) >= 0);
        check_int(mkfifo(fifo, 0644), ==, 0);
        check_int(load(), ==, -EBADFD);
        check(error);
        check(strstr(error, "20-fifo.json: not a regular file"));
}

/* ---- Checking ---- */

/* Group 7: a GPU (10de:1b80), its audio function (10de:10f0) and a bridge (8086:1901). */
static Device gpu = { .address = "0000:01:00.0", .vendor = 0x10de, .product = 0x1b80, .class = 0x030000 };
static Device audio = { .address = "0000:01:00.1", .vendor = 0x10de, .product = 0x10f0, .class = 0x040300 };
static Device bridge = { .address = "0000:00:01.0", .vendor = 0x8086, .product = 0x1901, .class = 0x060400 };
static Device *group7_devices[] = { &bridge, &gpu, &audio };
static const Group group7 = { .id = 7, .devices = group7_devices, .n_devices = ELEMENTSOF(group7_devices) };
static Device *bridge_only_devices[] = { &bridge };
static const Group group9 = { .id = 9, .devices = bridge_only_devices, .n_devices = 1 };

static uid_t uid_of(const char *name) {
        struct passwd *pw = getpwnam(name);
        if (!pw)
                test_fail("no user %s on this system", name);
        return pw->pw_uid;
}

static gid_t gid_of(const char *name) {
        struct group *gr = getgrnam(name);
        if (!gr)
                test_fail("no group %s on this system", name);
        return gr->gr_gid;
}

/* An unprivileged uid and gid that no rule below names: 4000000 is outside any name service here. */
#define STRANGER_UID ((uid_t) 4000000)
#define STRANGER_GID ((gid_t) 4000000)

static void load_rule(const char *who, const char *targets, const char *actions) {
        _cleanup_free_ char *text = NULL;

        check(asprintf(&text, "{ \"rules\": [ { %s, \"targets\": [ %s ], \"actions\": [ %s ] } ] }", who, targets,
                       actions) >= 0);
        load_ok(text);
}

static bool user_may(const char *user, PolicyAction a, const Group *g) {
        return policy_allows(config, uid_of(user), STRANGER_GID, NULL, 0, a, g);
}

static void user_rule_by_name(void) {
        load_rule("\"users\": [\"nobody\", \"root\"]", "\"7\"", "\"acquire\"");
        check(user_may("nobody", POLICY_ACQUIRE, &group7));
        check(user_may("root", POLICY_ACQUIRE, &group7));
        check(!policy_allows(config, STRANGER_UID, STRANGER_GID, NULL, 0, POLICY_ACQUIRE, &group7));

        /* A name the system does not know matches no one. */
        load_rule("\"users\": [\"no-such-user-vfiod\"]", "\"7\"", "\"acquire\"");
        check(!user_may("nobody", POLICY_ACQUIRE, &group7));
        check(!policy_allows(config, STRANGER_UID, STRANGER_GID, NULL, 0, POLICY_ACQUIRE, &group7));
}

/* A check asks the user database nothing per call: the rules' names are resolved once (at the
 * first check), then not again within USER_GROUPS_LIFETIME_USEC, whatever the number of calls,
 * callers, and names that do not resolve. */
static void names_resolved_once_not_per_call(void) {
        const char *group = getgrnam("users") ? "users" : "nogroup";
        _cleanup_free_ char *who = NULL;
        uid_t nobody = uid_of("nobody"), root = uid_of("root");
        gid_t gid = gid_of(group);
        uint64_t before;

        check(asprintf(&who,
                       "\"users\": [\"nobody\", \"root\", \"no-such-user-vfiod\"], "
                       "\"groups\": [\"no-such-group-vfiod\", \"%s\"]",
                       group) >= 0);
        load_rule(who, "\"7\"", "\"acquire\"");
        before = user_db_lookups();
        check(policy_allows(config, nobody, STRANGER_GID, NULL, 0, POLICY_ACQUIRE, &group7));
        check_uint(user_db_lookups() - before, >=, 5); /* one per name, or a few more for large entries */
        check_uint(user_db_lookups() - before, <=, 10);
        before = user_db_lookups();
        for (int i = 0; i < 100; i++) {
                check(policy_allows(config, nobody, STRANGER_GID, NULL, 0, POLICY_ACQUIRE, &group7));
                check(policy_allows(config, root, STRANGER_GID, NULL, 0, POLICY_ACQUIRE, &group7));
                check(policy_allows(config, STRANGER_UID + i, gid, NULL, 0, POLICY_ACQUIRE, &group7));
                check(!policy_allows(config, STRANGER_UID + i, STRANGER_GID, NULL, 0, POLICY_ACQUIRE, &group7));
        }
        check_uint(user_db_lookups() - before, ==, 0);

        /* Later than the lifetime, the next check resolves them again (a user added since counts). */
        config->names_resolved_usec -= USER_GROUPS_LIFETIME_USEC;
        before = user_db_lookups();
        check(policy_allows(config, nobody, STRANGER_GID, NULL, 0, POLICY_ACQUIRE, &group7));
        check_uint(user_db_lookups() - before, >=, 5);
        check_uint(user_db_lookups() - before, <=, 10);
}

static void group_rule_via_supplementary_or_primary_gid(void) {
        const char *name = getgrnam("users") ? "users" : "nogroup";
        _cleanup_free_ char *who = NULL;
        gid_t gid = gid_of(name), gids[] = { STRANGER_GID + 1, gid };

        check(asprintf(&who, "\"groups\": [\"no-such-group-vfiod\", \"%s\"]", name) >= 0);
        load_rule(who, "\"7\"", "\"acquire\"");
        check(policy_allows(config, STRANGER_UID, STRANGER_GID, gids, ELEMENTSOF(gids), POLICY_ACQUIRE, &group7));
        check(policy_allows(config, STRANGER_UID, gid, NULL, 0, POLICY_ACQUIRE, &group7));
        check(!policy_allows(config, STRANGER_UID, STRANGER_GID, gids, 1, POLICY_ACQUIRE, &group7));
        check(!policy_allows(config, STRANGER_UID, STRANGER_GID, NULL, 0, POLICY_ACQUIRE, &group7));
}

static void target_by_group_id(void) {
        load_rule("\"users\": [\"nobody\"]", "\"8\", \"7\"", "\"acquire\"");
        check(user_may("nobody", POLICY_ACQUIRE, &group7));
        check(!user_may("nobody", POLICY_ACQUIRE, &group9));
        load_rule("\"users\": [\"nobody\"]", "\"70\"", "\"acquire\"");
        check(!user_may("nobody", POLICY_ACQUIRE, &group7));
}

static void target_by_addresses_of_every_endpoint(void) {
        /* Both endpoints, one in the short form; the bridge need not be named. */
        load_rule("\"users\": [\"nobody\"]", "\"0000:01:00.0\", \"01:00.1\"", "\"acquire\"");
        check(user_may("nobody", POLICY_ACQUIRE, &group7));
}

static void target_covering_one_of_two_endpoints_does_not_allow(void) {
        load_rule("\"users\": [\"nobody\"]", "\"0000:01:00.0\"", "\"acquire\"");
        check(!user_may("nobody", POLICY_ACQUIRE, &group7));
        load_rule("\"users\": [\"nobody\"]", "\"10de:1b80\", \"0000:00:01.0\"", "\"acquire\"");
        check(!user_may("nobody", POLICY_ACQUIRE, &group7));

        /* Two rules that each cover half do not add up: a rule covers the group or it does not. */
        load_ok("{ \"rules\": [\n"
                "  { \"users\": [\"nobody\"], \"targets\": [\"0000:01:00.0\"], \"actions\": [\"acquire\"] },\n"
                "  { \"users\": [\"nobody\"], \"targets\": [\"0000:01:00.1\"], \"actions\": [\"acquire\"] } ] }");
        check(!user_may("nobody", POLICY_ACQUIRE, &group7));
}

static void target_by_vendor_product(void) {
        load_rule("\"users\": [\"nobody\"]", "\"10de:1b80\", \"10DE:10F0\"", "\"acquire\"");
        check(user_may("nobody", POLICY_ACQUIRE, &group7));
        load_rule("\"users\": [\"nobody\"]", "\"10de:*\"", "\"acquire\"");
        check(user_may("nobody", POLICY_ACQUIRE, &group7));
        load_rule("\"users\": [\"nobody\"]", "\"*:10f0\", \"01:00.0\"", "\"acquire\"");
        check(user_may("nobody", POLICY_ACQUIRE, &group7));
        load_rule("\"users\": [\"nobody\"]", "\"1002:*\"", "\"acquire\"");
        check(!user_may("nobody", POLICY_ACQUIRE, &group7));
}

static void group_without_endpoints_is_not_covered(void) {
        load_rule("\"users\": [\"nobody\"]", "\"*:*\"", "\"acquire\"");
        check(user_may("nobody", POLICY_ACQUIRE, &group7));
        check(!user_may("nobody", POLICY_ACQUIRE, &group9));
}

static void action_mismatch_denies(void) {
        load_rule("\"users\": [\"nobody\"]", "\"7\"", "\"acquire\"");
        check(!user_may("nobody", POLICY_GRANT, &group7));
        check(!user_may("nobody", POLICY_MANAGE, &group7));
        load_rule("\"users\": [\"nobody\"]", "\"7\"", "\"grant\"");
        check(user_may("nobody", POLICY_GRANT, &group7));
        check(!user_may("nobody", POLICY_ACQUIRE, &group7));
        check(!user_may("nobody", POLICY_MANAGE, &group7));
        check(!policy_allows(config, uid_of("nobody"), 0, NULL, 0, _POLICY_ACTION_INVALID, &group7));
}

static void manage_implies_acquire_and_grant(void) {
        load_rule("\"users\": [\"nobody\"]", "\"7\"", "\"manage\"");
        check(user_may("nobody", POLICY_ACQUIRE, &group7));
        check(user_may("nobody", POLICY_GRANT, &group7));
        check(user_may("nobody", POLICY_MANAGE, &group7));
}

static void no_rules_allow_nothing(void) {
        new_dir();
        check_int(load(), ==, 0);
        check(!user_may("root", POLICY_ACQUIRE, &group7));
        check(!policy_allows(NULL, 0, 0, NULL, 0, POLICY_ACQUIRE, &group7));
}

static void action_names_round_trip(void) {
        for (PolicyAction a = 0; a < _POLICY_ACTION_MAX; a++)
                check_int(policy_action_from_string(policy_action_to_string(a)), ==, a);
        check_int(policy_action_from_string("own"), ==, _POLICY_ACTION_INVALID);
        check_int(policy_action_from_string(NULL), ==, _POLICY_ACTION_INVALID);
        check(!policy_action_to_string(_POLICY_ACTION_MAX));
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(missing_files_give_defaults),
                TEST_CASE(comment_on_the_last_line_without_newline_loads),
                TEST_CASE(escaped_nul_in_a_string_is_refused),
                TEST_CASE(contract_example_with_comments_loads),
                TEST_CASE(every_setting_is_read),
                TEST_CASE(remove_timeout_bounds),
                TEST_CASE(unknown_top_level_key),
                TEST_CASE(wrong_type_of_mode),
                TEST_CASE(bad_mode_value),
                TEST_CASE(bad_sharing_and_types),
                TEST_CASE(bad_target),
                TEST_CASE(bad_action),
                TEST_CASE(rule_without_users_or_groups),
                TEST_CASE(rule_without_targets_or_actions),
                TEST_CASE(bad_names_and_rule_keys),
                TEST_CASE(syntax_error_names_its_line),
                TEST_CASE(odd_keys_print_on_one_line),
                TEST_CASE(dropins_add_rules_in_name_order),
                TEST_CASE(dropins_without_main_file),
                TEST_CASE(dropin_unknown_key),
                TEST_CASE(dropin_may_not_set_remove),
                TEST_CASE(dropin_error_in_rule_names_dropin),
                TEST_CASE(unreadable_main_file_is_an_error),
                TEST_CASE(dropin_that_is_not_a_file_is_an_error_not_a_hang),
                TEST_CASE(user_rule_by_name),
                TEST_CASE(group_rule_via_supplementary_or_primary_gid),
                TEST_CASE(target_by_group_id),
                TEST_CASE(target_by_addresses_of_every_endpoint),
                TEST_CASE(target_covering_one_of_two_endpoints_does_not_allow),
                TEST_CASE(target_by_vendor_product),
                TEST_CASE(group_without_endpoints_is_not_covered),
                TEST_CASE(action_mismatch_denies),
                TEST_CASE(manage_implies_acquire_and_grant),
                TEST_CASE(no_rules_allow_nothing),
                TEST_CASE(action_names_round_trip),
                TEST_CASE(names_resolved_once_not_per_call),
        };

        log_set_max_level(getenv("VFIOD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
