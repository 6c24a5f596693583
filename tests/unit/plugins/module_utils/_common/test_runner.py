# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback runner driven through an in-memory platform: a service with
numbered revisions (as Kubernetes or ECS have) that converges step by step."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver, Plan
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import Ledger
from ansible_collections.ops.rollback.plugins.module_utils._common.runner import run_rollback
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import HealthChecker


class MemoryLedger(Ledger):
    version_syntax = IMAGE

    def __init__(self):
        self._entries = []

    def entries(self):
        return list(self._entries)

    def _append(self, entries):
        self._entries.extend(entries)


class MemoryPlatform(Driver):
    """Revisions 1..n of a service; ``apply`` starts a rollout that ``wait``
    completes (or never, when ``stuck``)."""

    version_syntax = IMAGE

    def __init__(self, images, current, stuck=False):
        self.revisions = [{'version': image, 'revision': number} for number, image in enumerate(images, 1)]
        self.running = current   # the revision serving traffic
        self.rollout = None      # revision being rolled out
        self.stuck = stuck
        self.applied = []
        self.ledger = MemoryLedger()

    def describe(self):
        return 'service web'

    def current(self):
        return next(r for r in self.revisions if r['revision'] == self.running)

    def history(self):
        return list(self.revisions)

    def plan(self, target):
        if target['revision'] == self.running:
            return Plan([], before='revision {0}\n'.format(self.running), after='revision {0}\n'.format(self.running))
        return Plan(['roll out revision {0}'.format(target['revision'])],
                    before='revision {0}\n'.format(self.running), after='revision {0}\n'.format(target['revision']))

    def apply(self, target, plan):
        self.applied.append(target['revision'])
        self.rollout = target['revision']

    def wait(self, target, timeout):
        if self.stuck:
            raise RollbackTimeoutError('service web did not converge on revision {0} within {1} s.'.format(
                target['revision'], timeout), partial={'ready': 1, 'desired': 3})
        self.running, self.rollout = self.rollout, None
        return {'ready': 3, 'desired': 3}


IMAGES = ['app:v1.9.0', 'app:v2.0.0', 'app:v1.9.9', 'app:v2.1.0']


def test_previous_is_the_revision_that_ran_before_then_again_changes_nothing():
    platform = MemoryPlatform(IMAGES, current=4)
    result = run_rollback(platform)
    assert (result['changed'], result['rule'], result['to_version'], result['to_revision']) == (
        True, 'release-before-current', 'app:v1.9.9', 3)
    assert (result['from_version'], result['from_revision'], result['waited']) == ('app:v2.1.0', 4, {'ready': 3, 'desired': 3})
    assert platform.running == 3
    # The rollback is recorded as a pipeline would after verification ...
    platform.ledger.record_all([('app:v1.9.9', 'good'), ('app:v2.1.0', 'bad')])
    # ... and asking for "previous" again never toggles back.
    again = run_rollback(platform)
    assert (again['changed'], again['to_revision'], platform.applied) == (False, 3, [3])


def test_check_mode_reports_the_plan_and_diff_and_applies_nothing():
    platform = MemoryPlatform(IMAGES, current=4)
    result = run_rollback(platform, version='app:v1.9.0', check_mode=True)
    assert (result['changed'], result['plan'], result['diff']) == (
        True, ['roll out revision 1'], {'before': 'revision 4\n', 'after': 'revision 1\n'})
    assert (platform.running, platform.applied, 'waited' in result) == (4, [], False)


def test_explicit_version_and_revision():
    platform = MemoryPlatform(IMAGES, current=4)
    assert run_rollback(platform, revision=2)['to_version'] == 'app:v2.0.0'
    assert run_rollback(platform, version='app:v1.9.0')['to_revision'] == 1
    assert platform.applied == [2, 1]


@pytest.mark.parametrize('kwargs, error, text', [
    ({'version': 'app:v0.1'}, NotFoundError, 'no such version in its history'),
    ({'revision': 9}, NotFoundError, 'revision 9: not in its history'),
    ({'version': 'app:v1;reboot'}, InvalidInputError, 'Refusing version'),
])
def test_bad_targets_change_nothing(kwargs, error, text):
    platform = MemoryPlatform(IMAGES, current=4)
    with pytest.raises(error, match=text):
        run_rollback(platform, **kwargs)
    assert (platform.running, platform.applied) == (4, [])


def test_no_wait_returns_after_apply():
    platform = MemoryPlatform(IMAGES, current=4)
    result = run_rollback(platform, revision=3, wait=False)
    assert (result['changed'], platform.rollout, platform.running, 'waited' in result) == (True, 3, 4, False)


def test_a_rollout_that_never_converges_reports_the_partial_state():
    platform = MemoryPlatform(IMAGES, current=4, stuck=True)
    with pytest.raises(RollbackTimeoutError) as caught:
        run_rollback(platform, revision=3, wait_timeout=5)
    assert caught.value.details['partial'] == {'ready': 1, 'desired': 3}
    assert (caught.value.details['from_revision'], caught.value.details['to_revision']) == (4, 3)
    assert 'within 5 s' in caught.value.msg


def health(status):
    return HealthChecker([{'url': 'http://web.test/health'}], fetch=lambda *args: (status, b'{}'), retries=1, delay=0)


def test_health_gate_passes_and_also_proves_an_unchanged_service():
    platform = MemoryPlatform(IMAGES, current=3)
    result = run_rollback(platform, revision=3, health=health(200))
    assert (result['changed'], result['health']['passed']) == (False, True)


def test_unhealthy_target_is_left_as_it_is_and_fails_loudly():
    platform = MemoryPlatform(IMAGES, current=4)
    with pytest.raises(RollbackError) as caught:
        run_rollback(platform, revision=3, health=health(503))
    assert caught.value.msg.startswith('service web runs app:v1.9.9 since this run, and it is not healthy')
    assert caught.value.details['to_revision'] == 3 and platform.running == 3


def test_the_version_left_is_recorded_bad_before_anything_is_applied():
    platform = MemoryPlatform(IMAGES, current=4, stuck=True)
    # The rollout never converges (the run is as good as interrupted), yet the verdict is there.
    with pytest.raises(RollbackTimeoutError):
        run_rollback(platform, revision=3, rolled_back_from='app:v2.1.0', note='error rate 8%')
    assert platform.ledger.verdicts() == {'app:v2.1.0': 'bad'}
    assert platform.ledger.entries()[0]['note'] == 'error rate 8%'


def test_rolled_back_from_on_a_service_already_at_the_target_still_records_it_once():
    platform = MemoryPlatform(IMAGES, current=3)
    check = run_rollback(platform, revision=3, rolled_back_from='app:v2.1.0', check_mode=True)
    assert (check['changed'], check['plan'], platform.ledger.entries()) == (
        True, ['record app:v2.1.0 as bad in the ledger (rolled back from)'], [])
    assert check['diff'] == {'before': 'app:v2.1.0: none\n', 'after': 'app:v2.1.0: bad\n'}
    result = run_rollback(platform, revision=3, rolled_back_from='app:v2.1.0')
    assert (result['changed'], result['recorded'], platform.applied) == (True, {'app:v2.1.0': 'bad'}, [])
    again = run_rollback(platform, revision=3, rolled_back_from='app:v2.1.0')
    assert (again['changed'], 'recorded' in again, len(platform.ledger.entries())) == (False, False, 1)


def test_a_malformed_rolled_back_from_changes_nothing():
    platform = MemoryPlatform(IMAGES, current=4)
    with pytest.raises(InvalidInputError):
        run_rollback(platform, revision=3, rolled_back_from='app:v2.1.0; rm -rf /')
    assert (platform.applied, platform.ledger.entries()) == ([], [])


def test_a_rollback_the_platform_already_made_is_not_repeated():
    # ECS's circuit breaker rolled revision 4 back to 3 by itself: previous stays on 3 ...
    platform = MemoryPlatform(IMAGES, current=3)
    platform.platform_rollback = lambda: {'message': 'rolling back to deployment ecs-svc/1', 'failed_version': 'app:v2.1.0'}
    result = run_rollback(platform)
    assert (result['changed'], result['rule'], result['to_revision'], platform.applied) == (
        False, 'already-rolled-back', 3, [])
    # ... while an explicit version still goes where it is told.
    result = run_rollback(platform, version='app:v2.0.0')
    assert (result['changed'], result['rule'], platform.running) == (True, 'explicit', 2)
