# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback lock on a real file system."""
from __future__ import annotations

import datetime
import json
import threading

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.lock import FileLockStore, LockHeldError, RollbackLock

T0 = datetime.datetime(2026, 11, 23, 3, 0, tzinfo=datetime.timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def lock(tmp_path, clock):
    return RollbackLock(FileLockStore(str(tmp_path / '.ops-rollback.lock')), clock=clock)


def test_acquire_then_again_then_release(lock):
    changed, held, taken_over = lock.acquire('run-a', {'user': 'alice'}, ttl=60)
    assert (changed, held['owner'], held['expires_at'], taken_over) == (True, 'run-a', '2026-11-23T03:01:00Z', None)
    assert lock.acquire('run-a', {}, ttl=60)[0] is False      # the same run: no change
    assert lock.release('run-a') == (True, None)
    assert lock.read() is None and lock.release('run-a') == (False, None)


def test_another_run_is_refused_with_who_and_since_when(lock):
    lock.acquire('run-a', {'user': 'alice', 'controller': 'laptop', 'pid': 42}, ttl=60)
    with pytest.raises(LockHeldError) as caught:
        lock.acquire('run-b', {'user': 'bob'}, ttl=60)
    assert 'run run-a by alice@laptop (ansible-playbook pid 42), since 2026-11-23T03:00:00Z' in caught.value.msg
    assert '-e rollback_lock_force=true' in caught.value.msg
    assert lock.read()['owner'] == 'run-a'
    # Releasing someone else's lock leaves it alone.
    changed, held_by = lock.release('run-b')
    assert (changed, held_by['owner'], lock.read()['owner']) == (False, 'run-a', 'run-a')


def test_expired_or_forced_lock_is_taken_over(lock, clock):
    lock.acquire('run-a', {}, ttl=60)
    clock.now = T0 + datetime.timedelta(seconds=61)
    changed, held, taken_over = lock.acquire('run-b', {}, ttl=60)
    assert (changed, held['owner'], taken_over['owner']) == (True, 'run-b', 'run-a')
    changed, held, taken_over = lock.acquire('run-c', {}, ttl=60, force=True)
    assert (held['owner'], taken_over['owner'], lock.read()['owner']) == ('run-c', 'run-b', 'run-c')


def test_unreadable_lock_counts_as_held_until_forced(lock):
    with open(lock.store.path, 'w') as handle:
        handle.write('{half a lo')
    with pytest.raises(LockHeldError) as caught:
        lock.acquire('run-a', {}, ttl=60)
    # Named as the file it is, with the fix; never as a running rollback "by ?@?".
    assert caught.value.msg.startswith("The lock {0} is not one ops.rollback wrote (it starts '{{half a lo')".format(
        lock.store.path))
    assert '-e rollback_lock_force=true' in caught.value.msg and '?@?' not in caught.value.msg
    assert lock.acquire('run-a', {}, ttl=60, force=True)[1]['owner'] == 'run-a'


def test_of_many_runs_at_once_exactly_one_gets_the_lock(tmp_path):
    path = str(tmp_path / '.ops-rollback.lock')
    winners, start = [], threading.Barrier(16)

    def contend(name):
        start.wait()
        try:
            RollbackLock(FileLockStore(path)).acquire(name, {}, ttl=60)
            winners.append(name)
        except LockHeldError:
            pass

    threads = [threading.Thread(target=contend, args=('run-{0}'.format(i),)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open(path) as handle:
        assert [json.load(handle)['owner']] == winners
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.ops-rollback.lock']   # no temporary files left
