# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary platform of the rollback core: an Istio VirtualService route that splits traffic
between a stable Deployment and a canary Deployment.

A rollback is a canary abort: the route's weights go to stable 100 / canary 0
(``VirtualServiceWeights`` of k8s/traffic.py, as ``lb_switch`` does), then
the canary Deployment is scaled to 0, its replica count kept in its
``ops.rollback/canary-replicas`` annotation so a later deploy can restore
it, and the run waits until no canary pod is left. The target is always the
stable version. The release ledger is an annotation on the VirtualService
and the lock a Lease named after it: the VirtualService is the one object
that names both halves, so it stands for the service here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver, Plan
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE
from ansible_collections.ops.rollback.plugins.module_utils.k8s.blue_green import (
    deployment_version,
    read_deployment,
    serving,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.images import image_aliases
from ansible_collections.ops.rollback.plugins.module_utils.k8s.store import (
    JSON_PATCH,
    AnnotatedObject,
    AnnotationLedger,
    annotation_ops,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.traffic import (
    ISTIO_API_VERSIONS,
    VirtualServiceWeights,
    describe_destination,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import Workload, template_images

CANARY_REPLICAS_ANNOTATION = 'ops.rollback/canary-replicas'
POLL_SECONDS = 0.5


class VirtualServiceObject(AnnotatedObject):
    """The Istio VirtualService that splits the traffic: home of the ledger and name of the Lease."""

    kind = 'VirtualService'
    option = 'virtual_service'
    missing_hint = ', and that the cluster serves {0} (Istio\'s CRDs)'.format(ISTIO_API_VERSIONS[0])

    def _args(self):
        group, version = ISTIO_API_VERSIONS[0].split('/')
        return group, version, self.namespace, 'virtualservices', self.name

    def _get(self):
        return self.client.call('read ' + str(self), self.client.custom.get_namespaced_custom_object, *self._args())

    def _patch(self, ops):
        return self.client.call('annotate ' + str(self), self.client.custom.patch_namespaced_custom_object,
                                *self._args(), body=ops, _content_type=JSON_PATCH)


def _key(side):
    return side['host'], side.get('subset')


def check_halves(stable, canary):
    """``stable`` and ``canary`` (each ``{host, subset, deployment}``) are given and tell the halves apart."""
    if not stable or not canary:
        raise InvalidInputError(
            'strategy=canary needs stable= and canary=, each the route\'s destination and the Deployment behind it '
            '(host, subset, deployment); got stable={0!r} and canary={1!r}. Nothing was changed.'.format(stable, canary))
    if stable['deployment'] == canary['deployment']:
        raise InvalidInputError(
            'stable and canary name the same Deployment, {0}: the canary runs in a Deployment of its own. '
            'Nothing was changed.'.format(stable['deployment']))
    if _key(stable) == _key(canary):
        raise InvalidInputError(
            'stable and canary name the same destination, {0}: give them the host or subset that tells them '
            'apart in the route. Nothing was changed.'.format(describe_destination(_key(stable))))


class CanaryDriver(Driver):
    """Abort the canary of VirtualService ``virtual_service``: ``stable`` and ``canary`` are
    ``{host, subset, deployment}``, the route's destination and the Deployment behind it;
    ``route`` the HTTP route (name or index, default the first). ``container``: whose image is
    the version. ``dry_run``: the API server checks every write (check mode)."""

    version_syntax = IMAGE

    def __init__(self, client, virtual_service, namespace, stable=None, canary=None, route=None, container=None,
                 dry_run=False, clock=time.monotonic, sleep=time.sleep):
        if stable is not None or canary is not None:   # releasing the Lease needs neither
            check_halves(stable, canary)
        self.client = client
        self.namespace = namespace
        self.route = route
        self.container = container
        self.dry_run = dry_run
        self.clock = clock
        self.sleep = sleep
        self.sides = {'stable': stable, 'canary': canary}
        self.vs = VirtualServiceObject(client, virtual_service, namespace)
        self.ledger = AnnotationLedger(self.vs)
        self.stable = self.canary = self.weights = None
        if stable is not None and canary is not None:
            self.stable = Workload(client, 'Deployment', stable['deployment'], namespace)
            self.canary = Workload(client, 'Deployment', canary['deployment'], namespace)
            self.weights = VirtualServiceWeights(
                client, virtual_service, namespace,
                [dict(host=stable['host'], subset=stable.get('subset'), weight=100),
                 dict(host=canary['host'], subset=canary.get('subset'), weight=0)], route=route)
        self.before = self.after = None
        self.replicas = None
        self._entries = None

    def describe(self):
        return str(self.vs)

    def lock_store(self):
        return self.vs.lock_store()

    def named(self):
        return {'virtual_service': {'name': self.vs.name, 'namespace': self.namespace, 'route': self.route,
                                    'stable': self.sides['stable'], 'canary': self.sides['canary']}}

    # --- reading -----------------------------------------------------------
    def load(self):
        """Read the VirtualService and both Deployments once; everything else works from that."""
        check_halves(self.sides['stable'], self.sides['canary'])
        self.vs.read()
        self.before = self.weights.read()   # the route, validated
        known = [(w['host'], w['subset']) for w in self.before]
        for side in ('stable', 'canary'):
            if _key(self.sides[side]) not in known:
                raise InvalidInputError(
                    '{0} ({1}) is not a destination of {2} (it has: {3}). Check {0}.host and {0}.subset, or route=. '
                    'Nothing was changed.'.format(side, describe_destination(_key(self.sides[side])),
                                                  self.weights.describe(),
                                                  ', '.join(describe_destination(k) for k in known)))
        self.after = self.weights.plan(self.before)
        entries = []
        for side, workload in (('stable', self.stable), ('canary', self.canary)):
            read_deployment(workload, side + '.deployment')
            _container, image, version = deployment_version(workload, self.container)
            entries.append({'version': version, 'revision': None, 'aliases': image_aliases(image), 'name': side,
                            'deployment': workload.name,
                            'images': dict(template_images(workload.obj['spec']['template']))})
        stable, canary = entries
        self.replicas = self.canary.obj['spec'].get('replicas', 1)
        weight = next(w['weight'] for w in self.before if (w['host'], w['subset']) == _key(self.sides['canary']))
        live = weight > 0 or self.replicas > 0
        ok, why = serving(self.stable)
        stable.update(current=not live, deployable=ok)
        if not ok:
            stable['why'] = why + ', so it cannot take the canary\'s traffic'
        # A canary is aborted, never rolled back to; one that runs the stable version is that version.
        canary.update(current=live, deployable=canary['version'] == stable['version'])
        if not canary['deployable']:
            canary['why'] = 'it is the canary ({0}); an abort goes back to the stable version, {1}'.format(
                self.canary, stable['version'])
        self._entries = entries
        return self

    def history(self):
        return [dict(e) for e in self._entries]

    def current(self):
        return dict(next(e for e in self._entries if e['current']))

    # --- planning ----------------------------------------------------------
    def _render(self, weights, replicas):
        return self.weights.render(weights) + '{0} replicas: {1}\n'.format(self.canary, replicas)

    def plan(self, target):
        steps = []
        if self.after != self.before:
            steps.append('set the weights of {0} to {1}'.format(
                self.weights.describe(), self.weights.render(self.after).strip().replace('\n', ', ')))
            if self.dry_run:
                self.weights.apply(self.after, dry_run=True)
        if self.replicas:
            steps.append('scale {0} from {1} to 0 replicas, keeping {1} in its annotation {2} for the next '
                         'deploy'.format(self.canary, self.replicas, CANARY_REPLICAS_ANNOTATION))
            if self.dry_run:
                self._scale_down(dry_run=True)
        return Plan(steps, self._render(self.before, self.replicas), self._render(self.after, 0))

    # --- changing ----------------------------------------------------------
    def _scale_down(self, dry_run=False):
        """Replicas to 0, only if still what was read (a JSON patch ``test``), and the count remembered."""
        ops = [{'op': 'test', 'path': '/spec/replicas', 'value': self.replicas},
               {'op': 'replace', 'path': '/spec/replicas', 'value': 0}]
        ops += annotation_ops(self.canary.obj, CANARY_REPLICAS_ANNOTATION, str(self.replicas), None)
        extra = {'dry_run': 'All'} if dry_run else {}
        obj = self.client.call('scale ' + str(self.canary) + ' to 0 replicas', self.client.apps.patch_namespaced_deployment,
                               self.canary.name, self.namespace, ops, _content_type=JSON_PATCH, **extra)
        if not dry_run:
            self.canary.obj = obj

    def apply(self, target, plan):
        if self.after != self.before:
            # Read again: the ledger's verdict, written since the plan, changed the resourceVersion.
            now = self.weights.read()
            if now not in (self.before, self.after):
                raise RollbackError(
                    'The weights of {0} changed while this run planned (they were {1}, they are {2}): someone else '
                    'moved them. Nothing was applied; run again to plan from the new state.'.format(
                        self.weights.describe(), self.weights.render(self.before).strip().replace('\n', ', '),
                        self.weights.render(now).strip().replace('\n', ', ')))
            if now != self.after:
                self.weights.apply(self.after)
                self.weights.verify(self.after)
        if self.replicas:
            self._scale_down()

    def wait(self, target, timeout):
        """Until no pod of the canary Deployment is left (terminating ones included)."""
        deadline = self.clock() + timeout
        revisions = self.canary.revisions()
        while True:
            pods = self.canary.pods(revisions)
            if not pods:
                return {'canary_pods': 0}
            if self.clock() >= deadline:
                raise RollbackTimeoutError(
                    '{0} gets no traffic and is scaled to 0, but after {1:g} s {2} of its pods are still there ({3}). '
                    'Look at kubectl get pods -n {4} and the nodes, then run again to check again.'.format(
                        self.canary, timeout, len(pods), ', '.join(p['name'] for p in pods), self.namespace),
                    waited={'canary_pods': len(pods), 'pods_left': [p['name'] for p in pods]})
            self.sleep(POLL_SECONDS)

    def report(self, result, before, warn, check_mode):
        """What the module returns besides the core's vocabulary: the weights and the canary's replicas
        (after: as they are, or in check mode would be, once the canary is aborted)."""
        return {'weights': {'before': self.before, 'after': self.after},
                'canary_replicas': {'before': self.replicas, 'after': 0, 'annotation': CANARY_REPLICAS_ANNOTATION}}
