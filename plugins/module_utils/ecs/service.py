# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ECS service as the rollback sees it: its deployments, its task
definition family, its stopped tasks and its tags, through an ``AwsClient``.

Reads and writes only; what they mean for a rollback is driver.py's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils._common.images import image_aliases, image_version

# How far back the history goes, in revisions of the family.
HISTORY_DEPTH = 50
# DescribeTasks takes at most 100 tasks; the newest few are enough to say why a rollout fails.
STOPPED_TASKS_SHOWN = 5


def family_of(arn):
    """``('web', 7)`` of ``arn:aws:ecs:...:task-definition/web:7`` (or of ``web:7``)."""
    family, _colon, revision = arn.rsplit('/', 1)[-1].rpartition(':')
    return family, int(revision)


class TaskDefinition:
    """One revision of a family: its ARN, status and the images of its containers."""

    def __init__(self, data):
        self.arn = data['taskDefinitionArn']
        self.family = data['family']
        self.revision = data['revision']
        self.status = data.get('status', 'ACTIVE')
        self.images = dict((c['name'], c.get('image', '')) for c in data.get('containerDefinitions') or [])
        self.containers = [c['name'] for c in data.get('containerDefinitions') or []]

    def entry(self, container, current_arn):
        """The history entry (target.py) of this revision, its version the image of ``container``."""
        image = self.images.get(container)
        entry = {'version': image_version(image) if image else 'revision-{0}'.format(self.revision),
                 'revision': self.revision, 'arn': self.arn, 'images': dict(self.images),
                 'aliases': image_aliases(image) if image else [], 'current': self.arn == current_arn}
        if image is None:
            entry.update(deployable=False, why='it has no container {0} (it has {1})'.format(
                container, ', '.join(self.containers)))
        elif self.status != 'ACTIVE':
            # AWS refuses to update a service to a deregistered revision.
            entry.update(deployable=False, why='task definition {0}:{1} is {2} (deregistered)'.format(
                self.family, self.revision, self.status))
        return entry


class EcsService:
    """Service ``name`` of ``cluster``; ``read()`` before anything else."""

    def __init__(self, aws, cluster, name):
        self.aws = aws
        self.cluster = cluster
        self.name = name
        self.data = None

    def __str__(self):
        return 'ECS service {0} in cluster {1}'.format(self.name, self.cluster)

    def _call(self, action, operation, **kwargs):
        return self.aws.call('{0} {1}'.format(action, self), 'ecs', operation, **kwargs)

    # --- the service -------------------------------------------------------
    def read(self):
        """The service as DescribeServices returns it, with its tags; refreshed on every call."""
        try:
            found = self._call('describe', 'describe_services', cluster=self.cluster, services=[self.name],
                               include=['TAGS'])
        except NotFoundError as err:
            raise NotFoundError(
                'Cannot roll back {0}: cluster {1} does not exist in {2}. Check cluster= and region=. Nothing was '
                'changed.'.format(self, self.cluster, self.aws.region), code=err.details.get('code'))
        services = [s for s in found.get('services') or [] if s.get('status') != 'INACTIVE']
        if not services:
            names = sorted(arn.rsplit('/', 1)[-1] for arn in self.aws.pages(
                'list the services of cluster {0}'.format(self.cluster), 'ecs', 'list_services', 'serviceArns',
                cluster=self.cluster))
            raise NotFoundError(
                'Cannot roll back {0}: no such service (services in the cluster: {1}). Check service= and '
                'cluster=. Nothing was changed.'.format(self, ', '.join(names) or 'none'))
        self.data = services[0]
        return self.data

    @property
    def arn(self):
        return self.data['serviceArn']

    @property
    def task_definition(self):
        return self.data['taskDefinition']

    def deployments(self):
        return self.data.get('deployments') or []

    def primary(self):
        return next((d for d in self.deployments() if d.get('status') == 'PRIMARY'), None)

    def events(self):
        """The service's events, newest first (as ECS keeps them: the last 100)."""
        return self.data.get('events') or []

    def circuit_breaker(self):
        """The service's deployment circuit breaker (``enable``, ``rollback``), or None."""
        return (self.data.get('deploymentConfiguration') or {}).get('deploymentCircuitBreaker')

    def update(self, task_definition_arn):
        """Point the service at an existing task definition; ECS starts a deployment of it."""
        self.data = self._call('update', 'update_service', cluster=self.cluster, service=self.name,
                               taskDefinition=task_definition_arn)['service']
        return self.data

    # --- the family --------------------------------------------------------
    def family(self):
        """The newest ``HISTORY_DEPTH`` revisions of the service's family (deregistered ones too) and the
        one the service runs, oldest first. Pipelines register a revision per deploy, and each costs
        a DescribeTaskDefinition call."""
        family = family_of(self.task_definition)[0]
        arns = []
        for status in ('ACTIVE', 'INACTIVE'):
            arns += self.aws.pages('list the task definitions of family {0}'.format(family), 'ecs',
                                   'list_task_definitions', 'taskDefinitionArns', familyPrefix=family, status=status)
        # familyPrefix also matches longer families (web matches web-worker).
        arns = sorted(set(a for a in arns if family_of(a)[0] == family), key=lambda a: family_of(a)[1])
        arns = sorted(set(arns[-HISTORY_DEPTH:]) | {self.task_definition}, key=lambda a: family_of(a)[1])
        return [self.task_definition_of(arn) for arn in arns]

    def task_definition_of(self, arn):
        found = self.aws.call('describe task definition {0}'.format(arn), 'ecs', 'describe_task_definition',
                              taskDefinition=arn)
        return TaskDefinition(found['taskDefinition'])

    # --- tasks -------------------------------------------------------------
    def stopped_tasks(self, started_by=None):
        """The newest stopped tasks of the service (of deployment ``started_by`` when given): their
        task definition, why they stopped and each container's exit code and reason."""
        arns = self._call('list the stopped tasks of', 'list_tasks', cluster=self.cluster, serviceName=self.name,
                          desiredStatus='STOPPED').get('taskArns') or []
        if not arns:
            return []
        tasks = self._call('describe the stopped tasks of', 'describe_tasks', cluster=self.cluster,
                           tasks=arns[:100]).get('tasks') or []
        if started_by:
            tasks = [t for t in tasks if t.get('startedBy') == started_by]
        tasks.sort(key=lambda t: str(t.get('stoppedAt') or t.get('createdAt') or ''), reverse=True)
        return [{'task': t['taskArn'].rsplit('/', 1)[-1], 'task_definition': t.get('taskDefinitionArn'),
                 'stopped_reason': t.get('stoppedReason'), 'stop_code': t.get('stopCode'),
                 'containers': [dict((k, c[k]) for k in ('name', 'exitCode', 'reason') if c.get(k) is not None)
                                for c in t.get('containers') or []]}
                for t in tasks[:STOPPED_TASKS_SHOWN]]

    # --- tags --------------------------------------------------------------
    def tags(self):
        return dict((t['key'], t['value']) for t in self.data.get('tags') or [])

    def set_tags(self, tags):
        self._call('tag', 'tag_resource', resourceArn=self.arn, tags=[{'key': k, 'value': v} for k, v in tags.items()])
        self.data['tags'] = [{'key': k, 'value': v} for k, v in dict(self.tags(), **tags).items()]

    def remove_tags(self, keys):
        if keys:
            self._call('untag', 'untag_resource', resourceArn=self.arn, tagKeys=list(keys))
            self.data['tags'] = [t for t in self.data.get('tags') or [] if t['key'] not in keys]
