# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-rulebook event source: Alertmanager webhooks, behind a bearer token.

Used by rulebooks as ``ops.rollback.alertmanager``. An aiohttp server accepts
Alertmanager's webhook payloads (version 4) on any POST path and queues one
event per alert; a request without the right ``Authorization: Bearer`` header
is refused and queues nothing.
"""

from __future__ import annotations

import asyncio
import datetime
import hmac
import json
import logging
import os
import sys
from typing import Any

from aiohttp import web

DOCUMENTATION = r"""
---
short_description: Receive Alertmanager webhook alerts, authenticated with a bearer token.
description:
  - An ansible-rulebook event source that serves Alertmanager's webhook receiver (payload version 4)
    over HTTP, on any POST path.
  - Every request must carry C(Authorization: Bearer <token>), which is what Alertmanager sends for a
    receiver with C(http_config.authorization) of type C(Bearer). A request without it, or with another
    token, is answered C(401) and queues nothing. The token is compared in constant time and is never
    logged nor put in an event; no request header is.
  - A payload that is not JSON, not an object, or has no C(alerts) list (or an alert that is not an
    object) is answered C(400) and queues nothing. A body larger than O(max_body_bytes) is answered
    C(413). An accepted payload is answered C(202).
  - Queues one event per alert, firing or resolved, as
    C({"alert": <the alert as sent>, "meta": {"receiver", "group_key", "external_url", "endpoint", "received_at"}}).
    C(alert) keeps Alertmanager's fields (C(status), C(labels), C(annotations), C(startsAt), C(endsAt),
    C(generatorURL), C(fingerprint)); C(meta.endpoint) is the request's path and C(meta.received_at)
    the UTC time the request arrived (ISO 8601). The rulebook decides what a resolved alert means.
  - C(GET /health) answers C(200) with C({"status": "ok"}) without a token, for readiness checks.
  - Refuses to start without O(token).
options:
  host:
    description:
      - The address to listen on. The default listens on every interface, as a decision environment
        container needs; use C(127.0.0.1) when Alertmanager runs on the same machine.
    type: str
    default: "0.0.0.0"
  port:
    description:
      - The TCP port to listen on.
    type: int
    default: 5000
  token:
    description:
      - The bearer token every POST must carry (C(Authorization: Bearer <token>)).
      - Required. Keep it out of the rulebook file, e.g. C(token: "{{ ALERTMANAGER_TOKEN }}") with
        C(ansible-rulebook --env-vars ALERTMANAGER_TOKEN).
    type: str
    required: true
  max_body_bytes:
    description:
      - The largest request body accepted, in bytes; a larger one is answered C(413).
    type: int
    default: 1048576
"""

EXAMPLES = r"""
# Rulebook: the token comes from the environment
# (ALERTMANAGER_TOKEN=... ansible-rulebook --rulebook ... --env-vars ALERTMANAGER_TOKEN)
- name: Roll back on alerts
  hosts: all
  sources:
    - ops.rollback.alertmanager:
        host: 0.0.0.0
        port: 5000
        token: "{{ ALERTMANAGER_TOKEN }}"
  rules:
    - name: Roll back a service whose alert asks for it
      condition: >-
        event.alert.status == "firing"
        and event.alert.labels.auto_rollback == "true"
      action:
        run_playbook:
          name: ops.rollback.rollback
          extra_vars:
            service: "{{ event.alert.labels.service }}"

# The matching receiver in alertmanager.yml
# receivers:
#   - name: ops-rollback
#     webhook_configs:
#       - url: http://eda.example.com:5000/alerts
#         send_resolved: true
#         http_config:
#           authorization:
#             type: Bearer
#             credentials_file: /etc/alertmanager/ops-rollback.token
#             # or: credentials: <the same token>
"""

LOGGER = logging.getLogger(__name__)

DEFAULT_HOST = '0.0.0.0'
DEFAULT_PORT = 5000
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
OPTIONS = ('host', 'port', 'token', 'max_body_bytes')
TOKEN_HINT = (
    'give it in the rulebook from an environment variable, e.g. '
    'token: "{{ ALERTMANAGER_TOKEN }}" with ansible-rulebook --env-vars ALERTMANAGER_TOKEN'
)

_QUEUE = web.AppKey('queue', asyncio.Queue)
_TOKEN = web.AppKey('token', bytes)
_MAX_BODY = web.AppKey('max_body_bytes', int)


class AlertmanagerSourceError(ValueError):
    """The source's options are wrong: the source refuses to start."""


class PayloadError(ValueError):
    """The request's body is not an Alertmanager webhook payload."""


def _int_option(args: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool):
        raise AlertmanagerSourceError(f'{name} must be an integer, got {value!r}')
    try:
        number = int(str(value).strip())
    except ValueError:
        raise AlertmanagerSourceError(f'{name} must be an integer, got {value!r}') from None
    if not low <= number <= high:
        raise AlertmanagerSourceError(f'{name} must be between {low} and {high}, got {number}')
    return number


def parse_options(args: dict[str, Any]) -> dict[str, Any]:
    """Check the source's options; return host, port, token (bytes) and max_body_bytes."""
    if not isinstance(args, dict):
        raise AlertmanagerSourceError(f'the source\'s arguments must be a mapping, got {type(args).__name__}')
    # ansible-rulebook adds its own eda_* arguments (e.g. eda_feedback_queue).
    unknown = sorted(str(key) for key in args if key not in OPTIONS and not str(key).startswith('eda_'))
    if unknown:
        raise AlertmanagerSourceError(
            f'unknown option(s) {", ".join(unknown)}; ops.rollback.alertmanager takes {", ".join(OPTIONS)}')
    token = args.get('token')
    if token is None or not str(token).strip():
        raise AlertmanagerSourceError(
            'ops.rollback.alertmanager needs a token: every request must carry '
            '"Authorization: Bearer <token>". ' + TOKEN_HINT)
    token = str(token)
    if token != token.strip() or any(char.isspace() for char in token):
        raise AlertmanagerSourceError('the token may not contain whitespace (check the variable that holds it)')
    host = args.get('host', DEFAULT_HOST)
    if host is None:
        host = DEFAULT_HOST
    if not isinstance(host, str) or not host.strip():
        raise AlertmanagerSourceError(f'host must be an address or a name, got {host!r}')
    return {
        'host': host.strip(),
        'port': _int_option(args, 'port', DEFAULT_PORT, 1, 65535),
        'token': token.encode('utf-8'),
        'max_body_bytes': _int_option(args, 'max_body_bytes', DEFAULT_MAX_BODY_BYTES, 1, 1 << 30),
    }


def authorized(header: str | None, token: bytes) -> bool:
    """Whether an Authorization header value carries this bearer token (constant-time compare)."""
    if not header:
        return False
    scheme, _sep, credentials = header.partition(' ')
    given = credentials.strip().encode('utf-8', 'surrogateescape')
    # compare_digest even for a wrong scheme, so that the answer takes the same time.
    same = hmac.compare_digest(given, token)
    return scheme.lower() == 'bearer' and same


def utc_now() -> str:
    """The current UTC time, ISO 8601 with milliseconds and Z."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def alert_events(payload: Any, endpoint: str, received_at: str) -> list[dict[str, Any]]:
    """The events of one webhook payload: one per alert. Raises PayloadError on a bad payload."""
    if not isinstance(payload, dict):
        raise PayloadError(f'the payload must be a JSON object, got {type(payload).__name__}')
    alerts = payload.get('alerts')
    if not isinstance(alerts, list):
        raise PayloadError('the payload has no "alerts" list (is this an Alertmanager webhook?)')
    for index, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise PayloadError(f'alerts[{index}] must be an object, got {type(alert).__name__}')
    meta = {
        'receiver': payload.get('receiver'),
        'group_key': payload.get('groupKey'),
        'external_url': payload.get('externalURL'),
        'endpoint': endpoint,
        'received_at': received_at,
    }
    return [{'alert': alert, 'meta': dict(meta)} for alert in alerts]


def _label(alert: dict[str, Any], name: str) -> Any:
    labels = alert.get('labels')
    return labels.get(name) if isinstance(labels, dict) else None


def _refuse(request: web.Request, status: int, reason: str, **headers: str) -> web.Response:
    LOGGER.warning('refused %s %s from %s: %s', request.method, request.path, request.remote, reason)
    return web.json_response({'error': reason}, status=status, headers=headers or None)


async def health(_request: web.Request) -> web.Response:
    """GET /health: readiness, without a token."""
    return web.json_response({'status': 'ok'})


async def webhook(request: web.Request) -> web.Response:
    """POST <any path>: an Alertmanager webhook payload; one event per alert."""
    received_at = utc_now()
    header = request.headers.get('Authorization')
    if not authorized(header, request.app[_TOKEN]):
        # Never the header's value: it may be a real token sent to the wrong place.
        reason = 'wrong bearer token' if header else 'no Authorization header'
        return _refuse(request, 401, reason, **{'WWW-Authenticate': 'Bearer'})
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _refuse(request, 413, f'the body is larger than {request.app[_MAX_BODY]} bytes')
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return _refuse(request, 400, f'the body is not JSON: {exc}')
    try:
        events = alert_events(payload, request.path, received_at)
    except PayloadError as exc:
        return _refuse(request, 400, str(exc))
    queue = request.app[_QUEUE]
    for event in events:
        alert = event['alert']
        LOGGER.info('alert %s service=%s status=%s from %s',
                    _label(alert, 'alertname'), _label(alert, 'service'), alert.get('status'), request.path)
        await queue.put(event)
    return web.json_response({'status': 'accepted', 'alerts': len(events)}, status=202)


def make_app(queue: asyncio.Queue, token: bytes, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> web.Application:
    """The aiohttp application: GET /health and POST on any path."""
    app = web.Application(client_max_size=max_body_bytes)
    app[_QUEUE] = queue
    app[_TOKEN] = token
    app[_MAX_BODY] = max_body_bytes
    app.router.add_get('/health', health)
    app.router.add_post('/{path:.*}', webhook)
    return app


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """Serve Alertmanager webhooks until cancelled; put one event per alert on the queue."""
    options = parse_options(args)
    app = make_app(queue, options['token'], options['max_body_bytes'])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, options['host'], options['port'])
        try:
            await site.start()
        except OSError as exc:
            raise AlertmanagerSourceError(
                f'cannot listen on {options["host"]}:{options["port"]}: {exc.strerror or exc}') from exc
        LOGGER.info('ops.rollback.alertmanager listening on %s:%s', options['host'], options['port'])
        try:
            await asyncio.Future()
        except asyncio.CancelledError:
            LOGGER.info('ops.rollback.alertmanager stopping')
            raise
    finally:
        await runner.cleanup()


if __name__ == '__main__':
    # Manual testing: ALERTMANAGER_TOKEN=secret python alertmanager.py [port], then POST to it.

    class MockQueue(asyncio.Queue):
        """Prints the events instead of queueing them."""

        async def put(self, item: Any) -> None:
            print(json.dumps(item, indent=2, sort_keys=True), flush=True)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(MockQueue(), {
        'host': '127.0.0.1',
        'port': sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PORT,
        'token': os.environ.get('ALERTMANAGER_TOKEN'),
    }))
