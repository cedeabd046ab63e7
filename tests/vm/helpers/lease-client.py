#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A lease owner written with python3-dbus (another D-Bus implementation than sd-bus).

    lease-client.py [--container KEY] [--interface I] [--hold SEC] [--release] [--orphan] [--hand-over SEC]
                    TARGET[@KEY]...

Acquires every TARGET under one sharing key (or its own @KEY), prints "lease PATH" and "fd NAME" for each, holds
the connection (and the fds) for --hold seconds, releases when asked, and exits. Exit status 0
when every Acquire succeeded and every received fd is a real open file descriptor."""

import argparse
import os
import socket
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
parser.add_argument("--hand-over", type=float, default=0, metavar="SEC",
                    help="stay connected without the fds: a child holds them, and a relay (forked before "
                         "anything else) that got them through a socket (in flight, in nobody's fd table) "
                         "takes them the moment that child dies and holds them SEC seconds: a holder that "
                         "appears after a kill, while the owner is still there")
parser.add_argument("targets", nargs="+")
args = parser.parse_args()

relay_socket = None
if args.hand_over:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    death_r, death_w = os.pipe()
    relay = os.fork()
    if relay == 0:
        ours.close()
        os.close(death_w)
        os.read(death_r, 1)  # end of file: the holder is gone
        _, taken, _, _ = socket.recv_fds(theirs, 16, 64)
        print("took over %d fds in %d" % (len(taken), os.getpid()), flush=True)
        time.sleep(args.hand_over)
        os._exit(0)
    theirs.close()
    os.close(death_r)
    relay_socket = ours
    print("relay %d" % relay, flush=True)

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

if relay_socket is not None:
    socket.send_fds(relay_socket, [b"fds"], fds)
    holder = os.fork()
    if holder == 0:  # keeps the fds and the relay's pipe until it is killed
        time.sleep(600)
        os._exit(0)
    os.close(death_w)
    for fd in fds:
        os.close(fd)
    print("holder %d" % holder, flush=True)
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
