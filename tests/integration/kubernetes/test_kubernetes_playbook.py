# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback playbook on Kubernetes workloads (rollback_platform: kubernetes).

Against the real control plane of scripts/kube.sh, in a namespace per test:
workloads are deployed and broken with kubectl as a pipeline would, the
playbook runs as a user runs it (inventory/kubernetes/lab.yml, pointed at
the test's namespace), and what is asserted is read back from the cluster:
the images the pods run and whether they are ready, the ledger annotation
and the Leases.
"""
from __future__ import annotations

import json
import os
import re
import socket

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
LAB_INVENTORY = os.path.join(REPO, 'inventory', 'kubernetes', 'lab.yml')
LEDGER = 'ops.rollback/ledger'
IMAGE = 'registry.example/{0}:{1}'
BROKEN = 'v3-crashloop'
# Where a deploy is waited on: generous, as a slow CI machine needs; never asserted.
DEPLOY_TIMEOUT = 120


class KubeLab:
    """The workloads of the test's namespace as a pipeline deploys them with kubectl and a user sees them,
    and another run of the rollback on the same lab inventory."""

    def __init__(self, kube, namespace, playbook):
        self.kube = kube
        self.namespace = namespace
        self.playbook = playbook

    def take_lease_as_another_run(self, kind, name, owner, holder=None):
        """Take the workload's rollback Lease as another run does (default: on another controller, an AWX job)."""
        args = {'state': 'listed', 'kind': kind, 'name': name, 'namespace': self.namespace,
                'kubeconfig': self.kube.kubeconfig,
                'lock': {'owner': owner, 'holder': holder or {'user': 'awx', 'controller': 'awx-node-2'}}}
        self.playbook.run('ansible', 'web-lab', '-m', 'ops.rollback.k8s_rollback', '-a', json.dumps(args))

    # --- deploying, as a pipeline would ----------------------------------------
    def deploy(self, kind, name, version, replicas=2):
        """``kubectl apply`` the workload at ``version``; waits for the rollout of a good one,
        and for a pod of a broken one (it never becomes ready)."""
        self.kube.deploy(self.namespace, kind, name, {name: IMAGE.format(name, version)}, replicas=replicas,
                         timeout=DEPLOY_TIMEOUT)

    def deploy_broken_after_two_good(self, kind, name):
        for version in ('v1', 'v2', BROKEN):
            self.deploy(kind, name, version)

    # --- what a user can observe -------------------------------------------------
    def pods(self, name):
        """``{pod: (images, ready)}`` of the workload's live pods."""
        return self.kube.running_images(self.namespace, 'app=' + name)

    def runs_only(self, name, version, count):
        """Whether exactly ``count`` pods run ``version`` and are ready, and no other pod is left."""
        pods = self.pods(name)
        return len(pods) == count and all(
            images == (IMAGE.format(name, version),) and ready for images, ready in pods.values())

    def wait_until_only(self, name, version, count):
        """Give the old pods time to go: a rollout is complete before the last old pod is gone."""
        self.kube.until(lambda: self.runs_only(name, version, count), timeout=DEPLOY_TIMEOUT)

    def obj(self, kind, name):
        return self.kube.get(self.namespace, kind.lower(), name)

    def template_image(self, kind, name):
        return self.obj(kind, name)['spec']['template']['spec']['containers'][0]['image']

    def ledger_entries(self, kind, name):
        return self.kube.ledger(self.namespace, kind, name)

    def ledger(self, kind, name):
        """``{version: newest verdict}`` of the workload's ledger annotation."""
        return dict((e['version'], e['state']) for e in self.ledger_entries(kind, name))

    def leases(self):
        return self.kube.leases(self.namespace)


@pytest.fixture
def playbook(namespace, ansible):
    """The rollback playbook run as a user runs it, on the lab inventory pointed at the test's namespace."""
    with open(LAB_INVENTORY) as handle:
        inventory = yaml.safe_load(handle)
    inventory['all']['vars']['kubernetes_namespace'] = namespace
    ansible.write_inventory(inventory)
    return ansible


@pytest.fixture
def lab(kube, namespace, playbook):
    return KubeLab(kube, namespace, playbook)


def test_rollback_to_previous_then_again(lab, playbook):
    lab.deploy_broken_after_two_good('Deployment', 'web')

    output = playbook.rollback('web', '-e', 'reason="error rate 8%"')
    lab.wait_until_only('web', 'v2', 2)
    assert lab.runs_only('web', 'v2', 2), lab.pods('web')
    assert lab.template_image('Deployment', 'web') == IMAGE.format('web', 'v2')
    # Left bad before the change, the target good once verified; the reason with both.
    assert [(e['version'], e['state']) for e in lab.ledger_entries('Deployment', 'web')] == [
        (BROKEN, 'bad'), ('v2', 'good')]
    # Each note names the run's incident; the version left bad is not to be redeployed.
    notes = dict((e['state'], e['note']) for e in lab.ledger_entries('Deployment', 'web'))
    assert re.match(r'ops\.rollback: error rate 8% \(incident INC-\d{8}-\d{6}\)$', notes['good']), notes
    assert notes['bad'].startswith('ops.rollback: error rate 8% (incident INC-') and 'do not redeploy' in notes['bad']
    assert lab.leases() == {}
    assert 'service web: target v2 (rule: release-before-current) -> done' in output
    assert re.search(r'^  web-lab\s+{0} -> v2\s+ok$'.format(BROKEN), output, re.M)
    # kubectl apply deployed v3: its next apply would bring it back, and the run says so.
    assert 'last-applied-configuration of deployment web in namespace {0} still names'.format(lab.namespace) in output
    summary = playbook.timeline()[-1]
    assert summary['event'] == 'summary' and summary['verdicts']['web']['state'] == 'done'
    assert summary['phases']['verify']['outcome'] == 'ok'

    # Again: previous is now the version the ledger says is good and already runs.
    output = playbook.rollback('web')
    assert playbook.recap_changed(output, 'web-lab') == 0
    assert 'service web: target v2 (rule: ledger) -> done' in output
    assert lab.runs_only('web', 'v2', 2), lab.pods('web')
    assert lab.ledger('Deployment', 'web') == {BROKEN: 'bad', 'v2': 'good'}
    assert lab.leases() == {}


def test_rollback_to_an_explicit_version(lab, playbook):
    lab.deploy_broken_after_two_good('Deployment', 'web')

    output = playbook.rollback('web', '-e', 'version=v1')
    assert 'service web: target v1 (rule: explicit) -> done' in output
    lab.wait_until_only('web', 'v1', 2)
    assert lab.runs_only('web', 'v1', 2), lab.pods('web')
    assert lab.ledger('Deployment', 'web') == {BROKEN: 'bad', 'v1': 'good'}
    assert lab.leases() == {}

    # The same command again changes nothing.
    output = playbook.rollback('web', '-e', 'version=v1')
    assert playbook.recap_changed(output, 'web-lab') == 0
    assert lab.runs_only('web', 'v1', 2), lab.pods('web')


def test_check_mode_changes_nothing(lab, playbook):
    lab.deploy_broken_after_two_good('Deployment', 'web')
    before = lab.obj('Deployment', 'web')

    output = playbook.rollback('web', '--check', '--diff')
    assert 'service web: target v2 (rule: release-before-current) -> planned' in output
    assert 'image: registry.example/web:v2' in output   # the diff of the pod template
    after = lab.obj('Deployment', 'web')
    assert after['metadata']['generation'] == before['metadata']['generation']
    assert after['spec']['template'] == before['spec']['template']
    assert LEDGER not in (after['metadata'].get('annotations') or {})
    assert lab.leases() == {}


def test_a_run_holding_the_lease_refuses_another(lab, playbook):
    lab.deploy_broken_after_two_good('Deployment', 'web')
    lab.take_lease_as_another_run('Deployment', 'web', 'awx-job-4711')

    output = playbook.rollback('web', expect_rc=2)
    assert 'Another rollback is running here: run awx-job-4711 by awx@awx-node-2' in output
    assert 'Nothing was changed.' in output
    assert re.search(r'^  web-lab\s+.* unchanged', output, re.M)
    # Nothing changed, and the other run keeps its Lease.
    assert lab.template_image('Deployment', 'web') == IMAGE.format('web', BROKEN)
    assert lab.ledger_entries('Deployment', 'web') == []
    assert lab.leases() == {'ops-rollback-deployment-web': 'awx-job-4711'}


def test_a_lease_another_tool_holds_is_refused_and_named(lab, playbook):
    lab.deploy_broken_after_two_good('Deployment', 'web')
    # Same name, written by some other controller: a holder, none of ops.rollback's annotations.
    lab.kube.apply(lab.namespace, {
        'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
        'metadata': {'name': 'ops-rollback-deployment-web', 'namespace': lab.namespace},
        'spec': {'holderIdentity': 'release-bot-7', 'leaseDurationSeconds': 30}})

    output = playbook.rollback('web', expect_rc=2)
    assert ("The lock Lease ops-rollback-deployment-web in namespace {0} is not one ops.rollback wrote "
            "(it starts 'release-bot-7')".format(lab.namespace)) in output
    assert '-e rollback_lock_force=true' in output and 'Nothing was changed.' in output
    assert lab.template_image('Deployment', 'web') == IMAGE.format('web', BROKEN)
    assert lab.leases() == {'ops-rollback-deployment-web': 'release-bot-7'}


def test_unknown_version_is_refused_listing_the_versions(lab, playbook):
    lab.deploy_broken_after_two_good('Deployment', 'web')
    before = lab.obj('Deployment', 'web')

    output = playbook.rollback('web', '-e', 'version=v9', expect_rc=2)
    assert ('Cannot roll back service web to v9: no such version in its history (available: v1 (revision 1, '
            'web={0}), v2 (revision 2, web={1}), {2} (revision 3, web={3}))'.format(
                IMAGE.format('web', 'v1'), IMAGE.format('web', 'v2'), BROKEN, IMAGE.format('web', BROKEN))) in output
    assert 'Nothing was changed.' in output
    after = lab.obj('Deployment', 'web')
    assert after['spec']['template'] == before['spec']['template']
    assert lab.ledger_entries('Deployment', 'web') == []
    # The run took the Lease before it read the history, and released it when it stopped.
    assert lab.leases() == {}


def test_without_health_endpoints_the_rollback_is_not_verified(lab, playbook):
    lab.deploy_broken_after_two_good('Deployment', 'web')

    output = playbook.rollback('web', '-e', '{"rollback_health_endpoints": []}')
    assert 'phase verify skipped: no health endpoints configured' in output
    assert 'service web: target v2 (rule: release-before-current) -> rolled back but NOT verified' in output
    lab.wait_until_only('web', 'v2', 2)
    # The version left is bad all the same; the target is not recorded good.
    assert lab.ledger('Deployment', 'web') == {BROKEN: 'bad'}
    assert lab.leases() == {}


def test_statefulset_stuck_on_a_broken_pod(lab, playbook):
    # OrderedReady: the broken pod (the highest ordinal, updated first) is never
    # ready, and the controller does not replace a pod that is not ready.
    lab.deploy_broken_after_two_good('StatefulSet', 'db')

    output = playbook.rollback('db', '-e', 'kubernetes_recreate_stuck_pods=false', expect_rc=2)
    assert 'statefulset db in namespace {0} is stuck: pod(s) db-1 (CrashLoopBackOff)'.format(lab.namespace) in output
    assert '-e kubernetes_recreate_stuck_pods=true' in output
    assert 'service db: target v2 (rule: release-before-current) -> FAILED on db-lab' in output
    assert lab.leases() == {}

    # The lab inventory lets the rollback delete exactly that pod: the same command converges.
    output = playbook.rollback('db')
    assert 'service db: target v2 (rule: release-before-current) -> done' in output
    lab.wait_until_only('db', 'v2', 2)
    assert lab.runs_only('db', 'v2', 2), lab.pods('db')
    assert lab.ledger('StatefulSet', 'db') == {BROKEN: 'bad', 'v2': 'good'}
    assert lab.leases() == {}


def test_daemonset(lab, playbook):
    lab.deploy_broken_after_two_good('DaemonSet', 'log-agent')
    nodes = len(lab.kube.get(None, 'nodes')['items'])

    output = playbook.rollback('agent')
    assert 'service agent: target v2 (rule: release-before-current) -> done' in output
    lab.wait_until_only('log-agent', 'v2', nodes)
    assert lab.runs_only('log-agent', 'v2', nodes), lab.pods('log-agent')
    assert lab.ledger('DaemonSet', 'log-agent') == {BROKEN: 'bad', 'v2': 'good'}
    assert lab.leases() == {}


def test_a_lease_left_by_a_killed_run_of_this_controller_is_taken_over(lab, playbook):
    """kill -9 of ansible-playbook leaves its Lease; the same command run again takes it over at once."""
    lab.deploy_broken_after_two_good('Deployment', 'web')
    # A run on this controller whose ansible-playbook process no longer exists.
    lab.take_lease_as_another_run('Deployment', 'web', 'killed-run',
                                  holder={'user': 'root', 'controller': socket.gethostname(), 'pid': 2 ** 22 + 1})

    output = playbook.rollback('web')
    assert 'Took over the rollback lock of an interrupted run' in output
    lab.wait_until_only('web', 'v2', 2)
    assert lab.runs_only('web', 'v2', 2), lab.pods('web')
    assert lab.leases() == {}
