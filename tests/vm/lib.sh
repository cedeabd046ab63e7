# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helper library for VM test scenarios (tests/vm/scenarios/*.sh).  A scenario
# runs inside the guest as root, on the host's root filesystem (read-only
# 9p + tmpfs overlay), with the system bus running and these variables set:
#   VFIOD, VFIOCTL        the freshly built daemon and CLI
#   VFIOD_SRC, VFIOD_BUILD  repository root and build directory
#   VFIOD_PUBLIC          copies every user can run: bin/ (vfioctl, edu-dma,
#                         vfio-hold), helpers/ (tests/vm/helpers); the checkout
#                         itself may be closed to nobody (a 0700 home)
#   VM_KERNEL             stock | iommufd
#   VM_INIT               plain | systemd (systemd is PID 1 and vfiod is installed,
#                         see "systemd mode" below)
# Source it with:  . "$VFIOD_SRC/tests/vm/lib.sh"
#
# Results are printed as TAP-like lines on the console, which the host
# harness counts:  "ok - NAME"  /  "not ok - NAME".  Diagnostics start with
# "# ".  End a scenario with `done_testing` (its exit status says whether
# anything failed).

_VM_PASSED=0
_VM_FAILED=0

# ---------------------------------------------------------------- results

diag() { local l; for l in "$@"; do printf '# %s\n' "$l"; done; }

ok() {
    _VM_PASSED=$((_VM_PASSED + 1))
    printf 'ok - %s\n' "$1"
}

# fail NAME [WHY...]
fail() {
    local name=$1
    shift
    _VM_FAILED=$((_VM_FAILED + 1))
    printf 'not ok - %s\n' "$name"
    [ $# -eq 0 ] || diag "$*"
}

# skip NAME WHY: counts as passed, says why it did not really run.
skip() {
    _VM_PASSED=$((_VM_PASSED + 1))
    printf 'ok - %s # SKIP %s\n' "$1" "$2"
}

# check NAME COMMAND...: ok if COMMAND succeeds; on failure its output
# (captured) is shown as diagnostics.
check() {
    local name=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$name"
    else
        fail "$name" "command failed (rc=$rc): $*"
        [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/#   /' | head -n 40
    fi
    return $rc
}

# check_eq NAME EXPECTED GOT
check_eq() {
    if [ "$2" == "$3" ]; then
        ok "$1"
    else
        fail "$1" "expected: $2"
        diag "     got: $3"
        return 1
    fi
}

# tap_import: copy TAP-like lines from stdin (e.g. a python3 helper's
# output) to stdout, counting them. Use in the main shell, not a pipeline:
#   tap_import [NAME] < <(python3 ...)
# A helper that printed no result at all counts as a failure (it probably
# did not run).
tap_import() {
    local line n=0
    while IFS= read -r line; do
        case $line in
            'ok - '*) _VM_PASSED=$((_VM_PASSED + 1)); n=$((n + 1)) ;;
            'not ok - '*) _VM_FAILED=$((_VM_FAILED + 1)); n=$((n + 1)) ;;
        esac
        printf '%s\n' "$line"
    done
    [ "$n" -gt 0 ] || fail "${1:-imported results}" "the helper printed no results"
}

done_testing() {
    diag "$_VM_PASSED passed, $_VM_FAILED failed (scenario ${0##*/})"
    [ "$_VM_FAILED" -eq 0 ]
}

# wait_for TIMEOUT_SEC COMMAND...: poll COMMAND every 0.2 s until it
# succeeds (returns 0) or the timeout expires (returns 1).
wait_for() {
    local timeout=$1 deadline
    shift
    deadline=$(($(date +%s%N) / 1000000 + timeout * 1000))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ $(($(date +%s%N) / 1000000)) -lt $deadline ] || return 1
        sleep 0.2
    done
}

# ---------------------------------------------------------------- QMP
#
# The host's QEMU is reachable through the guest's second serial port
# (ttyS1), which the host connects to tests/vm/qmp-relay.py: we write one
# JSON command per line, the relay answers with one JSON line: the QMP
# reply ({"return": ...} or {"error": ...}), or for the pseudo command
# {"wait-event": "NAME", "timeout": SEC, "data": {...}} the first matching
# event ({"event": "NAME", "data": ...}) or an error of class "Timeout".
# Events that arrived earlier are kept by the relay, so waiting for
# DEVICE_DELETED after the device_del reply does not miss it.

QMP_TTY=${QMP_TTY:-/dev/ttyS1}
_QMP_FD=

_qmp_open() {
    [ -z "$_QMP_FD" ] || return 0
    # Raw: no echo (the relay would read our own line back), no CR/LF
    # mangling, no line discipline limits on long replies.
    stty -F "$QMP_TTY" raw -echo || return 1
    exec {_QMP_FD}<>"$QMP_TTY" || return 1
}

# qmp JSON: prints the reply line; returns 0 unless the reply is an error.
qmp() {
    local reply
    _qmp_open || { echo '{"error": {"class": "GuestError", "desc": "cannot open ttyS1"}}'; return 1; }
    printf '%s\n' "$1" >&"$_QMP_FD"
    # Generous: wait-event can legitimately take its own timeout.
    if ! IFS= read -r -t "${QMP_TIMEOUT:-120}" reply <&"$_QMP_FD"; then
        echo '{"error": {"class": "GuestError", "desc": "no reply from the QMP relay"}}'
        return 1
    fi
    reply=${reply%$'\r'}
    printf '%s\n' "$reply"
    case $reply in
        '{"error"'*) return 1 ;;
    esac
    return 0
}

# qmp_wait_event NAME TIMEOUT [DATA_JSON]: wait for a QMP event whose data
# contains DATA_JSON's keys and values, e.g.
#   qmp_wait_event DEVICE_DELETED 20 '{"device": "hp1"}'
qmp_wait_event() {
    local data=${3:-'{}'}
    qmp "{\"wait-event\": \"$1\", \"timeout\": ${2:-20}, \"data\": $data}"
}

# ---------------------------------------------------------------- PCI / sysfs

# pci_find VENDOR DEVICE: addresses (0000:bb:dd.f) of matching PCI devices,
# e.g. pci_find 0x1234 0x11e8 (edu).
pci_find() {
    local d
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ] && echo "${d##*/}"
    done
    return 0
}

# group_of BDF: IOMMU group number of a PCI device.
group_of() {
    local l
    l=$(readlink "/sys/bus/pci/devices/$1/iommu_group") || return 1
    echo "${l##*/}"
}

# group_devices N: the group's member addresses, sorted, one per line.
group_devices() {
    ls "/sys/kernel/iommu_groups/$1/devices" | sort
}

# driver_of BDF: bound driver name or nothing.
driver_of() {
    local l
    l=$(readlink "/sys/bus/pci/devices/$1/driver") || return 0
    echo "${l##*/}"
}

# ---------------------------------------------------------------- vfiod

VFIOD_PID=
VFIOD_LOG=/tmp/vfiod.log

vfiod_on_bus() { busctl --system status org.vfiod1 >/dev/null 2>&1; }

# start_vfiod [ARGS...]: start $VFIOD in the background (log in $VFIOD_LOG)
# and wait until it owns org.vfiod1 on the system bus. Under systemd: start
# vfiod.service with ARGS (see below).
start_vfiod() {
    if [ ! -x "$VFIOD" ]; then
        fail "start vfiod" "$VFIOD is not built"
        return 1
    fi
    if vm_systemd; then
        _sd_start_vfiod "$@"
        return
    fi
    "$VFIOD" --log-level=debug "$@" > "$VFIOD_LOG" 2>&1 &
    VFIOD_PID=$!
    for _ in $(seq 150); do
        vfiod_on_bus && { ok "vfiod owns org.vfiod1 (pid $VFIOD_PID)"; return 0; }
        if ! kill -0 "$VFIOD_PID" 2>/dev/null; then
            wait "$VFIOD_PID"
            fail "start vfiod" "daemon exited with status $? before taking its name"
            show_vfiod_log
            VFIOD_PID=
            return 1
        fi
        sleep 0.2
    done
    fail "start vfiod" "org.vfiod1 not on the bus after 30 s"
    show_vfiod_log
    return 1
}

# stop_vfiod [SIGNAL]: signal the daemon (default TERM), wait up to 15 s
# (then SIGKILL). Returns, and sets VFIOD_STATUS to, its exit status.
stop_vfiod() {
    VFIOD_STATUS=
    [ -n "$VFIOD_PID" ] || return 1
    if vm_systemd; then
        _sd_stop_vfiod "$@"
        return
    fi
    kill -"${1:-TERM}" "$VFIOD_PID" 2>/dev/null
    for _ in $(seq 75); do
        kill -0 "$VFIOD_PID" 2>/dev/null || break
        # A zombie still answers kill -0; `wait` below reaps it.
        [ "$(awk '{print $3}' "/proc/$VFIOD_PID/stat" 2>/dev/null)" = Z ] && break
        sleep 0.2
    done
    if kill -0 "$VFIOD_PID" 2>/dev/null &&
       [ "$(awk '{print $3}' "/proc/$VFIOD_PID/stat" 2>/dev/null)" != Z ]; then
        diag "vfiod did not exit after SIG${1:-TERM}; killing it"
        kill -KILL "$VFIOD_PID"
    fi
    wait "$VFIOD_PID"
    VFIOD_STATUS=$?
    VFIOD_PID=
    # Show the daemon's log when something failed (or when asked to).
    if [ "$_VM_FAILED" -gt 0 ] || [ "$VFIOD_STATUS" -ne 0 ] || [ -n "$VM_VERBOSE" ]; then
        show_vfiod_log
    fi
    return "$VFIOD_STATUS"
}

show_vfiod_log() {
    [ -s "$VFIOD_LOG" ] || return 0
    diag "---- vfiod log (last 80 lines) ----"
    tail -n 80 "$VFIOD_LOG" | sed 's/^/# vfiod: /'
}

# ---------------------------------------------------------------- systemd mode
# With VM_INIT=systemd, systemd is the guest's PID 1 and vfiod is installed
# (prefix /usr): start_vfiod and stop_vfiod drive the installed, hardened
# vfiod.service instead of a child process. A runtime drop-in gives it the
# scenario's arguments, its output in $VFIOD_LOG (truncated at each start, as
# in plain mode) and Restart=no (scenarios kill the daemon on purpose and
# start it again themselves). VFIOD_PID is the unit's MainPID.

VFIOD_UNIT=vfiod.service
VFIOD_DROPIN=/run/systemd/system/vfiod.service.d/50-vm-scenario.conf
# How the last main process ended ("exited 0", "killed TERM"), from ExecStopPost=: once the unit
# is inactive systemd may unload it, and its ExecMainStatus with it.
VFIOD_EXIT_FILE=/run/vfiod-vm-exit

vm_systemd() { [ "${VM_INIT:-}" = systemd ]; }

# unit_prop PROPERTY [UNIT]: a property's value, e.g. unit_prop NRestarts.
unit_prop() { systemctl show -P "$1" "${2:-$VFIOD_UNIT}" 2>/dev/null; }

# unit_settled [UNIT]: inactive or failed, nothing on its way.
unit_settled() {
    case $(unit_prop ActiveState "${1:-$VFIOD_UNIT}") in inactive | failed) return 0 ;; esac
    return 1
}

# _sd_quote ARG: ARG as one word of a unit file's command line.
_sd_quote() {
    local a=$1
    case $a in
        *[!A-Za-z0-9_./=:,@+-]* | '')
            a=${a//\\/\\\\}
            a=${a//\"/\\\"}
            a=${a//%/%%}
            a=${a//\$/\$\$}
            printf '"%s"' "$a"
            ;;
        *) printf '%s' "$a" ;;
    esac
}

# vfiod_dropin [ARGS...]: the runtime drop-in for a start with ARGS (and, when
# NOTIFY_SOCKET is set, a copy of READY=1 for that socket); daemon-reload only
# when it changed. The unit's own settings (hardening included) stay.
vfiod_dropin() {
    local conf a
    conf="[Service]"$'\n'"ExecStart="$'\n'"ExecStart=$VFIOD --log-level=debug"
    for a in "$@"; do conf+=" $(_sd_quote "$a")"; done
    conf+=$'\n'"StandardOutput=truncate:$VFIOD_LOG"$'\n'"StandardError=inherit"$'\n'"Restart=no"$'\n'
    conf+="ExecStopPost=+/bin/sh -c 'echo \$\$EXIT_CODE \$\$EXIT_STATUS > $VFIOD_EXIT_FILE'"$'\n'
    if [ -n "${NOTIFY_SOCKET:-}" ]; then
        # The scenario listens for READY=1 itself; systemd owns the daemon's socket. Its
        # ExecStartPost= runs as soon as systemd has the daemon's READY=1, so a copy sent from
        # there finds the daemon's start-up as it was at READY=1 (a few ms later).
        conf+="ExecStartPost=+/usr/bin/python3 -c \"import socket, sys; "
        conf+="socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', sys.argv[1])\" "
        conf+="$(_sd_quote "$NOTIFY_SOCKET")"$'\n'
    fi
    if [ "$(cat "$VFIOD_DROPIN" 2>/dev/null)"$'\n' != "$conf" ]; then
        mkdir -p "${VFIOD_DROPIN%/*}"
        printf '%s' "$conf" > "$VFIOD_DROPIN"
        systemctl daemon-reload
    fi
}

_sd_start_vfiod() {
    local out
    # A daemon the scenario killed: let systemd notice before starting it again.
    wait_for 30 unit_settled || diag "$VFIOD_UNIT is still $(unit_prop ActiveState)"
    vfiod_dropin "$@"
    systemctl reset-failed "$VFIOD_UNIT" 2>/dev/null
    if ! out=$(env -u NOTIFY_SOCKET systemctl start "$VFIOD_UNIT" 2>&1); then
        fail "start vfiod" "systemctl start $VFIOD_UNIT failed: $out"
        systemctl status --no-pager --lines=0 "$VFIOD_UNIT" 2>&1 | sed 's/^/#   /'
        show_vfiod_log
        VFIOD_PID=
        return 1
    fi
    VFIOD_PID=$(unit_prop MainPID)
    if vfiod_on_bus; then
        ok "vfiod owns org.vfiod1 (pid $VFIOD_PID)"
        return 0
    fi
    fail "start vfiod" "$VFIOD_UNIT is $(unit_prop ActiveState) but org.vfiod1 is not on the bus"
    show_vfiod_log
    return 1
}

# Like the plain stop_vfiod: signal the main process and wait until systemd has
# seen it go; VFIOD_STATUS is its exit status (128+N for signal N).
_sd_stop_vfiod() {
    local sig=${1:-TERM} code status
    rm -f "$VFIOD_EXIT_FILE"
    kill -"$sig" "$VFIOD_PID" 2>/dev/null
    if ! wait_for 15 unit_settled; then
        diag "vfiod did not exit after SIG$sig; killing it"
        systemctl kill --signal=SIGKILL "$VFIOD_UNIT"
        wait_for 15 unit_settled || diag "$VFIOD_UNIT is still $(unit_prop ActiveState)"
    fi
    read -r code status < "$VFIOD_EXIT_FILE" 2>/dev/null
    case $code in
        exited) VFIOD_STATUS=$status ;;
        killed | dumped) VFIOD_STATUS=$((128 + $(kill -l "$status" 2>/dev/null || echo 0))) ;;
        *) diag "no exit status from $VFIOD_UNIT"; VFIOD_STATUS=255 ;;
    esac
    VFIOD_PID=
    if [ "$_VM_FAILED" -gt 0 ] || [ "$VFIOD_STATUS" -ne 0 ] || [ -n "$VM_VERBOSE" ]; then
        show_vfiod_log
    fi
    return "$VFIOD_STATUS"
}

# run_as_user USER COMMAND...: run COMMAND with USER's uid, gid and groups
# (no login session, environment kept).
run_as_user() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
}

# ---------------------------------------------------------------- vfiod groups
# group_state N: the state vfiod reports for group N.
group_state() {
    busctl --system get-property org.vfiod1 "/org/vfiod1/group/$1" org.vfiod1.Group State 2>/dev/null |
        sed -n 's/^s "\(.*\)"$/\1/p'
}

# group_prop N PROPERTY: busctl's rendering of a Group property, e.g. 'b true'.
group_prop() {
    busctl --system get-property org.vfiod1 "/org/vfiod1/group/$1" org.vfiod1.Group "$2" 2>/dev/null
}

# group_settled N: the group is not in the middle of a move.
group_settled() {
    case $(group_state "$1") in host | vfio | leased | wedged) return 0 ;; esac
    return 1
}

# endpoints_on N DRIVER: every endpoint of group N (bridges excepted) is on DRIVER ("" for none).
endpoints_on() {
    local d
    for d in $(group_devices "$1"); do
        [ "$(cat "/sys/bus/pci/devices/$d/class")" = 0x060400 ] && continue
        [ "$(driver_of "$d")" = "$2" ] || return 1
    done
}

# run_cli EXPECTED_EXIT NAME ARGS...: runs vfioctl ARGS; ok when it exits EXPECTED_EXIT and, when
# that is a failure, says exactly one line on stderr. Leaves CLI_OUT and CLI_ERR behind.
run_cli() {
    local want=$1 name=$2 err rc
    shift 2
    err=$(mktemp)
    CLI_OUT=$("$VFIOCTL" "$@" 2>"$err")
    rc=$?
    CLI_ERR=$(cat "$err")
    rm -f "$err"
    if [ "$rc" -ne "$want" ]; then
        fail "$name" "vfioctl $* exited $rc, expected $want: $CLI_ERR"
    elif [ "$want" -ne 0 ] && [ "$(printf '%s\n' "$CLI_ERR" | wc -l)" -ne 1 ]; then
        fail "$name" "expected one line on stderr, got: $CLI_ERR"
    else
        ok "$name"
    fi
}

# expect_in NAME TEXT PATTERN: ok when TEXT contains PATTERN (a shell glob).
expect_in() {
    case $2 in
        *$3*) ok "$1" ;;
        *) fail "$1" "expected '$3' in: $2" ;;
    esac
}

# interface_matches PATH INTERFACE FILE: the interface the daemon serves at PATH equals the
# <interface> element of FILE (whitespace aside).
interface_matches() {
    busctl --system introspect --xml-interface org.vfiod1 "$1" | /usr/bin/python3 -c '
import re, sys
def element(text, name):
    m = re.search(r"<interface name=\"%s\">.*?</interface>" % re.escape(name), text, re.S)
    return re.sub(r"\s+", " ", m.group(0)) if m else None
served = element(sys.stdin.read(), sys.argv[1])
wanted = element(open(sys.argv[2]).read(), sys.argv[1])
sys.exit(0 if served and served == wanted else 1)' "$2" "$3"
}
