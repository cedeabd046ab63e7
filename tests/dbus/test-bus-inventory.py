#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The inventory as the bus shows it: ListGroups, ListDevices, GetGroup, GetDevice, the Group,
Device and Manager properties with the contract's types, and GetManagedObjects, all checked
against the generated q35 tree."""

import os
import sys

import dbus

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402
from vfiodtest import DEVICE_IFACE, GROUP_IFACE, MANAGER_IFACE, MANAGER_PATH, device_path, group_path  # noqa: E402


def check_list_groups(tap, env):
    groups = env.spec.groups()
    reply = env.manager('ListGroups')
    tap.eq(reply.signature, '(uso)', 'ListGroups returns a(uso)')
    got = [(int(i), str(s), str(p)) for i, s, p in reply]
    want = [(gid, 'host', group_path(gid)) for gid in sorted(groups)]
    tap.eq(got, want, 'ListGroups lists every group of the tree, sorted by id, in state host')
    tap.ok(all(isinstance(i, dbus.UInt32) and isinstance(p, dbus.ObjectPath) for i, s, p in reply),
           'ListGroups ids are u and paths are o')


def check_list_devices(tap, env):
    reply = env.manager('ListDevices')
    tap.eq(reply.signature, '(ssuo)', 'ListDevices returns a(ssuo)')
    got = [(str(a), str(drv), int(g), str(p)) for a, drv, g, p in reply]
    want = [(d.address, d.driver, d.group, device_path(d.address))
            for d in sorted(env.spec.devices.values(), key=lambda d: d.address)]
    tap.eq(got, want, 'ListDevices lists every device with driver ("" when none), group and path')


def check_get_group(tap, env):
    for gid in sorted(env.spec.groups()):
        tap.eq(str(env.manager('GetGroup', dbus.UInt32(gid))), group_path(gid), 'GetGroup(%d)' % gid)


def check_get_device(tap, env):
    tap.eq(device_path('0000:01:01.0'), '/org/vfiod1/device/_30000_3a01_3a01_2e0',
           'the test encodes paths as sd_bus_path_encode does')
    for address in sorted(env.spec.devices):
        tap.eq(str(env.manager('GetDevice', address)), device_path(address), 'GetDevice(%s)' % address)
    tap.eq(str(env.manager('GetDevice', '01:01.0')), '/org/vfiod1/device/_30000_3a01_3a01_2e0',
           'GetDevice accepts BB:DD.F as domain 0000')
    tap.eq(str(env.manager('GetDevice', '0000:00:1B.0')), device_path('0000:00:1b.0'),
           'GetDevice accepts upper-case hex')


def sig(value):
    """The D-Bus type python-dbus decoded a value from."""
    t = type(value)
    simple = {dbus.String: 's', dbus.UInt32: 'u', dbus.UInt16: 'q', dbus.Int32: 'i', dbus.UInt64: 't',
              dbus.Boolean: 'b', dbus.ObjectPath: 'o'}
    if t in simple:
        return simple[t]
    if t is dbus.Array:
        return 'a' + value.signature
    return '?' + t.__name__


def check_group_properties(tap, env):
    types = {'Id': 'u', 'State': 's', 'Devices': 'as', 'Viable': 'b', 'ReservedRegions': 'a(tts)',
             'Lease': 'o', 'Holders': 'a(us)', 'Persistent': 'b', 'Safety': 's'}
    for gid, members in sorted(env.spec.groups().items()):
        props = env.get_all(group_path(gid), GROUP_IFACE)
        tap.eq({k: sig(v) for k, v in props.items() if k in types}, types,
               'group %d: GetAll has every contract property with its type' % gid)
        drivers = [env.spec.devices[a].driver for a in members]
        viable = all(d in ('', 'pcieport', 'pci-stub') or 'vfio' in d for d in drivers)
        regions = [(int(s), int(e), str(t)) for s, e, t in props['ReservedRegions']]
        tap.eq((int(props['Id']), str(props['State']), [str(a) for a in props['Devices']], bool(props['Viable']),
                regions, str(props['Lease']), list(props['Holders']), bool(props['Persistent'])),
               (gid, 'host', members, viable, env.spec.regions.get(gid, []), '/', [], False),
               'group %d: Id, State, Devices, Viable, ReservedRegions, Lease, Holders, Persistent' % gid)


def check_device_properties(tap, env):
    types = {'Address': 's', 'Vendor': 'q', 'Product': 'q', 'Class': 'u', 'Driver': 's', 'OriginalDriver': 's',
             'Group': 'u', 'IsBridge': 'b', 'NumaNode': 'i'}
    for address, d in sorted(env.spec.devices.items()):
        props = env.get_all(device_path(address), DEVICE_IFACE)
        tap.eq({k: sig(v) for k, v in props.items() if k in types}, types,
               '%s: GetAll has every contract property with its type' % address)
        got = {k: (str(v) if isinstance(v, dbus.String) else int(v)) for k, v in props.items() if k in types}
        want = {'Address': address, 'Vendor': d.vendor, 'Product': d.product, 'Class': d.cls, 'Driver': d.driver,
                'OriginalDriver': '', 'Group': d.group, 'IsBridge': int(d.is_bridge), 'NumaNode': d.numa_node}
        tap.eq(got, want, '%s: property values match the tree' % address)


def check_busctl_get_property(tap, env):
    """The same through busctl, which prints the wire types itself."""
    edu = device_path('0000:01:01.0')
    cases = [
        (edu, DEVICE_IFACE, 'Vendor', {'type': 'q', 'data': 0x1234}),
        (edu, DEVICE_IFACE, 'Product', {'type': 'q', 'data': 0x11e8}),
        (edu, DEVICE_IFACE, 'Class', {'type': 'u', 'data': 0x00ff00}),
        (edu, DEVICE_IFACE, 'Driver', {'type': 's', 'data': ''}),
        (edu, DEVICE_IFACE, 'NumaNode', {'type': 'i', 'data': -1}),
        (edu, DEVICE_IFACE, 'IsBridge', {'type': 'b', 'data': False}),
        (device_path('0000:00:04.0'), DEVICE_IFACE, 'IsBridge', {'type': 'b', 'data': True}),
        (device_path('0000:02:00.0'), DEVICE_IFACE, 'Driver', {'type': 's', 'data': 'e1000e'}),
        (group_path(2), GROUP_IFACE, 'Devices',
         {'type': 'as', 'data': ['0000:00:04.0', '0000:01:01.0', '0000:01:02.0']}),
        (group_path(1), GROUP_IFACE, 'ReservedRegions', {'type': 'a(tts)', 'data': [[0xfee00000, 0xfeefffff, 'msi']]}),
        (group_path(0), GROUP_IFACE, 'Lease', {'type': 'o', 'data': '/'}),
        (MANAGER_PATH, MANAGER_IFACE, 'RemoveTimeoutUSec', {'type': 't'}),
        (MANAGER_PATH, MANAGER_IFACE, 'IommuBackends', {'type': 'as'}),
    ]
    for path, iface, prop, want in cases:
        got = env.busctl_json('get-property', 'org.vfiod1', path, iface, prop)
        if 'data' not in want:
            got.pop('data', None)
        tap.eq(got, want, 'busctl get-property %s %s' % (os.path.basename(path), prop))


def check_manager_properties(tap, env):
    props = env.get_all(MANAGER_PATH, MANAGER_IFACE)
    tap.eq({k: sig(props.get(k)) for k in ('Version', 'RemoveMode', 'RemoveTimeoutUSec', 'IommuBackends')},
           {'Version': 's', 'RemoveMode': 's', 'RemoveTimeoutUSec': 't', 'IommuBackends': 'as'},
           'Manager: GetAll has Version s, RemoveMode s, RemoveTimeoutUSec t, IommuBackends as')
    tap.ok(str(props['RemoveMode']) in ('fail', 'soft', 'hard', 'kill'), 'Manager: RemoveMode is a contract mode',
           repr(props['RemoveMode']))
    tap.ok(all(str(b) in ('group', 'iommufd') for b in props['IommuBackends']),
           'Manager: IommuBackends only names group/iommufd', repr(props['IommuBackends']))


def check_managed_objects(tap, env):
    objs = env.obj().GetManagedObjects(dbus_interface=vfiodtest.OM_IFACE, timeout=vfiodtest.TIMEOUT)
    want = {group_path(g): GROUP_IFACE for g in env.spec.groups()}
    want.update({device_path(a): DEVICE_IFACE for a in env.spec.devices})
    tap.eq(sorted(str(p) for p in objs), sorted(want), 'GetManagedObjects lists every group and device, nothing else')
    bad = [p for p, iface in want.items() if iface not in objs.get(p, {})]
    tap.eq(bad, [], 'GetManagedObjects gives each object its org.vfiod1 interface')
    g2 = objs.get(group_path(2), {}).get(GROUP_IFACE, {})
    tap.eq([str(a) for a in g2.get('Devices', [])], env.spec.groups()[2], 'GetManagedObjects carries properties')
    edu = objs.get(device_path('0000:01:02.0'), {}).get(DEVICE_IFACE, {})
    tap.eq((int(edu.get('Vendor', 0)), int(edu.get('Group', -1))), (0x1234, 2),
           'GetManagedObjects device properties')


def check_unknown_object(tap, env):
    err = env.call_error(env.get_all, group_path(3), GROUP_IFACE)
    tap.ok(err is not None and err.startswith('org.freedesktop.DBus.Error.Unknown'),
           'a group object that does not exist is unknown', err)
    err = env.call_error(env.get_all, device_path('0000:7f:00.0'), DEVICE_IFACE)
    tap.ok(err is not None and err.startswith('org.freedesktop.DBus.Error.Unknown'),
           'a device object that does not exist is unknown', err)


def body(tap, env):
    check_list_groups(tap, env)
    check_list_devices(tap, env)
    check_get_group(tap, env)
    check_get_device(tap, env)
    check_group_properties(tap, env)
    check_device_properties(tap, env)
    check_busctl_get_property(tap, env)
    check_manager_properties(tap, env)
    check_managed_objects(tap, env)
    check_unknown_object(tap, env)
    tap.ok(env.ping(), 'the daemon still answers')


if __name__ == '__main__':
    vfiodtest.main(body)
