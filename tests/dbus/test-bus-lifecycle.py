#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon's life on the bus: it takes org.vfiod1 once its inventory is loaded, exits 0 on
SIGTERM and SIGINT releasing the name, can be started again, and refuses to start next to a
running instance instead of stealing the name."""

import os
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfiodtest  # noqa: E402


def body(tap, env):
    tap.ok(env.name_owner() is not None, 'vfiod owns org.vfiod1 after start')
    tap.eq(len(env.manager('ListGroups')), len(env.spec.groups()), 'the inventory is loaded when the name is taken')

    rc = env.stop_daemon(signal.SIGTERM)
    tap.eq(rc, 0, 'vfiod exits 0 on SIGTERM')
    tap.ok(env.name_owner() is None, 'org.vfiod1 is released after SIGTERM')
    log = env.read(env.daemon_log)
    tap.ok('ERROR' not in log and 'AddressSanitizer' not in log and 'runtime error' not in log,
           'no sanitizer report in the log', log)

    env.start_daemon()
    tap.ok(env.ping(), 'vfiod starts again after SIGTERM')

    # A second instance must not take over, and must say so with a failure status.
    owner = env.name_owner()
    p = subprocess.run([env.args.vfiod] + env.daemon_options(), capture_output=True, text=True,
                       timeout=vfiodtest.TIMEOUT)
    tap.ok(p.returncode != 0, 'a second vfiod fails to start while the first owns the name',
           'exit %d\n%s' % (p.returncode, p.stderr))
    tap.eq(env.name_owner(), owner, 'the first vfiod keeps org.vfiod1')
    tap.ok(env.ping(), 'the first vfiod still answers')

    rc = env.stop_daemon(signal.SIGINT)
    tap.eq(rc, 0, 'vfiod exits 0 on SIGINT')

    env.start_daemon()
    # vfiodtest.main() checks the final SIGTERM.


if __name__ == '__main__':
    vfiodtest.main(body)
