# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback playbook on blue-green and canary services (rollback_platform: blue_green, canary).

Against the real control plane of scripts/kube.sh, in a namespace per test:
Deployments, a Service and an Istio VirtualService are deployed and switched
with kubectl as a release pipeline would, the playbook runs as a user runs
it, and what is asserted is read back from the cluster: where the Service's
Endpoints send traffic, the VirtualService's weights, the canary's replicas
and pods, the ledger annotations and the Leases.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

import test_k8s_blue_green_canary as module_tests
from test_k8s_blue_green_canary import VS, Cluster

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
BIN = os.path.dirname(sys.executable)
# Istio's VirtualService CRD, registered as the module's tests register it.
istio_crd = module_tests.istio_crd


def recap_changed(output, host):
    return int(re.search(r'^{0}\s*:.*?changed=(\d+)'.format(re.escape(host)), output, re.M).group(1))


class Playbook:
    """An inventory of one blue-green and one canary service in the test's namespace, and the
    playbook run as a user runs it. The lab's pods serve no HTTP, so verify asks the API server:
    the Service has a ready endpoint; the stable Deployment has every replica available."""

    def __init__(self, kube, namespace, tmp_path):
        with open(kube.kubeconfig) as handle:
            config = yaml.safe_load(handle)
        server, token = config['clusters'][0]['cluster']['server'], config['users'][0]['user']['token']
        api = '{0}/api/v1/namespaces/{1}'.format(server, namespace)
        apps = '{0}/apis/apps/v1/namespaces/{1}'.format(server, namespace)
        check = {'headers': {'Authorization': 'Bearer ' + token}, 'validate_certs': False}
        inventory = {'all': {
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
        self.inventory = str(tmp_path / 'hosts.yml')
        with open(self.inventory, 'w') as handle:
            yaml.safe_dump(inventory, handle, default_flow_style=False, sort_keys=False)
        self.tmp_path = tmp_path
        self.runs = 0

    def rollback(self, service, *args, expect_rc=0):
        """``ansible-playbook ops.rollback.rollback -i <inventory> -e service=<service> <args>``; its output."""
        self.runs += 1
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_FORCE_COLOR='0',
                   OPS_ROLLBACK_TIMELINE=str(self.tmp_path / 'timeline-{0}.jsonl'.format(self.runs)))
        env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
        command = [os.path.join(BIN, 'ansible-playbook'), 'ops.rollback.rollback', '-i', self.inventory,
                   '-e', 'service=' + service] + list(args)
        proc = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              check=False)
        assert proc.returncode == expect_rc, 'ansible-playbook {0} exited {1}:\n{2}'.format(
            ' '.join(args), proc.returncode, proc.stdout[-8000:])
        return proc.stdout


@pytest.fixture
def cluster(kube, namespace):
    return Cluster(kube, namespace)


@pytest.fixture
def playbook(kube, namespace, tmp_path):
    return Playbook(kube, namespace, tmp_path)


def test_blue_green_service_rolled_back_to_the_previous_color_then_again(cluster, playbook):
    cluster.color('blue', 'v1')
    cluster.service('blue')
    cluster.color('green', 'v2')
    cluster.switch('green')
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
    assert all(e['note'] == 'ops.rollback: green returns 500s' for e in ledger)
    assert cluster.leases() == {}

    # Again: previous is the version the ledger says is good, and it already serves.
    version = cluster.resource_version()
    output = playbook.rollback('web')
    assert recap_changed(output, 'web-bg') == 0
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
    assert cluster.ledger(VS, 'reviews') == [('v2-crashloop', 'bad'), ('v1', 'good')]
    assert cluster.leases() == {}

    version = cluster.resource_version(VS, 'reviews')
    output = playbook.rollback('reviews')
    assert recap_changed(output, 'reviews-canary') == 0
    assert 'service reviews: target v1 (rule: ledger) -> done' in output, output[-3000:]
    assert cluster.resource_version(VS, 'reviews') == version
    assert cluster.leases() == {}
