/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: reading the a{sv} option dictionaries of Manager's methods. */

#include <stdbool.h>

#include "macro.h"
#include "options-dbus.h"
#include "vfiod-error.h"

static int read_option_value(sd_bus_message *message, const OptionSpec *o) {
        const char sig[2] = { o->type, 0 };
        int r, b;

        r = sd_bus_message_enter_container(message, 'v', sig);
        if (r <= 0)
                return r < 0 ? r : -ENXIO;
        if (o->type == 'b') {
                r = sd_bus_message_read(message, "b", &b);
                if (r >= 0)
                        *(bool *) o->dest = b;
        } else
                r = sd_bus_message_read_basic(message, o->type, o->dest);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}

int bus_parse_options(sd_bus_message *message, const OptionSpec *specs, size_t n, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'e', "sv")) > 0) {
                const OptionSpec *o = NULL;

                r = sd_bus_message_read(message, "s", &name);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n && !o; i++)
                        if (streq(specs[i].name, name))
                                o = &specs[i];
                if (!o)
                        return vfiod_error_set(error, -EBADRQC, "Unknown option '%s'.", name);
                r = read_option_value(message, o);
                if (r == -ENXIO)
                        return vfiod_error_set(error, -EBADRQC, "Option '%s' takes type '%c'.", name, o->type);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}
