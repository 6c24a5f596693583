# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab for integration tests: real Debian hosts (containers) reached over
SSH, a real demo app, the real rollback playbook run as a user runs it.

Needs `scripts/setup.sh` and a Docker engine; `scripts/test.sh` does both.
"""
from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
DOCKER = '/usr/bin/docker'
INVENTORY = os.path.join(REPO, 'inventory', 'lab', 'hosts.yml')
SNAPSHOT = '/root/broken-fleet.tgz'
# The ECS lab's code (lab/aws: the ECS scheduler moto lacks, the lab's status view), for the ecs fixture and
# the ECS tests; the lab process of scripts/aws-lab.sh runs the same modules.
sys.path.insert(0, os.path.join(REPO, 'lab', 'aws'))


class Lab:
    """The lab's hosts, and what a user can observe of them from outside."""

    def __init__(self, size, timeline_dir):
        self.size = size
        self.timeline_dir = timeline_dir
        with open(INVENTORY) as handle:
            inventory = yaml.safe_load(handle)
        self.hosts = inventory['all']['children']['demo']['hosts']
        self.names = sorted(self.hosts)
        self.runs = 0
        self.last_timeline = None

    def env(self):
        self.runs += 1
        self.last_timeline = os.path.join(self.timeline_dir, 'run-{0}.jsonl'.format(self.runs))
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_FORCE_COLOR='0', OPS_ROLLBACK_TIMELINE=self.last_timeline,
                   OPS_ROLLBACK_REPORT_DIR=os.path.join(self.timeline_dir, 'reports'))
        env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
        return env

    def run(self, *args, playbook='ops.rollback.rollback', expect_rc=0, on_line=None):
        """Run a playbook as a user would; returns (rc, output)."""
        command = [os.path.join(BIN, 'ansible-playbook'), playbook] + list(args)
        proc = subprocess.Popen(command, cwd=REPO, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if on_line:
                on_line(line)
        rc = proc.wait()
        output = ''.join(lines)
        if expect_rc is not None:
            assert rc == expect_rc, 'ansible-playbook {0} exited {1}:\n{2}'.format(' '.join(args), rc, output[-6000:])
        return rc, output

    def rollback(self, *args, **kwargs):
        return self.run('-e', 'service=demo', *args, **kwargs)

    def deploy(self, version, broken=False):
        extra = ['-e', 'version=' + version] + (['-e', 'broken=true'] if broken else [])
        self.run(*extra, playbook=os.path.join(REPO, 'lab', 'deploy.yml'))

    def reset(self):
        """Remove every release, the ledger and the running app from every host."""
        for name in self.names:
            self.exec(name, 'sh', '-c', 'pkill -f "[/]srv/demo/" ; rm -rf /srv/demo; true')

    def revive(self, host):
        """Start a stopped host again and its app, as an operator would after an outage."""
        subprocess.run([DOCKER, 'start', self.container(host)], check=True, capture_output=True)
        subprocess.run(['bash', os.path.join(REPO, 'scripts', 'lab.sh'), 'up', str(self.size)], check=True)
        self.exec(host, '/usr/local/bin/demo-restart')

    def container(self, host):
        return 'ops-rollback-lab-' + host[len('lab'):]

    def exec(self, host, *argv):
        return subprocess.run([DOCKER, 'exec', self.container(host)] + list(argv), check=True,
                              capture_output=True, text=True).stdout

    def served(self, host):
        """The version the host's app actually serves, asked over HTTP from the controller.

        A broken build answers every third request with 500, /version included,
        so up to three tries always reach an answer.
        """
        url = self.hosts[host]['lab_http_url'] + '/version'
        error = None
        for _attempt in range(3):
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    return json.load(answer)['version']
            except urllib.error.HTTPError as exc:
                error = exc
            except OSError as exc:
                return 'unreachable: {0}'.format(exc)
        return 'failing: {0}'.format(error)

    def served_all(self):
        return dict((host, self.served(host)) for host in self.names)

    def current(self, host):
        return os.path.basename(self.exec(host, 'readlink', '/srv/demo/current').strip())

    def ledger_entries(self, host):
        try:
            text = self.exec(host, 'cat', '/srv/demo/rollback-ledger.json')
        except subprocess.CalledProcessError:
            return []
        return json.loads(text)['entries']

    def ledger(self, host):
        """``{version: newest verdict}`` of the host's release ledger."""
        return dict((e['version'], e['state']) for e in self.ledger_entries(host))

    def forget_verdicts(self):
        """Empty every host's release ledger, as on a fleet whose pipeline never recorded a verdict."""
        for host in self.names:
            self.exec(host, 'rm', '-f', '/srv/demo/rollback-ledger.json')

    def rollback_verdicts(self, host):
        """The ``(version, state)`` verdicts a rollback run wrote in the host's ledger, oldest first."""
        return [(e['version'], e['state']) for e in self.ledger_entries(host) if e['note'].startswith('ops.rollback:')]

    def locks(self):
        """``{host: owner}`` of every rollback lock file on the lab's hosts."""
        found = {}
        for host in self.names:
            text = subprocess.run([DOCKER, 'exec', self.container(host), 'cat', '/srv/demo/.ops-rollback.lock'],
                                  capture_output=True, text=True, check=False).stdout
            if text:
                try:
                    found[host] = json.loads(text).get('owner')
                except ValueError:
                    found[host] = '(unreadable)'
        return found

    def locked(self):
        """Whether any host of the lab holds a rollback lock file."""
        return bool(self.locks())

    def timeline(self):
        """The JSON lines the timeline callback wrote for the last run."""
        with open(self.last_timeline) as handle:
            return [json.loads(line) for line in handle]


@pytest.fixture(scope='session')
def lab(tmp_path_factory):
    subprocess.run(['bash', os.path.join(REPO, 'scripts', 'lab.sh'), 'up', '3'], check=True)
    return Lab(3, str(tmp_path_factory.mktemp('timelines')))


@pytest.fixture(scope='session')
def broken_fleet_snapshot(lab):
    """Deployed once: v1.2.8 and v1.2.9 verified good, then the broken v1.3.0 landed."""
    lab.reset()
    lab.deploy('v1.2.8')
    lab.deploy('v1.2.9')
    lab.deploy('v1.3.0', broken=True)
    for host in lab.names:
        lab.exec(host, 'tar', '-C', '/srv', '-czf', SNAPSHOT, 'demo')
    return lab


@pytest.fixture
def broken_fleet(broken_fleet_snapshot):
    """Every host back to the snapshot, its app restarted, serving the broken v1.3.0."""
    lab = broken_fleet_snapshot
    lab.reset()
    for host in lab.names:
        lab.exec(host, 'tar', '-C', '/srv', '-xzf', SNAPSHOT)
        lab.exec(host, '/usr/local/bin/demo-restart')
    assert set(lab.served_all().values()) == {'v1.3.0'}
    return lab


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook endpoint that keeps every JSON body it is sent."""

    def __init__(self):
        self.bodies = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length) or b'null'))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'ok')

            def log_message(self, *args):
                pass

        super().__init__(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:{0}/hooks/s3cr3t-t0ken-value'.format(self.server_address[1])


@pytest.fixture
def webhook_receiver():
    """A real HTTP server on 127.0.0.1 that receives notifications; its URL carries a secret-looking path."""
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


class Ansible:
    """ansible-playbook and ansible run as a user runs them, from the repository, on an inventory written to the
    test's tmp_path; each run writes its timeline to a file of its own."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.inventory = str(tmp_path / 'hosts.yml')
        self.runs = 0
        self.last_timeline = None

    def write_inventory(self, inventory):
        with open(self.inventory, 'w') as handle:
            yaml.safe_dump(inventory, handle, default_flow_style=False, sort_keys=False)

    def run(self, program, *args, expect_rc=0):
        """``<program> -i <inventory> <args>``; its output (stdout and stderr)."""
        self.runs += 1
        self.last_timeline = str(self.tmp_path / 'timeline-{0}.jsonl'.format(self.runs))
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_FORCE_COLOR='0', OPS_ROLLBACK_TIMELINE=self.last_timeline,
                   OPS_ROLLBACK_REPORT_DIR=os.path.dirname(self.last_timeline))
        env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
        proc = subprocess.run([os.path.join(BIN, program), '-i', self.inventory] + list(args), cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        assert proc.returncode == expect_rc, '{0} {1} exited {2}:\n{3}'.format(
            program, ' '.join(args), proc.returncode, proc.stdout[-8000:])
        return proc.stdout

    def rollback(self, service, *args, expect_rc=0):
        """``ansible-playbook ops.rollback.rollback -i <inventory> -e service=<service> <args>``; its output."""
        return self.run('ansible-playbook', 'ops.rollback.rollback', '-e', 'service=' + service, *args,
                        expect_rc=expect_rc)

    def timeline(self):
        """The events of the last run's timeline."""
        with open(self.last_timeline) as handle:
            return [json.loads(line) for line in handle]

    @staticmethod
    def recap_changed(output, host):
        """changed=N of ``host`` in the output's play recap."""
        return int(re.search(r'^{0}\s*:.*?changed=(\d+)'.format(re.escape(host)), output, re.M).group(1))


@pytest.fixture
def ansible(tmp_path):
    """ansible-playbook and ansible run as a user runs them, on an inventory written to the test's tmp_path."""
    return Ansible(tmp_path)


class MotoServer:
    """moto in server mode on loopback: boto3 reaches the AWS APIs over real HTTP (``endpoint_url``)."""

    REGION = 'eu-west-1'

    def __init__(self, server):
        host, port = server.get_host_and_port()
        self.url = 'http://{0}:{1}'.format(host, port)

    def params(self):
        """The connection options of an ops.rollback AWS module (fake keys: moto accepts any)."""
        return dict(region=self.REGION, endpoint_url=self.url, access_key='testing', secret_key='testing-secret')

    def client(self, service):
        import boto3
        return boto3.client(service, endpoint_url=self.url, region_name=self.REGION,
                            aws_access_key_id='testing', aws_secret_access_key='testing-secret')

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + '/moto-api/reset', method='POST'), timeout=10).read()


@pytest.fixture(scope='session')
def moto_session():
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
    server.start()
    yield MotoServer(server)
    server.stop()


@pytest.fixture
def moto(moto_session):
    """A moto server with no AWS resources in it."""
    moto_session.reset()
    return moto_session


@pytest.fixture
def ecs(moto):
    """moto's ECS with a deployment scheduler: rolling updates, failing tasks, the circuit breaker.

    See lab/aws/ecs_simulator.py (which the ECS lab, scripts/aws-lab.sh, runs too); stopped and moto
    restored at teardown.
    """
    from ecs_simulator import EcsSimulator
    with EcsSimulator(moto) as simulator:
        yield simulator
