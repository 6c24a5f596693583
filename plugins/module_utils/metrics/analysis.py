# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The judgement of a metrics gate, after Argo Rollouts' analysis: pure logic, no I/O.

* A *measurement* is one evaluation of one check's query. Its phase is
  ``Successful``, ``Failed`` (a threshold breached), ``Inconclusive`` (empty
  or NaN under ``on_empty``/``on_nan: inconclusive``) or ``Error`` (no value
  could be read: Prometheus unreachable or refusing the query, more than one
  series).
* A *check* is ``Failed`` when its failed measurements exceed
  ``failure_limit``; else ``Error`` when its consecutive errors exceed
  ``consecutive_error_limit`` or every measurement errored (an error is never a
  success); else ``Inconclusive`` when its inconclusive measurements exceed
  ``inconclusive_limit``; else ``Successful``. Argo's order, and its defaults
  (0, 4, 0).
* The gate's status is its worst check's, in the order Failed, Error,
  Inconclusive, Successful (a breached threshold is the strongest evidence).

Prometheus sends sample values as strings: ``"0.25"``, ``"NaN"``, ``"+Inf"``,
``"-Inf"``. They are parsed here, never with a bare ``float()`` on
untrusted text that could read ``"nan"`` in other spellings as a number.

Standard library only: this runs on managed hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import math
import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError

SUCCESSFUL = 'Successful'
FAILED = 'Failed'
INCONCLUSIVE = 'Inconclusive'
ERROR = 'Error'
# Worst first: the gate's status is the first of these that any check has.
SEVERITY = (FAILED, ERROR, INCONCLUSIVE, SUCCESSFUL)

POLICIES = ('fail', 'inconclusive', 'pass')
AGGREGATIONS = ('max', 'min', 'sum', 'avg')
POLICY_PHASE = {'fail': FAILED, 'inconclusive': INCONCLUSIVE, 'pass': SUCCESSFUL}

DEFAULT_FAILURE_LIMIT = 0
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
DEFAULT_INCONCLUSIVE_LIMIT = 0

NO_QUERY = 'No query was sent; nothing was changed.'

_NUMBER = re.compile(r'^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$')
_SPECIAL = {'nan': float('nan'), '+inf': float('inf'), 'inf': float('inf'), '-inf': float('-inf')}
# PromQL durations: 1h30m, 5m, 30s, 250ms, 1d, 2w, 1y (units in this order).
_DURATION_UNITS = (('ms', 0.001), ('y', 365 * 86400), ('w', 7 * 86400), ('d', 86400), ('h', 3600), ('m', 60), ('s', 1))
_DURATION = re.compile(r'(\d+)(ms|y|w|d|h|m|s)')
# A range selector [5m] or a subquery [30m:1m]; and an offset modifier.
_RANGE = re.compile(r'\[\s*([0-9a-z]+)\s*(?::\s*[0-9a-z]*\s*)?\]')
_OFFSET = re.compile(r'\boffset\s+-?([0-9a-z]+)', re.IGNORECASE)


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

def parse_sample_value(raw):
    """A Prometheus sample value (a string) as a float: ``"NaN"`` -> nan, ``"+Inf"``/``"-Inf"`` -> ±inf.

    Raises ``ValueError`` for anything that is not a number in Prometheus' text."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError('sample value {0!r} is not a string'.format(raw))
    if isinstance(raw, (int, float)):
        return float(raw)
    text = raw.strip()
    if text.lower() in _SPECIAL:
        return _SPECIAL[text.lower()]
    if not _NUMBER.match(text):
        raise ValueError('sample value {0!r} is not a number'.format(raw))
    return float(text)


def json_value(value):
    """A float as JSON can carry it: None for NaN and ±Inf (``raw`` keeps Prometheus' own text)."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def aggregate(values, how):
    """One value from several series' values: ``max``/``min`` skip NaN (as PromQL's do), ``sum``/``avg`` keep it."""
    if how in ('max', 'min'):
        numbers = [v for v in values if not math.isnan(v)]
        if not numbers:
            return float('nan')
        return max(numbers) if how == 'max' else min(numbers)
    total = math.fsum(values) if not any(math.isinf(v) for v in values) else sum(values)
    return total if how == 'sum' else total / len(values)


def parse_duration(text):
    """Seconds in a PromQL duration such as ``5m``, ``1h30m`` or ``250ms``; None when it is not one."""
    if not text or _DURATION.sub('', text):
        return None
    seconds = 0.0
    for number, unit in _DURATION.findall(text):
        seconds += int(number) * dict(_DURATION_UNITS)[unit]
    return seconds


def lookback_seconds(query):
    """How far back before its evaluation time a query reads: its largest range selector (or subquery range)
    plus its largest ``offset``. 0 for a query without either (an instant selector's 5 minute lookback for
    the latest sample is not counted: it reads one sample, not a window)."""
    ranges = [parse_duration(m) for m in _RANGE.findall(query or '')]
    offsets = [parse_duration(m) for m in _OFFSET.findall(query or '')]
    return max([r for r in ranges if r] or [0]) + max([o for o in offsets if o] or [0])


def parse_since(value, now):
    """``since`` as epoch seconds: a number (epoch seconds) or an ISO 8601 time; a time without a zone is UTC.

    Refused when it is more than 5 minutes in the future (``now`` is epoch seconds): likely epoch
    milliseconds or a local time read as UTC."""
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        epoch = None
    elif isinstance(value, (int, float)):
        epoch = float(value)
    else:
        text = str(value).strip()
        epoch = float(text) if _NUMBER.match(text) else _iso_epoch(text)
    if epoch is None or not math.isfinite(epoch):
        raise InvalidInputError(
            'since {0!r} is not a time: give the moment the switch happened as an ISO 8601 time '
            '(2026-11-23T03:00:00Z) or epoch seconds (1795402800), for example '
            "\"{{{{ now(utc=true).isoformat() }}}}\" registered right after the switch. {1}".format(value, NO_QUERY),
            option='since')
    if epoch > now + 300:
        raise InvalidInputError(
            'since {0!r} is {1:.0f} s in the future: a switch cannot have happened then. Epoch seconds are '
            'expected (not milliseconds), and a time without a zone is UTC. {2}'.format(value, epoch - now, NO_QUERY),
            option='since')
    return epoch


def _iso_epoch(text):
    candidate = text[:-1] + '+00:00' if text.endswith(('Z', 'z')) else text
    try:
        moment = datetime.datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def iso(epoch):
    """Epoch seconds as the ISO 8601 UTC time the results show, to the millisecond."""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'


def show(value):
    """A number as people read it: 0.05, 12, 1.5e-05."""
    return '{0:g}'.format(value) if isinstance(value, (int, float)) else str(value)


# ---------------------------------------------------------------------------
# checks and their measurements
# ---------------------------------------------------------------------------

class Check:
    """One named query with its thresholds: a value passes when ``min <= value <= max`` (each bound when set).

    ``aggregate`` (max, min, sum, avg) makes several series one value; without it a query must return
    exactly one series (or a scalar)."""

    def __init__(self, name, query, minimum=None, maximum=None, aggregate=None):
        self.name = name
        self.query = query
        self.min = minimum
        self.max = maximum
        self.aggregate = aggregate
        self.measurements = []

    @classmethod
    def from_spec(cls, spec, index):
        where = 'checks[{0}]'.format(index)
        if not isinstance(spec, dict):
            raise InvalidInputError('{0} must be a mapping with name, query and min and/or max (got {1!r}). {2}'.format(
                where, spec, NO_QUERY), option=where)
        name, query = spec.get('name'), spec.get('query')
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError('{0}.name is empty: name each check, for example name: error_ratio. {1}'.format(
                where, NO_QUERY), option=where + '.name')
        where = 'checks[{0}] ({1})'.format(index, name)
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError('{0}: query is empty. Give a PromQL expression that returns one value, for '
                                    'example sum(rate(http_requests_total{{code=~"5.."}}[1m])) / '
                                    'sum(rate(http_requests_total[1m])). {1}'.format(where, NO_QUERY),
                                    option='checks.query')
        bounds = {}
        for bound in ('min', 'max'):
            value = spec.get(bound)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidInputError('{0}: {1} {2!r} is not a finite number. {3}'.format(
                    where, bound, value, NO_QUERY), option='checks.' + bound)
            bounds[bound] = float(value)
        if not bounds:
            raise InvalidInputError(
                '{0} has no threshold: set min, max or both (for an error ratio, max: 0.05; for a success ratio, '
                'min: 0.99). A check without one could never fail. {1}'.format(where, NO_QUERY), option='checks.max')
        if 'min' in bounds and 'max' in bounds and bounds['min'] > bounds['max']:
            raise InvalidInputError('{0}: min {1} is above max {2}, so no value could pass; swap them. {3}'.format(
                where, show(bounds['min']), show(bounds['max']), NO_QUERY), option='checks.min')
        how = spec.get('aggregate')
        if how is not None and how not in AGGREGATIONS:
            raise InvalidInputError('{0}: aggregate {1!r} is not one of {2}. {3}'.format(
                where, how, ', '.join(AGGREGATIONS), NO_QUERY), option='checks.aggregate')
        return cls(name.strip(), query, bounds.get('min'), bounds.get('max'), how)

    @property
    def threshold(self):
        """The thresholds in words: ``max 0.05``, ``min 0.99`` or ``min 0.1, max 0.5``."""
        return ', '.join('{0} {1}'.format(b, show(getattr(self, b))) for b in ('min', 'max')
                         if getattr(self, b) is not None)

    def breach(self, value):
        """Why ``value`` breaches a threshold, or None when it passes (±Inf compare as numbers do)."""
        if self.min is not None and value < self.min:
            return '{0} is below min {1}'.format(_show_float(value), show(self.min))
        if self.max is not None and value > self.max:
            return '{0} is above max {1}'.format(_show_float(value), show(self.max))
        return None

    def judge(self, value, on_nan):
        """Phase and reason of a measurement that read ``value`` (a float, NaN and ±Inf included)."""
        if math.isnan(value):
            phase = POLICY_PHASE[on_nan]
            return phase, 'NaN (no data to divide, or a histogram without observations), counted as {0} ' \
                          '(on_nan={1})'.format(phase, on_nan)
        reason = self.breach(value)
        return (FAILED, reason) if reason else (SUCCESSFUL, None)


class Measurement:
    """One evaluation of one check's query at ``time`` (epoch seconds)."""

    def __init__(self, time, phase, value=None, raw=None, reason=None, series=None, permanent=False):
        self.time = time
        self.phase = phase
        self.value = value          # float (NaN, ±Inf included) or None
        self.raw = raw              # Prometheus' own text of the value
        self.reason = reason
        self.series = series
        self.permanent = permanent  # an error that repeating the query cannot cure (a malformed query)

    def as_dict(self):
        return {
            'time': iso(self.time), 'phase': self.phase, 'value': json_value(self.value), 'raw': self.raw,
            'series': self.series, 'reason': self.reason,
        }


class Limits:
    """Argo's limits: how many failed, consecutive errored and inconclusive measurements a check may have."""

    def __init__(self, failure_limit=DEFAULT_FAILURE_LIMIT, consecutive_error_limit=DEFAULT_CONSECUTIVE_ERROR_LIMIT,
                 inconclusive_limit=DEFAULT_INCONCLUSIVE_LIMIT):
        for option, value in (('failure_limit', failure_limit), ('consecutive_error_limit', consecutive_error_limit),
                              ('inconclusive_limit', inconclusive_limit)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInputError('{0} must be a whole number, 0 or more (got {1!r}). {2}'.format(
                    option, value, NO_QUERY), option=option)
        self.failure = failure_limit
        self.consecutive_errors = consecutive_error_limit
        self.inconclusive = inconclusive_limit


class Tally:
    """Counts over a check's measurements, and the status they give."""

    def __init__(self, measurements, limits):
        phases = [m.phase for m in measurements]
        self.successful = phases.count(SUCCESSFUL)
        self.failed = phases.count(FAILED)
        self.inconclusive = phases.count(INCONCLUSIVE)
        self.errors = phases.count(ERROR)
        self.consecutive_errors = 0       # the longest run of errors
        run = 0
        for phase in phases:
            run = run + 1 if phase == ERROR else 0
            self.consecutive_errors = max(self.consecutive_errors, run)
        self.permanent_error = any(m.permanent for m in measurements)
        self.total = len(phases)
        self.limits = limits

    @property
    def status(self):
        if self.failed > self.limits.failure:
            return FAILED
        if (self.permanent_error or self.consecutive_errors > self.limits.consecutive_errors
                or (self.total and self.errors == self.total)):
            return ERROR
        if self.inconclusive > self.limits.inconclusive:
            return INCONCLUSIVE
        return SUCCESSFUL

    @property
    def settled(self):
        """True once more measurements cannot change a Failed or Error status: stop early."""
        return (self.failed > self.limits.failure or self.permanent_error
                or self.consecutive_errors > self.limits.consecutive_errors)

    def as_dict(self):
        return {'successful': self.successful, 'failed': self.failed, 'inconclusive': self.inconclusive,
                'errors': self.errors, 'consecutive_errors': self.consecutive_errors}


def worst(statuses):
    """The gate's status from its checks' statuses."""
    for status in SEVERITY:
        if status in statuses:
            return status
    return SUCCESSFUL


def check_message(check, tally):
    """Why a check is not Successful, in a sentence; None when it is."""
    status = tally.status
    measured = _plural(tally.total, 'measurement')
    if status == FAILED:
        last = [m for m in check.measurements if m.phase == FAILED][-1]
        return '{0}: Failed, {1} of {2} breached {3} (failure_limit {4}); last: {5}'.format(
            check.name, tally.failed, measured, check.threshold, tally.limits.failure, last.reason)
    if status == ERROR:
        last = [m for m in check.measurements if m.phase == ERROR][-1]
        if last.permanent:
            why = 'Prometheus refused the query'
        elif tally.errors == tally.total:
            why = 'every one of {0} errored'.format(measured)
        else:
            why = '{0} consecutive errors (consecutive_error_limit {1})'.format(
                tally.consecutive_errors, tally.limits.consecutive_errors)
        return '{0}: Error, {1}; last: {2}'.format(check.name, why, last.reason)
    if status == INCONCLUSIVE:
        last = [m for m in check.measurements if m.phase == INCONCLUSIVE][-1]
        return '{0}: Inconclusive, {1} of {2} (inconclusive_limit {3}); last: {4}'.format(
            check.name, tally.inconclusive, measured, tally.limits.inconclusive, last.reason)
    return None


def _show_float(value):
    if math.isinf(value):
        return '+Inf' if value > 0 else '-Inf'
    return show(value)


def _plural(count, word):
    return '{0} {1}{2}'.format(count, word, '' if count == 1 else 's')
