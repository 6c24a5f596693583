# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blue-green on hosts: the rollback playbook moves the lab load balancer's nginx from green (lab2, v1.3.0) back
to blue (lab1, v1.2.9), at once or step by step behind a gate, while a keep-alive load generator sends its
requests through that nginx.

The service has its own upstream and listener on lablb (upstream bgtest in its own file, a server block on port
8391, reached at the container's address), so the lab's demo upstream and other tests' traffic are left alone.
Run under ``flock /tmp/ops-lab.lock``: the lab is shared.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request

import pytest
import yaml

from ansible_collections.ops.rollback.plugins.module_utils.traffic.nginx import parse_upstream_file
from ansible_collections.ops.rollback.plugins.module_utils.traffic.pools import traffic_shares
from loadgen import LoadGenerator
from metrics_support import Prometheus, error_ratio, until

DOCKER = '/usr/bin/docker'
INVENTORY = os.path.join(os.path.dirname(__file__), '..', '..', 'inventory', 'lab', 'hosts.yml')

LB = 'ops-rollback-lab-lb'
UPSTREAM = 'bgtest'
UPSTREAM_FILE = '/etc/nginx/ops-rollback/upstreams/bgtest.conf'
LISTENER_FILE = '/etc/nginx/ops-rollback/upstreams/bgtest-listener.conf'
PORT = 8391
STATE_DIR = '/var/lib/ops-rollback/bgtest'
BLUE, GREEN = 'ops-rollback-lab-1:8000', 'ops-rollback-lab-2:8000'
COLORS = {'blue': [BLUE], 'green': [GREEN]}
LISTENER = """# The blue-green test's own listener (tests/integration/test_blue_green_hosts.py).
server {
    listen %d;
    location / {
        proxy_pass http://%s;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_next_upstream error timeout;
    }
}
""" % (PORT, UPSTREAM)


def lb_exec(*argv, check=True):
    return subprocess.run([DOCKER, 'exec', LB] + list(argv), check=check, capture_output=True, text=True).stdout


def lb_write(path, text):
    subprocess.run([DOCKER, 'exec', '-i', LB, 'sh', '-c', 'cat > "$1"', 'sh', path], input=text, text=True,
                   check=True, capture_output=True)


def shares():
    """The share of each color in the upstream file nginx loads on lablb."""
    servers = parse_upstream_file(lb_exec('cat', UPSTREAM_FILE), UPSTREAM)[0]
    return traffic_shares(servers, COLORS)


def ledger():
    text = lb_exec('cat', STATE_DIR + '/rollback-ledger.json', check=False)
    return dict((e['version'], e['state']) for e in json.loads(text)['entries']) if text else {}


class BlueGreen:
    """The blue-green service on the lab: its inventory, and what a user sees of it."""

    def __init__(self, lab, ansible):
        self.lab, self.ansible = lab, ansible
        lb_ip = subprocess.run([DOCKER, 'inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
                                LB], check=True, capture_output=True, text=True).stdout.strip()
        self.url = 'http://{0}:{1}'.format(lb_ip, PORT)
        with open(INVENTORY) as handle:
            lablb = yaml.safe_load(handle)['all']['children']['lb']['hosts']['lablb']
        self.host = dict((key, value) for key, value in lablb.items() if key.startswith('ansible_'))
        self.host.update(
            rollback_platform='blue_green',
            rollback_service='bgtest',
            blue_green_pools=COLORS,
            blue_green_upstream_file=UPSTREAM_FILE,
            blue_green_upstream=UPSTREAM,
            blue_green_health_url='http://{address}/health',
            blue_green_verify_url='http://127.0.0.1:{0}/version'.format(PORT),
            blue_green_state_dir=STATE_DIR,
            rollback_health_endpoints=[{'url': 'http://127.0.0.1:{0}/health'.format(PORT), 'status': 200}],
            rollback_health_retries=5,
            rollback_health_delay=0.5,
        )

    def write_inventory(self, **settings):
        host = dict(self.host, **settings)
        self.ansible.write_inventory({'all': {'children': {'bluegreen': {'hosts': {'bglb': host}}}}})

    def rollback(self, *args, expect_rc=0):
        return self.ansible.rollback('bglb', *args, expect_rc=expect_rc)


@pytest.fixture
def blue_green(broken_fleet, ansible):
    """lab1 (blue) serves v1.2.9, lab2 (green) a healthy v1.3.0 that is wrong; lablb's upstream bgtest sends all
    traffic to green, and the service's ledger is empty."""
    lab = broken_fleet
    lab.exec('lab1', 'ln', '-sfn', '/srv/demo/releases/v1.2.9', '/srv/demo/current')
    lab.exec('lab1', '/usr/local/bin/demo-restart')
    lab.exec('lab2', 'rm', '-f', '/srv/demo/releases/v1.3.0/BROKEN')
    lab.exec('lab2', '/usr/local/bin/demo-restart')
    assert lab.served('lab1') == 'v1.2.9' and lab.served('lab2') == 'v1.3.0'
    lb_exec('rm', '-rf', STATE_DIR)
    lb_write(UPSTREAM_FILE, 'upstream %s {\n    server %s;\n    server %s down;\n}\n' % (UPSTREAM, GREEN, BLUE))
    lb_write(LISTENER_FILE, LISTENER)
    lb_exec('/usr/local/bin/lab-lb-reload', 'nginx')
    service = BlueGreen(lab, ansible)
    service.write_inventory()
    deadline = time.monotonic() + 20
    while shares()['green'] != 100 or not _answers(service.url, 'v1.3.0'):
        assert time.monotonic() < deadline, 'nginx on lablb never served green through port {0}'.format(PORT)
        time.sleep(0.2)
    yield service
    lb_exec('rm', '-f', UPSTREAM_FILE, LISTENER_FILE)
    lb_exec('rm', '-rf', STATE_DIR)
    lb_exec('/usr/local/bin/lab-lb-reload', 'nginx')


def _answers(url, version):
    try:
        with urllib.request.urlopen(url + '/version', timeout=5) as answer:
            return json.load(answer)['version'] == version
    except OSError:
        return False


def test_rollback_switches_the_load_balancer_back_to_blue_without_losing_a_request(blue_green, ansible):
    before = lb_exec('cat', UPSTREAM_FILE)
    output = blue_green.rollback('--check', '--diff')
    assert 'bgtest: v1.3.0 -> v1.2.9' in output
    assert lb_exec('cat', UPSTREAM_FILE) == before and ledger() == {}

    with LoadGenerator(blue_green.url, clients=4, browser=True) as load:
        load.wait_for(200)
        output = blue_green.rollback('-e', 'reason="v1.3.0 is wrong"')
        done = time.monotonic()
        load.wait_for(200)
    assert load.failed() == [], load.summary()
    assert load.non_2xx() == [] and load.transport_errors() == []
    # The switch happened: green served first, and blue alone once the run returned (nginx's old workers may
    # finish a request or two of the old pool while the new ones already serve blue, so not a single change).
    assert load.served_by()[0] == 'v1.3.0' and load.served_by()[-1] == 'v1.2.9', load.summary()
    after = set(r.served_by for r in load.snapshot() if r.started >= done)
    assert after == {'v1.2.9'}, load.summary()
    assert shares() == {'blue': 100.0, 'green': 0.0}
    assert 'service bgtest: target v1.2.9 (rule: release-before-current) -> done' in output
    assert ledger() == {'v1.2.9': 'good', 'v1.3.0': 'bad'}
    assert lb_exec('ls', '-A', STATE_DIR).split() == ['rollback-ledger.json', 'rollback-ledger.json.lock']

    output = blue_green.rollback()
    assert ansible.recap_changed(output, 'bglb') == 0
    assert 'service bgtest: target v1.2.9 (rule: ledger) -> done' in output
    assert shares() == {'blue': 100.0, 'green': 0.0}


def test_a_gradual_restore_moves_the_traffic_step_by_step_behind_a_passing_gate(blue_green, ansible):
    settings = dict(
        rollback_restore_steps=[10, 25, 50, 100], rollback_restore_pause=1,
        rollback_restore_health_endpoints=[{'url': 'http://{0}/health'.format(BLUE), 'status': 200},
                                           {'url': 'http://127.0.0.1:{0}/health'.format(PORT), 'status': 200}])
    # Steps that go back are refused before anything is locked or moved.
    blue_green.write_inventory(rollback_restore_steps=[50, 25, 100])
    output = blue_green.rollback(expect_rc=2)
    assert 'rollback_restore_steps, when set, whole percents from 1 to 100, ascending' in output
    assert 'it is [50, 25, 100]). Nothing was changed.' in output
    assert shares() == {'blue': 0.0, 'green': 100.0} and lb_exec('ls', '-A', STATE_DIR, check=False) == ''
    blue_green.write_inventory(**settings)
    output = blue_green.rollback('--check')
    assert 'bgtest: would move its traffic to color blue (v1.2.9) in steps of 10%, 25%, 50%, 100% from 0.0%' in output
    assert shares() == {'blue': 0.0, 'green': 100.0}
    seen = ShareWatcher()
    with seen, LoadGenerator(blue_green.url, clients=4, browser=True) as load:
        load.wait_for(200)
        output = blue_green.rollback()
        load.wait_for(200)
    assert load.failed() == [], load.summary()
    # Both colors served while the split moved; blue alone at the end.
    assert load.served_by()[0] == 'v1.3.0' and load.served_by()[-1] == 'v1.2.9'
    assert seen.blue_shares() == [0.0, 10.0, 25.0, 50.0, 100.0]
    for step in (10, 25, 50, 100):
        assert 'Set the split on the load balancer: blue {0}%'.format(step) in output
    assert 'bgtest: all traffic on color blue (v1.2.9), every gate passed' in output
    assert 'service bgtest: target v1.2.9 (rule: release-before-current) -> done' in output
    assert ledger() == {'v1.2.9': 'good', 'v1.3.0': 'bad'}

    output = blue_green.rollback()
    assert ansible.recap_changed(output, 'bglb') == 0
    assert 'phase restore_traffic skipped' in output and shares()['blue'] == 100.0


def test_a_regression_during_the_gradual_restore_holds_the_split_escalates_and_resumes_once_fixed(blue_green, ansible, webhook_receiver):
    blue_green.write_inventory(
        rollback_restore_steps=[10, 25, 50, 100], rollback_restore_pause=3,
        rollback_restore_health_endpoints=[{'url': 'http://{0}/health'.format(BLUE), 'status': 200}],
        rollback_notify_channels=[{'type': 'webhook', 'url': webhook_receiver.url, 'name': 'oncall'}])
    lab = blue_green.lab

    def break_blue():
        # The target pool turns bad once a quarter of the traffic is on it: a broken build lands on lab1.
        lab.exec('lab1', 'touch', '/srv/demo/releases/v1.2.9/BROKEN')
        lab.exec('lab1', 'sh', '-c', '/usr/local/bin/demo-restart || true')

    seen = ShareWatcher(on_share=(25.0, break_blue))
    with seen:
        output = blue_green.rollback(expect_rc=2)
    assert seen.blue_shares() == [0.0, 10.0, 25.0]
    # Held where the gate failed: not moved further, not moved back.
    assert shares() == {'blue': 25.0, 'green': 75.0}
    assert 'bgtest: traffic held at blue 25.0% / green 75.0% at step 2 of 4 (25%)' in output
    assert '"Gate the step on the health endpoints: bgtest" failed' in output
    assert 'The traffic was neither moved further nor back' in output
    escalations = [body for body in webhook_receiver.bodies if 'held at blue 25.0%' in json.dumps(body)]
    assert escalations, webhook_receiver.bodies
    assert lb_exec('ls', '-A', STATE_DIR).count('.ops-rollback.lock') == 0

    # Fixed, the same rollback again resumes from the split held.
    lab.exec('lab1', 'rm', '-f', '/srv/demo/releases/v1.2.9/BROKEN')
    lab.exec('lab1', '/usr/local/bin/demo-restart')
    resumed = ShareWatcher()
    with resumed:
        output = blue_green.rollback()
    assert resumed.blue_shares() == [25.0, 50.0, 100.0]
    assert 'Set the split on the load balancer: blue 10%' not in output
    assert 'service bgtest: target v1.2.9 (rule: ledger) -> done' in output
    assert shares() == {'blue': 100.0, 'green': 0.0}


def test_a_broken_target_is_refused_and_a_failing_metrics_gate_holds_the_split(blue_green, tmp_path):
    """Prometheus (from Debian, on the controller) scrapes lab1 and lab2; the gate is blue's 5xx ratio. Blue's
    build is broken (every third request 500, /health too). Checked on its health URL, blue is refused before any
    traffic moves; checked on its version alone, the switch starts, and its 500s under half of the load's traffic
    fail the gate after the first step."""
    lab = blue_green.lab
    lab.exec('lab1', 'touch', '/srv/demo/releases/v1.2.9/BROKEN')
    lab.exec('lab1', '/usr/local/bin/demo-restart')
    prometheus = Prometheus(str(tmp_path), [lab.hosts['lab1']['lab_http_url'].split('//')[1],
                                            lab.hosts['lab2']['lab_http_url'].split('//')[1]])
    try:
        until(lambda: prometheus.query('count_over_time(demo_http_requests_total[10s]) >= 2'), 'Prometheus scrapes')
        # Checked on its health URL first, the broken color is refused with no traffic moved.
        output = blue_green.rollback(expect_rc=2)
        assert "failed at \"Check that every server of the target's color answers it: blue\"" in output
        assert 'ops-rollback-lab-1:8000/health: status 500' in output
        assert shares() == {'blue': 0.0, 'green': 100.0}
        blue_green.write_inventory(
            blue_green_health_url='',
            rollback_restore_steps=[50, 100],
            rollback_restore_metrics={
                'prometheus_url': prometheus.url, 'interval': 1, 'count': 2, 'on_empty': 'fail',
                'checks': [{'name': 'blue_5xx_ratio', 'query': error_ratio('v1.2.9', window='5s'), 'max': 0.05}]})
        with LoadGenerator(blue_green.url, clients=4, browser=True) as load:
            load.wait_for(100)
            output = blue_green.rollback(expect_rc=2)
    finally:
        prometheus.down()
    assert 'v1.2.9' in load.served_by(), output[-5000:]
    assert shares() == {'blue': 50.0, 'green': 50.0}
    assert 'bgtest: traffic held at blue 50.0% / green 50.0% at step 1 of 2 (50%)' in output
    assert '"Gate the step on the metrics: bgtest" failed' in output and 'blue_5xx_ratio' in output


class ShareWatcher:
    """Reads blue's share in the upstream file on lablb while a run goes on; each new value is recorded.
    ``on_share``: (share, action) runs the action once when blue's share first reaches that value."""

    def __init__(self, on_share=None):
        self.seen = []
        self.on_share = on_share
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            try:
                share = shares()['blue']
            except (subprocess.CalledProcessError, TypeError, ValueError):
                share = None
            if share is not None and (not self.seen or self.seen[-1] != share):
                self.seen.append(share)
                if self.on_share and share == self.on_share[0]:
                    self.on_share[1]()
            time.sleep(0.1)

    def blue_shares(self):
        return list(self.seen)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)
