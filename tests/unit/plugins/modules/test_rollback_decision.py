# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollback_decision as Ansible runs it: options, check mode, errors."""

from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.modules import rollback_decision


@pytest.fixture
def _run(run_module):
    return lambda args: run_module(rollback_decision.main, args)


def test_rolls_back_on_a_high_error_rate(_run):
    code, out = _run({'error_rate': 8, 'severity': 'high', 'reason': 'error rate 8%'})
    assert code == 0
    assert (out['changed'], out['decision'], out['proceed'], out['forced']) == (False, 'rollback_now', True, False)
    assert out['matched'] == [{'rule': 'error_rate_high', 'decision': 'rollback_now',
                               'because': 'error rate 8 % is over 5 %'}]
    assert out['inputs'] == {'error_rate': 8.0, 'severity': 'high', 'signals': 2}
    assert out['rules_version'] == '1'


def test_check_mode_gives_the_same_decision(_run):
    args = {'service_down': True, 'migrations': {'recommendation': 'rollback_to', 'safe_version': 'v1.2.8',
                                                 'migrations': [{'name': '0042', 'reversible': False,
                                                                 'reasons': ['drops a column']}]}}
    _code, applied = _run(args)
    _code, checked = _run(dict(args, _ansible_check_mode=True, _ansible_diff=True))
    for out in (applied, checked):
        assert (out['decision'], out['version'], out['changed']) == ('rollback_now', 'v1.2.8', False)
        assert 'diff' not in out
    assert applied['message'] == checked['message']


def test_advises_against_and_says_how_to_force(_run):
    code, out = _run({'error_rate': 2.5, 'thresholds': {'investigate_minutes': 10}})
    assert code == 0 and out['proceed'] is False
    assert out['investigate_minutes'] == 10
    assert out['message'].endswith('To roll back anyway, run again with -e force=true -e reason="<why>" (in AWX: Force and a Reason in the survey).')


def test_force_with_a_reason(_run):
    code, out = _run({'external_cause': True, 'force': True, 'reason': 'INC-42: vendor says it is us'})
    assert code == 0
    assert (out['decision'], out['advised'], out['forced'], out['proceed']) == (
        'rollback_now', 'wait_for_external_fix', True, True)
    assert out['reasons'][-1] == 'forced by the operator: INC-42: vendor says it is us'


def test_overrides_from_options(_run):
    code, out = _run({
        'single_endpoint_failing': True, 'severity': 'critical',
        'rules': [{'name': 'checkout_failing', 'priority': 150, 'decision': 'rollback_now',
                   'when': {'single_endpoint_failing': {'eq': True}, 'severity': {'in': ['critical', 'high']}},
                   'because': 'the checkout endpoint fails with severity {severity}'}],
    })
    assert code == 0 and out['decision'] == 'rollback_now'
    assert out['matched'][0]['because'] == 'the checkout endpoint fails with severity critical'


@pytest.mark.parametrize('args, message, option', [
    ({'severity': 'urgent'}, 'value of severity must be one of: critical, high, medium, low, got: urgent', None),
    ({'latency_p95_ms': 900}, 'parameters are required together: latency_p95_ms, latency_baseline_ms', None),
    ({'error_rate': -3}, 'error_rate cannot be negative, got -3.0. Nothing was decided.', 'error_rate'),
    ({'error_rate': 2, 'force': True}, 'force=true needs a reason', 'force_reason'),
    ({'rules': [{'name': 'service_down', 'when': {'service_down': {'is': True}}}]},
     "Rule 'service_down': unknown operator 'is' on service_down", 'rules'),
])
def test_bad_input_fails_clearly(_run, args, message, option):
    code, out = _run(args)
    assert code == 1 and out['failed'] is True and out.get('changed', False) is False
    assert message in out['msg']
    assert out.get('option') == option
    assert 'decision' not in out
