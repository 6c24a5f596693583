# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The blue-green platform of the rollback core: a Service whose selector picks one of several
Deployments (its colors), each running a version of the service.

A rollback moves the Service's selector back to the color that runs the
target version (``ServiceSelector`` of k8s/traffic.py, as ``lb_switch``
does) and waits until its Endpoints list exactly that color's ready pods.
No Deployment is touched. The release ledger is an annotation on the
Service, the lock a Lease named after it: the Service is what stands for the
service here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver, Plan
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import BAD
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE
from ansible_collections.ops.rollback.plugins.module_utils._common.images import image_aliases, image_version
from ansible_collections.ops.rollback.plugins.module_utils.k8s.store import (
    JSON_PATCH,
    AnnotatedObject,
    AnnotationLedger,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.traffic import ServiceSelector
from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import (
    Workload,
    describe_conditions,
    failed_conditions,
    label_selector,
    pod_ready,
    pod_template,
    rollout_state,
    template_images,
)

DEFAULT_SELECTOR_LABEL = 'color'


class ServiceObject(AnnotatedObject):
    """The Service that carries the traffic: home of the ledger and name of the Lease."""

    kind = 'Service'
    option = 'service'

    def _get(self):
        return self.client.call('read ' + str(self), self.client.core.read_namespaced_service, self.name,
                                self.namespace)

    def _patch(self, ops):
        return self.client.call('annotate ' + str(self), self.client.core.patch_namespaced_service, self.name,
                                self.namespace, ops, _content_type=JSON_PATCH)


def check_deployments(deployments):
    """``deployments`` (color -> Deployment name) names at least two colors."""
    if not isinstance(deployments, dict) or len(deployments) < 2 or not all(
            isinstance(name, str) and name for name in deployments.values()):
        raise InvalidInputError(
            'deployments must name the Deployment of each color, at least two, for example {{blue: web-blue, '
            'green: web-green}}; got {0!r}. Nothing was changed.'.format(deployments))


def serving(workload):
    """``(True, None)`` when a Deployment (as read) is rolled out and every replica available, so
    traffic can go to it; else ``(False, why)``."""
    obj = workload.obj
    if obj['spec'].get('replicas', 1) == 0:
        return False, '{0} is scaled to 0 replicas; scale it up and wait until it is ready'.format(workload)
    if failed_conditions(obj):
        return False, '{0} failed to roll out ({1})'.format(workload, describe_conditions(obj))
    done, where = rollout_state('Deployment', obj)
    if not done:
        return False, '{0} is not ready ({1})'.format(workload, where)
    return True, None


def read_deployment(workload, option):
    """Read a Deployment that option ``option`` names; a missing one says so."""
    try:
        return workload.read()
    except NotFoundError:
        raise NotFoundError('There is no {0}: check {1} and namespace (kubectl get deployments -n {2}). Nothing was '
                            'changed.'.format(workload, option, workload.namespace), status=404)


def deployment_version(workload, container):
    """``(container, image, version)`` of a Deployment as read; ``container`` None means the first one."""
    images = template_images(workload.obj['spec']['template'])
    names = [name for name, _image in images]
    if container is None:
        if not images:
            raise InvalidInputError('{0} has no containers. Nothing was changed.'.format(workload))
        container = names[0]
    elif container not in names:
        raise InvalidInputError(
            'Container {0!r} is not in the pod template of {1} (containers: {2}). Pass one of them as container=. '
            'Nothing was changed.'.format(container, workload, ', '.join(names)))
    image = dict(images)[container]
    return container, image, image_version(image)


def deployed_at(workload):
    """When the Deployment got the pod template it has now: the creation of the ReplicaSet that
    runs it (a rollout), else of the Deployment itself."""
    template = pod_template(workload.obj['spec']['template'])
    created = [r['created'] for r in workload.revisions() if r['template'] == template]
    return max(created) if created else workload.obj['metadata'].get('creationTimestamp', '')


class BlueGreenDriver(Driver):
    """Roll a blue-green service back by moving Service ``service``'s ``selector_label`` to another
    color. ``deployments``: color -> Deployment name. ``container``: whose image is the version
    (default each Deployment's first). ``dry_run``: the API server checks the switch (check mode)."""

    version_syntax = IMAGE

    def __init__(self, client, service, namespace, deployments, selector_label=None, container=None, dry_run=False):
        selector_label = selector_label or DEFAULT_SELECTOR_LABEL
        self.client = client
        self.namespace = namespace
        self.selector_label = selector_label
        self.container = container
        self.dry_run = dry_run
        self.service = ServiceObject(client, service, namespace)
        self.ledger = AnnotationLedger(self.service)
        if deployments is not None:   # releasing the Lease needs none
            check_deployments(deployments)
        self.deployments = deployments
        self.colors = dict((str(color), Workload(client, 'Deployment', name, namespace))
                           for color, name in (deployments or {}).items())
        self.selector = None
        self.live = None
        self._entries = None
        self._switch = None
        self._planned = None

    def describe(self):
        return str(self.service)

    def lock_store(self):
        return self.service.lock_store()

    def named(self):
        return {'service': {'name': self.service.name, 'namespace': self.namespace,
                            'selector_label': self.selector_label,
                            'deployments': dict((c, w.name) for c, w in sorted(self.colors.items()))}}

    # --- reading -----------------------------------------------------------
    def load(self):
        """Read the Service and every color's Deployment once; everything else works from that."""
        check_deployments(self.deployments)
        obj = self.service.read()
        if obj['spec'].get('type') == 'ExternalName':
            raise InvalidInputError('{0} is of type ExternalName: it has no selector to switch. Nothing was '
                                    'changed.'.format(self.service))
        self.selector = dict(obj['spec'].get('selector') or {})
        self.live = self.selector.get(self.selector_label)
        if self.live is not None and self.live not in self.colors:
            raise InvalidInputError(
                '{0} selects {1}={2}, a color deployments= does not name (it names {3}). Add {2} and its Deployment '
                'to deployments, or check selector_label. Nothing was changed.'.format(
                    self.service, self.selector_label, self.live, ', '.join(sorted(self.colors))))
        entries = []
        bad = set(self.ledger.versions(BAD))
        for color, workload in sorted(self.colors.items()):
            read_deployment(workload, 'deployments.' + color)
            _container, image, version = deployment_version(workload, self.container)
            ok, why = serving(workload)
            if ok:
                ok, why = self._selects(color, workload)
            entry = {'version': version, 'revision': None, 'aliases': image_aliases(image), 'name': color,
                     'deployment': workload.name, 'images': dict(template_images(workload.obj['spec']['template'])),
                     'deployed_at': deployed_at(workload), 'current': color == self.live, 'deployable': ok}
            if not ok:
                entry['why'] = why
            entries.append(entry)
        # Release order: when each color got its version. After a switch the live color is last; a
        # switch back does not reorder them, so "previous" never toggles. Same second: a version
        # rolled back from counts as the later one, then the live color.
        entries.sort(key=lambda e: (e['deployed_at'], e['version'] in bad, e['current'], e['name']))
        self._entries = entries
        return self

    def _after(self, color):
        return dict(self.selector, **{self.selector_label: color})

    def _selects(self, color, workload):
        """Whether the Service's selector, switched to ``color``, selects this Deployment's pods."""
        labels = (workload.obj['spec']['template'].get('metadata') or {}).get('labels') or {}
        after = self._after(color)
        if all(labels.get(key) == value for key, value in after.items()):
            return True, None
        return False, ('the pods of {0} are labelled {1}, so the selector {2} would not reach them; label its pod '
                       'template {3}={4}'.format(workload, label_selector(labels) or 'with nothing',
                                                 label_selector(after), self.selector_label, color))

    def history(self):
        return [dict(e) for e in self._entries]

    def current(self):
        entry = next((e for e in self._entries if e['current']), None)
        return dict(entry) if entry else None

    # --- planning ----------------------------------------------------------
    def plan(self, target):
        color = target['name']
        self._switch = ServiceSelector(self.client, self.service.name, self.namespace, {self.selector_label: color})
        before = self._switch.read()
        after = self._switch.plan(before)
        steps = []
        if after != before:
            facts = self._switch.preflight(before, after)
            steps.append('switch the selector of {0} from {1} to {2} (deployment {3}, {4} ready pods)'.format(
                self.service, label_selector(before), label_selector(after), self.colors[color].name,
                facts['ready_pods']))
            if self.dry_run:
                self._switch.apply(after, dry_run=True)
        self._planned = {'color': color, 'before': before, 'after': after}
        return Plan(steps, self._switch.render(before), self._switch.render(after))

    # --- changing ----------------------------------------------------------
    def apply(self, target, plan):
        # Read again: the ledger's verdict, written since the plan, changed the Service's resourceVersion.
        now = self._switch.read()
        if now != self._planned['before']:
            raise RollbackError(
                'The selector of {0} changed while this run planned (it was {1}, it is {2}): someone else switched '
                'it. Nothing of the switch was applied; run again to plan from the new state.'.format(
                    self.service, label_selector(self._planned['before']), label_selector(now)),
                selector={'before': now, 'after': now})
        self._switch.apply(self._planned['after'])

    def wait(self, target, timeout):
        """Until the Service's Endpoints list the target color's ready pods and no others."""
        after = self._after(target['name'])
        self._switch.wait_timeout = timeout
        self._switch.verify(after)
        pods = self.client.call('list the pods of ' + label_selector(after), self.client.core.list_namespaced_pod,
                                self.namespace, label_selector=label_selector(after))['items']
        return {'endpoints': sorted(p['metadata']['name'] for p in pods if pod_ready(p)),
                'selector': label_selector(after)}

    def report(self, result, before, warn, check_mode):
        """What the module returns besides the core's vocabulary: the colors and selectors, before and after."""
        return {'color': {'before': self.live, 'after': self._planned['color']},
                'selector': {'before': self._planned['before'], 'after': self._planned['after']}}
