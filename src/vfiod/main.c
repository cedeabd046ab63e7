/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfiod: the VFIO device-assignment daemon. Parses the command line and runs the manager. */

#include <getopt.h>
#include <sys/utsname.h>

#include "log.h"
#include "manager.h"
#include "policy.h"

static void help(void) {
        printf("Usage: vfiod [OPTIONS]\n\n"
               "The VFIO device-assignment daemon (org.vfiod1 on the system bus).\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --log-level=LEVEL   err, warning, notice, info or debug (default: info)\n"
               "     --sysfs-root=DIR    Read sysfs from DIR instead of /sys (tests)\n"
               "     --dev-root=DIR      Use device nodes under DIR instead of /dev (tests)\n"
               "     --proc-root=DIR     Read procfs from DIR instead of /proc (tests)\n"
               "     --runtime-dir=DIR   Keep the intent log in DIR (default: /run/vfiod)\n"
               "     --state-dir=DIR     Keep persistent assignments in DIR (default: /var/lib/vfiod)\n"
               "     --modules-dir=DIR   Look up vfio variant drivers in DIR/modules.alias\n"
               "                         (default: /lib/modules/$(uname -r))\n"
               "     --config=FILE       Read the configuration from FILE (default: " POLICY_MAIN_FILE ")\n"
               "     --config-dir=DIR    Read drop-ins from DIR (default: " POLICY_DROPIN_DIR ")\n"
               "     --write-timeout=SEC How long a kernel write may block before the group is\n"
               "                         declared wedged (default: 10)\n");
}

static int parse_log_level(const char *s) {
        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "err", LOG_ERR },   { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
                { "info", LOG_INFO }, { "debug", LOG_DEBUG },
        };
        FOREACH_ARRAY(l, levels, ELEMENTSOF(levels))
                if (streq(l->name, s))
                        return l->level;
        return -EINVAL;
}

/* Returns 1 to go on, 0 to exit successfully (help), < 0 on a usage error. */
static int parse_argv(int argc, char *argv[], ManagerOptions *o) {
        enum {
                ARG_VERSION = 0x100,
                ARG_LOG_LEVEL,
                ARG_SYSFS_ROOT,
                ARG_DEV_ROOT,
                ARG_PROC_ROOT,
                ARG_RUNTIME_DIR,
                ARG_STATE_DIR,
                ARG_WRITE_TIMEOUT,
                ARG_MODULES_DIR,
                ARG_CONFIG,
                ARG_CONFIG_DIR,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "sysfs-root", required_argument, NULL, ARG_SYSFS_ROOT },
                { "dev-root", required_argument, NULL, ARG_DEV_ROOT },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "write-timeout", required_argument, NULL, ARG_WRITE_TIMEOUT },
                { "modules-dir", required_argument, NULL, ARG_MODULES_DIR },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                {},
        };
        uint32_t seconds;
        int c, level;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vfiod %s\n", VFIOD_VERSION);
                        return 0;
                case ARG_LOG_LEVEL:
                        level = parse_log_level(optarg);
                        if (level < 0)
                                return log_error_errno(level, "Unknown log level '%s'.", optarg);
                        log_set_max_level(level);
                        break;
                case ARG_SYSFS_ROOT:
                        o->sysfs_root = optarg;
                        break;
                case ARG_DEV_ROOT:
                        o->dev_root = optarg;
                        break;
                case ARG_PROC_ROOT:
                        o->proc_root = optarg;
                        break;
                case ARG_RUNTIME_DIR:
                        o->runtime_dir = optarg;
                        break;
                case ARG_STATE_DIR:
                        o->state_dir = optarg;
                        break;
                case ARG_CONFIG:
                        o->config_file = optarg;
                        break;
                case ARG_CONFIG_DIR:
                        o->config_dir = optarg;
                        break;
                case ARG_MODULES_DIR:
                        o->modules_dir = optarg;
                        break;
                case ARG_WRITE_TIMEOUT:
                        if (group_id_parse(optarg, &seconds) < 0 || seconds == 0 || seconds > 3600)
                                return log_error_errno(-EINVAL, "Invalid --write-timeout '%s': 1 to 3600 seconds.",
                                                       optarg);
                        o->write_timeout_usec = (uint64_t) seconds * 1000000;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'.", argv[optind]);

        /* Uevents describe the real /sys only; a generated tree has none. */
        o->watch_uevents = streq(o->sysfs_root, "/sys");
        return 1;
}

int main(int argc, char *argv[]) {
        ManagerOptions options = {
                .sysfs_root = "/sys",
                .dev_root = "/dev",
                .proc_root = "/proc",
                .runtime_dir = "/run/vfiod",
                .state_dir = "/var/lib/vfiod",
                .write_timeout_usec = 10 * 1000000ULL,
                .config_file = POLICY_MAIN_FILE,
                .config_dir = POLICY_DROPIN_DIR,
        };
        _cleanup_free_ char *modules_dir = NULL;
        struct utsname uts;
        Manager *m = NULL;
        int r;

        if (uname(&uts) < 0 || asprintf(&modules_dir, "/lib/modules/%s", uts.release) < 0)
                return 1;
        options.modules_dir = modules_dir;

        r = parse_argv(argc, argv, &options);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        r = manager_new(&options, &m);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the daemon: %m");
                goto finish;
        }
        r = manager_start(m);
        if (r < 0)
                goto finish;
        r = manager_run(m);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
finish:
        manager_free(m);
        return r < 0 ? 1 : 0;
}
