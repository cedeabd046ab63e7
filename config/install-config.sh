#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the default configuration FILE as DEST (an absolute path, under $DESTDIR when it is set)
# unless DEST exists: a reinstall must not undo what an administrator wrote there.
set -eu
src=$1
dest=${DESTDIR:-}$2
if [ -e "$dest" ] || [ -L "$dest" ]; then
        echo "Keeping $dest"
        exit 0
fi
mkdir -p "$(dirname "$dest")"
cp "$src" "$dest.tmp"
chmod 0644 "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "Installing $src to $dest"
