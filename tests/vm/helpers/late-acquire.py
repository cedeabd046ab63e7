#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A lease owner whose connecting process is gone by the time it asks (python3-dbus).

    late-acquire.py [--no-fork] GO-FILE TARGET

Connects to the system bus and forks: the parent, the process the bus daemon recorded for the
connection, prints "connected PID" and exits at once; the child keeps the connection, waits
until GO-FILE exists, acquires TARGET, prints "lease PATH" and "ready", and holds the lease and
its fds until it is killed. With --no-fork the process that connected acquires at once, and
prints "connected PID" for itself."""

import argparse
import os
import sys
import time

import dbus

parser = argparse.ArgumentParser()
parser.add_argument("--no-fork", action="store_true")
parser.add_argument("go")
parser.add_argument("target")
args = parser.parse_args()

bus = dbus.SystemBus()
print(f"connected {os.getpid()}", flush=True)
if not args.no_fork:
    if os.fork() != 0:
        os._exit(0)  # leave the connection to the child, untouched
    while not os.path.exists(args.go):
        time.sleep(0.05)

manager = dbus.Interface(bus.get_object("org.vfiod1", "/org/vfiod1"), "org.vfiod1.Manager")
try:
    path, fds = manager.Acquire(args.target, dbus.Dictionary({}, signature="sv"))
except dbus.DBusException as e:
    print(f"acquire failed: {e.get_dbus_name()}: {e.get_dbus_message()}", flush=True)
    sys.exit(1)
held = [fd.take() for fd in fds.values()]
print(f"lease {path}", flush=True)
print("ready", flush=True)
while True:
    time.sleep(3600)
