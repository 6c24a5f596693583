# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ECS service scheduler that moto's ECS lacks, run inside an in-process moto server.

Two run it: the `ecs` fixture of tests/integration/conftest.py, and the ECS lab
(lab/aws/ecs_lab.py, started by scripts/aws-lab.sh).

moto stores services and task definitions, but its ``UpdateService`` only
overwrites the service's task definition string: no deployment is created,
nothing rolls out, no task starts or stops, there are no service events and no
deployment circuit breaker. Those cannot exist in moto, so this module
simulates exactly that part of AWS, shaped as the ECS documentation describes
it, and nothing else (every other call is moto's own):

* Rolling update (ECS deployment controller), "Deploy Amazon ECS services by
  replacing tasks": ``UpdateService`` with another task definition (or
  ``forceNewDeployment``) makes the old PRIMARY deployment ACTIVE and puts a
  new PRIMARY deployment (``ecs-svc/<digits>``, rolloutState IN_PROGRESS)
  first. The scheduler then starts the new deployment's tasks one at a time
  (PENDING, then RUNNING) and, minimumHealthyPercent 100 / maximumPercent 200,
  stops an old task only while more than ``desiredCount`` tasks run. An ACTIVE
  deployment without tasks is gone; when the PRIMARY one runs ``desiredCount``
  tasks and is the only one left its rolloutState is COMPLETED and the service
  writes the events "(service x) (deployment ecs-svc/..) deployment completed."
  then "(service x) has reached a steady state." (``events`` newest first, at
  most 100 as DescribeServices returns them).
* Tasks, "Amazon ECS task lifecycle" and "Stopped task error codes": a service's
  tasks are real moto tasks, ``startedBy`` the deployment id, ``group``
  ``service:<name>``. A task of an image made broken with ``break_image``
  stops after PENDING with stopCode EssentialContainerExited ("Essential
  container in task exited", the container's exitCode/reason) or, for an image
  that cannot be pulled, TaskFailedToStart (CannotPullContainerError). Each
  counts in the deployment's ``failedTasks``. Old tasks replaced by a rollout
  stop with stopCode ServiceSchedulerInitiated, "Scaling activity initiated by
  (deployment ecs-svc/..)". ListTasks filters on ``serviceName`` (moto ignores
  it) and, as in AWS, lists RUNNING tasks unless ``desiredStatus`` says
  otherwise.
* Deployment circuit breaker, "How the Amazon ECS deployment circuit breaker
  detects failures": the failure threshold is ``min(200, max(3,
  ceil(0.5 * desiredCount)))`` failed tasks. Reaching it sets the deployment's
  rolloutState FAILED, "ECS deployment circuit breaker: tasks failed to
  start.", and the event "(service x) (deployment ecs-svc/..) deployment
  failed: tasks failed to start.". With ``rollback`` a new PRIMARY deployment
  of the last COMPLETED deployment's task definition rolls out ("(service x)
  rolling back to deployment ecs-svc/.."); without it the FAILED deployment
  stays PRIMARY and no more of its tasks start. Without a circuit breaker a
  broken deployment stays IN_PROGRESS, its tasks failing forever.
* CreateService: the service starts steady (one PRIMARY COMPLETED deployment
  running ``desiredCount`` tasks), whatever MOTO_ECS_SERVICE_RUNNING says;
  ``deploymentConfiguration`` (moto drops it) is kept and returned, with
  AWS's defaults.

Not simulated: load balancers and health checks, capacity, placement, cluster
task counters, the DAEMON strategy, CODE_DEPLOY/EXTERNAL controllers, the
alarm-based rollback.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time

from moto.core.utils import utcnow
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from moto.moto_api._internal import mock_random

MARK = '_ecs_simulator'  # attribute of the moto services the simulator drives
DEFAULT_CONFIGURATION = {
    'deploymentCircuitBreaker': {'enable': False, 'rollback': False},
    'maximumPercent': 200,
    'minimumHealthyPercent': 100,
}
MAX_EVENTS = 100


def failure_threshold(desired):
    """Failed tasks after which the circuit breaker fails a deployment (AWS: at least 3, at most 200)."""
    return min(200, max(3, int(math.ceil(0.5 * desired))))


class EcsSimulator:
    """ECS rolling deployments on top of the in-process moto server; a context manager.

    ``moto`` is the ``MotoServer`` of tests/integration/conftest.py or the lab's
    (lab/aws/ecs_lab.py): anything with ``client(name)``, a boto3 client of that server.
    Entering patches moto's ECS backend and starts the scheduler thread; leaving
    stops the thread and restores moto.
    """

    def __init__(self, moto, tick=0.1):
        self.moto = moto
        self.ecs = moto.client('ecs')
        self.interval = tick
        self.lock = threading.RLock()
        self.broken = {}      # image -> how its tasks stop
        self.held = {}        # (cluster, service) -> scheduler steps still allowed (0 = frozen)
        self.backends = []    # moto ECS backends with simulated services
        self.thread = None
        self.error = None
        self.stopping = threading.Event()
        self.patches = contextlib.ExitStack()

    # -- lifetime -------------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        backend, response = ecs_models.EC2ContainerServiceBackend, ecs_responses.EC2ContainerServiceResponse
        self._patch(backend, 'create_service', self._create_service)
        self._patch(backend, 'update_service', self._update_service)
        self._patch(backend, 'list_tasks', self._list_tasks)
        self._patch(backend, 'describe_tasks', self._locked)
        self._patch(backend, 'describe_services', self._locked)
        self._patch(response, 'create_service', self._create_service_response)
        self.thread = threading.Thread(target=self._run, name='ecs-simulator', daemon=True)
        self.thread.start()

    def stop(self):
        """Stop the scheduler and restore moto; re-raises what broke the scheduler, if anything did."""
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=10)
        self.patches.close()
        if self.error:
            raise self.error

    def _patch(self, cls, name, replacement):
        original = cls.__dict__[name]
        self.patches.callback(setattr, cls, name, original)
        setattr(cls, name, _bind(replacement, original))

    def _locked(self, original, backend, *args, **kwargs):
        with self.lock:
            return original(backend, *args, **kwargs)

    def _run(self):
        while not self.stopping.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:  # a broken simulator must fail the test, not go quiet
                self.error = exc
                return

    # -- helpers for tests (all through boto3 over HTTP) ---------------------------------------

    def cluster(self, name):
        """Create an ECS cluster; returns its ARN."""
        return self.ecs.create_cluster(clusterName=name)['cluster']['clusterArn']

    def task_definition(self, family, image, container='app', containers=None):
        """Register a revision of ``family`` running ``image`` (or ``containers``: ``{name: image}``); its ARN."""
        containers = containers or {container: image}
        definitions = [dict(name=name, image=img, memory=128, essential=True) for name, img in containers.items()]
        answer = self.ecs.register_task_definition(family=family, containerDefinitions=definitions)
        return answer['taskDefinition']['taskDefinitionArn']

    def service(self, cluster, name, task_definition, desired=2, circuit_breaker=None):
        """Create a steady service; ``circuit_breaker`` is ``{'enable': bool, 'rollback': bool}``."""
        kwargs = {}
        if circuit_breaker is not None:
            kwargs['deploymentConfiguration'] = {'deploymentCircuitBreaker': dict(circuit_breaker)}
        return self.ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=task_definition,
                                       desiredCount=desired, **kwargs)['service']

    def deploy(self, cluster, service, task_definition, wait=True):
        """What a CI deploy does: UpdateService to ``task_definition``, then (``wait``) until settled."""
        self.ecs.update_service(cluster=cluster, service=service, taskDefinition=task_definition)
        return self.settle(cluster, service) if wait else self.describe(cluster, service)

    def describe(self, cluster, service):
        """The service as DescribeServices returns it."""
        return self.ecs.describe_services(cluster=cluster, services=[service])['services'][0]

    def deployments(self, cluster, service):
        """The service's deployments, PRIMARY first, as DescribeServices returns them."""
        return self.describe(cluster, service)['deployments']

    def wait(self, cluster, service, condition, timeout=10):
        """DescribeServices until ``condition(service)``; returns the service, AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.describe(cluster, service)
            if condition(described):
                return described
            if time.monotonic() > deadline:
                raise AssertionError('ECS service {0} did not get there in {1}s: {2}'.format(
                    service, timeout, described['deployments']))
            time.sleep(self.interval / 2)

    def settle(self, cluster, service, timeout=10):
        """Wait until the rollout is over: COMPLETED with one deployment left, or FAILED (no rollback)."""
        def settled(described):
            primary = described['deployments'][0]
            return primary['rolloutState'] == 'FAILED' or (
                primary['rolloutState'] == 'COMPLETED' and len(described['deployments']) == 1)
        return self.wait(cluster, service, settled, timeout)

    def break_image(self, image, reason=None, exit_code=1, cannot_pull=False):
        """Make the tasks of every deployment using ``image`` stop instead of running.

        By default the essential container exits with ``exit_code`` (container
        ``reason`` optional, e.g. 'OutOfMemoryError: Container killed due to
        memory usage'); ``cannot_pull`` makes the image unpullable instead
        (stopCode TaskFailedToStart, 'CannotPullContainerError: ...').
        """
        if cannot_pull:
            reason = 'CannotPullContainerError: ' + (
                reason or 'pull image manifest has been retried 5 time(s): failed to resolve ref {0}: not found'.format(image))
            exit_code = None
        self.broken[image] = dict(reason=reason, exit_code=exit_code, cannot_pull=cannot_pull)

    def hold(self, cluster, service, after=0):
        """Freeze the service's rollout, after ``after`` more scheduler steps."""
        with self.lock:
            self.held[_key(cluster, service)] = after

    def release(self, cluster, service):
        """Let a held service's rollout go on."""
        with self.lock:
            self.held.pop(_key(cluster, service), None)

    # -- moto, patched --------------------------------------------------------------------------

    def _create_service_response(self, original, response):
        result = original(response)
        configuration = response._get_param('deploymentConfiguration')
        cluster = response._get_param('cluster', 'default')
        service = response.ecs_backend._get_service(cluster, response._get_param('serviceName'))
        if configuration:
            with self.lock:
                service.deployment_configuration = _configuration(service.deployment_configuration, configuration)
        return result

    def _create_service(self, original, backend, *args, **kwargs):
        with self.lock:
            service = original(backend, *args, **kwargs)
            if backend not in self.backends:
                self.backends.append(backend)
            setattr(service, MARK, {'completed': None})
            service.deployment_configuration = _configuration(None, None)
            if not service.deployments:
                return service
            deployment = dict(service.deployments[0], failedTasks=0, pendingCount=0, runningCount=0)
            service.deployments = [deployment]
            while deployment['runningCount'] < service.desired_count:
                self._task(backend, service, deployment, 'RUNNING')
                deployment['runningCount'] += 1
            self._complete(service, deployment, quiet=True)
            self._counts(service)
            return service

    def _update_service(self, original, backend, properties):
        properties = dict(properties)
        service = backend._get_service(properties.get('cluster', 'default'), properties['service'].split('/')[-1])
        if not hasattr(service, MARK) or not service.deployments:
            return original(backend, properties)
        with self.lock:
            for name in ('cluster', 'service'):
                properties.pop(name, None)
            definition = properties.pop('task_definition', None)
            force = properties.pop('force_new_deployment', False)
            desired = properties.pop('desired_count', None)
            configuration = properties.pop('deployment_configuration', None)
            for name, value in properties.items():
                if value is not None:
                    setattr(service, name, value)
            if configuration:
                service.deployment_configuration = _configuration(service.deployment_configuration, configuration)
            primary = service.deployments[0]
            if desired is not None:
                service.desired_count = desired
                service.deployments = [dict(primary, desiredCount=desired)] + service.deployments[1:]
            arn = backend.describe_task_definition(definition).arn if definition else service.task_definition
            service.task_definition = arn
            if force or arn != primary['taskDefinition']:
                self._new_deployment(service, arn)
            return service

    def _list_tasks(self, original, backend, cluster_str=None, container_instance=None, family=None,
                    started_by=None, service_name=None, desiredStatus=None):
        with self.lock:
            tasks = original(backend, cluster_str, container_instance, family, started_by, None,
                             desiredStatus or 'RUNNING')
        if service_name:
            tasks = [t for t in tasks if t.group == 'service:' + service_name.split('/')[-1]]
        return tasks

    # -- the scheduler ---------------------------------------------------------------------------

    def tick(self):
        """One scheduler step for every simulated service that is not held."""
        with self.lock:
            for backend in list(self.backends):
                if ecs_models.ecs_backends[backend.account_id][backend.region_name] is not backend:
                    self.backends.remove(backend)  # moto was reset
                    continue
                for service in list(backend.services.values()):
                    if hasattr(service, MARK) and service.status == 'ACTIVE' and service.deployments:
                        self._step(backend, service)

    def _step(self, backend, service):
        primary = service.deployments[0]
        if (len(service.deployments) == 1 and primary['rolloutState'] != 'IN_PROGRESS'
                and primary['runningCount'] == primary['desiredCount'] and not primary['pendingCount']):
            return  # steady: nothing to schedule (and no held step spent)
        key = _key(service.cluster_name, service.name)
        if key in self.held:
            if self.held[key] <= 0:
                return
            self.held[key] -= 1
        deployments = [dict(d) for d in service.deployments]
        primary, old = deployments[0], deployments[1:]
        broken = self._broken(backend, primary['taskDefinition'])
        breaker = service.deployment_configuration['deploymentCircuitBreaker']
        tripped = False
        if primary['rolloutState'] != 'FAILED':
            # the tasks started last step are up now, or stopped
            for task in self._tasks(backend, primary, 'PENDING'):
                if broken:
                    self._fail(task, broken)
                    primary['failedTasks'] += 1
                else:
                    task.last_status = 'RUNNING'
                    task.started_at = utcnow()
                    primary['runningCount'] += 1
            primary['pendingCount'] = 0
            tripped = (primary['rolloutState'] == 'IN_PROGRESS' and breaker.get('enable')
                       and primary['failedTasks'] >= failure_threshold(primary['desiredCount']))
            if not tripped and primary['runningCount'] < primary['desiredCount']:
                task = self._task(backend, service, primary, 'PENDING')
                primary['pendingCount'] = 1
                self._event(service, '(service {0}) has started 1 tasks: (task {1}).'.format(service.name, task.id))
        for deployment in old:  # a replaced deployment starts nothing more
            for task in self._tasks(backend, deployment, 'PENDING'):
                self._stop(task, 'Scaling activity initiated by (deployment {0})'.format(primary['id']))
            deployment['pendingCount'] = 0
        excess = sum(d['runningCount'] for d in deployments) - service.desired_count
        for deployment in reversed(old if old else [primary]):
            if excess > 0 and deployment['runningCount'] > 0 and (old or not primary['pendingCount']):
                task = self._tasks(backend, deployment, 'RUNNING')[0]
                self._stop(task, 'Scaling activity initiated by (deployment {0})'.format(primary['id']))
                deployment['runningCount'] -= 1
                self._event(service, '(service {0}) has stopped 1 running tasks: (task {1}).'.format(
                    service.name, task.id))
                break
        deployments = [primary] + [d for d in old if d['runningCount'] > 0]
        for deployment in deployments:
            deployment['updatedAt'] = utcnow()
        service.deployments = deployments
        if tripped:
            self._circuit_breaker(service, primary, breaker.get('rollback'))
        elif primary['rolloutState'] == 'IN_PROGRESS':
            if primary['runningCount'] == primary['desiredCount'] and len(deployments) == 1:
                self._complete(service, primary)
        self._counts(service)

    def _new_deployment(self, service, task_definition):
        now = utcnow()
        deployment_id = 'ecs-svc/{0}'.format(mock_random.randint(10 ** 18, 10 ** 19 - 1))
        primary = dict(service.deployments[0], status='ACTIVE')
        deployment = dict(primary, id=deployment_id, status='PRIMARY', taskDefinition=task_definition,
                          desiredCount=service.desired_count, pendingCount=0, runningCount=0, failedTasks=0,
                          createdAt=now, updatedAt=now, rolloutState='IN_PROGRESS',
                          rolloutStateReason='ECS deployment {0} in progress.'.format(deployment_id))
        service.deployments = [deployment, primary] + service.deployments[1:]
        return deployment

    def _complete(self, service, deployment, quiet=False):
        deployment['rolloutState'] = 'COMPLETED'
        deployment['rolloutStateReason'] = 'ECS deployment {0} completed.'.format(deployment['id'])
        getattr(service, MARK)['completed'] = deployment['id'], deployment['taskDefinition']
        if not quiet:
            self._event(service, '(service {0}) (deployment {1}) deployment completed.'.format(
                service.name, deployment['id']))
        self._event(service, '(service {0}) has reached a steady state.'.format(service.name))

    def _circuit_breaker(self, service, deployment, rollback):
        deployment['rolloutState'] = 'FAILED'
        deployment['rolloutStateReason'] = 'ECS deployment circuit breaker: tasks failed to start.'
        self._event(service, '(service {0}) (deployment {1}) deployment failed: tasks failed to start.'.format(
            service.name, deployment['id']))
        completed = getattr(service, MARK)['completed']
        if rollback and completed:
            self._event(service, '(service {0}) rolling back to deployment {1}.'.format(service.name, completed[0]))
            service.task_definition = completed[1]
            self._new_deployment(service, completed[1])

    def _counts(self, service):
        service.running_count = sum(d['runningCount'] for d in service.deployments)
        service.pending_count = sum(d['pendingCount'] for d in service.deployments)

    def _event(self, service, message):
        event = {'id': str(mock_random.uuid4()), 'createdAt': utcnow(), 'message': message}
        service.events = ([event] + list(service.events))[:MAX_EVENTS]

    # -- tasks -----------------------------------------------------------------------------------

    def _broken(self, backend, task_definition):
        definition = backend.describe_task_definition(task_definition)
        for container in definition.container_definitions:
            if container.get('image') in self.broken:
                return dict(self.broken[container['image']], container=container['name'])
        return None

    def _task(self, backend, service, deployment, status):
        definition = backend.describe_task_definition(deployment['taskDefinition'])
        cluster = backend._get_cluster(service.cluster_name)
        task = ecs_models.Task(cluster, definition, None, None, backend, group='service:' + service.name,
                               launch_type=service.launch_type or 'EC2', started_by=deployment['id'],
                               networking_configuration=service.network_configuration or None,
                               platform_version=service.platform_version)
        task._transitions = []  # the simulator, not moto's state manager, moves it on
        task.last_status = status
        task.created_at = utcnow()
        if status == 'RUNNING':
            task.started_at = task.created_at
        task.containers = []
        for container in definition.container_definitions:
            moto_container = ecs_models.Container(definition)
            moto_container.name, moto_container.image = container['name'], container['image']
            moto_container.last_status, moto_container.exitCode = status, None
            task.containers.append(moto_container)
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        return task

    def _tasks(self, backend, deployment, status):
        return [t for tasks in backend.tasks.values() for t in tasks.values()
                if t.started_by == deployment['id'] and t.last_status == status]

    def _stop(self, task, reason, code='ServiceSchedulerInitiated'):
        now = utcnow()
        task.last_status = task.desired_status = 'STOPPED'
        task.stopped_reason, task.stop_code = reason, code
        task.stopping_at = task.execution_stopped_at = task.stopped_at = now
        for container in task.containers:
            container.last_status = 'STOPPED'

    def _fail(self, task, broken):
        if broken['cannot_pull']:
            self._stop(task, broken['reason'], 'TaskFailedToStart')
        else:
            self._stop(task, 'Essential container in task exited', 'EssentialContainerExited')
        for container in task.containers:
            if container.name == broken['container']:
                container.exitCode, container.reason = broken['exit_code'], broken['reason']


def _bind(replacement, original):
    """A function for a class attribute: ``replacement(original, self, ...)``."""
    def method(self, *args, **kwargs):
        return replacement(original, self, *args, **kwargs)
    method.__name__ = getattr(original, '__name__', 'patched')
    return method


def _key(cluster, service):
    return cluster.split('/')[-1], service.split('/')[-1]


def _configuration(current, given):
    """A service's deploymentConfiguration: AWS's defaults, then ``current``, then what UpdateService gave."""
    merged = dict(DEFAULT_CONFIGURATION, **(current or {}))
    for name, value in (given or {}).items():
        if value is not None:
            merged[name] = dict(merged.get(name) or {}, **value) if isinstance(value, dict) else value
    breaker = merged['deploymentCircuitBreaker']
    merged['deploymentCircuitBreaker'] = dict(enable=bool(breaker.get('enable')), rollback=bool(breaker.get('rollback')))
    return merged
