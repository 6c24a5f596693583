# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test images and projects for compose_rollback, on the local engine, without a registry.

The images are built FROM the lab image (python3 inside): each serves its
version over HTTP on 8080 and has a HEALTHCHECK in python3's urllib;
``v3-broken`` fails its healthcheck, ``v4-exits`` exits at once. Built once,
kept while their build input is unchanged (a label carries its hash).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

DOCKER = '/usr/bin/docker'
COMPOSE = 'docker-compose'
BASE = 'ops-rollback-lab:latest'
REPO = 'ops-rollback-compose-app'

APP = r'''
import http.server
import os
import signal
import sys
import urllib.request

VERSION = open('/VERSION').read().strip()
MODE = os.environ.get('APP_BROKEN', '')

if sys.argv[1:] == ['health']:
    if MODE == 'health':
        print('health check failed: {0} answers 500 on /health'.format(VERSION))
        sys.exit(1)
    urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)
    sys.exit(0)
if MODE == 'exit':
    print('{0}: cannot start, no configuration'.format(VERSION), file=sys.stderr)
    sys.exit(3)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = VERSION.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
http.server.ThreadingHTTPServer(('0.0.0.0', 8080), Handler).serve_forever()
'''

DOCKERFILE = '''FROM {base}
ARG VERSION
ARG BROKEN=
ARG INPUT
LABEL ops-rollback-test.input=$INPUT
ENV APP_BROKEN=$BROKEN
RUN printf '%s\\n' "$VERSION" > /VERSION
COPY app.py /app.py
HEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD ["python3", "/app.py", "health"]
CMD ["python3", "/app.py"]
'''

#: tag -> (the version it serves, broken mode)
IMAGES = {'v1': ('v1', ''), 'v2': ('v2', ''), 'v3-broken': ('v3-broken', 'health'), 'v4-exits': ('v4-exits', 'exit')}


def docker(*args, check=True):
    proc = subprocess.run([DOCKER] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError('docker {0} failed: {1}'.format(' '.join(args), proc.stderr))
    return proc.stdout.strip()


def image_id(ref):
    return docker('image', 'inspect', '--format', '{{.Id}}', ref)


def build(tag, served=None, broken='', force=False):
    """Build REPO:tag serving ``served`` (default: the tag's own version); cached by its input."""
    served = served or IMAGES[tag][0]
    text = DOCKERFILE.format(base=BASE) + APP
    base_id = image_id(BASE)
    digest = hashlib.sha256('{0}\n{1}\n{2}\n{3}'.format(text, base_id, served, broken).encode()).hexdigest()[:16]
    ref = '{0}:{1}'.format(REPO, tag)
    if not force:
        label = docker('image', 'inspect', '--format', '{{index .Config.Labels "ops-rollback-test.input"}}', ref,
                       check=False)
        if label == digest:
            return image_id(ref)
    with tempfile.TemporaryDirectory() as context:
        with open(os.path.join(context, 'Dockerfile'), 'w') as handle:
            handle.write(DOCKERFILE.format(base=BASE))
        with open(os.path.join(context, 'app.py'), 'w') as handle:
            handle.write(APP)
        docker('build', '-q', '--build-arg', 'VERSION=' + served, '--build-arg', 'BROKEN=' + broken,
               '--build-arg', 'INPUT=' + digest, '-t', ref, context)
    return image_id(ref)


def build_all():
    return dict((tag, build(tag, served, broken)) for tag, (served, broken) in IMAGES.items())


def compose(project, *args, check=True):
    argv = [COMPOSE, '-p', project.name, '--project-directory', project.src]
    for path in project.files:
        argv += ['-f', path]
    argv += list(args)
    proc = subprocess.run(argv, cwd=project.src, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError('{0} failed: {1}'.format(' '.join(argv), proc.stderr))
    return proc


class Project:
    """A compose project in a temporary directory, its services publishing 8080 on 127.0.0.1:<port>."""

    def __init__(self, root, name, ports, image='{repo}:${{APP_VERSION}}', env=None, extra='', service_lines=()):
        self.src = os.path.join(root, name)
        os.makedirs(self.src)
        self.name = name
        self.ports = ports
        self.files = [os.path.join(self.src, 'docker-compose.yml')]
        lines = ['version: "2.4"', 'services:']
        for service, port in sorted(ports.items()):
            lines += ['  {0}:'.format(service),
                      '    image: {0}'.format(image.format(repo=REPO, service=service.upper())),
                      '    ports: ["127.0.0.1:{0}:8080"]'.format(port)] + ['    ' + line for line in service_lines]
        with open(self.files[0], 'w') as handle:
            handle.write('\n'.join(lines) + '\n' + extra)
        self.write_env(env or {})

    def write_env(self, env):
        with open(os.path.join(self.src, '.env'), 'w') as handle:
            handle.write(''.join('{0}={1}\n'.format(k, v) for k, v in sorted(env.items())))

    def read(self, name):
        try:
            with open(os.path.join(self.src, name)) as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def up(self, *args, with_override=True):
        files = list(self.files)
        override = os.path.join(self.src, 'docker-compose.ops-rollback.yml')
        if with_override and os.path.exists(override):
            files.append(override)
        argv = ['up', '-d'] + list(args)
        saved, self.files = self.files, files
        try:
            compose(self, *argv)
        finally:
            self.files = saved

    def wait_healthy(self, service, deadline=120):
        """Until the service's container is healthy (setup, not an assertion)."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            state = self.state(service)
            if state and (state.get('Health') or {}).get('Status') == 'healthy':
                return
            time.sleep(0.3)
        raise AssertionError('{0} of {1} never became healthy: {2}'.format(service, self.name, self.state(service)))

    def containers(self, service):
        ids = docker('ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=' + self.name,
                     '--filter', 'label=com.docker.compose.service=' + service).split()
        return json.loads(docker('inspect', *ids)) if ids else []

    def state(self, service):
        found = self.containers(service)
        return found[0]['State'] if found else None

    def running_image(self, service):
        return [c['Image'] for c in self.containers(service)]

    def served(self, service):
        url = 'http://127.0.0.1:{0}/'.format(self.ports[service])
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()

    def down(self):
        files = list(self.files)
        override = os.path.join(self.src, 'docker-compose.ops-rollback.yml')
        if os.path.exists(override):
            files.append(override)
        saved, self.files = self.files, files
        try:
            compose(self, 'down', '-t', '1', '--remove-orphans', check=False)
        finally:
            self.files = saved

    def remove(self):
        if not os.path.isdir(self.src):
            return
        self.down()
        shutil.rmtree(self.src, ignore_errors=True)
