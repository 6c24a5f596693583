# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback decision: every row of the runbooks' tables, precedence, overrides, force, bad input."""

from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.decision import rules as rule_set
from ansible_collections.ops.rollback.plugins.module_utils.decision.engine import decide, effective_rules

IRREVERSIBLE = {'name': '0042_drop_orders_note', 'reversible': False, 'reasons': ['drops column orders.note']}
REVERSIBLE = {'name': '0041_add_index', 'reversible': True, 'reasons': []}
FIX_FORWARD_MIGRATIONS = {'recommendation': 'fix_forward', 'migrations': [REVERSIBLE, IRREVERSIBLE]}
ROLLBACK_TO_MIGRATIONS = {'recommendation': 'rollback_to', 'safe_version': 'v1.2.8',
                          'migrations': [IRREVERSIBLE], 'changed': False}
RESTORE_MIGRATIONS = {'recommendation': 'restore_database', 'migrations': [IRREVERSIBLE]}
SAFE_MIGRATIONS = {'recommendation': 'safe', 'migrations': [REVERSIBLE]}


# ---------------------------------------------------------------------------
# The runbooks, row by row
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('signals, migrations, decision, rule, because', [
    # rollback-procedures.md: When to Rollback Immediately
    ({'service_down': True}, None, 'rollback_now', 'service_down', 'the service is completely down'),
    ({'error_rate': 8.0}, None, 'rollback_now', 'error_rate_high', 'error rate 8 % is over 5 %'),
    ({'error_rate': 5.5}, None, 'rollback_now', 'error_rate_high', 'error rate 5.5 % is over 5 %'),
    ({'data_corruption': True}, None, 'rollback_and_freeze_writes', 'data_corruption',
     'data corruption detected: roll back and freeze writes before more data is damaged'),
    ({'security_vulnerability_active': True}, None, 'rollback_now', 'security_vulnerability',
     'a security vulnerability is active'),
    # When to Investigate First
    ({'error_rate': 1.0}, None, 'investigate_then_decide', 'error_rate_elevated',
     'error rate 1 % is between 1 % and 5 %: investigate 5 minutes, then decide'),
    ({'error_rate': 5.0}, None, 'investigate_then_decide', 'error_rate_elevated',
     'error rate 5 % is between 1 % and 5 %: investigate 5 minutes, then decide'),
    ({'latency_p95_ms': 900.0, 'latency_baseline_ms': 300.0}, None, 'investigate_then_decide', 'latency_spike',
     'p95 latency 900 ms is 3 times the baseline 300 ms (a spike from 2 times): investigate 5 minutes, then decide'),
    ({'single_endpoint_failing': True}, None, 'investigate_then_decide', 'single_endpoint_failing',
     'a single endpoint is failing: investigate, it may not need a full rollback'),
    ({'intermittent_errors': True}, None, 'investigate_then_decide', 'intermittent_errors',
     'the errors are intermittent: investigate, they may be transient'),
    # When NOT to Rollback
    ({'error_rate': 3.0}, FIX_FORWARD_MIGRATIONS, 'fix_forward', 'migration_irreversible',
     'irreversible migrations are applied (0042_drop_orders_note: drops column orders.note) and no earlier version '
     'works with the current schema: rolling back could lose data, fix forward'),
    ({'workaround_exists': True, 'severity': 'low'}, None, 'hotfix', 'workaround_exists',
     'a minor bug with a workaround: ship a hotfix'),
    ({'workaround_exists': True}, None, 'hotfix', 'workaround_exists', 'a minor bug with a workaround: ship a hotfix'),
    ({'external_cause': True}, None, 'wait_for_external_fix', 'external_cause',
     'the cause is an external service: a rollback would not fix it, wait for the external fix'),
    # rollback-deploy-command.md: Rollback Decision Matrix
    ({'severity': 'critical', 'data_impact': 'none', 'time_to_fix_minutes': 45}, None, 'rollback_now',
     'critical_slow_fix', 'critical issue without data impact, and a fix is 45 minutes away (over 30)'),
    ({'severity': 'high', 'data_impact': 'minor', 'time_to_fix_minutes': 90}, None, 'rollback_now',
     'high_slow_fix', 'high-severity issue with minor data impact, and a fix is 90 minutes away (over 60)'),
    ({'severity': 'medium', 'data_impact': 'none', 'time_to_fix_minutes': 150}, None, 'investigate_then_decide',
     'medium_slow_fix', 'medium-severity issue without data impact, and a fix is 150 minutes away (over 120): '
     'consider a rollback, investigate 5 minutes, then decide'),
    ({'severity': 'low', 'data_impact': 'none', 'time_to_fix_minutes': 600}, None, 'fix_forward', 'low_severity',
     'low-severity issue without data impact: fix forward'),
    ({'severity': 'low', 'data_impact': 'none'}, None, 'fix_forward', 'low_severity',
     'low-severity issue without data impact: fix forward'),
])
def test_runbook_rows(signals, migrations, decision, rule, because):
    result = decide(signals, migrations=migrations)
    assert (result['decision'], result['matched'][0]['rule'], result['matched'][0]['because']) == (
        decision, rule, because)
    assert result['proceed'] is (decision in ('rollback_now', 'rollback_and_freeze_writes'))
    assert result['investigate_minutes'] == (5 if decision == 'investigate_then_decide' else None)
    assert result['changed'] is False and result['forced'] is False


@pytest.mark.parametrize('signals', [
    # The matrix's time limits are "more than": at the limit, or with a fix sooner, it does not advise a rollback.
    {'severity': 'critical', 'data_impact': 'none', 'time_to_fix_minutes': 30},
    {'severity': 'high', 'data_impact': 'minor', 'time_to_fix_minutes': 60},
    {'severity': 'medium', 'data_impact': 'none', 'time_to_fix_minutes': 120},
    # Rows the matrix does not have.
    {'severity': 'critical', 'data_impact': 'major', 'time_to_fix_minutes': 300},
    {'severity': 'low', 'data_impact': 'major'},
    {'severity': 'high'},
    # Below every threshold.
    {'error_rate': 0.5},
    {'latency_p95_ms': 500.0, 'latency_baseline_ms': 300.0},
    {'service_down': False},
])
def test_signals_that_match_no_rule_mean_investigate(signals):
    result = decide(signals)
    assert result['decision'] == 'investigate_then_decide' and result['proceed'] is False
    assert [entry['rule'] for entry in result['matched']] == ['no_rule_matched']
    assert result['matched'][0]['because'] == (
        'the signals given ({0}) match no rule: investigate 5 minutes, then decide'.format(', '.join(sorted(signals))))


def test_no_signals_is_the_operators_decision():
    result = decide({}, reason='checkout is slow, asked by on-call')
    assert result['decision'] == 'rollback_now' and result['proceed'] is True
    assert result['matched'] == [{'rule': 'operator_request', 'decision': 'rollback_now',
                                  'because': 'no signals given: rolling back because an operator asked '
                                             '(checkout is slow, asked by on-call)'}]
    assert result['message'] == ('Rolling back now: no signals given: rolling back because an operator asked '
                                 '(checkout is slow, asked by on-call).')
    assert result['inputs'] == {'signals': 0}


def test_migrations_alone_are_not_a_signal():
    result = decide({}, migrations=SAFE_MIGRATIONS, reason='asked')
    assert result['matched'][0]['rule'] == 'operator_request' and result['version'] is None


# ---------------------------------------------------------------------------
# Precedence
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('signals, migrations, decision, rules, version', [
    # A rollback that would lose data is worse than the outage.
    ({'service_down': True}, FIX_FORWARD_MIGRATIONS, 'fix_forward', ['migration_irreversible', 'service_down'], None),
    ({'error_rate': 12.0, 'security_vulnerability_active': True}, RESTORE_MIGRATIONS, 'fix_forward',
     ['migration_needs_restore', 'error_rate_high', 'security_vulnerability'], None),
    # Irreversible migrations with a safe version: the rollback goes there.
    ({'service_down': True}, ROLLBACK_TO_MIGRATIONS, 'rollback_now', ['service_down'], 'v1.2.8'),
    ({'data_corruption': True}, ROLLBACK_TO_MIGRATIONS, 'rollback_and_freeze_writes', ['data_corruption'], 'v1.2.8'),
    # rollback_to narrows a rollback, it does not ask for one.
    ({'error_rate': 2.0}, ROLLBACK_TO_MIGRATIONS, 'investigate_then_decide', ['error_rate_elevated'], None),
    # Corruption needs writes frozen even though the database must be restored: that is the runbook's response.
    ({'data_corruption': True}, RESTORE_MIGRATIONS, 'rollback_and_freeze_writes',
     ['data_corruption', 'migration_needs_restore'], None),
    ({'data_corruption': True, 'external_cause': True}, None, 'rollback_and_freeze_writes',
     ['data_corruption', 'external_cause'], None),
    # The immediate triggers come before the alternatives and the investigations.
    ({'service_down': True, 'external_cause': True}, None, 'rollback_now', ['service_down', 'external_cause'], None),
    ({'error_rate': 9.0, 'intermittent_errors': True, 'workaround_exists': True}, None, 'rollback_now',
     ['error_rate_high', 'workaround_exists', 'intermittent_errors'], None),
    ({'external_cause': True, 'error_rate': 2.0}, None, 'wait_for_external_fix',
     ['external_cause', 'error_rate_elevated'], None),
    # A workaround does not turn a critical issue into a hotfix.
    ({'workaround_exists': True, 'severity': 'critical', 'data_impact': 'none', 'time_to_fix_minutes': 45}, None,
     'rollback_now', ['critical_slow_fix'], None),
    # Investigation signals come before the matrix.
    ({'error_rate': 3.0, 'severity': 'critical', 'data_impact': 'none', 'time_to_fix_minutes': 45}, None,
     'investigate_then_decide', ['error_rate_elevated', 'critical_slow_fix'], None),
    ({'severity': 'low', 'data_impact': 'none', 'single_endpoint_failing': True}, None, 'investigate_then_decide',
     ['single_endpoint_failing', 'low_severity'], None),
])
def test_precedence(signals, migrations, decision, rules, version):
    result = decide(signals, migrations=migrations)
    assert result['decision'] == decision
    assert [entry['rule'] for entry in result['matched']] == rules
    assert result['version'] == version


def test_safe_version_is_said():
    result = decide({'service_down': True}, migrations=ROLLBACK_TO_MIGRATIONS)
    assert result['message'] == ('Rolling back now: the service is completely down. The target changed to v1.2.8, '
                                 'the newest version that works with the current schema.')
    assert result['reasons'][-1] == ('the target changed to v1.2.8, the newest version that works with the current '
                                     'schema (irreversible migrations: 0042_drop_orders_note: drops column orders.note)')
    assert result['inputs']['migrations'] == {
        'recommendation': 'rollback_to', 'safe_version': 'v1.2.8',
        'irreversible': ['0042_drop_orders_note: drops column orders.note']}


def test_migrations_not_applied_are_not_named():
    not_applied = dict(IRREVERSIBLE, name='0043_drop_orders_tax', applied=False)
    result = decide({'service_down': True}, migrations=dict(ROLLBACK_TO_MIGRATIONS, migrations=[IRREVERSIBLE, not_applied]))
    assert result['inputs']['migrations']['irreversible'] == ['0042_drop_orders_note: drops column orders.note']


def test_refusal_says_why_and_how_to_force():
    result = decide({'service_down': True}, migrations=FIX_FORWARD_MIGRATIONS)
    assert result['proceed'] is False
    assert result['message'] == (
        'Not rolling back (fix_forward): irreversible migrations are applied (0042_drop_orders_note: drops column '
        'orders.note) and no earlier version works with the current schema: rolling back could lose data, fix '
        'forward. To roll back anyway, run again with -e force=true -e reason="<why>" (in AWX: Force and a Reason in the survey).')


# ---------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------

def test_changed_threshold_moves_the_line():
    signals = {'error_rate': 4.0}
    assert decide(signals)['decision'] == 'investigate_then_decide'
    result = decide(signals, thresholds={'error_rate_rollback': 3})
    assert result['decision'] == 'rollback_now'
    assert result['matched'][0]['because'] == 'error rate 4 % is over 3 %'
    assert result['thresholds']['error_rate_rollback'] == 3


def test_changed_matrix_minutes_and_investigation_time():
    signals = {'severity': 'critical', 'data_impact': 'none', 'time_to_fix_minutes': 20}
    assert decide(signals)['decision'] == 'investigate_then_decide'
    assert decide(signals, thresholds={'critical_fix_minutes': 15})['decision'] == 'rollback_now'
    result = decide({'intermittent_errors': True}, thresholds={'investigate_minutes': 10})
    assert result['investigate_minutes'] == 10
    assert result['message'].startswith('Not rolling back (investigate_then_decide): the errors are intermittent')


def test_disabled_rule():
    result = decide({'external_cause': True, 'error_rate': 2.0}, rules=[{'name': 'external_cause', 'enabled': False}])
    assert result['decision'] == 'investigate_then_decide'
    assert [entry['rule'] for entry in result['matched']] == ['error_rate_elevated']
    assert 'external_cause' not in result['rules']


def test_replaced_rule_keeps_what_it_does_not_give():
    result = decide({'severity': 'medium', 'data_impact': 'none', 'time_to_fix_minutes': 150},
                    rules=[{'name': 'medium_slow_fix', 'decision': 'rollback_now'}])
    assert result['decision'] == 'rollback_now' and result['matched'][0]['rule'] == 'medium_slow_fix'
    assert result['matched'][0]['because'].startswith('medium-severity issue without data impact')


def test_added_rule_placed_by_priority():
    checkout = {'name': 'checkout_failing', 'priority': 150,
                'when': {'single_endpoint_failing': {'eq': True}, 'severity': {'in': ['critical', 'high']}},
                'decision': 'rollback_now', 'because': 'the checkout endpoint fails with severity {severity}'}
    result = decide({'single_endpoint_failing': True, 'severity': 'high'}, rules=[checkout])
    assert result['decision'] == 'rollback_now'
    assert result['matched'][0] == {'rule': 'checkout_failing', 'decision': 'rollback_now',
                                    'because': 'the checkout endpoint fails with severity high'}
    assert result['rules'].index('checkout_failing') == result['rules'].index('migration_needs_restore') + 1
    # Its conditions still have to hold.
    assert decide({'single_endpoint_failing': True, 'severity': 'low'}, rules=[checkout])['decision'] == (
        'investigate_then_decide')


def test_added_rule_refers_to_a_threshold_and_a_missing_signal():
    rule = {'name': 'errors_without_latency', 'priority': 50,
            'when': {'error_rate': {'gt': {'threshold': 'error_rate_investigate'}}, 'latency_factor': {'defined': False}},
            'decision': 'rollback_now', 'because': 'errors over {error_rate_investigate} % and no latency data'}
    assert decide({'error_rate': 2.0}, rules=[rule])['matched'][0]['because'] == (
        'errors over 1 % and no latency data')
    assert decide({'error_rate': 2.0, 'latency_p95_ms': 100.0, 'latency_baseline_ms': 100.0},
                  rules=[rule])['decision'] == 'investigate_then_decide'


def test_the_default_rules_are_valid_and_in_the_documented_order():
    names = [rule['name'] for rule in effective_rules()]
    assert names == [rule['name'] for rule in sorted(rule_set.DEFAULT_RULES, key=lambda rule: rule['priority'])]
    assert names[:3] == ['migration_irreversible', 'data_corruption', 'migration_needs_restore']
    assert names[-2:] == ['operator_request', 'no_rule_matched']


# ---------------------------------------------------------------------------
# Force
# ---------------------------------------------------------------------------

def test_force_overrides_and_records_why():
    result = decide({'error_rate': 2.0}, force=True, force_reason='payments team asked, INC-42')
    assert (result['decision'], result['advised'], result['proceed'], result['forced']) == (
        'rollback_now', 'investigate_then_decide', True, True)
    assert result['reasons'][-1] == 'forced by the operator: payments team asked, INC-42'
    assert result['message'].startswith('Rolling back, forced by the operator (payments team asked, INC-42); '
                                        'the rules advised investigate_then_decide: error rate 2 %')
    assert result['investigate_minutes'] is None


def test_force_takes_reason_and_keeps_the_safe_version():
    result = decide({'external_cause': True}, migrations=ROLLBACK_TO_MIGRATIONS, force=True, reason='on-call call')
    assert result['forced'] is True and result['version'] == 'v1.2.8'
    assert 'forced by the operator: on-call call' in result['reasons']


def test_force_not_needed_is_said():
    result = decide({'data_corruption': True}, force=True, reason='INC-7')
    assert (result['decision'], result['forced']) == ('rollback_and_freeze_writes', False)
    assert result['reasons'][-1] == 'force was given but not needed: the rules already advise a rollback'


def test_force_without_a_reason_is_refused():
    with pytest.raises(InvalidInputError, match=r'^force=true needs a reason: set force_reason \(or reason\)'):
        decide({'error_rate': 2.0}, force=True)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('kwargs, message', [
    (dict(signals={'severity': 'urgent'}), "severity must be one of critical, high, medium, low, got 'urgent'"),
    (dict(signals={'error_rate': -1.0}), 'error_rate cannot be negative, got -1.0'),
    (dict(signals={'error_rate': 120.0}), 'error_rate is a percentage, so at most 100, got 120.0'),
    (dict(signals={'service_down': 'yes'}), "service_down must be a boolean, got 'yes'"),
    (dict(signals={'latency_p95_ms': 900.0}), 'latency_p95_ms and latency_baseline_ms go together'),
    (dict(signals={'latency_p95_ms': 900.0, 'latency_baseline_ms': 0.0}), 'latency_baseline_ms must be more than 0'),
    (dict(signals={'errors': 3}), 'Unknown signals errors'),
    (dict(signals={'latency_factor': 3.0}), 'Unknown signals latency_factor'),  # derived, not given
    (dict(migrations={'recommendation': 'maybe'}), "recommendation one of safe, restore_database, fix_forward, "
                                                   "rollback_to; got 'maybe'"),
    (dict(migrations={'recommendation': 'rollback_to'}), 'migrations recommends rollback_to but gives no safe_version'),
    (dict(thresholds={'error_rate': 3}), "Unknown threshold 'error_rate' in thresholds (known: critical_fix_minutes"),
    (dict(thresholds={'error_rate_rollback': -2}), 'Threshold error_rate_rollback must be a number of 0 or more'),
    (dict(thresholds={'error_rate_investigate': 8}), 'Threshold error_rate_investigate (8) cannot be above '
                                                     'error_rate_rollback (5)'),
    (dict(rules=[{'name': 'service_down', 'decision': 'panic'}]), "Rule 'service_down': unknown decision 'panic' "
                                                                  "(choose one of rollback_now,"),
    (dict(rules=[{'name': 'x', 'priority': 1, 'decision': 'hotfix', 'because': 'b',
                  'when': {'error_rate': {'gte': 3}}}]), "Rule 'x': unknown operator 'gte' on error_rate"),
    (dict(rules=[{'name': 'x', 'priority': 1, 'decision': 'hotfix', 'because': 'b',
                  'when': {'errors': {'gt': 3}}}]), "Rule 'x': when tests an unknown input 'errors'"),
    (dict(rules=[{'name': 'x', 'priority': 1, 'decision': 'hotfix', 'because': 'b',
                  'when': {'severity': {'eq': 'urgent'}}}]), "compares with 'urgent', but severity is one of critical"),
    (dict(rules=[{'name': 'x', 'priority': 1, 'decision': 'hotfix', 'because': 'b',
                  'when': {'severity': {'gt': 'low'}}}]), 'gt on severity compares numbers, but severity is a text'),
    (dict(rules=[{'name': 'x', 'priority': 1, 'decision': 'hotfix', 'because': 'b',
                  'when': {'error_rate': {'gt': {'threshold': 'nope'}}}}]), "gt on error_rate refers to"),
    (dict(rules=[{'name': 'x', 'priority': 1, 'decision': 'hotfix', 'because': 'rate {eror_rate}',
                  'when': {}}]), "because names an unknown placeholder {eror_rate}"),
    (dict(rules=[{'name': 'x', 'decision': 'hotfix'}]), "Rule 'x' in rules is new, so it needs when, because, priority"),
    (dict(rules=[{'name': 'service_down', 'when': {}, 'colour': 'red'}]), "has unknown fields colour"),
    (dict(rules=[{'decision': 'hotfix'}]), 'Every item of rules needs a name'),
    (dict(rules=[{'name': 'service_down', 'enabled': False}, {'name': 'service_down'}]), 'is given twice'),
    (dict(rules=[{'name': 'no_rule_matched', 'enabled': False}], signals={'error_rate': 0.1}),
     'No enabled rule matches these signals (error_rate)'),
])
def test_bad_input_is_refused_clearly(kwargs, message):
    with pytest.raises(InvalidInputError) as caught:
        decide(**kwargs)
    assert message in caught.value.msg
    assert caught.value.msg.endswith('Nothing was decided.')
