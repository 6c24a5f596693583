# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Alertmanager alert that started a run, as the rollback playbook uses it.

ansible-rulebook hands the playbook the matching event as ``ansible_eda.event``;
the collection's event source (extensions/eda/plugins/event_source/alertmanager.py)
shapes it ``{'alert': <one alert of Alertmanager's webhook>, 'meta': {...}}``.
From the alert come the service to roll back (label ``service``), the reason,
and the decision's signals: the label ``severity`` and annotations named like a
signal (``error_rate``, ``latency_p95_ms``, ...), whose text Prometheus
templated from the alert's value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.six import string_types

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.decision.engine import BOOL, NUMBER, SIGNALS

NOT_CHANGED = 'Nothing was changed.'
_NUMBER = re.compile(r'^\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*%?\s*$')
_BOOLEANS = {'true': True, 'yes': True, '1': True, 'false': False, 'no': False, '0': False}


def from_event(event):
    """What the run takes from ``event`` (ansible_eda.event): ``service``, ``reason``, ``signals`` and the alert.

    Refuses, before anything changes, an event that holds no alert, an alert
    that is not firing (a resolved alert must never start a rollback), and one
    without a ``service`` label.
    """
    alert = event.get('alert') if isinstance(event, dict) else None
    if not isinstance(alert, dict) or not isinstance(alert.get('labels'), dict):
        raise InvalidInputError(
            'ansible_eda.event holds no Alertmanager alert (its keys: {0}): the rulebook source must be '
            'ops.rollback.alertmanager, which puts one alert per event under "alert". {1}'.format(
                ', '.join(sorted(event)) if isinstance(event, dict) else type(event).__name__, NOT_CHANGED))
    labels = dict((str(key), str(value)) for key, value in alert['labels'].items())
    annotations = dict((str(key), str(value)) for key, value in (alert.get('annotations') or {}).items())
    name = labels.get('alertname', '(no alertname)')
    status = alert.get('status')
    if status != 'firing':
        raise InvalidInputError('Alert {0} is {1}, not firing: a rollback starts only from a firing alert. {2}'.format(
            name, status or 'without a status', NOT_CHANGED))
    service = labels.get('service', '').strip()
    if not service:
        raise InvalidInputError(
            'Alert {0} has no "service" label, so it names nothing to roll back: add the label to the alerting rule '
            '(labels: service: <inventory group>). {1}'.format(name, NOT_CHANGED))
    summary = annotations.get('summary') or annotations.get('description') or ''
    signals, ignored = _signals(labels, annotations)
    reason = 'alert {0} firing since {1}'.format(name, alert.get('startsAt') or '(unknown)')
    return {
        'service': service,
        'reason': reason + (': ' + summary if summary else ''),
        'signals': signals,
        'ignored': ignored,
        'trigger': {
            'source': 'alertmanager',
            'name': name,
            'status': status,
            'starts_at': alert.get('startsAt'),
            'summary': summary or None,
            'fingerprint': alert.get('fingerprint'),
            'generator_url': alert.get('generatorURL'),
            'labels': labels,
            'annotations': annotations,
        },
    }


def _signals(labels, annotations):
    """The decision's signals the alert carries, and why any that looked like one was left out."""
    given = dict(annotations)
    if 'severity' not in given and 'severity' in labels:
        given['severity'] = labels['severity']
    signals, ignored = {}, []
    for name, kind, choices in SIGNALS:
        if name not in given:
            continue
        value = _parse(given[name], kind)
        if value is None or (choices and value not in choices):
            ignored.append('{0}={1!r} (expected {2})'.format(
                name, given[name], 'one of ' + ', '.join(choices) if choices else kind))
        else:
            signals[name] = value
    return signals, ignored


def _parse(text, kind):
    if kind == NUMBER:
        match = _NUMBER.match(text)
        return float(match.group(1)) if match else None
    if kind == BOOL:
        return _BOOLEANS.get(text.strip().lower())
    return text.strip().lower() if isinstance(text, string_types) else None
