# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A drill's scorecard: how long each stage of the incident took, and what the customers saw.

    card = Scorecard(bad_deploy_at='2026-03-01T12:00:00Z', rollback_started_at='2026-03-01T12:01:10.5Z',
                     healthy_at='2026-03-01T12:01:31Z', load=probe_result, name='symlink',
                     not_measured={'alert_at': 'no alerting in this scenario'})
    card.as_dict()['rollback_start_to_healthy_seconds']   # 20.5

A time that is missing (omitted, ``None`` or empty) gives ``None`` for every duration that needs it,
and "not measured" (with the reason given, if any) in the text; it is never an error. A time that is
given but is no timestamp is an error: a drill would otherwise report a typo as "not measured".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError

_EPOCH = datetime.datetime(1970, 1, 1)
_ISO = re.compile(
    r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?'
    r'(Z|z|[+-]\d{2}(?::?\d{2})?)?$')

# The inputs, in the order of an incident.
TIMES = ('bad_deploy_at', 'alert_at', 'rollback_started_at', 'healthy_at')
LABELS = {
    'bad_deploy_at': 'bad deploy',
    'alert_at': 'alert',
    'rollback_started_at': 'rollback start',
    'healthy_at': 'healthy',
    'load': 'load',
}
# (key, from, to) of every duration on the card.
SPANS = (
    ('bad_deploy_to_alert_seconds', 'bad_deploy_at', 'alert_at'),
    ('alert_to_rollback_start_seconds', 'alert_at', 'rollback_started_at'),
    ('rollback_start_to_healthy_seconds', 'rollback_started_at', 'healthy_at'),
    ('alert_to_healthy_seconds', 'alert_at', 'healthy_at'),
    ('bad_deploy_to_healthy_seconds', 'bad_deploy_at', 'healthy_at'),
)
NOT_MEASURED = 'not measured'


def parse_time(value, what):
    """Seconds since the epoch (float) of a UTC ISO 8601 string, a datetime or a number; ``None`` if missing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidInputError('{0} is {1!r}, not a time. Give a UTC ISO 8601 time such as '
                                '2026-03-01T12:00:00.250Z, or leave it out.'.format(what, value), option=what)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        offset = value.utcoffset()
        naive = value.replace(tzinfo=None) - (offset or datetime.timedelta(0))
        return (naive - _EPOCH).total_seconds()
    match = _ISO.match(str(value).strip())
    if not match:
        raise InvalidInputError('{0} is {1!r}, not a time. Give a UTC ISO 8601 time such as '
                                '2026-03-01T12:00:00.250Z (fractions of a second allowed), or leave it out.'
                                .format(what, value), option=what)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError as exc:
        raise InvalidInputError('{0} is {1!r}, not a valid time: {2}.'.format(what, value, exc), option=what)
    seconds = (moment - _EPOCH).total_seconds() + (float('0.' + fraction) if fraction else 0.0)
    if zone and zone not in ('Z', 'z'):
        sign = -1 if zone[0] == '-' else 1
        digits = zone[1:].replace(':', '')
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
    return seconds


def iso(seconds):
    """UTC ISO 8601 with milliseconds."""
    moment = _EPOCH + datetime.timedelta(seconds=round(seconds, 3))
    return moment.strftime('%Y-%m-%dT%H:%M:%S.') + '{0:03d}Z'.format(moment.microsecond // 1000)


def _seconds(value):
    return '{0:.1f} s'.format(value)


class Scorecard:
    """The numbers of one drill, from its four times and the load probe's result (both optional)."""

    def __init__(self, bad_deploy_at=None, alert_at=None, rollback_started_at=None, healthy_at=None, load=None,
                 name=None, not_measured=None):
        given = dict(bad_deploy_at=bad_deploy_at, alert_at=alert_at, rollback_started_at=rollback_started_at,
                     healthy_at=healthy_at)
        self.name = name or 'drill'
        self.reasons = dict(not_measured or {})
        unknown = sorted(set(self.reasons) - set(TIMES) - {'load'})
        if unknown:
            raise InvalidInputError('not_measured names {0}; it takes only {1}.'.format(
                ', '.join(unknown), ', '.join(TIMES + ('load',))), option='not_measured')
        self.times = dict((key, parse_time(given[key], key)) for key in TIMES)
        if load is not None and not isinstance(load, dict):
            raise InvalidInputError('load is a {0}: give the load_probe result (a dict), or leave it out.'
                                    .format(type(load).__name__), option='load')
        self.load = load or None
        if self.load is not None and self.load.get('requests') is None:
            # A probe that failed or never ran: its numbers were not measured, say why.
            self.reasons.setdefault('load', self.load.get('msg') or 'the load probe returned no counts')
            self.load = None

    def _reason(self, key):
        reason = self.reasons.get(key)
        return '{0}: {1}'.format(NOT_MEASURED, reason) if reason else NOT_MEASURED

    def spans(self):
        values = {}
        for key, start, end in SPANS:
            if self.times[start] is None or self.times[end] is None:
                values[key] = None
            else:
                values[key] = round(self.times[end] - self.times[start], 3)
        return values

    def load_numbers(self):
        if self.load is None:
            return dict(requests=None, failed_requests=None, failed_ratio=None, failures=None, degraded_seconds=None,
                        first_failure=None, last_failure=None, load_started=None, load_stopped=None)
        requests = int(self.load.get('requests') or 0)
        failed = int(self.load.get('failed_requests') or 0)
        first = parse_time(self.load.get('first_failure'), 'load.first_failure')
        last = parse_time(self.load.get('last_failure'), 'load.last_failure')
        degraded = round(last - first, 3) if first is not None and last is not None else 0.0
        return dict(requests=requests, failed_requests=failed,
                    failed_ratio=round(float(failed) / requests, 4) if requests else None,
                    failures=dict(self.load.get('failures') or {}), degraded_seconds=degraded,
                    first_failure=self.load.get('first_failure'), last_failure=self.load.get('last_failure'),
                    load_started=self.load.get('started_at'), load_stopped=self.load.get('stopped_at'))

    def lines(self, spans, load):
        out = ['DRILL SCORECARD: {0}'.format(self.name)]
        width = 28
        for key, start, end in SPANS:
            label = '{0} -> {1}'.format(LABELS[start], LABELS[end])
            value = spans[key]
            if value is None:
                missing = start if self.times[start] is None else end
                text = '{0} ({1} time)'.format(self._reason(missing), LABELS[missing])
            else:
                text = _seconds(value)
                if value < 0:
                    text += ' (negative: {0} is after {1}; check the times)'.format(LABELS[start], LABELS[end])
            out.append('  {0:<{1}} {2}'.format(label, width, text))
        if load['requests'] is None:
            out.append('  {0:<{1}} {2}'.format('customer impact', width, self._reason('load')))
            return out
        if load['failed_requests']:
            out.append('  {0:<{1}} {2} (first to last failed request, {3} to {4})'.format(
                'degraded', width, _seconds(load['degraded_seconds']), load['first_failure'], load['last_failure']))
            reasons = ', '.join('{0} {1}'.format(reason, count)
                                for reason, count in sorted(load['failures'].items(), key=lambda item: (-item[1], item[0])))
            out.append('  {0:<{1}} {2} of {3} failed ({4:.1f} %): {5}'.format(
                'requests', width, load['failed_requests'], load['requests'],
                100.0 * (load['failed_ratio'] or 0), reasons))
        else:
            out.append('  {0:<{1}} none: no request failed'.format('degraded', width))
            out.append('  {0:<{1}} {2} of {3} failed'.format('requests', width, 0, load['requests']))
        return out

    def as_dict(self):
        spans = self.spans()
        load = self.load_numbers()
        card = {'name': self.name}
        card.update((key, iso(value) if value is not None else None) for key, value in self.times.items())
        card.update(spans)
        card.update(load)
        card['not_measured'] = dict(
            (key, self._reason(key)) for key in TIMES + ('load',)
            if (key == 'load' and load['requests'] is None) or (key != 'load' and self.times[key] is None))
        card['lines'] = self.lines(spans, load)
        return card


def drill_scorecard(times, load=None, name=None, not_measured=None):
    """The filter's work: ``times`` is a dict with any of ``bad_deploy_at``, ``alert_at``,
    ``rollback_started_at`` and ``healthy_at``."""
    times = dict(times or {})
    unknown = sorted(set(times) - set(TIMES))
    if unknown:
        raise InvalidInputError('drill_scorecard: unknown time(s) {0}; the times are {1}.'.format(
            ', '.join(unknown), ', '.join(TIMES)))
    return Scorecard(load=load, name=name, not_measured=not_measured, **times).as_dict()
