#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The configuration file as the daemon meets it at start: a bad main file (wrong value, unknown
key) or a drop-in with a bad rule stops it before it takes org.vfiod1, with a failure status and
one line naming the file, the line and the key; a good file is applied (the Manager's remove
defaults show it)."""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def run_refused(env, config, config_dir):
    """Runs vfiod on the config until it exits. Returns (exit status, stderr, whether the name
    was ever owned)."""
    log = os.path.join(env.tmp, 'refused.log')
    with open(log, 'w') as f:
        p = subprocess.Popen([env.args.vfiod] + env.daemon_options() +
                             ['--config=' + config, '--config-dir=' + config_dir],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f,
                             preexec_fn=vfiodtest._die_with_parent)
    owned = False
    deadline = time.monotonic() + vfiodtest.TIMEOUT
    while p.poll() is None and time.monotonic() < deadline:
        if env.name_owner() is not None:
            owned = True
        time.sleep(0.02)
    if p.poll() is None:
        owned = owned or env.name_owner() is not None
        p.kill()
        p.wait()
        return None, env.read(log), owned
    return p.returncode, env.read(log), owned or env.name_owner() is not None


def check_refused(tap, env, what, config, config_dir, needles):
    rc, err, owned = run_refused(env, config, config_dir)
    tap.ok(rc is not None and rc != 0, '%s: vfiod exits with a failure status' % what,
           'exit %r\n%s' % (rc, err))
    tap.ok(not owned, '%s: vfiod never owns org.vfiod1' % what)
    lines = [line for line in err.splitlines() if all(n in line for n in needles)]
    tap.eq(len(lines), 1, '%s: one line on stderr names %s' % (what, ', '.join(needles)))
    if len(lines) != 1:
        tap.diag(err)


def body(tap, env):
    etc = os.path.join(env.tmp, 'conf')
    empty_dir = os.path.join(etc, 'empty.d')
    os.makedirs(empty_dir)
    group = sorted(env.spec.groups())[-1]

    # A wrong value: line 4 holds "mode": "gentle".
    bad_value = os.path.join(etc, 'bad-value.json')
    write(bad_value, '{\n'
                     '  "remove": {\n'
                     '    "timeout_sec": 5,\n'
                     '    "mode": "gentle"\n'
                     '  }\n'
                     '}\n')
    check_refused(tap, env, 'bad remove.mode', bad_value, empty_dir, [bad_value, ':4:', 'remove.mode'])

    # An unknown top-level key on line 3.
    unknown = os.path.join(etc, 'unknown.json')
    write(unknown, '{\n'
                   '  "allow_noiommu": false,\n'
                   '  "frobnicate": true\n'
                   '}\n')
    check_refused(tap, env, 'unknown key', unknown, empty_dir, [unknown, ':3:', 'frobnicate'])

    # A good main file and a drop-in whose rule has an unknown action on line 5.
    good = os.path.join(etc, 'good.json')
    write(good, '{\n'
                '  "remove": {"mode": "hard", "timeout_sec": 5},\n'
                '  "rules": [\n'
                '    {"users": ["nobody"], "actions": ["acquire"], "targets": ["%d"]}\n'
                '  ]\n'
                '}\n' % group)
    bad_dir = os.path.join(etc, 'bad.d')
    bad_dropin = os.path.join(bad_dir, '50-bad.json')
    write(bad_dropin, '{\n'
                      '  "rules": [\n'
                      '    {"users": ["nobody"],\n'
                      '     "targets": ["%d"],\n'
                      '     "actions": ["explode"]}\n'
                      '  ]\n'
                      '}\n' % group)
    check_refused(tap, env, 'bad drop-in rule', good, bad_dir, [bad_dropin, ':5:', 'actions'])

    # The good file alone: vfiod starts and applies it.
    good_dir = os.path.join(etc, 'good.d')
    os.makedirs(good_dir)
    env.start_daemon(['--config=' + good, '--config-dir=' + good_dir])
    props = env.get_all(vfiodtest.MANAGER_PATH, vfiodtest.MANAGER_IFACE)
    tap.eq(str(props.get('RemoveMode')), 'hard', 'RemoveMode is the file\'s remove.mode')
    tap.eq(int(props.get('RemoveTimeoutUSec', 0)), 5000000, 'RemoveTimeoutUSec is the file\'s timeout_sec')


vfiodtest.main(body, start=False)
