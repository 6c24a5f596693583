#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: metrics_check
short_description: Gate on Prometheus queries against thresholds, measured over a window after a switch
version_added: "0.4.0"
description:
  - Evaluates PromQL queries with Prometheus' instant query API (C(/api/v1/query)) on a schedule and holds each value
    against its thresholds, for example the ratio of 5xx answers or the p95 latency from a histogram. The semantics
    follow the analysis of Argo Rollouts.
  - 'B(Schedule.) The first round runs O(initial_delay) seconds after the task starts, then one round every
    O(interval) seconds, O(count) rounds in all. A round evaluates every check once, all at the same evaluation
    time, so each round is one measurement per check.'
  - 'B(Measurements.) A measurement is V(Successful) when the value is within O(checks[].min) and O(checks[].max), and
    V(Failed) when it breaches either. An empty result (no series) and a V(NaN) value count as O(on_empty) and O(on_nan)
    say, V(Inconclusive) by default, never as a silent pass. A measurement is V(Error) when no value could be read,
    that is Prometheus unreachable or answering an error, a query it refuses, a range vector, or more than one series
    without O(checks[].aggregate).'
  - 'B(Values.) Prometheus sends sample values as strings. They are parsed as numbers, with V(NaN), V(+Inf) and V(-Inf)
    understood; V(+Inf) breaches any O(checks[].max), for example a p95 above the largest histogram bucket.'
  - 'B(A check''s status.) V(Failed) when its Failed measurements are more than O(failure_limit). Otherwise V(Error)
    when its consecutive errors are more than O(consecutive_error_limit), when every one of its measurements errored
    (an error is never a success), or at once when Prometheus refused its query as malformed (HTTP 400), which no
    repeat can cure. Otherwise V(Inconclusive) when its Inconclusive measurements are more than O(inconclusive_limit).
    Otherwise V(Successful).'
  - 'B(The gate''s status) RV(status) is its worst check''s, in the order V(Failed), V(Error), V(Inconclusive),
    V(Successful). The task fails unless it is V(Successful), and still returns every measurement. The gate stops
    after the round in which a check became V(Failed) or V(Error) for good (RV(stopped_early)).'
  - 'B(The window starts after the switch.) A query with a range selector, such as C(x[5m]) inside C(rate), reads the 5 minutes
    before its evaluation time, so a measurement taken 1 minute after a switch is mostly about the version before
    it. Set O(since) to the time of the switch: the first round then waits until O(since) plus the longest lookback
    of any query (range selector or subquery range plus C(offset)), so that no window reaches back before the
    switch. Without O(since), nothing is waited for beyond O(initial_delay); each check reports its
    RV(checks[].lookback_seconds).'
  - The module runs where the task runs; C(127.0.0.1) in O(prometheus_url) is that host's loopback. It needs only
    Python's standard library and Ansible, and uses Ansible's HTTP client, so proxy variables and TLS validation
    behave as in M(ansible.builtin.uri). The clocks of that host and of Prometheus are assumed to agree (NTP).
author: ops.rollback maintainers (!UNKNOWN)
options:
  prometheus_url:
    description:
      - Base URL of the Prometheus server (or of anything that serves its API, such as Thanos or Mimir), with its path
        prefix if it is served under one, for example V(http://prometheus.example.com:9090) or
        V(https://mon.example.com/prometheus). The URL of the query API itself is accepted too.
      - A password or query values in the URL are masked as C(********) in the output and logs; prefer
        O(url_password), O(bearer_token) or O(headers).
    type: str
    required: true
  checks:
    description: The queries to evaluate and the thresholds each value is held against.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the check, unique within the task, for example V(error_ratio). Results and the report use it.
        type: str
        required: true
      query:
        description:
          - PromQL expression that gives one value, a scalar or a vector of exactly one series, for example
            a ratio of two C(sum) of C(rate) or a C(histogram_quantile) (see the examples).
          - Aggregate in PromQL with C(sum), C(max) or C(sum by), or set O(checks[].aggregate) when the selector
            matches several series.
        type: str
        required: true
      min:
        description: Lowest value that passes (inclusive). Set O(checks[].min), O(checks[].max) or both.
        type: float
      max:
        description: Highest value that passes (inclusive). Set O(checks[].min), O(checks[].max) or both.
        type: float
      aggregate:
        description:
          - Accept several series and judge one value made from them, V(max) or V(min) (NaN values skipped, as PromQL
            does), V(sum) or V(avg).
          - Without it, a query that returns more than one series is an V(Error) measurement that names the series.
        type: str
        choices: [max, min, sum, avg]
  interval:
    description: Seconds between the starts of two rounds, more than zero when O(count) is above V(1). Fractions are allowed.
    type: float
    default: 10
  count:
    description: Rounds of measurements, at least V(1). The window the gate watches is about O(count) times O(interval).
    type: int
    default: 1
  initial_delay:
    description: Seconds to wait before the first round, zero or more, like C(initialDelay) of Argo Rollouts.
    type: float
    default: 0
  since:
    description:
      - When the switch (or rollback) happened, as an ISO 8601 time (V(2026-11-23T03:00:00Z), a time without a zone is
        UTC) or epoch seconds. The first round waits until this time plus the longest lookback of any query, so that
        every measured window lies after it.
      - A time more than 5 minutes in the future is refused, it is most likely epoch milliseconds or a local time.
    type: raw
  failure_limit:
    description: Failed measurements a check may have and still pass, zero or more. V(0) fails on the first breach.
    type: int
    default: 0
  consecutive_error_limit:
    description: Consecutive V(Error) measurements a check may have before it is V(Error), zero or more.
    type: int
    default: 4
  inconclusive_limit:
    description: V(Inconclusive) measurements a check may have before it is V(Inconclusive), zero or more.
    type: int
    default: 0
  on_empty:
    description:
      - What a measurement is when the query returns no series, for example a metric or label that does not exist.
      - V(inconclusive) or V(fail) make sure no data never passes; V(pass) accepts it and says so in the measurement's
        RV(checks[].measurements[].reason).
      - A ratio whose numerator selects no series, such as 5xx answers of a service that has not failed yet, is empty
        too. Have the service export its counters at 0 from the start, or make the numerator fall back to 0 with
        PromQL's C(or) and C(vector).
    type: str
    choices: [fail, inconclusive, pass]
    default: inconclusive
  on_nan:
    description:
      - What a measurement is when the value is V(NaN), for example a ratio of rates while the service got no
        requests (0/0) or a quantile of a histogram without observations.
      - V(pass) accepts it and says so in the measurement's RV(checks[].measurements[].reason).
    type: str
    choices: [fail, inconclusive, pass]
    default: inconclusive
  method:
    description: HTTP method of the query requests. V(POST) sends the query in the body, so long queries fit.
    type: str
    choices: [GET, POST]
    default: POST
  headers:
    description: HTTP headers to send with every query, for example an C(X-Scope-OrgID). The values are secret and hidden.
    type: dict
  url_username:
    description: User name for HTTP basic authentication, sent with the first request.
    type: str
  url_password:
    description: Password for HTTP basic authentication.
    type: str
  bearer_token:
    description:
      - Token sent in the C(Authorization) header as C(Bearer <token>).
      - Not together with O(url_username) or an C(Authorization) header in O(headers).
    type: str
  validate_certs:
    description: Validate the server's TLS certificate. Set to V(false) only for a self-signed test server.
    type: bool
    default: true
  timeout:
    description: Seconds each query may take before its measurement is an V(Error), more than zero.
    type: float
    default: 10
  use_proxy:
    description: Use the proxy from the C(http_proxy)/C(https_proxy) environment variables (honouring C(no_proxy)).
    type: bool
    default: true
extends_documentation_fragment:
  - ops.rollback._attributes.read_only
  - ops.rollback._attributes.action_group_verify
notes:
  - The module only reads, and runs its full schedule in check mode too, so a plan shows what the gate would decide
    now. It always reports RV(changed=false).
  - Each query is sent with its evaluation time (the C(time) parameter), so all checks of a round see the same moment.
  - RV(report_checks) has the shape of the O(ops.rollback.incident_report#module:services.checks) option of
    M(ops.rollback.incident_report).
seealso:
  - module: ops.rollback.health_check
    description: HTTP endpoints instead of metrics.
  - name: Prometheus HTTP API
    description: The instant query API the checks use.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries
  - name: Argo Rollouts analysis
    description: The semantics of count, interval, initialDelay and the limits.
    link: https://argo-rollouts.readthedocs.io/en/stable/features/analysis/
"""

EXAMPLES = r"""
- name: Gate on the 5xx ratio and the p95 latency, 5 rounds 30 s apart, after the switch's windows have passed
  ops.rollback.metrics_check:
    prometheus_url: http://prometheus.example.com:9090
    since: "{{ switched_at }}"
    checks:
      - name: error_ratio
        query: >-
          sum(rate(http_requests_total{job="shop", code=~"5.."}[1m]))
          / sum(rate(http_requests_total{job="shop"}[1m]))
        max: 0.01
      - name: p95_seconds
        query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="shop"}[1m])))
        max: 0.3
    interval: 30
    count: 5
    failure_limit: 1
  register: shop_metrics

- name: Show the values at the start and the end of the window
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.before }} -> {{ item.after }} ({{ item.threshold }})"
  loop: "{{ shop_metrics.report_checks }}"

- name: Require a success ratio, with a token, where no traffic at all counts as a failure
  ops.rollback.metrics_check:
    prometheus_url: https://mon.example.com/prometheus
    bearer_token: "{{ prometheus_token }}"
    checks:
      - name: success_ratio
        query: sum(rate(http_requests_total{job="shop", code!~"5.."}[5m])) / sum(rate(http_requests_total{job="shop"}[5m]))
        min: 0.99
    on_empty: fail
    on_nan: fail

- name: Hold every instance under the error ratio, judging the worst one
  ops.rollback.metrics_check:
    prometheus_url: http://prometheus.example.com:9090
    checks:
      - name: worst_instance_error_ratio
        query: >-
          sum by (instance) (rate(http_requests_total{job="shop", code=~"5.."}[1m]))
          / sum by (instance) (rate(http_requests_total{job="shop"}[1m]))
        max: 0.05
        aggregate: max
    initial_delay: 60

- name: Record the metrics before the rollback, whatever they say
  ops.rollback.metrics_check:
    prometheus_url: http://prometheus.example.com:9090
    checks:
      - name: error_ratio
        query: sum(rate(http_requests_total{job="shop", code=~"5.."}[1m])) / sum(rate(http_requests_total{job="shop"}[1m]))
        max: 0.01
  register: metrics_before
  failed_when: metrics_before.status is not defined
"""

RETURN = r"""
changed:
  description: Always V(false), the module only reads.
  returned: always
  type: bool
  sample: false
status:
  description:
    - The gate's verdict, V(Successful), V(Failed), V(Inconclusive) or V(Error); the task fails unless V(Successful).
    - Returned also when the task fails, except for invalid options (nothing was queried then).
  returned: always
  type: str
  sample: Successful
msg:
  description:
    - The verdict in words; when not V(Successful), each check that is not, why, and what to do.
    - When V(Successful), also the checks that had Failed, Error or Inconclusive measurements within their limits.
  returned: always
  type: str
  sample: "Metrics check Successful: 2 checks passed over 5 rounds."
prometheus_url:
  description: The query API's URL, with a password and query values masked.
  returned: always
  type: str
  sample: http://prometheus.example.com:9090/api/v1/query
started:
  description: When the task started, ISO 8601 UTC.
  returned: always
  type: str
  sample: "2026-11-23T03:04:00.000Z"
finished:
  description: When the last round ended, ISO 8601 UTC.
  returned: always
  type: str
  sample: "2026-11-23T03:06:00.120Z"
rounds:
  description: Rounds measured, at most O(count).
  returned: always
  type: int
  sample: 5
stopped_early:
  description: Whether the gate stopped before O(count) rounds because a check was V(Failed) or V(Error) for good.
  returned: always
  type: bool
  sample: false
checks:
  description: One entry per O(checks) item, in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      returned: always
      type: str
      sample: error_ratio
    query:
      description: The PromQL expression.
      returned: always
      type: str
      sample: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))
    min:
      description: The lower threshold, V(null) when not set.
      returned: always
      type: float
      sample: null
    max:
      description: The upper threshold, V(null) when not set.
      returned: always
      type: float
      sample: 0.01
    aggregate:
      description: How several series were made one value, V(null) when exactly one was required.
      returned: always
      type: str
      sample: null
    threshold:
      description: The thresholds in words.
      returned: always
      type: str
      sample: max 0.01
    status:
      description: The check's status, V(Successful), V(Failed), V(Inconclusive) or V(Error).
      returned: always
      type: str
      sample: Successful
    message:
      description: Why the check is not V(Successful), with its last such measurement's reason; V(null) when it is.
      returned: always
      type: str
      sample: "error_ratio: Failed, 1 of 1 measurement breached max 0.01 (failure_limit 0); last: 0.333 is above max 0.01"
    lookback_seconds:
      description: How far back from its evaluation time the query reads (longest range selector plus C(offset)).
      returned: always
      type: float
      sample: 60.0
    successful:
      description: Successful measurements.
      returned: always
      type: int
      sample: 5
    failed:
      description: Failed measurements.
      returned: always
      type: int
      sample: 0
    inconclusive:
      description: Inconclusive measurements.
      returned: always
      type: int
      sample: 0
    errors:
      description: Measurements that errored.
      returned: always
      type: int
      sample: 0
    consecutive_errors:
      description: The longest run of consecutive errored measurements.
      returned: always
      type: int
      sample: 0
    first:
      description:
        - The value of the first measurement that read one, the start of the window. A number, or Prometheus' text
          V(NaN), V(+Inf) or V(-Inf); V(null) when no measurement read a value.
      returned: always
      type: raw
      sample: 0.0021
    last:
      description: The value of the last measurement that read one, the end of the window; as RV(checks[].first).
      returned: always
      type: raw
      sample: 0.0018
    measurements:
      description: Every measurement of the check, oldest first.
      returned: always
      type: list
      elements: dict
      contains:
        time:
          description: The evaluation time, ISO 8601 UTC.
          returned: always
          type: str
          sample: "2026-11-23T03:04:00.000Z"
        phase:
          description: V(Successful), V(Failed), V(Inconclusive) or V(Error).
          returned: always
          type: str
          sample: Successful
        value:
          description: The value as a number; V(null) for V(NaN), V(+Inf), V(-Inf) (see RV(checks[].measurements[].raw)) and when none was read.
          returned: always
          type: float
          sample: 0.0021
        raw:
          description: The value as Prometheus sent it; V(null) when none was read.
          returned: always
          type: str
          sample: "0.0021"
        series:
          description: Series the query returned (V(1) for a scalar); V(null) when there was no answer.
          returned: always
          type: int
          sample: 1
        reason:
          description: Why the measurement is not V(Successful), or why it passed anyway (O(on_empty) or O(on_nan) V(pass)); else V(null).
          returned: always
          type: str
          sample: null
report_checks:
  description:
    - The checks in the shape of the O(ops.rollback.incident_report#module:services.checks) option of
      M(ops.rollback.incident_report). RV(report_checks[].before) and RV(report_checks[].after) are the first and
      last values of this gate's window (RV(checks[].first) and RV(checks[].last)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      returned: always
      type: str
      sample: error_ratio
    before:
      description: The window's first value.
      returned: always
      type: raw
      sample: 0.0021
    after:
      description: The window's last value.
      returned: always
      type: raw
      sample: 0.0018
    threshold:
      description: The thresholds in words.
      returned: always
      type: str
      sample: max 0.01
    passed:
      description: Whether the check is V(Successful).
      returned: always
      type: bool
      sample: true
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.metrics.gate import (
    MODULE_KWARGS,
    check_metrics,
    metrics_check_argument_spec,
)


def main():
    run_module(metrics_check_argument_spec(), lambda module: check_metrics(module.params), **MODULE_KWARGS)


if __name__ == '__main__':
    main()
