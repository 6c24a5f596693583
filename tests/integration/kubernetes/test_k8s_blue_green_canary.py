# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_rollback's blue_green and canary strategies against a real API server, controllers and scheduler.

Blue-green: two real Deployments behind a real Service, switched with
kubectl as a release pipeline would; what is asserted is where the
Service's Endpoints send traffic, the selector, the ledger annotation and
the Lease. Canary: a VirtualService under Istio's CRD (registered as a
cluster with Istio has it) in front of a stable and a crash-looping canary
Deployment; what is asserted is the weights read back, the canary's replicas
and pods. The services and what they are read back with: ``Cluster`` and the
``istio_crd`` fixture of conftest.py.
"""
from __future__ import annotations

import json

import pytest

LEDGER = 'ops.rollback/ledger'
COLORS = {'blue': 'web-blue', 'green': 'web-green'}


def blue_green(**args):
    return dict({'strategy': 'blue_green', 'service': 'web', 'deployments': dict(COLORS)}, **args)


STABLE = {'host': 'reviews', 'subset': 'stable', 'deployment': 'reviews-stable'}
CANARY = {'host': 'reviews', 'subset': 'canary', 'deployment': 'reviews-canary'}


def canary(**args):
    return dict({'strategy': 'canary', 'virtual_service': 'reviews', 'route': 'primary', 'stable': dict(STABLE),
                 'canary': dict(CANARY)}, **args)


@pytest.fixture
def green_live_and_bad(cluster):
    """Blue v1 was live; green v2 was deployed and the Service switched to it; now green is found bad."""
    cluster.blue_green_setup()
    return cluster


# --- blue-green ----------------------------------------------------------------------------------------------------

def test_blue_green_switches_back_to_the_previous_color_then_again_changes_nothing(green_live_and_bad, roll):
    cluster = green_live_and_bad
    blue = cluster.ready_ips('app=web,color=blue')
    assert len(blue) == 2 and cluster.endpoint_ips() == cluster.ready_ips('app=web,color=green')

    # Check mode with diff: the plan, checked by the API server, and nothing changed.
    version = cluster.resource_version()
    code, result = roll(**blue_green(rolled_back_from='v2', _ansible_check_mode=True, _ansible_diff=True))
    assert code == 0, result
    assert (result['changed'], result['from_version'], result['to_version'], result['rule']) == (
        True, 'v2', 'v1', 'release-before-current')
    assert result['color'] == {'before': 'green', 'after': 'blue'}
    assert 'color: green\n' in result['diff']['before'] and 'color: blue\n' in result['diff']['after']
    assert 'v2: bad\n' in result['diff']['after']
    assert cluster.resource_version() == version and cluster.ledger('service', 'web') == []

    code, result = roll(**blue_green(rolled_back_from='v2', note='INC-7: green returns 500s'))
    assert code == 0, result
    assert (result['changed'], result['from_version'], result['to_version']) == (True, 'v2', 'v1')
    assert result['selector']['after'] == {'app': 'web', 'color': 'blue'}
    assert result['service']['name'] == 'web' and 'diff' not in result
    # Waited on the endpoint controller: traffic goes to exactly blue's pods.
    assert cluster.selector() == {'app': 'web', 'color': 'blue'}
    assert cluster.endpoint_ips() == blue
    assert result['waited']['endpoints'] == sorted(p['metadata']['name'] for p in cluster.pods('app=web,color=blue'))
    # The version left is recorded as bad on the Service, before the switch; no Deployment was touched.
    assert cluster.ledger('service', 'web') == [('v2', 'bad')]
    assert json.loads(cluster.annotations('service', 'web')[LEDGER])[0]['note'] == 'INC-7: green returns 500s'
    assert cluster.obj('deployment', 'web-green')['spec']['replicas'] == 2

    # Again, the same task and a bare one: already there, nothing written. Never back to green.
    version = cluster.resource_version()
    code, result = roll(**blue_green(rolled_back_from='v2', _ansible_diff=True))
    assert (code, result['changed'], result['to_version'], 'diff' in result) == (0, False, 'v1', False), result
    code, result = roll(**blue_green())
    assert (code, result['changed'], result['from_version'], result['to_version']) == (0, False, 'v1', 'v1'), result
    assert cluster.resource_version() == version and cluster.endpoint_ips() == blue


def test_blue_green_explicit_version_names_the_color_that_runs_it(green_live_and_bad, roll):
    cluster = green_live_and_bad
    code, result = roll(**blue_green(version='{0}:v1'.format(cluster.IMAGE)))
    assert (code, result['changed'], result['rule'], result['to_version']) == (0, True, 'explicit', 'v1'), result
    assert cluster.endpoint_ips() == cluster.ready_ips('app=web,color=blue')
    # Forward again to green by its version, then a version no color runs.
    code, result = roll(**blue_green(version='v2'))
    assert (code, result['changed'], result['color']) == (0, True, {'before': 'blue', 'after': 'green'}), result
    assert cluster.endpoint_ips() == cluster.ready_ips('app=web,color=green')
    code, result = roll(**blue_green(version='v3'))
    assert code == 1 and 'Cannot roll back Service web in namespace {0} to v3: no such version in its history ' \
                         '(available: v1 (web={1}:v1), v2 (web={1}:v2))'.format(cluster.namespace, cluster.IMAGE) \
        in result['msg'], result
    assert result['changed'] is False
    # What the platform role's state entry point reads: the colors in release order, the live one last.
    code, result = roll(**blue_green(state='listed'))
    assert (code, result['current']) == (0, 'v2'), result
    assert [(e['name'], e['version'], e['current'], e['deployable']) for e in result['history']] == [
        ('blue', 'v1', False, True), ('green', 'v2', True, True)]


@pytest.mark.parametrize('breakage', ['crash-looping', 'scaled to 0'])
def test_blue_green_refuses_a_color_that_is_not_ready(green_live_and_bad, roll, breakage):
    cluster = green_live_and_bad
    green = cluster.endpoint_ips()
    if breakage == 'scaled to 0':
        cluster.kube.kubectl('scale', 'deployment/web-blue', '--replicas=0', namespace=cluster.namespace)
        cluster.kube.eventually(lambda: not cluster.all_pods('app=web,color=blue'), 'blue scaled down')
        why, version = 'deployment web-blue in namespace {0} is scaled to 0 replicas', 'v1'
        # previous would be blue: skipped, and said why.
        refusal = 'nothing earlier than v2 qualifies under rule release-before-current (history: v2 (web={1}:v2); ' \
                  'skipped v1: ' + why
    else:
        # Blue redeployed with a version that crashes: newer than green's, and not ready.
        cluster.color('blue', 'v2.1-crashloop')
        why, version = 'deployment web-blue in namespace {0} is not ready (', 'v2.1-crashloop'
        refusal = 'nothing earlier than v2 qualifies'
    before = cluster.resource_version()
    code, result = roll(**blue_green(rolled_back_from='v2'))
    assert code == 1 and refusal.format(cluster.namespace, cluster.IMAGE) in result['msg'], result['msg']
    code, result = roll(**blue_green(version=version))
    assert code == 1 and 'Cannot roll back Service web in namespace {0} to {1}: '.format(cluster.namespace, version) \
        + why.format(cluster.namespace) in result['msg'], result['msg']
    assert result['changed'] is False
    # Nothing changed: not the selector, not the ledger.
    assert cluster.resource_version() == before
    assert cluster.selector() == {'app': 'web', 'color': 'green'} and cluster.endpoint_ips() == green


def test_blue_green_with_another_selector_label_keeps_the_rest_of_the_selector(cluster, roll):
    cluster.deploy('web-a', 'v1.9.0', {'app': 'web', 'tier': 'front', 'version': 'a'})
    cluster.deploy('web-b', 'v2.0.0', {'app': 'web', 'tier': 'front', 'version': 'b'})
    # Its pods lack tier=front: the Service's selector, switched to c, would reach none of them.
    cluster.deploy('web-c', 'v1.8.0', {'app': 'web', 'version': 'c'})
    cluster.kube.apply(cluster.namespace, {
        'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web'},
        'spec': {'selector': {'app': 'web', 'tier': 'front', 'version': 'b'}, 'ports': [{'port': 80}]},
    })
    cluster.wait_for_endpoints('version=b')
    args = blue_green(selector_label='version', deployments={'a': 'web-a', 'b': 'web-b', 'c': 'web-c'})
    code, result = roll(**dict(args, version='v1.8.0'))
    assert code == 1 and 'the pods of deployment web-c in namespace {0} are labelled app=web,version=c, so the ' \
                         'selector app=web,tier=front,version=c would not reach them'.format(cluster.namespace) \
        in result['msg'], result['msg']
    code, result = roll(**dict(args, version='v1.9.0'))
    assert (code, result['changed'], result['color']) == (0, True, {'before': 'b', 'after': 'a'}), result
    assert cluster.selector() == {'app': 'web', 'tier': 'front', 'version': 'a'}
    assert cluster.endpoint_ips() == cluster.ready_ips('version=a')


def test_blue_green_lease_lets_one_run_at_a_time(green_live_and_bad, roll):
    cluster = green_live_and_bad
    first = {'owner': 'run-1', 'holder': {'user': 'alice', 'controller': 'awx-1'}}
    code, result = roll(**blue_green(state='listed', lock=first))
    assert (code, result['changed'], result['current']) == (0, True, 'v2'), result
    assert cluster.leases() == {'ops-rollback-service-web': 'run-1'}
    code, result = roll(**blue_green(state='listed', lock={'owner': 'run-2'}))
    assert code == 1 and 'Another rollback is running here: run run-1 by alice@awx-1' in result['msg'], result
    code, result = roll(**blue_green(state='unlocked', lock={'owner': 'run-2'}))
    assert (code, result['changed']) == (0, False)
    assert cluster.leases() == {'ops-rollback-service-web': 'run-1'}
    # Releasing needs only the Service's name.
    code, result = roll(strategy='blue_green', service='web', state='unlocked', lock={'owner': 'run-1'})
    assert (code, result['changed']) == (0, True), result
    assert cluster.leases() == {}


def test_blue_green_verdicts_recorded_on_the_service(green_live_and_bad, roll):
    cluster = green_live_and_bad
    code, result = roll(**blue_green(state='recorded', version='v1', rolled_back_from='v2'))
    assert (code, result['changed'], result['good'], result['bad']) == (0, True, ['v1'], ['v2']), result
    assert cluster.ledger('service', 'web') == [('v1', 'good'), ('v2', 'bad')]
    code, result = roll(**blue_green())
    assert (code, result['rule'], result['to_version']) == (0, 'ledger', 'v1'), result
    assert cluster.endpoint_ips() == cluster.ready_ips('app=web,color=blue')


# --- canary --------------------------------------------------------------------------------------------------------

def test_canary_abort_then_again_changes_nothing(kube, cluster, istio_crd, roll):
    cluster.canary_setup()
    assert cluster.weights() == [('stable', 80), ('canary', 20)]
    vs_version = cluster.resource_version(cluster.VS, 'reviews')
    canary_version = cluster.resource_version('deployment', 'reviews-canary')

    # Check mode with diff: the plan, checked by the API server, and nothing changed.
    code, result = roll(**canary(rolled_back_from='v2-crashloop', _ansible_check_mode=True, _ansible_diff=True))
    assert code == 0, result
    assert (result['changed'], result['from_version'], result['to_version']) == (True, 'v2-crashloop', 'v1')
    assert 'reviews (subset canary): 20\n' in result['diff']['before']
    assert 'reviews (subset canary): 0\n' in result['diff']['after']
    assert 'deployment reviews-canary in namespace {0} replicas: 0\n'.format(cluster.namespace) in \
        result['diff']['after']
    assert cluster.resource_version(cluster.VS, 'reviews') == vs_version
    assert cluster.resource_version('deployment', 'reviews-canary') == canary_version
    assert len(cluster.pods('app=reviews,track=canary')) == 1

    code, result = roll(**canary(rolled_back_from='v2-crashloop'))
    assert code == 0, result
    assert (result['changed'], result['from_version'], result['to_version'], result['rule']) == (
        True, 'v2-crashloop', 'v1', 'release-before-current')
    assert result['canary_replicas'] == {'before': 1, 'after': 0, 'annotation': 'ops.rollback/canary-replicas'}
    # Read back: all traffic on the stable subset, the other route untouched, the canary gone.
    assert cluster.weights() == [('stable', 100), ('canary', 0)]
    assert cluster.weights(1) == [('canary', 100)]
    canary_deployment = cluster.obj('deployment', 'reviews-canary')
    assert canary_deployment['spec']['replicas'] == 0
    assert canary_deployment['metadata']['annotations']['ops.rollback/canary-replicas'] == '1'
    assert cluster.all_pods('app=reviews,track=canary') == []
    assert len(cluster.ready_ips('app=reviews,track=stable')) == 2
    assert cluster.ledger(cluster.VS, 'reviews') == [('v2-crashloop', 'bad')]

    # Again: the same task, then a bare one.
    vs_version = cluster.resource_version(cluster.VS, 'reviews')
    code, result = roll(**canary(rolled_back_from='v2-crashloop'))
    assert (code, result['changed'], result['from_version'], result['to_version']) == (0, False, 'v1', 'v1'), result
    code, result = roll(**canary())
    assert (code, result['changed'], result['to_version']) == (0, False, 'v1'), result
    assert cluster.resource_version(cluster.VS, 'reviews') == vs_version
    assert cluster.obj('deployment', 'reviews-canary')['metadata']['annotations'][
        'ops.rollback/canary-replicas'] == '1'


def test_canary_target_is_the_stable_version(cluster, istio_crd, roll):
    cluster.canary_setup(canary_tag='v2', canary_weight=0, canary_replicas=2)
    code, result = roll(**canary(version='v2'))
    assert code == 1 and 'it is the canary (deployment reviews-canary in namespace {0}); an abort goes back to the ' \
                         'stable version, v1'.format(cluster.namespace) in result['msg'], result['msg']
    assert len(cluster.pods('app=reviews,track=canary')) == 2
    # A canary without traffic but with replicas is still running: aborted, its two replicas kept in mind.
    code, result = roll(**canary(version='v1'))
    assert (code, result['changed'], result['rule'], result['from_version']) == (0, True, 'explicit', 'v2'), result
    assert cluster.weights() == [('stable', 100), ('canary', 0)]
    assert cluster.obj('deployment', 'reviews-canary')['metadata']['annotations'][
        'ops.rollback/canary-replicas'] == '2'
    assert cluster.all_pods('app=reviews,track=canary') == []


def test_canary_refused_when_the_stable_is_not_ready(cluster, istio_crd, roll):
    cluster.canary_setup()
    cluster.deploy('reviews-stable', 'v1.1-crashloop', {'app': 'reviews', 'track': 'stable'})
    vs_version = cluster.resource_version(cluster.VS, 'reviews')
    code, result = roll(**canary(version='v1.1-crashloop'))
    assert code == 1 and 'deployment reviews-stable in namespace {0} is not ready'.format(cluster.namespace) in \
        result['msg'] and "so it cannot take the canary's traffic" in result['msg'], result['msg']
    assert cluster.resource_version(cluster.VS, 'reviews') == vs_version
    assert cluster.weights() == [('stable', 80), ('canary', 20)]
    assert cluster.obj('deployment', 'reviews-canary')['spec']['replicas'] == 1


def test_canary_lease_is_named_after_the_virtual_service(cluster, istio_crd, roll):
    cluster.canary_setup()
    code, result = roll(**canary(state='listed', lock={'owner': 'run-1'}))
    assert (code, result['changed'], result['current']) == (0, True, 'v2-crashloop'), result
    assert [(e['name'], e['version'], e['deployable']) for e in result['history']] == [
        ('stable', 'v1', True), ('canary', 'v2-crashloop', False)]
    assert cluster.leases() == {'ops-rollback-virtualservice-reviews': 'run-1'}
    code, result = roll(**canary(state='listed', lock={'owner': 'run-2'}))
    assert code == 1 and 'Another rollback is running here: run run-1' in result['msg'], result
    code, result = roll(strategy='canary', virtual_service='reviews', state='unlocked', lock={'owner': 'run-1'})
    assert (code, result['changed'], cluster.leases()) == (0, True, {}), result


# --- bad input -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('case, args, message', [
    ('unknown service', blue_green(service='nosuch'),
     'There is no Service nosuch in namespace {ns}: check service= and namespace='),
    ('unknown deployment', blue_green(deployments={'blue': 'web-blue', 'green': 'nosuch'}),
     'There is no deployment nosuch in namespace {ns}: check deployments.green and namespace'),
    ('color not in deployments', blue_green(deployments={'blue': 'web-blue', 'red': 'web-green'}),
     'Service web in namespace {ns} selects color=green, a color deployments= does not name (it names blue, red)'),
    ('one color', blue_green(deployments={'blue': 'web-blue'}), 'deployments must name the Deployment of each color, '
                                                                'at least two'),
    ('no deployments', {'strategy': 'blue_green', 'service': 'web'},
     'deployments must name the Deployment of each color, at least two, for example {{blue: web-blue, green: '
     'web-green}}; got None.'),
    ('no name', {}, 'strategy is rolling but all of the following are missing: name'),
    ('rolling option', blue_green(name='web'), 'Option name does not apply to strategy=blue_green (only to '
                                               'strategy=rolling)'),
    ('canary option', blue_green(stable=STABLE), 'Option stable does not apply to strategy=blue_green'),
    ('blue-green option', {'name': 'web', 'selector_label': 'color'},
     'Option selector_label does not apply to strategy=rolling'),
    ('revision', blue_green(revision=1), 'Option revision does not apply to strategy=blue_green'),
])
def test_blue_green_bad_input_is_refused_and_changes_nothing(green_live_and_bad, roll, case, args, message):
    cluster = green_live_and_bad
    version = cluster.resource_version()
    code, result = roll(**args)
    assert code == 1 and message.format(ns=cluster.namespace) in result['msg'], result['msg']
    # An argument spec's refusal has no changed key; ours say changed=false.
    assert not result.get('changed', False)
    assert cluster.resource_version() == version and cluster.selector() == {'app': 'web', 'color': 'green'}


@pytest.mark.parametrize('case, args, message', [
    ('unknown virtual service', canary(virtual_service='nosuch'),
     'There is no VirtualService nosuch in namespace {ns}: check virtual_service= and namespace='),
    ('unknown destination', canary(canary=dict(CANARY, subset='v3')),
     'canary (reviews (subset v3)) is not a destination of VirtualService reviews in namespace {ns}, http route 0 '
     '(primary)'),
    ('unknown route', canary(route='nosuch'), "has no http route 'nosuch' (it has: 0 (primary), 1 (testers))"),
    ('same deployment', canary(canary=dict(CANARY, deployment='reviews-stable')),
     'stable and canary name the same Deployment, reviews-stable'),
    ('no stable', {'strategy': 'canary', 'virtual_service': 'reviews', 'canary': CANARY},
     'strategy=canary needs stable= and canary='),
    ('missing host', canary(stable={'deployment': 'reviews-stable'}), 'missing required arguments: host'),
    ('blue-green option', canary(deployments=COLORS), 'Option deployments does not apply to strategy=canary'),
])
def test_canary_bad_input_is_refused_and_changes_nothing(cluster, istio_crd, roll, case, args, message):
    cluster.canary_setup()
    version = cluster.resource_version(cluster.VS, 'reviews')
    code, result = roll(**args)
    assert code == 1 and message.format(ns=cluster.namespace) in result['msg'], result['msg']
    # An argument spec's refusal has no changed key; ours say changed=false.
    assert not result.get('changed', False)
    assert cluster.resource_version(cluster.VS, 'reviews') == version
    assert cluster.obj('deployment', 'reviews-canary')['spec']['replicas'] == 1
