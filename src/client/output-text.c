/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: vfioctl's human output: the list table, the block `show` prints, the holders table and the
 * monitor's event lines. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "output.h"

enum {
        COLUMN_GROUP,
        COLUMN_STATE,
        COLUMN_VIABLE,
        COLUMN_DEVICE,
        COLUMN_IDS,
        COLUMN_CLASS,
        COLUMN_DRIVER,
        _COLUMN_MAX,
};

static const char *const column_headers[_COLUMN_MAX] = {
        [COLUMN_GROUP] = "GROUP",   [COLUMN_STATE] = "STATE",        [COLUMN_VIABLE] = "VIABLE",
        [COLUMN_DEVICE] = "DEVICE", [COLUMN_IDS] = "VENDOR:PRODUCT", [COLUMN_CLASS] = "CLASS",
        [COLUMN_DRIVER] = "DRIVER",
};

/* One table row: the texts, and the buffers the formatted ones live in. */
typedef struct Row {
        const char *cells[_COLUMN_MAX];
        bool bridge;
        char group[sizeof("4294967295")];
        char ids[sizeof("ffff:ffff")];
        char class[sizeof("ffffffff")];
} Row;

static const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

/* The driver as people read it: "-" for none rather than an empty cell that shifts the eye. */
static const char *driver_or_dash(const VfiodDevice *d) {
        return d->driver && *d->driver ? d->driver : "-";
}

/* A group takes one row per device, at least one; only its first row names the group. */
static size_t group_rows(const VfiodGroup *g) {
        return g->n_members > 0 ? g->n_members : 1;
}

static void row_fill(Row *row, const VfiodGroup *g, size_t i) {
        const VfiodDevice *d = i < g->n_members ? g->members[i] : NULL;

        *row = (Row){};
        for (size_t c = 0; c < _COLUMN_MAX; c++)
                row->cells[c] = "";

        if (i == 0) {
                snprintf(row->group, sizeof(row->group), "%" PRIu32, g->id);
                row->cells[COLUMN_GROUP] = row->group;
                row->cells[COLUMN_STATE] = strempty(g->state);
                row->cells[COLUMN_VIABLE] = yes_no(g->viable);
        }

        if (!d) {
                for (size_t c = COLUMN_DEVICE; c < _COLUMN_MAX; c++)
                        row->cells[c] = "-";
                return;
        }

        snprintf(row->ids, sizeof(row->ids), "%04x:%04x", d->vendor, d->product);
        snprintf(row->class, sizeof(row->class), "%06" PRIx32, d->class_code);
        row->cells[COLUMN_DEVICE] = strempty(d->address);
        row->cells[COLUMN_IDS] = row->ids;
        row->cells[COLUMN_CLASS] = row->class;
        row->cells[COLUMN_DRIVER] = driver_or_dash(d);
        row->bridge = d->is_bridge;
}

static int row_print(const Row *row, const size_t widths[static _COLUMN_MAX]) {
        for (size_t c = 0; c < _COLUMN_MAX - 1; c++)
                printf("%-*s  ", (int) widths[c], row->cells[c]);
        /* The last column is not padded, so that no line ends in blanks. */
        printf("%s%s\n", row->cells[_COLUMN_MAX - 1], row->bridge ? " [bridge]" : "");
        return ferror(stdout) ? -EIO : 0;
}

int output_list_text(const VfiodInventory *inventory) {
        size_t widths[_COLUMN_MAX];
        Row row;
        int r;

        if (inventory->n_groups == 0) {
                puts("No IOMMU groups.");
                return ferror(stdout) ? -EIO : 0;
        }

        /* Two passes: the widths first, so that every row lines up. */
        for (size_t c = 0; c < _COLUMN_MAX; c++)
                widths[c] = strlen(column_headers[c]);
        FOREACH_ARRAY(g, inventory->groups, inventory->n_groups)
                for (size_t i = 0; i < group_rows(g); i++) {
                        row_fill(&row, g, i);
                        for (size_t c = 0; c < _COLUMN_MAX; c++)
                                if (strlen(row.cells[c]) > widths[c])
                                        widths[c] = strlen(row.cells[c]);
                }

        row = (Row){};
        memcpy(row.cells, column_headers, sizeof(row.cells));
        r = row_print(&row, widths);
        if (r < 0)
                return r;

        FOREACH_ARRAY(g, inventory->groups, inventory->n_groups)
                for (size_t i = 0; i < group_rows(g); i++) {
                        row_fill(&row, g, i);
                        r = row_print(&row, widths);
                        if (r < 0)
                                return r;
                }

        return 0;
}

/* Labels are right-aligned to the longest one, as systemctl status does. */
#define LABEL_WIDTH ((int) (sizeof("Reserved regions") - 1))

static void print_label(const char *label) {
        printf("%*s: ", LABEL_WIDTH, label);
}

/* Continuation lines of a multi-line field start under its first value. */
static void print_continuation(void) {
        printf("%*s  ", LABEL_WIDTH, "");
}

static void print_devices(const VfiodGroup *g) {
        size_t driver_width = 0;

        print_label("Devices");
        if (g->n_members == 0) {
                puts("none");
                return;
        }

        for (size_t i = 0; i < g->n_members; i++)
                if (strlen(driver_or_dash(g->members[i])) > driver_width)
                        driver_width = strlen(driver_or_dash(g->members[i]));

        for (size_t i = 0; i < g->n_members; i++) {
                const VfiodDevice *d = g->members[i];

                if (i > 0)
                        print_continuation();
                printf("%s  %04x:%04x  class %06" PRIx32 "  %-*s", strempty(d->address), d->vendor, d->product,
                       d->class_code, (int) driver_width, driver_or_dash(d));
                /* Where the device goes back to on unassign, when it is not where it is now. */
                if (d->original_driver && *d->original_driver && !streq_ptr(d->original_driver, d->driver))
                        printf("  (host driver %s)", d->original_driver);
                if (d->is_bridge)
                        printf("  [bridge]");
                if (d->numa_node >= 0)
                        printf("  NUMA node %" PRIi32, d->numa_node);
                putchar('\n');
        }
}

static void print_reserved_regions(const VfiodGroup *g) {
        print_label("Reserved regions");
        if (g->n_reserved_regions == 0) {
                puts("none");
                return;
        }
        for (size_t i = 0; i < g->n_reserved_regions; i++) {
                const VfiodReservedRegion *region = &g->reserved_regions[i];

                if (i > 0)
                        print_continuation();
                printf("0x%" PRIx64 "-0x%" PRIx64 " %s\n", region->start, region->end, strempty(region->type));
        }
}

static void print_holder_list(const char *label, const VfiodHolder *holders, size_t n) {
        print_label(label);
        if (n == 0) {
                puts("none");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        print_continuation();
                printf("%" PRIu32 " (%s)\n", holders[i].pid, strempty(holders[i].comm));
        }
}

static void print_holders(const VfiodGroup *g) {
        print_holder_list("Holders", g->holders, g->n_holders);
        if (!g->held_unnamed)
                return;
        print_label("Held unnamed");
        puts("yes: the kernel says something holds the group that no process names");
        print_holder_list("Candidates", g->candidates, g->n_candidates);
}

static void print_container(const VfiodContainerInfo *c) {
        print_label("Container");
        printf("%s", c->path);
        if (c->iommu_model && *c->iommu_model)
                printf(" (%s)", c->iommu_model);
        if (c->sharing_key && *c->sharing_key)
                printf(", sharing key %s", c->sharing_key);
        putchar('\n');

        print_label("Container groups");
        if (c->n_groups == 0)
                fputs("none", stdout);
        for (size_t i = 0; i < c->n_groups; i++)
                printf("%s%" PRIu32, i > 0 ? " " : "", c->groups[i]);
        putchar('\n');

        print_label("IOVA ranges");
        if (c->n_iova_ranges == 0)
                puts("none");
        for (size_t i = 0; i < c->n_iova_ranges; i++) {
                if (i > 0)
                        print_continuation();
                printf("0x%" PRIx64 "-0x%" PRIx64 "\n", c->iova_ranges[i].start, c->iova_ranges[i].end);
        }

        print_label("Page sizes");
        printf("0x%" PRIx64 "\n", c->page_sizes);
}

int output_show_text(const VfiodGroup *group, const VfiodContainerInfo *container) {
        printf("Group %" PRIu32 "\n", group->id);

        print_label("State");
        puts(strempty(group->state));
        print_label("Viable");
        puts(yes_no(group->viable));
        print_label("Persistent");
        if (group->persistent_skipped && *group->persistent_skipped)
                printf("%s, skipped at start-up: %s\n", yes_no(group->persistent), group->persistent_skipped);
        else
                puts(yes_no(group->persistent));
        print_label("Safety");
        puts(group->safety && *group->safety ? group->safety : "safe to assign");
        print_label("Lease");
        puts(group->lease ?: "none");

        if (container)
                print_container(container);

        print_devices(group);
        print_reserved_regions(group);
        print_holders(group);

        return ferror(stdout) ? -EIO : 0;
}

const char *format_time(uint64_t usec, char buf[static FORMAT_TIME_MAX]) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (!localtime_r(&t, &tm) || strftime(buf, FORMAT_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                snprintf(buf, FORMAT_TIME_MAX, "@%" PRIu64, usec / 1000000);
        return buf;
}

/* "releasing, deadline 2026-11-22T02:10:33": what a lease is doing, in the words monitor uses too. */
static void print_lease_state(const VfiodLeaseInfo *lease) {
        char buf[FORMAT_TIME_MAX];

        fputs(strempty(lease->state), stdout);
        if (streq_ptr(lease->state, "releasing")) {
                if (lease->deadline_usec > 0)
                        printf(", deadline %s", format_time(lease->deadline_usec, buf));
                else
                        fputs(", no deadline", stdout);
        }
}

static void print_u32_list(const uint32_t *values, size_t n) {
        for (size_t i = 0; i < n; i++)
                printf("%s%" PRIu32, i > 0 ? "," : "", values[i]);
}

int output_holders_text(const VfiodGroup *group, const VfiodLeaseInfo *lease) {
        int pid_width = (int) strlen("PID");

        if (group->n_holders == 0)
                printf("No process holds group %" PRIu32 ".\n", group->id);
        else {
                FOREACH_ARRAY(h, group->holders, group->n_holders) {
                        int w = snprintf(NULL, 0, "%" PRIu32, h->pid);
                        if (w > pid_width)
                                pid_width = w;
                }
                printf("%-*s  COMMAND\n", pid_width, "PID");
                FOREACH_ARRAY(h, group->holders, group->n_holders)
                        printf("%-*" PRIu32 "  %s\n", pid_width, h->pid, strempty(h->comm));
        }

        if (group->held_unnamed) {
                printf("Group %" PRIu32 " is also held by something vfiod cannot name (a VFIO device fd or mapping "
                       "without the group fd, or fds in flight in a socket).\n",
                       group->id);
                if (group->n_candidates == 0)
                        printf("No process has VFIO device fds or mappings.\n");
                else {
                        printf("Candidates, with VFIO device fds or mappings of some group:\n");
                        FOREACH_ARRAY(h, group->candidates, group->n_candidates)
                                printf("%-*" PRIu32 "  %s\n", pid_width, h->pid, strempty(h->comm));
                }
        }

        if (!lease)
                printf("Group %" PRIu32 " is not leased (state %s).\n", group->id, strempty(group->state));
        else {
                printf("lease %s: owner %s, uid %" PRIu32 ", pid %" PRIu32 ", ", lease->path, strempty(lease->owner),
                       lease->uid, lease->pid);
                print_lease_state(lease);
                putchar('\n');
        }

        return ferror(stdout) ? -EIO : 0;
}

static const char *driver_name(const char *driver) {
        return driver && *driver ? driver : "(none)";
}

int output_event_text(const MonitorEvent *e) {
        char buf[FORMAT_TIME_MAX];

        printf("%s ", format_time(e->time_usec, buf));

        switch (e->type) {
        case EVENT_GROUP_ADDED:
                printf("group %" PRIu32 " appeared, state %s", e->group, strempty(e->value));
                break;
        case EVENT_GROUP_REMOVED:
                printf("group %" PRIu32 " removed", e->group);
                break;
        case EVENT_GROUP_STATE:
                printf("group %" PRIu32 " state %s -> %s", e->group, strempty(e->old_value), strempty(e->value));
                break;
        case EVENT_DEVICE_ADDED:
                printf("device %s added", e->device);
                if (e->has_group)
                        printf(" to group %" PRIu32, e->group);
                break;
        case EVENT_DEVICE_REMOVED:
                printf("device %s removed", e->device);
                if (e->has_group)
                        printf(" from group %" PRIu32, e->group);
                break;
        case EVENT_DEVICE_DRIVER:
                printf("device %s driver %s -> %s", e->device, driver_name(e->old_value), driver_name(e->value));
                break;
        case EVENT_HOTPLUG_BLOCKED:
                printf("group %" PRIu32 " hotplug blocked %s ", e->group, e->device);
                if (e->value && *e->value)
                        printf("(host driver %s)", e->value);
                else
                        fputs("(no host driver)", stdout);
                break;
        case EVENT_LEASE_ADDED:
                printf("lease %s acquired: group ", e->path);
                print_u32_list(e->lease->groups, e->lease->n_groups);
                printf(", owner %s, uid %" PRIu32 ", pid %" PRIu32 ", ", strempty(e->lease->owner), e->lease->uid,
                       e->lease->pid);
                print_lease_state(e->lease);
                break;
        case EVENT_LEASE_STATE:
                printf("lease %s ", e->path);
                if (streq_ptr(e->value, "releasing"))
                        print_lease_state(e->lease);
                else
                        printf("state %s -> %s", strempty(e->old_value), strempty(e->value));
                break;
        case EVENT_LEASE_ENDED:
                printf("lease %s ended", e->path);
                break;
        case EVENT_CONTAINER_ADDED:
                printf("container %s created", e->path);
                if (e->container && e->container->iommu_model && *e->container->iommu_model)
                        printf(" (%s)", e->container->iommu_model);
                break;
        case EVENT_CONTAINER_REMOVED:
                printf("container %s removed", e->path);
                break;
        case EVENT_VFIOD_STOPPED:
                fputs("vfiod stopped", stdout);
                break;
        case EVENT_VFIOD_STARTED:
                fputs("vfiod started", stdout);
                break;
        default:
                return -EINVAL;
        }
        putchar('\n');

        /* Read through pipes: each event goes out as it happens. */
        if (fflush(stdout) != 0)
                return negative_errno();
        return ferror(stdout) ? -EIO : 0;
}
