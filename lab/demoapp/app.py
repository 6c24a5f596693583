"""Demo service of the ops.rollback lab: one release of a tiny HTTP app.

Each release directory (/srv/demo/releases/<version>/) holds this file, a
VERSION file and, for a "broken build", a BROKEN file. The app serves on
0.0.0.0:8000 (DEMO_PORT overrides) from whichever release it was started
from (/srv/demo/current/app.py resolves to the release directory).

  GET /         200 text
  GET /version  200 {"version": "<v>"}
  GET /health   200 {"status": "ok", "version": "<v>"}
  POST /version 200 {"version": "<v>", "received": <bytes of the body>}
  GET /metrics  200 Prometheus text format (not counted in itself):
                demo_http_requests_total{method,path,code,version} and the
                histogram demo_http_request_duration_seconds{method,path,version}

A broken build answers /health with 500 {"status": "failing", ...} and
every third other request with 500, deterministically. A slow build (a SLOW
file, holding seconds, 0.3 when empty) answers every request but /metrics
that much later, for latency gates.
"""

import itertools
import json
import os
import threading
import time
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


def _read_slow():
    try:
        with open(os.path.join(RELEASE_DIR, "SLOW"), encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError:
        return 0.0
    return float(text) if text else 0.3


SLOW_SECONDS = _read_slow()

_requests = itertools.count(1)
_requests_lock = threading.Lock()


def _fails_this_time():
    """True for every third request (3rd, 6th, ...) of a broken build."""
    if not BROKEN:
        return False
    with _requests_lock:
        number = next(_requests)
    return number % 3 == 0


# Upper bounds of the latency histogram's buckets, in seconds (Prometheus' client defaults).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Paths counted by name; any other is "other", so scanners cannot grow the series without bound.
KNOWN_PATHS = ("/", "/version", "/health")
INITIAL_ROUTES = (("GET", "/"), ("GET", "/version"), ("GET", "/health"), ("POST", "/version"))


class Metrics:
    """Request counters and a latency histogram, in Prometheus' text exposition format."""

    def __init__(self):
        self._lock = threading.Lock()
        # Exported at 0 from the start, as Prometheus advises: a 5xx ratio of a healthy app then reads 0
        # instead of an empty result for want of a 500 series.
        self._requests = dict(((method, path, code), 0) for method, path in INITIAL_ROUTES for code in ("200", "500"))
        self._durations = {}    # (method, path) -> [count per bucket..., +Inf count, sum]

    def observe(self, method, path, code, seconds):
        path = path if path in KNOWN_PATHS else "other"
        with self._lock:
            key = (method, path, str(code))
            self._requests[key] = self._requests.get(key, 0) + 1
            row = self._durations.setdefault((method, path), [0] * (len(BUCKETS) + 1) + [0.0])
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    row[index] += 1
            row[len(BUCKETS)] += 1
            row[-1] += seconds

    def render(self):
        with self._lock:
            requests = sorted(self._requests.items())
            durations = sorted((key, list(row)) for key, row in self._durations.items())
        lines = [
            "# HELP demo_http_requests_total HTTP requests answered, by method, path and status code.",
            "# TYPE demo_http_requests_total counter",
        ]
        for (method, path, code), count in requests:
            lines.append('demo_http_requests_total{method="%s",path="%s",code="%s",version="%s"} %d'
                         % (method, path, code, _label(VERSION), count))
        lines += [
            "# HELP demo_http_request_duration_seconds Time to answer an HTTP request.",
            "# TYPE demo_http_request_duration_seconds histogram",
        ]
        for (method, path), row in durations:
            labels = 'method="%s",path="%s",version="%s"' % (method, path, _label(VERSION))
            for index, bound in enumerate(BUCKETS):
                lines.append('demo_http_request_duration_seconds_bucket{%s,le="%s"} %d' % (labels, bound, row[index]))
            lines.append('demo_http_request_duration_seconds_bucket{%s,le="+Inf"} %d' % (labels, row[len(BUCKETS)]))
            lines.append("demo_http_request_duration_seconds_sum{%s} %r" % (labels, row[-1]))
            lines.append("demo_http_request_duration_seconds_count{%s} %d" % (labels, row[len(BUCKETS)]))
        return "\n".join(lines) + "\n"


def _label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


METRICS = Metrics()


class Handler(BaseHTTPRequestHandler):
    server_version = "demoapp/" + VERSION
    protocol_version = "HTTP/1.1"

    def _send(self, status, body, content_type):
        data = body.encode("utf-8")
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status, payload):
        self._send(status, json.dumps(payload) + "\n", "application/json")

    def _measured(self, answer):
        """Answer, then count the request and its latency (from its headers read to its answer sent)."""
        path = self.path.split("?", 1)[0]
        if path == "/metrics" and self.command in ("GET", "HEAD"):
            self._send(200, METRICS.render(), "text/plain; version=0.0.4; charset=utf-8")
            return
        started = time.monotonic()
        self._status = None
        if SLOW_SECONDS:
            time.sleep(SLOW_SECONDS)
        answer(path)
        if self._status is not None:
            METRICS.observe(self.command, path, self._status, time.monotonic() - started)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._measured(self._get)

    def _get(self, path):
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

    def do_POST(self):  # noqa: N802
        self._measured(self._post)

    def _post(self, path):
        """A write, as clients send them through a switch: the body is read whole, then answered."""
        received = len(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if _fails_this_time():
            self._json(500, {"error": "internal server error", "version": VERSION})
        elif path == "/version":
            self._json(200, {"version": VERSION, "received": received})
        else:
            self._json(404, {"error": "not found"})

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
