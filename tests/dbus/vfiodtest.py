# SPDX-License-Identifier: LGPL-2.1-or-later
"""The D-Bus test harness: a private dbus-daemon configured as a system bus, a generated sysfs
tree, and the real vfiod on both. Every test script builds one TestEnv, reports TAP through Tap,
and leaves nothing behind: the bus, the daemon and the temporary directory go away on success,
on failure, on an exception and on SIGTERM from the test runner."""

import argparse
import atexit
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import dbus

BUS_NAME = 'org.vfiod1'
MANAGER_PATH = '/org/vfiod1'
MANAGER_IFACE = 'org.vfiod1.Manager'
GROUP_IFACE = 'org.vfiod1.Group'
DEVICE_IFACE = 'org.vfiod1.Device'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'
OM_IFACE = 'org.freedesktop.DBus.ObjectManager'

# Generous: under ASan the daemon starts several times slower.
TIMEOUT = float(os.environ.get('VFIOD_TEST_TIMEOUT', '30'))

# A q35 machine as QEMU builds it (see also tests/unit/test-inventory.c): a host bridge alone in
# group 0, a PCIe root port with an e1000e behind it in group 1, a PCI-PCI bridge with two edu
# devices in group 2, and an HDA controller in group 10 (numeric and textual order differ).
Q35_SPEC = """\
0000:01:02.0 2 1234 11e8 00ff00 -
0000:00:00.0 0 8086 29c0 060000 -
0000:00:1b.0 10 8086 293e 040300 snd_hda_intel numa=0
0000:00:1c.0 1 1b36 000c 060400 pcieport
0000:02:00.0 1 8086 10d3 020000 e1000e
0000:00:04.0 2 1b36 0001 060400 -
0000:01:01.0 2 1234 11e8 00ff00 -
region 1 0xfee00000 0xfeefffff msi
region 2 0xfee00000 0xfeefffff msi
region 2 0xfd00000000 0xffffffffff reserved
"""


class Device:
    def __init__(self, address, group, vendor, product, cls, driver, numa_node):
        self.address = address
        self.group = group
        self.vendor = vendor
        self.product = product
        self.cls = cls
        self.driver = driver
        self.numa_node = numa_node

    @property
    def is_bridge(self):
        return (self.cls >> 8) in (0x0600, 0x0604, 0x0607, 0x0609)


class Spec:
    """What a make-sysfs-tree spec describes: the truth the daemon's answers are checked against."""

    def __init__(self, text):
        self.text = text
        self.devices = {}
        self.regions = {}
        for line in text.splitlines():
            w = line.split('#', 1)[0].split()
            if not w:
                continue
            if w[0] == 'region':
                self.regions.setdefault(int(w[1]), []).append((int(w[2], 16), int(w[3], 16), w[4]))
                continue
            numa = -1
            if len(w) == 7:
                numa = int(w[6].split('=', 1)[1])
            if w[1] == '-':
                continue  # not in an IOMMU group: vfiod does not track it
            self.devices[w[0]] = Device(w[0], int(w[1]), int(w[2], 16), int(w[3], 16), int(w[4], 16),
                                        '' if w[5] == '-' else w[5], numa)

    def groups(self):
        """{id: [addresses, sorted]}"""
        g = {}
        for d in self.devices.values():
            g.setdefault(d.group, []).append(d.address)
        return {k: sorted(v) for k, v in g.items()}


def device_path(address):
    """sd_bus_path_encode(): every byte that is not [A-Za-z0-9], and a leading digit, as _xx."""
    out = []
    for i, c in enumerate(address):
        if c.isascii() and (c.isalpha() or (c.isdigit() and i > 0)):
            out.append(c)
        else:
            out.append('_%02x' % ord(c))
    return '/org/vfiod1/device/' + ''.join(out)


def group_path(gid):
    return '/org/vfiod1/group/%d' % gid


class Tap:
    """TAP output: one line per check, diagnostics as comments, exit status for meson."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        sys.stdout.reconfigure(line_buffering=True)

    def diag(self, text):
        for line in str(text).rstrip('\n').splitlines():
            print('# ' + line)

    def ok(self, cond, name, diag=None):
        self.n += 1
        print('%sok %d - %s' % ('' if cond else 'not ', self.n, name))
        if not cond:
            self.failed += 1
            if diag is not None:
                self.diag(diag)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, 'got:  %r\nwant: %r' % (got, want))

    def run(self, name, fn, *args):
        """A check made of several asserts: passes when fn returns without raising."""
        try:
            fn(*args)
        except Exception:
            return self.ok(False, name, traceback.format_exc())
        return self.ok(True, name)

    def skip_all(self, reason):
        print('1..0 # SKIP %s' % reason)
        sys.exit(0)

    def finish(self):
        print('1..%d' % self.n)
        sys.exit(1 if self.failed else 0)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument('--vfiod', required=True)
    p.add_argument('--vfioctl', required=True)
    p.add_argument('--make-sysfs-tree', required=True)
    p.add_argument('--source-root', required=True)
    p.add_argument('--keep', action='store_true', help='keep the temporary directory')
    args = p.parse_args()
    for k in ('vfiod', 'vfioctl', 'make_sysfs_tree', 'source_root'):
        setattr(args, k, os.path.abspath(getattr(args, k)))
    return args


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # If this script is killed outright, its bus and daemon must not outlive it.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


class TestEnv:
    """A temporary directory with a sysfs tree, a private system bus and (once started) vfiod."""

    def __init__(self, args, spec=Q35_SPEC):
        if os.geteuid() != 0:
            raise PermissionError('the D-Bus tests must run as root (the daemon owns org.vfiod1)')
        self.args = args
        self.source_root = args.source_root
        self.spec = Spec(spec)
        self.bus_proc = None
        self.daemon = None
        self.daemon_log = None
        self.daemon_runs = 0
        self._bus = None
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        atexit.register(self.cleanup)

        # In memory if possible (as /sys is): some disks are slow to create many small files.
        parent = None
        if 'TMPDIR' not in os.environ and os.access('/dev/shm', os.W_OK | os.X_OK):
            parent = '/dev/shm'
        self.tmp = tempfile.mkdtemp(prefix='vfiod-dbus-test.', dir=parent)
        # Unprivileged clients must reach the bus socket inside.
        os.chmod(self.tmp, 0o711)
        self.sysfs = self._make_tree(spec)
        for d in ('dev', 'proc', 'run', 'state', 'modules', 'etc'):
            os.mkdir(os.path.join(self.tmp, d))
        self._start_bus()

    # --- the sysfs tree ---

    def _make_tree(self, spec):
        out = subprocess.run([self.args.make_sysfs_tree, '--parent', self.tmp], input=spec, text=True,
                             capture_output=True, check=True)
        return out.stdout.strip()

    def tree_apply(self, spec):
        """Changes the tree with make-sysfs-tree's spec language (driver/remove/new devices)."""
        subprocess.run([self.args.make_sysfs_tree, '--root', self.sysfs], input=spec, text=True,
                       check=True)

    # --- the bus ---

    def policy_file(self):
        p = os.path.join(self.source_root, 'dbus', 'org.vfiod1.conf')
        return p if os.path.exists(p) else None

    def _bus_config(self):
        policy = self.policy_file()
        if policy:
            include = '<include>%s</include>' % policy
        else:
            # Until dbus/org.vfiod1.conf exists: root owns the name, anyone may call.
            include = '''<policy user="root"><allow own="org.vfiod1"/></policy>
  <policy context="default"><allow send_destination="org.vfiod1"/></policy>'''
        return '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%(sock)s</listen>
  <auth>EXTERNAL</auth>
  <!-- As the stock system.conf: deny by default, service files punch holes. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  %(include)s
</busconfig>
''' % {'sock': self.socket, 'include': include}

    def _start_bus(self):
        self.socket = os.path.join(self.tmp, 'system_bus_socket')
        conf = os.path.join(self.tmp, 'bus.conf')
        with open(conf, 'w') as f:
            f.write(self._bus_config())
        self.bus_log = open(os.path.join(self.tmp, 'dbus-daemon.log'), 'w')
        self.bus_proc = subprocess.Popen(['dbus-daemon', '--config-file=' + conf, '--nofork', '--nopidfile',
                                          '--print-address=1'],
                                         stdout=subprocess.PIPE, stderr=self.bus_log, text=True,
                                         preexec_fn=_die_with_parent)
        self.address = self.bus_proc.stdout.readline().strip()
        if not self.address:
            raise RuntimeError('dbus-daemon did not start:\n' + self.read(os.path.join(self.tmp, 'dbus-daemon.log')))
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = self.address
        # Nothing of the host's session may leak in.
        os.environ.pop('DBUS_SESSION_BUS_ADDRESS', None)

    @property
    def bus(self):
        if self._bus is None:
            self._bus = dbus.bus.BusConnection(self.address)
        return self._bus

    def name_owner(self):
        try:
            return str(self.bus.get_name_owner(BUS_NAME))
        except dbus.DBusException:
            return None

    # --- the daemon ---

    def daemon_options(self):
        """--sysfs-root and --log-level, plus every other root/dir option this vfiod has, pointed
        into the temporary directory so that the host's /run, /var/lib and /proc stay out."""
        opts = ['--sysfs-root=' + self.sysfs, '--log-level=debug']
        try:
            helptext = subprocess.run([self.args.vfiod, '--help'], capture_output=True, text=True,
                                      timeout=TIMEOUT).stdout
        except subprocess.SubprocessError:
            helptext = ''
        for option, d in (('--dev-root', 'dev'), ('--runtime-dir', 'run'), ('--state-dir', 'state'),
                          ('--modules-dir', 'modules'), ('--config-dir', 'etc')):
            if option + '=' in helptext:
                opts.append('%s=%s' % (option, os.path.join(self.tmp, d)))
        return opts

    def start_daemon(self, extra=()):
        assert self.daemon is None
        self.daemon_runs += 1
        self.daemon_log = os.path.join(self.tmp, 'vfiod.%d.log' % self.daemon_runs)
        env = dict(os.environ)
        env.pop('NOTIFY_SOCKET', None)
        env.setdefault('ASAN_OPTIONS', 'detect_leaks=1')
        with open(self.daemon_log, 'w') as log:
            self.daemon = subprocess.Popen([self.args.vfiod] + self.daemon_options() + list(extra),
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           env=env, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise RuntimeError('vfiod exited with %d before taking the name:\n%s'
                                   % (self.daemon.returncode, self.read(self.daemon_log)))
            if self.name_owner():
                return
            time.sleep(0.05)
        raise RuntimeError('vfiod did not take %s in %ds:\n%s' % (BUS_NAME, TIMEOUT, self.read(self.daemon_log)))

    def stop_daemon(self, sig=signal.SIGTERM):
        """Signals the daemon and returns its exit status (None if it had to be killed)."""
        if self.daemon is None:
            return None
        p, self.daemon = self.daemon, None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                return None
        return p.returncode

    def daemon_alive(self):
        return self.daemon is not None and self.daemon.poll() is None

    # --- calling ---

    def obj(self, path=MANAGER_PATH):
        return self.bus.get_object(BUS_NAME, path, introspect=False)

    def manager(self, method, *args):
        return getattr(self.obj(), method)(*args, dbus_interface=MANAGER_IFACE, timeout=TIMEOUT)

    def get_all(self, path, iface):
        return self.obj(path).GetAll(iface, dbus_interface=PROPS_IFACE, timeout=TIMEOUT)

    def ping(self):
        self.obj().Ping(dbus_interface='org.freedesktop.DBus.Peer', timeout=TIMEOUT)
        return True

    def call_error(self, fn, *args, **kw):
        """The D-Bus error name a call fails with, or None if it succeeds."""
        try:
            fn(*args, **kw)
        except dbus.DBusException as e:
            return e.get_dbus_name()
        return None

    def busctl(self, *args, check=True):
        return subprocess.run(['busctl', '--system', '--no-pager'] + list(args), capture_output=True, text=True,
                              check=check, timeout=TIMEOUT)

    def busctl_json(self, *args):
        return json.loads(self.busctl('--json=short', *args).stdout)

    def as_user(self, argv, user='nobody', group='nogroup'):
        """Runs argv as an unprivileged user (from /: the build's directory may be closed to it), returns
        the CompletedProcess."""
        return subprocess.run(['setpriv', '--reuid=' + user, '--regid=' + group, '--clear-groups', '--'] + argv,
                              capture_output=True, text=True, timeout=TIMEOUT, cwd='/')

    def public_vfioctl(self):
        """A copy of vfioctl that every user can run, whatever the checkout's directories and modes
        allow (a clone in a 0700 home): in this run's directory, with the modes a package gives it,
        beside the libvfiod-client.so.0 its RUNPATH ($ORIGIN) finds."""
        public = os.path.join(self.tmp, 'public')
        copy = os.path.join(public, 'vfioctl')
        if not os.path.exists(copy):
            os.makedirs(public, mode=0o755, exist_ok=True)
            os.chmod(public, 0o755)
            lib = os.path.join(os.path.dirname(self.args.vfioctl), 'libvfiod-client.so.0')
            for f in [self.args.vfioctl] + ([lib] if os.path.exists(lib) else []):
                shutil.copyfile(f, os.path.join(public, os.path.basename(f)))
                os.chmod(os.path.join(public, os.path.basename(f)), 0o755)
        return copy

    def vfioctl(self, *args):
        return subprocess.run([self.args.vfioctl] + list(args), capture_output=True, text=True, timeout=TIMEOUT)

    def have_vfioctl(self):
        return os.access(self.args.vfioctl, os.X_OK)

    # --- watching the bus ---

    def monitor(self):
        return Monitor(self)

    # --- leaving ---

    @staticmethod
    def read(path):
        try:
            with open(path, errors='replace') as f:
                return f.read()
        except OSError as e:
            return '(%s)' % e

    def dump_logs(self, tap):
        for i in range(1, self.daemon_runs + 1):
            tap.diag('--- vfiod log %d ---' % i)
            tap.diag(self.read(os.path.join(self.tmp, 'vfiod.%d.log' % i)))

    def cleanup(self):
        if self.daemon is not None:
            self.daemon.kill()
            self.daemon.wait()
            self.daemon = None
        if self._bus is not None:
            try:
                self._bus.close()
            except Exception:
                pass
            self._bus = None
        if self.bus_proc is not None:
            self.bus_proc.kill()
            self.bus_proc.wait()
            self.bus_proc.stdout.close()
            self.bus_log.close()
            self.bus_proc = None
        if self.tmp and not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class Monitor:
    """busctl monitor on the private bus, collecting every message as JSON in a thread.
    python-dbus has no main loop here (no GLib), so signals are watched from outside."""

    def __init__(self, env):
        self.env = env
        self.messages = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(['busctl', '--system', '--no-pager', '--json=short', 'monitor'],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     preexec_fn=_die_with_parent)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        # Ready once it sees a call we make.
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            env.ping()
            if self.find(lambda m: m.get('member') == 'Ping'):
                return
            time.sleep(0.1)
        self.close()
        raise RuntimeError('busctl monitor did not start')

    def _read(self):
        for line in self.proc.stdout:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.messages.append(m)

    def find(self, pred):
        with self.lock:
            return [m for m in self.messages if pred(m)]

    def wait_for(self, pred, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(pred)
            if found:
                return found
            time.sleep(0.05)
        return []

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.thread.join(5)
        self.proc.stdout.close()


def main(body, spec=Q35_SPEC, start=True):
    """Runs body(tap, env) with a started daemon, reporting an escaped exception as a failure and
    the daemon's clean exit on SIGTERM as the last check."""
    args = parse_args()
    tap = Tap()
    if os.geteuid() != 0:
        tap.skip_all('needs root: vfiod must own org.vfiod1 and the checks run clients as nobody')
    env = None
    try:
        env = TestEnv(args, spec)
        if start:
            env.start_daemon()
        body(tap, env)
        if env.daemon is not None:
            rc = env.stop_daemon()
            tap.eq(rc, 0, 'vfiod exits 0 on SIGTERM (and without sanitizer reports)')
    except Exception:
        tap.ok(False, 'test body ran to the end', traceback.format_exc())
    finally:
        if env is not None:
            if tap.failed:
                env.dump_logs(tap)
            env.cleanup()
    tap.finish()
