#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rollback_decision
short_description: Decide from an incident's signals whether to roll back now, investigate, fix forward or wait
version_added: "0.3.0"
description:
  - The decision framework of the runbooks as data. Given the signals of an incident (service down, error rate,
    latency, data corruption, an active security vulnerability, severity, data impact, time to fix, the migrations
    applied since the target, a workaround, an external cause), it returns RV(decision) (V(rollback_now),
    V(rollback_and_freeze_writes), V(investigate_then_decide), V(fix_forward), V(hotfix) or V(wait_for_external_fix)),
    whether a rollback should go ahead now (RV(proceed)), and every rule that matched, in words.
  - Every signal is optional; give what you know. A signal that is not given is no evidence for anything. V(false)
    counts as given (it says something was checked).
  - The rules are evaluated in priority order and the first that matches decides; the others that match are
    reported too. The default rules, with their priority and decision, are below.
  - Data first. V(migration_irreversible) (100) - O(migrations) recommends V(fix_forward), so V(fix_forward).
    V(data_corruption) (110) - O(data_corruption), so V(rollback_and_freeze_writes).
    V(migration_needs_restore) (120) - O(migrations) recommends V(restore_database), which loses the writes made
    since the backup, so V(fix_forward).
  - Immediate rollback, V(rollback_now). V(service_down) (200); V(error_rate_high) (210) - O(error_rate) over
    C(error_rate_rollback); V(security_vulnerability) (220) - O(security_vulnerability_active).
  - Alternatives. V(external_cause) (300), so V(wait_for_external_fix). V(workaround_exists) (400) - a workaround
    exists and O(severity) is not V(critical) or V(high), so V(hotfix).
  - Investigate first, V(investigate_then_decide). V(error_rate_elevated) (500) - O(error_rate) from
    C(error_rate_investigate) up to C(error_rate_rollback); V(latency_spike) (510) - O(latency_p95_ms) at
    C(latency_spike_factor) times O(latency_baseline_ms) or more; V(single_endpoint_failing) (520);
    V(intermittent_errors) (530).
  - The severity matrix. V(critical_slow_fix) (600) - critical, no data impact, a fix more than
    C(critical_fix_minutes) away, so V(rollback_now). V(high_slow_fix) (610) - high, no or minor data impact, a fix
    more than C(high_fix_minutes) away, so V(rollback_now). V(medium_slow_fix) (620) - medium, no data impact, a fix
    more than C(medium_fix_minutes) away, so consider a rollback, V(investigate_then_decide). V(low_severity) (630) -
    low, no data impact, so V(fix_forward).
  - The rest. V(operator_request) (900) - no signal at all, so V(rollback_now). V(no_rule_matched) (1000) - always
    matches, so V(investigate_then_decide).
  - Why this order. Data comes first, because a rollback that would lose data is worse than the outage. Then the
    runbook's triggers for an immediate rollback, then its alternatives (an external cause, a workaround) and the
    signals worth an investigation, then the severity matrix.
  - With no signal at all, the decision is the operator's (rule V(operator_request)) - V(rollback_now), because
    an operator asked for the rollback, with O(reason) in its words. Signals that match no rule give
    V(investigate_then_decide) (rule V(no_rule_matched)).
  - When the decision is a rollback and O(migrations) recommends V(rollback_to), the rollback goes to that
    migration check's C(safe_version), the newest version that works with the current schema - RV(version) is set
    and RV(message) says the target changed. V(rollback_to) does not trigger a rollback on its own.
  - O(force) rolls back whatever the rules advise, and records why (O(force_reason)). The rules' own decision is
    still returned in RV(advised) and RV(matched).
author: ops.rollback maintainers (!UNKNOWN)
options:
  service_down:
    description: The service is completely down.
    type: bool
  error_rate:
    description: Error rate of the service in percent, from V(0) to V(100), for example V(8) for 8 %.
    type: float
  latency_p95_ms:
    description:
      - 95th percentile latency now, in milliseconds. Requires O(latency_baseline_ms).
      - A spike is a p95 at C(latency_spike_factor) times the baseline or more (see O(thresholds)).
    type: float
  latency_baseline_ms:
    description: Usual 95th percentile latency of the service in milliseconds, more than V(0). Requires O(latency_p95_ms).
    type: float
  data_corruption:
    description: Data corruption has been detected.
    type: bool
  security_vulnerability_active:
    description: A security vulnerability of the deployed version is active (exploitable now).
    type: bool
  severity:
    description: Severity of the incident.
    type: str
    choices: [critical, high, medium, low]
  data_impact:
    description: How much data the incident affects.
    type: str
    choices: [none, minor, major]
  time_to_fix_minutes:
    description: Estimated minutes until a fix could be deployed, V(0) or more.
    type: int
  migrations:
    description:
      - The result of M(ops.rollback.migration_check) between the target and the current version.
      - Read are C(recommendation) (V(safe), V(restore_database), V(fix_forward) or V(rollback_to)), C(safe_version)
        (required with V(rollback_to)) and C(migrations), a list with C(reversible) and C(reasons) (and C(name),
        C(id) or C(version)) for each migration; one with C(applied=false) is not counted. Other keys are ignored.
      - Not an incident signal. It constrains the decision - see the description.
    type: dict
  workaround_exists:
    description: A workaround exists for the bug (a minor bug with a workaround is hotfixed).
    type: bool
  external_cause:
    description: The cause is an external service, which a rollback would not fix.
    type: bool
  single_endpoint_failing:
    description: Only a single endpoint is failing.
    type: bool
  intermittent_errors:
    description: The errors are intermittent.
    type: bool
  rules:
    description:
      - Changes to the default rules, for example per service in its inventory variables.
      - An item whose C(name) is a default rule's replaces the fields it gives. C(enabled=false) disables that rule.
      - An item with a new C(name) adds a rule; it needs C(when), C(decision), C(because) and C(priority).
      - C(priority) (a number) places the rule; rules are evaluated from the lowest up, and with equal priorities
        the default rules come first.
      - >-
        C(when) maps inputs to conditions, and a rule matches when every condition holds, for example
        C({error_rate: {gt: 5}}), C({severity: {eq: critical}}), C({data_impact: {in: [none]}}),
        C({migrations.recommendation: {eq: fix_forward}}). An empty C(when) always matches.
      - The inputs are the signals above, and C(latency_factor) (O(latency_p95_ms) divided by
        O(latency_baseline_ms)), C(signals) (how many signals were given), C(migrations.recommendation),
        C(migrations.safe_version) and C(migrations.irreversible) (how many irreversible migrations).
      - >-
        The operators are C(eq), C(ne), C(gt), C(ge), C(lt), C(le), C(in), C(not_in) (both with a list) and
        C(defined) (V(true) or V(false)). A number may be a threshold, C({threshold: error_rate_rollback}). A signal
        that is not given satisfies only C(ne), C(not_in) and C(defined=false).
      - C(because) is the rule's words, with placeholders such as C({error_rate}), C({time_to_fix_minutes}), a
        threshold C({error_rate_rollback}), C({reason}), C({signal_names}) or C({migrations.irreversible_names}).
      - A wrong field, input, operator, value, threshold name, placeholder or decision is refused with what to fix.
    type: list
    elements: dict
  thresholds:
    description:
      - Changes to the default thresholds, numbers of V(0) or more.
      - C(error_rate_rollback) (default V(5)) - an error rate above it, in percent, rolls back now.
      - C(error_rate_investigate) (default V(1)) - from it up to C(error_rate_rollback), investigate first.
      - C(latency_spike_factor) (default V(2)) - a p95 latency at this many times the baseline or more is a spike.
      - C(investigate_minutes) (default V(5)) - how long to investigate before deciding, returned in RV(investigate_minutes).
      - C(critical_fix_minutes) (V(30)), C(high_fix_minutes) (V(60)), C(medium_fix_minutes) (V(120)) - the severity
        matrix, minutes to a fix beyond which a rollback is advised (considered, for medium).
    type: dict
  reason:
    description: Why a rollback is asked for, as the operator or the alert said it. Used in the words of the rules.
    type: str
  force:
    description:
      - Roll back even when the rules advise against it (RV(proceed=true), RV(decision=rollback_now), RV(forced=true)).
      - Needs O(force_reason) or O(reason). A target narrowed by O(migrations) still applies.
    type: bool
    default: false
  force_reason:
    description: Why the rules are overridden, recorded in RV(reasons) and RV(message). Defaults to O(reason).
    type: str
extends_documentation_fragment:
  - ops.rollback._attributes.read_only
  - ops.rollback._attributes.action_group_incident
notes:
  - The module only evaluates its options; it reads and changes nothing on the host and always reports
    C(changed=false). Check mode gives the same decision.
  - The playbook's decide phase stops a rollback when RV(proceed) is V(false), showing RV(message), which says why
    and how to force it (C(-e force=true -e reason="...")).
seealso:
  - module: ops.rollback.migration_check
    description: The migrations between two versions, which O(migrations) takes.
"""

EXAMPLES = r"""
- name: Decide from the error rate and the severity
  ops.rollback.rollback_decision:
    error_rate: 8
    severity: high
    reason: error rate 8% after the 1.3.0 deploy
  register: decision

- name: Stop unless the rules advise a rollback now
  ansible.builtin.assert:
    that: decision.proceed
    fail_msg: "{{ decision.message }}"

- name: Decide with the migrations between the target and the current version
  ops.rollback.rollback_decision:
    service_down: true
    migrations:
      recommendation: rollback_to
      safe_version: v1.2.8
      migrations:
        - name: 0042_drop_orders_note
          reversible: false
          reasons: [drops column orders.note]
  register: decision

- name: Show where the rollback goes
  ansible.builtin.debug:
    msg: "{{ decision.decision }} to {{ decision.version }}: {{ decision.reasons | join('; ') }}"

- name: Decide for a service that rolls back from 3 % errors and never waits on a single endpoint
  ops.rollback.rollback_decision:
    error_rate: 3.5
    single_endpoint_failing: true
    thresholds:
      error_rate_rollback: 3
    rules:
      - name: single_endpoint_failing
        enabled: false
      - name: checkout_failing
        priority: 150
        when:
          single_endpoint_failing: {eq: true}
          severity: {in: [critical, high]}
        decision: rollback_now
        because: "the checkout endpoint fails with severity {severity}"

- name: Roll back although the rules advise investigating first
  ops.rollback.rollback_decision:
    error_rate: 2
    force: true
    force_reason: payments team asked, ticket INC-42
"""

RETURN = r"""
decision:
  description: What to do. V(rollback_now), V(rollback_and_freeze_writes), V(investigate_then_decide), V(fix_forward),
    V(hotfix) or V(wait_for_external_fix). V(rollback_now) when O(force) overrode the rules.
  returned: always
  type: str
  sample: rollback_now
advised:
  description: The decision of the rules, before O(force).
  returned: always
  type: str
  sample: investigate_then_decide
proceed:
  description: Whether a rollback should go ahead now (RV(decision) is V(rollback_now) or V(rollback_and_freeze_writes)).
  returned: always
  type: bool
  sample: true
forced:
  description: Whether O(force) overrode the rules; V(false) when the rules advised a rollback anyway.
  returned: always
  type: bool
  sample: false
investigate_minutes:
  description: Minutes to investigate before deciding, with RV(decision=investigate_then_decide); V(null) otherwise.
  returned: always
  type: int
  sample: 5
version:
  description:
    - The version to roll back to when O(migrations) narrowed it (C(safe_version) of a V(rollback_to)
      recommendation) and the decision is a rollback; V(null) otherwise (the rollback's own target stands).
  returned: always
  type: str
  sample: v1.2.8
matched:
  description: The rules that matched, the deciding one first, in evaluation order.
  returned: always
  type: list
  elements: dict
  contains:
    rule:
      description: The rule's name.
      returned: always
      type: str
      sample: error_rate_high
    decision:
      description: The rule's decision.
      returned: always
      type: str
      sample: rollback_now
    because:
      description: The rule's words, filled from the inputs.
      returned: always
      type: str
      sample: error rate 8 % is over 5 %
reasons:
  description: Every matched rule's words, then the change of target and the force, if any.
  returned: always
  type: list
  elements: str
  sample: [error rate 8 % is over 5 %, the service is completely down]
message:
  description: One sentence that says the decision and why; when not proceeding, also how to force a rollback.
  returned: always
  type: str
  sample: 'Not rolling back (investigate_then_decide): error rate 3 % is between 1 % and 5 %: investigate 5 minutes,
    then decide. To roll back anyway, run again with -e force=true -e reason="<why>" (in AWX: Force and a Reason in the survey).'
inputs:
  description:
    - The signals that were given, with C(signals) (how many), C(latency_factor) when latency was given, and
      C(migrations) (C(recommendation), C(safe_version) and C(irreversible), the irreversible migrations in words)
      when migrations were given.
  returned: always
  type: dict
  sample: {error_rate: 8.0, severity: high, signals: 2}
thresholds:
  description: The thresholds used, defaults with O(thresholds) applied.
  returned: always
  type: dict
  sample: {error_rate_rollback: 5, error_rate_investigate: 1, latency_spike_factor: 2, investigate_minutes: 5,
           critical_fix_minutes: 30, high_fix_minutes: 60, medium_fix_minutes: 120}
rules:
  description: The names of the enabled rules, in evaluation order.
  returned: always
  type: list
  elements: str
  sample: [migration_irreversible, data_corruption, migration_needs_restore, service_down, error_rate_high]
rules_version:
  description: Version of the default rule set, changed whenever its meaning changes.
  returned: always
  type: str
  sample: "1"
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.decision.engine import decide_from_params
from ansible_collections.ops.rollback.plugins.module_utils.decision.rules import DATA_IMPACTS, SEVERITIES


def argument_spec():
    return dict(
        service_down=dict(type='bool'),
        error_rate=dict(type='float'),
        latency_p95_ms=dict(type='float'),
        latency_baseline_ms=dict(type='float'),
        data_corruption=dict(type='bool'),
        security_vulnerability_active=dict(type='bool'),
        severity=dict(type='str', choices=list(SEVERITIES)),
        data_impact=dict(type='str', choices=list(DATA_IMPACTS)),
        time_to_fix_minutes=dict(type='int'),
        migrations=dict(type='dict'),
        workaround_exists=dict(type='bool'),
        external_cause=dict(type='bool'),
        single_endpoint_failing=dict(type='bool'),
        intermittent_errors=dict(type='bool'),
        rules=dict(type='list', elements='dict'),
        thresholds=dict(type='dict'),
        reason=dict(type='str'),
        force=dict(type='bool', default=False),
        force_reason=dict(type='str'),
    )


def main():
    run_module(argument_spec(), lambda module: decide_from_params(module.params),
               required_together=[('latency_p95_ms', 'latency_baseline_ms')])


if __name__ == '__main__':
    main()
