# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side planning of a run: which services it covers and in which
batches their hosts are rolled back. Plain Python, driven by filters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import DEFAULT_RETRIES
from ansible_collections.ops.rollback.plugins.plugin_utils.verdict import state_fact

DEFAULT_SERIAL = [1, '25%']
# The platforms this release rolls back: each is a role that follows the
# platform role contract (README, "Platform roles"). Not a variable: a
# platform is supported when its role and driver exist, not when a setting says so.
PLATFORMS = ('symlink', 'kubernetes', 'blue_green', 'canary', 'ecs', 'compose', 'swarm')


def services(hosts, hostvars, service=None):
    """The services a run covers: ``{name: {'platform', 'hosts'}}``.

    ``hosts``: the hosts ``service`` names (an inventory host or group), or,
    without ``service``, every host of the inventory. A host belongs to the
    service its ``rollback_service`` names (default: ``service``, else the
    host itself). Without ``service``, hosts that set no ``rollback_platform``
    are not services; with several services, the run is refused, listing them.
    """
    found = {}
    unset = []
    for host in hosts:
        host_vars = hostvars[host]
        platform = host_vars.get('rollback_platform')
        if not platform:
            unset.append(host)
            continue
        if platform not in PLATFORMS:
            raise InvalidInputError(
                '{0}: rollback_platform {1} is not one this release of ops.rollback rolls back ({2}). Fix '
                'rollback_platform in the inventory (see the README, "Inventory model"). Nothing was changed.'.format(
                    host, platform, ', '.join(PLATFORMS)))
        name = host_vars.get('rollback_service') or service or host
        entry = found.setdefault(name, {'platform': platform, 'hosts': []})
        if entry['platform'] != platform:
            raise InvalidInputError(
                'Service {0} mixes platforms ({1} on {2}, {3} on {4}): give each platform its own rollback_service. '
                'Nothing was changed.'.format(name, entry['platform'], entry['hosts'][0], platform, host))
        check_settings(host, host_vars)
        entry['hosts'].append(host)
    if service and unset:
        raise InvalidInputError(
            '{0}: rollback_platform is not set. Set it in the inventory for every host of {1} (see the README, '
            '"Inventory model"). Nothing was changed.'.format(', '.join(sorted(unset)), service))
    if not found:
        raise InvalidInputError(
            'No host of the inventory sets rollback_platform, so there is no service to roll back. Describe the '
            'service in the inventory (see the README, "Inventory model"). Nothing was changed.')
    if not service and len(found) > 1:
        raise InvalidInputError(
            'The inventory holds {0} services ({1}): say which one to roll back with -e service=NAME (a service, '
            'or a group of services). Nothing was changed.'.format(len(found), ', '.join(sorted(found))))
    for entry in found.values():
        entry['hosts'].sort()
    return found


def service_settings(services_, hostvars, name, targets=None):
    """``{service: value}`` of the setting ``name`` (such as ``rollback_databases``) for each service
    of ``services_`` whose lead host (its first) sets it to something; services without it are left out.

    With ``targets`` (the preflight phase's), only the services that move: some host does not run the
    target yet. A run that finds everything at its target backs up nothing and tells nobody.
    """
    found = {}
    for service, info in sorted(services_.items()):
        hosts = info.get('hosts') or []
        value = hostvars[hosts[0]].get(name) if hosts else None
        if value and (targets is None or _moves((targets or {}).get(service))):
            found[service] = value
    return found


def _moves(target):
    return bool(target) and set(target.get('current') or []) != set([target.get('version')])


def platform_state(host_vars):
    """What the platform role's ``state`` entry point reported for a host (its ``<platform>_state``),
    with the host and its service."""
    state = dict(host_vars[state_fact(host_vars)])
    state.update(host=host_vars['inventory_hostname'], service=host_vars['rollback_service'])
    return state


def _batch_size(step, total):
    text = str(step).strip()
    match = re.match(r'^(\d+(?:\.\d+)?)%$', text)
    if match and 0 < float(match.group(1)) <= 100:
        return max(1, int(total * float(match.group(1)) / 100))
    if re.match(r'^\d+$', text) and int(text) > 0:
        return int(text)
    raise InvalidInputError(
        'rollback_serial {0} is not a batch size: give a whole number of hosts (at least 1), a percentage '
        'of the fleet (1% to 100%), or a list of them, e.g. [1, "25%"]. Nothing was changed.'.format(_shown(step)))


def batches(hosts, serial=None):
    """Split ``hosts`` as Ansible's ``serial`` would: each size in turn, the last one repeated."""
    steps = serial if isinstance(serial, (list, tuple)) else [serial]
    if serial in (None, '', []):
        steps = DEFAULT_SERIAL
    sizes = [_batch_size(step, len(hosts)) for step in steps]
    result, start, index = [], 0, 0
    while start < len(hosts):
        size = sizes[min(index, len(sizes) - 1)]
        result.append(list(hosts[start:start + size]))
        start += size
        index += 1
    return result


def check_percentage(value, option='rollback_max_fail_percentage'):
    """A failure tolerance in percent, 0 to 100."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or not 0 <= number <= 100:
        raise InvalidInputError(
            '{0} {1} must be a percentage from 0 (stop at the first failure) to 100. Nothing was changed.'.format(
                option, _shown(value)))
    return number


def _shown(value, limit=60):
    """A value as the user wrote it, shortened so a pasted blob does not flood the message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _setting(host, host_vars, name, kind, valid, what):
    """The setting ``name`` of a host as ``kind`` (int or float), None when unset; refused unless ``valid``."""
    if name not in host_vars:
        return None
    value = host_vars[name]
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not valid(number):
        raise InvalidInputError('{0}: {1} {2} must be {3}. Nothing was changed.'.format(host, name, _shown(value), what))
    return number


# The run's settings a host may carry (inventory or -e), checked on the
# controller before any host is touched, under the names the user sets.
def check_settings(host, host_vars):
    """Refuse a malformed run setting of ``host``, naming the variable and its value."""
    batches([], host_vars.get('rollback_serial'))
    check_percentage(host_vars.get('rollback_max_fail_percentage', 0))
    _setting(host, host_vars, 'rollback_lock_ttl', int, lambda n: n >= 1, 'a whole number of seconds, at least 1')
    for name in ('rollback_lock_force', 'rollback_allow_bad_version'):
        flag = host_vars.get(name, False)
        if str(flag).lower() not in ('true', 'false', 'yes', 'no', '1', '0', 'on', 'off'):
            raise InvalidInputError('{0}: {1} {2} must be true or false. Nothing was changed.'.format(
                host, name, _shown(flag)))
    retries = _setting(host, host_vars, 'rollback_health_retries', int, lambda n: n >= 1,
                       'a whole number of rounds, at least 1')
    successes = _setting(host, host_vars, 'rollback_health_successes', int, lambda n: n >= 1,
                         'a whole number of passing rounds, at least 1')
    _setting(host, host_vars, 'rollback_health_delay', float, lambda n: n >= 0, 'a number of seconds, 0 or more')
    _setting(host, host_vars, 'rollback_health_timeout', float, lambda n: n > 0, 'a number of seconds above 0')
    if successes is not None and successes > (retries or DEFAULT_RETRIES):
        raise InvalidInputError(
            '{0}: rollback_health_successes {1} is more than the {2} rounds the health check may run '
            '(rollback_health_retries): raise the retries or lower the successes. Nothing was changed.'.format(
                host, successes, retries or DEFAULT_RETRIES))
