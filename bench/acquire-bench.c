/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* acquire-bench: round-trip latency of Acquire+Release against Peer.Ping on the same bus, with
 * CLIENTS concurrent clients (processes, one bus connection each), each using its own group.
 *
 *   acquire-bench CLIENTS ROUNDS GROUP...
 *
 * Every client alternates a Ping and an Acquire+Release ROUNDS times, so both are measured under
 * the same load. Prints p50 and p99 of each and their ratios. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int ping(sd_bus *bus) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, "org.vfiod1", "/org/vfiod1", "org.freedesktop.DBus.Peer", "Ping", &e, NULL,
                                   NULL);
        sd_bus_error_free(&e);
        return r;
}

static int acquire_release(sd_bus *bus, const char *group) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        char *lease = NULL;
        int r;

        r = sd_bus_call_method(bus, "org.vfiod1", "/org/vfiod1", "org.vfiod1.Manager", "Acquire", &e, &reply, "sa{sv}",
                               group, 1, "interface", "s", "group");
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                lease = strdup(path);
        sd_bus_message_unref(reply);
        if (r >= 0 && lease)
                r = sd_bus_call_method(bus, "org.vfiod1", lease, "org.vfiod1.Lease", "Release", &e, NULL, NULL);
        if (r < 0)
                fprintf(stderr, "acquire-bench: group %s: %s\n", group, e.message ?: strerror(-r));
        free(lease);
        sd_bus_error_free(&e);
        return r;
}

/* One client: writes "P ns" and "A ns" lines to fd. */
static int run_client(int fd, const char *group, int rounds) {
        sd_bus *bus = NULL;
        FILE *out = fdopen(fd, "w");
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0 || !out)
                return 1;
        for (int i = 0; i < rounds; i++) {
                uint64_t t0 = now_ns();
                if (ping(bus) < 0)
                        return 1;
                uint64_t t1 = now_ns();
                if (acquire_release(bus, group) < 0)
                        return 1;
                uint64_t t2 = now_ns();
                fprintf(out, "P %llu\nA %llu\n", (unsigned long long) (t1 - t0), (unsigned long long) (t2 - t1));
        }
        fclose(out);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t percentile(uint64_t *v, size_t n, double p) {
        size_t i = (size_t) (p * (double) (n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

int main(int argc, char *argv[]) {
        int clients, rounds, fds[2], failed = 0;
        uint64_t *ping_ns, *acq_ns;
        size_t n_ping = 0, n_acq = 0;
        char kind;
        unsigned long long ns;
        FILE *in;

        if (argc < 4) {
                fprintf(stderr, "Usage: acquire-bench CLIENTS ROUNDS GROUP...\n");
                return 2;
        }
        clients = atoi(argv[1]);
        rounds = atoi(argv[2]);
        if (clients <= 0 || rounds <= 0 || argc - 3 < clients) {
                fprintf(stderr, "acquire-bench: need CLIENTS > 0, ROUNDS > 0 and a group per client\n");
                return 2;
        }
        if (pipe(fds) < 0)
                return 1;
        for (int c = 0; c < clients; c++) {
                pid_t pid = fork();
                if (pid < 0)
                        return 1;
                if (pid == 0) {
                        close(fds[0]);
                        _exit(run_client(fds[1], argv[3 + c], rounds));
                }
        }
        close(fds[1]);
        ping_ns = calloc((size_t) clients * (size_t) rounds, sizeof(uint64_t));
        acq_ns = calloc((size_t) clients * (size_t) rounds, sizeof(uint64_t));
        in = fdopen(fds[0], "r");
        if (!ping_ns || !acq_ns || !in)
                return 1;
        while (fscanf(in, " %c %llu", &kind, &ns) == 2) {
                if (kind == 'P' && n_ping < (size_t) clients * rounds)
                        ping_ns[n_ping++] = ns;
                else if (kind == 'A' && n_acq < (size_t) clients * rounds)
                        acq_ns[n_acq++] = ns;
        }
        for (int c = 0; c < clients; c++) {
                int status;
                if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        failed++;
        }
        if (failed || n_ping == 0 || n_acq == 0) {
                fprintf(stderr, "acquire-bench: %d clients failed\n", failed);
                return 1;
        }
        qsort(ping_ns, n_ping, sizeof(uint64_t), cmp_u64);
        qsort(acq_ns, n_acq, sizeof(uint64_t), cmp_u64);
        printf("BENCH clients=%d rounds=%d ping p50=%lluus p99=%lluus acquire+release p50=%lluus p99=%lluus "
               "ratio p50=%.2f p99=%.2f\n",
               clients, rounds, (unsigned long long) percentile(ping_ns, n_ping, 0.5) / 1000,
               (unsigned long long) percentile(ping_ns, n_ping, 0.99) / 1000,
               (unsigned long long) percentile(acq_ns, n_acq, 0.5) / 1000,
               (unsigned long long) percentile(acq_ns, n_acq, 0.99) / 1000,
               (double) percentile(acq_ns, n_acq, 0.5) / (double) percentile(ping_ns, n_ping, 0.5),
               (double) percentile(acq_ns, n_acq, 0.99) / (double) percentile(ping_ns, n_ping, 0.99));
        free(ping_ns);
        free(acq_ns);
        return 0;
}
