# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The judgement of metrics_check (module_utils/metrics/analysis.py and the parsing of prometheus.py): pure logic."""

from __future__ import annotations

import math

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.metrics.analysis import (
    Check,
    Limits,
    Measurement,
    Tally,
    aggregate,
    lookback_seconds,
    parse_sample_value,
    parse_since,
    worst,
)
from ansible_collections.ops.rollback.plugins.module_utils.metrics.prometheus import (
    EmptyResult,
    MeasurementError,
    PrometheusClient,
    query_url,
    read_value,
)

NOW = 1795402800.0   # 2026-11-23T03:00:00Z


@pytest.mark.parametrize('raw, expected', [
    ('0.25', 0.25), ('1e-05', 1e-05), (' 3 ', 3.0), ('-2', -2.0), ('+Inf', math.inf), ('-Inf', -math.inf),
    ('Inf', math.inf), (7, 7.0),
])
def test_sample_values_are_parsed_from_prometheus_text(raw, expected):
    assert parse_sample_value(raw) == expected


def test_nan_is_parsed_as_nan():
    assert math.isnan(parse_sample_value('NaN'))


@pytest.mark.parametrize('raw', ['', 'abc', '0x10', '1.2.3', 'nanny', None, True, ['1']])
def test_what_is_not_a_sample_value_is_refused(raw):
    with pytest.raises(ValueError):
        parse_sample_value(raw)


@pytest.mark.parametrize('query, seconds', [
    ('up', 0),
    ('sum(rate(http_requests_total[5m]))', 300),
    ('rate(x[1h30m])', 5400),
    ('rate(x[250ms])', 0.25),
    ('sum(rate(a[1m])) / sum(rate(b[ 10m ]))', 600),
    ('max_over_time(rate(x[1m])[30m:1m])', 1800),
    ('rate(x[5m] offset 1h)', 3900),
    ('histogram_quantile(0.95, sum by (le) (rate(h_bucket{code=~"5.."}[30s])))', 30),
])
def test_lookback_is_the_longest_range_plus_offset(query, seconds):
    assert lookback_seconds(query) == seconds


@pytest.mark.parametrize('value, epoch', [
    ('2026-11-23T03:00:00Z', NOW), ('2026-11-23T03:00:00', NOW), ('2026-11-23T05:00:00+02:00', NOW),
    ('2026-11-23 03:00:00.500Z', NOW + 0.5), (NOW, NOW), (int(NOW) - 60, NOW - 60), (str(int(NOW)), NOW),
    (None, None), ('', None),
])
def test_since_takes_iso_times_and_epoch_seconds(value, epoch):
    assert parse_since(value, NOW) == epoch


@pytest.mark.parametrize('value, message', [
    ('yesterday', "since 'yesterday' is not a time"),
    (True, 'is not a time'),
    (NOW * 1000, 'in the future'),
    ('2026-11-23T03:10:00Z', '600 s in the future'),
])
def test_since_that_cannot_be_the_switch_is_refused(value, message):
    with pytest.raises(InvalidInputError, match=message) as caught:
        parse_since(value, NOW)
    assert caught.value.msg.endswith('No query was sent; nothing was changed.')


@pytest.mark.parametrize('spec, message', [
    ({'name': 'r', 'query': 'x'}, 'has no threshold'),
    ({'name': 'r', 'query': 'x', 'min': 2, 'max': 1}, 'min 2 is above max 1'),
    ({'name': 'r', 'query': ' ', 'max': 1}, 'query is empty'),
    ({'name': '', 'query': 'x', 'max': 1}, 'name is empty'),
    ({'name': 'r', 'query': 'x', 'max': float('nan')}, 'max nan is not a finite number'),
    ({'name': 'r', 'query': 'x', 'max': True}, 'max True is not a finite number'),
    ({'name': 'r', 'query': 'x', 'max': 1, 'aggregate': 'p95'}, "aggregate 'p95' is not one of max, min, sum, avg"),
    ('r', 'must be a mapping'),
])
def test_a_check_that_could_not_judge_is_refused(spec, message):
    with pytest.raises(InvalidInputError, match=message):
        Check.from_spec(spec, 0)


@pytest.mark.parametrize('bounds, value, phase', [
    ({'max': 0.05}, 0.05, 'Successful'),          # thresholds are inclusive
    ({'max': 0.05}, 0.0501, 'Failed'),
    ({'min': 0.99}, 0.98, 'Failed'),
    ({'min': 0.1, 'max': 0.5}, 0.3, 'Successful'),
    ({'max': 0.3}, math.inf, 'Failed'),            # a p95 beyond the largest bucket
    ({'min': 0.3}, math.inf, 'Successful'),
    ({'min': 0}, -math.inf, 'Failed'),
])
def test_values_are_held_against_min_and_max(bounds, value, phase):
    check = Check.from_spec(dict(bounds, name='c', query='x'), 0)
    assert check.judge(value, 'inconclusive')[0] == phase


@pytest.mark.parametrize('on_nan, phase', [('fail', 'Failed'), ('inconclusive', 'Inconclusive'), ('pass', 'Successful')])
def test_nan_is_what_on_nan_says_and_always_says_why(on_nan, phase):
    check = Check.from_spec({'name': 'c', 'query': 'x', 'max': 1}, 0)
    got, reason = check.judge(float('nan'), on_nan)
    assert got == phase and 'on_nan={0}'.format(on_nan) in reason


S, F, I, E = 'Successful', 'Failed', 'Inconclusive', 'Error'


@pytest.mark.parametrize('phases, limits, status, settled', [
    ([S, S, S], {}, S, False),
    ([S, F, S], {}, F, True),
    ([S, F, S], {'failure_limit': 1}, S, False),
    ([F, F], {'failure_limit': 1}, F, True),
    ([E, E, E, E], {}, E, False),                           # every measurement errored: never a success
    ([E], {}, E, False),
    ([E, E, S], {}, S, False),                               # errors within the limit, then values
    ([E, E, S, E, E], {'consecutive_error_limit': 1}, E, True),
    ([S, E, S, E, S], {'consecutive_error_limit': 0}, E, True),
    ([F, E, E], {'consecutive_error_limit': 1}, F, True),   # a breach outranks errors
    ([S, I, S], {}, I, False),
    ([S, I, S], {'inconclusive_limit': 1}, S, False),
    ([I, F], {}, F, True),
    ([I, I], {}, I, False),
    ([E, I], {}, I, False),
])
def test_a_checks_status_follows_argo(phases, limits, status, settled):
    tally = Tally([Measurement(NOW + i, phase) for i, phase in enumerate(phases)], Limits(**limits))
    assert (tally.status, tally.settled) == (status, settled)


def test_a_query_refused_as_malformed_is_an_error_at_once():
    tally = Tally([Measurement(NOW, E, permanent=True)], Limits(consecutive_error_limit=10))
    assert (tally.status, tally.settled) == (E, True)


@pytest.mark.parametrize('statuses, status', [
    ([S, S], S), ([S, I], I), ([I, E], E), ([E, F, I], F), ([], S),
])
def test_the_gate_is_its_worst_check(statuses, status):
    assert worst(statuses) == status


@pytest.mark.parametrize('values, how, expected', [
    ([1.0, 3.0, float('nan')], 'max', 3.0), ([1.0, 3.0, float('nan')], 'min', 1.0),
    ([1.0, 3.0], 'sum', 4.0), ([1.0, 3.0], 'avg', 2.0), ([1.0, math.inf], 'max', math.inf),
])
def test_aggregation_of_several_series(values, how, expected):
    assert aggregate(values, how) == expected


@pytest.mark.parametrize('values, how', [([float('nan')] * 2, 'max'), ([1.0, float('nan')], 'sum'),
                                         ([1.0, float('nan')], 'avg')])
def test_aggregation_keeps_nan_where_promql_does(values, how):
    assert math.isnan(aggregate(values, how))


def vector(*values):
    return {'resultType': 'vector',
            'result': [{'metric': {'instance': 'web-{0}'.format(i)}, 'value': [NOW, v]} for i, v in enumerate(values)]}


def test_one_value_is_read_from_a_scalar_or_a_vector_of_one_series():
    assert read_value({'resultType': 'scalar', 'result': [NOW, '0.5']}) == (0.5, '0.5', 1)
    assert read_value(vector('+Inf')) == (math.inf, '+Inf', 1)
    with pytest.raises(EmptyResult):
        read_value(vector())


def test_several_series_need_explicit_aggregation():
    with pytest.raises(MeasurementError) as caught:
        read_value(vector('0.1', '0.2', '0.3', '0.4'))
    assert 'returns 4 series ({instance="web-0"}, {instance="web-1"}, {instance="web-2"}, ...)' in caught.value.reason
    assert 'set aggregate' in caught.value.reason and not caught.value.permanent
    assert read_value(vector('0.1', '0.4'), 'max') == (0.4, '0.4', 2)
    value, raw, series = read_value(vector('NaN', 'NaN'), 'max')
    assert (raw, series) == ('NaN', 2) and math.isnan(value)


@pytest.mark.parametrize('data, message, permanent', [
    ({'resultType': 'matrix', 'result': []}, 'range vector', True),
    ({'resultType': 'string', 'result': [NOW, 'x']}, 'returns a string, not a number', True),
    ({'resultType': 'vector', 'result': [{'metric': {}, 'histogram': [NOW, {}]}]}, 'native histogram', True),
    (vector('fast'), "value that is not a number: sample value 'fast'", False),
    ({'resultType': 'vector', 'result': [{'metric': {}, 'value': [NOW]}]}, 'not [time, value]', False),
])
def test_what_is_not_one_number_is_an_error(data, message, permanent):
    with pytest.raises(MeasurementError) as caught:
        read_value(data)
    assert message in caught.value.reason and caught.value.permanent is permanent


@pytest.mark.parametrize('given, expected', [
    ('http://prom:9090', 'http://prom:9090/api/v1/query'),
    ('http://prom:9090/', 'http://prom:9090/api/v1/query'),
    ('https://mon.example.com/prometheus/', 'https://mon.example.com/prometheus/api/v1/query'),
    ('http://prom:9090/api/v1/query', 'http://prom:9090/api/v1/query'),
])
def test_the_query_api_url(given, expected):
    assert query_url(given) == expected


@pytest.mark.parametrize('given', ['prom:9090', '', None, 'ftp://prom'])
def test_a_prometheus_url_that_is_not_http_is_refused(given):
    with pytest.raises(InvalidInputError, match='is not an http:// or https:// URL'):
        query_url(given)


@pytest.mark.parametrize('status, body, message, permanent', [
    (400, b'{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}',
     'Prometheus refused the query (bad_data: 1:5: parse error: unclosed left parenthesis)', True),
    (422, b'{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}',
     'answered HTTP 422 (execution: many-to-many matching not allowed)', False),
    (503, b'{"status":"error","errorType":"timeout","error":"query timed out"}', 'answered HTTP 503 (timeout', False),
    (401, b'Unauthorized', 'answered HTTP 401 (Unauthorized): check url_username/url_password', False),
    (403, b'{"status":"error","error":"tenant not allowed"}', 'answered HTTP 403 (tenant not allowed)', False),
    (502, b'<html>Bad Gateway</html>', 'answered HTTP 502 with a body that is not its JSON API', False),
    (401, b'{"status":"error","error":"no"}', 'check url_username/url_password, bearer_token or headers', False),
    (200, b'<html><title>Sign in</title></html>', "a proxy's login page", False),
    (200, b'{"status":"success"}', 'success without data', False),
])
def test_answers_without_a_value_are_worded_for_a_user(status, body, message, permanent):
    client = PrometheusClient('http://prom:9090', lambda *args: (status, body))
    with pytest.raises(MeasurementError) as caught:
        client.query('up', NOW)
    assert message in caught.value.reason and caught.value.permanent is permanent


def test_the_query_goes_with_its_evaluation_time():
    sent = []

    def transport(method, url, body, headers, timeout):
        sent.append((method, url, body, headers, timeout))
        return 200, b'{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}'

    PrometheusClient('http://prom:9090', transport, headers={'X-Scope-OrgID': 'shop'}, timeout=3).query('up', NOW)
    PrometheusClient('http://prom:9090', transport, method='GET').query('a{b="c"}', NOW + 0.25)
    (post, get) = sent
    assert post[:3] == ('POST', 'http://prom:9090/api/v1/query', b'query=up&time=1795402800.000')
    assert post[3]['X-Scope-OrgID'] == 'shop' and post[3]['Content-Type'] == 'application/x-www-form-urlencoded'
    assert post[4] == 3
    assert get[:3] == ('GET', 'http://prom:9090/api/v1/query?query=a%7Bb%3D%22c%22%7D&time=1795402800.250', None)
