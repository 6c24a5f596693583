# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real nginx (Debian's) in a temp dir in front of the lab's demo app, for lb_switch backend=nginx.

``DemoApp(version)`` runs lab/demoapp/app.py as a process from a release dir of its own (VERSION beside
it), on a free loopback port. ``Nginx`` writes a main config that includes an upstream file, keeps
client connections alive (and upstream connections, ``keepalive`` in the block), starts its own master
(``daemon off`` under Popen) and reads back what it serves and which workers it runs.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DEMO_APP = os.path.join(REPO, 'lab', 'demoapp', 'app.py')


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError('nothing listens on 127.0.0.1:{0} after {1} s'.format(port, timeout))


class DemoApp:
    """One release of the demo app (``GET/POST /version`` -> ``{"version": ...}``) as its own process."""

    def __init__(self, tmpdir, version):
        self.version = version
        self.dir = os.path.join(str(tmpdir), 'release-{0}-{1}'.format(version, free_port()))
        os.makedirs(self.dir)
        shutil.copy(DEMO_APP, self.dir)
        with open(os.path.join(self.dir, 'VERSION'), 'w') as handle:
            handle.write(version + '\n')
        self.port = free_port()
        self.address = '127.0.0.1:{0}'.format(self.port)
        self.process = subprocess.Popen([sys.executable, os.path.join(self.dir, 'app.py')],
                                        env=dict(os.environ, DEMO_PORT=str(self.port)),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


WORKERS = 2
MAIN_CONFIG = """worker_processes {workers};
{shutdown}
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 60s;
    keepalive_requests 100000;
    {include}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


class Nginx:
    """An nginx master serving ``upstream`` from ``upstream_file`` (written here with ``servers``)."""

    def __init__(self, tmpdir, servers, upstream='pool', shutdown_timeout='5s', include=True):
        self.dir = os.path.join(str(tmpdir), 'nginx')
        os.makedirs(self.dir)
        self.port = free_port()
        self.url = 'http://127.0.0.1:{0}'.format(self.port)
        self.upstream = upstream
        self.config = os.path.join(self.dir, 'nginx.conf')
        self.upstream_file = os.path.join(self.dir, 'conf.d', 'upstream.conf')
        os.makedirs(os.path.dirname(self.upstream_file))
        # Hand-written, as an operator's file is before lb_switch first owns it.
        self.write_upstream('upstream {0} {{\n{1}    keepalive 8;\n}}\n'.format(
            upstream, ''.join('    server {0};\n'.format(address) for address in servers)))
        with open(self.config, 'w') as handle:
            handle.write(MAIN_CONFIG.format(
                dir=self.dir, port=self.port, upstream=upstream, workers=WORKERS,
                shutdown='worker_shutdown_timeout {0};'.format(shutdown_timeout) if shutdown_timeout else '',
                # Without the include the upstream is defined inline: nginx then never loads upstream_file.
                include='include {0};'.format(self.upstream_file) if include else
                'upstream {0} {{ server {1}; }}'.format(upstream, servers[0])))
        self.process = None

    def write_upstream(self, text):
        with open(self.upstream_file, 'w') as handle:
            handle.write(text)

    def upstream_text(self):
        with open(self.upstream_file) as handle:
            return handle.read()

    def start(self):
        self.process = subprocess.Popen(['nginx', '-c', self.config, '-g', 'daemon off;'],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(self.port)
        deadline = time.monotonic() + 10
        while len(self.workers()) < WORKERS and time.monotonic() < deadline:  # all started
            time.sleep(0.02)
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)   # fast shutdown of master and workers
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def settled(self, timeout=10):
        """The workers once all of the current generation run and no older one is left (a deadline)."""
        deadline = time.monotonic() + timeout
        while (len(self.workers()) != WORKERS or self.workers(shutting_down=True)) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.workers()

    def workers(self, shutting_down=False):
        """The pids of the master's worker processes, from /proc; with ``shutting_down``, only those of
        an older generation that finish their open requests before they exit."""
        pids = set()
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/{0}/stat'.format(entry)) as handle:
                    stat = handle.read()
                with open('/proc/{0}/cmdline'.format(entry), 'rb') as handle:
                    title = handle.read()
            except OSError:
                continue
            if int(stat[stat.rindex(')') + 2:].split()[1]) == self.process.pid and b'worker process' in title and \
                    (not shutting_down or b'shutting down' in title):
                pids.add(int(entry))
        return pids

    def served(self, count=1):
        """The versions that answered ``count`` GET /version, each on a new connection."""
        versions = []
        for _number in range(count):
            connection = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
            try:
                connection.request('GET', '/version')
                response = connection.getresponse()
                assert response.status == 200, (response.status, response.read())
                versions.append(json.loads(response.read())['version'])
            finally:
                connection.close()
        return versions
