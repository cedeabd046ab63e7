#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host-side relay between a VM test guest and its QEMU's QMP monitor.

The guest writes one JSON object per line to its second serial port
(ttyS1), which QEMU exposes as a unix socket (--serial).  For each line this
relay:
  * a QMP command ({"execute": ...}): sends it to QEMU's QMP socket (--qmp)
    and writes back the reply object ({"return": ...} or {"error": ...});
    asynchronous events that arrive meanwhile are queued, not returned;
  * the pseudo command {"wait-event": NAME, "timeout": SEC, "data": {...}}:
    writes back the first queued or future event named NAME whose "data"
    contains the given keys/values (the event is consumed), or
    {"error": {"class": "Timeout", ...}} after SEC seconds;
  * {"clear-events": true}: drops queued events, replies {"return": {}}.
Every reply is one line of JSON.  The relay exits when either side closes.
"""

import argparse
import collections
import json
import select
import socket
import sys
import time


class LineSocket:
    """A connected unix stream socket read line by line."""

    def __init__(self, path, what, connect_timeout):
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise SystemExit(f"qmp-relay: cannot connect to {what} socket {path}")
                time.sleep(0.05)
        self.sock = s
        self.buf = b""
        self.what = what

    def fileno(self):
        return self.sock.fileno()

    def readline(self, timeout=None):
        """One line without its terminator, None on timeout; EOF raises EOFError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.what)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def has_line(self):
        return b"\n" in self.buf

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")


class Relay:
    def __init__(self, qmp, serial, log):
        self.qmp = qmp
        self.serial = serial
        self.log = log
        self.events = collections.deque(maxlen=1000)

    def note(self, msg):
        if self.log:
            self.log.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
            self.log.flush()

    def qmp_message(self, timeout=None):
        """Next message from QEMU; events are queued and also returned."""
        line = self.qmp.readline(timeout)
        if line is None:
            return None
        msg = json.loads(line)
        if "event" in msg:
            self.note(f"event {json.dumps(msg)}")
            self.events.append(msg)
        return msg

    def handshake(self):
        greeting = self.qmp_message(30)
        if not greeting or "QMP" not in greeting:
            raise SystemExit(f"qmp-relay: unexpected greeting {greeting!r}")
        self.qmp.send({"execute": "qmp_capabilities"})
        while True:
            msg = self.qmp_message(30)
            if msg is None:
                raise SystemExit("qmp-relay: no reply to qmp_capabilities")
            if "return" in msg:
                return
            if "error" in msg:
                raise SystemExit(f"qmp-relay: qmp_capabilities failed: {msg}")

    def command(self, cmd):
        self.qmp.send(cmd)
        while True:
            msg = self.qmp_message()
            if "return" in msg or "error" in msg:
                return msg

    @staticmethod
    def matches(event, name, data):
        if event.get("event") != name:
            return False
        got = event.get("data", {})
        return all(got.get(k) == v for k, v in data.items())

    def wait_event(self, req):
        name = req["wait-event"]
        data = req.get("data") or {}
        timeout = float(req.get("timeout", 20))
        deadline = time.monotonic() + timeout
        while True:
            for ev in list(self.events):
                if self.matches(ev, name, data):
                    self.events.remove(ev)
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                return {"error": {"class": "Timeout",
                                  "desc": f"no {name} event within {timeout:g} s"}}
            self.qmp_message(left)

    def handle(self, line):
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            return {"error": {"class": "RelayError",
                              "desc": f"bad request {line[:200]!r}: {e}"}}
        if "wait-event" in req:
            return self.wait_event(req)
        if req.get("clear-events"):
            self.events.clear()
            return {"return": {}}
        if "execute" not in req:
            return {"error": {"class": "RelayError", "desc": "no 'execute' key"}}
        return self.command(req)

    def run(self):
        while True:
            # Keep draining QEMU's events while the guest is quiet, so the
            # QMP socket buffer never fills up.
            if not self.serial.has_line():
                r, _, _ = select.select([self.serial, self.qmp], [], [])
                if self.qmp in r:
                    self.qmp_message(0)
                if self.serial not in r:
                    continue
            line = self.serial.readline(0)
            if line is None:
                continue
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            self.note(f"guest> {text}")
            reply = self.handle(text)
            self.note(f"reply< {json.dumps(reply)[:2000]}")
            self.serial.send(reply)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmp", required=True, help="QEMU's QMP unix socket")
    ap.add_argument("--serial", required=True, help="unix socket of the guest's ttyS1")
    ap.add_argument("--log", help="log the exchanges to this file")
    ap.add_argument("--connect-timeout", type=float, default=30)
    args = ap.parse_args()

    log = open(args.log, "a") if args.log else None
    qmp = LineSocket(args.qmp, "QMP", args.connect_timeout)
    serial = LineSocket(args.serial, "serial", args.connect_timeout)
    relay = Relay(qmp, serial, log)
    relay.handshake()
    relay.note("connected")
    try:
        relay.run()
    except EOFError as e:
        relay.note(f"{e} closed, exiting")
    except (BrokenPipeError, ConnectionResetError) as e:
        relay.note(f"connection lost: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
