#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A holder nobody can see, for the VM tests.

    park-cdev.py ADDRESS

Opens the VFIO cdev of the PCI device at ADDRESS (/dev/vfio/devices/vfioN, 6.6 and later) without
binding it to an iommufd, parks the fd in flight in a socket it keeps (so that it is in no
process's fd table), closes its own copy, prints "ready" and sleeps until it is killed. An open
cdev makes vfio-pci's unbind of the device wait; an unbound one does not keep the group open, so
an open of /dev/vfio/N still succeeds; and /proc/PID/fd shows only sockets."""

import os
import socket
import sys
import time

address = sys.argv[1]
node = "/dev/vfio/devices/" + os.listdir("/sys/bus/pci/devices/%s/vfio-dev" % address)[0]
fd = os.open(node, os.O_RDWR)
parked, _ = socket.socketpair()
socket.send_fds(parked, [b"x"], [fd])
os.close(fd)
print("ready", flush=True)
time.sleep(600)
