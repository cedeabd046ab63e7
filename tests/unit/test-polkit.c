/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The asynchronous polkit check (polkit.c) on a private dbus-daemon: what it sends, how it reads the
 * answer, that it denies at once when polkit is absent, and that releasing its slot cancels it. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "polkit.h"
#include "tests.h"
#include "tmpdir.h"

#define USEC_PER_MSEC UINT64_C(1000)

/* What the current case made, freed after it whether it passed or not. */
static char *dir;
static pid_t daemon_pid;
static sd_bus *server, *client, *fake_polkit;
static sd_bus_message *pending_call;
static sd_bus_slot *check_slot;
static bool server_called;

/* What done() heard. */
static struct {
        bool called;
        unsigned calls;
        int r;
        bool authorized;
} result;

/* What the fake polkit was asked, and what it answers. */
static struct {
        bool asked;
        char *kind, *name, *action, *detail_group;
        uint32_t flags;
        bool interactive_header;
        bool answer_authorized, answer_challenge;
} fake;

static void cleanup_case(void) {
        check_slot = sd_bus_slot_unref(check_slot);
        pending_call = sd_bus_message_unref(pending_call);
        server = sd_bus_flush_close_unref(server);
        client = sd_bus_flush_close_unref(client);
        fake_polkit = sd_bus_flush_close_unref(fake_polkit);
        if (daemon_pid > 0) {
                (void) kill(daemon_pid, SIGTERM);
                (void) waitpid(daemon_pid, NULL, 0);
                daemon_pid = 0;
        }
        dir = tmpdir_remove(dir);
        free(fake.kind);
        free(fake.name);
        free(fake.action);
        free(fake.detail_group);
        memset(&fake, 0, sizeof(fake));
        memset(&result, 0, sizeof(result));
        server_called = false;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static const char bus_config[] = "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                                 " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                                 "<busconfig>\n"
                                 "  <type>custom</type>\n"
                                 "  <listen>unix:path=%s/bus</listen>\n"
                                 "  <auth>EXTERNAL</auth>\n"
                                 "  <policy context=\"default\">\n"
                                 "    <allow user=\"*\"/>\n"
                                 "    <allow own=\"*\"/>\n"
                                 "    <allow send_destination=\"*\"/>\n"
                                 "    <allow receive_sender=\"*\"/>\n"
                                 "  </policy>\n"
                                 "</busconfig>\n";

/* A dbus-daemon of our own, with no services to activate: polkit is not on it unless we play it. */
static void start_bus(char **ret_address) {
        _cleanup_free_ char *config = NULL, *config_path = NULL;
        char address[512];
        int fds[2];
        ssize_t n;

        check_int(tmpdir_new("vfiod-test-polkit", &dir), ==, 0);
        check(asprintf(&config, bus_config, dir) >= 0);
        check_int(tmpdir_write(dir, "bus.conf", config), ==, 0);
        check(asprintf(&config_path, "--config-file=%s/bus.conf", dir) >= 0);
        check_int(pipe2(fds, O_CLOEXEC), ==, 0);

        daemon_pid = fork();
        check_int(daemon_pid, >=, 0);
        if (daemon_pid == 0) {
                char print_address[32];

                (void) dup2(fds[1], 3); /* dup2 clears O_CLOEXEC on the copy */
                /* It complains about fd limits it may not raise in a container; only noise here. */
                if (!getenv("VFIOD_TEST_DEBUG")) {
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                        if (null >= 0)
                                (void) dup2(null, STDERR_FILENO);
                }
                snprintf(print_address, sizeof(print_address), "--print-address=3");
                execlp("dbus-daemon", "dbus-daemon", config_path, "--nofork", "--nopidfile", print_address, NULL);
                _exit(127);
        }
        close(fds[1]);
        n = read(fds[0], address, sizeof(address) - 1);
        close(fds[0]);
        check_int(n, >, 0);
        address[n] = '\0';
        address[strcspn(address, "\n")] = '\0';
        *ret_address = strdup(address);
        check(*ret_address);
}

static sd_bus *connect_to(const char *address) {
        sd_bus *bus = NULL;

        check_int(sd_bus_new(&bus), >=, 0);
        check_int(sd_bus_set_address(bus, address), >=, 0);
        check_int(sd_bus_set_bus_client(bus, 1), >=, 0);
        check_int(sd_bus_start(bus), >=, 0);
        return bus;
}

/* Runs every connection until *flag or the timeout. */
static void run_until(const bool *flag, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;
        sd_bus *buses[] = { server, client, fake_polkit };

        while (!*flag && now_usec() < deadline) {
                struct pollfd p[ELEMENTSOF(buses)];
                size_t n = 0;
                bool progress = false;

                FOREACH_ARRAY(b, buses, ELEMENTSOF(buses)) {
                        int r;

                        if (!*b)
                                continue;
                        while ((r = sd_bus_process(*b, NULL)) > 0)
                                progress = true;
                        check_int(r, >=, 0);
                        p[n++] = (struct pollfd){ .fd = sd_bus_get_fd(*b), .events = (short) sd_bus_get_events(*b) };
                }
                if (!progress && !*flag)
                        (void) poll(p, n, 10);
        }
}

static void done(int r, bool authorized, void *userdata) {
        check(userdata == &result);
        result.called = true;
        result.calls++;
        result.r = r;
        result.authorized = authorized;
}

static const char *const details[] = { "group", "7", NULL };

/* The daemon side: every call to /test asks polkit; the call is kept, never answered. */
static int server_handler(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sd_bus_slot **slot = userdata;
        int r;

        server_called = true;
        pending_call = sd_bus_message_ref(m);
        r = polkit_check_async_details(server, m, POLKIT_ACTION_ACQUIRE, details, done, &result, slot);
        check_int(r, ==, 0);
        return 1;
}

static int fake_check_authorization(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *kind, *key, *value, *action, *cancel;
        int r;

        fake.asked = true;
        fake.interactive_header = sd_bus_message_get_allow_interactive_authorization(m) > 0;
        check_int(sd_bus_message_enter_container(m, 'r', "sa{sv}"), >, 0);
        check_int(sd_bus_message_read(m, "s", &kind), >, 0);
        fake.kind = strdup(kind);
        check_int(sd_bus_message_read(m, "a{sv}", 1, &key, "s", &value), >, 0);
        check_str(key, "name");
        fake.name = strdup(value);
        check_int(sd_bus_message_exit_container(m), >, 0);
        check_int(sd_bus_message_read(m, "s", &action), >, 0);
        fake.action = strdup(action);
        check_int(sd_bus_message_enter_container(m, 'a', "{ss}"), >, 0);
        while ((r = sd_bus_message_read(m, "{ss}", &key, &value)) > 0)
                if (streq(key, "group"))
                        fake.detail_group = strdup(value);
        check_int(r, ==, 0);
        check_int(sd_bus_message_exit_container(m), >, 0);
        check_int(sd_bus_message_read(m, "us", &fake.flags, &cancel), >, 0);

        return sd_bus_reply_method_return(m, "(bba{ss})", fake.answer_authorized, fake.answer_challenge, 0);
}

static void start_fake_polkit(const char *address) {
        fake_polkit = connect_to(address);
        check_int(sd_bus_add_object(fake_polkit, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                    fake_check_authorization, NULL),
                  >=, 0);
        check_int(sd_bus_request_name(fake_polkit, "org.freedesktop.PolicyKit1", 0), >=, 0);
}

/* Starts the bus and the daemon side; the client then calls /test. */
static void setup(bool with_polkit, sd_bus_slot **slot) {
        _cleanup_free_ char *address = NULL;

        start_bus(&address);
        server = connect_to(address);
        client = connect_to(address);
        if (with_polkit)
                start_fake_polkit(address);
        check_int(sd_bus_add_object(server, NULL, "/test", server_handler, slot), >=, 0);
}

static void call_test(bool interactive) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *server_name;

        check_int(sd_bus_get_unique_name(server, &server_name), >=, 0);
        check_int(sd_bus_message_new_method_call(client, &m, server_name, "/test", "org.vfiod1.Test", "Check"), >=, 0);
        check_int(sd_bus_message_set_allow_interactive_authorization(m, interactive), >=, 0);
        check_int(sd_bus_send(client, m, NULL), >=, 0);
}

static void without_polkit_denies_quickly(void) {
        uint64_t start;

        setup(false, NULL);
        start = now_usec();
        call_test(false);
        run_until(&result.called, 5000 * USEC_PER_MSEC);
        check(result.called);
        printf("# done(%d \"%s\", authorized=%d)\n", result.r, strerror(-result.r), result.authorized);
        check_int(result.r, <, 0);
        check(!result.authorized);
        check_uint(now_usec() - start, <, 2000 * USEC_PER_MSEC);

        /* Once only. */
        run_until(&(bool){ false }, 50 * USEC_PER_MSEC);
        check_uint(result.calls, ==, 1);
}

static void asks_for_the_sender_and_reads_yes(void) {
        const char *client_name;

        setup(true, NULL);
        fake.answer_authorized = true;
        call_test(false);
        run_until(&result.called, 5000 * USEC_PER_MSEC);
        check(result.called);
        check_int(result.r, ==, 0);
        check(result.authorized);

        check_int(sd_bus_get_unique_name(client, &client_name), >=, 0);
        check_str(fake.kind, "system-bus-name");
        check_str(fake.name, client_name);
        check_str(fake.action, "org.vfiod1.acquire");
        check_str(fake.detail_group, "7");
        check_uint(fake.flags, ==, 0);
        check(!fake.interactive_header);
}

static void reads_no_and_passes_interaction_on(void) {
        setup(true, NULL);
        call_test(true);
        run_until(&result.called, 5000 * USEC_PER_MSEC);
        check(result.called);
        check_int(result.r, ==, 0);
        check(!result.authorized);
        check_uint(fake.flags, ==, 1);
        check(fake.interactive_header);
}

static void challenge_without_interaction_is_enokey(void) {
        setup(true, NULL);
        fake.answer_challenge = true;
        call_test(false);
        run_until(&result.called, 5000 * USEC_PER_MSEC);
        check(result.called);
        check_int(result.r, ==, -ENOKEY);
        check(!result.authorized);
}

static void releasing_the_slot_cancels(void) {
        setup(true, &check_slot);
        fake.answer_authorized = true;
        call_test(false);
        /* Until the daemon side has sent its question, and not a moment longer. */
        run_until(&server_called, 5000 * USEC_PER_MSEC);
        check(check_slot);
        check_slot = sd_bus_slot_unref(check_slot);

        run_until(&fake.asked, 5000 * USEC_PER_MSEC);
        run_until(&(bool){ false }, 100 * USEC_PER_MSEC);
        check(!result.called);
}

static void call_without_sender_is_refused(void) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *address = NULL;

        start_bus(&address);
        server = connect_to(address);
        /* A message we made ourselves has no sender, like one on a peer-to-peer connection. */
        check_int(sd_bus_message_new_method_call(server, &m, "org.example", "/", "org.example", "X"), >=, 0);
        check_int(polkit_check_async(server, m, POLKIT_ACTION_MANAGE, done, &result, NULL), ==, -EBADMSG);
        check(!result.called);
}

int main(void) {
        static const TestCase cases[] = {
                TEST_CASE(without_polkit_denies_quickly),      TEST_CASE(asks_for_the_sender_and_reads_yes),
                TEST_CASE(reads_no_and_passes_interaction_on), TEST_CASE(challenge_without_interaction_is_enokey),
                TEST_CASE(releasing_the_slot_cancels),         TEST_CASE(call_without_sender_is_refused),
        };

        if (system("command -v dbus-daemon >/dev/null 2>&1") != 0) {
                printf("1..0 # SKIP dbus-daemon is not installed\n");
                return EXIT_SUCCESS;
        }
        log_set_max_level(getenv("VFIOD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
        test_cleanup_hook = cleanup_case;
        return tests_run(cases, ELEMENTSOF(cases));
}
