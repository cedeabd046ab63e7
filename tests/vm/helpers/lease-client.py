#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A lease owner written with python3-dbus (another D-Bus implementation than sd-bus).

    lease-client.py [--container KEY] [--interface I] [--hold SEC] [--release] TARGET[@KEY]...

Acquires every TARGET under one sharing key (or its own @KEY), prints "lease PATH" and "fd NAME" for each, holds
the connection (and the fds) for --hold seconds, releases when asked, and exits. Exit status 0
when every Acquire succeeded and every received fd is a real open file descriptor."""

import argparse
import os
import sys
import time

import dbus

parser = argparse.ArgumentParser()
parser.add_argument("--container", default=None)
parser.add_argument("--interface", default=None)
parser.add_argument("--hold", type=float, default=0)
parser.add_argument("--release", action="store_true")
parser.add_argument("--orphan", action="store_true",
                    help="after acquiring, fork a child that keeps the fds, and exit without releasing")
parser.add_argument("targets", nargs="+")
args = parser.parse_args()

bus = dbus.SystemBus()
manager = dbus.Interface(bus.get_object("org.vfiod1", "/org/vfiod1"), "org.vfiod1.Manager")
options = {}
if args.container is not None:
    options["container"] = dbus.String(args.container)
if args.interface is not None:
    options["interface"] = dbus.String(args.interface)

leases, fds = [], []
for spec in args.targets:
    target, _, key = spec.partition("@")
    opts = dict(options)
    if key:
        opts["container"] = dbus.String(key)
    try:
        path, received = manager.Acquire(target, dbus.Dictionary(opts, signature="sv"))
    except dbus.DBusException as e:
        print("error %s: %s" % (e.get_dbus_name(), e.get_dbus_message()), flush=True)
        sys.exit(1)
    print("lease %s" % path, flush=True)
    leases.append(path)
    for name, unixfd in received.items():
        fd = unixfd.take()
        os.fstat(fd)  # raises if it is not an open fd
        print("fd %s %s" % (name, os.readlink("/proc/self/fd/%d" % fd)), flush=True)
        fds.append(fd)

print("ready", flush=True)
if args.orphan:
    child = os.fork()
    if child == 0:
        bus.close()
        time.sleep(600)
        os._exit(0)
    print("child %d" % child, flush=True)
    os._exit(0)
time.sleep(args.hold)
if args.release:
    for path in leases:
        dbus.Interface(bus.get_object("org.vfiod1", path), "org.vfiod1.Lease").Release()
        print("released %s" % path, flush=True)
