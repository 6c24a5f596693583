# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Swarm platform of the rollback core: one service, rolled back to an image version.

History. A Swarm service remembers one spec before the current one
(``PreviousSpec``), so the history is built from what the engine knows:
the current image, the PreviousSpec's image, and every image of the current
image's repository present on the engine (``docker images <repository>``),
so that an explicit version works without a registry. A version is an
image's tag, else its digest; its aliases are the full reference, the
repository digest and the image ID. Versions the service ran (current,
PreviousSpec, and those the ledger names) come in the order their images
were built; images it never ran come after them, so that ``previous`` (the
newest *earlier* version) is never one the service did not run, while an
explicit ``version`` may name them. While the ledger is empty, previous is
therefore the PreviousSpec's version, which is what ``docker service update
--rollback`` goes back to. A version the engine has no image of is refused,
listing those it has.

Apply. When the target is the PreviousSpec (and no ``rollback_config`` is
given), the engine's own rollback (``rollback=previous``) restores it whole;
otherwise the service's image is replaced, pinned by digest when the engine
knows the image's repository digest, the spec the same otherwise. Either way
the update carries the version index that was read, and a service paused by
an earlier failed update is resumed by it (and the run says so).

Wait. Until the update status is ``completed`` or ``rollback_completed`` (or
absent) and every task meant to run (desired state ``running``) runs the
target image and is ``running``, as many as the service's replicas. A task of
the target that fails, an update the engine pauses, or one the engine rolls
back fails the run with the tasks' errors.

The engine's ``failure_action: rollback`` may have rolled the service back
before we run (update status ``rollback_completed``): that is
``platform_rollback``, and previous stays there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver, Plan
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError, RollbackTimeoutError
from ansible_collections.ops.rollback.plugins.module_utils._common.images import (
    image_aliases,
    image_version,
    parse_image,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE, sort_versions
from ansible_collections.ops.rollback.plugins.module_utils.docker.swarm import (
    ConfigLedger,
    ConfigLockStore,
    SwarmService,
    repository,
)

# Two local API calls a round; the CLI's progress monitor polls as often.
POLL_SECONDS = 0.2
DONE = ('completed', 'rollback_completed')
PAUSED = ('paused', 'rollback_paused')
FAILED_TASK = ('failed', 'rejected')
# rollback_config's option names and the Engine API's keys (durations in nanoseconds).
ROLLBACK_KEYS = {'parallelism': 'Parallelism', 'delay': 'Delay', 'failure_action': 'FailureAction',
                 'monitor': 'Monitor', 'order': 'Order', 'max_failure_ratio': 'MaxFailureRatio'}
DURATIONS = ('delay', 'monitor')


def engine_rollback_config(options):
    """The Engine API's RollbackConfig of the module's ``rollback_config`` (seconds as nanoseconds)."""
    config = {}
    for name, value in sorted((options or {}).items()):
        if value is None:
            continue
        config[ROLLBACK_KEYS[name]] = int(value * 1e9) if name in DURATIONS else value
    return config


def _task_line(task):
    words = 'task {0}{1} ({2}): {3}'.format(task['id'][:12], ' slot {0}'.format(task['slot']) if task.get('slot')
                                            else '', task['image'], task['state'])
    if task.get('error'):
        words += ': ' + task['error']
    elif task.get('message'):
        words += ': ' + task['message']
    if task.get('exit_code'):
        words += ' (exit code {0})'.format(task['exit_code'])
    return words


def _summary(task):
    return dict((k, task.get(k)) for k in ('id', 'slot', 'image', 'desired_state', 'state', 'error', 'message'))


class SwarmDriver(Driver):
    """Roll Swarm service ``name`` back, through a ``docker.DockerClient``."""

    version_syntax = IMAGE

    def __init__(self, client, name, rollback_config=None, poll=POLL_SECONDS):
        self.api = client.api
        self.service = SwarmService(self.api, name)
        self.ledger = ConfigLedger(self.api, name)
        self.rollback_config = engine_rollback_config(rollback_config)
        self.poll = poll
        self.method = None
        self.paused = None
        self.warnings = []
        self._entries = None
        self._before_tasks = set()
        self._tasks = []

    def describe(self):
        return str(self.service)

    def lock_store(self):
        return ConfigLockStore(self.api, self.service.name)

    def named(self):
        data = self.service.data or {}
        return {'service': {'name': self.service.name, 'id': data.get('ID'),
                            'version_index': (data.get('Version') or {}).get('Index')}}

    # --- reading -----------------------------------------------------------
    def load(self):
        self.service.read()
        current, previous = self.service.image, self.service.previous_image
        repo = repository(current)
        ran = set(v for v, _state in self.ledger.verdicts().items())
        entries = {}
        for image in self.service.repository_images(repo):
            digest = next((d.split('@', 1)[1] for d in image['digests'] if repository(d) == repo), None)
            tags = [parse_image(t)[1] for t in image['tags'] if repository(t) == repo]
            for tag in tags or [None]:
                if tag is None and digest is None:
                    continue
                ref = '{0}:{1}'.format(repo, tag) if tag else '{0}@{1}'.format(repo, digest)
                if tag and digest:
                    ref += '@' + digest   # pinned: the engine knows the digest
                entries[image_version(ref)] = self._entry(ref, image, digest)
        for ref, source in ((previous, 'previous_spec'), (current, 'current')):
            if not ref:
                continue
            entry = entries.get(image_version(ref))
            if entry is None or entry.get('id') is None:
                image = self.service.local_image(ref)
                entry = self._entry(ref, image, parse_image(ref)[2])
                entries[entry['version']] = entry
            entry['image'] = ref   # what the spec says, exactly
            entry['images'] = {self.service.name: ref}
            entry['aliases'] = sorted(set(entry['aliases']) | set(image_aliases(ref)))
            entry['sources'].append(source)
        for entry in entries.values():
            entry['ran'] = bool(entry['sources']) or entry['version'] in ran
            if 'current' in entry['sources']:
                entry['current'] = True
        order = dict((v, i) for i, v in enumerate(sort_versions(list(entries))))
        self._entries = sorted(entries.values(), key=lambda e: (e['ran'], 'current' in e['sources'] and not
                                                                e.get('created'), e.get('created') or '',
                                                                order[e['version']]))
        self._tasks = self.service.tasks() if self.service.update_status.get('State') == 'rollback_completed' else []
        self.paused = self.service.update_status if self.service.update_status.get('State') in PAUSED else None

    def _entry(self, ref, image, digest):
        aliases = set(image_aliases(ref))
        if image:
            aliases.add(image['id'])
        if digest:
            aliases.update((digest, '{0}@{1}'.format(repository(ref), digest)))
        return {'version': image_version(ref), 'revision': None, 'image': ref, 'images': {self.service.name: ref},
                'aliases': sorted(aliases), 'id': image['id'] if image else None, 'digest': digest,
                'created': image['created'] if image else None, 'present': image is not None, 'sources': []}

    def history(self):
        return self._entries

    def current(self):
        return next((e for e in self._entries if 'current' in e['sources']), None)

    def _entry_of(self, version):
        return next((e for e in self._entries if e['version'] == version), None)

    def platform_rollback(self):
        status = self.service.update_status
        if status.get('State') != 'rollback_completed':
            return None
        rollback = {'message': status.get('Message'), 'at': status.get('CompletedAt') or status.get('StartedAt'),
                    'restored': image_version(self.service.image)}
        # The engine's own rollback leaves no PreviousSpec; the newest task of another image ran what failed.
        failed = self.service.previous_image or next(
            (t['image'] for t in sorted(self._tasks, key=lambda t: t.get('created') or '', reverse=True)
             if t['image'] and t['image'] != self.service.image), None)
        if failed:
            rollback.update(failed=failed, failed_version=image_version(failed))
        return rollback

    # --- changing ----------------------------------------------------------
    def _text(self, image):
        return 'image: {0}\n'.format(image)

    def plan(self, target):
        before = self.service.image
        after = target['image']
        current = self.current()
        if current and target['version'] == current['version']:
            self.method = None
            return Plan([], self._text(before), self._text(before))
        steps = []
        if self.paused:
            steps.append('resume {0}, which an earlier update left {1} ({2})'.format(
                self.describe(), self.paused.get('State'), self.paused.get('Message') or 'no message'))
        tasks = self.service.replicas()
        tasks = '{0} task(s)'.format(tasks) if tasks is not None else 'its tasks (global)'
        if 'previous_spec' in target['sources'] and not self.rollback_config:
            self.method = 'engine-rollback'
            after = self.service.previous_image
            steps.append('roll {0} back to its previous spec ({1}, version {2}) with the engine\'s rollback, as '
                         '`docker service update --rollback` does; the engine replaces {3} as its rollback_config '
                         'says'.format(self.describe(), after, target['version'], tasks))
        else:
            self.method = 'image-update'
            steps.append('update the image of {0} from {1} to {2} (the spec otherwise unchanged); the engine '
                         'replaces {3} as its {4} says'.format(
                             self.describe(), before, after, tasks,
                             'rollback_config (given)' if self.rollback_config else 'update_config'))
        return Plan(steps, self._text(before) + ('update_status: {0}\n'.format(self.paused['State'])
                                                 if self.paused else ''), self._text(after))

    def apply(self, target, plan):
        self._before_tasks = set(t['id'] for t in self.service.tasks())
        if self.method == 'engine-rollback':
            warnings = self.service.rollback()
        else:
            warnings = self.service.update_image(target['image'], self.rollback_config)
        self.warnings.extend(warnings)
        self.service.read()

    def wait(self, target, timeout, clock=time.monotonic, sleep=time.sleep):
        image = self.service.image
        deadline = clock() + timeout
        while True:
            self.service.read()
            state = self.service.update_status.get('State')
            tasks = self.service.tasks()
            new = [t for t in tasks if t['id'] not in self._before_tasks and t['image'] == image]
            failed = [t for t in new if t['state'] in FAILED_TASK]
            if failed or state in PAUSED or (self.method == 'image-update' and state and
                                             state.startswith('rollback')):
                raise self._failure(target, state, tasks, failed or [t for t in new if t.get('error')])
            running = [t for t in tasks if t['desired_state'] == 'running']
            replicas = self.service.replicas()
            if (state in DONE or not state) and all(t['image'] == image and t['state'] == 'running'
                                                    for t in running) \
                    and (len(running) == replicas if replicas is not None else bool(running)):
                return {'update_status': state, 'image': image, 'tasks': [_summary(t) for t in running]}
            if clock() >= deadline:
                raise RollbackTimeoutError(
                    'The rollback of {0} to {1} did not converge within {2} s: update status {3}; {4}. The engine '
                    'goes on; watch it with `docker service ps {5}`, or wait longer with wait_timeout=.'.format(
                        self.describe(), target['version'], timeout, state or 'none',
                        '; '.join(_task_line(t) for t in running) or 'no task running', self.service.name),
                    partial={'update_status': state, 'tasks': [_summary(t) for t in tasks]})
            sleep(self.poll)

    def _failure(self, target, state, tasks, failed):
        status = self.service.update_status
        reasons = '; '.join(_task_line(t) for t in failed) or 'no task of it failed (yet)'
        return RollbackError(
            'The rollback of {0} to {1} ({2}) failed: its tasks fail: {3}. The engine {4} ({5}). The service was '
            'left as the engine left it; find why {1} does not run before rolling back again.'.format(
                self.describe(), target['version'], self.service.image, reasons,
                'left the update {0}'.format(state) if state else 'has not paused the update',
                status.get('Message') or 'no message'),
            update_status=state, failed_tasks=[_summary(t) for t in failed],
            tasks=[_summary(t) for t in tasks if t['desired_state'] == 'running'])

    def report(self, result, before, warn, check_mode):
        target = self._entry_of(result['to_version']) or {}
        after = self.service.image if (result['changed'] and not check_mode) else target.get('image')
        report = {'images': {'before': before.get('image'), 'after': after},
                  'update_status': self.service.update_status.get('State'),
                  'tasks': [_summary(t) for t in self.service.tasks() if t['desired_state'] == 'running'],
                  'target': {'image': target.get('image'), 'digest': target.get('digest'), 'id': target.get('id')}}
        if self.method:
            report['method'] = self.method
        if self.paused and self.method:
            report['resumed'] = {'state': self.paused.get('State'), 'message': self.paused.get('Message')}
            warn('{0} was left {1} by an earlier update ({2}); this rollback {3} it.'.format(
                self.describe(), self.paused.get('State'), self.paused.get('Message') or 'no message',
                'would resume' if check_mode else 'resumed'))
        elif self.paused:
            warn('{0} is {1} by an earlier update ({2}) and already runs {3}; nothing was changed. '
                 '`docker service update {4}` resumes it.'.format(
                     self.describe(), self.paused.get('State'), self.paused.get('Message') or 'no message',
                     result['to_version'], self.service.name))
        rollback = self.platform_rollback()
        if rollback and not result['changed'] and result.get('rule') == 'already-rolled-back':
            report['engine_rollback'] = rollback
            warn('The engine already rolled {0} back{1} to {2} at {3} ("{4}"): ops.rollback changed nothing. Find why '
                 '{5} failed before deploying again.'.format(
                     self.describe(), ' from ' + rollback['failed_version'] if rollback.get('failed_version') else '',
                     rollback['restored'], rollback['at'], rollback['message'],
                     rollback.get('failed_version', 'the new version')))
        for warning in self.warnings:
            warn('The engine: {0}'.format(warning))
        return report
