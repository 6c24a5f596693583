# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HealthChecker against a real HTTP server on 127.0.0.1, through Ansible's open_url.

Outcomes only (passed or not, and the reason a user reads); sleeping between
rounds is a no-op so the suite stays fast.
"""

from __future__ import annotations


import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.health import checker as checker_mod
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import (
    Endpoint,
    HealthChecker,
    open_url_fetch,
    p95,
)


class _Sleeps:
    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


def make_checker(endpoints, **kwargs):
    kwargs.setdefault('retries', 3)
    kwargs.setdefault('successes', 1)
    kwargs.setdefault('delay', 2)
    kwargs.setdefault('timeout', 5)
    kwargs.setdefault('sleep', _Sleeps())
    return HealthChecker(endpoints, fetch=open_url_fetch(use_proxy=False), **kwargs)


def _url(server, path):
    return path if path.startswith('http') else server + path


# ---------------------------------------------------------------------------
# single endpoint: which answers pass, and the reason for those that do not
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('endpoint, passed, reason', [
    pytest.param({'url': '/health'}, True, None, id='healthy'),
    pytest.param({'url': '/health', 'status': [200, 204]}, True, None, id='status-list'),
    pytest.param({'url': '/redirect'}, True, None, id='redirect-followed'),
    pytest.param({'url': '/created', 'status': 201}, True, None, id='non-200-expected'),
    pytest.param({'url': '/health', 'method': 'HEAD'}, True, None, id='head'),
    pytest.param({'url': '/health', 'body_regex': r'"status":\s*"ok"'}, True, None, id='body-regex'),
    pytest.param({'url': '/health', 'json_query': 'status', 'equals': 'ok'}, True, None, id='json-equals'),
    pytest.param({'url': '/health', 'json_query': 'checks.db', 'equals': 'up'}, True, None, id='json-nested'),
    pytest.param({'url': '/health', 'json_query': 'ready', 'equals': True}, True, None, id='json-bool'),
    pytest.param({'url': '/health', 'json_query': 'ready'}, True, None, id='json-truthy'),
    pytest.param({'url': '/health', 'json_query': 'errors'}, True, None, id='json-zero-is-a-value'),
    pytest.param({'url': '/health', 'json_query': 'errors', 'equals': 0}, True, None, id='json-equals-zero'),
    pytest.param({'url': '/health', 'max_latency_ms': 5000}, True, None, id='latency-within'),
    pytest.param({'url': '/error'}, False, 'status 500, expected 200', id='status-500'),
    pytest.param({'url': '/error', 'status': [200, 204]}, False, 'status 500, expected one of 200, 204',
                 id='status-500-list'),
    pytest.param({'url': '/nowhere'}, False, 'status 404, expected 200', id='status-404'),
    pytest.param({'url': '/html', 'body_regex': '<title>Shop</title>'}, False,
                 "body does not match regex '<title>Shop</title>'", id='body-mismatch'),
    pytest.param({'url': '/failing-json', 'json_query': 'status', 'equals': 'ok'}, False,
                 "json_query 'status' gave 'failing', expected 'ok'", id='json-wrong-value'),
    pytest.param({'url': '/health', 'json_query': 'missing'}, False,
                 "json_query 'missing' gave null, expected a non-empty value", id='json-missing'),
    pytest.param({'url': '/health', 'json_query': 'degraded'}, False,
                 "json_query 'degraded' gave [], expected a non-empty value", id='json-empty-list'),
    pytest.param({'url': '/health', 'json_query': 'maintenance'}, False,
                 "json_query 'maintenance' gave false, expected a non-empty value", id='json-false'),
    pytest.param({'url': '/health', 'json_query': 'ready', 'equals': 1}, False,
                 "json_query 'ready' gave true, expected 1", id='json-bool-is-not-int'),
    pytest.param({'url': '/html', 'json_query': 'status', 'equals': 'ok'}, False,
                 "body is not JSON, so json_query 'status' cannot be evaluated", id='json-not-json'),
    pytest.param({'url': '/secret'}, False, 'status 401, expected 200', id='no-auth-header'),
    pytest.param({'url': '/secret', 'headers': {'Authorization': 'Bearer s3cr3t'}}, True, None,
                 id='auth-header-sent'),
])
def test_single_endpoint(server, endpoint, passed, reason):
    spec = dict(endpoint, url=_url(server, endpoint['url']))
    result = make_checker([spec]).run()
    assert result.passed is passed
    (ep,) = result.as_dict()['endpoints']
    assert ep['ok'] is passed
    if reason is None:
        assert ep['reason'] is None and ep['failures'] == 0
    else:
        assert ep['reason'].startswith(reason)
        assert ep['failures'] == ep['attempts'] == 3


def test_slow_answer_trips_max_latency(server):
    result = make_checker([{'url': server + '/slow', 'max_latency_ms': 50}], retries=1).run()
    (ep,) = result.endpoints
    assert result.passed is False
    assert ep['status'] == 200
    assert ep['reason'].startswith('latency ') and ep['reason'].endswith(' ms over max_latency_ms 50')


def test_slow_answer_times_out(server):
    result = make_checker([{'url': server + '/slow'}], timeout=0.05, retries=1).run()
    (ep,) = result.endpoints
    assert result.passed is False
    assert ep['reason'] == 'timed out after 0.05 s'
    assert ep['status'] is None and ep['latency_ms'] is None


def test_connection_refused(closed_port_url):
    result = make_checker([{'url': closed_port_url}], retries=2).run()
    (ep,) = result.endpoints
    assert result.passed is False
    assert ep['reason'] == 'connection refused'
    assert ep['attempts'] == ep['failures'] == 2
    assert ep['status'] is None and ep['p95_latency_ms'] is None
    assert result.p95_latency_ms is None


# ---------------------------------------------------------------------------
# rounds, streaks, retries
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('successes, retries, passed, rounds, failures', [
    # ok ok 503 | ok ok 503 ...: two in a row is reachable, three never is.
    pytest.param(2, 5, True, 2, 0, id='two-in-a-row-passes-early'),
    pytest.param(3, 5, False, 5, 1, id='third-request-resets-streak'),
    pytest.param(3, 9, False, 9, 3, id='flapping-never-passes'),
    pytest.param(1, 1, True, 1, 0, id='one-round'),
])
def test_flapping_endpoint_resets_streak(server, request, successes, retries, passed, rounds, failures):
    url = '{0}/flapping/{1}'.format(server, request.node.callspec.id)
    sleeps = _Sleeps()
    result = make_checker([{'url': url}], successes=successes, retries=retries, sleep=sleeps).run()
    (ep,) = result.endpoints
    assert (result.passed, result.rounds, ep['failures']) == (passed, rounds, failures)
    assert ep['attempts'] == rounds
    # It waits between rounds, never after the last one.
    assert sleeps.calls == [2] * (rounds - 1)
    if not passed:
        assert ep['reason'] == 'status 503, expected 200'


def test_flapping_message_says_streak_was_reset(server):
    url = server + '/flapping/message'
    result = make_checker([{'url': url}], successes=3, retries=5).run()
    msg = result.failure_message()
    # rounds: ok ok FAIL ok ok -> last round passed, streak only 2.
    assert result.endpoints[0]['ok'] is True
    assert msg.startswith('Health check failed: after 5 rounds the service had passed only 2 rounds in a row '
                          'of the 3 needed; round 3 failed ({0}: status 503, expected 200).'.format(url))
    assert 'flapping' in msg and 'raise retries' in msg


def test_failure_message_names_failing_endpoint_only(server, closed_port_url):
    result = make_checker([{'url': server + '/health'}, {'url': server + '/error'}, {'url': closed_port_url}],
                          retries=5, successes=3).run()
    assert result.passed is False and result.rounds == 5
    assert [ep['ok'] for ep in result.endpoints] == [True, False, False]
    assert result.failure_message() == (
        'Health check failed for 2 of 3 endpoints after 5 rounds: {0}/error: status 500, expected 200; '
        "{1}: connection refused. Check the service's logs; the check needs 3 consecutive passing rounds.".format(
            server, closed_port_url))


def test_passing_result_shape(server):
    result = make_checker([{'url': server + '/health'}, {'url': server + '/created', 'status': 201}],
                          successes=3, retries=5).run()
    out = result.as_dict()
    assert out['passed'] is True and out['rounds'] == 3
    assert isinstance(out['p95_latency_ms'], int)
    assert result.failure_message() is None
    for ep in out['endpoints']:
        assert set(ep) == {'url', 'ok', 'status', 'latency_ms', 'p95_latency_ms', 'attempts', 'failures', 'reason'}
        assert (ep['ok'], ep['attempts'], ep['failures'], ep['reason']) == (True, 3, 0, None)
    assert [ep['status'] for ep in out['endpoints']] == [200, 201]


@pytest.mark.parametrize('values, expected', [
    ([], None),
    ([7], 7),
    ([5, 1, 3], 5),
    (list(range(1, 101)), 95),
    (list(range(1, 21)), 19),
])
def test_p95_nearest_rank(values, expected):
    assert p95(values) == expected


# ---------------------------------------------------------------------------
# input validation: refused before any request, naming the option
# ---------------------------------------------------------------------------

def _refusing_fetch(*args):
    raise AssertionError('no request may be sent for invalid input')


@pytest.mark.parametrize('endpoints, kwargs, message', [
    pytest.param([], {}, 'Option endpoints is empty', id='no-endpoints'),
    pytest.param([{'url': 'ftp://host/health'}], {}, "endpoints[0].url 'ftp://host/health' is not an http:// or "
                 'https:// URL', id='ftp-url'),
    pytest.param([{'url': 'http://ok/'}, {'url': '127.0.0.1:8000/health'}], {}, 'endpoints[1].url', id='no-scheme'),
    pytest.param([{'url': 'http://ok/', 'equals': 'ok'}], {},
                 'endpoints[0].equals is set but endpoints[0].json_query is not', id='equals-without-query'),
    pytest.param([{'url': 'http://ok/', 'json_query': 'status[', 'equals': 'ok'}], {},
                 "endpoints[0].json_query 'status[' is not a valid JMESPath expression", id='bad-query'),
    pytest.param([{'url': 'http://ok/', 'body_regex': '(unclosed'}], {},
                 "endpoints[0].body_regex '(unclosed' is not a valid Python regular expression", id='bad-regex'),
    pytest.param([{'url': 'http://ok/', 'status': 99}], {}, 'endpoints[0].status 99 is not an HTTP status code',
                 id='bad-status'),
    pytest.param([{'url': 'http://ok/', 'method': 'DELETE'}], {}, "endpoints[0].method 'DELETE' is not supported",
                 id='bad-method'),
    pytest.param([{'url': 'http://ok/', 'max_latency_ms': 0}], {}, 'endpoints[0].max_latency_ms must be a positive number',
                 id='zero-latency'),
    pytest.param([{'url': 'http://ok/'}], {'retries': 0}, 'retries must be a whole number of rounds, at least 1',
                 id='zero-retries'),
    pytest.param([{'url': 'http://ok/'}], {'successes': 0}, 'successes must be', id='zero-successes'),
    pytest.param([{'url': 'http://ok/'}], {'retries': 2, 'successes': 3},
                 'successes (3) cannot be more than retries (2): the check could never pass. '
                 'Raise retries or lower successes.', id='successes-over-retries'),
    pytest.param([{'url': 'http://ok/'}], {'delay': -1}, 'delay must be zero or more seconds', id='negative-delay'),
    pytest.param([{'url': 'http://ok/'}], {'timeout': 0}, 'timeout must be a positive number', id='zero-timeout'),
])
def test_invalid_input_is_refused_up_front(endpoints, kwargs, message):
    with pytest.raises(InvalidInputError) as caught:
        HealthChecker(endpoints, fetch=_refusing_fetch, **kwargs)
    assert message in str(caught.value)


def test_missing_jmespath_is_explained(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == 'jmespath':
            raise ImportError('No module named jmespath')
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', fake_import)
    with pytest.raises(checker_mod.MissingLibraryError) as caught:
        Endpoint('http://ok/', json_query='status', equals='ok').validate('endpoints[0]')
    assert 'endpoints[0].json_query needs the Python library jmespath' in caught.value.msg
    assert 'or check the body with body_regex instead' in caught.value.msg
    assert caught.value.details['library'] == 'jmespath'
