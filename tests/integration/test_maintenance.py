# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role ops.rollback.maintenance on a real nginx (Debian's, our own master on a free loopback port):
on, users get 503 with Retry-After and the page while health checks pass; off, 200 again; a change
nginx refuses is put back, and nginx goes on serving as before."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

CONFIG = """worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/http.d/*.conf;
    server {{
        listen 127.0.0.1:{port};
        include {dir}/maintenance/*.conf;
        location / {{ return 200 "the app\\n"; }}
        location = /health {{ return 200 "ok\\n"; }}
    }}
}}
"""

PLAY = """- name: Maintenance mode
  hosts: lb
  gather_facts: false
  tasks:
    - name: Run the role
      ansible.builtin.include_role:
        name: ops.rollback.maintenance
      vars:
        maintenance_service: shop
        maintenance_nginx_config: {dir}/nginx.conf
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class Nginx:
    def __init__(self, directory):
        self.dir = str(directory)
        self.port = free_port()
        for sub in ('http.d', 'maintenance'):
            os.makedirs(os.path.join(self.dir, sub))
        self.config = os.path.join(self.dir, 'nginx.conf')
        with open(self.config, 'w') as handle:
            handle.write(CONFIG.format(dir=self.dir, port=self.port))
        self.process = subprocess.Popen(['nginx', '-c', self.config, '-g', 'daemon off;'],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.dir, 'nginx.pid')) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.wait_for(200)

    def get(self, path='/'):
        """(status, Retry-After, body) of a GET, each on a new connection."""
        try:
            with urllib.request.urlopen('http://127.0.0.1:{0}{1}'.format(self.port, path), timeout=5) as answer:
                return answer.status, answer.headers.get('Retry-After'), answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get('Retry-After'), err.read().decode()

    def wait_for(self, status, path='/', timeout=10):
        """A reload is asynchronous: wait (a deadline, not a timing assertion) until ``path`` answers ``status``."""
        deadline = time.monotonic() + timeout
        while self.get(path)[0] != status and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.get(path)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def nginx(tmp_path):
    server = Nginx(tmp_path / 'nginx')
    yield server
    server.stop()


@pytest.fixture
def maintenance(ansible, nginx, tmp_path):
    ansible.write_inventory({'all': {'children': {'lb': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}}}}}})
    playbook = tmp_path / 'maintenance.yml'
    playbook.write_text(PLAY.format(dir=nginx.dir))

    def run(state, *args, expect_rc=0, **settings):
        extra = dict({'maintenance_state': state,
                      'maintenance_file': os.path.join(nginx.dir, 'maintenance', 'shop.conf')}, **settings)
        return ansible.run('ansible-playbook', str(playbook), '-e', json.dumps(extra), *args,
                           expect_rc=expect_rc)
    return run


def test_maintenance_on_answers_503_with_retry_after_and_the_page_and_lets_health_checks_through(
        maintenance, nginx, ansible):
    plan = maintenance('on', '--check', '--diff', maintenance_retry_after=120, maintenance_pass_paths=['/health'])
    assert ansible.recap_changed(plan, 'localhost') == 1
    assert 'return 503' in plan   # the diff shows the include it would write
    assert nginx.get() == (200, None, 'the app\n'), 'check mode changed what nginx serves'

    maintenance('on', maintenance_retry_after=120, maintenance_pass_paths=['/health'])
    status, retry_after, page = nginx.wait_for(503)
    assert (status, retry_after) == (503, '120')
    assert '<h1>shop is down for maintenance</h1>' in page
    assert nginx.get('/health') == (200, None, 'ok\n'), 'the health check path must pass through'
    # Retry-After is sent with every 503, whatever the path.
    assert nginx.get('/orders/42')[:2] == (503, '120')

    again = maintenance('on', maintenance_retry_after=120, maintenance_pass_paths=['/health'])
    assert ansible.recap_changed(again, 'localhost') == 0

    maintenance('off')
    assert nginx.wait_for(200) == (200, None, 'the app\n')
    assert not os.path.exists(os.path.join(nginx.dir, 'maintenance', 'shop.conf'))
    assert ansible.recap_changed(maintenance('off'), 'localhost') == 0


def test_a_maintenance_file_nginx_refuses_is_put_back_and_nginx_serves_as_before(maintenance, nginx):
    # An include outside a server block (here: nginx's http level), where "set" and "if" are not allowed.
    wrong = os.path.join(nginx.dir, 'http.d', 'shop.conf')
    output = maintenance('on', expect_rc=2, maintenance_file=wrong)
    assert 'nginx refused the configuration' in output
    assert 'directive is not allowed here' in output
    assert 'Nothing was changed.' in output
    assert not os.path.exists(wrong), 'the refused file must be removed again'
    assert nginx.get() == (200, None, 'the app\n')

    # With maintenance on, a refused change leaves it on, file and all.
    maintenance('on', maintenance_retry_after=60)
    assert nginx.wait_for(503)[:2] == (503, '60')
    before = open(os.path.join(nginx.dir, 'maintenance', 'shop.conf')).read()
    output = maintenance('on', expect_rc=2, maintenance_retry_after=30, maintenance_nginx_command='/bin/false')
    assert 'Nothing was changed.' in output
    assert open(os.path.join(nginx.dir, 'maintenance', 'shop.conf')).read() == before
    assert nginx.get()[:2] == (503, '60')


def test_malformed_settings_are_refused_before_anything_is_written(maintenance, nginx):
    output = maintenance('on', expect_rc=2, maintenance_pass_paths=['/health; return 200'])
    assert 'maintenance_pass_paths a list of paths' in output and 'Nothing was changed.' in output
    assert os.listdir(os.path.join(nginx.dir, 'maintenance')) == []
    assert nginx.get() == (200, None, 'the app\n')
