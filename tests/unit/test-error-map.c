/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one table between errno values, org.vfiod1.Error names and vfioctl's exit codes. */

#include <errno.h>

#include "macro.h"
#include "tests.h"
#include "vfiod-error.h"

typedef struct Expected {
        const char *name;
        int exit_code; /* as the contract fixes it */
} Expected;

/* Every error the contract names, and what vfioctl must exit with for it. */
static const Expected contract[] = {
        { "org.vfiod1.Error.NoSuchGroup", 3 },     { "org.vfiod1.Error.NoSuchDevice", 3 },
        { "org.vfiod1.Error.InvalidAddress", 2 },  { "org.vfiod1.Error.InvalidOption", 2 },
        { "org.vfiod1.Error.AlreadyAssigned", 1 }, { "org.vfiod1.Error.NotAssigned", 1 },
        { "org.vfiod1.Error.GroupBusy", 4 },       { "org.vfiod1.Error.NotViable", 1 },
        { "org.vfiod1.Error.Unsafe", 1 },          { "org.vfiod1.Error.Timeout", 6 },
        { "org.vfiod1.Error.Wedged", 1 },          { "org.vfiod1.Error.Unsupported", 1 },
};

static void error_names_map_to_contract_exit_codes(void) {
        FOREACH_ARRAY(c, contract, ELEMENTSOF(contract)) {
                sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(c->name, "test");

                /* Whatever errno the call returned, the name decides. */
                if (vfiod_exit_code(&e, -EIO) != c->exit_code || vfiod_exit_code(&e, -EACCES) != c->exit_code)
                        test_fail("%s gives exit code %d, the contract says %d", c->name, vfiod_exit_code(&e, -EIO),
                                  c->exit_code);
        }
}

static void access_denied_exits_5(void) {
        sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(SD_BUS_ERROR_ACCESS_DENIED, "denied");

        check_int(vfiod_exit_code(&e, -EIO), ==, 5);
        /* Without a name (e.g. connecting failed), the errno decides. */
        check_int(vfiod_exit_code(NULL, -EACCES), ==, 5);
        check_int(vfiod_exit_code(NULL, -EPERM), ==, 5);
}

static void bare_errno_exit_codes(void) {
        sd_bus_error empty = SD_BUS_ERROR_NULL;
        sd_bus_error other = SD_BUS_ERROR_MAKE_CONST("org.example.Error.Whatever", "x");

        check_int(vfiod_exit_code(NULL, -ETIMEDOUT), ==, 6);
        check_int(vfiod_exit_code(&empty, -ETIMEDOUT), ==, 6);
        check_int(vfiod_exit_code(NULL, -EIO), ==, 1);
        check_int(vfiod_exit_code(NULL, -ECONNREFUSED), ==, 1);
        check_int(vfiod_exit_code(&other, -EIO), ==, 1);
}

static void error_name_round_trips_through_errno(void) {
        check_int(sd_bus_error_add_map(vfiod_error_map), >=, 0);

        FOREACH_ARRAY(c, contract, ELEMENTSOF(contract)) {
                sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(c->name, "test");
                int errnum = sd_bus_error_get_errno(&e);
                const char *name;

                if (errnum <= 0 || errnum == EIO)
                        test_fail("%s has no errno of its own (%d)", c->name, errnum);
                name = vfiod_error_name(-errnum);
                if (!name || !streq(name, c->name))
                        test_fail("vfiod_error_name(-%d) = %s, expected %s", errnum, strempty(name), c->name);
                /* Positive errno works the same. */
                check_str(vfiod_error_name(errnum), c->name);
        }
}

static void error_map_covers_exactly_the_contract(void) {
        size_t n = 0;

        for (const sd_bus_error_map *m = vfiod_error_map; m->name; m++) {
                bool known = false;

                FOREACH_ARRAY(c, contract, ELEMENTSOF(contract))
                        if (streq(c->name, m->name))
                                known = true;
                if (!known)
                        test_fail("error map has a name the contract does not: %s", m->name);
                /* One errno, one name: otherwise the core could not say which it means. */
                for (const sd_bus_error_map *o = vfiod_error_map; o != m; o++)
                        if (o->code == m->code)
                                test_fail("%s and %s share errno %d", o->name, m->name, m->code);
                n++;
        }
        check_uint(n, ==, ELEMENTSOF(contract));
}

static void core_errnos_have_the_documented_names(void) {
        /* The errnos the core returns for lookups, as the bus glue relies on them. */
        check_str(vfiod_error_name(-ENOENT), "org.vfiod1.Error.NoSuchGroup");
        check_str(vfiod_error_name(-ENODEV), "org.vfiod1.Error.NoSuchDevice");
        check_str(vfiod_error_name(-EINVAL), "org.vfiod1.Error.InvalidAddress");
        check_str(vfiod_error_name(-EBUSY), "org.vfiod1.Error.GroupBusy");
        check_str(vfiod_error_name(-ETIMEDOUT), "org.vfiod1.Error.Timeout");
        check(vfiod_error_name(-EIO) == NULL);
        check(vfiod_error_name(0) == NULL);
}

static void error_set_names_and_returns_errno(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        check_int(vfiod_error_set(&e, -ENOENT, "No IOMMU group %u.", 99999u), ==, -ENOENT);
        check_str(e.name, "org.vfiod1.Error.NoSuchGroup");
        check_str(e.message, "No IOMMU group 99999.");
}

static void error_set_permission_is_access_denied(void) {
        static const int errors[] = { -EACCES, -EPERM };

        FOREACH_ARRAY(err, errors, ELEMENTSOF(errors)) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                check_int(vfiod_error_set(&e, *err, "nope"), ==, *err);
                check_str(e.name, SD_BUS_ERROR_ACCESS_DENIED);
                check_int(vfiod_exit_code(&e, *err), ==, 5);
        }
}

static void error_set_unnamed_errno_stays_generic(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        check_int(vfiod_error_set(&e, -EIO, "disk on fire"), ==, -EIO);
        check(sd_bus_error_is_set(&e));
        check(!startswith(e.name, VFIOD_ERROR_PREFIX));
        check_str(e.message, "disk on fire");
        check_int(sd_bus_error_get_errno(&e), ==, EIO);
        check_int(vfiod_exit_code(&e, -EIO), ==, 1);
}

TESTS_MAIN(TEST_CASE(error_names_map_to_contract_exit_codes), TEST_CASE(access_denied_exits_5),
           TEST_CASE(bare_errno_exit_codes), TEST_CASE(error_name_round_trips_through_errno),
           TEST_CASE(error_map_covers_exactly_the_contract), TEST_CASE(core_errnos_have_the_documented_names),
           TEST_CASE(error_set_names_and_returns_errno), TEST_CASE(error_set_permission_is_access_denied),
           TEST_CASE(error_set_unnamed_errno_stays_generic))
