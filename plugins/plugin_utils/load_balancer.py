# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side planning of the load balancer steps around each host's rollback (drain, then ready).

A service names its load balancer in the inventory (``rollback_load_balancer``). With HAProxy each host is
one server, drained and made ready on its own; with nginx the hosts share one upstream block that is
rewritten whole, so the hosts of a batch are taken out (``down``) in one write per upstream, never in
concurrent writes of the same file. Plain Python, driven by the ``rollback_lb_*`` filters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.plugin_utils.verdict import state_fact

VARIABLE = 'rollback_load_balancer'
BACKENDS = ('haproxy', 'nginx')
HAPROXY_DEFAULTS = {'socket': '/run/haproxy/admin.sock', 'drain_timeout': 60, 'ready_timeout': 60, 'on_timeout': 'fail'}
NGINX_DEFAULTS = {'nginx_config': '/etc/nginx/nginx.conf', 'verify_url': None, 'verify_regex': None}
HAPROXY_KEYS = ('host', 'backend', 'pool', 'server') + tuple(HAPROXY_DEFAULTS)
NGINX_KEYS = ('host', 'backend', 'upstream_file', 'upstream', 'servers', 'address') + tuple(NGINX_DEFAULTS)
UNCHANGED = 'Nothing was changed.'


def _refuse(host, why):
    raise InvalidInputError('{0}: {1} {2}. Fix it in the inventory (see the README, "Inventory model"). {3}'.format(
        host, VARIABLE, why, UNCHANGED))


def _text(host, settings, key):
    value = settings.get(key)
    if not isinstance(value, str) or not value.strip():
        _refuse(host, 'needs {0} (got {1!r})'.format(key, value))
    return value.strip()


def _seconds(host, settings, key):
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = -1
        if value <= 0:
            _refuse(host, '{0} must be a number of seconds above 0 (got {1!r})'.format(key, settings[key]))
    return value


def settings(host_vars):
    """This host's load balancer, checked and with its defaults; None when its service names none.

    Raises InvalidInputError naming the host, the key and what to write instead."""
    host = host_vars.get('inventory_hostname')
    raw = host_vars.get(VARIABLE)
    if raw in (None, '', {}):
        return None
    if not isinstance(raw, dict):
        _refuse(host, 'must be a mapping such as {{host: lb1, backend: haproxy, pool: web}} (got {0!r})'.format(raw))
    backend = raw.get('backend')
    if backend not in BACKENDS:
        _refuse(host, 'backend {0!r} is not one of {1}'.format(backend, ', '.join(BACKENDS)))
    known = HAPROXY_KEYS if backend == 'haproxy' else NGINX_KEYS
    unknown = sorted(set(raw) - set(known))
    if unknown:
        _refuse(host, 'has keys backend {0} does not take: {1} (it takes {2})'.format(
            backend, ', '.join(unknown), ', '.join(known)))
    result = dict(HAPROXY_DEFAULTS if backend == 'haproxy' else NGINX_DEFAULTS)
    result.update((k, v) for k, v in raw.items() if v is not None)
    result['host'] = _text(host, result, 'host')
    if backend == 'haproxy':
        result['pool'] = _text(host, result, 'pool')
        result['server'] = str(result.get('server') or host)
        for key in ('drain_timeout', 'ready_timeout'):
            result[key] = _seconds(host, result, key)
        if result['on_timeout'] not in ('fail', 'force'):
            _refuse(host, 'on_timeout {0!r} is not fail or force'.format(result['on_timeout']))
        return result
    for key in ('upstream_file', 'upstream', 'address'):
        result[key] = _text(host, result, key)
    servers = result.get('servers')
    if not isinstance(servers, list) or not servers or not all(
            isinstance(s, dict) and isinstance(s.get('address'), str) and s['address'] for s in servers):
        _refuse(host, 'servers must list the whole upstream {0}, each with an address (got {1!r})'.format(
            result['upstream'], servers))
    addresses = [s['address'] for s in servers]
    if result['address'] not in addresses:
        _refuse(host, 'address {0} is not among the servers of upstream {1} ({2})'.format(
            result['address'], result['upstream'], ', '.join(addresses)))
    return result


def moves(host_vars, targets):
    """Whether the host does not run its service's target yet: only then is it taken out of the pool, so a
    second run of the same rollback leaves the load balancer as it is."""
    target = (targets or {}).get(host_vars.get('rollback_service')) or {}
    try:
        current = host_vars[state_fact(host_vars)].get('current')
    except (KeyError, AttributeError, TypeError):
        return True
    return not target.get('version') or current != target.get('version')


def plan(hosts_vars, inventory_hosts):
    """``{service: [step]}``: what each service's hosts go through, for the plan and the check of the settings.

    Refuses a load balancer host that is not in the inventory, and services whose hosts disagree on it."""
    found = {}
    for host_vars in hosts_vars:
        lb = settings(host_vars)
        if lb is None:
            continue
        host = host_vars.get('inventory_hostname')
        if lb['host'] not in inventory_hosts:
            _refuse(host, 'host {0} is not a host of the inventory, so no step could be run there'.format(lb['host']))
        service = host_vars.get('rollback_service') or host
        if lb['backend'] == 'haproxy':
            step = 'haproxy on {0}: drain server {1}/{2} (at most {3:g} s, then {4}), switch, then ready once UP'.format(
                lb['host'], lb['pool'], lb['server'], lb['drain_timeout'],
                'fail' if lb['on_timeout'] == 'fail' else 'force its sessions off')
        else:
            step = 'nginx on {0}: {1} down in upstream {2} ({3}) with the rest of its batch, switch, then up'.format(
                lb['host'], lb['address'], lb['upstream'], lb['upstream_file'])
        found.setdefault(service, []).append({'host': host, 'backend': lb['backend'], 'step': step})
    return found


def nginx_writes(hosts_vars, batch, targets, state):
    """The nginx upstream writes of a batch, one per upstream: ``[{'lb': settings, 'servers': [...], 'hosts': [...]}]``.

    ``state`` ``drain``: the batch's hosts that move are marked ``down``; ``ready``: they are up again. Hosts of
    the run whose rollback failed (``roll_back_outcome.failure``) stay ``down`` in both, as do servers the
    inventory itself marks down. An upstream none of whose batch hosts move is not written."""
    by_pool = {}
    batch = set(batch or ())
    for host_vars in hosts_vars:
        lb = settings(host_vars)
        if lb is None or lb['backend'] != 'nginx':
            continue
        key = (lb['host'], lb['upstream_file'], lb['upstream'])
        pool = by_pool.setdefault(key, {'lb': lb, 'out': set(), 'hosts': []})
        name = host_vars.get('inventory_hostname')
        failed = 'failure' in (host_vars.get('roll_back_outcome') or {})
        if name in batch and moves(host_vars, targets) and not failed:
            pool['hosts'].append(name)
            if state == 'drain':
                pool['out'].add(lb['address'])
        if failed:
            pool['out'].add(lb['address'])
    writes = []
    for key in sorted(by_pool):
        pool = by_pool[key]
        if not pool['hosts']:
            continue
        servers = []
        for server in pool['lb']['servers']:
            entry = dict((k, v) for k, v in server.items() if k in ('address', 'weight', 'down', 'backup') and v is not None)
            entry['down'] = bool(entry.get('down')) or server['address'] in pool['out']
            servers.append(entry)
        writes.append({'lb': pool['lb'], 'servers': servers, 'hosts': sorted(pool['hosts'])})
    return writes
