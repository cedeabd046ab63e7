#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# qemu-qmp: look into a QEMU started (with -S) on vfiod's fds, through its QMP socket: given
# devices, that it is QEMU 10 or later, has not run any guest code, and has each device on its PCI
# bus as the vfio-pci device of that id; with --quit, tell it to quit. TAP-like lines, each name
# prefixed with "qemu: ".
#
# Usage: qemu-qmp.py SOCKET [--quit] [QDEV_ID=VENDOR:DEVICE...]   (e.g. vfio0=1234:11e8)

import json
import socket
import sys


def result(good, name, why=''):
    print(('ok - ' if good else 'not ok - ') + 'qemu: ' + name)
    if not good and why:
        print('# ' + str(why))
    sys.stdout.flush()
    return good


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.file = self.sock.makefile('r')
        self.greeting = self.read()

    def read(self):
        line = self.file.readline()
        if not line:
            raise EOFError('QEMU closed the QMP socket')
        return json.loads(line)

    def call(self, command, **arguments):
        message = {'execute': command}
        if arguments:
            message['arguments'] = arguments
        self.sock.sendall((json.dumps(message) + '\n').encode())
        while True:
            reply = self.read()
            if 'return' in reply:
                return reply['return']
            if 'error' in reply:
                raise RuntimeError('%s: %s' % (command, reply['error']))
            # An event: not an answer.


def pci_devices(buses):
    for bus in buses:
        for device in bus.get('devices', []):
            yield device
            bridge = device.get('pci_bridge')
            if bridge:
                yield from pci_devices([bridge])


def main():
    path = sys.argv[1]
    quit_after = '--quit' in sys.argv[2:]
    wanted = {}
    for spec in (a for a in sys.argv[2:] if a != '--quit'):
        qdev_id, ids = spec.split('=')
        vendor, device = ids.split(':')
        wanted[qdev_id] = (int(vendor, 16), int(device, 16))

    qmp = Qmp(path)
    qmp.call('qmp_capabilities')
    if wanted:
        version = qmp.greeting.get('QMP', {}).get('version', {})
        major = version.get('qemu', {}).get('major', 0)
        result(major >= 10, 'QMP greeting from QEMU %s' % version.get('package', '?'), qmp.greeting)
        status = qmp.call('query-status')
        result(status.get('status') == 'prelaunch' and not status.get('running'),
               'stopped before any guest code (status %s)' % status.get('status'), status)
        devices = list(pci_devices(qmp.call('query-pci')))
    for qdev_id, (vendor, device) in sorted(wanted.items()):
        found = [d for d in devices if d.get('qdev_id') == qdev_id]
        ids = found[0]['id'] if found else {}
        name = 'query-pci lists %s as %04x:%04x' % (qdev_id, vendor, device)
        if found and (ids.get('vendor'), ids.get('device')) == (vendor, device):
            d = found[0]
            result(True, '%s (bus %d slot %d, %d BARs)' % (name, d['bus'], d['slot'], len(d.get('regions', []))))
        else:
            result(False, name, 'got %s; all devices: %s' % (ids or 'no such device', [
                (d.get('qdev_id'), '%04x:%04x' % (d['id']['vendor'], d['id']['device'])) for d in devices]))
    if quit_after:
        try:
            qmp.call('quit')
        except EOFError:
            pass  # it may close the socket before its answer is out
        result(True, 'quit over QMP')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except Exception as e:  # a dead QEMU or a QMP error: one failure line, not a traceback
        result(False, 'QMP conversation', '%s: %s' % (type(e).__name__, e))
        sys.exit(1)
