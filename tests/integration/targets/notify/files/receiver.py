# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A webhook receiver that records what it is sent, for the tests of ops.rollback.notify.

Standard library only. It runs in the pytest process (``Receiver``, on a
random port of 127.0.0.1) and on a lab host for the integration target
(``python3 receiver.py --port N --lifetime S``, until ``GET /stop`` or S
seconds). What a POST gets depends on its path, so each test scripts its own
failures without any control calls:

* ``/fail/<n>/<status>/<anything>``: ``status`` for the first ``n`` requests
  to that path (429 with ``Retry-After: 0``), then 200;
* ``/status/<code>/<anything>``: always ``code``, with the body ``no_service``;
* ``/hang/<seconds>/<anything>``: 200 after that many seconds;
* any other path: 200 ``ok``, as Slack answers.

``GET /requests`` returns every POST so far as JSON: ``method``, ``path``,
``headers`` and ``json`` (the body decoded). ``DELETE /requests`` forgets them.
"""

import argparse
import http.server
import json
import threading
import time


class Receiver(object):
    """The server and what it recorded; ``start()`` serves in a thread, ``stop()`` ends it."""

    def __init__(self, host='127.0.0.1', port=0):
        self.requests = []
        self.counts = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(_Handler):
            owner = receiver

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = 'http://127.0.0.1:{0}'.format(self.port)

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def posts(self, path_prefix=''):
        with self.lock:
            return [request for request in self.requests if request['path'].startswith(path_prefix)]


class _Handler(http.server.BaseHTTPRequestHandler):
    owner = None

    def _answer(self, status, body, headers=None):
        data = body.encode('utf-8')
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == '/requests':
            with self.owner.lock:
                self._answer(200, json.dumps(self.owner.requests), {'Content-Type': 'application/json'})
        elif self.path == '/stop':
            self._answer(200, 'stopping')
            threading.Thread(target=self.owner.server.shutdown).start()
        else:
            self._answer(404, 'not found')

    def do_DELETE(self):  # noqa: N802 (http.server's naming)
        with self.owner.lock:
            del self.owner.requests[:]
            self.owner.counts.clear()
        self._answer(200, 'forgotten')

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        try:
            decoded = json.loads(body.decode('utf-8'))
        except ValueError:
            decoded = None
        with self.owner.lock:
            self.owner.requests.append({'method': 'POST', 'path': self.path, 'headers': dict(self.headers.items()),
                                        'json': decoded})
            count = self.owner.counts[self.path] = self.owner.counts.get(self.path, 0) + 1
        parts = self.path.strip('/').split('/')
        if parts[0] == 'fail' and len(parts) >= 3 and count <= int(parts[1]):
            status = int(parts[2])
            self._answer(status, 'failing on purpose', {'Retry-After': '0'} if status == 429 else None)
        elif parts[0] == 'status' and len(parts) >= 2:
            self._answer(int(parts[1]), 'no_service')
        elif parts[0] == 'hang' and len(parts) >= 2:
            time.sleep(float(parts[1]))
            self._answer(200, 'ok')
        else:
            self._answer(200, 'ok')

    def log_message(self, format, *args):  # noqa: A002 (signature of the base)
        """Quiet: no access log."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--lifetime', type=float, default=600, help='seconds after which it stops by itself')
    args = parser.parse_args()
    receiver = Receiver(host='0.0.0.0', port=args.port)
    timer = threading.Timer(args.lifetime, receiver.server.shutdown)
    timer.daemon = True
    timer.start()
    receiver.server.serve_forever()
    receiver.server.server_close()


if __name__ == '__main__':
    main()
