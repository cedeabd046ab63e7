#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# python-acquire: vfiod's fd broker seen from another D-Bus implementation (dbus-python / libdbus):
# Acquire over the system bus, unix fds in the reply, the lease's properties, Release. TAP-like lines.
#
# Usage: python-acquire.py TARGET GROUP [INTERFACE]

import os
import stat
import sys

import dbus

VFIOD = 'org.vfiod1'


def result(good, name, why=''):
    print(('ok - ' if good else 'not ok - ') + 'python: ' + name)
    if not good and why:
        print('# ' + str(why))
    sys.stdout.flush()
    return good


def main():
    target, group = sys.argv[1], int(sys.argv[2])
    interface = sys.argv[3] if len(sys.argv) > 3 else None
    bus = dbus.SystemBus()
    manager = dbus.Interface(bus.get_object(VFIOD, '/org/vfiod1'), 'org.vfiod1.Manager')

    options = dbus.Dictionary({}, signature='sv')
    if interface:
        options['interface'] = dbus.String(interface)
    try:
        path, fds = manager.Acquire(target, options)
    except dbus.exceptions.DBusException as e:
        result(False, 'Acquire', '%s: %s' % (e.get_dbus_name(), e.get_dbus_message()))
        return
    result(True, 'Acquire returns %s' % path)

    # libdbus gives UnixFd objects that own a duplicate until take().
    owned = {}
    for name, fd in fds.items():
        if isinstance(fd, dbus.types.UnixFd):
            owned[str(name)] = fd.take()
    result(len(owned) == len(fds) and len(owned) > 0, 'the reply carries unix fds: ' + ' '.join(sorted(owned)),
           repr(fds))
    legacy = 'container' in owned and 'group' in owned
    cdev = 'iommufd' in owned and any(n.startswith('device:') for n in owned)
    result(legacy or cdev, 'fd names are the contract\'s (container+group or iommufd+device:*)', sorted(owned))
    if 'group' in owned:
        target_link = os.readlink('/proc/self/fd/%d' % owned['group'])
        result(target_link == '/dev/vfio/%d' % group, 'the group fd is /dev/vfio/%d' % group, target_link)
    for name, fd in owned.items():
        st = os.fstat(fd)
        if name == 'container':
            result(stat.S_ISCHR(st.st_mode), 'the container fd is a character device', oct(st.st_mode))

    lease = bus.get_object(VFIOD, path)
    props = dbus.Interface(lease, 'org.freedesktop.DBus.Properties')
    got = props.GetAll('org.vfiod1.Lease')
    result(list(got.get('Groups', [])) == [group], 'Lease.Groups is [%d]' % group, got.get('Groups'))
    result(str(got.get('Owner')) == bus.get_unique_name(), 'Lease.Owner is our unique name',
           '%s != %s' % (got.get('Owner'), bus.get_unique_name()))
    result(int(got.get('Uid', -1)) == os.getuid(), 'Lease.Uid is ours', got.get('Uid'))
    result(str(got.get('State')) == 'active', 'Lease.State is active', got.get('State'))

    for fd in owned.values():
        os.close(fd)
    try:
        dbus.Interface(lease, 'org.vfiod1.Lease').Release()
        result(True, 'Release')
    except dbus.exceptions.DBusException as e:
        result(False, 'Release', '%s: %s' % (e.get_dbus_name(), e.get_dbus_message()))
    try:
        props.Get('org.vfiod1.Lease', 'State')
        result(False, 'the lease object is gone after Release')
    except dbus.exceptions.DBusException as e:
        result(True, 'the lease object is gone after Release (%s)' % e.get_dbus_name())


if __name__ == '__main__':
    main()
