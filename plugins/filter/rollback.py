# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the rollback playbook plans and reports a run with; the logic lives in plugin_utils."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.plugin_utils import plan, verdict


def _plain(function):
    """Our errors, as Ansible shows a filter's failure."""
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except RollbackError as err:
            raise AnsibleFilterError(err.msg)
    wrapper.__name__ = function.__name__
    return wrapper


@_plain
def rollback_services(hosts, hostvars, service=None):
    return plan.services(list(hosts), hostvars, service or None)


@_plain
def rollback_batches(hosts, serial=None):
    return plan.batches(list(hosts), serial)


@_plain
def rollback_percentage(value):
    return plan.check_percentage(value)


def rollback_verdicts(hosts_vars, targets, check_mode=False):
    """Per service, the verdict from each host's facts (see the filter's documentation)."""
    services = {}
    stopped = None
    for host_vars in hosts_vars:
        outcome = host_vars.get('roll_back_outcome') or {}
        checked = host_vars.get('verify_health') or {}
        state = host_vars.get('{0}_state'.format(host_vars.get('rollback_platform'))) or {}
        name = host_vars.get('rollback_service') or host_vars['inventory_hostname']
        entry = services.setdefault(name, {'hosts': {}, 'verified': True, 'stopped': None})
        entry['hosts'][host_vars['inventory_hostname']] = {
            'from_version': state.get('current'),
            'to_version': outcome.get('to_version') or state.get('current'),
            'reached': bool(outcome),
            'failure': outcome.get('failure') or (
                'not healthy on the target version: {0}'.format(checked.get('msg')) if checked.get('passed') is False
                else None),
        }
        entry['verified'] = entry['verified'] and bool(checked.get('passed'))
        if host_vars.get('rollback_stopped'):
            entry['stopped'] = entry['stopped'] or host_vars['rollback_stopped']
            stopped = stopped or host_vars['rollback_stopped']
    result = {}
    for name, entry in sorted(services.items()):
        target = (targets or {}).get(name) or {}
        result[name] = verdict.service_verdict(
            entry['hosts'], check_mode=check_mode, verified=entry['verified'],
            stopped=entry['stopped'] or (stopped and 'stopped because the run stopped: {0}'.format(stopped)))
        result[name].update(target=target.get('version'), rule=target.get('rule'))
    return result


class FilterModule:
    def filters(self):
        return {
            'rollback_services': rollback_services,
            'rollback_batches': rollback_batches,
            'rollback_percentage': rollback_percentage,
            'rollback_verdicts': rollback_verdicts,
        }
