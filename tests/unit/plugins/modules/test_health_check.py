# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""health_check as Ansible runs it, against the real local HTTP server (tests/unit/plugins/conftest.py)."""

from __future__ import annotations

import json
import sys
import time

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ops.rollback.plugins.modules import health_check


@pytest.fixture
def _run_module(run_module):
    return lambda args: run_module(health_check.main, args)


def test_module_passes(server, _run_module):
    code, out = _run_module({
        'endpoints': [
            {'url': server + '/health', 'json_query': 'status', 'equals': 'ok'},
            {'url': server + '/secret', 'headers': {'Authorization': 'Bearer s3cr3t'}, 'status': 200},
        ],
        'retries': 3, 'successes': 2, 'delay': 0,
    })
    assert code == 0
    assert out['changed'] is False and out['passed'] is True and out['rounds'] == 2
    assert [ep['ok'] for ep in out['endpoints']] == [True, True]
    assert isinstance(out['p95_latency_ms'], int)


def test_module_masks_header_values_echoed_in_results(server, _run_module):
    # The server echoes the token into its body; the reason quotes the body value.
    code, out = _run_module({
        'endpoints': [{'url': server + '/echo-auth', 'headers': {'Authorization': 'Bearer s3cr3t'},
                       'json_query': 'auth', 'equals': 'expected'}],
        'retries': 1, 'successes': 1,
    })
    assert code == 1
    assert 's3cr3t' not in json.dumps(out)
    assert out['endpoints'][0]['reason'] == "json_query 'auth' gave '********', expected 'expected'"


def test_module_fails_with_readable_message(server, _run_module):
    code, out = _run_module({
        'endpoints': [{'url': server + '/health'}, {'url': server + '/error'}],
        'retries': 5, 'successes': 3, 'delay': 0,
    })
    assert code == 1
    assert out['failed'] is True and out['changed'] is False and out['passed'] is False
    assert out['msg'] == (
        'Health check failed for 1 of 2 endpoints after 5 rounds: {0}/error: status 500, expected 200. '
        "Check the service's logs; the check needs 3 consecutive passing rounds.".format(server))
    assert [ep['reason'] for ep in out['endpoints']] == [None, 'status 500, expected 200']


def test_module_check_mode_still_probes(server, _run_module):
    code, out = _run_module({
        'endpoints': [{'url': server + '/health', 'status': 200}],
        'retries': 1, 'successes': 1, '_ansible_check_mode': True,
    })
    assert code == 0 and out['passed'] is True and out['changed'] is False


def test_module_reports_invalid_input(_run_module):
    code, out = _run_module({
        'endpoints': [{'url': 'http://127.0.0.1:1/health'}],
        'retries': 2, 'successes': 3,
    })
    assert code == 1
    assert out['msg'].startswith('successes (3) cannot be more than retries (2)')
    assert out['option'] == 'successes'


def test_module_retries_alone_is_accepted(server, _run_module):
    # successes defaults to 1 (a Kubernetes probe's successThreshold), so retries: 2 needs no successes.
    code, out = _run_module({'endpoints': [{'url': server + '/health'}], 'retries': 2})
    assert code == 0 and out['passed'] is True and out['rounds'] == 1


def test_module_retries_alone_fails_after_retries_rounds(server, _run_module):
    code, out = _run_module({'endpoints': [{'url': server + '/error'}], 'retries': 2, 'delay': 0})
    assert code == 1 and out['passed'] is False and out['rounds'] == 2
    assert out['msg'].endswith('the check needs a passing round.')


def test_module_takes_a_fraction_of_a_second_as_delay(server, _run_module, monkeypatch):
    slept = []
    monkeypatch.setattr(time, 'sleep', slept.append)   # HealthChecker's default sleep, looked up at call time
    code, out = _run_module({
        'endpoints': [{'url': server + '/health'}],
        'retries': 3, 'successes': 2, 'delay': 0.2, 'timeout': 1.5,
    })
    assert code == 0 and out['passed'] is True and out['rounds'] == 2
    # One wait of 0.2 s between the two rounds: neither dropped to 0 nor rounded up to 1 s.
    assert slept == [0.2]


def test_module_json_path_without_jmespath(server, _run_module, monkeypatch):
    monkeypatch.setitem(sys.modules, 'jmespath', None)
    code, out = _run_module({
        'endpoints': [{'url': server + '/health', 'json_query': 'checks.db', 'equals': 'up'},
                      {'url': server + '/health', 'json_query': 'checks.cache'}],
        'retries': 1,
    })
    assert code == 0 and out['passed'] is True
    assert [ep['reason'] for ep in out['endpoints']] == [None, None]


def test_module_filter_without_jmespath_names_the_library(server, _run_module, monkeypatch):
    monkeypatch.setitem(sys.modules, 'jmespath', None)
    code, out = _run_module({
        'endpoints': [{'url': server + '/health', 'json_query': 'length(degraded)', 'equals': 0}],
        'retries': 1,
    })
    assert code == 1 and out['changed'] is False
    assert out['msg'].startswith("endpoints[0].json_query 'length(degraded)' needs the Python library jmespath")
    assert (out['library'], out['option']) == ('jmespath', 'endpoints[0].json_query')


# Secrets in URLs never reach the output: not in the result, not in msg, not in the invocation (shown at -vvv).
TOKEN = 's3cr3t-token-0123'   # long enough to be masked wherever it appears
PASSWORD = 'hunter2'          # short: masked in its URL only
PLANTED = (TOKEN, PASSWORD, 'Zq7')


def _with_secrets(server, path, query='?token={0}&env=Zq7'.format(TOKEN)):
    return server.replace('http://', 'http://ops:{0}@'.format(PASSWORD), 1) + path + query


def _assert_no_secret(out):
    text = json.dumps(out)
    for secret in PLANTED:
        assert secret not in text


def test_module_masks_url_secrets_when_passing(server, _run_module):
    code, out = _run_module({
        'endpoints': [
            {'url': _with_secrets(server, '/health', query='')},
            # The test server routes on the whole path, query included: this one answers 404.
            {'url': _with_secrets(server, '/health'), 'status': [404]},
        ],
        'retries': 1,
    })
    assert code == 0 and out['passed'] is True
    _assert_no_secret(out)
    masked = server.replace('http://', 'http://ops:********@')
    assert [ep['url'] for ep in out['endpoints']] == [
        masked + '/health', masked + '/health?token=********&env=********']
    # The invocation: no_log_values, registered by run_module. A long secret is masked alone, a short one with
    # the text around it in the URL.
    assert [ep['url'] for ep in out['invocation']['module_args']['endpoints']] == [
        server.replace('http://', 'http://ops********') + '/health',
        server.replace('http://', 'http://ops********') + '/health?token=********&********']


def test_module_masks_url_secrets_when_failing(server, closed_port_url, _run_module):
    code, out = _run_module({
        'endpoints': [{'url': _with_secrets(server, '/error')}, {'url': _with_secrets(closed_port_url, '')}],
        'retries': 2, 'delay': 0,
    })
    assert code == 1 and out['failed'] is True and out['passed'] is False
    _assert_no_secret(out)
    assert out['msg'].startswith(
        'Health check failed for 2 of 2 endpoints after 2 rounds: '
        '{0}/error?token=********&env=********: status 404, expected 200; '
        '{1}?token=********&env=********: connection refused.'.format(
            server.replace('http://', 'http://ops:********@'), closed_port_url.replace('http://', 'http://ops:********@')))
    assert 'invocation' in out


def test_module_masks_url_secrets_in_a_refused_option(_run_module):
    # Refused by AnsibleModule's own validation, before run_module gets the module: the invocation is masked too.
    code, out = _run_module({'endpoints': [{'url': 'http://ops:{0}@app/health?token={1}'.format(PASSWORD, TOKEN)}],
                             'retries': 'many'})
    assert code == 1 and 'retries' in out['msg']
    _assert_no_secret(out)


def test_module_masks_url_secrets_in_the_log_on_the_managed_host(server, _run_module, monkeypatch):
    logged = []
    monkeypatch.setattr(AnsibleModule, 'log', lambda self, msg, log_args=None: logged.append((msg, log_args)))
    # Logged by AnsibleModule's constructor, before run_module gets the module.
    code, _out = _run_module({'endpoints': [{'url': _with_secrets(server, '/health'), 'status': [404]}], 'retries': 1})
    assert code == 0
    assert len(logged) == 1 and logged[0][0].startswith('Invoked with endpoints=')
    assert 'token=********' in logged[0][0]
    _assert_no_secret(logged)
