/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: vfioctl acquire: leasing groups, running COMMAND with their fds and the VFIOD_* environment,
 * forwarding vfiod's release requests to it as SIGTERM, and releasing the leases when it exits. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>

#include "log.h"
#include "vfioctl.h"
#include "vfiod-error.h"

/* An fd handed to COMMAND, under its name in VFIOD_FDS. */
typedef struct PassedFd {
        char *name;
        int fd; /* borrowed from its lease */
} PassedFd;

typedef struct Run {
        sd_bus *bus;
        sd_event *event;
        VfiodLease **leases;
        size_t n_leases;

        PassedFd *passed;
        size_t n_passed;

        pid_t pid; /* COMMAND; 0 once reaped */
        int status;
        bool terminated; /* SIGTERM already sent on vfiod's behalf */
} Run;

static void run_done(Run *run) {
        for (size_t i = 0; i < run->n_leases; i++)
                vfiod_lease_free(run->leases[i]);
        free(run->leases);
        for (size_t i = 0; i < run->n_passed; i++)
                free(run->passed[i].name);
        free(run->passed);
        sd_bus_flush_close_unref(run->bus);
        sd_event_unref(run->event);
}

/* Ends every lease still held; used after a failed start and after COMMAND exited. Says why one
 * could not be released, but the exit status stays what it was: the lease still ends with our
 * connection a moment later. */
static void release_all(Run *run) {
        for (size_t i = 0; i < run->n_leases; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                int r;

                if (run->leases[i]->revoked)
                        continue;
                r = vfiod_lease_release(run->bus, run->leases[i], &error);
                /* A lease vfiod already ended is not an error of ours. */
                if (r < 0 && !sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT)) {
                        log_warning(PROGRAM ": cannot release %s: %s", run->leases[i]->path,
                                    vfiod_error_message(&error, r));
                }
        }
}

static void terminate_command(Run *run, const char *why) {
        if (run->pid <= 0 || run->terminated)
                return;
        log_notice(PROGRAM ": %s; sending SIGTERM to the command (pid %d)", why, (int) run->pid);
        (void) kill(run->pid, SIGTERM);
        run->terminated = true;
}

static void on_release_requested(VfiodLease *lease, const char *reason, uint64_t deadline_usec, void *userdata) {
        _cleanup_free_ char *why = NULL;

        if (asprintf(&why, "vfiod asks for %s back (%s)", lease->path, reason[0] ? reason : "no reason given") < 0)
                why = NULL;
        terminate_command(userdata, why ?: "vfiod asks for a lease back");
}

static void on_revoked(VfiodLease *lease, const char *reason, void *userdata) {
        _cleanup_free_ char *why = NULL;

        if (asprintf(&why, "vfiod revoked %s (%s)", lease->path, reason[0] ? reason : "no reason given") < 0)
                why = NULL;
        terminate_command(userdata, why ?: "vfiod revoked a lease");
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Run *run = userdata;

        /* The shell's convention: a command killed by a signal ends as 128 + the signal. */
        run->status = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        run->pid = 0;

        /* Now, from inside the loop: leaving it closes the bus that sd_bus_attach_event() tied to it. */
        release_all(run);
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* Our own SIGTERM, SIGINT or SIGHUP goes to COMMAND; we end when it does, and then release. One the
 * terminal sent (Ctrl-C, hangup) went to COMMAND's process group as well: once is enough. */
static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Run *run = userdata;

        if (si->ssi_code == SI_KERNEL)
                return 0;
        if (run->pid > 0)
                (void) kill(run->pid, (int) si->ssi_signo);
        return 0;
}

static int add_passed(Run *run, const char *name, int fd) {
        PassedFd *a;

        a = reallocarray(run->passed, run->n_passed + 1, sizeof(PassedFd));
        if (!a)
                return -ENOMEM;
        run->passed = a;
        a[run->n_passed] = (PassedFd){ .name = strdup(name), .fd = fd };
        if (!a[run->n_passed].name)
                return -ENOMEM;
        run->n_passed++;
        return 0;
}

static const PassedFd *find_passed(const Run *run, const char *name) {
        for (size_t i = 0; i < run->n_passed; i++)
                if (streq(run->passed[i].name, name))
                        return &run->passed[i];
        return NULL;
}

/* Leases acquired under one sharing key usually share their container (or iommufd): each lease
 * brings its own fd for it, and COMMAND gets the first under the plain name. A lease in a container
 * of its own (another key's, or where the kernel cannot share) gets "container:<group>". */
static int shared_fd_name(const Run *run, size_t index, const char *key, uint32_t group, char **ret) {
        const VfiodLease *lease = run->leases[index];
        bool shared = !streq(lease->container, "/");

        for (size_t i = 0; shared && i < index; i++)
                if (streq(run->leases[i]->container, lease->container) && vfiod_lease_fd(run->leases[i], key) >= 0) {
                        *ret = NULL; /* COMMAND already has this one */
                        return 0;
                }
        if (!find_passed(run, key))
                return (*ret = strdup(key)) ? 0 : -ENOMEM;
        return asprintf(ret, "%s:%" PRIu32, key, group) < 0 ? -ENOMEM : 0;
}

static int collect_fds(Run *run) {
        int r;

        for (size_t i = 0; i < run->n_leases; i++) {
                const VfiodLease *lease = run->leases[i];
                uint32_t group = lease->n_groups > 0 ? lease->groups[0] : 0;

                for (size_t j = 0; j < lease->n_fds; j++) {
                        const char *key = lease->fds[j].name;
                        _cleanup_free_ char *name = NULL;

                        if (streq(key, "group"))
                                r = asprintf(&name, "group:%" PRIu32, group) < 0 ? -ENOMEM : 0;
                        else if (streq(key, "container") || streq(key, "iommufd"))
                                r = shared_fd_name(run, i, key, group, &name);
                        else
                                r = (name = strdup(key)) ? 0 : -ENOMEM;
                        if (r < 0)
                                return r;
                        if (!name)
                                continue;
                        r = add_passed(run, name, lease->fds[j].fd);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* The environment COMMAND gets, as name=value strings for putenv() in the child; the VFIOD_*
 * variables that do not apply are removed there, so that an outer run's do not leak in. */
static int build_environment(const Run *run, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *fds = NULL, *leases = NULL;
        size_t n = 0, fds_len = 0, leases_len = 0;
        FILE *f;

        env = calloc(7, sizeof(char *));
        if (!env)
                return -ENOMEM;

        f = open_memstream(&fds, &fds_len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_passed; i++)
                fprintf(f, "%s%s=%d", i > 0 ? " " : "", run->passed[i].name, run->passed[i].fd);
        if (fclose(f) != 0)
                return -ENOMEM;

        f = open_memstream(&leases, &leases_len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < run->n_leases; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", run->leases[i]->path);
        if (fclose(f) != 0)
                return -ENOMEM;

        if (asprintf(&env[n++], "VFIOD_FDS=%s", fds) < 0 || asprintf(&env[n++], "VFIOD_LEASES=%s", leases) < 0)
                return -ENOMEM;

        if (run->n_leases == 1) {
                const VfiodLease *lease = run->leases[0];
                static const struct {
                        const char *variable;
                        const char *key;
                } single[] = {
                        { "VFIOD_FD_CONTAINER", "container" },
                        { "VFIOD_FD_GROUP", "group" },
                        { "VFIOD_FD_IOMMUFD", "iommufd" },
                };

                if (asprintf(&env[n++], "VFIOD_LEASE=%s", lease->path) < 0)
                        return -ENOMEM;
                FOREACH_ARRAY(s, single, ELEMENTSOF(single)) {
                        int fd = vfiod_lease_fd(lease, s->key);

                        if (fd >= 0 && asprintf(&env[n++], "%s=%d", s->variable, fd) < 0)
                                return -ENOMEM;
                }
        }

        *ret = TAKE_PTR(env);
        return 0;
}

_noreturn_ static void exec_command(const Run *run, pid_t parent, char **env, char **command) {
        static const char *const variables[] = { "VFIOD_LEASE", "VFIOD_FD_CONTAINER", "VFIOD_FD_GROUP",
                                                 "VFIOD_FD_IOMMUFD" };
        sigset_t none;

        /* COMMAND starts with the signal mask a program expects, not with ours. */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        /* We own the leases: if we die, nobody can pass vfiod's requests on, so COMMAND ends too. */
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                _exit(EXIT_FAILED);

        FOREACH_ARRAY(v, variables, ELEMENTSOF(variables))
                (void) unsetenv(*v);
        for (char **e = env; *e; e++)
                if (putenv(*e) != 0)
                        _exit(EXIT_FAILED);

        /* Exactly the fds named in VFIOD_FDS survive the exec. */
        for (size_t i = 0; i < run->n_passed; i++)
                if (fcntl(run->passed[i].fd, F_SETFD, 0) < 0) {
                        log_error_errno(errno, PROGRAM ": cannot pass fd %d: %m", run->passed[i].fd);
                        _exit(EXIT_FAILED);
                }

        execvp(command[0], command);
        log_error_errno(errno, PROGRAM ": cannot run '%s': %m", command[0]);
        /* As the shell and env(1) say it: 127 not found, 126 found but not runnable. */
        _exit(errno == ENOENT ? 127 : 126);
}

static int start_command(Run *run, char **command) {
        _cleanup_strv_free_ char **env = NULL;
        pid_t pid, parent = getpid();
        int r;

        r = build_environment(run, &env);
        if (r < 0)
                return log_error_errno(r, PROGRAM ": cannot prepare the command's environment: %m");

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, PROGRAM ": cannot fork: %m");
        if (pid == 0)
                exec_command(run, parent, env, command);

        run->pid = pid;
        /* COMMAND holds the fds now; ours would only make us a holder vfiod has to account for. */
        for (size_t i = 0; i < run->n_leases; i++)
                vfiod_lease_close_fds(run->leases[i]);

        r = sd_event_add_child(run->event, NULL, pid, WEXITED, on_child, run);
        if (r < 0) {
                /* We could not tell when it ends: do not leave it running with leases nobody releases. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                run->pid = 0;
                return log_error_errno(r, PROGRAM ": cannot watch the command: %m");
        }
        return 0;
}

static int check_targets(int argc, char *argv[], char **command) {
        for (int i = 1; i < argc; i++) {
                VfiodTarget target;

                if (check_target(argv[i], &target) < 0)
                        return -EINVAL;
        }
        if (!command || !command[0]) {
                log_error(PROGRAM ": acquire: missing COMMAND; usage: " PROGRAM
                                  " acquire TARGET... [OPTIONS...] -- COMMAND [ARG...]");
                return -EINVAL;
        }
        return 0;
}

int verb_acquire_run(int argc, char *argv[], const VfiodAcquireOptions *o, char **command) {
        _cleanup_(run_done) Run run = {};
        sigset_t mask;
        int r;

        if (check_targets(argc, argv, command) < 0)
                return EXIT_USAGE;

        /* Before anything can start a child or deliver a signal: sd-event takes them from here. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, PROGRAM ": cannot block signals: %m"), EXIT_FAILED;

        if (bus_open(&run.bus) < 0)
                return EXIT_FAILED;
        r = sd_event_default(&run.event);
        if (r >= 0)
                r = sd_bus_attach_event(run.bus, run.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, PROGRAM ": cannot set up the event loop: %m"), EXIT_FAILED;

        run.leases = calloc(argc, sizeof(VfiodLease *));
        if (!run.leases)
                return log_oom(), EXIT_FAILED;

        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                int code;

                r = vfiod_acquire(run.bus, argv[i], o, &error, &run.leases[run.n_leases]);
                if (r < 0) {
                        /* All or nothing: the targets acquired so far go back. */
                        code = log_call_failed(&error, r, "cannot acquire");
                        release_all(&run);
                        return code;
                }
                run.n_leases++;
        }

        static const VfiodLeaseHandlers handlers = {
                .release_requested = on_release_requested,
                .revoked = on_revoked,
        };
        for (size_t i = 0; i < run.n_leases; i++) {
                r = vfiod_lease_watch(run.bus, run.leases[i], &handlers, &run);
                if (r < 0) {
                        log_error_errno(r, PROGRAM ": cannot watch %s: %m", run.leases[i]->path);
                        release_all(&run);
                        return EXIT_FAILED;
                }
        }

        r = collect_fds(&run);
        if (r >= 0) {
                r = start_command(&run, command);
                if (r < 0) {
                        release_all(&run);
                        return EXIT_FAILED;
                }
        } else {
                log_oom();
                release_all(&run);
                return EXIT_FAILED;
        }

        static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP };
        FOREACH_ARRAY(sig, forwarded, ELEMENTSOF(forwarded)) {
                r = sd_event_add_signal(run.event, NULL, *sig, on_signal, &run);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = sd_event_loop(run.event);
        if (r < 0) {
                /* Without the loop nobody forwards vfiod's requests: end COMMAND rather than let it hold
                 * the groups unwatched, then release. */
                log_error_errno(r, PROGRAM ": event loop failed: %m");
                if (run.pid > 0) {
                        (void) kill(run.pid, SIGTERM);
                        (void) waitpid(run.pid, NULL, 0);
                }
                release_all(&run);
                return EXIT_FAILED;
        }

        /* on_child() released the leases. */
        return run.status;
}
