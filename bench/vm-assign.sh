#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Benchmark, run in the QEMU guest by bench/assign.sh: one assign+unassign round trip of the
# bridge group (two edu and an e1000 behind a PCIe-to-PCI bridge) done three ways, alternately:
# vfioctl (vfiod), the same sysfs writes from a shell script (the floor), and driverctl
# set-override/unset-override per device. Prints the median of each and the ratios.

. "$VFIOD_SRC/tests/vm/lib.sh"

rounds=${BENCH_ROUNDS:-7}
edu=$(pci_find 0x1234 0x11e8 | head -n1)
e1000=$(pci_find 0x8086 0x100e | head -n1)
group=$(group_of "$edu")
endpoints=$(for d in $(group_devices "$group"); do
    [ "$(cat /sys/bus/pci/devices/$d/class)" = 0x060400 ] || echo "$d"
done)

now_us() { echo $(($(date +%s%N) / 1000)); }

round_vfiod() {
    "$VFIOCTL" assign "$group" && "$VFIOCTL" unassign "$group"
}

round_raw() {
    local d
    for d in $endpoints; do echo vfio-pci > "/sys/bus/pci/devices/$d/driver_override"; done
    for d in $endpoints; do
        [ -e "/sys/bus/pci/devices/$d/driver" ] && [ "$(driver_of "$d")" != vfio-pci ] &&
            echo "$d" > "/sys/bus/pci/devices/$d/driver/unbind"
    done
    for d in $endpoints; do echo "$d" > /sys/bus/pci/drivers_probe; done
    for d in $endpoints; do echo > "/sys/bus/pci/devices/$d/driver_override"; done
    for d in $endpoints; do echo "$d" > /sys/bus/pci/drivers/vfio-pci/unbind; done
    echo "$e1000" > /sys/bus/pci/drivers/e1000/bind
}

round_driverctl() {
    local d
    for d in $endpoints; do driverctl --nosave set-override "$d" vfio-pci || return 1; done
    # unset-override exits 1 when nothing binds afterwards, as for the driverless edu: the end
    # state is checked by back_home instead.
    for d in $endpoints; do driverctl --nosave unset-override "$d"; done
    return 0
}

# Every round must end where it started, or the next one measures something else.
back_home() { [ "$(driver_of "$e1000")" = e1000 ] && [ -z "$(driver_of "$edu")" ]; }

modprobe vfio-pci
start_vfiod || { done_testing; exit; }
have_driverctl=$(command -v driverctl)
declare -A samples
for i in $(seq "$rounds"); do
    for method in raw vfiod ${have_driverctl:+driverctl}; do
        t0=$(now_us)
        if ! "round_$method" >/dev/null 2>&1 || ! back_home; then
            fail "$method round $i" "did not end on the host drivers"
            continue
        fi
        samples[$method]+="$(($(now_us) - t0)) "
    done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
raw=$(echo "${samples[raw]}" | median)
vfiod=$(echo "${samples[vfiod]}" | median)
echo "BENCH raw-sysfs median_us=$raw samples=[${samples[raw]}]"
echo "BENCH vfiod     median_us=$vfiod samples=[${samples[vfiod]}]"
echo "BENCH ratio vfiod/raw = $(awk "BEGIN {printf \"%.2f\", $vfiod / $raw}")"
if [ -n "$have_driverctl" ]; then
    dctl=$(echo "${samples[driverctl]}" | median)
    echo "BENCH driverctl median_us=$dctl samples=[${samples[driverctl]}]"
    echo "BENCH ratio vfiod/driverctl = $(awk "BEGIN {printf \"%.2f\", $vfiod / $dctl}")"
fi
ok "benchmark ran $rounds rounds"
stop_vfiod
done_testing
