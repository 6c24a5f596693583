# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback lock of AWS services (module_utils/aws/lock.py), an SSM parameter, against moto's
HTTP server: taken by one run only, visible to another, released, taken over once expired."""
from __future__ import annotations

import datetime
import json
import threading

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.lock import LockHeldError, RollbackLock, run_lock
from ansible_collections.ops.rollback.plugins.module_utils.aws.client import AwsClient
from ansible_collections.ops.rollback.plugins.module_utils.aws.lock import SsmLockStore, lock_parameter_name

NAME = lock_parameter_name('ecs', 'prod', 'web')


def _store(moto):
    return SsmLockStore(AwsClient.connect(**moto.params()), NAME)


def _parameter(moto):
    return json.loads(moto.client('ssm').get_parameter(Name=NAME)['Parameter']['Value'])


def test_a_run_takes_the_lock_and_another_run_sees_who_holds_it(moto):
    changed, lock, _taken = RollbackLock(_store(moto)).acquire('run-a', {'user': 'alice', 'controller': 'awx'}, 600)
    assert changed and _parameter(moto)['owner'] == 'run-a'
    with pytest.raises(LockHeldError, match='Another rollback is running here: run run-a by alice@awx') as caught:
        RollbackLock(_store(moto)).acquire('run-b', {'user': 'bob'}, 600)
    assert 'rollback_lock_force=true' in caught.value.msg
    assert _parameter(moto)['owner'] == 'run-a'


def test_of_two_runs_at_once_exactly_one_gets_the_lock(moto):
    outcomes = []
    start = threading.Barrier(2)

    def take(owner):
        store = _store(moto)
        start.wait()
        try:
            RollbackLock(store).acquire(owner, {}, 600)
            outcomes.append(owner)
        except LockHeldError:
            outcomes.append('refused')
    threads = [threading.Thread(target=take, args=(owner,)) for owner in ('run-a', 'run-b')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o != 'refused']
    assert len(winners) == 1 and outcomes.count('refused') == 1
    assert _parameter(moto)['owner'] == winners[0]


def test_release_removes_only_the_runs_own_lock(moto):
    RollbackLock(_store(moto)).acquire('run-a', {}, 600)
    warnings = []
    result = run_lock(_store(moto), 'released', 'run-b', warn=warnings.append)
    assert not result['changed'] and _parameter(moto)['owner'] == 'run-a'
    assert 'not this run' in warnings[0]
    assert run_lock(_store(moto), 'released', 'run-a')['changed']
    assert moto.client('ssm').describe_parameters()['Parameters'] == []
    # Released twice (an always: section after an earlier release) is no error and no change.
    assert not run_lock(_store(moto), 'released', 'run-a')['changed']


def test_an_expired_lock_is_taken_over(moto):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
    RollbackLock(_store(moto), clock=lambda: past).acquire('run-killed', {'user': 'alice'}, 60)
    changed, lock, taken_over = RollbackLock(_store(moto)).acquire('run-b', {}, 600)
    assert changed and taken_over['owner'] == 'run-killed'
    assert _parameter(moto)['owner'] == 'run-b'


def test_a_parameter_ops_rollback_did_not_write_is_held_never_expired(moto):
    moto.client('ssm').put_parameter(Name=NAME, Value='deploy in progress', Type='String')
    with pytest.raises(LockHeldError, match='is not one ops.rollback wrote'):
        RollbackLock(_store(moto)).acquire('run-a', {}, 600)
    assert moto.client('ssm').get_parameter(Name=NAME)['Parameter']['Value'] == 'deploy in progress'


def test_check_mode_reports_the_plan_and_takes_nothing(moto):
    result = run_lock(_store(moto), 'acquired', 'run-a', holder={}, ttl=600, check_mode=True)
    assert result['changed'] and result['lock']['owner'] == 'run-a'
    assert moto.client('ssm').describe_parameters()['Parameters'] == []
