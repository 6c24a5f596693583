# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the shared version vocabulary; the rules live in module_utils."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.fleet import fleet_targets as _fleet_targets
from ansible_collections.ops.rollback.plugins.module_utils._common.version import (
    previous_version as _previous_version,
    sort_versions,
)


def version_sort(versions, reverse=False):
    return sort_versions(versions, reverse=reverse)


def previous_version(versions, current, good=None, bad=None, explain=False):
    version, rule = _previous_version(versions, current, good=good, bad=bad)
    return {'version': version, 'rule': rule} if explain else version


def fleet_targets(hosts_vars, version=None):
    """``hosts_vars``: each host's variables; the platform's preflight left its
    state in ``<rollback_platform>_state``."""
    try:
        states = [host_vars['{0}_state'.format(host_vars['rollback_platform'])] for host_vars in hosts_vars]
    except KeyError as exc:
        raise AnsibleFilterError('fleet_targets: a host has no {0}; run the platform role\'s preflight first.'.format(exc))
    try:
        return _fleet_targets(states, version=version or None)
    except RollbackError as err:
        raise AnsibleFilterError(err.msg)


class FilterModule:
    def filters(self):
        return {
            'version_sort': version_sort,
            'previous_version': previous_version,
            'fleet_targets': fleet_targets,
        }
