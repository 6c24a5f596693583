# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source ops.rollback.alertmanager, served for real on loopback.

Each test runs the source's ``main()`` as a task on a free port of 127.0.0.1,
with a plain asyncio.Queue as ansible-rulebook's queue, and talks to it over
HTTP with aiohttp's client, as Alertmanager would.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import socket

import aiohttp
import pytest

from ansible_collections.ops.rollback.extensions.eda.plugins.event_source import alertmanager


TOKEN = 's3cr3t-Token-4-tests'

FIRING = {
    'status': 'firing',
    'labels': {'alertname': 'HighErrorRate', 'service': 'order_service', 'auto_rollback': 'true',
               'severity': 'critical'},
    'annotations': {'summary': 'error rate 8%', 'runbook': 'https://runbooks.example/rollback'},
    'startsAt': '2026-11-23T01:47:29.123Z',
    'endsAt': '0001-01-01T00:00:00Z',
    'generatorURL': 'http://prometheus:9090/graph?g0.expr=rate',
    'fingerprint': 'a1b2c3d4e5f60718',
}
RESOLVED = {
    'status': 'resolved',
    'labels': {'alertname': 'HighLatency', 'service': 'payment_service'},
    'annotations': {},
    'startsAt': '2026-11-23T01:40:00Z',
    'endsAt': '2026-11-23T01:50:00Z',
    'generatorURL': 'http://prometheus:9090/graph?g0.expr=latency',
    'fingerprint': 'ffee00112233',
}
PAYLOAD = {
    'version': '4',
    'status': 'firing',
    'receiver': 'ops-rollback',
    'groupKey': '{}:{alertname="HighErrorRate"}',
    'truncatedAlerts': 0,
    'groupLabels': {'alertname': 'HighErrorRate'},
    'commonLabels': {},
    'commonAnnotations': {},
    'externalURL': 'http://alertmanager:9093',
    'alerts': [FIRING, RESOLVED],
}


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def port_open(port):
    with socket.socket() as sock:
        return sock.connect_ex(('127.0.0.1', port)) == 0


def drain(queue):
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


def serve(scenario, **options):
    """Run the source on a free loopback port; await scenario(client, url, queue); stop the source."""
    port = free_port()
    args = {'host': '127.0.0.1', 'port': port, 'token': TOKEN}
    args.update(options)

    async def run():
        queue = asyncio.Queue()
        task = asyncio.create_task(alertmanager.main(queue, args))
        url = f'http://127.0.0.1:{port}'
        async with aiohttp.ClientSession() as client:
            for _attempt in range(200):
                if task.done():
                    task.result()
                try:
                    async with client.get(url + '/health') as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError('the source never answered /health')
            try:
                return await scenario(client, url, queue)
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert not port_open(port), 'the port is still open after cancellation'

    return asyncio.run(run())


async def post(client, url, body, token=TOKEN, scheme='Bearer', content_type='application/json'):
    headers = {'Content-Type': content_type}
    if token is not None:
        headers['Authorization'] = f'{scheme} {token}'
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    async with client.post(url, data=body, headers=headers) as response:
        return response.status, await response.text()


def test_one_event_per_alert_with_the_exact_shape():
    before = datetime.datetime.now(datetime.timezone.utc)

    async def scenario(client, url, queue):
        return await post(client, url + '/alerts/rollback', PAYLOAD), drain(queue)

    (status, _text), events = serve(scenario)
    after = datetime.datetime.now(datetime.timezone.utc)

    assert status == 202
    assert len(events) == 2
    received = events[0]['meta']['received_at']
    assert received.endswith('Z')
    assert before <= datetime.datetime.fromisoformat(received.replace('Z', '+00:00')) <= after
    meta = {'receiver': 'ops-rollback', 'group_key': '{}:{alertname="HighErrorRate"}',
            'external_url': 'http://alertmanager:9093', 'endpoint': '/alerts/rollback', 'received_at': received}
    # The alerts exactly as sent (labels, annotations, times), and nothing else: no headers.
    assert events == [{'alert': FIRING, 'meta': meta}, {'alert': RESOLVED, 'meta': meta}]
    assert events[1]['alert']['status'] == 'resolved'
    assert TOKEN not in json.dumps(events)


def test_any_post_path_is_accepted_and_named_in_meta():
    async def scenario(client, url, queue):
        results = [await post(client, url + path, {'alerts': [FIRING]}) for path in ('/', '/endpoint')]
        return results, drain(queue)

    results, events = serve(scenario)
    assert [status for status, _text in results] == [202, 202]
    assert [event['meta']['endpoint'] for event in events] == ['/', '/endpoint']
    # Fields a payload lacks are null, never made up.
    assert events[0]['meta']['receiver'] is None


@pytest.mark.parametrize('token, scheme', [
    (None, 'Bearer'),                # no Authorization header
    ('wrong-token', 'Bearer'),
    (TOKEN[:-1], 'Bearer'),           # a prefix of the token
    (TOKEN + 'x', 'Bearer'),
    (TOKEN, 'Basic'),                # the right secret under another scheme
    ('', 'Bearer'),
])
def test_a_request_without_the_token_is_refused_and_queues_nothing(token, scheme, caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario(client, url, queue):
        return await post(client, url + '/alerts', PAYLOAD, token=token, scheme=scheme), drain(queue)

    (status, text), events = serve(scenario)
    assert status == 401
    assert events == []
    assert 'refused' in caplog.text
    # Neither the expected token nor the one sent shows up in the logs or the answer.
    assert TOKEN not in caplog.text
    assert TOKEN not in text
    if token:
        assert token not in caplog.text


def test_the_token_is_never_logged_when_accepted(caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario(client, url, queue):
        return await post(client, url + '/alerts', PAYLOAD), drain(queue)

    (status, _text), events = serve(scenario)
    assert status == 202 and len(events) == 2
    # Each accepted alert is logged with its name, service and status; the token never.
    assert 'HighErrorRate' in caplog.text and 'order_service' in caplog.text and 'resolved' in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize('body, message', [
    (b'{"alerts": [', 'not JSON'),
    (b'\xff\xfe', 'not JSON'),
    ([PAYLOAD], 'JSON object'),
    ({'receiver': 'ops-rollback'}, '"alerts" list'),
    ({'alerts': {'status': 'firing'}}, '"alerts" list'),
    ({'alerts': [FIRING, 'HighErrorRate']}, 'alerts[1] must be an object'),
])
def test_a_body_that_is_not_a_webhook_payload_is_refused_and_queues_nothing(body, message):
    async def scenario(client, url, queue):
        return await post(client, url + '/alerts', body), drain(queue)

    (status, text), events = serve(scenario)
    assert status == 400
    assert message in json.loads(text)['error']
    # Not even the valid first alert of a payload with a broken second one.
    assert events == []


def test_a_body_over_max_body_bytes_is_refused():
    big = dict(PAYLOAD, alerts=[dict(FIRING, annotations={'description': 'x' * 5000})])

    async def scenario(client, url, queue):
        return await post(client, url + '/alerts', big), drain(queue)

    (status, _text), events = serve(scenario, max_body_bytes=4096)
    assert status == 413
    assert events == []


def test_health_answers_without_a_token():
    async def scenario(client, url, _queue):
        async with client.get(url + '/health') as response:
            return response.status, await response.json()

    assert serve(scenario) == (200, {'status': 'ok'})


@pytest.mark.parametrize('args, message', [
    ({}, 'needs a token'),
    ({'token': ''}, 'needs a token'),
    ({'token': '   '}, 'needs a token'),
    ({'token': None}, 'needs a token'),
    ({'token': 'two words'}, 'whitespace'),
    ({'token': TOKEN, 'port': 'http'}, 'port must be an integer'),
    ({'token': TOKEN, 'port': 70000}, 'port must be between 1 and 65535'),
    ({'token': TOKEN, 'max_body_bytes': 0}, 'max_body_bytes must be between'),
    ({'token': TOKEN, 'tokne': TOKEN}, 'unknown option(s) tokne'),
])
def test_bad_options_refuse_to_start_with_a_clear_error(args, message):
    port = free_port()
    args = dict({'host': '127.0.0.1', 'port': port}, **args)
    with pytest.raises(alertmanager.AlertmanagerSourceError) as caught:
        asyncio.run(alertmanager.main(asyncio.Queue(), args))
    assert message in str(caught.value)
    if message == 'needs a token':
        # It says how to pass the token.
        assert 'token: "{{ ALERTMANAGER_TOKEN }}"' in str(caught.value)
        assert '--env-vars ALERTMANAGER_TOKEN' in str(caught.value)
    assert not port_open(port)


def test_a_port_in_use_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(alertmanager.AlertmanagerSourceError, match=f'cannot listen on 127.0.0.1:{port}'):
            asyncio.run(alertmanager.main(asyncio.Queue(), {'host': '127.0.0.1', 'port': port, 'token': TOKEN}))


def test_rulebook_arguments_are_tolerated():
    # ansible-rulebook adds eda_feedback_queue to a source's arguments; ports come as strings from variables.
    options = alertmanager.parse_options({'token': TOKEN, 'port': '5001', 'eda_feedback_queue': object()})
    assert options['port'] == 5001
    assert options['host'] == '0.0.0.0'


def test_cancellation_stops_the_server():
    port = free_port()

    async def run():
        args = {'host': '127.0.0.1', 'port': port, 'token': TOKEN}
        task = asyncio.create_task(alertmanager.main(asyncio.Queue(), args))
        for _attempt in range(200):
            if port_open(port) or task.done():
                break
            await asyncio.sleep(0.05)
        assert port_open(port)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert not port_open(port)
