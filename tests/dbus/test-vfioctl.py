#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfioctl against the real daemon: its exit codes, its one-line errors and its --json shapes
as the contract fixes them."""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402

GROUP_KEYS = {'id', 'state', 'viable', 'lease', 'devices'}
DEVICE_KEYS = {'address', 'vendor', 'product', 'class', 'driver', 'original_driver', 'bridge', 'numa_node'}


def one_line(p):
    return p.stderr.count('\n') == 1 and p.stderr.endswith('\n') and p.stderr.startswith('vfioctl: ')


def check_device(tap, env, d, where):
    want = env.spec.devices.get(d.get('address'))
    tap.ok(DEVICE_KEYS <= set(d), '%s: device %s has the contract keys' % (where, d.get('address')),
           sorted(DEVICE_KEYS - set(d)))
    if want:
        tap.eq({k: d.get(k) for k in sorted(DEVICE_KEYS)},
               {'address': want.address, 'vendor': '%04x' % want.vendor, 'product': '%04x' % want.product,
                'class': '%06x' % want.cls, 'driver': want.driver, 'original_driver': '',
                'bridge': want.is_bridge, 'numa_node': want.numa_node},
               '%s: device %s values' % (where, want.address))


def check_group(tap, env, g, where):
    tap.ok(GROUP_KEYS <= set(g), '%s: group %s has the contract keys' % (where, g.get('id')),
           sorted(GROUP_KEYS - set(g)))
    members = env.spec.groups().get(g.get('id'))
    tap.ok(members is not None, '%s: group %s is in the tree' % (where, g.get('id')))
    tap.eq((type(g.get('id')), g.get('state'), type(g.get('viable')), g.get('lease')), (int, 'host', bool, None),
           '%s: group %s id, state, viable, lease types' % (where, g.get('id')))
    tap.eq([d.get('address') for d in g.get('devices', [])], members, '%s: group %s members' % (where, g.get('id')))
    for d in g.get('devices', []):
        check_device(tap, env, d, where)


def check_running(tap, env):
    p = env.vfioctl('list')
    tap.ok(p.returncode == 0 and p.stderr == '', 'vfioctl list exits 0, nothing on stderr', p.stderr)
    for addr in env.spec.devices:
        tap.ok(addr in p.stdout, 'vfioctl list shows %s' % addr, p.stdout)

    p = env.vfioctl('--json', 'list')
    tap.eq(p.returncode, 0, 'vfioctl --json list exits 0')
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        tap.ok(False, 'vfioctl --json list is one JSON document', '%s\n%s' % (e, p.stdout))
        return
    tap.ok(isinstance(doc, dict) and isinstance(doc.get('groups'), list),
           'vfioctl --json list is {"groups": [...]}', p.stdout)
    tap.eq([g.get('id') for g in doc['groups']], sorted(env.spec.groups()), 'vfioctl --json list has every group')
    for g in doc['groups']:
        check_group(tap, env, g, 'list')

    p = env.vfioctl('--json', 'show', '2')
    tap.eq(p.returncode, 0, 'vfioctl --json show 2 exits 0')
    try:
        g = json.loads(p.stdout)
    except ValueError as e:
        tap.ok(False, 'vfioctl --json show is one JSON document', '%s\n%s' % (e, p.stdout))
        return
    check_group(tap, env, g, 'show')
    tap.eq(g.get('reserved_regions'),
           [{'start': '0xfee00000', 'end': '0xfeefffff', 'type': 'msi'},
            {'start': '0xfd00000000', 'end': '0xffffffffff', 'type': 'reserved'}],
           'vfioctl --json show 2: reserved_regions')
    tap.eq(g.get('holders'), [], 'vfioctl --json show 2: holders')
    tap.eq(g.get('held_unnamed'), False, 'vfioctl --json show 2: held_unnamed')
    tap.eq(g.get('candidates'), [], 'vfioctl --json show 2: candidates')

    p = env.vfioctl('--json', 'show', '01:01.0')
    try:
        shown = json.loads(p.stdout).get('id')
    except (ValueError, AttributeError):
        shown = None
    tap.ok(p.returncode == 0 and shown == 2, 'vfioctl show BB:DD.F shows the device\'s group',
           p.stdout + p.stderr)

    for args, code, what in ((['show', '99999'], 3, 'no such group'),
                             (['show', '0000:7f:00.0'], 3, 'no such device'),
                             (['show', 'zz'], 2, 'invalid target'),
                             (['--json', 'show', '99999'], 3, 'no such group, with --json'),
                             (['frobnicate'], 2, 'unknown verb'),
                             (['show'], 2, 'missing argument'),
                             (['--no-such-option', 'list'], 2, 'unknown option')):
        p = env.vfioctl(*args)
        tap.eq(p.returncode, code, 'vfioctl %s exits %d (%s)' % (' '.join(args), code, what))
        tap.ok(one_line(p), 'vfioctl %s: exactly one line on stderr' % ' '.join(args), repr(p.stderr))
        if '--json' in args:
            tap.eq(p.stdout, '', 'vfioctl %s: nothing on stdout' % ' '.join(args))

    # As nobody, reading works (the policy lets anyone list).
    p = env.as_user([env.public_vfioctl(), 'list'])
    tap.ok(p.returncode == 0, 'nobody: vfioctl list exits 0', p.stderr)


def check_stopped(tap, env):
    tap.eq(env.stop_daemon(), 0, 'vfiod exits 0 on SIGTERM')
    for args in (['list'], ['--json', 'list'], ['show', '2']):
        p = env.vfioctl(*args)
        tap.eq(p.returncode, 1, 'daemon stopped: vfioctl %s exits 1' % ' '.join(args))
        tap.ok(one_line(p), 'daemon stopped: vfioctl %s says why in one line' % ' '.join(args), repr(p.stderr))
    # show with a bad target is still a usage error: it is checked before connecting.
    p = env.vfioctl('show', 'zz')
    tap.eq(p.returncode, 2, 'daemon stopped: vfioctl show zz still exits 2')


def body(tap, env):
    if not env.have_vfioctl():
        tap.skip_all('vfioctl not built at %s' % env.args.vfioctl)
    check_running(tap, env)
    check_stopped(tap, env)


if __name__ == '__main__':
    vfiodtest.main(body)
