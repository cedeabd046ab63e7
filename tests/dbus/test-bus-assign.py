#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Manager.PlanAssign, Assign and Unassign, and vfioctl assign/unassign, on a generated tree:
everything that does not need a kernel to move drivers. Plans list one move per endpoint,
refusals (unsafe, not viable) carry the contract's error names, dry runs change nothing, bad
options and targets get named errors, callers without rights are refused, and the daemon keeps
answering after each of these."""

import os
import sys

import dbus

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402
from vfiodtest import device_path, group_path  # noqa: E402

# Group 1: a root port and the e1000e behind it; group 2: a PCI bridge with two unbound edu
# devices; group 3: the boot VGA device; group 4: a lone bridge; group 5: the NVMe disk a file
# system is mounted from; group 6: a device already on vfio-pci; group 7: a bridge on a driver that
# takes DMA ownership, with an endpoint behind it; group 10: an HDA controller.
SPEC = """\
0000:00:00.0 0 8086 29c0 060000 -
0000:00:1c.0 1 1b36 000c 060400 pcieport
0000:02:00.0 1 8086 10d3 020000 e1000e
0000:00:04.0 2 1b36 0001 060400 -
0000:01:01.0 2 1234 11e8 00ff00 -
0000:01:02.0 2 1234 11e8 00ff00 -
0000:00:02.0 3 1234 1111 030000 bochs-drm
0000:00:1e.0 4 8086 244e 060400 pcieport
0000:05:00.0 5 1b36 0010 010802 nvme
0000:06:00.0 6 1af4 1041 020000 vfio-pci
0000:00:1f.0 7 8086 2448 060400 shpchp
0000:07:00.0 7 1234 11e8 00ff00 -
0000:00:1b.0 10 8086 293e 040300 snd_hda_intel numa=0
region 2 0xfee00000 0xfeefffff msi
"""

BOOT_VGA = '0000:00:02.0'
NVME = '0000:05:00.0'
MOUNT_POINT = '/srv/vm-images'

E = 'org.vfiod1.Error.'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
REFUSED = (ACCESS_DENIED, 'org.freedesktop.PolicyKit1.Error.NotAuthorized',
           'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired')


def prepare_host(env):
    """The parts of the host the safety checks read: boot_vga in sysfs, and a file system mounted
    from the NVMe disk (proc/self/mountinfo in the procfs stand-in, dev/block/MAJ:MIN in sysfs)."""
    with open(os.path.join(env.sysfs, 'bus/pci/devices', BOOT_VGA, 'boot_vga'), 'w') as f:
        f.write('1\n')
    for address in env.spec.devices:
        if address != BOOT_VGA:
            with open(os.path.join(env.sysfs, 'bus/pci/devices', address, 'boot_vga'), 'w') as f:
                f.write('0\n')
    disk = os.path.join(env.sysfs, 'bus/pci/devices', NVME, 'nvme/nvme0/nvme0n1')
    os.makedirs(disk)
    with open(os.path.join(disk, 'dev'), 'w') as f:
        f.write('259:0\n')
    os.makedirs(os.path.join(env.sysfs, 'dev/block'))
    os.symlink('../../bus/pci/devices/%s/nvme/nvme0/nvme0n1' % NVME, os.path.join(env.sysfs, 'dev/block/259:0'))
    os.makedirs(os.path.join(env.tmp, 'proc/self'))
    with open(os.path.join(env.tmp, 'proc/self/mountinfo'), 'w') as f:
        f.write('21 1 0:20 / /proc rw,nosuid - proc proc rw\n'
                '26 1 259:0 / %s rw,relatime shared:1 - ext4 /dev/nvme0n1 rw\n' % MOUNT_POINT)


def snapshot(top):
    """Every file, directory and link below top with its content or target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = ('link', os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ('dir',)
            else:
                with open(p, 'rb') as f:
                    out[rel] = ('file', f.read())
    return out


class World:
    """What must not change when a call is refused or only validated."""

    def __init__(self, env):
        self.env = env
        self.sysfs = snapshot(env.sysfs)
        self.run = snapshot(os.path.join(env.tmp, 'run'))
        self.state = snapshot(os.path.join(env.tmp, 'state'))
        self.groups = self.states()

    def states(self):
        return {int(i): str(s) for i, s, _ in self.env.manager('ListGroups')}

    def check_unchanged(self, tap, after):
        env = self.env
        tap.eq(self.states(), self.groups, 'after %s: every group is still in its state' % after)
        tap.eq(snapshot(os.path.join(env.tmp, 'run')), self.run, 'after %s: nothing new in the runtime dir' % after)
        tap.eq(snapshot(os.path.join(env.tmp, 'state')), self.state, 'after %s: nothing new in the state dir' % after)
        tap.ok(snapshot(env.sysfs) == self.sysfs, 'after %s: nothing was written to sysfs' % after)
        originals = {a: str(env.obj(device_path(a)).Get(vfiodtest.DEVICE_IFACE, 'OriginalDriver',
                                                        dbus_interface=vfiodtest.PROPS_IFACE))
                     for a in env.spec.devices}
        tap.eq(originals, {a: '' for a in env.spec.devices}, 'after %s: no device has an OriginalDriver' % after)


def still_answers(tap, env, after):
    try:
        ok = env.ping() and len(env.manager('ListGroups')) == len(env.spec.groups())
    except dbus.DBusException as e:
        ok = False
        after += ': %s' % e
    tap.ok(ok and env.daemon_alive(), 'the daemon still answers after %s' % after)


def opts(**kw):
    return dbus.Dictionary(kw, signature='sv')


def plan(env, target, **kw):
    path, moves, name, message = env.manager('PlanAssign', target, opts(**kw))
    return str(path), [tuple(str(x) for x in m) for m in moves], str(name), str(message)


def check_plans(tap, env):
    path, moves, name, message = plan(env, '1')
    tap.eq((path, moves, name, message), (group_path(1), [('0000:02:00.0', 'e1000e', 'vfio-pci')], '', ''),
           'PlanAssign(1): the e1000e moves from its driver to vfio-pci, the root port stays, no verdict')

    path, moves, name, message = plan(env, '2')
    tap.eq((path, moves, name, message),
           (group_path(2), [('0000:01:01.0', '', 'vfio-pci'), ('0000:01:02.0', '', 'vfio-pci')], '', ''),
           'PlanAssign(2): one move per endpoint from no driver to vfio-pci, the bridge excluded')

    tap.eq(plan(env, '01:02.0'), plan(env, '2'), 'PlanAssign of a device address plans its whole group')

    path, moves, name, message = plan(env, '3')
    tap.eq((path, moves, name), (group_path(3), [(BOOT_VGA, 'bochs-drm', 'vfio-pci')], E + 'Unsafe'),
           'PlanAssign(3) of the boot VGA group: the move, and the verdict Unsafe')
    tap.ok(BOOT_VGA in message and 'VGA' in message, 'the Unsafe message names the device and why', message)
    tap.eq(plan(env, '3', force=True), (group_path(3), [(BOOT_VGA, 'bochs-drm', 'vfio-pci')], '', ''),
           'PlanAssign(3, force=true): no verdict')
    tap.eq(plan(env, '3', force=False)[2], E + 'Unsafe', 'PlanAssign(3, force=false) is still Unsafe')

    path, moves, name, message = plan(env, '5')
    tap.eq((path, moves, name), (group_path(5), [(NVME, 'nvme', 'vfio-pci')], E + 'Unsafe'),
           'PlanAssign(5) of the disk holding a mounted file system: Unsafe')
    tap.ok(NVME in message and MOUNT_POINT in message, 'the Unsafe message names the device and the mount point',
           message)
    tap.eq(plan(env, '5', force=True)[2], '', 'PlanAssign(5, force=true): no verdict')

    path, moves, name, message = plan(env, '4')
    tap.eq((path, moves, name), (group_path(4), [], E + 'NotViable'),
           'PlanAssign(4) of a group with only a bridge: no moves, NotViable')
    tap.ok(message != '', 'the NotViable verdict has a message', message)

    path, moves, name, message = plan(env, '6')
    tap.eq((path, moves, name), (group_path(6), [('0000:06:00.0', '', 'vfio-pci')], E + 'AlreadyAssigned'),
           'PlanAssign(6) of a group already on vfio-pci: AlreadyAssigned')
    path, moves, name, message = plan(env, '7', force=True)
    tap.eq((path, moves, name), (group_path(7), [('0000:07:00.0', '', 'vfio-pci')], E + 'NotViable'),
           'PlanAssign(7, force=true) of a group whose bridge is on shpchp: NotViable, even forced')
    tap.ok('0000:00:1f.0' in message and 'shpchp' in message, 'the NotViable message names the bridge and driver',
           message)

    safety = str(env.obj(group_path(3)).Get(vfiodtest.GROUP_IFACE, 'Safety', dbus_interface=vfiodtest.PROPS_IFACE))
    tap.ok(BOOT_VGA in safety, 'the boot VGA group has a Safety reason naming the device', safety)
    safety = str(env.obj(group_path(2)).Get(vfiodtest.GROUP_IFACE, 'Safety', dbus_interface=vfiodtest.PROPS_IFACE))
    tap.eq(safety, '', 'the edu group has an empty Safety')
    still_answers(tap, env, 'the plans')


def check_dry_runs(tap, env, world):
    for target in ('2', '0000:01:01.0', '1'):
        gid = 1 if target == '1' else 2
        path = env.manager('Assign', target, opts(dry_run=True))
        tap.eq(str(path), group_path(gid), 'Assign(%r, dry_run=true) returns the group path' % target)
    for target, kw, want in (('3', {}, E + 'Unsafe'), ('5', {}, E + 'Unsafe'), ('4', {}, E + 'NotViable'),
                             ('4', {'force': True}, E + 'NotViable'), ('6', {}, E + 'AlreadyAssigned'),
                             ('7', {}, E + 'NotViable')):
        err = env.call_error(env.manager, 'Assign', target, opts(dry_run=True, **kw))
        tap.eq(err, want, 'Assign(%r, dry_run=true%s) fails with %s'
               % (target, ''.join(', %s=%s' % i for i in kw.items()), want))
    path = env.manager('Assign', '3', opts(dry_run=True, force=True))
    tap.eq(str(path), group_path(3), 'Assign(3, dry_run=true, force=true) returns the group path')
    path = env.manager('Assign', '2', opts(dry_run=True, persist=True))
    tap.eq(str(path), group_path(2), 'Assign(2, dry_run=true, persist=true) returns the group path')
    state = str(env.obj(group_path(2)).Get(vfiodtest.GROUP_IFACE, 'State', dbus_interface=vfiodtest.PROPS_IFACE))
    tap.eq(state, 'host', 'group 2 is still host after the dry runs')
    persistent = env.obj(group_path(2)).Get(vfiodtest.GROUP_IFACE, 'Persistent', dbus_interface=vfiodtest.PROPS_IFACE)
    tap.eq(bool(persistent), False, 'a persisting dry run did not make group 2 Persistent')
    world.check_unchanged(tap, 'the dry runs')
    still_answers(tap, env, 'the dry runs')


def check_bad_calls(tap, env, world):
    cases = [
        ('Assign', '2', opts(bogus=True), E + 'InvalidOption'),
        ('Assign', '2', opts(force='yes'), E + 'InvalidOption'),
        ('Assign', '2', opts(dry_run=dbus.UInt32(1)), E + 'InvalidOption'),
        ('Assign', '2', opts(persist=True, mode='soft'), E + 'InvalidOption'),
        ('PlanAssign', '2', opts(bogus=True), E + 'InvalidOption'),
        ('PlanAssign', '2', opts(force='true'), E + 'InvalidOption'),
        ('Unassign', '2', opts(mode='bogus'), E + 'InvalidOption'),
        ('Unassign', '2', opts(mode=''), E + 'InvalidOption'),
        ('Unassign', '2', opts(mode=dbus.UInt32(1)), E + 'InvalidOption'),
        ('Unassign', '2', opts(timeout_usec='10'), E + 'InvalidOption'),
        ('Unassign', '2', opts(force=True), E + 'InvalidOption'),
        ('Unassign', '2', opts(), E + 'NotAssigned'),
        ('Unassign', '0000:01:01.0', opts(mode='soft', timeout_usec=dbus.UInt64(1000000)), E + 'NotAssigned'),
        ('Unassign', '1', opts(mode='kill', persist=True), E + 'NotAssigned'),
        ('Assign', '99999', opts(), E + 'NoSuchGroup'),
        ('Assign', '99999', opts(dry_run=True), E + 'NoSuchGroup'),
        ('Unassign', '99999', opts(), E + 'NoSuchGroup'),
        ('PlanAssign', '99999', opts(), E + 'NoSuchGroup'),
        ('Assign', '0000:7f:00.0', opts(), E + 'NoSuchDevice'),
        ('Unassign', '0000:7f:00.0', opts(), E + 'NoSuchDevice'),
        ('Assign', 'zz', opts(), E + 'InvalidAddress'),
        ('Assign', '', opts(dry_run=True), E + 'InvalidAddress'),
        ('Unassign', 'zz', opts(), E + 'InvalidAddress'),
        ('PlanAssign', 'zz', opts(), E + 'InvalidAddress'),
    ]
    for method, target, options, want in cases:
        err = env.call_error(env.manager, method, target, options)
        desc = '%s(%r, {%s})' % (method, target, ', '.join('%s: %r' % (k, v) for k, v in options.items()))
        tap.eq(err, want, '%s fails with %s' % (desc, want))
        still_answers(tap, env, desc)
    world.check_unchanged(tap, 'the refused calls')


# Run as another user: one call, prints the error name or "OK".
CALLER = r"""
import dbus, sys
address, method, target = sys.argv[1:4]
bus = dbus.bus.BusConnection(address)
options = dbus.Dictionary({'dry_run': True} if len(sys.argv) > 4 else {}, signature='sv')
try:
    bus.call_blocking('org.vfiod1', '/org/vfiod1', 'org.vfiod1.Manager', method, 'sa{sv}', [target, options],
                      timeout=60)
    print('OK')
except dbus.DBusException as e:
    print(e.get_dbus_name())
"""


def check_unprivileged(tap, env, world):
    for args in (('Assign', '2'), ('Assign', '2', 'dry_run'), ('Assign', '0000:02:00.0'), ('Unassign', '2')):
        p = env.as_user([sys.executable, '-c', CALLER, env.address] + list(args))
        err = p.stdout.strip() or '(caller failed: %s)' % p.stderr.strip()
        tap.ok(err in REFUSED, 'nobody: %s(%s) is refused' % (args[0], ', '.join(args[1:])), err)
        still_answers(tap, env, 'nobody called %s' % args[0])
    if env.have_vfioctl():
        p = env.as_user([env.public_vfioctl(), 'assign', '2'])
        tap.eq(p.returncode, 5, 'nobody: vfioctl assign 2 exits 5 (access denied)')
    world.check_unchanged(tap, 'the refused unprivileged calls')


def check_vfioctl(tap, env, world):
    if not env.have_vfioctl():
        tap.diag('vfioctl is not built; its checks are skipped')
        return

    def one_line(p):
        return p.stderr.count('\n') == 1 and p.stderr.endswith('\n')

    p = env.vfioctl('assign', '99999')
    tap.ok(p.returncode == 3 and one_line(p), 'vfioctl assign 99999 exits 3 with one line on stderr',
           (p.returncode, p.stderr))
    p = env.vfioctl('assign', 'zz')
    tap.ok(p.returncode == 2 and one_line(p), 'vfioctl assign zz exits 2 with one line on stderr',
           (p.returncode, p.stderr))
    p = env.vfioctl('unassign', '2')
    tap.ok(p.returncode == 1 and one_line(p) and p.stdout == '',
           'vfioctl unassign of a host group exits 1 with exactly one line on stderr', (p.returncode, p.stderr))
    p = env.vfioctl('unassign', '2', '--mode', 'bogus')
    tap.ok(p.returncode == 2 and one_line(p), 'vfioctl unassign --mode bogus exits 2 with one line on stderr',
           (p.returncode, p.stderr))

    p = env.vfioctl('assign', '2', '--dry-run')
    tap.eq(p.returncode, 0, 'vfioctl assign 2 --dry-run exits 0')
    lines = p.stdout.splitlines()
    for address in ('0000:01:01.0', '0000:01:02.0'):
        tap.ok(any(address in line and line.endswith(' -> vfio-pci') for line in lines),
               'vfioctl assign 2 --dry-run shows %s -> vfio-pci' % address, p.stdout)
    tap.ok(not any('0000:00:04.0' in line for line in lines), 'vfioctl assign 2 --dry-run leaves the bridge out',
           p.stdout)
    tap.ok('verdict: would assign' in lines, 'vfioctl assign 2 --dry-run says "verdict: would assign"', p.stdout)

    p = env.vfioctl('assign', '1', '--dry-run')
    tap.ok(p.returncode == 0 and any('0000:02:00.0' in line and 'e1000e -> vfio-pci' in line
                                     for line in p.stdout.splitlines()),
           'vfioctl assign 1 --dry-run shows e1000e -> vfio-pci', (p.returncode, p.stdout))

    p = env.vfioctl('assign', '3', '--dry-run')
    tap.ok(p.returncode == 1 and any(line.startswith('verdict: refused') for line in p.stdout.splitlines()),
           'vfioctl assign of the boot VGA group --dry-run exits 1 with "verdict: refused"',
           (p.returncode, p.stdout, p.stderr))
    tap.ok(BOOT_VGA in p.stdout, 'the refused verdict names the device', p.stdout)
    p = env.vfioctl('assign', '3', '--dry-run', '--force')
    tap.ok(p.returncode == 0 and 'verdict: would assign' in p.stdout.splitlines(),
           'vfioctl assign of the boot VGA group --dry-run --force exits 0, would assign', (p.returncode, p.stdout))
    p = env.vfioctl('assign', '4', '--dry-run')
    tap.ok(p.returncode == 1 and any(line.startswith('verdict: refused') for line in p.stdout.splitlines()),
           'vfioctl assign of a bridge-only group --dry-run exits 1 with "verdict: refused"',
           (p.returncode, p.stdout))
    p = env.vfioctl('assign', '6', '--dry-run')
    tap.ok(p.returncode == 1 and any(line.startswith('verdict: refused') for line in p.stdout.splitlines()),
           'vfioctl assign of a group already on vfio --dry-run exits 1 with "verdict: refused"',
           (p.returncode, p.stdout))
    world.check_unchanged(tap, 'vfioctl')
    still_answers(tap, env, 'vfioctl')


def body(tap, env):
    prepare_host(env)
    env.start_daemon(['--proc-root=' + os.path.join(env.tmp, 'proc')])
    world = World(env)
    check_plans(tap, env)
    check_dry_runs(tap, env, world)
    check_bad_calls(tap, env, world)
    check_unprivileged(tap, env, world)
    check_vfioctl(tap, env, world)


if __name__ == '__main__':
    vfiodtest.main(body, spec=SPEC, start=False)
