# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugin_utils/restore.py: which services of a run get a gradual restore, from which share, behind which gate."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.plugin_utils.restore import restore_plan

TRAFFIC = {'backend': 'nginx', 'colors': {'blue': ['b:1'], 'green': ['g:1']}, 'to': 'blue', 'share': 0.0,
           'steps': [10, 25, 50, 100], 'version': 'v1.2.9'}


def host(name='lb1', traffic=None, **settings):
    return dict({'inventory_hostname': name, 'rollback_platform': 'blue_green', 'rollback_service': 'shop',
                 'blue_green_rollback': {'traffic': TRAFFIC if traffic is None else traffic}}, **settings)


def test_only_services_whose_platform_held_traffic_back_are_restored():
    plan = restore_plan([host(), host('lb2', traffic={}),
                         {'inventory_hostname': 'app1', 'rollback_platform': 'symlink',
                          'symlink_rollback': {'restarted': True}},
                         {'inventory_hostname': 'app2', 'rollback_platform': 'symlink'}])
    assert [(p['host'], p['service'], p['steps']) for p in plan] == [('lb1', 'shop', [10, 25, 50, 100])]
    assert plan[0]['gate'] == {'pause': 0.0, 'health_endpoints': [], 'metrics': {}}


def test_a_rerun_resumes_past_the_share_a_held_restore_left():
    assert restore_plan([host(traffic=dict(TRAFFIC, share=25.0))])[0]['steps'] == [50, 100]


def test_the_gate_is_the_services_own():
    metrics = {'prometheus_url': 'http://prom:9090', 'checks': [{'name': 'e', 'query': 'up', 'max': 1}], 'count': 3}
    endpoints = [{'url': 'http://127.0.0.1/health'}]
    plan = restore_plan([host(rollback_restore_pause='2.5', rollback_restore_health_endpoints=endpoints,
                              rollback_restore_metrics=metrics)])
    assert plan[0]['gate'] == {'pause': 2.5, 'health_endpoints': endpoints, 'metrics': metrics}


@pytest.mark.parametrize('settings, words', [
    ({'rollback_restore_pause': -1}, 'rollback_restore_pause of lb1 is -1: give seconds'),
    ({'rollback_restore_pause': 'soon'}, 'rollback_restore_pause of lb1'),
    ({'rollback_restore_health_endpoints': 'http://x/health'}, 'each with a url'),
    ({'rollback_restore_health_endpoints': [{'status': 200}]}, 'each with a url'),
    ({'rollback_restore_metrics': {'checks': []}}, 'at least prometheus_url and checks'),
    ({'rollback_restore_metrics': {'prometheus_url': 'http://p', 'checks': [{}], 'since': 0}},
     'not options of metrics_check (since is set per step)'),
])
def test_a_malformed_gate_is_refused_naming_the_variable_and_the_host(settings, words):
    with pytest.raises(InvalidInputError) as caught:
        restore_plan([host(**settings)])
    assert words in caught.value.msg and 'Nothing was changed.' in caught.value.msg
