# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gradual restore of the restore_traffic phase: which services have traffic to move, in which steps,
behind which gate.

A platform role that holds a service's traffic back leaves ``traffic`` in its ``<platform>_rollback``
(README, "Platform roles"): the backend (``nginx``), the pools (``colors``), the color that gets the traffic
(``to``), the share it has now (``share``), the steps, and where the upstream is. The service's own settings
(``rollback_restore_pause``, ``rollback_restore_health_endpoints``, ``rollback_restore_metrics``) say how each
step is gated. Controller side.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError

# metrics_check's options a service may set in rollback_restore_metrics (since is each step's own).
METRICS_OPTIONS = ('prometheus_url', 'checks', 'interval', 'count', 'initial_delay', 'failure_limit',
                   'consecutive_error_limit', 'inconclusive_limit', 'on_empty', 'on_nan', 'method', 'headers',
                   'url_username', 'url_password', 'bearer_token', 'validate_certs', 'timeout', 'use_proxy')


def _refuse(host, variable, value, what):
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + '...'
    raise InvalidInputError('{0} of {1} is {2}: {3}. Nothing was changed.'.format(variable, host, shown, what))


def gate_of(host, host_vars):
    """The gate after each step of ``host``'s service: ``pause`` (seconds), ``health_endpoints``, ``metrics``."""
    pause = host_vars.get('rollback_restore_pause', 0)
    try:
        pause = float(pause)
    except (TypeError, ValueError):
        pause = -1
    if pause < 0:
        _refuse(host, 'rollback_restore_pause', host_vars.get('rollback_restore_pause'), 'give seconds, 0 or more')
    endpoints = host_vars.get('rollback_restore_health_endpoints') or []
    if not isinstance(endpoints, list) or not all(isinstance(e, dict) and e.get('url') for e in endpoints):
        _refuse(host, 'rollback_restore_health_endpoints', endpoints,
                'give a list of endpoints as health_check takes them, each with a url')
    metrics = host_vars.get('rollback_restore_metrics') or {}
    if not isinstance(metrics, dict) or (metrics and not (metrics.get('prometheus_url') and metrics.get('checks'))):
        _refuse(host, 'rollback_restore_metrics', metrics,
                'give metrics_check\'s options, at least prometheus_url and checks')
    unknown = sorted(set(metrics) - set(METRICS_OPTIONS))
    if unknown:
        _refuse(host, 'rollback_restore_metrics', unknown, 'not options of metrics_check (since is set per step); '
                'use {0}'.format(', '.join(METRICS_OPTIONS)))
    return {'pause': pause, 'health_endpoints': endpoints, 'metrics': metrics}


def restore_plan(hosts_vars):
    """One entry per host whose platform left traffic to move: ``host``, ``service``, ``traffic`` (as the
    platform left it), ``steps`` (the shares still to reach, in order; a re-run resumes past the share a held
    restore left) and ``gate``."""
    plan = []
    for host_vars in hosts_vars:
        host = host_vars['inventory_hostname']
        result = host_vars.get('{0}_rollback'.format(host_vars.get('rollback_platform'))) or {}
        traffic = result.get('traffic') if isinstance(result, dict) else None
        if not traffic:
            continue
        share = float(traffic.get('share') or 0)
        steps = [int(step) for step in traffic.get('steps') or []]
        plan.append({
            'host': host,
            'service': host_vars.get('rollback_service') or host,
            'traffic': traffic,
            'steps': [step for step in steps if step > share],
            'gate': gate_of(host, host_vars),
        })
    return plan
