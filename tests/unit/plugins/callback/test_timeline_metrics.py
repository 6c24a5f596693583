# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The timeline records what a metrics gate measured, as metrics_check returns it (report_checks)."""

from __future__ import annotations

import json

from ansible_collections.ops.rollback.plugins.callback.timeline import CallbackModule

RATIO = {'name': 'error_ratio', 'before': 0.33, 'after': 0.0, 'threshold': 'max 0.05', 'passed': True}
P95 = {'name': 'p95_seconds', 'before': '+Inf', 'after': 0.4, 'threshold': 'max 0.2', 'passed': False}


class _Named:
    def __init__(self, name):
        self._name = name
        self._uuid = 'uuid-' + name

    def get_name(self):
        return self._name


class _Result:
    def __init__(self, task, result):
        self._host, self._task, self._result = _Named('localhost'), _Named(task), result


def test_a_metrics_gate_puts_its_values_on_the_timeline(tmp_path):
    cb = CallbackModule()
    cb.path = str(tmp_path / 'timeline.jsonl')
    cb._phase = 'verify'
    # A loop over services, as the verify role runs it; one service's gate failed.
    cb._record(_Result('Gate on each service\'s metrics', {'results': [
        {'item': {'key': 'shop', 'value': []}, 'status': 'Successful', 'report_checks': [RATIO]},
        {'item': {'key': 'cart', 'value': []}, 'status': 'Failed', 'report_checks': [P95], 'failed': True},
        {'item': {'key': 'idle'}, 'skipped': True},
    ]}), 'ignored')
    # One gate, not in a loop; and a task that measured nothing.
    cb._record(_Result('Gate on metrics', {'status': 'Successful', 'report_checks': [RATIO]}), 'ok')
    cb._record(_Result('Check health', {'passed': True}), 'ok')
    records = [json.loads(line) for line in (tmp_path / 'timeline.jsonl').read_text().splitlines()]
    assert records[0]['checks'] == [dict(RATIO, service='shop'), dict(P95, service='cart')]
    assert records[1]['checks'] == [RATIO]
    assert 'checks' not in records[2]
