# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_rollback against Debian's docker.io engine in a real single-node swarm.

What is asserted is what a user observes afterwards: the image the containers of the service's running
tasks actually run (by image ID), the version they serve over HTTP (published in host mode: this kernel
has no IPVS for the routing mesh), the service's update status and spec, and the ledger and lock configs.
"""
from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import re
import subprocess
import time

import docker as docker_sdk
import pytest

from ansible_collections.ops.rollback.plugins.modules import swarm_rollback

# pytest puts this directory on sys.path (rootdir-relative, no package): docker_support is beside it.
from docker_support import APP, docker, ensure_images, ensure_swarm, served

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PREFIX = 'ops-rb-swarm-'
# Only for the test's own set-up waits; the module's waits are what is tested.
SETUP_TIMEOUT = 120


@pytest.fixture(scope='session')
def images():
    ensure_swarm()
    return ensure_images()


@pytest.fixture(scope='session')
def engine():
    return docker_sdk.from_env()


class Service:
    """One test's service, published in host mode on its own port; removed (with its configs) afterwards."""

    def __init__(self, engine, name, port):
        self.engine, self.name, self.port = engine, PREFIX + name, port

    def create(self, tag, failure_action='pause'):
        docker('service', 'create', '--detach', '--name', self.name, '--publish',
               'mode=host,published={0},target=8080'.format(self.port), '--update-delay', '0s',
               '--update-monitor', '1s', '--update-failure-action', failure_action, '--rollback-delay', '0s',
               '--rollback-monitor', '1s', '--restart-delay', '1s', image(tag))
        self.converge(tag)
        return self

    def deploy(self, tag, wait=True):
        docker('service', 'update', '--detach', '--image', image(tag), self.name)
        if wait:
            self.converge(tag)

    def inspect(self):
        return self.engine.api.inspect_service(self.name)

    def running_tasks(self):
        return [t for t in self.engine.api.tasks(filters={'service': self.name}) if t['DesiredState'] == 'running']

    def converge(self, tag):
        self.until(lambda: self.runs() == [image_ids()[tag]], 'tasks running ' + tag)

    def until(self, predicate, what):
        deadline = time.monotonic() + SETUP_TIMEOUT
        while not predicate():
            assert time.monotonic() < deadline, 'set-up: {0}: no {1}'.format(self.name, what)
            time.sleep(0.3)

    def runs(self):
        """The image IDs the containers of the running tasks run (sorted), as docker inspect says."""
        ids = []
        for task in self.running_tasks():
            container = (task['Status'].get('ContainerStatus') or {}).get('ContainerID')
            if task['Status']['State'] != 'running' or not container:
                return None
            ids.append(self.engine.api.inspect_container(container)['Image'])
        return sorted(ids)

    def update_state(self):
        return (self.inspect().get('UpdateStatus') or {}).get('State')

    def ledger(self):
        config = self.config('ledger')
        return json.loads(config['Spec']['Labels']['ops.rollback.ledger']) if config else []

    def config(self, kind):
        try:
            return self.engine.api.inspect_config('ops-rollback-{0}.{1}'.format(kind, self.name))
        except docker_sdk.errors.NotFound:
            return None

    def remove(self):
        docker('service', 'rm', self.name, check=False)
        for kind in ('ledger', 'lock'):
            docker('config', 'rm', 'ops-rollback-{0}.{1}'.format(kind, self.name), check=False)


_IDS = {}


def image_ids():
    return _IDS


def image(tag):
    return '{0}:{1}'.format(APP, tag)


@pytest.fixture
def service(images, engine, request):
    _IDS.update(images)
    made = []

    def make(port):
        svc = Service(engine, request.node.name.replace('test_', '')[:30].replace('_', '-').strip('-'), port)
        svc.remove()
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.remove()


def roll(run_module, svc, **extra):
    args = dict(name=svc.name, wait_timeout=90, _ansible_diff=True)
    args.update(extra)
    return run_module(swarm_rollback.main, args)


def test_previous_is_the_previous_spec_through_the_engine_rollback_and_never_toggles(run_module, service):
    svc = service(18931).create('v1')
    svc.deploy('v2')
    assert served(svc.port) == 'v2'
    rc, result = roll(run_module, svc, rolled_back_from='v2', note='INC-1: 5xx')
    assert rc == 0 and result['changed'], result
    assert (result['from_version'], result['to_version'], result['rule']) == ('v2', 'v1', 'release-before-current')
    assert result['method'] == 'engine-rollback'
    assert result['images'] == {'before': image('v2'), 'after': image('v1')}
    assert result['update_status'] == 'rollback_completed'
    assert [t['image'] for t in result['tasks']] == [image('v1')] and result['tasks'][0]['state'] == 'running'
    assert svc.runs() == [image_ids()['v1']] and served(svc.port) == 'v1'
    assert result['diff'] == {'before': 'image: {0}\nv2: none\n'.format(image('v2')),
                              'after': 'image: {0}\nv2: bad\n'.format(image('v1'))}
    assert [(e['version'], e['state'], e['note']) for e in svc.ledger()] == [('v2', 'bad', 'INC-1: 5xx')]
    # The ledger's label is compact JSON on its own config: the service's labels and PreviousSpec are untouched.
    raw = svc.config('ledger')['Spec']['Labels']['ops.rollback.ledger']
    assert ', ' not in raw and ': ' not in raw.replace('INC-1: 5xx', '')
    assert 'ops.rollback.ledger' not in (svc.inspect()['Spec'].get('Labels') or {})
    index = svc.inspect()['Version']['Index']
    # Again: v1 runs and v2 is bad, so previous is where it is; nothing toggles back to v2.
    rc, again = roll(run_module, svc, rolled_back_from='v2')
    assert rc == 0 and not again['changed'] and again['to_version'] == 'v1', again
    assert svc.inspect()['Version']['Index'] == index and svc.runs() == [image_ids()['v1']]
    # The verified target is recorded good beside it.
    rc, recorded = roll(run_module, svc, state='recorded', version='v1', rolled_back_from='v2', note='verified')
    assert rc == 0 and recorded['changed'] and recorded['good'] == ['v1'] and recorded['bad'] == ['v2'], recorded
    assert [(e['version'], e['state']) for e in svc.ledger()] == [('v2', 'bad'), ('v1', 'good')]


def test_explicit_tag_then_digest_update_the_image_only(run_module, service):
    svc = service(18932).create('v2')
    before = svc.inspect()['Spec']
    rc, result = roll(run_module, svc, version='v1')
    assert rc == 0 and result['changed'] and result['rule'] == 'explicit', result
    assert result['method'] == 'image-update' and result['to_version'] == 'v1'
    assert result['target'] == {'image': image('v1'), 'digest': None, 'id': image_ids()['v1']}
    assert svc.runs() == [image_ids()['v1']] and served(svc.port) == 'v1'
    after = svc.inspect()['Spec']
    assert after['TaskTemplate']['ContainerSpec']['Image'] == image('v1')
    # The spec is the same otherwise.
    after['TaskTemplate']['ContainerSpec']['Image'] = before['TaskTemplate']['ContainerSpec']['Image']
    assert after == before
    # A digest (here the image ID: images built here have no repository digest), with a rollout of its own.
    rc, result = roll(run_module, svc, version=image_ids()['v2'],
                      rollback_config={'parallelism': 1, 'delay': 0, 'monitor': 1, 'order': 'stop-first'})
    assert rc == 0 and result['changed'] and result['to_version'] == 'v2', result
    assert result['method'] == 'image-update'
    assert svc.runs() == [image_ids()['v2']] and served(svc.port) == 'v2'
    config = svc.inspect()['Spec']['RollbackConfig']
    assert (config['Monitor'], config['Order'], config['Parallelism']) == (1000000000, 'stop-first', 1)
    rc, again = roll(run_module, svc, version=image_ids()['v2'])
    assert rc == 0 and not again['changed'], again


def test_check_mode_reports_the_plan_and_changes_nothing(run_module, service):
    svc = service(18933).create('v1')
    svc.deploy('v2')
    index = svc.inspect()['Version']['Index']
    rc, result = roll(run_module, svc, rolled_back_from='v2', _ansible_check_mode=True)
    assert rc == 0 and result['changed'] and result['to_version'] == 'v1', result
    assert "engine's rollback" in result['plan'][-1] and result['plan'][0].startswith('record v2 as bad')
    assert result['diff']['after'].startswith('image: ' + image('v1'))
    assert svc.inspect()['Version']['Index'] == index and svc.runs() == [image_ids()['v2']]
    assert svc.config('ledger') is None and served(svc.port) == 'v2'


def test_a_target_whose_tasks_exit_fails_with_their_errors_then_the_paused_service_is_recovered(
        run_module, service):
    svc = service(18934).create('v2')
    rc, result = roll(run_module, svc, version='v3-broken')
    assert rc == 1, result
    assert 'v3-broken' in result['msg'] and 'exit' in result['msg'], result['msg']
    assert result['failed_tasks'] and result['failed_tasks'][0]['image'] == image('v3-broken')
    # The engine pauses the failed update (failure_action pause); the previous spec still runs v2.
    svc.until(lambda: svc.update_state() == 'paused', 'paused update')
    rc, result = roll(run_module, svc)
    assert rc == 0 and result['changed'] and result['to_version'] == 'v2', result
    assert result['resumed']['state'] == 'paused'
    assert '{0} was left paused by an earlier update'.format(svc.name) in str(result['warnings']), result
    assert svc.runs() == [image_ids()['v2']] and served(svc.port) == 'v2'
    assert svc.update_state() == 'rollback_completed'


def test_a_rollback_the_engine_already_made_is_reported_not_repeated(run_module, service):
    svc = service(18935).create('v1', failure_action='rollback')
    svc.deploy('v2')
    svc.deploy('v3-broken', wait=False)
    svc.until(lambda: svc.update_state() == 'rollback_completed', 'rollback by the engine')
    svc.converge('v2')
    index = svc.inspect()['Version']['Index']
    rc, listed = roll(run_module, svc, state='listed')
    assert rc == 0 and listed['platform_rollback']['failed_version'] == 'v3-broken', listed
    rc, result = roll(run_module, svc)
    assert rc == 0 and not result['changed'] and result['rule'] == 'already-rolled-back', result
    assert result['engine_rollback']['restored'] == 'v2'
    assert 'The engine already rolled swarm service {0} back from v3-broken to v2'.format(svc.name) in str(
        result['warnings']), result
    assert svc.inspect()['Version']['Index'] == index and svc.runs() == [image_ids()['v2']]


def test_bad_inputs_are_refused_with_nothing_changed(run_module, service):
    svc = service(18936).create('v2')
    index = svc.inspect()['Version']['Index']
    rc, result = run_module(swarm_rollback.main, dict(name=PREFIX + 'no-such-service'))
    assert rc == 1 and 'no such service' in result['msg'] and svc.name in result['msg'], result
    rc, result = roll(run_module, svc, version='v9')
    assert rc == 1 and 'v9' in result['msg'] and 'v1' in result['msg'] and 'v3-broken' in result['msg'], result
    rc, result = roll(run_module, svc, version='v1; rm -rf /')
    assert rc == 1 and not result['changed'], result
    rc, result = roll(run_module, svc, version='v1', docker_host='tcp://127.0.0.1:1')
    assert rc == 1 and 'Cannot reach the Docker engine at tcp://127.0.0.1:1' in result['msg'], result
    rc, result = roll(run_module, svc, state='listed', rollback_config={'parallelism': 1})
    assert rc == 1 and 'rollback_config' in result['msg'], result
    assert svc.inspect()['Version']['Index'] == index and svc.runs() == [image_ids()['v2']]
    assert svc.config('ledger') is None and svc.config('lock') is None


def _ansible_listed(name, owner):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1')
    # Two controllers (an AWX job and a laptop): a run of this one that already ended would be taken over.
    args = json.dumps({'name': name, 'state': 'listed',
                       'lock': {'owner': owner, 'holder': {'controller': owner + '.example'}}})
    out = subprocess.run(['ansible', 'localhost', '-c', 'local', '-m', 'ops.rollback.swarm_rollback', '-a', args],
                         env=env, capture_output=True, text=True, cwd=REPO, check=False)
    return json.loads(out.stdout)['plays'][0]['tasks'][0]['hosts']['localhost']


def test_two_concurrent_rollbacks_one_takes_the_lock_the_other_is_refused_naming_it(run_module, service):
    svc = service(18937).create('v2')
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda owner: (owner, _ansible_listed(svc.name, owner)), ['run-a', 'run-b']))
    won = [(o, r) for o, r in results if not r.get('failed')]
    lost = [(o, r) for o, r in results if r.get('failed')]
    assert len(won) == 1 and len(lost) == 1, results
    winner = won[0][0]
    assert 'run {0} by root@{0}.example'.format(winner) in lost[0][1]['msg'], lost
    assert 'Another rollback' in lost[0][1]['msg'] and not lost[0][1]['changed']
    lock = json.loads(base64.b64decode(svc.config('lock')['Spec']['Data']))
    assert lock['owner'] == winner and lock['holder']['pid']
    # The winner releases it; the other one's unlock leaves it alone, and then it can take it.
    rc, result = roll(run_module, svc, state='unlocked', lock={'owner': lost[0][0]})
    assert rc == 0 and not result['changed'] and svc.config('lock') is not None
    rc, result = roll(run_module, svc, state='unlocked', lock={'owner': winner})
    assert rc == 0 and result['changed'] and svc.config('lock') is None, result
    assert svc.runs() == [image_ids()['v2']]


def test_the_rollback_playbook_rolls_a_swarm_service_back_records_it_and_converges_again(ansible, service):
    svc = service(18938).create('v1')
    svc.deploy('v2')
    ansible.write_inventory({'all': {'children': {'web': {'hosts': {'web-swarm': {
        'ansible_connection': 'local',
        'ansible_python_interpreter': '{{ ansible_playbook_python }}',
        'rollback_platform': 'swarm',
        'rollback_service': 'web',
        'swarm_service': svc.name,
        'swarm_wait_timeout': 90,
        'rollback_health_endpoints': [{'url': 'http://127.0.0.1:{0}/'.format(svc.port), 'body_regex': '^v1$'}],
        'rollback_health_delay': 0.5,
    }}}}}})
    out = ansible.rollback('web', '-e', 'reason="error rate 8%"')
    assert re.search(r'web-swarm\s+v2 -> v1\s+ok', out), out[-3000:]
    assert svc.runs() == [image_ids()['v1']] and served(svc.port) == 'v1'
    assert [(e['version'], e['state']) for e in svc.ledger()] == [('v2', 'bad'), ('v1', 'good')]
    assert svc.config('lock') is None
    index = svc.inspect()['Version']['Index']
    again = ansible.rollback('web', '-e', 'reason="error rate 8%"')
    assert ansible.recap_changed(again, 'web-swarm') == 0, again[-3000:]
    assert svc.inspect()['Version']['Index'] == index and svc.config('lock') is None
