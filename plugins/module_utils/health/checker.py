# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP health checks: is the service healthy, and has it stayed healthy?

Plain classes, no AnsibleModule, so pytest drives them directly.

* ``Endpoint`` describes one URL and what a healthy answer looks like.
* ``HealthChecker`` probes every endpoint once per *round*. The check passes
  once ``successes`` consecutive rounds pass completely (a failing round resets
  the streak); it fails after ``retries`` rounds without that.
* ``json_query`` is JMESPath. The simple paths most health checks need (a key,
  a dotted path, list indexes) are evaluated here without any library, because
  managed hosts often have only Python's standard library; other expressions
  use the ``jmespath`` library when it is installed.
* The HTTP call is injected (``fetch``): the module passes ``open_url_fetch()``,
  a thin wrapper around ``ansible.module_utils.urls`` (``Request``, the class
  behind ``open_url``), so proxies, TLS validation and redirects behave as
  everywhere else in Ansible.

Secrets in endpoint URLs (the password of ``user:password@``, query
values) never leave the checker: every URL it reports, in results, messages
and errors, is masked by ``redact.mask_url``, and secrets of
``redact.MIN_SECRET_LENGTH`` characters or more are masked wherever they
appear in a reason (a server or an exception that echoes them).

A ``fetch`` callable takes ``(url, method, headers, timeout, validate_certs)``
and returns ``(status, body_bytes)`` for every HTTP answer, including 4xx/5xx.
When no HTTP answer arrives it raises ``ProbeError`` (reason already worded for
a user), ``OSError`` (``URLError``, timeouts, refused connections) or
``http.client.HTTPException``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import json
import math
import re
import socket
import ssl
import time

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    RollbackError,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.redact import (
    MASK,
    mask_url,
    mask_urls,
    secret_values,
)

ALLOWED_METHODS = ('GET', 'HEAD')
DEFAULT_RETRIES = 10
DEFAULT_DELAY = 3
DEFAULT_TIMEOUT = 5
# Like a Kubernetes probe's successThreshold: one passing round is enough unless a soak is asked for.
DEFAULT_SUCCESSES = 1
# A health endpoint answers in bytes or kilobytes; never read more than this.
MAX_BODY_BYTES = 1024 * 1024
_MAX_SHOWN = 80


def health_check_argument_spec():
    """The options of a health check, as AnsibleModule takes them.

    The whole argument spec of ``health_check``, and the suboptions of
    ``release_switch``'s ``health_check``, so both accept the same checks.
    """
    return dict(
        endpoints=dict(
            type='list', elements='dict', required=True,
            options=dict(
                url=dict(type='str', required=True),
                method=dict(type='str', choices=list(ALLOWED_METHODS), default='GET'),
                status=dict(type='list', elements='int', default=[200]),
                body_regex=dict(type='str'),
                json_query=dict(type='str'),
                equals=dict(type='raw'),
                max_latency_ms=dict(type='int'),
                headers=dict(type='dict', no_log=True),
                validate_certs=dict(type='bool', default=True),
            ),
        ),
        retries=dict(type='int', default=DEFAULT_RETRIES),
        delay=dict(type='float', default=DEFAULT_DELAY),
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
        successes=dict(type='int', default=DEFAULT_SUCCESSES),
        use_proxy=dict(type='bool', default=True),
    )


def checker_from_params(params, option='endpoints'):
    """A ``HealthChecker`` over Ansible's HTTP client, from options validated by ``health_check_argument_spec``.

    ``option``: the endpoints' option name in messages (``health_check.endpoints`` in release_switch)."""
    return HealthChecker(
        params['endpoints'],
        option=option,
        fetch=open_url_fetch(use_proxy=params['use_proxy']),
        retries=params['retries'],
        delay=params['delay'],
        timeout=params['timeout'],
        successes=params['successes'],
    )


def check_health(params):
    """What health_check does: the result when healthy; a ``RollbackError`` carrying it when not."""
    outcome = checker_from_params(params).run()
    if not outcome.passed:
        raise RollbackError(outcome.failure_message(), **outcome.as_dict())
    return dict(outcome.as_dict(), changed=False)


class MissingLibraryError(RollbackError):
    """An optional Python library that a requested feature needs is not installed."""


class ProbeError(Exception):
    """No HTTP answer arrived; ``reason`` says why, in words a user reads."""

    def __init__(self, reason):
        super(ProbeError, self).__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------
# fetch: the one place that talks HTTP
# ---------------------------------------------------------------------------

def open_url_fetch(use_proxy=True):
    """Return a ``fetch`` callable built on Ansible's HTTP client (``open_url``'s ``Request``).

    Each TLS context is made once, when a request first needs it: ``open_url``
    would load the CA bundle again on every request (tens of milliseconds,
    counted as latency). ``Request.open`` wants a context even for http://
    (it follows redirects to https://), so one is made for each
    ``validate_certs`` value that is used.
    """
    # Imported here so the pure checking logic imports without ansible-core.
    import urllib.error

    from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
    from ansible.module_utils.urls import Request, make_context

    contexts = {}

    def context_for(validate_certs):
        if validate_certs not in contexts:
            contexts[validate_certs] = make_context(validate_certs=validate_certs)
        return contexts[validate_certs]

    def fetch(url, method, headers, timeout, validate_certs):
        validate_certs = bool(validate_certs)
        try:
            response = Request().open(
                method,
                url,
                headers=dict(headers or {}),
                timeout=timeout,
                validate_certs=validate_certs,
                use_proxy=use_proxy,
                context=context_for(validate_certs),
            )
        except urllib.error.HTTPError as err:
            # 4xx/5xx are answers, not transport failures: the checker judges them.
            body = err.read(MAX_BODY_BYTES) if err.fp is not None else b''
            err.close()
            return err.code, body
        except UrlsConnectionError as err:
            # SSLValidationError, ProxyError and friends, raised by Ansible's handlers.
            raise ProbeError(_tls_or_generic(err, validate_certs))
        try:
            return response.status, response.read(MAX_BODY_BYTES)
        finally:
            response.close()

    return fetch


def _tls_or_generic(err, validate_certs):
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if validate_certs and ('certificate' in text.lower() or 'ssl' in text.lower()):
        return 'TLS error: {0} (fix the certificate, or set validate_certs: false for a self-signed test endpoint)'.format(text)
    return 'request failed: {0}'.format(text)


def describe_transport_error(err, timeout, validate_certs=True):
    """Word a failure without an HTTP answer as the ``reason`` a user reads."""
    if isinstance(err, ProbeError):
        return err.reason
    cause = getattr(err, 'reason', err)  # URLError wraps the socket error
    if not isinstance(cause, BaseException):
        cause = err
    if isinstance(cause, (socket.timeout, TimeoutError)) or 'timed out' in str(cause):
        return 'timed out after {0:g} s'.format(timeout)
    if isinstance(cause, ConnectionRefusedError):
        return 'connection refused'
    if isinstance(cause, (ConnectionResetError, http.client.RemoteDisconnected)):
        return 'connection closed by the server before it answered'
    if isinstance(cause, socket.gaierror):
        return 'host name not resolved: {0}'.format(cause)
    if isinstance(cause, (ssl.SSLError, ssl.CertificateError)):
        return _tls_or_generic(cause, validate_certs)
    return 'request failed: {0}'.format(cause or type(cause).__name__)


# ---------------------------------------------------------------------------
# Endpoint
# ---------------------------------------------------------------------------

class Endpoint:
    """One URL and what a healthy answer from it looks like.

    ``status``: an int or a list of ints. ``json_query`` is a JMESPath
    expression evaluated on the JSON body (see ``compile_json_query``); with
    ``equals`` its result must equal that value, without it the result must be
    non-empty (not null, false, "", [] or {}). ``equals=None`` means "not set".
    ``max_latency_ms`` bounds the time from sending the request to having read
    the body.

    ``url`` is what is requested. ``shown_url`` is what is reported, with the
    password and the query values masked, and ``mask(text)`` masks them in any
    text about the endpoint.
    """

    def __init__(self, url, method='GET', status=200, body_regex=None, json_query=None, equals=None,
                 max_latency_ms=None, headers=None, validate_certs=True):
        self.url = url
        self.method = (method or 'GET').upper()
        self.status = status
        self.body_regex = body_regex
        self.json_query = json_query
        self.equals = equals
        self.max_latency_ms = max_latency_ms
        self.headers = {str(name): str(value) for name, value in (headers or {}).items()}
        self.validate_certs = validate_certs
        self._regex = None
        self._query = None
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(secret_values(url), key=len, reverse=True) if isinstance(url, str) else []

    @property
    def shown_url(self):
        return mask_url(self.url)

    def mask(self, text):
        """``text`` with every URL in it masked, and this endpoint's secrets wherever they appear."""
        text = mask_urls(text)
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    @classmethod
    def coerce(cls, spec):
        if isinstance(spec, cls):
            return spec
        if isinstance(spec, dict):
            try:
                return cls(**spec)
            except TypeError as err:
                raise InvalidInputError(
                    'An endpoint with keys {0} was refused ({1}); the keys are url (required), method, status, '
                    'body_regex, json_query, equals, max_latency_ms, headers and validate_certs.'.format(
                        ', '.join(sorted(str(key) for key in spec)) or 'none', err))
        raise InvalidInputError(mask_urls(
            'Each item of endpoints must be a mapping with at least url (got {0!r}); '
            'for example {{url: "http://127.0.0.1:8000/health"}}.'.format(spec)))

    def validate(self, where):
        """Check every field and compile the regex and the query; ``where`` names the option, e.g. ``endpoints[0]``."""
        if not isinstance(self.url, str) or not re.match(r'^https?://[^/\s?#]+', self.url, re.IGNORECASE):
            raise InvalidInputError(
                '{0}.url {1!r} is not an http:// or https:// URL. Give the full URL with scheme and host, '
                'for example http://127.0.0.1:8000/health.'.format(where, mask_url(self.url)), option=where + '.url')
        if self.method not in ALLOWED_METHODS:
            raise InvalidInputError(
                '{0}.method {1!r} is not supported; use one of {2}.'.format(where, self.method, ', '.join(ALLOWED_METHODS)),
                option=where + '.method')
        self.status = self._validate_status(where)
        if self.equals is not None and not self.json_query:
            raise InvalidInputError(
                '{0}.equals is set but {0}.json_query is not. equals is compared with the result of json_query: '
                'add json_query (for example json_query: status) or remove equals.'.format(where),
                option=where + '.equals')
        if self.max_latency_ms is not None and (not _is_number(self.max_latency_ms) or self.max_latency_ms <= 0):
            raise InvalidInputError(
                '{0}.max_latency_ms must be a positive number of milliseconds (got {1!r}); '
                'omit it to accept any latency below timeout.'.format(where, self.max_latency_ms),
                option=where + '.max_latency_ms')
        if self.body_regex:
            try:
                self._regex = re.compile(self.body_regex)
            except re.error as err:
                raise InvalidInputError(
                    '{0}.body_regex {1!r} is not a valid Python regular expression: {2}. '
                    'Fix the pattern (escape literal characters such as . ( [ with a backslash).'.format(
                        where, self.body_regex, err),
                    option=where + '.body_regex')
        if self.json_query is not None and not isinstance(self.json_query, str):
            raise InvalidInputError(
                '{0}.json_query must be a string, a JMESPath expression such as status or checks[0].ok '
                '(got {1!r}).'.format(where, self.json_query), option=where + '.json_query')
        if self.json_query:
            self._query = compile_json_query(self.json_query, where)
        return self

    def _validate_status(self, where):
        codes = self.status if isinstance(self.status, (list, tuple)) else [self.status]
        result = []
        for code in codes:
            try:
                number = int(code)
            except (TypeError, ValueError):
                number = None
            if number is None or isinstance(code, bool) or not 100 <= number <= 599:
                raise InvalidInputError(
                    '{0}.status {1!r} is not an HTTP status code; give one code (200) or a list '
                    '([200, 204]) between 100 and 599.'.format(where, self.status), option=where + '.status')
            result.append(number)
        if not result:
            raise InvalidInputError(
                '{0}.status is empty; give one code (200) or a list ([200, 204]), or omit it for 200.'.format(where),
                option=where + '.status')
        return tuple(result)

    def judge(self, status, body, latency_ms):
        """Return ``None`` when the answer is healthy, else the reason it is not."""
        if status not in self.status:
            return 'status {0}, expected {1}'.format(status, _expected_status(self.status))
        text = body.decode('utf-8', 'replace') if isinstance(body, bytes) else (body or '')
        if self._regex is not None and not self._regex.search(text):
            return 'body does not match regex {0!r}'.format(self.body_regex)
        if self._query is not None:
            try:
                document = json.loads(text)
            except ValueError:
                return 'body is not JSON, so json_query {0!r} cannot be evaluated (body starts {1})'.format(
                    self.json_query, _show(text[:_MAX_SHOWN]))
            try:
                value = self._query.search(document)
            except QueryError as err:
                return 'json_query {0!r} could not be evaluated on the body: {1}'.format(self.json_query, err)
            if self.equals is not None:
                if not _same(value, self.equals):
                    return 'json_query {0!r} gave {1}, expected {2}'.format(self.json_query, _show(value), _show(self.equals))
            elif value is None or value is False or (isinstance(value, (str, list, dict)) and not value):
                return 'json_query {0!r} gave {1}, expected a non-empty value'.format(self.json_query, _show(value))
        if self.max_latency_ms is not None and latency_ms > self.max_latency_ms:
            return 'latency {0} ms over max_latency_ms {1:g}'.format(latency_ms, self.max_latency_ms)
        return None


# ---------------------------------------------------------------------------
# json_query: simple paths built in, everything else through jmespath
# ---------------------------------------------------------------------------

SIMPLE_PATHS = ('a key (status), a dotted path (data.version), list indexes (checks[0].ok, items[-1]) '
                'and quoted keys ("my-key".up)')

# The tokens of a simple path, as JMESPath's lexer reads them. JMESPath skips
# whitespace between tokens; an unquoted name is ASCII only.
_QUERY_TOKEN = re.compile(r"""
    (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<number>-?[0-9]+)
  | (?P<punct>[.\[\]])
""", re.VERBOSE | re.DOTALL)
_QUERY_SPACE = ' \t\n\r'


class QueryError(Exception):
    """Evaluating a valid ``json_query`` on a body failed (e.g. a JMESPath function given the wrong type)."""


class SimplePath:
    """A JMESPath expression made only of keys and list indexes, evaluated without the jmespath library.

    ``steps`` are applied in order: a ``str`` looks up a key in a mapping, an
    ``int`` an item in a list (negative counts from the end). As in JMESPath, a
    missing key, an index out of range, or a key on a non-mapping or an index on
    a non-list gives ``None``.
    """

    def __init__(self, steps):
        self.steps = tuple(steps)

    def search(self, document):
        value = document
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(value, list) or not -len(value) <= step < len(value):
                    return None
                value = value[step]
            else:
                if not isinstance(value, dict):
                    return None
                value = value.get(step)
        return value


class _JMESPathQuery:
    """A compiled jmespath expression whose evaluation errors become ``QueryError``."""

    def __init__(self, compiled, error_class):
        self._compiled = compiled
        self._error_class = error_class

    def search(self, document):
        try:
            return self._compiled.search(document)
        except self._error_class as err:
            raise QueryError(_first_line(err))


class _Unsupported(Exception):
    """Not a simple path; it may be a valid JMESPath expression of another kind."""


class _Malformed(Exception):
    """Not a simple path, and not valid JMESPath either; ``str()`` says what is wrong and where."""


def parse_simple_path(expression):
    """Return the steps (keys and indexes) of a simple path, for ``SimplePath``.

    Simple paths are the subset of JMESPath made of unquoted names
    (``[A-Za-z_][A-Za-z0-9_]*``), quoted names (``"my-key"``, a JSON string),
    ``.`` between them and list indexes (``[0]``, ``[-1]``), optionally starting
    with an index. Raises ``_Unsupported`` for anything that may be another
    kind of JMESPath expression, and ``_Malformed`` for what JMESPath refuses
    too (``status[``, ``a..b``, ``my-key``), so a typo is reported as one even
    without jmespath.
    """
    tokens = _query_tokens(expression)
    if not tokens:
        raise _Malformed('the expression is empty')
    end = len(expression)
    steps = []
    index = 0
    while index < len(tokens):
        kind, value, position, text = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if kind in ('name', 'quoted') and not steps:
            steps.append(value)
            index += 1
        elif kind == '.' and steps:
            if following is not None and following[0] in ('name', 'quoted'):
                steps.append(following[1])
                index += 2
            elif following is not None and following[0] == '[':
                raise _Unsupported()  # a multi-select list, a.[b, c]
            else:
                raise _Malformed("expected a name after '.' {0}".format(_at(following, end)))
        elif kind == '[':
            if following is not None and following[0] == 'number':
                closing = tokens[index + 2] if index + 2 < len(tokens) else None
                if closing is None or closing[0] != ']':
                    raise _Malformed("expected ']' after the list index {0} {1}".format(
                        following[1], _at(closing, end)))
                steps.append(int(following[1]))
                index += 3
            elif following is None or following[0] == '.':
                raise _Malformed("expected a list index such as 0 or -1 after '[' {0}".format(_at(following, end)))
            else:
                raise _Unsupported()  # a flatten a[], a multi-select list [a, b], ...
        else:
            raise _Malformed("unexpected '{0}' at position {1}{2}".format(
                text, position, ' (a list index goes in brackets, as in items[0])' if kind == 'number' else ''))
    return steps


def _at(token, end):
    return 'at position {0}'.format(token[2]) if token is not None else 'at the end (position {0})'.format(end)


def _query_tokens(expression):
    """Split ``expression`` into ``(kind, value, position, text)`` tokens of a simple path."""
    tokens = []
    position = 0
    while True:
        while position < len(expression) and expression[position] in _QUERY_SPACE:
            position += 1
        if position == len(expression):
            return tokens
        match = _QUERY_TOKEN.match(expression, position)
        if match is None:
            char = expression[position]
            if char == '"':
                raise _Malformed('the quoted name at position {0} has no closing "'.format(position))
            if char == '-':
                raise _Malformed("'-' at position {0} is not followed by a digit; a name with '-' in it must be "
                                 'quoted, for example "my-key"'.format(position))
            raise _Unsupported()  # an operator, a literal, a function call, ...
        kind = match.lastgroup
        text = match.group(kind)
        if kind == 'quoted':
            try:
                value = json.loads(text)
            except ValueError as err:
                raise _Malformed('the quoted name {0} at position {1} is not a valid JSON string ({2})'.format(
                    text, position, err))
            tokens.append((kind, value, position, text))
        elif kind == 'punct':
            tokens.append((text, text, position, text))
        else:
            tokens.append((kind, text, position, text))
        position = match.end()


def compile_json_query(expression, where):
    """Compile ``json_query`` into an object with ``search(document)``; ``where`` names the endpoint.

    A simple path (``parse_simple_path``) is evaluated by ``SimplePath`` on every
    host, with or without jmespath. Any other expression is compiled by the
    jmespath library; without it, ``MissingLibraryError`` says which
    expressions work without it. An invalid expression raises
    ``InvalidInputError`` either way.
    """
    try:
        return SimplePath(parse_simple_path(expression))
    except _Unsupported:
        malformed = None
    except _Malformed as err:
        malformed = err
    try:
        import jmespath  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        if malformed is not None:
            raise _invalid_query(where, expression, malformed)
        raise MissingLibraryError(
            '{0}.json_query {1!r} needs the Python library jmespath on the host that runs the check '
            '(the managed host), and it is not installed there: {2}. Without jmespath, json_query takes {3}. '
            'Install jmespath (pip install jmespath, or the python3-jmespath package) for other expressions, '
            'or check the body with body_regex instead.'.format(where, expression, err, SIMPLE_PATHS),
            library='jmespath', option=where + '.json_query')
    # jmespath has the last word on what is valid JMESPath.
    try:
        return _JMESPathQuery(jmespath.compile(expression), jmespath.exceptions.JMESPathError)
    except jmespath.exceptions.JMESPathError as err:
        raise _invalid_query(where, expression, malformed or _first_line(err))


def _invalid_query(where, expression, problem):
    return InvalidInputError(
        '{0}.json_query {1!r} is not a valid JMESPath expression: {2}. Fix the expression, for example '
        'status, data.version or checks[0].ok (see https://jmespath.org/tutorial.html).'.format(
            where, expression, problem),
        option=where + '.json_query')


# ---------------------------------------------------------------------------
# HealthChecker
# ---------------------------------------------------------------------------

class _Tally:
    """What happened to one endpoint over all rounds."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.ok = False
        self.status = None
        self.latency_ms = None
        self.latencies = []
        self.attempts = 0
        self.failures = 0
        self.reason = None
        self.last_failed_round = None

    def as_dict(self):
        return {
            'url': self.endpoint.shown_url,
            'ok': self.ok,
            'status': self.status,
            'latency_ms': self.latency_ms,
            'p95_latency_ms': p95(self.latencies),
            'attempts': self.attempts,
            'failures': self.failures,
            'reason': self.reason,
        }


class HealthResult:
    """Outcome of ``HealthChecker.run()``; ``as_dict()`` is the module's result."""

    def __init__(self, passed, rounds, tallies, successes, streak):
        self.passed = passed
        self.rounds = rounds
        self.successes = successes
        self.streak = streak
        self.endpoints = [t.as_dict() for t in tallies]
        self._tallies = tallies
        self.p95_latency_ms = p95([ms for t in tallies for ms in t.latencies])

    def as_dict(self):
        return {
            'passed': self.passed,
            'rounds': self.rounds,
            'p95_latency_ms': self.p95_latency_ms,
            'endpoints': self.endpoints,
        }

    def failure_message(self):
        """The ``msg`` for a failed check: what failed, why, and what to do next."""
        if self.passed:
            return None
        needs = ('a passing round' if self.successes == 1
                 else '{0} consecutive passing rounds'.format(self.successes))
        rounds = _plural(self.rounds, 'round')
        failing = [t for t in self._tallies if not t.ok]
        if failing:
            return 'Health check failed for {0} of {1} after {2}: {3}. ' \
                   "Check the service's logs; the check needs {4}.".format(
                       len(failing), _plural(len(self._tallies), 'endpoint'), rounds,
                       '; '.join('{0}: {1}'.format(t.endpoint.shown_url, t.reason) for t in failing), needs)
        # Every endpoint passed the last round, but not for long enough: the
        # streak was reset by an earlier failure (only possible with successes > 1).
        last = max(t.last_failed_round or 0 for t in self._tallies)
        flapped = [t for t in self._tallies if t.last_failed_round == last]
        return 'Health check failed: after {0} the service had passed only {1} in a row of the {2} needed; ' \
               'round {3} failed ({4}). The service is flapping: check its logs, or raise retries to give it ' \
               'more time.'.format(rounds, _plural(self.streak, 'round'), self.successes, last,
                                   '; '.join('{0}: {1}'.format(t.endpoint.shown_url, t.reason) for t in flapped))


class HealthChecker:
    """Probe endpoints in rounds until ``successes`` consecutive rounds pass, or ``retries`` rounds ran."""

    def __init__(self, endpoints, fetch, retries=DEFAULT_RETRIES, delay=DEFAULT_DELAY, timeout=DEFAULT_TIMEOUT,
                 successes=DEFAULT_SUCCESSES, sleep=None, clock=time.monotonic, option='endpoints'):
        if not endpoints:
            raise InvalidInputError(
                'Option endpoints is empty: give at least one endpoint to check, '
                'for example endpoints: [{url: "http://127.0.0.1:8000/health"}].', option='endpoints')
        self.endpoints = [Endpoint.coerce(spec).validate('{0}[{1}]'.format(option, index))
                          for index, spec in enumerate(endpoints)]
        _require(_is_int(retries) and retries >= 1, 'retries',
                 'retries must be a whole number of rounds, at least 1 (got {0!r}).'.format(retries))
        _require(_is_int(successes) and successes >= 1, 'successes',
                 'successes must be a whole number of consecutive passing rounds, at least 1 (got {0!r}).'.format(successes))
        _require(successes <= retries, 'successes',
                 'successes ({0}) cannot be more than retries ({1}): the check could never pass. '
                 'Raise retries or lower successes.'.format(successes, retries))
        _require(_is_number(delay) and math.isfinite(delay) and delay >= 0, 'delay',
                 'delay must be zero or more seconds between rounds, fractions allowed such as 0.5 '
                 '(got {0!r}).'.format(delay))
        _require(_is_number(timeout) and math.isfinite(timeout) and timeout > 0, 'timeout',
                 'timeout must be a positive number of seconds per request, fractions allowed such as 0.5 '
                 '(got {0!r}).'.format(timeout))
        self.fetch = fetch
        self.retries = retries
        self.delay = delay
        self.timeout = timeout
        self.successes = successes
        self.sleep = sleep or time.sleep
        self.clock = clock

    def run(self):
        tallies = [_Tally(endpoint) for endpoint in self.endpoints]
        streak = 0
        rounds = 0
        while rounds < self.retries:
            rounds += 1
            round_ok = True
            for tally in tallies:
                if not self._probe(tally, rounds):
                    round_ok = False
            streak = streak + 1 if round_ok else 0
            if streak >= self.successes:
                return HealthResult(True, rounds, tallies, self.successes, streak)
            if rounds < self.retries and self.delay:
                self.sleep(self.delay)
        return HealthResult(False, rounds, tallies, self.successes, streak)

    def _probe(self, tally, round_number):
        endpoint = tally.endpoint
        tally.attempts += 1
        started = self.clock()
        try:
            status, body = self.fetch(endpoint.url, endpoint.method, endpoint.headers, self.timeout,
                                      endpoint.validate_certs)
        except (ProbeError, OSError, http.client.HTTPException) as err:
            tally.status = None
            tally.latency_ms = None
            reason = describe_transport_error(err, self.timeout, endpoint.validate_certs)
        else:
            latency_ms = int(round((self.clock() - started) * 1000))
            tally.status = status
            tally.latency_ms = latency_ms
            tally.latencies.append(latency_ms)
            reason = endpoint.judge(status, body, latency_ms)
        tally.ok = reason is None
        if reason is not None:
            tally.failures += 1
            tally.reason = endpoint.mask(reason)
            tally.last_failed_round = round_number
        return tally.ok


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def p95(values):
    """95th percentile by nearest rank; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, int(math.ceil(0.95 * len(ordered))) - 1)]


def _first_line(err):
    lines = str(err).splitlines()
    return lines[0] if lines else type(err).__name__


def _require(condition, option, msg):
    if not condition:
        raise InvalidInputError(msg, option=option)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(value, expected):
    # true == 1 in Python; a health check must not confuse them.
    if isinstance(value, bool) != isinstance(expected, bool):
        return False
    return value == expected


def _expected_status(codes):
    if len(codes) == 1:
        return str(codes[0])
    return 'one of ' + ', '.join(str(code) for code in codes)


def _plural(count, word):
    return '{0} {1}{2}'.format(count, word, '' if count == 1 else 's')


def _show(value):
    """Render a value the way a user wrote it in YAML/JSON: 'text', null, true, 3, [..]."""
    if isinstance(value, str):
        shown = "'{0}'".format(value)
    else:
        try:
            shown = json.dumps(value, sort_keys=True, separators=(', ', ': '))
        except (TypeError, ValueError):
            shown = repr(value)
    if len(shown) > _MAX_SHOWN:
        shown = shown[:_MAX_SHOWN - 3] + '...'
    return shown
