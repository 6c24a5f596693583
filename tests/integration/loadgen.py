# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A keep-alive load generator for the zero-loss proofs: clients send a steady mix of GET and POST
requests through a load balancer while it switches, and every request is recorded.

    with LoadGenerator('http://127.0.0.1:18480') as load:
        ...switch...
    assert load.failed() == [] and load.served_by()[-1] == 'v2'

Each client keeps one HTTP/1.1 connection open and reuses it, as browsers and service clients do, so
a switch that closes busy connections shows up as transport errors. Non-2xx answers and transport errors
are counted apart. What served each request (``served_by(response)``: by default the ``version`` of a
JSON body, else the ``X-Version`` header, else the body) is recorded in order.
"""
from __future__ import annotations

import http.client
import json
import select
import threading
import time
import urllib.parse
from dataclasses import dataclass


@dataclass
class Request:
    started: float      # time.monotonic()
    method: str
    status: int | None  # None: a transport error
    served_by: str | None
    error: str | None = None

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300


def version_of(status, headers, body):
    """What served a request: a JSON body's ``version``, else the ``X-Version`` header, else the body."""
    try:
        return json.loads(body)['version']
    except (ValueError, KeyError, TypeError):
        return headers.get('X-Version') or body.decode('utf-8', 'replace').strip()[:80] or None


class BrowserConnection(http.client.HTTPConnection):
    """A keep-alive connection that reuses a connection as browsers do (Chromium, Firefox): it checks,
    before it sends, whether the server closed it while idle (then opens a new one), and when a reused
    connection fails before any answer came, it sends the request once more on a new connection.

    An nginx reload closes the idle keep-alive connections of its old workers (that is how they
    stop serving the old pool); HTTP lets a server close an idle connection at any time (RFC 9112,
    9.3). A request that reaches such a connection just as the worker closes it is never read, which
    is why user agents resend it. A failure on a new connection, an error status, or a connection
    that fails after answering are not resent: they count as failures.
    """

    resent = 0   # requests sent again, over all connections (for a test's own diagnostics)

    def request(self, method, url, body=None, headers=None, **kwargs):
        self._sent = (method, url, body, dict(headers or {}), kwargs)
        self._reused = self.sock is not None
        if self._reused and select.select([self.sock], [], [], 0)[0]:
            self.close()   # readable while idle: the server closed it (or sent garbage): not reusable
            self._reused = False
        try:
            return super().request(method, url, body=body, headers=headers or {}, **kwargs)
        except (BrokenPipeError, ConnectionResetError):
            if not self._reused:
                raise
            self._send_again()

    def getresponse(self):
        try:
            return super().getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not self._reused:
                raise
            self._send_again()
            return super().getresponse()

    def _send_again(self):
        self.close()
        self._reused = False
        BrowserConnection.resent += 1
        method, url, body, headers, kwargs = self._sent
        super().request(method, url, body=body, headers=headers, **kwargs)


class LoadGenerator:
    """``clients`` threads, each sending GET ``get_path`` and POST ``post_path`` in turn, back to back
    (``pause`` seconds between two requests of a client), until stopped. With ``browser``, each client
    reuses its connection as browsers do (``BrowserConnection``); without, it writes to it blindly."""

    def __init__(self, base_url, clients=4, get_path='/version', post_path='/version', pause=0.005,
                 served_by=version_of, timeout=10, browser=False):
        url = urllib.parse.urlsplit(base_url)
        self.host, self.port = url.hostname, url.port or 80
        self.clients, self.get_path, self.post_path = clients, get_path, post_path
        self.pause, self.served_by_fn, self.timeout = pause, served_by, timeout
        self.connection_class = BrowserConnection if browser else http.client.HTTPConnection
        self.requests = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    # --- running ---------------------------------------------------------------------------------------
    def start(self):
        self._stop.clear()
        self._threads = [threading.Thread(target=self._client, args=(number,), daemon=True)
                         for number in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_for(self, count, timeout=30):
        """Block until ``count`` more requests were answered; a deadline, never a timing assertion."""
        target = len(self.requests) + count
        deadline = time.monotonic() + timeout
        while len(self.requests) < target and time.monotonic() < deadline:
            time.sleep(0.02)

    def _client(self, number):
        connection = None
        turn = number   # clients start on different methods
        while not self._stop.is_set():
            method = 'GET' if turn % 2 == 0 else 'POST'
            turn += 1
            if connection is None:
                connection = self.connection_class(self.host, self.port, timeout=self.timeout)
            started = time.monotonic()
            try:
                body = b'{"probe": %d}' % turn if method == 'POST' else None
                headers = {'Content-Type': 'application/json'} if body else {}
                connection.request(method, self.post_path if body else self.get_path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                record = Request(started, method, response.status,
                                 self.served_by_fn(response.status, response.headers, payload))
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as err:
                record = Request(started, method, None, None, '{0}: {1}'.format(type(err).__name__, err))
                connection.close()
                connection = None
            with self._lock:
                self.requests.append(record)
            if self.pause:
                time.sleep(self.pause)
        if connection is not None:
            connection.close()

    # --- what was seen -----------------------------------------------------------------------------------
    def snapshot(self):
        with self._lock:
            return list(self.requests)

    def failed(self):
        """Requests answered with a non-2xx status or not answered at all."""
        return [r for r in self.snapshot() if not r.ok]

    def non_2xx(self):
        return [r for r in self.snapshot() if r.status is not None and not r.ok]

    def transport_errors(self):
        return [r for r in self.snapshot() if r.status is None]

    def served_by(self):
        """What served the answered requests, in the order they were sent, repeats collapsed."""
        order = []
        for request in sorted(self.snapshot(), key=lambda r: r.started):
            if request.ok and (not order or order[-1] != request.served_by):
                order.append(request.served_by)
        return order

    def summary(self):
        requests = self.snapshot()
        return {'requests': len(requests), 'ok': sum(r.ok for r in requests), 'non_2xx': len(self.non_2xx()),
                'transport_errors': len(self.transport_errors()),
                'methods': sorted(set(r.method for r in requests)), 'served_by': self.served_by(),
                'first_failures': [(r.method, r.status, r.error) for r in self.failed()[:5]]}
