# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's load probe and scorecard against a real HTTP server on loopback.

The server decides by the order requests reach it: the first ``good_before`` answer 200, the next
``failing`` answer 500, the rest 200 again. It keeps when it received each request and what it answered,
and, once it answered ``touch_after`` requests, creates a file: the probe's stop file, or the file a
playbook waits for before it moves on. So nothing depends on how fast this machine is.
"""
from __future__ import annotations

import datetime
import http.server
import json
import re
import socket
import threading
import time

import pytest


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def ms(epoch):
    """The probe's form of a time: UTC ISO 8601, cut to milliseconds."""
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=epoch)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.') + '{0:03d}Z'.format(moment.microsecond // 1000)


class PhasedServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, good_before, failing, touch_after, touch):
        self.good_before, self.failing, self.touch_after, self.touch = good_before, failing, touch_after, touch
        self.answers = []   # (received, status), in the order received
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    number = len(server.answers)
                    status = 500 if server.good_before <= number < server.good_before + server.failing else 200
                    server.answers.append((time.time(), status))
                    if len(server.answers) == server.touch_after:
                        with open(server.touch, 'w'):
                            pass
                self.send_response(status)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:{0}/health'.format(self.server_address[1])

    def received(self, status):
        return [received for received, answered in self.answers if answered == status]


@pytest.fixture
def phased_server(tmp_path):
    servers = []

    def start(good_before, failing, touch_after, touch):
        server = PhasedServer(good_before, failing, touch_after, str(touch))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def adhoc_result(output):
    """The result of ``ansible -o`` (``localhost | SUCCESS => {...}``)."""
    match = re.search(r'^localhost \| (\w+)[^=]*=> (\{.*\})$', output, re.M)
    assert match, output[-3000:]
    return match.group(1), json.loads(match.group(2))


@pytest.fixture
def controller(ansible):
    ansible.write_inventory({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}}}})
    return ansible


def test_load_probe_counts_what_the_server_answered(controller, phased_server, tmp_path):
    stop_file = tmp_path / 'stop'
    server = phased_server(good_before=20, failing=30, touch_after=80, touch=stop_file)
    closed = 'http://127.0.0.1:{0}/health'.format(free_port())
    args = {'urls': [server.url, closed], 'rate': 50, 'stop_file': str(stop_file), 'max_seconds': 120}
    state, result = adhoc_result(controller.run('ansible', 'localhost', '-o', '-m', 'ops.rollback.load_probe',
                                                '-a', json.dumps(args)))

    assert state == 'SUCCESS' and result['changed'] is False
    assert result['stopped_by'] == 'stop_file'
    served = len(server.answers)
    assert served >= 80
    refused = result['per_url'][closed]['requests']
    assert refused > 0
    assert result['per_url'][server.url] == {'requests': served, 'failed_requests': 30, 'failures': {'HTTP 500': 30}}
    assert result['per_url'][closed] == {'requests': refused, 'failed_requests': refused,
                                         'failures': {'connection refused': refused}}
    assert result['requests'] == served + refused
    assert result['failed_requests'] == 30 + refused
    assert result['failures'] == {'HTTP 500': 30, 'connection refused': refused}
    # The refused URL fails from the start; the 500s come later. Each request leaves before it arrives.
    assert result['started_at'] <= result['first_failure'] <= result['last_failure'] <= result['stopped_at']
    assert result['first_failure'] <= ms(server.received(500)[0])


def test_load_probe_failure_window_is_the_servers(controller, phased_server, tmp_path):
    stop_file = tmp_path / 'stop'
    server = phased_server(good_before=20, failing=25, touch_after=70, touch=stop_file)
    args = {'urls': [server.url], 'rate': 40, 'stop_file': str(stop_file)}
    state, result = adhoc_result(controller.run('ansible', 'localhost', '-o', '-m', 'ops.rollback.load_probe',
                                                '-a', json.dumps(args)))

    assert state == 'SUCCESS'
    assert (result['requests'], result['failed_requests'], result['failures']) == (
        len(server.answers), 25, {'HTTP 500': 25})
    good = server.received(200)
    failing = server.received(500)
    # Sent before received: the first failure left no later than the first 500 arrived, and the last failure
    # no later than the first 200 after the window arrived; and no failure was sent before the probe started.
    assert result['started_at'] <= result['first_failure'] <= ms(failing[0])
    assert result['first_failure'] <= result['last_failure'] <= ms(failing[-1]) <= ms(good[20])


def test_load_probe_check_mode_sends_nothing(controller, phased_server, tmp_path):
    server = phased_server(good_before=0, failing=0, touch_after=1, touch=tmp_path / 'unused')
    args = {'urls': [server.url], 'max_seconds': 5}
    state, result = adhoc_result(controller.run('ansible', 'localhost', '-o', '--check', '-m',
                                                'ops.rollback.load_probe', '-a', json.dumps(args)))
    assert state == 'SUCCESS' and result['changed'] is False
    assert result['requests'] == 0 and server.answers == []
    assert result['msg'].startswith('Would send 20 GET requests a second') and server.url in result['msg']


@pytest.mark.parametrize('args, message', [
    ({'urls': ['ftp://127.0.0.1/x']}, "Cannot probe 'ftp://127.0.0.1/x': not an http"),
    ({'urls': []}, 'urls is empty'),
    ({'urls': ['http://127.0.0.1:1/'], 'rate': 0}, 'rate must be more than 0'),
    ({'urls': ['http://127.0.0.1:1/'], 'expect_status': 42}, 'expect_status 42 is not an HTTP status'),
])
def test_load_probe_refuses_bad_input_before_sending(controller, args, message):
    state, result = adhoc_result(controller.run('ansible', 'localhost', '-o', '-m', 'ops.rollback.load_probe',
                                                '-a', json.dumps(args), expect_rc=2))
    assert state == 'FAILED'
    assert message in result['msg'] and 'Nothing was started' in result['msg']


DRILL = """- name: Start the load, then deploy the bad version
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Start the load
      ansible.builtin.include_role:
        name: ops.rollback.drill
        tasks_from: load_start
      vars:
        drill_load_urls: ["{url}"]
        drill_load_rate: 40

    - name: Record the bad deploy
      ansible.builtin.set_fact:
        bad_deploy_at: "{{{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%S.%fZ') }}}}"

    - name: Wait until the service has been through its bad time
      ansible.builtin.wait_for:
        path: "{proceed}"
        timeout: 120

- name: Roll back and score
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Record the rollback start
      ansible.builtin.set_fact:
        rollback_started_at: "{{{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%S.%fZ') }}}}"

    - name: Record healthy
      ansible.builtin.set_fact:
        healthy_at: "{{{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%S.%fZ') }}}}"

    - name: Score the drill
      ansible.builtin.include_role:
        name: ops.rollback.drill
        tasks_from: scorecard
      vars:
        {load}
        drill_name: "{name}"
        drill_bad_deploy_at: "{{{{ hostvars['localhost'].bad_deploy_at }}}}"
        drill_rollback_started_at: "{{{{ rollback_started_at }}}}"
        drill_healthy_at: "{{{{ healthy_at }}}}"
        drill_not_measured:
          alert_at: no alerting in this test
        drill_report_dir: "{reports}"
"""


def run_drill(controller, server, proceed, tmp_path, name, explicit_load):
    playbook = tmp_path / (name + '.yml')
    # Given explicitly, or left to the role, which reads it from hostvars['localhost'].
    load = "drill_load: \"{{ hostvars['localhost'].drill_load }}\"" if explicit_load else '# drill_load: left out'
    playbook.write_text(DRILL.format(url=server.url, proceed=proceed, name=name, reports=tmp_path / 'reports',
                                     load=load))
    output = controller.run('ansible-playbook', str(playbook))
    with open(tmp_path / 'reports' / (name + '-scorecard.json')) as handle:
        card = json.load(handle)
    return output, card


def test_drill_role_scores_a_bad_deploy(controller, phased_server, tmp_path):
    proceed = tmp_path / 'proceed'
    server = phased_server(good_before=15, failing=40, touch_after=80, touch=proceed)
    output, card = run_drill(controller, server, proceed, tmp_path, 'bad-deploy', explicit_load=False)

    assert card['name'] == 'bad-deploy'
    assert card['requests'] == len(server.answers) and card['requests'] >= 80
    assert card['failed_requests'] == 40 and card['failures'] == {'HTTP 500': 40}
    assert card['failed_ratio'] == round(40.0 / card['requests'], 4)
    assert card['degraded_seconds'] is not None and card['degraded_seconds'] >= 0
    # The server let the playbook go on only after its bad time, so every failure was sent before the rollback.
    assert card['first_failure'] <= card['last_failure'] <= card['rollback_started_at']
    assert card['rollback_started_at'] <= card['healthy_at']
    assert card['bad_deploy_to_healthy_seconds'] >= card['rollback_start_to_healthy_seconds'] >= 0
    for key in ('bad_deploy_to_alert_seconds', 'alert_to_rollback_start_seconds', 'alert_to_healthy_seconds'):
        assert card[key] is None
    assert card['not_measured'] == {'alert_at': 'not measured: no alerting in this test'}
    # Printed loudly, and the same text in the Markdown report.
    assert 'DRILL SCORECARD: bad-deploy' in output
    assert '40 of {0} failed'.format(card['requests']) in output
    markdown = (tmp_path / 'reports' / 'bad-deploy-scorecard.md').read_text()
    assert '| failed requests | 40 |' in markdown and 'not measured: no alerting in this test' in markdown


def test_drill_role_scores_a_drill_nobody_noticed(controller, phased_server, tmp_path):
    proceed = tmp_path / 'proceed'
    server = phased_server(good_before=0, failing=0, touch_after=30, touch=proceed)
    _output, card = run_drill(controller, server, proceed, tmp_path, 'quiet', explicit_load=True)

    assert card['requests'] == len(server.answers) and card['requests'] >= 30
    assert card['failed_requests'] == 0 and card['failures'] == {}
    assert card['degraded_seconds'] == 0.0 and card['first_failure'] is None
    assert any('none: no request failed' in line for line in card['lines'])


def test_drill_scorecard_without_load_or_times_is_not_measured(controller, tmp_path):
    playbook = tmp_path / 'empty.yml'
    playbook.write_text("""- name: Score nothing
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Score the drill
      ansible.builtin.include_role:
        name: ops.rollback.drill
        tasks_from: scorecard
      vars:
        drill_report_dir: "{0}"
""".format(tmp_path / 'reports'))
    output = controller.run('ansible-playbook', str(playbook))
    with open(tmp_path / 'reports' / 'drill-scorecard.json') as handle:
        card = json.load(handle)
    assert card['requests'] is None and card['bad_deploy_to_healthy_seconds'] is None
    assert card['not_measured']['load'] == 'not measured: no load was started (drill_load)'
    assert 'customer impact' in output and 'not measured: no load was started' in output
