# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The default rule set of the rollback decision, as data.

It follows the runbooks' "Decision Framework" (rollback-procedures.md) and
"Rollback Decision Matrix" (rollback-deploy-command.md). engine.py evaluates
it; the rollback_decision module documents it.

A rule is a dict:

``name``
    Unique; an override with the same name replaces fields of the rule.
``priority``
    Rules are evaluated from the lowest priority up; the first that matches
    decides, the others that match are reported too.
``when``
    ``{input: {operator: value, ...}, ...}``; every condition must hold. A value
    may be ``{'threshold': name}``, read from the thresholds at evaluation.
``decision``
    One of ``DECISIONS``.
``because``
    Words with ``{placeholders}`` filled from the inputs, the derived values
    and the thresholds.

Precedence, and why:

1. data first (100-199): a rollback that would lose data is worse than the
   outage, so irreversible migrations and data corruption come before anything
   else;
2. the runbook's immediate triggers (200-299): service down, error rate over the
   threshold, an active security vulnerability;
3. the runbook's alternatives and investigations (300-599): an external cause,
   a workaround, the signals worth five minutes of investigation;
4. the severity matrix (600-699);
5. no signals at all: the operator's request decides (900);
6. signals that match nothing above: investigate (1000).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Bumped whenever the default rules or thresholds change meaning, so a result says which set decided.
RULES_VERSION = '1'

ROLLBACK_NOW = 'rollback_now'
ROLLBACK_AND_FREEZE_WRITES = 'rollback_and_freeze_writes'
INVESTIGATE_THEN_DECIDE = 'investigate_then_decide'
FIX_FORWARD = 'fix_forward'
HOTFIX = 'hotfix'
WAIT_FOR_EXTERNAL_FIX = 'wait_for_external_fix'

DECISIONS = (ROLLBACK_NOW, ROLLBACK_AND_FREEZE_WRITES, INVESTIGATE_THEN_DECIDE, FIX_FORWARD, HOTFIX,
             WAIT_FOR_EXTERNAL_FIX)
# The decisions under which a rollback goes ahead now.
ROLLBACK_DECISIONS = (ROLLBACK_NOW, ROLLBACK_AND_FREEZE_WRITES)

SEVERITIES = ('critical', 'high', 'medium', 'low')
DATA_IMPACTS = ('none', 'minor', 'major')
MIGRATION_RECOMMENDATIONS = ('safe', 'restore_database', 'fix_forward', 'rollback_to')

DEFAULT_THRESHOLDS = {
    'error_rate_rollback': 5,          # %: above it, roll back now
    'error_rate_investigate': 1,       # %: from it up to error_rate_rollback, investigate first
    'latency_spike_factor': 2,         # p95 latency at this many times the baseline or more is a spike
    'investigate_minutes': 5,          # how long to investigate before deciding
    'critical_fix_minutes': 30,        # the matrix: a fix further away than this means roll back
    'high_fix_minutes': 60,
    'medium_fix_minutes': 120,
}


def _threshold(name):
    return {'threshold': name}


DEFAULT_RULES = (
    # 1. Data first.
    {
        'name': 'migration_irreversible',
        'priority': 100,
        'when': {'migrations.recommendation': {'eq': 'fix_forward'}},
        'decision': FIX_FORWARD,
        'because': 'irreversible migrations are applied ({migrations.irreversible_names}) and no earlier version '
                   'works with the current schema: rolling back could lose data, fix forward',
    },
    {
        'name': 'data_corruption',
        'priority': 110,
        'when': {'data_corruption': {'eq': True}},
        'decision': ROLLBACK_AND_FREEZE_WRITES,
        'because': 'data corruption detected: roll back and freeze writes before more data is damaged',
    },
    {
        'name': 'migration_needs_restore',
        'priority': 120,
        'when': {'migrations.recommendation': {'eq': 'restore_database'}},
        'decision': FIX_FORWARD,
        'because': 'rolling back needs the database restored from its backup, which loses the writes made since '
                   '({migrations.irreversible_names}): fix forward',
    },
    # 2. Roll back immediately.
    {
        'name': 'service_down',
        'priority': 200,
        'when': {'service_down': {'eq': True}},
        'decision': ROLLBACK_NOW,
        'because': 'the service is completely down',
    },
    {
        'name': 'error_rate_high',
        'priority': 210,
        'when': {'error_rate': {'gt': _threshold('error_rate_rollback')}},
        'decision': ROLLBACK_NOW,
        'because': 'error rate {error_rate} % is over {error_rate_rollback} %',
    },
    {
        'name': 'security_vulnerability',
        'priority': 220,
        'when': {'security_vulnerability_active': {'eq': True}},
        'decision': ROLLBACK_NOW,
        'because': 'a security vulnerability is active',
    },
    # 3. Alternatives to a rollback, then what deserves an investigation first.
    {
        'name': 'external_cause',
        'priority': 300,
        'when': {'external_cause': {'eq': True}},
        'decision': WAIT_FOR_EXTERNAL_FIX,
        'because': 'the cause is an external service: a rollback would not fix it, wait for the external fix',
    },
    {
        'name': 'workaround_exists',
        'priority': 400,
        'when': {'workaround_exists': {'eq': True}, 'severity': {'not_in': ['critical', 'high']}},
        'decision': HOTFIX,
        'because': 'a minor bug with a workaround: ship a hotfix',
    },
    {
        'name': 'error_rate_elevated',
        'priority': 500,
        'when': {'error_rate': {'ge': _threshold('error_rate_investigate'), 'le': _threshold('error_rate_rollback')}},
        'decision': INVESTIGATE_THEN_DECIDE,
        'because': 'error rate {error_rate} % is between {error_rate_investigate} % and {error_rate_rollback} %: '
                   'investigate {investigate_minutes} minutes, then decide',
    },
    {
        'name': 'latency_spike',
        'priority': 510,
        'when': {'latency_factor': {'ge': _threshold('latency_spike_factor')}},
        'decision': INVESTIGATE_THEN_DECIDE,
        'because': 'p95 latency {latency_p95_ms} ms is {latency_factor} times the baseline {latency_baseline_ms} ms '
                   '(a spike from {latency_spike_factor} times): investigate {investigate_minutes} minutes, then decide',
    },
    {
        'name': 'single_endpoint_failing',
        'priority': 520,
        'when': {'single_endpoint_failing': {'eq': True}},
        'decision': INVESTIGATE_THEN_DECIDE,
        'because': 'a single endpoint is failing: investigate, it may not need a full rollback',
    },
    {
        'name': 'intermittent_errors',
        'priority': 530,
        'when': {'intermittent_errors': {'eq': True}},
        'decision': INVESTIGATE_THEN_DECIDE,
        'because': 'the errors are intermittent: investigate, they may be transient',
    },
    # 4. The severity matrix.
    {
        'name': 'critical_slow_fix',
        'priority': 600,
        'when': {'severity': {'eq': 'critical'}, 'data_impact': {'in': ['none']},
                 'time_to_fix_minutes': {'gt': _threshold('critical_fix_minutes')}},
        'decision': ROLLBACK_NOW,
        'because': 'critical issue without data impact, and a fix is {time_to_fix_minutes} minutes away '
                   '(over {critical_fix_minutes})',
    },
    {
        'name': 'high_slow_fix',
        'priority': 610,
        'when': {'severity': {'eq': 'high'}, 'data_impact': {'in': ['none', 'minor']},
                 'time_to_fix_minutes': {'gt': _threshold('high_fix_minutes')}},
        'decision': ROLLBACK_NOW,
        'because': 'high-severity issue with {data_impact} data impact, and a fix is {time_to_fix_minutes} minutes '
                   'away (over {high_fix_minutes})',
    },
    {
        'name': 'medium_slow_fix',
        'priority': 620,
        'when': {'severity': {'eq': 'medium'}, 'data_impact': {'in': ['none']},
                 'time_to_fix_minutes': {'gt': _threshold('medium_fix_minutes')}},
        'decision': INVESTIGATE_THEN_DECIDE,
        'because': 'medium-severity issue without data impact, and a fix is {time_to_fix_minutes} minutes away '
                   '(over {medium_fix_minutes}): consider a rollback, investigate {investigate_minutes} minutes, '
                   'then decide',
    },
    {
        'name': 'low_severity',
        'priority': 630,
        'when': {'severity': {'eq': 'low'}, 'data_impact': {'in': ['none']}},
        'decision': FIX_FORWARD,
        'because': 'low-severity issue without data impact: fix forward',
    },
    # 5. and 6. What is left.
    {
        'name': 'operator_request',
        'priority': 900,
        'when': {'signals': {'eq': 0}},
        'decision': ROLLBACK_NOW,
        'because': 'no signals given: rolling back because an operator asked ({reason})',
    },
    {
        'name': 'no_rule_matched',
        'priority': 1000,
        'when': {},
        'decision': INVESTIGATE_THEN_DECIDE,
        'because': 'the signals given ({signal_names}) match no rule: investigate {investigate_minutes} minutes, '
                   'then decide',
    },
)
