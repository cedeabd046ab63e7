/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Bus glue: the a{sv} option dictionaries that Manager's methods (Assign, Unassign, Acquire,
 * PlanAssign) take after their target. Its own file so that tests/fuzz can feed it messages. */

#include <stddef.h>
#include <systemd/sd-bus.h>

/* One accepted option of an a{sv} dictionary. */
typedef struct OptionSpec {
        const char *name;
        char type; /* 'b', 's' or 't' */
        void *dest; /* a bool, a const char * (pointing into the message) or a uint64_t */
} OptionSpec;

/* Reads an a{sv} of options at the message's read position and stores each value in its spec's
 * dest (the last one wins when a name repeats). Unknown names and wrong types are InvalidOption;
 * a request that fails here must not go ahead (the options before the bad one are already stored,
 * so nothing may be done with them). */
int bus_parse_options(sd_bus_message *message, const OptionSpec *specs, size_t n, sd_bus_error *error);
