#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""How vfiod scales with the number of IOMMU groups, on generated sysfs trees and a private system
bus (bench/scale.sh builds and runs it; not a test: it prints figures, and ratios against a
baseline build run side by side when given one).

Per tree size (groups of one device each, nothing on vfio): time to READY=1, RSS after READY, one
GetManagedObjects, one `vfioctl list`, root's Peer.Ping p99 when idle, while 64 unprivileged
clients run `vfioctl list` in a loop, and while one process (root's) holds 100k open fds
(GetManagedObjects and `vfioctl list` are timed again then: a busy /proc)."""

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'dbus'))
import vfiodtest  # noqa: E402
import dbus  # noqa: E402

LOAD_CLIENTS = 64
FD_HOLDER_FDS = 100000
PING_SAMPLES = 200
LOAD_SECONDS = 10
CALL_TIMEOUT = 30  # a call that takes longer is reported as ">30" and not waited for again
READY_TIMEOUT = 120


class Env(vfiodtest.TestEnv):
    """The harness's private bus, with a tree of n single-device groups and a daemon started here
    (READY=1 taken from a notify socket)."""

    def __init__(self, args, groups):
        self.groups = groups
        super().__init__(args, spec='')

    def _make_tree(self, spec):
        out = subprocess.run([self.args.make_sysfs_tree, '--parent', self.tmp, '--groups', str(self.groups)],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def start_timed(self):
        """Starts vfiod; returns seconds to READY=1."""
        notify = os.path.join(self.tmp, 'notify')
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(notify)
        s.settimeout(READY_TIMEOUT)
        env = dict(os.environ, NOTIFY_SOCKET=notify)
        self.daemon_log = os.path.join(self.tmp, 'vfiod.log')
        t0 = time.monotonic()
        with open(self.daemon_log, 'w') as log:
            self.daemon = subprocess.Popen([self.args.vfiod] + self.daemon_options() + ['--log-level=notice'],
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        while True:
            msg = s.recv(4096).decode()
            if 'READY=1' in msg.split('\n'):
                ready = time.monotonic() - t0
                break
        s.close()
        return ready

    def daemon_options(self):
        # The real /proc: the holder scans meet what the host has open.
        return [o for o in super().daemon_options() if not o.startswith('--log-level')]

    def rss_mib(self):
        with open('/proc/%d/status' % self.daemon.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024
        return float('nan')


def timed(fn, runs=3):
    """The median of runs wall times of fn(), in seconds; inf once a run passes CALL_TIMEOUT."""
    times = []
    for _ in range(runs):
        t = time.monotonic()
        try:
            fn()
        except (dbus.DBusException, subprocess.TimeoutExpired, subprocess.CalledProcessError):
            return float('inf')
        times.append(time.monotonic() - t)
    return statistics.median(times)


def get_managed_objects(env):
    env.bus.call_blocking(vfiodtest.BUS_NAME, '/org/vfiod1', 'org.freedesktop.DBus.ObjectManager',
                          'GetManagedObjects', '', [], timeout=CALL_TIMEOUT)


def vfioctl_list(env):
    subprocess.run([env.args.vfioctl, 'list'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=CALL_TIMEOUT, check=True)


def ping_p99(env, seconds=None):
    """Root's Peer.Ping round trips: p99 in ms, over PING_SAMPLES pings or, with seconds, over that
    long (at least 5 pings)."""
    samples = []
    end = time.monotonic() + seconds if seconds else None
    while (len(samples) < PING_SAMPLES) if end is None else (time.monotonic() < end or len(samples) < 5):
        t = time.monotonic()
        try:
            env.bus.call_blocking(vfiodtest.BUS_NAME, '/org/vfiod1', 'org.freedesktop.DBus.Peer', 'Ping', '', [],
                                  timeout=CALL_TIMEOUT)
        except dbus.DBusException:
            return float('inf')  # no answer within CALL_TIMEOUT
        samples.append((time.monotonic() - t) * 1000)
        if end is not None:
            time.sleep(0.01)
    samples.sort()
    return samples[min(len(samples) - 1, int(len(samples) * 0.99))]


LIST_LOOP = 'while :; do "$0" list >/dev/null 2>&1; done'


def with_list_flood(env, fn):
    vfioctl = env.public_vfioctl()
    procs = [subprocess.Popen(['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', 'sh', '-c',
                               LIST_LOOP, vfioctl], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd='/')
             for _ in range(LOAD_CLIENTS)]
    try:
        time.sleep(1)
        return fn()
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


# As root, like the daemon: where root lacks CAP_SYS_PTRACE (a container), the daemon cannot read
# another uid's /proc/PID/fd at all, and the fds would cost nothing.
FD_HOLDER = '''
import os, resource, sys, time
want = int(sys.argv[1]) + 64
resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(int(sys.argv[1]))]
print("ready", flush=True)
time.sleep(3600)
'''


def fd_holder_fds():
    """100k, or as many as the hard limit lets a process hold here (a container may cap it)."""
    return min(FD_HOLDER_FDS, resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 64)


def with_fd_holder(env, fn):
    p = subprocess.Popen([sys.executable, '-c', FD_HOLDER, str(fd_holder_fds())], stdout=subprocess.PIPE, text=True)
    try:
        if p.stdout.readline().strip() != 'ready':
            raise RuntimeError('the fd holder did not start')
        return fn()
    finally:
        p.kill()
        p.wait()


def measure(args, groups):
    env = Env(args, groups)
    try:
        r = {'ready': env.start_timed()}
        r['rss'] = env.rss_mib()
        r['gmo'] = timed(lambda: get_managed_objects(env))
        r['list'] = timed(lambda: vfioctl_list(env))
        r['ping'] = ping_p99(env)
        r['ping_fds'], r['gmo_fds'], r['list_fds'] = with_fd_holder(
            env, lambda: (ping_p99(env), timed(lambda: get_managed_objects(env), 1),
                          timed(lambda: vfioctl_list(env), 1)))
        # Last: a daemon that falls behind still owes the killed clients their queued calls.
        r['ping_flood'] = with_list_flood(env, lambda: ping_p99(env, LOAD_SECONDS))
        return r
    finally:
        env.cleanup()


def fmt(column, value):
    if value == float('inf'):
        return '>%d s' % CALL_TIMEOUT
    return column[2] % value


def columns():
    fds = '%dk fds' % (fd_holder_fds() // 1000)
    return [('ready', 'READY s', '%.3f'), ('rss', 'RSS MiB', '%.1f'), ('gmo', 'GMO s', '%.2f'),
            ('list', 'list s', '%.2f'), ('ping', 'ping p99 ms', '%.2f'),
            ('ping_flood', 'ping p99 ms, %d listing' % LOAD_CLIENTS, '%.1f'),
            ('ping_fds', 'ping p99 ms, ' + fds, '%.2f'), ('gmo_fds', 'GMO s, ' + fds, '%.2f'),
            ('list_fds', 'list s, ' + fds, '%.2f')]


def print_table(title, results):
    COLUMNS = columns()
    print('\n' + title)
    print('| groups | ' + ' | '.join(c[1] for c in COLUMNS) + ' |')
    print('|---' * (len(COLUMNS) + 1) + '|')
    for n, r in results:
        print('| %d | ' % n + ' | '.join(fmt(c, r[c[0]]) for c in COLUMNS) + ' |')
    if len(results) > 1:
        (n0, first), (n1, last) = results[0], results[-1]
        print('| growth %d/%d | ' % (n1, n0) + ' | '.join(
            '%.1fx' % (last[c[0]] / first[c[0]]) if first[c[0]] > 0 else '-' for c in COLUMNS) + ' |')
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--build', required=True, help='the build directory (vfiod, vfioctl, make-sysfs-tree)')
    p.add_argument('--baseline-build', help='a build of the baseline, measured side by side')
    p.add_argument('--source-root', required=True)
    p.add_argument('--groups', default='512,4096,16384')
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench/scale.py needs root (vfiod owns org.vfiod1 on the private bus)')
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sizes = [int(x) for x in a.groups.split(',')]
    builds = [('this build', a.build)] + ([('baseline', a.baseline_build)] if a.baseline_build else [])
    results = {name: [] for name, _ in builds}
    for n in sizes:
        for name, build in builds:  # side by side, size by size
            args = argparse.Namespace(vfiod=os.path.join(build, 'src/vfiod/vfiod'),
                                      vfioctl=os.path.join(build, 'src/client/vfioctl'),
                                      make_sysfs_tree=os.path.join(build, 'tests/unit/make-sysfs-tree'),
                                      source_root=a.source_root, keep=False)
            print('# %s: %d groups ...' % (name, n), flush=True)
            results[name].append((n, measure(args, n)))
    for name, _ in builds:
        print_table('%s (%s)' % (name, dict(builds)[name]), results[name])
    if a.baseline_build:
        COLUMNS = columns()
        print('\nthis build / baseline, per size:')
        for (n, r), (_, b) in zip(results['this build'], results['baseline']):
            print('| %d | ' % n + ' | '.join('%.2f' % (r[c[0]] / b[c[0]]) if b[c[0]] > 0 else '-'
                                            for c in COLUMNS) + ' |')


if __name__ == '__main__':
    main()
