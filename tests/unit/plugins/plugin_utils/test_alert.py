# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a rollback takes from the alert ansible-rulebook hands it (plugin_utils/alert.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.decision.engine import decide
from ansible_collections.ops.rollback.plugins.plugin_utils.alert import from_event


def event(status='firing', labels=None, annotations=None):
    alert = {
        'status': status,
        'labels': {'alertname': 'DemoErrorRate', 'service': 'demo', 'severity': 'critical', 'auto_rollback': 'true'},
        'annotations': {'summary': '33% of demo requests fail', 'error_rate': '33.33'},
        'startsAt': '2026-12-01T12:00:03.1Z',
        'fingerprint': 'abc123',
        'generatorURL': 'http://prometheus:9090/graph',
    }
    alert['labels'].update(labels or {})
    alert['annotations'].update(annotations or {})
    return {'alert': alert, 'meta': {'receiver': 'ops-rollback'}}


def test_a_firing_alert_names_the_service_the_reason_and_the_signals():
    taken = from_event(event())
    assert taken['service'] == 'demo'
    assert taken['reason'] == 'alert DemoErrorRate firing since 2026-12-01T12:00:03.1Z: 33% of demo requests fail'
    assert taken['signals'] == {'severity': 'critical', 'error_rate': 33.33}
    assert taken['trigger']['name'] == 'DemoErrorRate'
    assert taken['trigger']['labels']['auto_rollback'] == 'true'
    # The decision takes those signals as they are.
    assert decide(signals=taken['signals'])['decision'] == 'rollback_now'


def test_signal_annotations_parse_percentages_and_booleans_and_bad_values_are_left_out_with_a_reason():
    taken = from_event(event(labels={'severity': 'warning'},
                             annotations={'error_rate': '8.5%', 'service_down': 'true', 'latency_p95_ms': 'NaN'}))
    assert taken['signals'] == {'error_rate': 8.5, 'service_down': True}
    assert any(note.startswith('severity=') for note in taken['ignored'])
    assert any(note.startswith('latency_p95_ms=') for note in taken['ignored'])


@pytest.mark.parametrize('given, words', [
    (event(status='resolved'), 'is resolved, not firing'),
    (event(labels={'service': ''}), 'has no "service" label'),
    ({'payload': {}}, 'holds no Alertmanager alert (its keys: payload)'),
    ('text', 'holds no Alertmanager alert (its keys: str)'),
])
def test_an_event_that_cannot_start_a_rollback_is_refused_before_anything_changes(given, words):
    with pytest.raises(InvalidInputError) as raised:
        from_event(given)
    assert words in raised.value.msg
    assert 'Nothing was changed.' in raised.value.msg
