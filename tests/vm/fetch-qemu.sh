#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fetch a QEMU new enough to take pre-opened iommufd and VFIO device fds (QEMU 10, from
# bookworm-backports on Debian 12) for the VM scenario that runs it inside the guest, WITHOUT
# installing it on the host: a private apt configuration (the system's sources plus backports,
# its own lists and cache, in a temporary directory removed afterwards) resolves what
# `apt-get install qemu-system-x86/<codename>-backports` would install on this host (QEMU, its
# qemu-system-common/-data and seabios of the same release, and any library not installed yet),
# `apt-get download`s exactly that and unpacks it with `dpkg -x` into the cache. The host's own
# apt state and packages are untouched. A complete cache is reused without any network access.
#
# Usage: tests/vm/fetch-qemu.sh [--cached]
#   --cached   only print what the cache holds (never download, never write); exit 1 if nothing
#
# Output (stdout), for scripts to consume:
#   QEMU=/path/to/usr/bin/qemu-system-x86_64
#   QEMU_VERSION=<Debian version of qemu-system-x86>
#   QEMU_LD_LIBRARY_PATH=<dirs with libraries unpacked beside it, ':'-separated; may be empty>
#   QEMU_MODULE_DIR=<its module directory; the binary itself looks in the host's, which holds
#                    the host QEMU's modules>
#   QEMU_FIRMWARE_DIRS=<':'-separated, each to be passed as -L DIR: the binary's built-in
#                       /usr/share/qemu and /usr/share/seabios would be the host QEMU's files>
#
# Exit status: 0 with the lines above; 1 on failure, with the reason on stderr and in
# $cache/qemu-fetch.failed (which the scenario reports as its skip reason), e.g. when the
# backports archive cannot be reached.
#
# Environment:
#   VFIOD_VM_CACHE             cache directory (default: tests/vm/cache next to this script)
#   VFIOD_VM_BACKPORTS_MIRROR  Debian mirror for backports (default: the one the system uses for
#                              its release, else http://deb.debian.org/debian)

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${VFIOD_VM_CACHE:-$here/cache}
cached_only=
case ${1:-} in
    --cached) cached_only=1 ;;
    '') ;;
    *) echo "usage: $0 [--cached]" >&2; exit 2 ;;
esac

log() { echo "fetch-qemu: $*" >&2; }

# print_paths DIR: the output lines for an unpacked tree.
print_paths() {
    local dest=$1 root=$1/root d libs='' fw=''
    for d in usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu; do
        # Only directories that hold libraries (usr/lib/x86_64-linux-gnu always has qemu/).
        [ -n "$(find "$root/$d" -maxdepth 1 -name '*.so*' -print -quit 2>/dev/null)" ] &&
            libs=${libs:+$libs:}$root/$d
    done
    for d in usr/share/qemu usr/share/seabios usr/lib/ipxe/qemu; do
        [ -d "$root/$d" ] && fw=${fw:+$fw:}$root/$d
    done
    echo "QEMU=$root/usr/bin/qemu-system-x86_64"
    echo "QEMU_VERSION=$(cat "$dest/version")"
    echo "QEMU_LD_LIBRARY_PATH=$libs"
    echo "QEMU_MODULE_DIR=$root/usr/lib/x86_64-linux-gnu/qemu"
    echo "QEMU_FIRMWARE_DIRS=$fw"
}

# The newest complete tree in the cache, if any.
cached_tree() {
    local d
    d=$(ls -d "$cache"/qemu-*/.complete 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$d" ] && dirname "$d"
}

if [ -n "$cached_only" ]; then
    dest=$(cached_tree) || true
    [ -n "$dest" ] || { log "no QEMU in $cache (run tests/vm/fetch-qemu.sh on the host)"; exit 1; }
    print_paths "$dest"
    exit 0
fi

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
failed_note=$cache/qemu-fetch.failed
# One fetch at a time (the VM tests of several checkouts may share a cache).
exec 9>"$cache/.qemu-fetch.lock"
flock 9

# give_up REASON: say why on stderr and in the note the scenario reads, exit 1.
give_up() {
    log "$*"
    echo "$*" > "$failed_note"
    exit 1
}

dest=$(cached_tree) || true
if [ -n "$dest" ]; then
    log "reusing cache $dest"
    rm -f "$failed_note"
    print_paths "$dest"
    exit 0
fi

{ command -v apt-get && command -v dpkg; } >/dev/null || give_up "not a Debian system (no apt-get/dpkg)"
# shellcheck disable=SC1091
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || give_up "cannot tell the Debian release (no VERSION_CODENAME in /etc/os-release)"
suite=$codename-backports
mirror=${VFIOD_VM_BACKPORTS_MIRROR:-$(apt-cache policy 2>/dev/null |
    awk -v s="$codename/main" '$3 == s && $2 ~ /^https?:/ { print $2; exit }')}
mirror=${mirror:-http://deb.debian.org/debian}

start=$(date +%s)
work=$(mktemp -d "$cache/.qemu-apt.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# apt-get runs its downloads as the _apt user, which must reach the lists and the download dir.
chmod 0755 "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
chmod 0777 "$work/debs"
# Start from the system's lists, so that the update below only fetches what changed (backports).
cp -p /var/lib/apt/lists/*_InRelease /var/lib/apt/lists/*_Release* /var/lib/apt/lists/*_Packages* \
    "$work/lists/" 2>/dev/null || true
# The system's one-line sources (sources.list.d/ is read as usual), plus backports.
{
    [ ! -f /etc/apt/sources.list ] || cat /etc/apt/sources.list
    echo "deb $mirror $suite main"
} > "$work/sources.list"
cat > "$work/apt.conf" <<EOF
Dir::State::Lists "$work/lists";
Dir::Cache "$work/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Dir::Etc::sourcelist "$work/sources.list";
Acquire::http::Timeout "30";
Acquire::https::Timeout "30";
Acquire::Retries "1";
Acquire::Languages "none";
APT::Install-Recommends "false";
EOF
export APT_CONFIG=$work/apt.conf

log "updating private package lists (with $suite from $mirror)"
# A failure of another source is not ours to judge; what matters is whether backports came.
apt-get update -q >"$work/update.log" 2>&1 || true
version=$(apt-cache show "qemu-system-x86/$suite" 2>/dev/null | sed -n 's/^Version: //p' | head -n1 || true)
if [ -z "$version" ]; then
    sed 's/^/fetch-qemu:   /' "$work/update.log" | grep -E 'Err|E:|W:' | head -n 5 >&2 || true
    give_up "qemu-system-x86 not available from $suite at $mirror (unreachable, or no such package)"
fi
case $version in
    *:1[0-9].* | *:[2-9][0-9].* | 1[0-9].* | [2-9][0-9].*) ;;
    *) give_up "$suite has qemu-system-x86 $version, older than 10" ;;
esac

# What installing it would bring onto this host: QEMU and the packages of its release it needs
# (apt picks those from backports where the stable ones do not satisfy it), and libraries not
# installed here. "Inst NAME [OLD] (VERSION RELEASE [ARCH])" lines of a simulation.
plan=$(apt-get install -s "qemu-system-x86/$suite" 2>"$work/plan.err" |
    sed -n 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\{0,1\}(\([^ ]*\) .*/\1=\3/p') || true
if ! grep -q "^qemu-system-x86=$version\$" <<<"$plan"; then
    # The resolver could not plan it against this host's packages (held or conflicting ones):
    # the packages of QEMU's own release that stable cannot satisfy.
    log "apt-get could not plan the install ($(tail -n1 "$work/plan.err")); fetching QEMU's own packages"
    plan=
    for p in qemu-system-x86 qemu-system-common qemu-system-data seabios; do
        v=$(apt-cache show "$p/$suite" 2>/dev/null | sed -n 's/^Version: //p' | head -n1 || true)
        [ -z "$v" ] || plan+="$p=$v"$'\n'
    done
fi
mapfile -t pkgs < <(grep . <<<"$plan")

log "downloading ${pkgs[*]}"
(cd "$work/debs" && apt-get download -q "${pkgs[@]}" >"$work/download.log" 2>&1) ||
    { tail -n 5 "$work/download.log" >&2; give_up "apt-get download from $suite failed"; }

dir=$cache/qemu-${version#*:}
dir=${dir//\~/_}   # no ':' (LD_LIBRARY_PATH) nor '~' in the path
rm -rf "$dir"
mkdir -p "$dir/root"
# The guest runs it as nobody (through a bind mount: the cache itself may be in a 0700 home).
chmod 0755 "$dir" "$dir/root"
: > "$dir/packages"
for deb in "$work"/debs/*.deb; do
    dpkg -x "$deb" "$dir/root"
    printf '%s %s %s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" \
        "$(stat -c %s "$deb")" >> "$dir/packages"
done
echo "$version" > "$dir/version"

# It must run here, with what we print (the guest runs the host's libraries).
eval "$(print_paths "$dir" | sed -n 's/^\(QEMU[A-Z_]*\)=\(.*\)$/\1=\x27\2\x27/p')"
if missing=$(LD_LIBRARY_PATH=$QEMU_LD_LIBRARY_PATH ldd "$QEMU" 2>&1 | grep 'not found'); then
    give_up "the unpacked QEMU lacks libraries: $(tr -s '\n\t' '  ' <<<"$missing")"
fi
got=$(LD_LIBRARY_PATH=$QEMU_LD_LIBRARY_PATH "$QEMU" --version 2>&1 | head -n1) ||
    give_up "the unpacked QEMU does not run: $got"
touch "$dir/.complete"
rm -f "$failed_note"
log "$got: $(wc -l < "$dir/packages") packages, $(awk '{ s += $3 } END { printf "%.1f MB", s / 1e6 }' \
    "$dir/packages") downloaded, $(du -sh "$dir" | cut -f1) unpacked, $(($(date +%s) - start)) s"
print_paths "$dir"
