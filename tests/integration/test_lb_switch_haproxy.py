# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lb_switch backend=haproxy against real HAProxy processes (Debian's 2.6) started here, in front of
small app servers (haproxy_support.py). What is asserted is what HAProxy reports on its runtime API
and which server answers the traffic sent through it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import yaml

import pytest

from ansible_collections.ops.rollback.plugins.module_utils.traffic.backends import backend_warnings
from ansible_collections.ops.rollback.plugins.module_utils.traffic.haproxy import HaproxyServer, RuntimeApi
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import run_switch
from ansible_collections.ops.rollback.plugins.modules import lb_switch

from haproxy_support import App, Background, Haproxy, closed_port, request
from loadgen import LoadGenerator

FMAINT, FDRAIN = 0x01, 0x08

pytestmark = pytest.mark.skipif(subprocess.call(['sh', '-c', 'command -v haproxy'], stdout=subprocess.DEVNULL) != 0,
                                reason='haproxy is not installed (scripts/setup.sh installs it)')


@pytest.fixture
def haproxy_lab(tmp_path):
    """``haproxy_lab(apps=('a', 'b'), down=('c',), **haproxy_options)``: app servers, servers on closed ports, and a
    started HAProxy in front of them whose health checks have settled."""
    started = []

    def make(apps=('a', 'b'), down=(), **options):
        home = tmp_path / 'haproxy-{0}'.format(len(started))
        home.mkdir()
        servers = {}
        for name in apps:
            app = App(name)
            started.append(app)
            servers[name] = app.port
        for name in down:
            servers[name] = closed_port()
        haproxy = Haproxy(home, servers, **options)
        started.append(haproxy)
        haproxy.start()
        haproxy.until_checked(up=apps, down=down)
        haproxy.apps = dict((app.name, app) for app in started if isinstance(app, App))
        return haproxy

    yield make
    for thing in reversed(started):
        thing.stop()


@pytest.fixture
def switch(run_module):
    """Run lb_switch as Ansible does, on ``haproxy``'s socket and backend web; returns (exit code, result)."""
    def run(haproxy, **args):
        args = dict(dict(backend='haproxy', socket=haproxy.socket, pool='web'), **args)
        return run_module(lb_switch.main, args)
    return run


def warnings(result):
    """The texts of a module's warnings (plain strings, or the events of newer ansible-core)."""
    return [w if isinstance(w, str) else w['event']['msg'] for w in result.get('warnings', [])]


def answers(haproxy, count):
    """``count`` requests sent one after the other through HAProxy: [(status, version)]."""
    return [request(haproxy.url) for _attempt in range(count)]


def hold(haproxy, server, seconds=60):
    """A request held open on ``server``, as a slow upload or a long poll would be; wait until HAProxy counts
    the session."""
    held = Background(lambda: request(haproxy.url, server=server, hold=seconds))
    held.start()
    haproxy.until(lambda: haproxy.apps[server].holding == 1 and haproxy.servers()[server]['sessions'] >= 1,
                  'the held session is on ' + server)
    return held


# --- drain ------------------------------------------------------------------------------------------------------

def test_drain_under_load_loses_no_request_and_ready_brings_the_server_back(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a', 'b', 'c'))
    with LoadGenerator(haproxy.url, clients=4) as load:
        load.wait_for(60)
        held = hold(haproxy, 'b', seconds=1)

        # Check mode with diff: the plan, and nothing changed.
        code, result = switch(haproxy, server='b', state='drain', _ansible_check_mode=True, _ansible_diff=True)
        assert code == 0, result
        assert (result['changed'], result['before'], result['after']) == (
            True, {'state': 'ready', 'weight': 1}, {'state': 'maint', 'weight': 1})
        assert result['diff']['before'] == 'state: ready\nweight: 1\n'
        assert result['diff']['after'] == 'state: maint\nweight: 1\n'
        assert result['server']['sessions'] >= 1 and result['server']['status'] == 'UP'
        assert haproxy.servers()['b']['admin'] == 0

        # The drain waits for the held request, then maint; it finished, answered by b.
        code, result = switch(haproxy, server='b', state='drain', wait_timeout=30)
        drained_hits, drained_at = haproxy.apps['b'].hits, time.monotonic()
        assert code == 0, result
        assert (result['changed'], result['after']) == (True, {'state': 'maint', 'weight': 1})
        assert not held.is_alive() and held.result == (200, 'b')
        assert haproxy.servers()['b']['admin'] & FMAINT and haproxy.servers()['b']['sessions'] == 0
        assert result['server_state_file'] == haproxy.state_file and 'warnings' not in result

        # b gets no new request once drained; a and c serve everything.
        load.wait_for(200)
        assert haproxy.apps['b'].hits == drained_hits
        assert [r for r in load.snapshot() if r.started > drained_at and r.served_by == 'b'] == []
        assert load.failed() == [], load.summary()

        # Again: already in maint, nothing to do.
        code, result = switch(haproxy, server='b', state='drain')
        assert (code, result['changed']) == (0, False), result

        # Ready again: waits until b is UP, and b serves again.
        code, result = switch(haproxy, server='b', state='ready')
        assert (code, result['changed'], result['after']) == (0, True, {'state': 'ready', 'weight': 1}), result
        assert result['server']['status'] == 'UP'
        load.wait_for(200)
    assert haproxy.apps['b'].hits > drained_hits
    assert 'b' in load.served_by()[-6:], load.summary()
    assert load.failed() == [] and load.summary()['methods'] == ['GET', 'POST'], load.summary()


def test_drain_timeout_fails_and_leaves_drain_then_force_shuts_the_sessions(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a', 'b'))
    held = hold(haproxy, 'b')

    code, result = switch(haproxy, server='b', state='drain', wait_timeout=1)
    assert code == 1
    assert result['msg'].startswith('Draining server web/b timed out after 1 s with 1 session(s) still open. The '
                                    'server was left in drain'), result['msg']
    assert 'on_timeout=force' in result['msg']
    assert (result['changed'], result['after']) == (True, {'state': 'drain', 'weight': 1})
    assert haproxy.servers()['b']['admin'] == FDRAIN and held.is_alive()
    # Traffic goes to a only; the held request is still being served by b.
    assert answers(haproxy, 4) == [(200, 'a')] * 4

    code, result = switch(haproxy, server='b', state='drain', wait_timeout=1, on_timeout='force')
    assert code == 0, result
    assert (result['changed'], result['before'], result['after']) == (
        True, {'state': 'drain', 'weight': 1}, {'state': 'maint', 'weight': 1})
    assert result['server']['sessions_shut'] == 1
    held.join(10)
    status, _error = held.result
    assert status is None or status >= 500, held.result   # its session was shut
    assert haproxy.servers()['b']['admin'] & FMAINT and haproxy.servers()['b']['sessions'] == 0


def test_down_server_goes_straight_to_maint_without_waiting(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a',), down=('c',))
    # wait_timeout=0: a wait for sessions would time out at once; a DOWN server has none to wait for.
    code, result = switch(haproxy, server='c', state='drain', wait_timeout=0)
    assert code == 0, result
    assert (result['changed'], result['after']) == (True, {'state': 'maint', 'weight': 1})
    assert 'waited' not in result['server']
    assert haproxy.servers()['c']['admin'] == FMAINT


def test_last_serving_server_is_refused_unless_forced(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a',), down=('c',))
    code, result = switch(haproxy, server='a', state='maint')
    assert code == 1
    assert result['msg'] == ('Refused to take server web/a out of service (maint): it is the last server of backend '
                             'web that serves traffic (c is DOWN), so the backend\'s traffic would fail. Ready another '
                             'server first, or pass force=true to do it anyway. Nothing was changed.')
    assert (result['changed'], result['reason']) == (False, 'last_server')
    assert haproxy.servers()['a']['admin'] == 0 and request(haproxy.url) == (200, 'a')

    code, result = switch(haproxy, server='a', state='maint', force=True)
    assert (code, result['changed']) == (0, True), result
    assert [w for w in warnings(result) if 'last server of backend web serving traffic' in w], result
    assert haproxy.servers()['a']['admin'] == FMAINT and request(haproxy.url)[0] == 503


# --- ready ------------------------------------------------------------------------------------------------------

def test_ready_waits_until_up_and_names_the_failing_health_check(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a',), down=('c',))
    code, result = switch(haproxy, server='c', state='maint')
    assert (code, result['changed']) == (0, True), result

    # HAProxy marks c up the moment it leaves maint; the module waits for a passed check, which never comes.
    code, result = switch(haproxy, server='c', state='ready', wait_timeout=2)
    assert code == 1
    assert result['msg'].startswith('Server web/c is ready but not UP after 2 s: HAProxy reports it DOWN, health '
                                    'check L4CON'), result['msg']
    assert (result['changed'], result['after']) == (True, {'state': 'ready', 'weight': 1})
    assert haproxy.servers()['c']['status'] == 'DOWN'

    # The server comes up: a second run has nothing to change but proves c UP, and c serves.
    port = int(haproxy.api('show servers state web').split(' c 127.0.0.1 ')[1].split()[13])
    late = App('c', port=port)
    try:
        code, result = switch(haproxy, server='c', state='ready', wait_timeout=20)
        assert (code, result['changed'], result['server']['status']) == (0, False, 'UP'), result
        assert (200, 'c') in answers(haproxy, 4)
    finally:
        late.stop()


# --- weight -----------------------------------------------------------------------------------------------------

def test_weight_shifts_traffic_check_mode_diff_and_idempotent(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a', 'b'))
    code, result = switch(haproxy, server='b', weight=3, _ansible_check_mode=True, _ansible_diff=True)
    assert (code, result['changed']) == (0, True), result
    assert result['diff'] == {'before': 'state: ready\nweight: 1\n', 'after': 'state: ready\nweight: 3\n',
                              'before_header': 'server web/b', 'after_header': 'server web/b'}
    assert haproxy.servers()['b']['weight'] == 1

    code, result = switch(haproxy, server='b', weight=3)
    assert (code, result['changed'], result['after']) == (0, True, {'state': 'ready', 'weight': 3}), result
    assert haproxy.servers()['b']['weight'] == 3
    served = [version for _status, version in answers(haproxy, 40)]
    assert (served.count('a'), served.count('b')) == (10, 30)

    code, result = switch(haproxy, server='b', weight=3)
    assert (code, result['changed']) == (0, False), result

    # Weight 0: b keeps its state but gets no traffic.
    code, result = switch(haproxy, server='b', weight=0)
    assert (code, result['after']) == (0, {'state': 'ready', 'weight': 0}), result
    assert set(answers(haproxy, 10)) == {(200, 'a')}


# --- a reload during a drain ------------------------------------------------------------------------------------

def drain_across_a_reload(haproxy, switch, save_state=True):
    """Drain b while a request holds it; reload HAProxy while the module waits (saving the servers' state first
    when it has a state file, unless not ``save_state``). Returns the module's (code, result) and the held
    request's answer."""
    held = hold(haproxy, 'b', seconds=60)
    drain = Background(lambda: switch(haproxy, server='b', state='drain', wait_timeout=30))
    drain.start()
    haproxy.until(lambda: haproxy.servers()['b']['admin'] == FDRAIN, 'b is draining')
    if save_state:
        haproxy.reload()
    else:
        haproxy.start(old=haproxy.processes[-1])
    drain.join(40)
    haproxy.apps['b'].release()
    held.join(10)
    return drain.result, held.result


def test_a_reload_during_a_drain_keeps_it_with_a_server_state_file(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a', 'b'), state_file=True)
    (code, result), held = drain_across_a_reload(haproxy, switch)
    assert code == 0, result
    assert (result['changed'], result['after']) == (True, {'state': 'maint', 'weight': 1})
    # The new process loaded the drain from the state file; b is in maint there, and the old process
    # finished the held request.
    assert haproxy.servers()['b']['admin'] & FMAINT
    assert held == (200, 'b')
    assert set(answers(haproxy, 6)) == {(200, 'a')}


def test_a_reload_that_does_not_save_the_state_file_forgets_the_drain(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a', 'b'), state_file=True)
    old = haproxy.pid
    (code, result), _held = drain_across_a_reload(haproxy, switch, save_state=False)
    assert code == 1
    assert result['msg'] == (
        'Server web/b is ready again, not draining: HAProxy was reloaded while it drained (process {0} is now {1}), '
        'and the new process did not load the drain from {2}: the reload must save "show servers state" to it '
        'first. It takes new sessions now. Run the task again to drain it.'.format(
            old, haproxy.pid, haproxy.state_file))
    assert haproxy.servers()['b']['admin'] == 0


def test_a_reload_during_a_drain_forgets_it_without_a_server_state_file(haproxy_lab, switch):
    haproxy = haproxy_lab(apps=('a', 'b'), state_file=False)
    # The warning of a run that changes something: a reload would forget it.
    code, result = switch(haproxy, server='b', weight=2)
    assert (code, result['server_state_file']) == (0, None), result
    assert warnings(result) == [
        'HAProxy does not load server states from a file for backend web (no "server-state-file" in its global section '
        'with "load-server-state-from-file" for the backend): a reload of HAProxy forgets this change and puts server '
        'web/b back as its configuration says. Configure both, and save "show servers state" to the file before each '
        'reload.']
    old = haproxy.pid

    (code, result), held = drain_across_a_reload(haproxy, switch)
    assert code == 1
    assert result['msg'].startswith(
        'Server web/b is ready again, not draining: HAProxy was reloaded while it drained (process {0} is now {1}), '
        'and the new process does not load server states from a file, so the reload forgot the drain. It takes new '
        'sessions now.'.format(old, haproxy.pid)), result['msg']
    assert (result['after'], result['reason']) == ({'state': 'ready', 'weight': 1}, 'drain_lost')
    # What a user sees: b is back in rotation, with its configured weight.
    assert haproxy.servers()['b'] == dict(haproxy.servers()['b'], admin=0, weight=1)
    assert (200, 'b') in answers(haproxy, 6)
    assert held == (200, 'b')


# --- bad input: a clear error, nothing changed --------------------------------------------------------------------

def test_bad_input_is_refused_with_what_to_do_and_nothing_changes(haproxy_lab, switch, tmp_path):
    haproxy = haproxy_lab(apps=('a', 'b'))
    before = haproxy.servers()
    cases = [
        (dict(socket=str(tmp_path / 'nowhere.sock'), server='b', state='maint'),
         "Failed to reach HAProxy's runtime API at {0}: there is no such file. Check socket= against the \"stats "
         "socket\" line of HAProxy's configuration, and that HAProxy runs. Nothing was changed.".format(
             tmp_path / 'nowhere.sock')),
        (dict(socket=haproxy.config, server='b', state='maint'),
         '{0} is not a socket: socket= is the path of the "stats socket" line'.format(haproxy.config)),
        (dict(pool='api', server='b', state='maint'),
         'HAProxy has no backend api (its backends: web). Check pool=. Nothing was changed.'),
        (dict(server='z', state='maint'),
         'Backend web of HAProxy has no server z (its servers: a, b). Check server=. Nothing was changed.'),
        (dict(server='b; shutdown sessions server web/a', state='maint'),
         "server is 'b; shutdown sessions server web/a', which is not an HAProxy name (letters, digits and "),
        (dict(server='b', weight=257), 'weight is 257; an HAProxy server\'s weight is from 0 to 256. Nothing was '
                                       'changed.'),
        (dict(server='b', state='maint', on_timeout='force'),
         'on_timeout applies to state=drain only'),
        (dict(server='b', state='maint', selector={'version': 'blue'}),
         'Option selector does not apply to backend=haproxy'),
    ]
    for args, message in cases:
        code, result = switch(haproxy, **args)
        assert code == 1 and result['msg'].startswith(message), (args, result['msg'])
        assert result['changed'] is False
    assert haproxy.servers() == before


def test_haproxy_own_refusals_are_surfaced(haproxy_lab, switch):
    # A socket at "level operator" may read but not change servers: HAProxy's own answer is shown.
    haproxy = haproxy_lab(apps=('a', 'b'), level='operator')
    code, result = switch(haproxy, server='b', state='maint')
    assert code == 1
    assert result['msg'] == ('Failed to set the state of server web/b: HAProxy refused "set server web/b state maint": '
                             'Permission denied. Changing servers needs a stats socket with "level admin". Nothing '
                             'was changed.')
    assert result['changed'] is False and haproxy.servers()['b']['admin'] == 0

    # A static algorithm takes weights 0% and 100% only.
    static = haproxy_lab(apps=('c', 'd'), balance='static-rr')
    code, result = switch(static, server='d', weight=3)
    assert code == 1
    assert result['msg'] == ('Failed to set the weight of server web/d: HAProxy refused "set server web/d weight 3": '
                             "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'. "
                             'Nothing was changed.'), \
        result['msg']
    assert (result['changed'], result['after']) == (False, {'state': 'ready', 'weight': 1})
    assert static.servers()['d']['weight'] == 1


def test_a_haproxy_whose_configuration_cannot_be_read_gets_a_warning_saying_so(haproxy_lab, tmp_path):
    # As when HAProxy runs in another PID namespace (a container): its process is not in this /proc.
    haproxy = haproxy_lab(apps=('a', 'b'))
    backend = HaproxyServer(RuntimeApi(haproxy.socket), 'web', 'b', weight=2, proc=str(tmp_path / 'elsewhere'))
    result = run_switch(backend)
    assert (result['changed'], result['server_state_file'], haproxy.servers()['b']['weight']) == (True, None, 2)
    assert backend_warnings(backend, result) == [
        'Could not tell whether HAProxy keeps runtime changes of backend web across a reload (process {0} is not '
        'visible here: No such file or directory). Unless its configuration has "server-state-file" and '
        '"load-server-state-from-file", and the reload saves "show servers state" to that file first, a reload '
        'forgets this change.'.format(haproxy.pid)]


def test_a_socket_this_user_may_not_use_is_named(haproxy_lab, tmp_path):
    haproxy = haproxy_lab(apps=('a', 'b'))
    os.chmod(str(tmp_path), 0o755)
    # As an unprivileged user (root passes any file permission), through the module's own class.
    script = ('from ansible_collections.ops.rollback.plugins.module_utils.traffic.haproxy import HaproxyServer, '
              'RuntimeApi\n'
              'try:\n    HaproxyServer(RuntimeApi({0!r}), "web", "b", state="maint").read()\n'
              'except Exception as err:\n    print(err)\n').format(haproxy.socket)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    output = subprocess.run(['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', sys.executable, '-c',
                             script], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert output.stdout.strip() == (
        "Failed to reach HAProxy's runtime API at {0}: permission denied. Run the task as a user allowed to use the "
        "socket (become: true, or the \"user\", \"group\" and \"mode\" of its \"stats socket\" line). Nothing was "
        "changed.".format(haproxy.socket)), output


# --- as users run it: the documented examples, by ansible-playbook, on Debian's python3 ----------------------------

def test_the_examples_run_with_the_hosts_python3_and_warn_through_ansible(haproxy_lab, ansible, tmp_path):
    """The module runs where HAProxy runs, with python3's standard library only: Debian's /usr/bin/python3
    here has neither boto3 nor kubernetes."""
    haproxy = haproxy_lab(apps=('web1', 'web2'), state_file=False)
    tasks = [task for task in yaml.safe_load(lb_switch.EXAMPLES)
             if task.get('ops.rollback.lb_switch', {}).get('backend') == 'haproxy']
    assert len(tasks) == 3
    for task in tasks:
        task['ops.rollback.lb_switch']['socket'] = haproxy.socket
    playbook = tmp_path / 'examples.yml'
    playbook.write_text(yaml.safe_dump([{'name': 'Examples', 'hosts': 'lb', 'gather_facts': False, 'tasks': tasks}]))
    ansible.write_inventory({'all': {'children': {'lb': {'hosts': {'lb1': {
        'ansible_connection': 'local', 'ansible_python_interpreter': '/usr/bin/python3',
        'ansible_become_method': 'su'}}}}}})

    output = ansible.run('ansible-playbook', str(playbook), '--check', '--diff')
    assert ansible.recap_changed(output, 'lb1') == 3 and '-state: ready\n+state: maint' in output, output
    assert haproxy.servers()['web2'] == dict(haproxy.servers()['web2'], admin=0, weight=1)

    # Drained (and in maint), drained again (nothing to do), then back with weight 10 and UP.
    output = ansible.run('ansible-playbook', str(playbook))
    assert ansible.recap_changed(output, 'lb1') == 2, output
    assert haproxy.servers()['web2'] == dict(haproxy.servers()['web2'], admin=0, weight=10, status='UP')
    assert 'HAProxy does not load server states from a file for backend web' in ' '.join(output.split()), output
