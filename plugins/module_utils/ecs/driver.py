# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ECS platform of the rollback core: one service, rolled back to an
existing revision of its task definition family.

History is the family's revisions in revision order (those of the service's
older, still ACTIVE, deployments just before the current one, so ``previous``
is what ran before a stuck rollout); a revision's version is
the image of the service's container (tag, else digest). ``apply`` is one
UpdateService to the target's ARN (nothing is registered), and ``wait``
waits, through a botocore waiter, until ECS reports the target's deployment
as the only one, COMPLETED, with every task running; the stock
``services_stable`` waiter looks at counts only and passes mid-rollout
(boto/botocore#1021).

ECS's deployment circuit breaker may have rolled a service back before we
run; DescribeServices says so only in its events. When the newest deployment
began with the breaker's "rolling back to deployment" event, the service
runs the breaker's rollback, and the module says so rather than rolling
further back (``breaker``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver, Plan
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE
from ansible_collections.ops.rollback.plugins.module_utils.aws.lock import SsmLockStore, lock_parameter_name
from ansible_collections.ops.rollback.plugins.module_utils.ecs.ledger import TagLedger
from ansible_collections.ops.rollback.plugins.module_utils.ecs.service import EcsService, family_of

try:
    import botocore.exceptions
    import botocore.waiter
except ImportError:   # the module reports boto3 missing
    pass

# DescribeServices allows far more; every 2 s keeps a rollout's end within 2 s of ours.
POLL_SECONDS = 2
BREAKER_EVENT = re.compile(r'rolling back to deployment (?P<to>ecs-svc/[^\s.]+)')
FAILED_EVENT = re.compile(r'\(deployment (?P<id>ecs-svc/[^\s)]+)\) deployment failed: (?P<why>.*?)\.?$')
# How close the breaker's event and the deployment it started are (ECS writes them together).
BREAKER_WINDOW = datetime.timedelta(seconds=30)


def _waiter_model(arn, delay, attempts):
    """Done: the target's deployment is the only one, COMPLETED (or without rollout state, on
    services that predate it), every desired task running. Failed: its rollout FAILED, or it is
    no longer PRIMARY (the circuit breaker, or someone else, replaced it)."""
    target = "deployments[?taskDefinition=='{0}']".format(arn)
    done = ("length(services[?length(deployments) == `1` && runningCount == desiredCount && "
            "length({0}) == `1` && (deployments[0].rolloutState == 'COMPLETED' || "
            "deployments[0].rolloutState == null)]) == `1`").format(target)
    replaced = "length(services[0].deployments[?status=='PRIMARY' && taskDefinition=='{0}']) == `0`".format(arn)
    acceptors = [
        {'matcher': 'path', 'argument': done, 'expected': True, 'state': 'success'},
        {'matcher': 'pathAny', 'argument': 'services[0].{0}.rolloutState'.format(target), 'expected': 'FAILED',
         'state': 'failure'},
        {'matcher': 'path', 'argument': replaced, 'expected': True, 'state': 'failure'},
    ]
    return botocore.waiter.WaiterModel({'version': 2, 'waiters': {'RollbackDeployed': {
        'operation': 'DescribeServices', 'delay': delay, 'maxAttempts': attempts, 'acceptors': acceptors}}})


def _short(arn):
    """``web:7`` of a task definition ARN."""
    return '{0}:{1}'.format(*family_of(arn)) if arn else arn


def _progress(service):
    """The deployments in words: "PRIMARY web:7 IN_PROGRESS 1/2 running, 3 failed; ACTIVE web:9 2 running"."""
    words = []
    for d in service.deployments():
        words.append('{0} {1}{2} {3}/{4} running{5}'.format(
            d.get('status'), _short(d.get('taskDefinition')),
            ' ' + d['rolloutState'] if d.get('rolloutState') else '', d.get('runningCount', 0),
            d.get('desiredCount', 0), ', {0} failed'.format(d['failedTasks']) if d.get('failedTasks') else ''))
    return '; '.join(words) or 'no deployment'


class EcsDriver(Driver):
    """Roll ECS service ``name`` of ``cluster`` back, through an ``AwsClient``. ``container``: whose
    image is the version (required when the task definition has several)."""

    version_syntax = IMAGE

    def __init__(self, aws, cluster, name, container=None, poll=POLL_SECONDS):
        self.aws = aws
        self.service = EcsService(aws, cluster, name)
        self.ledger = TagLedger(self.service)
        self.container = container
        self.poll = poll
        self.breaker = None
        self.deployment = None
        self._entries = None

    def describe(self):
        return str(self.service)

    def lock_store(self):
        return SsmLockStore(self.aws, lock_parameter_name('ecs', self.service.cluster, self.service.name))

    def named(self):
        return {'service': {'cluster': self.service.cluster, 'name': self.service.name,
                            'arn': self.service.data['serviceArn'] if self.service.data else None}}

    # --- reading -----------------------------------------------------------
    def load(self):
        """Read the service, its family and what the circuit breaker did, once."""
        self.service.read()
        family = self.service.family()
        current = next(td for td in family if td.arn == self.service.task_definition)
        self.container = self._container(current)
        self._entries = self._in_deploy_order([td.entry(self.container, current.arn) for td in family])
        self.breaker = self._breaker_rollback()

    def _in_deploy_order(self, entries):
        """The family's revisions, with those of the service's older (ACTIVE) deployments moved right
        before the current one: while a rollout runs, the revision that was PRIMARY before it is the
        one ``previous`` means, not merely the revision before it in the family."""
        older = [d['taskDefinition'] for d in sorted(self.service.deployments(), key=lambda d: str(d.get('createdAt')))
                 if d.get('status') == 'ACTIVE' and d.get('taskDefinition') != self.service.task_definition]
        moved = [e for arn in older for e in entries if e['arn'] == arn]
        rest = [e for e in entries if e not in moved]
        at = next(i for i, e in enumerate(rest) if e['current'])
        return rest[:at] + moved + rest[at:]

    def _container(self, current):
        if self.container is None and len(current.containers) == 1:
            return current.containers[0]
        if self.container in current.containers:
            return self.container
        raise InvalidInputError(
            '{0}: {1}. Pass container= naming the container whose image is the version (one of {2}). Nothing was '
            'changed.'.format(self.describe(), 'task definition {0} has no container {1}'.format(
                _short(current.arn), self.container) if self.container else 'task definition {0} has {1} '
                'containers'.format(_short(current.arn), len(current.containers)), ', '.join(current.containers)),
            containers=current.containers)

    def history(self):
        return self._entries

    def current(self):
        return next((e for e in self._entries if e['current']), None)

    def _entry(self, arn):
        return next((e for e in self._entries if e['arn'] == arn), None)

    def platform_rollback(self):
        return self.breaker

    def _breaker_rollback(self):
        """What the circuit breaker did when the service's newest deployment is its rollback, else None."""
        events = self.service.events()
        rolled = next((e for e in events if BREAKER_EVENT.search(e.get('message', ''))), None)
        primary = self.service.primary()
        if rolled is None or primary is None or primary.get('createdAt') is None or \
                abs(primary['createdAt'] - rolled['createdAt']) > BREAKER_WINDOW:
            return None
        earlier = (FAILED_EVENT.search(e.get('message', '')) for e in events if e['createdAt'] <= rolled['createdAt'])
        failed = next((match for match in earlier if match), None)
        breaker = {'message': rolled['message'], 'at': rolled['createdAt'].isoformat(),
                   'restored': _short(primary.get('taskDefinition'))}
        if failed:
            breaker.update(failed_deployment=failed.group('id'), reason=failed.group('why'))
            arn = next((d.get('taskDefinition') for d in self.service.deployments() if d['id'] == failed.group('id')),
                       None) or next((t['task_definition'] for t in self.service.stopped_tasks(failed.group('id'))),
                                     None)
            if arn:
                breaker['failed'] = _short(arn)
                entry = self._entry(arn)
                if entry:
                    breaker['failed_version'] = entry['version']
        return breaker

    # --- changing ----------------------------------------------------------
    def _text(self, arn):
        entry = self._entry(arn) or {'images': {}}
        return 'taskDefinition: {0}\n'.format(arn) + ''.join(
            'image {0}: {1}\n'.format(name, image) for name, image in sorted(entry['images'].items()))

    def plan(self, target):
        before = self.service.task_definition
        if target['arn'] == before:
            return Plan([], self._text(before), self._text(before))
        steps = ['update {0} from task definition {1} ({2}) to {3} ({4}); ECS replaces its {5} task(s) in a new '
                 'deployment'.format(self.describe(), _short(before), self.current()['version'], _short(target['arn']),
                                     target['version'], self.service.data.get('desiredCount', 0))]
        return Plan(steps, self._text(before), self._text(target['arn']))

    def apply(self, target, plan):
        self.service.update(target['arn'])
        primary = self.service.primary() or {}
        self.deployment = primary.get('id')

    def wait(self, target, timeout):
        waiter = botocore.waiter.create_waiter_with_client(
            'RollbackDeployed', _waiter_model(target['arn'], self.poll, max(1, int(timeout // self.poll) + 1)),
            self.aws.client('ecs'))
        try:
            waiter.wait(cluster=self.service.cluster, services=[self.service.name])
        except botocore.exceptions.WaiterError as err:
            raise self._failure(target, timeout, err)
        self.service.read()
        primary = self.service.primary() or {}
        return {'deployment': primary.get('id'), 'rollout_state': primary.get('rolloutState'),
                'running': primary.get('runningCount'), 'desired': primary.get('desiredCount')}

    def _failure(self, target, timeout, err):
        """Why the target's deployment did not complete, with the stopped tasks' reasons."""
        if not (err.last_response or {}).get('services'):
            return RollbackError('Failed to wait for the rollout of {0}: {1}.'.format(self.describe(), err))
        self.service.read()
        ours = next((d for d in self.service.deployments() if d.get('taskDefinition') == target['arn']), None)
        tasks = self.service.stopped_tasks(ours['id'] if ours else self.deployment)
        reasons = '; '.join('task {0}: {1}{2}'.format(t['task'], t['stopped_reason'], ''.join(
            ' ({0} exit {1}{2})'.format(c['name'], c.get('exitCode'), ': ' + c['reason'] if c.get('reason') else '')
            for c in t['containers'])) for t in tasks) or 'no stopped task recorded'
        details = dict(deployments=self.service.deployments(), stopped_tasks=tasks, progress=_progress(self.service))
        where = ('Its deployment is {0}'.format(_progress(self.service)))
        if ours is None or ours.get('status') != 'PRIMARY':
            return RollbackError(
                '{0} no longer rolls out {1} ({2}): something replaced that deployment; {3} (the circuit breaker '
                'rolls back a deployment whose tasks keep failing). Tasks of {1} stopped: {4}. Find why before '
                'rolling back again.'.format(self.describe(), target['version'], _short(target['arn']),
                                             where, reasons), **details)
        if ours.get('rolloutState') == 'FAILED':
            return RollbackError(
                'The rollout of {0} to {1} ({2}) FAILED: {3}. {4}. Stopped tasks: {5}. The service was left as '
                'ECS left it.'.format(self.describe(), target['version'], _short(target['arn']),
                                      ours.get('rolloutStateReason') or 'no reason given', where, reasons), **details)
        return RollbackTimeoutError(
            'The rollout of {0} to {1} ({2}) did not complete within {3} s. {4}. Stopped tasks: {5}. The service '
            'keeps rolling out; watch it (aws ecs describe-services --cluster {6} --services {7}) or wait longer '
            'with wait_timeout=.'.format(self.describe(), target['version'], _short(target['arn']), timeout, where,
                                         reasons, self.service.cluster, self.service.name), **details)

    def report(self, result, before, warn, check_mode):
        target = next(e for e in self._entries if e['revision'] == result.get('to_revision'))
        report = {'task_definition': {'before': before.get('arn'), 'after': target['arn']},
                  'images': {'before': before.get('images', {}), 'after': target['images']}}
        if self.deployment:
            report['deployment'] = self.deployment
        if self.breaker and not result['changed']:
            report['circuit_breaker'] = self.breaker
            warn('The deployment circuit breaker of {0} already rolled it back{1} to {2} at {3} ("{4}"): '
                 'ops.rollback changed nothing. Find why {5} failed before deploying again.'.format(
                     self.describe(), ' from ' + self.breaker['failed'] if self.breaker.get('failed') else '',
                     self.breaker['restored'], self.breaker['at'], self.breaker['message'],
                     self.breaker.get('failed_version', 'the new version')))
        return report
