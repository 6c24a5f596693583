# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ECS simulator (lab/aws/ecs_simulator.py) behaves as ECS documents it, seen over HTTP through boto3."""
from __future__ import annotations

import threading

from ecs_simulator import EcsSimulator
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses

CLUSTER = 'prod'
SERVICE = 'web'


def messages(service):
    return [event['message'] for event in service['events']]


def stopped_tasks(ecs, deployment_id=None):
    """The service's STOPPED tasks, as a module would find them: ListTasks then DescribeTasks."""
    client = ecs.ecs
    kwargs = dict(startedBy=deployment_id) if deployment_id else {}
    arns = client.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus='STOPPED', **kwargs)['taskArns']
    return client.describe_tasks(cluster=CLUSTER, tasks=arns)['tasks'] if arns else []


def steady(ecs, circuit_breaker=None, desired=2):
    """A cluster and a steady service on web:1 (image web:1.0); returns web:1's ARN."""
    ecs.cluster(CLUSTER)
    good = ecs.task_definition('web', 'registry.example/web:1.0')
    ecs.service(CLUSTER, SERVICE, good, desired=desired, circuit_breaker=circuit_breaker)
    return good


def test_a_created_service_is_steady(ecs):
    good = steady(ecs)
    service = ecs.describe(CLUSTER, SERVICE)
    (deployment,) = service['deployments']
    assert (deployment['status'], deployment['rolloutState'], deployment['runningCount']) == ('PRIMARY', 'COMPLETED', 2)
    assert deployment['taskDefinition'] == service['taskDefinition'] == good
    assert service['runningCount'] == 2 and service['pendingCount'] == 0
    assert service['deploymentConfiguration']['deploymentCircuitBreaker'] == {'enable': False, 'rollback': False}
    assert messages(service)[0] == '(service web) has reached a steady state.'
    running = ecs.ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE)['taskArns']
    assert len(running) == 2


def test_a_deploy_rolls_out_and_completes_with_one_deployment_left(ecs):
    good = steady(ecs)
    ecs.task_definition('web', 'registry.example/web:1.1')
    ecs.hold(CLUSTER, SERVICE)
    ecs.ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition='web:2')
    new, old = ecs.deployments(CLUSTER, SERVICE)
    assert new['id'].startswith('ecs-svc/') and new['id'][len('ecs-svc/'):].isdigit()
    assert (new['status'], new['rolloutState'], new['runningCount'], new['failedTasks']) == ('PRIMARY', 'IN_PROGRESS', 0, 0)
    assert new['rolloutStateReason'] == 'ECS deployment {0} in progress.'.format(new['id'])
    assert new['taskDefinition'].endswith(':task-definition/web:2')
    assert (old['status'], old['taskDefinition'], old['runningCount']) == ('ACTIVE', good, 2)

    ecs.release(CLUSTER, SERVICE)
    service = ecs.settle(CLUSTER, SERVICE)
    (done,) = service['deployments']
    assert (done['id'], done['status'], done['rolloutState'], done['runningCount']) == (new['id'], 'PRIMARY', 'COMPLETED', 2)
    assert done['rolloutStateReason'] == 'ECS deployment {0} completed.'.format(new['id'])
    assert service['taskDefinition'] == new['taskDefinition']
    assert messages(service)[:2] == ['(service web) has reached a steady state.',
                                     '(service web) (deployment {0}) deployment completed.'.format(new['id'])]
    running = ecs.ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, startedBy=new['id'])['taskArns']
    assert len(running) == 2
    replaced = stopped_tasks(ecs, old['id'])
    assert len(replaced) == 2
    assert {t['stopCode'] for t in replaced} == {'ServiceSchedulerInitiated'}
    assert replaced[0]['stoppedReason'] == 'Scaling activity initiated by (deployment {0})'.format(new['id'])


def test_hold_freezes_a_rollout_mid_way(ecs):
    steady(ecs)
    bad = ecs.task_definition('web', 'registry.example/web:1.1')
    ecs.hold(CLUSTER, SERVICE, after=2)
    ecs.deploy(CLUSTER, SERVICE, bad, wait=False)
    ecs.wait(CLUSTER, SERVICE, lambda s: s['deployments'][0]['runningCount'] == 1)
    first = ecs.deployments(CLUSTER, SERVICE)
    assert len(first) == 2 and first[0]['rolloutState'] == 'IN_PROGRESS'
    assert ecs.deployments(CLUSTER, SERVICE) == first  # held: nothing moves
    ecs.release(CLUSTER, SERVICE)
    assert ecs.settle(CLUSTER, SERVICE)['deployments'][0]['rolloutState'] == 'COMPLETED'


def test_a_broken_image_without_circuit_breaker_is_a_stuck_rollout(ecs):
    good = steady(ecs)
    bad = ecs.task_definition('web', 'registry.example/web:1.1')
    ecs.break_image('registry.example/web:1.1', exit_code=3)
    ecs.deploy(CLUSTER, SERVICE, bad, wait=False)
    service = ecs.wait(CLUSTER, SERVICE, lambda s: s['deployments'][0]['failedTasks'] >= 5)
    new, old = service['deployments']
    assert (new['rolloutState'], new['runningCount']) == ('IN_PROGRESS', 0)
    assert (old['taskDefinition'], old['runningCount']) == (good, 2)  # the old tasks keep serving
    assert service['taskDefinition'] == bad
    failed = stopped_tasks(ecs, new['id'])
    assert len(failed) >= 5
    task = failed[0]
    assert (task['lastStatus'], task['desiredStatus'], task['startedBy'], task['group']) == (
        'STOPPED', 'STOPPED', new['id'], 'service:web')
    assert (task['stopCode'], task['stoppedReason']) == ('EssentialContainerExited', 'Essential container in task exited')
    assert task['taskDefinitionArn'] == bad
    (container,) = task['containers']
    assert (container['name'], container['image'], container['lastStatus'], container['exitCode']) == (
        'app', 'registry.example/web:1.1', 'STOPPED', 3)


def test_an_unpullable_image_names_the_pull_error(ecs):
    steady(ecs)
    bad = ecs.task_definition('web', None, containers={'app': 'registry.example/web:9.9', 'log': 'fluentbit:2'})
    ecs.break_image('registry.example/web:9.9', cannot_pull=True)
    new = ecs.deploy(CLUSTER, SERVICE, bad, wait=False)['deployments'][0]
    ecs.wait(CLUSTER, SERVICE, lambda s: s['deployments'][0]['failedTasks'] >= 1)
    task = stopped_tasks(ecs, new['id'])[0]
    assert task['stopCode'] == 'TaskFailedToStart'
    assert task['stoppedReason'].startswith('CannotPullContainerError: ')
    app = [c for c in task['containers'] if c['name'] == 'app'][0]
    assert app['reason'] == task['stoppedReason'] and 'exitCode' not in app


def test_the_circuit_breaker_rolls_back_to_the_last_completed_deployment(ecs):
    good = steady(ecs, circuit_breaker={'enable': True, 'rollback': True}, desired=4)
    assert ecs.describe(CLUSTER, SERVICE)['deploymentConfiguration']['deploymentCircuitBreaker'] == {
        'enable': True, 'rollback': True}
    completed = ecs.deployments(CLUSTER, SERVICE)[0]['id']
    bad = ecs.task_definition('web', 'registry.example/web:1.1')
    ecs.break_image('registry.example/web:1.1')
    failed_id = ecs.deploy(CLUSTER, SERVICE, bad, wait=False)['deployments'][0]['id']
    service = ecs.settle(CLUSTER, SERVICE)
    (deployment,) = service['deployments']
    assert deployment['id'] not in (completed, failed_id)
    assert (deployment['taskDefinition'], deployment['rolloutState'], deployment['runningCount']) == (good, 'COMPLETED', 4)
    assert service['taskDefinition'] == good
    events = messages(service)
    assert '(service web) (deployment {0}) deployment failed: tasks failed to start.'.format(failed_id) in events
    assert '(service web) rolling back to deployment {0}.'.format(completed) in events
    assert events[0] == '(service web) has reached a steady state.'
    assert len(stopped_tasks(ecs, failed_id)) == 3  # the threshold: max(3, ceil(0.5 * 4))


def test_the_circuit_breaker_without_rollback_leaves_the_failed_deployment_primary(ecs):
    good = steady(ecs, circuit_breaker={'enable': True, 'rollback': False})
    bad = ecs.task_definition('web', 'registry.example/web:1.1')
    ecs.break_image('registry.example/web:1.1')
    service = ecs.deploy(CLUSTER, SERVICE, bad)
    failed, old = service['deployments']
    assert (failed['status'], failed['rolloutState'], failed['failedTasks']) == ('PRIMARY', 'FAILED', 3)
    assert failed['rolloutStateReason'] == 'ECS deployment circuit breaker: tasks failed to start.'
    assert (old['taskDefinition'], old['runningCount']) == (good, 2)
    assert service['taskDefinition'] == bad


def test_the_simulator_leaves_nothing_behind(moto):
    originals = dict(ecs_models.EC2ContainerServiceBackend.__dict__)
    with EcsSimulator(moto) as sim:
        assert ecs_models.EC2ContainerServiceBackend.update_service is not originals['update_service']
        thread = sim.thread
        assert thread.is_alive()
    assert not thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == 'ecs-simulator']
    for name in ('create_service', 'update_service', 'list_tasks', 'describe_tasks', 'describe_services'):
        assert getattr(ecs_models.EC2ContainerServiceBackend, name) is originals[name]
    assert ecs_responses.EC2ContainerServiceResponse.create_service.__name__ == 'create_service'
    assert ecs_responses.EC2ContainerServiceResponse.create_service.__module__ == ecs_responses.__name__
    # moto's own behaviour is back: UpdateService creates no deployment
    client = moto.client('ecs')
    client.create_cluster(clusterName=CLUSTER)
    client.register_task_definition(family='web', containerDefinitions=[dict(name='app', image='a', memory=128)])
    client.register_task_definition(family='web', containerDefinitions=[dict(name='app', image='b', memory=128)])
    client.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition='web:1', desiredCount=1)
    client.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition='web:2')
    (deployment,) = client.describe_services(cluster=CLUSTER, services=[SERVICE])['services'][0]['deployments']
    assert deployment['taskDefinition'].endswith('web:1')


def test_a_deploy_over_a_stuck_rollout_replaces_it(ecs):
    good = steady(ecs)
    bad = ecs.task_definition('web', 'registry.example/web:1.1')
    ecs.break_image('registry.example/web:1.1')
    stuck = ecs.deploy(CLUSTER, SERVICE, bad, wait=False)['deployments'][0]['id']
    ecs.wait(CLUSTER, SERVICE, lambda s: s['deployments'][0]['failedTasks'] >= 2)
    created = ecs.ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition='web:1')['service']
    assert created['taskDefinition'] == good
    service = ecs.settle(CLUSTER, SERVICE)
    (deployment,) = service['deployments']
    assert (deployment['taskDefinition'], deployment['rolloutState'], deployment['runningCount']) == (good, 'COMPLETED', 2)
    running = ecs.ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE)['taskArns']
    assert len(running) == 2  # nothing of the stuck deployment is left pending
    assert not ecs.ecs.list_tasks(cluster=CLUSTER, startedBy=stuck)['taskArns']
