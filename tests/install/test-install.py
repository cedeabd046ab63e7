#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`meson install --destdir` of this build, as a distribution packages it, and what a user of the
result meets: every file in place (daemon, CLI, unit, bus policy and activation, polkit actions,
interface XML, man pages, the client library with its header and pkg-config file, the default
configuration); the library exporting exactly its header's functions; the header compiling on its
own; pkg-config pointing into the tree; the examples of libvfiod-client(3) compiling and linking
against it; and, where a private system bus can be had, the installed daemon starting with the
installed configuration while the installed vfioctl and an example program talk to it.

Only the Python standard library and the usual build tools (cc, pkg-config, readelf/nm) are used."""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

TIMEOUT = float(os.environ.get('VFIOD_TEST_TIMEOUT', '30'))


class Tap:
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
            if diag:
                self.diag(diag)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, 'got:  %r\nwant: %r' % (got, want))

    def skip(self, name, reason):
        self.n += 1
        print('ok %d - %s # SKIP %s' % (self.n, name, reason))

    def finish(self):
        print('1..%d' % self.n)
        sys.exit(1 if self.failed else 0)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument('--meson', required=True)
    p.add_argument('--build-root', required=True)
    p.add_argument('--source-root', required=True)
    p.add_argument('--version', required=True, help='the project version')
    for d in ('prefix', 'bindir', 'sbindir', 'libdir', 'includedir', 'datadir', 'mandir', 'sysconfdir',
              'unitdir'):
        p.add_argument('--' + d, required=True, help='absolute, as installed (without DESTDIR)')
    p.add_argument('--cc', action='append', required=True,
                   help="the build's C compiler command, one word per --cc (e.g. ccache, cc)")
    p.add_argument('--sanitize', default='none', help="the build's b_sanitize")
    p.add_argument('--make-sysfs-tree', help='for the run-time checks')
    p.add_argument('--keep', action='store_true', help='keep the DESTDIR')
    return p.parse_args()


def run(argv, **kw):
    kw.setdefault('capture_output', True)
    kw.setdefault('text', True)
    kw.setdefault('timeout', 300)
    return subprocess.run(argv, **kw)


def output_of(p):
    return ('$ %s\nexit %d\n%s%s' % (' '.join(p.args), p.returncode, p.stdout, p.stderr))


class Installed:
    """The DESTDIR tree and where things are in it."""

    def __init__(self, args, destdir):
        self.args = args
        self.destdir = destdir

    def path(self, *parts):
        """DESTDIR + an absolute install path (+ more components)."""
        return os.path.join(self.destdir + parts[0], *parts[1:])


def check_file(tap, inst, what, *parts, executable=False):
    p = inst.path(*parts)
    ok = os.path.isfile(p) and (not executable or os.access(p, os.X_OK))
    tap.ok(ok, '%s is installed as %s' % (what, os.path.join(*parts)))
    return ok


def read(path):
    with open(path, errors='replace') as f:
        return f.read()


def readelf_dynamic(path):
    p = run(['readelf', '-d', path])
    return p.stdout if p.returncode == 0 else ''


def header_functions(text):
    """The functions the header declares (not its static inline helpers)."""
    names = set()
    for m in re.finditer(r'^(?!static)[A-Za-z][^;(){}#\n]*?\b(vfiod_[a-z0-9_]+)\(', text, re.M):
        names.add(m.group(1))
    return names


def sym_file_globals(text):
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    names = set()
    for block in re.findall(r'global:(.*?)(?:local:|\})', text, re.S):
        names.update(n.strip() for n in block.split(';') if n.strip())
    return names


def exported_functions(lib):
    p = run(['nm', '-D', '--defined-only', lib])
    if p.returncode != 0:
        return None
    names = set()
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) >= 3 and f[1] in ('T', 'W', 'i', 'D', 'B', 'R'):
            names.add(f[2].split('@')[0])
    return names


def man_examples(text):
    """The example programs of a man page: {name: C text}, from the .EX block after each
    '.\\" example: NAME' marker, with the roff escapes undone."""
    examples = {}
    for m in re.finditer(r'^\.\\" example: (\S+)\n(.*?)^\.EX\n(.*?)^\.EE$', text, re.M | re.S):
        body = m.group(3)
        for a, b in ((r'\e', '\\'), (r'\-', '-'), (r'\(aq', "'"), (r'\(dq', '"'), (r'\(ti', '~'),
                     (r'\(ha', '^'), (r'\&', '')):
            body = body.replace(a, b)
        examples[m.group(1)] = body
    return examples


# ---- the checks ----

def check_tree(tap, args, inst):
    a = args
    check_file(tap, inst, 'the daemon', a.sbindir, 'vfiod', executable=True)
    check_file(tap, inst, 'vfioctl', a.bindir, 'vfioctl', executable=True)

    unit = inst.path(a.unitdir, 'vfiod.service')
    if check_file(tap, inst, 'the unit', a.unitdir, 'vfiod.service'):
        text = read(unit)
        tap.ok('ExecStart=%s/vfiod' % a.sbindir in text and not re.search(r'@[A-Z_]+@', text),
               "the unit's ExecStart= is the installed daemon", text)

    check_file(tap, inst, 'the bus policy', a.datadir, 'dbus-1', 'system.d', 'org.vfiod1.conf')
    activation = inst.path(a.datadir, 'dbus-1', 'system-services', 'org.vfiod1.service')
    if check_file(tap, inst, 'the bus activation file', a.datadir, 'dbus-1', 'system-services', 'org.vfiod1.service'):
        text = read(activation)
        keys = dict(line.split('=', 1) for line in text.splitlines() if '=' in line and not line.startswith('#'))
        tap.ok('[D-BUS Service]' in text and keys.get('Name') == 'org.vfiod1' and keys.get('User') == 'root'
               and keys.get('Exec') == '/bin/false', 'the activation file names org.vfiod1, as root', text)
        tap.ok(keys.get('SystemdService') == 'vfiod.service' and os.path.exists(unit),
               'the activation file names the installed unit (SystemdService=vfiod.service)', text)
    check_file(tap, inst, 'the polkit actions', a.datadir, 'polkit-1', 'actions', 'org.vfiod1.policy')

    xmls = sorted(os.path.basename(p) for p in glob.glob(os.path.join(a.source_root, 'dbus', 'org.vfiod1.*.xml')))
    tap.ok(len(xmls) >= 5, 'the source tree has the five interface XMLs', xmls)
    for x in xmls:
        check_file(tap, inst, 'interface %s' % x[:-len('.xml')], a.datadir, 'dbus-1', 'interfaces', x)

    pages = sorted(os.path.basename(p) for p in glob.glob(os.path.join(a.source_root, 'man', '*.[1-8]')))
    for want in ('vfiod.8', 'vfioctl.1', 'vfiod.json.5', 'org.vfiod1.5', 'libvfiod-client.3'):
        tap.ok(want in pages, 'man/%s exists' % want)
    for page in pages:
        check_file(tap, inst, 'man page %s' % page, a.mandir, 'man' + page[-1], page)

    config = inst.path(a.sysconfdir, 'vfiod', 'vfiod.json')
    if check_file(tap, inst, 'the default configuration', a.sysconfdir, 'vfiod', 'vfiod.json'):
        tap.eq(read(config), read(os.path.join(a.source_root, 'config', 'vfiod.json')),
               'the default configuration is config/vfiod.json')

    # Only the public header, no static libraries, nothing of the tests.
    headers = [os.path.relpath(p, inst.path(a.includedir))
               for p in glob.glob(inst.path(a.includedir, '**', '*'), recursive=True) if os.path.isfile(p)]
    tap.eq(sorted(headers), ['vfiod/vfiod-client.h'], 'the only installed header is vfiod/vfiod-client.h')
    everything = [os.path.relpath(os.path.join(d, f), inst.destdir)
                  for d, _, fs in os.walk(inst.destdir) for f in fs]
    stray = [f for f in everything if f.endswith(('.a', '.o')) or '/test-' in f or 'make-sysfs-tree' in f]
    tap.eq(stray, [], 'no static libraries, objects or test programs are installed')
    tap.diag('installed:\n' + '\n'.join(sorted(everything)))


def check_library(tap, args, inst):
    a = args
    libdir = inst.path(a.libdir)
    real = glob.glob(os.path.join(libdir, 'libvfiod-client.so.0.*'))
    tap.ok(len(real) == 1 and os.path.isfile(real[0]) and not os.path.islink(real[0]),
           'libvfiod-client.so.0.X.Y is installed in %s' % a.libdir, real)
    so0 = os.path.join(libdir, 'libvfiod-client.so.0')
    dev = os.path.join(libdir, 'libvfiod-client.so')
    tap.ok(os.path.islink(so0) and os.path.exists(so0), 'libvfiod-client.so.0 is a link to it')
    tap.ok(os.path.islink(dev) and os.path.exists(dev), 'libvfiod-client.so (for -l) is a link to it')
    if not real:
        return
    dyn = readelf_dynamic(real[0])
    tap.ok('Library soname: [libvfiod-client.so.0]' in dyn, 'its soname is libvfiod-client.so.0', dyn)
    tap.ok('RPATH' not in dyn and 'RUNPATH' not in dyn, 'it has no rpath', dyn)

    vfioctl = inst.path(a.bindir, 'vfioctl')
    dyn = readelf_dynamic(vfioctl)
    tap.ok('Shared library: [libvfiod-client.so.0]' in dyn, 'the installed vfioctl links libvfiod-client.so.0', dyn)
    tap.ok('RPATH' not in dyn and 'RUNPATH' not in dyn, 'the installed vfioctl has no rpath (the library is in libdir)',
           dyn)

    header = read(os.path.join(a.source_root, 'src', 'client', 'vfiod-client.h'))
    declared = header_functions(header)
    listed = sym_file_globals(read(os.path.join(a.source_root, 'src', 'client', 'libvfiod-client.sym')))
    exported = exported_functions(real[0])
    tap.ok(len(declared) > 20, 'the header declares the API (%d functions)' % len(declared), sorted(declared))
    tap.eq(sorted(listed), sorted(declared), 'libvfiod-client.sym lists exactly the functions of the header')
    if exported is None:
        tap.skip('the library exports exactly them', 'no nm')
    else:
        tap.eq(sorted(exported), sorted(declared), 'the library exports exactly them, nothing of the project inside')


def pkg_config_env(args, inst):
    env = dict(os.environ)
    pcdir = inst.path(args.libdir, 'pkgconfig')
    env['PKG_CONFIG_PATH'] = pcdir + (':' + env['PKG_CONFIG_PATH'] if env.get('PKG_CONFIG_PATH') else '')
    env['PKG_CONFIG_SYSROOT_DIR'] = inst.destdir
    # With --prefix=/usr the tree's paths are "system" ones, which pkg-config would leave out.
    env['PKG_CONFIG_ALLOW_SYSTEM_CFLAGS'] = '1'
    env['PKG_CONFIG_ALLOW_SYSTEM_LIBS'] = '1'
    return env


def check_pkg_config(tap, args, inst):
    a = args
    pc = inst.path(a.libdir, 'pkgconfig', 'vfiod-client.pc')
    if not check_file(tap, inst, 'the pkg-config file', a.libdir, 'pkgconfig', 'vfiod-client.pc'):
        return None
    text = read(pc)
    tap.ok(re.search(r'^Requires:.*\blibsystemd\b', text, re.M) is not None, 'vfiod-client.pc requires libsystemd', text)
    if not shutil.which('pkg-config'):
        tap.skip('pkg-config finds vfiod-client in the tree', 'no pkg-config')
        return None
    env = pkg_config_env(a, inst)
    p = run(['pkg-config', '--modversion', 'vfiod-client'], env=env)
    tap.eq(p.stdout.strip(), a.version, 'pkg-config --modversion vfiod-client is the project version')
    p = run(['pkg-config', '--cflags', '--libs', 'vfiod-client'], env=env)
    flags = p.stdout.split()
    tap.ok(p.returncode == 0, 'pkg-config --cflags --libs vfiod-client works against the DESTDIR', output_of(p))
    tap.ok('-I' + inst.path(a.includedir) in flags, 'its -I is the tree\'s includedir', output_of(p))
    tap.ok('-L' + inst.path(a.libdir) in flags and '-lvfiod-client' in flags,
           'its libs are -lvfiod-client in the tree\'s libdir', output_of(p))
    tap.ok('-lsystemd' in flags, 'its libs bring libsystemd', output_of(p))
    return flags if p.returncode == 0 else None


def sanitize_flags(args):
    return ['-fsanitize=' + args.sanitize] if args.sanitize not in ('', 'none') else []


def compile_program(args, src, out, flags, extra=()):
    return run(args.cc + ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-o', out, src] + sanitize_flags(args)
               + list(extra) + flags)


def check_header_alone(tap, args, inst, flags, work):
    a = args
    installed = inst.path(a.includedir, 'vfiod', 'vfiod-client.h')
    if not check_file(tap, inst, 'the public header', a.includedir, 'vfiod', 'vfiod-client.h'):
        return
    text = read(installed)
    tap.eq(text, read(os.path.join(a.source_root, 'src', 'client', 'vfiod-client.h')),
           'the installed header is src/client/vfiod-client.h')
    includes = re.findall(r'^\s*#\s*include\s*(\S+)', text, re.M)
    tap.ok(all(i.startswith('<') for i in includes) and
           set(includes) <= {'<stdbool.h>', '<stddef.h>', '<stdint.h>', '<systemd/sd-bus.h>'},
           'the header includes only <systemd/sd-bus.h> and the C library', includes)
    cflags = [f for f in flags if f.startswith('-I')]
    src = os.path.join(work, 'header-alone.c')
    with open(src, 'w') as f:
        f.write('#include <vfiod/vfiod-client.h>\n'
                'int main(void) {\n'
                '        VfiodTarget t;\n'
                '        return vfiod_target_parse("0000:01:00.0", &t) < 0 || t.kind != VFIOD_TARGET_DEVICE;\n'
                '}\n')
    for std in ('c99', 'gnu11', 'c17'):
        p = run(a.cc + ['-std=' + std, '-Wall', '-Wextra', '-Werror', '-fsyntax-only', src] + cflags)
        tap.ok(p.returncode == 0, 'the header compiles on its own as %s with -Wall -Wextra -Werror' % std, output_of(p))
    cxx = shutil.which('c++') or shutil.which('g++') or shutil.which('clang++')
    if cxx:
        p = run([cxx, '-x', 'c++', '-std=c++17', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', src] + cflags)
        tap.ok(p.returncode == 0, 'the header compiles as C++', output_of(p))
    else:
        tap.skip('the header compiles as C++', 'no C++ compiler')


def check_examples(tap, args, inst, flags, work):
    """Builds the examples of libvfiod-client(3); returns {name: binary}."""
    examples = man_examples(read(os.path.join(args.source_root, 'man', 'libvfiod-client.3')))
    tap.eq(sorted(examples), ['lease-group.c', 'list-groups.c'], 'libvfiod-client(3) has its two examples')
    built = {}
    for name, text in sorted(examples.items()):
        src = os.path.join(work, name)
        with open(src, 'w') as f:
            f.write(text)
        out = os.path.join(work, name[:-2])
        p = compile_program(args, src, out, flags)
        if tap.ok(p.returncode == 0, 'the example %s compiles and links against the installed library' % name,
                  output_of(p) + text):
            dyn = readelf_dynamic(out)
            tap.ok('Shared library: [libvfiod-client.so.0]' in dyn, '%s needs libvfiod-client.so.0' % name, dyn)
            built[name] = out
    return built


# ---- run time: the installed daemon, configuration, policy, activation file, vfioctl, example ----

BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%(socket)s</listen>
  <auth>EXTERNAL</auth>
  <servicedir>%(servicedir)s</servicedir>
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
  </policy>
  <include>%(policy)s</include>
</busconfig>
'''

# Two groups: an e1000e alone, and two edu devices behind a bridge (make-sysfs-tree's language).
TREE_SPEC = '''0000:00:1c.0 1 1b36 000c 060400 pcieport
0000:02:00.0 1 8086 10d3 020000 e1000e
0000:00:04.0 2 1b36 0001 060400 -
0000:01:01.0 2 1234 11e8 00ff00 -
0000:01:02.0 2 1234 11e8 00ff00 -
'''


class Runtime:
    def __init__(self, args, inst, work):
        self.args = args
        self.inst = inst
        self.work = work
        self.bus = None
        self.daemon = None
        self.env = dict(os.environ)
        self.env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        self.env.pop('NOTIFY_SOCKET', None)
        # The installed programs find the installed library as they would in libdir, without rpath.
        self.env['LD_LIBRARY_PATH'] = inst.path(args.libdir)

    def start_bus(self):
        a = self.args
        socket = os.path.join(self.work, 'system_bus_socket')
        conf = os.path.join(self.work, 'bus.conf')
        with open(conf, 'w') as f:
            f.write(BUS_CONFIG % {'socket': socket,
                                  'servicedir': self.inst.path(a.datadir, 'dbus-1', 'system-services'),
                                  'policy': self.inst.path(a.datadir, 'dbus-1', 'system.d', 'org.vfiod1.conf')})
        self.bus_log = open(os.path.join(self.work, 'dbus-daemon.log'), 'w')
        self.bus = subprocess.Popen(['dbus-daemon', '--config-file=' + conf, '--nofork', '--nopidfile',
                                     '--print-address=1'], stdout=subprocess.PIPE, stderr=self.bus_log, text=True)
        address = self.bus.stdout.readline().strip()
        if not address:
            raise RuntimeError('dbus-daemon did not start: ' + read(os.path.join(self.work, 'dbus-daemon.log')))
        self.env['DBUS_SYSTEM_BUS_ADDRESS'] = address

    def busctl(self, *argv):
        return run(['busctl', '--system', '--no-pager'] + list(argv), env=self.env, timeout=TIMEOUT)

    def start_daemon(self):
        a = self.args
        tree = run([a.make_sysfs_tree, '--parent', self.work], input=TREE_SPEC, check=True).stdout.strip()
        vfiod = self.inst.path(a.sbindir, 'vfiod')
        helptext = run([vfiod, '--help'], env=self.env).stdout
        opts = ['--sysfs-root=' + tree, '--log-level=debug',
                '--config=' + self.inst.path(a.sysconfdir, 'vfiod', 'vfiod.json')]
        for option, d in (('--dev-root', 'dev'), ('--runtime-dir', 'run'), ('--state-dir', 'state'),
                          ('--modules-dir', 'modules'), ('--config-dir', 'vfiod.d')):
            if option + '=' in helptext:
                os.makedirs(os.path.join(self.work, d), exist_ok=True)
                opts.append('%s=%s' % (option, os.path.join(self.work, d)))
        self.daemon_log = os.path.join(self.work, 'vfiod.log')
        with open(self.daemon_log, 'w') as log:
            self.daemon = subprocess.Popen([vfiod] + opts, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                return False
            p = self.busctl('status', 'org.vfiod1')
            if p.returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        rc = None
        if self.daemon is not None:
            if self.daemon.poll() is None:
                self.daemon.send_signal(signal.SIGTERM)
                try:
                    self.daemon.wait(TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.daemon.kill()
                    self.daemon.wait()
            rc = self.daemon.returncode
            self.daemon = None
        if self.bus is not None:
            self.bus.terminate()
            self.bus.wait()
            self.bus.stdout.close()
            self.bus_log.close()
            self.bus = None
        return rc


def check_runtime(tap, args, inst, examples, work):
    missing = [t for t in ('dbus-daemon', 'busctl') if not shutil.which(t)]
    if os.geteuid() != 0 or missing or not args.make_sysfs_tree:
        tap.skip('the installed daemon runs with the installed configuration',
                 'needs root, dbus-daemon, busctl and make-sysfs-tree')
        return
    rt = Runtime(args, inst, work)
    try:
        rt.start_bus()
        p = rt.busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                      'ListActivatableNames')
        tap.ok('"org.vfiod1"' in p.stdout, 'the bus reads the installed activation file (org.vfiod1 is activatable)',
               output_of(p))

        started = rt.start_daemon()
        if not tap.ok(started, 'the installed vfiod starts with the installed configuration and owns org.vfiod1',
                      read(rt.daemon_log)):
            return
        p = rt.busctl('get-property', 'org.vfiod1', '/org/vfiod1', 'org.vfiod1.Manager', 'RemoveMode',
                      'RemoveTimeoutUSec')
        tap.eq(p.stdout.split(), ['s', '"soft"', 't', '30000000'],
               'the default configuration means the defaults (RemoveMode soft, RemoveTimeoutUSec 30 s)')

        vfioctl = inst.path(args.bindir, 'vfioctl')
        p = run([vfioctl, '--json', 'list'], env=rt.env, timeout=TIMEOUT)
        groups = []
        if tap.ok(p.returncode == 0, 'the installed vfioctl lists the groups', output_of(p)):
            groups = json.loads(p.stdout)['groups']

        if 'list-groups.c' in examples:
            p = run([examples['list-groups.c']], env=rt.env, timeout=TIMEOUT)
            want = ['%d %s %s' % (g['id'], g['state'], ' '.join(d['address'] for d in g['devices'])) for g in groups]
            tap.ok(p.returncode == 0 and p.stdout.splitlines() == want and want,
                   'the list-groups example prints what vfioctl lists', output_of(p) + '\nwant:\n' + '\n'.join(want))
        if 'lease-group.c' in examples:
            # Group 1 is on the host: the daemon refuses, and the example says why.
            p = run([examples['lease-group.c'], '1'], env=rt.env, timeout=TIMEOUT)
            tap.ok(p.returncode == 1 and 'Cannot acquire 1:' in p.stderr and 'not assigned' in p.stderr,
                   'the lease-group example gets NotAssigned for a group on the host, and says so', output_of(p))

        rc = rt.stop()
        tap.eq(rc, 0, 'the installed vfiod exits 0 on SIGTERM')
    finally:
        rt.stop()


def main():
    args = parse_args()
    tap = Tap()
    tmp_parent = os.environ.get('TMPDIR') or ('/dev/shm' if os.access('/dev/shm', os.W_OK) else None)
    work = tempfile.mkdtemp(prefix='vfiod-install-test.', dir=tmp_parent)
    os.chmod(work, 0o755)
    destdir = os.path.join(work, 'destdir')
    inst = Installed(args, destdir)
    try:
        p = run([args.meson, 'install', '-C', args.build_root, '--destdir', destdir, '--no-rebuild'])
        if not tap.ok(p.returncode == 0, 'meson install --destdir --no-rebuild succeeds (prefix %s)' % args.prefix,
                      output_of(p)):
            tap.finish()
        check_tree(tap, args, inst)
        check_library(tap, args, inst)
        flags = check_pkg_config(tap, args, inst)
        if flags is None:
            # Without a working pkg-config, compile with the paths it should have given.
            flags = ['-I' + inst.path(args.includedir), '-L' + inst.path(args.libdir), '-lvfiod-client', '-lsystemd']
        check_header_alone(tap, args, inst, flags, work)
        examples = check_examples(tap, args, inst, flags, work)
        check_runtime(tap, args, inst, examples, work)
    except Exception:
        tap.ok(False, 'the test ran to the end', traceback.format_exc())
    finally:
        if args.keep:
            tap.diag('kept ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    tap.finish()


main()
