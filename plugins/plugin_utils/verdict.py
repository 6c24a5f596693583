# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verdict of a rollback (DESIGN.md, Words: done), computed in one place.

The report phase computes it from the run's facts (``rollback_verdicts``
filter) so notifications and reports can read it; the timeline callback
renders it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DONE = 'done'
NOT_VERIFIED = 'not_verified'
FAILED = 'failed'
PLANNED = 'planned'

_WORDS = {DONE: 'done', NOT_VERIFIED: 'rolled back but NOT verified', PLANNED: 'planned'}


def host_result(host, check_mode):
    """One host's line: ``host`` has ``from_version``, ``to_version``, ``reached`` (the roll-back
    phase ran for it) and ``failure`` (a message, or None)."""
    if host.get('failure'):
        return 'FAILED ({0})'.format(host['failure'])
    if not host.get('reached'):
        return 'not reached: left on {0}'.format(host.get('from_version') or '(none)')
    if check_mode:
        return 'plan only (check mode)'
    return 'ok' if host.get('from_version') != host.get('to_version') else 'ok, already there'


def service_verdict(hosts, check_mode=False, verified=False, stopped=None):
    """The verdict of one service from its hosts (``{name: host}``, as ``host_result`` takes).

    ``verified``: every host of the service passed verification. ``stopped``:
    why the run stopped for the service as a whole (a lock held by another run,
    a batch over its failure tolerance), when it did.
    Returns ``{'state', 'text', 'failed_hosts', 'hosts'}``.
    """
    failed = sorted(name for name, host in hosts.items() if host.get('failure'))
    if failed:
        state, text = FAILED, 'FAILED on {0}'.format(', '.join(failed))
    elif stopped:
        state, text = FAILED, 'FAILED: {0}'.format(stopped)
    elif check_mode:
        state, text = PLANNED, _WORDS[PLANNED]
    elif verified and all(host.get('reached') for host in hosts.values()):
        state, text = DONE, _WORDS[DONE]
    else:
        state, text = NOT_VERIFIED, _WORDS[NOT_VERIFIED]
    return {
        'state': state,
        'text': text,
        'failed_hosts': failed,
        'hosts': dict((name, dict(host, result=host_result(host, check_mode))) for name, host in hosts.items()),
    }
