#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_rollback
short_description: Roll a Deployment, StatefulSet or DaemonSet back to a version, a revision or the previous good one
version_added: "0.1.0"
description:
  - Rolls a workload back the way C(kubectl rollout undo) does, and no further. A Deployment gets the pod template of
    the target ReplicaSet (without its C(pod-template-hash) label) and the change-cause of that revision; its other
    annotations are kept. A StatefulSet or DaemonSet gets the pod template of the target ControllerRevision. The
    ReplicaSets and ControllerRevisions are the ones the workload owns (owner references), not any that share its labels.
  - The target is O(revision), or the revision whose pod template ran O(version) (an image tag, a digest or a full image
    reference), or without either, the previous good version. That is the newest earlier version that the release ledger
    records as verified good. While the ledger is empty, it is the version that ran before the current one. RV(rule)
    says which rule chose it.
  - Already at the target, nothing changes and C(changed=false). A second run never toggles back to the version rolled
    back from, as C(kubectl rollout undo) run twice does.
  - With O(wait=true) it waits until the controller has seen the change and every replica is updated, ready and
    available (a StatefulSet, until its current revision is the update revision and all replicas are ready; a DaemonSet,
    until every scheduled pod is updated and available). A rollout that passes its progress deadline or O(wait_timeout)
    fails, with the controller's conditions and the waiting reasons of the pods that are not ready
    (C(ImagePullBackOff), C(CrashLoopBackOff)). The workload is left as it is.
  - A StatefulSet with C(podManagementPolicy=OrderedReady) whose pod of the bad version never becomes ready is stuck. The
    controller does not replace a pod that is not ready, so the rollback cannot proceed (kubernetes/kubernetes#67250).
    The module detects this and names those pods. With O(recreate_stuck_pods=true), it deletes exactly those pods, so
    the controller recreates them at the target, and returns their names in RV(deleted_pods).
  - A paused Deployment and a workload with C(updateStrategy=OnDelete) are refused, with nothing changed, because a new
    pod template would not roll out.
  - If the C(kubectl.kubernetes.io/last-applied-configuration) annotation still names the image rolled back from, a
    warning says that the next C(kubectl apply) or GitOps sync will bring it back.
  - The release ledger is the C(ops.rollback/ledger) annotation of the workload. The rollback lock is a
    C(coordination.k8s.io/v1) Lease named C(ops-rollback-<kind>-<name>) in the workload's namespace, so two runs
    (two AWX jobs) cannot roll back the same workload at once.
  - The rollback runs through the collection's rollback core, as every platform's rollback does.
author: ops.rollback maintainers (!UNKNOWN)
options:
  kind:
    description: Kind of the workload.
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: Deployment
  name:
    description: Name of the workload.
    type: str
    required: true
  namespace:
    description: Namespace of the workload.
    type: str
    default: default
  state:
    description:
      - V(rolled_back) rolls the workload back.
      - V(listed) only reads the current version, the history (every revision with its images) and the ledger's
        verdicts. With O(lock), it takes the rollback lock first.
      - V(unlocked) releases the rollback lock of O(lock.owner); a lock held by another run is left alone, with a
        warning.
      - V(recorded) writes the ledger's verdicts, O(version) good and O(rolled_back_from) bad, once a rollback was
        verified.
    type: str
    choices: [rolled_back, listed, unlocked, recorded]
    default: rolled_back
  version:
    description:
      - The version to roll back to, as an image tag (V(v1.2.9)), a digest (V(sha256:...)) or a full image reference
        (V(registry.example.com/team/web:v1.2.9)), of the container O(container).
      - A version with whitespace, shell characters or other characters an image reference cannot have is refused
        before anything is touched.
      - With O(state=recorded), the version verified good.
    type: str
  revision:
    description:
      - The revision to roll back to, as C(kubectl rollout history) numbers it. A Deployment's ReplicaSet that was rolled
        back to is renumbered; it also answers to the numbers it had before, so the same task run again finds it.
      - Mutually exclusive with O(version).
    type: int
  container:
    description: The container whose image O(version) names, when the pod template has several. Default, the first one.
    type: str
  wait:
    description: Wait for the rollout to finish.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the rollout.
    type: int
    default: 300
  recreate_stuck_pods:
    description:
      - Delete the pods that keep an C(OrderedReady) StatefulSet from rolling back (not ready, not at the target
        revision), so that the controller recreates them at the target. See the description.
    type: bool
    default: false
  rolled_back_from:
    description:
      - The version this rollback leaves. It is recorded as bad in the ledger before anything changes, so an interrupted
        run never loses that verdict. With O(state=recorded), recorded as bad beside O(version).
    type: str
  note:
    description: Why, recorded with the ledger's verdicts (for example the incident and its reason).
    type: str
  lock:
    description:
      - The rollback lock, with O(state=listed) (taken) and O(state=unlocked) (released).
    type: dict
    suboptions:
      owner:
        description: Identifier of this run; the playbook makes one per run (C(rollback_run_id)).
        type: str
        required: true
      ttl:
        description: Seconds after which the lock is expired and another run may take it over.
        type: int
        default: 3600
      force:
        description: Take the lock over even from a run that looks alive. Use only once you know that run is gone.
        type: bool
        default: false
      holder:
        description:
          - Who takes the lock, stored in it to be shown to other runs. Filled in by the action plugin (C(user),
            C(controller), C(pid) of C(ansible-playbook)); keys given here are kept.
        type: dict
        default: {}
extends_documentation_fragment:
  - ops.rollback._k8s_auth
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_k8s
attributes:
  action:
    description: Has an action plugin that fills in O(lock.holder) and takes over a lock of a run of this controller
      that no longer exists.
    support: full
  check_mode:
    support: full
    details:
      - Reports the target, the plan and the diff of the pod template; the API server checks the change in a
        server-side dry run. With O(recreate_stuck_pods=true), names the pods it would delete.
  diff_mode:
    support: full
    details: The pod template before and after, as YAML, and the ledger's verdicts that change.
  idempotent:
    support: full
seealso:
  - module: ops.rollback.lb_switch
  - module: ops.rollback.release_switch
  - name: kubectl rollout undo
    description: What this module does, without toggling, with waiting.
    link: https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/kubectl_rollout_undo/
"""

EXAMPLES = r"""
- name: Roll the web Deployment back to the image tag v1.2.9
  ops.rollback.k8s_rollback:
    name: web
    namespace: shop
    version: v1.2.9

- name: Roll back to the previous good version, waiting at most 10 minutes
  ops.rollback.k8s_rollback:
    name: web
    namespace: shop
    wait_timeout: 600
    rolled_back_from: v1.3.0
    note: "INC-1234: error rate 8%"

- name: Roll a StatefulSet back to revision 3, deleting the broken pods that keep it from rolling back
  ops.rollback.k8s_rollback:
    kind: StatefulSet
    name: db-proxy
    namespace: shop
    revision: 3
    recreate_stuck_pods: true

- name: Roll the app container of a DaemonSet back to a digest, with an explicit kubeconfig
  ops.rollback.k8s_rollback:
    kind: DaemonSet
    name: log-agent
    namespace: kube-system
    container: agent
    version: sha256:3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcdef012345
    kubeconfig: /etc/ops-rollback/kubeconfig

- name: Show what would change, with the diff of the pod template
  ops.rollback.k8s_rollback:
    name: web
    namespace: shop
    version: v1.2.9
  check_mode: true
  diff: true

- name: Record v1.2.9 as verified good and v1.3.0 as bad
  ops.rollback.k8s_rollback:
    name: web
    namespace: shop
    state: recorded
    version: v1.2.9
    rolled_back_from: v1.3.0
"""

RETURN = r"""
from_version:
  description: The version (image tag, else digest, else image) of O(container) before the task.
  returned: always
  type: str
  sample: v1.3.0
to_version:
  description: The version the workload runs after the task (in check mode, would run).
  returned: always
  type: str
  sample: v1.2.9
from_revision:
  description: The revision before the task (none when its template has no revision yet).
  returned: when O(state=rolled_back)
  type: int
  sample: 5
to_revision:
  description: The target revision, numbered as before the rollback (the controller gives it a new number).
  returned: when O(state=rolled_back)
  type: int
  sample: 4
rule:
  description: How the target was chosen, C(explicit) (O(version)), C(revision), C(ledger) or C(release-before-current).
  returned: when O(state=rolled_back)
  type: str
  sample: ledger
plan:
  description: What the task does (in check mode, would do), in words; empty when already at the target.
  returned: when O(state=rolled_back)
  type: list
  elements: str
  sample: ["set the pod template of deployment web in namespace shop to revision 4's (web=registry/web:v1.2.9)"]
images:
  description: The images of every container, C(before) and C(after).
  returned: when O(state=rolled_back)
  type: dict
  sample: {"before": {"web": "registry/web:v1.3.0"}, "after": {"web": "registry/web:v1.2.9"}}
waited:
  description: The rollout waited on, C(rollout) (C(complete)), its last C(status) and its C(progress) in words.
  returned: when the task changed something and O(wait=true)
  type: dict
  sample: {"rollout": "complete", "status": "3 of 3 replicas updated and available",
           "progress": ["1 of 3 replicas updated", "3 of 3 replicas updated and available"]}
wait_seconds:
  description: How long the rollout took to finish, in seconds.
  returned: when the task changed something and O(wait=true)
  type: float
  sample: 4.2
deleted_pods:
  description: Pods deleted so a stuck StatefulSet could roll back (O(recreate_stuck_pods=true)).
  returned: when pods were deleted
  type: list
  elements: str
  sample: [db-proxy-2]
drift:
  description: The image the last-applied-configuration still names, the one rolled back from (see the warning).
  returned: when it still names it
  type: str
  sample: registry/web:v1.3.0
recorded:
  description: The ledger verdict written before the rollback, the version left and C(bad).
  returned: when O(rolled_back_from) was recorded
  type: dict
  sample: {"v1.3.0": "bad"}
workload:
  description: The workload, C(kind), C(name) and C(namespace).
  returned: always
  type: dict
  sample: {"kind": "Deployment", "name": "web", "namespace": "shop"}
current:
  description: The version running now.
  returned: when O(state=listed)
  type: str
  sample: v1.3.0
history:
  description:
    - Every revision, in the order first deployed, with C(version), C(revision), C(revisions) (every number it had),
      C(aliases) (every spelling of its version), C(name) (its ReplicaSet or ControllerRevision), C(images) and
      C(current).
  returned: when O(state=listed)
  type: list
  elements: dict
  sample: [{"version": "v1.2.9", "revision": 4, "revisions": [2, 4], "aliases": ["v1.2.9", "registry/web:v1.2.9"],
            "name": "web-6b7c8d9f", "images": {"web": "registry/web:v1.2.9"}, "current": true}]
syntax:
  description: The version syntax, C(image).
  returned: when O(state=listed)
  type: str
  sample: image
good:
  description: Versions the ledger records as verified good (after the task, for O(state=recorded)).
  returned: when O(state=listed) or O(state=recorded)
  type: list
  elements: str
  sample: [v1.2.9]
bad:
  description: Versions the ledger records as rolled back from.
  returned: when O(state=listed) or O(state=recorded)
  type: list
  elements: str
  sample: [v1.3.0]
entries:
  description: The ledger's entries after the task (in check mode, as they would be).
  returned: when O(state=recorded)
  type: list
  elements: dict
  sample: [{"version": "v1.2.9", "state": "good", "at": "2026-11-30T17:00:00Z", "note": "INC-1234"}]
lock:
  description: The lock this run holds (O(state=listed) with O(lock)).
  returned: when O(state=listed) or O(state=unlocked)
  type: dict
  sample: {"owner": "20261130T170000Z-42", "holder": {"user": "awx"}, "acquired_at": "2026-11-30T17:00:00Z",
           "expires_at": "2026-11-30T18:00:00Z"}
held_by:
  description: The lock of another run that kept this one from taking (or releasing) it.
  returned: when another run holds the lock
  type: dict
  sample: {"owner": "20261130T165500Z-7", "holder": {"user": "alice", "controller": "bastion"}}
taken_over:
  description: The expired or abandoned lock this run took over.
  returned: when a lock was taken over
  type: dict
  sample: {"owner": "20261130T120000Z-7"}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.k8s.client import (
    HAS_KUBERNETES,
    K8S_AUTH_SPEC,
    KUBERNETES_IMPORT_ERROR,
    KubeClient,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.driver import WorkloadDriver
from ansible_collections.ops.rollback.plugins.module_utils.k8s.rollback import run_k8s_rollback
from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import KINDS, Workload


def argument_spec():
    return dict(
        K8S_AUTH_SPEC,
        kind=dict(type='str', default='Deployment', choices=list(KINDS)),
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        state=dict(type='str', default='rolled_back', choices=['rolled_back', 'listed', 'unlocked', 'recorded']),
        version=dict(type='str'),
        revision=dict(type='int'),
        container=dict(type='str'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
        recreate_stuck_pods=dict(type='bool', default=False),
        rolled_back_from=dict(type='str'),
        note=dict(type='str'),
        lock=dict(type='dict', options=dict(
            owner=dict(type='str', required=True),
            ttl=dict(type='int', default=3600),
            force=dict(type='bool', default=False),
            holder=dict(type='dict', default={}),
        )),
    )


# Options that only mean something for some states; elsewhere they are refused.
STATE_OPTIONS = {
    'version': ['rolled_back', 'recorded'],
    'revision': ['rolled_back'],
    'rolled_back_from': ['rolled_back', 'recorded'],
    'note': ['rolled_back', 'recorded'],
    'lock': ['listed', 'unlocked'],
}


def roll_back(module):
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=KUBERNETES_IMPORT_ERROR)
    params = module.params
    client = KubeClient.connect(**dict((key, params[key]) for key in K8S_AUTH_SPEC))
    workload = Workload(client, params['kind'], params['name'], params['namespace'])
    driver = WorkloadDriver(workload, container=params['container'], recreate_stuck_pods=params['recreate_stuck_pods'],
                            dry_run=module.check_mode)
    return run_k8s_rollback(driver, state=params['state'], version=params['version'], revision=params['revision'],
                            check_mode=module.check_mode, wait=params['wait'], wait_timeout=params['wait_timeout'],
                            rolled_back_from=params['rolled_back_from'], note=params['note'], lock=params['lock'],
                            warn=module.warn)


def main():
    run_module(argument_spec(), roll_back, state_options=STATE_OPTIONS, mutually_exclusive=[('version', 'revision')],
               required_if=[('state', 'unlocked', ['lock']), ('state', 'recorded', ['version'])])


if __name__ == '__main__':
    main()
