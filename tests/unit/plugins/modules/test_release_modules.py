# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_switch and release_ledger as Ansible runs them: arguments in, JSON out."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.ops.rollback.plugins.modules import release_ledger, release_switch


def test_switch_with_diff_then_unchanged(app, run_module):
    code, result = run_module(release_switch.main, {'path': str(app), 'version': 'v1.2.9', '_ansible_diff': True})
    assert (code, result['changed'], result['from_version'], result['to_version']) == (0, True, 'v1.3.0', 'v1.2.9')
    assert result['diff']['before'].endswith('releases/v1.3.0\n')
    code, result = run_module(release_switch.main, {'path': str(app), 'version': 'v1.2.9'})
    assert (code, result['changed'], 'diff' in result) == (0, False, False)


def test_switch_check_mode_changes_nothing(app, run_module):
    _code, result = run_module(release_switch.main, {'path': str(app), 'version': 'v1.2.9', '_ansible_check_mode': True})
    assert result['changed'] is True
    assert os.readlink(str(app / 'current')) == 'releases/v1.3.0'


@pytest.mark.parametrize('args, message', [
    ({'version': '../../etc'}, 'Refusing version'),
    ({'version': 'v9.9.9'}, 'Cannot roll back the release tree'),
    ({'state': 'listed', 'keep': 3}, 'Option keep does not apply to state=listed (only to state=pruned)'),
    ({'state': 'pruned'}, 'missing: keep'),
    ({'version': 'v1.2.9', 'restart_command': ['/bin/true'], 'restart_timeout': 0}, 'Refusing restart_timeout=0.0'),
    ({'version': 'v1.2.9', 'restart_timeout': 'soon'}, 'restart_timeout'),
])
def test_switch_refuses_bad_input(app, run_module, args, message):
    code, result = run_module(release_switch.main, dict(args, path=str(app)))
    assert code == 1 and result['failed'] and message in result['msg']
    assert os.readlink(str(app / 'current')) == 'releases/v1.3.0'


def test_ledger_mark_good_is_idempotent_and_check_mode_writes_nothing(app, run_module):
    args = {'path': str(app), 'version': 'v1.2.9', 'state': 'good'}
    _code, result = run_module(release_ledger.main, dict(args, _ansible_check_mode=True))
    assert result['changed'] is True and not (app / 'rollback-ledger.json').exists()
    # The ledger as it would be.
    assert result['good'] == ['v1.2.9'] and [e['version'] for e in result['entries']] == ['v1.2.9']
    _code, result = run_module(release_ledger.main, args)
    assert result['changed'] is True and result['good'] == ['v1.2.9']
    _code, result = run_module(release_ledger.main, args)
    assert result['changed'] is False


def test_ledger_needs_a_version_to_record(app, run_module):
    code, result = run_module(release_ledger.main, {'path': str(app), 'state': 'bad'})
    assert code == 1 and 'version' in result['msg']


def test_ledger_records_a_rollback_in_one_write(app, run_module):
    args = {'path': str(app), 'version': 'v1.2.9', 'state': 'good', 'rolled_back_from': 'v1.3.0',
            'note': 'INC-7', '_ansible_diff': True}
    _code, result = run_module(release_ledger.main, args)
    assert (result['good'], result['bad']) == (['v1.2.9'], ['v1.3.0'])
    assert result['diff']['after'] == 'v1.2.9: good\nv1.3.0: bad\n'
    assert {e['at'] for e in result['entries']} == {result['entries'][0]['at']}
    _code, result = run_module(release_ledger.main, args)
    assert result['changed'] is False


def test_switch_refuses_a_bad_health_endpoint_before_switching(app, run_module):
    code, result = run_module(release_switch.main, {
        'path': str(app), 'version': 'v1.2.9', 'health_check': {'endpoints': [{'url': 'ftp://127.0.0.1/health'}]}})
    assert code == 1 and 'is not an http:// or https:// URL' in result['msg']
    assert os.readlink(str(app / 'current')) == 'releases/v1.3.0'


def test_switch_health_gate_hides_header_values(app, run_module, server):
    # The server echoes the token; the failure reason would quote it.
    code, result = run_module(release_switch.main, {
        'path': str(app), 'version': 'v1.2.9',
        'health_check': {'endpoints': [{'url': server + '/echo-auth', 'headers': {'Authorization': 'Bearer s3cr3t'},
                                        'json_query': 'auth', 'equals': 'expected'}],
                         'retries': 1, 'successes': 1}})
    assert code == 1 and result['changed'] is True and result['to_version'] == 'v1.2.9'
    assert 's3cr3t' not in json.dumps(result)
    assert result['health']['endpoints'][0]['reason'] == "json_query 'auth' gave '********', expected 'expected'"


def test_switch_restart_reports_restarted(app, run_module):
    code, result = run_module(release_switch.main, {'path': str(app), 'version': 'v1.2.9',
                                                    'restart_command': ['/bin/true'], 'restart_timeout': 5})
    assert (code, result['changed'], result['restarted'], result['to_version']) == (0, True, True, 'v1.2.9')
    code, result = run_module(release_switch.main, {'path': str(app), 'version': 'v1.2.9',
                                                    'restart_command': ['/bin/true']})
    assert (code, result['changed'], result['restarted']) == (0, False, False)


def test_switch_restart_that_cannot_run_fails_pointing_current_back(app, run_module):
    code, result = run_module(release_switch.main, {'path': str(app), 'version': 'v1.2.9',
                                                    'restart_command': ['/usr/local/bin/demo-restart --now']})
    assert code == 1 and result['failed']
    assert (result['restarted'], result['from_version'], result['to_version']) == (False, 'v1.3.0', 'v1.3.0')
    assert 'could not be executed' in result['msg'] and 'must be an argument list' in result['msg']
    assert os.readlink(str(app / 'current')) == 'releases/v1.3.0'
    assert not os.path.lexists(str(app / '.current.restart-pending'))
