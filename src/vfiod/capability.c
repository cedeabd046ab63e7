/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the capabilities the daemon keeps, and giving up the rest. */

#include <sys/capability.h>
#include <sys/prctl.h>

#include "capability.h"
#include "log.h"
#include "macro.h"

/* Each with the work that needs it (and the VM test that shows it). */
static const cap_value_t kept_caps[] = {
        CAP_CHOWN, /* grant mode: /dev/vfio/N to the lease owner's uid and back (grant.sh) */
        CAP_DAC_READ_SEARCH, /* holders: listing /proc/PID/fd of other users' processes (lease.sh, remove.sh) */
        CAP_SYS_PTRACE, /* holders: reading where those fds point (lease.sh, remove.sh) */
        CAP_KILL, /* hard and kill removal: SIGKILL to other users' holders (remove.sh) */
        CAP_SYS_MODULE, /* workers run modprobe vfio-pci or a variant driver (assign.sh, stock kernel) */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(cap_t, cap_free);

static bool is_kept(cap_value_t c, bool allow_noiommu) {
        FOREACH_ARRAY(k, kept_caps, ELEMENTSOF(kept_caps))
                if (*k == c)
                        return true;
        return allow_noiommu && c == CAP_SYS_RAWIO;
}

/* Out of the bounding set, so that nothing we exec (modprobe) can get them back. Needs
 * CAP_SETPCAP, which an unprivileged daemon (the D-Bus tests as nobody) does not have. */
static int drop_bounding_set(bool allow_noiommu) {
        for (cap_value_t c = 0; c <= cap_max_bits() - 1; c++) {
                if (is_kept(c, allow_noiommu) || cap_get_bound(c) <= 0)
                        continue;
                if (cap_drop_bound(c) < 0)
                        return negative_errno();
        }
        return 0;
}

/* The permitted and effective sets become kept ∩ what we have now. */
static int set_process_caps(bool allow_noiommu) {
        _cleanup_(cap_freep) cap_t now = cap_get_proc(), want = cap_init();

        if (!now || !want)
                return -ENOMEM;
        for (cap_value_t c = 0; c <= cap_max_bits() - 1; c++) {
                cap_flag_value_t have = CAP_CLEAR;

                if (!is_kept(c, allow_noiommu) || cap_get_flag(now, c, CAP_PERMITTED, &have) < 0 || have != CAP_SET)
                        continue;
                if (cap_set_flag(want, CAP_PERMITTED, 1, &c, CAP_SET) < 0 ||
                    cap_set_flag(want, CAP_EFFECTIVE, 1, &c, CAP_SET) < 0)
                        return negative_errno();
        }
        if (cap_set_proc(want) < 0)
                return negative_errno();
        return 0;
}

int capability_drop_unneeded(bool allow_noiommu) {
        int r;

        if (CAP_IS_SUPPORTED(CAP_SETPCAP) && cap_get_bound(CAP_SETPCAP) > 0) {
                r = drop_bounding_set(allow_noiommu);
                if (r == -EPERM)
                        log_debug("Not allowed to shrink the capability bounding set; leaving it.");
                else if (r < 0)
                        return log_error_errno(r, "Cannot drop capabilities from the bounding set: %m");
        }
        if (cap_reset_ambient() < 0 && errno != EINVAL)
                return log_error_errno(negative_errno(), "Cannot clear the ambient capabilities: %m");
        r = set_process_caps(allow_noiommu);
        if (r < 0)
                return log_error_errno(r, "Cannot drop capabilities: %m");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "Cannot set no_new_privs: %m");
        log_debug("Capabilities dropped to what the daemon needs; no_new_privs set.");
        return 0;
}
