# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lb_switch's AWS backends against moto's ELBv2, EC2 and Route53 over HTTP: the weights the
listener and the records hold afterwards, in steps, once only, nothing written in check mode
or on refused input. moto reports a registered running EC2 instance healthy and a stopped one
``unused`` (Target.InvalidState), which stand for healthy and unhealthy targets here; its
Route53 changes are INSYNC at once."""
from __future__ import annotations

import http.server
import threading

import pytest

from ansible_collections.ops.rollback.plugins.modules import lb_switch

# --- ALB ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def alb(moto):
    """A listener forwarding 100/0 to target groups blue and green (one running instance each), and
    a target group dark with one stopped instance, 0 on a rule of the listener."""
    ec2, elbv2 = moto.client('ec2'), moto.client('elbv2')
    vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock='10.0.{0}.0/24'.format(i),
                                 AvailabilityZone='eu-west-1' + zone)['Subnet']['SubnetId']
               for i, zone in enumerate('ab')]
    lb = elbv2.create_load_balancer(Name='shop', Subnets=subnets)['LoadBalancers'][0]['LoadBalancerArn']
    groups = {}
    for name in ('blue', 'green', 'dark'):
        groups[name] = elbv2.create_target_group(Name=name, Protocol='HTTP', Port=80, VpcId=vpc,
                                                 TargetType='instance')['TargetGroups'][0]['TargetGroupArn']
        instance = ec2.run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1, InstanceType='t3.micro',
                                     SubnetId=subnets[0])['Instances'][0]['InstanceId']
        elbv2.register_targets(TargetGroupArn=groups[name], Targets=[{'Id': instance, 'Port': 80}])
        if name == 'dark':
            # Registered while running, as AWS requires; stopped, it fails its health checks.
            ec2.stop_instances(InstanceIds=[instance])
    groups['empty'] = elbv2.create_target_group(Name='empty', Protocol='HTTP', Port=80, VpcId=vpc)[
        'TargetGroups'][0]['TargetGroupArn']
    listener = elbv2.create_listener(LoadBalancerArn=lb, Protocol='HTTP', Port=80, DefaultActions=[forward(
        groups, blue=100, green=0)])['Listeners'][0]['ListenerArn']
    rule = elbv2.create_rule(ListenerArn=listener, Priority=10, Conditions=[
        {'Field': 'path-pattern', 'Values': ['/beta/*']}], Actions=[forward(
            groups, blue=100, dark=0, empty=0)])['Rules'][0]['RuleArn']
    return dict(listener=listener, rule=rule, groups=groups, names=dict((arn, n) for n, arn in groups.items()))


def forward(groups, **weights):
    return {'Type': 'forward', 'ForwardConfig': {'TargetGroups': [
        {'TargetGroupArn': groups[name], 'Weight': weight} for name, weight in weights.items()]}}


def listener_weights(moto, alb, rule=False):
    """The weights AWS holds, by target group name."""
    elbv2 = moto.client('elbv2')
    if rule:
        actions = elbv2.describe_rules(RuleArns=[alb['rule']])['Rules'][0]['Actions']
    else:
        actions = elbv2.describe_listeners(ListenerArns=[alb['listener']])['Listeners'][0]['DefaultActions']
    (action,) = [a for a in actions if a['Type'] == 'forward']
    return dict((alb['names'][g['TargetGroupArn']], g['Weight']) for g in action['ForwardConfig']['TargetGroups'])


def alb_args(moto, alb, weights, **extra):
    return dict(moto.params(), backend='alb', listener_arn=alb['listener'], **dict(extra, weights=[
        dict(target_group=name, weight=weight) for name, weight in weights.items()]))


def test_alb_switches_blue_to_green_then_finds_it_done(run_module, moto, alb):
    rc, result = run_module(lb_switch.main, alb_args(moto, alb, {'green': 100}, _ansible_diff=True))
    assert rc == 0 and result['changed'], result
    assert listener_weights(moto, alb) == {'blue': 0, 'green': 100}
    assert [(i['target_group'], i['weight']) for i in result['before']] == [('blue', 100), ('green', 0)]
    assert [(i['target_group'], i['weight']) for i in result['after']] == [('blue', 0), ('green', 100)]
    assert result['healthy_targets'] == {'green': 1}
    assert result['diff']['before'] == 'blue: 100\ngreen: 0\n'
    assert result['diff']['after'] == 'blue: 0\ngreen: 100\n'
    # Again: nothing to do, and said so.
    rc, again = run_module(lb_switch.main, alb_args(moto, alb, {'green': 100}))
    assert rc == 0 and not again['changed'], again
    assert listener_weights(moto, alb) == {'blue': 0, 'green': 100}


def test_alb_target_groups_are_named_by_arn_too(run_module, moto, alb):
    args = alb_args(moto, alb, {})
    args['weights'] = [dict(target_group=alb['groups']['blue'], weight=25),
                       dict(target_group=alb['groups']['green'], weight=75)]
    rc, result = run_module(lb_switch.main, args)
    assert rc == 0 and result['changed'], result
    assert listener_weights(moto, alb) == {'blue': 25, 'green': 75}


def test_alb_steps_pass_through_the_intermediate_weights(run_module, moto, alb):
    rc, result = run_module(lb_switch.main, alb_args(moto, alb, {'blue': 0, 'green': 100}, steps=[10, 50]))
    assert rc == 0 and result['changed'], result
    assert [[(i['target_group'], i['weight']) for i in step] for step in result['steps']] == [
        [('blue', 90), ('green', 10)], [('blue', 50), ('green', 50)], [('blue', 0), ('green', 100)]]
    assert listener_weights(moto, alb) == {'blue': 0, 'green': 100}


def test_alb_check_mode_returns_the_plan_and_writes_nothing(run_module, moto, alb):
    rc, result = run_module(lb_switch.main, alb_args(moto, alb, {'green': 100}, steps=[50],
                                                     _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and result['changed'], result
    assert [[i['weight'] for i in step] for step in result['steps']] == [[50, 50], [0, 100]]
    assert result['diff']['after'] == 'blue: 0\ngreen: 100\n'
    assert listener_weights(moto, alb) == {'blue': 100, 'green': 0}


def test_alb_a_failure_between_steps_says_where_traffic_was_left(moto, alb):
    # run_switch's pause is where another writer can act: here the listener is deleted during it,
    # so the second step's write fails for real on moto.
    from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
    from ansible_collections.ops.rollback.plugins.module_utils.aws.client import AwsClient
    from ansible_collections.ops.rollback.plugins.module_utils.aws.elb import ListenerWeights
    from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import run_switch

    backend = ListenerWeights(AwsClient.connect(**moto.params()), alb['listener'],
                              [dict(target_group='green', weight=100)])
    with pytest.raises(RollbackError) as caught:
        run_switch(backend, steps=[50], pause=1,
                   sleep=lambda _s: moto.client('elbv2').delete_listener(ListenerArn=alb['listener']))
    details = caught.value.details
    assert 'not found' in caught.value.msg and details['changed']
    assert [i['weight'] for i in details['after']] == [50, 50]
    assert [[i['weight'] for i in step] for step in details['steps']] == [[50, 50]]


@pytest.mark.parametrize('group, states', [('dark', 'Target.InvalidState'), ('empty', 'no targets registered')])
def test_alb_refuses_traffic_for_a_target_group_without_healthy_targets(run_module, moto, alb, group, states):
    args = alb_args(moto, alb, {'blue': 50, group: 50}, rule_arn=alb['rule'])
    for check_mode in (True, False):
        rc, result = run_module(lb_switch.main, dict(args, _ansible_check_mode=check_mode))
        assert rc == 1 and not result['changed'], result
        assert 'Refused to send more traffic to target group {0}'.format(group) in result['msg']
        assert states in result['msg'] and 'force=true' in result['msg']
        assert result['healthy_targets'][group] == 0
    assert listener_weights(moto, alb, rule=True) == {'blue': 100, 'dark': 0, 'empty': 0}
    # Forced, it switches and warns.
    rc, result = run_module(lb_switch.main, dict(args, force=True))
    assert rc == 0 and result['changed'], result
    # A string, or an event with the string, depending on ansible-core's version.
    assert 'Target group {0} gets more traffic'.format(group) in str(result['warnings'])
    assert listener_weights(moto, alb, rule=True) == {'blue': 50, 'dark': 0, 'empty': 0, group: 50}


def test_alb_less_traffic_for_an_unhealthy_target_group_is_not_refused(run_module, moto, alb):
    elbv2 = moto.client('elbv2')
    elbv2.modify_rule(RuleArn=alb['rule'], Actions=[forward(alb['groups'], blue=50, dark=50, empty=0)])
    rc, result = run_module(lb_switch.main, alb_args(moto, alb, {'blue': 100}, rule_arn=alb['rule']))
    assert rc == 0 and result['changed'], result
    assert listener_weights(moto, alb, rule=True) == {'blue': 100, 'dark': 0, 'empty': 0}
    # The listener's default action was not touched.
    assert listener_weights(moto, alb) == {'blue': 100, 'green': 0}


@pytest.mark.parametrize('weights, words', [
    ({'purple': 100}, 'Target group purple is not one that ALB listener'),
    ({'dark': 100}, 'it forwards to: blue, green'),
    ({'blue': 60, 'green': 60}, 'add up to 120, not 100'),
    ({'blue': -1, 'green': 101}, 'from 0 to 100'),
])
def test_alb_bad_weights_are_refused_and_nothing_changes(run_module, moto, alb, weights, words):
    rc, result = run_module(lb_switch.main, alb_args(moto, alb, weights))
    assert rc == 1 and not result.get('changed') and words in result['msg'], result
    assert listener_weights(moto, alb) == {'blue': 100, 'green': 0}


def test_alb_an_unknown_listener_is_named(run_module, moto, alb):
    unknown = alb['listener'][:-4] + 'ffff'
    rc, result = run_module(lb_switch.main, dict(alb_args(moto, alb, {'green': 100}), listener_arn=unknown))
    assert rc == 1 and not result['changed'], result
    assert unknown in result['msg'] and 'Check listener_arn=' in result['msg']
    assert listener_weights(moto, alb) == {'blue': 100, 'green': 0}


@pytest.mark.parametrize('extra, words', [
    ({'name': 'web'}, 'Option name does not apply to backend=alb'),
    ({'record_name': 'www.example.com'}, 'Option record_name does not apply to backend=alb'),
    ({'weights': [{'host': 'green', 'weight': 100}]}, 'weights[0] sets host: with backend=alb, name each entry '
                                                      'by target_group'),
])
def test_alb_options_of_other_backends_are_refused(run_module, moto, alb, extra, words):
    rc, result = run_module(lb_switch.main, dict(alb_args(moto, alb, {'green': 100}), **extra))
    assert rc == 1 and words in result['msg'], result
    assert listener_weights(moto, alb) == {'blue': 100, 'green': 0}


def test_the_kubernetes_options_of_module_defaults_do_not_stop_an_aws_switch(run_module, moto, alb):
    # module_defaults of group/ops.rollback.traffic may carry the Kubernetes connection.
    rc, result = run_module(lb_switch.main, alb_args(moto, alb, {'green': 100}, kubeconfig='/nonexistent',
                                                     namespace='shop'))
    assert rc == 0 and result['changed'], result
    assert 'testing-secret' not in str(result)


# --- Route53 -----------------------------------------------------------------------------------------------------


@pytest.fixture
def zone(moto):
    """Zone example.com with weighted CNAMEs www (stable 100, canary 20, old 0) and a plain A record."""
    route53 = moto.client('route53')
    zone_id = route53.create_hosted_zone(Name='example.com', CallerReference='shop')['HostedZone']['Id'].split('/')[-1]
    changes = [{'Action': 'CREATE', 'ResourceRecordSet': {
        'Name': 'www.example.com', 'Type': 'CNAME', 'SetIdentifier': ident, 'Weight': weight, 'TTL': 60,
        'ResourceRecords': [{'Value': '{0}.shop.example.net'.format(ident)}]}}
        for ident, weight in (('stable', 100), ('canary', 20), ('old', 0))]
    changes.append({'Action': 'CREATE', 'ResourceRecordSet': {
        'Name': 'api.example.com', 'Type': 'A', 'TTL': 300, 'ResourceRecords': [{'Value': '192.0.2.1'}]}})
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={'Changes': changes})
    return zone_id


def records(moto, zone_id, name='www.example.com.'):
    """What Route53 holds for ``name``: set identifier -> (weight, TTL, value)."""
    listed = moto.client('route53').list_resource_record_sets(HostedZoneId=zone_id)['ResourceRecordSets']
    return dict((r['SetIdentifier'], (r['Weight'], r['TTL'], r['ResourceRecords'][0]['Value']))
                for r in listed if r['Name'] == name and 'SetIdentifier' in r)


def dns_args(moto, weights, **extra):
    args = dict(moto.params(), backend='route53', record_name='www.example.com', record_type='CNAME',
                weights=[dict(set_identifier=key, weight=weight) for key, weight in weights.items()])
    args.update(extra)
    return args


def test_route53_sets_the_weights_named_and_keeps_the_others(run_module, moto, zone):
    rc, result = run_module(lb_switch.main, dict(dns_args(moto, {'stable': 0, 'old': 50}, hosted_zone_id=zone),
                                                 _ansible_diff=True))
    assert rc == 0 and result['changed'], result
    assert records(moto, zone) == {'stable': (0, 60, 'stable.shop.example.net'),
                                   'canary': (20, 60, 'canary.shop.example.net'),
                                   'old': (50, 60, 'old.shop.example.net')}
    assert 'stable: 100\n' in result['diff']['before'] and 'stable: 0\n' in result['diff']['after']
    assert 'canary: 20\n' in result['diff']['after']
    rc, again = run_module(lb_switch.main, dns_args(moto, {'stable': 0, 'old': 50}, zone='example.com'))
    assert rc == 0 and not again['changed'], again


def test_route53_steps_and_check_mode(run_module, moto, zone):
    args = dns_args(moto, {'stable': 0, 'canary': 120}, zone='example.com.', steps=[50])
    rc, plan = run_module(lb_switch.main, dict(args, _ansible_check_mode=True))
    assert rc == 0 and plan['changed'], plan
    assert records(moto, zone)['stable'][0] == 100
    rc, result = run_module(lb_switch.main, args)
    assert rc == 0 and result['steps'] == plan['steps'], result
    assert [dict((i['set_identifier'], i['weight']) for i in step) for step in result['steps']] == [
        {'stable': 50, 'canary': 70, 'old': 0}, {'stable': 0, 'canary': 120, 'old': 0}]
    assert dict((k, v[0]) for k, v in records(moto, zone).items()) == {'stable': 0, 'canary': 120, 'old': 0}


@pytest.mark.parametrize('extra, words', [
    (dict(weights=[{'set_identifier': 'blue', 'weight': 1}]), 'blue is not a set_identifier of'),
    (dict(weights=[{'set_identifier': 'stable', 'weight': 256}]), 'from 0 to 255'),
    (dict(record_name='api.example.com', record_type='A'), 'has no weighted A records named api.example.com.'),
    (dict(record_name='www.example.org'), 'is not in hosted zone'),
    (dict(zone='example.org'), 'There is no hosted zone example.org.'),
    (dict(hosted_zone_id='Z0000NOSUCH'), 'Check hosted_zone_id='),
])
def test_route53_bad_input_is_refused_and_nothing_changes(run_module, moto, zone, extra, words):
    args = dict(dns_args(moto, {'stable': 10}), **extra)
    if 'zone' not in extra:
        args.setdefault('hosted_zone_id', zone)
    rc, result = run_module(lb_switch.main, args)
    assert rc == 1 and not result.get('changed') and words in result['msg'], result
    assert dict((k, v[0]) for k, v in records(moto, zone).items()) == {'stable': 100, 'canary': 20, 'old': 0}


def test_route53_needs_a_zone(run_module, moto, zone):
    rc, result = run_module(lb_switch.main, dns_args(moto, {'stable': 10}))
    assert rc == 1 and 'hosted_zone_id, zone' in result['msg'], result


@pytest.fixture
def health():
    """An HTTP health endpoint whose answer the test sets (``health.status``); counts the checks."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            server.checks += 1
            self.send_response(server.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.status, server.checks = 200, 0
    server.url = 'http://127.0.0.1:{0}/health'.format(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def gate(health):
    return {'endpoints': [{'url': health.url}], 'retries': 1, 'delay': 0}


def test_alb_steps_gated_on_health_reach_the_target_checked_after_each(run_module, moto, alb, health):
    rc, result = run_module(lb_switch.main, alb_args(moto, alb, {'green': 100}, steps=[10, 50],
                                                     health_check=gate(health)))
    assert rc == 0 and result['gate'] == 'passed after each of 3 step(s)', result
    assert listener_weights(moto, alb) == {'blue': 0, 'green': 100}
    assert health.checks == 3


def test_alb_a_step_that_fails_its_health_check_holds_the_traffic_there(run_module, moto, alb, health):
    health.status = 503
    rc, result = run_module(lb_switch.main, alb_args(moto, alb, {'green': 100}, steps=[10, 50],
                                                     health_check=gate(health)))
    assert rc == 1 and 'Traffic was held there' in result['msg'] and 'blue: 90, green: 10' in result['msg'], result
    # The first step was taken and judged; nothing moved further.
    assert listener_weights(moto, alb) == {'blue': 90, 'green': 10}
    assert [(i['target_group'], i['weight']) for i in result['after']] == [('blue', 90), ('green', 10)]
    assert result['changed'] and health.checks == 1
