# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose_rollback on the real engine with Debian's docker-compose 1.29.2, no registry.

Every test deploys a project of its own (a temporary directory, ports on
127.0.0.1:187xx) from images built here (compose_support.py), rolls it back
with the module and asserts what a user sees: the version served over HTTP,
the image the container runs, the pin files' contents.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid

import pytest

from ansible_collections.ops.rollback.plugins.modules import compose_rollback

import compose_support as cs

pytestmark = pytest.mark.skipif(not os.path.exists(cs.DOCKER), reason='needs the Docker engine')

OVERRIDE = 'docker-compose.ops-rollback.yml'


@pytest.fixture(scope='session')
def images():
    return cs.build_all()


@pytest.fixture
def make_project(tmp_path, images):
    made = []

    def make(ports, deploy=None, **kwargs):
        project = cs.Project(str(tmp_path), 'opsrbc' + uuid.uuid4().hex[:8], ports, **kwargs)
        made.append(project)
        project.up()
        for service in ports:
            project.wait_healthy(service)
        if deploy:
            for service, served in deploy.items():
                assert project.served(service) == served
        return project

    yield make
    for project in made:
        project.remove()


def ids(project, service):
    return [c['Id'] for c in project.containers(service)]


def test_previous_pins_the_image_that_ran_before_and_a_second_run_changes_nothing(run_module, make_project, images):
    project = make_project({'app': 18760}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    args = dict(project_src=project.src, rolled_back_from='v2', note='INC-1: 5xx')
    rc, result = run_module(compose_rollback.main, args)
    assert rc == 0 and result['changed'], result
    assert project.served('app') == 'v1'
    assert project.running_image('app') == [images['v1']]
    assert (result['from_version'], result['to_version'], result['rule']) == ('v2', 'v1', 'release-before-current')
    # The tag variable cannot hold an image ID: auto pins it in the override file, .env is left alone.
    assert 'image: "{0}"'.format(images['v1']) in project.read(OVERRIDE)
    assert project.read('.env') == 'APP_VERSION=v2\n'
    app = result['services']['app']
    assert app['pin']['mode'] == 'override' and app['previous_pin']['image_id'] == images['v2']
    assert json.loads(project.read('.ops-rollback/ledger.json'))['services']['app'][0]['state'] == 'bad'
    pins = json.loads(project.read('.ops-rollback/pins.json'))['services']['app']
    assert pins[-1]['previous']['image'] == 'ops-rollback-compose-app:v2'

    before = (ids(project, 'app'), project.read(OVERRIDE))
    rc, again = run_module(compose_rollback.main, args)
    assert rc == 0 and not again['changed'], again
    assert again['to_version'] == 'v1' and (ids(project, 'app'), project.read(OVERRIDE)) == before
    assert project.served('app') == 'v1'


def test_explicit_tag_pinned_in_the_variable_of_the_whole_image(run_module, make_project, images):
    project = make_project({'app': 18761}, image='${{APP_IMAGE}}', env={'APP_IMAGE': cs.REPO + ':v2'},
                           deploy={'app': 'v2'})
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version='v1'))
    assert rc == 0 and result['changed'], result
    assert project.served('app') == 'v1'
    assert project.read('.env') == 'APP_IMAGE={0}\n'.format(images['v1'])
    assert project.read(OVERRIDE) is None
    assert result['services']['app']['pin']['variable'] == 'APP_IMAGE'
    assert result['services']['app']['previous_pin']['value'] == cs.REPO + ':v2'
    # Previous, now: the pin of that rollback is in force, so nothing goes one more step back.
    rc, again = run_module(compose_rollback.main, dict(project_src=project.src))
    assert rc == 0 and not again['changed'] and again['rule'] == 'already-rolled-back', again
    assert project.read('.env') == 'APP_IMAGE={0}\n'.format(images['v1'])
    # A plain `up` of the user's own files runs the pin too.
    project.up('--force-recreate', with_override=False)
    project.wait_healthy('app')
    assert project.served('app') == 'v1'


def test_pin_variable_of_a_tag_writes_the_tag_and_says_it_is_not_exact(run_module, make_project, images):
    project = make_project({'app': 18762}, env={'APP_VERSION': 'v2', 'OTHER': 'kept'}, deploy={'app': 'v2'})
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version='v1', pin='variable'))
    assert rc == 0 and result['changed'], result
    assert project.served('app') == 'v1' and project.running_image('app') == [images['v1']]
    assert project.read('.env') == 'APP_VERSION=v1\nOTHER=kept\n'
    assert 'has no digest' in str(result.get('warnings')), result


def test_a_per_service_map_recreates_only_the_services_named(run_module, make_project, images):
    project = make_project({'app': 18763, 'worker': 18764}, image='{repo}:${{{service}_VERSION}}',
                           env={'APP_VERSION': 'v2', 'WORKER_VERSION': 'v2'}, deploy={'app': 'v2', 'worker': 'v2'})
    worker = ids(project, 'worker')
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version={'app': 'v1'}))
    assert rc == 0 and result['changed'] and sorted(result['services']) == ['app'], result
    assert (project.served('app'), project.served('worker')) == ('v1', 'v2')
    assert ids(project, 'worker') == worker

    rc, result = run_module(compose_rollback.main, dict(project_src=project.src,
                                                        version={'app': 'v1', 'worker': 'v1'}))
    assert rc == 0 and result['changed'], result
    assert not result['services']['app']['changed'] and result['services']['worker']['changed']
    assert (project.served('app'), project.served('worker')) == ('v1', 'v1')
    assert result['to_version'] == 'v1' and result['from_version'] == 'app=v1, worker=v2'


def test_a_digest_names_the_image(run_module, make_project, images):
    project = make_project({'app': 18765}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version=images['v1'],
                                                        pin='override'))
    assert rc == 0 and result['changed'], result
    assert result['to_version'] == 'v1' and project.served('app') == 'v1'
    assert project.running_image('app') == [images['v1']]


def test_a_moved_tag_does_not_change_what_the_rollback_brings_back_and_the_rollback_can_be_undone(
        run_module, make_project, images):
    project = make_project({'app': 18766}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version='v1'))
    assert rc == 0 and project.served('app') == 'v1', result
    kept = result['services']['app']['previous_pin']
    assert kept['image_id'] == images['v2']
    moved = []
    try:
        # CI rebuilds both tags with other content: v1 and v2 now name images that never ran here.
        moved.append(cs.build('v1', served='v1-rebuilt', force=True))
        moved.append(cs.build('v2', served='v2-rebuilt', force=True))
        # The next `up` (with the pin) still runs the image that was rolled back to.
        project.up('--force-recreate')
        project.wait_healthy('app')
        assert project.served('app') == 'v1'
        # Undo: the kept pin brings back exactly the image that ran, not what the tag v2 names now.
        rc, undo = run_module(compose_rollback.main, dict(project_src=project.src, version=kept['image_id']))
        assert rc == 0 and undo['changed'], undo
        assert project.served('app') == 'v2'
        assert project.running_image('app') == [images['v2']]
    finally:
        project.remove()
        cs.docker('tag', images['v1'], cs.REPO + ':v1')
        cs.docker('tag', images['v2'], cs.REPO + ':v2')
        for image in moved:
            cs.docker('rmi', image, check=False)


@pytest.mark.parametrize('tag, words', [
    ('v3-broken', ['unhealthy', 'health check failed: v3-broken answers 500']),
    ('v4-exits', ['exited, exit code 3', 'v4-exits: cannot start, no configuration']),
])
def test_an_unhealthy_target_fails_naming_why_and_is_left_as_it_is(run_module, make_project, images, tag, words):
    project = make_project({'app': 18767}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version=tag, wait_timeout=60))
    assert rc == 1, result
    for word in words:
        assert word in result['msg']
    assert 'left as it is' in result['msg']
    assert project.running_image('app') == [images[tag]]
    assert images[tag] in project.read(OVERRIDE)


def test_a_target_still_starting_at_the_timeout_fails_saying_so(run_module, tmp_path, images):
    # Healthy at once on the first deploy (v2), then a check every minute: the target stays "starting".
    project = cs.Project(str(tmp_path), 'opsrbc' + uuid.uuid4().hex[:8], {'app': 18775}, env={'APP_VERSION': 'v2'},
                         service_lines=['healthcheck:', '  test: ["CMD", "python3", "/app.py", "health"]',
                                        '  interval: 60s', '  start_period: 0s'])
    try:
        project.up()
        rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version='v1', wait_timeout=2))
        assert rc == 1, result
        assert 'did not become running and healthy within 2 s' in result['msg'] and '(starting)' in result['msg']
        assert project.running_image('app') == [images['v1']]
    finally:
        project.remove()


@pytest.mark.parametrize('case', ['unknown service', 'tag not on the engine', 'project_src missing',
                                  'engine unreachable', 'map of an unknown service'])
def test_bad_input_is_refused_with_nothing_changed(run_module, make_project, images, monkeypatch, case):
    project = make_project({'app': 18768}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    args, words = {
        'unknown service': (dict(services=['nope'], version='v1'), 'has no service nope (services: app)'),
        'tag not on the engine': (dict(version='v9.9.9'), 'to v9.9.9: no such version'),
        'project_src missing': (dict(project_src=project.src + '-missing', version='v1'), 'is not a directory'),
        'engine unreachable': (dict(version='v1'), 'Cannot reach the Docker engine at tcp://127.0.0.1:1'),
        'map of an unknown service': (dict(version={'app': 'v1', 'nope': 'v1'}), 'has no service nope'),
    }[case]
    before = (ids(project, 'app'), project.read('.env'), project.read(OVERRIDE))
    if case == 'engine unreachable':
        monkeypatch.setenv('DOCKER_HOST', 'tcp://127.0.0.1:1')
    rc, result = run_module(compose_rollback.main, dict(dict(project_src=project.src), **args))
    monkeypatch.delenv('DOCKER_HOST', raising=False)
    assert rc == 1 and words in result['msg'], result
    assert (ids(project, 'app'), project.read('.env'), project.read(OVERRIDE)) == before
    assert not os.path.exists(os.path.join(project.src, '.ops-rollback', 'pins.json'))
    assert project.served('app') == 'v2'


def test_check_mode_reports_the_plan_and_the_diff_and_changes_nothing(run_module, make_project, images):
    project = make_project({'app': 18769}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    before = (ids(project, 'app'), project.read('.env'), project.read(OVERRIDE))
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version='v1',
                                                        _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and result['changed'], result
    assert result['diff']['before'].startswith(OVERRIDE + ': services.app.image: (no pin)\n')
    assert result['diff']['after'].startswith('{0}: services.app.image: {1}\n'.format(OVERRIDE, images['v1']))
    assert any(step.startswith('recreate app') for step in result['plan'])
    assert (ids(project, 'app'), project.read('.env'), project.read(OVERRIDE)) == before
    assert not os.path.exists(os.path.join(project.src, '.ops-rollback'))
    assert project.served('app') == 'v2'


def _module_process(args):
    path = os.path.join(args['project_src'], '..', 'args-{0}.json'.format(uuid.uuid4().hex[:6]))
    with open(path, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    collections = os.path.join(os.path.dirname(__file__), '..', '..', '.collections')
    env = dict(os.environ, PYTHONPATH=os.path.abspath(collections))
    return subprocess.Popen([sys.executable, '-m', 'ansible_collections.ops.rollback.plugins.modules.compose_rollback',
                             path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def test_two_concurrent_rollbacks_one_runs_the_other_is_refused(make_project, images):
    project = make_project({'app': 18770}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    runs = [_module_process(dict(project_src=project.src, version='v1')) for _run in range(2)]
    results = [json.loads(run.communicate()[0]) for run in runs]
    ok = [r for r in results if not r.get('failed')]
    refused = [r for r in results if r.get('failed')]
    assert len(ok) == 1 and len(refused) == 1, results
    assert 'Another rollback' in refused[0]['msg'] and 'lock' in refused[0]['msg']
    assert project.served('app') == 'v1'
    assert not os.path.exists(os.path.join(project.src, '.ops-rollback', 'lock'))


def test_the_lock_of_a_killed_task_is_taken_over(run_module, make_project, images):
    project = make_project({'app': 18774}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    os.makedirs(os.path.join(project.src, '.ops-rollback'))
    with open(os.path.join(project.src, '.ops-rollback', 'lock'), 'w') as handle:
        json.dump({'owner': 'compose_rollback-0123456789ab', 'acquired_at': '2026-01-01T00:00:00Z',
                   'expires_at': '2099-01-01T00:00:00Z',
                   'holder': {'user': 'root', 'controller': socket.gethostname(), 'pid': dead.pid}}, handle)
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version='v1'))
    assert rc == 0 and project.served('app') == 'v1', result
    assert 'no longer runs' in str(result.get('warnings'))
    assert not os.path.exists(os.path.join(project.src, '.ops-rollback', 'lock'))


def test_the_runs_lock_listed_recorded_unlocked(run_module, make_project, images):
    project = make_project({'app': 18771}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    lock_path = os.path.join(project.src, '.ops-rollback', 'lock')
    rc, listed = run_module(compose_rollback.main, dict(project_src=project.src, state='listed',
                                                        lock=dict(owner='run-1')))
    assert rc == 0 and listed['current'] == 'v2' and listed['syntax'] == 'image', listed
    assert [e['version'] for e in listed['history']][:2] == ['v1', 'v2']
    with open(lock_path) as handle:
        assert json.load(handle)['owner'] == 'run-1'
    # Another run is refused while run-1 holds the lock; run-1 itself rolls back under it.
    rc, refused = run_module(compose_rollback.main, dict(project_src=project.src, version='v1'))
    assert rc == 1 and 'run-1' in refused['msg'] and project.served('app') == 'v2'
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version='v1', rolled_back_from='v2',
                                                        lock=dict(owner='run-1')))
    assert rc == 0 and project.served('app') == 'v1' and os.path.exists(lock_path), result
    rc, recorded = run_module(compose_rollback.main, dict(project_src=project.src, state='recorded', version='v1',
                                                          rolled_back_from='v2'))
    assert rc == 0 and recorded['good'] == ['v1'] and recorded['bad'] == ['v2'], recorded
    rc, unlocked = run_module(compose_rollback.main, dict(project_src=project.src, state='unlocked',
                                                          lock=dict(owner='run-1')))
    assert rc == 0 and unlocked['changed'] and not os.path.exists(lock_path)
    # Previous is v1, which runs: the pin of the rollback is in force (and the ledger says v1 good, v2 bad).
    rc, again = run_module(compose_rollback.main, dict(project_src=project.src))
    assert rc == 0 and not again['changed'] and again['to_version'] == 'v1', again
    rc, listed = run_module(compose_rollback.main, dict(project_src=project.src, state='listed'))
    assert listed['good'] == ['v1'] and listed['bad'] == ['v2'] and 'pinned app to v1' in \
        listed['platform_rollback']['message'], listed


def test_what_was_waited_on_is_reported(run_module, make_project, images):
    project = make_project({'app': 18772}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    rc, result = run_module(compose_rollback.main, dict(project_src=project.src, version='v1'))
    assert rc == 0 and result['services']['app']['waited']['health'] == ['healthy'], result
    names = [c['Name'].lstrip('/') for c in project.containers('app')]
    assert result['services']['app']['waited']['containers'] == names


def test_the_rollback_playbook_rolls_the_project_back_then_finds_it_there(ansible, make_project, images):
    project = make_project({'app': 18773}, env={'APP_VERSION': 'v2'}, deploy={'app': 'v2'})
    ansible.write_inventory({'all': {'hosts': {'shop': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
        'rollback_platform': 'compose', 'compose_project_src': project.src,
        'rollback_health_endpoints': [{'url': 'http://127.0.0.1:18773/', 'body_regex': '^v1$'}],
        'rollback_health_delay': 1}}}})
    out = ansible.run('ansible-playbook', 'playbooks/rollback.yml', '-e', 'reason="v2 answers 500"')
    assert 'shop  v2 -> v1  ok' in out, out[-3000:]
    assert project.served('app') == 'v1' and project.running_image('app') == [images['v1']]
    ledger = json.loads(project.read('.ops-rollback/ledger.json'))['services']['app']
    assert [(e['version'], e['state']) for e in ledger] == [('v2', 'bad'), ('v1', 'good')]
    assert not os.path.exists(os.path.join(project.src, '.ops-rollback', 'lock'))
    containers = ids(project, 'app')
    out = ansible.run('ansible-playbook', 'playbooks/rollback.yml', '-e', 'reason="again"')
    assert 'target v1 (rule: already-rolled-back)' in out and 'already there' in out, out[-3000:]
    assert ids(project, 'app') == containers and project.served('app') == 'v1'
