# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of traffic between pools; the logic lives in module_utils/traffic/pools.py and
plugin_utils/restore.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.ops.rollback.plugins.module_utils.traffic.pools import split_servers
from ansible_collections.ops.rollback.plugins.plugin_utils.filter_errors import filter_errors
from ansible_collections.ops.rollback.plugins.plugin_utils.restore import restore_plan


@filter_errors
def traffic_split(colors, target, percent):
    return split_servers(colors, target, percent)


def pool_endpoints(servers, url, version=None, version_query='version'):
    """health_check endpoints, one per server: ``url`` with ``{address}`` replaced by the server's; with
    ``version``, its answer must be that version (at ``version_query`` in its JSON, or the whole body)."""
    if '{address}' not in (url or ''):
        raise AnsibleFilterError('pool_endpoints: the URL {0!r} has no {{address}} for the server.'.format(url))
    endpoints = []
    for address in servers or []:
        endpoint = {'url': url.replace('{address}', address), 'status': 200}
        if version is not None and version_query:
            endpoint.update(json_query=version_query, equals=version)
        elif version is not None:
            endpoint['body_regex'] = r'^\s*{0}\s*$'.format(re.escape(version))
        endpoints.append(endpoint)
    return endpoints


@filter_errors
def rollback_restore_plan(hosts_vars):
    return restore_plan(list(hosts_vars))


class FilterModule:
    def filters(self):
        return {'traffic_split': traffic_split, 'pool_endpoints': pool_endpoints,
                'rollback_restore_plan': rollback_restore_plan}
