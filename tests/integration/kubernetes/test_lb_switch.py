# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lb_switch against a real API server, endpoint controller and scheduler.

Blue-green: real Deployments (one of them crash-looping) behind a real
Service; what is asserted is where the Service's Endpoints send traffic.
Canary: a VirtualService under Istio's CRD (registered as a cluster with
Istio has it), whose weights are read back from the API server. Both are
deployed and read back with ``Cluster`` and the ``istio_crd`` fixture of
conftest.py.
"""
from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.ops.rollback.plugins.modules import lb_switch

SECRET_TOKEN = 'never-show-this-token-3f9c'


def deploy(cluster, version, tag, replicas=2, labels=None):
    """The Deployment web-<version>, its pods labelled app=web,version=<version> (and ``labels``). Waits for its
    rollout, or, of a broken tag, until every pod of it exists and the node simulator reported it, not ready."""
    cluster.deploy('web-' + version, tag, dict({'app': 'web', 'version': version}, **(labels or {})),
                   replicas=replicas, broken_pods=replicas)


@pytest.fixture
def switch(kube, namespace, run_module):
    """Run lb_switch as Ansible does; returns (exit code, result)."""
    def run(**args):
        args.setdefault('namespace', namespace)
        if 'host' not in args:
            args.setdefault('kubeconfig', kube.kubeconfig)
        return run_module(lb_switch.main, args)
    return run


# --- blue-green: kubernetes_service --------------------------------------------------------------------------------

def test_blue_to_green_moves_the_endpoints_then_again_changes_nothing(cluster, switch):
    deploy(cluster, 'blue', 'v1')
    deploy(cluster, 'green', 'v2')
    cluster.service({'app': 'web', 'version': 'blue'})
    blue, green = cluster.ready_ips('app=web,version=blue'), cluster.ready_ips('app=web,version=green')
    assert cluster.endpoint_ips() == blue and len(green) == 2

    # Check mode with diff: the plan, checked by the API server, and nothing changed.
    version = cluster.resource_version()
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'green'},
                          _ansible_check_mode=True, _ansible_diff=True)
    assert code == 0, result
    assert (result['changed'], result['backend'], result['ready_pods']) == (True, 'kubernetes_service', 2)
    assert result['before'] == {'app': 'web', 'version': 'blue'}
    assert result['after'] == {'app': 'web', 'version': 'green'}
    assert result['diff']['before'] == 'app: web\nversion: blue\n'
    assert result['diff']['after'] == 'app: web\nversion: green\n'
    assert cluster.resource_version() == version
    assert cluster.endpoint_ips() == blue

    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'green'})
    assert code == 0, result
    assert (result['changed'], result['ready_pods'], result['after']) == (True, 2, {'app': 'web', 'version': 'green'})
    assert 'diff' not in result
    # The module waited for the endpoint controller: traffic goes to the green pods only.
    assert cluster.selector() == {'app': 'web', 'version': 'green'}
    assert cluster.endpoint_ips() == green

    version = cluster.resource_version()
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'green'}, _ansible_diff=True)
    assert (code, result['changed'], result['ready_pods']) == (0, False, 2), result
    assert 'diff' not in result and cluster.resource_version() == version

    # And back to blue, as a rollback of the switch would.
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'blue'})
    assert (code, result['changed']) == (0, True), result
    assert cluster.endpoint_ips() == blue


def test_selector_without_ready_pods_refused_unless_forced(cluster, switch, kube, ansible):
    deploy(cluster, 'blue', 'v1')
    deploy(cluster, 'broken', 'v3-crashloop')
    cluster.service({'app': 'web', 'version': 'blue'})
    blue = cluster.endpoint_ips()
    version = cluster.resource_version()

    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'broken'})
    assert code == 1
    assert result['msg'].startswith('Refused to switch Service web in namespace {0} to the selector '
                                    'app=web,version=broken: it matches 2 pods, none of them ready'.format(
                                        cluster.namespace)), result['msg']
    assert 'force=true' in result['msg'] and 'Nothing was changed' in result['msg']
    assert (result['changed'], result['ready_pods']) == (False, 0)
    # Check mode refuses as well.
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'broken'},
                          _ansible_check_mode=True)
    assert (code, result['changed']) == (1, False)
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'purple'})
    assert code == 1 and 'it matches no pods' in result['msg'], result
    assert cluster.resource_version() == version
    assert cluster.selector() == {'app': 'web', 'version': 'blue'} and cluster.endpoint_ips() == blue

    # Forced: switched, with a warning, and the Service has no endpoints. Run by ansible itself: in
    # this process, once controller code was imported, module warnings go to its display, not the result.
    ansible.write_inventory({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}})
    args = {'backend': 'kubernetes_service', 'name': 'web', 'namespace': cluster.namespace,
            'selector': {'version': 'broken'}, 'force': True, 'kubeconfig': kube.kubeconfig}
    output = ansible.run('ansible', 'localhost', '-m', 'ops.rollback.lb_switch', '-a', json.dumps(args))
    assert '"ready_pods": 0' in output and '"changed": true' in output, output
    assert 'Service web in namespace {0} selects no ready pod (app=web,version=broken)'.format(
        cluster.namespace) in ' '.join(output.split()), output
    assert cluster.selector() == {'app': 'web', 'version': 'broken'}
    assert cluster.endpoint_ips() == []


def test_selector_merged_and_a_null_key_removed(cluster, switch):
    deploy(cluster, 'blue', 'v1', labels={'track': 'stable'})
    deploy(cluster, 'green', 'v2')
    cluster.service({'app': 'web', 'version': 'blue', 'track': 'stable'})
    # The green pods have no track label: keeping it would select none of them.
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'green'})
    assert code == 1 and 'app=web,track=stable,version=green: it matches no pods' in result['msg'], result
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'green', 'track': None})
    assert (code, result['changed'], result['after']) == (0, True, {'app': 'web', 'version': 'green'}), result
    assert cluster.selector() == {'app': 'web', 'version': 'green'}
    assert cluster.endpoint_ips() == cluster.ready_ips('app=web,version=green')


def test_endpoints_that_never_follow_fail_the_switch_and_say_so(kube, cluster, switch):
    deploy(cluster, 'blue', 'v1')
    deploy(cluster, 'green', 'v2')
    # A named target port that no pod declares: the endpoint controller never lists the pods.
    kube.apply(cluster.namespace, {
        'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web'},
        'spec': {'selector': {'app': 'web', 'version': 'blue'}, 'ports': [{'port': 80, 'targetPort': 'http'}]},
    })
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'green'}, wait_timeout=1)
    assert code == 1
    assert 'Service web in namespace {0} selects app=web,version=green, but after 1 s its Endpoints lack ready ' \
           'pods it selects (web-green-'.format(cluster.namespace) in result['msg'], result['msg']
    # Switched all the same, and the result says so.
    assert (result['changed'], result['after']) == (True, {'app': 'web', 'version': 'green'})
    assert cluster.selector() == {'app': 'web', 'version': 'green'}
    # Again: nothing to change, and still not served, so still a failure.
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'green'}, wait_timeout=1)
    assert (code, result['changed']) == (1, False)
    code, result = switch(backend='kubernetes_service', name='web', selector={'version': 'green'}, wait=False)
    assert (code, result['changed']) == (0, False)


@pytest.mark.parametrize('case', ['nobody', 'unknown service', 'unreachable', 'bad selector value', 'istio options'])
def test_errors_are_clear_and_change_nothing(kube, cluster, switch, case):
    deploy(cluster, 'blue', 'v1')
    deploy(cluster, 'green', 'v2')
    cluster.service({'app': 'web', 'version': 'blue'})
    version = cluster.resource_version()
    args = dict(backend='kubernetes_service', name='web', selector={'version': 'green'})
    expected = {
        'nobody': 'Failed to read Service web in namespace {0}: forbidden'.format(cluster.namespace),
        'unknown service': 'Failed to read Service nosuch in namespace {0}: not found'.format(cluster.namespace),
        'unreachable': 'cannot reach the Kubernetes API server at https://127.0.0.1:1',
        'bad selector value': 'selector.version is True; label values are strings, so quote it',
        'istio options': 'Option weights does not apply to backend=kubernetes_service',
    }[case]
    if case == 'nobody':
        args['kubeconfig'] = kube.kubeconfig_nobody
    elif case == 'unknown service':
        args['name'] = 'nosuch'
    elif case == 'unreachable':
        args.update(host='https://127.0.0.1:1', api_key=SECRET_TOKEN)
    elif case == 'bad selector value':
        args['selector'] = {'version': True}
    else:
        args['weights'] = [{'host': 'web', 'weight': 100}]
    code, result = switch(**args)
    assert code == 1
    assert expected in result['msg'], result['msg']
    assert result['changed'] is False
    assert SECRET_TOKEN not in json.dumps(result)
    assert cluster.resource_version() == version
    assert cluster.selector() == {'app': 'web', 'version': 'blue'}


# --- canary: istio -----------------------------------------------------------------------------------------------

def destination(subset, weight, host='reviews'):
    return {'destination': {'host': host, 'subset': subset}, 'weight': weight}


HEADER_ROUTE = {'name': 'testers', 'match': [{'headers': {'x-canary': {'exact': 'yes'}}}],
                'route': [destination('canary', 100)]}


ABORT = [{'host': 'reviews', 'subset': 'stable', 'weight': 100}, {'host': 'reviews', 'subset': 'canary', 'weight': 0}]


def test_canary_abort_sets_the_weights_then_again_changes_nothing(cluster, istio_crd, switch):
    cluster.apply_virtual_service({'name': 'primary', 'route': [destination('stable', 80), destination('canary', 20)]},
                                  HEADER_ROUTE)
    version = cluster.virtual_service()['metadata']['resourceVersion']
    code, result = switch(backend='istio', name='reviews', weights=ABORT, _ansible_check_mode=True, _ansible_diff=True)
    assert code == 0, result
    assert (result['changed'], result['backend']) == (True, 'istio')
    assert result['before'] == [{'host': 'reviews', 'subset': 'stable', 'weight': 80},
                                {'host': 'reviews', 'subset': 'canary', 'weight': 20}]
    assert result['after'] == ABORT
    assert result['diff']['before'] == 'reviews (subset stable): 80\nreviews (subset canary): 20\n'
    assert result['diff']['after'] == 'reviews (subset stable): 100\nreviews (subset canary): 0\n'
    assert 'http route 0 (primary)' in result['diff']['before_header']
    assert cluster.virtual_service()['metadata']['resourceVersion'] == version

    code, result = switch(backend='istio', name='reviews', weights=ABORT)
    assert (code, result['changed'], result['after']) == (0, True, ABORT), result
    assert cluster.weights() == [('stable', 100), ('canary', 0)]
    # The other route, and the rest of the object, as they were.
    assert cluster.virtual_service()['spec']['http'][1] == HEADER_ROUTE
    assert cluster.virtual_service()['spec']['hosts'] == ['reviews']

    version = cluster.virtual_service()['metadata']['resourceVersion']
    code, result = switch(backend='istio', name='reviews', weights=ABORT, _ansible_diff=True)
    assert (code, result['changed'], 'diff' in result) == (0, False, False), result
    assert cluster.virtual_service()['metadata']['resourceVersion'] == version


def test_route_by_name_through_v1alpha3(cluster, istio_crd, switch):
    cluster.apply_virtual_service({'name': 'primary', 'route': [destination('stable', 100)]},
                                  {'name': 'testers', 'match': HEADER_ROUTE['match'],
                                   'route': [destination('stable', 0), destination('canary', 100)]})
    code, result = switch(backend='istio', name='reviews', route='testers', api_version='networking.istio.io/v1alpha3',
                          weights=[{'host': 'reviews', 'subset': 'stable', 'weight': 100}])
    assert (code, result['changed']) == (0, True), result
    # The canary, not named, gets 0; route 0 is untouched.
    assert cluster.weights(1) == [('stable', 100), ('canary', 0)]
    assert cluster.weights(0) == [('stable', 100)]
    code, result = switch(backend='istio', name='reviews', route=1,
                          weights=[{'host': 'reviews', 'subset': 'stable', 'weight': 100}])
    assert (code, result['changed']) == (0, False), result


def test_steps_move_the_weights_gradually(cluster, istio_crd, switch):
    cluster.apply_virtual_service({'route': [destination('stable', 0), destination('canary', 100)]})
    generation = cluster.virtual_service()['metadata']['generation']
    code, result = switch(backend='istio', name='reviews', weights=ABORT, steps=[25, 50], pause=0.1)
    assert (code, result['changed']) == (0, True), result
    assert [[d['weight'] for d in step] for step in result['steps']] == [[25, 75], [50, 50], [100, 0]]
    # One write per step, each a change of the spec.
    assert cluster.virtual_service()['metadata']['generation'] == generation + 3
    assert cluster.weights() == [('stable', 100), ('canary', 0)]


@pytest.mark.parametrize('case', ['sum', 'unknown destination', 'unknown route', 'unknown virtual service',
                                  'bad steps', 'nobody'])
def test_wrong_weights_refused_and_nothing_changed(kube, cluster, istio_crd, switch, case):
    cluster.apply_virtual_service({'name': 'primary', 'route': [destination('stable', 80), destination('canary', 20)]})
    version = cluster.virtual_service()['metadata']['resourceVersion']
    args = dict(backend='istio', name='reviews', weights=ABORT)
    expected = {
        'sum': 'The weights add up to 90, not 100',
        'unknown destination': 'reviews (subset v3) is not a destination of this route (it has: reviews (subset '
                               'stable), reviews (subset canary))',
        'unknown route': "has no http route 'testers' (it has: 0 (primary))",
        'unknown virtual service': 'Failed to read VirtualService nosuch in namespace {0}: not found'.format(
            cluster.namespace),
        'bad steps': 'steps must be increasing percentages',
        'nobody': 'forbidden',
    }[case]
    if case == 'sum':
        args['weights'] = [{'host': 'reviews', 'subset': 'stable', 'weight': 90}]
    elif case == 'unknown destination':
        args['weights'] = ABORT[:1] + [{'host': 'reviews', 'subset': 'v3', 'weight': 0}]
    elif case == 'unknown route':
        args['route'] = 'testers'
    elif case == 'unknown virtual service':
        args['name'] = 'nosuch'
    elif case == 'bad steps':
        args['steps'] = [50, 25]
    else:
        args['kubeconfig'] = kube.kubeconfig_nobody
    code, result = switch(**args)
    assert code == 1
    assert expected in result['msg'], result['msg']
    assert result['changed'] is False
    assert cluster.virtual_service()['metadata']['resourceVersion'] == version
