# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill scorecard: durations between the drill's times, the load's numbers, and "not measured"."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.drill.scorecard import (
    Scorecard,
    drill_scorecard,
    parse_time,
)

LOAD = {'requests': 400, 'failed_requests': 50, 'failures': {'HTTP 500': 30, 'connection refused': 20},
        'first_failure': '2026-03-01T12:00:01.000Z', 'last_failure': '2026-03-01T12:00:41.500Z',
        'started_at': '2026-03-01T11:59:59.000Z', 'stopped_at': '2026-03-01T12:00:50.000Z'}
ALL_TIMES = {'bad_deploy_at': '2026-03-01T12:00:00Z', 'alert_at': '2026-03-01T12:00:15.250Z',
             'rollback_started_at': '2026-03-01T12:00:20.250Z', 'healthy_at': '2026-03-01T12:00:42Z'}


def test_every_duration_from_every_time():
    card = drill_scorecard(ALL_TIMES, load=LOAD, name='symlink')
    assert card['bad_deploy_to_alert_seconds'] == 15.25
    assert card['alert_to_rollback_start_seconds'] == 5.0
    assert card['rollback_start_to_healthy_seconds'] == 21.75
    assert card['alert_to_healthy_seconds'] == 26.75
    assert card['bad_deploy_to_healthy_seconds'] == 42.0
    assert card['degraded_seconds'] == 40.5
    assert (card['requests'], card['failed_requests'], card['failed_ratio']) == (400, 50, 0.125)
    assert card['failures'] == {'HTTP 500': 30, 'connection refused': 20}
    assert card['not_measured'] == {}
    assert card['lines'][0] == 'DRILL SCORECARD: symlink'
    assert not any('not measured' in line for line in card['lines'])
    text = '\n'.join(card['lines'])
    assert 'rollback start -> healthy' in text and '21.8 s' in text
    assert '50 of 400 failed (12.5 %): HTTP 500 30, connection refused 20' in text


def test_missing_alert_is_not_measured_with_its_reason():
    times = dict(ALL_TIMES, alert_at=None)
    card = drill_scorecard(times, load=LOAD, not_measured={'alert_at': 'no alerting in this scenario'})
    assert card['bad_deploy_to_alert_seconds'] is None
    assert card['alert_to_rollback_start_seconds'] is None
    assert card['alert_to_healthy_seconds'] is None
    assert card['rollback_start_to_healthy_seconds'] == 21.75
    assert card['bad_deploy_to_healthy_seconds'] == 42.0
    assert card['alert_at'] is None
    assert card['not_measured'] == {'alert_at': 'not measured: no alerting in this scenario'}
    alert_lines = [line for line in card['lines'] if 'alert' in line]
    assert len(alert_lines) == 3
    assert all('not measured: no alerting in this scenario (alert time)' in line for line in alert_lines)


@pytest.mark.parametrize('missing', [None, '', '   '])
def test_nothing_given_is_all_not_measured_never_an_error(missing):
    card = drill_scorecard({'bad_deploy_at': missing, 'healthy_at': missing})
    for key in ('bad_deploy_to_alert_seconds', 'alert_to_rollback_start_seconds', 'rollback_start_to_healthy_seconds',
                'alert_to_healthy_seconds', 'bad_deploy_to_healthy_seconds', 'degraded_seconds', 'requests',
                'failed_requests', 'failed_ratio', 'failures'):
        assert card[key] is None, key
    assert card['name'] == 'drill'
    assert set(card['not_measured']) == {'bad_deploy_at', 'alert_at', 'rollback_started_at', 'healthy_at', 'load'}
    assert card['lines'][-1].split() == ['customer', 'impact', 'not', 'measured']


def test_load_without_failures_is_zero_degradation_not_unmeasured():
    load = dict(LOAD, failed_requests=0, failures={}, first_failure=None, last_failure=None)
    card = drill_scorecard({}, load=load)
    assert (card['failed_requests'], card['failed_ratio'], card['degraded_seconds']) == (0, 0.0, 0.0)
    assert 'load' not in card['not_measured']
    assert any('none: no request failed' in line for line in card['lines'])


def test_a_failed_probe_is_not_measured_with_its_message():
    card = drill_scorecard({}, load={'failed': True, 'msg': 'could not find job'})
    assert card['requests'] is None and card['degraded_seconds'] is None
    assert card['not_measured']['load'] == 'not measured: could not find job'
    assert card['lines'][-1].endswith('not measured: could not find job')


def test_times_out_of_order_are_shown_negative_and_flagged():
    card = drill_scorecard({'rollback_started_at': '2026-03-01T12:00:10Z', 'healthy_at': '2026-03-01T12:00:04Z'})
    assert card['rollback_start_to_healthy_seconds'] == -6.0
    assert any('negative: rollback start is after healthy' in line for line in card['lines'])


@pytest.mark.parametrize('value, expected', [
    ('2026-03-01T12:00:00Z', 1772366400.0),
    ('2026-03-01T12:00:00.5Z', 1772366400.5),
    ('2026-03-01T12:00:00.123456Z', 1772366400.123456),
    ('2026-03-01T12:00:00', 1772366400.0),
    ('2026-03-01 12:00:00.250', 1772366400.25),
    ('2026-03-01T13:00:00+01:00', 1772366400.0),
    ('2026-03-01T07:30:00-0430', 1772366400.0),
    (datetime.datetime(2026, 3, 1, 12, 0, 0), 1772366400.0),
    (datetime.datetime(2026, 3, 1, 13, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1))), 1772366400.0),
    (1772366400, 1772366400.0),
])
def test_time_formats(value, expected):
    assert parse_time(value, 'healthy_at') == pytest.approx(expected)


@pytest.mark.parametrize('value', ['yesterday', '2026-13-01T00:00:00Z', '12:00:00', True])
def test_a_malformed_time_is_refused_naming_it(value):
    with pytest.raises(InvalidInputError, match='healthy_at is .* not a'):
        Scorecard(healthy_at=value)


def test_unknown_inputs_are_refused():
    with pytest.raises(InvalidInputError, match='unknown time.*healthy'):
        drill_scorecard({'healty_at': '2026-03-01T12:00:00Z'})
    with pytest.raises(InvalidInputError, match='not_measured names alert'):
        drill_scorecard({}, not_measured={'alert': 'none'})
    with pytest.raises(InvalidInputError, match='load is a list'):
        drill_scorecard({}, load=[1])


def test_the_card_is_the_same_for_the_same_inputs():
    """Writing it again must not change the report files (idempotent drills)."""
    assert drill_scorecard(ALL_TIMES, load=LOAD) == drill_scorecard(dict(ALL_TIMES), load=dict(LOAD))
