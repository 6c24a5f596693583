# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blue-green on hosts: pools of servers (the colors) behind one nginx upstream on a load balancer host.

``ColorPools`` is the platform's driver for the rollback core's state (_common/states.py): which color the
upstream sends the traffic to (the file nginx loads, parsed, never the file someone meant to write), the version
each color serves (asked from every server's version endpoint), the history in version order, and the service's
file ledger and lock in a directory on the load balancer host. The switch itself is lb_switch's (backend nginx,
traffic/nginx.py, whose parser reads the file here too), with the servers ``split_servers`` gives for a share.
Runs on the load balancer's host: python3's standard library and Ansible's module_utils only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import FileLockStore
from ansible_collections.ops.rollback.plugins.module_utils._common.version import RELEASE, sort_versions
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import (
    QueryError,
    SimplePath,
    describe_transport_error,
    parse_simple_path,
)
from ansible_collections.ops.rollback.plugins.module_utils.release.ledger import DEFAULT_LEDGER_FILE, FileLedger
from ansible_collections.ops.rollback.plugins.module_utils.traffic.nginx import UnparseableError, parse_upstream_file

DEFAULT_LOCK_FILE = '.ops-rollback.lock'
_ADDRESS = re.compile(r'^[A-Za-z0-9_.:\[\]-]+$')


def validate_colors(colors):
    """``colors``: color -> list of server addresses (``host:port``); two colors at least, no server in two."""
    if not isinstance(colors, dict) or len(colors) < 2:
        raise InvalidInputError(
            'colors must name at least two pools of servers, for example {{blue: [10.0.0.1:8000], green: '
            '[10.0.0.2:8000]}} (got {0!r}). Nothing was changed.'.format(colors), option='colors')
    seen = {}
    for color, servers in sorted(colors.items()):
        if not isinstance(servers, list) or not servers:
            raise InvalidInputError('colors.{0} must be a non-empty list of server addresses (host:port), got {1!r}. '
                                    'Nothing was changed.'.format(color, servers), option='colors')
        for address in servers:
            if not isinstance(address, str) or not _ADDRESS.match(address):
                raise InvalidInputError('colors.{0}: {1!r} is not a server address (host:port, as nginx\'s server '
                                        'directive takes it). Nothing was changed.'.format(color, address),
                                        option='colors')
            if address in seen:
                raise InvalidInputError('Server {0} is in colors {1} and {2}: a server belongs to one color only. '
                                        'Nothing was changed.'.format(address, seen[address], color), option='colors')
            seen[address] = color


def traffic_shares(servers, colors):
    """Percent of the traffic each color gets from the parsed ``servers``: the weights of the servers that are
    neither down nor backup. Servers of no color count as ``(other)``."""
    owner = dict((address, color) for color, addresses in colors.items() for address in addresses)
    weights = {}
    for server in servers:
        if server['down'] or server['backup']:
            continue
        color = owner.get(server['address'], '(other)')
        weights[color] = weights.get(color, 0) + server['weight']
    total = sum(weights.values())
    return dict((color, round(100.0 * weights.get(color, 0) / total, 1) if total else 0.0)
                for color in sorted(set(colors) | set(weights)))


def split_servers(colors, target, percent):
    """The servers of lb_switch backend nginx that send ``percent`` of the traffic to color ``target`` and the
    rest to the other colors, spread evenly over each side's servers. A side that gets nothing is ``down``
    (nginx refuses weight 0); weights are the smallest whole numbers that give the share."""
    validate_colors(colors)
    if target not in colors:
        raise InvalidInputError('{0!r} is not one of the colors ({1}). Nothing was changed.'.format(
            target, ', '.join(sorted(colors))))
    try:
        percent = int(percent)
    except (TypeError, ValueError):
        percent = -1
    if not 0 <= percent <= 100:
        raise InvalidInputError('A share of traffic must be a whole percent from 0 to 100. Nothing was changed.')
    targets = list(colors[target])
    others = [address for color in sorted(colors) if color != target for address in colors[color]]
    # Each target server gets percent/len(targets), each other (100-percent)/len(others): cross-multiplied.
    target_weight, other_weight = percent * len(others), (100 - percent) * len(targets)
    divisor = _gcd(target_weight, other_weight) or 1
    servers = []
    for address, weight in [(a, target_weight) for a in targets] + [(a, other_weight) for a in others]:
        if weight == 0:
            servers.append({'address': address, 'down': True})
        elif percent in (0, 100):
            servers.append({'address': address})
        else:
            servers.append({'address': address, 'weight': weight // divisor})
    return servers


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


class ColorPools(Driver):
    """One blue-green service on hosts: ``colors`` (color -> server addresses) behind upstream ``upstream``
    of ``upstream_file``; ``version_url`` (``http://{address}/version``) and ``version_query`` (a simple
    path into its JSON, empty: the body is the version) say what each server runs; ``state_dir`` holds the
    ledger and the lock. ``fetch(url, method, headers, timeout, validate_certs) -> (status, body)``."""

    version_syntax = RELEASE

    def __init__(self, colors, upstream_file, upstream, state_dir, fetch, version_url='http://{address}/version',
                 version_query='version', timeout=5, ledger_file=DEFAULT_LEDGER_FILE, lock_file=DEFAULT_LOCK_FILE):
        # None only to release the lock, which needs no colors.
        if colors is not None:
            validate_colors(colors)
        if '{address}' not in version_url:
            raise InvalidInputError('version_url must contain {{address}}, where each server\'s address goes (for '
                                    'example http://{{address}}/version), got {0!r}. Nothing was changed.'.format(
                                        version_url), option='version_url')
        try:
            self.query = SimplePath(parse_simple_path(version_query)) if version_query else None
        except Exception:
            raise InvalidInputError('version_query {0!r} must be a simple path into the JSON answer (version, '
                                    'data.version, build[0].tag). Nothing was changed.'.format(version_query),
                                    option='version_query')
        self.colors = dict((color, list(servers)) for color, servers in (colors or {}).items())
        self.upstream_file, self.upstream, self.state_dir = upstream_file, upstream, state_dir
        self.fetch, self.version_url, self.timeout = fetch, version_url, timeout
        self.ledger = FileLedger.beside(state_dir, ledger_file)
        self.lock_file = lock_file
        self._pools = None

    def describe(self):
        return 'upstream {0} in {1}'.format(self.upstream, self.upstream_file)

    def lock_store(self):
        if not self.lock_file or '/' in self.lock_file:
            raise InvalidInputError('lock file {0!r} must be a plain file name inside state_dir.'.format(self.lock_file))
        if not os.path.isdir(self.state_dir):
            raise RollbackError('Cannot take the rollback lock: {0} does not exist. Create it (the blue_green role '
                                'does), then run again. Nothing was changed.'.format(self.state_dir))
        return FileLockStore(os.path.join(self.state_dir, self.lock_file))

    def load(self):
        # Read as lb_switch (backend nginx) reads and writes it: the file holds the one upstream block.
        try:
            with open(self.upstream_file) as handle:
                parsed = parse_upstream_file(handle.read(), self.upstream)
        except (IOError, OSError) as exc:
            raise RollbackError('Cannot read {0}: {1}. Point upstream_file at the file holding upstream {2}. '
                                'Nothing was changed.'.format(self.upstream_file, exc.strerror or exc, self.upstream))
        except UnparseableError as exc:
            raise RollbackError('Cannot read upstream {0} from {1}: {2}. It must hold that one upstream block, as '
                                'lb_switch (backend nginx) writes it. Nothing was changed.'.format(
                                    self.upstream, self.upstream_file, exc))
        if parsed is None:
            raise RollbackError('{0} holds no upstream {1} block: check upstream and upstream_file. Nothing was '
                                'changed.'.format(self.upstream_file, self.upstream))
        servers = parsed[0]
        shares = traffic_shares(servers, self.colors)
        pools = {}
        for color, addresses in sorted(self.colors.items()):
            answers = dict((address, self._version_of(address)) for address in addresses)
            versions = set(v for v, _why in answers.values() if v)
            failing = ['{0}: {1}'.format(address, why) for address, (v, why) in sorted(answers.items()) if not v]
            pool = {'servers': addresses, 'share': shares.get(color, 0.0),
                    'version': versions.pop() if len(versions) == 1 else None,
                    'versions': dict((address, v) for address, (v, _why) in answers.items())}
            if failing:
                pool['why'] = 'not every server answers its version ({0})'.format('; '.join(failing))
            elif pool['version'] is None:
                pool['why'] = 'its servers run different versions ({0})'.format(', '.join(
                    '{0}={1}'.format(a, v) for a, (v, _w) in sorted(answers.items())))
            pools[color] = pool
        self._pools = {'colors': pools, 'shares': shares,
                       'unknown_servers': sorted(s['address'] for s in servers
                                                 if not any(s['address'] in a for a in self.colors.values()))}

    def _version_of(self, address):
        """``(version, None)`` of one server, or ``(None, why)``."""
        url = self.version_url.replace('{address}', address)
        try:
            status, body = self.fetch(url, 'GET', {}, self.timeout, True)
        except Exception as exc:  # the fetch's transport errors, worded for the user
            return None, describe_transport_error(exc, self.timeout)
        if status != 200:
            return None, '{0} answered HTTP {1}'.format(url, status)
        text = body.decode('utf-8', 'replace').strip() if isinstance(body, bytes) else str(body).strip()
        if self.query is None:
            return (text, None) if text else (None, '{0} answered an empty body'.format(url))
        try:
            version = self.query.search(json.loads(text))
        except (ValueError, QueryError) as exc:
            return None, '{0} did not answer JSON with the version ({1})'.format(url, exc)
        if not isinstance(version, str) or not version:
            return None, '{0} answered no version string at the query'.format(url)
        return version, None

    def pools(self):
        if self._pools is None:
            self.load()
        return self._pools

    def live_color(self):
        """The color with the largest share of the traffic (the first by name on a tie), or None."""
        shares = self.pools()['shares']
        ranked = sorted((-share, color) for color, share in shares.items() if color in self.colors and share > 0)
        return ranked[0][1] if ranked else None

    def current(self):
        live = self.live_color()
        pool = self.pools()['colors'].get(live) if live else None
        if not pool or not pool['version']:
            return None
        return {'version': pool['version'], 'color': live}

    def history(self):
        """One entry per version the colors serve, in version order (the colors have no revisions). A color
        that does not answer one version has none to list: ``colors`` in the result says why."""
        entries = {}
        live = self.live_color()
        for color, pool in sorted(self.pools()['colors'].items()):
            if not pool['version']:
                continue
            entry = {'version': pool['version'], 'color': color, 'servers': pool['servers'], 'share': pool['share']}
            # Two colors on one version: the live one stands for it.
            if pool['version'] not in entries or color == live:
                entries[pool['version']] = entry
        ordered = [entries[v] for v in sort_versions(list(entries))]
        for entry in ordered:
            entry['current'] = entry['color'] == live
        return ordered

    def named(self):
        pools = self.pools() if self._pools is not None else {'colors': {}, 'shares': {}, 'unknown_servers': []}
        result = {'upstream': {'name': self.upstream, 'file': self.upstream_file,
                               'shares': pools['shares'], 'unknown_servers': pools['unknown_servers']}}
        if pools['colors']:
            result['colors'] = pools['colors']
            result['live_color'] = self.live_color()
        return result
