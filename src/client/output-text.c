/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: vfioctl's human output: the list table and the block `show` prints. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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
        [COLUMN_GROUP] = "GROUP",   [COLUMN_STATE] = "STATE",          [COLUMN_VIABLE] = "VIABLE",
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

        *row = (Row) {};
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
        snprintf(row->class, sizeof(row->class), "%06" PRIx32, d->class);
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

        row = (Row) {};
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
                printf("%s  %04x:%04x  class %06" PRIx32 "  %-*s", strempty(d->address), d->vendor,
                       d->product, d->class, (int) driver_width, driver_or_dash(d));
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
                printf("0x%" PRIx64 "-0x%" PRIx64 " %s\n", region->start, region->end,
                       strempty(region->type));
        }
}

static void print_holders(const VfiodGroup *g) {
        print_label("Holders");
        if (g->n_holders == 0) {
                puts("none");
                return;
        }
        for (size_t i = 0; i < g->n_holders; i++) {
                if (i > 0)
                        print_continuation();
                printf("%" PRIu32 " (%s)\n", g->holders[i].pid, strempty(g->holders[i].comm));
        }
}

int output_show_text(const VfiodGroup *group) {
        printf("Group %" PRIu32 "\n", group->id);

        print_label("State");
        puts(strempty(group->state));
        print_label("Viable");
        puts(yes_no(group->viable));
        print_label("Persistent");
        puts(yes_no(group->persistent));
        print_label("Safety");
        puts(group->safety && *group->safety ? group->safety : "safe to assign");
        print_label("Lease");
        puts(group->lease ?: "none");

        /* CONTAINER: a leased group's container (IOMMU model, groups sharing it, IOVA ranges, page
         * sizes) goes here once vfiod hands out leases (the Acquire issue). Until then Lease is
         * always "/" and there is nothing to show. */

        print_devices(group);
        print_reserved_regions(group);
        print_holders(group);

        return ferror(stdout) ? -EIO : 0;
}
