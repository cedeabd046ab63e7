/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: vfioctl's command line: options, the verb table, failures as one line and an exit code. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "output.h"
#include "vfioctl.h"
#include "vfiod-client.h"
#include "vfiod-error.h"

static bool arg_json = false;
static bool arg_persist = false;
static bool arg_force = false;
static bool arg_dry_run = false;
static const char *arg_mode = NULL;
static uint64_t arg_timeout_usec = 0;
static const char *arg_container = NULL;
static const char *arg_interface = NULL;
static bool arg_grant = false;
/* What followed "--": acquire's COMMAND; NULL when there was no "--". */
static char **arg_command = NULL;

/* A verb gets its own name in argv[0] and returns the process exit status (EXIT_*), having said
 * on stderr, in one line, why it failed. */
typedef struct Verb {
        const char *name;
        unsigned min_args; /* after the verb itself */
        unsigned max_args;
        const char *synopsis; /* what follows the verb, for the usage error */
        int (*run)(int argc, char *argv[]);
} Verb;

/* Logs the one line a failed vfiod call gets and returns its exit code. Without a bus error the
 * failure was ours (connection lost, unexpected reply), so what we were doing is said too. */
int log_call_failed(const sd_bus_error *error, int r, const char *what) {
        const char *message = vfiod_error_message(error, r);
        /* vfiod being absent is a plain failure, whatever errno the bus gave for it. */
        int code = vfiod_error_is_not_running(error) ? EXIT_FAILED : vfiod_exit_code(error, r);

        if (sd_bus_error_is_set(error))
                log_error(PROGRAM ": %s", message);
        else if (r == -EBADMSG)
                log_error(PROGRAM ": %s: unexpected reply from vfiod", what);
        else
                log_error_errno(r, PROGRAM ": %s: %m", what);
        return code;
}

static int log_output_failed(int r) {
        log_error_errno(r, PROGRAM ": cannot write output: %m");
        return EXIT_FAILED;
}

int bus_open(sd_bus **ret_bus) {
        int r;

        r = vfiod_bus_open(ret_bus);
        if (r < 0)
                return log_error_errno(r, PROGRAM ": cannot connect to the system bus: %m");
        return 0;
}

static int verb_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_inventory_free_ VfiodInventory *inventory = NULL;
        int r;

        if (bus_open(&bus) < 0)
                return EXIT_FAILED;

        r = vfiod_inventory_load(bus, &error, &inventory);
        if (r < 0)
                return log_call_failed(&error, r, "cannot list groups");

        r = arg_json ? output_list_json(inventory) : output_list_text(inventory);
        if (r < 0)
                return log_output_failed(r);
        return EXIT_OK;
}

int check_target(const char *text, VfiodTarget *ret) {
        if (vfiod_target_parse(text, ret) < 0) {
                log_error(PROGRAM ": invalid target '%s': expected a group id or a device address", text);
                return -EINVAL;
        }
        return 0;
}

/* An object that ended between two of our calls (a lease released, a container closed) is simply
 * not there: the group's own properties say so a moment later. */
static int forgive_gone(sd_bus_error *error, int r) {
        if (r < 0 && vfiod_error_is_gone(error)) {
                sd_bus_error_free(error);
                return 0;
        }
        return r;
}

static int verb_show(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_inventory_free_ VfiodInventory *inventory = NULL;
        _cleanup_(vfiod_lease_info_freep) VfiodLeaseInfo *lease = NULL;
        _cleanup_(vfiod_container_info_freep) VfiodContainerInfo *container = NULL;
        const VfiodGroup *group;
        uint32_t id;
        VfiodTarget target;
        int r;

        if (check_target(argv[1], &target) < 0)
                return EXIT_USAGE;

        if (bus_open(&bus) < 0)
                return EXIT_FAILED;

        r = vfiod_resolve_target(bus, &target, &error, &id, NULL);
        if (r < 0)
                return log_call_failed(&error, r, "cannot look up target");

        /* One snapshot for the group and all its devices, rather than a call per device. */
        r = vfiod_inventory_load(bus, &error, &inventory);
        if (r < 0)
                return log_call_failed(&error, r, "cannot read group");

        group = vfiod_inventory_find_group(inventory, id);
        if (!group) {
                /* It went away between the two calls, e.g. the device was unplugged. */
                log_error(PROGRAM ": no such group %" PRIu32, id);
                return EXIT_NOT_FOUND;
        }

        /* A leased group shows its lease's container. A lease or container that ends in between
         * is none; a grant lease has no container ("/"). */
        if (group->lease) {
                r = forgive_gone(&error, vfiod_lease_info_load(bus, group->lease, &error, &lease));
                if (r < 0)
                        return log_call_failed(&error, r, "cannot read the lease");
        }
        if (lease && lease->container) {
                r = forgive_gone(&error, vfiod_container_info_load(bus, lease->container, &error, &container));
                if (r < 0)
                        return log_call_failed(&error, r, "cannot read the container");
        }

        r = arg_json ? output_show_json(group, container) : output_show_text(group, container);
        if (r < 0)
                return log_output_failed(r);
        return EXIT_OK;
}

/* The dry run: each endpoint's move and the verdict; the exit code is the refusal's, if any. */
static int show_plan(sd_bus *bus, const char *target) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(vfiod_plan_freep) VfiodPlan *plan = NULL;
        int r;

        r = vfiod_plan_assign(bus, target, arg_force, &error, &plan);
        if (r < 0)
                return log_call_failed(&error, r, "cannot plan the assignment");

        printf("%s\n", plan->group_path);
        for (size_t i = 0; i < plan->n_moves; i++)
                printf("  %s  %s -> %s\n", plan->moves[i].address,
                       plan->moves[i].from[0] ? plan->moves[i].from : "(none)", plan->moves[i].to);
        if (plan->error_name[0] == '\0') {
                printf("verdict: would assign\n");
                return EXIT_OK;
        }
        printf("verdict: refused: %s\n", plan->message);
        sd_bus_error_set(&error, plan->error_name, plan->message);
        return vfiod_exit_code(&error, -EIO);
}

static int verb_assign(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        VfiodAssignOptions o = { .persist = arg_persist, .force = arg_force, .dry_run = arg_dry_run };
        VfiodTarget target;
        int r;

        if (check_target(argv[1], &target) < 0)
                return EXIT_USAGE;
        if (bus_open(&bus) < 0)
                return EXIT_FAILED;
        if (arg_dry_run)
                return show_plan(bus, argv[1]);

        r = vfiod_assign(bus, argv[1], &o, &error, NULL);
        if (r < 0)
                return log_call_failed(&error, r, "cannot assign");
        return EXIT_OK;
}

static int verb_unassign(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        VfiodUnassignOptions o = { .mode = arg_mode, .timeout_usec = arg_timeout_usec, .persist = arg_persist };
        VfiodTarget target;
        int r;

        if (check_target(argv[1], &target) < 0)
                return EXIT_USAGE;
        if (bus_open(&bus) < 0)
                return EXIT_FAILED;

        r = vfiod_unassign(bus, argv[1], &o, &error);
        if (r < 0)
                return log_call_failed(&error, r, "cannot unassign");
        return EXIT_OK;
}

/* The group's holders (Group.Holders) and its lease, if any: two reads, since the lease is an
 * object of its own. A lease that ends between them is no lease. */
static int verb_holders(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(vfiod_group_freep) VfiodGroup *group = NULL;
        _cleanup_(vfiod_lease_info_freep) VfiodLeaseInfo *lease = NULL;
        _cleanup_free_ char *path = NULL;
        uint32_t id;
        VfiodTarget target;
        int r;

        if (check_target(argv[1], &target) < 0)
                return EXIT_USAGE;

        if (bus_open(&bus) < 0)
                return EXIT_FAILED;

        r = vfiod_resolve_target(bus, &target, &error, &id, &path);
        if (r < 0)
                return log_call_failed(&error, r, "cannot look up target");

        r = vfiod_group_load(bus, path, &error, &group);
        if (r < 0 && vfiod_error_is_gone(&error)) {
                log_error(PROGRAM ": no such group %" PRIu32, id);
                return EXIT_NOT_FOUND;
        }
        if (r < 0)
                return log_call_failed(&error, r, "cannot read group");

        if (group->lease) {
                r = forgive_gone(&error, vfiod_lease_info_load(bus, group->lease, &error, &lease));
                if (r < 0)
                        return log_call_failed(&error, r, "cannot read the lease");
        }

        r = arg_json ? output_holders_json(group, lease) : output_holders_text(group, lease);
        if (r < 0)
                return log_output_failed(r);
        return EXIT_OK;
}

static int verb_monitor(int argc, char *argv[]) {
        return verb_monitor_run(arg_json);
}

static int verb_acquire(int argc, char *argv[]) {
        VfiodAcquireOptions o = { .container = arg_container, .interface = arg_interface, .grant = arg_grant };

        return verb_acquire_run(argc, argv, &o, arg_command);
}

#define ACQUIRE_SYNOPSIS " TARGET... [--container KEY] [--interface auto|group|iommufd] [--grant] -- COMMAND [ARG...]"

static const Verb verbs[] = {
        { "list", 0, 0, "", verb_list },
        { "show", 1, 1, " TARGET", verb_show },
        { "assign", 1, 1, " TARGET [--persist] [--force] [--dry-run]", verb_assign },
        { "unassign", 1, 1, " TARGET [--mode fail|soft|hard|kill] [--timeout SEC] [--persist]", verb_unassign },
        { "acquire", 1, UINT_MAX, ACQUIRE_SYNOPSIS, verb_acquire },
        { "holders", 1, 1, " TARGET", verb_holders },
        { "monitor", 0, 0, "", verb_monitor },
};

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n"
               "\n"
               "Query vfiod, the VFIO device assignment daemon.\n"
               "\n"
               "Commands:\n"
               "  list                List IOMMU groups and their devices (default)\n"
               "  show TARGET         Show one group: TARGET is a group id or a device\n"
               "                      address (DDDD:BB:DD.F or BB:DD.F)\n"
               "  assign TARGET       Move the target's whole group to vfio\n"
               "  unassign TARGET     Give the group back to its host drivers\n"
               "  acquire TARGET... -- COMMAND [ARG...]\n"
               "                      Lease the targets' groups and run COMMAND with their\n"
               "                      VFIO fds; the leases end when COMMAND exits\n"
               "  holders TARGET      Show the processes holding the group, and its lease\n"
               "  monitor             Print vfiod's events as they happen, until interrupted\n"
               "\n"
               "Options:\n"
               "  -h --help           Show this help\n"
               "     --version        Show package version\n"
               "     --json           Print one JSON document instead of text (monitor:\n"
               "                      one JSON object per line)\n"
               "     --persist        assign/unassign: also at the next start (or no more)\n"
               "     --force          assign: override the safety refusals\n"
               "     --dry-run        assign: show the plan and the verdict, change nothing\n"
               "     --mode MODE      unassign: fail, soft, hard or kill\n"
               "     --timeout SEC    unassign: how long soft and hard wait for the holder\n"
               "     --container KEY  acquire: the sharing key of the container\n"
               "     --interface IF   acquire: auto, group or iommufd\n"
               "     --grant          acquire: get access to the device nodes, not fds\n"
               "\n"
               "See the vfioctl(1) man page for details.\n",
               PROGRAM);
}

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_PERSIST,
        ARG_FORCE,
        ARG_DRY_RUN,
        ARG_MODE,
        ARG_TIMEOUT,
        ARG_CONTAINER,
        ARG_INTERFACE,
        ARG_GRANT,
};

static int parse_mode(const char *s) {
        static const char *const modes[] = { "fail", "soft", "hard", "kill" };

        FOREACH_ARRAY(m, modes, ELEMENTSOF(modes))
                if (streq(*m, s)) {
                        arg_mode = *m;
                        return 0;
                }
        log_error(PROGRAM ": invalid --mode '%s': expected fail, soft, hard or kill", s);
        return -EINVAL;
}

/* Seconds, fractions allowed, more than zero and at most a day. */
static int parse_timeout(const char *s) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 86400) {
                log_error(PROGRAM ": invalid --timeout '%s': expected seconds, more than 0 and at most 86400", s);
                return -EINVAL;
        }
        arg_timeout_usec = (uint64_t) (v * 1e6);
        return 0;
}

static int parse_interface(const char *s) {
        static const char *const interfaces[] = { "auto", "group", "iommufd" };

        FOREACH_ARRAY(i, interfaces, ELEMENTSOF(interfaces))
                if (streq(*i, s)) {
                        arg_interface = *i;
                        return 0;
                }
        log_error(PROGRAM ": invalid --interface '%s': expected auto, group or iommufd", s);
        return -EINVAL;
}

/* Returns 1 to go on with a verb, 0 when done (help, version), or -EINVAL after a usage error. */
static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "persist", no_argument, NULL, ARG_PERSIST },
                { "force", no_argument, NULL, ARG_FORCE },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "mode", required_argument, NULL, ARG_MODE },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "container", required_argument, NULL, ARG_CONTAINER },
                { "interface", required_argument, NULL, ARG_INTERFACE },
                { "grant", no_argument, NULL, ARG_GRANT },
                {},
        };
        int c;

        /* Options may follow the verb (`vfioctl show 6 --json`), as in systemctl; getopt's own
         * messages are off so that a usage error is our one line with our prefix. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts(PROGRAM " " VFIOD_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_PERSIST:
                        arg_persist = true;
                        break;
                case ARG_FORCE:
                        arg_force = true;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_MODE:
                        if (parse_mode(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_TIMEOUT:
                        if (parse_timeout(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_CONTAINER:
                        if (optarg[0] == '\0') {
                                log_error(PROGRAM ": invalid --container '': the key must not be empty");
                                return -EINVAL;
                        }
                        arg_container = optarg;
                        break;
                case ARG_INTERFACE:
                        if (parse_interface(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_GRANT:
                        arg_grant = true;
                        break;
                case ':':
                        log_error(PROGRAM ": option '%s' needs an argument", argv[optind - 1]);
                        return -EINVAL;
                default:
                        if (optopt > 0 && optopt < 0x100)
                                log_error(PROGRAM ": unknown option '-%c'", optopt);
                        else
                                log_error(PROGRAM ": unknown option '%s'", argv[optind - 1]);
                        return -EINVAL;
                }

        return 1;
}

static int dispatch_verb(int argc, char *argv[]) {
        /* Like loginctl and machinectl: no verb lists. */
        static char *const default_argv[] = { (char *) "list", NULL };
        unsigned n_args;

        if (argc <= 0) {
                argc = 1;
                argv = (char **) default_argv;
        }
        n_args = (unsigned) argc - 1;

        FOREACH_ARRAY(v, verbs, ELEMENTSOF(verbs)) {
                if (!streq(v->name, argv[0]))
                        continue;

                if (n_args < v->min_args || n_args > v->max_args) {
                        log_error(PROGRAM ": %s: %s; usage: " PROGRAM " %s%s", v->name,
                                  n_args < v->min_args ? "missing argument" : "too many arguments", v->name,
                                  v->synopsis);
                        return EXIT_USAGE;
                }
                return v->run(argc, argv);
        }

        log_error(PROGRAM ": unknown command '%s'", argv[0]);
        return EXIT_USAGE;
}

int main(int argc, char *argv[]) {
        int n_options = argc, r;

        /* Options end at the first "--": what follows is acquire's COMMAND with its own options, which
         * getopt must neither parse nor move. */
        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "--")) {
                        n_options = i;
                        arg_command = argv + i + 1;
                        break;
                }

        r = parse_argv(n_options, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_OK;

        if (arg_command && (n_options == optind || !streq(argv[optind], "acquire"))) {
                /* For the other verbs "--" only ends the options: the rest are their arguments. */
                for (char **a = arg_command; *a; a++)
                        argv[n_options++] = *a;
                argv[n_options] = NULL;
                arg_command = NULL;
        }

        r = dispatch_verb(n_options - optind, argv + optind);

        /* What is still buffered can fail too (full disk, closed pipe), and must not pass as success. */
        if (fflush(stdout) != 0 && r == EXIT_OK) {
                log_error_errno(errno, PROGRAM ": cannot write output: %m");
                return EXIT_FAILED;
        }
        return r;
}
