#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Group.Holders on a generated tree with device nodes under the daemon's --dev-root: a process
that holds a group's node is listed for a group with a device on vfio-pci, and a group with no
device on a vfio driver has no holders (it has no node anyone could hold, so /proc is not scanned
for it, even when a file of its node's name is open)."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402
from vfiodtest import group_path  # noqa: E402

# Group 2: an unbound edu device; group 6: a device on vfio-pci.
SPEC = """\
0000:01:01.0 2 1234 11e8 00ff00 -
0000:06:00.0 6 1af4 1041 020000 vfio-pci
"""

HOLDER = '''
import sys, time
files = [open(p, "rb") for p in sys.argv[1:]]
print("ready", flush=True)
time.sleep(600)
'''


def holders(env, gid):
    return [(int(pid), str(comm)) for pid, comm in
            env.obj(group_path(gid)).Get(vfiodtest.GROUP_IFACE, 'Holders', dbus_interface=vfiodtest.PROPS_IFACE)]


def body(tap, env):
    nodes = os.path.join(env.tmp, 'dev', 'vfio')
    os.makedirs(nodes, exist_ok=True)
    for gid in (2, 6):
        open(os.path.join(nodes, str(gid)), 'w').close()
    p = subprocess.Popen([sys.executable, '-c', HOLDER, os.path.join(nodes, '2'), os.path.join(nodes, '6')],
                         stdout=subprocess.PIPE, text=True)
    try:
        tap.eq(p.stdout.readline().strip(), 'ready', 'a process holds dev/vfio/2 and dev/vfio/6')
        tap.ok(any(pid == p.pid for pid, _ in holders(env, 6)),
               'group 6 (a device on vfio-pci): Holders lists it', holders(env, 6))
        tap.eq(holders(env, 2), [], 'group 2 (no device on a vfio driver): Holders is empty')
    finally:
        p.kill()
        p.wait()
    tap.eq(holders(env, 6), [], 'group 6: Holders is empty once the process is gone')


if __name__ == '__main__':
    vfiodtest.main(body, spec=SPEC)
