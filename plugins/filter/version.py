# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the shared version vocabulary; the rules live in module_utils."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.target import (
    fleet_targets as _fleet_targets,
    previous_in_history,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.version import sort_versions
from ansible_collections.ops.rollback.plugins.plugin_utils.plan import platform_state


def version_sort(versions, reverse=False):
    return sort_versions(versions, reverse=reverse)


def previous_version(versions, current, good=None, bad=None, explain=False):
    """``previous`` over a set of versions in version order (the order of symlinked releases)."""
    currents = [current] if isinstance(current, str) else list(current or [])
    history = [{'version': v, 'deployable': v in versions}
               for v in sort_versions(set(versions) | set(currents) | set(bad or ()))]
    entry, rule, _skipped = previous_in_history(history, currents, good=good, bad=bad)
    version = entry['version'] if entry else None
    return {'version': version, 'rule': rule} if explain else version


def fleet_targets(hosts_vars, version=None, allow_bad=False):
    """``hosts_vars``: each host's variables; the platform's ``state`` entry point left ``<platform>_state``."""
    try:
        states = [platform_state(host_vars) for host_vars in hosts_vars]
    except KeyError as exc:
        raise AnsibleFilterError('fleet_targets: a host has no {0}; run the platform role\'s state entry point '
                                 'first.'.format(exc))
    try:
        return _fleet_targets(states, version=version or None, allow_bad=allow_bad)
    except RollbackError as err:
        raise AnsibleFilterError(err.msg)


class FilterModule:
    def filters(self):
        return {
            'version_sort': version_sort,
            'previous_version': previous_version,
            'fleet_targets': fleet_targets,
        }
