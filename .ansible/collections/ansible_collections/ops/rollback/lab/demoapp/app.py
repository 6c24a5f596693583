#!/usr/bin/env python3
"""Demo service of the ops.rollback lab: one release of a tiny HTTP app.

Each release directory (/srv/demo/releases/<version>/) holds this file, a
VERSION file and, for a "broken build", a BROKEN file. The app serves on
0.0.0.0:8000 (DEMO_PORT overrides) from whichever release it was started
from (/srv/demo/current/app.py resolves to the release directory).

  GET /         200 text
  GET /version  200 {"version": "<v>"}
  GET /health   200 {"status": "ok", "version": "<v>"}

A broken build answers /health with 500 {"status": "failing", ...} and
every third other request with 500, deterministically.
"""

import itertools
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RELEASE_DIR = os.path.dirname(os.path.realpath(__file__))


def _read_version():
    try:
        with open(os.path.join(RELEASE_DIR, "VERSION"), encoding="utf-8") as handle:
            return handle.read().strip() or "unknown"
    except OSError:
        return "unknown"


VERSION = _read_version()
BROKEN = os.path.exists(os.path.join(RELEASE_DIR, "BROKEN"))

_requests = itertools.count(1)
_requests_lock = threading.Lock()


def _fails_this_time():
    """True for every third request (3rd, 6th, ...) of a broken build."""
    if not BROKEN:
        return False
    with _requests_lock:
        number = next(_requests)
    return number % 3 == 0


class Handler(BaseHTTPRequestHandler):
    server_version = "demoapp/" + VERSION
    protocol_version = "HTTP/1.1"

    def _send(self, status, body, content_type):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status, payload):
        self._send(status, json.dumps(payload) + "\n", "application/json")

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path == "/health":
            if BROKEN:
                self._json(500, {"status": "failing", "version": VERSION})
            else:
                self._json(200, {"status": "ok", "version": VERSION})
            return
        if _fails_this_time():
            self._json(500, {"error": "internal server error", "version": VERSION})
            return
        if path == "/version":
            self._json(200, {"version": VERSION})
        elif path == "/":
            self._send(200, "demo app %s\n" % VERSION, "text/plain; charset=utf-8")
        else:
            self._json(404, {"error": "not found"})

    do_HEAD = do_GET

    def log_message(self, format, *args):  # noqa: A002 (signature of the base)
        """Quiet: no access log."""


def main():
    port = int(os.environ.get("DEMO_PORT", "8000"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    print(
        "demoapp %s%s serving on 0.0.0.0:%d from %s"
        % (VERSION, " (BROKEN build)" if BROKEN else "", port, RELEASE_DIR),
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
