# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Deployment, StatefulSet or DaemonSet as the API server has it.

``Workload`` reads the object, its revisions (the ReplicaSets or
ControllerRevisions it owns, matched by owner reference, not by labels
alone) and its pods, and writes the few things a rollback writes. The
functions below it are pure: they read a rollout's state from the object's
status, as ``kubectl rollout status`` does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils._common.images import image_aliases, image_version

try:
    from kubernetes import watch
except ImportError:   # the module reports the missing library
    watch = None

KINDS = ('Deployment', 'StatefulSet', 'DaemonSet')
REVISION_ANNOTATION = 'deployment.kubernetes.io/revision'
REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history'
CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause'
LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration'
# A ControllerRevision rolled back to is renumbered, as a ReplicaSet is; this keeps
# its earlier numbers, as deployment.kubernetes.io/revision-history does for a ReplicaSet.
CR_REVISION_HISTORY_ANNOTATION = 'ops.rollback/revision-history'
HASH_LABEL = 'pod-template-hash'
CONTROLLER_HASH_LABEL = 'controller-revision-hash'
# Waiting reasons that will not go away by themselves.
BROKEN_REASONS = ('CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName',
                  'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError')


def _snake(kind):
    return {'Deployment': 'deployment', 'StatefulSet': 'stateful_set', 'DaemonSet': 'daemon_set'}[kind]


def pod_template(template):
    """A pod template as it compares: without the hash label a ReplicaSet adds, a
    ControllerRevision's ``$patch`` marker and the always-empty creation time."""
    template = copy.deepcopy(template or {})
    template.pop('$patch', None)
    metadata = template.setdefault('metadata', {})
    metadata.pop('creationTimestamp', None)
    labels = metadata.get('labels') or {}
    labels.pop(HASH_LABEL, None)
    if not labels:
        metadata.pop('labels', None)
    return template


def label_selector(selector):
    """``{app: web}`` as the API's label selector string, ``app=web``."""
    return ','.join('{0}={1}'.format(key, value) for key, value in sorted(selector.items()))


def pod_ready(pod):
    """Ready, and not on its way out: what the endpoint controller sends traffic to."""
    if pod['metadata'].get('deletionTimestamp'):
        return False
    conditions = (pod.get('status') or {}).get('conditions') or []
    return any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in conditions)


def template_images(template):
    return [(c['name'], c['image']) for c in (template.get('spec') or {}).get('containers') or []]


class Workload:
    """``kind``/``name`` in ``namespace``, through a ``KubeClient``."""

    def __init__(self, client, kind, name, namespace):
        if kind not in KINDS:
            raise InvalidInputError('Unknown kind {0!r}: use one of {1}. Nothing was changed.'.format(
                kind, ', '.join(KINDS)))
        self.client = client
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.obj = None

    def __str__(self):
        return '{0} {1} in namespace {2}'.format(self.kind.lower(), self.name, self.namespace)

    def _method(self, verb):
        return getattr(self.client.apps, '{0}_namespaced_{1}'.format(verb, _snake(self.kind)))

    def read(self):
        try:
            self.obj = self.client.call('read ' + str(self), self._method('read'), self.name, self.namespace)
        except NotFoundError:
            raise NotFoundError(
                'There is no {0}: check kind, name and namespace (kubectl get {1} -n {2}). Nothing was '
                'changed.'.format(self, self.kind.lower(), self.namespace))
        return self.obj

    @property
    def uid(self):
        return self.obj['metadata']['uid']

    @property
    def annotations(self):
        return self.obj['metadata'].get('annotations') or {}

    def _selector(self):
        return label_selector((self.obj['spec'].get('selector') or {}).get('matchLabels') or {}) or None

    def _owned(self, items, uids):
        return [i for i in items if any(ref.get('uid') in uids and ref.get('controller')
                                        for ref in i['metadata'].get('ownerReferences') or [])]

    def revisions(self):
        """What it can roll back to, oldest first: one dict per ReplicaSet or ControllerRevision,
        with ``name``, ``uid``, ``revision``, ``revisions`` (every number it had), ``template``,
        ``change_cause``."""
        selector = self._selector()
        if self.kind == 'Deployment':
            items = self.client.call('list the replica sets of ' + str(self), self.client.apps.list_namespaced_replica_set,
                                     self.namespace, label_selector=selector)['items']
            revisions = []
            for rs in self._owned(items, (self.uid,)):
                annotations = rs['metadata'].get('annotations') or {}
                number = int(annotations.get(REVISION_ANNOTATION, 0))
                earlier = [int(n) for n in annotations.get(REVISION_HISTORY_ANNOTATION, '').split(',') if n.strip()]
                revisions.append({'name': rs['metadata']['name'], 'uid': rs['metadata']['uid'], 'revision': number,
                                  'revisions': sorted(set(earlier + [number])),
                                  'template': pod_template(rs['spec']['template']),
                                  'change_cause': annotations.get(CHANGE_CAUSE_ANNOTATION),
                                  'created': rs['metadata'].get('creationTimestamp', '')})
        else:
            items = self.client.call('list the controller revisions of ' + str(self),
                                     self.client.apps.list_namespaced_controller_revision,
                                     self.namespace, label_selector=selector)['items']
            revisions = []
            for cr in self._owned(items, (self.uid,)):
                annotations = cr['metadata'].get('annotations') or {}
                earlier = [int(n) for n in annotations.get(CR_REVISION_HISTORY_ANNOTATION, '').split(',') if n.strip()]
                revisions.append({'name': cr['metadata']['name'], 'uid': cr['metadata']['uid'],
                                  'revision': cr['revision'], 'revisions': sorted(set(earlier + [cr['revision']])),
                                  'template': pod_template(((cr.get('data') or {}).get('spec') or {}).get('template')),
                                  'change_cause': None, 'created': cr['metadata'].get('creationTimestamp', ''),
                                  'history': earlier})
        # The order they were first deployed in: a revision rolled back to gets a new
        # number, but keeps its place (its first number; a ControllerRevision its creation).
        return sorted(revisions, key=lambda r: (r['revisions'][0],) if self.kind == 'Deployment'
                      else (r['created'], r['revisions'][0]))

    def remember_revision(self, revision):
        """Before a ControllerRevision is rolled back to (and renumbered), note its number on it."""
        numbers = ','.join(str(n) for n in revision['history'] + [revision['revision']])
        self.client.call('annotate controller revision {0} of {1}'.format(revision['name'], self),
                         self.client.apps.patch_namespaced_controller_revision, revision['name'], self.namespace,
                         {'metadata': {'annotations': {CR_REVISION_HISTORY_ANNOTATION: numbers}}},
                         _content_type='application/merge-patch+json')

    def template(self):
        return pod_template(self.obj['spec']['template'])

    def set_template(self, template, expected, change_cause=None, set_change_cause=False, dry_run=False):
        """Replace the pod template, only if it still is ``expected`` (a JSON patch ``test``):
        a rollback never overwrites a deploy that landed while it planned."""
        ops = [{'op': 'test', 'path': '/spec/template', 'value': expected},
               {'op': 'replace', 'path': '/spec/template', 'value': template}]
        if set_change_cause:
            path = '/metadata/annotations/kubernetes.io~1change-cause'
            if 'annotations' not in self.obj['metadata']:
                ops.append({'op': 'add', 'path': '/metadata/annotations', 'value': {}})
            if change_cause is not None:
                ops.append({'op': 'add', 'path': path, 'value': change_cause})
            elif CHANGE_CAUSE_ANNOTATION in self.annotations:
                ops.append({'op': 'remove', 'path': path})
        kwargs = {'dry_run': 'All'} if dry_run else {}
        obj = self.client.call('set the pod template of ' + str(self), self._method('patch'), self.name,
                               self.namespace, ops, _content_type='application/json-patch+json', **kwargs)
        if not dry_run:
            self.obj = obj
        return obj

    def set_annotation(self, key, value, expected):
        """Set one annotation, only if it still is ``expected`` (None: absent), so two writers never
        overwrite each other; the status updates of a rollout in progress do not get in the way."""
        path = '/metadata/annotations/' + key.replace('~', '~0').replace('/', '~1')
        ops = [] if 'annotations' in self.obj['metadata'] else [{'op': 'add', 'path': '/metadata/annotations', 'value': {}}]
        if expected is not None:
            ops.append({'op': 'test', 'path': path, 'value': expected})
        ops.append({'op': 'add', 'path': path, 'value': value})
        self.obj = self.client.call('annotate ' + str(self), self._method('patch'), self.name, self.namespace, ops,
                                    _content_type='application/json-patch+json')

    def pods(self, revisions):
        """The live pods it owns: ``name``, ``uid``, ``revision`` (name of their ReplicaSet or
        ControllerRevision), ``ready``, ``waiting`` (reasons), ``terminating``."""
        items = self.client.call('list the pods of ' + str(self), self.client.core.list_namespaced_pod,
                                 self.namespace, label_selector=self._selector())['items']
        owners = [r['uid'] for r in revisions] if self.kind == 'Deployment' else [self.uid]
        pods = []
        for pod in self._owned(items, owners):
            metadata, status = pod['metadata'], pod.get('status') or {}
            if self.kind == 'Deployment':
                revision = next(ref['name'] for ref in metadata['ownerReferences'] if ref.get('controller'))
            else:
                label = (metadata.get('labels') or {}).get(CONTROLLER_HASH_LABEL, '')
                revision = label if label.startswith(self.name + '-') else '{0}-{1}'.format(self.name, label)
            waiting = [(c.get('state') or {}).get('waiting', {}).get('reason') for c in status.get('containerStatuses') or []]
            pods.append({
                'name': metadata['name'], 'uid': metadata['uid'], 'revision': revision,
                'ready': pod_ready(pod),
                'waiting': [reason for reason in waiting if reason],
                'terminating': bool(metadata.get('deletionTimestamp')),
            })
        return sorted(pods, key=lambda p: p['name'])

    def delete_pod(self, pod):
        self.client.call('delete pod {0} of {1}'.format(pod['name'], self), self.client.core.delete_namespaced_pod,
                         pod['name'], self.namespace, body={'preconditions': {'uid': pod['uid']}})

    def watch_change(self, seconds):
        """Wait up to ``seconds`` for the object to change; the new object, or None."""
        stream = watch.Watch()
        try:
            for event in stream.stream(self._method('list'), self.namespace, deserialize=False,
                                       field_selector='metadata.name=' + self.name,
                                       resource_version=self.obj['metadata']['resourceVersion'],
                                       timeout_seconds=max(1, int(seconds))):
                if event.get('type') in ('ADDED', 'MODIFIED') and isinstance(event.get('object'), dict):
                    self.obj = event['object']
                    return self.obj
                break
        except Exception:  # pylint: disable=broad-except
            # A watch that breaks (an expired resourceVersion, a dropped connection) only means: read again.
            return None
        finally:
            stream.stop()
        return None

    def applied_images(self):
        """The images ``kubectl.kubernetes.io/last-applied-configuration`` says, or {}."""
        try:
            applied = json.loads(self.annotations.get(LAST_APPLIED_ANNOTATION) or '{}')
            return dict(template_images(applied['spec']['template']))
        except (ValueError, KeyError, TypeError):
            return {}


def entry_of(revision, container, current):
    """A revision as a history entry of the rollback core (target.py)."""
    images = dict(template_images(revision['template']))
    image = images.get(container, '')
    return {
        'version': image_version(image) if image else revision['name'],
        'revision': revision['revision'],
        'revisions': revision['revisions'],
        'aliases': image_aliases(image) if image else [],
        'name': revision['name'],
        'images': images,
        'current': current,
    }


def rollout_state(kind, obj, target_name=None):
    """``(done, progress)`` of a rollout from the object's status; ``progress`` in words.
    ``target_name``: the ControllerRevision a StatefulSet must be updated to."""
    spec, status = obj['spec'], obj.get('status') or {}
    generation = obj['metadata'].get('generation', 0)
    if status.get('observedGeneration', 0) < generation:
        return False, 'waiting for the controller to see generation {0}'.format(generation)
    if kind == 'Deployment':
        replicas = spec.get('replicas', 1)
        updated, total = status.get('updatedReplicas', 0), status.get('replicas', 0)
        available = status.get('availableReplicas', 0)
        if updated < replicas:
            return False, '{0} of {1} replicas updated'.format(updated, replicas)
        if total > updated:
            return False, '{0} old replicas pending termination'.format(total - updated)
        if available < updated:
            return False, '{0} of {1} updated replicas available'.format(available, updated)
        return True, '{0} of {0} replicas updated and available'.format(replicas)
    if kind == 'StatefulSet':
        replicas = spec.get('replicas', 1)
        ready, updated = status.get('readyReplicas', 0), status.get('updatedReplicas', 0)
        partition = ((spec.get('updateStrategy') or {}).get('rollingUpdate') or {}).get('partition') or 0
        if target_name and status.get('updateRevision') != target_name:
            return False, 'waiting for the controller to switch to revision {0}'.format(target_name)
        if partition:
            if updated < replicas - partition:
                return False, '{0} of {1} replicas updated (partition {2})'.format(updated, replicas - partition, partition)
        elif status.get('currentRevision') != status.get('updateRevision'):
            return False, '{0} of {1} replicas at revision {2}'.format(updated, replicas, status.get('updateRevision'))
        if ready < replicas:
            return False, '{0} of {1} replicas ready'.format(ready, replicas)
        return True, '{0} of {0} replicas updated and ready'.format(replicas)
    desired = status.get('desiredNumberScheduled', 0)
    updated, available = status.get('updatedNumberScheduled', 0), status.get('numberAvailable', 0)
    if updated < desired:
        return False, '{0} of {1} pods updated'.format(updated, desired)
    if available < desired:
        return False, '{0} of {1} updated pods available'.format(available, desired)
    return True, '{0} of {0} pods updated and available'.format(desired)


def failed_conditions(obj):
    """The conditions that say a rollout failed (a Deployment past its progress deadline)."""
    return [c for c in (obj.get('status') or {}).get('conditions') or []
            if c.get('reason') == 'ProgressDeadlineExceeded' or (c.get('type') == 'ReplicaFailure' and c.get('status') == 'True')]


def describe_conditions(obj):
    return '; '.join('{0}={1} {2}: {3}'.format(c.get('type'), c.get('status'), c.get('reason', ''), c.get('message', ''))
                     for c in (obj.get('status') or {}).get('conditions') or []) or 'no conditions'
