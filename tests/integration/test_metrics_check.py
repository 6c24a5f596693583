# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""metrics_check against a real Prometheus scraping real demo apps (metrics_support.py).

What is asserted is the verdict a gate gives on what Prometheus really holds:
the healthy v1 passes its 5xx ratio and p95 gates, the broken v2 (every third
request 500, each answer 0.3 s late) fails them, and an empty result, a NaN
(an app without traffic) and an unreachable Prometheus never pass silently.
"""
from __future__ import annotations

import datetime
import json

import pytest
from metrics_support import (
    BROKEN,
    HEALTHY,
    IDLE,
    Prometheus,
    Traffic,
    closed_url,
    error_ratio,
    p95,
    running_metrics_lab,
    until,
)

from ansible_collections.ops.rollback.plugins.modules import metrics_check

SECRET_TOKEN = 'never-show-this-prometheus-token-7c1d'
SECRET_PASSWORD = 'never-show-this-password-42aa'


@pytest.fixture(scope='session')
def metrics_lab():
    with running_metrics_lab() as lab:
        yield lab


@pytest.fixture
def gate(metrics_lab, run_module):
    """Run metrics_check as Ansible does against the lab's Prometheus; returns (exit code, result)."""
    def run(**args):
        args.setdefault('prometheus_url', metrics_lab.url)
        return run_module(metrics_check.main, args)
    return run


def gates(version, max_ratio=0.05, max_p95=0.2):
    return [
        {'name': 'error_ratio', 'query': error_ratio(version), 'max': max_ratio},
        {'name': 'p95_seconds', 'query': p95(version), 'max': max_p95},
    ]


def by_name(result):
    return dict((check['name'], check) for check in result['checks'])


def test_healthy_version_passes_its_5xx_ratio_and_p95_gates(gate):
    code, result = gate(checks=gates(HEALTHY), count=2, interval=1)
    assert code == 0, result['msg']
    assert (result['status'], result['changed'], result['rounds'], result['stopped_early']) == \
        ('Successful', False, 2, False)
    checks = by_name(result)
    ratio, latency = checks['error_ratio'], checks['p95_seconds']
    assert [m['phase'] for m in ratio['measurements']] == ['Successful', 'Successful']
    # Not one 500 from v1, and its answers take milliseconds.
    assert [m['value'] for m in ratio['measurements']] == [0.0, 0.0]
    assert all(0 < m['value'] < 0.1 for m in latency['measurements']), latency['measurements']
    assert (ratio['successful'], ratio['failed'], ratio['errors'], ratio['message']) == (2, 0, 0, None)
    assert ratio['lookback_seconds'] == 30
    assert result['report_checks'][0] == {'name': 'error_ratio', 'before': 0.0, 'after': 0.0,
                                          'threshold': 'max 0.05', 'passed': True}
    assert result['report_checks'][1]['before'] == latency['first'] == latency['measurements'][0]['value']


def test_broken_version_fails_both_gates_and_stops_at_once(gate):
    code, result = gate(checks=gates(BROKEN), count=5, interval=1)
    assert code == 1
    assert (result['status'], result['changed'], result['rounds'], result['stopped_early']) == \
        ('Failed', False, 1, True)
    checks = by_name(result)
    ratio, latency = checks['error_ratio']['measurements'][0], checks['p95_seconds']['measurements'][0]
    # Every third request of v2-broken is a 500; each answer takes 0.3 s, so its p95 is in the 0.25-0.5 s bucket.
    assert ratio['phase'] == 'Failed' and 0.25 < ratio['value'] < 0.42, ratio
    assert latency['phase'] == 'Failed' and 0.25 <= latency['value'] <= 0.5, latency
    assert ratio['reason'].endswith(' is above max 0.05') and latency['reason'].endswith(' is above max 0.2')
    assert result['msg'].startswith('Metrics check Failed after 1 round of 5 (stopped early')
    assert 'error_ratio: Failed, 1 of 1 measurement breached max 0.05' in result['msg']
    assert 'p95_seconds: Failed' in result['msg'] and 'roll it back' in result['msg']
    assert [c['passed'] for c in result['report_checks']] == [False, False]


def test_failure_limit_tolerates_that_many_breaches(gate):
    checks = [{'name': 'error_ratio', 'query': error_ratio(BROKEN), 'max': 0.05}]
    # Two rounds, two breaches: one is tolerated, the second is one too many.
    code, result = gate(checks=checks, count=2, interval=1, failure_limit=1)
    assert (code, result['status'], result['rounds'], result['stopped_early']) == (1, 'Failed', 2, False)
    assert by_name(result)['error_ratio']['failed'] == 2
    code, result = gate(checks=checks, count=2, interval=1, failure_limit=2)
    assert (code, result['status'], result['rounds']) == (0, 'Successful', 2), result['msg']
    assert result['msg'].endswith('; within their limits, measurements of error_ratio (2 failed).')


@pytest.mark.parametrize('policy, status, code', [
    (None, 'Inconclusive', 1), ('fail', 'Failed', 1), ('inconclusive', 'Inconclusive', 1), ('pass', 'Successful', 0),
])
def test_gate_with_an_empty_result(gate, policy, status, code):
    # No app runs version v9: the selector matches no series.
    args = dict(checks=[{'name': 'error_ratio', 'query': error_ratio('v9'), 'max': 0.05}])
    if policy:
        args['on_empty'] = policy
    got, result = gate(**args)
    assert (got, result['status']) == (code, status), result['msg']
    measurement = result['checks'][0]['measurements'][0]
    assert (measurement['value'], measurement['raw'], measurement['series']) == (None, None, 0)
    assert 'empty result: the query matched no series' in measurement['reason']
    assert 'on_empty={0}'.format(policy or 'inconclusive') in measurement['reason']
    assert result['report_checks'][0]['before'] is None
    if policy != 'pass':
        assert 'on_empty and on_nan' in result['msg'] or status == 'Failed'


@pytest.mark.parametrize('policy, status, code', [
    (None, 'Inconclusive', 1), ('fail', 'Failed', 1), ('pass', 'Successful', 0),
])
def test_gate_with_a_nan_result(gate, policy, status, code):
    # v0-idle gets no requests: its rates are 0, so its 5xx ratio is 0/0 and its p95 has no observations.
    args = dict(checks=[{'name': 'error_ratio', 'query': error_ratio(IDLE), 'max': 0.05},
                        {'name': 'p95_seconds', 'query': p95(IDLE), 'max': 0.2}])
    if policy:
        args['on_nan'] = policy
    got, result = gate(**args)
    assert (got, result['status']) == (code, status), result['msg']
    for check in result['checks']:
        measurement = check['measurements'][0]
        assert (measurement['raw'], measurement['value'], measurement['series']) == ('NaN', None, 1)
        assert 'on_nan={0}'.format(policy or 'inconclusive') in measurement['reason']
        assert check['first'] == check['last'] == 'NaN'


def test_the_demo_app_counts_its_requests_but_not_the_scrapes(metrics_lab):
    # v0-idle answered one request; Prometheus has scraped its /metrics every second since.
    exposed = metrics_lab.apps[IDLE].metrics()
    assert 'demo_http_requests_total{method="GET",path="/",code="200",version="v0-idle"} 1\n' in exposed
    assert 'demo_http_requests_total{method="GET",path="/",code="500",version="v0-idle"} 0\n' in exposed
    assert 'path="other"' not in exposed and '/metrics' not in exposed
    assert 'demo_http_request_duration_seconds_count{method="GET",path="/",version="v0-idle"} 1\n' in exposed
    scraped = metrics_lab.prometheus.query('sum(demo_http_requests_total{version="v0-idle"})')
    assert scraped[0]['value'][1] == '1'


def test_gate_with_an_unreachable_prometheus_is_an_error_and_keeps_secrets(gate):
    url = closed_url()
    code, result = gate(prometheus_url=url, checks=gates(HEALTHY), count=2, interval=0.2,
                        bearer_token=SECRET_TOKEN)
    assert code == 1
    # Two errors are fewer than consecutive_error_limit 4, but a check whose every measurement errored is no success.
    assert (result['status'], result['rounds']) == ('Error', 2)
    for check in result['checks']:
        assert (check['status'], check['errors'], check['first']) == ('Error', 2, None)
        assert 'Prometheus at {0}/api/v1/query did not answer: connection refused'.format(url) in \
            check['measurements'][0]['reason']
    assert 'every one of 2 measurements errored' in result['msg'] and 'No verdict could be reached' in result['msg']
    assert SECRET_TOKEN not in json.dumps(result)

    code, result = gate(prometheus_url=url.replace('http://', 'http://ops:{0}@'.format(SECRET_PASSWORD)),
                        checks=gates(HEALTHY))
    assert (code, result['status']) == (1, 'Error')
    assert SECRET_PASSWORD not in json.dumps(result)
    assert result['prometheus_url'] == url.replace('http://', 'http://ops:********@') + '/api/v1/query'


def test_basic_auth_reaches_prometheus_and_the_password_stays_secret(gate, metrics_lab, tmp_path):
    guarded = Prometheus(str(tmp_path), [metrics_lab.apps[HEALTHY].target], users={'ops': SECRET_PASSWORD})
    try:
        checks = [{'name': 'answers', 'query': 'vector(1)', 'min': 1}]
        code, result = gate(prometheus_url=guarded.url, checks=checks, url_username='ops', url_password=SECRET_PASSWORD)
        assert (code, result['status']) == (0, 'Successful'), result['msg']
        assert result['checks'][0]['measurements'][0]['raw'] == '1'
        # Prometheus refuses a wrong password, and a missing one: no value, an error that says what to check.
        for credentials in ({'url_username': 'ops', 'url_password': 'wrong-' + SECRET_PASSWORD}, {}):
            code, result = gate(prometheus_url=guarded.url, checks=checks, **credentials)
            assert (code, result['status']) == (1, 'Error')
            assert 'answered HTTP 401' in result['msg'] and 'check url_username/url_password' in result['msg']
            assert SECRET_PASSWORD not in json.dumps(result)
    finally:
        guarded.down()


def test_several_series_are_an_error_unless_aggregated(gate):
    # One 5xx ratio per version: three series.
    query = ('sum by (version) (rate(demo_http_requests_total{code=~"5.."}[30s])) '
             '/ sum by (version) (rate(demo_http_requests_total[30s]))')
    code, result = gate(checks=[{'name': 'error_ratio', 'query': query, 'max': 0.05}])
    assert (code, result['status']) == (1, 'Error')
    measurement = result['checks'][0]['measurements'][0]
    assert measurement['series'] == 3
    assert 'the query returns 3 series' in measurement['reason'] and 'set aggregate' in measurement['reason']
    # The worst version judged: v2-broken's third of 500s (v0-idle's NaN is skipped by max).
    code, result = gate(checks=[{'name': 'error_ratio', 'query': query, 'max': 0.05, 'aggregate': 'max'}])
    assert (code, result['status']) == (1, 'Failed')
    assert 0.25 < result['checks'][0]['measurements'][0]['value'] < 0.42
    code, result = gate(checks=[{'name': 'error_ratio', 'query': query, 'max': 0.05, 'aggregate': 'min'}])
    assert (code, result['status']) == (0, 'Successful'), result['msg']


def test_a_query_prometheus_refuses_is_an_error_at_once(gate):
    code, result = gate(checks=[{'name': 'typo', 'query': 'sum(rate(demo_http_requests_total[30s]', 'max': 1}],
                        count=3, interval=1, method='GET')
    assert (code, result['status'], result['rounds'], result['stopped_early']) == (1, 'Error', 1, True)
    reason = result['checks'][0]['measurements'][0]['reason']
    assert reason.startswith('Prometheus refused the query (bad_data: ') and 'fix the PromQL expression' in reason


def test_since_keeps_every_window_after_the_switch(gate):
    switched = datetime.datetime.now(datetime.timezone.utc)
    checks = [{'name': 'error_ratio', 'query': error_ratio(HEALTHY, window='2s'), 'max': 0.05}]
    code, result = gate(checks=checks, since=switched.isoformat())
    assert code == 0, result['msg']
    measured = datetime.datetime.fromisoformat(result['checks'][0]['measurements'][0]['time'].replace('Z', '+00:00'))
    # The query reads the 2 s before its evaluation time: evaluated no earlier than 2 s after the switch.
    assert measured >= switched + datetime.timedelta(seconds=2) - datetime.timedelta(milliseconds=1)


def test_a_gate_right_after_a_switch_judges_the_old_version_unless_since_says_when(gate, metrics_lab):
    # One service, two releases: clients move from the broken one to the fixed one, as a rollback moves them.
    broken, fixed = metrics_lab.add({'v4-broken': {'broken': True}, 'v4-fixed': {}})
    service = 'v4-.*'
    query = ('sum(rate(demo_http_requests_total{{version=~"{0}",code=~"5.."}}[3s])) '
             '/ sum(rate(demo_http_requests_total{{version=~"{0}"}}[3s]))'.format(service))
    checks = [{'name': 'error_ratio', 'query': query, 'max': 0.05}]
    clients = Traffic([broken])
    try:
        until(lambda: metrics_lab.prometheus.query(query + ' > 0.2'), 'Prometheus sees the broken release fail')
    finally:
        clients.stop()
    switched = datetime.datetime.now(datetime.timezone.utc)
    clients = Traffic([fixed])
    try:
        # At once: the 3 s window still holds the broken release's 500s, though it serves no one any more.
        code, result = gate(checks=checks)
        assert (code, result['status']) == (1, 'Failed'), result['msg']
        assert result['checks'][0]['measurements'][0]['value'] > 0.05
        # With since, the window starts after the switch: only the fixed release is judged.
        code, result = gate(checks=checks, since=switched.isoformat())
        assert (code, result['status']) == (0, 'Successful'), result['msg']
        assert result['checks'][0]['measurements'][0]['value'] == 0.0
    finally:
        clients.stop()


def test_check_mode_runs_the_same_read_only_gate(gate):
    code, result = gate(checks=gates(BROKEN), _ansible_check_mode=True)
    assert (code, result['status'], result['changed']) == (1, 'Failed', False)
    code, result = gate(checks=gates(HEALTHY), _ansible_check_mode=True, _ansible_diff=True)
    assert (code, result['status'], result['changed']) == (0, 'Successful', False)
    assert 'diff' not in result


@pytest.mark.parametrize('args, expected', [
    ({'checks': [{'name': 'error_ratio', 'query': 'vector(0)'}]}, 'checks[0] (error_ratio) has no threshold'),
    ({'checks': [{'name': 'band', 'query': 'vector(0)', 'min': 2, 'max': 1}]}, 'min 2 is above max 1'),
    ({'checks': [{'name': 'a', 'query': 'vector(0)', 'max': 1}] * 2}, 'checks named a more than once'),
    ({'count': 3, 'interval': 0}, 'interval must be a positive number of seconds'),
    ({'since': '2999-01-01T00:00:00Z'}, 'in the future'),
    ({'since': 'after lunch'}, "since 'after lunch' is not a time"),
    ({'failure_limit': -1}, 'failure_limit must be a whole number, 0 or more'),
    ({'prometheus_url': 'prometheus:9090'}, "prometheus_url 'prometheus:9090' is not an http:// or https:// URL"),
    ({'bearer_token': SECRET_TOKEN, 'headers': {'Authorization': 'Basic x'}}, 'bearer_token and an Authorization'),
])
def test_bad_input_is_refused_before_any_query(gate, args, expected):
    args.setdefault('checks', [{'name': 'error_ratio', 'query': error_ratio(HEALTHY), 'max': 0.05}])
    code, result = gate(**args)
    assert code == 1
    assert expected in result['msg'], result['msg']
    assert result['msg'].endswith('No query was sent; nothing was changed.')
    assert 'status' not in result and result['changed'] is False
    assert SECRET_TOKEN not in json.dumps(result)
