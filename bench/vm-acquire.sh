#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run in the guest by bench/acquire.sh: assigns the benchmark's single-edu groups and measures
# Acquire+Release against Peer.Ping with 1 and 32 concurrent clients.

. "$VFIOD_SRC/tests/vm/lib.sh"

rounds=${BENCH_ROUNDS:-20}
groups=$(for d in $(pci_find 0x1234 0x11e8); do
    g=$(group_of "$d")
    [ "$(group_devices "$g" | wc -l)" -eq 1 ] && echo "$g"
done | sort -n | uniq)
diag "single-device groups: $(echo $groups)"
modprobe vfio-pci
start_vfiod || { done_testing; exit; }
for g in $groups; do "$VFIOCTL" assign "$g" || fail "assign $g"; done
for clients in 1 32; do
    set -- $groups
    if [ "$#" -lt "$clients" ]; then
        fail "$clients clients" "only $# groups"
        continue
    fi
    "$VFIOD_BUILD/bench/acquire-bench" "$clients" "$rounds" "$@" && ok "$clients clients" || fail "$clients clients"
done
stop_vfiod
done_testing
