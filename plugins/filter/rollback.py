# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the rollback playbook plans and reports a run with; the logic lives in plugin_utils."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.plugin_utils.filter_errors import filter_errors
from ansible_collections.ops.rollback.plugins.plugin_utils import alert, plan, run_record, verdict


@filter_errors
def rollback_services(hosts, hostvars, service=None):
    return plan.services(list(hosts), hostvars, service or None)


@filter_errors
def rollback_alert(event):
    return alert.from_event(event)


@filter_errors
def rollback_batches(hosts, serial=None):
    return plan.batches(list(hosts), serial)


@filter_errors
def rollback_percentage(value):
    return plan.check_percentage(value)


def rollback_verdicts(hosts_vars, targets, check_mode=False):
    return verdict.run_verdicts(hosts_vars, targets, check_mode)


def rollback_service_settings(services, hostvars, name, targets=None):
    return plan.service_settings(services, hostvars, name, targets)


def rollback_backups(dumps, verifications=None):
    return run_record.backup_records(dumps, verifications)


def rollback_service_records(services, hosts_vars, targets, decisions=None, migrations=None, backups=None,
                             notifications=None, verdicts=None):
    return run_record.service_records(services, list(hosts_vars), targets, decisions, migrations, backups, notifications,
                                      verdicts)


class FilterModule:
    def filters(self):
        return {
            'rollback_services': rollback_services,
            'rollback_alert': rollback_alert,
            'rollback_batches': rollback_batches,
            'rollback_percentage': rollback_percentage,
            'rollback_verdicts': rollback_verdicts,
            'rollback_service_settings': rollback_service_settings,
            'rollback_backups': rollback_backups,
            'rollback_service_records': rollback_service_records,
        }
