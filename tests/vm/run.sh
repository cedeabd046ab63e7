#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# VM test harness: runs scenarios in QEMU (TCG) guests with an emulated
# Intel IOMMU, on the distribution's stock kernel and, when available, on the
# iommufd test kernel: the scenarios without systemd or "# vm-own-boot" in one
# boot per kernel (the guest goes back to its boot state between them), the
# others in a boot each; collects each scenario's TAP-like lines from the
# serial console and prints "N passed, N failed".
#
# Usage: tests/vm/run.sh [--build DIR] [--kernel stock|iommufd|all] [--init plain|systemd]
#                        [--tier stock|iommufd|systemd] [--timeout SEC] [--verbose] [--keep]
#                        SCENARIO.sh...
#        tests/vm/run.sh --check-tiers [SCENARIO.sh...]
#
# --init systemd runs every scenario with systemd as the guest's PID 1 and vfiod installed
# (prefix /usr) as its service; a scenario with a "# vm-init: systemd" line always runs so.
# --tier T runs, of the scenarios given, those whose "# vm-tiers:" line names T, on T's kernel
# and init (stock: stock kernel; iommufd: the iommufd kernel; systemd: stock kernel, systemd as
# PID 1). --check-tiers only checks those lines (every scenario in scenarios/ when none given).
#
# Environment:
#   VFIOD_VM_CACHE        kernel/initramfs cache and logs (tests/vm/cache)
#   VFIOD_IOMMUFD_KERNEL  iommufd kernel (../shared/kernels/bzImage-6.12-iommufd
#                         relative to the repository root)
#   VFIOD_VM_TIMEOUT      seconds per boot before the VM is killed (240)
#   VFIOD_VM_QEMU         QEMU binary (qemu-system-x86_64)

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

usage() {
    sed -n 's/^# \{0,1\}//; 11,20p' "$0" | sed 's/^ *Usage: /Usage: /'
    exit "${1:-2}"
}

# The tiers a scenario can declare, and what each runs on (kernel and init).
declare -A tier_kernel=([stock]=stock [iommufd]=iommufd [systemd]=stock)
declare -A tier_init=([stock]=plain [iommufd]=plain [systemd]=systemd)

# scenario_tiers SCENARIO: the tiers on its "# vm-tiers:" line, one line, empty when none.
scenario_tiers() {
    sed -n 's/^# vm-tiers:\(.*\)$/\1/p' "$1" | head -n 1 | xargs
}

# check_tiers SCENARIO...: every scenario declares its tiers once, all of them known, none twice;
# one that always runs under systemd ("# vm-init: systemd") does not declare stock as well as
# systemd, which would boot it twice the same way. Prints one line per fault; fails on any.
check_tiers() {
    local s t tiers bad=0 n
    for s in "$@"; do
        n=$(grep -c '^# vm-tiers:' "$s")
        tiers=$(scenario_tiers "$s")
        if [ "$n" -ne 1 ] || [ -z "$tiers" ]; then
            echo "$s: needs one \"# vm-tiers: TIER...\" line (tiers: ${!tier_kernel[*]})"
            bad=1
            continue
        fi
        for t in $tiers; do
            [ -n "${tier_kernel[$t]:-}" ] || { echo "$s: unknown tier '$t' (tiers: ${!tier_kernel[*]})"; bad=1; }
        done
        [ "$(tr ' ' '\n' <<<"$tiers" | sort | uniq -d)" = "" ] || { echo "$s: a tier named twice: $tiers"; bad=1; }
        if grep -q '^# vm-init: *systemd *$' "$s" && [[ " $tiers " = *" stock "* ]] &&
           [[ " $tiers " = *" systemd "* ]]; then
            echo "$s: always runs under systemd; stock and systemd would run it twice alike"
            bad=1
        fi
    done
    return "$bad"
}

build=
kernel=all
init=
tier=
check_only=
timeout=${VFIOD_VM_TIMEOUT:-240}
verbose=
keep=
scenarios=()
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --build=*) build=${1#*=}; shift ;;
        --kernel) kernel=$2; shift 2 ;;
        --kernel=*) kernel=${1#*=}; shift ;;
        --init) init=$2; shift 2 ;;
        --init=*) init=${1#*=}; shift ;;
        --tier) tier=$2; shift 2 ;;
        --tier=*) tier=${1#*=}; shift ;;
        --check-tiers) check_only=1; shift ;;
        --timeout) timeout=$2; shift 2 ;;
        --timeout=*) timeout=${1#*=}; shift ;;
        -v|--verbose) verbose=1; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) usage 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; usage ;;
        *) scenarios+=("$1"); shift ;;
    esac
done
if [ -n "$check_only" ]; then
    [ ${#scenarios[@]} -gt 0 ] || scenarios=("$here"/scenarios/*.sh)
    check_tiers "${scenarios[@]}"
    exit
fi
[ ${#scenarios[@]} -gt 0 ] || { echo "run.sh: no scenario given" >&2; usage; }
case $kernel in stock|iommufd|all) ;; *) echo "run.sh: bad --kernel $kernel" >&2; usage ;; esac
case $init in ''|plain|systemd) ;; *) echo "run.sh: bad --init $init" >&2; usage ;; esac
if [ -n "$tier" ]; then
    [ -n "${tier_kernel[$tier]:-}" ] || { echo "run.sh: bad --tier $tier" >&2; usage; }
    [ "$kernel" = all ] && [ -z "$init" ] ||
        { echo "run.sh: --tier sets the kernel and the init; not with --kernel or --init" >&2; usage; }
    kernel=${tier_kernel[$tier]}
    init=${tier_init[$tier]}
fi

# A relative --build is taken relative to the current directory; the
# default relative to the repository. The guest sees the same absolute path.
if [ -z "$build" ]; then
    build=$repo/build
elif [ "${build#/}" = "$build" ]; then
    build=$PWD/$build
fi
# The scenarios run the daemon, vfioctl and the test helpers from it (in systemd mode too).
[ -f "$build/build.ninja" ] ||
    { echo "run.sh: $build is not a build directory (meson setup $build && ninja -C $build)" >&2; exit 2; }
build=$(cd "$build" && pwd)

for i in "${!scenarios[@]}"; do
    s=${scenarios[$i]}
    [ -f "$s" ] || { echo "run.sh: no such scenario: $s" >&2; exit 2; }
    scenarios[$i]=$(cd "$(dirname "$s")" && pwd)/$(basename "$s")
done

# With --tier, the scenarios that declare it; one that declares no tiers at all is a failure (it
# would run on no tier), and the others are left out, which is said once.
undeclared=()
if [ -n "$tier" ]; then
    chosen=() left_out=()
    for s in "${scenarios[@]}"; do
        t=$(scenario_tiers "$s")
        if [ -z "$t" ]; then
            undeclared+=("$s")
        elif [[ " $t " = *" $tier "* ]]; then
            chosen+=("$s")
        else
            left_out+=("$(basename "$s" .sh)")
        fi
    done
    [ ${#left_out[@]} -eq 0 ] || echo "run.sh: tier $tier leaves out ${left_out[*]} (their # vm-tiers: lines)"
    scenarios=("${chosen[@]}")
    if [ ${#scenarios[@]} -eq 0 ]; then
        for s in "${undeclared[@]}"; do echo "not ok - $s declares no tiers (# vm-tiers:)"; done
        echo "0 passed, ${#undeclared[@]} failed"
        [ ${#undeclared[@]} -eq 0 ]
        exit
    fi
fi

cache=${VFIOD_VM_CACHE:-$here/cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
export VFIOD_VM_CACHE=$cache
logdir=$cache/logs
mkdir -p "$logdir"
qemu=${VFIOD_VM_QEMU:-qemu-system-x86_64}

log() { echo "run.sh: $*" >&2; }

# ------------------------------------------------------------ host tools
# Install what is missing (fresh Debian 12), and only that.  The guest runs
# the host's binaries, so dbus-daemon, busctl, setpriv, kmod, python3 are
# needed on the host too.
ensure_tools() {
    local pkgs=() cmd pkg
    while read -r cmd pkg; do
        command -v "$cmd" >/dev/null 2>&1 || pkgs+=("$pkg")
    done <<EOF
$qemu qemu-system-x86
cpio cpio
gzip gzip
python3 python3
depmod kmod
dbus-daemon dbus
busctl systemd
setpriv util-linux
stty coreutils
EOF
    # The initramfs needs a STATIC busybox (busybox-static, not busybox).
    if ! [ -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
        pkgs+=(busybox-static)
    fi
    [ ${#pkgs[@]} -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ]; then
        log "missing packages (${pkgs[*]}) and not root to install them"
        exit 2
    fi
    log "installing ${pkgs[*]}"
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >&2 ||
        { log "apt-get install failed"; exit 2; }
}
ensure_tools

# ------------------------------------------------------------ kernels
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vfiod-vm.XXXXXX")
cur_pids=   # QEMU and relay of the running VM, killed if we are interrupted
cleanup() {
    [ -z "$cur_pids" ] || kill -KILL $cur_pids 2>/dev/null
    [ -n "$keep" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# make_initramfs OUT [MODULES_DIR]: busybox + stage-1 /init, plus (stock
# kernel) the modules needed to mount the 9p root and the overlay.
make_initramfs() {
    local out=$1 moddir=${2:-} d=$tmp/initramfs.$$
    rm -rf "$d"
    mkdir -p "$d/bin" "$d/modules" "$d/proc" "$d/sys" "$d/dev"
    cp /bin/busybox "$d/bin/busybox"
    cp "$here/initramfs-init.sh" "$d/init"
    chmod 0755 "$d/init"
    if [ -n "$moddir" ]; then
        local kver base line path name
        kver=$(basename "$moddir")
        base=${moddir%/lib/modules/*}
        # modprobe needs modules.dep; the extracted package has none.
        [ -f "$moddir/modules.dep.bin" ] || depmod -b "$base" "$kver" ||
            { log "depmod failed for $moddir"; return 1; }
        : > "$d/modules.list"
        # --show-depends prints "insmod PATH" lines, dependencies first.
        for name in virtio_pci 9pnet_virtio 9p overlay; do
            modprobe -d "$base" -S "$kver" --show-depends "$name" ||
                { log "cannot resolve module $name"; return 1; }
        done | while read -r line path; do
            [ "$line" = insmod ] || continue
            # "insmod PATH [OPTIONS]": PATH may hold spaces (a checkout in "/tmp/a b").
            [[ $path =~ ^(.*\.ko(\.xz|\.zst|\.gz)?)( |$) ]] && path=${BASH_REMATCH[1]}
            local m=${path##*/}
            case $m in
                # busybox insmod does not read compressed modules.
                *.ko.xz) m=${m%.xz}; [ -f "$d/modules/$m" ] || xz -dc "$path" > "$d/modules/$m" ;;
                *.ko.zst) m=${m%.zst}; [ -f "$d/modules/$m" ] || zstd -qdc "$path" > "$d/modules/$m" ;;
                *.ko.gz) m=${m%.gz}; [ -f "$d/modules/$m" ] || gzip -dc "$path" > "$d/modules/$m" ;;
                *) [ -f "$d/modules/$m" ] || cp "$path" "$d/modules/$m" ;;
            esac
            grep -qx "$m" "$d/modules.list" || echo "$m" >> "$d/modules.list"
        done
    fi
    (cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) > "$out" || return 1
    rm -rf "$d"
}

kernels=()
declare -A kimage kmods kinitrd
if [ "$kernel" = stock ] || [ "$kernel" = all ]; then
    out=$("$here/fetch-kernel.sh") || { log "fetch-kernel.sh failed"; exit 2; }
    kimage[stock]=$(sed -n 's/^VMLINUZ=//p' <<<"$out")
    kmods[stock]=$(sed -n 's/^MODULES=//p' <<<"$out")
    # Compressed modules need the matching tool on the host.
    if [ -n "$(find "${kmods[stock]}/kernel/fs" -name '*.ko.xz' -print -quit)" ]; then
        command -v xz >/dev/null || apt-get install -y xz-utils >&2
    elif [ -n "$(find "${kmods[stock]}/kernel/fs" -name '*.ko.zst' -print -quit)" ]; then
        command -v zstd >/dev/null || apt-get install -y zstd >&2
    fi
    kinitrd[stock]=$tmp/initrd-stock.gz
    make_initramfs "${kinitrd[stock]}" "${kmods[stock]}" || { log "initramfs failed"; exit 2; }
    kernels+=(stock)
fi
if [ "$kernel" = iommufd ] || [ "$kernel" = all ]; then
    img=${VFIOD_IOMMUFD_KERNEL:-$repo/../shared/kernels/bzImage-6.12-iommufd}
    if [ -f "$img" ]; then
        kimage[iommufd]=$img
        kmods[iommufd]=
        kinitrd[iommufd]=$tmp/initrd-iommufd.gz
        make_initramfs "${kinitrd[iommufd]}" || { log "initramfs failed"; exit 2; }
        kernels+=(iommufd)
    elif [ "$kernel" = iommufd ]; then
        echo "skipping iommufd tier: kernel not found ($img)"
        echo "0 passed, 1 failed"
        exit 1
    else
        echo "skipping iommufd tier: kernel not found ($img)"
    fi
fi

# ------------------------------------------------------------ systemd mode
# scenario_init SCENARIO: plain or systemd (its "# vm-init: systemd" line, else --init).
scenario_init() {
    if grep -q '^# vm-init: *systemd *$' "$1"; then
        echo systemd
    else
        echo "${init:-plain}"
    fi
}

# build_installed: vfiod as a distribution would install it (prefix /usr, /etc, /var), built
# from this source in a build directory cached under $cache (reruns are incremental) and
# installed into this run's own DESTDIR, which the guest copies onto its root. The lock keeps
# concurrent runs sharing the cache from building in the same directory at once.
destdir=
build_installed() {
    local bdir=$cache/build-installed out
    destdir=$tmp/destdir
    out=$(
        exec 9> "$cache/build-installed.lock"
        flock 9
        # A build directory configured for another source tree (a shared VFIOD_VM_CACHE) is
        # started afresh.
        if [ -f "$bdir/meson-info/meson-info.json" ] &&
           [ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
                "$bdir/meson-info/meson-info.json" 2>/dev/null)" != "$repo" ]; then
            rm -rf "$bdir"
        fi
        if [ ! -f "$bdir/build.ninja" ]; then
            rm -rf "$bdir"
            meson setup "$bdir" "$repo" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
                -Dtests=false 2>&1 || exit 1
        fi
        ninja -C "$bdir" 2>&1 || exit 1
        meson install -C "$bdir" --no-rebuild --quiet --destdir "$destdir" 2>&1 || exit 1
    ) || {
        printf '%s\n' "$out" | tail -n 30 >&2
        log "building the installed tree (prefix /usr) in $bdir failed"
        exit 2
    }
}

need_systemd=
for s in "${scenarios[@]}"; do
    [ "$(scenario_init "$s")" = systemd ] && need_systemd=1
done
if [ -n "$need_systemd" ]; then
    # The guest boots the host's systemd, udevd and dbus; the installed tree is built here.
    for t in /lib/systemd/systemd:systemd udevadm:udev meson:meson ninja:ninja-build flock:util-linux; do
        command -v "${t%%:*}" >/dev/null 2>&1 || [ -x "${t%%:*}" ] || {
            [ "$(id -u)" = 0 ] ||
                { log "systemd mode needs package ${t#*:}, not root to install it"; exit 2; }
            DEBIAN_FRONTEND=noninteractive apt-get install -y "${t#*:}" >&2 ||
                { log "apt-get install ${t#*:} failed"; exit 2; }
        }
    done
    build_installed
fi

# ------------------------------------------------------------ what other users run
# Scenarios run vfioctl, the test programs and the helper scripts as nobody and daemon too. The
# checkout may sit where those users cannot reach it (a 0700 home) or have modes only its owner
# can read: they get copies, with the modes a package would give them, in a directory of this
# run's own that the guest mounts at /run/vfiod-public. Its own directories are left as they are.
public=$tmp/public
make_public_tree() {
    local f
    mkdir -p "$public/bin" "$public/helpers" || return 1
    # vfioctl finds libvfiod-client.so.0 through its RUNPATH $ORIGIN.
    for f in src/client/vfioctl src/client/libvfiod-client.so.0 tests/vm/edu-dma tests/vm/vfio-hold; do
        [ -e "$build/$f" ] || continue
        install -m 0755 "$build/$f" "$public/bin/" || return 1
    done
    for f in "$here"/helpers/*.py "$here"/helpers/*.sh; do
        install -m 0755 "$f" "$public/helpers/" || return 1
    done
    chmod 0755 "$public" "$public/bin" "$public/helpers"
}
make_public_tree || { log "copying what unprivileged users run into $public failed"; exit 2; }

# ------------------------------------------------------------ one VM
passed=0
failed=0

# scenario_limit SCENARIO: its seconds inside the guest ("# vm-timeout: SEC", at least --timeout).
scenario_limit() {
    local limit
    limit=$(sed -n 's/^# vm-timeout: *\([0-9][0-9]*\)$/\1/p' "$1" | head -n1)
    [ -n "$limit" ] && [ "$limit" -gt "$timeout" ] || limit=$timeout
    echo "$limit"
}

# scenario_log KERNEL SCENARIO: its log file's name (a scenario run under systemd only because of
# --init keeps its plain log too).
scenario_log() {
    local name
    name=$(basename "$2" .sh)
    if [ "$(scenario_init "$2")" = systemd ] && ! grep -q '^# vm-init: *systemd *$' "$2"; then
        echo "$logdir/$1-$name.systemd.log"
    else
        echo "$logdir/$1-$name.log"
    fi
}

# report SCENARIO LABEL LOG RC SECS WHY: prints a scenario's lines from its LOG (the console
# between its markers) and counts them; RC is empty when the guest never finished it, WHY says
# then what happened to the guest.
report() {
    local scenario=$1 label=$2 logf=$3 rc=$4 secs=$5 why=$6 name body npass nfail
    name=$(basename "$scenario" .sh)
    echo "=== [$label] $name ($secs s) ==="
    body=$(sed -n '/^@@VFIOD-VM-BEGIN /,/^@@VFIOD-VM-DONE/p' "$logf" | grep -v -e '^@@VFIOD-VM-')
    if [ -n "$verbose" ]; then
        cat "$logf"
    elif [ -n "$body" ]; then
        # Kernel messages (a panic, say) stay in the log file; the tail of
        # the log is shown below when the guest did not finish.
        printf '%s\n' "$body" | grep -v -e '^guest-init: kernel' -e '^\[ *[0-9]*\.[0-9]*\]' | sed 's/^/  /'
    fi
    npass=$(printf '%s\n' "$body" | grep -c '^ok - ')
    nfail=$(printf '%s\n' "$body" | grep -c '^not ok - ')
    if [ -z "$rc" ]; then
        echo "  not ok - [$label] $name: $why"
        echo "  # last console lines ($logf):"
        grep -v '^$' "$logf" | tail -n 25 | sed 's/^/  #   /'
        nfail=$((nfail + 1))
    elif [ "$rc" != 0 ] && [ "$nfail" -eq 0 ]; then
        echo "  not ok - [$label] $name: scenario exited with status $rc"
        [ -n "$body" ] || grep -B2 -A20 '^guest-init:' "$logf" | head -n 30 | sed 's/^/  #   /'
        nfail=$((nfail + 1))
    elif [ "$npass" -eq 0 ] && [ "$nfail" -eq 0 ]; then
        echo "  not ok - [$label] $name: scenario reported no results"
        nfail=1
    fi
    echo "  ($npass passed, $nfail failed; log: $logf)"
    passed=$((passed + npass))
    failed=$((failed + nfail))
}

# run_vm KERNEL ATTEMPT SCENARIO...: one boot running the scenarios in order (several only when
# they run without systemd), then each one's report. Sets vm_done to how many of them have a
# result: fewer than all when the guest could not go back to its boot state after one (the rest
# need a boot of their own). Returns 2, reporting nothing, when on the first attempt the guest
# died before the first scenario started.
vm_done=0
run_vm() {
    local kname=$1 attempt=$2 vmdir qpid rpid start elapsed timed_out='' limit=0 vinit label s
    shift 2
    local batch=("$@") limits=()
    vinit=$(scenario_init "${batch[0]}")
    label=$kname
    for s in "${batch[@]}"; do
        limits+=("$(scenario_limit "$s")")
        limit=$((limit + ${limits[-1]}))
    done
    # Time to boot, and to go back to the boot state between scenarios.
    limit=$((limit + 30 * ${#batch[@]}))
    if [ "$vinit" = systemd ]; then
        # Booting systemd costs ~15-20 s more under TCG, a minute or more on a busy host.
        limit=$((limit + 120))
        label="$kname, systemd"
    fi
    vmdir=$(mktemp -d "$tmp/vm-$kname-$(basename "${batch[0]}" .sh).XXXXXX")
    # Config for the guest's stage 2, read over 9p at the same path.
    {
        printf 'SCENARIOS=('
        printf '%q ' "${batch[@]}"
        printf ')\nLIMITS=(%s)\n' "${limits[*]}"
        printf 'VFIOD_SRC=%q\n' "$repo"
        printf 'VFIOD_BUILD=%q\n' "$build"
        printf 'VM_KERNEL=%q\n' "$kname"
        printf 'VM_MODULES_DIR=%q\n' "${kmods[$kname]}"
        printf 'VM_VERBOSE=%q\n' "$verbose"
        printf 'VM_INIT=%q\n' "$vinit"
        printf 'VM_DESTDIR=%q\n' "$destdir"
        printf 'VM_PUBLIC=%q\n' "$public"
        printf 'VFIOD_VM_CACHE=%q\n' "$cache"
    } > "$vmdir/guest.env"

    # Topology (see README.md): intel-iommu FIRST; two e1000e on the root
    # bus (one group each); a pcie-pci-bridge whose devices share one group
    # with it: two edu (DMA-capable, no host driver) and an e1000 present at
    # boot so that the firmware sizes the bridge window for a later hot-add
    # of another e1000 at addr 4; two root ports for hot-adding edu devices
    # (separate groups). The 9p root device bypasses the vIOMMU (legacy
    # virtio without iommu_platform), which is what we want for the root fs.
    # Default ACPI hotplug is kept: with native hotplug shpchp would bind the
    # bridge and make its group non-viable.
    local args=(
        -machine q35 -accel tcg -cpu max -m 1024 -smp 2
        -nodefaults -display none -vga none -no-reboot
        -device intel-iommu,intremap=on
        -kernel "${kimage[$kname]}" -initrd "${kinitrd[$kname]}"
        -append "console=ttyS0 intel_iommu=on quiet loglevel=4 panic=-1 mitigations=off tsc=reliable rdinit=/init vfiod_stage2=\"$here/guest-init.sh\" VFIOD_VM_CFG=\"$vmdir/guest.env\""
        -chardev "file,id=con,path=$vmdir/console.log" -serial chardev:con
        -chardev "socket,id=qmpser,path=$vmdir/qmp-serial.sock,server=on,wait=off" -serial chardev:qmpser
        -qmp "unix:$vmdir/qmp.sock,server=on,wait=off"
        -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
        -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,bus=pcie.0,addr=0x8
        -netdev user,id=ne0,restrict=on -device e1000e,netdev=ne0,bus=pcie.0,addr=0x2
        -netdev user,id=ne1,restrict=on -device e1000e,netdev=ne1,bus=pcie.0,addr=0x3
        -device pcie-pci-bridge,id=br0,bus=pcie.0,addr=0x4
        -device edu,bus=br0,addr=1
        -device edu,bus=br0,addr=2
        -netdev user,id=nb3,restrict=on -device e1000,netdev=nb3,bus=br0,addr=3
        -device pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=0x5
        -device pcie-root-port,id=rp2,chassis=2,bus=pcie.0,addr=0x6
    )
    # Benchmarks add devices of their own (e.g. many single-device groups).
    # shellcheck disable=SC2206
    [ -z "${VFIOD_VM_EXTRA_DEVICES:-}" ] || args+=($VFIOD_VM_EXTRA_DEVICES)
    # Results come when the guest is done: say what it is running meanwhile.
    if [ ${#batch[@]} -gt 1 ]; then
        local names=()
        for s in "${batch[@]}"; do names+=("$(basename "$s" .sh)"); done
        echo "--- [$label] one boot for ${names[*]}"
    fi
    start=$(date +%s)
    "$qemu" "${args[@]}" > "$vmdir/qemu.out" 2>&1 &
    qpid=$!
    python3 "$here/qmp-relay.py" --qmp "$vmdir/qmp.sock" --serial "$vmdir/qmp-serial.sock" \
        --log "$vmdir/qmp-relay.log" > "$vmdir/relay.out" 2>&1 &
    rpid=$!
    cur_pids="$qpid $rpid"

    # Overall timeout per boot: a hung guest is killed; what it was running counts as failed.
    while kill -0 "$qpid" 2>/dev/null; do
        if [ $(($(date +%s) - start)) -ge "$limit" ]; then
            timed_out=1
            kill -TERM "$qpid" 2>/dev/null
            sleep 2
            kill -KILL "$qpid" 2>/dev/null
            break
        fi
        sleep 0.5
    done
    wait "$qpid" 2>/dev/null
    kill -TERM "$rpid" 2>/dev/null
    wait "$rpid" 2>/dev/null
    cur_pids=
    elapsed=$(($(date +%s) - start))

    local console=$vmdir/console.txt
    tr -d '\r' < "$vmdir/console.log" > "$console" 2>/dev/null

    # A guest that died before the first scenario even started (TCG boots of the 6.12 kernel
    # panic in early boot now and then) says nothing about vfiod: boot it once more, and say so.
    if ! grep -q '^@@VFIOD-VM-BEGIN ' "$console" && [ "$attempt" = 1 ]; then
        echo "=== [$label] $(basename "${batch[0]}" .sh): the guest died before the scenario started; booting it once more. Last console lines:"
        grep -v '^$' "$console" | tail -n 8 | sed 's/^/  #   /'
        cp "$console" "$logdir/$kname-boot-failed.log"
        return 2
    fi

    # Each scenario's log: its part of the console, from its begin marker to the next one (the
    # first also gets the boot before it, the last what follows it: the end of the boot).
    local i from to next logf rc secs why marks=() n=${#batch[@]}
    for s in "${batch[@]}"; do
        marks+=("$(grep -n -m1 -xF "@@VFIOD-VM-BEGIN $(basename "$s" .sh)@@" "$console" | cut -d: -f1)")
    done
    vm_done=0
    for ((i = 0; i < n; i++)); do
        s=${batch[$i]}
        logf=$(scenario_log "$kname" "$s")
        [ -n "${marks[$i]}" ] || [ "$i" = 0 ] || break
        from=${marks[$i]:-1}
        [ "$i" -gt 0 ] || from=1
        next=
        [ $((i + 1)) -lt "$n" ] && next=${marks[$((i + 1))]}
        if [ -n "$next" ]; then
            to=$((next - 1))
        else
            to=$(wc -l < "$console")
        fi
        sed -n "${from},${to}p" "$console" > "$logf"
        cp "$vmdir/qmp-relay.log" "${logf%.log}.qmp.log" 2>/dev/null
        rc=$(sed -n 's/^@@VFIOD-VM-DONE rc=\([0-9]*\)@@.*/\1/p' "$logf" | tail -n1)
        secs=$(sed -n 's/^@@VFIOD-VM-DONE rc=[0-9]*@@ \([0-9]*\) s$/\1/p' "$logf" | tail -n1)
        [ "$n" -gt 1 ] || secs=$elapsed
        why=
        if [ -z "$rc" ]; then
            if [ -n "$timed_out" ]; then
                why="guest timed out after $limit s (killed)"
            else
                why="guest crashed or powered off without finishing"
            fi
            secs=${secs:-?}
        fi
        report "$s" "$label" "$logf" "$rc" "$secs" "$why"
        [ -n "$rc" ] || sed 's/^/  # qemu: /' "$vmdir/qemu.out" | head -n 10
        vm_done=$((i + 1))
        # The guest stopped after this one: something it left could not be undone.
        if grep -q '^@@VFIOD-VM-RESET-FAILED@@' "$logf" && [ $((i + 1)) -lt "$n" ]; then
            echo "  # the guest could not go back to its boot state after $(basename "$s" .sh); the rest get a new boot:"
            grep '^guest-init: \(reset\|processes\|  \)' "$logf" | sed 's/^/  #   /'
            break
        fi
        [ -n "$rc" ] || break
    done
    [ "$n" -eq 1 ] || echo "  (one boot for $vm_done of ${#batch[@]} scenarios: $elapsed s)"
    [ -n "$keep" ] && echo "  (VM directory kept: $vmdir)"
    return 0
}

# run_batch KERNEL SCENARIO...: runs them, in as few boots as they allow, until each has a result.
run_batch() {
    local kname=$1 attempt=1 rc
    shift
    local pending=("$@")
    while [ ${#pending[@]} -gt 0 ]; do
        run_vm "$kname" "$attempt" "${pending[@]}"
        rc=$?
        if [ "$rc" = 2 ]; then
            attempt=2
            continue
        fi
        attempt=1
        pending=("${pending[@]:vm_done}")
    done
}

# scenario_shares_boot SCENARIO: runs without systemd and without "# vm-own-boot".
scenario_shares_boot() {
    [ "$(scenario_init "$1")" = plain ] && ! grep -q '^# vm-own-boot' "$1"
}

for k in "${kernels[@]}"; do
    shared=()
    for s in "${scenarios[@]}"; do
        scenario_shares_boot "$s" && shared+=("$s")
    done
    [ ${#shared[@]} -eq 0 ] || run_batch "$k" "${shared[@]}"
    for s in "${scenarios[@]}"; do
        scenario_shares_boot "$s" || run_batch "$k" "$s"
    done
done

for s in "${undeclared[@]}"; do
    echo "not ok - $s declares no tiers (# vm-tiers:)"
    failed=$((failed + 1))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
