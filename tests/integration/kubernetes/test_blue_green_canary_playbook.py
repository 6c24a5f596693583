# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback playbook on blue-green and canary services (rollback_platform: blue_green, canary).

Against the real control plane of scripts/kube.sh, in a namespace per test:
Deployments, a Service and an Istio VirtualService are deployed and switched
with kubectl as a release pipeline would, the playbook runs as a user runs
it, and what is asserted is read back from the cluster: where the Service's
Endpoints send traffic, the VirtualService's weights, the canary's replicas
and pods, the ledger annotations and the Leases. The services and the
playbook run: ``Cluster`` and ``Ansible`` of conftest.py.
"""
from __future__ import annotations

import json
import re

import pytest
import yaml


def inventory(kube, namespace):
    """An inventory of one blue-green and one canary service in the test's namespace. The lab's pods serve no
    HTTP, so verify asks the API server: the Service has a ready endpoint; the stable Deployment has every
    replica available."""
    with open(kube.kubeconfig) as handle:
        config = yaml.safe_load(handle)
    server, token = config['clusters'][0]['cluster']['server'], config['users'][0]['user']['token']
    api = '{0}/api/v1/namespaces/{1}'.format(server, namespace)
    apps = '{0}/apis/apps/v1/namespaces/{1}'.format(server, namespace)
    check = {'headers': {'Authorization': 'Bearer ' + token}, 'validate_certs': False}
    return {'all': {
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                 'rollback_health_delay': 1},
        'children': {
            'web': {'hosts': {'web-bg': {
                'rollback_platform': 'blue_green', 'rollback_service': 'web',
                'blue_green_service': 'web', 'blue_green_namespace': namespace,
                'blue_green_deployments': {'blue': 'web-blue', 'green': 'web-green'},
                'blue_green_kubeconfig': kube.kubeconfig, 'blue_green_wait_timeout': 120,
                'rollback_health_endpoints': [dict(check, url=api + '/endpoints/web',
                                                   json_query='subsets[0].addresses[0].targetRef.kind',
                                                   equals='Pod')],
            }}},
            'reviews': {'hosts': {'reviews-canary': {
                'rollback_platform': 'canary', 'rollback_service': 'reviews',
                'canary_virtual_service': 'reviews', 'canary_namespace': namespace, 'canary_route': 'primary',
                'canary_stable': {'host': 'reviews', 'subset': 'stable', 'deployment': 'reviews-stable'},
                'canary_canary': {'host': 'reviews', 'subset': 'canary', 'deployment': 'reviews-canary'},
                'canary_kubeconfig': kube.kubeconfig, 'canary_wait_timeout': 120,
                'rollback_health_endpoints': [dict(check, url=apps + '/deployments/reviews-stable',
                                                   json_query='status.availableReplicas == spec.replicas',
                                                   equals=True)],
            }}},
        },
    }}


@pytest.fixture
def playbook(kube, namespace, ansible):
    """The rollback playbook run as a user runs it, on the inventory above."""
    ansible.write_inventory(inventory(kube, namespace))
    return ansible


def test_blue_green_service_rolled_back_to_the_previous_color_then_again(cluster, playbook):
    cluster.blue_green_setup()
    blue = cluster.ready_ips('app=web,color=blue')

    # The plan only: nothing switched, nothing recorded, no Lease left.
    version = cluster.resource_version()
    output = playbook.rollback('web', '--check', '--diff')
    assert 'service web: target v1 (rule: release-before-current) -> planned' in output, output[-3000:]
    assert '+color: blue' in output
    assert cluster.resource_version() == version and cluster.leases() == {}

    output = playbook.rollback('web', '-e', 'reason="green returns 500s"')
    assert 'service web: target v1 (rule: release-before-current) -> done' in output, output[-3000:]
    assert re.search(r'^  web-bg\s+v2 -> v1\s+ok', output, re.M), output[-3000:]
    # Traffic goes to exactly blue's pods; the version left bad before the switch, the target good once verified.
    assert cluster.selector() == {'app': 'web', 'color': 'blue'}
    assert cluster.endpoint_ips() == blue
    assert cluster.ledger('service', 'web') == [('v2', 'bad'), ('v1', 'good')]
    ledger = json.loads(cluster.annotations('service', 'web')['ops.rollback/ledger'])
    assert all(e['note'].startswith('ops.rollback: green returns 500s (incident INC-') for e in ledger)
    assert cluster.leases() == {}

    # Again: previous is the version the ledger says is good, and it already serves.
    version = cluster.resource_version()
    output = playbook.rollback('web')
    assert playbook.recap_changed(output, 'web-bg') == 0
    assert 'service web: target v1 (rule: ledger) -> done' in output, output[-3000:]
    assert cluster.resource_version() == version and cluster.endpoint_ips() == blue
    assert cluster.leases() == {}


def test_canary_aborted_then_again(cluster, playbook, istio_crd):
    cluster.canary_setup()
    assert cluster.weights() == [('stable', 80), ('canary', 20)]

    output = playbook.rollback('reviews', '-e', 'reason="canary crash-loops"')
    assert 'service reviews: target v1 (rule: release-before-current) -> done' in output, output[-3000:]
    assert re.search(r'^  reviews-canary\s+v2-crashloop -> v1\s+ok', output, re.M), output[-3000:]
    assert cluster.weights() == [('stable', 100), ('canary', 0)]
    assert cluster.weights(1) == [('canary', 100)]
    canary = cluster.obj('deployment', 'reviews-canary')
    assert canary['spec']['replicas'] == 0
    assert canary['metadata']['annotations']['ops.rollback/canary-replicas'] == '1'
    assert cluster.all_pods('app=reviews,track=canary') == []
    assert cluster.ledger(cluster.VS, 'reviews') == [('v2-crashloop', 'bad'), ('v1', 'good')]
    assert cluster.leases() == {}

    version = cluster.resource_version(cluster.VS, 'reviews')
    output = playbook.rollback('reviews')
    assert playbook.recap_changed(output, 'reviews-canary') == 0
    assert 'service reviews: target v1 (rule: ledger) -> done' in output, output[-3000:]
    assert cluster.resource_version(cluster.VS, 'reviews') == version
    assert cluster.leases() == {}
