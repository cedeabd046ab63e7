#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes the introspection data vfiod serves for org.vfiod1.{Manager,Group,Device} to
# OUTDIR/org.vfiod1.*.xml, in the form dbus/ keeps them, from a daemon on a private bus.
# Run as root after building: tests/dbus/dump-introspection.sh build dbus
set -eu
export PYTHONDONTWRITEBYTECODE=1

if [ $# -ne 2 ]; then
        echo "usage: $0 BUILDDIR OUTDIR" >&2
        exit 2
fi
build=$(cd "$1" && pwd)
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
source_root=$(cd "$here/../.." && pwd)

# The python3 that has dbus-python (PATH may lead to another one, e.g. pyenv's).
python=python3
if ! python3 -c 'import _dbus_bindings' 2>/dev/null && [ -x /usr/bin/python3 ]; then
        python=/usr/bin/python3
fi

exec "$python" "$here/test-bus-introspection.py" \
        --vfiod "$build/src/vfiod/vfiod" \
        --vfioctl "$build/src/client/vfioctl" \
        --make-sysfs-tree "$build/tests/unit/make-sysfs-tree" \
        --source-root "$source_root" \
        --dump "$outdir"
