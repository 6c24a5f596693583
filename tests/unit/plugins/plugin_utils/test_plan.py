# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's plan on the controller: services, batches and the settings checked before any host is touched."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.plugin_utils.plan import batches, services


def hostvars(**settings):
    base = {'rollback_platform': 'symlink', 'rollback_service': 'demo'}
    return {'lab1': dict(base, **settings), 'lab2': dict(base)}


def test_batches_follow_ansible_serial():
    hosts = ['lab{0}'.format(n) for n in range(1, 11)]
    assert [len(b) for b in batches(hosts)] == [1, 2, 2, 2, 2, 1]
    assert [len(b) for b in batches(hosts, [2, '50%'])] == [2, 5, 3]


@pytest.mark.parametrize('settings, words', [
    ({'rollback_serial': 0}, 'rollback_serial 0 is not a batch size'),
    ({'rollback_serial': -1}, 'rollback_serial -1 is not a batch size'),
    ({'rollback_serial': 'abc'}, "rollback_serial 'abc' is not a batch size"),
    ({'rollback_serial': [1, '0%']}, "rollback_serial '0%' is not a batch size"),
    ({'rollback_max_fail_percentage': 150}, 'rollback_max_fail_percentage 150 must be a percentage'),
    ({'rollback_max_fail_percentage': 'x' * 200}, "rollback_max_fail_percentage 'xxxxx"),
    ({'rollback_lock_ttl': 'soon'}, "lab1: rollback_lock_ttl 'soon' must be a whole number of seconds"),
    ({'rollback_lock_ttl': 0}, 'lab1: rollback_lock_ttl 0 must be'),
    ({'rollback_lock_force': 'maybe'}, "lab1: rollback_lock_force 'maybe' must be true or false"),
    ({'rollback_health_retries': 0}, 'lab1: rollback_health_retries 0 must be a whole number of rounds'),
    ({'rollback_health_retries': 2.5}, 'lab1: rollback_health_retries 2.5 must be'),
    ({'rollback_health_delay': -1}, 'lab1: rollback_health_delay -1 must be a number of seconds, 0 or more'),
    ({'rollback_health_timeout': 0}, 'lab1: rollback_health_timeout 0 must be a number of seconds above 0'),
    ({'rollback_health_successes': 3, 'rollback_health_retries': 2}, 'rollback_health_successes 3 is more than the 2'),
])
def test_malformed_settings_are_refused_naming_the_variable(settings, words):
    with pytest.raises(InvalidInputError) as caught:
        services(['lab1', 'lab2'], hostvars(**settings), 'demo')
    assert words in caught.value.msg and caught.value.msg.endswith('Nothing was changed.')
    assert len(caught.value.msg) < 300   # a long value is shortened, not echoed whole


def test_good_settings_pass():
    found = services(['lab1', 'lab2'], hostvars(
        rollback_serial=[1, '25%'], rollback_max_fail_percentage='10', rollback_lock_ttl='600',
        rollback_lock_force='false', rollback_health_retries=3, rollback_health_successes=2,
        rollback_health_delay=0.5, rollback_health_timeout='2'), 'demo')
    assert found == {'demo': {'platform': 'symlink', 'hosts': ['lab1', 'lab2']}}
