#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The introspection data the daemon serves for org.vfiod1.Manager, .Group and .Device equals the
files in dbus/ that are installed for clients and bindings. With --dump DIR, writes those files
from the running daemon instead (see dump-introspection.sh)."""

import difflib
import os
import re
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402
from vfiodtest import device_path, group_path  # noqa: E402

OBJECTS = [
    ('org.vfiod1.Manager', vfiodtest.MANAGER_PATH),
    ('org.vfiod1.Group', group_path(2)),
    ('org.vfiod1.Device', device_path('0000:01:01.0')),
]

HEADER = '''<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
"https://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<!-- SPDX-License-Identifier: LGPL-2.1-or-later -->
<node>
'''


def served(env, path):
    return str(env.obj(path).Introspect(dbus_interface='org.freedesktop.DBus.Introspectable',
                                        timeout=vfiodtest.TIMEOUT))


def interface_element(xml, name):
    root = ET.fromstring(xml)
    for iface in root.iter('interface'):
        if iface.get('name') == name:
            return iface
    return None


def normalise(e, depth=0):
    """One line per element with its attributes, children in order and indented below it: text,
    whitespace, attribute order and comments do not count."""
    if e is None:
        return []
    attrs = ' '.join('%s="%s"' % kv for kv in sorted(e.attrib.items()))
    lines = ['%s<%s %s>' % ('  ' * depth, e.tag, attrs)]
    for c in e:
        if isinstance(c.tag, str):
            lines += normalise(c, depth + 1)
    return lines


def dump(env, outdir):
    os.makedirs(outdir, exist_ok=True)
    for name, path in OBJECTS:
        xml = served(env, path)
        m = re.search(r'( *<interface name="%s">.*?</interface>)' % re.escape(name), xml, re.S)
        if not m:
            raise RuntimeError('%s does not serve %s' % (path, name))
        out = os.path.join(outdir, name + '.xml')
        with open(out, 'w') as f:
            f.write(HEADER + m.group(1) + '\n</node>\n')
        print(out)


def body(tap, env):
    for name, path in OBJECTS:
        xml = served(env, path)
        got = interface_element(xml, name)
        tap.ok(got is not None, '%s serves %s' % (path, name), xml)
        ref = os.path.join(env.source_root, 'dbus', name + '.xml')
        if not os.path.exists(ref):
            tap.ok(False, '%s exists (generate it with tests/dbus/dump-introspection.sh)' % ref)
            continue
        with open(ref) as f:
            want = interface_element(f.read(), name)
        tap.ok(want is not None, 'dbus/%s.xml has the interface element' % name)
        diff = list(difflib.unified_diff(normalise(want), normalise(got), 'dbus/%s.xml' % name,
                                         'served by vfiod', lineterm=''))
        tap.ok(not diff, 'the served %s equals dbus/%s.xml' % (name, name), '\n'.join(diff))

    # The standard interfaces are there too, and the tree is walkable from the root.
    xml = served(env, vfiodtest.MANAGER_PATH)
    for std in ('org.freedesktop.DBus.Properties', 'org.freedesktop.DBus.Introspectable',
                'org.freedesktop.DBus.Peer', 'org.freedesktop.DBus.ObjectManager'):
        tap.ok(interface_element(xml, std) is not None, '/org/vfiod1 serves %s' % std)
    nodes = [n.get('name') for n in ET.fromstring(xml).findall('node')]
    tap.ok('group' in nodes and 'device' in nodes, '/org/vfiod1 has child nodes group and device', nodes)
    nodes = [n.get('name') for n in ET.fromstring(served(env, '/org/vfiod1/group')).findall('node')]
    tap.eq(sorted(nodes, key=int), [str(g) for g in sorted(env.spec.groups())],
           '/org/vfiod1/group has a child node per group')


if __name__ == '__main__':
    if '--dump' in sys.argv:
        i = sys.argv.index('--dump')
        outdir = sys.argv[i + 1]
        del sys.argv[i:i + 2]
        args = vfiodtest.parse_args()
        env = vfiodtest.TestEnv(args)
        try:
            env.start_daemon()
            dump(env, outdir)
            env.stop_daemon()
        finally:
            env.cleanup()
    else:
        vfiodtest.main(body)
