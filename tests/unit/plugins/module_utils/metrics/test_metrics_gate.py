# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""metrics_check's schedule and verdict (module_utils/metrics/gate.py) on a fake clock.

The HTTP transport answers from a script of Prometheus answers, one per query; the
clock only moves when the gate sleeps, so the times asserted are exact.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils.metrics.gate import check_metrics

NOW = 1795402800.0   # 2026-11-23T03:00:00Z


class Clock:
    def __init__(self):
        self.now = NOW
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def answer(value):
    """Prometheus' answer with one series of ``value``; None: an empty vector; an exception: no answer."""
    if isinstance(value, BaseException):
        return value
    result = [] if value is None else [{'metric': {}, 'value': [NOW, value]}]
    return 200, json.dumps({'status': 'success', 'data': {'resultType': 'vector', 'result': result}}).encode()


class Prometheus:
    """Answers each query from its check's script, in order; records what was asked."""

    def __init__(self, **scripts):
        self.scripts = dict((name, list(values)) for name, values in scripts.items())
        self.asked = []

    def __call__(self, method, url, body, headers, timeout):
        query = urllib.parse.parse_qs(body.decode())['query'][0]
        self.asked.append((query, headers))
        reply = answer(self.scripts[query].pop(0))
        if isinstance(reply, BaseException):
            raise reply
        return reply


def run(prometheus, clock, **params):
    params.setdefault('prometheus_url', 'http://prom:9090')
    params.setdefault('checks', [{'name': 'ratio', 'query': 'ratio', 'max': 0.05}])
    return check_metrics(params, clock=clock, sleep=clock.sleep, transport=prometheus)


def measured_at(result, index=0):
    return [m['time'] for m in result['checks'][index]['measurements']]


def test_rounds_follow_initial_delay_then_interval():
    clock = Clock()
    result = run(Prometheus(ratio=['0.01', '0.02', '0.0']), clock, count=3, interval=10, initial_delay=5)
    assert (result['status'], result['rounds'], result['stopped_early']) == ('Successful', 3, False)
    assert measured_at(result) == ['2026-11-23T03:00:05.000Z', '2026-11-23T03:00:15.000Z', '2026-11-23T03:00:25.000Z']
    assert (result['checks'][0]['first'], result['checks'][0]['last']) == (0.01, 0.0)
    assert result['msg'] == 'Metrics check Successful: 1 check passed over 3 rounds.'


def test_since_moves_the_first_round_past_the_switch_plus_the_longest_window():
    clock = Clock()
    checks = [{'name': 'short', 'query': 'rate(a[30s])', 'max': 1}, {'name': 'long', 'query': 'rate(b[2m])', 'max': 1}]
    prometheus = Prometheus(**{'rate(a[30s])': ['0'], 'rate(b[2m])': ['0']})
    result = run(prometheus, clock, checks=checks, since='2026-11-23T02:59:30Z', initial_delay=5)
    # 02:59:30 + 2 minutes: every window read lies after the switch.
    assert measured_at(result, 0) == measured_at(result, 1) == ['2026-11-23T03:01:30.000Z']
    assert [c['lookback_seconds'] for c in result['checks']] == [30, 120]


def test_a_switch_long_past_adds_no_wait():
    clock = Clock()
    result = run(Prometheus(ratio=['0']), clock, since=NOW - 3600, initial_delay=2)
    assert measured_at(result) == ['2026-11-23T03:00:02.000Z'] and clock.sleeps == [2]


def test_a_breach_stops_the_gate_and_fails_the_task_with_every_measurement():
    clock = Clock()
    with pytest.raises(RollbackError) as caught:
        run(Prometheus(ratio=['0.01', '0.5']), clock, count=5, interval=10)
    details = caught.value.details
    assert (details['status'], details['rounds'], details['stopped_early']) == ('Failed', 2, True)
    assert [m['phase'] for m in details['checks'][0]['measurements']] == ['Successful', 'Failed']
    assert caught.value.msg.startswith('Metrics check Failed after 2 rounds of 5 (stopped early')
    assert 'ratio: Failed, 1 of 2 measurements breached max 0.05 (failure_limit 0); last: 0.5 is above max 0.05' \
        in caught.value.msg
    assert 'msg' not in details and details['changed'] is False


def test_a_failing_check_outranks_an_erroring_one():
    clock = Clock()
    checks = [{'name': 'down', 'query': 'down', 'max': 1}, {'name': 'ratio', 'query': 'ratio', 'max': 0.05}]
    prometheus = Prometheus(down=[ConnectionRefusedError()] * 2, ratio=['0.01', '0.9'])
    with pytest.raises(RollbackError) as caught:
        run(prometheus, clock, checks=checks, count=2, interval=1)
    assert caught.value.details['status'] == 'Failed'
    assert [c['status'] for c in caught.value.details['checks']] == ['Error', 'Failed']
    # The failure is told first, the error after it.
    assert caught.value.msg.index('ratio: Failed') < caught.value.msg.index('down: Error')


def test_errors_within_the_limit_do_not_fail_a_check_that_then_measures():
    clock = Clock()
    result = run(Prometheus(ratio=[TimeoutError('timed out'), '0.01', '0.02']), clock, count=3, interval=1)
    check = result['checks'][0]
    assert (result['status'], check['errors'], check['successful'], check['first']) == ('Successful', 1, 2, 0.01)
    assert result['msg'] == 'Metrics check Successful: 1 check passed over 3 rounds; within their limits, ' \
                            'measurements of ratio (1 errored).'
    assert check['measurements'][0]['reason'] == \
        'Prometheus at http://prom:9090/api/v1/query did not answer: timed out after 10 s ' \
        '(raise timeout, or check the query is not too heavy)'


def test_consecutive_errors_over_the_limit_stop_the_gate():
    clock = Clock()
    with pytest.raises(RollbackError) as caught:
        run(Prometheus(ratio=['0.01'] + [ConnectionRefusedError()] * 3), clock, count=10, interval=1,
            consecutive_error_limit=2)
    details = caught.value.details
    assert (details['status'], details['rounds']) == ('Error', 4)
    assert '3 consecutive errors (consecutive_error_limit 2)' in caught.value.msg


def test_empty_then_values_is_inconclusive_unless_tolerated():
    with pytest.raises(RollbackError) as caught:
        run(Prometheus(ratio=[None, '0.01']), Clock(), count=2, interval=1)
    assert caught.value.details['status'] == 'Inconclusive'
    assert 'ratio: Inconclusive, 1 of 2 measurements (inconclusive_limit 0); last: empty result' in caught.value.msg
    result = run(Prometheus(ratio=[None, '0.01']), Clock(), count=2, interval=1, inconclusive_limit=1)
    assert result['status'] == 'Successful'
    assert result['msg'].endswith('measurements of ratio (1 inconclusive).')


def test_a_bearer_token_becomes_the_authorization_header():
    prometheus = Prometheus(ratio=['0'])
    run(prometheus, Clock(), bearer_token='t0ken', headers={'X-Scope-OrgID': 'shop'})
    assert prometheus.asked[0][1]['Authorization'] == 'Bearer t0ken'
    assert prometheus.asked[0][1]['X-Scope-OrgID'] == 'shop'


@pytest.mark.parametrize('params, message', [
    ({'checks': []}, 'checks is empty'),
    ({'count': 0}, 'count must be a whole number of measurements, at least 1'),
    ({'count': 2, 'interval': 0}, 'interval must be a positive number'),
    ({'initial_delay': -1}, 'initial_delay must be zero or more seconds'),
    ({'timeout': 0}, 'timeout must be a positive number'),
    ({'on_nan': 'ignore'}, "on_nan 'ignore' is not one of fail, inconclusive, pass"),
    ({'consecutive_error_limit': -2}, 'consecutive_error_limit must be a whole number, 0 or more'),
])
def test_bad_options_are_refused_before_any_query(params, message):
    prometheus = Prometheus(ratio=['0'])
    with pytest.raises(InvalidInputError, match=message) as caught:
        run(prometheus, Clock(), **params)
    assert caught.value.msg.endswith('No query was sent; nothing was changed.')
    assert prometheus.asked == []
