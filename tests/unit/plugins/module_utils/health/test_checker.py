# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HealthChecker against a real HTTP server on 127.0.0.1, through Ansible's open_url.

Outcomes only (passed or not, and the reason a user reads); sleeping between
rounds is a no-op so the suite stays fast.
"""

from __future__ import annotations

import itertools
import json
import random
import sys

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.health import checker as checker_mod
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import (
    HealthChecker,
    MissingLibraryError,
    SimplePath,
    open_url_fetch,
    p95,
    parse_simple_path,
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
    pytest.param([{'url': 'http://ok/'}], {'delay': float('inf')}, 'delay must be zero or more seconds between '
                 'rounds, fractions allowed such as 0.5 (got inf)', id='infinite-delay'),
    pytest.param([{'url': 'http://ok/'}], {'timeout': 0}, 'timeout must be a positive number', id='zero-timeout'),
    pytest.param([{'url': 'http://ok/'}], {'timeout': float('nan')}, 'timeout must be a positive number of seconds '
                 'per request, fractions allowed such as 0.5 (got nan)', id='nan-timeout'),
    pytest.param([{'url': 'http://ok/', 'json_query': 5}], {}, 'endpoints[0].json_query must be a string',
                 id='query-not-a-string'),
])
def test_invalid_input_is_refused_up_front(endpoints, kwargs, message):
    with pytest.raises(InvalidInputError) as caught:
        HealthChecker(endpoints, fetch=_refusing_fetch, **kwargs)
    assert message in str(caught.value)


# ---------------------------------------------------------------------------
# defaults: successes, fractional delay
# ---------------------------------------------------------------------------

def test_retries_alone_passes_on_the_first_passing_round(server):
    # successes is not given: like a Kubernetes probe's successThreshold it defaults to 1, so retries=2 is accepted.
    sleeps = _Sleeps()
    result = HealthChecker([{'url': server + '/health'}], fetch=open_url_fetch(use_proxy=False), retries=2,
                           sleep=sleeps).run()
    assert (result.passed, result.rounds, sleeps.calls) == (True, 1, [])


def test_retries_alone_still_fails_an_unhealthy_endpoint(server):
    sleeps = _Sleeps()
    result = HealthChecker([{'url': server + '/error'}], fetch=open_url_fetch(use_proxy=False), retries=2,
                           delay=0.2, sleep=sleeps).run()
    assert (result.passed, result.rounds) == (False, 2)
    assert sleeps.calls == [0.2]
    assert result.failure_message().endswith('the check needs a passing round.')


# ---------------------------------------------------------------------------
# json_query: simple paths need no jmespath, everything else uses it
# ---------------------------------------------------------------------------

BODIES = {
    'http://app/health': {
        'status': 'ok',
        'data': {'version': '2.4.1', 'build': {'number': 17}},
        'checks': [{'name': 'db', 'ok': True}, {'name': 'cache', 'ok': False}],
        'items': ['first', 'middle', 'last'],
        'matrix': {'rows': [[1, 2], [3, {'ok': 'yes'}]]},
        'my-key': {'up': True},
        'true': 'a key named true',
    },
    'http://app/list': [{'status': 'ok'}, {'status': 'starting'}],
}


def _fetch_bodies(url, method, headers, timeout, validate_certs):
    return 200, json.dumps(BODIES[url]).encode('utf-8')


def _check_body(url, json_query, equals=None):
    endpoint = {'url': url, 'json_query': json_query}
    if equals is not None:
        endpoint['equals'] = equals
    result = HealthChecker([endpoint], fetch=_fetch_bodies, retries=1).run()
    return result.passed, result.endpoints[0]['reason']


@pytest.fixture
def no_jmespath(monkeypatch):
    """Make ``import jmespath`` fail, as on a managed host without it."""
    monkeypatch.setitem(sys.modules, 'jmespath', None)
    with pytest.raises(ImportError):
        import jmespath  # noqa: F401  pylint: disable=unused-import


@pytest.mark.parametrize('url, json_query, equals, reason', [
    pytest.param('http://app/health', 'status', 'ok', None, id='key'),
    pytest.param('http://app/health', 'data.version', '2.4.1', None, id='dotted'),
    pytest.param('http://app/health', 'data.version', '2.4.0', "json_query 'data.version' gave '2.4.1', expected "
                 "'2.4.0'", id='dotted-wrong-value'),
    pytest.param('http://app/health', 'data.build.number', 17, None, id='three-deep'),
    pytest.param('http://app/health', 'checks[0].ok', None, None, id='index-then-key-truthy'),
    pytest.param('http://app/health', 'checks[1].ok', None, "json_query 'checks[1].ok' gave false, expected a "
                 'non-empty value', id='index-then-key-false'),
    pytest.param('http://app/health', 'checks[-1].name', 'cache', None, id='negative-index'),
    pytest.param('http://app/health', 'items[-1]', 'last', None, id='last-item'),
    pytest.param('http://app/health', 'items[-3]', 'first', None, id='negative-index-at-start'),
    pytest.param('http://app/health', 'matrix.rows[1][1].ok', 'yes', None, id='chained-indexes'),
    pytest.param('http://app/health', '"my-key".up', True, None, id='quoted-key'),
    pytest.param('http://app/health', 'true', 'a key named true', None, id='true-is-a-key'),
    pytest.param('http://app/health', ' data . version ', '2.4.1', None, id='whitespace-between-tokens'),
    pytest.param('http://app/list', '[0].status', 'ok', None, id='root-list'),
    pytest.param('http://app/list', '[1].status', 'ok', "json_query '[1].status' gave 'starting', expected 'ok'",
                 id='root-list-wrong-value'),
    # JMESPath semantics: missing, out of range or the wrong type gives null, never an error or a Python answer.
    pytest.param('http://app/health', 'data.missing', None, "json_query 'data.missing' gave null", id='missing-key'),
    pytest.param('http://app/health', 'items[3]', None, "json_query 'items[3]' gave null", id='index-past-end'),
    pytest.param('http://app/health', 'items[-4]', None, "json_query 'items[-4]' gave null", id='index-before-start'),
    pytest.param('http://app/health', 'data.version[0]', '2', "json_query 'data.version[0]' gave null, expected '2'",
                 id='index-into-string-is-null'),
    pytest.param('http://app/health', 'data[0]', None, "json_query 'data[0]' gave null", id='index-into-mapping'),
    pytest.param('http://app/health', 'checks.ok', None, "json_query 'checks.ok' gave null", id='key-on-list'),
    pytest.param('http://app/health', 'status.code', None, "json_query 'status.code' gave null", id='key-on-string'),
    pytest.param('http://app/list', 'status', None, "json_query 'status' gave null", id='key-on-root-list'),
])
def test_simple_paths_need_no_jmespath(no_jmespath, url, json_query, equals, reason):
    passed, got = _check_body(url, json_query, equals)
    assert passed is (reason is None)
    if reason is None:
        assert got is None
    else:
        assert got.startswith(reason)


def test_simple_path_against_real_server_without_jmespath(no_jmespath, server):
    result = make_checker([{'url': server + '/health', 'json_query': 'checks.db', 'equals': 'up'},
                           {'url': server + '/failing-json', 'json_query': 'status', 'equals': 'ok'}], retries=1).run()
    assert [ep['reason'] for ep in result.endpoints] == [None, "json_query 'status' gave 'failing', expected 'ok'"]


@pytest.mark.parametrize('json_query, equals, reason', [
    pytest.param('checks[?ok].name | [0]', 'db', None, id='filter-pipe'),
    pytest.param('length(checks[?ok == `false`])', 0, "json_query 'length(checks[?ok == `false`])' gave 1, "
                 'expected 0', id='function-on-filter'),
    pytest.param('checks[*].name', ['db', 'cache'], None, id='projection'),
    pytest.param('a[]', None, "json_query 'a[]' gave null", id='flatten'),
    pytest.param('data.[version, build.number]', ['2.4.1', 17], None, id='multi-select-list'),
    pytest.param('length(status)', 2, None, id='function'),
    pytest.param('length(data.build.number)', 2,
                 "json_query 'length(data.build.number)' could not be evaluated on the body: In function length(), "
                 'invalid type for value: 17', id='runtime-type-error-is-a-reason'),
])
def test_other_expressions_use_jmespath_when_installed(json_query, equals, reason):
    pytest.importorskip('jmespath')
    passed, got = _check_body('http://app/health', json_query, equals)
    assert passed is (reason is None)
    if reason is None:
        assert got is None
    else:
        assert got.startswith(reason)


def test_other_expressions_without_jmespath_say_what_works(no_jmespath):
    with pytest.raises(MissingLibraryError) as caught:
        HealthChecker([{'url': 'http://ok/'}, {'url': 'http://ok/', 'json_query': 'checks[?ok].name', 'equals': 'db'}],
                      fetch=_refusing_fetch)
    msg = caught.value.msg
    assert msg.startswith("endpoints[1].json_query 'checks[?ok].name' needs the Python library jmespath on the "
                          'host that runs the check (the managed host), and it is not installed there: ')
    assert ('Without jmespath, json_query takes a key (status), a dotted path (data.version), list indexes '
            '(checks[0].ok, items[-1]) and quoted keys ("my-key".up).') in msg
    assert 'or check the body with body_regex instead' in msg
    assert caught.value.details == {'library': 'jmespath', 'option': 'endpoints[1].json_query'}


MALFORMED = [
    pytest.param('status[', "expected a list index such as 0 or -1 after '[' at the end (position 7)",
                 id='open-bracket'),
    pytest.param('checks[0', "expected ']' after the list index 0 at the end (position 8)", id='unclosed-index'),
    pytest.param('checks[0.ok', "expected ']' after the list index 0 at position 8", id='dot-inside-index'),
    pytest.param('data..version', "expected a name after '.' at position 5", id='double-dot'),
    pytest.param('data.', "expected a name after '.' at the end (position 5)", id='trailing-dot'),
    pytest.param('.status', "unexpected '.' at position 0", id='leading-dot'),
    pytest.param('my-key', "'-' at position 2 is not followed by a digit; a name with '-' in it must be quoted, "
                 'for example "my-key"', id='unquoted-hyphen'),
    pytest.param('"my-key', 'the quoted name at position 0 has no closing "', id='unclosed-quote'),
    pytest.param('0', "unexpected '0' at position 0 (a list index goes in brackets, as in items[0])", id='bare-number'),
    pytest.param('data version', "unexpected 'version' at position 5", id='space-instead-of-dot'),
    pytest.param('items[0]]', "unexpected ']' at position 8", id='extra-bracket'),
]


@pytest.mark.parametrize('with_jmespath', [True, False], ids=['jmespath', 'no-jmespath'])
@pytest.mark.parametrize('json_query, problem', MALFORMED)
def test_malformed_path_is_refused_the_same_with_or_without_jmespath(monkeypatch, with_jmespath, json_query, problem):
    if with_jmespath:
        pytest.importorskip('jmespath')
    else:
        monkeypatch.setitem(sys.modules, 'jmespath', None)
    with pytest.raises(InvalidInputError) as caught:
        HealthChecker([{'url': 'http://ok/', 'json_query': json_query}], fetch=_refusing_fetch)
    assert caught.value.msg == (
        'endpoints[0].json_query {0!r} is not a valid JMESPath expression: {1}. Fix the expression, for example '
        'status, data.version or checks[0].ok (see https://jmespath.org/tutorial.html).'.format(json_query, problem))
    assert caught.value.details == {'option': 'endpoints[0].json_query'}


def test_invalid_jmespath_beyond_simple_paths_is_refused_by_jmespath():
    pytest.importorskip('jmespath')
    with pytest.raises(InvalidInputError) as caught:
        HealthChecker([{'url': 'http://ok/', 'json_query': 'checks[?ok =='}], fetch=_refusing_fetch)
    assert caught.value.msg.startswith("endpoints[0].json_query 'checks[?ok ==' is not a valid JMESPath expression: ")


# The built-in evaluator must agree with jmespath: every expression it accepts
# gives jmespath's result on every document, and every expression it calls
# malformed is refused by jmespath too. Exhaustive over short strings of the
# characters that matter, then random strings of tokens.
_DOCUMENTS = [
    {'a': {'a': [1, {'a': 2}, [3]], '': 'e', 'b': None}, '': [4, {'a': 5}], '-1': 6},
    [{'a': 1}, [2, {'': 3}], 'x'],
    'text', 7, None, True, {'a': 'abc'},
]
_TOKENS = ['a', 'b', '_x', '"a"', '""', '"-1"', '"\\u0061"', '"\\q"', '.', '[', ']', '0', '1', '-1', '-', ' ',
           '*', '|', '"', '[0]', '[-1]', '[5]', '[]', '?', '`1`', '.[a]', '[a]', '[a, b]']


def _expressions():
    for length in range(1, 5):
        for chars in itertools.product('a1-.[]" ', repeat=length):
            yield ''.join(chars)
    rng = random.Random(6)
    for dummy in range(5000):
        yield ''.join(rng.choices(_TOKENS, k=rng.randint(1, 8)))


def test_simple_paths_agree_with_jmespath():
    jmespath = pytest.importorskip('jmespath')
    simple = malformed = 0
    for expression in _expressions():
        try:
            steps = parse_simple_path(expression)
        except checker_mod._Unsupported:
            continue
        except checker_mod._Malformed:
            malformed += 1
            with pytest.raises(jmespath.exceptions.JMESPathError):
                jmespath.compile(expression)
            continue
        simple += 1
        compiled = jmespath.compile(expression)
        for document in _DOCUMENTS:
            assert SimplePath(steps).search(document) == compiled.search(document), (expression, document)
    # The comparison covered both kinds in earnest.
    assert simple > 400 and malformed > 5000


# ---------------------------------------------------------------------------
# secrets in URLs: masked in every result, message and error
# ---------------------------------------------------------------------------

TOKEN = 's3cr3t-token-0123'   # long enough to be masked wherever it appears
PASSWORD = 'hunter2'
PLANTED = (TOKEN, PASSWORD, 'Zq7')


def _with_secrets(base, path, query='?token={0}&env=Zq7'.format(TOKEN)):
    """``base`` (http://127.0.0.1:<port>) + ``path`` with a user and password, and a query with secrets."""
    return base.replace('http://', 'http://ops:{0}@'.format(PASSWORD), 1) + path + query


def _masked(base, path):
    return base.replace('http://', 'http://ops:********@', 1) + path + '?token=********&env=********'


def _assert_no_secret(text):
    for secret in PLANTED:
        assert secret not in text


def test_secrets_masked_in_results_and_failure_message(server, closed_port_url):
    healthy = _with_secrets(server, '/health', query='')
    result = make_checker([{'url': healthy}, {'url': _with_secrets(server, '/error')},
                           {'url': _with_secrets(closed_port_url, '')}], retries=1).run()
    assert result.passed is False
    assert [ep['url'] for ep in result.endpoints] == [
        server.replace('http://', 'http://ops:********@') + '/health',
        _masked(server, '/error'), _masked(closed_port_url, '')]
    # userinfo is sent as basic auth, and the test server routes on the whole path, query included.
    assert [ep['reason'] for ep in result.endpoints] == [None, 'status 404, expected 200', 'connection refused']
    message = result.failure_message()
    assert '{0}: status 404, expected 200; {1}: connection refused.'.format(
        _masked(server, '/error'), _masked(closed_port_url, '')) in message
    _assert_no_secret(json.dumps(result.as_dict()) + message)


def test_secrets_masked_in_a_flapping_message(server):
    result = make_checker([{'url': _with_secrets(server, '/flapping/secrets', query='')}], successes=3,
                          retries=5).run()
    assert result.passed is False
    assert "round 3 failed ({0}/flapping/secrets: status 503".format(
        server.replace('http://', 'http://ops:********@')) in result.failure_message()
    _assert_no_secret(result.failure_message())


def _fetch_raising(error):
    def fetch(url, method, headers, timeout, validate_certs):
        raise error(url)
    return fetch


@pytest.mark.parametrize('error, reason', [
    pytest.param(lambda url: OSError('cannot open {0} with token {1}'.format(url, TOKEN)),
                 'request failed: cannot open http://ops:********@app/health?token=********&env=******** with token '
                 '********', id='os-error'),
    pytest.param(lambda url: checker_mod.ProbeError('TLS error at {0}.'.format(url)),
                 'TLS error at http://ops:********@app/health?token=********&env=********.', id='probe-error'),
])
def test_secrets_masked_in_exception_text(error, reason):
    url = _with_secrets('http://app', '/health')
    result = HealthChecker([{'url': url}], fetch=_fetch_raising(error), retries=1).run()
    assert result.endpoints[0]['reason'] == reason
    _assert_no_secret(json.dumps(result.as_dict()) + result.failure_message())


def test_long_secret_echoed_by_the_server_is_masked():
    def echo(url, method, headers, timeout, validate_certs):
        return 200, json.dumps({'seen': TOKEN}).encode('utf-8')
    url = _with_secrets('http://app', '/health')
    result = HealthChecker([{'url': url, 'json_query': 'seen', 'equals': 'nothing'}], fetch=echo, retries=1).run()
    assert result.endpoints[0]['reason'] == "json_query 'seen' gave '********', expected 'nothing'"


@pytest.mark.parametrize('endpoints, message', [
    pytest.param([{'url': 'ftp://ops:{0}@app/health?token={1}'.format(PASSWORD, TOKEN)}],
                 "endpoints[0].url 'ftp://ops:********@app/health?token=********' is not an http:// or https:// URL",
                 id='not-http'),
    pytest.param(['http://ops:{0}@app/health?token={1}'.format(PASSWORD, TOKEN)],
                 "(got 'http://ops:********@app/health?token=********')", id='not-a-mapping'),
])
def test_secrets_masked_in_refusals(endpoints, message):
    with pytest.raises(InvalidInputError) as caught:
        HealthChecker(endpoints, fetch=_refusing_fetch)
    assert message in str(caught.value)
    _assert_no_secret(str(caught.value))
