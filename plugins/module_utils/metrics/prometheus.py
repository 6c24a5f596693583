# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus' instant query API (``/api/v1/query``): one client, one parser.

``PrometheusClient.query(expression, at)`` evaluates a PromQL expression at
``at`` (epoch seconds) and returns the parsed body; ``read_value`` turns that
body into the one value a check judges. Every way of not getting a value is a
``MeasurementError`` whose text a user reads; ``permanent`` marks the ones a
repeat cannot cure (Prometheus refused the query as malformed).

HTTP goes through ``ansible.module_utils.urls`` (proxies, TLS validation as
everywhere in Ansible); the transport is injectable for unit tests. Standard
library and Ansible only: this runs on managed hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import json
import math
import re
import socket
import ssl
from urllib.parse import urlencode

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils._common.redact import mask_url, mask_urls
from ansible_collections.ops.rollback.plugins.module_utils.metrics.analysis import (
    NO_QUERY,
    aggregate,
    parse_sample_value,
)

API_PATH = '/api/v1/query'
# A query's answer is one sample or a handful of series: never read more than this.
MAX_BODY_BYTES = 4 * 1024 * 1024
_MAX_SHOWN = 200


class MeasurementError(Exception):
    """No value could be read; ``str(err)`` says why, ``permanent`` when a repeat cannot help."""

    def __init__(self, reason, permanent=False, series=None):
        super(MeasurementError, self).__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.series = series


class EmptyResult(Exception):
    """The query matched no series."""


def query_url(prometheus_url):
    """The API URL from what a user gives: the server's base URL (a path prefix kept), or the API URL itself."""
    if not isinstance(prometheus_url, str) or not re.match(r'^https?://[^/\s?#]+', prometheus_url, re.IGNORECASE):
        raise InvalidInputError(
            'prometheus_url {0!r} is not an http:// or https:// URL: give the server\'s base URL, for example '
            'http://prometheus.example.com:9090 (with its path prefix, if it is served under one). {1}'.format(
                mask_url(prometheus_url), NO_QUERY), option='prometheus_url')
    base = prometheus_url.split('?', 1)[0].split('#', 1)[0].rstrip('/')
    if base.endswith(API_PATH):
        base = base[:-len(API_PATH)]
    return base + API_PATH


class PrometheusClient:
    """Instant queries against one Prometheus (or anything that speaks its API: Thanos, Mimir, VictoriaMetrics).

    ``transport(method, url, body, headers, timeout)`` returns ``(status, body_bytes)`` for every HTTP answer
    and raises ``OSError``/``http.client.HTTPException``/``MeasurementError`` when none arrives."""

    def __init__(self, prometheus_url, transport, method='POST', headers=None, timeout=10):
        self.url = query_url(prometheus_url)
        self.shown_url = mask_url(self.url)
        self.transport = transport
        self.method = method
        self.headers = dict(headers or {})
        self.timeout = timeout

    def query(self, expression, at):
        """The decoded ``data`` of a successful answer to ``expression`` evaluated at ``at``."""
        params = {'query': expression, 'time': '{0:.3f}'.format(at)}
        headers = dict(self.headers, Accept='application/json')
        if self.method == 'GET':
            url, body = self.url + '?' + urlencode(params), None
        else:
            url, body = self.url, urlencode(params).encode('utf-8')
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        try:
            status, raw = self.transport(self.method, url, body, headers, self.timeout)
        except MeasurementError:
            raise
        except (OSError, http.client.HTTPException) as err:
            raise MeasurementError('Prometheus at {0} did not answer: {1}'.format(
                self.shown_url, describe_transport_error(err, self.timeout)))
        return self._decode(status, raw)

    def _decode(self, status, raw):
        try:
            answer = json.loads(raw.decode('utf-8'))
        except (UnicodeDecodeError, ValueError):
            answer = None
        if status in (401, 403):
            # Refused before the API: Prometheus' web config, or a proxy in front, answer in plain text.
            error = answer.get('error') if isinstance(answer, dict) and answer.get('error') else _excerpt(raw)
            raise MeasurementError('Prometheus at {0} answered HTTP {1} ({2}): check url_username/url_password, '
                                   'bearer_token or headers'.format(self.shown_url, status, error))
        if not isinstance(answer, dict):
            hint = ' (is prometheus_url the Prometheus server, not a UI or a proxy\'s login page?)'
            raise MeasurementError('Prometheus at {0} answered HTTP {1} with a body that is not its JSON API{2}: '
                                   '{3}'.format(self.shown_url, status, hint, _excerpt(raw)))
        if answer.get('status') == 'success' and status == 200:
            data = answer.get('data')
            if not isinstance(data, dict):
                raise MeasurementError('Prometheus at {0} answered success without data: {1}'.format(
                    self.shown_url, _excerpt(raw)))
            return data
        kind, error = answer.get('errorType') or 'error', answer.get('error') or _excerpt(raw)
        if status == 400 or kind == 'bad_data':
            raise MeasurementError('Prometheus refused the query ({0}: {1}); fix the PromQL expression'.format(
                kind, error), permanent=True)
        raise MeasurementError('Prometheus at {0} answered HTTP {1} ({2}: {3})'.format(
            self.shown_url, status, kind, error))


def read_value(data, how=None):
    """``(value, raw, series)`` from a query's ``data``: the one sample it holds.

    A scalar is one value; a vector must hold exactly one series unless ``how`` (max, min, sum, avg)
    aggregates them. Raises ``EmptyResult`` for an empty vector and ``MeasurementError`` otherwise."""
    kind, result = data.get('resultType'), data.get('result')
    if kind == 'scalar':
        return _sample(result) + (1,)
    if kind == 'vector':
        if not isinstance(result, list):
            raise MeasurementError('Prometheus answered a vector without a result list: {0!r}'.format(result)[:_MAX_SHOWN])
        if not result:
            raise EmptyResult()
        for series in result:
            if isinstance(series, dict) and 'value' not in series and 'histogram' in series:
                raise MeasurementError('the query returns a native histogram, not a number: wrap it in '
                                       'histogram_quantile() or histogram_avg()', permanent=True)
        samples = [_sample(series.get('value') if isinstance(series, dict) else None) for series in result]
        if len(samples) == 1:
            return samples[0] + (1,)
        if how is None:
            raise MeasurementError(
                'the query returns {0} series ({1}), and a check judges one value: aggregate them in PromQL '
                '(sum(...), max(...), or sum by () (...)), narrow the label matchers, or set aggregate '
                '(max, min, sum or avg) on the check'.format(
                    len(result), _labels(result)), series=len(result))
        value = aggregate([v for v, _raw in samples], how)
        return value, prometheus_text(value), len(samples)
    if kind == 'matrix':
        raise MeasurementError('the query returns a range vector (matrix), not one value: apply a function over '
                               'the range, for example rate(metric[1m]) instead of metric[1m]', permanent=True)
    raise MeasurementError('the query returns a {0}, not a number'.format(kind or 'result of no known type'),
                           permanent=True)


def prometheus_text(value):
    """A float as Prometheus writes sample values: NaN, +Inf, -Inf or the number."""
    if math.isnan(value):
        return 'NaN'
    if math.isinf(value):
        return '+Inf' if value > 0 else '-Inf'
    return repr(value)


def _sample(pair):
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise MeasurementError('Prometheus answered a sample that is not [time, value]: {0!r}'.format(pair)[:_MAX_SHOWN])
    try:
        return parse_sample_value(pair[1]), str(pair[1])
    except ValueError as err:
        raise MeasurementError('Prometheus answered a value that is not a number: {0}'.format(err))


def _labels(result):
    shown = []
    for series in result[:3]:
        metric = series.get('metric') if isinstance(series, dict) else None
        shown.append('{' + ', '.join('{0}="{1}"'.format(k, v) for k, v in sorted((metric or {}).items())) + '}')
    return ', '.join(shown) + (', ...' if len(result) > 3 else '')


def _excerpt(raw):
    text = raw.decode('utf-8', 'replace') if isinstance(raw, bytes) else str(raw)
    text = ' '.join(text.split())
    return mask_urls(text[:_MAX_SHOWN] + ('...' if len(text) > _MAX_SHOWN else '')) or '(empty body)'


def describe_transport_error(err, timeout):
    """A failure without an HTTP answer, worded for a user."""
    cause = getattr(err, 'reason', err)  # URLError wraps the socket error
    if not isinstance(cause, BaseException):
        cause = err
    if isinstance(cause, (socket.timeout, TimeoutError)) or 'timed out' in str(cause):
        return 'timed out after {0:g} s (raise timeout, or check the query is not too heavy)'.format(timeout)
    if isinstance(cause, ConnectionRefusedError):
        return 'connection refused (is Prometheus running there? check prometheus_url)'
    if isinstance(cause, socket.gaierror):
        return 'host name not resolved: {0} (check prometheus_url)'.format(cause)
    if isinstance(cause, (ssl.SSLError, ssl.CertificateError)):
        return 'TLS error: {0} (fix the certificate, or set validate_certs: false for a test server)'.format(cause)
    return 'request failed: {0}'.format(cause or type(cause).__name__)


def open_url_transport(url_username=None, url_password=None, validate_certs=True, use_proxy=True):
    """A ``transport`` over Ansible's HTTP client (``open_url``'s ``Request``), with basic auth when given."""
    # Imported here so the parsing above imports without ansible-core.
    import urllib.error

    from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
    from ansible.module_utils.urls import Request

    request = Request(url_username=url_username, url_password=url_password,
                      force_basic_auth=bool(url_username), validate_certs=validate_certs, use_proxy=use_proxy)

    def transport(method, url, body, headers, timeout):
        try:
            response = request.open(method, url, data=body, headers=headers, timeout=timeout)
        except urllib.error.HTTPError as err:
            # 4xx/5xx carry Prometheus' error JSON: the client words it.
            answer = err.read(MAX_BODY_BYTES) if err.fp is not None else b''
            err.close()
            return err.code, answer
        except UrlsConnectionError as err:
            raise MeasurementError('Prometheus at {0} did not answer: {1}'.format(
                mask_url(url.split('?', 1)[0]), describe_transport_error(err, timeout)))
        try:
            return response.status, response.read(MAX_BODY_BYTES)
        finally:
            response.close()

    return transport
