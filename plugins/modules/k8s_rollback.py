#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_rollback
short_description: Roll a Kubernetes workload, a blue-green Service or an Istio canary back to a good version
version_added: "0.2.0"
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
  - O(strategy) chooses what is rolled back. V(rolling), the default, is all of the above, for the workload
    O(kind)/O(name).
  - O(strategy=blue_green) moves the selector label O(selector_label) of the Service O(service) back to the color (a key
    of O(deployments)) whose Deployment runs the target version, and waits until the Service's Endpoints list exactly
    that Deployment's ready pods. No Deployment is touched. A color is a target only while its Deployment is fully rolled
    out and every replica available (a color scaled to 0 or crash-looping is refused, with nothing changed). Without
    O(version), the target is the previous good color. The colors are ordered by when each got its version (the
    creation of the ReplicaSet it runs), so after a switch the live color is the newest, and switching back does not
    reorder them. The ledger is the Service's C(ops.rollback/ledger) annotation and the lock the Lease
    C(ops-rollback-service-<service>).
  - O(strategy=canary) aborts a canary behind an Istio VirtualService (C(networking.istio.io/v1beta1)). The weights of
    the route O(route) become 100 for the O(stable) destination and 0 for the O(canary) one (and for any other
    destination of the route), then the canary's Deployment is scaled to 0 replicas, and the task waits until no
    canary pod is left. The replica count it had is kept in its C(ops.rollback/canary-replicas) annotation, so the next
    deploy of a canary can restore it. The target is always the stable Deployment's version; O(version) may only name
    it, and a stable Deployment that is not ready is refused. The version running is the canary's while it gets traffic
    or has replicas, else the stable's. The ledger is the VirtualService's C(ops.rollback/ledger) annotation (the one
    object that names both halves) and the lock the Lease C(ops-rollback-virtualservice-<virtual_service>).
  - With O(strategy=blue_green) or O(strategy=canary), previous means the same as for a workload. A run that does not
    record the version it leaves (O(rolled_back_from)) leaves no trace of it. A later run without O(version) then finds
    nothing earlier than what runs and fails, saying so; it never switches back to the version rolled back from.
author: ops.rollback maintainers (!UNKNOWN)
options:
  strategy:
    description:
      - How the service is deployed, so how it is rolled back. V(rolling), a workload's pod template; V(blue_green), a
        Service's selector between colors; V(canary), an Istio canary aborted. See the description.
      - Options that belong to another strategy are refused.
    type: str
    choices: [rolling, blue_green, canary]
    default: rolling
  kind:
    description: Kind of the workload. Default V(Deployment). Only with O(strategy=rolling).
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
  name:
    description: Name of the workload. Required with O(strategy=rolling), and only for it.
    type: str
  namespace:
    description: Namespace of the workload (of the Service and its Deployments; of the VirtualService and its Deployments).
    type: str
    default: default
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
      - Mutually exclusive with O(version). Only with O(strategy=rolling).
    type: int
  container:
    description:
      - The container whose image O(version) names, when the pod template has several. Default, the first one.
      - With O(strategy=blue_green) or O(strategy=canary), in every Deployment.
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
      - Default V(false). Only with O(strategy=rolling).
    type: bool
  service:
    description: The Service whose selector carries the traffic. Required with O(strategy=blue_green), and only for it.
    type: str
  selector_label:
    description:
      - The label of the Service's selector whose value is the color; the rest of the selector is kept. Default
        V(color). Only with O(strategy=blue_green).
      - Each color's pod template must carry the whole selector with this label set to its color.
    type: str
  deployments:
    description:
      - The Deployment of each color, for example C(blue) to V(web-blue) and C(green) to V(web-green); at least two.
      - Required with O(strategy=blue_green) (except with O(state=unlocked)), and only for it.
      - A Service that selects a color not named here is refused.
    type: dict
  virtual_service:
    description: The Istio VirtualService that splits the traffic. Required with O(strategy=canary), and only for it.
    type: str
  route:
    description:
      - The HTTP route of O(virtual_service) whose weights change, by name or index. Default, the first one. Only with
        O(strategy=canary).
    type: raw
  stable:
    description: The stable half of the canary. Required with O(strategy=canary) (except with O(state=unlocked)), and only
      for it.
    type: dict
    suboptions:
      host:
        description: The stable destination's host, as the route names it.
        type: str
        required: true
      subset:
        description: The stable destination's subset, as the route names it (none when the route gives none).
        type: str
      deployment:
        description: The Deployment that serves the stable version, in O(namespace).
        type: str
        required: true
  canary:
    description: The canary half, aborted. Required with O(strategy=canary) (except with O(state=unlocked)), and only for
      it.
    type: dict
    suboptions:
      host:
        description: The canary destination's host, as the route names it.
        type: str
        required: true
      subset:
        description: The canary destination's subset, as the route names it (none when the route gives none).
        type: str
      deployment:
        description: The Deployment that runs the canary, in O(namespace).
        type: str
        required: true
extends_documentation_fragment:
  - ops.rollback._rollback_states
  - ops.rollback._lock
  - ops.rollback._k8s_auth
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_k8s
attributes:
  check_mode:
    support: full
    details:
      - Reports the target, the plan and the diff of the pod template; the API server checks the change in a
        server-side dry run. With O(recreate_stuck_pods=true), names the pods it would delete.
      - With O(strategy=blue_green), the selector switch, and with O(strategy=canary), the weights and the scale-down,
        are checked by the API server in server-side dry runs.
  diff_mode:
    support: full
    details:
      - The pod template before and after, as YAML, and the ledger's verdicts that change.
      - With O(strategy=blue_green), the Service's selector; with O(strategy=canary), the route's weights and the canary's
        replicas.
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

- name: Switch the web Service back from the green color (found bad) to the previous good one
  ops.rollback.k8s_rollback:
    strategy: blue_green
    service: web
    namespace: shop
    deployments:
      blue: web-blue
      green: web-green
    rolled_back_from: v2.0.0
    note: "INC-1235: green returns 500s"

- name: Switch the web Service, whose selector label is version, to the color that runs v1.9.0
  ops.rollback.k8s_rollback:
    strategy: blue_green
    service: web
    namespace: shop
    selector_label: version
    deployments:
      a: web-a
      b: web-b
    version: v1.9.0

- name: Abort the canary of reviews, all traffic back to the stable version
  ops.rollback.k8s_rollback:
    strategy: canary
    virtual_service: reviews
    namespace: shop
    route: primary
    stable:
      host: reviews
      subset: stable
      deployment: reviews-stable
    canary:
      host: reviews
      subset: canary
      deployment: reviews-canary
    rolled_back_from: v2.1.0
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
  returned: when O(strategy=rolling) and O(state=rolled_back)
  type: dict
  sample: {"before": {"web": "registry/web:v1.3.0"}, "after": {"web": "registry/web:v1.2.9"}}
waited:
  description:
    - What was waited on. A workload's rollout, C(rollout) (C(complete)), its last C(status) and its C(progress) in
      words.
    - With O(strategy=blue_green), the C(endpoints) (the target color's ready pods, which the Service's Endpoints list)
      and the C(selector).
    - With O(strategy=canary), C(canary_pods), the canary's pods left (0).
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
    Only with O(strategy=rolling).
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
  returned: with O(strategy=rolling)
  type: dict
  sample: {"kind": "Deployment", "name": "web", "namespace": "shop"}
service:
  description: The blue-green Service, C(name), C(namespace), C(selector_label) and the C(deployments) of its colors.
  returned: with O(strategy=blue_green)
  type: dict
  sample: {"name": "web", "namespace": "shop", "selector_label": "color",
           "deployments": {"blue": "web-blue", "green": "web-green"}}
color:
  description: The color the Service selects, C(before) and C(after) the task (in check mode, would select).
  returned: when O(strategy=blue_green) and O(state=rolled_back)
  type: dict
  sample: {"before": "green", "after": "blue"}
selector:
  description: The Service's whole selector, C(before) and C(after).
  returned: when O(strategy=blue_green) and O(state=rolled_back)
  type: dict
  sample: {"before": {"app": "web", "color": "green"}, "after": {"app": "web", "color": "blue"}}
virtual_service:
  description: The canary's VirtualService, C(name), C(namespace), C(route), and the C(stable) and C(canary) halves.
  returned: with O(strategy=canary)
  type: dict
  sample: {"name": "reviews", "namespace": "shop", "route": "primary",
           "stable": {"host": "reviews", "subset": "stable", "deployment": "reviews-stable"},
           "canary": {"host": "reviews", "subset": "canary", "deployment": "reviews-canary"}}
weights:
  description: The route's destinations and weights, C(before) and C(after) the task (in check mode, would be).
  returned: when O(strategy=canary) and O(state=rolled_back)
  type: dict
  sample: {"before": [{"host": "reviews", "subset": "stable", "weight": 80},
                      {"host": "reviews", "subset": "canary", "weight": 20}],
           "after": [{"host": "reviews", "subset": "stable", "weight": 100},
                     {"host": "reviews", "subset": "canary", "weight": 0}]}
canary_replicas:
  description:
    - The canary Deployment's replicas, C(before) and C(after) the task, and the C(annotation) of the canary Deployment
      that keeps the count it had, C(ops.rollback/canary-replicas), so the next deploy of a canary can scale it back up.
    - A canary already at 0 replicas keeps the annotation it has.
  returned: when O(strategy=canary) and O(state=rolled_back)
  type: dict
  sample: {"before": 2, "after": 0, "annotation": "ops.rollback/canary-replicas"}
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
    - With O(strategy=blue_green), one entry per color in the order the colors got their versions (C(name) the color,
      C(deployment), C(deployed_at), no revision), and with O(strategy=canary) the C(stable) and the C(canary) entry.
      An entry that cannot be a target has C(deployable=false) and C(why).
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

from ansible_collections.ops.rollback.plugins.module_utils._common.lock import lock_argument_spec
from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils._common.states import (
    STATE_OPTIONS,
    STATE_REQUIRED_IF,
    STATES,
    run_module_state,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.client import (
    HAS_KUBERNETES,
    K8S_AUTH_SPEC,
    KUBERNETES_IMPORT_ERROR,
    KubeClient,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.strategy import (
    STRATEGIES,
    build_driver,
    refuse_options_not_for_strategy,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import KINDS


# The stable and the canary half of a canary: the route's destination and the Deployment behind it.
DESTINATION = dict(
    host=dict(type='str', required=True),
    subset=dict(type='str'),
    deployment=dict(type='str', required=True),
)


def argument_spec():
    return dict(
        K8S_AUTH_SPEC,
        strategy=dict(type='str', default='rolling', choices=list(STRATEGIES)),
        kind=dict(type='str', choices=list(KINDS)),
        name=dict(type='str'),
        namespace=dict(type='str', default='default'),
        state=dict(type='str', default='rolled_back', choices=list(STATES)),
        version=dict(type='str'),
        revision=dict(type='int'),
        container=dict(type='str'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
        recreate_stuck_pods=dict(type='bool'),
        service=dict(type='str'),
        selector_label=dict(type='str'),
        deployments=dict(type='dict'),
        virtual_service=dict(type='str'),
        route=dict(type='raw'),
        stable=dict(type='dict', options=DESTINATION),
        canary=dict(type='dict', options=DESTINATION),
        rolled_back_from=dict(type='str'),
        note=dict(type='str'),
        lock=lock_argument_spec(),
    )


def roll_back(module):
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=KUBERNETES_IMPORT_ERROR)
    params = module.params
    refuse_options_not_for_strategy(params)   # before connecting
    client = KubeClient.connect(**dict((key, params[key]) for key in K8S_AUTH_SPEC))
    driver = build_driver(client, params, dry_run=module.check_mode)
    return run_module_state(driver, module)


def main():
    run_module(argument_spec(), roll_back, state_options=STATE_OPTIONS, mutually_exclusive=[('version', 'revision')],
               required_if=STATE_REQUIRED_IF + [('strategy', 'rolling', ['name']), ('strategy', 'blue_green', ['service']),
                                                ('strategy', 'canary', ['virtual_service'])])


if __name__ == '__main__':
    main()
