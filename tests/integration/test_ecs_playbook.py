# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback playbook on ECS services (rollback_platform: ecs).

Against moto's AWS APIs over HTTP with the ECS deployment scheduler moto lacks
(the ``ecs`` fixture: lab/aws/ecs_simulator.py in the in-process moto server),
as the ECS lab of scripts/aws-lab.sh runs them. The service is deployed as a
pipeline does (v1, v2, then a broken v3 without a circuit breaker, its rollout
stuck IN_PROGRESS), the playbook runs as a user runs it (``ansible-playbook
ops.rollback.rollback`` on inventory/ecs/lab.yml, pointed at this moto server
and at a status view of it, lab/aws/ecs_lab.py's, which the verify phase
checks), and what is asserted is read back through the AWS APIs: the task
definition the service runs and its deployments, its tags (the ledger), the
SSM lock parameter, the ALB listener's weights and CloudFront's invalidations.
The production example, inventory/ecs/hosts.yml, runs too, with its
site-specific values pointed at the same server.
"""
from __future__ import annotations

import http.server
import json
import os
import re
import threading
import urllib.parse

import pytest
import yaml

from ecs_lab import Aws, service_status, status_response

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAB_INVENTORY = os.path.join(REPO, 'inventory', 'ecs', 'lab.yml')
CLUSTER, SERVICE, HOST = 'lab', 'web', 'web-lab'
IMAGE = 'registry.example/web:{0}'
LOCK = '/ops-rollback/lock/ecs/lab/web'
# Where a rollout is waited on: generous, as a slow CI machine needs; never asserted.
SETTLE_TIMEOUT = 60


class StatusServer(http.server.ThreadingHTTPServer):
    """The ECS lab's status view (GET /lab/status/<cluster>/<service>) of the test's moto server."""

    def __init__(self, aws):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                code, body = status_response(aws, url.path, url.query)
                data = json.dumps(body, default=str).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        super().__init__(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:{0}'.format(self.server_address[1])


@pytest.fixture
def aws(moto):
    return Aws(moto.url, moto.REGION, 'testing', 'testing-secret')


@pytest.fixture
def status_server(aws):
    server = StatusServer(aws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
def playbook(ansible, moto, status_server):
    """The rollback playbook as a user runs it, on the lab inventory pointed at this test's moto server."""
    with open(LAB_INVENTORY) as handle:
        inventory = yaml.safe_load(handle)
    lab_vars = inventory['all']['vars']
    lab_vars.update(lab_aws_url=status_server.url, ecs_endpoint_url=moto.url, ecs_region=moto.REGION,
                    ecs_secret_key='testing-secret')
    ansible.write_inventory(inventory)
    ansible.inventory_data = inventory
    return ansible


@pytest.fixture
def stuck(ecs):
    """Service web of cluster lab deployed v1, v2, then the broken v3 (no circuit breaker): its rollout stuck
    IN_PROGRESS, its tasks failing, the v2 tasks serving. The task definition ARNs by version."""
    ecs.cluster(CLUSTER)
    arns = dict((v, ecs.task_definition('web', IMAGE.format(v), container='web')) for v in ('v1', 'v2', 'v3'))
    ecs.service(CLUSTER, SERVICE, arns['v1'], desired=2)
    ecs.deploy(CLUSTER, SERVICE, arns['v2'])
    ecs.break_image(IMAGE.format('v3'), reason='exec /app/server: exec format error')
    ecs.deploy(CLUSTER, SERVICE, arns['v3'], wait=False)
    ecs.wait(CLUSTER, SERVICE, lambda s: s['deployments'][0]['failedTasks'] >= 1, timeout=SETTLE_TIMEOUT)
    return arns


def runs(ecs, arn):
    """Whether the service runs ``arn`` alone: one deployment, COMPLETED, every desired task running."""
    service = ecs.describe(CLUSTER, SERVICE)
    (deployment,) = service['deployments']
    return (deployment['taskDefinition'] == arn and deployment['rolloutState'] == 'COMPLETED'
            and deployment['runningCount'] == service['desiredCount'] == 2)


def test_previous_after_a_stuck_broken_deploy_then_again(playbook, ecs, aws, stuck):
    output = playbook.rollback(SERVICE, '-e', 'reason="v3 crashes on start"')
    assert 'service web: target v2 (rule: release-before-current) -> done' in output
    assert re.search(r'^  web-lab\s+v3 -> v2\s+ok$', output, re.M), output[-3000:]
    assert runs(ecs, stuck['v2']), ecs.describe(CLUSTER, SERVICE)['deployments']
    status = service_status(aws, CLUSTER, SERVICE)
    assert (status['version'], status['steady']) == ('v2', True)
    # v3 recorded bad before the service changed, v2 good once verified; the lock is gone.
    assert status['ledger'] == {'v3': 'bad', 'v2': 'good'}
    assert status['lock'] is None
    summary = playbook.timeline()[-1]
    assert summary['event'] == 'summary' and summary['verdicts']['web']['state'] == 'done'
    assert summary['phases']['verify']['outcome'] == 'ok'

    # Again: previous is now the version the ledger says is good and already runs; nothing toggles.
    output = playbook.rollback(SERVICE)
    assert playbook.recap_changed(output, HOST) == 0
    assert 'service web: target v2 (rule: ledger) -> done' in output
    assert runs(ecs, stuck['v2'])
    assert service_status(aws, CLUSTER, SERVICE)['ledger'] == {'v3': 'bad', 'v2': 'good'}


def test_an_explicit_version(playbook, ecs, aws, stuck):
    output = playbook.rollback(SERVICE, '-e', 'version=v1')
    assert 'service web: target v1 (rule: explicit) -> done' in output
    assert runs(ecs, stuck['v1'])
    status = service_status(aws, CLUSTER, SERVICE)
    assert (status['ledger'], status['lock']) == ({'v3': 'bad', 'v1': 'good'}, None)

    output = playbook.rollback(SERVICE, '-e', 'version=v1')
    assert playbook.recap_changed(output, HOST) == 0
    assert runs(ecs, stuck['v1'])


def test_check_mode_changes_nothing(playbook, ecs, aws, stuck):
    before = ecs.describe(CLUSTER, SERVICE)

    output = playbook.rollback(SERVICE, '--check', '--diff')
    assert 'service web: target v2 (rule: release-before-current) -> planned' in output
    after = ecs.describe(CLUSTER, SERVICE)
    assert after['taskDefinition'] == stuck['v3']
    assert [(d['id'], d['taskDefinition']) for d in after['deployments']] == [
        (d['id'], d['taskDefinition']) for d in before['deployments']]
    assert after['deployments'][0]['rolloutState'] == 'IN_PROGRESS'
    status = service_status(aws, CLUSTER, SERVICE)
    assert (status['ledger'], status['lock']) == ({}, None)


def test_a_lock_held_by_another_run_refuses_the_run_naming_it(playbook, ecs, aws, moto, stuck):
    args = dict(moto.params(), state='listed', cluster=CLUSTER, service=SERVICE,
                lock={'owner': 'awx-job-4711', 'holder': {'user': 'awx', 'controller': 'awx-node-2'}})
    playbook.run('ansible', HOST, '-m', 'ops.rollback.ecs_revert', '-a', json.dumps(args))

    output = playbook.rollback(SERVICE, expect_rc=2)
    assert 'run awx-job-4711 by awx@awx-node-2' in output, output[-3000:]
    assert 'Nothing was changed.' in output
    assert re.search(r'^  web-lab\s+.* unchanged', output, re.M)
    # Nothing changed, and the other run keeps its lock.
    assert ecs.describe(CLUSTER, SERVICE)['taskDefinition'] == stuck['v3']
    status = service_status(aws, CLUSTER, SERVICE)
    assert status['ledger'] == {}
    assert status['lock']['owner'] == 'awx-job-4711'


def test_an_unknown_version_is_refused_listing_the_versions(playbook, ecs, aws, stuck):
    output = playbook.rollback(SERVICE, '-e', 'version=v9', expect_rc=2)
    assert 'v9' in output and 'no such version' in output, output[-3000:]
    for version in ('v1', 'v2', 'v3'):
        assert '{0} (revision {1}, web={2})'.format(version, version[1], IMAGE.format(version)) in output
    assert 'Nothing was changed.' in output
    assert ecs.describe(CLUSTER, SERVICE)['taskDefinition'] == stuck['v3']
    # The run took the lock before it read the revisions, and released it when it stopped.
    status = service_status(aws, CLUSTER, SERVICE)
    assert (status['ledger'], status['lock']) == ({}, None)


# --- the edge phase: an ALB listener and a CloudFront distribution --------------------------------------------


def build_edge(moto, blue='blue', green='green'):
    """An ALB listener that the broken release moved to target group ``green`` (blue 0 / green 100), each with a
    running instance; a CloudFront distribution in front of it."""
    ec2, elbv2, cloudfront = moto.client('ec2'), moto.client('elbv2'), moto.client('cloudfront')
    vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock='10.0.{0}.0/24'.format(i),
                                 AvailabilityZone=moto.REGION + zone)['Subnet']['SubnetId']
               for i, zone in enumerate('ab')]
    lb = elbv2.create_load_balancer(Name='shop', Subnets=subnets)['LoadBalancers'][0]['LoadBalancerArn']
    groups = {}
    for name in (blue, green):
        groups[name] = elbv2.create_target_group(Name=name, Protocol='HTTP', Port=80, VpcId=vpc,
                                                 TargetType='instance')['TargetGroups'][0]['TargetGroupArn']
        instance = ec2.run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1, InstanceType='t3.micro',
                                     SubnetId=subnets[0])['Instances'][0]['InstanceId']
        elbv2.register_targets(TargetGroupArn=groups[name], Targets=[{'Id': instance, 'Port': 80}])
    listener = elbv2.create_listener(LoadBalancerArn=lb, Protocol='HTTP', Port=80, DefaultActions=[{
        'Type': 'forward', 'ForwardConfig': {'TargetGroups': [
            {'TargetGroupArn': groups[blue], 'Weight': 0}, {'TargetGroupArn': groups[green], 'Weight': 100}]}}],
    )['Listeners'][0]['ListenerArn']
    distribution = cloudfront.create_distribution(DistributionConfig={
        'CallerReference': 'shop-web', 'Comment': 'shop', 'Enabled': True,
        'Origins': {'Quantity': 1, 'Items': [{'Id': 'alb', 'DomainName': 'shop.example.com',
                                              'CustomOriginConfig': {'HTTPPort': 80, 'HTTPSPort': 443,
                                                                     'OriginProtocolPolicy': 'http-only'}}]},
        'DefaultCacheBehavior': {'TargetOriginId': 'alb', 'ViewerProtocolPolicy': 'allow-all', 'MinTTL': 0,
                                 'ForwardedValues': {'QueryString': False, 'Cookies': {'Forward': 'none'}}},
    })['Distribution']['Id']
    return dict(listener=listener, names=dict((arn, n) for n, arn in groups.items()), distribution=distribution)


@pytest.fixture
def edge(moto):
    return build_edge(moto)


def listener_weights(moto, edge):
    """The weights the listener holds, by target group name."""
    (action,) = moto.client('elbv2').describe_listeners(ListenerArns=[edge['listener']])['Listeners'][0][
        'DefaultActions']
    return dict((edge['names'][g['TargetGroupArn']], g['Weight']) for g in action['ForwardConfig']['TargetGroups'])


def invalidations(moto, edge):
    cloudfront = moto.client('cloudfront')
    items = cloudfront.list_invalidations(DistributionId=edge['distribution'])['InvalidationList'].get('Items') or []
    return [cloudfront.get_invalidation(DistributionId=edge['distribution'], Id=i['Id'])['Invalidation']
            for i in items]


def test_the_edge_phase_moves_the_listener_back_and_invalidates_the_cdn_once(playbook, ecs, aws, moto, stuck, edge):
    inventory = playbook.inventory_data
    inventory['all']['children']['web']['hosts'][HOST].update(
        rollback_edge_aws=dict(region=moto.REGION, endpoint_url=moto.url, access_key='testing',
                               secret_key='testing-secret'),
        rollback_edge_switches=[{'backend': 'alb', 'listener_arn': edge['listener'],
                                 'weights': [{'target_group': 'blue', 'weight': 100}]}],
        rollback_edge_invalidations=[{'distribution_id': edge['distribution'], 'paths': ['/*']}])
    playbook.write_inventory(inventory)
    assert listener_weights(moto, edge) == {'blue': 0, 'green': 100}

    output = playbook.rollback(SERVICE, '-e', 'incident_id=INC-4711')
    assert 'service web: target v2 (rule: release-before-current) -> done' in output
    assert runs(ecs, stuck['v2'])
    assert listener_weights(moto, edge) == {'blue': 100, 'green': 0}
    (invalidation,) = invalidations(moto, edge)
    batch = invalidation['InvalidationBatch']
    assert batch['Paths']['Items'] == ['/*']
    assert 'INC-4711' in batch['CallerReference']
    assert playbook.timeline()[-1]['phases']['edge']['outcome'] == 'ok'

    # Again: the service did not move, so the edge is left alone and nothing is invalidated twice.
    output = playbook.rollback(SERVICE, '-e', 'incident_id=INC-4711')
    assert playbook.recap_changed(output, HOST) == 0
    assert listener_weights(moto, edge) == {'blue': 100, 'green': 0}
    assert len(invalidations(moto, edge)) == 1


def test_the_production_example_inventory_rolls_back_a_service_with_a_sidecar(ansible, ecs, aws, moto, status_server):
    """inventory/ecs/hosts.yml's service checkout, with only its site-specific values (the AWS endpoint and keys
    instead of the profile, the listener, the distribution, the health endpoint) pointed at this moto server."""
    with open(os.path.join(REPO, 'inventory', 'ecs', 'hosts.yml')) as handle:
        inventory = yaml.safe_load(handle)
    example, host = inventory['all']['vars'], inventory['all']['children']['checkout']['hosts']['checkout-prod']
    assert host['ecs_container'] == 'app' and 'ecs_endpoint_url' not in example
    edge = build_edge(moto, 'checkout-blue', 'checkout-green')
    ecs.cluster(example['ecs_cluster'])
    arns = [ecs.task_definition('checkout', None, containers={'app': 'registry.example/checkout:' + v, 'envoy': 'envoy:1.30'})
            for v in ('v1', 'v2')]
    ecs.service(example['ecs_cluster'], 'checkout', arns[0])
    ecs.deploy(example['ecs_cluster'], 'checkout', arns[1])

    connection = dict(region=moto.REGION, endpoint_url=moto.url, access_key='testing', secret_key='testing-secret')
    del example['ecs_profile']
    example.update(('ecs_' + name, value) for name, value in connection.items())
    example['rollback_edge_aws'] = connection
    host['rollback_edge_switches'][0]['listener_arn'] = edge['listener']
    host['rollback_edge_invalidations'][0]['distribution_id'] = edge['distribution']
    host['rollback_health_endpoints'] = [{'url': '{0}/lab/status/{1}/checkout?container=app'.format(
        status_server.url, example['ecs_cluster']), 'json_query': 'steady', 'equals': True}]
    host['rollback_health_delay'] = 1
    ansible.write_inventory(inventory)

    output = ansible.rollback('checkout', '-e', 'reason="error rate 8%"')
    assert 'service checkout: target v1 (rule: release-before-current) -> done' in output, output[-3000:]
    status = service_status(aws, example['ecs_cluster'], 'checkout', container='app')
    assert (status['task_definition'], status['version'], status['steady']) == ('checkout:1', 'v1', True)
    assert (status['ledger'], status['lock']) == ({'v2': 'bad', 'v1': 'good'}, None)
    assert listener_weights(moto, edge) == {'checkout-blue': 100, 'checkout-green': 0}
    (invalidation,) = invalidations(moto, edge)
    assert invalidation['InvalidationBatch']['Paths']['Items'] == ['/checkout/*', '/static/checkout/*']


def test_a_rollback_the_circuit_breaker_already_made_stays_and_records_what_it_left(playbook, ecs, aws):
    # With the breaker on, ECS rolled the broken v3 back to v2 by itself before anyone ran the playbook.
    ecs.cluster(CLUSTER)
    arns = dict((v, ecs.task_definition('web', IMAGE.format(v), container='web')) for v in ('v1', 'v2', 'v3'))
    ecs.service(CLUSTER, SERVICE, arns['v1'], desired=2, circuit_breaker={'enable': True, 'rollback': True})
    ecs.deploy(CLUSTER, SERVICE, arns['v2'])
    ecs.break_image(IMAGE.format('v3'))
    ecs.deploy(CLUSTER, SERVICE, arns['v3'], wait=False)
    ecs.wait(CLUSTER, SERVICE, lambda s: s['taskDefinition'] == arns['v2'], timeout=SETTLE_TIMEOUT)
    ecs.settle(CLUSTER, SERVICE, timeout=SETTLE_TIMEOUT)
    output = playbook.rollback(SERVICE, '-e', 'reason="v3 crashes on start"')
    # Not one more step back to v1: the run stays on what the breaker restored, and says why.
    assert 'service web: target v2 (rule: already-rolled-back) -> done' in output, output[-3000:]
    assert 'web already runs v2, where a rollback left it' in output
    assert runs(ecs, arns['v2'])
    assert service_status(aws, CLUSTER, SERVICE)['ledger'] == {'v3': 'bad', 'v2': 'good'}
