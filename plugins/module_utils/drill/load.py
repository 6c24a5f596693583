# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's load generator: steady HTTP requests, round-robin over URLs, until told to stop.

Python 3 standard library only (http.client and threads), so it runs on the controller or on a
managed host. ``LoadProbe(...).run()`` blocks until the stop file exists or ``max_seconds`` passed,
and returns what the customers would have seen: how many requests were sent, how many failed and why,
and when the first and the last failure happened.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import http.client
import os
import socket
import threading
import time

from urllib.parse import urlsplit

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError

# Most requests in flight at once; more than this and the probe would measure itself, not the service.
MAX_IN_FLIGHT = 256


def utc_iso(epoch):
    """``2026-03-01T12:00:00.123Z``: UTC, ISO 8601, milliseconds."""
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=epoch)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.') + '{0:03d}Z'.format(moment.microsecond // 1000)


def failure_reason(exc):
    """A short, countable reason for a request that got no answer."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return 'timeout'
    if isinstance(exc, ConnectionRefusedError):
        return 'connection refused'
    if isinstance(exc, ConnectionResetError):
        return 'connection reset'
    if isinstance(exc, (http.client.RemoteDisconnected, http.client.IncompleteRead, BrokenPipeError)):
        return 'connection closed'
    if isinstance(exc, socket.gaierror):
        return 'name not resolved'
    if isinstance(exc, http.client.HTTPException):
        return 'bad HTTP answer'
    if isinstance(exc, OSError) and exc.strerror:
        return 'connection error: {0}'.format(exc.strerror.lower())
    return 'error: {0}'.format(type(exc).__name__)


class Target:
    """One URL, split once into what http.client needs."""

    def __init__(self, url):
        parts = urlsplit(url) if url else None
        if parts is None or parts.scheme not in ('http', 'https') or not parts.hostname:
            raise InvalidInputError(
                'Cannot probe {0!r}: not an http:// or https:// URL with a host. Give full URLs such as '
                'http://127.0.0.1:8000/health. Nothing was started.'.format(url), option='urls')
        self.url = url
        self.https = parts.scheme == 'https'
        self.host = parts.hostname
        try:
            self.port = parts.port
        except ValueError:
            raise InvalidInputError('Cannot probe {0!r}: its port is not a number from 1 to 65535. '
                                    'Nothing was started.'.format(url), option='urls')
        self.path = (parts.path or '/') + ('?' + parts.query if parts.query else '')

    def request(self, timeout):
        """Send one GET on a new connection; return the status code (raises on no answer)."""
        connection_class = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        connection = connection_class(self.host, self.port, timeout=timeout)
        try:
            connection.request('GET', self.path, headers={'User-Agent': 'ops.rollback-load_probe',
                                                          'Connection': 'close'})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()


class LoadProbe:
    """Sends ``rate`` GET requests a second in all, round-robin over ``urls``, each on its own connection.

    A request fails on a connection error, a timeout (``timeout`` seconds) or a status other than
    ``expect_status``. The probe stops once ``stop_file`` exists (checked before every request) or after
    ``max_seconds``, then waits for the requests in flight. A request is counted at the time it was sent.
    """

    def __init__(self, urls, rate=20.0, timeout=2.0, expect_status=200, stop_file=None, max_seconds=900.0,
                 clock=time.time, sleep=time.sleep):
        if not urls:
            raise InvalidInputError('Cannot start the load probe: urls is empty. Give at least one URL. '
                                    'Nothing was started.', option='urls')
        self.targets = [Target(url) for url in urls]
        for name, value in (('rate', rate), ('timeout', timeout), ('max_seconds', max_seconds)):
            if value is None or value <= 0:
                raise InvalidInputError('Cannot start the load probe: {0} must be more than 0, not {1!r}. '
                                        'Nothing was started.'.format(name, value), option=name)
        if not 100 <= expect_status <= 599:
            raise InvalidInputError('Cannot start the load probe: expect_status {0!r} is not an HTTP status '
                                    '(100 to 599). Nothing was started.'.format(expect_status),
                                    option='expect_status')
        self.rate, self.timeout, self.expect_status = float(rate), float(timeout), expect_status
        self.stop_file, self.max_seconds = stop_file, float(max_seconds)
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self.requests = 0
        self.failed = 0
        self.failures = {}
        self.first_failure = None
        self.last_failure = None
        self.per_url = dict((t.url, {'requests': 0, 'failed_requests': 0, 'failures': {}}) for t in self.targets)

    def plan(self):
        """What the probe would do, for check mode."""
        return ('Would send {0:g} GET requests a second, round-robin over {1} URL(s) ({2}), each failing on a '
                'status other than {3}, a connection error or {4:g} s without an answer, until {5} exists or '
                'for at most {6:g} s.').format(self.rate, len(self.targets), ', '.join(t.url for t in self.targets),
                                               self.expect_status, self.timeout,
                                               self.stop_file or '(no stop file)', self.max_seconds)

    def _record(self, target, sent, reason):
        with self._lock:
            self.requests += 1
            url = self.per_url[target.url]
            url['requests'] += 1
            if reason is None:
                return
            self.failed += 1
            url['failed_requests'] += 1
            self.failures[reason] = self.failures.get(reason, 0) + 1
            url['failures'][reason] = url['failures'].get(reason, 0) + 1
            if self.first_failure is None or sent < self.first_failure:
                self.first_failure = sent
            if self.last_failure is None or sent > self.last_failure:
                self.last_failure = sent

    def _send(self, target, sent):
        try:
            try:
                status = target.request(self.timeout)
                reason = None if status == self.expect_status else 'HTTP {0}'.format(status)
            except Exception as exc:  # pylint: disable=broad-exception-caught  # any failure is the customer's failure
                reason = failure_reason(exc)
            self._record(target, sent, reason)
        finally:
            self._slots.release()

    def _should_stop(self, started):
        if self.stop_file and os.path.exists(self.stop_file):
            return 'stop_file'
        if self.clock() - started >= self.max_seconds:
            return 'max_seconds'
        return None

    def run(self):
        started = self.clock()
        threads = []
        number = 0
        while True:
            stopped_by = self._should_stop(started)
            if stopped_by:
                break
            # The schedule is fixed from the start, so a slow request never lowers the rate.
            wait = started + number / self.rate - self.clock()
            if wait > 0:
                self.sleep(min(wait, 0.25))
                continue
            target = self.targets[number % len(self.targets)]
            number += 1
            sent = self.clock()
            if not self._slots.acquire(False):
                # Every slot waits on an answer: the service is that slow. Count it as the client would.
                self._record(target, sent, 'timeout')
                continue
            thread = threading.Thread(target=self._send, args=(target, sent))
            thread.daemon = True
            thread.start()
            threads = [t for t in threads if t.is_alive()]
            threads.append(thread)
        stopped = self.clock()
        for thread in threads:
            thread.join(self.timeout + 5)
        return self.result(started, stopped, stopped_by)

    def result(self, started, stopped, stopped_by):
        with self._lock:
            return {
                'changed': False,
                'requests': self.requests,
                'failed_requests': self.failed,
                'failures': dict(self.failures),
                'first_failure': utc_iso(self.first_failure) if self.first_failure is not None else None,
                'last_failure': utc_iso(self.last_failure) if self.last_failure is not None else None,
                'started_at': utc_iso(started),
                'stopped_at': utc_iso(stopped),
                'seconds': round(stopped - started, 3),
                'stopped_by': stopped_by,
                'per_url': dict((url, dict(counts, failures=dict(counts['failures'])))
                                for url, counts in self.per_url.items()),
            }


def load_probe_argument_spec():
    return dict(
        urls=dict(type='list', elements='str', required=True),
        rate=dict(type='float', default=20.0),
        timeout=dict(type='float', default=2.0),
        expect_status=dict(type='int', default=200),
        stop_file=dict(type='path'),
        max_seconds=dict(type='float', default=900.0),
    )


def run_load_probe(params, check_mode=False):
    """The module's work: validate, then probe (or, in check mode, say what it would do)."""
    probe = LoadProbe(params['urls'], rate=params['rate'], timeout=params['timeout'],
                      expect_status=params['expect_status'], stop_file=params['stop_file'],
                      max_seconds=params['max_seconds'])
    if check_mode:
        return {'changed': False, 'msg': probe.plan(), 'requests': 0, 'failed_requests': 0, 'failures': {},
                'first_failure': None, 'last_failure': None, 'started_at': None, 'stopped_at': None,
                'seconds': 0, 'stopped_by': None,
                'per_url': dict((t.url, {'requests': 0, 'failed_requests': 0, 'failures': {}})
                                for t in probe.targets)}
    return probe.run()
