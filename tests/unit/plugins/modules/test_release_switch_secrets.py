# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_switch's health_check.endpoints[].url: secrets in it never reach the output."""
from __future__ import annotations

import json

from ansible_collections.ops.rollback.plugins.modules import release_switch

TOKEN = 's3cr3t-token-0123'
PLANTED = (TOKEN, 'hunter2', 'Zq7')


def _health(server):
    url = server.replace('http://', 'http://ops:hunter2@') + '/error?token={0}&env=Zq7'.format(TOKEN)
    return {'endpoints': [{'url': url}], 'retries': 1}


def _assert_no_secret(out):
    text = json.dumps(out)
    for secret in PLANTED:
        assert secret not in text


def test_unhealthy_release_fails_without_secrets(app, server, run_module):
    code, out = run_module(release_switch.main, {'path': str(app), 'version': 'v1.2.9', 'health_check': _health(server)})
    assert code == 1 and out['health']['passed'] is False
    masked = server.replace('http://', 'http://ops:********@') + '/error?token=********&env=********'
    assert out['health']['endpoints'][0]['url'] == masked
    assert masked + ': status 404, expected 200' in out['msg']
    _assert_no_secret(out)


def test_refused_health_check_is_masked_too(app, server, run_module):
    # Refused before the checker is built: run_module has registered the secrets already.
    code, out = run_module(release_switch.main, {'path': str(app), 'state': 'listed', 'health_check': _health(server)})
    assert code == 1 and 'Option health_check does not apply to state=listed' in out['msg']
    assert out['invocation']['module_args']['health_check']['endpoints'][0]['url']
    _assert_no_secret(out)
