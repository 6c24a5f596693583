# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a Kubernetes service keeps its release ledger and its rollback lock.

Both live in the cluster, next to the service, so every controller node and
AWX pod sees the same: the ledger as an annotation on the object that stands
for the service (the workload; the Service of a blue-green pair; the
VirtualService of a canary), the lock as a ``coordination.k8s.io/v1`` Lease
in its namespace named after that object (created, never overwritten, so two
runs cannot both take it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import Ledger
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import parse_lock, parse_stamp
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE

LEDGER_ANNOTATION = 'ops.rollback/ledger'
LOCK_ANNOTATION = 'ops.rollback/lock'


class AnnotationLedger(Ledger):
    """The ledger of a ``Workload`` or an ``AnnotatedObject``: a JSON list in its ``ops.rollback/ledger``
    annotation. The object has ``kind``, ``name``, ``namespace``, ``annotations`` and ``set_annotation``."""

    version_syntax = IMAGE

    def __init__(self, workload):
        self.workload = workload

    def entries(self):
        text = self.workload.annotations.get(LEDGER_ANNOTATION)
        if not text:
            return []
        try:
            entries = json.loads(text)
            if isinstance(entries, list) and all(isinstance(e, dict) and 'version' in e and 'state' in e
                                                 for e in entries):
                return entries
        except ValueError:
            pass
        raise RollbackError(
            'The release ledger of {0} (annotation {1}) is not a list of verdicts ops.rollback wrote; it starts '
            '{2!r}. Remove the annotation (kubectl annotate {3} {4} {1}- -n {5}) to start a new ledger, or fix it. '
            'Nothing was changed.'.format(self.workload, LEDGER_ANNOTATION, text[:80], self.workload.kind.lower(),
                                          self.workload.name, self.workload.namespace))

    def _append(self, entries):
        self.workload.set_annotation(LEDGER_ANNOTATION, json.dumps(self.entries() + entries, sort_keys=True),
                                     expected=self.workload.annotations.get(LEDGER_ANNOTATION))


JSON_PATCH = 'application/json-patch+json'


def annotation_ops(obj, key, value, expected):
    """The JSON patch that sets annotation ``key`` of ``obj`` (as read) to ``value``, only if it still is
    ``expected`` (None: absent): two writers never overwrite each other."""
    path = '/metadata/annotations/' + key.replace('~', '~0').replace('/', '~1')
    ops = [] if 'annotations' in obj['metadata'] else [{'op': 'add', 'path': '/metadata/annotations', 'value': {}}]
    if expected is not None:
        ops.append({'op': 'test', 'path': path, 'value': expected})
    ops.append({'op': 'add', 'path': path, 'value': value})
    return ops


class AnnotatedObject:
    """An object other than a workload that keeps a ledger in its annotations (a Service, a
    VirtualService). Subclasses say how it is read (``_get``) and patched (``_patch(ops)``),
    both through the ``KubeClient`` so errors read the same everywhere."""

    kind = None
    #: The option that names it, for messages (``service=``), and what else to check when it is missing.
    option = 'name'
    missing_hint = ''

    def __init__(self, client, name, namespace):
        self.client = client
        self.name = name
        self.namespace = namespace
        self.obj = None

    def __str__(self):
        return '{0} {1} in namespace {2}'.format(self.kind, self.name, self.namespace)

    def _get(self):
        raise NotImplementedError

    def _patch(self, ops):
        raise NotImplementedError

    def read(self):
        """Read the object; a missing one is named with the option that names it."""
        try:
            self.obj = self._get()
        except NotFoundError:
            raise NotFoundError(
                'There is no {0}: check {1}= and namespace= (kubectl get {2} -n {3}){4}. Nothing was changed.'.format(
                    self, self.option, self.kind.lower(), self.namespace, self.missing_hint), status=404)
        return self.obj

    @property
    def annotations(self):
        return self.obj['metadata'].get('annotations') or {}

    def set_annotation(self, key, value, expected):
        self.obj = self._patch(annotation_ops(self.obj, key, value, expected))

    def lock_store(self):
        """The rollback lock of the service this object stands for: a Lease named after it."""
        return LeaseLockStore(self.client, self.namespace, lease_name(self.kind, self.name))


def lease_name(kind, name):
    return 'ops-rollback-{0}-{1}'.format(kind.lower(), name)[:253]


class LeaseLockStore:
    """A rollback lock kept as a Lease: the lock document in an annotation, mirrored into the
    Lease's own fields (holder, duration) so ``kubectl get lease`` shows who holds it."""

    def __init__(self, client, namespace, name):
        self.client = client
        self.namespace = namespace
        self.name = name
        self._resource_version = None

    def __str__(self):
        return 'Lease {0} in namespace {1}'.format(self.name, self.namespace)

    def read(self):
        try:
            lease = self.client.call('read the ' + str(self), self.client.coordination.read_namespaced_lease,
                                     self.name, self.namespace)
        except NotFoundError:
            self._resource_version = None
            return None
        self._resource_version = lease['metadata']['resourceVersion']
        text = (lease['metadata'].get('annotations') or {}).get(LOCK_ANNOTATION, '')
        lock = parse_lock(text, '(a Lease ops.rollback did not write)')
        if 'unreadable' in lock and not text:
            # A Lease another tool holds has no annotation of ours: its holder is what names it.
            lock['unreadable'] = (lease.get('spec') or {}).get('holderIdentity', '')
        return lock

    def _body(self, lock):
        acquired, expires = parse_stamp(lock['acquired_at']), parse_stamp(lock['expires_at'])
        return {
            'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
            'metadata': {'name': self.name, 'annotations': {LOCK_ANNOTATION: json.dumps(lock, sort_keys=True)},
                         'labels': {'app.kubernetes.io/managed-by': 'ops.rollback'}},
            # Without acquireTime and renewTime: the client would send them in a format the
            # API server refuses for a MicroTime. The annotation has the times.
            'spec': {'holderIdentity': lock['owner'], 'leaseDurationSeconds': int((expires - acquired).total_seconds())},
        }

    def write(self, lock, replace):
        """Create the Lease (``FileExistsError`` when another run created it first), or replace
        the one last read (``FileExistsError`` when it changed since)."""
        body = self._body(lock)
        try:
            if replace and self._resource_version:
                body['metadata']['resourceVersion'] = self._resource_version
                self.client.call('take over the ' + str(self), self.client.coordination.replace_namespaced_lease,
                                 self.name, self.namespace, body)
            else:
                self.client.call('create the ' + str(self), self.client.coordination.create_namespaced_lease,
                                 self.namespace, body)
        except RollbackError as err:
            if err.details.get('status') == 409:
                raise FileExistsError(str(self))
            raise

    def delete(self):
        try:
            self.client.call('delete the ' + str(self), self.client.coordination.delete_namespaced_lease,
                             self.name, self.namespace)
        except NotFoundError:
            pass
