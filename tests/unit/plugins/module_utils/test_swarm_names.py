# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Swarm driver's plain helpers: config names within the engine's limit, rollback_config as the Engine API
takes it, image references."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils.docker.driver import engine_rollback_config
from ansible_collections.ops.rollback.plugins.module_utils.docker.swarm import (
    LEDGER_CONFIG,
    LOCK_CONFIG,
    MAX_NAME,
    config_name,
    lookup_ref,
    repository,
)


@pytest.mark.parametrize('service', ['web', 'a' * 46, 'a' * 63, 'shop_order-service.v2' * 3])
@pytest.mark.parametrize('prefix', [LEDGER_CONFIG, LOCK_CONFIG])
def test_config_names_fit_and_stay_distinct(prefix, service):
    name = config_name(prefix, service)
    assert len(name) <= MAX_NAME and name.startswith(prefix)
    assert name == config_name(prefix, service)   # the same service always finds the same config
    assert name != config_name(prefix, service + 'x')


def test_short_names_are_readable():
    assert config_name(LOCK_CONFIG, 'web') == 'ops-rollback-lock.web'


def test_rollback_config_in_the_engine_api_keys_with_durations_in_nanoseconds():
    assert engine_rollback_config({'parallelism': 2, 'delay': 1.5, 'monitor': 10, 'failure_action': 'pause',
                                   'order': 'start-first', 'max_failure_ratio': None}) == {
        'Parallelism': 2, 'Delay': 1500000000, 'Monitor': 10000000000, 'FailureAction': 'pause',
        'Order': 'start-first'}
    assert engine_rollback_config(None) == {}


@pytest.mark.parametrize('image, repo, ref', [
    ('web:v1', 'web', 'web:v1'),
    ('registry:5000/team/web:v1@sha256:' + 'a' * 64, 'registry:5000/team/web', 'registry:5000/team/web@sha256:' + 'a' * 64),
    ('registry:5000/web', 'registry:5000/web', 'registry:5000/web'),
])
def test_repository_and_the_reference_an_image_is_found_by(image, repo, ref):
    assert repository(image) == repo and lookup_ref(image) == ref
