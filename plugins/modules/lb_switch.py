#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lb_switch
short_description: Move traffic between pools, for blue-green switches and canary aborts
version_added: "0.2.0"
description:
  - Moves a service's traffic from one pool of instances to another, through the load balancer in front of it. The
    O(backend) says which load balancer.
  - O(backend=kubernetes_service) is blue-green. It sets the selector of a Kubernetes Service, for example from
    C(version=blue) to C(version=green), so the Service sends its traffic to other pods. O(selector) is merged into the
    current selector, so keys it does not name stay as they are. A switch to a selector that matches no ready pod in
    the namespace is refused, unless O(force=true). Once switched, the module waits until the Service's Endpoints list
    the ready pods of the new selector and no other pods, see O(wait).
  - O(backend=istio) is a canary. It sets the weights of the destinations of one HTTP route of an Istio
    VirtualService, for example V(100) for the stable subset and V(0) for the canary to abort a canary. The weights
    must add up to V(100), and every destination named must be one of the route's. A destination of the route that
    O(weights) does not name gets weight V(0). With O(steps), the weights move there gradually.
  - The current state is read first and compared with the one asked for. Nothing is written when they are the same,
    and the module reports RV(changed=false). Every write carries the C(resourceVersion) that was read, so a
    change someone else made in between fails the task (409 conflict) instead of being overwritten.
  - Nothing is changed when the task fails before writing, for example on a refused selector, on wrong weights, an
    unknown Service or VirtualService, missing permissions or an unreachable API server.
author: ops.rollback maintainers (!UNKNOWN)
options:
  backend:
    description:
      - The load balancer to switch.
      - V(kubernetes_service) sets the selector of the Kubernetes Service O(name), see O(selector).
      - V(istio) sets the route weights of the Istio VirtualService O(name), see O(weights).
    type: str
    required: true
    choices: [kubernetes_service, istio]
  name:
    description: Name of the Service (O(backend=kubernetes_service)) or VirtualService (O(backend=istio)).
    type: str
    required: true
  namespace:
    description: Namespace of O(name).
    type: str
    default: default
  selector:
    description:
      - With O(backend=kubernetes_service), and required there, the labels to set in the Service's selector, for
        example C(version=green).
      - Merged into the current selector. Keys not named keep their value, so C(app=web) stays. A key set to V(null)
        is removed from the selector.
      - Label values are strings. A number is taken as its digits; V(true) or V(false) is refused, so quote them.
      - Refused when the resulting selector matches no ready pod in O(namespace), because the Service would then route
        to nothing. Pods that are being deleted do not count. O(force=true) switches anyway. A selector left without
        any key is always refused.
    type: dict
  weights:
    description:
      - With O(backend=istio), and required there, the weight of each destination of the route, which must add up to
        V(100).
      - A destination is named as in the route, by O(weights[].host) and, when the route's destination has one,
        O(weights[].subset). A destination named that is not in the route is refused. Each destination is named once.
      - A destination of the route that is not named gets weight V(0).
    type: list
    elements: dict
    suboptions:
      host:
        description: The destination's C(host), exactly as written in the route, for example V(reviews) or V(reviews.prod.svc.cluster.local).
        type: str
        required: true
      subset:
        description: The destination's C(subset). Omit it for a destination without a subset.
        type: str
      weight:
        description: Percentage of the route's traffic for this destination, from V(0) to V(100).
        type: int
        required: true
  route:
    description:
      - With O(backend=istio), which HTTP route of the VirtualService (an entry of its C(spec.http)) to set the weights
        of, by its C(name) or by its index from V(0).
      - Default, the first route.
    type: raw
  api_version:
    description:
      - With O(backend=istio), the API version to read and write the VirtualService through.
      - Default V(networking.istio.io/v1beta1), served by Istio 1.5 and later. Choose V(networking.istio.io/v1alpha3)
        for older clusters.
    type: str
    choices: [networking.istio.io/v1beta1, networking.istio.io/v1alpha3]
  steps:
    description:
      - With O(backend=istio), move the weights gradually. Each step is the percentage of the way from the current
        weights to O(weights), for example V([10, 25, 50]). The last step is always V(100), the weights asked for.
      - Weights are rounded to whole numbers that still add up to V(100). A step that would not change them is left out.
      - If a step fails, the task fails with RV(after) set to the weights the route was left at.
      - In check mode, RV(steps) shows the steps and nothing is written.
    type: list
    elements: int
  pause:
    description:
      - With O(steps), seconds to wait between two steps, for example to watch the error rate. Fractions are allowed.
      - Default V(0), no pause.
    type: float
  force:
    description:
      - With O(backend=kubernetes_service), switch even when the new selector matches no ready pod.
      - The Service then has no endpoints until such pods are ready, and the module warns about it.
    type: bool
    default: false
  wait:
    description:
      - With O(backend=kubernetes_service), wait after the switch until the Service's Endpoints list exactly the ready
        pods of the new selector. Only then has traffic moved.
      - The check also runs when the selector is already the one asked for, so a second run proves it too. It does not
        run in check mode.
      - With O(backend=istio), the weights that the API server stored are always compared with the ones asked for.
        There is nothing to wait for.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the Endpoints with O(wait). On timeout the task fails, and the Service keeps its new
        selector.
    type: int
    default: 60
extends_documentation_fragment:
  - ops.rollback._k8s_auth
  - ops.rollback._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the current state and the pods, and refuses as a real run would. The API server checks the change
        with a server-side dry run, and nothing is written.
  diff_mode:
    support: full
    details:
      - The selector or the route's weights, before and after.
  idempotent:
    support: full
  action_group:
    description: Use C(group/ops.rollback.traffic) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - ops.rollback.traffic
notes:
  - Writes are JSON merge patches made with the field manager C(ops.rollback), so the objects' C(managedFields) show
    who moved the traffic.
  - The credentials need permission to get and patch the Service and to list pods and get Endpoints in O(namespace)
    (O(backend=kubernetes_service)), or to get and patch C(virtualservices.networking.istio.io) (O(backend=istio)).
seealso:
  - module: ops.rollback.health_check
    description: Check the new pool before and after the switch.
  - name: Istio traffic shifting
    description: Weighted routes of a VirtualService.
    link: https://istio.io/latest/docs/tasks/traffic-management/traffic-shifting/
  - name: Kubernetes Services
    description: How a Service's selector chooses the pods that get its traffic.
    link: https://kubernetes.io/docs/concepts/services-networking/service/
"""

EXAMPLES = r"""
- name: Switch the web Service from the blue pods to the green ones
  ops.rollback.lb_switch:
    backend: kubernetes_service
    name: web
    namespace: shop
    selector:
      version: green

- name: Show what a switch back to blue would change, without changing it
  ops.rollback.lb_switch:
    backend: kubernetes_service
    name: web
    namespace: shop
    selector:
      version: blue
  check_mode: true
  diff: true
  register: plan

- name: Drop the track label from the selector and switch to blue, even if no blue pod is ready yet
  ops.rollback.lb_switch:
    backend: kubernetes_service
    name: web
    namespace: shop
    selector:
      version: blue
      track: null
    force: true
    kubeconfig: /etc/rollback/kubeconfig

- name: Abort the canary, all traffic back to the stable subset
  ops.rollback.lb_switch:
    backend: istio
    name: reviews
    namespace: shop
    weights:
      - host: reviews
        subset: stable
        weight: 100
      - host: reviews
        subset: canary
        weight: 0

- name: Shift the canary route of an older Istio back to stable in steps, one minute apart
  ops.rollback.lb_switch:
    backend: istio
    name: reviews
    namespace: shop
    api_version: networking.istio.io/v1alpha3
    route: canary
    weights:
      - host: reviews-stable
        weight: 100
    steps: [25, 50, 75]
    pause: 60

- name: Set the defaults of every traffic switch in a play once
  module_defaults:
    group/ops.rollback.traffic:
      namespace: shop
      kubeconfig: /etc/rollback/kubeconfig
  block:
    - name: Switch the web Service to green
      ops.rollback.lb_switch:
        backend: kubernetes_service
        name: web
        selector:
          version: green
"""

RETURN = r"""
changed:
  description: Whether the selector or the weights changed (or would change, in check mode).
  returned: always
  type: bool
  sample: true
backend:
  description: The O(backend) used.
  returned: always
  type: str
  sample: kubernetes_service
before:
  description:
    - The state before the task, the Service's selector (O(backend=kubernetes_service)) or the route's destinations
      with their weights (O(backend=istio)).
  returned: success, and on failure when a selector was refused or a write or its check failed
  type: raw
  sample: {"app": "web", "version": "blue"}
after:
  description:
    - The state after the task, in the same form as RV(before). In check mode, the state the task would set.
    - When a write or a step failed, the state it was left at.
  returned: success, and on failure when a selector was refused or a write or its check failed
  type: raw
  sample: [{"host": "reviews", "subset": "stable", "weight": 100}, {"host": "reviews", "subset": "canary", "weight": 0}]
ready_pods:
  description: With O(backend=kubernetes_service), how many ready pods the new selector matches.
  returned: when O(backend=kubernetes_service)
  type: int
  sample: 3
steps:
  description: With O(steps), the weights of each step, in the form of RV(after), the last one being RV(after).
  returned: when O(steps) is set and the weights change
  type: list
  elements: list
  sample: [[{"host": "reviews", "subset": "stable", "weight": 50}, {"host": "reviews", "subset": "canary", "weight": 50}],
           [{"host": "reviews", "subset": "stable", "weight": 100}, {"host": "reviews", "subset": "canary", "weight": 0}]]
diff:
  description: The selector or the weights before and after, one line per item.
  returned: when something changes, in diff mode
  type: dict
  sample: {"before": "app: web\nversion: blue\n", "after": "app: web\nversion: green\n"}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ops.rollback.plugins.module_utils._common.module import refuse_options_not_for, run_module
from ansible_collections.ops.rollback.plugins.module_utils.k8s.client import (
    HAS_KUBERNETES,
    K8S_AUTH_SPEC,
    KUBERNETES_IMPORT_ERROR,
    KubeClient,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.traffic import (
    ISTIO_API_VERSIONS,
    ServiceSelector,
    VirtualServiceWeights,
    label_selector,
)
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import (
    parse_steps,
    run_switch,
)

# Options that mean something for some backends only; elsewhere they are refused.
BACKEND_OPTIONS = {
    'selector': ['kubernetes_service'],
    'weights': ['istio'],
    'route': ['istio'],
    'api_version': ['istio'],
    'steps': ['istio'],
    'pause': ['istio'],
}


def argument_spec():
    spec = dict(
        backend=dict(type='str', required=True, choices=['kubernetes_service', 'istio']),
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        selector=dict(type='dict'),
        weights=dict(type='list', elements='dict', options=dict(
            host=dict(type='str', required=True),
            subset=dict(type='str'),
            weight=dict(type='int', required=True),
        )),
        route=dict(type='raw'),
        api_version=dict(type='str', choices=list(ISTIO_API_VERSIONS)),
        steps=dict(type='list', elements='int'),
        pause=dict(type='float'),
        force=dict(type='bool', default=False),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=60),
    )
    spec.update(K8S_AUTH_SPEC)
    return spec


def switch(module):
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=str(KUBERNETES_IMPORT_ERROR))
    params = module.params
    refuse_options_not_for(params, 'backend', BACKEND_OPTIONS)
    steps = parse_steps(params['steps']) if params['steps'] else None   # refused before connecting
    client = KubeClient.connect(**dict((key, params[key]) for key in K8S_AUTH_SPEC))
    if params['backend'] == 'kubernetes_service':
        backend = ServiceSelector(client, params['name'], params['namespace'], params['selector'],
                                  wait=params['wait'], wait_timeout=params['wait_timeout'])
    else:
        backend = VirtualServiceWeights(client, params['name'], params['namespace'], params['weights'],
                                        route=params['route'], api_version=params['api_version'] or ISTIO_API_VERSIONS[0])
    result = run_switch(backend, check_mode=module.check_mode, force=params['force'], steps=steps,
                        pause=params['pause'] or 0)
    if result.get('ready_pods') == 0:
        module.warn('{0} selects no ready pod ({1}): it has no endpoints, and its traffic fails until such pods are '
                    'ready.'.format(backend.describe(), label_selector(result['after'])))
    return result


def main():
    run_module(argument_spec(), switch,
               required_if=[('backend', 'kubernetes_service', ['selector']), ('backend', 'istio', ['weights'])])


if __name__ == '__main__':
    main()
