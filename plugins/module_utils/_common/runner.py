# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rollback algorithm every platform runs (DESIGN.md, "The rollback core").

``run_rollback`` chooses the target (explicit version, revision, previous),
decides whether anything changes, produces the check-mode plan and the diff,
applies and waits through the driver, then gates on health. It knows nothing
of any platform.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import BAD, GOOD
from ansible_collections.ops.rollback.plugins.module_utils._common.target import RULE_PLATFORM, choose_target


def run_rollback(driver, version=None, revision=None, check_mode=False, wait=True, wait_timeout=300,
                 health=None, rolled_back_from=None, note=None, clock=time.monotonic):
    """Roll the driver's service back; returns the result in the common vocabulary.

    ``rolled_back_from``: the version this rollback leaves, recorded as bad in
    the driver's ledger (with ``note``) *before* anything is applied, so an
    interrupted run never loses that verdict; also when the service already
    runs the target (the re-run of an interrupted run).
    ``health``: a ``HealthChecker`` run once the service converged, also when
    nothing changed (a second run still proves the target healthy); never in
    check mode. An unhealthy target is left as it is and fails loudly
    (DESIGN.md, Words: done).
    """
    current = driver.current() or {}
    ledger = driver.ledger
    good, bad = (ledger.versions(GOOD), ledger.versions(BAD)) if ledger is not None else ((), ())
    # A platform that rolled the service back by itself (ECS's circuit breaker) already did the
    # rollback: previous stays there rather than going one more step back.
    by_platform = driver.platform_rollback() if not version and revision is None else None
    target = choose_target(driver.history(), current.get('version'),
                           version=current.get('version') if by_platform else version, revision=revision,
                           good=good, bad=bad, syntax=driver.version_syntax, subject=driver.describe())
    if by_platform:
        target['rule'] = RULE_PLATFORM
    plan = driver.plan(target)
    left = [(rolled_back_from, BAD)] if rolled_back_from and rolled_back_from != target['version'] else []
    # A dry run of the write: validates the version and says whether it changes anything.
    verdict = ledger.record_all(left, note=note, check_mode=True) if left and ledger is not None else {'changed': False}
    steps = ['record {0} as bad in the ledger (rolled back from)'.format(rolled_back_from)] if verdict['changed'] else []
    result = {
        'changed': plan.changes or verdict['changed'],
        'rule': target['rule'],
        'from_version': current.get('version'),
        'to_version': target['version'],
        'plan': steps + plan.steps,
    }
    if result['changed']:
        diffs = ([plan.diff()] if plan.changes else []) + ([verdict['diff']] if verdict['changed'] else [])
        result['diff'] = dict((side, ''.join(d[side] for d in diffs)) for side in ('before', 'after'))
    if verdict['changed']:
        result['recorded'] = {rolled_back_from: BAD}
        if not check_mode:
            ledger.record_all(left, note=note)
    if target['revision'] is not None or current.get('revision') is not None:
        result.update(from_revision=current.get('revision'), to_revision=target['revision'])
    if plan.changes and not check_mode:
        started = clock()
        try:
            driver.apply(target, plan)
            waited = driver.wait(target, wait_timeout) if wait else None
        except RollbackError as err:
            # Where the service was left is the driver's to say; the rest is the run's.
            for key, value in result.items():
                if key != 'diff':
                    err.details.setdefault(key, value)
            raise
        if waited:
            result.update(waited=waited, wait_seconds=round(clock() - started, 1))
    if health is not None and not check_mode:
        _gate_on_health(health, result, driver.describe())
    return result


def _gate_on_health(health, result, subject):
    outcome = health.run()
    result['health'] = outcome.as_dict()
    if not outcome.passed:
        details = dict(result)
        details.pop('diff', None)
        raise RollbackError(
            '{0} runs {1}{2}, and it is not healthy: {3} It was left as it is; roll it forward or back once the '
            'cause is known.'.format(subject, result['to_version'], ' since this run' if result['changed'] else '',
                                     outcome.failure_message()),
            **details)
