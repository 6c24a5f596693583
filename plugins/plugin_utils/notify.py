# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollback notifications (the announce and report phases): Slack, Microsoft Teams and generic JSON webhooks.

Runs on the controller, in the action plugin of ops.rollback.notify. One
event (started, update, completed, failed, escalation) is rendered once from
a Jinja2 template in a sandbox, with the runbook's fields (service, from and
to version, reason, ETA, impact, status channel; duration, checks before and
after and next steps on completion), then shaped into each channel type's
payload and sent with Ansible's own HTTP client, retried with jittered
exponential backoff on connection errors, 429 (honouring Retry-After) and 5xx.

A webhook URL is a credential (Slack's and Teams' carry the secret in the
path), so every text this module shows goes through ``Redactor``: a channel is
shown by its name and scheme://host only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import email.utils
import json
import random
import re
import time
from urllib.error import HTTPError
from urllib.parse import urlsplit

from jinja2 import StrictUndefined
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ansible.module_utils.urls import open_url

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.redact import MASK, MIN_SECRET_LENGTH

EVENTS = ('started', 'update', 'completed', 'failed', 'escalation')
CHANNEL_TYPES = ('slack', 'teams', 'webhook')
# The verdicts of plugin_utils/verdict.py, a run still going, and the runbook's escalation causes.
OUTCOMES = ('in_progress', 'done', 'not_verified', 'failed', 'refused', 'data_issue', 'infrastructure_issue')

# The runbook's "Rollback Escalation" levels, lowest first.
DEFAULT_ESCALATION_LEVELS = [
    {'name': 'on-call', 'after_minutes': 0, 'on': None, 'mention': None, 'channels': None},
    {'name': 'team lead', 'after_minutes': None, 'on': ['failed', 'not_verified', 'data_issue'], 'mention': None,
     'channels': None},
    {'name': 'platform', 'after_minutes': None, 'on': ['infrastructure_issue'], 'mention': None, 'channels': None},
    {'name': 'management', 'after_minutes': 30, 'on': None, 'mention': None, 'channels': None},
]

# The context fields the default templates read; each is None unless given.
CONTEXT_FIELDS = (
    'incident_id', 'service', 'services', 'from_version', 'to_version', 'reason', 'started', 'eta_minutes', 'impact',
    'status_channel', 'initiated_by', 'progress', 'duration_seconds', 'status', 'checks', 'verdict', 'error',
    'next_steps', 'do_not_redeploy',
)

# Retry-After is honoured up to this many seconds; a server asking for longer is retried after this.
MAX_RETRY_AFTER = 60
# Of an error answer's body, this many characters go into the error (Slack says why there: "no_service").
ERROR_BODY_CHARS = 200

# The default messages, one per event, from the runbook's "Communication During Rollback". The first line
# is the title; the rest is Markdown (bold and lists), which each channel type gets in its own dialect.
_HEADER = r"""
{% if incident_id %}**Incident:** {{ incident_id }}
{% endif %}
**Service:** {{ service }}
{% if from_version or to_version %}
**Version:** {{ from_version or 'current' }} → {{ to_version or 'the previous good version' }}
{% endif %}
{% if reason %}**Reason:** {{ reason }}
{% endif %}
"""
_FOOTER = r"""
{% if next_steps %}

**Next Steps:**
{% for step in next_steps %}
- {{ step }}
{% endfor %}
{% endif %}
{% if status_channel %}

Updates in {{ status_channel }}
{% endif %}
"""
_CHECKS = r"""
{% if checks %}

**Checks:**
{% for check in checks %}
- {{ check.name }}: {{ check.after if check.after is not none else 'n/a' }}
{%- if check.before is not none %} (was {{ check.before }}){% endif %}
{%- if check.passed is sameas true %} ✅{% elif check.passed is sameas false %} ❌{% endif %}

{% endfor %}
{% endif %}
"""
DEFAULT_TEMPLATES = {
    'started': "🚨 Rollback in progress: {{ service }}\n" + _HEADER + r"""{% if started %}**Started:** {{ started }}
{% endif %}
{% if eta_minutes is not none %}**ETA:** {{ eta_minutes }} minutes
{% endif %}
{% if impact %}

**Impact:**
{% for line in impact %}
- {{ line }}
{% endfor %}
{% endif %}

**Actions:**
{% if initiated_by %}
- Rollback initiated by {{ initiated_by }}
{% endif %}
- Monitoring metrics
- Will update when complete
""" + _FOOTER,
    'update': "🔄 Rollback update: {{ service }}\n" + _HEADER + r"""{% if progress %}**Progress:** {{ progress }}
{% endif %}
{% if status %}**Status:** {{ status }}
{% endif %}
{% if eta_minutes is not none %}**ETA:** {{ eta_minutes }} minutes
{% endif %}
""" + _CHECKS + _FOOTER,
    'completed': "✅ Rollback complete: {{ service }}\n" + _HEADER + r"""{% if to_version %}**Rolled back to:** {{ to_version }}
{% endif %}
{% if duration_seconds is not none %}**Duration:** {{ duration_seconds | duration }}
{% endif %}
**Status:** {{ status or verdict or 'done' }}
""" + _CHECKS + r"""{% if do_not_redeploy or from_version %}

Do not re-deploy {{ do_not_redeploy or from_version }} without a fix.
{% endif %}
""" + _FOOTER,
    'failed': "❌ Rollback FAILED: {{ service }}\n" + _HEADER + r"""{% if duration_seconds is not none %}**Duration:** {{ duration_seconds | duration }}
{% endif %}
**Status:** {{ status or verdict or 'failed' }}
{% if error %}**Error:** {{ error }}
{% endif %}
""" + _CHECKS + _FOOTER,
    'escalation': "📣 Escalation to {{ escalation.name }}: {{ service }}\n" + r"""
{% if escalation.mention %}{{ escalation.mention }} {% endif %}The rollback of {{ service }} needs {{ escalation.name }}: {{ escalation.reason }}.
""" + _HEADER + r"""{% if elapsed_minutes %}**Elapsed:** {{ '%g' | format(elapsed_minutes) }} minutes
{% endif %}
{% if outcome %}**Outcome:** {{ outcome }}
{% endif %}
{% if status or verdict %}**Status:** {{ status or verdict }}
{% endif %}
{% if error %}**Error:** {{ error }}
{% endif %}
""" + _FOOTER,
}

_TEAMS_COLORS = {'started': 'Warning', 'update': 'Accent', 'completed': 'Good', 'failed': 'Attention',
                 'escalation': 'Attention'}


def notify_argument_spec():
    return dict(
        channels=dict(type='list', elements='dict', required=True, options=dict(
            type=dict(type='str', required=True, choices=list(CHANNEL_TYPES)),
            url=dict(type='str', required=True, no_log=True),
            name=dict(type='str'),
            events=dict(type='list', elements='str', choices=list(EVENTS)),
            headers=dict(type='dict', no_log=True),
            validate_certs=dict(type='bool', default=True),
        )),
        event=dict(type='str', required=True, choices=list(EVENTS)),
        context=dict(type='dict', default={}),
        templates=dict(type='dict', default={}),
        required=dict(type='bool', default=False),
        retries=dict(type='int', default=3),
        delay=dict(type='float', default=1.0),
        timeout=dict(type='float', default=10.0),
        escalation_levels=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            after_minutes=dict(type='float'),
            on=dict(type='list', elements='str', choices=list(OUTCOMES)),
            mention=dict(type='str'),
            channels=dict(type='list', elements='str'),
        )),
        elapsed_minutes=dict(type='float', default=0.0),
        outcome=dict(type='str', choices=list(OUTCOMES)),
    )


class Redactor(object):
    """Masks the channels' secrets (their URLs, the URLs' paths and queries, header values) in any text or data."""

    def __init__(self, channels):
        secrets = set()
        for channel in channels or []:
            url = channel.get('url')
            if isinstance(url, str) and url:
                secrets.add(url)
                parts = urlsplit(url)
                secrets.update(part for part in (parts.path, parts.query, parts.fragment, parts.password)
                               if part and len(part) >= MIN_SECRET_LENGTH)
            for value in (channel.get('headers') or {}).values():
                if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                    secrets.add(value)
        # Longest first, so a URL is masked whole rather than around its masked path.
        self._secrets = sorted(secrets, key=len, reverse=True)

    def text(self, value):
        if not isinstance(value, str):
            return value
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        return value

    def data(self, value):
        if isinstance(value, dict):
            return dict((self.text(key), self.data(item)) for key, item in value.items())
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        return self.text(value)


def shown_url(url):
    """How a channel's URL is shown: scheme and host only, the rest is the credential."""
    parts = urlsplit(url)
    return '{0}://{1}/{2}'.format(parts.scheme, parts.hostname or '', MASK)


def duration_text(seconds):
    """``250`` -> ``4 minutes 10 seconds``: a duration as the runbook's messages say it."""
    seconds = int(round(float(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(hours, 'hour'), (minutes, 'minute'), (seconds, 'second')]
    words = ['{0} {1}{2}'.format(count, unit, '' if count == 1 else 's') for count, unit in parts if count]
    return ' '.join(words[:2]) or '0 seconds'


# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

def channel_names(channels):
    """Each channel's name: its own, or ``<type>-<n>`` counting that type's channels from 1."""
    names, counts = [], {}
    for channel in channels:
        counts[channel['type']] = counts.get(channel['type'], 0) + 1
        names.append(channel.get('name') or '{0}-{1}'.format(channel['type'], counts[channel['type']]))
    return names


def check_input(params):
    """Cross-option rules the argument spec cannot say; raises InvalidInputError before anything is sent."""
    names = channel_names(params['channels'])
    if not names:
        raise InvalidInputError('No channel to notify: give at least one item in channels. Nothing was sent.',
                                option='channels')
    twice = sorted(set(name for name in names if names.count(name) > 1))
    if twice:
        raise InvalidInputError('Channel names must be unique, {0} is used more than once: give each channel its '
                                'own name. Nothing was sent.'.format(', '.join(twice)), option='channels')
    for channel, name in zip(params['channels'], names):
        if urlsplit(channel['url']).scheme not in ('http', 'https') or not urlsplit(channel['url']).hostname:
            raise InvalidInputError('The url of channel {0} is not an http:// or https:// URL: give the webhook URL '
                                    'as the service shows it. Nothing was sent.'.format(name), option='channels')
    unknown_events = sorted(set(params['templates']) - set(EVENTS))
    if unknown_events:
        raise InvalidInputError('templates has no event {0}: use {1}. Nothing was sent.'.format(
            ', '.join(unknown_events), ', '.join(EVENTS)), option='templates')
    for option in ('retries', 'delay', 'timeout', 'elapsed_minutes'):
        if params[option] < (0 if option != 'timeout' else 1e-9):
            raise InvalidInputError('{0} must be {1}, not {2}. Nothing was sent.'.format(
                option, 'more than 0' if option == 'timeout' else '0 or more', params[option]), option=option)
    for level in escalation_levels(params):
        if level.get('after_minutes') is None and not level.get('on'):
            raise InvalidInputError('Escalation level {0} has neither after_minutes nor on, so it could never be '
                                    'chosen: give it one. Nothing was sent.'.format(level['name']),
                                    option='escalation_levels')
        missing = sorted(set(level.get('channels') or []) - set(names))
        if missing:
            raise InvalidInputError('Escalation level {0} names channels that do not exist: {1} (channels: {2}). '
                                    'Nothing was sent.'.format(level['name'], ', '.join(missing), ', '.join(names)),
                                    option='escalation_levels')


def escalation_levels(params):
    return params.get('escalation_levels') or DEFAULT_ESCALATION_LEVELS


def choose_escalation(levels, elapsed_minutes, outcome):
    """The highest level that applies: after ``after_minutes`` have elapsed, or on one of its ``on`` outcomes.

    Returns ``{level, name, mention, channels, reason}`` (``level`` counts from 1), or None when none applies.
    """
    chosen = None
    for number, level in enumerate(levels, 1):
        reasons = []
        if outcome and outcome in (level.get('on') or []):
            reasons.append('outcome {0}'.format(outcome))
        after = level.get('after_minutes')
        if after is not None and (elapsed_minutes or 0) >= after:
            reasons.append('{0:g} minutes elapsed (level after {1:g})'.format(elapsed_minutes or 0, after))
        if reasons:
            chosen = {'level': number, 'name': level['name'], 'mention': level.get('mention'),
                      'channels': level.get('channels'), 'reason': ' and '.join(reasons)}
    return chosen


def template_vars(event, context, escalation=None, elapsed_minutes=None, outcome=None, now=None):
    """What a template sees: every context field (None when not given), ``services`` as a list and ``service``
    as their names joined, list fields as lists, and ``event``, ``escalation``, ``elapsed_minutes``, ``outcome``."""
    values = dict((field, None) for field in CONTEXT_FIELDS)
    values.update(context)
    services = values['services'] or ([values['service']] if values['service'] else [])
    values['services'] = [services] if isinstance(services, str) else list(services)
    values['service'] = ', '.join(str(name) for name in values['services']) or 'the service'
    for field in ('impact', 'next_steps'):
        if isinstance(values[field], str):
            values[field] = [values[field]]
    checks = values['checks'] or []
    if not isinstance(checks, list) or not all(isinstance(check, dict) and check.get('name') for check in checks):
        raise InvalidInputError('context.checks must be a list of mappings, each with a name (and before, after, '
                                'passed). Nothing was sent.', option='context')
    values['checks'] = [dict({'before': None, 'after': None, 'passed': None}, **check) for check in checks]
    if event == 'started' and not values['started']:
        values['started'] = (now or datetime.datetime.now(datetime.timezone.utc)).strftime('%Y-%m-%d %H:%M UTC')
    values.update(event=event, escalation=escalation, elapsed_minutes=elapsed_minutes, outcome=outcome,
                  context=dict(context))
    return values


def render(template_text, variables, source):
    """The message from ``template_text`` in a Jinja2 sandbox: ``(title, body)``, the title being its first line."""
    environment = SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                       autoescape=False)
    environment.filters['duration'] = duration_text
    try:
        text = environment.from_string(template_text).render(variables)
    except (TemplateError, TypeError, ValueError) as err:
        raise InvalidInputError('Cannot render the {0} of the {1} message: {2}. Fix the template, or the context '
                                'it reads. Nothing was sent.'.format(source, variables['event'], err),
                                option='templates')
    lines = [line.rstrip() for line in text.strip().splitlines()]
    if not lines:
        raise InvalidInputError('The {0} of the {1} message renders to nothing: give it at least a title line. '
                                'Nothing was sent.'.format(source, variables['event']), option='templates')
    body = re.sub(r'\n{3,}', '\n\n', '\n'.join(lines[1:])).strip()
    return lines[0].lstrip('#').strip(), body


# ---------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------

def slack_mrkdwn(text):
    """Markdown bold and links in Slack's mrkdwn: ``**a**`` -> ``*a*``, ``[a](url)`` -> ``<url|a>``."""
    text = re.sub(r'\*\*(.+?)\*\*', r'*\1*', text)
    return re.sub(r'\[([^\]]+)\]\((https?://[^)\s]+)\)', r'<\2|\1>', text)


def payload(channel_type, event, title, body, context, escalation):
    """What a channel of ``channel_type`` receives as JSON."""
    if channel_type == 'slack':
        return {'text': '*{0}*\n{1}'.format(title, slack_mrkdwn(body)).strip()}
    if channel_type == 'teams':
        # An Adaptive Card in a message, as Teams' incoming webhooks (Workflows and the older connectors) take it.
        blocks = [{'type': 'TextBlock', 'text': title, 'weight': 'Bolder', 'size': 'Medium', 'wrap': True,
                   'style': 'heading', 'color': _TEAMS_COLORS[event]}]
        gap = False
        for line in body.splitlines():
            if not line.strip():
                gap = True
                continue
            blocks.append({'type': 'TextBlock', 'text': line, 'wrap': True,
                           'spacing': 'Medium' if gap else 'None'})
            gap = False
        return {'type': 'message', 'attachments': [{
            'contentType': 'application/vnd.microsoft.card.adaptive',
            'contentUrl': None,
            'content': {'$schema': 'http://adaptivecards.io/schemas/adaptive-card.json', 'type': 'AdaptiveCard',
                        'version': '1.4', 'msteams': {'width': 'Full'}, 'body': blocks},
        }]}
    return {'event': event, 'title': title, 'text': body, 'context': context, 'escalation': escalation}


# ---------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------

def retry_after_seconds(value, now=None):
    """Seconds a Retry-After header asks for (a number or an HTTP date), at most MAX_RETRY_AFTER; None if absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - (now or datetime.datetime.now(datetime.timezone.utc))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_seconds(retry, delay, retry_after=None, rand=random.random):
    """Wait before retry number ``retry`` (1, 2, ...): Retry-After when the server said it, else ``delay``
    doubled per retry, with jitter (50-100 %) so that many controllers do not retry in step."""
    if retry_after is not None:
        return retry_after
    return delay * (2 ** (retry - 1)) * (0.5 + rand() / 2)


def _retryable(status):
    return status is None or status == 429 or status >= 500


def deliver(url, body, headers, retries, delay, timeout, validate_certs=True, sleep=time.sleep):
    """POST ``body`` (JSON) to ``url``, retrying what may pass later. Returns ``{delivered, attempts, status,
    error}``; the error may contain the URL: mask it before showing it."""
    data = json.dumps(body).encode('utf-8')
    request_headers = dict(headers or {}, **{'Content-Type': 'application/json'})
    attempts, status, error = 0, None, None
    while True:
        attempts += 1
        retry_after = None
        try:
            answer = open_url(url, data=data, headers=request_headers, method='POST', timeout=timeout,
                              validate_certs=validate_certs, use_netrc=False, http_agent='ops.rollback.notify')
            status = answer.getcode()
            answer.read()
            return {'delivered': True, 'attempts': attempts, 'status': status, 'error': None}
        except HTTPError as err:
            status = err.code
            retry_after = retry_after_seconds(err.headers.get('Retry-After') if err.headers else None)
            try:
                said = err.read().decode('utf-8', 'replace').strip()[:ERROR_BODY_CHARS]
            except Exception:  # the error's body is only a hint
                said = ''
            error = 'status {0}{1}'.format(status, ': ' + said if said else '')
        except Exception as err:  # connection refused, timed out, TLS, proxy: nothing answered
            status = None
            error = str(err) or err.__class__.__name__
        if attempts > retries or not _retryable(status):
            break
        sleep(backoff_seconds(attempts, delay, retry_after))
    return {'delivered': False, 'attempts': attempts, 'status': status, 'error': error}


# ---------------------------------------------------------------------------
# The whole call
# ---------------------------------------------------------------------------

class DeliveryError(RollbackError):
    """A required notification did not reach every channel; ``details`` carries the result so far."""


def notify(params, template_texts=None, check_mode=False, sender=deliver):
    """Render ``params['event']`` and send it to every channel that takes it.

    ``template_texts``: event -> (template text, where it came from) for the user's templates, read by the
    caller. Returns the result with ``warnings`` for channels that failed; raises InvalidInputError on bad
    input (nothing sent) and DeliveryError when ``required`` and a channel failed. Secrets are not yet masked.
    """
    check_input(params)
    event = params['event']
    escalation = None
    if event == 'escalation':
        escalation = choose_escalation(escalation_levels(params), params['elapsed_minutes'], params['outcome'])
        if escalation is None:
            raise InvalidInputError('No escalation level applies at {0:g} minutes with outcome {1}: give a level '
                                    'with after_minutes 0 (as the default on-call level). Nothing was sent.'.format(
                                        params['elapsed_minutes'], params['outcome']), option='escalation_levels')
    text, source = (template_texts or {}).get(event) or (DEFAULT_TEMPLATES[event], 'default template')
    variables = template_vars(event, params['context'], escalation, params['elapsed_minutes'], params['outcome'])
    title, body = render(text, variables, source)
    message = (title + '\n' + body).strip()

    channels, warnings, failed = [], [], []
    for channel, name in zip(params['channels'], channel_names(params['channels'])):
        entry = {'name': name, 'type': channel['type'], 'url': shown_url(channel['url']), 'delivered': False,
                 'attempts': 0, 'status': None, 'error': None, 'skipped': None,
                 'payload': payload(channel['type'], event, title, body, params['context'], escalation)}
        channels.append(entry)
        if channel.get('events') and event not in channel['events']:
            entry['skipped'] = 'takes only {0}'.format(', '.join(channel['events']))
            continue
        if escalation and escalation['channels'] and name not in escalation['channels']:
            entry['skipped'] = 'not a channel of escalation level {0}'.format(escalation['name'])
            continue
        if check_mode:
            continue
        entry.update(sender(channel['url'], entry['payload'], channel.get('headers'), params['retries'],
                            params['delay'], params['timeout'], validate_certs=channel['validate_certs']))
        if not entry['delivered']:
            failed.append(entry)
            if not params['required']:
                warnings.append('Could not deliver the {0} notification to {1} ({2}) after {3} attempt(s): {4}. '
                                'The rollback goes on; set required=true to make this fail the task.'.format(
                                    event, name, entry['url'], entry['attempts'], entry['error']))
    addressed = [entry for entry in channels if not entry['skipped']]
    result = {
        'changed': any(entry['delivered'] for entry in channels) or (check_mode and bool(addressed)),
        'event': event,
        'message': message,
        'escalation': escalation,
        'channels': channels,
        'diff': {'before': '', 'after': message + '\n',
                 'after_header': '{0} message to {1}'.format(event, ', '.join(e['name'] for e in addressed))},
    }
    if not addressed:
        warnings.append('No channel takes the {0} event, so nothing was sent: check the events of the channels '
                        '(and the channels of the escalation level).'.format(event))
    if warnings:
        result['warnings'] = warnings
    if failed and params['required']:
        raise DeliveryError('Failed to deliver the required {0} notification to {1}. Check the webhook URLs and the '
                            'services, or set required=false to only warn.'.format(
                                event, '; '.join('{0} ({1}) after {2} attempt(s): {3}'.format(
                                    e['name'], e['url'], e['attempts'], e['error']) for e in failed)),
                            **result)
    return result
