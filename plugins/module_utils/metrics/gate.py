# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""metrics_check's gate: measure every check on a schedule, then judge (analysis.py).

The schedule, after Argo Rollouts: the first round ``initial_delay`` seconds
after the start (and, with ``since``, not before ``since`` plus the longest
lookback of any query, so that no window reaches back before the switch),
then one round every ``interval`` seconds, ``count`` rounds in all. A round
evaluates every check at the same evaluation time. The gate stops after the
round in which a check became Failed or Error for good: more measurements
could not change that.

Plain classes with the clock, the sleep and the HTTP transport injected, so
unit tests drive them without Ansible, a server or waiting.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import time

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils.metrics.analysis import (
    AGGREGATIONS,
    DEFAULT_CONSECUTIVE_ERROR_LIMIT,
    DEFAULT_FAILURE_LIMIT,
    DEFAULT_INCONCLUSIVE_LIMIT,
    ERROR,
    FAILED,
    INCONCLUSIVE,
    NO_QUERY,
    POLICIES,
    POLICY_PHASE,
    SUCCESSFUL,
    Check,
    Limits,
    Measurement,
    Tally,
    check_message,
    iso,
    json_value,
    lookback_seconds,
    parse_since,
    worst,
)
from ansible_collections.ops.rollback.plugins.module_utils.metrics.prometheus import (
    EmptyResult,
    MeasurementError,
    PrometheusClient,
    open_url_transport,
    read_value,
)

DEFAULT_INTERVAL = 10
DEFAULT_COUNT = 1
DEFAULT_TIMEOUT = 10

_NEXT_STEP = {
    FAILED: 'The service breaches its thresholds by these metrics: keep it out of traffic or roll it back. '
            'Raise failure_limit only to tolerate that many breaching measurements.',
    ERROR: 'No verdict could be reached: fix the cause above (prometheus_url, credentials, the query) and run the '
           'check again.',
    INCONCLUSIVE: 'The data cannot tell: check that the metric names and labels match what the service exports and '
                  'that it gets traffic, or decide what no data means with on_empty and on_nan (fail, '
                  'inconclusive, pass).',
}


def metrics_check_argument_spec():
    """The options of metrics_check, as AnsibleModule takes them."""
    return dict(
        prometheus_url=dict(type='str', required=True),
        checks=dict(
            type='list', elements='dict', required=True,
            options=dict(
                name=dict(type='str', required=True),
                query=dict(type='str', required=True),
                min=dict(type='float'),
                max=dict(type='float'),
                aggregate=dict(type='str', choices=list(AGGREGATIONS)),
            ),
        ),
        interval=dict(type='float', default=DEFAULT_INTERVAL),
        count=dict(type='int', default=DEFAULT_COUNT),
        initial_delay=dict(type='float', default=0),
        since=dict(type='raw'),
        failure_limit=dict(type='int', default=DEFAULT_FAILURE_LIMIT),
        consecutive_error_limit=dict(type='int', default=DEFAULT_CONSECUTIVE_ERROR_LIMIT),
        inconclusive_limit=dict(type='int', default=DEFAULT_INCONCLUSIVE_LIMIT),
        on_empty=dict(type='str', choices=list(POLICIES), default='inconclusive'),
        on_nan=dict(type='str', choices=list(POLICIES), default='inconclusive'),
        method=dict(type='str', choices=['GET', 'POST'], default='POST'),
        headers=dict(type='dict', no_log=True),
        url_username=dict(type='str'),
        url_password=dict(type='str', no_log=True),
        bearer_token=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
        use_proxy=dict(type='bool', default=True),
    )


MODULE_KWARGS = dict(
    mutually_exclusive=[('bearer_token', 'url_username')],
    required_together=[('url_username', 'url_password')],
)


def check_metrics(params, clock=time.time, sleep=time.sleep, transport=None):
    """What metrics_check does: the result when Successful; a ``RollbackError`` carrying it otherwise."""
    headers = dict((str(k), str(v)) for k, v in (params.get('headers') or {}).items())
    if params.get('bearer_token'):
        if any(k.lower() == 'authorization' for k in headers):
            raise InvalidInputError('bearer_token and an Authorization header are both set: keep one of them. '
                                    '{0}'.format(NO_QUERY), option='bearer_token')
        headers['Authorization'] = 'Bearer ' + params['bearer_token']
    timeout = params.get('timeout', DEFAULT_TIMEOUT)
    if not _finite(timeout) or timeout <= 0:
        raise InvalidInputError('timeout must be a positive number of seconds per query (got {0!r}). {1}'.format(
            timeout, NO_QUERY), option='timeout')
    if transport is None:
        transport = open_url_transport(params.get('url_username'), params.get('url_password'),
                                       params.get('validate_certs', True), params.get('use_proxy', True))
    client = PrometheusClient(params['prometheus_url'], transport, method=params.get('method') or 'POST',
                              headers=headers, timeout=timeout)
    gate = MetricsGate(
        client, params['checks'],
        interval=params.get('interval', DEFAULT_INTERVAL), count=params.get('count', DEFAULT_COUNT),
        initial_delay=params.get('initial_delay') or 0, since=params.get('since'),
        limits=Limits(params.get('failure_limit', DEFAULT_FAILURE_LIMIT),
                      params.get('consecutive_error_limit', DEFAULT_CONSECUTIVE_ERROR_LIMIT),
                      params.get('inconclusive_limit', DEFAULT_INCONCLUSIVE_LIMIT)),
        on_empty=params.get('on_empty') or 'inconclusive', on_nan=params.get('on_nan') or 'inconclusive',
        clock=clock, sleep=sleep)
    result = gate.run()
    if result['status'] != SUCCESSFUL:
        raise RollbackError(result.pop('msg'), **result)
    return result


class MetricsGate:
    """Measure ``checks`` (mappings or ``Check``) on Argo's schedule and judge them; ``run()`` gives the result."""

    def __init__(self, client, checks, interval=DEFAULT_INTERVAL, count=DEFAULT_COUNT, initial_delay=0, since=None,
                 limits=None, on_empty='inconclusive', on_nan='inconclusive', clock=time.time, sleep=time.sleep):
        if not checks:
            raise InvalidInputError('checks is empty: give at least one, for example {{name: error_ratio, query: '
                                    '"sum(rate(http_requests_total{{code=~\\"5..\\"}}[1m])) / '
                                    'sum(rate(http_requests_total[1m]))", max: 0.05}}. {0}'.format(NO_QUERY),
                                    option='checks')
        self.checks = [c if isinstance(c, Check) else Check.from_spec(c, i) for i, c in enumerate(checks)]
        names = [c.name for c in self.checks]
        repeated = sorted(set(n for n in names if names.count(n) > 1))
        if repeated:
            raise InvalidInputError('checks named {0} more than once: each check needs its own name, the results and '
                                    'the report are keyed by it. {1}'.format(', '.join(repeated), NO_QUERY),
                                    option='checks.name')
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidInputError('count must be a whole number of measurements, at least 1 (got {0!r}). {1}'.format(
                count, NO_QUERY), option='count')
        if not _finite(interval) or interval < 0 or (count > 1 and interval <= 0):
            raise InvalidInputError(
                'interval must be a positive number of seconds between measurements when count is above 1 (got '
                '{0!r}); Prometheus needs time to scrape new samples between them. {1}'.format(interval, NO_QUERY),
                option='interval')
        if not _finite(initial_delay) or initial_delay < 0:
            raise InvalidInputError('initial_delay must be zero or more seconds (got {0!r}). {1}'.format(
                initial_delay, NO_QUERY), option='initial_delay')
        for option, policy in (('on_empty', on_empty), ('on_nan', on_nan)):
            if policy not in POLICIES:
                raise InvalidInputError('{0} {1!r} is not one of {2}. {3}'.format(
                    option, policy, ', '.join(POLICIES), NO_QUERY), option=option)
        self.client = client
        self.interval = interval
        self.count = count
        self.initial_delay = initial_delay
        self.clock = clock
        self.sleep = sleep
        self.since = parse_since(since, clock())
        self.limits = limits or Limits()
        self.on_empty = on_empty
        self.on_nan = on_nan

    def run(self):
        started = self.clock()
        first_due = started + self.initial_delay
        if self.since is not None:
            first_due = max(first_due, self.since + max(lookback_seconds(c.query) for c in self.checks))
        rounds = 0
        for number in range(self.count):
            wait = first_due + number * self.interval - self.clock()
            if wait > 0:
                self.sleep(wait)
            at = self.clock()
            for check in self.checks:
                check.measurements.append(self.measure(check, at))
            rounds += 1
            if any(Tally(c.measurements, self.limits).settled for c in self.checks):
                break
        return self._result(started, self.clock(), rounds)

    def measure(self, check, at):
        """One evaluation of ``check``'s query at ``at``, judged."""
        try:
            value, raw, series = read_value(self.client.query(check.query, at), check.aggregate)
        except EmptyResult:
            phase = POLICY_PHASE[self.on_empty]
            return Measurement(at, phase, series=0, reason=(
                'empty result: the query matched no series (a metric or label that does not exist, or no samples '
                'in its window), counted as {0} (on_empty={1})'.format(phase, self.on_empty)))
        except MeasurementError as err:
            return Measurement(at, ERROR, reason=err.reason, series=err.series, permanent=err.permanent)
        phase, reason = check.judge(value, self.on_nan)
        return Measurement(at, phase, value=value, raw=raw, reason=reason, series=series)

    def _result(self, started, finished, rounds):
        checks = []
        statuses = []
        problems = []
        for check in self.checks:
            tally = Tally(check.measurements, self.limits)
            statuses.append(tally.status)
            message = check_message(check, tally)
            if message:
                problems.append((tally.status, message))
            valued = [m for m in check.measurements if m.raw is not None]
            checks.append(dict(
                tally.as_dict(),
                name=check.name, query=check.query, min=check.min, max=check.max, aggregate=check.aggregate,
                threshold=check.threshold, status=tally.status, message=message,
                lookback_seconds=lookback_seconds(check.query),
                measurements=[m.as_dict() for m in check.measurements],
                first=_shown_value(valued[0]) if valued else None,
                last=_shown_value(valued[-1]) if valued else None,
            ))
        status = worst(statuses)
        stopped_early = rounds < self.count
        result = {
            'changed': False,
            'status': status,
            'prometheus_url': self.client.shown_url,
            'started': iso(started),
            'finished': iso(finished),
            'rounds': rounds,
            'stopped_early': stopped_early,
            'checks': checks,
            'report_checks': [{'name': c['name'], 'before': c['first'], 'after': c['last'],
                               'threshold': c['threshold'], 'passed': c['status'] == SUCCESSFUL} for c in checks],
        }
        if status == SUCCESSFUL:
            # Within their limits, but said: a pass with breaches or errors in it is not a clean pass.
            words = (('failed', 'failed'), ('errors', 'errored'), ('inconclusive', 'inconclusive'))
            tolerated = ['{0} ({1})'.format(c['name'], ', '.join('{0} {1}'.format(c[key], word)
                                                                 for key, word in words if c[key]))
                         for c in checks if c['failed'] or c['errors'] or c['inconclusive']]
            result['msg'] = 'Metrics check Successful: {0} passed over {1}{2}.'.format(
                _plural(len(checks), 'check'), _plural(rounds, 'round'),
                '; within their limits, measurements of ' + ', '.join(tolerated) if tolerated else '')
        else:
            early = ' (stopped early: more measurements could not change it)' if stopped_early else ''
            result['msg'] = 'Metrics check {0} after {1} of {2}{3}, against {4}: {5}. {6}'.format(
                status, _plural(rounds, 'round'), self.count, early, self.client.shown_url,
                '; '.join(message for _s, message in sorted(problems, key=lambda p: _order(p[0]))),
                _NEXT_STEP[status])
        return result


def _shown_value(measurement):
    """A measured value for the report: the number, or Prometheus' text for NaN and ±Inf (JSON has neither)."""
    value = json_value(measurement.value)
    return value if value is not None or measurement.value is None else measurement.raw


def _order(status):
    return (FAILED, ERROR, INCONCLUSIVE, SUCCESSFUL).index(status)


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plural(count, word):
    return '{0} {1}{2}'.format(count, word, '' if count == 1 else 's')
