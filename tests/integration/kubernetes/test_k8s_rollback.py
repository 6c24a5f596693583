# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_rollback against a real API server, controllers and scheduler.

Each test deploys real workloads with kubectl, as a user's pipeline would,
breaks them the way production breaks (an image that crash-loops or cannot
be pulled), runs the module, and reads back what the cluster runs.
"""
from __future__ import annotations

import json

import pytest

REGISTRY = 'registry.local/shop/web'
DIGEST = 'sha256:' + 'ab' * 32


class Workloads:
    """Deploy and break workloads in one namespace, and read back what runs."""

    def __init__(self, kube, namespace):
        self.kube = kube
        self.namespace = namespace

    def deploy(self, kind, name, *versions, container='web', wait=True, **spec):
        """Roll out each version in turn, as successive deploys would."""
        for version in versions:
            images = version if isinstance(version, dict) else {container: '{0}:{1}'.format(REGISTRY, version)}
            self.kube.deploy(self.namespace, kind, name, images, wait=wait, **spec)

    def running(self, name, timeout=60):
        """The images the live pods run, and whether all of them are ready.

        A rollout is complete before every pod of the old version is marked terminating: this waits (polling,
        up to ``timeout`` seconds) until the live pods run one set of images, then returns what it sees.
        """
        def image_sets(pods):
            return sorted(set(images for images, _ready in pods.values()))
        live = self.kube.until(lambda: self.kube.running_images(self.namespace, 'app=' + name),
                               lambda seen: len(image_sets(seen)) == 1, timeout=timeout)
        return image_sets(live), all(ready for _images, ready in live.values())

    def obj(self, kind, name):
        return self.kube.get(self.namespace, kind.lower(), name)

    def annotations(self, kind, name):
        return self.kube.annotations(self.namespace, kind, name)


@pytest.fixture
def workloads(kube, namespace):
    return Workloads(kube, namespace)


def image(version):
    return ('{0}:{1}'.format(REGISTRY, version),)


@pytest.mark.parametrize('kind', ['Deployment', 'StatefulSet', 'DaemonSet'])
def test_previous_version_then_again_changes_nothing(workloads, roll, kind):
    workloads.deploy(kind, 'web', 'v1.0.0', 'v1.1.0')
    workloads.deploy(kind, 'web', 'v1.2.0-crashloop', wait=False)
    code, result = roll(kind=kind, name='web', rolled_back_from='v1.2.0-crashloop', recreate_stuck_pods=True)
    assert code == 0, result
    assert (result['changed'], result['from_version'], result['to_version'], result['rule']) == (
        True, 'v1.2.0-crashloop', 'v1.1.0', 'release-before-current')
    assert workloads.running('web') == ([image('v1.1.0')], True)
    assert result['waited']['rollout'] == 'complete'
    ledger = json.loads(workloads.annotations(kind, 'web')['ops.rollback/ledger'])
    assert [(e['version'], e['state']) for e in ledger] == [('v1.2.0-crashloop', 'bad')]
    # Again: already there. kubectl rollout undo would toggle back to the broken version here.
    code, result = roll(kind=kind, name='web', rolled_back_from='v1.2.0-crashloop')
    assert (code, result['changed'], result['to_version']) == (0, False, 'v1.1.0')
    code, result = roll(kind=kind, name='web')
    assert (code, result['changed'], result['to_version']) == (0, False, 'v1.1.0')
    assert workloads.running('web') == ([image('v1.1.0')], True)


@pytest.mark.parametrize('kind', ['Deployment', 'StatefulSet', 'DaemonSet'])
def test_explicit_version_and_revision(workloads, roll, kind):
    workloads.deploy(kind, 'web', 'v1.0.0', 'v1.1.0', 'v1.2.0')
    code, result = roll(kind=kind, name='web', version='v1.0.0')
    assert (code, result['changed'], result['rule'], result['to_version']) == (0, True, 'explicit', 'v1.0.0'), result
    assert workloads.running('web') == ([image('v1.0.0')], True)
    listed = roll(kind=kind, name='web', state='listed')[1]
    revision = next(e['revision'] for e in listed['history'] if e['version'] == 'v1.2.0')
    code, result = roll(kind=kind, name='web', revision=revision)
    assert (code, result['changed'], result['rule'], result['to_version']) == (0, True, 'revision', 'v1.2.0'), result
    assert workloads.running('web') == ([image('v1.2.0')], True)
    # The same task again: the revision was renumbered, and is still found, unchanged.
    code, result = roll(kind=kind, name='web', revision=revision)
    assert (code, result['changed']) == (0, False), result


def test_full_image_reference_and_digest_name_a_version(workloads, roll):
    workloads.deploy('Deployment', 'web', 'v1.0.0', {'web': '{0}@{1}'.format(REGISTRY, DIGEST)}, 'v1.2.0')
    code, result = roll(name='web', version=DIGEST)
    assert (code, result['to_version']) == (0, DIGEST), result
    assert workloads.running('web') == ([('{0}@{1}'.format(REGISTRY, DIGEST),)], True)
    code, result = roll(name='web', version='{0}:v1.0.0'.format(REGISTRY))
    assert (code, result['changed'], result['to_version']) == (0, True, 'v1.0.0'), result
    assert workloads.running('web') == ([image('v1.0.0')], True)


def test_container_names_whose_image_is_the_version(workloads, roll):
    def images(app, sidecar):
        return {'proxy': 'registry.local/proxy:{0}'.format(sidecar), 'web': '{0}:{1}'.format(REGISTRY, app)}
    workloads.deploy('Deployment', 'web', images('v1.0.0', 'p1'), images('v1.1.0', 'p1'), images('v1.1.0', 'p2'))
    code, result = roll(name='web', container='web', version='v1.0.0')
    assert (code, result['to_version']) == (0, 'v1.0.0'), result
    assert result['images']['after'] == images('v1.0.0', 'p1')
    assert workloads.running('web') == ([('registry.local/proxy:p1', '{0}:v1.0.0'.format(REGISTRY))], True)
    code, result = roll(name='web', container='nginx', version='v1.0.0')
    assert code == 1 and "Container 'nginx' is not in the pod template" in result['msg'] and 'proxy, web' in result['msg']


def test_check_mode_reports_the_plan_and_diff_and_changes_nothing(workloads, roll):
    workloads.deploy('Deployment', 'web', 'v1.0.0', 'v1.1.0')
    before = workloads.obj('Deployment', 'web')
    code, result = roll(name='web', version='v1.0.0', rolled_back_from='v1.1.0', _ansible_check_mode=True,
                        _ansible_diff=True)
    assert (code, result['changed'], result['to_version'], result['to_revision']) == (0, True, 'v1.0.0', 1), result
    assert any('revision 1' in step for step in result['plan'])
    assert '-  - image: {0}:v1.1.0'.format(REGISTRY) not in result['diff']['after']
    assert 'image: {0}:v1.0.0'.format(REGISTRY) in result['diff']['after']
    assert 'image: {0}:v1.1.0'.format(REGISTRY) in result['diff']['before']
    after = workloads.obj('Deployment', 'web')
    assert after['metadata']['resourceVersion'] == before['metadata']['resourceVersion']
    assert workloads.running('web') == ([image('v1.1.0')], True)


def test_deployment_annotations_kept_and_change_cause_follows_the_template(workloads, roll, kube, namespace):
    workloads.deploy('Deployment', 'web', 'v1.0.0')
    kube.kubectl('annotate', 'deployment/web', 'kubernetes.io/change-cause=deploy v1.0.0', 'team=shop', namespace=namespace)
    workloads.deploy('Deployment', 'web', 'v1.1.0')
    kube.kubectl('annotate', '--overwrite', 'deployment/web', 'kubernetes.io/change-cause=deploy v1.1.0',
                 namespace=namespace)
    code, result = roll(name='web', version='v1.0.0')
    assert code == 0, result
    annotations = workloads.annotations('Deployment', 'web')
    assert annotations['kubernetes.io/change-cause'] == 'deploy v1.0.0'
    assert annotations['team'] == 'shop'


def test_paused_deployment_is_refused(workloads, roll, kube, namespace):
    workloads.deploy('Deployment', 'web', 'v1.0.0', 'v1.1.0')
    kube.kubectl('rollout', 'pause', 'deployment/web', namespace=namespace)
    code, result = roll(name='web', version='v1.0.0')
    assert code == 1 and 'is paused' in result['msg'] and 'kubectl rollout resume' in result['msg']
    assert workloads.obj('Deployment', 'web')['spec']['template']['spec']['containers'][0]['image'].endswith('v1.1.0')


@pytest.mark.parametrize('args, message', [
    ({'version': 'v9.9.9'}, 'no such version in its history (available: v1.0.0 (revision 1, web={0}:v1.0.0), '
                            'v1.1.0 (revision 2, web={0}:v1.1.0))'.format(REGISTRY)),
    ({'revision': 7}, 'revision 7: not in its history (available: v1.0.0 (revision 1, web={0}:v1.0.0), '
                      'v1.1.0 (revision 2, web={0}:v1.1.0))'.format(REGISTRY)),
    ({'version': 'v1; rm -rf /'}, 'Refusing version'),
    ({'name': 'nope'}, 'There is no deployment nope'),
])
def test_bad_targets_are_clear_errors_and_change_nothing(workloads, roll, args, message):
    workloads.deploy('Deployment', 'web', 'v1.0.0', 'v1.1.0')
    before = workloads.obj('Deployment', 'web')['metadata']['resourceVersion']
    code, result = roll(**dict({'name': 'web'}, **args))
    assert code == 1 and message in result['msg'], result
    assert workloads.obj('Deployment', 'web')['metadata']['resourceVersion'] == before


def test_unknown_kind_is_refused(roll):
    code, result = roll(kind='CronJob', name='web')
    assert code == 1 and 'kind' in result['msg'] and 'Deployment' in result['msg']


def test_credentials_and_reachability_errors(workloads, roll, kube):
    workloads.deploy('Deployment', 'web', 'v1.0.0', 'v1.1.0')
    code, result = roll(name='web', version='v1.0.0', kubeconfig=kube.kubeconfig_nobody)
    assert code == 1 and 'forbidden' in result['msg'] and 'RBAC' in result['msg']
    secret = 'not-a-valid-token-0123456789'
    code, result = roll(name='web', version='v1.0.0', kubeconfig=None, host=kube.host, ca_cert=kube.ca_cert,
                        api_key=secret)
    assert code == 1 and '401 Unauthorized' in result['msg']
    assert secret not in json.dumps(result)
    code, result = roll(name='web', version='v1.0.0', kubeconfig=None, host='https://127.0.0.1:1', api_key=secret)
    assert code == 1 and 'cannot reach the Kubernetes API server at https://127.0.0.1:1' in result['msg']
    assert secret not in json.dumps(result)
    assert workloads.running('web') == ([image('v1.1.0')], True)
    # The admin token, given as host and api_key instead of a kubeconfig, works.
    code, result = roll(name='web', version='v1.0.0', kubeconfig=None, host=kube.host, ca_cert=kube.ca_cert,
                        api_key=kube.tokens['admin'])
    assert (code, result['to_version']) == (0, 'v1.0.0'), result
    assert kube.tokens['admin'] not in json.dumps(result)


def test_stalled_rollout_fails_with_the_pods_reasons(workloads, roll):
    workloads.deploy('Deployment', 'web', 'v1.0.0-pullfail', wait=False)
    workloads.deploy('Deployment', 'web', 'v1.1.0')
    code, result = roll(name='web', version='v1.0.0-pullfail', wait_timeout=3)
    assert code == 1, result
    assert 'did not finish rolling out to v1.0.0-pullfail' in result['msg'] and 'ImagePullBackOff' in result['msg']
    assert result['waited']['rollout'] == 'timeout'
    # Left as it is: the old pods keep serving while the new ones cannot start (two sets of images: no waiting
    # for one).
    images, _ready = workloads.running('web', timeout=0)
    assert image('v1.1.0') in images


def test_stuck_statefulset_is_named_then_recreated(workloads, roll):
    workloads.deploy('StatefulSet', 'db', 'v1.0.0', replicas=3)
    # Waits until the controller has replaced db-2 with the broken version; it then waits for it forever.
    workloads.deploy('StatefulSet', 'db', 'v1.1.0-crashloop', replicas=3)
    code, result = roll(kind='StatefulSet', name='db', version='v1.0.0', wait_timeout=60)
    assert code == 1, result
    assert 'db-2 (CrashLoopBackOff)' in result['msg'] and 'recreate_stuck_pods=true' in result['msg']
    assert result['stuck_pods'] == ['db-2']
    code, result = roll(kind='StatefulSet', name='db', version='v1.0.0', recreate_stuck_pods=True,
                        _ansible_check_mode=True)
    assert code == 0 and any(step.startswith('delete pod db-2') for step in result['plan']), result
    code, result = roll(kind='StatefulSet', name='db', version='v1.0.0', recreate_stuck_pods=True)
    assert (code, result['changed'], result['deleted_pods']) == (0, True, ['db-2']), result
    assert workloads.running('db') == ([image('v1.0.0')], True)


def test_last_applied_configuration_naming_the_bad_version_is_reported(workloads, roll):
    workloads.deploy('Deployment', 'web', 'v1.0.0', 'v1.1.0')
    code, result = roll(name='web', version='v1.0.0')
    assert (code, result['drift']) == (0, '{0}:v1.1.0'.format(REGISTRY)), result


def test_lease_lets_one_run_roll_back_at_a_time(workloads, roll, kube, namespace):
    workloads.deploy('Deployment', 'web', 'v1.0.0')
    first = {'owner': 'run-1', 'holder': {'user': 'alice', 'controller': 'awx-1'}}
    code, result = roll(name='web', state='listed', lock=first)
    assert (code, result['changed'], result['current']) == (0, True, 'v1.0.0'), result
    lease = kube.get(namespace, 'lease', 'ops-rollback-deployment-web')
    assert lease['spec']['holderIdentity'] == 'run-1'
    code, result = roll(name='web', state='listed', lock={'owner': 'run-2'})
    assert code == 1 and 'Another rollback is running here: run run-1 by alice@awx-1' in result['msg'], result
    # The other run cannot release it either; its owner can.
    code, result = roll(name='web', state='unlocked', lock={'owner': 'run-2'})
    assert (code, result['changed']) == (0, False)
    assert kube.get(namespace, 'lease', 'ops-rollback-deployment-web')['spec']['holderIdentity'] == 'run-1'
    code, result = roll(name='web', state='unlocked', lock={'owner': 'run-1'})
    assert (code, result['changed']) == (0, True)
    assert 'NotFound' in kube.kubectl('get', 'lease', 'ops-rollback-deployment-web', namespace=namespace, check=False) \
        or not kube.kubectl('get', 'lease', '-o', 'name', namespace=namespace).strip()
    code, result = roll(name='web', state='listed', lock={'owner': 'run-2'})
    assert (code, result['changed']) == (0, True)


def test_recorded_verdicts_choose_the_previous_good_version(workloads, roll):
    workloads.deploy('Deployment', 'web', 'v1.0.0', 'v1.1.0', 'v1.2.0')
    code, result = roll(name='web', state='recorded', version='v1.0.0')
    assert (code, result['changed'], result['good']) == (0, True, ['v1.0.0'])
    code, result = roll(name='web', state='recorded', version='v1.0.0')
    assert (code, result['changed']) == (0, False)
    # v1.1.0 was never verified good: previous skips it for the newest good version.
    code, result = roll(name='web', rolled_back_from='v1.2.0')
    assert (code, result['rule'], result['to_version']) == (0, 'ledger', 'v1.0.0'), result
    assert workloads.running('web') == ([image('v1.0.0')], True)


def test_rollout_past_its_progress_deadline_fails_with_the_controllers_conditions(workloads, roll):
    workloads.deploy('Deployment', 'web', 'v1.0.0-pullfail', wait=False, progressDeadlineSeconds=5)
    workloads.deploy('Deployment', 'web', 'v1.1.0', progressDeadlineSeconds=5)
    code, result = roll(name='web', version='v1.0.0-pullfail', wait_timeout=120)
    assert code == 1, result
    assert 'failed to roll out to v1.0.0-pullfail' in result['msg'] and 'ProgressDeadlineExceeded' in result['msg']
    assert 'ImagePullBackOff' in result['msg'] and result['waited']['rollout'] == 'failed'
