# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_module: secrets of URLs in any option are no_log values of every module."""
from __future__ import annotations

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ops.rollback.plugins.module_utils._common import module as module_utils_module
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module

TOKEN = 's3cr3t-token-0123'
SPEC = {'webhook': {'type': 'str'}, 'targets': {'type': 'list', 'elements': 'dict'}}
ARGS = {'webhook': 'https://hooks.example/notify?key={0}&channel=ops'.format(TOKEN),
        'targets': [{'name': 'web', 'url': 'http://ops:hunter2@web:8000/health'}]}


def _module(handler):
    return lambda: run_module(SPEC, handler)


def test_secrets_of_any_url_option_are_no_log_values(run_module):
    # The handler returns the options as they are, and the token alone: all of it is masked.
    code, out = run_module(_module(lambda module: {'changed': False, 'echo': dict(module.params), 'token': TOKEN}), ARGS)
    assert code == 0
    text = json.dumps(out)
    assert TOKEN not in text and 'hunter2' not in text and 'channel=ops' not in text
    assert out['echo']['webhook'] == 'https://hooks.example/notify?key=********&********'
    assert out['echo']['targets'][0]['url'] == 'http://ops********web:8000/health'
    assert out['token'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'  # Ansible's word for a whole no_log value
    assert out['invocation']['module_args']['webhook'] == out['echo']['webhook']


def test_secrets_are_masked_in_a_failure(run_module):
    def handler(module):
        raise RollbackError('Failed to notify {0}: refused'.format(module.params['webhook']), url=module.params['webhook'])
    code, out = run_module(_module(handler), ARGS)
    assert code == 1
    assert out['msg'] == 'Failed to notify https://hooks.example/notify?key=********&********: refused'
    assert TOKEN not in json.dumps(out) and 'hunter2' not in json.dumps(out)


def test_secrets_are_masked_should_ansible_core_read_options_elsewhere(run_module, monkeypatch):
    # An ansible-core that no longer reads its options in _load_params: the secrets still go in, after the constructor.
    monkeypatch.setattr(module_utils_module._Module, '_load_params', AnsibleModule._load_params)
    code, out = run_module(_module(lambda module: {'changed': False, 'echo': dict(module.params)}), ARGS)
    assert code == 0
    assert out['echo']['webhook'] == 'https://hooks.example/notify?key=********&********'
    assert TOKEN not in json.dumps(out) and 'hunter2' not in json.dumps(out)
