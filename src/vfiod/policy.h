/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The administrator's configuration (/etc/vfiod/vfiod.json plus the drop-ins in vfiod.d/) and the
 * access rules in it: who may acquire, be granted or manage which groups. Loading is strict (an
 * unknown key or a wrong type is an error naming file, line and key), so that a typo never
 * silently grants or withholds access. Root and polkit are the caller's concern, not this one's. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "address.h"
#include "config.h"
#include "inventory.h"
#include "macro.h"

#define POLICY_MAIN_FILE  VFIOD_SYSCONFDIR "/vfiod/vfiod.json"
#define POLICY_DROPIN_DIR VFIOD_SYSCONFDIR "/vfiod/vfiod.d"

/* The longest remove timeout a configuration may set: one day. */
#define POLICY_REMOVE_TIMEOUT_MAX_SEC 86400

typedef enum PolicyAction {
        POLICY_ACQUIRE, /* take a lease on a group's fds */
        POLICY_GRANT, /* take a lease with access=grant (device nodes chown'd to the caller) */
        POLICY_MANAGE, /* everything, including the above */
        _POLICY_ACTION_MAX,
        _POLICY_ACTION_INVALID = -EINVAL,
} PolicyAction;

typedef enum PolicyTargetKind {
        POLICY_TARGET_GROUP, /* an IOMMU group id */
        POLICY_TARGET_ADDRESS, /* one PCI function */
        POLICY_TARGET_ID, /* vendor:product, either may be a wildcard */
        _POLICY_TARGET_KIND_MAX,
        _POLICY_TARGET_KIND_INVALID = -EINVAL,
} PolicyTargetKind;

typedef struct PolicyTarget {
        PolicyTargetKind kind;
        uint32_t group;
        char address[PCI_ADDRESS_MAX]; /* canonical form, as in sysfs */
        int32_t vendor; /* -1: any */
        int32_t product; /* -1: any */
} PolicyTarget;

typedef struct PolicyRule {
        char **users; /* NULL-terminated */
        size_t n_users;
        char **groups; /* NULL-terminated */
        size_t n_groups;
        /* The names as the user database last resolved them ((uid_t) -1, (gid_t) -1: unknown). */
        uid_t *user_uids;
        gid_t *group_gids;
        PolicyTarget *targets;
        size_t n_targets;
        unsigned actions; /* bit (1u << PolicyAction) for each action listed */
        char *file; /* where the rule was written, for log messages */
        unsigned line;
} PolicyRule;

typedef struct PolicyConfig {
        const char *remove_mode; /* static string: "fail", "soft", "hard" or "kill" */
        uint64_t remove_timeout_usec;
        bool per_group_containers; /* "containers": {"sharing": "per-group"} */
        bool allow_noiommu;
        PolicyRule *rules; /* main file's rules first, then each drop-in's in name order */
        size_t n_rules;
        /* Rule names are resolved at the first check, then again when a check comes
         * USER_GROUPS_LIFETIME_USEC later: never once per call. */
        bool names_resolved;
        uint64_t names_resolved_usec;
} PolicyConfig;

/* Loads main_file (missing: defaults) and then every "*.json" in dropin_dir in name order (missing
 * directory: none); drop-ins may only add "rules". Either path may be NULL to skip it. On failure
 * returns -errno (-EBADMSG for a bad file) and, if ret_error is non-NULL, stores a one-line
 * message "FILE:LINE: KEY.PATH: what is wrong" (NULL only when out of memory). */
int policy_load(const char *main_file, const char *dropin_dir, PolicyConfig **ret, char **ret_error);

/* Applies one file's text to p as policy_load() applies each file it reads: text[0..size) need not
 * end in a NUL; file names it in messages; dropin restricts it to "rules". Errors as policy_load()'s;
 * after one, p holds what came before the bad value and is only fit for policy_free(). For callers
 * that have the text rather than a file, such as tests/fuzz. */
int policy_load_text(PolicyConfig *p, const char *file, const char *text, size_t size, bool dropin, char **ret_error);

/* The configuration with no file at all. */
int policy_new_default(PolicyConfig **ret);

PolicyConfig *policy_free(PolicyConfig *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PolicyConfig *, policy_free);
#define _cleanup_policy_free_ _cleanup_(policy_freep)

/* Whether a caller (uid, primary gid, supplementary gids) may do action on group g: true when one
 * rule names the caller (by user name, resolved from uid at check time, or by a group name that
 * resolves to one of the caller's gids), lists the action (manage implies all), and its targets
 * cover the group: they name the group id, or every endpoint of it (bridges excluded, at least one
 * endpoint) is matched by an address or vendor:product target of that rule. Looks users and groups
 * up through NSS, so it may block on a remote directory just as the bus's own credential checks do. */
bool policy_allows(PolicyConfig *p, uid_t uid, gid_t gid, const gid_t *gids, size_t n_gids, PolicyAction action,
                   const Group *g);

/* Whether one rule's targets cover group g, as above. */
bool policy_rule_covers_group(const PolicyRule *rule, const Group *g);

const char *policy_action_to_string(PolicyAction a);
PolicyAction policy_action_from_string(const char *s);
