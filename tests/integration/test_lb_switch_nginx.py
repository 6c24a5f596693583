# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lb_switch backend=nginx against a real nginx master in front of real demo app processes.

Blue = two v1 servers, green = two v2 servers. What is asserted is what nginx serves (and that no
request of keep-alive clients fails while it switches), the file it loads, and its workers.
"""
from __future__ import annotations

import fcntl
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import loadgen
from ansible_collections.ops.rollback.plugins.modules import lb_switch
from nginx_support import REPO, DemoApp, Nginx


@pytest.fixture(scope='module')
def pools(tmp_path_factory):
    tmpdir = tmp_path_factory.mktemp('pools')
    apps = {'blue': [DemoApp(tmpdir, 'v1'), DemoApp(tmpdir, 'v1')],
            'green': [DemoApp(tmpdir, 'v2'), DemoApp(tmpdir, 'v2')]}
    yield dict((pool, [app.address for app in members]) for pool, members in apps.items())
    for members in apps.values():
        for app in members:
            app.stop()


@pytest.fixture
def nginx(tmp_path, pools):
    server = Nginx(tmp_path, pools['blue']).start()
    yield server
    server.stop()


@pytest.fixture
def switch(run_module, nginx):
    """Run lb_switch on ``nginx`` as Ansible does; returns (exit code, result)."""
    def run(servers, **args):
        args = dict(dict(backend='nginx', upstream_file=nginx.upstream_file, upstream=nginx.upstream,
                         nginx_config=nginx.config), servers=servers, **args)
        return run_module(lb_switch.main, args)
    return run


def servers(addresses, **flags):
    return [dict(address=address, **flags) for address in addresses]


def block(addresses, suffix=''):
    return ''.join('    server {0}{1};\n'.format(address, suffix) for address in addresses)


# --- the switch ---------------------------------------------------------------------------------------------------

def test_blue_to_green_and_back_under_load_loses_no_request(nginx, switch, pools):
    blue, green = pools['blue'], pools['green']
    before_text = nginx.upstream_text()

    # Check mode with diff: the plan, tested by nginx -t in a config of its own; nothing written or reloaded.
    workers = nginx.workers()
    code, result = switch(servers(green), _ansible_check_mode=True, _ansible_diff=True)
    assert (code, result['changed'], result['backend']) == (0, True, 'nginx'), result
    assert result['before'] == [dict(address=a, weight=1, down=False, backup=False) for a in blue]
    assert result['after'] == [dict(address=a, weight=1, down=False, backup=False) for a in green]
    assert block(blue) in result['diff']['before'] and block(green) in result['diff']['after']
    assert '    keepalive 8;\n' in result['diff']['after']
    assert result['nginx']['worker_shutdown_timeout'] == '5s'
    assert result['nginx']['master_pid'] == nginx.process.pid
    assert nginx.upstream_text() == before_text
    assert nginx.workers() == workers and set(nginx.served(4)) == {'v1'}

    # Keep-alive clients as browsers are (loadgen.BrowserConnection): a connection the server closed while idle
    # is not reused, and a request a reused connection lost before any answer is sent again on a new one.
    # Everything else counts as failed.
    with loadgen.LoadGenerator(nginx.url, browser=True) as load:
        load.wait_for(60)
        code, result = switch(servers(green), verify_url=nginx.url + '/version', verify_regex='"version": "v2"')
        switched = time.monotonic()
        assert (code, result['changed']) == (0, True), result
        load.wait_for(60)
        going_back = time.monotonic()
        code, result = switch(servers(blue), verify_url=nginx.url + '/version', verify_regex='"version": "v1"')
        back = time.monotonic()
        assert (code, result['changed']) == (0, True), result
        load.wait_for(60)
    summary = load.summary()
    assert load.failed() == [], summary
    assert summary['methods'] == ['GET', 'POST']
    # The switch happened: v1, then v2, then v1 again. Once the module returned, only the new pool served.
    served = load.served_by()
    assert served[0] == 'v1' and 'v2' in served and served[-1] == 'v1', summary
    after_switch = [r.served_by for r in load.snapshot() if switched <= r.started < going_back]
    after_back = [r.served_by for r in load.snapshot() if r.started >= back]
    assert after_switch and set(after_switch) == {'v2'}
    assert after_back and set(after_back) == {'v1'}
    # The module waited for the old workers to exit: none of the first ones is left.
    assert nginx.workers() and not nginx.workers() & workers

    text = nginx.upstream_text()
    assert text.startswith('# Managed by ops.rollback') and text.endswith(
        'upstream pool {\n' + block(blue) + '    keepalive 8;\n}\n')


def test_a_request_in_flight_during_the_switch_is_answered_by_the_old_pool(nginx, switch, pools):
    """A POST whose body is still coming when nginx reloads stays with its old worker, which answers it
    from blue; the module returns only once that worker has answered and exited."""
    held = socket.create_connection(('127.0.0.1', nginx.port), timeout=30)
    body = b'{"held": 1}'
    held.sendall(b'POST /version HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n'
                 b'Content-Length: %d\r\n\r\n' % len(body))
    answered = {}

    def finish_when_old_workers_shut_down():
        deadline = time.monotonic() + 30
        while not nginx.workers(shutting_down=True) and time.monotonic() < deadline:
            time.sleep(0.02)
        held.sendall(body)
        response = http.client.HTTPResponse(held)
        response.begin()
        answered.update(status=response.status, body=json.loads(response.read()), at=time.monotonic())
        held.close()   # as a client does once the exiting worker shut its side

    finisher = threading.Thread(target=finish_when_old_workers_shut_down)
    finisher.start()
    try:
        code, result = switch(servers(pools['green']))
        returned = time.monotonic()
    finally:
        finisher.join(60)
        held.close()
    assert (code, result['changed']) == (0, True), result
    assert answered['status'] == 200 and answered['body']['version'] == 'v1', answered
    assert answered['body']['received'] == len(body)
    assert answered['at'] < returned and not nginx.workers(shutting_down=True)
    assert set(nginx.served(4)) == {'v2'}


def test_the_same_servers_again_change_nothing_and_do_not_reload(nginx, switch, pools):
    code, result = switch(servers(pools['green'], weight=2))
    assert (code, result['changed']) == (0, True), result
    assert set(nginx.served(4)) == {'v2'}
    text, inode, workers = nginx.upstream_text(), os.stat(nginx.upstream_file).st_ino, nginx.settled()

    code, result = switch(servers(pools['green'], weight=2), _ansible_diff=True)
    assert (code, result['changed']) == (0, False), result
    assert 'diff' not in result
    assert (nginx.upstream_text(), os.stat(nginx.upstream_file).st_ino, nginx.workers()) == (text, inode, workers)
    assert block(pools['green'], ' weight=2') in text


def test_a_symlinked_upstream_file_stays_a_link_to_the_file_switched(nginx, switch, pools):
    available = os.path.join(os.path.dirname(os.path.dirname(nginx.upstream_file)), 'upstream-available.conf')
    os.rename(nginx.upstream_file, available)
    os.symlink(available, nginx.upstream_file)
    code, result = switch(servers(pools['green']))
    assert (code, result['changed']) == (0, True), result
    assert os.readlink(nginx.upstream_file) == available
    with open(available) as handle:
        assert block(pools['green']) in handle.read()
    assert set(nginx.served(4)) == {'v2'}


def test_weights_shift_gradually_and_down_takes_a_pool_out(nginx, switch, pools):
    blue, green = pools['blue'], pools['green']
    # The operator's own parameters of a server and directives of the block are kept.
    nginx.write_upstream('upstream pool {\n    least_conn;\n' + block(blue, ' max_fails=2') + '    keepalive 8;\n}\n')
    code, result = switch(servers(blue, weight=3) + servers(green, weight=1))
    assert (code, result['changed']) == (0, True), result
    assert nginx.upstream_text().endswith('upstream pool {\n' + block(blue, ' weight=3 max_fails=2') + block(green)
                                          + '    least_conn;\n    keepalive 8;\n}\n')
    served = nginx.served(40)
    assert set(served) == {'v1', 'v2'} and served.count('v1') > served.count('v2')

    code, result = switch(servers(blue, down=True) + servers(green))
    assert (code, result['changed']) == (0, True), result
    assert block(blue, ' max_fails=2 down') + block(green) in nginx.upstream_text()
    assert set(nginx.served(12)) == {'v2'}

    # A backup pool: nginx uses it only when the primary servers fail.
    code, result = switch(servers(green) + servers(blue, backup=True))
    assert (code, result['changed']) == (0, True), result
    assert set(nginx.served(12)) == {'v2'}


# --- refusals: nothing changes -----------------------------------------------------------------------------------

def test_a_config_nginx_refuses_is_put_back_with_the_old_pool_still_serving(nginx, switch, pools):
    before_text, workers = nginx.upstream_text(), nginx.workers()
    bad = servers(pools['green'][:1]) + [dict(address='127.0.0.1:99999')]

    for check_mode in (True, False):
        code, result = switch(bad, _ansible_check_mode=check_mode)
        assert code == 1 and result['failed'] and result['changed'] is False, result
        # nginx -t's own words, naming the upstream file (check mode tests a copy, named as the real one).
        assert 'invalid port in upstream "127.0.0.1:99999"' in result['msg'], result['msg']
        assert nginx.upstream_file in result['msg'] and 'Nothing was changed' in result['msg']
        assert nginx.upstream_text() == before_text
        assert nginx.workers() == workers and set(nginx.served(4)) == {'v1'}
    assert 'previous file was put back' in result['msg']
    # No temporary file left beside it (the lock file stays, empty).
    assert [name for name in os.listdir(os.path.dirname(nginx.upstream_file)) if 'ops-rollback' in name] in (
        [], ['.upstream.conf.ops-rollback-lock'])


def test_a_switch_waits_for_another_writer_of_the_file(nginx, switch, pools):
    before_text, workers = nginx.upstream_text(), nginx.workers()
    lock = os.path.join(os.path.dirname(nginx.upstream_file), '.upstream.conf.ops-rollback-lock')
    with open(lock, 'a') as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        code, result = switch(servers(pools['green']), wait_timeout=1)
    assert code == 1 and 'Another task has been writing' in result['msg'] and lock in result['msg'], result
    assert result['changed'] is False and 'Nothing was changed' in result['msg']
    assert (nginx.upstream_text(), nginx.workers()) == (before_text, workers)
    # Once the other writer is done, the switch goes through.
    code, result = switch(servers(pools['green']))
    assert (code, result['changed']) == (0, True), result
    assert set(nginx.served(4)) == {'v2'}


ONE = [dict(address='127.0.0.1:8001')]


@pytest.mark.parametrize('asked, extra, words', [
    ([dict(address='127.0.0.1:8001', weight=0)], {}, 'set down: true'),
    ([dict(address='127.0.0.1:8001', weight=-2)], {}, 'a whole number from 1'),
    ([dict(address='127.0.0.1:8001', down=True, backup=True)], {}, 'both down and backup'),
    ([dict(address='127.0.0.1:8001;\n}\ninclude /etc/passwd;\nupstream x {\n server 127.0.0.1:1')], {},
     'servers[0].address is'),
    ([dict(address='127.0.0.1:8001 max_fails=0')], {}, 'without spaces'),
    (ONE + ONE, {}, 'named twice'),
    ([], {}, 'servers is empty'),
    ([dict(address='127.0.0.1:8001', down=True)], {}, 'every server is down or backup'),
    (ONE, dict(verify_regex='v2'), 'verify_regex is set without verify_url'),
    (ONE, dict(verify_url='http://127.0.0.1:1/', verify_regex='v(2'), 'is not a regular expression'),
    (ONE, dict(nginx_config='/nonexistent/nginx.conf'), 'is not a readable file'),
])
def test_bad_input_is_refused_with_what_to_do(nginx, switch, asked, extra, words):
    before_text, workers = nginx.upstream_text(), nginx.workers()
    code, result = switch(asked, **extra)
    assert code == 1 and words in result['msg'] and 'Nothing was changed.' in result['msg'], result
    assert (nginx.upstream_text(), nginx.workers()) == (before_text, workers)
    assert set(nginx.served(2)) == {'v1'}


def test_a_file_it_cannot_read_is_refused_unless_forced(nginx, switch, pools):
    nginx.write_upstream('upstream pool {\n' + block(pools['blue']) + '}\nupstream other { server 127.0.0.1:1; }\n')
    workers = nginx.workers()
    code, result = switch(servers(pools['green']))
    assert code == 1 and 'more than the one upstream block' in result['msg'] and 'force=true' in result['msg'], result
    assert 'upstream other' in nginx.upstream_text() and nginx.workers() == workers

    code, result = switch(servers(pools['green']), force=True, _ansible_diff=True)
    assert (code, result['changed'], result['before']) == (0, True, None), result
    assert 'upstream other' in result['diff']['before']
    assert 'upstream other' not in nginx.upstream_text() and set(nginx.served(4)) == {'v2'}


@pytest.mark.parametrize('setup, words', [
    (dict(shutdown_timeout=None), 'does not set worker_shutdown_timeout'),
    (dict(include=False), 'nginx does not load'),
])
def test_a_config_that_cannot_switch_safely_is_refused(tmp_path, pools, run_module, setup, words):
    server = Nginx(tmp_path, pools['blue'], **setup).start()
    try:
        before_text, workers = server.upstream_text(), server.workers()
        code, result = run_module(lb_switch.main, dict(
            backend='nginx', upstream_file=server.upstream_file, upstream='pool', nginx_config=server.config,
            servers=servers(pools['green'])))
        assert code == 1 and words in result['msg'] and 'Nothing was changed.' in result['msg'], result
        assert (server.upstream_text(), server.workers()) == (before_text, workers)
        assert set(server.served(4)) == {'v1'}
    finally:
        server.stop()


def test_a_verify_url_that_never_matches_fails_saying_where_traffic_is(nginx, switch, pools):
    code, result = switch(servers(pools['green']), verify_url=nginx.url + '/version', verify_regex='"v3"',
                          wait_timeout=1)
    assert code == 1 and 'still does not answer' in result['msg'] and 'v2' in result['msg'], result
    # The switch itself was made: the task says so, with the servers nginx now uses.
    assert result['changed'] is True and result['after'][0]['address'] == pools['green'][0]
    assert set(nginx.served(4)) == {'v2'}


def test_nginx_not_running_is_refused(nginx, switch, pools):
    before_text = nginx.upstream_text()
    nginx.stop()
    code, result = switch(servers(pools['green']))
    assert code == 1 and 'nginx is not running' in result['msg'], result
    assert nginx.upstream_text() == before_text
    with pytest.raises(OSError):
        http.client.HTTPConnection('127.0.0.1', nginx.port, timeout=2).request('GET', '/')


# --- as Ansible runs it ------------------------------------------------------------------------------------------

PLAYBOOK = """
- name: Switch nginx's upstream from blue to green, as the module's EXAMPLES do
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Show what the switch would change, without changing it
      ops.rollback.lb_switch: &switch
        backend: nginx
        upstream_file: "{{ upstream_file }}"
        upstream: pool
        nginx_config: "{{ nginx_config }}"
        servers: "{{ green_servers }}"
        verify_url: "{{ url }}/version"
        verify_regex: '"version": "v2"'
      check_mode: true
      diff: true
    - name: Switch the upstream to green
      ops.rollback.lb_switch: *switch
    - name: Switch it again, which changes nothing
      ops.rollback.lb_switch: *switch
"""


def test_the_example_runs_with_ansible_playbook_check_mode_switch_then_nothing(tmp_path, nginx, pools):
    playbook = tmp_path / 'switch.yml'
    playbook.write_text(PLAYBOOK)
    extra = {'upstream_file': nginx.upstream_file, 'nginx_config': nginx.config, 'url': nginx.url,
             'green_servers': [{'address': address} for address in pools['green']],
             'ansible_python_interpreter': sys.executable}
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', OPS_ROLLBACK_TIMELINE=str(tmp_path / 'timeline.jsonl'))
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                          '-c', 'local', str(playbook), '-e', json.dumps(extra)],
                         env=env, capture_output=True, text=True, cwd=REPO, check=False, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    tasks = [task['hosts']['localhost'] for task in json.loads(out.stdout)['plays'][0]['tasks']]
    assert [task['changed'] for task in tasks] == [True, True, False], tasks
    assert block(pools['green']) in tasks[0]['diff']['after'] and 'diff' not in tasks[2]
    assert [server['address'] for server in tasks[1]['after']] == pools['green']
    assert block(pools['green']) in nginx.upstream_text() and set(nginx.served(4)) == {'v2'}
