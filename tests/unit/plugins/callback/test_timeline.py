# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The summary renders the report phase's verdicts: "done" means converged and verified, nothing less."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.ops.rollback.plugins.callback.timeline import CallbackModule
from ansible_collections.ops.rollback.plugins.filter.rollback import rollback_verdicts

T0 = datetime.datetime(2026, 11, 23, 3, 0, tzinfo=datetime.timezone.utc)
TARGETS = {'demo': {'version': 'v1.2.9', 'rule': 'ledger'}}


def host(name, rolled_back=None, failure=None, verified=False, stopped=None, current='v1.3.0'):
    """A host's facts at the end of a run, as the phase roles leave them."""
    facts = {'inventory_hostname': name, 'rollback_service': 'demo', 'rollback_platform': 'symlink',
             'symlink_state': {'current': current}}
    if rolled_back or failure:
        facts['roll_back_outcome'] = {'to_version': rolled_back or current}
        if failure:
            facts['roll_back_outcome']['failure'] = failure
    if verified:
        facts['verify_health'] = {'passed': True}
    if stopped:
        facts['rollback_stopped'] = stopped
    return facts


def summary(hosts, check_mode=False):
    cb = CallbackModule()
    cb.path = '/tmp/timeline.jsonl'
    cb.check_mode = check_mode
    cb.phases = {'verify': {'start': T0, 'end': T0 + datetime.timedelta(seconds=2), 'outcome': 'ok'}}
    cb.verdicts = rollback_verdicts(hosts, TARGETS, check_mode)
    return '\n'.join(cb.summary_lines())


@pytest.mark.parametrize('hosts, expected', [
    ([host('lab1', 'v1.2.9', verified=True), host('lab2', 'v1.2.9', verified=True, current='v1.2.9')],
     ['service demo: target v1.2.9 (rule: ledger) -> done', 'lab1  v1.3.0 -> v1.2.9  ok',
      'lab2  v1.2.9 -> v1.2.9  ok, already there']),
    # Converged but one host not verified: never "done".
    ([host('lab1', 'v1.2.9', verified=True), host('lab2', 'v1.2.9')], ['-> rolled back but NOT verified']),
    ([host('lab1', failure='restart failed', stopped='batch 1 failed'), host('lab2')],
     ['-> FAILED on lab1', 'lab1  v1.3.0 -> v1.3.0  FAILED (restart failed)',
      'lab2  v1.3.0 -> v1.3.0  not reached: left on v1.3.0']),
    # Stopped before any host changed (a lock held by another run): refused, says why and that nothing changed.
    ([host('lab1', stopped='lab2: Another rollback is running here'), host('lab2')],
     ['-> refused: lab2: Another rollback is running here Nothing was changed.',
      'lab1  v1.3.0 -> v1.3.0  unchanged, on v1.3.0']),
])
def test_summary_verdicts(hosts, expected):
    text = summary(hosts)
    for line in expected:
        assert line in text


def test_check_mode_is_a_plan():
    assert '-> planned' in summary([host('lab1', 'v1.2.9')], check_mode=True)


def test_no_verdict_says_so():
    cb = CallbackModule()
    cb.path = '/tmp/timeline.jsonl'
    assert 'no verdict: the run ended before its report phase' in '\n'.join(cb.summary_lines())
