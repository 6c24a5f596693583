"""The Docker lab's demo app: serves its version over HTTP on 8080, python3 only.

GET /        {"version": "<VERSION>"}
GET /health  {"status": "ok", "version": "<VERSION>"}, 200; a broken build
             (DEMO_BROKEN=health) answers {"status": "failing", ...} with 500
python3 app.py health   the image's HEALTHCHECK: exits 0 only when /health answers 200

The version is /VERSION, written when the image is built (lab/docker/Dockerfile).
"""
import http.server
import json
import os
import signal
import sys
import urllib.request

VERSION = open('/VERSION').read().strip()
BROKEN = os.environ.get('DEMO_BROKEN', '')
PORT = int(os.environ.get('PORT', '8080'))

if sys.argv[1:] == ['health']:
    try:
        urllib.request.urlopen('http://127.0.0.1:{0}/health'.format(PORT), timeout=2)
    except Exception as error:  # an HTTPError (500) or nothing listening
        print('{0}: unhealthy: {1}'.format(VERSION, error))
        sys.exit(1)
    sys.exit(0)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split('?')[0] == '/health':
            failing = BROKEN == 'health'
            code, body = (500 if failing else 200), {'status': 'failing' if failing else 'ok', 'version': VERSION}
        else:
            code, body = 200, {'version': VERSION}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


# PID 1 in its container: stop at once when the engine asks.
signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
http.server.ThreadingHTTPServer(('0.0.0.0', PORT), Handler).serve_forever()
