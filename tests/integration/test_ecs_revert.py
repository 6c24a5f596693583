# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ecs_revert against moto's ECS over HTTP, with the deployment scheduler moto lacks
(lab/aws/ecs_simulator.py: rollouts, stopped tasks, the circuit breaker, as AWS documents them).

What is asserted is what a user reads back from ECS afterwards: the task definition the
service runs, its deployments, its tags (the ledger) and the SSM lock parameter.
"""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.modules import ecs_revert

CLUSTER = 'prod'
SERVICE = 'web'
LEDGER = 'ops.rollback/verdict/'
LOCK = '/ops-rollback/lock/ecs/prod/web'


@pytest.fixture
def web(ecs):
    """Service web deployed v1, v2, v3 in turn, as a pipeline does; returns the ARNs by version."""
    ecs.cluster(CLUSTER)
    arns = dict((v, ecs.task_definition('web', 'registry.example/web:' + v)) for v in ('v1', 'v2', 'v3'))
    ecs.service(CLUSTER, SERVICE, arns['v1'])
    ecs.deploy(CLUSTER, SERVICE, arns['v2'])
    ecs.deploy(CLUSTER, SERVICE, arns['v3'])
    return arns


def revert(run_module, moto, **extra):
    args = dict(moto.params(), cluster=CLUSTER, service=SERVICE, _ansible_diff=True)
    args.update(extra)
    return run_module(ecs_revert.main, args)


def running(ecs):
    """The task definition the service runs, once its one deployment completed with every task running."""
    service = ecs.describe(CLUSTER, SERVICE)
    deployments = service['deployments']
    assert len(deployments) == 1 and deployments[0]['rolloutState'] == 'COMPLETED', deployments
    assert deployments[0]['runningCount'] == deployments[0]['desiredCount'] == service['desiredCount']
    return deployments[0]['taskDefinition']


def ledger(ecs):
    tags = ecs.ecs.list_tags_for_resource(resourceArn=ecs.describe(CLUSTER, SERVICE)['serviceArn'])['tags']
    return dict((t['key'][len(LEDGER):], t['value'].split(' ')[0]) for t in tags if t['key'].startswith(LEDGER))


def test_previous_rolls_back_one_revision_waits_and_records_the_version_left(run_module, moto, ecs, web):
    rc, result = revert(run_module, moto, rolled_back_from='v3', note='INC-1: 5xx')
    assert rc == 0 and result['changed'], result
    assert running(ecs) == web['v2']
    assert (result['from_version'], result['to_version'], result['rule']) == ('v3', 'v2', 'release-before-current')
    assert result['task_definition'] == {'before': web['v3'], 'after': web['v2']}
    assert result['images']['after'] == {'app': 'registry.example/web:v2'}
    assert result['waited']['rollout_state'] == 'COMPLETED' and result['waited']['deployment'] == result['deployment']
    assert ledger(ecs) == {'v3': 'bad'}
    # Run again: v2 runs, v3 is bad, so previous is where it is; nothing toggles.
    rc, again = revert(run_module, moto, rolled_back_from='v3')
    assert rc == 0 and not again['changed'], again
    assert running(ecs) == web['v2']


def test_explicit_version_revision_and_image_reference(run_module, moto, ecs, web):
    rc, result = revert(run_module, moto, version='v1')
    assert rc == 0 and result['changed'] and result['rule'] == 'explicit', result
    assert running(ecs) == web['v1']
    rc, result = revert(run_module, moto, revision=3)
    assert rc == 0 and result['to_version'] == 'v3', result
    assert running(ecs) == web['v3']
    rc, result = revert(run_module, moto, version='registry.example/web:v2')
    assert rc == 0 and result['to_revision'] == 2, result
    assert running(ecs) == web['v2']


def test_check_mode_plans_and_changes_nothing(run_module, moto, ecs, web):
    rc, result = revert(run_module, moto, version='v1', rolled_back_from='v3', _ansible_check_mode=True)
    assert rc == 0 and result['changed'], result
    assert 'web:3 (v3) to web:1 (v1)' in result['plan'][-1]
    assert 'web:1' in result['diff']['after'] and 'web:3' in result['diff']['before']
    assert running(ecs) == web['v3'] and ledger(ecs) == {}


def test_unknown_version_is_refused_listing_the_revisions(run_module, moto, ecs, web):
    rc, result = revert(run_module, moto, version='v9')
    assert rc == 1 and not result['changed']
    assert 'v9' in result['msg'] and 'v1 (revision 1, app=registry.example/web:v1)' in result['msg'], result['msg']
    rc, result = revert(run_module, moto, version='v1; rm -rf /')
    assert rc == 1 and 'Refusing version' in result['msg'], result
    assert running(ecs) == web['v3']


@pytest.mark.parametrize('args, says', [
    ({'service': 'nope'}, 'no such service (services in the cluster: web)'),
    ({'cluster': 'staging'}, 'cluster staging does not exist'),
])
def test_unknown_service_or_cluster_is_named(run_module, moto, ecs, web, args, says):
    rc, result = revert(run_module, moto, **args)
    assert rc == 1 and says in result['msg'], result
    assert running(ecs) == web['v3']


def test_a_deregistered_revision_is_refused(run_module, moto, ecs, web):
    ecs.ecs.deregister_task_definition(taskDefinition=web['v1'])
    rc, result = revert(run_module, moto, version='v1')
    assert rc == 1 and 'INACTIVE (deregistered)' in result['msg'], result
    assert running(ecs) == web['v3']


def test_several_containers_need_the_container_named(run_module, moto, ecs):
    ecs.cluster(CLUSTER)
    arns = [ecs.task_definition('web', None, containers={'app': 'web:' + v, 'envoy': 'envoy:1.30'}) for v in ('v1', 'v2')]
    ecs.service(CLUSTER, SERVICE, arns[0])
    ecs.deploy(CLUSTER, SERVICE, arns[1])
    rc, result = revert(run_module, moto)
    assert rc == 1 and 'has 2 containers' in result['msg'] and 'app, envoy' in result['msg'], result
    rc, result = revert(run_module, moto, container='app')
    assert rc == 0 and result['to_version'] == 'v1', result
    assert running(ecs) == arns[0]


def test_a_ledger_verdict_chooses_previous(run_module, moto, ecs, web):
    rc, result = revert(run_module, moto, state='recorded', version='v1')
    assert rc == 0 and result['changed'] and ledger(ecs) == {'v1': 'good'}
    rc, result = revert(run_module, moto, rolled_back_from='v3')
    assert rc == 0 and result['rule'] == 'ledger' and result['to_version'] == 'v1', result
    assert running(ecs) == web['v1']
    assert ledger(ecs) == {'v1': 'good', 'v3': 'bad'}


def test_a_target_that_fails_to_start_names_the_stopped_tasks(run_module, moto, ecs, web):
    ecs.break_image('registry.example/web:v1', reason='exec format error', exit_code=139)
    rc, result = revert(run_module, moto, version='v1', wait_timeout=3)
    assert rc == 1, result
    assert 'did not complete within 3 s' in result['msg'] and 'exit 139' in result['msg'], result['msg']
    assert result['stopped_tasks'] and result['to_version'] == 'v1'


def test_a_rollout_the_circuit_breaker_undoes_is_a_failure(run_module, moto, ecs):
    ecs.cluster(CLUSTER)
    arns = dict((v, ecs.task_definition('web', 'registry.example/web:' + v)) for v in ('v1', 'v2'))
    ecs.service(CLUSTER, SERVICE, arns['v1'], circuit_breaker={'enable': True, 'rollback': True})
    ecs.deploy(CLUSTER, SERVICE, arns['v2'])
    ecs.break_image('registry.example/web:v1', cannot_pull=True)
    rc, result = revert(run_module, moto, version='v1', wait_timeout=60)
    assert rc == 1 and 'no longer rolls out v1' in result['msg'] and 'CannotPullContainerError' in result['msg'], result
    ecs.settle(CLUSTER, SERVICE)
    assert running(ecs) == arns['v2']


def test_a_rollback_the_circuit_breaker_already_made_is_reported_not_repeated(run_module, moto, ecs):
    ecs.cluster(CLUSTER)
    arns = dict((v, ecs.task_definition('web', 'registry.example/web:' + v)) for v in ('v1', 'v2', 'v3'))
    ecs.service(CLUSTER, SERVICE, arns['v1'], circuit_breaker={'enable': True, 'rollback': True})
    ecs.deploy(CLUSTER, SERVICE, arns['v2'])
    ecs.break_image('registry.example/web:v3')
    ecs.deploy(CLUSTER, SERVICE, arns['v3'])
    ecs.settle(CLUSTER, SERVICE, timeout=30)
    assert running(ecs) == arns['v2']
    rc, result = revert(run_module, moto)
    assert rc == 0 and not result['changed'], result
    assert result['rule'] == 'already-rolled-back' and result['to_version'] == 'v2'
    assert result['circuit_breaker']['failed_version'] == 'v3' and result['circuit_breaker']['restored'] == 'web:2'
    assert 'circuit breaker of ECS service web in cluster prod already rolled it back' in str(result['warnings'])
    assert running(ecs) == arns['v2']
    # The playbook's preflight reads the same from the listing, so its target stays on v2 too.
    rc, listed = revert(run_module, moto, state='listed')
    assert listed['platform_rollback']['failed_version'] == 'v3' and listed['current'] == 'v2'


def test_the_lock_is_one_ssm_parameter_one_run_at_a_time(run_module, moto, ecs, web):
    ssm = moto.client('ssm')
    rc, result = revert(run_module, moto, state='listed', lock={'owner': 'run-1', 'holder': {'user': 'alice'}})
    assert rc == 0 and result['current'] == 'v3' and [e['version'] for e in result['history']] == ['v1', 'v2', 'v3']
    assert 'run-1' in ssm.get_parameter(Name=LOCK)['Parameter']['Value']
    rc, result = revert(run_module, moto, state='listed', lock={'owner': 'run-2'})
    assert rc == 1 and 'alice' in result['msg'], result
    rc, result = revert(run_module, moto, state='unlocked', lock={'owner': 'run-1'})
    assert rc == 0
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=LOCK)


def test_the_ledger_keeps_the_newest_verdicts_within_the_tag_limits(run_module, moto, ecs, web):
    for n in range(12):
        rc, result = revert(run_module, moto, state='recorded', version='v1.{0}'.format(n),
                            rolled_back_from='v2.{0}'.format(n), note='INC-{0}: "5xx", {{spike}}'.format(n))
        assert rc == 0, result
    verdicts = ledger(ecs)
    assert len(verdicts) == 20 and verdicts['v1.11'] == 'good' and verdicts['v2.11'] == 'bad'
    rc, listed = revert(run_module, moto, state='listed')
    assert 'v1.11' in listed['good'] and 'v2.11' in listed['bad']


def test_previous_of_a_stuck_rollout_is_what_ran_before_it_not_the_revision_before(run_module, moto, ecs):
    # web:2 ran; web:3 was registered but never deployed; web:4 is broken and its rollout stuck.
    ecs.cluster(CLUSTER)
    arns = dict((v, ecs.task_definition('web', 'registry.example/web:' + v)) for v in ('v1', 'v2', 'v3', 'v4'))
    ecs.service(CLUSTER, SERVICE, arns['v2'])
    ecs.break_image('registry.example/web:v4')
    ecs.deploy(CLUSTER, SERVICE, arns['v4'], wait=False)
    ecs.wait(CLUSTER, SERVICE, lambda s: s['deployments'][0]['failedTasks'] >= 1)
    rc, result = revert(run_module, moto, rolled_back_from='v4')
    assert rc == 0 and (result['from_version'], result['to_version']) == ('v4', 'v2'), result
    assert running(ecs) == arns['v2']
    # Again: v2 runs, v4 is bad; the never deployed v3 between them is no reason to move.
    rc, again = revert(run_module, moto, rolled_back_from='v4')
    assert rc == 0 and not again['changed'] and again['to_version'] == 'v2', again
