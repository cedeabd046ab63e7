#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad input gets the contract's named errors and never hurts the daemon; a device that vanished
from sysfs is dropped on the next look-up, announced with InterfacesRemoved, and gone from the
lists."""

import os
import shutil
import sys

import dbus

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402
from vfiodtest import device_path, group_path  # noqa: E402


def still_answers(tap, env, after):
    try:
        ok = env.ping() and len(env.manager('ListGroups')) > 0
    except dbus.DBusException as e:
        ok = False
        after += ': %s' % e
    tap.ok(ok and env.daemon_alive(), 'the daemon still answers after %s' % after)


def check_bad_input(tap, env):
    cases = [
        ('GetGroup', dbus.UInt32(99999), 'org.vfiod1.Error.NoSuchGroup'),
        ('GetGroup', dbus.UInt32(3), 'org.vfiod1.Error.NoSuchGroup'),
        ('GetGroup', dbus.UInt32(0xffffffff), 'org.vfiod1.Error.NoSuchGroup'),
        ('GetDevice', 'zz', 'org.vfiod1.Error.InvalidAddress'),
        ('GetDevice', '', 'org.vfiod1.Error.InvalidAddress'),
        ('GetDevice', '1:01.0', 'org.vfiod1.Error.InvalidAddress'),
        ('GetDevice', '0000:01:20.0', 'org.vfiod1.Error.InvalidAddress'),
        ('GetDevice', '0000:01:01.0 ', 'org.vfiod1.Error.InvalidAddress'),
        ('GetDevice', '0000:01:01.0/../x', 'org.vfiod1.Error.InvalidAddress'),
        ('GetDevice', 'x' * 4096, 'org.vfiod1.Error.InvalidAddress'),
        ('GetDevice', '0000:7f:00.0', 'org.vfiod1.Error.NoSuchDevice'),
        ('GetDevice', '01:03.0', 'org.vfiod1.Error.NoSuchDevice'),
    ]
    for method, arg, want in cases:
        err = env.call_error(env.manager, method, arg)
        tap.eq(err, want, '%s(%r) fails with %s' % (method, arg if len(str(arg)) < 40 else '...', want))
        still_answers(tap, env, '%s(%.20r)' % (method, arg))


def check_wrong_signatures(tap, env):
    obj = env.obj()
    for method, args, sig in (('GetGroup', ('12',), 's'), ('GetDevice', (dbus.UInt32(1),), 'u'),
                              ('GetGroup', (), ''), ('ListGroups', (dbus.UInt32(1),), 'u')):
        err = env.call_error(getattr(obj, method), *args, signature=sig, dbus_interface=vfiodtest.MANAGER_IFACE)
        tap.eq(err, 'org.freedesktop.DBus.Error.InvalidArgs', '%s with signature "%s" is InvalidArgs' % (method, sig))
    err = env.call_error(obj.NoSuchMethod, dbus_interface=vfiodtest.MANAGER_IFACE)
    tap.eq(err, 'org.freedesktop.DBus.Error.UnknownMethod', 'a method that does not exist is UnknownMethod')
    err = env.call_error(obj.Set, vfiodtest.MANAGER_IFACE, 'Version', 'x', dbus_interface=vfiodtest.PROPS_IFACE)
    tap.ok(err is not None, 'setting a read-only property fails', err)
    still_answers(tap, env, 'calls with wrong signatures')


def check_vanished_device(tap, env):
    mon = env.monitor()
    try:
        # The HDA controller is alone in group 10: both the device and the group must go.
        address, gid = '0000:00:1b.0', 10
        shutil.rmtree(os.path.join(env.sysfs, 'bus/pci/devices', address))
        err = env.call_error(env.manager, 'GetDevice', address)
        tap.eq(err, 'org.vfiod1.Error.NoSuchDevice', 'GetDevice of a device deleted from sysfs is NoSuchDevice')
        still_answers(tap, env, 'GetDevice of a vanished device')

        devices = [str(a) for a, _, _, _ in env.manager('ListDevices')]
        tap.ok(address not in devices, 'ListDevices no longer has the vanished device', devices)
        groups = [int(i) for i, _, _ in env.manager('ListGroups')]
        tap.ok(gid not in groups, 'ListGroups no longer has its group, it was the last member', groups)
        tap.eq(env.call_error(env.manager, 'GetGroup', dbus.UInt32(gid)), 'org.vfiod1.Error.NoSuchGroup',
               'GetGroup of the emptied group is NoSuchGroup')

        def removed(path):
            return lambda m: (m.get('type') == 'signal' and m.get('member') == 'InterfacesRemoved'
                              and m.get('interface') == 'org.freedesktop.DBus.ObjectManager'
                              and m.get('path') == vfiodtest.MANAGER_PATH
                              and m.get('payload', {}).get('data', [None])[0] == path)

        sigs = mon.wait_for(removed(device_path(address)))
        tap.ok(len(sigs) == 1, 'InterfacesRemoved was sent once for the device', mon.find(lambda m: True)[-20:])
        if sigs:
            tap.ok('org.vfiod1.Device' in sigs[0]['payload']['data'][1],
                   'InterfacesRemoved names org.vfiod1.Device', sigs[0])
        sigs = mon.wait_for(removed(group_path(gid)))
        tap.ok(len(sigs) == 1, 'InterfacesRemoved was sent once for the group')
        if sigs:
            tap.ok('org.vfiod1.Group' in sigs[0]['payload']['data'][1], 'InterfacesRemoved names org.vfiod1.Group',
                   sigs[0])

        # A member of a group with others: the group stays and changes.
        address = '0000:01:02.0'
        shutil.rmtree(os.path.join(env.sysfs, 'bus/pci/devices', address))
        os.unlink(os.path.join(env.sysfs, 'kernel/iommu_groups/2/devices', address))
        path = str(env.manager('GetGroup', dbus.UInt32(2)))
        tap.eq(path, group_path(2), 'GetGroup of a group that lost one of three members still works')
        devices = [str(d) for d in env.obj(path).Get(vfiodtest.GROUP_IFACE, 'Devices',
                                                     dbus_interface=vfiodtest.PROPS_IFACE)]
        tap.eq(devices, ['0000:00:04.0', '0000:01:01.0'], 'the group no longer lists the vanished member')
        sigs = mon.wait_for(removed(device_path(address)))
        tap.ok(len(sigs) == 1, 'InterfacesRemoved was sent for the vanished member')
        changed = mon.wait_for(lambda m: (m.get('member') == 'PropertiesChanged' and m.get('path') == group_path(2)))
        tap.ok(len(changed) >= 1, 'PropertiesChanged was sent for its group')
        tap.ok(not mon.find(removed(group_path(2))), 'the group was not removed')
        still_answers(tap, env, 'a group lost a member')
    finally:
        mon.close()


def body(tap, env):
    check_bad_input(tap, env)
    check_wrong_signatures(tap, env)
    check_vanished_device(tap, env)


if __name__ == '__main__':
    vfiodtest.main(body)
