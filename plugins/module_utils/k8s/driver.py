# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes platform of the rollback core: one Deployment, StatefulSet or DaemonSet.

It does what ``kubectl rollout undo`` does and no more: the workload gets the
target revision's pod template (a Deployment also its change-cause), and the
controller rolls the pods. Unlike ``kubectl rollout undo`` it knows versions,
never toggles, waits, and unsticks a StatefulSet stuck on a broken pod when
asked to.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

try:
    import yaml
except ImportError:   # the kubernetes client requires PyYAML; without it the module reports the missing client
    yaml = None

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver, Plan
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE
from ansible_collections.ops.rollback.plugins.module_utils._common.images import image_version
from ansible_collections.ops.rollback.plugins.module_utils.k8s.store import AnnotationLedger, LeaseLockStore, lease_name
from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import (
    BROKEN_REASONS,
    CHANGE_CAUSE_ANNOTATION,
    describe_conditions,
    entry_of,
    failed_conditions,
    pod_template,
    rollout_state,
    template_images,
)

# How often a StatefulSet's pods are looked at for one that blocks its rollout.
STUCK_CHECK_SECONDS = 2
STUCK_HELP = 'kubernetes/kubernetes#67250'


def _yaml(template):
    return yaml.safe_dump(template, default_flow_style=False, sort_keys=True)


class WorkloadDriver(Driver):
    """Roll a ``Workload`` back. ``container``: whose image is the version (default the first).
    ``recreate_stuck_pods``: delete the pods that keep a StatefulSet from rolling back.
    ``dry_run``: plans are checked by the API server (server-side dry run), for check mode."""

    version_syntax = IMAGE

    def __init__(self, workload, container=None, recreate_stuck_pods=False, dry_run=False, clock=time.monotonic):
        self.workload = workload
        self.container = container
        self.recreate_stuck_pods = recreate_stuck_pods
        self.dry_run = dry_run
        self.clock = clock
        self.ledger = AnnotationLedger(workload)
        self.deleted_pods = []
        self._revisions = None

    # --- reading -----------------------------------------------------------
    def describe(self):
        return str(self.workload)

    def lock_store(self):
        workload = self.workload
        return LeaseLockStore(workload.client, workload.namespace, lease_name(workload.kind, workload.name))

    def named(self):
        workload = self.workload
        return {'workload': {'kind': workload.kind, 'name': workload.name, 'namespace': workload.namespace}}

    def report(self, result, before, warn, check_mode):
        """The images before and after, the pods deleted to unstick it, and the drift a later apply would undo."""
        target = next(e for e in self.history() if e['version'] == result['to_version'] and
                      (result.get('to_revision') is None or result['to_revision'] in e['revisions']))
        report = {'images': {'before': before.get('images', {}), 'after': target['images']}}
        if self.deleted_pods:
            report['deleted_pods'] = self.deleted_pods
        drift = self._drift(before, target, result, check_mode)
        if drift:
            report['drift'] = drift
            warn('The last-applied-configuration of {0} still names {1}: the next kubectl apply or GitOps sync will '
                 'roll it forward to {2} again. Fix the source it is applied from (the manifest in git, the Helm '
                 'values) to {3}.'.format(self.workload, drift, before.get('version'),
                                          target['images'].get(self.container)))
        return report

    def _drift(self, before, target, result, check_mode):
        """The image a later ``kubectl apply`` or GitOps sync would bring back, if any."""
        left = before.get('images', {}).get(self.container)
        applied = self.workload.applied_images().get(self.container)
        if not result['changed'] or check_mode or not left or applied != left or \
                left == target['images'].get(self.container):
            return None
        return applied

    def load(self):
        """Read the workload and its revisions once; everything else works from that."""
        self.workload.read()
        self._revisions = self.workload.revisions()
        containers = [name for name, _image in template_images(self.workload.template())]
        if self.container is None:
            self.container = containers[0] if containers else None
        elif self.container not in containers:
            raise InvalidInputError(
                'Container {0!r} is not in the pod template of {1} (containers: {2}). Pass one of them as '
                'container=. Nothing was changed.'.format(self.container, self.workload, ', '.join(containers)))
        return self

    def _current_revision(self):
        template = self.workload.template()
        return next((r for r in reversed(self._revisions) if r['template'] == template), None)

    def history(self):
        current = self._current_revision()
        return [entry_of(r, self.container, r is current) for r in self._revisions]

    def current(self):
        revision = self._current_revision()
        if revision is not None:
            return entry_of(revision, self.container, True)
        # A template the controller has not made a revision of yet: its version, no number.
        images = dict(template_images(self.workload.template()))
        image = images.get(self.container)
        return {'version': image_version(image) if image else None, 'revision': None, 'images': images}

    def _revision_of(self, entry):
        return next(r for r in self._revisions if r['name'] == entry['name'])

    # --- planning ----------------------------------------------------------
    def plan(self, target):
        revision = self._revision_of(target)
        before = self.workload.template()
        steps = []
        after = before
        if revision['template'] != before:
            self._refuse_what_cannot_roll_back()
            steps.append('set the pod template of {0} to revision {1}\'s ({2})'.format(
                self.workload, revision['revision'], ', '.join('{0}={1}'.format(*i) for i in
                                                               template_images(revision['template']))))
            after = revision['template']
            if self._is_deployment() and revision['change_cause'] != self.workload.annotations.get(
                    CHANGE_CAUSE_ANNOTATION):
                steps.append('set its change-cause to {0!r}'.format(revision['change_cause']) if revision['change_cause']
                             else 'remove its change-cause')
            if self.dry_run:
                # The API server validates the change (admission included) without making it.
                dry = self.workload.set_template(revision['template'], self.workload.obj['spec']['template'],
                                                 revision['change_cause'], self._is_deployment(), dry_run=True)
                after = pod_template(dry['spec']['template'])
        stuck = self.stuck_pods(target) if self.recreate_stuck_pods else []
        steps.extend('delete pod {0} (revision {1}, not ready{2}) so the controller recreates it at the '
                     'target'.format(p['name'], p['revision'], ': ' + ', '.join(p['waiting']) if p['waiting'] else '')
                     for p in stuck)
        plan = Plan(steps, _yaml(before), _yaml(after))
        plan.stuck = stuck
        return plan

    def _is_deployment(self):
        return self.workload.kind == 'Deployment'

    def _refuse_what_cannot_roll_back(self):
        spec = self.workload.obj['spec']
        if self._is_deployment() and spec.get('paused'):
            raise InvalidInputError(
                '{0} is paused (spec.paused), so a rollback would not roll out. Resume it first (kubectl rollout '
                'resume deployment/{1} -n {2}) or roll back after whoever paused it is done. Nothing was '
                'changed.'.format(self.workload, self.workload.name, self.workload.namespace))
        if (spec.get('updateStrategy') or {}).get('type') == 'OnDelete':
            raise InvalidInputError(
                '{0} uses updateStrategy OnDelete: its pods change only when deleted, so a rollback would not roll '
                'out. Switch it to RollingUpdate, or roll back by hand. Nothing was changed.'.format(self.workload))

    def stuck_pods(self, target):
        """The pods that keep an OrderedReady StatefulSet from rolling back: not ready and not at
        the target revision. The controller waits for them to become ready, which they never will."""
        spec = self.workload.obj['spec']
        if self.workload.kind != 'StatefulSet' or spec.get('podManagementPolicy', 'OrderedReady') != 'OrderedReady':
            return []
        return [p for p in self.workload.pods(self._revisions)
                if not p['ready'] and not p['terminating'] and p['revision'] != target['name']]

    # --- changing ----------------------------------------------------------
    def apply(self, target, plan):
        revision = self._revision_of(target)
        if revision['template'] != self.workload.template():
            if not self._is_deployment():
                self.workload.remember_revision(revision)
            self.workload.set_template(revision['template'], self.workload.obj['spec']['template'],
                                       revision['change_cause'], self._is_deployment())
        for pod in plan.stuck:
            self.workload.delete_pod(pod)
            self.deleted_pods.append(pod['name'])

    def wait(self, target, timeout):
        started = self.clock()
        deadline = started + timeout
        target_name = target['name'] if self.workload.kind == 'StatefulSet' else None
        progress = []
        next_stuck_check = started
        obj = self.workload.obj
        while True:
            done, where = rollout_state(self.workload.kind, obj, target_name)
            if not progress or progress[-1] != where:
                progress.append(where)
            if done:
                return {'rollout': 'complete', 'status': where, 'progress': progress}
            if failed_conditions(obj):
                raise self._failure('{0} failed to roll out to {1}: {2}'.format(
                    self.workload, target['version'], describe_conditions(obj)), target, progress)
            now = self.clock()
            if self.workload.kind == 'StatefulSet' and now >= next_stuck_check:
                self._unstick(target, progress)
                next_stuck_check = now + STUCK_CHECK_SECONDS
            if now >= deadline:
                raise self._failure('{0} did not finish rolling out to {1} within {2:g} s: {3}.'.format(
                    self.workload, target['version'], timeout, where), target, progress, timeout=True)
            seconds = deadline - now
            if self.workload.kind == 'StatefulSet':
                seconds = min(seconds, STUCK_CHECK_SECONDS)
            obj = self.workload.watch_change(seconds) or self.workload.read()

    def _unstick(self, target, progress):
        """A pod that keeps the StatefulSet from rolling on, for good: deleted with
        ``recreate_stuck_pods`` (also one that broke after the plan), else the rollout fails now."""
        stuck = [p for p in self.stuck_pods(target) if set(p['waiting']) & set(BROKEN_REASONS)]
        if stuck and self.recreate_stuck_pods:
            for pod in stuck:
                self.workload.delete_pod(pod)
                self.deleted_pods.append(pod['name'])
        elif stuck:
            raise self._failure(
                '{0} is stuck: pod(s) {1} of the version rolled back from will never be ready, and the StatefulSet '
                'controller does not replace a pod that is not ready ({2}). Run again with recreate_stuck_pods=true '
                '(-e kubernetes_recreate_stuck_pods=true with the rollback playbook) to delete exactly these pods so '
                'the controller recreates them at {3}.'.format(
                    self.workload, ', '.join('{0} ({1})'.format(p['name'], ', '.join(p['waiting'])) for p in stuck),
                    STUCK_HELP, target['version']),
                target, progress, stuck_pods=[p['name'] for p in stuck])

    def _failure(self, message, target, progress, timeout=False, **details):
        """The error of a rollout that did not finish: the controller's conditions and the pods' reasons."""
        pods = [p for p in self.workload.pods(self._revisions) if not p['ready'] and not p['terminating']]
        if pods:
            message += ' Pods not ready: {0}.'.format(', '.join(
                '{0} ({1})'.format(p['name'], ', '.join(p['waiting']) or 'not ready') for p in pods))
        details.update(waited={'rollout': 'timeout' if timeout else 'failed', 'progress': progress,
                               'conditions': (self.workload.obj.get('status') or {}).get('conditions') or [],
                               'pods_not_ready': pods})
        error = RollbackTimeoutError if timeout else RollbackError
        return error(message + ' The workload was left as it is now.', **details)
