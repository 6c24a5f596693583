# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verdict of a rollback (DESIGN.md, Words: done), computed in one place.

The report phase computes it from the run's facts (``run_verdicts``, through
the ``rollback_verdicts`` filter) so notifications and reports can read it;
the timeline callback renders it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

DONE = 'done'
NOT_VERIFIED = 'not_verified'
FAILED = 'failed'
PLANNED = 'planned'
REFUSED = 'refused'

NOTHING_CHANGED = 'Nothing was changed.'

# What Ansible wraps around an error raised while templating a task's
# arguments (a filter refusing the run, say); the user needs only the error.
_WRAPPERS = re.compile(
    r"^(?:Task failed: |Finalization of task args for '[^']*' failed: |Error while resolving value for '[^']*': |"
    r"The filter plugin '[^']*' failed: )+")


def reason(message):
    """Why a run stopped, as its error said it, without Ansible's wrapping."""
    return _WRAPPERS.sub('', (message or '').strip())


def state_fact(host_vars):
    """The fact a platform role's ``state`` entry point leaves on a host: ``<rollback_platform>_state``."""
    return '{0}_state'.format(host_vars.get('rollback_platform'))


_WORDS = {DONE: 'done', NOT_VERIFIED: 'rolled back but NOT verified', PLANNED: 'planned'}


def host_result(host, check_mode, refused=False):
    """One host's line: ``host`` has ``from_version``, ``to_version``, ``reached`` (the roll-back
    phase ran for it) and ``failure`` (a message, or None)."""
    if host.get('failure'):
        return 'FAILED ({0})'.format(host['failure'])
    if refused:
        return 'unchanged, on {0}'.format(host.get('from_version') or '(none)')
    if not host.get('reached'):
        return 'not reached: left on {0}'.format(host.get('from_version') or '(none)')
    if check_mode:
        return 'plan only (check mode)'
    if host.get('from_version') != host.get('to_version'):
        return 'ok, restarted' if host.get('restarted') else 'ok'
    # Already there, yet restarted: an earlier run switched but never finished its restart.
    return 'ok, already there, restarted' if host.get('restarted') else 'ok, already there'


def service_verdict(hosts, check_mode=False, verified=False, stopped=None):
    """The verdict of one service from its hosts (``{name: host}``, as ``host_result`` takes).

    ``verified``: every host of the service passed verification. ``stopped``:
    why the run stopped for the service as a whole (a lock held by another run,
    a batch over its failure tolerance), when it did. Stopped before any host
    was reached, the run was refused and nothing was changed.
    Returns ``{'state', 'text', 'failed_hosts', 'hosts'}``.
    """
    failed = sorted(name for name, host in hosts.items() if host.get('failure'))
    refused = bool(stopped) and not failed and not any(host.get('reached') for host in hosts.values())
    if failed:
        state, text = FAILED, 'FAILED on {0}'.format(', '.join(failed))
    elif refused:
        why = reason(stopped)
        state, text = REFUSED, 'refused: {0}'.format(why if why.endswith(NOTHING_CHANGED) else why + ' ' + NOTHING_CHANGED)
    elif stopped:
        state, text = FAILED, 'FAILED: {0}'.format(reason(stopped))
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
        'hosts': dict((name, dict(host, result=host_result(host, check_mode, refused))) for name, host in hosts.items()),
    }


def run_verdicts(hosts_vars, targets, check_mode=False):
    """Per service, the verdict from each host's facts as the phase roles leave them
    (``<platform>_state``, ``roll_back_outcome``, ``verify_health``, ``rollback_stopped``)."""
    services = {}
    stopped = None
    for host_vars in hosts_vars:
        outcome = host_vars.get('roll_back_outcome') or {}
        checked = host_vars.get('verify_health') or {}
        state = host_vars.get(state_fact(host_vars)) or {}
        name = host_vars.get('rollback_service') or host_vars['inventory_hostname']
        entry = services.setdefault(name, {'hosts': {}, 'verified': True, 'stopped': None})
        entry['hosts'][host_vars['inventory_hostname']] = {
            'from_version': state.get('current') or (
                '{0} (missing release)'.format(state['current_missing']) if state.get('current_missing') else None),
            'to_version': outcome.get('to_version') or state.get('current'),
            'reached': bool(outcome),
            'restarted': bool(outcome.get('restarted')),
            'failure': outcome.get('failure') or (
                'not healthy on the target version: {0}'.format(checked.get('msg')) if checked.get('passed') is False
                else None),
        }
        entry['verified'] = entry['verified'] and bool(checked.get('passed'))
        if host_vars.get('rollback_stopped'):
            entry['stopped'] = entry['stopped'] or host_vars['rollback_stopped']
            stopped = stopped or host_vars['rollback_stopped']
    result = {}
    for name, entry in sorted(services.items()):
        target = (targets or {}).get(name) or {}
        result[name] = service_verdict(
            entry['hosts'], check_mode=check_mode, verified=entry['verified'],
            stopped=entry['stopped'] or (stopped and 'stopped because the run stopped: {0}'.format(reason(stopped))))
        # What the plan said beside the target (skipped releases, a forced bad version, dangling links).
        result[name].update(target=target.get('version'), rule=target.get('rule'), notes=target.get('notes') or [])
    return result
