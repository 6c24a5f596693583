# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One target per service, chosen from the whole fleet before anything changes
(DESIGN.md, Words: target)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import (
    RULE_EXPLICIT,
    previous_version,
    sort_versions,
    validate_version,
)


def fleet_targets(states, version=None):
    """Choose the target of every service.

    ``states``: one dict per host, as each platform's preflight reports it:
    ``host``, ``service``, ``current``, ``available`` (deployable versions),
    ``good`` and ``bad`` (ledger verdicts).

    A version is a candidate only when every host of the service can deploy
    it; ledger verdicts are merged (a version rolled back from on any host is
    bad). Returns ``{service: {version, rule, current, hosts}}`` or raises
    with what is missing where.
    """
    by_service = {}
    for state in states:
        by_service.setdefault(state['service'], []).append(state)

    targets = {}
    for service, hosts in sorted(by_service.items()):
        currents = sort_versions(set(h['current'] for h in hosts if h['current']))
        if version:
            target, rule = validate_version(version), RULE_EXPLICIT
        else:
            deployable = set.intersection(*(set(h['available']) for h in hosts))
            bad = set().union(*(h['bad'] for h in hosts))
            good = set().union(*(h['good'] for h in hosts)) - bad
            target, rule = previous_version(deployable, currents, good=good, bad=bad)
            if target is None:
                raise NotFoundError(
                    'Cannot choose a previous version for service {0}: nothing older than {1} qualifies under '
                    'rule {2} on every host. Pass -e version=<version> explicitly.'.format(
                        service, currents[-1] if currents else 'the current version', rule),
                    service=service, rule=rule)
        missing = sorted(h['host'] for h in hosts if target not in h['available'])
        if missing:
            raise NotFoundError(
                'Cannot roll back service {0} to {1}: it is not a complete release on {2} of {3} hosts ({4}). '
                'Deploy it there first or choose a version every host has.'.format(
                    service, target, len(missing), len(hosts), ', '.join(missing)),
                service=service, missing=missing)
        targets[service] = {
            'version': target,
            'rule': rule,
            'current': currents,
            'hosts': sorted(h['host'] for h in hosts),
        }
    return targets
