# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/traffic/switch.py: weight validation, steps, and run_switch over an in-memory backend."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.module import refuse_options_not_for
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import (
    TrafficBackend,
    parse_steps,
    run_switch,
    step_weights,
    validate_weights,
)

CURRENT = [(('reviews', 'stable'), 90), (('reviews', 'canary'), 10)]


def describe(key):
    return '{0}/{1}'.format(*key)


# --- validate_weights --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('wanted, expected', [
    ([(('reviews', 'stable'), 100), (('reviews', 'canary'), 0)], [100, 0]),
    # Order of the route, whatever the order asked in.
    ([(('reviews', 'canary'), 30), (('reviews', 'stable'), 70)], [70, 30]),
    # A destination not named gets 0: the named ones already carry all the traffic.
    ([(('reviews', 'stable'), 100)], [100, 0]),
])
def test_weights_accepted(wanted, expected):
    result = validate_weights(wanted, CURRENT, describe=describe)
    assert result == [(key, weight) for (key, _w), weight in zip(CURRENT, expected)]


@pytest.mark.parametrize('wanted, message', [
    ([], 'weights is empty'),
    ([(('reviews', 'stable'), 90), (('reviews', 'canary'), 0)], 'add up to 90, not 100'),
    ([(('reviews', 'stable'), 60), (('reviews', 'canary'), 60)], 'add up to 120, not 100'),
    ([(('reviews', 'stable'), 100), (('reviews', 'v3'), 0)], 'reviews/v3 is not a destination of this route '
                                                             '(it has: reviews/stable, reviews/canary)'),
    ([(('reviews', 'stable'), 50), (('reviews', 'stable'), 50)], 'reviews/stable is named twice'),
    ([(('reviews', 'stable'), 101), (('reviews', 'canary'), -1)], 'whole number from 0 to 100'),
    ([(('reviews', 'stable'), 99.5), (('reviews', 'canary'), 0.5)], 'whole number from 0 to 100'),
    ([(('reviews', 'stable'), True)], 'whole number from 0 to 100'),
])
def test_weights_refused(wanted, message):
    with pytest.raises(InvalidInputError) as caught:
        validate_weights(wanted, CURRENT, describe=describe)
    assert message in caught.value.msg
    assert 'Nothing was changed' in caught.value.msg


# --- steps ---------------------------------------------------------------------------------------------------------

def test_steps_move_part_of_the_way_and_end_at_the_target():
    before = [('stable', 0), ('canary', 100)]
    after = [('stable', 100), ('canary', 0)]
    stages = step_weights(before, after, [10, 25, 50])
    assert [[w for _k, w in s] for s in stages] == [[10, 90], [25, 75], [50, 50], [100, 0]]


def test_steps_are_whole_numbers_that_keep_the_sum():
    before = [('a', 100), ('b', 0), ('c', 0)]
    after = [('a', 0), ('b', 50), ('c', 50)]
    for stage in step_weights(before, after, [33, 67]):
        assert sum(w for _k, w in stage) == 100
        assert all(isinstance(w, int) for _k, w in stage)
    assert step_weights(before, after, [33, 67])[-1] == after


def test_steps_that_move_nothing_are_left_out():
    # 90 -> 100 in steps of 1 % of the way: the first steps round to the weights already there.
    stages = step_weights([('s', 90), ('c', 10)], [('s', 100), ('c', 0)], [1, 2, 50])
    assert [[w for _k, w in s] for s in stages] == [[95, 5], [100, 0]]


@pytest.mark.parametrize('steps', [[0, 50], [50, 25], [10, 10], [101], [True], [12.5]])
def test_bad_steps_refused(steps):
    with pytest.raises(InvalidInputError, match='increasing percentages'):
        parse_steps(steps)


def test_steps_always_end_at_100():
    assert parse_steps([10, 50]) == [10, 50, 100]
    assert parse_steps([25, 100]) == [25, 100]


# --- options per backend -------------------------------------------------------------------------------------------

def test_option_for_another_backend_refused():
    with pytest.raises(InvalidInputError, match='Option weights does not apply to backend=kubernetes_service'):
        refuse_options_not_for({'backend': 'kubernetes_service', 'weights': []}, 'backend', {'weights': ['istio']})
    refuse_options_not_for({'backend': 'istio', 'weights': []}, 'backend', {'weights': ['istio']})


# --- run_switch over an in-memory weighted backend -----------------------------------------------------------------

class MemoryWeights(TrafficBackend):
    """A load balancer in a list: what was written, step by step."""

    name = 'memory'

    def __init__(self, current, wanted, fail_at=None):
        self.current = list(current)
        self.wanted = wanted
        self.fail_at = fail_at
        self.writes = []
        self.dry_runs = []

    def describe(self):
        return 'pool in memory'

    def read(self):
        return list(self.current)

    def plan(self, before):
        return validate_weights(self.wanted, before)

    def stages(self, before, after, steps):
        return step_weights(before, after, steps)

    def apply(self, state, dry_run=False):
        if dry_run:
            self.dry_runs.append(state)
            return
        if len(self.writes) == self.fail_at:
            raise RollbackError('Failed to write step {0}'.format(self.fail_at))
        self.writes.append(state)
        self.current = list(state)

    def render(self, state):
        return ''.join('{0}: {1}\n'.format(k, w) for k, w in state)


def test_switch_then_unchanged():
    backend = MemoryWeights([('s', 90), ('c', 10)], [('s', 100), ('c', 0)])
    result = run_switch(backend)
    assert result['changed'] is True
    assert result['before'] == [('s', 90), ('c', 10)] and result['after'] == [('s', 100), ('c', 0)]
    assert result['diff']['before'] == 's: 90\nc: 10\n' and result['diff']['after'] == 's: 100\nc: 0\n'
    assert backend.writes == [[('s', 100), ('c', 0)]]
    again = run_switch(backend)
    assert again['changed'] is False and 'diff' not in again
    assert len(backend.writes) == 1


def test_check_mode_writes_nothing_but_dry_runs_the_target():
    backend = MemoryWeights([('s', 0), ('c', 100)], [('s', 100), ('c', 0)])
    result = run_switch(backend, check_mode=True, steps=[50])
    assert result['changed'] is True
    assert result['steps'] == [[('s', 50), ('c', 50)], [('s', 100), ('c', 0)]]
    assert backend.writes == [] and backend.dry_runs == [[('s', 100), ('c', 0)]]


def test_steps_pause_between_writes():
    backend = MemoryWeights([('s', 0), ('c', 100)], [('s', 100), ('c', 0)])
    pauses = []
    result = run_switch(backend, steps=[25, 50], pause=2.5, sleep=pauses.append)
    assert backend.writes == result['steps'] == [[('s', 25), ('c', 75)], [('s', 50), ('c', 50)], [('s', 100), ('c', 0)]]
    assert pauses == [2.5, 2.5]


def test_negative_pause_refused_before_anything_is_read():
    with pytest.raises(InvalidInputError, match='pause is -1'):
        run_switch(TrafficBackend(), steps=None, pause=-1)


def test_failed_step_says_where_traffic_was_left():
    backend = MemoryWeights([('s', 0), ('c', 100)], [('s', 100), ('c', 0)], fail_at=2)
    with pytest.raises(RollbackError) as caught:
        run_switch(backend, steps=[25, 50])
    details = caught.value.details
    assert details['changed'] is True
    assert details['after'] == [('s', 50), ('c', 50)] == backend.current
    assert details['steps'] == [[('s', 25), ('c', 75)], [('s', 50), ('c', 50)]]


def test_failure_on_the_first_write_changed_nothing():
    backend = MemoryWeights([('s', 0), ('c', 100)], [('s', 100), ('c', 0)], fail_at=0)
    with pytest.raises(RollbackError) as caught:
        run_switch(backend)
    assert caught.value.details['changed'] is False
    assert caught.value.details['after'] == [('s', 0), ('c', 100)]


def test_steps_refused_by_a_backend_that_switches_at_once():
    # The base interface has no stages(): a selector switch, for example.
    with pytest.raises(InvalidInputError, match='takes no steps'):
        run_switch(TrafficBackend(), steps=[50])
