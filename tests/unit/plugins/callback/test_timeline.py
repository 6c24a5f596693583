# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The summary's verdicts: "done" means converged and verified, nothing less."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.ops.rollback.plugins.callback.timeline import CallbackModule

T0 = datetime.datetime(2026, 11, 23, 3, 0, tzinfo=datetime.timezone.utc)


def callback(verify_outcome, results):
    cb = CallbackModule()
    cb.path = '/tmp/timeline.jsonl'
    cb.targets = {'demo': {'version': 'v1.2.9', 'rule': 'ledger'}}
    cb.phases = {'verify': {'start': T0, 'end': T0 + datetime.timedelta(seconds=2), 'outcome': verify_outcome,
                            'reason': 'no health endpoints configured'}}
    for host, (to_version, phases, result) in results.items():
        cb.hosts[host] = {'service': 'demo', 'from_version': 'v1.3.0', 'to_version': to_version,
                          'phases': set(phases), 'result': result}
    return '\n'.join(cb.summary_lines())


@pytest.mark.parametrize('verify, results, expected', [
    ('ok', {'lab1': ('v1.2.9', ['roll_back'], None)}, ['-> done', 'lab1  v1.3.0 -> v1.2.9  ok']),
    ('skipped', {'lab1': ('v1.2.9', ['roll_back'], None)}, ['-> rolled back but NOT verified']),
    ('ok', {'lab1': ('v1.3.0', ['roll_back'], 'failed: restart failed'),
            'lab2': ('v1.3.0', ['preflight'], None)},
     ['-> FAILED on lab1', 'lab1  v1.3.0 -> v1.3.0  FAILED (failed: restart failed)',
      'lab2  v1.3.0 -> v1.3.0  not reached: left on v1.3.0']),
])
def test_summary_verdicts(verify, results, expected):
    summary = callback(verify, results)
    for text in expected:
        assert text in summary
