#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Persistent assignments at start-up, on a generated tree: an entry is applied only to the device
that was recorded at its address (vendor, device, subsystem ids, class), with every endpoint of the
group recorded, and with the safety check unless root recorded it forced. What is skipped is
logged and shown on the group (PersistentSkipped, vfioctl show), the file is left as it was, and
Unassign with persist forgets it. Only root may record a forced persistent assignment."""

import json
import os
import sys

import dbus

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402
from vfiodtest import group_path  # noqa: E402

# Group 1: a root port and an e1000e (recorded as another card); group 2: a bridge and two edu
# devices (only one recorded); group 3: the boot VGA device (recorded forced, by root); groups 5 and
# 6: NVMe disks file systems are mounted from (5 recorded as it is but not forced, 6 by an older
# vfiod, as a bare address); group 10: an HDA controller nobody may manage by a rule.
SPEC = """\
0000:00:00.0 0 8086 29c0 060000 -
0000:00:1c.0 1 1b36 000c 060400 pcieport
0000:02:00.0 1 8086 10d3 020000 e1000e
0000:00:04.0 2 1b36 0001 060400 -
0000:01:01.0 2 1234 11e8 00ff00 -
0000:01:02.0 2 1234 11e8 00ff00 -
0000:00:02.0 3 1234 1111 030000 bochs-drm
0000:05:00.0 5 1b36 0010 010802 nvme
0000:06:00.0 6 1b36 0010 010802 nvme
0000:00:1b.0 10 8086 293e 040300 snd_hda_intel
"""

BOOT_VGA = '0000:00:02.0'
NVME = '0000:05:00.0'
NVME_2 = '0000:06:00.0'
E1000E = '0000:02:00.0'
E = 'org.vfiod1.Error.'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'


def entry(address, vendor, device, cls, force=False):
    return {'address': address, 'vendor': vendor, 'device': device, 'subsystem_vendor': '0x0000',
            'subsystem_device': '0x0000', 'class': cls, 'force': force}


ASSIGNMENTS = {'devices': [
    entry(E1000E, '0x8086', '0x100e', '0x020000'),  # was an e1000 at that address
    entry('0000:01:01.0', '0x1234', '0x11e8', '0x00ff00'),
    entry(BOOT_VGA, '0x1234', '0x1111', '0x030000', force=True),
    entry(NVME, '0x1b36', '0x0010', '0x010802'),
    NVME_2,
    entry('0000:7f:00.0', '0x8086', '0x10d3', '0x020000'),
]}


def prepare_host(env):
    """The boot VGA flag and a file system mounted from the NVMe disk (as test-bus-assign.py has
    them), the persistent assignments, and a rule letting nobody manage group 10."""
    with open(os.path.join(env.sysfs, 'bus/pci/devices', BOOT_VGA, 'boot_vga'), 'w') as f:
        f.write('1\n')
    os.makedirs(os.path.join(env.sysfs, 'dev/block'))
    os.makedirs(os.path.join(env.tmp, 'proc/self'))
    for i, address in enumerate((NVME, NVME_2)):
        disk = os.path.join(env.sysfs, 'bus/pci/devices', address, 'nvme/nvme%d/nvme%dn1' % (i, i))
        os.makedirs(disk)
        with open(os.path.join(disk, 'dev'), 'w') as f:
            f.write('259:%d\n' % i)
        os.symlink('../../bus/pci/devices/%s/nvme/nvme%d/nvme%dn1' % (address, i, i),
                   os.path.join(env.sysfs, 'dev/block/259:%d' % i))
        with open(os.path.join(env.tmp, 'proc/self/mountinfo'), 'a') as f:
            f.write('%d 1 259:%d / /srv/disk%d rw,relatime shared:1 - ext4 /dev/nvme%dn1 rw\n' % (26 + i, i, i, i))
    os.makedirs(os.path.join(env.tmp, 'state'), exist_ok=True)
    with open(state_file(env), 'w') as f:
        json.dump(ASSIGNMENTS, f)
    with open(os.path.join(env.tmp, 'etc', 'vfiod.json'), 'w') as f:
        json.dump({'rules': [{'users': ['nobody'], 'actions': ['manage'], 'targets': ['10']}]}, f)


def state_file(env):
    return os.path.join(env.tmp, 'state', 'assignments.json')


def group_prop(env, gid, name):
    return env.obj(group_path(gid)).Get(vfiodtest.GROUP_IFACE, name, dbus_interface=vfiodtest.PROPS_IFACE)


def opts(**kw):
    return dbus.Dictionary(kw, signature='sv')


def check_startup(tap, env):
    states = {int(i): str(s) for i, s, _ in env.manager('ListGroups')}
    states.pop(3, None)
    tap.eq(states, {0: 'host', 1: 'host', 2: 'host', 5: 'host', 6: 'host', 10: 'host'},
           'no persistent group but the forced one was assigned: every other group is host')
    skipped = {g: str(group_prop(env, g, 'PersistentSkipped')) for g in (1, 2, 3, 5, 6, 10)}
    tap.ok('%s is now 8086:10d3 (subsystem 0000:0000, class 0x020000), recorded as 8086:100e' % E1000E
           in skipped[1], 'group 1 (another card at the recorded address): PersistentSkipped says what is there '
           'and what was recorded', skipped[1])
    tap.ok('0000:01:02.0 is in the group now and was not assigned persistently' in skipped[2],
           'group 2 (an endpoint not recorded): PersistentSkipped names it', skipped[2])
    tap.eq(skipped[3], '', 'group 3 (the boot VGA device, recorded forced): not skipped')
    tap.ok(NVME in skipped[5] and 'host needs it' in skipped[5],
           'group 5 (recorded without force): the safety check refuses it, PersistentSkipped says why', skipped[5])
    tap.ok(NVME_2 in skipped[6] and 'host needs it' in skipped[6],
           'group 6 (a bare address from an older vfiod): the safety check applies, PersistentSkipped says why',
           skipped[6])
    tap.eq(skipped[10], '', 'group 10 (not persistent): PersistentSkipped is empty')
    tap.eq({g: bool(group_prop(env, g, 'Persistent')) for g in (1, 2, 3, 5, 6, 10)},
           {1: True, 2: True, 3: True, 5: True, 6: True, 10: False}, 'Persistent still says which groups are recorded')
    log = env.read(env.daemon_log)
    tap.ok('Assigning IOMMU group 3 (persistent, without the safety check as recorded)' in log,
           'the log says group 3 is assigned without the safety check, as recorded')
    for gid in (1, 2, 5, 6):
        tap.ok('Not assigning persistent IOMMU group %d (' % gid in log, 'the log says group %d was skipped' % gid)
    tap.ok('Persistent assignment of 0000:7f:00.0 skipped: no such device' in log,
           'the log says the entry of a missing device was skipped')
    with open(state_file(env)) as f:
        tap.eq(json.load(f), ASSIGNMENTS, 'start-up left the assignments file as it was')


def check_vfioctl_show(tap, env):
    if not env.have_vfioctl():
        tap.diag('vfioctl is not built; its checks are skipped')
        return
    p = env.vfioctl('show', '1')
    line = [x.strip() for x in p.stdout.splitlines() if x.strip().startswith('Persistent:')]
    tap.ok(p.returncode == 0 and line and 'yes, skipped at start-up: %s is now 8086:10d3' % E1000E in line[0],
           'vfioctl show 1 says the group is persistent and why it was skipped', (p.returncode, p.stdout))
    p = env.vfioctl('--json', 'show', '1')
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = {}
    tap.ok('recorded as 8086:100e' in doc.get('persistent_skipped', ''),
           'vfioctl --json show 1 has persistent_skipped', p.stdout)


def check_forget(tap, env):
    env.manager('Unassign', '1', opts(persist=True))
    tap.eq((bool(group_prop(env, 1, 'Persistent')), str(group_prop(env, 1, 'PersistentSkipped'))), (False, ''),
           'Unassign(1, persist) of the skipped host group: not Persistent, nothing skipped')
    tap.eq(str(group_prop(env, 1, 'State')), 'host', 'group 1 is still host')
    with open(state_file(env)) as f:
        addresses = [e['address'] if isinstance(e, dict) else e for e in json.load(f)['devices']]
    tap.ok(E1000E not in addresses and NVME in addresses, 'the file no longer lists the e1000e, the rest stay',
           addresses)
    err = env.call_error(env.manager, 'Unassign', '10', opts(persist=True))
    tap.eq(err, E + 'NotAssigned', 'Unassign(10, persist) of a host group that is not persistent: NotAssigned')


CALLER = """
import sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
options = dbus.Dictionary({k: True for k in sys.argv[3:]}, signature='sv')
try:
    bus.call_blocking('org.vfiod1', '/org/vfiod1', 'org.vfiod1.Manager', 'Assign', 'sa{sv}', [sys.argv[2], options],
                      timeout=60)
    print('OK')
except dbus.DBusException as e:
    print(e.get_dbus_name())
"""


def check_forced_persist_is_roots(tap, env):
    def as_nobody(*options):
        p = env.as_user([sys.executable, '-c', CALLER, env.address, '10'] + list(options))
        return p.stdout.strip() or '(caller failed: %s)' % p.stderr.strip()

    tap.eq(as_nobody('dry_run', 'persist'), 'OK', 'nobody (manage rule): Assign(10, persist, dry_run) is valid')
    tap.eq(as_nobody('dry_run', 'force'), 'OK', 'nobody (manage rule): Assign(10, force, dry_run) is valid')
    tap.eq(as_nobody('dry_run', 'persist', 'force'), ACCESS_DENIED,
           'nobody (manage rule): Assign(10, persist, force, dry_run) is AccessDenied')
    tap.eq(str(env.manager('Assign', '10', opts(dry_run=True, persist=True, force=True))), group_path(10),
           'root: Assign(10, persist, force, dry_run) is valid')
    if env.have_vfioctl():
        p = env.as_user([env.public_vfioctl(), 'assign', '10', '--persist', '--force'])
        tap.ok(p.returncode == 5 and p.stderr.count('\n') == 1 and 'Only root' in p.stderr,
               'nobody: vfioctl assign 10 --persist --force exits 5 with one line', (p.returncode, p.stderr))
    tap.eq(str(group_prop(env, 10, 'State')), 'host', 'group 10 is still host')
    tap.ok(env.ping() and env.daemon_alive(), 'the daemon still answers')


def body(tap, env):
    prepare_host(env)
    env.start_daemon(['--proc-root=' + os.path.join(env.tmp, 'proc'),
                      '--config=' + os.path.join(env.tmp, 'etc', 'vfiod.json')])
    check_startup(tap, env)
    check_vfioctl_show(tap, env)
    check_forget(tap, env)
    check_forced_persist_is_roots(tap, env)


if __name__ == '__main__':
    vfiodtest.main(body, spec=SPEC, start=False)
