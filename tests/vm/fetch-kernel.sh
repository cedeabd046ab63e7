#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fetch Debian's stock kernel for the VM tests WITHOUT installing it on the
# host: `apt-get download` the linux-image-<kver>-amd64 package that the
# linux-image-amd64 meta package currently depends on, and unpack it with
# `dpkg -x` into a cache directory.  A second run reuses the cache.
#
# Output (stdout), two lines, for scripts to consume:
#   VMLINUZ=/path/to/boot/vmlinuz-<kver>
#   MODULES=/path/to/lib/modules/<kver>
#
# Environment:
#   VFIOD_VM_CACHE   cache directory (default: tests/vm/cache next to this script)

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${VFIOD_VM_CACHE:-$here/cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

log() { echo "fetch-kernel: $*" >&2; }

need_root_for_apt() {
    if [ "$(id -u)" != 0 ]; then
        log "need root to run apt-get install (missing: $*)"
        exit 1
    fi
}

# Tools we need on the host; install them only when missing (fresh Debian 12).
missing=()
command -v apt-cache >/dev/null || { log "not a Debian system (no apt-cache)"; exit 1; }
command -v dpkg >/dev/null || missing+=(dpkg)
if [ ${#missing[@]} -gt 0 ]; then
    need_root_for_apt "${missing[@]}"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
fi

# Resolve the versioned image package the meta package points at.  If the
# package lists are not there yet (fresh container), update them once.
resolve() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}
pkg=$(resolve || true)
if [ -z "$pkg" ]; then
    # Maybe the cache already holds a kernel and we are offline: use it.
    existing=$(ls -d "$cache"/linux-image-*-amd64 2>/dev/null | sort -V | tail -n1 || true)
    if [ -z "$existing" ]; then
        need_root_for_apt "package lists"
        log "apt-cache does not know linux-image-amd64, running apt-get update"
        apt-get update >&2 || log "apt-get update failed (its message is above)"
        pkg=$(resolve)
    else
        pkg=$(basename "$existing")
        log "apt-cache cannot resolve linux-image-amd64; reusing cached $pkg"
    fi
fi
[ -n "$pkg" ] || {
    log "cannot tell which kernel package linux-image-amd64 means: the package lists have no"
    log "Debian main (see /etc/apt/sources.list; 'apt-cache policy linux-image-amd64' shows it)"
    exit 1
}

dest=$cache/$pkg
if [ ! -f "$dest/.complete" ]; then
    log "downloading $pkg"
    tmp=$(mktemp -d "$cache/.dl.XXXXXX")
    # apt-get download writes into the current directory and can run as the
    # _apt user, which needs to be able to write there.
    chmod 0777 "$tmp"
    if ! (cd "$tmp" && apt-get download "$pkg" >&2); then
        rm -rf "$tmp"
        log "downloading $pkg failed (apt-get's message is above). Check that this machine"
        log "reaches the mirrors of /etc/apt/sources.list (a proxy: Acquire::http::Proxy), run"
        log "'apt-get update', then run this again. Offline: unpack that package elsewhere with"
        log "'dpkg -x PACKAGE.deb $dest', then 'touch $dest/.complete'."
        exit 1
    fi
    deb=$(ls "$tmp"/*.deb)
    rm -rf "$dest"
    mkdir -p "$dest"
    dpkg -x "$deb" "$dest" || { rm -rf "$tmp" "$dest"; log "unpacking $deb failed (disk full?)"; exit 1; }
    rm -rf "$tmp"   # the .deb is not needed once unpacked
    touch "$dest/.complete"
else
    log "reusing cache $dest"
fi

vmlinuz=$(ls "$dest"/boot/vmlinuz-* | head -n1)
modules=$(ls -d "$dest"/lib/modules/*/ | head -n1)
modules=${modules%/}
echo "VMLINUZ=$vmlinuz"
echo "MODULES=$modules"
