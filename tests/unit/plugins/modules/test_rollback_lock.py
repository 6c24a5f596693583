# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollback_lock as Ansible runs it: arguments in, JSON out."""
from __future__ import annotations

import os

import pytest

from ansible_collections.ops.rollback.plugins.modules import rollback_lock


@pytest.fixture
def lock_args(tmp_path, run_module):
    path = str(tmp_path / '.ops-rollback.lock')
    return path, lambda **args: run_module(rollback_lock.main, dict({'path': path}, **args))


def test_check_mode_shows_the_lock_it_would_take_and_writes_nothing(lock_args):
    path, run = lock_args
    code, result = run(owner='run-a', holder={'user': 'alice'}, _ansible_check_mode=True, _ansible_diff=True)
    assert (code, result['changed'], os.path.exists(path)) == (0, True, False)
    assert result['lock']['owner'] == 'run-a' and result['diff']['after'].startswith('run run-a by alice@?')
    assert result['diff']['before'] == '(no lock)\n'


def test_check_mode_refuses_what_the_real_run_would_refuse(lock_args):
    path, run = lock_args
    code, result = run(owner='run-a', ttl=0, _ansible_check_mode=True)
    assert (code, os.path.exists(path)) == (1, False) and 'ttl must be at least 1 second' in result['msg']


def test_held_lock_fails_the_run_but_only_warns_in_check_mode(lock_args):
    path, run = lock_args
    _code, result = run(owner='run-a', holder={'user': 'alice'}, _ansible_diff=True)
    assert result['changed'] and result['diff']['after'].startswith('run run-a by alice@?')
    code, result = run(owner='run-b')
    assert code == 1 and 'Another rollback is running here: run run-a' in result['msg']
    assert result['held_by']['owner'] == 'run-a'
    code, result = run(owner='run-b', _ansible_check_mode=True)
    assert (code, result['changed'], result['held_by']['owner']) == (0, False, 'run-a')
    code, result = run(owner='run-b', state='released')
    assert (code, result['changed'], os.path.exists(path)) == (0, False, True)
    code, result = run(owner='run-a', state='released')
    assert (code, result['changed'], os.path.exists(path)) == (0, True, False)


def test_missing_directory_is_a_clear_error(tmp_path, run_module):
    code, result = run_module(rollback_lock.main, {'path': str(tmp_path / 'nosuch' / 'lock'), 'owner': 'run-a'})
    assert code == 1 and 'Check that its directory exists' in result['msg']
