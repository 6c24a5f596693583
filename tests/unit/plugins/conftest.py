# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real HTTP server on 127.0.0.1 for the health checker and health_check module tests."""

from __future__ import annotations

import collections
import http.server
import json
import socket
import threading
import time

import pytest

SLOW_SECONDS = 0.3


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status, body, content_type='application/json'):
        data = body if isinstance(body, bytes) else body.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.server.seen_headers.append(dict(self.headers))
        path = self.path
        if path == '/health':
            self._send(200, json.dumps({'status': 'ok', 'checks': {'db': 'up', 'cache': 'up'}, 'ready': True,
                                        'errors': 0, 'degraded': [], 'maintenance': False}))
        elif path == '/failing-json':
            self._send(200, json.dumps({'status': 'failing'}))
        elif path == '/error':
            self._send(500, json.dumps({'error': 'database unreachable'}))
        elif path == '/created':
            self._send(201, 'created', 'text/plain')
        elif path == '/slow':
            time.sleep(SLOW_SECONDS)
            self._send(200, json.dumps({'status': 'ok'}))
        elif path == '/html':
            self._send(200, '<html><title>Maintenance</title></html>', 'text/html')
        elif path.startswith('/flapping/'):
            # Every 3rd request to the same path fails: ok, ok, 503, ok, ok, 503, ...
            with self.server.lock:
                self.server.counters[path] += 1
                count = self.server.counters[path]
            if count % 3 == 0:
                self._send(503, json.dumps({'status': 'overloaded'}))
            else:
                self._send(200, json.dumps({'status': 'ok'}))
        elif path == '/redirect':
            self.send_response(302)
            self.send_header('Location', '/health')
            self.send_header('Content-Length', '0')
            self.end_headers()
        elif path == '/secret':
            ok = self.headers.get('Authorization') == 'Bearer s3cr3t'
            self._send(200 if ok else 401, json.dumps({'authorized': ok}))
        elif path == '/echo-auth':
            self._send(200, json.dumps({'auth': self.headers.get('Authorization')}))
        else:
            self._send(404, 'not found', 'text/plain')


@pytest.fixture(scope='module')
def server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    httpd.daemon_threads = True
    httpd.counters = collections.Counter()
    httpd.lock = threading.Lock()
    httpd.seen_headers = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:{0}'.format(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope='module')
def closed_port_url():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    return 'http://127.0.0.1:{0}/health'.format(port)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(name, raising=False)
