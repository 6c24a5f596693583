# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real single-node swarm and the swarm app's images for the Docker tests (no registry).

``ops-rollback-swarm-app:<tag>`` images are built FROM the lab image (``scripts/lab.sh image``), each
serving its version over HTTP on port 8080 (``$PORT``); ``v3-broken`` exits 1 at start. Built once and
kept (cached by tag and the Dockerfile's hash label).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import urllib.request

DOCKER = '/usr/bin/docker'
LAB_IMAGE = 'ops-rollback-lab:latest'
APP = 'ops-rollback-swarm-app'
VERSIONS = {'v1': 0, 'v2': 0, 'v3-broken': 1}   # tag -> exit code at start (0: serve)

SERVER = (
    "import http.server, os, signal, sys\n"
    "signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))  # PID 1: stop at once when the engine asks\n"
    "if os.environ['APP_EXIT'] != '0':\n"
    "    print('v3-broken: refusing to start', file=sys.stderr); sys.exit(int(os.environ['APP_EXIT']))\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = os.environ['APP_VERSION'].encode()\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "http.server.HTTPServer(('', int(os.environ.get('PORT', '8080'))), H).serve_forever()\n"
)

DOCKERFILE = (
    'FROM {0}\n'
    'ARG VERSION\nARG EXIT=0\n'
    'ENV APP_VERSION=$VERSION APP_EXIT=$EXIT\n'
    'LABEL ops.rollback.test=swarm-app ops.rollback.test.recipe={1}\n'
    'CMD {2}\n'
)


def docker(*args, check=True):
    return subprocess.run([DOCKER, *args], check=check, capture_output=True, text=True)


def ensure_swarm():
    """A single-node swarm on 127.0.0.1 (left initialised afterwards: other tests may use it)."""
    state = docker('info', '--format', '{{.Swarm.LocalNodeState}}').stdout.strip()
    if state != 'active':
        docker('swarm', 'init', '--advertise-addr', '127.0.0.1')


def ensure_images():
    """Build the app's images when missing or built from another recipe; returns {tag: image id}."""
    recipe = hashlib.sha256((SERVER + LAB_IMAGE).encode()).hexdigest()[:16]
    ids = {}
    for tag, exit_code in VERSIONS.items():
        ref = '{0}:{1}'.format(APP, tag)
        found = docker('image', 'inspect', '--format', '{{index .Config.Labels "ops.rollback.test.recipe"}} {{.Id}}',
                       ref, check=False)
        if found.returncode == 0 and found.stdout.split()[0] == recipe:
            ids[tag] = found.stdout.split()[1]
            continue
        with tempfile.TemporaryDirectory() as context:
            with open(os.path.join(context, 'Dockerfile'), 'w') as handle:
                handle.write(DOCKERFILE.format(LAB_IMAGE, recipe, json.dumps(['python3', '-c', SERVER])))
            docker('build', '-q', '-t', ref, '--build-arg', 'VERSION=' + tag, '--build-arg',
                   'EXIT={0}'.format(exit_code), context)
        ids[tag] = docker('image', 'inspect', '--format', '{{.Id}}', ref).stdout.strip()
    return ids


def served(port):
    """What the task published on 127.0.0.1:``port`` says its version is (None when nothing answers)."""
    try:
        with urllib.request.urlopen('http://127.0.0.1:{0}/'.format(port), timeout=3) as response:
            return response.read().decode()
    except OSError:
        return None
