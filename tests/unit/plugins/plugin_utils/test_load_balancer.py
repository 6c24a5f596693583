# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load balancer steps around each host's rollback: settings, plan, and the nginx writes of a batch."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.plugin_utils import load_balancer

HAPROXY = {'host': 'lb1', 'backend': 'haproxy', 'pool': 'demo'}
UPSTREAM = [{'address': '10.0.0.1:8000'}, {'address': '10.0.0.2:8000', 'weight': 2}, {'address': '10.0.0.3:8000'},
            {'address': '10.0.0.9:8000', 'backup': True}]
TARGETS = {'demo': {'version': 'v1.2.9'}}


def host(name, lb, current='v1.3.0', **extra):
    return dict({'inventory_hostname': name, 'rollback_service': 'demo', 'rollback_platform': 'symlink',
                 'symlink_state': {'current': current}, 'rollback_load_balancer': lb}, **extra)


def nginx(address):
    return {'host': 'lb1', 'backend': 'nginx', 'upstream_file': '/etc/nginx/up/demo.conf', 'upstream': 'demo',
            'servers': UPSTREAM, 'address': address}


def test_haproxy_settings_default_to_the_host_as_server_and_the_runtime_socket():
    found = load_balancer.settings(host('lab1', HAPROXY))
    assert found['server'] == 'lab1'
    assert found['socket'] == '/run/haproxy/admin.sock'
    assert (found['drain_timeout'], found['on_timeout']) == (60, 'fail')
    assert load_balancer.settings(host('lab1', None)) is None


@pytest.mark.parametrize('lb, words', [
    ({'host': 'lb1', 'backend': 'f5', 'pool': 'x'}, "backend 'f5' is not one of haproxy, nginx"),
    ({'host': 'lb1', 'backend': 'haproxy'}, 'needs pool'),
    (dict(HAPROXY, drain_timeout=0), 'drain_timeout must be a number of seconds above 0'),
    (dict(HAPROXY, upstream='demo'), 'has keys backend haproxy does not take: upstream'),
    (dict(nginx('10.0.0.7:8000')), 'address 10.0.0.7:8000 is not among the servers of upstream demo'),
    ('lb1', 'must be a mapping'),
])
def test_malformed_settings_are_refused_naming_the_host_and_changing_nothing(lb, words):
    with pytest.raises(InvalidInputError) as err:
        load_balancer.settings(host('lab2', lb))
    assert err.value.msg.startswith('lab2: rollback_load_balancer ')
    assert words in err.value.msg
    assert err.value.msg.endswith('Nothing was changed.')


def test_only_a_host_that_does_not_run_the_target_yet_moves():
    assert load_balancer.moves(host('lab1', HAPROXY), TARGETS)
    assert not load_balancer.moves(host('lab1', HAPROXY, current='v1.2.9'), TARGETS)


def test_the_plan_names_each_host_step_and_refuses_a_load_balancer_missing_from_the_inventory():
    plan = load_balancer.plan([host('lab1', HAPROXY), host('lab2', None)], ['lab1', 'lab2', 'lb1'])
    assert list(plan) == ['demo'] and [s['host'] for s in plan['demo']] == ['lab1']
    assert 'drain server demo/lab1' in plan['demo'][0]['step']
    with pytest.raises(InvalidInputError, match='host lb1 is not a host of the inventory'):
        load_balancer.plan([host('lab1', HAPROXY)], ['lab1'])


def test_a_batch_goes_down_in_one_write_per_upstream_and_comes_back_without_its_failed_hosts():
    fleet = [host('lab1', nginx('10.0.0.1:8000')), host('lab2', nginx('10.0.0.2:8000')),
             host('lab3', nginx('10.0.0.3:8000'))]
    [drain] = load_balancer.nginx_writes(fleet, ['lab1', 'lab2'], TARGETS, 'drain')
    assert drain['hosts'] == ['lab1', 'lab2']
    assert [s['down'] for s in drain['servers']] == [True, True, False, False]
    assert drain['servers'][1]['weight'] == 2 and drain['servers'][3]['backup'] is True

    fleet[1]['roll_back_outcome'] = {'failure': 'unhealthy'}
    [ready] = load_balancer.nginx_writes(fleet, ['lab1', 'lab2'], TARGETS, 'ready')
    assert ready['hosts'] == ['lab1']
    assert [s['down'] for s in ready['servers']] == [False, True, False, False]

    # The next batch keeps the failed host down while it takes its own out.
    [later] = load_balancer.nginx_writes(fleet, ['lab3'], TARGETS, 'drain')
    assert [s['down'] for s in later['servers']] == [False, True, True, False]


def test_a_batch_whose_hosts_run_the_target_already_writes_nothing():
    fleet = [host('lab1', nginx('10.0.0.1:8000'), current='v1.2.9')]
    assert load_balancer.nginx_writes(fleet, ['lab1'], TARGETS, 'drain') == []
