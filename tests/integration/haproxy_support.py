# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real HAProxy (Debian's) in a temp dir, in front of small stdlib app servers, for lb_switch backend=haproxy.

``App(name)`` answers GET and POST /version with ``{"version": name}`` and /health with 200; a request
with header ``X-Hold: <seconds>`` is held that long (or until ``release()``), to keep a session open.
``Haproxy`` writes a config (backend ``web``, one server per app, health-checked every 100 ms, a
``use-server`` rule so ``X-Server: <name>`` reaches that server), starts it, reloads it as an operator
would (saving ``show servers state`` first when it has a state file) and reads its state back.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def closed_port():
    """A port nothing listens on: health checks of a server there fail (L4CON)."""
    return free_port()


class App:
    """One backend server, in this process; ``hits`` counts the requests it answered (health checks apart)."""

    def __init__(self, name, port=None):
        self.name = name
        self.hits = 0
        self.holding = 0   # requests held now
        self.released = threading.Event()
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _answer(self):
                length = int(self.headers.get('Content-Length') or 0)
                if length:
                    self.rfile.read(length)
                if self.path != '/health':
                    app.hits += 1
                    if self.headers.get('X-Hold'):
                        app.holding += 1
                        app.released.wait(float(self.headers['X-Hold']))
                        app.holding -= 1
                body = json.dumps({'version': app.name}).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

            def handle(self):
                try:
                    super().handle()
                except (ConnectionError, OSError):
                    pass   # health checks close early; a shut session resets

        self.httpd = ThreadingHTTPServer(('127.0.0.1', port or 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def release(self):
        self.released.set()

    def stop(self):
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


CONFIG = """global
    stats socket {dir}/admin.sock mode 600 level {level}
{state_global}
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 60s
    option redispatch
    retries 2
{state_defaults}
frontend fe
    bind 127.0.0.1:{port}
    default_backend web

backend web
    balance {balance}
    option httpchk GET /health
    default-server check inter 100ms fastinter 100ms downinter 100ms rise 2 fall 2
{use_servers}
{servers}
"""


class Haproxy:
    """``servers``: name -> port. ``state_file``: the config saves and loads server states."""

    def __init__(self, tmpdir, servers, state_file=True, level='admin', balance='roundrobin', weights=None):
        self.dir = str(tmpdir)
        self.port = free_port()
        self.socket = os.path.join(self.dir, 'admin.sock')
        self.state_file = os.path.join(self.dir, 'server-state') if state_file else None
        self.config = os.path.join(self.dir, 'haproxy.cfg')
        with open(self.config, 'w') as handle:
            handle.write(CONFIG.format(
                dir=self.dir, level=level, port=self.port, balance=balance,
                state_global='    server-state-file {0}'.format(self.state_file) if state_file else '',
                state_defaults='    load-server-state-from-file global' if state_file else '',
                use_servers='\n'.join('    use-server {0} if {{ req.hdr(x-server) {0} }}'.format(name)
                                      for name in servers),
                servers='\n'.join('    server {0} 127.0.0.1:{1} weight {2}'.format(
                    name, port, (weights or {}).get(name, 1)) for name, port in servers.items())))
        self.processes = []
        self.url = 'http://127.0.0.1:{0}'.format(self.port)

    # --- processes -------------------------------------------------------------------------------------------
    def start(self, old=None):
        command = ['haproxy', '-db', '-f', self.config] + (['-sf', str(old.pid)] if old else [])
        log = open(os.path.join(self.dir, 'haproxy.log'), 'ab')
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        self.until(lambda: self._answers(process.pid), 'HAProxy {0} answers on its socket'.format(process.pid))
        return self

    def _answers(self, pid):
        try:
            return 'Pid: {0}\n'.format(pid) in self.api('show info')
        except OSError:
            return False

    @property
    def pid(self):
        return self.processes[-1].pid

    def reload(self):
        """As an operator's reload does: save the servers' state (when the config loads it), start a new
        process that takes over, and let the old one finish its sessions."""
        if self.state_file:
            with open(self.state_file, 'w') as handle:
                handle.write(self.api('show servers state'))
        return self.start(old=self.processes[-1])

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # --- reading ---------------------------------------------------------------------------------------------
    def api(self, command):
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(10)
            conn.connect(self.socket)
            conn.sendall(command.encode() + b'\n')
            chunks = []
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return b''.join(chunks).decode()
                chunks.append(chunk)

    def servers(self):
        """name -> {admin (bits), op (0 down .. 2 up), weight, sessions, status} as HAProxy reports them."""
        state = self.api('show servers state web').splitlines()
        columns = state[1].lstrip('# ').split()
        stat = self.api('show stat web 4 -1').splitlines()
        stat_columns = stat[0].lstrip('# ').split(',')
        rows = (dict(zip(stat_columns, line.split(','))) for line in stat[1:] if line)
        stats = dict((row['svname'], row) for row in rows)
        servers = {}
        for line in state[2:]:
            if line.strip():
                row = dict(zip(columns, line.split()))
                servers[row['srv_name']] = dict(
                    admin=int(row['srv_admin_state']), op=int(row['srv_op_state']), weight=int(row['srv_uweight']),
                    sessions=int(stats[row['srv_name']]['scur']), status=stats[row['srv_name']]['status'])
        return servers

    def until(self, predicate, what, timeout=20):
        """Wait for ``predicate()`` (a deadline, not a timing assertion)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError('Timed out waiting until ' + what)
            time.sleep(0.05)

    def until_checked(self, up, down=()):
        """Wait until the health checks have marked ``up`` UP and ``down`` DOWN."""
        self.until(lambda: all(self.servers()[n]['status'] == 'UP' for n in up) and
                   all(self.servers()[n]['status'] == 'DOWN' for n in down), 'the health checks settled')


def request(url, server=None, hold=None, timeout=30):
    """One GET /version through HAProxy (to ``server`` by the use-server rule); (status, version) or
    (None, error) when the connection broke."""
    host, port = url.split('//')[1].split(':')
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {}
    if server:
        headers['X-Server'] = server
    if hold:
        headers['X-Hold'] = str(hold)
    try:
        conn.request('GET', '/version', headers=headers)
        response = conn.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body)['version']
        except (ValueError, KeyError):
            return response.status, body.decode(errors='replace')
    except (OSError, http.client.HTTPException) as err:
        return None, '{0}: {1}'.format(type(err).__name__, err)
    finally:
        conn.close()


class Background(threading.Thread):
    """``fn()`` in a thread; ``result`` once joined."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = None

    def run(self):
        self.result = self.fn()
