# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils._common.fleet import fleet_targets


def state(host, current, available=('v1.2.8', 'v1.2.9', 'v1.3.0'), good=(), bad=(), service='demo'):
    return {'host': host, 'service': service, 'current': current, 'available': list(available),
            'good': list(good), 'bad': list(bad)}


def test_one_target_for_a_mixed_fleet():
    # lab2 was already rolled back by an interrupted run; its own idea of
    # "previous" (v1.2.8) must not win: the fleet's target is v1.2.9.
    targets = fleet_targets([state('lab1', 'v1.3.0'), state('lab2', 'v1.2.9'), state('lab3', 'v1.3.0')])
    assert targets['demo']['version'] == 'v1.2.9'
    assert targets['demo']['current'] == ['v1.2.9', 'v1.3.0']


def test_ledger_verdicts_are_merged_across_hosts():
    targets = fleet_targets([
        state('lab1', 'v1.3.0', good=['v1.2.8', 'v1.2.9']),
        state('lab2', 'v1.3.0', good=['v1.2.8'], bad=['v1.2.9']),
    ])
    assert targets['demo'] == {'version': 'v1.2.8', 'rule': 'ledger', 'current': ['v1.3.0'], 'hosts': ['lab1', 'lab2']}


def test_only_versions_every_host_has_are_candidates():
    targets = fleet_targets([state('lab1', 'v1.3.0'), state('lab2', 'v1.3.0', available=['v1.2.8', 'v1.3.0'])])
    assert targets['demo']['version'] == 'v1.2.8'


def test_services_get_their_own_targets():
    targets = fleet_targets([state('a', 'v1.3.0'), state('b', 'v1.2.9', service='billing')])
    assert (targets['demo']['version'], targets['billing']['version']) == ('v1.2.9', 'v1.2.8')


def test_explicit_version_missing_on_a_host_names_the_host():
    with pytest.raises(NotFoundError, match=r'not a complete release on 1 of 2 hosts \(lab2\)'):
        fleet_targets([state('lab1', 'v1.3.0'), state('lab2', 'v1.3.0', available=['v1.3.0'])], version='v1.2.9')


def test_explicit_version_is_validated():
    with pytest.raises(InvalidInputError):
        fleet_targets([state('lab1', 'v1.3.0')], version='../v1.2.9')


def test_no_candidate_says_pass_version():
    with pytest.raises(NotFoundError, match='Pass -e version='):
        fleet_targets([state('lab1', 'v1.2.8')])
