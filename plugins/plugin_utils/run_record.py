# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run did, per service, as the report phase (incident report, notifications) reads it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The file the timeline callback of this ansible-playbook run writes. Set by
# the callback when it starts; task workers are forked afterwards and see it,
# so the incident report finds the run's timeline without being told.
_TIMELINE = {'path': None}


def set_timeline_path(path):
    _TIMELINE['path'] = path


def timeline_path():
    """The timeline file of this run, or None when the timeline callback is not enabled."""
    return _TIMELINE['path']


def backup_records(dumps, verifications=()):
    """``{service: [backup]}`` from the registered loop results of db_backup ``state=dump``
    (items ``[service, database]``) and of ``state=verify`` (items: those dump results).

    A backup is ``engine``, ``db``, ``path``, ``size``, ``sha256``, ``verified`` (True, False when
    its verification failed, None when it was not verified: check mode) and ``error``.
    """
    verified = {}
    for result in verifications or ():
        path = (result.get('item') or {}).get('path')
        if path and not result.get('skipped'):
            verified[path] = (not result.get('failed'), result.get('msg') if result.get('failed') else None)
    records = {}
    for result in dumps or ():
        item = result.get('item') or [{}, {}]
        service, database = item[0].get('key'), item[1]
        path = result.get('path')
        ok, error = verified.get(path, (None, None))
        if result.get('failed'):
            ok, error = False, result.get('msg')
        records.setdefault(service, []).append({
            'engine': database.get('engine'), 'db': database.get('db'), 'path': path or '',
            'size': result.get('size'), 'sha256': result.get('sha256'), 'verified': ok, 'error': error,
        })
    return records


def _checks(host_vars_list):
    """The verify phase's health checks of a service's hosts: one entry per host and endpoint."""
    checks = []
    for host in host_vars_list:
        health = host.get('verify_health') or {}
        for endpoint in health.get('endpoints') or ():
            checks.append({
                'name': '{0} {1}'.format(host.get('inventory_hostname'), endpoint.get('url')),
                'after': {'status': endpoint.get('status'), 'latency_ms': endpoint.get('latency_ms')},
                'passed': bool(endpoint.get('ok')),
            })
    return checks


def _gate_results(service, host_vars_list, name):
    """The results a run-once loop over services (``item.key``) registered as ``name``, for ``service``."""
    for host in host_vars_list:
        for result in (host.get(name) or {}).get('results') or ():
            if (result.get('item') or {}).get('key') == service and not result.get('skipped'):
                return result
    return None


def _metric_checks(service, host_vars_list):
    """The metric gate of phase verify, with the values phase prepare_traffic measured before anything changed:
    one entry per check named ``metrics <name>``, ``before`` the value before the rollback, ``after`` the gate's
    last value (only ``before`` when the gate did not run)."""
    gate = _gate_results(service, host_vars_list, 'verify_metrics')
    early = _gate_results(service, host_vars_list, 'prepare_traffic_metrics_before')
    before = dict((c.get('name'), c.get('after')) for c in (early or {}).get('report_checks') or ())
    checks = []
    if gate:
        for check in gate.get('report_checks') or ():
            checks.append(dict(check, name='metrics ' + str(check.get('name')), before=before.get(check.get('name'))))
    else:
        for name, value in sorted(before.items()):
            checks.append({'name': 'metrics ' + str(name), 'before': value, 'after': None, 'passed': None,
                           'threshold': next((c.get('threshold') for c in early.get('report_checks') or ()
                                              if c.get('name') == name), None)})
    return checks


def service_records(services, hosts_vars, targets, decisions=None, migrations=None, backups=None, notifications=None,
                    verdicts=None):
    """``{service: record}`` for the incident report: ``from_version``, ``to_version``, ``decision``,
    ``migrations``, ``backups``, ``checks``, ``notifications``, each empty when its phase did not run
    for the service (a run stopped early, a phase not configured), and ``deployment_record_updated``:
    the ledger recorded the verified target, which happens when the verdict is done."""
    by_name = dict((host.get('inventory_hostname'), host) for host in hosts_vars)
    records = {}
    for service, info in sorted(services.items()):
        target = (targets or {}).get(service) or {}
        current = target.get('current') or []
        hosts = [by_name[name] for name in info.get('hosts') or () if name in by_name]
        records[service] = {
            'from_version': target.get('rolled_back_from') or (current[0] if current else None),
            'to_version': target.get('version'),
            'decision': _decision((decisions or {}).get(service)),
            'migrations': _migrations((migrations or {}).get(service)),
            'backups': (backups or {}).get(service) or [],
            'checks': _checks(hosts) + _metric_checks(service, hosts),
            'notifications': _delivered((notifications or {}).get(service)),
            'deployment_record_updated': ((verdicts or {}).get(service) or {}).get('state') == 'done',
        }
    return records


def _decision(result):
    if not result:
        return {}
    return dict((key, result.get(key)) for key in ('decision', 'advised', 'proceed', 'message', 'reasons', 'forced',
                                                   'force_reason', 'version') if key in result)


def _migrations(result):
    if not result or result.get('skipped'):
        return {}
    return dict((key, result.get(key)) for key in ('recommendation', 'safe_version', 'migrations', 'explanation')
                if key in result)


def _delivered(result):
    """The notify results sent for the service, as a list (the report takes them as notify returns them)."""
    if not result or result.get('skipped'):
        return []
    return [result]
