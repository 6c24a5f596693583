# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback playbook's traffic steps on the lab: each host drained from the lab's HAProxy (lablb)
before its switch and made ready once its gate passed, under a keep-alive GET and POST load, with
not one request lost.

The bad version here is v1.3.0 as a *healthy but wrong* build (it passes its health checks, so HAProxy
sends it traffic): the lab's broken build answers every third request with 500 by design and fails its
health check, so HAProxy would have taken it out before the rollback began and every failure it served
would be the build's own. Here every request of the whole run counts, from before the first drain to
after the last host is back.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from loadgen import LoadGenerator

DOCKER = '/usr/bin/docker'
LB = 'ops-rollback-lab-lb'
HAPROXY_URL = 'http://127.0.0.1:8180'
LOAD_BALANCER = {'host': 'lablb', 'backend': 'haproxy', 'socket': '/run/haproxy/admin.sock', 'pool': 'demo',
                 'drain_timeout': 30, 'ready_timeout': 30}
# The runtime API over the admin socket, from inside the load balancer host, as an operator would ask.
API = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect('/run/haproxy/admin.sock')
s.sendall(sys.argv[1].encode() + b'\\n')
data = b''
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""
SRV_ADMIN_MAINT, SRV_ADMIN_DRAIN = 0x01 | 0x02 | 0x04 | 0x20, 0x08 | 0x10


def haproxy(command):
    return subprocess.run([DOCKER, 'exec', LB, 'python3', '-c', API, command], check=True, capture_output=True,
                          text=True, timeout=10).stdout


def servers():
    """``{server: (op_state, admin_state)}`` of backend demo, from ``show servers state`` (2 = UP, 0 = ready)."""
    lines = haproxy('show servers state demo').splitlines()
    header = next(line for line in lines if line.startswith('# be_id')).lstrip('# ').split()
    found = {}
    for line in lines:
        fields = line.split()
        if line.startswith('#') or len(fields) < len(header):
            continue
        row = dict(zip(header, fields))
        found[row['srv_name']] = (int(row['srv_op_state']), int(row['srv_admin_state']))
    return found


def until(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError('{0} after {1} s: {2}'.format(what, timeout, servers()))


class StateWatch(threading.Thread):
    """Polls HAProxy's server states while the rollback runs: which servers were ever drained or in maint."""

    def __init__(self):
        super().__init__(daemon=True)
        self.taken_out = set()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for name, (_op, admin) in servers().items():
                if admin & (SRV_ADMIN_MAINT | SRV_ADMIN_DRAIN):
                    self.taken_out.add(name)
            time.sleep(0.2)

    def stop(self):
        self.stopping.set()
        self.join(15)


@pytest.fixture
def wrong_fleet(broken_fleet):
    """Every host on v1.3.0 as a healthy build (the release the ledger never marked good), all servers of
    HAProxy's backend demo ready and UP."""
    lab = broken_fleet
    for host in lab.names:
        lab.exec(host, 'rm', '-f', '/srv/demo/releases/v1.3.0/BROKEN')
        lab.exec(host, '/usr/local/bin/demo-restart')
        haproxy('set server demo/{0} state ready'.format(host))
    until(lambda: all(state == (2, 0) for state in servers().values()), 'HAProxy does not report every server UP')
    assert set(lab.served_all().values()) == {'v1.3.0'}
    return lab


def test_a_drained_rolling_rollback_under_load_loses_no_request(wrong_fleet):
    lab = wrong_fleet
    # The plan first: it shows each host's drain and leaves HAProxy and the hosts as they are.
    _rc, plan = lab.rollback('--check', '-e', 'rollback_serial=1',
                             '-e', json.dumps({'rollback_load_balancer': LOAD_BALANCER}))
    for host in lab.names:
        assert "Drain this host's server: demo/{0}".format(host) in plan
    assert 'haproxy on lablb: drain server demo/lab1' in plan
    assert servers() == dict((host, (2, 0)) for host in lab.names)
    assert set(lab.served_all().values()) == {'v1.3.0'}

    watch = StateWatch()
    load = LoadGenerator(HAPROXY_URL, clients=4).start()
    try:
        load.wait_for(100)
        watch.start()
        _rc, output = lab.rollback('-e', 'rollback_serial=1',
                                   '-e', json.dumps({'rollback_load_balancer': LOAD_BALANCER}))
        watch.stop()
        ended = len(load.snapshot())
        load.wait_for(100)
    finally:
        load.stop()
        watch.stop()

    summary = load.summary()
    assert not load.non_2xx(), 'non-2xx answers during the rollback: {0}'.format(summary)
    assert not load.transport_errors(), 'transport errors during the rollback: {0}'.format(summary)
    assert lab.served_all() == dict((host, 'v1.2.9') for host in lab.names)

    # The switch happened under the load: it began on v1.3.0 and ended on v1.2.9, nothing else served,
    # and once the run ended every answer came from v1.2.9.
    order = load.served_by()
    assert order[0] == 'v1.3.0' and order[-1] == 'v1.2.9' and set(order) == {'v1.3.0', 'v1.2.9'}, summary
    assert set(r.served_by for r in load.snapshot()[ended:]) == {'v1.2.9'}

    # Each host was taken out of the pool (drain, then maint) and is back, ready and UP.
    assert watch.taken_out == set(lab.names)
    assert servers() == dict((host, (2, 0)) for host in lab.names)
    assert 'haproxy on lablb: drain server demo/lab1' in output

    # Run again: every host runs the target already, so none leaves the pool.
    watch = StateWatch()
    watch.start()
    try:
        lab.rollback('-e', 'rollback_serial=1', '-e', json.dumps({'rollback_load_balancer': LOAD_BALANCER}))
    finally:
        watch.stop()
    assert watch.taken_out == set() and servers() == dict((host, (2, 0)) for host in lab.names)


def test_a_host_that_fails_its_switch_stays_out_of_the_pool_and_the_run_says_so(wrong_fleet):
    lab = wrong_fleet
    # v1.2.9 of lab2 fails its health check after the switch: the platform's gate stops the host.
    lab.exec('lab2', 'sh', '-c', 'echo broken >/srv/demo/releases/v1.2.9/BROKEN')
    _rc, output = lab.rollback('-e', 'rollback_serial=1', '-e', 'rollback_health_retries=2', '-e', 'rollback_health_delay=0.5',
                               '-e', json.dumps({'rollback_load_balancer': LOAD_BALANCER}), expect_rc=2)
    assert 'it stays out of the load balancer pool (haproxy on lablb: demo/lab2)' in output
    state = servers()
    assert state['lab1'][1] == 0, 'lab1 passed, so it is back in the pool'
    assert state['lab2'][1] & SRV_ADMIN_MAINT, 'lab2 failed, so it stays in maint'
    assert state['lab3'][1] == 0 and lab.served('lab3') == 'v1.3.0', 'the run stopped before lab3'
    # UP is HAProxy's own health check (inter 1s): on a busy machine a check may time out and mark a
    # healthy server down for a moment, so the two in the pool are waited for, not read once.
    until(lambda: all(servers()[host] == (2, 0) for host in ('lab1', 'lab3')), 'lab1 and lab3 are not UP')


def test_a_load_balancer_missing_from_the_inventory_is_refused_before_anything_changes(wrong_fleet):
    lab = wrong_fleet
    _rc, output = lab.rollback('-e', json.dumps({'rollback_load_balancer': dict(LOAD_BALANCER, host='lb-typo')}),
                               expect_rc=2)
    assert 'rollback_load_balancer host lb-typo is not a host of the inventory' in output
    assert 'Nothing was changed.' in output
    assert set(lab.served_all().values()) == {'v1.3.0'} and not lab.locked()
    assert servers() == dict((host, (2, 0)) for host in lab.names)


# --- metric gates: phase verify on a real Prometheus scraping the lab's hosts ----------------------------------

ERROR_RATIO = ('sum(rate(demo_http_requests_total{code=~"5.."}[5s])) / sum(rate(demo_http_requests_total[5s]))')


@pytest.fixture
def prometheus(tmp_path, lab):
    """scripts/prometheus.sh on a free port in the test's temp dir, scraping the lab's three apps every second."""
    from metrics_support import Prometheus
    server = Prometheus(str(tmp_path), [lab.hosts[host]['lab_http_url'].split('//')[1] for host in lab.names])
    yield server
    server.down()


@pytest.fixture
def busy_broken_fleet(broken_fleet, prometheus):
    """The broken fleet (every third answer 500) with a client on each host, and Prometheus holding its rates."""
    lab = broken_fleet
    loads = [LoadGenerator(lab.hosts[host]['lab_http_url'], clients=1, pause=0.02).start() for host in lab.names]
    until(lambda: prometheus.query(ERROR_RATIO) and float(prometheus.query(ERROR_RATIO)[0]['value'][1]) > 0.2,
          'Prometheus does not see the broken fleet\'s errors')
    yield lab
    for load in loads:
        load.stop()


def gate(prometheus, checks, **analysis):
    return json.dumps({'rollback_metrics': dict({'prometheus_url': prometheus.url, 'checks': checks, 'count': 2,
                                                 'interval': 1}, **analysis)})


def report(lab, incident):
    with open('{0}/reports/{1}.json'.format(lab.timeline_dir, incident)) as handle:
        return json.load(handle)


def test_the_metric_gate_passes_after_the_rollback_and_the_report_shows_the_values_before_and_after(
        busy_broken_fleet, prometheus):
    lab = busy_broken_fleet
    lab.forget_verdicts()   # so that the ledger shows what this run recorded
    lab.rollback('-e', 'incident_id=INC-metrics-pass', '-e', 'rollback_serial=3',
                 '-e', gate(prometheus, [{'name': 'error_ratio', 'query': ERROR_RATIO, 'max': 0.05}]))
    [check] = [c for c in report(lab, 'INC-metrics-pass')['services']['demo']['checks'] if c['name'].startswith('metrics')]
    assert check['name'] == 'metrics error_ratio' and check['passed'] is True
    assert check['before'] > 0.2, 'before: the broken v1.3.0 answered every third request with 500'
    assert check['after'] == 0, 'after: v1.2.9 answers every request'
    assert lab.rollback_verdicts('lab1') == [('v1.3.0', 'bad'), ('v1.2.9', 'good')]


def test_a_gate_without_data_never_passes_it_stops_the_run_saying_why_and_nothing_is_recorded_good(
        busy_broken_fleet, prometheus):
    lab = busy_broken_fleet
    lab.forget_verdicts()   # so that the ledger shows what this run recorded
    missing = 'sum(rate(demo_http_requests_total{path="/no-such-path"}[5s]))'
    _rc, output = lab.rollback('-e', 'rollback_serial=3', '-e', gate(prometheus, [
        {'name': 'error_ratio', 'query': ERROR_RATIO, 'max': 0.05},
        {'name': 'checkout_rate', 'query': missing, 'min': 1}], count=1), expect_rc=2)
    assert 'demo: Metrics check Inconclusive' in output
    assert 'checkout_rate' in output
    assert lab.served_all() == dict((host, 'v1.2.9') for host in lab.names)
    # Each host recorded the version it left as bad when it switched; the unverified target is not good.
    assert lab.rollback_verdicts('lab1') == [('v1.3.0', 'bad')]


# --- maintenance mode: phases prepare_traffic and restore_traffic on the lab's nginx --------------------------

NGINX_URL = 'http://127.0.0.1:8190'


def status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


class StatusWatch(threading.Thread):
    """What the lab's nginx answered while the rollback ran: ``(status, Retry-After, body)`` per poll."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.seen = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as answer:
                    self.seen.append((answer.status, answer.headers.get('Retry-After'), ''))
            except urllib.error.HTTPError as err:
                self.seen.append((err.code, err.headers.get('Retry-After'), err.read().decode()))
            except OSError as err:
                self.seen.append((None, None, str(err)))
            time.sleep(0.1)

    def stop(self):
        self.stopping.set()
        self.join(15)


def test_maintenance_mode_is_on_while_the_service_rolls_back_and_off_once_it_is_verified(wrong_fleet):
    lab = wrong_fleet
    watch = StatusWatch(NGINX_URL + '/version')
    watch.start()
    try:
        _rc, output = lab.rollback('-e', 'rollback_serial=3', '-e', json.dumps({'rollback_maintenance': {
            'host': 'lablb', 'retry_after': 120, 'pass_paths': ['/health']}}))
    finally:
        watch.stop()
    statuses = [seen[0] for seen in watch.seen]
    # Served, then the maintenance page (503, Retry-After, the page) while the service rolled back, then served.
    assert statuses[0] == 200 and statuses[-1] == 200, statuses
    pages = [seen for seen in watch.seen if seen[0] == 503]
    assert pages and all(retry == '120' and 'demo is down for maintenance' in page for _s, retry, page in pages)
    first, last = statuses.index(503), len(statuses) - 1 - statuses[::-1].index(503)
    assert set(statuses[first:last + 1]) == {503} and set(statuses[:first] + statuses[last + 1:]) == {200}, statuses
    assert 'phase restore_traffic skipped' not in output
    assert lab.served_all() == dict((host, 'v1.2.9') for host in lab.names)
    assert subprocess.run([DOCKER, 'exec', LB, 'ls', '/etc/nginx/ops-rollback/maintenance'], capture_output=True,
                          text=True, check=True).stdout == ''


def test_a_rollback_that_stops_keeps_the_maintenance_page_up_and_says_where_it_is(wrong_fleet):
    lab = wrong_fleet
    page = '/etc/nginx/ops-rollback/maintenance/demo.conf'
    maintenance = json.dumps({'rollback_maintenance': {'host': 'lablb'}})
    # v1.2.9 of lab1 fails its health check: the service is not verified, so the page must not go off.
    lab.exec('lab1', 'sh', '-c', 'echo broken >/srv/demo/releases/v1.2.9/BROKEN')
    try:
        _rc, output = lab.rollback('-e', 'rollback_health_retries=2', '-e', 'rollback_health_delay=0.5',
                                   '-e', maintenance, expect_rc=2)
        assert ('Customers still get the maintenance page of demo (nginx on lablb: remove {0} and reload nginx once '
                'the service serves, or run the rollback again)').format(page) in output
        assert status(NGINX_URL + '/version') == 503
        # lab1 stays on v1.2.9, unhealthy: once its release is fixed and its app restarted, the same command
        # finishes the rollback and takes the page down.
        lab.exec('lab1', 'rm', '/srv/demo/releases/v1.2.9/BROKEN')
        lab.exec('lab1', '/usr/local/bin/demo-restart')
        _rc, output = lab.rollback('-e', maintenance)
        assert 'Customers still get' not in output
        assert status(NGINX_URL + '/version') == 200
        assert lab.served_all() == dict((host, 'v1.2.9') for host in lab.names)
    finally:
        # The next tests need the lab's nginx serving, whatever happened here.
        subprocess.run([DOCKER, 'exec', LB, 'sh', '-c', 'rm -f {0} && nginx -s reload'.format(page)], check=True)


# --- nginx: the hosts of a batch go down in one write of the upstream ------------------------------------------

NGINX_LB = {'host': 'lablb', 'backend': 'nginx', 'upstream_file': '/etc/nginx/ops-rollback/upstreams/demo.conf',
            'upstream': 'demo', 'servers': [{'address': 'ops-rollback-lab-{0}:8000'.format(i)} for i in (1, 2, 3)],
            'address': "ops-rollback-lab-{{ inventory_hostname[3:] }}:8000"}


def upstream_file():
    return subprocess.run([DOCKER, 'exec', LB, 'cat', NGINX_LB['upstream_file']], capture_output=True, text=True,
                          check=True).stdout


def test_behind_nginx_each_batch_goes_down_in_one_write_and_no_request_is_lost(wrong_fleet):
    lab = wrong_fleet
    # Each write reloads nginx, whose old workers close their idle keep-alive connections (HTTP allows a server
    # to at any time): clients as browsers are (browser=True), which do not reuse a connection the server closed
    # while idle.
    load = LoadGenerator(NGINX_URL, clients=4, browser=True).start()
    try:
        load.wait_for(100)
        _rc, output = lab.rollback('-e', '{"rollback_serial": [1, 2]}',
                                   '-e', json.dumps({'rollback_load_balancer': NGINX_LB}))
        ended = len(load.snapshot())
        load.wait_for(100)
    finally:
        load.stop()
    summary = load.summary()
    assert not load.non_2xx(), 'non-2xx answers during the rollback: {0}'.format(summary)
    assert not load.transport_errors(), 'transport errors during the rollback: {0}'.format(summary)
    assert lab.served_all() == dict((host, 'v1.2.9') for host in lab.names)
    order = load.served_by()
    assert order[0] == 'v1.3.0' and order[-1] == 'v1.2.9' and set(order) == {'v1.3.0', 'v1.2.9'}, summary
    assert set(r.served_by for r in load.snapshot()[ended:]) == {'v1.2.9'}
    # One write per batch and direction: lab1 alone, then lab2 and lab3 together.
    for hosts in ('lab1', 'lab2, lab3'):
        assert output.count('lablb upstream demo: {0} down'.format(hosts)) == 1, output[-4000:]
        assert output.count('lablb upstream demo: {0} up'.format(hosts)) == 1
    # Every server is back in the upstream nginx loads.
    text = upstream_file()
    assert all('ops-rollback-lab-{0}:8000'.format(i) in text for i in (1, 2, 3)) and 'down' not in text, text


def test_a_batch_write_nginx_refuses_stops_its_hosts_before_they_switch(wrong_fleet):
    lab = wrong_fleet
    before = upstream_file()
    # A main config nginx cannot load: lb_switch refuses the write, nothing is written or reloaded.
    _rc, output = lab.rollback('-e', 'rollback_serial=1', '-e', json.dumps({'rollback_load_balancer': dict(
        NGINX_LB, nginx_config='/etc/nginx/no-such-nginx.conf')}), expect_rc=2)
    assert 'nginx on lablb could not mark ops-rollback-lab-1:8000 down in upstream demo' in output
    assert 'so this host was not switched' in output and 'stays out of the load balancer pool' not in output
    assert set(lab.served_all().values()) == {'v1.3.0'}
    assert upstream_file() == before
