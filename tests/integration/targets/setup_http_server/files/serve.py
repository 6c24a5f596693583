# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small web server for the integration targets, run on the managed host.

Only Python's standard library, as on a bare lab host::

    python3 serve.py start --pidfile FILE --port N --root DIR [--cert CERT --key KEY] [--token TOKEN]
    python3 serve.py stop --pidfile FILE

``start`` stops the server named in FILE (if it runs), starts a new one in its
own session with no inherited stdio (output to FILE.log), and returns once it
accepts connections, so it works as a release's restart command. DIR is
resolved when the server starts: a server started through a ``current`` link
keeps serving the release it started from, as a real application does.

The server answers on 0.0.0.0:N:

* ``GET|HEAD /<file>``: a file of DIR (``/`` is ``index.html``); a file
  without an extension is served as ``application/json``, like an API;
* ``/ready``: the file ``ready``, but 401 unless the request carries
  ``Authorization: Bearer TOKEN`` (when ``--token`` is given);
* ``/status/<code>``: that status, with a JSON body;
* ``/slow/<ms>``: 200 after ``ms`` milliseconds;
* ``/flap/<n>/<name>``: 500 for every n-th request (the n-th, 2n-th, ...),
  200 otherwise, counted per path: a service that flaps.

With ``--cert`` and ``--key`` it speaks HTTPS.
"""

import argparse
import functools
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    token = None
    counts = {}
    counts_lock = threading.Lock()

    def _json(self, status, payload):
        data = (json.dumps(payload) + '\n').encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def _special(self):
        """Answer the special paths; False for a plain file."""
        path = self.path.split('?', 1)[0]
        parts = path.strip('/').split('/')
        if parts[0] == 'status' and len(parts) == 2 and parts[1].isdigit():
            self._json(int(parts[1]), {'status': int(parts[1])})
            return True
        if parts[0] == 'slow' and len(parts) == 2 and parts[1].isdigit():
            time.sleep(int(parts[1]) / 1000.0)
            self._json(200, {'slept_ms': int(parts[1])})
            return True
        if parts[0] == 'flap' and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) > 0:
            with self.counts_lock:
                count = self.counts[path] = self.counts.get(path, 0) + 1
            status = 500 if count % int(parts[1]) == 0 else 200
            self._json(status, {'request': count})
            return True
        if path == '/ready' and self.token and self.headers.get('Authorization') != 'Bearer ' + self.token:
            self._json(401, {'error': 'unauthorized'})
            return True
        return False

    def guess_type(self, path):
        if not os.path.splitext(path)[1]:
            return 'application/json'
        return super(Handler, self).guess_type(path)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if not self._special():
            super(Handler, self).do_GET()

    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        if not self._special():
            super(Handler, self).do_HEAD()

    def log_message(self, format, *args):  # noqa: A002 (signature of the base)
        """Quiet: no access log."""


def serve(args):
    Handler.token = args.token
    handler = functools.partial(Handler, directory=args.root)
    server = http.server.ThreadingHTTPServer(('0.0.0.0', args.port), handler)
    server.daemon_threads = True
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
    print('serving {0} on 0.0.0.0:{1}{2}'.format(args.root, args.port, ' (TLS)' if args.cert else ''), flush=True)
    server.serve_forever()


def _running(pidfile):
    """The pid in ``pidfile`` if it is a live server of this script, else None."""
    try:
        with open(pidfile) as handle:
            pid = int(handle.read().strip())
        with open('/proc/{0}/cmdline'.format(pid), 'rb') as handle:
            cmdline = handle.read()
    except (OSError, ValueError):
        return None
    return pid if b'serve.py' in cmdline else None


def stop(args):
    pid = _running(args.pidfile)
    if pid:
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 2)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while _running(args.pidfile) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _running(args.pidfile):
                break
        if _running(args.pidfile):
            sys.exit('serve.py: could not stop pid {0}'.format(pid))
        print('stopped pid {0}'.format(pid))
    if os.path.exists(args.pidfile):
        os.unlink(args.pidfile)


def _answers(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


def start(args):
    root = os.path.realpath(args.root)
    if not os.path.isdir(root):
        sys.exit('serve.py: {0} is not a directory'.format(args.root))
    stop(args)
    command = [sys.executable, os.path.abspath(__file__), 'serve', '--port', str(args.port), '--root', root]
    if args.cert:
        command += ['--cert', args.cert, '--key', args.key]
    if args.token:
        command += ['--token', args.token]
    log = args.pidfile + '.log'
    with open(log, 'ab') as out, open(os.devnull, 'rb') as devnull:
        proc = subprocess.Popen(command, stdin=devnull, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    with open(args.pidfile, 'w') as handle:
        handle.write('{0}\n'.format(proc.pid))
    deadline = time.monotonic() + 10
    while not _answers(args.port):
        if proc.poll() is not None or time.monotonic() > deadline:
            with open(log) as handle:
                tail = handle.read()[-1000:]
            sys.exit('serve.py: the server (pid {0}) did not start on port {1}:\n{2}'.format(proc.pid, args.port, tail))
        time.sleep(0.05)
    print('started pid {0} serving {1} on port {2}'.format(proc.pid, root, args.port))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True)
    for name in ('start', 'serve'):
        sub = commands.add_parser(name)
        if name == 'start':
            sub.add_argument('--pidfile', required=True)
        sub.add_argument('--port', type=int, required=True)
        sub.add_argument('--root', required=True)
        sub.add_argument('--cert')
        sub.add_argument('--key')
        sub.add_argument('--token')
    commands.add_parser('stop').add_argument('--pidfile', required=True)
    args = parser.parse_args()
    {'start': start, 'serve': serve, 'stop': stop}[args.command](args)


if __name__ == '__main__':
    main()
