# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source ops.rollback.alertmanager fed by a real Alertmanager.

Debian's prometheus-alertmanager, on loopback, with two webhook receivers
pointed at the source: one with the source's token in
``http_config.authorization`` (what the collection's docs tell users to
configure), one with another token. An alert posted to Alertmanager's API
reaches the queue through the first, firing and then resolved; the second's
deliveries are refused (Alertmanager counts them failed) and queue nothing.
"""

from __future__ import annotations

import asyncio
import re
import socket

import aiohttp
import pytest

from ansible_collections.ops.rollback.extensions.eda.plugins.event_source import alertmanager

ALERTMANAGER = '/usr/bin/prometheus-alertmanager'

TOKEN = 'am-integration-token-7f3a'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


CONFIG = """
route:
  receiver: ops-rollback
  group_by: [alertname, service]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: ops-rollback
      continue: true
    - receiver: wrong-token
receivers:
  - name: ops-rollback
    webhook_configs:
      - url: http://127.0.0.1:{source_port}/alerts
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
  - name: wrong-token
    webhook_configs:
      - url: http://127.0.0.1:{source_port}/alerts
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: not-the-token
"""


async def wait_for(predicate, what, attempts=600):
    for _attempt in range(attempts):
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f'never happened: {what}')


def test_a_real_alertmanager_delivers_firing_and_resolved_alerts_with_its_bearer_token(tmp_path):
    source_port, am_port, cluster_port = free_port(), free_port(), free_port()
    token_file = tmp_path / 'token'
    token_file.write_text(TOKEN + '\n')
    token_file.chmod(0o600)
    (tmp_path / 'alertmanager.yml').write_text(CONFIG.format(source_port=source_port, token_file=token_file))
    labels = {'alertname': 'HighErrorRate', 'service': 'order_service', 'auto_rollback': 'true'}

    async def run():
        queue = asyncio.Queue()
        source = asyncio.create_task(alertmanager.main(
            queue, {'host': '127.0.0.1', 'port': source_port, 'token': TOKEN}))
        log = open(tmp_path / 'alertmanager.log', 'wb')
        proc = await asyncio.create_subprocess_exec(
            ALERTMANAGER, '--config.file', str(tmp_path / 'alertmanager.yml'),
            '--storage.path', str(tmp_path / 'data'), '--web.listen-address', f'127.0.0.1:{am_port}',
            '--cluster.listen-address', '', '--log.level', 'debug', stdout=log, stderr=log)
        am = f'http://127.0.0.1:{am_port}'
        try:
            async with aiohttp.ClientSession() as client:
                async def ready():
                    try:
                        async with client.get(am + '/-/ready') as response:
                            return response.status == 200
                    except aiohttp.ClientConnectionError:
                        return False

                async def failed_notifications():
                    async with client.get(am + '/metrics') as response:
                        text = await response.text()
                    found = re.search(r'^alertmanager_notifications_failed_total\{integration="webhook"[^}]*\} (\S+)$',
                                      text, re.M)
                    return found and float(found.group(1)) >= 1

                async def post_alert(**times):
                    alert = dict({'labels': labels, 'annotations': {'summary': 'error rate 8%'},
                                  'generatorURL': 'http://prometheus.test/graph'}, **times)
                    async with client.post(am + '/api/v2/alerts', json=[alert]) as response:
                        assert response.status == 200, await response.text()

                await wait_for(ready, 'Alertmanager ready')
                await post_alert()
                firing = await asyncio.wait_for(queue.get(), 60)
                # The second receiver's delivery was refused with 401: counted as failed by Alertmanager.
                await wait_for(failed_notifications, 'a failed webhook notification of receiver wrong-token')
                await post_alert(startsAt='2020-01-01T00:00:00Z', endsAt='2020-01-01T00:01:00Z')
                resolved = await asyncio.wait_for(queue.get(), 60)
                left = []
                while not queue.empty():
                    left.append(queue.get_nowait())
                return firing, resolved, left
        finally:
            proc.terminate()
            await proc.wait()
            log.close()
            source.cancel()
            with pytest.raises(asyncio.CancelledError):
                await source

    firing, resolved, left = asyncio.run(run())
    am_log = (tmp_path / 'alertmanager.log').read_text()
    assert firing['alert']['status'] == 'firing'
    assert firing['alert']['labels'] == labels
    assert firing['alert']['annotations'] == {'summary': 'error rate 8%'}
    assert firing['alert']['fingerprint']
    assert firing['meta']['receiver'] == 'ops-rollback'
    assert firing['meta']['endpoint'] == '/alerts'
    assert firing['meta']['external_url']
    assert resolved['alert']['status'] == 'resolved'
    assert resolved['alert']['fingerprint'] == firing['alert']['fingerprint']
    # Nothing came through the receiver with the wrong token.
    assert all(event['meta']['receiver'] == 'ops-rollback' for event in left)
    assert '401' in am_log, am_log[-2000:]
