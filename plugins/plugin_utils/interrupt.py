# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A graceful stop on SIGINT or SIGTERM (DESIGN.md: safe with data).

Ansible's own handling of either signal ends ansible-playbook at once: no
``always`` section runs, so locks stay behind and no summary is printed. The
timeline callback installs ``graceful_stop`` instead. The first signal only
asks the run to stop: the hosts rolling back now finish their step, no
further batch starts, and the run goes on through its ``always`` section
(report, release of every lock, summary). A second signal is handled as
Ansible would handle it.

The request reaches the tasks through the environment: every task runs in a
worker forked from ansible-playbook after the signal, and reads it with
``lookup('ansible.builtin.env', STOP_VARIABLE)`` (the roll_back role does).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal

STOP_VARIABLE = 'OPS_ROLLBACK_STOP_REQUESTED'
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_requested():
    """The name of the signal that asked the run to stop, or None."""
    return os.environ.get(STOP_VARIABLE) or None


def graceful_stop(say):
    """Handle SIGINT and SIGTERM as a request to stop; ``say(text)`` tells the operator."""
    previous = dict((number, signal.getsignal(number)) for number in SIGNALS)

    def handler(number, frame):
        if stop_requested():
            # Asked twice: stop now, as Ansible does (its handler, or the default).
            signal.signal(number, previous[number] if callable(previous[number]) else signal.SIG_DFL)
            if callable(previous[number]):
                previous[number](number, frame)
            else:
                os.kill(os.getpid(), number)
            return
        os.environ[STOP_VARIABLE] = signal.Signals(number).name
        say('[ops.rollback] {0} received: the hosts rolling back now finish, no further batch starts, then every '
            'lock is released and the summary printed. Send it again to stop at once (locks are then left for the '
            'next run to take over).'.format(signal.Signals(number).name))

    for number in SIGNALS:
        signal.signal(number, handler)
